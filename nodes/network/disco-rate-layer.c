/* disco-rate-layer.c */

/**
 * SECTION:node-rate-layer
 * @title: rate-layer
 * @short_description: a hidden layer of plain rate units (no E–I pairing)
 *
 * τ du/dt = −u + W r_prev + b, r = φ(u): the backprop baseline's layer
 * (MODEL.md §6). At steady state r = φ(W r_prev + b), an ordinary MLP layer.
 * Dynamical: an integrator advances it (a #DiscoLayer). Parameters:
 * `weight` (size × inputs, LeCun-normal from the pipeline seed), `bias`
 * (size, zeros).
 *
 * Ports: input `input` (batch × inputs); output `output` (r, batch × size).
 *
 * ## Example pipeline
 * |[
 * [h1]
 * node = rate-layer
 * input = data.images
 * size = 256
 * ]|
 */

#include "disco-rate-layer.h"
#include "disco-layer.h"
#include "disco-nodes.h"

#include <math.h>

#define DEFAULT_SIZE 256
#define DEFAULT_BIAS TRUE
#define DEFAULT_SCALE 1.0
#define DEFAULT_SHARPNESS 1.0
#define DEFAULT_SHIFT 0.0
#define DEFAULT_TAU 0.020

struct _DiscoRateLayer
{
  DiscoNode parent_instance;

  guint size;
  gboolean bias;
  float scale, sharpness, shift, tau;
  gsize n_in;
};

static void disco_rate_layer_layer_init (DiscoLayerInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (DiscoRateLayer, disco_rate_layer, DISCO_TYPE_NODE,
                               G_IMPLEMENT_INTERFACE (DISCO_TYPE_LAYER,
                                                      disco_rate_layer_layer_init))
DISCO_NODE_REGISTER_DEFINE (rate_layer, "rate-layer", DISCO_TYPE_RATE_LAYER)

enum
{
  PROP_0,
  PROP_SIZE,
  PROP_BIAS,
  PROP_FIRST_FLOAT
};

static const DiscoFloatProperty float_properties[] = {
  { "scale", "Scale", "Scale s of φ(x) = s·log(1 + exp(β(x − θ)))", 1e-6, 1e6, DEFAULT_SCALE,
    G_STRUCT_OFFSET (DiscoRateLayer, scale) },
  { "sharpness", "Sharpness", "Sharpness β of φ", 1e-6, 1e6, DEFAULT_SHARPNESS,
    G_STRUCT_OFFSET (DiscoRateLayer, sharpness) },
  { "shift", "Shift", "Shift θ of φ", -1e6, 1e6, DEFAULT_SHIFT,
    G_STRUCT_OFFSET (DiscoRateLayer, shift) },
  { "tau", "τ", "Time constant of the units (s)", 1e-6, 1e3, DEFAULT_TAU,
    G_STRUCT_OFFSET (DiscoRateLayer, tau) },
};

static void
disco_rate_layer_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DiscoRateLayer *self = DISCO_RATE_LAYER (object);

  if (disco_layer_get_float_property (self, prop_id, PROP_FIRST_FLOAT, float_properties,
                                      G_N_ELEMENTS (float_properties), value))
    return;
  switch (prop_id)
    {
    case PROP_SIZE: g_value_set_uint (value, self->size); break;
    case PROP_BIAS: g_value_set_boolean (value, self->bias); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
disco_rate_layer_set_property (GObject *object, guint prop_id, const GValue *value,
                               GParamSpec *pspec)
{
  DiscoRateLayer *self = DISCO_RATE_LAYER (object);

  if (disco_layer_set_float_property (self, prop_id, PROP_FIRST_FLOAT, float_properties,
                                      G_N_ELEMENTS (float_properties), value))
    return;
  switch (prop_id)
    {
    case PROP_SIZE: self->size = g_value_get_uint (value); break;
    case PROP_BIAS: self->bias = g_value_get_boolean (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
disco_rate_layer_prepare (DiscoNode *node, GError **error)
{
  DiscoRateLayer *self = DISCO_RATE_LAYER (node);

  self->n_in = disco_layer_prepare_weights (node, self->size, self->bias, error);
  return self->n_in != 0;
}

/* DiscoLayer.get_spec */
static gboolean
disco_rate_layer_get_spec (DiscoLayer *layer, DiscoLayerSpec *spec)
{
  DiscoNode *node = DISCO_NODE (layer);
  DiscoRateLayer *self = DISCO_RATE_LAYER (layer);

  if (disco_node_get_parameter (node, "weight") == NULL)
    return FALSE;
  *spec = (DiscoLayerSpec){
    .kind = DISCO_LAYER_RATE,
    .node = node,
    .n_in = self->n_in,
    .n = self->size,
    .phi_e = { self->scale, self->sharpness, self->shift },
    .tau_e = self->tau,
    .weight = disco_node_get_parameter (node, "weight"),
    .bias = self->bias ? disco_node_get_parameter (node, "bias") : NULL,
  };
  return TRUE;
}

static void
disco_rate_layer_layer_init (DiscoLayerInterface *iface)
{
  iface->get_spec = disco_rate_layer_get_spec;
}

static void
disco_rate_layer_class_init (DiscoRateLayerClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);

  object_class->get_property = disco_rate_layer_get_property;
  object_class->set_property = disco_rate_layer_set_property;
  node_class->prepare = disco_rate_layer_prepare;

  g_object_class_install_property (
      object_class, PROP_SIZE,
      g_param_spec_uint ("size", "Size", "Number of units in the layer", 1, 65536, DEFAULT_SIZE,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (
      object_class, PROP_BIAS,
      g_param_spec_boolean ("bias", "Bias", "Whether the units have a trainable bias b",
                            DEFAULT_BIAS, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  disco_layer_install_float_properties (object_class, PROP_FIRST_FLOAT, float_properties,
                                        G_N_ELEMENTS (float_properties));

  disco_node_class_set_dynamical (node_class, TRUE);
  /* No process hook: the integrator computes and writes this node's
   * outputs, in the memory of its operations table. */
  disco_node_class_set_runs_on_cuda (node_class, TRUE);
  disco_node_class_set_metadata (node_class, "Rate layer", "Network/Dynamical",
                                 "Plain rate units without E–I pairing, for the backprop "
                                 "baseline (MODEL.md §6)");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "input", DISCO_PORT_FLAG_NONE,
                             "rates of the layer below or data, batch × inputs");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "output", DISCO_PORT_FLAG_NONE,
                             "rates r = φ(u) after the last solve, batch × size");
}

static void
disco_rate_layer_init (DiscoRateLayer *self)
{
  self->size = DEFAULT_SIZE;
  self->bias = DEFAULT_BIAS;
  disco_layer_init_float_properties (self, float_properties, G_N_ELEMENTS (float_properties));
}
