/* disco-bench-cuda.c: the CUDA kernels and cuBLAS GEMMs against the CPU.
 *
 * Usage: disco-bench-cuda [--quick]
 *
 * 1. The GPU's own SGEMM rate: a large square float32 GEMM (8192³, no
 *    TF32), the yardstick for the fractions printed below.
 * 2. The GEMM shapes of a 3×256 network at batch 100 (784–256–256–256–10):
 *    forward drives, weight gradients, and the per-sample Jacobian chain
 *    as one strided-batched GEMM; GFLOP/s on the GPU (CUDA events) and on
 *    the CPU (OpenBLAS, warmed up, Disco's thread policy), and the GPU's
 *    fraction of its measured peak.
 * 3. Each element-wise and row kernel at the network's sizes: time per call
 *    and the bandwidth its compulsory traffic implies.
 *
 * Every figure is one plain line "name: value unit", for logs and scripts.
 * Exits 1 with the reason when no CUDA device is usable.
 */

#include "disco-kernels-cuda.h"
#include "disco-kernels.h"
#include "disco-ode-clock.h"

#include <cuda_runtime_api.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#define BATCH 100

typedef void (*RunFunc) (gpointer data, gboolean on_gpu);

static gboolean quick;

static float *
dev_random (GRand *rand, gsize n)
{
  g_autofree float *host = g_new (float, n);
  float *dev = disco_cuda_alloc (n * sizeof (float), NULL);

  for (gsize i = 0; i < n; i++)
    host[i] = (float) g_rand_double_range (rand, 0.01, 1.0);
  if (dev == NULL || !disco_cuda_copy_to_device (dev, host, n * sizeof (float), NULL))
    g_error ("cannot allocate %" G_GSIZE_FORMAT " floats on the device", n);
  return dev;
}

static float *
host_random (GRand *rand, gsize n)
{
  float *host = g_new (float, n);

  for (gsize i = 0; i < n; i++)
    host[i] = (float) g_rand_double_range (rand, 0.01, 1.0);
  return host;
}

/* Seconds per call: a few warm-up calls, then @reps timed ones (CUDA events
 * around the queue on the GPU, the monotonic clock on the CPU). */
static double
time_call (RunFunc run, gpointer data, gboolean on_gpu, int reps)
{
  g_autoptr (GError) error = NULL;

  for (int i = 0; i < 3; i++)
    run (data, on_gpu);
  if (on_gpu)
    {
      cudaEvent_t start, stop;
      float ms = 0.0f;

      cudaEventCreate (&start);
      cudaEventCreate (&stop);
      cudaEventRecord (start, 0);
      for (int i = 0; i < reps; i++)
        run (data, TRUE);
      cudaEventRecord (stop, 0);
      cudaEventSynchronize (stop);
      cudaEventElapsedTime (&ms, start, stop);
      cudaEventDestroy (start);
      cudaEventDestroy (stop);
      if (!disco_cuda_check (&error))
        g_error ("a kernel failed: %s", error->message);
      return ms * 1e-3 / reps;
    }
  else
    {
      gint64 start = g_get_monotonic_time ();

      for (int i = 0; i < reps; i++)
        run (data, FALSE);
      return (g_get_monotonic_time () - start) * 1e-6 / reps;
    }
}

/* ---- GEMM ---- */

typedef struct
{
  const char *name;
  gboolean ta, tb;
  gsize m, n, k, batch;
  gsize stride_a;      /* 0: one A shared by the batch */
  float *a, *b, *c;    /* device */
  float *ha, *hb, *hc; /* host */
} Gemm;

static void
run_gemm (gpointer data, gboolean on_gpu)
{
  Gemm *g = data;
  const gsize lda = g->ta ? g->m : g->k, ldb = g->tb ? g->k : g->n, ldc = g->n;
  const gsize stride_b = g->k * g->n, stride_c = g->m * g->n;

  if (g->batch > 1 && on_gpu)
    disco_gemm_strided_batched_cuda (g->ta, g->tb, g->m, g->n, g->k, 1.0f, g->a, lda, g->stride_a,
                                     g->b, ldb, stride_b, 0.0f, g->c, ldc, stride_c, g->batch);
  else if (g->batch > 1)
    disco_gemm_strided_batched_cpu (g->ta, g->tb, g->m, g->n, g->k, 1.0f, g->ha, lda, g->stride_a,
                                    g->hb, ldb, stride_b, 0.0f, g->hc, ldc, stride_c, g->batch);
  else if (on_gpu)
    disco_gemm_cuda (g->ta, g->tb, g->m, g->n, g->k, 1.0f, g->a, lda, g->b, ldb, 0.0f, g->c, ldc);
  else
    disco_gemm_cpu (g->ta, g->tb, g->m, g->n, g->k, 1.0f, g->ha, lda, g->hb, ldb, 0.0f, g->hc, ldc);
}

