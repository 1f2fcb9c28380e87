/* disco-feedback.h: feedback weights from the network's Jacobian (MODEL.md §4)
 *
 * Shape legend: B = samples, O = outputs (readout units), n_l = units of
 * layer l. Q_l is stored per sample: B × O × n_l, row-major.
 */
#pragma once

#include "disco-network.h"

G_BEGIN_DECLS

/**
 * DiscoFeedbackOptions:
 * @average: average Q over the minibatch ("average Jacobian")
 * @clip: clip every entry to [−clip, clip] after averaging; 0: no clipping
 * @norm: scale each sample's Q_l to this Frobenius norm; 0: no normalisation
 *
 * The reference's feedback-weight modifications, applied in its order.
 */
typedef struct
{
  gboolean average;
  float clip;
  float norm;
} DiscoFeedbackOptions;

void disco_feedback_compute (DiscoNetwork *network, const float *state, gsize n_samples,
                             const DiscoFeedbackOptions *options, float *const *q);

G_END_DECLS
