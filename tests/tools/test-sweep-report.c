/* test-sweep-report.c: the report over a sweep's run folders
 * (tools/disco-sweep-report.c, compiled in).
 *
 * Every case builds a sweep folder by hand: sweep-run.ini files as the
 * sweep writes them and results.json files in the evaluator's format,
 * whose accuracies have means and sample standard deviations known in
 * closed form (97, 98, 99: mean 98, std 1).
 */
#include "disco-sweep-report.h"
#include "test-png.h"

#include <disco/disco.h>

#include <cairo.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#define MNIST "/data/datasets/mnist"
#define FMNIST "/data/datasets/fashion-mnist"

/* ------------------------------------------------------------ Fixtures */

static void
remove_tree (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;

      g_assert_nonnull (dir);
      while ((name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          remove_tree (child);
        }
    }
  g_assert_cmpint (g_remove (path), ==, 0);
}

static char *
make_sweep_dir (void)
{
  g_autoptr (GError) error = NULL;
  char *dir = g_dir_make_tmp ("disco-sweep-report-XXXXXX", &error);

  g_assert_no_error (error);
  return dir;
}

static void
write_file (const char *path, const char *text)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *parent = g_path_get_dirname (path);

  g_assert_cmpint (g_mkdir_with_parents (parent, 0755), ==, 0);
  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

static char *
read_file (const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr (GError) error = NULL;
  char *text = NULL;

  g_file_get_contents (path, &text, NULL, &error);
  g_assert_no_error (error);
  return text;
}

/* A results.json as the evaluator writes it: @n_epochs epochs with the
 * given test and validation accuracies (NULL: no such phase), and a
 * config with a loader of @dataset, @n_layers hidden layers of @size and
 * a plasticity node with @rule. */
static char *
results_json (const char *dataset, guint n_layers, guint size, const char *rule, guint n_epochs,
              const double *test, const double *validation, double wall_time)
{
  GString *out = g_string_new ("{\n  \"epochs\": [");

  for (guint e = 0; e < n_epochs; e++)
    {
      g_string_append_printf (out,
                              "%s\n    {\"epoch\": %u, \"train\": {\"loss\": 0.5, "
                              "\"accuracy\": 90, \"samples\": 54000, \"mean_steps\": 4}",
                              e ? "," : "", e + 1);
      if (validation != NULL)
        g_string_append_printf (out,
                                ", \"validation\": {\"loss\": 0.4, \"accuracy\": %.9g, "
                                "\"samples\": 6000}",
                                validation[e]);
      if (test != NULL)
        g_string_append_printf (out,
                                ", \"test\": {\"loss\": 0.4, \"accuracy\": %.9g, "
                                "\"samples\": 10000}",
                                test[e]);
      g_string_append (out, ", \"weight_norm\": 3.1, \"weight_norms\": {\"h1.weight\": 3.1}}");
    }
  g_string_append_printf (out,
                          "\n  ],\n  \"wall_time_s\": %.9g,\n  \"device\": \"cpu\",\n"
                          "  \"config\": {\n"
                          "    \"pipeline\": {\"seed\": 0, \"output-dir\": \"/x\"},\n"
                          "    \"data\": {\"node\": \"idx-loader\", \"path\": \"%s\", "
                          "\"epochs\": %u},\n",
                          wall_time, dataset, n_epochs);
  for (guint l = 0; l < n_layers; l++)
    g_string_append_printf (out, "    \"h%u\": {\"node\": \"%s\", \"size\": %u},\n", l + 1,
                            g_str_equal (rule, "backprop") ? "rate-layer" : "microcircuit", size);
  g_string_append_printf (out,
                          "    \"out\": {\"node\": \"readout\", \"size\": 10},\n"
                          "    \"learn\": {\"node\": \"plasticity\", \"rule\": \"%s\"},\n"
                          "    \"adam\": {\"node\": \"adam\", \"learning-rate\": 0.001}\n"
                          "  }\n}\n",
                          rule);
  return g_string_free (out, FALSE);
}

/* A run folder: DIR/<pipeline>[/<grid folder>]/seed-<seed>/ with its
 * sweep-run.ini and, unless @results is NULL, its results.json. */
