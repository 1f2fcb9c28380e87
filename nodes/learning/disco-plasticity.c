/* disco-plasticity.c */

/**
 * SECTION:node-plasticity
 * @title: plasticity
 * @short_description: local plasticity rules (and backprop) as parameter gradients
 *
 * After the integrator has settled a training minibatch in open and closed
 * loop, computes for every layer a per-sample update, averages it over the
 * minibatch, and publishes it as the gradient an optimizer descends
 * (disco_node_set_gradient(), targets "h1.weight", "h1.bias", "out.weight").
 * Rules (MODEL.md §6), with states taken at the closed-loop steady state:
 *
 * - exact-inverse: δ_l = (u_I − r_E) ⊙ φ_E′(u_E); g_W = δ_l r_{l−1}ᵀ, g_b = δ_l.
 *   At the closed-loop fixed point u_I − r_E = −f_l: a synapse potentiates
 *   where its interneuron is dis-inhibited and depresses where it is inhibited.
 * - linear-threshold: as exact-inverse with φ_I⁻¹(r_I) replaced by its Taylor
 *   line a + b·r_I around y₀, a per-neuron running average of the open-loop
 *   inhibitory rate, y₀ ← (1 − λ) y₀ + λ·mean(r_I^OL), updated first.
 * - readout (both rules): δ_out = W_out r_L − y; g = δ_out r_Lᵀ.
 * - backprop: the exact gradient of the soft-target cross-entropy of the
 *   feed-forward network r_l = φ(W_l r_{l−1} + b_l), y = W_out r_L (rate
 *   layers; needs `target`).
 *
 * Only training ticks produce updates. The output carries the norm of all
 * gradients together.
 *
 * Operations: the node computes through its pipeline's operations table
 * (disco-ops.h; the host table on the CPU, the CUDA table on a GPU): the
 * local rules on the integrator's state tensors, backprop on the inputs,
 * targets and weights, all in the table's memory.  The gradients, the
 * running thresholds and the norm stay there; the host sees them only when
 * it reads them (a checkpoint, a test).  Backprop's forward pass takes the
 * table's φ, the one the network settles with (on the CPU the fast φ,
 * within 4 ulp of the reference).
 *
 * Ports: inputs `state` (the integrator), optional `target` (targets, for
 * backprop); output `gradients` (1 value: the global gradient norm).
 *
 * ## Example pipeline
 * |[
 * [learn]
 * node = plasticity
 * rule = linear-threshold
 * state = settle
 * ]|
 */

#include "disco-plasticity.h"
#include "disco-device.h"
#include "disco-network-provider.h"
#include "disco-network.h"
#include "disco-nodes.h"
#include "disco-ops-network.h"

G_DEFINE_ENUM_TYPE (DiscoPlasticityRule, disco_plasticity_rule,
                    G_DEFINE_ENUM_VALUE (DISCO_PLASTICITY_EXACT_INVERSE, "exact-inverse"),
                    G_DEFINE_ENUM_VALUE (DISCO_PLASTICITY_LINEAR_THRESHOLD, "linear-threshold"),
                    G_DEFINE_ENUM_VALUE (DISCO_PLASTICITY_BACKPROP, "backprop"))

#define DEFAULT_RULE DISCO_PLASTICITY_LINEAR_THRESHOLD
#define DEFAULT_AVERAGE_RATE 1.0
#define DEFAULT_INITIAL_THRESHOLD 0.8

struct _DiscoPlasticity
{
  DiscoNode parent_instance;

  DiscoPlasticityRule rule;
  double average_rate;
  double initial_threshold;

  /* δ, rates, u_l, the norm's running sum: buffers in the memory of
   * buffers_ops's table, reused between ticks. */
  const DiscoOps *buffers_ops;
  GArray *buffers; /* Buffer */
};

typedef struct
{
  gpointer data;
  gsize size;
} Buffer;

G_DEFINE_FINAL_TYPE (DiscoPlasticity, disco_plasticity, DISCO_TYPE_NODE)
DISCO_NODE_REGISTER_DEFINE (plasticity, "plasticity", DISCO_TYPE_PLASTICITY)

