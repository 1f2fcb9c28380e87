/* test-equilibrium.c: the integrator's equilibrium method (issue 8) against
 * the fixed-point equations, long ODE runs, its fallback and training */
#include <disco/disco.h>
#include "test-pipeline-run.h"
#include "test-bad-pipeline.h"
#include "test-random-source.h"

#include <math.h>
#include <string.h>

/* ----- helpers ---------------------------------------------------------------- */

static double
softplus (double x)
{
  return x > 0 ? x + log1p (exp (-x)) : log1p (exp (x));
}

/* Biases are zeros after initialisation; give them values so that the
 * equations check their use too. */
static void
randomise_biases (DiscoPipeline *p, gpointer data)
{
  const char *const *names = data;

  for (guint i = 0; names[i] != NULL; i++)
    {
      DiscoTensor *bias = disco_pipeline_find_parameter (p, names[i]);
      g_autoptr (GRand) rand = g_rand_new_with_seed (77 + i);
      float *b;

      g_assert_nonnull (bias);
      b = disco_tensor_write_host (bias, NULL);
      for (gsize j = 0; j < disco_tensor_get_n_elements (bias); j++)
        b[j] = (float) g_rand_double_range (rand, -1, 1);
    }
}

static const char *const biases[] = { "h1.bias", "h2.bias", NULL };

static DiscoPipeline *
run_text (const char *text, const char *const *overrides)
{
  g_autoptr (GError) error = NULL;
  DiscoPipeline *p = disco_pipeline_new_from_string (text, overrides, &error);

  g_assert_no_error (error);
  g_signal_connect (p, "started", G_CALLBACK (randomise_biases), (gpointer) biases);
  disco_pipeline_run (p, NULL, &error);
  g_assert_no_error (error);
  return p;
}

static DiscoTensor *
tensor_of (DiscoPipeline *p, const char *node, const char *port)
{
  DiscoTensor *t = disco_node_get_output (disco_pipeline_get_node (p, node), port);
  g_assert_nonnull (t);
  return t;
}

static guint64
fallbacks_of (DiscoPipeline *p)
{
  guint64 fallbacks;

  g_object_get (disco_pipeline_get_node (p, "settle"), "fallbacks", &fallbacks, NULL);
  return fallbacks;
}

/* ----- networks ------------------------------------------------------------------ */

#define N_SAMPLES 6
#define N_IN 30
#define N_OUT 3

typedef struct
{
  const char *name;
  gboolean microcircuit; /* else a rate layer */
  gsize n;
} TestLayer;

typedef struct
{
  const char *what;
  const char *text;
  TestLayer layers[2];
  gboolean mse;
} TestNetwork;

/* Two hidden layers under a leaky-PI controller, six samples of a training
 * phase (so the integrator runs the closed loop after the open loop). */
#define TWO_MICROCIRCUITS                                                                          \
  "[data]\nnode = test-random-source\nrows = 6\ncols = 30\namplitude = 4\nphase = train\n"         \
  "[h1]\nnode = microcircuit\ninput = data\nsize = 12\nfeedback = control\n"                       \
  "[h2]\nnode = microcircuit\ninput = h1\nsize = 10\nfeedback = control\n"                         \
  "[out]\nnode = readout\ninput = h2\nsize = 3\nfeedback = control\n"                              \
  "[control]\nnode = leaky-pi\nprediction = out\ntarget = data.targets\n"                          \
  "[settle]\nnode = integrator\nnetwork = out\n"

static const TestNetwork networks[] = {
  { "two microcircuit layers, cross-entropy error",
    TWO_MICROCIRCUITS,
    { { "h1", TRUE, 12 }, { "h2", TRUE, 10 } },
    FALSE },
  /* The Jacobian of the closed loop descends through a rate layer. */
  { "a microcircuit under a rate layer, squared error",
    "[data]\nnode = test-random-source\nrows = 6\ncols = 30\namplitude = 4\nphase = train\n"
    "[h1]\nnode = microcircuit\ninput = data\nsize = 12\nfeedback = control\n"
    "[h2]\nnode = rate-layer\ninput = h1\nsize = 10\n"
    "[out]\nnode = readout\ninput = h2\nsize = 3\nfeedback = control\n"
    "[control]\nnode = leaky-pi\nprediction = out\ntarget = data.targets\nerror = mse\n"
    "[settle]\nnode = integrator\nnetwork = out\n",
    { { "h1", TRUE, 12 }, { "h2", FALSE, 10 } },
    TRUE },
};

