/* disco-kernels-cuda.h: the CUDA twin of disco-kernels.h, a plain-C API.
 *
 * SECTION:disco-kernels-cuda
 * @title: CUDA kernels
 * @short_description: every operation of disco-kernels.h on device memory,
 *   plus the CUDA device backend
 *
 * `disco_<op>_cuda` has the signature of `disco_<op>_cpu`; matrices and
 * per-row vectors (h, alpha, norm, rms, drive_rows, at_rest, clocks, …) are
 * device pointers.  Small parameter arrays stay on the host, as the CPU
 * versions take them: the rectifier struct, a tableau's @coeffs and the
 * array of stage pointers @k (whose entries are device pointers).  They are
 * passed to the kernel by value, so the caller may reuse them at once.
 *
 * All work is queued on the default stream and runs asynchronously; nothing
 * here makes a host round trip except disco_cuda_synchronize() and the
 * backend's copies to the host.  Since the functions return void like their
 * CPU twins, a failure (a launch error, a cuBLAS status, a size past the
 * device's limits) is recorded and reported by the next
 * disco_cuda_check(), which also picks up asynchronous faults after a
 * synchronisation.  Kernels never exit() or abort().
 *
 * Numerics: this library is compiled with `-fmad=false`, so that every
 * float operation rounds as written, like the CPU reference (whose fast file
 * uses -ffp-contract=off for the same reason): the Runge–Kutta and
 * row-scaling kernels agree with the CPU to the bit, the rest to the
 * rounding of CUDA's maths library (expf, logf: ≤ 2 ulp) and of parallel
 * double sums.  cuBLAS runs in CUBLAS_DEFAULT_MATH, which in single
 * precision never uses TF32 tensor cores: Disco promises float32.
 *
 * Shape legend: as disco-kernels.h (R rows, C columns, ld* row strides,
 * S stages) and disco-ode-clock.h (B clocks).
 */

#pragma once

#include <glib.h>

#include "disco-kernels.h"
#include "disco-kernels-equilibrium.h"
#include "disco-ode-clock.h"
#include "disco-ode-lockstep.h"
#include "disco/disco-backend.h"

G_BEGIN_DECLS

/* ---------------------------------------------------------------------------
 * Device, errors, backend
 * ------------------------------------------------------------------------- */

int                 disco_cuda_get_device_count (GError **error);
gboolean            disco_cuda_init             (GError **error);
char               *disco_cuda_describe         (void);
gboolean            disco_cuda_check            (GError **error);
gboolean            disco_cuda_synchronize      (GError **error);
const DiscoBackend *disco_cuda_get_backend      (void);
guint64             disco_cuda_get_launch_count (void);

gpointer            disco_cuda_alloc            (gsize         size,
                                                 GError      **error);
void                disco_cuda_free             (gpointer      device_ptr);
gboolean            disco_cuda_copy_to_host     (gpointer      host,
                                                 gconstpointer device_ptr,
                                                 gsize         size,
                                                 GError      **error);
gboolean            disco_cuda_copy_to_device   (gpointer      device_ptr,
                                                 gconstpointer host,
                                                 gsize         size,
                                                 GError      **error);
gboolean            disco_cuda_copy_on_device   (gpointer      dst,
                                                 gconstpointer src,
                                                 gsize         size,
                                                 GError      **error);

/* ---------------------------------------------------------------------------
 * Operations (see disco-kernels.h for each formula)
 * ------------------------------------------------------------------------- */

