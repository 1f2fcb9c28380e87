/* test-equilibrium-kernels.c: the equilibrium solver's operations on the
 * host table (kernels/disco-kernels-equilibrium.h) against the equations
 * they solve: the per-unit fixed point, the top-down and feedback products
 * summed in double, and one Newton step of a linear closed loop, whose
 * answer is known in closed form. */
#include "disco-equilibrium-private.h"
#include "disco-kernels-equilibrium.h"
#include "disco-ops.h"

#include <float.h>
#include <math.h>
#include <string.h>

static float *
random_floats (GRand *rand, gsize n, double lo, double hi)
{
  float *x = g_new (float, MAX (n, 1));

  for (gsize i = 0; i < n; i++)
    x[i] = (float) g_rand_double_range (rand, lo, hi);
  return x;
}

static double
phi (const DiscoSoftRectifier *rect, double x)
{
  const double z = rect->sharpness * (x - rect->shift);
  return rect->scale * (z > 0 ? z + log1p (exp (-z)) : log1p (exp (z)));
}

static double
phi_slope (const DiscoSoftRectifier *rect, double x)
{
  const double z = rect->sharpness * (x - rect->shift);
  return rect->scale * rect->sharpness / (1 + exp (-z));
}

/* A cold start without a grid: every unit starts at u = d. */
static const DiscoEquilibriumColdStart at_drive = { NULL, 0.0f, 0.0f, 0 };

static void
test_microcircuit_units (void)
{
  const gsize B = 9, A = 7, n = 50, ld = 2 * n + 3;
  const DiscoSoftRectifier phi_e = DISCO_SOFT_RECTIFIER_SOFTPLUS, phi_i = { 1.5f, 2.0f, 0.3f };
  const DiscoOps *ops = disco_ops_cpu ();
  const guint rows[] = { 8, 0, 3, 5, 1, 7, 2 };
  g_autoptr (GRand) rand = g_rand_new_with_seed (1);
  g_autofree float *state = random_floats (rand, B * ld, -1, 1);
  const gsize O = 3;
  const guint drive_rows[] = { 6, 5, 4, 3, 2, 1, 0 };
  g_autofree float *d = random_floats (rand, A * n, -4, 8);
  g_autofree float *q = random_floats (rand, B * O * n, -1, 1);
  g_autofree float *f = g_new (float, A *n);
  g_autofree double *control = g_new (double, B *O);
  g_autofree float *rate = g_new (float, A *n), *slope = g_new (float, A *n);
  g_autofree float *inhibitory = g_new (float, A *n);
  guint iterations[7];
  gint status[7];

  g_test_summary ("f = c·Q (summed in double); every unit solves u + φ_I(φ_E(u) − f) = d "
                  "(to 1e-5 relative), u_I = φ_E(u) − f, ∂r/∂d = φ_E′/(1 + φ_I′φ_E′); a "
                  "non-finite drive ends at the iteration limit with zeros");
  for (gsize i = 0; i < B * O; i++)
    control[i] = g_rand_double_range (rand, -1, 1);
  /* row r reads drive row drive_rows[r]: row 4 the non-finite one */
  d[drive_rows[4] * n + 2] = NAN;
  ops->equilibrium_microcircuit_units (&phi_e, &phi_i, A, n, rows, state + 1, ld, d, drive_rows, O,
                                       control, q, f, &at_drive, TRUE, rate, slope, inhibitory,
                                       iterations, status);
  for (gsize r = 0; r < A; r++)
    {
      const float *u_e = state + 1 + rows[r] * ld, *u_i = u_e + n;
      const float *d_r = d + drive_rows[r] * n;

      for (gsize j = 0; j < n; j++)
        {
          double sum = 0;
          for (gsize o = 0; o < O; o++)
            sum += (float) control[rows[r] * O + o] * (double) q[(rows[r] * O + o) * n + j];
          g_assert_cmpfloat (fabs (f[r * n + j] - sum), <=, 1e-5);
        }

      if (r == 4)
        {
          g_assert_cmpint (status[r], ==, DISCO_EQUILIBRIUM_ITERATION_LIMIT);
          for (gsize j = 0; j < n; j++)
            g_assert_true (u_e[j] == 0 && u_i[j] == 0 && rate[r * n + j] == 0);
          continue;
        }
      g_assert_cmpint (status[r], ==, DISCO_EQUILIBRIUM_CONVERGED);
      /* Newton from u = d on a convex increasing g: a handful of sweeps. */
      g_assert_cmpuint (iterations[r], >=, 2);
      g_assert_cmpuint (iterations[r], <=, 10);
      for (gsize j = 0; j < n; j++)
        {
          const double u = u_e[j], re = phi (&phi_e, u), fj = f[r * n + j];
          const double g = u + phi (&phi_i, re - fj) - d_r[j];
          const double a = 1 / (1 + phi_slope (&phi_i, re - fj) * phi_slope (&phi_e, u));

          g_assert_cmpfloat (fabs (g), <=, 1e-5 * (1 + fabs (d_r[j])));
          g_assert_cmpfloat (u, <=, d_r[j]);
          g_assert_cmpfloat (fabs (u_i[j] - (re - fj)), <=, 1e-5 * (1 + fabs (re)));
          g_assert_cmpfloat (fabs (rate[r * n + j] - re), <=, 1e-5 * (1 + re));
          g_assert_cmpfloat (fabs (slope[r * n + j] - phi_slope (&phi_e, u) * a), <=, 1e-5);
          g_assert_cmpfloat (fabs (inhibitory[r * n + j] - phi_slope (&phi_i, re - fj)), <=, 1e-5);
        }
    }
}

