/* disco-node.c
 *
 * Ports and metadata belong to the node *type*, so disco-inspect can show them
 * without making an instance. They are kept as qdata on the GType rather than
 * in the class struct so that types defined in Python or JavaScript, whose
 * class_init the binding owns, can declare ports with disco_node_type_add_port().
 */

/**
 * DiscoNode:
 *
 * The abstract base of every node type.
 *
 * A node has named input and output ports declared by its type
 * (disco_node_class_add_port()), is configured by GObject properties, and
 * implements the hooks of #DiscoNodeClass: prepare before the first tick,
 * process once per tick, end_epoch after each epoch, finish at the end.
 * Outputs are broadcast: every consumer linked to an output reads the same
 * tensor, so consumers must not modify their inputs.
 *
 * A *dynamical* node (microcircuit layer, readout, controller) holds
 * continuous state that an integrator node advances; links between two
 * dynamical nodes are state couplings and may form loops.
 *
 * Nodes may hold named parameters (disco_node_add_parameter(), saved in
 * checkpoints) and publish gradients for an optimizer
 * (disco_node_set_gradient()).
 *
 * A node type is written in C as a final subclass in a plugin module, or in
 * Python or JavaScript through introspection: see
 * [Writing a node in C](node-in-c.html) and
 * [Writing a node in Python](node-in-python.html).
 */

#include "disco-node.h"
#include "disco-error.h"
#include "disco-enum-types.h"
#include "disco-pipeline.h"
#include "disco-private.h"

#include <string.h>

typedef struct
{
  char *name;
  DiscoPortDirection direction;
  DiscoPortFlags flags;
  char *blurb;
} DiscoPortInfo;

typedef struct
{
  GPtrArray *ports; /* DiscoPortInfo, in declaration order */
  char *long_name;
  char *category;
  char *description;
  gboolean dynamical;
  gboolean dynamical_set;
  gboolean runs_on_cuda;
  gboolean runs_on_cuda_set;
} DiscoNodeTypeInfo;

typedef struct
{
  char *name;
  DiscoPipeline *pipeline;    /* not a reference: the pipeline owns us */
  GHashTable *links;          /* input port -> DiscoLink */
  GHashTable *outputs;        /* output port -> DiscoTensor */
  GHashTable *declared;       /* output port -> DiscoDeclaredShape */
  GPtrArray *parameter_names; /* in the order added */
  GHashTable *parameters;     /* name -> DiscoTensor */
  GPtrArray *gradient_names;  /* "node.parameter", in the order set */
  GHashTable *gradients;      /* "node.parameter" -> DiscoTensor */
  DiscoDevice device;         /* where this node computes: auto = the pipeline's */
} DiscoNodePrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (DiscoNode, disco_node, G_TYPE_OBJECT)

enum
{
  PROP_0,
  PROP_NAME,
  PROP_DEVICE,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];

/* The quark's name is text, not an expression: */
/* clang-format off */
G_DEFINE_QUARK (disco-node-type-info, type_info)
/* clang-format on */

/* ----- type-level information ------------------------------------------- */

static DiscoNodeTypeInfo *
type_info_lookup (GType type)
{
  /* Types declare ports in class_init, which GObject runs lazily: make sure
   * it has run. The reference is kept on purpose; node classes live as long
   * as the process anyway. */
  if (g_type_class_peek (type) == NULL)
    g_type_class_ref (type);
  return g_type_get_qdata (type, type_info_quark ());
}

static DiscoNodeTypeInfo *
type_info_ensure (GType type)
{
  DiscoNodeTypeInfo *info = g_type_get_qdata (type, type_info_quark ());

  if (info == NULL)
    {
      /* Lives as long as the type, i.e. the process. */
      info = g_new0 (DiscoNodeTypeInfo, 1);
      info->ports = g_ptr_array_new ();
      g_type_set_qdata (type, type_info_quark (), info);
    }
  return info;
}

static const DiscoPortInfo *
port_lookup (GType type, const char *name)
{
  for (; type != DISCO_TYPE_NODE && type != G_TYPE_INVALID; type = g_type_parent (type))
    {
      DiscoNodeTypeInfo *info = type_info_lookup (type);

      if (info == NULL)
        continue;
      for (guint i = 0; i < info->ports->len; i++)
        {
          const DiscoPortInfo *port = g_ptr_array_index (info->ports, i);
          if (strcmp (port->name, name) == 0)
            return port;
        }
    }
  return NULL;
}

/* Ports of a type and its ancestors, ancestors first. */
static void
collect_ports (GType type, GPtrArray *out)
{
  DiscoNodeTypeInfo *info;

  if (type == DISCO_TYPE_NODE || type == G_TYPE_INVALID)
    return;
  collect_ports (g_type_parent (type), out);
  info = type_info_lookup (type);
  if (info != NULL)
    for (guint i = 0; i < info->ports->len; i++)
      g_ptr_array_add (out, g_ptr_array_index (info->ports, i));
}

/**
 * disco_node_type_add_port:
 * @type: a #DiscoNode subtype
 * @direction: input or output
 * @name: port name, kebab-case (e.g. "images")
 * @flags: port flags (%DISCO_PORT_FLAG_OPTIONAL for an input that may stay unlinked)
 * @blurb: what flows through the port, with shape and meaning
 *
 * Declares a port of a node type. The first output port declared is the
 * type's default output, the one a link like `input = h1` reaches.
 */
