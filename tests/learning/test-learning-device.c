/* test-learning-device.c: the learning nodes' device path against their host
 * code.
 *
 * plasticity (exact-inverse, linear-threshold, backprop), adam and sgd
 * compute through an operations table when disco_node_get_ops() gives one.
 * With DISCO_DEVICE_PATH=table that is the host table, disco_ops_cpu(): the
 * very orchestration a CUDA pipeline runs, on any machine.  Each case runs
 * the controlled network of test-learning.c (the local rules) or a network
 * of rate layers of the same sizes (backprop) for three training ticks
 * twice, host code and device path, and compares every gradient, the
 * gradient norm, every parameter and optimizer state (moments, velocities,
 * step) and the running thresholds y₀.
 *
 * Tolerance: |device − host| ≤ 2e-4 · max|host| per tensor.  The learning
 * nodes' table kernels repeat the host code's float operations in the same
 * order, and alone they agree bit for bit; but the integrator takes its
 * device path too (lockstep solves, which keep finished samples in the
 * GEMMs, so OpenBLAS rounds the states differently, ~1e-6), and Adam's
 * normalised step turns that into relative differences of up to 5.1e-5 of
 * a tensor's largest value (h1.weight, measured).  Backprop has its own,
 * tighter tolerance (BACKPROP_RTOL below).  The CUDA table's
 * agreement is tests/gpu/test-cuda-learning.c's business (kernel by
 * kernel).
 */
#include <disco/disco.h>
#include "test-pipeline-run.h"
#include "test-random-source.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

/* 30 inputs → 12 → 10 E–I units → 3 outputs under a leaky-PI controller,
 * four samples, three training ticks (test-learning.c's network). */
static const char *controlled_network =
  "[data]\nnode = test-random-source\nrows = 4\ncols = 30\namplitude = 4\nphase = train\n"
  "ticks = 3\n"
  "[h1]\nnode = microcircuit\ninput = data\nsize = 12\nfeedback = control\n"
  "[h2]\nnode = microcircuit\ninput = h1\nsize = 10\nfeedback = control\n"
  "[out]\nnode = readout\ninput = h2\nsize = 3\nfeedback = control\n"
  "[control]\nnode = leaky-pi\nprediction = out\ntarget = data.targets\n"
  "[settle]\nnode = integrator\nnetwork = out\n"
  "[learn]\nnode = plasticity\nstate = settle\n";

/* The backprop baseline on the same sizes: rate layers, no controller
 * (test-learning.c's rate network, wider). */
static const char *rate_network =
  "[data]\nnode = test-random-source\nrows = 4\ncols = 30\namplitude = 4\nphase = train\n"
  "ticks = 3\n"
  "[h1]\nnode = rate-layer\ninput = data\nsize = 12\n"
  "[h2]\nnode = rate-layer\ninput = h1\nsize = 10\n"
  "[out]\nnode = readout\ninput = h2\nsize = 3\n"
  "[settle]\nnode = integrator\nnetwork = out\n"
  "[learn]\nnode = plasticity\nstate = settle\ntarget = data.targets\n";

static const char *gradient_names[] = { "h1.weight", "h1.bias", "h2.weight", "h2.bias",
                                        "out.weight" };

/* The network for @rule: backprop trains rate layers, the local rules the
 * controlled E–I network. */
static const char *
network_for (const char *rule)
{
  return g_str_equal (rule, "backprop") ? rate_network : controlled_network;
}

/* Builds the pipeline with @rule and @optimizer ("adam" or "sgd"), runs it
 * on the host code or on the device path (the host table), checkpointing
 * into @output_dir when given. */
