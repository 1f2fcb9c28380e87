/* test-kernels.c: the CPU kernels against closed forms and hand loops.
 *
 * References are computed in double precision.  Each tolerance is written
 * as |got − ref| ≤ atol + rtol·scale next to the reason for its size; float32
 * has a unit roundoff of u = 2^−24 ≈ 6e−8.
 */

#include <float.h>
#include <math.h>
#include <string.h>

#include <glib.h>
#ifdef G_OS_UNIX
#include <sys/wait.h>
#include <unistd.h>
#endif

#include "disco-kernels.h"
#include "disco-parallel.h"

static const DiscoSoftRectifier rectifiers[] = {
  { 1.0f, 1.0f, 0.0f },  /* softplus, the model's default */
  { 5.0f, 1.0f, 3.0f },  /* φ_E of the student-teacher task */
  { 1.0f, 1.0f, 3.0f },  /* Figure 3 */
  { 0.5f, 4.0f, -1.0f }, /* sharp knee */
  { 2.0f, 0.25f, 1.0f }, /* soft knee */
};

static void
assert_close (double got, double ref, double atol, double rtol)
{
  g_assert_false (isnan (got));
  /* The macro's comparison is strict; the smallest double keeps a zero
   * tolerance meaning "exactly equal". */
  g_assert_cmpfloat_with_epsilon (got, ref, atol + rtol * fabs (ref) + DBL_TRUE_MIN);
}

static double
softplus_ref (const DiscoSoftRectifier *p, double x)
{
  double z = (double) p->sharpness * (x - (double) p->shift);

  return p->scale * (z > 0 ? z + log1p (exp (-z)) : log1p (exp (z)));
}

static double
softplus_derivative_ref (const DiscoSoftRectifier *p, double x)
{
  double z = (double) p->sharpness * (x - (double) p->shift);

  return (double) p->scale * p->sharpness / (1.0 + exp (-z));
}

static double
softplus_inverse_ref (const DiscoSoftRectifier *p, double y)
{
  return p->shift + log (expm1 (y / p->scale)) / p->sharpness;
}

/* Inputs x = θ + z/β for z over [−20, 80]: from the tail (φ ≈ s·e^z) to
 * far past the knee. */
static float
input_at (const DiscoSoftRectifier *p, int i, int n)
{
  double z = -20.0 + 100.0 * i / (n - 1);

  return (float) (p->shift + z / p->sharpness);
}

static void
test_softrect_forward (void)
{
  g_test_summary ("phi(x) = s*log(1 + exp(beta(x - theta))) matches the "
                  "closed form from the deep tail to far past the knee");

  for (gsize r = 0; r < G_N_ELEMENTS (rectifiers); r++)
    {
      const DiscoSoftRectifier *p = &rectifiers[r];

      for (int i = 0; i < 1001; i++)
        {
          float x = input_at (p, i, 1001);

          /* Relative: rounding β(x − θ) moves z by up to ~2u·|z|, and in
           * the tail φ ≈ s·e^z turns that into a relative error of 2u·|z|
           * ≤ 2.4e−6 for |z| ≤ 20; past the knee a few ulps. */
          assert_close (disco_softrect_forward (p, x), softplus_ref (p, x), 1e-30, 4e-6);
        }
    }
}

static void
test_softrect_derivative (void)
{
  g_test_summary ("phi' matches s*beta*sigmoid(beta(x - theta)) and a "
                  "central finite difference of the double-precision phi");

  for (gsize r = 0; r < G_N_ELEMENTS (rectifiers); r++)
    {
      const DiscoSoftRectifier *p = &rectifiers[r];
      const double slope_max = (double) p->scale * p->sharpness;

      for (int i = 0; i < 1001; i++)
        {
          float x = input_at (p, i, 1001);
          double got = disco_softrect_derivative (p, x);
          /* h = 1e−4/β keeps the O(h²) truncation (~h²·φ‴/6 ≈ 1e−9·sβ)
           * far below float rounding. */
          double h = 1e-4 / p->sharpness;
          double fd = (softplus_ref (p, x + h) - softplus_ref (p, x - h)) / (2.0 * h);

          /* Same tail argument as for φ: relative 2u·|z|. */
          assert_close (got, softplus_derivative_ref (p, x), 1e-30, 4e-6);
          /* Against the finite difference: its own error ~1e−9·sβ. */
          assert_close (got, fd, 1e-6 * slope_max, 4e-6);
        }
    }
}

static void
test_softrect_inverse (void)
{
  g_test_summary ("phi^-1 matches theta + log(expm1(y/s))/beta below "
                  "y/s = 50 and theta + (y/s)/beta above, with no jump at "
                  "the switch");

  for (gsize r = 0; r < G_N_ELEMENTS (rectifiers); r++)
    {
      const DiscoSoftRectifier *p = &rectifiers[r];

      for (int i = 0; i < 1000; i++)
        {
          /* y/s from 1e−3 to 200, log-spaced: both branches. */
          double z = 1e-3 * pow (2e5, i / 999.0);
          float y = (float) (p->scale * z);
          double zf = (double) y / p->scale;
          double ref = softplus_inverse_ref (p, y);

          /* log(expm1(z)) has slope 1/(1 − e^−z) ≤ 1/z + 1, so the ~2u
           * relative rounding of z = y/s costs at most 2u·(1 + z) before
           * dividing by β; the result then rounds near |ref|. */
          assert_close (disco_softrect_inverse (p, y), ref, 2.4e-7 * (1.0 + zf) / p->sharpness,
                        2.4e-7);
        }

      /* Either side of the switch at y/s = 50 the two branches agree to
       * rounding: log(expm1(50)) − 50 ≈ −2e−22. */
      {
        float below = disco_softrect_inverse (p, p->scale * 49.9999f);
        float above = disco_softrect_inverse (p, p->scale * 50.0001f);

        g_assert_cmpfloat (above, >, below);
        assert_close (above - below, 2e-4 / p->sharpness, 6e-5 / p->sharpness, 0.0);
      }
    }
}

static void
test_softrect_round_trip (void)
{
  g_test_summary ("phi^-1(phi(x)) = x from the tail through the large-argument "
                  "branch (beta(x - theta) up to 80)");

  for (gsize r = 0; r < G_N_ELEMENTS (rectifiers); r++)
    {
      const DiscoSoftRectifier *p = &rectifiers[r];

      for (int i = 0; i < 1001; i++)
        {
          float x = input_at (p, i, 1001);
          float y = disco_softrect_forward (p, x);
          double z = p->sharpness * ((double) x - p->shift);

          /* φ⁻¹ has slope 1/φ′ = φ/(φ′·φ), so a relative error ε in φ
           * becomes ε·φ/φ′ ≤ ε·(1 + |z|)/β in x; with ε ≈ 6u, plus a
           * rounding of x itself. */
          assert_close (disco_softrect_inverse (p, y), x, 3.6e-7 * (1.0 + fabs (z)) / p->sharpness,
                        2.4e-7);
        }
    }
}

static void
test_softrect_taylor_line (void)
{
  DiscoSoftRectifier softplus = DISCO_SOFT_RECTIFIER_SOFTPLUS;
  float a, b;

  g_test_summary ("The Taylor line of phi^-1 around y0 = 0.8 for softplus is "
                  "a ~ -1.249, b ~ 1.816 (MODEL.md section 1)");

  disco_softrect_taylor_line (&softplus, 0.8f, &a, &b);
  /* Three decimals, as MODEL.md gives them. */
  g_assert_cmpfloat_with_epsilon (b, 1.816, 5e-4);
  g_assert_cmpfloat_with_epsilon (a, -1.249, 5e-4);

  /* And exactly what the definition says, in double. */
  {
    double x0 = log (expm1 (0.8));
    double slope = 1.0 + exp (-x0); /* 1/sigmoid(x0) */

    assert_close (b, slope, 0.0, 1e-6);
    assert_close (a, x0 - 0.8 * slope, 0.0, 1e-6);
  }

  /* The line touches φ⁻¹ at y₀ for any rectifier. */
  for (gsize r = 0; r < G_N_ELEMENTS (rectifiers); r++)
    {
      const DiscoSoftRectifier *p = &rectifiers[r];
      float y0 = 0.5f * p->scale;

      disco_softrect_taylor_line (p, y0, &a, &b);
      assert_close (a + b * y0, disco_softrect_inverse (p, y0), 1e-5, 1e-6);
    }
}

