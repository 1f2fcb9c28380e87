/* disco-ops-network.c: the open-loop network right-hand side through a
 * DiscoOps table (disco-ops-network.h).
 *
 * Shape legend: B samples (A ≤ B packed rows in the compacting path),
 * F inputs, n_l units of layer l, N the state length; row-major, states
 * with row stride N, rates and drives with stride n_l.
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Disco-Kernels"

#include "disco-ops-network.h"

#include <string.h>

typedef struct
{
  DiscoOpsLayer spec; /* weight and bias point into the table's memory */
  gboolean borrowed;  /* weight and bias are the caller's (set_parameters) */
  gsize offset;       /* of the layer's state in a sample's state */
} Layer;

/* What one evaluation writes besides its derivatives: the layers' rates
 * and drives, and the compacting solver's packed rows.  Lane 0 serves the
 * network's own entry points; each further lane lets one block of samples
 * be solved beside the others (disco_ops_network_get_lane()). */
struct _DiscoOpsNetworkLane
{
  DiscoOpsNetwork *network;
  gsize first;    /* the block's first sample: packed row r is sample first + rows[r] */
  gsize n;        /* the block's samples */
  gsize capacity; /* rows the buffers hold, ≥ n */
  float **rates;  /* per layer, capacity × n_l: its rates in this evaluation */
  float *drive;   /* capacity × max n_l: W_l r_{l−1} */
  /* The packed rows' samples, uploaded, and (for a first layer other than
   * a microcircuit, whose kernel does not take row indices) their first
   * drives, gathered; both made again only when the rows change. */
  guint *rows;         /* capacity, the table's memory */
  guint *packed_rows;  /* capacity, host: the solver's rows uploaded */
  guint *upload_rows;  /* capacity, host: their samples */
  gsize packed_n;      /* A of the upload; G_MAXSIZE: none since the batch began */
  guint64 generation;  /* counts the uploads, so that the closed loop knows when they change */
  float *packed_drive; /* capacity × n_1 */
};

struct _DiscoOpsNetwork
{
  const DiscoOps *ops;
  guint n_layers;
  Layer *layers;
  gsize state_size; /* N */
  gsize max_units;

  gsize capacity;     /* rows first_drive and ones hold */
  gsize n_samples;    /* B of the current batch, 0 before one began */
  float *first_drive; /* B × n_1: W_1 x + b_1 */
  float *ones;        /* B ones: broadcasts b_1 through a GEMM */
  GPtrArray *lanes;   /* of DiscoOpsNetworkLane, lane 0 made with the network */
};

static void
free_lane_buffers (DiscoOpsNetworkLane *lane)
{
  const DiscoOps *ops = lane->network->ops;

  for (guint l = 0; l < lane->network->n_layers; l++)
    g_clear_pointer (&lane->rates[l], ops->free);
  g_clear_pointer (&lane->drive, ops->free);
  g_clear_pointer (&lane->rows, ops->free);
  g_clear_pointer (&lane->packed_drive, ops->free);
  g_clear_pointer (&lane->packed_rows, g_free);
  g_clear_pointer (&lane->upload_rows, g_free);
  lane->packed_n = G_MAXSIZE;
  lane->capacity = 0;
}

static void
lane_free (gpointer data)
{
  DiscoOpsNetworkLane *lane = data;

  free_lane_buffers (lane);
  g_free (lane->rates);
  g_free (lane);
}

static DiscoOpsNetworkLane *
lane_new (DiscoOpsNetwork *network)
{
  DiscoOpsNetworkLane *lane = g_new0 (DiscoOpsNetworkLane, 1);

  lane->network = network;
  lane->rates = g_new0 (float *, network->n_layers);
  lane->packed_n = G_MAXSIZE;
  return lane;
}

