/* disco-bench-train.c: where a training minibatch spends its time
 *
 *   disco-bench-train [--minibatches N] [--json]
 *   disco-bench-train --tables [--minibatches N]
 *
 * For the Table 1 pipelines of MNIST (1×256 and 3×256; backprop,
 * exact-inverse, linear-threshold) at batch 100, runs a few warm-up
 * minibatches and then N measured ones, and prints per minibatch: the
 * open-loop solve, the feedback weights, the closed-loop solve, the
 * plasticity rule and the optimizer (ms, medians), with the mean solver
 * steps of both solves. Needs the datasets (data/install-datasets.sh).
 *
 * --tables times the 3×256 linear-threshold training minibatch per
 * operations table instead: the host table here (what every CPU run
 * computes with), and the CUDA table where a GPU is usable, printing ms per
 * minibatch (medians), the integrator's host round trips and its table
 * operations.  "full" is the whole training minibatch (the rule and the
 * optimizer on their own paths); "integrator" is the same pipeline without
 * the rule, the optimizer and the evaluator, which is what a CUDA pipeline
 * can hold while they have no CUDA path (then "full" says so and is
 * skipped on CUDA).
 */
#include <disco/disco.h>
#include "disco-bench-stats.h"
#include <disco/disco-backend.h>
#include "disco-kernels.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WARM_UP 2

typedef struct
{
  GArray *open_loop, *feedback, *closed_loop, *learn, *optimizer, *total;
  double open_loop_steps, closed_loop_steps;
  guint measured;
  double learn_before, optimizer_before;
  gint64 tick_start;
} Samples;

/* The checkout whose pipelines and datasets to use: the one this was built
 * from, unless DISCO_SOURCE_ROOT names another (a bundle built elsewhere,
 * tests/gpu/bundle.sh). */
static const char *
source_root (void)
{
  const char *root = g_getenv ("DISCO_SOURCE_ROOT");

  return root != NULL ? root : DISCO_SOURCE_ROOT;
}

static void
on_tick (DiscoPipeline *pipeline, DiscoTick *tick, Samples *samples)
{
  DiscoNode *settle = disco_pipeline_get_node (pipeline, "settle");
  double learn = disco_pipeline_get_node_seconds (pipeline, "learn");
  double optimizer = disco_pipeline_get_node_seconds (pipeline, "adam");
  gint64 now = g_get_monotonic_time ();
  double open_loop, feedback, closed_loop, ol_steps, cl_steps;

  if (tick->index >= WARM_UP)
    {
      g_object_get (settle, "last-open-loop-seconds", &open_loop, "last-feedback-seconds",
                    &feedback, "last-closed-loop-seconds", &closed_loop, "last-mean-steps",
                    &ol_steps, "last-mean-closed-loop-steps", &cl_steps, NULL);
      g_array_append_val (samples->open_loop, open_loop);
      g_array_append_val (samples->feedback, feedback);
      g_array_append_val (samples->closed_loop, closed_loop);
      learn -= samples->learn_before;
      optimizer -= samples->optimizer_before;
      g_array_append_val (samples->learn, learn);
      g_array_append_val (samples->optimizer, optimizer);
      {
        double total = (now - samples->tick_start) / 1e6;
        g_array_append_val (samples->total, total);
      }
      samples->open_loop_steps += ol_steps;
      samples->closed_loop_steps += cl_steps;
      samples->measured++;
    }
  samples->learn_before = disco_pipeline_get_node_seconds (pipeline, "learn");
  samples->optimizer_before = disco_pipeline_get_node_seconds (pipeline, "adam");
  samples->tick_start = g_get_monotonic_time ();
}

