/* test-learning.c: controller, feedback weights, plasticity rules and
 * optimizers against closed forms and finite differences */
#include <disco/disco.h>
#include "test-bad-pipeline.h"
#include "test-pipeline-run.h"
#include "test-random-source.h"

#include <math.h>
#include <string.h>

/* ----- helpers ---------------------------------------------------------------- */

static const float *
gradient_of (DiscoPipeline *p, const char *target)
{
  DiscoTensor *t = disco_node_get_gradient (disco_pipeline_get_node (p, "learn"), target);
  g_assert_nonnull (t);
  return disco_tensor_read_host (t, NULL);
}

static double
softplus (double x)
{
  return x > 0 ? x + log1p (exp (-x)) : log1p (exp (x));
}

static double
sigmoid (double x)
{
  return 1 / (1 + exp (-x));
}

/* 30 inputs → 12 → 10 E–I units → 3 outputs, under a leaky-PI controller;
 * four samples of a training phase. */
static const char *controlled_network =
    "[data]\nnode = test-random-source\nrows = 4\ncols = 30\namplitude = 4\nphase = train\n"
    "[h1]\nnode = microcircuit\ninput = data\nsize = 12\nfeedback = control\n"
    "[h2]\nnode = microcircuit\ninput = h1\nsize = 10\nfeedback = control\n"
    "[out]\nnode = readout\ninput = h2\nsize = 3\nfeedback = control\n"
    "[control]\nnode = leaky-pi\nprediction = out\ntarget = data.targets\n"
    "[settle]\nnode = integrator\nnetwork = out\n"
    "[learn]\nnode = plasticity\nstate = settle\nrule = exact-inverse\n";

#define N_SAMPLES 4
#define N_OUT 3
/* state layout: h1 u_E (12) u_I (12) | h2 u_E (10) u_I (10) | y (3) */
#define N_STATE (24 + 20 + 3)

/* ----- controller ---------------------------------------------------------- */

static void
test_controller_integral (void)
{
  /* With k_p = k_i = 0 the control is zero, and after 1 s (50 τ_E) the open
   * loop has come to rest, so the closed loop keeps the network there and e
   * is constant: c_int(T) = e/λ · (1 − exp(−λT/τ_c)). A small leak keeps the
   * integral far from its limit. */
  const char *overrides[] = { "control.k-p=0",     "control.k-i=0",
                              "control.leak=0.05", "settle.steady-state-stop=false",
                              "settle.duration=1", NULL };
  g_autoptr (DiscoPipeline) p = test_run_text (controlled_network, overrides);
  const float *y = test_output_of (p, "settle", "output");
  const float *t = test_output_of (p, "data", "targets");
  const float *integral = test_output_of (p, "control", "integral");
  const double lambda = 0.05, tau = 0.1, T = 1;

  g_test_summary ("The controller's integral follows its closed form");
  for (int s = 0; s < N_SAMPLES; s++)
    {
      double z = 0;
      for (int o = 0; o < N_OUT; o++)
        z += exp (y[s * N_OUT + o]);
      for (int o = 0; o < N_OUT; o++)
        {
          double e = t[s * N_OUT + o] - exp (y[s * N_OUT + o]) / z;
          double expected = e / lambda * (1 - exp (-lambda * T / tau));
          g_assert_cmpfloat_with_epsilon (integral[s * N_OUT + o], expected,
                                          1e-4 * fabs (expected) + 1e-6);
        }
    }
}

static void
test_controller_fixed_point (void)
{
  /* 10 s is a hundred time constants of the integral: at rest c_int = e/λ,
   * so c = (k_i/λ + k_p) · (y* − softmax(y)). */
  const char *overrides[] = { "settle.steady-state-stop=false", "settle.duration=10",
                              "settle.dt-max=0.05", NULL };
  g_autoptr (DiscoPipeline) p = test_run_text (controlled_network, overrides);
  const float *y = test_output_of (p, "settle", "output");
  const float *t = test_output_of (p, "data", "targets");
  const float *c = test_output_of (p, "control", "output");
  const double gain = 0.4 / 1.0 + 0.2;
  double largest = 0;

  g_test_summary ("At the closed-loop fixed point c = (k_i/λ + k_p) e");
  for (int s = 0; s < N_SAMPLES; s++)
    {
      double z = 0;
      for (int o = 0; o < N_OUT; o++)
        z += exp (y[s * N_OUT + o]);
      for (int o = 0; o < N_OUT; o++)
        {
          double e = t[s * N_OUT + o] - exp (y[s * N_OUT + o]) / z;
          g_assert_cmpfloat_with_epsilon (c[s * N_OUT + o], gain * e, 1e-4);
          largest = MAX (largest, fabs (c[s * N_OUT + o]));
        }
    }
  /* The check means something only if the control is not negligible. */
  g_assert_cmpfloat (largest, >, 0.05);
}

/* ----- feedback weights ------------------------------------------------------ */

/* y(u) of the feed-forward map the Jacobian differentiates, in double:
 * starting from layer `layer`'s E potentials u, each layer above takes
 * u_{l+1} = u*_{l+1} + W_{l+1} (φ(u_l) − φ(u*_l)), y = W_out φ(u_top). */
static void
forward_from (const float *state, const float *w2, const float *w_out, int layer, const double *u,
              double *y)
{
  double r[12], u2[10];

  if (layer == 1)
    {
      for (int j = 0; j < 12; j++)
        r[j] = softplus (u[j]) - softplus (state[j]);
      for (int i = 0; i < 10; i++)
        {
          u2[i] = state[24 + i];
          for (int j = 0; j < 12; j++)
            u2[i] += (double) w2[i * 12 + j] * r[j];
        }
    }
  else
    memcpy (u2, u, sizeof u2);
  for (int o = 0; o < N_OUT; o++)
    {
      y[o] = 0;
      for (int i = 0; i < 10; i++)
        y[o] += (double) w_out[o * 10 + i] * softplus (u2[i]);
    }
}

