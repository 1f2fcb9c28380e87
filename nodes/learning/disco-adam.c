/* disco-adam.c */

/**
 * SECTION:node-adam
 * @title: adam
 * @short_description: the Adam optimizer
 *
 * Adam (Kingma & Ba 2015, https://arxiv.org/abs/1412.6980) as optax.adam
 * computes it, the reference's optimizer (MODEL.md §5):
 *
 *   m ← β₁ m + (1 − β₁) g;  v ← β₂ v + (1 − β₂) g²
 *   p ← p − lr · m̂ / (√v̂ + ε),  m̂ = m / (1 − β₁ᵗ),  v̂ = v / (1 − β₂ᵗ)
 *
 * on every training tick, for every gradient the linked plasticity node
 * publishes. The moments are node parameters ("m:h1.weight", …) and so are
 * saved in checkpoints.
 *
 * The step computes through the pipeline's operations table
 * (disco_adam_update_cpu() on the CPU, disco_adam_update_cuda(),
 * bit-identical to it, on a GPU), and parameters and moments stay in the
 * table's memory between ticks.
 *
 * Ports: input `gradients` (a plasticity node).
 *
 * ## Example pipeline
 * |[
 * [adam]
 * node = adam
 * gradients = learn
 * learning-rate = 0.001
 * ]|
 */

#include "disco-adam.h"
#include "disco-nodes.h"

#define DEFAULT_LEARNING_RATE 1e-3
#define DEFAULT_BETA1 0.9
#define DEFAULT_BETA2 0.999
#define DEFAULT_EPSILON 1e-8

struct _DiscoAdam
{
  DiscoOptimizer parent_instance;

  double learning_rate, beta1, beta2, epsilon;
};

G_DEFINE_FINAL_TYPE (DiscoAdam, disco_adam, DISCO_TYPE_OPTIMIZER)
DISCO_NODE_REGISTER_DEFINE (adam, "adam", DISCO_TYPE_ADAM)

enum
{
  PROP_0,
  PROP_LEARNING_RATE,
  PROP_BETA1,
  PROP_BETA2,
  PROP_EPSILON,
  N_PROPERTIES
};

static const char *const adam_state[] = { "m", "v", NULL };

static void
disco_adam_update (DiscoOptimizer *optimizer, const DiscoOps *ops, gsize n, float *p,
                   const float *g, float **state, guint64 step)
{
  DiscoAdam *self = DISCO_ADAM (optimizer);

  ops->adam_update (n, self->learning_rate, self->beta1, self->beta2, self->epsilon, step, p, g,
                    state[0], state[1]);
}

static void
disco_adam_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DiscoAdam *self = DISCO_ADAM (object);

  switch (prop_id)
    {
    case PROP_LEARNING_RATE: g_value_set_double (value, self->learning_rate); break;
    case PROP_BETA1: g_value_set_double (value, self->beta1); break;
    case PROP_BETA2: g_value_set_double (value, self->beta2); break;
    case PROP_EPSILON: g_value_set_double (value, self->epsilon); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
disco_adam_set_property (GObject *object, guint prop_id, const GValue *value, GParamSpec *pspec)
{
  DiscoAdam *self = DISCO_ADAM (object);

  switch (prop_id)
    {
    case PROP_LEARNING_RATE: self->learning_rate = g_value_get_double (value); break;
    case PROP_BETA1: self->beta1 = g_value_get_double (value); break;
    case PROP_BETA2: self->beta2 = g_value_get_double (value); break;
    case PROP_EPSILON: self->epsilon = g_value_get_double (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
disco_adam_class_init (DiscoAdamClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoOptimizerClass *optimizer_class = DISCO_OPTIMIZER_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  object_class->get_property = disco_adam_get_property;
  object_class->set_property = disco_adam_set_property;
  optimizer_class->state_names = adam_state;
  optimizer_class->update = disco_adam_update;
  disco_node_class_set_runs_on_cuda (DISCO_NODE_CLASS (klass), TRUE);

  g_object_class_install_property (object_class, PROP_LEARNING_RATE,
                                   g_param_spec_double ("learning-rate", "Learning rate",
                                                        "Step size lr", 0, 10,
                                                        DEFAULT_LEARNING_RATE, rw));
  g_object_class_install_property (object_class, PROP_BETA1,
                                   g_param_spec_double ("beta1", "β₁",
                                                        "Decay of the first-moment average", 0,
                                                        0.999999, DEFAULT_BETA1, rw));
  g_object_class_install_property (object_class, PROP_BETA2,
                                   g_param_spec_double ("beta2", "β₂",
                                                        "Decay of the second-moment average", 0,
                                                        0.999999999, DEFAULT_BETA2, rw));
  g_object_class_install_property (object_class, PROP_EPSILON,
                                   g_param_spec_double ("epsilon", "ε",
                                                        "Added to √v̂ to avoid division by zero", 0,
                                                        1, DEFAULT_EPSILON, rw));

  disco_node_class_set_metadata (DISCO_NODE_CLASS (klass), "Adam optimizer", "Learning/Optimizer",
                                 "Descends the published gradients with Adam (optax defaults)");
}

static void
disco_adam_init (DiscoAdam *self)
{
  self->learning_rate = DEFAULT_LEARNING_RATE;
  self->beta1 = DEFAULT_BETA1;
  self->beta2 = DEFAULT_BETA2;
  self->epsilon = DEFAULT_EPSILON;
}
