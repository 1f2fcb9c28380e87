/* disco-integrator.c: the integrator node — its type, properties,
 * prepare, the per-tick dispatch to a strategy (disco-integrator-ode.c,
 * disco-integrator-equilibrium.c), unconverged reporting and the
 * DiscoNetworkProvider implementation. */

/**
 * SECTION:node-integrator
 * @title: integrator
 * @short_description: settles a network of layer nodes to its steady state
 *
 * Every tick, integrates the network linked to `network` (its last layer,
 * usually a readout; the chain of "input" links leads down to the data) from
 * the zero state, each sample on its own clock and step size, until it is at
 * rest — RMS(f(state)) < atol + rtol·RMS(state) over the sample's whole
 * state — or t reaches `duration` (MODEL.md §5). The GEMMs stay batched over
 * the samples still running; finished samples cost nothing. The first
 * layer's drive W x + b is computed once per minibatch.
 *
 * When the layers' `feedback` inputs link to a controller (leaky-pi), every
 * training tick then runs the closed loop (MODEL.md §5): feedback weights
 * from the open-loop state's Jacobian, and a second solve from the
 * open-loop state with the controller on. Validation and test ticks run the
 * open loop only.
 *
 * Afterwards every layer's rates are on its output ports, and the integrator
 * puts the logits on `output` (closed loop on training ticks), the final
 * state on `state`, the open-loop state on `open-loop-state` and each
 * sample's open-loop solver steps (accepted + rejected) on `steps`. The
 * read-only properties report the last minibatch's steps and evaluations.
 *
 * `method = equilibrium` integrates nothing: since only the final state of
 * a solve is used, it solves for the steady states directly (issue 8): in
 * the open loop one scalar Newton iteration per unit,
 * u_E + φ_I(φ_E(u_E)) = W r_prev + b, layer by layer; in the closed loop
 * Newton's method in the control c = (k_i/λ + k_p)·e(y), one O × O system
 * per sample, around the same per-unit solves with f = c·Q_l
 * (disco-equilibrium.c). `steps` and the step properties then count Newton
 * iterations: per unit (the slowest unit of each layer, summed over layers)
 * in the open loop, updates of c in the closed loop. A sample whose closed
 * loop does not converge within `newton-max-iterations`, whose residual
 * stops falling, or whose map c ↦ (k_i/λ + k_p)·e(y(c)) is not a clear
 * contraction (`contraction-limit`) is integrated with tsit5 and the ODE
 * settings instead, alone; `fallbacks` counts those solves. The results are
 * the steady states the ODE approaches; the ODE's own early stop leaves the
 * slow controller integral slightly short of them (about 1e−3 relative).
 * For runs that use the trajectory, not just its end (plasticity in
 * continuous time, as in the paper's Figure 4), or a controller without
 * leak (λ = 0: no fixed point to solve for; those closed loops fall back),
 * integrate with tsit5.
 *
 * A sample whose solve (open loop, closed loop, or an equilibrium's ODE
 * fallback) used `max-steps` steps, or reached `duration` without coming to
 * rest, is unconverged: 1 on the `unconverged` output (an evaluator linked
 * to it counts them per phase in results.json), and when more than
 * `unconverged-warning` of an epoch's samples of a phase are, a warning on
 * stderr says so.
 *
 * Ports: input `network`; outputs `output` (batch × outputs), `state`
 * (batch × N), `steps` (batch), `unconverged` (batch).
 *
 * ## Example pipeline
 * |[
 * [settle]
 * node = integrator
 * network = out
 * method = tsit5
 * rtol = 1e-3
 * ]|
 *
 * The fast variant of a training pipeline: `settle.method=equilibrium`.
 *
 * ## One arithmetic, two solvers
 *
 * The network, the closed loop and the feedback weights are computed once,
 * through the node's operations table (nodes/disco-device.h): the host
 * table on the CPU, the CUDA table in a pipeline on CUDA
 * (model/disco-ops-network.h, disco-ops-closed-loop.h).  The ODE methods
 * solve with the algorithm that suits the table: on the host table the
 * compacting solver (disco-ode.h: finished samples leave the batch, so
 * they cost nothing; the host knows every sample's clock anyway), on a
 * device the lockstep solver (disco-ode-batched.h: finished samples are
 * masked, and the host learns the running count every few steps and each
 * sample's step counts at the end, `last-host-syncs`).  Everything stays
 * in the table's memory: states, stages, the inputs' copies, the feedback
 * weights and the outputs (host readers get copies through the tensor
 * API).  With `record-sample` set, the recorded sample is integrated again
 * on the host table (on a device, from downloaded states).  The
 * equilibrium method runs wholly on the node's table too: its Newton
 * solves (disco-equilibrium.h), the closed loop's start (feedback weights
 * and start states from the table's closed loop, as for the ODE) and the
 * ODE fallback of its failed samples (the compacting solver on the same
 * table, over the failed rows packed by table copies); its states and
 * outputs stay in the table's memory like the ODE methods'.
 *
 * Rate layers (the backprop baseline) may sit under a controller too: they
 * take no feedback weights (they have no interneurons) and pass the
 * Jacobian on to the layers below.
 */

#include "disco-integrator-private.h"
#include "disco-device.h"
#include "disco-leaky-pi.h"
#include "disco-network-provider.h"
#include "disco-nodes.h"

#include <string.h>

