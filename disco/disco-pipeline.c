/* disco-pipeline.c: the DiscoPipeline type, its graph (nodes and links)
 * and the run loop
 *
 * The scheduler is deliberately synchronous: one tick runs every node once,
 * in a topological order, before the next tick starts. That is what makes
 * training correct: the weight update of minibatch k lands before the
 * forward pass of minibatch k+1 (a threaded dataflow host would run ahead
 * with stale weights).
 *
 * The other parts of a pipeline are in files of their own, sharing the
 * instance struct through disco-pipeline-private.h: building one from a
 * pipeline file (disco-pipeline-file.c), the tick order and the device
 * (disco-pipeline-schedule.c), checkpoints and parameter files
 * (disco-checkpoint.c), property values as text (disco-value.c).
 */

/**
 * DiscoPipeline:
 *
 * Nodes, the links between their ports, and the tick loop.
 *
 * A pipeline holds named nodes and the links between their ports, loads
 * both from a pipeline file (GKeyFile syntax: one `[group]` per node, `node =`
 * its type, every other key a property or an input link; a `[pipeline]`
 * group for run-wide settings; `#` starts a comment, also after a value),
 * and runs them tick by tick until a source reaches end of stream.
 *
 * Every error in a file is reported before the first tick, as
 * `file:line: message` naming the node, property or port.
 *
 * A run (disco_pipeline_run()) validates the pipeline, prepares every node,
 * then runs ticks: one tick runs every node once, in the tick order
 * (disco_pipeline_get_tick_order()), before the next tick starts. The
 * #DiscoPipeline::tick and #DiscoPipeline::epoch-finished signals report
 * progress.
 */

#include "disco-pipeline.h"
#include "disco-pipeline-private.h"
#include "disco-error.h"
#include "disco-private.h"
#include "disco-key-file.h"
#include "disco-registry.h"
#include "disco-enum-types.h"
#include "disco-output-folder.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define DEFAULT_SEED 0
#define DEFAULT_DEVICE DISCO_DEVICE_AUTO
#define DEFAULT_MAX_TICKS 0
#define DEFAULT_MEMORY_LIMIT 0

G_DEFINE_FINAL_TYPE (DiscoPipeline, disco_pipeline, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_SEED,
  PROP_DEVICE,
  PROP_ACTIVE_DEVICE,
  PROP_OUTPUT_DIR,
  PROP_SOURCE_FILE,
  PROP_MAX_TICKS,
  PROP_LOAD_PARAMETERS,
  PROP_CHECKPOINT,
  PROP_RESUME,
  PROP_CHECK_FINITE,
  PROP_MEMORY_LIMIT,
  N_PROPERTIES
};

enum
{
  SIGNAL_STARTED,
  SIGNAL_TICK,
  SIGNAL_EPOCH_FINISHED,
  SIGNAL_FINISHED,
  N_SIGNALS
};

static GParamSpec *properties[N_PROPERTIES];
static guint signals[N_SIGNALS];

/* A tensor to check: @owner's output @name, gradient or parameter, written
 * while @writer ran. */
typedef struct
{
  DiscoNode *writer; /* NULL: found at an epoch's end */
  DiscoNode *owner;
  const char *kind;    /* "output", "gradient", "parameter" */
  const char *name;    /* interned */
  DiscoTensor *tensor; /* a reference */
  gboolean nan_means_none;
} WrittenTensor;

static void
written_tensor_clear (gpointer data)
{
  g_clear_object (&((WrittenTensor *) data)->tensor);
}

static void
disco_pipeline_finalize (GObject *object)
{
  DiscoPipeline *self = DISCO_PIPELINE (object);

  /* Nodes hold no reference to us; make sure none outlives us pointing here. */
  for (guint i = 0; i < self->nodes->len; i++)
    _disco_node_set_pipeline (g_ptr_array_index (self->nodes, i), NULL);
  g_ptr_array_unref (self->nodes);
  g_hash_table_unref (self->nodes_by_name);
  g_hash_table_unref (self->node_locations);
  g_hash_table_unref (self->node_seconds);
  g_clear_pointer (&self->tick_order, g_ptr_array_unref);
  g_free (self->output_dir);
  g_free (self->source_file);
  g_free (self->load_parameters);
  g_strfreev (self->overrides);
  g_free (self->resume);
  g_free (self->source_checksum);
  g_clear_pointer (&self->outputs, g_hash_table_unref);
  g_array_unref (self->written);
  g_array_unref (self->deferred);
  g_ptr_array_unref (self->checked);

  G_OBJECT_CLASS (disco_pipeline_parent_class)->finalize (object);
}