static void
test_softrect_arrays (void)
{
  const DiscoSoftRectifier p = { 5.0f, 1.0f, 3.0f };
  enum
  {
    ROWS = 3,
    COLS = 5,
    LDX = 8,
    LDY = 6
  };
  float x[ROWS * LDX], y[ROWS * LDY];
  float inplace[ROWS * LDX];

  g_test_summary ("The array versions apply the scalar functions to a "
                  "strided block, leave the padding alone, and work in place");

  for (int i = 0; i < ROWS * LDX; i++)
    x[i] = -4.0f + 0.37f * i;

  for (int op = 0; op < 3; op++)
    {
      for (int i = 0; i < ROWS * LDY; i++)
        y[i] = -123.0f;
      memcpy (inplace, x, sizeof x);

      switch (op)
        {
        case 0:
          disco_softrect_forward_cpu (&p, ROWS, COLS, x, LDX, y, LDY);
          disco_softrect_forward_cpu (&p, ROWS, COLS, inplace, LDX, inplace, LDX);
          break;
        case 1:
          disco_softrect_derivative_cpu (&p, ROWS, COLS, x, LDX, y, LDY);
          disco_softrect_derivative_cpu (&p, ROWS, COLS, inplace, LDX, inplace, LDX);
          break;
        default:
          disco_softrect_inverse_cpu (&p, ROWS, COLS, x, LDX, y, LDY);
          disco_softrect_inverse_cpu (&p, ROWS, COLS, inplace, LDX, inplace, LDX);
          break;
        }

      for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < LDY; c++)
          {
            float xv = x[r * LDX + c];
            float want;

            if (c >= COLS)
              {
                g_assert_cmpfloat (y[r * LDY + c], ==, -123.0f);
                continue;
              }

            want = op == 0   ? disco_softrect_forward (&p, xv)
                   : op == 1 ? disco_softrect_derivative (&p, xv)
                             : disco_softrect_inverse (&p, xv);
            /* Same float code path: bit-identical (NaN for φ⁻¹ of y ≤ 0). */
            g_assert_true (memcmp (&y[r * LDY + c], &want, sizeof want) == 0);
            g_assert_true (memcmp (&inplace[r * LDX + c], &want, sizeof want) == 0);
          }
    }
}

static void
fill_random (GRand *rand, float *v, gsize n)
{
  for (gsize i = 0; i < n; i++)
    v[i] = (float) g_rand_double_range (rand, -1.0, 1.0);
}

static void
check_gemm (GRand *rand, gboolean trans_a, gboolean trans_b, gsize m, gsize n, gsize k)
{
  /* Padded strides, so a wrong stride cannot pass by accident. */
  const gsize a_rows = trans_a ? k : m, a_cols = trans_a ? m : k;
  const gsize b_rows = trans_b ? n : k, b_cols = trans_b ? k : n;
  const gsize lda = a_cols + 3, ldb = b_cols + 2, ldc = n + 1;
  const float alpha = 0.75f, beta = -0.5f;
  float *a = g_new (float, a_rows *lda);
  float *b = g_new (float, b_rows *ldb);
  float *c = g_new (float, m *ldc);
  float *c0 = g_new (float, m *ldc);

  fill_random (rand, a, a_rows * lda);
  fill_random (rand, b, b_rows * ldb);
  fill_random (rand, c0, m * ldc);
  memcpy (c, c0, m * ldc * sizeof (float));

  disco_gemm_cpu (trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);

  for (gsize i = 0; i < m; i++)
    for (gsize j = 0; j < ldc; j++)
      {
        double sum = 0.0, magnitude = 0.0;

        if (j >= n)
          {
            /* Padding is not touched. */
            g_assert_cmpfloat (c[i * ldc + j], ==, c0[i * ldc + j]);
            continue;
          }

        for (gsize p = 0; p < k; p++)
          {
            double av = trans_a ? a[p * lda + i] : a[i * lda + p];
            double bv = trans_b ? b[j * ldb + p] : b[p * ldb + j];

            sum += av * bv;
            magnitude += fabs (av * bv);
          }

        /* A float dot product of length k errs by at most ~k·u·Σ|a·b|;
         * blocked BLAS sums do far better, 4u·Σ|a·b| + 2u·|βc| is ample
         * for these lengths yet catches any wrong index. */
        assert_close (c[i * ldc + j], alpha * sum + beta * (double) c0[i * ldc + j],
                      2.4e-7 * (fabs (alpha) * magnitude + fabs (beta * c0[i * ldc + j]))
                          + 1e-7 * k * fabs (alpha) * magnitude,
                      0.0);
      }

  g_free (a);
  g_free (b);
  g_free (c);
  g_free (c0);
}

static void
test_gemm (void)
{
  static const gsize shapes[][3] = {
    { 1, 1, 1 }, { 5, 7, 3 }, { 3, 1, 9 }, { 67, 45, 130 }, { 4, 6, 0 },
  };
  GRand *rand = g_rand_new_with_seed (20231019);

  g_test_summary ("Row-major C = alpha*op(A)*op(B) + beta*C matches a "
                  "triple loop for all four transpose combinations and "
                  "padded strides");

  for (gsize s = 0; s < G_N_ELEMENTS (shapes); s++)
    for (int ta = 0; ta < 2; ta++)
      for (int tb = 0; tb < 2; tb++)
        check_gemm (rand, ta, tb, shapes[s][0], shapes[s][1], shapes[s][2]);

  g_rand_free (rand);
}

static void
test_gemm_beta_zero (void)
{
  const float a[] = { 1, 2, 3, 4 }; /* 2×2 */
  const float b[] = { 1, 0, 0, 1 }; /* identity */
  float c[] = { NAN, NAN, NAN, NAN };

  g_test_summary ("With beta = 0 the old C is not read, so garbage (NaN) in an "
                  "output buffer does not leak into the result");

  disco_gemm_cpu (FALSE, FALSE, 2, 2, 2, 1.0f, a, 2, b, 2, 0.0f, c, 2);
  for (int i = 0; i < 4; i++)
    g_assert_cmpfloat (c[i], ==, a[i]);
}

static void
test_axpy_rows (void)
{
  enum
  {
    ROWS = 4,
    COLS = 6,
    LDX = 7,
    LDY = 9
  };
  const float alpha[ROWS] = { 0.0f, 1.0f, -2.5f, 1e-3f };
  float x[ROWS * LDX], y[ROWS * LDY], y0[ROWS * LDY];
  GRand *rand = g_rand_new_with_seed (7);

  g_test_summary ("y[r, :] += alpha[r]*x[r, :] with a scale per row and padded "
                  "strides");

  fill_random (rand, x, G_N_ELEMENTS (x));
  fill_random (rand, y0, G_N_ELEMENTS (y0));
  memcpy (y, y0, sizeof y);

  disco_axpy_rows_cpu (ROWS, COLS, alpha, x, LDX, y, LDY);

  for (int r = 0; r < ROWS; r++)
    for (int c = 0; c < LDY; c++)
      {
        double want = y0[r * LDY + c];

        if (c < COLS)
          want += (double) alpha[r] * x[r * LDX + c];
        /* One multiply-add in float: within 2 roundings of the sum. */
        assert_close (y[r * LDY + c], want, 1.2e-7 * (fabs (want) + 2.5), 0.0);
      }

  g_rand_free (rand);
}

static void
test_softmax_rows (void)
{
  enum
  {
    ROWS = 3,
    COLS = 10,
    LD = 12
  };
  float x[ROWS * LD], y[ROWS * LD];
  GRand *rand = g_rand_new_with_seed (11);

  g_test_summary ("Row-wise softmax matches exp(x)/sum exp(x) in double, sums "
                  "to 1, and survives logits near 1000 (no overflow)");

  fill_random (rand, x, G_N_ELEMENTS (x));
  for (int c = 0; c < COLS; c++)
    x[2 * LD + c] = 1000.0f - c; /* exp(1000) overflows even a double */

  disco_softmax_rows_cpu (ROWS, COLS, x, LD, y, LD);

  for (int r = 0; r < ROWS; r++)
    {
      double max = -INFINITY, sum = 0.0, total = 0.0;

      for (int c = 0; c < COLS; c++)
        max = fmax (max, x[r * LD + c]);
      for (int c = 0; c < COLS; c++)
        sum += exp (x[r * LD + c] - max);

      for (int c = 0; c < COLS; c++)
        {
          /* expf and one scaling: a few ulps relative. */
          assert_close (y[r * LD + c], exp (x[r * LD + c] - max) / sum, 1e-12, 5e-7);
          total += y[r * LD + c];
        }
      assert_close (total, 1.0, 2e-6, 0.0);
    }

  /* In place gives the same. */
  disco_softmax_rows_cpu (ROWS, COLS, x, LD, x, LD);
  for (int r = 0; r < ROWS; r++)
    for (int c = 0; c < COLS; c++)
      g_assert_cmpfloat (x[r * LD + c], ==, y[r * LD + c]);

  g_rand_free (rand);
}

static void
test_rms_rows (void)
{
  const float x[] = { 3.0f, 4.0f, 99.0f, 1.0f, 1.0f, 99.0f, 0.0f, 0.0f, 99.0f };
  float rms[3];

  g_test_summary ("Per-row RMS over the first C columns of a strided "
                  "matrix; an empty row has RMS 0");

  disco_rms_rows_cpu (3, 2, x, 3, rms);
  assert_close (rms[0], sqrt (12.5), 0.0, 1.2e-7);
  assert_close (rms[1], 1.0, 0.0, 1.2e-7);
  g_assert_cmpfloat (rms[2], ==, 0.0f);

  disco_rms_rows_cpu (2, 0, x, 3, rms);
  g_assert_cmpfloat (rms[0], ==, 0.0f);
  g_assert_cmpfloat (rms[1], ==, 0.0f);
}