static DiscoPipeline *
run_ticks (const char *rule, const char *optimizer, gboolean device_path, const char *output_dir,
           guint ticks)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *text = g_strdup_printf ("%s[opt]\nnode = %s\ngradients = learn\n%s",
                                           network_for (rule), optimizer,
                                           g_str_equal (optimizer, "sgd")
                                             ? "momentum = 0.9\nlearning-rate = 0.05\n"
                                             : "learning-rate = 0.01\n");
  g_autofree char *rule_override = g_strdup_printf ("learn.rule=%s", rule);
  g_autofree char *ticks_override = g_strdup_printf ("data.ticks=%u", ticks);
  const char *overrides[] = { rule_override, ticks_override, NULL };
  DiscoPipeline *p;

  if (device_path)
    g_setenv ("DISCO_DEVICE_PATH", "table", TRUE);
  else
    g_unsetenv ("DISCO_DEVICE_PATH");
  p = disco_pipeline_new_from_string (text, overrides, &error);
  g_assert_no_error (error);
  if (output_dir != NULL)
    g_object_set (p, "output-dir", output_dir, "checkpoint", TRUE, NULL);
  g_assert_true (disco_pipeline_run (p, NULL, &error));
  g_assert_no_error (error);
  g_unsetenv ("DISCO_DEVICE_PATH");
  return p;
}

/* Three training ticks. */
static DiscoPipeline *
run (const char *rule, const char *optimizer, gboolean device_path, const char *output_dir)
{
  return run_ticks (rule, optimizer, device_path, output_dir, 3);
}

static void
assert_close (const char *what, DiscoTensor *device, DiscoTensor *host, double *largest)
{
  double scale, worst = test_tensor_difference (device, host, &scale, NULL);

  if (!(worst <= 2e-4 * scale))
    g_error ("%s: device path differs from host code by %.3g (largest |host| %.3g)", what, worst,
             scale);
  *largest = MAX (*largest, worst);
}

/* Every gradient and the norm, then every parameter of every node
 * (weights, biases, moments or velocities, step, thresholds). */
static double
compare_runs (DiscoPipeline *device, DiscoPipeline *host, guint *n_compared)
{
  DiscoNode *learn_d = disco_pipeline_get_node (device, "learn");
  DiscoNode *learn_h = disco_pipeline_get_node (host, "learn");
  g_auto (GStrv) nodes = disco_pipeline_list_nodes (host);
  double largest = 0;

  *n_compared = 0;
  for (guint k = 0; k < G_N_ELEMENTS (gradient_names); k++, (*n_compared)++)
    assert_close (gradient_names[k], disco_node_get_gradient (learn_d, gradient_names[k]),
                  disco_node_get_gradient (learn_h, gradient_names[k]), &largest);
  assert_close ("gradient norm", disco_node_get_output (learn_d, "gradients"),
                disco_node_get_output (learn_h, "gradients"), &largest);
  (*n_compared)++;
  for (guint i = 0; nodes[i] != NULL; i++)
    {
      g_auto (GStrv) names = disco_node_list_parameters (disco_pipeline_get_node (host, nodes[i]));

      for (guint j = 0; names[j] != NULL; j++, (*n_compared)++)
        {
          g_autofree char *target = g_strdup_printf ("%s.%s", nodes[i], names[j]);

          assert_close (target, disco_pipeline_find_parameter (device, target),
                        disco_pipeline_find_parameter (host, target), &largest);
        }
    }
  return largest;
}

typedef struct
{
  const char *rule;
  const char *optimizer;
} Case;

static void
test_device_matches_host (gconstpointer data)
{
  const Case *c = data;
  g_autoptr (DiscoPipeline) host = run (c->rule, c->optimizer, FALSE, NULL);
  g_autoptr (DiscoPipeline) device = run (c->rule, c->optimizer, TRUE, NULL);
  guint n_compared;
  double largest;

  g_test_summary ("Three training ticks through the operations table give the host code's "
                  "gradients, norm, parameters and optimizer state (|Δ| ≤ 2e-4·max|host|)");
  largest = compare_runs (device, host, &n_compared);
  g_test_message ("%s + %s: %u tensors compared, largest |device − host| %.3g", c->rule,
                  c->optimizer, n_compared, largest);
  g_assert_cmpfloat (disco_tensor_get_value (disco_pipeline_find_parameter (device, "opt.step"),
                                             0), ==, 3);
}