/* Buffers for @rows rows in @lane (contents not kept). */
static gboolean
ensure_lane (DiscoOpsNetworkLane *lane, gsize rows, GError **error)
{
  DiscoOpsNetwork *network = lane->network;
  const DiscoOps *ops = network->ops;
  const gsize n_first = network->layers[0].spec.n;

  if (rows <= lane->capacity)
    return TRUE;
  free_lane_buffers (lane);
  for (guint l = 0; l < network->n_layers; l++)
    if ((lane->rates[l] = ops->alloc (rows * network->layers[l].spec.n * sizeof (float), error))
        == NULL)
      goto failed;
  if ((lane->drive = ops->alloc (rows * network->max_units * sizeof (float), error)) == NULL
      || (lane->rows = ops->alloc (rows * sizeof (guint), error)) == NULL
      || (lane->packed_drive = ops->alloc (rows * n_first * sizeof (float), error)) == NULL)
    goto failed;
  lane->packed_rows = g_new (guint, rows);
  lane->upload_rows = g_new (guint, rows);
  lane->capacity = rows;
  return TRUE;

failed:
  free_lane_buffers (lane);
  return FALSE;
}

static void
free_scratch (DiscoOpsNetwork *network)
{
  const DiscoOps *ops = network->ops;

  for (guint i = 0; network->lanes != NULL && i < network->lanes->len; i++)
    free_lane_buffers (g_ptr_array_index (network->lanes, i));
  g_clear_pointer (&network->first_drive, ops->free);
  g_clear_pointer (&network->ones, ops->free);
  network->capacity = 0;
  network->n_samples = 0;
}

static void
free_parameters (DiscoOpsNetwork *network, guint index)
{
  Layer *layer = &network->layers[index];

  if (!layer->borrowed)
    {
      network->ops->free ((gpointer) layer->spec.weight);
      network->ops->free ((gpointer) layer->spec.bias);
    }
  layer->spec.weight = NULL;
  layer->spec.bias = NULL;
  layer->borrowed = FALSE;
}

/**
 * disco_ops_network_free:
 * @network: (transfer full) (nullable): a network
 *
 * Frees the network's buffers (weights and scratch) and the network.
 */
void
disco_ops_network_free (DiscoOpsNetwork *network)
{
  if (network == NULL)
    return;
  free_scratch (network);
  for (guint l = 0; l < network->n_layers; l++)
    free_parameters (network, l);
  g_clear_pointer (&network->lanes, g_ptr_array_unref);
  g_free (network->layers);
  g_free (network);
}

static float *
upload_floats (const DiscoOps *ops, const float *host, gsize n, GError **error)
{
  float *buffer = ops->alloc (MAX (n, 1) * sizeof (float), error);

  if (buffer != NULL && !ops->upload (buffer, host, n * sizeof (float), error))
    g_clear_pointer (&buffer, ops->free);
  return buffer;
}

static gboolean
bad_layer (GError **error, guint index, const char *why)
{
  g_set_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_BAD_VALUE, "network layer %u: %s", index,
               why);
  return FALSE;
}

static gboolean
check_layers (guint n_layers, const DiscoOpsLayer *layers, GError **error)
{
  if (n_layers == 0)
    {
      g_set_error_literal (error, DISCO_KERNELS_ERROR, DISCO_ERROR_BAD_VALUE,
                           "a network needs at least one layer");
      return FALSE;
    }
  for (guint l = 0; l < n_layers; l++)
    {
      const DiscoOpsLayer *spec = &layers[l];

      if (spec->n == 0 || spec->n_in == 0)
        return bad_layer (error, l, "needs units and inputs");
      if (!(spec->tau_e > 0.0f)
          || (spec->kind == DISCO_OPS_LAYER_MICROCIRCUIT && !(spec->tau_i > 0.0f)))
        return bad_layer (error, l, "time constants must be > 0");
      if (l > 0 && spec->n_in != layers[l - 1].n)
        return bad_layer (error, l, "its inputs do not match the previous layer's units");
      if (spec->kind == DISCO_OPS_LAYER_READOUT && l + 1 != n_layers)
        return bad_layer (error, l, "a readout must be the last layer");
      /* A readout alone is a network too (a linear model settling to
       * W x): its drive is the first drive, like any first layer's. */
    }
  return TRUE;
}

