/* disco-ops-cpu.c: the operations table of host memory (disco-ops.h).
 *
 * Buffers are g_malloc'd; every operation calls the CPU kernel it names,
 * the fast variant where one exists with the same bits (rk_combine, the
 * steady-state test) or within 4 ulp (φ in softrect and microcircuit): the
 * CPU's arithmetic, for every node that computes through a table.  Everything runs synchronously, so
 * @synchronize and @check have nothing to report.  Each compute entry
 * counts its calls (@get_operation_count): the number of kernel launches
 * the same work makes on CUDA, measured on any machine.
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Disco-Kernels"

#include "disco-ops.h"
#include "disco-ode.h"

#include <string.h>

static gpointer
cpu_alloc (gsize    size,
           GError **error)
{
  gpointer buffer = g_try_malloc (MAX (size, 1));

  if (buffer == NULL)
    g_set_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_MEMORY,
                 "cannot allocate %" G_GSIZE_FORMAT " bytes of host memory", size);
  return buffer;
}

static gboolean
cpu_copy (gpointer      dst,
          gconstpointer src,
          gsize         size,
          GError      **error G_GNUC_UNUSED)
{
  if (size > 0)
    memcpy (dst, src, size);
  return TRUE;
}

static gboolean
cpu_nothing_pending (GError **error G_GNUC_UNUSED)
{
  return TRUE;
}

/* The compute operations run so far (get_operation_count): each entry of
 * the table below counts itself, then calls its kernel. */
static guint64 operation_count;

static guint64
cpu_get_operation_count (void)
{
  return __atomic_load_n (&operation_count, __ATOMIC_RELAXED);
}

#define COUNTED(kernel, params, args)                                          \
  static void                                                                  \
  counted_##kernel params                                                      \
  {                                                                            \
    __atomic_fetch_add (&operation_count, 1, __ATOMIC_RELAXED);                \
    kernel args;                                                               \
  }

typedef DiscoSoftRectifier Rect;

COUNTED (disco_fill_cpu, (gsize n, float value, float *x), (n, value, x))
COUNTED (disco_gemm_cpu,
         (gboolean ta, gboolean tb, gsize m, gsize n, gsize k, float alpha, const float *a,
          gsize lda, const float *b, gsize ldb, float beta, float *c, gsize ldc),
         (ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc))
COUNTED (disco_softrect_forward_fast_cpu,
         (const Rect *rect, gsize r, gsize c, const float *x, gsize ldx, float *y, gsize ldy),
         (rect, r, c, x, ldx, y, ldy))
COUNTED (disco_microcircuit_rhs_cpu,
         (const Rect *phi_e, const Rect *phi_i, float tau_e, float tau_i, gsize r, gsize n,
          const float *u, gsize ldu, const float *drive, gsize ldd, const guint *drive_rows,
          const float *bias, float *rate, gsize ldr, float *dudt, gsize ldf),
         (phi_e, phi_i, tau_e, tau_i, r, n, u, ldu, drive, ldd, drive_rows, bias, rate, ldr,
          dudt, ldf))
COUNTED (disco_leaky_pi_rows_cpu,
         (gboolean softmax, float k_p, float k_i, float leak, float tau, float readout_tau,
          gsize r, gsize o, const float *y, const float *c_int, gsize ldy, const float *target,
          float *control, float *dy, float *dc_int, gsize ldf),
         (softmax, k_p, k_i, leak, tau, readout_tau, r, o, y, c_int, ldy, target, control, dy,
          dc_int, ldf))
COUNTED (disco_top_down_rows_cpu,
         (float tau_i, gsize r, gsize o, gsize n, const float *control, const float *q,
          float *du_i, gsize ldf),
         (tau_i, r, o, n, control, q, du_i, ldf))
COUNTED (disco_slope_scale_rows_cpu,
         (const Rect *rect, gsize s, gsize o, gsize n, const float *u, gsize ldu,
          const float *in, gsize in_stride, float *out),
         (rect, s, o, n, u, ldu, in, in_stride, out))
COUNTED (disco_feedback_normalize_cpu,
         (gsize s, gsize size, gboolean average, float clip, float norm, float *q),
         (s, size, average, clip, norm, q))
