/* disco-integrator-equilibrium.c: method = equilibrium — the open and
 * closed loops' steady states solved by Newton's method on the node's table
 * (disco-equilibrium.h), and the ODE fallback of the samples that fail. */

#include "disco-integrator-private.h"
#include "disco-device.h"
#include "disco-leaky-pi.h"
#include "disco-nodes.h"

/* A system restricted to some of the minibatch's samples: the solver's row
 * indices (into the subset) are mapped back to the samples' own, which the
 * right-hand sides use to find their first drive, targets and feedback. */
typedef struct
{
  DiscoOdeRhsFunc rhs;
  gpointer system;
  const guint *samples; /* n: the subset */
  guint *rows;          /* n: scratch */
} SubsetSystem;

static gboolean
subset_rhs (gpointer data, gsize n_active, const guint *rows, const double *t, const float *y,
            float *dydt, GError **error)
{
  SubsetSystem *subset = data;

  for (gsize r = 0; r < n_active; r++)
    subset->rows[r] = subset->samples[rows[r]];
  return subset->rhs (subset->system, n_active, subset->rows, t, y, dydt, error);
}

static void
ensure_equilibrium_buffers (DiscoIntegrator *self, gsize B)
{
  if (B <= self->eq_capacity)
    return;
  g_free (self->eq_stats);
  g_free (self->sample_steps);
  g_free (self->sample_evaluations);
  g_free (self->fallback_rows);
  self->eq_stats = g_new (DiscoEquilibriumSampleStats, B);
  self->sample_steps = g_new (guint, B);
  self->sample_evaluations = g_new (guint, B);
  self->fallback_rows = g_new (guint, B);
  self->eq_capacity = B;
}

/* Integrates the @n samples @samples of the B × @n_state states (the
 * table's memory) in place, with the ODE settings (tsit5) and the
 * compacting solver on the table, and puts their steps and evaluations in
 * sample_steps and sample_evaluations.  The rows are packed and put back
 * with one copy each: failures are rare (a few samples of a minibatch). */
static gboolean
solve_subset (DiscoIntegrator *self, gsize n, const guint *samples, gsize n_state, float *state,
              DiscoOdeRhsFunc rhs, gpointer system, GError **error)
{
  const DiscoOps *ops = self->ops;
  const gsize row_size = n_state * sizeof (float);
  g_autofree guint *rows = g_new (guint, n);
  SubsetSystem subset = { rhs, system, samples, rows };
  DiscoOdeConfig config;
  gboolean solved = TRUE;
  float *packed;

  if (n > self->stats_capacity)
    {
      g_free (self->stats);
      self->stats = g_new (DiscoOdeSampleStats, n);
      self->stats_capacity = n;
    }
  /* Kept from one fallback to the next: on CUDA an allocation is a
   * cudaMalloc, which synchronises. */
  if (n * row_size > self->fallback_rows_capacity)
    {
      if (self->fallback_rows_buffer != NULL)
        ops->free (self->fallback_rows_buffer);
      self->fallback_rows_capacity = 0;
      if ((self->fallback_rows_buffer = ops->alloc (n * row_size, error)) == NULL)
        {
          _disco_integrator_as_disco_error (self, error);
          return FALSE;
        }
      self->fallback_rows_capacity = n * row_size;
    }
  packed = self->fallback_rows_buffer;
  for (gsize i = 0; i < n && solved; i++)
    solved =
        ops->copy (packed + i * n_state, state + (gsize) samples[i] * n_state, row_size, error);
  _disco_integrator_fill_config (self, &config);
  solved = solved
           && disco_ode_solver_solve (self->solver, &config, n, n_state, packed, subset_rhs,
                                      &subset, self->stats, error);
  for (gsize i = 0; i < n && solved; i++)
    solved =
        ops->copy (state + (gsize) samples[i] * n_state, packed + i * n_state, row_size, error);
  if (!solved)
    {
      _disco_integrator_as_disco_error (self, error);
      return FALSE;
    }
  for (gsize i = 0; i < n; i++)
    {
      self->sample_steps[samples[i]] = self->stats[i].n_accepted + self->stats[i].n_rejected;
      self->sample_evaluations[samples[i]] = self->stats[i].n_rhs_evals;
      self->unconverged_rows[samples[i]] |=
          _disco_integrator_unconverged_bits (self, &self->stats[i]);
    }
  self->fallbacks += n;
  return TRUE;
}

