/* test-device-path.c: the integrator's device path on the host table
 * (DISCO_DEVICE_PATH=table) against its host path, on the same pipelines.
 *
 * The device path solves in lockstep and masks finished samples; the host
 * path compacts them.  Both use the same kernels in the same order, except
 * that OpenBLAS's SGEMM rounds a row differently once the host's batch has
 * shrunk (disco-ode-batched.h), so the states differ by rounding, which the
 * adaptive step control can turn into one step more or less for a sample.
 * The tolerances below are stated per check, with the measured figures
 * printed as test messages.  The backprop baseline's rate layers take the
 * device path too; one case checks that its Table 1 pipelines qualify for
 * CUDA as the E–I ones do.
 */
#include <disco/disco.h>
#include <disco/disco-backend.h>
#include "test-random-source.h"

#include <math.h>
#include <string.h>

typedef struct
{
  const char *node;
  const char *port;
  double rtol;            /* 0: the comparison's own */
} Probe;

typedef struct
{
  GPtrArray *values;      /* float arrays, one per probe */
  GArray *sizes;          /* gsize */
  double numbers[8];      /* evaluator figures, when asked */
} Run;

static void
run_clear (Run *run)
{
  g_clear_pointer (&run->values, g_ptr_array_unref);
  g_clear_pointer (&run->sizes, g_array_unref);
}

/* Runs the pipeline (a string, or a file when @path is set) with or
 * without the device path and copies the probed outputs to the host. */
static void
run_pipeline (const char *text, const char *path, const char *const *overrides,
              gboolean device_path, const Probe *probes, guint n_probes, Run *run)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = NULL;

  if (device_path)
    g_setenv ("DISCO_DEVICE_PATH", "table", TRUE);
  else
    g_unsetenv ("DISCO_DEVICE_PATH");
  p = path != NULL ? disco_pipeline_new_from_file (path, overrides, &error)
                   : disco_pipeline_new_from_string (text, overrides, &error);
  g_assert_no_error (error);
  g_assert_true (disco_pipeline_run (p, NULL, &error));
  g_assert_no_error (error);
  g_unsetenv ("DISCO_DEVICE_PATH");

  run->values = g_ptr_array_new_with_free_func (g_free);
  run->sizes = g_array_new (FALSE, FALSE, sizeof (gsize));
  for (guint i = 0; i < n_probes; i++)
    {
      DiscoTensor *t = disco_node_get_output (disco_pipeline_get_node (p, probes[i].node),
                                              probes[i].port);
      gsize size;
      const float *v;

      if (t == NULL)
        {
          /* A parameter, such as a layer's learnt weights. */
          g_autofree char *target = g_strdup_printf ("%s.%s", probes[i].node, probes[i].port);
          t = disco_pipeline_find_parameter (p, target);
        }
      if (t == NULL)
        g_error ("no output %s.%s", probes[i].node, probes[i].port);
      size = disco_tensor_get_n_elements (t);
      v = disco_tensor_read_host (t, &error);
      g_assert_no_error (error);
      g_ptr_array_add (run->values, g_memdup2 (v, size * sizeof (float)));
      g_array_append_val (run->sizes, size);
    }
  g_object_get (disco_pipeline_get_node (p, "settle"), "last-mean-steps", &run->numbers[6],
                "last-mean-closed-loop-steps", &run->numbers[7], NULL);
  g_test_message ("%s path: last minibatch's mean steps, open loop %.2f, closed loop %.2f",
                  device_path ? "device" : "host", run->numbers[6], run->numbers[7]);
  if (disco_pipeline_get_node (p, "score") != NULL)
    g_object_get (disco_pipeline_get_node (p, "score"), "train-loss", &run->numbers[0],
                  "train-accuracy", &run->numbers[1], "validation-loss", &run->numbers[2],
                  "validation-accuracy", &run->numbers[3], "test-loss", &run->numbers[4],
                  "test-accuracy", &run->numbers[5], NULL);
}

