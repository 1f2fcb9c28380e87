/* disco-closed-loop.h: the network under top-down control (MODEL.md §3–§5)
 *
 * Shape legend: B = samples, A = samples still integrated, N = the network's
 * state length, O = outputs. A closed-loop state row is the network's state
 * followed by the controller's integral: [network (N) | c_int (O)].
 */
#pragma once

#include "disco-network.h"
#include "disco-leaky-pi.h"
#include "disco-feedback.h"

G_BEGIN_DECLS

typedef struct _DiscoClosedLoop DiscoClosedLoop;

DiscoClosedLoop *disco_closed_loop_new (DiscoNetwork *network,
                                        const DiscoControllerSpec *controller);
void disco_closed_loop_free (DiscoClosedLoop *loop);
gsize disco_closed_loop_get_state_size (DiscoClosedLoop *loop);
gboolean disco_closed_loop_begin (DiscoClosedLoop *loop, const float *open_loop_state,
                                  gsize n_samples, DiscoTensor *targets,
                                  const DiscoFeedbackOptions *options, float *state,
                                  GError **error);
gboolean disco_closed_loop_rhs (gpointer loop, gsize n_active, const guint *rows,
                                const double *t, const float *y, float *dydt, GError **error);
void disco_closed_loop_control (DiscoClosedLoop *loop, const float *state, gsize n_samples,
                                const guint *rows, float *control);
const float *disco_closed_loop_get_feedback (DiscoClosedLoop *loop, guint layer);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiscoClosedLoop, disco_closed_loop_free)

G_END_DECLS
