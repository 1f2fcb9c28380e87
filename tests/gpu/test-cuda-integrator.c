/* test-cuda-integrator.c: the integrator on the CUDA table against the host
 * table.
 *
 * 1. The closed loop's and the feedback weights' kernels
 *    (disco-kernels-cuda-feedback.cu) against their CPU references on
 *    seeded inputs, |cuda − cpu| ≤ atol + rtol·|cpu|:
 *      top_down_rows, copy_rows, gather_rows, feedback_normalize's average and clip,
 *      leaky_pi_rows (MSE): bit-identical (the same float operations in
 *      the same order, no FMA: -fmad=false);
 *      leaky_pi_rows (softmax), slope_scale_rows: rtol 1e-6 (CUDA's expf
 *      against glibc's, or for φ′ against this project's vectorised exp
 *      (disco_softrect_derivative_fast_row(), within 4 ulp of glibc's), a
 *      few roundings after; 2e-6 in place and for feedback_weights_rows,
 *      which normalises too), plus for
 *      leaky_pi_rows an atol for the cancellation in e = y* − softmax(y):
 *      1e-7 on c, 1e-5 on the derivatives (c/τ_out with τ_out = 0.02 s);
 *      feedback_normalize's norm: rtol 1e-6 (the Σ q² in double in a tree
 *      order, then one float rounding of the scale).
 * 2. One training pipeline (digits fixture, 64 → 32 E–I units → 10 under a
 *    leaky-PI, two minibatches of 10, training phase so both loops run)
 *    with device = cuda against device = cpu (the host table).  The
 *    right-hand sides differ by rounding (φ, cuBLAS's summation order), the
 *    solves contract towards their fixed points, and the steady-state test
 *    may stop a sample one step earlier or later (see
 *    test-cuda-ode-batched.c), so: open-loop steps within ±1, states,
 *    outputs, control and feedback weights within 1e-4 + 1e-3·|cpu|.
 * 3. The same pipeline with method = equilibrium, wholly on the CUDA table
 *    (Newton solves, closed-loop start, ODE fallback): the GEMMs differ in
 *    summation order and φ in rounding, the fixed points are contractions
 *    (test-cuda-equilibrium.c), so states, outputs, control and feedback
 *    weights agree within 1e-4 + 1e-3·|cpu|, the open loop's unit sweeps
 *    (steps) within ±1, and as many samples fall back; with
 *    newton-max-iterations = 1 every closed loop falls back to the
 *    compacting ODE solver on the CUDA table, whose steps agree within ±1
 *    (the steady-state test, as above).  The table operations (launches)
 *    of the minibatch are reported.
 * 4. Three training minibatches as in 2's training case, with
 *    method = equilibrium: the same bounds on the parameters.
 *
 * Without a usable CUDA device every case calls g_test_skip() with the
 * reason.
 */
#include <disco/disco.h>
#include "disco-kernels-cuda.h"
#include "disco-kernels.h"

#include <math.h>
#include <string.h>
#include "gpu-test-common.h"
#include "test-pipeline-run.h"

/* Copies checked by gpu-test-common.c; sizes here in floats. */
#define dev_upload(host, n) ((float *) gpu_test_upload ((host), (n) * sizeof (float)))
#define dev_download(host, dev, n) gpu_test_download ((host), (dev), (n) * sizeof (float))

static void
random_fill (GRand *rand, float *x, gsize n, double lo, double hi)
{
  for (gsize i = 0; i < n; i++)
    x[i] = g_rand_double_range (rand, lo, hi);
}

static void
assert_close (const char *what, const float *got, const float *ref, gsize n, double atol,
              double rtol)
{
  double worst = 0;

  for (gsize i = 0; i < n; i++)
    {
      double diff = fabs ((double) got[i] - ref[i]);

      g_assert_true (isfinite (got[i]) && isfinite (ref[i]));
      if (diff > atol + rtol * fabs (ref[i]))
        g_error ("%s[%" G_GSIZE_FORMAT "]: cuda %.9g, cpu %.9g", what, i, got[i], ref[i]);
      worst = MAX (worst, diff);
    }
  g_test_message ("%s: %" G_GSIZE_FORMAT " values, max |cuda − cpu| = %.3g", what, n, worst);
}