/* Compares every probe: values within rtol relative to the tensor's
 * largest magnitude (near-zero entries, such as converged derivatives, are
 * compared on the tensor's scale); "steps" outputs within @max_step_diff. */
static void
compare (const Probe *probes, guint n_probes, Run *host, Run *table, double rtol,
         guint max_step_diff)
{
  gboolean failed = FALSE;

  for (guint i = 0; i < n_probes; i++)
    {
      const float *a = g_ptr_array_index (host->values, i);
      const float *b = g_ptr_array_index (table->values, i);
      gsize n = g_array_index (host->sizes, gsize, i);
      double scale = 0, max_diff = 0;

      g_assert_cmpuint (n, ==, g_array_index (table->sizes, gsize, i));
      for (gsize k = 0; k < n; k++)
        scale = MAX (scale, fabs (a[k]));
      for (gsize k = 0; k < n; k++)
        {
          g_assert_true (isfinite (b[k]));
          max_diff = MAX (max_diff, fabs ((double) a[k] - b[k]));
        }
      g_test_message ("%s.%s: %" G_GSIZE_FORMAT " values, max |host − table| = %.3g "
                      "(%.3g of max |value| %.3g)", probes[i].node, probes[i].port, n, max_diff,
                      scale > 0 ? max_diff / scale : 0, scale);
      if (strcmp (probes[i].port, "steps") == 0)
        failed |= max_diff > max_step_diff;
      else
        failed |= max_diff > (probes[i].rtol > 0 ? probes[i].rtol : rtol) * scale;
    }
  /* Every figure printed first, then the verdict. */
  g_assert_false (failed);
}

/* 30 inputs → 12 → 10 E–I units → 3 outputs under a leaky-PI controller,
 * a training phase (the controlled network of tests/learning). */
static const char *controlled_network =
  "[data]\nnode = test-random-source\nrows = 4\ncols = 30\namplitude = 4\nphase = train\n"
  "[h1]\nnode = microcircuit\ninput = data\nsize = 12\nfeedback = control\n"
  "[h2]\nnode = microcircuit\ninput = h1\nsize = 10\nfeedback = control\n"
  "[out]\nnode = readout\ninput = h2\nsize = 3\nfeedback = control\n"
  "[control]\nnode = leaky-pi\nprediction = out\ntarget = data.targets\n"
  "[settle]\nnode = integrator\nnetwork = out\n";

static const Probe controlled_probes[] = {
  { "settle", "output" }, { "settle", "state" }, { "settle", "open-loop-state" },
  { "settle", "steps" }, { "control", "output" }, { "control", "integral" },
  { "h1", "feedback-weights" }, { "h2", "feedback-weights" }, { "h1", "output" },
  { "h1", "inhibitory" }, { "h2", "output" }, { "out", "output" },
};

/* States, outputs and feedback weights: 1e-5 of each tensor's scale (the
 * measured differences are about 1e-7 to 1e-6); steps equal or ±1.  When a
 * sample's steady-state test flips and it stops one step earlier or later
 * on one path (seen in the closed loop, as a mean step count that differs
 * by 1/B), its final state moves by about h·|f| ≤ dt_max·(atol + rtol·RMS(y))
 * ≈ 1e-5 of the state: then 1e-4 of each tensor's scale. */
#define RTOL 1e-5
#define RTOL_STEP_APART 1e-4

/* The tolerance for two runs, from their closed loops' mean steps. */
static double
tolerance_for (const Run *host, const Run *table)
{
  g_assert_cmpfloat (fabs (host->numbers[6] - table->numbers[6]), <=, 1.0);
  g_assert_cmpfloat (fabs (host->numbers[7] - table->numbers[7]), <=, 1.0);
  return host->numbers[6] == table->numbers[6] && host->numbers[7] == table->numbers[7]
           ? RTOL : RTOL_STEP_APART;
}

/* Runs the pipeline @text on the host path and on the device path and
 * compares @probes, with the tolerance the two runs' steps allow and
 * "steps" outputs within @max_step_diff. */
