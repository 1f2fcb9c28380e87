/* disco-ode.c: batched explicit Runge-Kutta solver with per-sample clocks.
 *
 * Shape legend: B samples of N state entries; A ≤ B of them still running,
 * packed into the first A rows (stride N) of every work buffer, in the
 * order of their sample index.  S ≤ 7 stages.
 *
 * The work buffers (states, stages) and the step sizes live in the memory
 * of the solver's operations table and are combined by its operations
 * (disco-ops.h: rk_combine, rk_embedded_error_norm, steady_state_rows,
 * copy); the per-sample decisions (the PID clock update, the stop tests,
 * which rows leave the batch) are the host's, from two downloads of A
 * values per step (the error norms and the steady-state flags; on the host
 * table, memcpys).  On the CPU that is the fastest arrangement, since
 * finished samples cost nothing; on a device the lockstep solver
 * (disco-ode-batched.c), which never waits for the host, is the one to use.
 *
 * The step-size logic follows Diffrax 0.4.1 line by line (MODEL.md §5):
 * diffrax/step_size_controller/adaptive.py (PIDController.adapt_step_size),
 * diffrax/integrate.py (loop: _clip_to_end, step counting, event check) and
 * diffrax/event.py (SteadyStateEvent).  The reference vmaps diffeqsolve over
 * the minibatch, so every sample has its own clock; here all running samples
 * take their (different) steps together so that the right-hand side sees one
 * batch, and samples that stop are moved out of that batch.
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Disco-Kernels"

#include "disco-ode.h"

#include <math.h>
#include <string.h>

#include "disco-kernels.h"
#include "disco-ode-clock.h"
#include "disco-ode-private.h"
#include "disco-ops.h"

/* The model's solver settings, MODEL.md §5. */
#define DEFAULT_METHOD DISCO_ODE_METHOD_TSIT5
#define DEFAULT_CONTROLLER DISCO_ODE_CONTROLLER_DIFFRAX
#define DEFAULT_T0 0.0
#define DEFAULT_T1 2.0
#define DEFAULT_DT0 1e-3
#define DEFAULT_DTMIN 1e-4
#define DEFAULT_DTMAX 1e-2
#define DEFAULT_RTOL 1e-3
#define DEFAULT_ATOL 1e-6
#define DEFAULT_PCOEFF 0.1
#define DEFAULT_ICOEFF 0.3
#define DEFAULT_DCOEFF 0.1
#define DEFAULT_FACTORMIN 0.1
#define DEFAULT_FACTORMAX 2.0
#define DEFAULT_SAFETY 0.9
#define DEFAULT_MAX_STEPS 4096
#define DEFAULT_STEADY_STATE_STOP TRUE

#define MAX_STAGES 7

/* An explicit Runge-Kutta tableau.  Stage i (1 ≤ i < S) is evaluated at
 * y + h·Σ_{j<i} a[i][j]·k_j, time t + c[i]·h.  For a first-same-as-last
 * method the last stage's input is the solution itself, so b is NULL and
 * k_{S−1} = f(y1) becomes k_0 of the next step. */
typedef struct
{
  guint n_stages;
  const float *a[MAX_STAGES];
  double c[MAX_STAGES];
  const float *b;
  const float *e;
  gboolean fsal;
  double error_order;
} Tableau;

/* Tsitouras (2011), "Runge-Kutta pairs of order 5(4) satisfying only the
 * first column simplifying assumption", Comput. Math. Appl. 62:770-775;
 * the digits are those of diffrax/solver/tsit5.py.  e = b − b̂ (the error
 * estimate is h·Σ e_j k_j). */
static const float tsit5_a1[] = { 0.161 };
static const float tsit5_a2[] = { -0.0084806554923569885, 0.33548065549235698 };
static const float tsit5_a3[] = { 2.8971530571054934, -6.3594484899750748, 4.3622954328695814 };
static const float tsit5_a4[] = { 5.3258648284392566, -11.748883564062828, 7.4955393428898362,
                                  -0.092495066361755249 };
static const float tsit5_a5[] = { 5.8614554429464200, -12.920969317847109, 8.1593678985761586,
                                  -0.071584973281400997, -0.028269050394068383 };
