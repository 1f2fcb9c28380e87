/* test-cuda-learning.c: the learning kernels on CUDA against their CPU
 * references (disco-kernels-cuda-learning.cu vs disco-kernels-cpu.c), and
 * a backprop tick with device = cuda against the CPU's host table (its
 * tolerance is stated at test_backprop_tick()).
 *
 * Each case draws seeded random inputs for several odd shapes (a single
 * element, widths around a warp and a block, row strides wider than the
 * rows, as a layer inside the packed state), runs the CPU reference and the
 * CUDA kernel, and requires
 *
 *   |cuda − cpu| ≤ atol + rtol·|cpu|       (a NaN anywhere fails)
 *
 * with the tolerance stated and explained at each case.  Without a usable
 * CUDA device every case calls g_test_skip() with the reason.
 */

#include "disco-kernels-cuda.h"
#include "disco-kernels.h"
#include "disco-ops.h"
#include "disco/disco.h"

#include <float.h>
#include <math.h>
#include <string.h>
#include "gpu-test-common.h"
#include "test-pipeline-run.h"

/* Copies checked by gpu-test-common.c; sizes here in bytes. */
#define dev_upload gpu_test_upload
#define dev_download gpu_test_download

typedef struct
{
  gsize rows, cols, pad;
} Shape;

/* rows = samples of a minibatch (1 to the paper's 100), cols = neurons. */
static const Shape shapes[] = {
  { 1, 1, 0 }, { 3, 31, 2 }, { 4, 32, 0 }, { 7, 257, 43 }, { 100, 256, 0 }, { 33, 1000, 3 },
};

static const DiscoSoftRectifier rects[] = {
  { 1.0f, 1.0f, 0.0f }, /* softplus, the paper's φ */
  { 0.5f, 2.0f, 0.3f },
};

/* ---- device helpers: every call is checked, a failure fails the test ---- */

/* Compares a strided R×C block against per-element bounds atol[i] (or one
 * atol when @atol_each is NULL) plus rtol·|cpu|. */
static void
assert_close (const char *what, const float *cuda, const float *cpu, gsize rows, gsize cols,
              gsize ld, const float *atol_each, double atol, double rtol)
{
  for (gsize r = 0; r < rows; r++)
    for (gsize c = 0; c < cols; c++)
      {
        const double a = cuda[r * ld + c], b = cpu[r * ld + c];
        const double bound = (atol_each != NULL ? atol_each[r * ld + c] : atol) + rtol * fabs (b);

        if (isnan (a) || isnan (b) || !(fabs (a - b) <= bound))
          g_error ("%s: element [%" G_GSIZE_FORMAT ", %" G_GSIZE_FORMAT "] of %" G_GSIZE_FORMAT
                   "×%" G_GSIZE_FORMAT ": cuda %.9g, cpu %.9g (|Δ| %.3g > %.3g)",
                   what, r, c, rows, cols, a, b, fabs (a - b), bound);
      }
}

/* ---- plasticity ---- */

/* δ = (φ̂_I⁻¹ − r_E)·φ_E′(u_E).  Both sides evaluate the same inline φ,
 * φ′, φ⁻¹ (disco-kernels.h) and differ only in the maths library's expf,
 * logf, expm1f (≤ 2 ulp on CUDA, ≤ 1 in glibc): each term of the
 * difference carries ≲ 8 ulp relative, which the subtraction turns into an
 * absolute error on the magnitude of its terms, so the bound per element is
 *   atol = 1e-5 · (Σ |terms|) · |φ_E′| + 1e-30,  rtol 4e-6
 * with Σ|terms| = |u_I| + |r_E| (exact inverse) or |a| + |b·r_I| + |r_E|
 * (linear threshold; a = φ⁻¹(y₀) − y₀ b itself cancels, so |φ⁻¹(y₀)| and
 * |y₀ b| stand in for |a|).  1e-5 is about 80 ulp: the chain φ⁻¹ → φ′ →
 * 1/φ′ → a is four maths-library calls deep. */