/**
 * disco_ops_network_new:
 * @ops: (transfer none): the table whose memory holds the network
 * @n_layers: the number of layers, ≥ 1
 * @layers: (array length=n_layers): the layers, input side first:
 *   microcircuit or rate layers, optionally ending with one readout
 * @error: return location for a #GError
 *
 * Uploads the weights and biases into the table's memory (the host arrays
 * are not kept).  A layer whose @weight is %NULL gets its parameters from
 * disco_ops_network_set_parameters() before the first batch.
 *
 * Returns: (transfer full) (nullable): the network, or %NULL with @error
 *   set (%DISCO_ERROR_BAD_VALUE for an inconsistent chain)
 */
DiscoOpsNetwork *
disco_ops_network_new (const DiscoOps *ops, guint n_layers, const DiscoOpsLayer *layers,
                       GError **error)
{
  g_autoptr (DiscoOpsNetwork) network = NULL;

  g_return_val_if_fail (ops != NULL, NULL);
  g_return_val_if_fail (n_layers == 0 || layers != NULL, NULL);

  if (!check_layers (n_layers, layers, error))
    return NULL;

  network = g_new0 (DiscoOpsNetwork, 1);
  network->ops = ops;
  network->layers = g_new0 (Layer, n_layers);
  network->n_layers = n_layers;
  network->lanes = g_ptr_array_new_with_free_func (lane_free);
  for (guint l = 0; l < n_layers; l++)
    {
      Layer *layer = &network->layers[l];
      const DiscoOpsLayer *spec = &layers[l];

      layer->spec = *spec;
      layer->spec.weight = NULL;
      layer->spec.bias = NULL;
      layer->offset = network->state_size;
      /* u_E | u_I for a microcircuit, u or y for the others */
      network->state_size += spec->kind == DISCO_OPS_LAYER_MICROCIRCUIT ? 2 * spec->n : spec->n;
      network->max_units = MAX (network->max_units, spec->n);

      if (spec->weight == NULL)
        continue;
      if ((layer->spec.weight = upload_floats (ops, spec->weight, spec->n * spec->n_in, error))
          == NULL)
        return NULL;
      if (spec->bias != NULL && spec->kind != DISCO_OPS_LAYER_READOUT
          && (layer->spec.bias = upload_floats (ops, spec->bias, spec->n, error)) == NULL)
        return NULL;
    }
  g_ptr_array_add (network->lanes, lane_new (network));
  return g_steal_pointer (&network);
}

/**
 * disco_ops_network_get_state_size:
 * @network: a network
 *
 * Returns: N, the state length of one sample
 */
gsize
disco_ops_network_get_state_size (DiscoOpsNetwork *network)
{
  g_return_val_if_fail (network != NULL, 0);
  return network->state_size;
}

/**
 * disco_ops_network_get_layer_offset:
 * @network: a network
 * @index: a layer index, 0 for the layer next to the input
 *
 * Returns: where the layer's state starts in a sample's state
 */
gsize
disco_ops_network_get_layer_offset (DiscoOpsNetwork *network, guint index)
{
  g_return_val_if_fail (network != NULL && index < network->n_layers, 0);
  return network->layers[index].offset;
}

/**
 * disco_ops_network_set_parameters:
 * @network: a network
 * @index: a layer index
 * @weight: (transfer none): W_l, n × n_in, a buffer of the network's table
 * @bias: (transfer none) (nullable): b_l, n values, a buffer of the table;
 *   ignored for a readout
 *
 * Lets the layer compute with parameters that live elsewhere in the
 * table's memory (a node's tensors, updated between minibatches by an
 * optimizer), without a copy.  The buffers must stay valid while the
 * network uses them: until the next call for this layer or the network's
 * end.  Parameters the network uploaded itself are freed.
 */
