/* disco-integrator-table.c: the integrator's network and closed loop on the
 * node's operations table, shared by both strategies: the table objects and
 * their parameters, the minibatch's first drive, the closed loop's start
 * (feedback weights), the outputs from the table's states, and the
 * record-sample trajectory (integrated on the host table). */

#include "disco-integrator-private.h"
#include "disco-device.h"
#include "disco-leaky-pi.h"
#include "disco-nodes.h"

#include <math.h>
#include <string.h>

void
_disco_integrator_clear_ops (DiscoIntegrator *self)
{
  if (self->ops_closed_loop_state != NULL)
    self->ops->free (self->ops_closed_loop_state);
  self->ops_closed_loop_state = NULL;
  self->ops_closed_loop_capacity = 0;
  if (self->fallback_rows_buffer != NULL)
    self->ops->free (self->fallback_rows_buffer);
  self->fallback_rows_buffer = NULL;
  self->fallback_rows_capacity = 0;
  g_clear_pointer (&self->ops_closed_loop, disco_ops_closed_loop_free);
  g_clear_pointer (&self->ops_network, disco_ops_network_free);
  g_clear_pointer (&self->record_closed_loop, disco_ops_closed_loop_free);
  g_clear_pointer (&self->record_network, disco_ops_network_free);
  g_clear_pointer (&self->batched, disco_ode_batched_solver_free);
  g_clear_pointer (&self->solver, disco_ode_solver_free);
  for (guint b = 0; b < G_N_ELEMENTS (self->block_solvers); b++)
    g_clear_pointer (&self->block_solvers[b], disco_ode_solver_free);
  self->ops = NULL;
}

/* The network (and, with a controller, its closed loop) on @ops, with no
 * weights: each minibatch lends the nodes' tensors (set_table_parameters). */
static gboolean
make_table_objects (DiscoIntegrator *self, const DiscoOps *ops, DiscoOpsNetwork **network,
                    DiscoOpsClosedLoop **loop, GError **error)
{
  const guint n_layers = disco_network_get_n_layers (self->network);
  g_autofree DiscoOpsLayer *layers = g_new0 (DiscoOpsLayer, n_layers);

  for (guint l = 0; l < n_layers; l++)
    {
      const DiscoLayerSpec *spec = disco_network_get_layer (self->network, l);

      layers[l] = (DiscoOpsLayer){
        .kind = spec->kind == DISCO_LAYER_READOUT ? DISCO_OPS_LAYER_READOUT
                : spec->kind == DISCO_LAYER_RATE  ? DISCO_OPS_LAYER_RATE
                                                  : DISCO_OPS_LAYER_MICROCIRCUIT,
        .n = spec->n,
        .n_in = spec->n_in,
        .phi_e = spec->phi_e,
        .phi_i = spec->phi_i,
        .tau_e = spec->tau_e,
        .tau_i = spec->kind == DISCO_LAYER_MICROCIRCUIT ? spec->tau_i : 1.0f,
      };
    }
  *network = disco_ops_network_new (ops, n_layers, layers, error);
  if (*network == NULL)
    return FALSE;
  *loop = NULL;
  if (self->controller_node != NULL)
    {
      DiscoControllerSpec spec;
      DiscoOpsController controller;

      /* find_controller() checked that it is one. */
      disco_controller_get_spec (self->controller_node, &spec);
      controller = (DiscoOpsController){
        .softmax = spec.error == DISCO_CONTROL_ERROR_CROSS_ENTROPY,
        .k_p = spec.k_p,
        .k_i = spec.k_i,
        .leak = spec.leak,
        .tau = spec.tau,
      };
      *loop = disco_ops_closed_loop_new (*network, &controller, error);
      if (*loop == NULL)
        {
          g_clear_pointer (network, disco_ops_network_free);
          return FALSE;
        }
    }
  return TRUE;
}

