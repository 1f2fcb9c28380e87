/* test-ode.c: the batched ODE solver on problems with known solutions.
 *
 * Orders of convergence, tolerance of the adaptive solve, the steady-state
 * stop, independence of samples in a batch, Diffrax 0.4.1's step-size
 * semantics (MODEL.md §5), and the errors bad settings give.
 */

#include <math.h>
#include <string.h>

#include <glib.h>

#include "disco-ode.h"

/* ------------------------------------------------------------------------
 * Problems
 * ---------------------------------------------------------------------- */

/* y' = A y, A = [[−1, 8], [−8, −1]]: a damped rotation whose solution from
 * (1, 0) is e^{−t}(cos 8t, −sin 8t).  The same for every sample. */
static gboolean
rotation_rhs (gpointer user_data G_GNUC_UNUSED, gsize n_active, const guint *rows G_GNUC_UNUSED,
              const double *t G_GNUC_UNUSED, const float *y, float *dydt,
              GError **error G_GNUC_UNUSED)
{
  for (gsize i = 0; i < n_active; i++)
    {
      const float *yi = y + 2 * i;

      dydt[2 * i] = -yi[0] + 8.0f * yi[1];
      dydt[2 * i + 1] = -8.0f * yi[0] - yi[1];
    }
  return TRUE;
}

static double
rotation_error (const float *y, double t)
{
  double e0 = fabs (y[0] - exp (-t) * cos (8.0 * t));
  double e1 = fabs (y[1] + exp (-t) * sin (8.0 * t));

  return fmax (e0, e1);
}

/* du/dt = (−u + x)/τ, element-wise, with τ and x picked per sample through
 * the row index: the linear relaxation of one E neuron towards its input. */
typedef struct
{
  gsize n_state;
  const double *tau;   /* one per sample */
  const float *target; /* n_state per sample */

  /* What the solver showed us. */
  guint n_calls;
  gsize last_n_active;
  gsize total_row_evals;
} Relaxation;

static gboolean
relaxation_rhs (gpointer user_data, gsize n_active, const guint *rows,
                const double *t G_GNUC_UNUSED, const float *y, float *dydt,
                GError **error G_GNUC_UNUSED)
{
  Relaxation *problem = user_data;
  const gsize n = problem->n_state;

  /* The batch is compact, ordered, and only ever shrinks. */
  g_assert_cmpuint (n_active, >, 0);
  if (problem->n_calls > 0)
    g_assert_cmpuint (n_active, <=, problem->last_n_active);
  for (gsize i = 1; i < n_active; i++)
    g_assert_cmpuint (rows[i], >, rows[i - 1]);

  problem->n_calls++;
  problem->last_n_active = n_active;
  problem->total_row_evals += n_active;

  for (gsize i = 0; i < n_active; i++)
    {
      const float inv_tau = (float) (1.0 / problem->tau[rows[i]]);
      const float *x = problem->target + rows[i] * n;

      for (gsize j = 0; j < n; j++)
        dydt[i * n + j] = (-y[i * n + j] + x[j]) * inv_tau;
    }
  return TRUE;
}

static DiscoOdeConfig
fixed_step_config (DiscoOdeMethod method, double h, double t1)
{
  DiscoOdeConfig config;

  disco_ode_config_init (&config);
  config.method = method;
  config.controller = DISCO_ODE_CONTROLLER_CONSTANT;
  config.dt0 = h;
  config.t1 = t1;
  config.max_steps = 1 << 20;
  config.steady_state_stop = FALSE;
  return config;
}

/* ------------------------------------------------------------------------
 * Convergence order
 *
 * The error at the end of [t0, t1] with fixed steps h and h/2 gives the
 * observed order log2(e(h)/e(h/2)).  float32 puts a floor of ~1e−7 under
 * every error, so each step pair is chosen with both errors well above it.
 * ---------------------------------------------------------------------- */

/* y' = T6′(t) on [−1, 1], T6 the Chebyshev polynomial 32t⁶ − 48t⁴ + 18t² − 1,
 * so y(t) = T6(t) and y(±1) = 1.  For a degree-5 integrand a 5th-order
 * method errs by exactly C5·a·h⁶ per step (a = 192 the leading coefficient,
 * C5 = Σbᵢcᵢ⁵ − 1/6 ≈ −2.2e−4 for Tsit5) with no higher-order terms, so the
 * observed order is exactly 5 up to rounding. */
static gboolean
chebyshev_rhs (gpointer user_data G_GNUC_UNUSED, gsize n_active, const guint *rows G_GNUC_UNUSED,
               const double *t, const float *y G_GNUC_UNUSED, float *dydt,
               GError **error G_GNUC_UNUSED)
{
  for (gsize i = 0; i < n_active; i++)
    {
      double x = t[i], x2 = x * x;

      dydt[i] = (float) (x * (192.0 * x2 * x2 - 192.0 * x2 + 36.0));
    }
  return TRUE;
}

