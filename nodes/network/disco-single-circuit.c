/* disco-single-circuit.c */

/**
 * SECTION:node-single-circuit
 * @title: single-circuit
 * @short_description: one scalar E–I microcircuit and the sign of its plasticity
 *
 * The scalar microcircuit of Figure 3 of the paper (MODEL.md §7), evaluated
 * element-wise for every row of its input: one excitatory neuron E driven by
 * the presynaptic rate x through the weight w_XE, paired with one
 * inhibitory interneuron I. Time is in units of τ (τ_E = τ_I = 1); forward
 * Euler with step #DiscoSingleCircuit:dt for #DiscoSingleCircuit:steps
 * steps from u_E = u_I = 0:
 *
 *   du_E/dt = −u_E − φ_I(u_I) + w_XE·x
 *   du_I/dt = −u_I + φ_E(u_E) − α·(r_tar − φ_E(u_E))
 *
 * where the last term, top-down feedback that steers r_E towards
 * #DiscoSingleCircuit:target-rate, is there only with
 * #DiscoSingleCircuit:feedback. Then r_E = φ_E(u_E), r_I = φ_I(u_I), and the
 * weight change of the input synapse is
 *
 *   linear: Δw = x·(r_E − (θ + δ·r_I))·φ_E′(u_E)
 *   exact:  Δw = x·(r_E − φ_I⁻¹(r_I))·φ_E′(u_E)
 *
 * In the exact rule φ_I⁻¹(r_I) is u_I itself (MODEL.md §6), used as such:
 * for a strongly inhibited interneuron r_I underflows in float32 long
 * before u_I does. With #DiscoSingleCircuit:mode = isolated there are no
 * dynamics: u_E = w_XE·x (x with the default weight), r_I is clamped at
 * #DiscoSingleCircuit:clamped-inhibitory-rate and u_I = φ_I⁻¹(r_I).
 * φ_E and φ_I are soft rectifiers s·log(1 + exp(β(u − θ))) (MODEL.md §1),
 * (1, 1, 3) by default as in the paper.
 *
 * The Euler loop runs in float32 with the kernels' φ, like every other
 * state in Disco; the reference runs it in numpy float64. The iteration
 * contracts to a fixed point, so rounding does not pile up: over the sweeps
 * of Figure 3 the sign changes of Δw agree with a float64 run to 1e-5.
 *
 * Ports: input `input` (x, batch × 1); outputs `excitatory-rate` (r_E),
 * `inhibitory-rate` (r_I), `weight-change` (Δw), `excitatory-potential`
 * (u_E) and `inhibitory-potential` (u_I), each batch × 1.
 *
 * ## Example pipeline
 * |[
 * [x]
 * node = sweep-source
 * stop = 10
 * count = 100
 * batch-size = 100
 *
 * [circuit]
 * node = single-circuit
 * input = x
 * feedback = true
 * target-rate = 4
 * rule = linear
 * ]|
 */

#include "disco-single-circuit.h"
#include "disco-layer.h"
#include "disco-nodes.h"

#include <math.h>

G_DEFINE_ENUM_TYPE (DiscoSingleCircuitRule, disco_single_circuit_rule,
                    G_DEFINE_ENUM_VALUE (DISCO_SINGLE_CIRCUIT_LINEAR, "linear"),
                    G_DEFINE_ENUM_VALUE (DISCO_SINGLE_CIRCUIT_EXACT, "exact"))

G_DEFINE_ENUM_TYPE (DiscoSingleCircuitMode, disco_single_circuit_mode,
                    G_DEFINE_ENUM_VALUE (DISCO_SINGLE_CIRCUIT_CIRCUIT, "circuit"),
                    G_DEFINE_ENUM_VALUE (DISCO_SINGLE_CIRCUIT_ISOLATED, "isolated"))

#define DEFAULT_SCALE 1.0
#define DEFAULT_SHARPNESS 1.0
#define DEFAULT_SHIFT 3.0
#define DEFAULT_INPUT_WEIGHT 1.0
#define DEFAULT_FEEDBACK FALSE
#define DEFAULT_TARGET_RATE 4.0
#define DEFAULT_ALPHA 5.0
#define DEFAULT_RULE DISCO_SINGLE_CIRCUIT_LINEAR
#define DEFAULT_THETA 1.5
#define DEFAULT_DELTA 1.5
#define DEFAULT_MODE DISCO_SINGLE_CIRCUIT_CIRCUIT
#define DEFAULT_CLAMPED_INHIBITORY_RATE 1.0
#define DEFAULT_DT (1.0 / 50.0)
#define DEFAULT_STEPS 600