enum
{
  PROP_0,
  PROP_RULE,
  PROP_AVERAGE_RATE,
  PROP_INITIAL_THRESHOLD,
  N_PROPERTIES
};

static void
free_buffers (DiscoPlasticity *self)
{
  for (guint i = 0; i < self->buffers->len; i++)
    self->buffers_ops->free (g_array_index (self->buffers, Buffer, i).data);
  g_array_set_size (self->buffers, 0);
  self->buffers_ops = NULL;
}

static void
disco_plasticity_finalize (GObject *object)
{
  DiscoPlasticity *self = DISCO_PLASTICITY (object);

  free_buffers (self);
  g_array_unref (self->buffers);
  G_OBJECT_CLASS (disco_plasticity_parent_class)->finalize (object);
}

static void
disco_plasticity_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DiscoPlasticity *self = DISCO_PLASTICITY (object);

  switch (prop_id)
    {
    case PROP_RULE: g_value_set_enum (value, self->rule); break;
    case PROP_AVERAGE_RATE: g_value_set_double (value, self->average_rate); break;
    case PROP_INITIAL_THRESHOLD: g_value_set_double (value, self->initial_threshold); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
disco_plasticity_set_property (GObject *object, guint prop_id, const GValue *value,
                               GParamSpec *pspec)
{
  DiscoPlasticity *self = DISCO_PLASTICITY (object);

  switch (prop_id)
    {
    case PROP_RULE: self->rule = g_value_get_enum (value); break;
    case PROP_AVERAGE_RATE: self->average_rate = g_value_get_double (value); break;
    case PROP_INITIAL_THRESHOLD: self->initial_threshold = g_value_get_double (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static DiscoNetwork *
linked_network (DiscoNode *node, GError **error)
{
  DiscoNode *integrator = disco_node_get_input_node (node, "state", NULL);
  DiscoNetwork *network =
      DISCO_IS_NETWORK_PROVIDER (integrator)
          ? disco_network_provider_get_network (DISCO_NETWORK_PROVIDER (integrator))
          : NULL;

  if (network == NULL)
    g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                 "node \"%s\": input \"state\" must link to an integrator, not to \"%s\"",
                 disco_node_get_name (node), disco_node_get_name (integrator));
  return network;
}

static gboolean
disco_plasticity_prepare (DiscoNode *node, GError **error)
{
  DiscoPlasticity *self = DISCO_PLASTICITY (node);
  DiscoNetwork *network = linked_network (node, error);
  const gsize one[1] = { 1 };
  g_autoptr (DiscoTensor) norm = NULL;

  if (network == NULL)
    return FALSE;
  for (guint l = 0; l + 1 < disco_network_get_n_layers (network); l++)
    {
      const DiscoLayerSpec *spec = disco_network_get_layer (network, l);
      gboolean backprop = self->rule == DISCO_PLASTICITY_BACKPROP;

      if (backprop != (spec->kind == DISCO_LAYER_RATE))
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                       "node \"%s\": rule \"%s\" needs %s layers, and \"%s\" is not one",
                       disco_node_get_name (node),
                       backprop ? "backprop" : "exact-inverse/linear-threshold",
                       backprop ? "rate-layer" : "microcircuit", disco_node_get_name (spec->node));
          return FALSE;
        }
      if (self->rule == DISCO_PLASTICITY_LINEAR_THRESHOLD)
        {
          /* The running threshold y₀ per neuron: state to checkpoint. */
          g_autofree char *name =
              g_strdup_printf ("threshold:%s", disco_node_get_name (spec->node));
          DiscoTensor *y0 = disco_node_get_parameter (node, name);
          const gsize shape[1] = { spec->n };

          if (y0 == NULL || !disco_tensor_has_shape (y0, 1, shape))
            {
              g_autoptr (DiscoTensor) fresh = disco_tensor_new (1, shape);
              disco_tensor_fill (fresh, self->initial_threshold, NULL);
              disco_node_add_parameter (node, name, fresh);
            }
        }
    }
  if (self->rule == DISCO_PLASTICITY_BACKPROP && !disco_node_is_linked (node, "target"))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                   "node \"%s\": rule \"backprop\" needs input \"target\" linked to the targets",
                   disco_node_get_name (node));
      return FALSE;
    }
  norm = disco_tensor_new (1, one);
  disco_node_set_output (node, "gradients", norm);
  disco_node_declare_output (node, "gradients", 1, one);
  return TRUE;
}

