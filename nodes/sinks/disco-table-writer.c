/* disco-table-writer.c */

/**
 * SECTION:node-table-writer
 * @title: table-writer
 * @short_description: a CSV table of what it receives, and a line plot of it
 *
 * A sink that writes the values on its linked inputs as the columns of a
 * CSV table in the run's output folder. Each tick adds N rows, where N is
 * the number of rows every linked input holds this tick (they must agree;
 * a batch × 1 tensor gives one row per sample). An input declared rows × k
 * (1 < k ≤ %DISCO_TABLE_WRITER_MAX_WIDTH, e.g. a trajectory of two outputs)
 * fills k columns, `name_1` … `name_k`. The header row holds
 * #DiscoTableWriter:names, by default `node.port` of each producer; with
 * #DiscoTableWriter:index the rows start with the tick's index and epoch.
 * Numbers are written with `%.9g`, which gives every float32 back exactly.
 * #DiscoTableWriter:epochs keeps the rows of some epochs only (numbers and
 * ranges: `5-64`).
 *
 * The table is written atomically (temporary name, then rename) after every
 * epoch and at the end of the run, so it always holds the run so far; a run
 * in which this node fails writes nothing more. With #DiscoTableWriter:plot
 * set, the node also draws the table as a PNG line plot at the same moments:
 * one curve per `x:y[:label]` entry of #DiscoTableWriter:plot-series, each
 * against its own x column (by default the first column against every other
 * one). Every column named there is checked before the first tick. A run
 * resumed from a checkpoint (`disco-run --resume`) continues the table with
 * the rows it held when that checkpoint was taken.
 *
 * Ports: optional inputs `column-1` … `column-12` (link at least one; the
 * linked ones are the table's columns, in port order).
 *
 * ## Example pipeline
 * |[
 * [table]
 * node = table-writer
 * column-1 = x.value
 * column-2 = circuit.excitatory-rate
 * column-3 = circuit.weight-change
 * names = x,rE,dw
 * path = sweep.csv
 * plot = sweep.png
 * plot-series = rE:dw:Δw
 * x-label = r_E
 * y-label = Δw
 * ]|
 */

#include "disco-table-writer.h"
#include "disco-node-util.h"
#include "disco-nodes.h"
#include "disco-plot.h"

#include <math.h>
#include <string.h>

#define DEFAULT_NAMES NULL
#define DEFAULT_INDEX FALSE
#define DEFAULT_EPOCHS NULL
#define DEFAULT_PATH "table.csv"
#define DEFAULT_PLOT NULL
#define DEFAULT_PLOT_SERIES NULL
#define DEFAULT_TITLE NULL
#define DEFAULT_X_LABEL NULL
#define DEFAULT_Y_LABEL NULL
#define DEFAULT_LOG_Y FALSE
#define DEFAULT_WIDTH 800
#define DEFAULT_HEIGHT 600

struct _DiscoTableWriter
{
  DiscoNode parent_instance;

  char *names;
  gboolean index;
  char *epochs;
  char *path;
  char *plot;
  char *plot_series;
  char *title;
  char *x_label;
  char *y_label;
  gboolean log_y;
  guint width;
  guint height;

  /* per run */
  GPtrArray *ports;     /* linked input ports (interned), in port order */
  GArray *widths;       /* guint per port: columns it fills (its last dimension) */
  GPtrArray *header;    /* column names: tick, epoch (with index), then per port */
  GArray *epoch_filter; /* guint pairs first, last; empty: every epoch */
  GPtrArray *values;    /* GArray of double per header column, for the plot */
  GPtrArray *pairs;     /* DiscoPlotColumnPair, or NULL without a plot */
  GArray *pair_columns; /* guint x, y header indices per pair */
  GString *body;
  guint64 rows;
  gboolean dirty;
  gboolean failed;
};

