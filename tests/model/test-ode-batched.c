/* test-ode-batched.c: the lockstep solver on the CPU operations table
 * against the compacting solver, disco_ode_solver_solve().
 *
 * The claim under test (disco-ode-batched.h): on a right-hand side that
 * computes each row on its own, every sample takes the same accepted and
 * rejected steps, stops at the same time for the same reason, and ends in
 * the same state as in the compacting solver.  With the CPU table both
 * solvers run the same float kernels, so the states are required to agree
 * within 1e-6 relative (a polynomial problem; they are in fact
 * bit-identical) and 1e-5 (the network: OpenBLAS's SGEMM rounds a row
 * differently once the compacting solver's batch has shrunk, which moves
 * final states by about 1e-6 relative); the step counts must be equal.
 * Every case reports how many states were bit-identical.
 *
 * Networks with rate layers (the backprop baseline's) are checked the same
 * way, a rate first layer included (the compacting path gathers its drives
 * by sample index).  The network's and the closed loop's values themselves
 * are checked against closed forms and finite differences (test-ode-network.c).
 *
 * Plus the helper kernels the lockstep solver added (fill, revert_rows,
 * leaky_rows and the per-sample bookkeeping), the stop statuses, the polls,
 * and the errors.
 */

#include <math.h>
#include <string.h>

#include <glib.h>

#include "disco-kernels.h"
#include "disco-ode.h"
#include "disco-ode-batched.h"
#include "disco-ops.h"
#include "disco-ops-network.h"
#include "test-random-network.h"

/* ------------------------------------------------------------------------
 * A polynomial problem with per-sample stiffness
 *
 * Per sample r (stiffness λ_r, target x_r), state (y0, y1, y2):
 *   y0' = −λ (y0 − x) + 0.5 y1²
 *   y1' = −λ y1 + x
 *   y2' = −(λ/2) (y2 − y0) + y0·y1
 * λ spans 0.5 … 3000 s⁻¹: the slow samples run to t1, the stiff ones are
 * held near the stability limit of Tsit5 at dt0 and reject steps.
 * ---------------------------------------------------------------------- */

#define POLY_N 3

typedef struct
{
  gsize n_samples;
  float *lambda;
  float *target;
} Poly;

static inline void
poly_row (const Poly *p, guint sample, const float *y, float *f)
{
  const float l = p->lambda[sample], x = p->target[sample];

  f[0] = -l * (y[0] - x) + 0.5f * y[1] * y[1];
  f[1] = -l * y[1] + x;
  f[2] = -(0.5f * l) * (y[2] - y[0]) + y[0] * y[1];
}

static gboolean
poly_rhs_compact (gpointer user_data, gsize n_active, const guint *rows,
                  const double *t G_GNUC_UNUSED, const float *y, float *dydt,
                  GError **error G_GNUC_UNUSED)
{
  for (gsize i = 0; i < n_active; i++)
    poly_row (user_data, rows[i], y + i * POLY_N, dydt + i * POLY_N);
  return TRUE;
}

/* Host loops: valid for the CPU table only, whose buffers are host memory. */
static gboolean
poly_rhs_lockstep (gpointer user_data, const DiscoOps *ops, gsize n_rows, gsize n_state,
                   const float *y, float *dydt, GError **error G_GNUC_UNUSED)
{
  g_assert_true (ops == disco_ops_cpu ());
  g_assert_cmpuint (n_state, ==, POLY_N);
  for (gsize r = 0; r < n_rows; r++)
    poly_row (user_data, (guint) r, y + r * POLY_N, dydt + r * POLY_N);
  return TRUE;
}

static Poly *
poly_new (gsize n_samples)
{
  Poly *p = g_new0 (Poly, 1);

  p->n_samples = n_samples;
  p->lambda = g_new (float, n_samples);
  p->target = g_new (float, n_samples);
  for (gsize i = 0; i < n_samples; i++)
    {
      /* Log-spaced stiffness, shuffled so that neighbours differ. */
      const gsize j = (i * 7) % n_samples;

      p->lambda[i] = (float) (0.5 * pow (6000.0, (double) j / (double) (n_samples - 1)));
      p->target[i] = 0.2f + 0.1f * (float) (i % 5);
    }
  return p;
}

static void
poly_free (Poly *p)
{
  g_free (p->lambda);
  g_free (p->target);
  g_free (p);
}

/* ------------------------------------------------------------------------
 * Comparison
 * ---------------------------------------------------------------------- */

/* Both solvers on the same initial states; asserts equal statistics and
 * states within rtol (relative to max(1, |ref|)); returns the number of
 * samples whose final state is bit-identical. */