static void
gemm_alloc (Gemm *g, GRand *rand, gboolean host_too)
{
  const gsize a_len = g->m * g->k * (g->stride_a ? g->batch : 1);
  const gsize b_len = g->k * g->n * g->batch, c_len = g->m * g->n * g->batch;

  g->a = dev_random (rand, a_len);
  g->b = dev_random (rand, b_len);
  g->c = dev_random (rand, c_len);
  if (host_too)
    {
      g->ha = host_random (rand, a_len);
      g->hb = host_random (rand, b_len);
      g->hc = host_random (rand, c_len);
    }
}

static void
gemm_free (Gemm *g)
{
  disco_cuda_free (g->a);
  disco_cuda_free (g->b);
  disco_cuda_free (g->c);
  g_free (g->ha);
  g_free (g->hb);
  g_free (g->hc);
}

/* ---- element-wise and row kernels ---- */

/* The network state of one sample: 3 layers of (u_E, u_I) × 256, the
 * readout (10) and the controller integral (10). */
#define N_STATE (3 * 2 * 256 + 10 + 10)

typedef struct
{
  const char *name;
  int which;
  double bytes; /* compulsory traffic per call */
} Kernel;

typedef struct
{
  float *y0, *out, *rate, *h, *norm, *k[7];
  float *hy0, *hout, *hrate, *hh, *hnorm, *hk[7];
  gint *flags, *hflags;
  DiscoOdeClock *clocks, *hclocks;
  float *p, *g, *m, *v, *hp, *hg, *hm, *hv;
  DiscoOdeClockParams params;
  int which;
} KernelData;

static const float tsit5_like[7] = { 0.09f, 0.01f, 0.48f, 1.38f, -3.29f, 2.32f, 0.0f };

static void
run_kernel (gpointer data, gboolean gpu)
{
  KernelData *d = data;
  const DiscoSoftRectifier phi = DISCO_SOFT_RECTIFIER_SOFTPLUS;
  const gsize R = BATCH, C = N_STATE;

  switch (d->which)
    {
    case 0:
      (gpu ? disco_softrect_forward_cuda : disco_softrect_forward_cpu) (
          &phi, R, C, gpu ? d->y0 : d->hy0, C, gpu ? d->out : d->hout, C);
      break;
    case 1:
      (gpu ? disco_rk_combine_cuda : disco_rk_combine_cpu) (
          R, C, C, gpu ? d->y0 : d->hy0, gpu ? d->h : d->hh, 6, tsit5_like,
          (const float *const *) (gpu ? d->k : d->hk), gpu ? d->out : d->hout);
      break;
    case 2:
      (gpu ? disco_rk_combine_softrect_cuda : disco_rk_combine_softrect_cpu) (
          &phi, R, C, C, gpu ? d->y0 : d->hy0, gpu ? d->h : d->hh, 6, tsit5_like,
          (const float *const *) (gpu ? d->k : d->hk), gpu ? d->out : d->hout,
          gpu ? d->rate : d->hrate, C);
      break;
    case 3:
      (gpu ? disco_rk_embedded_error_norm_cuda : disco_rk_embedded_error_norm_cpu) (
          R, C, C, 1e-6f, 1e-3f, gpu ? d->y0 : d->hy0, gpu ? d->out : d->hout, gpu ? d->h : d->hh,
          7, tsit5_like, (const float *const *) (gpu ? d->k : d->hk), gpu ? d->norm : d->hnorm);
      break;
    case 4:
      (gpu ? disco_rms_rows_cuda : disco_rms_rows_cpu) (R, C, gpu ? d->y0 : d->hy0, C,
                                                        gpu ? d->norm : d->hnorm);
      break;
    case 5:
      (gpu ? disco_steady_state_rows_cuda
           : disco_steady_state_rows_cpu) (R, C, 1e-6f, 1e-3f, gpu ? d->k[0] : d->hk[0], C,
                                           gpu ? d->y0 : d->hy0, C, gpu ? d->flags : d->hflags);
      break;
    case 6:
      (gpu ? disco_microcircuit_rhs_cuda : disco_microcircuit_rhs_cpu) (
          &phi, &phi, 0.02f, 0.005f, R, 256, gpu ? d->y0 : d->hy0, C, gpu ? d->k[1] : d->hk[1], C,
          NULL, gpu ? d->h : d->hh, gpu ? d->rate : d->hrate, C, gpu ? d->out : d->hout, C);
      break;
    case 7:
      (gpu ? disco_softmax_rows_cuda : disco_softmax_rows_cpu) (R, 10, gpu ? d->y0 : d->hy0, C,
                                                                gpu ? d->out : d->hout, C);
      break;
    case 8:
      (gpu ? disco_ode_clock_advance_cuda
           : disco_ode_clock_advance_cpu) (&d->params, R, gpu ? d->clocks : d->hclocks,
                                           gpu ? d->norm : d->hnorm, gpu ? d->flags : d->hflags);
      break;
    case 9:
      (gpu ? disco_adam_update_cuda
           : disco_adam_update_cpu) (784 * 256, 1e-3, 0.9, 0.999, 1e-8, 10, gpu ? d->p : d->hp,
                                     gpu ? d->g : d->hg, gpu ? d->m : d->hm, gpu ? d->v : d->hv);
      break;
    default: g_assert_not_reached ();
    }
}