/* The table this node computes with: its pipeline's (disco_node_get_ops()),
 * the host table when that gives none. */
static const DiscoOps *
node_ops (DiscoNode *node)
{
  const DiscoOps *ops = disco_node_get_ops (node);

  return ops != NULL ? ops : disco_ops_cpu ();
}

/* The gradient tensor of "<layer>.<suffix>", created on first use. */
static DiscoTensor *
ensure_gradient (DiscoNode *node, const DiscoLayerSpec *spec, const char *suffix, guint n_dims,
                 const gsize *shape)
{
  g_autofree char *name = g_strconcat (disco_node_get_name (spec->node), suffix, NULL);
  DiscoTensor *gradient = disco_node_get_gradient (node, name);

  if (gradient == NULL)
    {
      g_autoptr (DiscoTensor) fresh = disco_tensor_new (n_dims, shape);
      disco_node_set_gradient (node, name, fresh);
      gradient = fresh;
    }
  return gradient;
}

/* Buffer @index of at least @size bytes in @ops's memory; a fresh one is
 * zeroed when @zero is set (the norm's running sum starts at 0, and
 * norm_finish leaves it at 0 for the next tick). */
static gpointer
scratch_buffer (DiscoPlasticity *self, const DiscoOps *ops, guint index, gsize size, gboolean zero,
                GError **error)
{
  Buffer *buffer;

  if (self->buffers_ops != ops)
    {
      free_buffers (self);
      self->buffers_ops = ops;
    }
  if (self->buffers->len <= index)
    g_array_set_size (self->buffers, index + 1);
  buffer = &g_array_index (self->buffers, Buffer, index);
  if (buffer->data == NULL || buffer->size < size)
    {
      ops->free (buffer->data);
      buffer->size = 0;
      if ((buffer->data = ops->alloc (size, error)) == NULL)
        return NULL;
      buffer->size = size;
      if (zero)
        {
          g_autofree guint8 *zeros = g_malloc0 (size);
          if (!ops->upload (buffer->data, zeros, size, error))
            return NULL;
        }
    }
  return buffer->data;
}

/* Publishes one layer's g_W = δᵀ R / B and g_b = the batch mean of δ; both
 * squared norms go to the running sum @acc.  Fails only when the gradient
 * tensors cannot have their memory. */
static gboolean
publish (DiscoNode *node, const DiscoOps *ops, const DiscoLayerSpec *spec, const float *delta,
         const float *inputs, gsize B, double *acc, GError **error)
{
  const gsize wshape[2] = { spec->n, spec->n_in };
  float *g =
      disco_tensor_write_ops (ensure_gradient (node, spec, ".weight", 2, wshape), ops, error);

  if (g == NULL)
    return FALSE;
  /* n × n_in = δᵀ (n × B) · R (B × n_in) / B */
  ops->gemm (TRUE, FALSE, spec->n, spec->n_in, B, 1.0f / B, delta, spec->n, inputs, spec->n_in,
             0.0f, g, spec->n_in);
  ops->sum_squares (spec->n * spec->n_in, g, acc);
  if (spec->bias != NULL)
    {
      const gsize bshape[1] = { spec->n };

      g = disco_tensor_write_ops (ensure_gradient (node, spec, ".bias", 1, bshape), ops, error);
      if (g == NULL)
        return FALSE;
      ops->column_mean (B, spec->n, delta, spec->n, g);
      ops->sum_squares (spec->n, g, acc);
    }
  return TRUE;
}

/* The output "gradients": √ of the running sum @acc that publish()
 * filled, which norm_finish leaves at 0 for the next tick. */
