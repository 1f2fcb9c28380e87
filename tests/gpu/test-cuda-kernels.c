/* test-cuda-kernels.c: every CUDA kernel against its CPU reference.
 *
 * Each case draws seeded random inputs for several odd shapes (1×1, sizes
 * that are not multiples of 32, row strides wider than the rows), runs the
 * CPU reference and the CUDA kernel, and requires
 *
 *   |cuda − cpu| ≤ atol + rtol·|cpu|       (a NaN anywhere fails)
 *
 * with the tolerance stated and explained at each case.  Without a usable
 * CUDA device every kernel case calls g_test_skip() with the reason; the
 * device-selection cases run everywhere, since their point is what happens
 * without a GPU.
 */

#include "disco-kernels-cuda.h"
#include "disco-kernels.h"
#include "disco-ode-clock.h"
#include "disco/disco.h"

#include <float.h>
#include <math.h>
#include <string.h>
#include "gpu-test-common.h"

/* Copies checked by gpu-test-common.c; sizes here in floats. */
#define dev_upload(host, n) ((float *) gpu_test_upload ((host), (n) * sizeof (float)))
#define dev_download gpu_test_download

typedef struct
{
  gsize rows, cols, ld;
} Shape;

/* Odd shapes: a single element, widths below, at and past a warp and a
 * block, and strides wider than the rows (a layer inside the packed state). */
static const Shape shapes[] = {
  { 1, 1, 1 }, { 3, 31, 33 }, { 5, 32, 32 }, { 7, 257, 300 }, { 100, 256, 256 }, { 33, 1000, 1003 },
};

/* ---- device helpers: every call is checked, a failure fails the test ---- */

/* Compares a strided R×C block; reports the first violation. */
static void
assert_close (const char *what, const float *cuda, const float *cpu, gsize rows, gsize cols,
              gsize ld, double atol, double rtol)
{
  for (gsize r = 0; r < rows; r++)
    for (gsize c = 0; c < cols; c++)
      {
        const double a = cuda[r * ld + c], b = cpu[r * ld + c];

        if (isinf (b) && a == b)
          continue;
        if (isnan (a) || isnan (b) || !(fabs (a - b) <= atol + rtol * fabs (b)))
          g_error ("%s: element [%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT "] of %" G_GSIZE_FORMAT
                   "×%" G_GSIZE_FORMAT ": cuda %.9g, cpu %.9g (|Δ| %.3g > %.3g)",
                   what, r, c, rows, cols, a, b, fabs (a - b), atol + rtol * fabs (b));
      }
}

/* ---- GEMM ---- */

/* The reference bound of a float32 dot product of length k summed in any
 * order: |Δ| ≤ k·ε·Σ|a_i b_i| (Higham, Accuracy and Stability, §3.1); twice
 * that covers the CPU's own rounding too.  Σ|a||b| is the GEMM of the
 * absolute values, computed here with the CPU reference. */
static void
check_gemm (GRand *rand, gboolean ta, gboolean tb, gsize m, gsize n, gsize k, gsize pad, float beta,
            gsize batch, gsize stride_a_factor)
{
  const gsize lda = (ta ? m : k) + pad, ldb = (tb ? k : n) + pad, ldc = n + pad;
  const gsize a_len = (ta ? k : m) * lda, b_len = (tb ? n : k) * ldb, c_len = m * ldc;
  const gsize stride_a = a_len * stride_a_factor, stride_b = b_len, stride_c = c_len;
  const gsize a_total = stride_a_factor ? a_len * batch : a_len;
  g_autofree float *a = random_floats (rand, a_total, -1, 1);
  g_autofree float *b = random_floats (rand, b_len * batch, -1, 1);
  g_autofree float *c = random_floats (rand, c_len * batch, -1, 1);
  g_autofree float *abs_a = g_new (float, a_total);
  g_autofree float *abs_b = g_new (float, b_len *batch);
  g_autofree float *bound = g_new0 (float, c_len *batch);
  g_autofree float *ref = g_memdup2 (c, c_len * batch * sizeof (float));
  g_autofree float *got = g_new (float, c_len *batch);
  g_autofree char *what = g_strdup_printf ("gemm%s %s%s m=%zu n=%zu k=%zu beta=%g batch=%zu",
                                           batch > 1 ? "_strided_batched" : "", ta ? "T" : "N",
                                           tb ? "T" : "N", m, n, k, beta, batch);
  float *da = dev_upload (a, a_total), *db = dev_upload (b, b_len * batch);
  float *dc = dev_upload (c, c_len * batch);

  for (gsize i = 0; i < a_total; i++)
    abs_a[i] = fabsf (a[i]);
  for (gsize i = 0; i < b_len * batch; i++)
    abs_b[i] = fabsf (b[i]);

  if (batch > 1)
    {
      disco_gemm_strided_batched_cpu (ta, tb, m, n, k, 0.75f, a, lda, stride_a, b, ldb, stride_b,
                                      beta, ref, ldc, stride_c, batch);
      disco_gemm_strided_batched_cpu (ta, tb, m, n, k, 1.0f, abs_a, lda, stride_a, abs_b, ldb,
                                      stride_b, 0.0f, bound, ldc, stride_c, batch);
      disco_gemm_strided_batched_cuda (ta, tb, m, n, k, 0.75f, da, lda, stride_a, db, ldb, stride_b,
                                       beta, dc, ldc, stride_c, batch);
    }
  else
    {
      disco_gemm_cpu (ta, tb, m, n, k, 0.75f, a, lda, b, ldb, beta, ref, ldc);
      disco_gemm_cpu (ta, tb, m, n, k, 1.0f, abs_a, lda, abs_b, ldb, 0.0f, bound, ldc);
      disco_gemm_cuda (ta, tb, m, n, k, 0.75f, da, lda, db, ldb, beta, dc, ldc);
    }
  dev_download (got, dc, c_len * batch * sizeof (float));

  for (gsize i = 0; i < batch; i++)
    for (gsize r = 0; r < m; r++)
      for (gsize col = 0; col < n; col++)
        {
          const gsize at = i * stride_c + r * ldc + col;
          const double tol =
              2.0 * (k + 2) * FLT_EPSILON * (0.75 * bound[at] + fabs (beta * c[at])) + 1e-30;

          if (isnan (got[at]) || !(fabs ((double) got[at] - ref[at]) <= tol))
            g_error ("%s: C%zu[%zu, %zu]: cuda %.9g, cpu %.9g, bound %.3g", what, i, r, col,
                     got[at], ref[at], tol);
        }
  /* Padding columns of C are never written. */
  if (pad > 0)
    g_assert_cmpfloat (got[n], ==, c[n]);

  disco_cuda_free (da);
  disco_cuda_free (db);
  disco_cuda_free (dc);
}