G_DEFINE_FINAL_TYPE (DiscoTableWriter, disco_table_writer, DISCO_TYPE_NODE)
DISCO_NODE_REGISTER_DEFINE (table_writer, "table-writer", DISCO_TYPE_TABLE_WRITER)

enum
{
  PROP_0,
  PROP_NAMES,
  PROP_INDEX,
  PROP_EPOCHS,
  PROP_PATH,
  PROP_PLOT,
  PROP_PLOT_SERIES,
  PROP_TITLE,
  PROP_X_LABEL,
  PROP_Y_LABEL,
  PROP_LOG_Y,
  PROP_WIDTH,
  PROP_HEIGHT,
  PROP_ROWS,
  N_PROPERTIES
};

static GParamSpec *properties[N_PROPERTIES];
static const char *column_ports[DISCO_TABLE_WRITER_MAX_COLUMNS];

static gboolean
is_set (const char *text)
{
  return text != NULL && text[0] != '\0';
}

static void
clear_run_state (DiscoTableWriter *self)
{
  g_clear_pointer (&self->ports, g_ptr_array_unref);
  g_clear_pointer (&self->widths, g_array_unref);
  g_clear_pointer (&self->header, g_ptr_array_unref);
  g_clear_pointer (&self->epoch_filter, g_array_unref);
  g_clear_pointer (&self->values, g_ptr_array_unref);
  g_clear_pointer (&self->pairs, g_ptr_array_unref);
  g_clear_pointer (&self->pair_columns, g_array_unref);
  if (self->body != NULL)
    g_string_free (self->body, TRUE);
  self->body = NULL;
}

static void
disco_table_writer_finalize (GObject *object)
{
  DiscoTableWriter *self = DISCO_TABLE_WRITER (object);

  clear_run_state (self);
  g_free (self->names);
  g_free (self->epochs);
  g_free (self->path);
  g_free (self->plot);
  g_free (self->plot_series);
  g_free (self->title);
  g_free (self->x_label);
  g_free (self->y_label);
  G_OBJECT_CLASS (disco_table_writer_parent_class)->finalize (object);
}

static char **
string_field (DiscoTableWriter *self, guint prop_id)
{
  switch (prop_id)
    {
    case PROP_NAMES: return &self->names;
    case PROP_EPOCHS: return &self->epochs;
    case PROP_PATH: return &self->path;
    case PROP_PLOT: return &self->plot;
    case PROP_PLOT_SERIES: return &self->plot_series;
    case PROP_TITLE: return &self->title;
    case PROP_X_LABEL: return &self->x_label;
    case PROP_Y_LABEL: return &self->y_label;
    default: return NULL;
    }
}