static gboolean
bench (const char *name, guint minibatches, gboolean json, gboolean first, GError **error)
{
  g_autofree char *path = g_strdup_printf ("%s/pipelines/%s.pipeline", source_root (), name);
  g_autofree char *max_ticks = g_strdup_printf ("pipeline.max-ticks=%u", WARM_UP + minibatches);
  const char *overrides[] = { max_ticks, "pipeline.checkpoint=false", "score.report=", NULL };
  g_autoptr (DiscoPipeline) pipeline = disco_pipeline_new_from_file (path, overrides, error);
  Samples samples = { 0 };
  GArray **all[] = { &samples.open_loop, &samples.feedback,  &samples.closed_loop,
                     &samples.learn,     &samples.optimizer, &samples.total };

  if (pipeline == NULL)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    *all[i] = g_array_new (FALSE, FALSE, sizeof (double));
  g_signal_connect (pipeline, "tick", G_CALLBACK (on_tick), &samples);
  samples.tick_start = g_get_monotonic_time ();
  if (!disco_pipeline_run (pipeline, NULL, error))
    return FALSE;

  if (json)
    printf ("%s  \"%s\": {\"open_loop_ms\": %.2f, \"feedback_ms\": %.2f, \"closed_loop_ms\": %.2f, "
            "\"plasticity_ms\": %.2f, \"optimizer_ms\": %.2f, \"total_ms\": %.2f, "
            "\"open_loop_steps\": %.1f, \"closed_loop_steps\": %.1f}",
            first ? "" : ",\n", name, disco_bench_median_ms (samples.open_loop),
            disco_bench_median_ms (samples.feedback), disco_bench_median_ms (samples.closed_loop),
            disco_bench_median_ms (samples.learn), disco_bench_median_ms (samples.optimizer),
            disco_bench_median_ms (samples.total), samples.open_loop_steps / samples.measured,
            samples.closed_loop_steps / samples.measured);
  else
    printf ("%-30s %8.1f %8.1f %8.1f %8.1f %8.1f %8.1f   %5.1f %5.1f\n", name,
            disco_bench_median_ms (samples.open_loop), disco_bench_median_ms (samples.feedback),
            disco_bench_median_ms (samples.closed_loop), disco_bench_median_ms (samples.learn),
            disco_bench_median_ms (samples.optimizer), disco_bench_median_ms (samples.total),
            samples.open_loop_steps / samples.measured,
            samples.closed_loop_steps / samples.measured);
  fflush (stdout);
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    g_array_unref (*all[i]);
  return TRUE;
}

/* ----- --tables ------------------------------------------------------------ */

typedef struct
{
  GArray *total, *solve, *wait;
  double syncs, open_loop_steps, closed_loop_steps, operations;
  guint measured;
  gint64 tick_start;
} DeviceSamples;

static void
on_device_tick (DiscoPipeline *pipeline, DiscoTick *tick, DeviceSamples *samples)
{
  DiscoNode *settle = disco_pipeline_get_node (pipeline, "settle");
  gint64 now = g_get_monotonic_time ();

  if (tick->index >= WARM_UP)
    {
      double total = (now - samples->tick_start) / 1e6, solve, wait, ol, cl;
      guint syncs;
      guint64 operations;

      g_object_get (settle, "last-solve-seconds", &solve, "last-host-syncs", &syncs,
                    "last-host-wait", &wait, "last-operations", &operations, "last-mean-steps", &ol,
                    "last-mean-closed-loop-steps", &cl, NULL);
      g_array_append_val (samples->total, total);
      g_array_append_val (samples->solve, solve);
      g_array_append_val (samples->wait, wait);
      samples->syncs += syncs;
      samples->operations += operations;
      samples->open_loop_steps += ol;
      samples->closed_loop_steps += cl;
      samples->measured++;
    }
  samples->tick_start = g_get_monotonic_time ();
}

/* The 3×256 linear-threshold pipeline as text, without @drop's sections. */
static char *
pipeline_text (const char *const *drop, GError **error)
{
  g_autofree char *path =
      g_strdup_printf ("%s/pipelines/mnist-3x256-linear-threshold.pipeline", source_root ());
  g_autoptr (GKeyFile) file = g_key_file_new ();

  if (!g_key_file_load_from_file (file, path, G_KEY_FILE_NONE, error))
    return NULL;
  for (guint i = 0; drop != NULL && drop[i] != NULL; i++)
    g_key_file_remove_group (file, drop[i], NULL);
  return g_key_file_to_data (file, NULL, error);
}

/* One row: @table is "cpu" (the host table) or "cuda". */
static gboolean
bench_device_row (const char *table, gboolean full, guint minibatches, GError **error)
{
  static const char *const integrator_only[] = { "learn", "adam", "score", NULL };
  g_autofree char *text = pipeline_text (full ? NULL : integrator_only, error);
  g_autofree char *max_ticks = g_strdup_printf ("pipeline.max-ticks=%u", WARM_UP + minibatches);
  g_autofree char *data = g_strdup_printf ("data.path=%s/data/datasets/mnist", source_root ());
  g_autofree char *device =
      g_strdup_printf ("pipeline.device=%s", strcmp (table, "cuda") == 0 ? "cuda" : "cpu");
  const char *overrides[] = {
    max_ticks, data, device, "pipeline.checkpoint=false", full ? "score.report=" : NULL, NULL
  };
  g_autoptr (DiscoPipeline) pipeline = NULL;
  g_autofree char *operations = NULL;
  DeviceSamples samples = { 0 };

  if (text == NULL)
    return FALSE;
  pipeline = disco_pipeline_new_from_string (text, overrides, error);
  if (pipeline == NULL)
    return FALSE;
  if (!disco_pipeline_validate (pipeline, error))
    {
      if (g_error_matches (*error, DISCO_ERROR, DISCO_ERROR_DEVICE))
        {
          printf ("%-5s %-11s  (not on CUDA yet: %s)\n", table, full ? "full" : "integrator",
                  (*error)->message);
          g_clear_error (error);
          return TRUE;
        }
      return FALSE;
    }
  samples.total = g_array_new (FALSE, FALSE, sizeof (double));
  samples.solve = g_array_new (FALSE, FALSE, sizeof (double));
  samples.wait = g_array_new (FALSE, FALSE, sizeof (double));
  g_signal_connect (pipeline, "tick", G_CALLBACK (on_device_tick), &samples);
  samples.tick_start = g_get_monotonic_time ();
  if (!disco_pipeline_run (pipeline, NULL, error))
    return FALSE;
  operations = g_strdup_printf ("%.0f", samples.operations / MAX (samples.measured, 1));
  printf ("%-5s %-11s %10.1f %10.1f %10.1f %8.1f %10s %8.1f %8.1f\n", table,
          full ? "full" : "integrator", disco_bench_median_ms (samples.total),
          disco_bench_median_ms (samples.solve), disco_bench_median_ms (samples.wait),
          samples.syncs / MAX (samples.measured, 1), operations,
          samples.open_loop_steps / MAX (samples.measured, 1),
          samples.closed_loop_steps / MAX (samples.measured, 1));
  fflush (stdout);
  g_array_unref (samples.total);
  g_array_unref (samples.solve);
  g_array_unref (samples.wait);
  return TRUE;
}

