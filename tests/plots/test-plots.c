/* test-plots.c: line plots (io/disco-plot.c), the learning-curves node
 * and the disco-plot tool. Every PNG is decoded and its pixels checked. */
#include "disco-plot.h"
#include "test-png.h"

#include <disco/disco.h>

#include <cairo.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

/* Decodes a PNG; the test fails on anything but a valid image. */
static cairo_surface_t *
decode (GBytes *png)
{
  cairo_surface_t *surface = test_png_decode (png);

  g_assert_nonnull (surface);
  return surface;
}

static cairo_surface_t *
decode_file (const char *path)
{
  g_autofree char *data = NULL;
  gsize size;
  g_autoptr (GBytes) bytes = NULL;

  g_assert_true (g_file_get_contents (path, &data, &size, NULL));
  bytes = g_bytes_new (data, size);
  return decode (bytes);
}

static void
pixel (cairo_surface_t *surface, int x, int y, guint *r, guint *g, guint *b)
{
  const guint8 *row;
  guint32 v;

  g_assert_cmpint (x, >=, 0);
  g_assert_cmpint (y, >=, 0);
  g_assert_cmpint (x, <, cairo_image_surface_get_width (surface));
  g_assert_cmpint (y, <, cairo_image_surface_get_height (surface));
  row = cairo_image_surface_get_data (surface) + y * cairo_image_surface_get_stride (surface);
  v = ((const guint32 *) row)[x];
  *r = (v >> 16) & 0xff;
  *g = (v >> 8) & 0xff;
  *b = v & 0xff;
}

/* Whether a pure red pixel lies within one pixel of (px, py). */
static gboolean
red_near (cairo_surface_t *surface, double px, double py)
{
  for (int dy = -1; dy <= 1; dy++)
    for (int dx = -1; dx <= 1; dx++)
      {
        guint r, g, b;
        pixel (surface, (int) floor (px) + dx, (int) floor (py) + dy, &r, &g, &b);
        if (r >= 220 && g <= 40 && b <= 40)
          return TRUE;
      }
  return FALSE;
}

static gboolean
white_at (cairo_surface_t *surface, double px, double py)
{
  guint r, g, b;

  pixel (surface, (int) floor (px), (int) floor (py), &r, &g, &b);
  return r == 255 && g == 255 && b == 255;
}

static void
test_plots_curve (void)
{
  double x[41], y[41];
  DiscoPlotSeries series = { "x²", x, y, G_N_ELEMENTS (x), 1.0, 0.0, 0.0, FALSE };
  DiscoPlotArea area;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) png = NULL;
  cairo_surface_t *surface;
  double px, py;

  g_test_summary ("y = x² on [0, 1] in red: the image has the asked size, red pixels where "
                  "the curve passes and white ones away from it");
  for (guint i = 0; i < G_N_ELEMENTS (x); i++)
    {
      x[i] = i / 40.0;
      y[i] = x[i] * x[i];
    }
  png = disco_plot_render ("y = x²", "x", "y", &series, 1, 640, 480, &area, &error);
  g_assert_no_error (error);
  g_assert_nonnull (png);
  surface = decode (png);
  g_assert_cmpint (cairo_image_surface_get_width (surface), ==, 640);
  g_assert_cmpint (cairo_image_surface_get_height (surface), ==, 480);

  /* The axes cover the data, with nice limits. */
  g_assert_cmpfloat (area.x_min, <=, 0.0);
  g_assert_cmpfloat (area.x_max, >=, 1.0);
  g_assert_cmpfloat (area.y_min, <=, 0.0);
  g_assert_cmpfloat (area.y_max, >=, 1.0);
  g_assert_cmpfloat (area.width, >, 320.0);
  g_assert_cmpfloat (area.height, >, 240.0);

  for (double v = 0.1; v < 0.95; v += 0.2)
    {
      disco_plot_area_map (&area, v, v * v, &px, &py);
      g_assert_true (red_near (surface, px, py));
    }
  /* (0.9, 0.3) lies far below the curve (0.81), (0.1, 0.7) far above it;
   * neither is on a grid line (every 0.2). */
  disco_plot_area_map (&area, 0.9, 0.3, &px, &py);
  g_assert_true (white_at (surface, px, py));
  g_assert_false (red_near (surface, px, py));
  disco_plot_area_map (&area, 0.1, 0.7, &px, &py);
  g_assert_true (white_at (surface, px, py));
  /* The image's corner is background. */
  g_assert_true (white_at (surface, 1, 1));
  cairo_surface_destroy (surface);
}

