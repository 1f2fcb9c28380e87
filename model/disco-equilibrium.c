/* disco-equilibrium.c
 *
 * The steady states of MODEL.md §2–§3 solved as fixed points instead of
 * integrated to rest (issue 8). Training uses only the final state of each
 * solve, and the ODE spends hundreds of network evaluations per sample
 * getting there.
 *
 * Open loop (f = 0, c = 0). Layer by layer, input side first, with the
 * drive d = W r_prev + b:
 *   microcircuit: u_E + φ_I(φ_E(u_E)) = d, then u_I = φ_E(u_E);
 *   rate layer:   u = d;   readout: y = W_out r_L.
 *
 * Closed loop. At rest τ_c dc_int/dt = e − λ c_int = 0, so c_int = e/λ and
 *   c = k_i c_int + k_p e = K·e(y),  K = k_i/λ + k_p,
 * with e = y* − softmax(y) (or y* − y). Given c, every layer is solved as
 * above with the top-down input f_l = c·Q_l (Q_l: O × n_l, per sample):
 *   microcircuit: u_E + φ_I(u_I) = d,  u_I = φ_E(u_E) − f_l;
 *   readout:      y = W_out r_L + c.
 * What remains is F(c) = c − K·e(y(c)) = 0: O unknowns per sample, solved by
 * Newton, c ← c − J_F⁻¹ F, from c = 0 (the open-loop state).
 *
 * Per unit (both loops), g(u) = u + φ_I(φ_E(u) − f) − d is increasing
 * (g′ = 1 + φ_I′·φ_E′ ≥ 1) and convex (φ_I increasing and convex, φ_E − f
 * convex), so its root is unique and lies in [d − φ_I(φ_E(d) − f), d].
 * Newton from the right end u = d decreases monotonically to the root; from
 * a warm start left of the root its first step lands in [root, d] (convexity
 * and g′ ≥ 1), so the iterates are clipped to u ≤ d and need no other
 * safeguard. A unit stops once its step is below 1e−4·(1 + |u|): the step
 * is taken, and the error after it, ≤ (g″/2g′)·step², is below float
 * precision for the paper's rectifiers. Its rate is corrected to first
 * order along the step (error ∝ step²), which saves evaluating φ again.
 * The open loop (f = 0) solves the same scalar equation u + φ_I(φ_E(u)) = d
 * in every unit of a layer, so its sweeps begin at u*(d) interpolated on a
 * grid sampled once per layer (#DiscoEquilibriumColdStart), within 1e−5 of
 * the root: one sweep per row instead of the four from u = d on MNIST.
 * Closed-loop passes start warm, at the last state.
 *
 * The Jacobian of F. Differentiating a unit's equations,
 *   du_E = a·(dd + φ_I′(u_I)·df),  a = 1 / (1 + φ_I′(u_I)·φ_E′(u_E)),
 * so dr = φ_E′ a·(dd + φ_I′ df) (a = 1 and no df for a rate layer). With
 * G_l = ∂y/∂d_l (O × n_l per sample), in reverse mode:
 *   G_L     = W_out · diag(φ_E′ a)_L
 *   G_{l−1} = G_l · W_l · diag(φ_E′ a)_{l−1}       (one GEMM of A·O rows)
 *   ∂y/∂c   = I + Σ_l G_l · diag(φ_I′(u_I))_l · Q_lᵀ  (O × O)
 * and J_F = I + K·H·∂y/∂c, H = ∂softmax/∂y = diag(p) − p pᵀ (H = I for the
 * squared error). One O × O system per sample, solved in double. A
 * Jacobian pass costs O² dot products of length n_l per sample and layer
 * (G_l diag(φ_I′) Q_lᵀ), a GEMM with O times the rows of a forward pass
 * per descent through a weight matrix, and a spectral norm, so a sample
 * keeps its Newton matrix J_F from one iteration to the next for as long as
 * each step cuts its residual by 10× or more, and the pass is repeated only
 * when one does not. A kept matrix is corrected by Broyden's rank-one
 * secant update from the last step and the change in F it made (O² work
 * per sample): on MNIST 3×256 the closed loop then takes 3 Newton steps
 * instead of the 4 of the matrix kept as it was (a chord step). (Both change
 * the fixed point found only within the tolerance: one MNIST epoch of the
 * 1×256 networks, whose pass does not descend and was repeated at every
 * iteration before, moved its losses by at most 2e−6 relative.) At c = 0
 * the open loop's own pass (same state, rates and slopes) stands in for the
 * first forward pass.
 *
 * Safety. A closed-loop sample stops iterating as failed when it reaches the
 * iteration limit, when its residual max|F| does not fall from one iterate
 * to the next after a full Newton step (after a step with a kept matrix
 * the matrix is refreshed first), when a value is not finite or J_F is
 * singular, or when the spectral norm of ∂(K e(y(c)))/∂c = K·H·∂y/∂c
 * (power iteration on MᵀM) is at or above the contraction limit at an
 * iterate where it is evaluated (always c = 0): then c ↦ K e(y(c)) need not
 * have a unique fixed point, and Newton may find one the dynamics never
 * reach. An open-loop sample fails
 * only on non-finite values (a unit that does not converge in 50 sweeps).
 * The caller integrates failed samples with the ODE solver.
 *
 * Batching. The samples still iterating are packed into consecutive rows
 * (the active set only shrinks), so the matrix products run on them alone;
 * states stay in the caller's B-row layout and are addressed through the
 * row indices.
 *
 * Operations. Everything runs on a #DiscoOps table, as a few operations per
 * layer and iteration (disco-kernels-equilibrium.h): a forward pass is per
 * layer a drive GEMM and one per-row kernel that forms the top-down input
 * f = c·Q_l and sweeps the row's units until they converge; a closed-loop
 * iteration adds one per-row residual kernel, the Jacobian's products and
 * GEMMs, and one per-row Newton kernel (the O × O systems, spectral norms
 * and decisions). The host learns which rows go on twice per iteration (a
 * download of A flags), packs the row indices and, before a Jacobian pass,
 * the layers' slopes (a gather), and sizes the next operations by the
 * count. On the host table every value is that of the former host code to
 * a few float ulps: the unit sweeps run in stages there (see
 * disco-kernels-equilibrium.c).
 */
