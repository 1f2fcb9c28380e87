/* disco-bench-ode-batched.c: one open-loop network solve per minibatch,
 * compacting solver against the lockstep solver on the CPU and CUDA tables.
 *
 * Usage: disco-bench-ode-batched [--quick] [--batch B] [--sync N]
 *
 * The network is the paper's 784–256–256–256–10 microcircuit network
 * (LeCun-normal weights, small biases, seeded) on MNIST-like random inputs
 * (a fifth of the pixels lit), integrated from the zero state to rest with
 * the model's solver settings (MODEL.md §5).  Each figure is the time from
 * the inputs in host memory to the final states in host memory: upload,
 * first-layer drive, solve, download.  Rows:
 *
 *   compacting  disco_ode_solver_solve() on the ops network's host
 *               right-hand side (finished samples leave the batch)
 *   cpu         disco_ode_batched_solver_solve() on disco_ops_cpu()
 *               (finished samples masked, still evaluated)
 *   cuda        the same on disco_ops_cuda(), only where a CUDA device is
 *               usable (built with the CUDA backend)
 *
 * Every figure is one plain line "name: value unit": ms per minibatch
 * (median and best of the repeats), host syncs per solve, lockstep steps,
 * and the share of row-evaluations spent on finished samples.
 */

#include "disco-kernels.h"
#include "disco-bench-stats.h"
#include "disco-ode.h"
#include "disco-ode-batched.h"
#include "disco-ops.h"
#include "disco-ops-network.h"
#include "test-random-network.h"
#ifdef DISCO_HAVE_CUDA
#include "disco-kernels-cuda.h"
#endif

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const gsize sizes[] = { 784, 256, 256, 256, 10 };
#define N_LAYERS (G_N_ELEMENTS (sizes) - 1)

/* The network and the minibatch: tests/common/test-random-network.h, with
 * the inputs' brightness the same (1) for every sample. */
typedef TestRandomNetwork Problem;

typedef struct
{
  double ms;
  DiscoOdeBatchedInfo info;
  guint max_sample_steps;
  double sum_sample_steps;
} Run;

/* One minibatch: inputs from the host to final states on the host. */
static Run
run_once (const DiscoOps *ops, gboolean lockstep, DiscoOpsNetwork *net, Problem *p, float *x_buf,
          float *y_buf, guint sync_interval, float *y_host)
{
  g_autoptr (GError) error = NULL;
  g_autofree DiscoOdeSampleStats *stats = g_new (DiscoOdeSampleStats, p->n_samples);
  const gsize matrix = p->n_samples * p->state_size * sizeof (float);
  static DiscoOdeBatchedSolver *solvers[2];
  static DiscoOdeSolver *compacting;
  DiscoOdeConfig config;
  Run run = { 0 };
  gint64 start;

  disco_ode_config_init (&config);
  start = g_get_monotonic_time ();

  if (!ops->upload (x_buf, p->x, p->n_samples * sizes[0] * sizeof (float), &error)
      || !disco_ops_network_begin_batch (net, p->n_samples, x_buf, &error))
    g_error ("%s: %s", ops->name, error->message);

  if (lockstep)
    {
      DiscoOdeBatchedSolver **solver = &solvers[ops == disco_ops_cpu () ? 0 : 1];

      if (*solver == NULL)
        *solver = disco_ode_batched_solver_new (ops);
      ops->fill (p->n_samples * p->state_size, 0.0f, y_buf);
      if (!disco_ode_batched_solver_solve (*solver, &config, sync_interval, p->n_samples,
                                           p->state_size, y_buf, disco_ops_network_rhs, net, stats,
                                           &run.info, &error)
          || !ops->download (y_host, y_buf, matrix, &error))
        g_error ("%s: %s", ops->name, error->message);
    }
  else
    {
      if (compacting == NULL)
        compacting = disco_ode_solver_new ();
      memset (y_host, 0, matrix);
      if (!disco_ode_solver_solve (compacting, &config, p->n_samples, p->state_size, y_host,
                                   disco_ops_network_rhs_compact, net, stats, &error))
        g_error ("compacting: %s", error->message);
    }

  run.ms = (g_get_monotonic_time () - start) / 1000.0;
  for (gsize s = 0; s < p->n_samples; s++)
    {
      const guint steps = stats[s].n_accepted + stats[s].n_rejected;

      run.max_sample_steps = MAX (run.max_sample_steps, steps);
      run.sum_sample_steps += steps;
    }
  return run;
}