struct _DiscoSingleCircuit
{
  DiscoNode parent_instance;

  float e_scale, e_sharpness, e_shift;
  float i_scale, i_sharpness, i_shift;
  float input_weight;
  float target_rate;
  float alpha;
  float theta;
  float delta;
  float clamped_rate;
  float dt;
  gboolean feedback;
  DiscoSingleCircuitRule rule;
  DiscoSingleCircuitMode mode;
  guint steps;
};

G_DEFINE_FINAL_TYPE (DiscoSingleCircuit, disco_single_circuit, DISCO_TYPE_NODE)
DISCO_NODE_REGISTER_DEFINE (single_circuit, "single-circuit", DISCO_TYPE_SINGLE_CIRCUIT)

enum
{
  PROP_0,
  PROP_FEEDBACK,
  PROP_RULE,
  PROP_MODE,
  PROP_STEPS,
  PROP_FIRST_FLOAT
};

static const DiscoFloatProperty float_properties[] = {
  DISCO_RECTIFIER_PROPERTIES (DiscoSingleCircuit, e, E, DEFAULT_SCALE, DEFAULT_SHARPNESS,
                              DEFAULT_SHIFT),
  DISCO_RECTIFIER_PROPERTIES (DiscoSingleCircuit, i, I, DEFAULT_SCALE, DEFAULT_SHARPNESS,
                              DEFAULT_SHIFT),
  { "input-weight", "w_XE", "Weight of the input synapse: the E neuron's drive is w_XE·x", -1e6,
    1e6, DEFAULT_INPUT_WEIGHT, G_STRUCT_OFFSET (DiscoSingleCircuit, input_weight) },
  { "target-rate", "r_tar",
    "Excitatory rate that the top-down feedback steers towards "
    "(with feedback)",
    -1e6, 1e6, DEFAULT_TARGET_RATE, G_STRUCT_OFFSET (DiscoSingleCircuit, target_rate) },
  { "alpha", "α",
    "Gain of the top-down feedback α·(r_tar − r_E) onto the interneuron "
    "(with feedback)",
    0, 1e6, DEFAULT_ALPHA, G_STRUCT_OFFSET (DiscoSingleCircuit, alpha) },
  { "theta", "θ", "Offset of the linear rule's threshold θ + δ·r_I (rule = linear)", -1e6, 1e6,
    DEFAULT_THETA, G_STRUCT_OFFSET (DiscoSingleCircuit, theta) },
  { "delta", "δ", "Slope of the linear rule's threshold θ + δ·r_I (rule = linear)", -1e6, 1e6,
    DEFAULT_DELTA, G_STRUCT_OFFSET (DiscoSingleCircuit, delta) },
  { "clamped-inhibitory-rate", "Clamped r_I",
    "Inhibitory rate r_I of an isolated neuron (mode = isolated; > 0, so that φ_I⁻¹(r_I) "
    "exists)",
    1e-6, 1e6, DEFAULT_CLAMPED_INHIBITORY_RATE,
    G_STRUCT_OFFSET (DiscoSingleCircuit, clamped_rate) },
  { "dt", "dt", "Forward Euler step, in units of τ (τ_E = τ_I = 1)", 1e-6, 1.0, DEFAULT_DT,
    G_STRUCT_OFFSET (DiscoSingleCircuit, dt) },
};

