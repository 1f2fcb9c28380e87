/* disco-pipeline.c
 *
 * The scheduler is deliberately synchronous: one tick runs every node once,
 * in a topological order, before the next tick starts. That is what makes
 * training correct: the weight update of minibatch k lands before the
 * forward pass of minibatch k+1 (a threaded dataflow host would run ahead
 * with stale weights).
 *
 * Links between two dynamical nodes are state couplings that an integrator
 * resolves within a tick, so they are left out of the tick order; every other
 * link orders ticks and must not close a loop (an "algebraic loop").
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
#include "disco-error.h"
#include "disco-private.h"
#include "disco-key-file.h"
#include "disco-registry.h"
#include "disco-enum-types.h"
#include "disco-backend.h"
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

struct _DiscoPipeline
{
  GObject parent_instance;

  GPtrArray *nodes;             /* DiscoNode, in insertion order */
  GHashTable *nodes_by_name;    /* name -> DiscoNode (borrowed from nodes) */
  GHashTable *node_locations;   /* name -> "file:line" of its group */
  GHashTable *node_seconds;     /* DiscoNode -> double*: time in process this run */
  GPtrArray *tick_order;        /* DiscoNode, valid when validated */
  gboolean validated;
  gboolean running;

  guint64 seed;
  DiscoDevice device;
  DiscoDevice active_device;
  char *output_dir;
  char *source_file;
  char *load_parameters;
  char **overrides;            /* those the pipeline was loaded with */
  gboolean checkpoint;
  char *resume;
  guint64 first_tick;          /* of a resumed run */
  char *source_checksum;       /* SHA-256 of the pipeline file's text */
  DiscoOutputMode output_mode;
  DiscoOutputLock *output_lock; /* held while a run writes output_dir */
  GHashTable *outputs;         /* relative paths recorded into .disco/outputs */
  guint64 max_ticks;
  guint64 memory_limit;         /* MiB, 0: automatic */
  GCancellable *cancellable;

  /* The finiteness check (check_after_process). */
  gboolean check_finite;
  gboolean guarding;            /* collecting written outputs: during ticks */
  GArray *written;              /* WrittenTensor: what the running node wrote */
  GArray *deferred;             /* WrittenTensor: device tensors, for the tick's end */
  GPtrArray *checked;           /* DiscoTensor: scratch, checked after one node */
  guint last_checkpoint_epoch;  /* 0: none written by this run */
};

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
  DiscoNode *writer;            /* NULL: found at an epoch's end */
  DiscoNode *owner;
  const char *kind;             /* "output", "gradient", "parameter" */
  const char *name;             /* interned */
  DiscoTensor *tensor;          /* a reference */
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
disco_pipeline_get_property (GObject *object, guint prop_id, GValue *value,
                             GParamSpec *pspec)
{
  DiscoPipeline *self = DISCO_PIPELINE (object);

  switch (prop_id)
    {
    case PROP_SEED:
      g_value_set_uint64 (value, self->seed);
      break;
    case PROP_DEVICE:
      g_value_set_enum (value, self->device);
      break;
    case PROP_ACTIVE_DEVICE:
      g_value_set_enum (value, self->active_device);
      break;
    case PROP_OUTPUT_DIR:
      g_value_set_string (value, self->output_dir);
      break;
    case PROP_SOURCE_FILE:
      g_value_set_string (value, self->source_file);
      break;
    case PROP_MAX_TICKS:
      g_value_set_uint64 (value, self->max_ticks);
      break;
    case PROP_LOAD_PARAMETERS:
      g_value_set_string (value, self->load_parameters);
      break;
    case PROP_CHECKPOINT:
      g_value_set_boolean (value, self->checkpoint);
      break;
    case PROP_RESUME:
      g_value_set_string (value, self->resume);
      break;
    case PROP_MEMORY_LIMIT:
      g_value_set_uint64 (value, self->memory_limit);
      break;
    case PROP_CHECK_FINITE:
      g_value_set_boolean (value, self->check_finite);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
disco_pipeline_set_property (GObject *object, guint prop_id, const GValue *value,
                             GParamSpec *pspec)
{
  DiscoPipeline *self = DISCO_PIPELINE (object);

  switch (prop_id)
    {
    case PROP_SEED:
      self->seed = g_value_get_uint64 (value);
      break;
    case PROP_DEVICE:
      self->device = g_value_get_enum (value);
      self->validated = FALSE;
      break;
    case PROP_OUTPUT_DIR:
      g_free (self->output_dir);
      self->output_dir = g_value_dup_string (value);
      break;
    case PROP_MAX_TICKS:
      self->max_ticks = g_value_get_uint64 (value);
      break;
    case PROP_LOAD_PARAMETERS:
      g_free (self->load_parameters);
      self->load_parameters = g_value_dup_string (value);
      break;
    case PROP_CHECKPOINT:
      self->checkpoint = g_value_get_boolean (value);
      break;
    case PROP_RESUME:
      g_free (self->resume);
      self->resume = g_value_dup_string (value);
      break;
    case PROP_MEMORY_LIMIT:
      self->memory_limit = g_value_get_uint64 (value);
      break;
    case PROP_CHECK_FINITE:
      self->check_finite = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
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
  properties[PROP_DEVICE] =
    g_param_spec_enum ("device", "Device",
                       "Where tensors live and kernels run: cpu, cuda, or auto (CUDA when a "
                       "GPU is usable and every node runs on it, else the CPU)",
                       DISCO_TYPE_DEVICE, DEFAULT_DEVICE,
                       G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  /**
   * DiscoPipeline:active-device:
   *
   * The device the run uses, resolved from #DiscoPipeline:device when
   * the pipeline is validated; never %DISCO_DEVICE_AUTO.
   */
  properties[PROP_ACTIVE_DEVICE] =
    g_param_spec_enum ("active-device", "Active device",
                       "The device the run uses, resolved from \"device\" at validation",
                       DISCO_TYPE_DEVICE, DISCO_DEVICE_CPU,
                       G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
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
  properties[PROP_SOURCE_FILE] =
    g_param_spec_string ("source-file", "Source file",
                         "The pipeline file the pipeline was loaded from, if any",
                         NULL, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  /**
   * DiscoPipeline:max-ticks:
   *
   * Stop the run after this many ticks; 0: run until a source reaches
   * end of stream.
   */
  properties[PROP_MAX_TICKS] =
    g_param_spec_uint64 ("max-ticks", "Maximum ticks",
                         "Stop the run after this many ticks (0: run until end of stream)",
                         0, G_MAXUINT64, DEFAULT_MAX_TICKS,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
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
  signals[SIGNAL_STARTED] =
    g_signal_new ("started", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 0);

  /**
   * DiscoPipeline::tick:
   * @pipeline: the pipeline
   * @tick: what the tick was about (epoch, batch, phase, expected total)
   *
   * Emitted after every node has processed a tick. Use it to show progress.
   */
  signals[SIGNAL_TICK] =
    g_signal_new ("tick", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1,
                  DISCO_TYPE_TICK | G_SIGNAL_TYPE_STATIC_SCOPE);

  /**
   * DiscoPipeline::epoch-finished:
   * @pipeline: the pipeline
   * @epoch: the epoch that ended
   *
   * Emitted after every node's end_epoch hook has run for @epoch.
   */
  signals[SIGNAL_EPOCH_FINISHED] =
    g_signal_new ("epoch-finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);

  /**
   * DiscoPipeline::finished:
   * @pipeline: the pipeline
   * @ticks: how many ticks ran
   *
   * Emitted at the end of a successful run.
   */
  signals[SIGNAL_FINISHED] =
    g_signal_new ("finished", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                  NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT64);
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

/* ----- names ------------------------------------------------------------ */

/* "file:line: " or "" — the prefix every located message starts with. */
static char *
prefix (const char *where)
{
  return where != NULL ? g_strdup_printf ("%s: ", where) : g_strdup ("");
}

static const char *
node_type_label (DiscoNode *node)
{
  const char *name = disco_registry_get_name_for_type (G_OBJECT_TYPE (node));

  return name != NULL ? name : G_OBJECT_TYPE_NAME (node);
}

/* ----- nodes ------------------------------------------------------------- */

static gboolean
add_node_at (DiscoPipeline *self, DiscoNode *node, const char *where, GError **error)
{
  const char *name = disco_node_get_name (node);
  g_autofree char *at = prefix (where);

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

static DiscoNode *
make_node_at (DiscoPipeline *self, const char *type_name, const char *name,
              const char *where, GError **error)
{
  GType type = disco_registry_lookup (type_name);
  g_autofree char *at = prefix (where);
  g_autoptr (DiscoNode) node = NULL;

  if (type == G_TYPE_INVALID)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_NO_SUCH_NODE_TYPE,
                   "%sno node type \"%s\" for node \"%s\" (disco-inspect lists the types)",
                   at, type_name, name);
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
  return make_node_at (self, type_name, name, NULL, error);
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

static gboolean
link_at (DiscoPipeline *self, DiscoNode *consumer, const char *port,
         const char *producer_spec, const char *where, GError **error)
{
  g_autofree char *at = prefix (where);
  g_autofree char *producer_name = NULL;
  const char *producer_port;
  const char *dot = strchr (producer_spec, '.');
  DiscoNode *producer;
  DiscoPortDirection direction;

  if (!disco_node_type_get_port_info (G_OBJECT_TYPE (consumer), port, &direction, NULL, NULL))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_NO_SUCH_PORT,
                   "%sno input port \"%s\" in node \"%s\" (%s)", at, port,
                   disco_node_get_name (consumer), node_type_label (consumer));
      return FALSE;
    }
  if (direction != DISCO_PORT_INPUT)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                   "%s\"%s.%s\" is an output port; links are written on the consumer's "
                   "input (consumer-input = %s.%s)", at, disco_node_get_name (consumer), port,
                   disco_node_get_name (consumer), port);
      return FALSE;
    }

  producer_name = dot != NULL ? g_strndup (producer_spec, dot - producer_spec)
                              : g_strdup (producer_spec);
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
      if (!disco_node_type_get_port_info (G_OBJECT_TYPE (producer), producer_port,
                                          &direction, NULL, NULL))
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_NO_SUCH_PORT,
                       "%sno output port \"%s\" in node \"%s\" (%s), linked from \"%s.%s\"",
                       at, producer_port, producer_name, node_type_label (producer),
                       disco_node_get_name (consumer), port);
          return FALSE;
        }
      if (direction != DISCO_PORT_OUTPUT)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                       "%s\"%s.%s\" is an input port, it cannot feed \"%s.%s\"", at,
                       producer_name, producer_port, disco_node_get_name (consumer), port);
          return FALSE;
        }
    }
  else
    {
      producer_port = disco_node_type_get_default_output (G_OBJECT_TYPE (producer));
      if (producer_port == NULL)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                       "%snode \"%s\" (%s) has no output port to feed \"%s.%s\"", at,
                       producer_name, node_type_label (producer),
                       disco_node_get_name (consumer), port);
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
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_NO_SUCH_NODE,
                   "no node \"%s\" to link \"%s\" to", consumer_name, producer);
      return FALSE;
    }
  return link_at (self, node, dot + 1, producer, NULL, error);
}