#include "disco-equilibrium.h"

#include <math.h>
#include <string.h>

typedef struct
{
  DiscoOpsLayerKind kind;
  gsize n, n_in;
  DiscoSoftRectifier phi_e, phi_i;
  gsize offset;            /* of the layer's state in a sample's state */
  const float *weight;     /* n × n_in, table memory (set per minibatch) */
  const float *bias;       /* n, or NULL */
  float *rate;             /* A × n: r of the last forward pass */
  float *slope;            /* A × n: ∂r/∂d, φ_E′·a (microcircuit) or φ′ (rate layer) */
  float *inhibitory_slope; /* A × n: φ_I′(u_I) (microcircuit) */
  float *spare_slope;      /* A × n each: where compaction gathers to */
  float *spare_inhibitory_slope;
  /* Microcircuit: where the open loop's sweeps begin, its values in table
   * memory once bound, and the same values in host memory */
  DiscoEquilibriumColdStart cold_start;
  float *cold_start_values;
} Layer;

struct _DiscoEquilibrium
{
  guint n_layers;
  Layer *layers;
  gsize N, O, max_units;

  const DiscoOps *ops;     /* the table the buffers live in, once bound */
  gsize capacity;          /* samples the buffers hold */
  gsize n_samples;         /* B of the minibatch whose first drive is known */
  gboolean open_loop_pass; /* the buffers hold the open loop's pass, every row converged */

  /* Table memory */
  float *first_drive;      /* B × n_1: W_1 x + b_1 */
  float *drive;            /* A × max n */
  float *top_down;         /* A × max n: f = c·Q_l */
  float *jacobian, *below; /* A·O × max n: G_l */
  float *dydc;             /* A × O × O */
  float *identity;         /* O × O */
  double *control;         /* B × O: c */
  double *residual;        /* B × O: F(c) */
  double *newton_matrix; /* B × DISCO_EQUILIBRIUM_NEWTON_SIZE(O): K·H·∂y/∂c where last evaluated */
  double *work;          /* A × DISCO_EQUILIBRIUM_WORK(O) */
  DiscoEquilibriumSample *samples; /* B */
  guint *rows;                     /* A: the packed rows' samples */
  guint *source;                   /* A: compaction: the rows kept */
  guint *unit_iterations;          /* A */
  gint *unit_status;               /* A: DiscoEquilibriumStatus of the units' solves */
  gint *keep;                      /* A: the row goes on */

  /* Host memory: the orchestration's copies */
  guint *host_rows, *host_source, *host_iterations;
  gint *host_keep, *host_status;
  DiscoEquilibriumSample *host_samples;
  double *host_zeros; /* B × O */
};