static const char *const equilibrium[] = { "settle.method=equilibrium", NULL };

/* Residuals of the fixed-point equations, in double from the float32
 * results, each relative to 1 + the size of its largest term. */
typedef struct
{
  double excitatory; /* u_E + φ_I(u_I) − (W r_prev + b) */
  double inhibitory; /* u_I − (φ_E(u_E) − c·Q_l) */
  double rate;       /* u − (W r_prev + b) */
  double readout;    /* y − (W_out r_L + c) */
  double control;    /* c − (k_i/λ + k_p) e(y) */
  double integral;   /* c_int − e/λ */
} Residuals;

static void
fixed_point_residuals (DiscoPipeline *p, const TestNetwork *net, gboolean closed, Residuals *worst)
{
  const float *x = test_output_of (p, "data", "output");
  const float *state = test_output_of (p, "settle", closed ? "state" : "open-loop-state");
  const float *w_out = test_parameter_of (p, "out.weight");
  const float *c = closed ? test_output_of (p, "control", "output") : NULL;
  const float *c_int = closed ? test_output_of (p, "control", "integral") : NULL;
  const float *t = test_output_of (p, "data", "targets");
  const gsize N = disco_tensor_get_dim (tensor_of (p, "settle", "state"), 1);
  double k_p, k_i, leak;

  memset (worst, 0, sizeof *worst);
  g_object_get (disco_pipeline_get_node (p, "control"), "k-p", &k_p, "k-i", &k_i, "leak", &leak,
                NULL);

  for (gsize s = 0; s < N_SAMPLES; s++)
    {
      const float *row = state + s * N;
      double prev[N_IN], r[12], y[N_OUT];
      gsize n_prev = N_IN, offset = 0;

      for (gsize k = 0; k < N_IN; k++)
        prev[k] = x[s * N_IN + k];
      for (guint l = 0; l < 2; l++)
        {
          const TestLayer *layer = &net->layers[l];
          g_autofree char *w_name = g_strdup_printf ("%s.weight", layer->name);
          g_autofree char *b_name = g_strdup_printf ("%s.bias", layer->name);
          const float *w = test_parameter_of (p, w_name), *b = test_parameter_of (p, b_name);
          const float *q = closed && layer->microcircuit
                               ? test_output_of (p, layer->name, "feedback-weights")
                               : NULL;

          for (gsize j = 0; j < layer->n; j++)
            {
              double d = b[j], size = fabs (b[j]);

              for (gsize k = 0; k < n_prev; k++)
                {
                  d += (double) w[j * n_prev + k] * prev[k];
                  size += fabs ((double) w[j * n_prev + k] * prev[k]);
                }
              if (layer->microcircuit)
                {
                  double u_e = row[offset + j], u_i = row[offset + layer->n + j], f = 0;

                  if (q != NULL)
                    for (gsize o = 0; o < N_OUT; o++)
                      f += (double) c[s * N_OUT + o] * q[(s * N_OUT + o) * layer->n + j];
                  worst->excitatory =
                      MAX (worst->excitatory, fabs (u_e + softplus (u_i) - d) / (1 + size));
                  worst->inhibitory = MAX (worst->inhibitory, fabs (u_i - (softplus (u_e) - f))
                                                                  / (1 + fabs (u_i) + fabs (f)));
                  r[j] = softplus (u_e);
                }
              else
                {
                  worst->rate = MAX (worst->rate, fabs (row[offset + j] - d) / (1 + size));
                  r[j] = softplus (row[offset + j]);
                }
            }
          offset += layer->microcircuit ? 2 * layer->n : layer->n;
          n_prev = layer->n;
          memcpy (prev, r, n_prev * sizeof (double));
        }
      for (gsize o = 0; o < N_OUT; o++)
        {
          double expected = c != NULL ? c[s * N_OUT + o] : 0, size = fabs (expected);

          for (gsize k = 0; k < n_prev; k++)
            {
              expected += (double) w_out[o * n_prev + k] * prev[k];
              size += fabs ((double) w_out[o * n_prev + k] * prev[k]);
            }
          y[o] = row[offset + o];
          worst->readout = MAX (worst->readout, fabs (y[o] - expected) / (1 + size));
        }
      if (closed)
        {
          double z = 0, max = MAX (MAX (y[0], y[1]), y[2]);

          for (gsize o = 0; o < N_OUT; o++)
            z += exp (y[o] - max);
          for (gsize o = 0; o < N_OUT; o++)
            {
              double e = t[s * N_OUT + o] - (net->mse ? y[o] : exp (y[o] - max) / z);
              double gain = k_i / leak + k_p;

              worst->control =
                  MAX (worst->control, fabs (c[s * N_OUT + o] - gain * e) / (1 + fabs (gain * e)));
              worst->integral = MAX (worst->integral, fabs (c_int[s * N_OUT + o] - e / leak)
                                                          / (1 + fabs (e / leak)));
            }
        }
    }
}