static double
error_at_end (DiscoOdeMethod method, double h, DiscoOdeRhsFunc rhs, guint *n_rhs_evals)
{
  const gboolean chebyshev = rhs == chebyshev_rhs;
  DiscoOdeConfig config = fixed_step_config (method, h, 1.0);
  float y[2] = { 1.0f, 0.0f };
  DiscoOdeSampleStats stats;
  GError *error = NULL;

  if (chebyshev)
    config.t0 = -1.0;

  g_assert_true (disco_ode_solve (&config, 1, chebyshev ? 1 : 2, y, rhs, NULL, &stats, &error));
  g_assert_no_error (error);
  g_assert_cmpint (stats.status, ==, DISCO_ODE_STATUS_REACHED_END);
  g_assert_cmpfloat (stats.t_final, ==, 1.0);
  g_assert_cmpuint (stats.n_accepted, ==, (guint) lround ((config.t1 - config.t0) / h));
  g_assert_cmpuint (stats.n_rejected, ==, 0);
  if (n_rhs_evals != NULL)
    *n_rhs_evals = stats.n_rhs_evals;

  return chebyshev ? fabs (y[0] - 1.0) : rotation_error (y, 1.0);
}

static double
observed_order (DiscoOdeMethod method, double h, DiscoOdeRhsFunc rhs)
{
  double coarse = error_at_end (method, h, rhs, NULL);
  double fine = error_at_end (method, h / 2.0, rhs, NULL);
  double order = log2 (coarse / fine);

  g_test_message ("error %.3e at h = %g, %.3e at h/2: order %.2f", coarse, h, fine, order);
  return order;
}

static void
test_order_tsit5 (void)
{
  guint evals;
  double order;

  g_test_summary ("Tsit5 with fixed steps converges with order 5: exactly "
                  "on a polynomial integrand, and at least 5 on the damped "
                  "rotation y' = Ay; FSAL costs 1 + 6 evaluations per step");

  /* 4 and 8 steps: errors ≈ 2.6e−3 and 8.3e−5, far above rounding. */
  order = observed_order (DISCO_ODE_METHOD_TSIT5, 0.5, chebyshev_rhs);
  g_assert_cmpfloat (order, >=, 4.5);
  g_assert_cmpfloat (order, <=, 5.5);

  /* On y' = Ay one step multiplies by Tsit5's stability polynomial, whose
   * z⁶ coefficient misses 1/720 by only 4.4e−5 while e^z's z⁷ term is
   * 2e−4: until |hλ| < 0.2, where float32 can no longer see the error, the
   * z⁷ term leads and the observed order is nearer 6.  Any wrong stage
   * coupling would break a lower-order condition and drop it to ≤ 4. */
  order = observed_order (DISCO_ODE_METHOD_TSIT5, 1.0 / 8, rotation_rhs);
  g_assert_cmpfloat (order, >=, 4.5);
  g_assert_cmpfloat (order, <=, 7.0);

  error_at_end (DISCO_ODE_METHOD_TSIT5, 0.125, rotation_rhs, &evals);
  g_assert_cmpuint (evals, ==, 1 + 6 * 8);
}

static void
test_order_rk4 (void)
{
  guint evals;
  double order;

  g_test_summary ("Classic RK4 converges with order 4, at 4 evaluations "
                  "per step");

  /* |hλ| ≈ 0.5 and 0.25: errors ≈ 1.6e−3 and 8.6e−5. */
  order = observed_order (DISCO_ODE_METHOD_RK4, 1.0 / 16, rotation_rhs);
  g_assert_cmpfloat (order, >=, 3.5);
  g_assert_cmpfloat (order, <=, 4.5);

  error_at_end (DISCO_ODE_METHOD_RK4, 0.125, rotation_rhs, &evals);
  g_assert_cmpuint (evals, ==, 4 * 8);
}

static void
test_order_euler (void)
{
  guint evals;
  double order;

  g_test_summary ("Forward Euler converges with order 1, at 1 evaluation "
                  "per step");

  /* Errors ≈ 2e−2 and 1e−2; 512 steps of rounding stay near 1e−5. */
  order = observed_order (DISCO_ODE_METHOD_EULER, 1.0 / 512, rotation_rhs);
  g_assert_cmpfloat (order, >=, 0.5);
  g_assert_cmpfloat (order, <=, 1.5);

  error_at_end (DISCO_ODE_METHOD_EULER, 0.125, rotation_rhs, &evals);
  g_assert_cmpuint (evals, ==, 8);
}

/* ------------------------------------------------------------------------
 * Adaptive Tsit5
 * ---------------------------------------------------------------------- */

static void
test_adaptive_tolerance (void)
{
  static const double rtols[] = { 1e-3, 1e-4, 1e-5 };
  double last_error = INFINITY;
  guint last_steps = 0;

  g_test_summary ("Adaptive Tsit5 meets its tolerance on the damped "
                  "rotation, and a tighter tolerance buys accuracy with "
                  "more steps");

  for (gsize i = 0; i < G_N_ELEMENTS (rtols); i++)
    {
      DiscoOdeConfig config;
      float y[2] = { 1.0f, 0.0f };
      DiscoOdeSampleStats stats;
      double error;

      disco_ode_config_init (&config);
      config.steady_state_stop = FALSE;
      config.rtol = rtols[i];
      config.atol = rtols[i] * 1e-3;
      config.dtmin = 1e-6;
      config.dtmax = 1.0;

      g_assert_true (disco_ode_solve (&config, 1, 2, y, rotation_rhs, NULL, &stats, NULL));
      g_assert_cmpint (stats.status, ==, DISCO_ODE_STATUS_REACHED_END);
      g_assert_cmpfloat (stats.t_final, ==, config.t1);

      error = rotation_error (y, config.t1);
      g_test_message ("rtol %g: error %.3e after %u accepted, %u rejected", rtols[i], error,
                      stats.n_accepted, stats.n_rejected);

      /* Local control does not bound the global error, but over 16
       * radians of rotation it stays within a few times the tolerance of
       * the solution's scale (≤ 1). */
      g_assert_cmpfloat (error, <, 5.0 * (config.atol + config.rtol));
      g_assert_cmpfloat (error, <, last_error);
      g_assert_cmpuint (stats.n_accepted, >, last_steps);
      last_error = error;
      last_steps = stats.n_accepted;
    }
}

