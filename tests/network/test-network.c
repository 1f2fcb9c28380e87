/* test-network.c: layer nodes and the integrator against closed forms */
#include <disco/disco.h>
#include "test-pipeline-run.h"
#include "disco-kernels.h"
#include "test-bad-pipeline.h"
#include "test-random-source.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

/* ----- helpers ---------------------------------------------------------------- */

static double
softplus (double x)
{
  return x > 0 ? x + log1p (exp (-x)) : log1p (exp (x));
}

/* The open-loop fixed point of one E–I pair with softplus rectifiers, solved
 * independently of Disco: u_E + φ(φ(u_E)) = d, a monotone scalar equation
 * (derivative in [1, 2]), by Newton in double precision. */
static double
solve_ei_fixed_point (double d)
{
  double u = d;

  for (int i = 0; i < 100; i++)
    {
      double r = softplus (u);
      double g = u + softplus (r) - d;
      double sig_u = 1 / (1 + exp (-u)), sig_r = 1 / (1 + exp (-r));
      double step = g / (1 + sig_r * sig_u);

      u -= step;
      if (fabs (step) < 1e-14)
        break;
    }
  return u;
}

static const char *ei_network = "[data]\nnode = test-random-source\nrows = 5\ncols = 30\n"
                                "[h1]\nnode = microcircuit\ninput = data\nsize = 12\n"
                                "[out]\nnode = readout\ninput = h1\nsize = 3\n"
                                "[settle]\nnode = integrator\nnetwork = out\n";

/* ----- tests ----------------------------------------------------------------- */

static void
test_microcircuit_fixed_point (void)
{
  /* No early stop, 2 s = 100 τ_E: the solve ends at the fixed point to
   * float32 precision. */
  const char *overrides[] = { "settle.steady-state-stop=false", "h1.bias=true", NULL };
  g_autoptr (DiscoPipeline) p = test_run_text (ei_network, overrides);
  const float *x = test_output_of (p, "data", "output");
  const float *w = test_parameter_of (p, "h1.weight");
  const float *r_e = test_output_of (p, "h1", "output");
  const float *r_i = test_output_of (p, "h1", "inhibitory");
  const float *w_out = test_parameter_of (p, "out.weight");
  const float *y = test_output_of (p, "settle", "output");
  double worst = 0;

  g_test_summary ("The open-loop steady state of a microcircuit layer solves "
                  "u_E + φ_I(φ_E(u_E)) = W x + b (checked by an independent Newton solve); "
                  "u_I = r_E; and the readout is y = W_out r");
  for (int s = 0; s < 5; s++)
    for (int j = 0; j < 12; j++)
      {
        double d = 0, u;
        for (int k = 0; k < 30; k++)
          d += (double) w[j * 30 + k] * x[s * 30 + k];
        u = solve_ei_fixed_point (d); /* bias starts at zero */
        worst = MAX (worst, fabs (softplus (u) - r_e[s * 12 + j]));
        /* At rest u_I = φ_E(u_E) = r_E, so r_I = φ_I(r_E). */
        g_assert_cmpfloat_with_epsilon (r_i[s * 12 + j], softplus (softplus (u)), 2e-5);
      }
  g_test_message ("largest |r_E − Newton| = %.3g", worst);
  g_assert_cmpfloat (worst, <, 2e-5);
  for (int s = 0; s < 5; s++)
    for (int o = 0; o < 3; o++)
      {
        double expected = 0;
        for (int j = 0; j < 12; j++)
          expected += (double) w_out[o * 12 + j] * r_e[s * 12 + j];
        g_assert_cmpfloat_with_epsilon (y[s * 3 + o], expected, 2e-5);
      }
}