static void
test_gemm (void)
{
  static const gsize sizes[][3] = {
    { 1, 1, 1 }, { 100, 256, 784 }, { 100, 10, 256 }, { 37, 33, 65 }, { 5, 257, 31 }, { 64, 64, 1 },
  };
  g_autoptr (GRand) rand = g_rand_new_with_seed (1);

  g_test_summary ("cuBLAS GEMM (row-major through swapped operands) matches OpenBLAS for all "
                  "transpose flags, padded strides and beta 0 or not, within 2(k+2)·ε·Σ|a||b|");
  SKIP_WITHOUT_DEVICE ();

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    for (int t = 0; t < 4; t++)
      check_gemm (rand, t & 1, t >> 1, sizes[s][0], sizes[s][1], sizes[s][2], s % 2 ? 3 : 0,
                  s % 3 ? 0.0f : 0.5f, 1, 1);
}

static void
test_launch_count (void)
{
  g_autoptr (GError) error = NULL;
  float *buffer;
  guint64 before;

  g_test_summary ("The launch count goes up by one per kernel launch and per cuBLAS call "
                  "(what disco-bench-train reports per minibatch)");
  SKIP_WITHOUT_DEVICE ();

  buffer = disco_cuda_alloc (48 * sizeof (float), &error);
  g_assert_no_error (error);
  before = disco_cuda_get_launch_count ();
  disco_fill_cuda (32, 1.0f, buffer);
  g_assert_cmpuint (disco_cuda_get_launch_count (), ==, before + 1);
  disco_gemm_cuda (FALSE, FALSE, 4, 4, 4, 1.0f, buffer, 4, buffer + 16, 4, 0.0f, buffer + 32, 4);
  g_assert_cmpuint (disco_cuda_get_launch_count (), ==, before + 2);
  g_assert_true (disco_cuda_synchronize (&error));
  g_assert_no_error (error);
  disco_cuda_free (buffer);
}

static void
test_gemm_strided_batched (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (2);

  g_test_summary ("The strided-batched GEMM matches one CPU GEMM per matrix, also with one "
                  "shared A (stride 0), within the GEMM bound");
  SKIP_WITHOUT_DEVICE ();

  check_gemm (rand, FALSE, FALSE, 10, 33, 65, 1, 0.0f, 7, 1);
  check_gemm (rand, TRUE, FALSE, 17, 5, 40, 0, 0.25f, 3, 0);
  check_gemm (rand, FALSE, TRUE, 1, 1, 1, 0, 0.0f, 100, 1);
}

/* ---- element-wise ---- */

static const DiscoSoftRectifier rects[] = {
  { 1.0f, 1.0f, 0.0f },
  { 5.0f, 1.0f, 3.0f },
  { 1.0f, 2.5f, -0.5f },
};

typedef void (*SoftrectFunc) (const DiscoSoftRectifier *, gsize, gsize, const float *, gsize,
                              float *, gsize);

/* CUDA's expf and logf are within 2 and 1 ulp of the correctly rounded
 * value, glibc's within 1: φ and φ′ combine three such calls, so 4e-6
 * (≈ 32 ulp) relative leaves room without hiding a wrong formula.  φ⁻¹
 * = θ + log(expm1(y/s))/β passes through 0 where expm1 = 1, so there its
 * error is absolute: a few ε over β. */
static void
check_softrect (const char *what, SoftrectFunc cpu, SoftrectFunc cuda, double lo, double hi,
                gboolean inverse)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (3);

  for (guint r = 0; r < G_N_ELEMENTS (rects); r++)
    for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
      {
        const Shape sh = shapes[s];
        const gsize len = sh.rows * sh.ld;
        const double scale = inverse ? rects[r].scale : 1.0;
        g_autofree float *x = random_floats (rand, len, lo * scale, hi * scale);
        g_autofree float *ref = g_new0 (float, len);
        g_autofree float *got = g_new0 (float, len);
        float *dx = dev_upload (x, len), *dy = dev_upload (ref, len);

        cpu (&rects[r], sh.rows, sh.cols, x, sh.ld, ref, sh.ld);
        cuda (&rects[r], sh.rows, sh.cols, dx, sh.ld, dy, sh.ld);
        dev_download (got, dy, len * sizeof (float));
        assert_close (what, got, ref, sh.rows, sh.cols, sh.ld,
                      inverse ? 8.0 * FLT_EPSILON / rects[r].sharpness + 1e-30 : 1e-30, 4e-6);
        disco_cuda_free (dx);
        disco_cuda_free (dy);
      }
}

