/* test-cuda-equilibrium.c: the equilibrium solver's operations on CUDA
 * against their CPU references, and the whole solver (nodes/
 * disco-equilibrium.c) on the CUDA table against the host table.
 *
 * 1. Each operation of disco-kernels-equilibrium.h on seeded inputs:
 *    - gather, readout, scale_rows: bit-identical (copies, or
 *      correctly rounded float operations in the CPU's order, without FMA on
 *      either side: the CPU's baseline code, CUDA's -fmad=false);
 *    - rate_units: the CPU's polynomial φ compiled for the GPU, rounded as
 *      written: within 2 ulp (|Δ| ≤ 2.5e-7·|cpu| + 1e-30);
 *    - microcircuit_units: its top-down input f = c·Q bit-identical (the
 *      CPU's order, no FMA on either side), then the same per-unit Newton;
 *      the CPU's sweep may
 *      run its x86-64-v3 clone, whose fused multiply-adds round otherwise,
 *      so a unit whose last step is near the tolerance may take one sweep
 *      more or less (iterations ±1, statuses equal); what that changes is
 *      below the step tolerance squared: |Δ| ≤ 1e-5·(1 + |cpu|);
 *    - feedback_products: dot products of length n summed in another order
 *      (lanes of a warp): |Δ| ≤ 1e-5·(1 + Σ|terms|);
 *    - residual and newton: the CPU's per-row double code, with CUDA's
 *      exp() and sqrt() (≤ 1 ulp): decisions (keep, statuses, iterations)
 *      equal, values within 1e-9 relative.
 * 2. Open- and closed-loop solves of random networks (30–40–10 with one
 *    microcircuit layer; 30–40–40–10 with two, where the closed loop
 *    descends through a weight matrix and reuses Newton matrices; the
 *    model's 784–256–256–256–10 at batch 100) on both tables.  The GEMMs differ in summation order (cuBLAS against
 *    OpenBLAS) and φ in rounding, the fixed points are contractions, so
 *    the results agree to rounding: statuses equal, closed-loop Newton
 *    iterations ±1, unit sweeps ±1 per layer, states within
 *    1e-4 + 1e-3·|cpu|.
 *
 * Without a usable CUDA device every case calls g_test_skip() with the
 * reason.
 */

#include "disco-equilibrium.h"
#include "disco-kernels-cuda.h"
#include "disco-kernels-equilibrium.h"
#include "disco-ops.h"
#include "test-random-network.h"

#include <math.h>
#include <string.h>
#include "gpu-test-common.h"

#define dev_upload gpu_test_upload
#define dev_download gpu_test_download

static void
assert_close_floats (const char *what, const float *got, const float *ref, gsize n, double absolute,
                     double relative)
{
  for (gsize i = 0; i < n; i++)
    if (isnan (got[i]) != isnan (ref[i])
        || (!isnan (ref[i])
            && !(fabs ((double) got[i] - ref[i]) <= absolute + relative * fabs (ref[i]))))
      g_error ("%s[%" G_GSIZE_FORMAT "]: cuda %.9g, cpu %.9g", what, i, got[i], ref[i]);
}

/* A random permutation's first @n entries of 0 … @B − 1. */
static guint *
random_rows (GRand *rand, gsize n, gsize B)
{
  guint *all = g_new (guint, B), *rows = g_new (guint, MAX (n, 1));

  for (gsize s = 0; s < B; s++)
    all[s] = s;
  for (gsize s = B; s > 1; s--)
    {
      const gsize k = g_rand_int_range (rand, 0, s);
      const guint t = all[s - 1];
      all[s - 1] = all[k];
      all[k] = t;
    }
  memcpy (rows, all, n * sizeof (guint));
  g_free (all);
  return rows;
}

/* ---- 1. the operations ---- */

