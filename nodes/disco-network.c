/* disco-network.c
 *
 * The open-loop right-hand side of MODEL.md §2, batched over the samples the
 * solver still integrates. Per layer: one GEMM for W r_prev (except the
 * first layer, whose drive W x + b is constant during a solve and computed
 * once per minibatch), then the vectorised element-wise kernel of the layer
 * (disco_microcircuit_rhs_cpu(): φ_E and φ_I over contiguous blocks of each
 * row, then the derivatives with the bias added on the way; φ within 4 ulp
 * of the scalar reference disco_softrect_forward()). The first layer reads
 * its drive in place through the row indices, so nothing is copied per
 * evaluation. tools/disco-bench-solve times all this.
 *
 * BLAS threads: disco_network_new() applies the kernels' policy once per
 * process (disco_blas_apply_thread_policy(): one thread, unless the user
 * chose a count with $DISCO_BLAS_THREADS, $OPENBLAS_NUM_THREADS,
 * $OMP_NUM_THREADS, disco_blas_set_threads() or openblas_set_num_threads()
 * before). These products are small (at most a minibatch of rows): on the
 * 2-core development machine a second thread made the 784–256–256–256–10
 * solve about 10 % faster while the other core was idle, and slower, up to
 * several times in single minibatches, while it was busy, its workers
 * spinning between calls. One thread is the predictable default.
 */
#include "disco-network.h"

#include <string.h>

typedef struct
{
  DiscoLayerSpec spec;
  gsize offset;     /* of the layer's state in a sample's state */
  float *rates;     /* A × n scratch: the layer's rates in this evaluation */
} NetworkLayer;

struct _DiscoNetwork
{
  GArray *layers;          /* NetworkLayer, input side first */
  DiscoNode *first;        /* the first layer, whose "input" is the data */
  gsize state_size;        /* N */
  gsize capacity;          /* rows the scratch buffers hold */
  gsize max_units;
  float *first_drive;      /* B × n_1: W_1 x + b_1 of the current minibatch */
  float *drive;            /* A × max n_l scratch: W_l r_{l−1} */
};

static void
free_scratch (DiscoNetwork *network)
{
  for (guint i = 0; i < network->layers->len; i++)
    g_clear_pointer (&g_array_index (network->layers, NetworkLayer, i).rates, g_free);
  g_clear_pointer (&network->first_drive, g_free);
  g_clear_pointer (&network->drive, g_free);
  network->capacity = 0;
}

/**
 * disco_network_free:
 * @network: a network
 *
 * Frees the description and its scratch memory (not the nodes).
 */
void
disco_network_free (DiscoNetwork *network)
{
  free_scratch (network);
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
                       "(microcircuit, rate-layer or readout)", disco_node_get_name (integrator),
                       disco_node_get_name (node), port);
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
                       "last layer", disco_node_get_name (integrator), disco_node_get_name (node));
          return NULL;
        }
      g_ptr_array_insert (chain, 0, node);
      node = disco_node_get_input_node (node, "input", NULL);
    }
  if (chain->len == 0)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                   "node \"%s\": input \"%s\" must link to the network's last layer (a "
                   "readout or a layer node), not to \"%s\"", disco_node_get_name (integrator),
                   port, node ? disco_node_get_name (node) : "nothing");
      return NULL;
    }

  for (guint i = 0; i < chain->len; i++)
    {
      NetworkLayer layer = { 0 };

      disco_layer_get_spec (DISCO_LAYER (g_ptr_array_index (chain, i)), &layer.spec);
      layer.offset = network->state_size;
      network->state_size += layer.spec.kind == DISCO_LAYER_MICROCIRCUIT ? 2 * layer.spec.n
                                                                         : layer.spec.n;
      network->max_units = MAX (network->max_units, layer.spec.n);
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
    g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                 "layer \"%s\" received no input this tick", disco_node_get_name (network->first));
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