static void
disco_pipeline_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DiscoPipeline *self = DISCO_PIPELINE (object);

  switch (prop_id)
    {
    case PROP_SEED: g_value_set_uint64 (value, self->seed); break;
    case PROP_DEVICE: g_value_set_enum (value, self->device); break;
    case PROP_ACTIVE_DEVICE: g_value_set_enum (value, self->active_device); break;
    case PROP_OUTPUT_DIR: g_value_set_string (value, self->output_dir); break;
    case PROP_SOURCE_FILE: g_value_set_string (value, self->source_file); break;
    case PROP_MAX_TICKS: g_value_set_uint64 (value, self->max_ticks); break;
    case PROP_LOAD_PARAMETERS: g_value_set_string (value, self->load_parameters); break;
    case PROP_CHECKPOINT: g_value_set_boolean (value, self->checkpoint); break;
    case PROP_RESUME: g_value_set_string (value, self->resume); break;
    case PROP_MEMORY_LIMIT: g_value_set_uint64 (value, self->memory_limit); break;
    case PROP_CHECK_FINITE: g_value_set_boolean (value, self->check_finite); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
disco_pipeline_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  DiscoPipeline *self = DISCO_PIPELINE (object);

  switch (prop_id)
    {
    case PROP_SEED: self->seed = g_value_get_uint64 (value); break;
    case PROP_DEVICE:
      self->device = g_value_get_enum (value);
      self->validated = FALSE;
      break;
    case PROP_OUTPUT_DIR:
      g_free (self->output_dir);
      self->output_dir = g_value_dup_string (value);
      break;
    case PROP_MAX_TICKS: self->max_ticks = g_value_get_uint64 (value); break;
    case PROP_LOAD_PARAMETERS:
      g_free (self->load_parameters);
      self->load_parameters = g_value_dup_string (value);
      break;
    case PROP_CHECKPOINT: self->checkpoint = g_value_get_boolean (value); break;
    case PROP_RESUME:
      g_free (self->resume);
      self->resume = g_value_dup_string (value);
      break;
    case PROP_MEMORY_LIMIT: self->memory_limit = g_value_get_uint64 (value); break;
    case PROP_CHECK_FINITE: self->check_finite = g_value_get_boolean (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
disco_pipeline_class_init (DiscoPipelineClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = disco_pipeline_finalize;
  object_class->get_property = disco_pipeline_get_property;
  object_class->set_property = disco_pipeline_set_property;

  /**
   * DiscoPipeline:seed:
   *
   * The seed of every random number in the run (weight initialisation,
   * shuffling): each node derives its own stream from it and its name
   * (disco_node_get_seed()), so a run is reproducible and adding a node
   * changes no other node's numbers.
   */
  properties[PROP_SEED] =
      g_param_spec_uint64 ("seed", "Seed",
                           "Seed of every random number in the run (weight init, shuffling); "
                           "each node derives its own stream from it and its name",
                           0, G_MAXUINT64, DEFAULT_SEED,
                           G_PARAM_READWRITE | G_PARAM_EXPLICIT_NOTIFY | G_PARAM_STATIC_STRINGS);
  /**
   * DiscoPipeline:device:
   *
   * Where tensors live and kernels run: %DISCO_DEVICE_CPU,
   * %DISCO_DEVICE_CUDA (an error at validation, naming the first node that
   * cannot run there, when CUDA is not usable), or %DISCO_DEVICE_AUTO: CUDA
   * when a GPU is usable and every node runs on it, else the CPU. The
   * device chosen is #DiscoPipeline:active-device.
   */
  properties[PROP_DEVICE] = g_param_spec_enum (
      "device", "Device",
      "Where tensors live and kernels run: cpu, cuda, or auto (CUDA when a "
      "GPU is usable and every node runs on it, else the CPU)",
      DISCO_TYPE_DEVICE, DEFAULT_DEVICE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * DiscoPipeline:active-device:
   *
   * The device the run uses, resolved from #DiscoPipeline:device when
   * the pipeline is validated; never %DISCO_DEVICE_AUTO.
   */
  properties[PROP_ACTIVE_DEVICE] = g_param_spec_enum (
      "active-device", "Active device",
      "The device the run uses, resolved from \"device\" at validation", DISCO_TYPE_DEVICE,
      DISCO_DEVICE_CPU, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * DiscoPipeline:output-dir:
   *
   * The folder the run writes its results, checkpoints and images into,
   * created when the run starts; %NULL: the run writes nothing. Nodes build
   * their paths with disco_pipeline_build_output_path(); what a run does
   * with a folder that holds a previous run is
   * disco_pipeline_set_output_mode()'s choice.
   */
  properties[PROP_OUTPUT_DIR] =
      g_param_spec_string ("output-dir", "Output folder",
                           "Folder the run writes results, checkpoints and images into; "
                           "created when the run starts (NULL: nothing is written)",
                           NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * DiscoPipeline:source-file:
   *
   * The pipeline file the pipeline was loaded from
   * (disco_pipeline_new_from_file()), or %NULL. Relative paths in node
   * properties are resolved beside it (disco_pipeline_resolve_path()).
   */
  properties[PROP_SOURCE_FILE] = g_param_spec_string (
      "source-file", "Source file", "The pipeline file the pipeline was loaded from, if any", NULL,
      G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * DiscoPipeline:max-ticks:
   *
   * Stop the run after this many ticks; 0: run until a source reaches
   * end of stream.
   */
  properties[PROP_MAX_TICKS] = g_param_spec_uint64 (
      "max-ticks", "Maximum ticks",
      "Stop the run after this many ticks (0: run until end of stream)", 0, G_MAXUINT64,
      DEFAULT_MAX_TICKS, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * DiscoPipeline:load-parameters:
   *
   * A folder of `<node>.<parameter>.npy` files (as a checkpoint holds
   * them) to load every node's parameters from after the nodes are
   * prepared, relative to the pipeline file; %NULL: the parameters keep
   * their initial values. See disco_pipeline_load_parameters().
   */
  properties[PROP_LOAD_PARAMETERS] =
      g_param_spec_string ("load-parameters", "Load parameters",
                           "Folder of <node>.<parameter>.npy files to load every node's "
                           "parameters from after the nodes are prepared (relative to the "
                           "pipeline file; NULL: keep their initial values)",
                           NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * DiscoPipeline:checkpoint:
   *
   * After every epoch, save every node's parameters and state into
   * `<output-dir>/checkpoint` (swapped in whole, with a SHA-256 manifest),
   * so that the run can be resumed (#DiscoPipeline:resume,
   * `disco-run --resume`).
   */
  properties[PROP_CHECKPOINT] =
      g_param_spec_boolean ("checkpoint", "Checkpoint",
                            "After every epoch, save every node's parameters and state into "
                            "<output-dir>/checkpoint, so disco-run --resume can continue the run",
                            TRUE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * DiscoPipeline:resume:
   *
   * A checkpoint folder to continue from: it is verified
   * (disco_checkpoint_verify()), parameters and state are restored, and the
   * run goes on with the next epoch, so that its results equal an
   * uninterrupted run's; %NULL: start afresh.
   */
  properties[PROP_RESUME] =
      g_param_spec_string ("resume", "Resume from",
                           "A checkpoint folder to continue from: parameters and state are "
                           "restored and the run goes on with the next epoch (NULL: start afresh)",
                           NULL, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * DiscoPipeline:check-finite:
   *
   * After each node's process, check every tensor it wrote (outputs, also
   * on other nodes; published gradients; its parameters and those it
   * descends) and stop the run at the first NaN or ±inf, naming the tick,
   * the node and the tensor; at each epoch's end, before the report and
   * the checkpoint, check every parameter. Tensors on a device are checked
   * once a reader has made their host copy (at the tick's end), and
   * parameters at each epoch's end: the check never copies per tick.
   */
  properties[PROP_CHECK_FINITE] =
      g_param_spec_boolean ("check-finite", "Check finiteness",
                            "Stop the run at the first NaN or infinity in a tensor a node wrote "
                            "(output, gradient, parameter), naming the tick, node and tensor; "
                            "nothing non-finite is then ever reported or checkpointed",
                            TRUE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * DiscoPipeline:memory-limit:
   *
   * The most host memory the run's tensors may hold, in MiB; checked
   * before the first tick from the shapes nodes declare, and before every
   * tensor allocation, failing with %DISCO_ERROR_MEMORY; 0: the memory
   * available when the run starts.
   */
  properties[PROP_MEMORY_LIMIT] =
      g_param_spec_uint64 ("memory-limit", "Memory limit",
                           "Most host memory the run's tensors may hold, in MiB; checked before "
                           "every tensor allocation and, from the shapes nodes declare, before "
                           "the first tick (0: the memory available when the run starts)",
                           0, G_MAXUINT64 / (1024 * 1024), DEFAULT_MEMORY_LIMIT,
                           G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPERTIES, properties);

  /**
   * DiscoPipeline::started:
   * @pipeline: the pipeline
   *
   * Emitted when every node is prepared, before the first tick.
   */
  signals[SIGNAL_STARTED] = g_signal_new ("started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);

  /**
   * DiscoPipeline::tick:
   * @pipeline: the pipeline
   * @tick: what the tick was about (epoch, batch, phase, expected total)
   *
   * Emitted after every node has processed a tick. Use it to show progress.
   */
  signals[SIGNAL_TICK] =
      g_signal_new ("tick", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                    G_TYPE_NONE, 1, DISCO_TYPE_TICK | G_SIGNAL_TYPE_STATIC_SCOPE);

  /**
   * DiscoPipeline::epoch-finished:
   * @pipeline: the pipeline
   * @epoch: the epoch that ended
   *
   * Emitted after every node's end_epoch hook has run for @epoch.
   */
  signals[SIGNAL_EPOCH_FINISHED] =
      g_signal_new ("epoch-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                    NULL, G_TYPE_NONE, 1, G_TYPE_UINT);

  /**
   * DiscoPipeline::finished:
   * @pipeline: the pipeline
   * @ticks: how many ticks ran
   *
   * Emitted at the end of a successful run.
   */
  signals[SIGNAL_FINISHED] = g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                           0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT64);
}

static void
disco_pipeline_init (DiscoPipeline *self)
{
  self->nodes = g_ptr_array_new_with_free_func (g_object_unref);
  self->nodes_by_name = g_hash_table_new (g_str_hash, g_str_equal);
  self->node_locations = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->node_seconds = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, g_free);
  self->seed = DEFAULT_SEED;
  self->device = DEFAULT_DEVICE;
  self->active_device = DISCO_DEVICE_CPU;
  self->max_ticks = DEFAULT_MAX_TICKS;
  self->memory_limit = DEFAULT_MEMORY_LIMIT;
  self->checkpoint = TRUE;
  self->check_finite = TRUE;
  self->written = g_array_new (FALSE, FALSE, sizeof (WrittenTensor));
  g_array_set_clear_func (self->written, written_tensor_clear);
  self->deferred = g_array_new (FALSE, FALSE, sizeof (WrittenTensor));
  g_array_set_clear_func (self->deferred, written_tensor_clear);
  self->checked = g_ptr_array_new ();
}

/**
 * disco_pipeline_new:
 *
 * Creates an empty pipeline. Add nodes with disco_pipeline_make_node(), link
 * them with disco_pipeline_link(), then run it with disco_pipeline_run().
 *
 * Returns: (transfer full): an empty pipeline
 */
DiscoPipeline *
disco_pipeline_new (void)
{
  return g_object_new (DISCO_TYPE_PIPELINE, NULL);
}

guint64
_disco_pipeline_get_seed (DiscoPipeline *self)
{
  return self->seed;
}

/* Validation resolved the device (disco-pipeline-schedule.c). */
void
_disco_pipeline_notify_active_device (DiscoPipeline *self)
{
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACTIVE_DEVICE]);
}

/* ----- names ------------------------------------------------------------ */

/* "file:line: " or "" — the prefix every located message starts with. */
char *
_disco_pipeline_prefix (const char *where)
{
  return where != NULL ? g_strdup_printf ("%s: ", where) : g_strdup ("");
}

const char *
_disco_pipeline_type_label (DiscoNode *node)
{
  const char *name = disco_registry_get_name_for_type (G_OBJECT_TYPE (node));

  return name != NULL ? name : G_OBJECT_TYPE_NAME (node);
}

/* "node "h1" (microcircuit)" */
char *
_disco_pipeline_node_label (DiscoNode *node)
{
  return g_strdup_printf ("node \"%s\" (%s)", disco_node_get_name (node),
                          _disco_pipeline_type_label (node));
}

/* ----- nodes ------------------------------------------------------------- */

static gboolean
add_node_at (DiscoPipeline *self, DiscoNode *node, const char *where, GError **error)
{
  const char *name = disco_node_get_name (node);
  g_autofree char *at = _disco_pipeline_prefix (where);

  if (!_disco_key_file_is_valid_name (name) || strcmp (name, "pipeline") == 0)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "%sinvalid node name \"%s\": use letters, digits, '-' and '_' "
                   "(and not \"pipeline\", which names the run-wide settings)",
                   at, name != NULL ? name : "");
      return FALSE;
    }
  if (g_hash_table_contains (self->nodes_by_name, name))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "%sa node named \"%s\" already exists (%s)", at, name,
                   (const char *) g_hash_table_lookup (self->node_locations, name));
      return FALSE;
    }
  if (disco_node_get_pipeline (node) != NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "%snode \"%s\" is already in a pipeline", at, name);
      return FALSE;
    }
  g_ptr_array_add (self->nodes, g_object_ref_sink (node));
  g_hash_table_insert (self->nodes_by_name, (gpointer) name, node);
  g_hash_table_insert (self->node_locations, g_strdup (name),
                       g_strdup (where != NULL ? where : name));
  _disco_node_set_pipeline (node, self);
  self->validated = FALSE;
  return TRUE;
}

/**
 * disco_pipeline_add_node:
 * @self: a pipeline
 * @node: a node with a name unique in the pipeline
 * @error: return location for a #GError
 *
 * Adds a node (for example one of a type written in Python).
 *
 * Returns: %TRUE on success, %FALSE with @error set when the name is
 *   invalid or taken
 */
gboolean
disco_pipeline_add_node (DiscoPipeline *self, DiscoNode *node, GError **error)
{
  g_return_val_if_fail (DISCO_IS_PIPELINE (self), FALSE);
  g_return_val_if_fail (DISCO_IS_NODE (node), FALSE);
  g_return_val_if_fail (!self->running, FALSE);
  return add_node_at (self, node, NULL, error);
}

DiscoNode *
_disco_pipeline_make_node_at (DiscoPipeline *self, const char *type_name, const char *name,
                              const char *where, GError **error)
{
  GType type = disco_registry_lookup (type_name);
  g_autofree char *at = _disco_pipeline_prefix (where);
  g_autoptr (DiscoNode) node = NULL;

  if (type == G_TYPE_INVALID)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_NO_SUCH_NODE_TYPE,
                   "%sno node type \"%s\" for node \"%s\" (disco-inspect lists the types)", at,
                   type_name, name);
      return NULL;
    }
  node = g_object_new (type, "name", name, NULL);
  if (!add_node_at (self, node, where, error))
    return NULL;
  return node;
}

/**
 * disco_pipeline_make_node:
 * @self: a pipeline
 * @type_name: a registered node type name, e.g. "microcircuit"
 * @name: the new node's name, unique in the pipeline
 * @error: return location for a #GError
 *
 * Creates a node of a registered type and adds it.
 *
 * Returns: (transfer none) (nullable): the node, or %NULL with @error set
 */
DiscoNode *
disco_pipeline_make_node (DiscoPipeline *self, const char *type_name, const char *name,
                          GError **error)
{
  g_return_val_if_fail (DISCO_IS_PIPELINE (self), NULL);
  g_return_val_if_fail (type_name != NULL && name != NULL, NULL);
  g_return_val_if_fail (!self->running, NULL);
  return _disco_pipeline_make_node_at (self, type_name, name, NULL, error);
}

/**
 * disco_pipeline_get_node:
 * @self: a pipeline
 * @name: a node name
 *
 * Looks up a node of @self by its name.
 *
 * Returns: (transfer none) (nullable): the node called @name
 */
DiscoNode *
disco_pipeline_get_node (DiscoPipeline *self, const char *name)
{
  g_return_val_if_fail (DISCO_IS_PIPELINE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  return g_hash_table_lookup (self->nodes_by_name, name);
}

/**
 * disco_pipeline_list_nodes:
 * @self: a pipeline
 *
 * Lists the nodes of @self by name.
 *
 * Returns: (transfer full) (array zero-terminated=1): the node names in the
 *   order they were added
 */
char **
disco_pipeline_list_nodes (DiscoPipeline *self)
{
  char **names;

  g_return_val_if_fail (DISCO_IS_PIPELINE (self), NULL);
  names = g_new0 (char *, self->nodes->len + 1);
  for (guint i = 0; i < self->nodes->len; i++)
    names[i] = g_strdup (disco_node_get_name (g_ptr_array_index (self->nodes, i)));
  return names;
}

/**
 * disco_pipeline_get_node_location:
 * @self: a pipeline
 * @name: a node name
 *
 * Tells where the node called @name was defined, for error messages.
 *
 * Returns: (nullable): where the node was defined ("file:line"), or its
 *   name when it was added from code
 */
const char *
disco_pipeline_get_node_location (DiscoPipeline *self, const char *name)
{
  g_return_val_if_fail (DISCO_IS_PIPELINE (self), NULL);
  return g_hash_table_lookup (self->node_locations, name);
}

/* ----- links ------------------------------------------------------------- */

gboolean
_disco_pipeline_link_at (DiscoPipeline *self, DiscoNode *consumer, const char *port,
                         const char *producer_spec, const char *where, GError **error)
{
  g_autofree char *at = _disco_pipeline_prefix (where);
  g_autofree char *producer_name = NULL;
  const char *producer_port;
  const char *dot = strchr (producer_spec, '.');
  DiscoNode *producer;
  DiscoPortDirection direction;

  if (!disco_node_type_get_port_info (G_OBJECT_TYPE (consumer), port, &direction, NULL, NULL))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_NO_SUCH_PORT,
                   "%sno input port \"%s\" in node \"%s\" (%s)", at, port,
                   disco_node_get_name (consumer), _disco_pipeline_type_label (consumer));
      return FALSE;
    }
  if (direction != DISCO_PORT_INPUT)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                   "%s\"%s.%s\" is an output port; links are written on the consumer's "
                   "input (consumer-input = %s.%s)",
                   at, disco_node_get_name (consumer), port, disco_node_get_name (consumer), port);
      return FALSE;
    }

  producer_name =
      dot != NULL ? g_strndup (producer_spec, dot - producer_spec) : g_strdup (producer_spec);
  producer = g_hash_table_lookup (self->nodes_by_name, producer_name);
  if (producer == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_NO_SUCH_NODE,
                   "%sinput \"%s.%s\" links to \"%s\", but there is no node \"%s\"", at,
                   disco_node_get_name (consumer), port, producer_spec, producer_name);
      return FALSE;
    }
  if (dot != NULL)
    {
      producer_port = dot + 1;
      if (!disco_node_type_get_port_info (G_OBJECT_TYPE (producer), producer_port, &direction, NULL,
                                          NULL))
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_NO_SUCH_PORT,
                       "%sno output port \"%s\" in node \"%s\" (%s), linked from \"%s.%s\"", at,
                       producer_port, producer_name, _disco_pipeline_type_label (producer),
                       disco_node_get_name (consumer), port);
          return FALSE;
        }
      if (direction != DISCO_PORT_OUTPUT)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                       "%s\"%s.%s\" is an input port, it cannot feed \"%s.%s\"", at, producer_name,
                       producer_port, disco_node_get_name (consumer), port);
          return FALSE;
        }
    }
  else
    {
      producer_port = disco_node_type_get_default_output (G_OBJECT_TYPE (producer));
      if (producer_port == NULL)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                       "%snode \"%s\" (%s) has no output port to feed \"%s.%s\"", at, producer_name,
                       _disco_pipeline_type_label (producer), disco_node_get_name (consumer), port);
          return FALSE;
        }
    }
  if (!_disco_node_link_input (consumer, port, producer, producer_port,
                               where != NULL ? where : "code", error))
    return FALSE;
  self->validated = FALSE;
  return TRUE;
}

