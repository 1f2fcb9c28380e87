/* disco-microcircuit.c */

/**
 * SECTION:node-microcircuit
 * @title: microcircuit
 * @short_description: a layer of excitatory–inhibitory microcircuits
 *
 * A hidden layer of n excitatory (E) neurons, each paired one-to-one with an
 * inhibitory (I) interneuron (MODEL.md §2):
 *
 *   τ_E du_E/dt = −u_E + W r_prev + b − φ_I(u_I)
 *   τ_I du_I/dt = −u_I + φ_E(u_E) − f,  with top-down input f = c·Q
 *
 * r = φ_E(u_E) is the layer's rate. The node is *dynamical*: an integrator
 * advances its state (it describes itself through #DiscoLayer); after each
 * solve it puts the rates on its outputs.
 * Parameters: `weight` (n × inputs, LeCun-normal from the pipeline seed) and
 * `bias` (n, zeros; absent with bias = false).
 *
 * Ports: input `input` (batch × inputs: rates of the layer below, or data),
 * optional input `feedback` (the controller's signal c); outputs `output`
 * (r_E, batch × n), `inhibitory` (r_I, batch × n) and, after a closed-loop
 * solve, `feedback-weights` (Q, batch × outputs × n).
 *
 * ## Example pipeline
 * |[
 * [h1]
 * node = microcircuit
 * input = data.images
 * size = 256
 * ]|
 */

#include "disco-microcircuit.h"
#include "disco-layer.h"
#include "disco-nodes.h"

#include <math.h>

#define DEFAULT_SIZE 256
#define DEFAULT_BIAS TRUE
#define DEFAULT_SCALE 1.0
#define DEFAULT_SHARPNESS 1.0
#define DEFAULT_SHIFT 0.0
#define DEFAULT_TAU_E 0.020
#define DEFAULT_TAU_I 0.005

struct _DiscoMicrocircuit
{
  DiscoNode parent_instance;

  guint size;
  gboolean bias;
  float e_scale, e_sharpness, e_shift;
  float i_scale, i_sharpness, i_shift;
  float tau_e, tau_i;

  gsize n_in;
};