/* Within @ulps float steps at the scale of the unit's equation, 1 + |d|:
 * its solution u = d − φ_I(…) is a difference, so its rounding error is
 * one of d's size, however small u is. */
static gboolean
close_at_scale (float a, float b, float d, guint ulps)
{
  return fabsf (a - b) <= ulps * FLT_EPSILON * (1.0f + fabsf (d));
}

static void
test_staged_sweep (void)
{
  /* 300 units: a whole tile of the staged sweep and part of another. */
  const gsize A = 6, n = 300, O = 2, ld = 2 * n;
  const DiscoSoftRectifier phi_e = { 0.7f, 1.3f, -0.2f }, phi_i = { 1.5f, 2.0f, 0.3f };
  const DiscoOps *ops = disco_ops_cpu ();
  const guint rows[] = { 0, 1, 2, 3, 4, 5 };
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  g_autofree float *d = random_floats (rand, A * n, -30, 30);
  g_autofree float *q = random_floats (rand, A * O * n, -1, 1);
  g_autofree float *state = g_new0 (float, A *ld), *expected = g_new0 (float, A *ld);
  g_autofree float *f = g_new (float, A *n);
  g_autofree float *rate = g_new (float, A *n), *slope = g_new (float, A *n);
  g_autofree float *inhibitory = g_new (float, A *n);
  g_autofree float *rate_1 = g_new (float, n), *slope_1 = g_new (float, n);
  g_autofree float *inhibitory_1 = g_new (float, n);
  g_autofree double *control = g_new (double, A *O);
  guint iterations[6];
  gint status[6];

  g_test_summary ("the CPU's sweeps in stages over tiles of units give the values of the "
                  "per-unit Newton step (the CUDA kernels' eq_unit_step) to a few float ulps of "
                  "the units' equations (1 + |d|) "
                  "and the same number of sweeps, with rectifiers of scale ≠ 1");
  for (gsize i = 0; i < A * O; i++)
    control[i] = g_rand_double_range (rand, -1, 1);
  ops->equilibrium_microcircuit_units (&phi_e, &phi_i, A, n, rows, state, ld, d, NULL, O, control,
                                       q, f, &at_drive, TRUE, rate, slope, inhibitory, iterations,
                                       status);
  for (gsize r = 0; r < A; r++)
    {
      float *u_e = expected + r * ld;
      const float *d_r = d + r * n, *f_r = f + r * n;
      guint sweeps = 0;
      int pending = 1;

      g_assert_cmpint (status[r], ==, DISCO_EQUILIBRIUM_CONVERGED);
      memcpy (u_e, d_r, n * sizeof (float));
      while (pending && sweeps < DISCO_EQUILIBRIUM_UNIT_MAX_ITERATIONS)
        {
          pending = 0;
          for (gsize j = 0; j < n; j++)
            pending |= eq_unit_step (&phi_e, &phi_i, j, d_r, f_r, u_e, u_e + n, rate_1, slope_1,
                                     inhibitory_1);
          sweeps++;
        }
      g_assert_cmpuint (iterations[r], ==, sweeps);
      for (gsize j = 0; j < n; j++)
        {
          const float scale = d_r[j];

          g_assert_true (close_at_scale (state[r * ld + j], u_e[j], scale, 4));
          g_assert_true (close_at_scale (state[r * ld + n + j], u_e[n + j], scale, 4));
          g_assert_true (close_at_scale (rate[r * n + j], rate_1[j], scale, 4));
          g_assert_true (close_at_scale (slope[r * n + j], slope_1[j], scale, 4));
          g_assert_true (close_at_scale (inhibitory[r * n + j], inhibitory_1[j], scale, 4));
        }
    }
}

