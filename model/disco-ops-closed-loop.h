/* disco-ops-closed-loop.h: the closed-loop network and its feedback
 * weights on DiscoOps buffers (the integrator's, on the CPU and on CUDA).
 *
 * SECTION:disco-ops-closed-loop
 * @title: Closed loop on an operations table
 * @short_description: feedback weights from the open-loop state and the
 *   closed-loop right-hand side (MODEL.md §2–§5), for the lockstep solver
 *   on the CPU or CUDA
 *
 * The closed loop written once against a #DiscoOps table's network
 * (disco-ops-network.h):
 *
 *   Q_l   = J_l diag(φ_I′(u_I,l)),  J_L = W_out D_L,  J_{l−1} = J_l W_l D_{l−1}
 *           (one GEMM per layer over the stacked (B·O) × n_l Jacobians: the
 *           weights are shared), then average / clip / normalise per sample;
 *           a rate layer (no interneurons) gets no Q_l and passes J on
 *   f(y)  = the open-loop network on the first N columns, then the
 *           controller (e, c, dc_int, dy += c/τ_out) and the top-down input
 *           du_I −= (c·Q_l)/τ_I of every microcircuit layer
 *
 * Two right-hand sides: disco_ops_closed_loop_rhs() for the lockstep
 * solver (row r is sample r) and disco_ops_closed_loop_rhs_compact() for
 * the compacting solver (packed rows, each sample's target and Q_l found by
 * its index).  tests/kernels/test-ode-network.c checks the values against
 * closed forms and finite differences.
 *
 * Shape legend: B samples, O outputs, N the network's state length, n_l
 * units; a closed-loop state row is [network (N) | c_int (O)], N + O long;
 * Q_l is B × O × n_l.
 */

#pragma once

#include <glib.h>

#include "disco-ops-network.h"

G_BEGIN_DECLS

/**
 * DiscoOpsController:
 * @softmax: %TRUE for e = y* − softmax(y) (cross-entropy), %FALSE for
 *   e = y* − y (MSE)
 * @k_p: proportional gain
 * @k_i: integral gain
 * @leak: λ
 * @tau: τ_c (s), > 0
 *
 * The leaky-PI controller (MODEL.md §3).
 */
typedef struct
{
  gboolean softmax;
  float k_p;
  float k_i;
  float leak;
  float tau;
} DiscoOpsController;

/**
 * DiscoOpsFeedbackOptions:
 * @average: average Q over the minibatch before the rest
 * @clip: clip to [−clip, clip] when > 0
 * @norm: Frobenius norm of each sample's Q_l when > 0
 *
 * The feedback weights' options (the integrator's feedback-average,
 * feedback-clip and feedback-norm).
 */
typedef struct
{
  gboolean average;
  float clip;
  float norm;
} DiscoOpsFeedbackOptions;

/**
 * DiscoOpsClosedLoop:
 *
 * A network under control, its feedback weights and scratch in one
 * table's memory.
 */
typedef struct _DiscoOpsClosedLoop DiscoOpsClosedLoop;

DiscoOpsClosedLoop *disco_ops_closed_loop_new (DiscoOpsNetwork *network,
                                               const DiscoOpsController *controller,
                                               GError **error);

void disco_ops_closed_loop_free (DiscoOpsClosedLoop *loop);

gsize disco_ops_closed_loop_get_state_size (DiscoOpsClosedLoop *loop);

gboolean disco_ops_closed_loop_begin (DiscoOpsClosedLoop *loop, gsize n_samples,
                                      const float *open_loop, const float *targets,
                                      const DiscoOpsFeedbackOptions *options, float *state,
                                      GError **error);

gboolean disco_ops_closed_loop_rhs (gpointer loop, const DiscoOps *ops, gsize n_rows, gsize n_state,
                                    const float *y, float *dydt, GError **error);

void disco_ops_closed_loop_control (DiscoOpsClosedLoop *loop, gsize n_samples, const float *state,
                                    float *control);

const float *disco_ops_closed_loop_get_feedback (DiscoOpsClosedLoop *loop, guint layer);

void disco_ops_closed_loop_set_feedback_destination (DiscoOpsClosedLoop *loop, guint layer,
                                                     float *destination);

gboolean disco_ops_closed_loop_rhs_compact (gpointer loop, gsize n_active, const guint *rows,
                                            const double *t, const float *y, float *dydt,
                                            GError **error);

/**
 * DiscoOpsClosedLoopLane:
 *
 * The scratch of one evaluation at a time, for one block of a batch's
 * samples (disco_ops_closed_loop_get_lane()).
 */
typedef struct _DiscoOpsClosedLoopLane DiscoOpsClosedLoopLane;

DiscoOpsClosedLoopLane *disco_ops_closed_loop_get_lane (DiscoOpsClosedLoop *loop, guint index);

gboolean disco_ops_closed_loop_lane_begin (DiscoOpsClosedLoopLane *lane, gsize first,
                                           gsize n_samples, GError **error);

gboolean disco_ops_closed_loop_lane_rhs_compact (gpointer lane, gsize n_active, const guint *rows,
                                                 const double *t, const float *y, float *dydt,
                                                 GError **error);

gboolean disco_ops_closed_loop_control_compact (DiscoOpsClosedLoop *loop, gsize n_active,
                                                const guint *rows, const float *state,
                                                float *control, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiscoOpsClosedLoop, disco_ops_closed_loop_free)

G_END_DECLS
