/* disco-sgd.c */

/**
 * SECTION:node-sgd
 * @title: sgd
 * @short_description: stochastic gradient descent with momentum
 *
 * With momentum μ (PyTorch's convention, dampening 0):
 *
 *   b ← μ b + g  (b = g at the first step);  p ← p − lr · b
 *
 * on every training tick, for every gradient the linked plasticity node
 * publishes. μ = 0 is plain gradient descent. The velocity b is a node
 * parameter ("velocity:h1.weight", …), saved in checkpoints.
 *
 * The step computes through the pipeline's operations table
 * (disco_sgd_update_cpu() on the CPU, disco_sgd_update_cuda(),
 * bit-identical to it, on a GPU), and parameters and velocities stay in
 * the table's memory between ticks.
 *
 * Ports: input `gradients` (a plasticity node).
 *
 * ## Example pipeline
 * |[
 * [sgd]
 * node = sgd
 * gradients = learn
 * learning-rate = 0.01
 * momentum = 0.9
 * ]|
 */

#include "disco-sgd.h"
#include "disco-nodes.h"

#define DEFAULT_LEARNING_RATE 1e-2
#define DEFAULT_MOMENTUM 0.0

struct _DiscoSgd
{
  DiscoOptimizer parent_instance;

  double learning_rate, momentum;
};

G_DEFINE_FINAL_TYPE (DiscoSgd, disco_sgd, DISCO_TYPE_OPTIMIZER)
DISCO_NODE_REGISTER_DEFINE (sgd, "sgd", DISCO_TYPE_SGD)

enum
{
  PROP_0,
  PROP_LEARNING_RATE,
  PROP_MOMENTUM,
  N_PROPERTIES
};

static const char *const sgd_state[] = { "velocity", NULL };

static void
disco_sgd_update (DiscoOptimizer *optimizer, const DiscoOps *ops, gsize n, float *p, const float *g,
                  float **state, guint64 step)
{
  DiscoSgd *self = DISCO_SGD (optimizer);

  ops->sgd_update (n, self->learning_rate, self->momentum, step, p, g, state[0]);
}

static void
disco_sgd_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DiscoSgd *self = DISCO_SGD (object);

  switch (prop_id)
    {
    case PROP_LEARNING_RATE: g_value_set_double (value, self->learning_rate); break;
    case PROP_MOMENTUM: g_value_set_double (value, self->momentum); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
disco_sgd_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  DiscoSgd *self = DISCO_SGD (object);

  switch (prop_id)
    {
    case PROP_LEARNING_RATE: self->learning_rate = g_value_get_double (value); break;
    case PROP_MOMENTUM: self->momentum = g_value_get_double (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
disco_sgd_class_init (DiscoSgdClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoOptimizerClass *optimizer_class = DISCO_OPTIMIZER_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  object_class->get_property = disco_sgd_get_property;
  object_class->set_property = disco_sgd_set_property;
  optimizer_class->state_names = sgd_state;
  optimizer_class->update = disco_sgd_update;
  disco_node_class_set_runs_on_cuda (DISCO_NODE_CLASS (klass), TRUE);

  g_object_class_install_property (object_class, PROP_LEARNING_RATE,
                                   g_param_spec_double ("learning-rate", "Learning rate",
                                                        "Step size lr", 0, 10,
                                                        DEFAULT_LEARNING_RATE, rw));
  g_object_class_install_property (object_class, PROP_MOMENTUM,
                                   g_param_spec_double ("momentum", "Momentum",
                                                        "Momentum μ (0: plain gradient descent)", 0,
                                                        0.999999, DEFAULT_MOMENTUM, rw));

  disco_node_class_set_metadata (DISCO_NODE_CLASS (klass), "SGD optimizer", "Learning/Optimizer",
                                 "Descends the published gradients with momentum SGD");
}

static void
disco_sgd_init (DiscoSgd *self)
{
  self->learning_rate = DEFAULT_LEARNING_RATE;
  self->momentum = DEFAULT_MOMENTUM;
}
