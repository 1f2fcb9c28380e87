/* disco-ode-batched.c: a Runge-Kutta solve over a batch in lockstep,
 * through a DiscoOps table (disco-ode-batched.h).
 *
 * Shape legend: B samples of N state entries, every state buffer B×N with
 * row stride N; S stages (7 for Tsit5, 4 for RK4, 1 for Euler); per-sample
 * arrays B long.  All buffers belong to the solver's table; the host holds
 * only their addresses.
 *
 * One Tsit5 step, as operations over all B rows (finished rows masked):
 *   h        = lockstep_step_sizes (clocks, running)    0 where finished
 *   y1       = y + h·Σ a_s k   then k_s = f(y1)         s = 1 … 6 (FSAL:
 *                                                        k_6 = f(solution))
 *   ε        = rk_embedded_error_norm (y, y1, h, e, k)   adaptive only
 *   y ↔ y1, k_0 ↔ k_6                                    pointer swaps
 *   keep     = lockstep_advance (clocks, running, ε)     PID, per sample
 *   revert rows with keep = 0: y ← y1, k_0 ← k_6          the old values
 *   at_rest  = steady_state_rows (k_0, y)               with the stop test
 *   running, status, count = lockstep_stop (…)
 * and every sync_interval steps the host downloads the count.  This is
 * disco-ode.c's take_step/commit_step/mark_steady/mark_ended sequence for
 * Tsit5, with retire_stopped replaced by the mask.
 *
 * Euler and RK4 (constant steps, no error estimate, not FSAL) evaluate
 * k_0 = f(y) at the start of each step instead, and test for rest there,
 * as disco-ode.c does:
 *   k_0      = f(y);  at_rest = steady_state_rows (k_0, y);  lockstep_stop
 *   h, then y1 = y + h·Σ a_s k  and k_s = f(y1)          s = 1 … S−1
 *   y1       = y + h·Σ b_s k_s                           the solution
 *   y ↔ y1;  keep = lockstep_advance (…) = running;  revert
 *   running, status, count = lockstep_stop (…)           t1 and max_steps
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Disco-Kernels"

#include "disco-ode-batched.h"
#include "disco-ode-private.h"

/* The most stages of any tableau (Tsit5's). */
#define MAX_STAGES 7

struct _DiscoOdeBatchedSolver
{
  const DiscoOps *ops;

  /* Capacity of the buffers below. */
  gsize n_samples;
  gsize n_state;

  /* B×N buffers of the table; y, y1 and the stages are swapped during a
   * solve, the set stays. */
  float *y;
  float *y1;
  float *k[MAX_STAGES];

  /* Per-sample buffers of the table. */
  float *h;
  float *error_norm;
  gint *keep;
  gint *at_rest;
  gint *running;
  gint *status;
  gint *n_running; /* 1 value: what the host polls */
  DiscoOdeClock *clocks;

  /* Host staging for the first upload and the final statistics. */
  DiscoOdeClock *host_clocks;
  gint *host_flags;
};

/**
 * disco_ode_batched_solver_new:
 * @ops: (transfer none): the operations table whose memory the solves use
 *
 * Creates a lockstep solver; the first solve allocates its buffers.
 *
 * Returns: (transfer full): a new #DiscoOdeBatchedSolver
 */
DiscoOdeBatchedSolver *
disco_ode_batched_solver_new (const DiscoOps *ops)
{
  DiscoOdeBatchedSolver *solver;

  g_return_val_if_fail (ops != NULL, NULL);

  solver = g_new0 (DiscoOdeBatchedSolver, 1);
  solver->ops = ops;
  return solver;
}

static void
release_buffers (DiscoOdeBatchedSolver *solver)
{
  const DiscoOps *ops = solver->ops;

  g_clear_pointer (&solver->y, ops->free);
  g_clear_pointer (&solver->y1, ops->free);
  for (guint s = 0; s < MAX_STAGES; s++)
    g_clear_pointer (&solver->k[s], ops->free);
  g_clear_pointer (&solver->h, ops->free);
  g_clear_pointer (&solver->error_norm, ops->free);
  g_clear_pointer (&solver->keep, ops->free);
  g_clear_pointer (&solver->at_rest, ops->free);
  g_clear_pointer (&solver->running, ops->free);
  g_clear_pointer (&solver->status, ops->free);
  g_clear_pointer (&solver->n_running, ops->free);
  g_clear_pointer (&solver->clocks, ops->free);
  g_clear_pointer (&solver->host_clocks, g_free);
  g_clear_pointer (&solver->host_flags, g_free);
  solver->n_samples = solver->n_state = 0;
}