static void
test_plots_log_y (void)
{
  double x[31], y[31];
  DiscoPlotSeries series = { "10^x", x, y, G_N_ELEMENTS (x), 1.0, 0.0, 0.0, FALSE };
  DiscoPlotPanel panel = { "log", "x", "y", &series, 1, FALSE, TRUE };
  DiscoPlotArea area;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) png = NULL;
  cairo_surface_t *surface;
  double px, py, px2, py2;

  g_test_summary ("A logarithmic y axis spans whole decades; y = 10^x is a straight red "
                  "line there (midpoints on it), and y ≤ 0 leaves a gap");
  for (guint i = 0; i < G_N_ELEMENTS (x); i++)
    {
      x[i] = i / 10.0;
      y[i] = i >= 12 && i <= 14 ? 0.0 : pow (10.0, 0.5 + x[i]);
    }
  png = disco_plot_render_panels (&panel, 1, 500, 400, &area, &error);
  g_assert_no_error (error);
  surface = decode (png);
  g_assert_true (area.log_y);
  g_assert_cmpfloat_with_epsilon (area.y_min, 1.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (area.y_max, 10000.0, 1e-6);
  /* Equal ratios are equal distances: 10^1 to 10^2 as tall as 10^2 to 10^3. */
  disco_plot_area_map (&area, 0, 10.0, NULL, &py);
  disco_plot_area_map (&area, 0, 100.0, NULL, &py2);
  disco_plot_area_map (&area, 0, 1000.0, NULL, &px2);
  g_assert_cmpfloat_with_epsilon (py - py2, py2 - px2, 1e-9);
  for (double v = 0.25; v < 1.0; v += 0.5)
    {
      disco_plot_area_map (&area, v, pow (10.0, 0.5 + v), &px, &py);
      g_assert_true (red_near (surface, px, py));
    }
  disco_plot_area_map (&area, 1.3, pow (10.0, 1.8), &px, &py);
  g_assert_false (red_near (surface, px, py));
  cairo_surface_destroy (surface);
}

static void
test_plots_nan_gap (void)
{
  double x[11], y[11];
  DiscoPlotSeries series = { NULL, x, y, G_N_ELEMENTS (x), 1.0, 0.0, 0.0, FALSE };
  DiscoPlotArea area;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) png = NULL;
  cairo_surface_t *surface;
  double px, py;

  g_test_summary ("NaN values leave a gap in the line");
  for (guint i = 0; i < G_N_ELEMENTS (x); i++)
    {
      x[i] = i;
      y[i] = (i == 4 || i == 5 || i == 6) ? NAN : 3.0;
    }
  png = disco_plot_render (NULL, NULL, NULL, &series, 1, 400, 300, &area, &error);
  g_assert_no_error (error);
  surface = decode (png);
  disco_plot_area_map (&area, 1.5, 3.0, &px, &py);
  g_assert_true (red_near (surface, px, py));
  disco_plot_area_map (&area, 8.5, 3.0, &px, &py);
  g_assert_true (red_near (surface, px, py));
  disco_plot_area_map (&area, 5.0, 3.0, &px, &py);
  g_assert_false (red_near (surface, px, py));
  cairo_surface_destroy (surface);
}

/* Whether the pixel at (px, py) is the white background seen through a
 * band of colour (r, g, b) at 20 % opacity, give or take a few levels. */
static gboolean
band_at (cairo_surface_t *surface, double px, double py, double r, double g, double b)
{
  guint pr, pg, pb;

  pixel (surface, (int) floor (px), (int) floor (py), &pr, &pg, &pb);
  return ABS ((int) pr - (int) round (255 * (0.8 + 0.2 * r))) <= 4
         && ABS ((int) pg - (int) round (255 * (0.8 + 0.2 * g))) <= 4
         && ABS ((int) pb - (int) round (255 * (0.8 + 0.2 * b))) <= 4;
}

