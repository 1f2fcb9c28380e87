/* disco-online-network.c */

/**
 * SECTION:node-online-network
 * @title: online-network
 * @short_description: an E–I network that learns online, in continuous time
 *
 * The network of the paper's student–teacher experiment (Figure 4,
 * MODEL.md §7): layers of excitatory–inhibitory microcircuits driven by a
 * time-varying input x(t), whose weights, biases and feedback weights are
 * part of the ODE state, so that learning runs in the same continuous time
 * as the neurons. For every layer l (h₀ = x, h_l = r^E_l = φ_E(u^E_l)):
 *
 *   τ_E du^E_l/dt = −u^E_l + W_l h_{l−1} + b_l − φ_I(u^I_l)
 *   τ_I du^I_l/dt = −u^I_l + r^E_l − c·Q_l
 *   τ_c dc_int/dt = e − λ·c_int,  e = y*(t) − r^E_L,  c = k_p·e + k_i·c_int
 *   τ_W dW_l/dt = δ_l h_{l−1}ᵀ,  τ_W db_l/dt = δ_l
 *   τ_Q dQ_l/dt = −Q_l + norm · J_l / ‖J_l‖_F
 *
 * with J_l = ∂r^E_L/∂u^E_l · diag(φ_I′(u^I_l)) and the plasticity signal
 * δ_l = (r^E_l − φ̂_I⁻¹) ⊙ φ_E′ of #DiscoOnlineNetwork:rule. The output is
 * the last layer's rate r^E_L.
 *
 * Each tick is one epoch: the `input` samples (T × inputs, on a regular
 * grid) are linearly interpolated, the state is integrated from one sample
 * time to the next with Tsit5 and the PID step-size controller, and the
 * outputs are taken at the sample times. What an epoch does depends on the
 * `target` input:
 *
 * - not linked (a teacher): open loop (c = 0), nothing learns;
 * - linked, in the first #DiscoOnlineNetwork:burn-in-epochs epochs: open
 *   loop while the feedback weights relax toward the Jacobian;
 * - linked, afterwards: first an open-loop pass from a copy of the state
 *   (the open-loop loss 𝓛 = mean_t ‖r^E_L − y*‖²), then the closed loop
 *   with learning, which carries the state on (closed-loop loss and the
 *   control cost 𝓗 = mean_t Σ_l ‖c·Q_l‖²).
 *
 * The reference code evaluates φ_E′ at the rate rather than at the
 * potential and, for the linear-threshold rule, applies φ_E's Taylor line
 * to u^I; #DiscoOnlineNetwork:reference-variant does the same, to match
 * its numbers (MODEL.md §7). Without it the rules are those of MODEL.md §6.
 *
 * Parameters (saved in checkpoints, loadable with `load-parameters`):
 * `weight-l` (n_l × n_{l−1}, normal × init-scale/√n_{l−1}), `bias-l`
 * (n_l, normal × init-scale/√n_l), `feedback-weights-l` (outputs × n_l,
 * the normalised Jacobian at the start) and `state` (u^E, u^I of every
 * layer, then c_int).
 *
 * Ports: inputs `input` (T × inputs), optional `times` (T × 1: the sample
 * times; their spacing overrides #DiscoOnlineNetwork:sample-interval) and
 * optional `target` (T × outputs); outputs `output` (T × outputs, the
 * trajectory that carried the state on: closed loop in training epochs),
 * `open-loop-output` (T × outputs), `open-loop-loss`, `closed-loop-loss`,
 * `control-cost` and `steps` (1 value each; NaN where an epoch has no such
 * value).
 *
 * ## Example pipeline
 * |[
 * [student]
 * node = online-network
 * input = input.signal
 * times = input.times
 * target = teacher.output
 * sizes = 20,2
 * rule = linear-threshold
 * ]|
 */

#include "disco-online-network.h"
#include "disco-layer.h"
#include "disco-nodes.h"
#include "disco-ode.h"

#include <math.h>
#include <string.h>

G_DEFINE_ENUM_TYPE (DiscoOnlineRule, disco_online_rule,
                    G_DEFINE_ENUM_VALUE (DISCO_ONLINE_RULE_NONE, "none"),
                    G_DEFINE_ENUM_VALUE (DISCO_ONLINE_RULE_EXACT_INVERSE, "exact-inverse"),
                    G_DEFINE_ENUM_VALUE (DISCO_ONLINE_RULE_LINEAR_THRESHOLD, "linear-threshold"))

#define MAX_LAYERS 8
#define DEFAULT_SIZES "20,2"
#define DEFAULT_RULE DISCO_ONLINE_RULE_NONE
#define DEFAULT_BURN_IN_EPOCHS 0
#define DEFAULT_REFERENCE_VARIANT FALSE
/* Steps per grid interval the solver may take before giving up. */
#define MAX_STEPS_PER_INTERVAL 10000

typedef enum
{
  MODE_OPEN_LOOP, /* neurons only */
  MODE_BURN_IN,   /* neurons and feedback weights */
  MODE_TRAIN,     /* everything, with the controller on */
} Mode;

struct _DiscoOnlineNetwork
{
  DiscoNode parent_instance;

  /* Properties */
  char *sizes_text;
  char *init_seed_name;
  DiscoOnlineRule rule;
  guint burn_in_epochs;
  gboolean reference_variant;
  float e_scale, e_sharpness, e_shift;
  float i_scale, i_sharpness, i_shift;
  float tau_e, tau_i, tau_c;
  float k_p, k_i, leak;
  float tau_w, tau_q, feedback_norm;
  float threshold_rate;
  float init_scale;
  float sample_interval;
  float rtol, atol, dt_min, dt_max;

