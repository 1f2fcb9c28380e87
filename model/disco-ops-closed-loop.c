/* disco-ops-closed-loop.c: feedback weights and the closed-loop right-hand
 * side through a DiscoOps table (disco-ops-closed-loop.h).
 *
 * Shape legend: B samples, O outputs, N network state, n_l units, W the
 * widest layer; a state row is N + O long; Q_l and the Jacobians are
 * B × O × n_l, contiguous.
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Disco-Kernels"

#include "disco-ops-closed-loop.h"

#include <string.h>

/* The scratch of one evaluation at a time (see DiscoOpsNetworkLane): the
 * control and the packed rows' targets, gathered when the samples the
 * network's lane uploaded for them change (the originals while they are
 * 0 … A − 1); the feedback weights are read through those samples.  Lane 0
 * serves the loop's own entry points. */
struct _DiscoOpsClosedLoopLane
{
  DiscoOpsClosedLoop *loop;
  DiscoOpsNetworkLane *network_lane; /* packs the rows: their samples in the table's memory */
  gsize first;                       /* the block's first sample */
  gsize capacity;                    /* rows the buffers hold */
  float *control;                    /* capacity × O */
  const guint *samples;              /* the network lane's upload of the packed rows */
  guint64 generation;                /* of that upload the targets are for; 0: none */
  gboolean packed_identity;          /* the samples are 0 … A − 1 */
  float *packed_targets;             /* capacity × O */
  const float *row_targets;          /* targets or packed_targets */
};

struct _DiscoOpsClosedLoop
{
  DiscoOpsNetwork *network; /* not owned */
  const DiscoOps *ops;
  DiscoOpsController controller;
  guint n_layers;
  gsize n_network; /* N */
  gsize n_out;     /* O */
  gsize readout_offset;
  float readout_tau;
  gsize widest;

  gsize capacity;       /* samples the buffers hold */
  gsize n_samples;      /* B of the batch begun */
  float **feedback;     /* per layer B × O × n_l: where this batch's are (own or the caller's) */
  float **own_feedback; /* per layer B × O × n_l; NULL but for microcircuits */
  float **destination;  /* per layer: the caller's buffer for the next begin, or NULL */
  float *jacobian, *below; /* B × O × W scratch */
  const float *targets;    /* B × O, the caller's (begin) */
  GPtrArray *lanes;        /* of DiscoOpsClosedLoopLane, lane 0 made with the loop */
};

static void
free_lane_buffers (DiscoOpsClosedLoopLane *lane)
{
  const DiscoOps *ops = lane->loop->ops;

  if (ops != NULL)
    {
      g_clear_pointer (&lane->control, ops->free);
      g_clear_pointer (&lane->packed_targets, ops->free);
    }
  lane->generation = 0;
  lane->capacity = 0;
}

static void
lane_free (gpointer data)
{
  free_lane_buffers (data);
  g_free (data);
}

/* Buffers for @rows rows in @lane, in the loop's table (contents not kept). */
static gboolean
ensure_lane (DiscoOpsClosedLoopLane *lane, gsize rows, GError **error)
{
  const DiscoOps *ops = lane->loop->ops;
  const gsize O = lane->loop->n_out;

  if (rows <= lane->capacity)
    return TRUE;
  free_lane_buffers (lane);
  if ((lane->control = ops->alloc (rows * O * sizeof (float), error)) == NULL
      || (lane->packed_targets = ops->alloc (rows * O * sizeof (float), error)) == NULL)
    {
      free_lane_buffers (lane);
      return FALSE;
    }
  lane->capacity = rows;
  return TRUE;
}

static DiscoOpsClosedLoopLane *
lane_new (DiscoOpsClosedLoop *loop, guint index)
{
  DiscoOpsClosedLoopLane *lane = g_new0 (DiscoOpsClosedLoopLane, 1);

  lane->loop = loop;
  lane->network_lane = disco_ops_network_get_lane (loop->network, index);
  return lane;
}