/**
 * disco_equilibrium_new:
 * @n_layers: layers, input side first, the last a readout
 * @layers: (array length=n_layers): their kinds, sizes and rectifiers
 *   (weight and bias are ignored: disco_equilibrium_set_parameters())
 *
 * Returns: (transfer full): a fixed-point solver for the network; its
 *   buffers are made in a table's memory on the first solve
 */
DiscoEquilibrium *
disco_equilibrium_new (guint n_layers, const DiscoOpsLayer *layers)
{
  DiscoEquilibrium *eq;
  gsize offset = 0;

  g_return_val_if_fail (n_layers > 0 && layers != NULL, NULL);
  g_return_val_if_fail (layers[n_layers - 1].kind == DISCO_OPS_LAYER_READOUT, NULL);

  eq = g_new0 (DiscoEquilibrium, 1);
  eq->n_layers = n_layers;
  eq->layers = g_new0 (Layer, n_layers);
  for (guint l = 0; l < n_layers; l++)
    {
      Layer *layer = &eq->layers[l];

      layer->kind = layers[l].kind;
      layer->n = layers[l].n;
      layer->n_in = layers[l].n_in;
      layer->phi_e = layers[l].phi_e;
      layer->phi_i = layers[l].phi_i;
      layer->offset = offset;
      offset += layer->kind == DISCO_OPS_LAYER_MICROCIRCUIT ? 2 * layer->n : layer->n;
      /* Without a grid (rectifiers it cannot sample) the sweeps start at
       * u = d, as they always may. */
      if (layer->kind == DISCO_OPS_LAYER_MICROCIRCUIT)
        {
          disco_equilibrium_cold_start_values (&layer->phi_e, &layer->phi_i, &layer->cold_start);
          layer->cold_start_values = (float *) layer->cold_start.values;
          layer->cold_start.values = NULL;
        }
      eq->max_units = MAX (eq->max_units, layer->n);
    }
  eq->N = offset;
  eq->O = layers[n_layers - 1].n;
  return eq;
}

static void
free_buffers (DiscoEquilibrium *eq)
{
  const DiscoOps *ops = eq->ops;

  if (ops != NULL)
    {
      for (guint l = 0; l < eq->n_layers; l++)
        {
          Layer *layer = &eq->layers[l];
          ops->free (layer->rate);
          ops->free (layer->slope);
          ops->free (layer->inhibitory_slope);
          ops->free (layer->spare_slope);
          ops->free (layer->spare_inhibitory_slope);
          ops->free ((gpointer) layer->cold_start.values);
          layer->cold_start.values = NULL;
          layer->rate = layer->slope = layer->inhibitory_slope = NULL;
          layer->spare_slope = layer->spare_inhibitory_slope = NULL;
        }
      ops->free (eq->first_drive);
      ops->free (eq->drive);
      ops->free (eq->top_down);
      ops->free (eq->jacobian);
      ops->free (eq->below);
      ops->free (eq->dydc);
      ops->free (eq->identity);
      ops->free (eq->control);
      ops->free (eq->residual);
      ops->free (eq->newton_matrix);
      ops->free (eq->work);
      ops->free (eq->samples);
      ops->free (eq->rows);
      ops->free (eq->source);
      ops->free (eq->unit_iterations);
      ops->free (eq->unit_status);
      ops->free (eq->keep);
    }
  eq->first_drive = eq->drive = eq->top_down = eq->jacobian = eq->below = NULL;
  eq->dydc = eq->identity = NULL;
  eq->control = eq->residual = eq->newton_matrix = eq->work = NULL;
  eq->samples = NULL;
  eq->rows = eq->source = eq->unit_iterations = NULL;
  eq->unit_status = eq->keep = NULL;
  g_clear_pointer (&eq->host_rows, g_free);
  g_clear_pointer (&eq->host_source, g_free);
  g_clear_pointer (&eq->host_iterations, g_free);
  g_clear_pointer (&eq->host_keep, g_free);
  g_clear_pointer (&eq->host_status, g_free);
  g_clear_pointer (&eq->host_samples, g_free);
  g_clear_pointer (&eq->host_zeros, g_free);
  eq->capacity = 0;
  eq->n_samples = 0;
  eq->open_loop_pass = FALSE;
}

/**
 * disco_equilibrium_free:
 * @equilibrium: a fixed-point solver
 */