void
disco_node_type_add_port (GType type, DiscoPortDirection direction, const char *name,
                          DiscoPortFlags flags, const char *blurb)
{
  DiscoNodeTypeInfo *info;
  DiscoPortInfo *port;

  g_return_if_fail (g_type_is_a (type, DISCO_TYPE_NODE));
  g_return_if_fail (name != NULL && *name != '\0' && strchr (name, '.') == NULL);
  g_return_if_fail (blurb != NULL);

  if (port_lookup (type, name) != NULL)
    {
      g_critical ("node type %s already has a port \"%s\"", g_type_name (type), name);
      return;
    }
  info = type_info_ensure (type);
  port = g_new0 (DiscoPortInfo, 1);
  port->name = g_strdup (name);
  port->direction = direction;
  port->flags = flags;
  port->blurb = g_strdup (blurb);
  g_ptr_array_add (info->ports, port);
}

/**
 * disco_node_class_add_port: (skip)
 * @klass: a node class, in its class_init
 * @direction: input or output
 * @name: port name
 * @flags: port flags
 * @blurb: what flows through the port
 *
 * Same as disco_node_type_add_port() for use in class_init.
 */
void
disco_node_class_add_port (DiscoNodeClass *klass, DiscoPortDirection direction, const char *name,
                           DiscoPortFlags flags, const char *blurb)
{
  disco_node_type_add_port (G_TYPE_FROM_CLASS (klass), direction, name, flags, blurb);
}

/**
 * disco_node_type_set_metadata:
 * @type: a #DiscoNode subtype
 * @long_name: a human-readable name, e.g. "E–I microcircuit layer"
 * @category: a slash-separated classification, e.g. "Network/Dynamical"
 * @description: one or two sentences on what the node does
 *
 * Sets what disco-inspect shows about a node type.
 */
void
disco_node_type_set_metadata (GType type, const char *long_name, const char *category,
                              const char *description)
{
  DiscoNodeTypeInfo *info;

  g_return_if_fail (g_type_is_a (type, DISCO_TYPE_NODE));
  info = type_info_ensure (type);
  g_free (info->long_name);
  g_free (info->category);
  g_free (info->description);
  info->long_name = g_strdup (long_name);
  info->category = g_strdup (category);
  info->description = g_strdup (description);
}

/**
 * disco_node_class_set_metadata: (skip)
 * @klass: a node class, in its class_init
 * @long_name: a human-readable name
 * @category: a slash-separated classification
 * @description: what the node does
 *
 * Same as disco_node_type_set_metadata() for use in class_init.
 */
void
disco_node_class_set_metadata (DiscoNodeClass *klass, const char *long_name, const char *category,
                               const char *description)
{
  disco_node_type_set_metadata (G_TYPE_FROM_CLASS (klass), long_name, category, description);
}

/**
 * disco_node_type_set_dynamical:
 * @type: a #DiscoNode subtype
 * @dynamical: whether the type holds continuous state driven by an integrator
 *
 * Marks a node type as dynamical. Links between two dynamical nodes are
 * state couplings: they may form loops, and they do not order ticks.
 */
void
disco_node_type_set_dynamical (GType type, gboolean dynamical)
{
  DiscoNodeTypeInfo *info;

  g_return_if_fail (g_type_is_a (type, DISCO_TYPE_NODE));
  info = type_info_ensure (type);
  info->dynamical = dynamical;
  info->dynamical_set = TRUE;
}

/**
 * disco_node_class_set_dynamical: (skip)
 * @klass: a node class, in its class_init
 * @dynamical: whether the type holds continuous state
 *
 * Same as disco_node_type_set_dynamical() for use in class_init.
 */
void
disco_node_class_set_dynamical (DiscoNodeClass *klass, gboolean dynamical)
{
  disco_node_type_set_dynamical (G_TYPE_FROM_CLASS (klass), dynamical);
}

/**
 * disco_node_type_set_runs_on_cuda:
 * @type: a #DiscoNode subtype
 * @runs_on_cuda: whether nodes of @type can run in a pipeline whose device
 *   is CUDA
 *
 * Declares that a node type works on the device: it computes with the
 * CUDA kernels on device tensors, or it only reads host copies of its
 * inputs (a report, an image). A pipeline runs on CUDA only when every one
 * of its nodes does; `device = auto` otherwise stays on the CPU.
 */
void
disco_node_type_set_runs_on_cuda (GType type, gboolean runs_on_cuda)
{
  DiscoNodeTypeInfo *info;

  g_return_if_fail (g_type_is_a (type, DISCO_TYPE_NODE));
  info = type_info_ensure (type);
  info->runs_on_cuda = runs_on_cuda;
  info->runs_on_cuda_set = TRUE;
}

/**
 * disco_node_class_set_runs_on_cuda: (skip)
 * @klass: a node class, in its class_init
 * @runs_on_cuda: whether nodes of this class can run on CUDA
 *
 * Same as disco_node_type_set_runs_on_cuda() for use in class_init.
 */
void
disco_node_class_set_runs_on_cuda (DiscoNodeClass *klass, gboolean runs_on_cuda)
{
  disco_node_type_set_runs_on_cuda (G_TYPE_FROM_CLASS (klass), runs_on_cuda);
}