/* The table's network, closed loop and solvers, made for @ops once. */
gboolean
_disco_integrator_ensure_ops_objects (DiscoIntegrator *self, const DiscoOps *ops, GError **error)
{
  if (self->ops == ops)
    return TRUE;
  _disco_integrator_clear_ops (self);
  if (!make_table_objects (self, ops, &self->ops_network, &self->ops_closed_loop, error))
    {
      _disco_integrator_as_disco_error (self, error);
      return FALSE;
    }
  self->ops = ops;
  /* The compacting solver: the ODE methods' on the host table, and on any
   * table the equilibrium's fallback for its few failed samples. */
  self->solver = disco_ode_solver_new_on (ops);
  if (ops != disco_ops_cpu ())
    self->batched = disco_ode_batched_solver_new (ops);
  return TRUE;
}

/* This minibatch's parameters, where @ops computes (the optimizer changed
 * them since the last one). */
gboolean
_disco_integrator_set_table_parameters (DiscoIntegrator *self, DiscoOpsNetwork *network,
                                        const DiscoOps *ops, GError **error)
{
  for (guint l = 0; l < disco_network_get_n_layers (self->network); l++)
    {
      const DiscoLayerSpec *spec = disco_network_get_layer (self->network, l);
      const float *w = disco_tensor_read_ops (spec->weight, ops, error), *b = NULL;

      if (w == NULL
          || (spec->bias != NULL && (b = disco_tensor_read_ops (spec->bias, ops, error)) == NULL))
        return FALSE;
      disco_ops_network_set_parameters (network, l, w, b);
    }
  return TRUE;
}

/* The first layer's drive W x + b of this minibatch on @network's table. */
static gboolean
begin_batch_on (DiscoIntegrator *self, DiscoOpsNetwork *network, DiscoTensor *input, GError **error)
{
  const DiscoLayerSpec *first = disco_network_get_layer (self->network, 0);
  const DiscoOps *ops = disco_ops_network_get_ops (network);
  const float *x;

  if (disco_tensor_get_row_size (input) != first->n_in)
    {
      g_autofree char *shape = disco_tensor_shape_to_string (input);
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                   "layer \"%s\" expects %" G_GSIZE_FORMAT " inputs per sample, got a "
                   "tensor of shape %s",
                   disco_node_get_name (first->node), first->n_in, shape);
      return FALSE;
    }
  if ((x = disco_tensor_read_ops (input, ops, error)) == NULL
      || !disco_ops_network_begin_batch (network, disco_tensor_get_dim (input, 0), x, error))
    {
      _disco_integrator_as_disco_error (self, error);
      return FALSE;
    }
  return TRUE;
}

/* The table network's first drive for this tick's minibatch, once per tick
 * (process resets batch_begun): the ODE needs it at once, the equilibrium
 * only for the samples it hands to the ODE, a trajectory for its leg. */
gboolean
_disco_integrator_begin_table_batch (DiscoIntegrator *self, DiscoTensor *input, GError **error)
{
  if (self->batch_begun)
    return TRUE;
  if (!begin_batch_on (self, self->ops_network, input, error))
    return FALSE;
  self->batch_begun = TRUE;
  return TRUE;
}

/* The targets the controller received this tick, checked against B × O. */
static DiscoTensor *
checked_targets (DiscoIntegrator *self, gsize B, gsize O, GError **error)
{
  DiscoTensor *targets = _disco_integrator_controller_targets (self, error);

  if (targets != NULL
      && (disco_tensor_get_dim (targets, 0) != B || disco_tensor_get_row_size (targets) != O))
    {
      g_autofree char *text = disco_tensor_shape_to_string (targets);
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                   "controller \"%s\": targets of shape %s for %" G_GSIZE_FORMAT " samples "
                   "of %" G_GSIZE_FORMAT " outputs",
                   disco_node_get_name (self->controller_node), text, B, O);
      return NULL;
    }
  return targets;
}

/* Every layer's rates (and a microcircuit's inhibitory rates) on its ports
 * from the B × N states in the table's memory, the logits on the readout's
 * "output". */