static void
make_run (const char *dir, const char *pipeline, const char *grid, guint seed, const char *status,
          const char *message, const char *results)
{
  g_autofree char *seed_name = g_strdup_printf ("seed-%u", seed);
  g_autofree char *grid_folder = g_strdelimit (g_strdup (grid ? grid : ""), ", ", '_');
  g_autofree char *run_dir = g_build_filename (dir, pipeline, grid_folder, seed_name, NULL);
  g_autofree char *ini_path = g_build_filename (run_dir, "sweep-run.ini", NULL);
  g_autofree char *ini =
      g_strdup_printf ("[run]\npipeline=%s\n"
                       "pipeline-file=/nonexistent/pipelines/%s.pipeline\n"
                       "grid=%s\nseed=%u\nstatus=%s\nmessage=%s\n"
                       "exit-status=%d\n",
                       pipeline, pipeline, grid ? grid : "", seed, status, message ? message : "",
                       g_str_equal (status, "failed") ? 1 : 0);

  write_file (ini_path, ini);
  if (results != NULL)
    {
      g_autofree char *results_path = g_build_filename (run_dir, "results.json", NULL);
      write_file (results_path, results);
    }
}

/* Three epochs; the last test accuracy @final and validation rising to
 * @validation_final, so that the best-validation epoch is the last. */
static void
make_finished_run (const char *dir, const char *pipeline, const char *grid, guint seed,
                   const char *dataset, guint n_layers, const char *rule, double final,
                   double validation_final, double wall_time)
{
  double test[] = { final - 2.0, final - 1.0, final };
  double validation[] = { validation_final - 2.0, validation_final - 1.0, validation_final };
  g_autofree char *results =
      results_json (dataset, n_layers, 256, rule, 3, test, validation, wall_time);

  make_run (dir, pipeline, grid, seed, "finished", NULL, results);
}

static void
write_report (const char *dir, DiscoSweepReportCounts *counts)
{
  g_autoptr (GError) error = NULL;

  g_assert_true (disco_sweep_report_write (dir, counts, &error));
  g_assert_no_error (error);
}

/* ----------------------------------------------------------- CSV reading */

/* Splits one CSV line (RFC 4180 quoting, no line breaks in fields). */
static GStrv
csv_split (const char *line)
{
  g_autoptr (GStrvBuilder) fields = g_strv_builder_new ();
  g_autoptr (GString) field = g_string_new (NULL);
  gboolean quoted = FALSE;

  for (const char *c = line;; c++)
    {
      if (quoted && *c == '"' && c[1] == '"')
        {
          g_string_append_c (field, '"');
          c++;
        }
      else if (*c == '"')
        quoted = !quoted;
      else if ((*c == ',' && !quoted) || *c == '\0')
        {
          g_strv_builder_add (fields, field->str);
          g_string_truncate (field, 0);
          if (*c == '\0')
            break;
        }
      else
        g_string_append_c (field, *c);
    }
  return g_strv_builder_end (fields);
}

/* The field @column of the row of @file (in @dir) whose first fields are
 * @key1 and @key2 (NULL: any). */
static char *
csv_get (const char *dir, const char *file, const char *key1, const char *key2, const char *column)
{
  g_autofree char *text = read_file (dir, file);
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  g_auto (GStrv) header = csv_split (lines[0]);
  guint index = G_MAXUINT;

  for (guint i = 0; header[i] != NULL; i++)
    if (g_str_equal (header[i], column))
      index = i;
  g_assert_cmpuint (index, !=, G_MAXUINT);
  for (guint l = 1; lines[l] != NULL && *lines[l]; l++)
    {
      g_auto (GStrv) fields = csv_split (lines[l]);

      g_assert_cmpuint (g_strv_length (fields), ==, g_strv_length (header));
      if (g_str_equal (fields[0], key1) && (key2 == NULL || g_str_equal (fields[1], key2)))
        return g_strdup (fields[index]);
    }
  g_assert_not_reached ();
}

static void
assert_csv_number (const char *dir, const char *file, const char *key1, const char *key2,
                   const char *column, double expected)
{
  g_autofree char *text = csv_get (dir, file, key1, key2, column);
  char *end;
  double value;

  g_assert_cmpstr (text, !=, "");
  value = g_ascii_strtod (text, &end);
  g_assert_cmpstr (end, ==, "");
  g_assert_cmpfloat_with_epsilon (value, expected, 1e-9);
}