static void
test_copies_and_products (void)
{
  const gsize B = 23, A = 17, O = 10, n = 70;
  g_autoptr (GRand) rand = g_rand_new_with_seed (3);
  g_autofree guint *rows = random_rows (rand, A, B);
  g_autofree float *x = random_floats (rand, B * n, -2, 2);
  g_autofree float *q = random_floats (rand, B * O * n, -1, 1);
  g_autofree float *g = random_floats (rand, A * O * n, -1, 1);
  g_autofree float *s = random_floats (rand, A * n, 0, 1);
  g_autofree float *s_i = random_floats (rand, A * n, 0, 1);
  g_autofree float *dydc = random_floats (rand, A * O * O, -1, 1);
  g_autofree double *control = g_new (double, B *O);
  g_autofree float *ref = g_new (float, A *O *n), *got = g_new (float, A *O *n);
  g_autofree float *ref_m = g_new (float, A *O *O), *got_m = g_new (float, A *O *O);
  g_autofree float *bound = g_new (float, A *O *O);
  float *d_x, *d_q, *d_g, *d_s, *d_s_i, *d_out, *d_m;
  double *d_control;
  guint *d_rows;

  g_test_summary ("gather and scale_rows equal their CPU twins to the bit; "
                  "feedback_products within 1e-5·(1 + Σ|terms|)");
  SKIP_WITHOUT_DEVICE ();

  for (gsize i = 0; i < B * O; i++)
    control[i] = g_rand_double_range (rand, -3, 3);
  d_rows = dev_upload (rows, A * sizeof (guint));
  d_x = dev_upload (x, B * n * sizeof (float));
  d_q = dev_upload (q, B * O * n * sizeof (float));
  d_g = dev_upload (g, A * O * n * sizeof (float));
  d_s = dev_upload (s, A * n * sizeof (float));
  d_s_i = dev_upload (s_i, A * n * sizeof (float));
  d_control = dev_upload (control, B * O * sizeof (double));
  d_out = dev_upload (NULL, A * O * n * sizeof (float));
  d_m = dev_upload (NULL, A * O * O * sizeof (float));

  /* gather: by rows, the identity, and a broadcast row */
  disco_equilibrium_gather_cpu (A, n, rows, x, n, ref, n);
  disco_equilibrium_gather_cuda (A, n, d_rows, d_x, n, d_out, n);
  dev_download (got, d_out, A * n * sizeof (float));
  g_assert_cmpmem (got, A * n * sizeof (float), ref, A * n * sizeof (float));
  disco_equilibrium_gather_cpu (A, n, NULL, x + n, 0, ref, n);
  disco_equilibrium_gather_cuda (A, n, NULL, d_x + n, 0, d_out, n);
  dev_download (got, d_out, A * n * sizeof (float));
  g_assert_cmpmem (got, A * n * sizeof (float), ref, A * n * sizeof (float));

  /* scale_rows: one shared matrix, then per row in place */
  disco_equilibrium_scale_rows_cpu (A, O, n, g, 0, s, ref);
  disco_equilibrium_scale_rows_cuda (A, O, n, d_g, 0, d_s, d_out);
  dev_download (got, d_out, A * O * n * sizeof (float));
  g_assert_cmpmem (got, A * O * n * sizeof (float), ref, A * O * n * sizeof (float));
  memcpy (ref, g, A * O * n * sizeof (float));
  disco_equilibrium_scale_rows_cpu (A, O, n, ref, O * n, s, ref);
  disco_equilibrium_scale_rows_cuda (A, O, n, d_g, O * n, d_s, d_g);
  dev_download (got, d_g, A * O * n * sizeof (float));
  g_assert_cmpmem (got, A * O * n * sizeof (float), ref, A * O * n * sizeof (float));

  /* feedback_products, with and without the slope factor (g is now the
   * scaled g on both sides) */
  for (guint with_slope = 0; with_slope < 2; with_slope++)
    {
      const float *g_host = with_slope ? g : ref;
      const gsize stride = with_slope ? 0 : O * n;

      memcpy (ref_m, dydc, A * O * O * sizeof (float));
      g_assert_true (disco_cuda_copy_to_device (d_m, dydc, A * O * O * sizeof (float), NULL));
      if (with_slope)
        g_assert_true (disco_cuda_copy_to_device (d_g, g, A * O * n * sizeof (float), NULL));
      disco_equilibrium_feedback_products_cpu (A, O, n, rows, g_host, stride, with_slope ? s : NULL,
                                               s_i, q, ref_m);
      disco_equilibrium_feedback_products_cuda (A, O, n, d_rows, d_g, stride,
                                                with_slope ? d_s : NULL, d_s_i, d_q, d_m);
      dev_download (got_m, d_m, A * O * O * sizeof (float));
      for (gsize r = 0; r < A; r++)
        for (gsize o = 0; o < O; o++)
          for (gsize k = 0; k < O; k++)
            {
              double sum = fabs (dydc[(r * O + o) * O + k]);

              for (gsize j = 0; j < n; j++)
                sum += fabs ((double) g_host[r * stride + o * n + j] * s_i[r * n + j]
                             * (with_slope ? s[r * n + j] : 1.0f) * q[(rows[r] * O + k) * n + j]);
              bound[(r * O + o) * O + k] = sum;
            }
      for (gsize i = 0; i < A * O * O; i++)
        if (!(fabs ((double) got_m[i] - ref_m[i]) <= 1e-5 * (1 + bound[i])))
          g_error ("feedback_products[%" G_GSIZE_FORMAT "]: cuda %.9g, cpu %.9g", i, got_m[i],
                   ref_m[i]);
    }

  disco_cuda_free (d_rows);
  disco_cuda_free (d_x);
  disco_cuda_free (d_q);
  disco_cuda_free (d_g);
  disco_cuda_free (d_s);
  disco_cuda_free (d_s_i);
  disco_cuda_free (d_control);
  disco_cuda_free (d_out);
  disco_cuda_free (d_m);
}