/* The last stage's weights are the 5th-order solution's b (b₇ = 0). */
static const float tsit5_a6[] = { 0.096460766818065230, 0.01,
                                  0.47988965041449958,  1.3790085741037419,
                                  -3.2900695154360808,  2.3247105240997740 };
/* b̂ of the embedded 4th-order solution, kept as b − b̂ (b̂₇ = 1/66). */
static const float tsit5_e[] = {
  0.096460766818065230 - 0.094680755765839458,
  0.01 - 0.0091835655403432531,
  0.47988965041449958 - 0.48777052842476157,
  1.3790085741037419 - 1.2342975669304790,
  -3.2900695154360808 + 2.7077123499835255,
  2.3247105240997740 - 1.8666284181705870,
  -1.0 / 66.0,
};

static const Tableau tsit5 = {
  .n_stages = 7,
  .a = { NULL, tsit5_a1, tsit5_a2, tsit5_a3, tsit5_a4, tsit5_a5, tsit5_a6 },
  .c = { 0.0, 0.161, 0.327, 0.9, 0.98002554090450969, 1.0, 1.0 },
  .b = NULL,
  .e = tsit5_e,
  .fsal = TRUE,
  /* Diffrax's AbstractSolver.error_order for an ODE is solver.order() = 5. */
  .error_order = 5.0,
};

static const float rk4_a1[] = { 0.5f };
static const float rk4_a2[] = { 0.0f, 0.5f };
static const float rk4_a3[] = { 0.0f, 0.0f, 1.0f };
static const float rk4_b[] = { 1.0f / 6.0f, 1.0f / 3.0f, 1.0f / 3.0f, 1.0f / 6.0f };

static const Tableau rk4 = {
  .n_stages = 4,
  .a = { NULL, rk4_a1, rk4_a2, rk4_a3 },
  .c = { 0.0, 0.5, 0.5, 1.0 },
  .b = rk4_b,
};

static const float euler_b[] = { 1.0f };

static const Tableau euler = {
  .n_stages = 1,
  .b = euler_b,
};

/* The tableau of @method, for both solvers. */
static const Tableau *
tableau_for (DiscoOdeMethod method)
{
  switch (method)
    {
    case DISCO_ODE_METHOD_EULER: return &euler;
    case DISCO_ODE_METHOD_RK4: return &rk4;
    case DISCO_ODE_METHOD_TSIT5:
    default: return &tsit5;
    }
}

/* For the lockstep solver (disco-ode-private.h): the same tables, not a
 * second copy of their digits. */
void
_disco_ode_get_tableau (DiscoOdeMethod method, guint *n_stages, const float *const **a,
                        const float **b, const float **e, gboolean *fsal, double *error_order)
{
  const Tableau *tableau = tableau_for (method);

  *n_stages = tableau->n_stages;
  *a = tableau->a;
  *b = tableau->b;
  *e = tableau->e;
  *fsal = tableau->fsal;
  *error_order = tableau->error_order;
}

/* Everything one sample carries from step to step: its place in the batch,
 * whether it still runs, and its clock (disco-ode-clock.h). */
typedef struct
{
  guint row; /* index in the caller's batch */
  gboolean running;
  DiscoOdeStatus status;
  guint n_rhs_evals;
  DiscoOdeClock clock;
} Sample;

struct _DiscoOdeSolver
{
  const DiscoOps *ops;

  /* A×N buffers of the table, carved out of one block at the start of each
   * solve; the pointers are swapped during a solve, the block stays. */
  float *block;
  gsize block_len;
  float *y;
  float *y1;
  float *k[MAX_STAGES];

  /* Per-row arrays, A entries in use: the table's (h_ops, error_norm_ops,
   * at_rest_ops) and the host's. */
  gsize rows_capacity;
  float *h_ops;
  float *error_norm_ops;
  gint *at_rest_ops;
  Sample *samples;
  guint *rows;
  double *t_stage;
  float *h;
  float *error_norm;
  gint *at_rest;
};

/* One call of disco_ode_solver_solve(). */
typedef struct
{
  DiscoOdeSolver *ws;
  const DiscoOdeConfig *config;
  const Tableau *tableau;
  gsize n_state;
  gsize n_active;
  float *y_out;
  DiscoOdeRhsFunc rhs;
  gpointer user_data;
  DiscoOdeSampleStats *stats;
  DiscoOdeClockParams clock_params;
} Solve;

