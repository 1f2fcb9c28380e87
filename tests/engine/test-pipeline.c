/* test-pipeline.c: building, validating and running pipelines; every bad input */
#include <disco/disco.h>

#include <glib/gstdio.h>
#include <string.h>

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
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "drive", DISCO_PORT_FLAG_NONE,
                             "drive");
  disco_node_class_add_port (node_class, DISCO_PORT_INPUT, "feedback",
                             DISCO_PORT_FLAG_OPTIONAL, "feedback");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "state", DISCO_PORT_FLAG_NONE,
                             "u");
}

static void
test_leaky_init (TestLeaky *self)
{
}

/* ----- helpers -------------------------------------------------------------- */

static DiscoPipeline *
load (const char *text, GError **error)
{
  return disco_pipeline_new_from_string (text, NULL, error);
}

static const char *simple =
  "# comment\n"
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
  g_assert_cmpstrv (order, ((const char *[]) { "numbers", "twice", "log-a", "log-b", NULL }));
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
  g_assert_true (disco_node_get_input (disco_pipeline_get_node (p, "log-a"), "input") ==
                 disco_node_get_input (disco_pipeline_get_node (p, "log-b"), "input"));
  /* Last tick: value 1 + 0.5 × 9 = 5.5, doubled. */
  g_assert_cmpfloat (disco_tensor_get_value (disco_node_get_input (disco_pipeline_get_node (p, "log-a"), "input"), 5), ==, 11.0f);
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

static void on_started (DiscoPipeline *p, Seen *seen) { seen->started = TRUE; }
static void on_finished (DiscoPipeline *p, guint64 n, Seen *seen) { seen->finished = n; }

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
  const char *overrides[] = { "pipeline.max-ticks=2", "twice.scale=-1", "numbers.shape=1",
                              NULL };
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
  const char *text =
    "[src]\nnode = constant-source\n"
    "[a]\nnode = test-leaky\ndrive = src\nfeedback = b\n"
    "[b]\nnode = test-leaky\ndrive = a\n"
    "[log]\nnode = recorder\ninput = b\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = load (text, &error);
  g_auto (GStrv) order = NULL;

  g_test_summary ("A loop between two dynamical nodes is a state coupling, not an error");
  g_assert_no_error (error);
  order = disco_pipeline_get_tick_order (p);
  g_assert_cmpstrv (order, ((const char *[]) { "src", "a", "b", "log", NULL }));
  g_assert_true (disco_node_is_dynamical (disco_pipeline_get_node (p, "a")));
  g_assert_false (disco_node_is_dynamical (disco_pipeline_get_node (p, "src")));
}

static void
test_pipeline_network_order (void)
{
  /* A 2-layer network with top-down feedback, written in a scrambled order:
   * "h2" and "control" come first in the file. */
  const char *text =
    "[h2]\nnode = test-leaky\ndrive = h1\nfeedback = control\n"
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
  g_assert_cmpstrv (order, ((const char *[]) { "data", "h1", "h2", "out", "control", "report",
                                               NULL }));
}

/* ----- bad input: one row per error DESIGN.md §4 and the issue list -------- */

typedef struct
{
  const char *what;
  const char *text;
  const char *overrides[3];
  DiscoError code;
  const char *location;   /* expected prefix of the message */
  const char *name;       /* a name the message must quote */
} BadInput;