static void
test_units (void)
{
  const gsize B = 40, A = 31, n = 300, O = 10, ld = 2 * n + 5;
  const DiscoSoftRectifier phi_e = DISCO_SOFT_RECTIFIER_SOFTPLUS;
  const DiscoSoftRectifier phi_i = { 1.0f, 2.0f, 0.5f };
  g_autoptr (GRand) rand = g_rand_new_with_seed (5);
  g_autofree guint *rows = random_rows (rand, A, B);
  g_autofree float *state = random_floats (rand, B * ld, -2, 2);
  g_autofree float *drive = random_floats (rand, A * n, -4, 6);
  g_autofree float *q = random_floats (rand, B * O * n, -1, 1);
  g_autofree guint *drive_rows = random_rows (rand, A, A);
  g_autofree float *ref_f = g_new (float, A *n), *got_f = g_new (float, A *n);
  g_autofree float *ref_state = g_new (float, B *ld), *got_state = g_new (float, B *ld);
  g_autofree float *ref = g_new (float, 3 * A * n), *got = g_new (float, 3 * A * n);
  g_autofree guint *iterations = g_new0 (guint, A), *ref_it = g_new (guint, A);
  g_autofree guint *got_it = g_new (guint, A);
  g_autofree gint *status = g_new0 (gint, A), *ref_status = g_new (gint, A);
  g_autofree gint *got_status = g_new (gint, A);
  g_autofree double *control = g_new (double, B *O);
  const DiscoEquilibriumColdStart at_drive = { NULL, 0.0f, 0.0f, 0, 0.0f, 0.0f };
  DiscoEquilibriumColdStart host_grid, device_grid;
  float *d_state, *d_drive, *d_f, *d_q, *d_out;
  guint *d_rows, *d_drive_rows, *d_it;
  gint *d_status;
  double *d_control;

  g_test_summary ("microcircuit_units (warm starts, cold starts from u = d and from a grid, "
                  "with and without control, drive "
                  "rows, a non-finite drive), rate_units and readout on the device against the "
                  "CPU: f = c·Q exact, statuses equal, sweeps ±1, values within "
                  "1e-5·(1 + |cpu|); rate units within 2 ulp; readout exact");
  SKIP_WITHOUT_DEVICE ();

  drive[5 * n + 7] = NAN; /* drive row 5 cannot converge: ITERATION_LIMIT, zeros */
  status[3] = DISCO_EQUILIBRIUM_NOT_FINITE; /* kept when not first */
  for (gsize i = 0; i < B * O; i++)
    control[i] = g_rand_double_range (rand, -1, 1);
  d_rows = dev_upload (rows, A * sizeof (guint));
  d_state = dev_upload (NULL, B * ld * sizeof (float));
  d_drive = dev_upload (drive, A * n * sizeof (float));
  d_f = dev_upload (NULL, A * n * sizeof (float));
  d_q = dev_upload (q, B * O * n * sizeof (float));
  d_drive_rows = dev_upload (drive_rows, A * sizeof (guint));
  d_out = dev_upload (NULL, 3 * A * n * sizeof (float));
  d_it = dev_upload (NULL, A * sizeof (guint));
  d_status = dev_upload (NULL, A * sizeof (gint));
  d_control = dev_upload (control, B * O * sizeof (double));

  /* The open loop's cold start: its grid in host memory for the CPU, on
   * the device for CUDA. */
  g_assert_true (disco_equilibrium_cold_start_values (&phi_e, &phi_i, &host_grid));
  device_grid = host_grid;
  device_grid.values = dev_upload (host_grid.values, host_grid.n * sizeof (float));

  for (guint variant = 0; variant < 4; variant++)
    {
      /* 0: cold from u = d; 1: warm, controlled; 2: warm, first layer; 3:
       * cold from the grid */
      const gboolean first = variant == 2, controlled = variant == 1 || variant == 2;
      const DiscoEquilibriumColdStart *cpu_cold =
          variant == 0 ? &at_drive : (variant == 3 ? &host_grid : NULL);
      const DiscoEquilibriumColdStart *cuda_cold =
          variant == 0 ? &at_drive : (variant == 3 ? &device_grid : NULL);

      memcpy (ref_state, state, B * ld * sizeof (float));
      memcpy (ref_it, iterations, A * sizeof (guint));
      memcpy (ref_status, status, A * sizeof (gint));
      g_assert_true (disco_cuda_copy_to_device (d_state, state, B * ld * sizeof (float), NULL));
      g_assert_true (disco_cuda_copy_to_device (d_it, iterations, A * sizeof (guint), NULL));
      g_assert_true (disco_cuda_copy_to_device (d_status, status, A * sizeof (gint), NULL));

      disco_equilibrium_microcircuit_units_cpu (
          &phi_e, &phi_i, A, n, rows, ref_state + 3, ld, drive, first ? drive_rows : NULL, O,
          controlled ? control : NULL, q, ref_f, cpu_cold, first, ref, ref + A * n, ref + 2 * A * n,
          ref_it, ref_status);
      disco_equilibrium_microcircuit_units_cuda (
          &phi_e, &phi_i, A, n, d_rows, d_state + 3, ld, d_drive, first ? d_drive_rows : NULL, O,
          controlled ? d_control : NULL, d_q, d_f, cuda_cold, first, d_out, d_out + A * n,
          d_out + 2 * A * n, d_it, d_status);
      dev_download (got_f, d_f, A * n * sizeof (float));
      g_assert_cmpmem (got_f, A * n * sizeof (float), ref_f, A * n * sizeof (float));
      dev_download (got_state, d_state, B * ld * sizeof (float));
      dev_download (got, d_out, 3 * A * n * sizeof (float));
      dev_download (got_it, d_it, A * sizeof (guint));
      dev_download (got_status, d_status, A * sizeof (gint));
      for (gsize r = 0; r < A; r++)
        {
          g_assert_cmpint (got_status[r], ==, ref_status[r]);
          g_assert_cmpint (ABS ((gint) got_it[r] - (gint) ref_it[r]), <=, 1);
        }
      /* the row that reads the non-finite drive row 5 */
      for (gsize r = 0; r < A; r++)
        if ((first ? drive_rows[r] : r) == 5)
          g_assert_cmpint (ref_status[r], ==, DISCO_EQUILIBRIUM_ITERATION_LIMIT);
      assert_close_floats ("microcircuit state", got_state, ref_state, B * ld, 1e-5, 1e-5);
      assert_close_floats ("microcircuit rates and slopes", got, ref, 3 * A * n, 1e-5, 1e-5);
    }

  /* rate units, first layer: resets the counters */
  memcpy (ref_state, state, B * ld * sizeof (float));
  g_assert_true (disco_cuda_copy_to_device (d_state, state, B * ld * sizeof (float), NULL));
  disco_equilibrium_rate_units_cpu (&phi_e, A, n, rows, ref_state + 1, ld, drive, TRUE, ref,
                                    ref + A * n, ref_it, ref_status);
  disco_equilibrium_rate_units_cuda (&phi_e, A, n, d_rows, d_state + 1, ld, d_drive, TRUE, d_out,
                                     d_out + A * n, d_it, d_status);
  dev_download (got_state, d_state, B * ld * sizeof (float));
  dev_download (got, d_out, 2 * A * n * sizeof (float));
  dev_download (got_it, d_it, A * sizeof (guint));
  dev_download (got_status, d_status, A * sizeof (gint));
  g_assert_cmpmem (got_state, B * ld * sizeof (float), ref_state, B * ld * sizeof (float));
  assert_close_floats ("rate units", got, ref, 2 * A * n, 1e-30, 2.5e-7);
  g_assert_cmpmem (got_it, A * sizeof (guint), ref_it, A * sizeof (guint));
  g_assert_cmpmem (got_status, A * sizeof (gint), ref_status, A * sizeof (gint));
  g_assert_cmpint (ref_status[5], ==, DISCO_EQUILIBRIUM_NOT_FINITE);

  /* readout with and without control */
  for (guint with_control = 0; with_control < 2; with_control++)
    {
      disco_equilibrium_readout_cpu (A, O, rows, ref_state + n, ld, drive,
                                     with_control ? control : NULL, FALSE, ref_it, ref_status);
      disco_equilibrium_readout_cuda (A, O, d_rows, d_state + n, ld, d_drive,
                                      with_control ? d_control : NULL, FALSE, d_it, d_status);
      dev_download (got_state, d_state, B * ld * sizeof (float));
      dev_download (got_status, d_status, A * sizeof (gint));
      g_assert_cmpmem (got_state, B * ld * sizeof (float), ref_state, B * ld * sizeof (float));
      g_assert_cmpmem (got_status, A * sizeof (gint), ref_status, A * sizeof (gint));
    }

  disco_cuda_free (d_rows);
  disco_cuda_free (d_state);
  disco_cuda_free (d_drive);
  disco_cuda_free (d_f);
  disco_cuda_free (d_q);
  disco_cuda_free (d_drive_rows);
  disco_cuda_free (d_out);
  disco_cuda_free (d_it);
  disco_cuda_free (d_status);
  disco_cuda_free (d_control);
  disco_cuda_free ((gpointer) device_grid.values);
  g_free ((gpointer) host_grid.values);
}