static void
check_delta (GRand *rand, const DiscoSoftRectifier *phi_e, const DiscoSoftRectifier *phi_i,
             const Shape *sh, gboolean linear)
{
  const gsize R = sh->rows, n = sh->cols, ldu = 2 * n + sh->pad, ldo = n + sh->pad;
  g_autofree float *u = random_floats (rand, R * ldu, -4, 4);
  g_autofree float *y0 = random_floats (rand, n, 0.05 * phi_i->scale, 3 * phi_i->scale);
  g_autofree float *rate = g_new0 (float, R *ldo), *delta = g_new0 (float, R *ldo);
  g_autofree float *got_rate = g_new0 (float, R *ldo), *got_delta = g_new0 (float, R *ldo);
  g_autofree float *bound = g_new0 (float, R *ldo);
  float *du = dev_upload (u, R * ldu * sizeof (float));
  float *dy0 = dev_upload (y0, n * sizeof (float));
  float *drate = dev_upload (rate, R * ldo * sizeof (float));
  float *ddelta = dev_upload (delta, R * ldo * sizeof (float));
  g_autofree char *what = g_strdup_printf ("plasticity_delta %s %zu×%zu",
                                           linear ? "linear-threshold" : "exact-inverse", R, n);

  disco_plasticity_delta_cpu (phi_e, phi_i, R, n, u, ldu, linear ? y0 : NULL, rate, ldo, delta,
                              ldo);
  disco_plasticity_delta_cuda (phi_e, phi_i, R, n, du, ldu, linear ? dy0 : NULL, drate, ldo, ddelta,
                               ldo);
  for (gsize s = 0; s < R; s++)
    for (gsize j = 0; j < n; j++)
      {
        const float u_e = u[s * ldu + j], u_i = u[s * ldu + n + j];
        double terms = fabs (disco_softrect_forward (phi_e, u_e));

        if (linear)
          {
            float a, b;
            disco_softrect_taylor_line (phi_i, y0[j], &a, &b);
            terms += fabs (disco_softrect_inverse (phi_i, y0[j])) + fabs (y0[j] * b)
                     + fabs (b * disco_softrect_forward (phi_i, u_i));
          }
        else
          terms += fabs (u_i);
        bound[s * ldo + j] = 1e-5 * terms * fabs (disco_softrect_derivative (phi_e, u_e)) + 1e-30;
      }
  dev_download (got_rate, drate, R * ldo * sizeof (float));
  dev_download (got_delta, ddelta, R * ldo * sizeof (float));
  /* r_E is φ alone: test-cuda-kernels.c's φ tolerance, 4e-6 relative. */
  assert_close (what, got_rate, rate, R, n, ldo, NULL, 1e-30, 4e-6);
  assert_close (what, got_delta, delta, R, n, ldo, bound, 0, 4e-6);
  disco_cuda_free (du);
  disco_cuda_free (dy0);
  disco_cuda_free (drate);
  disco_cuda_free (ddelta);
}

static void
test_plasticity_delta (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (41);

  g_test_summary ("δ and r_E of both local rules on the device match the CPU within the "
                  "maths library's rounding, propagated through the difference");
  SKIP_WITHOUT_DEVICE ();

  for (guint r = 0; r < G_N_ELEMENTS (rects); r++)
    for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
      for (int linear = 0; linear <= 1; linear++)
        check_delta (rand, &rects[r], &rects[G_N_ELEMENTS (rects) - 1 - r], &shapes[s], linear);
}

static void
test_threshold_update (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (42);
  const float lambdas[] = { 1.0f, 0.3f };

  /* y₀ and every φ(u) are positive, so the mean has no cancellation: the
   * φ tolerance (4e-6 relative) carries over, doubled for the blend with
   * the old y₀; the double sums run in the same order on both sides. */
  g_test_summary ("The running threshold y₀ on the device matches the CPU within 8e-6 relative");
  SKIP_WITHOUT_DEVICE ();

  for (guint r = 0; r < G_N_ELEMENTS (rects); r++)
    for (guint l = 0; l < G_N_ELEMENTS (lambdas); l++)
      for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
        {
          const gsize R = shapes[s].rows, n = shapes[s].cols, ld = n + shapes[s].pad;
          g_autofree float *u = random_floats (rand, R * ld, -4, 4);
          g_autofree float *y0 = random_floats (rand, n, 0.1, 2);
          g_autofree float *got = g_new (float, n);
          float *du = dev_upload (u, R * ld * sizeof (float));
          float *dy0 = dev_upload (y0, n * sizeof (float));

          disco_threshold_update_cpu (&rects[r], lambdas[l], R, n, u, ld, y0);
          disco_threshold_update_cuda (&rects[r], lambdas[l], R, n, du, ld, dy0);
          dev_download (got, dy0, n * sizeof (float));
          assert_close ("threshold_update", got, y0, 1, n, n, NULL, 1e-30, 8e-6);
          disco_cuda_free (du);
          disco_cuda_free (dy0);
        }
}

