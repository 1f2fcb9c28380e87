/* disco-kernels.h: the numerical operations of Disco, one plain-C contract.
 *
 * SECTION:disco-kernels
 * @title: Kernels
 * @short_description: float32 operations behind one header, CPU reference first
 *
 * Every operation exists as `disco_<op>_cpu` (this file set, the reference)
 * and as `disco_<op>_cuda` with the same signature on device pointers
 * (disco-kernels-cuda.h).  The operations of the #DiscoOps tables are
 * declared and documented once, in disco-ops-list.h; their CPU prototypes
 * are generated at the end of this file.  The rest (helpers the tables do
 * not carry, the fast variants) are declared here.
 * Operations never allocate; preconditions are programmer errors and are
 * checked with g_return_if_fail().  Reductions accumulate in double so that a
 * row of a few thousand floats sums without visible rounding drift, then
 * round the result to float.
 *
 * Shape legend (all arrays are float32 and row-major):
 *   R      = rows, one per sample of the (compacted) batch
 *   C      = columns of the block being worked on (neurons, state entries)
 *   ld*    = row stride in elements (>= C), so that an operation can work on a
 *            column block of a wider matrix, e.g. one layer's potentials inside
 *            the packed network state whose rows hold every layer side by side
 *   S      = number of Runge-Kutta stages combined
 */

#pragma once

#include <math.h>
#include <glib.h>

#include "disco-ops-list.h"
#include "disco/disco-error.h"

/**
 * DISCO_KERNELS_ERROR:
 *
 * The error domain of the kernels, the operations tables, the CUDA backend
 * and the solvers: libdisco's one domain, %DISCO_ERROR, named by its
 * quark's string because they do not link libdisco; the codes are #DiscoError's
 * (%DISCO_ERROR_BAD_VALUE for a bad configuration, %DISCO_ERROR_MEMORY for
 * an allocation, %DISCO_ERROR_FAILED for a right-hand side that failed
 * without saying why).
 */
#define DISCO_KERNELS_ERROR (g_quark_from_static_string ("disco-error-quark"))

G_BEGIN_DECLS

/* The scalar functions below are compiled for the GPU too: the CUDA kernels
 * (disco-kernels-cuda.cu) call these very lines, so the two implementations
 * share one formula and differ only in the maths library's rounding. */
#ifdef __CUDACC__
#define DISCO_KERNEL_INLINE __host__ __device__ static inline
#else
#define DISCO_KERNEL_INLINE static inline
#endif

/* ---------------------------------------------------------------------------
 * Dense matrix product: disco_gemm_cpu() (disco-ops-list.h), and a batch
 * of them that the tables do not carry
 * ------------------------------------------------------------------------- */

/* Strided batch of independent products of one shape (a per-sample Jacobian
 * chain, MODEL.md §4): for i < batch,
 *   C_i = alpha · op(A_i) · op(B_i) + beta · C_i,
 *   X_i = X + i · stride_x (elements); a stride of 0 shares one matrix. */
void disco_gemm_strided_batched_cpu (gboolean trans_a, gboolean trans_b, gsize m, gsize n, gsize k,
                                     float alpha, const float *a, gsize lda, gsize stride_a,
                                     const float *b, gsize ldb, gsize stride_b, float beta,
                                     float *c, gsize ldc, gsize stride_c, gsize batch);

/* ---------------------------------------------------------------------------
 * GEMM accounting: how much of a run is spent in disco_gemm_cpu()
 *
 * Off by default; on after disco_gemm_stats_set_enabled (TRUE) or when the
 * environment variable DISCO_GEMM_STATS is set to a non-empty value other
 * than "0" at the first GEMM.  Off, it costs one predictable branch per
 * call; on, two clock reads and three atomic additions.  The counters are
 * process-wide and may be updated from several threads.
 * ------------------------------------------------------------------------- */

/**
 * DiscoGemmStats:
 * @calls: disco_gemm_cpu() calls that did work (m, n > 0)
 * @flops: 2·m·n·k summed over those calls
 * @seconds: wall time spent inside them (monotonic clock)
 *
 * What the GEMM counters have seen since the last reset.
 */
typedef struct
{
  guint64 calls;
  double flops;
  double seconds;
} DiscoGemmStats;

void disco_gemm_stats_set_enabled (gboolean enabled);
gboolean disco_gemm_stats_get_enabled (void);
void disco_gemm_stats_get (DiscoGemmStats *stats);
void disco_gemm_stats_reset (void);

