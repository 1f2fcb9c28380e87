/* disco-ops-cuda.c: the operations table of CUDA device 0 (disco-ops.h).
 *
 * Each entry is the `_cuda` twin of the CPU table's kernel
 * (disco-kernels-cuda.h); memory goes through the CUDA backend's copies.
 * All work is queued on the default stream, in order; @download is a
 * cudaMemcpy to the host, which waits for everything queued before it, so
 * the lockstep solver's poll of the running count is its only wait.
 * Call disco_cuda_init() first.
 *
 * Numerics against the CPU table: the Runge-Kutta combination, the revert
 * and the leaky readout are bit-identical; φ is the reference formula with
 * CUDA's expf/logf (the CPU table uses a polynomial φ within 4 ulp), the
 * GEMMs sum in cuBLAS's order, and the row norms in a different double
 * order.  So a solve agrees to rounding, not to the bit
 * (tests/gpu/test-cuda-ode-batched.c states the tolerance).
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Disco-CUDA"

#include "disco-ops.h"
#include "disco-kernels-cuda.h"

static const DiscoOps cuda_ops = {
  .name = "cuda",
  .alloc = disco_cuda_alloc,
  .free = disco_cuda_free,
  .upload = disco_cuda_copy_to_device,
  .download = disco_cuda_copy_to_host,
  .copy = disco_cuda_copy_on_device,
  .synchronize = disco_cuda_synchronize,
  .check = disco_cuda_check,
  .fill = disco_fill_cuda,
  .gemm = disco_gemm_cuda,
  .softrect_forward = disco_softrect_forward_cuda,
  .microcircuit_rhs = disco_microcircuit_rhs_cuda,
  /* closed loop and feedback weights (the integrator) */
  .leaky_pi_rows = disco_leaky_pi_rows_cuda,
  .top_down_rows = disco_top_down_rows_cuda,
  .slope_scale_rows = disco_slope_scale_rows_cuda,
  .feedback_normalize = disco_feedback_normalize_cuda,
  .copy_rows = disco_copy_rows_cuda,
  .leaky_rows = disco_leaky_rows_cuda,
  .rk_combine = disco_rk_combine_cuda,
  .rk_embedded_error_norm = disco_rk_embedded_error_norm_cuda,
  .steady_state_rows = disco_steady_state_rows_cuda,
  .revert_rows = disco_revert_rows_cuda,
  .ode_clock_advance = disco_ode_clock_advance_cuda,
  .lockstep_step_sizes = disco_ode_lockstep_step_sizes_cuda,
  .lockstep_advance = disco_ode_lockstep_advance_cuda,
  .lockstep_stop = disco_ode_lockstep_stop_cuda,
  /* packed rows (the compacting solver) */
  .top_down_rows_indexed = disco_top_down_rows_indexed_cuda,
  .gather_rows = disco_gather_rows_cuda,
  /* plasticity and optimizers (learning nodes' device path) */
  .plasticity_delta = disco_plasticity_delta_cuda,
  .threshold_update = disco_threshold_update_cuda,
  .column_mean = disco_column_mean_cuda,
  .sub_rows = disco_sub_rows_cuda,
  .sum_squares = disco_sum_squares_cuda,
  .norm_finish = disco_norm_finish_cuda,
  .adam_update = disco_adam_update_cuda,
  .sgd_update = disco_sgd_update_cuda,
  .softmax_rows = disco_softmax_rows_cuda,
  /* equilibrium solver */
  .equilibrium_gather = disco_equilibrium_gather_cuda,
  .equilibrium_microcircuit_units = disco_equilibrium_microcircuit_units_cuda,
  .equilibrium_rate_units = disco_equilibrium_rate_units_cuda,
  .equilibrium_readout = disco_equilibrium_readout_cuda,
  .equilibrium_scale_rows = disco_equilibrium_scale_rows_cuda,
  .equilibrium_feedback_products = disco_equilibrium_feedback_products_cuda,
  .equilibrium_residual = disco_equilibrium_residual_cuda,
  .equilibrium_newton = disco_equilibrium_newton_cuda,
  .get_operation_count = disco_cuda_get_launch_count,
};

/**
 * disco_ops_cuda:
 *
 * Returns: (transfer none): the operations table of CUDA device 0; its
 *   buffers are device memory.  Start the device with disco_cuda_init()
 *   before the first operation.
 */
const DiscoOps *
disco_ops_cuda (void)
{
  return &cuda_ops;
}
