/* disco-equilibrium.h: steady states as fixed points (MODEL.md §2–§5)
 *
 * Shape legend: B = samples in the minibatch, A = samples still iterating,
 * F = inputs per sample, N = the network's state length of one sample,
 * O = outputs (readout units), n_l = units of layer l. A closed-loop state
 * row is [network (N) | c_int (O)] as in disco-ops-closed-loop.h.
 *
 * Training uses only the final state of each solve, so instead of
 * integrating to rest these functions solve f(state) = 0 directly: per unit
 * a scalar Newton iteration in the open loop, and in the closed loop a
 * Newton iteration in the control c (O unknowns per sample) around it. A
 * sample that does not converge, or whose closed loop is not a contraction,
 * is reported as such; the integrator then integrates that sample with the
 * ODE solver instead.
 *
 * The solver is written once against a #DiscoOps table (disco-ops.h): the
 * same lines run on the host table and on CUDA. Every buffer the functions
 * take (inputs, parameters, targets, feedback weights, states) lives in
 * that table's memory; the statistics are host arrays.
 */
#pragma once

#include "disco-ops.h"
#include "disco-ops-closed-loop.h"
#include "disco-ops-network.h"
#include "disco-kernels-equilibrium.h"

G_BEGIN_DECLS

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

DiscoEquilibrium *disco_equilibrium_new (guint n_layers, const DiscoOpsLayer *layers);
void disco_equilibrium_free (DiscoEquilibrium *equilibrium);
gsize disco_equilibrium_get_state_size (DiscoEquilibrium *equilibrium);
void disco_equilibrium_set_parameters (DiscoEquilibrium *equilibrium, guint index,
                                       const float *weight, const float *bias);
gboolean disco_equilibrium_open_loop (DiscoEquilibrium *equilibrium, const DiscoOps *ops,
                                      gsize n_samples, const float *input, float *state,
                                      DiscoEquilibriumSampleStats *stats, GError **error);
gboolean disco_equilibrium_closed_loop (DiscoEquilibrium *equilibrium,
                                        const DiscoEquilibriumConfig *config,
                                        const DiscoOpsController *controller, const float *targets,
                                        const float *const *feedback, gsize n_samples, float *state,
                                        DiscoEquilibriumSampleStats *stats, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiscoEquilibrium, disco_equilibrium_free)

G_END_DECLS