G_DEFINE_ENUM_TYPE (DiscoIntegratorMethod, disco_integrator_method,
                    G_DEFINE_ENUM_VALUE (DISCO_INTEGRATOR_TSIT5, "tsit5"),
                    G_DEFINE_ENUM_VALUE (DISCO_INTEGRATOR_EULER, "euler"),
                    G_DEFINE_ENUM_VALUE (DISCO_INTEGRATOR_RK4, "rk4"),
                    G_DEFINE_ENUM_VALUE (DISCO_INTEGRATOR_EQUILIBRIUM, "equilibrium"))

G_DEFINE_ENUM_TYPE (DiscoIntegratorController, disco_integrator_controller,
                    G_DEFINE_ENUM_VALUE (DISCO_INTEGRATOR_CONTROLLER_DIFFRAX, "diffrax"),
                    G_DEFINE_ENUM_VALUE (DISCO_INTEGRATOR_CONTROLLER_TEXTBOOK, "textbook"))

#define DEFAULT_METHOD DISCO_INTEGRATOR_TSIT5
#define DEFAULT_CONTROLLER DISCO_INTEGRATOR_CONTROLLER_DIFFRAX
#define DEFAULT_DURATION 2.0
#define DEFAULT_DT 1e-3
#define DEFAULT_DT_MIN 1e-4
#define DEFAULT_DT_MAX 1e-2
#define DEFAULT_RTOL 1e-3
#define DEFAULT_ATOL 1e-6
#define DEFAULT_MAX_STEPS 4096
#define DEFAULT_STEADY_STATE_STOP TRUE
#define DEFAULT_FEEDBACK_AVERAGE FALSE
#define DEFAULT_FEEDBACK_NORM 1.0
#define DEFAULT_FEEDBACK_CLIP 0.0
#define DEFAULT_RECORD_SAMPLE -1
#define DEFAULT_RECORD_INTERVAL 0.002
#define DEFAULT_NEWTON_TOLERANCE 1e-6
#define DEFAULT_NEWTON_MAX_ITERATIONS 20
#define DEFAULT_CONTRACTION_LIMIT 0.99
#define DEFAULT_UNCONVERGED_WARNING 0.01

/* Why a sample's solve ended short of its steady state (bits). */
enum
{
  UNCONVERGED_MAX_STEPS = 1 << 0,   /* used max-steps steps */
  UNCONVERGED_NOT_AT_REST = 1 << 1, /* reached duration, not at rest */
};

static void disco_integrator_network_provider_init (DiscoNetworkProviderInterface *iface);

G_DEFINE_FINAL_TYPE_WITH_CODE (DiscoIntegrator, disco_integrator, DISCO_TYPE_NODE,
                               G_IMPLEMENT_INTERFACE (DISCO_TYPE_NETWORK_PROVIDER,
                                                      disco_integrator_network_provider_init))
DISCO_NODE_REGISTER_DEFINE (integrator, "integrator", DISCO_TYPE_INTEGRATOR)

enum
{
  PROP_0,
  PROP_METHOD,
  PROP_CONTROLLER,
  PROP_DURATION,
  PROP_DT,
  PROP_DT_MIN,
  PROP_DT_MAX,
  PROP_RTOL,
  PROP_ATOL,
  PROP_MAX_STEPS,
  PROP_STEADY_STATE_STOP,
  PROP_FEEDBACK_AVERAGE,
  PROP_FEEDBACK_NORM,
  PROP_FEEDBACK_CLIP,
  PROP_RECORD_SAMPLE,
  PROP_RECORD_INTERVAL,
  PROP_NEWTON_TOLERANCE,
  PROP_NEWTON_MAX_ITERATIONS,
  PROP_CONTRACTION_LIMIT,
  PROP_UNCONVERGED_WARNING,
  PROP_UNCONVERGED,
  PROP_LAST_MEAN_STEPS,
  PROP_LAST_MEAN_CLOSED_LOOP_STEPS,
  PROP_LAST_OPEN_LOOP_SECONDS,
  PROP_LAST_FEEDBACK_SECONDS,
  PROP_LAST_CLOSED_LOOP_SECONDS,
  PROP_LAST_MAX_STEPS,
  PROP_LAST_MEAN_EVALUATIONS,
  PROP_LAST_SOLVE_SECONDS,
  PROP_SOLVES,
  PROP_LAST_OPEN_LOOP_EVALUATIONS,
  PROP_LAST_CLOSED_LOOP_EVALUATIONS,
  PROP_LAST_MAX_CONTRACTION,
  PROP_FALLBACKS,
  PROP_LAST_HOST_SYNCS,
  PROP_LAST_HOST_WAIT,
  PROP_LAST_OPERATIONS,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];

static void
disco_integrator_finalize (GObject *object)
{
  DiscoIntegrator *self = DISCO_INTEGRATOR (object);

  _disco_integrator_clear_ops (self);
  _disco_integrator_clear_equilibria (self);
  g_clear_pointer (&self->network, disco_network_free);
  g_free (self->stats);
  g_free (self->eq_stats);
  g_free (self->sample_steps);
  g_free (self->sample_evaluations);
  g_free (self->fallback_rows);
  g_free (self->unconverged_rows);
  G_OBJECT_CLASS (disco_integrator_parent_class)->finalize (object);
}

