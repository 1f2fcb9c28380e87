/* test-ode-network.c: the model's arithmetic on the host operations table
 * against closed forms and finite differences.
 *
 * The network's right-hand side, its closed loop and the feedback weights
 * exist once, written against a DiscoOps table (disco-ops-network.h,
 * disco-ops-closed-loop.h); these tests check their values, not their
 * agreement with a second copy:
 *
 * - open loop: a chain of rate layers and a readout settles to the
 *   feedforward map, u_1 = W_1 x + b_1, u_l = W_l φ(u_{l−1}) + b_l,
 *   y = W_out φ(u_L) (MODEL.md §2 with rate units), in closed form; a
 *   readout alone settles to W x;
 * - closed loop: under a leaky-PI controller with the MSE error the
 *   readout settles to y = (W_out r + g y*) / (1 + g), g = k_i/λ + k_p, and
 *   the integral to c_int = (y* − y)/λ; rate layers take no feedback (their
 *   state stays the open loop's);
 * - feedback weights: Q_l = J_l diag(φ_I′(u_I,l)), J_l = ∂y/∂u_E,l of the
 *   feedforward map above layer l, against central differences in double,
 *   through a microcircuit, a rate and a microcircuit layer; then the
 *   options (Frobenius norm, average, clip).
 *
 * Both solvers are used: the compacting one (packed rows, the CPU's) and
 * the lockstep one (row r is sample r, a device's).
 *
 * Shape legend: B samples, F inputs, n_l units, O outputs, N state length.
 */

#include <math.h>
#include <string.h>

#include <glib.h>

#include "disco-kernels.h"
#include "disco-ode.h"
#include "disco-ode-batched.h"
#include "disco-ops.h"
#include "disco-ops-closed-loop.h"
#include "disco-ops-network.h"

#define MAX_LAYERS 5

static const DiscoSoftRectifier phi = { 1.0f, 2.0f, 0.3f };
static const DiscoSoftRectifier phi_i = { 0.8f, 1.5f, -0.2f };

/* φ in double: s·log(1 + exp(β(x − θ))). */
static double
phi_d (const DiscoSoftRectifier *rect, double x)
{
  return rect->scale * log1p (exp (rect->sharpness * (x - rect->shift)));
}

typedef struct
{
  guint n_layers;
  DiscoOpsLayer layers[MAX_LAYERS];
  float *weights[MAX_LAYERS];
  float *biases[MAX_LAYERS];
  gsize offsets[MAX_LAYERS];
  gsize N;
  gsize B;
  gsize F;
  float *x; /* B × F */
} Chain;

/* Layers of @sizes (F, n_1, …, O): @kinds[l] for each, the last a readout. */
static Chain *
chain_new (guint32 seed, gsize B, const gsize *sizes, guint n_sizes, const DiscoOpsLayerKind *kinds)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (seed);
  Chain *c = g_new0 (Chain, 1);

  c->n_layers = n_sizes - 1;
  c->B = B;
  c->F = sizes[0];
  for (guint l = 0; l < c->n_layers; l++)
    {
      const gsize n = sizes[l + 1], n_in = sizes[l];

      c->weights[l] = g_new (float, n *n_in);
      c->biases[l] = g_new (float, n);
      for (gsize i = 0; i < n * n_in; i++)
        c->weights[l][i] = (float) g_rand_double_range (rand, -1, 1) / sqrt ((double) n_in);
      for (gsize i = 0; i < n; i++)
        c->biases[l][i] = (float) g_rand_double_range (rand, -0.3, 0.3);
      c->layers[l] = (DiscoOpsLayer){
        .kind = kinds[l],
        .n = n,
        .n_in = n_in,
        .weight = c->weights[l],
        .bias = kinds[l] == DISCO_OPS_LAYER_READOUT ? NULL : c->biases[l],
        .phi_e = phi,
        .phi_i = phi_i,
        .tau_e = 0.05f + 0.02f * l,
        .tau_i = 0.03f,
      };
      c->offsets[l] = c->N;
      c->N += kinds[l] == DISCO_OPS_LAYER_MICROCIRCUIT ? 2 * n : n;
    }
  c->x = g_new (float, B * c->F);
  for (gsize i = 0; i < B * c->F; i++)
    c->x[i] = (float) g_rand_double_range (rand, 0, 1.5);
  return c;
}