/**
 * disco_node_type_runs_on_cuda:
 * @type: a #DiscoNode subtype
 *
 * Tells whether nodes of @type can run in a pipeline on %DISCO_DEVICE_CUDA
 * (disco_node_type_set_runs_on_cuda()).
 *
 * Returns: whether nodes of @type can run on CUDA (inherited; %FALSE unless
 *   declared)
 */
gboolean
disco_node_type_runs_on_cuda (GType type)
{
  g_return_val_if_fail (g_type_is_a (type, DISCO_TYPE_NODE), FALSE);
  for (; type != DISCO_TYPE_NODE; type = g_type_parent (type))
    {
      DiscoNodeTypeInfo *info = type_info_lookup (type);
      if (info != NULL && info->runs_on_cuda_set)
        return info->runs_on_cuda;
    }
  return FALSE;
}

/**
 * disco_node_get_device:
 * @self: a node in a validated pipeline
 *
 * Gets the device @self computes on, once its pipeline is validated.
 *
 * Returns: the device this node computes on: %DISCO_DEVICE_CPU when its
 *   #DiscoNode:device says so or its pipeline runs on the CPU, else the
 *   pipeline's active device
 */
DiscoDevice
disco_node_get_device (DiscoNode *self)
{
  DiscoNodePrivate *priv;

  g_return_val_if_fail (DISCO_IS_NODE (self), DISCO_DEVICE_CPU);
  priv = disco_node_get_instance_private (self);
  if (priv->device == DISCO_DEVICE_CPU || priv->pipeline == NULL)
    return DISCO_DEVICE_CPU;
  return disco_pipeline_get_active_device (priv->pipeline);
}

/**
 * disco_node_runs_on_cuda:
 * @self: a node
 *
 * Tells whether @self, with its current properties, can run in a pipeline on
 * %DISCO_DEVICE_CUDA.
 *
 * Returns: whether @self, as configured, can run in a pipeline on CUDA: its
 *   class's #DiscoNodeClass.runs_on_cuda hook, else its type's flag
 */
gboolean
disco_node_runs_on_cuda (DiscoNode *self)
{
  DiscoNodeClass *klass;

  g_return_val_if_fail (DISCO_IS_NODE (self), FALSE);
  klass = DISCO_NODE_GET_CLASS (self);
  if (klass->runs_on_cuda != NULL)
    return klass->runs_on_cuda (self);
  return disco_node_type_runs_on_cuda (G_OBJECT_TYPE (self));
}

/**
 * disco_node_type_get_port_names:
 * @type: a #DiscoNode subtype
 * @direction: which ports
 *
 * Lists the input or output ports of a node type.
 *
 * Returns: (transfer full) (array zero-terminated=1): the names of the
 *   type's ports of @direction, in declaration order
 */
char **
disco_node_type_get_port_names (GType type, DiscoPortDirection direction)
{
  g_autoptr (GPtrArray) ports = g_ptr_array_new ();
  GStrvBuilder *builder = g_strv_builder_new ();
  char **names;

  g_return_val_if_fail (g_type_is_a (type, DISCO_TYPE_NODE), NULL);
  collect_ports (type, ports);
  for (guint i = 0; i < ports->len; i++)
    {
      const DiscoPortInfo *port = g_ptr_array_index (ports, i);
      if (port->direction == direction)
        g_strv_builder_add (builder, port->name);
    }
  names = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return names;
}

/**
 * disco_node_type_get_port_info:
 * @type: a #DiscoNode subtype
 * @name: a port name
 * @direction: (out) (optional): the port's direction
 * @flags: (out) (optional): the port's flags
 * @blurb: (out) (optional) (transfer none): the port's description
 *
 * Looks up a port of a node type, declared with disco_node_class_add_port()
 * or disco_node_type_add_port().
 *
 * Returns: %TRUE when @type has a port called @name
 */
gboolean
disco_node_type_get_port_info (GType type, const char *name, DiscoPortDirection *direction,
                               DiscoPortFlags *flags, const char **blurb)
{
  const DiscoPortInfo *port;

  g_return_val_if_fail (g_type_is_a (type, DISCO_TYPE_NODE), FALSE);
  g_return_val_if_fail (name != NULL, FALSE);
  port = port_lookup (type, name);
  if (port == NULL)
    return FALSE;
  if (direction != NULL)
    *direction = port->direction;
  if (flags != NULL)
    *flags = port->flags;
  if (blurb != NULL)
    *blurb = port->blurb;
  return TRUE;
}

/**
 * disco_node_type_get_default_output:
 * @type: a #DiscoNode subtype
 *
 * Gets the default output of a node type: the port a link names when it
 * names only the node (`input = h1`).
 *
 * Returns: (nullable): the first output port declared, or %NULL for a sink
 */
const char *
disco_node_type_get_default_output (GType type)
{
  g_autoptr (GPtrArray) ports = g_ptr_array_new ();

  g_return_val_if_fail (g_type_is_a (type, DISCO_TYPE_NODE), NULL);
  collect_ports (type, ports);
  for (guint i = 0; i < ports->len; i++)
    {
      const DiscoPortInfo *port = g_ptr_array_index (ports, i);
      if (port->direction == DISCO_PORT_OUTPUT)
        return port->name;
    }
  return NULL;
}