static void
assert_close_doubles (const char *what, const double *got, const double *ref, gsize n,
                      double relative)
{
  for (gsize i = 0; i < n; i++)
    if (!(fabs (got[i] - ref[i]) <= relative * (1e-12 + fabs (ref[i]))))
      g_error ("%s[%" G_GSIZE_FORMAT "]: cuda %.17g, cpu %.17g", what, i, got[i], ref[i]);
}

static void
test_newton_step (void)
{
  /* A state row: 30 values, the readout's y (O) last, then c_int (O). */
  const gsize B = 50, A = 37, O = 10, N = 40, ld = N + O, readout = N - O;
  g_autoptr (GRand) rand = g_rand_new_with_seed (9);
  g_autofree guint *rows = random_rows (rand, A, B);
  g_autofree float *state = random_floats (rand, B * ld, -3, 3);
  g_autofree float *target = g_new0 (float, B *O);
  g_autofree float *dydc = random_floats (rand, A * O * O, -0.3, 0.3);
  g_autofree double *control = g_new (double, B *O), *residual = g_new0 (double, B *O);
  g_autofree double *newton_matrix = g_new0 (double, B *DISCO_EQUILIBRIUM_NEWTON_SIZE (O));
  g_autofree DiscoEquilibriumSample *samples = g_new0 (DiscoEquilibriumSample, B);
  g_autofree gint *unit_status = g_new0 (gint, A), *keep = g_new (gint, A);
  g_autofree gint *got_keep = g_new (gint, A);
  g_autofree double *work = g_new (double, A *DISCO_EQUILIBRIUM_WORK (O));
  g_autofree float *got_state = g_new (float, B *ld);
  g_autofree double *got_d = g_new (double, B *DISCO_EQUILIBRIUM_NEWTON_SIZE (O));
  g_autofree DiscoEquilibriumSample *got_samples = g_new (DiscoEquilibriumSample, B);
  DiscoEquilibriumParams params = {
    .tolerance = 1e-6,
    .gain = 2.5,
    .contraction_limit = 0.99,
    .leak = 0.5f,
    .max_iterations = 20,
    .softmax = TRUE,
  };
  float *d_state, *d_target, *d_dydc;
  double *d_control, *d_residual, *d_matrix, *d_work;
  DiscoEquilibriumSample *d_samples;
  guint *d_rows;
  gint *d_unit_status, *d_keep;

  g_test_summary ("residual and newton (softmax and squared error, fresh and reused "
                  "matrices) on the device against the CPU: keep flags, statuses and counts "
                  "equal, values within 1e-9 relative");
  SKIP_WITHOUT_DEVICE ();

  for (gsize s = 0; s < B; s++)
    {
      target[s * O + g_rand_int_range (rand, 0, O)] = 1.0f;
      samples[s] = (DiscoEquilibriumSample){
        .last_norm = s % 5 == 0 ? 1e-3 : INFINITY,
        .refresh = s % 3 == 0,
        .stale = s % 7 == 0,
        .iterations = s % 11 == 0 ? 20 : 1,
      };
      for (gsize o = 0; o < O; o++)
        control[s * O + o] = s % 13 == 0 ? 0.0 : g_rand_double_range (rand, -0.2, 0.2);
    }
  /* saved matrices and power-iteration iterates (not unit vectors: any
   * start converges) */
  for (gsize i = 0; i < B * DISCO_EQUILIBRIUM_NEWTON_SIZE (O); i++)
    newton_matrix[i] = g_rand_double_range (rand, -0.1, 0.1);
  unit_status[4] = DISCO_EQUILIBRIUM_ITERATION_LIMIT;
  d_rows = dev_upload (rows, A * sizeof (guint));
  d_state = dev_upload (state, B * ld * sizeof (float));
  d_target = dev_upload (target, B * O * sizeof (float));
  d_dydc = dev_upload (dydc, A * O * O * sizeof (float));
  d_control = dev_upload (control, B * O * sizeof (double));
  d_residual = dev_upload (residual, B * O * sizeof (double));
  d_matrix = dev_upload (newton_matrix, B * DISCO_EQUILIBRIUM_NEWTON_SIZE (O) * sizeof (double));
  d_samples = dev_upload (samples, B * sizeof (DiscoEquilibriumSample));
  d_unit_status = dev_upload (unit_status, A * sizeof (gint));
  d_keep = dev_upload (NULL, A * sizeof (gint));
  d_work = dev_upload (NULL, A * DISCO_EQUILIBRIUM_WORK (O) * sizeof (double));

  for (guint round = 0; round < 4; round++)
    {
      params.softmax = round < 2;
      disco_equilibrium_residual_cpu (&params, A, O, rows, unit_status, TRUE, state + readout, ld,
                                      target, control, residual, samples, work, keep);
      disco_equilibrium_residual_cuda (&params, A, O, d_rows, d_unit_status, TRUE,
                                       d_state + readout, ld, d_target, d_control, d_residual,
                                       d_samples, d_work, d_keep);
      dev_download (got_keep, d_keep, A * sizeof (gint));
      g_assert_cmpmem (got_keep, A * sizeof (gint), keep, A * sizeof (gint));
      dev_download (got_d, d_residual, B * O * sizeof (double));
      assert_close_doubles ("residual", got_d, residual, B * O, 1e-9);
      dev_download (got_state, d_state, B * ld * sizeof (float));
      assert_close_floats ("c_int", got_state, state, B * ld, 1e-12, 1e-6);

      disco_equilibrium_newton_cpu (&params, A, O, rows, round % 2 == 0, dydc, state + readout, ld,
                                    target, residual, control, newton_matrix, samples, work, keep);
      disco_equilibrium_newton_cuda (&params, A, O, d_rows, round % 2 == 0, d_dydc,
                                     d_state + readout, ld, d_target, d_residual, d_control,
                                     d_matrix, d_samples, d_work, d_keep);
      dev_download (got_keep, d_keep, A * sizeof (gint));
      g_assert_cmpmem (got_keep, A * sizeof (gint), keep, A * sizeof (gint));
      dev_download (got_d, d_control, B * O * sizeof (double));
      assert_close_doubles ("control", got_d, control, B * O, 1e-9);
      dev_download (got_d, d_matrix, B * DISCO_EQUILIBRIUM_NEWTON_SIZE (O) * sizeof (double));
      assert_close_doubles ("newton matrix", got_d, newton_matrix,
                            B * DISCO_EQUILIBRIUM_NEWTON_SIZE (O), 1e-9);
      dev_download (got_samples, d_samples, B * sizeof (DiscoEquilibriumSample));
      for (gsize s = 0; s < B; s++)
        {
          g_assert_cmpint (got_samples[s].status, ==, samples[s].status);
          g_assert_cmpuint (got_samples[s].iterations, ==, samples[s].iterations);
          g_assert_cmpuint (got_samples[s].evaluations, ==, samples[s].evaluations);
          g_assert_cmpint (got_samples[s].stale, ==, samples[s].stale);
          g_assert_cmpint (got_samples[s].refresh, ==, samples[s].refresh);
          g_assert_cmpfloat_with_epsilon (got_samples[s].contraction, samples[s].contraction,
                                          1e-6 * (1 + samples[s].contraction));
        }
    }

  disco_cuda_free (d_rows);
  disco_cuda_free (d_state);
  disco_cuda_free (d_target);
  disco_cuda_free (d_dydc);
  disco_cuda_free (d_control);
  disco_cuda_free (d_residual);
  disco_cuda_free (d_matrix);
  disco_cuda_free (d_samples);
  disco_cuda_free (d_unit_status);
  disco_cuda_free (d_keep);
  disco_cuda_free (d_work);
}

