/* disco-kernels-equilibrium.c: CPU reference of disco-kernels-equilibrium.h,
 * the fixed-point solver's operations (model/disco-equilibrium.c).
 *
 * Shape legend: see disco-kernels-equilibrium.h (A packed rows, rows[r] the
 * sample of row r, B samples, O outputs, n units, ld state row stride).
 *
 * The per-unit sweep and the feedback products are compiled twice on
 * x86-64, for the baseline and for x86-64-v3 (AVX2, FMA), and picked at run
 * time (target_clones); where the v3 clone runs, the compiler may fuse a
 * multiply and an add there.  Unlike the other kernel files, this one is
 * built without -ffp-contract=off (kernels/meson.build), with the flags the
 * solver had as node code, so that its results stay those of that code to
 * the bit.  The CUDA twins round every operation as written; they agree
 * to rounding (tests/gpu/test-cuda-equilibrium.c).
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Disco-Kernels"

#include "disco-kernels-equilibrium.h"

#include <math.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SWEEP_CLONES __attribute__ ((target_clones ("arch=x86-64-v3", "default")))
#else
#define SWEEP_CLONES
#endif

/* GCC if-converts the selects of the sweep (a NaN-keeping clamp, z > 0 ? z
 * : 0) and so vectorises it only when it may assume that nobody reads the
 * floating-point exception flags; that changes no value (the kernels'
 * disco-kernels-fast.c is built with the same flag). */
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("no-trapping-math")
#endif

#include "disco-equilibrium-private.h"

/* One Newton iteration of every unit of a row, a loop GCC vectorises.
 * Returns TRUE when every step was below the tolerance, i.e. the row has
 * converged with this sweep. */