static void
disco_integrator_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DiscoIntegrator *self = DISCO_INTEGRATOR (object);

  switch (prop_id)
    {
    case PROP_METHOD: g_value_set_enum (value, self->method); break;
    case PROP_CONTROLLER: g_value_set_enum (value, self->controller); break;
    case PROP_DURATION: g_value_set_double (value, self->duration); break;
    case PROP_DT: g_value_set_double (value, self->dt); break;
    case PROP_DT_MIN: g_value_set_double (value, self->dt_min); break;
    case PROP_DT_MAX: g_value_set_double (value, self->dt_max); break;
    case PROP_RTOL: g_value_set_double (value, self->rtol); break;
    case PROP_ATOL: g_value_set_double (value, self->atol); break;
    case PROP_MAX_STEPS: g_value_set_uint (value, self->max_steps); break;
    case PROP_STEADY_STATE_STOP: g_value_set_boolean (value, self->steady_state_stop); break;
    case PROP_FEEDBACK_AVERAGE: g_value_set_boolean (value, self->feedback_average); break;
    case PROP_FEEDBACK_NORM: g_value_set_double (value, self->feedback_norm); break;
    case PROP_FEEDBACK_CLIP: g_value_set_double (value, self->feedback_clip); break;
    case PROP_RECORD_SAMPLE: g_value_set_int (value, self->record_sample); break;
    case PROP_RECORD_INTERVAL: g_value_set_double (value, self->record_interval); break;
    case PROP_NEWTON_TOLERANCE: g_value_set_double (value, self->newton_tolerance); break;
    case PROP_NEWTON_MAX_ITERATIONS: g_value_set_uint (value, self->newton_max_iterations); break;
    case PROP_CONTRACTION_LIMIT: g_value_set_double (value, self->contraction_limit); break;
    case PROP_UNCONVERGED_WARNING: g_value_set_double (value, self->unconverged_warning); break;
    case PROP_UNCONVERGED: g_value_set_uint64 (value, self->unconverged); break;
    case PROP_LAST_OPEN_LOOP_EVALUATIONS:
      g_value_set_double (value, self->last_open_loop_evaluations);
      break;
    case PROP_LAST_CLOSED_LOOP_EVALUATIONS:
      g_value_set_double (value, self->last_closed_loop_evaluations);
      break;
    case PROP_LAST_MAX_CONTRACTION: g_value_set_double (value, self->last_max_contraction); break;
    case PROP_FALLBACKS: g_value_set_uint64 (value, self->fallbacks); break;
    case PROP_LAST_HOST_SYNCS: g_value_set_uint (value, self->last_host_syncs); break;
    case PROP_LAST_HOST_WAIT: g_value_set_double (value, self->last_host_wait_seconds); break;
    case PROP_LAST_OPERATIONS: g_value_set_uint64 (value, self->last_operations); break;
    case PROP_LAST_MEAN_CLOSED_LOOP_STEPS:
      g_value_set_double (value, self->last_mean_closed_loop_steps);
      break;
    case PROP_LAST_OPEN_LOOP_SECONDS:
      g_value_set_double (value, self->last_open_loop_seconds);
      break;
    case PROP_LAST_FEEDBACK_SECONDS: g_value_set_double (value, self->last_feedback_seconds); break;
    case PROP_LAST_CLOSED_LOOP_SECONDS:
      g_value_set_double (value, self->last_closed_loop_seconds);
      break;
    case PROP_LAST_MEAN_STEPS: g_value_set_double (value, self->last_mean_steps); break;
    case PROP_LAST_MAX_STEPS: g_value_set_uint (value, self->last_max_steps); break;
    case PROP_LAST_MEAN_EVALUATIONS: g_value_set_double (value, self->last_mean_evaluations); break;
    case PROP_LAST_SOLVE_SECONDS: g_value_set_double (value, self->last_solve_seconds); break;
    case PROP_SOLVES: g_value_set_uint64 (value, self->solves); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
disco_integrator_set_property (GObject *object, guint prop_id, const GValue *value,
                               GParamSpec *pspec)
{
  DiscoIntegrator *self = DISCO_INTEGRATOR (object);

  switch (prop_id)
    {
    case PROP_METHOD: self->method = g_value_get_enum (value); break;
    case PROP_CONTROLLER: self->controller = g_value_get_enum (value); break;
    case PROP_DURATION: self->duration = g_value_get_double (value); break;
    case PROP_DT: self->dt = g_value_get_double (value); break;
    case PROP_DT_MIN: self->dt_min = g_value_get_double (value); break;
    case PROP_DT_MAX: self->dt_max = g_value_get_double (value); break;
    case PROP_RTOL: self->rtol = g_value_get_double (value); break;
    case PROP_ATOL: self->atol = g_value_get_double (value); break;
    case PROP_MAX_STEPS: self->max_steps = g_value_get_uint (value); break;
    case PROP_STEADY_STATE_STOP: self->steady_state_stop = g_value_get_boolean (value); break;
    case PROP_FEEDBACK_AVERAGE: self->feedback_average = g_value_get_boolean (value); break;
    case PROP_FEEDBACK_NORM: self->feedback_norm = g_value_get_double (value); break;
    case PROP_FEEDBACK_CLIP: self->feedback_clip = g_value_get_double (value); break;
    case PROP_RECORD_SAMPLE: self->record_sample = g_value_get_int (value); break;
    case PROP_RECORD_INTERVAL: self->record_interval = g_value_get_double (value); break;
    case PROP_NEWTON_TOLERANCE: self->newton_tolerance = g_value_get_double (value); break;
    case PROP_NEWTON_MAX_ITERATIONS: self->newton_max_iterations = g_value_get_uint (value); break;
    case PROP_CONTRACTION_LIMIT: self->contraction_limit = g_value_get_double (value); break;
    case PROP_UNCONVERGED_WARNING: self->unconverged_warning = g_value_get_double (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

void
_disco_integrator_fill_config (DiscoIntegrator *self, DiscoOdeConfig *config)
{
  disco_ode_config_init (config);
  config->t1 = self->duration;
  config->dt0 = self->dt;
  config->dtmin = self->dt_min;
  config->dtmax = self->dt_max;
  config->rtol = self->rtol;
  config->atol = self->atol;
  config->max_steps = self->max_steps;
  config->steady_state_stop = self->steady_state_stop;
  switch (self->method)
    {
    case DISCO_INTEGRATOR_EULER:
      config->method = DISCO_ODE_METHOD_EULER;
      config->controller = DISCO_ODE_CONTROLLER_CONSTANT;
      break;
    case DISCO_INTEGRATOR_RK4:
      config->method = DISCO_ODE_METHOD_RK4;
      config->controller = DISCO_ODE_CONTROLLER_CONSTANT;
      break;
    case DISCO_INTEGRATOR_TSIT5:
    case DISCO_INTEGRATOR_EQUILIBRIUM: /* its fallback */
    default:
      config->method = DISCO_ODE_METHOD_TSIT5;
      config->controller = self->controller == DISCO_INTEGRATOR_CONTROLLER_TEXTBOOK
                               ? DISCO_ODE_CONTROLLER_TEXTBOOK
                               : DISCO_ODE_CONTROLLER_DIFFRAX;
    }
}

/* Solver and table errors (DISCO_ERROR already): say which node. */
void
_disco_integrator_as_disco_error (DiscoIntegrator *self, GError **error)
{
  if (error != NULL && *error != NULL)
    g_prefix_error (error, "node \"%s\": ", disco_node_get_name (DISCO_NODE (self)));
}

/* The controller is whatever the layers' "feedback" inputs link to: one
 * leaky-pi for the whole network, whose prediction is the network's readout. */
static gboolean
find_controller (DiscoIntegrator *self, GError **error)
{
  DiscoNode *controller = NULL;
  DiscoControllerSpec spec;
  guint n_layers = disco_network_get_n_layers (self->network);

  for (guint l = 0; l < n_layers; l++)
    {
      DiscoNode *layer = disco_network_get_layer (self->network, l)->node;
      DiscoNode *source;

      if (!disco_node_type_get_port_info (G_OBJECT_TYPE (layer), "feedback", NULL, NULL, NULL))
        continue;
      source = disco_node_get_input_node (layer, "feedback", NULL);
      if (source == NULL)
        continue;
      if (controller != NULL && source != controller)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                       "node \"%s\": the layers' feedback comes from two nodes, \"%s\" and "
                       "\"%s\"; one controller steers a network",
                       disco_node_get_name (DISCO_NODE (self)), disco_node_get_name (controller),
                       disco_node_get_name (source));
          return FALSE;
        }
      controller = source;
    }
  self->controller_node = controller;
  if (controller == NULL)
    return TRUE;
  if (!disco_controller_get_spec (controller, &spec)
      || disco_node_get_input_node (controller, "prediction", NULL)
             != disco_network_get_layer (self->network, n_layers - 1)->node)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                   "node \"%s\": the layers' feedback must come from a controller (leaky-pi) "
                   "whose prediction is this network's readout, not from \"%s\"",
                   disco_node_get_name (DISCO_NODE (self)), disco_node_get_name (controller));
      return FALSE;
    }
  return TRUE;
}

