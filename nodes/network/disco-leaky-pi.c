/* disco-leaky-pi.c */

/**
 * SECTION:node-leaky-pi
 * @title: leaky-pi
 * @short_description: the top-down controller of a network (leaky PI)
 *
 * A leaky proportional–integral controller (MODEL.md §3) that nudges the
 * network's output toward its target:
 *
 *   e = y* − softmax(y)   (cross-entropy; e = y* − y for mse)
 *   c = k_i c_int + k_p e,   τ_c dc_int/dt = e − λ c_int
 *
 * c drives the readout directly and every microcircuit layer through its
 * feedback weights (disinhibiting or inhibiting interneurons). Dynamical: the
 * integrator advances c_int in closed-loop solves (training ticks); link the
 * layers' `feedback` inputs to it. `k-i = 0` makes it a proportional one.
 *
 * Ports: inputs `prediction` (the readout), `target` (targets,
 * batch × outputs); outputs `output` (c after the last solve) and
 * `integral` (c_int).
 *
 * ## Example pipeline
 * |[
 * [control]
 * node = leaky-pi
 * prediction = out
 * target = data.targets
 * ]|
 */

#include "disco-leaky-pi.h"
#include "disco-layer.h"
#include "disco-nodes.h"

G_DEFINE_ENUM_TYPE (DiscoControlError, disco_control_error,
                    G_DEFINE_ENUM_VALUE (DISCO_CONTROL_ERROR_CROSS_ENTROPY, "cross-entropy"),
                    G_DEFINE_ENUM_VALUE (DISCO_CONTROL_ERROR_MSE, "mse"))

#define DEFAULT_ERROR DISCO_CONTROL_ERROR_CROSS_ENTROPY
#define DEFAULT_K_P 0.2
#define DEFAULT_K_I 0.4
#define DEFAULT_LEAK 1.0
#define DEFAULT_TAU 0.1

struct _DiscoLeakyPi
{
  DiscoNode parent_instance;

  DiscoControlError error;
  float k_p, k_i, leak, tau;
  gsize n;
};

G_DEFINE_FINAL_TYPE (DiscoLeakyPi, disco_leaky_pi, DISCO_TYPE_NODE)
DISCO_NODE_REGISTER_DEFINE (leaky_pi, "leaky-pi", DISCO_TYPE_LEAKY_PI)

enum
{
  PROP_0,
  PROP_ERROR,
  PROP_FIRST_FLOAT
};

static const DiscoFloatProperty float_properties[] = {
  { "k-p", "k_p", "Proportional gain", 0, 1e6, DEFAULT_K_P, G_STRUCT_OFFSET (DiscoLeakyPi, k_p) },
  { "k-i", "k_i", "Integral gain (0: a proportional controller)", 0, 1e6, DEFAULT_K_I,
    G_STRUCT_OFFSET (DiscoLeakyPi, k_i) },
  { "leak", "λ", "Leak λ of the integral: τ_c dc_int/dt = e − λ c_int", 0, 1e6, DEFAULT_LEAK,
    G_STRUCT_OFFSET (DiscoLeakyPi, leak) },
  { "tau", "τ_c", "Time constant of the integral (s)", 1e-6, 1e3, DEFAULT_TAU,
    G_STRUCT_OFFSET (DiscoLeakyPi, tau) },
};

static void
disco_leaky_pi_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DiscoLeakyPi *self = DISCO_LEAKY_PI (object);

  if (disco_layer_get_float_property (self, prop_id, PROP_FIRST_FLOAT, float_properties,
                                      G_N_ELEMENTS (float_properties), value))
    return;
  if (prop_id == PROP_ERROR)
    g_value_set_enum (value, self->error);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
disco_leaky_pi_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  DiscoLeakyPi *self = DISCO_LEAKY_PI (object);

  if (disco_layer_set_float_property (self, prop_id, PROP_FIRST_FLOAT, float_properties,
                                      G_N_ELEMENTS (float_properties), value))
    return;
  if (prop_id == PROP_ERROR)
    self->error = g_value_get_enum (value);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static gboolean