SWEEP_CLONES static gboolean
sweep_units (gsize n, const DiscoSoftRectifier *phi_e, const DiscoSoftRectifier *phi_i,
             const float *restrict d, const float *restrict f, float *restrict u_e,
             float *restrict u_i, float *restrict rate, float *restrict slope,
             float *restrict inhibitory_slope)
{
  int pending = 0;

  for (gsize j = 0; j < n; j++)
    pending |= eq_unit_step (phi_e, phi_i, j, d, f, u_e, u_i, rate, slope, inhibitory_slope);
  return pending == 0;
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

/**
 * disco_equilibrium_gather_cpu:
 * @n_rows: A
 * @n_cols: C
 * @source: (nullable): A row indices into @x; %NULL: row r
 * @x: the rows gathered from, row stride @ldx
 * @ldx: its row stride (0: every row is the first)
 * @y: A × C, written, row stride @ldy (must not overlap @x)
 * @ldy: its row stride, >= C
 *
 * y[r, :] = x[source[r], :].
 */
void
disco_equilibrium_gather_cpu (gsize n_rows, gsize n_cols, const guint *source, const float *x,
                              gsize ldx, float *y, gsize ldy)
{
  g_return_if_fail (ldy >= n_cols);
  if (n_rows == 0 || n_cols == 0)
    return;
  g_return_if_fail (x != NULL && y != NULL);

  for (gsize r = 0; r < n_rows; r++)
    memcpy (y + r * ldy, x + (gsize) (source != NULL ? source[r] : r) * ldx,
            n_cols * sizeof (float));
}

/**
 * disco_equilibrium_microcircuit_units_cpu:
 * @phi_e: φ_E
 * @phi_i: φ_I
 * @n_rows: A
 * @n: n, > 0
 * @rows: A sample indices
 * @state: the layer's block of the states: u_E (n) | u_I (n) of sample s at
 *   @state + s·@ld
 * @ld: the states' row stride, >= 2n
 * @drive: the drives d = W r_prev + b: A × n, or rows drive_rows[r] of it
 * @drive_rows: (nullable): A row indices into @drive, or %NULL: row r
 * @n_out: O (> 0 with @control)
 * @control: (nullable): B × O controls c, double; %NULL: f = 0
 * @q: (nullable): B × O × n feedback weights Q_l; %NULL: f = 0
 * @top_down: A × n, written: the top-down inputs f = c·Q_l
 * @cold: start every unit at u_E = d, not at its state
 * @first: the pass's first layer: iterations and status start afresh
 * @rate: A × n, written
 * @slope: A × n, written: ∂r/∂d = φ_E′·a, a = 1/(1 + φ_I′ φ_E′)
 * @inhibitory_slope: A × n, written: φ_I′(u_I)
 * @iterations: A, the sweeps added
 * @status: A #DiscoEquilibriumStatus values
 *
 * Solves every unit of the A rows by scalar Newton sweeps
 * (disco-kernels-equilibrium.h).
 */
void
disco_equilibrium_microcircuit_units_cpu (const DiscoSoftRectifier *phi_e,
                                          const DiscoSoftRectifier *phi_i, gsize n_rows, gsize n,
                                          const guint *rows, float *state, gsize ld,
                                          const float *drive, const guint *drive_rows, gsize n_out,
                                          const double *control, const float *q, float *top_down,
                                          gboolean cold, gboolean first, float *rate, float *slope,
                                          float *inhibitory_slope, guint *iterations, gint *status)
{
  g_return_if_fail (phi_e != NULL && phi_i != NULL && n > 0 && ld >= 2 * n);
  if (n_rows == 0)
    return;
  g_return_if_fail (rows != NULL && state != NULL && drive != NULL && top_down != NULL);
  g_return_if_fail (rate != NULL && slope != NULL && inhibitory_slope != NULL);
  g_return_if_fail (iterations != NULL && status != NULL);
  g_return_if_fail (control == NULL || q == NULL || n_out > 0);

  for (gsize r = 0; r < n_rows; r++)
    {
      float *u_e = state + (gsize) rows[r] * ld;
      const float *d = drive + (gsize) (drive_rows != NULL ? drive_rows[r] : r) * n;
      float *restrict f = top_down + r * n;
      gboolean done = FALSE;

      /* f (n) = c · Q_l, with the row's sample's Q_l. */
      memset (f, 0, n * sizeof (float));
      if (control != NULL && q != NULL)
        for (gsize o = 0; o < n_out; o++)
          {
            const float c = control[(gsize) rows[r] * n_out + o];
            const float *restrict q_row = q + ((gsize) rows[r] * n_out + o) * n;
            for (gsize j = 0; j < n; j++)
              f[j] += c * q_row[j];
          }

      if (first)
        {
          iterations[r] = 0;
          status[r] = DISCO_EQUILIBRIUM_CONVERGED;
        }
      /* Start at u = d (cold) or at the state, clipped to ≤ d. */
      for (gsize j = 0; j < n; j++)
        u_e[j] = cold || !(u_e[j] < d[j]) ? d[j] : u_e[j];
      for (guint sweep = 1; sweep <= DISCO_EQUILIBRIUM_UNIT_MAX_ITERATIONS && !done; sweep++)
        if (sweep_units (n, phi_e, phi_i, d, f, u_e, u_e + n, rate + r * n, slope + r * n,
                         inhibitory_slope + r * n))
          {
            done = TRUE;
            iterations[r] += sweep;
          }
      if (!done)
        {
          /* No convergence (non-finite drive): keep finite values. */
          if (status[r] == DISCO_EQUILIBRIUM_CONVERGED)
            status[r] = DISCO_EQUILIBRIUM_ITERATION_LIMIT;
          memset (u_e, 0, 2 * n * sizeof (float));
          memset (rate + r * n, 0, n * sizeof (float));
          memset (slope + r * n, 0, n * sizeof (float));
          memset (inhibitory_slope + r * n, 0, n * sizeof (float));
        }
    }
}

/**
 * disco_equilibrium_rate_units_cpu:
 * @phi: φ
 * @n_rows: A
 * @n: n, > 0
 * @rows: A sample indices
 * @state: the layer's block of the states: u (n) of sample s at
 *   @state + s·@ld
 * @ld: the states' row stride, >= n
 * @drive: A × n drives
 * @first: the pass's first layer: iterations and status start afresh
 * @rate: A × n, written
 * @slope: A × n, written: φ′(u)
 * @iterations: A (only reset by @first)
 * @status: A #DiscoEquilibriumStatus values
 *
 * A rate layer at rest: u = d.
 */
void
disco_equilibrium_rate_units_cpu (const DiscoSoftRectifier *phi, gsize n_rows, gsize n,
                                  const guint *rows, float *state, gsize ld, const float *drive,
                                  gboolean first, float *rate, float *slope, guint *iterations,
                                  gint *status)
{
  g_return_if_fail (phi != NULL && n > 0 && ld >= n);
  if (n_rows == 0)
    return;
  g_return_if_fail (rows != NULL && state != NULL && drive != NULL && rate != NULL);
  g_return_if_fail (slope != NULL && iterations != NULL && status != NULL);

  for (gsize r = 0; r < n_rows; r++)
    {
      float *u = state + (gsize) rows[r] * ld;

      if (first)
        {
          iterations[r] = 0;
          status[r] = DISCO_EQUILIBRIUM_CONVERGED;
        }
      memcpy (u, drive + r * n, n * sizeof (float));
      for (gsize j = 0; j < n; j++)
        eq_softrect_pair (phi->scale, phi->sharpness, phi->shift, u[j], &rate[r * n + j],
                          &slope[r * n + j]);
      if (status[r] == DISCO_EQUILIBRIUM_CONVERGED)
        for (gsize j = 0; j < n; j++)
          if (!isfinite (u[j]))
            status[r] = DISCO_EQUILIBRIUM_NOT_FINITE;
    }
}

/**
 * disco_equilibrium_readout_cpu:
 * @n_rows: A
 * @n_out: O, > 0
 * @rows: A sample indices
 * @state: the readout's block of the states: y (O) of sample s at
 *   @state + s·@ld
 * @ld: the states' row stride, >= O
 * @drive: A × O drives W_out r_L
 * @control: (nullable): B × O controls c, double (rounded to float)
 * @first: the pass's first layer: iterations and status start afresh
 * @iterations: A (only reset by @first)
 * @status: A #DiscoEquilibriumStatus values
 *
 * y = d + c; a non-finite y makes a converged row NOT_FINITE.
 */
void
disco_equilibrium_readout_cpu (gsize n_rows, gsize n_out, const guint *rows, float *state, gsize ld,
                               const float *drive, const double *control, gboolean first,
                               guint *iterations, gint *status)
{
  g_return_if_fail (n_out > 0 && ld >= n_out);
  if (n_rows == 0)
    return;
  g_return_if_fail (rows != NULL && state != NULL && drive != NULL);
  g_return_if_fail (iterations != NULL && status != NULL);

  for (gsize r = 0; r < n_rows; r++)
    eq_readout_row (r, n_out, rows, state, ld, drive, control, first, iterations, status);
}

/**
 * disco_equilibrium_scale_rows_cpu:
 * @n_rows: A
 * @n_out: O
 * @n: n
 * @in: A × O × n, rows @in_stride apart (0: one O × n matrix)
 * @in_stride: elements between the rows' matrices
 * @s: A × n scales
 * @out: A × O × n, written (may be @in)
 *
 * out[r, o, j] = in[r·in_stride + o·n + j] · s[r, j].
 */
void
disco_equilibrium_scale_rows_cpu (gsize n_rows, gsize n_out, gsize n, const float *in,
                                  gsize in_stride, const float *s, float *out)
{
  if (n_rows == 0 || n_out == 0 || n == 0)
    return;
  g_return_if_fail (in != NULL && s != NULL && out != NULL);

  for (gsize r = 0; r < n_rows; r++)
    for (gsize o = 0; o < n_out; o++)
      {
        const float *in_row = in + r * in_stride + o * n;
        const float *s_r = s + r * n;
        float *out_row = out + (r * n_out + o) * n;

        for (gsize j = 0; j < n; j++)
          out_row[j] = in_row[j] * s_r[j];
      }
}

/* Σ_j a_j b_j over n floats, in four independent vector accumulators (one
 * chain of additions would be bound by their latency). GCC's and clang's
 * vector extension: two SSE registers per vector on the baseline, one AVX
 * register in the x86-64-v3 clone. */
typedef float Float8 __attribute__ ((vector_size (8 * sizeof (float))));

static inline __attribute__ ((always_inline)) float
dot (const float *restrict a, const float *restrict b, gsize n)
{
  Float8 acc0 = { 0 }, acc1 = { 0 }, acc2 = { 0 }, acc3 = { 0 }, x0, x1, x2, x3, y0, y1, y2, y3;
  float sum = 0;
  gsize j = 0;

  for (; j + 32 <= n; j += 32)
    {
      memcpy (&x0, a + j, sizeof x0);
      memcpy (&x1, a + j + 8, sizeof x1);
      memcpy (&x2, a + j + 16, sizeof x2);
      memcpy (&x3, a + j + 24, sizeof x3);
      memcpy (&y0, b + j, sizeof y0);
      memcpy (&y1, b + j + 8, sizeof y1);
      memcpy (&y2, b + j + 16, sizeof y2);
      memcpy (&y3, b + j + 24, sizeof y3);
      acc0 += x0 * y0;
      acc1 += x1 * y1;
      acc2 += x2 * y2;
      acc3 += x3 * y3;
    }
  for (; j + 8 <= n; j += 8)
    {
      memcpy (&x0, a + j, sizeof x0);
      memcpy (&y0, b + j, sizeof y0);
      acc0 += x0 * y0;
    }
  acc0 = (acc0 + acc1) + (acc2 + acc3);
  for (guint k = 0; k < 8; k++)
    sum += acc0[k];
  for (; j < n; j++)
    sum += a[j] * b[j];
  return sum;
}

/* m (O × O) += (g ⊙ factor) qᵀ, for g and q O × n (rows of g @ld_g apart):
 * one sample's G_l diag(φ_I′) Q_lᵀ, O² dot products of length n (too small
 * for BLAS to pay off). @scaled: n scratch floats. */
SWEEP_CLONES static void
add_feedback_products (gsize O, gsize n, const float *g, gsize ld_g, const float *restrict factor,
                       const float *q, float *restrict scaled, float *m)
{
  for (gsize o = 0; o < O; o++)
    {
      const float *restrict g_row = g + o * ld_g;

      for (gsize j = 0; j < n; j++)
        scaled[j] = g_row[j] * factor[j];
      for (gsize k = 0; k < O; k++)
        m[o * O + k] += dot (scaled, q + k * n, n);
    }
}

/**
 * disco_equilibrium_feedback_products_cpu:
 * @n_rows: A
 * @n_out: O, > 0
 * @n: n, > 0
 * @rows: A sample indices
 * @g: G_l: O × n per row, @g_stride apart (0: one for every row)
 * @g_stride: elements between the rows' G_l
 * @slope: (nullable): A × n, ∂r/∂d of the layer, a factor of G_l not yet
 *   applied (%NULL: none)
 * @inhibitory_slope: A × n, φ_I′(u_I)
 * @q: B × O × n feedback weights Q_l
 * @dydc: A × O × O, added to
 *
 * ∂y/∂c += G_l diag(φ_I′) Q_lᵀ per row.
 */
void
disco_equilibrium_feedback_products_cpu (gsize n_rows, gsize n_out, gsize n, const guint *rows,
                                         const float *g, gsize g_stride, const float *slope,
                                         const float *inhibitory_slope, const float *q, float *dydc)
{
  g_autofree float *scratch = NULL;

  g_return_if_fail (n_out > 0 && n > 0);
  if (n_rows == 0)
    return;
  g_return_if_fail (rows != NULL && g != NULL && inhibitory_slope != NULL && q != NULL);
  g_return_if_fail (dydc != NULL);

  scratch = g_new (float, 2 * n);
  for (gsize r = 0; r < n_rows; r++)
    {
      const float *restrict s_i = inhibitory_slope + r * n;
      float *restrict scaled = scratch;
      float *restrict factor = scratch + n;

      for (gsize j = 0; j < n; j++)
        factor[j] = slope == NULL ? s_i[j] : s_i[j] * slope[r * n + j];
      add_feedback_products (n_out, n, g + r * g_stride, n, factor, q + (gsize) rows[r] * n_out * n,
                             scaled, dydc + r * n_out * n_out);
    }
}

/**
 * disco_equilibrium_residual_cpu:
 * @params: the closed-loop settings
 * @n_rows: A
 * @n_out: O, > 0
 * @rows: A sample indices
 * @unit_status: A statuses of the last pass's units
 * @passed: a forward pass ran for these rows (counted as an evaluation)
 * @y: the readout's block of the B × @ld states (c_int follows y)
 * @ld: the states' row stride, >= 2·O
 * @target: B × O targets y*
 * @control: B × O controls c
 * @residual: B × O, written for the rows: F(c)
 * @samples: B per-sample records
 * @work: 2·O doubles per row
 * @keep: A, written: 0 done or failed, 1 goes on, 2 goes on with a fresh
 *   Newton matrix
 *
 * The residual and the decisions of one closed-loop iterate
 * (disco-kernels-equilibrium.h).
 */
void
disco_equilibrium_residual_cpu (const DiscoEquilibriumParams *params, gsize n_rows, gsize n_out,
                                const guint *rows, const gint *unit_status, gboolean passed,
                                float *y, gsize ld, const float *target, const double *control,
                                double *residual, DiscoEquilibriumSample *samples, double *work,
                                gint *keep)
{
  g_return_if_fail (params != NULL && n_out > 0 && ld >= 2 * n_out);
  if (n_rows == 0)
    return;
  g_return_if_fail (rows != NULL && unit_status != NULL && y != NULL && target != NULL);
  g_return_if_fail (control != NULL && residual != NULL && samples != NULL && work != NULL);
  g_return_if_fail (keep != NULL);

  for (gsize r = 0; r < n_rows; r++)
    eq_residual_row (params, n_out, r, rows, unit_status, passed, y, ld, target, control, residual,
                     samples, work + r * 2 * n_out, keep);
}

/**
 * disco_equilibrium_newton_cpu:
 * @params: the closed-loop settings
 * @n_rows: A
 * @n_out: O, > 0
 * @rows: A sample indices
 * @fresh: M from @dydc (else each sample's saved one)
 * @dydc: A × O × O, ∂y/∂c of the rows (read when @fresh)
 * @y: the readout's block of the B × @ld states
 * @ld: the states' row stride, >= O
 * @target: B × O targets y*
 * @residual: B × O, F(c)
 * @control: B × O controls c, updated
 * @newton_matrix: B × O × O saved matrices M
 * @samples: B per-sample records
 * @work: DISCO_EQUILIBRIUM_WORK(O) doubles per row
 * @keep: A, written: 1 updated, 0 failed
 *
 * One Newton update of c per row (disco-kernels-equilibrium.h).
 */
void
disco_equilibrium_newton_cpu (const DiscoEquilibriumParams *params, gsize n_rows, gsize n_out,
                              const guint *rows, gboolean fresh, const float *dydc, const float *y,
                              gsize ld, const float *target, const double *residual,
                              double *control, double *newton_matrix,
                              DiscoEquilibriumSample *samples, double *work, gint *keep)
{
  g_return_if_fail (params != NULL && n_out > 0 && ld >= n_out);
  if (n_rows == 0)
    return;
  g_return_if_fail (rows != NULL && (dydc != NULL || !fresh) && y != NULL && target != NULL);
  g_return_if_fail (residual != NULL && control != NULL && newton_matrix != NULL);
  g_return_if_fail (samples != NULL && work != NULL && keep != NULL);

  for (gsize r = 0; r < n_rows; r++)
    eq_newton_row (params, n_out, r, rows, fresh, dydc, y, ld, target, residual, control,
                   newton_matrix, samples, work + r * DISCO_EQUILIBRIUM_WORK (n_out), keep);
}