static void
test_rk_combine (void)
{
  enum
  {
    ROWS = 5,
    COLS = 9,
    LD = 11,
    S = 4
  };
  const float coeffs[S] = { 0.25f, -1.5f, 3.0f, 0.125f };
  const float h[ROWS] = { 1e-3f, 0.01f, 0.5f, 0.0f, 2.0f };
  float y0[ROWS * LD], stages[S][ROWS * LD], out[ROWS * LD];
  const float *k[S];
  GRand *rand = g_rand_new_with_seed (5);

  g_test_summary ("out = y0 + h[r]*sum(c_s*k_s) matches a hand loop, with "
                  "y0 = NULL meaning 0 and out = y0 in place");

  fill_random (rand, y0, G_N_ELEMENTS (y0));
  for (int s = 0; s < S; s++)
    {
      fill_random (rand, stages[s], ROWS * LD);
      k[s] = stages[s];
    }

  for (int variant = 0; variant < 3; variant++)
    {
      const float *base = variant == 1 ? NULL : y0;
      float y0_copy[ROWS * LD];

      for (int i = 0; i < ROWS * LD; i++)
        out[i] = 777.0f;
      memcpy (y0_copy, y0, sizeof y0);

      if (variant == 2)
        disco_rk_combine_cpu (ROWS, COLS, LD, y0_copy, h, S, coeffs, k, y0_copy);
      else
        disco_rk_combine_cpu (ROWS, COLS, LD, base, h, S, coeffs, k, out);

      for (int r = 0; r < ROWS; r++)
        for (int c = 0; c < COLS; c++)
          {
            const int i = r * LD + c;
            double sum = 0.0, magnitude = 0.0;
            double want;
            float got = variant == 2 ? y0_copy[i] : out[i];

            for (int s = 0; s < S; s++)
              {
                sum += (double) coeffs[s] * stages[s][i];
                magnitude += fabs ((double) coeffs[s] * stages[s][i]);
              }
            want = (base != NULL ? base[i] : 0.0) + h[r] * sum;

            /* S float multiply-adds then one more: (S + 2)u of the
             * magnitudes involved. */
            assert_close (
                got, want,
                (S + 2) * 6e-8 * (fabs (h[r]) * magnitude + (base ? fabs (base[i]) : 0.0)), 0.0);
          }

      /* The padding between rows is left alone. */
      if (variant != 2)
        for (int r = 0; r < ROWS; r++)
          for (int c = COLS; c < LD; c++)
            g_assert_cmpfloat (out[r * LD + c], ==, 777.0f);
    }

  g_rand_free (rand);
}

static void
test_rk_error_norm (void)
{
  enum
  {
    ROWS = 4,
    COLS = 6,
    LD = 8
  };
  const float atol = 1e-6f, rtol = 1e-3f;
  float y0[ROWS * LD], y1[ROWS * LD], err[ROWS * LD], norm[ROWS];
  GRand *rand = g_rand_new_with_seed (3);

  g_test_summary ("The scaled error RMS(err/(atol + rtol·max(|y0|, |y1|))) "
                  "matches a hand loop; NaN in y1 falls back to |y0|, a NaN "
                  "error counts as infinite");

  fill_random (rand, y0, G_N_ELEMENTS (y0));
  fill_random (rand, y1, G_N_ELEMENTS (y1));
  fill_random (rand, err, G_N_ELEMENTS (err));
  for (int i = 0; i < ROWS * LD; i++)
    err[i] *= 1e-3f;

  y1[1 * LD + 2] = NAN;    /* row 1: candidate blew up in one entry */
  err[2 * LD + 4] = NAN;   /* row 2: error estimate is NaN */
  y0[3 * LD + COLS] = NAN; /* row 3: NaN in the padding is not read */

  disco_rk_error_norm_cpu (ROWS, COLS, LD, atol, rtol, y0, y1, err, norm);

  for (int r = 0; r < ROWS; r++)
    {
      double sum = 0.0;

      if (r == 2)
        {
          g_assert_true (isinf (norm[r]) && norm[r] > 0);
          continue;
        }

      for (int c = 0; c < COLS; c++)
        {
          const int i = r * LD + c;
          double y = isnan (y1[i]) ? fabs (y0[i]) : fmax (fabs (y0[i]), fabs (y1[i]));
          double scaled = err[i] / (atol + rtol * y);

          sum += scaled * scaled;
        }

      /* A few float roundings per term, summed in double. */
      assert_close (norm[r], sqrt (sum / COLS), 0.0, 5e-7);
    }

  g_rand_free (rand);
}

/* ------------------------------------------------------------------------
 * Fast kernels (disco-kernels-fast.c): each test runs on every compiled
 * path the CPU supports (the build's baseline and, on x86, AVX2+FMA).
 * ---------------------------------------------------------------------- */

static void
for_each_cpu_path (void (*check) (void))
{
  const DiscoCpuPath best = disco_cpu_path_get ();
  const DiscoCpuPath paths[] = { DISCO_CPU_PATH_GENERIC, DISCO_CPU_PATH_AVX2 };

  for (gsize i = 0; i < G_N_ELEMENTS (paths); i++)
    {
      if (!disco_cpu_path_set (paths[i]))
        {
          g_test_message ("CPU path %d not available here", paths[i]);
          continue;
        }
      g_test_message ("CPU path %d", paths[i]);
      check ();
    }
  g_assert_true (disco_cpu_path_set (best));
}

/* Floats in an order where neighbours differ by one ulp (±0 coincide). */
static gint64
float_order (float f)
{
  gint32 i;

  memcpy (&i, &f, sizeof i);
  return i < 0 ? (gint64) G_MININT32 - i : i;
}

static gint64
ulp_distance (float a, float b)
{
  gint64 d = float_order (a) - float_order (b);

  return d < 0 ? -d : d;
}

/* The exact φ of the float z = β(x − θ) that both implementations form
 * first, rounded once. */
static float
softrect_exact (const DiscoSoftRectifier *p, float x)
{
  double z = (float) (p->sharpness * (x - p->shift));

  return (float) (p->scale * (z > 0 ? z + log1p (exp (-z)) : log1p (exp (z))));
}

/* The fast φ's tolerance.  Against the reference (itself up to 4 ulp from
 * the exact value; both write s·(max(z, 0) + log1p(e^−|z|)), with different
 * exp and log1p): 4 ulp.  Against the exact value: 3 ulp.  Measured over
 * every 17th float (every 5th on the AVX2 path for an earlier variant) for
 * the first five rectifiers below on both paths: worst cases 4 and 3 ulp.
 * In the deep tail, where e^z is subnormal before the scale s multiplies
 * it, ulps shrink to 2^−149·s and both sides lose digits: there an absolute
 * 1e−30 holds instead (those rates are below 1e−37). */
#define FAST_SOFTRECT_ULPS_VS_REFERENCE 4
#define FAST_SOFTRECT_ULPS_VS_EXACT 3
#define FAST_SOFTRECT_ATOL 1e-30

static void
check_fast_softrect_value (const DiscoSoftRectifier *p, float x, float got)
{
  float ref = disco_softrect_forward (p, x);
  float exact = softrect_exact (p, x);

  if (isnan (ref))
    {
      if (!isnan (got))
        g_error ("phi(%a) = %a, the reference gives NaN", x, got);
      return;
    }
  if (isnan (got))
    g_error ("phi(%a) = NaN, the reference gives %a", x, ref);
  if (ulp_distance (got, ref) > FAST_SOFTRECT_ULPS_VS_REFERENCE
      && fabs ((double) got - ref) > FAST_SOFTRECT_ATOL)
    g_error ("phi(%a) (s %g, beta %g, theta %g) = %a, the reference gives "
             "%a: %" G_GINT64_FORMAT " ulp apart",
             x, p->scale, p->sharpness, p->shift, got, ref, ulp_distance (got, ref));
  if (ulp_distance (got, exact) > FAST_SOFTRECT_ULPS_VS_EXACT
      && fabs ((double) got - exact) > FAST_SOFTRECT_ATOL)
    g_error ("phi(%a) (s %g, beta %g, theta %g) = %a, exactly %a: %" G_GINT64_FORMAT " ulp apart",
             x, p->scale, p->sharpness, p->shift, got, exact, ulp_distance (got, exact));
}

/* Inputs x whose z = β(x − θ) run densely over [−120, 120]: both tails,
 * the knee, the subnormal range of e^z and exp's underflow at −103.97. */
static void
fill_dense_z (const DiscoSoftRectifier *p, float *x, int n)
{
  for (int i = 0; i < n; i++)
    x[i] = p->shift + (float) (-120.0 + 240.0 * i / (n - 1)) / p->sharpness;
}