/* ----- property values from text ----------------------------------------- */

/**
 * disco_param_spec_range_to_string:
 * @pspec: a property's specification
 *
 * Describes the values a property takes, as disco-inspect and error messages
 * show them: "1 … 65536" for numbers, the nicks "tsit5, euler, rk4" of an
 * enum, "any of train, validation, test" for flags.
 *
 * Returns: (transfer full) (nullable): the text, or %NULL for a property
 *   without a range (strings, booleans)
 */
char *
disco_param_spec_range_to_string (GParamSpec *pspec)
{
  g_return_val_if_fail (G_IS_PARAM_SPEC (pspec), NULL);

#define RANGE(T, fmt, cast)                                                   \
  if (G_IS_PARAM_SPEC_##T (pspec))                                            \
    return g_strdup_printf (fmt " … " fmt, cast G_PARAM_SPEC_##T (pspec)->minimum, \
                            cast G_PARAM_SPEC_##T (pspec)->maximum);
  RANGE (INT, "%d", (int));
  RANGE (UINT, "%u", (guint));
  RANGE (LONG, "%ld", (long));
  RANGE (ULONG, "%lu", (gulong));
  RANGE (INT64, "%" G_GINT64_FORMAT, (gint64));
  RANGE (UINT64, "%" G_GUINT64_FORMAT, (guint64));
  RANGE (FLOAT, "%g", (double));
  RANGE (DOUBLE, "%g", (double));
#undef RANGE
  if (G_IS_PARAM_SPEC_FLAGS (pspec))
    {
      GFlagsClass *klass = G_PARAM_SPEC_FLAGS (pspec)->flags_class;
      GString *s = g_string_new ("any of ");
      for (guint i = 0; i < klass->n_values; i++)
        g_string_append_printf (s, "%s%s", i ? ", " : "", klass->values[i].value_nick);
      return g_string_free (s, FALSE);
    }
  if (G_IS_PARAM_SPEC_ENUM (pspec))
    {
      GEnumClass *klass = G_PARAM_SPEC_ENUM (pspec)->enum_class;
      GString *s = g_string_new (NULL);
      for (guint i = 0; i < klass->n_values; i++)
        g_string_append_printf (s, "%s%s", i ? ", " : "", klass->values[i].value_nick);
      return g_string_free (s, FALSE);
    }
  return NULL;
}

static gboolean
parse_value (GParamSpec *pspec, const char *text, GValue *value, const char *what,
             GError **error)
{
  GType type = G_PARAM_SPEC_VALUE_TYPE (pspec);
  GType fundamental = G_TYPE_FUNDAMENTAL (type);
  g_autoptr (GError) parse_error = NULL;

  g_value_init (value, type);
  switch (fundamental)
    {
    case G_TYPE_STRING:
      g_value_set_string (value, text);
      return TRUE;

    case G_TYPE_BOOLEAN:
      if (g_ascii_strcasecmp (text, "true") == 0 || g_ascii_strcasecmp (text, "yes") == 0 ||
          g_ascii_strcasecmp (text, "on") == 0 || strcmp (text, "1") == 0)
        g_value_set_boolean (value, TRUE);
      else if (g_ascii_strcasecmp (text, "false") == 0 || g_ascii_strcasecmp (text, "no") == 0 ||
               g_ascii_strcasecmp (text, "off") == 0 || strcmp (text, "0") == 0)
        g_value_set_boolean (value, FALSE);
      else
        break;
      return TRUE;

    case G_TYPE_INT:
    case G_TYPE_LONG:
    case G_TYPE_INT64:
      {
        gint64 v;
        if (!g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, &v, &parse_error))
          break;
        if (fundamental == G_TYPE_INT && (v < G_MININT || v > G_MAXINT))
          goto out_of_range;
        if (fundamental == G_TYPE_INT)
          g_value_set_int (value, v);
        else if (fundamental == G_TYPE_LONG)
          g_value_set_long (value, v);
        else
          g_value_set_int64 (value, v);
        goto check_range;
      }

    case G_TYPE_UINT:
    case G_TYPE_ULONG:
    case G_TYPE_UINT64:
      {
        guint64 v;
        if (text[0] == '-')
          goto out_of_range;
        if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64, &v, &parse_error))
          break;
        if (fundamental == G_TYPE_UINT && v > G_MAXUINT)
          goto out_of_range;
        if (fundamental == G_TYPE_UINT)
          g_value_set_uint (value, v);
        else if (fundamental == G_TYPE_ULONG)
          g_value_set_ulong (value, v);
        else
          g_value_set_uint64 (value, v);
        goto check_range;
      }

    case G_TYPE_FLOAT:
    case G_TYPE_DOUBLE:
      {
        char *end = NULL;
        double v;

        errno = 0;
        v = g_ascii_strtod (text, &end);
        if (*text == '\0' || end == NULL || *end != '\0' || !isfinite (v))
          break;
        if (fundamental == G_TYPE_FLOAT)
          g_value_set_float (value, v);
        else
          g_value_set_double (value, v);
        goto check_range;
      }

    case G_TYPE_ENUM:
      {
        g_autoptr (GEnumClass) klass = g_type_class_ref (type);
        GEnumValue *ev = g_enum_get_value_by_nick (klass, text);

        if (ev == NULL)
          ev = g_enum_get_value_by_name (klass, text);
        if (ev == NULL)
          {
            g_autofree char *choices = disco_param_spec_range_to_string (pspec);
            g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                         "%s: \"%s\" is not one of: %s", what, text, choices);
            return FALSE;
          }
        g_value_set_enum (value, ev->value);
        return TRUE;
      }

    case G_TYPE_FLAGS:
      {
        g_autoptr (GFlagsClass) klass = g_type_class_ref (type);
        g_auto (GStrv) parts = g_strsplit_set (text, "|,+", -1);
        guint flags = 0;

        for (guint i = 0; parts[i] != NULL; i++)
          {
            GFlagsValue *fv;
            g_strstrip (parts[i]);
            if (*parts[i] == '\0')
              continue;
            fv = g_flags_get_value_by_nick (klass, parts[i]);
            if (fv == NULL)
              {
                g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                             "%s: unknown flag \"%s\"", what, parts[i]);
                return FALSE;
              }
            flags |= fv->value;
          }
        g_value_set_flags (value, flags);
        return TRUE;
      }

    default:
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "%s: a property of type %s cannot be set from text", what,
                   g_type_name (type));
      return FALSE;
    }

  g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
               "%s: \"%s\" is not a valid %s", what, text, g_type_name (type));
  return FALSE;

check_range:
  {
    GValue copy = G_VALUE_INIT;
    gboolean changed;

    g_value_init (&copy, type);
    g_value_copy (value, &copy);
    changed = g_param_value_validate (pspec, &copy);
    g_value_unset (&copy);
    if (!changed)
      return TRUE;
  }
out_of_range:
  {
    g_autofree char *range = disco_param_spec_range_to_string (pspec);
    g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                 "%s: value %s is out of range (%s)", what, text,
                 range != NULL ? range : "?");
    return FALSE;
  }
}

/**
 * disco_value_to_string:
 * @value: a value of a property type a pipeline file can set
 *
 * Writes a value as a pipeline file would: "true", "0.001", "tsit5",
 * "train,test" (flags by nick), "NULL" for a missing string. The inverse of
 * what the file loader parses.
 *
 * Returns: (transfer full): the text
 */
