/* disco-kernels-equilibrium.h: the operations of the fixed-point solver
 * (model/disco-equilibrium.c, MODEL.md §2–§5).
 *
 * SECTION:disco-kernels-equilibrium
 * @title: Equilibrium kernels
 * @short_description: per-unit Newton sweeps, top-down products, the
 *   closed loop's O × O Newton step, per sample or per row
 *
 * The solver runs on a #DiscoOps table; these are its element-wise and
 * per-row operations besides the table's GEMMs.  `disco_<op>_cpu` is the
 * reference (disco-kernels-equilibrium.c), `disco_<op>_cuda` its twin on
 * device pointers (disco-kernels-cuda-equilibrium.cu).  The parameter
 * structs stay on the host for both.
 *
 * Shape legend:
 *   B     = samples of the minibatch (per-sample arrays are indexed by sample)
 *   A     = rows still iterating, packed (per-row arrays are indexed by row)
 *   rows  = A sample indices: row r works on sample rows[r]
 *   O     = outputs (readout units), n = units of the layer worked on
 *   ld    = row stride of the state (N open loop, N + O closed loop); state
 *           pointers point at the layer's block of sample 0's row
 */

#pragma once

#include <glib.h>

#include "disco-kernels.h"

G_BEGIN_DECLS

/**
 * DiscoEquilibriumStatus:
 * @DISCO_EQUILIBRIUM_CONVERGED: the fixed point was found
 * @DISCO_EQUILIBRIUM_ITERATION_LIMIT: the closed-loop Newton iteration (or a
 *   unit's scalar one) reached its limit
 * @DISCO_EQUILIBRIUM_NOT_FALLING: the closed-loop residual did not fall
 *   from one Newton iteration to the next
 * @DISCO_EQUILIBRIUM_NOT_CONTRACTING: the map c ↦ K·e(y(c)) had a Lipschitz
 *   estimate at or above the limit at some iterate: its fixed point need not
 *   be unique nor the one the dynamics reach
 * @DISCO_EQUILIBRIUM_NOT_FINITE: a non-finite value, or a singular Newton
 *   system
 * @DISCO_EQUILIBRIUM_UNSUPPORTED: no fixed point to solve for: the
 *   controller has no leak (λ = 0)
 *
 * How the fixed-point solve of one sample ended.
 */
typedef enum
{
  DISCO_EQUILIBRIUM_CONVERGED,
  DISCO_EQUILIBRIUM_ITERATION_LIMIT,
  DISCO_EQUILIBRIUM_NOT_FALLING,
  DISCO_EQUILIBRIUM_NOT_CONTRACTING,
  DISCO_EQUILIBRIUM_NOT_FINITE,
  DISCO_EQUILIBRIUM_UNSUPPORTED,
} DiscoEquilibriumStatus;

/**
 * DiscoEquilibriumSample:
 * @last_norm: max|F| of the previous iterate (∞ before the first)
 * @contraction: the largest Lipschitz estimate of c ↦ K·e(y(c)) so far
 * @iterations: closed-loop Newton iterations (updates of c)
 * @evaluations: passes through the network (forward and Jacobian)
 * @status: a #DiscoEquilibriumStatus
 * @stale: the last update reused an older Newton matrix
 * @refresh: the next update needs a fresh one
 *
 * One sample's closed-loop bookkeeping, in the table's memory (B of them).
 */
typedef struct
{
  double last_norm;
  float contraction;
  guint iterations;
  guint evaluations;
  gint status;
  gint stale;
  gint refresh;
} DiscoEquilibriumSample;

/**
 * DiscoEquilibriumParams:
 * @tolerance: converged when max_o |F| ≤ @tolerance · max(1, max_o |c|)
 * @gain: K = k_i/λ + k_p
 * @contraction_limit: a sample fails once the spectral norm of K·H·∂y/∂c
 *   reaches this
 * @leak: λ (> 0): at rest c_int = e/λ
 * @max_iterations: Newton iterations allowed per sample
 * @softmax: e = y* − softmax(y) (%TRUE) or y* − y
 * @costly: the Jacobian pass descends through a weight matrix: a sample
 *   keeps its Newton matrix while each step cuts its residual tenfold
 *
 * The closed-loop settings, host memory.
 */