static void
test_plots_band (void)
{
  double x[11], y[11], low[11], high[11];
  static const double bx[] = { 0.0, 3.0 }, by[] = { 1.3, 1.3 };
  static const double blow[] = { 0.1, 0.1 }, bhigh[] = { 1.45, 1.45 };
  DiscoPlotSeries series[] = {
    { "red", x, y, G_N_ELEMENTS (x), 1.0, 0.0, 0.0, FALSE, low, high },
    { "blue", bx, by, G_N_ELEMENTS (bx), 0.0, 0.0, 1.0, FALSE, blow, bhigh },
  };
  DiscoPlotArea area;
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) png = NULL;
  cairo_surface_t *surface;
  double px, py;

  g_test_summary ("A band of y = x/10 ± 0.5 in red: the y axis covers it, pixels between "
                  "its edges are red at 20 % over white, pixels outside are white, NaN "
                  "edges break it, and every line is drawn over every band");
  for (guint i = 0; i < G_N_ELEMENTS (x); i++)
    {
      x[i] = i;
      y[i] = i / 10.0;
      low[i] = i == 8 || i == 9 ? NAN : y[i] - 0.5;
      high[i] = y[i] + 0.5;
    }
  png =
      disco_plot_render ("band", "x", "y", series, G_N_ELEMENTS (series), 640, 480, &area, &error);
  g_assert_no_error (error);
  surface = decode (png);

  /* The y axis covers the band (-0.5 to 1.5), not just the line (0 to 1). */
  g_assert_cmpfloat (area.y_min, <=, -0.5);
  g_assert_cmpfloat (area.y_max, >=, 1.5);

  /* Inside the band, 30 px or more from the line and off the grid. */
  disco_plot_area_map (&area, 6.5, 0.35, &px, &py);
  g_assert_true (band_at (surface, px, py, 1.0, 0.0, 0.0));
  g_assert_false (white_at (surface, px, py));
  disco_plot_area_map (&area, 5.0, 0.25, &px, &py);
  g_assert_true (band_at (surface, px, py, 1.0, 0.0, 0.0));
  /* Above and below it. */
  disco_plot_area_map (&area, 6.5, 1.35, &px, &py);
  g_assert_true (white_at (surface, px, py));
  disco_plot_area_map (&area, 6.5, -0.1, &px, &py);
  g_assert_true (white_at (surface, px, py));
  /* Edges NaN at x = 8 and 9 break the band there; x = 10 alone is a bar. */
  disco_plot_area_map (&area, 8.5, 0.55, &px, &py);
  g_assert_true (white_at (surface, px, py));
  disco_plot_area_map (&area, 10.0, 0.7, &px, &py);
  g_assert_true (band_at (surface, px - 2.0, py, 1.0, 0.0, 0.0));
  /* The blue band covers the red line near x = 2.5, which stays pure red. */
  disco_plot_area_map (&area, 2.5, 1.2, &px, &py);
  g_assert_true (band_at (surface, px, py, 0.0, 0.0, 1.0));
  disco_plot_area_map (&area, 2.5, 0.25, &px, &py);
  g_assert_true (red_near (surface, px, py));
  cairo_surface_destroy (surface);
}

static void
test_plots_bad_input (void)
{
  static const double xs[] = { 0, 1 };
  const DiscoPlotSeries good = { "a", xs, xs, 2, 0, 0, 1, FALSE };
  const DiscoPlotSeries empty = { "empty", xs, xs, 0, 0, 0, 1, FALSE };
  /* checks: each row is a bad input and gives DISCO_ERROR_BAD_VALUE */
  const struct
  {
    const DiscoPlotSeries *series;
    guint n_series;
    guint width, height;
  } rows[] = {
    /* checks: no series */
    { NULL, 0, 400, 300 },
    { &good, 0, 400, 300 },
    /* checks: a series of no points */
    { &empty, 1, 400, 300 },
    /* checks: sizes zero or too small */
    { &good, 1, 0, 300 },
    { &good, 1, 400, 0 },
    { &good, 1, 10, 10 },
  };

  g_test_summary ("No series, an empty series and image sizes of 0 are GErrors");
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (GBytes) png = disco_plot_render ("t", "x", "y", rows[i].series, rows[i].n_series,
                                                  rows[i].width, rows[i].height, NULL, &error);
      g_assert_null (png);
      g_assert_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE);
    }
}

/* Emits the same two samples every tick, two ticks per epoch, the first in
 * the train phase and the second in the test phase (as test-evaluator.c). */
#define TEST_TYPE_TABLE (test_table_get_type ())
G_DECLARE_FINAL_TYPE (TestTable, test_table, TEST, TABLE, DiscoNode)
struct _TestTable
{
  DiscoNode parent_instance;
  guint emitted;
};
G_DEFINE_FINAL_TYPE (TestTable, test_table, DISCO_TYPE_NODE)

