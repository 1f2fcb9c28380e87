/* disco-layer.c: the DiscoLayer interface, and helpers shared by the layer nodes */
#include "disco-layer.h"

#include <math.h>

/**
 * SECTION:disco-layer
 * @title: DiscoLayer
 * @short_description: a layer of a network that an integrator drives
 *
 * #DiscoLayer is implemented by the layer nodes (microcircuit, rate-layer,
 * readout). An integrator asks each node of its network for its spec through
 * it, so the network knows no layer type by name: a type defined elsewhere (a
 * test, another plugin) that implements the interface joins a network like
 * the built-in ones.
 */

G_DEFINE_INTERFACE (DiscoLayer, disco_layer, DISCO_TYPE_NODE)

static void
disco_layer_default_init (DiscoLayerInterface *iface)
{
}

/**
 * disco_layer_get_spec: (virtual get_spec)
 * @self: a layer
 * @spec: (out caller-allocates): filled when the layer is prepared
 *
 * Describes the layer to the network: its kind, sizes, constants and
 * parameters (borrowed from the node; they stay valid while the node keeps
 * them).
 *
 * Returns: whether the layer has been prepared (its parameters exist); when
 *   %FALSE, @spec is left as it was
 */
gboolean
disco_layer_get_spec (DiscoLayer *self, DiscoLayerSpec *spec)
{
  DiscoLayerInterface *iface;

  g_return_val_if_fail (DISCO_IS_LAYER (self), FALSE);
  g_return_val_if_fail (spec != NULL, FALSE);

  iface = DISCO_LAYER_GET_IFACE (self);
  g_return_val_if_fail (iface->get_spec != NULL, FALSE);
  return iface->get_spec (self, spec);
}

/**
 * disco_layer_input_size:
 * @node: a layer node, in its prepare hook
 * @error: return location for a #GError
 *
 * Returns: the number of values per sample its "input" producer declared,
 *   or 0 with @error set when the producer declared nothing
 */
gsize
disco_layer_input_size (DiscoNode *node, GError **error)
{
  guint n_dims;
  const gsize *shape = disco_node_get_input_declared_shape (node, "input", &n_dims);
  const char *producer_port = NULL;
  DiscoNode *producer = disco_node_get_input_node (node, "input", &producer_port);
  gsize size = 1;

  if (shape == NULL || n_dims < 2)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                   "node \"%s\": the size of input \"input\" is unknown: its producer "
                   "\"%s.%s\" declares no batch × features shape",
                   disco_node_get_name (node), producer ? disco_node_get_name (producer) : "?",
                   producer_port ? producer_port : "?");
      return 0;
    }
  for (guint i = 1; i < n_dims; i++)
    size *= shape[i];
  return size;
}

/**
 * disco_rand_new_for_stream:
 * @seed: a node's seed (disco_node_get_seed())
 * @stream: what the numbers are for ("weight", "amplitude", …)
 *
 * A generator of its own per node and purpose, so that adding a parameter
 * or changing one quantity's range leaves every other stream as it was.
 *
 * Returns: (transfer full): the generator
 */
GRand *
disco_rand_new_for_stream (guint64 seed, const char *stream)
{
  guint64 mixed = seed ^ g_str_hash (stream);
  guint32 seed_words[2] = { (guint32) mixed, (guint32) (mixed >> 32) };

  return g_rand_new_with_seed_array (seed_words, 2);
}

/**
 * disco_rand_standard_normal:
 * @rand: a generator
 *
 * Returns: a standard normal draw (Box–Muller, two uniforms a draw)
 */
double
disco_rand_standard_normal (GRand *rand)
{
  /* 1 − u keeps the logarithm finite. */
  double u = 1.0 - g_rand_double (rand);
  double v = g_rand_double (rand);

  return sqrt (-2.0 * log (u)) * cos (2.0 * G_PI * v);
}

/* A standard normal truncated to [−2, 2], by rejection. */
static double
truncated_normal (GRand *rand)
{
  for (;;)
    {
      double z = disco_rand_standard_normal (rand);

      if (fabs (z) <= 2.0)
        return z;
    }
}

/**
 * disco_layer_ensure_parameter:
 * @node: a layer node, in its prepare hook
 * @name: the parameter name ("weight", "bias")
 * @n_dims: number of dimensions
 * @shape: (array length=n_dims): the shape
 * @init_std: the standard deviation of the initial values, 0 for zeros
 * @created: (out) (optional): whether a new tensor was made
 * @error: return location for a #GError (no memory for the tensor)
 *
 * Keeps an existing parameter of the right shape (a second run of the same
 * pipeline continues from trained values, as a PyTorch module would), else
 * makes one: zeros, or LeCun-normal values — a normal truncated to ±2
 * standard deviations, rescaled so the variance is @init_std² (JAX's
 * lecun_normal: std = sqrt(1/fan_in) / 0.8796) — drawn from the node's seed.
 *
 * Returns: (transfer none) (nullable): the parameter, or %NULL with @error
 *   set
 */