char *
disco_value_to_string (const GValue *value)
{
  GType fundamental = G_TYPE_FUNDAMENTAL (G_VALUE_TYPE (value));

  switch (fundamental)
    {
    case G_TYPE_STRING:
      return g_strdup (g_value_get_string (value) ? g_value_get_string (value) : "NULL");
    case G_TYPE_BOOLEAN:
      return g_strdup (g_value_get_boolean (value) ? "true" : "false");
    case G_TYPE_FLOAT:
      return g_strdup_printf ("%g", g_value_get_float (value));
    case G_TYPE_DOUBLE:
      return g_strdup_printf ("%g", g_value_get_double (value));
    case G_TYPE_ENUM:
      {
        g_autoptr (GEnumClass) klass = g_type_class_ref (G_VALUE_TYPE (value));
        GEnumValue *ev = g_enum_get_value (klass, g_value_get_enum (value));
        return g_strdup (ev ? ev->value_nick : "?");
      }
    case G_TYPE_FLAGS:
      {
        g_autoptr (GFlagsClass) klass = g_type_class_ref (G_VALUE_TYPE (value));
        GString *nicks = g_string_new (NULL);
        guint flags = g_value_get_flags (value);

        /* "train,test", as a pipeline file writes them. */
        for (guint i = 0; i < klass->n_values; i++)
          if ((flags & klass->values[i].value) == klass->values[i].value &&
              klass->values[i].value != 0)
            g_string_append_printf (nicks, "%s%s", nicks->len ? "," : "",
                                    klass->values[i].value_nick);
        return g_string_free (nicks, FALSE);
      }
    default:
      return g_strdup_value_contents (value);
    }
}

static gboolean
set_property_at (GObject *object, const char *object_label, const char *key,
                 const char *text, const char *where, GError **error)
{
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (object), key);
  g_autofree char *at = prefix (where);
  g_autofree char *what = NULL;
  GValue value = G_VALUE_INIT;

  if (pspec == NULL || strcmp (key, "name") == 0)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_NO_SUCH_PROPERTY,
                   "%sno property \"%s\" in %s", at, key, object_label);
      return FALSE;
    }
  if (!(pspec->flags & G_PARAM_WRITABLE) || (pspec->flags & G_PARAM_CONSTRUCT_ONLY))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_NO_SUCH_PROPERTY,
                   "%sproperty \"%s\" of %s is read-only", at, key, object_label);
      return FALSE;
    }
  what = g_strdup_printf ("%sproperty \"%s\" of %s", at, key, object_label);
  if (!parse_value (pspec, text, &value, what, error))
    {
      g_value_unset (&value);
      return FALSE;
    }
  g_object_set_property (object, key, &value);
  g_value_unset (&value);
  return TRUE;
}

static char *
node_label (DiscoNode *node)
{
  return g_strdup_printf ("node \"%s\" (%s)", disco_node_get_name (node),
                          node_type_label (node));
}

/* A key of a node group: an input port (a link) or a property. */
static gboolean
apply_node_key (DiscoPipeline *self, DiscoNode *node, const char *key, const char *value,
                const char *where, gboolean links, GError **error)
{
  DiscoPortDirection direction;
  gboolean is_port = disco_node_type_get_port_info (G_OBJECT_TYPE (node), key, &direction,
                                                    NULL, NULL);

  if (is_port && direction == DISCO_PORT_INPUT)
    return links ? link_at (self, node, key, value, where, error) : TRUE;
  if (links)
    return TRUE;
  if (is_port)
    {
      g_autofree char *at = prefix (where);
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                   "%s\"%s.%s\" is an output port; write the link on the consumer's input",
                   at, disco_node_get_name (node), key);
      return FALSE;
    }
  {
    g_autofree char *label = node_label (node);
    return set_property_at (G_OBJECT (node), label, key, value, where, error);
  }
}

/**
 * disco_pipeline_set_node_property:
 * @self: a pipeline
 * @target: "node.property" (or "pipeline.property" for run-wide settings)
 * @value: the value as text, as a pipeline file would write it
 * @error: return location for a #GError
 *
 * Sets a property from text, checking type and range, or makes a link when
 * the key is an input port.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_pipeline_set_node_property (DiscoPipeline *self, const char *target, const char *value,
                                  GError **error)
{
  const char *dot;
  g_autofree char *name = NULL;
  DiscoNode *node;

  g_return_val_if_fail (DISCO_IS_PIPELINE (self), FALSE);
  g_return_val_if_fail (target != NULL && value != NULL, FALSE);
  g_return_val_if_fail (!self->running, FALSE);

  dot = strchr (target, '.');
  if (dot == NULL || dot == target || dot[1] == '\0')
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                   "\"%s\" must read \"node.property\"", target);
      return FALSE;
    }
  name = g_strndup (target, dot - target);
  if (strcmp (name, "pipeline") == 0)
    return set_property_at (G_OBJECT (self), "the pipeline", dot + 1, value, NULL, error);
  node = g_hash_table_lookup (self->nodes_by_name, name);
  if (node == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_NO_SUCH_NODE, "no node \"%s\" (in \"%s\")",
                   name, target);
      return FALSE;
    }
  return apply_node_key (self, node, dot + 1, value, NULL, FALSE, error) &&
         apply_node_key (self, node, dot + 1, value, NULL, TRUE, error);
}

/**
 * disco_pipeline_set:
 * @self: a pipeline
 * @assignment: "node.property=value", as on disco-run's command line
 * @error: return location for a #GError
 *
 * Applies one `node.property=value` assignment, as disco-run's command line
 * gives it: a node's property (see disco_pipeline_set_node_property()) or,
 * with `pipeline` as the node, a property of @self.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_pipeline_set (DiscoPipeline *self, const char *assignment, GError **error)
{
  const char *eq;
  g_autofree char *target = NULL;

  g_return_val_if_fail (assignment != NULL, FALSE);
  eq = strchr (assignment, '=');
  if (eq == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                   "\"%s\" must read \"node.property=value\"", assignment);
      return FALSE;
    }
  target = g_strstrip (g_strndup (assignment, eq - assignment));
  return disco_pipeline_set_node_property (self, target, eq + 1, error);
}

/* ----- pipeline files ----------------------------------------------------- */

static gboolean
apply_overrides (GPtrArray *groups, const char * const *overrides, GError **error)
{
  for (guint i = 0; overrides != NULL && overrides[i] != NULL; i++)
    {
      const char *o = overrides[i];
      const char *eq = strchr (o, '=');
      const char *dot = strchr (o, '.');
      g_autofree char *where = NULL;
      g_autofree char *group_name = NULL;
      g_autofree char *key = NULL;
      DiscoKeyFileGroup *group;
      DiscoKeyFileEntry *entry;

      /* An override is one line of text, like a line of the file. */
      {
        g_autofree char *escaped = g_strescape (o, NULL);
        g_autofree char *label = g_strdup_printf ("override \"%s\"", escaped);

        if (!_disco_key_file_check_line (o, label, error))
          return FALSE;
      }
      where = g_strdup_printf ("override \"%s\"", o);
      if (eq == NULL || dot == NULL || dot > eq || dot == o || dot + 1 == eq)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                       "%s: an override reads node.property=value", where);
          return FALSE;
        }
      group_name = g_strndup (o, dot - o);
      key = g_strstrip (g_strndup (dot + 1, eq - dot - 1));
      group = _disco_key_file_find_group (groups, group_name);
      if (group == NULL && strcmp (group_name, "pipeline") == 0)
        {
          group = _disco_key_file_group_new ("pipeline", where);
          g_ptr_array_insert (groups, 0, group);
        }
      if (group == NULL)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_NO_SUCH_NODE,
                       "%s: the pipeline has no node \"%s\"", where, group_name);
          return FALSE;
        }
      if (strcmp (key, "node") == 0)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                       "%s: an override cannot change the type of node \"%s\"", where,
                       group_name);
          return FALSE;
        }
      entry = _disco_key_file_find_entry (group, key);
      if (entry == NULL)
        {
          entry = g_new0 (DiscoKeyFileEntry, 1);
          entry->key = g_strdup (key);
          g_ptr_array_add (group->entries, entry);
        }
      g_free (entry->value);
      g_free (entry->where);
      entry->value = g_strdup (eq + 1);
      entry->where = g_strdup (where);
    }
  return TRUE;
}

static gboolean
build_from_groups (DiscoPipeline *self, GPtrArray *groups, GError **error)
{
  /* Nodes first, so links may name nodes defined further down. */
  for (guint i = 0; i < groups->len; i++)
    {
      DiscoKeyFileGroup *group = g_ptr_array_index (groups, i);
      DiscoKeyFileEntry *type_entry;

      if (strcmp (group->name, "pipeline") == 0)
        {
          for (guint j = 0; j < group->entries->len; j++)
            {
              DiscoKeyFileEntry *e = g_ptr_array_index (group->entries, j);
              if (!set_property_at (G_OBJECT (self), "[pipeline]", e->key, e->value, e->where,
                                    error))
                return FALSE;
            }
          continue;
        }
      type_entry = _disco_key_file_find_entry (group, "node");
      if (type_entry == NULL)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                       "%s: group [%s] has no \"node = <type>\" line", group->where,
                       group->name);
          return FALSE;
        }
      if (make_node_at (self, type_entry->value, group->name, type_entry->where, error) == NULL)
        return FALSE;
      g_hash_table_insert (self->node_locations, g_strdup (group->name),
                           g_strdup (group->where));
    }
  /* Then properties, then links: a link error then never hides a typo. */
  for (int pass = 0; pass < 2; pass++)
    for (guint i = 0; i < groups->len; i++)
      {
        DiscoKeyFileGroup *group = g_ptr_array_index (groups, i);
        DiscoNode *node = g_hash_table_lookup (self->nodes_by_name, group->name);

        if (node == NULL)
          continue;
        for (guint j = 0; j < group->entries->len; j++)
          {
            DiscoKeyFileEntry *e = g_ptr_array_index (group->entries, j);
            if (strcmp (e->key, "node") == 0)
              continue;
            if (!apply_node_key (self, node, e->key, e->value, e->where, pass == 1, error))
              return FALSE;
          }
      }
  return TRUE;
}

