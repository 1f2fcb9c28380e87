/* disco-bench-solve.c: how fast the open-loop network solve runs, and how
 * much of it is matrix products
 *
 *   disco-bench-solve [--json] [--minibatches N] [--threads N] [--data DIR]
 *                     [--network NAME]
 *
 * For the networks 784–256–10 and 784–256–256–256–10 (microcircuit layers,
 * linear readout; LeCun-normal weights from pipeline seed 0), built through
 * the engine with an integrator at its defaults (MODEL.md §5: Tsit5, Diffrax
 * PID control, steady-state stop), fed consecutive minibatches of 100 MNIST
 * test images (pixels/255).  Per network it prints:
 *
 * - the open-loop solve time per minibatch: the wall time of the integrator's
 *   tick (first-layer drive W₁x + b₁, the solve, publishing the rates), median
 *   over the timed minibatches (the first one is a warm-up and not counted);
 * - mean solver steps and right-hand-side evaluations per sample;
 * - the GEMM flops the solve performed and the time spent inside
 *   disco_gemm_cpu(), from the kernels' GEMM counters (each call counts
 *   2·m·n·k over the rows it was given: W₁x once per minibatch, then per
 *   evaluation one product per layer above the first over the active rows),
 *   cross-checked against the same count from the solver's statistics;
 * - the achieved GFLOP/s of the solve (those flops over the solve time) and
 *   the fraction of the solve spent in GEMM;
 * - this machine's OpenBLAS SGEMM rate for the matching shapes (100×256×256,
 *   100×10×256, 100×256×784, in the network's layout C = R·Wᵀ), measured in
 *   the same run after a warm-up, with the thread count the solve used and
 *   with the other count (1 vs 2), and the rate those shapes give for the
 *   solve's own mix of flops.  Inside a solve the products shrink as samples
 *   finish (A < 100 rows), so this reference is, if anything, generous.
 *
 * The goal this reports on: the solve spends ≥ 60 % of its time in GEMM and
 * reaches ≥ 50 % of the SGEMM rate of its mix.
 *
 * BLAS threads: as the library decides (disco_blas_apply_thread_policy(),
 * which honours $DISCO_BLAS_THREADS, $OPENBLAS_NUM_THREADS, …), or --threads.
 * Runs unattended in well under a minute; exit status 1 on any error.
 *
 * The GEMM counters live in the kernels library, which is linked statically
 * both into this program and into the node plugin; the program exports its
 * symbols (export_dynamic in tools/meson.build) so that the plugin's calls
 * resolve to, and are counted in, this program's copy.  It checks that the
 * counters saw the solve's products and fails otherwise.
 */

#include <disco/disco.h>
#include "disco-bench-sgemm.h"
#include "disco-bench-stats.h"

#include <cblas.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "disco-kernels.h"
#include "io/disco-dataset-io.h"

#define BATCH 100
#define DEFAULT_MINIBATCHES 12
#define SOURCE_TYPE_NAME "bench-mnist-source"

/* ----- a source of consecutive MNIST test minibatches ---------------------- */

#define BENCH_TYPE_SOURCE (bench_source_get_type ())
G_DECLARE_FINAL_TYPE (BenchSource, bench_source, BENCH, SOURCE, DiscoNode)

struct _BenchSource
{
  DiscoNode parent_instance;
  guint emitted;
};

G_DEFINE_FINAL_TYPE (BenchSource, bench_source, DISCO_TYPE_NODE)

/* What the source and the tick handler share: one benchmark run. */
typedef struct
{
  const DiscoDataset *dataset;
  guint n_ticks;
  guint64 source_done_ns;        /* when the source handed over this tick */
  DiscoGemmStats gemm_at_source; /* the counters at that moment */
  DiscoNode *integrator;
  /* Per tick, filled by on_tick. */
  GArray *tick_seconds;
  GArray *solver_seconds;
  GArray *gemm_seconds;
  GArray *gemm_flops;
  GArray *gemm_calls;
  GArray *mean_steps;
  GArray *mean_evaluations;
  guint max_steps;
} Run;

static Run *current_run;

static guint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * 1000000000u + (guint64) ts.tv_nsec;
}

static gboolean
bench_source_prepare (DiscoNode *node, GError **error)
{
  gsize shape[2] = { BATCH, current_run->dataset->n_features };

  BENCH_SOURCE (node)->emitted = 0;
  disco_node_declare_output (node, "output", 2, shape);
  return TRUE;
}

