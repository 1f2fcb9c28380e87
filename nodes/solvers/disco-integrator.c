/* disco-integrator.c */

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

#include "disco-integrator.h"
#include "disco-device.h"
#include "disco-equilibrium.h"
#include "disco-leaky-pi.h"
#include "disco-ode-batched.h"
#include "disco-ops-closed-loop.h"
#include "disco-network.h"
#include "disco-network-provider.h"
#include "disco-nodes.h"
#include "disco-ode.h"

#include <math.h>
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
#define N_PHASES 4

/* Why a sample's solve ended short of its steady state (bits). */
enum
{
  UNCONVERGED_MAX_STEPS = 1 << 0,    /* used max-steps steps */
  UNCONVERGED_NOT_AT_REST = 1 << 1,  /* reached duration, not at rest */
};

struct _DiscoIntegrator
{
  DiscoNode parent_instance;

  DiscoIntegratorMethod method;
  DiscoIntegratorController controller;
  double duration, dt, dt_min, dt_max, rtol, atol;
  guint max_steps;
  gboolean steady_state_stop;
  gboolean feedback_average;
  double feedback_norm;
  double feedback_clip;
  gint record_sample;
  double record_interval;
  double newton_tolerance;
  guint newton_max_iterations;
  double contraction_limit;
  double unconverged_warning;

  DiscoNetwork *network;          /* the description: layers, offsets, parameters */
  DiscoNode *controller_node;     /* the layers' feedback source (the pipeline owns it);
                                   * NULL without a controller */
  DiscoOdeSolver *solver;         /* the compacting solver on the table, ops */
  DiscoOdeSampleStats *stats;
  gsize stats_capacity;
  DiscoEquilibrium *equilibrium;          /* method = equilibrium */
  DiscoEquilibriumSampleStats *eq_stats;  /* B */
  guint *sample_steps, *sample_evaluations, *fallback_rows;   /* B */
  gsize eq_capacity;
  gboolean batch_begun;                   /* the table network's first drive is set this tick */

  double last_mean_steps;
  guint last_max_steps;
  double last_mean_evaluations;
  double last_solve_seconds;
  double last_mean_closed_loop_steps;
  double last_open_loop_seconds, last_feedback_seconds, last_closed_loop_seconds;
  double last_open_loop_evaluations, last_closed_loop_evaluations;
  double last_max_contraction;
  guint64 solves;
  guint64 fallbacks;

  /* Samples whose solve ended unconverged: this tick's, per sample (bits
   * above; B), and this epoch's counts per phase, for the warning. */
  guint8 *unconverged_rows;
  gsize unconverged_capacity;
  guint count_epoch;
  guint64 phase_samples[N_PHASES];
  guint64 phase_unconverged[N_PHASES];
  guint64 phase_max_steps[N_PHASES];
  guint64 unconverged;

  /* The arithmetic: the network and its closed loop on the node's table
   * (disco_node_get_ops(): the host table on the CPU), made on first use. */
  const DiscoOps *ops;
  DiscoOpsNetwork *ops_network;
  DiscoOpsClosedLoop *ops_closed_loop;    /* NULL without a controller */
  /* On CUDA, the host table's twins for the recorded sample (record-sample). */
  DiscoOpsNetwork *record_network;
  DiscoOpsClosedLoop *record_closed_loop;
  DiscoOdeBatchedSolver *batched;
  float *ops_closed_loop_state;          /* B × (N + O), the table's memory */
  gsize ops_closed_loop_capacity;
  guint last_host_syncs;
  double last_host_wait_seconds;
  guint64 last_operations;
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
clear_ops (DiscoIntegrator *self)
{
  if (self->ops_closed_loop_state != NULL)
    self->ops->free (self->ops_closed_loop_state);
  self->ops_closed_loop_state = NULL;
  self->ops_closed_loop_capacity = 0;
  g_clear_pointer (&self->ops_closed_loop, disco_ops_closed_loop_free);
  g_clear_pointer (&self->ops_network, disco_ops_network_free);
  g_clear_pointer (&self->record_closed_loop, disco_ops_closed_loop_free);
  g_clear_pointer (&self->record_network, disco_ops_network_free);
  g_clear_pointer (&self->batched, disco_ode_batched_solver_free);
  g_clear_pointer (&self->solver, disco_ode_solver_free);
  self->ops = NULL;
}

static void
disco_integrator_finalize (GObject *object)
{
  DiscoIntegrator *self = DISCO_INTEGRATOR (object);

  clear_ops (self);
  g_clear_pointer (&self->equilibrium, disco_equilibrium_free);
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
disco_integrator_get_property (GObject *object, guint prop_id, GValue *value,
                               GParamSpec *pspec)
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
    case PROP_LAST_OPEN_LOOP_SECONDS: g_value_set_double (value, self->last_open_loop_seconds); break;
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
    case PROP_UNCONVERGED_WARNING:
      self->unconverged_warning = g_value_get_double (value);
      break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
fill_config (DiscoIntegrator *self, DiscoOdeConfig *config)
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
    case DISCO_INTEGRATOR_EQUILIBRIUM:   /* its fallback */
    default:
      config->method = DISCO_ODE_METHOD_TSIT5;
      config->controller = self->controller == DISCO_INTEGRATOR_CONTROLLER_TEXTBOOK
                             ? DISCO_ODE_CONTROLLER_TEXTBOOK : DISCO_ODE_CONTROLLER_DIFFRAX;
    }
}

/* Solver and table errors (DISCO_ERROR already): say which node. */
static void
as_disco_error (DiscoIntegrator *self, GError **error)
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
  if (!disco_controller_get_spec (controller, &spec) ||
      disco_node_get_input_node (controller, "prediction", NULL) !=
        disco_network_get_layer (self->network, n_layers - 1)->node)
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
static DiscoTensor *
controller_targets (DiscoIntegrator *self, GError **error)
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

static DiscoEquilibrium *new_equilibrium (DiscoNetwork *network);