void
disco_ops_network_set_parameters (DiscoOpsNetwork *network, guint index, const float *weight,
                                  const float *bias)
{
  Layer *layer;

  g_return_if_fail (network != NULL && index < network->n_layers);
  g_return_if_fail (weight != NULL);

  layer = &network->layers[index];
  free_parameters (network, index);
  layer->spec.weight = weight;
  layer->spec.bias = layer->spec.kind == DISCO_OPS_LAYER_READOUT ? NULL : bias;
  layer->borrowed = TRUE;
}

/**
 * disco_ops_network_get_layer:
 * @network: a network
 * @index: a layer index
 *
 * Returns: (transfer none): the layer as the network computes it: its
 *   weight and bias point into the table's memory
 */
const DiscoOpsLayer *
disco_ops_network_get_layer (DiscoOpsNetwork *network, guint index)
{
  g_return_val_if_fail (network != NULL && index < network->n_layers, NULL);
  return &network->layers[index].spec;
}

/**
 * disco_ops_network_get_ops:
 * @network: a network
 *
 * Returns: (transfer none): the table whose memory holds the network
 */
const DiscoOps *
disco_ops_network_get_ops (DiscoOpsNetwork *network)
{
  g_return_val_if_fail (network != NULL, NULL);
  return network->ops;
}

/**
 * disco_ops_network_get_n_layers:
 * @network: a network
 *
 * Returns: the number of layers, readout included
 */
guint
disco_ops_network_get_n_layers (DiscoOpsNetwork *network)
{
  g_return_val_if_fail (network != NULL, 0);
  return network->n_layers;
}

/* The batch's buffers and lane 0's for @rows rows. */
static gboolean
ensure_scratch (DiscoOpsNetwork *network, gsize rows, GError **error)
{
  const DiscoOps *ops = network->ops;

  if (!ensure_lane (g_ptr_array_index (network->lanes, 0), rows, error))
    return FALSE;
  if (rows <= network->capacity)
    return TRUE;
  g_clear_pointer (&network->first_drive, ops->free);
  g_clear_pointer (&network->ones, ops->free);
  network->capacity = 0;
  if ((network->first_drive = ops->alloc (rows * network->layers[0].spec.n * sizeof (float), error))
          == NULL
      || (network->ones = ops->alloc (rows * sizeof (float), error)) == NULL)
    return FALSE;
  network->capacity = rows;
  return TRUE;
}

/**
 * disco_ops_affine_rows:
 * @ops: the table whose memory holds the buffers
 * @n_rows: B
 * @n: outputs per row
 * @n_in: inputs per row
 * @x: B × @n_in inputs
 * @weight: W, @n × @n_in
 * @bias: (nullable): b, @n values
 * @ones: B ones (read only when @bias is given)
 * @out: B × @n, written: x·Wᵀ + b
 *
 * A layer's affine map: the bias laid
 * down first, here as ones·bᵀ (a GEMM of depth 1, which is exact), then
 * x·Wᵀ added onto it; without a bias, onto zeros.
 */
void
disco_ops_affine_rows (const DiscoOps *ops, gsize n_rows, gsize n, gsize n_in, const float *x,
                       const float *weight, const float *bias, const float *ones, float *out)
{
  if (bias != NULL)
    /* B × n = ones (B × 1) · b (1 × n) */
    ops->gemm (FALSE, FALSE, n_rows, n, 1, 1.0f, ones, 1, bias, n, 0.0f, out, n);
  else
    ops->fill (n_rows * n, 0.0f, out);
  /* B × n += x (B × n_in) · Wᵀ (n_in × n) */
  ops->gemm (FALSE, TRUE, n_rows, n, n_in, 1.0f, x, n_in, weight, n_in, 1.0f, out, n);
}

