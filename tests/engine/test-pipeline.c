/* test-pipeline.c: building, validating and running pipelines; every bad input */
#include <disco/disco.h>

#include <fcntl.h>
#include <math.h>
#include <glib/gstdio.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* ----- a dynamical node type, to check that state couplings may loop ------- */

#define TEST_TYPE_LEAKY (test_leaky_get_type ())
G_DECLARE_FINAL_TYPE (TestLeaky, test_leaky, TEST, LEAKY, DiscoNode)
struct _TestLeaky
{
  DiscoNode parent_instance;
};
G_DEFINE_FINAL_TYPE (TestLeaky, test_leaky, DISCO_TYPE_NODE)

static void
test_leaky_class_init (TestLeakyClass *klass)
{
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);

  disco_node_class_set_dynamical (node_class, TRUE);
  disco_node_class_set_metadata (node_class, "Leaky unit", "Testing", "du/dt = -u + drive");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "drive", DISCO_PORT_FLAG_NONE, "drive");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "feedback", DISCO_PORT_FLAG_OPTIONAL,
                             "feedback");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "state", DISCO_PORT_FLAG_NONE, "u");
}

static void
test_leaky_init (TestLeaky *self)
{
}

/* ----- nodes that publish a gradient and its norm ---------------------------- */

/* From its second tick on, the gradient "src.value" holds a NaN. The norm
 * output is √Σ g² (NaN then), or 1 with claim-finite: a node that breaks
 * the contract of #DISCO_PORT_FLAG_GRADIENT_NORM, to show what the check
 * takes on its word. TestNormedGradient flags its norm; TestPlainGradient
 * does not, and always writes 1. */
#define TEST_TYPE_NORMED_GRADIENT (test_normed_gradient_get_type ())
G_DECLARE_FINAL_TYPE (TestNormedGradient, test_normed_gradient, TEST, NORMED_GRADIENT, DiscoNode)
#define TEST_TYPE_PLAIN_GRADIENT (test_plain_gradient_get_type ())
G_DECLARE_FINAL_TYPE (TestPlainGradient, test_plain_gradient, TEST, PLAIN_GRADIENT, DiscoNode)

struct _TestNormedGradient
{
  DiscoNode parent_instance;
  gboolean claim_finite;
  guint ticks;
};
G_DEFINE_FINAL_TYPE (TestNormedGradient, test_normed_gradient, DISCO_TYPE_NODE)

struct _TestPlainGradient
{
  DiscoNode parent_instance;
  guint ticks;
};
G_DEFINE_FINAL_TYPE (TestPlainGradient, test_plain_gradient, DISCO_TYPE_NODE)

static gboolean
gradient_source_prepare (DiscoNode *node, GError **error)
{
  const gsize one[1] = { 1 };
  g_autoptr (DiscoTensor) norm = disco_tensor_new (1, one);

  disco_node_set_output (node, "norm", norm);
  disco_node_declare_output (node, "norm", 1, one);
  return TRUE;
}

static DiscoFlowReturn
gradient_source_write (DiscoNode *node, guint tick, gboolean claim_finite, GError **error)
{
  const gsize shape[1] = { 4 };
  DiscoTensor *gradient = disco_node_get_gradient (node, "src.value");
  float *g, *norm;
  double sum = 0;

  if (gradient == NULL)
    {
      g_autoptr (DiscoTensor) fresh = disco_tensor_new (1, shape);
      disco_node_set_gradient (node, "src.value", fresh);
      gradient = fresh;
    }
  if ((g = disco_tensor_write_host (gradient, error)) == NULL
      || (norm = disco_tensor_write_host (disco_node_get_output (node, "norm"), error)) == NULL)
    return DISCO_FLOW_ERROR;
  for (guint i = 0; i < 4; i++)
    {
      g[i] = i == 2 && tick > 0 ? NAN : (float) (i + 1);
      sum += (double) g[i] * g[i];
    }
  norm[0] = claim_finite ? 1.0f : (float) sqrt (sum);
  return DISCO_FLOW_OK;
}

static DiscoFlowReturn
test_normed_gradient_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  TestNormedGradient *self = TEST_NORMED_GRADIENT (node);

  return gradient_source_write (node, self->ticks++, self->claim_finite, error);
}

static DiscoFlowReturn
test_plain_gradient_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  TestPlainGradient *self = TEST_PLAIN_GRADIENT (node);

  return gradient_source_write (node, self->ticks++, TRUE, error);
}

static void
test_normed_gradient_set_property (GObject *object, guint id, const GValue *value,
                                   GParamSpec *pspec)
{
  TEST_NORMED_GRADIENT (object)->claim_finite = g_value_get_boolean (value);
}

static void
test_normed_gradient_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  g_value_set_boolean (value, TEST_NORMED_GRADIENT (object)->claim_finite);
}

static void
test_normed_gradient_class_init (TestNormedGradientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);

  object_class->set_property = test_normed_gradient_set_property;
  object_class->get_property = test_normed_gradient_get_property;
  g_object_class_install_property (
      object_class, 1,
      g_param_spec_boolean ("claim-finite", "Claim finite", "write 1 as the norm", FALSE,
                            G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS));
  node_class->prepare = gradient_source_prepare;
  node_class->process = test_normed_gradient_process;
  disco_node_class_set_metadata (node_class, "Normed gradient", "Testing", "a gradient, its norm");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "input", DISCO_PORT_FLAG_NONE, "ticks");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "norm", DISCO_PORT_FLAG_GRADIENT_NORM,
                             "√Σ g²");
}

static void
test_normed_gradient_init (TestNormedGradient *self)
{
}

static void
test_plain_gradient_class_init (TestPlainGradientClass *klass)
{
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);

  node_class->prepare = gradient_source_prepare;
  node_class->process = test_plain_gradient_process;
  disco_node_class_set_metadata (node_class, "Plain gradient", "Testing", "a gradient, a value");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "input", DISCO_PORT_FLAG_NONE, "ticks");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "norm", DISCO_PORT_FLAG_NONE, "√Σ g²");
}

static void
test_plain_gradient_init (TestPlainGradient *self)
{
}

/* ----- helpers -------------------------------------------------------------- */

static DiscoPipeline *
load (const char *text, GError **error)
{
  return disco_pipeline_new_from_string (text, NULL, error);
}