static void
free_buffers (DiscoOpsClosedLoop *loop)
{
  for (guint l = 0; l < loop->n_layers; l++)
    {
      g_clear_pointer (&loop->own_feedback[l], loop->ops->free);
      loop->feedback[l] = NULL;
    }
  for (guint i = 0; i < loop->lanes->len; i++)
    free_lane_buffers (g_ptr_array_index (loop->lanes, i));
  g_clear_pointer (&loop->jacobian, loop->ops->free);
  g_clear_pointer (&loop->below, loop->ops->free);
  loop->capacity = 0;
  loop->n_samples = 0;
}

/**
 * disco_ops_closed_loop_free:
 * @loop: (transfer full) (nullable): a closed loop
 *
 * Frees the loop's buffers and the loop (not the network).
 */
void
disco_ops_closed_loop_free (DiscoOpsClosedLoop *loop)
{
  if (loop == NULL)
    return;
  free_buffers (loop);
  g_ptr_array_unref (loop->lanes);
  g_free (loop->feedback);
  g_free (loop->own_feedback);
  g_free (loop->destination);
  g_free (loop);
}

/**
 * disco_ops_closed_loop_new:
 * @network: (transfer none): the network, ending in a readout; it must
 *   outlive the loop
 * @controller: the controller
 * @error: return location for a #GError
 *
 * Returns: (transfer full) (nullable): the closed loop, or %NULL with
 *   @error set (%DISCO_ERROR_BAD_VALUE) when the network does not
 *   end in a readout or the controller's τ is not positive.  The top-down
 *   input reaches the interneurons of microcircuit layers; rate layers have
 *   none and take no feedback, but pass the Jacobian on.
 */
DiscoOpsClosedLoop *
disco_ops_closed_loop_new (DiscoOpsNetwork *network, const DiscoOpsController *controller,
                           GError **error)
{
  DiscoOpsClosedLoop *loop;
  guint n_layers;
  const DiscoOpsLayer *readout;

  g_return_val_if_fail (network != NULL && controller != NULL, NULL);

  n_layers = disco_ops_network_get_n_layers (network);
  readout = disco_ops_network_get_layer (network, n_layers - 1);
  if (readout->kind != DISCO_OPS_LAYER_READOUT || !(controller->tau > 0.0f))
    {
      g_set_error_literal (error, DISCO_KERNELS_ERROR, DISCO_ERROR_BAD_VALUE,
                           "a closed loop needs a network ending in a readout and a "
                           "controller time constant > 0");
      return NULL;
    }
  loop = g_new0 (DiscoOpsClosedLoop, 1);
  loop->network = network;
  loop->ops = NULL;
  loop->controller = *controller;
  loop->n_layers = n_layers;
  loop->n_network = disco_ops_network_get_state_size (network);
  loop->n_out = readout->n;
  loop->readout_offset = disco_ops_network_get_layer_offset (network, n_layers - 1);
  loop->readout_tau = readout->tau_e;
  loop->feedback = g_new0 (float *, n_layers);
  loop->own_feedback = g_new0 (float *, n_layers);
  loop->destination = g_new0 (float *, n_layers);
  loop->lanes = g_ptr_array_new_with_free_func (lane_free);
  g_ptr_array_add (loop->lanes, lane_new (loop, 0));
  for (guint l = 0; l < n_layers; l++)
    loop->widest = MAX (loop->widest, disco_ops_network_get_layer (network, l)->n);
  return loop;
}

/**
 * disco_ops_closed_loop_get_state_size:
 * @loop: a closed loop
 *
 * Returns: N + O, a closed-loop state row's length
 */
gsize
disco_ops_closed_loop_get_state_size (DiscoOpsClosedLoop *loop)
{
  g_return_val_if_fail (loop != NULL, 0);
  return loop->n_network + loop->n_out;
}