/**
 * disco_ode_config_init:
 * @config: (out caller-allocates): the configuration to fill in
 *
 * Fills @config with the model's solver settings (MODEL.md §5): Tsit5 from
 * t = 0 to 2 s with Diffrax's PID controller (rtol 1e-3, atol 1e-6, pcoeff
 * 0.1, icoeff 0.3, dcoeff 0.1, dt0 1 ms, dt in [0.1 ms, 10 ms], factor in
 * [0.1, 2], safety 0.9), at most 4096 steps, stopping at steady state.
 */
void
disco_ode_config_init (DiscoOdeConfig *config)
{
  g_return_if_fail (config != NULL);

  *config = (DiscoOdeConfig){
    .method = DEFAULT_METHOD,
    .controller = DEFAULT_CONTROLLER,
    .t0 = DEFAULT_T0,
    .t1 = DEFAULT_T1,
    .dt0 = DEFAULT_DT0,
    .dtmin = DEFAULT_DTMIN,
    .dtmax = DEFAULT_DTMAX,
    .rtol = DEFAULT_RTOL,
    .atol = DEFAULT_ATOL,
    .pcoeff = DEFAULT_PCOEFF,
    .icoeff = DEFAULT_ICOEFF,
    .dcoeff = DEFAULT_DCOEFF,
    .factormin = DEFAULT_FACTORMIN,
    .factormax = DEFAULT_FACTORMAX,
    .safety = DEFAULT_SAFETY,
    .max_steps = DEFAULT_MAX_STEPS,
    .steady_state_stop = DEFAULT_STEADY_STATE_STOP,
  };
}

static gboolean
invalid_field (GError **error, const char *name, const char *requirement, double value)
{
  g_set_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_BAD_VALUE,
               "invalid ODE solver setting \"%s\": must be %s (got %g)", name, requirement, value);
  return FALSE;
}

/**
 * disco_ode_config_validate:
 * @config: the configuration to check
 * @error: return location for a #GError
 *
 * Checks every field of @config against its documented range, and that
 * the method can drive the controller (Euler and RK4 have no error
 * estimate, so they need %DISCO_ODE_CONTROLLER_CONSTANT).
 *
 * Returns: %TRUE if @config is usable; %FALSE with @error set
 *   (%DISCO_ERROR_BAD_VALUE, naming the field) otherwise
 */
gboolean
disco_ode_config_validate (const DiscoOdeConfig *config, GError **error)
{
  const DiscoOdeConfig *c = config;

  g_return_val_if_fail (config != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if ((guint) c->method > DISCO_ODE_METHOD_RK4)
    return invalid_field (error, "method", "a DiscoOdeMethod", c->method);
  if ((guint) c->controller > DISCO_ODE_CONTROLLER_CONSTANT)
    return invalid_field (error, "controller", "a DiscoOdeController", c->controller);
  if (c->method != DISCO_ODE_METHOD_TSIT5 && c->controller != DISCO_ODE_CONTROLLER_CONSTANT)
    {
      g_set_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_BAD_VALUE,
                   "invalid ODE solver setting \"controller\": method \"%s\" "
                   "has no error estimate, so it needs constant steps",
                   c->method == DISCO_ODE_METHOD_EULER ? "euler" : "rk4");
      return FALSE;
    }

  if (!isfinite (c->t0))
    return invalid_field (error, "t0", "finite", c->t0);
  if (!isfinite (c->t1) || !(c->t1 > c->t0))
    return invalid_field (error, "t1", "finite and > t0", c->t1);
  if (!isfinite (c->dt0) || !(c->dt0 > 0.0))
    return invalid_field (error, "dt0", "finite and > 0", c->dt0);
  if (!isfinite (c->dtmin) || !(c->dtmin > 0.0))
    return invalid_field (error, "dtmin", "finite and > 0", c->dtmin);
  if (!isfinite (c->dtmax) || !(c->dtmax >= c->dtmin))
    return invalid_field (error, "dtmax", "finite and >= dtmin", c->dtmax);
  if (!isfinite (c->rtol) || !(c->rtol > 0.0))
    return invalid_field (error, "rtol", "finite and > 0", c->rtol);
  if (!isfinite (c->atol) || !(c->atol >= 0.0))
    return invalid_field (error, "atol", "finite and >= 0", c->atol);
  if (!isfinite (c->pcoeff) || !(c->pcoeff >= 0.0))
    return invalid_field (error, "pcoeff", "finite and >= 0", c->pcoeff);
  if (!isfinite (c->icoeff) || !(c->icoeff >= 0.0))
    return invalid_field (error, "icoeff", "finite and >= 0", c->icoeff);
  if (!isfinite (c->dcoeff) || !(c->dcoeff >= 0.0))
    return invalid_field (error, "dcoeff", "finite and >= 0", c->dcoeff);
  if (!(c->factormin > 0.0 && c->factormin <= 1.0))
    return invalid_field (error, "factormin", "in (0, 1]", c->factormin);
  if (!isfinite (c->factormax) || !(c->factormax >= 1.0))
    return invalid_field (error, "factormax", "finite and >= 1", c->factormax);
  if (!(c->safety > 0.0 && c->safety <= 1.0))
    return invalid_field (error, "safety", "in (0, 1]", c->safety);
  if (c->max_steps == 0)
    return invalid_field (error, "max_steps", "> 0", c->max_steps);

  return TRUE;
}