/* The means and largest of sample_steps and sample_evaluations. */
static void
summarise_samples (DiscoIntegrator *self, gsize B, double *mean_steps, double *mean_evaluations)
{
  double steps = 0, evaluations = 0;
  guint most = 0;

  for (gsize s = 0; s < B; s++)
    {
      steps += self->sample_steps[s];
      evaluations += self->sample_evaluations[s];
      most = MAX (most, self->sample_steps[s]);
    }
  *mean_steps = B > 0 ? steps / B : 0;
  *mean_evaluations = B > 0 ? evaluations / B : 0;
  self->last_mean_evaluations = *mean_evaluations;
  self->last_max_steps = most;
}

/* The solver for @network's layers (its parameters are lent per minibatch). */
DiscoEquilibrium *
_disco_integrator_new_equilibrium (DiscoNetwork *network)
{
  const guint n_layers = disco_network_get_n_layers (network);
  g_autofree DiscoOpsLayer *layers = g_new0 (DiscoOpsLayer, n_layers);

  for (guint l = 0; l < n_layers; l++)
    {
      const DiscoLayerSpec *spec = disco_network_get_layer (network, l);

      layers[l] = (DiscoOpsLayer){
        .kind = spec->kind == DISCO_LAYER_READOUT ? DISCO_OPS_LAYER_READOUT
                : spec->kind == DISCO_LAYER_RATE  ? DISCO_OPS_LAYER_RATE
                                                  : DISCO_OPS_LAYER_MICROCIRCUIT,
        .n = spec->n,
        .n_in = spec->n_in,
        .phi_e = spec->phi_e,
        .phi_i = spec->phi_i,
        .tau_e = spec->tau_e,
        .tau_i = spec->kind == DISCO_LAYER_MICROCIRCUIT ? spec->tau_i : 1.0f,
      };
    }
  return disco_equilibrium_new (n_layers, layers);
}

/* Frees the solver and the blocks' solvers. */
void
_disco_integrator_clear_equilibria (DiscoIntegrator *self)
{
  g_clear_pointer (&self->equilibrium, disco_equilibrium_free);
  for (guint b = 0; b < G_N_ELEMENTS (self->block_equilibria); b++)
    g_clear_pointer (&self->block_equilibria[b], disco_equilibrium_free);
}

/* The solver of block @block, made when first needed. */
static DiscoEquilibrium *
block_equilibrium (DiscoIntegrator *self, guint block)
{
  if (block == 0)
    return self->equilibrium;
  if (self->block_equilibria[block] == NULL)
    self->block_equilibria[block] = _disco_integrator_new_equilibrium (self->network);
  return self->block_equilibria[block];
}

/* Lends the layers' weights and biases, in @ops's memory, to the solvers
 * of @n_blocks blocks, making those that do not exist yet. */
static gboolean
set_equilibrium_parameters (DiscoIntegrator *self, const DiscoOps *ops, guint n_blocks,
                            GError **error)
{
  for (guint l = 0; l < disco_network_get_n_layers (self->network); l++)
    {
      const DiscoLayerSpec *spec = disco_network_get_layer (self->network, l);
      const float *w = disco_tensor_read_ops (spec->weight, ops, error), *b = NULL;

      if (w == NULL
          || (spec->bias != NULL && (b = disco_tensor_read_ops (spec->bias, ops, error)) == NULL))
        return FALSE;
      for (guint block = 0; block < n_blocks; block++)
        disco_equilibrium_set_parameters (block_equilibrium (self, block), l, w, b);
    }
  return TRUE;
}

/* One minibatch's open or closed loop cut into blocks of samples that
 * threads solve side by side: each sample's solve is its own, but the
 * products of a block differ from the whole batch's in the last bits (BLAS
 * rounds a row differently for another number of rows), so the blocks
 * depend on B alone. */