static gsize
compare_solvers (const DiscoOdeConfig *config, guint sync_interval, gsize n_samples, gsize n_state,
                 const float *y0, DiscoOdeRhsFunc rhs_compact, gpointer data_compact,
                 DiscoOdeBatchedRhsFunc rhs_lockstep, gpointer data_lockstep, double rtol,
                 DiscoOdeSampleStats *stats_out, DiscoOdeBatchedInfo *info_out)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoOdeBatchedSolver) lockstep = disco_ode_batched_solver_new (disco_ops_cpu ());
  g_autofree float *y_ref = g_memdup2 (y0, n_samples * n_state * sizeof (float));
  g_autofree float *y_new = g_memdup2 (y0, n_samples * n_state * sizeof (float));
  g_autofree DiscoOdeSampleStats *ref = g_new0 (DiscoOdeSampleStats, n_samples);
  g_autofree DiscoOdeSampleStats *got = g_new0 (DiscoOdeSampleStats, n_samples);
  DiscoOdeBatchedInfo info;
  guint max_steps = 0;
  gsize identical = 0;
  double worst = 0.0;

  g_assert_true (
      disco_ode_solve (config, n_samples, n_state, y_ref, rhs_compact, data_compact, ref, &error));
  g_assert_no_error (error);
  g_assert_true (disco_ode_batched_solver_solve (lockstep, config, sync_interval, n_samples,
                                                 n_state, y_new, rhs_lockstep, data_lockstep, got,
                                                 &info, &error));
  g_assert_no_error (error);

  for (gsize s = 0; s < n_samples; s++)
    {
      gboolean same_bits = TRUE;

      g_assert_cmpuint (got[s].n_accepted, ==, ref[s].n_accepted);
      g_assert_cmpuint (got[s].n_rejected, ==, ref[s].n_rejected);
      g_assert_cmpuint (got[s].n_rhs_evals, ==, ref[s].n_rhs_evals);
      g_assert_cmpint (got[s].status, ==, ref[s].status);
      g_assert_cmpfloat (got[s].t_final, ==, ref[s].t_final);
      max_steps = MAX (max_steps, ref[s].n_accepted + ref[s].n_rejected);

      for (gsize j = 0; j < n_state; j++)
        {
          const double a = y_new[s * n_state + j], b = y_ref[s * n_state + j];

          g_assert_true (isfinite (a));
          worst = fmax (worst, fabs (a - b) / fmax (1.0, fabs (b)));
          if (!(fabs (a - b) <= rtol * fmax (1.0, fabs (b))))
            g_error ("sample %" G_GSIZE_FORMAT " entry %" G_GSIZE_FORMAT ": lockstep %.9g, "
                     "compacting %.9g",
                     s, j, a, b);
          same_bits =
              same_bits
              && memcmp (&y_new[s * n_state + j], &y_ref[s * n_state + j], sizeof (float)) == 0;
        }
      identical += same_bits;
    }

  /* The lockstep solve runs until the slowest sample stops, rounded up to
   * the next poll (or max_steps), and polls once per interval. */
  if (sync_interval == 0)
    sync_interval = DISCO_ODE_BATCHED_DEFAULT_SYNC_INTERVAL;
  g_assert_cmpuint (info.n_steps, >=, max_steps);
  g_assert_cmpuint (info.n_steps, <, max_steps + sync_interval);
  g_assert_cmpuint (info.n_steps, <=, config->max_steps);
  g_assert_cmpuint (info.n_syncs, ==, (info.n_steps + sync_interval - 1) / sync_interval);
  /* Tsit5 (first same as last): f(y0), then 6 per pass; RK4 and Euler:
   * f(y) and their other stages every pass. */
  if (config->method == DISCO_ODE_METHOD_TSIT5)
    g_assert_cmpuint (info.n_rhs_calls, ==, 1 + 6 * info.n_steps);
  else
    g_assert_cmpuint (info.n_rhs_calls, ==,
                      (config->method == DISCO_ODE_METHOD_RK4 ? 4 : 1) * info.n_steps);

  g_test_message ("%" G_GSIZE_FORMAT "/%" G_GSIZE_FORMAT " final states bit-identical, "
                  "largest difference %.3g (relative to max(1, |y|))",
                  identical, n_samples, worst);
  if (stats_out != NULL)
    memcpy (stats_out, got, n_samples * sizeof (DiscoOdeSampleStats));
  if (info_out != NULL)
    *info_out = info;
  return identical;
}