/**
 * disco_ode_solver_new_on:
 * @ops: (transfer none): the operations table whose memory and operations
 *   the solves use
 *
 * Creates a solver with an empty workspace; the first solve allocates it
 * in @ops's memory.
 *
 * Returns: (transfer full): a new #DiscoOdeSolver
 */
DiscoOdeSolver *
disco_ode_solver_new_on (const DiscoOps *ops)
{
  DiscoOdeSolver *solver;

  g_return_val_if_fail (ops != NULL, NULL);

  solver = g_new0 (DiscoOdeSolver, 1);
  solver->ops = ops;
  return solver;
}

/**
 * disco_ode_solver_new:
 *
 * disco_ode_solver_new_on() the host table, disco_ops_cpu(): the solves'
 * states and right-hand sides are in host memory.
 *
 * Returns: (transfer full): a new #DiscoOdeSolver
 */
DiscoOdeSolver *
disco_ode_solver_new (void)
{
  return disco_ode_solver_new_on (disco_ops_cpu ());
}

static void
release_rows (DiscoOdeSolver *solver)
{
  const DiscoOps *ops = solver->ops;

  g_clear_pointer (&solver->h_ops, ops->free);
  g_clear_pointer (&solver->error_norm_ops, ops->free);
  g_clear_pointer (&solver->at_rest_ops, ops->free);
  g_clear_pointer (&solver->samples, g_free);
  g_clear_pointer (&solver->rows, g_free);
  g_clear_pointer (&solver->t_stage, g_free);
  g_clear_pointer (&solver->h, g_free);
  g_clear_pointer (&solver->error_norm, g_free);
  g_clear_pointer (&solver->at_rest, g_free);
  solver->rows_capacity = 0;
}

/**
 * disco_ode_solver_free:
 * @solver: (transfer full) (nullable): a #DiscoOdeSolver
 *
 * Frees @solver and its workspace.
 */
void
disco_ode_solver_free (DiscoOdeSolver *solver)
{
  if (solver == NULL)
    return;

  g_clear_pointer (&solver->block, solver->ops->free);
  release_rows (solver);
  g_free (solver);
}

/* Grows the workspace to B samples of N entries (contents are not kept) and
 * points the A×N buffers at it: y, y1 and S stages. */
