/* disco-cuda-launch.cuh: launch helpers shared by the CUDA kernel files
 * (disco-kernels-cuda.cu, disco-kernels-cuda-feedback.cu,
 * disco-kernels-cuda-learning.cu); not installed.
 */
#pragma once

#include "disco-cuda-private.h"

#include <cuda_runtime.h>

#define BLOCK 256
/* A grid this wide keeps every multiprocessor of a Hopper GPU busy (132 × 16
 * blocks of 256); larger problems loop inside the kernel. */
#define MAX_BLOCKS 4096

static inline unsigned int
grid_for (size_t n)
{
  size_t blocks = (n + BLOCK - 1) / BLOCK;

  return (unsigned int) (blocks < MAX_BLOCKS ? (blocks > 0 ? blocks : 1) : MAX_BLOCKS);
}

/* Kernel launches fail asynchronously or at once; what fails at once is
 * recorded for disco_cuda_check(). */
static inline void
check_launch (const char *kernel)
{
  cudaError_t status = cudaGetLastError ();

  _disco_cuda_count_launch ();
  if (status != cudaSuccess)
    _disco_cuda_record_error ("CUDA: launching %s failed: %s", kernel, cudaGetErrorString (status));
}

/* Preconditions are programmer errors, as in the CPU file, but the CUDA
 * functions also record them so that disco_cuda_check() fails. */
#define REQUIRE(expr)                                                                              \
  do                                                                                               \
    {                                                                                              \
      if (G_UNLIKELY (!(expr)))                                                                    \
        {                                                                                          \
          _disco_cuda_record_error ("%s: precondition failed: %s", G_STRFUNC, #expr);              \
          g_return_if_fail_warning (G_LOG_DOMAIN, G_STRFUNC, #expr);                               \
          return;                                                                                  \
        }                                                                                          \
    }                                                                                              \
  while (0)