static void
disco_table_writer_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DiscoTableWriter *self = DISCO_TABLE_WRITER (object);
  char **field = string_field (self, prop_id);

  if (field != NULL)
    {
      g_value_set_string (value, *field);
      return;
    }
  switch (prop_id)
    {
    case PROP_INDEX: g_value_set_boolean (value, self->index); break;
    case PROP_LOG_Y: g_value_set_boolean (value, self->log_y); break;
    case PROP_WIDTH: g_value_set_uint (value, self->width); break;
    case PROP_HEIGHT: g_value_set_uint (value, self->height); break;
    case PROP_ROWS: g_value_set_uint64 (value, self->rows); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
disco_table_writer_set_property (GObject *object, guint prop_id, const GValue *value,
                                 GParamSpec *pspec)
{
  DiscoTableWriter *self = DISCO_TABLE_WRITER (object);
  char **field = string_field (self, prop_id);

  if (field != NULL)
    {
      g_free (*field);
      *field = g_value_dup_string (value);
      return;
    }
  switch (prop_id)
    {
    case PROP_INDEX: self->index = g_value_get_boolean (value); break;
    case PROP_LOG_Y: self->log_y = g_value_get_boolean (value); break;
    case PROP_WIDTH: self->width = g_value_get_uint (value); break;
    case PROP_HEIGHT: self->height = g_value_get_uint (value); break;
    default: G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gint
header_index (DiscoTableWriter *self, const char *name)
{
  for (guint i = 0; i < self->header->len; i++)
    if (strcmp (g_ptr_array_index (self->header, i), name) == 0)
      return i;
  return -1;
}

static char *
header_text (DiscoTableWriter *self, const char *separator)
{
  g_ptr_array_add (self->header, NULL);
  char *text = g_strjoinv (separator, (char **) self->header->pdata);
  g_ptr_array_remove_index (self->header, self->header->len - 1);
  return text;
}

/* The header names: "tick" and "epoch" with index, then names or the
 * producers' node.port, checked to be unique and usable in CSV and in
 * plot-series. */
static gboolean
build_header (DiscoTableWriter *self, GError **error)
{
  DiscoNode *node = DISCO_NODE (self);
  g_auto (GStrv) given = NULL;

  if (self->index)
    {
      g_ptr_array_add (self->header, g_strdup ("tick"));
      g_ptr_array_add (self->header, g_strdup ("epoch"));
    }
  if (is_set (self->names))
    {
      given = g_strsplit (self->names, ",", -1);
      if (g_strv_length (given) != self->ports->len)
        {
          g_ptr_array_add (self->ports, NULL);
          g_autofree char *linked = g_strjoinv (", ", (char **) self->ports->pdata);
          g_ptr_array_remove_index (self->ports, self->ports->len - 1);
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                       "property \"names\" of node \"%s\" has %u name(s), but %u input(s) are "
                       "linked (%s)",
                       disco_node_get_name (node), g_strv_length (given), self->ports->len, linked);
          return FALSE;
        }
    }
  for (guint i = 0; i < self->ports->len; i++)
    {
      const char *port = g_ptr_array_index (self->ports, i);
      guint width = g_array_index (self->widths, guint, i);
      g_autofree char *name = NULL;

      if (given != NULL)
        name = g_strdup (g_strstrip (given[i]));
      else
        {
          const char *producer_port = NULL;
          DiscoNode *producer = disco_node_get_input_node (node, port, &producer_port);
          name = g_strdup_printf ("%s.%s", disco_node_get_name (producer), producer_port);
        }
      /* A rows × k input fills k columns: name_1 … name_k. */
      if (width == 1)
        g_ptr_array_add (self->header, g_steal_pointer (&name));
      else
        for (guint j = 0; j < width; j++)
          g_ptr_array_add (self->header, g_strdup_printf ("%s_%u", name, j + 1));
    }
  for (guint i = 0; i < self->header->len; i++)
    {
      const char *name = g_ptr_array_index (self->header, i);

      if (name[0] == '\0' || strpbrk (name, ",:\"\n\r") != NULL)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                       "property \"names\" of node \"%s\": column name \"%s\" is empty or "
                       "holds one of , : \" or a line break",
                       disco_node_get_name (node), name);
          return FALSE;
        }
      if (header_index (self, name) != (gint) i)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                       "property \"names\" of node \"%s\": column name \"%s\" is used twice%s",
                       disco_node_get_name (node), name,
                       self->index ? " (tick and epoch are the index columns)" : "");
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
parse_epochs (DiscoTableWriter *self, GError **error)
{
  g_auto (GStrv) items = NULL;

  if (!is_set (self->epochs))
    return TRUE;
  items = g_strsplit (self->epochs, ",", -1);
  for (guint i = 0; items[i] != NULL; i++)
    {
      g_auto (GStrv) ends = g_strsplit (g_strstrip (items[i]), "-", 2);
      guint64 first, last;

      if (!g_ascii_string_to_unsigned (g_strstrip (ends[0]), 10, 1, G_MAXUINT, &first, NULL)
          || (ends[1] != NULL
              && (!g_ascii_string_to_unsigned (g_strstrip (ends[1]), 10, 1, G_MAXUINT, &last, NULL)
                  || last < first)))
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                       "property \"epochs\" of node \"%s\": \"%s\" is not an epoch number "
                       "(1, 2, …) or range (5-64); give a comma-separated list such as "
                       "\"1,10,50\" or \"5-64\"",
                       disco_node_get_name (DISCO_NODE (self)), items[i]);
          return FALSE;
        }
      if (ends[1] == NULL)
        last = first;
      /* Ranges are kept as pairs of ends: a long run needs no long list. */
      {
        guint pair[2] = { (guint) first, (guint) last };
        g_array_append_vals (self->epoch_filter, pair, 2);
      }
    }
  return TRUE;
}