#define B 37
#define O 10
#define NU 70
#define LD (NU + 5)

static void
test_kernels (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (5);
  const DiscoSoftRectifier rect = { 1.0f, 1.0f, 0.0f };
  g_autofree float *y = g_new (float, B *LD), *t = g_new (float, B *O);
  g_autofree float *q = g_new (float, B *O *NU), *u = g_new (float, B *LD);
  g_autofree float *c = g_new (float, B *O), *ref = g_new (float, B *O *NU);
  g_autofree float *got = g_new (float, B *O *NU), *f = g_new (float, B *LD);
  g_autofree float *f_ref = g_new (float, B *LD);
  float *d_y, *d_t, *d_q, *d_u, *d_c, *d_f, *d_out;

  g_test_summary ("The closed loop's and the feedback weights' CUDA kernels agree with their "
                  "CPU references");
  SKIP_WITHOUT_DEVICE ();

  random_fill (rand, y, B * LD, -3, 3);
  random_fill (rand, t, B * O, 0, 1);
  random_fill (rand, q, B * O * NU, -1, 1);
  random_fill (rand, u, B * LD, -4, 4);
  random_fill (rand, f, B * LD, -1, 1);
  d_y = dev_upload (y, B * LD);
  d_t = dev_upload (t, B * O);
  d_q = dev_upload (q, B * O * NU);
  d_u = dev_upload (u, B * LD);
  d_c = dev_upload (c, B * O);
  d_f = dev_upload (f, B * LD);
  d_out = dev_upload (q, B * O * NU);

  /* leaky_pi_rows: y block at column 0, c_int at column O, stride LD. */
  for (int softmax = 0; softmax <= 1; softmax++)
    {
      memcpy (f_ref, f, B * LD * sizeof (float));
      disco_leaky_pi_rows_cpu (softmax, 0.2f, 0.4f, 1.0f, 0.1f, 0.02f, B, O, y, y + O, LD, t, ref,
                               f_ref, f_ref + O, LD);
      g_assert_true (disco_cuda_copy_to_device (d_f, f, B * LD * sizeof (float), NULL));
      disco_leaky_pi_rows_cuda (softmax, 0.2f, 0.4f, 1.0f, 0.1f, 0.02f, B, O, d_y, d_y + O, LD, d_t,
                                d_c, d_f, d_f + O, LD);
      dev_download (got, d_c, B * O);
      assert_close (softmax ? "leaky_pi_rows softmax: c" : "leaky_pi_rows mse: c", got, ref, B * O,
                    softmax ? 1e-7 : 0, softmax ? 1e-6 : 0);
      dev_download (got, d_f, B * LD);
      assert_close (softmax ? "leaky_pi_rows softmax: f" : "leaky_pi_rows mse: f", got, f_ref,
                    B * LD, softmax ? 1e-5 : 0, softmax ? 1e-6 : 0);
    }

  /* top_down_rows on the u_I-like block at column 3 of f. */
  random_fill (rand, c, B * O, -1, 1);
  g_assert_true (disco_cuda_copy_to_device (d_c, c, B * O * sizeof (float), NULL));
  g_assert_true (disco_cuda_copy_to_device (d_f, f, B * LD * sizeof (float), NULL));
  memcpy (f_ref, f, B * LD * sizeof (float));
  disco_top_down_rows_cpu (0.005f, B, O, NU, c, q, f_ref + 3, LD);
  disco_top_down_rows_cuda (0.005f, B, O, NU, d_c, d_q, d_f + 3, LD);
  dev_download (got, d_f, B * LD);
  assert_close ("top_down_rows", got, f_ref, B * LD, 0, 0);

  /* slope_scale_rows: broadcast one O × NU matrix, then in place. */
  disco_slope_scale_rows_cpu (&rect, B, O, NU, u, LD, q, 0, ref);
  disco_slope_scale_rows_cuda (&rect, B, O, NU, d_u, LD, d_q, 0, d_out);
  dev_download (got, d_out, B * O * NU);
  assert_close ("slope_scale_rows broadcast", got, ref, B * O * NU, 0, 1e-6);
  disco_slope_scale_rows_cpu (&rect, B, O, NU, u + 1, LD, ref, O * NU, ref);
  disco_slope_scale_rows_cuda (&rect, B, O, NU, d_u + 1, LD, d_out, O * NU, d_out);
  dev_download (got, d_out, B * O * NU);
  assert_close ("slope_scale_rows in place", got, ref, B * O * NU, 0, 2e-6);

  /* feedback_normalize: each option alone, then all three. */
  {
    const struct
    {
      gboolean average;
      float clip, norm;
      double rtol;
    } cases[] = {
      { TRUE, 0, 0, 0 },
      { FALSE, 0.3f, 0, 0 },
      { FALSE, 0, 1, 1e-6 },
      { TRUE, 0.05f, 2, 1e-6 },
    };

    for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
      {
        g_autofree char *what = g_strdup_printf ("feedback_normalize case %u", i);

        memcpy (ref, q, B * O * NU * sizeof (float));
        g_assert_true (disco_cuda_copy_to_device (d_out, q, B * O * NU * sizeof (float), NULL));
        disco_feedback_normalize_cpu (B, O * NU, cases[i].average, cases[i].clip, cases[i].norm,
                                      ref);
        disco_feedback_normalize_cuda (B, O * NU, cases[i].average, cases[i].clip, cases[i].norm,
                                       d_out);
        dev_download (got, d_out, B * O * NU);
        assert_close (what, got, ref, B * O * NU, 0, cases[i].rtol);
      }
  }

  /* feedback_weights_rows: per-sample Q of the O·NU-strided Jacobians,
   * clipped and normalised (slope_scale_rows' and feedback_normalize's
   * tolerances). */
  disco_feedback_weights_rows_cpu (&rect, B, O, NU, u + 1, LD, q, O * NU, 0.05f, 1.0f, ref);
  disco_feedback_weights_rows_cuda (&rect, B, O, NU, d_u + 1, LD, d_q, O * NU, 0.05f, 1.0f, d_out);
  dev_download (got, d_out, B * O * NU);
  assert_close ("feedback_weights_rows", got, ref, B * O * NU, 0, 2e-6);

  /* copy_rows out of a strided block. */
  disco_copy_rows_cpu (B, NU, u + 2, LD, ref, NU);
  disco_copy_rows_cuda (B, NU, d_u + 2, LD, d_out, NU);
  dev_download (got, d_out, B * NU);
  assert_close ("copy_rows", got, ref, B * NU, 0, 0);

  /* gather_rows (the compacting solver's packed rows), rows out of order. */
  {
    guint rows[B];
    guint *d_rows;

    for (guint r = 0; r < B; r++)
      rows[r] = (guint) (B - 1 - r);
    d_rows = gpu_test_upload (rows, sizeof rows);
    disco_gather_rows_cpu (B, NU, rows, u + 1, LD, ref, NU);
    disco_gather_rows_cuda (B, NU, d_rows, d_u + 1, LD, d_out, NU);
    dev_download (got, d_out, B * NU);
    assert_close ("gather_rows", got, ref, B * NU, 0, 0);
    disco_cuda_free (d_rows);
  }

  disco_cuda_free (d_y);
  disco_cuda_free (d_t);
  disco_cuda_free (d_q);
  disco_cuda_free (d_u);
  disco_cuda_free (d_c);
  disco_cuda_free (d_f);
  disco_cuda_free (d_out);
}