static const BadInput bad_inputs[] = {
  /* checks: unknown node type, with its line */
  { "unknown-type", "[src]\nnode = constant-source\n[x]\nnode = microcircut\n", { NULL },
    DISCO_ERROR_NO_SUCH_NODE_TYPE, "<string>:4:", "\"microcircut\"" },
  /* checks: unknown property */
  { "unknown-property", "[src]\nnode = constant-source\nvalu = 3\n", { NULL },
    DISCO_ERROR_NO_SUCH_PROPERTY, "<string>:3:", "\"valu\"" },
  /* checks: a value of the wrong type */
  { "wrong-type", "[src]\nnode = constant-source\nvalue = three\n", { NULL },
    DISCO_ERROR_BAD_VALUE, "<string>:3:", "\"value\"" },
  /* checks: a value out of range (negative for an unsigned) */
  { "out-of-range", "[src]\nnode = constant-source\nticks = -1\n", { NULL },
    DISCO_ERROR_BAD_VALUE, "<string>:3:", "\"ticks\"" },
  /* checks: a value out of range (too large) */
  { "too-large", "[src]\nnode = constant-source\nticks = 99999999999\n", { NULL },
    DISCO_ERROR_BAD_VALUE, "<string>:3:", "\"ticks\"" },
  /* checks: a bad enum value lists the choices */
  { "bad-enum", "[src]\nnode = constant-source\nphase = training\n", { NULL },
    DISCO_ERROR_BAD_VALUE, "<string>:3:", "train, validation" },
  /* checks: a link to a missing node */
  { "missing-node", "[src]\nnode = constant-source\n[log]\nnode = recorder\ninput = srcc\n",
    { NULL }, DISCO_ERROR_NO_SUCH_NODE, "<string>:5:", "\"srcc\"" },
  /* checks: a link to a missing port */
  { "missing-port",
    "[src]\nnode = constant-source\n[log]\nnode = recorder\ninput = src.images\n", { NULL },
    DISCO_ERROR_NO_SUCH_PORT, "<string>:5:", "\"images\"" },
  /* checks: a link from an input port */
  { "link-from-input",
    "[src]\nnode = constant-source\n[f]\nnode = affine\ninput = src\n"
    "[log]\nnode = recorder\ninput = f.input\n", { NULL },
    DISCO_ERROR_LINK, "<string>:8:", "\"f.input\"" },
  /* checks: two producers into one input (the key given twice) */
  { "two-producers",
    "[src]\nnode = constant-source\n[log]\nnode = recorder\ninput = src\ninput = src\n",
    { NULL }, DISCO_ERROR_SYNTAX, "<string>:6:", "\"input\"" },
  /* checks: a required input left unlinked */
  { "unlinked-input", "[src]\nnode = constant-source\n[log]\nnode = recorder\n", { NULL },
    DISCO_ERROR_LINK, "<string>:3:", "\"input\"" },
  /* checks: an algebraic loop */
  { "algebraic-loop",
    "[src]\nnode = constant-source\n[f]\nnode = affine\ninput = g\n[g]\nnode = affine\n"
    "input = f\n", { NULL },
    DISCO_ERROR_ALGEBRAIC_LOOP, "<string>:8:", "g → f → g" },
  /* checks: a loop through one dynamical and one ordinary node is still algebraic */
  { "half-dynamical-loop",
    "[src]\nnode = constant-source\n[a]\nnode = test-leaky\ndrive = f\n[f]\nnode = affine\n"
    "input = a\n", { NULL },
    DISCO_ERROR_ALGEBRAIC_LOOP, "<string>:", "→" },
  /* checks: a self loop */
  { "self-loop", "[src]\nnode = constant-source\n[f]\nnode = affine\ninput = f\n", { NULL },
    DISCO_ERROR_ALGEBRAIC_LOOP, "<string>:5:", "f → f" },
  /* checks: syntax error, with its line */
  { "syntax", "[src]\nnode = constant-source\nthis line is wrong\n", { NULL },
    DISCO_ERROR_SYNTAX, "<string>:3:", "this line is wrong" },
  /* checks: an unterminated group header */
  { "bad-header", "[src\nnode = constant-source\n", { NULL }, DISCO_ERROR_SYNTAX,
    "<string>:1:", "[src" },
  /* checks: a key before any group */
  { "key-outside-group", "seed = 3\n[src]\nnode = constant-source\n", { NULL },
    DISCO_ERROR_SYNTAX, "<string>:1:", "\"seed\"" },
  /* checks: a group twice */
  { "duplicate-group", "[src]\nnode = constant-source\n[src]\nnode = affine\n", { NULL },
    DISCO_ERROR_SYNTAX, "<string>:3:", "[src]" },
  /* checks: a group without a type */
  { "no-type", "[src]\nvalue = 3\n", { NULL }, DISCO_ERROR_SYNTAX, "<string>:1:",
    "[src]" },
  /* checks: an unknown run-wide setting */
  { "bad-pipeline-key", "[pipeline]\nsed = 3\n[src]\nnode = constant-source\n", { NULL },
    DISCO_ERROR_NO_SUCH_PROPERTY, "<string>:2:", "\"sed\"" },
  /* checks: an override naming a missing node */
  { "override-missing-node", "[src]\nnode = constant-source\n", { "srcc.value=1", NULL },
    DISCO_ERROR_NO_SUCH_NODE, "override \"srcc.value=1\":", "\"srcc\"" },
  /* checks: an override naming a missing property */
  { "override-missing-property", "[src]\nnode = constant-source\n", { "src.valu=1", NULL },
    DISCO_ERROR_NO_SUCH_PROPERTY, "override \"src.valu=1\":", "\"valu\"" },
  /* checks: an override with a bad value */
  { "override-bad-value", "[src]\nnode = constant-source\n", { "src.ticks=x", NULL },
    DISCO_ERROR_BAD_VALUE, "override \"src.ticks=x\":", "\"ticks\"" },
  /* checks: an override without '=' */
  { "override-syntax", "[src]\nnode = constant-source\n", { "src.ticks", NULL },
    DISCO_ERROR_SYNTAX, "override \"src.ticks\":", "node.property=value" },
  /* checks: a pipeline without a source */
  { "no-source", "[a]\nnode = test-leaky\ndrive = b\n[b]\nnode = test-leaky\ndrive = a\n",
    { NULL }, DISCO_ERROR_LINK, "", "no source" },
  /* checks: device cuda on a build or machine without it */
  { "no-cuda", "[pipeline]\ndevice = cuda\n[src]\nnode = constant-source\n", { NULL },
    DISCO_ERROR_DEVICE, "", "\"cuda\"" },
  /* checks: a node that asks for CUDA in a pipeline on the CPU */
  { "node-on-cuda", "[pipeline]\ndevice = cpu\n[src]\nnode = constant-source\ndevice = cuda\n",
    { NULL }, DISCO_ERROR_DEVICE, "", "\"src\" (DiscoConstantSource) has device = cuda" },
  /* checks: a bad node device */
  { "node-device-enum", "[src]\nnode = constant-source\ndevice = tpu\n", { NULL },
    DISCO_ERROR_BAD_VALUE, "<string>:3", "tpu" },
};

static void
test_pipeline_bad_input (gconstpointer data)
{
  const BadInput *row = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = NULL;

  g_test_summary (row->what);
  p = disco_pipeline_new_from_string (row->text, row->overrides[0] ? row->overrides : NULL,
                                      &error);
  g_assert_null (p);
  g_assert_error (error, DISCO_ERROR, (gint) row->code);
  if (!g_str_has_prefix (error->message, row->location))
    g_error ("%s: message \"%s\" does not start with \"%s\"", row->what, error->message,
             row->location);
  if (strstr (error->message, row->name) == NULL)
    g_error ("%s: message \"%s\" does not quote %s", row->what, error->message, row->name);
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

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  disco_registry_register ("test-leaky", TEST_TYPE_LEAKY);

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
  for (guint i = 0; i < G_N_ELEMENTS (bad_inputs); i++)
    {
      g_autofree char *path = g_strdup_printf ("/disco/pipeline/bad-input/%s",
                                               bad_inputs[i].what);
      g_test_add_data_func (path, &bad_inputs[i], test_pipeline_bad_input);
    }
  return g_test_run ();
}
