/* test-cuda-ode-batched.c: the lockstep solver with the CUDA operations
 * table against the same solver with the CPU table (and, once, the
 * compacting solver likewise).
 *
 * 1. The helper kernels the lockstep solver added (fill, revert_rows,
 *    leaky_rows, and the per-sample bookkeeping of disco-ode-lockstep.h)
 *    against their CPU twins: bit-identical, since they are copies,
 *    correctly rounded float operations without FMA, or compiled from the
 *    same inline source (the clock update: decisions identical, times
 *    within 1e-12 s for the ≤ 2 ulp of the device's double pow()).
 * 2. Open-loop solves of random microcircuit networks (784–256–10 at batch
 *    8, 784–256–256–256–10 at batch 100) through disco-ops-network on both
 *    tables, from the zero state to rest.  The right-hand sides differ by
 *    rounding: φ (CUDA's expf/logf against the CPU's polynomial, ≤ 6 ulp
 *    apart), the GEMMs (cuBLAS against OpenBLAS summation order, ≲ 1e-6
 *    relative at depth 784) and the row norms (double sums in another
 *    order).  The networks contract towards their fixed point, so these
 *    differences do not grow; what can differ is a decision taken near its
 *    threshold: the steady-state test may stop a sample one step earlier or
 *    later, which moves its state by less than one 10 ms step of a
 *    derivative below atol + rtol·RMS(y).  Hence:
 *      statuses equal, rejected steps equal, accepted steps within ±1,
 *      final states |cuda − cpu| ≤ 1e-4 + 1e-3·|cpu|,
 *    and the test reports how many samples took identical steps.
 *
 * Without a usable CUDA device every case calls g_test_skip() with the
 * reason.
 */

#include "disco-kernels-cuda.h"
#include "disco-kernels.h"
#include "disco-ode.h"
#include "disco-ode-batched.h"
#include "disco-ode-lockstep.h"
#include "disco-ops.h"
#include "disco-ops-network.h"
#include "test-random-network.h"

#include <math.h>
#include <string.h>
#include "gpu-test-common.h"

/* Copies checked by gpu-test-common.c; sizes here in bytes. */
#define dev_upload gpu_test_upload
#define dev_download gpu_test_download

/* ---- device helpers: every call is checked ---- */

/* ---- 1. helper kernels ---- */

static void
test_helper_kernels (void)
{
  const gsize R = 37, C = 300, ld = 303;
  g_autoptr (GRand) rand = g_rand_new_with_seed (7);
  g_autofree float *old = random_floats (rand, R * ld, -1, 1);
  g_autofree float *out = random_floats (rand, R * ld, -1, 1);
  g_autofree float *u = random_floats (rand, R * ld, -1, 1);
  g_autofree float *d = random_floats (rand, R * ld, -1, 1);
  g_autofree float *b = random_floats (rand, C, -1, 1);
  g_autofree gint *keep = g_new (gint, R);
  g_autofree float *ref = g_new (float, R *ld);
  g_autofree float *got = g_new (float, R *ld);
  float *d_old, *d_out, *d_u, *d_d, *d_b;
  gint *d_keep;

  g_test_summary ("fill, revert_rows and leaky_rows on the device equal their CPU twins "
                  "to the bit");
  SKIP_WITHOUT_DEVICE ();

  for (gsize r = 0; r < R; r++)
    keep[r] = g_rand_int_range (rand, 0, 3) != 0;
  d_old = dev_upload (old, R * ld * sizeof (float));
  d_out = dev_upload (out, R * ld * sizeof (float));
  d_u = dev_upload (u, R * ld * sizeof (float));
  d_d = dev_upload (d, R * ld * sizeof (float));
  d_b = dev_upload (b, C * sizeof (float));
  d_keep = dev_upload (keep, R * sizeof (gint));

  disco_fill_cuda (R * ld, -3.25f, d_u);
  dev_download (got, d_u, R * ld * sizeof (float));
  for (gsize i = 0; i < R * ld; i++)
    g_assert_cmpfloat (got[i], ==, -3.25f);
  g_assert_true (disco_cuda_copy_to_device (d_u, u, R * ld * sizeof (float), NULL));

  memcpy (ref, out, R * ld * sizeof (float));
  disco_revert_rows_cpu (R, C, ld, keep, old, ref);
  disco_revert_rows_cuda (R, C, ld, d_keep, d_old, d_out);
  dev_download (got, d_out, R * ld * sizeof (float));
  g_assert_cmpmem (got, R * ld * sizeof (float), ref, R * ld * sizeof (float));

  for (guint with_bias = 0; with_bias < 2; with_bias++)
    {
      memcpy (ref, out, R * ld * sizeof (float));
      g_assert_true (disco_cuda_copy_to_device (d_out, out, R * ld * sizeof (float), NULL));
      disco_leaky_rows_cpu (0.02f, R, C, u, ld, d, ld, with_bias ? b : NULL, ref, ld);
      disco_leaky_rows_cuda (0.02f, R, C, d_u, ld, d_d, ld, with_bias ? d_b : NULL, d_out, ld);
      dev_download (got, d_out, R * ld * sizeof (float));
      g_assert_cmpmem (got, R * ld * sizeof (float), ref, R * ld * sizeof (float));
    }

  disco_cuda_free (d_old);
  disco_cuda_free (d_out);
  disco_cuda_free (d_u);
  disco_cuda_free (d_d);
  disco_cuda_free (d_b);
  disco_cuda_free (d_keep);
}

