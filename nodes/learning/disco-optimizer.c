/* disco-optimizer.c
 *
 * What every optimizer shares: finding the parameters named by the
 * gradients a plasticity node publishes, keeping per-parameter state as
 * node parameters (so checkpoints save it), counting steps, and skipping
 * validation and test ticks. Subclasses give one update rule.
 *
 * Operations: the update computes through the pipeline's operations table
 * (disco-ops.h; the host table on the CPU, the CUDA table on a GPU), so
 * the parameters, gradients and the optimizer's state are used in the
 * table's memory, where they stay between ticks; the host sees them only
 * when it reads them (a checkpoint saves them through
 * disco_tensor_read_host(), which copies lazily).  The step counter stays
 * a host value: it is a scalar the update takes as an argument.
 */
#include "disco-optimizer.h"
#include "disco-device.h"

typedef struct
{
  DiscoTensor *step; /* 1 value: steps taken, kept as a parameter for checkpoints */
} DiscoOptimizerPrivate;

G_DEFINE_ABSTRACT_TYPE_WITH_PRIVATE (DiscoOptimizer, disco_optimizer, DISCO_TYPE_NODE)

/**
 * disco_optimizer_get_step:
 * @self: an optimizer
 *
 * Returns: the number of steps taken
 */
guint64
disco_optimizer_get_step (DiscoOptimizer *self)
{
  DiscoOptimizerPrivate *priv = disco_optimizer_get_instance_private (self);

  return priv->step != NULL ? (guint64) disco_tensor_get_value (priv->step, 0) : 0;
}

static gboolean
disco_optimizer_prepare (DiscoNode *node, GError **error)
{
  DiscoOptimizerPrivate *priv = disco_optimizer_get_instance_private (DISCO_OPTIMIZER (node));
  const gsize shape[1] = { 1 };

  if (priv->step == NULL)
    {
      priv->step = disco_tensor_new (1, shape);
      disco_node_add_parameter (node, "step", priv->step);
      g_object_unref (priv->step); /* the node's parameter table holds it */
    }
  return TRUE;
}

static DiscoTensor *
ensure_state (DiscoNode *node, const char *state_name, const char *target, DiscoTensor *like)
{
  g_autofree char *name = g_strdup_printf ("%s:%s", state_name, target);
  DiscoTensor *state = disco_node_get_parameter (node, name);
  guint n_dims;
  const gsize *shape = disco_tensor_get_shape (like, &n_dims);

  if (state == NULL || !disco_tensor_has_shape (state, n_dims, shape))
    {
      g_autoptr (DiscoTensor) fresh = disco_tensor_new (n_dims, shape);
      disco_node_add_parameter (node, name, fresh);
      state = fresh;
    }
  return state;
}

static DiscoFlowReturn
disco_optimizer_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  DiscoOptimizer *self = DISCO_OPTIMIZER (node);
  DiscoOptimizerClass *klass = DISCO_OPTIMIZER_GET_CLASS (self);
  DiscoOptimizerPrivate *priv = disco_optimizer_get_instance_private (self);
  DiscoNode *source = disco_node_get_input_node (node, "gradients", NULL);
  DiscoPipeline *pipeline = disco_node_get_pipeline (node);
  g_auto (GStrv) targets = NULL;
  guint n_states = klass->state_names != NULL ? g_strv_length ((char **) klass->state_names) : 0;
  const DiscoOps *ops = disco_node_get_ops (node);
  float *step;

  /* Learning happens on training ticks only (and on ticks without phases). */
  if (tick->phase == DISCO_PHASE_VALIDATION || tick->phase == DISCO_PHASE_TEST)
    return DISCO_FLOW_OK;
  /* Until disco_node_get_ops() gives the host table itself, none means
   * the CPU. */
  if (ops == NULL)
    ops = disco_ops_cpu ();
  targets = disco_node_list_gradients (source);
  if (targets[0] == NULL)
    return DISCO_FLOW_OK;

  step = disco_tensor_write_host (priv->step, error);
  if (step == NULL)
    return DISCO_FLOW_ERROR;
  step[0] += 1;
  for (guint i = 0; targets[i] != NULL; i++)
    {
      DiscoTensor *gradient = disco_node_get_gradient (source, targets[i]);
      DiscoTensor *parameter = disco_pipeline_find_parameter (pipeline, targets[i]);
      float *state[8] = { NULL };
      const float *g;
      float *p;

      if (parameter == NULL)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                       "node \"%s\": \"%s\" publishes a gradient for \"%s\", which is not a "
                       "parameter of any node",
                       disco_node_get_name (node), disco_node_get_name (source), targets[i]);
          return DISCO_FLOW_ERROR;
        }
      if (disco_tensor_get_n_elements (parameter) != disco_tensor_get_n_elements (gradient))
        {
          g_autofree char *a = disco_tensor_shape_to_string (parameter);
          g_autofree char *b = disco_tensor_shape_to_string (gradient);
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                       "node \"%s\": gradient for \"%s\" has shape %s, the parameter %s",
                       disco_node_get_name (node), targets[i], b, a);
          return DISCO_FLOW_ERROR;
        }
      g_assert (n_states <= G_N_ELEMENTS (state));
      for (guint s = 0; s < n_states; s++)
        if ((state[s] = disco_tensor_write_ops (
                 ensure_state (node, klass->state_names[s], targets[i], parameter), ops, error))
            == NULL)
          return DISCO_FLOW_ERROR;
      if ((g = disco_tensor_read_ops (gradient, ops, error)) == NULL
          || (p = disco_tensor_write_ops (parameter, ops, error)) == NULL)
        return DISCO_FLOW_ERROR;
      klass->update (self, ops, disco_tensor_get_n_elements (parameter), p, g, state,
                     (guint64) step[0]);
    }
  /* Reports a failed launch now rather than at the next download. */
  if (!ops->check (error))
    return DISCO_FLOW_ERROR;
  return DISCO_FLOW_OK;
}

static void
disco_optimizer_class_init (DiscoOptimizerClass *klass)
{
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);

  node_class->prepare = disco_optimizer_prepare;
  node_class->process = disco_optimizer_process;
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "gradients", DISCO_PORT_FLAG_NONE,
                             "a plasticity node: the gradients it publishes are descended");
}

static void
disco_optimizer_init (DiscoOptimizer *self)
{
}