/* ---- 2. the solver on both tables ---- */

typedef struct
{
  float *state;                                         /* B × (N + O), host */
  DiscoEquilibriumSampleStats *open_loop, *closed_loop; /* B each */
} Solve;

/* Open then closed loop of @net on @ops: random feedback weights (each
 * sample's Q_l of Frobenius norm 1, as the feedback node normalises them),
 * one-hot targets, a leaky-PI controller with softmax error. */
static Solve
solve_on (const DiscoOps *ops, TestRandomNetwork *net, guint32 seed)
{
  const gsize B = net->n_samples, N = net->state_size;
  const gsize O = net->layers[net->n_layers - 1].n, ld = N + O;
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  g_autoptr (DiscoEquilibrium) eq = disco_equilibrium_new (net->n_layers, net->layers);
  g_autoptr (GError) error = NULL;
  const float *feedback[TEST_RANDOM_NETWORK_MAX_LAYERS] = { NULL };
  gpointer buffers[2 * TEST_RANDOM_NETWORK_MAX_LAYERS + 4];
  guint n_buffers = 0;
  g_autofree float *targets = g_new0 (float, B *O);
  g_autofree float *open_state = g_new (float, B *N);
  const DiscoEquilibriumConfig config = { .tolerance = 1e-6,
                                          .max_iterations = 20,
                                          .contraction_limit = 0.99 };
  const DiscoOpsController controller = {
    .softmax = TRUE, .k_p = 0.2f, .k_i = 1.0f, .leak = 2.0f, .tau = 0.02f
  };
  Solve solve = { g_new0 (float, B *ld), g_new (DiscoEquilibriumSampleStats, B),
                  g_new (DiscoEquilibriumSampleStats, B) };
  float *x, *state, *t;

#define TABLE_COPY(host, size)                                                                     \
  ({                                                                                               \
    gpointer buffer_ = ops->alloc (MAX ((size), 1), &error);                                       \
    g_assert_no_error (error);                                                                     \
    g_assert_true (ops->upload (buffer_, (host), (size), &error));                                 \
    buffers[n_buffers++] = buffer_;                                                                \
    buffer_;                                                                                       \
  })

  for (guint l = 0; l < net->n_layers; l++)
    {
      const DiscoOpsLayer *layer = &net->layers[l];
      const float *w = TABLE_COPY (net->weights[l], layer->n * layer->n_in * sizeof (float));
      const float *b = net->biases[l] == NULL || layer->kind == DISCO_OPS_LAYER_READOUT
                           ? NULL
                           : TABLE_COPY (net->biases[l], layer->n * sizeof (float));

      disco_equilibrium_set_parameters (eq, l, w, b);
      if (layer->kind == DISCO_OPS_LAYER_MICROCIRCUIT)
        {
          g_autofree float *q = random_floats (rand, B * O * layer->n, -1, 1);

          for (gsize s = 0; s < B; s++)
            {
              double norm = 0;
              for (gsize i = 0; i < O * layer->n; i++)
                norm += (double) q[s * O * layer->n + i] * q[s * O * layer->n + i];
              for (gsize i = 0; i < O * layer->n; i++)
                q[s * O * layer->n + i] /= sqrt (norm);
            }
          feedback[l] = TABLE_COPY (q, B * O * layer->n * sizeof (float));
        }
    }
  for (gsize s = 0; s < B; s++)
    targets[s * O + g_rand_int_range (rand, 0, O)] = 1.0f;
  x = TABLE_COPY (net->x, B * net->n_in * sizeof (float));
  t = TABLE_COPY (targets, B * O * sizeof (float));
  state = TABLE_COPY (solve.state, B * ld * sizeof (float));

  g_assert_true (disco_equilibrium_open_loop (eq, ops, B, x, state, solve.open_loop, &error));
  g_assert_no_error (error);
  /* The closed loop starts from the open-loop states (stride N) widened to
   * N + O with zero integrals. */
  g_assert_true (ops->download (open_state, state, B * N * sizeof (float), &error));
  for (gsize s = 0; s < B; s++)
    memcpy (solve.state + s * ld, open_state + s * N, N * sizeof (float));
  g_assert_true (ops->upload (state, solve.state, B * ld * sizeof (float), &error));
  g_assert_true (disco_equilibrium_closed_loop (eq, &config, &controller, t, feedback, B, state,
                                                solve.closed_loop, &error));
  g_assert_no_error (error);
  g_assert_true (ops->download (solve.state, state, B * ld * sizeof (float), &error));
  g_assert_true (ops->synchronize (&error));
  g_assert_no_error (error);
  for (guint i = 0; i < n_buffers; i++)
    ops->free (buffers[i]);
#undef TABLE_COPY
  return solve;
}