static int
bench_tables (guint minibatches)
{
  g_autoptr (GError) error = NULL;
  gboolean cuda;

  g_strfreev (disco_registry_list_names ()); /* loads the plugins, disco-cuda among them */
  cuda = disco_backend_get (DISCO_DEVICE_CUDA) != NULL;
  printf ("per table, mnist-3x256-linear-threshold, batch 100, medians of %u minibatches "
          "after %d warm-up\n"
          "wait ms: the integrator's solves blocked on the device (kernel time beyond the "
          "host's queueing; settle ms minus wait ms is the host's own time); ops: the table's "
          "operations in the integrator per minibatch (on CUDA its kernel launches and cuBLAS "
          "calls)\n"
          "%-5s %-11s %10s %10s %10s %8s %10s %8s %8s\n",
          minibatches, WARM_UP, "table", "minibatch", "ms/batch", "settle ms", "wait ms", "syncs",
          "ops", "OLst", "CLst");
  if (!bench_device_row ("cpu", TRUE, minibatches, &error)
      || !bench_device_row ("cpu", FALSE, minibatches, &error)
      || (cuda
          && (!bench_device_row ("cuda", TRUE, minibatches, &error)
              || !bench_device_row ("cuda", FALSE, minibatches, &error))))
    {
      g_printerr ("disco-bench-train: %s\n", error->message);
      return 1;
    }
  if (!cuda)
    printf ("cuda  (no usable CUDA device: not measured)\n");
  return 0;
}

int
main (int argc, char **argv)
{
  static const char *const names[] = {
    "mnist-1x256-backprop", "mnist-1x256-exact-inverse", "mnist-1x256-linear-threshold",
    "mnist-3x256-backprop", "mnist-3x256-exact-inverse", "mnist-3x256-linear-threshold",
  };
  int minibatches = 10;
  gboolean json = FALSE, per_table = FALSE;
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) context = g_option_context_new ("- time a training minibatch");
  GOptionEntry entries[] = {
    { "minibatches", 'n', 0, G_OPTION_ARG_INT, &minibatches, "Measured minibatches (10)", "N" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
    { "tables", 0, 0, G_OPTION_ARG_NONE, &per_table,
      "Time the 3×256 linear-threshold minibatch per operations table (the host "
      "table, and CUDA table on a GPU)",
      NULL },
    G_OPTION_ENTRY_NULL
  };

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || minibatches < 1)
    {
      g_printerr ("disco-bench-train: %s\n", error ? error->message : "N must be at least 1");
      return 2;
    }

  /* OpenBLAS runs small products slowly until one large one has run. */
  {
    const gsize n = 1024;
    g_autofree float *a = g_new0 (float, n *n);
    g_autofree float *c = g_new0 (float, n *n);
    disco_gemm_cpu (FALSE, FALSE, n, n, n, 1.0f, a, n, a, n, 0.0f, c, n);
  }

  if (per_table)
    return bench_tables (minibatches);
  if (json)
    printf ("{\n");
  else
    printf ("batch 100, medians of %d minibatches after %d warm-up (ms per training minibatch)\n"
            "%-30s %8s %8s %8s %8s %8s %8s   %5s %5s\n",
            minibatches, WARM_UP, "pipeline", "OL", "feedback", "CL", "rule", "adam", "total",
            "OLst", "CLst");
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    if (!bench (names[i], minibatches, json, i == 0, &error))
      {
        g_printerr ("disco-bench-train: %s\n", error->message);
        return 1;
      }
  if (json)
    printf ("\n}\n");
  return 0;
}