  /* Layout, from prepare */
  guint n_layers;
  gsize sizes[MAX_LAYERS + 1]; /* sizes[0]: inputs */
  gsize n_out;
  gsize n_state;
  gsize off_ue[MAX_LAYERS], off_ui[MAX_LAYERS], off_cint;
  gsize off_w[MAX_LAYERS], off_b[MAX_LAYERS], off_q[MAX_LAYERS];
  DiscoSoftRectifier phi_e, phi_i;
  float line_intercept, line_slope; /* φ̂⁻¹(r) = intercept + slope·r */

  /* Work */
  float *y;                    /* the packed state */
  float *y_copy;               /* for the open-loop pass */
  float *x;                    /* interpolated input */
  float *ystar;                /* interpolated target */
  float *c;                    /* control signal */
  float *err;                  /* output error e */
  float *r_e, *r_i, *de, *di;  /* per layer, packed like u^E */
  float *jac;                  /* outputs × n_l, per layer */
  gsize off_units[MAX_LAYERS]; /* offsets into r_e … and n_out × into jac */
  gsize n_units;
  DiscoOdeSolver *solver;

  /* The interval being integrated */
  Mode mode;
  double interval;
  double chunk_start;
  const float *x0, *x1, *ystar0, *ystar1;
  guint64 steps;
};

G_DEFINE_FINAL_TYPE (DiscoOnlineNetwork, disco_online_network, DISCO_TYPE_NODE)
DISCO_NODE_REGISTER_DEFINE (online_network, "online-network", DISCO_TYPE_ONLINE_NETWORK)

enum
{
  PROP_0,
  PROP_SIZES,
  PROP_INIT_SEED_NAME,
  PROP_RULE,
  PROP_BURN_IN_EPOCHS,
  PROP_REFERENCE_VARIANT,
  PROP_FIRST_FLOAT
};

/* Defaults: the student–teacher experiment of MODEL.md §7. */
static const DiscoFloatProperty float_properties[] = {
  DISCO_RECTIFIER_PROPERTIES (DiscoOnlineNetwork, e, E, 5.0, 1.0, 3.0),
  DISCO_RECTIFIER_PROPERTIES (DiscoOnlineNetwork, i, I, 1.0, 1.0, 3.0),
  { "tau-e", "τ_E", "Time constant of the excitatory neurons (s)", 1e-6, 1e3, 0.020,
    G_STRUCT_OFFSET (DiscoOnlineNetwork, tau_e) },
  { "tau-i", "τ_I", "Time constant of the inhibitory interneurons (s)", 1e-6, 1e3, 0.005,
    G_STRUCT_OFFSET (DiscoOnlineNetwork, tau_i) },
  { "tau-c", "τ_c", "Time constant of the controller's integral (s)", 1e-6, 1e3, 0.1,
    G_STRUCT_OFFSET (DiscoOnlineNetwork, tau_c) },
  { "k-p", "k_p", "Proportional gain of the controller", 0.0, 1e6, 30.0,
    G_STRUCT_OFFSET (DiscoOnlineNetwork, k_p) },
  { "k-i", "k_i", "Integral gain of the controller", 0.0, 1e6, 15.0,
    G_STRUCT_OFFSET (DiscoOnlineNetwork, k_i) },
  { "leak", "λ", "Leak of the controller's integral", 0.0, 1e6, 0.5,
    G_STRUCT_OFFSET (DiscoOnlineNetwork, leak) },
  { "tau-w", "τ_W", "Time constant of plasticity: dW/dt = δ·preᵀ/τ_W (s)", 1e-6, 1e9, 60.0,
    G_STRUCT_OFFSET (DiscoOnlineNetwork, tau_w) },
  { "tau-q", "τ_Q", "Time constant with which the feedback weights follow the Jacobian (s)", 1e-6,
    1e9, 30.0, G_STRUCT_OFFSET (DiscoOnlineNetwork, tau_q) },
  { "feedback-norm", "Feedback norm",
    "Frobenius norm of each layer's normalised Jacobian, the feedback weights' goal", 1e-6, 1e6,
    7.5, G_STRUCT_OFFSET (DiscoOnlineNetwork, feedback_norm) },
  { "threshold-rate", "Threshold rate y₀",
    "Rate around which the linear-threshold rule linearises the inverse", 1e-6, 1e6, 0.5,
    G_STRUCT_OFFSET (DiscoOnlineNetwork, threshold_rate) },
  { "init-scale", "Initial weight scale",
    "Initial weights are normal × init-scale/√fan-in, biases normal × init-scale/√units", 0.0, 1e3,
    2.0, G_STRUCT_OFFSET (DiscoOnlineNetwork, init_scale) },
  { "sample-interval", "Sample interval",
    "Spacing of the input samples (s), when `times` is not linked", 1e-9, 1e3, 0.001,
    G_STRUCT_OFFSET (DiscoOnlineNetwork, sample_interval) },
  { "rtol", "Relative tolerance", "Relative tolerance of the step-size controller", 1e-12, 1.0,
    1e-3, G_STRUCT_OFFSET (DiscoOnlineNetwork, rtol) },
  { "atol", "Absolute tolerance", "Absolute tolerance of the step-size controller", 1e-12, 1.0,
    1e-6, G_STRUCT_OFFSET (DiscoOnlineNetwork, atol) },
  { "dt-min", "Smallest step", "Smallest step the controller may take (s)", 1e-12, 1e3, 1e-4,
    G_STRUCT_OFFSET (DiscoOnlineNetwork, dt_min) },
  { "dt-max", "Largest step", "Largest step the controller may take (s)", 1e-12, 1e3, 1e-2,
    G_STRUCT_OFFSET (DiscoOnlineNetwork, dt_max) },
};