typedef struct
{
  DiscoIntegrator *self;
  gsize B;
  guint n_blocks;
  gboolean closed;
  gsize N, O;
  /* open loop */
  const float *input; /* B × F */
  gsize F;
  float *open_loop; /* B × N */
  /* closed loop */
  const DiscoEquilibriumConfig *config;
  const DiscoOpsController *controller;
  const float *targets;         /* B × O */
  const float *const *feedback; /* per layer B × O × n_l, or NULL */
  float *state;                 /* B × (N + O) */
  GError *errors[DISCO_PARALLEL_MAX_PIECES];
} EquilibriumBlocks;

static void
solve_equilibrium_block (gsize block, gpointer data)
{
  EquilibriumBlocks *job = data;
  DiscoIntegrator *self = job->self;
  const gsize first = DISCO_PARALLEL_PIECE_FIRST (block, job->n_blocks, job->B);
  const gsize n = DISCO_PARALLEL_PIECE_LAST (block, job->n_blocks, job->B) - first;
  DiscoEquilibrium *eq = block_equilibrium (self, block);
  const guint n_layers = disco_network_get_n_layers (self->network);
  const gsize O = job->O;
  const float **feedback;

  if (!job->closed)
    {
      disco_equilibrium_open_loop (eq, self->ops, n, job->input + first * job->F,
                                   job->open_loop + first * job->N, self->eq_stats + first,
                                   &job->errors[block]);
      return;
    }
  /* The block's rows of each layer's feedback weights. */
  feedback = g_newa (const float *, n_layers);
  for (guint l = 0; l < n_layers; l++)
    feedback[l] = job->feedback[l] != NULL
                      ? job->feedback[l] + first * O * disco_network_get_layer (self->network, l)->n
                      : NULL;
  disco_equilibrium_closed_loop (eq, job->config, job->controller, job->targets + first * O,
                                 feedback, n, job->state + first * (job->N + O),
                                 self->eq_stats + first, &job->errors[block]);
}

/* Runs @job's blocks (their solvers made by set_equilibrium_parameters(),
 * before the threads share them); FALSE with the first failed block's
 * error. */
static gboolean
solve_equilibrium_blocks (EquilibriumBlocks *job, GError **error)
{
  return _disco_integrator_run_blocks (job->n_blocks, solve_equilibrium_block, job, job->errors,
                                       error);
}

/* Open-loop fixed points of the minibatch in @open_loop (B × N, the
 * table's memory; its values on entry are not read); samples that fail are
 * integrated from zero on the table. */
static gboolean
settle_open_loop_equilibrium (DiscoIntegrator *self, DiscoTensor *input, gsize B, gsize N,
                              float *open_loop, GError **error)
{
  const DiscoOps *ops = self->ops;
  const DiscoLayerSpec *first = disco_network_get_layer (self->network, 0);
  EquilibriumBlocks blocks = {
    .self = self,
    .B = B,
    .n_blocks = _disco_integrator_n_blocks (self, B),
    .N = N,
    .F = first->n_in,
    .open_loop = open_loop,
  };
  gsize n_failed = 0;

  if (disco_tensor_get_row_size (input) != first->n_in)
    {
      g_autofree char *shape = disco_tensor_shape_to_string (input);
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                   "layer \"%s\" expects %" G_GSIZE_FORMAT " inputs per sample, got a "
                   "tensor of shape %s",
                   disco_node_get_name (first->node), first->n_in, shape);
      return FALSE;
    }
  ensure_equilibrium_buffers (self, B);
  if (!set_equilibrium_parameters (self, ops, blocks.n_blocks, error)
      || (blocks.input = disco_tensor_read_ops (input, ops, error)) == NULL
      || !solve_equilibrium_blocks (&blocks, error))
    {
      _disco_integrator_as_disco_error (self, error);
      return FALSE;
    }
  for (gsize s = 0; s < B; s++)
    {
      self->sample_steps[s] = self->eq_stats[s].iterations;
      self->sample_evaluations[s] = self->eq_stats[s].evaluations;
      if (self->eq_stats[s].status != DISCO_EQUILIBRIUM_CONVERGED)
        {
          ops->fill (N, 0.0f, open_loop + s * N);
          self->fallback_rows[n_failed++] = s;
        }
    }
  if (n_failed > 0)
    {
      if (!_disco_integrator_begin_table_batch (self, input, error))
        return FALSE;
      if (!solve_subset (self, n_failed, self->fallback_rows, N, open_loop,
                         disco_ops_network_rhs_compact, self->ops_network, error))
        return FALSE;
    }
  summarise_samples (self, B, &self->last_mean_steps, &self->last_open_loop_evaluations);
  return TRUE;
}