static DiscoPipeline *
new_from_text (const char *text, gsize length, const char *label, const char *source_file,
               const char * const *overrides, GError **error)
{
  g_autoptr (GPtrArray) groups = _disco_key_file_parse (text, length, label,
                                                        DISCO_KEY_FILE_NONE, error);
  g_autoptr (DiscoPipeline) self = NULL;

  if (groups == NULL || !apply_overrides (groups, overrides, error))
    return NULL;
  self = disco_pipeline_new ();
  self->source_file = g_strdup (source_file);
  self->overrides = g_strdupv ((char **) overrides);
  if (!build_from_groups (self, groups, error) || !disco_pipeline_validate (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * disco_pipeline_new_from_file:
 * @path: a pipeline file
 * @overrides: (array zero-terminated=1) (nullable): "node.property=value"
 *   assignments applied over the file's values
 * @error: return location for a #GError
 *
 * Loads, builds and validates a pipeline. Every error — syntax, unknown
 * node type, property or port, bad value, bad link, algebraic loop — is
 * reported here, before anything runs, as "file:line: message".
 *
 * Returns: (transfer full) (nullable): the pipeline, or %NULL with @error set
 */
DiscoPipeline *
disco_pipeline_new_from_file (const char *path, const char * const *overrides,
                              GError **error)
{
  g_autofree char *text = NULL;
  gsize length = 0;
  g_autoptr (GError) read_error = NULL;
  DiscoPipeline *pipeline;

  g_return_val_if_fail (path != NULL, NULL);
  if (!g_file_get_contents (path, &text, &length, &read_error))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot read pipeline file: %s",
                   path, read_error->message);
      return NULL;
    }
  /* The length, not strlen: a NUL byte in the file is an error, not its end. */
  pipeline = new_from_text (text, length, path, path, overrides, error);
  /* A checkpoint records it: resuming after the file changed is refused. */
  if (pipeline != NULL)
    pipeline->source_checksum = g_compute_checksum_for_data (G_CHECKSUM_SHA256,
                                                             (const guchar *) text, length);
  return pipeline;
}

/**
 * disco_pipeline_new_from_string:
 * @text: a pipeline description in pipeline-file syntax
 * @overrides: (array zero-terminated=1) (nullable): "node.property=value"
 *   assignments applied over the text's values
 * @error: return location for a #GError
 *
 * Like disco_pipeline_new_from_file(); messages name the text "<string>".
 *
 * Returns: (transfer full) (nullable): the pipeline, or %NULL with @error set
 */
DiscoPipeline *
disco_pipeline_new_from_string (const char *text, const char * const *overrides,
                                GError **error)
{
  g_return_val_if_fail (text != NULL, NULL);
  return new_from_text (text, strlen (text), "<string>", NULL, overrides, error);
}

/* ----- validation --------------------------------------------------------- */

/* Whether the link into @consumer from @producer orders ticks. */
static gboolean
orders_ticks (DiscoNode *producer, DiscoNode *consumer)
{
  return !(disco_node_is_dynamical (producer) && disco_node_is_dynamical (consumer));
}

/* The root of @i's set in a union-find forest, halving paths on the way. */
static guint
find_root (guint *parent, guint i)
{
  while (parent[i] != i)
    {
      parent[i] = parent[parent[i]];
      i = parent[i];
    }
  return i;
}

/* Dynamical nodes joined by state couplings form one network, which an
 * integrator advances as a whole: map each dynamical node to a network id
 * (1 + the index of one of its members), so that a consumer of any of them
 * runs after all of them. Union-find over the couplings: near-linear in the
 * links. */
static GHashTable *
find_dynamical_networks (DiscoPipeline *self, GHashTable *index_of)
{
  GHashTable *network = g_hash_table_new (g_direct_hash, g_direct_equal);
  g_autofree guint *parent = g_new (guint, self->nodes->len);

  for (guint i = 0; i < self->nodes->len; i++)
    parent[i] = i;
  for (guint i = 0; i < self->nodes->len; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->nodes, i);
      GList *ports;

      if (!disco_node_is_dynamical (node))
        continue;
      ports = _disco_node_get_linked_ports (node);
      for (GList *l = ports; l != NULL; l = l->next)
        {
          DiscoNode *producer = _disco_node_get_link (node, l->data)->producer;
          gpointer j = g_hash_table_lookup (index_of, producer);

          if (j != NULL && disco_node_is_dynamical (producer))
            {
              guint a = find_root (parent, i), b = find_root (parent, GPOINTER_TO_UINT (j) - 1);
              parent[MAX (a, b)] = MIN (a, b);
            }
        }
      g_list_free (ports);
    }
  for (guint i = 0; i < self->nodes->len; i++)
    if (disco_node_is_dynamical (g_ptr_array_index (self->nodes, i)))
      g_hash_table_insert (network, g_ptr_array_index (self->nodes, i),
                           GUINT_TO_POINTER (find_root (parent, i) + 1));
  return network;
}

/* The first node that must run before @node and has not yet: a producer
 * over a link that orders ticks, or, when @node consumes a dynamical node,
 * any member of that node's network. NULL when @node may run. */
static DiscoNode *
find_blocker (DiscoPipeline *self, GHashTable *networks, GHashTable *remaining,
              DiscoNode *node, const char **where)
{
  GList *ports = _disco_node_get_linked_ports (node);
  DiscoNode *blocker = NULL;

  for (GList *l = ports; l != NULL && blocker == NULL; l = l->next)
    {
      const DiscoLink *link = _disco_node_get_link (node, l->data);
      DiscoNode *producer = link->producer;

      if (!orders_ticks (producer, node))
        continue;
      *where = link->where;
      if (g_hash_table_contains (remaining, producer))
        blocker = producer;
      else if (disco_node_is_dynamical (producer))
        {
          gpointer id = g_hash_table_lookup (networks, producer);
          for (guint i = 0; i < self->nodes->len && blocker == NULL; i++)
            {
              DiscoNode *member = g_ptr_array_index (self->nodes, i);
              if (g_hash_table_contains (remaining, member) &&
                  g_hash_table_lookup (networks, member) == id)
                blocker = member;
            }
        }
    }
  g_list_free (ports);
  return blocker;
}

/* Among nodes free to run, the one to run first: the fewest producers over
 * state couplings still to run, then the most producers already run
 * (score = done − 64 · pending, over every linked input), then the earliest
 * added. A binary heap of (score, index); a node's score only grows, and
 * each change pushes it again, so entries whose score is no longer the
 * node's are stale and skipped. */
typedef struct
{
  gint score;
  guint index;
} ReadyEntry;

/* A link, for the tick order: @network is the network id of a dynamical
 * producer, else 0. */
typedef struct
{
  guint producer;
  guint consumer;
  gboolean orders;
  guint network;
} OrderLink;

static gboolean
ready_before (const ReadyEntry *a, const ReadyEntry *b)
{
  return a->score > b->score || (a->score == b->score && a->index < b->index);
}

static void
ready_push (GArray *heap, gint score, guint index)
{
  ReadyEntry entry = { score, index };
  guint i = heap->len;

  g_array_append_val (heap, entry);
  while (i > 0)
    {
      guint up = (i - 1) / 2;
      ReadyEntry *e = &g_array_index (heap, ReadyEntry, i);
      ReadyEntry *p = &g_array_index (heap, ReadyEntry, up);
      ReadyEntry tmp;

      if (!ready_before (e, p))
        break;
      tmp = *e, *e = *p, *p = tmp;
      i = up;
    }
}

static ReadyEntry
ready_pop (GArray *heap)
{
  ReadyEntry top = g_array_index (heap, ReadyEntry, 0);
  guint i = 0;

  g_array_index (heap, ReadyEntry, 0) = g_array_index (heap, ReadyEntry, heap->len - 1);
  g_array_set_size (heap, heap->len - 1);
  for (;;)
    {
      guint best = i, l = 2 * i + 1, r = 2 * i + 2;
      ReadyEntry tmp;

      if (l < heap->len &&
          ready_before (&g_array_index (heap, ReadyEntry, l), &g_array_index (heap, ReadyEntry, best)))
        best = l;
      if (r < heap->len &&
          ready_before (&g_array_index (heap, ReadyEntry, r), &g_array_index (heap, ReadyEntry, best)))
        best = r;
      if (best == i)
        break;
      tmp = g_array_index (heap, ReadyEntry, i);
      g_array_index (heap, ReadyEntry, i) = g_array_index (heap, ReadyEntry, best);
      g_array_index (heap, ReadyEntry, best) = tmp;
      i = best;
    }
  return top;
}

static char *
describe_loop (DiscoPipeline *self, GHashTable *networks, GHashTable *remaining,
               const char **where)
{
  /* Every remaining node has a blocker; follow blockers until a node
   * repeats, then print the loop in data-flow order. */
  g_autoptr (GPtrArray) path = g_ptr_array_new ();
  DiscoNode *node = NULL;
  GString *s;
  guint start;

  for (guint i = 0; i < self->nodes->len && node == NULL; i++)
    if (g_hash_table_contains (remaining, g_ptr_array_index (self->nodes, i)))
      node = g_ptr_array_index (self->nodes, i);

  while (!g_ptr_array_find (path, node, &start))
    {
      g_ptr_array_add (path, node);
      node = find_blocker (self, networks, remaining, node, where);
      g_assert_nonnull (node);
    }
  s = g_string_new (NULL);
  for (guint i = path->len; i > start; i--)
    g_string_append_printf (s, "%s → ", disco_node_get_name (g_ptr_array_index (path, i - 1)));
  g_string_append (s, disco_node_get_name (g_ptr_array_index (path, path->len - 1)));
  return g_string_free (s, FALSE);
}