/**
 * disco_ops_network_begin_batch:
 * @network: a network
 * @n_samples: B, > 0
 * @input: B×F inputs, row-major, a buffer of the network's table
 * @error: return location for a #GError
 *
 * Computes the first layer's drive W_1·x + b_1 of every sample once: it
 * stays constant while the network settles.  The bias is laid down first
 * (as ones·b_1ᵀ, a GEMM of depth 1, which is exact) and the product added
 * onto it.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_ops_network_begin_batch (DiscoOpsNetwork *network, gsize n_samples, const float *input,
                               GError **error)
{
  const DiscoOps *ops;
  const DiscoOpsLayer *first;

  g_return_val_if_fail (network != NULL, FALSE);
  g_return_val_if_fail (n_samples > 0 && input != NULL, FALSE);

  ops = network->ops;
  first = &network->layers[0].spec;
  for (guint l = 0; l < network->n_layers; l++)
    if (network->layers[l].spec.weight == NULL)
      {
        g_set_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_BAD_VALUE,
                     "network layer %u has no weights (disco_ops_network_set_parameters)", l);
        return FALSE;
      }
  if (!ensure_scratch (network, n_samples, error))
    return FALSE;

  if (first->bias != NULL)
    ops->fill (n_samples, 1.0f, network->ones);
  disco_ops_affine_rows (ops, n_samples, first->n, first->n_in, input, first->weight, first->bias,
                         network->ones, network->first_drive);
  network->n_samples = n_samples;
  for (guint i = 0; i < network->lanes->len; i++)
    ((DiscoOpsNetworkLane *) g_ptr_array_index (network->lanes, i))->packed_n = G_MAXSIZE;
  return ops->check (error);
}

/**
 * disco_ops_network_lane_pack_rows:
 * @lane: a lane after disco_ops_network_lane_begin()
 * @n_active: A, at most the block's samples
 * @rows: (array length=n_active): each packed row's sample, counted from
 *   the lane's first (host memory)
 * @samples: (out) (optional) (transfer none): the A samples in the table's
 *   memory, valid until the next call
 * @generation: (out) (optional): a number that changes whenever the
 *   uploaded samples do (and with every batch)
 * @error: return location for a #GError
 *
 * Uploads the samples of the packed rows and, for a first layer other than
 * a microcircuit, gathers their first drives; only when the rows differ
 * from the last ones (within a solve they only shrink, so that is at most
 * once per step).  The closed loop reads the same samples
 * (disco-ops-closed-loop.c).
 *
 * Returns: %TRUE on success, %FALSE with @error set (rows past the block,
 *   or a failed upload)
 */
gboolean
disco_ops_network_lane_pack_rows (DiscoOpsNetworkLane *lane, gsize n_active, const guint *rows,
                                  const guint **samples, guint64 *generation, GError **error)
{
  DiscoOpsNetwork *network;
  const DiscoOpsLayer *first;

  g_return_val_if_fail (lane != NULL, FALSE);
  network = lane->network;
  first = &network->layers[0].spec;

  if (n_active > lane->n || lane->first + lane->n > network->n_samples)
    {
      g_set_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_SHAPE,
                   "right-hand side on %" G_GSIZE_FORMAT " rows from sample %" G_GSIZE_FORMAT
                   ", but the block has %" G_GSIZE_FORMAT " of a batch of %" G_GSIZE_FORMAT
                   " samples",
                   n_active, lane->first, lane->n, network->n_samples);
      return FALSE;
    }
  if (n_active != lane->packed_n
      || memcmp (rows, lane->packed_rows, n_active * sizeof (guint)) != 0)
    {
      for (gsize r = 0; r < n_active; r++)
        lane->upload_rows[r] = (guint) lane->first + rows[r];
      if (!network->ops->upload (lane->rows, lane->upload_rows, n_active * sizeof (guint), error))
        return FALSE;
      if (first->kind != DISCO_OPS_LAYER_MICROCIRCUIT)
        network->ops->gather_rows (n_active, first->n, lane->rows, network->first_drive, first->n,
                                   lane->packed_drive, first->n);
      memcpy (lane->packed_rows, rows, n_active * sizeof (guint));
      lane->packed_n = n_active;
      lane->generation++;
    }
  if (samples != NULL)
    *samples = lane->rows;
  if (generation != NULL)
    *generation = lane->generation;
  return TRUE;
}