static void
check_solver (const gsize *sizes, guint n_sizes, gsize B)
{
  TestRandomNetwork *net = test_random_network_new (21, sizes, n_sizes, B, 0.5, 3.0);
  const gsize N = net->state_size, O = sizes[n_sizes - 1], ld = N + O;
  Solve cpu = solve_on (disco_ops_cpu (), net, 4);
  Solve cuda = solve_on (disco_ops_cuda (), net, 4);
  guint converged = 0, same_iterations = 0;

  for (gsize s = 0; s < B; s++)
    {
      g_assert_cmpint (cuda.open_loop[s].status, ==, cpu.open_loop[s].status);
      g_assert_cmpint (
          ABS ((gint) cuda.open_loop[s].iterations - (gint) cpu.open_loop[s].iterations), <=,
          (gint) n_sizes - 2);
      g_assert_cmpint (cuda.closed_loop[s].status, ==, cpu.closed_loop[s].status);
      g_assert_cmpint (
          ABS ((gint) cuda.closed_loop[s].iterations - (gint) cpu.closed_loop[s].iterations), <=,
          1);
      same_iterations += cuda.closed_loop[s].iterations == cpu.closed_loop[s].iterations;
      if (cpu.closed_loop[s].status != DISCO_EQUILIBRIUM_CONVERGED)
        continue;
      converged++;
      for (gsize j = 0; j < ld; j++)
        {
          const double a = cuda.state[s * ld + j], b = cpu.state[s * ld + j];

          if (isnan (a) || !(fabs (a - b) <= 1e-4 + 1e-3 * fabs (b)))
            g_error ("sample %" G_GSIZE_FORMAT " entry %" G_GSIZE_FORMAT ": cuda %.9g, "
                     "cpu %.9g",
                     s, j, a, b);
        }
    }
  /* The case must exercise the closed loop, not only its failures. */
  g_assert_cmpuint (converged, >=, B / 2);
  g_test_message ("%u layers, B = %" G_GSIZE_FORMAT ": %u closed loops converged, %u with "
                  "the same Newton iterations on both tables",
                  n_sizes - 1, B, converged, same_iterations);
  for (Solve *solve = &cpu; solve != NULL; solve = solve == &cpu ? &cuda : NULL)
    {
      g_free (solve->state);
      g_free (solve->open_loop);
      g_free (solve->closed_loop);
    }
  test_random_network_free (net);
}

