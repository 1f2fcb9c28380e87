/* disco-kernels-cuda-feedback.cu: the closed loop's and the feedback
 * weights' kernels on CUDA (disco-kernels-cuda.h, the integrator's device
 * path; CPU references in disco-kernels-cpu.c).
 *
 * Shape legend: B samples (rows), O outputs, n units of a layer, M = O·n
 * values of one sample's feedback weights; row strides ld*.
 *
 * Build: as disco-kernels-cuda.cu (nvcc … -O3 --std=c++17 -fmad=false):
 * without contraction every float operation rounds as the CPU's does.
 *
 * Kernels, one version each:
 *   leaky_pi_rows_kernel     one thread per sample: O is the readout's
 *                            width (10), too small to split; the softmax
 *                            sums in double, in order, as on the CPU
 *   top_down_rows_kernel     one thread per (sample, unit), summing over O
 *                            in the CPU's order: a batched GEMV with one
 *                            read of Q and one read-modify-write of du_I
 *                            (a strided-batched GEMM would write c·Q to a
 *                            scratch buffer and need a second pass)
 *   slope_scale_rows_kernel  one thread per Jacobian entry
 *   average / clip kernels   one thread per entry (average: per column,
 *                            summing the samples in order in double)
 *   norm_kernel              one block per sample: a double tree reduction
 *                            of Σ q², then the scaling
 *   copy_rows_kernel         one thread per element
 * Agreement with the CPU: bit-identical except φ′ (CUDA's expf, ≤ 2 ulp),
 * the softmax's expf and the tree order of the norm's double sum.
 */

#include "disco-kernels-cuda.h"
#include "disco-cuda-private.h"
#include "disco-cuda-launch.cuh"

#include <cuda_runtime.h>

#define GRID_STRIDE(i, total)                                                                      \
  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < (total);                     \
       i += (size_t) gridDim.x * blockDim.x)

__global__ void
leaky_pi_rows_kernel (bool softmax, float k_p, float k_i, float leak, float tau, float readout_tau,
                      size_t n_rows, size_t n_out, const float *y, const float *c_int, size_t ldy,
                      const float *target, float *control, float *dy, float *dc_int, size_t ldf)
{
  GRID_STRIDE (r, n_rows)
  {
    const float *yr = y + r * ldy, *ir = c_int + r * ldy, *tr = target + r * n_out;
    float *cr = control + r * n_out;

    if (softmax)
      {
        /* disco_softmax_rows_cpu(): max, exp, a double sum, one reciprocal. */
        float max = yr[0];
        double sum = 0.0;
        float inv_sum;

        for (size_t o = 1; o < n_out; o++)
          max = fmaxf (max, yr[o]);
        for (size_t o = 0; o < n_out; o++)
          {
            cr[o] = expf (yr[o] - max);
            sum += cr[o];
          }
        inv_sum = (float) (1.0 / sum);
        for (size_t o = 0; o < n_out; o++)
          cr[o] *= inv_sum;
      }
    else
      for (size_t o = 0; o < n_out; o++)
        cr[o] = yr[o];
    for (size_t o = 0; o < n_out; o++)
      {
        const float e = tr[o] - cr[o];

        cr[o] = k_i * ir[o] + k_p * e;
        if (dy != NULL)
          {
            dc_int[r * ldf + o] = (e - leak * ir[o]) / tau;
            dy[r * ldf + o] += cr[o] / readout_tau;
          }
      }
  }
}

/**
 * disco_leaky_pi_rows_cuda:
 * @softmax: cross-entropy error (%TRUE) or MSE
 * @k_p: proportional gain
 * @k_i: integral gain
 * @leak: λ
 * @tau: τ_c (s), > 0
 * @readout_tau: the readout's τ (s), > 0
 * @n_rows: B
 * @n_out: O, > 0
 * @y: B×O readout values, row stride @ldy
 * @c_int: B×O integrals, row stride @ldy
 * @ldy: row stride of @y and @c_int
 * @target: B×O targets
 * @control: B×O, written
 * @dy: (nullable): B×O readout derivatives, c/τ_out added
 * @dc_int: (nullable): B×O, written
 * @ldf: row stride of @dy and @dc_int
 *
 * disco_leaky_pi_rows_cpu() on the device.
 */