static void
assert_csv_text (const char *dir, const char *file, const char *key1, const char *key2,
                 const char *column, const char *expected)
{
  g_autofree char *text = csv_get (dir, file, key1, key2, column);

  g_assert_cmpstr (text, ==, expected);
}

static void
assert_contains (const char *haystack, const char *needle)
{
  if (strstr (haystack, needle) == NULL)
    g_error ("\"%s\" not found in:\n%s", needle, haystack);
}

/* -------------------------------------------------------------- Cases */

static void
test_tables (void)
{
  g_autofree char *dir = make_sweep_dir ();
  g_autofree char *md = NULL;
  DiscoSweepReportCounts counts;
  const char *table1, *table2;

  g_test_summary ("Three finished seeds of two configurations: means, sample standard "
                  "deviations, rows, columns and counts");
  for (guint s = 0; s < 3; s++)
    {
      /* Test 97, 98, 99 (98 ± 1); validation 90, 91, 92 (91 ± 1); wall 10, 20, 30. */
      make_finished_run (dir, "mnist-1x256-backprop", NULL, s, MNIST, 1, "backprop", 97.0 + s,
                         90.0 + s, 10.0 * (s + 1));
      /* Test 90, 92, 94 (92 ± 2); validation 85, 88, 91 (88 ± 3). */
      make_finished_run (dir, "fmnist-3x256-exact-inverse", NULL, s, FMNIST, 3, "exact-inverse",
                         90.0 + 2.0 * s, 85.0 + 3.0 * s, 100.0);
    }
  write_report (dir, &counts);

  g_assert_cmpuint (counts.total, ==, 6);
  g_assert_cmpuint (counts.finished, ==, 6);
  g_assert_cmpuint (counts.failed + counts.stopped + counts.running + counts.pending, ==, 0);

  assert_csv_number (dir, "report.csv", "mnist-1x256-backprop", "", "test_final_mean", 98.0);
  assert_csv_number (dir, "report.csv", "mnist-1x256-backprop", "", "test_final_std", 1.0);
  assert_csv_number (dir, "report.csv", "mnist-1x256-backprop", "", "test_at_best_validation_mean",
                     98.0);
  assert_csv_number (dir, "report.csv", "mnist-1x256-backprop", "", "test_at_best_validation_std",
                     1.0);
  assert_csv_number (dir, "report.csv", "mnist-1x256-backprop", "", "validation_best_mean", 91.0);
  assert_csv_number (dir, "report.csv", "mnist-1x256-backprop", "", "validation_best_std", 1.0);
  assert_csv_number (dir, "report.csv", "mnist-1x256-backprop", "", "wall_time_mean_s", 20.0);
  assert_csv_number (dir, "report.csv", "mnist-1x256-backprop", "", "wall_time_std_s", 10.0);
  assert_csv_number (dir, "report.csv", "fmnist-3x256-exact-inverse", "", "test_final_mean", 92.0);
  assert_csv_number (dir, "report.csv", "fmnist-3x256-exact-inverse", "", "test_final_std", 2.0);
  assert_csv_number (dir, "report.csv", "fmnist-3x256-exact-inverse", "", "validation_best_mean",
                     88.0);
  assert_csv_number (dir, "report.csv", "fmnist-3x256-exact-inverse", "", "validation_best_std",
                     3.0);
  assert_csv_number (dir, "report.csv", "fmnist-3x256-exact-inverse", "", "wall_time_std_s", 0.0);
  assert_csv_text (dir, "report.csv", "fmnist-3x256-exact-inverse", "", "dataset", "Fashion-MNIST");
  assert_csv_text (dir, "report.csv", "fmnist-3x256-exact-inverse", "", "network", "3×256");
  assert_csv_text (dir, "report.csv", "fmnist-3x256-exact-inverse", "", "rule", "exact-inverse");
  assert_csv_text (dir, "report.csv", "mnist-1x256-backprop", "", "n_total", "3");
  assert_csv_text (dir, "report.csv", "mnist-1x256-backprop", "", "n_finished", "3");
  assert_csv_text (dir, "report.csv", "mnist-1x256-backprop", "", "epochs", "3");
  assert_csv_number (dir, "runs.csv", "mnist-1x256-backprop", "", "test_final", 97.0);
  assert_csv_text (dir, "runs.csv", "mnist-1x256-backprop", "", "folder",
                   "mnist-1x256-backprop/seed-0");
  assert_csv_text (dir, "runs.csv", "mnist-1x256-backprop", "", "best_validation_epoch", "3");

  md = read_file (dir, "report.md");
  /* Rows MNIST then Fashion-MNIST; columns backprop then exact-inverse. */
  assert_contains (md, "| Data set, network | backprop | exact-inverse |\n");
  table1 = strstr (md, "## Table 1");
  table2 = strstr (md, "## Table 2");
  g_assert_nonnull (table1);
  g_assert_nonnull (table2);
  assert_contains (table1, "| MNIST 1×256 | 98.00 ± 1.00 (3) | — |\n"
                           "| Fashion-MNIST 3×256 | — | 92.00 ± 2.00 (3) |\n");
  assert_contains (strstr (md, "## Table S3"), "| MNIST 1×256 | 91.00 ± 1.00 (3) | — |\n"
                                               "| Fashion-MNIST 3×256 | — | 88.00 ± 3.00 (3) |\n");
  assert_contains (md, "| mnist-1x256-backprop | MNIST | 1×256 | backprop | 3 | 3 | 3 | 0 | 0 "
                       "| 0 | 0 | 20.0 ± 10.0 |\n");
  assert_contains (md, "\n## Failed runs\n\nNone.\n");
  assert_contains (md, "\nMissing: none.\n");

  remove_tree (dir);
}