typedef struct
{
  double tolerance;
  double gain;
  double contraction_limit;
  float leak;
  guint max_iterations;
  gboolean softmax;
  gboolean costly;
} DiscoEquilibriumParams;

/* Per-unit Newton: at most this many sweeps of a row's units. */
#define DISCO_EQUILIBRIUM_UNIT_MAX_ITERATIONS 50

/* Doubles of scratch one row of equilibrium_newton needs (@work's stride);
 * equilibrium_residual needs 2·O. */
#define DISCO_EQUILIBRIUM_WORK(n_out) (2 * (n_out) * (n_out) + 5 * (n_out))

/* ---------------------------------------------------------------------------
 * One pass through the network for the A rows (MODEL.md §2–§3)
 *
 *   gather:               y[r, :] = x[source[r], :]  (source NULL: row r;
 *                         ldx 0 broadcasts one row, e.g. a bias)
 *   microcircuit_units:   first the row's top-down input
 *                         f = Σ_o c[rows[r], o] · Q[rows[r], o, :] (f_l = c·Q_l;
 *                         c in double, rounded to float; summed over o in
 *                         order from 0; 0 without c or Q), written to
 *                         @top_down; then every unit of a row solves
 *                         u_E + φ_I(φ_E(u_E) − f) = d, d the row's drive
 *                         (row drive_rows[r] of @drive when given, e.g. the
 *                         first layer's B × n drive), by scalar Newton
 *                         sweeps from u_E = d (cold) or
 *                         its state clipped to ≤ d, until a sweep's steps
 *                         are all below 1e−4·(1 + |u|); writes u_E | u_I of
 *                         the sample's state, the rates, ∂r/∂d and φ_I′
 *                         (A × n each), adds the sweeps to iterations[r];
 *                         after 50 sweeps the row gets ITERATION_LIMIT and
 *                         zeros.  @first: the pass's first layer, which
 *                         resets iterations[r] = 0 and status[r] = CONVERGED
 *   rate_units:           u = d, r = φ(u), ∂r/∂d = φ′(u); NOT_FINITE on a
 *                         non-finite u (@first as above)
 *   readout:              y = d + c (c NULL: + 0); NOT_FINITE on a
 *                         non-finite y (@first as above)
 * ------------------------------------------------------------------------- */

void disco_equilibrium_gather_cpu             (gsize                     n_rows,
                                               gsize                     n_cols,
                                               const guint              *source,
                                               const float              *x,
                                               gsize                     ldx,
                                               float                    *y,
                                               gsize                     ldy);

void disco_equilibrium_microcircuit_units_cpu (const DiscoSoftRectifier *phi_e,
                                               const DiscoSoftRectifier *phi_i,
                                               gsize                     n_rows,
                                               gsize                     n,
                                               const guint              *rows,
                                               float                    *state,
                                               gsize                     ld,
                                               const float              *drive,
                                               const guint              *drive_rows,
                                               gsize                     n_out,
                                               const double             *control,
                                               const float              *q,
                                               float                    *top_down,
                                               gboolean                  cold,
                                               gboolean                  first,
                                               float                    *rate,
                                               float                    *slope,
                                               float                    *inhibitory_slope,
                                               guint                    *iterations,
                                               gint                     *status);

void disco_equilibrium_rate_units_cpu         (const DiscoSoftRectifier *phi,
                                               gsize                     n_rows,
                                               gsize                     n,
                                               const guint              *rows,
                                               float                    *state,
                                               gsize                     ld,
                                               const float              *drive,
                                               gboolean                  first,
                                               float                    *rate,
                                               float                    *slope,
                                               guint                    *iterations,
                                               gint                     *status);