/* The largest |device − host| / max|host| over the gradients and the
 * norm (@gradients) or over every parameter (the others), printed. */
static double
largest_relative (DiscoPipeline *device, DiscoPipeline *host, gboolean gradients)
{
  DiscoNode *learn_d = disco_pipeline_get_node (device, "learn");
  DiscoNode *learn_h = disco_pipeline_get_node (host, "learn");
  g_auto (GStrv) nodes = disco_pipeline_list_nodes (host);
  double largest = 0;

  for (guint k = 0; gradients && k <= G_N_ELEMENTS (gradient_names); k++)
    {
      const gboolean norm = k == G_N_ELEMENTS (gradient_names);
      DiscoTensor *d = norm ? disco_node_get_output (learn_d, "gradients")
                            : disco_node_get_gradient (learn_d, gradient_names[k]);
      DiscoTensor *h = norm ? disco_node_get_output (learn_h, "gradients")
                            : disco_node_get_gradient (learn_h, gradient_names[k]);
      double scale, worst = test_tensor_difference (d, h, &scale, NULL);

      g_assert_cmpfloat (scale, >, 0);
      g_test_message ("  %s: |device − host| %.3g of max |host| %.3g (%.3g)",
                      norm ? "gradient norm" : gradient_names[k], worst, scale, worst / scale);
      largest = MAX (largest, worst / scale);
    }
  for (guint i = 0; !gradients && nodes[i] != NULL; i++)
    {
      g_auto (GStrv) names = disco_node_list_parameters (disco_pipeline_get_node (host, nodes[i]));

      for (guint j = 0; names[j] != NULL; j++)
        {
          g_autofree char *target = g_strdup_printf ("%s.%s", nodes[i], names[j]);
          double scale, worst = test_tensor_difference (
            disco_pipeline_find_parameter (device, target),
            disco_pipeline_find_parameter (host, target), &scale, NULL);

          g_test_message ("  %s: |device − host| %.3g of max |host| %.3g (%.3g)", target, worst,
                          scale, scale > 0 ? worst / scale : 0);
          largest = MAX (largest, scale > 0 ? worst / scale : worst);
        }
    }
  return largest;
}

/* Backprop: the device path's forward and backward passes repeat the host
 * code's kernels in the same order, except φ: the host code's backprop
 * takes the reference φ, the host table's softrect_forward the fast one
 * (within 4 ulp).  So the first tick's gradients differ by rounding
 * (measured 1.1e-7 of a tensor's largest value), and the next ticks carry
 * that through the optimizer's steps (measured 2.5e-7 for gradients and
 * parameters after three ticks of Adam or SGD).  The integrator's
 * lockstep solves do not enter: backprop's forward pass is computed
 * exactly, not read from the settled states. */
#define BACKPROP_RTOL 1e-6

