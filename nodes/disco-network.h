/* disco-network.h: a chain of layer nodes as one ODE right-hand side
 *
 * Shape legend: B = samples in the minibatch, A = samples still being
 * integrated (the solver packs them), N = state length of one sample,
 * F = input features, n_l = units of layer l.
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

gboolean disco_network_begin_batch (DiscoNetwork *network, DiscoTensor *input, GError **error);
gboolean disco_network_rhs (gpointer network, gsize n_active, const guint *rows,
                            const double *t, const float *y, float *dydt, GError **error);
gboolean disco_network_publish (DiscoNetwork *network, const float *state, gsize n_samples,
                                DiscoTensor **output, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiscoNetwork, disco_network_free)

G_END_DECLS