static void
test_softrect (void)
{
  g_test_summary ("φ, φ′ and φ⁻¹ on the device (the same inline source as the CPU) match the "
                  "CPU within 4e-6 relative (maths-library rounding)");
  SKIP_WITHOUT_DEVICE ();

  check_softrect ("softrect_forward", disco_softrect_forward_cpu, disco_softrect_forward_cuda, -30,
                  30, FALSE);
  check_softrect ("softrect_derivative", disco_softrect_derivative_cpu,
                  disco_softrect_derivative_cuda, -30, 30, FALSE);
  /* Rates from 1e-3 to 60 scale units: both branches of φ⁻¹ (linear above 50). */
  check_softrect ("softrect_inverse", disco_softrect_inverse_cpu, disco_softrect_inverse_cuda, 1e-3,
                  60, TRUE);
}

static void
test_axpy_rows (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (4);

  g_test_summary ("y += alpha[r]·x is bit-identical to the CPU (one multiply, one add, no FMA)");
  SKIP_WITHOUT_DEVICE ();

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      const Shape sh = shapes[s];
      const gsize len = sh.rows * sh.ld;
      g_autofree float *alpha = random_floats (rand, sh.rows, -2, 2);
      g_autofree float *x = random_floats (rand, len, -5, 5);
      g_autofree float *y = random_floats (rand, len, -5, 5);
      g_autofree float *got = g_new (float, len);
      float *da = dev_upload (alpha, sh.rows), *dx = dev_upload (x, len), *dy = dev_upload (y, len);

      disco_axpy_rows_cpu (sh.rows, sh.cols, alpha, x, sh.ld, y, sh.ld);
      disco_axpy_rows_cuda (sh.rows, sh.cols, da, dx, sh.ld, dy, sh.ld);
      dev_download (got, dy, len * sizeof (float));
      assert_close ("axpy_rows", got, y, sh.rows, sh.cols, sh.ld, 0.0, 0.0);
      disco_cuda_free (da);
      disco_cuda_free (dx);
      disco_cuda_free (dy);
    }
}

static void
test_microcircuit_rhs (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (5);
  static const gsize sizes[][2] = { { 1, 1 }, { 3, 31 }, { 100, 256 }, { 9, 257 } };
  const float tau_e = 0.02f, tau_i = 0.005f;

  g_test_summary ("One microcircuit layer's derivatives and rates match the CPU's fast kernel, "
                  "with and without bias and a row map, within 1e-5 of the terms' size");
  SKIP_WITHOUT_DEVICE ();

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    for (int with_bias = 0; with_bias < 2; with_bias++)
      {
        const gsize rows = sizes[s][0], n = sizes[s][1];
        const gsize ldu = 2 * n + 3, ldd = n + 1, ldr = n + 2, ldf = 2 * n + 1;
        const gsize drive_rows_n = rows + 2;
        g_autofree float *u = random_floats (rand, rows * ldu, -4, 6);
        g_autofree float *drive = random_floats (rand, drive_rows_n * ldd, -3, 3);
        g_autofree float *bias = random_floats (rand, n, -1, 1);
        g_autofree guint *map = g_new (guint, rows);
        g_autofree float *rate = g_new0 (float, rows *ldr);
        g_autofree float *dudt = g_new0 (float, rows *ldf);
        g_autofree float *got_rate = g_new0 (float, rows *ldr);
        g_autofree float *got_dudt = g_new0 (float, rows *ldf);
        g_autofree float *tol = g_new0 (float, rows *ldf);
        float *du = dev_upload (u, rows * ldu), *dd = dev_upload (drive, drive_rows_n * ldd);
        float *db = dev_upload (bias, n), *dr = dev_upload (rate, rows * ldr);
        float *df = dev_upload (dudt, rows * ldf);
        guint *dmap;
        g_autoptr (GError) error = NULL;

        for (gsize r = 0; r < rows; r++)
          map[r] = (guint) ((r * 7 + 1) % drive_rows_n);
        dmap = disco_cuda_alloc (rows * sizeof (guint), &error);
        g_assert_no_error (error);
        g_assert_true (disco_cuda_copy_to_device (dmap, map, rows * sizeof (guint), &error));

        disco_microcircuit_rhs_cpu (&rects[1], &rects[0], tau_e, tau_i, rows, n, u, ldu, drive, ldd,
                                    map, with_bias ? bias : NULL, rate, ldr, dudt, ldf);
        disco_microcircuit_rhs_cuda (&rects[1], &rects[0], tau_e, tau_i, rows, n, du, ldu, dd, ldd,
                                     dmap, with_bias ? db : NULL, dr, ldr, df, ldf);
        dev_download (got_rate, dr, rows * ldr * sizeof (float));
        dev_download (got_dudt, df, rows * ldf * sizeof (float));

        /* The CPU's φ is a polynomial within 4 ulp of the reference the
         * device uses; the derivative subtracts terms of size |u|, |d|, φ, so
         * its error is relative to their sum, not to the result. */
        assert_close ("microcircuit_rhs rate", got_rate, rate, rows, n, ldr, 1e-30, 4e-6);
        for (gsize r = 0; r < rows; r++)
          for (gsize j = 0; j < n; j++)
            {
              const float *ur = u + r * ldu, *dr_row = drive + map[r] * ldd;
              const double size_e =
                  fabs (ur[j]) + fabs (dr_row[j]) + fabs (bias[j]) + fabs (rate[0]) + 10.0;
              const double size_i = fabs (ur[n + j]) + 10.0 * rects[1].scale;

              g_assert_cmpfloat_with_epsilon (got_dudt[r * ldf + j], dudt[r * ldf + j],
                                              1e-5 * size_e / tau_e);
              g_assert_cmpfloat_with_epsilon (got_dudt[r * ldf + n + j], dudt[r * ldf + n + j],
                                              1e-5 * size_i / tau_i);
            }
        disco_cuda_free (du);
        disco_cuda_free (dd);
        disco_cuda_free (db);
        disco_cuda_free (dr);
        disco_cuda_free (df);
        disco_cuda_free (dmap);
      }
}