gboolean
_disco_integrator_publish_ops (DiscoIntegrator *self, const float *state, gsize B,
                               DiscoTensor **logits, GError **error)
{
  const DiscoOps *ops = self->ops;
  const gsize N = disco_network_get_state_size (self->network);

  for (guint l = 0; l < disco_network_get_n_layers (self->network); l++)
    {
      const DiscoLayerSpec *spec = disco_network_get_layer (self->network, l);
      const gsize offset = disco_network_get_layer_offset (self->network, l);
      gsize shape[2] = { B, spec->n };
      DiscoTensor *out = disco_node_ensure_output (spec->node, "output", 2, shape);
      float *r = disco_tensor_write_ops (out, ops, error);

      if (r == NULL)
        return FALSE;
      if (spec->kind == DISCO_LAYER_READOUT)
        ops->copy_rows (B, spec->n, state + offset, N, r, spec->n);
      else if (spec->kind == DISCO_LAYER_RATE)
        ops->softrect_forward (&spec->phi_e, B, spec->n, state + offset, N, r, spec->n);
      else
        {
          float *r_i = disco_tensor_write_ops (
              disco_node_ensure_output (spec->node, "inhibitory", 2, shape), ops, error);

          if (r_i == NULL)
            return FALSE;
          ops->softrect_forward (&spec->phi_e, B, spec->n, state + offset, N, r, spec->n);
          ops->softrect_forward (&spec->phi_i, B, spec->n, state + offset + spec->n, N, r_i,
                                 spec->n);
        }
      *logits = out;
    }
  return TRUE;
}

/* The closed loop's outputs from its B × (N + O) final states (the table's
 * memory): the network part on "state" (@state), the control and its
 * integral on the controller's ports.  Every microcircuit's feedback
 * weights are already on its "feedback-weights": the loop's begin computed
 * them there (_disco_integrator_begin_closed_loop_on()). */
gboolean
_disco_integrator_publish_closed_loop (DiscoIntegrator *self, const float *closed_loop_state,
                                       gsize B, float *state, GError **error)
{
  const DiscoOps *ops = self->ops;
  const gsize N = disco_network_get_state_size (self->network);
  const gsize N_cl = disco_ops_closed_loop_get_state_size (self->ops_closed_loop);
  const gsize O = N_cl - N;
  DiscoNode *controller = self->controller_node;
  gsize c_shape[2] = { B, O };
  float *control, *integral;

  if ((control = disco_tensor_write_ops (
           disco_node_ensure_output (controller, "output", 2, c_shape), ops, error))
          == NULL
      || (integral = disco_tensor_write_ops (
              disco_node_ensure_output (controller, "integral", 2, c_shape), ops, error))
             == NULL)
    return FALSE;
  ops->copy_rows (B, N, closed_loop_state, N_cl, state, N);
  disco_ops_closed_loop_control (self->ops_closed_loop, B, closed_loop_state, control);
  ops->copy_rows (B, O, closed_loop_state + N, N_cl, integral, O);
  return TRUE;
}

/* ops_closed_loop_state for B closed-loop states, in the table's memory. */
gboolean
_disco_integrator_ensure_closed_loop_state (DiscoIntegrator *self, gsize B, GError **error)
{
  const gsize N_cl = disco_ops_closed_loop_get_state_size (self->ops_closed_loop);

  if (B * N_cl <= self->ops_closed_loop_capacity)
    return TRUE;
  if (self->ops_closed_loop_state != NULL)
    self->ops->free (self->ops_closed_loop_state);
  self->ops_closed_loop_capacity = 0;
  self->ops_closed_loop_state = self->ops->alloc (B * N_cl * sizeof (float), error);
  if (self->ops_closed_loop_state == NULL)
    return FALSE;
  self->ops_closed_loop_capacity = B * N_cl;
  return TRUE;
}