/* Closed-loop fixed points in @state (B × (N + O), the table's memory: the
 * open-loop states and zero integrals on entry), with the feedback weights
 * of the table's closed loop; samples that fail are integrated from there
 * on the table. */
static gboolean
settle_closed_loop_equilibrium (DiscoIntegrator *self, DiscoNode *controller, DiscoTensor *targets,
                                const float *open_loop, gsize B, gsize N, float *state,
                                double *mean_steps, GError **error)
{
  const DiscoOps *ops = self->ops;
  const guint n_layers = disco_network_get_n_layers (self->network);
  const gsize N_cl = disco_ops_closed_loop_get_state_size (self->ops_closed_loop);
  g_autofree const float **feedback = g_new0 (const float *, n_layers);
  DiscoEquilibriumConfig config = {
    .tolerance = self->newton_tolerance,
    .max_iterations = self->newton_max_iterations,
    .contraction_limit = self->contraction_limit,
  };
  DiscoControllerSpec spec;
  DiscoOpsController table_controller;
  const float *t;
  gsize n_failed = 0;
  EquilibriumBlocks blocks = {
    .self = self,
    .B = B,
    .n_blocks = _disco_integrator_n_blocks (self, B),
    .closed = TRUE,
    .N = N,
    .O = N_cl - N,
    .config = &config,
    .controller = &table_controller,
    .feedback = feedback,
    .state = state,
  };

  if (!disco_controller_get_spec (controller, &spec)
      || (t = disco_tensor_read_ops (targets, ops, error)) == NULL)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                     "node \"%s\": \"%s\" is not a "
                     "controller",
                     disco_node_get_name (DISCO_NODE (self)), disco_node_get_name (controller));
      return FALSE;
    }
  table_controller = (DiscoOpsController){
    .softmax = spec.error == DISCO_CONTROL_ERROR_CROSS_ENTROPY,
    .k_p = spec.k_p,
    .k_i = spec.k_i,
    .leak = spec.leak,
    .tau = spec.tau,
  };
  /* Already in the table's memory: begin_closed_loop_on() computed them. */
  for (guint l = 0; l < n_layers; l++)
    feedback[l] = disco_ops_closed_loop_get_feedback (self->ops_closed_loop, l);
  ensure_equilibrium_buffers (self, B);
  blocks.targets = t;
  if (!set_equilibrium_parameters (self, ops, blocks.n_blocks, error)
      || !solve_equilibrium_blocks (&blocks, error))
    {
      _disco_integrator_as_disco_error (self, error);
      return FALSE;
    }

  self->last_max_contraction = 0;
  for (gsize s = 0; s < B; s++)
    {
      self->sample_steps[s] = self->eq_stats[s].iterations;
      self->sample_evaluations[s] = self->eq_stats[s].evaluations;
      self->last_max_contraction = MAX (self->last_max_contraction, self->eq_stats[s].contraction);
      if (self->eq_stats[s].status != DISCO_EQUILIBRIUM_CONVERGED)
        {
          /* Back to the closed loop's start: open-loop state, zero integral. */
          if (!ops->copy (state + s * N_cl, open_loop + s * N, N * sizeof (float), error))
            {
              _disco_integrator_as_disco_error (self, error);
              return FALSE;
            }
          ops->fill (N_cl - N, 0.0f, state + s * N_cl + N);
          self->fallback_rows[n_failed++] = s;
        }
    }
  if (n_failed > 0)
    {
      DiscoTensor *input = disco_network_get_input (self->network, error);

      if (input == NULL || !_disco_integrator_begin_table_batch (self, input, error))
        return FALSE;
      if (!solve_subset (self, n_failed, self->fallback_rows, N_cl, state,
                         disco_ops_closed_loop_rhs_compact, self->ops_closed_loop, error))
        return FALSE;
    }
  summarise_samples (self, B, mean_steps, &self->last_closed_loop_evaluations);
  return TRUE;
}