/* ---- Runge-Kutta ---- */

static void
check_rk_combine (gboolean fused)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (fused ? 7 : 6);

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (guint n_stages = 0; n_stages <= 7; n_stages++)
      for (int mode = 0; mode < 3; mode++) /* 0: y0, 1: no y0, 2: in place */
        {
          const Shape sh = shapes[s];
          const gsize len = sh.rows * sh.ld;
          g_autofree float *y0 = random_floats (rand, len, -3, 3);
          g_autofree float *h = random_floats (rand, sh.rows, 1e-4, 1e-2);
          g_autofree float *coeffs = random_floats (rand, 7, -10, 10);
          g_autofree float *out = g_new0 (float, len);
          g_autofree float *rate = g_new0 (float, len);
          g_autofree float *got = g_new0 (float, len);
          g_autofree float *got_rate = g_new0 (float, len);
          float *k_host[7], *k_dev[7];
          float *dy0 = dev_upload (y0, len), *dh = dev_upload (h, sh.rows);
          float *dout = mode == 2 ? dy0 : dev_upload (out, len), *drate = dev_upload (rate, len);
          float *ref_out = mode == 2 ? y0 : out;

          for (guint i = 0; i < 7; i++)
            {
              k_host[i] = random_floats (rand, len, -100, 100);
              k_dev[i] = dev_upload (k_host[i], len);
            }

          if (fused)
            {
              disco_rk_combine_softrect_cpu (&rects[1], sh.rows, sh.cols, sh.ld,
                                             mode == 1 ? NULL : y0, h, n_stages, coeffs,
                                             (const float *const *) k_host, ref_out, rate, sh.ld);
              disco_rk_combine_softrect_cuda (&rects[1], sh.rows, sh.cols, sh.ld,
                                              mode == 1 ? NULL : dy0, dh, n_stages, coeffs,
                                              (const float *const *) k_dev, dout, drate, sh.ld);
            }
          else
            {
              disco_rk_combine_cpu (sh.rows, sh.cols, sh.ld, mode == 1 ? NULL : y0, h, n_stages,
                                    coeffs, (const float *const *) k_host, ref_out);
              disco_rk_combine_cuda (sh.rows, sh.cols, sh.ld, mode == 1 ? NULL : dy0, dh, n_stages,
                                     coeffs, (const float *const *) k_dev, dout);
            }
          dev_download (got, dout, len * sizeof (float));
          /* Same operations in the same order, no FMA (-fmad=false): the
           * stage sums agree to the bit. */
          assert_close (fused ? "rk_combine_softrect out" : "rk_combine", got, ref_out, sh.rows,
                        sh.cols, sh.ld, 0.0, 0.0);
          if (fused)
            {
              dev_download (got_rate, drate, len * sizeof (float));
              assert_close ("rk_combine_softrect rate", got_rate, rate, sh.rows, sh.cols, sh.ld,
                            1e-30, 4e-6);
            }

          for (guint i = 0; i < 7; i++)
            {
              g_free (k_host[i]);
              disco_cuda_free (k_dev[i]);
            }
          disco_cuda_free (dy0);
          disco_cuda_free (dh);
          if (mode != 2)
            disco_cuda_free (dout);
          disco_cuda_free (drate);
        }
}

static void
test_rk_combine (void)
{
  g_test_summary ("The stage combination y0 + h·Σ c_s k_s (0 to 7 stages, with, without and "
                  "in place of y0) is bit-identical to the CPU");
  SKIP_WITHOUT_DEVICE ();
  check_rk_combine (FALSE);
}

static void
test_rk_combine_softrect (void)
{
  g_test_summary ("The fused combination + φ gives the combination bit-identically and φ "
                  "within 4e-6 relative");
  SKIP_WITHOUT_DEVICE ();
  check_rk_combine (TRUE);
}

/* ---- row reductions ---- */

/* Both sides sum in double and round once to float; only the order of the
 * double sum differs, so the floats agree to within one rounding: 2ε. */
#define REDUCTION_RTOL (2.0 * FLT_EPSILON)

static void
test_rms_and_softmax (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (8);

  g_test_summary ("Row RMS (double sums) agrees within 2ε; row softmax within 4e-6 (expf)");
  SKIP_WITHOUT_DEVICE ();

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      const Shape sh = shapes[s];
      const gsize len = sh.rows * sh.ld;
      g_autofree float *x = random_floats (rand, len, -20, 20);
      g_autofree float *rms = g_new (float, sh.rows), *got_rms = g_new (float, sh.rows);
      g_autofree float *y = g_new0 (float, len), *got_y = g_new0 (float, len);
      float *dx = dev_upload (x, len), *drms = dev_upload (NULL, sh.rows);
      float *dy = dev_upload (y, len);

      disco_rms_rows_cpu (sh.rows, sh.cols, x, sh.ld, rms);
      disco_rms_rows_cuda (sh.rows, sh.cols, dx, sh.ld, drms);
      dev_download (got_rms, drms, sh.rows * sizeof (float));
      assert_close ("rms_rows", got_rms, rms, sh.rows, 1, 1, 0.0, REDUCTION_RTOL);

      disco_softmax_rows_cpu (sh.rows, sh.cols, x, sh.ld, y, sh.ld);
      disco_softmax_rows_cuda (sh.rows, sh.cols, dx, sh.ld, dy, sh.ld);
      dev_download (got_y, dy, len * sizeof (float));
      assert_close ("softmax_rows", got_y, y, sh.rows, sh.cols, sh.ld, 1e-30, 4e-6);

      /* In place, as the controller computes it. */
      disco_softmax_rows_cuda (sh.rows, sh.cols, dx, sh.ld, dx, sh.ld);
      dev_download (got_y, dx, len * sizeof (float));
      assert_close ("softmax_rows in place", got_y, y, sh.rows, sh.cols, sh.ld, 1e-30, 4e-6);

      disco_cuda_free (dx);
      disco_cuda_free (drms);
      disco_cuda_free (dy);
    }
}

