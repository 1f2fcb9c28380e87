/* disco-kernels-cuda-learning.cu: CUDA twins of the learning kernels of
 * disco-kernels.h (plasticity, MODEL.md §6, and the optimizers' steps).
 *
 * Shape legend: see disco-kernels.h (R rows = samples, n or C columns =
 * neurons, ld* row strides).
 *
 * Build: as disco-kernels-cuda.cu (meson: sm_90 + compute_90 PTX, -O3,
 * --std=c++17, -fmad=false so that every float operation rounds as
 * written, like the CPU reference).
 *
 * Kernels, one version each:
 *   plasticity_delta_kernel   one thread per element of the R×n block; the
 *                             Taylor line of the linear-threshold rule is
 *                             derived per element from y0[j] (two
 *                             transcendental calls, cheaper than a pass)
 *   column_kernel             one thread per column summing its R rows in
 *                             double in row order, the CPU's order: the
 *                             running threshold y₀ and the bias gradient's
 *                             batch mean (R is a minibatch, ≤ a few hundred)
 *   sub_rows_kernel           y −= x, element-wise
 *   sum_squares_kernel        ONE block, double partial sums, a shared-
 *                             memory tree, thread 0 adds to the running sum:
 *                             deterministic (no atomics), and a gradient of
 *                             200k values is a few µs of memory traffic
 *   norm_finish_kernel        one thread: √acc, acc = 0
 *   sgd_kernel                one momentum-SGD step
 * The Adam step is disco_adam_update_cuda (disco-kernels-cuda.cu).
 *
 * Agreement with the CPU: sub_rows, column mean and SGD are bit-identical
 * (same float operations, same double order); δ, y₀ differ by CUDA's
 * expf/logf/expm1f rounding (≤ 2 ulp each); the sum of squares sums in a
 * different double order (far below float rounding).
 */

#include "disco-kernels-cuda.h"
#include "disco-cuda-private.h"
#include "disco-cuda-launch.cuh"

#include <cuda_runtime.h>

/* ---------------------------------------------------------------------------
 * Plasticity
 * ------------------------------------------------------------------------- */

__global__ void
plasticity_delta_kernel (DiscoSoftRectifier phi_e, DiscoSoftRectifier phi_i, size_t n_rows,
                         size_t n, const float *u, size_t ldu, const float *y0, float *rate,
                         size_t ldr, float *delta, size_t ldd)
{
  const size_t total = n_rows * n;

  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < total;
       i += (size_t) gridDim.x * blockDim.x)
    {
      const size_t s = i / n, j = i % n;
      const float u_e = u[s * ldu + j], u_i = u[s * ldu + n + j];
      const float r_e = disco_softrect_forward (&phi_e, u_e);
      float inverse = u_i;

      if (y0 != NULL)
        {
          float a, b;

          disco_softrect_taylor_line (&phi_i, y0[j], &a, &b);
          inverse = a + b * disco_softrect_forward (&phi_i, u_i);
        }
      rate[s * ldr + j] = r_e;
      delta[s * ldd + j] = (inverse - r_e) * disco_softrect_derivative (&phi_e, u_e);
    }
}

/**
 * disco_plasticity_delta_cuda:
 * @phi_e: φ_E (host struct)
 * @phi_i: φ_I (host struct; used only with @y0)
 * @n_rows: R
 * @n: neurons
 * @u: the layer's closed-loop state (device), R rows u_E | u_I, stride @ldu
 * @ldu: row stride of @u, ≥ 2·@n
 * @y0: (nullable): running rates (device), or %NULL for the exact inverse
 * @rate: r_E (device), R×@n, stride @ldr
 * @ldr: row stride of @rate
 * @delta: δ (device), R×@n, stride @ldd
 * @ldd: row stride of @delta
 *
 * disco_plasticity_delta_cpu() on the device.
 */