static gboolean
disco_integrator_prepare (DiscoNode *node, GError **error)
{
  DiscoIntegrator *self = DISCO_INTEGRATOR (node);
  DiscoOdeConfig config;
  const DiscoLayerSpec *last;
  gsize out_shape[2], state_shape[2], steps_shape[1] = { 0 };

  fill_config (self, &config);
  if (!disco_ode_config_validate (&config, error))
    {
      as_disco_error (self, error);
      return FALSE;
    }
  g_clear_pointer (&self->equilibrium, disco_equilibrium_free);
  clear_ops (self);
  g_clear_pointer (&self->network, disco_network_free);
  self->network = disco_network_new (node, "network", error);
  if (self->network == NULL || !find_controller (self, error))
    return FALSE;
  if (self->method == DISCO_INTEGRATOR_EQUILIBRIUM)
    self->equilibrium = new_equilibrium (self->network);

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
static guint8
unconverged_bits (DiscoIntegrator *self, const DiscoOdeSampleStats *stats)
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

/* The solve's per-sample statistics into the node's last-* properties;
 * returns the mean steps (accepted and rejected) per sample. */
static double
record_step_statistics (DiscoIntegrator *self, gsize B)
{
  double total_steps = 0, total_evaluations = 0;
  guint max_steps = 0;

  for (gsize s = 0; s < B; s++)
    {
      guint n = self->stats[s].n_accepted + self->stats[s].n_rejected;

      self->unconverged_rows[s] |= unconverged_bits (self, &self->stats[s]);
      total_steps += n;
      total_evaluations += self->stats[s].n_rhs_evals;
      max_steps = MAX (max_steps, n);
    }
  self->last_mean_evaluations = total_evaluations / B;
  self->last_max_steps = max_steps;
  return total_steps / B;
}

/* ----- the network on the node's table ---------------------------------------------- */

/* The network (and, with a controller, its closed loop) on @ops, with no
 * weights: each minibatch lends the nodes' tensors (set_table_parameters). */
static gboolean
make_table_objects (DiscoIntegrator *self, const DiscoOps *ops, DiscoOpsNetwork **network,
                    DiscoOpsClosedLoop **loop, GError **error)
{
  const guint n_layers = disco_network_get_n_layers (self->network);
  g_autofree DiscoOpsLayer *layers = g_new0 (DiscoOpsLayer, n_layers);

  for (guint l = 0; l < n_layers; l++)
    {
      const DiscoLayerSpec *spec = disco_network_get_layer (self->network, l);

      layers[l] = (DiscoOpsLayer) {
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
  *network = disco_ops_network_new (ops, n_layers, layers, error);
  if (*network == NULL)
    return FALSE;
  *loop = NULL;
  if (self->controller_node != NULL)
    {
      DiscoControllerSpec spec;
      DiscoOpsController controller;

      /* find_controller() checked that it is one. */
      disco_controller_get_spec (self->controller_node, &spec);
      controller = (DiscoOpsController) {
        .softmax = spec.error == DISCO_CONTROL_ERROR_CROSS_ENTROPY,
        .k_p = spec.k_p,
        .k_i = spec.k_i,
        .leak = spec.leak,
        .tau = spec.tau,
      };
      *loop = disco_ops_closed_loop_new (*network, &controller, error);
      if (*loop == NULL)
        {
          g_clear_pointer (network, disco_ops_network_free);
          return FALSE;
        }
    }
  return TRUE;
}

/* The table's network, closed loop and solvers, made for @ops once. */
static gboolean
ensure_ops_objects (DiscoIntegrator *self, const DiscoOps *ops, GError **error)
{
  if (self->ops == ops)
    return TRUE;
  clear_ops (self);
  if (!make_table_objects (self, ops, &self->ops_network, &self->ops_closed_loop, error))
    {
      as_disco_error (self, error);
      return FALSE;
    }
  self->ops = ops;
  /* The compacting solver: the ODE methods' on the host table, and on any
   * table the equilibrium's fallback for its few failed samples. */
  self->solver = disco_ode_solver_new_on (ops);
  if (ops != disco_ops_cpu ())
    self->batched = disco_ode_batched_solver_new (ops);
  return TRUE;
}

/* This minibatch's parameters, where @ops computes (the optimizer changed
 * them since the last one). */
static gboolean
set_table_parameters (DiscoIntegrator *self, DiscoOpsNetwork *network, const DiscoOps *ops,
                      GError **error)
{
  for (guint l = 0; l < disco_network_get_n_layers (self->network); l++)
    {
      const DiscoLayerSpec *spec = disco_network_get_layer (self->network, l);
      const float *w = disco_tensor_read_ops (spec->weight, ops, error), *b = NULL;

      if (w == NULL ||
          (spec->bias != NULL && (b = disco_tensor_read_ops (spec->bias, ops, error)) == NULL))
        return FALSE;
      disco_ops_network_set_parameters (network, l, w, b);
    }
  return TRUE;
}

/* The first layer's drive W x + b of this minibatch on @network's table. */
static gboolean
begin_batch_on (DiscoIntegrator *self, DiscoOpsNetwork *network, DiscoTensor *input,
                GError **error)
{
  const DiscoLayerSpec *first = disco_network_get_layer (self->network, 0);
  const DiscoOps *ops = disco_ops_network_get_ops (network);
  const float *x;

  if (disco_tensor_get_row_size (input) != first->n_in)
    {
      g_autofree char *shape = disco_tensor_shape_to_string (input);
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                   "layer \"%s\" expects %" G_GSIZE_FORMAT " inputs per sample, got a "
                   "tensor of shape %s", disco_node_get_name (first->node), first->n_in, shape);
      return FALSE;
    }
  if ((x = disco_tensor_read_ops (input, ops, error)) == NULL ||
      !disco_ops_network_begin_batch (network, disco_tensor_get_dim (input, 0), x, error))
    {
      as_disco_error (self, error);
      return FALSE;
    }
  return TRUE;
}

static gboolean
begin_table_batch (DiscoIntegrator *self, DiscoTensor *input, GError **error)
{
  return begin_batch_on (self, self->ops_network, input, error);
}

/* The targets the controller received this tick, checked against B × O. */
static DiscoTensor *
checked_targets (DiscoIntegrator *self, gsize B, gsize O, GError **error)
{
  DiscoTensor *targets = controller_targets (self, error);

  if (targets != NULL &&
      (disco_tensor_get_dim (targets, 0) != B || disco_tensor_get_row_size (targets) != O))
    {
      g_autofree char *text = disco_tensor_shape_to_string (targets);
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                   "controller \"%s\": targets of shape %s for %" G_GSIZE_FORMAT " samples "
                   "of %" G_GSIZE_FORMAT " outputs", disco_node_get_name (self->controller_node),
                   text, B, O);
      return NULL;
    }
  return targets;
}

/* Solves B rows of n_state values in place (the table's memory): on the
 * host table with the compacting solver (finished samples leave the
 * batch: the fastest on a CPU), on a device table in lockstep (finished
 * samples are masked; the host polls every few steps).  Fills the
 * per-sample statistics and the step properties. */
static gboolean
solve_ops (DiscoIntegrator *self, gsize B, gsize n_state, float *state, gboolean closed,
           double *mean_steps, GError **error)
{
  DiscoOdeConfig config;
  gboolean solved;

  if (B > self->stats_capacity)
    {
      g_free (self->stats);
      self->stats = g_new (DiscoOdeSampleStats, B);
      self->stats_capacity = B;
    }
  fill_config (self, &config);
  if (self->ops == disco_ops_cpu ())
    solved = disco_ode_solver_solve (self->solver, &config, B, n_state, state,
                                     closed ? disco_ops_closed_loop_rhs_compact
                                            : disco_ops_network_rhs_compact,
                                     closed ? (gpointer) self->ops_closed_loop
                                            : (gpointer) self->ops_network,
                                     self->stats, error);
  else
    {
      DiscoOdeBatchedInfo info;

      solved = disco_ode_batched_solver_solve (self->batched, &config, 0, B, n_state, state,
                                               closed ? disco_ops_closed_loop_rhs
                                                      : disco_ops_network_rhs,
                                               closed ? (gpointer) self->ops_closed_loop
                                                      : (gpointer) self->ops_network,
                                               self->stats, &info, error);
      /* The polls, and the statistics' download at the end. */
      self->last_host_syncs += info.n_syncs + 1;
      self->last_host_wait_seconds += info.wait_seconds;
    }
  if (!solved)
    {
      as_disco_error (self, error);
      return FALSE;
    }
  *mean_steps = record_step_statistics (self, B);
  return TRUE;
}

/* Every layer's rates (and a microcircuit's inhibitory rates) on its ports
 * from the B × N states in the table's memory, the logits on the readout's
 * "output". */
static gboolean
publish_ops (DiscoIntegrator *self, const float *state, gsize B, DiscoTensor **logits,
             GError **error)
{
  const DiscoOps *ops = self->ops;
  const gsize N = disco_network_get_state_size (self->network);

  for (guint l = 0; l < disco_network_get_n_layers (self->network); l++)
    {
      const DiscoLayerSpec *spec = disco_network_get_layer (self->network, l);
      const gsize offset = disco_network_get_layer_offset (self->network, l);
      gsize shape[2] = { B, spec->n };
      DiscoTensor *out = disco_node_ensure_output (spec->node, "output", 2, shape);
      float *r = disco_tensor_write_ops (out, ops, error);

      if (r == NULL)
        return FALSE;
      if (spec->kind == DISCO_LAYER_READOUT)
        ops->copy_rows (B, spec->n, state + offset, N, r, spec->n);
      else if (spec->kind == DISCO_LAYER_RATE)
        ops->softrect_forward (&spec->phi_e, B, spec->n, state + offset, N, r, spec->n);
      else
        {
          float *r_i = disco_tensor_write_ops (
            disco_node_ensure_output (spec->node, "inhibitory", 2, shape), ops, error);

          if (r_i == NULL)
            return FALSE;
          ops->softrect_forward (&spec->phi_e, B, spec->n, state + offset, N, r, spec->n);
          ops->softrect_forward (&spec->phi_i, B, spec->n, state + offset + spec->n, N, r_i,
                                 spec->n);
        }
      *logits = out;
    }
  return TRUE;
}

/* The closed loop's outputs from its B × (N + O) final states (the table's
 * memory): the network part on "state" (@state), the control and its
 * integral on the controller's ports, every microcircuit's feedback
 * weights on its "feedback-weights". */
static gboolean
publish_closed_loop (DiscoIntegrator *self, const float *closed_loop_state, gsize B,
                     float *state, GError **error)
{
  const DiscoOps *ops = self->ops;
  const gsize N = disco_network_get_state_size (self->network);
  const gsize N_cl = disco_ops_closed_loop_get_state_size (self->ops_closed_loop);
  const gsize O = N_cl - N;
  DiscoNode *controller = self->controller_node;
  gsize c_shape[2] = { B, O };
  float *control, *integral;

  if ((control = disco_tensor_write_ops (disco_node_ensure_output (controller, "output", 2,
                                                                   c_shape), ops,
                                         error)) == NULL ||
      (integral = disco_tensor_write_ops (disco_node_ensure_output (controller, "integral", 2,
                                                                    c_shape), ops,
                                          error)) == NULL)
    return FALSE;
  ops->copy_rows (B, N, closed_loop_state, N_cl, state, N);
  disco_ops_closed_loop_control (self->ops_closed_loop, B, closed_loop_state, control);
  ops->copy_rows (B, O, closed_loop_state + N, N_cl, integral, O);
  for (guint l = 0; l < disco_network_get_n_layers (self->network); l++)
    {
      const float *q = disco_ops_closed_loop_get_feedback (self->ops_closed_loop, l);
      const DiscoLayerSpec *spec = disco_network_get_layer (self->network, l);
      gsize q_shape[3] = { B, O, spec->n };
      float *out;

      if (q == NULL)
        continue;
      out = disco_tensor_write_ops (
        disco_node_ensure_output (spec->node, "feedback-weights", 3, q_shape), ops, error);
      if (out == NULL || !ops->copy (out, q, B * O * spec->n * sizeof (float), error))
        return FALSE;
    }
  return TRUE;
}

/* ----- method = equilibrium ---------------------------------------------------- */

/* A system restricted to some of the minibatch's samples: the solver's row
 * indices (into the subset) are mapped back to the samples' own, which the
 * right-hand sides use to find their first drive, targets and feedback. */
typedef struct
{
  DiscoOdeRhsFunc rhs;
  gpointer system;
  const guint *samples;   /* n: the subset */
  guint *rows;            /* n: scratch */
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
  if ((packed = ops->alloc (n * row_size, error)) == NULL)
    {
      as_disco_error (self, error);
      return FALSE;
    }
  for (gsize i = 0; i < n && solved; i++)
    solved = ops->copy (packed + i * n_state, state + (gsize) samples[i] * n_state, row_size,
                        error);
  fill_config (self, &config);
  solved = solved && disco_ode_solver_solve (self->solver, &config, n, n_state, packed,
                                             subset_rhs, &subset, self->stats, error);
  for (gsize i = 0; i < n && solved; i++)
    solved = ops->copy (state + (gsize) samples[i] * n_state, packed + i * n_state, row_size,
                        error);
  ops->free (packed);
  if (!solved)
    {
      as_disco_error (self, error);
      return FALSE;
    }
  for (gsize i = 0; i < n; i++)
    {
      self->sample_steps[samples[i]] = self->stats[i].n_accepted + self->stats[i].n_rejected;
      self->sample_evaluations[samples[i]] = self->stats[i].n_rhs_evals;
      self->unconverged_rows[samples[i]] |= unconverged_bits (self, &self->stats[i]);
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
static DiscoEquilibrium *
new_equilibrium (DiscoNetwork *network)
{
  const guint n_layers = disco_network_get_n_layers (network);
  g_autofree DiscoOpsLayer *layers = g_new0 (DiscoOpsLayer, n_layers);

  for (guint l = 0; l < n_layers; l++)
    {
      const DiscoLayerSpec *spec = disco_network_get_layer (network, l);

      layers[l] = (DiscoOpsLayer) {
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

/* Lends the layers' weights and biases, in @ops's memory, to the solver. */
static gboolean
set_equilibrium_parameters (DiscoIntegrator *self, const DiscoOps *ops, GError **error)
{
  for (guint l = 0; l < disco_network_get_n_layers (self->network); l++)
    {
      const DiscoLayerSpec *spec = disco_network_get_layer (self->network, l);
      const float *w = disco_tensor_read_ops (spec->weight, ops, error), *b = NULL;

      if (w == NULL ||
          (spec->bias != NULL && (b = disco_tensor_read_ops (spec->bias, ops, error)) == NULL))
        return FALSE;
      disco_equilibrium_set_parameters (self->equilibrium, l, w, b);
    }
  return TRUE;
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
  const float *x;
  gsize n_failed = 0;

  if (disco_tensor_get_row_size (input) != first->n_in)
    {
      g_autofree char *shape = disco_tensor_shape_to_string (input);
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                   "layer \"%s\" expects %" G_GSIZE_FORMAT " inputs per sample, got a "
                   "tensor of shape %s", disco_node_get_name (first->node), first->n_in, shape);
      return FALSE;
    }
  ensure_equilibrium_buffers (self, B);
  if (!set_equilibrium_parameters (self, ops, error) ||
      (x = disco_tensor_read_ops (input, ops, error)) == NULL ||
      !disco_equilibrium_open_loop (self->equilibrium, ops, B, x, open_loop, self->eq_stats,
                                    error))
    {
      as_disco_error (self, error);
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
      if (!self->batch_begun && !begin_table_batch (self, input, error))
        return FALSE;
      self->batch_begun = TRUE;
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
settle_closed_loop_equilibrium (DiscoIntegrator *self, DiscoNode *controller,
                                DiscoTensor *targets, const float *open_loop, gsize B, gsize N,
                                float *state, double *mean_steps, GError **error)
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

  if (!disco_controller_get_spec (controller, &spec) ||
      (t = disco_tensor_read_ops (targets, ops, error)) == NULL)
    {
      if (error != NULL && *error == NULL)
        g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK, "node \"%s\": \"%s\" is not a "
                     "controller", disco_node_get_name (DISCO_NODE (self)),
                     disco_node_get_name (controller));
      return FALSE;
    }
  table_controller = (DiscoOpsController) {
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
  if (!set_equilibrium_parameters (self, ops, error) ||
      !disco_equilibrium_closed_loop (self->equilibrium, &config, &table_controller, t,
                                      feedback, B, state, self->eq_stats, error))
    {
      as_disco_error (self, error);
      return FALSE;
    }

  self->last_max_contraction = 0;
  for (gsize s = 0; s < B; s++)
    {
      self->sample_steps[s] = self->eq_stats[s].iterations;
      self->sample_evaluations[s] = self->eq_stats[s].evaluations;
      self->last_max_contraction = MAX (self->last_max_contraction,
                                        self->eq_stats[s].contraction);
      if (self->eq_stats[s].status != DISCO_EQUILIBRIUM_CONVERGED)
        {
          /* Back to the closed loop's start: open-loop state, zero integral. */
          if (!ops->copy (state + s * N_cl, open_loop + s * N, N * sizeof (float), error))
            {
              as_disco_error (self, error);
              return FALSE;
            }
          ops->fill (N_cl - N, 0.0f, state + s * N_cl + N);
          self->fallback_rows[n_failed++] = s;
        }
    }
  if (n_failed > 0)
    {
      DiscoTensor *input = disco_network_get_input (self->network, error);

      if (!self->batch_begun && (input == NULL || !begin_table_batch (self, input, error)))
        return FALSE;
      self->batch_begun = TRUE;
      if (!solve_subset (self, n_failed, self->fallback_rows, N_cl, state,
                         disco_ops_closed_loop_rhs_compact, self->ops_closed_loop, error))
        return FALSE;
    }
  summarise_samples (self, B, mean_steps, &self->last_closed_loop_evaluations);
  return TRUE;
}

/* ----- both methods --------------------------------------------------------------- */

/* ops_closed_loop_state for B closed-loop states, in the table's memory. */
static gboolean
ensure_closed_loop_state (DiscoIntegrator *self, gsize B, GError **error)
{
  const gsize N_cl = disco_ops_closed_loop_get_state_size (self->ops_closed_loop);

  if (B * N_cl <= self->ops_closed_loop_capacity)
    return TRUE;
  if (self->ops_closed_loop_state != NULL)
    self->ops->free (self->ops_closed_loop_state);
  self->ops_closed_loop_capacity = 0;
  self->ops_closed_loop_state = self->ops->alloc (B * N_cl * sizeof (float), error);
  if (self->ops_closed_loop_state == NULL)
    return FALSE;
  self->ops_closed_loop_capacity = B * N_cl;
  return TRUE;
}

/* The closed loop's start from the open-loop states (B × N in @ops's
 * memory): its feedback weights, and the initial states in @state
 * (B × (N + O), @ops's memory). */
static gboolean
begin_closed_loop_on (DiscoIntegrator *self, const DiscoOps *ops, DiscoOpsClosedLoop *loop,
                      const float *open_loop, gsize B, float *state, GError **error)
{
  const gsize N = disco_network_get_state_size (self->network);
  const gsize O = disco_ops_closed_loop_get_state_size (loop) - N;
  DiscoOpsFeedbackOptions options = { self->feedback_average, self->feedback_clip,
                                      self->feedback_norm };
  DiscoTensor *targets = checked_targets (self, B, O, error);
  const float *t;

  if (targets == NULL || (t = disco_tensor_read_ops (targets, ops, error)) == NULL)
    return FALSE;
  return disco_ops_closed_loop_begin (loop, B, open_loop, t, &options, state, error);
}

/* The equilibrium's closed loop from the open-loop states (B × N, the
 * table's memory): feedback weights and start states from the table's
 * closed loop (as for the ODE), then the closed-loop fixed points; the
 * network part of the result goes to @state (B × N, the table's memory). */
static gboolean
settle_closed_loop (DiscoIntegrator *self, const float *open_loop, gsize B, gsize N,
                    float *state, GError **error)
{
  DiscoNode *controller = self->controller_node;
  DiscoTensor *targets;
  double mean_steps;
  gint64 start;

  if (!ensure_closed_loop_state (self, B, error))
    return FALSE;
  start = g_get_monotonic_time ();
  if (!begin_closed_loop_on (self, self->ops, self->ops_closed_loop, open_loop, B,
                             self->ops_closed_loop_state, error))
    return FALSE;
  self->last_feedback_seconds = (g_get_monotonic_time () - start) / 1e6;
  targets = controller_targets (self, error);
  start = g_get_monotonic_time ();
  if (!settle_closed_loop_equilibrium (self, controller, targets, open_loop, B, N,
                                       self->ops_closed_loop_state, &mean_steps, error))
    return FALSE;
  self->last_closed_loop_seconds = (g_get_monotonic_time () - start) / 1e6;
  self->last_mean_closed_loop_steps = mean_steps;
  return publish_closed_loop (self, self->ops_closed_loop_state, B, state, error);
}

/* Integrates sample @row alone with RK4 on a regular grid from @y (M values,
 * host memory) until it is at rest (the solver's test) or the duration is
 * over, appending every state's network part and control to @rows; the
 * right-hand side is the host table's @network, or its closed loop @loop
 * when M > N. */
static gboolean
record_leg (DiscoIntegrator *self, DiscoOpsNetwork *network, DiscoOpsClosedLoop *loop, gsize M,
            guint row, float *y, double t0, GArray *rows, GArray *times, GError **error)
{
  const gsize N = disco_network_get_state_size (self->network);
  const gsize O = disco_network_get_layer (self->network,
                                           disco_network_get_n_layers (self->network) - 1)->n;
  const gboolean closed = M > N;
  DiscoOdeRhsFunc rhs = closed ? disco_ops_closed_loop_rhs_compact : disco_ops_network_rhs_compact;
  gpointer system = closed ? (gpointer) loop : (gpointer) network;
  const double h = self->record_interval;
  g_autofree float *k = g_new (float, 4 * M);
  g_autofree float *tmp = g_new (float, M);
  g_autofree float *c = g_new0 (float, O);
  const guint max_rows = MIN (self->duration / h, (double) G_MAXINT / 2) + 1;

  for (guint step = 0; step < max_rows; step++)
    {
      double t = step * h, rms_f = 0, rms_y = 0;
      float *k1 = k, *k2 = k + M, *k3 = k + 2 * M, *k4 = k + 3 * M;

      if (closed && !disco_ops_closed_loop_control_compact (loop, 1, &row, y, c, error))
        return FALSE;
      g_array_append_vals (rows, y, N);
      g_array_append_vals (rows, c, O);
      {
        float time = t0 + t;
        g_array_append_val (times, time);
      }
      if (!rhs (system, 1, &row, &t, y, k1, error))
        return FALSE;
      for (gsize i = 0; i < M; i++)
        {
          rms_f += (double) k1[i] * k1[i];
          rms_y += (double) y[i] * y[i];
        }
      if (sqrt (rms_f / M) < self->atol + self->rtol * sqrt (rms_y / M))
        break;
      /* Classic RK4 (the recording only needs to look right, on a grid). */
      for (gsize i = 0; i < M; i++)
        tmp[i] = y[i] + 0.5 * h * k1[i];
      if (!rhs (system, 1, &row, &t, tmp, k2, error))
        return FALSE;
      for (gsize i = 0; i < M; i++)
        tmp[i] = y[i] + 0.5 * h * k2[i];
      if (!rhs (system, 1, &row, &t, tmp, k3, error))
        return FALSE;
      for (gsize i = 0; i < M; i++)
        tmp[i] = y[i] + h * k3[i];
      if (!rhs (system, 1, &row, &t, tmp, k4, error))
        return FALSE;
      for (gsize i = 0; i < M; i++)
        y[i] += h / 6 * (k1[i] + 2 * k2[i] + 2 * k3[i] + k4[i]);
    }
  return TRUE;
}

/* The "trajectory" outputs: how sample record-sample settles, open loop from
 * zero, then (training ticks) closed loop from its open-loop steady state.
 * A diagnostic of one sample, on the host table: the node's own table
 * objects on the CPU (the minibatch and its closed loop already begun),
 * their host twins on a device, begun here from host copies. */
static gboolean
record_trajectory (DiscoIntegrator *self, DiscoTensor *input, gsize B, gboolean closed,
                   GError **error)
{
  DiscoNode *node = DISCO_NODE (self);
  const DiscoOps *host = disco_ops_cpu ();
  const gsize N = disco_network_get_state_size (self->network);
  const gsize O = disco_network_get_layer (self->network,
                                           disco_network_get_n_layers (self->network) - 1)->n;
  const guint row = self->record_sample;
  g_autoptr (GArray) rows = g_array_new (FALSE, FALSE, sizeof (float));
  g_autoptr (GArray) times = g_array_new (FALSE, FALSE, sizeof (float));
  g_autofree float *y = g_new0 (float, N + O);
  const float *open_loop;
  DiscoOpsNetwork *network = self->ops_network;
  DiscoOpsClosedLoop *loop = self->ops_closed_loop;
  gsize shape[2], one[1] = { 1 };
  float ol_rows;

  if ((open_loop = disco_tensor_read_host (disco_node_get_output (node, "open-loop-state"),
                                           error)) == NULL)
    return FALSE;
  if (self->ops != host)
    {
      if (self->record_network == NULL &&
          !make_table_objects (self, host, &self->record_network, &self->record_closed_loop,
                               error))
        return FALSE;
      network = self->record_network;
      loop = self->record_closed_loop;
      if (!set_table_parameters (self, network, host, error) ||
          !begin_batch_on (self, network, input, error))
        return FALSE;
      if (closed)
        {
          g_autofree float *state = g_new (float, B * (N + O));

          if (!begin_closed_loop_on (self, host, loop, open_loop, B, state, error))
            return FALSE;
        }
    }
  else if (!self->batch_begun)
    {
      if (!begin_table_batch (self, input, error))
        return FALSE;
      self->batch_begun = TRUE;
    }
  if (!record_leg (self, network, loop, N, row, y, 0, rows, times, error))
    return FALSE;
  ol_rows = times->len;
  if (closed)
    {
      double t0 = g_array_index (times, float, times->len - 1);

      memcpy (y, open_loop + (gsize) row * N, N * sizeof (float));
      memset (y + N, 0, O * sizeof (float));
      if (!record_leg (self, network, loop, N + O, row, y, t0, rows, times, error))
        return FALSE;
    }
  shape[0] = times->len;
  shape[1] = N + O;
  if (!disco_tensor_set_values (disco_node_ensure_output (node, "trajectory", 2, shape),
                                (const float *) rows->data, rows->len, error) ||
      !disco_tensor_set_values (disco_node_ensure_output (node, "trajectory-times", 1, shape),
                                (const float *) times->data, times->len, error) ||
      !disco_tensor_set_values (disco_node_ensure_output (node, "trajectory-open-loop-rows", 1,
                                                          one), &ol_rows, 1, error))
    return FALSE;
  return TRUE;
}

/* ----- the ODE methods ------------------------------------------------------------ */

/* Feedback weights, the closed-loop solve and its outputs (MODEL.md §5.2–3)
 * from the open-loop states @open_loop (B × N, the table's memory). */
static gboolean
settle_closed_loop_ops (DiscoIntegrator *self, const float *open_loop, gsize B,
                        DiscoTensor **logits, GError **error)
{
  DiscoNode *node = DISCO_NODE (self);
  const DiscoOps *ops = self->ops;
  const gsize N = disco_network_get_state_size (self->network);
  const gsize N_cl = disco_ops_closed_loop_get_state_size (self->ops_closed_loop);
  gsize shape[2] = { B, N };
  float *state;
  double mean_steps;
  gint64 start;

  if (!ensure_closed_loop_state (self, B, error))
    return FALSE;

  /* Queued work: on CUDA this measures the queueing; the closed loop's
   * time then includes the feedback weights'. */
  start = g_get_monotonic_time ();
  if (!begin_closed_loop_on (self, ops, self->ops_closed_loop, open_loop, B,
                             self->ops_closed_loop_state, error))
    return FALSE;
  self->last_feedback_seconds = (g_get_monotonic_time () - start) / 1e6;
  start = g_get_monotonic_time ();
  if (!solve_ops (self, B, N_cl, self->ops_closed_loop_state, TRUE, &mean_steps, error))
    return FALSE;
  self->last_closed_loop_seconds = (g_get_monotonic_time () - start) / 1e6;
  self->last_closed_loop_evaluations = self->last_mean_evaluations;
  self->last_mean_closed_loop_steps = mean_steps;
  self->last_max_contraction = 0;

  if ((state = disco_tensor_write_ops (disco_node_ensure_output (node, "state", 2, shape), ops,
                                       error)) == NULL ||
      !publish_closed_loop (self, self->ops_closed_loop_state, B, state, error))
    return FALSE;
  return publish_ops (self, state, B, logits, error);
}

/* One tick of an ODE method on the node's table: the open loop, and on
 * training ticks with a controller the closed loop (MODEL.md §5.1–3). */
static DiscoFlowReturn
process_ode (DiscoIntegrator *self, DiscoTensor *input, gboolean closed, GError **error)
{
  DiscoNode *node = DISCO_NODE (self);
  const DiscoOps *ops = self->ops;
  const gsize N = disco_network_get_state_size (self->network);
  const gsize B = disco_tensor_get_dim (input, 0);
  gsize state_shape[2] = { B, N }, steps_shape[1] = { B };
  DiscoTensor *logits = NULL;
  float *open_loop, *steps;
  gint64 start;

  if (!begin_table_batch (self, input, error))
    return DISCO_FLOW_ERROR;
  self->batch_begun = TRUE;
  open_loop = disco_tensor_write_ops (
    disco_node_ensure_output (node, "open-loop-state", 2, state_shape), ops, error);
  /* Step counts are the host's: they come with the statistics. */
  steps = disco_tensor_write_host (disco_node_ensure_output (node, "steps", 1, steps_shape),
                                   error);
  if (open_loop == NULL || steps == NULL)
    return DISCO_FLOW_ERROR;

  /* Open loop from the zero state (MODEL.md §2, §5.1). */
  start = g_get_monotonic_time ();
  ops->fill (B * N, 0.0f, open_loop);
  if (!solve_ops (self, B, N, open_loop, FALSE, &self->last_mean_steps, error))
    return DISCO_FLOW_ERROR;
  self->last_open_loop_evaluations = self->last_mean_evaluations;
  for (gsize s = 0; s < B; s++)
    steps[s] = self->stats[s].n_accepted + self->stats[s].n_rejected;
  self->last_open_loop_seconds = (g_get_monotonic_time () - start) / 1e6;
  self->last_feedback_seconds = self->last_closed_loop_seconds = 0;

  if (closed)
    {
      if (!settle_closed_loop_ops (self, open_loop, B, &logits, error))
        return DISCO_FLOW_ERROR;
    }
  else
    {
      /* Validation and test use the open loop only (§5.4). */
      disco_node_set_output (node, "state", disco_node_get_output (node, "open-loop-state"));
      self->last_mean_closed_loop_steps = 0;
      self->last_closed_loop_evaluations = 0;
      self->last_max_contraction = 0;
      if (!publish_ops (self, open_loop, B, &logits, error))
        return DISCO_FLOW_ERROR;
    }
  /* Failures of the work queued since the last solve surface here. */
  if (!ops->check (error))
    return DISCO_FLOW_ERROR;
  self->last_solve_seconds = (g_get_monotonic_time () - start) / 1e6;
  disco_node_set_output (node, "output", logits);
  return DISCO_FLOW_OK;
}

/* One tick of method = equilibrium on the node's table: states, feedback
 * weights and outputs in its memory, as for the ODE methods. */
static DiscoFlowReturn
process_equilibrium (DiscoIntegrator *self, DiscoTensor *input, gboolean closed,
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
  steps = disco_tensor_write_host (disco_node_ensure_output (node, "steps", 1, steps_shape),
                                   error);
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

      if (state == NULL || !settle_closed_loop (self, open_loop, B, N, state, error) ||
          !publish_ops (self, state, B, &logits, error))
        return DISCO_FLOW_ERROR;
    }
  else
    {
      /* Validation and test use the open loop only (§5.4). */
      disco_node_set_output (node, "state", disco_node_get_output (node, "open-loop-state"));
      self->last_mean_closed_loop_steps = 0;
      self->last_closed_loop_evaluations = 0;
      self->last_max_contraction = 0;
      if (!publish_ops (self, open_loop, B, &logits, error))
        return DISCO_FLOW_ERROR;
    }
  /* Failures of the work queued since the last solve surface here. */
  if (!ops->check (error))
    return DISCO_FLOW_ERROR;
  self->last_solve_seconds = (g_get_monotonic_time () - start) / 1e6;
  disco_node_set_output (node, "output", logits);
  return DISCO_FLOW_OK;
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
  if (!ensure_ops_objects (self, ops, error) ||
      !set_table_parameters (self, self->ops_network, ops, error))
    return DISCO_FLOW_ERROR;
  B = disco_tensor_get_dim (input, 0);
  begin_unconverged (self, B);
  self->last_host_syncs = 0;
  self->last_host_wait_seconds = 0;
  operations_at_start = ops->get_operation_count ();
  /* The equilibrium computes its own first drive and needs the table's
   * only for samples it hands to the ODE. */
  self->batch_begun = FALSE;
  flow = self->equilibrium != NULL ? process_equilibrium (self, input, closed, error)
                                   : process_ode (self, input, closed, error);
  if (flow != DISCO_FLOW_OK)
    return flow;
  self->last_operations = ops->get_operation_count () - operations_at_start;
  self->solves++;
  if (!publish_unconverged (self, tick, B, error))
    return DISCO_FLOW_ERROR;
  if (self->record_sample >= 0 && (gsize) self->record_sample < B &&
      !record_trajectory (self, input, B, closed, error))
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
    g_param_spec_double ("duration", "Duration T",
                         "Longest simulated time of one solve (s)",
                         1e-6, 1e6, DEFAULT_DURATION, rw);
  properties[PROP_DT] =
    g_param_spec_double ("dt", "Step", "First step of tsit5, every step of euler and rk4 (s)",
                         1e-9, 1e3, DEFAULT_DT, rw);
  properties[PROP_DT_MIN] =
    g_param_spec_double ("dt-min", "Smallest step", "Smallest step tsit5 may take (s)",
                         1e-12, 1e3, DEFAULT_DT_MIN, rw);
  properties[PROP_DT_MAX] =
    g_param_spec_double ("dt-max", "Largest step", "Largest step tsit5 may take (s)",
                         1e-12, 1e3, DEFAULT_DT_MAX, rw);
  properties[PROP_RTOL] =
    g_param_spec_double ("rtol", "Relative tolerance",
                         "Relative tolerance of the step control and the steady-state test",
                         1e-12, 1.0, DEFAULT_RTOL, rw);
  properties[PROP_ATOL] =
    g_param_spec_double ("atol", "Absolute tolerance",
                         "Absolute tolerance of the step control and the steady-state test",
                         0.0, 1.0, DEFAULT_ATOL, rw);
  properties[PROP_MAX_STEPS] =
    g_param_spec_uint ("max-steps", "Step limit",
                       "Most steps (accepted + rejected) one sample may take per solve",
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
                         "units)", 1e-12, 1e-1, DEFAULT_NEWTON_TOLERANCE, rw);
  properties[PROP_NEWTON_MAX_ITERATIONS] =
    g_param_spec_uint ("newton-max-iterations", "Newton iteration limit",
                       "equilibrium: most closed-loop Newton iterations per sample before it "
                       "is integrated with tsit5 instead", 1, 10000,
                       DEFAULT_NEWTON_MAX_ITERATIONS, rw);
  properties[PROP_CONTRACTION_LIMIT] =
    g_param_spec_double ("contraction-limit", "Contraction limit",
                         "equilibrium: a sample is integrated with tsit5 instead once the "
                         "spectral norm of ∂((k_i/λ + k_p)·e(y(c)))/∂c reaches this at a "
                         "Newton iterate (below 1: the fixed point is unique there; a large "
                         "value disables the check)", 0, 1e6, DEFAULT_CONTRACTION_LIMIT, rw);
  properties[PROP_UNCONVERGED_WARNING] =
    g_param_spec_double ("unconverged-warning", "Unconverged warning",
                         "Warn on stderr, once per epoch and phase, when more than this "
                         "fraction of the samples ended a solve unconverged (max-steps used, or "
                         "not at rest after duration); they are counted on the \"unconverged\" "
                         "output whatever this is (1: never warn)", 0, 1,
                         DEFAULT_UNCONVERGED_WARNING, rw);
  properties[PROP_UNCONVERGED] =
    g_param_spec_uint64 ("unconverged", "Unconverged samples",
                         "Samples that ended a solve unconverged in the current or last run",
                         0, G_MAXUINT64, 0, ro);
  properties[PROP_LAST_OPEN_LOOP_EVALUATIONS] =
    g_param_spec_double ("last-open-loop-evaluations", "Open-loop evaluations",
                         "Mean network evaluations per sample of the last open-loop solve "
                         "(ODE: right-hand sides; equilibrium: passes through the network)",
                         0, G_MAXDOUBLE, 0, ro);
  properties[PROP_LAST_CLOSED_LOOP_EVALUATIONS] =
    g_param_spec_double ("last-closed-loop-evaluations", "Closed-loop evaluations",
                         "Mean network evaluations per sample of the last closed-loop solve "
                         "(ODE: right-hand sides; equilibrium: forward and Jacobian passes; 0 "
                         "when the last tick ran open loop only)", 0, G_MAXDOUBLE, 0, ro);
  properties[PROP_LAST_MAX_CONTRACTION] =
    g_param_spec_double ("last-max-contraction", "Largest contraction",
                         "equilibrium: the largest Lipschitz estimate of c ↦ "
                         "(k_i/λ + k_p)·e(y(c)) seen in the last closed-loop solve (compare "
                         "with contraction-limit)", 0, G_MAXDOUBLE, 0, ro);
  properties[PROP_FALLBACKS] =
    g_param_spec_uint64 ("fallbacks", "Fallbacks",
                         "equilibrium: solves (sample × open or closed loop) handed to tsit5 "
                         "because the fixed point was not found, in the current or last run",
                         0, G_MAXUINT64, 0, ro);
  properties[PROP_LAST_MEAN_CLOSED_LOOP_STEPS] =
    g_param_spec_double ("last-mean-closed-loop-steps", "Mean closed-loop steps",
                         "Mean solver steps per sample of the last closed-loop solve (0 when "
                         "the last tick ran open loop only)", 0, G_MAXDOUBLE, 0, ro);
  properties[PROP_LAST_OPEN_LOOP_SECONDS] =
    g_param_spec_double ("last-open-loop-seconds", "Open-loop time",
                         "Wall time of the last open-loop solve (s)", 0, G_MAXDOUBLE, 0, ro);
  properties[PROP_LAST_FEEDBACK_SECONDS] =
    g_param_spec_double ("last-feedback-seconds", "Feedback time",
                         "Wall time spent on the last feedback weights (s)", 0, G_MAXDOUBLE, 0,
                         ro);
  properties[PROP_LAST_CLOSED_LOOP_SECONDS] =
    g_param_spec_double ("last-closed-loop-seconds", "Closed-loop time",
                         "Wall time of the last closed-loop solve (s)", 0, G_MAXDOUBLE, 0, ro);
  properties[PROP_LAST_MEAN_STEPS] =
    g_param_spec_double ("last-mean-steps", "Mean steps",
                         "Mean solver steps per sample of the last open-loop solve",
                         0, G_MAXDOUBLE, 0, ro);
  properties[PROP_LAST_MAX_STEPS] =
    g_param_spec_uint ("last-max-steps", "Most steps",
                       "Most solver steps of one sample in the last minibatch",
                       0, G_MAXUINT, 0, ro);
  properties[PROP_LAST_MEAN_EVALUATIONS] =
    g_param_spec_double ("last-mean-evaluations", "Mean evaluations",
                         "Mean network evaluations (right-hand sides) per sample in the last "
                         "minibatch", 0, G_MAXDOUBLE, 0, ro);
  properties[PROP_LAST_SOLVE_SECONDS] =
    g_param_spec_double ("last-solve-seconds", "Solve time",
                         "Wall time of the last minibatch's solve (s)", 0, G_MAXDOUBLE, 0, ro);
  properties[PROP_SOLVES] =
    g_param_spec_uint64 ("solves", "Solves", "Minibatches solved in the current or last run",
                         0, G_MAXUINT64, 0, ro);
  properties[PROP_LAST_HOST_SYNCS] =
    g_param_spec_uint ("last-host-syncs", "Host syncs",
                       "Host round trips of the last minibatch's lockstep solves on a device "
                       "(polls of the running count and the step counts' downloads); 0 on the "
                       "host table", 0, G_MAXUINT, 0, ro);
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
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "open-loop-state",
                             DISCO_PORT_FLAG_NONE,
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
