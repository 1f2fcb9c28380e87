/* disco-kernels-equilibrium.h: the operations of the fixed-point solver
 * (model/disco-equilibrium.c, MODEL.md §2–§5).
 *
 * SECTION:disco-kernels-equilibrium
 * @title: Equilibrium kernels
 * @short_description: per-unit Newton sweeps, top-down products, the
 *   closed loop's O × O Newton step, per sample or per row
 *
 * The solver runs on a #DiscoOps table; this file holds the types of its
 * element-wise and per-row operations besides the table's GEMMs.  The
 * operations themselves are declared and documented in disco-ops-list.h
 * (DISCO_OPS_LIST_EQUILIBRIUM): `disco_<op>_cpu` is the reference
 * (disco-kernels-equilibrium.c), `disco_<op>_cuda` its twin on device
 * pointers (disco-kernels-cuda-equilibrium.cu).  The parameter structs
 * stay on the host for both.
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
} DiscoEquilibriumParams;

/**
 * DiscoEquilibriumColdStart:
 * @values: (array length=n): u*(d_k) at d_k = @lo + k / @inv_step, in the
 *   memory of the table the operation runs on; %NULL: start at u = d
 * @lo: d_0
 * @inv_step: 1 / (d_{k+1} − d_k)
 * @n: the values, ≥ 2
 * @lo_slope: u*'s slope per grid step below the grid
 *   (k = (d − @lo)·@inv_step < 0)
 * @hi_slope: the same above it (k > n − 1)
 *
 * Where a microcircuit layer's units begin their open-loop sweeps: the
 * solution u*(d) of u + φ_I(φ_E(u)) = d (f = 0) interpolated linearly on a
 * grid of d, beyond it extended along u*'s slopes at its ends (u* is a
 * line there, to within e^−16 relative), clipped to ≤ d.  From u = d a
 * unit takes four sweeps on MNIST; from a grid whose interpolation error
 * is below the sweeps' tolerance, one
 * (disco_equilibrium_cold_start_values()).  The start decides only where
 * Newton begins: the fixed point is the same to float precision.
 */
typedef struct
{
  const float *values;
  float lo;
  float inv_step;
  guint n;
  float lo_slope;
  float hi_slope;
} DiscoEquilibriumColdStart;

gboolean disco_equilibrium_cold_start_values (const DiscoSoftRectifier *phi_e,
                                              const DiscoSoftRectifier *phi_i,
                                              DiscoEquilibriumColdStart *grid);

/* Per-unit Newton: at most this many sweeps of a row's units. */
#define DISCO_EQUILIBRIUM_UNIT_MAX_ITERATIONS 50

/* Doubles equilibrium_newton keeps per sample (@newton_matrix's stride):
 * the matrix M (O × O) of its last step, the spectral norm's iterate at
 * the last fresh one (O), the residual F and the step Δc of its last step
 * (O each: Broyden's update). */
#define DISCO_EQUILIBRIUM_NEWTON_SIZE(n_out) ((n_out) * (n_out) + 3 * (n_out))

/* Doubles of scratch one row of equilibrium_newton needs (@work's stride);
 * equilibrium_residual needs 2·O. */
#define DISCO_EQUILIBRIUM_WORK(n_out) (2 * (n_out) * (n_out) + 5 * (n_out))

/* The CPU kernels (disco-ops-list.h documents each). */
DISCO_OPS_LIST_EQUILIBRIUM (DISCO_OPS_CPU_PROTOTYPE)

G_END_DECLS