/* The right-hand side on @n_rows rows with @lane's scratch: row r is
 * sample r, or with @packed sample lane->first + packed_rows[r]
 * (pack_rows()), whose first drive it reads through the index
 * (microcircuit) or from packed_drive (the others). */
static gboolean
evaluate (DiscoOpsNetworkLane *lane, gsize n_rows, gboolean packed, const float *y, gsize ldy,
          float *dydt, gsize ldf)
{
  DiscoOpsNetwork *network = lane->network;
  const DiscoOps *ops = network->ops;
  const float *previous_rates = NULL;
  const guint *drive_rows = packed ? lane->rows : NULL;

  for (guint l = 0; l < network->n_layers; l++)
    {
      Layer *layer = &network->layers[l];
      const DiscoOpsLayer *spec = &layer->spec;
      const gsize n = spec->n;
      float *rates = lane->rates[l];
      const float *drive;

      if (l == 0 && packed && spec->kind != DISCO_OPS_LAYER_MICROCIRCUIT)
        /* Only the microcircuit kernel reads the drive through row
         * indices: for the others, the packed rows' drives, gathered. */
        drive = lane->packed_drive;
      else if (l == 0)
        /* W_1 x + b_1, the bias already in. */
        drive = network->first_drive;
      else
        {
          /* drive (rows × n) = r_prev (rows × n_in) · Wᵀ; the bias joins in
           * the layer's kernel. */
          ops->gemm (FALSE, TRUE, n_rows, n, spec->n_in, 1.0f, previous_rates, spec->n_in,
                     spec->weight, spec->n_in, 0.0f, lane->drive, n);
          drive = lane->drive;
        }

      switch (spec->kind)
        {
        case DISCO_OPS_LAYER_MICROCIRCUIT:
          ops->microcircuit_rhs (&spec->phi_e, &spec->phi_i, spec->tau_e, spec->tau_i, n_rows, n,
                                 y + layer->offset, ldy, drive, n, l == 0 ? drive_rows : NULL,
                                 l == 0 ? NULL : spec->bias, rates, n, dydt + layer->offset, ldf);
          break;
        case DISCO_OPS_LAYER_RATE:
          /* r = φ_E(u), then τ du/dt = −u + d (+ b).  The first layer's
           * drive holds its bias already. */
          ops->softrect_forward (&spec->phi_e, n_rows, n, y + layer->offset, ldy, rates, n);
          ops->leaky_rows (spec->tau_e, n_rows, n, y + layer->offset, ldy, drive, n,
                           l == 0 ? NULL : spec->bias, dydt + layer->offset, ldf);
          break;
        case DISCO_OPS_LAYER_READOUT:
          /* The last layer: its values feed no product, so no rates. */
          ops->leaky_rows (spec->tau_e, n_rows, n, y + layer->offset, ldy, drive, n, NULL,
                           dydt + layer->offset, ldf);
          break;
        }
      previous_rates = rates;
    }
  return TRUE;
}

/**
 * disco_ops_network_rhs:
 * @network: (type DiscoOpsNetwork): the network
 * @ops: the solver's table, which must be the network's
 * @n_rows: B, the batch of disco_ops_network_begin_batch()
 * @n_state: N, disco_ops_network_get_state_size()
 * @y: B×N states (the table's memory)
 * @dydt: B×N derivatives, written (the table's memory)
 * @error: return location for a #GError
 *
 * The open-loop right-hand side (MODEL.md §2, f = 0, c = 0) as a
 * #DiscoOdeBatchedRhsFunc for the lockstep solver: row r is sample r.
 *
 * Returns: %TRUE on success, %FALSE with @error set when the batch does not
 *   match the one begun
 */
gboolean
disco_ops_network_rhs (gpointer network, const DiscoOps *ops, gsize n_rows, gsize n_state,
                       const float *y, float *dydt, GError **error)
{
  DiscoOpsNetwork *self = network;

  g_return_val_if_fail (self != NULL && ops == self->ops, FALSE);
  g_return_val_if_fail (n_state == self->state_size, FALSE);

  if (n_rows != self->n_samples)
    {
      g_set_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_SHAPE,
                   "network right-hand side on %" G_GSIZE_FORMAT " rows, but the batch "
                   "begun has %" G_GSIZE_FORMAT " samples",
                   n_rows, self->n_samples);
      return FALSE;
    }
  return evaluate (g_ptr_array_index (self->lanes, 0), n_rows, FALSE, y, n_state, dydt, n_state);
}