static void
test_best_validation (void)
{
  g_autofree char *dir = make_sweep_dir ();
  g_autofree char *md = NULL;
  /* Validation peaks at epoch 2 of 3: the test accuracy of epoch 2. */
  double test_peak[] = { 91.0, 94.0, 96.0 }, validation_peak[] = { 90.0, 95.0, 93.0 };
  /* A tie between epochs 2 and 3: the first. */
  double test_tie[] = { 91.0, 93.0, 97.0 }, validation_tie[] = { 90.0, 95.0, 95.0 };
  g_autofree char *peak =
      results_json (MNIST, 1, 256, "linear-threshold", 3, test_peak, validation_peak, 50.0);
  g_autofree char *tie =
      results_json (MNIST, 1, 256, "exact-inverse", 3, test_tie, validation_tie, 50.0);

  g_test_summary ("The best-validation epoch is the first with the highest validation "
                  "accuracy; a single run has no standard deviation");
  make_run (dir, "peak", NULL, 0, "finished", NULL, peak);
  make_run (dir, "tie", NULL, 0, "finished", NULL, tie);
  write_report (dir, NULL);

  assert_csv_text (dir, "runs.csv", "peak", "", "best_validation_epoch", "2");
  assert_csv_number (dir, "runs.csv", "peak", "", "test_at_best_validation", 94.0);
  assert_csv_number (dir, "runs.csv", "peak", "", "validation_best", 95.0);
  assert_csv_number (dir, "runs.csv", "peak", "", "test_final", 96.0);
  assert_csv_text (dir, "runs.csv", "tie", "", "best_validation_epoch", "2");
  assert_csv_number (dir, "runs.csv", "tie", "", "test_at_best_validation", 93.0);
  assert_csv_number (dir, "report.csv", "peak", "", "test_at_best_validation_mean", 94.0);
  assert_csv_text (dir, "report.csv", "peak", "", "test_at_best_validation_std", "");

  md = read_file (dir, "report.md");
  assert_contains (md, "| Data set, network | exact-inverse | linear-threshold |\n");
  assert_contains (strstr (md, "## Table 1"), "| MNIST 1×256 | 97.00 (1) | 96.00 (1) |\n");
  assert_contains (strstr (md, "## Table 2"), "| MNIST 1×256 | 93.00 (1) | 94.00 (1) |\n");
  assert_contains (strstr (md, "## Table S3"), "| MNIST 1×256 | 95.00 (1) | 95.00 (1) |\n");

  remove_tree (dir);
}

