/* test-bad-pipeline.c */
#include "test-bad-pipeline.h"

#include <string.h>

static void
test_bad_pipeline (gconstpointer data)
{
  const TestBadPipeline *row = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p =
      disco_pipeline_new_from_string (row->text, row->overrides[0] ? row->overrides : NULL, &error);

  g_test_summary (row->what);
  if (p != NULL)
    g_assert_false (disco_pipeline_run (p, NULL, &error));
  g_assert_error (error, DISCO_ERROR, (gint) row->code);
  if (strstr (error->message, row->quoted) == NULL)
    g_error ("%s: \"%s\" does not quote %s", row->what, error->message, row->quoted);
}

/**
 * test_add_bad_pipelines:
 * @path_prefix: e.g. "/disco/network/bad"
 * @rows: (array length=n_rows): the table
 * @n_rows: rows in @rows
 *
 * Adds one test case per row: the pipeline must fail to load or to run,
 * with the row's error code and a message quoting the row's name.
 */
void
test_add_bad_pipelines (const char *path_prefix, const TestBadPipeline *rows, guint n_rows)
{
  for (guint i = 0; i < n_rows; i++)
    {
      g_autofree char *path = g_strdup_printf ("%s/%s", path_prefix, rows[i].what);
      g_test_add_data_func (path, &rows[i], test_bad_pipeline);
    }
}