static gboolean
parse_plot_series (DiscoTableWriter *self, GError **error)
{
  DiscoNode *node = DISCO_NODE (self);
  g_autoptr (GError) parse_error = NULL;
  g_autofree char *spec = NULL;
  guint first_data = self->index ? 2 : 0;

  if (is_set (self->plot_series))
    spec = g_strdup (self->plot_series);
  else if (is_set (self->plot))
    {
      /* The first column against every other one. */
      GString *text = g_string_new (NULL);
      const char *x = g_ptr_array_index (self->header, first_data);

      for (guint i = first_data + 1; i < self->header->len; i++)
        g_string_append_printf (text, "%s%s:%s", text->len > 0 ? "," : "", x,
                                (char *) g_ptr_array_index (self->header, i));
      spec = g_string_free (text, FALSE);
      if (spec[0] == '\0')
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                       "property \"plot\" of node \"%s\": a table of one column \"%s\" has "
                       "nothing to plot against it; set plot-series",
                       disco_node_get_name (node), x);
          return FALSE;
        }
    }
  else
    return TRUE;

  self->pairs = disco_plot_parse_series_spec (spec, &parse_error);
  if (self->pairs == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "property \"plot-series\" of node \"%s\": %s", disco_node_get_name (node),
                   parse_error->message);
      return FALSE;
    }
  self->pair_columns = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint i = 0; i < self->pairs->len; i++)
    {
      DiscoPlotColumnPair *pair = g_ptr_array_index (self->pairs, i);
      const char *names[] = { pair->x, pair->y };

      for (guint k = 0; k < 2; k++)
        {
          gint column = header_index (self, names[k]);
          guint index = column;

          if (column < 0)
            {
              g_autofree char *have = header_text (self, ", ");
              g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                           "property \"plot-series\" of node \"%s\": no column \"%s\" (the "
                           "table has: %s)",
                           disco_node_get_name (node), names[k], have);
              return FALSE;
            }
          g_array_append_val (self->pair_columns, index);
        }
    }
  return TRUE;
}

static gboolean
disco_table_writer_prepare (DiscoNode *node, GError **error)
{
  DiscoTableWriter *self = DISCO_TABLE_WRITER (node);

  clear_run_state (self);
  self->ports = g_ptr_array_new ();
  self->header = g_ptr_array_new_with_free_func (g_free);
  self->epoch_filter = g_array_new (FALSE, FALSE, sizeof (guint));
  self->values = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  self->body = g_string_new (NULL);
  self->rows = 0;
  self->dirty = FALSE;
  self->failed = FALSE;

  if (!is_set (self->path))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "property \"path\" of node \"%s\" is empty: the table needs a file",
                   disco_node_get_name (node));
      return FALSE;
    }
  if (!disco_node_check_output_path (node, "path", self->path, error)
      || (is_set (self->plot) && !disco_node_check_output_path (node, "plot", self->plot, error)))
    return FALSE;
  self->widths = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint i = 0; i < DISCO_TABLE_WRITER_MAX_COLUMNS; i++)
    if (disco_node_is_linked (node, column_ports[i]))
      {
        guint n_dims = 0, width = 1;
        const gsize *shape = disco_node_get_input_declared_shape (node, column_ports[i], &n_dims);

        if (shape != NULL && n_dims >= 2 && shape[n_dims - 1] > 0
            && shape[n_dims - 1] <= DISCO_TABLE_WRITER_MAX_WIDTH)
          width = shape[n_dims - 1];
        g_ptr_array_add (self->ports, (gpointer) column_ports[i]);
        g_array_append_val (self->widths, width);
      }
  if (self->ports->len == 0)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                   "node \"%s\" has no linked column: link column-1 … column-%d",
                   disco_node_get_name (node), DISCO_TABLE_WRITER_MAX_COLUMNS);
      return FALSE;
    }
  if (!build_header (self, error) || !parse_epochs (self, error)
      || !parse_plot_series (self, error))
    return FALSE;
  for (guint i = 0; i < self->header->len; i++)
    g_ptr_array_add (self->values, g_array_new (FALSE, FALSE, sizeof (double)));
  return TRUE;
}

