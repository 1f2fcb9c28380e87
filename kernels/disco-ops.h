/* disco-ops.h: one table of operations over buffers of one memory space.
 *
 * SECTION:disco-ops
 * @title: Operations tables
 * @short_description: the kernels of disco-kernels.h behind function
 *   pointers, so that one orchestration runs on the CPU and on CUDA
 *
 * A #DiscoOps is a table of plain-C function pointers over buffers that
 * live in one memory space: host memory for disco_ops_cpu(), device memory
 * for disco_ops_cuda() (libdisco-kernels-cuda, when the CUDA backend is
 * built).  Code written against the table (the lockstep solver,
 * disco-ode-batched.h; the network right-hand side, disco-ops-network.h)
 * never dereferences a buffer: it allocates, offsets into, and hands
 * buffers to the table's operations, and moves data across only through
 * @upload and @download.  So the same lines drive both backends, and the
 * CPU table, which runs everywhere, tests the orchestration that the CUDA
 * table runs on a GPU.
 *
 * Buffers are typed pointers (float *, gint *, #DiscoOdeClock *) rather
 * than handles, so that a layer's block of a wider matrix is plain pointer
 * arithmetic, as in the kernels.  Each operation has the signature and the
 * contract of its `disco_<op>_cpu` in disco-kernels.h, disco-ode-clock.h or
 * disco-ode-lockstep.h; small parameter arrays (a tableau's weights, the
 * array of stage pointers, the rectifier) stay on the host for both
 * tables, as the CUDA kernels take them.
 *
 * Work may be queued asynchronously (CUDA runs it on the default stream, in
 * order); operations return void like the kernels and record a failure,
 * which @check or @synchronize reports.  @download waits for all work
 * queued before it.  Nothing else makes a host round trip.
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

G_BEGIN_DECLS

/**
 * DiscoOps:
 * @name: "cpu" or "cuda", for messages and benchmarks
 * @alloc: @size bytes (> 0) in the table's memory space, uninitialised;
 *   %NULL with the error set when it fails
 * @free: releases a buffer of @alloc (%NULL is allowed)
 * @upload: copies @size bytes from host memory into a buffer
 * @download: copies @size bytes from a buffer to host memory, after all
 *   queued work: the one synchronising copy
 * @copy: copies @size bytes between two buffers (queued)
 * @synchronize: waits for all queued work, then reports as @check
 * @check: reports (and clears) the first failure recorded since the last
 *   check, without waiting
 * @fill: disco_fill_cpu()
 * @gemm: disco_gemm_cpu()
 * @softrect_forward: disco_softrect_forward_cpu() (the CPU table uses the
 *   fast φ, within 4 ulp of the reference)
 * @microcircuit_rhs: disco_microcircuit_rhs_cpu()
 * @leaky_pi_rows: disco_leaky_pi_rows_cpu()
 * @top_down_rows: disco_top_down_rows_cpu()
 * @slope_scale_rows: disco_slope_scale_rows_cpu()
 * @feedback_normalize: disco_feedback_normalize_cpu()
 * @copy_rows: disco_copy_rows_cpu()
 * @leaky_rows: disco_leaky_rows_cpu()
 * @rk_combine: disco_rk_combine_cpu(); @out must not be @y0
 * @rk_embedded_error_norm: disco_rk_embedded_error_norm_cpu()
 * @steady_state_rows: disco_steady_state_rows_cpu()
 * @revert_rows: disco_revert_rows_cpu()
 * @ode_clock_advance: disco_ode_clock_advance_cpu()
 * @lockstep_step_sizes: disco_ode_lockstep_step_sizes_cpu()
 * @lockstep_advance: disco_ode_lockstep_advance_cpu()
 * @lockstep_stop: disco_ode_lockstep_stop_cpu()
 * @top_down_rows_indexed: disco_top_down_rows_indexed_cpu(); @rows in the
 *   table's memory
 * @gather_rows: disco_gather_rows_cpu(); @rows in the table's memory
 * @plasticity_delta: disco_plasticity_delta_cpu()
 * @threshold_update: disco_threshold_update_cpu()
 * @column_mean: disco_column_mean_cpu()
 * @sub_rows: disco_sub_rows_cpu()
 * @sum_squares: disco_sum_squares_cpu(); @acc is one double in the table's
 *   memory
 * @norm_finish: disco_norm_finish_cpu(); @acc and @norm in the table's
 *   memory
 * @adam_update: disco_adam_update_cpu()
 * @sgd_update: disco_sgd_update_cpu()
 * @softmax_rows: disco_softmax_rows_cpu(); @y may be @x (the backprop
 *   rule's δ_out = softmax(y) − t)
 * @equilibrium_gather: disco_equilibrium_gather_cpu()
 * @equilibrium_microcircuit_units: disco_equilibrium_microcircuit_units_cpu()
 * @equilibrium_rate_units: disco_equilibrium_rate_units_cpu()
 * @equilibrium_readout: disco_equilibrium_readout_cpu()
 * @equilibrium_scale_rows: disco_equilibrium_scale_rows_cpu()
 * @equilibrium_feedback_products: disco_equilibrium_feedback_products_cpu()
 * @equilibrium_residual: disco_equilibrium_residual_cpu(); @params on the
 *   host
 * @equilibrium_newton: disco_equilibrium_newton_cpu(); @params on the host
 * @get_operation_count: the compute operations this table has run or
 *   queued so far, from every thread (memory copies not included): on CUDA
 *   its kernel launches and cuBLAS calls (an operation launches one or
 *   two), so the count per minibatch measures the launch overhead a solve
 *   pays; the host table counts the same calls, one each
 *
 * The operations of one memory space.  Tables are static and never freed.
 */