/**
 * disco_pipeline_link:
 * @self: a pipeline
 * @consumer: the input to feed, as "node.port"
 * @producer: the output feeding it, as "node.port", or "node" for its
 *   default (first) output
 * @error: return location for a #GError
 *
 * Links an output port to an input port, e.g.
 * `disco_pipeline_link (p, "h1.input", "data.images", &error)`.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_pipeline_link (DiscoPipeline *self, const char *consumer, const char *producer,
                     GError **error)
{
  const char *dot;
  g_autofree char *consumer_name = NULL;
  DiscoNode *node;

  g_return_val_if_fail (DISCO_IS_PIPELINE (self), FALSE);
  g_return_val_if_fail (consumer != NULL && producer != NULL, FALSE);
  g_return_val_if_fail (!self->running, FALSE);

  dot = strchr (consumer, '.');
  if (dot == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                   "the consumer \"%s\" must name a port: \"node.port\"", consumer);
      return FALSE;
    }
  consumer_name = g_strndup (consumer, dot - consumer);
  node = g_hash_table_lookup (self->nodes_by_name, consumer_name);
  if (node == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_NO_SUCH_NODE, "no node \"%s\" to link \"%s\" to",
                   consumer_name, producer);
      return FALSE;
    }
  return _disco_pipeline_link_at (self, node, dot + 1, producer, NULL, error);
}

/* ----- running ------------------------------------------------------------ */