/* The targets the controller received this tick. */
DiscoTensor *
_disco_integrator_controller_targets (DiscoIntegrator *self, GError **error)
{
  DiscoTensor *targets = disco_node_get_input (self->controller_node, "target");

  if (targets == NULL)
    g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                 "controller \"%s\" received no targets this tick",
                 disco_node_get_name (self->controller_node));
  return targets;
}

/* DiscoNetworkProvider.get_network: the network it drives, once prepared. */
static DiscoNetwork *
disco_integrator_get_network (DiscoNetworkProvider *provider)
{
  return DISCO_INTEGRATOR (provider)->network;
}

static void
disco_integrator_network_provider_init (DiscoNetworkProviderInterface *iface)
{
  iface->get_network = disco_integrator_get_network;
}

static gboolean
disco_integrator_prepare (DiscoNode *node, GError **error)
{
  DiscoIntegrator *self = DISCO_INTEGRATOR (node);
  DiscoOdeConfig config;
  const DiscoLayerSpec *last;
  gsize out_shape[2], state_shape[2], steps_shape[1] = { 0 };

  _disco_integrator_fill_config (self, &config);
  if (!disco_ode_config_validate (&config, error))
    {
      _disco_integrator_as_disco_error (self, error);
      return FALSE;
    }
  _disco_integrator_clear_equilibria (self);
  _disco_integrator_clear_ops (self);
  g_clear_pointer (&self->network, disco_network_free);
  self->network = disco_network_new (node, "network", error);
  if (self->network == NULL || !find_controller (self, error))
    return FALSE;
  if (self->method == DISCO_INTEGRATOR_EQUILIBRIUM)
    self->equilibrium = _disco_integrator_new_equilibrium (self->network);

  last = disco_network_get_layer (self->network, disco_network_get_n_layers (self->network) - 1);
  out_shape[0] = 0;
  out_shape[1] = last->n;
  state_shape[0] = 0;
  state_shape[1] = disco_network_get_state_size (self->network);
  disco_node_declare_output (node, "output", 2, out_shape);
  disco_node_declare_output (node, "state", 2, state_shape);
  disco_node_declare_output (node, "open-loop-state", 2, state_shape);
  disco_node_declare_output (node, "steps", 1, steps_shape);
  disco_node_declare_output (node, "unconverged", 1, steps_shape);
  self->solves = 0;
  self->fallbacks = 0;
  self->unconverged = 0;
  self->count_epoch = 0;
  memset (self->phase_samples, 0, sizeof self->phase_samples);
  memset (self->phase_unconverged, 0, sizeof self->phase_unconverged);
  memset (self->phase_max_steps, 0, sizeof self->phase_max_steps);
  self->last_host_syncs = 0;
  self->last_host_wait_seconds = 0;
  self->last_operations = 0;
  return TRUE;
}

