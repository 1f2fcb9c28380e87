/* disco-network.c
 *
 * The description of a chain of layer nodes: each layer's spec (its kind,
 * sizes, φ, time constants and parameter tensors), where its state sits in
 * a sample's state, and the network's input.  The arithmetic on it (the
 * right-hand side, the closed loop, the feedback weights) is written once
 * against an operations table: model/disco-ops-network.h and
 * disco-ops-closed-loop.h.
 *
 * BLAS threads: disco_network_new() applies the kernels' policy once per
 * process (disco_blas_apply_thread_policy(): one thread, unless the user
 * chose a count with $DISCO_BLAS_THREADS, $OPENBLAS_NUM_THREADS,
 * $OMP_NUM_THREADS, disco_blas_set_threads() or openblas_set_num_threads()
 * before). The network's products are small (at most a minibatch of rows):
 * on the 2-core development machine a second thread made the
 * 784–256–256–256–10 solve about 10 % faster while the other core was idle,
 * and slower, up to several times in single minibatches, while it was busy,
 * its workers spinning between calls. One thread is the predictable default.
 */
#include "disco-network.h"

typedef struct
{
  DiscoLayerSpec spec;
  gsize offset; /* of the layer's state in a sample's state */
} NetworkLayer;

struct _DiscoNetwork
{
  GArray *layers;   /* NetworkLayer, input side first */
  DiscoNode *first; /* the first layer, whose "input" is the data */
  gsize state_size; /* N */
};

/**
 * disco_network_free:
 * @network: a network
 *
 * Frees the description (not the nodes).
 */
void
disco_network_free (DiscoNetwork *network)
{
  g_array_unref (network->layers);
  g_free (network);
}

/**
 * disco_network_new:
 * @integrator: the node that drives the network, in its prepare hook
 * @port: its input port linked to the network's last layer (the readout)
 * @error: return location for a #GError
 *
 * Follows "input" links from the last layer down to the first, whose input
 * comes from an ordinary (non-dynamical) node such as a dataset loader.
 * Every layer must be prepared (the tick order guarantees it).
 *
 * Returns: (transfer full) (nullable): the network, or %NULL with @error set
 */
DiscoNetwork *
disco_network_new (DiscoNode *integrator, const char *port, GError **error)
{
  g_autoptr (DiscoNetwork) network = g_new0 (DiscoNetwork, 1);
  DiscoNode *node = disco_node_get_input_node (integrator, port, NULL);
  g_autoptr (GPtrArray) chain = g_ptr_array_new ();

  network->layers = g_array_new (FALSE, TRUE, sizeof (NetworkLayer));
  while (node != NULL && disco_node_is_dynamical (node))
    {
      DiscoLayerSpec spec;

      if (!DISCO_IS_LAYER (node) || !disco_layer_get_spec (DISCO_LAYER (node), &spec))
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                       "node \"%s\": \"%s\" (linked to %s) is dynamical but not a layer "
                       "(microcircuit, rate-layer or readout)",
                       disco_node_get_name (integrator), disco_node_get_name (node), port);
          return NULL;
        }
      if (g_ptr_array_find (chain, node, NULL))
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                       "node \"%s\": the layers' inputs loop back to \"%s\"",
                       disco_node_get_name (integrator), disco_node_get_name (node));
          return NULL;
        }
      if (spec.kind == DISCO_LAYER_READOUT && chain->len > 0)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                       "node \"%s\": readout \"%s\" feeds another layer; a readout is the "
                       "last layer",
                       disco_node_get_name (integrator), disco_node_get_name (node));
          return NULL;
        }
      g_ptr_array_insert (chain, 0, node);
      node = disco_node_get_input_node (node, "input", NULL);
    }
  if (chain->len == 0)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                   "node \"%s\": input \"%s\" must link to the network's last layer (a "
                   "readout or a layer node), not to \"%s\"",
                   disco_node_get_name (integrator), port,
                   node ? disco_node_get_name (node) : "nothing");
      return NULL;
    }

  for (guint i = 0; i < chain->len; i++)
    {
      NetworkLayer layer = { 0 };

      disco_layer_get_spec (DISCO_LAYER (g_ptr_array_index (chain, i)), &layer.spec);
      layer.offset = network->state_size;
      network->state_size +=
          layer.spec.kind == DISCO_LAYER_MICROCIRCUIT ? 2 * layer.spec.n : layer.spec.n;
      g_array_append_val (network->layers, layer);
    }
  network->first = g_ptr_array_index (chain, 0);
  disco_blas_apply_thread_policy ();
  return g_steal_pointer (&network);
}

/**
 * disco_network_get_state_size:
 * @network: a network
 *
 * Returns: N, the state length of one sample
 */
gsize
disco_network_get_state_size (DiscoNetwork *network)
{
  return network->state_size;
}

/**
 * disco_network_get_n_layers:
 * @network: a network
 *
 * Returns: the number of layers, readout included
 */
guint
disco_network_get_n_layers (DiscoNetwork *network)
{
  return network->layers->len;
}

/**
 * disco_network_get_layer:
 * @network: a network
 * @index: a layer index, 0 for the layer next to the input
 *
 * Returns: (transfer none): the layer's configuration
 */
const DiscoLayerSpec *
disco_network_get_layer (DiscoNetwork *network, guint index)
{
  g_return_val_if_fail (index < network->layers->len, NULL);
  return &g_array_index (network->layers, NetworkLayer, index).spec;
}

/**
 * disco_network_get_layer_offset:
 * @network: a network
 * @index: a layer index
 *
 * Returns: where the layer's state starts in a sample's state
 */
gsize
disco_network_get_layer_offset (DiscoNetwork *network, guint index)
{
  g_return_val_if_fail (index < network->layers->len, 0);
  return g_array_index (network->layers, NetworkLayer, index).offset;
}

/**
 * disco_network_get_input:
 * @network: a network
 * @error: return location for a #GError
 *
 * Returns: (transfer none) (nullable): this tick's input of the first layer,
 *   or %NULL with @error set when its producer wrote nothing
 */
DiscoTensor *
disco_network_get_input (DiscoNetwork *network, GError **error)
{
  DiscoTensor *input = disco_node_get_input (network->first, "input");

  if (input == NULL)
    g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK, "layer \"%s\" received no input this tick",
                 disco_node_get_name (network->first));
  return input;
}

/**
 * disco_network_flops_per_sample:
 * @network: a network
 *
 * Returns: floating-point operations of the matrix products in one
 *   evaluation of the right-hand side for one sample (2 per multiply-add;
 *   the first layer's product is done once per solve, not counted here)
 */
double
disco_network_flops_per_sample (DiscoNetwork *network)
{
  double flops = 0;

  for (guint i = 1; i < network->layers->len; i++)
    {
      const DiscoLayerSpec *spec = disco_network_get_layer (network, i);
      flops += 2.0 * spec->n * spec->n_in;
    }
  return flops;
}