static gboolean
check_required_inputs (DiscoPipeline *self, GError **error)
{
  for (guint i = 0; i < self->nodes->len; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->nodes, i);
      g_auto (GStrv) inputs = disco_node_type_get_port_names (G_OBJECT_TYPE (node),
                                                             DISCO_PORT_INPUT);

      for (guint j = 0; inputs[j] != NULL; j++)
        {
          DiscoPortFlags flags;

          disco_node_type_get_port_info (G_OBJECT_TYPE (node), inputs[j], NULL, &flags, NULL);
          if (!(flags & DISCO_PORT_FLAG_OPTIONAL) && !disco_node_is_linked (node, inputs[j]))
            {
              g_autofree char *label = node_label (node);
              g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                           "%s: input \"%s\" of %s is not linked (add \"%s = <node>.<port>\")",
                           disco_pipeline_get_node_location (self, disco_node_get_name (node)),
                           inputs[j], label, inputs[j]);
              return FALSE;
            }
        }
    }
  return TRUE;
}

static DiscoDevice
node_device_setting (DiscoNode *node)
{
  DiscoDevice device;

  g_object_get (node, "device", &device, NULL);
  return device;
}

/* The first node that cannot run on CUDA and was not put on the CPU by its
 * own device setting, or NULL. */
static DiscoNode *
first_node_without_cuda (DiscoPipeline *self)
{
  for (guint i = 0; i < self->nodes->len; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->nodes, i);

      if (node_device_setting (node) != DISCO_DEVICE_CPU && !disco_node_runs_on_cuda (node))
        return node;
    }
  return NULL;
}

/* A node that asks for CUDA gets it or the pipeline does not run. */
static gboolean
check_node_devices (DiscoPipeline *self, GError **error)
{
  for (guint i = 0; i < self->nodes->len; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->nodes, i);

      if (node_device_setting (node) != DISCO_DEVICE_CUDA ||
          self->active_device == DISCO_DEVICE_CUDA)
        continue;
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DEVICE,
                   "%s%snode \"%s\" (%s) has device = cuda, but the pipeline runs on the "
                   "CPU (%s)",
                   self->source_file ? self->source_file : "", self->source_file ? ": " : "",
                   disco_node_get_name (node), G_OBJECT_TYPE_NAME (node),
                   !disco_node_runs_on_cuda (node)
                   ? "the node has no CUDA implementation, at least for its settings"
                   : disco_backend_get (DISCO_DEVICE_CUDA) == NULL
                   ? "no CUDA device is usable"
                   : "another node cannot run on CUDA: give it device = cpu");
      return FALSE;
    }
  return TRUE;
}

static gboolean
resolve_device (DiscoPipeline *self, GError **error)
{
  gboolean cuda_usable = disco_backend_get (DISCO_DEVICE_CUDA) != NULL;
  /* A pipeline is on CUDA only if all of it is: saying "cuda" while some
   * node computes on the host would misreport where the work ran. */
  DiscoNode *host_only = first_node_without_cuda (self);

  switch (self->device)
    {
    case DISCO_DEVICE_CUDA:
      if (!cuda_usable)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_DEVICE,
                       "%s%sdevice \"cuda\" was requested, but no CUDA device is usable "
                       "(this build has no CUDA backend, or no GPU was found); "
                       "use device=cpu or device=auto",
                       self->source_file ? self->source_file : "",
                       self->source_file ? ": " : "");
          return FALSE;
        }
      if (host_only != NULL)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_DEVICE,
                       "%s%sdevice \"cuda\" was requested, but node \"%s\" (%s) has no "
                       "CUDA implementation (at least for its settings); use device=cpu or "
                       "device=auto",
                       self->source_file ? self->source_file : "",
                       self->source_file ? ": " : "", disco_node_get_name (host_only),
                       G_OBJECT_TYPE_NAME (host_only));
          return FALSE;
        }
      self->active_device = DISCO_DEVICE_CUDA;
      break;
    case DISCO_DEVICE_AUTO:
      self->active_device = cuda_usable && host_only == NULL ? DISCO_DEVICE_CUDA
                                                             : DISCO_DEVICE_CPU;
      break;
    case DISCO_DEVICE_CPU:
    default:
      self->active_device = DISCO_DEVICE_CPU;
    }
  return check_node_devices (self, error);
}

/**
 * disco_pipeline_validate:
 * @self: a pipeline
 * @error: return location for a #GError
 *
 * Checks that every required input is linked, that the links that order
 * ticks form no loop (links between two dynamical nodes may), that there is
 * a source, and that the requested device is usable; computes the tick
 * order. disco_pipeline_run() validates when needed.
 *
 * Returns: %TRUE when the pipeline can run, %FALSE with @error set
 */
gboolean
disco_pipeline_validate (DiscoPipeline *self, GError **error)
{
  g_autoptr (GHashTable) index_of = NULL;    /* node -> 1 + its index */
  g_autoptr (GHashTable) networks = NULL;
  g_autoptr (GPtrArray) order = NULL;
  g_autoptr (GArray) links = NULL;            /* OrderLink */
  g_autoptr (GArray) heap = NULL;             /* ReadyEntry */
  g_autofree gint *score = NULL;
  g_autofree guint *blockers = NULL, *network_left = NULL;
  g_autofree guint *by_producer = NULL, *out_links = NULL;
  g_autofree guint *by_network = NULL, *waiting = NULL;
  g_autofree gboolean *done = NULL;
  gboolean has_source = FALSE;
  guint n;

  g_return_val_if_fail (DISCO_IS_PIPELINE (self), FALSE);

  if (self->validated)
    return TRUE;
  if (!check_required_inputs (self, error))
    return FALSE;

  /* Kahn's algorithm, taking the earliest-added ready node each time so the
   * order is the file's order wherever the links allow it. State couplings
   * do not block, but among ready nodes the one waiting on the fewest of
   * them goes first, then the one with the most inputs ready, so a chain of
   * layers with top-down feedback prepares input-first and each layer sees
   * the shape of its input. */
  n = self->nodes->len;
  index_of = g_hash_table_new (g_direct_hash, g_direct_equal);
  for (guint i = 0; i < n; i++)
    g_hash_table_insert (index_of, g_ptr_array_index (self->nodes, i), GUINT_TO_POINTER (i + 1));
  networks = find_dynamical_networks (self, index_of);

  /* Every link once. A node's score starts at −64 per linked input and
   * gains 65 as each producer runs; a link that orders ticks blocks its
   * consumer until its producer ran or, from a dynamical producer, until
   * that producer's whole network ran. Near-linear in nodes and links. */
  links = g_array_new (FALSE, FALSE, sizeof (OrderLink));
  score = g_new0 (gint, n);
  blockers = g_new0 (guint, n);
  network_left = g_new0 (guint, n + 1);
  done = g_new0 (gboolean, n);
  for (guint i = 0; i < n; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->nodes, i);
      GList *ports = _disco_node_get_linked_ports (node);

      if (disco_node_is_dynamical (node))
        network_left[GPOINTER_TO_UINT (g_hash_table_lookup (networks, node))]++;
      for (GList *l = ports; l != NULL; l = l->next)
        {
          DiscoNode *producer = _disco_node_get_link (node, l->data)->producer;
          guint p = GPOINTER_TO_UINT (g_hash_table_lookup (index_of, producer));
          OrderLink link = { p - 1, i, orders_ticks (producer, node),
                             GPOINTER_TO_UINT (g_hash_table_lookup (networks, producer)) };

          if (p == 0)
            continue;           /* not in this pipeline */
          score[i] -= 64;
          blockers[i] += link.orders;
          g_array_append_val (links, link);
        }
      g_list_free (ports);
    }
  /* The links by producer, and the ordering ones from dynamical producers by
   * network (counting sorts). */
  by_producer = g_new0 (guint, n + 1);
  by_network = g_new0 (guint, n + 2);
  for (guint k = 0; k < links->len; k++)
    {
      OrderLink *link = &g_array_index (links, OrderLink, k);
      by_producer[link->producer + 1]++;
      if (link->orders && link->network != 0)
        by_network[link->network + 1]++;
    }
  for (guint i = 0; i < n; i++)
    by_producer[i + 1] += by_producer[i];
  for (guint i = 0; i <= n; i++)
    by_network[i + 1] += by_network[i];
  out_links = g_new (guint, MAX (links->len, 1));
  waiting = g_new (guint, MAX (links->len, 1));
  {
    g_autofree guint *fill = g_memdup2 (by_producer, (n + 1) * sizeof (guint));
    g_autofree guint *fill_network = g_memdup2 (by_network, (n + 2) * sizeof (guint));

    for (guint k = 0; k < links->len; k++)
      {
        OrderLink *link = &g_array_index (links, OrderLink, k);
        out_links[fill[link->producer]++] = k;
        if (link->orders && link->network != 0)
          waiting[fill_network[link->network]++] = link->consumer;
      }
  }

  heap = g_array_new (FALSE, FALSE, sizeof (ReadyEntry));
  for (guint i = 0; i < n; i++)
    if (blockers[i] == 0)
      ready_push (heap, score[i], i);
  order = g_ptr_array_new_full (n, g_object_unref);
  while (heap->len > 0)
    {
      ReadyEntry next = ready_pop (heap);
      guint r = next.index;
      DiscoNode *ready = g_ptr_array_index (self->nodes, r);

      if (done[r] || next.score != score[r])
        continue;               /* ran already, or a stale score */
      done[r] = TRUE;
      g_ptr_array_add (order, g_object_ref (ready));
      for (guint k = by_producer[r]; k < by_producer[r + 1]; k++)
        {
          OrderLink *link = &g_array_index (links, OrderLink, out_links[k]);
          guint c = link->consumer;

          score[c] += 65;
          if (link->orders && link->network == 0)
            blockers[c]--;
          if (blockers[c] == 0 && !done[c])
            ready_push (heap, score[c], c);
        }
      if (disco_node_is_dynamical (ready))
        {
          guint id = GPOINTER_TO_UINT (g_hash_table_lookup (networks, ready));

          if (--network_left[id] == 0)
            for (guint k = by_network[id]; k < by_network[id + 1]; k++)
              {
                guint c = waiting[k];

                if (--blockers[c] == 0 && !done[c])
                  ready_push (heap, score[c], c);
              }
        }
    }
  if (order->len < n)
    {
      const char *where = NULL;
      g_autoptr (GHashTable) remaining = g_hash_table_new (g_direct_hash, g_direct_equal);
      g_autofree char *loop = NULL;

      for (guint i = 0; i < n; i++)
        if (!done[i])
          g_hash_table_add (remaining, g_ptr_array_index (self->nodes, i));
      loop = describe_loop (self, networks, remaining, &where);
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_ALGEBRAIC_LOOP,
                   "%s: algebraic loop %s: a loop must pass through a link between "
                   "two dynamical nodes (whose state an integrator advances)",
                   where, loop);
      return FALSE;
    }

  for (guint i = 0; i < self->nodes->len && !has_source; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->nodes, i);
      GList *ports = _disco_node_get_linked_ports (node);

      has_source = ports == NULL && !disco_node_is_dynamical (node);
      g_list_free (ports);
    }
  if (!has_source)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                   "%s%sthe pipeline has no source (a node without linked inputs that "
                   "emits ticks), so it would never end",
                   self->source_file ? self->source_file : "", self->source_file ? ": " : "");
      return FALSE;
    }
  if (!resolve_device (self, error))
    return FALSE;

  g_clear_pointer (&self->tick_order, g_ptr_array_unref);
  self->tick_order = g_steal_pointer (&order);
  self->validated = TRUE;
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ACTIVE_DEVICE]);
  return TRUE;
}

