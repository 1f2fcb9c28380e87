/* test-pipeline-run.h: run a pipeline written in a test and read its tensors */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

DiscoPipeline *test_run_text (const char *text, const char *const *overrides);
const float *test_output_of (DiscoPipeline *p, const char *node, const char *port);
const float *test_parameter_of (DiscoPipeline *p, const char *target);
double test_tensor_difference (DiscoTensor *a, DiscoTensor *b, double *scale, double *mean);

G_END_DECLS