static void
test_polynomial (void)
{
  const gsize B = 24;
  Poly *p = poly_new (B);
  g_autofree float *y0 = g_new0 (float, B *POLY_N);
  g_autofree DiscoOdeSampleStats *stats = g_new (DiscoOdeSampleStats, B);
  DiscoOdeConfig config;
  DiscoOdeBatchedInfo info;
  guint rejected = 0, min_steps = G_MAXUINT, max_steps = 0;
  gsize identical;

  g_test_summary ("Tsit5 in lockstep through the CPU table takes each sample's steps, "
                  "rejections and stop exactly as the compacting solver, on a polynomial "
                  "problem whose stiffness differs per sample (states within 1e-6)");

  for (gsize i = 0; i < B * POLY_N; i++)
    y0[i] = 0.1f * (float) (i % 7) - 0.3f;
  disco_ode_config_init (&config);

  identical = compare_solvers (&config, 0, B, POLY_N, y0, poly_rhs_compact, p, poly_rhs_lockstep, p,
                               1e-6, stats, &info);

  for (gsize s = 0; s < B; s++)
    {
      const guint steps = stats[s].n_accepted + stats[s].n_rejected;

      rejected += stats[s].n_rejected;
      min_steps = MIN (min_steps, steps);
      max_steps = MAX (max_steps, steps);
    }
  /* The problem exercises what it is meant to: rejections, and samples
   * that finish at very different steps, so that masking matters. */
  g_assert_cmpuint (rejected, >, 0);
  g_assert_cmpuint (max_steps, >, 2 * min_steps);
  g_test_message ("polynomial: %u..%u steps per sample, %u rejected in all, %u lockstep "
                  "steps, %u polls, %" G_GSIZE_FORMAT "/%" G_GSIZE_FORMAT " states bit-identical",
                  min_steps, max_steps, rejected, info.n_steps, info.n_syncs, identical, B);
  poly_free (p);
}

static void
test_sync_interval (void)
{
  const gsize B = 10;
  Poly *p = poly_new (B);
  g_autofree float *y0 = g_new0 (float, B *POLY_N);
  const guint intervals[] = { 1, 3, 8, 1000 };
  DiscoOdeConfig config;

  g_test_summary ("The poll interval changes how often the host waits, never the result");

  for (gsize i = 0; i < B * POLY_N; i++)
    y0[i] = 0.05f * (float) i;
  disco_ode_config_init (&config);
  for (guint i = 0; i < G_N_ELEMENTS (intervals); i++)
    {
      DiscoOdeBatchedInfo info;

      compare_solvers (&config, intervals[i], B, POLY_N, y0, poly_rhs_compact, p, poly_rhs_lockstep,
                       p, 1e-6, NULL, &info);
      g_test_message ("interval %u: %u steps, %u polls", intervals[i], info.n_steps, info.n_syncs);
    }
  poly_free (p);
}

static void
test_stop_statuses (void)
{
  const gsize B = 16;
  Poly *p = poly_new (B);
  g_autofree float *y0 = g_new0 (float, B *POLY_N);
  g_autofree DiscoOdeSampleStats *stats = g_new (DiscoOdeSampleStats, B);
  DiscoOdeConfig config;
  guint count[3] = { 0 };

  g_test_summary ("Steady-state stop, t1 and max_steps: each sample's status and step "
                  "count as the compacting solver's, and every status occurs");

  for (gsize i = 0; i < B * POLY_N; i++)
    y0[i] = 0.5f;

  /* The model's settings: the stiff samples come to rest, the slowest
   * (λ = 0.5, e^{−1} of the way at t1) reach t1. */
  disco_ode_config_init (&config);
  compare_solvers (&config, 0, B, POLY_N, y0, poly_rhs_compact, p, poly_rhs_lockstep, p, 1e-6,
                   stats, NULL);
  for (gsize s = 0; s < B; s++)
    count[stats[s].status]++;
  g_assert_cmpuint (count[DISCO_ODE_STATUS_STEADY_STATE], >, 0);
  g_assert_cmpuint (count[DISCO_ODE_STATUS_REACHED_END], >, 0);

  /* Too few steps for the slow samples; the fast ones still come to rest
   * within them. */
  config.max_steps = 12;
  compare_solvers (&config, 5, B, POLY_N, y0, poly_rhs_compact, p, poly_rhs_lockstep, p, 1e-6,
                   stats, NULL);
  for (gsize s = 0; s < B; s++)
    {
      count[stats[s].status]++;
      g_assert_cmpuint (stats[s].n_accepted + stats[s].n_rejected, <=, 12);
    }
  g_assert_cmpuint (count[DISCO_ODE_STATUS_MAX_STEPS], >, 0);

  /* Without the steady-state stop everyone runs to t1. */
  disco_ode_config_init (&config);
  config.steady_state_stop = FALSE;
  config.t1 = 0.3;
  compare_solvers (&config, 0, B, POLY_N, y0, poly_rhs_compact, p, poly_rhs_lockstep, p, 1e-6,
                   stats, NULL);
  for (gsize s = 0; s < B; s++)
    {
      g_assert_cmpint (stats[s].status, ==, DISCO_ODE_STATUS_REACHED_END);
      g_assert_cmpfloat (stats[s].t_final, ==, 0.3);
    }

  /* The textbook controller and constant steps go through the same path. */
  disco_ode_config_init (&config);
  config.controller = DISCO_ODE_CONTROLLER_TEXTBOOK;
  compare_solvers (&config, 0, B, POLY_N, y0, poly_rhs_compact, p, poly_rhs_lockstep, p, 1e-6, NULL,
                   NULL);
  config.controller = DISCO_ODE_CONTROLLER_CONSTANT;
  config.dt0 = 2e-4;
  config.t1 = 0.05;
  compare_solvers (&config, 0, B, POLY_N, y0, poly_rhs_compact, p, poly_rhs_lockstep, p, 1e-6, NULL,
                   NULL);
  poly_free (p);
}