static void
test_feedback_weights_finite_differences (void)
{
  g_autoptr (DiscoPipeline) p = test_run_text (controlled_network, NULL);
  const float *ol = test_output_of (p, "settle", "open-loop-state");
  const float *w2 = test_parameter_of (p, "h2.weight"),
              *w_out = test_parameter_of (p, "out.weight");
  const char *layers[] = { "h1", "h2" };
  const int sizes[] = { 12, 10 }, offsets[] = { 0, 24 };
  double worst = 0;

  g_test_summary ("Feedback weights equal finite differences of the output with respect to "
                  "each layer's potentials, scaled by φ_I′ and normalised (MODEL.md §4)");
  for (int l = 0; l < 2; l++)
    {
      const float *q = test_output_of (p, layers[l], "feedback-weights");
      const int n = sizes[l];

      for (int s = 0; s < N_SAMPLES; s++)
        {
          const float *state = ol + s * N_STATE;
          double fd[N_OUT][12], norm2 = 0;

          for (int j = 0; j < n; j++)
            {
              double u[12], y_plus[N_OUT], y_minus[N_OUT];
              const double h = 1e-5;

              for (int k = 0; k < n; k++)
                u[k] = state[offsets[l] + k];
              u[j] += h;
              forward_from (state, w2, w_out, l == 0 ? 1 : 2, u, y_plus);
              u[j] -= 2 * h;
              forward_from (state, w2, w_out, l == 0 ? 1 : 2, u, y_minus);
              for (int o = 0; o < N_OUT; o++)
                {
                  /* × φ_I′(u_I) */
                  fd[o][j] =
                      (y_plus[o] - y_minus[o]) / (2 * h) * sigmoid (state[offsets[l] + n + j]);
                  norm2 += fd[o][j] * fd[o][j];
                }
            }
          for (int o = 0; o < N_OUT; o++)
            for (int j = 0; j < n; j++)
              worst = MAX (worst, fabs (q[(s * N_OUT + o) * n + j] - fd[o][j] / sqrt (norm2)));
        }
    }
  g_test_message ("largest |Q − finite differences| = %.3g", worst);
  g_assert_cmpfloat (worst, <, 1e-4);
}

static void
test_feedback_weight_options (void)
{
  const char *clipped[] = { "settle.feedback-norm=0", "settle.feedback-clip=0.01", NULL };
  const char *averaged[] = { "settle.feedback-average=true", NULL };
  g_autoptr (DiscoPipeline) a = test_run_text (controlled_network, clipped);
  g_autoptr (DiscoPipeline) b = test_run_text (controlled_network, averaged);
  const float *qa = test_output_of (a, "h1", "feedback-weights");
  const float *qb = test_output_of (b, "h1", "feedback-weights");
  const gsize per_sample = N_OUT * 12;
  guint at_limit = 0;

  g_test_summary ("Clipping bounds every feedback weight (without normalisation); averaging "
                  "gives every sample the same unit-norm weights");
  for (gsize i = 0; i < N_SAMPLES * per_sample; i++)
    {
      g_assert_cmpfloat (fabsf (qa[i]), <=, 0.01f);
      at_limit += fabsf (qa[i]) == 0.01f;
    }
  g_assert_cmpuint (at_limit, >, 0);
  for (int s = 0; s < N_SAMPLES; s++)
    {
      double norm2 = 0;
      for (gsize i = 0; i < per_sample; i++)
        {
          g_assert_cmpfloat (qb[s * per_sample + i], ==, qb[i]);
          norm2 += (double) qb[i] * qb[i];
        }
      g_assert_cmpfloat_with_epsilon (norm2, 1.0, 1e-5);
    }
}

static void
test_trajectory_recording (void)
{
  const char *overrides[] = { "settle.record-sample=2", NULL };
  g_autoptr (DiscoPipeline) p = test_run_text (controlled_network, overrides);
  DiscoNode *settle = disco_pipeline_get_node (p, "settle");
  DiscoTensor *trajectory = disco_node_get_output (settle, "trajectory");
  const float *rows = disco_tensor_read_host (trajectory, NULL);
  const float *times = test_output_of (p, "settle", "trajectory-times");
  const float *ol = test_output_of (p, "settle", "open-loop-state");
  const float *cl = test_output_of (p, "settle", "state");
  const gsize T = disco_tensor_get_dim (trajectory, 0), width = N_STATE + N_OUT;
  const gsize ol_rows = test_output_of (p, "settle", "trajectory-open-loop-rows")[0];
  double ol_gap = 0, cl_gap = 0;

  g_test_summary ("The recorded trajectory starts at rest at zero, reaches the open-loop "
                  "steady state, then the closed-loop one, on a regular time grid");
  g_assert_cmpuint (disco_tensor_get_dim (trajectory, 1), ==, width);
  g_assert_cmpuint (ol_rows, >, 10);
  g_assert_cmpuint (T, >, ol_rows + 10);
  for (gsize i = 0; i < width; i++)
    g_assert_cmpfloat (rows[i], ==, 0.0f);
  for (gsize r = 1; r < T; r++)
    g_assert_cmpfloat (times[r], >=, times[r - 1]);
  g_assert_cmpfloat_with_epsilon (times[1] - times[0], 0.002, 1e-6);
  for (gsize r = 0; r < ol_rows; r++)
    for (gsize o = 0; o < N_OUT; o++)
      g_assert_cmpfloat (rows[r * width + N_STATE + o], ==, 0.0f);
  for (gsize i = 0; i < N_STATE; i++)
    {
      ol_gap = MAX (ol_gap, fabs (rows[(ol_rows - 1) * width + i] - ol[2 * N_STATE + i]));
      cl_gap = MAX (cl_gap, fabs (rows[(T - 1) * width + i] - cl[2 * N_STATE + i]));
    }
  g_test_message ("%" G_GSIZE_FORMAT " rows (%" G_GSIZE_FORMAT " open loop); end gaps %.2g, %.2g",
                  T, ol_rows, ol_gap, cl_gap);
  /* Both stop by the same tolerance test, not at the same instant. */
  g_assert_cmpfloat (ol_gap, <, 1e-2);
  g_assert_cmpfloat (cl_gap, <, 1e-2);
}