static void
test_rate_layer_is_an_mlp (void)
{
  const char *text = "[data]\nnode = test-random-source\nrows = 3\ncols = 16\n"
                     "[h1]\nnode = rate-layer\ninput = data\nsize = 8\n"
                     "[h2]\nnode = rate-layer\ninput = h1\nsize = 6\n"
                     "[out]\nnode = readout\ninput = h2\nsize = 4\n"
                     "[settle]\nnode = integrator\nnetwork = out\nsteady-state-stop = false\n";
  g_autoptr (DiscoPipeline) p = test_run_text (text, NULL);
  const float *x = test_output_of (p, "data", "output");
  const float *w1 = test_parameter_of (p, "h1.weight"), *w2 = test_parameter_of (p, "h2.weight");
  const float *w3 = test_parameter_of (p, "out.weight");
  const float *y = test_output_of (p, "settle", "output");

  g_test_summary ("At rest, rate layers compute the MLP y = W3 φ(W2 φ(W1 x))");
  for (int s = 0; s < 3; s++)
    {
      double h1[8], h2[6];
      for (int j = 0; j < 8; j++)
        {
          double d = 0;
          for (int k = 0; k < 16; k++)
            d += (double) w1[j * 16 + k] * x[s * 16 + k];
          h1[j] = softplus (d);
        }
      for (int j = 0; j < 6; j++)
        {
          double d = 0;
          for (int k = 0; k < 8; k++)
            d += (double) w2[j * 8 + k] * h1[k];
          h2[j] = softplus (d);
        }
      for (int o = 0; o < 4; o++)
        {
          double d = 0;
          for (int k = 0; k < 6; k++)
            d += (double) w3[o * 6 + k] * h2[k];
          g_assert_cmpfloat_with_epsilon (y[s * 4 + o], d, 2e-5);
        }
    }
}

static void
test_per_sample_stopping (void)
{
  /* Inputs of very different size settle at different times. */
  const char *text = "[data]\nnode = test-random-source\nrows = 6\ncols = 30\n"
                     "[h1]\nnode = microcircuit\ninput = data\nsize = 16\n"
                     "[h2]\nnode = microcircuit\ninput = h1\nsize = 16\n"
                     "[out]\nnode = readout\ninput = h2\nsize = 4\n"
                     "[settle]\nnode = integrator\nnetwork = out\n";
  const char *scaled[] = { "data.amplitude=8", NULL };
  g_autoptr (DiscoPipeline) batch = test_run_text (text, scaled);
  const float *state = test_output_of (batch, "settle", "state");
  const float *steps = test_output_of (batch, "settle", "steps");
  gsize N = disco_tensor_get_dim (
      disco_node_get_output (disco_pipeline_get_node (batch, "settle"), "state"), 1);
  float fewest = G_MAXFLOAT, most = 0;

  g_test_summary ("In a batch, every sample gets the steps and state it gets alone");
  for (guint s = 0; s < 6; s++)
    {
      g_autofree char *row = g_strdup_printf ("data.only-row=%u", s);
      const char *overrides[] = { "data.amplitude=8", row, NULL };
      g_autoptr (DiscoPipeline) alone = test_run_text (text, overrides);
      const float *alone_state = test_output_of (alone, "settle", "state");

      g_assert_cmpfloat (test_output_of (alone, "settle", "steps")[0], ==, steps[s]);
      for (gsize i = 0; i < N; i++)
        g_assert_cmpfloat_with_epsilon (alone_state[i], state[s * N + i],
                                        1e-6 * (1 + fabsf (alone_state[i])));
      fewest = MIN (fewest, steps[s]);
      most = MAX (most, steps[s]);
    }
  g_test_message ("steps per sample: %g to %g", fewest, most);
  /* The check means something only if the samples stopped at different steps. */
  g_assert_cmpfloat (fewest, <, most);
}

static void
test_methods_agree (void)
{
  const char *euler[] = { "settle.method=euler", "settle.dt=0.0005",
                          "settle.steady-state-stop=false", NULL };
  const char *rk4[] = { "settle.method=rk4", "settle.dt=0.005", "settle.steady-state-stop=false",
                        NULL };
  const char *tsit5[] = { "settle.steady-state-stop=false", NULL };
  g_autoptr (DiscoPipeline) a = test_run_text (ei_network, euler);
  g_autoptr (DiscoPipeline) b = test_run_text (ei_network, rk4);
  g_autoptr (DiscoPipeline) c = test_run_text (ei_network, tsit5);
  const float *ya = test_output_of (a, "settle", "output"),
              *yb = test_output_of (b, "settle", "output");
  const float *yc = test_output_of (c, "settle", "output");
  guint steps;

  g_test_summary ("Euler, RK4 and Tsit5 reach the same steady state; fixed-step methods take "
                  "duration/dt steps");
  for (int i = 0; i < 15; i++)
    {
      g_assert_cmpfloat_with_epsilon (ya[i], yc[i], 1e-4);
      g_assert_cmpfloat_with_epsilon (yb[i], yc[i], 1e-4);
    }
  g_object_get (disco_pipeline_get_node (b, "settle"), "last-max-steps", &steps, NULL);
  g_assert_cmpuint (steps, ==, 400);
}

