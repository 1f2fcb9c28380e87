/* disco-kernels-cuda.cu: CUDA implementation of disco-kernels.h.
 *
 * Shape legend: see disco-kernels.h (R rows, C columns, ld* row strides,
 * S ≤ 7 stages) and disco-ode-clock.h (B clocks).
 *
 * Build: nvcc -gencode arch=compute_90,code=sm_90 -gencode
 * arch=compute_90,code=compute_90 -O3 --std=c++17 -fmad=false (meson does
 * this; the PTX target lets newer GPUs JIT the same code).
 *
 * Kernels, one version each (the tests and tools/disco-bench-cuda share
 * them):
 *   elementwise_kernel      softrect φ, φ′, φ⁻¹; axpy_rows; one thread per
 *                           element, grid-stride over the R×C block
 *   microcircuit_kernel     one layer's derivatives and rates
 *   rk_combine_kernel       y0 + h·Σ c_s k_s, optionally fused with φ
 *   row reductions          one block per row, double accumulators and a
 *                           shared-memory tree: rms, softmax, scaled error
 *                           norms (plain and fused with the error estimate),
 *                           steady-state test
 *   clock_advance_kernel    per-sample PID control (disco-ode-clock.h)
 *   adam_kernel             one Adam step
 * GEMMs go to cuBLAS.  These kernels are memory-bound; each reads and writes
 * every element once, and the fused ones save a whole pass.
 */

#include "disco-kernels-cuda.h"
#include "disco-cuda-private.h"
#include "disco-cuda-launch.cuh"

#include <cublas_v2.h>
#include <cuda_runtime.h>

#define MAX_STAGES 7

/* ---------------------------------------------------------------------------
 * GEMM
 *
 * cuBLAS is column-major.  A row-major M×N matrix with row stride ld is the
 * column-major N×M matrix with leading dimension ld, its transpose.  So
 * row-major C = op(A)·op(B) is column-major Cᵀ = op(B)ᵀ·op(A)ᵀ: the
 * operands swap places and keep their transpose flags (llm.c's
 * matmul_forward.cu explains the same trick).
 * ------------------------------------------------------------------------- */

static gboolean
gemm_args_ok (gboolean trans_a, gboolean trans_b, gsize m, gsize n, gsize k, gsize lda, gsize ldb,
              gsize ldc)
{
  return m <= G_MAXINT && n <= G_MAXINT && k <= G_MAXINT && lda <= G_MAXINT && ldb <= G_MAXINT
         && ldc <= G_MAXINT && lda >= MAX (1, trans_a ? m : k) && ldb >= MAX (1, trans_b ? k : n)
         && ldc >= MAX (1, n);
}

static void
cublas_check (cublasStatus_t status, const char *what)
{
  _disco_cuda_count_launch ();
  if (status != CUBLAS_STATUS_SUCCESS)
    _disco_cuda_record_error ("cuBLAS: %s failed: %s", what, cublasGetStatusString (status));
}

/**
 * disco_gemm_cuda:
 * @trans_a: use Aᵀ
 * @trans_b: use Bᵀ
 * @m: rows of op(A) and C
 * @n: columns of op(B) and C
 * @k: columns of op(A), rows of op(B)
 * @alpha: scale of the product
 * @a: A in device memory, row stride @lda
 * @lda: row stride of A
 * @b: B in device memory, row stride @ldb
 * @ldb: row stride of B
 * @beta: scale of the old C; with 0, C is not read
 * @c: C in device memory, M×N, row stride @ldc
 * @ldc: row stride of C
 *
 * disco_gemm_cpu() through cublasSgemm (float32, no TF32).
 */
void
disco_gemm_cuda (gboolean trans_a, gboolean trans_b, gsize m, gsize n, gsize k, float alpha,
                 const float *a, gsize lda, const float *b, gsize ldb, float beta, float *c,
                 gsize ldc)
{
  cublasHandle_t handle;

  REQUIRE (gemm_args_ok (trans_a, trans_b, m, n, k, lda, ldb, ldc));
  if (m == 0 || n == 0)
    return;
  REQUIRE (c != NULL && (k == 0 || (a != NULL && b != NULL)));
  if ((handle = (cublasHandle_t) _disco_cuda_get_cublas ()) == NULL)
    return;

  cublas_check (cublasSgemm (handle, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                             trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, (int) n, (int) m, (int) k, &alpha,
                             b, (int) ldb, a, (int) lda, &beta, c, (int) ldc),
                "cublasSgemm");
}

/**
 * disco_gemm_strided_batched_cuda:
 * @trans_a: use Aᵢᵀ
 * @trans_b: use Bᵢᵀ
 * @m: rows of op(Aᵢ) and Cᵢ
 * @n: columns of op(Bᵢ) and Cᵢ
 * @k: columns of op(Aᵢ), rows of op(Bᵢ)
 * @alpha: scale of the products
 * @a: the first A in device memory
 * @lda: row stride of every A
 * @stride_a: elements from one A to the next (0: one shared A)
 * @b: the first B in device memory
 * @ldb: row stride of every B
 * @stride_b: elements from one B to the next (0: one shared B)
 * @beta: scale of the old Cᵢ
 * @c: the first C in device memory
 * @ldc: row stride of every C
 * @stride_c: elements from one C to the next
 * @batch: number of products
 *
 * disco_gemm_strided_batched_cpu() in one cublasSgemmStridedBatched call.
 */