static void
ensure_scratch (DiscoNetwork *network, gsize rows)
{
  if (rows <= network->capacity)
    return;
  free_scratch (network);
  for (guint i = 0; i < network->layers->len; i++)
    {
      NetworkLayer *layer = &g_array_index (network->layers, NetworkLayer, i);
      layer->rates = g_new (float, rows * layer->spec.n);
    }
  network->first_drive = g_new (float, rows * disco_network_get_layer (network, 0)->n);
  network->drive = g_new (float, rows * network->max_units);
  network->capacity = rows;
}

/* drive (rows × n) = bias broadcast, or zeros. */
static void
fill_bias (float *drive, gsize rows, gsize n, const float *bias)
{
  for (gsize r = 0; r < rows; r++)
    {
      if (bias != NULL)
        memcpy (drive + r * n, bias, n * sizeof (float));
      else
        memset (drive + r * n, 0, n * sizeof (float));
    }
}

/**
 * disco_network_begin_batch:
 * @network: a network
 * @input: this tick's input, B × F
 * @error: return location for a #GError
 *
 * Computes the first layer's drive W_1 x + b_1 for every sample once: it
 * stays constant while the network settles.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_network_begin_batch (DiscoNetwork *network, DiscoTensor *input, GError **error)
{
  const DiscoLayerSpec *first = disco_network_get_layer (network, 0);
  gsize rows = disco_tensor_get_dim (input, 0);
  const float *x, *w, *b = NULL;

  if (disco_tensor_get_row_size (input) != first->n_in)
    {
      g_autofree char *shape = disco_tensor_shape_to_string (input);
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                   "layer \"%s\" expects %" G_GSIZE_FORMAT " inputs per sample, got a "
                   "tensor of shape %s", disco_node_get_name (first->node), first->n_in, shape);
      return FALSE;
    }
  if ((x = disco_tensor_read_host (input, error)) == NULL ||
      (w = disco_tensor_read_host (first->weight, error)) == NULL ||
      (first->bias != NULL && (b = disco_tensor_read_host (first->bias, error)) == NULL))
    return FALSE;

  ensure_scratch (network, rows);
  fill_bias (network->first_drive, rows, first->n, b);
  /* B × n_1 += x (B × F) · W_1ᵀ (F × n_1) */
  disco_gemm_cpu (FALSE, TRUE, rows, first->n, first->n_in, 1.0f, x, first->n_in, w,
                  first->n_in, 1.0f, network->first_drive, first->n);
  return TRUE;
}