static void
test_failed (void)
{
  g_autofree char *dir = make_sweep_dir ();
  g_autofree char *md = NULL;
  DiscoSweepReportCounts counts;

  g_test_summary ("A failed run is counted and listed with its message");
  make_finished_run (dir, "mnist-1x256-linear-threshold", NULL, 0, MNIST, 1, "linear-threshold",
                     97.0, 96.0, 10.0);
  make_finished_run (dir, "mnist-1x256-linear-threshold", NULL, 1, MNIST, 1, "linear-threshold",
                     99.0, 96.0, 10.0);
  make_run (dir, "mnist-1x256-linear-threshold", NULL, 2, "failed",
            "out: non-finite loss at tick 42", NULL);
  write_report (dir, &counts);

  g_assert_cmpuint (counts.finished, ==, 2);
  g_assert_cmpuint (counts.failed, ==, 1);
  g_assert_cmpuint (counts.total, ==, 3);
  assert_csv_text (dir, "report.csv", "mnist-1x256-linear-threshold", "", "n_failed", "1");
  assert_csv_number (dir, "report.csv", "mnist-1x256-linear-threshold", "", "test_final_std",
                     sqrt (2.0));
  assert_csv_text (dir, "runs.csv", "mnist-1x256-linear-threshold", "", "status", "finished");

  md = read_file (dir, "report.md");
  assert_contains (md, "| MNIST 1×256 | 98.00 ± 1.41 (2) |\n");
  assert_contains (md,
                   "## Failed runs\n\n"
                   "- `mnist-1x256-linear-threshold/seed-2`: out: non-finite loss at tick 42\n");
  assert_contains (md, "\nMissing: MNIST 1×256 / linear-threshold (mnist-1x256-linear-threshold): "
                       "2 of 3 runs finished.\n");
  remove_tree (dir);
}

static void
test_pending (void)
{
  g_autofree char *dir = make_sweep_dir ();
  g_autofree char *md = NULL;
  g_autofree char *curves = g_build_filename (dir, "curves.png", NULL);
  DiscoSweepReportCounts counts;
  double test[] = { 80.0 }, validation[] = { 79.0 };
  g_autofree char *partial = results_json (MNIST, 1, 256, "backprop", 1, test, validation, 5.0);

  g_test_summary ("Pending, running and stopped runs are counted and missing");
  make_finished_run (dir, "mnist-1x256-backprop", NULL, 0, MNIST, 1, "backprop", 97.0, 96.0, 10.0);
  make_run (dir, "mnist-1x256-backprop", NULL, 1, "pending", NULL, NULL);
  make_run (dir, "mnist-1x256-backprop", NULL, 2, "running", NULL, partial);
  make_run (dir, "mnist-1x256-backprop", NULL, 3, "stopped", NULL, partial);
  /* Nothing ran yet: the row and column come from the (missing) pipeline
   * file's name, the cells are empty. */
  make_run (dir, "mnist-3x256-backprop", NULL, 0, "pending", NULL, NULL);
  write_report (dir, &counts);

  g_assert_cmpuint (counts.finished, ==, 1);
  g_assert_cmpuint (counts.pending, ==, 2);
  g_assert_cmpuint (counts.running, ==, 1);
  g_assert_cmpuint (counts.stopped, ==, 1);
  g_assert_cmpuint (counts.failed, ==, 0);
  g_assert_cmpuint (counts.total, ==, 5);
  assert_csv_text (dir, "report.csv", "mnist-1x256-backprop", "", "n_pending", "1");
  assert_csv_text (dir, "report.csv", "mnist-1x256-backprop", "", "n_stopped", "1");
  assert_csv_text (dir, "report.csv", "mnist-1x256-backprop", "", "n_total", "4");
  assert_csv_text (dir, "report.csv", "mnist-3x256-backprop", "", "n_pending", "1");
  assert_csv_text (dir, "report.csv", "mnist-3x256-backprop", "", "test_final_mean", "");
  assert_csv_text (dir, "report.csv", "mnist-3x256-backprop", "", "epochs", "");
  /* Only the finished run counts. */
  assert_csv_number (dir, "report.csv", "mnist-1x256-backprop", "", "test_final_mean", 97.0);
  assert_csv_number (dir, "runs.csv", "mnist-1x256-backprop", "", "test_final", 97.0);
  assert_csv_text (dir, "runs.csv", "mnist-3x256-backprop", "", "status", "pending");
  assert_csv_text (dir, "runs.csv", "mnist-3x256-backprop", "", "epochs", "");

  md = read_file (dir, "report.md");
  assert_contains (md, "5 runs in 2 configurations: 1 finished, 0 failed, 1 stopped, 1 running, "
                       "2 pending.\n");
  assert_contains (md, "\nMissing: MNIST 1×256 / backprop (mnist-1x256-backprop): 1 of 4 runs "
                       "finished; ");
  assert_contains (md, "(mnist-3x256-backprop): 0 of 1 runs finished.\n");
  assert_contains (md, "| mnist-1x256-backprop | MNIST | 1×256 | backprop | 3 | 4 | 1 | 0 | 1 "
                       "| 1 | 1 | 10.0 |\n");
  g_assert_true (g_file_test (curves, G_FILE_TEST_IS_REGULAR));
  remove_tree (dir);

  /* Only pending runs: tables, but no curves. */
  g_free (dir);
  dir = make_sweep_dir ();
  g_free (curves);
  curves = g_build_filename (dir, "curves.png", NULL);
  make_run (dir, "mnist-1x256-backprop", NULL, 0, "pending", NULL, NULL);
  write_report (dir, &counts);
  g_assert_cmpuint (counts.pending, ==, 1);
  g_assert_false (g_file_test (curves, G_FILE_TEST_EXISTS));
  g_free (md);
  md = read_file (dir, "report.md");
  assert_contains (md, "| — |\n");
  remove_tree (dir);
}