static void
disco_single_circuit_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DiscoSingleCircuit *self = DISCO_SINGLE_CIRCUIT (object);

  if (disco_layer_get_float_property (self, prop_id, PROP_FIRST_FLOAT, float_properties,
                                      G_N_ELEMENTS (float_properties), value))
    return;
  switch (prop_id)
    {
    case PROP_FEEDBACK: g_value_set_boolean (value, self->feedback); break;
    case PROP_RULE: g_value_set_enum (value, self->rule); break;
    case PROP_MODE: g_value_set_enum (value, self->mode); break;
    case PROP_STEPS: g_value_set_uint (value, self->steps); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
disco_single_circuit_set_property (GObject *object, guint prop_id, const GValue *value,
                                   GParamSpec *pspec)
{
  DiscoSingleCircuit *self = DISCO_SINGLE_CIRCUIT (object);

  if (disco_layer_set_float_property (self, prop_id, PROP_FIRST_FLOAT, float_properties,
                                      G_N_ELEMENTS (float_properties), value))
    return;
  switch (prop_id)
    {
    case PROP_FEEDBACK: self->feedback = g_value_get_boolean (value); break;
    case PROP_RULE: self->rule = g_value_get_enum (value); break;
    case PROP_MODE: self->mode = g_value_get_enum (value); break;
    case PROP_STEPS: self->steps = g_value_get_uint (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static const char *const outputs[] = {
  "excitatory-rate",      "inhibitory-rate",      "weight-change",
  "excitatory-potential", "inhibitory-potential",
};

static gboolean
disco_single_circuit_prepare (DiscoNode *node, GError **error)
{
  guint n_dims = 0;
  const gsize *in = disco_node_get_input_declared_shape (node, "input", &n_dims);
  gsize shape[2] = { 0, 1 };

  if (in != NULL && !(n_dims == 2 && in[1] == 1))
    {
      const char *producer_port = NULL;
      DiscoNode *producer = disco_node_get_input_node (node, "input", &producer_port);

      g_set_error (
          error, DISCO_ERROR, DISCO_ERROR_SHAPE,
          "input \"input\" of node \"%s\" takes one value per row (batch × 1), "
          "but \"%s.%s\" gives %u dimension(s) of %" G_GSIZE_FORMAT " columns",
          disco_node_get_name (node), producer != NULL ? disco_node_get_name (producer) : "?",
          producer_port != NULL ? producer_port : "?", n_dims, n_dims >= 2 ? in[1] : (gsize) 0);
      return FALSE;
    }
  for (guint i = 0; i < G_N_ELEMENTS (outputs); i++)
    disco_node_declare_output (node, outputs[i], 2, shape);
  return TRUE;
}

static DiscoFlowReturn
disco_single_circuit_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  DiscoSingleCircuit *self = DISCO_SINGLE_CIRCUIT (node);
  const DiscoSoftRectifier phi_e = { self->e_scale, self->e_sharpness, self->e_shift };
  const DiscoSoftRectifier phi_i = { self->i_scale, self->i_sharpness, self->i_shift };
  DiscoTensor *in = disco_node_get_input (node, "input");
  const float *x;
  float *out[G_N_ELEMENTS (outputs)];
  gsize shape[2] = { 0, 1 };

  if (in == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                   "input \"input\" of node \"%s\" received no tensor this tick",
                   disco_node_get_name (node));
      return DISCO_FLOW_ERROR;
    }
  x = disco_tensor_read_host (in, error);
  if (x == NULL)
    return DISCO_FLOW_ERROR;
  shape[0] = disco_tensor_get_n_elements (in);
  for (guint k = 0; k < G_N_ELEMENTS (outputs); k++)
    {
      out[k] =
          disco_tensor_write_host (disco_node_ensure_output (node, outputs[k], 2, shape), error);
      if (out[k] == NULL)
        return DISCO_FLOW_ERROR;
    }

  for (gsize b = 0; b < shape[0]; b++)
    {
      float drive = self->input_weight * x[b];
      float u_e, u_i, r_e, r_i, dw;

      if (self->mode == DISCO_SINGLE_CIRCUIT_ISOLATED)
        {
          u_e = drive;
          r_i = self->clamped_rate;
          u_i = disco_softrect_inverse (&phi_i, r_i);
        }
      else
        {
          u_e = 0.0f;
          u_i = 0.0f;
          /* Forward Euler; both derivatives from the same state, as in the
           * reference. */
          for (guint s = 0; s < self->steps; s++)
            {
              float re = disco_softrect_forward (&phi_e, u_e);
              float du_e = -u_e - disco_softrect_forward (&phi_i, u_i) + drive;
              float du_i = -u_i + re;

              if (self->feedback)
                du_i -= self->alpha * (self->target_rate - re);
              u_e += self->dt * du_e;
              u_i += self->dt * du_i;
            }
          r_i = disco_softrect_forward (&phi_i, u_i);
        }
      r_e = disco_softrect_forward (&phi_e, u_e);
      if (self->rule == DISCO_SINGLE_CIRCUIT_LINEAR)
        dw = x[b] * (r_e - (self->theta + self->delta * r_i))
             * disco_softrect_derivative (&phi_e, u_e);
      else
        dw = x[b] * (r_e - u_i) * disco_softrect_derivative (&phi_e, u_e);
      if (!isfinite (u_e) || !isfinite (u_i) || !isfinite (r_e) || !isfinite (r_i)
          || !isfinite (dw))
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_NUMERIC,
                       "node \"%s\": row %" G_GSIZE_FORMAT " (x = %g) gives non-finite "
                       "values (u_E = %g, u_I = %g, Δw = %g); a smaller dt or input may help",
                       disco_node_get_name (node), b, (double) x[b], (double) u_e, (double) u_i,
                       (double) dw);
          return DISCO_FLOW_ERROR;
        }
      out[0][b] = r_e;
      out[1][b] = r_i;
      out[2][b] = dw;
      out[3][b] = u_e;
      out[4][b] = u_i;
    }
  return DISCO_FLOW_OK;
}