/* Why the solve of a sample ended short of its steady state, if it did:
 * out of steps, or at the end of `duration` without coming to rest (when
 * the solve stops at rest; without steady-state-stop reaching the end is
 * the plan). */
guint8
_disco_integrator_unconverged_bits (DiscoIntegrator *self, const DiscoOdeSampleStats *stats)
{
  if (stats->status == DISCO_ODE_STATUS_MAX_STEPS)
    return UNCONVERGED_MAX_STEPS;
  if (stats->status == DISCO_ODE_STATUS_REACHED_END && self->steady_state_stop)
    return UNCONVERGED_NOT_AT_REST;
  return 0;
}

/* Clears the tick's unconverged marks for B samples. */
static void
begin_unconverged (DiscoIntegrator *self, gsize B)
{
  if (B > self->unconverged_capacity)
    {
      g_free (self->unconverged_rows);
      self->unconverged_rows = g_new (guint8, B);
      self->unconverged_capacity = B;
    }
  memset (self->unconverged_rows, 0, B);
}

/* The tick's marks onto the "unconverged" output and into the epoch's
 * counts per phase. */
static gboolean
publish_unconverged (DiscoIntegrator *self, const DiscoTick *tick, gsize B, GError **error)
{
  gsize shape[1] = { B };
  float *out = disco_tensor_write_host (
      disco_node_ensure_output (DISCO_NODE (self), "unconverged", 1, shape), error);
  DiscoPhase phase = tick->phase < N_PHASES ? tick->phase : DISCO_PHASE_NONE;

  if (out == NULL)
    return FALSE;
  if (tick->epoch != self->count_epoch)
    {
      memset (self->phase_samples, 0, sizeof self->phase_samples);
      memset (self->phase_unconverged, 0, sizeof self->phase_unconverged);
      memset (self->phase_max_steps, 0, sizeof self->phase_max_steps);
      self->count_epoch = tick->epoch;
    }
  for (gsize s = 0; s < B; s++)
    {
      out[s] = self->unconverged_rows[s] != 0;
      self->phase_unconverged[phase] += self->unconverged_rows[s] != 0;
      self->phase_max_steps[phase] += (self->unconverged_rows[s] & UNCONVERGED_MAX_STEPS) != 0;
      self->unconverged += self->unconverged_rows[s] != 0;
    }
  self->phase_samples[phase] += B;
  return TRUE;
}

/* Says on stderr, once per epoch and phase, when more than
 * unconverged-warning of the samples ended a solve unconverged: their
 * states, and what is learnt or scored from them, are not steady states. */
static void
warn_unconverged (DiscoIntegrator *self)
{
  for (DiscoPhase p = DISCO_PHASE_NONE; p < N_PHASES; p++)
    {
      guint64 n = self->phase_unconverged[p], total = self->phase_samples[p];

      if (total == 0 || (double) n <= self->unconverged_warning * total)
        continue;
      /* g_log, not the structured g_warning: tests can expect it. */
      g_log (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING,
             "integrator \"%s\": %" G_GUINT64_FORMAT " of %" G_GUINT64_FORMAT " %s samples "
             "(%.1f %%) of epoch %u ended a solve unconverged (%" G_GUINT64_FORMAT " at "
             "max-steps = %u, %" G_GUINT64_FORMAT " not at rest after duration = %g s): their "
             "states are not steady states (this warns above unconverged-warning = %g)",
             disco_node_get_name (DISCO_NODE (self)), n, total, disco_phase_to_string (p),
             100.0 * n / total, self->count_epoch, self->phase_max_steps[p], self->max_steps,
             n - self->phase_max_steps[p], self->duration, self->unconverged_warning);
    }
  memset (self->phase_samples, 0, sizeof self->phase_samples);
  memset (self->phase_unconverged, 0, sizeof self->phase_unconverged);
  memset (self->phase_max_steps, 0, sizeof self->phase_max_steps);
}

static gboolean
disco_integrator_end_epoch (DiscoNode *node, guint epoch, GError **error)
{
  warn_unconverged (DISCO_INTEGRATOR (node));
  return TRUE;
}