/* u*(d) of u + φ_I(φ_E(u)) = d by bisection in double: independent of
 * the kernels' Newton. The root lies in [d − φ_I(φ_E(d)), d]. */
static double
open_loop_root (const DiscoSoftRectifier *phi_e, const DiscoSoftRectifier *phi_i, double d)
{
  double lo = d - phi (phi_i, phi (phi_e, d)), hi = d;

  for (guint i = 0; i < 200 && lo < hi; i++)
    {
      const double mid = 0.5 * (lo + hi);

      if (mid <= lo || mid >= hi)
        break;
      if (mid + phi (phi_i, phi (phi_e, mid)) > d)
        hi = mid;
      else
        lo = mid;
    }
  return 0.5 * (lo + hi);
}

static void
test_cold_start (void)
{
  const DiscoSoftRectifier pairs[][2] = {
    { DISCO_SOFT_RECTIFIER_SOFTPLUS, DISCO_SOFT_RECTIFIER_SOFTPLUS },
    { { 0.7f, 1.3f, -0.2f }, { 1.5f, 2.0f, 0.3f } },
    { { 2.0f, 5.0f, 1.0f }, { 0.5f, 0.25f, -3.0f } },
  };
  const gsize A = 8, n = 300, ld = 2 * n;
  const DiscoOps *ops = disco_ops_cpu ();
  const guint rows[] = { 0, 1, 2, 3, 4, 5, 6, 7 };
  g_autoptr (GRand) rand = g_rand_new_with_seed (11);

  g_test_summary ("the open loop's cold start: a grid of u*(d) whose interpolation is within "
                  "1e-5·(1 + |u*|) of the root (bisection in double) from d = −1000 to 10⁴, "
                  "≤ d; sweeps from it take one sweep per row, to the values of sweeps from "
                  "u = d within 8 float ulps of the units' equations (1 + |d|); invalid "
                  "rectifiers have no grid; non-finite drives start at d");
  for (gsize p = 0; p < G_N_ELEMENTS (pairs); p++)
    {
      const DiscoSoftRectifier *phi_e = &pairs[p][0], *phi_i = &pairs[p][1];
      DiscoEquilibriumColdStart cold;
      g_autofree float *d = random_floats (rand, A * n, -30, 60);
      g_autofree float *state = g_new0 (float, A *ld), *expected = g_new0 (float, A *ld);
      g_autofree float *f = g_new (float, A *n), *rate = g_new (float, A *n);
      g_autofree float *slope = g_new (float, A *n), *inhibitory = g_new (float, A *n);
      guint iterations[8], expected_iterations[8];
      gint status[8];

      g_assert_true (disco_equilibrium_cold_start_values (phi_e, phi_i, &cold));
      g_assert_nonnull (cold.values);
      g_assert_cmpuint (cold.n, >=, 257);
      g_assert_cmpuint (cold.n, <=, 16385);
      for (guint i = 0; i <= 20000; i++)
        {
          const double x = i < 10000 ? -1000.0 + i * 0.11 : g_rand_double_range (rand, -50, 1e4);
          const float dx = (float) x;
          const double root = open_loop_root (phi_e, phi_i, dx);
          const float start = eq_cold_start (cold, dx);

          g_assert_cmpfloat (fabs (start - root), <=, 1e-5 * (1 + fabs (root)));
          g_assert_cmpfloat (start, <=, dx);
        }
      g_assert_cmpfloat (eq_cold_start (cold, INFINITY), ==, INFINITY);
      g_assert_true (isnan (eq_cold_start (cold, NAN)));

      /* Sweeps from u = d, then from the grid: one sweep, the same values. */
      ops->equilibrium_microcircuit_units (phi_e, phi_i, A, n, rows, expected, ld, d, NULL, 0, NULL,
                                           NULL, f, &at_drive, TRUE, rate, slope, inhibitory,
                                           expected_iterations, status);
      ops->equilibrium_microcircuit_units (phi_e, phi_i, A, n, rows, state, ld, d, NULL, 0, NULL,
                                           NULL, f, &cold, TRUE, rate, slope, inhibitory,
                                           iterations, status);
      for (gsize r = 0; r < A; r++)
        {
          g_assert_cmpint (status[r], ==, DISCO_EQUILIBRIUM_CONVERGED);
          g_assert_cmpuint (iterations[r], ==, 1);
          g_assert_cmpuint (expected_iterations[r], >, 1);
          for (gsize j = 0; j < 2 * n; j++)
            g_assert_true (
                close_at_scale (state[r * ld + j], expected[r * ld + j], d[r * n + j % n], 8));
        }
      g_free ((gpointer) cold.values);
    }

  {
    const DiscoSoftRectifier flat = { 1.0f, 0.0f, 0.0f }, softplus = DISCO_SOFT_RECTIFIER_SOFTPLUS;
    DiscoEquilibriumColdStart grid;

    g_assert_false (disco_equilibrium_cold_start_values (&flat, &softplus, &grid));
    g_assert_null (grid.values);
    g_assert_false (disco_equilibrium_cold_start_values (&softplus, &flat, &grid));
    g_assert_null (grid.values);
  }
}

