/* disco-integrator-ode.c: the ODE methods (tsit5, euler, rk4): the open and
 * closed loops integrated on the node's table, with the compacting solver on
 * the host table and the lockstep solver on a device. */

#include "disco-integrator-private.h"
#include "disco-device.h"
#include "disco-nodes.h"

/* The solve's per-sample statistics into the node's last-* properties;
 * returns the mean steps (accepted and rejected) per sample. */
static double
record_step_statistics (DiscoIntegrator *self, gsize B)
{
  double total_steps = 0, total_evaluations = 0;
  guint max_steps = 0;

  for (gsize s = 0; s < B; s++)
    {
      guint n = self->stats[s].n_accepted + self->stats[s].n_rejected;

      self->unconverged_rows[s] |= _disco_integrator_unconverged_bits (self, &self->stats[s]);
      total_steps += n;
      total_evaluations += self->stats[s].n_rhs_evals;
      max_steps = MAX (max_steps, n);
    }
  self->last_mean_evaluations = total_evaluations / B;
  self->last_max_steps = max_steps;
  return total_steps / B;
}

/* Solves B rows of n_state values in place (the table's memory): on the
 * host table with the compacting solver (finished samples leave the
 * batch: the fastest on a CPU), on a device table in lockstep (finished
 * samples are masked; the host polls every few steps).  Fills the
 * per-sample statistics and the step properties. */
static gboolean
solve_ops (DiscoIntegrator *self, gsize B, gsize n_state, float *state, gboolean closed,
           double *mean_steps, GError **error)
{
  DiscoOdeConfig config;
  gboolean solved;

  if (B > self->stats_capacity)
    {
      g_free (self->stats);
      self->stats = g_new (DiscoOdeSampleStats, B);
      self->stats_capacity = B;
    }
  _disco_integrator_fill_config (self, &config);
  if (self->ops == disco_ops_cpu ())
    solved = disco_ode_solver_solve (
        self->solver, &config, B, n_state, state,
        closed ? disco_ops_closed_loop_rhs_compact : disco_ops_network_rhs_compact,
        closed ? (gpointer) self->ops_closed_loop : (gpointer) self->ops_network, self->stats,
        error);
  else
    {
      DiscoOdeBatchedInfo info;

      solved = disco_ode_batched_solver_solve (
          self->batched, &config, 0, B, n_state, state,
          closed ? disco_ops_closed_loop_rhs : disco_ops_network_rhs,
          closed ? (gpointer) self->ops_closed_loop : (gpointer) self->ops_network, self->stats,
          &info, error);
      /* The polls, and the statistics' download at the end. */
      self->last_host_syncs += info.n_syncs + 1;
      self->last_host_wait_seconds += info.wait_seconds;
    }
  if (!solved)
    {
      _disco_integrator_as_disco_error (self, error);
      return FALSE;
    }
  *mean_steps = record_step_statistics (self, B);
  return TRUE;
}

/* Feedback weights, the closed-loop solve and its outputs (MODEL.md §5.2–3)
 * from the open-loop states @open_loop (B × N, the table's memory). */
static gboolean
settle_closed_loop_ops (DiscoIntegrator *self, const float *open_loop, gsize B,
                        DiscoTensor **logits, GError **error)
{
  DiscoNode *node = DISCO_NODE (self);
  const DiscoOps *ops = self->ops;
  const gsize N = disco_network_get_state_size (self->network);
  const gsize N_cl = disco_ops_closed_loop_get_state_size (self->ops_closed_loop);
  gsize shape[2] = { B, N };
  float *state;
  double mean_steps;
  gint64 start;

  if (!_disco_integrator_ensure_closed_loop_state (self, B, error))
    return FALSE;

  /* Queued work: on CUDA this measures the queueing; the closed loop's
   * time then includes the feedback weights'. */
  start = g_get_monotonic_time ();
  if (!_disco_integrator_begin_closed_loop_on (self, ops, self->ops_closed_loop, open_loop, B,
                                               self->ops_closed_loop_state, error))
    return FALSE;
  self->last_feedback_seconds = (g_get_monotonic_time () - start) / 1e6;
  start = g_get_monotonic_time ();
  if (!solve_ops (self, B, N_cl, self->ops_closed_loop_state, TRUE, &mean_steps, error))
    return FALSE;
  self->last_closed_loop_seconds = (g_get_monotonic_time () - start) / 1e6;
  self->last_closed_loop_evaluations = self->last_mean_evaluations;
  self->last_mean_closed_loop_steps = mean_steps;
  self->last_max_contraction = 0;

  if ((state =
           disco_tensor_write_ops (disco_node_ensure_output (node, "state", 2, shape), ops, error))
          == NULL
      || !_disco_integrator_publish_closed_loop (self, self->ops_closed_loop_state, B, state,
                                                 error))
    return FALSE;
  return _disco_integrator_publish_ops (self, state, B, logits, error);
}

/* One tick of an ODE method on the node's table: the open loop, and on
 * training ticks with a controller the closed loop (MODEL.md §5.1–3). */
DiscoFlowReturn
_disco_integrator_process_ode (DiscoIntegrator *self, DiscoTensor *input, gboolean closed,
                               GError **error)
{
  DiscoNode *node = DISCO_NODE (self);
  const DiscoOps *ops = self->ops;
  const gsize N = disco_network_get_state_size (self->network);
  const gsize B = disco_tensor_get_dim (input, 0);
  gsize state_shape[2] = { B, N }, steps_shape[1] = { B };
  DiscoTensor *logits = NULL;
  float *open_loop, *steps;
  gint64 start;

  if (!_disco_integrator_begin_table_batch (self, input, error))
    return DISCO_FLOW_ERROR;
  open_loop = disco_tensor_write_ops (
      disco_node_ensure_output (node, "open-loop-state", 2, state_shape), ops, error);
  /* Step counts are the host's: they come with the statistics. */
  steps = disco_tensor_write_host (disco_node_ensure_output (node, "steps", 1, steps_shape), error);
  if (open_loop == NULL || steps == NULL)
    return DISCO_FLOW_ERROR;

  /* Open loop from the zero state (MODEL.md §2, §5.1). */
  start = g_get_monotonic_time ();
  ops->fill (B * N, 0.0f, open_loop);
  if (!solve_ops (self, B, N, open_loop, FALSE, &self->last_mean_steps, error))
    return DISCO_FLOW_ERROR;
  self->last_open_loop_evaluations = self->last_mean_evaluations;
  for (gsize s = 0; s < B; s++)
    steps[s] = self->stats[s].n_accepted + self->stats[s].n_rejected;
  self->last_open_loop_seconds = (g_get_monotonic_time () - start) / 1e6;
  self->last_feedback_seconds = self->last_closed_loop_seconds = 0;

  if (closed)
    {
      if (!settle_closed_loop_ops (self, open_loop, B, &logits, error))
        return DISCO_FLOW_ERROR;
    }
  else
    {
      /* Validation and test use the open loop only (§5.4). */
      disco_node_set_output (node, "state", disco_node_get_output (node, "open-loop-state"));
      self->last_mean_closed_loop_steps = 0;
      self->last_closed_loop_evaluations = 0;
      self->last_max_contraction = 0;
      if (!_disco_integrator_publish_ops (self, open_loop, B, &logits, error))
        return DISCO_FLOW_ERROR;
    }
  /* Failures of the work queued since the last solve surface here. */
  if (!ops->check (error))
    return DISCO_FLOW_ERROR;
  self->last_solve_seconds = (g_get_monotonic_time () - start) / 1e6;
  disco_node_set_output (node, "output", logits);
  return DISCO_FLOW_OK;
}