void
disco_leaky_pi_rows_cuda (gboolean softmax, float k_p, float k_i, float leak, float tau,
                          float readout_tau, gsize n_rows, gsize n_out, const float *y,
                          const float *c_int, gsize ldy, const float *target, float *control,
                          float *dy, float *dc_int, gsize ldf)
{
  REQUIRE (n_out > 0 && tau > 0.0f && readout_tau > 0.0f && ldy >= n_out);
  REQUIRE ((dy == NULL) == (dc_int == NULL) && (dy == NULL || ldf >= n_out));
  if (n_rows == 0)
    return;
  REQUIRE (y != NULL && c_int != NULL && target != NULL && control != NULL);

  leaky_pi_rows_kernel<<<grid_for (n_rows), BLOCK>>> (softmax, k_p, k_i, leak, tau, readout_tau,
                                                      n_rows, n_out, y, c_int, ldy, target, control,
                                                      dy, dc_int, ldf);
  check_launch ("leaky_pi_rows");
}

__global__ void
top_down_rows_kernel (float tau_i, size_t n_rows, size_t n_out, size_t n, const guint *rows,
                      const float *control, const float *q, float *du_i, size_t ldf)
{
  GRID_STRIDE (i, n_rows * n)
  {
    const size_t r = i / n, j = i % n;
    const float *c = control + r * n_out;
    const float *qr = q + (rows != NULL ? (size_t) rows[r] : r) * n_out * n + j;
    float d = du_i[r * ldf + j];

    /* The CPU's loop order: one subtraction per output, in order. */
    for (size_t o = 0; o < n_out; o++)
      d -= (c[o] / tau_i) * qr[o * n];
    du_i[r * ldf + j] = d;
  }
}

/**
 * disco_top_down_rows_cuda:
 * @tau_i: τ_I (s), > 0
 * @n_rows: B
 * @n_out: O
 * @n: n_l
 * @control: B×O
 * @q: B×O×n
 * @du_i: B×n, row stride @ldf, (c·Q)/τ_I subtracted
 * @ldf: row stride of @du_i
 *
 * disco_top_down_rows_cpu() on the device; bit-identical.
 */
void
disco_top_down_rows_cuda (float tau_i, gsize n_rows, gsize n_out, gsize n, const float *control,
                          const float *q, float *du_i, gsize ldf)
{
  REQUIRE (tau_i > 0.0f && ldf >= n);
  if (n_rows == 0 || n == 0 || n_out == 0)
    return;
  REQUIRE (control != NULL && q != NULL && du_i != NULL);

  top_down_rows_kernel<<<grid_for (n_rows * n), BLOCK>>> (tau_i, n_rows, n_out, n, NULL, control, q,
                                                          du_i, ldf);
  check_launch ("top_down_rows");
}

/**
 * disco_top_down_rows_indexed_cuda:
 * @tau_i: τ_I (s), > 0
 * @n_rows: A, packed rows
 * @n_out: O
 * @n: n_l
 * @rows: A sample indices (device memory)
 * @control: A×O
 * @q: B×O×n, sample s's at s·O·n
 * @du_i: A×n, row stride @ldf, (c·Q)/τ_I subtracted
 * @ldf: row stride of @du_i
 *
 * disco_top_down_rows_indexed_cpu() on the device; bit-identical.
 */
void
disco_top_down_rows_indexed_cuda (float tau_i, gsize n_rows, gsize n_out, gsize n,
                                  const guint *rows, const float *control, const float *q,
                                  float *du_i, gsize ldf)
{
  REQUIRE (tau_i > 0.0f && ldf >= n);
  if (n_rows == 0 || n == 0 || n_out == 0)
    return;
  REQUIRE (rows != NULL && control != NULL && q != NULL && du_i != NULL);

  top_down_rows_kernel<<<grid_for (n_rows * n), BLOCK>>> (tau_i, n_rows, n_out, n, rows, control, q,
                                                          du_i, ldf);
  check_launch ("top_down_rows_indexed");
}