static void
free_work (DiscoOnlineNetwork *self)
{
  g_clear_pointer (&self->y, g_free);
  g_clear_pointer (&self->y_copy, g_free);
  g_clear_pointer (&self->x, g_free);
  g_clear_pointer (&self->ystar, g_free);
  g_clear_pointer (&self->c, g_free);
  g_clear_pointer (&self->err, g_free);
  g_clear_pointer (&self->r_e, g_free);
  g_clear_pointer (&self->r_i, g_free);
  g_clear_pointer (&self->de, g_free);
  g_clear_pointer (&self->di, g_free);
  g_clear_pointer (&self->jac, g_free);
  g_clear_pointer (&self->solver, disco_ode_solver_free);
}

static void
disco_online_network_finalize (GObject *object)
{
  DiscoOnlineNetwork *self = DISCO_ONLINE_NETWORK (object);

  free_work (self);
  g_free (self->sizes_text);
  g_free (self->init_seed_name);
  G_OBJECT_CLASS (disco_online_network_parent_class)->finalize (object);
}

static void
disco_online_network_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DiscoOnlineNetwork *self = DISCO_ONLINE_NETWORK (object);

  if (disco_layer_get_float_property (self, prop_id, PROP_FIRST_FLOAT, float_properties,
                                      G_N_ELEMENTS (float_properties), value))
    return;
  switch (prop_id)
    {
    case PROP_SIZES: g_value_set_string (value, self->sizes_text); break;
    case PROP_INIT_SEED_NAME: g_value_set_string (value, self->init_seed_name); break;
    case PROP_RULE: g_value_set_enum (value, self->rule); break;
    case PROP_BURN_IN_EPOCHS: g_value_set_uint (value, self->burn_in_epochs); break;
    case PROP_REFERENCE_VARIANT: g_value_set_boolean (value, self->reference_variant); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
disco_online_network_set_property (GObject *object, guint prop_id, const GValue *value,
                                   GParamSpec *pspec)
{
  DiscoOnlineNetwork *self = DISCO_ONLINE_NETWORK (object);

  if (disco_layer_set_float_property (self, prop_id, PROP_FIRST_FLOAT, float_properties,
                                      G_N_ELEMENTS (float_properties), value))
    return;
  switch (prop_id)
    {
    case PROP_SIZES:
      g_free (self->sizes_text);
      self->sizes_text = g_value_dup_string (value);
      break;
    case PROP_INIT_SEED_NAME:
      g_free (self->init_seed_name);
      self->init_seed_name = g_value_dup_string (value);
      break;
    case PROP_RULE: self->rule = g_value_get_enum (value); break;
    case PROP_BURN_IN_EPOCHS: self->burn_in_epochs = g_value_get_uint (value); break;
    case PROP_REFERENCE_VARIANT: self->reference_variant = g_value_get_boolean (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

/* ------------------------------------------------------------------------
 * The right-hand side
 */

/* Rates and slopes of every layer at state @y and input @x. */
static void
forward (DiscoOnlineNetwork *self, const float *y)
{
  for (guint l = 0; l < self->n_layers; l++)
    {
      gsize n = self->sizes[l + 1], o = self->off_units[l];
      const float *ue = y + self->off_ue[l], *ui = y + self->off_ui[l];

      for (gsize j = 0; j < n; j++)
        {
          self->r_e[o + j] = disco_softrect_forward (&self->phi_e, ue[j]);
          self->r_i[o + j] = disco_softrect_forward (&self->phi_i, ui[j]);
          self->de[o + j] = disco_softrect_derivative (&self->phi_e, ue[j]);
          self->di[o + j] = disco_softrect_derivative (&self->phi_i, ui[j]);
        }
    }
}

static const float *
layer_input (DiscoOnlineNetwork *self, guint l, const float *x)
{
  return l == 0 ? x : self->r_e + self->off_units[l - 1];
}

/* c = k_p·e + k_i·c_int with e = y* − r^E_L; also writes e into @error_out
 * when given. */
static void
control_signal (DiscoOnlineNetwork *self, const float *y, const float *ystar, float *error_out)
{
  const float *out = self->r_e + self->off_units[self->n_layers - 1];
  const float *c_int = y + self->off_cint;

  for (gsize o = 0; o < self->n_out; o++)
    {
      float e = ystar[o] - out[o];

      if (error_out != NULL)
        error_out[o] = e;
      self->c[o] = self->k_p * e + self->k_i * c_int[o];
    }
}

/* Σ_o c_o Q[o, j], the top-down input to interneuron j. */
static inline float
top_down (const float *c, const float *q, gsize n_out, gsize n, gsize j)
{
  float f = 0.0f;

  for (gsize o = 0; o < n_out; o++)
    f += c[o] * q[o * n + j];
  return f;
}

/* The normalised Jacobians J_l into self->jac (see the section comment). */
static void
normalised_jacobians (DiscoOnlineNetwork *self, const float *y)
{
  gsize n_out = self->n_out;

  for (gint l = (gint) self->n_layers - 1; l >= 0; l--)
    {
      gsize n = self->sizes[l + 1], o_units = self->off_units[l];
      float *g = self->jac + n_out * o_units;

      if ((guint) l == self->n_layers - 1)
        {
          /* ∂r^E_L/∂u^E_L = diag(φ_E′(u^E_L)) */
          for (gsize o = 0; o < n_out; o++)
            for (gsize j = 0; j < n; j++)
              g[o * n + j] = o == j ? self->de[o_units + j] : 0.0f;
        }
      else
        {
          /* G_l = G_{l+1} W_{l+1} diag(φ_E′(u^E_l)); the unscaled G_{l+1}
           * was kept in place until now (scaled below, after use). */
          gsize n_above = self->sizes[l + 2];
          const float *g_above = self->jac + n_out * self->off_units[l + 1];
          const float *w_above = y + self->off_w[l + 1]; /* n_above × n */

          for (gsize o = 0; o < n_out; o++)
            for (gsize j = 0; j < n; j++)
              {
                float s = 0.0f;

                for (gsize k = 0; k < n_above; k++)
                  s += g_above[o * n_above + k] * w_above[k * n + j];
                g[o * n + j] = s * self->de[o_units + j];
              }
        }
    }

  /* J_l = G_l diag(φ_I′(u^I_l)), scaled to the norm. */
  for (guint l = 0; l < self->n_layers; l++)
    {
      gsize n = self->sizes[l + 1], o_units = self->off_units[l];
      float *g = self->jac + n_out * o_units;
      double sum_squares = 0.0;
      float scale;

      for (gsize o = 0; o < n_out; o++)
        for (gsize j = 0; j < n; j++)
          {
            g[o * n + j] *= self->di[o_units + j];
            sum_squares += (double) g[o * n + j] * g[o * n + j];
          }
      scale = sum_squares > 0.0 ? (float) (self->feedback_norm / sqrt (sum_squares)) : 0.0f;
      for (gsize i = 0; i < n_out * n; i++)
        g[i] *= scale;
    }
}

static gboolean
online_rhs (gpointer data, gsize n_active, const guint *rows, const double *t, const float *y,
            float *dydt, GError **error)
{
  DiscoOnlineNetwork *self = data;
  gsize n_out = self->n_out;
  float s = (float) ((t[0] - self->chunk_start) / self->interval);
  gboolean control = self->mode == MODE_TRAIN;

  s = CLAMP (s, 0.0f, 1.0f);
  for (gsize i = 0; i < self->sizes[0]; i++)
    self->x[i] = self->x0[i] + s * (self->x1[i] - self->x0[i]);
  memset (dydt, 0, self->n_state * sizeof (float));
  forward (self, y);

  if (control)
    {
      float *dc = dydt + self->off_cint;
      const float *c_int = y + self->off_cint;

      for (gsize o = 0; o < n_out; o++)
        self->ystar[o] = self->ystar0[o] + s * (self->ystar1[o] - self->ystar0[o]);
      control_signal (self, y, self->ystar, self->err);
      for (gsize o = 0; o < n_out; o++)
        dc[o] = (self->err[o] - self->leak * c_int[o]) / self->tau_c;
    }

  for (guint l = 0; l < self->n_layers; l++)
    {
      gsize n = self->sizes[l + 1], n_in = self->sizes[l], ou = self->off_units[l];
      const float *h = layer_input (self, l, self->x);
      const float *w = y + self->off_w[l], *b = y + self->off_b[l], *q = y + self->off_q[l];
      const float *ue = y + self->off_ue[l], *ui = y + self->off_ui[l];
      float *due = dydt + self->off_ue[l], *dui = dydt + self->off_ui[l];

      for (gsize j = 0; j < n; j++)
        {
          float drive = b[j];

          for (gsize i = 0; i < n_in; i++)
            drive += w[j * n_in + i] * h[i];
          due[j] = (-ue[j] + drive - self->r_i[ou + j]) / self->tau_e;
          dui[j] =
              (-ui[j] + self->r_e[ou + j] - (control ? top_down (self->c, q, n_out, n, j) : 0.0f))
              / self->tau_i;
        }
    }

  if (self->mode != MODE_OPEN_LOOP)
    {
      normalised_jacobians (self, y);
      for (guint l = 0; l < self->n_layers; l++)
        {
          gsize size = n_out * self->sizes[l + 1];
          const float *q = y + self->off_q[l], *jac = self->jac + n_out * self->off_units[l];
          float *dq = dydt + self->off_q[l];

          for (gsize i = 0; i < size; i++)
            dq[i] = (jac[i] - q[i]) / self->tau_q;
        }
    }

  if (control && self->rule != DISCO_ONLINE_RULE_NONE)
    {
      for (guint l = 0; l < self->n_layers; l++)
        {
          gsize n = self->sizes[l + 1], n_in = self->sizes[l], ou = self->off_units[l];
          const float *h = layer_input (self, l, self->x);
          const float *ui = y + self->off_ui[l];
          float *dw = dydt + self->off_w[l], *db = dydt + self->off_b[l];

          for (gsize j = 0; j < n; j++)
            {
              float r_e = self->r_e[ou + j], estimate, slope, delta;

              if (self->reference_variant)
                {
                  estimate = self->rule == DISCO_ONLINE_RULE_EXACT_INVERSE
                                 ? ui[j]
                                 : self->line_intercept + self->line_slope * ui[j];
                  slope = disco_softrect_derivative (&self->phi_e, r_e);
                }
              else
                {
                  estimate = self->rule == DISCO_ONLINE_RULE_EXACT_INVERSE
                                 ? ui[j]
                                 : self->line_intercept + self->line_slope * self->r_i[ou + j];
                  slope = self->de[ou + j];
                }
              delta = (r_e - estimate) * slope / self->tau_w;
              db[j] = delta;
              for (gsize i = 0; i < n_in; i++)
                dw[j * n_in + i] = delta * h[i];
            }
        }
    }
  return TRUE;
}

/* ------------------------------------------------------------------------
 * Parameters
 */

/* An existing parameter of the right shape (loaded, restored from a
 * checkpoint, or from an earlier run) is kept; else a fresh one of normal
 * values × @std, from the seed of the node (or of init-seed-name) and the
 * parameter's name. */
static DiscoTensor *
ensure_parameter (DiscoNode *node, const char *name, guint n_dims, const gsize *shape, double std,
                  gboolean *created, GError **error)
{
  const char *seed_name = DISCO_ONLINE_NETWORK (node)->init_seed_name;
  DiscoTensor *tensor = disco_node_get_parameter (node, name);
  g_autoptr (DiscoTensor) fresh = NULL;
  float *values;

  if (tensor != NULL && disco_tensor_has_shape (tensor, n_dims, shape))
    return tensor;
  *created = TRUE;
  fresh = disco_tensor_new (n_dims, shape);
  values = disco_tensor_write_host (fresh, error);
  if (values == NULL)
    return NULL;
  if (std > 0.0)
    {
      guint64 seed = seed_name != NULL && *seed_name != '\0'
                         ? disco_node_get_seed_for_name (node, seed_name)
                         : disco_node_get_seed (node);
      g_autoptr (GRand) rand = disco_rand_new_for_stream (seed, name);

      for (gsize i = 0; i < disco_tensor_get_n_elements (fresh); i++)
        values[i] = (float) (disco_rand_standard_normal (rand) * std);
    }
  disco_node_add_parameter (node, name, fresh);
  return fresh;
}

/* Copies between the packed state and the parameter tensors. */
static gboolean
exchange_parameters (DiscoOnlineNetwork *self, gboolean to_state, gboolean *fresh_feedback,
                     GError **error)
{
  DiscoNode *node = DISCO_NODE (self);
  gboolean created = FALSE;
  gsize state_shape[1] = { self->off_cint + self->n_out };
  DiscoTensor *state = ensure_parameter (node, "state", 1, state_shape, 0.0, &created, error);

  if (state == NULL)
    return FALSE;

  if (to_state)
    {
      const float *values = disco_tensor_read_host (state, error);
      if (values == NULL)
        return FALSE;
      memcpy (self->y, values, state_shape[0] * sizeof (float));
    }
  else
    {
      float *values = disco_tensor_write_host (state, error);
      if (values == NULL)
        return FALSE;
      memcpy (values, self->y, state_shape[0] * sizeof (float));
    }

  for (guint l = 0; l < self->n_layers; l++)
    {
      gsize n = self->sizes[l + 1], n_in = self->sizes[l];
      g_autofree char *w_name = g_strdup_printf ("weight-%u", l + 1);
      g_autofree char *b_name = g_strdup_printf ("bias-%u", l + 1);
      g_autofree char *q_name = g_strdup_printf ("feedback-weights-%u", l + 1);
      gsize w_shape[2] = { n, n_in }, b_shape[1] = { n }, q_shape[2] = { self->n_out, n };
      struct
      {
        DiscoTensor *tensor;
        gsize offset;
      } parts[3];
      gboolean q_created = FALSE;

      parts[0].tensor = ensure_parameter (node, w_name, 2, w_shape,
                                          self->init_scale / sqrt ((double) n_in), &created, error);
      parts[0].offset = self->off_w[l];
      parts[1].tensor = ensure_parameter (node, b_name, 1, b_shape,
                                          self->init_scale / sqrt ((double) n), &created, error);
      parts[1].offset = self->off_b[l];
      parts[2].tensor = ensure_parameter (node, q_name, 2, q_shape, 0.0, &q_created, error);
      parts[2].offset = self->off_q[l];
      if (parts[0].tensor == NULL || parts[1].tensor == NULL || parts[2].tensor == NULL)
        return FALSE;
      if (q_created && fresh_feedback != NULL)
        *fresh_feedback = TRUE;

      for (guint p = 0; p < 3; p++)
        {
          gsize size = disco_tensor_get_n_elements (parts[p].tensor) * sizeof (float);

          if (to_state)
            {
              const float *values = disco_tensor_read_host (parts[p].tensor, error);
              if (values == NULL)
                return FALSE;
              memcpy (self->y + parts[p].offset, values, size);
            }
          else
            {
              float *values = disco_tensor_write_host (parts[p].tensor, error);
              if (values == NULL)
                return FALSE;
              memcpy (values, self->y + parts[p].offset, size);
            }
        }
    }
  return TRUE;
}

/* Loads the packed state from the parameters; feedback weights made just
 * now start at the normalised Jacobian of the current state. */
static gboolean
load_state (DiscoOnlineNetwork *self, GError **error)
{
  gboolean fresh_feedback = FALSE;

  if (!exchange_parameters (self, TRUE, &fresh_feedback, error))
    return FALSE;
  if (fresh_feedback)
    {
      forward (self, self->y);
      normalised_jacobians (self, self->y);
      for (guint l = 0; l < self->n_layers; l++)
        memcpy (self->y + self->off_q[l], self->jac + self->n_out * self->off_units[l],
                self->n_out * self->sizes[l + 1] * sizeof (float));
      return exchange_parameters (self, FALSE, NULL, error);
    }
  return TRUE;
}

/* ------------------------------------------------------------------------
 * Prepare
 */

static gboolean
parse_sizes (DiscoOnlineNetwork *self, GError **error)
{
  g_auto (GStrv) parts = g_strsplit (self->sizes_text != NULL ? self->sizes_text : "", ",", -1);
  guint n = g_strv_length (parts);

  if (n < 1 || n > MAX_LAYERS)
    goto bad;
  for (guint i = 0; i < n; i++)
    {
      guint64 size;

      if (!g_ascii_string_to_unsigned (g_strstrip (parts[i]), 10, 1, 1 << 16, &size, NULL))
        goto bad;
      self->sizes[i + 1] = size;
    }
  self->n_layers = n;
  return TRUE;

bad:
  g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
               "property \"sizes\" of node \"%s\": \"%s\" is not a list of 1 to %d layer "
               "sizes (1 … 65536) such as \"20,2\"",
               disco_node_get_name (DISCO_NODE (self)),
               self->sizes_text != NULL ? self->sizes_text : "", MAX_LAYERS);
  return FALSE;
}

/* Checks that input @port was declared T × @columns, with T = @rows
 * unless @rows is 0; its T goes to @rows_out. */
static gboolean
check_declared (DiscoNode *node, const char *port, gsize columns, gsize rows, gsize *rows_out,
                GError **error)
{
  guint n_dims = 0;
  const gsize *shape = disco_node_get_input_declared_shape (node, port, &n_dims);
  const char *producer_port = NULL;
  DiscoNode *producer = disco_node_get_input_node (node, port, &producer_port);

  if (shape != NULL && n_dims == 2 && shape[0] > 0 && (columns == 0 || shape[1] == columns)
      && (rows == 0 || shape[0] == rows))
    {
      if (rows_out != NULL)
        *rows_out = shape[0];
      return TRUE;
    }
  g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
               "node \"%s\": input \"%s\" (from \"%s.%s\") must be declared as samples × "
               "%s%s, one row per sample time",
               disco_node_get_name (node), port, producer ? disco_node_get_name (producer) : "?",
               producer_port ? producer_port : "?",
               columns > 0 ? (columns == 1 ? "1" : "outputs") : "inputs",
               rows > 0 ? ", as many rows as \"input\"" : "");
  return FALSE;
}

static gboolean
disco_online_network_prepare (DiscoNode *node, GError **error)
{
  DiscoOnlineNetwork *self = DISCO_ONLINE_NETWORK (node);
  gsize T = 0, offset = 0, units = 0, traj_shape[2], scalar_shape[1] = { 1 };
  guint n_dims;

  if (!parse_sizes (self, error) || !check_declared (node, "input", 0, 0, &T, error))
    return FALSE;
  self->sizes[0] = disco_node_get_input_declared_shape (node, "input", &n_dims)[1];
  self->n_out = self->sizes[self->n_layers];
  if (disco_node_is_linked (node, "target")
      && !check_declared (node, "target", self->n_out, T, NULL, error))
    return FALSE;
  if (disco_node_is_linked (node, "times") && !check_declared (node, "times", 1, T, NULL, error))
    return FALSE;
  if (self->dt_max < self->dt_min)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "node \"%s\": dt-max (%g s) is below dt-min (%g s)", disco_node_get_name (node),
                   self->dt_max, self->dt_min);
      return FALSE;
    }

  self->phi_e = (DiscoSoftRectifier){ self->e_scale, self->e_sharpness, self->e_shift };
  self->phi_i = (DiscoSoftRectifier){ self->i_scale, self->i_sharpness, self->i_shift };
  disco_softrect_taylor_line (self->reference_variant ? &self->phi_e : &self->phi_i,
                              self->threshold_rate, &self->line_intercept, &self->line_slope);

  for (guint l = 0; l < self->n_layers; l++)
    {
      self->off_ue[l] = offset;
      offset += self->sizes[l + 1];
      self->off_ui[l] = offset;
      offset += self->sizes[l + 1];
      self->off_units[l] = units;
      units += self->sizes[l + 1];
    }
  self->off_cint = offset;
  offset += self->n_out;
  for (guint l = 0; l < self->n_layers; l++)
    {
      self->off_w[l] = offset;
      offset += self->sizes[l + 1] * self->sizes[l];
      self->off_b[l] = offset;
      offset += self->sizes[l + 1];
    }
  for (guint l = 0; l < self->n_layers; l++)
    {
      self->off_q[l] = offset;
      offset += self->n_out * self->sizes[l + 1];
    }
  self->n_state = offset;
  self->n_units = units;

  free_work (self);
  /* The packed state holds every weight: sized by "sizes", so checked. */
  self->y = g_try_new0 (float, self->n_state);
  self->y_copy = g_try_new0 (float, self->n_state);
  if (self->y == NULL || self->y_copy == NULL)
    {
      g_autofree char *size =
          g_format_size_full (2 * self->n_state * sizeof (float), G_FORMAT_SIZE_IEC_UNITS);
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_MEMORY,
                   "node \"%s\": cannot allocate %s for the state of sizes \"%s\": out of "
                   "memory",
                   disco_node_get_name (node), size, self->sizes_text);
      return FALSE;
    }
  self->x = g_new0 (float, self->sizes[0]);
  self->ystar = g_new0 (float, self->n_out);
  self->c = g_new0 (float, self->n_out);
  self->err = g_new0 (float, self->n_out);
  self->r_e = g_new0 (float, units);
  self->r_i = g_new0 (float, units);
  self->de = g_new0 (float, units);
  self->di = g_new0 (float, units);
  self->jac = g_new0 (float, units * self->n_out);
  self->solver = disco_ode_solver_new ();

  if (!load_state (self, error))
    return FALSE;

  traj_shape[0] = T;
  traj_shape[1] = self->n_out;
  disco_node_declare_output (node, "output", 2, traj_shape);
  disco_node_declare_output (node, "open-loop-output", 2, traj_shape);
  disco_node_declare_output (node, "open-loop-loss", 1, scalar_shape);
  disco_node_declare_output (node, "closed-loop-loss", 1, scalar_shape);
  disco_node_declare_output (node, "control-cost", 1, scalar_shape);
  disco_node_declare_output (node, "steps", 1, scalar_shape);
  return TRUE;
}