/* ---------------------------------------------------------------------------
 * BLAS threads
 *
 * OpenBLAS's thread count is process-wide.  The network GEMMs are small
 * (A ≤ batch rows, a few hundred columns), the element-wise work between
 * them runs on one core, and OpenBLAS's workers spin between calls: on a
 * 2-core machine a second thread gained about 10 % on an idle machine and
 * lost up to several times while another process used the other core.
 * disco_blas_apply_thread_policy() is what Disco's solver users call once;
 * it never overrides a count the user chose (see its documentation).
 * ------------------------------------------------------------------------- */

/**
 * DISCO_BLAS_DEFAULT_THREADS:
 *
 * The BLAS thread count disco_blas_apply_thread_policy() sets when nobody
 * chose one: 1 (measured with tools/disco-bench-solve).
 */
#define DISCO_BLAS_DEFAULT_THREADS 1

guint disco_blas_get_threads (void);
void disco_blas_set_threads (guint n_threads);
guint disco_blas_apply_thread_policy (void);

/* ---------------------------------------------------------------------------
 * Parameterised soft rectifier (MODEL.md §1)
 *
 *   φ(x)   = s · log(1 + exp(β(x − θ)))
 *   φ′(x)  = s · β · sigmoid(β(x − θ))
 *   φ⁻¹(y) = θ + log(expm1(y/s)) / β,   with log(expm1(z)) → z for z > 50
 *   Taylor line of φ⁻¹ around a rate y₀:  φ̂⁻¹(r) = a + b·r,
 *     b = 1 / φ′(φ⁻¹(y₀)),  a = φ⁻¹(y₀) − y₀·b
 *
 *   Arrays: x, y are R×C with strides ldx, ldy; x == y (same stride) is
 *   allowed, so layers can be rectified in place.
 * ------------------------------------------------------------------------- */

/**
 * DiscoSoftRectifier:
 * @scale: s, the output scale (> 0)
 * @sharpness: β, the sharpness of the knee (> 0)
 * @shift: θ, where the knee sits on the input axis
 *
 * Parameters of φ(x) = s·log(1 + exp(β(x − θ))) (MODEL.md §1).
 * #DISCO_SOFT_RECTIFIER_SOFTPLUS gives plain softplus (1, 1, 0).
 */
typedef struct
{
  float scale;
  float sharpness;
  float shift;
} DiscoSoftRectifier;

/**
 * DISCO_SOFT_RECTIFIER_SOFTPLUS:
 *
 * The default rectifier of the model, softplus: s = 1, β = 1, θ = 0.
 */
#define DISCO_SOFT_RECTIFIER_SOFTPLUS ((DiscoSoftRectifier){ 1.0f, 1.0f, 0.0f })

/* Above this value of y/s, log(expm1(y/s)) equals y/s to far below float
 * precision (the difference is log1p(−e^{−50}) ≈ −2e−22), and expm1 would
 * overflow soon after; MODEL.md §1 and the reference switch here. */
#define DISCO_SOFTRECT_INVERSE_LINEAR_ABOVE 50.0f

/* log1p(e) for e ≥ 0 from logf, which is about twice as fast as glibc's
 * log1pf: where 1 + e rounds to u, log(u)·e/(u − 1) is log1p(e) to a few
 * ulps (Goldberg, "What every computer scientist should know about
 * floating-point arithmetic", Theorem 4).  φ is evaluated for every neuron
 * at every solver stage, so its cost rivals the GEMMs'. */
DISCO_KERNEL_INLINE float
_disco_softrect_log1p (float e)
{
  float u = 1.0f + e;

  return u == 1.0f ? e : logf (u) * (e / (u - 1.0f));
}

/**
 * disco_softrect_forward:
 * @rect: the rectifier parameters
 * @x: the input (a membrane potential)
 *
 * φ(x), computed as s·(max(z, 0) + log1p(exp(−|z|))) with z = β(x − θ),
 * which neither overflows for large z nor loses the tail for very negative z.
 *
 * Returns: the rate φ(x) ≥ 0
 */
DISCO_KERNEL_INLINE float
disco_softrect_forward (const DiscoSoftRectifier *rect, float x)
{
  float z = rect->sharpness * (x - rect->shift);

  return rect->scale * ((z > 0.0f ? z : 0.0f) + _disco_softrect_log1p (expf (-fabsf (z))));
}

/**
 * disco_softrect_derivative:
 * @rect: the rectifier parameters
 * @x: the input (a membrane potential)
 *
 * φ′(x) = s·β·sigmoid(β(x − θ)), with the sigmoid evaluated on the side
 * where exp() cannot overflow.
 *
 * Returns: the slope of φ at @x
 */