void
disco_gemm_strided_batched_cuda (gboolean trans_a, gboolean trans_b, gsize m, gsize n, gsize k,
                                 float alpha, const float *a, gsize lda, gsize stride_a,
                                 const float *b, gsize ldb, gsize stride_b, float beta, float *c,
                                 gsize ldc, gsize stride_c, gsize batch)
{
  cublasHandle_t handle;

  REQUIRE (gemm_args_ok (trans_a, trans_b, m, n, k, lda, ldb, ldc));
  REQUIRE (batch <= G_MAXINT && (batch <= 1 || stride_c >= m * ldc));
  if (m == 0 || n == 0 || batch == 0)
    return;
  REQUIRE (c != NULL && (k == 0 || (a != NULL && b != NULL)));
  if ((handle = (cublasHandle_t) _disco_cuda_get_cublas ()) == NULL)
    return;

  cublas_check (cublasSgemmStridedBatched (handle, trans_b ? CUBLAS_OP_T : CUBLAS_OP_N,
                                           trans_a ? CUBLAS_OP_T : CUBLAS_OP_N, (int) n, (int) m,
                                           (int) k, &alpha, b, (int) ldb, (long long) stride_b, a,
                                           (int) lda, (long long) stride_a, &beta, c, (int) ldc,
                                           (long long) stride_c, (int) batch),
                "cublasSgemmStridedBatched");
}

/* ---------------------------------------------------------------------------
 * Element-wise kernels
 * ------------------------------------------------------------------------- */

enum ElementOp
{
  OP_SOFTRECT_FORWARD,
  OP_SOFTRECT_DERIVATIVE,
  OP_SOFTRECT_INVERSE,
};

template <int OP>
__global__ void
softrect_kernel (DiscoSoftRectifier rect, size_t n_rows, size_t n_cols, const float *x, size_t ldx,
                 float *y, size_t ldy)
{
  const size_t total = n_rows * n_cols;

  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < total;
       i += (size_t) gridDim.x * blockDim.x)
    {
      const size_t r = i / n_cols, c = i % n_cols;
      const float v = x[r * ldx + c];
      float out;

      if (OP == OP_SOFTRECT_FORWARD)
        out = disco_softrect_forward (&rect, v);
      else if (OP == OP_SOFTRECT_DERIVATIVE)
        out = disco_softrect_derivative (&rect, v);
      else
        out = disco_softrect_inverse (&rect, v);
      y[r * ldy + c] = out;
    }
}

template <int OP>
static void
softrect_launch (const char *name, const DiscoSoftRectifier *rect, gsize n_rows, gsize n_cols,
                 const float *x, gsize ldx, float *y, gsize ldy)
{
  REQUIRE (rect != NULL && ldx >= n_cols && ldy >= n_cols);
  if (n_rows == 0 || n_cols == 0)
    return;
  REQUIRE (x != NULL && y != NULL);

  softrect_kernel<OP>
      <<<grid_for (n_rows * n_cols), BLOCK>>> (*rect, n_rows, n_cols, x, ldx, y, ldy);
  check_launch (name);
}

/**
 * disco_softrect_forward_cuda:
 * @rect: the rectifier parameters (host)
 * @n_rows: R
 * @n_cols: C
 * @x: potentials, R×C, row stride @ldx
 * @ldx: row stride of @x
 * @y: rates φ(x), R×C, row stride @ldy; may be @x
 * @ldy: row stride of @y
 *
 * disco_softrect_forward_cpu() on the device.
 */
void
disco_softrect_forward_cuda (const DiscoSoftRectifier *rect, gsize n_rows, gsize n_cols,
                             const float *x, gsize ldx, float *y, gsize ldy)
{
  softrect_launch<OP_SOFTRECT_FORWARD> ("softrect_forward", rect, n_rows, n_cols, x, ldx, y, ldy);
}

/**
 * disco_softrect_derivative_cuda:
 * @rect: the rectifier parameters (host)
 * @n_rows: R
 * @n_cols: C
 * @x: potentials, R×C, row stride @ldx
 * @ldx: row stride of @x
 * @y: slopes φ′(x), R×C, row stride @ldy; may be @x
 * @ldy: row stride of @y
 *
 * disco_softrect_derivative_cpu() on the device.
 */
void
disco_softrect_derivative_cuda (const DiscoSoftRectifier *rect, gsize n_rows, gsize n_cols,
                                const float *x, gsize ldx, float *y, gsize ldy)
{
  softrect_launch<OP_SOFTRECT_DERIVATIVE> ("softrect_derivative", rect, n_rows, n_cols, x, ldx, y,
                                           ldy);
}

/**
 * disco_softrect_inverse_cuda:
 * @rect: the rectifier parameters (host)
 * @n_rows: R
 * @n_cols: C
 * @x: rates, R×C, row stride @ldx, each > 0
 * @ldx: row stride of @x
 * @y: potentials φ⁻¹(x), R×C, row stride @ldy; may be @x
 * @ldy: row stride of @y
 *
 * disco_softrect_inverse_cpu() on the device.
 */
void
disco_softrect_inverse_cuda (const DiscoSoftRectifier *rect, gsize n_rows, gsize n_cols,
                             const float *x, gsize ldx, float *y, gsize ldy)
{
  softrect_launch<OP_SOFTRECT_INVERSE> ("softrect_inverse", rect, n_rows, n_cols, x, ldx, y, ldy);
}

__global__ void
axpy_rows_kernel (size_t n_rows, size_t n_cols, const float *alpha, const float *x, size_t ldx,
                  float *y, size_t ldy)
{
  const size_t total = n_rows * n_cols;

  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < total;
       i += (size_t) gridDim.x * blockDim.x)
    {
      const size_t r = i / n_cols, c = i % n_cols;

      y[r * ldy + c] += alpha[r] * x[r * ldx + c];
    }
}

/**
 * disco_axpy_rows_cuda:
 * @n_rows: R
 * @n_cols: C
 * @alpha: one scale per row, R values (device)
 * @x: R×C, row stride @ldx
 * @ldx: row stride of @x
 * @y: R×C, row stride @ldy, updated in place
 * @ldy: row stride of @y
 *
 * disco_axpy_rows_cpu() on the device.
 */