static void
chain_free (Chain *c)
{
  for (guint l = 0; l < c->n_layers; l++)
    {
      g_free (c->weights[l]);
      g_free (c->biases[l]);
    }
  g_free (c->x);
  g_free (c);
}

/* The feedforward steady state of a chain of rate layers and a readout:
 * @u (B × N, double) with every layer's potential and the readout's y. */
static void
chain_feedforward (const Chain *c, double *u)
{
  for (gsize s = 0; s < c->B; s++)
    for (guint l = 0; l < c->n_layers; l++)
      {
        const DiscoOpsLayer *spec = &c->layers[l];

        for (gsize j = 0; j < spec->n; j++)
          {
            double d = spec->bias != NULL ? spec->bias[j] : 0.0;

            for (gsize k = 0; k < spec->n_in; k++)
              d +=
                  (double) spec->weight[j * spec->n_in + k]
                  * (l == 0 ? (double) c->x[s * c->F + k]
                            : phi_d (&c->layers[l - 1].phi_e, u[s * c->N + c->offsets[l - 1] + k]));
            u[s * c->N + c->offsets[l] + j] = d;
          }
      }
}

/* A configuration that integrates every sample for 60 time constants:
 * the error of the steady state is below e^−60, the solver's own well
 * below the asserted 1e-5. */
static void
long_config (DiscoOdeConfig *config)
{
  disco_ode_config_init (config);
  config->t1 = 6.0;
  config->steady_state_stop = FALSE;
  config->rtol = 1e-6;
  config->atol = 1e-8;
  config->max_steps = 100000;
}

/* Both solvers from zero; returns the largest relative difference of each
 * final state from @expected (B × n_state), asserting ≤ @tol. */
