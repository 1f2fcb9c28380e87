/* disco-feedback.h: feedback weights from the network's Jacobian (MODEL.md §4)
 *
 * Shape legend: B = samples, O = outputs (readout units), n_l = units of
 * layer l. Q_l is stored per sample: B × O × n_l, row-major.
 */
#pragma once

#include "disco-network.h"

G_BEGIN_DECLS

void disco_feedback_compute (DiscoNetwork *network, const float *state, gsize n_samples,
                             gboolean average, float norm, float *const *q);

G_END_DECLS