/**
 * disco_pipeline_get_tick_order:
 * @self: a validated pipeline
 *
 * Lists the nodes in the order every tick runs them: a topological order of
 * the links, leaving out the state couplings between dynamical nodes.
 *
 * Returns: (transfer full) (array zero-terminated=1) (nullable): the node
 *   names in the order a tick runs them, or %NULL when not validated
 */
char **
disco_pipeline_get_tick_order (DiscoPipeline *self)
{
  char **names;

  g_return_val_if_fail (DISCO_IS_PIPELINE (self), NULL);
  if (!self->validated)
    return NULL;
  names = g_new0 (char *, self->tick_order->len + 1);
  for (guint i = 0; i < self->tick_order->len; i++)
    names[i] = g_strdup (disco_node_get_name (g_ptr_array_index (self->tick_order, i)));
  return names;
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
      *how = g_strdup_printf ("pipeline.memory-limit = %" G_GUINT64_FORMAT " MiB",
                              self->memory_limit);
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
  if (error != NULL && *error != NULL &&
      g_error_matches (*error, DISCO_ERROR, DISCO_ERROR_MEMORY) &&
      strstr ((*error)->message, "pipeline.memory-limit") == NULL)
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
                           disco_node_get_name (node), node_type_label (node),
                           (const char *) port, shape->str,
                           bytes == G_MAXUINT64 ? "more than 16 EiB" : size, limit_text, how);
              return FALSE;
            }
        }
    }
  return TRUE;
}

static void
prefix_node_error (GError **error, DiscoNode *node, const char *hook)
{
  if (error != NULL && *error == NULL)
    g_set_error (error, DISCO_ERROR, DISCO_ERROR_FAILED, "%s failed without a message",
                 hook);
  if (error != NULL && *error != NULL &&
      !g_error_matches (*error, G_IO_ERROR, G_IO_ERROR_CANCELLED) &&
      strstr ((*error)->message, disco_node_get_name (node)) == NULL)
    g_prefix_error (error, "node \"%s\" (%s): ", disco_node_get_name (node),
                    node_type_label (node));
}

static gboolean
remove_tree (const char *path, GError **error)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      if (g_remove (child) != 0)
        {
          int saved = errno;
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot remove: %s", child,
                       g_strerror (saved));
          return FALSE;
        }
    }
  if (g_rmdir (path) != 0)
    {
      int saved = errno;
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot remove: %s", path,
                   g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

/* <output-dir>/checkpoint holds every parameter as .npy and state.ini: the
 * epoch it ends, the ticks run, how to rebuild the pipeline (its file, that
 * file's SHA-256, the overrides, its nodes) and a manifest of every file
 * with its shape and SHA-256, sealed by the SHA-256 of state.ini itself
 * (disco_checkpoint_verify()). It is written beside and swapped in by
 * renames, so a crash leaves the previous checkpoint whole. */
static gboolean
save_checkpoint (DiscoPipeline *self, guint epoch, guint64 ticks, GError **error)
{
  g_autofree char *final = g_build_filename (self->output_dir, "checkpoint", NULL);
  g_autofree char *staging = g_build_filename (self->output_dir, "checkpoint.new", NULL);
  g_autofree char *previous = g_build_filename (self->output_dir, "checkpoint.old", NULL);
  g_autoptr (GKeyFile) state = g_key_file_new ();
  g_autoptr (GStrvBuilder) nodes = g_strv_builder_new ();
  g_auto (GStrv) node_list = NULL;
  g_autofree char *source = NULL;

  if ((g_file_test (staging, G_FILE_TEST_IS_DIR) && !remove_tree (staging, error)) ||
      (g_file_test (previous, G_FILE_TEST_IS_DIR) && !remove_tree (previous, error)) ||
      !disco_pipeline_save_parameters (self, staging, error))
    return FALSE;
  g_key_file_set_uint64 (state, "checkpoint", "epoch", epoch);
  g_key_file_set_uint64 (state, "checkpoint", "ticks", ticks);
  g_key_file_set_uint64 (state, "checkpoint", "seed", self->seed);
  if (self->source_file != NULL)
    {
      source = g_canonicalize_filename (self->source_file, NULL);
      g_key_file_set_string (state, "run", "file", source);
      if (self->source_checksum != NULL)
        g_key_file_set_string (state, "run", "file-sha256", self->source_checksum);
      if (self->overrides != NULL)
        g_key_file_set_string_list (state, "run", "overrides",
                                    (const char *const *) self->overrides,
                                    g_strv_length (self->overrides));
    }
  /* Which pipeline it is: resume refuses a checkpoint of another one. */
  for (guint i = 0; i < self->nodes->len; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->nodes, i);
      g_autofree char *entry = g_strdup_printf ("%s:%s", disco_node_get_name (node),
                                                node_type_label (node));
      g_strv_builder_add (nodes, entry);
    }
  node_list = g_strv_builder_end (nodes);
  g_key_file_set_string_list (state, "run", "nodes", (const char *const *) node_list,
                              g_strv_length (node_list));
  /* state.ini lists every file with its shape and SHA-256, and its own. */
  if (!_disco_checkpoint_write_state (staging, state, error))
    return FALSE;
  if ((g_file_test (final, G_FILE_TEST_IS_DIR) && g_rename (final, previous) != 0) ||
      g_rename (staging, final) != 0)
    {
      int saved = errno;
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot save the checkpoint: %s",
                   final, g_strerror (saved));
      return FALSE;
    }
  return !g_file_test (previous, G_FILE_TEST_IS_DIR) || remove_tree (previous, error);
}

/* "(64,10)": a shape as a checkpoint's manifest writes it. */
static char *
manifest_shape (DiscoTensor *tensor)
{
  guint n_dims;
  const gsize *shape = disco_tensor_get_shape (tensor, &n_dims);
  GString *text = g_string_new ("(");

  for (guint i = 0; i < n_dims; i++)
    g_string_append_printf (text, "%s%" G_GSIZE_FORMAT, i ? "," : "", shape[i]);
  g_string_append_c (text, ')');
  return g_string_free (text, FALSE);
}

/* A checkpoint resumes only into the pipeline that wrote it: the same
 * nodes of the same types, and a file of the same shape for every
 * parameter (state created lazily, such as optimizer moments, may have a
 * file and no parameter yet). */
