/* disco-ops-network.h: the open-loop network right-hand side on DiscoOps
 * buffers.
 *
 * SECTION:disco-ops-network
 * @title: Network right-hand side on an operations table
 * @short_description: a chain of microcircuit or rate layers and a linear
 *   readout (MODEL.md §2 and §6, open loop), on the CPU or CUDA
 *
 * The network's arithmetic for microcircuit, rate and readout layers,
 * written once against a #DiscoOps table, so that both solvers solve the
 * model where its buffers live: the compacting one (disco-ode.h,
 * disco_ops_network_rhs_compact()) and the lockstep one
 * (disco-ode-batched.h, disco_ops_network_rhs()).
 * Per evaluation and layer: one GEMM W_l·r_{l−1} (except the first layer,
 * whose drive W_1·x + b_1 is constant during a solve and computed once per
 * minibatch by disco_ops_network_begin_batch()), then the layer's
 * element-wise kernel.
 *
 * Shape legend: B = samples, F = inputs per sample, n_l = units of layer l,
 * N = state length of one sample: u_E (n_l) | u_I (n_l) per microcircuit
 * layer, u (n_l) per rate layer, then y (n_out) for the readout, input side
 * first.
 */

#pragma once

#include <glib.h>

#include "disco-ode.h"
#include "disco-ops.h"

G_BEGIN_DECLS

/**
 * DiscoOpsLayerKind:
 * @DISCO_OPS_LAYER_MICROCIRCUIT: an E–I microcircuit layer, state u_E | u_I
 * @DISCO_OPS_LAYER_READOUT: the linear readout τ_E dy/dt = −y + W r (no
 *   bias), the last layer
 * @DISCO_OPS_LAYER_RATE: a layer of plain rate units (the backprop
 *   baseline's, MODEL.md §6), state u: τ_E du/dt = −u + W r_prev + b,
 *   rate r = φ_E(u)
 *
 * The kinds of layer the operations-table network has.
 */
typedef enum
{
  DISCO_OPS_LAYER_MICROCIRCUIT,
  DISCO_OPS_LAYER_READOUT,
  DISCO_OPS_LAYER_RATE,
} DiscoOpsLayerKind;

/**
 * DiscoOpsLayer:
 * @kind: the layer's kind
 * @n: units n_l
 * @n_in: inputs (the previous layer's n, or F for the first layer)
 * @weight: (array) (nullable): W_l, n × n_in row-major, host memory
 *   (uploaded); %NULL: set with disco_ops_network_set_parameters()
 * @bias: (array) (nullable): b_l, n values, host memory; ignored by a
 *   readout
 * @phi_e: φ_E
 * @phi_i: φ_I (microcircuit only)
 * @tau_e: τ_E (s), > 0
 * @tau_i: τ_I (s), > 0 (microcircuit only)
 *
 * One layer of the network, as disco_layer_get_spec() describes a node.
 */
typedef struct
{
  DiscoOpsLayerKind kind;
  gsize n;
  gsize n_in;
  const float *weight;
  const float *bias;
  DiscoSoftRectifier phi_e;
  DiscoSoftRectifier phi_i;
  float tau_e;
  float tau_i;
} DiscoOpsLayer;

/**
 * DiscoOpsNetwork:
 *
 * The network's weights and scratch buffers in one table's memory.
 */
typedef struct _DiscoOpsNetwork DiscoOpsNetwork;

DiscoOpsNetwork *disco_ops_network_new (const DiscoOps *ops, guint n_layers,
                                        const DiscoOpsLayer *layers, GError **error);

void disco_ops_network_free (DiscoOpsNetwork *network);

gsize disco_ops_network_get_state_size (DiscoOpsNetwork *network);

guint disco_ops_network_get_n_layers (DiscoOpsNetwork *network);

const DiscoOps *disco_ops_network_get_ops (DiscoOpsNetwork *network);

const DiscoOpsLayer *disco_ops_network_get_layer (DiscoOpsNetwork *network, guint index);

void disco_ops_network_set_parameters (DiscoOpsNetwork *network, guint index, const float *weight,
                                       const float *bias);

gsize disco_ops_network_get_layer_offset (DiscoOpsNetwork *network, guint index);

void disco_ops_affine_rows (const DiscoOps *ops, gsize n_rows, gsize n, gsize n_in, const float *x,
                            const float *weight, const float *bias, const float *ones, float *out);

gboolean disco_ops_network_begin_batch (DiscoOpsNetwork *network, gsize n_samples,
                                        const float *input, GError **error);

gboolean disco_ops_network_rhs (gpointer network, const DiscoOps *ops, gsize n_rows, gsize n_state,
                                const float *y, float *dydt, GError **error);

gboolean disco_ops_network_rhs_strided (DiscoOpsNetwork *network, gsize n_rows, const float *y,
                                        gsize ldy, float *dydt, gsize ldf, GError **error);

gboolean disco_ops_network_rhs_compact (gpointer network, gsize n_active, const guint *rows,
                                        const double *t, const float *y, float *dydt,
                                        GError **error);

/**
 * DiscoOpsNetworkLane:
 *
 * The scratch of one evaluation at a time, for one block of a batch's
 * samples (disco_ops_network_get_lane()).
 */
typedef struct _DiscoOpsNetworkLane DiscoOpsNetworkLane;

DiscoOpsNetworkLane *disco_ops_network_get_lane (DiscoOpsNetwork *network, guint index);

gboolean disco_ops_network_lane_begin (DiscoOpsNetworkLane *lane, gsize first, gsize n_samples,
                                       GError **error);

gboolean disco_ops_network_lane_pack_rows (DiscoOpsNetworkLane *lane, gsize n_active,
                                           const guint *rows, const guint **samples,
                                           guint64 *generation, GError **error);

gboolean disco_ops_network_lane_rhs_compact (gpointer lane, gsize n_active, const guint *rows,
                                             const double *t, const float *y, float *dydt,
                                             GError **error);

gboolean disco_ops_network_lane_rhs_compact_strided (DiscoOpsNetworkLane *lane, gsize n_active,
                                                     const guint *rows, const float *y, gsize ldy,
                                                     float *dydt, gsize ldf, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiscoOpsNetwork, disco_ops_network_free)

G_END_DECLS