static void
test_steady_state_stop (void)
{
  enum
  {
    N = 16
  };
  const double tau[] = { 0.02 };
  float target[N], u[N] = { 0 };
  Relaxation problem = { N, tau, target, 0, 0, 0 };
  DiscoOdeConfig config;
  DiscoOdeSampleStats stats;
  double rms_u = 0.0, bound;

  g_test_summary ("A linear relaxation du/dt = (-u + x)/tau stops early at "
                  "rest, within the steady-state tolerance of x");

  for (int j = 0; j < N; j++)
    target[j] = (float) (0.1 + 0.2 * j);

  disco_ode_config_init (&config);
  g_assert_true (disco_ode_solve (&config, 1, N, u, relaxation_rhs, &problem, &stats, NULL));

  g_assert_cmpint (stats.status, ==, DISCO_ODE_STATUS_STEADY_STATE);
  /* e^{−t/τ} must fall to ~rtol·τ: t ≈ τ·ln(1/(rtol·τ)) ≈ 0.2 s ≪ T. */
  g_assert_cmpfloat (stats.t_final, <, 0.5);
  g_assert_cmpuint (stats.n_rejected, ==, 0);
  g_assert_cmpuint (stats.n_rhs_evals, ==, 1 + 6 * stats.n_accepted);
  g_assert_cmpuint (stats.n_rhs_evals, ==, problem.total_row_evals);

  /* Stopped because RMS(u − x)/τ < atol + rtol·RMS(u), so no entry can be
   * further from x than √N·τ·(atol + rtol·RMS(u)). */
  for (int j = 0; j < N; j++)
    rms_u += (double) u[j] * u[j];
  rms_u = sqrt (rms_u / N);
  bound = sqrt (N) * tau[0] * (config.atol + config.rtol * rms_u);
  for (int j = 0; j < N; j++)
    g_assert_cmpfloat (fabs (u[j] - target[j]), <, bound);

  /* Relaxing towards 0, rtol·RMS(u) shrinks with RMS(f) = RMS(u)/τ, so
   * only atol can end it: once RMS(u) < τ·atol ≈ 2e−8, at t ≈ 0.35 s. */
  {
    const float zero[N] = { 0 };
    Relaxation to_zero = { N, tau, zero, 0, 0, 0 };

    for (int j = 0; j < N; j++)
      u[j] = 1.0f;
    g_assert_true (disco_ode_solve (&config, 1, N, u, relaxation_rhs, &to_zero, &stats, NULL));
    g_assert_cmpint (stats.status, ==, DISCO_ODE_STATUS_STEADY_STATE);
    g_assert_cmpfloat (stats.t_final, >, 0.3);
    g_assert_cmpfloat (stats.t_final, <, 0.5);
  }

  /* Without the stop, the same problem runs to T. */
  {
    float v[N] = { 0 };

    config.steady_state_stop = FALSE;
    g_assert_true (disco_ode_solve (&config, 1, N, v, relaxation_rhs, &problem, &stats, NULL));
    g_assert_cmpint (stats.status, ==, DISCO_ODE_STATUS_REACHED_END);
    g_assert_cmpfloat (stats.t_final, ==, config.t1);
  }
}

static void
test_steady_state_fixed_step (void)
{
  enum
  {
    N = 4
  };
  const double tau[] = { 0.05 };
  const float target[N] = { 1.0f, -2.0f, 0.5f, 3.0f };
  float u[N] = { 0 };
  Relaxation problem = { N, tau, target, 0, 0, 0 };
  DiscoOdeConfig config = fixed_step_config (DISCO_ODE_METHOD_EULER, 1e-3, 2.0);
  DiscoOdeSampleStats stats;

  g_test_summary ("The steady-state stop works for a method without FSAL, "
                  "using the f(y) its next step computes anyway");

  config.steady_state_stop = TRUE;
  g_assert_true (disco_ode_solve (&config, 1, N, u, relaxation_rhs, &problem, &stats, NULL));
  g_assert_cmpint (stats.status, ==, DISCO_ODE_STATUS_STEADY_STATE);
  g_assert_cmpfloat (stats.t_final, <, 1.0);
  /* One evaluation per step, plus the one that found the rest. */
  g_assert_cmpuint (stats.n_rhs_evals, ==, stats.n_accepted + 1);
  for (int j = 0; j < N; j++)
    g_assert_cmpfloat_with_epsilon (u[j], target[j], 1e-3);

  /* Started at rest it still takes one step first, as Diffrax does. */
  g_assert_true (disco_ode_solve (&config, 1, N, u, relaxation_rhs, &problem, &stats, NULL));
  g_assert_cmpint (stats.status, ==, DISCO_ODE_STATUS_STEADY_STATE);
  g_assert_cmpuint (stats.n_accepted, ==, 1);
}