static void
test_lockstep_kernels (void)
{
  const gsize B = 300;
  g_autoptr (GRand) rand = g_rand_new_with_seed (11);
  DiscoOdeConfig config;
  DiscoOdeClockParams params;
  DiscoOdeLockstepLimits limits = { .t1 = 2.0, .max_steps = 6, .steady_state_stop = TRUE };
  g_autofree DiscoOdeClock *clocks = g_new0 (DiscoOdeClock, B);
  g_autofree DiscoOdeClock *got_clocks = g_new0 (DiscoOdeClock, B);
  g_autofree gint *running = g_new (gint, B), *status = g_new (gint, B);
  g_autofree gint *at_rest = g_new (gint, B), *keep = g_new (gint, B);
  g_autofree gint *got_flags = g_new (gint, B);
  g_autofree float *norm = random_floats (rand, B, 0.0, 2.0);
  g_autofree float *h = g_new (float, B), *got_h = g_new (float, B);
  gint n_running = -1, got_count = -2;
  DiscoOdeClock *d_clocks;
  gint *d_running, *d_status, *d_at_rest, *d_keep, *d_count;
  float *d_norm, *d_h;

  g_test_summary ("The masked step sizes, clock updates and stop tests on the device give "
                  "the CPU's decisions and counts");
  SKIP_WITHOUT_DEVICE ();

  disco_ode_config_init (&config);
  disco_ode_clock_params_init (&params, &config, 5.0);
  for (gsize i = 0; i < B; i++)
    {
      const double t = g_rand_double_range (rand, 0.0, 2.0);

      clocks[i] = (DiscoOdeClock){
        .t = t,
        .t_next = MIN (t + g_rand_double_range (rand, 1e-4, 1e-2), 2.0),
        .inv_error_prev = g_rand_double_range (rand, 0.5, 2.0),
        .inv_error_prev_prev = g_rand_double_range (rand, 0.5, 2.0),
        .n_accepted = g_rand_int_range (rand, 0, 4),
        .n_rejected = g_rand_int_range (rand, 0, 2),
      };
      running[i] = g_rand_int_range (rand, 0, 4) != 0;
      status[i] = DISCO_ODE_STATUS_MAX_STEPS;
      at_rest[i] = g_rand_int_range (rand, 0, 5) == 0;
    }
  d_clocks = dev_upload (clocks, B * sizeof (DiscoOdeClock));
  d_running = dev_upload (running, B * sizeof (gint));
  d_status = dev_upload (status, B * sizeof (gint));
  d_at_rest = dev_upload (at_rest, B * sizeof (gint));
  d_keep = dev_upload (NULL, B * sizeof (gint));
  d_count = dev_upload (NULL, sizeof (gint));
  d_norm = dev_upload (norm, B * sizeof (float));
  d_h = dev_upload (NULL, B * sizeof (float));

  disco_ode_lockstep_step_sizes_cpu (B, clocks, running, h);
  disco_ode_lockstep_step_sizes_cuda (B, d_clocks, d_running, d_h);
  dev_download (got_h, d_h, B * sizeof (float));
  g_assert_cmpmem (got_h, B * sizeof (float), h, B * sizeof (float));

  disco_ode_lockstep_advance_cpu (&params, B, clocks, running, norm, keep);
  disco_ode_lockstep_advance_cuda (&params, B, d_clocks, d_running, d_norm, d_keep);
  dev_download (got_flags, d_keep, B * sizeof (gint));
  g_assert_cmpmem (got_flags, B * sizeof (gint), keep, B * sizeof (gint));
  dev_download (got_clocks, d_clocks, B * sizeof (DiscoOdeClock));
  for (gsize i = 0; i < B; i++)
    {
      g_assert_cmpuint (got_clocks[i].n_accepted, ==, clocks[i].n_accepted);
      g_assert_cmpuint (got_clocks[i].n_rejected, ==, clocks[i].n_rejected);
      g_assert_cmpint (got_clocks[i].at_dtmin, ==, clocks[i].at_dtmin);
      g_assert_cmpfloat_with_epsilon (got_clocks[i].t, clocks[i].t, 1e-12);
      g_assert_cmpfloat_with_epsilon (got_clocks[i].t_next, clocks[i].t_next, 1e-12);
    }
  /* Continue from identical clocks. */
  g_assert_true (disco_cuda_copy_to_device (d_clocks, clocks, B * sizeof (DiscoOdeClock), NULL));

  disco_ode_lockstep_stop_cpu (&limits, B, clocks, at_rest, running, status, &n_running);
  disco_ode_lockstep_stop_cuda (&limits, B, d_clocks, d_at_rest, d_running, d_status, d_count);
  dev_download (&got_count, d_count, sizeof (gint));
  g_assert_cmpint (got_count, ==, n_running);
  dev_download (got_flags, d_running, B * sizeof (gint));
  g_assert_cmpmem (got_flags, B * sizeof (gint), running, B * sizeof (gint));
  dev_download (got_flags, d_status, B * sizeof (gint));
  g_assert_cmpmem (got_flags, B * sizeof (gint), status, B * sizeof (gint));

  disco_cuda_free (d_clocks);
  disco_cuda_free (d_running);
  disco_cuda_free (d_status);
  disco_cuda_free (d_at_rest);
  disco_cuda_free (d_keep);
  disco_cuda_free (d_count);
  disco_cuda_free (d_norm);
  disco_cuda_free (d_h);
}