/* ----- tests ----------------------------------------------------------------------- */

/* float32 has a 6e−8 rounding unit: a sum of a few dozen rounded products,
 * and φ within a few ulp, leave residuals of about 1e−7 relative. */
#define FLOAT_PRECISION 1e-6

static void
test_fixed_point_equations (gconstpointer data)
{
  const TestNetwork *net = data;
  g_autoptr (DiscoPipeline) p = run_text (net->text, equilibrium);
  Residuals ol, cl;

  g_test_summary ("The open- and closed-loop states of method = equilibrium satisfy the "
                  "fixed-point equations of MODEL.md §2–§3 to float32 precision (residuals "
                  "computed in double)");
  fixed_point_residuals (p, net, FALSE, &ol);
  fixed_point_residuals (p, net, TRUE, &cl);
  g_test_message ("%s", net->what);
  g_test_message ("open loop:   u_E %.2g  u_I %.2g  rate %.2g  readout %.2g", ol.excitatory,
                  ol.inhibitory, ol.rate, ol.readout);
  g_test_message ("closed loop: u_E %.2g  u_I %.2g  rate %.2g  readout %.2g  c %.2g  "
                  "c_int %.2g",
                  cl.excitatory, cl.inhibitory, cl.rate, cl.readout, cl.control, cl.integral);
  g_assert_cmpfloat (ol.excitatory, <, FLOAT_PRECISION);
  g_assert_cmpfloat (ol.inhibitory, <, FLOAT_PRECISION);
  g_assert_cmpfloat (ol.rate, <, FLOAT_PRECISION);
  g_assert_cmpfloat (ol.readout, <, FLOAT_PRECISION);
  g_assert_cmpfloat (cl.excitatory, <, FLOAT_PRECISION);
  g_assert_cmpfloat (cl.inhibitory, <, FLOAT_PRECISION);
  g_assert_cmpfloat (cl.rate, <, FLOAT_PRECISION);
  g_assert_cmpfloat (cl.readout, <, FLOAT_PRECISION);
  /* The Newton tolerance (1e−6) bounds c − K e; e in float adds its rounding. */
  g_assert_cmpfloat (cl.control, <, 2e-6);
  g_assert_cmpfloat (cl.integral, <, FLOAT_PRECISION);
  g_assert_cmpuint (fallbacks_of (p), ==, 0);
}

/* A long run without early stop: 10 s is 500 τ_E and 100 τ_c. */
static const char *const long_ode[] = { "settle.method=tsit5",
                                        "settle.steady-state-stop=false",
                                        "settle.duration=10",
                                        "settle.rtol=1e-6",
                                        "settle.atol=1e-9",
                                        "settle.dt-max=0.05",
                                        NULL };