static void
test_max_steps (void)
{
  float y[4] = { 1.0f, 0.0f, 1.0f, 0.0f };
  DiscoOdeSampleStats stats[2];
  DiscoOdeConfig config;

  g_test_summary ("A sample that runs out of steps stops with status "
                  "max-steps, short of T");

  disco_ode_config_init (&config);
  config.max_steps = 5;
  g_assert_true (disco_ode_solve (&config, 2, 2, y, rotation_rhs, NULL, stats, NULL));
  for (int i = 0; i < 2; i++)
    {
      g_assert_cmpint (stats[i].status, ==, DISCO_ODE_STATUS_MAX_STEPS);
      g_assert_cmpuint (stats[i].n_accepted + stats[i].n_rejected, ==, 5);
      g_assert_cmpfloat (stats[i].t_final, <, config.t1);
    }
}

/* ------------------------------------------------------------------------
 * Independence of samples
 * ---------------------------------------------------------------------- */

static void
test_batch_independence (void)
{
  enum
  {
    B = 7,
    N = 5
  };
  /* From stiff enough to be rejected at 10 ms to too slow to settle by T. */
  const double tau[B] = { 0.02, 0.004, 0.3, 0.01, 0.05, 0.002, 0.1 };
  float target[B * N], y[B * N], y_start[B * N];
  Relaxation problem = { N, tau, target, 0, 0, 0 };
  DiscoOdeSampleStats stats[B];
  DiscoOdeConfig config;
  g_autoptr (DiscoOdeSolver) solver = disco_ode_solver_new ();
  gboolean saw_end = FALSE, saw_steady = FALSE, saw_reject = FALSE;
  gsize stats_evals = 0;

  g_test_summary ("Each sample of a batch mixing fast and slow dynamics "
                  "gets bit-identical states and step counts to solving it "
                  "alone, and finished samples leave the batch");

  for (int i = 0; i < B * N; i++)
    {
      target[i] = (float) sin (1.7 * i) * 2.0f;
      y_start[i] = (float) cos (0.9 * i);
    }
  memcpy (y, y_start, sizeof y);

  disco_ode_config_init (&config);
  g_assert_true (
      disco_ode_solver_solve (solver, &config, B, N, y, relaxation_rhs, &problem, stats, NULL));

  for (int b = 0; b < B; b++)
    {
      /* The same sample on its own, through a fresh solver. */
      Relaxation alone = { N, tau + b, target + b * N, 0, 0, 0 };
      float y_alone[N];
      DiscoOdeSampleStats stats_alone;

      memcpy (y_alone, y_start + b * N, sizeof y_alone);
      g_assert_true (
          disco_ode_solve (&config, 1, N, y_alone, relaxation_rhs, &alone, &stats_alone, NULL));

      g_assert_cmpmem (y + b * N, sizeof y_alone, y_alone, sizeof y_alone);
      g_assert_cmpuint (stats[b].n_accepted, ==, stats_alone.n_accepted);
      g_assert_cmpuint (stats[b].n_rejected, ==, stats_alone.n_rejected);
      g_assert_cmpuint (stats[b].n_rhs_evals, ==, stats_alone.n_rhs_evals);
      g_assert_cmpfloat (stats[b].t_final, ==, stats_alone.t_final);
      g_assert_cmpint (stats[b].status, ==, stats_alone.status);

      stats_evals += stats[b].n_rhs_evals;
      saw_end |= stats[b].status == DISCO_ODE_STATUS_REACHED_END;
      saw_steady |= stats[b].status == DISCO_ODE_STATUS_STEADY_STATE;
      saw_reject |= stats[b].n_rejected > 0;
    }

  /* The mix really was mixed. */
  g_assert_true (saw_end && saw_steady && saw_reject);
  /* Every row the callback was given was a running sample's evaluation:
   * nothing was spent on finished samples. */
  g_assert_cmpuint (problem.total_row_evals, ==, stats_evals);
  g_assert_cmpuint (problem.total_row_evals, <, (gsize) B * problem.n_calls);
}

static void
test_solver_reuse (void)
{
  const double tau[3] = { 0.02, 0.05, 0.01 };
  const float target[3 * 8] = { 1,  2,  3,  4,  5,   6,   7,   8,   -1,  -2,  -3,  -4,
                                -5, -6, -7, -8, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5 };
  g_autoptr (DiscoOdeSolver) solver = disco_ode_solver_new ();
  DiscoOdeConfig config;

  g_test_summary ("One solver reused across solves of growing and "
                  "shrinking size gives what one-shot solves give");

  disco_ode_config_init (&config);

  for (int round = 0; round < 3; round++)
    {
      const gsize b = round == 1 ? 3 : 2, n = round == 1 ? 8 : 4;
      float y_reused[3 * 8] = { 0 }, y_once[3 * 8] = { 0 };
      Relaxation p1 = { n, tau, target, 0, 0, 0 };
      Relaxation p2 = { n, tau, target, 0, 0, 0 };

      g_assert_true (disco_ode_solver_solve (solver, &config, b, n, y_reused, relaxation_rhs, &p1,
                                             NULL, NULL));
      g_assert_true (disco_ode_solve (&config, b, n, y_once, relaxation_rhs, &p2, NULL, NULL));
      g_assert_cmpmem (y_reused, b * n * sizeof (float), y_once, b * n * sizeof (float));
    }
}

/* ------------------------------------------------------------------------
 * Diffrax 0.4.1 semantics
 * ---------------------------------------------------------------------- */