/**
 * disco_node_type_is_dynamical:
 * @type: a #DiscoNode subtype
 *
 * Tells whether nodes of @type are dynamical
 * (disco_node_type_set_dynamical()).
 *
 * Returns: whether nodes of @type hold continuous state (inherited)
 */
gboolean
disco_node_type_is_dynamical (GType type)
{
  g_return_val_if_fail (g_type_is_a (type, DISCO_TYPE_NODE), FALSE);
  for (; type != DISCO_TYPE_NODE; type = g_type_parent (type))
    {
      DiscoNodeTypeInfo *info = type_info_lookup (type);
      if (info != NULL && info->dynamical_set)
        return info->dynamical;
    }
  return FALSE;
}

#define DEFINE_METADATA_GETTER(field)                                                              \
  const char *disco_node_type_get_##field (GType type)                                             \
  {                                                                                                \
    g_return_val_if_fail (g_type_is_a (type, DISCO_TYPE_NODE), NULL);                              \
    for (; type != DISCO_TYPE_NODE; type = g_type_parent (type))                                   \
      {                                                                                            \
        DiscoNodeTypeInfo *info = type_info_lookup (type);                                         \
        if (info != NULL && info->field != NULL)                                                   \
          return info->field;                                                                      \
      }                                                                                            \
    return "";                                                                                     \
  }

/**
 * disco_node_type_get_long_name:
 * @type: a #DiscoNode subtype
 *
 * Gets the human-readable name of a node type, as
 * disco_node_class_set_metadata() set it.
 *
 * Returns: the human-readable name, "" when unset
 */
DEFINE_METADATA_GETTER (long_name)

/**
 * disco_node_type_get_category:
 * @type: a #DiscoNode subtype
 *
 * Gets the category of a node type ("Filter/Math", "Learning/Optimizer",
 * ...), as disco_node_class_set_metadata() set it.
 *
 * Returns: the classification, "" when unset
 */
DEFINE_METADATA_GETTER (category)

/**
 * disco_node_type_get_description:
 * @type: a #DiscoNode subtype
 *
 * Gets the one-line description of a node type, as
 * disco_node_class_set_metadata() set it.
 *
 * Returns: the description, "" when unset
 */
DEFINE_METADATA_GETTER (description)

/* ----- instances --------------------------------------------------------- */

static void
link_free (gpointer data)
{
  DiscoLink *link = data;

  g_free (link->producer_port);
  g_free (link->where);
  g_free (link);
}

static void
disco_node_finalize (GObject *object)
{
  DiscoNodePrivate *priv = disco_node_get_instance_private (DISCO_NODE (object));

  g_free (priv->name);
  g_hash_table_unref (priv->links);
  g_hash_table_unref (priv->outputs);
  g_hash_table_unref (priv->declared);
  g_ptr_array_unref (priv->parameter_names);
  g_hash_table_unref (priv->parameters);
  g_ptr_array_unref (priv->gradient_names);
  g_hash_table_unref (priv->gradients);

  G_OBJECT_CLASS (disco_node_parent_class)->finalize (object);
}

