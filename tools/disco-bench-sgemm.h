/* disco-bench-sgemm.h: this machine's SGEMM rate, the reference the
 * benchmark tools compare their solves with */
#pragma once

#include "disco-bench-stats.h"
#include "disco-kernels.h"

#include <stdlib.h>
#include <time.h>

static inline guint64
disco_bench_now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * 1000000000u + (guint64) ts.tv_nsec;
}

/* GFLOP/s of C (m×n) = op(A) · op(B) + C through disco_gemm_cpu() with the
 * current BLAS thread count (op(A) m×k, op(B) k×n, dense row-major): the
 * median of 7 timed blocks of calls, each block about 30 ms long at 60
 * GFLOP/s, after one untimed block. */
static inline double
disco_bench_sgemm_gflops (gboolean trans_a, gboolean trans_b, gsize m, gsize n, gsize k)
{
  g_autofree float *a = g_new (float, m *k);
  g_autofree float *b = g_new (float, n *k);
  g_autofree float *c = g_new0 (float, m *n);
  const gsize lda = trans_a ? m : k, ldb = trans_b ? k : n;
  const double flops = 2.0 * m * n * k;
  guint reps = MAX (1, (guint) (30e-3 * 60e9 / flops));
  double rates[7];

  for (gsize i = 0; i < m * k; i++)
    a[i] = (float) ((i * 37 % 101) / 101.0);
  for (gsize i = 0; i < n * k; i++)
    b[i] = (float) ((i * 53 % 97) / 97.0 - 0.5) * 0.1f;

  for (guint i = 0; i < reps; i++)
    disco_gemm_cpu (trans_a, trans_b, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, n);
  for (guint t = 0; t < G_N_ELEMENTS (rates); t++)
    {
      guint64 start = disco_bench_now_ns ();

      for (guint i = 0; i < reps; i++)
        disco_gemm_cpu (trans_a, trans_b, m, n, k, 1.0f, a, lda, b, ldb, 1.0f, c, n);
      rates[t] = flops * reps / ((disco_bench_now_ns () - start) * 1e-9) / 1e9;
    }
  qsort (rates, G_N_ELEMENTS (rates), sizeof (double), disco_bench_compare_doubles);
  return rates[G_N_ELEMENTS (rates) / 2];
}