static gboolean
check_checkpoint_pipeline (DiscoPipeline *self, GKeyFile *state, const char *state_path,
                           GError **error)
{
  g_auto (GStrv) recorded = g_key_file_get_string_list (state, "run", "nodes", NULL, NULL);
  g_autoptr (GHashTable) types = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  if (recorded == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                   "%s: not a checkpoint: [run] has no \"nodes\"", state_path);
      return FALSE;
    }
  for (guint i = 0; recorded[i] != NULL; i++)
    {
      const char *colon = strrchr (recorded[i], ':');
      g_hash_table_insert (types, g_strndup (recorded[i], colon ? colon - recorded[i] : -1),
                           (gpointer) (colon ? colon + 1 : ""));
    }
  for (guint i = 0; i < self->nodes->len; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->nodes, i);
      const char *type = g_hash_table_lookup (types, disco_node_get_name (node));

      if (type == NULL || strcmp (type, node_type_label (node)) != 0)
        {
          if (type == NULL)
            g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                         "%s: a checkpoint of another pipeline: it has no node \"%s\" (%s)",
                         state_path, disco_node_get_name (node), node_type_label (node));
          else
            g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                         "%s: a checkpoint of another pipeline: its node \"%s\" is a %s, "
                         "this pipeline's a %s", state_path, disco_node_get_name (node), type,
                         node_type_label (node));
          return FALSE;
        }
      g_hash_table_remove (types, disco_node_get_name (node));
    }
  if (g_hash_table_size (types) > 0)
    {
      GHashTableIter iter;
      gpointer name, type;

      g_hash_table_iter_init (&iter, types);
      g_hash_table_iter_next (&iter, &name, &type);
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                   "%s: a checkpoint of another pipeline: its node \"%s\" (%s) is not in "
                   "this pipeline", state_path, (const char *) name, (const char *) type);
      return FALSE;
    }
  for (guint i = 0; i < self->nodes->len; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->nodes, i);
      g_auto (GStrv) names = disco_node_list_parameters (node);

      for (guint j = 0; names[j] != NULL; j++)
        {
          g_autofree char *file = g_strdup_printf ("%s.%s.npy", disco_node_get_name (node),
                                                   names[j]);
          g_autofree char *path = g_build_filename (self->resume, file, NULL);
          g_autofree char *have = _disco_checkpoint_file_shape (state, file);
          g_autofree char *want = manifest_shape (disco_node_get_parameter (node, names[j]));

          if (have == NULL)
            {
              g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                           "%s: missing: the checkpoint has no file for parameter \"%s.%s\" "
                           "(a checkpoint of another pipeline)", path,
                           disco_node_get_name (node), names[j]);
              return FALSE;
            }
          if (strcmp (have, want) != 0)
            {
              g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                           "%s: holds shape %s, parameter \"%s.%s\" of this pipeline has %s "
                           "(a checkpoint of another pipeline)", path, have,
                           disco_node_get_name (node), names[j], want);
              return FALSE;
            }
        }
    }
  return TRUE;
}

/* Restores parameters and state from a checkpoint folder and tells every
 * node to go on with the next epoch. The checkpoint must prove itself
 * (disco_checkpoint_verify(): every file as written, state.ini unedited)
 * and be of this pipeline. */
static gboolean
resume_from_checkpoint (DiscoPipeline *self, GError **error)
{
  g_autofree char *state_path = g_build_filename (self->resume, "state.ini", NULL);
  g_autoptr (GKeyFile) state = disco_checkpoint_verify (self->resume, error);
  guint64 epoch, ticks;

  if (state == NULL || !check_checkpoint_pipeline (self, state, state_path, error))
    return FALSE;
  /* disco_checkpoint_verify() checked both and their ranges. */
  epoch = g_key_file_get_uint64 (state, "checkpoint", "epoch", NULL);
  ticks = g_key_file_get_uint64 (state, "checkpoint", "ticks", NULL);
  if (!disco_pipeline_load_parameters (self, self->resume, error))
    return FALSE;
  for (guint i = 0; i < self->tick_order->len; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->tick_order, i);
      DiscoNodeClass *klass = DISCO_NODE_GET_CLASS (node);
      GError *node_error = NULL;

      if (klass->resume != NULL &&
          (!klass->resume (node, epoch + 1, &node_error) || node_error != NULL))
        {
          g_propagate_error (error, node_error);
          prefix_node_error (error, node, "resume");
          return FALSE;
        }
    }
  self->first_tick = ticks;
  return TRUE;
}

/* ----- the finiteness check ------------------------------------------------ */

typedef guint32 FloatBits4 __attribute__ ((vector_size (16)));

/* The index of the first value of @v that is not finite (NaN or ±inf; with
 * @allow_nan, ±inf only), or @n when all are. A float is not finite exactly
 * when its exponent bits are all ones, and then adding one to the exponent
 * field carries into the sign bit: one pass of integer operations on four
 * values at a time, and a second look only at a block that failed. */
static gsize
find_non_finite (const float *v, gsize n, gboolean allow_nan)
{
  const FloatBits4 mask = { 0x7f800000u, 0x7f800000u, 0x7f800000u, 0x7f800000u };
  const FloatBits4 carry = { 0x00800000u, 0x00800000u, 0x00800000u, 0x00800000u };

  for (gsize start = 0; start < n; start += 4096)
    {
      const gsize end = MIN (n, start + 4096);
      FloatBits4 any4 = { 0, 0, 0, 0 };
      guint32 any = 0;
      gsize i = start;

      for (; i + 8 <= end; i += 8)
        {
          FloatBits4 a, b;

          memcpy (&a, v + i, sizeof a);
          memcpy (&b, v + i + 4, sizeof b);
          any4 |= ((a & mask) + carry) | ((b & mask) + carry);
        }
      for (; i < end; i++)
        {
          guint32 w;

          memcpy (&w, v + i, sizeof w);
          any |= (w & 0x7f800000u) + 0x00800000u;
        }
      any |= any4[0] | any4[1] | any4[2] | any4[3];
      if (!(any & 0x80000000u))
        continue;
      for (i = start; i < end; i++)
        if (allow_nan ? isinf (v[i]) : !isfinite (v[i]))
          return i;
    }
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
    return TRUE;                /* unchanged since the check saw it */
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
  bad = find_non_finite (v, n, w->nan_means_none);
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
      g_autofree char *part = g_strdup_printf ("%" G_GSIZE_FORMAT "%s", rest % shape[d - 1],
                                               d < n_dims ? ", " : "");
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
                     disco_node_get_name (w->owner), node_type_label (w->owner));
  if (w->writer != NULL)
    g_set_error (error, DISCO_ERROR, DISCO_ERROR_NUMERIC,
                 "%s: node \"%s\" (%s) produced a non-finite value: %s holds %s at [%s] "
                 "(%" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " values not finite); the run "
                 "stops%s", when, disco_node_get_name (w->writer), node_type_label (w->writer),
                 what->str, value, index->str, count, n,
                 describe_kept_checkpoint (self, &kept));
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
 * One pass over each tensor written since the check last saw it. A
 * dynamical node's process does nothing: its integrator writes its
 * outputs, and optimizers its parameters. */
static gboolean
check_after_process (DiscoPipeline *self, DiscoNode *node, const DiscoTick *tick,
                     GError **error)
{
  g_autofree char *when = describe_tick (tick);
  GPtrArray *names;
  GHashTableIter iter;
  gpointer key, value;
  GList *ports;
  gboolean ok = TRUE, descends = FALSE;

  g_ptr_array_set_size (self->checked, 0);
  for (guint i = 0; i < self->written->len && ok; i++)
    {
      WrittenTensor *w = &g_array_index (self->written, WrittenTensor, i);
      ok = check_one (self, when, node, w->owner, "output", w->name, w->tensor,
                      w->nan_means_none, error);
    }
  g_array_set_size (self->written, 0);
  if (!ok)
    return FALSE;
  if (disco_node_is_dynamical (node))
    return TRUE;

  g_hash_table_iter_init (&iter, _disco_node_get_outputs (node));
  while (g_hash_table_iter_next (&iter, &key, &value))
    if (!check_one (self, when, node, node, "output", key, value,
                    output_nan_means_none (node, key), error))
      return FALSE;
  names = _disco_node_get_gradient_names (node);
  for (guint i = 0; i < names->len; i++)
    {
      const char *target = g_ptr_array_index (names, i);
      if (!check_one (self, when, node, node, "gradient", target,
                      disco_node_get_gradient (node, target), FALSE, error))
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
          DiscoTensor *parameter = owner != NULL ? disco_node_get_parameter (owner, dot + 1)
                                                 : NULL;

          if (parameter != NULL)
            ok = check_one (self, when, node, owner, "parameter", dot + 1, parameter, FALSE,
                            error);
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
    ok = check_written (self, when, &g_array_index (deferred, WrittenTensor, i), FALSE, NULL,
                        error);
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
          WrittenTensor w = { NULL, node, "parameter", g_ptr_array_index (names, j),
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
  w = (WrittenTensor) { NULL, node, "output", g_intern_string (port), g_object_ref (tensor),
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
  if (self->resume == NULL && self->output_mode != DISCO_OUTPUT_MODE_ADD &&
      (previous = _disco_output_folder_describe_run (self->output_dir)) != NULL)
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

  if (strncmp (file, folder, n) != 0 || file[n] != G_DIR_SEPARATOR ||
      g_hash_table_contains (self->outputs, relative))
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

      if (klass->end_epoch != NULL &&
          (!klass->end_epoch (node, epoch, &node_error) || node_error != NULL))
        {
          g_propagate_error (error, node_error);
          prefix_node_error (error, node, "end_epoch");
          return FALSE;
        }
    }
  if (self->checkpoint && self->output_dir != NULL &&
      !save_checkpoint (self, epoch, tick_index + 1, error))
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

  for (guint64 index = self->first_tick;
       self->max_ticks == 0 || index < self->max_ticks; index++)
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
              prefix_node_error (error, node, "process");
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

      if (klass->prepare != NULL &&
          (!klass->prepare (node, &node_error) || node_error != NULL))
        {
          g_propagate_error (error, node_error);
          prefix_node_error (error, node, "prepare");
          g_prefix_error (error, "%s: ",
                          disco_pipeline_get_node_location (self, disco_node_get_name (node)));
          add_memory_hint (error, how);
          goto out;
        }
    }
  if (!check_declared_outputs (self, limit, how, error))
    goto out;
  self->first_tick = 0;
  if (!claim_output_dir (self, error))
    goto out;
  if (self->resume != NULL && !resume_from_checkpoint (self, error))
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

      if (klass->finish != NULL &&
          (!klass->finish (node, &finish_error) || finish_error != NULL) && ok)
        {
          prefix_node_error (&finish_error, node, "finish");
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
                   "or disco-run -o DIR)", relative);
      return NULL;
    }
  /* A run writes its folder only while it holds it: not after it was
   * refused (another run's folder), nor from a finish hook after a failed
   * prepare. */
  if (self->running && self->output_dir != NULL && self->output_lock == NULL &&
      !g_path_is_absolute (relative))
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
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot create folder: %s",
                   parent, g_strerror (saved));
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