static gboolean
wanted_epoch (DiscoTableWriter *self, guint epoch)
{
  if (self->epoch_filter->len == 0)
    return TRUE;
  for (guint i = 0; i + 1 < self->epoch_filter->len; i += 2)
    if (g_array_index (self->epoch_filter, guint, i) <= epoch
        && epoch <= g_array_index (self->epoch_filter, guint, i + 1))
      return TRUE;
  return FALSE;
}

static DiscoFlowReturn
disco_table_writer_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  DiscoTableWriter *self = DISCO_TABLE_WRITER (node);
  g_autofree const float **columns = g_new0 (const float *, self->ports->len);
  guint first_data = self->index ? 2 : 0;
  gsize n = 0;
  guint first_column_of_port = first_data;

  if (!wanted_epoch (self, tick->epoch))
    return DISCO_FLOW_OK;
  for (guint c = 0; c < self->ports->len; c++)
    {
      const char *port = g_ptr_array_index (self->ports, c);
      DiscoTensor *in = disco_node_get_input (node, port);
      gsize count;
      guint width;

      if (in == NULL)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                       "input \"%s\" of node \"%s\" received no tensor this tick", port,
                       disco_node_get_name (node));
          goto failed;
        }
      columns[c] = disco_tensor_read_host (in, error);
      if (columns[c] == NULL)
        goto failed;
      width = g_array_index (self->widths, guint, c);
      count = disco_tensor_get_n_elements (in) / width;
      if (disco_tensor_get_n_elements (in) % width != 0)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                       "input \"%s\" of node \"%s\" holds %" G_GSIZE_FORMAT " values, not "
                       "rows of the %u columns it was declared with",
                       port, disco_node_get_name (node), disco_tensor_get_n_elements (in), width);
          goto failed;
        }
      if (c == 0)
        n = count;
      else if (count != n)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                       "inputs \"%s\" (%s, %" G_GSIZE_FORMAT
                       " rows) and \"%s\" (%s, %" G_GSIZE_FORMAT
                       " rows) of node \"%s\" differ in length: every "
                       "column needs the same number of rows",
                       (char *) g_ptr_array_index (self->ports, 0),
                       (char *) g_ptr_array_index (self->header, first_data), n, port,
                       (char *) g_ptr_array_index (self->header, first_column_of_port), count,
                       disco_node_get_name (node));
          goto failed;
        }
      first_column_of_port += width;
    }

  for (gsize r = 0; r < n; r++)
    {
      if (self->index)
        {
          double t = tick->index, e = tick->epoch;

          g_string_append_printf (self->body, "%" G_GUINT64_FORMAT ",%u,", tick->index,
                                  tick->epoch);
          g_array_append_val (g_ptr_array_index (self->values, 0), t);
          g_array_append_val (g_ptr_array_index (self->values, 1), e);
        }
      for (guint c = 0, column = first_data; c < self->ports->len; c++)
        {
          guint width = g_array_index (self->widths, guint, c);

          for (guint j = 0; j < width; j++, column++)
            {
              double v = columns[c][r * width + j];

              g_string_append_printf (self->body, column > first_data ? ",%.9g" : "%.9g", v);
              g_array_append_val (g_ptr_array_index (self->values, column), v);
            }
        }
      g_string_append_c (self->body, '\n');
    }
  self->rows += n;
  self->dirty = TRUE;
  return DISCO_FLOW_OK;