/* H = I − 2 h hᵀ/|h|², an orthogonal reflection (O × O). */
static void
householder (GRand *rand, gsize O, double *h_matrix)
{
  double h[16], length = 0;

  for (gsize i = 0; i < O; i++)
    {
      h[i] = g_rand_double_range (rand, -1, 1);
      length += h[i] * h[i];
    }
  for (gsize i = 0; i < O; i++)
    for (gsize j = 0; j < O; j++)
      h_matrix[i * O + j] = (i == j) - 2 * h[i] * h[j] / length;
}

static void
test_spectral_norm (void)
{
  const gsize O = 10;
  g_autoptr (GRand) rand = g_rand_new_with_seed (11);
  double u[100], v[100], m[100], nearby[100], gram[100], iterate[10], scratch[10];
  double start[10], sigma[10], largest = 0;

  g_test_summary ("the power iteration of the Newton step finds the largest singular value of "
                  "U diag(σ) Vᵀ to 1e-6 relative, from its own start and from the last iterate "
                  "of a nearby matrix (where it starts from the first Newton iterate on); 0 for "
                  "M = 0");
  householder (rand, O, u);
  householder (rand, O, v);
  for (gsize k = 0; k < O; k++)
    largest = MAX (largest, sigma[k] = 0.05 + 0.08 * k * (k % 3 == 0 ? 0.5 : 1.0));
  for (gsize i = 0; i < O; i++)
    for (gsize j = 0; j < O; j++)
      {
        double sum = 0;
        for (gsize k = 0; k < O; k++)
          sum += u[i * O + k] * sigma[k] * v[j * O + k];
        m[i * O + j] = sum;
        nearby[i * O + j] = sum * (1 + 0.01 * g_rand_double_range (rand, -1, 1));
      }
  g_assert_cmpfloat_with_epsilon (eq_spectral_norm (m, O, NULL, gram, iterate, scratch), largest,
                                  1e-6 * largest);
  eq_spectral_norm (nearby, O, NULL, gram, start, scratch);
  g_assert_cmpfloat_with_epsilon (eq_spectral_norm (m, O, start, gram, iterate, scratch), largest,
                                  1e-6 * largest);
  /* M = 0 (a saturated softmax): 0, not a failure */
  memset (m, 0, sizeof m);
  g_assert_cmpfloat (eq_spectral_norm (m, O, NULL, gram, iterate, scratch), ==, 0.0);
}