static void
check_paths (const char *text, const char *const *overrides, const Probe *probes,
             guint n_probes, guint max_step_diff)
{
  Run host = { 0 }, table = { 0 };

  run_pipeline (text, NULL, overrides, FALSE, probes, n_probes, &host);
  run_pipeline (text, NULL, overrides, TRUE, probes, n_probes, &table);
  compare (probes, n_probes, &host, &table, tolerance_for (&host, &table), max_step_diff);
  run_clear (&host);
  run_clear (&table);
}

static void
check_controlled (const char *const *overrides)
{
  check_paths (controlled_network, overrides, controlled_probes,
               G_N_ELEMENTS (controlled_probes), 1);
}

static void
test_controlled_cross_entropy (void)
{
  g_test_summary ("30→12→10→3 under a cross-entropy leaky-PI: open and closed loop, control, "
                  "integral and feedback weights agree between host and device paths");
  check_controlled (NULL);
}

static void
test_controlled_mse (void)
{
  const char *overrides[] = { "control.error=mse", "control.k-p=0.5", NULL };

  g_test_summary ("The same with an MSE controller");
  check_controlled (overrides);
}

static void
test_controlled_options (void)
{
  const char *overrides[] = { "data.rows=16", "settle.feedback-average=true",
                              "settle.feedback-clip=0.05", "settle.feedback-norm=2", NULL };

  g_test_summary ("16 samples, feedback weights averaged, clipped and normalised to 2");
  check_controlled (overrides);
}

static void
test_open_loop_only (void)
{
  const char *overrides[] = { "data.phase=test", "data.rows=9", NULL };
  static const Probe probes[] = {
    { "settle", "output" }, { "settle", "state" }, { "settle", "steps" }, { "h1", "output" },
  };

  g_test_summary ("A test tick runs the open loop only, on both paths alike");
  check_paths (controlled_network, overrides, probes, G_N_ELEMENTS (probes), 1);
}

/* The backprop baseline's network: rate layers and a readout, no
 * controller, a training tick of backprop and Adam (30 → 12 → 10 → 3). */
static const char *rate_network =
  "[data]\nnode = test-random-source\nrows = 9\ncols = 30\namplitude = 4\nphase = train\n"
  "[h1]\nnode = rate-layer\ninput = data\nsize = 12\n"
  "[h2]\nnode = rate-layer\ninput = h1\nsize = 10\n"
  "[out]\nnode = readout\ninput = h2\nsize = 3\n"
  "[settle]\nnode = integrator\nnetwork = out\n"
  "[learn]\nnode = plasticity\nrule = backprop\nstate = settle\ntarget = data.targets\n"
  "[adam]\nnode = adam\ngradients = learn\nlearning-rate = 0.01\n";

static void
test_rate_layers (void)
{
  /* Everything within the common tolerance, the weights after one Adam
   * step too (measured: states 7.7e-8 of scale, weights 9.3e-8): backprop's
   * gradients differ by φ's rounding only (test-learning-device.c). */
  static const Probe probes[] = {
    { "settle", "output" }, { "settle", "state" }, { "settle", "open-loop-state" },
    { "settle", "steps" }, { "h1", "output" }, { "h2", "output" }, { "out", "output" },
    { "h1", "weight" }, { "h2", "bias" }, { "out", "weight" },
  };

  g_test_summary ("The backprop baseline's rate layers take the integrator's device path: "
                  "open-loop states, every layer's rates and the weights after a backprop "
                  "and Adam step agree between host and device paths");
  check_paths (rate_network, NULL, probes, G_N_ELEMENTS (probes), 1);
}

/* Runs the controlled network with @overrides and the device path on, and
 * reads the integrator's host syncs and table operations in its last
 * solve: the lockstep solver polls the host and counts its operations, the
 * compacting host solver does neither. */
