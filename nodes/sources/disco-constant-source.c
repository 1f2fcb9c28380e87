/* disco-constant-source.c */

/**
 * SECTION:node-constant-source
 * @title: constant-source
 * @short_description: emits a fixed number of ticks of a filled tensor
 *
 * A source for trying pipelines out and for testing the engine: every tick
 * it emits a tensor of #DiscoConstantSource:shape filled with
 * `value + index × step`, where index counts ticks from 0, and groups ticks
 * into epochs of #DiscoConstantSource:ticks-per-epoch.
 *
 * Ports: output `output`.
 *
 * ## Example pipeline
 * |[
 * [numbers]
 * node = constant-source
 * shape = 2,3
 * value = 1
 * step = 0.5
 * ticks = 10
 * ticks-per-epoch = 5
 * ]|
 */

#include "disco-constant-source.h"
#include "disco-nodes.h"

#include <string.h>

#define DEFAULT_SHAPE "1"
#define DEFAULT_VALUE 0.0
#define DEFAULT_STEP 0.0
#define DEFAULT_TICKS 1
#define DEFAULT_TICKS_PER_EPOCH 0
#define DEFAULT_PHASE DISCO_PHASE_NONE

struct _DiscoConstantSource
{
  DiscoNode parent_instance;

  char *shape_text;
  double value;
  double step;
  guint ticks;
  guint ticks_per_epoch;
  DiscoPhase phase;

  guint n_dims;
  gsize shape[DISCO_TENSOR_MAX_DIMS];
  guint emitted;
};

G_DEFINE_FINAL_TYPE (DiscoConstantSource, disco_constant_source, DISCO_TYPE_NODE)
DISCO_NODE_REGISTER_DEFINE (constant_source, "constant-source", DISCO_TYPE_CONSTANT_SOURCE)

enum
{
  PROP_0,
  PROP_SHAPE,
  PROP_VALUE,
  PROP_STEP,
  PROP_TICKS,
  PROP_TICKS_PER_EPOCH,
  PROP_PHASE,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];

static void
disco_constant_source_finalize (GObject *object)
{
  DiscoConstantSource *self = DISCO_CONSTANT_SOURCE (object);

  g_free (self->shape_text);
  G_OBJECT_CLASS (disco_constant_source_parent_class)->finalize (object);
}