static void
test_products (void)
{
  const gsize B = 6, A = 4, O = 3, n = 37;
  const DiscoOps *ops = disco_ops_cpu ();
  const guint rows[] = { 5, 2, 0, 3 };
  g_autoptr (GRand) rand = g_rand_new_with_seed (2);
  g_autofree float *q = random_floats (rand, B * O * n, -1, 1);
  g_autofree float *g = random_floats (rand, O * n, -1, 1);
  g_autofree float *s = random_floats (rand, A * n, 0, 1);
  g_autofree float *s_i = random_floats (rand, A * n, 0, 1);
  g_autofree float *scaled = g_new (float, A *O *n);
  g_autofree float *dydc = g_new (float, A *O *O), *first = g_new (float, A *n);
  const float identity[9] = { 1, 0, 0, 0, 1, 0, 0, 0, 1 };

  g_test_summary ("gather, scale_rows and feedback_products (I + (G ⊙ s ⊙ φ_I′) Qᵀ) "
                  "against the same sums in double");

  ops->equilibrium_gather (A, n, rows, q, O * n, first, n);
  for (gsize r = 0; r < A; r++)
    g_assert_cmpmem (first + r * n, n * sizeof (float), q + rows[r] * O * n, n * sizeof (float));

  ops->equilibrium_scale_rows (A, O, n, g, 0, s, scaled);
  for (gsize r = 0; r < A; r++)
    for (gsize i = 0; i < O * n; i++)
      g_assert_cmpfloat (scaled[r * O * n + i], ==, g[i] * s[r * n + i % n]);

  ops->equilibrium_gather (A, O * O, NULL, identity, 0, dydc, O * O);
  ops->equilibrium_feedback_products (A, O, n, rows, g, 0, s, s_i, q, dydc);
  for (gsize r = 0; r < A; r++)
    for (gsize o = 0; o < O; o++)
      for (gsize k = 0; k < O; k++)
        {
          double sum = o == k;
          for (gsize j = 0; j < n; j++)
            sum += (double) g[o * n + j] * s[r * n + j] * s_i[r * n + j]
                   * q[(rows[r] * O + k) * n + j];
          g_assert_cmpfloat (fabs (dydc[(r * O + o) * O + k] - sum), <=, 1e-5);
        }
}

/* A readout alone under control, y = y0 + c, with the squared error:
 * F(c) = c − K (y* − y0 − c) has ∂y/∂c = I, so one Newton step from c = 0
 * lands on c = K (y* − y0)/(1 + K), and the next residual says so, with
 * c_int = e/λ at rest. */