/* Up to @n_max floats of every 65521st bit pattern from @start on (all
 * magnitudes up to ±FLT_MAX, subnormals, infinities and NaNs), stopping at
 * 2³²; returns how many.  Callers step @start by @n_max · 65521. */
static int
fill_bit_patterns (guint64 start, float *x, int n_max)
{
  int n = 0;

  for (; n < n_max && ((start + (guint64) n * 65521) >> 32) == 0; n++)
    {
      guint32 b32 = (guint32) (start + (guint64) n * 65521);

      memcpy (&x[n], &b32, sizeof b32);
    }
  return n;
}

static void
check_fast_softrect_range (void)
{
  enum
  {
    N = 1 << 16
  };
  const DiscoSoftRectifier more[] = {
    { 1.0f, 1.0f, 3.0f }, { 1.0f, 50.0f, 0.0f }, /* a knee sharp enough to reach the tails */
  };
  g_autofree float *x = g_new (float, N);
  g_autofree float *y = g_new (float, N);
  const float specials[] = {
    0.0f,    -0.0f,    INFINITY,     -INFINITY,     NAN,    -NAN,  FLT_MAX, -FLT_MAX,
    FLT_MIN, -FLT_MIN, FLT_TRUE_MIN, -FLT_TRUE_MIN, 1.0f,   -1.0f, 3.0f,    -87.33f,
    -88.73f, -103.97f, -104.0f,      -150.0f,       88.73f, 1e30f, -1e30f,
  };

  for (gsize r = 0; r < G_N_ELEMENTS (rectifiers) + G_N_ELEMENTS (more); r++)
    {
      const DiscoSoftRectifier *p =
          r < G_N_ELEMENTS (rectifiers) ? &rectifiers[r] : &more[r - G_N_ELEMENTS (rectifiers)];

      /* 1. z = β(x − θ) densely over [−120, 120]. */
      fill_dense_z (p, x, N);
      disco_softrect_forward_fast_cpu (p, 1, N, x, N, y, N);
      for (int i = 0; i < N; i++)
        check_fast_softrect_value (p, x[i], y[i]);

      /* 2. Every 65521st bit pattern. */
      for (guint64 start = 0; start < G_GUINT64_CONSTANT (1) << 32; start += (guint64) N * 65521)
        {
          const int n = fill_bit_patterns (start, x, N);

          disco_softrect_forward_fast_cpu (p, 1, n, x, n, y, n);
          for (int i = 0; i < n; i++)
            check_fast_softrect_value (p, x[i], y[i]);
        }

      /* 3. The special values, one at a time (odd lengths take the loops'
       *    scalar tails). */
      for (gsize i = 0; i < G_N_ELEMENTS (specials); i++)
        {
          float got;

          disco_softrect_forward_fast_cpu (p, 1, 1, &specials[i], 1, &got, 1);
          check_fast_softrect_value (p, specials[i], got);
        }
    }

  /* The tails exactly: what the reference gives. */
  {
    const DiscoSoftRectifier *p = &rectifiers[0];
    float in[3] = { -INFINITY, INFINITY, -200.0f }, out[3];

    disco_softrect_forward_fast_cpu (p, 1, 3, in, 3, out, 3);
    g_assert_cmpfloat (out[0], ==, 0.0f);
    g_assert_cmpfloat (out[1], ==, INFINITY);
    g_assert_cmpfloat (out[2], ==, 0.0f);
  }
}

static void
test_softrect_fast (void)
{
  g_test_summary ("The vectorised phi stays within 4 ulp of the scalar "
                  "reference and 3 ulp of the exact value (or 1e-30 in the "
                  "subnormal tail) over the whole float range, NaN and "
                  "infinities included, on every CPU path");
  for_each_cpu_path (check_fast_softrect_range);
}

/* The vectorised φ′ against disco_softrect_derivative(): the same sigmoid
 * on the same side, with this project's exp instead of libm's expf (see
 * disco_softrect_derivative_fast_row()); below e^−87 the sigmoid is
 * subnormal before s·β scales it, and an absolute 1e−30 holds instead. */
#define FAST_SLOPE_ULPS_VS_REFERENCE 4

static gint64 fast_slope_worst_ulps;

static void
check_fast_slope_value (const DiscoSoftRectifier *p, float x, float got)
{
  float ref = disco_softrect_derivative (p, x);

  if (isnan (ref) != isnan (got))
    g_error ("phi'(%a) = %a, the reference gives %a", x, got, ref);
  if (isnan (ref))
    return;
  if (fabs ((double) got - ref) > FAST_SOFTRECT_ATOL)
    fast_slope_worst_ulps = MAX (fast_slope_worst_ulps, ulp_distance (got, ref));
  if (ulp_distance (got, ref) > FAST_SLOPE_ULPS_VS_REFERENCE
      && fabs ((double) got - ref) > FAST_SOFTRECT_ATOL)
    g_error ("phi'(%a) (s %g, beta %g, theta %g) = %a, the reference gives "
             "%a: %" G_GINT64_FORMAT " ulp apart",
             x, p->scale, p->sharpness, p->shift, got, ref, ulp_distance (got, ref));
}

static void
check_fast_slope_range (void)
{
  enum
  {
    N = 1 << 16
  };
  g_autofree float *x = g_new (float, N);
  g_autofree float *y = g_new (float, N);
  const float specials[] = { 0.0f, -0.0f, INFINITY, -INFINITY, NAN, FLT_MAX, -FLT_MAX, -104.0f };

  fast_slope_worst_ulps = 0;
  for (gsize r = 0; r < G_N_ELEMENTS (rectifiers); r++)
    {
      const DiscoSoftRectifier *p = &rectifiers[r];

      /* z densely over [−120, 120], then every 65521st bit pattern. */
      fill_dense_z (p, x, N);
      disco_softrect_derivative_fast_row (p, N, x, y);
      for (int i = 0; i < N; i++)
        check_fast_slope_value (p, x[i], y[i]);
      for (guint64 start = 0; start < G_GUINT64_CONSTANT (1) << 32; start += (guint64) N * 65521)
        {
          const int n = fill_bit_patterns (start, x, N);

          disco_softrect_derivative_fast_row (p, n, x, y);
          for (int i = 0; i < n; i++)
            check_fast_slope_value (p, x[i], y[i]);
        }
      for (gsize i = 0; i < G_N_ELEMENTS (specials); i++)
        {
          float got;

          disco_softrect_derivative_fast_row (p, 1, &specials[i], &got);
          check_fast_slope_value (p, specials[i], got);
        }
    }
  g_test_message ("worst distance from the reference: %" G_GINT64_FORMAT " ulp",
                  fast_slope_worst_ulps);
}

static void
test_softrect_slope_fast (void)
{
  g_test_summary ("The vectorised phi' (the Jacobian chain's slopes) stays within 4 ulp of "
                  "disco_softrect_derivative() (or 1e-30 in the subnormal tail) over the "
                  "whole float range, NaN and infinities included, on every CPU path");
  for_each_cpu_path (check_fast_slope_range);
}

static void
test_feedback_weights_rows (void)
{
  enum
  {
    B = 7,
    O = 3,
    N = 600, /* two blocks of φ′ and part of a third */
    LDU = N + 5
  };
  const DiscoSoftRectifier phi_i = { 1.5f, 2.0f, 0.3f };
  const struct
  {
    gsize in_stride;
    float clip, norm;
    gboolean in_place;
  } cases[] = {
    { O * N, 0, 1, FALSE },   { 0, 0, 1, FALSE },     { O * N, 0.05f, 2, FALSE },
    { O * N, 0.3f, 0, TRUE }, { O * N, 0, 0, FALSE },
  };
  g_autoptr (GRand) rand = g_rand_new_with_seed (5);
  g_autofree float *u = g_new (float, B *LDU), *j = g_new (float, B *O *N);
  g_autofree float *fused = g_new (float, B *O *N), *apart = g_new (float, B *O *N);

  g_test_summary ("feedback_weights_rows gives, bit for bit, slope_scale_rows followed by "
                  "feedback_normalize without the average (broadcast and per-sample Jacobians, "
                  "clip, norm, in place), and each sample's Q has the norm asked for");
  for (gsize i = 0; i < B * LDU; i++)
    u[i] = (float) g_rand_double_range (rand, -4, 4);
  for (gsize i = 0; i < B * O * N; i++)
    j[i] = (float) g_rand_double_range (rand, -1, 1);
  for (gsize c = 0; c < G_N_ELEMENTS (cases); c++)
    {
      const float *in = j;

      if (cases[c].in_place)
        {
          memcpy (fused, j, B * O * N * sizeof (float));
          in = fused;
        }
      disco_feedback_weights_rows_cpu (&phi_i, B, O, N, u, LDU, in, cases[c].in_stride,
                                       cases[c].clip, cases[c].norm, fused);
      disco_slope_scale_rows_cpu (&phi_i, B, O, N, u, LDU, j, cases[c].in_stride, apart);
      disco_feedback_normalize_cpu (B, O * N, FALSE, cases[c].clip, cases[c].norm, apart);
      g_assert_cmpmem (fused, B * O * N * sizeof (float), apart, B * O * N * sizeof (float));
      for (gsize s = 0; s < B && cases[c].norm > 0; s++)
        {
          double sum = 0;

          for (gsize i = 0; i < O * N; i++)
            sum += (double) fused[s * O * N + i] * fused[s * O * N + i];
          g_assert_cmpfloat_with_epsilon (sqrt (sum), cases[c].norm, 1e-6 * cases[c].norm);
        }
    }
}