disco_leaky_pi_prepare (DiscoNode *node, GError **error)
{
  DiscoLeakyPi *self = DISCO_LEAKY_PI (node);
  DiscoNode *readout = disco_node_get_input_node (node, "prediction", NULL);
  DiscoLayerSpec spec;
  guint n_dims;
  const gsize *target = disco_node_get_input_declared_shape (node, "target", &n_dims);
  gsize out_shape[2] = { 0, 0 };

  if (!DISCO_IS_LAYER (readout) || !disco_layer_get_spec (DISCO_LAYER (readout), &spec)
      || spec.kind != DISCO_LAYER_READOUT)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                   "node \"%s\": input \"prediction\" must link to the network's readout, not "
                   "to \"%s\"",
                   disco_node_get_name (node), disco_node_get_name (readout));
      return FALSE;
    }
  if (target != NULL && (n_dims != 2 || target[1] != spec.n))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                   "node \"%s\": the targets have %" G_GSIZE_FORMAT " values per sample, the "
                   "readout \"%s\" %" G_GSIZE_FORMAT,
                   disco_node_get_name (node), n_dims == 2 ? target[1] : 0,
                   disco_node_get_name (readout), spec.n);
      return FALSE;
    }
  self->n = spec.n;
  out_shape[1] = spec.n;
  disco_node_declare_output (node, "output", 2, out_shape);
  disco_node_declare_output (node, "integral", 2, out_shape);
  return TRUE;
}

/**
 * disco_controller_get_spec:
 * @node: any node
 * @spec: (out caller-allocates): the controller's configuration
 *
 * Returns: whether @node is a prepared controller
 */
gboolean
disco_controller_get_spec (DiscoNode *node, DiscoControllerSpec *spec)
{
  DiscoLeakyPi *self;

  if (!DISCO_IS_LEAKY_PI (node) || DISCO_LEAKY_PI (node)->n == 0)
    return FALSE;
  self = DISCO_LEAKY_PI (node);
  *spec = (DiscoControllerSpec){
    .node = node,
    .error = self->error,
    .k_p = self->k_p,
    .k_i = self->k_i,
    .leak = self->leak,
    .tau = self->tau,
    .n = self->n,
  };
  return TRUE;
}

static void
disco_leaky_pi_class_init (DiscoLeakyPiClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);

  object_class->get_property = disco_leaky_pi_get_property;
  object_class->set_property = disco_leaky_pi_set_property;
  node_class->prepare = disco_leaky_pi_prepare;

  g_object_class_install_property (
      object_class, PROP_ERROR,
      g_param_spec_enum ("error", "Error", "cross-entropy: e = y* − softmax(y); mse: e = y* − y",
                         DISCO_TYPE_CONTROL_ERROR, DEFAULT_ERROR,
                         G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  disco_layer_install_float_properties (object_class, PROP_FIRST_FLOAT, float_properties,
                                        G_N_ELEMENTS (float_properties));

  disco_node_class_set_dynamical (node_class, TRUE);
  /* No process hook: the integrator computes and writes this node's
   * outputs, in the memory of its operations table. */
  disco_node_class_set_runs_on_cuda (node_class, TRUE);
  disco_node_class_set_metadata (node_class, "Leaky PI controller", "Network/Dynamical",
                                 "Top-down control c = k_i c_int + k_p e that steers the "
                                 "network's output to its target (MODEL.md §3)");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "prediction", DISCO_PORT_FLAG_NONE,
                             "the network's readout (its logits y)");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "target", DISCO_PORT_FLAG_NONE,
                             "targets y*, batch × outputs");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "output", DISCO_PORT_FLAG_NONE,
                             "control signal c after the last closed-loop solve, batch × outputs");
  disco_node_class_add_port (
      node_class, DISCO_PORT_OUTPUT, "integral", DISCO_PORT_FLAG_NONE,
      "its integral c_int after the last closed-loop solve, batch × outputs");
}

static void
disco_leaky_pi_init (DiscoLeakyPi *self)
{
  self->error = DEFAULT_ERROR;
  disco_layer_init_float_properties (self, float_properties, G_N_ELEMENTS (float_properties));
}