typedef struct _DiscoOps DiscoOps;

struct _DiscoOps
{
  const char *name;

  /* Memory */
  gpointer (*alloc)       (gsize          size,
                           GError       **error);
  void     (*free)        (gpointer       buffer);
  gboolean (*upload)      (gpointer       dst,
                           gconstpointer  host_src,
                           gsize          size,
                           GError       **error);
  gboolean (*download)    (gpointer       host_dst,
                           gconstpointer  src,
                           gsize          size,
                           GError       **error);
  gboolean (*copy)        (gpointer       dst,
                           gconstpointer  src,
                           gsize          size,
                           GError       **error);
  gboolean (*synchronize) (GError       **error);
  gboolean (*check)       (GError       **error);

  /* Dense and element-wise algebra */
  void (*fill)             (gsize                     n,
                            float                     value,
                            float                    *x);
  void (*gemm)             (gboolean                  trans_a,
                            gboolean                  trans_b,
                            gsize                     m,
                            gsize                     n,
                            gsize                     k,
                            float                     alpha,
                            const float              *a,
                            gsize                     lda,
                            const float              *b,
                            gsize                     ldb,
                            float                     beta,
                            float                    *c,
                            gsize                     ldc);
  void (*softrect_forward) (const DiscoSoftRectifier *rect,
                            gsize                     n_rows,
                            gsize                     n_cols,
                            const float              *x,
                            gsize                     ldx,
                            float                    *y,
                            gsize                     ldy);
  void (*microcircuit_rhs) (const DiscoSoftRectifier *phi_e,
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
  /* closed loop and feedback weights (the integrator) */
  void (*leaky_pi_rows)      (gboolean                  softmax,
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
  void (*top_down_rows)      (float                     tau_i,
                              gsize                     n_rows,
                              gsize                     n_out,
                              gsize                     n,
                              const float              *control,
                              const float              *q,
                              float                    *du_i,
                              gsize                     ldf);
  void (*slope_scale_rows)   (const DiscoSoftRectifier *rect,
                              gsize                     n_samples,
                              gsize                     n_out,
                              gsize                     n,
                              const float              *u,
                              gsize                     ldu,
                              const float              *in,
                              gsize                     in_stride,
                              float                    *out);
  void (*feedback_normalize) (gsize                     n_samples,
                              gsize                     size,
                              gboolean                  average,
                              float                     clip,
                              float                     norm,
                              float                    *q);
  void (*copy_rows)          (gsize                     n_rows,
                              gsize                     n_cols,
                              const float              *x,
                              gsize                     ldx,
                              float                    *y,
                              gsize                     ldy);
  void (*leaky_rows)       (float                     tau,
                            gsize                     n_rows,
                            gsize                     n_cols,
                            const float              *u,
                            gsize                     ldu,
                            const float              *drive,
                            gsize                     ldd,
                            const float              *bias,
                            float                    *dudt,
                            gsize                     ldf);

  /* Runge-Kutta algebra and row tests */
  void (*rk_combine)             (gsize               n_rows,
                                  gsize               n_cols,
                                  gsize               ld,
                                  const float        *y0,
                                  const float        *h,
                                  guint               n_stages,
                                  const float        *coeffs,
                                  const float *const *k,
                                  float              *out);
  void (*rk_embedded_error_norm) (gsize               n_rows,
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
  void (*steady_state_rows)      (gsize               n_rows,
                                  gsize               n_cols,
                                  float               atol,
                                  float               rtol,
                                  const float        *f,
                                  gsize               ldf,
                                  const float        *y,
                                  gsize               ldy,
                                  gint               *at_rest);
  void (*revert_rows)            (gsize               n_rows,
                                  gsize               n_cols,
                                  gsize               ld,
                                  const gint         *keep,
                                  const float        *old,
                                  float              *out);

  /* Per-sample clocks */
  void (*ode_clock_advance)   (const DiscoOdeClockParams    *params,
                               gsize                         n_samples,
                               DiscoOdeClock                *clocks,
                               const float                  *error_norm,
                               gint                         *keep);
  void (*lockstep_step_sizes) (gsize                         n_samples,
                               const DiscoOdeClock          *clocks,
                               const gint                   *running,
                               float                        *h);
  void (*lockstep_advance)    (const DiscoOdeClockParams    *params,
                               gsize                         n_samples,
                               DiscoOdeClock                *clocks,
                               const gint                   *running,
                               const float                  *error_norm,
                               gint                         *keep);
  void (*lockstep_stop)       (const DiscoOdeLockstepLimits *limits,
                               gsize                         n_samples,
                               const DiscoOdeClock          *clocks,
                               const gint                   *at_rest,
                               gint                         *running,
                               gint                         *status,
                               gint                         *n_running);

  /* Packed rows (the compacting solver) */
  void (*top_down_rows_indexed) (float                       tau_i,
                                 gsize                       n_rows,
                                 gsize                       n_out,
                                 gsize                       n,
                                 const guint                *rows,
                                 const float                *control,
                                 const float                *q,
                                 float                      *du_i,
                                 gsize                       ldf);
  void (*gather_rows)         (gsize                         n_rows,
                               gsize                         n_cols,
                               const guint                  *rows,
                               const float                  *x,
                               gsize                         ldx,
                               float                        *y,
                               gsize                         ldy);

  /* plasticity and optimizers (learning nodes' device path) */
  void (*plasticity_delta) (const DiscoSoftRectifier *phi_e,
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
  void (*threshold_update) (const DiscoSoftRectifier *phi_i,
                            float                     lambda,
                            gsize                     n_rows,
                            gsize                     n,
                            const float              *u_i,
                            gsize                     ldu,
                            float                    *y0);
  void (*column_mean)      (gsize                     n_rows,
                            gsize                     n_cols,
                            const float              *x,
                            gsize                     ldx,
                            float                    *mean);
  void (*sub_rows)         (gsize                     n_rows,
                            gsize                     n_cols,
                            const float              *x,
                            gsize                     ldx,
                            float                    *y,
                            gsize                     ldy);
  void (*sum_squares)      (gsize                     n,
                            const float              *x,
                            double                   *acc);
  void (*norm_finish)      (double                   *acc,
                            float                    *norm);
  void (*adam_update)      (gsize                     n,
                            double                    learning_rate,
                            double                    beta1,
                            double                    beta2,
                            double                    epsilon,
                            guint64                   step,
                            float                    *p,
                            const float              *g,
                            float                    *m,
                            float                    *v);
  void (*sgd_update)       (gsize                     n,
                            double                    learning_rate,
                            double                    momentum,
                            guint64                   step,
                            float                    *p,
                            const float              *g,
                            float                    *velocity);
  void (*softmax_rows)     (gsize                     n_rows,
                            gsize                     n_cols,
                            const float              *x,
                            gsize                     ldx,
                            float                    *y,
                            gsize                     ldy);

  /* equilibrium solver */
  void (*equilibrium_gather)             (gsize                         n_rows,
                                          gsize                         n_cols,
                                          const guint                  *source,
                                          const float                  *x,
                                          gsize                         ldx,
                                          float                        *y,
                                          gsize                         ldy);
  void (*equilibrium_microcircuit_units) (const DiscoSoftRectifier     *phi_e,
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
  void (*equilibrium_rate_units)         (const DiscoSoftRectifier     *phi,
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
  void (*equilibrium_readout)            (gsize                         n_rows,
                                          gsize                         n_out,
                                          const guint                  *rows,
                                          float                        *state,
                                          gsize                         ld,
                                          const float                  *drive,
                                          const double                 *control,
                                          gboolean                      first,
                                          guint                        *iterations,
                                          gint                         *status);
  void (*equilibrium_scale_rows)         (gsize                         n_rows,
                                          gsize                         n_out,
                                          gsize                         n,
                                          const float                  *in,
                                          gsize                         in_stride,
                                          const float                  *s,
                                          float                        *out);
  void (*equilibrium_feedback_products)  (gsize                         n_rows,
                                          gsize                         n_out,
                                          gsize                         n,
                                          const guint                  *rows,
                                          const float                  *g,
                                          gsize                         g_stride,
                                          const float                  *slope,
                                          const float                  *inhibitory_slope,
                                          const float                  *q,
                                          float                        *dydc);
  void (*equilibrium_residual)           (const DiscoEquilibriumParams *params,
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
  void (*equilibrium_newton)             (const DiscoEquilibriumParams *params,
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

  guint64 (*get_operation_count) (void);

  /*< private >*/
  gpointer padding[4];
};

const DiscoOps *disco_ops_cpu (void);

/* In libdisco-kernels-cuda (disco-ops-cuda.c), declared here so that code
 * written against the table names both; link that library to call it. */
const DiscoOps *disco_ops_cuda (void);

G_END_DECLS