COUNTED (disco_copy_rows_cpu,
         (gsize r, gsize c, const float *x, gsize ldx, float *y, gsize ldy),
         (r, c, x, ldx, y, ldy))
COUNTED (disco_leaky_rows_cpu,
         (float tau, gsize r, gsize c, const float *u, gsize ldu, const float *drive, gsize ldd,
          const float *bias, float *dudt, gsize ldf),
         (tau, r, c, u, ldu, drive, ldd, bias, dudt, ldf))
COUNTED (disco_rk_combine_fast_cpu,
         (gsize r, gsize c, gsize ld, const float *y0, const float *h, guint s,
          const float *coeffs, const float *const *k, float *out),
         (r, c, ld, y0, h, s, coeffs, k, out))
COUNTED (disco_rk_embedded_error_norm_cpu,
         (gsize r, gsize c, gsize ld, float atol, float rtol, const float *y0, const float *y1,
          const float *h, guint s, const float *e, const float *const *k, float *norm),
         (r, c, ld, atol, rtol, y0, y1, h, s, e, k, norm))
/* disco_steady_state_rows_cpu() with the row norms of
 * disco_rms_rows_fast_cpu() (four rows side by side, the same bits), in
 * blocks: the compacting solver's test after every step. */
static void
steady_state_rows_fast (gsize        n_rows,
                        gsize        n_cols,
                        float        atol,
                        float        rtol,
                        const float *f,
                        gsize        ldf,
                        const float *y,
                        gsize        ldy,
                        gint        *at_rest)
{
  enum { BLOCK = 64 };
  float rms_f[BLOCK], rms_y[BLOCK];

  g_return_if_fail (n_rows == 0 || (n_cols > 0 && at_rest != NULL));

  for (gsize first = 0; first < n_rows; first += BLOCK)
    {
      const gsize rows = MIN (BLOCK, n_rows - first);

      disco_rms_rows_fast_cpu (rows, n_cols, f + first * ldf, ldf, rms_f);
      disco_rms_rows_fast_cpu (rows, n_cols, y + first * ldy, ldy, rms_y);
      for (gsize r = 0; r < rows; r++)
        at_rest[first + r] = rms_f[r] < atol + rtol * rms_y[r];
    }
}

COUNTED (steady_state_rows_fast,
         (gsize r, gsize c, float atol, float rtol, const float *f, gsize ldf, const float *y,
          gsize ldy, gint *at_rest),
         (r, c, atol, rtol, f, ldf, y, ldy, at_rest))
COUNTED (disco_revert_rows_cpu,
         (gsize r, gsize c, gsize ld, const gint *keep, const float *old, float *out),
         (r, c, ld, keep, old, out))
COUNTED (disco_ode_clock_advance_cpu,
         (const DiscoOdeClockParams *p, gsize s, DiscoOdeClock *clocks,
          const float *error_norm, gint *keep),
         (p, s, clocks, error_norm, keep))
COUNTED (disco_ode_lockstep_step_sizes_cpu,
         (gsize s, const DiscoOdeClock *clocks, const gint *running, float *h),
         (s, clocks, running, h))
COUNTED (disco_ode_lockstep_advance_cpu,
         (const DiscoOdeClockParams *p, gsize s, DiscoOdeClock *clocks, const gint *running,
          const float *error_norm, gint *keep),
         (p, s, clocks, running, error_norm, keep))
COUNTED (disco_ode_lockstep_stop_cpu,
         (const DiscoOdeLockstepLimits *limits, gsize s, const DiscoOdeClock *clocks,
          const gint *at_rest, gint *running, gint *status, gint *n_running),
         (limits, s, clocks, at_rest, running, status, n_running))
COUNTED (disco_top_down_rows_indexed_cpu,
         (float tau_i, gsize r, gsize o, gsize n, const guint *rows, const float *control,
          const float *q, float *du_i, gsize ldf),
         (tau_i, r, o, n, rows, control, q, du_i, ldf))
COUNTED (disco_gather_rows_cpu,
         (gsize r, gsize c, const guint *rows, const float *x, gsize ldx, float *y, gsize ldy),
         (r, c, rows, x, ldx, y, ldy))
