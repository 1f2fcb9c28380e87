/* disco-bench-equilibrium.c: the ODE against the fixed-point solver, per
 * training minibatch
 *
 *   disco-bench-equilibrium [--minibatches N] [--json] [PIPELINE ...]
 *
 * For each Table 1 pipeline of MNIST with a controller (default: 1×256 and
 * 3×256, linear threshold; batch 100), runs a few warm-up minibatches and
 * then N measured ones with settle.method = tsit5 and then = equilibrium,
 * and prints per minibatch: the open-loop solve, the feedback weights, the
 * closed-loop solve and the whole tick (ms, medians), the mean steps
 * (solver steps or Newton iterations) and network evaluations per sample
 * of both solves (ODE: right-hand sides; equilibrium: forward passes, plus
 * one Jacobian pass per closed-loop iteration), the samples handed to the
 * ODE, the largest contraction estimate and the operations of the
 * integrator's table per minibatch (DiscoOps.get_operation_count: on CUDA
 * its kernel launches and cuBLAS calls; on the host table its kernel calls:
 * the ODE's lockstep solve makes about 6.9k per 3×256 minibatch).
 *
 * Next to them, the arithmetic of the whole tick: MFLOP is the mean
 * 2·m·n·k of the BLAS products the tick runs (DiscoGemmStats: the drives,
 * the network's Jacobian and feedback products, the weight updates; the few
 * products the kernels compute in their own loops, such as the equilibrium
 * kernels' per-sample feedback products, are not counted), GEMMms the mean
 * time spent inside them, and floor the fraction of this machine's SGEMM
 * rate that the whole tick reaches: MFLOP over the median total, divided
 * by the rate that the same program measures, after the runs and with the
 * runs' BLAS thread count, for the network's products (per layer of
 * n_out × n_in weights: B × n_out × n_in for the drives, n_out × n_in × B
 * for the weight updates, each weighted by the layer's weight count, which
 * every product of that layer is proportional to).  A floor of 1 would be
 * a tick that is nothing but SGEMM at the full rate.  The ODE's products
 * are smaller and more numerous (one per stage and layer), so its floor
 * says more about overhead than about shapes.  Needs the datasets
 * (data/install-datasets.sh).
 */
#include <disco/disco.h>
#include "disco-bench-sgemm.h"
#include "disco-bench-stats.h"
#include "disco-kernels.h"

#include <stdio.h>
#include <stdlib.h>

#define WARM_UP 2
#define BATCH 100
#define MNIST_FEATURES 784

typedef struct
{
  GArray *open_loop, *feedback, *closed_loop, *total;
  double ol_steps, cl_steps, ol_evaluations, cl_evaluations, contraction, operations;
  double gemm_flops, gemm_seconds;
  guint measured;
  gint64 tick_start;
  DiscoGemmStats gemm_at_start;
} Samples;

/* Measured SGEMM rates, one per shape, so that a shape is timed once. */
typedef struct
{
  gboolean trans_a;
  gsize m, n, k;
  double gflops;
} Rate;

static GArray *rates; /* of Rate */

static double
sgemm_rate (gboolean trans_a, gsize m, gsize n, gsize k)
{
  Rate rate = { trans_a, m, n, k, 0 };

  for (guint i = 0; i < rates->len; i++)
    {
      const Rate *r = &g_array_index (rates, Rate, i);

      if (r->trans_a == trans_a && r->m == m && r->n == n && r->k == k)
        return r->gflops;
    }
  /* Drives are R (B×n_in) · Wᵀ; weight updates are δᵀ (n_out×B) · R. */
  rate.gflops = disco_bench_sgemm_gflops (trans_a, !trans_a, m, n, k);
  g_array_append_val (rates, rate);
  return rate.gflops;
}

/* The SGEMM rate (GFLOP/s) of the products of the network of @pipeline:
 * layers h1, h2, … and out, each fed by the one before (the first by the
 * MNIST images). */
static double
network_sgemm_rate (DiscoPipeline *pipeline)
{
  guint n_in = MNIST_FEATURES;
  double weights = 0, seconds_per_flop = 0;

  for (guint l = 1;; l++)
    {
      g_autofree char *name = g_strdup_printf ("h%u", l);
      DiscoNode *layer = disco_pipeline_get_node (pipeline, name);
      guint n_out;
      double w;

      if (layer == NULL)
        layer = disco_pipeline_get_node (pipeline, "out");
      g_object_get (layer, "size", &n_out, NULL);
      w = (double) n_out * n_in;
      weights += w;
      seconds_per_flop += w * 0.5
                          * (1 / sgemm_rate (FALSE, BATCH, n_out, n_in)
                             + 1 / sgemm_rate (TRUE, n_out, n_in, BATCH));
      if (layer == disco_pipeline_get_node (pipeline, "out"))
        break;
      n_in = n_out;
    }
  return weights / seconds_per_flop;
}

