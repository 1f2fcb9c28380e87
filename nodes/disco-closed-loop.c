/* disco-closed-loop.c
 *
 * The closed-loop right-hand side is the open-loop one plus the controller:
 *
 *   e = y* − softmax(y)  (or y* − y),  c = k_i c_int + k_p e
 *   τ_c dc_int/dt = e − λ c_int
 *   τ dy/dt     += c                     (the readout)
 *   τ_I du_I/dt −= f_l,  f_l = c · Q_l   (every microcircuit layer)
 *
 * The feedback weights Q_l come from the open-loop state (disco-feedback.c)
 * and stay fixed during the solve (MODEL.md §4).
 */
#include "disco-closed-loop.h"
#include <string.h>

struct _DiscoClosedLoop
{
  DiscoNetwork *network;        /* not owned */
  DiscoControllerSpec controller;
  gsize n_network;              /* N */
  gsize n_out;                  /* O */
  gsize readout_offset;
  float readout_tau;

  gsize capacity;               /* samples the buffers hold */
  float **feedback;             /* per layer: B × O × n_l, NULL for non-microcircuits */
  float *targets;               /* B × O */
  float *packed_state;          /* A × N */
  float *packed_derivative;     /* A × N */
  float *control;               /* A × O */
};

/**
 * disco_closed_loop_new:
 * @network: the network (must outlive the result)
 * @controller: its controller
 *
 * Returns: (transfer full): the closed-loop system
 */
DiscoClosedLoop *
disco_closed_loop_new (DiscoNetwork *network, const DiscoControllerSpec *controller)
{
  DiscoClosedLoop *loop = g_new0 (DiscoClosedLoop, 1);
  guint last = disco_network_get_n_layers (network) - 1;

  loop->network = network;
  loop->controller = *controller;
  loop->n_network = disco_network_get_state_size (network);
  loop->n_out = disco_network_get_layer (network, last)->n;
  loop->readout_offset = disco_network_get_layer_offset (network, last);
  loop->readout_tau = disco_network_get_layer (network, last)->tau_e;
  loop->feedback = g_new0 (float *, disco_network_get_n_layers (network));
  return loop;
}

static void
free_buffers (DiscoClosedLoop *loop)
{
  for (guint l = 0; l < disco_network_get_n_layers (loop->network); l++)
    g_clear_pointer (&loop->feedback[l], g_free);
  g_clear_pointer (&loop->targets, g_free);
  g_clear_pointer (&loop->packed_state, g_free);
  g_clear_pointer (&loop->packed_derivative, g_free);
  g_clear_pointer (&loop->control, g_free);
  loop->capacity = 0;
}

/**
 * disco_closed_loop_free:
 * @loop: a closed-loop system
 */
void
disco_closed_loop_free (DiscoClosedLoop *loop)
{
  free_buffers (loop);
  g_free (loop->feedback);
  g_free (loop);
}

/**
 * disco_closed_loop_get_state_size:
 * @loop: a closed-loop system
 *
 * Returns: N + O, the length of one sample's closed-loop state
 */
gsize
disco_closed_loop_get_state_size (DiscoClosedLoop *loop)
{
  return loop->n_network + loop->n_out;
}

/**
 * disco_closed_loop_get_feedback:
 * @loop: a closed-loop system after disco_closed_loop_begin()
 * @layer: a layer index
 *
 * Returns: (nullable): the layer's feedback weights, B × O × n_l, or %NULL
 *   for a layer that is not a microcircuit
 */
const float *
disco_closed_loop_get_feedback (DiscoClosedLoop *loop, guint layer)
{
  return loop->feedback[layer];
}