/* @path, without its leading "../" and "./", in the first data folder that
 * has it: each of $DISCO_DATA_PATH (colon-separated), $XDG_DATA_HOME/disco-1.0,
 * <datadir>/disco-1.0 (where the installed install-datasets.sh puts
 * data/datasets). NULL when none has it. */
static char *
find_in_data_dirs (const char *path)
{
  const char *env = g_getenv ("DISCO_DATA_PATH");
  g_autofree char *user_dir = g_build_filename (g_get_user_data_dir (), "disco-1.0", NULL);
  g_auto (GStrv) env_dirs = g_strsplit (env != NULL ? env : "", G_SEARCHPATH_SEPARATOR_S, -1);
  GStrvBuilder *builder = g_strv_builder_new ();
  g_auto (GStrv) dirs = NULL;
  const char *rest = path;

  while (g_str_has_prefix (rest, "../") || g_str_has_prefix (rest, "./"))
    rest = strchr (rest, G_DIR_SEPARATOR) + 1;
  for (guint i = 0; env_dirs[i] != NULL; i++)
    if (env_dirs[i][0] != '\0')
      g_strv_builder_add (builder, env_dirs[i]);
  g_strv_builder_add (builder, user_dir);
  g_strv_builder_add (builder, DISCO_DATA_DIR);
  dirs = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  for (guint i = 0; rest[0] != '\0' && dirs[i] != NULL; i++)
    {
      g_autofree char *candidate = g_build_filename (dirs[i], rest, NULL);
      if (g_file_test (candidate, G_FILE_TEST_EXISTS))
        return g_steal_pointer (&candidate);
    }
  return NULL;
}

/**
 * disco_pipeline_resolve_path:
 * @self: a pipeline
 * @path: a path from a property, e.g. a dataset folder
 *
 * A relative input path is looked up first beside the pipeline file (as
 * includes are in most configuration formats, so a pipeline runs the same
 * from any working folder), then in the current folder (where a path given
 * on the command line is meant), then, without its leading "../", in the
 * data folders: each of `$DISCO_DATA_PATH` (colon-separated), then
 * `$XDG_DATA_HOME/disco-1.0`, then `<datadir>/disco-1.0`. So
 * "../data/datasets/mnist" of an installed or copied pipeline finds the
 * datasets that data/install-datasets.sh put in any of them. When it exists
 * nowhere, the path beside the file is returned, for the error message.
 * Absolute paths, and paths of pipelines built in code, are returned as
 * they are.
 *
 * Returns: (transfer full): the path to open
 */
char *
disco_pipeline_resolve_path (DiscoPipeline *self, const char *path)
{
  g_autofree char *dir = NULL;
  g_autofree char *beside_file = NULL;
  char *found;

  g_return_val_if_fail (DISCO_IS_PIPELINE (self), NULL);
  g_return_val_if_fail (path != NULL, NULL);
  if (g_path_is_absolute (path) || self->source_file == NULL)
    return g_strdup (path);
  dir = g_path_get_dirname (self->source_file);
  beside_file = g_build_filename (dir, path, NULL);
  if (!g_file_test (beside_file, G_FILE_TEST_EXISTS) && g_file_test (path, G_FILE_TEST_EXISTS))
    return g_strdup (path);
  if (!g_file_test (beside_file, G_FILE_TEST_EXISTS) && (found = find_in_data_dirs (path)) != NULL)
    return found;
  return g_steal_pointer (&beside_file);
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
 * disco_pipeline_save_parameters:
 * @self: a pipeline whose nodes are prepared (during or after a run)
 * @dir: the folder to write into; created when missing
 * @error: return location for a #GError
 *
 * Saves every parameter of every node as `<dir>/<node>.<parameter>.npy`
 * (numpy.load reads them), each file atomically.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_pipeline_save_parameters (DiscoPipeline *self, const char *dir, GError **error)
{
  g_return_val_if_fail (DISCO_IS_PIPELINE (self), FALSE);
  g_return_val_if_fail (dir != NULL, FALSE);

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot create folder: %s", dir,
                   g_strerror (saved));
      return FALSE;
    }
  for (guint i = 0; i < self->nodes->len; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->nodes, i);
      g_auto (GStrv) names = disco_node_list_parameters (node);

      for (guint j = 0; names[j] != NULL; j++)
        {
          g_autofree char *file = g_strdup_printf ("%s.%s.npy", disco_node_get_name (node),
                                                   names[j]);
          g_autofree char *path = g_build_filename (dir, file, NULL);

          if (!disco_tensor_save_npy (disco_node_get_parameter (node, names[j]), path, error))
            return FALSE;
        }
    }
  return TRUE;
}

/**
 * disco_pipeline_load_parameters:
 * @self: a pipeline whose nodes are prepared
 * @dir: a folder written by disco_pipeline_save_parameters()
 * @error: return location for a #GError
 *
 * Overwrites every parameter of every node with `<dir>/<node>.<parameter>.npy`.
 * A missing file or a shape that differs from the node's is an error, and
 * then no parameter is changed. A file for a parameter a node of the
 * pipeline does not have yet (state created lazily, such as an optimizer's
 * moments) adds that parameter.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_pipeline_load_parameters (DiscoPipeline *self, const char *dir, GError **error)
{
  g_autoptr (GPtrArray) loaded = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GPtrArray) targets = g_ptr_array_new ();

  g_return_val_if_fail (DISCO_IS_PIPELINE (self), FALSE);
  g_return_val_if_fail (dir != NULL, FALSE);

  /* Read and check everything first, so a bad file changes nothing. */
  for (guint i = 0; i < self->nodes->len; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->nodes, i);
      g_auto (GStrv) names = disco_node_list_parameters (node);

      for (guint j = 0; names[j] != NULL; j++)
        {
          DiscoTensor *target = disco_node_get_parameter (node, names[j]);
          g_autofree char *file = g_strdup_printf ("%s.%s.npy", disco_node_get_name (node),
                                                   names[j]);
          g_autofree char *path = g_build_filename (dir, file, NULL);
          DiscoTensor *tensor = disco_tensor_load_npy (path, error);
          guint n_dims;
          const gsize *shape = disco_tensor_get_shape (target, &n_dims);

          if (tensor == NULL)
            return FALSE;
          g_ptr_array_add (loaded, tensor);
          if (!disco_tensor_has_shape (tensor, n_dims, shape))
            {
              g_autofree char *want = disco_tensor_shape_to_string (target);
              g_autofree char *got = disco_tensor_shape_to_string (tensor);
              g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                           "%s: parameter \"%s.%s\" has shape %s, the file holds %s", path,
                           disco_node_get_name (node), names[j], want, got);
              return FALSE;
            }
          g_ptr_array_add (targets, target);
        }
    }
  /* State a node creates lazily (an optimizer's moments appear with the
   * first gradient) has a file but no tensor yet: give it one. */
  {
    g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
    const char *file;

    while (listing != NULL && (file = g_dir_read_name (listing)) != NULL)
      {
        const char *dot = strchr (file, '.');
        g_autofree char *node_name = NULL;
        g_autofree char *parameter = NULL;
        g_autofree char *path = NULL;
        DiscoNode *node;
        DiscoTensor *tensor;

        if (dot == NULL || !g_str_has_suffix (file, ".npy"))
          continue;
        node_name = g_strndup (file, dot - file);
        parameter = g_strndup (dot + 1, strlen (dot + 1) - strlen (".npy"));
        node = g_hash_table_lookup (self->nodes_by_name, node_name);
        if (node == NULL || *parameter == '\0' || disco_node_get_parameter (node, parameter) != NULL)
          continue;
        path = g_build_filename (dir, file, NULL);
        if ((tensor = disco_tensor_load_npy (path, error)) == NULL)
          return FALSE;
        disco_node_add_parameter (node, parameter, tensor);
        g_object_unref (tensor);
      }
  }
  for (guint i = 0; i < loaded->len; i++)
    {
      GBytes *bytes = disco_tensor_get_bytes (g_ptr_array_index (loaded, i), error);
      gboolean ok;

      if (bytes == NULL)
        return FALSE;
      ok = disco_tensor_set_data (g_ptr_array_index (targets, i),
                                  g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                                  error);
      g_bytes_unref (bytes);
      if (!ok)
        return FALSE;
    }
  return TRUE;
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
disco_write_file_atomically (const char *path, const guint8 *data, gsize size,
                             GError **error)
{
  g_autoptr (GError) write_error = NULL;

  g_return_val_if_fail (path != NULL, FALSE);
  /* g_file_set_contents writes "path.XXXXXX" and renames it. */
  if (!g_file_set_contents_full (path, (const char *) data, size,
                                 G_FILE_SET_CONTENTS_CONSISTENT, 0644, &write_error))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot write: %s", path,
                   write_error->message);
      return FALSE;
    }
  return TRUE;
}