static void
on_tick (DiscoPipeline *pipeline, DiscoTick *tick, Samples *samples)
{
  DiscoNode *settle = disco_pipeline_get_node (pipeline, "settle");
  gint64 now = g_get_monotonic_time ();
  DiscoGemmStats gemm;

  disco_gemm_stats_get (&gemm);

  if (tick->index >= WARM_UP)
    {
      double open_loop, feedback, closed_loop, total = (now - samples->tick_start) / 1e6;
      double ol_steps, cl_steps, ol_evaluations, cl_evaluations, contraction;
      guint64 operations;

      g_object_get (settle, "last-open-loop-seconds", &open_loop, "last-feedback-seconds",
                    &feedback, "last-closed-loop-seconds", &closed_loop, "last-mean-steps",
                    &ol_steps, "last-mean-closed-loop-steps", &cl_steps,
                    "last-open-loop-evaluations", &ol_evaluations, "last-closed-loop-evaluations",
                    &cl_evaluations, "last-max-contraction", &contraction, "last-operations",
                    &operations, NULL);
      g_array_append_val (samples->open_loop, open_loop);
      g_array_append_val (samples->feedback, feedback);
      g_array_append_val (samples->closed_loop, closed_loop);
      g_array_append_val (samples->total, total);
      samples->ol_steps += ol_steps;
      samples->cl_steps += cl_steps;
      samples->ol_evaluations += ol_evaluations;
      samples->cl_evaluations += cl_evaluations;
      samples->contraction = MAX (samples->contraction, contraction);
      samples->operations += operations;
      samples->gemm_flops += gemm.flops - samples->gemm_at_start.flops;
      samples->gemm_seconds += gemm.seconds - samples->gemm_at_start.seconds;
      samples->measured++;
    }
  disco_gemm_stats_get (&samples->gemm_at_start);
  samples->tick_start = g_get_monotonic_time ();
}

static gboolean
bench (const char *name, const char *method, guint minibatches, gboolean json, gboolean first,
       GError **error)
{
  g_autofree char *path = g_strdup_printf ("%s/pipelines/%s.pipeline", DISCO_SOURCE_ROOT, name);
  g_autofree char *max_ticks = g_strdup_printf ("pipeline.max-ticks=%u", WARM_UP + minibatches);
  g_autofree char *method_override = g_strdup_printf ("settle.method=%s", method);
  const char *overrides[] = { max_ticks, method_override, "pipeline.checkpoint=false",
                              "score.report=", NULL };
  g_autoptr (DiscoPipeline) pipeline = disco_pipeline_new_from_file (path, overrides, error);
  Samples samples = { 0 };
  GArray **all[] = { &samples.open_loop, &samples.feedback, &samples.closed_loop, &samples.total };
  guint64 fallbacks;
  double m, total_ms, mflop, sgemm_gflops, fraction;

  if (pipeline == NULL)
    return FALSE;
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    *all[i] = g_array_new (FALSE, FALSE, sizeof (double));
  g_signal_connect (pipeline, "tick", G_CALLBACK (on_tick), &samples);
  disco_gemm_stats_get (&samples.gemm_at_start);
  samples.tick_start = g_get_monotonic_time ();
  if (!disco_pipeline_run (pipeline, NULL, error))
    return FALSE;
  g_object_get (disco_pipeline_get_node (pipeline, "settle"), "fallbacks", &fallbacks, NULL);
  m = MAX (samples.measured, 1);
  total_ms = disco_bench_median_ms (samples.total);
  mflop = samples.gemm_flops / m / 1e6;
  sgemm_gflops = network_sgemm_rate (pipeline);
  fraction = mflop / total_ms / sgemm_gflops; /* MFLOP per ms is GFLOP/s */

  if (json)
    printf ("%s  \"%s/%s\": {\"open_loop_ms\": %.2f, \"feedback_ms\": %.2f, "
            "\"closed_loop_ms\": %.2f, \"total_ms\": %.2f, \"open_loop_steps\": %.1f, "
            "\"closed_loop_steps\": %.1f, \"open_loop_evaluations\": %.1f, "
            "\"closed_loop_evaluations\": %.1f, \"fallbacks\": %" G_GUINT64_FORMAT ", "
            "\"max_contraction\": %.3f, \"operations\": %.0f, \"gemm_mflop\": %.3f, "
            "\"gemm_ms\": %.2f, \"blas_threads\": %u, \"sgemm_gflops\": %.2f, "
            "\"fraction_of_sgemm\": %.4f}",
            first ? "" : ",\n", name, method, disco_bench_median_ms (samples.open_loop),
            disco_bench_median_ms (samples.feedback), disco_bench_median_ms (samples.closed_loop),
            total_ms, samples.ol_steps / m, samples.cl_steps / m, samples.ol_evaluations / m,
            samples.cl_evaluations / m, fallbacks, samples.contraction, samples.operations / m,
            mflop, 1e3 * samples.gemm_seconds / m, disco_blas_get_threads (), sgemm_gflops,
            fraction);
  else
    printf ("%-30s %-11s %7.1f %7.1f %7.1f %7.1f   %6.1f %6.1f %7.1f %7.1f %6" G_GUINT64_FORMAT
            " %6.3f %6.0f   %7.1f %7.2f %6.1f %6.3f\n",
            name, method, disco_bench_median_ms (samples.open_loop),
            disco_bench_median_ms (samples.feedback), disco_bench_median_ms (samples.closed_loop),
            total_ms, samples.ol_steps / m, samples.cl_steps / m, samples.ol_evaluations / m,
            samples.cl_evaluations / m, fallbacks, samples.contraction, samples.operations / m,
            mflop, 1e3 * samples.gemm_seconds / m, sgemm_gflops, fraction);
  fflush (stdout);
  for (guint i = 0; i < G_N_ELEMENTS (all); i++)
    g_array_unref (*all[i]);
  return TRUE;
}