/* The closed loop's start from the open-loop states (B × N in @ops's
 * memory): its feedback weights, and the initial states in @state
 * (B × (N + O), @ops's memory). */
gboolean
_disco_integrator_begin_closed_loop_on (DiscoIntegrator *self, const DiscoOps *ops,
                                        DiscoOpsClosedLoop *loop, const float *open_loop, gsize B,
                                        float *state, GError **error)
{
  const gsize N = disco_network_get_state_size (self->network);
  const gsize O = disco_ops_closed_loop_get_state_size (loop) - N;
  DiscoOpsFeedbackOptions options = { self->feedback_average, self->feedback_clip,
                                      self->feedback_norm };
  DiscoTensor *targets = checked_targets (self, B, O, error);
  const gboolean publishes = loop == self->ops_closed_loop && ops == self->ops;
  const float *t;

  if (targets == NULL || (t = disco_tensor_read_ops (targets, ops, error)) == NULL)
    return FALSE;
  /* Each microcircuit's feedback weights straight into its
   * "feedback-weights" output, which the closed loop then reads there: that
   * publishes them.  Only the node's own loop on its own table: a
   * trajectory recorded on the host for a device run begins a loop of its
   * own, which must leave the outputs where the solve put them. */
  for (guint l = 0; publishes && l < disco_network_get_n_layers (self->network); l++)
    {
      const DiscoLayerSpec *spec = disco_network_get_layer (self->network, l);
      gsize q_shape[3] = { B, O, spec->n };
      float *out;

      if (spec->kind != DISCO_LAYER_MICROCIRCUIT)
        continue;
      out = disco_tensor_write_ops (
          disco_node_ensure_output (spec->node, "feedback-weights", 3, q_shape), ops, error);
      if (out == NULL)
        return FALSE;
      disco_ops_closed_loop_set_feedback_destination (loop, l, out);
    }
  return disco_ops_closed_loop_begin (loop, B, open_loop, t, &options, state, error);
}

/* Integrates sample @row alone with RK4 on a regular grid from @y (M values,
 * host memory) until it is at rest (the solver's test) or the duration is
 * over, appending every state's network part and control to @rows; the
 * right-hand side is the host table's @network, or its closed loop @loop
 * when M > N. */
static gboolean
record_leg (DiscoIntegrator *self, DiscoOpsNetwork *network, DiscoOpsClosedLoop *loop, gsize M,
            guint row, float *y, double t0, GArray *rows, GArray *times, GError **error)
{
  const gsize N = disco_network_get_state_size (self->network);
  const gsize O =
      disco_network_get_layer (self->network, disco_network_get_n_layers (self->network) - 1)->n;
  const gboolean closed = M > N;
  DiscoOdeRhsFunc rhs = closed ? disco_ops_closed_loop_rhs_compact : disco_ops_network_rhs_compact;
  gpointer system = closed ? (gpointer) loop : (gpointer) network;
  const double h = self->record_interval;
  g_autofree float *k = g_new (float, 4 * M);
  g_autofree float *tmp = g_new (float, M);
  g_autofree float *c = g_new0 (float, O);
  const guint max_rows = MIN (self->duration / h, (double) G_MAXINT / 2) + 1;

  for (guint step = 0; step < max_rows; step++)
    {
      double t = step * h, rms_f = 0, rms_y = 0;
      float *k1 = k, *k2 = k + M, *k3 = k + 2 * M, *k4 = k + 3 * M;

      if (closed && !disco_ops_closed_loop_control_compact (loop, 1, &row, y, c, error))
        return FALSE;
      g_array_append_vals (rows, y, N);
      g_array_append_vals (rows, c, O);
      {
        float time = t0 + t;
        g_array_append_val (times, time);
      }
      if (!rhs (system, 1, &row, &t, y, k1, error))
        return FALSE;
      for (gsize i = 0; i < M; i++)
        {
          rms_f += (double) k1[i] * k1[i];
          rms_y += (double) y[i] * y[i];
        }
      if (sqrt (rms_f / M) < self->atol + self->rtol * sqrt (rms_y / M))
        break;
      /* Classic RK4 (the recording only needs to look right, on a grid). */
      for (gsize i = 0; i < M; i++)
        tmp[i] = y[i] + 0.5 * h * k1[i];
      if (!rhs (system, 1, &row, &t, tmp, k2, error))
        return FALSE;
      for (gsize i = 0; i < M; i++)
        tmp[i] = y[i] + 0.5 * h * k2[i];
      if (!rhs (system, 1, &row, &t, tmp, k3, error))
        return FALSE;
      for (gsize i = 0; i < M; i++)
        tmp[i] = y[i] + h * k3[i];
      if (!rhs (system, 1, &row, &t, tmp, k4, error))
        return FALSE;
      for (gsize i = 0; i < M; i++)
        y[i] += h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
    }
  return TRUE;
}