/* The time after each of the first steps of a solve, and whether each step
 * was accepted (a rejected one leaves the time where it was).  The solve is
 * deterministic, so stopping it after k = 1, 2, … steps shows them one by
 * one.  Returns the number of steps the whole solve took, or max_k. */
static guint
trace_steps (const DiscoOdeConfig *base, DiscoOdeRhsFunc rhs, gpointer user_data, gsize n_state,
             const float *y0, guint max_k, double *t_after, gboolean *accepted)
{
  guint previous_rejected = 0;

  for (guint k = 1; k <= max_k; k++)
    {
      DiscoOdeConfig config = *base;
      DiscoOdeSampleStats stats;
      float y[8];

      g_assert_cmpuint (n_state, <=, G_N_ELEMENTS (y));
      memcpy (y, y0, n_state * sizeof (float));
      config.max_steps = k;
      g_assert_true (disco_ode_solve (&config, 1, n_state, y, rhs, user_data, &stats, NULL));
      g_assert_cmpuint (stats.n_accepted + stats.n_rejected, ==, k);

      t_after[k - 1] = stats.t_final;
      accepted[k - 1] = stats.n_rejected == previous_rejected;
      previous_rejected = stats.n_rejected;

      if (stats.status != DISCO_ODE_STATUS_MAX_STEPS)
        return k;
    }

  return max_k;
}

static void
test_diffrax_step_ramp (void)
{
  enum
  {
    MAX_K = 40
  };
  const double tau[] = { 0.02 };
  const float target[] = { 1.0f }, u0[] = { 0.0f };
  Relaxation problem = { 1, tau, target, 0, 0, 0 };
  double t_after[MAX_K];
  gboolean accepted[MAX_K];
  DiscoOdeConfig config;
  guint n_steps, cap_reached = 0;

  g_test_summary ("du/dt = (-u + 1)/0.02 with the model's settings: steps "
                  "start at dt0 = 1 ms, never shrink after an accepted step, "
                  "reach the 10 ms cap within 7-14 steps, are never "
                  "rejected, and the sample comes to rest "
                  "(MODEL.md section 5)");

  disco_ode_config_init (&config);
  n_steps = trace_steps (&config, relaxation_rhs, &problem, 1, u0, MAX_K, t_after, accepted);
  g_assert_cmpuint (n_steps, <, MAX_K);

  g_assert_cmpfloat_with_epsilon (t_after[0], 1e-3, 1e-15);
  for (guint k = 1; k < n_steps; k++)
    {
      double dt = t_after[k] - t_after[k - 1];
      double dt_prev = t_after[k - 1] - (k >= 2 ? t_after[k - 2] : 0.0);

      g_assert_true (accepted[k]);
      /* Never smaller (up to the rounding of t_k − t_{k−1} in double). */
      g_assert_cmpfloat (dt, >=, dt_prev * (1.0 - 1e-12));
      g_assert_cmpfloat (dt, <=, 1e-2 * (1.0 + 1e-12));
      if (cap_reached == 0 && dt >= 1e-2 * (1.0 - 1e-12))
        cap_reached = k + 1;
    }

  g_test_message ("cap reached at step %u, at rest after %u steps (t = %g)", cap_reached, n_steps,
                  t_after[n_steps - 1]);
  g_assert_cmpuint (cap_reached, >=, 7);
  g_assert_cmpuint (cap_reached, <=, 14);
}

/* The damped rotation from (1, 0) with dt0 = 0.5, dtmin = 1e−6, dtmax = 1,
 * rtol = 1e−3, atol = 1e−6, T = 2, no steady-state stop: the time after
 * each step, −1 for a rejected step.  Computed by a float64 NumPy
 * transliteration of Diffrax 0.4.1's diffeqsolve loop (integrate.py),
 * PIDController (step_size_controller/adaptive.py) and Tsit5
 * (solver/tsit5.py); in float64 this solver reproduces it to 1e−9.  The
 * first step is far too long, so the run starts with three rejections at
 * factormin = 0.1; then the scaled error settles at 0.3-0.6, where the PID
 * factor is just below 1, and Diffrax's "an accepted step never shrinks"
 * rule holds the step at 0.1198.  The error nearest 1 is 1.016, so float32
 * rounding cannot flip a decision. */
static const double diffrax_rotation_trace[] = {
  -1,       -1,       -1,       0.136584, -1,       0.256388, 0.376192,
  0.495995, 0.615799, 0.735603, 0.855406, 0.975210, 1.095026, 1.214842,
  1.334657, 1.454473, 1.574289, 1.694104, 1.813920, 1.933736, 2.000000,
};

static DiscoOdeConfig
rotation_pid_config (DiscoOdeController controller)
{
  DiscoOdeConfig config;

  disco_ode_config_init (&config);
  config.controller = controller;
  config.dt0 = 0.5;
  config.dtmin = 1e-6;
  config.dtmax = 1.0;
  config.steady_state_stop = FALSE;
  return config;
}

