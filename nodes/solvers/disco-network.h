/* disco-network.h: a chain of layer nodes, described
 *
 * The layers an integrator drives, input side first, and where each
 * layer's state sits in a sample's state; the arithmetic on them is
 * model/disco-ops-network.h and disco-ops-closed-loop.h.
 *
 * Shape legend: N = state length of one sample, n_l = units of layer l.
 *
 * State of one sample, layer after layer, input side first:
 *   microcircuit: u_E (n_l), u_I (n_l);  rate layer: u (n_l);  readout: y (n_out).
 */
#pragma once

#include "disco-layer.h"

G_BEGIN_DECLS

typedef struct _DiscoNetwork DiscoNetwork;

DiscoNetwork *disco_network_new (DiscoNode *integrator, const char *port, GError **error);
void disco_network_free (DiscoNetwork *network);
gsize disco_network_get_state_size (DiscoNetwork *network);
guint disco_network_get_n_layers (DiscoNetwork *network);
const DiscoLayerSpec *disco_network_get_layer (DiscoNetwork *network, guint index);
gsize disco_network_get_layer_offset (DiscoNetwork *network, guint index);
DiscoTensor *disco_network_get_input (DiscoNetwork *network, GError **error);
double disco_network_flops_per_sample (DiscoNetwork *network);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiscoNetwork, disco_network_free)

G_END_DECLS
