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
 * solver had as node code.  The unit sweeps run in stages (see
 * sweep_units()) and agree with the per-unit step to a few ulps
 * (tests/equilibrium/test-equilibrium-kernels.c).  The CUDA twins round
 * every operation as written; they agree to rounding
 * (tests/gpu/test-cuda-equilibrium.c).
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Disco-Kernels"

#include "disco-kernels-equilibrium.h"
#include "disco-parallel.h"

#include <math.h>
#include <string.h>

/* Rows are shared among disco-parallel's threads in pieces of at least
 * this many units (a unit's Newton sweeps cost tens of ns), or of this
 * many feedback-product or Newton values. */
#define UNITS_PIECE_MIN_VALUES 4096
#define PRODUCTS_PIECE_MIN_VALUES 16384

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

/* Units per tile of sweep_units(): its scratch (6 tiles of floats) stays
 * in the L1 cache. */
#define SWEEP_TILE 256

/* One Newton iteration of every unit of a row (eq_unit_step() per unit).
 * Returns TRUE when every step was below the tolerance, i.e. the row has
 * converged with this sweep.
 *
 * One unit's step is a long chain of dependent operations (two
 * exponentials, two logarithms, divisions), longer than the out-of-order
 * window reaches over, so one loop over the units runs at about one
 * instruction per cycle (llvm-mca agrees).  In stages of short chains over
 * a tile of units, each a loop GCC vectorises, it runs twice as fast (2.9
 * against 6.3 ns per unit on this project's 2-core machine, rows of 256
 * units).  The stages compute what eq_unit_step() does, but the compiler
 * fuses products into additions across a stage's boundary in one and not
 * in the other, so a value may differ by a few ulps. */
SWEEP_CLONES static gboolean
sweep_units (gsize n, const DiscoSoftRectifier *phi_e, const DiscoSoftRectifier *phi_i,
             const float *restrict d, const float *restrict f, float *restrict u_e,
             float *restrict u_i, float *restrict rate, float *restrict slope,
             float *restrict inhibitory_slope)
{
  const float e_scale = phi_e->scale, e_sharpness = phi_e->sharpness, e_shift = phi_e->shift;
  const float i_scale = phi_i->scale, i_sharpness = phi_i->sharpness, i_shift = phi_i->shift;
  float z[SWEEP_TILE], e[SWEEP_TILE], r[SWEEP_TILE], dr[SWEEP_TILE], q[SWEEP_TILE];
  float dq[SWEEP_TILE];
  int pending = 0;

  for (gsize first = 0; first < n; first += SWEEP_TILE)
    {
      const gsize m = MIN (SWEEP_TILE, n - first);
      const float *restrict d_t = d + first, *restrict f_t = f + first;
      float *restrict u_e_t = u_e + first;

      for (gsize j = 0; j < m; j++)
        {
          z[j] = e_sharpness * (u_e_t[j] - e_shift);
          e[j] = eq_exp_nonpositive (-fabsf (z[j]));
        }
      for (gsize j = 0; j < m; j++)
        eq_softrect_from_exp (e_scale, e_sharpness, z[j], e[j], &r[j], &dr[j]);
      for (gsize j = 0; j < m; j++)
        {
          z[j] = i_sharpness * ((r[j] - f_t[j]) - i_shift);
          e[j] = eq_exp_nonpositive (-fabsf (z[j]));
        }
      for (gsize j = 0; j < m; j++)
        eq_softrect_from_exp (i_scale, i_sharpness, z[j], e[j], &q[j], &dq[j]);
      for (gsize j = 0; j < m; j++)
        pending |= eq_unit_update (j, d_t, f_t, r[j], dr[j], q[j], dq[j], u_e_t, u_i + first,
                                   rate + first, slope + first, inhibitory_slope + first);
    }
  return pending == 0;
}