static void
test_solver_one_layer (void)
{
  const gsize sizes[] = { 30, 40, 10 };

  g_test_summary ("30–40–10 at batch 24, open then closed loop: CUDA table against host "
                  "table (statuses equal, Newton iterations ±1, states within "
                  "1e-4 + 1e-3·|cpu|)");
  SKIP_WITHOUT_DEVICE ();
  check_solver (sizes, G_N_ELEMENTS (sizes), 24);
}

static void
test_solver_two_layers (void)
{
  const gsize sizes[] = { 30, 40, 40, 10 };

  g_test_summary ("30–40–40–10 at batch 24: the Jacobian descends through a weight matrix "
                  "and Newton matrices are reused; likewise");
  SKIP_WITHOUT_DEVICE ();
  check_solver (sizes, G_N_ELEMENTS (sizes), 24);
}

static void
test_solver_3x256 (void)
{
  const gsize sizes[] = { 784, 256, 256, 256, 10 };

  g_test_summary ("784–256–256–256–10 at batch 100, the model's minibatch; likewise");
  SKIP_WITHOUT_DEVICE ();
  check_solver (sizes, G_N_ELEMENTS (sizes), 100);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  gpu_test_init ();

  g_test_add_func ("/disco/cuda/equilibrium/copies-and-products", test_copies_and_products);
  g_test_add_func ("/disco/cuda/equilibrium/units", test_units);
  g_test_add_func ("/disco/cuda/equilibrium/newton-step", test_newton_step);
  g_test_add_func ("/disco/cuda/equilibrium/solver-one-layer", test_solver_one_layer);
  g_test_add_func ("/disco/cuda/equilibrium/solver-two-layers", test_solver_two_layers);
  g_test_add_func ("/disco/cuda/equilibrium/solver-3x256", test_solver_3x256);

  return g_test_run ();
}