static DiscoFlowReturn
disco_integrator_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  DiscoIntegrator *self = DISCO_INTEGRATOR (node);
  DiscoTensor *input = disco_network_get_input (self->network, error);
  const DiscoOps *ops = disco_node_get_ops (node);
  gboolean closed = self->controller_node != NULL && tick->phase == DISCO_PHASE_TRAIN;
  DiscoFlowReturn flow;
  guint64 operations_at_start;
  gsize B;

  if (input == NULL)
    return DISCO_FLOW_ERROR;
  if (!_disco_integrator_ensure_ops_objects (self, ops, error)
      || !_disco_integrator_set_table_parameters (self, self->ops_network, ops, error))
    return DISCO_FLOW_ERROR;
  B = disco_tensor_get_dim (input, 0);
  begin_unconverged (self, B);
  self->last_host_syncs = 0;
  self->last_host_wait_seconds = 0;
  operations_at_start = ops->get_operation_count ();
  /* The equilibrium computes its own first drive and needs the table's
   * only for samples it hands to the ODE. */
  self->batch_begun = FALSE;
  flow = self->equilibrium != NULL
             ? _disco_integrator_process_equilibrium (self, input, closed, error)
             : _disco_integrator_process_ode (self, input, closed, error);
  if (flow != DISCO_FLOW_OK)
    return flow;
  self->last_operations = ops->get_operation_count () - operations_at_start;
  self->solves++;
  if (!publish_unconverged (self, tick, B, error))
    return DISCO_FLOW_ERROR;
  if (self->record_sample >= 0 && (gsize) self->record_sample < B
      && !_disco_integrator_record_trajectory (self, input, B, closed, error))
    return DISCO_FLOW_ERROR;
  return DISCO_FLOW_OK;
}

static gboolean
disco_integrator_finish (DiscoNode *node, GError **error)
{
  DiscoIntegrator *self = DISCO_INTEGRATOR (node);

  /* Ticks of an epoch that did not end (max-ticks, an error) */
  warn_unconverged (self);
  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_SOLVES]);
  return TRUE;
}