int
main (int argc, char **argv)
{
  static const char *const default_names[] = {
    "mnist-1x256-linear-threshold",
    "mnist-3x256-linear-threshold",
    NULL,
  };
  static const char *const methods[] = { "tsit5", "equilibrium" };
  const char *const *names = default_names;
  int minibatches = 10;
  gboolean json = FALSE, first = TRUE;
  g_autoptr (GError) error = NULL;
  g_autoptr (GOptionContext) context =
      g_option_context_new ("[PIPELINE ...] - ODE against fixed points per training minibatch");
  GOptionEntry entries[] = { { "minibatches", 'n', 0, G_OPTION_ARG_INT, &minibatches,
                               "Measured minibatches (10)", "N" },
                             { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print JSON", NULL },
                             G_OPTION_ENTRY_NULL };

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error) || minibatches < 1)
    {
      g_printerr ("disco-bench-equilibrium: %s\n", error ? error->message : "N must be at least 1");
      return 2;
    }
  if (argc > 1)
    names = (const char *const *) argv + 1;

  rates = g_array_new (FALSE, FALSE, sizeof (Rate));
  disco_gemm_stats_set_enabled (TRUE);

  /* OpenBLAS runs small products slowly until one large one has run. */
  {
    const gsize n = 1024;
    g_autofree float *a = g_new0 (float, n *n);
    g_autofree float *c = g_new0 (float, n *n);
    disco_gemm_cpu (FALSE, FALSE, n, n, n, 1.0f, a, n, a, n, 0.0f, c, n);
  }

  if (json)
    printf ("{\n");
  else
    printf ("batch 100, medians of %d training minibatches after %d warm-up (ms); steps and "
            "evaluations per sample; GEMM MFLOP and ms per minibatch (means), SGEMM GFLOP/s of "
            "the network's shapes, floor = MFLOP / total / SGEMM\n"
            "%-30s %-11s %7s %7s %7s %7s   %6s %6s %7s %7s %6s %6s %6s   %7s %7s %6s %6s\n",
            minibatches, WARM_UP, "pipeline", "method", "OL", "feedbk", "CL", "total", "OLst",
            "CLst", "OLev", "CLev", "fallbk", "contr", "ops", "MFLOP", "GEMMms", "SGEMM", "floor");
  for (guint i = 0; names[i] != NULL; i++)
    for (guint j = 0; j < G_N_ELEMENTS (methods); j++)
      {
        if (!bench (names[i], methods[j], minibatches, json, first, &error))
          {
            g_printerr ("disco-bench-equilibrium: %s\n", error->message);
            return 1;
          }
        first = FALSE;
      }
  if (json)
    printf ("\n}\n");
  return 0;
}
