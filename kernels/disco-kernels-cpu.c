/* disco-kernels-cpu.c: CPU reference implementation of disco-kernels.h.
 *
 * Shape legend: see disco-kernels.h (R rows, C columns, ld* row strides,
 * S stages).  These loops are the reference the CUDA kernels are tested
 * against, so they stay plain: one pass per row, no clever reordering.
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Disco-Kernels"

#include "disco-kernels.h"
#include "disco-parallel.h"

#include <cblas.h>
#include <string.h>
#include <time.h>

/* Columns per chunk in disco_rk_combine_cpu(): 1 KiB of stack. */
/* Loops compiled twice on x86-64, for the baseline and for x86-64-v3
 * (AVX2), picked at run time.  This file is built with -ffp-contract=off,
 * so a v3 clone never fuses a multiply and an add: its lanes round as the
 * scalar loop does and both clones give the same bits. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define CPU_CLONES __attribute__ ((target_clones ("arch=x86-64-v3", "default")))
#else
#define CPU_CLONES
#endif

/* The fewest values a piece of an element-wise kernel should hold to be
 * worth handing to another thread. */
#define PIECE_MIN_PLAIN_VALUES 32768

#define RK_CHUNK 256

/* Shared precondition of the strided element-wise operations: a non-empty
 * matrix needs its storage, and rows may not overlap. */
#define CHECK_MATRIX(ptr, n_rows, n_cols, ld)                                                      \
  G_STMT_START                                                                                     \
  {                                                                                                \
    g_return_if_fail ((n_rows) == 0 || (n_cols) == 0 || (ptr) != NULL);                            \
    g_return_if_fail ((ld) >= (n_cols));                                                           \
  }                                                                                                \
  G_STMT_END

/* GEMM counters (disco_gemm_stats_*): the state starts undecided and is
 * resolved from $DISCO_GEMM_STATS at the first GEMM. */
enum
{
  GEMM_STATS_OFF,
  GEMM_STATS_ON,
  GEMM_STATS_UNDECIDED,
};

static int gemm_stats_state = GEMM_STATS_UNDECIDED;
static guint64 gemm_calls;
static guint64 gemm_flops;
static guint64 gemm_ns;
static gboolean blas_threads_chosen;

static gboolean
gemm_stats_on (void)
{
  int state = __atomic_load_n (&gemm_stats_state, __ATOMIC_RELAXED);

  if (state == GEMM_STATS_UNDECIDED)
    {
      const char *env = g_getenv ("DISCO_GEMM_STATS");
      int decided =
          env != NULL && *env != '\0' && g_strcmp0 (env, "0") != 0 ? GEMM_STATS_ON : GEMM_STATS_OFF;

      /* A racing disco_gemm_stats_set_enabled() wins. */
      __atomic_compare_exchange_n (&gemm_stats_state, &state, decided, FALSE, __ATOMIC_RELAXED,
                                   __ATOMIC_RELAXED);
      state = __atomic_load_n (&gemm_stats_state, __ATOMIC_RELAXED);
    }
  return state == GEMM_STATS_ON;
}

static guint64
monotonic_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (guint64) ts.tv_sec * G_GUINT64_CONSTANT (1000000000) + (guint64) ts.tv_nsec;
}

/* GEMMs are cut into pieces of at least this many flops (2·m·n·k)... */
#define GEMM_PIECE_MIN_FLOPS (2 << 20)
/* ... along the longer side of C, in blocks of this many rows or columns. */
#define GEMM_PIECE_ALIGN 16

typedef struct
{
  gboolean trans_a, trans_b, split_rows;
  gsize m, n, k, lda, ldb, ldc, n_pieces;
  float alpha, beta;
  const float *a, *b;
  float *c;
} GemmJob;

static void
gemm_piece (gsize piece, gpointer data)
{
  const GemmJob *job = data;
  const gsize side = job->split_rows ? job->m : job->n;
  const gsize blocks = (side + GEMM_PIECE_ALIGN - 1) / GEMM_PIECE_ALIGN;
  const gsize first =
      MIN (side, DISCO_PARALLEL_PIECE_FIRST (piece, job->n_pieces, blocks) * GEMM_PIECE_ALIGN);
  const gsize last =
      MIN (side, DISCO_PARALLEL_PIECE_LAST (piece, job->n_pieces, blocks) * GEMM_PIECE_ALIGN);
  const float *a = job->a, *b = job->b;
  float *c = job->c;
  gsize m = job->m, n = job->n;
  float beta = job->beta;

  if (last <= first)
    return;
  if (job->split_rows)
    {
      a += job->trans_a ? first : first * job->lda;
      c += first * job->ldc;
      m = last - first;
    }
  else
    {
      b += job->trans_b ? first * job->ldb : first;
      c += first;
      n = last - first;
    }
  /* OpenBLAS 0.3.21 clears C for β = 0 in a loop that took 50–130 µs more
   * than memset() for a 256 × 784 C (a weight gradient): clear it here and
   * accumulate (β = 1), the same values. */
  if (beta == 0.0f)
    {
      for (gsize i = 0; i < m; i++)
        memset (c + i * job->ldc, 0, n * sizeof (float));
      beta = 1.0f;
    }
  cblas_sgemm (CblasRowMajor, job->trans_a ? CblasTrans : CblasNoTrans,
               job->trans_b ? CblasTrans : CblasNoTrans, (int) m, (int) n, (int) job->k, job->alpha,
               a, (int) job->lda, b, (int) job->ldb, beta, c, (int) job->ldc);
}

/* C in blocks of rows (or columns, when it is wider than tall), one BLAS
 * call each, on disco-parallel's threads.  Every element of C is the same
 * product over the same k whichever block holds it; the blocks depend on
 * the shape alone.  When the user gave OpenBLAS threads of its own, it
 * gets the whole product instead (two teams would compete), and so does a
 * product inside a piece of another job, with any thread count. */
static void
gemm_in_pieces (gboolean trans_a, gboolean trans_b, gsize m, gsize n, gsize k, float alpha,
                const float *a, gsize lda, const float *b, gsize ldb, float beta, float *c,
                gsize ldc)
{
  const gboolean split_rows = m >= n;
  const gsize side = split_rows ? m : n;
  const double flops = 2.0 * m * n * k;
  GemmJob job = { trans_a, trans_b, split_rows, m, n, k, lda, ldb, ldc, 1, alpha, beta, a, b, c };

  /* Inside a piece of another job (a block of samples), the blocks would
   * run one after the other, each packing its operands again: one call. */
  if (k > 0 && disco_blas_get_threads () == 1 && !disco_parallel_in_job ())
    job.n_pieces = disco_parallel_pieces (
        (side + GEMM_PIECE_ALIGN - 1) / GEMM_PIECE_ALIGN,
        (gsize) ceil (GEMM_PIECE_MIN_FLOPS / (flops / side * GEMM_PIECE_ALIGN)),
        DISCO_PARALLEL_MAX_PIECES);
  /* One piece runs in this thread: the whole product, one BLAS call. */
  disco_parallel_run (job.n_pieces, gemm_piece, &job);
}

/**
 * disco_gemm_cpu:
 * @trans_a: use Aᵀ
 * @trans_b: use Bᵀ
 * @m: rows of op(A) and C
 * @n: columns of op(B) and C
 * @k: columns of op(A), rows of op(B)
 * @alpha: scale of the product
 * @a: (array): A, M×K or (transposed) K×M, row stride @lda
 * @lda: row stride of A
 * @b: (array): B, K×N or (transposed) N×K, row stride @ldb
 * @ldb: row stride of B
 * @beta: scale of the old C; with 0, C is not read (BLAS semantics)
 * @c: (array): C, M×N, row stride @ldc
 * @ldc: row stride of C
 *
 * C = alpha·op(A)·op(B) + beta·C in row-major storage, via cblas_sgemm.
 * Sizes must fit a BLAS int.  When the GEMM counters are on
 * (disco_gemm_stats_set_enabled()), the call is counted and timed.
 */