static void disco_microcircuit_layer_init (DiscoLayerInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (DiscoMicrocircuit, disco_microcircuit, DISCO_TYPE_NODE,
                               G_IMPLEMENT_INTERFACE (DISCO_TYPE_LAYER,
                                                      disco_microcircuit_layer_init))
DISCO_NODE_REGISTER_DEFINE (microcircuit, "microcircuit", DISCO_TYPE_MICROCIRCUIT)

enum
{
  PROP_0,
  PROP_SIZE,
  PROP_BIAS,
  PROP_FIRST_FLOAT
};

static const DiscoFloatProperty float_properties[] = {
  DISCO_RECTIFIER_PROPERTIES (DiscoMicrocircuit, e, E, DEFAULT_SCALE, DEFAULT_SHARPNESS,
                              DEFAULT_SHIFT),
  DISCO_RECTIFIER_PROPERTIES (DiscoMicrocircuit, i, I, DEFAULT_SCALE, DEFAULT_SHARPNESS,
                              DEFAULT_SHIFT),
  { "tau-e", "τ_E", "Time constant of the excitatory neurons (s)", 1e-6, 1e3, DEFAULT_TAU_E,
    G_STRUCT_OFFSET (DiscoMicrocircuit, tau_e) },
  { "tau-i", "τ_I", "Time constant of the inhibitory interneurons (s)", 1e-6, 1e3, DEFAULT_TAU_I,
    G_STRUCT_OFFSET (DiscoMicrocircuit, tau_i) },
};

static void
disco_microcircuit_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DiscoMicrocircuit *self = DISCO_MICROCIRCUIT (object);

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
disco_microcircuit_set_property (GObject *object, guint prop_id, const GValue *value,
                                 GParamSpec *pspec)
{
  DiscoMicrocircuit *self = DISCO_MICROCIRCUIT (object);

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
disco_microcircuit_prepare (DiscoNode *node, GError **error)
{
  DiscoMicrocircuit *self = DISCO_MICROCIRCUIT (node);
  gsize out_shape[2] = { 0, self->size };

  self->n_in = disco_layer_prepare_weights (node, self->size, self->bias, error);
  if (self->n_in == 0)
    return FALSE;
  disco_node_declare_output (node, "inhibitory", 2, out_shape);
  return TRUE;
}

/* DiscoLayer.get_spec */
static gboolean
disco_microcircuit_get_spec (DiscoLayer *layer, DiscoLayerSpec *spec)
{
  DiscoNode *node = DISCO_NODE (layer);
  DiscoMicrocircuit *self = DISCO_MICROCIRCUIT (layer);

  if (disco_node_get_parameter (node, "weight") == NULL)
    return FALSE;
  *spec = (DiscoLayerSpec){
    .kind = DISCO_LAYER_MICROCIRCUIT,
    .node = node,
    .n_in = self->n_in,
    .n = self->size,
    .phi_e = { self->e_scale, self->e_sharpness, self->e_shift },
    .phi_i = { self->i_scale, self->i_sharpness, self->i_shift },
    .tau_e = self->tau_e,
    .tau_i = self->tau_i,
    .weight = disco_node_get_parameter (node, "weight"),
    .bias = self->bias ? disco_node_get_parameter (node, "bias") : NULL,
  };
  return TRUE;
}

static void
disco_microcircuit_layer_init (DiscoLayerInterface *iface)
{
  iface->get_spec = disco_microcircuit_get_spec;
}

static void
disco_microcircuit_class_init (DiscoMicrocircuitClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);

  object_class->get_property = disco_microcircuit_get_property;
  object_class->set_property = disco_microcircuit_set_property;
  node_class->prepare = disco_microcircuit_prepare;

  g_object_class_install_property (
      object_class, PROP_SIZE,
      g_param_spec_uint ("size", "Size", "Number of E–I pairs (units) in the layer", 1, 65536,
                         DEFAULT_SIZE, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  g_object_class_install_property (
      object_class, PROP_BIAS,
      g_param_spec_boolean ("bias", "Bias", "Whether the excitatory drive has a trainable bias b",
                            DEFAULT_BIAS, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  disco_layer_install_float_properties (object_class, PROP_FIRST_FLOAT, float_properties,
                                        G_N_ELEMENTS (float_properties));

  disco_node_class_set_dynamical (node_class, TRUE);
  /* No process hook: the integrator computes and writes this node's
   * outputs, in the memory of its operations table. */
  disco_node_class_set_runs_on_cuda (node_class, TRUE);
  disco_node_class_set_metadata (node_class, "E–I microcircuit layer", "Network/Dynamical",
                                 "Excitatory neurons paired with inhibitory interneurons "
                                 "that top-down feedback can dis-inhibit (MODEL.md §2)");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "input", DISCO_PORT_FLAG_NONE,
                             "rates of the layer below or data, batch × inputs");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "feedback", DISCO_PORT_FLAG_OPTIONAL,
                             "top-down control signal c, batch × outputs (closed loop)");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "output", DISCO_PORT_FLAG_NONE,
                             "excitatory rates r_E = φ_E(u_E) after the last solve, batch × size");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "inhibitory", DISCO_PORT_FLAG_NONE,
                             "inhibitory rates r_I = φ_I(u_I) after the last solve, batch × size");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "feedback-weights",
                             DISCO_PORT_FLAG_NONE,
                             "feedback weights Q of the last closed-loop solve, batch × outputs "
                             "× size (MODEL.md §4)");
}

static void
disco_microcircuit_init (DiscoMicrocircuit *self)
{
  self->size = DEFAULT_SIZE;
  self->bias = DEFAULT_BIAS;
  disco_layer_init_float_properties (self, float_properties, G_N_ELEMENTS (float_properties));
}