/* ----- plasticity ---------------------------------------------------------------- */

static void
test_exact_rule_zero_at_open_loop_fixed_point (void)
{
  /* No controller: the closed loop never runs, and the rule sees the open-
   * loop fixed point, where u_I = r_E. */
  const char *text =
      "[data]\nnode = test-random-source\nrows = 4\ncols = 30\namplitude = 4\nphase = train\n"
      "[h1]\nnode = microcircuit\ninput = data\nsize = 12\n"
      "[out]\nnode = readout\ninput = h1\nsize = 3\n"
      "[settle]\nnode = integrator\nnetwork = out\nsteady-state-stop = false\n"
      "[learn]\nnode = plasticity\nstate = settle\nrule = exact-inverse\n";
  g_autoptr (DiscoPipeline) p = test_run_text (text, NULL);
  const float *g = gradient_of (p, "h1.weight");
  const float *g_out = gradient_of (p, "out.weight");
  double largest = 0;

  g_test_summary ("Without top-down input the exact-inverse rule and the readout rule are "
                  "zero: no plasticity at the open-loop fixed point");
  for (int i = 0; i < 12 * 30; i++)
    largest = MAX (largest, fabs (g[i]));
  for (int i = 0; i < 3 * 12; i++)
    largest = MAX (largest, fabs (g_out[i]));
  g_test_message ("largest gradient entry %.3g", largest);
  g_assert_cmpfloat (largest, <, 1e-5);
}

static void
test_exact_rule_sign (void)
{
  /* One sample, settled to rest: then u_I = r_E − f, δ = −f φ_E′(u_E). */
  const char *overrides[] = { "data.only-row=1", "settle.steady-state-stop=false",
                              "settle.duration=10", "settle.dt-max=0.05", NULL };
  g_autoptr (DiscoPipeline) p = test_run_text (controlled_network, overrides);
  const float *c = test_output_of (p, "control", "output");
  const float *q = test_output_of (p, "h1", "feedback-weights");
  const float *state = test_output_of (p, "settle", "state");
  const float *g_bias = gradient_of (p, "h1.bias");
  guint potentiated = 0, depressed = 0;

  g_test_summary ("Exact-inverse rule: a dis-inhibited interneuron (f > 0) potentiates its "
                  "E cell's synapses (−g > 0), an inhibited one depresses them");
  for (int j = 0; j < 12; j++)
    {
      double f = 0, slope = sigmoid (state[j]);

      for (int o = 0; o < N_OUT; o++)
        f += (double) c[o] * q[o * 12 + j];
      g_assert_cmpfloat_with_epsilon (g_bias[j], -f * slope, 1e-4 * fabs (f) + 1e-6);
      if (fabs (f) > 1e-4)
        {
          g_assert_cmpfloat (-g_bias[j] * f, >, 0);
          if (f > 0)
            potentiated++;
          else
            depressed++;
        }
    }
  g_test_message ("%u potentiated, %u depressed", potentiated, depressed);
  g_assert_cmpuint (potentiated, >, 0);
  g_assert_cmpuint (depressed, >, 0);
}

static void
test_linear_threshold_equals_exact_for_linear_inhibition (void)
{
  /* φ_I(x) = 0.1 log(1 + exp(10 (x + 2))) is x + 2 to within 5e-6 for
   * x > −1, and u_I ≥ 0 here: its inverse is its Taylor line. */
  const char *linear_i[] = { "h1.i-scale=0.1",
                             "h1.i-sharpness=10",
                             "h1.i-shift=-2",
                             "h2.i-scale=0.1",
                             "h2.i-sharpness=10",
                             "h2.i-shift=-2",
                             NULL };
  const char *linear_i_lt[] = { "h1.i-scale=0.1",
                                "h1.i-sharpness=10",
                                "h1.i-shift=-2",
                                "h2.i-scale=0.1",
                                "h2.i-sharpness=10",
                                "h2.i-shift=-2",
                                "learn.rule=linear-threshold",
                                NULL };
  g_autoptr (DiscoPipeline) exact = test_run_text (controlled_network, linear_i);
  g_autoptr (DiscoPipeline) linear = test_run_text (controlled_network, linear_i_lt);
  const char *targets[] = { "h1.weight", "h1.bias", "h2.weight", "h2.bias", "out.weight" };
  const gsize sizes[] = { 12 * 30, 12, 10 * 12, 10, 3 * 10 };

  g_test_summary ("With a linear φ_I the linear-threshold rule is the exact-inverse rule");
  for (guint k = 0; k < G_N_ELEMENTS (targets); k++)
    {
      const float *a = gradient_of (exact, targets[k]), *b = gradient_of (linear, targets[k]);
      double scale = 0, worst = 0;

      for (gsize i = 0; i < sizes[k]; i++)
        {
          scale = MAX (scale, fabs (a[i]));
          worst = MAX (worst, fabs (a[i] - b[i]));
        }
      g_test_message ("%s: largest |exact − linear| %.3g of %.3g", targets[k], worst, scale);
      g_assert_cmpfloat (scale, >, 0);
      g_assert_cmpfloat (worst, <=, 1e-3 * scale);
    }
}