static gboolean
finish_norm (DiscoNode *node, const DiscoOps *ops, double *acc, GError **error)
{
  float *norm = disco_tensor_write_ops (disco_node_get_output (node, "gradients"), ops, error);

  if (norm == NULL)
    return FALSE;
  ops->norm_finish (acc, norm);
  /* Reports a failed launch now rather than at the next download. */
  return ops->check (error);
}

/* The local rules (MODEL.md §6) of every layer and the norm output:
 * δ from the closed-loop states @cl_tensor (and, for linear-threshold, the
 * open-loop ones @ol_tensor), the readout's δ_out = W_out r_L − y. */
static gboolean
local_rules (DiscoPlasticity *self, const DiscoOps *ops, DiscoNetwork *network,
             DiscoTensor *x_tensor, DiscoTensor *cl_tensor, DiscoTensor *ol_tensor, gsize B,
             GError **error)
{
  DiscoNode *node = DISCO_NODE (self);
  const guint n_layers = disco_network_get_n_layers (network);
  const gsize N = disco_network_get_state_size (network);
  const float *x, *cl, *ol, *inputs;
  double *acc;

  if ((x = disco_tensor_read_ops (x_tensor, ops, error)) == NULL
      || (cl = disco_tensor_read_ops (cl_tensor, ops, error)) == NULL
      || (ol = disco_tensor_read_ops (ol_tensor, ops, error)) == NULL
      || (acc = scratch_buffer (self, ops, 2 * n_layers, sizeof (double), TRUE, error)) == NULL)
    return FALSE;

  inputs = x;
  for (guint l = 0; l < n_layers; l++)
    {
      const DiscoLayerSpec *spec = disco_network_get_layer (network, l);
      const gsize n = spec->n, offset = disco_network_get_layer_offset (network, l);
      float *delta = scratch_buffer (self, ops, 2 * l, B * n * sizeof (float), FALSE, error);
      float *rates = scratch_buffer (self, ops, 2 * l + 1, B * n * sizeof (float), FALSE, error);

      if (delta == NULL || rates == NULL)
        return FALSE;
      if (spec->kind == DISCO_LAYER_READOUT)
        {
          /* δ_out = W_out r_L − y; the readout's rates feed no layer. */
          const float *w = disco_tensor_read_ops (spec->weight, ops, error);
          if (w == NULL)
            return FALSE;
          ops->gemm (FALSE, TRUE, B, n, spec->n_in, 1.0f, inputs, spec->n_in, w, spec->n_in, 0.0f,
                     delta, n);
          ops->sub_rows (B, n, cl + offset, N, delta, n);
        }
      else
        {
          float *y0 = NULL;

          if (self->rule == DISCO_PLASTICITY_LINEAR_THRESHOLD)
            {
              /* y₀ first, then the Taylor line around it (MODEL.md §6). */
              g_autofree char *name =
                  g_strdup_printf ("threshold:%s", disco_node_get_name (spec->node));
              y0 = disco_tensor_write_ops (disco_node_get_parameter (node, name), ops, error);
              if (y0 == NULL)
                return FALSE;
              ops->threshold_update (&spec->phi_i, self->average_rate, B, n, ol + offset + n, N,
                                     y0);
            }
          ops->plasticity_delta (&spec->phi_e, &spec->phi_i, B, n, cl + offset, N, y0, rates, n,
                                 delta, n);
        }
      if (!publish (node, ops, spec, delta, inputs, B, acc, error))
        return FALSE;
      inputs = rates;
    }
  return finish_norm (node, ops, acc, error);
}

/* Backprop through r_l = φ(W_l r_{l−1} + b_l), y = W_out r_L, loss
 * −Σ t log softmax(y), and the norm output.  Scratch layout: u_l, r_l, δ_l
 * of layer l at 3l, 3l + 1, 3l + 2. */