static void
disco_constant_source_get_property (GObject *object, guint prop_id, GValue *value,
                                    GParamSpec *pspec)
{
  DiscoConstantSource *self = DISCO_CONSTANT_SOURCE (object);

  switch (prop_id)
    {
    case PROP_SHAPE: g_value_set_string (value, self->shape_text); break;
    case PROP_VALUE: g_value_set_double (value, self->value); break;
    case PROP_STEP: g_value_set_double (value, self->step); break;
    case PROP_TICKS: g_value_set_uint (value, self->ticks); break;
    case PROP_TICKS_PER_EPOCH: g_value_set_uint (value, self->ticks_per_epoch); break;
    case PROP_PHASE: g_value_set_enum (value, self->phase); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
disco_constant_source_set_property (GObject *object, guint prop_id, const GValue *value,
                                    GParamSpec *pspec)
{
  DiscoConstantSource *self = DISCO_CONSTANT_SOURCE (object);

  switch (prop_id)
    {
    case PROP_SHAPE:
      g_free (self->shape_text);
      self->shape_text = g_value_dup_string (value);
      break;
    case PROP_VALUE: self->value = g_value_get_double (value); break;
    case PROP_STEP: self->step = g_value_get_double (value); break;
    case PROP_TICKS: self->ticks = g_value_get_uint (value); break;
    case PROP_TICKS_PER_EPOCH: self->ticks_per_epoch = g_value_get_uint (value); break;
    case PROP_PHASE: self->phase = g_value_get_enum (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
disco_constant_source_prepare (DiscoNode *node, GError **error)
{
  DiscoConstantSource *self = DISCO_CONSTANT_SOURCE (node);
  g_auto (GStrv) parts = g_strsplit (self->shape_text != NULL ? self->shape_text : "", ",", -1);
  guint n = g_strv_length (parts);
  guint64 n_elements = 1;

  if (n < 1 || n > DISCO_TENSOR_MAX_DIMS)
    goto bad_shape;
  for (guint i = 0; i < n; i++)
    {
      guint64 dim;
      if (!g_ascii_string_to_unsigned (g_strstrip (parts[i]), 10, 1, G_MAXUINT32, &dim, NULL))
        goto bad_shape;
      self->shape[i] = dim;
      /* A tensor's bytes must be a number (the memory limit is checked later). */
      if (n_elements > G_MAXSIZE / sizeof (float) / dim)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                       "property \"shape\" of node \"%s\": \"%s\" has more values than any "
                       "memory holds",
                       disco_node_get_name (node), self->shape_text);
          return FALSE;
        }
      n_elements *= dim;
    }
  self->n_dims = n;
  self->emitted = 0;
  disco_node_declare_output (node, "output", self->n_dims, self->shape);
  return TRUE;

bad_shape:
  g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
               "property \"shape\" of node \"%s\": \"%s\" is not a list of 1 to %d "
               "positive sizes such as \"100,784\"",
               disco_node_get_name (node), self->shape_text ? self->shape_text : "",
               DISCO_TENSOR_MAX_DIMS);
  return FALSE;
}

static DiscoFlowReturn
disco_constant_source_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  DiscoConstantSource *self = DISCO_CONSTANT_SOURCE (node);
  DiscoTensor *out;

  if (self->emitted >= self->ticks)
    return DISCO_FLOW_EOS;

  out = disco_node_ensure_output (node, "output", self->n_dims, self->shape);
  if (!disco_tensor_fill (out, self->value + self->emitted * self->step, error))
    return DISCO_FLOW_ERROR;

  tick->phase = self->phase;
  tick->n_ticks = self->ticks;
  tick->batch_size = self->shape[0];
  if (self->ticks_per_epoch > 0)
    {
      tick->epoch = self->emitted / self->ticks_per_epoch + 1;
      tick->batch = self->emitted % self->ticks_per_epoch;
      tick->n_epochs = (self->ticks + self->ticks_per_epoch - 1) / self->ticks_per_epoch;
      if (tick->batch + 1 == self->ticks_per_epoch || self->emitted + 1 == self->ticks)
        tick->flags |= DISCO_TICK_FLAG_EPOCH_END | DISCO_TICK_FLAG_PHASE_END;
    }
  else
    tick->batch = self->emitted;
  self->emitted++;
  return DISCO_FLOW_OK;
}

static void
disco_constant_source_class_init (DiscoConstantSourceClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);

  object_class->finalize = disco_constant_source_finalize;
  object_class->get_property = disco_constant_source_get_property;
  object_class->set_property = disco_constant_source_set_property;
  node_class->prepare = disco_constant_source_prepare;
  node_class->process = disco_constant_source_process;

  properties[PROP_SHAPE] =
      g_param_spec_string ("shape", "Shape",
                           "Shape of the emitted tensor, comma-separated, batch first "
                           "(e.g. \"100,784\")",
                           DEFAULT_SHAPE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_VALUE] = g_param_spec_double (
      "value", "Value", "Value of every element in the first tick", -G_MAXFLOAT, G_MAXFLOAT,
      DEFAULT_VALUE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_STEP] =
      g_param_spec_double ("step", "Step", "Added to the value at every further tick", -G_MAXFLOAT,
                           G_MAXFLOAT, DEFAULT_STEP, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_TICKS] =
      g_param_spec_uint ("ticks", "Ticks", "Number of ticks to emit before end of stream", 0,
                         G_MAXUINT, DEFAULT_TICKS, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_TICKS_PER_EPOCH] =
      g_param_spec_uint ("ticks-per-epoch", "Ticks per epoch",
                         "Ticks that make one epoch (0: the ticks have no epochs)", 0, G_MAXUINT,
                         DEFAULT_TICKS_PER_EPOCH, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_PHASE] = g_param_spec_enum (
      "phase", "Phase", "Dataset phase written into every tick", DISCO_TYPE_PHASE, DEFAULT_PHASE,
      G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPERTIES, properties);

  /* Produces host tensors; a node on the device takes its copy lazily. */
  disco_node_class_set_runs_on_cuda (node_class, TRUE);
  disco_node_class_set_metadata (node_class, "Constant source", "Source/Testing",
                                 "Emits a fixed number of ticks of a tensor filled with "
                                 "value + tick × step");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "output", DISCO_PORT_FLAG_NONE,
                             "the filled tensor, of the configured shape");
}

static void
disco_constant_source_init (DiscoConstantSource *self)
{
  self->shape_text = g_strdup (DEFAULT_SHAPE);
  self->value = DEFAULT_VALUE;
  self->step = DEFAULT_STEP;
  self->ticks = DEFAULT_TICKS;
  self->ticks_per_epoch = DEFAULT_TICKS_PER_EPOCH;
  self->phase = DEFAULT_PHASE;
}
