/* disco-equilibrium.h: steady states as fixed points (MODEL.md §2–§5)
 *
 * Shape legend: B = samples in the minibatch, A = samples still iterating,
 * N = the network's state length of one sample, O = outputs (readout units),
 * n_l = units of layer l. A closed-loop state row is [network (N) | c_int (O)]
 * as in disco-closed-loop.h.
 *
 * Training uses only the final state of each solve, so instead of
 * integrating to rest these functions solve f(state) = 0 directly: per unit
 * a scalar Newton iteration in the open loop, and in the closed loop a
 * Newton iteration in the control c (O unknowns per sample) around it. A
 * sample that does not converge, or whose closed loop is not a contraction,
 * is reported as such; the integrator then integrates that sample with the
 * ODE solver instead.
 */
#pragma once

#include "disco-network.h"
#include "disco-leaky-pi.h"

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
 * DiscoEquilibriumConfig:
 * @tolerance: the closed loop has converged when
 *   max_o |c − K·e(y(c))| ≤ @tolerance · max(1, max_o |c|)
 * @max_iterations: closed-loop Newton iterations allowed per sample
 * @contraction_limit: a closed-loop sample fails once the spectral norm of
 *   ∂(K·e(y(c)))/∂c reaches this at an iterate where the Jacobian is
 *   evaluated (always c = 0)
 *
 * Settings of the closed-loop solve (the open loop needs none).
 */
typedef struct
{
  double tolerance;
  guint max_iterations;
  double contraction_limit;
} DiscoEquilibriumConfig;

/**
 * DiscoEquilibriumSampleStats:
 * @iterations: open loop: per-unit Newton iterations, the slowest unit's
 *   per microcircuit layer summed over layers (1 for a network without
 *   microcircuits: one feed-forward pass); closed loop: Newton iterations
 *   (updates of c)
 * @evaluations: passes through the network: forward passes (each solving
 *   every unit for the current c; at c = 0 the open loop's own pass serves
 *   when it converged) plus Jacobian passes (O times the rows of a forward
 *   pass in their products; one per closed-loop iteration, or, where the
 *   pass descends through a weight matrix, only while Newton matrices
 *   need refreshing)
 * @contraction: closed loop: the largest Lipschitz estimate of
 *   c ↦ K·e(y(c)) where the Jacobian was evaluated (0 in the open loop)
 * @status: how the solve ended
 *
 * What one sample's fixed-point solve did.
 */
typedef struct
{
  guint iterations;
  guint evaluations;
  float contraction;
  DiscoEquilibriumStatus status;
} DiscoEquilibriumSampleStats;

typedef struct _DiscoEquilibrium DiscoEquilibrium;

DiscoEquilibrium *disco_equilibrium_new (DiscoNetwork *network);
void disco_equilibrium_free (DiscoEquilibrium *equilibrium);
gboolean disco_equilibrium_open_loop (DiscoEquilibrium *equilibrium, DiscoTensor *input,
                                      float *state, DiscoEquilibriumSampleStats *stats,
                                      GError **error);
gboolean disco_equilibrium_closed_loop (DiscoEquilibrium *equilibrium,
                                        const DiscoEquilibriumConfig *config,
                                        const DiscoControllerSpec *controller,
                                        const float *targets, const float *const *feedback,
                                        gsize n_samples, float *state,
                                        DiscoEquilibriumSampleStats *stats, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiscoEquilibrium, disco_equilibrium_free)

G_END_DECLS