static void
test_linear_closed_loop (void)
{
  const gsize B = 3, O = 4, ld = 2 * O;
  const DiscoOps *ops = disco_ops_cpu ();
  const DiscoEquilibriumParams params = {
    .tolerance = 1e-6,
    .gain = 0.75,
    .contraction_limit = 0.99,
    .leak = 0.5f,
    .max_iterations = 5,
    .softmax = FALSE,
  };
  const guint rows[] = { 2, 0, 1 };
  const gint unit_status[] = { 0, 0, 0 };
  g_autoptr (GRand) rand = g_rand_new_with_seed (3);
  g_autofree float *y0 = random_floats (rand, B * O, -1, 1);
  g_autofree float *target = random_floats (rand, B * O, 0, 1);
  float state[3 * 8] = { 0 }, dydc[3 * 16] = { 0 };
  double control[12] = { 0 }, residual[12], matrix[3 * DISCO_EQUILIBRIUM_NEWTON_SIZE (4)];
  double work[3 * DISCO_EQUILIBRIUM_WORK (4)];
  DiscoEquilibriumSample samples[3];
  gint keep[3];

  g_test_summary ("residual and newton on y = y0 + c with the squared error: one step to "
                  "the closed form c = K (y* − y0)/(1 + K), contraction K, c_int = e/λ");
  for (gsize s = 0; s < B; s++)
    {
      samples[s] = (DiscoEquilibriumSample){ .last_norm = INFINITY, .refresh = TRUE };
      for (gsize o = 0; o < O; o++)
        {
          state[s * ld + o] = y0[s * O + o];
          dydc[s * O * O + o * O + o] = 1.0f;
        }
    }
  ops->equilibrium_residual (&params, B, O, rows, unit_status, TRUE, state, ld, target, control,
                             residual, samples, work, keep);
  for (gsize r = 0; r < B; r++)
    g_assert_cmpint (keep[r], ==, 2);
  ops->equilibrium_newton (&params, B, O, rows, TRUE, dydc, state, ld, target, residual, control,
                           matrix, samples, work, keep);
  for (gsize s = 0; s < B; s++)
    {
      g_assert_cmpint (keep[s], ==, 1);
      g_assert_cmpuint (samples[s].iterations, ==, 1);
      g_assert_cmpfloat (fabs (samples[s].contraction - params.gain), <=, 1e-6);
      for (gsize o = 0; o < O; o++)
        {
          const double expected =
              params.gain * ((double) target[s * O + o] - y0[s * O + o]) / (1 + params.gain);
          g_assert_cmpfloat (fabs (control[s * O + o] - expected), <=, 1e-12);
          /* the forward pass the solver would run next: y = y0 + c */
          state[s * ld + o] = y0[s * O + o] + (float) control[s * O + o];
        }
    }
  ops->equilibrium_residual (&params, B, O, rows, unit_status, TRUE, state, ld, target, control,
                             residual, samples, work, keep);
  for (gsize s = 0; s < B; s++)
    {
      /* Converged, to the float rounding of y: done, with c_int = e/λ. */
      g_assert_cmpint (samples[s].status, ==, DISCO_EQUILIBRIUM_CONVERGED);
      g_assert_cmpint (keep[s], ==, 0);
      for (gsize o = 0; o < O; o++)
        {
          const double e = (double) target[s * O + o] - state[s * ld + o];

          g_assert_cmpfloat (fabs (residual[s * O + o]), <=, 1e-6);
          g_assert_cmpfloat (fabs (state[s * ld + O + o] - e / params.leak), <=, 1e-6);
        }
    }
}

/* A linear closed loop y = y0 + A c (A = I + small, one sample) whose
 * Newton matrix is given as if A were I: the kept matrix learns A from the
 * steps. After each step with a kept matrix, (I + M) maps the last step to
 * the change in F it made (Broyden's secant condition), and the loop
 * reaches the closed form c = (I + K A)⁻¹ K (y* − y0). */
