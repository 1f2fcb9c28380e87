/* disco-private.h: engine internals shared between files, not installed */
#pragma once

#include "disco-node.h"

G_BEGIN_DECLS

typedef struct
{
  DiscoNode *producer;        /* not a reference: the pipeline owns both */
  char *producer_port;
  char *where;                /* "file:line" of the link, for messages */
} DiscoLink;

void _disco_node_set_pipeline (DiscoNode *self, DiscoPipeline *pipeline);
gboolean _disco_node_link_input (DiscoNode *self, const char *port, DiscoNode *producer,
                                 const char *producer_port, const char *where,
                                 GError **error);
const DiscoLink *_disco_node_get_link (DiscoNode *self, const char *port);
GList *_disco_node_get_linked_ports (DiscoNode *self);
void _disco_node_reset_run_state (DiscoNode *self);
guint64 _disco_pipeline_get_seed (DiscoPipeline *self);

void _disco_registry_ensure_loaded (void);

G_END_DECLS