/* ---- 2. network solves ---- */

/* One lockstep open-loop solve on @ops of the network @layers on inputs @x
 * (host, B × F) with @method (Euler and RK4 with constant steps of @dt;
 * Tsit5 from a first step of @dt > 0 with rtol 1e-4, else the defaults);
 * the final states and statistics come back to the host. */
static gboolean compacting; /* solve_on(): the compacting solver instead */

static void
solve_on (const DiscoOps *ops, DiscoOdeMethod method, double dt, guint n_layers,
          const DiscoOpsLayer *layers, gsize n_samples, const float *x, float *y_out,
          DiscoOdeSampleStats *stats, DiscoOdeBatchedInfo *info)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoOpsNetwork) net = disco_ops_network_new (ops, n_layers, layers, &error);
  g_autoptr (DiscoOdeBatchedSolver) solver = disco_ode_batched_solver_new (ops);
  const gsize F = layers[0].n_in;
  gsize N;
  float *d_x, *d_y;
  DiscoOdeConfig config;

  g_assert_no_error (error);
  N = disco_ops_network_get_state_size (net);
  d_x = ops->alloc (n_samples * F * sizeof (float), &error);
  d_y = ops->alloc (n_samples * N * sizeof (float), &error);
  g_assert_no_error (error);
  g_assert_true (ops->upload (d_x, x, n_samples * F * sizeof (float), &error));
  ops->fill (n_samples * N, 0.0f, d_y);
  g_assert_true (disco_ops_network_begin_batch (net, n_samples, d_x, &error));
  g_assert_no_error (error);

  disco_ode_config_init (&config);
  config.method = method;
  if (method != DISCO_ODE_METHOD_TSIT5)
    config.controller = DISCO_ODE_CONTROLLER_CONSTANT;
  if (dt > 0)
    {
      /* Tsit5 from dt-max with a tighter rtol: its first steps are rejected. */
      config.dt0 = dt;
      if (method == DISCO_ODE_METHOD_TSIT5)
        config.rtol = 1e-4;
    }
  if (compacting)
    {
      g_autoptr (DiscoOdeSolver) packed = disco_ode_solver_new_on (ops);

      *info = (DiscoOdeBatchedInfo){ 0 };
      g_assert_true (disco_ode_solver_solve (packed, &config, n_samples, N, d_y,
                                             disco_ops_network_rhs_compact, net, stats, &error));
    }
  else
    g_assert_true (disco_ode_batched_solver_solve (
        solver, &config, 0, n_samples, N, d_y, disco_ops_network_rhs, net, stats, info, &error));
  g_assert_no_error (error);
  g_assert_true (ops->download (y_out, d_y, n_samples * N * sizeof (float), &error));
  g_assert_no_error (error);
  ops->free (d_x);
  ops->free (d_y);
}