void
disco_plasticity_delta_cuda (const DiscoSoftRectifier *phi_e, const DiscoSoftRectifier *phi_i,
                             gsize n_rows, gsize n, const float *u, gsize ldu, const float *y0,
                             float *rate, gsize ldr, float *delta, gsize ldd)
{
  REQUIRE (phi_e != NULL && (y0 == NULL || phi_i != NULL));
  REQUIRE (ldu >= 2 * n && ldr >= n && ldd >= n);
  if (n_rows == 0 || n == 0)
    return;
  REQUIRE (u != NULL && rate != NULL && delta != NULL);

  plasticity_delta_kernel<<<grid_for (n_rows * n), BLOCK>>> (
      *phi_e, phi_i != NULL ? *phi_i : *phi_e, n_rows, n, u, ldu, y0, rate, ldr, delta, ldd);
  check_launch ("plasticity_delta");
}

/* One thread per column: with rectify, y0[j] ← (1 − λ) y0[j] + λ·mean φ(x);
 * without, out[j] = mean x.  Rows in order, in double, as the CPU. */
__global__ void
column_kernel (bool rectify, DiscoSoftRectifier phi, float lambda, size_t n_rows, size_t n_cols,
               const float *x, size_t ldx, float *out)
{
  for (size_t j = blockIdx.x * (size_t) blockDim.x + threadIdx.x; j < n_cols;
       j += (size_t) gridDim.x * blockDim.x)
    {
      double sum = 0;

      for (size_t s = 0; s < n_rows; s++)
        sum += rectify ? disco_softrect_forward (&phi, x[s * ldx + j]) : x[s * ldx + j];
      if (rectify)
        out[j] = (1.0f - lambda) * out[j] + lambda * (float) (sum / n_rows);
      else
        out[j] = sum / n_rows;
    }
}

/**
 * disco_threshold_update_cuda:
 * @phi_i: φ_I (host struct)
 * @lambda: λ
 * @n_rows: R, > 0
 * @n: neurons
 * @u_i: open-loop inhibitory potentials (device), R×@n, stride @ldu
 * @ldu: row stride of @u_i
 * @y0: running rates (device), updated in place
 *
 * disco_threshold_update_cpu() on the device.
 */
void
disco_threshold_update_cuda (const DiscoSoftRectifier *phi_i, float lambda, gsize n_rows, gsize n,
                             const float *u_i, gsize ldu, float *y0)
{
  REQUIRE (phi_i != NULL && n_rows > 0 && ldu >= n);
  if (n == 0)
    return;
  REQUIRE (u_i != NULL && y0 != NULL);

  column_kernel<<<grid_for (n), BLOCK>>> (true, *phi_i, lambda, n_rows, n, u_i, ldu, y0);
  check_launch ("threshold_update");
}

/**
 * disco_column_mean_cuda:
 * @n_rows: R, > 0
 * @n_cols: C
 * @x: R×C (device), stride @ldx
 * @ldx: row stride of @x
 * @mean: C values (device)
 *
 * disco_column_mean_cpu() on the device, bit-identical (same double order).
 */
void
disco_column_mean_cuda (gsize n_rows, gsize n_cols, const float *x, gsize ldx, float *mean)
{
  const DiscoSoftRectifier unused = DISCO_SOFT_RECTIFIER_SOFTPLUS;

  REQUIRE (n_rows > 0 && ldx >= n_cols);
  if (n_cols == 0)
    return;
  REQUIRE (x != NULL && mean != NULL);

  column_kernel<<<grid_for (n_cols), BLOCK>>> (false, unused, 0.0f, n_rows, n_cols, x, ldx, mean);
  check_launch ("column_mean");
}

__global__ void
sub_rows_kernel (size_t n_rows, size_t n_cols, const float *x, size_t ldx, float *y, size_t ldy)
{
  const size_t total = n_rows * n_cols;

  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < total;
       i += (size_t) gridDim.x * blockDim.x)
    {
      const size_t r = i / n_cols, c = i % n_cols;

      y[r * ldy + c] -= x[r * ldx + c];
    }
}