/* Tsit5's error weights b − b̂ (disco-ode.c), rounded to float. */
static const float tsit5_e[7] = {
  0.001780011052226,  0.000816434459657, -0.007880878010262, 0.144711007173263,
  -0.582357165452555, 0.458082105929187, -1.0f / 66.0f,
};

static void
test_error_norms (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (9);
  const float atol = 1e-6f, rtol = 1e-3f;

  g_test_summary ("The scaled error norm, plain and fused with the embedded estimate, agrees "
                  "within 2ε; a NaN gives +inf on both");
  SKIP_WITHOUT_DEVICE ();

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      const Shape sh = shapes[s];
      const gsize len = sh.rows * sh.ld;
      g_autofree float *y0 = random_floats (rand, len, -2, 2);
      g_autofree float *y1 = random_floats (rand, len, -2, 2);
      g_autofree float *err = random_floats (rand, len, -1e-3, 1e-3);
      g_autofree float *h = random_floats (rand, sh.rows, 1e-4, 1e-2);
      g_autofree float *norm = g_new (float, sh.rows), *got = g_new (float, sh.rows);
      float *k_host[7], *k_dev[7];
      float *dy0, *dy1, *derr, *dh, *dnorm;

      /* A NaN candidate falls back to |y0|; a NaN error makes the row +inf. */
      y1[0] = NAN;
      if (sh.rows > 2)
        err[2 * sh.ld] = NAN;
      dy0 = dev_upload (y0, len);
      dy1 = dev_upload (y1, len);
      derr = dev_upload (err, len);
      dh = dev_upload (h, sh.rows);
      dnorm = dev_upload (NULL, sh.rows);

      disco_rk_error_norm_cpu (sh.rows, sh.cols, sh.ld, atol, rtol, y0, y1, err, norm);
      disco_rk_error_norm_cuda (sh.rows, sh.cols, sh.ld, atol, rtol, dy0, dy1, derr, dnorm);
      dev_download (got, dnorm, sh.rows * sizeof (float));
      assert_close ("rk_error_norm", got, norm, sh.rows, 1, 1, 0.0, REDUCTION_RTOL);

      for (guint i = 0; i < 7; i++)
        {
          k_host[i] = random_floats (rand, len, -1, 1);
          k_dev[i] = dev_upload (k_host[i], len);
        }
      disco_rk_embedded_error_norm_cpu (sh.rows, sh.cols, sh.ld, atol, rtol, y0, y1, h, 7, tsit5_e,
                                        (const float *const *) k_host, norm);
      disco_rk_embedded_error_norm_cuda (sh.rows, sh.cols, sh.ld, atol, rtol, dy0, dy1, dh, 7,
                                         tsit5_e, (const float *const *) k_dev, dnorm);
      dev_download (got, dnorm, sh.rows * sizeof (float));
      assert_close ("rk_embedded_error_norm", got, norm, sh.rows, 1, 1, 0.0, REDUCTION_RTOL);

      for (guint i = 0; i < 7; i++)
        {
          g_free (k_host[i]);
          disco_cuda_free (k_dev[i]);
        }
      disco_cuda_free (dy0);
      disco_cuda_free (dy1);
      disco_cuda_free (derr);
      disco_cuda_free (dh);
      disco_cuda_free (dnorm);
    }
}

static void
test_steady_state (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (10);
  const float atol = 1e-6f, rtol = 1e-3f;

  g_test_summary ("The steady-state flags match the CPU exactly for rows clearly at rest or "
                  "clearly moving (a factor 2 either side of the threshold)");
  SKIP_WITHOUT_DEVICE ();

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      const Shape sh = shapes[s];
      const gsize len = sh.rows * sh.ld;
      g_autofree float *y = random_floats (rand, len, -3, 3);
      g_autofree float *f = random_floats (rand, len, -1, 1);
      g_autofree gint *ref = g_new (gint, sh.rows), *got = g_new (gint, sh.rows);
      float rms_y, rms_f;
      float *dy, *df;
      gint *dflags;
      g_autoptr (GError) error = NULL;

      /* Scale each row of f to 0.5 or 2 times its threshold. */
      for (gsize r = 0; r < sh.rows; r++)
        {
          float factor;

          disco_rms_rows_cpu (1, sh.cols, y + r * sh.ld, sh.ld, &rms_y);
          disco_rms_rows_cpu (1, sh.cols, f + r * sh.ld, sh.ld, &rms_f);
          factor = (r % 2 ? 0.5f : 2.0f) * (atol + rtol * rms_y) / rms_f;
          for (gsize c = 0; c < sh.cols; c++)
            f[r * sh.ld + c] *= factor;
        }
      dy = dev_upload (y, len);
      df = dev_upload (f, len);
      dflags = disco_cuda_alloc (sh.rows * sizeof (gint), &error);
      g_assert_no_error (error);

      disco_steady_state_rows_cpu (sh.rows, sh.cols, atol, rtol, f, sh.ld, y, sh.ld, ref);
      disco_steady_state_rows_cuda (sh.rows, sh.cols, atol, rtol, df, sh.ld, dy, sh.ld, dflags);
      dev_download ((float *) got, dflags, sh.rows * sizeof (gint));
      for (gsize r = 0; r < sh.rows; r++)
        {
          g_assert_cmpint (ref[r], ==, r % 2 ? 1 : 0);
          g_assert_cmpint (got[r], ==, ref[r]);
        }
      disco_cuda_free (dy);
      disco_cuda_free (df);
      disco_cuda_free (dflags);
    }
}