void
disco_axpy_rows_cuda (gsize n_rows, gsize n_cols, const float *alpha, const float *x, gsize ldx,
                      float *y, gsize ldy)
{
  REQUIRE (ldx >= n_cols && ldy >= n_cols);
  if (n_rows == 0 || n_cols == 0)
    return;
  REQUIRE (alpha != NULL && x != NULL && y != NULL);

  axpy_rows_kernel<<<grid_for (n_rows * n_cols), BLOCK>>> (n_rows, n_cols, alpha, x, ldx, y, ldy);
  check_launch ("axpy_rows");
}

/* One layer's open-loop derivatives, the arithmetic of the CPU's
 * microcircuit_row_body in the same order. */
__global__ void
microcircuit_kernel (DiscoSoftRectifier phi_e, DiscoSoftRectifier phi_i, float inv_tau_e,
                     float inv_tau_i, size_t n_rows, size_t n, const float *u, size_t ldu,
                     const float *drive, size_t ldd, const guint *drive_rows, const float *bias,
                     float *rate, size_t ldr, float *dudt, size_t ldf)
{
  const size_t total = n_rows * n;

  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < total;
       i += (size_t) gridDim.x * blockDim.x)
    {
      const size_t r = i / n, j = i % n;
      const float u_e = u[r * ldu + j], u_i = u[r * ldu + n + j];
      const float d = drive[(drive_rows != NULL ? drive_rows[r] : r) * ldd + j];
      const float r_e = disco_softrect_forward (&phi_e, u_e);
      const float r_i = disco_softrect_forward (&phi_i, u_i);

      rate[r * ldr + j] = r_e;
      if (bias != NULL)
        dudt[r * ldf + j] = (-u_e + (d + bias[j]) - r_i) * inv_tau_e;
      else
        dudt[r * ldf + j] = (-u_e + d - r_i) * inv_tau_e;
      dudt[r * ldf + n + j] = (-u_i + r_e) * inv_tau_i;
    }
}

/**
 * disco_microcircuit_rhs_cuda:
 * @phi_e: φ_E (host)
 * @phi_i: φ_I (host)
 * @tau_e: τ_E (s), > 0
 * @tau_i: τ_I (s), > 0
 * @n_rows: R, samples
 * @n: units of the layer
 * @u: states, R rows of stride @ldu, each u_E (n) then u_I (n)
 * @ldu: row stride of @u, ≥ 2n
 * @drive: W r_prev, rows of n values with stride @ldd
 * @ldd: row stride of @drive
 * @drive_rows: (nullable): the row of @drive each sample reads (device)
 * @bias: (nullable): b, n values (device)
 * @rate: r_E, R×n, row stride @ldr
 * @ldr: row stride of @rate
 * @dudt: derivatives, laid out as @u, row stride @ldf
 * @ldf: row stride of @dudt, ≥ 2n
 *
 * disco_microcircuit_rhs_cpu() on the device (MODEL.md §2, f = 0), with the
 * reference φ instead of the CPU's polynomial one.
 */
void
disco_microcircuit_rhs_cuda (const DiscoSoftRectifier *phi_e, const DiscoSoftRectifier *phi_i,
                             float tau_e, float tau_i, gsize n_rows, gsize n, const float *u,
                             gsize ldu, const float *drive, gsize ldd, const guint *drive_rows,
                             const float *bias, float *rate, gsize ldr, float *dudt, gsize ldf)
{
  REQUIRE (phi_e != NULL && phi_i != NULL && tau_e > 0.0f && tau_i > 0.0f);
  REQUIRE (ldu >= 2 * n && ldf >= 2 * n && ldd >= n && ldr >= n);
  if (n_rows == 0 || n == 0)
    return;
  REQUIRE (u != NULL && drive != NULL && rate != NULL && dudt != NULL);

  microcircuit_kernel<<<grid_for (n_rows * n), BLOCK>>> (*phi_e, *phi_i, 1.0f / tau_e, 1.0f / tau_i,
                                                         n_rows, n, u, ldu, drive, ldd, drive_rows,
                                                         bias, rate, ldr, dudt, ldf);
  check_launch ("microcircuit_rhs");
}

/* ---------------------------------------------------------------------------
 * Runge-Kutta stage combination
 * ------------------------------------------------------------------------- */

/* The stages travel by value in the kernel's parameters (88 bytes), so the
 * caller's host array of device pointers needs no copy to the device. */
struct Stages
{
  const float *k[MAX_STAGES];
  float c[MAX_STAGES];
  unsigned int n;
};

/* Σ_s c_s·k_s[i] from 0 in stage order, as disco_rk_combine_cpu() sums. */
__device__ static inline float
stage_sum (const Stages &st, size_t i)
{
  float sum = 0.0f;

#pragma unroll
  for (unsigned int s = 0; s < MAX_STAGES; s++)
    if (s < st.n)
      sum += st.c[s] * st.k[s][i];
  return sum;
}

template <bool FUSE>
__global__ void
rk_combine_kernel (size_t n_rows, size_t n_cols, size_t ld, const float *y0, const float *h,
                   Stages st, float *out, DiscoSoftRectifier rect, float *rate, size_t ldr)
{
  const size_t total = n_rows * n_cols;

  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < total;
       i += (size_t) gridDim.x * blockDim.x)
    {
      const size_t r = i / n_cols, c = i % n_cols, at = r * ld + c;
      const float v = y0 != NULL ? y0[at] + h[r] * stage_sum (st, at) : h[r] * stage_sum (st, at);

      out[at] = v;
      if (FUSE)
        rate[r * ldr + c] = disco_softrect_forward (&rect, v);
    }
}