/* The local rules in closed form (MODEL.md §6), in double from the settled
 * states the rule read: per sample and neuron
 *   δ = (φ̂_I⁻¹ − φ_E(u_E)) · φ_E′(u_E),  φ_E = φ_I = softplus, φ′ = sigmoid
 * with φ̂_I⁻¹ = u_I (exact inverse) or the Taylor line of φ_I⁻¹ around
 *   y₀ = (1 − λ)·0.8 + λ·mean_s φ_I(u_I^OL)
 * applied to φ_I(u_I) (linear threshold: b = 1/φ′(φ⁻¹(y₀)),
 * a = φ⁻¹(y₀) − b y₀, φ⁻¹(y) = log(expm1(y))); the readout's
 * δ_out = W_out r_L − y; g_W = δᵀ R / B, g_b = mean δ, and the output
 * "gradients" = √Σ g². */
typedef struct
{
  const char *rule;
  double lambda; /* average-rate, linear-threshold only */
} LocalRuleCase;

static void
test_local_rule_closed_form (gconstpointer data)
{
  const LocalRuleCase *c = data;
  g_autofree char *rule = g_strdup_printf ("learn.rule=%s", c->rule);
  g_autofree char *average = g_strdup_printf ("learn.average-rate=%g", c->lambda);
  const char *overrides[] = { rule, average, NULL };
  g_autoptr (DiscoPipeline) p = test_run_text (controlled_network, overrides);
  const gboolean linear = g_str_equal (c->rule, "linear-threshold");
  const float *x = test_output_of (p, "data", "output");
  const float *cl = test_output_of (p, "settle", "state");
  const float *ol = test_output_of (p, "settle", "open-loop-state");
  const char *layers[] = { "h1", "h2", "out" };
  const int sizes[] = { 12, 10, N_OUT }, inputs[] = { 30, 12, 10 }, offsets[] = { 0, 24, 44 };
  double in[N_SAMPLES][30], rate[N_SAMPLES][12], norm2 = 0, worst = 0;

  g_test_summary ("The exact-inverse and linear-threshold rules' gradients, running threshold "
                  "and gradient norm equal their closed forms (MODEL.md §6) evaluated in "
                  "double on the settled states");
  for (int s = 0; s < N_SAMPLES; s++)
    for (int k = 0; k < 30; k++)
      in[s][k] = x[s * 30 + k];
  for (int l = 0; l < 3; l++)
    {
      const int n = sizes[l], n_in = inputs[l], off = offsets[l];
      g_autofree char *w_name = g_strdup_printf ("%s.weight", layers[l]);
      g_autofree char *b_name = g_strdup_printf ("%s.bias", layers[l]);
      const float *g_w = gradient_of (p, w_name);
      const float *g_b = l < 2 ? gradient_of (p, b_name) : NULL;
      double delta[N_SAMPLES][12], expected_w[12 * 30], expected_b[12], scale = 0;

      for (int j = 0; j < n; j++)
        {
          double a = 0, b = 0;

          if (l < 2 && linear)
            {
              g_autofree char *name = g_strdup_printf ("learn.threshold:%s", layers[l]);
              double y0 = 0, x0;

              for (int s = 0; s < N_SAMPLES; s++)
                y0 += softplus (ol[s * N_STATE + off + n + j]) / N_SAMPLES;
              y0 = (1 - c->lambda) * 0.8 + c->lambda * y0;
              g_assert_cmpfloat_with_epsilon (test_parameter_of (p, name)[j], y0, 1e-6 * y0);
              x0 = log (expm1 (y0));
              b = 1 / sigmoid (x0);
              a = x0 - b * y0;
            }
          for (int s = 0; s < N_SAMPLES; s++)
            {
              /* The readout's state is y alone: no u_I to read past it. */
              const double u_e = cl[s * N_STATE + off + j],
                           u_i = l < 2 ? cl[s * N_STATE + off + n + j] : 0;

              if (l == 2)
                {
                  /* δ_out = W_out r_L − y */
                  const float *w = test_parameter_of (p, "out.weight");
                  delta[s][j] = -u_e;
                  for (int k = 0; k < n_in; k++)
                    delta[s][j] += w[j * n_in + k] * in[s][k];
                  continue;
                }
              rate[s][j] = softplus (u_e);
              delta[s][j] = ((linear ? a + b * softplus (u_i) : u_i) - rate[s][j]) * sigmoid (u_e);
            }
        }
      for (int j = 0; j < n; j++)
        {
          expected_b[j] = 0;
          for (int s = 0; s < N_SAMPLES; s++)
            expected_b[j] += delta[s][j] / N_SAMPLES;
          for (int k = 0; k < n_in; k++)
            {
              double sum = 0;
              for (int s = 0; s < N_SAMPLES; s++)
                sum += delta[s][j] * in[s][k];
              expected_w[j * n_in + k] = sum / N_SAMPLES;
              scale = MAX (scale, fabs (expected_w[j * n_in + k]));
              norm2 += expected_w[j * n_in + k] * expected_w[j * n_in + k];
            }
          if (g_b != NULL)
            norm2 += expected_b[j] * expected_b[j];
        }
      /* float32 φ, Taylor line and GEMMs against double: a few ulp of the
       * terms of δ, which cancel at the closed-loop fixed point (measured
       * up to 1.9e-6 of the tensor's largest entry). */
      g_assert_cmpfloat (scale, >, 1e-4);
      for (int i = 0; i < n * n_in; i++)
        {
          worst = MAX (worst, fabs (g_w[i] - expected_w[i]) / scale);
          g_assert_cmpfloat_with_epsilon (g_w[i], expected_w[i], 1e-5 * scale);
        }
      for (int j = 0; g_b != NULL && j < n; j++)
        g_assert_cmpfloat_with_epsilon (g_b[j], expected_b[j], 1e-5 * scale);
      /* The next layer's inputs: the rates at the closed-loop state. */
      for (int s = 0; l < 2 && s < N_SAMPLES; s++)
        for (int j = 0; j < n; j++)
          in[s][j] = rate[s][j];
    }
  g_test_message ("%s (λ = %g): largest |g − closed form| %.3g of the tensor's scale", c->rule,
                  c->lambda, worst);
  g_assert_cmpfloat_with_epsilon (test_output_of (p, "learn", "gradients")[0], sqrt (norm2),
                                  1e-5 * sqrt (norm2));
}