/* ---- step-size control ---- */

static void
test_clock_advance (void)
{
  static const DiscoOdeController controllers[] = {
    DISCO_ODE_CONTROLLER_DIFFRAX,
    DISCO_ODE_CONTROLLER_TEXTBOOK,
    DISCO_ODE_CONTROLLER_CONSTANT,
  };
  g_autoptr (GRand) rand = g_rand_new_with_seed (11);
  const gsize n = 1000;

  g_test_summary ("40 steps of per-sample PID control on the device (one source with the CPU, "
                  "disco-ode-clock.h) keep the same steps, counts and dtmin flags, and times "
                  "within 1e-12 relative (the device's double pow is within 2 ulp)");
  SKIP_WITHOUT_DEVICE ();

  for (guint ci = 0; ci < G_N_ELEMENTS (controllers); ci++)
    {
      DiscoOdeConfig config;
      DiscoOdeClockParams params;
      g_autofree DiscoOdeClock *clocks = g_new0 (DiscoOdeClock, n);
      g_autofree DiscoOdeClock *got = g_new0 (DiscoOdeClock, n);
      g_autofree gint *keep = g_new (gint, n), *got_keep = g_new (gint, n);
      g_autofree float *norms = g_new (float, n);
      DiscoOdeClock *dclocks;
      float *dnorms;
      gint *dkeep;
      g_autoptr (GError) error = NULL;

      disco_ode_config_init (&config);
      config.controller = controllers[ci];
      disco_ode_clock_params_init (&params, &config, 5.0);
      for (gsize i = 0; i < n; i++)
        clocks[i] = (DiscoOdeClock){
          .t = 0.0,
          .t_next = config.dt0 * (1 + i % 5),
          .inv_error_prev = 1.0,
          .inv_error_prev_prev = 1.0,
        };
      dclocks = disco_cuda_alloc (n * sizeof (DiscoOdeClock), &error);
      g_assert_no_error (error);
      g_assert_true (
          disco_cuda_copy_to_device (dclocks, clocks, n * sizeof (DiscoOdeClock), &error));
      dnorms = dev_upload (NULL, n);
      dkeep = disco_cuda_alloc (n * sizeof (gint), &error);
      g_assert_no_error (error);

      for (int step = 0; step < 40; step++)
        {
          for (gsize i = 0; i < n; i++)
            {
              /* Mostly accepted, some rejected, some perfect (0) and some
               * failed (+inf) steps. */
              const guint32 pick = g_rand_int_range (rand, 0, 20);

              norms[i] = pick == 0 ? 0.0f
                         : pick == 1
                             ? INFINITY
                             : (float) g_rand_double_range (rand, 0.01, pick < 5 ? 4.0 : 0.99);
            }
          g_assert_true (disco_cuda_copy_to_device (dnorms, norms, n * sizeof (float), &error));
          disco_ode_clock_advance_cpu (&params, n, clocks, norms, keep);
          disco_ode_clock_advance_cuda (&params, n, dclocks, dnorms, dkeep);
          dev_download ((float *) got_keep, dkeep, n * sizeof (gint));
          dev_download ((float *) got, dclocks, n * sizeof (DiscoOdeClock));
          for (gsize i = 0; i < n; i++)
            {
              g_assert_cmpint (got_keep[i], ==, keep[i]);
              g_assert_cmpuint (got[i].n_accepted, ==, clocks[i].n_accepted);
              g_assert_cmpuint (got[i].n_rejected, ==, clocks[i].n_rejected);
              g_assert_cmpint (got[i].at_dtmin, ==, clocks[i].at_dtmin);
              g_assert_cmpfloat_with_epsilon (got[i].t, clocks[i].t, 1e-12 * (1 + clocks[i].t));
              g_assert_cmpfloat_with_epsilon (got[i].t_next, clocks[i].t_next,
                                              1e-12 * (1 + clocks[i].t_next));
              g_assert_cmpfloat_with_epsilon (got[i].inv_error_prev, clocks[i].inv_error_prev,
                                              1e-12 * fabs (clocks[i].inv_error_prev));
            }
          /* Keep the device on the CPU's trajectory, so one rounding
           * difference cannot grow over the 40 steps. */
          g_assert_true (
              disco_cuda_copy_to_device (dclocks, clocks, n * sizeof (DiscoOdeClock), &error));
        }
      disco_cuda_free (dclocks);
      disco_cuda_free (dnorms);
      disco_cuda_free (dkeep);
    }
}

/* ---- Adam ---- */

static void
test_adam (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (12);
  const gsize sizes[] = { 1, 31, 257, 784 * 256 + 3 };

  g_test_summary ("Five Adam steps on the device are bit-identical to the CPU (scalars "
                  "derived on the host alike; division and sqrtf correctly rounded)");
  SKIP_WITHOUT_DEVICE ();

  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    {
      const gsize n = sizes[s];
      g_autofree float *p = random_floats (rand, n, -1, 1);
      g_autofree float *m = g_new0 (float, n), *v = g_new0 (float, n);
      g_autofree float *got = g_new (float, n);
      float *dp = dev_upload (p, n), *dm = dev_upload (m, n), *dv = dev_upload (v, n);

      for (guint64 step = 1; step <= 5; step++)
        {
          g_autofree float *g = random_floats (rand, n, -1e-2, 1e-2);
          float *dg = dev_upload (g, n);

          disco_adam_update_cpu (n, 1e-3, 0.9, 0.999, 1e-8, step, p, g, m, v);
          disco_adam_update_cuda (n, 1e-3, 0.9, 0.999, 1e-8, step, dp, dg, dm, dv);
          disco_cuda_free (dg);
        }
      dev_download (got, dp, n * sizeof (float));
      assert_close ("adam p", got, p, 1, n, n, 0.0, 0.0);
      dev_download (got, dv, n * sizeof (float));
      assert_close ("adam v", got, v, 1, n, n, 0.0, 0.0);
      disco_cuda_free (dp);
      disco_cuda_free (dm);
      disco_cuda_free (dv);
    }
}

