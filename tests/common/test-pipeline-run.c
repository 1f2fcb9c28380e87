/* test-pipeline-run.c */
#include "test-pipeline-run.h"

#include <math.h>

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

/* max |a − b| over two tensors of one shape, whose values must be finite;
 * *scale gets max |b| and, when @mean is given, *mean the mean |a − b|. */
double
test_tensor_difference (DiscoTensor *a, DiscoTensor *b, double *scale, double *mean)
{
  const gsize n = disco_tensor_get_n_elements (b);
  const float *x, *y;
  double worst = 0, sum = 0;

  g_assert_nonnull (a);
  g_assert_nonnull (b);
  g_assert_cmpuint (disco_tensor_get_n_elements (a), ==, n);
  x = disco_tensor_read_host (a, NULL);
  y = disco_tensor_read_host (b, NULL);
  *scale = 0;
  for (gsize i = 0; i < n; i++)
    {
      const double d = fabs ((double) x[i] - y[i]);

      g_assert_true (isfinite (x[i]) && isfinite (y[i]));
      worst = MAX (worst, d);
      sum += d;
      *scale = MAX (*scale, fabs (y[i]));
    }
  if (mean != NULL)
    *mean = n > 0 ? sum / n : 0;
  return worst;
}