/* Bytes the system can still give: MemAvailable (Linux), else the free
 * physical pages; 0 when neither is known. */
static guint64
memory_available (void)
{
  g_autofree char *meminfo = NULL;

  if (g_file_get_contents ("/proc/meminfo", &meminfo, NULL, NULL))
    {
      const char *line = strstr (meminfo, "MemAvailable:");
      guint64 kib;

      if (line != NULL && sscanf (line, "MemAvailable: %" G_GUINT64_FORMAT, &kib) == 1)
        return kib * 1024;
    }
#ifdef _SC_AVPHYS_PAGES
  {
    long pages = sysconf (_SC_AVPHYS_PAGES), page_size = sysconf (_SC_PAGESIZE);

    if (pages > 0 && page_size > 0)
      return (guint64) pages * page_size;
  }
#endif
  return 0;
}

/* The run's memory limit in bytes (0: none known); @how says where it
 * comes from, for messages. */
static gsize
memory_limit_bytes (DiscoPipeline *self, char **how)
{
  guint64 bytes;

  if (self->memory_limit > 0)
    {
      *how =
          g_strdup_printf ("pipeline.memory-limit = %" G_GUINT64_FORMAT " MiB", self->memory_limit);
      bytes = self->memory_limit * 1024 * 1024;
    }
  else
    {
      guint64 available = memory_available ();

      *how = g_strdup ("pipeline.memory-limit = 0: the memory available at the start");
      /* What tensors hold already is the run's to use too (parameters of an
       * earlier run of the same pipeline). */
      bytes = available > 0 ? available + _disco_tensor_get_memory_held () : 0;
    }
  return (gsize) MIN (bytes, (guint64) G_MAXSIZE);
}

/* Says, after a memory error, where the limit came from and how to change it. */
static void
add_memory_hint (GError **error, const char *how)
{
  if (error != NULL && *error != NULL && g_error_matches (*error, DISCO_ERROR, DISCO_ERROR_MEMORY)
      && strstr ((*error)->message, "pipeline.memory-limit") == NULL)
    {
      char *message = g_strdup_printf ("%s (%s; set pipeline.memory-limit in MiB to change it)",
                                       (*error)->message, how);
      g_free ((*error)->message);
      (*error)->message = message;
    }
}

/* a × b, saturating at G_MAXUINT64 */
static guint64
saturating_mul (guint64 a, guint64 b)
{
  return (b != 0 && a > G_MAXUINT64 / b) ? G_MAXUINT64 : a * b;
}

/* The batch size that a declared first dimension of 0 stands for: the
 * largest "batch-size" property of a node (the loaders'), else the largest
 * first dimension declared, else 1. */
static guint64
estimated_batch_size (DiscoPipeline *self)
{
  guint64 batch = 1;

  for (guint i = 0; i < self->tick_order->len; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->tick_order, i);
      GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (node), "batch-size");
      GHashTableIter iter;
      gpointer value;

      if (pspec != NULL && pspec->value_type == G_TYPE_UINT)
        {
          guint b;
          g_object_get (node, "batch-size", &b, NULL);
          batch = MAX (batch, b);
        }
      g_hash_table_iter_init (&iter, _disco_node_get_declared_outputs (node));
      while (g_hash_table_iter_next (&iter, NULL, &value))
        batch = MAX (batch, ((DiscoDeclaredShape *) value)->shape[0]);
    }
  return batch;
}

/* After every node prepared, before the first tick and before anything is
 * written: the outputs the nodes declared and have not made yet, at the
 * batch size, on top of what tensors hold now (the parameters), must fit
 * in the limit. The error names the first node that does not fit. */
static gboolean
check_declared_outputs (DiscoPipeline *self, gsize limit, const char *how, GError **error)
{
  guint64 batch = estimated_batch_size (self);
  guint64 total = _disco_tensor_get_memory_held ();

  if (limit == 0)
    return TRUE;
  for (guint i = 0; i < self->tick_order->len; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->tick_order, i);
      GHashTable *outputs = _disco_node_get_outputs (node);
      GHashTableIter iter;
      gpointer port, value;

      g_hash_table_iter_init (&iter, _disco_node_get_declared_outputs (node));
      while (g_hash_table_iter_next (&iter, &port, &value))
        {
          const DiscoDeclaredShape *declared = value;
          guint64 bytes = sizeof (float);
          g_autoptr (GString) shape = g_string_new (NULL);

          if (g_hash_table_contains (outputs, port))
            continue;
          for (guint d = 0; d < declared->n_dims; d++)
            {
              guint64 dim = d == 0 && declared->shape[0] == 0 ? batch : declared->shape[d];

              bytes = saturating_mul (bytes, dim);
              g_string_append_printf (shape, "%s%" G_GUINT64_FORMAT, d ? "×" : "", dim);
            }
          total = bytes > G_MAXUINT64 - total ? G_MAXUINT64 : total + bytes;
          if (total > limit)
            {
              g_autofree char *size = _disco_format_bytes (bytes);
              g_autofree char *limit_text = _disco_format_bytes (limit);

              g_set_error (error, DISCO_ERROR, DISCO_ERROR_MEMORY,
                           "%s: node \"%s\" (%s): output \"%s\", a %s tensor, needs %s, "
                           "over the run's memory limit of %s (%s; set pipeline.memory-limit "
                           "in MiB to change it)",
                           disco_pipeline_get_node_location (self, disco_node_get_name (node)),
                           disco_node_get_name (node), _disco_pipeline_type_label (node),
                           (const char *) port, shape->str,
                           bytes == G_MAXUINT64 ? "more than 16 EiB" : size, limit_text, how);
              return FALSE;
            }
        }
    }
  return TRUE;
}

void
_disco_pipeline_prefix_node_error (GError **error, DiscoNode *node, const char *hook)
{
  if (error != NULL && *error == NULL)
    g_set_error (error, DISCO_ERROR, DISCO_ERROR_FAILED, "%s failed without a message", hook);
  if (error != NULL && *error != NULL && !g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_CANCELLED)
      && strstr ((*error)->message, disco_node_get_name (node)) == NULL)
    g_prefix_error (error, "node \"%s\" (%s): ", disco_node_get_name (node),
                    _disco_pipeline_type_label (node));
}

/* ----- the finiteness check ------------------------------------------------ */

typedef guint32 FloatBits8 __attribute__ ((vector_size (32)));

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define FINITE_CLONES __attribute__ ((target_clones ("arch=x86-64-v3", "default")))
#else
#define FINITE_CLONES
#endif

/* The index of the first value of @v that is not finite (NaN or ±inf; with
 * @allow_nan, ±inf only), or @n when all are. A float is not finite exactly
 * when its exponent bits are all ones, and then adding one to the exponent
 * field carries into the sign bit: one pass of integer operations on eight
 * values at a time (one AVX2 register, or two SSE ones), and a second look
 * only at a block that failed. Every tick checks a few MiB this way (a
 * 1×256 training tick 3.2 MiB: at 25 GB/s with SSE, 0.13 ms that the other
 * threads wait out), so the AVX2 clone halves a serial stretch. */
FINITE_CLONES static gsize
find_non_finite (const float *v, gsize n, gboolean allow_nan)
{
  const FloatBits8 mask = { 0x7f800000u, 0x7f800000u, 0x7f800000u, 0x7f800000u,
                            0x7f800000u, 0x7f800000u, 0x7f800000u, 0x7f800000u };
  const FloatBits8 carry = { 0x00800000u, 0x00800000u, 0x00800000u, 0x00800000u,
                             0x00800000u, 0x00800000u, 0x00800000u, 0x00800000u };

  for (gsize start = 0; start < n; start += 4096)
    {
      const gsize end = MIN (n, start + 4096);
      FloatBits8 any8 = { 0 };
      guint32 any = 0;
      gsize i = start;

      for (; i + 16 <= end; i += 16)
        {
          FloatBits8 a, b;

          memcpy (&a, v + i, sizeof a);
          memcpy (&b, v + i + 8, sizeof b);
          any8 |= ((a & mask) + carry) | ((b & mask) + carry);
        }
      for (; i < end; i++)
        {
          guint32 w;

          memcpy (&w, v + i, sizeof w);
          any |= (w & 0x7f800000u) + 0x00800000u;
        }
      for (guint k = 0; k < 8; k++)
        any |= any8[k];
      if (!(any & 0x80000000u))
        continue;
      for (i = start; i < end; i++)
        if (allow_nan ? isinf (v[i]) : !isfinite (v[i]))
          return i;
    }
  return n;
}