void disco_gemm_cuda (gboolean     trans_a,
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

void disco_gemm_strided_batched_cuda (gboolean     trans_a,
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

void disco_softrect_forward_cuda    (const DiscoSoftRectifier *rect,
                                     gsize                     n_rows,
                                     gsize                     n_cols,
                                     const float              *x,
                                     gsize                     ldx,
                                     float                    *y,
                                     gsize                     ldy);

void disco_softrect_derivative_cuda (const DiscoSoftRectifier *rect,
                                     gsize                     n_rows,
                                     gsize                     n_cols,
                                     const float              *x,
                                     gsize                     ldx,
                                     float                    *y,
                                     gsize                     ldy);

void disco_softrect_inverse_cuda    (const DiscoSoftRectifier *rect,
                                     gsize                     n_rows,
                                     gsize                     n_cols,
                                     const float              *x,
                                     gsize                     ldx,
                                     float                    *y,
                                     gsize                     ldy);

void disco_microcircuit_rhs_cuda    (const DiscoSoftRectifier *phi_e,
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

void disco_axpy_rows_cuda    (gsize        n_rows,
                              gsize        n_cols,
                              const float *alpha,
                              const float *x,
                              gsize        ldx,
                              float       *y,
                              gsize        ldy);

void disco_softmax_rows_cuda (gsize        n_rows,
                              gsize        n_cols,
                              const float *x,
                              gsize        ldx,
                              float       *y,
                              gsize        ldy);

void disco_rms_rows_cuda     (gsize        n_rows,
                              gsize        n_cols,
                              const float *x,
                              gsize        ldx,
                              float       *rms);

void disco_rk_combine_cuda   (gsize               n_rows,
                              gsize               n_cols,
                              gsize               ld,
                              const float        *y0,
                              const float        *h,
                              guint               n_stages,
                              const float        *coeffs,
                              const float *const *k,
                              float              *out);

void disco_rk_combine_softrect_cuda (const DiscoSoftRectifier *rect,
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

void disco_rk_error_norm_cuda (gsize        n_rows,
                               gsize        n_cols,
                               gsize        ld,
                               float        atol,
                               float        rtol,
                               const float *y0,
                               const float *y1,
                               const float *err,
                               float       *norm);

void disco_rk_embedded_error_norm_cuda (gsize               n_rows,
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

void disco_steady_state_rows_cuda (gsize        n_rows,
                                   gsize        n_cols,
                                   float        atol,
                                   float        rtol,
                                   const float *f,
                                   gsize        ldf,
                                   const float *y,
                                   gsize        ldy,
                                   gint        *at_rest);

void disco_ode_clock_advance_cuda (const DiscoOdeClockParams *params,
                                   gsize                      n_samples,
                                   DiscoOdeClock             *clocks,
                                   const float               *error_norm,
                                   gint                      *keep);

void disco_adam_update_cuda (gsize        n,
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
 * Closed loop and feedback weights (disco-ops-closed-loop.c)
 * (disco-kernels-cuda-feedback.cu): the twins of the disco-kernels.h section
 * of that name; every array is a device pointer.
 * ------------------------------------------------------------------------- */

void disco_leaky_pi_rows_cuda      (gboolean                  softmax,
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

void disco_top_down_rows_cuda      (float                     tau_i,
                                   gsize                     n_rows,
                                   gsize                     n_out,
                                   gsize                     n,
                                   const float              *control,
                                   const float              *q,
                                   float                    *du_i,
                                   gsize                     ldf);

void disco_slope_scale_rows_cuda   (const DiscoSoftRectifier *rect,
                                   gsize                     n_samples,
                                   gsize                     n_out,
                                   gsize                     n,
                                   const float              *u,
                                   gsize                     ldu,
                                   const float              *in,
                                   gsize                     in_stride,
                                   float                    *out);

void disco_feedback_normalize_cuda (gsize                     n_samples,
                                   gsize                     size,
                                   gboolean                  average,
                                   float                     clip,
                                   float                     norm,
                                   float                    *q);

void disco_copy_rows_cuda          (gsize                     n_rows,
                                   gsize                     n_cols,
                                   const float              *x,
                                   gsize                     ldx,
                                   float                    *y,
                                   gsize                     ldy);

void disco_top_down_rows_indexed_cuda (float                  tau_i,
                                      gsize                  n_rows,
                                      gsize                  n_out,
                                      gsize                  n,
                                      const guint           *rows,
                                      const float           *control,
                                      const float           *q,
                                      float                 *du_i,
                                      gsize                  ldf);

void disco_gather_rows_cuda        (gsize                     n_rows,
                                   gsize                     n_cols,
                                   const guint              *rows,
                                   const float              *x,
                                   gsize                     ldx,
                                   float                    *y,
                                   gsize                     ldy);

/* ---------------------------------------------------------------------------
 * The lockstep solver's helpers (disco-kernels.h, disco-ode-lockstep.h);
 * per-sample arrays (clocks, running, status, keep, at_rest, h) and the
 * count @n_running are device pointers, @params and @limits host structs
 * passed by value.
 * ------------------------------------------------------------------------- */

void disco_fill_cuda        (gsize  n,
                             float  value,
                             float *x);

void disco_revert_rows_cuda (gsize        n_rows,
                             gsize        n_cols,
                             gsize        ld,
                             const gint  *keep,
                             const float *old,
                             float       *out);

void disco_leaky_rows_cuda  (float        tau,
                             gsize        n_rows,
                             gsize        n_cols,
                             const float *u,
                             gsize        ldu,
                             const float *drive,
                             gsize        ldd,
                             const float *bias,
                             float       *dudt,
                             gsize        ldf);

void disco_ode_lockstep_step_sizes_cuda (gsize                         n_samples,
                                         const DiscoOdeClock          *clocks,
                                         const gint                   *running,
                                         float                        *h);

void disco_ode_lockstep_advance_cuda    (const DiscoOdeClockParams    *params,
                                         gsize                         n_samples,
                                         DiscoOdeClock                *clocks,
                                         const gint                   *running,
                                         const float                  *error_norm,
                                         gint                         *keep);

void disco_ode_lockstep_stop_cuda       (const DiscoOdeLockstepLimits *limits,
                                         gsize                         n_samples,
                                         const DiscoOdeClock          *clocks,
                                         const gint                   *at_rest,
                                         gint                         *running,
                                         gint                         *status,
                                         gint                         *n_running);

/* ---------------------------------------------------------------------------
 * Plasticity and optimizer steps (disco-kernels.h; in
 * disco-kernels-cuda-learning.cu).  The rectifier structs stay on the host;
 * every array, and the running sum @acc, is device memory.
 * ------------------------------------------------------------------------- */

void disco_plasticity_delta_cuda (const DiscoSoftRectifier *phi_e,
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

void disco_threshold_update_cuda (const DiscoSoftRectifier *phi_i,
                                  float                     lambda,
                                  gsize                     n_rows,
                                  gsize                     n,
                                  const float              *u_i,
                                  gsize                     ldu,
                                  float                    *y0);

void disco_column_mean_cuda      (gsize        n_rows,
                                  gsize        n_cols,
                                  const float *x,
                                  gsize        ldx,
                                  float       *mean);

void disco_sub_rows_cuda         (gsize        n_rows,
                                  gsize        n_cols,
                                  const float *x,
                                  gsize        ldx,
                                  float       *y,
                                  gsize        ldy);

void disco_sum_squares_cuda      (gsize        n,
                                  const float *x,
                                  double      *acc);

void disco_norm_finish_cuda      (double      *acc,
                                  float       *norm);

void disco_sgd_update_cuda       (gsize        n,
                                  double       learning_rate,
                                  double       momentum,
                                  guint64      step,
                                  float       *p,
                                  const float *g,
                                  float       *velocity);

/* ---------------------------------------------------------------------------
 * The equilibrium solver (disco-kernels-cuda-equilibrium.cu): the twins of
 * disco-kernels-equilibrium.h; every array is a device pointer, @params
 * and the rectifiers stay on the host.
 * ------------------------------------------------------------------------- */

void disco_equilibrium_gather_cuda             (gsize                         n_rows,
                                                gsize                         n_cols,
                                                const guint                  *source,
                                                const float                  *x,
                                                gsize                         ldx,
                                                float                        *y,
                                                gsize                         ldy);

void disco_equilibrium_microcircuit_units_cuda (const DiscoSoftRectifier     *phi_e,
                                                const DiscoSoftRectifier     *phi_i,
                                                gsize                         n_rows,
                                                gsize                         n,
                                                const guint                  *rows,
                                                float                        *state,
                                                gsize                         ld,
                                                const float                  *drive,
                                                const guint                  *drive_rows,
                                                gsize                         n_out,
                                                const double                 *control,
                                                const float                  *q,
                                                float                        *top_down,
                                                gboolean                      cold,
                                                gboolean                      first,
                                                float                        *rate,
                                                float                        *slope,
                                                float                        *inhibitory_slope,
                                                guint                        *iterations,
                                                gint                         *status);

void disco_equilibrium_rate_units_cuda         (const DiscoSoftRectifier     *phi,
                                                gsize                         n_rows,
                                                gsize                         n,
                                                const guint                  *rows,
                                                float                        *state,
                                                gsize                         ld,
                                                const float                  *drive,
                                                gboolean                      first,
                                                float                        *rate,
                                                float                        *slope,
                                                guint                        *iterations,
                                                gint                         *status);

void disco_equilibrium_readout_cuda            (gsize                         n_rows,
                                                gsize                         n_out,
                                                const guint                  *rows,
                                                float                        *state,
                                                gsize                         ld,
                                                const float                  *drive,
                                                const double                 *control,
                                                gboolean                      first,
                                                guint                        *iterations,
                                                gint                         *status);

void disco_equilibrium_scale_rows_cuda         (gsize                         n_rows,
                                                gsize                         n_out,
                                                gsize                         n,
                                                const float                  *in,
                                                gsize                         in_stride,
                                                const float                  *s,
                                                float                        *out);

void disco_equilibrium_feedback_products_cuda  (gsize                         n_rows,
                                                gsize                         n_out,
                                                gsize                         n,
                                                const guint                  *rows,
                                                const float                  *g,
                                                gsize                         g_stride,
                                                const float                  *slope,
                                                const float                  *inhibitory_slope,
                                                const float                  *q,
                                                float                        *dydc);

void disco_equilibrium_residual_cuda           (const DiscoEquilibriumParams *params,
                                                gsize                         n_rows,
                                                gsize                         n_out,
                                                const guint                  *rows,
                                                const gint                   *unit_status,
                                                gboolean                      passed,
                                                float                        *y,
                                                gsize                         ld,
                                                const float                  *target,
                                                const double                 *control,
                                                double                       *residual,
                                                DiscoEquilibriumSample       *samples,
                                                double                       *work,
                                                gint                         *keep);

void disco_equilibrium_newton_cuda             (const DiscoEquilibriumParams *params,
                                                gsize                         n_rows,
                                                gsize                         n_out,
                                                const guint                  *rows,
                                                gboolean                      fresh,
                                                const float                  *dydc,
                                                const float                  *y,
                                                gsize                         ld,
                                                const float                  *target,
                                                const double                 *residual,
                                                double                       *control,
                                                double                       *newton_matrix,
                                                DiscoEquilibriumSample       *samples,
                                                double                       *work,
                                                gint                         *keep);

G_END_DECLS