static gboolean
workspace_prepare (DiscoOdeSolver *ws, gsize n_samples, gsize n_state, guint n_stages,
                   GError **error)
{
  const DiscoOps *ops = ws->ops;
  const gsize n_buffers = 2 + n_stages;
  gsize matrix_len, needed, bytes;

  if (!g_size_checked_mul (&matrix_len, n_samples, n_state)
      || !g_size_checked_mul (&needed, matrix_len, n_buffers)
      || !g_size_checked_mul (&bytes, needed, sizeof (float)))
    {
      g_set_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_MEMORY,
                   "ODE workspace of %" G_GSIZE_FORMAT " × %" G_GSIZE_FORMAT " floats overflows",
                   n_samples, n_state);
      return FALSE;
    }

  if (needed > ws->block_len)
    {
      g_clear_pointer (&ws->block, ops->free);
      ws->block_len = 0;
      if ((ws->block = ops->alloc (bytes, error)) == NULL)
        return FALSE;
      ws->block_len = needed;
    }

  ws->y = ws->block;
  ws->y1 = ws->block + matrix_len;
  for (guint s = 0; s < n_stages; s++)
    ws->k[s] = ws->block + (2 + s) * matrix_len;

  if (n_samples > ws->rows_capacity)
    {
      release_rows (ws);
      if ((ws->h_ops = ops->alloc (n_samples * sizeof (float), error)) == NULL
          || (ws->error_norm_ops = ops->alloc (n_samples * sizeof (float), error)) == NULL
          || (ws->at_rest_ops = ops->alloc (n_samples * sizeof (gint), error)) == NULL)
        {
          release_rows (ws);
          return FALSE;
        }
      ws->samples = g_new (Sample, n_samples);
      ws->rows = g_new (guint, n_samples);
      ws->t_stage = g_new (double, n_samples);
      ws->h = g_new (float, n_samples);
      ws->error_norm = g_new (float, n_samples);
      ws->at_rest = g_new (gint, n_samples);
      ws->rows_capacity = n_samples;
    }
  return TRUE;
}

static void
swap_buffers (float **a, float **b)
{
  float *tmp = *a;

  *a = *b;
  *b = tmp;
}

/* Calls the right-hand side on the A running samples, at the times in
 * ws->t_stage. */
static gboolean
evaluate (Solve *solve, const float *y, float *dydt, GError **error)
{
  DiscoOdeSolver *ws = solve->ws;
  GError *local_error = NULL;

  for (gsize i = 0; i < solve->n_active; i++)
    ws->samples[i].n_rhs_evals++;

  if (solve->rhs (solve->user_data, solve->n_active, ws->rows, ws->t_stage, y, dydt, &local_error))
    return TRUE;

  if (local_error != NULL)
    g_propagate_error (error, local_error);
  else
    g_set_error_literal (error, DISCO_KERNELS_ERROR, DISCO_ERROR_FAILED,
                         "the ODE right-hand side failed without an error");
  return FALSE;
}

/* Marks the running samples that are at rest: RMS(f(y)) < atol + rtol·RMS(y)
 * over the sample's whole state (Diffrax's SteadyStateEvent).  k_0 holds
 * f(y) at the current state, so the check costs no evaluation.  A sample is
 * only checked after its first step, as Diffrax checks after each step. */
static gboolean
mark_steady (Solve *solve, GError **error)
{
  DiscoOdeSolver *ws = solve->ws;
  const DiscoOdeConfig *config = solve->config;
  const gsize n = solve->n_state;

  ws->ops->steady_state_rows (solve->n_active, n, (float) config->atol, (float) config->rtol,
                              ws->k[0], n, ws->y, n, ws->at_rest_ops);
  if (!ws->ops->download (ws->at_rest, ws->at_rest_ops, solve->n_active * sizeof (gint), error))
    return FALSE;

  for (gsize i = 0; i < solve->n_active; i++)
    {
      Sample *sample = &ws->samples[i];

      if (sample->running && sample->clock.n_accepted + sample->clock.n_rejected > 0
          && ws->at_rest[i])
        {
          sample->running = FALSE;
          sample->status = DISCO_ODE_STATUS_STEADY_STATE;
        }
    }
  return TRUE;
}

/* Marks the running samples that reached t1 or used all their steps. */
static void
mark_ended (Solve *solve)
{
  DiscoOdeSolver *ws = solve->ws;

  for (gsize i = 0; i < solve->n_active; i++)
    {
      Sample *sample = &ws->samples[i];

      if (!sample->running)
        continue;

      if (sample->clock.t >= solve->config->t1)
        {
          sample->running = FALSE;
          sample->status = DISCO_ODE_STATUS_REACHED_END;
        }
      else if (sample->clock.n_accepted + sample->clock.n_rejected >= solve->config->max_steps)
        {
          sample->running = FALSE;
          sample->status = DISCO_ODE_STATUS_MAX_STEPS;
        }
    }
}