/* |a − b| ≤ tol·max(1, |b|) over n values; returns the largest difference. */
static double
assert_close (const float *a, const float *b, gsize n, double tol, const char *what)
{
  double worst = 0;

  for (gsize i = 0; i < n; i++)
    {
      double difference = fabs ((double) a[i] - b[i]) / MAX (1.0, fabs (b[i]));
      if (!(difference <= tol))
        g_error ("%s[%" G_GSIZE_FORMAT "]: %.9g vs %.9g", what, i, a[i], b[i]);
      worst = MAX (worst, difference);
    }
  return worst;
}

static void
test_agrees_with_long_ode_run (gconstpointer data)
{
  const TestNetwork *net = data;
  g_autoptr (DiscoPipeline) fixed = run_text (net->text, equilibrium);
  g_autoptr (DiscoPipeline) ode = run_text (net->text, long_ode);
  DiscoTensor *state = tensor_of (fixed, "settle", "state");
  const gsize n = disco_tensor_get_n_elements (state);
  double ol, cl, c, y;

  g_test_summary ("The fixed points agree with a long ODE run without early stop to 1e−4, "
                  "open and closed loop");
  ol = assert_close (test_output_of (fixed, "settle", "open-loop-state"),
                     test_output_of (ode, "settle", "open-loop-state"), n, 1e-4, "open-loop state");
  cl = assert_close (test_output_of (fixed, "settle", "state"),
                     test_output_of (ode, "settle", "state"), n, 1e-4, "closed-loop state");
  c = assert_close (test_output_of (fixed, "control", "output"),
                    test_output_of (ode, "control", "output"), N_SAMPLES * N_OUT, 1e-4, "control");
  y = assert_close (test_output_of (fixed, "settle", "output"),
                    test_output_of (ode, "settle", "output"), N_SAMPLES * N_OUT, 1e-4, "logits");
  g_test_message ("%s: largest differences: open-loop state %.2g, closed-loop state %.2g, "
                  "control %.2g, logits %.2g",
                  net->what, ol, cl, c, y);
  /* The check means something only if the control moved the state. */
  g_assert_cmpfloat (fabs (test_output_of (fixed, "control", "output")[0]), >, 0.01);
}

static void
test_steps_count_newton_iterations (void)
{
  g_autoptr (DiscoPipeline) p = run_text (networks[0].text, equilibrium);
  DiscoNode *settle = disco_pipeline_get_node (p, "settle");
  const float *steps = test_output_of (p, "settle", "steps");
  double ol_steps, cl_steps, ol_evaluations, cl_evaluations, contraction;
  guint most;

  g_test_summary ("steps and the step properties count Newton iterations: a few per unit "
                  "per layer in the open loop, a few updates of c in the closed loop");
  g_object_get (settle, "last-mean-steps", &ol_steps, "last-mean-closed-loop-steps", &cl_steps,
                "last-open-loop-evaluations", &ol_evaluations, "last-closed-loop-evaluations",
                &cl_evaluations, "last-max-contraction", &contraction, "last-max-steps", &most,
                NULL);
  g_test_message ("open loop %.1f iterations, %.1f evaluations; closed loop %.1f iterations, "
                  "%.1f evaluations; contraction ≤ %.3f",
                  ol_steps, ol_evaluations, cl_steps, cl_evaluations, contraction);
  for (gsize s = 0; s < N_SAMPLES; s++)
    {
      /* Two layers, each ≥ 1 and, from u = d, a handful of iterations. */
      g_assert_cmpfloat (steps[s], >=, 2);
      g_assert_cmpfloat (steps[s], <=, 20);
    }
  g_assert_cmpfloat (ol_evaluations, ==, 1);
  g_assert_cmpfloat (cl_steps, >=, 2);
  g_assert_cmpfloat (cl_steps, <=, 8);
  /* One forward pass per iterate after c = 0 (there the open loop's own
   * pass serves), and a Jacobian pass for the first update and for those
   * that follow slow progress: it descends through h2's weights here, so
   * Newton matrices are reused while they work. */
  g_assert_cmpfloat (cl_evaluations, >=, cl_steps + 1);
  g_assert_cmpfloat (cl_evaluations, <=, 2 * cl_steps);
  g_assert_cmpfloat (contraction, >, 0);
  g_assert_cmpfloat (contraction, <, 0.99);
  g_assert_cmpuint (most, <=, 8);
}