static void
disco_node_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DiscoNodePrivate *priv = disco_node_get_instance_private (DISCO_NODE (object));

  switch (prop_id)
    {
    case PROP_NAME: g_value_set_string (value, priv->name); break;
    case PROP_DEVICE: g_value_set_enum (value, priv->device); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
disco_node_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  DiscoNodePrivate *priv = disco_node_get_instance_private (DISCO_NODE (object));

  switch (prop_id)
    {
    case PROP_NAME:
      g_free (priv->name);
      priv->name = g_value_dup_string (value);
      break;
    case PROP_DEVICE: priv->device = g_value_get_enum (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static DiscoFlowReturn
disco_node_real_process (DiscoNode *self, DiscoTick *tick, GError **error)
{
  /* Dynamical nodes are advanced by an integrator, not per tick. */
  if (disco_node_is_dynamical (self))
    return DISCO_FLOW_OK;

  g_set_error (error, DISCO_ERROR, DISCO_ERROR_FAILED,
               "node \"%s\" (%s) does not implement process", disco_node_get_name (self),
               G_OBJECT_TYPE_NAME (self));
  return DISCO_FLOW_ERROR;
}

static void
disco_node_class_init (DiscoNodeClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->finalize = disco_node_finalize;
  object_class->get_property = disco_node_get_property;
  object_class->set_property = disco_node_set_property;
  klass->process = disco_node_real_process;

  /**
   * DiscoNode:name:
   *
   * The node's name in its pipeline (the group name in a pipeline file).
   */
  properties[PROP_NAME] = g_param_spec_string (
      "name", "Name", "Name of the node in its pipeline (the group name in the file)", NULL,
      G_PARAM_READWRITE | G_PARAM_CONSTRUCT_ONLY | G_PARAM_STATIC_STRINGS);
  /**
   * DiscoNode:device:
   *
   * Where this node computes. %DISCO_DEVICE_AUTO follows the pipeline's
   * device; %DISCO_DEVICE_CPU keeps it on the host in a pipeline on CUDA
   * (its inputs reach it as host copies), and lets a pipeline run on CUDA
   * around a node that has no CUDA implementation; %DISCO_DEVICE_CUDA
   * makes validation fail unless the node does run on the GPU.
   */
  properties[PROP_DEVICE] = g_param_spec_enum (
      "device", "Device",
      "Where this node computes: auto (the pipeline's device), cpu (on "
      "the host, whatever the pipeline's device) or cuda (fail unless it "
      "runs on the GPU)",
      DISCO_TYPE_DEVICE, DISCO_DEVICE_AUTO, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPERTIES, properties);
}

static void
disco_node_init (DiscoNode *self)
{
  DiscoNodePrivate *priv = disco_node_get_instance_private (self);

  priv->links = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, link_free);
  priv->device = DISCO_DEVICE_AUTO;
  priv->outputs = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  priv->declared = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  priv->parameter_names = g_ptr_array_new_with_free_func (g_free);
  priv->parameters = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  priv->gradient_names = g_ptr_array_new_with_free_func (g_free);
  priv->gradients = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
}

/**
 * disco_node_get_name:
 * @self: a node
 *
 * Gets the name of @self: its group in the pipeline file, or the name given
 * to disco_pipeline_make_node().
 *
 * Returns: (nullable): the node's name
 */
const char *
disco_node_get_name (DiscoNode *self)
{
  DiscoNodePrivate *priv;

  g_return_val_if_fail (DISCO_IS_NODE (self), NULL);
  priv = disco_node_get_instance_private (self);
  return priv->name;
}

/**
 * disco_node_get_pipeline:
 * @self: a node
 *
 * Gets the pipeline @self was added to.
 *
 * Returns: (transfer none) (nullable): the pipeline holding the node
 */
DiscoPipeline *
disco_node_get_pipeline (DiscoNode *self)
{
  DiscoNodePrivate *priv;

  g_return_val_if_fail (DISCO_IS_NODE (self), NULL);
  priv = disco_node_get_instance_private (self);
  return priv->pipeline;
}

void
_disco_node_set_pipeline (DiscoNode *self, DiscoPipeline *pipeline)
{
  DiscoNodePrivate *priv = disco_node_get_instance_private (self);

  priv->pipeline = pipeline;
}

/**
 * disco_node_is_dynamical:
 * @self: a node
 *
 * Tells whether @self is a dynamical node
 * (disco_node_class_set_dynamical()): one whose links to other dynamical
 * nodes are state couplings, left out of the tick order.
 *
 * Returns: whether the node holds continuous state driven by an integrator
 */
gboolean
disco_node_is_dynamical (DiscoNode *self)
{
  g_return_val_if_fail (DISCO_IS_NODE (self), FALSE);
  return disco_node_type_is_dynamical (G_OBJECT_TYPE (self));
}

/**
 * disco_node_get_seed:
 * @self: a node in a pipeline
 *
 * A seed for the node's random numbers, derived from the pipeline's seed and
 * the node's name, so that two nodes never share a stream and adding a node
 * does not change the others' numbers.
 *
 * Returns: the seed
 */
guint64
disco_node_get_seed (DiscoNode *self)
{
  DiscoNodePrivate *priv;

  g_return_val_if_fail (DISCO_IS_NODE (self), 0);
  priv = disco_node_get_instance_private (self);
  return disco_node_get_seed_for_name (self, priv->name);
}

/**
 * disco_node_get_seed_for_name:
 * @self: a node in a pipeline
 * @name: (nullable): a node name
 *
 * The seed disco_node_get_seed() gives a node called @name in the same
 * pipeline: for nodes that offer to start from the same random numbers as
 * another node (two students initialised alike, say).
 *
 * Returns: the seed
 */
guint64
disco_node_get_seed_for_name (DiscoNode *self, const char *name)
{
  DiscoNodePrivate *priv;
  guint64 z;

  g_return_val_if_fail (DISCO_IS_NODE (self), 0);
  priv = disco_node_get_instance_private (self);

  z = priv->pipeline != NULL ? _disco_pipeline_get_seed (priv->pipeline) : 0;
  /* FNV-1a of the name, then a splitmix64 finaliser to spread the bits. */
  for (const char *c = name != NULL ? name : ""; *c; c++)
    z = (z ^ (guint8) *c) * G_GUINT64_CONSTANT (0x100000001b3);
  z += G_GUINT64_CONSTANT (0x9e3779b97f4a7c15);
  z = (z ^ (z >> 30)) * G_GUINT64_CONSTANT (0xbf58476d1ce4e5b9);
  z = (z ^ (z >> 27)) * G_GUINT64_CONSTANT (0x94d049bb133111eb);
  return z ^ (z >> 31);
}

gboolean
_disco_node_link_input (DiscoNode *self, const char *port, DiscoNode *producer,
                        const char *producer_port, const char *where, GError **error)
{
  DiscoNodePrivate *priv = disco_node_get_instance_private (self);
  const DiscoLink *existing = g_hash_table_lookup (priv->links, port);
  DiscoLink *link;

  if (existing != NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                   "%s: input \"%s.%s\" already has a producer, \"%s.%s\" (linked at %s); "
                   "an input takes one producer",
                   where, priv->name, port, disco_node_get_name (existing->producer),
                   existing->producer_port, existing->where);
      return FALSE;
    }
  link = g_new0 (DiscoLink, 1);
  link->producer = producer;
  link->producer_port = g_strdup (producer_port);
  link->where = g_strdup (where);
  g_hash_table_insert (priv->links, g_strdup (port), link);
  return TRUE;
}

const DiscoLink *
_disco_node_get_link (DiscoNode *self, const char *port)
{
  DiscoNodePrivate *priv = disco_node_get_instance_private (self);

  return g_hash_table_lookup (priv->links, port);
}

GList *
_disco_node_get_linked_ports (DiscoNode *self)
{
  DiscoNodePrivate *priv = disco_node_get_instance_private (self);

  return g_list_sort (g_hash_table_get_keys (priv->links), (GCompareFunc) strcmp);
}

void
_disco_node_reset_run_state (DiscoNode *self)
{
  DiscoNodePrivate *priv = disco_node_get_instance_private (self);

  g_hash_table_remove_all (priv->outputs);
  g_hash_table_remove_all (priv->declared);
}

/* Output port -> DiscoDeclaredShape, from the node's prepare hook. */
GHashTable *
_disco_node_get_declared_outputs (DiscoNode *self)
{
  DiscoNodePrivate *priv = disco_node_get_instance_private (self);

  return priv->declared;
}

GHashTable *
_disco_node_get_outputs (DiscoNode *self)
{
  DiscoNodePrivate *priv = disco_node_get_instance_private (self);

  return priv->outputs;
}

GPtrArray *
_disco_node_get_parameter_names (DiscoNode *self)
{
  DiscoNodePrivate *priv = disco_node_get_instance_private (self);

  return priv->parameter_names;
}

GPtrArray *
_disco_node_get_gradient_names (DiscoNode *self)
{
  DiscoNodePrivate *priv = disco_node_get_instance_private (self);

  return priv->gradient_names;
}

/**
 * disco_node_is_linked:
 * @self: a node
 * @port: an input port name
 *
 * Tells whether a producer is linked to the input @port of @self; an
 * optional port (%DISCO_PORT_FLAG_OPTIONAL) may stay unlinked.
 *
 * Returns: whether a producer is linked to @port
 */
gboolean
disco_node_is_linked (DiscoNode *self, const char *port)
{
  g_return_val_if_fail (DISCO_IS_NODE (self), FALSE);
  return _disco_node_get_link (self, port) != NULL;
}

/**
 * disco_node_get_input_node:
 * @self: a node
 * @port: an input port name
 * @producer_port: (out) (optional) (transfer none): the producer's port
 *
 * Finds the node, and its output port, linked to the input @port of @self.
 *
 * Returns: (transfer none) (nullable): the node linked to @port
 */
DiscoNode *
disco_node_get_input_node (DiscoNode *self, const char *port, const char **producer_port)
{
  const DiscoLink *link;

  g_return_val_if_fail (DISCO_IS_NODE (self), NULL);
  link = _disco_node_get_link (self, port);
  if (producer_port != NULL)
    *producer_port = link != NULL ? link->producer_port : NULL;
  return link != NULL ? link->producer : NULL;
}

/**
 * disco_node_get_input:
 * @self: a node
 * @port: an input port name
 *
 * The tensor the producer linked to @port has put on its output, shared
 * with every other consumer of that output: read it, do not modify it.
 *
 * Returns: (transfer none) (nullable): the tensor, or %NULL when the port is
 *   unlinked or the producer has not written yet
 */
DiscoTensor *
disco_node_get_input (DiscoNode *self, const char *port)
{
  const DiscoLink *link;

  g_return_val_if_fail (DISCO_IS_NODE (self), NULL);
  g_return_val_if_fail (port != NULL, NULL);
  link = _disco_node_get_link (self, port);
  if (link == NULL)
    return NULL;
  return disco_node_get_output (link->producer, link->producer_port);
}

/**
 * disco_node_get_output:
 * @self: a node
 * @port: an output port name
 *
 * Gets the tensor @self last wrote to its output @port, with
 * disco_node_set_output() or disco_node_ensure_output().
 *
 * Returns: (transfer none) (nullable): the tensor last written to @port
 */
DiscoTensor *
disco_node_get_output (DiscoNode *self, const char *port)
{
  DiscoNodePrivate *priv;

  g_return_val_if_fail (DISCO_IS_NODE (self), NULL);
  priv = disco_node_get_instance_private (self);
  return g_hash_table_lookup (priv->outputs, port);
}

/**
 * disco_node_set_output:
 * @self: a node
 * @port: one of the node's output ports
 * @tensor: (nullable): the tensor to broadcast to every consumer of @port
 *
 * Puts @tensor on an output port; the node keeps a reference.
 */
void
disco_node_set_output (DiscoNode *self, const char *port, DiscoTensor *tensor)
{
  DiscoNodePrivate *priv;
  DiscoPortDirection direction;

  g_return_if_fail (DISCO_IS_NODE (self));
  g_return_if_fail (tensor == NULL || DISCO_IS_TENSOR (tensor));
  if (!disco_node_type_get_port_info (G_OBJECT_TYPE (self), port, &direction, NULL, NULL)
      || direction != DISCO_PORT_OUTPUT)
    {
      g_critical ("node type %s has no output port \"%s\"", G_OBJECT_TYPE_NAME (self), port);
      return;
    }
  priv = disco_node_get_instance_private (self);
  if (tensor == NULL)
    g_hash_table_remove (priv->outputs, port);
  else
    g_hash_table_insert (priv->outputs, g_strdup (port), g_object_ref (tensor));
  /* The run checks what was written, after the node that wrote it. */
  if (tensor != NULL && priv->pipeline != NULL)
    _disco_pipeline_note_output (priv->pipeline, self, port, tensor);
}

/**
 * disco_node_ensure_output:
 * @self: a node
 * @port: one of the node's output ports
 * @n_dims: number of dimensions
 * @shape: (array length=n_dims): the shape wanted
 *
 * Gives a host tensor of the given shape on @port to write this tick's
 * output into. The previous tick's tensor is reused when nobody else holds
 * it and its shape fits; otherwise a new zero-filled one is made, so a
 * consumer that kept last tick's tensor never sees it change.
 *
 * Returns: (transfer none): the tensor on @port
 */
DiscoTensor *
disco_node_ensure_output (DiscoNode *self, const char *port, guint n_dims, const gsize *shape)
{
  DiscoTensor *tensor;

  g_return_val_if_fail (DISCO_IS_NODE (self), NULL);
  tensor = disco_node_get_output (self, port);
  if (tensor != NULL && G_OBJECT (tensor)->ref_count == 1
      && disco_tensor_has_shape (tensor, n_dims, shape)
      && disco_tensor_get_device (tensor) == DISCO_DEVICE_CPU)
    {
      DiscoNodePrivate *priv = disco_node_get_instance_private (self);

      if (priv->pipeline != NULL)
        _disco_pipeline_note_output (priv->pipeline, self, port, tensor);
      return tensor;
    }

  tensor = disco_tensor_new (n_dims, shape);
  g_return_val_if_fail (tensor != NULL, NULL);
  disco_node_set_output (self, port, tensor);
  g_object_unref (tensor);
  return tensor;
}

/**
 * disco_node_declare_output:
 * @self: a node, in its prepare hook
 * @port: one of the node's output ports
 * @n_dims: number of dimensions
 * @shape: (array length=n_dims): the shape; a first dimension of 0 means
 *   "any batch size"
 *
 * Tells consumers, before the first tick, what @port will carry, so they
 * can check shapes in their own prepare hook.
 */
void
disco_node_declare_output (DiscoNode *self, const char *port, guint n_dims, const gsize *shape)
{
  DiscoNodePrivate *priv;
  DiscoDeclaredShape *declared;

  g_return_if_fail (DISCO_IS_NODE (self));
  g_return_if_fail (n_dims >= 1 && n_dims <= DISCO_TENSOR_MAX_DIMS);
  priv = disco_node_get_instance_private (self);
  declared = g_new0 (DiscoDeclaredShape, 1);
  declared->n_dims = n_dims;
  memcpy (declared->shape, shape, n_dims * sizeof (gsize));
  g_hash_table_insert (priv->declared, g_strdup (port), declared);
}

/**
 * disco_node_get_input_declared_shape:
 * @self: a node
 * @port: an input port name
 * @n_dims: (out): number of dimensions, 0 when nothing was declared
 *
 * The shape the producer of @port declared in its prepare hook.
 *
 * Returns: (array length=n_dims) (transfer none) (nullable): the shape, a
 *   first dimension of 0 meaning "any batch size", or %NULL
 */
const gsize *
disco_node_get_input_declared_shape (DiscoNode *self, const char *port, guint *n_dims)
{
  const DiscoLink *link;
  DiscoNodePrivate *producer_priv;
  const DiscoDeclaredShape *declared;

  g_return_val_if_fail (DISCO_IS_NODE (self), NULL);
  *n_dims = 0;
  link = _disco_node_get_link (self, port);
  if (link == NULL)
    return NULL;
  producer_priv = disco_node_get_instance_private (link->producer);
  declared = g_hash_table_lookup (producer_priv->declared, link->producer_port);
  if (declared == NULL)
    return NULL;
  *n_dims = declared->n_dims;
  return declared->shape;
}

/**
 * disco_node_add_parameter:
 * @self: a node, usually in its prepare hook
 * @name: the parameter's name, e.g. "weight" (addressed as "h1.weight"); no '/'
 * @tensor: the tensor holding it; the node keeps a reference
 *
 * Exposes a persistent tensor of the node — a trainable weight, or state an
 * optimizer carries between ticks — so that plasticity rules and optimizers
 * can find it and disco_pipeline_save_parameters() saves it in checkpoints.
 * Adding a name again replaces the tensor.
 */
void
disco_node_add_parameter (DiscoNode *self, const char *name, DiscoTensor *tensor)
{
  DiscoNodePrivate *priv;

  g_return_if_fail (DISCO_IS_NODE (self));
  g_return_if_fail (name != NULL && *name != '\0' && strchr (name, '/') == NULL);
  g_return_if_fail (DISCO_IS_TENSOR (tensor));
  priv = disco_node_get_instance_private (self);
  if (!g_hash_table_contains (priv->parameters, name))
    g_ptr_array_add (priv->parameter_names, g_strdup (name));
  g_hash_table_insert (priv->parameters, g_strdup (name), g_object_ref (tensor));
}

/**
 * disco_node_get_parameter:
 * @self: a node
 * @name: a parameter name
 *
 * Looks up a parameter of @self added with disco_node_add_parameter().
 *
 * Returns: (transfer none) (nullable): the parameter's tensor
 */
DiscoTensor *
disco_node_get_parameter (DiscoNode *self, const char *name)
{
  DiscoNodePrivate *priv;

  g_return_val_if_fail (DISCO_IS_NODE (self), NULL);
  g_return_val_if_fail (name != NULL, NULL);
  priv = disco_node_get_instance_private (self);
  return g_hash_table_lookup (priv->parameters, name);
}

/**
 * disco_node_list_parameters:
 * @self: a node
 *
 * Lists the parameters of @self (disco_node_add_parameter()): the tensors a
 * checkpoint saves and disco_pipeline_load_parameters() restores.
 *
 * Returns: (transfer full) (array zero-terminated=1): the parameter names,
 *   in the order they were added
 */
char **
disco_node_list_parameters (DiscoNode *self)
{
  DiscoNodePrivate *priv;
  char **names;

  g_return_val_if_fail (DISCO_IS_NODE (self), NULL);
  priv = disco_node_get_instance_private (self);
  names = g_new0 (char *, priv->parameter_names->len + 1);
  for (guint i = 0; i < priv->parameter_names->len; i++)
    names[i] = g_strdup (g_ptr_array_index (priv->parameter_names, i));
  return names;
}

/**
 * disco_node_set_gradient:
 * @self: a node computing parameter updates (a plasticity rule)
 * @target: the parameter it is for, "node.parameter" (e.g. "h1.weight")
 * @gradient: the direction an optimizer descends, shaped as the parameter
 *
 * Publishes an update for another node's parameter. Optimizers linked to
 * @self read every gradient with disco_node_list_gradients() and apply it to
 * the parameter it names. Setting a target again replaces its gradient.
 */
void
disco_node_set_gradient (DiscoNode *self, const char *target, DiscoTensor *gradient)
{
  DiscoNodePrivate *priv;

  g_return_if_fail (DISCO_IS_NODE (self));
  g_return_if_fail (target != NULL && strchr (target, '.') != NULL);
  g_return_if_fail (DISCO_IS_TENSOR (gradient));
  priv = disco_node_get_instance_private (self);
  if (!g_hash_table_contains (priv->gradients, target))
    g_ptr_array_add (priv->gradient_names, g_strdup (target));
  g_hash_table_insert (priv->gradients, g_strdup (target), g_object_ref (gradient));
}

/**
 * disco_node_get_gradient:
 * @self: a node
 * @target: "node.parameter"
 *
 * Looks up a gradient @self published with disco_node_set_gradient().
 *
 * Returns: (transfer none) (nullable): the gradient @self published for @target
 */
DiscoTensor *
disco_node_get_gradient (DiscoNode *self, const char *target)
{
  DiscoNodePrivate *priv;

  g_return_val_if_fail (DISCO_IS_NODE (self), NULL);
  g_return_val_if_fail (target != NULL, NULL);
  priv = disco_node_get_instance_private (self);
  return g_hash_table_lookup (priv->gradients, target);
}

/**
 * disco_node_list_gradients:
 * @self: a node
 *
 * Lists the gradients @self publishes for an optimizer
 * (disco_node_set_gradient()).
 *
 * Returns: (transfer full) (array zero-terminated=1): the "node.parameter"
 *   targets of the gradients @self publishes, in the order first set
 */
char **
disco_node_list_gradients (DiscoNode *self)
{
  DiscoNodePrivate *priv;
  char **names;

  g_return_val_if_fail (DISCO_IS_NODE (self), NULL);
  priv = disco_node_get_instance_private (self);
  names = g_new0 (char *, priv->gradient_names->len + 1);
  for (guint i = 0; i < priv->gradient_names->len; i++)
    names[i] = g_strdup (g_ptr_array_index (priv->gradient_names, i));
  return names;
}

/**
 * disco_node_check_output_path:
 * @self: a node in a pipeline, in its prepare hook
 * @property: the name of the property holding @path, for the message
 * @path: (nullable): a file the node will write
 * @error: return location for a #GError
 *
 * A relative output path lands in the run's output folder
 * (disco_pipeline_build_output_path()); this checks, before any tick, that
 * there is one.
 *
 * Returns: %TRUE when @path is %NULL, absolute, or the pipeline has an
 *   output folder; %FALSE with @error set (%DISCO_ERROR_BAD_VALUE) otherwise
 */
gboolean
disco_node_check_output_path (DiscoNode *self, const char *property, const char *path,
                              GError **error)
{
  DiscoPipeline *pipeline;

  g_return_val_if_fail (DISCO_IS_NODE (self), FALSE);
  g_return_val_if_fail (property != NULL, FALSE);
  pipeline = disco_node_get_pipeline (self);
  if (path == NULL || g_path_is_absolute (path)
      || (pipeline != NULL && disco_pipeline_get_output_dir (pipeline) != NULL))
    return TRUE;
  g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
               "property \"%s\" of node \"%s\" is the relative path \"%s\", but the pipeline "
               "has no output folder (set pipeline.output-dir, or use disco-run -o DIR)",
               property, disco_node_get_name (self), path);
  return FALSE;
}