void
disco_gemm_cpu (gboolean trans_a, gboolean trans_b, gsize m, gsize n, gsize k, float alpha,
                const float *a, gsize lda, const float *b, gsize ldb, float beta, float *c,
                gsize ldc)
{
  g_return_if_fail (m <= G_MAXINT && n <= G_MAXINT && k <= G_MAXINT);
  g_return_if_fail (lda <= G_MAXINT && ldb <= G_MAXINT && ldc <= G_MAXINT);
  g_return_if_fail (lda >= MAX (1, trans_a ? m : k));
  g_return_if_fail (ldb >= MAX (1, trans_b ? k : n));
  g_return_if_fail (ldc >= MAX (1, n));

  if (m == 0 || n == 0)
    return;

  g_return_if_fail (c != NULL);
  g_return_if_fail (k == 0 || (a != NULL && b != NULL));

  if (G_UNLIKELY (gemm_stats_state != GEMM_STATS_OFF) && gemm_stats_on ())
    {
      guint64 start = monotonic_ns ();

      gemm_in_pieces (trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
      __atomic_add_fetch (&gemm_ns, monotonic_ns () - start, __ATOMIC_RELAXED);
      __atomic_add_fetch (&gemm_flops, (guint64) 2 * m * n * k, __ATOMIC_RELAXED);
      __atomic_add_fetch (&gemm_calls, 1, __ATOMIC_RELAXED);
      return;
    }

  gemm_in_pieces (trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

/**
 * disco_gemm_stats_set_enabled:
 * @enabled: whether disco_gemm_cpu() counts its calls, flops and time
 *
 * Turns the GEMM counters on or off (overriding $DISCO_GEMM_STATS).  The
 * counters keep their values; see disco_gemm_stats_reset().
 */
void
disco_gemm_stats_set_enabled (gboolean enabled)
{
  __atomic_store_n (&gemm_stats_state, enabled ? GEMM_STATS_ON : GEMM_STATS_OFF, __ATOMIC_RELAXED);
}

/**
 * disco_gemm_stats_get_enabled:
 *
 * Returns: whether disco_gemm_cpu() counts (resolving $DISCO_GEMM_STATS if
 *   nothing decided yet)
 */
gboolean
disco_gemm_stats_get_enabled (void)
{
  return gemm_stats_on ();
}

/**
 * disco_gemm_stats_get:
 * @stats: (out caller-allocates): the counters
 *
 * Reads the GEMM counters: calls, flops (2·m·n·k) and seconds inside
 * cblas_sgemm since the last disco_gemm_stats_reset().
 */
void
disco_gemm_stats_get (DiscoGemmStats *stats)
{
  g_return_if_fail (stats != NULL);

  stats->calls = __atomic_load_n (&gemm_calls, __ATOMIC_RELAXED);
  stats->flops = (double) __atomic_load_n (&gemm_flops, __ATOMIC_RELAXED);
  stats->seconds = __atomic_load_n (&gemm_ns, __ATOMIC_RELAXED) * 1e-9;
}

/**
 * disco_gemm_stats_reset:
 *
 * Sets the GEMM counters to zero.
 */
void
disco_gemm_stats_reset (void)
{
  __atomic_store_n (&gemm_calls, 0, __ATOMIC_RELAXED);
  __atomic_store_n (&gemm_flops, 0, __ATOMIC_RELAXED);
  __atomic_store_n (&gemm_ns, 0, __ATOMIC_RELAXED);
}

/**
 * disco_blas_get_threads:
 *
 * Returns: the number of threads OpenBLAS uses for one call
 */
guint
disco_blas_get_threads (void)
{
  return (guint) MAX (1, openblas_get_num_threads ());
}

/**
 * disco_blas_set_threads:
 * @n_threads: threads per BLAS call, > 0
 *
 * Sets OpenBLAS's thread count (process-wide, like openblas_set_num_threads())
 * and marks it as chosen, so that disco_blas_apply_thread_policy() leaves it
 * alone from then on.
 */
void
disco_blas_set_threads (guint n_threads)
{
  g_return_if_fail (n_threads > 0 && n_threads <= G_MAXINT);

  __atomic_store_n (&blas_threads_chosen, TRUE, __ATOMIC_RELAXED);
  openblas_set_num_threads ((int) n_threads);
}

/**
 * disco_blas_apply_thread_policy:
 *
 * Chooses OpenBLAS's thread count for Disco's small GEMMs, once per process
 * (later calls only report the count):
 *
 * - $DISCO_BLAS_THREADS, if set to a positive number, is used as is;
 * - otherwise the count stays untouched when the user chose one: any of
 *   $OPENBLAS_NUM_THREADS, $GOTO_NUM_THREADS or $OMP_NUM_THREADS is set,
 *   disco_blas_set_threads() was called, or OpenBLAS no longer runs its
 *   default of one thread per core (the host program changed it);
 * - otherwise it becomes #DISCO_BLAS_DEFAULT_THREADS.
 *
 * The setting is process-wide: a host program that uses the same OpenBLAS
 * and wants its own count should set one of those variables or call
 * openblas_set_num_threads() before Disco runs, or afterwards.
 *
 * Returns: the thread count now in effect
 */
guint
disco_blas_apply_thread_policy (void)
{
  static gsize applied = 0;

  if (g_once_init_enter (&applied))
    {
      const char *wanted = g_getenv ("DISCO_BLAS_THREADS");
      guint64 n = 0;

      if (wanted != NULL && g_ascii_string_to_unsigned (wanted, 10, 1, 4096, &n, NULL))
        openblas_set_num_threads ((int) n);
      else if (g_getenv ("OPENBLAS_NUM_THREADS") == NULL && g_getenv ("GOTO_NUM_THREADS") == NULL
               && g_getenv ("OMP_NUM_THREADS") == NULL
               && !__atomic_load_n (&blas_threads_chosen, __ATOMIC_RELAXED)
               && openblas_get_num_threads () == openblas_get_num_procs ())
        openblas_set_num_threads (DISCO_BLAS_DEFAULT_THREADS);
      g_once_init_leave (&applied, 1);
    }

  return disco_blas_get_threads ();
}

/**
 * disco_softrect_forward_cpu:
 * @rect: the rectifier parameters
 * @n_rows: R
 * @n_cols: C
 * @x: (array): potentials, R×C, row stride @ldx
 * @ldx: row stride of @x
 * @y: (array): rates φ(x), R×C, row stride @ldy; may be @x
 * @ldy: row stride of @y
 *
 * Applies disco_softrect_forward() element-wise (MODEL.md §1).
 */
void
disco_softrect_forward_cpu (const DiscoSoftRectifier *rect, gsize n_rows, gsize n_cols,
                            const float *x, gsize ldx, float *y, gsize ldy)
{
  g_return_if_fail (rect != NULL);
  CHECK_MATRIX (x, n_rows, n_cols, ldx);
  CHECK_MATRIX (y, n_rows, n_cols, ldy);

  for (gsize r = 0; r < n_rows; r++)
    for (gsize c = 0; c < n_cols; c++)
      y[r * ldy + c] = disco_softrect_forward (rect, x[r * ldx + c]);
}

/**
 * disco_softrect_derivative_cpu:
 * @rect: the rectifier parameters
 * @n_rows: R
 * @n_cols: C
 * @x: (array): potentials, R×C, row stride @ldx
 * @ldx: row stride of @x
 * @y: (array): slopes φ′(x), R×C, row stride @ldy; may be @x
 * @ldy: row stride of @y
 *
 * Applies disco_softrect_derivative() element-wise (MODEL.md §1).
 */
void
disco_softrect_derivative_cpu (const DiscoSoftRectifier *rect, gsize n_rows, gsize n_cols,
                               const float *x, gsize ldx, float *y, gsize ldy)
{
  g_return_if_fail (rect != NULL);
  CHECK_MATRIX (x, n_rows, n_cols, ldx);
  CHECK_MATRIX (y, n_rows, n_cols, ldy);

  for (gsize r = 0; r < n_rows; r++)
    for (gsize c = 0; c < n_cols; c++)
      y[r * ldy + c] = disco_softrect_derivative (rect, x[r * ldx + c]);
}

/**
 * disco_softrect_inverse_cpu:
 * @rect: the rectifier parameters
 * @n_rows: R
 * @n_cols: C
 * @x: (array): rates, R×C, row stride @ldx, each > 0
 * @ldx: row stride of @x
 * @y: (array): potentials φ⁻¹(x), R×C, row stride @ldy; may be @x
 * @ldy: row stride of @y
 *
 * Applies disco_softrect_inverse() element-wise (MODEL.md §1).
 */
void
disco_softrect_inverse_cpu (const DiscoSoftRectifier *rect, gsize n_rows, gsize n_cols,
                            const float *x, gsize ldx, float *y, gsize ldy)
{
  g_return_if_fail (rect != NULL);
  CHECK_MATRIX (x, n_rows, n_cols, ldx);
  CHECK_MATRIX (y, n_rows, n_cols, ldy);

  for (gsize r = 0; r < n_rows; r++)
    for (gsize c = 0; c < n_cols; c++)
      y[r * ldy + c] = disco_softrect_inverse (rect, x[r * ldx + c]);
}

/**
 * disco_axpy_rows_cpu:
 * @n_rows: R
 * @n_cols: C
 * @alpha: (array): one scale per row, R values
 * @x: (array): R×C, row stride @ldx
 * @ldx: row stride of @x
 * @y: (array): R×C, row stride @ldy, updated in place
 * @ldy: row stride of @y
 *
 * y[r, :] += alpha[r]·x[r, :]: an axpy whose scale differs per sample, as
 * when each sample advances with its own step size.
 */
void
disco_axpy_rows_cpu (gsize n_rows, gsize n_cols, const float *alpha, const float *x, gsize ldx,
                     float *y, gsize ldy)
{
  g_return_if_fail (n_rows == 0 || alpha != NULL);
  CHECK_MATRIX (x, n_rows, n_cols, ldx);
  CHECK_MATRIX (y, n_rows, n_cols, ldy);

  for (gsize r = 0; r < n_rows; r++)
    {
      const float a = alpha[r];
      const float *xr = x + r * ldx;
      float *yr = y + r * ldy;

      for (gsize c = 0; c < n_cols; c++)
        yr[c] += a * xr[c];
    }
}

/**
 * disco_softmax_rows_cpu:
 * @n_rows: R
 * @n_cols: C, > 0
 * @x: (array): logits, R×C, row stride @ldx
 * @ldx: row stride of @x
 * @y: (array): probabilities, R×C, row stride @ldy; may be @x
 * @ldy: row stride of @y
 *
 * Row-wise softmax (the cross-entropy error of MODEL.md §3).  The row maximum
 * is subtracted first so that exp() cannot overflow; the normaliser is summed
 * in double.
 */
void
disco_softmax_rows_cpu (gsize n_rows, gsize n_cols, const float *x, gsize ldx, float *y, gsize ldy)
{
  g_return_if_fail (n_rows == 0 || n_cols > 0);
  CHECK_MATRIX (x, n_rows, n_cols, ldx);
  CHECK_MATRIX (y, n_rows, n_cols, ldy);

  for (gsize r = 0; r < n_rows; r++)
    {
      const float *xr = x + r * ldx;
      float *yr = y + r * ldy;
      float max = xr[0];
      double sum = 0.0;
      float inv_sum;

      for (gsize c = 1; c < n_cols; c++)
        max = fmaxf (max, xr[c]);

      for (gsize c = 0; c < n_cols; c++)
        {
          yr[c] = expf (xr[c] - max);
          sum += yr[c];
        }

      inv_sum = (float) (1.0 / sum);
      for (gsize c = 0; c < n_cols; c++)
        yr[c] *= inv_sum;
    }
}

/**
 * disco_rms_rows_cpu:
 * @n_rows: R
 * @n_cols: C
 * @x: (array): R×C, row stride @ldx
 * @ldx: row stride of @x
 * @rms: (array): R values, sqrt(mean of squares) of each row; 0 when C = 0
 *
 * The root mean square of each row: the norm of the steady-state test and
 * of the step-size controller (MODEL.md §5).
 */
void
disco_rms_rows_cpu (gsize n_rows, gsize n_cols, const float *x, gsize ldx, float *rms)
{
  g_return_if_fail (n_rows == 0 || rms != NULL);
  CHECK_MATRIX (x, n_rows, n_cols, ldx);

  for (gsize r = 0; r < n_rows; r++)
    {
      const float *xr = x + r * ldx;
      double sum = 0.0;

      for (gsize c = 0; c < n_cols; c++)
        sum += (double) xr[c] * xr[c];

      rms[r] = n_cols > 0 ? (float) sqrt (sum / (double) n_cols) : 0.0f;
    }
}

/**
 * disco_rk_combine_cpu:
 * @n_rows: R
 * @n_cols: C
 * @ld: row stride shared by @y0, every stage and @out
 * @y0: (nullable) (array): the start of the step, R×C; %NULL means zero
 * @h: (array): step size of each row, R values
 * @n_stages: S, the number of stages combined (may be 0)
 * @coeffs: (array length=n_stages): the tableau weights
 * @k: (array length=n_stages): S pointers to stage derivatives, each R×C
 * @out: (array): R×C result; may be @y0 but none of the stages
 *
 * out[r, :] = y0[r, :] + h[r]·Σ_s coeffs[s]·k_s[r, :].  One call builds one
 * Runge-Kutta stage input, the step's solution, or (with @y0 %NULL and the
 * error weights) the embedded error estimate.
 */
void
disco_rk_combine_cpu (gsize n_rows, gsize n_cols, gsize ld, const float *y0, const float *h,
                      guint n_stages, const float *coeffs, const float *const *k, float *out)
{
  g_return_if_fail (ld >= n_cols);
  if (n_rows == 0 || n_cols == 0)
    return;
  g_return_if_fail (h != NULL && out != NULL);
  g_return_if_fail (n_stages == 0 || (coeffs != NULL && k != NULL));
  for (guint s = 0; s < n_stages; s++)
    g_return_if_fail (k[s] != NULL && k[s] != out);

  /* Stage-outer loops over a chunk of columns vectorise, where a stage loop
   * inside each element does not; the sum goes through a small stack buffer
   * so that out may alias y0.  Per element the additions happen in stage
   * order either way, so the result does not depend on the chunking. */
  for (gsize r = 0; r < n_rows; r++)
    {
      const gsize offset = r * ld;
      const float hr = h[r];

      for (gsize start = 0; start < n_cols; start += RK_CHUNK)
        {
          const gsize len = MIN (RK_CHUNK, n_cols - start);
          float sum[RK_CHUNK];

          for (gsize c = 0; c < len; c++)
            sum[c] = 0.0f;
          for (guint s = 0; s < n_stages; s++)
            {
              const float coeff = coeffs[s];
              const float *ks = k[s] + offset + start;

              for (gsize c = 0; c < len; c++)
                sum[c] += coeff * ks[c];
            }

          if (y0 != NULL)
            for (gsize c = 0; c < len; c++)
              out[offset + start + c] = y0[offset + start + c] + hr * sum[c];
          else
            for (gsize c = 0; c < len; c++)
              out[offset + start + c] = hr * sum[c];
        }
    }
}

/**
 * disco_rk_error_norm_cpu:
 * @n_rows: R
 * @n_cols: C
 * @ld: row stride shared by @y0, @y1 and @err
 * @atol: absolute tolerance, ≥ 0
 * @rtol: relative tolerance, ≥ 0
 * @y0: (array): the start of the step, R×C
 * @y1: (array): the candidate end of the step, R×C
 * @err: (array): the embedded error estimate, R×C
 * @norm: (array): R values; < 1 means the step meets its tolerance
 *
 * norm[r] = RMS over the row of err/(atol + rtol·max(|y0|, |y1|)), the
 * scaled error of Diffrax's PIDController (Hairer, Nørsett & Wanner, II.4).
 * As Diffrax does, a NaN in the candidate falls back to |y0| for the scale
 * (fmaxf drops the NaN), and a NaN error counts as an infinite one, so the
 * step is rejected and shrunk instead of poisoning the controller.
 */
void
disco_rk_error_norm_cpu (gsize n_rows, gsize n_cols, gsize ld, float atol, float rtol,
                         const float *y0, const float *y1, const float *err, float *norm)
{
  g_return_if_fail (ld >= n_cols);
  g_return_if_fail (atol >= 0.0f && rtol >= 0.0f);
  if (n_rows == 0)
    return;
  g_return_if_fail (norm != NULL);
  g_return_if_fail (n_cols == 0 || (y0 != NULL && y1 != NULL && err != NULL));

  for (gsize r = 0; r < n_rows; r++)
    {
      const gsize offset = r * ld;
      double sum = 0.0;

      for (gsize c = 0; c < n_cols; c++)
        {
          float y = fmaxf (fabsf (y0[offset + c]), fabsf (y1[offset + c]));
          float scaled = err[offset + c] / (atol + rtol * y);

          sum += (double) scaled * scaled;
        }

      if (n_cols == 0)
        norm[r] = 0.0f;
      else if (isnan (sum))
        norm[r] = INFINITY;
      else
        norm[r] = (float) sqrt (sum / (double) n_cols);
    }
}

/**
 * disco_gemm_strided_batched_cpu:
 * @trans_a: use Aᵢᵀ
 * @trans_b: use Bᵢᵀ
 * @m: rows of op(Aᵢ) and Cᵢ
 * @n: columns of op(Bᵢ) and Cᵢ
 * @k: columns of op(Aᵢ), rows of op(Bᵢ)
 * @alpha: scale of the products
 * @a: (array): the first A
 * @lda: row stride of every A
 * @stride_a: elements from one A to the next (0: one shared A)
 * @b: (array): the first B
 * @ldb: row stride of every B
 * @stride_b: elements from one B to the next (0: one shared B)
 * @beta: scale of the old Cᵢ; with 0, C is not read
 * @c: (array): the first C
 * @ldc: row stride of every C
 * @stride_c: elements from one C to the next; the Cᵢ must not overlap
 * @batch: number of products
 *
 * disco_gemm_cpu() on each matrix of a strided batch, in order: the
 * reference of cuBLAS's strided-batched SGEMM.
 */
void
disco_gemm_strided_batched_cpu (gboolean trans_a, gboolean trans_b, gsize m, gsize n, gsize k,
                                float alpha, const float *a, gsize lda, gsize stride_a,
                                const float *b, gsize ldb, gsize stride_b, float beta, float *c,
                                gsize ldc, gsize stride_c, gsize batch)
{
  g_return_if_fail (batch <= 1 || stride_c >= m * ldc);

  for (gsize i = 0; i < batch; i++)
    disco_gemm_cpu (trans_a, trans_b, m, n, k, alpha, a != NULL ? a + i * stride_a : NULL, lda,
                    b != NULL ? b + i * stride_b : NULL, ldb, beta, c + i * stride_c, ldc);
}

/**
 * disco_rk_combine_softrect_cpu:
 * @rect: the rectifier parameters
 * @n_rows: R
 * @n_cols: C
 * @ld: row stride shared by @y0, every stage and @out
 * @y0: (nullable) (array): the start of the step, R×C; %NULL means zero
 * @h: (array): step size of each row, R values
 * @n_stages: S
 * @coeffs: (array length=n_stages): the tableau weights
 * @k: (array length=n_stages): S pointers to stage derivatives, each R×C
 * @out: (array): R×C stage input; may be @y0 but none of the stages
 * @rate: (array): R×C rates φ(out), row stride @ldr, overlapping nothing
 * @ldr: row stride of @rate
 *
 * disco_rk_combine_cpu() followed by disco_softrect_forward_cpu() on its
 * result: the reference of the fused device kernel, which builds a stage
 * input and its rates in one pass over memory.
 */
void
disco_rk_combine_softrect_cpu (const DiscoSoftRectifier *rect, gsize n_rows, gsize n_cols, gsize ld,
                               const float *y0, const float *h, guint n_stages, const float *coeffs,
                               const float *const *k, float *out, float *rate, gsize ldr)
{
  disco_rk_combine_cpu (n_rows, n_cols, ld, y0, h, n_stages, coeffs, k, out);
  disco_softrect_forward_cpu (rect, n_rows, n_cols, out, ld, rate, ldr);
}

/**
 * disco_steady_state_rows_cpu:
 * @n_rows: R
 * @n_cols: C, > 0
 * @atol: absolute tolerance
 * @rtol: relative tolerance
 * @f: (array): the derivatives f(y), R×C, row stride @ldf
 * @ldf: row stride of @f
 * @y: (array): the states, R×C, row stride @ldy
 * @ldy: row stride of @y
 * @at_rest: (array) (out): R flags, 1 where the row is at rest
 *
 * The steady-state test of MODEL.md §5: RMS(f) < atol + rtol·RMS(y), one
 * RMS over each row (a sample's whole state), the threshold formed in float
 * as the solver forms it.
 */
void
disco_steady_state_rows_cpu (gsize n_rows, gsize n_cols, float atol, float rtol, const float *f,
                             gsize ldf, const float *y, gsize ldy, gint *at_rest)
{
  g_return_if_fail (n_rows == 0 || (n_cols > 0 && at_rest != NULL));
  CHECK_MATRIX (f, n_rows, n_cols, ldf);
  CHECK_MATRIX (y, n_rows, n_cols, ldy);

  for (gsize r = 0; r < n_rows; r++)
    {
      float rms_f, rms_y;

      disco_rms_rows_cpu (1, n_cols, f + r * ldf, ldf, &rms_f);
      disco_rms_rows_cpu (1, n_cols, y + r * ldy, ldy, &rms_y);
      at_rest[r] = rms_f < atol + rtol * rms_y;
    }
}

/**
 * disco_fill_cpu:
 * @n: number of values
 * @value: the value to store
 * @x: (array length=n) (out): the values to overwrite
 *
 * x[i] = @value: a constant vector (a column of ones for broadcasting a
 * bias through a GEMM, a zero initial state) without a host copy.
 */
void
disco_fill_cpu (gsize n, float value, float *x)
{
  g_return_if_fail (n == 0 || x != NULL);

  for (gsize i = 0; i < n; i++)
    x[i] = value;
}

/**
 * disco_revert_rows_cpu:
 * @n_rows: R
 * @n_cols: C
 * @ld: row stride shared by @old and @out
 * @keep: (array length=n_rows): one flag per row; 0 reverts the row
 * @old: (array): R×C, the values to take back
 * @out: (array): R×C, updated in the rows whose flag is 0
 *
 * out[r, :] = old[r, :] where keep[r] == 0.  The lockstep solver swaps its
 * state buffers after each step and reverts the rows whose step was
 * rejected or whose sample has finished, which touches only those rows.
 * @old and @out must not overlap.
 */
void
disco_revert_rows_cpu (gsize n_rows, gsize n_cols, gsize ld, const gint *keep, const float *old,
                       float *out)
{
  g_return_if_fail (n_rows == 0 || keep != NULL);
  CHECK_MATRIX (old, n_rows, n_cols, ld);
  CHECK_MATRIX (out, n_rows, n_cols, ld);

  for (gsize r = 0; r < n_rows; r++)
    if (keep[r] == 0)
      memcpy (out + r * ld, old + r * ld, n_cols * sizeof (float));
}

/**
 * disco_leaky_rows_cpu:
 * @tau: the time constant τ (s), > 0
 * @n_rows: R
 * @n_cols: C, units
 * @u: (array): R×C states, row stride @ldu
 * @ldu: row stride of @u
 * @drive: (array): R×C drives (W·r_prev), row stride @ldd
 * @ldd: row stride of @drive
 * @bias: (array) (nullable): C values added to the drive, or %NULL
 * @dudt: (array) (out): R×C derivatives, row stride @ldf
 * @ldf: row stride of @dudt
 *
 * τ du/dt = −u + d (+ b): the linear readout of MODEL.md §2 (no bias) and
 * a rate layer's potential, as (−u + (d + b))·(1/τ), the reciprocal
 * rounded once.
 */
void
disco_leaky_rows_cpu (float tau, gsize n_rows, gsize n_cols, const float *u, gsize ldu,
                      const float *drive, gsize ldd, const float *bias, float *dudt, gsize ldf)
{
  const float inv_tau = 1.0f / tau;

  g_return_if_fail (tau > 0.0f);
  CHECK_MATRIX (u, n_rows, n_cols, ldu);
  CHECK_MATRIX (drive, n_rows, n_cols, ldd);
  CHECK_MATRIX (dudt, n_rows, n_cols, ldf);

  for (gsize r = 0; r < n_rows; r++)
    {
      const float *ur = u + r * ldu, *dr = drive + r * ldd;
      float *fr = dudt + r * ldf;

      if (bias != NULL)
        for (gsize c = 0; c < n_cols; c++)
          fr[c] = (-ur[c] + (dr[c] + bias[c])) * inv_tau;
      else
        for (gsize c = 0; c < n_cols; c++)
          fr[c] = (-ur[c] + dr[c]) * inv_tau;
    }
}

/**
 * disco_leaky_pi_rows_cpu:
 * @softmax: %TRUE for e = y* − softmax(y) (cross-entropy), %FALSE for
 *   e = y* − y (MSE)
 * @k_p: proportional gain
 * @k_i: integral gain
 * @leak: λ of the integral
 * @tau: τ_c (s), > 0
 * @readout_tau: the readout's τ (s), > 0
 * @n_rows: B
 * @n_out: O, > 0
 * @y: B×O readout values (row stride @ldy), the readout block of a state
 * @c_int: B×O controller integrals, row stride @ldy
 * @ldy: row stride of @y and @c_int
 * @target: B×O targets, contiguous
 * @control: B×O, written: c
 * @dy: (nullable): B×O readout derivatives (row stride @ldf), to which
 *   c/τ_out is added
 * @dc_int: (nullable): B×O, written: dc_int/dt (row stride @ldf); with @dy
 *   %NULL only @control is computed
 * @ldf: row stride of @dy and @dc_int
 *
 * The controller's part of the closed-loop right-hand side (MODEL.md §3),
 * in the order the CUDA kernel repeats.
 */
void
disco_leaky_pi_rows_cpu (gboolean softmax, float k_p, float k_i, float leak, float tau,
                         float readout_tau, gsize n_rows, gsize n_out, const float *y,
                         const float *c_int, gsize ldy, const float *target, float *control,
                         float *dy, float *dc_int, gsize ldf)
{
  g_return_if_fail (n_out > 0 && tau > 0.0f && readout_tau > 0.0f);
  CHECK_MATRIX (y, n_rows, n_out, ldy);
  CHECK_MATRIX (c_int, n_rows, n_out, ldy);
  g_return_if_fail (n_rows == 0 || (target != NULL && control != NULL));
  g_return_if_fail ((dy == NULL) == (dc_int == NULL));
  g_return_if_fail (dy == NULL || ldf >= n_out);

  for (gsize r = 0; r < n_rows; r++)
    {
      const float *yr = y + r * ldy, *ir = c_int + r * ldy, *tr = target + r * n_out;
      float *cr = control + r * n_out;

      /* The prediction goes to c's row first, then becomes e, then c. */
      if (softmax)
        disco_softmax_rows_cpu (1, n_out, yr, ldy, cr, n_out);
      else
        memcpy (cr, yr, n_out * sizeof (float));
      for (gsize o = 0; o < n_out; o++)
        {
          const float e = tr[o] - cr[o];

          cr[o] = k_i * ir[o] + k_p * e;
          if (dy != NULL)
            {
              dc_int[r * ldf + o] = (e - leak * ir[o]) / tau;
              dy[r * ldf + o] += cr[o] / readout_tau;
            }
        }
    }
}

/* du_i[r, :] −= Σ_o (c[r, o]/τ_I) Q[s, o, :] for one row, s = rows[r] or r. */
CPU_CLONES static void
top_down_row (float tau_i, gsize n_out, gsize n, const float *c, const float *qr, float *restrict d)
{
  for (gsize o = 0; o < n_out; o++)
    {
      const float scaled = c[o] / tau_i;
      const float *restrict q_row = qr + o * n;

      for (gsize j = 0; j < n; j++)
        d[j] -= scaled * q_row[j];
    }
}

typedef struct
{
  float tau_i;
  gsize n_rows, n_out, n, ldf, n_pieces;
  const guint *rows;
  const float *control, *q;
  float *du_i;
} TopDownJob;

static void
top_down_piece (gsize piece, gpointer data)
{
  const TopDownJob *job = data;

  for (gsize r = DISCO_PARALLEL_PIECE_FIRST (piece, job->n_pieces, job->n_rows);
       r < DISCO_PARALLEL_PIECE_LAST (piece, job->n_pieces, job->n_rows); r++)
    top_down_row (job->tau_i, job->n_out, job->n, job->control + r * job->n_out,
                  job->q + (job->rows != NULL ? (gsize) job->rows[r] : r) * job->n_out * job->n,
                  job->du_i + r * job->ldf);
}

/* The rows of disco_top_down_rows_cpu() (@rows NULL) or of its indexed
 * twin, in pieces of rows. */
static void
top_down_in_pieces (float tau_i, gsize n_rows, gsize n_out, gsize n, const guint *rows,
                    const float *control, const float *q, float *du_i, gsize ldf)
{
  TopDownJob job = { tau_i, n_rows, n_out, n, ldf, 1, rows, control, q, du_i };

  if (n_rows == 0 || n_out == 0 || n == 0)
    return;
  job.n_pieces = disco_parallel_pieces (n_rows, PIECE_MIN_PLAIN_VALUES / (n_out * n) + 1,
                                        DISCO_PARALLEL_MAX_PIECES);
  disco_parallel_run (job.n_pieces, top_down_piece, &job);
}

/**
 * disco_top_down_rows_cpu:
 * @tau_i: τ_I (s), > 0
 * @n_rows: B
 * @n_out: O
 * @n: n_l
 * @control: B×O control signals c, contiguous
 * @q: B×O×n feedback weights Q_l, contiguous
 * @du_i: B×n inhibitory derivatives (row stride @ldf), from which
 *   (c·Q_l)/τ_I is subtracted
 * @ldf: row stride of @du_i
 *
 * The top-down input f_l = c·Q_l of every sample (MODEL.md §2), summed over
 * the outputs in order.  (A batched GEMV:
 * each sample has its own Q.)
 */
void
disco_top_down_rows_cpu (float tau_i, gsize n_rows, gsize n_out, gsize n, const float *control,
                         const float *q, float *du_i, gsize ldf)
{
  g_return_if_fail (tau_i > 0.0f);
  CHECK_MATRIX (du_i, n_rows, n, ldf);
  g_return_if_fail (n_rows == 0 || n_out == 0 || n == 0 || (control != NULL && q != NULL));

  top_down_in_pieces (tau_i, n_rows, n_out, n, NULL, control, q, du_i, ldf);
}

/* Columns of disco_slope_scale_rows_cpu() per block of φ′ values. */
#define SLOPE_BLOCK 512

/* y = x ⊙ slope over @width values; @y may be @x (same index only). */
CPU_CLONES static void
scale_columns (gsize width, const float *x, const float *restrict slope, float *y)
{
  for (gsize j = 0; j < width; j++)
    y[j] = x[j] * slope[j];
}

typedef struct
{
  const DiscoSoftRectifier *rect;
  gsize n_samples, n_out, n, ldu, in_stride, n_pieces;
  const float *u, *in;
  float *out;
} SlopeScaleJob;

static void slope_scale_piece (gsize piece, gpointer data);

/**
 * disco_slope_scale_rows_cpu:
 * @rect: φ whose slope scales the columns
 * @n_samples: B
 * @n_out: O
 * @n: n_l, the columns
 * @u: B×n potentials (row stride @ldu)
 * @ldu: row stride of @u
 * @in: the Jacobians: sample s's O×n block at @in + s·@in_stride
 * @in_stride: 0 to use one O×n matrix for every sample (W_out), else O·n
 * @out: B×O×n, written (may be @in)
 *
 * One step of the Jacobian chain (MODEL.md §4): J ← J · diag(φ′(u)) per
 * sample, with φ′ vectorised (disco_softrect_derivative_fast_row(), within
 * 4 ulp of disco_softrect_derivative()).
 */
void
disco_slope_scale_rows_cpu (const DiscoSoftRectifier *rect, gsize n_samples, gsize n_out, gsize n,
                            const float *u, gsize ldu, const float *in, gsize in_stride, float *out)
{
  g_return_if_fail (rect != NULL);
  CHECK_MATRIX (u, n_samples, n, ldu);
  g_return_if_fail (n_samples == 0 || n_out == 0 || n == 0 || (in != NULL && out != NULL));

  if (n_samples > 0 && n_out > 0 && n > 0)
    {
      SlopeScaleJob job = { rect, n_samples, n_out, n, ldu, in_stride, 1, u, in, out };

      job.n_pieces = disco_parallel_pieces (n_samples, PIECE_MIN_PLAIN_VALUES / (n_out * n) + 1,
                                            DISCO_PARALLEL_MAX_PIECES);
      disco_parallel_run (job.n_pieces, slope_scale_piece, &job);
    }
}

/* One sample of disco_slope_scale_rows_cpu(): φ′ of a block of columns
 * once, then each Jacobian row's block scaled by it in a contiguous
 * (vectorised) loop. */
static void
slope_scale_sample (const DiscoSoftRectifier *rect, gsize n_out, gsize n, const float *u,
                    const float *in, float *out)
{
  for (gsize j0 = 0; j0 < n; j0 += SLOPE_BLOCK)
    {
      const gsize width = MIN (SLOPE_BLOCK, n - j0);
      float slope[SLOPE_BLOCK];

      disco_softrect_derivative_fast_row (rect, width, u + j0, slope);
      for (gsize o = 0; o < n_out; o++)
        scale_columns (width, in + o * n + j0, slope, out + o * n + j0);
    }
}

static void
slope_scale_piece (gsize piece, gpointer data)
{
  const SlopeScaleJob *job = data;
  const gsize n = job->n, n_out = job->n_out;

  for (gsize s = DISCO_PARALLEL_PIECE_FIRST (piece, job->n_pieces, job->n_samples);
       s < DISCO_PARALLEL_PIECE_LAST (piece, job->n_pieces, job->n_samples); s++)
    slope_scale_sample (job->rect, n_out, n, job->u + s * job->ldu, job->in + s * job->in_stride,
                        job->out + s * n_out * n);
}

/* sum[j] += x[j], j < n, in double. */
CPU_CLONES static void
add_row_in_double (const float *restrict x, gsize n, double *restrict sum)
{
  for (gsize j = 0; j < n; j++)
    sum[j] += x[j];
}

/* Σ x[i]² in double, in eight interleaved partial sums added up in a fixed
 * order at the end (one running sum is bound by the additions' latency;
 * this vectorises).  The order depends on @n alone. */
CPU_CLONES static double
squares_in_double (const float *restrict x, gsize n)
{
  double part[8] = { 0 }, sum;
  gsize i = 0;

  for (; i + 8 <= n; i += 8)
    for (guint k = 0; k < 8; k++)
      part[k] += (double) x[i + k] * x[i + k];
  sum = ((part[0] + part[1]) + (part[2] + part[3])) + ((part[4] + part[5]) + (part[6] + part[7]));
  for (; i < n; i++)
    sum += (double) x[i] * x[i];
  return sum;
}

typedef struct
{
  gsize n_samples, size;
  gboolean average;
  float clip, norm;
  gsize n_pieces;
  float *q;
} FeedbackJob;

static void
feedback_mean_piece (gsize piece, gpointer data)
{
  const FeedbackJob *job = data;
  const gsize n_samples = job->n_samples, size = job->size;
  float *q = job->q;

  for (gsize i = DISCO_PARALLEL_PIECE_FIRST (piece, job->n_pieces, size);
       i < DISCO_PARALLEL_PIECE_LAST (piece, job->n_pieces, size); i++)
    {
      double sum = 0;

      for (gsize s = 0; s < n_samples; s++)
        sum += q[s * size + i];
      for (gsize s = 0; s < n_samples; s++)
        q[s * size + i] = sum / n_samples;
    }
}

/* One sample's Q (@size values): clipped to [−clip, clip] (clip > 0),
 * then scaled to Frobenius norm @norm (> 0). */
static void
clip_and_normalize (float *qs, gsize size, float clip, float norm)
{
  if (clip > 0)
    for (gsize i = 0; i < size; i++)
      qs[i] = CLAMP (qs[i], -clip, clip);
  if (norm > 0)
    {
      double sum2 = 0;
      float scale;

      sum2 = squares_in_double (qs, size);
      scale = sum2 > 0 ? norm / sqrt (sum2) : 0.0f;
      for (gsize i = 0; i < size; i++)
        qs[i] *= scale;
    }
}

static void
feedback_scale_piece (gsize piece, gpointer data)
{
  const FeedbackJob *job = data;

  for (gsize s = DISCO_PARALLEL_PIECE_FIRST (piece, job->n_pieces, job->n_samples);
       s < DISCO_PARALLEL_PIECE_LAST (piece, job->n_pieces, job->n_samples); s++)
    clip_and_normalize (job->q + s * job->size, job->size, job->clip, job->norm);
}

/**
 * disco_feedback_normalize_cpu:
 * @n_samples: B
 * @size: M = O·n_l, the values of one sample's Q_l
 * @average: replace each sample's Q by the minibatch mean (double sums)
 * @clip: clip every value to [−@clip, @clip] when > 0
 * @norm: scale each sample's Q to this Frobenius norm when > 0 (a zero Q
 *   becomes 0)
 * @q: B×M feedback weights, modified in place
 *
 * The feedback weights' options in the reference's order (MODEL.md §4).
 */
void
disco_feedback_normalize_cpu (gsize n_samples, gsize size, gboolean average, float clip, float norm,
                              float *q)
{
  g_return_if_fail (n_samples == 0 || size == 0 || q != NULL);

  if (n_samples > 0 && size > 0)
    {
      FeedbackJob job = { n_samples, size, average, clip, norm, 1, q };

      /* The mean in pieces of columns, then each sample in pieces of
       * samples: every sum runs in the same order as in one piece. */
      if (average)
        {
          job.n_pieces = disco_parallel_pieces (size, PIECE_MIN_PLAIN_VALUES / n_samples + 1,
                                                DISCO_PARALLEL_MAX_PIECES);
          disco_parallel_run (job.n_pieces, feedback_mean_piece, &job);
        }
      if (clip > 0 || norm > 0)
        {
          job.n_pieces = disco_parallel_pieces (n_samples, PIECE_MIN_PLAIN_VALUES / size + 1,
                                                DISCO_PARALLEL_MAX_PIECES);
          disco_parallel_run (job.n_pieces, feedback_scale_piece, &job);
        }
    }
}

typedef struct
{
  const DiscoSoftRectifier *rect;
  gsize n_samples, n_out, n, ldu, in_stride, n_pieces;
  const float *u, *in;
  float clip, norm;
  float *out;
} FeedbackWeightsJob;

static void
feedback_weights_piece (gsize piece, gpointer data)
{
  const FeedbackWeightsJob *job = data;
  const gsize size = job->n_out * job->n;

  /* Each sample's Q while it is in the L1 cache, instead of one pass over
   * every sample's per operation. */
  for (gsize s = DISCO_PARALLEL_PIECE_FIRST (piece, job->n_pieces, job->n_samples);
       s < DISCO_PARALLEL_PIECE_LAST (piece, job->n_pieces, job->n_samples); s++)
    {
      slope_scale_sample (job->rect, job->n_out, job->n, job->u + s * job->ldu,
                          job->in + s * job->in_stride, job->out + s * size);
      clip_and_normalize (job->out + s * size, size, job->clip, job->norm);
    }
}

/**
 * disco_feedback_weights_rows_cpu:
 * @rect: φ_I, whose slope scales the columns
 * @n_samples: B
 * @n_out: O
 * @n: n_l, the columns
 * @u: B×n inhibitory potentials u_I (row stride @ldu)
 * @ldu: row stride of @u
 * @in: the Jacobians J_l: sample s's O×n block at @in + s·@in_stride
 * @in_stride: 0 to use one O×n matrix for every sample, else O·n
 * @clip: clip each value to [−clip, clip] when > 0
 * @norm: scale each sample's Q to this Frobenius norm when > 0
 * @out: B×O×n, written: Q_l (may be @in)
 *
 * disco_slope_scale_rows_cpu() followed by disco_feedback_normalize_cpu()
 * without averaging, sample by sample (the same values): the feedback
 * weights Q_l = J_l diag(φ_I′(u_I)), clipped and normalised (MODEL.md §4).
 */
void
disco_feedback_weights_rows_cpu (const DiscoSoftRectifier *rect, gsize n_samples, gsize n_out,
                                 gsize n, const float *u, gsize ldu, const float *in,
                                 gsize in_stride, float clip, float norm, float *out)
{
  g_return_if_fail (rect != NULL);
  CHECK_MATRIX (u, n_samples, n, ldu);
  g_return_if_fail (n_samples == 0 || n_out == 0 || n == 0 || (in != NULL && out != NULL));

  if (n_samples > 0 && n_out > 0 && n > 0)
    {
      FeedbackWeightsJob job = { rect, n_samples, n_out, n,    ldu,  in_stride,
                                 1,    u,         in,    clip, norm, out };

      job.n_pieces = disco_parallel_pieces (n_samples, PIECE_MIN_PLAIN_VALUES / (n_out * n) + 1,
                                            DISCO_PARALLEL_MAX_PIECES);
      disco_parallel_run (job.n_pieces, feedback_weights_piece, &job);
    }
}

/* Values per piece of disco_copy_rows_cpu(): a 3×256 minibatch's closed-loop
 * states (100 × 1556) in four, while its other thread would wait. */
#define COPY_PIECE_MIN_VALUES 32768

typedef struct
{
  gsize n_rows, n_cols, ldx, ldy, n_pieces;
  const float *x;
  float *y;
} CopyRowsJob;

static void
copy_rows_piece (gsize piece, gpointer data)
{
  const CopyRowsJob *job = data;

  for (gsize r = DISCO_PARALLEL_PIECE_FIRST (piece, job->n_pieces, job->n_rows);
       r < DISCO_PARALLEL_PIECE_LAST (piece, job->n_pieces, job->n_rows); r++)
    memcpy (job->y + r * job->ldy, job->x + r * job->ldx, job->n_cols * sizeof (float));
}

/**
 * disco_copy_rows_cpu:
 * @n_rows: R
 * @n_cols: C
 * @x: R×C, row stride @ldx
 * @ldx: row stride of @x
 * @y: R×C, written, row stride @ldy; must not overlap @x
 *   (disco_row_blocks_overlap())
 * @ldy: row stride of @y
 *
 * Copies a block of rows between strides (a state's layer to a tensor).
 */
void
disco_copy_rows_cpu (gsize n_rows, gsize n_cols, const float *x, gsize ldx, float *y, gsize ldy)
{
  CHECK_MATRIX (x, n_rows, n_cols, ldx);
  CHECK_MATRIX (y, n_rows, n_cols, ldy);
  if (n_rows == 0 || n_cols == 0)
    return;
  g_return_if_fail (!disco_row_blocks_overlap (n_rows, n_cols, x, ldx, y, ldy));

  {
    CopyRowsJob job = { n_rows, n_cols, ldx, ldy, 1, x, y };

    job.n_pieces = disco_parallel_pieces (n_rows, COPY_PIECE_MIN_VALUES / n_cols + 1,
                                          DISCO_PARALLEL_MAX_PIECES);
    disco_parallel_run (job.n_pieces, copy_rows_piece, &job);
  }
}

/**
 * disco_top_down_rows_indexed_cpu:
 * @tau_i: τ_I (s), > 0
 * @n_rows: A, packed rows
 * @n_out: O
 * @n: n_l
 * @rows: (array length=n_rows): the sample of each packed row
 * @control: A×O control signals c of the packed rows, contiguous
 * @q: B×O×n feedback weights of every sample, contiguous
 * @du_i: A×n inhibitory derivatives (row stride @ldf), from which
 *   (c·Q_l)/τ_I is subtracted
 * @ldf: row stride of @du_i
 *
 * disco_top_down_rows_cpu() for packed rows, each taking its sample's Q
 * (no gather of the feedback weights when the batch shrinks).
 */
void
disco_top_down_rows_indexed_cpu (float tau_i, gsize n_rows, gsize n_out, gsize n, const guint *rows,
                                 const float *control, const float *q, float *du_i, gsize ldf)
{
  g_return_if_fail (tau_i > 0.0f);
  CHECK_MATRIX (du_i, n_rows, n, ldf);
  g_return_if_fail (n_rows == 0 || n_out == 0 || n == 0
                    || (rows != NULL && control != NULL && q != NULL));

  top_down_in_pieces (tau_i, n_rows, n_out, n, rows, control, q, du_i, ldf);
}

/**
 * disco_gather_rows_cpu:
 * @n_rows: R
 * @n_cols: C
 * @rows: (array length=n_rows): the row of @x each row of @y takes
 * @x: rows of C values, row stride @ldx
 * @ldx: row stride of @x
 * @y: R×C, written, row stride @ldy; must not overlap @x
 * @ldy: row stride of @y
 *
 * Packs the rows @rows of @x into @y: what the compacting solver's
 * right-hand sides need of each running sample (its first drive, target,
 * feedback weights), found by the sample's index.
 */
void
disco_gather_rows_cpu (gsize n_rows, gsize n_cols, const guint *rows, const float *x, gsize ldx,
                       float *y, gsize ldy)
{
  g_return_if_fail (ldx >= n_cols && ldy >= n_cols);
  if (n_rows == 0 || n_cols == 0)
    return;
  g_return_if_fail (rows != NULL && x != NULL && y != NULL);

  for (gsize r = 0; r < n_rows; r++)
    memcpy (y + r * ldy, x + (gsize) rows[r] * ldx, n_cols * sizeof (float));
}

/**
 * disco_adam_update_cpu:
 * @n: number of parameters
 * @learning_rate: lr
 * @beta1: β₁, in [0, 1)
 * @beta2: β₂, in [0, 1)
 * @epsilon: ε, added to √v̂
 * @step: t, the number of this update, ≥ 1
 * @p: (array length=n): parameters, updated in place
 * @g: (array length=n): gradients (descended)
 * @m: (array length=n): first moments, updated in place
 * @v: (array length=n): second moments, updated in place
 *
 * One Adam step as optax.adam computes it (MODEL.md §5): the moments, their
 * bias corrections and the parameter update.
 */
/* The update loop, apart so that its pointers are restrict and it is also
 * compiled for AVX2: GCC then vectorises it (sqrtf inline thanks to
 * -fno-math-errno).  With -ffp-contract=off (kernels/meson.build) every
 * lane rounds as the scalar loop does, division and square root included,
 * so the clones agree to the bit. */
CPU_CLONES static void
adam_update_loop (gsize n, float b1, float b2, float one_minus_b1, float one_minus_b2, float lr,
                  float c1, float c2, float eps, float *restrict p, const float *restrict g,
                  float *restrict m, float *restrict v)
{
  for (gsize i = 0; i < n; i++)
    {
      const float mi = b1 * m[i] + one_minus_b1 * g[i];
      const float vi = b2 * v[i] + one_minus_b2 * g[i] * g[i];

      m[i] = mi;
      v[i] = vi;
      p[i] -= lr * (mi / c1) / (sqrtf (vi / c2) + eps);
    }
}

typedef struct
{
  gsize n, n_pieces;
  float b1, b2, one_minus_b1, one_minus_b2, lr, c1, c2, eps;
  float *p;
  const float *g;
  float *m, *v;
} AdamJob;

static void
adam_update_piece (gsize piece, gpointer data)
{
  const AdamJob *job = data;
  const gsize first = DISCO_PARALLEL_PIECE_FIRST (piece, job->n_pieces, job->n);

  adam_update_loop (DISCO_PARALLEL_PIECE_LAST (piece, job->n_pieces, job->n) - first, job->b1,
                    job->b2, job->one_minus_b1, job->one_minus_b2, job->lr, job->c1, job->c2,
                    job->eps, job->p + first, job->g + first, job->m + first, job->v + first);
}

void
disco_adam_update_cpu (gsize n, double learning_rate, double beta1, double beta2, double epsilon,
                       guint64 step, float *p, const float *g, float *m, float *v)
{
  const float b1 = beta1, b2 = beta2, eps = epsilon;
  /* 1 − β in double, then rounded: (1 − 0.999f) in float is off by 1.3e-5
   * relative, where optax gets 0.001 rounded to float. */
  const float one_minus_b1 = 1.0 - beta1, one_minus_b2 = 1.0 - beta2;
  const float lr = learning_rate;
  /* Bias corrections in double: 1 − β₂ᵗ is tiny for small t. */
  const float c1 = 1.0 - pow (beta1, step), c2 = 1.0 - pow (beta2, step);

  g_return_if_fail (step >= 1);
  g_return_if_fail (n == 0 || (p != NULL && g != NULL && m != NULL && v != NULL));

  if (n > 0)
    {
      AdamJob job = { n, 1, b1, b2, one_minus_b1, one_minus_b2, lr, c1, c2, eps, p, g, m, v };

      job.n_pieces = disco_parallel_pieces (n, PIECE_MIN_PLAIN_VALUES, DISCO_PARALLEL_MAX_PIECES);
      disco_parallel_run (job.n_pieces, adam_update_piece, &job);
    }
}

/* ---------------------------------------------------------------------------
 * Plasticity and optimizer steps (disco-kernels.h): what the learning nodes
 * compute through the operations table on the CPU, and the references of
 * their CUDA twins (disco-kernels-cuda-learning.cu).
 * ------------------------------------------------------------------------- */

/* Neurons per block of disco_plasticity_delta_cpu(): 256 bytes of each of
 * u_E, u_I, rate and δ per row, and the block's Taylor lines on the stack. */
#define PLASTICITY_DELTA_BLOCK 64

/**
 * disco_plasticity_delta_cpu:
 * @phi_e: φ_E of the layer
 * @phi_i: φ_I of the layer (used only with @y0)
 * @n_rows: R, samples
 * @n: neurons of the layer (each row holds u_E then u_I, 2·@n values)
 * @u: (array): the closed-loop state of the layer, R rows, stride @ldu
 * @ldu: row stride of @u, ≥ 2·@n
 * @y0: (nullable) (array length=n): the linear-threshold rule's running
 *   rates, or %NULL for the exact-inverse rule
 * @rate: (array): r_E = φ_E(u_E), R×@n, stride @ldr (the next layer's input)
 * @ldr: row stride of @rate
 * @delta: (array): δ, R×@n, stride @ldd
 * @ldd: row stride of @delta
 *
 * The per-sample error of a microcircuit layer (MODEL.md §6):
 * δ = (φ̂_I⁻¹ − r_E) ⊙ φ_E′(u_E), where φ̂_I⁻¹ is u_I itself (exact inverse;
 * φ_I⁻¹(φ_I(u_I)) = u_I) or the Taylor line of φ_I⁻¹ around y₀ applied to
 * r_I = φ_I(u_I) (linear threshold).
 */
void
disco_plasticity_delta_cpu (const DiscoSoftRectifier *phi_e, const DiscoSoftRectifier *phi_i,
                            gsize n_rows, gsize n, const float *u, gsize ldu, const float *y0,
                            float *rate, gsize ldr, float *delta, gsize ldd)
{
  g_return_if_fail (phi_e != NULL && (y0 == NULL || phi_i != NULL));
  g_return_if_fail (ldu >= 2 * n && ldr >= n && ldd >= n);
  g_return_if_fail (n_rows == 0 || n == 0 || (u != NULL && rate != NULL && delta != NULL));

  /* A block of neurons at a time: their Taylor lines once, then the block
   * row by row, since the rows of the packed state lie far apart (a
   * column walk misses the cache on every sample). */
  for (gsize j0 = 0; j0 < n; j0 += PLASTICITY_DELTA_BLOCK)
    {
      const gsize width = MIN (PLASTICITY_DELTA_BLOCK, n - j0);
      float a[PLASTICITY_DELTA_BLOCK] = { 0 }, b[PLASTICITY_DELTA_BLOCK] = { 0 };

      for (gsize k = 0; y0 != NULL && k < width; k++)
        disco_softrect_taylor_line (phi_i, y0[j0 + k], &a[k], &b[k]);
      for (gsize s = 0; s < n_rows; s++)
        for (gsize k = 0; k < width; k++)
          {
            const gsize j = j0 + k;
            const float u_e = u[s * ldu + j], u_i = u[s * ldu + n + j];
            const float r_e = disco_softrect_forward (phi_e, u_e);
            const float inverse =
                y0 != NULL ? a[k] + b[k] * disco_softrect_forward (phi_i, u_i) : u_i;

            rate[s * ldr + j] = r_e;
            delta[s * ldd + j] = (inverse - r_e) * disco_softrect_derivative (phi_e, u_e);
          }
    }
}

/**
 * disco_threshold_update_cpu:
 * @phi_i: φ_I of the layer
 * @lambda: λ, the weight of this minibatch, in [0, 1]
 * @n_rows: R, samples
 * @n: neurons
 * @u_i: (array): the open-loop inhibitory potentials, R×@n, stride @ldu
 * @ldu: row stride of @u_i
 * @y0: (array length=n): the running rates, updated in place
 *
 * The linear-threshold rule's running average (MODEL.md §6):
 * y₀ ← (1 − λ)·y₀ + λ·mean_batch(φ_I(u_I)), the mean summed in double.
 */
void
disco_threshold_update_cpu (const DiscoSoftRectifier *phi_i, float lambda, gsize n_rows, gsize n,
                            const float *u_i, gsize ldu, float *y0)
{
  g_return_if_fail (phi_i != NULL && n_rows > 0 && ldu >= n);
  g_return_if_fail (n == 0 || (u_i != NULL && y0 != NULL));

  for (gsize j = 0; j < n; j++)
    {
      double mean = 0;

      for (gsize s = 0; s < n_rows; s++)
        mean += disco_softrect_forward (phi_i, u_i[s * ldu + j]);
      y0[j] = (1.0f - lambda) * y0[j] + lambda * (float) (mean / n_rows);
    }
}

/**
 * disco_column_mean_cpu:
 * @n_rows: R, > 0
 * @n_cols: C
 * @x: (array): R×C, stride @ldx
 * @ldx: row stride of @x
 * @mean: (array length=n_cols): Σ_s x[s, j] / R, summed in double
 *
 * The batch mean of each column (a bias gradient, g_b = mean δ).
 */
void
disco_column_mean_cpu (gsize n_rows, gsize n_cols, const float *x, gsize ldx, float *mean)
{
  enum
  {
    CHUNK = 256
  };

  g_return_if_fail (n_rows > 0 && ldx >= n_cols);
  g_return_if_fail (n_cols == 0 || (x != NULL && mean != NULL));

  /* Row after row into CHUNK sums side by side (each column still adds its
   * rows in order: the same values as one column at a time, without a
   * strided walk whose additions wait on each other). */
  for (gsize first = 0; first < n_cols; first += CHUNK)
    {
      const gsize m = MIN (CHUNK, n_cols - first);
      double sum[CHUNK] = { 0 };

      for (gsize s = 0; s < n_rows; s++)
        add_row_in_double (x + s * ldx + first, m, sum);
      for (gsize j = 0; j < m; j++)
        mean[first + j] = sum[j] / n_rows;
    }
}

/**
 * disco_sub_rows_cpu:
 * @n_rows: R
 * @n_cols: C
 * @x: (array): R×C, stride @ldx
 * @ldx: row stride of @x
 * @y: (array): R×C, stride @ldy, y −= x in place
 * @ldy: row stride of @y
 *
 * Element-wise y − x on a strided block (the readout's δ_out = W_out r_L − y,
 * with y a column block of the packed state).
 */
void
disco_sub_rows_cpu (gsize n_rows, gsize n_cols, const float *x, gsize ldx, float *y, gsize ldy)
{
  g_return_if_fail (ldx >= n_cols && ldy >= n_cols);
  g_return_if_fail (n_rows == 0 || n_cols == 0 || (x != NULL && y != NULL));

  for (gsize s = 0; s < n_rows; s++)
    for (gsize j = 0; j < n_cols; j++)
      y[s * ldy + j] -= x[s * ldx + j];
}

/* Values per piece of disco_sum_squares_cpu(): a 1×256 weight gradient
 * (200,704 values, 0.8 MiB) in four. */
#define SQUARES_PIECE_MIN_VALUES 32768

typedef struct
{
  gsize n, n_pieces;
  const float *x;
  double sums[DISCO_PARALLEL_MAX_PIECES];
} SquaresJob;

static void
squares_piece (gsize piece, gpointer data)
{
  SquaresJob *job = data;
  const gsize first = DISCO_PARALLEL_PIECE_FIRST (piece, job->n_pieces, job->n);

  job->sums[piece] = squares_in_double (
      job->x + first, DISCO_PARALLEL_PIECE_LAST (piece, job->n_pieces, job->n) - first);
}

/**
 * disco_sum_squares_cpu:
 * @n: values
 * @x: (array length=n): the values
 * @acc: (inout): a running sum in double, to which Σ x² is added
 *
 * Adds Σ x² (in double, in eight interleaved partial sums per piece of at
 * least 32768 values, the pieces' sums then added in order: the order
 * depends on @n alone, and the pieces run on disco-parallel's threads) to
 * one running double, so that several tensors (all gradients of a tick) sum
 * into one norm.
 */
void
disco_sum_squares_cpu (gsize n, const float *x, double *acc)
{
  SquaresJob job = { n, 1, x, { 0 } };
  double sum;

  g_return_if_fail (acc != NULL && (n == 0 || x != NULL));

  job.n_pieces = disco_parallel_pieces (n, SQUARES_PIECE_MIN_VALUES, DISCO_PARALLEL_MAX_PIECES);
  disco_parallel_run (job.n_pieces, squares_piece, &job);
  sum = *acc;
  for (gsize piece = 0; piece < job.n_pieces; piece++)
    sum += job.sums[piece];
  *acc = sum;
}

/**
 * disco_norm_finish_cpu:
 * @acc: (inout): a sum of squares from disco_sum_squares_cpu(); reset to 0
 * @norm: (out): √@acc, rounded to float
 *
 * Ends a norm: the root of the running sum, which is then zeroed so that the
 * next tick's sum starts afresh without a separate fill.
 */
void
disco_norm_finish_cpu (double *acc, float *norm)
{
  g_return_if_fail (acc != NULL && norm != NULL);

  *norm = sqrt (*acc);
  *acc = 0;
}

/**
 * disco_sgd_update_cpu:
 * @n: number of parameters
 * @learning_rate: lr
 * @momentum: μ (0: plain gradient descent)
 * @step: t, the number of this update, ≥ 1
 * @p: (array length=n): parameters, updated in place
 * @g: (array length=n): gradients (descended)
 * @velocity: (array length=n): the momentum buffer b, updated in place
 *
 * One momentum-SGD step, PyTorch's convention with dampening 0: b = g at
 * the first step (so a fresh buffer needs no fill), else b ← μ·b + g; then
 * p ← p − lr·b.  lr and μ are rounded to float once.
 */
void
disco_sgd_update_cpu (gsize n, double learning_rate, double momentum, guint64 step, float *p,
                      const float *g, float *velocity)
{
  const float lr = learning_rate, mu = momentum;

  g_return_if_fail (step >= 1);
  g_return_if_fail (n == 0 || (p != NULL && g != NULL && velocity != NULL));

  for (gsize i = 0; i < n; i++)
    {
      velocity[i] = step == 1 ? g[i] : mu * velocity[i] + g[i];
      p[i] -= lr * velocity[i];
    }
}
