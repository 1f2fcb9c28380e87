/* disco-bench-train.c: where a training minibatch spends its time
 *
 *   disco-bench-train [--minibatches N] [--json]
 *
 * For the Table 1 pipelines of MNIST (1×256 and 3×256; backprop,
 * exact-inverse, linear-threshold) at batch 100, runs a few warm-up
 * minibatches and then N measured ones, and prints per minibatch: the
 * open-loop solve, the feedback weights, the closed-loop solve, the
 * plasticity rule and the optimizer (ms, medians), with the mean solver
 * steps of both solves. Needs the datasets (data/install-datasets.sh).
 */
#include <disco/disco.h>
#include "disco-kernels.h"

#include <stdio.h>
#include <stdlib.h>

#define WARM_UP 2

typedef struct
{
  GArray *open_loop, *feedback, *closed_loop, *learn, *optimizer, *total;
  double open_loop_steps, closed_loop_steps;
  guint measured;
  double learn_before, optimizer_before;
  gint64 tick_start;
} Samples;

static int
compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

static double
median_ms (GArray *values)
{
  if (values->len == 0)
    return 0;
  g_array_sort (values, compare_doubles);
  return 1e3 * g_array_index (values, double, values->len / 2);
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
  g_autofree char *path = g_strdup_printf ("%s/pipelines/%s.pipeline", DISCO_SOURCE_ROOT, name);
  g_autofree char *max_ticks = g_strdup_printf ("pipeline.max-ticks=%u", WARM_UP + minibatches);
  const char *overrides[] = { max_ticks, "pipeline.checkpoint=false", "score.report=", NULL };
  g_autoptr (DiscoPipeline) pipeline = disco_pipeline_new_from_file (path, overrides, error);
  Samples samples = { 0 };
  GArray **all[] = { &samples.open_loop, &samples.feedback, &samples.closed_loop,
                     &samples.learn, &samples.optimizer, &samples.total };

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
            first ? "" : ",\n", name, median_ms (samples.open_loop), median_ms (samples.feedback),
            median_ms (samples.closed_loop), median_ms (samples.learn),
            median_ms (samples.optimizer), median_ms (samples.total),
            samples.open_loop_steps / samples.measured,
            samples.closed_loop_steps / samples.measured);
  else
    printf ("%-30s %8.1f %8.1f %8.1f %8.1f %8.1f %8.1f   %5.1f %5.1f\n", name,
            median_ms (samples.open_loop), median_ms (samples.feedback),
            median_ms (samples.closed_loop), median_ms (samples.learn),
            median_ms (samples.optimizer), median_ms (samples.total),
            samples.open_loop_steps / samples.measured,
            samples.closed_loop_steps / samples.measured);
  fflush (stdout);
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    g_array_unref (*all[i]);
  return TRUE;
}

int
main (int argc, char **argv)
{
  static const char *const names[] = {
    "mnist-1x256-backprop", "mnist-1x256-exact-inverse", "mnist-1x256-linear-threshold",
    "mnist-3x256-backprop", "mnist-3x256-exact-inverse", "mnist-3x256-linear-threshold",
  };
  int minibatches = 10;
  gboolean json = FALSE;
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) context = g_option_context_new ("- time a training minibatch");
  GOptionEntry entries[] = {
    { "minibatches", 'n', 0, G_OPTION_ARG_INT, &minibatches, "Measured minibatches (10)", "N" },
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
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
    g_autofree float *a = g_new0 (float, n * n);
    g_autofree float *c = g_new0 (float, n * n);
    disco_gemm_cpu (FALSE, FALSE, n, n, n, 1.0f, a, n, a, n, 0.0f, c, n);
  }

  if (json)
    printf ("{\n");
  else
    printf ("batch 100, medians of %d minibatches after %d warm-up (ms per training minibatch)\n"
            "%-30s %8s %8s %8s %8s %8s %8s   %5s %5s\n", minibatches, WARM_UP, "pipeline",
            "OL", "feedback", "CL", "rule", "adam", "total", "OLst", "CLst");
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
