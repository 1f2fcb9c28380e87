/* test-bad-pipeline.h: tables of pipelines that must fail with a given error */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

/**
 * TestBadPipeline:
 * @what: the test case's name and summary
 * @text: a pipeline in file syntax
 * @code: the %DISCO_ERROR code it must fail with, when loaded or when run
 * @quoted: text the error message must contain (the offending name)
 * @overrides: (nullable): "node.property=value" assignments applied over
 *   @text, at most two
 *
 * One row of a bad-input table.
 */
typedef struct
{
  const char *what;
  const char *text;
  DiscoError code;
  const char *quoted;
  const char *overrides[3];
} TestBadPipeline;

void test_add_bad_pipelines (const char *path_prefix, const TestBadPipeline *rows, guint n_rows);

G_END_DECLS
