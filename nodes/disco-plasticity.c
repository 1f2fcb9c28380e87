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
 * Device path: when disco_node_get_ops() gives a table (a pipeline on CUDA,
 * or #DISCO_DEVICE_PATH_ENV = `table`), every rule computes through it: the
 * local rules on the integrator's state tensors, backprop on the inputs,
 * targets and weights, all in the table's memory, and the gradients, the
 * running thresholds and the norm stay there; the host sees them only when
 * it reads them (a checkpoint, a test).  On the host table the local
 * rules' results are bit-identical to the host code; backprop's agree to
 * rounding, since the table's φ is the fast one (within 4 ulp) where the
 * host code's backprop takes the reference φ.
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

#include <math.h>
#include <string.h>

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

  GPtrArray *scratch;     /* float buffers reused between ticks */

  /* The device path's buffers (δ, rates, the norm's running sum), in the
   * memory of ops_scratch's table; reused between ticks. */
  const DiscoOps *ops_scratch;
  GArray *device_scratch;  /* DeviceBuffer */
};

typedef struct
{
  gpointer data;
  gsize size;
} DeviceBuffer;

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
free_device_scratch (DiscoPlasticity *self)
{
  for (guint i = 0; i < self->device_scratch->len; i++)
    self->ops_scratch->free (g_array_index (self->device_scratch, DeviceBuffer, i).data);
  g_array_set_size (self->device_scratch, 0);
  self->ops_scratch = NULL;
}

static void
disco_plasticity_finalize (GObject *object)
{
  DiscoPlasticity *self = DISCO_PLASTICITY (object);

  free_device_scratch (self);
  g_array_unref (self->device_scratch);
  g_ptr_array_unref (self->scratch);
  G_OBJECT_CLASS (disco_plasticity_parent_class)->finalize (object);
}

