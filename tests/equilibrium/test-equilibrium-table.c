/* test-equilibrium-table.c: the integrator's equilibrium method on a table
 * other than the host's, without a GPU.
 *
 * A pipeline with device = cuda runs on test_ops_table() (tests/common/
 * test-ops-table.h): the host table's kernels, but its own name and its
 * own memory functions, so the integrator takes every branch it takes on
 * CUDA (states, closed-loop start, feedback weights, fallbacks and outputs
 * in the table's memory; tensors whose device copy is current) while the
 * arithmetic stays the host table's.  Every output must then equal the
 * same pipeline's on the host table to the bit: a branch that reads a
 * buffer it never wrote (fresh test-table memory is NaN), skips an upload
 * or a download, or computes in another order fails here.
 */
#include <disco/disco.h>
#include "test-ops-table.h"
#include "test-pipeline-run.h"
#include "test-random-source.h"

#include <math.h>
#include <string.h>

static const char *const biases[] = { "h1.bias", "h2.bias", NULL };

/* Biases are zeros after initialisation; give them values so that the
 * comparison covers their use too. */
static void
randomise_biases (DiscoPipeline *p, gpointer data G_GNUC_UNUSED)
{
  for (guint i = 0; biases[i] != NULL; i++)
    {
      DiscoTensor *bias = disco_pipeline_find_parameter (p, biases[i]);
      g_autoptr (GRand) rand = g_rand_new_with_seed (77 + i);
      float *b;

      if (bias == NULL)
        continue;
      b = disco_tensor_write_host (bias, NULL);
      for (gsize j = 0; j < disco_tensor_get_n_elements (bias); j++)
        b[j] = (float) g_rand_double_range (rand, -1, 1);
    }
}

static DiscoPipeline *
run_on (const char *device, const char *text, const char *const *overrides)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *full = g_strdup_printf ("[pipeline]\ndevice = %s\nseed = 0\n%s", device, text);
  DiscoPipeline *p = disco_pipeline_new_from_string (full, overrides, &error);

  g_assert_no_error (error);
  g_signal_connect (p, "started", G_CALLBACK (randomise_biases), NULL);
  g_assert_true (disco_pipeline_run (p, NULL, &error));
  g_assert_no_error (error);
  return p;
}

static guint64
fallbacks_of (DiscoPipeline *p)
{
  guint64 fallbacks;

  g_object_get (disco_pipeline_get_node (p, "settle"), "fallbacks", &fallbacks, NULL);
  return fallbacks;
}

/* @node's output @port in both pipelines: the same shape and bits. */
static void
assert_same_output (DiscoPipeline *table, DiscoPipeline *host, const char *node, const char *port)
{
  DiscoTensor *a = disco_node_get_output (disco_pipeline_get_node (table, node), port);
  DiscoTensor *b = disco_node_get_output (disco_pipeline_get_node (host, node), port);
  gsize n;

  g_assert_nonnull (a);
  g_assert_nonnull (b);
  n = disco_tensor_get_n_elements (b);
  g_assert_cmpuint (disco_tensor_get_n_elements (a), ==, n);
  g_assert_cmpuint (disco_tensor_get_n_dims (a), ==, disco_tensor_get_n_dims (b));
  if (memcmp (disco_tensor_read_host (a, NULL), disco_tensor_read_host (b, NULL),
              n * sizeof (float))
      != 0)
    g_error ("%s.%s differs between the test table and the host table", node, port);
}

static void
assert_same_parameter (DiscoPipeline *table, DiscoPipeline *host, const char *name)
{
  DiscoTensor *a = disco_pipeline_find_parameter (table, name);
  DiscoTensor *b = disco_pipeline_find_parameter (host, name);
  gsize n;

  g_assert_nonnull (a);
  g_assert_nonnull (b);
  n = disco_tensor_get_n_elements (b);
  g_assert_cmpuint (disco_tensor_get_n_elements (a), ==, n);
  if (memcmp (disco_tensor_read_host (a, NULL), disco_tensor_read_host (b, NULL),
              n * sizeof (float))
      != 0)
    g_error ("parameter %s differs between the test table and the host table", name);
}

#define SOURCE(phase, ticks)                                                                       \
  "[data]\nnode = test-random-source\nrows = 6\ncols = 30\namplitude = 4\nphase = " phase          \
  "\nticks = " ticks "\n"
#define TWO_MICROCIRCUITS                                                                          \
  "[h1]\nnode = microcircuit\ninput = data\nsize = 12\nfeedback = control\n"                       \
  "[h2]\nnode = microcircuit\ninput = h1\nsize = 10\nfeedback = control\n"                         \
  "[out]\nnode = readout\ninput = h2\nsize = 3\nfeedback = control\n"                              \
  "[control]\nnode = leaky-pi\nprediction = out\ntarget = data.targets\n"                          \
  "[settle]\nnode = integrator\nnetwork = out\nmethod = equilibrium\n"
