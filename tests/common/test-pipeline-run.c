/* test-pipeline-run.c */
#include "test-pipeline-run.h"

/* Builds the pipeline from @text (with @overrides) and runs it; any error
 * fails the test. */
DiscoPipeline *
test_run_text (const char *text, const char *const *overrides)
{
  g_autoptr (GError) error = NULL;
  DiscoPipeline *p = disco_pipeline_new_from_string (text, overrides, &error);

  g_assert_no_error (error);
  g_assert_true (disco_pipeline_run (p, NULL, &error));
  g_assert_no_error (error);
  return p;
}

/* The host values of @node's output @port, which must exist. */
const float *
test_output_of (DiscoPipeline *p, const char *node, const char *port)
{
  DiscoTensor *t = disco_node_get_output (disco_pipeline_get_node (p, node), port);

  g_assert_nonnull (t);
  return disco_tensor_read_host (t, NULL);
}

/* The host values of the parameter @target ("node.parameter"), which must
 * exist. */
const float *
test_parameter_of (DiscoPipeline *p, const char *target)
{
  DiscoTensor *t = disco_pipeline_find_parameter (p, target);

  g_assert_nonnull (t);
  return disco_tensor_read_host (t, NULL);
}