static void
solve_both (const DiscoOdeConfig *config, gsize B, gsize n_state, const float *y0,
            DiscoOdeRhsFunc compact, DiscoOdeBatchedRhsFunc lockstep, gpointer system,
            const double *expected, double tol, const char *what)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoOdeBatchedSolver) batched = disco_ode_batched_solver_new (disco_ops_cpu ());
  g_autofree float *y_c = g_memdup2 (y0, B * n_state * sizeof (float));
  g_autofree float *y_l = g_memdup2 (y0, B * n_state * sizeof (float));
  double worst_c = 0, worst_l = 0;

  g_assert_true (disco_ode_solve (config, B, n_state, y_c, compact, system, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (disco_ode_batched_solver_solve (batched, config, 0, B, n_state, y_l, lockstep,
                                                 system, NULL, NULL, &error));
  g_assert_no_error (error);
  for (gsize i = 0; i < B * n_state; i++)
    {
      const double scale = fmax (1.0, fabs (expected[i]));

      worst_c = fmax (worst_c, fabs (y_c[i] - expected[i]) / scale);
      worst_l = fmax (worst_l, fabs (y_l[i] - expected[i]) / scale);
    }
  g_test_message ("%s: largest relative difference from the closed form: compacting %.3g, "
                  "lockstep %.3g",
                  what, worst_c, worst_l);
  g_assert_cmpfloat (worst_c, <=, tol);
  g_assert_cmpfloat (worst_l, <=, tol);
}

static void
test_open_loop_closed_form (void)
{
  const gsize sizes[] = { 7, 6, 5, 3 }, B = 5;
  const DiscoOpsLayerKind kinds[] = { DISCO_OPS_LAYER_RATE, DISCO_OPS_LAYER_RATE,
                                      DISCO_OPS_LAYER_READOUT };
  g_autoptr (GError) error = NULL;
  Chain *c = chain_new (3, B, sizes, G_N_ELEMENTS (sizes), kinds);
  g_autoptr (DiscoOpsNetwork) net =
      disco_ops_network_new (disco_ops_cpu (), c->n_layers, c->layers, &error);
  g_autofree double *expected = g_new (double, B * c->N);
  g_autofree float *zero = g_new0 (float, B * c->N);
  DiscoOdeConfig config;

  g_test_summary ("Two rate layers (the first read through packed rows) and a readout "
                  "settle to the feedforward map in closed form, within 1e-5, with both "
                  "solvers");
  g_assert_no_error (error);
  g_assert_true (disco_ops_network_begin_batch (net, B, c->x, &error));
  g_assert_no_error (error);
  chain_feedforward (c, expected);
  long_config (&config);
  solve_both (&config, B, c->N, zero, disco_ops_network_rhs_compact, disco_ops_network_rhs, net,
              expected, 1e-5, "rate–rate–readout");
  chain_free (c);
}

static void
test_readout_only (void)
{
  const gsize sizes[] = { 9, 4 }, B = 3;
  const DiscoOpsLayerKind kinds[] = { DISCO_OPS_LAYER_READOUT };
  g_autoptr (GError) error = NULL;
  Chain *c = chain_new (5, B, sizes, G_N_ELEMENTS (sizes), kinds);
  g_autoptr (DiscoOpsNetwork) net =
      disco_ops_network_new (disco_ops_cpu (), c->n_layers, c->layers, &error);
  g_autofree double *expected = g_new (double, B * c->N);
  g_autofree float *zero = g_new0 (float, B * c->N);
  DiscoOdeConfig config;

  g_test_summary ("A readout alone (a linear model) settles to W x");
  g_assert_no_error (error);
  g_assert_true (disco_ops_network_begin_batch (net, B, c->x, &error));
  g_assert_no_error (error);
  chain_feedforward (c, expected);
  long_config (&config);
  solve_both (&config, B, c->N, zero, disco_ops_network_rhs_compact, disco_ops_network_rhs, net,
              expected, 1e-5, "readout");
  chain_free (c);
}

static void
test_closed_loop_closed_form (void)
{
  const gsize sizes[] = { 7, 6, 3 }, B = 4, O = 3;
  const DiscoOpsLayerKind kinds[] = { DISCO_OPS_LAYER_RATE, DISCO_OPS_LAYER_READOUT };
  const DiscoOpsController controller = { FALSE, 0.5f, 2.0f, 1.0f, 0.05f };
  const DiscoOpsFeedbackOptions options = { FALSE, 0.0f, 1.0f };
  const double g = controller.k_i / controller.leak + controller.k_p;
  g_autoptr (GError) error = NULL;
  Chain *c = chain_new (11, B, sizes, G_N_ELEMENTS (sizes), kinds);
  g_autoptr (DiscoOpsNetwork) net =
      disco_ops_network_new (disco_ops_cpu (), c->n_layers, c->layers, &error);
  g_autoptr (DiscoOpsClosedLoop) loop = NULL;
  const gsize N = c->N, M = N + O;
  g_autofree double *open_loop_d = g_new (double, B *N);
  g_autofree float *open_loop = g_new (float, B *N);
  g_autofree float *targets = g_new (float, B *O);
  g_autofree float *start = g_new (float, B *M);
  g_autofree double *expected = g_new (double, B *M);
  DiscoOdeConfig config;

  g_test_summary ("A rate layer and a readout under a leaky-PI controller (MSE): the readout "
                  "settles to (W r + g y*)/(1 + g), g = k_i/λ + k_p, the integral to "
                  "(y* − y)/λ, the rate layer (no feedback weights) stays where it was; "
                  "within 1e-5 with both solvers");
  g_assert_no_error (error);
  loop = disco_ops_closed_loop_new (net, &controller, &error);
  g_assert_no_error (error);
  g_assert_nonnull (loop);
  g_assert_cmpuint (disco_ops_closed_loop_get_state_size (loop), ==, M);
  g_assert_true (disco_ops_network_begin_batch (net, B, c->x, &error));
  g_assert_no_error (error);
  chain_feedforward (c, open_loop_d);
  for (gsize i = 0; i < B * N; i++)
    open_loop[i] = open_loop_d[i];
  for (gsize s = 0; s < B; s++)
    for (gsize o = 0; o < O; o++)
      targets[s * O + o] = o == s % O ? 1.0f : 0.0f;
  g_assert_true (
      disco_ops_closed_loop_begin (loop, B, open_loop, targets, &options, start, &error));
  g_assert_no_error (error);
  g_assert_null (disco_ops_closed_loop_get_feedback (loop, 0));
  for (gsize s = 0; s < B; s++)
    {
      /* The starting state: the open loop's, and a zero integral. */
      g_assert_cmpmem (start + s * M, N * sizeof (float), open_loop + s * N, N * sizeof (float));
      for (gsize o = 0; o < O; o++)
        g_assert_cmpfloat (start[s * M + N + o], ==, 0.0f);
      memcpy (expected + s * M, open_loop_d + s * N, N * sizeof (double));
      for (gsize o = 0; o < O; o++)
        {
          const double w_r = open_loop_d[s * N + c->offsets[1] + o];
          const double y = (w_r + g * targets[s * O + o]) / (1 + g);

          expected[s * M + c->offsets[1] + o] = y;
          expected[s * M + N + o] = (targets[s * O + o] - y) / controller.leak;
        }
    }
  long_config (&config);
  solve_both (&config, B, M, start, disco_ops_closed_loop_rhs_compact, disco_ops_closed_loop_rhs,
              loop, expected, 1e-5, "closed loop, rate layer");
  /* Stopping at rest, the samples leave the compacting solver's batch one
   * by one (their targets then come packed): the same fixed point, within
   * what the stop test leaves (rtol 1e-6 of a derivative). */
  config.steady_state_stop = TRUE;
  solve_both (&config, B, M, start, disco_ops_closed_loop_rhs_compact, disco_ops_closed_loop_rhs,
              loop, expected, 1e-4, "closed loop, rate layer, stopping at rest");
  chain_free (c);
}

/* y(u_E,l) of the feedforward map above layer @l at sample @s of @state:
 * u_k = W_k φ_E(u_{k−1}) + b_k, y = W_out φ_E(u_L), in double. */
static void
map_above (const Chain *c, guint l, const double *u_l, double *y)
{
  double r[64], next[64];
  gsize n = c->layers[l].n;

  for (gsize j = 0; j < n; j++)
    r[j] = phi_d (&c->layers[l].phi_e, u_l[j]);
  for (guint k = l + 1; k < c->n_layers; k++)
    {
      const DiscoOpsLayer *spec = &c->layers[k];

      for (gsize j = 0; j < spec->n; j++)
        {
          double d = spec->bias != NULL ? spec->bias[j] : 0.0;

          for (gsize i = 0; i < spec->n_in; i++)
            d += (double) spec->weight[j * spec->n_in + i] * r[i];
          next[j] = spec->kind == DISCO_OPS_LAYER_READOUT ? d : phi_d (&spec->phi_e, d);
        }
      n = spec->n;
      memcpy (r, next, n * sizeof (double));
    }
  memcpy (y, r, n * sizeof (double));
}

static void
test_feedback_finite_difference (void)
{
  const gsize sizes[] = { 8, 6, 5, 4, 3 }, B = 3, O = 3;
  const DiscoOpsLayerKind kinds[] = { DISCO_OPS_LAYER_MICROCIRCUIT, DISCO_OPS_LAYER_RATE,
                                      DISCO_OPS_LAYER_MICROCIRCUIT, DISCO_OPS_LAYER_READOUT };
  const DiscoOpsController controller = { TRUE, 0.5f, 2.0f, 1.0f, 0.05f };
  g_autoptr (GRand) rand = g_rand_new_with_seed (17);
  g_autoptr (GError) error = NULL;
  Chain *c = chain_new (13, B, sizes, G_N_ELEMENTS (sizes), kinds);
  g_autoptr (DiscoOpsNetwork) net =
      disco_ops_network_new (disco_ops_cpu (), c->n_layers, c->layers, &error);
  g_autoptr (DiscoOpsClosedLoop) loop = disco_ops_closed_loop_new (net, &controller, &error);
  const gsize N = c->N, M = N + O;
  g_autofree double *state_d = g_new0 (double, B *N);
  g_autofree float *state = g_new (float, B *N);
  g_autofree float *targets = g_new0 (float, B *O);
  g_autofree float *start = g_new (float, B *M);
  double *q_fd[MAX_LAYERS] = { NULL };
  const DiscoOpsFeedbackOptions raw = { FALSE, 0.0f, 0.0f };
  double worst = 0, largest = 0;

  g_test_summary ("Feedback weights through microcircuit, rate and microcircuit layers: "
                  "Q_l = J_l diag(φ_I′(u_I)) against central differences of the "
                  "feedforward map above layer l (within 1e-5 of the largest entry); the "
                  "rate layer has none; with feedback-norm every sample's Q_l has that "
                  "Frobenius norm, with average every sample the mean, with clip |Q| ≤ clip");
  g_assert_no_error (error);
  g_assert_nonnull (loop);

  /* A state that is the feedforward map's own (each u_E,k = W_k r_{k−1} +
   * b_k above the first layer), so that the chain rule's slopes are the
   * map's; random inhibitory potentials. */
  for (gsize s = 0; s < B; s++)
    {
      double *u = state_d + s * N;

      for (gsize j = 0; j < c->layers[0].n; j++)
        u[c->offsets[0] + j] = g_rand_double_range (rand, -1, 1.5);
      for (guint l = 1; l < c->n_layers; l++)
        {
          const DiscoOpsLayer *spec = &c->layers[l];

          for (gsize j = 0; j < spec->n; j++)
            {
              double d = spec->bias != NULL ? spec->bias[j] : 0.0;

              for (gsize k = 0; k < spec->n_in; k++)
                d += (double) spec->weight[j * spec->n_in + k]
                     * phi_d (&c->layers[l - 1].phi_e, u[c->offsets[l - 1] + k]);
              u[c->offsets[l] + j] = d;
            }
        }
      for (guint l = 0; l < c->n_layers; l++)
        if (kinds[l] == DISCO_OPS_LAYER_MICROCIRCUIT)
          for (gsize j = 0; j < c->layers[l].n; j++)
            u[c->offsets[l] + c->layers[l].n + j] = g_rand_double_range (rand, -1, 1);
    }
  for (gsize i = 0; i < B * N; i++)
    {
      state[i] = state_d[i];
      state_d[i] = state[i]; /* the float state is the one both sides use */
    }

  /* The finite differences: ∂y/∂u_E,l by central differences (h = 1e-5),
   * times φ_I′(u_I) by central differences of φ_I. */
  for (guint l = 0; l + 1 < c->n_layers; l++)
    {
      const gsize n = c->layers[l].n;
      const double h = 1e-5;

      if (kinds[l] != DISCO_OPS_LAYER_MICROCIRCUIT)
        continue;
      q_fd[l] = g_new (double, B *O *n);
      for (gsize s = 0; s < B; s++)
        for (gsize j = 0; j < n; j++)
          {
            double u[64], y_plus[64], y_minus[64];
            const double u_i = state_d[s * N + c->offsets[l] + n + j];
            const double slope_i = (phi_d (&phi_i, u_i + h) - phi_d (&phi_i, u_i - h)) / (2 * h);

            memcpy (u, state_d + s * N + c->offsets[l], n * sizeof (double));
            u[j] += h;
            map_above (c, l, u, y_plus);
            u[j] -= 2 * h;
            map_above (c, l, u, y_minus);
            for (gsize o = 0; o < O; o++)
              q_fd[l][(s * O + o) * n + j] = (y_plus[o] - y_minus[o]) / (2 * h) * slope_i;
          }
    }

  g_assert_true (disco_ops_closed_loop_begin (loop, B, state, targets, &raw, start, &error));
  g_assert_no_error (error);
  for (guint l = 0; l + 1 < c->n_layers; l++)
    {
      const float *q = disco_ops_closed_loop_get_feedback (loop, l);
      const gsize n = c->layers[l].n;

      if (kinds[l] != DISCO_OPS_LAYER_MICROCIRCUIT)
        {
          g_assert_null (q);
          continue;
        }
      g_assert_nonnull (q);
      for (gsize i = 0; i < B * O * n; i++)
        largest = fmax (largest, fabs (q_fd[l][i]));
      for (gsize i = 0; i < B * O * n; i++)
        worst = fmax (worst, fabs (q[i] - q_fd[l][i]));
    }
  g_test_message ("feedback weights vs finite differences: largest difference %.3g of the "
                  "largest entry %.3g",
                  worst, largest);
  g_assert_cmpfloat (largest, >, 1e-3);
  g_assert_cmpfloat (worst, <=, 1e-5 * largest);

  /* The options, on the same states. */
  {
    const DiscoOpsFeedbackOptions normed = { FALSE, 0.0f, 2.0f };
    const DiscoOpsFeedbackOptions averaged = { TRUE, 0.0f, 0.0f };
    const DiscoOpsFeedbackOptions clipped = { FALSE, 0.05f, 0.0f };

    g_assert_true (disco_ops_closed_loop_begin (loop, B, state, targets, &normed, start, &error));
    for (guint l = 0; l + 1 < c->n_layers; l += 2)
      {
        const float *q = disco_ops_closed_loop_get_feedback (loop, l);
        const gsize size = O * c->layers[l].n;

        for (gsize s = 0; s < B; s++)
          {
            double sum2 = 0, raw2 = 0;

            for (gsize i = 0; i < size; i++)
              {
                sum2 += (double) q[s * size + i] * q[s * size + i];
                raw2 += q_fd[l][s * size + i] * q_fd[l][s * size + i];
              }
            g_assert_cmpfloat (fabs (sqrt (sum2) - 2.0), <=, 1e-5);
            /* the direction is the raw one's */
            for (gsize i = 0; i < size; i++)
              g_assert_cmpfloat (fabs (q[s * size + i] - 2.0 * q_fd[l][s * size + i] / sqrt (raw2)),
                                 <=, 1e-4);
          }
      }
    g_assert_true (disco_ops_closed_loop_begin (loop, B, state, targets, &averaged, start, &error));
    for (guint l = 0; l + 1 < c->n_layers; l += 2)
      {
        const float *q = disco_ops_closed_loop_get_feedback (loop, l);
        const gsize size = O * c->layers[l].n;

        for (gsize i = 0; i < size; i++)
          {
            double mean = 0;

            for (gsize s = 0; s < B; s++)
              mean += q_fd[l][s * size + i] / B;
            for (gsize s = 0; s < B; s++)
              g_assert_cmpfloat (fabs (q[s * size + i] - mean), <=, 1e-5 * largest);
          }
      }
    g_assert_true (disco_ops_closed_loop_begin (loop, B, state, targets, &clipped, start, &error));
    for (guint l = 0; l + 1 < c->n_layers; l += 2)
      {
        const float *q = disco_ops_closed_loop_get_feedback (loop, l);
        const gsize size = B * O * c->layers[l].n;

        for (gsize i = 0; i < size; i++)
          {
            const double want = CLAMP (q_fd[l][i], -0.05, 0.05);

            g_assert_cmpfloat (fabs (q[i] - want), <=, 1e-5 * largest);
          }
      }
    g_assert_no_error (error);
  }
  for (guint l = 0; l < MAX_LAYERS; l++)
    g_free (q_fd[l]);
  chain_free (c);
}

static void
test_errors (void)
{
  const gsize sizes[] = { 4, 3, 2 };
  const DiscoOpsLayerKind no_readout[] = { DISCO_OPS_LAYER_RATE, DISCO_OPS_LAYER_RATE };
  const DiscoOpsLayerKind readout_first[] = { DISCO_OPS_LAYER_READOUT, DISCO_OPS_LAYER_RATE };
  const DiscoOpsController controller = { FALSE, 0.5f, 2.0f, 1.0f, 0.05f };
  const DiscoOpsController no_tau = { FALSE, 0.5f, 2.0f, 1.0f, 0.0f };
  g_autoptr (GError) error = NULL;
  Chain *c = chain_new (1, 2, sizes, G_N_ELEMENTS (sizes), no_readout);
  Chain *bad = chain_new (1, 2, sizes, G_N_ELEMENTS (sizes), readout_first);
  g_autoptr (DiscoOpsNetwork) net =
      disco_ops_network_new (disco_ops_cpu (), c->n_layers, c->layers, &error);
  g_autoptr (DiscoOpsNetwork) none = NULL;
  g_autoptr (DiscoOpsClosedLoop) loop = NULL;
  float y[2 * 5], f[2 * 5];
  guint rows[3] = { 0, 1, 2 };

  g_test_summary ("Bad networks, controllers and batches are errors in DISCO_ERROR");
  g_assert_no_error (error);
  loop = disco_ops_closed_loop_new (net, &controller, &error);
  g_assert_null (loop);
  g_assert_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_BAD_VALUE);
  g_clear_error (&error);

  none = disco_ops_network_new (disco_ops_cpu (), bad->n_layers, bad->layers, &error);
  g_assert_null (none);
  g_assert_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_BAD_VALUE);
  g_clear_error (&error);

  {
    const DiscoOpsLayerKind with_readout[] = { DISCO_OPS_LAYER_RATE, DISCO_OPS_LAYER_READOUT };
    Chain *ok = chain_new (1, 2, sizes, G_N_ELEMENTS (sizes), with_readout);
    g_autoptr (DiscoOpsNetwork) good =
        disco_ops_network_new (disco_ops_cpu (), ok->n_layers, ok->layers, &error);

    g_assert_no_error (error);
    g_assert_null (disco_ops_closed_loop_new (good, &no_tau, &error));
    g_assert_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_BAD_VALUE);
    g_clear_error (&error);
    /* Three rows of a batch of two. */
    g_assert_true (disco_ops_network_begin_batch (good, 2, ok->x, &error));
    memset (y, 0, sizeof y);
    g_assert_false (disco_ops_network_rhs_compact (good, 3, rows, NULL, y, f, &error));
    g_assert_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_SHAPE);
    chain_free (ok);
  }
  chain_free (c);
  chain_free (bad);
}