#define UNDER_A_RATE_LAYER                                                                         \
  "[h1]\nnode = microcircuit\ninput = data\nsize = 12\nfeedback = control\n"                       \
  "[h2]\nnode = rate-layer\ninput = h1\nsize = 10\n"                                               \
  "[out]\nnode = readout\ninput = h2\nsize = 3\nfeedback = control\n"                              \
  "[control]\nnode = leaky-pi\nprediction = out\ntarget = data.targets\nerror = mse\n"             \
  "[settle]\nnode = integrator\nnetwork = out\nmethod = equilibrium\n"

typedef struct
{
  const char *path;
  const char *summary;
  const char *text;
  const char *overrides[4];
  gboolean closed;     /* a training phase: the closed loop runs */
  gboolean falls_back; /* some samples go to the ODE */
} Case;

static const Case cases[] = {
  { "/disco/equilibrium/table/open-loop",
    "Validation ticks (open loop only) on the test table equal the host table's",
    SOURCE ("validation", "2") TWO_MICROCIRCUITS,
    { NULL },
    FALSE,
    FALSE },
  { "/disco/equilibrium/table/closed-loop",
    "Training ticks (open loop, feedback weights, closed loop) on the test table equal the "
    "host table's",
    SOURCE ("train", "2") TWO_MICROCIRCUITS,
    { NULL },
    TRUE,
    FALSE },
  { "/disco/equilibrium/table/closed-loop-fallback",
    "With one Newton iteration allowed every closed loop falls back to the ODE solver on the "
    "table, with the host table's results",
    SOURCE ("train", "2") TWO_MICROCIRCUITS,
    { "settle.newton-max-iterations=1", NULL },
    TRUE,
    TRUE },
  { "/disco/equilibrium/table/partial-fallback",
    "When some closed loops are no clear contraction, those fall back on the table and the "
    "others do not, as on the host table",
    SOURCE ("train", "2") TWO_MICROCIRCUITS,
    { "settle.contraction-limit=0.25", NULL },
    TRUE,
    TRUE },
  { "/disco/equilibrium/table/recorded",
    "A training tick that records a sample's trajectory (on the host, in a closed loop of its "
    "own) leaves the table's outputs, the feedback weights included, equal to the host "
    "table's",
    SOURCE ("train", "2") TWO_MICROCIRCUITS,
    { "settle.record-sample=1", NULL },
    TRUE,
    FALSE },
  { "/disco/equilibrium/table/rate-layer",
    "A microcircuit under a rate layer with squared error, with fallbacks, equals the host "
    "table's",
    SOURCE ("train", "2") UNDER_A_RATE_LAYER,
    { "settle.newton-max-iterations=1", NULL },
    TRUE,
    TRUE },
};

static void
test_outputs (gconstpointer data)
{
  const Case *c = data;
  const char *ports[] = { "output", "state", "open-loop-state", "steps", "unconverged" };
  g_autoptr (DiscoPipeline) table = NULL;
  g_autoptr (DiscoPipeline) host = NULL;
  guint64 transfers = test_ops_table_get_transfers ();

  g_test_summary (c->summary);
  table = run_on ("cuda", c->text, c->overrides);
  g_assert_cmpint (disco_pipeline_get_active_device (table), ==, DISCO_DEVICE_CUDA);
  g_assert_cmpuint (test_ops_table_get_transfers (), >, transfers);
  host = run_on ("cpu", c->text, c->overrides);
  g_assert_cmpint (disco_pipeline_get_active_device (host), ==, DISCO_DEVICE_CPU);

  g_test_message ("fallbacks: test table %" G_GUINT64_FORMAT ", host table %" G_GUINT64_FORMAT,
                  fallbacks_of (table), fallbacks_of (host));
  g_assert_cmpuint (fallbacks_of (table), ==, fallbacks_of (host));
  if (c->falls_back)
    g_assert_cmpuint (fallbacks_of (table), >, 0);
  /* The states stay in the table's memory, as on CUDA. */
  g_assert_cmpint (disco_tensor_get_device (disco_node_get_output (
                       disco_pipeline_get_node (table, "settle"), "open-loop-state")),
                   ==, DISCO_DEVICE_CUDA);
  for (guint i = 0; i < G_N_ELEMENTS (ports); i++)
    assert_same_output (table, host, "settle", ports[i]);
  assert_same_output (table, host, "h1", "output");
  assert_same_output (table, host, "h1", "inhibitory");
  assert_same_output (table, host, "h2", "output");
  assert_same_output (table, host, "out", "output");
  if (c->closed)
    {
      assert_same_output (table, host, "control", "output");
      assert_same_output (table, host, "control", "integral");
      assert_same_output (table, host, "h1", "feedback-weights");
      if (disco_node_get_output (disco_pipeline_get_node (host, "h2"), "feedback-weights") != NULL)
        assert_same_output (table, host, "h2", "feedback-weights");
    }
  if (c->overrides[0] != NULL && g_str_has_prefix (c->overrides[0], "settle.record-sample"))
    assert_same_output (table, host, "settle", "trajectory");
}