static void
bench (const char *label, const DiscoOps *ops, gboolean lockstep, Problem *p, guint sync, int reps,
       float *y_host)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoOpsNetwork) net = disco_ops_network_new (ops, N_LAYERS, p->layers, &error);
  g_autofree double *ms = g_new (double, reps);
  float *x_buf, *y_buf;
  Run run = { 0 };

  if (net == NULL)
    g_error ("%s: %s", label, error->message);
  x_buf = ops->alloc (p->n_samples * sizes[0] * sizeof (float), &error);
  y_buf = ops->alloc (p->n_samples * p->state_size * sizeof (float), &error);
  if (x_buf == NULL || y_buf == NULL)
    g_error ("%s: %s", label, error->message);

  /* A warm-up solve: workspaces, cuBLAS's first calls, page faults. */
  run_once (ops, lockstep, net, p, x_buf, y_buf, sync, y_host);
  for (int r = 0; r < reps; r++)
    {
      run = run_once (ops, lockstep, net, p, x_buf, y_buf, sync, y_host);
      ms[r] = run.ms;
    }
  qsort (ms, reps, sizeof (double), disco_bench_compare_doubles);

  printf ("%s ms per minibatch (median): %.2f ms\n", label, ms[reps / 2]);
  printf ("%s ms per minibatch (best): %.2f ms\n", label, ms[0]);
  printf ("%s steps per sample (mean): %.1f\n", label, run.sum_sample_steps / p->n_samples);
  printf ("%s steps per sample (max): %u\n", label, run.max_sample_steps);
  if (lockstep)
    {
      printf ("%s lockstep steps: %u\n", label, run.info.n_steps);
      printf ("%s host syncs per solve: %u polls + 1 statistics download\n", label,
              run.info.n_syncs);
      printf ("%s row-evaluations on finished samples: %.1f %%\n", label,
              100.0 * (1.0 - run.sum_sample_steps / ((double) run.info.n_steps * p->n_samples)));
    }
  else
    printf ("%s host syncs per solve: none (host memory; one decision per step)\n", label);
  fflush (stdout);

  ops->free (x_buf);
  ops->free (y_buf);
}

static double
max_difference (const float *a, const float *b, gsize n)
{
  double worst = 0.0;

  for (gsize i = 0; i < n; i++)
    worst = fmax (worst, fabs ((double) a[i] - b[i]) / fmax (1.0, fabs ((double) b[i])));
  return worst;
}

int
main (int argc, char **argv)
{
  gboolean quick = FALSE;
  gint batch = 100, sync = DISCO_ODE_BATCHED_DEFAULT_SYNC_INTERVAL;
  GOptionEntry entries[] = {
    { "quick", 0, 0, G_OPTION_ARG_NONE, &quick, "Fewer repeats", NULL },
    { "batch", 0, 0, G_OPTION_ARG_INT, &batch, "Samples per minibatch (100)", "B" },
    { "sync", 0, 0, G_OPTION_ARG_INT, &sync, "Steps between polls (8)", "N" },
    { NULL },
  };
  g_autoptr (GOptionContext) context = g_option_context_new ("- lockstep ODE solve benchmark");
  g_autoptr (GError) error = NULL;
  g_autofree float *y_ref = NULL, *y_cpu = NULL;
  Problem *p;
  int reps;

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      fprintf (stderr, "disco-bench-ode-batched: %s\n", error->message);
      return 2;
    }
  if (batch < 1 || sync < 1)
    {
      fprintf (stderr, "disco-bench-ode-batched: --batch and --sync must be >= 1\n");
      return 2;
    }
  reps = quick ? 3 : 9;
  disco_blas_apply_thread_policy ();
  p = test_random_network_new (1234, sizes, G_N_ELEMENTS (sizes), batch, 1.0, 1.0);
  y_ref = g_new (float, p->n_samples * p->state_size);
  y_cpu = g_new (float, p->n_samples * p->state_size);

  printf ("network: 784-256-256-256-10 microcircuits, batch %d, open loop to rest, "
          "sync interval %d, %d repeats, BLAS threads %u\n",
          batch, sync, reps, disco_blas_get_threads ());
  bench ("compacting", disco_ops_cpu (), FALSE, p, sync, reps, y_ref);
  bench ("cpu", disco_ops_cpu (), TRUE, p, sync, reps, y_cpu);
  printf ("cpu vs compacting largest state difference: %.3g\n",
          max_difference (y_cpu, y_ref, p->n_samples * p->state_size));

#ifdef DISCO_HAVE_CUDA
  {
    g_autoptr (GError) why = NULL;

    if (disco_cuda_init (&why))
      {
        g_autofree char *description = disco_cuda_describe ();
        g_autofree float *y_cuda = g_new (float, p->n_samples * p->state_size);

        printf ("cuda device: %s\n", description);
        bench ("cuda", disco_ops_cuda (), TRUE, p, sync, reps, y_cuda);
        printf ("cuda vs cpu largest state difference: %.3g\n",
                max_difference (y_cuda, y_cpu, p->n_samples * p->state_size));
      }
    else
      printf ("cuda: skipped (%s)\n", why->message);
  }
#else
  printf ("cuda: skipped (built without the CUDA backend)\n");
#endif
  test_random_network_free (p);
  return 0;
}