static guint
host_syncs_with_table (const char *const *overrides, guint64 *operations)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = NULL;
  guint syncs = 0;
  guint64 ops = 0;

  g_setenv ("DISCO_DEVICE_PATH", "table", TRUE);
  p = disco_pipeline_new_from_string (controlled_network, overrides, &error);
  g_assert_no_error (error);
  g_assert_true (disco_pipeline_run (p, NULL, &error));
  g_assert_no_error (error);
  g_unsetenv ("DISCO_DEVICE_PATH");
  g_object_get (disco_pipeline_get_node (p, "settle"), "last-host-syncs", &syncs,
                "last-operations", &ops, NULL);
  if (operations != NULL)
    *operations = ops;
  return syncs;
}

static void
test_fixed_step_methods (void)
{
  const char *methods[][3] = {
    { "settle.method=euler", "settle.dt=0.0005", NULL },
    { "settle.method=rk4", "settle.dt=0.002", NULL },
  };

  g_test_summary ("Euler and RK4 (constant steps) on the device path: open and closed loop, "
                  "control and feedback weights as on the host path, steps equal or one apart");
  for (guint i = 0; i < G_N_ELEMENTS (methods); i++)
    {
      g_test_message ("%s", methods[i][0]);
      /* Constant steps, but the steady-state test can still flip by
       * rounding and stop a sample a step apart (measured: one sample in
       * Euler's closed loop). */
      check_controlled (methods[i]);
      g_assert_cmpuint (host_syncs_with_table (methods[i], NULL), >, 0);
    }
}

static void
test_record_sample (void)
{
  const char *overrides[] = { "settle.record-sample=2", NULL };
  static const Probe probes[] = {
    { "settle", "trajectory" }, { "settle", "trajectory-times" },
    { "settle", "trajectory-open-loop-rows" }, { "settle", "state" },
  };

  g_test_summary ("With record-sample set the device path still solves the batch, and the "
                  "recorded sample's open- and closed-loop trajectory is the host path's");
  /* The closed-loop leg starts from the open-loop state, which the two
   * paths round differently (≈ 1e-7 of scale): the common tolerance. */
  check_paths (controlled_network, overrides, probes, G_N_ELEMENTS (probes), 0);
  g_assert_cmpuint (host_syncs_with_table (overrides, NULL), >, 0);
}

static void
test_rate_layers_paths (void)
{
  /* Without a controller the rate network takes the table (host syncs);
   * with one steering its readout it keeps to the host code, whose closed
   * loop it needs (the device closed loop feeds interneurons). */
  const char *controlled = "[control]\nnode = leaky-pi\nprediction = out\n"
                           "target = data.targets\n";
  const char *overrides[] = { "out.feedback=control", NULL };

  g_test_summary ("Rate layers without a controller take the device path; with a controller "
                  "on the readout they stay on the host path");
  for (guint controller = 0; controller <= 1; controller++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (DiscoPipeline) p = NULL;
      g_autofree char *text = g_strconcat (rate_network, controller ? controlled : "", NULL);
      DiscoTensor *inhibitory;
      guint syncs = 0;

      g_setenv ("DISCO_DEVICE_PATH", "table", TRUE);
      p = disco_pipeline_new_from_string (text, controller ? overrides : NULL, &error);
      g_assert_no_error (error);
      g_assert_true (disco_pipeline_run (p, NULL, &error));
      g_assert_no_error (error);
      g_unsetenv ("DISCO_DEVICE_PATH");
      g_object_get (disco_pipeline_get_node (p, "settle"), "last-host-syncs", &syncs, NULL);
      g_test_message ("%s: %u host syncs in the last solve",
                      controller ? "with a controller" : "open loop", syncs);
      if (controller)
        g_assert_cmpuint (syncs, ==, 0);
      else
        g_assert_cmpuint (syncs, >, 0);
      /* A rate layer publishes its rates and nothing else, on either path. */
      g_assert_nonnull (disco_node_get_output (disco_pipeline_get_node (p, "h1"), "output"));
      inhibitory = disco_node_get_output (disco_pipeline_get_node (p, "h1"), "inhibitory");
      g_assert_null (inhibitory);
    }
}

