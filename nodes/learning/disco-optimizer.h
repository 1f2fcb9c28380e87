/* disco-optimizer.h: the base of optimizer nodes (adam, sgd) */
#pragma once

#include <disco/disco.h>
#include "disco-ops.h"

G_BEGIN_DECLS

#define DISCO_TYPE_OPTIMIZER (disco_optimizer_get_type ())
G_DECLARE_DERIVABLE_TYPE (DiscoOptimizer, disco_optimizer, DISCO, OPTIMIZER, DiscoNode)

/**
 * DiscoOptimizerClass:
 * @parent_class: the parent class
 * @state_names: %NULL-terminated names of the per-parameter state tensors
 *   the rule keeps (e.g. "m", "v"), each shaped as its parameter
 * @update: apply one step through the operations table @ops (disco-ops.h)
 *   to @n values of a parameter given its gradient, its state tensors (in
 *   @state_names order) and the step number (from 1); every array is in
 *   @ops's memory
 *
 * An optimizer descends the gradients its `gradients` input's producer
 * publishes (disco_node_list_gradients()), on training ticks.
 */
struct _DiscoOptimizerClass
{
  DiscoNodeClass parent_class;

  const char *const *state_names;
  void (*update) (DiscoOptimizer *self, const DiscoOps *ops, gsize n, float *parameter,
                  const float *gradient, float **state, guint64 step);

  /*< private >*/
  gpointer padding[8];
};

guint64 disco_optimizer_get_step (DiscoOptimizer *self);

G_END_DECLS
