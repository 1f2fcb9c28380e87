/* disco-plot.c: line plots as PNG, from a run's report or a CSV table
 *
 *   disco-plot [--width W] [--height H] results.json OUT.png
 *       the learning curves (accuracy and loss per epoch and phase) that
 *       the learning-curves node draws during a run
 *   disco-plot --csv TABLE.csv --x COLUMN --y COLUMN[,COLUMN...] [--title T]
 *              [--x-label L] [--y-label L] [--log-y] OUT.png
 *       one curve per y column against the x column of a CSV file with a
 *       header row, e.g. weight change against postsynaptic rate from a sweep
 *   disco-plot --csv TABLE.csv --series X:Y[:LABEL][,X:Y[:LABEL]...] ... OUT.png
 *       one curve per pair, each with its own x column, e.g. the weight
 *       change of each circuit of a figure3 table against its own rate:
 *       --series rE_4:dw_4,rE_3:dw_3
 *
 * The image is written atomically: nothing is written on an error. Exit
 * status: 0 on success, 1 on bad input (the message gives file:line where
 * there is one), 2 on a usage error.
 */

#include "disco-plot.h"

#include <disco/disco.h>

#include <locale.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

typedef struct
{
  char *name;
  guint index;    /* in the header */
  GArray *values; /* double */
} Column;

static void
column_clear (Column *column)
{
  g_free (column->name);
  if (column->values != NULL)
    g_array_unref (column->values);
}

static char **
split_row (const char *line)
{
  char **cells = g_strsplit (line, ",", -1);

  for (guint i = 0; cells[i] != NULL; i++)
    {
      gsize len;

      g_strstrip (cells[i]);
      len = strlen (cells[i]);
      if (len >= 2 && cells[i][0] == '"' && cells[i][len - 1] == '"')
        {
          memmove (cells[i], cells[i] + 1, len - 2);
          cells[i][len - 2] = '\0';
        }
    }
  return cells;
}

/* Reads the named columns of @path into @columns. */
static gboolean
read_csv (const char *path, Column *columns, guint n_columns, GError **error)
{
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  g_auto (GStrv) header = NULL;
  guint header_line = 0, n_header = 0;
  gsize n_rows = 0;

  if (!g_file_get_contents (path, &text, NULL, error))
    return FALSE;
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      g_auto (GStrv) cells = NULL;
      char *line = g_strstrip (lines[i]); /* also drops a "\r" */
      guint line_number = i + 1;

      if (line[0] == '\0' || line[0] == '#')
        continue;
      cells = split_row (line);
      if (header == NULL)
        {
          header = g_steal_pointer (&cells);
          header_line = line_number;
          n_header = g_strv_length (header);
          for (guint c = 0; c < n_columns; c++)
            {
              guint k;

              for (k = 0; k < n_header && strcmp (header[k], columns[c].name) != 0; k++)
                ;
              if (k == n_header)
                {
                  g_autofree char *names = g_strjoinv (", ", header);
                  g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                               "%s:%u: no column \"%s\" (the header has: %s)", path, header_line,
                               columns[c].name, names);
                  return FALSE;
                }
              columns[c].index = k;
            }
          continue;
        }
      if (g_strv_length (cells) != n_header)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                       "%s:%u: %u cells, but the header on line %u has %u", path, line_number,
                       g_strv_length (cells), header_line, n_header);
          return FALSE;
        }
      for (guint c = 0; c < n_columns; c++)
        {
          const char *cell = cells[columns[c].index];
          char *end = NULL;
          double v;

          if (cell[0] == '\0' || g_ascii_strcasecmp (cell, "nan") == 0
              || g_ascii_strcasecmp (cell, "null") == 0)
            v = NAN;
          else
            {
              v = g_ascii_strtod (cell, &end);
              if (end == cell || *end != '\0')
                {
                  g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                               "%s:%u: column \"%s\": \"%s\" is not a number", path, line_number,
                               columns[c].name, cell);
                  return FALSE;
                }
            }
          g_array_append_val (columns[c].values, v);
        }
      n_rows++;
    }
  if (header == NULL || n_rows == 0)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA, "%s: %s", path,
                   header == NULL ? "empty file: expected a header row"
                                  : "no data rows after the header");
      return FALSE;
    }
  return TRUE;
}