/**
 * disco_ops_network_rhs_strided:
 * @network: a network
 * @n_rows: B, the batch of disco_ops_network_begin_batch()
 * @y: B states of N values at row stride @ldy (the table's memory)
 * @ldy: row stride of @y, ≥ N
 * @dydt: B derivatives of N values at row stride @ldf, written
 * @ldf: row stride of @dydt, ≥ N
 *
 * The open-loop right-hand side on the network part of wider rows: the
 * closed loop's states carry the controller's integral after it
 * (disco-ops-closed-loop.h), which this leaves alone.
 *
 * Returns: %TRUE on success, %FALSE with @error set when the batch does not
 *   match the one begun
 */
gboolean
disco_ops_network_rhs_strided (DiscoOpsNetwork *network, gsize n_rows, const float *y, gsize ldy,
                               float *dydt, gsize ldf, GError **error)
{
  g_return_val_if_fail (network != NULL, FALSE);
  g_return_val_if_fail (ldy >= network->state_size && ldf >= network->state_size, FALSE);

  if (n_rows != network->n_samples)
    {
      g_set_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_SHAPE,
                   "network right-hand side on %" G_GSIZE_FORMAT " rows, but the batch "
                   "begun has %" G_GSIZE_FORMAT " samples",
                   n_rows, network->n_samples);
      return FALSE;
    }
  return evaluate (g_ptr_array_index (network->lanes, 0), n_rows, FALSE, y, ldy, dydt, ldf);
}

/**
 * disco_ops_network_rhs_compact:
 * @network: (type DiscoOpsNetwork): a network
 * @n_active: A, the samples in this evaluation
 * @rows: (array length=n_active): each packed row's sample index (host
 *   memory; uploaded to the table for the first layer's drive)
 * @t: (array length=n_active): each row's time (unused: autonomous)
 * @y: A×N states (the table's memory)
 * @dydt: A×N derivatives, written (the table's memory)
 * @error: return location for a #GError
 *
 * The same right-hand side as a #DiscoOdeRhsFunc for the compacting
 * solver, disco_ode_solver_solve(): packed row r is sample @rows[r], whose
 * first drive it reads (through the indices in the microcircuit kernel,
 * gathered first for a rate layer or a readout).  It uses lane 0, whose
 * block is the whole batch.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_ops_network_rhs_compact (gpointer network, gsize n_active, const guint *rows, const double *t,
                               const float *y, float *dydt, GError **error)
{
  DiscoOpsNetwork *self = network;
  DiscoOpsNetworkLane *lane;

  g_return_val_if_fail (self != NULL, FALSE);

  lane = g_ptr_array_index (self->lanes, 0);
  if (!disco_ops_network_lane_begin (lane, 0, self->n_samples, error))
    return FALSE;
  return disco_ops_network_lane_rhs_compact (lane, n_active, rows, t, y, dydt, error);
}

/**
 * disco_ops_network_get_lane:
 * @network: a network
 * @index: a lane index, made when first asked for
 *
 * A lane is the scratch of one evaluation at a time (rates, drives, packed
 * rows).  Lane 0 is the network's own; blocks of one batch solved at the
 * same time, one per thread, each need a lane of their own
 * (disco_ops_network_lane_begin()).  The parameters and the batch's first
 * drives are shared.
 *
 * Returns: (transfer none): the lane, owned by @network
 */
DiscoOpsNetworkLane *
disco_ops_network_get_lane (DiscoOpsNetwork *network, guint index)
{
  g_return_val_if_fail (network != NULL, NULL);

  while (network->lanes->len <= index)
    g_ptr_array_add (network->lanes, lane_new (network));
  return g_ptr_array_index (network->lanes, index);
}