static DiscoFlowReturn
bench_source_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  BenchSource *self = BENCH_SOURCE (node);
  const DiscoDataset *data = current_run->dataset;
  gsize shape[2] = { BATCH, data->n_features };
  guint first = (self->emitted * BATCH) % (data->n_samples - BATCH + 1);
  DiscoTensor *out;

  if (self->emitted >= current_run->n_ticks)
    return DISCO_FLOW_EOS;
  g_autofree float *values = g_new (float, BATCH * data->n_features);

  disco_dataset_copy_images (data, first, BATCH, values);
  out = disco_node_ensure_output (node, "output", 2, shape);
  if (!disco_tensor_set_values (out, values, BATCH * data->n_features, error))
    return DISCO_FLOW_ERROR;
  tick->batch = self->emitted;
  tick->n_ticks = current_run->n_ticks;
  tick->batch_size = BATCH;
  self->emitted++;

  disco_gemm_stats_get (&current_run->gemm_at_source);
  current_run->source_done_ns = now_ns ();
  return DISCO_FLOW_OK;
}

static void
bench_source_class_init (BenchSourceClass *klass)
{
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);

  node_class->prepare = bench_source_prepare;
  node_class->process = bench_source_process;
  disco_node_class_set_metadata (node_class, "Benchmark MNIST source", "Source/Testing",
                                 "Consecutive minibatches of 100 MNIST test images");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "output", DISCO_PORT_FLAG_NONE,
                             "100 × 784 pixels scaled to [0, 1]");
}

static void
bench_source_init (BenchSource *self)
{
}

/* After each tick: everything since the source handed over is the
 * integrator's tick (nothing runs after it in these pipelines). */
static void
on_tick (DiscoPipeline *pipeline, DiscoTick *tick, Run *run)
{
  guint64 end = now_ns ();
  DiscoGemmStats gemm;
  double tick_s = (end - run->source_done_ns) * 1e-9;
  double solver_s, steps, evaluations, gemm_s, flops, calls;
  guint max_steps;

  disco_gemm_stats_get (&gemm);
  g_object_get (run->integrator, "last-solve-seconds", &solver_s, "last-mean-steps", &steps,
                "last-mean-evaluations", &evaluations, "last-max-steps", &max_steps, NULL);
  gemm_s = gemm.seconds - run->gemm_at_source.seconds;
  flops = gemm.flops - run->gemm_at_source.flops;
  calls = (double) (gemm.calls - run->gemm_at_source.calls);
  g_array_append_val (run->tick_seconds, tick_s);
  g_array_append_val (run->solver_seconds, solver_s);
  g_array_append_val (run->gemm_seconds, gemm_s);
  g_array_append_val (run->gemm_flops, flops);
  g_array_append_val (run->gemm_calls, calls);
  g_array_append_val (run->mean_steps, steps);
  g_array_append_val (run->mean_evaluations, evaluations);
  run->max_steps = MAX (run->max_steps, max_steps);
}

/* ----- statistics ----------------------------------------------------------- */