static gboolean
stages_from (guint n_stages, const float *coeffs, const float *const *k, const float *out,
             Stages *st)
{
  if (n_stages > MAX_STAGES || (n_stages > 0 && (coeffs == NULL || k == NULL)))
    return FALSE;
  st->n = n_stages;
  for (guint s = 0; s < MAX_STAGES; s++)
    {
      st->k[s] = s < n_stages ? k[s] : NULL;
      st->c[s] = s < n_stages ? coeffs[s] : 0.0f;
      if (s < n_stages && (k[s] == NULL || k[s] == out))
        return FALSE;
    }
  return TRUE;
}

/**
 * disco_rk_combine_cuda:
 * @n_rows: R
 * @n_cols: C
 * @ld: row stride shared by @y0, every stage and @out
 * @y0: (nullable): the start of the step, R×C; %NULL means zero
 * @h: step size of each row, R values (device)
 * @n_stages: S, at most 7
 * @coeffs: (array length=n_stages): the tableau weights (host)
 * @k: (array length=n_stages): S device pointers to stage derivatives (host array)
 * @out: R×C result; may be @y0 but none of the stages
 *
 * disco_rk_combine_cpu() on the device; bit-identical to it (same
 * operations in the same order, no contraction into FMAs).
 */
void
disco_rk_combine_cuda (gsize n_rows, gsize n_cols, gsize ld, const float *y0, const float *h,
                       guint n_stages, const float *coeffs, const float *const *k, float *out)
{
  Stages st;

  REQUIRE (ld >= n_cols);
  if (n_rows == 0 || n_cols == 0)
    return;
  REQUIRE (h != NULL && out != NULL);
  REQUIRE (stages_from (n_stages, coeffs, k, out, &st));

  rk_combine_kernel<false><<<grid_for (n_rows * n_cols), BLOCK>>> (
      n_rows, n_cols, ld, y0, h, st, out, DiscoSoftRectifier{ 1.0f, 1.0f, 0.0f }, NULL, 0);
  check_launch ("rk_combine");
}

/**
 * disco_rk_combine_softrect_cuda:
 * @rect: the rectifier parameters (host)
 * @n_rows: R
 * @n_cols: C
 * @ld: row stride shared by @y0, every stage and @out
 * @y0: (nullable): the start of the step, R×C; %NULL means zero
 * @h: step size of each row, R values (device)
 * @n_stages: S, at most 7
 * @coeffs: (array length=n_stages): the tableau weights (host)
 * @k: (array length=n_stages): S device pointers (host array)
 * @out: R×C stage input
 * @rate: R×C rates φ(out), row stride @ldr
 * @ldr: row stride of @rate
 *
 * disco_rk_combine_softrect_cpu() in one pass: the stage input and its
 * rates without reading the stage input back.
 */
void
disco_rk_combine_softrect_cuda (const DiscoSoftRectifier *rect, gsize n_rows, gsize n_cols,
                                gsize ld, const float *y0, const float *h, guint n_stages,
                                const float *coeffs, const float *const *k, float *out, float *rate,
                                gsize ldr)
{
  Stages st;

  REQUIRE (rect != NULL && ld >= n_cols && ldr >= n_cols);
  if (n_rows == 0 || n_cols == 0)
    return;
  REQUIRE (h != NULL && out != NULL && rate != NULL);
  REQUIRE (stages_from (n_stages, coeffs, k, out, &st));

  rk_combine_kernel<true><<<grid_for (n_rows * n_cols), BLOCK>>> (n_rows, n_cols, ld, y0, h, st,
                                                                  out, *rect, rate, ldr);
  check_launch ("rk_combine_softrect");
}

/* ---------------------------------------------------------------------------
 * Row reductions: one block of BLOCK threads per row
 * ------------------------------------------------------------------------- */

/* Sums v over the block; every thread gets the total.  Double, like the
 * CPU's accumulators: the order of a parallel sum differs from the CPU's
 * column order, which double's 29 spare bits absorb before the final
 * rounding to float. */
__device__ static double
block_sum (double v)
{
  __shared__ double partial[BLOCK];

  partial[threadIdx.x] = v;
  __syncthreads ();
  for (unsigned int half = BLOCK / 2; half > 0; half /= 2)
    {
      if (threadIdx.x < half)
        partial[threadIdx.x] += partial[threadIdx.x + half];
      __syncthreads ();
    }
  v = partial[0];
  __syncthreads ();
  return v;
}

__device__ static float
block_max (float v)
{
  __shared__ float partial[BLOCK];

  partial[threadIdx.x] = v;
  __syncthreads ();
  for (unsigned int half = BLOCK / 2; half > 0; half /= 2)
    {
      if (threadIdx.x < half)
        partial[threadIdx.x] = fmaxf (partial[threadIdx.x], partial[threadIdx.x + half]);
      __syncthreads ();
    }
  v = partial[0];
  __syncthreads ();
  return v;
}

__global__ void
rms_rows_kernel (size_t n_cols, const float *x, size_t ldx, float *rms)
{
  const float *row = x + blockIdx.x * ldx;
  double sum = 0.0;

  for (size_t c = threadIdx.x; c < n_cols; c += BLOCK)
    sum += (double) row[c] * row[c];
  sum = block_sum (sum);
  if (threadIdx.x == 0)
    rms[blockIdx.x] = (float) sqrt (sum / (double) n_cols);
}

static gboolean
rows_fit (gsize n_rows)
{
  return n_rows <= G_MAXINT;
}

/**
 * disco_rms_rows_cuda:
 * @n_rows: R
 * @n_cols: C
 * @x: R×C, row stride @ldx
 * @ldx: row stride of @x
 * @rms: R values (device); 0 when C = 0
 *
 * disco_rms_rows_cpu() on the device.
 */
