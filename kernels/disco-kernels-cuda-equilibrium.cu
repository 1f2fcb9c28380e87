/* disco-kernels-cuda-equilibrium.cu: the equilibrium solver's kernels on
 * CUDA (disco-kernels-cuda.h; CPU references in disco-kernels-equilibrium.c,
 * the solver in model/disco-equilibrium.c).
 *
 * Shape legend: as disco-kernels-equilibrium.h (A packed rows, rows[r] the
 * sample of row r, B samples, O outputs, n units, ld state row stride).
 *
 * Build: as disco-kernels-cuda.cu (nvcc … -O3 --std=c++17 -fmad=false).
 *
 * Kernels, one version each:
 *   gather_kernel              one thread per element
 *   microcircuit_units_kernel  one block per row: each thread forms the
 *                              top-down input of its units (summing over O
 *                              in the CPU's order), then sweeps them;
 *                              __syncthreads_or() decides after every
 *                              sweep whether any unit of the row still moves,
 *                              as the CPU's row loop does
 *   rate_units_kernel          one block per row (the row's finiteness test
 *                              with __syncthreads_or())
 *   readout_kernel             one thread per row (O is 10)
 *   scale_rows_kernel          one thread per element
 *   feedback_products_kernel   one warp per entry of ∂y/∂c: a dot product of
 *                              length n in lanes, then a shuffle reduction
 *   residual_kernel,           one thread per row: the O × O systems in
 *   newton_kernel              double, the per-row code of
 *                              disco-equilibrium-private.h, on scratch in
 *                              device memory
 * The per-unit and per-row arithmetic is the CPU's own source
 * (disco-equilibrium-private.h).  Agreement with the CPU: the gathers,
 * scales and the top-down inputs are bit-identical to the CPU's baseline
 * x86-64 code (its x86-64-v3 clone may fuse multiply-adds in the sweep);
 * the feedback products sum in another order; the per-row double code
 * differs by CUDA's exp() and sqrt() rounding.
 */

#include "disco-kernels-cuda.h"
#include "disco-cuda-private.h"
#include "disco-cuda-launch.cuh"
#include "disco-equilibrium-private.h"

#include <cuda_runtime.h>

#define GRID_STRIDE(i, total)                                                                      \
  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < (total);                     \
       i += (size_t) gridDim.x * blockDim.x)

/* One block per row, the blocks looping over rows past the grid. */
#define BLOCK_PER_ROW(r, n_rows) for (size_t r = blockIdx.x; r < (n_rows); r += gridDim.x)

static inline unsigned int
grid_for_rows (size_t n_rows)
{
  return (unsigned int) (n_rows < MAX_BLOCKS ? (n_rows > 0 ? n_rows : 1) : MAX_BLOCKS);
}

__global__ void
gather_kernel (size_t n_rows, size_t n_cols, const guint *source, const float *x, size_t ldx,
               float *y, size_t ldy)
{
  GRID_STRIDE (i, n_rows * n_cols)
  {
    const size_t r = i / n_cols, j = i % n_cols;
    const size_t from = source != NULL ? source[r] : r;

    y[r * ldy + j] = x[from * ldx + j];
  }
}

/**
 * disco_equilibrium_gather_cuda:
 * @n_rows: A
 * @n_cols: C
 * @source: (nullable): A row indices into @x; %NULL: row r
 * @x: the rows gathered from, row stride @ldx
 * @ldx: its row stride (0: every row is the first)
 * @y: A × C, written, row stride @ldy (must not overlap @x)
 * @ldy: its row stride, >= C
 *
 * disco_equilibrium_gather_cpu() on the device; bit-identical.
 */
void
disco_equilibrium_gather_cuda (gsize n_rows, gsize n_cols, const guint *source, const float *x,
                               gsize ldx, float *y, gsize ldy)
{
  REQUIRE (ldy >= n_cols);
  if (n_rows == 0 || n_cols == 0)
    return;
  REQUIRE (x != NULL && y != NULL);

  gather_kernel<<<grid_for (n_rows * n_cols), BLOCK>>> (n_rows, n_cols, source, x, ldx, y, ldy);
  check_launch ("equilibrium_gather");
}