typedef struct
{
  const char *node;
  const char *port;
} Probe;

static const Probe probes[] = {
  { "settle", "output" },       { "settle", "state" },   { "settle", "open-loop-state" },
  { "settle", "steps" },        { "control", "output" }, { "control", "integral" },
  { "h1", "feedback-weights" }, { "h1", "output" },
};

static DiscoPipeline *
run_text_on (const char *device, const char *learning, const char *limit)
{
  g_autofree char *data = gpu_test_digits_fixture ();
  g_autofree char *text = g_strdup_printf (
      "[pipeline]\ndevice = %s\nseed = 0\n"
      "[data]\nnode = digits-loader\npath = %s\nepochs = 1\nbatch-size = 10\nphases = train\n"
      "[h1]\nnode = microcircuit\ninput = data.images\nsize = 32\nfeedback = control\n"
      "[out]\nnode = readout\ninput = h1\nsize = 10\nfeedback = control\n"
      "[control]\nnode = leaky-pi\nprediction = out\ntarget = data.targets\n"
      "[settle]\nnode = integrator\nnetwork = out\n%s",
      device, data, learning);
  const char *overrides[] = { limit, NULL };

  return test_run_text (text, limit != NULL ? overrides : NULL);
}

static DiscoPipeline *
run_on (const char *device)
{
  return run_text_on (device, "", NULL);
}