/* Copies each stopped sample's final state to its row of the caller's y,
 * records its statistics, and closes the gap it leaves, keeping the running
 * samples packed and in order.  Only y and f(y) (k_0) carry over between
 * steps, so only they move. */
static gboolean
retire_stopped (Solve *solve, GError **error)
{
  DiscoOdeSolver *ws = solve->ws;
  const DiscoOps *ops = ws->ops;
  const gsize n = solve->n_state;
  const gsize row_bytes = n * sizeof (float);
  gsize kept = 0;

  for (gsize i = 0; i < solve->n_active; i++)
    {
      const Sample *sample = &ws->samples[i];

      if (!sample->running)
        {
          if (!ops->copy (solve->y_out + (gsize) sample->row * n, ws->y + i * n, row_bytes, error))
            return FALSE;
          if (solve->stats != NULL)
            solve->stats[sample->row] = (DiscoOdeSampleStats){
              .n_accepted = sample->clock.n_accepted,
              .n_rejected = sample->clock.n_rejected,
              .n_rhs_evals = sample->n_rhs_evals,
              .t_final = sample->clock.t,
              .status = sample->status,
            };
          continue;
        }

      if (kept != i)
        {
          if (!ops->copy (ws->y + kept * n, ws->y + i * n, row_bytes, error)
              || !ops->copy (ws->k[0] + kept * n, ws->k[0] + i * n, row_bytes, error))
            return FALSE;
          ws->samples[kept] = *sample;
          ws->rows[kept] = sample->row;
        }
      kept++;
    }

  solve->n_active = kept;
  return TRUE;
}

/**
 * disco_ode_clock_advance_cpu:
 * @params: the controller settings
 * @n_samples: B
 * @clocks: (array length=n_samples): one clock per sample, advanced in place
 * @error_norm: (array length=n_samples) (nullable): each step's scaled error
 *   norm; %NULL for constant steps
 * @keep: (array length=n_samples) (out) (nullable): whether each step is kept
 *
 * disco_ode_clock_advance() for every sample: the CPU reference of the
 * device's per-sample step-size update.
 */
void
disco_ode_clock_advance_cpu (const DiscoOdeClockParams *params, gsize n_samples,
                             DiscoOdeClock *clocks, const float *error_norm, gint *keep)
{
  g_return_if_fail (params != NULL);
  g_return_if_fail (n_samples == 0 || clocks != NULL);

  for (gsize i = 0; i < n_samples; i++)
    {
      gboolean kept =
          disco_ode_clock_advance (params, &clocks[i], error_norm != NULL ? error_norm[i] : 0.0f);

      if (keep != NULL)
        keep[i] = kept;
    }
}

/* Fills ws->t_stage with t + c·h for every running sample; c = 1 means the
 * step's end exactly, as in Diffrax. */
static void
set_stage_times (Solve *solve, double c)
{
  DiscoOdeSolver *ws = solve->ws;

  for (gsize i = 0; i < solve->n_active; i++)
    {
      const Sample *sample = &ws->samples[i];

      if (c == 1.0)
        ws->t_stage[i] = sample->clock.t_next;
      else
        ws->t_stage[i] = sample->clock.t + c * (sample->clock.t_next - sample->clock.t);
    }
}

/* One Runge-Kutta step of every running sample, each with its own h.  On
 * entry k_0 = f(y); on return y1 holds the candidate solution and, for an
 * adaptive solve, ws->error_norm the scaled norm of its error estimate
 * (downloaded).  The stage inputs are built in y1, which the last one
 * (FSAL) or the final combination overwrites with the solution. */