/**
 * disco_ops_closed_loop_set_feedback_destination:
 * @loop: a closed loop
 * @layer: a microcircuit layer's index
 * @destination: (nullable): B × O × n_l floats in the table's memory of the
 *   next disco_ops_closed_loop_begin(), B that begin's batch, or %NULL for
 *   the loop's own buffer
 *
 * Makes the next begins compute the layer's feedback weights into
 * @destination (a tensor the caller publishes, which then needs no copy)
 * and the solve read them there until the begin after: it must stay
 * allocated and unwritten until then.
 */
void
disco_ops_closed_loop_set_feedback_destination (DiscoOpsClosedLoop *loop, guint layer,
                                                float *destination)
{
  g_return_if_fail (loop != NULL && layer < loop->n_layers);
  loop->destination[layer] = destination;
}

/**
 * disco_ops_closed_loop_get_feedback:
 * @loop: a closed loop after disco_ops_closed_loop_begin()
 * @layer: a layer index
 *
 * Returns: (nullable): the layer's feedback weights, B × O × n_l in the
 *   table's memory, or %NULL for a layer that is not a microcircuit
 */
const float *
disco_ops_closed_loop_get_feedback (DiscoOpsClosedLoop *loop, guint layer)
{
  g_return_val_if_fail (loop != NULL && layer < loop->n_layers, NULL);
  return loop->feedback[layer];
}

static gboolean
ensure_buffers (DiscoOpsClosedLoop *loop, const DiscoOps *ops, gsize n_samples, GError **error)
{
  const gsize O = loop->n_out;

  if (n_samples <= loop->capacity)
    return TRUE;
  free_buffers (loop);
  for (guint l = 0; l + 1 < loop->n_layers; l++)
    {
      const DiscoOpsLayer *spec = disco_ops_network_get_layer (loop->network, l);

      if (spec->kind != DISCO_OPS_LAYER_MICROCIRCUIT)
        continue;
      if ((loop->own_feedback[l] = ops->alloc (n_samples * O * spec->n * sizeof (float), error))
          == NULL)
        goto failed;
    }
  if (!ensure_lane (g_ptr_array_index (loop->lanes, 0), n_samples, error)
      || (loop->jacobian = ops->alloc (n_samples * O * loop->widest * sizeof (float), error))
             == NULL
      || (loop->below = ops->alloc (n_samples * O * loop->widest * sizeof (float), error)) == NULL)
    goto failed;
  loop->capacity = n_samples;
  return TRUE;

failed:
  free_buffers (loop);
  return FALSE;
}

/* Q_l of every microcircuit layer from the open-loop states (B × N): down
 * from the readout, one stacked GEMM per layer; a rate layer passes the
 * Jacobian on (its φ_E′) and gets no Q. */
static void
compute_feedback (DiscoOpsClosedLoop *loop, gsize B, const float *state,
                  const DiscoOpsFeedbackOptions *options)
{
  const DiscoOps *ops = loop->ops;
  const gsize N = loop->n_network, O = loop->n_out;
  const DiscoOpsLayer *readout = disco_ops_network_get_layer (loop->network, loop->n_layers - 1);
  float *jacobian = loop->jacobian, *below = loop->below;
  const guint top = loop->n_layers - 2;

  if (loop->n_layers < 2)
    return;
  {
    /* J_L = W_out D_L: W_out broadcast to every sample, then scaled. */
    const DiscoOpsLayer *spec = disco_ops_network_get_layer (loop->network, top);

    ops->slope_scale_rows (&spec->phi_e, B, O, spec->n,
                           state + disco_ops_network_get_layer_offset (loop->network, top), N,
                           readout->weight, 0, jacobian);
  }
  for (gint l = (gint) top; l >= 0; l--)
    {
      const DiscoOpsLayer *spec = disco_ops_network_get_layer (loop->network, l);
      const gsize n = spec->n;
      const gsize offset = disco_ops_network_get_layer_offset (loop->network, l);

      /* Q_l = J_l diag(φ_I′(u_I)), then the options: sample by sample
       * unless the minibatch's mean replaces them. */
      if (loop->feedback[l] != NULL && !options->average)
        ops->feedback_weights_rows (&spec->phi_i, B, O, n, state + offset + n, N, jacobian, O * n,
                                    options->clip, options->norm, loop->feedback[l]);
      else if (loop->feedback[l] != NULL)
        {
          ops->slope_scale_rows (&spec->phi_i, B, O, n, state + offset + n, N, jacobian, O * n,
                                 loop->feedback[l]);
          ops->feedback_normalize (B, O * n, TRUE, options->clip, options->norm, loop->feedback[l]);
        }
      if (l > 0)
        {
          /* J_{l−1} = J_l W_l D_{l−1}: (B·O × n)·(n × n_{l−1}) for all
           * samples at once, then each sample's columns scaled. */
          const DiscoOpsLayer *lower = disco_ops_network_get_layer (loop->network, l - 1);
          float *swap;

          ops->gemm (FALSE, FALSE, B * O, lower->n, n, 1.0f, jacobian, n, spec->weight, lower->n,
                     0.0f, below, lower->n);
          ops->slope_scale_rows (&lower->phi_e, B, O, lower->n,
                                 state + disco_ops_network_get_layer_offset (loop->network, l - 1),
                                 N, below, O * lower->n, below);
          swap = jacobian;
          jacobian = below;
          below = swap;
        }
    }
}