int
main (int argc, char **argv)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (1);
  g_autofree char *description = NULL;
  const gsize big = 8192;
  double peak;
  const double state_bytes = (double) BATCH * N_STATE * sizeof (float);

  quick = argc > 1 && strcmp (argv[1], "--quick") == 0;

  if (!disco_cuda_init (&error))
    {
      g_printerr ("disco-bench-cuda: no CUDA device: %s\n", error->message);
      return 1;
    }
  description = disco_cuda_describe ();
  printf ("device: %s\n", description);
  printf ("cpu blas threads: %u\n", disco_blas_apply_thread_policy ());

  /* 1. The yardstick: a square SGEMM large enough to saturate the GPU. */
  {
    Gemm g = { "square", FALSE, FALSE, big, big, big, 1, 0 };

    gemm_alloc (&g, rand, FALSE);
    peak = 2.0 * big * big * big / time_call (run_gemm, &g, TRUE, quick ? 3 : 10) * 1e-9;
    printf ("peak sgemm %zux%zux%zu: %.0f GFLOP/s\n", big, big, big, peak);
    gemm_free (&g);
  }

  /* 2. The network's GEMMs (row-major, W stored out×in). */
  {
    Gemm gemms[] = {
      { "forward 100x784 * (256x784)^T", FALSE, TRUE, BATCH, 256, 784, 1, 0 },
      { "forward 100x256 * (256x256)^T", FALSE, TRUE, BATCH, 256, 256, 1, 0 },
      { "forward 100x256 * (10x256)^T", FALSE, TRUE, BATCH, 10, 256, 1, 0 },
      { "weight grad (100x256)^T * 100x784", TRUE, FALSE, 256, 784, BATCH, 1, 0 },
      { "weight grad (100x256)^T * 100x256", TRUE, FALSE, 256, 256, BATCH, 1, 0 },
      { "jacobian chain 100 x (10x256 * 256x256)", FALSE, FALSE, 10, 256, 256, BATCH, 10 * 256 },
    };

    for (guint i = 0; i < G_N_ELEMENTS (gemms); i++)
      {
        Gemm *g = &gemms[i];
        const double flops = 2.0 * g->m * g->n * g->k * g->batch;
        double gpu, cpu;

        gemm_alloc (g, rand, TRUE);
        gpu = flops / time_call (run_gemm, g, TRUE, quick ? 50 : 500) * 1e-9;
        cpu = flops / time_call (run_gemm, g, FALSE, quick ? 10 : 100) * 1e-9;
        printf ("gemm %s: gpu %.1f GFLOP/s (%.2f%% of peak), cpu %.1f GFLOP/s, gpu/cpu %.1fx\n",
                g->name, gpu, 100.0 * gpu / peak, cpu, gpu / cpu);
        gemm_free (g);
      }
  }

  /* 3. Element-wise and row kernels at the network's sizes. */
  {
    static const Kernel kernels[] = {
      { "softrect_forward", 0, 2 },
      { "rk_combine (6 stages)", 1, 8 },
      { "rk_combine_softrect (6 stages)", 2, 9 },
      { "rk_embedded_error_norm (7 stages)", 3, 9 },
      { "rms_rows", 4, 1 },
      { "steady_state_rows", 5, 2 },
      { "microcircuit_rhs (n = 256)", 6, -1 },
      { "softmax_rows (10)", 7, -1 },
      { "ode_clock_advance", 8, -1 },
      { "adam (784x256)", 9, -1 },
    };
    KernelData d = { 0 };
    DiscoOdeConfig config;
    const gsize len = BATCH * N_STATE, n_adam = 784 * 256;

    disco_ode_config_init (&config);
    disco_ode_clock_params_init (&d.params, &config, 5.0);
    d.y0 = dev_random (rand, len);
    d.out = dev_random (rand, len);
    d.rate = dev_random (rand, len);
    d.h = dev_random (rand, len);
    d.norm = dev_random (rand, BATCH);
    d.hy0 = host_random (rand, len);
    d.hout = host_random (rand, len);
    d.hrate = host_random (rand, len);
    d.hh = host_random (rand, len);
    d.hnorm = host_random (rand, BATCH);
    for (int s = 0; s < 7; s++)
      {
        d.k[s] = dev_random (rand, len);
        d.hk[s] = host_random (rand, len);
      }
    d.flags = disco_cuda_alloc (BATCH * sizeof (gint), NULL);
    d.hflags = g_new0 (gint, BATCH);
    d.hclocks = g_new0 (DiscoOdeClock, BATCH);
    for (int i = 0; i < BATCH; i++)
      d.hclocks[i] =
          (DiscoOdeClock){ .t = 0, .t_next = 1e-3, .inv_error_prev = 1, .inv_error_prev_prev = 1 };
    d.clocks = disco_cuda_alloc (BATCH * sizeof (DiscoOdeClock), NULL);
    disco_cuda_copy_to_device (d.clocks, d.hclocks, BATCH * sizeof (DiscoOdeClock), NULL);
    d.p = dev_random (rand, n_adam);
    d.g = dev_random (rand, n_adam);
    d.m = dev_random (rand, n_adam);
    d.v = dev_random (rand, n_adam);
    d.hp = host_random (rand, n_adam);
    d.hg = host_random (rand, n_adam);
    d.hm = host_random (rand, n_adam);
    d.hv = host_random (rand, n_adam);

    for (guint i = 0; i < G_N_ELEMENTS (kernels); i++)
      {
        double gpu, cpu, bytes = kernels[i].bytes * state_bytes;

        d.which = kernels[i].which;
        if (d.which == 9)
          bytes = 7.0 * n_adam * sizeof (float);
        gpu = time_call (run_kernel, &d, TRUE, quick ? 100 : 1000);
        cpu = time_call (run_kernel, &d, FALSE, quick ? 10 : 100);
        if (bytes > 0)
          printf ("kernel %s, %dx%d: gpu %.2f us (%.0f GB/s), cpu %.2f us, gpu/cpu %.1fx\n",
                  kernels[i].name, BATCH, (int) N_STATE, gpu * 1e6, bytes / gpu * 1e-9, cpu * 1e6,
                  cpu / gpu);
        else
          printf ("kernel %s, batch %d: gpu %.2f us, cpu %.2f us, gpu/cpu %.1fx\n", kernels[i].name,
                  BATCH, gpu * 1e6, cpu * 1e6, cpu / gpu);
      }
    printf ("note: small kernels are bound by launch latency (a few us): the device solve loop "
            "must fuse and batch them, not call them one by one\n");
  }

  if (!disco_cuda_synchronize (&error))
    {
      g_printerr ("disco-bench-cuda: %s\n", error->message);
      return 1;
    }
  return 0;
}