/**
 * disco_ode_batched_solver_free:
 * @solver: (transfer full) (nullable): a solver
 *
 * Frees @solver and its buffers (in its table's memory).
 */
void
disco_ode_batched_solver_free (DiscoOdeBatchedSolver *solver)
{
  if (solver == NULL)
    return;
  release_buffers (solver);
  g_free (solver);
}

/**
 * disco_ode_batched_solver_get_ops:
 * @solver: a solver
 *
 * Returns: (transfer none): the table its buffers belong to
 */
const DiscoOps *
disco_ode_batched_solver_get_ops (DiscoOdeBatchedSolver *solver)
{
  g_return_val_if_fail (solver != NULL, NULL);
  return solver->ops;
}

static gboolean
alloc_into (const DiscoOps *ops, gpointer *buffer, gsize n, gsize size, GError **error)
{
  gsize bytes;

  if (!g_size_checked_mul (&bytes, n, size))
    {
      g_set_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_MEMORY,
                   "lockstep ODE workspace of %" G_GSIZE_FORMAT " × %" G_GSIZE_FORMAT
                   " bytes overflows",
                   n, size);
      return FALSE;
    }
  *buffer = ops->alloc (MAX (bytes, 1), error);
  return *buffer != NULL;
}

/* Grows the buffers to B samples of N entries; contents are not kept. */
static gboolean
ensure_buffers (DiscoOdeBatchedSolver *solver, gsize n_samples, gsize n_state, GError **error)
{
  const DiscoOps *ops = solver->ops;
  gsize matrix;

  if (n_samples <= solver->n_samples && n_state <= solver->n_state)
    return TRUE;

  release_buffers (solver);
  if (!g_size_checked_mul (&matrix, n_samples, n_state))
    matrix = G_MAXSIZE;
  if (!alloc_into (ops, (gpointer *) &solver->y, matrix, sizeof (float), error)
      || !alloc_into (ops, (gpointer *) &solver->y1, matrix, sizeof (float), error))
    goto failed;
  for (guint s = 0; s < MAX_STAGES; s++)
    if (!alloc_into (ops, (gpointer *) &solver->k[s], matrix, sizeof (float), error))
      goto failed;
  if (!alloc_into (ops, (gpointer *) &solver->h, n_samples, sizeof (float), error)
      || !alloc_into (ops, (gpointer *) &solver->error_norm, n_samples, sizeof (float), error)
      || !alloc_into (ops, (gpointer *) &solver->keep, n_samples, sizeof (gint), error)
      || !alloc_into (ops, (gpointer *) &solver->at_rest, n_samples, sizeof (gint), error)
      || !alloc_into (ops, (gpointer *) &solver->running, n_samples, sizeof (gint), error)
      || !alloc_into (ops, (gpointer *) &solver->status, n_samples, sizeof (gint), error)
      || !alloc_into (ops, (gpointer *) &solver->n_running, 1, sizeof (gint), error)
      || !alloc_into (ops, (gpointer *) &solver->clocks, n_samples, sizeof (DiscoOdeClock), error))
    goto failed;
  solver->host_clocks = g_new (DiscoOdeClock, n_samples);
  solver->host_flags = g_new (gint, n_samples);
  solver->n_samples = n_samples;
  solver->n_state = n_state;
  return TRUE;

failed:
  release_buffers (solver);
  return FALSE;
}

static void
swap_buffers (float **a, float **b)
{
  float *tmp = *a;

  *a = *b;
  *b = tmp;
}