static gboolean
disco_online_network_resume (DiscoNode *node, guint epoch, GError **error)
{
  /* The parameters, state included, were restored from the checkpoint. */
  return load_state (DISCO_ONLINE_NETWORK (node), error);
}

/* ------------------------------------------------------------------------
 * One epoch
 */

typedef struct
{
  double squared_error; /* Σ_t ‖r^E_L − y*‖² */
  double control_cost;  /* Σ_t Σ_l ‖c·Q_l‖² */
} Sums;

/* Integrates @y through the T samples of @signal in @mode, writing the
 * output at every sample time into @trajectory and adding up the losses. */
static gboolean
run_epoch (DiscoOnlineNetwork *self, Mode mode, float *y, const float *signal, const float *target,
           gsize T, float *trajectory, Sums *sums, GError **error)
{
  gsize n_in = self->sizes[0], n_out = self->n_out;
  const float *out = self->r_e + self->off_units[self->n_layers - 1];
  DiscoOdeConfig config;

  disco_ode_config_init (&config);
  config.method = DISCO_ODE_METHOD_TSIT5;
  config.rtol = self->rtol;
  config.atol = self->atol;
  config.dtmin = self->dt_min;
  config.dtmax = self->dt_max;
  config.dt0 = self->interval;
  config.max_steps = MAX_STEPS_PER_INTERVAL;
  config.steady_state_stop = FALSE;

  memset (sums, 0, sizeof *sums);
  self->mode = mode;
  for (gsize k = 0; k < T; k++)
    {
      /* The output at sample time t_k, before stepping on. */
      gsize next = k + 1 < T ? k + 1 : k;
      DiscoOdeSampleStats stats;

      forward (self, y);
      memcpy (trajectory + k * n_out, out, n_out * sizeof (float));
      if (target != NULL)
        for (gsize o = 0; o < n_out; o++)
          {
            double d = (double) out[o] - target[k * n_out + o];
            sums->squared_error += d * d;
          }
      if (mode == MODE_TRAIN)
        {
          control_signal (self, y, target + k * n_out, NULL);
          for (guint l = 0; l < self->n_layers; l++)
            {
              gsize n = self->sizes[l + 1];
              const float *q = y + self->off_q[l];

              for (gsize j = 0; j < n; j++)
                {
                  double f = top_down (self->c, q, n_out, n, j);
                  sums->control_cost += f * f;
                }
            }
        }

      /* The last interval holds the last sample: the next epoch's first
       * sample is not known yet. */
      self->chunk_start = (double) k * self->interval;
      self->x0 = signal + k * n_in;
      self->x1 = signal + next * n_in;
      if (target != NULL)
        {
          self->ystar0 = target + k * n_out;
          self->ystar1 = target + next * n_out;
        }
      config.t0 = self->chunk_start;
      config.t1 = self->chunk_start + self->interval;
      if (!disco_ode_solver_solve (self->solver, &config, 1, self->n_state, y, online_rhs, self,
                                   &stats, error))
        return FALSE;
      self->steps += stats.n_accepted + stats.n_rejected;
      if (stats.status == DISCO_ODE_STATUS_MAX_STEPS)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_NUMERIC,
                       "node \"%s\": the solver needed more than %u steps for the interval "
                       "at t = %g s of the epoch; lower dt-min or loosen rtol/atol",
                       disco_node_get_name (DISCO_NODE (self)), config.max_steps,
                       self->chunk_start);
          return FALSE;
        }
    }
  for (gsize i = 0; i < self->n_state; i++)
    if (!isfinite (y[i]))
      {
        g_set_error (error, DISCO_ERROR, DISCO_ERROR_NUMERIC,
                     "node \"%s\": the state is no longer finite after this epoch "
                     "(a gain or learning rate too large?)",
                     disco_node_get_name (DISCO_NODE (self)));
        return FALSE;
      }
  return TRUE;
}