void
disco_equilibrium_free (DiscoEquilibrium *equilibrium)
{
  if (equilibrium == NULL)
    return;
  free_buffers (equilibrium);
  for (guint l = 0; l < equilibrium->n_layers; l++)
    g_free (equilibrium->layers[l].cold_start_values);
  g_free (equilibrium->layers);
  g_free (equilibrium);
}

/**
 * disco_equilibrium_get_state_size:
 * @equilibrium: a fixed-point solver
 *
 * Returns: N, the open-loop state length of one sample
 */
gsize
disco_equilibrium_get_state_size (DiscoEquilibrium *equilibrium)
{
  g_return_val_if_fail (equilibrium != NULL, 0);
  return equilibrium->N;
}

/**
 * disco_equilibrium_set_parameters:
 * @equilibrium: a fixed-point solver
 * @index: a layer index, 0 for the layer next to the input
 * @weight: (transfer none): W_l, n × n_in, in the memory of the table the
 *   next solve uses
 * @bias: (transfer none) (nullable): b_l, n values, there too
 *
 * Lets the next solves compute with these parameters (read, not copied).
 */
void
disco_equilibrium_set_parameters (DiscoEquilibrium *equilibrium, guint index, const float *weight,
                                  const float *bias)
{
  g_return_if_fail (equilibrium != NULL && index < equilibrium->n_layers && weight != NULL);
  equilibrium->layers[index].weight = weight;
  equilibrium->layers[index].bias = bias;
}

/* One buffer of @size bytes in the table, NULL on failure with @error set
 * (the first failure only). */
static gpointer
table_alloc (const DiscoOps *ops, gsize size, GError **error)
{
  if (error != NULL && *error != NULL)
    return NULL;
  return ops->alloc (size, error);
}

/* Buffers for B samples in @ops's memory (rebound when the table changes). */
static gboolean
ensure_capacity (DiscoEquilibrium *eq, const DiscoOps *ops, gsize B, GError **error)
{
  const gsize O = eq->O, n = eq->max_units, work = DISCO_EQUILIBRIUM_WORK (O);
  g_autoptr (GError) local_error = NULL;
  g_autofree float *identity = NULL;

  if (ops != eq->ops)
    {
      free_buffers (eq);
      eq->ops = ops;
    }
  if (B <= eq->capacity)
    return TRUE;
  free_buffers (eq);
  B = MAX (B, 1);
  for (guint l = 0; l < eq->n_layers; l++)
    {
      Layer *layer = &eq->layers[l];
      const gsize size = B * layer->n * sizeof (float);

      layer->rate = table_alloc (ops, size, &local_error);
      layer->slope = table_alloc (ops, size, &local_error);
      layer->inhibitory_slope = table_alloc (ops, size, &local_error);
      layer->spare_slope = table_alloc (ops, size, &local_error);
      layer->spare_inhibitory_slope = table_alloc (ops, size, &local_error);
      if (layer->cold_start_values != NULL)
        {
          const gsize grid_size = layer->cold_start.n * sizeof (float);
          float *grid = table_alloc (ops, grid_size, &local_error);

          layer->cold_start.values = grid;
          if (grid != NULL)
            ops->upload (grid, layer->cold_start_values, grid_size, &local_error);
        }
    }
  eq->first_drive = table_alloc (ops, B * eq->layers[0].n * sizeof (float), &local_error);
  eq->drive = table_alloc (ops, B * n * sizeof (float), &local_error);
  eq->top_down = table_alloc (ops, B * n * sizeof (float), &local_error);
  eq->jacobian = table_alloc (ops, B * O * n * sizeof (float), &local_error);
  eq->below = table_alloc (ops, B * O * n * sizeof (float), &local_error);
  eq->dydc = table_alloc (ops, B * O * O * sizeof (float), &local_error);
  eq->identity = table_alloc (ops, O * O * sizeof (float), &local_error);
  eq->control = table_alloc (ops, B * O * sizeof (double), &local_error);
  eq->residual = table_alloc (ops, B * O * sizeof (double), &local_error);
  eq->newton_matrix =
      table_alloc (ops, B * DISCO_EQUILIBRIUM_NEWTON_SIZE (O) * sizeof (double), &local_error);
  eq->work = table_alloc (ops, B * work * sizeof (double), &local_error);
  eq->samples = table_alloc (ops, B * sizeof (DiscoEquilibriumSample), &local_error);
  eq->rows = table_alloc (ops, B * sizeof (guint), &local_error);
  eq->source = table_alloc (ops, B * sizeof (guint), &local_error);
  eq->unit_iterations = table_alloc (ops, B * sizeof (guint), &local_error);
  eq->unit_status = table_alloc (ops, B * sizeof (gint), &local_error);
  eq->keep = table_alloc (ops, B * sizeof (gint), &local_error);
  if (local_error == NULL)
    {
      identity = g_new0 (float, O *O);
      for (gsize o = 0; o < O; o++)
        identity[o * O + o] = 1.0f;
      ops->upload (eq->identity, identity, O * O * sizeof (float), &local_error);
    }
  if (local_error != NULL)
    {
      free_buffers (eq);
      g_propagate_error (error, g_steal_pointer (&local_error));
      return FALSE;
    }
  eq->host_rows = g_new (guint, B);
  eq->host_source = g_new (guint, B);
  eq->host_iterations = g_new (guint, B);
  eq->host_keep = g_new (gint, B);
  eq->host_status = g_new (gint, B);
  eq->host_samples = g_new (DiscoEquilibriumSample, B);
  eq->host_zeros = g_new0 (double, B *O);
  eq->capacity = B;
  return TRUE;
}