#define TABLE_EPOCHS 3

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
  float prediction[] = { 2, 1, 0, 0, 0, 3 };
  static const float target[] = { 1, 0, 0, 0, 1, 0 };
  gsize shape[2] = { 2, 3 };

  if (self->emitted == 2 * TABLE_EPOCHS)
    return DISCO_FLOW_EOS;
  /* Later epochs get the second sample right too. */
  if (self->emitted >= 2)
    prediction[4] = 5;
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

/* The curves node first in the file: it must still draw after the evaluator. */
static const char *pipeline_text =
    "[curves]\nnode = learning-curves\nwidth = 640\nheight = 720\n"
    "[table]\nnode = test-table\n"
    "[score]\nnode = evaluator\nprediction = table.prediction\ntarget = table.target\n";

typedef struct
{
  char *png;
  guint epochs_seen; /* epochs whose figure existed when the next epoch began */
} TickWatch;

static void
on_tick (DiscoPipeline *pipeline, DiscoTick *tick, gpointer user_data)
{
  TickWatch *watch = user_data;

  if (tick->phase == DISCO_PHASE_TRAIN && tick->epoch > 1
      && g_file_test (watch->png, G_FILE_TEST_EXISTS))
    {
      cairo_surface_t *surface = decode_file (watch->png);
      cairo_surface_destroy (surface);
      watch->epochs_seen++;
    }
}

static void
remove_dir (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      if (g_file_test (path, G_FILE_TEST_IS_DIR))
        remove_dir (path);
      else
        g_remove (path);
    }
  g_rmdir (dir);
}

/* Regular files in @dir (the pipeline also leaves a checkpoint folder). */
static guint
count_files (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  const char *name;
  guint n = 0;

  while (d != NULL && (name = g_dir_read_name (d)) != NULL)
    {
      g_autofree char *path = g_build_filename (dir, name, NULL);
      n += g_file_test (path, G_FILE_TEST_IS_REGULAR);
    }
  return n;
}

static void
test_plots_learning_curves_node (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) p = disco_pipeline_new_from_string (pipeline_text, NULL, &error);
  g_autofree char *dir = g_dir_make_tmp ("disco-plots-XXXXXX", NULL);
  TickWatch watch = { g_build_filename (dir, "learning-curves.png", NULL), 0 };
  cairo_surface_t *surface;
  guint written = 0;

  g_test_summary ("learning-curves draws results.json into a PNG after every epoch, also "
                  "when it stands before the evaluator in the file");
  g_assert_no_error (error);
  g_object_set (p, "output-dir", dir, NULL);
  g_signal_connect (p, "tick", G_CALLBACK (on_tick), &watch);
  g_assert_true (disco_pipeline_run (p, NULL, &error));
  g_assert_no_error (error);
  g_object_get (disco_pipeline_get_node (p, "curves"), "figures-written", &written, NULL);
  g_assert_cmpuint (written, ==, TABLE_EPOCHS);
  g_assert_cmpuint (watch.epochs_seen, ==, TABLE_EPOCHS - 1);

  surface = decode_file (watch.png);
  g_assert_cmpint (cairo_image_surface_get_width (surface), ==, 640);
  g_assert_cmpint (cairo_image_surface_get_height (surface), ==, 720);
  cairo_surface_destroy (surface);
  g_assert_cmpuint (count_files (dir), ==, 2); /* results.json and the figure, no temporaries */
  if (g_getenv ("DISCO_PLOTS_KEEP") != NULL)
    g_print ("# kept %s\n", dir);
  else
    remove_dir (dir);
  g_free (watch.png);
}