static gboolean
evaluate (DiscoOdeBatchedSolver *solver, DiscoOdeBatchedRhsFunc rhs, gpointer user_data,
          gsize n_samples, gsize n_state, const float *y, float *dydt, DiscoOdeBatchedInfo *info,
          GError **error)
{
  GError *local_error = NULL;

  info->n_rhs_calls++;
  if (rhs (user_data, solver->ops, n_samples, n_state, y, dydt, &local_error))
    return TRUE;
  if (local_error != NULL)
    g_propagate_error (error, local_error);
  else
    g_set_error_literal (error, DISCO_KERNELS_ERROR, DISCO_ERROR_FAILED,
                         "the ODE right-hand side failed without an error");
  return FALSE;
}

/* Diffrax's init, as disco_ode_solver_solve() does it: dt0 clipped to
 * [dtmin, dtmax] for an adaptive solve, the first step's end clipped to
 * t1; then one upload of the clocks, the running flags and the statuses. */
static gboolean
upload_initial_clocks (DiscoOdeBatchedSolver *solver, const DiscoOdeConfig *config, gsize n_samples,
                       GError **error)
{
  const DiscoOps *ops = solver->ops;
  double dt0 = config->dt0;
  gboolean at_dtmin = FALSE;

  if (config->controller != DISCO_ODE_CONTROLLER_CONSTANT)
    {
      dt0 = MIN (dt0, config->dtmax);
      at_dtmin = dt0 <= config->dtmin;
      dt0 = MAX (dt0, config->dtmin);
    }

  for (gsize i = 0; i < n_samples; i++)
    solver->host_clocks[i] = (DiscoOdeClock){
      .t = config->t0,
      .t_next = MIN (config->t0 + dt0, config->t1),
      .inv_error_prev = 1.0,
      .inv_error_prev_prev = 1.0,
      .at_dtmin = at_dtmin,
    };
  if (!ops->upload (solver->clocks, solver->host_clocks, n_samples * sizeof (DiscoOdeClock), error))
    return FALSE;

  for (gsize i = 0; i < n_samples; i++)
    solver->host_flags[i] = 1;
  if (!ops->upload (solver->running, solver->host_flags, n_samples * sizeof (gint), error))
    return FALSE;

  /* Overwritten when a sample stops; every sample stops by max_steps. */
  for (gsize i = 0; i < n_samples; i++)
    solver->host_flags[i] = DISCO_ODE_STATUS_MAX_STEPS;
  return ops->upload (solver->status, solver->host_flags, n_samples * sizeof (gint), error);
}

/* The one download at the end: clocks and statuses become the caller's
 * statistics.  A Tsit5 sample is evaluated once at the start and six times
 * per step it takes; an Euler or RK4 sample S times per step, and once more
 * at the start of the step it did not take when it stopped at rest: as
 * disco_ode_solver_solve() counts. */
static gboolean
download_stats (DiscoOdeBatchedSolver *solver, guint n_stages, gboolean fsal, gsize n_samples,
                DiscoOdeSampleStats *stats, GError **error)
{
  const DiscoOps *ops = solver->ops;

  if (!ops->download (solver->host_clocks, solver->clocks, n_samples * sizeof (DiscoOdeClock),
                      error)
      || !ops->download (solver->host_flags, solver->status, n_samples * sizeof (gint), error))
    return FALSE;

  for (gsize i = 0; i < n_samples; i++)
    {
      const DiscoOdeClock *clock = &solver->host_clocks[i];
      const guint steps = clock->n_accepted + clock->n_rejected;
      const DiscoOdeStatus status = (DiscoOdeStatus) solver->host_flags[i];

      stats[i] = (DiscoOdeSampleStats){
        .n_accepted = clock->n_accepted,
        .n_rejected = clock->n_rejected,
        .n_rhs_evals = fsal ? 1 + (n_stages - 1) * steps
                            : n_stages * steps + (status == DISCO_ODE_STATUS_STEADY_STATE),
        .t_final = clock->t,
        .status = status,
      };
    }
  return TRUE;
}