static void
check_fast_softrect_arrays (void)
{
  const DiscoSoftRectifier p = { 5.0f, 1.0f, 3.0f };
  enum
  {
    ROWS = 3,
    COLS = 21,
    LDX = 24,
    LDY = 22
  };
  float x[ROWS * LDX], y[ROWS * LDY], inplace[ROWS * LDX];

  for (int i = 0; i < ROWS * LDX; i++)
    x[i] = -4.0f + 0.37f * i;
  for (int i = 0; i < ROWS * LDY; i++)
    y[i] = -123.0f;
  memcpy (inplace, x, sizeof x);

  disco_softrect_forward_fast_cpu (&p, ROWS, COLS, x, LDX, y, LDY);
  disco_softrect_forward_fast_cpu (&p, ROWS, COLS, inplace, LDX, inplace, LDX);

  for (int r = 0; r < ROWS; r++)
    for (int c = 0; c < LDY; c++)
      {
        if (c >= COLS)
          {
            g_assert_cmpfloat (y[r * LDY + c], ==, -123.0f);
            continue;
          }
        check_fast_softrect_value (&p, x[r * LDX + c], y[r * LDY + c]);
        /* In place gives the same bits as out of place. */
        g_assert_true (memcmp (&inplace[r * LDX + c], &y[r * LDY + c], sizeof (float)) == 0);
      }
}

static void
test_softrect_fast_arrays (void)
{
  g_test_summary ("The vectorised phi works on strided blocks and in place, "
                  "and leaves the padding alone");
  for_each_cpu_path (check_fast_softrect_arrays);
}

static void
check_microcircuit_rhs (void)
{
  enum
  {
    ROWS = 5,
    N_UNITS = 37,
    LDU = 2 * N_UNITS + 3,
    LDD = N_UNITS + 2,
    LDR = N_UNITS + 1,
    LDF = 2 * N_UNITS + 5,
    DRIVE_ROWS = 7
  };
  const DiscoSoftRectifier phi_e = { 1.0f, 1.0f, 0.0f };
  const DiscoSoftRectifier phi_i = { 2.0f, 0.5f, 1.0f };
  const float tau_e = 0.02f, tau_i = 0.005f;
  const guint drive_rows[ROWS] = { 6, 0, 3, 3, 1 };
  float u[ROWS * LDU], drive[DRIVE_ROWS * LDD], bias[N_UNITS];
  float rate[ROWS * LDR], dudt[ROWS * LDF];
  GRand *rand = g_rand_new_with_seed (11);

  fill_random (rand, u, G_N_ELEMENTS (u));
  for (gsize i = 0; i < G_N_ELEMENTS (u); i++)
    u[i] *= 6.0f;
  fill_random (rand, drive, G_N_ELEMENTS (drive));
  fill_random (rand, bias, G_N_ELEMENTS (bias));

  for (int variant = 0; variant < 3; variant++)
    {
      const float *b = variant == 1 ? NULL : bias;
      const guint *indices = variant == 2 ? drive_rows : NULL;

      for (gsize i = 0; i < G_N_ELEMENTS (rate); i++)
        rate[i] = 555.0f;
      for (gsize i = 0; i < G_N_ELEMENTS (dudt); i++)
        dudt[i] = 555.0f;

      disco_microcircuit_rhs_cpu (&phi_e, &phi_i, tau_e, tau_i, ROWS, N_UNITS, u, LDU, drive, LDD,
                                  indices, b, rate, LDR, dudt, LDF);

      for (int r = 0; r < ROWS; r++)
        {
          const float *ue = u + r * LDU, *ui = ue + N_UNITS;
          const float *d = drive + (indices ? indices[r] : (guint) r) * LDD;

          for (int j = 0; j < N_UNITS; j++)
            {
              /* The plain loop of the reference φ, as the network wrote it. */
              const float inv_e = 1.0f / tau_e, inv_i = 1.0f / tau_i;
              const float r_e = disco_softrect_forward (&phi_e, ue[j]);
              const float r_i = disco_softrect_forward (&phi_i, ui[j]);
              const float a_e = -ue[j] + (d[j] + (b ? b[j] : 0.0f));
              const float a_i = -ui[j];
              const float want_e = (a_e - r_i) * inv_e;
              const float want_i = (a_i + r_e) * inv_i;

              check_fast_softrect_value (&phi_e, ue[j], rate[r * LDR + j]);
              /* Only φ differs (≤ 4 ulp of it); then one subtraction and one
               * product round, each ≤ 1 ulp of its result. */
              assert_close (
                  dudt[r * LDF + j], want_e,
                  inv_e * (6.0 * FLT_EPSILON * (fabs (r_i) + fabs (a_e)) + FAST_SOFTRECT_ATOL),
                  FLT_EPSILON);
              assert_close (
                  dudt[r * LDF + N_UNITS + j], want_i,
                  inv_i * (6.0 * FLT_EPSILON * (fabs (r_e) + fabs (a_i)) + FAST_SOFTRECT_ATOL),
                  FLT_EPSILON);
            }
          for (int j = N_UNITS; j < LDR; j++)
            g_assert_cmpfloat (rate[r * LDR + j], ==, 555.0f);
          for (int j = 2 * N_UNITS; j < LDF; j++)
            g_assert_cmpfloat (dudt[r * LDF + j], ==, 555.0f);
        }
    }

  g_rand_free (rand);
}

static void
test_microcircuit_rhs (void)
{
  g_test_summary ("One microcircuit layer's open-loop derivatives and rates "
                  "match a plain loop over the reference phi, with and "
                  "without bias, with gathered drive rows and strides");
  for_each_cpu_path (check_microcircuit_rhs);
}

static void
check_rk_fast_bits (void)
{
  enum
  {
    ROWS = 7,
    COLS = 45,
    LD = 49,
    S = 7
  };
  /* Tsit5's error weights and other mixes of signs and sizes. */
  const float coeffs[S] = { 0.0017800110522257773f, 0.0008164344596567469f, -0.007880878010261995f,
                            0.1447110071732629f,    -0.5823571654525553f,   0.45808210592918697f,
                            -1.0f / 66.0f };
  float h[ROWS];
  float y0[ROWS * LD], y1[ROWS * LD], stages[S][ROWS * LD];
  float want[ROWS * LD], got[ROWS * LD], err[ROWS * LD];
  float norm_want[ROWS], norm_got[ROWS], rms_want[ROWS], rms_got[ROWS];
  const float *k[S];
  GRand *rand = g_rand_new_with_seed (23);

  fill_random (rand, y0, G_N_ELEMENTS (y0));
  fill_random (rand, y1, G_N_ELEMENTS (y1));
  for (int s = 0; s < S; s++)
    {
      fill_random (rand, stages[s], ROWS * LD);
      for (int i = 0; i < ROWS * LD; i++)
        stages[s][i] *= (float) (1 << (3 * s));
      k[s] = stages[s];
    }
  for (int r = 0; r < ROWS; r++)
    h[r] = (float) g_rand_double_range (rand, 1e-4, 1e-2);

  /* Stage combinations: every stage count, with and without y0. */
  for (guint n_stages = 1; n_stages <= S; n_stages++)
    for (int with_y0 = 0; with_y0 < 2; with_y0++)
      {
        for (int i = 0; i < ROWS * LD; i++)
          want[i] = got[i] = 777.0f;
        disco_rk_combine_cpu (ROWS, COLS, LD, with_y0 ? y0 : NULL, h, n_stages, coeffs, k, want);
        disco_rk_combine_fast_cpu (ROWS, COLS, LD, with_y0 ? y0 : NULL, h, n_stages, coeffs, k,
                                   got);
        g_assert_true (memcmp (want, got, sizeof want) == 0);
      }

  /* The fused error norm, for 1 … ROWS rows (groups of four and a rest),
   * with a NaN in the candidate (falls back to |y0|) and one in a stage
   * (an infinite norm). */
  y1[2 * LD + 5] = NAN;
  stages[3][5 * LD + 7] = NAN;
  for (gsize rows = 1; rows <= ROWS; rows++)
    {
      disco_rk_combine_cpu (rows, COLS, LD, NULL, h, S, coeffs, k, err);
      disco_rk_error_norm_cpu (rows, COLS, LD, 1e-6f, 1e-3f, y0, y1, err, norm_want);
      disco_rk_embedded_error_norm_cpu (rows, COLS, LD, 1e-6f, 1e-3f, y0, y1, h, S, coeffs, k,
                                        norm_got);
      g_assert_true (memcmp (norm_want, norm_got, rows * sizeof (float)) == 0);
    }
  g_assert_true (isinf (norm_got[5]));
  g_assert_true (isfinite (norm_got[2]));

  /* Row RMS. */
  for (gsize rows = 0; rows <= ROWS; rows++)
    {
      disco_rms_rows_cpu (rows, COLS, y0, LD, rms_want);
      disco_rms_rows_fast_cpu (rows, COLS, y0, LD, rms_got);
      g_assert_true (memcmp (rms_want, rms_got, rows * sizeof (float)) == 0);
    }
  disco_rms_rows_fast_cpu (3, 0, y0, LD, rms_got);
  g_assert_cmpfloat (rms_got[0], ==, 0.0f);

  g_rand_free (rand);
}

