/* disco-ops-cpu.c: the operations table of host memory (disco-ops.h).
 *
 * Buffers are g_malloc'd; every operation calls the CPU kernel it names,
 * the fast variant where one exists with the same bits (rk_combine) or the
 * same φ as nodes/disco-network.c (softrect, microcircuit), so that a
 * solve through this table reproduces disco_ode_solver_solve() on the
 * network's own right-hand side.  Everything runs synchronously, so
 * @synchronize and @check have nothing to report.
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
    g_set_error (error, DISCO_ODE_ERROR, DISCO_ODE_ERROR_FAILED,
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

static const DiscoOps cpu_ops = {
  .name = "cpu",
  .alloc = cpu_alloc,
  .free = g_free,
  .upload = cpu_copy,
  .download = cpu_copy,
  .copy = cpu_copy,
  .synchronize = cpu_nothing_pending,
  .check = cpu_nothing_pending,
  .fill = disco_fill_cpu,
  .gemm = disco_gemm_cpu,
  .softrect_forward = disco_softrect_forward_fast_cpu,
  .microcircuit_rhs = disco_microcircuit_rhs_cpu,
  /* closed loop and feedback weights (integrator device path) */
  .leaky_pi_rows = disco_leaky_pi_rows_cpu,
  .top_down_rows = disco_top_down_rows_cpu,
  .slope_scale_rows = disco_slope_scale_rows_cpu,
  .feedback_normalize = disco_feedback_normalize_cpu,
  .copy_rows = disco_copy_rows_cpu,
  .leaky_rows = disco_leaky_rows_cpu,
  .rk_combine = disco_rk_combine_fast_cpu,
  .rk_embedded_error_norm = disco_rk_embedded_error_norm_cpu,
  .steady_state_rows = disco_steady_state_rows_cpu,
  .revert_rows = disco_revert_rows_cpu,
  .ode_clock_advance = disco_ode_clock_advance_cpu,
  .lockstep_step_sizes = disco_ode_lockstep_step_sizes_cpu,
  .lockstep_advance = disco_ode_lockstep_advance_cpu,
  .lockstep_stop = disco_ode_lockstep_stop_cpu,
  /* plasticity and optimizers (learning nodes' device path) */
  .plasticity_delta = disco_plasticity_delta_cpu,
  .threshold_update = disco_threshold_update_cpu,
  .column_mean = disco_column_mean_cpu,
  .sub_rows = disco_sub_rows_cpu,
  .sum_squares = disco_sum_squares_cpu,
  .norm_finish = disco_norm_finish_cpu,
  .adam_update = disco_adam_update_cpu,
  .sgd_update = disco_sgd_update_cpu,
  .softmax_rows = disco_softmax_rows_cpu,
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