static void
test_open_loop_fallback (void)
{
  const char *text = SOURCE ("validation", "1") TWO_MICROCIRCUITS;
  const char *const ode[] = { "settle.method=tsit5", NULL };
  const guint failing = 2;
  g_autoptr (DiscoPipeline) table = NULL;
  g_autoptr (DiscoPipeline) host = NULL;
  g_autoptr (DiscoPipeline) tsit5 = NULL;
  DiscoTensor *state;
  const float *x, *y, *z, *steps, *ode_steps;
  gsize B, N;
  double worst = 0;

  g_test_summary ("A sample whose open loop fails on the test table is integrated from zero "
                  "by the ODE solver on the table, as tsit5 does; the others keep the host "
                  "table's fixed points to the bit");
  test_ops_table_fail_open_loop (failing);
  table = run_on ("cuda", text, NULL);
  test_ops_table_fail_open_loop (-1);
  host = run_on ("cpu", text, NULL);
  tsit5 = run_on ("cpu", text, ode);
  g_assert_cmpuint (fallbacks_of (table), ==, 1);
  g_assert_cmpuint (fallbacks_of (host), ==, 0);

  state = disco_node_get_output (disco_pipeline_get_node (table, "settle"), "open-loop-state");
  B = disco_tensor_get_dim (state, 0);
  N = disco_tensor_get_dim (state, 1);
  g_assert_cmpuint (B, >, failing);
  x = test_output_of (table, "settle", "open-loop-state");
  y = test_output_of (host, "settle", "open-loop-state");
  z = test_output_of (tsit5, "settle", "open-loop-state");
  steps = test_output_of (table, "settle", "steps");
  ode_steps = test_output_of (tsit5, "settle", "steps");
  for (gsize s = 0; s < B; s++)
    if (s != failing)
      g_assert_true (memcmp (x + s * N, y + s * N, N * sizeof (float)) == 0);
  /* Alone rather than in a batch of B: the same steps, GEMM rows that may
   * round otherwise. */
  for (gsize i = 0; i < N; i++)
    {
      const double d = fabs ((double) x[failing * N + i] - z[failing * N + i]);

      g_assert_cmpfloat (d, <=, 1e-5 * (1 + fabs (z[failing * N + i])));
      worst = MAX (worst, d);
    }
  g_test_message ("failed sample: %g ODE steps (tsit5 %g), largest state difference %.3g",
                  steps[failing], ode_steps[failing], worst);
  g_assert_cmpfloat (fabs (steps[failing] - ode_steps[failing]), <=, 1);
}

static void
test_training (void)
{
  const char *text = SOURCE ("train", "3") TWO_MICROCIRCUITS
      "[learn]\nnode = plasticity\nstate = settle\nrule = linear-threshold\n"
      "[adam]\nnode = adam\ngradients = learn\nlearning-rate = 0.01\n";
  const char *const overrides[] = { "settle.newton-max-iterations=2", NULL };
  const char *params[] = { "h1.weight", "h1.bias", "h2.weight", "h2.bias", "out.weight" };
  g_autoptr (DiscoPipeline) table = NULL;
  g_autoptr (DiscoPipeline) host = NULL;

  g_test_summary ("Three training ticks (equilibrium, linear threshold, Adam) on the test "
                  "table leave the host table's parameters");
  table = run_on ("cuda", text, overrides);
  g_assert_cmpint (disco_pipeline_get_active_device (table), ==, DISCO_DEVICE_CUDA);
  host = run_on ("cpu", text, overrides);
  g_test_message ("fallbacks: %" G_GUINT64_FORMAT, fallbacks_of (host));
  g_assert_cmpuint (fallbacks_of (table), ==, fallbacks_of (host));
  for (guint i = 0; i < G_N_ELEMENTS (params); i++)
    assert_same_parameter (table, host, params[i]);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  disco_registry_register ("test-random-source", TEST_TYPE_RANDOM_SOURCE);
  /* It writes host tensors; its readers copy them to their table. */
  disco_node_type_set_runs_on_cuda (TEST_TYPE_RANDOM_SOURCE, TRUE);
  test_ops_table_install ();
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    g_test_add_data_func (cases[i].path, &cases[i], test_outputs);
  g_test_add_func ("/disco/equilibrium/table/open-loop-fallback", test_open_loop_fallback);
  g_test_add_func ("/disco/equilibrium/table/training", test_training);
  return g_test_run ();
}