DISCO_KERNEL_INLINE float
disco_softrect_derivative (const DiscoSoftRectifier *rect, float x)
{
  float z = rect->sharpness * (x - rect->shift);
  float sigmoid;

  if (z >= 0.0f)
    sigmoid = 1.0f / (1.0f + expf (-z));
  else
    {
      float e = expf (z);
      sigmoid = e / (1.0f + e);
    }

  return rect->scale * rect->sharpness * sigmoid;
}

/**
 * disco_softrect_inverse:
 * @rect: the rectifier parameters
 * @y: a rate, > 0 (φ never reaches 0, so y ≤ 0 gives −inf or NaN)
 *
 * φ⁻¹(y) = θ + log(expm1(y/s))/β.  For y/s above 50, log(expm1(y/s)) is
 * replaced by y/s inside the formula, so the branch stays continuous for
 * every θ and β.  (The reference code returns plain y/s there, which agrees
 * only for θ = 0, β = 1; rates above 50·s do not occur in the paper's runs.)
 *
 * Returns: the potential x with φ(x) = @y
 */
DISCO_KERNEL_INLINE float
disco_softrect_inverse (const DiscoSoftRectifier *rect, float y)
{
  float z = y / rect->scale;
  float log_expm1_z;

  if (z > DISCO_SOFTRECT_INVERSE_LINEAR_ABOVE)
    log_expm1_z = z;
  else
    log_expm1_z = logf (expm1f (z));

  return rect->shift + log_expm1_z / rect->sharpness;
}

/**
 * disco_softrect_taylor_line:
 * @rect: the rectifier parameters
 * @y0: the rate to linearise φ⁻¹ around, > 0
 * @intercept: (out): a
 * @slope: (out): b
 *
 * The first-order Taylor expansion of φ⁻¹ around @y0 (MODEL.md §1, used by
 * the linear-threshold rule of §6): φ̂⁻¹(r) = a + b·r with
 * b = 1/φ′(φ⁻¹(y₀)) and a = φ⁻¹(y₀) − y₀·b.  For softplus and y₀ = 0.8 this
 * gives b ≈ 1.816, a ≈ −1.249.
 */
DISCO_KERNEL_INLINE void
disco_softrect_taylor_line (const DiscoSoftRectifier *rect, float y0, float *intercept,
                            float *slope)
{
  float x0 = disco_softrect_inverse (rect, y0);
  float b = 1.0f / disco_softrect_derivative (rect, x0);

  *slope = b;
  *intercept = x0 - y0 * b;
}

void disco_softrect_derivative_cpu (const DiscoSoftRectifier *rect, gsize n_rows, gsize n_cols,
                                    const float *x, gsize ldx, float *y, gsize ldy);

void disco_softrect_inverse_cpu (const DiscoSoftRectifier *rect, gsize n_rows, gsize n_cols,
                                 const float *x, gsize ldx, float *y, gsize ldy);

/* ---------------------------------------------------------------------------
 * Fast element-wise kernels (disco-kernels-fast.c)
 *
 * Vectorised versions of the element-wise work of the network solve.
 * Their φ is a polynomial exp/log1p pair within 4 ulp of
 * disco_softrect_forward(), the reference (1e−30 absolute in the subnormal
 * tail); everything else is the same float arithmetic as the plain loops,
 * and the Runge-Kutta kernels are bit-identical to theirs.  Each kernel is
 * compiled for the build's baseline and, on x86, for AVX2+FMA, picked at
 * run time.
 *
 *   softrect_forward_fast:   y = φ(x), as disco_softrect_forward_cpu()
 *   rk_combine_fast:         disco_rk_combine_cpu(), out apart from y0
 *   rms_rows_fast:           disco_rms_rows_cpu()
 *
 * disco_rk_embedded_error_norm_cpu() and disco_microcircuit_rhs_cpu() live
 * in that file too; they are table operations (disco-ops-list.h).
 * ------------------------------------------------------------------------- */

/**
 * DiscoCpuPath:
 * @DISCO_CPU_PATH_GENERIC: the build's baseline instruction set
 * @DISCO_CPU_PATH_AVX2: AVX2 with FMA (x86 CPUs that have both)
 *
 * Which compiled version of the fast kernels runs.
 */
typedef enum
{
  DISCO_CPU_PATH_GENERIC,
  DISCO_CPU_PATH_AVX2,
} DiscoCpuPath;

DiscoCpuPath disco_cpu_path_get (void);
gboolean disco_cpu_path_set (DiscoCpuPath path);