static void
test_fixed_step_methods (void)
{
  const gsize B = 16;
  Poly *p = poly_new (B);
  g_autofree float *y0 = g_new0 (float, B *POLY_N);
  g_autofree DiscoOdeSampleStats *stats = g_new (DiscoOdeSampleStats, B);
  const DiscoOdeMethod methods[] = { DISCO_ODE_METHOD_EULER, DISCO_ODE_METHOD_RK4 };

  g_test_summary ("Euler and RK4 (constant steps, not first same as last) in lockstep: "
                  "each sample's steps, evaluations, stop and state as the compacting "
                  "solver's, with the steady-state stop, t1 and max_steps");

  for (gsize i = 0; i < B * POLY_N; i++)
    y0[i] = 0.5f - 0.05f * (float) (i % 9);
  for (guint m = 0; m < G_N_ELEMENTS (methods); m++)
    {
      DiscoOdeConfig config;
      guint count[3] = { 0 };
      gsize identical;

      /* 0.2 ms keeps Euler stable for the stiffest sample (λ h = 0.6 < 2);
       * the stiff samples come to rest, the slow ones reach t1. */
      disco_ode_config_init (&config);
      config.method = methods[m];
      config.controller = DISCO_ODE_CONTROLLER_CONSTANT;
      config.dt0 = 2e-4;
      config.t1 = 0.1;
      identical = compare_solvers (&config, 0, B, POLY_N, y0, poly_rhs_compact, p,
                                   poly_rhs_lockstep, p, 1e-6, stats, NULL);
      for (gsize s = 0; s < B; s++)
        count[stats[s].status]++;
      g_assert_cmpuint (count[DISCO_ODE_STATUS_STEADY_STATE], >, 0);
      g_assert_cmpuint (count[DISCO_ODE_STATUS_REACHED_END], >, 0);
      g_test_message ("%s: %u samples at rest, %u at t1, %" G_GSIZE_FORMAT "/%" G_GSIZE_FORMAT
                      " states bit-identical",
                      m == 0 ? "euler" : "rk4", count[DISCO_ODE_STATUS_STEADY_STATE],
                      count[DISCO_ODE_STATUS_REACHED_END], identical, B);

      /* Too few steps for most, and a poll interval that does not divide
       * them. */
      config.max_steps = 37;
      compare_solvers (&config, 5, B, POLY_N, y0, poly_rhs_compact, p, poly_rhs_lockstep, p, 1e-6,
                       stats, NULL);
      for (gsize s = 0; s < B; s++)
        g_assert_cmpuint (stats[s].n_accepted, <=, 37);
      g_assert_cmpint (stats[0].status, ==, DISCO_ODE_STATUS_MAX_STEPS);

      /* Without the steady-state stop. */
      config.max_steps = 100000;
      config.steady_state_stop = FALSE;
      config.t1 = 0.02;
      compare_solvers (&config, 0, B, POLY_N, y0, poly_rhs_compact, p, poly_rhs_lockstep, p, 1e-6,
                       stats, NULL);
      for (gsize s = 0; s < B; s++)
        g_assert_cmpint (stats[s].status, ==, DISCO_ODE_STATUS_REACHED_END);
    }
  poly_free (p);
}