/* The "trajectory" outputs: how sample record-sample settles, open loop from
 * zero, then (training ticks) closed loop from its open-loop steady state.
 * A diagnostic of one sample, on the host table: the node's own table
 * objects on the CPU (the minibatch and its closed loop already begun),
 * their host twins on a device, begun here from host copies. */
gboolean
_disco_integrator_record_trajectory (DiscoIntegrator *self, DiscoTensor *input, gsize B,
                                     gboolean closed, GError **error)
{
  DiscoNode *node = DISCO_NODE (self);
  const DiscoOps *host = disco_ops_cpu ();
  const gsize N = disco_network_get_state_size (self->network);
  const gsize O =
      disco_network_get_layer (self->network, disco_network_get_n_layers (self->network) - 1)->n;
  const guint row = self->record_sample;
  g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr (GArray) times = g_array_new (FALSE, FALSE, sizeof (float));
  g_autofree float *y = g_new0 (float, N + O);
  const float *open_loop;
  DiscoOpsNetwork *network = self->ops_network;
  DiscoOpsClosedLoop *loop = self->ops_closed_loop;
  gsize shape[2], one[1] = { 1 };
  float ol_rows;

  if ((open_loop = disco_tensor_read_host (disco_node_get_output (node, "open-loop-state"), error))
      == NULL)
    return FALSE;
  if (self->ops != host)
    {
      if (self->record_network == NULL
          && !make_table_objects (self, host, &self->record_network, &self->record_closed_loop,
                                  error))
        return FALSE;
      network = self->record_network;
      loop = self->record_closed_loop;
      if (!_disco_integrator_set_table_parameters (self, network, host, error)
          || !begin_batch_on (self, network, input, error))
        return FALSE;
      if (closed)
        {
          g_autofree float *state = g_new (float, B *(N + O));

          if (!_disco_integrator_begin_closed_loop_on (self, host, loop, open_loop, B, state,
                                                       error))
            return FALSE;
        }
    }
  else if (!_disco_integrator_begin_table_batch (self, input, error))
    return FALSE;
  if (!record_leg (self, network, loop, N, row, y, 0, rows, times, error))
    return FALSE;
  ol_rows = times->len;
  if (closed)
    {
      double t0 = g_array_index (times, float, times->len - 1);

      memcpy (y, open_loop + (gsize) row * N, N * sizeof (float));
      memset (y + N, 0, O * sizeof (float));
      if (!record_leg (self, network, loop, N + O, row, y, t0, rows, times, error))
        return FALSE;
    }
  shape[0] = times->len;
  shape[1] = N + O;
  if (!disco_tensor_set_values (disco_node_ensure_output (node, "trajectory", 2, shape),
                                (const float *) rows->data, rows->len, error)
      || !disco_tensor_set_values (disco_node_ensure_output (node, "trajectory-times", 1, shape),
                                   (const float *) times->data, times->len, error)
      || !disco_tensor_set_values (
          disco_node_ensure_output (node, "trajectory-open-loop-rows", 1, one), &ol_rows, 1, error))
    return FALSE;
  return TRUE;
}