static void
test_rk_fast (void)
{
  g_test_summary ("The solver's fast Runge-Kutta kernels (stage combination, "
                  "fused error norm, row RMS) give the reference loops' bits");
  for_each_cpu_path (check_rk_fast_bits);
}

static void
test_gemm_stats (void)
{
  float a[6] = { 1, 2, 3, 4, 5, 6 }, b[6] = { 1, 0, 0, 1, 1, 1 }, c[4];
  DiscoGemmStats stats;

  g_test_summary ("The GEMM counters count calls and 2mnk flops when on, "
                  "and nothing when off");

  disco_gemm_stats_set_enabled (TRUE);
  g_assert_true (disco_gemm_stats_get_enabled ());
  disco_gemm_stats_reset ();
  disco_gemm_cpu (FALSE, FALSE, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c, 2);
  disco_gemm_cpu (FALSE, FALSE, 0, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c, 2);
  disco_gemm_stats_get (&stats);
  g_assert_cmpuint (stats.calls, ==, 1);
  g_assert_cmpfloat (stats.flops, ==, 2.0 * 2 * 2 * 3);
  g_assert_cmpfloat (stats.seconds, >=, 0.0);

  disco_gemm_stats_set_enabled (FALSE);
  disco_gemm_cpu (FALSE, FALSE, 2, 2, 3, 1.0f, a, 3, b, 2, 0.0f, c, 2);
  disco_gemm_stats_get (&stats);
  g_assert_cmpuint (stats.calls, ==, 1);
  disco_gemm_stats_reset ();
  disco_gemm_stats_get (&stats);
  g_assert_cmpuint (stats.calls, ==, 0);
  g_assert_cmpfloat (stats.flops, ==, 0.0);
}

static void
test_blas_threads (void)
{
  g_test_summary ("A thread count chosen with disco_blas_set_threads() "
                  "stays: the policy leaves it alone");

  disco_blas_set_threads (1);
  g_assert_cmpuint (disco_blas_get_threads (), ==, 1);
  g_assert_cmpuint (disco_blas_apply_thread_policy (), ==, 1);
  g_assert_cmpuint (disco_blas_get_threads (), ==, 1);
}

static void
test_parallel_pieces (void)
{
  g_test_summary ("disco_parallel_pieces(): a power of two, at least min items a piece, at "
                  "most max pieces; from the shape alone");

  g_assert_cmpuint (disco_parallel_pieces (0, 1, 16), ==, 1);
  g_assert_cmpuint (disco_parallel_pieces (7, 4, 16), ==, 1);
  g_assert_cmpuint (disco_parallel_pieces (8, 4, 16), ==, 2);
  g_assert_cmpuint (disco_parallel_pieces (100, 32, 16), ==, 2);
  g_assert_cmpuint (disco_parallel_pieces (100, 25, 16), ==, 4);
  g_assert_cmpuint (disco_parallel_pieces (100, 1, 16), ==, 16);
  g_assert_cmpuint (disco_parallel_pieces (100, 0, 16), ==, 16);
  g_assert_cmpuint (disco_parallel_pieces (1000, 10, 8), ==, 8);
  g_assert_cmpuint (disco_parallel_pieces (1000, 10, 6), ==, 4);
  g_assert_cmpuint (disco_parallel_pieces (1000, 10, 1), ==, 1);
}

typedef struct
{
  gint calls[64];
  gsize n_pieces;
  gint nested_total;
} CountJob;

static void
count_piece (gsize piece, gpointer data)
{
  CountJob *job = data;

  g_assert_cmpuint (piece, <, job->n_pieces);
  /* Inside a piece of a job of several, on any thread, with any count. */
  if (job->n_pieces > 1)
    g_assert_true (disco_parallel_in_job ());
  __atomic_fetch_add (&job->calls[piece], 1, __ATOMIC_RELAXED);
}

static void
nested_piece (gsize piece, gpointer data)
{
  CountJob *job = data, inner = { { 0 }, 5, 0 };

  count_piece (piece, job);
  /* A job from inside a piece runs in line, whole. */
  disco_parallel_run (inner.n_pieces, count_piece, &inner);
  for (gsize i = 0; i < inner.n_pieces; i++)
    g_assert_cmpint (inner.calls[i], ==, 1);
  __atomic_fetch_add (&job->nested_total, 1, __ATOMIC_RELAXED);
}

static gpointer
run_jobs_thread (gpointer data)
{
  for (guint round = 0; round < 200; round++)
    {
      CountJob job = { { 0 }, 1 + round % 17, 0 };

      disco_parallel_run (job.n_pieces, count_piece, &job);
      for (gsize i = 0; i < job.n_pieces; i++)
        if (job.calls[i] != 1)
          return GINT_TO_POINTER (FALSE);
    }
  return GINT_TO_POINTER (TRUE);
}

static void
test_parallel_run (void)
{
  const guint saved = disco_parallel_get_threads ();

  g_test_summary ("disco_parallel_run() calls every piece exactly once and returns after the "
                  "last, with 1 to 4 threads, nested, and from two threads at once; "
                  "disco_parallel_in_job() is TRUE in every piece of a job of several pieces "
                  "and FALSE after it, with any thread count");

  for (guint threads = 1; threads <= 4; threads++)
    {
      disco_parallel_set_threads (threads);
      g_assert_cmpuint (disco_parallel_get_threads (), ==, threads);
      for (gsize n = 0; n <= 40; n++)
        {
          CountJob job = { { 0 }, n, 0 };

          disco_parallel_run (n, count_piece, &job);
          for (gsize i = 0; i < n; i++)
            g_assert_cmpint (job.calls[i], ==, 1);
          g_assert_false (disco_parallel_in_job ());
        }
      {
        CountJob job = { { 0 }, 9, 0 };

        disco_parallel_run (job.n_pieces, nested_piece, &job);
        g_assert_cmpint (job.nested_total, ==, 9);
        g_assert_false (disco_parallel_in_job ());
      }
      {
        GThread *a = g_thread_new ("jobs-a", run_jobs_thread, NULL);
        GThread *b = g_thread_new ("jobs-b", run_jobs_thread, NULL);

        g_assert_true (GPOINTER_TO_INT (g_thread_join (a)));
        g_assert_true (GPOINTER_TO_INT (g_thread_join (b)));
      }
    }
  disco_parallel_set_threads (saved);
}

#ifdef G_OS_UNIX
typedef struct
{
  gpointer ran_on[8];
} ThreadsJob;

static void
slow_piece (gsize piece, gpointer data)
{
  ThreadsJob *job = data;

  job->ran_on[piece] = g_thread_self ();
  g_usleep (2000);
}

static void
test_parallel_fork (void)
{
  const guint saved = disco_parallel_get_threads ();
  CountJob job = { { 0 }, 16, 0 };
  pid_t child;
  int status = 0;

  g_test_summary ("After fork() the child's jobs run all their pieces, and on two threads: a "
                  "team of its own (the parent's workers do not exist there)");

  disco_parallel_set_threads (2);
  disco_parallel_run (job.n_pieces, count_piece, &job); /* the parent's worker exists */
  child = fork ();
  g_assert_cmpint (child, >=, 0);
  if (child == 0)
    {
      gboolean ok = TRUE;

      for (guint round = 0; round < 100 && ok; round++)
        {
          CountJob in_child = { { 0 }, 1 + round % 17, 0 };

          disco_parallel_run (in_child.n_pieces, count_piece, &in_child);
          for (gsize i = 0; i < in_child.n_pieces; i++)
            ok = ok && in_child.calls[i] == 1;
        }
      /* Eight 2 ms pieces: a worker of the child's own takes some. */
      {
        ThreadsJob slow = { { NULL } };
        guint distinct = 0;

        disco_parallel_run (8, slow_piece, &slow);
        for (guint i = 0; i < 8; i++)
          {
            gboolean seen = FALSE;

            for (guint k = 0; k < i; k++)
              seen = seen || slow.ran_on[k] == slow.ran_on[i];
            distinct += !seen;
          }
        ok = ok && distinct == 2;
      }
      _exit (ok ? 0 : 1);
    }
  g_assert_cmpint (waitpid (child, &status, 0), ==, child);
  g_assert_true (WIFEXITED (status));
  g_assert_cmpint (WEXITSTATUS (status), ==, 0);
  disco_parallel_set_threads (saved);
}
#endif