static gboolean
set_scalar (DiscoNode *node, const char *port, double value, GError **error)
{
  gsize shape[1] = { 1 };
  float *out = disco_tensor_write_host (disco_node_ensure_output (node, port, 1, shape), error);

  if (out == NULL)
    return FALSE;
  out[0] = (float) value;
  return TRUE;
}

static DiscoFlowReturn
disco_online_network_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  DiscoOnlineNetwork *self = DISCO_ONLINE_NETWORK (node);
  DiscoTensor *input = disco_node_get_input (node, "input");
  DiscoTensor *target_tensor = disco_node_get_input (node, "target");
  DiscoTensor *times_tensor = disco_node_get_input (node, "times");
  guint n_dims = 0;
  const gsize *in_shape = disco_tensor_get_shape (input, &n_dims);
  gsize T = in_shape[0], n_out = self->n_out;
  gsize traj_shape[2] = { T, n_out };
  const float *signal, *target = NULL;
  float *output, *open_loop;
  double open_loop_loss = NAN, closed_loop_loss = NAN, control_cost = NAN;
  Sums sums;

  if (n_dims != 2 || in_shape[1] != self->sizes[0])
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                   "node \"%s\": input \"input\" changed shape; it must stay T × %" G_GSIZE_FORMAT,
                   disco_node_get_name (node), self->sizes[0]);
      return DISCO_FLOW_ERROR;
    }
  signal = disco_tensor_read_host (input, error);
  if (signal == NULL)
    return DISCO_FLOW_ERROR;
  if (target_tensor != NULL)
    {
      if (!disco_tensor_has_shape (target_tensor, 2, traj_shape))
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                       "node \"%s\": input \"target\" must be %" G_GSIZE_FORMAT
                       " × %" G_GSIZE_FORMAT ", like the input's samples × the outputs",
                       disco_node_get_name (node), T, n_out);
          return DISCO_FLOW_ERROR;
        }
      target = disco_tensor_read_host (target_tensor, error);
      if (target == NULL)
        return DISCO_FLOW_ERROR;
    }
  self->interval = self->sample_interval;
  if (times_tensor != NULL && T >= 2)
    {
      const float *times = disco_tensor_read_host (times_tensor, error);
      if (times == NULL)
        return DISCO_FLOW_ERROR;
      /* Differences of float32 times lose digits late in a run; the
       * spacing over the whole epoch keeps them. */
      self->interval = ((double) times[T - 1] - times[0]) / (double) (T - 1);
      if (!(self->interval > 0.0) || !isfinite (self->interval))
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                       "node \"%s\": input \"times\" does not increase (from %g to %g s)",
                       disco_node_get_name (node), times[0], times[T - 1]);
          return DISCO_FLOW_ERROR;
        }
    }

  output =
      disco_tensor_write_host (disco_node_ensure_output (node, "output", 2, traj_shape), error);
  open_loop = disco_tensor_write_host (
      disco_node_ensure_output (node, "open-loop-output", 2, traj_shape), error);
  if (output == NULL || open_loop == NULL)
    return DISCO_FLOW_ERROR;
  self->steps = 0;

  if (target == NULL)
    {
      if (!run_epoch (self, MODE_OPEN_LOOP, self->y, signal, NULL, T, output, &sums, error))
        return DISCO_FLOW_ERROR;
      memcpy (open_loop, output, T * n_out * sizeof (float));
    }
  else if (tick->epoch <= self->burn_in_epochs)
    {
      if (!run_epoch (self, MODE_BURN_IN, self->y, signal, target, T, output, &sums, error))
        return DISCO_FLOW_ERROR;
      memcpy (open_loop, output, T * n_out * sizeof (float));
      open_loop_loss = sums.squared_error / T;
    }
  else
    {
      memcpy (self->y_copy, self->y, self->n_state * sizeof (float));
      if (!run_epoch (self, MODE_OPEN_LOOP, self->y_copy, signal, target, T, open_loop, &sums,
                      error))
        return DISCO_FLOW_ERROR;
      open_loop_loss = sums.squared_error / T;
      if (!run_epoch (self, MODE_TRAIN, self->y, signal, target, T, output, &sums, error))
        return DISCO_FLOW_ERROR;
      closed_loop_loss = sums.squared_error / T;
      control_cost = sums.control_cost / T;
    }

  if (!set_scalar (node, "open-loop-loss", open_loop_loss, error)
      || !set_scalar (node, "closed-loop-loss", closed_loop_loss, error)
      || !set_scalar (node, "control-cost", control_cost, error)
      || !set_scalar (node, "steps", (double) self->steps, error)
      || !exchange_parameters (self, FALSE, NULL, error))
    return DISCO_FLOW_ERROR;
  return DISCO_FLOW_OK;
}