/* Gains for which c ↦ K e(y(c)) is no contraction: K = 40/1 + 20 = 60. */
static void
test_fallback_gives_the_ode_answer (void)
{
  const char *fixed_overrides[] = { "control.k-p=20",
                                    "control.k-i=40",
                                    "settle.method=equilibrium",
                                    "settle.steady-state-stop=false",
                                    "settle.duration=10",
                                    "settle.rtol=1e-6",
                                    "settle.atol=1e-9",
                                    "settle.dt-max=0.05",
                                    NULL };
  const char *ode_overrides[] = { "control.k-p=20",
                                  "control.k-i=40",
                                  "settle.method=tsit5",
                                  "settle.steady-state-stop=false",
                                  "settle.duration=10",
                                  "settle.rtol=1e-6",
                                  "settle.atol=1e-9",
                                  "settle.dt-max=0.05",
                                  NULL };
  g_autoptr (DiscoPipeline) fixed = run_text (networks[0].text, fixed_overrides);
  g_autoptr (DiscoPipeline) ode = run_text (networks[0].text, ode_overrides);
  const gsize n = disco_tensor_get_n_elements (tensor_of (fixed, "settle", "state"));
  double contraction, cl;

  g_test_summary ("With strong controller gains the closed loop is no contraction: every "
                  "sample falls back to the ODE, counted, and gets the ODE's answer");
  g_object_get (disco_pipeline_get_node (fixed, "settle"), "last-max-contraction", &contraction,
                NULL);
  g_test_message ("fallbacks %" G_GUINT64_FORMAT ", largest contraction estimate %.3g",
                  fallbacks_of (fixed), contraction);
  g_assert_cmpuint (fallbacks_of (fixed), ==, N_SAMPLES);
  g_assert_cmpfloat (contraction, >=, 0.99);
  cl = assert_close (test_output_of (fixed, "settle", "state"),
                     test_output_of (ode, "settle", "state"), n, 1e-4, "closed-loop state");
  assert_close (test_output_of (fixed, "control", "output"),
                test_output_of (ode, "control", "output"), N_SAMPLES * N_OUT, 1e-4, "control");
  g_test_message ("largest closed-loop state difference %.2g", cl);
}

static void
test_partial_fallback (void)
{
  /* At the default gains the samples' contraction estimates lie between
   * 0.23 and 0.27: a limit of 0.25 sends some of them to the ODE. */
  const char *fixed_overrides[] = { "settle.contraction-limit=0.25",
                                    "settle.method=equilibrium",
                                    "settle.steady-state-stop=false",
                                    "settle.duration=10",
                                    "settle.rtol=1e-6",
                                    "settle.atol=1e-9",
                                    "settle.dt-max=0.05",
                                    NULL };
  g_autoptr (DiscoPipeline) fixed = run_text (networks[0].text, fixed_overrides);
  g_autoptr (DiscoPipeline) ode = run_text (networks[0].text, long_ode);
  const gsize N = disco_tensor_get_dim (tensor_of (fixed, "settle", "state"), 1);
  const float *steps = test_output_of (fixed, "settle", "steps");
  double cl;

  g_test_summary ("Only the samples that fail fall back, and every sample ends at the ODE's "
                  "steady state");
  g_test_message ("%" G_GUINT64_FORMAT " of %d samples fall back", fallbacks_of (fixed), N_SAMPLES);
  g_assert_cmpuint (fallbacks_of (fixed), >, 0);
  g_assert_cmpuint (fallbacks_of (fixed), <, N_SAMPLES);
  cl = assert_close (test_output_of (fixed, "settle", "state"),
                     test_output_of (ode, "settle", "state"), N_SAMPLES * N, 1e-4,
                     "closed-loop state");
  assert_close (test_output_of (fixed, "control", "output"),
                test_output_of (ode, "control", "output"), N_SAMPLES * N_OUT, 1e-4, "control");
  g_test_message ("largest closed-loop state difference %.2g", cl);
  /* The open loops converged: Newton iterations, not ODE steps. */
  for (gsize s = 0; s < N_SAMPLES; s++)
    g_assert_cmpfloat (steps[s], <=, 20);
}