COUNTED (disco_plasticity_delta_cpu,
         (const Rect *phi_e, const Rect *phi_i, gsize r, gsize n, const float *u, gsize ldu,
          const float *y0, float *rate, gsize ldr, float *delta, gsize ldd),
         (phi_e, phi_i, r, n, u, ldu, y0, rate, ldr, delta, ldd))
COUNTED (disco_threshold_update_cpu,
         (const Rect *phi_i, float lambda, gsize r, gsize n, const float *u_i, gsize ldu,
          float *y0),
         (phi_i, lambda, r, n, u_i, ldu, y0))
COUNTED (disco_column_mean_cpu,
         (gsize r, gsize c, const float *x, gsize ldx, float *mean),
         (r, c, x, ldx, mean))
COUNTED (disco_sub_rows_cpu,
         (gsize r, gsize c, const float *x, gsize ldx, float *y, gsize ldy),
         (r, c, x, ldx, y, ldy))
COUNTED (disco_sum_squares_cpu, (gsize n, const float *x, double *acc), (n, x, acc))
COUNTED (disco_norm_finish_cpu, (double *acc, float *norm), (acc, norm))
COUNTED (disco_adam_update_cpu,
         (gsize n, double lr, double beta1, double beta2, double epsilon, guint64 step,
          float *p, const float *g, float *m, float *v),
         (n, lr, beta1, beta2, epsilon, step, p, g, m, v))
COUNTED (disco_sgd_update_cpu,
         (gsize n, double lr, double momentum, guint64 step, float *p, const float *g,
          float *velocity),
         (n, lr, momentum, step, p, g, velocity))
COUNTED (disco_softmax_rows_cpu,
         (gsize r, gsize c, const float *x, gsize ldx, float *y, gsize ldy),
         (r, c, x, ldx, y, ldy))

typedef DiscoEquilibriumParams EqParams;
typedef DiscoEquilibriumSample EqSample;

COUNTED (disco_equilibrium_gather_cpu,
         (gsize r, gsize c, const guint *source, const float *x, gsize ldx, float *y, gsize ldy),
         (r, c, source, x, ldx, y, ldy))
COUNTED (disco_equilibrium_microcircuit_units_cpu,
         (const Rect *phi_e, const Rect *phi_i, gsize r, gsize n, const guint *rows,
          float *state, gsize ld, const float *drive, const guint *drive_rows, gsize o,
          const double *control, const float *q, float *top_down, gboolean cold,
          gboolean first, float *rate, float *slope, float *inhibitory_slope,
          guint *iterations, gint *status),
         (phi_e, phi_i, r, n, rows, state, ld, drive, drive_rows, o, control, q, top_down, cold,
          first, rate, slope, inhibitory_slope, iterations, status))
COUNTED (disco_equilibrium_rate_units_cpu,
         (const Rect *phi, gsize r, gsize n, const guint *rows, float *state, gsize ld,
          const float *drive, gboolean first, float *rate, float *slope, guint *iterations,
          gint *status),
         (phi, r, n, rows, state, ld, drive, first, rate, slope, iterations, status))
COUNTED (disco_equilibrium_readout_cpu,
         (gsize r, gsize o, const guint *rows, float *state, gsize ld, const float *drive,
          const double *control, gboolean first, guint *iterations, gint *status),
         (r, o, rows, state, ld, drive, control, first, iterations, status))
COUNTED (disco_equilibrium_scale_rows_cpu,
         (gsize r, gsize o, gsize n, const float *in, gsize in_stride, const float *s,
          float *out),
         (r, o, n, in, in_stride, s, out))
COUNTED (disco_equilibrium_feedback_products_cpu,
         (gsize r, gsize o, gsize n, const guint *rows, const float *g, gsize g_stride,
          const float *slope, const float *inhibitory_slope, const float *q, float *dydc),
         (r, o, n, rows, g, g_stride, slope, inhibitory_slope, q, dydc))
COUNTED (disco_equilibrium_residual_cpu,
         (const EqParams *params, gsize r, gsize o, const guint *rows, const gint *unit_status,
          gboolean passed, float *y, gsize ld, const float *target, const double *control,
          double *residual, EqSample *samples, double *work, gint *keep),
         (params, r, o, rows, unit_status, passed, y, ld, target, control, residual, samples,
          work, keep))