static void
fill_pattern (float *x, gsize n, guint seed)
{
  for (gsize i = 0; i < n; i++)
    x[i] = (float) ((i * 2654435761u + seed * 40503u) % 2001) / 1000.0f - 1.0f;
}

static void
test_parallel_same_bits (void)
{
  static const struct
  {
    gboolean ta, tb;
    gsize m, n, k;
  } shapes[] = {
    { FALSE, TRUE, 100, 256, 784 },   /* a layer's drive */
    { TRUE, FALSE, 256, 784, 100 },   /* its weight gradient */
    { FALSE, FALSE, 1000, 256, 256 }, /* a Jacobian chain */
    { FALSE, TRUE, 37, 300, 129 },    /* ragged */
  };
  const guint saved = disco_parallel_get_threads ();
  const DiscoSoftRectifier phi = { 1.0f, 1.0f, 0.0f };
  const gsize rows = 100, n = 256;

  g_test_summary ("The threaded CPU kernels give the same bits with 1, 2 and 3 threads "
                  "(GEMM, microcircuit RHS, φ, plasticity delta, Adam), and the GEMM's "
                  "pieces stay within float rounding of a double-precision product");

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      const gsize m = shapes[s].m, nn = shapes[s].n, k = shapes[s].k;
      g_autofree float *a = g_new (float, m *k);
      g_autofree float *b = g_new (float, k *nn);
      g_autofree float *c1 = g_new (float, m *nn);
      g_autofree float *c = g_new (float, m *nn);

      fill_pattern (a, m * k, 1);
      fill_pattern (b, k * nn, 2);
      for (guint threads = 1; threads <= 3; threads++)
        {
          disco_parallel_set_threads (threads);
          fill_pattern (c, m * nn, 3);
          disco_gemm_cpu (shapes[s].ta, shapes[s].tb, m, nn, k, 0.5f, a, shapes[s].ta ? m : k, b,
                          shapes[s].tb ? k : nn, 0.25f, c, nn);
          if (threads == 1)
            memcpy (c1, c, m * nn * sizeof (float));
          else
            g_assert_cmpmem (c, m * nn * sizeof (float), c1, m * nn * sizeof (float));
        }
      /* Spot checks against the product in double: |error| ≤ k·ε·Σ|terms|. */
      fill_pattern (c, m * nn, 3);
      for (gsize i = 0; i < m; i += 7)
        for (gsize j = 0; j < nn; j += 11)
          {
            double sum = 0, magnitude = 0;

            for (gsize l = 0; l < k; l++)
              {
                const double x = shapes[s].ta ? a[l * m + i] : a[i * k + l];
                const double y = shapes[s].tb ? b[j * k + l] : b[l * nn + j];

                sum += x * y;
                magnitude += fabs (x * y);
              }
            g_assert_cmpfloat_with_epsilon (c1[i * nn + j], 0.5 * sum + 0.25 * c[i * nn + j],
                                            0.5 * k * FLT_EPSILON * magnitude + 1e-6);
          }
    }

  {
    g_autofree float *u = g_new (float, rows * 2 * n);
    g_autofree float *drive = g_new (float, rows *n);
    g_autofree float *rate = g_new (float, rows *n);
    g_autofree float *dudt = g_new (float, rows * 2 * n);
    g_autofree float *delta = g_new (float, rows *n);
    g_autofree float *y0 = g_new (float, n);
    const gsize n_adam = 4 * rows * n; /* several pieces */
    g_autofree float *p = g_new (float, n_adam);
    g_autofree float *g = g_new (float, n_adam);
    g_autofree float *mo = g_new0 (float, n_adam);
    g_autofree float *vo = g_new0 (float, n_adam);
    g_autofree float *first = NULL;
    gsize size = 0;

    for (guint threads = 1; threads <= 3; threads++)
      {
        g_autoptr (GByteArray) out = g_byte_array_new ();

        disco_parallel_set_threads (threads);
        fill_pattern (u, rows * 2 * n, 4);
        fill_pattern (drive, rows * n, 5);
        fill_pattern (y0, n, 6);
        fill_pattern (p, n_adam, 7);
        fill_pattern (g, n_adam, 8);
        memset (mo, 0, n_adam * sizeof (float));
        memset (vo, 0, n_adam * sizeof (float));
        disco_microcircuit_rhs_cpu (&phi, &phi, 0.01f, 0.005f, rows, n, u, 2 * n, drive, n, NULL,
                                    NULL, rate, n, dudt, 2 * n);
        g_byte_array_append (out, (guint8 *) rate, rows * n * sizeof (float));
        g_byte_array_append (out, (guint8 *) dudt, rows * 2 * n * sizeof (float));
        disco_softrect_forward_fast_cpu (&phi, rows, 2 * n, u, 2 * n, dudt, 2 * n);
        g_byte_array_append (out, (guint8 *) dudt, rows * 2 * n * sizeof (float));
        disco_plasticity_delta_cpu (&phi, &phi, rows, n, u, 2 * n, y0, rate, n, delta, n);
        g_byte_array_append (out, (guint8 *) rate, rows * n * sizeof (float));
        g_byte_array_append (out, (guint8 *) delta, rows * n * sizeof (float));
        disco_threshold_update_cpu (&phi, 0.1f, rows, n, u + n, 2 * n, y0);
        g_byte_array_append (out, (guint8 *) y0, n * sizeof (float));
        disco_plasticity_delta_fast_cpu (&phi, &phi, rows, n, u, 2 * n, y0, rate, n, delta, n);
        g_byte_array_append (out, (guint8 *) rate, rows * n * sizeof (float));
        g_byte_array_append (out, (guint8 *) delta, rows * n * sizeof (float));
        disco_threshold_update_fast_cpu (&phi, 0.1f, rows, n, u + n, 2 * n, y0);
        g_byte_array_append (out, (guint8 *) y0, n * sizeof (float));
        for (guint step = 1; step <= 3; step++)
          disco_adam_update_cpu (n_adam, 1e-3, 0.9, 0.999, 1e-8, step, p, g, mo, vo);
        g_byte_array_append (out, (guint8 *) p, n_adam * sizeof (float));
        if (threads == 1)
          first = g_memdup2 (out->data, size = out->len);
        else
          g_assert_cmpmem (out->data, out->len, first, size);
      }
  }
  disco_parallel_set_threads (saved);
}

static void
test_rules_fast (void)
{
  const DiscoSoftRectifier phi_e = { 1.0f, 1.0f, 0.0f }, phi_i = { 0.5f, 2.0f, 0.25f };
  const gsize rows = 37, n = 300;
  g_autofree float *u = g_new (float, rows * 2 * n);
  g_autofree float *y0 = g_new (float, n);
  g_autofree float *y0_fast = g_new (float, n);
  g_autofree float *rate = g_new (float, rows *n);
  g_autofree float *delta = g_new (float, rows *n);
  g_autofree float *rate_fast = g_new (float, rows *n);
  g_autofree float *delta_fast = g_new (float, rows *n);

  g_test_summary ("The CPU table's plasticity delta and threshold update (vectorised φ, φ′) "
                  "agree with the libm references: rates and thresholds within 4e-6 relative, "
                  "δ within 1e-5 of its terms, for both rules");

  for (gsize i = 0; i < rows * 2 * n; i++)
    u[i] = (float) ((i * 2654435761u) % 4001) / 200.0f - 10.0f; /* [−10, 10] */
  for (gsize j = 0; j < n; j++)
    y0[j] = 0.05f + 0.01f * (j % 50);

  for (int linear = 0; linear <= 1; linear++)
    {
      disco_plasticity_delta_cpu (&phi_e, &phi_i, rows, n, u, 2 * n, linear ? y0 : NULL, rate, n,
                                  delta, n);
      disco_plasticity_delta_fast_cpu (&phi_e, &phi_i, rows, n, u, 2 * n, linear ? y0 : NULL,
                                       rate_fast, n, delta_fast, n);
      for (gsize s = 0; s < rows; s++)
        for (gsize j = 0; j < n; j++)
          {
            const gsize i = s * n + j;
            const float u_e = u[s * 2 * n + j], u_i = u[s * 2 * n + n + j];
            float a = 0, b = 0;
            double terms;

            if (linear)
              disco_softrect_taylor_line (&phi_i, y0[j], &a, &b);
            terms = fabs (linear ? a : u_i) + fabs (b * disco_softrect_forward (&phi_i, u_i))
                    + fabs (rate[i]);
            g_assert_cmpfloat (fabs (rate_fast[i] - rate[i]), <=, 4e-6 * fabs (rate[i]) + 1e-30);
            g_assert_cmpfloat (fabs (delta_fast[i] - delta[i]), <=,
                               1e-5 * terms * fabs (disco_softrect_derivative (&phi_e, u_e))
                                   + 1e-30);
          }
    }

  memcpy (y0_fast, y0, n * sizeof (float));
  disco_threshold_update_cpu (&phi_i, 0.1f, rows, n, u + n, 2 * n, y0);
  disco_threshold_update_fast_cpu (&phi_i, 0.1f, rows, n, u + n, 2 * n, y0_fast);
  for (gsize j = 0; j < n; j++)
    g_assert_cmpfloat (fabs (y0_fast[j] - y0[j]), <=, 4e-6 * fabs (y0[j]));
}