static void
test_missing_results (void)
{
  g_autofree char *dir = make_sweep_dir ();
  g_autofree char *md = NULL;
  g_autofree char *empty = results_json (MNIST, 1, 256, "backprop", 0, NULL, NULL, 1.0);
  DiscoSweepReportCounts counts;

  g_test_summary ("A finished run without a usable results.json counts as failed");
  make_finished_run (dir, "mnist-1x256-backprop", NULL, 0, MNIST, 1, "backprop", 97.0, 96.0, 10.0);
  make_run (dir, "mnist-1x256-backprop", NULL, 1, "finished", NULL, NULL);
  make_run (dir, "mnist-1x256-backprop", NULL, 2, "finished", NULL, "{\"epochs\": [");
  make_run (dir, "mnist-1x256-backprop", NULL, 3, "finished", NULL, empty);
  write_report (dir, &counts);

  g_assert_cmpuint (counts.finished, ==, 1);
  g_assert_cmpuint (counts.failed, ==, 3);
  assert_csv_text (dir, "report.csv", "mnist-1x256-backprop", "", "n_failed", "3");
  assert_csv_text (dir, "report.csv", "mnist-1x256-backprop", "", "n_finished", "1");
  md = read_file (dir, "report.md");
  assert_contains (md, "- `mnist-1x256-backprop/seed-1`: finished, but results.json is missing\n");
  assert_contains (md, "- `mnist-1x256-backprop/seed-2`: finished, but results.json:");
  assert_contains (md, "- `mnist-1x256-backprop/seed-3`: finished, but results.json has no "
                       "epochs\n");
  assert_contains (md, "| MNIST 1×256 | 97.00 (1) |\n");
  remove_tree (dir);
}

static void
test_grid (void)
{
  g_autofree char *dir = make_sweep_dir ();
  g_autofree char *md = NULL;

  g_test_summary ("A grid point is appended to the column label, and quoted in CSV");
  make_finished_run (dir, "mnist-1x256-backprop", "adam.learning-rate=0.002", 0, MNIST, 1,
                     "backprop", 97.0, 96.0, 10.0);
  make_finished_run (dir, "mnist-1x256-backprop", "adam.learning-rate=0.002, data.batch-size=50", 0,
                     MNIST, 1, "backprop", 95.0, 96.0, 10.0);
  make_finished_run (dir, "mnist-1x256-linear-threshold", NULL, 0, MNIST, 1, "linear-threshold",
                     96.0, 96.0, 10.0);
  write_report (dir, NULL);

  md = read_file (dir, "report.md");
  assert_contains (md, "| Data set, network | backprop, adam.learning-rate=0.002 "
                       "| backprop, adam.learning-rate=0.002, data.batch-size=50 "
                       "| linear-threshold |\n");
  assert_contains (strstr (md, "## Table 1"), "| MNIST 1×256 | 97.00 (1) | 95.00 (1) "
                                              "| 96.00 (1) |\n");
  assert_contains (md, "| mnist-1x256-backprop, adam.learning-rate=0.002 | MNIST |");
  assert_csv_number (dir, "report.csv", "mnist-1x256-backprop",
                     "adam.learning-rate=0.002, data.batch-size=50", "test_final_mean", 95.0);
  assert_csv_text (dir, "runs.csv", "mnist-1x256-backprop",
                   "adam.learning-rate=0.002, data.batch-size=50", "folder",
                   "mnist-1x256-backprop/adam.learning-rate=0.002__data.batch-size=50/seed-0");
  {
    g_autofree char *csv = read_file (dir, "report.csv");
    assert_contains (csv, "\nmnist-1x256-backprop,\"adam.learning-rate=0.002, "
                          "data.batch-size=50\",MNIST,1×256,backprop,");
  }
  remove_tree (dir);
}