__global__ void
microcircuit_units_kernel (DiscoSoftRectifier phi_e, DiscoSoftRectifier phi_i, size_t n_rows,
                           size_t n, const guint *rows, float *state, size_t ld, const float *drive,
                           const guint *drive_rows, size_t n_out, const double *control,
                           const float *q, float *top_down, DiscoEquilibriumColdStart start,
                           bool cold, bool first, float *rate, float *slope,
                           float *inhibitory_slope, guint *iterations, gint *status)
{
  BLOCK_PER_ROW (r, n_rows)
  {
    const size_t s = rows[r];
    float *u_e = state + s * ld;
    const float *d = drive + (size_t) (drive_rows != NULL ? drive_rows[r] : r) * n;
    float *f = top_down + r * n;
    float *rate_r = rate + r * n, *slope_r = slope + r * n;
    float *inhibitory_r = inhibitory_slope + r * n;
    guint converged_at = 0;

    /* f = c · Q_l (each thread its units: no other thread reads them);
       * start at the cold start or at the state, clipped to ≤ d. */
    for (size_t j = threadIdx.x; j < n; j += blockDim.x)
      {
        float sum = 0.0f;

        if (control != NULL && q != NULL)
          for (size_t o = 0; o < n_out; o++)
            sum += (float) control[s * n_out + o] * q[(s * n_out + o) * n + j];
        f[j] = sum;
        u_e[j] = cold ? (start.values != NULL ? eq_cold_start (start, d[j]) : d[j])
                      : (!(u_e[j] < d[j]) ? d[j] : u_e[j]);
      }
    for (guint sweep = 1; sweep <= DISCO_EQUILIBRIUM_UNIT_MAX_ITERATIONS; sweep++)
      {
        int pending = 0;

        for (size_t j = threadIdx.x; j < n; j += blockDim.x)
          pending |=
              eq_unit_step (&phi_e, &phi_i, j, d, f, u_e, u_e + n, rate_r, slope_r, inhibitory_r);
        if (!__syncthreads_or (pending))
          {
            converged_at = sweep;
            break;
          }
      }
    if (converged_at == 0)
      /* No convergence (non-finite drive): keep finite values. */
      for (size_t j = threadIdx.x; j < n; j += blockDim.x)
        {
          u_e[j] = u_e[n + j] = 0.0f;
          rate_r[j] = slope_r[j] = inhibitory_r[j] = 0.0f;
        }
    if (threadIdx.x == 0)
      {
        if (first)
          {
            iterations[r] = 0;
            status[r] = DISCO_EQUILIBRIUM_CONVERGED;
          }
        if (converged_at > 0)
          iterations[r] += converged_at;
        else if (status[r] == DISCO_EQUILIBRIUM_CONVERGED)
          status[r] = DISCO_EQUILIBRIUM_ITERATION_LIMIT;
      }
    __syncthreads ();
  }
}

/**
 * disco_equilibrium_microcircuit_units_cuda:
 * @phi_e: φ_E
 * @phi_i: φ_I
 * @n_rows: A
 * @n: n, > 0
 * @rows: A sample indices
 * @state: the layer's block of the states (u_E | u_I of sample s at
 *   @state + s·@ld)
 * @ld: the states' row stride, >= 2n
 * @drive: the drives: A × n, or rows drive_rows[r] of it
 * @drive_rows: (nullable): A row indices into @drive
 * @n_out: O
 * @control: (nullable): B × O controls c; %NULL: f = 0
 * @q: (nullable): B × O × n feedback weights; %NULL: f = 0
 * @top_down: A × n, written: f = c·Q_l
 * @cold: (nullable): where every unit starts (host memory, its values in
 *   device memory); %NULL: at its state
 * @first: the pass's first layer: iterations and status start afresh
 * @rate: A × n, written
 * @slope: A × n, written
 * @inhibitory_slope: A × n, written
 * @iterations: A, the sweeps added
 * @status: A statuses
 *
 * disco_equilibrium_microcircuit_units_cpu() on the device: the same
 * per-unit arithmetic (the CPU's polynomial φ), rounded as written.
 */