static gboolean
backprop (DiscoPlasticity *self, const DiscoOps *ops, DiscoNetwork *network, DiscoTensor *x_tensor,
          DiscoTensor *target_tensor, gsize B, GError **error)
{
  DiscoNode *node = DISCO_NODE (self);
  const guint n_layers = disco_network_get_n_layers (network);
  float **u = g_newa (float *, n_layers), **r = g_newa (float *, n_layers);
  float **delta = g_newa (float *, n_layers);
  const float *x, *targets, *inputs;
  float *ones;
  double *acc;

  if ((x = disco_tensor_read_ops (x_tensor, ops, error)) == NULL
      || (targets = disco_tensor_read_ops (target_tensor, ops, error)) == NULL
      || (acc = scratch_buffer (self, ops, 3 * n_layers, sizeof (double), TRUE, error)) == NULL
      || (ones = scratch_buffer (self, ops, 3 * n_layers + 1, B * sizeof (float), FALSE, error))
             == NULL)
    return FALSE;
  ops->fill (B, 1.0f, ones);

  /* Forward, exactly, each layer's u = inputs·Wᵀ + b as the network forms
   * its drive. */
  inputs = x;
  for (guint l = 0; l < n_layers; l++)
    {
      const DiscoLayerSpec *spec = disco_network_get_layer (network, l);
      const gsize n = spec->n;
      const float *w = disco_tensor_read_ops (spec->weight, ops, error);
      const float *b = NULL;

      if (w == NULL
          || (spec->bias != NULL && (b = disco_tensor_read_ops (spec->bias, ops, error)) == NULL)
          || (u[l] = scratch_buffer (self, ops, 3 * l, B * n * sizeof (float), FALSE, error))
                 == NULL)
        return FALSE;
      disco_ops_affine_rows (ops, B, n, spec->n_in, inputs, w, b, ones, u[l]);
      if (spec->kind == DISCO_LAYER_READOUT)
        r[l] = u[l];
      else
        {
          if ((r[l] = scratch_buffer (self, ops, 3 * l + 1, B * n * sizeof (float), FALSE, error))
              == NULL)
            return FALSE;
          ops->softrect_forward (&spec->phi_e, B, n, u[l], n, r[l], n);
        }
      inputs = r[l];
    }

  /* Backward: δ_out = softmax(y) − t, δ_l = (δ_{l+1} W_{l+1}) ⊙ φ′(u_l). */
  for (gint l = n_layers - 1; l >= 0; l--)
    {
      const DiscoLayerSpec *spec = disco_network_get_layer (network, l);
      const gsize n = spec->n;

      if ((delta[l] = scratch_buffer (self, ops, 3 * l + 2, B * n * sizeof (float), FALSE, error))
          == NULL)
        return FALSE;
      if (l == (gint) n_layers - 1)
        {
          ops->softmax_rows (B, n, r[l], n, delta[l], n);
          ops->sub_rows (B, n, targets, n, delta[l], n);
        }
      else
        {
          const DiscoLayerSpec *above = disco_network_get_layer (network, l + 1);
          const float *w = disco_tensor_read_ops (above->weight, ops, error);

          if (w == NULL)
            return FALSE;
          /* B × n = δ_{l+1} (B × n_{l+1}) · W_{l+1} (n_{l+1} × n) */
          ops->gemm (FALSE, FALSE, B, n, above->n, 1.0f, delta[l + 1], above->n, w, n, 0.0f,
                     delta[l], n);
          /* ⊙ φ′(u_l), in place: one "output" row of n per sample */
          ops->slope_scale_rows (&spec->phi_e, B, 1, n, u[l], n, delta[l], n, delta[l]);
        }
      if (!publish (node, ops, spec, delta[l], l == 0 ? x : r[l - 1], B, acc, error))
        return FALSE;
    }
  return finish_norm (node, ops, acc, error);
}