/* ---- errors, backend, device selection ---- */

/* disco_cuda_check() from a thread of its own: TRUE when it found nothing. */
static gpointer
check_in_thread (gpointer data G_GNUC_UNUSED)
{
  g_autoptr (GError) error = NULL;

  return GINT_TO_POINTER (disco_cuda_check (&error));
}

static void
test_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *description = NULL;
  gpointer huge;

  g_test_summary ("Failures become GErrors in DISCO_ERROR: an impossible allocation, a failed "
                  "copy (reported once, not again by the next check), and a bad GEMM stride "
                  "reported by the next disco_cuda_check(); 0 bytes allocate");
  SKIP_WITHOUT_DEVICE ();

  description = disco_cuda_describe ();
  g_test_message ("device: %s", description);
  g_assert_nonnull (strstr (description, "compute capability"));

  huge = disco_cuda_alloc ((gsize) 1 << 60, &error);
  g_assert_null (huge);
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_DEVICE);
  g_assert_nonnull (strstr (error->message, "cannot allocate"));
  g_clear_error (&error);
  g_assert_true (disco_cuda_check (&error));
  g_assert_no_error (error);

  /* A zero-byte buffer is a buffer, as on the CPU table (cudaMalloc (0)
   * would give NULL without an error). */
  huge = disco_cuda_alloc (0, &error);
  g_assert_no_error (error);
  g_assert_nonnull (huge);
  disco_cuda_free (huge);

  /* A failed copy is reported once, by its own GError: the runtime's
   * latched last error must not fail the next check as well. */
  {
    float one = 1.0f;

    g_assert_false (disco_cuda_copy_to_device (NULL, &one, sizeof one, &error));
    g_assert_error (error, DISCO_ERROR, DISCO_ERROR_DEVICE);
    g_clear_error (&error);
    g_assert_true (disco_cuda_check (&error));
    g_assert_no_error (error);
  }

  g_test_expect_message ("Disco-CUDA", G_LOG_LEVEL_CRITICAL, "*gemm_args_ok*");
  disco_gemm_cuda (FALSE, FALSE, 4, 4, 4, 1.0f, NULL, 2, NULL, 4, 0.0f, NULL, 4);
  g_test_assert_expected_messages ();
  g_assert_false (disco_cuda_check (&error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_DEVICE);
  g_assert_nonnull (strstr (error->message, "precondition"));
  g_clear_error (&error);
  g_assert_true (disco_cuda_check (&error));

  /* Overlapping copy_rows blocks are refused, as on the CPU. */
  {
    float *block = disco_cuda_alloc (12 * sizeof (float), &error);

    g_assert_no_error (error);
    g_test_expect_message ("Disco-CUDA", G_LOG_LEVEL_CRITICAL, "*overlap*");
    disco_copy_rows_cuda (3, 2, block, 4, block + 2, 4);
    g_test_assert_expected_messages ();
    g_assert_false (disco_cuda_check (&error));
    g_assert_error (error, DISCO_ERROR, DISCO_ERROR_DEVICE);
    g_clear_error (&error);
    disco_cuda_free (block);
  }

  /* A failure is its thread's: another thread's check does not see it
   * (nor take it), as the runtime's cudaGetLastError() is per thread. */
  {
    GThread *other;

    g_test_expect_message ("Disco-CUDA", G_LOG_LEVEL_CRITICAL, "*gemm_args_ok*");
    disco_gemm_cuda (FALSE, FALSE, 4, 4, 4, 1.0f, NULL, 2, NULL, 4, 0.0f, NULL, 4);
    g_test_assert_expected_messages ();
    other = g_thread_new ("other-check", check_in_thread, NULL);
    g_assert_true (GPOINTER_TO_INT (g_thread_join (other)));
    g_assert_false (disco_cuda_check (&error));
    g_assert_error (error, DISCO_ERROR, DISCO_ERROR_DEVICE);
    g_clear_error (&error);
  }
}

static void
test_tensor_on_device (void)
{
  const gsize shape[2] = { 3, 33 };
  g_autoptr (GRand) rand = g_rand_new_with_seed (13);
  g_autofree float *x = random_floats (rand, 99, -5, 5);
  g_autofree float *ref = g_new (float, 99);
  g_autoptr (DiscoTensor) t = NULL;
  g_autoptr (GError) error = NULL;
  const float *host;
  float *dev;

  g_test_summary ("A DiscoTensor on the CUDA backend keeps its values on the device across a "
                  "kernel and copies them to the host only when read there");
  SKIP_WITHOUT_DEVICE ();

  if (disco_backend_get (DISCO_DEVICE_CUDA) == NULL)
    disco_backend_register (DISCO_DEVICE_CUDA, disco_cuda_get_backend ());
  t = disco_tensor_new_from_values (2, shape, x, 99, &error);
  g_assert_no_error (error);
  g_assert_true (disco_tensor_to_device (t, DISCO_DEVICE_CUDA, &error));
  g_assert_no_error (error);
  dev = disco_tensor_write_device (t, &error);
  g_assert_no_error (error);
  disco_softrect_forward_cuda (&rects[0], 3, 33, dev, 33, dev, 33);
  g_assert_true (disco_cuda_check (&error));
  host = disco_tensor_read_host (t, &error);
  g_assert_no_error (error);
  disco_softrect_forward_cpu (&rects[0], 3, 33, x, 33, ref, 33);
  assert_close ("tensor softrect", host, ref, 3, 33, 33, 1e-30, 4e-6);
}