void
disco_equilibrium_microcircuit_units_cuda (const DiscoSoftRectifier *phi_e,
                                           const DiscoSoftRectifier *phi_i, gsize n_rows, gsize n,
                                           const guint *rows, float *state, gsize ld,
                                           const float *drive, const guint *drive_rows, gsize n_out,
                                           const double *control, const float *q, float *top_down,
                                           const DiscoEquilibriumColdStart *cold, gboolean first,
                                           float *rate, float *slope, float *inhibitory_slope,
                                           guint *iterations, gint *status)
{
  REQUIRE (phi_e != NULL && phi_i != NULL && n > 0 && ld >= 2 * n);
  if (n_rows == 0)
    return;
  REQUIRE (rows != NULL && state != NULL && drive != NULL && top_down != NULL);
  REQUIRE (rate != NULL && slope != NULL && inhibitory_slope != NULL);
  REQUIRE (iterations != NULL && status != NULL);
  REQUIRE (control == NULL || q == NULL || n_out > 0);
  REQUIRE (cold == NULL || cold->values == NULL || cold->n >= 2);

  microcircuit_units_kernel<<<grid_for_rows (n_rows), BLOCK>>> (
      *phi_e, *phi_i, n_rows, n, rows, state, ld, drive, drive_rows, n_out, control, q, top_down,
      cold != NULL ? *cold : DiscoEquilibriumColdStart{}, cold != NULL, first, rate, slope,
      inhibitory_slope, iterations, status);
  check_launch ("equilibrium_microcircuit_units");
}

__global__ void
rate_units_kernel (DiscoSoftRectifier phi, size_t n_rows, size_t n, const guint *rows, float *state,
                   size_t ld, const float *drive, bool first, float *rate, float *slope,
                   guint *iterations, gint *status)
{
  BLOCK_PER_ROW (r, n_rows)
  {
    float *u = state + (size_t) rows[r] * ld;
    int not_finite = 0;

    for (size_t j = threadIdx.x; j < n; j += blockDim.x)
      {
        u[j] = drive[r * n + j];
        eq_softrect_pair (phi.scale, phi.sharpness, phi.shift, u[j], &rate[r * n + j],
                          &slope[r * n + j]);
        not_finite |= !isfinite (u[j]);
      }
    not_finite = __syncthreads_or (not_finite);
    if (threadIdx.x == 0)
      {
        if (first)
          {
            iterations[r] = 0;
            status[r] = DISCO_EQUILIBRIUM_CONVERGED;
          }
        if (not_finite && status[r] == DISCO_EQUILIBRIUM_CONVERGED)
          status[r] = DISCO_EQUILIBRIUM_NOT_FINITE;
      }
  }
}

/**
 * disco_equilibrium_rate_units_cuda:
 * @phi: φ
 * @n_rows: A
 * @n: n, > 0
 * @rows: A sample indices
 * @state: the layer's block of the states
 * @ld: the states' row stride, >= n
 * @drive: A × n drives
 * @first: the pass's first layer
 * @rate: A × n, written
 * @slope: A × n, written
 * @iterations: A
 * @status: A statuses
 *
 * disco_equilibrium_rate_units_cpu() on the device.
 */
void
disco_equilibrium_rate_units_cuda (const DiscoSoftRectifier *phi, gsize n_rows, gsize n,
                                   const guint *rows, float *state, gsize ld, const float *drive,
                                   gboolean first, float *rate, float *slope, guint *iterations,
                                   gint *status)
{
  REQUIRE (phi != NULL && n > 0 && ld >= n);
  if (n_rows == 0)
    return;
  REQUIRE (rows != NULL && state != NULL && drive != NULL && rate != NULL);
  REQUIRE (slope != NULL && iterations != NULL && status != NULL);

  rate_units_kernel<<<grid_for_rows (n_rows), BLOCK>>> (*phi, n_rows, n, rows, state, ld, drive,
                                                        first, rate, slope, iterations, status);
  check_launch ("equilibrium_rate_units");
}

__global__ void
readout_kernel (size_t n_rows, size_t n_out, const guint *rows, float *state, size_t ld,
                const float *drive, const double *control, bool first, guint *iterations,
                gint *status)
{
  GRID_STRIDE (r, n_rows)
  {
    eq_readout_row (r, n_out, rows, state, ld, drive, control, first, iterations, status);
  }
}

/**
 * disco_equilibrium_readout_cuda:
 * @n_rows: A
 * @n_out: O, > 0
 * @rows: A sample indices
 * @state: the readout's block of the states
 * @ld: the states' row stride, >= O
 * @drive: A × O drives
 * @control: (nullable): B × O controls c
 * @first: the pass's first layer
 * @iterations: A
 * @status: A statuses
 *
 * disco_equilibrium_readout_cpu() on the device; bit-identical.
 */
void
disco_equilibrium_readout_cuda (gsize n_rows, gsize n_out, const guint *rows, float *state,
                                gsize ld, const float *drive, const double *control, gboolean first,
                                guint *iterations, gint *status)
{
  REQUIRE (n_out > 0 && ld >= n_out);
  if (n_rows == 0)
    return;
  REQUIRE (rows != NULL && state != NULL && drive != NULL);
  REQUIRE (iterations != NULL && status != NULL);

  readout_kernel<<<grid_for (n_rows), BLOCK>>> (n_rows, n_out, rows, state, ld, drive, control,
                                                first, iterations, status);
  check_launch ("equilibrium_readout");
}