/* The threads the finiteness check may use: the node plugin lends its team
 * (disco-parallel, whose other threads wait out the check otherwise); NULL
 * until then, and the check runs in the caller. */
static DiscoPiecesRunner pieces_runner;

/**
 * _disco_set_pieces_runner: (skip)
 * @runner: (nullable): a runner, resident for the life of the process
 *
 * Lends the finiteness check a team of threads.
 */
void
_disco_set_pieces_runner (DiscoPiecesRunner runner)
{
  g_atomic_pointer_set (&pieces_runner, runner);
}

/* Values per piece of a check on the runner's threads. */
#define SCAN_PIECE_VALUES 65536
#define SCAN_MAX_PIECES 16

typedef struct
{
  const float *v;
  gsize n, n_pieces;
  gboolean allow_nan;
  gsize first_bad[SCAN_MAX_PIECES];
} ScanJob;

static void
scan_piece (gsize piece, gpointer data)
{
  ScanJob *job = data;
  const gsize first = job->n * piece / job->n_pieces;
  const gsize last = job->n * (piece + 1) / job->n_pieces;

  job->first_bad[piece] = first + find_non_finite (job->v + first, last - first, job->allow_nan);
}

/* find_non_finite() in pieces on the lent threads, when there are some and
 * the tensor is large: the same answer, the first bad index of the first
 * piece that has one. */
static gsize
find_non_finite_shared (const float *v, gsize n, gboolean allow_nan)
{
  DiscoPiecesRunner runner = g_atomic_pointer_get (&pieces_runner);
  ScanJob job = { v, n, MIN (SCAN_MAX_PIECES, n / SCAN_PIECE_VALUES), allow_nan, { 0 } };

  if (runner == NULL || job.n_pieces < 2)
    return find_non_finite (v, n, allow_nan);
  runner (job.n_pieces, scan_piece, &job);
  for (gsize piece = 0; piece < job.n_pieces; piece++)
    if (job.first_bad[piece] < n * (piece + 1) / job.n_pieces)
      return job.first_bad[piece];
  return n;
}

static char *
describe_tick (const DiscoTick *tick)
{
  if (tick->epoch == 0)
    return g_strdup_printf ("tick %" G_GUINT64_FORMAT, tick->index);
  return g_strdup_printf ("epoch %u, %s, batch %u", tick->epoch,
                          disco_phase_to_string (tick->phase), tick->batch);
}

/* What the run leaves behind when it stops on a non-finite value. */
static const char *
describe_kept_checkpoint (DiscoPipeline *self, char **owned)
{
  if (!self->checkpoint || self->output_dir == NULL)
    return "";
  if (self->last_checkpoint_epoch > 0)
    return *owned = g_strdup_printf ("; the checkpoint of epoch %u is kept",
                                     self->last_checkpoint_epoch);
  if (self->resume != NULL)
    return "; the checkpoint it resumed from is kept";
  return "; no epoch ended, so no checkpoint was written";
}

/* Checks one tensor; a tensor whose current values are on a device is left
 * for the end of the tick (@deferred) or, with @force, copied to the host. */
static gboolean
check_written (DiscoPipeline *self, const char *when, const WrittenTensor *w, gboolean force,
               GArray *deferred, GError **error)
{
  const float *v = _disco_tensor_peek_host (w->tensor);
  gsize n = disco_tensor_get_n_elements (w->tensor), bad, count = 0, rest;
  guint n_dims;
  const gsize *shape = disco_tensor_get_shape (w->tensor, &n_dims);
  g_autoptr (GString) what = g_string_new (NULL);
  g_autoptr (GString) index = g_string_new (NULL);
  g_autofree char *kept = NULL;
  const char *value;

  if (!force && _disco_tensor_get_checked (w->tensor))
    return TRUE; /* unchanged since the check saw it */
  if (v == NULL && force && (v = disco_tensor_read_host (w->tensor, error)) == NULL)
    return FALSE;
  if (v == NULL)
    {
      WrittenTensor later = *w;

      if (deferred != NULL)
        {
          later.tensor = g_object_ref (w->tensor);
          g_array_append_val (deferred, later);
        }
      return TRUE;
    }
  bad = find_non_finite_shared (v, n, w->nan_means_none);
  if (bad == n)
    {
      /* NaN-marked outputs are looked at again: NaN is fine on one port only. */
      if (!w->nan_means_none)
        _disco_tensor_set_checked (w->tensor);
      return TRUE;
    }

  for (gsize i = bad; i < n; i++)
    count += w->nan_means_none ? isinf (v[i]) != 0 : !isfinite (v[i]);
  rest = bad;
  for (guint d = n_dims; d > 0; d--)
    {
      g_autofree char *part =
          g_strdup_printf ("%" G_GSIZE_FORMAT "%s", rest % shape[d - 1], d < n_dims ? ", " : "");
      g_string_prepend (index, part);
      rest /= shape[d - 1];
    }
  value = isnan (v[bad]) ? "NaN" : v[bad] > 0 ? "+inf" : "-inf";
  if (strcmp (w->kind, "gradient") == 0)
    g_string_printf (what, "the gradient it publishes for \"%s\"", w->name);
  else if (w->owner == w->writer)
    g_string_printf (what, "its %s \"%s\"", w->kind, w->name);
  else
    g_string_printf (what, "%s \"%s\" of node \"%s\" (%s)", w->kind, w->name,
                     disco_node_get_name (w->owner), _disco_pipeline_type_label (w->owner));
  if (w->writer != NULL)
    g_set_error (error, DISCO_ERROR, DISCO_ERROR_NUMERIC,
                 "%s: node \"%s\" (%s) produced a non-finite value: %s holds %s at [%s] "
                 "(%" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " values not finite); the run "
                 "stops%s",
                 when, disco_node_get_name (w->writer), _disco_pipeline_type_label (w->writer),
                 what->str, value, index->str, count, n, describe_kept_checkpoint (self, &kept));
  else
    g_set_error (error, DISCO_ERROR, DISCO_ERROR_NUMERIC,
                 "%s: %s holds %s at [%s] (%" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
                 " values not finite); the run stops before the epoch is reported%s",
                 when, what->str, value, index->str, count, n,
                 describe_kept_checkpoint (self, &kept));
  return FALSE;
}

static gboolean
check_one (DiscoPipeline *self, const char *when, DiscoNode *writer, DiscoNode *owner,
           const char *kind, const char *name, DiscoTensor *tensor, gboolean nan_means_none,
           GError **error)
{
  WrittenTensor w = { writer, owner, kind, g_intern_string (name), tensor, nan_means_none };

  if (g_ptr_array_find (self->checked, tensor, NULL))
    return TRUE;
  g_ptr_array_add (self->checked, tensor);
  return check_written (self, when, &w, FALSE, self->deferred, error);
}

/* Whether @owner's output @port holds the norm of all its gradients
 * (#DISCO_PORT_FLAG_GRADIENT_NORM). */
static gboolean
output_is_gradient_norm (DiscoNode *owner, const char *port)
{
  DiscoPortFlags flags = DISCO_PORT_FLAG_NONE;

  disco_node_type_get_port_info (G_OBJECT_TYPE (owner), port, NULL, &flags, NULL);
  return (flags & DISCO_PORT_FLAG_GRADIENT_NORM) != 0;
}

/* @node's gradient-norm output when it was written since the check last
 * saw it (in this tick's process: every tick is checked), else NULL. */
static DiscoTensor *
written_gradient_norm (DiscoNode *node)
{
  GHashTableIter iter;
  gpointer key, value;

  g_hash_table_iter_init (&iter, _disco_node_get_outputs (node));
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (output_is_gradient_norm (node, key) && !_disco_tensor_get_checked (value))
      return value;
  return NULL;
}

static gboolean
output_nan_means_none (DiscoNode *owner, const char *port)
{
  DiscoPortFlags flags = DISCO_PORT_FLAG_NONE;

  disco_node_type_get_port_info (G_OBJECT_TYPE (owner), port, NULL, &flags, NULL);
  return (flags & DISCO_PORT_FLAG_NAN_MEANS_NONE) != 0;
}