static void
disco_integrator_class_init (DiscoIntegratorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;

  object_class->finalize = disco_integrator_finalize;
  object_class->get_property = disco_integrator_get_property;
  object_class->set_property = disco_integrator_set_property;
  node_class->prepare = disco_integrator_prepare;
  node_class->process = disco_integrator_process;
  node_class->finish = disco_integrator_finish;
  node_class->end_epoch = disco_integrator_end_epoch;

  properties[PROP_METHOD] =
      g_param_spec_enum ("method", "Method",
                         "tsit5 (adaptive, the reference's), euler or rk4 (fixed steps of dt), "
                         "or equilibrium (the steady states solved as fixed points by Newton's "
                         "method, tsit5 for samples that fail)",
                         DISCO_TYPE_INTEGRATOR_METHOD, DEFAULT_METHOD, rw);
  properties[PROP_CONTROLLER] =
      g_param_spec_enum ("controller", "Step-size controller",
                         "diffrax (accepted steps never shrink, as the reference) or textbook",
                         DISCO_TYPE_INTEGRATOR_CONTROLLER, DEFAULT_CONTROLLER, rw);
  properties[PROP_DURATION] =
      g_param_spec_double ("duration", "Duration T", "Longest simulated time of one solve (s)",
                           1e-6, 1e6, DEFAULT_DURATION, rw);
  properties[PROP_DT] =
      g_param_spec_double ("dt", "Step", "First step of tsit5, every step of euler and rk4 (s)",
                           1e-9, 1e3, DEFAULT_DT, rw);
  properties[PROP_DT_MIN] =
      g_param_spec_double ("dt-min", "Smallest step", "Smallest step tsit5 may take (s)", 1e-12,
                           1e3, DEFAULT_DT_MIN, rw);
  properties[PROP_DT_MAX] = g_param_spec_double (
      "dt-max", "Largest step", "Largest step tsit5 may take (s)", 1e-12, 1e3, DEFAULT_DT_MAX, rw);
  properties[PROP_RTOL] =
      g_param_spec_double ("rtol", "Relative tolerance",
                           "Relative tolerance of the step control and the steady-state test",
                           1e-12, 1.0, DEFAULT_RTOL, rw);
  properties[PROP_ATOL] =
      g_param_spec_double ("atol", "Absolute tolerance",
                           "Absolute tolerance of the step control and the steady-state test", 0.0,
                           1.0, DEFAULT_ATOL, rw);
  properties[PROP_MAX_STEPS] = g_param_spec_uint (
      "max-steps", "Step limit", "Most steps (accepted + rejected) one sample may take per solve",
      1, G_MAXINT, DEFAULT_MAX_STEPS, rw);
  properties[PROP_STEADY_STATE_STOP] =
      g_param_spec_boolean ("steady-state-stop", "Stop at rest",
                            "Stop a sample once RMS(f) < atol + rtol·RMS(state); false "
                            "integrates every sample for the whole duration",
                            DEFAULT_STEADY_STATE_STOP, rw);
  properties[PROP_FEEDBACK_AVERAGE] =
      g_param_spec_boolean ("feedback-average", "Average Jacobian",
                            "Average the feedback weights over the minibatch before normalising "
                            "(\"average Jacobian\"), instead of one set per sample",
                            DEFAULT_FEEDBACK_AVERAGE, rw);
  properties[PROP_FEEDBACK_NORM] =
      g_param_spec_double ("feedback-norm", "Feedback norm",
                           "Frobenius norm each sample's feedback weights Q_l are scaled to "
                           "(0: no normalisation)",
                           0, 1e6, DEFAULT_FEEDBACK_NORM, rw);
  properties[PROP_RECORD_SAMPLE] =
      g_param_spec_int ("record-sample", "Recorded sample",
                        "Record how this sample of each minibatch settles, open then closed "
                        "loop, on the \"trajectory\" outputs (-1: record nothing)",
                        -1, G_MAXINT, DEFAULT_RECORD_SAMPLE, rw);
  properties[PROP_RECORD_INTERVAL] =
      g_param_spec_double ("record-interval", "Recording interval",
                           "Time between recorded states (s); the recording integrates the "
                           "sample again with RK4 at this step, on a regular grid",
                           1e-6, 1.0, DEFAULT_RECORD_INTERVAL, rw);
  properties[PROP_FEEDBACK_CLIP] =
      g_param_spec_double ("feedback-clip", "Feedback clip",
                           "Clip every feedback weight to [−value, value] after averaging and "
                           "before normalising (0: no clipping)",
                           0, 1e6, DEFAULT_FEEDBACK_CLIP, rw);
  properties[PROP_NEWTON_TOLERANCE] =
      g_param_spec_double ("newton-tolerance", "Newton tolerance",
                           "equilibrium: the closed loop has converged when max |c − "
                           "(k_i/λ + k_p)·e(y)| ≤ this · max(1, max |c|) (c in the controller's "
                           "units)",
                           1e-12, 1e-1, DEFAULT_NEWTON_TOLERANCE, rw);
  properties[PROP_NEWTON_MAX_ITERATIONS] =
      g_param_spec_uint ("newton-max-iterations", "Newton iteration limit",
                         "equilibrium: most closed-loop Newton iterations per sample before it "
                         "is integrated with tsit5 instead",
                         1, 10000, DEFAULT_NEWTON_MAX_ITERATIONS, rw);
  properties[PROP_CONTRACTION_LIMIT] =
      g_param_spec_double ("contraction-limit", "Contraction limit",
                           "equilibrium: a sample is integrated with tsit5 instead once the "
                           "spectral norm of ∂((k_i/λ + k_p)·e(y(c)))/∂c reaches this at a "
                           "Newton iterate (below 1: the fixed point is unique there; a large "
                           "value disables the check)",
                           0, 1e6, DEFAULT_CONTRACTION_LIMIT, rw);
  properties[PROP_UNCONVERGED_WARNING] =
      g_param_spec_double ("unconverged-warning", "Unconverged warning",
                           "Warn on stderr, once per epoch and phase, when more than this "
                           "fraction of the samples ended a solve unconverged (max-steps used, or "
                           "not at rest after duration); they are counted on the \"unconverged\" "
                           "output whatever this is (1: never warn)",
                           0, 1, DEFAULT_UNCONVERGED_WARNING, rw);
  properties[PROP_UNCONVERGED] = g_param_spec_uint64 (
      "unconverged", "Unconverged samples",
      "Samples that ended a solve unconverged in the current or last run", 0, G_MAXUINT64, 0, ro);
  properties[PROP_LAST_OPEN_LOOP_EVALUATIONS] =
      g_param_spec_double ("last-open-loop-evaluations", "Open-loop evaluations",
                           "Mean network evaluations per sample of the last open-loop solve "
                           "(ODE: right-hand sides; equilibrium: passes through the network)",
                           0, G_MAXDOUBLE, 0, ro);
  properties[PROP_LAST_CLOSED_LOOP_EVALUATIONS] =
      g_param_spec_double ("last-closed-loop-evaluations", "Closed-loop evaluations",
                           "Mean network evaluations per sample of the last closed-loop solve "
                           "(ODE: right-hand sides; equilibrium: forward and Jacobian passes; 0 "
                           "when the last tick ran open loop only)",
                           0, G_MAXDOUBLE, 0, ro);
  properties[PROP_LAST_MAX_CONTRACTION] =
      g_param_spec_double ("last-max-contraction", "Largest contraction",
                           "equilibrium: the largest Lipschitz estimate of c ↦ "
                           "(k_i/λ + k_p)·e(y(c)) seen in the last closed-loop solve (compare "
                           "with contraction-limit)",
                           0, G_MAXDOUBLE, 0, ro);
  properties[PROP_FALLBACKS] =
      g_param_spec_uint64 ("fallbacks", "Fallbacks",
                           "equilibrium: solves (sample × open or closed loop) handed to tsit5 "
                           "because the fixed point was not found, in the current or last run",
                           0, G_MAXUINT64, 0, ro);
  properties[PROP_LAST_MEAN_CLOSED_LOOP_STEPS] =
      g_param_spec_double ("last-mean-closed-loop-steps", "Mean closed-loop steps",
                           "Mean solver steps per sample of the last closed-loop solve (0 when "
                           "the last tick ran open loop only)",
                           0, G_MAXDOUBLE, 0, ro);
  properties[PROP_LAST_OPEN_LOOP_SECONDS] =
      g_param_spec_double ("last-open-loop-seconds", "Open-loop time",
                           "Wall time of the last open-loop solve (s)", 0, G_MAXDOUBLE, 0, ro);
  properties[PROP_LAST_FEEDBACK_SECONDS] = g_param_spec_double (
      "last-feedback-seconds", "Feedback time", "Wall time spent on the last feedback weights (s)",
      0, G_MAXDOUBLE, 0, ro);
  properties[PROP_LAST_CLOSED_LOOP_SECONDS] =
      g_param_spec_double ("last-closed-loop-seconds", "Closed-loop time",
                           "Wall time of the last closed-loop solve (s)", 0, G_MAXDOUBLE, 0, ro);
  properties[PROP_LAST_MEAN_STEPS] = g_param_spec_double (
      "last-mean-steps", "Mean steps", "Mean solver steps per sample of the last open-loop solve",
      0, G_MAXDOUBLE, 0, ro);
  properties[PROP_LAST_MAX_STEPS] = g_param_spec_uint (
      "last-max-steps", "Most steps", "Most solver steps of one sample in the last minibatch", 0,
      G_MAXUINT, 0, ro);
  properties[PROP_LAST_MEAN_EVALUATIONS] =
      g_param_spec_double ("last-mean-evaluations", "Mean evaluations",
                           "Mean network evaluations (right-hand sides) per sample in the last "
                           "minibatch",
                           0, G_MAXDOUBLE, 0, ro);
  properties[PROP_LAST_SOLVE_SECONDS] =
      g_param_spec_double ("last-solve-seconds", "Solve time",
                           "Wall time of the last minibatch's solve (s)", 0, G_MAXDOUBLE, 0, ro);
  properties[PROP_SOLVES] = g_param_spec_uint64 (
      "solves", "Solves", "Minibatches solved in the current or last run", 0, G_MAXUINT64, 0, ro);
  properties[PROP_LAST_HOST_SYNCS] =
      g_param_spec_uint ("last-host-syncs", "Host syncs",
                         "Host round trips of the last minibatch's lockstep solves on a device "
                         "(polls of the running count and the step counts' downloads); 0 on the "
                         "host table",
                         0, G_MAXUINT, 0, ro);
  properties[PROP_LAST_HOST_WAIT] =
      g_param_spec_double ("last-host-wait", "Host wait",
                           "Wall time the last minibatch's solves waited in those round trips for "
                           "the device to finish queued work (s); what remains of "
                           "last-solve-seconds is the host's own time; 0 on the host table",
                           0, G_MAXDOUBLE, 0, ro);
  properties[PROP_LAST_OPERATIONS] =
      g_param_spec_uint64 ("last-operations", "Table operations",
                           "Compute operations of the node's table in the last minibatch (on "
                           "CUDA, its kernel launches and cuBLAS calls, each a few microseconds "
                           "of launch overhead; on the host table, its kernel calls)",
                           0, G_MAXUINT64, 0, ro);
  g_object_class_install_properties (object_class, N_PROPERTIES, properties);

  /* Every method, on the CUDA table. */
  disco_node_class_set_runs_on_cuda (node_class, TRUE);
  disco_node_class_set_metadata (node_class, "Network integrator", "Solver",
                                 "Integrates a network of layer nodes to steady state, each "
                                 "sample on its own clock (MODEL.md §5)");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "network", DISCO_PORT_FLAG_NONE,
                             "the network's last layer (a readout); its input links lead "
                             "down to the data");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "output", DISCO_PORT_FLAG_NONE,
                             "the last layer's final values (logits), batch × outputs");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "state", DISCO_PORT_FLAG_NONE,
                             "every sample's final state, batch × N (layer after layer: "
                             "u_E, u_I per microcircuit; u per rate layer; y): closed loop on "
                             "training ticks when a controller is linked, else open loop");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "steps", DISCO_PORT_FLAG_NONE,
                             "open-loop solver steps (accepted + rejected) of each sample, "
                             "batch; method = equilibrium: its Newton iterations (the slowest "
                             "unit's per layer, summed over layers)");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "unconverged", DISCO_PORT_FLAG_NONE,
                             "1 for each sample whose solve (open or closed loop, or its "
                             "equilibrium's fallback) ended unconverged: max-steps used, or not "
                             "at rest after duration; else 0, batch");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "trajectory", DISCO_PORT_FLAG_NONE,
                             "with record-sample set: the recorded sample's state every "
                             "record-interval, open loop then closed loop, each row the "
                             "network's state followed by the control c (0 in open loop), "
                             "T × (N + outputs)");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "trajectory-times",
                             DISCO_PORT_FLAG_NONE,
                             "the time of each trajectory row (s), the closed loop continuing "
                             "where the open loop stopped, T");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "trajectory-open-loop-rows",
                             DISCO_PORT_FLAG_NONE,
                             "how many trajectory rows are open loop (1 value)");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "open-loop-state", DISCO_PORT_FLAG_NONE,
                             "every sample's open-loop steady state, batch × N");
}