static const char *simple = "# comment\n"
                            "[pipeline]\n"
                            "seed = 7\n"
                            "\n"
                            "[numbers]\n"
                            "node = constant-source   # trailing comment\n"
                            "shape = 2,3\n"
                            "value = 1\n"
                            "step = 0.5\n"
                            "ticks = 10\n"
                            "ticks-per-epoch = 4\n"
                            "\n"
                            "[twice]\n"
                            "node = affine\n"
                            "input = numbers\n"
                            "scale = 2\n"
                            "\n"
                            "[log-a]\n"
                            "node = recorder\n"
                            "input = twice.output\n"
                            "\n"
                            "[log-b]\n"
                            "node = recorder\n"
                            "input = twice\n";

static void
test_pipeline_from_string_runs (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = load (simple, &error);
  g_auto (GStrv) order = NULL;
  guint64 ticks = 0;
  guint epochs = 0;
  double sum_a = 0, sum_b = 0;

  g_test_summary ("A file-syntax pipeline loads, orders its nodes and runs every tick "
                  "through every node; values are exact");
  g_assert_no_error (error);
  g_assert_cmpuint (disco_pipeline_get_seed (p), ==, 7);
  order = disco_pipeline_get_tick_order (p);
  g_assert_cmpstrv (order, ((const char *[]){ "numbers", "twice", "log-a", "log-b", NULL }));
  g_assert_true (disco_pipeline_run (p, NULL, &error));
  g_assert_no_error (error);

  g_object_get (disco_pipeline_get_node (p, "log-a"), "ticks", &ticks, "epochs-ended", &epochs,
                "sum", &sum_a, NULL);
  g_object_get (disco_pipeline_get_node (p, "log-b"), "sum", &sum_b, NULL);
  g_assert_cmpuint (ticks, ==, 10);
  /* 10 ticks in epochs of 4: 4 + 4 + 2. */
  g_assert_cmpuint (epochs, ==, 3);
  /* Σ_k 6 × 2 × (1 + 0.5 k) for k = 0..9 = 12 × (10 + 22.5) = 390. */
  g_assert_cmpfloat_with_epsilon (sum_a, 390.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (sum_b, 390.0, 1e-9);
}

static void
test_pipeline_broadcast_shares_tensor (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = load (simple, &error);

  g_test_summary ("Every consumer of an output reads the very same tensor (broadcast)");
  g_assert_no_error (error);
  g_assert_true (disco_pipeline_run (p, NULL, &error));
  g_assert_nonnull (disco_node_get_input (disco_pipeline_get_node (p, "log-a"), "input"));
  g_assert_true (disco_node_get_input (disco_pipeline_get_node (p, "log-a"), "input")
                 == disco_node_get_input (disco_pipeline_get_node (p, "log-b"), "input"));
  /* Last tick: value 1 + 0.5 × 9 = 5.5, doubled. */
  g_assert_cmpfloat (disco_tensor_get_value (
                         disco_node_get_input (disco_pipeline_get_node (p, "log-a"), "input"), 5),
                     ==, 11.0f);
}

typedef struct
{
  guint ticks;
  guint epochs[8];
  guint n_epochs;
  gboolean started;
  guint64 finished;
  GCancellable *cancel_at_tick_3;
} Seen;

static void
on_started (DiscoPipeline *p, Seen *seen)
{
  seen->started = TRUE;
}
static void
on_finished (DiscoPipeline *p, guint64 n, Seen *seen)
{
  seen->finished = n;
}

static void
on_tick (DiscoPipeline *p, DiscoTick *tick, Seen *seen)
{
  g_assert_cmpuint (tick->index, ==, seen->ticks);
  seen->ticks++;
  if (seen->cancel_at_tick_3 != NULL && seen->ticks == 3)
    g_cancellable_cancel (seen->cancel_at_tick_3);
}

static void
on_epoch (DiscoPipeline *p, guint epoch, Seen *seen)
{
  seen->epochs[seen->n_epochs++] = epoch;
}

static void
test_pipeline_signals (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = load (simple, &error);
  Seen seen = { 0 };

  g_test_summary ("started, tick, epoch-finished and finished follow the run");
  g_signal_connect (p, "started", G_CALLBACK (on_started), &seen);
  g_signal_connect (p, "tick", G_CALLBACK (on_tick), &seen);
  g_signal_connect (p, "epoch-finished", G_CALLBACK (on_epoch), &seen);
  g_signal_connect (p, "finished", G_CALLBACK (on_finished), &seen);
  g_assert_true (disco_pipeline_run (p, NULL, &error));
  g_assert_true (seen.started);
  g_assert_cmpuint (seen.ticks, ==, 10);
  g_assert_cmpuint (seen.n_epochs, ==, 3);
  g_assert_cmpuint (seen.epochs[0], ==, 1);
  g_assert_cmpuint (seen.epochs[2], ==, 3);
  g_assert_cmpuint (seen.finished, ==, 10);

  /* A second run starts over. */
  memset (&seen, 0, sizeof seen);
  g_assert_true (disco_pipeline_run (p, NULL, &error));
  g_assert_cmpuint (seen.ticks, ==, 10);
}

static void
test_pipeline_cancel (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = load (simple, &error);
  g_autoptr (GCancellable) cancellable = g_cancellable_new ();
  Seen seen = { 0 };
  guint64 ticks;

  g_test_summary ("A GCancellable stops the run between ticks with G_IO_ERROR_CANCELLED");
  seen.cancel_at_tick_3 = cancellable;
  g_signal_connect (p, "tick", G_CALLBACK (on_tick), &seen);
  g_signal_connect (p, "finished", G_CALLBACK (on_finished), &seen);
  g_assert_false (disco_pipeline_run (p, cancellable, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_CANCELLED);
  g_assert_cmpuint (seen.ticks, ==, 3);
  g_assert_cmpuint (seen.finished, ==, 0);
  g_object_get (disco_pipeline_get_node (p, "log-a"), "ticks", &ticks, NULL);
  g_assert_cmpuint (ticks, ==, 3);
}

static void
test_pipeline_max_ticks_and_overrides (void)
{
  const char *overrides[] = { "pipeline.max-ticks=2", "twice.scale=-1", "numbers.shape=1", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = disco_pipeline_new_from_string (simple, overrides, &error);
  double sum;

  g_test_summary ("Overrides replace file values; max-ticks ends the run early");
  g_assert_no_error (error);
  g_assert_true (disco_pipeline_run (p, NULL, &error));
  g_object_get (disco_pipeline_get_node (p, "log-a"), "sum", &sum, NULL);
  /* -(1) - (1.5) */
  g_assert_cmpfloat_with_epsilon (sum, -2.5, 1e-9);
}

static void
test_pipeline_built_from_code (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = disco_pipeline_new ();
  DiscoNode *src, *log;
  double sum;

  g_test_summary ("The same graph built with make_node, set and link runs the same");
  src = disco_pipeline_make_node (p, "constant-source", "src", &error);
  g_assert_no_error (error);
  g_assert_nonnull (disco_pipeline_make_node (p, "affine", "f", &error));
  log = disco_pipeline_make_node (p, "recorder", "log", &error);
  g_assert_nonnull (log);
  g_object_set (src, "ticks", 3, "value", 2.0, NULL);
  g_assert_true (disco_pipeline_set (p, "f.offset=1", &error));
  g_assert_true (disco_pipeline_set_node_property (p, "f.input", "src", &error));
  g_assert_true (disco_pipeline_link (p, "log.input", "f.output", &error));
  g_assert_no_error (error);
  g_assert_true (disco_pipeline_run (p, NULL, &error));
  g_object_get (log, "sum", &sum, NULL);
  g_assert_cmpfloat_with_epsilon (sum, 9.0, 1e-9);
  g_assert_true (disco_node_get_pipeline (src) == p);
  g_assert_cmpuint (disco_node_get_seed (src), !=, disco_node_get_seed (log));
}

static void
test_pipeline_dynamical_loops_are_legal (void)
{
  const char *text = "[src]\nnode = constant-source\n"
                     "[a]\nnode = test-leaky\ndrive = src\nfeedback = b\n"
                     "[b]\nnode = test-leaky\ndrive = a\n"
                     "[log]\nnode = recorder\ninput = b\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = load (text, &error);
  g_auto (GStrv) order = NULL;

  g_test_summary ("A loop between two dynamical nodes is a state coupling, not an error");
  g_assert_no_error (error);
  order = disco_pipeline_get_tick_order (p);
  g_assert_cmpstrv (order, ((const char *[]){ "src", "a", "b", "log", NULL }));
  g_assert_true (disco_node_is_dynamical (disco_pipeline_get_node (p, "a")));
  g_assert_false (disco_node_is_dynamical (disco_pipeline_get_node (p, "src")));
}

static void
test_pipeline_network_order (void)
{
  /* A 2-layer network with top-down feedback, written in a scrambled order:
   * "h2" and "control" come first in the file. */
  const char *text = "[h2]\nnode = test-leaky\ndrive = h1\nfeedback = control\n"
                     "[control]\nnode = test-leaky\ndrive = out\n"
                     "[report]\nnode = recorder\ninput = out\n"
                     "[h1]\nnode = test-leaky\ndrive = data\nfeedback = control\n"
                     "[data]\nnode = constant-source\n"
                     "[out]\nnode = test-leaky\ndrive = h2\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = load (text, &error);
  g_auto (GStrv) order = NULL;

  g_test_summary ("Layers run input-first whatever the file order, and a consumer of a "
                  "dynamical network runs after the whole network");
  g_assert_no_error (error);
  order = disco_pipeline_get_tick_order (p);
  g_assert_cmpstrv (order,
                    ((const char *[]){ "data", "h1", "h2", "out", "control", "report", NULL }));
}

/* ----- bad input: one row per error DESIGN.md §4 and the issue list -------- */

typedef struct
{
  const char *what;
  const char *text;
  const char *overrides[3];
  DiscoError code;
  const char *location; /* expected prefix of the message */
  const char *name;     /* a name the message must quote */
} BadInput;

/* Loads @row's text with its overrides. */
static DiscoPipeline *
load_row (const BadInput *row, GError **error)
{
  return disco_pipeline_new_from_string (row->text, row->overrides[0] ? row->overrides : NULL,
                                         error);
}

/* @error has @row's code, starts with its location and quotes its name. */
static void
assert_row_error (const BadInput *row, const GError *error)
{
  g_assert_error (error, DISCO_ERROR, (gint) row->code);
  if (!g_str_has_prefix (error->message, row->location))
    g_error ("%s: message \"%s\" does not start with \"%s\"", row->what, error->message,
             row->location);
  if (strstr (error->message, row->name) == NULL)
    g_error ("%s: message \"%s\" does not quote %s", row->what, error->message, row->name);
}

static const BadInput bad_inputs[] = {
  /* checks: unknown node type, with its line */
  { "unknown-type",
    "[src]\nnode = constant-source\n[x]\nnode = microcircut\n",
    { NULL },
    DISCO_ERROR_NO_SUCH_NODE_TYPE,
    "<string>:4:",
    "\"microcircut\"" },
  /* checks: unknown property */
  { "unknown-property",
    "[src]\nnode = constant-source\nvalu = 3\n",
    { NULL },
    DISCO_ERROR_NO_SUCH_PROPERTY,
    "<string>:3:",
    "\"valu\"" },
  /* checks: a value of the wrong type */
  { "wrong-type",
    "[src]\nnode = constant-source\nvalue = three\n",
    { NULL },
    DISCO_ERROR_BAD_VALUE,
    "<string>:3:",
    "\"value\"" },
  /* checks: a value out of range (negative for an unsigned) */
  { "out-of-range",
    "[src]\nnode = constant-source\nticks = -1\n",
    { NULL },
    DISCO_ERROR_BAD_VALUE,
    "<string>:3:",
    "\"ticks\"" },
  /* checks: a value out of range (too large) */
  { "too-large",
    "[src]\nnode = constant-source\nticks = 99999999999\n",
    { NULL },
    DISCO_ERROR_BAD_VALUE,
    "<string>:3:",
    "\"ticks\"" },
  /* checks: a bad enum value lists the choices */
  { "bad-enum",
    "[src]\nnode = constant-source\nphase = training\n",
    { NULL },
    DISCO_ERROR_BAD_VALUE,
    "<string>:3:",
    "train, validation" },
  /* checks: a link to a missing node */
  { "missing-node",
    "[src]\nnode = constant-source\n[log]\nnode = recorder\ninput = srcc\n",
    { NULL },
    DISCO_ERROR_NO_SUCH_NODE,
    "<string>:5:",
    "\"srcc\"" },
  /* checks: a link to a missing port */
  { "missing-port",
    "[src]\nnode = constant-source\n[log]\nnode = recorder\ninput = src.images\n",
    { NULL },
    DISCO_ERROR_NO_SUCH_PORT,
    "<string>:5:",
    "\"images\"" },
  /* checks: a link from an input port */
  { "link-from-input",
    "[src]\nnode = constant-source\n[f]\nnode = affine\ninput = src\n"
    "[log]\nnode = recorder\ninput = f.input\n",
    { NULL },
    DISCO_ERROR_LINK,
    "<string>:8:",
    "\"f.input\"" },
  /* checks: two producers into one input (the key given twice) */
  { "two-producers",
    "[src]\nnode = constant-source\n[log]\nnode = recorder\ninput = src\ninput = src\n",
    { NULL },
    DISCO_ERROR_SYNTAX,
    "<string>:6:",
    "\"input\"" },
  /* checks: a required input left unlinked */
  { "unlinked-input",
    "[src]\nnode = constant-source\n[log]\nnode = recorder\n",
    { NULL },
    DISCO_ERROR_LINK,
    "<string>:3:",
    "\"input\"" },
  /* checks: an algebraic loop */
  { "algebraic-loop",
    "[src]\nnode = constant-source\n[f]\nnode = affine\ninput = g\n[g]\nnode = affine\n"
    "input = f\n",
    { NULL },
    DISCO_ERROR_ALGEBRAIC_LOOP,
    "<string>:8:",
    "g → f → g" },
  /* checks: a loop through one dynamical and one ordinary node is still algebraic */
  { "half-dynamical-loop",
    "[src]\nnode = constant-source\n[a]\nnode = test-leaky\ndrive = f\n[f]\nnode = affine\n"
    "input = a\n",
    { NULL },
    DISCO_ERROR_ALGEBRAIC_LOOP,
    "<string>:",
    "→" },
  /* checks: a self loop */
  { "self-loop",
    "[src]\nnode = constant-source\n[f]\nnode = affine\ninput = f\n",
    { NULL },
    DISCO_ERROR_ALGEBRAIC_LOOP,
    "<string>:5:",
    "f → f" },
  /* checks: syntax error, with its line */
  { "syntax",
    "[src]\nnode = constant-source\nthis line is wrong\n",
    { NULL },
    DISCO_ERROR_SYNTAX,
    "<string>:3:",
    "this line is wrong" },
  /* checks: an unterminated group header */
  { "bad-header",
    "[src\nnode = constant-source\n",
    { NULL },
    DISCO_ERROR_SYNTAX,
    "<string>:1:",
    "[src" },
  /* checks: a key before any group */
  { "key-outside-group",
    "seed = 3\n[src]\nnode = constant-source\n",
    { NULL },
    DISCO_ERROR_SYNTAX,
    "<string>:1:",
    "\"seed\"" },
  /* checks: a group twice */
  { "duplicate-group",
    "[src]\nnode = constant-source\n[src]\nnode = affine\n",
    { NULL },
    DISCO_ERROR_SYNTAX,
    "<string>:3:",
    "[src]" },
  /* checks: a group without a type */
  { "no-type", "[src]\nvalue = 3\n", { NULL }, DISCO_ERROR_SYNTAX, "<string>:1:", "[src]" },
  /* checks: an unknown run-wide setting */
  { "bad-pipeline-key",
    "[pipeline]\nsed = 3\n[src]\nnode = constant-source\n",
    { NULL },
    DISCO_ERROR_NO_SUCH_PROPERTY,
    "<string>:2:",
    "\"sed\"" },
  /* checks: an override naming a missing node */
  { "override-missing-node",
    "[src]\nnode = constant-source\n",
    { "srcc.value=1", NULL },
    DISCO_ERROR_NO_SUCH_NODE,
    "override \"srcc.value=1\":",
    "\"srcc\"" },
  /* checks: an override naming a missing property */
  { "override-missing-property",
    "[src]\nnode = constant-source\n",
    { "src.valu=1", NULL },
    DISCO_ERROR_NO_SUCH_PROPERTY,
    "override \"src.valu=1\":",
    "\"valu\"" },
  /* checks: an override with a bad value */
  { "override-bad-value",
    "[src]\nnode = constant-source\n",
    { "src.ticks=x", NULL },
    DISCO_ERROR_BAD_VALUE,
    "override \"src.ticks=x\":",
    "\"ticks\"" },
  /* checks: an override without '=' */
  { "override-syntax",
    "[src]\nnode = constant-source\n",
    { "src.ticks", NULL },
    DISCO_ERROR_SYNTAX,
    "override \"src.ticks\":",
    "node.property=value" },
  /* checks: a pipeline without a source */
  { "no-source",
    "[a]\nnode = test-leaky\ndrive = b\n[b]\nnode = test-leaky\ndrive = a\n",
    { NULL },
    DISCO_ERROR_LINK,
    "",
    "no source" },
  /* checks: device cuda on a build or machine without it */
  { "no-cuda",
    "[pipeline]\ndevice = cuda\n[src]\nnode = constant-source\n",
    { NULL },
    DISCO_ERROR_DEVICE,
    "",
    "\"cuda\"" },
  /* checks: a node that asks for CUDA in a pipeline on the CPU */
  { "node-on-cuda",
    "[pipeline]\ndevice = cpu\n[src]\nnode = constant-source\ndevice = cuda\n",
    { NULL },
    DISCO_ERROR_DEVICE,
    "",
    "\"src\" (DiscoConstantSource) has device = cuda" },
  /* checks: a bad node device */
  { "node-device-enum",
    "[src]\nnode = constant-source\ndevice = tpu\n",
    { NULL },
    DISCO_ERROR_BAD_VALUE,
    "<string>:3",
    "tpu" },
  /* checks: a UTF-8 byte-order mark (issue #15) */
  { "bom",
    "\xef\xbb\xbf[src]\nnode = constant-source\n",
    { NULL },
    DISCO_ERROR_SYNTAX,
    "<string>:1:1:",
    "byte-order mark (BOM)" },
  /* checks: a control character, with line and column (issue #15) */
  { "control-character",
    "[src]\nnode = constant-source\nticks = 3\x01\n",
    { NULL },
    DISCO_ERROR_SYNTAX,
    "<string>:3:10:",
    "U+0001 (SOH)" },
  /* checks: DEL is a control character too */
  { "delete-character",
    "[src]\nnode = constant-\x7fsource\n",
    { NULL },
    DISCO_ERROR_SYNTAX,
    "<string>:2:17:",
    "U+007F (DEL)" },
  /* checks: CR only as part of CR LF */
  { "lone-cr",
    "[src]\r\nnode = constant-source\rticks = 2\r\n",
    { NULL },
    DISCO_ERROR_SYNTAX,
    "<string>:2:23:",
    "U+000D (CR)" },
  /* checks: invalid UTF-8, with its column in characters */
  { "invalid-utf8",
    "[src]\nnode = constant-source # é \xff\n",
    { NULL },
    DISCO_ERROR_SYNTAX,
    "<string>:2:28:",
    "byte 0xFF" },
  /* checks: a control character in an override */
  { "override-control",
    "[src]\nnode = constant-source\n",
    { "src.ticks=3\x1b[0m", NULL },
    DISCO_ERROR_SYNTAX,
    "override \"src.ticks=3\\033[0m\":",
    "U+001B (ESC)" },
};

/* ----- bad input found when the run starts (issue #15): before any tick ---- */

static const BadInput bad_runs[] = {
  /* checks: a shape with more values than any memory holds (was a CRITICAL) */
  { "overflowing-shape",
    "[src]\nnode = constant-source\nshape = 4294967295,4294967295,3\n"
    "[log]\nnode = recorder\ninput = src\n",
    { NULL },
    DISCO_ERROR_BAD_VALUE,
    "<string>:1:",
    "more values than any memory holds" },
  /* checks: a declared output over the memory limit (used to abort in g_malloc) */
  { "output-over-memory-limit",
    "[src]\nnode = constant-source\nshape = 1000,1000\n"
    "[log]\nnode = recorder\ninput = src\n",
    { "pipeline.memory-limit=1", NULL },
    DISCO_ERROR_MEMORY,
    "<string>:1: node \"src\" (constant-source): output \"output\"",
    "over the run's memory limit of 1.0 MiB" },
  /* checks: an output larger than any machine's memory, with the automatic limit */
  { "output-over-available-memory",
    "[src]\nnode = constant-source\nshape = 1000000,1000000\n"
    "[log]\nnode = recorder\ninput = src\n",
    { NULL },
    DISCO_ERROR_MEMORY,
    "<string>:1:",
    "needs 3.6 TiB" },
  /* checks: a parameter over the limit fails in prepare, naming the layer */
  { "parameter-over-memory-limit",
    "[src]\nnode = constant-source\nshape = 2,1000\n"
    "[h1]\nnode = rate-layer\ninput = src\nsize = 1000\n",
    { "pipeline.memory-limit=1", NULL },
    DISCO_ERROR_MEMORY,
    "<string>:4: node \"h1\" (rate-layer): a 1000×1000 tensor needs 3.8 MiB",
    "pipeline.memory-limit = 1 MiB" },
};

static void
test_pipeline_bad_run (gconstpointer data)
{
  const BadInput *row = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = NULL;

  g_test_summary (row->what);
  p = load_row (row, &error);
  g_assert_no_error (error);
  g_assert_false (disco_pipeline_run (p, NULL, &error));
  assert_row_error (row, error);
}

static void
test_pipeline_nul_byte (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = NULL;
  g_autofree char *dir = g_dir_make_tmp ("disco-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "nul.pipeline", NULL);
  static const char text[] = "[src]\nnode = constant-source\n\0[log]\nnode = recorder\n";

  g_test_summary ("A NUL byte in a file is an error at its line and column, not the file's "
                  "end (issue #15: the rest of the file used to be dropped silently)");
  g_assert_true (g_file_set_contents (path, text, sizeof text - 1, NULL));
  p = disco_pipeline_new_from_file (path, NULL, &error);
  g_assert_null (p);
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX);
  g_assert_true (g_str_has_suffix (error->message,
                                   "nul.pipeline:3:1: U+0000 (NUL): a NUL byte is not allowed "
                                   "(is this a text file?)"));
  g_remove (path);
  g_rmdir (dir);
}

static void
test_pipeline_checkpoint_entry_twice (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (GKeyFile) state = NULL;
  g_autofree char *dir = g_dir_make_tmp ("disco-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "state.ini", NULL);
  g_autofree char *sum = NULL;
  g_autoptr (GString) text =
      g_string_new ("[checkpoint]\nepoch=1\nticks=5\nseed=1\n\n[files]\n"
                    "h1.weight.npy=bytes=136 sha256=1bffa9e9237237c7b10838c66d755ddc632950ff0ca74"
                    "029894345aaaaaaaaaa sha256=1bffa9e929a8b3b52a\n");

  g_test_summary ("A [files] entry of state.ini that gives sha256= twice is refused, and "
                  "leaks nothing (found by tests/fuzz/fuzz-state; the ASan build checks)");
  sum = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) text->str, text->len);
  g_string_append_printf (text, "[integrity]\nsha256=%s\n", sum);
  g_assert_true (g_file_set_contents (path, text->str, text->len, NULL));
  state = disco_checkpoint_verify (dir, &error);
  g_assert_null (state);
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_DATA);
  g_assert_nonnull (strstr (error->message, "entry \"h1.weight.npy\" of [files]"));
  g_remove (path);
  g_rmdir (dir);
}

static void
test_pipeline_crlf (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p =
      disco_pipeline_new_from_string ("[src]\r\nnode = constant-source\r\nticks = 2\r\n"
                                      "[log]\r\nnode = recorder\r\ninput = src\r\n",
                                      NULL, &error);

  g_test_summary ("CR LF line ends are line ends");
  g_assert_no_error (error);
  g_assert_true (disco_pipeline_run (p, NULL, &error));
  g_assert_no_error (error);
}

static void
test_pipeline_bad_input (gconstpointer data)
{
  const BadInput *row = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = NULL;

  g_test_summary (row->what);
  p = load_row (row, &error);
  g_assert_null (p);
  assert_row_error (row, error);
}

static void
test_pipeline_missing_file (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = NULL;
  g_autofree char *dir = g_dir_make_tmp ("disco-XXXXXX", NULL);

  g_test_summary ("A missing file and a folder in place of a file are I/O errors naming "
                  "the path");
  p = disco_pipeline_new_from_file ("/nonexistent/x.pipeline", NULL, &error);
  g_assert_null (p);
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_IO);
  g_assert_true (g_str_has_prefix (error->message, "/nonexistent/x.pipeline:"));
  g_clear_error (&error);

  p = disco_pipeline_new_from_file (dir, NULL, &error);
  g_assert_null (p);
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_IO);
  g_assert_true (g_str_has_prefix (error->message, dir));
  g_rmdir (dir);
}