__global__ void
slope_scale_rows_kernel (DiscoSoftRectifier rect, size_t n_samples, size_t n_out, size_t n,
                         const float *u, size_t ldu, const float *in, size_t in_stride, float *out)
{
  GRID_STRIDE (i, n_samples * n_out * n)
  {
    const size_t s = i / (n_out * n), o = (i / n) % n_out, j = i % n;

    out[i] = in[s * in_stride + o * n + j] * disco_softrect_derivative (&rect, u[s * ldu + j]);
  }
}

/**
 * disco_slope_scale_rows_cuda:
 * @rect: φ
 * @n_samples: B
 * @n_out: O
 * @n: n_l
 * @u: B×n potentials, row stride @ldu
 * @ldu: row stride of @u
 * @in: Jacobians, sample s's at @in + s·@in_stride
 * @in_stride: 0 (broadcast) or O·n
 * @out: B×O×n, written (may be @in)
 *
 * disco_slope_scale_rows_cpu() on the device (φ′ with CUDA's expf).
 */
void
disco_slope_scale_rows_cuda (const DiscoSoftRectifier *rect, gsize n_samples, gsize n_out, gsize n,
                             const float *u, gsize ldu, const float *in, gsize in_stride,
                             float *out)
{
  REQUIRE (rect != NULL && ldu >= n);
  if (n_samples == 0 || n_out == 0 || n == 0)
    return;
  REQUIRE (u != NULL && in != NULL && out != NULL);

  slope_scale_rows_kernel<<<grid_for (n_samples * n_out * n), BLOCK>>> (*rect, n_samples, n_out, n,
                                                                        u, ldu, in, in_stride, out);
  check_launch ("slope_scale_rows");
}

__global__ void
average_kernel (size_t n_samples, size_t size, float *q)
{
  GRID_STRIDE (i, size)
  {
    double sum = 0;

    for (size_t s = 0; s < n_samples; s++)
      sum += q[s * size + i];
    for (size_t s = 0; s < n_samples; s++)
      q[s * size + i] = sum / n_samples;
  }
}

__global__ void
clip_kernel (size_t total, float clip, float *q)
{
  GRID_STRIDE (i, total)
  q[i] = q[i] > clip ? clip : (q[i] < -clip ? -clip : q[i]); /* GLib's CLAMP */
}

__global__ void
norm_kernel (size_t size, float norm, float *q)
{
  __shared__ double partial[BLOCK];
  float *qs = q + blockIdx.x * size;
  double sum2 = 0;
  float scale;

  for (size_t i = threadIdx.x; i < size; i += blockDim.x)
    sum2 += (double) qs[i] * qs[i];
  partial[threadIdx.x] = sum2;
  __syncthreads ();
  for (unsigned int half = blockDim.x / 2; half > 0; half /= 2)
    {
      if (threadIdx.x < half)
        partial[threadIdx.x] += partial[threadIdx.x + half];
      __syncthreads ();
    }
  scale = partial[0] > 0 ? norm / sqrt (partial[0]) : 0.0f;
  for (size_t i = threadIdx.x; i < size; i += blockDim.x)
    qs[i] *= scale;
}

/**
 * disco_feedback_normalize_cuda:
 * @n_samples: B
 * @size: M
 * @average: replace every sample's Q by the mean
 * @clip: clip to [−@clip, @clip] when > 0
 * @norm: Frobenius norm per sample when > 0
 * @q: B×M, modified in place
 *
 * disco_feedback_normalize_cpu() on the device; the norm's double sum is a
 * tree, so the scale may differ from the CPU's in the last bit.
 */
void
disco_feedback_normalize_cuda (gsize n_samples, gsize size, gboolean average, float clip,
                               float norm, float *q)
{
  if (n_samples == 0 || size == 0)
    return;
  REQUIRE (q != NULL);
  REQUIRE (n_samples <= G_MAXINT); /* one block per sample: grid x < 2³¹ */

  if (average)
    {
      average_kernel<<<grid_for (size), BLOCK>>> (n_samples, size, q);
      check_launch ("feedback_average");
    }
  if (clip > 0)
    {
      clip_kernel<<<grid_for (n_samples * size), BLOCK>>> (n_samples * size, clip, q);
      check_launch ("feedback_clip");
    }
  if (norm > 0)
    {
      norm_kernel<<<(unsigned int) n_samples, BLOCK>>> (size, norm, q);
      check_launch ("feedback_norm");
    }
}