/**
 * disco_ops_closed_loop_begin:
 * @loop: a closed loop
 * @n_samples: B, the batch the network began (disco_ops_network_begin_batch())
 * @open_loop: B × N open-loop steady states (the table's memory)
 * @targets: (transfer none): B × O targets y* (the table's memory), used by
 *   the right-hand side until the next begin
 * @options: the feedback weights' options
 * @state: B × (N + O), written: the closed loop's initial states, the
 *   open-loop state and a zero integral (the table's memory)
 * @error: return location for a #GError
 *
 * Computes the feedback weights (MODEL.md §4), held fixed during the
 * closed-loop solve, and its initial states.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_ops_closed_loop_begin (DiscoOpsClosedLoop *loop, gsize n_samples, const float *open_loop,
                             const float *targets, const DiscoOpsFeedbackOptions *options,
                             float *state, GError **error)
{
  const DiscoOps *ops;
  const gsize N = loop->n_network, O = loop->n_out;

  g_return_val_if_fail (loop != NULL && options != NULL, FALSE);
  g_return_val_if_fail (n_samples > 0 && open_loop != NULL && targets != NULL && state != NULL,
                        FALSE);

  /* The network's table: the loop follows it. */
  ops = loop->ops = disco_ops_network_get_ops (loop->network);
  if (!ensure_buffers (loop, ops, n_samples, error))
    return FALSE;
  loop->n_samples = n_samples;
  loop->targets = targets;
  for (guint l = 0; l < loop->n_layers; l++)
    loop->feedback[l] = loop->own_feedback[l] == NULL  ? NULL
                        : loop->destination[l] != NULL ? loop->destination[l]
                                                       : loop->own_feedback[l];
  for (guint i = 0; i < loop->lanes->len; i++)
    ((DiscoOpsClosedLoopLane *) g_ptr_array_index (loop->lanes, i))->generation = 0;
  compute_feedback (loop, n_samples, open_loop, options);
  ops->fill (n_samples * (N + O), 0.0f, state);
  ops->copy_rows (n_samples, N, open_loop, N, state, N + O);
  return ops->check (error);
}

/* du_I −= (c·Q_l)/τ_I for every microcircuit layer of @n_rows rows, with
 * the control @control the controller just wrote; row r takes sample
 * @rows[r]'s Q_l (@rows in the table's memory), or sample r's when @rows is
 * %NULL. */