static void
test_no_leak_falls_back (void)
{
  const char *overrides[] = { "control.leak=0", "settle.method=equilibrium", NULL };
  const char *ode_overrides[] = { "control.leak=0", NULL };
  g_autoptr (DiscoPipeline) fixed = NULL;
  g_autoptr (DiscoPipeline) ode = NULL;
  gsize n;

  g_test_summary ("Without leak the integral has no rest: the closed loops are integrated, "
                  "to the end of duration, and the integrator says they did not settle");
  /* Once per run: the training samples' closed loops reach no rest. */
  g_test_expect_message ("Disco", G_LOG_LEVEL_WARNING, "*ended a solve unconverged*");
  fixed = run_text (networks[0].text, overrides);
  g_test_assert_expected_messages ();
  g_test_expect_message ("Disco", G_LOG_LEVEL_WARNING, "*ended a solve unconverged*");
  ode = run_text (networks[0].text, ode_overrides);
  g_test_assert_expected_messages ();
  n = disco_tensor_get_n_elements (tensor_of (fixed, "settle", "state"));
  g_assert_cmpuint (fallbacks_of (fixed), ==, N_SAMPLES);
  /* From the fixed point instead of the ODE's nearly-at-rest open loop. */
  assert_close (test_output_of (fixed, "settle", "state"), test_output_of (ode, "settle", "state"),
                n, 1e-2, "closed-loop state");
}

/* ----- training ---------------------------------------------------------------- */

static double
digits_test_accuracy (const char *path, const char *method, double *train_accuracy,
                      guint64 *fallbacks)
{
  g_autofree char *text = g_strdup_printf (
      "[pipeline]\nseed = 0\n"
      "[data]\nnode = digits-loader\npath = %s\nepochs = 3\nbatch-size = 50\n"
      "[h1]\nnode = microcircuit\ninput = data.images\nsize = 64\nfeedback = control\n"
      "[out]\nnode = readout\ninput = h1\nsize = 10\nfeedback = control\n"
      "[control]\nnode = leaky-pi\nprediction = out\ntarget = data.targets\n"
      "[settle]\nnode = integrator\nnetwork = out\nmethod = %s\n"
      "[learn]\nnode = plasticity\nrule = linear-threshold\nstate = settle\n"
      "[adam]\nnode = adam\ngradients = learn\n"
      "[score]\nnode = evaluator\nprediction = settle.output\ntarget = data.targets\n"
      "report =\n",
      path, method);
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = disco_pipeline_new_from_string (text, NULL, &error);
  double accuracy;

  g_assert_no_error (error);
  disco_pipeline_run (p, NULL, &error);
  g_assert_no_error (error);
  g_object_get (disco_pipeline_get_node (p, "score"), "test-accuracy", &accuracy, "train-accuracy",
                train_accuracy, NULL);
  *fallbacks = fallbacks_of (p);
  return accuracy;
}