/* u_E (n) = the cold start of each unit (eq_cold_start()). */
SWEEP_CLONES static void
cold_start (const DiscoEquilibriumColdStart *start, gsize n, const float *restrict d,
            float *restrict u_e)
{
  const DiscoEquilibriumColdStart grid = *start;

  if (grid.values == NULL)
    memcpy (u_e, d, n * sizeof (float));
  else
    for (gsize j = 0; j < n; j++)
      u_e[j] = eq_cold_start (grid, d[j]);
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

/* f (n) = Σ_o c_o Q_l[o, :], summed in o's order as one product and one
 * addition each (no fused multiply-add, in every clone: the values of the
 * former loop that added c_o Q_l[o, :] into f in memory, kept in registers
 * here, eight units at a time). */
typedef float FloatVector8 __attribute__ ((vector_size (32)));

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif
SWEEP_CLONES static void
top_down_input (gsize n, gsize n_out, const double *control, const float *q, float *f)
{
  gsize j = 0;

  for (; j + 8 <= n; j += 8)
    {
      FloatVector8 sum = { 0 };

      for (gsize o = 0; o < n_out; o++)
        {
          FloatVector8 q_o;

          memcpy (&q_o, q + o * n + j, sizeof q_o);
          sum += (float) control[o] * q_o;
        }
      memcpy (f + j, &sum, sizeof sum);
    }
  for (; j < n; j++)
    {
      float sum = 0.0f;

      for (gsize o = 0; o < n_out; o++)
        sum += (float) control[o] * q[o * n + j];
      f[j] = sum;
    }
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

typedef struct
{
  const DiscoSoftRectifier *phi_e, *phi_i;
  gsize n_rows, n, ld, n_out, n_pieces;
  const guint *rows, *drive_rows;
  float *state, *top_down, *rate, *slope, *inhibitory_slope;
  const float *drive, *q;
  const double *control;
  const DiscoEquilibriumColdStart *cold;
  gboolean first;
  guint *iterations;
  gint *status;
} UnitsJob;

/* The rows [first_row, last_row) of disco_equilibrium_microcircuit_units_cpu(). */
static void
units_rows (const UnitsJob *job, gsize first_row, gsize last_row)
{
  const DiscoSoftRectifier *phi_e = job->phi_e, *phi_i = job->phi_i;
  const gsize n = job->n, ld = job->ld, n_out = job->n_out;
  const guint *rows = job->rows, *drive_rows = job->drive_rows;
  float *state = job->state, *top_down = job->top_down, *rate = job->rate, *slope = job->slope;
  float *inhibitory_slope = job->inhibitory_slope;
  const float *drive = job->drive, *q = job->q;
  const double *control = job->control;
  const DiscoEquilibriumColdStart *cold = job->cold;
  const gboolean first = job->first;
  guint *iterations = job->iterations;
  gint *status = job->status;

  for (gsize r = first_row; r < last_row; r++)
    {
      float *u_e = state + (gsize) rows[r] * ld;
      const float *d = drive + (gsize) (drive_rows != NULL ? drive_rows[r] : r) * n;
      float *restrict f = top_down + r * n;
      gboolean done = FALSE;

      /* f (n) = c · Q_l, with the row's sample's Q_l. */
      if (control != NULL && q != NULL)
        top_down_input (n, n_out, control + (gsize) rows[r] * n_out,
                        q + (gsize) rows[r] * n_out * n, f);
      else
        memset (f, 0, n * sizeof (float));

      if (first)
        {
          iterations[r] = 0;
          status[r] = DISCO_EQUILIBRIUM_CONVERGED;
        }
      /* Start at the cold start or at the state, clipped to ≤ d. */
      if (cold != NULL)
        cold_start (cold, n, d, u_e);
      else
        for (gsize j = 0; j < n; j++)
          u_e[j] = !(u_e[j] < d[j]) ? d[j] : u_e[j];
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

static void
units_piece (gsize piece, gpointer data)
{
  const UnitsJob *job = data;

  units_rows (job, DISCO_PARALLEL_PIECE_FIRST (piece, job->n_pieces, job->n_rows),
              DISCO_PARALLEL_PIECE_LAST (piece, job->n_pieces, job->n_rows));
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
 * @cold: (nullable): where every unit starts (host memory, its values in
 *   host memory too); %NULL: at its state
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
                                          const DiscoEquilibriumColdStart *cold, gboolean first,
                                          float *rate, float *slope, float *inhibitory_slope,
                                          guint *iterations, gint *status)
{
  g_return_if_fail (phi_e != NULL && phi_i != NULL && n > 0 && ld >= 2 * n);
  if (n_rows == 0)
    return;
  g_return_if_fail (rows != NULL && state != NULL && drive != NULL && top_down != NULL);
  g_return_if_fail (rate != NULL && slope != NULL && inhibitory_slope != NULL);
  g_return_if_fail (iterations != NULL && status != NULL);
  g_return_if_fail (control == NULL || q == NULL || n_out > 0);
  g_return_if_fail (cold == NULL || cold->values == NULL || cold->n >= 2);

  {
    UnitsJob job = { phi_e, phi_i,      n_rows,  n,        ld,    n_out,      1,
                     rows,  drive_rows, state,   top_down, rate,  slope,      inhibitory_slope,
                     drive, q,          control, cold,     first, iterations, status };

    job.n_pieces =
        disco_parallel_pieces (n_rows, UNITS_PIECE_MIN_VALUES / n + 1, DISCO_PARALLEL_MAX_PIECES);
    disco_parallel_run (job.n_pieces, units_piece, &job);
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

typedef struct
{
  gsize n_rows, n_out, n, g_stride, n_pieces;
  const guint *rows;
  const float *g, *slope, *inhibitory_slope, *q;
  float *dydc;
} ProductsJob;

static void
products_piece (gsize piece, gpointer data)
{
  const ProductsJob *job = data;
  const gsize n = job->n, n_out = job->n_out;
  g_autofree float *scratch = g_new (float, 2 * n);

  for (gsize r = DISCO_PARALLEL_PIECE_FIRST (piece, job->n_pieces, job->n_rows);
       r < DISCO_PARALLEL_PIECE_LAST (piece, job->n_pieces, job->n_rows); r++)
    {
      const float *restrict s_i = job->inhibitory_slope + r * n;
      float *restrict scaled = scratch;
      float *restrict factor = scratch + n;

      for (gsize j = 0; j < n; j++)
        factor[j] = job->slope == NULL ? s_i[j] : s_i[j] * job->slope[r * n + j];
      add_feedback_products (n_out, n, job->g + r * job->g_stride, n, factor,
                             job->q + (gsize) job->rows[r] * n_out * n, scaled,
                             job->dydc + r * n_out * n_out);
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
  g_return_if_fail (n_out > 0 && n > 0);
  if (n_rows == 0)
    return;
  g_return_if_fail (rows != NULL && g != NULL && inhibitory_slope != NULL && q != NULL);
  g_return_if_fail (dydc != NULL);

  {
    ProductsJob job = { n_rows, n_out, n, g_stride, 1, rows, g, slope, inhibitory_slope, q, dydc };

    job.n_pieces = disco_parallel_pieces (n_rows, PRODUCTS_PIECE_MIN_VALUES / (n_out * n) + 1,
                                          DISCO_PARALLEL_MAX_PIECES);
    disco_parallel_run (job.n_pieces, products_piece, &job);
  }
}

/* The closed loop's per-row steps cost O³ (a Newton solve) or O² (a
 * residual) and some power iterations: a few rows per piece. */
#define CLOSED_LOOP_PIECE_MIN_ROWS(n_out)                                                          \
  (PRODUCTS_PIECE_MIN_VALUES / ((n_out) * (n_out) * (n_out)) + 4)

/* One job of disco_equilibrium_residual_cpu() or _newton_cpu(); the
 * residual reads @residual_control and writes @residual, the Newton step
 * reads @residual and writes @control. */
typedef struct
{
  const DiscoEquilibriumParams *params;
  gsize n_rows, n_out, ld, n_pieces;
  const guint *rows;
  const gint *unit_status;
  gboolean passed, fresh;
  const float *dydc;
  float *y;
  const float *target;
  const double *residual_control;
  double *control, *residual, *newton_matrix;
  DiscoEquilibriumSample *samples;
  double *work;
  gint *keep;
} ClosedLoopJob;

static void
residual_piece (gsize piece, gpointer data)
{
  const ClosedLoopJob *job = data;

  for (gsize r = DISCO_PARALLEL_PIECE_FIRST (piece, job->n_pieces, job->n_rows);
       r < DISCO_PARALLEL_PIECE_LAST (piece, job->n_pieces, job->n_rows); r++)
    eq_residual_row (job->params, job->n_out, r, job->rows, job->unit_status, job->passed, job->y,
                     job->ld, job->target, job->residual_control, job->residual, job->samples,
                     job->work + r * 2 * job->n_out, job->keep);
}

static void
newton_piece (gsize piece, gpointer data)
{
  const ClosedLoopJob *job = data;

  for (gsize r = DISCO_PARALLEL_PIECE_FIRST (piece, job->n_pieces, job->n_rows);
       r < DISCO_PARALLEL_PIECE_LAST (piece, job->n_pieces, job->n_rows); r++)
    eq_newton_row (job->params, job->n_out, r, job->rows, job->fresh, job->dydc, job->y, job->ld,
                   job->target, job->residual, job->control, job->newton_matrix, job->samples,
                   job->work + r * DISCO_EQUILIBRIUM_WORK (job->n_out), job->keep);
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

  {
    ClosedLoopJob job = { params,   n_rows, n_out,   ld,   1,      rows,    unit_status,
                          passed,   FALSE,  NULL,    y,    target, control, NULL,
                          residual, NULL,   samples, work, keep };

    job.n_pieces = disco_parallel_pieces (n_rows, CLOSED_LOOP_PIECE_MIN_ROWS (n_out),
                                          DISCO_PARALLEL_MAX_PIECES);
    disco_parallel_run (job.n_pieces, residual_piece, &job);
  }
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
 * @newton_matrix: B × DISCO_EQUILIBRIUM_NEWTON_SIZE(O): each sample's saved
 *   matrix M and the power iteration's last iterate
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

  {
    ClosedLoopJob job = { params,        n_rows,  n_out, ld,      1,
                          rows,          NULL,    FALSE, fresh,   dydc,
                          (float *) y,   target,  NULL,  control, (double *) residual,
                          newton_matrix, samples, work,  keep };

    job.n_pieces = disco_parallel_pieces (n_rows, CLOSED_LOOP_PIECE_MIN_ROWS (n_out),
                                          DISCO_PARALLEL_MAX_PIECES);
    disco_parallel_run (job.n_pieces, newton_piece, &job);
  }
}

/* φ(x) and φ′(x) (MODEL.md §1) in double, for the cold start's grid. */
static double
softrect_double (const DiscoSoftRectifier *rect, double x, double *slope)
{
  const double z = rect->sharpness * (x - (double) rect->shift);
  const double e = exp (-fabs (z));

  *slope = (double) rect->scale * rect->sharpness * (z >= 0.0 ? 1.0 : e) / (1.0 + e);
  return rect->scale * (MAX (z, 0.0) + log1p (e));
}

/* u + φ_I(φ_E(u)) at u, and its derivative. */
static double
open_loop_residual_double (const DiscoSoftRectifier *phi_e, const DiscoSoftRectifier *phi_i,
                           double u, double *derivative)
{
  double dr, dq;
  const double q = softrect_double (phi_i, softrect_double (phi_e, u, &dr), &dq);

  *derivative = 1.0 + dq * dr;
  return u + q;
}

/* u*(d) in double: Newton from u = d, whose iterates fall monotonically to
 * the root (model/disco-equilibrium.c). */
static double
open_loop_unit_double (const DiscoSoftRectifier *phi_e, const DiscoSoftRectifier *phi_i, double d)
{
  double u = d;

  for (guint i = 0; i < 200; i++)
    {
      double derivative;
      const double step =
          (open_loop_residual_double (phi_e, phi_i, u, &derivative) - d) / derivative;

      u -= step;
      if (!(fabs (step) > 1e-14 * (1.0 + fabs (u))))
        break;
    }
  return u;
}

/**
 * disco_equilibrium_cold_start_values:
 * @phi_e: φ_E, with scale and sharpness > 0
 * @phi_i: φ_I, likewise
 * @grid: (out caller-allocates): the grid; its values (u*(d_k) of
 *   u + φ_I(φ_E(u)) = d, rounded to float) in host memory, to be freed
 *   with g_free()
 *
 * A #DiscoEquilibriumColdStart's grid for a layer: d spans the curved part
 * of u*(d), from where φ_E's argument is −16 to where both φ_E's and φ_I's
 * are 16 (beyond, u* is a line to within e^−16 relative), at the widest
 * step (257 values, doubled up to 16385) whose start, the kernels' own
 * (eq_cold_start()), is within 1e−5·(1 + |u*|) of the solution at every
 * midpoint and at points up to 100 spans beyond either end.
 *
 * Returns: %TRUE when a grid met that tolerance; %FALSE when the finest did
 *   not (its values are still set: the sweeps start less close), or when a
 *   rectifier is not valid (then @grid's values are %NULL: start at u = d)
 */
gboolean
disco_equilibrium_cold_start_values (const DiscoSoftRectifier *phi_e,
                                     const DiscoSoftRectifier *phi_i,
                                     DiscoEquilibriumColdStart *grid)
{
  enum
  {
    FIRST_VALUES = 257,
    MOST_VALUES = 16385,
    OUTSIDE = 6
  };
  const double tolerance = 1e-5, reach = 16.0;
  const double outside[OUTSIDE] = { -100.0, -10.0, -1.0, 1.0, 10.0, 100.0 };
  double lo_derivative, hi_derivative, u_lo, u_hi, d_lo, d_hi;
  float *values = NULL;
  gboolean met = FALSE;

  g_return_val_if_fail (phi_e != NULL && phi_i != NULL && grid != NULL, FALSE);
  *grid = (DiscoEquilibriumColdStart){ NULL, 0.0f, 0.0f, 0, 0.0f, 0.0f };
  if (!(phi_e->scale > 0.0f && phi_e->sharpness > 0.0f && phi_i->scale > 0.0f
        && phi_i->sharpness > 0.0f && isfinite (phi_e->scale * phi_e->sharpness * phi_e->shift)
        && isfinite (phi_i->scale * phi_i->sharpness * phi_i->shift)))
    return FALSE;

  u_lo = phi_e->shift - reach / phi_e->sharpness;
  u_hi = phi_e->shift + reach / phi_e->sharpness
         + MAX (0.0, phi_i->shift + reach / phi_i->sharpness)
               / ((double) phi_e->scale * phi_e->sharpness);
  /* d at the ends, and (u + φ_I(φ_E(u)))′ there: u*'s slopes are 1 / it */
  d_lo = open_loop_residual_double (phi_e, phi_i, u_lo, &lo_derivative);
  d_hi = open_loop_residual_double (phi_e, phi_i, u_hi, &hi_derivative);
  if (!(isfinite (d_lo) && isfinite (d_hi) && d_hi > d_lo))
    return FALSE;

  for (guint count = FIRST_VALUES;; count = 2 * count - 1)
    {
      const float lo = (float) d_lo, inv_step = (float) ((count - 1) / (d_hi - d_lo));
      const double step = 1.0 / inv_step;

      g_free (values);
      values = g_new (float, count);
      for (guint k = 0; k < count; k++)
        values[k] = (float) open_loop_unit_double (phi_e, phi_i, lo + k * step);
      *grid = (DiscoEquilibriumColdStart){
        values, lo, inv_step, count, (float) (step / lo_derivative), (float) (step / hi_derivative),
      };

      met = TRUE;
      for (guint k = 0; k + 1 < count + OUTSIDE && met; k++)
        {
          const double beyond = k + 1 < count ? 0.0 : outside[k + 1 - count];
          const float d = k + 1 < count
                              ? (float) (lo + (k + 0.5) * step)
                              : (float) ((beyond < 0.0 ? d_lo : d_hi) + beyond * (d_hi - d_lo));
          const double exact = open_loop_unit_double (phi_e, phi_i, d);

          met = fabs (eq_cold_start (*grid, d) - exact) <= tolerance * (1.0 + fabs (exact));
        }
      if (met || count >= MOST_VALUES)
        break;
    }
  return met;
}