/* The index of column @name in @columns, added when new. */
static guint
column_index (GArray *columns, const char *name)
{
  Column column = { 0 };

  for (guint i = 0; i < columns->len; i++)
    if (strcmp (g_array_index (columns, Column, i).name, name) == 0)
      return i;
  column.name = g_strdup (name);
  column.values = g_array_new (FALSE, FALSE, sizeof (double));
  g_array_append_val (columns, column);
  return columns->len - 1;
}

/* One curve per pair of @pairs (DiscoPlotColumnPair), each against its own
 * x column. */
static GBytes *
plot_csv (const char *path, GPtrArray *pairs, const char *title, const char *x_label,
          const char *y_label, gboolean log_y, guint width, guint height, GError **error)
{
  g_autoptr (GArray) columns = g_array_new (FALSE, TRUE, sizeof (Column));
  g_autofree DiscoPlotSeries *series = g_new0 (DiscoPlotSeries, pairs->len);
  g_autofree guint *x_index = g_new0 (guint, pairs->len);
  g_autofree guint *y_index = g_new0 (guint, pairs->len);
  g_autofree char *default_title = NULL;
  DiscoPlotColumnPair *first = g_ptr_array_index (pairs, 0);
  gboolean one_x = TRUE;
  DiscoPlotPanel panel = { 0 };
  GBytes *png = NULL;

  g_array_set_clear_func (columns, (GDestroyNotify) column_clear);
  for (guint i = 0; i < pairs->len; i++)
    {
      DiscoPlotColumnPair *pair = g_ptr_array_index (pairs, i);

      x_index[i] = column_index (columns, pair->x);
      y_index[i] = column_index (columns, pair->y);
      one_x = one_x && strcmp (pair->x, first->x) == 0;
    }
  if (!read_csv (path, (Column *) columns->data, columns->len, error))
    return NULL;
  for (guint i = 0; i < pairs->len; i++)
    {
      DiscoPlotColumnPair *pair = g_ptr_array_index (pairs, i);
      GArray *x = g_array_index (columns, Column, x_index[i]).values;
      GArray *y = g_array_index (columns, Column, y_index[i]).values;

      series[i] = (DiscoPlotSeries){ pair->label != NULL ? pair->label : pair->y,
                                     (double *) x->data,
                                     (double *) y->data,
                                     x->len,
                                     0,
                                     0,
                                     0,
                                     x->len <= 30 };
      disco_plot_palette_color (i, &series[i].r, &series[i].g, &series[i].b);
    }
  if (title == NULL)
    {
      GString *text = g_string_new (NULL);
      for (guint i = 0; i < pairs->len; i++)
        {
          DiscoPlotColumnPair *pair = g_ptr_array_index (pairs, i);
          g_string_append_printf (text, "%s%s", i > 0 ? "," : "", pair->y);
          if (!one_x)
            g_string_append_printf (text, " against %s", pair->x);
        }
      if (one_x)
        g_string_append_printf (text, " against %s", first->x);
      title = default_title = g_string_free (text, FALSE);
    }
  panel = (DiscoPlotPanel){ title,
                            x_label != NULL ? x_label : (one_x ? first->x : NULL),
                            y_label != NULL ? y_label : (pairs->len == 1 ? first->y : NULL),
                            series,
                            pairs->len,
                            FALSE,
                            log_y };
  png = disco_plot_render_panels (&panel, 1, width, height, NULL, error);
  return png;
}