/* Hidden layer l a rate layer where bit l of @rate_layers is set. */
static TestRandomNetwork *
random_network (const gsize *sizes, guint n_sizes, gsize n_samples, guint rate_layers)
{
  TestRandomNetwork *net = test_random_network_new (2023, sizes, n_sizes, n_samples, 0.2, 3.2);

  for (guint l = 0; l + 1 < net->n_layers; l++)
    if (rate_layers & (1u << l))
      test_random_network_make_rate (net, l);
  return net;
}

static void
check_network_rate (const gsize *sizes, guint n_sizes, gsize n_samples, DiscoOdeMethod method,
                    double dt, guint rate_layers)
{
  /* Brightness 0.2 … 3.2 over the batch: samples settle after different
   * numbers of steps, so the masking is exercised on the device. */
  TestRandomNetwork *net = random_network (sizes, n_sizes, n_samples, rate_layers);
  const guint n_layers = net->n_layers;
  const DiscoOpsLayer *layers = net->layers;
  const float *x = net->x;
  const gsize N = net->state_size;
  g_autofree float *y_cpu = NULL, *y_cuda = NULL;
  g_autofree DiscoOdeSampleStats *s_cpu = g_new (DiscoOdeSampleStats, n_samples);
  g_autofree DiscoOdeSampleStats *s_cuda = g_new (DiscoOdeSampleStats, n_samples);
  DiscoOdeBatchedInfo i_cpu, i_cuda;
  gsize same_steps = 0;
  double worst = 0.0;

  y_cpu = g_new (float, n_samples *N);
  y_cuda = g_new (float, n_samples *N);
  solve_on (disco_ops_cpu (), method, dt, n_layers, layers, n_samples, x, y_cpu, s_cpu, &i_cpu);
  solve_on (disco_ops_cuda (), method, dt, n_layers, layers, n_samples, x, y_cuda, s_cuda, &i_cuda);

  for (gsize s = 0; s < n_samples; s++)
    {
      g_assert_cmpint (s_cuda[s].status, ==, s_cpu[s].status);
      /* A step whose error norm is within rounding of 1 may be rejected on
       * one table and accepted on the other. */
      g_assert_cmpint (ABS ((gint) s_cuda[s].n_rejected - (gint) s_cpu[s].n_rejected), <=, 1);
      g_assert_cmpint (ABS ((gint) s_cuda[s].n_accepted - (gint) s_cpu[s].n_accepted), <=, 1);
      same_steps += s_cuda[s].n_accepted == s_cpu[s].n_accepted;
      for (gsize j = 0; j < N; j++)
        {
          const double a = y_cuda[s * N + j], b = y_cpu[s * N + j];

          if (isnan (a) || !(fabs (a - b) <= 1e-4 + 1e-3 * fabs (b)))
            g_error ("sample %" G_GSIZE_FORMAT " entry %" G_GSIZE_FORMAT ": cuda %.9g, "
                     "cpu %.9g",
                     s, j, a, b);
          worst = fmax (worst, fabs (a - b) / (1e-4 + 1e-3 * fabs (b)));
        }
    }
  g_test_message ("%u layers, B = %" G_GSIZE_FORMAT ": %" G_GSIZE_FORMAT "/%" G_GSIZE_FORMAT
                  " samples took identical steps; lockstep steps cpu %u cuda %u, polls cpu %u "
                  "cuda %u; worst state difference %.3g of the tolerance",
                  n_layers, n_samples, same_steps, n_samples, i_cpu.n_steps, i_cuda.n_steps,
                  i_cpu.n_syncs, i_cuda.n_syncs, worst);

  test_random_network_free (net);
}