failed:
  self->failed = TRUE;
  return DISCO_FLOW_ERROR;
}

static gboolean
write_plot (DiscoTableWriter *self, GError **error)
{
  g_autofree DiscoPlotSeries *series = g_new0 (DiscoPlotSeries, self->pairs->len);
  g_autoptr (GBytes) png = NULL;
  DiscoPlotPanel panel;

  for (guint i = 0; i < self->pairs->len; i++)
    {
      DiscoPlotColumnPair *pair = g_ptr_array_index (self->pairs, i);
      GArray *x =
          g_ptr_array_index (self->values, g_array_index (self->pair_columns, guint, 2 * i));
      GArray *y =
          g_ptr_array_index (self->values, g_array_index (self->pair_columns, guint, 2 * i + 1));

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
  panel = (DiscoPlotPanel){ self->title,      self->x_label, self->y_label, series,
                            self->pairs->len, FALSE,         self->log_y };
  png = disco_plot_render_panels (&panel, 1, self->width, self->height, NULL, error);
  if (png == NULL)
    return FALSE;
  return disco_node_util_write_output (DISCO_NODE (self), self->plot, png, error);
}

/* The table, and the plot when there is one and a row to draw. */
static gboolean
write_files (DiscoTableWriter *self, GError **error)
{
  DiscoNode *node = DISCO_NODE (self);
  g_autofree char *header = header_text (self, ",");
  g_autofree char *path = NULL;
  g_autoptr (GString) text = g_string_new (header);

  g_string_append_c (text, '\n');
  g_string_append_len (text, self->body->str, self->body->len);
  path = disco_pipeline_build_output_path (disco_node_get_pipeline (node), self->path, error);
  if (path == NULL
      || !disco_write_file_atomically (path, (const guint8 *) text->str, text->len, error))
    return FALSE;
  if (self->pairs != NULL && self->rows > 0 && !write_plot (self, error))
    return FALSE;
  self->dirty = FALSE;
  return TRUE;
}

/* The rows the table held when the last epoch ended, kept as a parameter
 * so that the checkpoint taken right after carries it: a resumed run keeps
 * exactly those rows of the file, and drops any of an unfinished epoch. */
#define ROWS_PARAMETER "checkpointed-rows"

static gboolean
disco_table_writer_end_epoch (DiscoNode *node, guint epoch, GError **error)
{
  DiscoTableWriter *self = DISCO_TABLE_WRITER (node);
  DiscoTensor *rows = disco_node_get_parameter (node, ROWS_PARAMETER);
  double count = (double) self->rows;
  float *halves;

  if (!write_files (self, error))
    {
      self->failed = TRUE;
      return FALSE;
    }
  if (rows == NULL)
    {
      gsize shape[1] = { 2 };
      g_autoptr (DiscoTensor) fresh = disco_tensor_new (1, shape);

      disco_node_add_parameter (node, ROWS_PARAMETER, fresh);
      rows = fresh;
    }
  /* float32 holds integers exactly only to 2^24: the count goes in as the
   * two float halves of a double. */
  halves = disco_tensor_write_host (rows, error);
  if (halves == NULL)
    return FALSE;
  memcpy (halves, &count, sizeof count);
  return TRUE;
}

/* Continues the table of the run being resumed: the rows it had when the
 * checkpoint was taken, read back from the file, in the table and in the
 * plot. */
static gboolean
disco_table_writer_resume (DiscoNode *node, guint epoch, GError **error)
{
  DiscoTableWriter *self = DISCO_TABLE_WRITER (node);
  DiscoTensor *rows = disco_node_get_parameter (node, ROWS_PARAMETER);
  g_autofree char *path = NULL, *contents = NULL, *header = header_text (self, ",");
  g_auto (GStrv) lines = NULL;
  const float *halves;
  double count;
  guint64 wanted;

  if (rows == NULL)
    return TRUE; /* no epoch had ended: nothing was kept */
  halves = disco_tensor_read_host (rows, error);
  if (halves == NULL)
    return FALSE;
  memcpy (&count, halves, sizeof count);
  wanted = (guint64) count;
  path = disco_pipeline_build_output_path (disco_node_get_pipeline (node), self->path, error);
  if (path == NULL)
    return FALSE;
  if (!g_file_get_contents (path, &contents, NULL, error))
    {
      g_prefix_error (error,
                      "node \"%s\": cannot continue its table: ", disco_node_get_name (node));
      return FALSE;
    }
  lines = g_strsplit (contents, "\n", -1);
  if (g_strcmp0 (lines[0], header) != 0 || g_strv_length (lines) < wanted + 1)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                   "%s:1: node \"%s\" cannot continue this table: it should start with the "
                   "header \"%s\" and hold at least the %" G_GUINT64_FORMAT " rows of the "
                   "checkpoint",
                   path, disco_node_get_name (node), header, wanted);
      return FALSE;
    }
  g_string_truncate (self->body, 0);
  for (guint i = 0; i < self->values->len; i++)
    g_array_set_size (g_ptr_array_index (self->values, i), 0);
  for (guint64 r = 1; r <= wanted; r++)
    {
      g_auto (GStrv) cells = g_strsplit (lines[r], ",", -1);

      if (g_strv_length (cells) != self->values->len)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                       "%s:%" G_GUINT64_FORMAT ": %u values where the header has %u", path, r + 1,
                       g_strv_length (cells), self->values->len);
          return FALSE;
        }
      for (guint c = 0; c < self->values->len; c++)
        {
          double v = g_ascii_strtod (cells[c], NULL);
          g_array_append_val (g_ptr_array_index (self->values, c), v);
        }
      g_string_append (self->body, lines[r]);
      g_string_append_c (self->body, '\n');
    }
  self->rows = wanted;
  self->dirty = FALSE;
  return TRUE;
}