static void
disco_integrator_init (DiscoIntegrator *self)
{
  self->method = DEFAULT_METHOD;
  self->controller = DEFAULT_CONTROLLER;
  self->duration = DEFAULT_DURATION;
  self->dt = DEFAULT_DT;
  self->dt_min = DEFAULT_DT_MIN;
  self->dt_max = DEFAULT_DT_MAX;
  self->rtol = DEFAULT_RTOL;
  self->atol = DEFAULT_ATOL;
  self->max_steps = DEFAULT_MAX_STEPS;
  self->steady_state_stop = DEFAULT_STEADY_STATE_STOP;
  self->feedback_average = DEFAULT_FEEDBACK_AVERAGE;
  self->feedback_norm = DEFAULT_FEEDBACK_NORM;
  self->feedback_clip = DEFAULT_FEEDBACK_CLIP;
  self->record_sample = DEFAULT_RECORD_SAMPLE;
  self->record_interval = DEFAULT_RECORD_INTERVAL;
  self->newton_tolerance = DEFAULT_NEWTON_TOLERANCE;
  self->newton_max_iterations = DEFAULT_NEWTON_MAX_ITERATIONS;
  self->contraction_limit = DEFAULT_CONTRACTION_LIMIT;
  self->unconverged_warning = DEFAULT_UNCONVERGED_WARNING;
}