/* ----- one pass through the network ----------------------------------------------- */

/* Solves every layer of the A packed rows (eq->rows) for their control
 * @control (B × O, by sample; NULL in the open loop), writing the state
 * rows (stride @ld), each layer's rates and slopes, each row's unit
 * iterations (the slowest unit's per microcircuit layer, summed) and
 * status. @cold starts every unit at its layer's cold start instead of at
 * its state. */
static void
forward (DiscoEquilibrium *eq, gsize A, float *state, gsize ld, const double *control,
         const float *const *feedback, gboolean cold)
{
  const DiscoOps *ops = eq->ops;
  const gsize O = eq->O;
  const float *previous = NULL;

  for (guint l = 0; l < eq->n_layers; l++)
    {
      Layer *layer = &eq->layers[l];
      const gsize n = layer->n;
      const gboolean first = l == 0;
      float *d = eq->drive;

      /* d (A × n) = W r_prev + b; the first layer's is fixed per minibatch,
       * and a microcircuit layer reads its rows in place. */
      if (first && layer->kind == DISCO_OPS_LAYER_MICROCIRCUIT)
        d = eq->first_drive;
      else if (first)
        ops->equilibrium_gather (A, n, eq->rows, eq->first_drive, n, d, n);
      else
        {
          if (layer->bias != NULL)
            ops->equilibrium_gather (A, n, NULL, layer->bias, 0, d, n);
          else
            ops->fill (A * n, 0.0f, d);
          ops->gemm (FALSE, TRUE, A, n, layer->n_in, 1.0f, previous, layer->n_in, layer->weight,
                     layer->n_in, 1.0f, d, n);
        }

      switch (layer->kind)
        {
        case DISCO_OPS_LAYER_MICROCIRCUIT:
          /* With f (A × n) = c · Q_l, each row with its sample's Q_l. */
          ops->equilibrium_microcircuit_units (
              &layer->phi_e, &layer->phi_i, A, n, eq->rows, state + layer->offset, ld, d,
              first ? eq->rows : NULL, O, control, feedback != NULL ? feedback[l] : NULL,
              eq->top_down, cold ? &layer->cold_start : NULL, first, layer->rate, layer->slope,
              layer->inhibitory_slope, eq->unit_iterations, eq->unit_status);
          break;
        case DISCO_OPS_LAYER_RATE:
          ops->equilibrium_rate_units (&layer->phi_e, A, n, eq->rows, state + layer->offset, ld, d,
                                       first, layer->rate, layer->slope, eq->unit_iterations,
                                       eq->unit_status);
          break;
        case DISCO_OPS_LAYER_READOUT:
          ops->equilibrium_readout (A, n, eq->rows, state + layer->offset, ld, d, control, first,
                                    eq->unit_iterations, eq->unit_status);
          break;
        }
      previous = layer->rate;
    }
}

/* ----- open loop ------------------------------------------------------------------- */

/**
 * disco_equilibrium_open_loop:
 * @equilibrium: a fixed-point solver with its parameters set
 * @ops: the table every buffer below lives in
 * @n_samples: B
 * @input: this tick's input of the first layer, B × F
 * @state: B × N, written: the open-loop fixed points (rows of failed samples
 *   are unspecified)
 * @stats: (array): B per-sample results, host memory
 * @error: return location for a #GError
 *
 * Solves the open-loop steady state of every sample (MODEL.md §2, f = 0,
 * c = 0) and keeps the first layer's drive W_1 x + b_1, and the pass itself,
 * for a closed-loop solve of the same minibatch.
 *
 * Returns: %TRUE on success (failed samples included: see @stats), %FALSE
 *   with @error set when the table fails
 */