/**
 * disco_sub_rows_cuda:
 * @n_rows: R
 * @n_cols: C
 * @x: R×C (device), stride @ldx
 * @ldx: row stride of @x
 * @y: R×C (device), stride @ldy; y −= x
 * @ldy: row stride of @y
 *
 * disco_sub_rows_cpu() on the device, bit-identical.
 */
void
disco_sub_rows_cuda (gsize n_rows, gsize n_cols, const float *x, gsize ldx, float *y, gsize ldy)
{
  REQUIRE (ldx >= n_cols && ldy >= n_cols);
  if (n_rows == 0 || n_cols == 0)
    return;
  REQUIRE (x != NULL && y != NULL);

  sub_rows_kernel<<<grid_for (n_rows * n_cols), BLOCK>>> (n_rows, n_cols, x, ldx, y, ldy);
  check_launch ("sub_rows");
}

/* ---------------------------------------------------------------------------
 * Norm of all gradients
 * ------------------------------------------------------------------------- */

__global__ void
sum_squares_kernel (size_t n, const float *x, double *acc)
{
  __shared__ double partial[BLOCK];
  double sum = 0;

  for (size_t i = threadIdx.x; i < n; i += blockDim.x)
    sum += (double) x[i] * x[i];
  partial[threadIdx.x] = sum;
  __syncthreads ();
  for (unsigned int half = blockDim.x / 2; half > 0; half /= 2)
    {
      if (threadIdx.x < half)
        partial[threadIdx.x] += partial[threadIdx.x + half];
      __syncthreads ();
    }
  if (threadIdx.x == 0)
    *acc += partial[0];
}

/**
 * disco_sum_squares_cuda:
 * @n: values
 * @x: the values (device)
 * @acc: one double (device), to which Σ x² is added
 *
 * disco_sum_squares_cpu() on the device (a different summation order).
 */
void
disco_sum_squares_cuda (gsize n, const float *x, double *acc)
{
  REQUIRE (acc != NULL && (n == 0 || x != NULL));
  if (n == 0)
    return;

  sum_squares_kernel<<<1, BLOCK>>> (n, x, acc);
  check_launch ("sum_squares");
}

__global__ void
norm_finish_kernel (double *acc, float *norm)
{
  *norm = sqrt (*acc);
  *acc = 0;
}

/**
 * disco_norm_finish_cuda:
 * @acc: one double (device), reset to 0
 * @norm: one float (device), √@acc
 *
 * disco_norm_finish_cpu() on the device.
 */
void
disco_norm_finish_cuda (double *acc, float *norm)
{
  REQUIRE (acc != NULL && norm != NULL);

  norm_finish_kernel<<<1, 1>>> (acc, norm);
  check_launch ("norm_finish");
}

/* ---------------------------------------------------------------------------
 * Momentum SGD
 * ------------------------------------------------------------------------- */

__global__ void
sgd_kernel (size_t n, float lr, float mu, bool first, float *p, const float *g, float *velocity)
{
  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < n;
       i += (size_t) gridDim.x * blockDim.x)
    {
      const float b = first ? g[i] : mu * velocity[i] + g[i];

      velocity[i] = b;
      p[i] -= lr * b;
    }
}

/**
 * disco_sgd_update_cuda:
 * @n: number of parameters
 * @learning_rate: lr
 * @momentum: μ
 * @step: t, ≥ 1
 * @p: parameters (device), updated in place
 * @g: gradients (device)
 * @velocity: momentum buffer (device), updated in place
 *
 * disco_sgd_update_cpu() on the device, bit-identical (lr and μ rounded
 * on the host alike; -fmad=false keeps μ·b + g two roundings).
 */
void
disco_sgd_update_cuda (gsize n, double learning_rate, double momentum, guint64 step, float *p,
                       const float *g, float *velocity)
{
  REQUIRE (step >= 1);
  if (n == 0)
    return;
  REQUIRE (p != NULL && g != NULL && velocity != NULL);

  sgd_kernel<<<grid_for (n), BLOCK>>> (n, (float) learning_rate, (float) momentum, step == 1, p, g,
                                       velocity);
  check_launch ("sgd_update");
}