/**
 * disco_ops_network_lane_begin:
 * @lane: a lane of a network whose batch began
 *   (disco_ops_network_begin_batch())
 * @first: the block's first sample
 * @n_samples: the block's samples, @first + @n_samples ≤ B
 * @error: return location for a #GError
 *
 * Makes @lane evaluate the block of samples @first … @first + @n_samples − 1:
 * the rows disco_ops_network_lane_rhs_compact() is given count from
 * @first.
 *
 * Returns: %TRUE on success, %FALSE with @error set (no memory, or a block
 *   outside the batch)
 */
gboolean
disco_ops_network_lane_begin (DiscoOpsNetworkLane *lane, gsize first, gsize n_samples,
                              GError **error)
{
  g_return_val_if_fail (lane != NULL, FALSE);

  if (first > lane->network->n_samples || n_samples > lane->network->n_samples - first)
    {
      g_set_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_SHAPE,
                   "network block of samples %" G_GSIZE_FORMAT " + %" G_GSIZE_FORMAT
                   " outside the batch of %" G_GSIZE_FORMAT,
                   first, n_samples, lane->network->n_samples);
      return FALSE;
    }
  if (!ensure_lane (lane, n_samples, error))
    return FALSE;
  /* The packed rows stay valid for the same block of the same batch. */
  if (lane->first != first)
    lane->packed_n = G_MAXSIZE;
  lane->first = first;
  lane->n = n_samples;
  return TRUE;
}

/**
 * disco_ops_network_lane_rhs_compact:
 * @lane: (type DiscoOpsNetworkLane): a lane after
 *   disco_ops_network_lane_begin()
 * @n_active: A, the samples in this evaluation
 * @rows: (array length=n_active): each packed row's sample, counted from
 *   the lane's first (host memory)
 * @t: (array length=n_active): each row's time (unused: autonomous)
 * @y: A×N states (the table's memory)
 * @dydt: A×N derivatives, written (the table's memory)
 * @error: return location for a #GError
 *
 * disco_ops_network_rhs_compact() on the lane's block, a #DiscoOdeRhsFunc.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_ops_network_lane_rhs_compact (gpointer lane, gsize n_active, const guint *rows,
                                    const double *t G_GNUC_UNUSED, const float *y, float *dydt,
                                    GError **error)
{
  DiscoOpsNetworkLane *self = lane;
  const gsize N = self != NULL ? self->network->state_size : 0;

  g_return_val_if_fail (self != NULL, FALSE);
  return disco_ops_network_lane_rhs_compact_strided (self, n_active, rows, y, N, dydt, N, error);
}

/**
 * disco_ops_network_lane_rhs_compact_strided:
 * @lane: a lane after disco_ops_network_lane_begin()
 * @n_active: A
 * @rows: (array length=n_active): each packed row's sample, counted from
 *   the lane's first (host memory)
 * @y: A states of N values at row stride @ldy (the table's memory)
 * @ldy: row stride of @y, ≥ N
 * @dydt: A derivatives of N values at row stride @ldf, written
 * @ldf: row stride of @dydt, ≥ N
 * @error: return location for a #GError
 *
 * disco_ops_network_lane_rhs_compact() on the network part of wider rows,
 * for the closed loop (disco-ops-closed-loop.h).
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_ops_network_lane_rhs_compact_strided (DiscoOpsNetworkLane *lane, gsize n_active,
                                            const guint *rows, const float *y, gsize ldy,
                                            float *dydt, gsize ldf, GError **error)
{
  DiscoOpsNetwork *network;

  g_return_val_if_fail (lane != NULL, FALSE);
  network = lane->network;
  g_return_val_if_fail (ldy >= network->state_size && ldf >= network->state_size, FALSE);

  if (!disco_ops_network_lane_pack_rows (lane, n_active, rows, NULL, NULL, error))
    return FALSE;
  return evaluate (lane, n_active, TRUE, y, ldy, dydt, ldf);
}