static void
test_training_same_accuracy (void)
{
  g_autofree char *path =
      g_build_filename (DISCO_SOURCE_ROOT, "data", "datasets", "digits", "digits.csv.gz", NULL);
  guint64 ode_fallbacks, fallbacks;
  double ode, fixed, ode_train, fixed_train;

  g_test_summary ("Three epochs of the 8×8 digits (64 E–I units, linear threshold, seed 0) "
                  "reach the same test accuracy with either method, within 0.3 points");
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      g_test_skip ("the digits are not installed (data/install-datasets.sh)");
      return;
    }
  ode = digits_test_accuracy (path, "tsit5", &ode_train, &ode_fallbacks);
  fixed = digits_test_accuracy (path, "equilibrium", &fixed_train, &fallbacks);
  g_test_message ("test accuracy: tsit5 %.2f %%, equilibrium %.2f %% (%" G_GUINT64_FORMAT
                  " fallbacks); closed-loop train accuracy %.2f %% and %.2f %%",
                  ode, fixed, fallbacks, ode_train, fixed_train);
  g_assert_cmpfloat (ode, >, 50);
  g_assert_cmpfloat (fabs (ode - fixed), <=, 0.3);
  g_assert_cmpuint (fallbacks, ==, 0);
}

/* ----- bad inputs ------------------------------------------------------------------- */

#define EQUILIBRIUM(override)                                                                      \
  {                                                                                                \
    "settle.method=equilibrium", override, NULL                                                    \
  }

static const TestBadPipeline bad_inputs[] = {
  /* checks: an unknown method */
  { "unknown-method", TWO_MICROCIRCUITS, DISCO_ERROR_BAD_VALUE, "newton",
    EQUILIBRIUM ("settle.method=newton") },
  /* checks: a tolerance of zero */
  { "zero-tolerance", TWO_MICROCIRCUITS, DISCO_ERROR_BAD_VALUE, "\"newton-tolerance\"",
    EQUILIBRIUM ("settle.newton-tolerance=0") },
  /* checks: no Newton iterations */
  { "zero-iterations", TWO_MICROCIRCUITS, DISCO_ERROR_BAD_VALUE, "\"newton-max-iterations\"",
    EQUILIBRIUM ("settle.newton-max-iterations=0") },
  /* checks: a negative contraction limit */
  { "negative-contraction-limit", TWO_MICROCIRCUITS, DISCO_ERROR_BAD_VALUE, "\"contraction-limit\"",
    EQUILIBRIUM ("settle.contraction-limit=-1") },
  /* checks: the fallback's ODE settings are still validated */
  { "bad-fallback-steps", TWO_MICROCIRCUITS, DISCO_ERROR_BAD_VALUE, "\"settle\"",
    EQUILIBRIUM ("settle.dt-min=0.1") },
  /* checks: fallbacks and other results are read-only */
  { "read-only-fallbacks", TWO_MICROCIRCUITS, DISCO_ERROR_NO_SUCH_PROPERTY, "\"fallbacks\"",
    EQUILIBRIUM ("settle.fallbacks=3") },
};

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  disco_registry_register ("test-random-source", TEST_TYPE_RANDOM_SOURCE);

  for (guint i = 0; i < G_N_ELEMENTS (networks); i++)
    {
      g_autofree char *equations =
          g_strdup_printf ("/disco/equilibrium/fixed-point-equations/%u", i);
      g_autofree char *ode = g_strdup_printf ("/disco/equilibrium/agrees-with-long-ode-run/%u", i);
      g_test_add_data_func (equations, &networks[i], test_fixed_point_equations);
      g_test_add_data_func (ode, &networks[i], test_agrees_with_long_ode_run);
    }
  g_test_add_func ("/disco/equilibrium/steps-count-newton-iterations",
                   test_steps_count_newton_iterations);
  g_test_add_func ("/disco/equilibrium/fallback-gives-the-ode-answer",
                   test_fallback_gives_the_ode_answer);
  g_test_add_func ("/disco/equilibrium/partial-fallback", test_partial_fallback);
  g_test_add_func ("/disco/equilibrium/no-leak-falls-back", test_no_leak_falls_back);
  g_test_add_func ("/disco/equilibrium/training-same-accuracy", test_training_same_accuracy);
  test_add_bad_pipelines ("/disco/equilibrium/bad", bad_inputs, G_N_ELEMENTS (bad_inputs));
  return g_test_run ();
}