static void
test_steps_match_the_reference (void)
{
  /* MNIST-like drive: a 784-input layer on [0, 1) inputs. The reference
   * settles the open loop in about 28–32 steps at initialisation (MODEL.md §5). */
  const char *text = "[data]\nnode = test-random-source\nrows = 20\ncols = 784\namplitude = 0.5\n"
                     "[h1]\nnode = microcircuit\ninput = data\nsize = 256\n"
                     "[out]\nnode = readout\ninput = h1\nsize = 10\n"
                     "[settle]\nnode = integrator\nnetwork = out\n";
  g_autoptr (DiscoPipeline) p = test_run_text (text, NULL);
  double mean_steps, mean_evaluations;

  g_test_summary ("Open-loop solves at initialisation take as many steps as the reference's");
  g_object_get (disco_pipeline_get_node (p, "settle"), "last-mean-steps", &mean_steps,
                "last-mean-evaluations", &mean_evaluations, NULL);
  g_test_message ("mean steps %.1f, evaluations %.1f", mean_steps, mean_evaluations);
  g_assert_cmpfloat (mean_steps, >=, 20);
  g_assert_cmpfloat (mean_steps, <=, 40);
  /* Tsit5 is first-same-as-last: 6 evaluations per step, plus the first. */
  g_assert_cmpfloat_with_epsilon (mean_evaluations, 6 * mean_steps + 1, 1.5);
}

static void
test_lecun_initialisation (void)
{
  const char *text = "[pipeline]\nseed = 5\n"
                     "[data]\nnode = test-random-source\ncols = 400\n"
                     "[h1]\nnode = microcircuit\ninput = data\nsize = 500\n"
                     "[out]\nnode = readout\ninput = h1\n"
                     "[settle]\nnode = integrator\nnetwork = out\n";
  const char *other_seed[] = { "pipeline.seed=6", NULL };
  g_autoptr (DiscoPipeline) a = test_run_text (text, NULL);
  g_autoptr (DiscoPipeline) b = test_run_text (text, NULL);
  g_autoptr (DiscoPipeline) c = test_run_text (text, other_seed);
  const float *wa = test_parameter_of (a, "h1.weight"), *wb = test_parameter_of (b, "h1.weight");
  const float *wc = test_parameter_of (c, "h1.weight"), *bias = test_parameter_of (a, "h1.bias");
  const gsize n = 500 * 400;
  double sum = 0, sum2 = 0, largest = 0;

  g_test_summary ("Weights are LeCun-normal (variance 1/fan_in, truncated at 2σ of the "
                  "underlying normal), biases zero, reproducible from the seed");
  g_assert_cmpmem (wa, n * sizeof (float), wb, n * sizeof (float));
  g_assert_true (memcmp (wa, wc, n * sizeof (float)) != 0);
  for (gsize i = 0; i < n; i++)
    {
      sum += wa[i];
      sum2 += (double) wa[i] * wa[i];
      largest = MAX (largest, fabs (wa[i]));
    }
  /* 200 000 draws: the variance is within 1% of 1/400 with overwhelming odds. */
  g_assert_cmpfloat (fabs (sum / n), <, 3e-4);
  g_assert_cmpfloat_with_epsilon (sum2 / n * 400, 1.0, 0.01);
  g_assert_cmpfloat (largest, <=, 2.0 / 20 / 0.87962566103423978 + 1e-6);
  for (int j = 0; j < 500; j++)
    g_assert_cmpfloat (bias[j], ==, 0.0f);
}