static void
test_pipeline_api_errors (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = load (simple, &error);
  g_autoptr (DiscoNode) orphan = NULL;

  g_test_summary ("Code-built pipelines get the same errors as files");
  g_assert_false (disco_pipeline_link (p, "log-a.input", "numbers", &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_LINK);
  g_assert_nonnull (strstr (error->message, "already has a producer"));
  g_clear_error (&error);

  g_assert_null (disco_pipeline_make_node (p, "affine", "twice", &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE);
  g_clear_error (&error);

  g_assert_null (disco_pipeline_make_node (p, "affine", "a.b", &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE);
  g_clear_error (&error);

  g_assert_false (disco_pipeline_set (p, "twice.scale", &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX);
  g_clear_error (&error);

  g_assert_false (disco_pipeline_set (p, "twice.name=x", &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_NO_SUCH_PROPERTY);
  g_clear_error (&error);

  g_assert_false (disco_pipeline_set (p, "numbers.output=twice", &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_LINK);
  g_clear_error (&error);
}

static void
test_pipeline_node_error_stops_run (void)
{
  const char *text =
      "[src]\nnode = constant-source\nshape = 2,x\n[log]\nnode = recorder\ninput = src\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = load (text, &error);
  g_autofree char *dir = g_dir_make_tmp ("disco-XXXXXX", NULL);
  g_autofree char *out = g_build_filename (dir, "out", NULL);

  g_test_summary ("A node that fails to prepare stops the run before any tick and before "
                  "the output folder exists");
  g_assert_no_error (error);
  g_object_set (p, "output-dir", out, NULL);
  g_assert_false (disco_pipeline_run (p, NULL, &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE);
  g_assert_true (g_str_has_prefix (error->message, "<string>:1:"));
  g_assert_nonnull (strstr (error->message, "\"shape\""));
  g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  g_rmdir (dir);
}

static void
test_pipeline_non_finite_stops_run (void)
{
  const char *text =
      "[src]\nnode = constant-source\nshape = 2,3\nvalue = 1e37\nstep = 1e37\nticks = 10\n"
      "ticks-per-epoch = 2\nphase = train\n"
      "[big]\nnode = affine\ninput = src\nscale = 10\n"
      "[log]\nnode = recorder\ninput = big\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = load (text, &error);
  g_autoptr (DiscoPipeline) unchecked = NULL;
  Seen seen = { 0 };

  g_test_summary ("A value that overflows to infinity stops the run in the tick it appears, "
                  "naming the tick, the node and the tensor; check-finite = false runs on");
  g_assert_no_error (error);
  g_assert_false (disco_pipeline_run (p, NULL, &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_NUMERIC);
  /* Tick 3 emits 4e37; times 10 is past the largest float. */
  g_assert_cmpstr (error->message, ==,
                   "epoch 2, train, batch 1: node \"big\" (affine) produced a non-finite "
                   "value: its output \"output\" holds +inf at [0, 0] (6 of 6 values not "
                   "finite); the run stops");
  g_clear_error (&error);

  unchecked = load (text, &error);
  g_assert_no_error (error);
  g_object_set (unchecked, "check-finite", FALSE, NULL);
  g_signal_connect (unchecked, "finished", G_CALLBACK (on_finished), &seen);
  g_assert_true (disco_pipeline_run (unchecked, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (seen.finished, ==, 10);
}

static void
test_pipeline_non_finite_index (void)
{
  /* @count values from 0 to 1e38 times 4: the tail past FLT_MAX / 4 is
   * +inf, its first value deep in a block the check scans eight values at
   * a time; 300,000 values are scanned in pieces on the nodes' threads (the
   * first infinity in the fourth piece of four). */
  const guint counts[] = { 10000, 300000 };

  g_test_summary ("The finiteness check names the first infinity of a long tensor and counts "
                  "the rest, as a scan of the values one by one finds them, also when it scans "
                  "in pieces on several threads");
  for (guint c = 0; c < G_N_ELEMENTS (counts); c++)
    {
      g_autofree char *text =
          g_strdup_printf ("[src]\nnode = sweep-source\nstart = 0\nstop = 1e38\ncount = %u\n"
                           "batch-size = %u\n"
                           "[big]\nnode = affine\ninput = src\nscale = 4\n",
                           counts[c], counts[c]);
      g_autoptr (GError) error = NULL;
      g_autoptr (DiscoPipeline) unchecked = load (text, &error);
      g_autoptr (DiscoPipeline) p = NULL;
      g_autofree char *expected = NULL;
      const float *values;
      gsize first = 0, n_bad = 0;

      g_assert_no_error (error);
      g_object_set (unchecked, "check-finite", FALSE, NULL);
      g_assert_true (disco_pipeline_run (unchecked, NULL, &error));
      g_assert_no_error (error);
      values = disco_tensor_read_host (
          disco_node_get_output (disco_pipeline_get_node (unchecked, "big"), "output"), &error);
      g_assert_no_error (error);
      while (first < counts[c] && isfinite (values[first]))
        first++;
      for (gsize i = first; i < counts[c]; i++)
        n_bad += !isfinite (values[i]);
      g_assert_cmpuint (first, >, c == 0 ? 4096 : 3 * counts[c] / 4);
      g_assert_cmpuint (first, <, counts[c]);

      p = load (text, &error);
      g_assert_no_error (error);
      g_assert_false (disco_pipeline_run (p, NULL, &error));
      g_assert_error (error, DISCO_ERROR, DISCO_ERROR_NUMERIC);
      expected = g_strdup_printf ("holds +inf at [%" G_GSIZE_FORMAT ", 0] (%" G_GSIZE_FORMAT
                                  " of %u values not finite)",
                                  first, n_bad, counts[c]);
      g_assert_nonnull (strstr (error->message, expected));
    }
}

static void
test_pipeline_gradient_norm (void)
{
  const char *source = "[src]\nnode = constant-source\nshape = 1\nticks = 3\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) plain = NULL, honest = NULL, claim = NULL;
  g_autofree char *plain_text =
      g_strconcat (source, "[g]\nnode = test-plain-gradient\ninput = src\n", NULL);
  g_autofree char *normed_text =
      g_strconcat (source, "[g]\nnode = test-normed-gradient\ninput = src\n", NULL);

  g_test_summary ("A NaN gradient stops the run in its tick: found by scanning the gradient "
                  "(beside an unflagged finite value), or by the node's gradient norm "
                  "(DISCO_PORT_FLAG_GRADIENT_NORM), which the check takes for the gradients "
                  "without scanning them: a node that claims a finite norm runs on");
  plain = load (plain_text, &error);
  g_assert_no_error (error);
  g_assert_false (disco_pipeline_run (plain, NULL, &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_NUMERIC);
  g_assert_nonnull (strstr (error->message, "node \"g\" (test-plain-gradient) produced a "
                                            "non-finite value: the gradient it publishes for "
                                            "\"src.value\" holds NaN at [2] (1 of 4 values "
                                            "not finite)"));
  g_clear_error (&error);

  honest = load (normed_text, &error);
  g_assert_no_error (error);
  g_assert_false (disco_pipeline_run (honest, NULL, &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_NUMERIC);
  g_assert_nonnull (strstr (error->message, "its output \"norm\" holds NaN at [0]"));
  g_clear_error (&error);

  claim = load (normed_text, &error);
  g_assert_no_error (error);
  g_assert_true (disco_pipeline_set (claim, "g.claim-finite=true", &error));
  g_assert_true (disco_pipeline_run (claim, NULL, &error));
  g_assert_no_error (error);
}

/* A chain and a fan-out of @n nodes, as text, loaded and validated. */
static void
test_pipeline_validates_large_graphs (void)
{
  const guint n = 5000;

  /* How long it takes is tools/disco-bench-validate's to say (100 000 nodes);
   * here, that a large graph written backwards gets its tick order right. */
  g_test_summary ("5 000-node chains and fan-outs, written last to first, load and validate "
                  "in the order of their links");
  for (guint fan_out = 0; fan_out < 2; fan_out++)
    {
      g_autoptr (GString) text = g_string_new ("[src]\nnode = constant-source\n");
      g_autoptr (GError) error = NULL;
      g_autoptr (DiscoPipeline) p = NULL;
      g_auto (GStrv) order = NULL;
      gint64 start;

      /* Written last to first: the tick order must follow the links. */
      for (guint i = n - 1; i >= 1; i--)
        {
          g_string_append_printf (text, "[n%u]\nnode = affine\n", i);
          if (fan_out || i == 1)
            g_string_append (text, "input = src\n");
          else
            g_string_append_printf (text, "input = n%u\n", i - 1);
        }
      start = g_get_monotonic_time ();
      p = load (text->str, &error);
      g_assert_no_error (error);
      g_test_message ("%s of %u nodes: loaded and validated in %.2f s",
                      fan_out ? "fan-out" : "chain", n, (g_get_monotonic_time () - start) / 1e6);
      order = disco_pipeline_get_tick_order (p);
      g_assert_cmpuint (g_strv_length (order), ==, n);
      g_assert_cmpstr (order[0], ==, "src");
      g_assert_cmpstr (order[1], ==, fan_out ? "n4999" : "n1");
      g_assert_cmpstr (order[n - 1], ==, fan_out ? "n1" : "n4999");
    }
}

static void
test_pipeline_writes_atomically (void)
{
  const char *text =
      "[src]\nnode = constant-source\nticks = 3\n[log]\nnode = recorder\ninput = src\n"
      "path = sub/seen.csv\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = load (text, &error);
  g_autofree char *dir = g_dir_make_tmp ("disco-XXXXXX", NULL);
  g_autofree char *csv = g_build_filename (dir, "sub", "seen.csv", NULL);
  g_autofree char *contents = NULL;
  g_autofree char *sub = g_build_filename (dir, "sub", NULL);
  g_autoptr (GDir) listing = NULL;

  g_test_summary ("Output files land whole in the output folder, with no temporary left");
  g_object_set (p, "output-dir", dir, NULL);
  g_assert_true (disco_pipeline_run (p, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (csv, &contents, NULL, NULL));
  g_assert_cmpstr (contents, ==,
                   "tick,epoch,batch,phase,elements,sum\n"
                   "0,0,0,none,1,0\n1,0,1,none,1,0\n2,0,2,none,1,0\n");
  listing = g_dir_open (sub, 0, NULL);
  g_assert_cmpstr (g_dir_read_name (listing), ==, "seen.csv");
  g_assert_null (g_dir_read_name (listing));
}

/* ----- the output folder and checkpoints (issue #15) ------------------------- */

static const char *epochs_text = "[src]\nnode = constant-source\nticks = 4\nticks-per-epoch = 2\n"
                                 "[log]\nnode = recorder\ninput = src\npath = sub/seen.csv\n";

static DiscoPipeline *
epochs_pipeline (const char *extra, const char *dir)
{
  g_autofree char *text = g_strconcat (epochs_text, extra, NULL);
  g_autoptr (GError) error = NULL;
  DiscoPipeline *p = load (text, &error);

  g_assert_no_error (error);
  g_object_set (p, "output-dir", dir, NULL);
  return p;
}

static void
test_pipeline_checkpoint_of_another_pipeline (void)
{
  g_autofree char *dir = g_dir_make_tmp ("disco-XXXXXX", NULL);
  g_autofree char *checkpoint = g_build_filename (dir, "checkpoint", NULL);
  g_autoptr (DiscoPipeline) first = epochs_pipeline ("", dir);
  g_autoptr (DiscoPipeline) other = NULL;
  g_autoptr (DiscoPipeline) same = NULL;
  g_autoptr (GKeyFile) state = NULL;
  g_autoptr (GError) error = NULL;

  g_test_summary ("A checkpoint proves itself (disco_checkpoint_verify) and resumes only "
                  "into the pipeline that wrote it: another node set is a DATA error naming "
                  "the node");
  g_assert_true (disco_pipeline_run (first, NULL, &error));
  g_assert_no_error (error);
  state = disco_checkpoint_verify (checkpoint, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_key_file_get_uint64 (state, "checkpoint", "epoch", NULL), ==, 2);

  other = epochs_pipeline ("[twice]\nnode = affine\ninput = src\n", dir);
  g_object_set (other, "resume", checkpoint, NULL);
  g_assert_false (disco_pipeline_run (other, NULL, &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_DATA);
  g_assert_nonnull (strstr (error->message, "a checkpoint of another pipeline: it has no "
                                            "node \"twice\" (affine)"));
  g_clear_error (&error);

  same = epochs_pipeline ("", dir);
  g_object_set (same, "resume", checkpoint, NULL);
  g_assert_true (disco_pipeline_run (same, NULL, &error));
  g_assert_no_error (error);
}

static void
test_pipeline_output_folder_in_use (void)
{
  g_autofree char *dir = g_dir_make_tmp ("disco-XXXXXX", NULL);
  g_autofree char *meta = g_build_filename (dir, ".disco", NULL);
  g_autofree char *lock = g_build_filename (meta, "lock", NULL);
  g_autofree char *holder = g_strdup_printf ("%ld %s\n", (long) getpid (), g_get_host_name ());
  g_autofree char *expected = g_strdup_printf ("in use by another run: process %ld on %s",
                                               (long) getpid (), g_get_host_name ());
  g_autofree char *csv = g_build_filename (dir, "sub", "seen.csv", NULL);
  g_autoptr (DiscoPipeline) p = epochs_pipeline ("", dir);
  g_autoptr (GError) error = NULL;
  int fd;

  g_test_summary ("A run is its output folder's only writer: while another holds the lock "
                  "the run is refused, naming the holder, and writes nothing; then it runs "
                  "and leaves no lock");
  g_assert_cmpint (g_mkdir_with_parents (meta, 0755), ==, 0);
  fd = g_open (lock, O_RDWR | O_CREAT, 0644);
  g_assert_cmpint (fd, >=, 0);
  g_assert_cmpint (flock (fd, LOCK_EX | LOCK_NB), ==, 0);
  g_assert_cmpint (write (fd, holder, strlen (holder)), ==, (gssize) strlen (holder));

  g_assert_false (disco_pipeline_run (p, NULL, &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_IO);
  g_assert_nonnull (strstr (error->message, expected));
  g_assert_false (g_file_test (csv, G_FILE_TEST_EXISTS));
  g_clear_error (&error);

  g_unlink (lock);
  close (fd);
  g_assert_true (disco_pipeline_run (p, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_test (csv, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (lock, G_FILE_TEST_EXISTS));
}

static void
test_pipeline_output_modes (void)
{
  g_autofree char *dir = g_dir_make_tmp ("disco-XXXXXX", NULL);
  g_autofree char *keep = g_build_filename (dir, "keep.txt", NULL);
  g_autofree char *sub = g_build_filename (dir, "sub", NULL);
  g_autofree char *other_csv = g_build_filename (dir, "other.csv", NULL);
  g_autofree char *state = g_build_filename (dir, "checkpoint", "state.ini", NULL);
  g_autoptr (DiscoPipeline) first = epochs_pipeline ("", dir);
  g_autoptr (DiscoPipeline) refused = epochs_pipeline ("", dir);
  g_autoptr (DiscoPipeline) replacing = NULL;
  g_autoptr (GError) error = NULL;
  const char *other_path[] = { "log.path=other.csv", NULL };

  g_test_summary ("DISCO_OUTPUT_MODE_NEW refuses a folder that holds a run; "
                  "DISCO_OUTPUT_MODE_OVERWRITE removes exactly the files the previous run "
                  "recorded (and the folders that leaves empty) and its checkpoint");
  g_assert_true (disco_pipeline_run (first, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_set_contents (keep, "mine", -1, NULL));

  disco_pipeline_set_output_mode (refused, DISCO_OUTPUT_MODE_NEW);
  g_assert_false (disco_pipeline_run (refused, NULL, &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "holds a previous run (checkpoint/state.ini and "
                                            "1 more file it wrote)"));
  g_clear_error (&error);

  replacing = disco_pipeline_new_from_string (epochs_text, other_path, &error);
  g_assert_no_error (error);
  g_object_set (replacing, "output-dir", dir, NULL);
  disco_pipeline_set_output_mode (replacing, DISCO_OUTPUT_MODE_OVERWRITE);
  g_assert_cmpint (disco_pipeline_get_output_mode (replacing), ==, DISCO_OUTPUT_MODE_OVERWRITE);
  g_assert_true (disco_pipeline_run (replacing, NULL, &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (sub, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (other_csv, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (keep, G_FILE_TEST_EXISTS));
  g_assert_true (g_file_test (state, G_FILE_TEST_EXISTS));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  disco_registry_register ("test-leaky", TEST_TYPE_LEAKY);
  disco_registry_register ("test-normed-gradient", TEST_TYPE_NORMED_GRADIENT);
  disco_registry_register ("test-plain-gradient", TEST_TYPE_PLAIN_GRADIENT);

  g_test_add_func ("/disco/pipeline/from-string-runs", test_pipeline_from_string_runs);
  g_test_add_func ("/disco/pipeline/broadcast-shares-tensor",
                   test_pipeline_broadcast_shares_tensor);
  g_test_add_func ("/disco/pipeline/signals", test_pipeline_signals);
  g_test_add_func ("/disco/pipeline/cancel", test_pipeline_cancel);
  g_test_add_func ("/disco/pipeline/max-ticks-and-overrides",
                   test_pipeline_max_ticks_and_overrides);
  g_test_add_func ("/disco/pipeline/built-from-code", test_pipeline_built_from_code);
  g_test_add_func ("/disco/pipeline/dynamical-loops-are-legal",
                   test_pipeline_dynamical_loops_are_legal);
  g_test_add_func ("/disco/pipeline/network-order", test_pipeline_network_order);
  g_test_add_func ("/disco/pipeline/missing-file", test_pipeline_missing_file);
  g_test_add_func ("/disco/pipeline/api-errors", test_pipeline_api_errors);
  g_test_add_func ("/disco/pipeline/node-error-stops-run", test_pipeline_node_error_stops_run);
  g_test_add_func ("/disco/pipeline/writes-atomically", test_pipeline_writes_atomically);
  g_test_add_func ("/disco/pipeline/non-finite-stops-run", test_pipeline_non_finite_stops_run);
  g_test_add_func ("/disco/pipeline/non-finite-index", test_pipeline_non_finite_index);
  g_test_add_func ("/disco/pipeline/gradient-norm", test_pipeline_gradient_norm);
  g_test_add_func ("/disco/pipeline/validates-large-graphs", test_pipeline_validates_large_graphs);
  g_test_add_func ("/disco/pipeline/checkpoint-of-another-pipeline",
                   test_pipeline_checkpoint_of_another_pipeline);
  g_test_add_func ("/disco/pipeline/output-folder-in-use", test_pipeline_output_folder_in_use);
  g_test_add_func ("/disco/pipeline/output-modes", test_pipeline_output_modes);
  for (guint i = 0; i < G_N_ELEMENTS (bad_inputs); i++)
    {
      g_autofree char *path = g_strdup_printf ("/disco/pipeline/bad-input/%s", bad_inputs[i].what);
      g_test_add_data_func (path, &bad_inputs[i], test_pipeline_bad_input);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad_runs); i++)
    {
      g_autofree char *path = g_strdup_printf ("/disco/pipeline/bad-run/%s", bad_runs[i].what);
      g_test_add_data_func (path, &bad_runs[i], test_pipeline_bad_run);
    }
  g_test_add_func ("/disco/pipeline/nul-byte", test_pipeline_nul_byte);
  g_test_add_func ("/disco/pipeline/crlf", test_pipeline_crlf);
  g_test_add_func ("/disco/pipeline/checkpoint-entry-twice", test_pipeline_checkpoint_entry_twice);
  return g_test_run ();
}