gboolean
disco_equilibrium_open_loop (DiscoEquilibrium *equilibrium, const DiscoOps *ops, gsize n_samples,
                             const float *input, float *state, DiscoEquilibriumSampleStats *stats,
                             GError **error)
{
  DiscoEquilibrium *eq = equilibrium;
  const gsize B = n_samples;
  const Layer *first;
  gboolean any_microcircuit = FALSE;

  g_return_val_if_fail (eq != NULL && ops != NULL && stats != NULL, FALSE);
  g_return_val_if_fail (B == 0 || (input != NULL && state != NULL), FALSE);
  for (guint l = 0; l < eq->n_layers; l++)
    g_return_val_if_fail (eq->layers[l].weight != NULL, FALSE);

  first = &eq->layers[0];
  if (!ensure_capacity (eq, ops, B, error))
    return FALSE;
  eq->n_samples = B;
  eq->open_loop_pass = FALSE;
  if (B == 0)
    return TRUE;

  /* B × n_1 = b_1 + x (B × F) · W_1ᵀ (F × n_1) */
  if (first->bias != NULL)
    ops->equilibrium_gather (B, first->n, NULL, first->bias, 0, eq->first_drive, first->n);
  else
    ops->fill (B * first->n, 0.0f, eq->first_drive);
  ops->gemm (FALSE, TRUE, B, first->n, first->n_in, 1.0f, input, first->n_in, first->weight,
             first->n_in, 1.0f, eq->first_drive, first->n);

  for (gsize s = 0; s < B; s++)
    eq->host_rows[s] = s;
  if (!ops->upload (eq->rows, eq->host_rows, B * sizeof (guint), error))
    return FALSE;
  forward (eq, B, state, eq->N, NULL, NULL, TRUE);
  if (!ops->download (eq->host_iterations, eq->unit_iterations, B * sizeof (guint), error)
      || !ops->download (eq->host_status, eq->unit_status, B * sizeof (gint), error)
      || !ops->check (error))
    return FALSE;

  for (guint l = 0; l < eq->n_layers; l++)
    any_microcircuit |= eq->layers[l].kind == DISCO_OPS_LAYER_MICROCIRCUIT;
  eq->open_loop_pass = TRUE;
  for (gsize s = 0; s < B; s++)
    {
      stats[s].iterations = any_microcircuit ? eq->host_iterations[s] : 1;
      stats[s].evaluations = 1;
      stats[s].contraction = 0;
      stats[s].status = eq->host_status[s];
      eq->open_loop_pass &= stats[s].status == DISCO_EQUILIBRIUM_CONVERGED;
    }
  return TRUE;
}

/* ----- closed loop ------------------------------------------------------------------- */

/* The lowest layer whose units receive feedback, or −1. */
static gint
lowest_feedback_layer (DiscoEquilibrium *eq, const float *const *feedback)
{
  for (guint l = 0; l + 1 < eq->n_layers; l++)
    if (eq->layers[l].kind == DISCO_OPS_LAYER_MICROCIRCUIT && feedback[l] != NULL)
      return l;
  return -1;
}

/* ∂y/∂c (A × O × O) at the last forward pass of the A packed rows; see the
 * top of the file. */