static void
disco_plasticity_get_property (GObject *object, guint prop_id, GValue *value,
                               GParamSpec *pspec)
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
  DiscoNetwork *network = DISCO_IS_NETWORK_PROVIDER (integrator)
    ? disco_network_provider_get_network (DISCO_NETWORK_PROVIDER (integrator)) : NULL;

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
                       backprop ? "rate-layer" : "microcircuit",
                       disco_node_get_name (spec->node));
          return FALSE;
        }
      if (self->rule == DISCO_PLASTICITY_LINEAR_THRESHOLD)
        {
          /* The running threshold y₀ per neuron: state to checkpoint. */
          g_autofree char *name = g_strdup_printf ("threshold:%s", disco_node_get_name (spec->node));
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

static float *
scratch (DiscoPlasticity *self, guint index, gsize n)
{
  GBytes *bytes;

  while (self->scratch->len <= index)
    g_ptr_array_add (self->scratch, NULL);
  bytes = g_ptr_array_index (self->scratch, index);
  if (bytes == NULL || g_bytes_get_size (bytes) < n * sizeof (float))
    {
      if (bytes != NULL)
        g_bytes_unref (bytes);
      bytes = g_bytes_new_take (g_new0 (float, n), n * sizeof (float));
      g_ptr_array_index (self->scratch, index) = bytes;
    }
  return (float *) g_bytes_get_data (bytes, NULL);
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

/* Publishes g_W = δᵀ R / B and g_b = mean δ for one layer; adds to |g|².
 * Fails only when the gradient tensors cannot have their memory. */
static gboolean
publish (DiscoNode *node, const DiscoLayerSpec *spec, const float *delta, const float *inputs,
         gsize B, double *norm2, GError **error)
{
  const gsize wshape[2] = { spec->n, spec->n_in };
  DiscoTensor *gw = ensure_gradient (node, spec, ".weight", 2, wshape);
  float *g;

  g = disco_tensor_write_host (gw, error);
  if (g == NULL)
    return FALSE;
  /* n × n_in = δᵀ (n × B) · R (B × n_in) / B */
  disco_gemm_cpu (TRUE, FALSE, spec->n, spec->n_in, B, 1.0f / B, delta, spec->n, inputs,
                  spec->n_in, 0.0f, g, spec->n_in);
  for (gsize i = 0; i < spec->n * spec->n_in; i++)
    *norm2 += (double) g[i] * g[i];

  if (spec->bias != NULL)
    {
      const gsize bshape[1] = { spec->n };
      DiscoTensor *gb = ensure_gradient (node, spec, ".bias", 1, bshape);

      g = disco_tensor_write_host (gb, error);
      if (g == NULL)
        return FALSE;
      for (gsize j = 0; j < spec->n; j++)
        {
          double sum = 0;
          for (gsize s = 0; s < B; s++)
            sum += delta[s * spec->n + j];
          g[j] = sum / B;
          *norm2 += (double) g[j] * g[j];
        }
    }
  return TRUE;
}

/* r = φ_E(u_E) (or φ(u), or y for the readout) of layer l, B × n. */
static void
layer_rates (DiscoNetwork *network, guint l, const float *state, gsize B, float *r)
{
  const DiscoLayerSpec *spec = disco_network_get_layer (network, l);
  const gsize N = disco_network_get_state_size (network);
  const gsize offset = disco_network_get_layer_offset (network, l);

  for (gsize s = 0; s < B; s++)
    for (gsize j = 0; j < spec->n; j++)
      {
        float u = state[s * N + offset + j];
        r[s * spec->n + j] = spec->kind == DISCO_LAYER_READOUT
                               ? u : disco_softrect_forward (&spec->phi_e, u);
      }
}

static gboolean
local_rules (DiscoPlasticity *self, DiscoNetwork *network, const float *x, const float *cl,
             const float *ol, gsize B, double *norm2, GError **error)
{
  DiscoNode *node = DISCO_NODE (self);
  const guint n_layers = disco_network_get_n_layers (network);
  const gsize N = disco_network_get_state_size (network);
  const float *inputs = x;

  for (guint l = 0; l < n_layers; l++)
    {
      const DiscoLayerSpec *spec = disco_network_get_layer (network, l);
      const gsize n = spec->n, offset = disco_network_get_layer_offset (network, l);
      float *delta = scratch (self, 2 * l, B * n);
      float *rates = scratch (self, 2 * l + 1, B * n);

      layer_rates (network, l, cl, B, rates);
      if (spec->kind == DISCO_LAYER_READOUT)
        {
          /* δ_out = W_out r_L − y */
          const float *w = disco_tensor_read_host (spec->weight, error);
          if (w == NULL)
            return FALSE;
          disco_gemm_cpu (FALSE, TRUE, B, n, spec->n_in, 1.0f, inputs, spec->n_in, w,
                          spec->n_in, 0.0f, delta, n);
          for (gsize s = 0; s < B; s++)
            for (gsize j = 0; j < n; j++)
              delta[s * n + j] -= cl[s * N + offset + j];
        }
      else if (self->rule == DISCO_PLASTICITY_EXACT_INVERSE)
        {
          for (gsize s = 0; s < B; s++)
            for (gsize j = 0; j < n; j++)
              {
                float u_e = cl[s * N + offset + j], u_i = cl[s * N + offset + n + j];
                delta[s * n + j] = (u_i - rates[s * n + j]) *
                                   disco_softrect_derivative (&spec->phi_e, u_e);
              }
        }
      else
        {
          g_autofree char *name = g_strdup_printf ("threshold:%s", disco_node_get_name (spec->node));
          float *y0 = disco_tensor_write_host (disco_node_get_parameter (node, name), error);
          const float lambda = self->average_rate;

          if (y0 == NULL)
            return FALSE;
          for (gsize j = 0; j < n; j++)
            {
              double mean = 0;
              float a, b;

              for (gsize s = 0; s < B; s++)
                mean += disco_softrect_forward (&spec->phi_i, ol[s * N + offset + n + j]);
              y0[j] = (1.0f - lambda) * y0[j] + lambda * (float) (mean / B);
              disco_softrect_taylor_line (&spec->phi_i, y0[j], &a, &b);
              for (gsize s = 0; s < B; s++)
                {
                  float u_e = cl[s * N + offset + j];
                  float r_i = disco_softrect_forward (&spec->phi_i, cl[s * N + offset + n + j]);
                  delta[s * n + j] = (a + b * r_i - rates[s * n + j]) *
                                     disco_softrect_derivative (&spec->phi_e, u_e);
                }
            }
        }
      if (!publish (node, spec, delta, inputs, B, norm2, error))
        return FALSE;
      inputs = rates;
    }
  return TRUE;
}

/* ----- device path ------------------------------------------------------------
 *
 * The local rules written once against a DiscoOps table: every array below
 * is in the table's memory, and nothing is copied to the host.  Each step
 * is the host code's arithmetic in the same order (disco-kernels.h), so on
 * the host table the gradients are the host path's to the bit. */

/* Buffer @index of at least @size bytes in @ops's memory; a fresh one is
 * zeroed when @zero is set (the norm's running sum starts at 0, and
 * norm_finish leaves it at 0 for the next tick). */
static gpointer
device_scratch (DiscoPlasticity *self, const DiscoOps *ops, guint index, gsize size,
                gboolean zero, GError **error)
{
  DeviceBuffer *buffer;

  if (self->ops_scratch != ops)
    {
      free_device_scratch (self);
      self->ops_scratch = ops;
    }
  if (self->device_scratch->len <= index)
    g_array_set_size (self->device_scratch, index + 1);
  buffer = &g_array_index (self->device_scratch, DeviceBuffer, index);
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

/* publish() through @ops: g_W = δᵀ R / B (the table's GEMM), g_b = the batch
 * mean of δ; both squared norms go to the running sum @acc. */
static gboolean
publish_ops (DiscoNode *node, const DiscoOps *ops, const DiscoLayerSpec *spec,
             const float *delta, const float *inputs, gsize B, double *acc, GError **error)
{
  const gsize wshape[2] = { spec->n, spec->n_in };
  float *g = disco_tensor_write_ops (ensure_gradient (node, spec, ".weight", 2, wshape), ops,
                                     error);

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

/* The output "gradients": √ of the running sum @acc that publish_ops()
 * filled, which norm_finish leaves at 0 for the next tick. */
static gboolean
finish_norm_ops (DiscoNode *node, const DiscoOps *ops, double *acc, GError **error)
{
  float *norm = disco_tensor_write_ops (disco_node_get_output (node, "gradients"), ops, error);

  if (norm == NULL)
    return FALSE;
  ops->norm_finish (acc, norm);
  /* Reports a failed launch now rather than at the next download. */
  return ops->check (error);
}

/* local_rules() and the norm output through @ops. */
static gboolean
local_rules_ops (DiscoPlasticity *self, const DiscoOps *ops, DiscoNetwork *network,
                 DiscoTensor *x_tensor, DiscoTensor *cl_tensor, DiscoTensor *ol_tensor, gsize B,
                 GError **error)
{
  DiscoNode *node = DISCO_NODE (self);
  const guint n_layers = disco_network_get_n_layers (network);
  const gsize N = disco_network_get_state_size (network);
  const float *x, *cl, *ol, *inputs;
  double *acc;

  if ((x = disco_tensor_read_ops (x_tensor, ops, error)) == NULL ||
      (cl = disco_tensor_read_ops (cl_tensor, ops, error)) == NULL ||
      (ol = disco_tensor_read_ops (ol_tensor, ops, error)) == NULL ||
      (acc = device_scratch (self, ops, 2 * n_layers, sizeof (double), TRUE, error)) == NULL)
    return FALSE;

  inputs = x;
  for (guint l = 0; l < n_layers; l++)
    {
      const DiscoLayerSpec *spec = disco_network_get_layer (network, l);
      const gsize n = spec->n, offset = disco_network_get_layer_offset (network, l);
      float *delta = device_scratch (self, ops, 2 * l, B * n * sizeof (float), FALSE, error);
      float *rates = device_scratch (self, ops, 2 * l + 1, B * n * sizeof (float), FALSE, error);

      if (delta == NULL || rates == NULL)
        return FALSE;
      if (spec->kind == DISCO_LAYER_READOUT)
        {
          /* δ_out = W_out r_L − y; the readout's rates feed no layer. */
          const float *w = disco_tensor_read_ops (spec->weight, ops, error);
          if (w == NULL)
            return FALSE;
          ops->gemm (FALSE, TRUE, B, n, spec->n_in, 1.0f, inputs, spec->n_in, w, spec->n_in,
                     0.0f, delta, n);
          ops->sub_rows (B, n, cl + offset, N, delta, n);
        }
      else
        {
          float *y0 = NULL;

          if (self->rule == DISCO_PLASTICITY_LINEAR_THRESHOLD)
            {
              /* y₀ first, then the Taylor line around it (MODEL.md §6). */
              g_autofree char *name = g_strdup_printf ("threshold:%s",
                                                       disco_node_get_name (spec->node));
              y0 = disco_tensor_write_ops (disco_node_get_parameter (node, name), ops, error);
              if (y0 == NULL)
                return FALSE;
              ops->threshold_update (&spec->phi_i, self->average_rate, B, n, ol + offset + n, N,
                                     y0);
            }
          ops->plasticity_delta (&spec->phi_e, &spec->phi_i, B, n, cl + offset, N, y0, rates, n,
                                 delta, n);
        }
      if (!publish_ops (node, ops, spec, delta, inputs, B, acc, error))
        return FALSE;
      inputs = rates;
    }
  return finish_norm_ops (node, ops, acc, error);
}

/* Backprop through r_l = φ(W_l r_{l−1} + b_l), y = W_out r_L, loss −Σ t log softmax(y). */
static gboolean
backprop (DiscoPlasticity *self, DiscoNetwork *network, const float *x, const float *targets,
          gsize B, double *norm2, GError **error)
{
  const guint n_layers = disco_network_get_n_layers (network);
  float **u = g_newa (float *, n_layers), **r = g_newa (float *, n_layers);
  const float *inputs = x;

  /* Forward, exactly: the gradient must not depend on the ODE's tolerance. */
  for (guint l = 0; l < n_layers; l++)
    {
      const DiscoLayerSpec *spec = disco_network_get_layer (network, l);
      const float *w = disco_tensor_read_host (spec->weight, error);
      const float *b = spec->bias ? disco_tensor_read_host (spec->bias, error) : NULL;

      if (w == NULL)
        return FALSE;
      u[l] = scratch (self, 3 * l, B * spec->n);
      r[l] = scratch (self, 3 * l + 1, B * spec->n);
      for (gsize s = 0; s < B; s++)
        for (gsize j = 0; j < spec->n; j++)
          u[l][s * spec->n + j] = b != NULL ? b[j] : 0.0f;
      disco_gemm_cpu (FALSE, TRUE, B, spec->n, spec->n_in, 1.0f, inputs, spec->n_in, w,
                      spec->n_in, 1.0f, u[l], spec->n);
      for (gsize i = 0; i < B * spec->n; i++)
        r[l][i] = spec->kind == DISCO_LAYER_READOUT ? u[l][i]
                                                    : disco_softrect_forward (&spec->phi_e, u[l][i]);
      inputs = r[l];
    }

  /* Backward: δ_out = softmax(y) − t, δ_l = (δ_{l+1} W_{l+1}) ⊙ φ′(u_l). */
  for (gint l = n_layers - 1; l >= 0; l--)
    {
      const DiscoLayerSpec *spec = disco_network_get_layer (network, l);
      float *delta = scratch (self, 3 * l + 2, B * spec->n);

      if (l == (gint) n_layers - 1)
        {
          disco_softmax_rows_cpu (B, spec->n, r[l], spec->n, delta, spec->n);
          for (gsize i = 0; i < B * spec->n; i++)
            delta[i] -= targets[i];
        }
      else
        {
          const DiscoLayerSpec *above = disco_network_get_layer (network, l + 1);
          const float *w = disco_tensor_read_host (above->weight, error);
          const float *delta_above = scratch (self, 3 * (l + 1) + 2, B * above->n);

          disco_gemm_cpu (FALSE, FALSE, B, spec->n, above->n, 1.0f, delta_above, above->n, w,
                          spec->n, 0.0f, delta, spec->n);
          for (gsize i = 0; i < B * spec->n; i++)
            delta[i] *= disco_softrect_derivative (&spec->phi_e, u[l][i]);
        }
      if (!publish (DISCO_NODE (self), spec, delta, l == 0 ? x : r[l - 1], B, norm2, error))
        return FALSE;
    }
  return TRUE;
}

/* backprop() and the norm output through @ops, in the same steps and
 * scratch layout (u_l, r_l, δ_l of layer l at 3l, 3l + 1, 3l + 2).  One
 * difference on the host table: its softrect_forward is the fast φ, within
 * 4 ulp of disco_softrect_forward(), so the gradients agree with the host
 * code's to rounding, not to the bit (tests/learning/test-learning-device.c
 * measures it). */
static gboolean
backprop_ops (DiscoPlasticity *self, const DiscoOps *ops, DiscoNetwork *network,
              DiscoTensor *x_tensor, DiscoTensor *target_tensor, gsize B, GError **error)
{
  DiscoNode *node = DISCO_NODE (self);
  const guint n_layers = disco_network_get_n_layers (network);
  float **u = g_newa (float *, n_layers), **r = g_newa (float *, n_layers);
  float **delta = g_newa (float *, n_layers);
  const float *x, *targets, *inputs;
  float *ones;
  double *acc;

  if ((x = disco_tensor_read_ops (x_tensor, ops, error)) == NULL ||
      (targets = disco_tensor_read_ops (target_tensor, ops, error)) == NULL ||
      (acc = device_scratch (self, ops, 3 * n_layers, sizeof (double), TRUE, error)) == NULL ||
      (ones = device_scratch (self, ops, 3 * n_layers + 1, B * sizeof (float), FALSE,
                              error)) == NULL)
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

      if (w == NULL ||
          (spec->bias != NULL && (b = disco_tensor_read_ops (spec->bias, ops, error)) == NULL) ||
          (u[l] = device_scratch (self, ops, 3 * l, B * n * sizeof (float), FALSE,
                                  error)) == NULL)
        return FALSE;
      disco_ops_affine_rows (ops, B, n, spec->n_in, inputs, w, b, ones, u[l]);
      if (spec->kind == DISCO_LAYER_READOUT)
        r[l] = u[l];
      else
        {
          if ((r[l] = device_scratch (self, ops, 3 * l + 1, B * n * sizeof (float), FALSE,
                                      error)) == NULL)
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

      if ((delta[l] = device_scratch (self, ops, 3 * l + 2, B * n * sizeof (float), FALSE,
                                      error)) == NULL)
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
      if (!publish_ops (node, ops, spec, delta[l], l == 0 ? x : r[l - 1], B, acc, error))
        return FALSE;
    }
  return finish_norm_ops (node, ops, acc, error);
}

static DiscoFlowReturn
disco_plasticity_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  DiscoPlasticity *self = DISCO_PLASTICITY (node);
  DiscoNode *integrator = disco_node_get_input_node (node, "state", NULL);
  DiscoNetwork *network;
  DiscoTensor *x_tensor, *cl_tensor, *ol_tensor, *target_tensor = NULL;
  const float *x, *cl, *ol, *targets = NULL;
  const DiscoOps *ops;
  double norm2 = 0;
  gsize B;
  float *norm;

  if (tick->phase == DISCO_PHASE_VALIDATION || tick->phase == DISCO_PHASE_TEST)
    return DISCO_FLOW_OK;
  if ((network = linked_network (node, error)) == NULL ||
      (x_tensor = disco_network_get_input (network, error)) == NULL)
    return DISCO_FLOW_ERROR;
  cl_tensor = disco_node_get_output (integrator, "state");
  ol_tensor = disco_node_get_output (integrator, "open-loop-state");
  if (self->rule == DISCO_PLASTICITY_BACKPROP)
    target_tensor = disco_node_get_input (node, "target");
  B = disco_tensor_get_dim (x_tensor, 0);
  if (cl_tensor == NULL || ol_tensor == NULL || disco_tensor_get_dim (cl_tensor, 0) != B ||
      (self->rule == DISCO_PLASTICITY_BACKPROP &&
       (target_tensor == NULL || disco_tensor_get_dim (target_tensor, 0) != B ||
        disco_tensor_get_row_size (target_tensor) !=
          disco_network_get_layer (network, disco_network_get_n_layers (network) - 1)->n)))
    {
      /* Backprop reads B × outputs targets, on either path. */
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                   "node \"%s\": the integrator's states or the targets do not match this "
                   "tick's minibatch and the network's outputs", disco_node_get_name (node));
      return DISCO_FLOW_ERROR;
    }
  ops = disco_node_get_ops (node);
  if (ops != NULL)
    return (self->rule == DISCO_PLASTICITY_BACKPROP
              ? backprop_ops (self, ops, network, x_tensor, target_tensor, B, error)
              : local_rules_ops (self, ops, network, x_tensor, cl_tensor, ol_tensor, B, error))
             ? DISCO_FLOW_OK : DISCO_FLOW_ERROR;
  if ((x = disco_tensor_read_host (x_tensor, error)) == NULL ||
      (cl = disco_tensor_read_host (cl_tensor, error)) == NULL ||
      (ol = disco_tensor_read_host (ol_tensor, error)) == NULL ||
      (target_tensor != NULL && (targets = disco_tensor_read_host (target_tensor, error)) == NULL))
    return DISCO_FLOW_ERROR;

  if (self->rule == DISCO_PLASTICITY_BACKPROP
        ? !backprop (self, network, x, targets, B, &norm2, error)
        : !local_rules (self, network, x, cl, ol, B, &norm2, error))
    return DISCO_FLOW_ERROR;

  norm = disco_tensor_write_host (disco_node_get_output (node, "gradients"), error);
  if (norm == NULL)
    return DISCO_FLOW_ERROR;
  norm[0] = sqrt (norm2);
  return DISCO_FLOW_OK;
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
  /* Every rule has a device path. */
  disco_node_class_set_runs_on_cuda (node_class, TRUE);

  g_object_class_install_property (object_class, PROP_RULE,
    g_param_spec_enum ("rule", "Rule", "exact-inverse, linear-threshold or backprop",
                       DISCO_TYPE_PLASTICITY_RULE, DEFAULT_RULE, rw));
  g_object_class_install_property (object_class, PROP_AVERAGE_RATE,
    g_param_spec_double ("average-rate", "λ",
                         "Weight of the current minibatch in the running average y₀ of the "
                         "open-loop inhibitory rate (linear-threshold; 1: the minibatch's mean)",
                         0, 1, DEFAULT_AVERAGE_RATE, rw));
  g_object_class_install_property (object_class, PROP_INITIAL_THRESHOLD,
    g_param_spec_double ("initial-threshold", "Initial y₀",
                         "Starting value of the running average y₀ (linear-threshold)",
                         1e-6, 1e6, DEFAULT_INITIAL_THRESHOLD, rw));

  disco_node_class_set_metadata (node_class, "Plasticity rule", "Learning/Rule",
                                 "Turns settled network states into parameter gradients: "
                                 "exact-inverse, linear-threshold (MODEL.md §6) or backprop");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "state", DISCO_PORT_FLAG_NONE,
                             "the integrator whose solves the rule reads");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "target", DISCO_PORT_FLAG_OPTIONAL,
                             "targets, batch × outputs (backprop only)");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "gradients", DISCO_PORT_FLAG_NONE,
                             "the norm of all gradients of the last training tick (1 value); "
                             "optimizers read the gradients themselves");
}

static void
disco_plasticity_init (DiscoPlasticity *self)
{
  self->rule = DEFAULT_RULE;
  self->average_rate = DEFAULT_AVERAGE_RATE;
  self->initial_threshold = DEFAULT_INITIAL_THRESHOLD;
  self->scratch = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  self->device_scratch = g_array_new (FALSE, TRUE, sizeof (DeviceBuffer));
}