void
disco_rms_rows_cuda (gsize n_rows, gsize n_cols, const float *x, gsize ldx, float *rms)
{
  REQUIRE (ldx >= n_cols && rows_fit (n_rows));
  if (n_rows == 0)
    return;
  REQUIRE (rms != NULL);
  if (n_cols == 0)
    {
      if (cudaMemsetAsync (rms, 0, n_rows * sizeof (float), 0) != cudaSuccess)
        check_launch ("rms_rows (zero fill)");
      return;
    }
  REQUIRE (x != NULL);

  rms_rows_kernel<<<(unsigned int) n_rows, BLOCK>>> (n_cols, x, ldx, rms);
  check_launch ("rms_rows");
}

__global__ void
softmax_rows_kernel (size_t n_cols, const float *x, size_t ldx, float *y, size_t ldy)
{
  const float *xr = x + blockIdx.x * ldx;
  float *yr = y + blockIdx.x * ldy;
  float max = -INFINITY;
  double sum = 0.0;
  float inv_sum;

  for (size_t c = threadIdx.x; c < n_cols; c += BLOCK)
    max = fmaxf (max, xr[c]);
  max = block_max (max);
  for (size_t c = threadIdx.x; c < n_cols; c += BLOCK)
    {
      const float e = expf (xr[c] - max);

      yr[c] = e;
      sum += e;
    }
  sum = block_sum (sum);
  inv_sum = (float) (1.0 / sum);
  for (size_t c = threadIdx.x; c < n_cols; c += BLOCK)
    yr[c] *= inv_sum;
}

/**
 * disco_softmax_rows_cuda:
 * @n_rows: R
 * @n_cols: C, > 0
 * @x: logits, R×C, row stride @ldx
 * @ldx: row stride of @x
 * @y: probabilities, R×C, row stride @ldy; may be @x
 * @ldy: row stride of @y
 *
 * disco_softmax_rows_cpu() on the device: the row maximum subtracted, the
 * normaliser summed in double.
 */
void
disco_softmax_rows_cuda (gsize n_rows, gsize n_cols, const float *x, gsize ldx, float *y, gsize ldy)
{
  REQUIRE ((n_rows == 0 || n_cols > 0) && ldx >= n_cols && ldy >= n_cols && rows_fit (n_rows));
  if (n_rows == 0)
    return;
  REQUIRE (x != NULL && y != NULL);

  softmax_rows_kernel<<<(unsigned int) n_rows, BLOCK>>> (n_cols, x, ldx, y, ldy);
  check_launch ("softmax_rows");
}

/* The scaled error of one element and the norm of a row's sum, as
 * disco_rk_error_norm_cpu() forms them (fmaxf drops a NaN candidate; a NaN
 * sum means an infinite error). */
__device__ static inline float
scaled_error (float err, float y0, float y1, float atol, float rtol)
{
  return err / (atol + rtol * fmaxf (fabsf (y0), fabsf (y1)));
}

__device__ static inline float
norm_of (double sum, size_t n_cols)
{
  return isnan (sum) ? INFINITY : (float) sqrt (sum / (double) n_cols);
}

__global__ void
rk_error_norm_kernel (size_t n_cols, size_t ld, float atol, float rtol, const float *y0,
                      const float *y1, const float *err, float *norm)
{
  const size_t offset = blockIdx.x * ld;
  double sum = 0.0;

  for (size_t c = threadIdx.x; c < n_cols; c += BLOCK)
    {
      const float s = scaled_error (err[offset + c], y0[offset + c], y1[offset + c], atol, rtol);

      sum += (double) s * s;
    }
  sum = block_sum (sum);
  if (threadIdx.x == 0)
    norm[blockIdx.x] = norm_of (sum, n_cols);
}

/**
 * disco_rk_error_norm_cuda:
 * @n_rows: R
 * @n_cols: C
 * @ld: row stride shared by @y0, @y1 and @err
 * @atol: absolute tolerance, ≥ 0
 * @rtol: relative tolerance, ≥ 0
 * @y0: the start of the step, R×C
 * @y1: the candidate end of the step, R×C
 * @err: the embedded error estimate, R×C
 * @norm: R values (device); < 1 means the step meets its tolerance
 *
 * disco_rk_error_norm_cpu() on the device: the per-sample RMS of the
 * scaled error that drives each sample's step-size control.
 */
void
disco_rk_error_norm_cuda (gsize n_rows, gsize n_cols, gsize ld, float atol, float rtol,
                          const float *y0, const float *y1, const float *err, float *norm)
{
  REQUIRE (ld >= n_cols && atol >= 0.0f && rtol >= 0.0f && rows_fit (n_rows));
  if (n_rows == 0)
    return;
  REQUIRE (norm != NULL);
  if (n_cols == 0)
    {
      if (cudaMemsetAsync (norm, 0, n_rows * sizeof (float), 0) != cudaSuccess)
        check_launch ("rk_error_norm (zero fill)");
      return;
    }
  REQUIRE (y0 != NULL && y1 != NULL && err != NULL);

  rk_error_norm_kernel<<<(unsigned int) n_rows, BLOCK>>> (n_cols, ld, atol, rtol, y0, y1, err,
                                                          norm);
  check_launch ("rk_error_norm");
}

__global__ void
rk_embedded_error_norm_kernel (size_t n_cols, size_t ld, float atol, float rtol, const float *y0,
                               const float *y1, const float *h, Stages st, float *norm)
{
  const size_t offset = blockIdx.x * ld;
  const float hr = h[blockIdx.x];
  double sum = 0.0;

  for (size_t c = threadIdx.x; c < n_cols; c += BLOCK)
    {
      const float err = hr * stage_sum (st, offset + c);
      const float s = scaled_error (err, y0[offset + c], y1[offset + c], atol, rtol);

      sum += (double) s * s;
    }
  sum = block_sum (sum);
  if (threadIdx.x == 0)
    norm[blockIdx.x] = norm_of (sum, n_cols);
}