static void
add_top_down (DiscoOpsClosedLoop *self, gsize n_rows, const guint *rows, const float *control,
              float *dydt)
{
  const gsize ld = self->n_network + self->n_out;

  for (guint l = 0; l + 1 < self->n_layers; l++)
    {
      const DiscoOpsLayer *spec = disco_ops_network_get_layer (self->network, l);
      float *du_i = dydt + disco_ops_network_get_layer_offset (self->network, l) + spec->n;

      if (self->feedback[l] == NULL)
        continue;
      if (rows != NULL)
        self->ops->top_down_rows_indexed (spec->tau_i, n_rows, self->n_out, spec->n, rows, control,
                                          self->feedback[l], du_i, ld);
      else
        self->ops->top_down_rows (spec->tau_i, n_rows, self->n_out, spec->n, control,
                                  self->feedback[l], du_i, ld);
    }
}

/**
 * disco_ops_closed_loop_rhs:
 * @loop: (type DiscoOpsClosedLoop): the closed loop
 * @ops: the solver's table, which must be the network's
 * @n_rows: B, the batch begun
 * @n_state: N + O
 * @y: B × (N + O) states (the table's memory)
 * @dydt: B × (N + O) derivatives, written (the table's memory)
 * @error: return location for a #GError
 *
 * The closed-loop right-hand side (MODEL.md §2–§3), a
 * #DiscoOdeBatchedRhsFunc: row r is sample r.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_ops_closed_loop_rhs (gpointer loop, const DiscoOps *ops, gsize n_rows, gsize n_state,
                           const float *y, float *dydt, GError **error)
{
  DiscoOpsClosedLoop *self = loop;
  const gsize N = self->n_network, O = self->n_out, ld = N + O;
  const DiscoOpsController *k = &self->controller;
  DiscoOpsClosedLoopLane *lane;

  g_return_val_if_fail (self != NULL && ops == self->ops, FALSE);
  g_return_val_if_fail (n_state == ld, FALSE);

  if (n_rows != self->n_samples)
    {
      g_set_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_SHAPE,
                   "closed-loop right-hand side on %" G_GSIZE_FORMAT " rows, but the batch "
                   "begun has %" G_GSIZE_FORMAT " samples",
                   n_rows, self->n_samples);
      return FALSE;
    }
  /* The network first (it writes every derivative of the N columns), then
   * what the controller adds to the readout and the interneurons. */
  if (!disco_ops_network_rhs_strided (self->network, n_rows, y, ld, dydt, ld, error))
    return FALSE;
  lane = g_ptr_array_index (self->lanes, 0);
  ops->leaky_pi_rows (k->softmax, k->k_p, k->k_i, k->leak, k->tau, self->readout_tau, n_rows, O,
                      y + self->readout_offset, y + N, ld, self->targets, lane->control,
                      dydt + self->readout_offset, dydt + N, ld);
  add_top_down (self, n_rows, NULL, lane->control, dydt);
  return TRUE;
}

/**
 * disco_ops_closed_loop_control:
 * @loop: a closed loop after disco_ops_closed_loop_begin()
 * @n_samples: B, the batch begun
 * @state: B × (N + O) states (the table's memory)
 * @control: B × O, written: c at those states (the table's memory)
 *
 * The control signal c, e.g. to publish it after a solve.
 */
void
disco_ops_closed_loop_control (DiscoOpsClosedLoop *loop, gsize n_samples, const float *state,
                               float *control)
{
  const DiscoOpsController *k;
  const gsize N = loop->n_network, O = loop->n_out;

  g_return_if_fail (loop != NULL && loop->ops != NULL && n_samples == loop->n_samples);

  k = &loop->controller;
  loop->ops->leaky_pi_rows (k->softmax, k->k_p, k->k_i, k->leak, k->tau, loop->readout_tau,
                            n_samples, O, state + loop->readout_offset, state + N, N + O,
                            loop->targets, control, NULL, NULL, O);
}

/* Has the network's lane pack the rows @rows (A, host memory, counted from
 * the lane's first) and points row_targets at their samples' targets: the
 * originals while the samples are 0 … A − 1, else a gather into
 * packed_targets, made again only when the samples change (within a solve
 * they only shrink, so that is at most once per step).  Rows past the
 * block, or the closed loop's batch, are an error. */