static void
control_jacobian (DiscoEquilibrium *eq, gsize A, const float *const *feedback)
{
  const DiscoOps *ops = eq->ops;
  const gsize O = eq->O;
  const guint top = eq->n_layers - 1; /* the readout */
  const gint lowest = lowest_feedback_layer (eq, feedback);
  const float *w_out = eq->layers[top].weight;
  float *g = eq->jacobian, *below = eq->below;

  ops->equilibrium_gather (A, O * O, NULL, eq->identity, 0, eq->dydc, O * O);
  if (lowest < 0)
    return;

  /* G_L = W_out diag(∂r_L/∂d_L) is formed where it is used, and stored
   * (A·O × n_L) only to descend below the top hidden layer. */
  for (gint l = (gint) top - 1; l >= lowest; l--)
    {
      const Layer *layer = &eq->layers[l];
      const gsize n = layer->n;
      const gboolean formed = l < (gint) top - 1; /* G_l is in g */

      /* ∂y/∂c += G_l diag(φ_I′) Q_lᵀ: O × O dot products of length n per
       * row (per sample, too small for BLAS to pay off). */
      if (layer->kind == DISCO_OPS_LAYER_MICROCIRCUIT && feedback[l] != NULL)
        ops->equilibrium_feedback_products (A, O, n, eq->rows, formed ? g : w_out,
                                            formed ? O * n : 0, formed ? NULL : layer->slope,
                                            layer->inhibitory_slope, feedback[l], eq->dydc);
      if (l > lowest)
        {
          /* G_{l−1} = G_l W_l diag(∂r_{l−1}/∂d_{l−1}): one GEMM for every row. */
          const Layer *lower = &eq->layers[l - 1];
          const gsize m = lower->n;
          float *swap;

          if (!formed)
            ops->equilibrium_scale_rows (A, O, n, w_out, 0, layer->slope, g);
          ops->gemm (FALSE, FALSE, A * O, m, n, 1.0f, g, n, layer->weight, m, 0.0f, below, m);
          ops->equilibrium_scale_rows (A, O, m, below, O * m, lower->slope, below);
          swap = g;
          g = below;
          below = swap;
        }
    }
}

/* Reads which of the A rows go on (eq->keep) and packs the row indices of
 * those into the first rows; with @slopes, also the layers' slopes the
 * Jacobian reads. Returns the new A (@fresh: whether a kept row asks for a
 * fresh Newton matrix), or G_MAXSIZE with @error set. */
static gsize
compact (DiscoEquilibrium *eq, gsize A, gboolean slopes, gboolean *fresh, GError **error)
{
  const DiscoOps *ops = eq->ops;
  gsize kept = 0;

  if (!ops->download (eq->host_keep, eq->keep, A * sizeof (gint), error))
    return G_MAXSIZE;
  if (fresh != NULL)
    *fresh = FALSE;
  for (gsize r = 0; r < A; r++)
    {
      if (eq->host_keep[r] == 0)
        continue;
      if (fresh != NULL)
        *fresh |= eq->host_keep[r] == 2;
      eq->host_source[kept] = r;
      eq->host_rows[kept] = eq->host_rows[r];
      kept++;
    }
  if (kept == A || kept == 0)
    return kept;
  if (!ops->upload (eq->rows, eq->host_rows, kept * sizeof (guint), error))
    return G_MAXSIZE;
  if (slopes)
    {
      if (!ops->upload (eq->source, eq->host_source, kept * sizeof (guint), error))
        return G_MAXSIZE;
      for (guint l = 0; l + 1 < eq->n_layers; l++)
        {
          Layer *layer = &eq->layers[l];
          float *swap;

          ops->equilibrium_gather (kept, layer->n, eq->source, layer->slope, layer->n,
                                   layer->spare_slope, layer->n);
          swap = layer->slope;
          layer->slope = layer->spare_slope;
          layer->spare_slope = swap;
          if (layer->kind != DISCO_OPS_LAYER_MICROCIRCUIT)
            continue;
          ops->equilibrium_gather (kept, layer->n, eq->source, layer->inhibitory_slope, layer->n,
                                   layer->spare_inhibitory_slope, layer->n);
          swap = layer->inhibitory_slope;
          layer->inhibitory_slope = layer->spare_inhibitory_slope;
          layer->spare_inhibitory_slope = swap;
        }
    }
  return kept;
}

/**
 * disco_equilibrium_closed_loop:
 * @equilibrium: a fixed-point solver after disco_equilibrium_open_loop() on
 *   this minibatch (same table, same parameters)
 * @config: tolerance, iteration limit and contraction limit
 * @controller: the controller (gains, leak, error)
 * @targets: B × O targets y*, in the table's memory
 * @feedback: (array): per layer, the feedback weights Q_l (B × O × n_l) in
 *   the table's memory, or %NULL for a layer without
 * @n_samples: B
 * @state: B × (N + O) in the table's memory: on entry each sample's
 *   open-loop steady state and a zero integral; on return the closed-loop
 *   fixed points (rows of failed samples are unspecified)
 * @stats: (array): B per-sample results, host memory
 * @error: return location for a #GError
 *
 * Solves the closed-loop steady state of every sample (MODEL.md §3–§5) by
 * Newton's method in the control c; see the top of the file.
 *
 * Returns: %TRUE on success (failed samples included: see @stats), %FALSE
 *   with @error set when the table fails
 */