/* The equilibrium's closed loop from the open-loop states (B × N, the
 * table's memory): feedback weights and start states from the table's
 * closed loop (as for the ODE), then the closed-loop fixed points; the
 * network part of the result goes to @state (B × N, the table's memory). */
static gboolean
settle_closed_loop (DiscoIntegrator *self, const float *open_loop, gsize B, gsize N, float *state,
                    GError **error)
{
  DiscoNode *controller = self->controller_node;
  DiscoTensor *targets;
  double mean_steps;
  gint64 start;

  if (!_disco_integrator_ensure_closed_loop_state (self, B, error))
    return FALSE;
  start = g_get_monotonic_time ();
  if (!_disco_integrator_begin_closed_loop_on (self, self->ops, self->ops_closed_loop, open_loop, B,
                                               self->ops_closed_loop_state, error))
    return FALSE;
  self->last_feedback_seconds = (g_get_monotonic_time () - start) / 1e6;
  targets = _disco_integrator_controller_targets (self, error);
  start = g_get_monotonic_time ();
  if (!settle_closed_loop_equilibrium (self, controller, targets, open_loop, B, N,
                                       self->ops_closed_loop_state, &mean_steps, error))
    return FALSE;
  self->last_closed_loop_seconds = (g_get_monotonic_time () - start) / 1e6;
  self->last_mean_closed_loop_steps = mean_steps;
  return _disco_integrator_publish_closed_loop (self, self->ops_closed_loop_state, B, state, error);
}

/* One tick of method = equilibrium on the node's table: states, feedback
 * weights and outputs in its memory, as for the ODE methods. */
DiscoFlowReturn
_disco_integrator_process_equilibrium (DiscoIntegrator *self, DiscoTensor *input, gboolean closed,
                                       GError **error)
{
  DiscoNode *node = DISCO_NODE (self);
  const DiscoOps *ops = self->ops;
  DiscoTensor *logits = NULL;
  const gsize N = disco_network_get_state_size (self->network);
  const gsize B = disco_tensor_get_dim (input, 0);
  gsize state_shape[2] = { B, N }, steps_shape[1] = { B };
  float *open_loop, *steps;
  gint64 start;

  open_loop = disco_tensor_write_ops (
      disco_node_ensure_output (node, "open-loop-state", 2, state_shape), ops, error);
  /* Step counts are the host's: they come with the statistics. */
  steps = disco_tensor_write_host (disco_node_ensure_output (node, "steps", 1, steps_shape), error);
  if (open_loop == NULL || steps == NULL)
    return DISCO_FLOW_ERROR;

  /* Open loop (MODEL.md §2, §5.1): the solver starts every unit cold and
   * writes every state; failed samples restart from zero. */
  start = g_get_monotonic_time ();
  if (!settle_open_loop_equilibrium (self, input, B, N, open_loop, error))
    return DISCO_FLOW_ERROR;
  for (gsize s = 0; s < B; s++)
    steps[s] = self->sample_steps[s];
  self->last_open_loop_seconds = (g_get_monotonic_time () - start) / 1e6;
  self->last_feedback_seconds = self->last_closed_loop_seconds = 0;

  if (closed)
    {
      /* Training tick: feedback weights, then the closed loop (§5.2–3). */
      float *state = disco_tensor_write_ops (
          disco_node_ensure_output (node, "state", 2, state_shape), ops, error);

      if (state == NULL || !settle_closed_loop (self, open_loop, B, N, state, error)
          || !_disco_integrator_publish_ops (self, state, B, &logits, error))
        return DISCO_FLOW_ERROR;
    }
  else
    {
      /* Validation and test use the open loop only (§5.4). */
      disco_node_set_output (node, "state", disco_node_get_output (node, "open-loop-state"));
      self->last_mean_closed_loop_steps = 0;
      self->last_closed_loop_evaluations = 0;
      self->last_max_contraction = 0;
      if (!_disco_integrator_publish_ops (self, open_loop, B, &logits, error))
        return DISCO_FLOW_ERROR;
    }
  /* Failures of the work queued since the last solve surface here. */
  if (!ops->check (error))
    return DISCO_FLOW_ERROR;
  self->last_solve_seconds = (g_get_monotonic_time () - start) / 1e6;
  disco_node_set_output (node, "output", logits);
  return DISCO_FLOW_OK;
}