static void
test_packed_row_kernels (void)
{
  enum
  {
    B = 5,
    A = 3,
    O = 2,
    n = 4,
    ld = 6
  };
  const guint rows[A] = { 4, 1, 2 };
  float x[B * ld], y[A * n], q[B * O * n], c[A * O], du[A * ld], want[A * ld];

  g_test_summary ("gather_rows packs rows by index; top_down_rows_indexed subtracts "
                  "Σ_o (c_o/τ_I)·Q[rows[r], o, :] from each packed row (hand loops in double)");
  for (guint i = 0; i < B * ld; i++)
    x[i] = 0.5f * i - 3;
  for (guint i = 0; i < B * O * n; i++)
    q[i] = 0.25f * (i % 7) - 0.5f;
  for (guint i = 0; i < A * O; i++)
    c[i] = 1.0f + i;
  for (guint i = 0; i < A * ld; i++)
    du[i] = want[i] = 0.125f * i;

  disco_gather_rows_cpu (A, n, rows, x + 1, ld, y, n);
  for (guint r = 0; r < A; r++)
    for (guint j = 0; j < n; j++)
      g_assert_cmpfloat (y[r * n + j], ==, x[rows[r] * ld + 1 + j]);

  disco_top_down_rows_indexed_cpu (0.5f, A, O, n, rows, c, q, du, ld);
  for (guint r = 0; r < A; r++)
    for (guint j = 0; j < n; j++)
      {
        double d = want[r * ld + j];

        for (guint o = 0; o < O; o++)
          d -= (c[r * O + o] / 0.5) * q[(rows[r] * O + o) * n + j];
        g_assert_cmpfloat_with_epsilon (du[r * ld + j], d, 1e-5);
      }
  /* The columns past n are untouched. */
  for (guint r = 0; r < A; r++)
    for (guint j = n; j < ld; j++)
      g_assert_cmpfloat (du[r * ld + j], ==, want[r * ld + j]);
}