/**
 * disco_network_rhs:
 * @network: (type DiscoNetwork): the network
 * @n_active: A, the samples in this evaluation
 * @rows: (array length=n_active): each packed row's sample index
 * @t: (array length=n_active): each row's time (unused: the system is autonomous)
 * @y: A × N states
 * @dydt: A × N derivatives, written
 * @error: return location for a #GError
 *
 * The open-loop right-hand side (MODEL.md §2 with f = 0 and c = 0), a
 * #DiscoOdeRhsFunc. disco_network_begin_batch() must have run for this
 * minibatch.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_network_rhs (gpointer data, gsize n_active, const guint *rows, const double *t,
                   const float *y, float *dydt, GError **error)
{
  DiscoNetwork *network = data;
  const gsize N = network->state_size;
  const float *previous_rates = NULL;

  for (guint l = 0; l < network->layers->len; l++)
    {
      NetworkLayer *layer = &g_array_index (network->layers, NetworkLayer, l);
      const DiscoLayerSpec *spec = &layer->spec;
      const gsize n = spec->n;
      const float *state = y + layer->offset;
      float *derivative = dydt + layer->offset;
      const float *bias = NULL;
      const float *drive;

      if (l == 0)
        /* W_1 x + b_1 of each row's sample, read in place below. */
        drive = network->first_drive;
      else
        {
          /* drive (A × n) = r_prev (A × n_in) · Wᵀ; the bias joins later. */
          const float *w = disco_tensor_read_host (spec->weight, error);

          if (w == NULL ||
              (spec->bias != NULL && (bias = disco_tensor_read_host (spec->bias, error)) == NULL))
            return FALSE;
          disco_gemm_cpu (FALSE, TRUE, n_active, n, spec->n_in, 1.0f, previous_rates,
                          spec->n_in, w, spec->n_in, 0.0f, network->drive, n);
          drive = network->drive;
        }

      switch (spec->kind)
        {
        case DISCO_LAYER_MICROCIRCUIT:
          disco_microcircuit_rhs_cpu (&spec->phi_e, &spec->phi_i, spec->tau_e, spec->tau_i,
                                      n_active, n, state, N, drive, n, l == 0 ? rows : NULL,
                                      bias, layer->rates, n, derivative, N);
          break;
        case DISCO_LAYER_RATE:
          {
            const float inv_tau = 1.0f / spec->tau_e;

            disco_softrect_forward_fast_cpu (&spec->phi_e, n_active, n, state, N,
                                             layer->rates, n);
            for (gsize r = 0; r < n_active; r++)
              {
                const float *u = state + r * N;
                const float *d = drive + (l == 0 ? (gsize) rows[r] : r) * n;
                float *du = derivative + r * N;

                if (bias != NULL)
                  for (gsize j = 0; j < n; j++)
                    du[j] = (-u[j] + (d[j] + bias[j])) * inv_tau;
                else
                  for (gsize j = 0; j < n; j++)
                    du[j] = (-u[j] + d[j]) * inv_tau;
              }
            break;
          }
        case DISCO_LAYER_READOUT:
          {
            /* The last layer: its values feed no product, so no rates. */
            const float inv_tau = 1.0f / spec->tau_e;

            for (gsize r = 0; r < n_active; r++)
              {
                const float *u = state + r * N;
                const float *d = drive + (l == 0 ? (gsize) rows[r] : r) * n;
                float *du = derivative + r * N;

                for (gsize j = 0; j < n; j++)
                  du[j] = (-u[j] + d[j]) * inv_tau;
              }
            break;
          }
        }
      previous_rates = layer->rates;
    }
  return TRUE;
}

/**
 * disco_network_publish:
 * @network: a network
 * @state: B × N final states
 * @n_samples: B
 * @output: (out) (transfer none): the readout's output tensor
 * @error: return location for a #GError
 *
 * Puts every layer's rates (and a microcircuit's inhibitory rates) on its
 * output ports, and the last layer's values (the logits) on its "output".
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_network_publish (DiscoNetwork *network, const float *state, gsize n_samples,
                       DiscoTensor **output, GError **error)
{
  const gsize N = network->state_size;

  for (guint l = 0; l < network->layers->len; l++)
    {
      NetworkLayer *layer = &g_array_index (network->layers, NetworkLayer, l);
      const DiscoLayerSpec *spec = &layer->spec;
      gsize shape[2] = { n_samples, spec->n };
      DiscoTensor *out = disco_node_ensure_output (spec->node, "output", 2, shape);
      float *r = disco_tensor_write_host (out, error);
      float *r_i = NULL;

      if (r == NULL)
        return FALSE;
      if (spec->kind == DISCO_LAYER_MICROCIRCUIT &&
          (r_i = disco_tensor_write_host (disco_node_ensure_output (spec->node, "inhibitory",
                                                                    2, shape), error)) == NULL)
        return FALSE;
      /* The same φ as the right-hand side's. */
      if (spec->kind == DISCO_LAYER_READOUT)
        for (gsize s = 0; s < n_samples; s++)
          memcpy (r + s * spec->n, state + s * N + layer->offset, spec->n * sizeof (float));
      else
        disco_softrect_forward_fast_cpu (&spec->phi_e, n_samples, spec->n, state + layer->offset,
                                         N, r, spec->n);
      if (r_i != NULL)
        disco_softrect_forward_fast_cpu (&spec->phi_i, n_samples, spec->n,
                                         state + layer->offset + spec->n, N, r_i, spec->n);
      *output = out;
    }
  return TRUE;
}