/**
 * disco_rk_embedded_error_norm_cuda:
 * @n_rows: R
 * @n_cols: C
 * @ld: row stride shared by @y0, @y1 and every stage
 * @atol: absolute tolerance, ≥ 0
 * @rtol: relative tolerance, ≥ 0
 * @y0: the start of the step, R×C
 * @y1: the candidate end of the step, R×C
 * @h: step size of each row, R values (device)
 * @n_stages: S, 1 to 7 (the CPU version takes exactly 7)
 * @e: (array length=n_stages): the error weights b − b̂ (host)
 * @k: (array length=n_stages): the stage derivatives (host array of device
 *   pointers)
 * @norm: R values (device)
 *
 * disco_rk_embedded_error_norm_cpu() on the device: the error estimate is
 * formed and reduced in one pass and never stored.
 */
void
disco_rk_embedded_error_norm_cuda (gsize n_rows, gsize n_cols, gsize ld, float atol, float rtol,
                                   const float *y0, const float *y1, const float *h, guint n_stages,
                                   const float *e, const float *const *k, float *norm)
{
  Stages st;

  REQUIRE (ld >= n_cols && atol >= 0.0f && rtol >= 0.0f && rows_fit (n_rows));
  REQUIRE (n_stages >= 1);
  if (n_rows == 0)
    return;
  REQUIRE (norm != NULL && h != NULL);
  if (n_cols == 0)
    {
      if (cudaMemsetAsync (norm, 0, n_rows * sizeof (float), 0) != cudaSuccess)
        check_launch ("rk_embedded_error_norm (zero fill)");
      return;
    }
  REQUIRE (y0 != NULL && y1 != NULL);
  REQUIRE (stages_from (n_stages, e, k, NULL, &st));

  rk_embedded_error_norm_kernel<<<(unsigned int) n_rows, BLOCK>>> (n_cols, ld, atol, rtol, y0, y1,
                                                                   h, st, norm);
  check_launch ("rk_embedded_error_norm");
}

__global__ void
steady_state_kernel (size_t n_cols, float atol, float rtol, const float *f, size_t ldf,
                     const float *y, size_t ldy, gint *at_rest)
{
  const float *fr = f + blockIdx.x * ldf, *yr = y + blockIdx.x * ldy;
  double sum_f = 0.0, sum_y = 0.0;

  for (size_t c = threadIdx.x; c < n_cols; c += BLOCK)
    {
      sum_f += (double) fr[c] * fr[c];
      sum_y += (double) yr[c] * yr[c];
    }
  sum_f = block_sum (sum_f);
  sum_y = block_sum (sum_y);
  if (threadIdx.x == 0)
    {
      const float rms_f = (float) sqrt (sum_f / (double) n_cols);
      const float rms_y = (float) sqrt (sum_y / (double) n_cols);

      at_rest[blockIdx.x] = rms_f < atol + rtol * rms_y;
    }
}

/**
 * disco_steady_state_rows_cuda:
 * @n_rows: R
 * @n_cols: C, > 0
 * @atol: absolute tolerance
 * @rtol: relative tolerance
 * @f: the derivatives f(y), R×C, row stride @ldf
 * @ldf: row stride of @f
 * @y: the states, R×C, row stride @ldy
 * @ldy: row stride of @y
 * @at_rest: R flags (device), 1 where the row is at rest
 *
 * disco_steady_state_rows_cpu() on the device, so that a solve can retire
 * samples at rest without copying their states to the host.
 */
void
disco_steady_state_rows_cuda (gsize n_rows, gsize n_cols, float atol, float rtol, const float *f,
                              gsize ldf, const float *y, gsize ldy, gint *at_rest)
{
  REQUIRE (ldf >= n_cols && ldy >= n_cols && rows_fit (n_rows));
  if (n_rows == 0)
    return;
  REQUIRE (n_cols > 0 && f != NULL && y != NULL && at_rest != NULL);

  steady_state_kernel<<<(unsigned int) n_rows, BLOCK>>> (n_cols, atol, rtol, f, ldf, y, ldy,
                                                         at_rest);
  check_launch ("steady_state_rows");
}

/* ---------------------------------------------------------------------------
 * Per-sample step-size control and Adam
 * ------------------------------------------------------------------------- */

__global__ void
clock_advance_kernel (DiscoOdeClockParams params, size_t n, DiscoOdeClock *clocks,
                      const float *error_norm, gint *keep)
{
  const size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x;

  if (i < n)
    {
      const gboolean kept =
          disco_ode_clock_advance (&params, &clocks[i], error_norm != NULL ? error_norm[i] : 0.0f);

      if (keep != NULL)
        keep[i] = kept;
    }
}

/**
 * disco_ode_clock_advance_cuda:
 * @params: the controller settings (host)
 * @n_samples: B
 * @clocks: B clocks (device), advanced in place
 * @error_norm: (nullable): B scaled error norms (device); %NULL for
 *   constant steps
 * @keep: (nullable): B flags (device), whether each step is kept
 *
 * disco_ode_clock_advance_cpu() on the device, compiled from the same
 * source (disco-ode-clock.h).  The decisions match the CPU's; the step
 * sizes match up to the rounding of the device's double pow() (≤ 2 ulp).
 */