static void
test_diffrax_reference_trace (void)
{
  enum
  {
    N_STEPS = G_N_ELEMENTS (diffrax_rotation_trace)
  };
  const float y0[] = { 1.0f, 0.0f };
  DiscoOdeConfig config = rotation_pid_config (DISCO_ODE_CONTROLLER_DIFFRAX);
  double t_after[N_STEPS + 1];
  gboolean accepted[N_STEPS + 1];
  guint n_steps;

  g_test_summary ("With rejections and the PID terms all at work, the "
                  "accept/reject pattern and the times match Diffrax 0.4.1's "
                  "step-size control (MODEL.md section 5)");

  n_steps = trace_steps (&config, rotation_rhs, NULL, 2, y0, N_STEPS + 1, t_after, accepted);
  g_assert_cmpuint (n_steps, ==, N_STEPS);

  for (guint k = 0; k < N_STEPS; k++)
    {
      const double reference = diffrax_rotation_trace[k];

      g_assert_cmpint (accepted[k], ==, reference >= 0.0);
      /* float32 states against a float64 reference move each error norm
       * by ~1e−5 relative, and each time by ~1e−5: 10× margin. */
      if (reference >= 0.0)
        g_assert_cmpfloat_with_epsilon (t_after[k], reference, 1e-4);
    }
}

static void
test_textbook_controller (void)
{
  enum
  {
    N = 3,
    MAX_K = 40
  };
  const double tau[] = { 0.02 };
  const float target[N] = { 1.0f, 2.0f, -1.0f }, y0[] = { 1.0f, 0.0f };
  float u[N] = { 0 };
  Relaxation problem = { N, tau, target, 0, 0, 0 };
  DiscoOdeConfig config;
  DiscoOdeSampleStats stats;
  double t_after[MAX_K];
  gboolean accepted[MAX_K];
  gboolean textbook_shrank = FALSE;
  guint n_steps;

  g_test_summary ("The textbook PID variant lets an accepted step shrink "
                  "the next one where Diffrax's does not, and still solves "
                  "the relaxation to rest");

  config = rotation_pid_config (DISCO_ODE_CONTROLLER_TEXTBOOK);
  n_steps = trace_steps (&config, rotation_rhs, NULL, 2, y0, MAX_K, t_after, accepted);
  for (guint k = 2; k < n_steps; k++)
    if (accepted[k] && accepted[k - 1] && accepted[k - 2])
      textbook_shrank |=
          t_after[k] - t_after[k - 1] < (t_after[k - 1] - t_after[k - 2]) * (1.0 - 1e-9);
  g_assert_true (textbook_shrank);

  /* The same check on the Diffrax variant finds no such step, except the
   * last one, cut short by T. */
  config = rotation_pid_config (DISCO_ODE_CONTROLLER_DIFFRAX);
  n_steps = trace_steps (&config, rotation_rhs, NULL, 2, y0, MAX_K, t_after, accepted);
  for (guint k = 2; k + 1 < n_steps; k++)
    if (accepted[k] && accepted[k - 1] && accepted[k - 2])
      g_assert_cmpfloat (t_after[k] - t_after[k - 1], >=,
                         (t_after[k - 1] - t_after[k - 2]) * (1.0 - 1e-9));

  disco_ode_config_init (&config);
  config.controller = DISCO_ODE_CONTROLLER_TEXTBOOK;
  g_assert_true (disco_ode_solve (&config, 1, N, u, relaxation_rhs, &problem, &stats, NULL));
  g_assert_cmpint (stats.status, ==, DISCO_ODE_STATUS_STEADY_STATE);
  for (int j = 0; j < N; j++)
    g_assert_cmpfloat_with_epsilon (u[j], target[j], 1e-3);
}

static gboolean
zero_rhs (gpointer user_data G_GNUC_UNUSED, gsize n_active, const guint *rows G_GNUC_UNUSED,
          const double *t G_GNUC_UNUSED, const float *y G_GNUC_UNUSED, float *dydt,
          GError **error G_GNUC_UNUSED)
{
  memset (dydt, 0, n_active * 2 * sizeof (float));
  return TRUE;
}

static void
test_zero_error (void)
{
  enum
  {
    MAX_K = 8
  };
  static const double expected[MAX_K] = {
    0.001, 0.003, 0.007, 0.015, 0.025, 0.035, 0.045, 0.055,
  };
  const float y0[] = { 1.0f, 2.0f };
  DiscoOdeConfig config;
  DiscoOdeSampleStats stats;
  double t_after[MAX_K];
  gboolean accepted[MAX_K];
  float y[2] = { 1.0f, 2.0f };

  g_test_summary ("A step with zero error (f = 0) doubles the next one, and "
                  "its infinite 1/error does not poison the PID history: "
                  "1, 2, 4, 8 ms, then the 10 ms cap, 203 steps to T");

  disco_ode_config_init (&config);
  config.steady_state_stop = FALSE;
  trace_steps (&config, zero_rhs, NULL, 2, y0, MAX_K, t_after, accepted);
  for (guint k = 0; k < MAX_K; k++)
    g_assert_cmpfloat_with_epsilon (t_after[k], expected[k], 1e-12);

  /* The step count is that of the Diffrax transliteration. */
  g_assert_true (disco_ode_solve (&config, 1, 2, y, zero_rhs, NULL, &stats, NULL));
  g_assert_cmpuint (stats.n_accepted, ==, 203);
  g_assert_cmpuint (stats.n_rejected, ==, 0);
  g_assert_cmpint (stats.status, ==, DISCO_ODE_STATUS_REACHED_END);
  g_assert_cmpfloat (y[0], ==, 1.0f);
  g_assert_cmpfloat (y[1], ==, 2.0f);

  /* At rest from the start: Diffrax checks the event after each step, so
   * the sample stops after exactly one. */
  config.steady_state_stop = TRUE;
  g_assert_true (disco_ode_solve (&config, 1, 2, y, zero_rhs, NULL, &stats, NULL));
  g_assert_cmpint (stats.status, ==, DISCO_ODE_STATUS_STEADY_STATE);
  g_assert_cmpuint (stats.n_accepted, ==, 1);
  g_assert_cmpfloat (stats.t_final, ==, 0.001);
}

