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

/* The fewest samples of a block solved by a thread of its own (a batch of
 * 100 is two blocks).  Smaller blocks cost more than they save: each
 * operation has a fixed cost, and BLAS packs a layer's weights once per
 * product whatever its rows (on two cores, blocks of 25 made a 3×256
 * tsit5 run 10–20 % slower than blocks of 50). */
#define BLOCK_MIN_SAMPLES 50

/**
 * _disco_integrator_n_blocks:
 * @self: an integrator
 * @n_samples: B, the minibatch's samples
 *
 * How many blocks of samples a minibatch is solved in, side by side on
 * disco-parallel's threads: on the host table as many as its size allows
 * at BLOCK_MIN_SAMPLES each (its shape alone, so results do not depend on
 * the thread count); one on a device, or when the user gave OpenBLAS
 * threads of its own (two teams would compete; the GEMM makes the same
 * choice).
 *
 * Returns: the number of blocks, ≥ 1
 */
guint
_disco_integrator_n_blocks (DiscoIntegrator *self, gsize n_samples)
{
  if (self->ops != disco_ops_cpu () || disco_blas_get_threads () > 1)
    return 1;
  return disco_parallel_pieces (n_samples, BLOCK_MIN_SAMPLES, DISCO_PARALLEL_MAX_PIECES);
}

typedef struct
{
  DiscoIntegrator *self;
  const DiscoOdeConfig *config;
  gsize B, n_state;
  float *state;
  gboolean closed;
  guint n_blocks;
  gpointer lanes[DISCO_PARALLEL_MAX_PIECES]; /* each block's, begun */
  GError *errors[DISCO_PARALLEL_MAX_PIECES];
} BlockSolve;

/* Block @block of the batch: its samples' rows of the state and the
 * statistics, with the block's solver and lane. */
static void
solve_block (gsize block, gpointer data)
{
  BlockSolve *job = data;
  DiscoIntegrator *self = job->self;
  const gsize first = DISCO_PARALLEL_PIECE_FIRST (block, job->n_blocks, job->B);
  const gsize n = DISCO_PARALLEL_PIECE_LAST (block, job->n_blocks, job->B) - first;
  DiscoOdeSolver *solver = block == 0 ? self->solver : self->block_solvers[block];
  GError **error = &job->errors[block];

  if (!disco_ode_solver_solve (
          solver, job->config, n, job->n_state, job->state + first * job->n_state,
          job->closed ? disco_ops_closed_loop_lane_rhs_compact : disco_ops_network_lane_rhs_compact,
          job->lanes[block], self->stats + first, error)
      && *error == NULL)
    g_set_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_FAILED,
                 "the ODE solve of samples %" G_GSIZE_FORMAT " + %" G_GSIZE_FORMAT
                 " failed without an error",
                 first, n);
}

/* The compacting solver on the host table, the batch cut into blocks of
 * samples solved side by side, one thread each (every sample has its own
 * clock).  The blocks depend on B alone, so results do not depend on the
 * thread count; they do differ from one solve of the whole batch in the
 * last bits, as BLAS rounds a row's product differently for another number
 * of rows. */
static gboolean
solve_in_blocks (DiscoIntegrator *self, const DiscoOdeConfig *config, gsize B, gsize n_state,
                 float *state, gboolean closed, GError **error)
{
  BlockSolve job = {
    .self = self,
    .config = config,
    .B = B,
    .n_state = n_state,
    .state = state,
    .closed = closed,
    .n_blocks = _disco_integrator_n_blocks (self, B),
  };

  /* Solvers and lanes are made here, before the threads share them. */
  for (guint b = 0; b < job.n_blocks; b++)
    {
      const gsize first = DISCO_PARALLEL_PIECE_FIRST (b, job.n_blocks, B);
      const gsize n = DISCO_PARALLEL_PIECE_LAST (b, job.n_blocks, B) - first;

      if (b > 0 && self->block_solvers[b] == NULL)
        self->block_solvers[b] = disco_ode_solver_new_on (self->ops);
      if (closed)
        {
          job.lanes[b] = disco_ops_closed_loop_get_lane (self->ops_closed_loop, b);
          if (!disco_ops_closed_loop_lane_begin (job.lanes[b], first, n, error))
            return FALSE;
        }
      else
        {
          job.lanes[b] = disco_ops_network_get_lane (self->ops_network, b);
          if (!disco_ops_network_lane_begin (job.lanes[b], first, n, error))
            return FALSE;
        }
    }
  return _disco_integrator_run_blocks (job.n_blocks, solve_block, &job, job.errors, error);
}

/**
 * _disco_integrator_run_blocks:
 * @n_blocks: blocks of samples, at most %DISCO_PARALLEL_MAX_PIECES
 * @solve_block: (scope call): solves one block, its error (if any) in
 *   @errors[block]
 * @job: (closure solve_block): passed to @solve_block
 * @errors: (array length=n_blocks): one %NULL error per block
 * @error: return location for a #GError
 *
 * Solves the blocks of a minibatch on disco-parallel's threads.
 *
 * Returns: %TRUE when every block was solved; else %FALSE with the first
 *   failed block's error (the others' are freed)
 */
gboolean
_disco_integrator_run_blocks (guint n_blocks, DiscoParallelFunc solve_block, gpointer job,
                              GError **errors, GError **error)
{
  gboolean solved = TRUE;

  disco_parallel_run (n_blocks, solve_block, job);
  for (guint b = 0; b < n_blocks; b++)
    if (errors[b] != NULL)
      {
        if (solved)
          g_propagate_error (error, errors[b]);
        else
          g_error_free (errors[b]);
        errors[b] = NULL;
        solved = FALSE;
      }
  return solved;
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
    solved = solve_in_blocks (self, &config, B, n_state, state, closed, error);
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
