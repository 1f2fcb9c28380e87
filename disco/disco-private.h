/* disco-private.h: engine internals shared between files, not installed */
#pragma once

#include "disco-node.h"

G_BEGIN_DECLS

typedef struct
{
  DiscoNode *producer; /* not a reference: the pipeline owns both */
  char *producer_port;
  char *where; /* "file:line" of the link, for messages */
} DiscoLink;

typedef struct
{
  guint n_dims;
  gsize shape[DISCO_TENSOR_MAX_DIMS]; /* a first dimension of 0: any batch size */
} DiscoDeclaredShape;

void _disco_node_set_pipeline (DiscoNode *self, DiscoPipeline *pipeline);
gboolean _disco_node_link_input (DiscoNode *self, const char *port, DiscoNode *producer,
                                 const char *producer_port, const char *where, GError **error);
const DiscoLink *_disco_node_get_link (DiscoNode *self, const char *port);
GList *_disco_node_get_linked_ports (DiscoNode *self);
void _disco_node_reset_run_state (DiscoNode *self);
GHashTable *_disco_node_get_outputs (DiscoNode *self);
GPtrArray *_disco_node_get_parameter_names (DiscoNode *self);
GPtrArray *_disco_node_get_gradient_names (DiscoNode *self);
void _disco_pipeline_note_output (DiscoPipeline *self, DiscoNode *node, const char *port,
                                  DiscoTensor *tensor);
const float *_disco_tensor_peek_host (DiscoTensor *self);
gboolean _disco_tensor_get_checked (DiscoTensor *self);
void _disco_tensor_set_checked (DiscoTensor *self);
guint64 _disco_pipeline_get_seed (DiscoPipeline *self);
gsize _disco_tensor_set_memory_limit (gsize bytes);
gsize _disco_tensor_get_memory_held (void);
char *_disco_format_bytes (guint64 bytes);
GHashTable *_disco_node_get_declared_outputs (DiscoNode *self);

void _disco_registry_ensure_loaded (void);

/* Runs func(piece, data) for every piece < n_pieces, returning when all
 * have run, on whatever threads the runner has. */
typedef void (*DiscoPiecesFunc) (gsize piece, gpointer data);
typedef void (*DiscoPiecesRunner) (gsize n_pieces, DiscoPiecesFunc func, gpointer data);
void _disco_set_pieces_runner (DiscoPiecesRunner runner);

G_END_DECLS