static void
test_operation_count (void)
{
  const gsize B = 6;
  Poly *p = poly_new (B);
  g_autofree float *y = g_new0 (float, B *POLY_N);
  g_autoptr (DiscoOdeBatchedSolver) solver = disco_ode_batched_solver_new (disco_ops_cpu ());
  g_autoptr (GError) error = NULL;
  const DiscoOps *ops = disco_ops_cpu ();
  DiscoOdeConfig config;
  DiscoOdeBatchedInfo info;
  guint64 before;

  g_test_summary ("The host table counts its operations (on CUDA, kernel launches): the "
                  "polynomial's right-hand side uses none, so a solve costs the solver's "
                  "bookkeeping alone, 13 per Tsit5 step and 7 per Euler step");

  /* Tsit5 with the steady-state stop: step sizes, 6 stage combinations,
   * the error norm, the clock update, 2 reverts, the rest test, the stop. */
  disco_ode_config_init (&config);
  before = ops->get_operation_count ();
  g_assert_true (disco_ode_batched_solver_solve (solver, &config, 0, B, POLY_N, y,
                                                 poly_rhs_lockstep, p, NULL, &info, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ops->get_operation_count () - before, ==, 13 * (guint64) info.n_steps);

  /* Euler: the rest test and its stop, step sizes, the solution's
   * combination, the clock update, 1 revert, the stop. */
  config.method = DISCO_ODE_METHOD_EULER;
  config.controller = DISCO_ODE_CONTROLLER_CONSTANT;
  config.dt0 = 2e-4;
  config.t1 = 0.01;
  memset (y, 0, B * POLY_N * sizeof (float));
  before = ops->get_operation_count ();
  g_assert_true (disco_ode_batched_solver_solve (solver, &config, 0, B, POLY_N, y,
                                                 poly_rhs_lockstep, p, NULL, &info, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (ops->get_operation_count () - before, ==, 7 * (guint64) info.n_steps);
  g_test_message ("Euler: %u steps, %u operations", info.n_steps, 7 * info.n_steps);
  poly_free (p);
}

/* ------------------------------------------------------------------------
 * The network: microcircuit layers and a readout, open loop
 * ---------------------------------------------------------------------- */

/* The random network (tests/common/test-random-network.h). */
typedef struct
{
  TestRandomNetwork *random;
  guint n_layers;
  const DiscoOpsLayer *layers;
  gsize state_size;
  const gsize *offsets;
} Net;

/* Input brightness from 0.2 (sample 0) to 3.2 (the last), so that samples
 * settle after different numbers of steps and the lockstep solve masks.
 * Hidden layer l is a rate layer where bit l of @rate_layers is set. */
static Net *
net_new (guint32 seed, gsize n_samples, const gsize *sizes, guint n_sizes, guint rate_layers)
{
  Net *net = g_new0 (Net, 1);

  net->random = test_random_network_new (seed, sizes, n_sizes, n_samples, 0.2, 3.2);
  for (guint l = 0; l + 1 < net->random->n_layers; l++)
    if (rate_layers & (1u << l))
      test_random_network_make_rate (net->random, l);
  net->n_layers = net->random->n_layers;
  net->layers = net->random->layers;
  net->state_size = net->random->state_size;
  net->offsets = net->random->offsets;
  return net;
}

static void
net_free (Net *net)
{
  test_random_network_free (net->random);
  g_free (net);
}

/* The two solvers on the table network's two right-hand sides: the
 * compacting solve (packed rows, the first drive by sample index) and the
 * lockstep solve (row r is sample r) take the same steps and end within
 * 1e-5; every sample comes to rest. */
static void
check_network (const gsize *sizes, guint n_sizes, gsize n_samples, guint rate_layers)
{
  g_autoptr (GError) error = NULL;
  Net *net = net_new (42, n_samples, sizes, n_sizes, rate_layers);
  g_autoptr (DiscoOpsNetwork) ops_net =
      disco_ops_network_new (disco_ops_cpu (), net->n_layers, net->layers, &error);
  const gsize N = net->state_size;
  g_autofree float *y0 = g_new0 (float, n_samples *N);
  g_autofree DiscoOdeSampleStats *stats = g_new (DiscoOdeSampleStats, n_samples);
  DiscoOdeConfig config;
  DiscoOdeBatchedInfo info;
  guint min_steps = G_MAXUINT, max_steps = 0;
  gsize identical;

  g_assert_no_error (error);
  g_assert_cmpuint (disco_ops_network_get_state_size (ops_net), ==, N);
  g_assert_true (disco_ops_network_begin_batch (ops_net, n_samples, net->random->x, &error));
  g_assert_no_error (error);
  disco_ode_config_init (&config);

  identical = compare_solvers (&config, 0, n_samples, N, y0, disco_ops_network_rhs_compact, ops_net,
                               disco_ops_network_rhs, ops_net, 1e-5, stats, &info);
  for (gsize s = 0; s < n_samples; s++)
    {
      const guint steps = stats[s].n_accepted + stats[s].n_rejected;

      g_assert_cmpint (stats[s].status, ==, DISCO_ODE_STATUS_STEADY_STATE);
      min_steps = MIN (min_steps, steps);
      max_steps = MAX (max_steps, steps);
    }
  g_test_message ("network (%u layers, rate layers 0x%x, N = %" G_GSIZE_FORMAT
                  ", B = %" G_GSIZE_FORMAT "): %u..%u steps per sample to rest, %u lockstep steps, "
                  "%u polls, %" G_GSIZE_FORMAT "/%" G_GSIZE_FORMAT " states bit-identical",
                  net->n_layers, rate_layers, N, n_samples, min_steps, max_steps, info.n_steps,
                  info.n_syncs, identical, n_samples);
  net_free (net);
}

static void
test_network (void)
{
  const gsize sizes[] = { 784, 256, 10 };

  g_test_summary ("A 784–256–10 microcircuit network at batch 8, open loop to rest: the "
                  "lockstep and the compacting solve of the table network take the same "
                  "steps and end within 1e-5");
  check_network (sizes, G_N_ELEMENTS (sizes), 8, 0);
}

static void
test_network_rejections (void)
{
  const gsize sizes[] = { 784, 256, 10 }, B = 8;
  g_autoptr (GError) error = NULL;
  Net *net = net_new (42, B, sizes, G_N_ELEMENTS (sizes), 0);
  g_autoptr (DiscoOpsNetwork) ops_net =
      disco_ops_network_new (disco_ops_cpu (), net->n_layers, net->layers, &error);
  const gsize N = net->state_size;
  g_autofree float *y0 = g_new0 (float, B *N);
  g_autofree DiscoOdeSampleStats *stats = g_new (DiscoOdeSampleStats, B);
  DiscoOdeConfig config;
  guint rejected = 0;
  gsize identical;

  g_test_summary ("The network from a first step as large as dt-max, which the controller "
                  "rejects: lockstep and compacting solves reject the same steps (states "
                  "within 1e-5)");
  g_assert_no_error (error);
  g_assert_true (disco_ops_network_begin_batch (ops_net, B, net->random->x, &error));
  g_assert_no_error (error);
  disco_ode_config_init (&config);
  config.dt0 = config.dtmax;
  config.rtol = 1e-4;
  identical = compare_solvers (&config, 0, B, N, y0, disco_ops_network_rhs_compact, ops_net,
                               disco_ops_network_rhs, ops_net, 1e-5, stats, NULL);
  for (gsize s = 0; s < B; s++)
    rejected += stats[s].n_rejected;
  /* Rejections happen, so the masked revert of a running row is exercised. */
  g_assert_cmpuint (rejected, >, 0);
  g_test_message ("%u rejected steps in all, %" G_GSIZE_FORMAT "/%" G_GSIZE_FORMAT
                  " states bit-identical",
                  rejected, identical, B);
  net_free (net);
}

static void
test_network_deep (void)
{
  const gsize sizes[] = { 100, 64, 48, 32, 10 };

  g_test_summary ("The same with three hidden layers (small sizes), batch 13");
  check_network (sizes, G_N_ELEMENTS (sizes), 13, 0);
}

static void
test_network_rate (void)
{
  const gsize sizes[] = { 100, 64, 48, 32, 10 };

  g_test_summary ("The backprop baseline's network, three rate layers and a readout (the "
                  "compacting path gathers the rate first layer's drives by sample): both "
                  "solvers take the same steps, states within 1e-5");
  check_network (sizes, G_N_ELEMENTS (sizes), 13, 0x7);
}

static void
test_network_mixed (void)
{
  const gsize sizes[] = { 100, 64, 48, 32, 10 };

  g_test_summary ("A microcircuit first layer under rate layers: both solvers agree");
  check_network (sizes, G_N_ELEMENTS (sizes), 13, 0x6);
}

/* ------------------------------------------------------------------------
 * Helper kernels and errors
 * ---------------------------------------------------------------------- */

static void
test_helper_kernels (void)
{
  float x[5];
  float old[3 * 4], out[3 * 4];
  const gint keep[3] = { 1, 0, 1 };
  const float u[2 * 3] = { 1, 2, 3, -1, 0, 0.5f };
  const float d[2 * 3] = { 0, 1, 5, 2, 2, 2 };
  const float b[3] = { 0.5f, 0, -1 };
  float f[2 * 3];

  g_test_summary ("fill, revert_rows and leaky_rows on hand-checked values");

  disco_fill_cpu (5, 2.5f, x);
  for (guint i = 0; i < 5; i++)
    g_assert_cmpfloat (x[i], ==, 2.5f);

  for (guint i = 0; i < 12; i++)
    {
      old[i] = (float) i;
      out[i] = -1.0f;
    }
  /* Only row 1's first three columns come back; the stride column stays. */
  disco_revert_rows_cpu (3, 3, 4, keep, old, out);
  for (guint r = 0; r < 3; r++)
    for (guint c = 0; c < 4; c++)
      g_assert_cmpfloat (out[r * 4 + c], ==, (r == 1 && c < 3) ? old[r * 4 + c] : -1.0f);

  disco_leaky_rows_cpu (0.5f, 2, 3, u, 3, d, 3, b, f, 3);
  for (guint i = 0; i < 6; i++)
    g_assert_cmpfloat (f[i], ==, (-u[i] + (d[i] + b[i % 3])) * 2.0f);
  disco_leaky_rows_cpu (0.5f, 2, 3, u, 3, d, 3, NULL, f, 3);
  for (guint i = 0; i < 6; i++)
    g_assert_cmpfloat (f[i], ==, (-u[i] + d[i]) * 2.0f);
}

static void
test_lockstep_kernels (void)
{
  DiscoOdeConfig config;
  DiscoOdeClockParams params;
  DiscoOdeClock clocks[3], reference;
  const gint running_in[3] = { 1, 0, 1 };
  gint running[3] = { 1, 0, 1 }, status[3] = { 9, 9, 9 }, keep[3], n_running = -1;
  const float norm[3] = { 0.5f, 0.1f, 2.0f };
  const gint at_rest[3] = { 1, 1, 0 };
  DiscoOdeLockstepLimits limits = { .t1 = 1.0, .max_steps = 5, .steady_state_stop = TRUE };
  float h[3];

  g_test_summary ("The masked per-sample bookkeeping: a finished sample takes h = 0, keeps "
                  "its clock, is reverted, and is not counted; the others follow "
                  "disco_ode_clock_advance()");

  disco_ode_config_init (&config);
  disco_ode_clock_params_init (&params, &config, 5.0);
  for (guint i = 0; i < 3; i++)
    clocks[i] = (DiscoOdeClock){
      .t = 0.1 * i,
      .t_next = 0.1 * i + 1e-3 * (i + 1),
      .inv_error_prev = 1.0,
      .inv_error_prev_prev = 1.0,
    };

  disco_ode_lockstep_step_sizes_cpu (3, clocks, running_in, h);
  g_assert_cmpfloat (h[0], ==, (float) (clocks[0].t_next - clocks[0].t));
  g_assert_cmpfloat (h[1], ==, 0.0f);
  g_assert_cmpfloat (h[2], ==, (float) (clocks[2].t_next - clocks[2].t));

  reference = clocks[2];
  disco_ode_clock_advance (&params, &reference, norm[2]);
  {
    const DiscoOdeClock before = clocks[1];

    disco_ode_lockstep_advance_cpu (&params, 3, clocks, running_in, norm, keep);
    g_assert_cmpint (keep[0], ==, 1);
    g_assert_cmpint (keep[1], ==, 0);
    g_assert_cmpint (keep[2], ==, 0);
    g_assert_cmpmem (&clocks[1], sizeof before, &before, sizeof before);
    g_assert_cmpmem (&clocks[2], sizeof reference, &reference, sizeof reference);
  }

  /* Sample 0 is at rest after a step; 1 is already finished; 2 runs on. */
  disco_ode_lockstep_stop_cpu (&limits, 3, clocks, at_rest, running, status, &n_running);
  g_assert_cmpint (running[0], ==, 0);
  g_assert_cmpint (status[0], ==, DISCO_ODE_STATUS_STEADY_STATE);
  g_assert_cmpint (status[1], ==, 9);
  g_assert_cmpint (running[2], ==, 1);
  g_assert_cmpint (n_running, ==, 1);

  /* At max_steps it stops too. */
  clocks[2].n_rejected = 5;
  disco_ode_lockstep_stop_cpu (&limits, 3, clocks, at_rest, running, status, &n_running);
  g_assert_cmpint (status[2], ==, DISCO_ODE_STATUS_MAX_STEPS);
  g_assert_cmpint (n_running, ==, 0);
}

#define TEST_ERROR (g_quark_from_static_string ("test-ode-batched-error"))

static gboolean
failing_rhs (gpointer user_data, const DiscoOps *ops G_GNUC_UNUSED, gsize n_rows G_GNUC_UNUSED,
             gsize n_state G_GNUC_UNUSED, const float *y G_GNUC_UNUSED, float *dydt G_GNUC_UNUSED,
             GError **error)
{
  guint *calls = user_data;

  if (++*calls < 3)
    return TRUE;
  g_set_error_literal (error, TEST_ERROR, 7, "no more");
  return FALSE;
}

static void
test_errors (void)
{
  g_autoptr (DiscoOdeBatchedSolver) solver = disco_ode_batched_solver_new (disco_ops_cpu ());
  g_autoptr (GError) error = NULL;
  float y[4] = { 1, 2, 3, 4 };
  const float before[4] = { 1, 2, 3, 4 };
  DiscoOdeConfig config;
  guint calls = 0;
  const DiscoOpsLayer bad_chain[2] = {
    { .kind = DISCO_OPS_LAYER_READOUT, .n = 2, .n_in = 2, .weight = y, .tau_e = 1 },
    { .kind = DISCO_OPS_LAYER_MICROCIRCUIT,
      .n = 2,
      .n_in = 2,
      .weight = y,
      .tau_e = 1,
      .tau_i = 1 },
  };

  g_test_summary ("A method without an error estimate under step control, a bad "
                  "setting, a failing right-hand side, a bad layer chain and a rate first "
                  "layer on the compacting path give errors");

  disco_ode_config_init (&config);
  config.method = DISCO_ODE_METHOD_RK4;
  g_assert_false (disco_ode_batched_solver_solve (solver, &config, 0, 2, 2, y, failing_rhs, &calls,
                                                  NULL, NULL, &error));
  g_assert_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_BAD_VALUE);
  g_assert_nonnull (strstr (error->message, "constant steps"));
  g_assert_cmpmem (y, sizeof y, before, sizeof before);
  g_clear_error (&error);

  disco_ode_config_init (&config);
  config.rtol = -1;
  g_assert_false (disco_ode_batched_solver_solve (solver, &config, 0, 2, 2, y, failing_rhs, &calls,
                                                  NULL, NULL, &error));
  g_assert_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_BAD_VALUE);
  g_clear_error (&error);

  disco_ode_config_init (&config);
  g_assert_false (disco_ode_batched_solver_solve (solver, &config, 0, 2, 2, y, failing_rhs, &calls,
                                                  NULL, NULL, &error));
  g_assert_error (error, TEST_ERROR, 7);
  g_assert_cmpuint (calls, ==, 3);
  g_clear_error (&error);

  g_assert_null (disco_ops_network_new (disco_ops_cpu (), 2, bad_chain, &error));
  g_assert_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_BAD_VALUE);
  g_clear_error (&error);

  /* A rate first layer, on both paths: with W = I and no bias, u = x is at
   * rest, and the readout moves towards φ(u). */
  {
    const float w[4] = { 1, 0, 0, 1 }, x[2] = { 1, 2 }, state[4] = { 1, 2, 3, 4 };
    const DiscoOpsLayer rate_first[2] = {
      { .kind = DISCO_OPS_LAYER_RATE,
        .n = 2,
        .n_in = 2,
        .weight = w,
        .phi_e = DISCO_SOFT_RECTIFIER_SOFTPLUS,
        .tau_e = 1 },
      { .kind = DISCO_OPS_LAYER_READOUT, .n = 2, .n_in = 2, .weight = w, .tau_e = 1 },
    };
    g_autoptr (DiscoOpsNetwork) network =
        disco_ops_network_new (disco_ops_cpu (), 2, rate_first, &error);
    const guint rows[1] = { 0 };
    const double t[1] = { 0 };
    float f[4] = { 9, 9, 9, 9 };

    g_assert_no_error (error);
    g_assert_true (disco_ops_network_begin_batch (network, 1, x, &error));
    g_assert_no_error (error);
    for (guint path = 0; path < 2; path++)
      {
        for (guint i = 0; i < 4; i++)
          f[i] = 9;
        if (path == 0)
          g_assert_true (disco_ops_network_rhs_compact (network, 1, rows, t, state, f, &error));
        else
          g_assert_true (disco_ops_network_rhs (network, disco_ops_cpu (), 1, 4, state, f, &error));
        g_assert_no_error (error);
        g_assert_cmpfloat (f[0], ==, 0);
        g_assert_cmpfloat (f[1], ==, 0);
        g_assert_cmpfloat_with_epsilon (f[2], log1p (exp (1.0)) - 3, 1e-6);
        g_assert_cmpfloat_with_epsilon (f[3], log1p (exp (2.0)) - 4, 1e-6);
      }
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/disco/ode-batched/helper-kernels", test_helper_kernels);
  g_test_add_func ("/disco/ode-batched/lockstep-kernels", test_lockstep_kernels);
  g_test_add_func ("/disco/ode-batched/polynomial", test_polynomial);
  g_test_add_func ("/disco/ode-batched/sync-interval", test_sync_interval);
  g_test_add_func ("/disco/ode-batched/stop-statuses", test_stop_statuses);
  g_test_add_func ("/disco/ode-batched/fixed-step-methods", test_fixed_step_methods);
  g_test_add_func ("/disco/ode-batched/operation-count", test_operation_count);
  g_test_add_func ("/disco/ode-batched/network", test_network);
  g_test_add_func ("/disco/ode-batched/network-deep", test_network_deep);
  g_test_add_func ("/disco/ode-batched/network-rejections", test_network_rejections);
  g_test_add_func ("/disco/ode-batched/network-rate", test_network_rate);
  g_test_add_func ("/disco/ode-batched/network-mixed", test_network_mixed);
  g_test_add_func ("/disco/ode-batched/errors", test_errors);

  return g_test_run ();
}