/* Cuts the wall times: the last column of the Markdown configuration
 * table, the last two of report.csv, wall_time_s of runs.csv. */
static char *
cut_wall_times (const char *name, const char *text)
{
  g_auto (GStrv) lines = g_strsplit (text, "\n", -1);
  GString *out = g_string_new (NULL);
  gboolean in_configurations = FALSE;

  for (guint l = 0; lines[l] != NULL; l++)
    {
      char *line = lines[l];

      if (g_str_equal (name, "report.md"))
        {
          if (g_str_has_prefix (line, "## "))
            in_configurations = g_str_equal (line, "## Configurations");
          if (in_configurations && g_str_has_prefix (line, "|"))
            {
              *strrchr (line, '|') = '\0';
              strrchr (line, '|')[1] = '\0';
            }
        }
      else if (g_str_equal (name, "report.csv") && *line)
        {
          *strrchr (line, ',') = '\0';
          *strrchr (line, ',') = '\0';
        }
      else if (g_str_equal (name, "runs.csv") && *line)
        {
          g_auto (GStrv) fields = csv_split (line);
          g_free (fields[9]);
          fields[9] = g_strdup ("");
          g_string_append (out, fields[0]);
          for (guint f = 1; fields[f] != NULL; f++)
            g_string_append_printf (out, "|%s", fields[f]);
          g_string_append_c (out, '\n');
          continue;
        }
      g_string_append_printf (out, "%s\n", line);
    }
  return g_string_free (out, FALSE);
}

/* The same sweep in @dir, with wall times scaled by @scale. */
static void
make_mixed_sweep (const char *dir, double scale)
{
  for (guint s = 0; s < 3; s++)
    {
      make_finished_run (dir, "mnist-1x256-backprop", NULL, s, MNIST, 1, "backprop", 97.0 + s, 96.0,
                         scale * (10.0 + s));
      make_finished_run (dir, "mnist-1x256-backprop", "adam.learning-rate=0.002", s, MNIST, 1,
                         "backprop", 96.0 + s, 96.0, scale * (11.0 + s));
    }
  make_finished_run (dir, "fmnist-1x256-linear-threshold", NULL, 3, FMNIST, 1, "linear-threshold",
                     88.0, 87.0, scale);
  make_run (dir, "fmnist-1x256-linear-threshold", NULL, 10, "failed", "killed", NULL);
  make_run (dir, "fmnist-1x256-linear-threshold", NULL, 2, "pending", NULL, NULL);
}

static void
test_deterministic (void)
{
  static const char *const names[] = { "report.md", "report.csv", "runs.csv", "curves.png" };
  g_autofree char *dir = make_sweep_dir ();
  g_autofree char *other = make_sweep_dir ();

  g_test_summary ("Writing twice gives the same files; two sweeps with the same results "
                  "differ in the wall-time columns only");
  make_mixed_sweep (dir, 1.0);
  make_mixed_sweep (other, 3.0);
  write_report (dir, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_build_filename (dir, names[i], NULL);
      g_autofree char *first = NULL, *second = NULL;
      gsize first_size, second_size;

      g_assert_true (g_file_get_contents (path, &first, &first_size, NULL));
      write_report (dir, NULL);
      g_assert_true (g_file_get_contents (path, &second, &second_size, NULL));
      g_assert_cmpmem (first, first_size, second, second_size);
    }

  write_report (other, NULL);
  for (guint i = 0; i < 3; i++)
    {
      g_autofree char *a = read_file (dir, names[i]);
      g_autofree char *b = read_file (other, names[i]);
      g_autofree char *cut_a = cut_wall_times (names[i], a);
      g_autofree char *cut_b = cut_wall_times (names[i], b);

      g_assert_cmpstr (a, !=, b);
      g_assert_cmpstr (cut_a, ==, cut_b);
    }
  remove_tree (dir);
  remove_tree (other);
}