/**
 * disco_ode_batched_solver_solve:
 * @solver: a #DiscoOdeBatchedSolver
 * @config: the solver settings (disco_ode_config_init()), any method
 * @sync_interval: steps between two polls of the running count, ≥ 1; 0
 *   means %DISCO_ODE_BATCHED_DEFAULT_SYNC_INTERVAL
 * @n_samples: B, the number of samples (rows of @y)
 * @n_state: N, the state length of one sample, > 0
 * @y: B×N initial states on entry, final states on return: a buffer of
 *   the solver's table (device memory for CUDA)
 * @rhs: (scope call): the right-hand side, on all B rows
 * @user_data: (closure): passed to @rhs
 * @stats: (array) (out caller-allocates) (nullable): B entries in host
 *   memory to receive each sample's statistics, as disco_ode_solver_solve()
 *   reports them; costs one download at the end
 * @info: (out caller-allocates) (nullable): what the solve did as a whole
 * @error: return location for a #GError
 *
 * Integrates every sample of @y from @config->t0 until it reaches t1, comes
 * to rest (when @config->steady_state_stop is set) or uses max_steps steps,
 * each on its own clock, all in lockstep inside the table's memory (see
 * the section description).  The host waits only at the polls and at the
 * end.
 *
 * Returns: %TRUE on success.  %FALSE with @error set when @config is invalid
 *   (%DISCO_ERROR_BAD_VALUE, @y
 *   untouched), when a buffer cannot be allocated, or when @rhs or a queued
 *   operation failed (@y then undefined)
 */