static void
test_force_dtmin (void)
{
  float y[2] = { 1.0f, 0.0f };
  DiscoOdeConfig config;
  DiscoOdeSampleStats stats;

  g_test_summary ("A step made at dtmin is accepted whatever its error "
                  "(Diffrax's force_dtmin), so an impossible tolerance "
                  "still reaches T instead of rejecting forever");

  disco_ode_config_init (&config);
  config.steady_state_stop = FALSE;
  config.rtol = 1e-8;
  config.atol = 1e-10;
  config.dt0 = 0.1;
  config.dtmin = 0.05;
  config.dtmax = 0.1;

  g_assert_true (disco_ode_solve (&config, 1, 2, y, rotation_rhs, NULL, &stats, NULL));
  /* Every error is ≫ 1 here, so no decision is near a rounding tie and
   * the counts are exactly those of the Diffrax transliteration. */
  g_assert_cmpint (stats.status, ==, DISCO_ODE_STATUS_REACHED_END);
  g_assert_cmpuint (stats.n_accepted, ==, 41);
  g_assert_cmpuint (stats.n_rejected, ==, 29);
  g_assert_cmpfloat (rotation_error (y, 2.0), <, 1e-3);

  /* dt0 already at dtmin: even the first step is forced through. */
  config.dt0 = config.dtmin = config.dtmax = 0.05;
  y[0] = 1.0f;
  y[1] = 0.0f;
  g_assert_true (disco_ode_solve (&config, 1, 2, y, rotation_rhs, NULL, &stats, NULL));
  g_assert_cmpuint (stats.n_accepted, ==, 40);
  g_assert_cmpuint (stats.n_rejected, ==, 0);
}

/* ------------------------------------------------------------------------
 * Errors
 * ---------------------------------------------------------------------- */

static gboolean
never_called_rhs (gpointer user_data G_GNUC_UNUSED, gsize n_active G_GNUC_UNUSED,
                  const guint *rows G_GNUC_UNUSED, const double *t G_GNUC_UNUSED,
                  const float *y G_GNUC_UNUSED, float *dydt G_GNUC_UNUSED,
                  GError **error G_GNUC_UNUSED)
{
  g_assert_not_reached ();
  return FALSE;
}

typedef struct
{
  const char *field; /* also what the message must quote */
  gsize offset;      /* of a double field, or G_MAXSIZE */
  double value;
} BadSetting;

static void
test_invalid_config (void)
{
  /* checks: each out-of-range setting is named in the error */
  static const BadSetting bad[] = {
    { "rtol", G_STRUCT_OFFSET (DiscoOdeConfig, rtol), 0.0 },
    { "rtol", G_STRUCT_OFFSET (DiscoOdeConfig, rtol), -1e-3 },
    { "rtol", G_STRUCT_OFFSET (DiscoOdeConfig, rtol), NAN },
    { "atol", G_STRUCT_OFFSET (DiscoOdeConfig, atol), -1e-6 },
    { "dt0", G_STRUCT_OFFSET (DiscoOdeConfig, dt0), 0.0 },
    { "dtmin", G_STRUCT_OFFSET (DiscoOdeConfig, dtmin), 0.0 },
    { "dtmax", G_STRUCT_OFFSET (DiscoOdeConfig, dtmax), 1e-5 },
    { "dtmax", G_STRUCT_OFFSET (DiscoOdeConfig, dtmax), INFINITY },
    { "t1", G_STRUCT_OFFSET (DiscoOdeConfig, t1), 0.0 },
    { "t0", G_STRUCT_OFFSET (DiscoOdeConfig, t0), NAN },
    { "pcoeff", G_STRUCT_OFFSET (DiscoOdeConfig, pcoeff), -0.1 },
    { "icoeff", G_STRUCT_OFFSET (DiscoOdeConfig, icoeff), -0.3 },
    { "dcoeff", G_STRUCT_OFFSET (DiscoOdeConfig, dcoeff), -0.1 },
    { "factormin", G_STRUCT_OFFSET (DiscoOdeConfig, factormin), 0.0 },
    { "factormin", G_STRUCT_OFFSET (DiscoOdeConfig, factormin), 1.5 },
    { "factormax", G_STRUCT_OFFSET (DiscoOdeConfig, factormax), 0.5 },
    { "safety", G_STRUCT_OFFSET (DiscoOdeConfig, safety), 0.0 },
    { "safety", G_STRUCT_OFFSET (DiscoOdeConfig, safety), 1.1 },
    { "max_steps", G_MAXSIZE, 0 },
    { "controller", G_MAXSIZE, 1 }, /* Euler with a PID controller */
    { "controller", G_MAXSIZE, 2 }, /* RK4 with a PID controller */
  };

  g_test_summary ("Each out-of-range setting is a GError naming the "
                  "setting, the state is left alone and nothing runs");

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      DiscoOdeConfig config;
      float y[2] = { 0.25f, -0.5f };
      GError *error = NULL;
      g_autofree char *quoted = g_strdup_printf ("\"%s\"", bad[i].field);

      disco_ode_config_init (&config);
      if (bad[i].offset != G_MAXSIZE)
        G_STRUCT_MEMBER (double, &config, bad[i].offset) = bad[i].value;
      else if (g_str_equal (bad[i].field, "max_steps"))
        config.max_steps = 0;
      else
        config.method = bad[i].value == 1 ? DISCO_ODE_METHOD_EULER : DISCO_ODE_METHOD_RK4;

      g_assert_false (disco_ode_config_validate (&config, &error));
      g_assert_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_BAD_VALUE);
      g_assert_nonnull (strstr (error->message, quoted));
      g_clear_error (&error);

      g_assert_false (disco_ode_solve (&config, 1, 2, y, never_called_rhs, NULL, NULL, &error));
      g_assert_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_BAD_VALUE);
      g_clear_error (&error);
      g_assert_cmpfloat (y[0], ==, 0.25f);
      g_assert_cmpfloat (y[1], ==, -0.5f);
    }

  /* The defaults themselves are valid. */
  {
    DiscoOdeConfig config;

    disco_ode_config_init (&config);
    g_assert_true (disco_ode_config_validate (&config, NULL));
  }
}