static void
disco_online_network_class_init (DiscoOnlineNetworkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);
  const GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  object_class->finalize = disco_online_network_finalize;
  object_class->get_property = disco_online_network_get_property;
  object_class->set_property = disco_online_network_set_property;
  node_class->prepare = disco_online_network_prepare;
  node_class->process = disco_online_network_process;
  node_class->resume = disco_online_network_resume;

  g_object_class_install_property (
      object_class, PROP_SIZES,
      g_param_spec_string ("sizes", "Layer sizes",
                           "Units per layer after the input, comma-separated; the last "
                           "layer is the output (e.g. \"20,2\")",
                           DEFAULT_SIZES, flags));
  g_object_class_install_property (
      object_class, PROP_INIT_SEED_NAME,
      g_param_spec_string ("init-seed-name", "Initialisation seed name",
                           "Draw the initial weights as a node of this name would (empty: "
                           "this node's own name); students with the same name here start "
                           "alike",
                           NULL, flags));
  g_object_class_install_property (
      object_class, PROP_RULE,
      g_param_spec_enum ("rule", "Rule",
                         "Plasticity in training epochs: none, exact-inverse or "
                         "linear-threshold",
                         DISCO_TYPE_ONLINE_RULE, DEFAULT_RULE, flags));
  g_object_class_install_property (
      object_class, PROP_BURN_IN_EPOCHS,
      g_param_spec_uint ("burn-in-epochs", "Burn-in epochs",
                         "Epochs at the start, with a target linked, in which only the "
                         "feedback weights adapt (open loop, no plasticity)",
                         0, G_MAXUINT, DEFAULT_BURN_IN_EPOCHS, flags));
  g_object_class_install_property (
      object_class, PROP_REFERENCE_VARIANT,
      g_param_spec_boolean ("reference-variant", "Reference variant",
                            "Evaluate φ_E′ at the rate and apply φ_E's Taylor line to u_I, "
                            "as the reference code's Figure 4 does",
                            DEFAULT_REFERENCE_VARIANT, flags));
  disco_layer_install_float_properties (object_class, PROP_FIRST_FLOAT, float_properties,
                                        G_N_ELEMENTS (float_properties));

  disco_node_class_set_metadata (node_class, "Online network", "Network/Continuous",
                                 "E–I microcircuit layers driven by a time-varying input, "
                                 "learning online in continuous time under top-down "
                                 "control (the paper's student–teacher experiment)");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "output", DISCO_PORT_FLAG_NONE,
                             "the output rates at the sample times, T × outputs (closed "
                             "loop in training epochs)");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "open-loop-output",
                             DISCO_PORT_FLAG_NONE,
                             "the open-loop output rates at the sample times, T × outputs");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "open-loop-loss",
                             DISCO_PORT_FLAG_NAN_MEANS_NONE,
                             "𝓛 = mean over samples of ‖output − target‖², open loop (NaN "
                             "without a target)");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "closed-loop-loss",
                             DISCO_PORT_FLAG_NAN_MEANS_NONE,
                             "the same for the closed loop (NaN outside training epochs)");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "control-cost",
                             DISCO_PORT_FLAG_NAN_MEANS_NONE,
                             "𝓗 = mean over samples of Σ_l ‖c·Q_l‖² (NaN outside training "
                             "epochs)");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "steps", DISCO_PORT_FLAG_NONE,
                             "solver steps (accepted and rejected) in this epoch");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "input", DISCO_PORT_FLAG_NONE,
                             "the input samples, T × inputs, on a regular time grid");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "times", DISCO_PORT_FLAG_OPTIONAL,
                             "the sample times, T × 1 (s)");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "target", DISCO_PORT_FLAG_OPTIONAL,
                             "the target output at the sample times, T × outputs; unlinked, "
                             "the network runs open loop and does not learn");
}

static void
disco_online_network_init (DiscoOnlineNetwork *self)
{
  self->sizes_text = g_strdup (DEFAULT_SIZES);
  self->rule = DEFAULT_RULE;
  self->burn_in_epochs = DEFAULT_BURN_IN_EPOCHS;
  self->reference_variant = DEFAULT_REFERENCE_VARIANT;
  disco_layer_init_float_properties (self, float_properties, G_N_ELEMENTS (float_properties));
}