static void
test_plots_learning_curves_errors (void)
{
  g_autofree char *dir = g_dir_make_tmp ("disco-plots-XXXXXX", NULL);
  g_autofree char *blocker = g_build_filename (dir, "blocker", NULL);
  const char *no_output_dir[] = { NULL };
  const char *blocked[] = { "curves.path=blocker/curves.png", NULL };
  const char *no_report[] = { "curves.report=missing.json", NULL };
  const struct
  {
    const char *const *overrides;
    gboolean with_output_dir;
    int code;
    const char *text;
  } rows[] = {
    /* checks: a relative path without an output folder, before any tick */
    { no_output_dir, FALSE, DISCO_ERROR_BAD_VALUE, "\"report\"" },
    /* checks: a folder in the path that is a file */
    { blocked, TRUE, DISCO_ERROR_IO, "blocker" },
    /* checks: no report to read */
    { no_report, TRUE, DISCO_ERROR_IO, "missing.json" },
  };

  g_test_summary ("Bad paths fail the run with a clear error and leave no partial file");
  g_assert_true (g_file_set_contents (blocker, "", 0, NULL));
  for (guint i = 0; i < G_N_ELEMENTS (rows); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (DiscoPipeline) p =
          disco_pipeline_new_from_string (pipeline_text, (const char **) rows[i].overrides, &error);
      g_assert_no_error (error);
      if (rows[i].with_output_dir)
        g_object_set (p, "output-dir", dir, NULL);
      g_assert_false (disco_pipeline_run (p, NULL, &error));
      g_assert_error (error, DISCO_ERROR, rows[i].code);
      g_assert_nonnull (strstr (error->message, rows[i].text));
      g_assert_false (g_file_test (blocker, G_FILE_TEST_IS_DIR));
    }
  /* Only the blocker and the evaluator's report: no figure, no temporaries. */
  g_assert_cmpuint (count_files (dir), ==, 2);
  remove_dir (dir);
}

static gboolean
run_tool (const char *const *args, char **err)
{
  g_autoptr (GPtrArray) argv = g_ptr_array_new ();
  g_autoptr (GError) error = NULL;
  int status;

  g_ptr_array_add (argv, (char *) DISCO_PLOT_TOOL);
  for (guint i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (char *) args[i]);
  g_ptr_array_add (argv, NULL);
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_STDOUT_TO_DEV_NULL, NULL,
                               NULL, NULL, err, &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, &error))
    {
      g_assert_error (error, G_SPAWN_EXIT_ERROR, error->code);
      return error->code;
    }
  return 0;
}