static gboolean
take_step (Solve *solve, GError **error)
{
  DiscoOdeSolver *ws = solve->ws;
  const DiscoOps *ops = ws->ops;
  const Tableau *tab = solve->tableau;
  const DiscoOdeConfig *config = solve->config;
  const gsize a = solve->n_active;
  const gsize n = solve->n_state;
  const float *const *k = (const float *const *) ws->k;

  for (gsize i = 0; i < a; i++)
    ws->h[i] = (float) (ws->samples[i].clock.t_next - ws->samples[i].clock.t);
  if (!ops->upload (ws->h_ops, ws->h, a * sizeof (float), error))
    return FALSE;

  for (guint s = 1; s < tab->n_stages; s++)
    {
      ops->rk_combine (a, n, n, ws->y, ws->h_ops, s, tab->a[s], k, ws->y1);
      set_stage_times (solve, tab->c[s]);
      if (!evaluate (solve, ws->y1, ws->k[s], error))
        return FALSE;
    }

  if (!tab->fsal)
    ops->rk_combine (a, n, n, ws->y, ws->h_ops, tab->n_stages, tab->b, k, ws->y1);

  /* Only Tsit5 has an error estimate (disco_ode_config_validate()). */
  if (config->controller != DISCO_ODE_CONTROLLER_CONSTANT)
    {
      ops->rk_embedded_error_norm (a, n, n, (float) config->atol, (float) config->rtol, ws->y,
                                   ws->y1, ws->h_ops, tab->n_stages, tab->e, k, ws->error_norm_ops);
      if (!ops->download (ws->error_norm, ws->error_norm_ops, a * sizeof (float), error))
        return FALSE;
    }

  return TRUE;
}

/* Makes the step's result the new state.  Rather than copying every kept
 * row, the buffers are swapped and the (rare) rejected rows copied back:
 * y ↔ y1 and, for FSAL, k_0 ↔ k_{S−1}, since k_{S−1} = f(y1). */
static gboolean
commit_step (Solve *solve, GError **error)
{
  DiscoOdeSolver *ws = solve->ws;
  const DiscoOps *ops = ws->ops;
  const Tableau *tab = solve->tableau;
  const gsize n = solve->n_state;
  const gsize row_bytes = n * sizeof (float);
  const gboolean adaptive = solve->config->controller != DISCO_ODE_CONTROLLER_CONSTANT;
  float **k_last = &ws->k[tab->n_stages - 1];

  swap_buffers (&ws->y, &ws->y1);
  if (tab->fsal)
    swap_buffers (&ws->k[0], k_last);

  for (gsize i = 0; i < solve->n_active; i++)
    {
      const gboolean keep = disco_ode_clock_advance (&solve->clock_params, &ws->samples[i].clock,
                                                     adaptive ? ws->error_norm[i] : 0.0f);

      if (keep)
        continue;

      if (!ops->copy (ws->y + i * n, ws->y1 + i * n, row_bytes, error)
          || (tab->fsal && !ops->copy (ws->k[0] + i * n, *k_last + i * n, row_bytes, error)))
        return FALSE;
    }
  return TRUE;
}

/**
 * disco_ode_solver_solve:
 * @solver: a #DiscoOdeSolver
 * @config: the solver settings, see disco_ode_config_init()
 * @n_samples: B, the number of samples (rows of @y)
 * @n_state: N, the state length of one sample, > 0
 * @y: (array) (inout): B×N initial states on entry, final states on return,
 *   in the memory of the solver's table (host memory for the host table)
 * @rhs: (scope call): the right-hand side, called on running samples only
 * @user_data: (closure): passed to @rhs
 * @stats: (array) (out caller-allocates) (nullable): B entries to receive
 *   each sample's statistics
 * @error: return location for a #GError
 *
 * Integrates every sample of @y from @config->t0 until it reaches t1, comes
 * to rest (when @config->steady_state_stop is set) or uses max_steps steps.
 * Each sample has its own clock and controller; the running samples step
 * together so that each @rhs call sees them as one packed batch.
 *
 * Returns: %TRUE on success.  %FALSE with @error set when @config is
 *   invalid (%DISCO_ERROR_BAD_VALUE, @y untouched) or @rhs failed
 *   (its error; @y then holds a mix of initial and final states)
 */