static gboolean
pack_rows (DiscoOpsClosedLoopLane *lane, gsize n_active, const guint *rows, GError **error)
{
  DiscoOpsClosedLoop *self = lane->loop;
  const DiscoOps *ops = self->ops;
  const gsize O = self->n_out;
  guint64 generation;

  if (lane->first > self->n_samples || n_active > self->n_samples - lane->first)
    {
      g_set_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_SHAPE,
                   "closed-loop right-hand side on %" G_GSIZE_FORMAT
                   " rows from sample %" G_GSIZE_FORMAT ", but the batch begun has %" G_GSIZE_FORMAT
                   " samples",
                   n_active, lane->first, self->n_samples);
      return FALSE;
    }
  if (!disco_ops_network_lane_pack_rows (lane->network_lane, n_active, rows, &lane->samples,
                                         &generation, error))
    return FALSE;
  if (generation == lane->generation)
    return TRUE;
  lane->generation = generation;
  lane->packed_identity = TRUE;
  for (gsize r = 0; r < n_active && lane->packed_identity; r++)
    lane->packed_identity = lane->first + rows[r] == r;
  if (lane->packed_identity)
    lane->row_targets = self->targets;
  else
    {
      ops->gather_rows (n_active, O, lane->samples, self->targets, O, lane->packed_targets, O);
      lane->row_targets = lane->packed_targets;
    }
  return TRUE;
}

/**
 * disco_ops_closed_loop_rhs_compact:
 * @loop: (type DiscoOpsClosedLoop): the closed loop
 * @n_active: A, the samples in this evaluation
 * @rows: (array length=n_active): each packed row's sample index (host
 *   memory)
 * @t: (array length=n_active): each row's time (unused: autonomous)
 * @y: A × (N + O) states (the table's memory)
 * @dydt: A × (N + O) derivatives, written (the table's memory)
 * @error: return location for a #GError
 *
 * The closed-loop right-hand side as a #DiscoOdeRhsFunc for the compacting
 * solver, disco_ode_solver_solve(): packed row r is sample @rows[r], whose
 * first drive and feedback weights it reads through the index and whose
 * target it gathers when the rows change.  It uses lane 0, whose block is
 * the whole batch.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_ops_closed_loop_rhs_compact (gpointer loop, gsize n_active, const guint *rows,
                                   const double *t, const float *y, float *dydt, GError **error)
{
  DiscoOpsClosedLoop *self = loop;
  DiscoOpsClosedLoopLane *lane;

  g_return_val_if_fail (self != NULL && self->ops != NULL, FALSE);

  lane = g_ptr_array_index (self->lanes, 0);
  if (!disco_ops_closed_loop_lane_begin (lane, 0, self->n_samples, error))
    return FALSE;
  return disco_ops_closed_loop_lane_rhs_compact (lane, n_active, rows, t, y, dydt, error);
}

/**
 * disco_ops_closed_loop_get_lane:
 * @loop: a closed loop
 * @index: a lane index, made when first asked for
 *
 * The closed loop's side of disco_ops_network_get_lane(): a block of the
 * batch solved beside others needs a lane of its own; it evaluates the
 * network in the network's lane of the same index.
 *
 * Returns: (transfer none): the lane, owned by @loop
 */
DiscoOpsClosedLoopLane *
disco_ops_closed_loop_get_lane (DiscoOpsClosedLoop *loop, guint index)
{
  g_return_val_if_fail (loop != NULL, NULL);

  while (loop->lanes->len <= index)
    g_ptr_array_add (loop->lanes, lane_new (loop, loop->lanes->len));
  return g_ptr_array_index (loop->lanes, index);
}