/* After @node's process: every output it wrote (also another node's: an
 * integrator writes its layers' rates) and every output of its own, the
 * gradients it publishes, the parameters it descends (those named by the
 * gradients of the nodes linked to it: an optimizer's) or else its own
 * parameters (a rule's running threshold, an online network's weights).
 * One pass over each tensor written since the check last saw it, except
 * the gradients of a node whose gradient norm (#DISCO_PORT_FLAG_GRADIENT_NORM)
 * it wrote this tick is finite: a sum of squares is finite only when every
 * term is (a 1×256 training tick's 0.8 MiB of gradients unscanned). A
 * dynamical node's process does nothing: its integrator writes its
 * outputs, and optimizers its parameters. */
static gboolean
check_after_process (DiscoPipeline *self, DiscoNode *node, const DiscoTick *tick, GError **error)
{
  g_autofree char *when = describe_tick (tick);
  GPtrArray *names;
  GHashTableIter iter;
  gpointer key, value;
  GList *ports;
  gboolean ok = TRUE, descends = FALSE;

  DiscoTensor *norm = written_gradient_norm (node);
  const float *norm_value;

  g_ptr_array_set_size (self->checked, 0);
  for (guint i = 0; i < self->written->len && ok; i++)
    {
      WrittenTensor *w = &g_array_index (self->written, WrittenTensor, i);
      ok = check_one (self, when, node, w->owner, "output", w->name, w->tensor, w->nan_means_none,
                      error);
    }
  g_array_set_size (self->written, 0);
  if (!ok)
    return FALSE;
  if (disco_node_is_dynamical (node))
    return TRUE;

  g_hash_table_iter_init (&iter, _disco_node_get_outputs (node));
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!check_one (self, when, node, node, "output", key, value, output_nan_means_none (node, key),
                    error))
      return FALSE;
  /* A norm of all the gradients, written this tick and finite (on the
   * host: the outputs were checked just now), vouches that every one of
   * them is finite. */
  norm_value = norm != NULL ? _disco_tensor_peek_host (norm) : NULL;
  if (norm_value == NULL || disco_tensor_get_n_elements (norm) != 1 || !isfinite (norm_value[0]))
    norm = NULL;
  names = _disco_node_get_gradient_names (node);
  for (guint i = 0; i < names->len; i++)
    {
      const char *target = g_ptr_array_index (names, i);
      DiscoTensor *gradient = disco_node_get_gradient (node, target);

      if (norm != NULL)
        {
          g_ptr_array_add (self->checked, gradient);
          _disco_tensor_set_checked (gradient);
        }
      else if (!check_one (self, when, node, node, "gradient", target, gradient, FALSE, error))
        return FALSE;
    }
  ports = _disco_node_get_linked_ports (node);
  for (GList *l = ports; l != NULL && ok; l = l->next)
    {
      DiscoNode *producer = _disco_node_get_link (node, l->data)->producer;

      names = _disco_node_get_gradient_names (producer);
      descends = descends || names->len > 0;
      for (guint i = 0; i < names->len && ok; i++)
        {
          const char *target = g_ptr_array_index (names, i);
          const char *dot = strchr (target, '.');
          g_autofree char *owner_name = g_strndup (target, dot - target);
          DiscoNode *owner = g_hash_table_lookup (self->nodes_by_name, owner_name);
          DiscoTensor *parameter = owner != NULL ? disco_node_get_parameter (owner, dot + 1) : NULL;

          if (parameter != NULL)
            ok = check_one (self, when, node, owner, "parameter", dot + 1, parameter, FALSE, error);
        }
    }
  /* An optimizer's own parameters are its moments: finite gradients and
   * parameters keep them finite short of overflow, and the epoch's end
   * checks them with every parameter; per tick they would double its cost. */
  names = _disco_node_get_parameter_names (node);
  for (guint i = 0; i < names->len && ok && !descends; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      ok = check_one (self, when, node, node, "parameter", name,
                      disco_node_get_parameter (node, name), FALSE, error);
    }
  g_list_free (ports);
  return ok;
}

/* At a tick's end: the device tensors whose host copy a reader has made
 * since they were written (the check never copies one itself per tick). */
static gboolean
check_deferred (DiscoPipeline *self, const DiscoTick *tick, GError **error)
{
  g_autofree char *when = NULL;
  g_autoptr (GArray) deferred = self->deferred;
  gboolean ok = TRUE;

  self->deferred = g_array_new (FALSE, FALSE, sizeof (WrittenTensor));
  g_array_set_clear_func (self->deferred, written_tensor_clear);
  if (deferred->len > 0)
    when = describe_tick (tick);
  for (guint i = 0; i < deferred->len && ok; i++)
    ok =
        check_written (self, when, &g_array_index (deferred, WrittenTensor, i), FALSE, NULL, error);
  return ok;
}

/* At an epoch's end, before any node reports it and before the checkpoint:
 * every parameter of every node, device ones copied to the host (as the
 * checkpoint copies them anyway). */
static gboolean
check_parameters (DiscoPipeline *self, guint epoch, GError **error)
{
  g_autofree char *when = g_strdup_printf ("end of epoch %u", epoch);

  for (guint i = 0; i < self->tick_order->len; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->tick_order, i);
      GPtrArray *names = _disco_node_get_parameter_names (node);

      for (guint j = 0; j < names->len; j++)
        {
          WrittenTensor w = { NULL,
                              node,
                              "parameter",
                              g_ptr_array_index (names, j),
                              disco_node_get_parameter (node, g_ptr_array_index (names, j)),
                              FALSE };

          if (!check_written (self, when, &w, TRUE, NULL, error))
            return FALSE;
        }
    }
  return TRUE;
}

/**
 * _disco_pipeline_note_output: (skip)
 * @self: the pipeline of @node
 * @node: a node whose output was just written
 * @port: the output port
 * @tensor: the tensor on it
 *
 * Called by disco_node_set_output() and disco_node_ensure_output(): during
 * a tick, what a node writes is checked right after the node ran, whichever
 * node's port it is.
 */
void
_disco_pipeline_note_output (DiscoPipeline *self, DiscoNode *node, const char *port,
                             DiscoTensor *tensor)
{
  WrittenTensor w;

  if (!self->guarding)
    return;
  w = (WrittenTensor){ NULL,
                       node,
                       "output",
                       g_intern_string (port),
                       g_object_ref (tensor),
                       output_nan_means_none (node, port) };
  g_array_append_val (self->written, w);
}

/* Makes this run the output folder's only writer, from before it reads a
 * checkpoint until its last file is written (a second run is refused,
 * naming the holder), and applies the output mode to a folder that holds a
 * previous run. The folder is created here, after every node prepared: a
 * run refused before that writes nothing. */
static gboolean
claim_output_dir (DiscoPipeline *self, GError **error)
{
  g_autofree char *previous = NULL;
  g_auto (GStrv) known = NULL;

  if (self->output_dir == NULL)
    return TRUE;
  self->output_lock = _disco_output_lock_acquire (self->output_dir, error);
  if (self->output_lock == NULL)
    return FALSE;
  if (self->resume == NULL && self->output_mode != DISCO_OUTPUT_MODE_ADD
      && (previous = _disco_output_folder_describe_run (self->output_dir)) != NULL)
    {
      if (self->output_mode == DISCO_OUTPUT_MODE_NEW)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO,
                       "%s: holds a previous run (%s): continue it (disco-run --resume %s), "
                       "or replace it (disco-run --overwrite), or use another output folder",
                       self->output_dir, previous, self->output_dir);
          g_clear_pointer (&self->output_lock, _disco_output_lock_release);
          return FALSE;
        }
      if (!_disco_output_folder_clear (self->output_dir, error))
        {
          g_clear_pointer (&self->output_lock, _disco_output_lock_release);
          return FALSE;
        }
    }
  /* Each output is listed once, also over resumed runs. */
  self->outputs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  known = _disco_output_folder_list_outputs (self->output_dir);
  for (guint i = 0; known[i] != NULL; i++)
    g_hash_table_add (self->outputs, g_strdup (known[i]));
  return TRUE;
}

static void
release_output_dir (DiscoPipeline *self)
{
  g_clear_pointer (&self->output_lock, _disco_output_lock_release);
  g_clear_pointer (&self->outputs, g_hash_table_unref);
}

/* Lists @path, about to be written, among the run's outputs: what
 * DISCO_OUTPUT_MODE_OVERWRITE removes. Paths outside the folder are not. */
