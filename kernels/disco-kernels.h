/* disco-kernels.h: the numerical operations of Disco, one plain-C contract.
 *
 * SECTION:disco-kernels
 * @title: Kernels
 * @short_description: float32 operations behind one header, CPU reference first
 *
 * Every operation exists as `disco_<op>_cpu` (this file set, the reference)
 * and later as `disco_<op>_cuda` with the same signature on device pointers.
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
 * Dense matrix product (MODEL.md §2 drives W_l·r^{l−1}, readout W_out·r^L
 * and feedback c·Q_l; §4 Jacobian chains; §6 outer products δ·rᵀ)
 *
 *   C[M×N] = alpha · op(A)[M×K] · op(B)[K×N] + beta · C
 *
 *   A is stored M×K (lda >= K), or K×M (lda >= M) when trans_a is set;
 *   B is stored K×N (ldb >= N), or N×K (ldb >= K) when trans_b is set.
 * ------------------------------------------------------------------------- */

void disco_gemm_cpu (gboolean     trans_a,
                     gboolean     trans_b,
                     gsize        m,
                     gsize        n,
                     gsize        k,
                     float        alpha,
                     const float *a,
                     gsize        lda,
                     const float *b,
                     gsize        ldb,
                     float        beta,
                     float       *c,
                     gsize        ldc);

/* Strided batch of independent products of one shape (a per-sample Jacobian
 * chain, MODEL.md §4): for i < batch,
 *   C_i = alpha · op(A_i) · op(B_i) + beta · C_i,
 *   X_i = X + i · stride_x (elements); a stride of 0 shares one matrix. */
void disco_gemm_strided_batched_cpu (gboolean     trans_a,
                                     gboolean     trans_b,
                                     gsize        m,
                                     gsize        n,
                                     gsize        k,
                                     float        alpha,
                                     const float *a,
                                     gsize        lda,
                                     gsize        stride_a,
                                     const float *b,
                                     gsize        ldb,
                                     gsize        stride_b,
                                     float        beta,
                                     float       *c,
                                     gsize        ldc,
                                     gsize        stride_c,
                                     gsize        batch);

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
  double  flops;
  double  seconds;
} DiscoGemmStats;

void     disco_gemm_stats_set_enabled (gboolean        enabled);
gboolean disco_gemm_stats_get_enabled (void);
void     disco_gemm_stats_get         (DiscoGemmStats *stats);
void     disco_gemm_stats_reset       (void);

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

