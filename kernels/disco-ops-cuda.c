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

/* Every compute slot calls its list entry's disco_<name>_cuda. */
#define CUDA_SLOT(name, cpu_kernel, params, args) .name = disco_##name##_cuda,

static const DiscoOps cuda_ops = {
  .name = "cuda",
  .alloc = disco_cuda_alloc,
  .free = disco_cuda_free,
  .upload = disco_cuda_copy_to_device,
  .download = disco_cuda_copy_to_host,
  .copy = disco_cuda_copy_on_device,
  .synchronize = disco_cuda_synchronize,
  .check = disco_cuda_check,
  DISCO_OPS_LIST (CUDA_SLOT).get_operation_count = disco_cuda_get_launch_count,
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