static void
disco_single_circuit_class_init (DiscoSingleCircuitClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  object_class->get_property = disco_single_circuit_get_property;
  object_class->set_property = disco_single_circuit_set_property;
  node_class->prepare = disco_single_circuit_prepare;
  node_class->process = disco_single_circuit_process;

  g_object_class_install_property (
      object_class, PROP_FEEDBACK,
      g_param_spec_boolean ("feedback", "Feedback",
                            "Whether top-down feedback −α·(r_tar − r_E) drives the interneuron "
                            "(FALSE: feedback ablated)",
                            DEFAULT_FEEDBACK, rw));
  g_object_class_install_property (
      object_class, PROP_RULE,
      g_param_spec_enum ("rule", "Rule",
                         "linear: threshold θ + δ·r_I; exact: threshold φ_I⁻¹(r_I) = u_I",
                         DISCO_TYPE_SINGLE_CIRCUIT_RULE, DEFAULT_RULE, rw));
  g_object_class_install_property (
      object_class, PROP_MODE,
      g_param_spec_enum ("mode", "Mode",
                         "circuit: the E–I dynamics; isolated: u_E = w_XE·x and r_I clamped at "
                         "clamped-inhibitory-rate",
                         DISCO_TYPE_SINGLE_CIRCUIT_MODE, DEFAULT_MODE, rw));
  g_object_class_install_property (
      object_class, PROP_STEPS,
      g_param_spec_uint ("steps", "Steps",
                         "Forward Euler steps from rest (the time simulated is steps × dt τ)", 0,
                         10000000, DEFAULT_STEPS, rw));
  disco_layer_install_float_properties (object_class, PROP_FIRST_FLOAT, float_properties,
                                        G_N_ELEMENTS (float_properties));

  disco_node_class_set_metadata (node_class, "Single E–I microcircuit", "Network/Figure",
                                 "One scalar E–I microcircuit per input row, integrated to "
                                 "rest, and the weight change of its input synapse "
                                 "(Figure 3, MODEL.md §7)");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "input", DISCO_PORT_FLAG_NONE,
                             "presynaptic rates x, batch × 1");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "excitatory-rate", DISCO_PORT_FLAG_NONE,
                             "r_E = φ_E(u_E) at the end, batch × 1");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "inhibitory-rate", DISCO_PORT_FLAG_NONE,
                             "r_I = φ_I(u_I) at the end (or the clamped rate), batch × 1");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "weight-change", DISCO_PORT_FLAG_NONE,
                             "Δw of the input synapse under the rule, batch × 1");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "excitatory-potential",
                             DISCO_PORT_FLAG_NONE, "u_E at the end, batch × 1");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "inhibitory-potential",
                             DISCO_PORT_FLAG_NONE,
                             "u_I at the end (φ_I⁻¹ of the clamped rate when isolated), "
                             "batch × 1");
}

static void
disco_single_circuit_init (DiscoSingleCircuit *self)
{
  disco_layer_init_float_properties (self, float_properties, G_N_ELEMENTS (float_properties));
  self->feedback = DEFAULT_FEEDBACK;
  self->rule = DEFAULT_RULE;
  self->mode = DEFAULT_MODE;
  self->steps = DEFAULT_STEPS;
}