/**
 * disco_feedback_weights_rows_cuda:
 * @rect: φ_I
 * @n_samples: B
 * @n_out: O
 * @n: n_l
 * @u: B×n inhibitory potentials (row stride @ldu)
 * @ldu: row stride of @u
 * @in: the Jacobians, @in_stride apart (0: one for every sample)
 * @in_stride: 0 or O·n
 * @clip: clip when > 0
 * @norm: Frobenius norm per sample when > 0
 * @out: B×O×n, written (may be @in)
 *
 * disco_feedback_weights_rows_cpu() on the device: the two kernels it
 * fuses on the CPU, one after the other (their values).
 */
void
disco_feedback_weights_rows_cuda (const DiscoSoftRectifier *rect, gsize n_samples, gsize n_out,
                                  gsize n, const float *u, gsize ldu, const float *in,
                                  gsize in_stride, float clip, float norm, float *out)
{
  disco_slope_scale_rows_cuda (rect, n_samples, n_out, n, u, ldu, in, in_stride, out);
  disco_feedback_normalize_cuda (n_samples, n_out * n, FALSE, clip, norm, out);
}

__global__ void
copy_rows_kernel (size_t n_rows, size_t n_cols, const float *x, size_t ldx, float *y, size_t ldy)
{
  GRID_STRIDE (i, n_rows * n_cols)
  {
    const size_t r = i / n_cols, c = i % n_cols;

    y[r * ldy + c] = x[r * ldx + c];
  }
}

/**
 * disco_copy_rows_cuda:
 * @n_rows: R
 * @n_cols: C
 * @x: R×C, row stride @ldx
 * @ldx: row stride of @x
 * @y: R×C, written, row stride @ldy; must not overlap @x (a recorded
 *   error otherwise, as on the CPU)
 * @ldy: row stride of @y
 *
 * disco_copy_rows_cpu() on the device.
 */
void
disco_copy_rows_cuda (gsize n_rows, gsize n_cols, const float *x, gsize ldx, float *y, gsize ldy)
{
  REQUIRE (ldx >= n_cols && ldy >= n_cols);
  if (n_rows == 0 || n_cols == 0)
    return;
  REQUIRE (x != NULL && y != NULL);
  REQUIRE (!disco_row_blocks_overlap (n_rows, n_cols, x, ldx, y, ldy));

  copy_rows_kernel<<<grid_for (n_rows * n_cols), BLOCK>>> (n_rows, n_cols, x, ldx, y, ldy);
  check_launch ("copy_rows");
}

__global__ void
gather_rows_kernel (size_t n_rows, size_t n_cols, const guint *rows, const float *x, size_t ldx,
                    float *y, size_t ldy)
{
  GRID_STRIDE (i, n_rows * n_cols)
  {
    const size_t r = i / n_cols, c = i % n_cols;

    y[r * ldy + c] = x[(size_t) rows[r] * ldx + c];
  }
}

/**
 * disco_gather_rows_cuda:
 * @n_rows: R
 * @n_cols: C
 * @rows: R row indices into @x (device memory)
 * @x: rows of C values, row stride @ldx
 * @ldx: row stride of @x
 * @y: R×C, written, row stride @ldy; must not overlap @x
 * @ldy: row stride of @y
 *
 * disco_gather_rows_cpu() on the device.
 */
void
disco_gather_rows_cuda (gsize n_rows, gsize n_cols, const guint *rows, const float *x, gsize ldx,
                        float *y, gsize ldy)
{
  REQUIRE (ldx >= n_cols && ldy >= n_cols);
  if (n_rows == 0 || n_cols == 0)
    return;
  REQUIRE (rows != NULL && x != NULL && y != NULL);

  gather_rows_kernel<<<grid_for (n_rows * n_cols), BLOCK>>> (n_rows, n_cols, rows, x, ldx, y, ldy);
  check_launch ("gather_rows");
}