/* Loads (which validates) pipelines/@name.pipeline with @overrides;
 * returns the error, or %NULL and the pipeline in @out when asked. */
static GError *
load_table1 (const char *name, const char *const *overrides, DiscoPipeline **out)
{
  g_autofree char *file = g_strdup_printf ("%s.pipeline", name);
  g_autofree char *path = g_build_filename (DISCO_SOURCE_ROOT, "pipelines", file, NULL);
  g_autoptr (DiscoPipeline) p = NULL;
  GError *error = NULL;

  p = disco_pipeline_new_from_file (path, overrides, &error);
  g_assert_true ((p == NULL) == (error != NULL));
  if (out != NULL)
    *out = g_steal_pointer (&p);
  return error;
}

static void
test_backprop_devices (void)
{
  const char *names[] = { "mnist-1x256-backprop", "mnist-3x256-backprop",
                          "mnist-1x256-linear-threshold" };
  const char *on_cuda[] = { "pipeline.device=cuda", NULL };
  const char *node_on_cuda[] = { "learn.device=cuda", NULL };

  g_test_summary ("A backprop Table 1 pipeline runs on CUDA as the E–I ones do: every node "
                  "says it can, device = auto picks the CPU here (no GPU), device = cuda is "
                  "the E–I pipelines' \"no CUDA device is usable\" error, and a node with "
                  "device = cuda is refused for want of a GPU, not of a CUDA implementation");
  /* Loading the registry loads the plugins; the unit suite hides a GPU
   * (DISCO_CUDA=0), a direct run on a GPU machine may not. */
  g_strfreev (disco_registry_list_names ());
  if (disco_backend_get (DISCO_DEVICE_CUDA) != NULL)
    {
      g_test_skip ("a CUDA device is usable here: tests/gpu checks device selection with one");
      return;
    }
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autoptr (DiscoPipeline) p = NULL;
      g_autoptr (GError) automatic = load_table1 (names[i], NULL, &p);
      g_autoptr (GError) cuda = load_table1 (names[i], on_cuda, NULL);
      g_autoptr (GError) node = load_table1 (names[i], node_on_cuda, NULL);
      g_auto (GStrv) nodes = disco_pipeline_list_nodes (p);

      g_assert_no_error (automatic);
      g_assert_cmpint (disco_pipeline_get_active_device (p), ==, DISCO_DEVICE_CPU);
      for (guint j = 0; nodes[j] != NULL; j++)
        if (!disco_node_runs_on_cuda (disco_pipeline_get_node (p, nodes[j])))
          g_error ("%s: node \"%s\" does not run on CUDA", names[i], nodes[j]);
      g_assert_error (cuda, DISCO_ERROR, DISCO_ERROR_DEVICE);
      g_assert_nonnull (strstr (cuda->message, "device \"cuda\" was requested, but no CUDA "
                                               "device is usable"));
      g_assert_error (node, DISCO_ERROR, DISCO_ERROR_DEVICE);
      g_assert_nonnull (strstr (node->message, "(no CUDA device is usable)"));
      g_test_message ("%s: %u nodes run on CUDA; %s", names[i], g_strv_length (nodes),
                      node->message);
    }
}

static char *
digits_path (void)
{
  char *path = g_build_filename (DISCO_SOURCE_ROOT, "data", "datasets", "digits",
                                 "digits.csv.gz", NULL);

  /* The installed set when there is one, else the 30-sample fixture. */
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_free (path);
      path = g_build_filename (DISCO_SOURCE_ROOT, "data", "fixtures", "digits", "digits.csv.gz",
                               NULL);
    }
  return path;
}