static void
test_backprop_matches_host (gconstpointer data)
{
  const char *optimizer = data;
  g_autoptr (DiscoPipeline) host1 = run_ticks ("backprop", optimizer, FALSE, NULL, 1);
  g_autoptr (DiscoPipeline) device1 = run_ticks ("backprop", optimizer, TRUE, NULL, 1);
  g_autoptr (DiscoPipeline) host = run ("backprop", optimizer, FALSE, NULL);
  g_autoptr (DiscoPipeline) device = run ("backprop", optimizer, TRUE, NULL);
  double one_tick, gradients, parameters;

  g_test_summary ("Backprop through the operations table (rate layers solved in lockstep, "
                  "the exact forward and backward passes on the table) gives the host code's "
                  "gradients and, after the optimizer, parameters");
  g_test_message ("backprop + %s, one tick, gradients:", optimizer);
  one_tick = largest_relative (device1, host1, TRUE);
  g_test_message ("backprop + %s, three ticks, gradients:", optimizer);
  gradients = largest_relative (device, host, TRUE);
  g_test_message ("backprop + %s, three ticks, parameters:", optimizer);
  parameters = largest_relative (device, host, FALSE);
  g_test_message ("backprop + %s: largest relative difference: first tick's gradients %.3g, "
                  "third tick's gradients %.3g, parameters %.3g", optimizer, one_tick, gradients,
                  parameters);
  g_assert_cmpfloat (one_tick, <=, BACKPROP_RTOL);
  g_assert_cmpfloat (gradients, <=, BACKPROP_RTOL);
  g_assert_cmpfloat (parameters, <=, BACKPROP_RTOL);
  /* (disco_node_get_ops() now gives the host table on the CPU whatever
   * DISCO_DEVICE_PATH says, so both sides run the table's code.) */
  {
    guint host_syncs = 0, device_syncs = 0;

    /* The integrator solved the rate layers through the host table, with
     * the compacting solver: no host round trips on either side. */
    g_object_get (disco_pipeline_get_node (host, "settle"), "last-host-syncs", &host_syncs, NULL);
    g_object_get (disco_pipeline_get_node (device, "settle"), "last-host-syncs", &device_syncs,
                  NULL);
    g_assert_cmpuint (host_syncs, ==, 0);
    g_assert_cmpuint (device_syncs, ==, 0);
  }
  g_assert_cmpfloat (disco_tensor_get_value (disco_pipeline_find_parameter (device, "opt.step"),
                                             0), ==, 3);
}

static void
test_running_threshold (void)
{
  g_autoptr (DiscoPipeline) host = run ("linear-threshold", "adam", FALSE, NULL);
  g_autoptr (DiscoPipeline) device = run ("linear-threshold", "adam", TRUE, NULL);
  const char *layers[] = { "h1", "h2" };

  g_test_summary ("The running threshold y₀ of the linear-threshold rule agrees between the "
                  "device path and the host code, and is the last minibatch's mean open-loop "
                  "inhibitory rate (λ = 1), not its initial 0.8");
  for (guint l = 0; l < G_N_ELEMENTS (layers); l++)
    {
      g_autofree char *target = g_strdup_printf ("learn.threshold:%s", layers[l]);
      DiscoTensor *y0_d = disco_pipeline_find_parameter (device, target);
      DiscoTensor *y0_h = disco_pipeline_find_parameter (host, target);
      double largest = 0, scale;
      const float *y0 = disco_tensor_read_host (y0_d, NULL);
      gboolean moved = FALSE;

      assert_close (target, y0_d, y0_h, &largest);
      g_test_message ("%s: largest |device − host| %.3g of %.3g", target, largest,
                      (test_tensor_difference (y0_d, y0_h, &scale, NULL), scale));
      for (gsize j = 0; j < disco_tensor_get_n_elements (y0_d); j++)
        {
          g_assert_cmpfloat (y0[j], >, 0);
          moved |= y0[j] != 0.8f;
        }
      g_assert_true (moved);
    }
}