/**
 * disco_ops_closed_loop_lane_begin:
 * @lane: a lane of a closed loop after disco_ops_closed_loop_begin()
 * @first: the block's first sample
 * @n_samples: the block's samples, @first + @n_samples ≤ B
 * @error: return location for a #GError
 *
 * Makes @lane, and the network's lane under it, evaluate the block of
 * samples @first … @first + @n_samples − 1.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_ops_closed_loop_lane_begin (DiscoOpsClosedLoopLane *lane, gsize first, gsize n_samples,
                                  GError **error)
{
  g_return_val_if_fail (lane != NULL && lane->loop->ops != NULL, FALSE);

  if (!disco_ops_network_lane_begin (lane->network_lane, first, n_samples, error)
      || !ensure_lane (lane, n_samples, error))
    return FALSE;
  lane->first = first;
  return TRUE;
}

/**
 * disco_ops_closed_loop_lane_rhs_compact:
 * @lane: (type DiscoOpsClosedLoopLane): a lane after
 *   disco_ops_closed_loop_lane_begin()
 * @n_active: A, the samples in this evaluation
 * @rows: (array length=n_active): each packed row's sample, counted from
 *   the lane's first (host memory)
 * @t: (array length=n_active): each row's time (unused: autonomous)
 * @y: A × (N + O) states (the table's memory)
 * @dydt: A × (N + O) derivatives, written (the table's memory)
 * @error: return location for a #GError
 *
 * disco_ops_closed_loop_rhs_compact() on the lane's block, a
 * #DiscoOdeRhsFunc.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_ops_closed_loop_lane_rhs_compact (gpointer lane, gsize n_active, const guint *rows,
                                        const double *t G_GNUC_UNUSED, const float *y, float *dydt,
                                        GError **error)
{
  DiscoOpsClosedLoopLane *self = lane;
  DiscoOpsClosedLoop *loop;
  gsize N, O, ld;
  const DiscoOpsController *k;

  g_return_val_if_fail (self != NULL && self->loop->ops != NULL, FALSE);
  loop = self->loop;
  N = loop->n_network;
  O = loop->n_out;
  ld = N + O;
  k = &loop->controller;

  if (!pack_rows (self, n_active, rows, error)
      || !disco_ops_network_lane_rhs_compact_strided (self->network_lane, n_active, rows, y, ld,
                                                      dydt, ld, error))
    return FALSE;
  loop->ops->leaky_pi_rows (k->softmax, k->k_p, k->k_i, k->leak, k->tau, loop->readout_tau,
                            n_active, O, y + loop->readout_offset, y + N, ld, self->row_targets,
                            self->control, dydt + loop->readout_offset, dydt + N, ld);
  add_top_down (loop, n_active, self->packed_identity ? NULL : self->samples, self->control, dydt);
  return TRUE;
}

/**
 * disco_ops_closed_loop_control_compact:
 * @loop: a closed loop after disco_ops_closed_loop_begin()
 * @n_active: A
 * @rows: (array length=n_active): the sample of each state row (host
 *   memory)
 * @state: A × (N + O) states (the table's memory)
 * @control: A × O, written: c at those states (the table's memory)
 * @error: return location for a #GError
 *
 * disco_ops_closed_loop_control() for packed rows, each with its sample's
 * target (e.g. one recorded sample).
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_ops_closed_loop_control_compact (DiscoOpsClosedLoop *loop, gsize n_active, const guint *rows,
                                       const float *state, float *control, GError **error)
{
  const DiscoOpsController *k;
  const gsize N = loop->n_network, O = loop->n_out;
  DiscoOpsClosedLoopLane *lane;

  g_return_val_if_fail (loop != NULL && loop->ops != NULL && n_active <= loop->n_samples, FALSE);

  lane = g_ptr_array_index (loop->lanes, 0);
  if (!disco_ops_closed_loop_lane_begin (lane, 0, loop->n_samples, error)
      || !pack_rows (lane, n_active, rows, error))
    return FALSE;
  k = &loop->controller;
  loop->ops->leaky_pi_rows (k->softmax, k->k_p, k->k_i, k->leak, k->tau, loop->readout_tau,
                            n_active, O, state + loop->readout_offset, state + N, N + O,
                            lane->row_targets, control, NULL, NULL, O);
  return TRUE;
}