/* ----- backprop -------------------------------------------------------------------- */

static const char *rate_network =
    "[data]\nnode = test-random-source\nrows = 5\ncols = 8\namplitude = 2\nphase = train\n"
    "[h1]\nnode = rate-layer\ninput = data\nsize = 6\n"
    "[h2]\nnode = rate-layer\ninput = h1\nsize = 5\n"
    "[out]\nnode = readout\ninput = h2\nsize = 3\n"
    "[settle]\nnode = integrator\nnetwork = out\n"
    "[learn]\nnode = plasticity\nstate = settle\nrule = backprop\ntarget = data.targets\n";

typedef struct
{
  double w1[6 * 8], b1[6], w2[5 * 6], b2[5], w3[3 * 5];
} MlpParameters;

static double
mlp_loss (const MlpParameters *m, const float *x, const float *t)
{
  double loss = 0;

  for (int s = 0; s < 5; s++)
    {
      double h1[6], h2[5], y[3], z = 0, top = -INFINITY;

      for (int j = 0; j < 6; j++)
        {
          double d = m->b1[j];
          for (int k = 0; k < 8; k++)
            d += m->w1[j * 8 + k] * x[s * 8 + k];
          h1[j] = softplus (d);
        }
      for (int j = 0; j < 5; j++)
        {
          double d = m->b2[j];
          for (int k = 0; k < 6; k++)
            d += m->w2[j * 6 + k] * h1[k];
          h2[j] = softplus (d);
        }
      for (int o = 0; o < 3; o++)
        {
          y[o] = 0;
          for (int k = 0; k < 5; k++)
            y[o] += m->w3[o * 5 + k] * h2[k];
          top = MAX (top, y[o]);
        }
      for (int o = 0; o < 3; o++)
        z += exp (y[o] - top);
      for (int o = 0; o < 3; o++)
        loss -= t[s * 3 + o] * (y[o] - top - log (z));
    }
  return loss / 5;
}

static void
test_backprop_finite_differences (void)
{
  g_autoptr (DiscoPipeline) p = test_run_text (rate_network, NULL);
  const float *x = test_output_of (p, "data", "output"), *t = test_output_of (p, "data", "targets");
  MlpParameters m;
  struct
  {
    const char *target;
    double *values;
    gsize n;
  } blocks[] = {
    { "h1.weight", m.w1, 48 }, { "h1.bias", m.b1, 6 },     { "h2.weight", m.w2, 30 },
    { "h2.bias", m.b2, 5 },    { "out.weight", m.w3, 15 },
  };
  double worst = 0;

  g_test_summary ("Backprop gradients equal central differences of the soft-target "
                  "cross-entropy of the same MLP in double precision");
  for (guint b = 0; b < G_N_ELEMENTS (blocks); b++)
    {
      const float *v = test_parameter_of (p, blocks[b].target);
      for (gsize i = 0; i < blocks[b].n; i++)
        blocks[b].values[i] = v[i];
    }
  for (guint b = 0; b < G_N_ELEMENTS (blocks); b++)
    {
      const float *g = gradient_of (p, blocks[b].target);
      for (gsize i = 0; i < blocks[b].n; i++)
        {
          const double h = 1e-6, saved = blocks[b].values[i];
          double plus, minus, fd;

          blocks[b].values[i] = saved + h;
          plus = mlp_loss (&m, x, t);
          blocks[b].values[i] = saved - h;
          minus = mlp_loss (&m, x, t);
          blocks[b].values[i] = saved;
          fd = (plus - minus) / (2 * h);
          worst = MAX (worst, fabs (g[i] - fd) / (fabs (fd) + 1e-3));
        }
    }
  g_test_message ("largest relative difference %.3g", worst);
  g_assert_cmpfloat (worst, <, 1e-3);

  /* The output "gradients" is the norm of all of them together. */
  {
    double norm2 = 0;

    for (guint b = 0; b < G_N_ELEMENTS (blocks); b++)
      {
        const float *g = gradient_of (p, blocks[b].target);
        for (gsize i = 0; i < blocks[b].n; i++)
          norm2 += (double) g[i] * g[i];
      }
    g_assert_cmpfloat_with_epsilon (test_output_of (p, "learn", "gradients")[0], sqrt (norm2),
                                    1e-6 * sqrt (norm2));
  }
}