void
disco_ode_clock_advance_cuda (const DiscoOdeClockParams *params, gsize n_samples,
                              DiscoOdeClock *clocks, const float *error_norm, gint *keep)
{
  REQUIRE (params != NULL);
  if (n_samples == 0)
    return;
  REQUIRE (clocks != NULL);

  clock_advance_kernel<<<(unsigned int) ((n_samples + BLOCK - 1) / BLOCK), BLOCK>>> (
      *params, n_samples, clocks, error_norm, keep);
  check_launch ("ode_clock_advance");
}

__global__ void
adam_kernel (size_t n, float lr, float b1, float b2, float one_minus_b1, float one_minus_b2,
             float c1, float c2, float eps, float *p, const float *g, float *m, float *v)
{
  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < n;
       i += (size_t) gridDim.x * blockDim.x)
    {
      const float gi = g[i];
      const float mi = b1 * m[i] + one_minus_b1 * gi;
      const float vi = b2 * v[i] + one_minus_b2 * gi * gi;

      m[i] = mi;
      v[i] = vi;
      p[i] -= lr * (mi / c1) / (sqrtf (vi / c2) + eps);
    }
}

/**
 * disco_adam_update_cuda:
 * @n: number of parameters
 * @learning_rate: lr
 * @beta1: β₁
 * @beta2: β₂
 * @epsilon: ε
 * @step: t, ≥ 1
 * @p: parameters (device), updated in place
 * @g: gradients (device)
 * @m: first moments (device), updated in place
 * @v: second moments (device), updated in place
 *
 * disco_adam_update_cpu() on the device; the scalars are derived on the
 * host exactly as the CPU derives them, so the results are bit-identical
 * (sqrtf and the divisions are correctly rounded on the device too).
 */
void
disco_adam_update_cuda (gsize n, double learning_rate, double beta1, double beta2, double epsilon,
                        guint64 step, float *p, const float *g, float *m, float *v)
{
  REQUIRE (step >= 1);
  if (n == 0)
    return;
  REQUIRE (p != NULL && g != NULL && m != NULL && v != NULL);

  adam_kernel<<<grid_for (n), BLOCK>>> (
      n, (float) learning_rate, (float) beta1, (float) beta2, (float) (1.0 - beta1),
      (float) (1.0 - beta2), (float) (1.0 - pow (beta1, (double) step)),
      (float) (1.0 - pow (beta2, (double) step)), (float) epsilon, p, g, m, v);
  check_launch ("adam_update");
}

/* ---------------------------------------------------------------------------
 * The lockstep solver's helpers: a constant fill, the masked revert, the
 * leaky readout, and the per-sample bookkeeping of disco-ode-lockstep.h
 * (compiled from its inline functions, as clock_advance_kernel is from
 * disco-ode-clock.h).  None of them waits for the host.
 * ------------------------------------------------------------------------- */

__global__ void
fill_kernel (size_t n, float value, float *x)
{
  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < n;
       i += (size_t) gridDim.x * blockDim.x)
    x[i] = value;
}

/**
 * disco_fill_cuda:
 * @n: number of values
 * @value: the value to store
 * @x: n values (device)
 *
 * disco_fill_cpu() on the device.
 */
void
disco_fill_cuda (gsize n, float value, float *x)
{
  if (n == 0)
    return;
  REQUIRE (x != NULL);

  fill_kernel<<<grid_for (n), BLOCK>>> (n, value, x);
  check_launch ("fill");
}

/* One thread per element; the rows that keep their step cost one flag
 * read, the others a copy. */
__global__ void
revert_rows_kernel (size_t n_rows, size_t n_cols, size_t ld, const gint *keep, const float *old,
                    float *out)
{
  const size_t total = n_rows * n_cols;

  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < total;
       i += (size_t) gridDim.x * blockDim.x)
    {
      const size_t r = i / n_cols, c = i % n_cols;

      if (keep[r] == 0)
        out[r * ld + c] = old[r * ld + c];
    }
}

/**
 * disco_revert_rows_cuda:
 * @n_rows: R
 * @n_cols: C
 * @ld: row stride shared by @old and @out
 * @keep: R flags (device); 0 reverts the row
 * @old: R×C, the values to take back
 * @out: R×C, updated in the rows whose flag is 0
 *
 * disco_revert_rows_cpu() on the device; a copy, so bit-identical.
 */
void
disco_revert_rows_cuda (gsize n_rows, gsize n_cols, gsize ld, const gint *keep, const float *old,
                        float *out)
{
  REQUIRE (ld >= n_cols);
  if (n_rows == 0 || n_cols == 0)
    return;
  REQUIRE (keep != NULL && old != NULL && out != NULL && old != out);

  revert_rows_kernel<<<grid_for (n_rows * n_cols), BLOCK>>> (n_rows, n_cols, ld, keep, old, out);
  check_launch ("revert_rows");
}

__global__ void
leaky_rows_kernel (float inv_tau, size_t n_rows, size_t n_cols, const float *u, size_t ldu,
                   const float *drive, size_t ldd, const float *bias, float *dudt, size_t ldf)
{
  const size_t total = n_rows * n_cols;

  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < total;
       i += (size_t) gridDim.x * blockDim.x)
    {
      const size_t r = i / n_cols, c = i % n_cols;
      const float d = drive[r * ldd + c];

      /* The CPU's expression, operation for operation (no FMA: -fmad=false). */
      if (bias != NULL)
        dudt[r * ldf + c] = (-u[r * ldu + c] + (d + bias[c])) * inv_tau;
      else
        dudt[r * ldf + c] = (-u[r * ldu + c] + d) * inv_tau;
    }
}

/**
 * disco_leaky_rows_cuda:
 * @tau: τ (s), > 0
 * @n_rows: R
 * @n_cols: C
 * @u: R×C states, row stride @ldu
 * @ldu: row stride of @u
 * @drive: R×C drives, row stride @ldd
 * @ldd: row stride of @drive
 * @bias: (nullable): C values (device)
 * @dudt: R×C derivatives, row stride @ldf
 * @ldf: row stride of @dudt
 *
 * disco_leaky_rows_cpu() on the device; the same float operations, so
 * bit-identical.
 */