/* A network (and closed loop) on one batch, evaluated through a lane for
 * a block of it: the same derivatives, to the bit, as lane 0 with the
 * block's rows counted from 0 (same states, same rows, so the same
 * products), and blocks outside the batch are errors. */
static void
check_lanes (const DiscoOpsLayerKind *kinds, gboolean closed)
{
  enum
  {
    B = 7,
    A = 3,
    O = 2
  };
  const gsize sizes[] = { 5, 4, 3, O };
  const DiscoOpsController controller = { TRUE, 0.5f, 2.0f, 1.0f, 0.05f };
  const DiscoOpsFeedbackOptions options = { FALSE, 0.0f, 1.0f };
  const gsize first = 3, block = 4;
  const guint local[A] = { 2, 0, 3 }, global[A] = { 5, 3, 6 };
  g_autoptr (GError) error = NULL;
  g_autoptr (GRand) rand = g_rand_new_with_seed (5);
  Chain *c = chain_new (17, B, sizes, G_N_ELEMENTS (sizes), kinds);
  g_autoptr (DiscoOpsNetwork) net =
      disco_ops_network_new (disco_ops_cpu (), c->n_layers, c->layers, &error);
  g_autoptr (DiscoOpsClosedLoop) loop = NULL;
  const gsize N = c->N, M = closed ? N + O : N;
  g_autofree float *open_loop = g_new (float, B *N);
  g_autofree float *targets = g_new (float, B *O);
  g_autofree float *start = g_new (float, B *(N + O));
  g_autofree float *y = g_new (float, A *M);
  g_autofree float *want = g_new (float, A *M);
  g_autofree float *got = g_new (float, A *M);
  gpointer lane;
  DiscoOdeRhsFunc whole, in_lane;

  g_assert_no_error (error);
  g_assert_true (disco_ops_network_begin_batch (net, B, c->x, &error));
  g_assert_no_error (error);
  for (gsize i = 0; i < B * N; i++)
    open_loop[i] = (float) g_rand_double_range (rand, -0.5, 1.5);
  for (gsize i = 0; i < B * O; i++)
    targets[i] = (float) g_rand_double_range (rand, 0, 1);
  for (gsize i = 0; i < A * M; i++)
    y[i] = (float) g_rand_double_range (rand, -0.5, 1.5);
  if (closed)
    {
      loop = disco_ops_closed_loop_new (net, &controller, &error);
      g_assert_no_error (error);
      g_assert_true (
          disco_ops_closed_loop_begin (loop, B, open_loop, targets, &options, start, &error));
      g_assert_no_error (error);
      lane = disco_ops_closed_loop_get_lane (loop, 2);
      g_assert_true (disco_ops_closed_loop_lane_begin (lane, first, block, &error));
      whole = disco_ops_closed_loop_rhs_compact;
      in_lane = disco_ops_closed_loop_lane_rhs_compact;
    }
  else
    {
      lane = disco_ops_network_get_lane (net, 2);
      g_assert_true (disco_ops_network_lane_begin (lane, first, block, &error));
      whole = disco_ops_network_rhs_compact;
      in_lane = disco_ops_network_lane_rhs_compact;
    }
  g_assert_no_error (error);
  g_assert_true (
      whole (closed ? (gpointer) loop : (gpointer) net, A, global, NULL, y, want, &error));
  g_assert_no_error (error);
  /* Twice: the second call reuses the packed rows. */
  for (guint round = 0; round < 2; round++)
    {
      memset (got, 0, A * M * sizeof (float));
      g_assert_true (in_lane (lane, A, local, NULL, y, got, &error));
      g_assert_no_error (error);
      g_assert_cmpmem (got, A * M * sizeof (float), want, A * M * sizeof (float));
    }

  /* More rows than the block; a block past the batch's end. */
  {
    const guint five[5] = { 0, 1, 2, 3, 4 };

    g_assert_false (in_lane (lane, 5, five, NULL, y, got, &error));
    g_assert_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_SHAPE);
    g_clear_error (&error);
  }
  if (closed)
    g_assert_false (disco_ops_closed_loop_lane_begin (lane, 4, 4, &error));
  else
    g_assert_false (disco_ops_network_lane_begin (lane, 4, 4, &error));
  g_assert_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_SHAPE);
  chain_free (c);
}