/* Median of values[first …]. */
static double
median (GArray *values, guint first)
{
  guint n = values->len - first;
  g_autofree double *v = g_memdup2 (&g_array_index (values, double, first), n * sizeof (double));

  qsort (v, n, sizeof (double), disco_bench_compare_doubles);
  return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

static double
mean (GArray *values, guint first)
{
  double sum = 0;

  for (guint i = first; i < values->len; i++)
    sum += g_array_index (values, double, i);
  return sum / (values->len - first);
}

static double
minimum (GArray *values, guint first)
{
  double m = INFINITY;

  for (guint i = first; i < values->len; i++)
    m = MIN (m, g_array_index (values, double, i));
  return m;
}

static double
maximum (GArray *values, guint first)
{
  double m = -INFINITY;

  for (guint i = first; i < values->len; i++)
    m = MAX (m, g_array_index (values, double, i));
  return m;
}

/* ----- SGEMM reference -------------------------------------------------------- */

typedef struct
{
  guint m, n, k;
} Shape;

static const Shape shapes[] = {
  { BATCH, 256, 256 }, /* hidden → hidden */
  { BATCH, 10, 256 },  /* hidden → readout */
  { BATCH, 256, 784 }, /* input → first layer, once per minibatch */
};

enum
{
  SHAPE_HIDDEN,
  SHAPE_READOUT,
  SHAPE_INPUT,
  N_SHAPES
};

/* GFLOP/s of C (m×n) = R (m×k) · Wᵀ (W n×k) + C, as the network calls it. */
static double
sgemm_rate (const Shape *s)
{
  return disco_bench_sgemm_gflops (FALSE, TRUE, s->m, s->n, s->k);
}

/* One 1024³ SGEMM: OpenBLAS runs small products slowly in a fresh process
 * until a large one has run. */
static void
warm_up_blas (void)
{
  const gsize n = 1024;
  g_autofree float *a = g_new (float, n *n);
  g_autofree float *c = g_new (float, n *n);

  for (gsize i = 0; i < n * n; i++)
    a[i] = (float) (i % 17) / 17.0f;
  disco_gemm_cpu (FALSE, TRUE, n, n, n, 1.0f, a, n, a, n, 0.0f, c, n);
}

/* ----- one network ------------------------------------------------------------ */

typedef struct
{
  const char *name;
  guint n_hidden;
  /* results */
  guint threads;
  guint timed;
  double tick_ms, tick_min_ms, tick_max_ms, solver_ms;
  double steps, evaluations;
  guint max_steps;
  double gemm_gflop, gemm_calls, gemm_ms, gemm_fraction;
  double expected_gflop;
  double solve_gflops, gemm_gflops;
  double shape_flops[N_SHAPES];
  double reference_gflops;
} Network;

static char *
pipeline_text (guint n_hidden, guint ticks)
{
  GString *text = g_string_new ("[pipeline]\nseed = 0\n\n[src]\nnode = " SOURCE_TYPE_NAME "\n\n");
  const char *previous = "src";
  g_autofree char *last = NULL;

  for (guint l = 1; l <= n_hidden; l++)
    {
      g_string_append_printf (text, "[h%u]\nnode = microcircuit\ninput = %s\nsize = 256\n\n", l,
                              previous);
      g_free (last);
      last = g_strdup_printf ("h%u", l);
      previous = last;
    }
  g_string_append_printf (text,
                          "[out]\nnode = readout\ninput = %s\nsize = 10\n\n"
                          "[settle]\nnode = integrator\nnetwork = out\n",
                          previous);
  return g_string_free (text, FALSE);
}

static gboolean
run_network (Network *net, const DiscoDataset *dataset, guint minibatches, GError **error)
{
  g_autofree char *text = pipeline_text (net->n_hidden, minibatches + 1);
  g_autoptr (DiscoPipeline) pipeline = NULL;
  Run run = { 0 };
  const guint first = 1; /* the warm-up minibatch */
  double hidden_flops_per_eval;

  run.dataset = dataset;
  run.n_ticks = minibatches + 1;
  current_run = &run;
  pipeline = disco_pipeline_new_from_string (text, NULL, error);
  if (pipeline == NULL)
    return FALSE;
  run.integrator = disco_pipeline_get_node (pipeline, "settle");
  run.tick_seconds = g_array_new (FALSE, FALSE, sizeof (double));
  run.solver_seconds = g_array_new (FALSE, FALSE, sizeof (double));
  run.gemm_seconds = g_array_new (FALSE, FALSE, sizeof (double));
  run.gemm_flops = g_array_new (FALSE, FALSE, sizeof (double));
  run.gemm_calls = g_array_new (FALSE, FALSE, sizeof (double));
  run.mean_steps = g_array_new (FALSE, FALSE, sizeof (double));
  run.mean_evaluations = g_array_new (FALSE, FALSE, sizeof (double));
  g_signal_connect (pipeline, "tick", G_CALLBACK (on_tick), &run);

  if (!disco_pipeline_run (pipeline, NULL, error))
    goto out;
  if (run.tick_seconds->len != minibatches + 1)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_FAILED, "%s: ran %u minibatches, not %u",
                   net->name, run.tick_seconds->len, minibatches + 1);
      goto out;
    }

  net->threads = disco_blas_get_threads ();
  net->timed = minibatches;
  net->tick_ms = 1e3 * median (run.tick_seconds, first);
  net->tick_min_ms = 1e3 * minimum (run.tick_seconds, first);
  net->tick_max_ms = 1e3 * maximum (run.tick_seconds, first);
  net->solver_ms = 1e3 * median (run.solver_seconds, first);
  net->steps = mean (run.mean_steps, first);
  net->evaluations = mean (run.mean_evaluations, first);
  net->max_steps = run.max_steps;
  net->gemm_gflop = mean (run.gemm_flops, first) / 1e9;
  net->gemm_calls = mean (run.gemm_calls, first);
  net->gemm_ms = 1e3 * median (run.gemm_seconds, first);
  /* Per minibatch, then averaged: the fraction of each tick's time. */
  {
    double sum = 0;
    for (guint i = first; i < run.tick_seconds->len; i++)
      sum +=
          g_array_index (run.gemm_seconds, double, i) / g_array_index (run.tick_seconds, double, i);
    net->gemm_fraction = sum / minibatches;
  }
  net->solve_gflops = net->gemm_gflop / (net->tick_ms / 1e3);
  net->gemm_gflops = mean (run.gemm_flops, first) / 1e9 / (mean (run.gemm_seconds, first));

  /* The same flops from the solver's statistics: W₁x + b₁ once (the table
   * lays the bias down as ones·b₁ᵀ, a product of depth 1, then adds x·W₁ᵀ),
   * then per evaluation of each sample 2·n_out·n_in per layer above the
   * first. */
  hidden_flops_per_eval = 2.0 * 256 * 256 * (net->n_hidden - 1);
  net->shape_flops[SHAPE_INPUT] = 2.0 * BATCH * 256 * 784 + 2.0 * BATCH * 256;
  net->shape_flops[SHAPE_HIDDEN] = BATCH * net->evaluations * hidden_flops_per_eval;
  net->shape_flops[SHAPE_READOUT] = BATCH * net->evaluations * 2.0 * 10 * 256;
  net->expected_gflop = (net->shape_flops[0] + net->shape_flops[1] + net->shape_flops[2]) / 1e9;

  if (net->gemm_calls < 1
      || fabs (net->gemm_gflop - net->expected_gflop) > 1e-6 * net->expected_gflop)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_FAILED,
                   "%s: the GEMM counters saw %.0f calls and %.6f GFLOP per minibatch where "
                   "the solver's statistics imply %.6f GFLOP; the plugin's products are not "
                   "being counted (is the program linked with export_dynamic?)",
                   net->name, net->gemm_calls, net->gemm_gflop, net->expected_gflop);
      goto out;
    }