static void
test_checkpoint (void)
{
  g_autofree char *dir = g_dir_make_tmp ("disco-learning-device-XXXXXX", NULL);
  g_autoptr (DiscoPipeline) device = run ("linear-threshold", "adam", TRUE, dir);
  g_autoptr (DiscoPipeline) host = run ("linear-threshold", "adam", FALSE, NULL);
  g_autofree char *checkpoint = g_build_filename (dir, "checkpoint", NULL);
  g_auto (GStrv) nodes = disco_pipeline_list_nodes (device);
  guint n_files = 0;

  g_test_summary ("A checkpoint written on the device path holds the run's parameters and "
                  "optimizer state: every file reads back equal to the tensor it saved, and "
                  "to the host code's run");
  g_assert_nonnull (dir);
  for (guint i = 0; nodes[i] != NULL; i++)
    {
      g_auto (GStrv) names = disco_node_list_parameters (disco_pipeline_get_node (device,
                                                                                   nodes[i]));

      for (guint j = 0; names[j] != NULL; j++)
        {
          g_autoptr (GError) error = NULL;
          g_autofree char *file = g_strdup_printf ("%s.%s.npy", nodes[i], names[j]);
          g_autofree char *path = g_build_filename (checkpoint, file, NULL);
          g_autofree char *target = g_strdup_printf ("%s.%s", nodes[i], names[j]);
          g_autoptr (DiscoTensor) saved = disco_tensor_load_npy (path, &error);
          DiscoTensor *live = disco_pipeline_find_parameter (device, target);
          double largest = 0, scale;

          g_assert_no_error (error);
          g_assert_cmpfloat (test_tensor_difference (saved, live, &scale, NULL), ==, 0);
          assert_close (target, saved, disco_pipeline_find_parameter (host, target), &largest);
          n_files++;
        }
    }
  g_test_message ("%u checkpoint files read back", n_files);
  /* 5 layer parameters, 2 thresholds, step, 5 × (m, v). */
  g_assert_cmpuint (n_files, >=, 18);

  /* The same checkpoint loads into a fresh pipeline. */
  {
    g_autoptr (GError) error = NULL;
    g_autoptr (DiscoPipeline) fresh = run ("linear-threshold", "adam", TRUE, NULL);
    guint n_compared;

    g_assert_true (disco_pipeline_load_parameters (fresh, checkpoint, &error));
    g_assert_no_error (error);
    g_assert_cmpfloat (compare_runs (fresh, device, &n_compared) , ==, 0);
  }
}

static void
test_runs_on_cuda (void)
{
  const char *rules[] = { "exact-inverse", "linear-threshold", "backprop" };
  const char *optimizers[] = { "adam", "sgd" };
  g_autoptr (DiscoPipeline) p = disco_pipeline_new ();
  g_autoptr (GError) error = NULL;
  DiscoNode *learn = disco_pipeline_make_node (p, "plasticity", "learn", &error);

  g_test_summary ("plasticity with every rule (backprop too), adam, sgd and rate-layer say "
                  "they run on CUDA");
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (optimizers); i++)
    {
      DiscoNode *opt = disco_pipeline_make_node (p, optimizers[i], optimizers[i], &error);

      g_assert_no_error (error);
      g_assert_true (disco_node_runs_on_cuda (opt));
    }
  for (guint r = 0; r < G_N_ELEMENTS (rules); r++)
    {
      g_autofree char *assignment = g_strdup_printf ("learn.rule=%s", rules[r]);

      g_assert_true (disco_pipeline_set (p, assignment, &error));
      g_assert_no_error (error);
      g_assert_true (disco_node_runs_on_cuda (learn));
    }
  g_assert_true (disco_node_runs_on_cuda (disco_pipeline_make_node (p, "rate-layer", "h1",
                                                                    &error)));
  g_assert_no_error (error);
}

int
main (int argc, char **argv)
{
  static const Case cases[] = {
    { "exact-inverse", "adam" },
    { "exact-inverse", "sgd" },
    { "linear-threshold", "adam" },
    { "linear-threshold", "sgd" },
  };

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  disco_registry_register ("test-random-source", TEST_TYPE_RANDOM_SOURCE);

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/disco/learning-device/%s-%s", cases[i].rule,
                                               cases[i].optimizer);
      g_test_add_data_func (path, &cases[i], test_device_matches_host);
    }
  g_test_add_data_func ("/disco/learning-device/backprop-adam", "adam",
                        test_backprop_matches_host);
  g_test_add_data_func ("/disco/learning-device/backprop-sgd", "sgd", test_backprop_matches_host);
  g_test_add_func ("/disco/learning-device/running-threshold", test_running_threshold);
  g_test_add_func ("/disco/learning-device/checkpoint", test_checkpoint);
  g_test_add_func ("/disco/learning-device/runs-on-cuda", test_runs_on_cuda);
  return g_test_run ();
}