/**
 * disco_closed_loop_begin:
 * @loop: a closed-loop system
 * @open_loop_state: B × N open-loop steady states
 * @n_samples: B
 * @targets: B × O targets y*
 * @options: how the feedback weights are averaged, clipped and normalised
 * @state: B × (N + O), filled with the initial closed-loop states: the
 *   open-loop state and a zero integral
 * @error: return location for a #GError
 *
 * Computes the feedback weights and the starting states of a solve.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_closed_loop_begin (DiscoClosedLoop *loop, const float *open_loop_state, gsize n_samples,
                         DiscoTensor *targets, const DiscoFeedbackOptions *options, float *state,
                         GError **error)
{
  const gsize N = loop->n_network, O = loop->n_out;
  const float *t;

  if (disco_tensor_get_dim (targets, 0) != n_samples || disco_tensor_get_row_size (targets) != O)
    {
      g_autofree char *shape = disco_tensor_shape_to_string (targets);
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                   "controller \"%s\": targets of shape %s for %" G_GSIZE_FORMAT " samples "
                   "of %" G_GSIZE_FORMAT " outputs", disco_node_get_name (loop->controller.node),
                   shape, n_samples, O);
      return FALSE;
    }
  if ((t = disco_tensor_read_host (targets, error)) == NULL)
    return FALSE;
  if (n_samples > loop->capacity)
    {
      free_buffers (loop);
      for (guint l = 0; l < disco_network_get_n_layers (loop->network); l++)
        if (disco_network_get_layer (loop->network, l)->kind == DISCO_LAYER_MICROCIRCUIT)
          loop->feedback[l] = g_new (float, n_samples * O *
                                              disco_network_get_layer (loop->network, l)->n);
      loop->targets = g_new (float, n_samples * O);
      loop->packed_state = g_new (float, n_samples * N);
      loop->packed_derivative = g_new (float, n_samples * N);
      loop->control = g_new (float, n_samples * O);
      loop->capacity = n_samples;
    }
  memcpy (loop->targets, t, n_samples * O * sizeof (float));
  disco_feedback_compute (loop->network, open_loop_state, n_samples, options, loop->feedback);
  for (gsize s = 0; s < n_samples; s++)
    {
      memcpy (state + s * (N + O), open_loop_state + s * N, N * sizeof (float));
      memset (state + s * (N + O) + N, 0, O * sizeof (float));
    }
  return TRUE;
}

/* e and c for the packed rows; y is A × (N + O). */
static void
compute_control (DiscoClosedLoop *loop, gsize n_active, const guint *rows, const float *y,
                 float *error_out, float *control)
{
  const gsize N = loop->n_network, O = loop->n_out, ld = N + O;
  const DiscoControllerSpec *k = &loop->controller;

  if (k->error == DISCO_CONTROL_ERROR_CROSS_ENTROPY)
    disco_softmax_rows_cpu (n_active, O, y + loop->readout_offset, ld, error_out, O);
  else
    for (gsize r = 0; r < n_active; r++)
      memcpy (error_out + r * O, y + r * ld + loop->readout_offset, O * sizeof (float));
  for (gsize r = 0; r < n_active; r++)
    {
      const float *target = loop->targets + (gsize) rows[r] * O;
      const float *c_int = y + r * ld + N;

      for (gsize o = 0; o < O; o++)
        {
          float e = target[o] - error_out[r * O + o];
          error_out[r * O + o] = e;
          control[r * O + o] = k->k_i * c_int[o] + k->k_p * e;
        }
    }
}

/**
 * disco_closed_loop_rhs:
 * @loop: (type DiscoClosedLoop): the system
 * @n_active: A
 * @rows: (array length=n_active): each packed row's sample index
 * @t: (array length=n_active): each row's time
 * @y: A × (N + O) states
 * @dydt: A × (N + O) derivatives, written
 * @error: return location for a #GError
 *
 * The closed-loop right-hand side, a #DiscoOdeRhsFunc.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_closed_loop_rhs (gpointer data, gsize n_active, const guint *rows, const double *t,
                       const float *y, float *dydt, GError **error)
{
  DiscoClosedLoop *loop = data;
  const gsize N = loop->n_network, O = loop->n_out, ld = N + O;
  const DiscoControllerSpec *k = &loop->controller;
  float *e = loop->packed_derivative;   /* borrowed for e until the network runs */

  compute_control (loop, n_active, rows, y, e, loop->control);
  for (gsize r = 0; r < n_active; r++)
    {
      const float *c_int = y + r * ld + N;
      float *dc_int = dydt + r * ld + N;

      for (gsize o = 0; o < O; o++)
        dc_int[o] = (e[r * O + o] - k->leak * c_int[o]) / k->tau;
      memcpy (loop->packed_state + r * N, y + r * ld, N * sizeof (float));
    }

  if (!disco_network_rhs (loop->network, n_active, rows, t, loop->packed_state,
                          loop->packed_derivative, error))
    return FALSE;

  for (gsize r = 0; r < n_active; r++)
    {
      const float *c = loop->control + r * O;
      float *d = loop->packed_derivative + r * N;

      for (gsize o = 0; o < O; o++)
        d[loop->readout_offset + o] += c[o] / loop->readout_tau;
      for (guint l = 0; l < disco_network_get_n_layers (loop->network); l++)
        {
          const DiscoLayerSpec *spec = disco_network_get_layer (loop->network, l);
          const gsize n = spec->n;
          const float *restrict q;
          float *restrict du_i;

          if (loop->feedback[l] == NULL)
            continue;
          q = loop->feedback[l] + (gsize) rows[r] * O * n;
          du_i = d + disco_network_get_layer_offset (loop->network, l) + n;
          /* du_I −= (c · Q_l) / τ_I; restrict lets the compiler vectorise
           * without a run-time overlap check. */
          for (gsize o = 0; o < O; o++)
            {
              const float scaled = c[o] / spec->tau_i;
              const float *restrict q_row = q + o * n;
              for (gsize j = 0; j < n; j++)
                du_i[j] -= scaled * q_row[j];
            }
        }
      memcpy (dydt + r * ld, d, N * sizeof (float));
    }
  return TRUE;
}

/**
 * disco_closed_loop_control:
 * @loop: a closed-loop system
 * @state: n × (N + O) states
 * @n_samples: n
 * @rows: (array length=n_samples) (nullable): the sample of each state row,
 *   whose target is used; %NULL for 0 … n − 1
 * @control: n × O, written: c at those states
 *
 * Computes the control signal, e.g. to publish it after a solve.
 */
void
disco_closed_loop_control (DiscoClosedLoop *loop, const float *state, gsize n_samples,
                           const guint *rows, float *control)
{
  g_autofree guint *identity = NULL;
  g_autofree float *e = g_new (float, n_samples * loop->n_out);

  if (rows == NULL)
    {
      identity = g_new (guint, n_samples);
      for (gsize s = 0; s < n_samples; s++)
        identity[s] = s;
      rows = identity;
    }
  compute_control (loop, n_samples, rows, state, e, control);
}