static gboolean
disco_table_writer_finish (DiscoNode *node, GError **error)
{
  DiscoTableWriter *self = DISCO_TABLE_WRITER (node);

  g_object_notify_by_pspec (G_OBJECT (self), properties[PROP_ROWS]);
  /* Rows since the last epoch ended: a run stopped by max-ticks, or by
   * another node's error. */
  if (self->failed || !self->dirty)
    return TRUE;
  return write_files (self, error);
}

static void
disco_table_writer_class_init (DiscoTableWriterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;

  object_class->finalize = disco_table_writer_finalize;
  object_class->get_property = disco_table_writer_get_property;
  object_class->set_property = disco_table_writer_set_property;
  node_class->prepare = disco_table_writer_prepare;
  node_class->process = disco_table_writer_process;
  node_class->end_epoch = disco_table_writer_end_epoch;
  node_class->finish = disco_table_writer_finish;
  node_class->resume = disco_table_writer_resume;

  properties[PROP_NAMES] =
      g_param_spec_string ("names", "Names",
                           "Header names of the linked columns in port order, comma-separated "
                           "(empty: node.port of each producer)",
                           DEFAULT_NAMES, rw);
  properties[PROP_INDEX] =
      g_param_spec_boolean ("index", "Index",
                            "Start every row with the tick's index and epoch (columns tick, "
                            "epoch)",
                            DEFAULT_INDEX, rw);
  properties[PROP_EPOCHS] =
      g_param_spec_string ("epochs", "Epochs",
                           "Epochs to record, comma-separated numbers from 1 or ranges such as "
                           "5-64 (empty: every epoch)",
                           DEFAULT_EPOCHS, rw);
  properties[PROP_PATH] =
      g_param_spec_string ("path", "Path",
                           "CSV file of the table, relative to the output folder; rewritten "
                           "after every epoch and at the end",
                           DEFAULT_PATH, rw);
  properties[PROP_PLOT] =
      g_param_spec_string ("plot", "Plot",
                           "PNG file of a line plot of the table, relative to the output folder "
                           "(empty: no plot)",
                           DEFAULT_PLOT, rw);
  properties[PROP_PLOT_SERIES] =
      g_param_spec_string ("plot-series", "Plot series",
                           "Curves of the plot as x:y[:label],x:y[:label],… naming columns "
                           "(empty: the first column against every other one)",
                           DEFAULT_PLOT_SERIES, rw);
  properties[PROP_TITLE] = g_param_spec_string (
      "title", "Title", "Text above the plot (empty: none)", DEFAULT_TITLE, rw);
  properties[PROP_X_LABEL] = g_param_spec_string (
      "x-label", "x label", "Text under the plot's x axis (empty: none)", DEFAULT_X_LABEL, rw);
  properties[PROP_Y_LABEL] = g_param_spec_string (
      "y-label", "y label", "Text beside the plot's y axis (empty: none)", DEFAULT_Y_LABEL, rw);
  properties[PROP_LOG_Y] = g_param_spec_boolean (
      "log-y", "Logarithmic y", "Logarithmic y axis in decades; values ≤ 0 leave gaps",
      DEFAULT_LOG_Y, rw);
  properties[PROP_WIDTH] = g_param_spec_uint ("width", "Width", "Width of the plot in pixels", 200,
                                              8192, DEFAULT_WIDTH, rw);
  properties[PROP_HEIGHT] = g_param_spec_uint ("height", "Height", "Height of the plot in pixels",
                                               150, 8192, DEFAULT_HEIGHT, rw);
  properties[PROP_ROWS] =
      g_param_spec_uint64 ("rows", "Rows", "Rows recorded in the current or last run", 0,
                           G_MAXUINT64, 0, G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPERTIES, properties);

  /* Reads host copies of its inputs only: unchanged beside device nodes. */
  disco_node_class_set_runs_on_cuda (node_class, TRUE);
  disco_node_class_set_metadata (node_class, "Table writer", "Sink/Report",
                                 "Writes its inputs as the columns of a CSV table and, "
                                 "optionally, draws a line plot of them");
  for (guint i = 0; i < DISCO_TABLE_WRITER_MAX_COLUMNS; i++)
    {
      g_autofree char *name = g_strdup_printf ("column-%u", i + 1);

      column_ports[i] = g_intern_string (name);
      disco_node_class_add_port (node_class, DISCO_PORT_INPUT, column_ports[i],
                                 DISCO_PORT_FLAG_OPTIONAL,
                                 "values of one column, any shape: one row per element");
    }
}

static void
disco_table_writer_init (DiscoTableWriter *self)
{
  self->names = g_strdup (DEFAULT_NAMES);
  self->index = DEFAULT_INDEX;
  self->epochs = g_strdup (DEFAULT_EPOCHS);
  self->path = g_strdup (DEFAULT_PATH);
  self->plot = g_strdup (DEFAULT_PLOT);
  self->plot_series = g_strdup (DEFAULT_PLOT_SERIES);
  self->title = g_strdup (DEFAULT_TITLE);
  self->x_label = g_strdup (DEFAULT_X_LABEL);
  self->y_label = g_strdup (DEFAULT_Y_LABEL);
  self->log_y = DEFAULT_LOG_Y;
  self->width = DEFAULT_WIDTH;
  self->height = DEFAULT_HEIGHT;
}