/* The probes of @cuda against @cpu: steps within ±@steps_atol, the rest
 * within 1e-4 + 1e-3·|cpu|. */
static void
assert_probes_close (DiscoPipeline *cuda, DiscoPipeline *cpu, double steps_atol)
{
  for (guint i = 0; i < G_N_ELEMENTS (probes); i++)
    {
      DiscoTensor *a =
          disco_node_get_output (disco_pipeline_get_node (cuda, probes[i].node), probes[i].port);
      DiscoTensor *b =
          disco_node_get_output (disco_pipeline_get_node (cpu, probes[i].node), probes[i].port);
      g_autofree char *what = g_strdup_printf ("%s.%s", probes[i].node, probes[i].port);
      gsize n = disco_tensor_get_n_elements (b);

      g_assert_nonnull (a);
      g_assert_cmpuint (disco_tensor_get_n_elements (a), ==, n);
      if (strcmp (probes[i].port, "steps") == 0)
        assert_close (what, disco_tensor_read_host (a, NULL), disco_tensor_read_host (b, NULL), n,
                      steps_atol, 0);
      else
        assert_close (what, disco_tensor_read_host (a, NULL), disco_tensor_read_host (b, NULL), n,
                      1e-4, 1e-3);
    }
}

static void
test_pipeline (void)
{
  g_autoptr (DiscoPipeline) cuda = NULL;
  g_autoptr (DiscoPipeline) cpu = NULL;
  double cuda_time, cpu_time;
  guint syncs;

  g_test_summary ("A training tick of the integrator on CUDA (open loop, feedback weights, "
                  "closed loop) agrees with the CPU's host table");
  SKIP_WITHOUT_BACKEND ();

  cuda = run_on ("cuda");
  g_assert_cmpint (disco_pipeline_get_active_device (cuda), ==, DISCO_DEVICE_CUDA);
  cpu = run_on ("cpu");
  g_object_get (disco_pipeline_get_node (cuda, "settle"), "last-solve-seconds", &cuda_time,
                "last-host-syncs", &syncs, NULL);
  g_object_get (disco_pipeline_get_node (cpu, "settle"), "last-solve-seconds", &cpu_time, NULL);
  g_test_message ("last minibatch: cuda %.2f ms (%u host syncs), cpu %.2f ms", 1e3 * cuda_time,
                  syncs, 1e3 * cpu_time);
  assert_probes_close (cuda, cpu, 1);
}

/* The integrator's settings after "[settle]" for the equilibrium cases. */
static const char *const equilibrium_settings[] = {
  "method = equilibrium\n",
  "method = equilibrium\nnewton-max-iterations = 1\n",
};