static DiscoFlowReturn
disco_plasticity_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  DiscoPlasticity *self = DISCO_PLASTICITY (node);
  DiscoNode *integrator = disco_node_get_input_node (node, "state", NULL);
  DiscoNetwork *network;
  DiscoTensor *x_tensor, *cl_tensor, *ol_tensor, *target_tensor = NULL;
  const DiscoOps *ops;
  gsize B;

  if (tick->phase == DISCO_PHASE_VALIDATION || tick->phase == DISCO_PHASE_TEST)
    return DISCO_FLOW_OK;
  if ((network = linked_network (node, error)) == NULL
      || (x_tensor = disco_network_get_input (network, error)) == NULL)
    return DISCO_FLOW_ERROR;
  cl_tensor = disco_node_get_output (integrator, "state");
  ol_tensor = disco_node_get_output (integrator, "open-loop-state");
  if (self->rule == DISCO_PLASTICITY_BACKPROP)
    target_tensor = disco_node_get_input (node, "target");
  B = disco_tensor_get_dim (x_tensor, 0);
  if (cl_tensor == NULL || ol_tensor == NULL || disco_tensor_get_dim (cl_tensor, 0) != B
      || (self->rule == DISCO_PLASTICITY_BACKPROP
          && (target_tensor == NULL || disco_tensor_get_dim (target_tensor, 0) != B
              || disco_tensor_get_row_size (target_tensor)
                     != disco_network_get_layer (network, disco_network_get_n_layers (network) - 1)
                            ->n)))
    {
      /* Backprop reads B × outputs targets. */
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                   "node \"%s\": the integrator's states or the targets do not match this "
                   "tick's minibatch and the network's outputs",
                   disco_node_get_name (node));
      return DISCO_FLOW_ERROR;
    }
  ops = node_ops (node);
  return (self->rule == DISCO_PLASTICITY_BACKPROP
              ? backprop (self, ops, network, x_tensor, target_tensor, B, error)
              : local_rules (self, ops, network, x_tensor, cl_tensor, ol_tensor, B, error))
             ? DISCO_FLOW_OK
             : DISCO_FLOW_ERROR;
}

static void
disco_plasticity_class_init (DiscoPlasticityClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  object_class->finalize = disco_plasticity_finalize;
  object_class->get_property = disco_plasticity_get_property;
  object_class->set_property = disco_plasticity_set_property;
  node_class->prepare = disco_plasticity_prepare;
  node_class->process = disco_plasticity_process;
  /* Every rule computes through the operations table. */
  disco_node_class_set_runs_on_cuda (node_class, TRUE);

  g_object_class_install_property (
      object_class, PROP_RULE,
      g_param_spec_enum ("rule", "Rule", "exact-inverse, linear-threshold or backprop",
                         DISCO_TYPE_PLASTICITY_RULE, DEFAULT_RULE, rw));
  g_object_class_install_property (
      object_class, PROP_AVERAGE_RATE,
      g_param_spec_double ("average-rate", "λ",
                           "Weight of the current minibatch in the running average y₀ of the "
                           "open-loop inhibitory rate (linear-threshold; 1: the minibatch's mean)",
                           0, 1, DEFAULT_AVERAGE_RATE, rw));
  g_object_class_install_property (
      object_class, PROP_INITIAL_THRESHOLD,
      g_param_spec_double ("initial-threshold", "Initial y₀",
                           "Starting value of the running average y₀ (linear-threshold)", 1e-6, 1e6,
                           DEFAULT_INITIAL_THRESHOLD, rw));

  disco_node_class_set_metadata (node_class, "Plasticity rule", "Learning/Rule",
                                 "Turns settled network states into parameter gradients: "
                                 "exact-inverse, linear-threshold (MODEL.md §6) or backprop");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "state", DISCO_PORT_FLAG_NONE,
                             "the integrator whose solves the rule reads");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "target", DISCO_PORT_FLAG_OPTIONAL,
                             "targets, batch × outputs (backprop only)");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "gradients",
                             DISCO_PORT_FLAG_GRADIENT_NORM,
                             "the norm of all gradients of the last training tick (1 value); "
                             "optimizers read the gradients themselves");
}

static void
disco_plasticity_init (DiscoPlasticity *self)
{
  self->rule = DEFAULT_RULE;
  self->average_rate = DEFAULT_AVERAGE_RATE;
  self->initial_threshold = DEFAULT_INITIAL_THRESHOLD;
  self->buffers = g_array_new (FALSE, TRUE, sizeof (Buffer));
}