static void
test_lanes (void)
{
  const DiscoOpsLayerKind microcircuits[] = { DISCO_OPS_LAYER_MICROCIRCUIT,
                                              DISCO_OPS_LAYER_MICROCIRCUIT,
                                              DISCO_OPS_LAYER_READOUT };
  const DiscoOpsLayerKind rates[] = { DISCO_OPS_LAYER_RATE, DISCO_OPS_LAYER_MICROCIRCUIT,
                                      DISCO_OPS_LAYER_READOUT };

  g_test_summary ("A lane for the block of samples 3 … 6 of a batch of 7 gives the derivatives "
                  "of lane 0 on the same rows counted from 0, to the bit (first drives, targets "
                  "and feedback weights read for the right samples), open and closed loop, a "
                  "microcircuit or a rate layer first; rows past the block and blocks past the "
                  "batch are DISCO_ERROR_SHAPE");
  check_lanes (microcircuits, FALSE);
  check_lanes (microcircuits, TRUE);
  check_lanes (rates, FALSE);
  check_lanes (rates, TRUE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/disco/ode-network/open-loop-closed-form", test_open_loop_closed_form);
  g_test_add_func ("/disco/ode-network/readout-only", test_readout_only);
  g_test_add_func ("/disco/ode-network/closed-loop-closed-form", test_closed_loop_closed_form);
  g_test_add_func ("/disco/ode-network/feedback-finite-difference",
                   test_feedback_finite_difference);
  g_test_add_func ("/disco/ode-network/packed-row-kernels", test_packed_row_kernels);
  g_test_add_func ("/disco/ode-network/errors", test_errors);
  g_test_add_func ("/disco/ode-network/lanes", test_lanes);
  return g_test_run ();
}