static gboolean
record_output (DiscoPipeline *self, const char *path, GError **error)
{
  g_autofree char *folder = g_canonicalize_filename (self->output_dir, NULL);
  g_autofree char *file = g_canonicalize_filename (path, NULL);
  gsize n = strlen (folder);
  const char *relative = file + n + 1;

  if (strncmp (file, folder, n) != 0 || file[n] != G_DIR_SEPARATOR
      || g_hash_table_contains (self->outputs, relative))
    return TRUE;
  if (!_disco_output_folder_record (self->output_dir, relative, error))
    return FALSE;
  g_hash_table_add (self->outputs, g_strdup (relative));
  return TRUE;
}

static gboolean
end_epoch (DiscoPipeline *self, guint epoch, guint64 tick_index, GError **error)
{
  /* Nothing non-finite is reported or checkpointed. */
  if (self->check_finite && !check_parameters (self, epoch, error))
    return FALSE;
  for (guint i = 0; i < self->tick_order->len; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->tick_order, i);
      DiscoNodeClass *klass = DISCO_NODE_GET_CLASS (node);

      GError *node_error = NULL;

      if (klass->end_epoch != NULL
          && (!klass->end_epoch (node, epoch, &node_error) || node_error != NULL))
        {
          g_propagate_error (error, node_error);
          _disco_pipeline_prefix_node_error (error, node, "end_epoch");
          return FALSE;
        }
    }
  if (self->checkpoint && self->output_dir != NULL
      && !_disco_pipeline_save_checkpoint (self, epoch, tick_index + 1, error))
    return FALSE;
  if (self->checkpoint && self->output_dir != NULL)
    self->last_checkpoint_epoch = epoch;
  g_signal_emit (self, signals[SIGNAL_EPOCH_FINISHED], 0, epoch);
  return TRUE;
}

static gboolean
run_ticks (DiscoPipeline *self, GCancellable *cancellable, guint64 *n_ticks, GError **error)
{
  DiscoTick tick = { 0 };
  gboolean epoch_open = FALSE;
  gboolean reached_end = FALSE;
  guint last_epoch = 0;

  for (guint64 index = self->first_tick; self->max_ticks == 0 || index < self->max_ticks; index++)
    {
      gboolean eos = FALSE;

      if (g_cancellable_set_error_if_cancelled (cancellable, error))
        return FALSE;

      memset (&tick, 0, sizeof tick);
      tick.index = index;
      for (guint i = 0; i < self->tick_order->len && !eos; i++)
        {
          DiscoNode *node = g_ptr_array_index (self->tick_order, i);
          GError *node_error = NULL;
          gint64 start = g_get_monotonic_time ();
          DiscoFlowReturn ret;
          double *seconds;

          g_array_set_size (self->written, 0);
          ret = DISCO_NODE_GET_CLASS (node)->process (node, &tick, &node_error);
          seconds = g_hash_table_lookup (self->node_seconds, node);

          if (seconds == NULL)
            g_hash_table_insert (self->node_seconds, node, seconds = g_new0 (double, 1));
          *seconds += (g_get_monotonic_time () - start) / 1e6;

          /* A set error fails the tick whatever was returned: a binding
           * turns an exception into an error but may return 0 (OK). */
          if (ret == DISCO_FLOW_EOS && node_error == NULL)
            eos = TRUE;
          else if (ret != DISCO_FLOW_OK || node_error != NULL)
            {
              g_propagate_error (error, node_error);
              _disco_pipeline_prefix_node_error (error, node, "process");
              return FALSE;
            }
          /* In the tick a NaN or infinity appears, naming its node. */
          if (!eos && self->check_finite && !check_after_process (self, node, &tick, error))
            return FALSE;
        }
      if (eos)
        {
          reached_end = TRUE;
          break;
        }
      if (self->check_finite && !check_deferred (self, &tick, error))
        return FALSE;

      *n_ticks = index + 1;
      epoch_open = TRUE;
      last_epoch = tick.epoch;
      g_signal_emit (self, signals[SIGNAL_TICK], 0, &tick);
      if (tick.flags & DISCO_TICK_FLAG_EPOCH_END)
        {
          epoch_open = FALSE;
          if (!end_epoch (self, tick.epoch, index, error))
            return FALSE;
        }
    }
  /* A source without epoch marks ends its only epoch with the stream. A run
   * stopped by max-ticks leaves its epoch open: no report or checkpoint
   * claims an epoch that did not finish. */
  if (reached_end && epoch_open && !end_epoch (self, last_epoch, *n_ticks - 1, error))
    return FALSE;
  return TRUE;
}

/**
 * disco_pipeline_run:
 * @self: a pipeline
 * @cancellable: (nullable): cancels the run between ticks
 * @error: return location for a #GError
 *
 * Validates the pipeline, prepares every node (checking shapes and
 * configuration), creates the output folder, then runs ticks until a source
 * reaches end of stream, "max-ticks" is reached or @cancellable is
 * cancelled. Each tick runs every node once in tick order; then
 * #DiscoPipeline::tick is emitted, and after an epoch's last tick every
 * node's end_epoch hook runs and #DiscoPipeline::epoch-finished is emitted.
 *
 * Returns: %TRUE when the run ended normally, %FALSE with @error set
 *   (%G_IO_ERROR_CANCELLED after a cancellation)
 */
gboolean
disco_pipeline_run (DiscoPipeline *self, GCancellable *cancellable, GError **error)
{
  guint64 n_ticks = 0;
  guint n_prepared = 0;
  gboolean ok = FALSE;
  g_autofree char *how = NULL;
  gsize limit, previous_limit;

  g_return_val_if_fail (DISCO_IS_PIPELINE (self), FALSE);
  g_return_val_if_fail (!self->running, FALSE);

  if (!disco_pipeline_validate (self, error))
    return FALSE;

  self->running = TRUE;
  self->cancellable = cancellable;
  g_object_ref (self);

  for (guint i = 0; i < self->tick_order->len; i++)
    _disco_node_reset_run_state (g_ptr_array_index (self->tick_order, i));
  g_hash_table_remove_all (self->node_seconds);
  /* Every tensor the run allocates from here is checked against the limit. */
  limit = memory_limit_bytes (self, &how);
  previous_limit = _disco_tensor_set_memory_limit (limit);
  for (; n_prepared < self->tick_order->len; n_prepared++)
    {
      DiscoNode *node = g_ptr_array_index (self->tick_order, n_prepared);
      DiscoNodeClass *klass = DISCO_NODE_GET_CLASS (node);

      GError *node_error = NULL;

      if (klass->prepare != NULL && (!klass->prepare (node, &node_error) || node_error != NULL))
        {
          g_propagate_error (error, node_error);
          _disco_pipeline_prefix_node_error (error, node, "prepare");
          g_prefix_error (
              error, "%s: ", disco_pipeline_get_node_location (self, disco_node_get_name (node)));
          add_memory_hint (error, how);
          goto out;
        }
    }
  if (!check_declared_outputs (self, limit, how, error))
    goto out;
  self->first_tick = 0;
  if (!claim_output_dir (self, error))
    goto out;
  if (self->resume != NULL && !_disco_pipeline_resume_from_checkpoint (self, error))
    goto out;
  if (self->load_parameters != NULL && self->resume == NULL)
    {
      g_autofree char *dir = disco_pipeline_resolve_path (self, self->load_parameters);
      if (!disco_pipeline_load_parameters (self, dir, error))
        goto out;
    }

  g_signal_emit (self, signals[SIGNAL_STARTED], 0);
  self->last_checkpoint_epoch = 0;
  self->guarding = self->check_finite;
  ok = run_ticks (self, cancellable, &n_ticks, error);
  if (!ok)
    add_memory_hint (error, how);
  self->guarding = FALSE;
  g_array_set_size (self->written, 0);
  g_array_set_size (self->deferred, 0);

out:
  /* finish runs on every prepared node, also after an error; the first
   * error is the one reported. */
  for (guint i = 0; i < n_prepared; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->tick_order, i);
      DiscoNodeClass *klass = DISCO_NODE_GET_CLASS (node);
      g_autoptr (GError) finish_error = NULL;

      if (klass->finish != NULL && (!klass->finish (node, &finish_error) || finish_error != NULL)
          && ok)
        {
          _disco_pipeline_prefix_node_error (&finish_error, node, "finish");
          g_propagate_error (error, g_steal_pointer (&finish_error));
          ok = FALSE;
        }
    }
  _disco_tensor_set_memory_limit (previous_limit);
  release_output_dir (self);
  self->running = FALSE;
  self->cancellable = NULL;
  if (ok)
    g_signal_emit (self, signals[SIGNAL_FINISHED], 0, n_ticks);
  g_object_unref (self);
  return ok;
}