static void
test_plots_tool_csv (void)
{
  g_autofree char *dir = g_dir_make_tmp ("disco-plots-XXXXXX", NULL);
  g_autofree char *csv = g_build_filename (dir, "sweep.csv", NULL);
  g_autofree char *bad_column = g_build_filename (dir, "bad-column.csv", NULL);
  g_autofree char *bad_cell = g_build_filename (dir, "bad-cell.csv", NULL);
  g_autofree char *out = g_build_filename (dir, "out.png", NULL);
  g_autofree char *report = g_build_filename (dir, "results.json", NULL);
  g_autofree char *curves = g_build_filename (dir, "curves.png", NULL);
  g_autofree char *where = NULL;
  GString *table = g_string_new ("rate,dw_stdp,dw_bcm\n");
  cairo_surface_t *surface;

  g_test_summary ("disco-plot draws CSV columns and reports; bad tables exit 1 with "
                  "file:line and write nothing; usage errors exit 2");
  for (int i = 0; i <= 20; i++)
    {
      double r = i * 2.5;
      g_string_append_printf (table, "%g,%g,%g\n", r, r * (r - 20.0) / 400.0,
                              tanh ((r - 20.0) / 10.0));
    }
  g_assert_true (g_file_set_contents (csv, table->str, -1, NULL));
  g_string_free (table, TRUE);
  g_assert_true (g_file_set_contents (bad_column, "rate,dw\n1,2\n", -1, NULL));
  g_assert_true (g_file_set_contents (bad_cell, "rate,dw_stdp\n1,2\n2,abc\n", -1, NULL));

  {
    const char *args[] = { "--csv",     csv,
                           "--x",       "rate",
                           "--y",       "dw_stdp,dw_bcm",
                           "--title",   "Weight change against postsynaptic rate",
                           "--x-label", "postsynaptic rate (Hz)",
                           "--y-label", "Δw (a.u.)",
                           "--width",   "700",
                           "--height",  "500",
                           out,         NULL };
    g_autofree char *err = NULL;
    g_assert_cmpint (run_tool (args, &err), ==, 0);
    g_assert_null (strstr (err, "disco-plot:")); /* sanitizers may print a summary */
    surface = decode_file (out);
    g_assert_cmpint (cairo_image_surface_get_width (surface), ==, 700);
    g_assert_cmpint (cairo_image_surface_get_height (surface), ==, 500);
    cairo_surface_destroy (surface);
    g_remove (out);
  }
  {
    const char *args[] = { "--csv", bad_column, "--x", "rate", "--y", "dw_stdp", out, NULL };
    g_autofree char *err = NULL;
    g_assert_cmpint (run_tool (args, &err), ==, 1);
    where = g_strdup_printf ("%s:1: no column \"dw_stdp\"", bad_column);
    g_assert_nonnull (strstr (err, where));
    g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
    g_clear_pointer (&where, g_free);
  }
  {
    const char *args[] = { "--csv", bad_cell, "--x", "rate", "--y", "dw_stdp", out, NULL };
    g_autofree char *err = NULL;
    g_assert_cmpint (run_tool (args, &err), ==, 1);
    where = g_strdup_printf ("%s:3: column \"dw_stdp\": \"abc\" is not a number", bad_cell);
    g_assert_nonnull (strstr (err, where));
    g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
    g_clear_pointer (&where, g_free);
  }
  {
    const char *args[] = { "--csv", csv, "--x", "rate", out, NULL };
    g_autofree char *err = NULL;
    g_assert_cmpint (run_tool (args, &err), ==, 2);
    g_assert_nonnull (strstr (err, "--csv needs --x and --y"));
    g_assert_false (g_file_test (out, G_FILE_TEST_EXISTS));
  }
  {
    const char *args[] = { NULL };
    g_autofree char *err = NULL;
    g_assert_cmpint (run_tool (args, &err), ==, 2);
  }
  {
    /* A report with one phase missing in an epoch and a null loss. */
    const char *json =
        "{\"epochs\": [{\"epoch\": 1, \"train\": {\"loss\": 0.9, \"accuracy\": 70, \"samples\": 4},"
        " \"test\": {\"loss\": 1.0, \"accuracy\": 65, \"samples\": 2}},\n"
        " {\"epoch\": 2, \"train\": {\"loss\": 0.5, \"accuracy\": 85, \"samples\": 4}},\n"
        " {\"epoch\": 3, \"train\": {\"loss\": null, \"accuracy\": 90, \"samples\": 4},"
        " \"test\": {\"loss\": 0.4, \"accuracy\": 88, \"samples\": 2}}]}\n";
    const char *args[] = { report, curves, NULL };
    const char *bad_args[] = { csv, curves, NULL };
    g_autofree char *err = NULL;
    g_autofree char *bad_err = NULL;

    g_assert_true (g_file_set_contents (report, json, -1, NULL));
    g_assert_cmpint (run_tool (args, &err), ==, 0);
    surface = decode_file (curves);
    g_assert_cmpint (cairo_image_surface_get_width (surface), ==, 800);
    g_assert_cmpint (cairo_image_surface_get_height (surface), ==, 900);
    cairo_surface_destroy (surface);
    g_remove (curves);
    /* A CSV is no report: json-glib's file:line:column message. */
    g_assert_cmpint (run_tool (bad_args, &bad_err), ==, 1);
    where = g_strdup_printf ("%s:1:", csv);
    g_assert_nonnull (strstr (bad_err, where));
    g_assert_false (g_file_test (curves, G_FILE_TEST_EXISTS));
  }
  {
    /* An output folder that does not exist. */
    g_autofree char *nowhere = g_build_filename (dir, "no-such-folder", "out.png", NULL);
    const char *args[] = { "--csv", csv, "--x", "rate", "--y", "dw_stdp", nowhere, NULL };
    g_autofree char *err = NULL;
    g_assert_cmpint (run_tool (args, &err), ==, 1);
    g_assert_nonnull (strstr (err, "cannot write"));
  }
  g_assert_cmpuint (count_files (dir), ==, 4); /* the three tables and the report */
  remove_dir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  disco_registry_register ("test-table", TEST_TYPE_TABLE);
  g_test_add_func ("/disco/plots/curve", test_plots_curve);
  g_test_add_func ("/disco/plots/nan-gap", test_plots_nan_gap);
  g_test_add_func ("/disco/plots/log-y", test_plots_log_y);
  g_test_add_func ("/disco/plots/band", test_plots_band);
  g_test_add_func ("/disco/plots/bad-input", test_plots_bad_input);
  g_test_add_func ("/disco/plots/learning-curves-node", test_plots_learning_curves_node);
  g_test_add_func ("/disco/plots/learning-curves-errors", test_plots_learning_curves_errors);
  g_test_add_func ("/disco/plots/tool", test_plots_tool_csv);
  return g_test_run ();
}