static void
test_secant_update (void)
{
  enum
  {
    O = 3,
    LD = 2 * O
  };
  const DiscoOps *ops = disco_ops_cpu ();
  const DiscoEquilibriumParams params = {
    .tolerance = 1e-9,
    .gain = 0.75,
    .contraction_limit = 0.99,
    .leak = 0.5f,
    .max_iterations = 20,
    .softmax = FALSE,
  };
  const guint rows[] = { 0 };
  const gint unit_status[] = { 0 };
  const double A[O][O] = { { 1.05, 0.02, -0.03 }, { -0.04, 0.97, 0.01 }, { 0.02, 0.03, 1.04 } };
  const float y0[O] = { 0.3f, -0.2f, 0.1f }, target[O] = { 0.9f, 0.05f, 0.05f };
  float state[LD] = { 0 }, dydc[O * O] = { 0 };
  double control[O] = { 0 }, residual[O], last_residual[O], last_control[O], now[O];
  double matrix[DISCO_EQUILIBRIUM_NEWTON_SIZE (O)], work[DISCO_EQUILIBRIUM_WORK (O)];
  double expected[O], system[O][O + 1];
  DiscoEquilibriumSample sample = { .last_norm = INFINITY, .refresh = TRUE };
  gint keep[1];
  guint kept_steps = 0;

  g_test_summary ("Broyden's update of a kept Newton matrix: (I + M) s = ΔF after every step, "
                  "and a linear loop y = y0 + A c given ∂y/∂c = I converges to "
                  "c = (I + K A)⁻¹ K (y* − y0) to 1e-7");
  for (gsize o = 0; o < O; o++)
    {
      state[o] = y0[o];
      dydc[o * O + o] = 1.0f;
    }
  for (guint step = 0;; step++)
    {
      g_assert_cmpuint (step, <, params.max_iterations);
      ops->equilibrium_residual (&params, 1, O, rows, unit_status, TRUE, state, LD, target, control,
                                 residual, &sample, work, keep);
      if (keep[0] == 0)
        break;
      memcpy (now, control, sizeof control);
      ops->equilibrium_newton (&params, 1, O, rows, keep[0] == 2, dydc, state, LD, target, residual,
                               control, matrix, &sample, work, keep);
      g_assert_cmpint (keep[0], ==, 1);
      if (sample.stale)
        {
          /* (I + M)(c_k − c_{k−1}) = F_k − F_{k−1}, M the updated matrix */
          for (gsize i = 0; i < O; i++)
            {
              double image = 0;

              for (gsize j = 0; j < O; j++)
                image += ((i == j) + matrix[i * O + j]) * (now[j] - last_control[j]);
              g_assert_cmpfloat (fabs (image - (residual[i] - last_residual[i])), <=,
                                 1e-12 * (1 + fabs (residual[i] - last_residual[i])));
            }
          kept_steps++;
        }
      memcpy (last_residual, residual, sizeof residual);
      memcpy (last_control, now, sizeof now);
      for (gsize i = 0; i < O; i++)
        {
          double y = y0[i];
          for (gsize j = 0; j < O; j++)
            y += A[i][j] * control[j];
          state[i] = (float) y;
        }
    }
  g_assert_cmpint (sample.status, ==, DISCO_EQUILIBRIUM_CONVERGED);
  g_assert_cmpuint (kept_steps, >, 0);
  /* (I + K A) c = K (y* − y0), by Gauss–Jordan elimination */
  for (gsize i = 0; i < O; i++)
    {
      for (gsize j = 0; j < O; j++)
        system[i][j] = (i == j) + params.gain * A[i][j];
      system[i][O] = params.gain * ((double) target[i] - y0[i]);
    }
  for (gsize k = 0; k < O; k++)
    for (gsize i = 0; i < O; i++)
      if (i != k)
        {
          const double factor = system[i][k] / system[k][k];
          for (gsize j = k; j <= O; j++)
            system[i][j] -= factor * system[k][j];
        }
  for (gsize i = 0; i < O; i++)
    {
      expected[i] = system[i][O] / system[i][i];
      g_assert_cmpfloat (fabs (control[i] - expected[i]), <=, 1e-7);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/disco/equilibrium-kernels/microcircuit-units", test_microcircuit_units);
  g_test_add_func ("/disco/equilibrium-kernels/staged-sweep", test_staged_sweep);
  g_test_add_func ("/disco/equilibrium-kernels/cold-start", test_cold_start);
  g_test_add_func ("/disco/equilibrium-kernels/spectral-norm", test_spectral_norm);
  g_test_add_func ("/disco/equilibrium-kernels/products", test_products);
  g_test_add_func ("/disco/equilibrium-kernels/linear-closed-loop", test_linear_closed_loop);
  g_test_add_func ("/disco/equilibrium-kernels/secant-update", test_secant_update);
  return g_test_run ();
}