static void
test_parameters_save_and_load (void)
{
  g_autoptr (DiscoPipeline) a = test_run_text (ei_network, NULL);
  g_autofree char *dir = g_dir_make_tmp ("disco-params-XXXXXX", NULL);
  g_autofree char *load = g_strdup_printf ("pipeline.load-parameters=%s", dir);
  const char *overrides[] = { "pipeline.seed=99", load, NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) b = NULL;
  g_autoptr (DiscoPipeline) wrong = NULL;
  g_autofree char *weight = g_build_filename (dir, "h1.weight.npy", NULL);

  g_test_summary ("Parameters saved as .npy load into a pipeline with another seed and give "
                  "the same outputs; a file of the wrong shape stops the run before a tick");
  g_assert_true (disco_pipeline_save_parameters (a, dir, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (weight, G_FILE_TEST_EXISTS));
  b = test_run_text (ei_network, overrides);
  g_assert_cmpmem (test_output_of (a, "settle", "output"), 15 * sizeof (float),
                   test_output_of (b, "settle", "output"), 15 * sizeof (float));

  {
    const char *bigger[] = { load, "h1.size=13", NULL };
    guint64 solves;

    wrong = disco_pipeline_new_from_string (ei_network, bigger, &error);
    g_assert_no_error (error);
    g_assert_false (disco_pipeline_run (wrong, NULL, &error));
    g_assert_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE);
    g_assert_nonnull (strstr (error->message, "h1.weight"));
    g_object_get (disco_pipeline_get_node (wrong, "settle"), "solves", &solves, NULL);
    g_assert_cmpuint (solves, ==, 0);
  }
  {
    g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
    const char *name;
    while ((name = g_dir_read_name (listing)) != NULL)
      {
        g_autofree char *path = g_build_filename (dir, name, NULL);
        g_remove (path);
      }
    g_rmdir (dir);
  }
}

static const TestBadPipeline bad_networks[] = {
  /* checks: the integrator linked to something that is not a layer */
  { "network-not-a-layer",
    "[data]\nnode = test-random-source\n[settle]\nnode = integrator\nnetwork = data\n",
    DISCO_ERROR_LINK, "\"data\"" },
  /* checks: a layer fed by a producer that declares no shape */
  { "input-without-shape",
    "[data]\nnode = constant-source\nshape = 0\n[h1]\nnode = microcircuit\ninput = data\n"
    "[out]\nnode = readout\ninput = h1\n[settle]\nnode = integrator\nnetwork = out\n",
    DISCO_ERROR_BAD_VALUE, "\"shape\"" },
  /* checks: a readout in the middle of the chain */
  { "readout-in-the-middle",
    "[data]\nnode = test-random-source\n[r]\nnode = readout\ninput = data\n"
    "[out]\nnode = readout\ninput = r\n[settle]\nnode = integrator\nnetwork = out\n",
    DISCO_ERROR_LINK, "\"r\"" },
  /* checks: inconsistent solver settings */
  { "dt-min-above-dt-max",
    "[data]\nnode = test-random-source\n[out]\nnode = readout\ninput = data\n"
    "[settle]\nnode = integrator\nnetwork = out\ndt-min = 0.1\ndt-max = 0.01\n",
    DISCO_ERROR_BAD_VALUE, "\"settle\"" },
  /* checks: an unknown method */
  { "bad-method",
    "[data]\nnode = test-random-source\n[out]\nnode = readout\ninput = data\n"
    "[settle]\nnode = integrator\nnetwork = out\nmethod = dopri5\n",
    DISCO_ERROR_BAD_VALUE, "tsit5, euler, rk4" },
  /* checks: a layer of size 0 */
  { "zero-size",
    "[data]\nnode = test-random-source\n[h1]\nnode = microcircuit\ninput = data\nsize = 0\n",
    DISCO_ERROR_BAD_VALUE, "\"size\"" },
  /* checks: a negative time constant */
  { "negative-tau",
    "[data]\nnode = test-random-source\n[h1]\nnode = microcircuit\ninput = data\ntau-i = -1\n",
    DISCO_ERROR_BAD_VALUE, "\"tau-i\"" },
};

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  disco_registry_register ("test-random-source", TEST_TYPE_RANDOM_SOURCE);

  g_test_add_func ("/disco/network/microcircuit-fixed-point", test_microcircuit_fixed_point);
  g_test_add_func ("/disco/network/rate-layer-is-an-mlp", test_rate_layer_is_an_mlp);
  g_test_add_func ("/disco/network/per-sample-stopping", test_per_sample_stopping);
  g_test_add_func ("/disco/network/methods-agree", test_methods_agree);
  g_test_add_func ("/disco/network/steps-match-the-reference", test_steps_match_the_reference);
  g_test_add_func ("/disco/network/lecun-initialisation", test_lecun_initialisation);
  g_test_add_func ("/disco/network/parameters-save-and-load", test_parameters_save_and_load);
  test_add_bad_pipelines ("/disco/network/bad", bad_networks, G_N_ELEMENTS (bad_networks));
  return g_test_run ();
}