/* ----- accessors ------------------------------------------------------------ */

/**
 * disco_pipeline_get_seed:
 * @self: a pipeline
 *
 * Gets #DiscoPipeline:seed, from which every node derives its random
 * numbers.
 *
 * Returns: the run's seed
 */
guint64
disco_pipeline_get_seed (DiscoPipeline *self)
{
  g_return_val_if_fail (DISCO_IS_PIPELINE (self), 0);
  return self->seed;
}

/**
 * disco_pipeline_get_active_device:
 * @self: a validated pipeline
 *
 * Gets the device the run uses, resolved from #DiscoPipeline:device when the
 * pipeline is validated.
 *
 * Returns: the device the run uses (never %DISCO_DEVICE_AUTO)
 */
DiscoDevice
disco_pipeline_get_active_device (DiscoPipeline *self)
{
  g_return_val_if_fail (DISCO_IS_PIPELINE (self), DISCO_DEVICE_CPU);
  return self->active_device;
}

/**
 * disco_pipeline_get_output_dir:
 * @self: a pipeline
 *
 * Gets #DiscoPipeline:output-dir, the folder the run writes into.
 *
 * Returns: (nullable): the output folder, or %NULL when the run writes nothing
 */
const char *
disco_pipeline_get_output_dir (DiscoPipeline *self)
{
  g_return_val_if_fail (DISCO_IS_PIPELINE (self), NULL);
  return self->output_dir;
}

/**
 * disco_pipeline_set_output_mode:
 * @self: a pipeline
 * @mode: what a run that does not resume does with an output folder that
 *   holds a previous run
 *
 * Whatever the mode, a run is its output folder's only writer: a second
 * run into a folder in use is refused, naming the process that holds it.
 * disco-run sets %DISCO_OUTPUT_MODE_NEW, or %DISCO_OUTPUT_MODE_OVERWRITE
 * with --overwrite. Not a property: it changes nothing a run computes, so
 * results.json does not record it.
 */
void
disco_pipeline_set_output_mode (DiscoPipeline *self, DiscoOutputMode mode)
{
  g_return_if_fail (DISCO_IS_PIPELINE (self));
  g_return_if_fail (mode <= DISCO_OUTPUT_MODE_OVERWRITE);
  self->output_mode = mode;
}

/**
 * disco_pipeline_get_output_mode:
 * @self: a pipeline
 *
 * Gets what a run does with an output folder that holds a previous run
 * (disco_pipeline_set_output_mode()).
 *
 * Returns: the output mode (default %DISCO_OUTPUT_MODE_ADD)
 */
DiscoOutputMode
disco_pipeline_get_output_mode (DiscoPipeline *self)
{
  g_return_val_if_fail (DISCO_IS_PIPELINE (self), DISCO_OUTPUT_MODE_ADD);
  return self->output_mode;
}

/**
 * disco_pipeline_get_source_checksum:
 * @self: a pipeline
 *
 * Gets the checksum of the pipeline file, which a checkpoint records so that
 * a resumed run can tell whether the file changed.
 *
 * Returns: (nullable): the SHA-256 (hexadecimal) of the text of the file
 *   the pipeline was loaded from, as its checkpoints record it; %NULL for a
 *   pipeline not loaded from a file
 */
const char *
disco_pipeline_get_source_checksum (DiscoPipeline *self)
{
  g_return_val_if_fail (DISCO_IS_PIPELINE (self), NULL);
  return self->source_checksum;
}

/**
 * disco_pipeline_build_output_path:
 * @self: a pipeline
 * @relative: a path relative to the output folder, e.g. "activity/h1-00001.png"
 * @error: return location for a #GError
 *
 * Makes the path of an output file and creates its parent folders. An
 * absolute @relative is returned as it is.
 *
 * Returns: (transfer full) (nullable): the path, or %NULL with @error set
 *   when the run has no output folder or a folder cannot be created
 */
char *
disco_pipeline_build_output_path (DiscoPipeline *self, const char *relative, GError **error)
{
  g_autofree char *path = NULL;
  g_autofree char *parent = NULL;

  g_return_val_if_fail (DISCO_IS_PIPELINE (self), NULL);
  g_return_val_if_fail (relative != NULL, NULL);

  if (g_path_is_absolute (relative))
    path = g_strdup (relative);
  else if (self->output_dir != NULL)
    path = g_build_filename (self->output_dir, relative, NULL);
  else
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO,
                   "%s: the pipeline has no output folder (set pipeline.output-dir, "
                   "or disco-run -o DIR)",
                   relative);
      return NULL;
    }
  /* A run writes its folder only while it holds it: not after it was
   * refused (another run's folder), nor from a finish hook after a failed
   * prepare. */
  if (self->running && self->output_dir != NULL && self->output_lock == NULL
      && !g_path_is_absolute (relative))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO,
                   "%s: not written: the run does not hold its output folder %s", relative,
                   self->output_dir);
      return NULL;
    }
  if (self->output_lock != NULL && !record_output (self, path, error))
    return NULL;
  parent = g_path_get_dirname (path);
  if (g_mkdir_with_parents (parent, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot create folder: %s", parent,
                   g_strerror (saved));
      return NULL;
    }
  return g_steal_pointer (&path);
}

/**
 * disco_pipeline_get_source_file:
 * @self: a pipeline
 *
 * Gets #DiscoPipeline:source-file, the file the pipeline was loaded from.
 *
 * Returns: (nullable): the file the pipeline was loaded from
 */
const char *
disco_pipeline_get_source_file (DiscoPipeline *self)
{
  g_return_val_if_fail (DISCO_IS_PIPELINE (self), NULL);
  return self->source_file;
}

/**
 * disco_pipeline_get_node_seconds:
 * @self: a pipeline
 * @name: a node name
 *
 * Where a run spends its time: the wall time the node's process hook took
 * over the current or last run.
 *
 * Returns: seconds, 0 for a node that has not run
 */
double
disco_pipeline_get_node_seconds (DiscoPipeline *self, const char *name)
{
  DiscoNode *node;
  double *seconds;

  g_return_val_if_fail (DISCO_IS_PIPELINE (self), 0);
  node = g_hash_table_lookup (self->nodes_by_name, name);
  seconds = node != NULL ? g_hash_table_lookup (self->node_seconds, node) : NULL;
  return seconds != NULL ? *seconds : 0;
}

/**
 * disco_pipeline_get_cancellable:
 * @self: a pipeline
 *
 * Lets a long-running node check for cancellation inside a tick.
 *
 * Returns: (transfer none) (nullable): the cancellable of the current run
 */
GCancellable *
disco_pipeline_get_cancellable (DiscoPipeline *self)
{
  g_return_val_if_fail (DISCO_IS_PIPELINE (self), NULL);
  return self->cancellable;
}

/**
 * disco_pipeline_find_parameter:
 * @self: a pipeline
 * @target: "node.parameter", e.g. "h1.weight"
 *
 * Looks up a node's parameter by its "node.parameter" name.
 *
 * Returns: (transfer none) (nullable): the parameter, or %NULL when the node
 *   or its parameter does not exist (yet: parameters appear in prepare)
 */
DiscoTensor *
disco_pipeline_find_parameter (DiscoPipeline *self, const char *target)
{
  const char *dot;
  g_autofree char *name = NULL;
  DiscoNode *node;

  g_return_val_if_fail (DISCO_IS_PIPELINE (self), NULL);
  g_return_val_if_fail (target != NULL, NULL);
  dot = strchr (target, '.');
  if (dot == NULL)
    return NULL;
  name = g_strndup (target, dot - target);
  node = g_hash_table_lookup (self->nodes_by_name, name);
  return node != NULL ? disco_node_get_parameter (node, dot + 1) : NULL;
}

/**
 * disco_write_file_atomically:
 * @path: the file to write
 * @data: (array length=size) (element-type guint8): the contents
 * @size: number of bytes
 * @error: return location for a #GError
 *
 * Writes to a temporary file beside @path, then renames it over @path, so a
 * reader never sees a half-written file and a failed write leaves the old one.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_write_file_atomically (const char *path, const guint8 *data, gsize size, GError **error)
{
  g_autoptr (GError) write_error = NULL;

  g_return_val_if_fail (path != NULL, FALSE);
  /* g_file_set_contents writes "path.XXXXXX" and renames it. */
  if (!g_file_set_contents_full (path, (const char *) data, size, G_FILE_SET_CONTENTS_CONSISTENT,
                                 0644, &write_error))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot write: %s", path,
                   write_error->message);
      return FALSE;
    }
  return TRUE;
}