static void
test_column_mean_and_sub_rows (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (43);

  /* Same double sum in row order, same division; one float subtraction. */
  g_test_summary ("The batch mean of δ (g_b) and y −= x (δ_out) are bit-identical to the CPU");
  SKIP_WITHOUT_DEVICE ();

  for (guint s = 0; s < G_N_ELEMENTS (shapes); s++)
    {
      const gsize R = shapes[s].rows, n = shapes[s].cols, ldx = n + shapes[s].pad;
      const gsize ldy = n + 2 * shapes[s].pad;
      g_autofree float *x = random_floats (rand, R * ldx, -3, 3);
      g_autofree float *y = random_floats (rand, R * ldy, -3, 3);
      g_autofree float *mean = g_new (float, n), *got_mean = g_new (float, n);
      g_autofree float *got_y = g_new (float, R *ldy);
      float *dx = dev_upload (x, R * ldx * sizeof (float));
      float *dy = dev_upload (y, R * ldy * sizeof (float));
      float *dmean = dev_upload (NULL, n * sizeof (float));

      disco_column_mean_cpu (R, n, x, ldx, mean);
      disco_column_mean_cuda (R, n, dx, ldx, dmean);
      disco_sub_rows_cpu (R, n, x, ldx, y, ldy);
      disco_sub_rows_cuda (R, n, dx, ldx, dy, ldy);
      dev_download (got_mean, dmean, n * sizeof (float));
      dev_download (got_y, dy, R * ldy * sizeof (float));
      assert_close ("column_mean", got_mean, mean, 1, n, n, NULL, 0, 0);
      assert_close ("sub_rows", got_y, y, R, n, ldy, NULL, 0, 0);
      disco_cuda_free (dx);
      disco_cuda_free (dy);
      disco_cuda_free (dmean);
    }
}

static void
test_gradient_norm (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (44);
  /* The gradients of the paper's 784-256-256-256-10 network's first layer
   * and a few odd sizes, summed into one running double. */
  const gsize sizes[] = { 1, 31, 257, 784 * 256, 256 };
  double acc = 0, got_acc = -1;
  float norm, got_norm;
  double *dacc;
  float *dnorm;

  /* The device sums in another order, in double: the difference is ~1e-16
   * relative, and only the final rounding to float can show it (1 ulp). */
  g_test_summary ("The norm of all gradients on the device matches the CPU within 2 ulp, and "
                  "norm_finish leaves the running sum at 0");
  SKIP_WITHOUT_DEVICE ();

  dacc = dev_upload (&acc, sizeof (double));
  dnorm = dev_upload (NULL, sizeof (float));
  for (guint i = 0; i < G_N_ELEMENTS (sizes); i++)
    {
      g_autofree float *g = random_floats (rand, sizes[i], -1e-2, 1e-2);
      float *dg = dev_upload (g, sizes[i] * sizeof (float));

      disco_sum_squares_cpu (sizes[i], g, &acc);
      disco_sum_squares_cuda (sizes[i], dg, dacc);
      dev_download (&got_acc, dacc, sizeof (double));
      g_assert_cmpfloat (fabs (got_acc - acc), <=, 1e-12 * acc);
      disco_cuda_free (dg);
    }
  disco_norm_finish_cpu (&acc, &norm);
  disco_norm_finish_cuda (dacc, dnorm);
  dev_download (&got_norm, dnorm, sizeof (float));
  dev_download (&got_acc, dacc, sizeof (double));
  assert_close ("norm_finish", &got_norm, &norm, 1, 1, 1, NULL, 0, 2 * FLT_EPSILON);
  g_assert_cmpfloat (acc, ==, 0);
  g_assert_cmpfloat (got_acc, ==, 0);
  disco_cuda_free (dacc);
  disco_cuda_free (dnorm);
}

/* ---- optimizers ---- */