static void
test_curves (void)
{
  static const guint8 signature[] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  g_autofree char *dir = make_sweep_dir ();
  g_autofree char *path = g_build_filename (dir, "curves.png", NULL);
  g_autofree char *png = NULL;
  gsize size;
  g_autoptr (GBytes) bytes = NULL;
  cairo_surface_t *surface;

  g_test_summary ("curves.png is a PNG image");
  make_mixed_sweep (dir, 1.0);
  write_report (dir, NULL);
  g_assert_true (g_file_get_contents (path, &png, &size, NULL));
  g_assert_cmpuint (size, >, sizeof signature);
  g_assert_cmpmem (png, sizeof signature, signature, sizeof signature);

  bytes = g_bytes_new (png, size);
  surface = test_png_decode (bytes);
  g_assert_nonnull (surface);
  g_assert_cmpint (cairo_image_surface_get_width (surface), >=, 640);
  g_assert_cmpint (cairo_image_surface_get_height (surface), >=, 480);
  cairo_surface_destroy (surface);
  remove_tree (dir);
}

/* Warnings go through structured logging, which g_test_expect_message()
 * does not see: the case runs in a subprocess whose stderr is checked. */
static void
test_invalid_run_files (void)
{
  g_test_summary ("Run files elsewhere than two or three levels down are ignored; an "
                  "invalid one is skipped with a warning naming it");
  if (g_test_subprocess ())
    {
      g_autofree char *dir = make_sweep_dir ();
      g_autofree char *shallow = g_build_filename (dir, "sweep-run.ini", NULL);
      g_autofree char *deep = g_build_filename (dir, "a", "b", "c", "d", "sweep-run.ini", NULL);
      g_autofree char *bad = g_build_filename (dir, "broken", "seed-0", "sweep-run.ini", NULL);
      DiscoSweepReportCounts counts;

      make_finished_run (dir, "mnist-1x256-backprop", NULL, 0, MNIST, 1, "backprop", 97.0, 96.0,
                         10.0);
      write_file (shallow, "[run]\npipeline=shallow\nseed=0\nstatus=pending\n");
      write_file (deep, "[run]\npipeline=deep\nseed=0\nstatus=pending\n");
      write_file (bad, "[run]\npipeline=broken\nseed=0\nstatus=exploded\n");
      g_log_set_always_fatal (G_LOG_FATAL_MASK);
      write_report (dir, &counts);
      g_assert_cmpuint (counts.total, ==, 1);
      g_assert_cmpuint (counts.finished, ==, 1);
      remove_tree (dir);
      return;
    }
  g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
  g_test_trap_assert_passed ();
  g_test_trap_assert_stderr ("*WARNING*broken*seed-0*sweep-run.ini*exploded*");
  g_test_trap_assert_stderr_unmatched ("*shallow*");
  g_test_trap_assert_stderr_unmatched ("*deep*");
}

static void
test_no_dir (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = make_sweep_dir ();
  g_autofree char *missing = g_build_filename (dir, "nonexistent", NULL);
  g_autofree char *file = g_build_filename (dir, "a-file", NULL);
  DiscoSweepReportCounts counts = { 7, 7, 7, 7, 7, 7 };

  g_test_summary ("A sweep folder that does not exist is an I/O error");
  g_assert_false (disco_sweep_report_write (missing, &counts, &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "nonexistent"));
  g_assert_cmpuint (counts.total, ==, 7);
  g_clear_error (&error);

  write_file (file, "not a folder\n");
  g_assert_false (disco_sweep_report_write (file, NULL, &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_IO);
  remove_tree (dir);
}

int
main (int argc, char *argv[])
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/disco/sweep-report/tables", test_tables);
  g_test_add_func ("/disco/sweep-report/best-validation", test_best_validation);
  g_test_add_func ("/disco/sweep-report/failed", test_failed);
  g_test_add_func ("/disco/sweep-report/pending", test_pending);
  g_test_add_func ("/disco/sweep-report/missing-results", test_missing_results);
  g_test_add_func ("/disco/sweep-report/grid", test_grid);
  g_test_add_func ("/disco/sweep-report/deterministic", test_deterministic);
  g_test_add_func ("/disco/sweep-report/curves", test_curves);
  g_test_add_func ("/disco/sweep-report/invalid-run-files", test_invalid_run_files);
  g_test_add_func ("/disco/sweep-report/no-dir", test_no_dir);

  return g_test_run ();
}