DiscoTensor *
disco_layer_ensure_parameter (DiscoNode *node, const char *name, guint n_dims, const gsize *shape,
                              double init_std, gboolean *created, GError **error)
{
  DiscoTensor *tensor = disco_node_get_parameter (node, name);
  g_autoptr (DiscoTensor) fresh = NULL;

  if (created != NULL)
    *created = FALSE;
  if (tensor != NULL && disco_tensor_has_shape (tensor, n_dims, shape))
    return tensor;

  fresh = disco_tensor_new (n_dims, shape);
  /* The memory is had here, or the error says why not (the run's limit). */
  if (disco_tensor_write_host (fresh, error) == NULL)
    return NULL;
  if (init_std > 0.0)
    {
      /* The stream depends on the node's seed and the parameter's name. */
      g_autoptr (GRand) rand = disco_rand_new_for_stream (disco_node_get_seed (node), name);
      float *values = disco_tensor_write_host (fresh, NULL);
      /* Variance of a standard normal truncated to [−2, 2]. */
      const double truncated_std = 0.87962566103423978;

      for (gsize i = 0; i < disco_tensor_get_n_elements (fresh); i++)
        values[i] = (float) (truncated_normal (rand) * init_std / truncated_std);
    }
  disco_node_add_parameter (node, name, fresh);
  if (created != NULL)
    *created = TRUE;
  return fresh;
}

/**
 * disco_layer_prepare_weights:
 * @node: a layer node, in its prepare hook
 * @size: its units
 * @bias: whether it has a bias
 * @error: return location for a #GError
 *
 * What every layer's prepare does: the input size its producer declared,
 * the `weight` parameter (@size × inputs, LeCun normal: variance 1/fan-in,
 * MODEL.md §7), the `bias` (@size, zeros) when @bias, and the `output` port
 * declared batch × @size.
 *
 * Returns: the input size, or 0 with @error set
 */
gsize
disco_layer_prepare_weights (DiscoNode *node, gsize size, gboolean bias, GError **error)
{
  gsize n_in = disco_layer_input_size (node, error);
  gsize weight_shape[2] = { size, n_in }, bias_shape[1] = { size }, out_shape[2] = { 0, size };

  if (n_in == 0)
    return 0;
  if (disco_layer_ensure_parameter (node, "weight", 2, weight_shape, 1.0 / sqrt (n_in), NULL, error)
          == NULL
      || (bias
          && disco_layer_ensure_parameter (node, "bias", 1, bias_shape, 0.0, NULL, error) == NULL))
    return 0;
  disco_node_declare_output (node, "output", 2, out_shape);
  return n_in;
}

/**
 * disco_layer_install_float_properties:
 * @klass: the class, in class_init
 * @first_id: the property id of the table's first row
 * @table: (array length=n): the properties
 * @n: rows in @table
 *
 * Installs one double GParamSpec per row (ids @first_id, @first_id + 1, …),
 * stored as floats in the instance (the model is float32 throughout).
 */
void
disco_layer_install_float_properties (GObjectClass *klass, guint first_id,
                                      const DiscoFloatProperty *table, guint n)
{
  for (guint i = 0; i < n; i++)
    g_object_class_install_property (
        klass, first_id + i,
        g_param_spec_double (table[i].name, table[i].nick, table[i].blurb, table[i].minimum,
                             table[i].maximum, table[i].default_value,
                             G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
}

/**
 * disco_layer_init_float_properties:
 * @instance: the instance, in its init function
 * @table: (array length=n): the properties
 * @n: rows in @table
 *
 * Sets every float of @table to its default.
 */
void
disco_layer_init_float_properties (gpointer instance, const DiscoFloatProperty *table, guint n)
{
  for (guint i = 0; i < n; i++)
    G_STRUCT_MEMBER (float, instance, table[i].offset) = (float) table[i].default_value;
}

/**
 * disco_layer_get_float_property:
 * @instance: the instance
 * @id: a property id
 * @first_id: the id of the table's first row
 * @table: (array length=n): the properties
 * @n: rows in @table
 * @value: where to store the value
 *
 * Returns: whether @id belongs to the table
 */
gboolean
disco_layer_get_float_property (gpointer instance, guint id, guint first_id,
                                const DiscoFloatProperty *table, guint n, GValue *value)
{
  if (id < first_id || id >= first_id + n)
    return FALSE;
  g_value_set_double (value, G_STRUCT_MEMBER (float, instance, table[id - first_id].offset));
  return TRUE;
}

/**
 * disco_layer_set_float_property:
 * @instance: the instance
 * @id: a property id
 * @first_id: the id of the table's first row
 * @table: (array length=n): the properties
 * @n: rows in @table
 * @value: the new value
 *
 * Returns: whether @id belongs to the table
 */
gboolean
disco_layer_set_float_property (gpointer instance, guint id, guint first_id,
                                const DiscoFloatProperty *table, guint n, const GValue *value)
{
  if (id < first_id || id >= first_id + n)
    return FALSE;
  G_STRUCT_MEMBER (float, instance, table[id - first_id].offset) =
      (float) g_value_get_double (value);
  return TRUE;
}