gboolean
disco_equilibrium_closed_loop (DiscoEquilibrium *equilibrium, const DiscoEquilibriumConfig *config,
                               const DiscoOpsController *controller, const float *targets,
                               const float *const *feedback, gsize n_samples, float *state,
                               DiscoEquilibriumSampleStats *stats, GError **error)
{
  DiscoEquilibrium *eq = equilibrium;
  const gsize B = n_samples, N = eq->N, O = eq->O, ld = N + O;
  const gsize readout = eq->layers[eq->n_layers - 1].offset;
  DiscoEquilibriumParams params;
  const DiscoOps *ops;
  gsize A = B;

  g_return_val_if_fail (eq != NULL && config != NULL && controller != NULL, FALSE);
  g_return_val_if_fail (feedback != NULL && stats != NULL, FALSE);
  g_return_val_if_fail (B == eq->n_samples && eq->ops != NULL, FALSE);
  g_return_val_if_fail (B == 0 || (targets != NULL && state != NULL), FALSE);
  ops = eq->ops;

  for (gsize s = 0; s < B; s++)
    {
      stats[s].iterations = 0;
      stats[s].evaluations = 0;
      stats[s].contraction = 0;
      stats[s].status = DISCO_EQUILIBRIUM_CONVERGED;
    }
  if (!(controller->leak > 0))
    {
      /* τ_c dc_int/dt = e has no rest unless e = 0: nothing to solve here. */
      for (gsize s = 0; s < B; s++)
        stats[s].status = DISCO_EQUILIBRIUM_UNSUPPORTED;
      return TRUE;
    }
  if (B == 0)
    return TRUE;

  params = (DiscoEquilibriumParams){
    .tolerance = config->tolerance,
    .gain = (double) controller->k_i / controller->leak + controller->k_p,
    .contraction_limit = config->contraction_limit,
    .leak = controller->leak,
    .max_iterations = config->max_iterations,
    .softmax = controller->softmax,
  };
  for (gsize s = 0; s < B; s++)
    {
      eq->host_rows[s] = s;
      eq->host_samples[s] = (DiscoEquilibriumSample){
        .last_norm = INFINITY,
        .status = DISCO_EQUILIBRIUM_CONVERGED,
        .refresh = TRUE,
      };
    }
  if (!ops->upload (eq->rows, eq->host_rows, B * sizeof (guint), error)
      || !ops->upload (eq->samples, eq->host_samples, B * sizeof (DiscoEquilibriumSample), error)
      || !ops->upload (eq->control, eq->host_zeros, B * O * sizeof (double), error))
    return FALSE;

  while (A > 0)
    {
      /* Every unit for the current c, warm-started at its last state. At
       * c = 0 that is the open-loop state, whose pass (rates, slopes, every
       * row converged) is still in the buffers when the open loop just ran
       * here: then there is nothing to solve. */
      const gboolean passed = !eq->open_loop_pass;
      gboolean fresh;

      if (passed)
        forward (eq, A, state, ld, eq->control, feedback, FALSE);
      eq->open_loop_pass = FALSE;

      /* F(c) = c − K e(y(c)); who is done, who has failed. */
      ops->equilibrium_residual (&params, A, O, eq->rows, eq->unit_status, passed, state + readout,
                                 ld, targets, eq->control, eq->residual, eq->samples, eq->work,
                                 eq->keep);
      if ((A = compact (eq, A, TRUE, &fresh, error)) == G_MAXSIZE)
        return FALSE;
      if (A == 0)
        break;

      /* Newton: J_F Δ = F with J_F = I + K H ∂y/∂c; c ← c − Δ. */
      if (fresh)
        control_jacobian (eq, A, feedback);
      ops->equilibrium_newton (&params, A, O, eq->rows, fresh, eq->dydc, state + readout, ld,
                               targets, eq->residual, eq->control, eq->newton_matrix, eq->samples,
                               eq->work, eq->keep);
      if ((A = compact (eq, A, FALSE, NULL, error)) == G_MAXSIZE)
        return FALSE;
    }

  if (!ops->download (eq->host_samples, eq->samples, B * sizeof (DiscoEquilibriumSample), error)
      || !ops->check (error))
    return FALSE;
  for (gsize s = 0; s < B; s++)
    {
      stats[s].iterations = eq->host_samples[s].iterations;
      stats[s].evaluations = eq->host_samples[s].evaluations;
      stats[s].contraction = eq->host_samples[s].contraction;
      stats[s].status = eq->host_samples[s].status;
    }
  return TRUE;
}