gboolean
disco_ode_batched_solver_solve (DiscoOdeBatchedSolver *solver, const DiscoOdeConfig *config,
                                guint sync_interval, gsize n_samples, gsize n_state, float *y,
                                DiscoOdeBatchedRhsFunc rhs, gpointer user_data,
                                DiscoOdeSampleStats *stats, DiscoOdeBatchedInfo *info,
                                GError **error)
{
  const DiscoOps *ops;
  DiscoOdeBatchedInfo local_info = { 0 };
  DiscoOdeClockParams params;
  DiscoOdeLockstepLimits limits, end_limits;
  const float *const *a;
  const float *b, *e;
  guint n_stages;
  gboolean fsal;
  double error_order;
  gboolean adaptive;
  const gsize matrix_bytes = n_samples * n_state * sizeof (float);
  gint64 wait_start;

  g_return_val_if_fail (solver != NULL, FALSE);
  g_return_val_if_fail (config != NULL, FALSE);
  g_return_val_if_fail (n_state > 0, FALSE);
  g_return_val_if_fail (n_samples <= G_MAXINT, FALSE);
  g_return_val_if_fail (n_samples == 0 || y != NULL, FALSE);
  g_return_val_if_fail (rhs != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  ops = solver->ops;
  if (info == NULL)
    info = &local_info;
  *info = (DiscoOdeBatchedInfo){ 0 };
  if (sync_interval == 0)
    sync_interval = DISCO_ODE_BATCHED_DEFAULT_SYNC_INTERVAL;

  if (!disco_ode_config_validate (config, error))
    return FALSE;
  if (n_samples == 0)
    return TRUE;
  if (!ensure_buffers (solver, n_samples, n_state, error))
    return FALSE;

  _disco_ode_get_tableau (config->method, &n_stages, &a, &b, &e, &fsal, &error_order);
  g_assert (n_stages <= MAX_STAGES);
  disco_ode_clock_params_init (&params, config, error_order);
  limits = (DiscoOdeLockstepLimits){
    .t1 = config->t1,
    .max_steps = config->max_steps,
    .steady_state_stop = config->steady_state_stop,
  };
  /* Without FSAL, rest is tested before a step, t1 and max_steps after it. */
  end_limits = limits;
  if (!fsal)
    end_limits.steady_state_stop = FALSE;
  /* config_validate() ensured that only Tsit5 (an error estimate) adapts. */
  adaptive = config->controller != DISCO_ODE_CONTROLLER_CONSTANT;

  if (!upload_initial_clocks (solver, config, n_samples, error)
      || !ops->copy (solver->y, y, matrix_bytes, error))
    return FALSE;

  /* First same as last: f(y0) once, then each step leaves f(y1) behind. */
  if (fsal
      && !evaluate (solver, rhs, user_data, n_samples, n_state, solver->y, solver->k[0], info,
                    error))
    return FALSE;

  /* Every running sample takes one step per pass, so after max_steps passes
   * none runs (it stopped at t1, at rest, or at max_steps). */
  for (guint step = 1; step <= config->max_steps; step++)
    {
      const float *const *k = (const float *const *) solver->k;
      gint n_running = 0;

      if (!fsal)
        {
          /* k_0 = f(y) of the state the last step produced, and the test
           * for rest on it (a sample is never at rest before its first
           * step: lockstep_stop counts its steps). */
          if (!evaluate (solver, rhs, user_data, n_samples, n_state, solver->y, solver->k[0], info,
                         error))
            return FALSE;
          if (config->steady_state_stop)
            {
              ops->steady_state_rows (n_samples, n_state, (float) config->atol,
                                      (float) config->rtol, solver->k[0], n_state, solver->y,
                                      n_state, solver->at_rest);
              ops->ode_lockstep_stop (&limits, n_samples, solver->clocks, solver->at_rest,
                                      solver->running, solver->status, solver->n_running);
            }
        }

      ops->ode_lockstep_step_sizes (n_samples, solver->clocks, solver->running, solver->h);
      for (guint s = 1; s < n_stages; s++)
        {
          ops->rk_combine (n_samples, n_state, n_state, solver->y, solver->h, s, a[s], k,
                           solver->y1);
          if (!evaluate (solver, rhs, user_data, n_samples, n_state, solver->y1, solver->k[s], info,
                         error))
            return FALSE;
        }
      if (!fsal)
        ops->rk_combine (n_samples, n_state, n_state, solver->y, solver->h, n_stages, b, k,
                         solver->y1);
      if (adaptive)
        ops->rk_embedded_error_norm (n_samples, n_state, n_state, (float) config->atol,
                                     (float) config->rtol, solver->y, solver->y1, solver->h,
                                     n_stages, e, k, solver->error_norm);

      /* The candidate becomes the state; the rows that do not keep it
       * (rejected, or finished and masked) take the old one back, as
       * disco-ode.c's commit_step does. */
      swap_buffers (&solver->y, &solver->y1);
      if (fsal)
        swap_buffers (&solver->k[0], &solver->k[n_stages - 1]);
      ops->ode_lockstep_advance (&params, n_samples, solver->clocks, solver->running,
                                 adaptive ? solver->error_norm : NULL, solver->keep);
      ops->revert_rows (n_samples, n_state, n_state, solver->keep, solver->y1, solver->y);
      if (fsal)
        ops->revert_rows (n_samples, n_state, n_state, solver->keep, solver->k[n_stages - 1],
                          solver->k[0]);

      /* FSAL: k_0 = f(y) of the current state, so the steady-state test is
       * free here. */
      if (fsal && config->steady_state_stop)
        ops->steady_state_rows (n_samples, n_state, (float) config->atol, (float) config->rtol,
                                solver->k[0], n_state, solver->y, n_state, solver->at_rest);
      ops->ode_lockstep_stop (&end_limits, n_samples, solver->clocks,
                              end_limits.steady_state_stop ? solver->at_rest : NULL,
                              solver->running, solver->status, solver->n_running);
      info->n_steps = step;

      if (step % sync_interval != 0 && step != config->max_steps)
        continue;

      /* The one round trip: how many samples still run?  The download
       * waits for the queued steps, and any failure among them surfaces. */
      info->n_syncs++;
      wait_start = g_get_monotonic_time ();
      if (!ops->download (&n_running, solver->n_running, sizeof (gint), error)
          || !ops->check (error))
        return FALSE;
      info->wait_seconds += (g_get_monotonic_time () - wait_start) / 1e6;
      if (n_running == 0)
        break;
    }

  if (!ops->copy (y, solver->y, matrix_bytes, error))
    return FALSE;
  wait_start = g_get_monotonic_time ();
  if (stats != NULL ? !download_stats (solver, n_stages, fsal, n_samples, stats, error)
                    : !ops->synchronize (error))
    return FALSE;
  info->wait_seconds += (g_get_monotonic_time () - wait_start) / 1e6;
  return TRUE;
}