static void
test_node_device_cpu (void)
{
  /* With the device path on, an integrator whose own device is cpu keeps
   * to its host code (no host syncs: the compacting solver needs none);
   * the same integrator on auto takes the table (syncs > 0). */
  const char *settings[][2] = { { "settle.device=cpu", "0" }, { "settle.device=auto", "1" } };

  g_test_summary ("A node with device = cpu computes on the host even where the device path "
                  "is taken");
  for (guint i = 0; i < G_N_ELEMENTS (settings); i++)
    {
      const char *overrides[] = { settings[i][0], NULL };
      guint64 operations = 0;
      guint syncs = host_syncs_with_table (overrides, &operations);

      g_test_message ("%s: %u host syncs and %" G_GUINT64_FORMAT " table operations in the "
                      "last solve", settings[i][0], syncs, operations);
      if (settings[i][1][0] == '0')
        {
          g_assert_cmpuint (syncs, ==, 0);
          g_assert_cmpuint (operations, ==, 0);
        }
      else
        {
          g_assert_cmpuint (syncs, >, 0);
          g_assert_cmpuint (operations, >, 0);
        }
    }
}

static void
test_digits_training (void)
{
  g_autofree char *pipeline = g_build_filename (DISCO_SOURCE_ROOT, "pipelines",
                                                "digits-1x64-linear-threshold.pipeline", NULL);
  g_autofree char *data = digits_path ();
  g_autofree char *data_path = g_strdup_printf ("data.path=%s", data);
  const char *overrides[] = { data_path, "data.epochs=1", "data.limit=150", "data.batch-size=50",
                              "score.report=", "pipeline.checkpoint=false", NULL };
  /* Adam divides each gradient entry by its running RMS, so entries near 0
   * that differ by rounding move their weights by up to lr per step either
   * way: the weights after three steps get 1e-4 of their scale (measured
   * 1.5e-5), the rest the common tolerance. */
  static const Probe probes[] = {
    { "h1", "weight", 1e-4 }, { "settle", "output" }, { "settle", "state" },
    { "settle", "open-loop-state" }, { "settle", "steps" },
  };
  static const char *names[] = { "train loss", "train accuracy", "validation loss",
                                 "validation accuracy", "test loss", "test accuracy" };
  Run host = { 0 }, table = { 0 };

  g_test_summary ("A short digits-1x64-linear-threshold run (3 training minibatches of 50, "
                  "then validation and test): the report's numbers and the learnt weights "
                  "agree between host and device paths");
  run_pipeline (NULL, pipeline, overrides, FALSE, probes, G_N_ELEMENTS (probes), &host);
  run_pipeline (NULL, pipeline, overrides, TRUE, probes, G_N_ELEMENTS (probes), &table);
  compare (probes, G_N_ELEMENTS (probes), &host, &table, tolerance_for (&host, &table), 1);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      double a = host.numbers[i], b = table.numbers[i];

      g_test_message ("%s: host %.9g, table %.9g", names[i], a, b);
      if (isnan (a))
        g_assert_true (isnan (b));
      else
        /* Accuracies are counts of argmaxes: equal unless a logit pair is
         * within rounding; losses within 1e-5 relative. */
        g_assert_cmpfloat (fabs (a - b), <=, 1e-5 * MAX (fabs (a), 1e-3));
    }
  run_clear (&host);
  run_clear (&table);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  disco_registry_register ("test-random-source", TEST_TYPE_RANDOM_SOURCE);

  g_test_add_func ("/disco/device/controlled-cross-entropy", test_controlled_cross_entropy);
  g_test_add_func ("/disco/device/controlled-mse", test_controlled_mse);
  g_test_add_func ("/disco/device/controlled-feedback-options", test_controlled_options);
  g_test_add_func ("/disco/device/open-loop-only", test_open_loop_only);
  g_test_add_func ("/disco/device/fixed-step-methods", test_fixed_step_methods);
  g_test_add_func ("/disco/device/record-sample", test_record_sample);
  g_test_add_func ("/disco/device/node-device-cpu", test_node_device_cpu);
  g_test_add_func ("/disco/device/rate-layers", test_rate_layers);
  g_test_add_func ("/disco/device/rate-layers-paths", test_rate_layers_paths);
  g_test_add_func ("/disco/device/backprop-devices", test_backprop_devices);
  g_test_add_func ("/disco/device/digits-training", test_digits_training);
  return g_test_run ();
}