void disco_softrect_forward_fast_cpu (const DiscoSoftRectifier *rect, gsize n_rows, gsize n_cols,
                                      const float *x, gsize ldx, float *y, gsize ldy);

void disco_softrect_derivative_fast_row (const DiscoSoftRectifier *rect, gsize n, const float *x,
                                         float *y);

void disco_rk_combine_fast_cpu (gsize n_rows, gsize n_cols, gsize ld, const float *y0,
                                const float *h, guint n_stages, const float *coeffs,
                                const float *const *k, float *out);

void disco_rms_rows_fast_cpu (gsize n_rows, gsize n_cols, const float *x, gsize ldx, float *rms);
void disco_plasticity_delta_fast_cpu (const DiscoSoftRectifier *phi_e,
                                      const DiscoSoftRectifier *phi_i, gsize n_rows, gsize n,
                                      const float *u, gsize ldu, const float *y0, float *rate,
                                      gsize ldr, float *delta, gsize ldd);
void disco_threshold_update_fast_cpu (const DiscoSoftRectifier *phi_i, float lambda, gsize n_rows,
                                      gsize n, const float *u_i, gsize ldu, float *y0);

/* ---------------------------------------------------------------------------
 * Row-wise helpers
 *
 *   axpy_rows:    y[r, :] += alpha[r] · x[r, :]        alpha: R, x, y: R×C
 *   rms_rows:     rms[r]   = sqrt(mean_c x[r, c]²)     (MODEL.md §5 norm)
 * ------------------------------------------------------------------------- */

void disco_axpy_rows_cpu (gsize n_rows, gsize n_cols, const float *alpha, const float *x, gsize ldx,
                          float *y, gsize ldy);

void disco_rms_rows_cpu (gsize n_rows, gsize n_cols, const float *x, gsize ldx, float *rms);

/* ---------------------------------------------------------------------------
 * Runge-Kutta stage algebra with one step size per row (MODEL.md §5: every
 * sample is integrated on its own clock)
 *
 *   rk_combine:    (disco-ops-list.h) the stage combination
 *   rk_error_norm: norm[r] = RMS_c ( err[r, c] / (atol + rtol · max(|y0[r, c]|,
 *                  |y1[r, c]|)) )  (Hairer's scaled error; Diffrax's PID
 *                  controller form)
 *
 *   y0, y1, err, out and every k_s are R×C sharing the row stride ld;
 *   h and norm hold R values; k holds S pointers.
 * ------------------------------------------------------------------------- */

void disco_rk_error_norm_cpu (gsize n_rows, gsize n_cols, gsize ld, float atol, float rtol,
                              const float *y0, const float *y1, const float *err, float *norm);

/* The stage combination fused with the activation (one pass instead of
 * two when a stage input's rates are needed right away):
 *   out[r, :]  = y0[r, :] + h[r] · Σ_s coeffs[s] · k_s[r, :]   (as rk_combine)
 *   rate[r, :] = φ(out[r, :])                         rate: R×C, stride ldr */
void disco_rk_combine_softrect_cpu (const DiscoSoftRectifier *rect, gsize n_rows, gsize n_cols,
                                    gsize ld, const float *y0, const float *h, guint n_stages,
                                    const float *coeffs, const float *const *k, float *out,
                                    float *rate, gsize ldr);

/* copy_rows (disco-ops-list.h) refuses overlapping blocks: */

/**
 * disco_row_blocks_overlap:
 * @n_rows: R, > 0
 * @n_cols: C, > 0
 * @x: an R×C block, row stride @ldx
 * @ldx: its row stride
 * @y: another R×C block, row stride @ldy
 * @ldy: its row stride
 *
 * Whether the memory the two blocks span (first to last element) meets:
 * copy_rows runs its elements in any order on CUDA, so it refuses such
 * blocks on both backends.
 *
 * Returns: %TRUE when the spans overlap
 */
static inline gboolean
disco_row_blocks_overlap (gsize n_rows, gsize n_cols, const float *x, gsize ldx, const float *y,
                          gsize ldy)
{
  const guintptr x_begin = (guintptr) x, y_begin = (guintptr) y;
  const guintptr x_end = x_begin + ((n_rows - 1) * ldx + n_cols) * sizeof (float);
  const guintptr y_end = y_begin + ((n_rows - 1) * ldy + n_cols) * sizeof (float);

  return x_begin < y_end && y_begin < x_end;
}

/* The CPU kernels of the table operations, disco_<op>_cpu (disco-ops-list.h
 * documents each). */
DISCO_OPS_LIST_KERNELS (DISCO_OPS_CPU_PROTOTYPE)

G_END_DECLS