COUNTED (disco_equilibrium_newton_cpu,
         (const EqParams *params, gsize r, gsize o, const guint *rows, gboolean fresh,
          const float *dydc, const float *y, gsize ld, const float *target,
          const double *residual, double *control, double *newton_matrix, EqSample *samples,
          double *work, gint *keep),
         (params, r, o, rows, fresh, dydc, y, ld, target, residual, control, newton_matrix,
          samples, work, keep))

static const DiscoOps cpu_ops = {
  .name = "cpu",
  .alloc = cpu_alloc,
  .free = g_free,
  .upload = cpu_copy,
  .download = cpu_copy,
  .copy = cpu_copy,
  .synchronize = cpu_nothing_pending,
  .check = cpu_nothing_pending,
  .fill = counted_disco_fill_cpu,
  .gemm = counted_disco_gemm_cpu,
  .softrect_forward = counted_disco_softrect_forward_fast_cpu,
  .microcircuit_rhs = counted_disco_microcircuit_rhs_cpu,
  /* closed loop and feedback weights (the integrator) */
  .leaky_pi_rows = counted_disco_leaky_pi_rows_cpu,
  .top_down_rows = counted_disco_top_down_rows_cpu,
  .slope_scale_rows = counted_disco_slope_scale_rows_cpu,
  .feedback_normalize = counted_disco_feedback_normalize_cpu,
  .copy_rows = counted_disco_copy_rows_cpu,
  .leaky_rows = counted_disco_leaky_rows_cpu,
  .rk_combine = counted_disco_rk_combine_fast_cpu,
  .rk_embedded_error_norm = counted_disco_rk_embedded_error_norm_cpu,
  .steady_state_rows = counted_steady_state_rows_fast,
  .revert_rows = counted_disco_revert_rows_cpu,
  .ode_clock_advance = counted_disco_ode_clock_advance_cpu,
  .lockstep_step_sizes = counted_disco_ode_lockstep_step_sizes_cpu,
  .lockstep_advance = counted_disco_ode_lockstep_advance_cpu,
  .lockstep_stop = counted_disco_ode_lockstep_stop_cpu,
  /* packed rows (the compacting solver) */
  .top_down_rows_indexed = counted_disco_top_down_rows_indexed_cpu,
  .gather_rows = counted_disco_gather_rows_cpu,
  /* plasticity and optimizers (learning nodes' device path) */
  .plasticity_delta = counted_disco_plasticity_delta_cpu,
  .threshold_update = counted_disco_threshold_update_cpu,
  .column_mean = counted_disco_column_mean_cpu,
  .sub_rows = counted_disco_sub_rows_cpu,
  .sum_squares = counted_disco_sum_squares_cpu,
  .norm_finish = counted_disco_norm_finish_cpu,
  .adam_update = counted_disco_adam_update_cpu,
  .sgd_update = counted_disco_sgd_update_cpu,
  .softmax_rows = counted_disco_softmax_rows_cpu,
  /* equilibrium solver */
  .equilibrium_gather = counted_disco_equilibrium_gather_cpu,
  .equilibrium_microcircuit_units = counted_disco_equilibrium_microcircuit_units_cpu,
  .equilibrium_rate_units = counted_disco_equilibrium_rate_units_cpu,
  .equilibrium_readout = counted_disco_equilibrium_readout_cpu,
  .equilibrium_scale_rows = counted_disco_equilibrium_scale_rows_cpu,
  .equilibrium_feedback_products = counted_disco_equilibrium_feedback_products_cpu,
  .equilibrium_residual = counted_disco_equilibrium_residual_cpu,
  .equilibrium_newton = counted_disco_equilibrium_newton_cpu,
  .get_operation_count = cpu_get_operation_count,
};

/**
 * disco_ops_cpu:
 *
 * Returns: (transfer none): the operations table of host memory, the CPU
 *   kernels of disco-kernels.h
 */
const DiscoOps *
disco_ops_cpu (void)
{
  return &cpu_ops;
}