/* ----- optimizers ------------------------------------------------------------------ */

/* A parameter holder and a gradient source for the optimizer tests: "p"
 * holds w = (1, 2, −1, 0.5) and emits 3 training ticks; "g" publishes the
 * gradient (0.5, −1, 0, 2)·(k + 1) for p.w at tick k. */
#define TEST_TYPE_PARAMETER (test_parameter_get_type ())
G_DECLARE_FINAL_TYPE (TestParameter, test_parameter, TEST, PARAMETER, DiscoNode)
struct _TestParameter
{
  DiscoNode parent_instance;
  guint ticks;
};
G_DEFINE_FINAL_TYPE (TestParameter, test_parameter, DISCO_TYPE_NODE)

static const float initial_w[4] = { 1, 2, -1, 0.5f };
static const float base_gradient[4] = { 0.5f, -1, 0, 2 };

static gboolean
test_parameter_prepare (DiscoNode *node, GError **error)
{
  const gsize shape[1] = { 4 };
  g_autoptr (DiscoTensor) w = disco_tensor_new_from_values (1, shape, initial_w, 4, error);

  disco_node_add_parameter (node, "w", w);
  TEST_PARAMETER (node)->ticks = 0;
  return TRUE;
}

static DiscoFlowReturn
test_parameter_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  if (TEST_PARAMETER (node)->ticks++ == 3)
    return DISCO_FLOW_EOS;
  tick->phase = DISCO_PHASE_TRAIN;
  disco_node_set_output (node, "output", disco_node_get_parameter (node, "w"));
  return DISCO_FLOW_OK;
}

static void
test_parameter_class_init (TestParameterClass *klass)
{
  DISCO_NODE_CLASS (klass)->prepare = test_parameter_prepare;
  DISCO_NODE_CLASS (klass)->process = test_parameter_process;
  disco_node_class_add_port (DISCO_NODE_CLASS (klass), DISCO_PORT_OUTPUT, "output", 0, "w");
}

static void
test_parameter_init (TestParameter *self)
{
}

#define TEST_TYPE_GRADIENT (test_gradient_get_type ())
G_DECLARE_FINAL_TYPE (TestGradient, test_gradient, TEST, GRADIENT, DiscoNode)
struct _TestGradient
{
  DiscoNode parent_instance;
  guint ticks;
};
G_DEFINE_FINAL_TYPE (TestGradient, test_gradient, DISCO_TYPE_NODE)

static gboolean
test_gradient_prepare (DiscoNode *node, GError **error)
{
  TEST_GRADIENT (node)->ticks = 0;
  return TRUE;
}

static DiscoFlowReturn
test_gradient_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  const gsize shape[1] = { 4 };
  float g[4];
  g_autoptr (DiscoTensor) gradient = NULL;
  guint k = TEST_GRADIENT (node)->ticks++;

  for (int i = 0; i < 4; i++)
    g[i] = base_gradient[i] * (k + 1);
  gradient = disco_tensor_new_from_values (1, shape, g, 4, error);
  disco_node_set_gradient (node, "p.w", gradient);
  disco_node_set_output (node, "output", gradient);
  return DISCO_FLOW_OK;
}

static void
test_gradient_class_init (TestGradientClass *klass)
{
  DISCO_NODE_CLASS (klass)->prepare = test_gradient_prepare;
  DISCO_NODE_CLASS (klass)->process = test_gradient_process;
  disco_node_class_add_port (DISCO_NODE_CLASS (klass), DISCO_PORT_INPUT, "input", 0, "any");
  disco_node_class_add_port (DISCO_NODE_CLASS (klass), DISCO_PORT_OUTPUT, "output", 0, "g");
}

static void
test_gradient_init (TestGradient *self)
{
}

static void
test_adam_steps (void)
{
  const char *text = "[p]\nnode = test-parameter\n[g]\nnode = test-gradient\ninput = p\n"
                     "[opt]\nnode = adam\ngradients = g\nlearning-rate = 0.1\n";
  g_autoptr (DiscoPipeline) p = test_run_text (text, NULL);
  const float *w = test_parameter_of (p, "p.w");

  g_test_summary ("Three Adam steps equal the hand-computed ones (Kingma & Ba, Algorithm 1)");
  for (int i = 0; i < 4; i++)
    {
      double m = 0, v = 0, x = initial_w[i];
      for (int k = 1; k <= 3; k++)
        {
          double g = base_gradient[i] * k;
          m = 0.9 * m + 0.1 * g;
          v = 0.999 * v + 0.001 * g * g;
          x -= 0.1 * (m / (1 - pow (0.9, k))) / (sqrt (v / (1 - pow (0.999, k))) + 1e-8);
        }
      g_assert_cmpfloat_with_epsilon (w[i], x, 1e-6);
    }
  g_assert_cmpfloat (test_parameter_of (p, "opt.step")[0], ==, 3);
}

static void
test_sgd_steps (void)
{
  const char *text = "[p]\nnode = test-parameter\n[g]\nnode = test-gradient\ninput = p\n"
                     "[opt]\nnode = sgd\ngradients = g\nlearning-rate = 0.1\nmomentum = 0.9\n";
  g_autoptr (DiscoPipeline) p = test_run_text (text, NULL);
  const float *w = test_parameter_of (p, "p.w");

  g_test_summary ("Three momentum-SGD steps equal the hand-computed ones");
  for (int i = 0; i < 4; i++)
    {
      double b = 0, x = initial_w[i];
      for (int k = 1; k <= 3; k++)
        {
          double g = base_gradient[i] * k;
          b = k == 1 ? g : 0.9 * b + g;
          x -= 0.1 * b;
        }
      g_assert_cmpfloat_with_epsilon (w[i], x, 1e-6);
    }
}