static void
check_network (const gsize *sizes, guint n_sizes, gsize n_samples, DiscoOdeMethod method, double dt)
{
  check_network_rate (sizes, n_sizes, n_samples, method, dt, 0);
}

static void
test_network_compacting (void)
{
  const gsize sizes[] = { 784, 256, 256, 256, 10 };

  g_test_summary ("The compacting solver (disco-ode.c) on table buffers: 784–256–256–256–10 "
                  "at batch 100, microcircuits and then rate layers (the first's drives "
                  "gathered by sample), CUDA table against CPU table, as the lockstep cases");
  SKIP_WITHOUT_DEVICE ();
  compacting = TRUE;
  check_network_rate (sizes, G_N_ELEMENTS (sizes), 100, DISCO_ODE_METHOD_TSIT5, 0, 0);
  check_network_rate (sizes, G_N_ELEMENTS (sizes), 100, DISCO_ODE_METHOD_TSIT5, 0, 0x7);
  compacting = FALSE;
}

static void
test_network_small (void)
{
  const gsize sizes[] = { 784, 256, 10 };

  g_test_summary (
      "784–256–10 at batch 8, open loop to rest: CUDA table against CPU table "
      "(statuses equal, accepted and rejected steps ±1, states within 1e-4 + 1e-3·|y|)");
  SKIP_WITHOUT_DEVICE ();
  check_network (sizes, G_N_ELEMENTS (sizes), 8, DISCO_ODE_METHOD_TSIT5, 0);
}

static void
test_network_rejections (void)
{
  const gsize sizes[] = { 784, 256, 10 };

  g_test_summary ("784–256–10 at batch 8 from a first step of dt-max (10 ms, rtol 1e-4): "
                  "rejected steps, so the revert of running rows, on the device (statuses "
                  "equal, rejected and accepted steps ±1, states within 1e-4 + 1e-3·|y|)");
  SKIP_WITHOUT_DEVICE ();
  check_network (sizes, G_N_ELEMENTS (sizes), 8, DISCO_ODE_METHOD_TSIT5, 1e-2);
}

static void
test_network_fixed_steps (void)
{
  const gsize sizes[] = { 784, 256, 10 };

  g_test_summary ("The same with Euler (0.5 ms) and RK4 (2 ms) constant steps, which the "
                  "lockstep solver runs as disco-ode.c does (statuses equal, steps ±1 where "
                  "the steady-state test flips, states within 1e-4 + 1e-3·|y|)");
  SKIP_WITHOUT_DEVICE ();
  check_network (sizes, G_N_ELEMENTS (sizes), 8, DISCO_ODE_METHOD_EULER, 5e-4);
  check_network (sizes, G_N_ELEMENTS (sizes), 8, DISCO_ODE_METHOD_RK4, 2e-3);
}

static void
test_network_3x256 (void)
{
  const gsize sizes[] = { 784, 256, 256, 256, 10 };

  g_test_summary ("784–256–256–256–10 at batch 100, the model's minibatch, likewise");
  SKIP_WITHOUT_DEVICE ();
  check_network (sizes, G_N_ELEMENTS (sizes), 100, DISCO_ODE_METHOD_TSIT5, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  gpu_test_init ();

  g_test_add_func ("/disco/cuda/ode-batched/helper-kernels", test_helper_kernels);
  g_test_add_func ("/disco/cuda/ode-batched/lockstep-kernels", test_lockstep_kernels);
  g_test_add_func ("/disco/cuda/ode-batched/network-784-256-10", test_network_small);
  g_test_add_func ("/disco/cuda/ode-batched/network-3x256", test_network_3x256);
  g_test_add_func ("/disco/cuda/ode-batched/network-rejections", test_network_rejections);
  g_test_add_func ("/disco/cuda/ode-batched/network-fixed-steps", test_network_fixed_steps);
  g_test_add_func ("/disco/cuda/ode-batched/network-compacting", test_network_compacting);

  return g_test_run ();
}