#define TEST_ERROR (g_quark_from_static_string ("test-ode-error"))

static gboolean
failing_rhs (gpointer user_data, gsize n_active, const guint *rows G_GNUC_UNUSED,
             const double *t G_GNUC_UNUSED, const float *y G_GNUC_UNUSED, float *dydt,
             GError **error)
{
  guint *calls = user_data;

  memset (dydt, 0, n_active * 2 * sizeof (float));
  if (++*calls < 3)
    return TRUE;
  if (*calls == 3)
    g_set_error (error, TEST_ERROR, 42, "device lost");
  return FALSE; /* the 4th call and later fail silently */
}

static void
test_rhs_failure (void)
{
  float y[4] = { 1, 2, 3, 4 };
  DiscoOdeConfig config;
  GError *error = NULL;
  guint calls = 0;

  g_test_summary ("A failing right-hand side aborts the solve with its own "
                  "error, or a generic one when it set none");

  disco_ode_config_init (&config);
  g_assert_false (disco_ode_solve (&config, 2, 2, y, failing_rhs, &calls, NULL, &error));
  g_assert_error (error, TEST_ERROR, 42);
  g_assert_cmpuint (calls, ==, 3);
  g_clear_error (&error);

  g_assert_false (disco_ode_solve (&config, 2, 2, y, failing_rhs, &calls, NULL, &error));
  g_assert_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_FAILED);
  g_clear_error (&error);
}

static void
test_programmer_errors (void)
{
  DiscoOdeConfig config;
  float y[2] = { 0 };

  g_test_summary ("Missing callback or empty state are programmer errors: "
                  "a critical and FALSE");

  disco_ode_config_init (&config);

  g_test_expect_message ("Disco-Kernels", G_LOG_LEVEL_CRITICAL, "*rhs != NULL*");
  g_assert_false (disco_ode_solve (&config, 1, 2, y, NULL, NULL, NULL, NULL));
  g_test_assert_expected_messages ();

  g_test_expect_message ("Disco-Kernels", G_LOG_LEVEL_CRITICAL, "*n_state > 0*");
  g_assert_false (disco_ode_solve (&config, 1, 0, y, rotation_rhs, NULL, NULL, NULL));
  g_test_assert_expected_messages ();

  /* An empty batch is fine and calls nothing. */
  g_assert_true (disco_ode_solve (&config, 0, 2, NULL, never_called_rhs, NULL, NULL, NULL));
}

int
main (int argc, char **argv)
{
  /* No G_TEST_OPTION_ISOLATE_DIRS: these tests touch no files, and GLib
   * 2.74's g_set_user_dirs() leaks the strings it replaces, which would
   * make the AddressSanitizer build fail. */
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/disco/kernels/ode/order/tsit5", test_order_tsit5);
  g_test_add_func ("/disco/kernels/ode/order/rk4", test_order_rk4);
  g_test_add_func ("/disco/kernels/ode/order/euler", test_order_euler);
  g_test_add_func ("/disco/kernels/ode/adaptive-tolerance", test_adaptive_tolerance);
  g_test_add_func ("/disco/kernels/ode/steady-state", test_steady_state_stop);
  g_test_add_func ("/disco/kernels/ode/steady-state-fixed-step", test_steady_state_fixed_step);
  g_test_add_func ("/disco/kernels/ode/max-steps", test_max_steps);
  g_test_add_func ("/disco/kernels/ode/batch-independence", test_batch_independence);
  g_test_add_func ("/disco/kernels/ode/solver-reuse", test_solver_reuse);
  g_test_add_func ("/disco/kernels/ode/diffrax-step-ramp", test_diffrax_step_ramp);
  g_test_add_func ("/disco/kernels/ode/diffrax-reference-trace", test_diffrax_reference_trace);
  g_test_add_func ("/disco/kernels/ode/zero-error", test_zero_error);
  g_test_add_func ("/disco/kernels/ode/force-dtmin", test_force_dtmin);
  g_test_add_func ("/disco/kernels/ode/textbook-controller", test_textbook_controller);
  g_test_add_func ("/disco/kernels/ode/invalid-config", test_invalid_config);
  g_test_add_func ("/disco/kernels/ode/rhs-failure", test_rhs_failure);
  g_test_add_func ("/disco/kernels/ode/programmer-errors", test_programmer_errors);

  return g_test_run ();
}