__global__ void
scale_rows_kernel (size_t n_rows, size_t n_out, size_t n, const float *in, size_t in_stride,
                   const float *s, float *out)
{
  GRID_STRIDE (i, n_rows * n_out * n)
  {
    const size_t r = i / (n_out * n), o = (i / n) % n_out, j = i % n;

    out[i] = in[r * in_stride + o * n + j] * s[r * n + j];
  }
}

/**
 * disco_equilibrium_scale_rows_cuda:
 * @n_rows: A
 * @n_out: O
 * @n: n
 * @in: A × O × n, rows @in_stride apart (0: one O × n matrix)
 * @in_stride: elements between the rows' matrices
 * @s: A × n scales
 * @out: A × O × n, written (may be @in)
 *
 * disco_equilibrium_scale_rows_cpu() on the device; bit-identical.
 */
void
disco_equilibrium_scale_rows_cuda (gsize n_rows, gsize n_out, gsize n, const float *in,
                                   gsize in_stride, const float *s, float *out)
{
  if (n_rows == 0 || n_out == 0 || n == 0)
    return;
  REQUIRE (in != NULL && s != NULL && out != NULL);

  scale_rows_kernel<<<grid_for (n_rows * n_out * n), BLOCK>>> (n_rows, n_out, n, in, in_stride, s,
                                                               out);
  check_launch ("equilibrium_scale_rows");
}

__global__ void
feedback_products_kernel (size_t n_rows, size_t n_out, size_t n, const guint *rows, const float *g,
                          size_t g_stride, const float *slope, const float *inhibitory_slope,
                          const float *q, float *dydc)
{
  const size_t lane = threadIdx.x % 32, warps = (size_t) gridDim.x * blockDim.x / 32;

  for (size_t w = (blockIdx.x * (size_t) blockDim.x + threadIdx.x) / 32; w < n_rows * n_out * n_out;
       w += warps)
    {
      const size_t r = w / (n_out * n_out), o = (w / n_out) % n_out, k = w % n_out;
      const float *g_row = g + r * g_stride + o * n;
      const float *q_row = q + ((size_t) rows[r] * n_out + k) * n;
      const float *s_i = inhibitory_slope + r * n;
      float sum = 0.0f;

      for (size_t j = lane; j < n; j += 32)
        {
          const float factor = slope == NULL ? s_i[j] : s_i[j] * slope[r * n + j];
          sum += (g_row[j] * factor) * q_row[j];
        }
      for (int offset = 16; offset > 0; offset /= 2)
        sum += __shfl_down_sync (0xffffffffu, sum, offset);
      if (lane == 0)
        dydc[w] += sum;
    }
}

/**
 * disco_equilibrium_feedback_products_cuda:
 * @n_rows: A
 * @n_out: O, > 0
 * @n: n, > 0
 * @rows: A sample indices
 * @g: G_l, O × n per row, @g_stride apart
 * @g_stride: elements between the rows' G_l (0: one for every row)
 * @slope: (nullable): A × n, a factor of G_l not yet applied
 * @inhibitory_slope: A × n
 * @q: B × O × n feedback weights
 * @dydc: A × O × O, added to
 *
 * disco_equilibrium_feedback_products_cpu() on the device (sums in another
 * order).
 */
void
disco_equilibrium_feedback_products_cuda (gsize n_rows, gsize n_out, gsize n, const guint *rows,
                                          const float *g, gsize g_stride, const float *slope,
                                          const float *inhibitory_slope, const float *q,
                                          float *dydc)
{
  REQUIRE (n_out > 0 && n > 0);
  if (n_rows == 0)
    return;
  REQUIRE (rows != NULL && g != NULL && inhibitory_slope != NULL && q != NULL && dydc != NULL);

  /* Every grid is a whole number of warps (BLOCK is 256). */
  feedback_products_kernel<<<grid_for (n_rows * n_out * n_out * 32), BLOCK>>> (
      n_rows, n_out, n, rows, g, g_stride, slope, inhibitory_slope, q, dydc);
  check_launch ("equilibrium_feedback_products");
}