static void
test_sgd (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (45);
  const gsize sizes[] = { 1, 31, 257, 784 * 256 + 3 };
  const double momenta[] = { 0.0, 0.9 };

  g_test_summary ("Five momentum-SGD steps on the device are bit-identical to the CPU (lr and "
                  "μ rounded on the host alike; -fmad=false keeps μ·b + g two roundings)");
  SKIP_WITHOUT_DEVICE ();

  for (guint k = 0; k < G_N_ELEMENTS (momenta); k++)
    for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
      {
        const gsize n = sizes[s];
        g_autofree float *p = random_floats (rand, n, -1, 1);
        /* Garbage in the fresh velocity: step 1 must not read it. */
        g_autofree float *b = random_floats (rand, n, -1e3, 1e3);
        g_autofree float *got = g_new (float, n);
        float *dp = dev_upload (p, n * sizeof (float)), *db = dev_upload (b, n * sizeof (float));

        for (guint64 step = 1; step <= 5; step++)
          {
            g_autofree float *g = random_floats (rand, n, -1e-2, 1e-2);
            float *dg = dev_upload (g, n * sizeof (float));

            disco_sgd_update_cpu (n, 1e-2, momenta[k], step, p, g, b);
            disco_sgd_update_cuda (n, 1e-2, momenta[k], step, dp, dg, db);
            disco_cuda_free (dg);
          }
        dev_download (got, dp, n * sizeof (float));
        assert_close ("sgd p", got, p, 1, n, n, NULL, 0, 0);
        dev_download (got, db, n * sizeof (float));
        assert_close ("sgd velocity", got, b, 1, n, n, NULL, 0, 0);
        disco_cuda_free (dp);
        disco_cuda_free (db);
      }
}

static void
test_ops_table (void)
{
  const DiscoOps *cpu = disco_ops_cpu (), *cuda = disco_ops_cuda ();
  float x[4] = { 1, 2, 3, 4 }, y[4] = { 5, 7, 9, 11 }, y_ref[4] = { 5, 7, 9, 11 };
  guint64 before;

  g_test_summary ("Both operations tables carry the learning entries: the CUDA table its "
                  "kernels' twins, the host table its kernels behind its operation count");
  g_assert_true (cuda->plasticity_delta == disco_plasticity_delta_cuda);
  g_assert_true (cuda->threshold_update == disco_threshold_update_cuda);
  g_assert_true (cuda->column_mean == disco_column_mean_cuda);
  g_assert_true (cuda->sub_rows == disco_sub_rows_cuda);
  g_assert_true (cuda->sum_squares == disco_sum_squares_cuda);
  g_assert_true (cuda->norm_finish == disco_norm_finish_cuda);
  g_assert_true (cuda->adam_update == disco_adam_update_cuda);
  g_assert_true (cuda->sgd_update == disco_sgd_update_cuda);
  g_assert_true (cuda->softmax_rows == disco_softmax_rows_cuda);
  g_assert_true (cuda->get_operation_count == disco_cuda_get_launch_count);

  /* The host table wraps each kernel to count it. */
  g_assert_nonnull (cpu->plasticity_delta);
  g_assert_nonnull (cpu->threshold_update);
  g_assert_nonnull (cpu->column_mean);
  g_assert_nonnull (cpu->sum_squares);
  g_assert_nonnull (cpu->norm_finish);
  g_assert_nonnull (cpu->adam_update);
  g_assert_nonnull (cpu->sgd_update);
  g_assert_nonnull (cpu->softmax_rows);
  before = cpu->get_operation_count ();
  cpu->sub_rows (2, 2, x, 2, y, 2);
  disco_sub_rows_cpu (2, 2, x, 2, y_ref, 2);
  g_assert_cmpmem (y, sizeof y, y_ref, sizeof y_ref);
  g_assert_cmpuint (cpu->get_operation_count (), ==, before + 1);
}

/* ---- a backprop tick: the whole rule on the CUDA table ---- */

/* The backprop baseline on the digits fixture (64 → 32 rate units → 10),
 * minibatches of 10 in the training phase, with @device; @limit samples. */
static DiscoPipeline *
run_backprop_on (const char *device, const char *limit)
{
  g_autofree char *data = gpu_test_digits_fixture ();
  g_autofree char *text = g_strdup_printf (
      "[pipeline]\ndevice = %s\nseed = 0\n"
      "[data]\nnode = digits-loader\npath = %s\nepochs = 1\nbatch-size = 10\nphases = train\n"
      "[h1]\nnode = rate-layer\ninput = data.images\nsize = 32\n"
      "[out]\nnode = readout\ninput = h1\nsize = 10\n"
      "[settle]\nnode = integrator\nnetwork = out\n"
      "[learn]\nnode = plasticity\nrule = backprop\nstate = settle\ntarget = data.targets\n"
      "[adam]\nnode = adam\ngradients = learn\nlearning-rate = 0.001\n",
      device, data);
  const char *overrides[] = { limit, NULL };

  return test_run_text (text, overrides);
}

