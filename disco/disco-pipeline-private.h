/* disco-pipeline-private.h: what the files of DiscoPipeline share (the
 * instance struct and helpers); engine internals, not installed
 *
 *   disco-pipeline.c           the type, the graph (nodes, links), the run loop
 *   disco-pipeline-file.c      building a pipeline from a file, overrides
 *   disco-pipeline-schedule.c  dynamical networks, tick order, loops, device
 *   disco-checkpoint.c         checkpoints, parameter files
 *   disco-value.c              property values as text, ranges
 */
#pragma once

#include "disco-pipeline.h"
#include "disco-output-folder.h"

G_BEGIN_DECLS

struct _DiscoPipeline
{
  GObject parent_instance;

  GPtrArray *nodes;           /* DiscoNode, in insertion order */
  GHashTable *nodes_by_name;  /* name -> DiscoNode (borrowed from nodes) */
  GHashTable *node_locations; /* name -> "file:line" of its group */
  GHashTable *node_seconds;   /* DiscoNode -> double*: time in process this run */
  GPtrArray *tick_order;      /* DiscoNode, valid when validated */
  gboolean validated;
  gboolean running;

  guint64 seed;
  DiscoDevice device;
  DiscoDevice active_device;
  char *output_dir;
  char *source_file;
  char *load_parameters;
  char **overrides; /* those the pipeline was loaded with */
  gboolean checkpoint;
  char *resume;
  guint64 first_tick;    /* of a resumed run */
  char *source_checksum; /* SHA-256 of the pipeline file's text */
  DiscoOutputMode output_mode;
  DiscoOutputLock *output_lock; /* held while a run writes output_dir */
  GHashTable *outputs;          /* relative paths recorded into .disco/outputs */
  guint64 max_ticks;
  guint64 memory_limit; /* MiB, 0: automatic */
  GCancellable *cancellable;

  /* The finiteness check (check_after_process). */
  gboolean check_finite;
  gboolean guarding;           /* collecting written outputs: during ticks */
  GArray *written;             /* WrittenTensor: what the running node wrote */
  GArray *deferred;            /* WrittenTensor: device tensors, for the tick's end */
  GPtrArray *checked;          /* DiscoTensor: scratch, checked after one node */
  guint last_checkpoint_epoch; /* 0: none written by this run */
};

/* disco-pipeline.c */
char *_disco_pipeline_prefix (const char *where);
const char *_disco_pipeline_type_label (DiscoNode *node);
char *_disco_pipeline_node_label (DiscoNode *node);
DiscoNode *_disco_pipeline_make_node_at (DiscoPipeline *self, const char *type_name,
                                         const char *name, const char *where, GError **error);
gboolean _disco_pipeline_link_at (DiscoPipeline *self, DiscoNode *consumer, const char *port,
                                  const char *producer_spec, const char *where, GError **error);
void _disco_pipeline_prefix_node_error (GError **error, DiscoNode *node, const char *hook);
void _disco_pipeline_notify_active_device (DiscoPipeline *self);

/* disco-checkpoint.c */
gboolean _disco_pipeline_save_checkpoint (DiscoPipeline *self, guint epoch, guint64 ticks,
                                          GError **error);
gboolean _disco_pipeline_resume_from_checkpoint (DiscoPipeline *self, GError **error);

/* disco-value.c */
gboolean _disco_value_parse (GParamSpec *pspec, const char *text, GValue *value, const char *what,
                             GError **error);

G_END_DECLS