void disco_equilibrium_readout_cpu            (gsize                     n_rows,
                                               gsize                     n_out,
                                               const guint              *rows,
                                               float                    *state,
                                               gsize                     ld,
                                               const float              *drive,
                                               const double             *control,
                                               gboolean                  first,
                                               guint                    *iterations,
                                               gint                     *status);

/* ---------------------------------------------------------------------------
 * The Jacobian ∂y/∂c (A × O × O) in reverse mode, G_l = ∂y/∂d_l (O × n_l)
 *
 *   scale_rows:           out[r, o, j] = in[r·in_stride + o·n + j] · s[r, j]
 *                         (in_stride 0: one O × n matrix for every row;
 *                         out may be in)
 *   feedback_products:    dydc[r] += (G_r ⊙ factor_r) Q_{rows[r]}ᵀ, with
 *                         factor = φ_I′ · s (s given) or φ_I′ (s NULL),
 *                         G_r = g + r·g_stride (O × n; g_stride 0 shares one)
 * ------------------------------------------------------------------------- */

void disco_equilibrium_scale_rows_cpu         (gsize                     n_rows,
                                               gsize                     n_out,
                                               gsize                     n,
                                               const float              *in,
                                               gsize                     in_stride,
                                               const float              *s,
                                               float                    *out);

void disco_equilibrium_feedback_products_cpu  (gsize                     n_rows,
                                               gsize                     n_out,
                                               gsize                     n,
                                               const guint              *rows,
                                               const float              *g,
                                               gsize                     g_stride,
                                               const float              *slope,
                                               const float              *inhibitory_slope,
                                               const float              *q,
                                               float                    *dydc);

/* ---------------------------------------------------------------------------
 * The closed loop's Newton iteration in c, per row (sample s = rows[r])
 *
 *   residual: unless the row's units failed (status[s] = their status):
 *             e = y* − softmax(y) (or y* − y), F = c − K e (B × O, double);
 *             converged (max|F| ≤ tol·max(1, max|c|)): c_int = e/λ into the
 *             state (just after y); else ITERATION_LIMIT, NOT_FALLING (max|F|
 *             did not fall after a fresh matrix) or NOT_FINITE; a row that
 *             goes on gets keep[r] = 1, or 2 when its next update needs a
 *             fresh Newton matrix; 0 otherwise.  evaluations += @passed.
 *             @work: 2·O doubles per row
 *   newton:   M = K·H·∂y/∂c (H = diag(p) − p pᵀ, or I), fresh from @dydc or
 *             the sample's saved one; a fresh M's spectral norm (power
 *             iteration on MᵀM) fails the sample at or above the limit;
 *             then (I + M) Δ = F in double by partial pivoting, c −= Δ,
 *             iterations += 1, keep[r] = 1 (0 on failure).  @work:
 *             DISCO_EQUILIBRIUM_WORK(O) doubles per row
 * ------------------------------------------------------------------------- */

void disco_equilibrium_residual_cpu           (const DiscoEquilibriumParams *params,
                                               gsize                         n_rows,
                                               gsize                         n_out,
                                               const guint                  *rows,
                                               const gint                   *unit_status,
                                               gboolean                      passed,
                                               float                        *y,
                                               gsize                         ld,
                                               const float                  *target,
                                               const double                 *control,
                                               double                       *residual,
                                               DiscoEquilibriumSample       *samples,
                                               double                       *work,
                                               gint                         *keep);

void disco_equilibrium_newton_cpu             (const DiscoEquilibriumParams *params,
                                               gsize                         n_rows,
                                               gsize                         n_out,
                                               const guint                  *rows,
                                               gboolean                      fresh,
                                               const float                  *dydc,
                                               const float                  *y,
                                               gsize                         ld,
                                               const float                  *target,
                                               const double                 *residual,
                                               double                       *control,
                                               double                       *newton_matrix,
                                               DiscoEquilibriumSample       *samples,
                                               double                       *work,
                                               gint                         *keep);

G_END_DECLS