guint disco_blas_get_threads         (void);
void  disco_blas_set_threads         (guint n_threads);
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
#define DISCO_SOFT_RECTIFIER_SOFTPLUS \
  ((DiscoSoftRectifier) { 1.0f, 1.0f, 0.0f })

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
disco_softrect_forward (const DiscoSoftRectifier *rect,
                        float                     x)
{
  float z = rect->sharpness * (x - rect->shift);

  return rect->scale
         * ((z > 0.0f ? z : 0.0f) + _disco_softrect_log1p (expf (-fabsf (z))));
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
disco_softrect_derivative (const DiscoSoftRectifier *rect,
                           float                     x)
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
disco_softrect_inverse (const DiscoSoftRectifier *rect,
                        float                     y)
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
disco_softrect_taylor_line (const DiscoSoftRectifier *rect,
                            float                     y0,
                            float                    *intercept,
                            float                    *slope)
{
  float x0 = disco_softrect_inverse (rect, y0);
  float b = 1.0f / disco_softrect_derivative (rect, x0);

  *slope = b;
  *intercept = x0 - y0 * b;
}

void disco_softrect_forward_cpu    (const DiscoSoftRectifier *rect,
                                    gsize                     n_rows,
                                    gsize                     n_cols,
                                    const float              *x,
                                    gsize                     ldx,
                                    float                    *y,
                                    gsize                     ldy);

void disco_softrect_derivative_cpu (const DiscoSoftRectifier *rect,
                                    gsize                     n_rows,
                                    gsize                     n_cols,
                                    const float              *x,
                                    gsize                     ldx,
                                    float                    *y,
                                    gsize                     ldy);

void disco_softrect_inverse_cpu    (const DiscoSoftRectifier *rect,
                                    gsize                     n_rows,
                                    gsize                     n_cols,
                                    const float              *x,
                                    gsize                     ldx,
                                    float                    *y,
                                    gsize                     ldy);

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
 *   rk_embedded_error_norm:  disco_rk_combine_cpu() with y0 = NULL (the
 *                            error estimate, never stored) followed by
 *                            disco_rk_error_norm_cpu(), S = 7
 *   rms_rows_fast:           disco_rms_rows_cpu()
 *   microcircuit_rhs:        one microcircuit layer's open-loop derivatives
 *                            and rates (MODEL.md §2), R rows of state laid
 *                            out u_E (n) | u_I (n)
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
gboolean     disco_cpu_path_set (DiscoCpuPath path);

void disco_softrect_forward_fast_cpu  (const DiscoSoftRectifier *rect,
                                       gsize                     n_rows,
                                       gsize                     n_cols,
                                       const float              *x,
                                       gsize                     ldx,
                                       float                    *y,
                                       gsize                     ldy);

void disco_rk_combine_fast_cpu        (gsize               n_rows,
                                       gsize               n_cols,
                                       gsize               ld,
                                       const float        *y0,
                                       const float        *h,
                                       guint               n_stages,
                                       const float        *coeffs,
                                       const float *const *k,
                                       float              *out);

void disco_rk_embedded_error_norm_cpu (gsize               n_rows,
                                       gsize               n_cols,
                                       gsize               ld,
                                       float               atol,
                                       float               rtol,
                                       const float        *y0,
                                       const float        *y1,
                                       const float        *h,
                                       guint               n_stages,
                                       const float        *e,
                                       const float *const *k,
                                       float              *norm);

void disco_rms_rows_fast_cpu          (gsize        n_rows,
                                       gsize        n_cols,
                                       const float *x,
                                       gsize        ldx,
                                       float       *rms);

void disco_microcircuit_rhs_cpu       (const DiscoSoftRectifier *phi_e,
                                       const DiscoSoftRectifier *phi_i,
                                       float                     tau_e,
                                       float                     tau_i,
                                       gsize                     n_rows,
                                       gsize                     n,
                                       const float              *u,
                                       gsize                     ldu,
                                       const float              *drive,
                                       gsize                     ldd,
                                       const guint              *drive_rows,
                                       const float              *bias,
                                       float                    *rate,
                                       gsize                     ldr,
                                       float                    *dudt,
                                       gsize                     ldf);

/* ---------------------------------------------------------------------------
 * Row-wise helpers
 *
 *   axpy_rows:    y[r, :] += alpha[r] · x[r, :]        alpha: R, x, y: R×C
 *   softmax_rows: y[r, :]  = softmax(x[r, :])          (MODEL.md §3 error)
 *   rms_rows:     rms[r]   = sqrt(mean_c x[r, c]²)     (MODEL.md §5 norm)
 * ------------------------------------------------------------------------- */

void disco_axpy_rows_cpu    (gsize        n_rows,
                             gsize        n_cols,
                             const float *alpha,
                             const float *x,
                             gsize        ldx,
                             float       *y,
                             gsize        ldy);

void disco_softmax_rows_cpu (gsize        n_rows,
                             gsize        n_cols,
                             const float *x,
                             gsize        ldx,
                             float       *y,
                             gsize        ldy);

void disco_rms_rows_cpu     (gsize        n_rows,
                             gsize        n_cols,
                             const float *x,
                             gsize        ldx,
                             float       *rms);

/* ---------------------------------------------------------------------------
 * Runge-Kutta stage algebra with one step size per row (MODEL.md §5: every
 * sample is integrated on its own clock)
 *
 *   rk_combine:    out[r, :] = y0[r, :] + h[r] · Σ_s coeffs[s] · k_s[r, :]
 *                  (y0 may be NULL, meaning zero: that gives the embedded
 *                  error estimate h·Σ e_s k_s)
 *   rk_error_norm: norm[r] = RMS_c ( err[r, c] / (atol + rtol · max(|y0[r, c]|,
 *                  |y1[r, c]|)) )  (Hairer's scaled error; Diffrax's PID
 *                  controller form)
 *
 *   y0, y1, err, out and every k_s are R×C sharing the row stride ld;
 *   h and norm hold R values; k holds S pointers.
 * ------------------------------------------------------------------------- */

void disco_rk_combine_cpu    (gsize               n_rows,
                              gsize               n_cols,
                              gsize               ld,
                              const float        *y0,
                              const float        *h,
                              guint               n_stages,
                              const float        *coeffs,
                              const float *const *k,
                              float              *out);

void disco_rk_error_norm_cpu (gsize        n_rows,
                              gsize        n_cols,
                              gsize        ld,
                              float        atol,
                              float        rtol,
                              const float *y0,
                              const float *y1,
                              const float *err,
                              float       *norm);

/* The stage combination fused with the activation (one pass instead of
 * two when a stage input's rates are needed right away):
 *   out[r, :]  = y0[r, :] + h[r] · Σ_s coeffs[s] · k_s[r, :]   (as rk_combine)
 *   rate[r, :] = φ(out[r, :])                         rate: R×C, stride ldr */
void disco_rk_combine_softrect_cpu (const DiscoSoftRectifier *rect,
                                    gsize                     n_rows,
                                    gsize                     n_cols,
                                    gsize                     ld,
                                    const float              *y0,
                                    const float              *h,
                                    guint                     n_stages,
                                    const float              *coeffs,
                                    const float *const       *k,
                                    float                    *out,
                                    float                    *rate,
                                    gsize                     ldr);

/* ---------------------------------------------------------------------------
 * Steady-state test (MODEL.md §5, Diffrax's SteadyStateEvent)
 *
 *   at_rest[r] = RMS(f[r, :]) < atol + rtol · RMS(y[r, :])
 *
 *   f, y: R×C with strides ldf, ldy; at_rest: R flags (0 or 1).  Each RMS
 *   is that of disco_rms_rows_cpu(), so the test is bit-identical to it.
 * ------------------------------------------------------------------------- */

void disco_steady_state_rows_cpu (gsize        n_rows,
                                  gsize        n_cols,
                                  float        atol,
                                  float        rtol,
                                  const float *f,
                                  gsize        ldf,
                                  const float *y,
                                  gsize        ldy,
                                  gint        *at_rest);

/* ---------------------------------------------------------------------------
 * Whole-batch helpers of the lockstep solver (disco-ode-lockstep.h), which
 * keeps every sample in place and masks the finished ones instead of
 * compacting the batch (compaction needs the host to know who finished)
 *
 *   fill:        x[i] = value                      x: n values
 *   revert_rows: out[r, :] = old[r, :] where keep[r] == 0
 *                (rejected steps and finished samples take back their state)
 *   leaky_rows:  dudt[r, :] = (−u[r, :] + (d[r, :] + b)) / τ, b optional
 *                (the linear readout of MODEL.md §2, and a rate layer)
 *
 *   old, out: R×C sharing the row stride ld; keep: R flags.
 * ------------------------------------------------------------------------- */

void disco_fill_cpu        (gsize  n,
                            float  value,
                            float *x);

void disco_revert_rows_cpu (gsize        n_rows,
                            gsize        n_cols,
                            gsize        ld,
                            const gint  *keep,
                            const float *old,
                            float       *out);

void disco_leaky_rows_cpu  (float        tau,
                            gsize        n_rows,
                            gsize        n_cols,
                            const float *u,
                            gsize        ldu,
                            const float *drive,
                            gsize        ldd,
                            const float *bias,
                            float       *dudt,
                            gsize        ldf);

/* ---------------------------------------------------------------------------
 * Closed loop and feedback weights (MODEL.md §3–§4), the kernels of
 * disco-ops-closed-loop.c (the integrator's only closed loop, on the CPU and
 * on CUDA).  B samples, O outputs, n units.
 *
 *   leaky_pi_rows:       e = y* − softmax(y) (or y* − y);  c = k_i c_int + k_p e;
 *                        dc_int = (e − λ c_int)/τ_c;  dy += c/τ_out
 *                        (the controller's part of the closed-loop RHS, after
 *                        the network wrote dy; dy and dc_int nullable: c only)
 *   top_down_rows:       du_I[r, :] −= Σ_o (c[r, o]/τ_I) Q[r, o, :]  (f_l = c·Q_l)
 *   slope_scale_rows:    out[s, o, j] = in[s·stride + o·n + j] · φ′(u[s, j])
 *                        (stride 0 broadcasts one O×n matrix; out may be in)
 *   feedback_normalize:  Q (B × M): the mean over B replaces every sample's
 *                        (average), clip to [−clip, clip] (clip > 0), then
 *                        each sample scaled to Frobenius norm @norm (> 0)
 *   copy_rows:           y[r, :] = x[r, :]  (strided rows; the two blocks
 *                        must not overlap, disco_row_blocks_overlap())
 * ------------------------------------------------------------------------- */

void disco_leaky_pi_rows_cpu      (gboolean                  softmax,
                                   float                     k_p,
                                   float                     k_i,
                                   float                     leak,
                                   float                     tau,
                                   float                     readout_tau,
                                   gsize                     n_rows,
                                   gsize                     n_out,
                                   const float              *y,
                                   const float              *c_int,
                                   gsize                     ldy,
                                   const float              *target,
                                   float                    *control,
                                   float                    *dy,
                                   float                    *dc_int,
                                   gsize                     ldf);

void disco_top_down_rows_cpu      (float                     tau_i,
                                   gsize                     n_rows,
                                   gsize                     n_out,
                                   gsize                     n,
                                   const float              *control,
                                   const float              *q,
                                   float                    *du_i,
                                   gsize                     ldf);

void disco_slope_scale_rows_cpu   (const DiscoSoftRectifier *rect,
                                   gsize                     n_samples,
                                   gsize                     n_out,
                                   gsize                     n,
                                   const float              *u,
                                   gsize                     ldu,
                                   const float              *in,
                                   gsize                     in_stride,
                                   float                    *out);

void disco_feedback_normalize_cpu (gsize                     n_samples,
                                   gsize                     size,
                                   gboolean                  average,
                                   float                     clip,
                                   float                     norm,
                                   float                    *q);

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
disco_row_blocks_overlap (gsize        n_rows,
                          gsize        n_cols,
                          const float *x,
                          gsize        ldx,
                          const float *y,
                          gsize        ldy)
{
  const guintptr x_begin = (guintptr) x, y_begin = (guintptr) y;
  const guintptr x_end = x_begin + ((n_rows - 1) * ldx + n_cols) * sizeof (float);
  const guintptr y_end = y_begin + ((n_rows - 1) * ldy + n_cols) * sizeof (float);

  return x_begin < y_end && y_begin < x_end;
}

void disco_copy_rows_cpu          (gsize                     n_rows,
                                   gsize                     n_cols,
                                   const float              *x,
                                   gsize                     ldx,
                                   float                    *y,
                                   gsize                     ldy);

/* top_down_rows_indexed:  top_down_rows with sample r's Q at Q[rows[r]]
 * (packed rows of the compacting solver; @rows in the same memory) */
void disco_top_down_rows_indexed_cpu (float                     tau_i,
                                      gsize                     n_rows,
                                      gsize                     n_out,
                                      gsize                     n,
                                      const guint              *rows,
                                      const float              *control,
                                      const float              *q,
                                      float                    *du_i,
                                      gsize                     ldf);

/* gather_rows:  y[r, :] = x[rows[r], :]  (the compacting solver's packed
 * rows: a sample's first drive, targets or feedback weights by its index;
 * @rows in the same memory as @x and @y; y must not overlap x) */
void disco_gather_rows_cpu        (gsize                     n_rows,
                                   gsize                     n_cols,
                                   const guint              *rows,
                                   const float              *x,
                                   gsize                     ldx,
                                   float                    *y,
                                   gsize                     ldy);

/* ---------------------------------------------------------------------------
 * Adam (MODEL.md §5; Kingma & Ba 2015, as optax.adam computes it)
 *
 *   m ← β₁ m + (1 − β₁) g;  v ← β₂ v + (1 − β₂) g²
 *   p ← p − lr · (m / (1 − β₁ᵗ)) / (√(v / (1 − β₂ᵗ)) + ε)
 *
 *   p, g, m, v: n values each; t = step ≥ 1.  The scalars are derived in
 *   double and rounded once (1 − 0.999f in float is 1.3e−5 off relative).
 * ------------------------------------------------------------------------- */

void disco_adam_update_cpu (gsize        n,
                            double       learning_rate,
                            double       beta1,
                            double       beta2,
                            double       epsilon,
                            guint64      step,
                            float       *p,
                            const float *g,
                            float       *m,
                            float       *v);

/* ---------------------------------------------------------------------------
 * Plasticity (MODEL.md §6) and the optimizers' steps: the element-wise work
 * the learning nodes (nodes/learning/disco-plasticity.c, disco-adam.c, disco-sgd.c)
 * compute through the operations table.
 *
 *   plasticity_delta: one microcircuit layer, R rows of state laid out
 *                     u_E (n) | u_I (n) with row stride ldu:
 *                       rate[s, j]  = φ_E(u_E[s, j])
 *                       delta[s, j] = (φ̂_I⁻¹[s, j] − rate[s, j]) · φ_E′(u_E[s, j])
 *                     with φ̂_I⁻¹ = u_I (exact inverse, y0 = NULL) or the
 *                     Taylor line of φ_I⁻¹ around y0[j] applied to
 *                     φ_I(u_I[s, j]) (linear threshold); rate: R×n, ldr;
 *                     delta: R×n, ldd
 *   threshold_update: y0[j] ← (1 − λ)·y0[j] + λ·mean_s φ_I(u_I[s, j]),
 *                     u_I: R×n with row stride ldu; mean summed in double
 *   column_mean:      mean[j] = Σ_s x[s, j] / R, summed in double (g_b)
 *   sub_rows:         y[s, :] −= x[s, :]  (δ_out = W_out r_L − y), R×C
 *   sum_squares:      acc[0] += Σ_i x[i]², in double, element after element
 *                     (one running sum over all gradients, as the host's)
 *   norm_finish:      norm[0] = √acc[0], then acc[0] = 0 for the next sum
 *   sgd_update:       momentum SGD, PyTorch's convention with dampening 0:
 *                     b ← g at step 1, else μ·b + g;  p ← p − lr·b
 *                     (lr and μ rounded to float once)
 * ------------------------------------------------------------------------- */

void disco_plasticity_delta_cpu (const DiscoSoftRectifier *phi_e,
                                 const DiscoSoftRectifier *phi_i,
                                 gsize                     n_rows,
                                 gsize                     n,
                                 const float              *u,
                                 gsize                     ldu,
                                 const float              *y0,
                                 float                    *rate,
                                 gsize                     ldr,
                                 float                    *delta,
                                 gsize                     ldd);

void disco_threshold_update_cpu (const DiscoSoftRectifier *phi_i,
                                 float                     lambda,
                                 gsize                     n_rows,
                                 gsize                     n,
                                 const float              *u_i,
                                 gsize                     ldu,
                                 float                    *y0);

void disco_column_mean_cpu      (gsize        n_rows,
                                 gsize        n_cols,
                                 const float *x,
                                 gsize        ldx,
                                 float       *mean);

void disco_sub_rows_cpu         (gsize        n_rows,
                                 gsize        n_cols,
                                 const float *x,
                                 gsize        ldx,
                                 float       *y,
                                 gsize        ldy);

void disco_sum_squares_cpu      (gsize        n,
                                 const float *x,
                                 double      *acc);

void disco_norm_finish_cpu      (double      *acc,
                                 float       *norm);

void disco_sgd_update_cpu       (gsize        n,
                                 double       learning_rate,
                                 double       momentum,
                                 guint64      step,
                                 float       *p,
                                 const float *g,
                                 float       *velocity);

G_END_DECLS