static void
test_sgd_plain_steps (void)
{
  const char *text = "[p]\nnode = test-parameter\n[g]\nnode = test-gradient\ninput = p\n"
                     "[opt]\nnode = sgd\ngradients = g\nlearning-rate = 0.25\n";
  g_autoptr (DiscoPipeline) p = test_run_text (text, NULL);
  const float *w = test_parameter_of (p, "p.w");
  const float *velocity = test_parameter_of (p, "opt.velocity:p.w");

  g_test_summary ("Without momentum SGD is gradient descent: after gradients g, 2g, 3g the "
                  "parameter is w − 0.25·6g, exactly in float (every term a multiple of 1/8)");
  for (int i = 0; i < 4; i++)
    {
      g_assert_cmpfloat (w[i], ==, initial_w[i] - 0.25f * 6 * base_gradient[i]);
      /* b = g of the last step */
      g_assert_cmpfloat (velocity[i], ==, 3 * base_gradient[i]);
    }
  g_assert_cmpfloat (test_parameter_of (p, "opt.step")[0], ==, 3);
}

/* ----- checkpoints and devices ---------------------------------------------------- */

static void
test_learning_state_checkpoint (void)
{
  g_autofree char *dir = g_dir_make_tmp ("disco-learning-XXXXXX", NULL);
  g_autofree char *checkpoint = g_build_filename (dir, "checkpoint", NULL);
  g_autofree char *text = g_strdup_printf ("%s[opt]\nnode = adam\ngradients = learn\n"
                                           "learning-rate = 0.01\n",
                                           controlled_network);
  const char *overrides[] = { "learn.rule=linear-threshold", "data.ticks=3", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = disco_pipeline_new_from_string (text, overrides, &error);
  g_autoptr (DiscoPipeline) fresh = NULL;
  g_auto (GStrv) nodes = NULL;
  guint n_files = 0;

  g_test_summary ("A checkpoint holds the learning state (weights, running thresholds, "
                  "Adam's moments and step) as it was, and loads back into a fresh pipeline");
  g_assert_no_error (error);
  g_object_set (p, "output-dir", dir, "checkpoint", TRUE, NULL);
  g_assert_true (disco_pipeline_run (p, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpfloat (test_parameter_of (p, "opt.step")[0], ==, 3);
  fresh = disco_pipeline_new_from_string (text, overrides, &error);
  g_assert_no_error (error);
  g_assert_true (disco_pipeline_validate (fresh, &error));
  g_assert_no_error (error);
  g_assert_true (disco_pipeline_load_parameters (fresh, checkpoint, &error));
  g_assert_no_error (error);

  nodes = disco_pipeline_list_nodes (p);
  for (guint i = 0; nodes[i] != NULL; i++)
    {
      g_auto (GStrv) names = disco_node_list_parameters (disco_pipeline_get_node (p, nodes[i]));

      for (guint j = 0; names[j] != NULL; j++, n_files++)
        {
          g_autofree char *file = g_strdup_printf ("%s.%s.npy", nodes[i], names[j]);
          g_autofree char *path = g_build_filename (checkpoint, file, NULL);
          g_autofree char *target = g_strdup_printf ("%s.%s", nodes[i], names[j]);
          g_autoptr (DiscoTensor) saved = disco_tensor_load_npy (path, &error);
          DiscoTensor *live = disco_pipeline_find_parameter (p, target);
          double scale;

          g_assert_no_error (error);
          g_assert_cmpfloat (test_tensor_difference (saved, live, &scale, NULL), ==, 0);
          g_assert_cmpfloat (test_tensor_difference (disco_pipeline_find_parameter (fresh, target),
                                                     live, &scale, NULL),
                             ==, 0);
        }
    }
  g_test_message ("%u checkpoint files read back", n_files);
  /* 5 layer parameters, 2 thresholds, step, 5 × (m, v). */
  g_assert_cmpuint (n_files, >=, 18);
  g_assert_nonnull (disco_pipeline_find_parameter (p, "learn.threshold:h2"));
  g_assert_nonnull (disco_pipeline_find_parameter (p, "opt.v:h1.weight"));
}

static void
test_learning_runs_on_cuda (void)
{
  const char *rules[] = { "exact-inverse", "linear-threshold", "backprop" };
  const char *optimizers[] = { "adam", "sgd" };
  g_autoptr (DiscoPipeline) p = disco_pipeline_new ();
  g_autoptr (GError) error = NULL;
  DiscoNode *learn = disco_pipeline_make_node (p, "plasticity", "learn", &error);

  g_test_summary ("plasticity with every rule, adam and sgd compute through the operations "
                  "table, so they run on CUDA");
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (optimizers); i++)
    {
      DiscoNode *opt = disco_pipeline_make_node (p, optimizers[i], optimizers[i], &error);

      g_assert_no_error (error);
      g_assert_true (disco_node_runs_on_cuda (opt));
    }
  for (guint r = 0; r < G_N_ELEMENTS (rules); r++)
    {
      g_autofree char *assignment = g_strdup_printf ("learn.rule=%s", rules[r]);

      g_assert_true (disco_pipeline_set (p, assignment, &error));
      g_assert_no_error (error);
      g_assert_true (disco_node_runs_on_cuda (learn));
    }
}

/* ----- bad inputs --------------------------------------------------------------- */

static const TestBadPipeline bad_inputs[] = {
  /* checks: a plasticity node linked to something else than an integrator */
  { "state-not-an-integrator",
    "[data]\nnode = test-random-source\n[learn]\nnode = plasticity\nstate = data\n",
    DISCO_ERROR_LINK, "\"data\"" },
  /* checks: backprop on E–I layers */
  { "backprop-on-microcircuits",
    "[data]\nnode = test-random-source\n[h1]\nnode = microcircuit\ninput = data\n"
    "[out]\nnode = readout\ninput = h1\n[settle]\nnode = integrator\nnetwork = out\n"
    "[learn]\nnode = plasticity\nstate = settle\nrule = backprop\ntarget = data.targets\n",
    DISCO_ERROR_BAD_VALUE, "\"h1\"" },
  /* checks: backprop without targets */
  { "backprop-without-target",
    "[data]\nnode = test-random-source\n[h1]\nnode = rate-layer\ninput = data\n"
    "[out]\nnode = readout\ninput = h1\n[settle]\nnode = integrator\nnetwork = out\n"
    "[learn]\nnode = plasticity\nstate = settle\nrule = backprop\n",
    DISCO_ERROR_LINK, "\"target\"" },
  /* checks: a controller watching something else than the readout */
  { "controller-prediction-not-readout",
    "[data]\nnode = test-random-source\n[h1]\nnode = microcircuit\ninput = data\n"
    "feedback = control\n[out]\nnode = readout\ninput = h1\n"
    "[control]\nnode = leaky-pi\nprediction = h1\ntarget = data.targets\n"
    "[settle]\nnode = integrator\nnetwork = out\n",
    DISCO_ERROR_LINK, "\"prediction\"" },
  /* checks: targets of the wrong width */
  { "controller-target-width",
    "[data]\nnode = test-random-source\nclasses = 4\n[h1]\nnode = microcircuit\ninput = data\n"
    "feedback = control\n[out]\nnode = readout\ninput = h1\nsize = 3\n"
    "[control]\nnode = leaky-pi\nprediction = out\ntarget = data.targets\n"
    "[settle]\nnode = integrator\nnetwork = out\n",
    DISCO_ERROR_SHAPE, "\"control\"" },
  /* checks: a gradient for a parameter that does not exist */
  { "gradient-for-nothing",
    "[q]\nnode = test-parameter\n[g]\nnode = test-gradient\ninput = q\n"
    "[opt]\nnode = adam\ngradients = g\n",
    DISCO_ERROR_LINK, "\"p.w\"" },
  /* checks: a negative learning rate */
  { "negative-learning-rate",
    "[p]\nnode = test-parameter\n[g]\nnode = test-gradient\ninput = p\n"
    "[opt]\nnode = adam\ngradients = g\nlearning-rate = -1\n",
    DISCO_ERROR_BAD_VALUE, "\"learning-rate\"" },
  /* checks: an unknown rule */
  { "unknown-rule",
    "[data]\nnode = test-random-source\n[learn]\nnode = plasticity\nstate = data\n"
    "rule = hebbian\n",
    DISCO_ERROR_BAD_VALUE, "exact-inverse, linear-threshold, backprop" },
};

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  disco_registry_register ("test-random-source", TEST_TYPE_RANDOM_SOURCE);
  disco_registry_register ("test-parameter", TEST_TYPE_PARAMETER);
  disco_registry_register ("test-gradient", TEST_TYPE_GRADIENT);

  g_test_add_func ("/disco/learning/controller-integral", test_controller_integral);
  g_test_add_func ("/disco/learning/controller-fixed-point", test_controller_fixed_point);
  g_test_add_func ("/disco/learning/feedback-weights-finite-differences",
                   test_feedback_weights_finite_differences);
  g_test_add_func ("/disco/learning/feedback-weight-options", test_feedback_weight_options);
  g_test_add_func ("/disco/learning/trajectory-recording", test_trajectory_recording);
  g_test_add_func ("/disco/learning/exact-rule-zero-at-open-loop-fixed-point",
                   test_exact_rule_zero_at_open_loop_fixed_point);
  g_test_add_func ("/disco/learning/exact-rule-sign", test_exact_rule_sign);
  g_test_add_func ("/disco/learning/linear-threshold-equals-exact-for-linear-inhibition",
                   test_linear_threshold_equals_exact_for_linear_inhibition);
  {
    static const LocalRuleCase local_rules[] = {
      { "exact-inverse", 1 },
      { "linear-threshold", 1 },
      { "linear-threshold", 0.5 },
    };

    g_test_add_data_func ("/disco/learning/exact-inverse-closed-form", &local_rules[0],
                          test_local_rule_closed_form);
    g_test_add_data_func ("/disco/learning/linear-threshold-closed-form", &local_rules[1],
                          test_local_rule_closed_form);
    g_test_add_data_func ("/disco/learning/linear-threshold-closed-form-average", &local_rules[2],
                          test_local_rule_closed_form);
  }
  g_test_add_func ("/disco/learning/backprop-finite-differences", test_backprop_finite_differences);
  g_test_add_func ("/disco/learning/adam-steps", test_adam_steps);
  g_test_add_func ("/disco/learning/sgd-steps", test_sgd_steps);
  g_test_add_func ("/disco/learning/sgd-plain-steps", test_sgd_plain_steps);
  g_test_add_func ("/disco/learning/learning-state-checkpoint", test_learning_state_checkpoint);
  g_test_add_func ("/disco/learning/runs-on-cuda", test_learning_runs_on_cuda);
  test_add_bad_pipelines ("/disco/learning/bad", bad_inputs, G_N_ELEMENTS (bad_inputs));
  return g_test_run ();
}