void
disco_leaky_rows_cuda (float tau, gsize n_rows, gsize n_cols, const float *u, gsize ldu,
                       const float *drive, gsize ldd, const float *bias, float *dudt, gsize ldf)
{
  REQUIRE (tau > 0.0f && ldu >= n_cols && ldd >= n_cols && ldf >= n_cols);
  if (n_rows == 0 || n_cols == 0)
    return;
  REQUIRE (u != NULL && drive != NULL && dudt != NULL);

  leaky_rows_kernel<<<grid_for (n_rows * n_cols), BLOCK>>> (1.0f / tau, n_rows, n_cols, u, ldu,
                                                            drive, ldd, bias, dudt, ldf);
  check_launch ("leaky_rows");
}

__global__ void
lockstep_step_sizes_kernel (size_t n, const DiscoOdeClock *clocks, const gint *running, float *h)
{
  const size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x;

  if (i < n)
    h[i] = disco_ode_lockstep_step_size (&clocks[i], running[i]);
}

/**
 * disco_ode_lockstep_step_sizes_cuda:
 * @n_samples: B
 * @clocks: B clocks (device)
 * @running: B flags (device)
 * @h: B step sizes (device)
 *
 * disco_ode_lockstep_step_sizes_cpu() on the device, from the same source.
 */
void
disco_ode_lockstep_step_sizes_cuda (gsize n_samples, const DiscoOdeClock *clocks,
                                    const gint *running, float *h)
{
  if (n_samples == 0)
    return;
  REQUIRE (clocks != NULL && running != NULL && h != NULL);

  lockstep_step_sizes_kernel<<<(unsigned int) ((n_samples + BLOCK - 1) / BLOCK), BLOCK>>> (
      n_samples, clocks, running, h);
  check_launch ("ode_lockstep_step_sizes");
}

__global__ void
lockstep_advance_kernel (DiscoOdeClockParams params, size_t n, DiscoOdeClock *clocks,
                         const gint *running, const float *error_norm, gint *keep)
{
  const size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x;

  if (i < n)
    keep[i] = disco_ode_lockstep_advance (&params, &clocks[i], running[i],
                                          error_norm != NULL ? error_norm[i] : 0.0f);
}

/**
 * disco_ode_lockstep_advance_cuda:
 * @params: the controller settings (host)
 * @n_samples: B
 * @clocks: B clocks (device), advanced where running
 * @running: B flags (device)
 * @error_norm: (nullable): B scaled error norms (device); %NULL for
 *   constant steps
 * @keep: B flags (device)
 *
 * disco_ode_lockstep_advance_cpu() on the device, from the same source;
 * the decisions match, the step sizes up to the device's double pow()
 * (≤ 2 ulp), as disco_ode_clock_advance_cuda().
 */
void
disco_ode_lockstep_advance_cuda (const DiscoOdeClockParams *params, gsize n_samples,
                                 DiscoOdeClock *clocks, const gint *running,
                                 const float *error_norm, gint *keep)
{
  REQUIRE (params != NULL);
  if (n_samples == 0)
    return;
  REQUIRE (clocks != NULL && running != NULL && keep != NULL);

  lockstep_advance_kernel<<<(unsigned int) ((n_samples + BLOCK - 1) / BLOCK), BLOCK>>> (
      *params, n_samples, clocks, running, error_norm, keep);
  check_launch ("ode_lockstep_advance");
}

/* One block: each thread tests a strided share of the samples, then the
 * block counts the survivors, so the host reads one integer.  Batches are
 * minibatches (hundreds), well within one block's loop. */
__global__ void
lockstep_stop_kernel (DiscoOdeLockstepLimits limits, size_t n, const DiscoOdeClock *clocks,
                      const gint *at_rest, gint *running, gint *status, gint *n_running)
{
  __shared__ int count;
  int mine = 0;

  if (threadIdx.x == 0)
    count = 0;
  __syncthreads ();
  for (size_t i = threadIdx.x; i < n; i += blockDim.x)
    {
      disco_ode_lockstep_stop (&limits, &clocks[i], at_rest != NULL ? at_rest[i] : 0, &running[i],
                               &status[i]);
      mine += running[i] != 0;
    }
  atomicAdd (&count, mine);
  __syncthreads ();
  if (threadIdx.x == 0)
    *n_running = count;
}

/**
 * disco_ode_lockstep_stop_cuda:
 * @limits: the stop conditions (host)
 * @n_samples: B
 * @clocks: B clocks (device)
 * @at_rest: (nullable): B steady-state flags (device); %NULL when
 *   @limits does not stop at rest
 * @running: B flags (device), cleared where a sample stops
 * @status: B statuses (device), set where a sample stops
 * @n_running: 1 value (device): the samples still running
 *
 * disco_ode_lockstep_stop_cpu() on the device, from the same source.
 */
void
disco_ode_lockstep_stop_cuda (const DiscoOdeLockstepLimits *limits, gsize n_samples,
                              const DiscoOdeClock *clocks, const gint *at_rest, gint *running,
                              gint *status, gint *n_running)
{
  REQUIRE (limits != NULL && n_running != NULL);
  REQUIRE (!limits->steady_state_stop || n_samples == 0 || at_rest != NULL);
  REQUIRE (n_samples == 0 || (clocks != NULL && running != NULL && status != NULL));

  lockstep_stop_kernel<<<1, BLOCK>>> (*limits, n_samples, clocks, at_rest, running, status,
                                      n_running);
  check_launch ("ode_lockstep_stop");
}
