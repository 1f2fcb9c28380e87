/* disco-pipeline.h: a graph of nodes run tick by tick */
#pragma once

#include <glib-object.h>
#include <gio/gio.h>
#include "disco-enums-base.h"
#include "disco-node.h"

G_BEGIN_DECLS

#define DISCO_TYPE_PIPELINE (disco_pipeline_get_type ())
G_DECLARE_FINAL_TYPE (DiscoPipeline, disco_pipeline, DISCO, PIPELINE, GObject)

DiscoPipeline *disco_pipeline_new (void);
DiscoPipeline *disco_pipeline_new_from_file (const char *path, const char *const *overrides,
                                             GError **error);
DiscoPipeline *disco_pipeline_new_from_string (const char *text, const char *const *overrides,
                                               GError **error);

gboolean disco_pipeline_add_node (DiscoPipeline *self, DiscoNode *node, GError **error);
DiscoNode *disco_pipeline_make_node (DiscoPipeline *self, const char *type_name, const char *name,
                                     GError **error);
DiscoNode *disco_pipeline_get_node (DiscoPipeline *self, const char *name);
char **disco_pipeline_list_nodes (DiscoPipeline *self);
gboolean disco_pipeline_link (DiscoPipeline *self, const char *consumer, const char *producer,
                              GError **error);
gboolean disco_pipeline_set (DiscoPipeline *self, const char *assignment, GError **error);
gboolean disco_pipeline_set_node_property (DiscoPipeline *self, const char *target,
                                           const char *value, GError **error);

gboolean disco_pipeline_validate (DiscoPipeline *self, GError **error);
char **disco_pipeline_get_tick_order (DiscoPipeline *self);
gboolean disco_pipeline_run (DiscoPipeline *self, GCancellable *cancellable, GError **error);

guint64 disco_pipeline_get_seed (DiscoPipeline *self);
DiscoDevice disco_pipeline_get_active_device (DiscoPipeline *self);
const char *disco_pipeline_get_output_dir (DiscoPipeline *self);
char *disco_pipeline_build_output_path (DiscoPipeline *self, const char *relative, GError **error);
void disco_pipeline_set_output_mode (DiscoPipeline *self, DiscoOutputMode mode);
DiscoOutputMode disco_pipeline_get_output_mode (DiscoPipeline *self);
const char *disco_pipeline_get_source_checksum (DiscoPipeline *self);
GKeyFile *disco_checkpoint_verify (const char *dir, GError **error);
const char *disco_pipeline_get_source_file (DiscoPipeline *self);
char *disco_pipeline_resolve_path (DiscoPipeline *self, const char *path);
GCancellable *disco_pipeline_get_cancellable (DiscoPipeline *self);
const char *disco_pipeline_get_node_location (DiscoPipeline *self, const char *name);
double disco_pipeline_get_node_seconds (DiscoPipeline *self, const char *name);

DiscoTensor *disco_pipeline_find_parameter (DiscoPipeline *self, const char *target);
gboolean disco_pipeline_save_parameters (DiscoPipeline *self, const char *dir, GError **error);
gboolean disco_pipeline_load_parameters (DiscoPipeline *self, const char *dir, GError **error);

char *disco_value_to_string (const GValue *value);
char *disco_param_spec_range_to_string (GParamSpec *pspec);
gboolean disco_write_file_atomically (const char *path, const guint8 *data, gsize size,
                                      GError **error);

G_END_DECLS
