/* test-evaluator.c: loss, accuracy and the results.json report */
#include <disco/disco.h>

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

/* Emits the same two samples every tick, two ticks per epoch, the first in
 * the train phase and the second in the test phase. */
#define TEST_TYPE_TABLE (test_table_get_type ())
G_DECLARE_FINAL_TYPE (TestTable, test_table, TEST, TABLE, DiscoNode)
struct _TestTable
{
  DiscoNode parent_instance;
  guint emitted;
};
G_DEFINE_FINAL_TYPE (TestTable, test_table, DISCO_TYPE_NODE)

static gboolean
test_table_prepare (DiscoNode *node, GError **error)
{
  gsize shape[2] = { 0, 3 };

  TEST_TABLE (node)->emitted = 0;
  disco_node_declare_output (node, "prediction", 2, shape);
  disco_node_declare_output (node, "target", 2, shape);
  return TRUE;
}

static DiscoFlowReturn
test_table_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  TestTable *self = TEST_TABLE (node);
  static const float prediction[] = { 2, 1, 0, 0, 0, 3 };
  static const float target[] = { 1, 0, 0, 0, 1, 0 };
  gsize shape[2] = { 2, 3 };

  if (self->emitted == 4)
    return DISCO_FLOW_EOS;
  disco_tensor_set_values (disco_node_ensure_output (node, "prediction", 2, shape), prediction, 6,
                           NULL);
  disco_tensor_set_values (disco_node_ensure_output (node, "target", 2, shape), target, 6, NULL);
  tick->epoch = self->emitted / 2 + 1;
  tick->phase = self->emitted % 2 == 0 ? DISCO_PHASE_TRAIN : DISCO_PHASE_TEST;
  if (self->emitted % 2 == 1)
    tick->flags = DISCO_TICK_FLAG_EPOCH_END;
  self->emitted++;
  return DISCO_FLOW_OK;
}

static void
test_table_class_init (TestTableClass *klass)
{
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);

  node_class->prepare = test_table_prepare;
  node_class->process = test_table_process;
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "prediction", 0, "logits");
  disco_node_class_add_port (node_class, DISCO_PORT_OUTPUT, "target", 0, "one-hot");
}

static void
test_table_init (TestTable *self)
{
}

static const char *pipeline_text =
    "[table]\nnode = test-table\n"
    "[score]\nnode = evaluator\nprediction = table.prediction\ntarget = table.target\n";

static void
test_evaluator_values (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = disco_pipeline_new_from_string (pipeline_text, NULL, &error);
  g_autofree char *dir = g_dir_make_tmp ("disco-eval-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "results.json", NULL);
  g_autofree char *json = NULL;
  double train_accuracy, test_loss, validation_accuracy;
  /* −log softmax: log(1 + e⁻¹ + e⁻²) for the first sample, log(2 + e³) for the second */
  double expected_loss = (log (1 + exp (-1) + exp (-2)) + log (2 + exp (3))) / 2;

  g_test_summary ("Cross-entropy and accuracy equal their closed forms; results.json holds "
                  "every epoch and phase, the wall time, the device and the configuration");
  g_assert_no_error (error);
  g_object_set (p, "output-dir", dir, NULL);
  g_assert_true (disco_pipeline_run (p, NULL, &error));
  g_assert_no_error (error);
  g_object_get (disco_pipeline_get_node (p, "score"), "train-accuracy", &train_accuracy,
                "test-loss", &test_loss, "validation-accuracy", &validation_accuracy, NULL);
  g_assert_cmpfloat (train_accuracy, ==, 50.0);
  g_assert_cmpfloat_with_epsilon (test_loss, expected_loss, 1e-6);
  g_assert_true (isnan (validation_accuracy));

  g_assert_true (g_file_get_contents (path, &json, NULL, NULL));
  g_assert_nonnull (strstr (json, "{\"epoch\": 1, \"train\": {\"loss\": "));
  g_assert_nonnull (strstr (json, "{\"epoch\": 2, \"train\": {\"loss\": "));
  {
    /* The test loss of epoch 2, as written. */
    const char *at = strstr (strstr (json, "{\"epoch\": 2"), "\"test\": {\"loss\": ");
    g_assert_nonnull (at);
    g_assert_cmpfloat_with_epsilon (g_ascii_strtod (at + strlen ("\"test\": {\"loss\": "), NULL),
                                    expected_loss, 1e-6);
  }
  g_assert_nonnull (strstr (json, "\"accuracy\": 50, \"samples\": 2}"));
  g_assert_nonnull (strstr (json, "\"device\": \"cpu\""));
  g_assert_nonnull (strstr (json, "\"score\": {\"node\": \"evaluator\""));
  g_assert_nonnull (strstr (json, "\"wall_time_s\": "));
  g_remove (path);
  g_rmdir (dir);
}

static void
test_evaluator_needs_output_folder (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = disco_pipeline_new_from_string (pipeline_text, NULL, &error);
  const char *no_report[] = { "score.report=", NULL };
  g_autoptr (DiscoPipeline) q = disco_pipeline_new_from_string (pipeline_text, no_report, &error);

  g_test_summary ("A relative report without an output folder is an error before any tick; "
                  "an empty report writes nothing");
  g_assert_false (disco_pipeline_run (p, NULL, &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE);
  g_assert_nonnull (strstr (error->message, "\"report\""));
  g_clear_error (&error);
  g_assert_true (disco_pipeline_run (q, NULL, &error));
  g_assert_no_error (error);
}

static void
test_evaluator_shape_mismatch (void)
{
  const char *text =
      "[a]\nnode = constant-source\nshape = 2,3\n[b]\nnode = constant-source\nshape = 2,4\n"
      "[score]\nnode = evaluator\nprediction = a\ntarget = b\nreport =\n";
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = disco_pipeline_new_from_string (text, NULL, &error);

  g_test_summary ("Predictions and targets with different class counts are a shape error");
  g_assert_false (disco_pipeline_run (p, NULL, &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  disco_registry_register ("test-table", TEST_TYPE_TABLE);
  g_test_add_func ("/disco/evaluator/values", test_evaluator_values);
  g_test_add_func ("/disco/evaluator/needs-output-folder", test_evaluator_needs_output_folder);
  g_test_add_func ("/disco/evaluator/shape-mismatch", test_evaluator_shape_mismatch);
  return g_test_run ();
}