out:
  current_run = NULL;
  g_array_unref (run.tick_seconds);
  g_array_unref (run.solver_seconds);
  g_array_unref (run.gemm_seconds);
  g_array_unref (run.gemm_flops);
  g_array_unref (run.gemm_calls);
  g_array_unref (run.mean_steps);
  g_array_unref (run.mean_evaluations);
  return error == NULL || *error == NULL;
}

/* ----- main --------------------------------------------------------------------- */

static const char *
verdict (gboolean met)
{
  return met ? "met" : "NOT met";
}

int
main (int argc, char **argv)
{
  gboolean json = FALSE;
  int minibatches = DEFAULT_MINIBATCHES;
  int threads = 0;
  g_autofree char *data_dir = NULL;
  g_autofree char *only = NULL;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object instead of text", NULL },
    { "minibatches", 'n', 0, G_OPTION_ARG_INT, &minibatches,
      "Timed minibatches per network (≥ 10; one more runs first as a warm-up)", "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &threads,
      "BLAS threads for the solve (default: the library's policy)", "N" },
    { "data", 'd', 0, G_OPTION_ARG_FILENAME, &data_dir,
      "Folder with MNIST's t10k IDX files (default: the source tree's data/datasets/mnist)",
      "DIR" },
    { "network", 0, 0, G_OPTION_ARG_STRING, &only,
      "Run only this network (784-256-10 or 784-256-256-256-10), e.g. to profile it", "NAME" },
    { NULL }
  };
  g_autoptr (GOptionContext) context =
      g_option_context_new ("- time the open-loop network solve and its GEMM share");
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoDataset) dataset = NULL;
  Network all_networks[] = {
    { .name = "784-256-10", .n_hidden = 1 },
    { .name = "784-256-256-256-10", .n_hidden = 3 },
  };
  Network *networks = all_networks;
  guint n_networks = G_N_ELEMENTS (all_networks);
  double rates[N_SHAPES], other_rates[N_SHAPES];
  guint other_threads;
  const char *pixels_scaled = "pixels/255";

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "disco-bench-solve: %s\n", error->message);
      return 2;
    }
  if (minibatches < 10 || threads < 0)
    {
      fprintf (stderr, "disco-bench-solve: --minibatches must be ≥ 10 and --threads ≥ 0\n");
      return 2;
    }
  if (only != NULL)
    {
      for (n_networks = 0; n_networks < G_N_ELEMENTS (all_networks); n_networks++)
        if (g_strcmp0 (all_networks[n_networks].name, only) == 0)
          break;
      if (n_networks == G_N_ELEMENTS (all_networks))
        {
          fprintf (stderr, "disco-bench-solve: no network \"%s\"\n", only);
          return 2;
        }
      networks = &all_networks[n_networks];
      n_networks = 1;
    }
  if (data_dir == NULL)
    {
      const char *env = g_getenv ("DISCO_DATA_DIR");
      data_dir = env != NULL
                     ? g_build_filename (env, "mnist", NULL)
                     : g_build_filename (DISCO_SOURCE_ROOT, "data", "datasets", "mnist", NULL);
    }
  dataset = disco_dataset_load_idx_dir (data_dir, "t10k", &error);
  if (dataset == NULL)
    {
      fprintf (stderr,
               "disco-bench-solve: %s\n(install the datasets with data/install-datasets.sh, "
               "or pass --data)\n",
               error->message);
      return 1;
    }
  if (dataset->n_features != 784 || dataset->n_samples < BATCH)
    {
      fprintf (stderr, "disco-bench-solve: %s: expected 28×28 images\n", dataset->source);
      return 1;
    }

  if (!disco_registry_register (SOURCE_TYPE_NAME, BENCH_TYPE_SOURCE))
    {
      fprintf (stderr, "disco-bench-solve: cannot register the source node\n");
      return 1;
    }

  if (threads > 0)
    disco_blas_set_threads ((guint) threads);
  else
    disco_blas_apply_thread_policy ();
  disco_gemm_stats_set_enabled (TRUE);
  warm_up_blas ();

  for (guint i = 0; i < n_networks; i++)
    if (!run_network (&networks[i], dataset, (guint) minibatches, &error))
      {
        fprintf (stderr, "disco-bench-solve: %s\n", error->message);
        return 1;
      }

  /* The SGEMM reference, with the solve's thread count, then the other one
   * of 1 and 2, then back. */
  for (guint s = 0; s < N_SHAPES; s++)
    rates[s] = sgemm_rate (&shapes[s]);
  {
    guint used = networks[0].threads;

    other_threads = used == 1 ? 2 : 1;
    disco_blas_set_threads (other_threads);
    warm_up_blas ();
    for (guint s = 0; s < N_SHAPES; s++)
      other_rates[s] = sgemm_rate (&shapes[s]);
    disco_blas_set_threads (used);
  }
  for (guint i = 0; i < n_networks; i++)
    {
      Network *net = &networks[i];
      double reference_seconds = 0, total = 0;

      for (guint s = 0; s < N_SHAPES; s++)
        {
          reference_seconds += net->shape_flops[s] / (rates[s] * 1e9);
          total += net->shape_flops[s];
        }
      net->reference_gflops = total / reference_seconds / 1e9;
    }

  if (json)
    {
      g_autoptr (GString) out = g_string_new ("{\n");

      g_string_append_printf (out, "  \"batch\": %d,\n  \"data\": \"MNIST t10k, %s\",\n", BATCH,
                              pixels_scaled);
      g_string_append_printf (out, "  \"blas_threads\": %u,\n", networks[0].threads);
      g_string_append (out, "  \"sgemm_gflops\": {");
      for (guint s = 0; s < N_SHAPES; s++)
        g_string_append_printf (out, "%s\"%ux%ux%u\": %.2f", s ? ", " : "", shapes[s].m,
                                shapes[s].n, shapes[s].k, rates[s]);
      g_string_append_printf (out, "},\n  \"sgemm_gflops_%u_threads\": {", other_threads);
      for (guint s = 0; s < N_SHAPES; s++)
        g_string_append_printf (out, "%s\"%ux%ux%u\": %.2f", s ? ", " : "", shapes[s].m,
                                shapes[s].n, shapes[s].k, other_rates[s]);
      g_string_append (out, "},\n  \"networks\": [\n");
      for (guint i = 0; i < n_networks; i++)
        {
          Network *n = &networks[i];

          g_string_append_printf (
              out,
              "    {\"network\": \"%s\", \"minibatches\": %u, \"solve_ms_median\": %.3f, "
              "\"solve_ms_min\": %.3f, \"solve_ms_max\": %.3f, \"solver_only_ms_median\": %.3f, "
              "\"mean_steps\": %.3f, \"max_steps\": %u, \"mean_evaluations\": %.3f, "
              "\"gemm_gflop\": %.6f, \"gemm_calls\": %.1f, \"gemm_ms_median\": %.3f, "
              "\"gemm_fraction\": %.4f, \"solve_gflops\": %.3f, \"gemm_gflops\": %.3f, "
              "\"sgemm_mix_gflops\": %.3f, \"fraction_of_sgemm\": %.4f, "
              "\"goal_gemm_fraction_met\": %s, \"goal_sgemm_rate_met\": %s}%s\n",
              n->name, n->timed, n->tick_ms, n->tick_min_ms, n->tick_max_ms, n->solver_ms, n->steps,
              n->max_steps, n->evaluations, n->gemm_gflop, n->gemm_calls, n->gemm_ms,
              n->gemm_fraction, n->solve_gflops, n->gemm_gflops, n->reference_gflops,
              n->solve_gflops / n->reference_gflops, n->gemm_fraction >= 0.6 ? "true" : "false",
              n->solve_gflops >= 0.5 * n->reference_gflops ? "true" : "false",
              i + 1 < n_networks ? "," : "");
        }
      g_string_append (out, "  ]\n}\n");
      fputs (out->str, stdout);
      return 0;
    }

  printf ("disco-bench-solve: open-loop solve, batch %d of MNIST t10k (%s), "
          "LeCun-normal weights (seed 0), integrator defaults (Tsit5, rtol 1e-3, atol 1e-6)\n",
          BATCH, pixels_scaled);
  printf ("BLAS: %u thread(s) for the solve; %s\n", networks[0].threads, openblas_get_config ());
  printf ("SGEMM reference, C = R·Wᵀ, warm, %u thread(s): ", networks[0].threads);
  for (guint s = 0; s < N_SHAPES; s++)
    printf ("%s%u×%u×%u %.1f", s ? ", " : "", shapes[s].m, shapes[s].n, shapes[s].k, rates[s]);
  printf (" GFLOP/s\n");
  printf ("SGEMM with %u thread(s) instead:          ", other_threads);
  for (guint s = 0; s < N_SHAPES; s++)
    printf ("%s%u×%u×%u %.1f", s ? ", " : "", shapes[s].m, shapes[s].n, shapes[s].k,
            other_rates[s]);
  printf (" GFLOP/s\n");
  for (guint i = 0; i < n_networks; i++)
    {
      Network *n = &networks[i];
      double share = n->solve_gflops / n->reference_gflops;

      printf ("\n%s (%u timed minibatches after 1 warm-up)\n", n->name, n->timed);
      printf ("  solve time per minibatch: %.1f ms median (min %.1f, max %.1f); "
              "solver alone %.1f ms\n",
              n->tick_ms, n->tick_min_ms, n->tick_max_ms, n->solver_ms);
      printf ("  per sample: %.2f steps (max %u), %.2f RHS evaluations\n", n->steps, n->max_steps,
              n->evaluations);
      printf ("  GEMM: %.3f GFLOP and %.0f calls per minibatch, %.1f ms = %.1f%% of the solve "
              "(%.1f GFLOP/s inside GEMM)\n",
              n->gemm_gflop, n->gemm_calls, n->gemm_ms, 100 * n->gemm_fraction, n->gemm_gflops);
      printf ("  solve rate: %.1f GFLOP/s = %.1f%% of %.1f GFLOP/s (SGEMM for this mix of "
              "shapes)\n",
              n->solve_gflops, 100 * share, n->reference_gflops);
      printf ("  goal: GEMM ≥ 60%% of the time: %s; ≥ 50%% of the SGEMM rate: %s\n",
              verdict (n->gemm_fraction >= 0.6), verdict (share >= 0.5));
    }
  return 0;
}