static DiscoPipeline *
pipeline_with_device (const char *device, const char *extra, GError **error)
{
  g_autofree char *text = g_strdup_printf ("[pipeline]\ndevice = %s\n"
                                           "[src]\nnode = constant-source\n%s",
                                           device, extra);
  g_autoptr (DiscoPipeline) pipeline = disco_pipeline_new_from_string (text, NULL, error);

  if (pipeline == NULL || !disco_pipeline_validate (pipeline, error))
    return NULL;
  return g_steal_pointer (&pipeline);
}

static void
test_pipeline_devices (void)
{
  /* affine computes on the host only, constant-source produces host
   * tensors (which device nodes copy lazily), so it runs on CUDA. */
  const char *host_only = "[scale]\nnode = affine\ninput = src\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) automatic = NULL;
  g_autoptr (DiscoPipeline) automatic_host = NULL;
  g_autoptr (DiscoPipeline) cuda = NULL;
  g_autoptr (DiscoPipeline) cuda_host = NULL;
  g_autoptr (DiscoPipeline) cpu = NULL;
  gboolean backend;

  g_test_summary ("device = auto picks CUDA exactly when the plugin registered a usable "
                  "device and every node runs on it, the CPU otherwise; device = cuda "
                  "without one, or with a node that cannot, is a clear error; device = cpu "
                  "is always the CPU");

  /* Loading the registry loads the plugins, among them disco-cuda. */
  g_strfreev (disco_registry_list_names ());
  backend = disco_backend_get (DISCO_DEVICE_CUDA) != NULL;
  g_assert_cmpint (backend, ==, cuda_usable && g_strcmp0 (g_getenv ("DISCO_CUDA"), "0") != 0);
  g_assert_true (disco_node_type_runs_on_cuda (g_type_from_name ("DiscoConstantSource")));
  g_assert_false (disco_node_type_runs_on_cuda (g_type_from_name ("DiscoAffine")));

  automatic = pipeline_with_device ("auto", "", &error);
  g_assert_no_error (error);
  g_assert_cmpint (disco_pipeline_get_active_device (automatic), ==,
                   backend ? DISCO_DEVICE_CUDA : DISCO_DEVICE_CPU);
  automatic_host = pipeline_with_device ("auto", host_only, &error);
  g_assert_no_error (error);
  g_assert_cmpint (disco_pipeline_get_active_device (automatic_host), ==, DISCO_DEVICE_CPU);

  cpu = pipeline_with_device ("cpu", "", &error);
  g_assert_no_error (error);
  g_assert_cmpint (disco_pipeline_get_active_device (cpu), ==, DISCO_DEVICE_CPU);

  cuda = pipeline_with_device ("cuda", "", &error);
  if (backend)
    {
      g_assert_no_error (error);
      g_assert_cmpint (disco_pipeline_get_active_device (cuda), ==, DISCO_DEVICE_CUDA);
      cuda_host = pipeline_with_device ("cuda", host_only, &error);
      g_assert_null (cuda_host);
      g_assert_error (error, DISCO_ERROR, DISCO_ERROR_DEVICE);
      g_assert_nonnull (strstr (error->message, "\"scale\" (DiscoAffine) has no CUDA"));
      g_test_message ("with a GPU: %s", error->message);
      g_clear_error (&error);
      /* The host-only node kept on the CPU by its own setting: the rest
       * of the pipeline runs on CUDA around it. */
      {
        g_autoptr (DiscoPipeline) around = pipeline_with_device (
            "auto", "[scale]\nnode = affine\ninput = src\ndevice = cpu\n", &error);
        g_assert_no_error (error);
        g_assert_cmpint (disco_pipeline_get_active_device (around), ==, DISCO_DEVICE_CUDA);
        g_assert_cmpint (disco_node_get_device (disco_pipeline_get_node (around, "scale")), ==,
                         DISCO_DEVICE_CPU);
      }
    }
  else
    {
      g_assert_null (cuda);
      g_assert_error (error, DISCO_ERROR, DISCO_ERROR_DEVICE);
      g_assert_nonnull (strstr (error->message, "no CUDA device is usable"));
      g_assert_nonnull (strstr (error->message, "\"cuda\""));
      g_test_message ("without a GPU: %s", error->message);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  gpu_test_init ();

  g_test_add_func ("/disco/cuda/gemm", test_gemm);
  g_test_add_func ("/disco/cuda/launch-count", test_launch_count);
  g_test_add_func ("/disco/cuda/gemm-strided-batched", test_gemm_strided_batched);
  g_test_add_func ("/disco/cuda/softrect", test_softrect);
  g_test_add_func ("/disco/cuda/axpy-rows", test_axpy_rows);
  g_test_add_func ("/disco/cuda/microcircuit-rhs", test_microcircuit_rhs);
  g_test_add_func ("/disco/cuda/rk-combine", test_rk_combine);
  g_test_add_func ("/disco/cuda/rk-combine-softrect", test_rk_combine_softrect);
  g_test_add_func ("/disco/cuda/rms-softmax", test_rms_and_softmax);
  g_test_add_func ("/disco/cuda/error-norms", test_error_norms);
  g_test_add_func ("/disco/cuda/steady-state", test_steady_state);
  g_test_add_func ("/disco/cuda/clock-advance", test_clock_advance);
  g_test_add_func ("/disco/cuda/adam", test_adam);
  g_test_add_func ("/disco/cuda/errors", test_errors);
  /* Before the tensor case, which registers the backend by hand. */
  g_test_add_func ("/disco/cuda/pipeline-devices", test_pipeline_devices);
  g_test_add_func ("/disco/cuda/tensor-on-device", test_tensor_on_device);

  return g_test_run ();
}