gboolean
disco_ode_solver_solve (DiscoOdeSolver *solver, const DiscoOdeConfig *config, gsize n_samples,
                        gsize n_state, float *y, DiscoOdeRhsFunc rhs, gpointer user_data,
                        DiscoOdeSampleStats *stats, GError **error)
{
  Solve solve;
  const Tableau *tableau;

  g_return_val_if_fail (solver != NULL, FALSE);
  g_return_val_if_fail (config != NULL, FALSE);
  g_return_val_if_fail (n_state > 0, FALSE);
  g_return_val_if_fail (n_samples <= G_MAXUINT, FALSE);
  g_return_val_if_fail (n_samples == 0 || y != NULL, FALSE);
  g_return_val_if_fail (rhs != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!disco_ode_config_validate (config, error))
    return FALSE;
  if (n_samples == 0)
    return TRUE;

  tableau = tableau_for (config->method);
  if (!workspace_prepare (solver, n_samples, n_state, tableau->n_stages, error))
    return FALSE;

  solve = (Solve){
    .ws = solver,
    .config = config,
    .tableau = tableau,
    .n_state = n_state,
    .n_active = n_samples,
    .y_out = y,
    .rhs = rhs,
    .user_data = user_data,
    .stats = stats,
  };
  disco_ode_clock_params_init (&solve.clock_params, config, tableau->error_order);

  /* Diffrax's init: dt0 clipped to [dtmin, dtmax] for an adaptive solve,
   * the first step's end clipped to t1. */
  {
    double dt0 = config->dt0;
    gboolean at_dtmin = FALSE;

    if (config->controller != DISCO_ODE_CONTROLLER_CONSTANT)
      {
        dt0 = MIN (dt0, config->dtmax);
        at_dtmin = dt0 <= config->dtmin;
        dt0 = MAX (dt0, config->dtmin);
      }

    for (gsize i = 0; i < n_samples; i++)
      {
        solver->samples[i] = (Sample) {
          .row = (guint) i,
          .running = TRUE,
          .clock = {
            .t = config->t0,
            .t_next = MIN (config->t0 + dt0, config->t1),
            .inv_error_prev = 1.0,
            .inv_error_prev_prev = 1.0,
            .at_dtmin = at_dtmin,
          },
        };
        solver->rows[i] = (guint) i;
        solver->t_stage[i] = config->t0;
      }
  }

  if (!solver->ops->copy (solver->y, y, n_samples * n_state * sizeof (float), error))
    return FALSE;

  /* First same as last: f(y0) once, then each step leaves f(y1) behind. */
  if (tableau->fsal && !evaluate (&solve, solver->y, solver->k[0], error))
    return FALSE;

  while (solve.n_active > 0)
    {
      if (!tableau->fsal)
        {
          set_stage_times (&solve, 0.0);
          if (!evaluate (&solve, solver->y, solver->k[0], error))
            return FALSE;

          /* This is the f(y) of the state the last step produced. */
          if (config->steady_state_stop)
            {
              if (!mark_steady (&solve, error) || !retire_stopped (&solve, error))
                return FALSE;
              if (solve.n_active == 0)
                break;
            }
        }

      if (!take_step (&solve, error) || !commit_step (&solve, error))
        return FALSE;

      if (tableau->fsal && config->steady_state_stop && !mark_steady (&solve, error))
        return FALSE;
      mark_ended (&solve);
      if (!retire_stopped (&solve, error))
        return FALSE;
    }

  return solver->ops->check (error);
}

/**
 * disco_ode_solve:
 * @config: the solver settings, see disco_ode_config_init()
 * @n_samples: B, the number of samples (rows of @y)
 * @n_state: N, the state length of one sample, > 0
 * @y: (array) (inout): B×N initial states on entry, final states on return
 * @rhs: (scope call): the right-hand side, called on running samples only
 * @user_data: (closure): passed to @rhs
 * @stats: (array) (out caller-allocates) (nullable): B entries to receive
 *   each sample's statistics
 * @error: return location for a #GError
 *
 * disco_ode_solver_solve() with a workspace made for this one call.
 *
 * Returns: %TRUE on success; %FALSE with @error set otherwise
 */
gboolean
disco_ode_solve (const DiscoOdeConfig *config, gsize n_samples, gsize n_state, float *y,
                 DiscoOdeRhsFunc rhs, gpointer user_data, DiscoOdeSampleStats *stats,
                 GError **error)
{
  g_autoptr (DiscoOdeSolver) solver = disco_ode_solver_new ();

  return disco_ode_solver_solve (solver, config, n_samples, n_state, y, rhs, user_data, stats,
                                 error);
}