static void
test_sum_squares (void)
{
  g_autofree float *x = g_new (float, 1003);
  double acc = 0.5, expected = 0.5;

  g_test_summary ("sum_squares adds Σx² to a running double: exact for integers, across "
                  "calls, every length from 0 to 19 and an odd 1003; a weight gradient's "
                  "200,704 values (in pieces): the same bits on 1 and 2 threads, within 1e-12 "
                  "of a long double sum");

  for (gsize i = 0; i < 1003; i++)
    x[i] = (float) (i % 7) - 3.0f;
  for (gsize n = 0; n < 20; n++)
    {
      disco_sum_squares_cpu (n, x, &acc);
      for (gsize i = 0; i < n; i++)
        expected += (double) x[i] * x[i];
      g_assert_cmpfloat (acc, ==, expected);
    }
  disco_sum_squares_cpu (1003, x, &acc);
  for (gsize i = 0; i < 1003; i++)
    expected += (double) x[i] * x[i];
  g_assert_cmpfloat (acc, ==, expected);

  /* A weight gradient's size, in pieces: the same bits on 1 and 2 threads,
   * within 1e-12 of a long double sum. */
  {
    const gsize n = 784 * 256;
    const guint saved = disco_parallel_get_threads ();
    g_autoptr (GRand) rand = g_rand_new_with_seed (5);
    g_autofree float *big = g_new (float, n);
    long double reference = 0;
    double sums[2];

    for (gsize i = 0; i < n; i++)
      {
        big[i] = (float) g_rand_double_range (rand, -1e-3, 1e-3);
        reference += (long double) big[i] * big[i];
      }
    for (guint threads = 1; threads <= 2; threads++)
      {
        disco_parallel_set_threads (threads);
        sums[threads - 1] = 0;
        disco_sum_squares_cpu (n, big, &sums[threads - 1]);
      }
    disco_parallel_set_threads (saved);
    g_assert_cmpmem (&sums[0], sizeof (double), &sums[1], sizeof (double));
    g_assert_cmpfloat (fabsl (sums[0] - reference), <=, 1e-12 * reference);
  }
}

static void
test_column_mean (void)
{
  const gsize n_rows = 37, n_cols = 300, ldx = 311;
  g_autoptr (GRand) rand = g_rand_new_with_seed (9);
  g_autofree float *x = g_new (float, n_rows *ldx), *mean = g_new (float, n_cols);

  g_test_summary ("column_mean: each column's rows summed in order in double, divided by R: "
                  "bit for bit, over two chunks of columns and a row stride > C");
  for (gsize i = 0; i < n_rows * ldx; i++)
    x[i] = (float) g_rand_double_range (rand, -1, 1);
  disco_column_mean_cpu (n_rows, n_cols, x, ldx, mean);
  for (gsize j = 0; j < n_cols; j++)
    {
      double sum = 0;
      float expected;

      for (gsize r = 0; r < n_rows; r++)
        sum += x[r * ldx + j];
      expected = sum / n_rows;
      g_assert_cmpmem (&mean[j], sizeof (float), &expected, sizeof (float));
    }
}

static void
test_preconditions (void)
{
  float buf[4] = { 0 };

  g_test_summary ("Programmer errors (bad strides, missing arrays) are "
                  "criticals that return without touching memory");

  /* lda smaller than the row length. */
  g_test_expect_message ("Disco-Kernels", G_LOG_LEVEL_CRITICAL, "*lda >= MAX*");
  disco_gemm_cpu (FALSE, FALSE, 2, 2, 2, 1.0f, buf, 1, buf, 2, 0.0f, buf, 2);
  g_test_assert_expected_messages ();

  g_test_expect_message ("Disco-Kernels", G_LOG_LEVEL_CRITICAL, "*(x) != NULL*");
  disco_softrect_forward_cpu (&rectifiers[0], 2, 2, NULL, 2, buf, 2);
  g_test_assert_expected_messages ();

  g_test_expect_message ("Disco-Kernels", G_LOG_LEVEL_CRITICAL, "*ld >= n_cols*");
  disco_rk_combine_cpu (2, 3, 2, buf, buf, 0, NULL, NULL, buf);
  g_test_assert_expected_messages ();

  /* copy_rows between blocks that share memory (its CUDA twin runs the
   * elements in any order): refused, the destination untouched. */
  {
    float block[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    const float before[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
    float out[6] = { 0 };
    const float expected[6] = { 2, 3, 6, 7, 10, 11 };

    g_test_expect_message ("Disco-Kernels", G_LOG_LEVEL_CRITICAL, "*overlap*");
    disco_copy_rows_cpu (3, 2, block, 4, block + 2, 4);
    g_test_assert_expected_messages ();
    g_assert_cmpmem (block, sizeof block, before, sizeof before);
    g_assert_true (disco_row_blocks_overlap (3, 2, block, 4, block + 9, 1));
    g_assert_false (disco_row_blocks_overlap (2, 2, block, 4, block + 6, 4));
    /* Interleaved strides that never touch still span each other. */
    g_assert_true (disco_row_blocks_overlap (2, 2, block, 4, block + 2, 4));

    disco_copy_rows_cpu (3, 2, block + 1, 4, out, 2);
    g_assert_cmpmem (out, sizeof out, expected, sizeof expected);
  }

  /* Empty shapes need no storage. */
  disco_rms_rows_cpu (0, 5, NULL, 5, NULL);
  disco_gemm_cpu (FALSE, FALSE, 0, 3, 3, 1.0f, NULL, 3, NULL, 3, 0.0f, NULL, 3);
}

int
main (int argc, char **argv)
{
  /* No G_TEST_OPTION_ISOLATE_DIRS: these tests touch no files, and GLib
   * 2.74's g_set_user_dirs() leaks the strings it replaces, which would
   * make the AddressSanitizer build fail. */
  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/disco/kernels/softrect/forward", test_softrect_forward);
  g_test_add_func ("/disco/kernels/softrect/derivative", test_softrect_derivative);
  g_test_add_func ("/disco/kernels/softrect/inverse", test_softrect_inverse);
  g_test_add_func ("/disco/kernels/softrect/round-trip", test_softrect_round_trip);
  g_test_add_func ("/disco/kernels/softrect/taylor-line", test_softrect_taylor_line);
  g_test_add_func ("/disco/kernels/softrect/arrays", test_softrect_arrays);
  g_test_add_func ("/disco/kernels/gemm/transposes", test_gemm);
  g_test_add_func ("/disco/kernels/gemm/beta-zero", test_gemm_beta_zero);
  g_test_add_func ("/disco/kernels/axpy-rows", test_axpy_rows);
  g_test_add_func ("/disco/kernels/softmax-rows", test_softmax_rows);
  g_test_add_func ("/disco/kernels/rms-rows", test_rms_rows);
  g_test_add_func ("/disco/kernels/rk/combine", test_rk_combine);
  g_test_add_func ("/disco/kernels/rk/error-norm", test_rk_error_norm);
  g_test_add_func ("/disco/kernels/softrect/fast", test_softrect_fast);
  g_test_add_func ("/disco/kernels/softrect/slope-fast", test_softrect_slope_fast);
  g_test_add_func ("/disco/kernels/feedback-weights-rows", test_feedback_weights_rows);
  g_test_add_func ("/disco/kernels/softrect/fast-arrays", test_softrect_fast_arrays);
  g_test_add_func ("/disco/kernels/microcircuit-rhs", test_microcircuit_rhs);
  g_test_add_func ("/disco/kernels/rk/fast", test_rk_fast);
  g_test_add_func ("/disco/kernels/gemm/stats", test_gemm_stats);
  g_test_add_func ("/disco/kernels/blas-threads", test_blas_threads);
  g_test_add_func ("/disco/kernels/rules/fast", test_rules_fast);
  g_test_add_func ("/disco/kernels/sum-squares", test_sum_squares);
  g_test_add_func ("/disco/kernels/column-mean", test_column_mean);
  g_test_add_func ("/disco/kernels/parallel/pieces", test_parallel_pieces);
  g_test_add_func ("/disco/kernels/parallel/run", test_parallel_run);
#ifdef G_OS_UNIX
  g_test_add_func ("/disco/kernels/parallel/fork", test_parallel_fork);
#endif
  g_test_add_func ("/disco/kernels/parallel/same-bits", test_parallel_same_bits);
  g_test_add_func ("/disco/kernels/preconditions", test_preconditions);

  return g_test_run ();
}