__global__ void
residual_kernel (DiscoEquilibriumParams params, size_t n_rows, size_t n_out, const guint *rows,
                 const gint *unit_status, bool passed, float *y, size_t ld, const float *target,
                 const double *control, double *residual, DiscoEquilibriumSample *samples,
                 double *work, gint *keep)
{
  GRID_STRIDE (r, n_rows)
  eq_residual_row (&params, n_out, r, rows, unit_status, passed, y, ld, target, control, residual,
                   samples, work + r * 2 * n_out, keep);
}

/**
 * disco_equilibrium_residual_cuda:
 * @params: the closed-loop settings (host)
 * @n_rows: A
 * @n_out: O, > 0
 * @rows: A sample indices
 * @unit_status: A statuses of the last pass's units
 * @passed: a forward pass ran for these rows
 * @y: the readout's block of the states (c_int follows y)
 * @ld: the states' row stride, >= 2·O
 * @target: B × O targets
 * @control: B × O controls
 * @residual: B × O, written for the rows
 * @samples: B per-sample records
 * @work: 2·O doubles per row
 * @keep: A, written
 *
 * disco_equilibrium_residual_cpu() on the device (CUDA's exp()).
 */
void
disco_equilibrium_residual_cuda (const DiscoEquilibriumParams *params, gsize n_rows, gsize n_out,
                                 const guint *rows, const gint *unit_status, gboolean passed,
                                 float *y, gsize ld, const float *target, const double *control,
                                 double *residual, DiscoEquilibriumSample *samples, double *work,
                                 gint *keep)
{
  REQUIRE (params != NULL && n_out > 0 && ld >= 2 * n_out);
  if (n_rows == 0)
    return;
  REQUIRE (rows != NULL && unit_status != NULL && y != NULL && target != NULL);
  REQUIRE (control != NULL && residual != NULL && samples != NULL && work != NULL);
  REQUIRE (keep != NULL);

  residual_kernel<<<grid_for (n_rows), BLOCK>>> (*params, n_rows, n_out, rows, unit_status, passed,
                                                 y, ld, target, control, residual, samples, work,
                                                 keep);
  check_launch ("equilibrium_residual");
}

__global__ void
newton_kernel (DiscoEquilibriumParams params, size_t n_rows, size_t n_out, const guint *rows,
               bool fresh, const float *dydc, const float *y, size_t ld, const float *target,
               const double *residual, double *control, double *newton_matrix,
               DiscoEquilibriumSample *samples, double *work, gint *keep)
{
  GRID_STRIDE (r, n_rows)
  eq_newton_row (&params, n_out, r, rows, fresh, dydc, y, ld, target, residual, control,
                 newton_matrix, samples, work + r * DISCO_EQUILIBRIUM_WORK (n_out), keep);
}

/**
 * disco_equilibrium_newton_cuda:
 * @params: the closed-loop settings (host)
 * @n_rows: A
 * @n_out: O, > 0
 * @rows: A sample indices
 * @fresh: M from @dydc (else each sample's saved one)
 * @dydc: A × O × O
 * @y: the readout's block of the states
 * @ld: the states' row stride, >= O
 * @target: B × O targets
 * @residual: B × O, F(c)
 * @control: B × O controls, updated
 * @newton_matrix: B × DISCO_EQUILIBRIUM_NEWTON_SIZE(O): saved matrices and iterates
 * @samples: B per-sample records
 * @work: DISCO_EQUILIBRIUM_WORK(O) doubles per row
 * @keep: A, written
 *
 * disco_equilibrium_newton_cpu() on the device (CUDA's exp() and sqrt()).
 */
void
disco_equilibrium_newton_cuda (const DiscoEquilibriumParams *params, gsize n_rows, gsize n_out,
                               const guint *rows, gboolean fresh, const float *dydc, const float *y,
                               gsize ld, const float *target, const double *residual,
                               double *control, double *newton_matrix,
                               DiscoEquilibriumSample *samples, double *work, gint *keep)
{
  REQUIRE (params != NULL && n_out > 0 && ld >= n_out);
  if (n_rows == 0)
    return;
  REQUIRE (rows != NULL && (dydc != NULL || !fresh) && y != NULL && target != NULL);
  REQUIRE (residual != NULL && control != NULL && newton_matrix != NULL);
  REQUIRE (samples != NULL && work != NULL && keep != NULL);

  newton_kernel<<<grid_for (n_rows), BLOCK>>> (*params, n_rows, n_out, rows, fresh, dydc, y, ld,
                                               target, residual, control, newton_matrix, samples,
                                               work, keep);
  check_launch ("equilibrium_newton");
}