/* One training tick of backprop (then Adam) with device = cuda against the
 * CPU's host table, gradients first: on the first tick both start from the
 * same weights, so the gradients differ by rounding only: φ (CUDA's
 * expf/logf against the host table's fast φ, ≤ 4e-6 relative), the
 * GEMMs' summation order (cuBLAS against OpenBLAS, ~1e-6 relative at these
 * depths), the softmax (4e-6, test-cuda-kernels.c), each a few roundings
 * deep.  δ_out = softmax(y) − t and the batch sums g = δᵀR/B cancel, so the
 * bound is taken on each tensor's scale: |Δ| ≤ 1e-4·max|cpu| (some 10× the
 * ~1e-5 those roundings can reach after cancellation).  Then three ticks:
 * Adam's first steps are ±lr wherever a gradient's sign is decided by
 * rounding, so a weight may differ by up to 2·lr per tick, and on the whole
 * they must agree far closer (mean |Δ| ≤ 1e-5), as in
 * test-cuda-integrator.c's training case. */
static void
test_backprop_tick (void)
{
  const char *gradients[] = { "h1.weight", "h1.bias", "out.weight" };
  const char *params[] = { "h1.weight", "h1.bias", "out.weight" };

  g_test_summary ("A backprop tick on CUDA (rate layers solved in lockstep, the forward and "
                  "backward passes, Adam) agrees with the CPU's host table: gradients within "
                  "1e-4 of scale, weights after three ticks within 2·lr");
  SKIP_WITHOUT_BACKEND ();

  {
    g_autoptr (DiscoPipeline) cuda = run_backprop_on ("cuda", "data.limit=10");
    g_autoptr (DiscoPipeline) cpu = run_backprop_on ("cpu", "data.limit=10");
    DiscoNode *learn_cuda = disco_pipeline_get_node (cuda, "learn");
    DiscoNode *learn_cpu = disco_pipeline_get_node (cpu, "learn");

    g_assert_cmpint (disco_pipeline_get_active_device (cuda), ==, DISCO_DEVICE_CUDA);
    for (guint i = 0; i <= G_N_ELEMENTS (gradients); i++)
      {
        const gboolean norm = i == G_N_ELEMENTS (gradients);
        DiscoTensor *a = norm ? disco_node_get_output (learn_cuda, "gradients")
                              : disco_node_get_gradient (learn_cuda, gradients[i]);
        DiscoTensor *b = norm ? disco_node_get_output (learn_cpu, "gradients")
                              : disco_node_get_gradient (learn_cpu, gradients[i]);
        double scale, mean, worst = test_tensor_difference (a, b, &scale, &mean);

        g_test_message ("gradient %s: largest |cuda − cpu| %.3g of max |cpu| %.3g (%.3g)",
                        norm ? "norm" : gradients[i], worst, scale, worst / scale);
        g_assert_cmpfloat (scale, >, 0);
        g_assert_cmpfloat (worst, <=, 1e-4 * scale);
      }
  }
  {
    g_autoptr (DiscoPipeline) cuda = run_backprop_on ("cuda", "data.limit=30");
    g_autoptr (DiscoPipeline) cpu = run_backprop_on ("cpu", "data.limit=30");

    for (guint i = 0; i < G_N_ELEMENTS (params); i++)
      {
        double scale, mean,
            worst = test_tensor_difference (disco_pipeline_find_parameter (cuda, params[i]),
                                            disco_pipeline_find_parameter (cpu, params[i]), &scale,
                                            &mean);

        g_test_message ("%s after three ticks: largest difference %.3g, mean %.3g", params[i],
                        worst, mean);
        g_assert_cmpfloat (worst, <=, 2 * 0.001 * 3);
        g_assert_cmpfloat (mean, <=, 1e-5);
      }
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  gpu_test_init ();

  g_test_add_func ("/disco/cuda-learning/plasticity-delta", test_plasticity_delta);
  g_test_add_func ("/disco/cuda-learning/threshold-update", test_threshold_update);
  g_test_add_func ("/disco/cuda-learning/column-mean-sub-rows", test_column_mean_and_sub_rows);
  g_test_add_func ("/disco/cuda-learning/gradient-norm", test_gradient_norm);
  g_test_add_func ("/disco/cuda-learning/sgd", test_sgd);
  g_test_add_func ("/disco/cuda-learning/ops-table", test_ops_table);
  g_test_add_func ("/disco/cuda-learning/backprop-tick", test_backprop_tick);

  return g_test_run ();
}