static void
test_equilibrium (gconstpointer data)
{
  const char *settings = data;
  g_autoptr (DiscoPipeline) cuda = NULL;
  g_autoptr (DiscoPipeline) cpu = NULL;
  guint64 cuda_fallbacks, cpu_fallbacks, operations;
  double cuda_time, cpu_time;

  g_test_summary ("A training tick of method = equilibrium on the CUDA table (Newton solves, "
                  "feedback weights, closed loop, ODE fallback) agrees with the host table");
  SKIP_WITHOUT_BACKEND ();

  cuda = run_text_on ("cuda", settings, NULL);
  g_assert_cmpint (disco_pipeline_get_active_device (cuda), ==, DISCO_DEVICE_CUDA);
  cpu = run_text_on ("cpu", settings, NULL);
  g_object_get (disco_pipeline_get_node (cuda, "settle"), "last-solve-seconds", &cuda_time,
                "fallbacks", &cuda_fallbacks, "last-operations", &operations, NULL);
  g_object_get (disco_pipeline_get_node (cpu, "settle"), "last-solve-seconds", &cpu_time,
                "fallbacks", &cpu_fallbacks, NULL);
  g_test_message ("last minibatch: cuda %.2f ms (%" G_GUINT64_FORMAT " table operations), "
                  "cpu %.2f ms; fallbacks cuda %" G_GUINT64_FORMAT ", cpu %" G_GUINT64_FORMAT,
                  1e3 * cuda_time, operations, 1e3 * cpu_time, cuda_fallbacks, cpu_fallbacks);
  g_assert_cmpuint (cuda_fallbacks, ==, cpu_fallbacks);
  if (strstr (settings, "newton-max-iterations = 1") != NULL)
    g_assert_cmpuint (cuda_fallbacks, >, 0);
  /* The states stayed on the device. */
  g_assert_cmpint (disco_tensor_get_device (disco_node_get_output (
                       disco_pipeline_get_node (cuda, "settle"), "open-loop-state")),
                   ==, DISCO_DEVICE_CUDA);
  assert_probes_close (cuda, cpu, 1);
}

/* Three training minibatches of 10 digits with the linear-threshold rule
 * and Adam, everything on the device; @data: the integrator's settings.
 * Adam's step is ±lr wherever a gradient's sign is decided by rounding, so
 * a weight may differ by up to 2·lr per tick; on the whole they must agree
 * far closer. */
static void
test_training (gconstpointer data)
{
  g_autofree char *learning =
      g_strconcat ((const char *) data,
                   "[learn]\nnode = plasticity\nstate = settle\nrule = linear-threshold\n"
                   "[adam]\nnode = adam\ngradients = learn\nlearning-rate = 0.001\n",
                   NULL);
  const char *params[] = { "h1.weight", "h1.bias", "out.weight" };
  g_autoptr (DiscoPipeline) cuda = NULL;
  g_autoptr (DiscoPipeline) cpu = NULL;

  g_test_summary ("Three training minibatches (linear threshold, Adam) on CUDA agree with "
                  "the CPU");
  SKIP_WITHOUT_BACKEND ();
  cuda = run_text_on ("cuda", learning, "data.limit=30");
  g_assert_cmpint (disco_pipeline_get_active_device (cuda), ==, DISCO_DEVICE_CUDA);
  cpu = run_text_on ("cpu", learning, "data.limit=30");
  for (guint i = 0; i < G_N_ELEMENTS (params); i++)
    {
      DiscoTensor *a = disco_pipeline_find_parameter (cuda, params[i]);
      DiscoTensor *b = disco_pipeline_find_parameter (cpu, params[i]);
      const float *x = disco_tensor_read_host (a, NULL), *y = disco_tensor_read_host (b, NULL);
      gsize n = disco_tensor_get_n_elements (b);
      double worst = 0, mean = 0;

      g_assert_cmpuint (disco_tensor_get_n_elements (a), ==, n);
      for (gsize j = 0; j < n; j++)
        {
          double d = fabs ((double) x[j] - y[j]);
          worst = MAX (worst, d);
          mean += d / n;
        }
      g_test_message ("%s: largest difference %.3g, mean %.3g", params[i], worst, mean);
      g_assert_cmpfloat (worst, <=, 2 * 0.001 * 3);
      g_assert_cmpfloat (mean, <=, 1e-5);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  gpu_test_init ();
  g_test_add_func ("/disco/cuda/integrator/kernels", test_kernels);
  g_test_add_data_func ("/disco/cuda/integrator/training", "", test_training);
  g_test_add_func ("/disco/cuda/integrator/pipeline", test_pipeline);
  g_test_add_data_func ("/disco/cuda/integrator/equilibrium/pipeline", equilibrium_settings[0],
                        test_equilibrium);
  g_test_add_data_func ("/disco/cuda/integrator/equilibrium/fallback", equilibrium_settings[1],
                        test_equilibrium);
  g_test_add_data_func ("/disco/cuda/integrator/equilibrium/training", equilibrium_settings[0],
                        test_training);
  return g_test_run ();
}