int
main (int argc, char **argv)
{
  g_autofree char *csv = NULL;
  g_autofree char *x = NULL;
  g_autofree char *y = NULL;
  g_autofree char *title = NULL;
  g_autofree char *x_label = NULL;
  g_autofree char *y_label = NULL;
  g_autofree char *series = NULL;
  gboolean log_y = FALSE;
  gint width = -1, height = -1;
  GOptionEntry entries[] = {
    { "csv", 0, 0, G_OPTION_ARG_FILENAME, &csv, "Plot columns of a CSV table with a header row",
      "TABLE.csv" },
    { "x", 0, 0, G_OPTION_ARG_FILENAME, &x, "Column of the abscissae (with --csv)", "COLUMN" },
    { "y", 0, 0, G_OPTION_ARG_FILENAME, &y, "Columns of the curves, comma-separated (with --csv)",
      "COLUMN[,COLUMN...]" },
    { "series", 0, 0, G_OPTION_ARG_FILENAME, &series,
      "Curves, each against its own x column, instead of --x and --y (with --csv)",
      "X:Y[:LABEL][,X:Y[:LABEL]...]" },
    { "log-y", 0, 0, G_OPTION_ARG_NONE, &log_y,
      "Logarithmic y axis; values ≤ 0 leave gaps (with --csv)", NULL },
    { "title", 0, 0, G_OPTION_ARG_FILENAME, &title, "Title above the plot (with --csv)", "TEXT" },
    { "x-label", 0, 0, G_OPTION_ARG_FILENAME, &x_label, "Label of the x axis (with --csv)",
      "TEXT" },
    { "y-label", 0, 0, G_OPTION_ARG_FILENAME, &y_label, "Label of the y axis (with --csv)",
      "TEXT" },
    { "width", 0, 0, G_OPTION_ARG_INT, &width, "Image width in pixels (default 800)", "W" },
    { "height", 0, 0, G_OPTION_ARG_INT, &height,
      "Image height in pixels (default 600 with --csv, 900 for a report)", "H" },
    { NULL }
  };
  g_autoptr (GOptionContext) context =
      g_option_context_new ("[results.json] OUT.png - line plots as PNG");
  g_autoptr (GError) error = NULL;
  g_autoptr (GBytes) png = NULL;
  const char *out;

  setlocale (LC_ALL, "");
  /* Texts are taken as bytes (G_OPTION_ARG_FILENAME) and must be UTF-8, as
   * cairo wants them: a string option would fail on "Δw" in the C locale. */
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (
      context, "Without --csv, draws the learning curves (accuracy and loss per epoch) of an\n"
               "evaluator's results.json. With --csv, draws one curve per --y column against\n"
               "the --x column, or one curve per --series pair X:Y (each with its own x\n"
               "column). Exit status: 1 on bad input, 2 on a usage error.\n");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("disco-plot: %s\n", error->message);
      return 2;
    }
  {
    const char *texts[] = { x, y, series, title, x_label, y_label };
    for (guint i = 0; i < G_N_ELEMENTS (texts); i++)
      if (texts[i] != NULL && !g_utf8_validate (texts[i], -1, NULL))
        {
          g_printerr ("disco-plot: \"%s\" is not UTF-8 text\n", texts[i]);
          return 2;
        }
  }
  if (width == -1)
    width = 800;
  if (height == -1)
    height = csv != NULL ? 600 : 900;
  if ((csv != NULL && argc != 2) || (csv == NULL && argc != 3)
      || (csv != NULL && series == NULL && (x == NULL || y == NULL))
      || (series != NULL && (x != NULL || y != NULL))
      || (csv == NULL && (x != NULL || y != NULL || series != NULL)) || width <= 0 || height <= 0)
    {
      g_autofree char *help = g_option_context_get_help (context, TRUE, NULL);
      g_printerr ("disco-plot: %s\n%s",
                  series != NULL && (x != NULL || y != NULL)
                      ? "--series replaces --x and --y: give one or the other"
                  : csv != NULL && series == NULL && (x == NULL || y == NULL)
                      ? "--csv needs --x and --y, or --series"
                  : width <= 0 || height <= 0
                      ? "--width and --height must be positive"
                      : "expected a report and an output file, or --csv TABLE --x --y (or "
                        "--series) and an output file",
                  help);
      return 2;
    }
  out = argv[argc - 1];
  if (csv != NULL)
    {
      g_autoptr (GPtrArray) pairs = NULL;

      if (series != NULL)
        {
          pairs = disco_plot_parse_series_spec (series, &error);
          if (pairs == NULL)
            g_prefix_error (&error, "--series: ");
        }
      else
        {
          g_auto (GStrv) names = g_strsplit (y, ",", -1);

          pairs = g_ptr_array_new_with_free_func ((GDestroyNotify) disco_plot_column_pair_free);
          for (guint i = 0; names[i] != NULL; i++)
            {
              DiscoPlotColumnPair *pair = g_new0 (DiscoPlotColumnPair, 1);
              pair->x = g_strdup (x);
              pair->y = g_strdup (g_strstrip (names[i]));
              g_ptr_array_add (pairs, pair);
            }
        }
      if (pairs != NULL)
        png = plot_csv (csv, pairs, title, x_label, y_label, log_y, width, height, &error);
    }
  else
    png = disco_plot_learning_curves (argv[1], width, height, &error);
  if (png == NULL
      || !disco_write_file_atomically (out, g_bytes_get_data (png, NULL), g_bytes_get_size (png),
                                       &error))
    {
      g_printerr ("disco-plot: %s\n", error->message);
      return 1;
    }
  return 0;
}
