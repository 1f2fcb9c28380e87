/* disco-plot.c: line plots with axes, ticks, labels and a legend, as PNG
 *
 * Each panel has a title, a plot area framed by its axes with ticks at
 * "nice" values (1, 2 or 5 times a power of ten), the tick numbers, the
 * axis labels, and a legend in a column to the right of the area so that
 * it never hides a curve. Images are rendered in memory; callers write
 * them with disco_write_file_atomically().
 */

#include "disco-plot.h"

#include <disco/disco.h>

#include <cairo.h>
#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#define FONT "DejaVu Sans"
#define TITLE_SIZE 16.0
#define LABEL_SIZE 13.0
#define TICK_SIZE 11.0
#define LINE_WIDTH 2.0
#define MARKER_RADIUS 3.0
#define TICK_LENGTH 5.0
#define MIN_AREA 20.0
#define BAND_ALPHA 0.2

/**
 * disco_plot_area_map:
 * @area: a plot area filled by disco_plot_render()
 * @x: abscissa in data units
 * @y: ordinate in data units
 * @px: (out): pixel column (0 is the left edge of the image)
 * @py: (out): pixel row (0 is the top edge of the image)
 *
 * Maps a data point to the image position where the plot draws it.
 */
void
disco_plot_area_map (const DiscoPlotArea *area, double x, double y, double *px, double *py)
{
  double y_min, y_max;

  g_return_if_fail (area != NULL);

  y_min = area->y_min;
  y_max = area->y_max;
  if (area->log_y)
    {
      y = y > 0.0 ? log10 (y) : NAN;
      y_min = log10 (y_min);
      y_max = log10 (y_max);
    }
  if (px != NULL)
    *px = area->left + (x - area->x_min) / (area->x_max - area->x_min) * area->width;
  if (py != NULL)
    *py = area->top + (y_max - y) / (y_max - y_min) * area->height;
}

/* The ordinate as drawn: log10(y) on a logarithmic axis, where y ≤ 0 has
 * no place and leaves a gap. */
static double
panel_y (const DiscoPlotPanel *panel, double y)
{
  if (!panel->log_y)
    return y;
  return y > 0.0 ? log10 (y) : NAN;
}

/* Decades for a logarithmic axis over [lo, hi] (in log10 units): whole
 * decades, at least one, ticked every decade or every few for a wide span. */
static void
log_range (double *lo, double *hi, double *step)
{
  *lo = floor (*lo + 1e-9);
  *hi = ceil (*hi - 1e-9);
  if (*hi <= *lo)
    *hi = *lo + 1.0;
  *step = MAX (1.0, ceil ((*hi - *lo) / 8.0));
  *hi = *lo + ceil ((*hi - *lo) / *step) * *step;
}

/* The tick step for about @target intervals over @span: 1, 2 or 5 × 10^k. */
static double
nice_step (double span, guint target)
{
  double raw = span / target;
  double magnitude = pow (10.0, floor (log10 (raw)));
  double fraction = raw / magnitude;

  if (fraction <= 1.0)
    return magnitude;
  if (fraction <= 2.0)
    return 2.0 * magnitude;
  if (fraction <= 5.0)
    return 5.0 * magnitude;
  return 10.0 * magnitude;
}

/* Widens [lo, hi] to whole steps; a single value gets a unit of room. */
static void
nice_range (double *lo, double *hi, double *step, guint target, gboolean integer)
{
  if (*hi - *lo <= 1e-12 * MAX (fabs (*lo), fabs (*hi)) || *hi <= *lo)
    {
      double pad = *lo == 0.0 ? 1.0 : 0.5 * fabs (*lo);
      if (integer)
        pad = 1.0;
      *lo -= pad;
      *hi += pad;
    }
  *step = nice_step (*hi - *lo, target);
  if (integer && *step < 1.0)
    *step = 1.0;
  *lo = floor (*lo / *step + 1e-9) * *step;
  *hi = ceil (*hi / *step - 1e-9) * *step;
}

static void
format_tick (char *buf, gsize size, double value, double step)
{
  int decimals = step >= 1.0 ? 0 : (int) ceil (-log10 (step) - 1e-9);

  if (fabs (value) < step * 1e-6)
    value = 0.0;   /* no "-0" */
  if (fabs (value) >= 1e6 || (value != 0.0 && fabs (value) < 1e-4))
    g_snprintf (buf, size, "%.3g", value);
  else
    g_snprintf (buf, size, "%.*f", decimals, value);
}

/* A y tick: the power of ten on a logarithmic axis. */
static void
format_y_tick (const DiscoPlotPanel *panel, char *buf, gsize size, double value, double step)
{
  if (panel->log_y)
    g_snprintf (buf, size, "%g", pow (10.0, round (value)));
  else
    format_tick (buf, size, value, step);
}

static void
set_font (cairo_t *cr, double size, gboolean bold)
{
  cairo_select_font_face (cr, FONT, CAIRO_FONT_SLANT_NORMAL,
                          bold ? CAIRO_FONT_WEIGHT_BOLD : CAIRO_FONT_WEIGHT_NORMAL);
  cairo_set_font_size (cr, size);
}

/* Draws @text with its anchor at (x, y); @ax and @ay in [0, 1] pick the
 * anchor within the text's box (0, 0: top left; 0.5, 0.5: centre). */
static void
draw_text (cairo_t *cr, const char *text, double x, double y, double ax, double ay)
{
  cairo_text_extents_t ext;
  cairo_font_extents_t font;

  cairo_text_extents (cr, text, &ext);
  cairo_font_extents (cr, &font);
  cairo_move_to (cr, x - ax * ext.x_advance, y - ay * (font.ascent + font.descent) + font.ascent);
  cairo_show_text (cr, text);
}

static double
text_width (cairo_t *cr, const char *text)
{
  cairo_text_extents_t ext;

  cairo_text_extents (cr, text, &ext);
  return ext.x_advance;
}

static gboolean
check_panel (const DiscoPlotPanel *panel, guint index, GError **error)
{
  if (panel->series == NULL || panel->n_series == 0)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "plot %u has no series", index + 1);
      return FALSE;
    }
  for (guint s = 0; s < panel->n_series; s++)
    {
      const DiscoPlotSeries *series = &panel->series[s];

      if (series->n == 0 || series->x == NULL || series->y == NULL)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                       "series \"%s\" of plot %u has no points",
                       series->label ? series->label : "", index + 1);
          return FALSE;
        }
    }
  return TRUE;
}

static gboolean
has_band (const DiscoPlotSeries *series)
{
  return series->band_low != NULL && series->band_high != NULL;
}

/* The band edges of point @i as drawn; FALSE where the band breaks. */
static gboolean
band_at (const DiscoPlotPanel *panel, const DiscoPlotSeries *series, gsize i, double *low,
         double *high)
{
  *low = panel_y (panel, series->band_low[i]);
  *high = panel_y (panel, series->band_high[i]);
  return isfinite (series->x[i]) && isfinite (*low) && isfinite (*high);
}

static void
extend_limits (double x, double y, double *x_lo, double *x_hi, double *y_lo, double *y_hi)
{
  *x_lo = MIN (*x_lo, x);
  *x_hi = MAX (*x_hi, x);
  *y_lo = MIN (*y_lo, y);
  *y_hi = MAX (*y_hi, y);
}

/* Data limits over the finite points and band edges; FALSE when there are
 * none. */
static gboolean
data_limits (const DiscoPlotPanel *panel, double *x_lo, double *x_hi, double *y_lo,
             double *y_hi)
{
  gboolean any = FALSE;

  *x_lo = *y_lo = INFINITY;
  *x_hi = *y_hi = -INFINITY;
  for (guint s = 0; s < panel->n_series; s++)
    {
      const DiscoPlotSeries *series = &panel->series[s];

      for (gsize i = 0; i < series->n; i++)
        {
          double x = series->x[i], y = panel_y (panel, series->y[i]), low, high;

          if (isfinite (x) && isfinite (y))
            {
              any = TRUE;
              extend_limits (x, y, x_lo, x_hi, y_lo, y_hi);
            }
          if (has_band (series) && band_at (panel, series, i, &low, &high))
            {
              any = TRUE;
              extend_limits (x, low, x_lo, x_hi, y_lo, y_hi);
              extend_limits (x, high, x_lo, x_hi, y_lo, y_hi);
            }
        }
    }
  return any;
}

/* Fills the band of @series, one polygon per run of points where it does
 * not break: along the upper edges, back along the lower ones. A lone point
 * is a bar as wide as a marker. */
static void
draw_band (cairo_t *cr, const DiscoPlotPanel *panel, const DiscoPlotArea *area,
           const DiscoPlotSeries *series)
{
  gsize i = 0;

  cairo_set_source_rgba (cr, series->r, series->g, series->b, BAND_ALPHA);
  while (i < series->n)
    {
      gsize start, end;
      double low, high, px, py, top;

      if (!band_at (panel, series, i, &low, &high))
        {
          i++;
          continue;
        }
      start = i;
      while (i < series->n && band_at (panel, series, i, &low, &high))
        i++;
      end = i;   /* [start, end) have a band */
      if (end - start == 1)
        {
          band_at (panel, series, start, &low, &high);
          disco_plot_area_map (area, series->x[start], high, &px, &top);
          disco_plot_area_map (area, series->x[start], low, &px, &py);
          cairo_rectangle (cr, px - MARKER_RADIUS, MIN (top, py), 2 * MARKER_RADIUS,
                           fabs (py - top));
          cairo_fill (cr);
          continue;
        }
      for (gsize k = start; k < end; k++)
        {
          band_at (panel, series, k, &low, &high);
          disco_plot_area_map (area, series->x[k], high, &px, &py);
          if (k == start)
            cairo_move_to (cr, px, py);
          else
            cairo_line_to (cr, px, py);
        }
      for (gsize k = end; k-- > start;)
        {
          band_at (panel, series, k, &low, &high);
          disco_plot_area_map (area, series->x[k], low, &px, &py);
          cairo_line_to (cr, px, py);
        }
      cairo_close_path (cr);
      cairo_fill (cr);
    }
}

static void
draw_panel (cairo_t *cr, const DiscoPlotPanel *panel, double x0, double y0, double w,
            double h, DiscoPlotArea *out)
{
  DiscoPlotArea area;
  double x_step, y_step, legend_width = 0.0, left_margin, top_margin, bottom_margin;
  double y_label_width = 0.0;
  char buf[64];
  gboolean has_legend = FALSE;

  if (!data_limits (panel, &area.x_min, &area.x_max, &area.y_min, &area.y_max))
    {
      area.x_min = area.y_min = 0.0;
      area.x_max = area.y_max = 1.0;
    }
  nice_range (&area.x_min, &area.x_max, &x_step, 6, panel->x_integer);
  area.log_y = FALSE;   /* while drawing, y is in drawn units (log10 on a log axis) */
  if (panel->log_y)
    log_range (&area.y_min, &area.y_max, &y_step);
  else
    nice_range (&area.y_min, &area.y_max, &y_step, 5, FALSE);

  /* Margins: the widest y tick number, the legend column, the texts. */
  set_font (cr, TICK_SIZE, FALSE);
  for (double v = area.y_min; v <= area.y_max + 0.5 * y_step; v += y_step)
    {
      format_y_tick (panel, buf, sizeof buf, v, y_step);
      y_label_width = MAX (y_label_width, text_width (cr, buf));
    }
  set_font (cr, LABEL_SIZE, FALSE);
  for (guint s = 0; s < panel->n_series; s++)
    if (panel->series[s].label != NULL)
      {
        has_legend = TRUE;
        legend_width = MAX (legend_width, text_width (cr, panel->series[s].label));
      }
  if (has_legend)
    legend_width += 48.0;
  left_margin = 12.0 + (panel->y_label ? LABEL_SIZE + 10.0 : 0.0) + y_label_width + 8.0 +
                TICK_LENGTH;
  top_margin = panel->title ? TITLE_SIZE + 22.0 : 14.0;
  bottom_margin = TICK_LENGTH + TICK_SIZE + 10.0 + (panel->x_label ? LABEL_SIZE + 12.0 : 0.0) +
                  6.0;
  area.left = x0 + left_margin;
  area.top = y0 + top_margin;
  area.width = MAX (MIN_AREA, w - left_margin - legend_width - 16.0);
  area.height = MAX (MIN_AREA, h - top_margin - bottom_margin);

  /* Grid and frame. */
  cairo_set_line_width (cr, 1.0);
  cairo_set_source_rgb (cr, 0.9, 0.9, 0.9);
  for (double v = area.x_min + x_step; v < area.x_max - 0.5 * x_step; v += x_step)
    {
      double px;
      disco_plot_area_map (&area, v, 0, &px, NULL);
      cairo_move_to (cr, round (px) + 0.5, area.top);
      cairo_line_to (cr, round (px) + 0.5, area.top + area.height);
    }
  for (double v = area.y_min + y_step; v < area.y_max - 0.5 * y_step; v += y_step)
    {
      double py;
      disco_plot_area_map (&area, 0, v, NULL, &py);
      cairo_move_to (cr, area.left, round (py) + 0.5);
      cairo_line_to (cr, area.left + area.width, round (py) + 0.5);
    }
  cairo_stroke (cr);
  cairo_set_source_rgb (cr, 0.2, 0.2, 0.2);
  cairo_rectangle (cr, round (area.left) + 0.5, round (area.top) + 0.5, round (area.width),
                   round (area.height));
  cairo_stroke (cr);

  /* Ticks and their numbers. */
  set_font (cr, TICK_SIZE, FALSE);
  for (double v = area.x_min; v <= area.x_max + 0.5 * x_step; v += x_step)
    {
      double px;
      disco_plot_area_map (&area, v, 0, &px, NULL);
      cairo_move_to (cr, round (px) + 0.5, area.top + area.height);
      cairo_line_to (cr, round (px) + 0.5, area.top + area.height + TICK_LENGTH);
      cairo_stroke (cr);
      format_tick (buf, sizeof buf, v, x_step);
      draw_text (cr, buf, px, area.top + area.height + TICK_LENGTH + 3.0, 0.5, 0.0);
    }
  for (double v = area.y_min; v <= area.y_max + 0.5 * y_step; v += y_step)
    {
      double py;
      disco_plot_area_map (&area, 0, v, NULL, &py);
      cairo_move_to (cr, area.left - TICK_LENGTH, round (py) + 0.5);
      cairo_line_to (cr, area.left, round (py) + 0.5);
      cairo_stroke (cr);
      format_y_tick (panel, buf, sizeof buf, v, y_step);
      draw_text (cr, buf, area.left - TICK_LENGTH - 4.0, py, 1.0, 0.5);
    }

  /* Title and axis labels. */
  cairo_set_source_rgb (cr, 0.0, 0.0, 0.0);
  if (panel->title != NULL)
    {
      set_font (cr, TITLE_SIZE, TRUE);
      draw_text (cr, panel->title, area.left + area.width / 2, y0 + 8.0, 0.5, 0.0);
    }
  set_font (cr, LABEL_SIZE, FALSE);
  if (panel->x_label != NULL)
    draw_text (cr, panel->x_label, area.left + area.width / 2,
               area.top + area.height + TICK_LENGTH + TICK_SIZE + 12.0, 0.5, 0.0);
  if (panel->y_label != NULL)
    {
      cairo_save (cr);
      cairo_translate (cr, x0 + 10.0, area.top + area.height / 2);
      cairo_rotate (cr, -G_PI / 2);
      draw_text (cr, panel->y_label, 0.0, 0.0, 0.5, 0.0);
      cairo_restore (cr);
    }

  /* Bands, clipped to the area, under every line. */
  cairo_save (cr);
  cairo_rectangle (cr, area.left, area.top, area.width, area.height);
  cairo_clip (cr);
  for (guint s = 0; s < panel->n_series; s++)
    if (has_band (&panel->series[s]))
      draw_band (cr, panel, &area, &panel->series[s]);
  cairo_restore (cr);

  /* Curves, clipped to the area widened by a marker, so that points on
   * the axis limits stay whole; NaN points leave gaps. */
  cairo_save (cr);
  cairo_rectangle (cr, area.left - MARKER_RADIUS - 1.0, area.top - MARKER_RADIUS - 1.0,
                   area.width + 2 * MARKER_RADIUS + 2.0, area.height + 2 * MARKER_RADIUS + 2.0);
  cairo_clip (cr);
  cairo_set_line_width (cr, LINE_WIDTH);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  cairo_set_line_cap (cr, CAIRO_LINE_CAP_ROUND);
  for (guint s = 0; s < panel->n_series; s++)
    {
      const DiscoPlotSeries *series = &panel->series[s];
      gboolean drawing = FALSE;

      cairo_set_source_rgb (cr, series->r, series->g, series->b);
      for (gsize i = 0; i < series->n; i++)
        {
          double px, py;

          double y = panel_y (panel, series->y[i]);

          if (!isfinite (series->x[i]) || !isfinite (y))
            {
              drawing = FALSE;
              continue;
            }
          disco_plot_area_map (&area, series->x[i], y, &px, &py);
          if (drawing)
            cairo_line_to (cr, px, py);
          else
            cairo_move_to (cr, px, py);
          drawing = TRUE;
        }
      cairo_stroke (cr);
      for (gsize i = 0; i < series->n; i++)
        {
          gboolean prev_ok = i > 0 && isfinite (series->x[i - 1]) &&
                             isfinite (panel_y (panel, series->y[i - 1]));
          gboolean next_ok = i + 1 < series->n && isfinite (series->x[i + 1]) &&
                             isfinite (panel_y (panel, series->y[i + 1]));
          double y = panel_y (panel, series->y[i]);
          double px, py;

          if (!isfinite (series->x[i]) || !isfinite (y) ||
              (!series->markers && (prev_ok || next_ok)))
            continue;
          disco_plot_area_map (&area, series->x[i], y, &px, &py);
          cairo_new_sub_path (cr);
          cairo_arc (cr, px, py, MARKER_RADIUS, 0, 2 * G_PI);
          cairo_fill (cr);
        }
    }
  cairo_restore (cr);

  /* Legend: a line sample and the label per series, right of the area. */
  if (has_legend)
    {
      double lx = area.left + area.width + 16.0, ly = area.top + 4.0;

      set_font (cr, LABEL_SIZE, FALSE);
      cairo_set_line_width (cr, LINE_WIDTH);
      for (guint s = 0; s < panel->n_series; s++)
        {
          const DiscoPlotSeries *series = &panel->series[s];

          if (series->label == NULL)
            continue;
          cairo_set_source_rgb (cr, series->r, series->g, series->b);
          cairo_move_to (cr, lx, ly + LABEL_SIZE / 2);
          cairo_line_to (cr, lx + 24.0, ly + LABEL_SIZE / 2);
          cairo_stroke (cr);
          cairo_set_source_rgb (cr, 0.0, 0.0, 0.0);
          draw_text (cr, series->label, lx + 30.0, ly + LABEL_SIZE / 2, 0.0, 0.5);
          ly += LABEL_SIZE + 8.0;
        }
    }
  if (out != NULL)
    {
      *out = area;
      if (panel->log_y)
        {
          out->y_min = pow (10.0, area.y_min);
          out->y_max = pow (10.0, area.y_max);
          out->log_y = TRUE;
        }
    }
}

static cairo_status_t
append_png (void *closure, const unsigned char *data, unsigned int length)
{
  g_byte_array_append (closure, data, length);
  return CAIRO_STATUS_SUCCESS;
}

/**
 * disco_plot_render_panels:
 * @panels: (array length=n_panels): the plots, top to bottom
 * @n_panels: number of plots, at least 1
 * @width: image width in pixels
 * @height: image height in pixels, shared equally by the panels
 * @areas: (out caller-allocates) (array length=n_panels) (nullable): where
 *   each panel's data lands, for disco_plot_area_map()
 * @error: return location for a #GError
 *
 * Renders panels stacked vertically on a white background into an RGB PNG.
 *
 * Returns: (transfer full) (nullable): the PNG file's bytes, or %NULL with
 *   @error set (%DISCO_ERROR_BAD_VALUE for an empty series or image size)
 */
GBytes *
disco_plot_render_panels (const DiscoPlotPanel *panels, guint n_panels, guint width,
                          guint height, DiscoPlotArea *areas, GError **error)
{
  cairo_surface_t *surface;
  cairo_t *cr;
  cairo_status_t status;
  GByteArray *png;

  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (panels == NULL || n_panels == 0)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE, "a figure needs a plot");
      return NULL;
    }
  if (width < 64 || height < 48 * n_panels || width > 16384 || height > 16384)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "image size %u×%u is out of range (64×%u to 16384×16384)", width, height,
                   48 * n_panels);
      return NULL;
    }
  for (guint i = 0; i < n_panels; i++)
    if (!check_panel (&panels[i], i, error))
      return NULL;

  surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, width, height);
  cr = cairo_create (surface);
  cairo_set_source_rgb (cr, 1.0, 1.0, 1.0);
  cairo_paint (cr);
  for (guint i = 0; i < n_panels; i++)
    draw_panel (cr, &panels[i], 0.0, (double) height * i / n_panels, width,
                (double) height / n_panels, areas != NULL ? &areas[i] : NULL);
  status = cairo_status (cr);
  cairo_destroy (cr);
  png = g_byte_array_new ();
  if (status == CAIRO_STATUS_SUCCESS)
    status = cairo_surface_write_to_png_stream (surface, append_png, png);
  cairo_surface_destroy (surface);
  if (status != CAIRO_STATUS_SUCCESS)
    {
      g_byte_array_unref (png);
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_FAILED, "cannot draw the plot: %s",
                   cairo_status_to_string (status));
      return NULL;
    }
  return g_byte_array_free_to_bytes (png);
}

/**
 * disco_plot_render:
 * @title: (nullable): text above the plot
 * @x_label: (nullable): text under the x axis
 * @y_label: (nullable): text beside the y axis
 * @series: (array length=n_series): the curves
 * @n_series: number of curves, at least 1
 * @width: image width in pixels
 * @height: image height in pixels
 * @area: (out caller-allocates) (nullable): where the data lands
 * @error: return location for a #GError
 *
 * Renders one line plot; see disco_plot_render_panels().
 *
 * Returns: (transfer full) (nullable): the PNG file's bytes, or %NULL with
 *   @error set
 */
GBytes *
disco_plot_render (const char *title, const char *x_label, const char *y_label,
                   const DiscoPlotSeries *series, guint n_series, guint width, guint height,
                   DiscoPlotArea *area, GError **error)
{
  DiscoPlotPanel panel = { title, x_label, y_label, series, n_series, FALSE, FALSE };

  return disco_plot_render_panels (&panel, 1, width, height, area, error);
}

/* Line colours (matplotlib's tab10 order), repeated after eight. */
static const double palette[][3] = {
  { 0.84, 0.15, 0.16 }, { 0.12, 0.47, 0.71 }, { 0.17, 0.63, 0.17 }, { 1.00, 0.50, 0.05 },
  { 0.58, 0.40, 0.74 }, { 0.55, 0.34, 0.29 }, { 0.89, 0.47, 0.76 }, { 0.50, 0.50, 0.50 },
};

/**
 * disco_plot_palette_color:
 * @index: the curve's number, from 0
 * @r: (out): red, 0 to 1
 * @g: (out): green, 0 to 1
 * @b: (out): blue, 0 to 1
 *
 * The colour of the @index-th curve of a table plot: red, blue, green,
 * orange, purple, brown, pink, gray, then again from red.
 */
void
disco_plot_palette_color (guint index, double *r, double *g, double *b)
{
  const double *rgb = palette[index % G_N_ELEMENTS (palette)];

  *r = rgb[0];
  *g = rgb[1];
  *b = rgb[2];
}

/**
 * disco_plot_column_pair_free:
 * @pair: (transfer full) (nullable): a pair from disco_plot_parse_series_spec()
 */
void
disco_plot_column_pair_free (DiscoPlotColumnPair *pair)
{
  if (pair == NULL)
    return;
  g_free (pair->x);
  g_free (pair->y);
  g_free (pair->label);
  g_free (pair);
}

/**
 * disco_plot_parse_series_spec:
 * @spec: curves as `x:y[:label],x:y[:label],…`, column names of a table
 * @error: return location for a #GError
 *
 * Splits a list of curves, each a column of abscissae, a column of
 * ordinates and an optional legend entry (which may hold spaces but no
 * comma). Blanks around the parts are dropped. The names are not checked
 * against any table here.
 *
 * Returns: (transfer full) (element-type DiscoPlotColumnPair) (nullable):
 *   the curves, at least one, or %NULL with @error set
 *   (%DISCO_ERROR_BAD_VALUE, quoting the bad entry)
 */
GPtrArray *
disco_plot_parse_series_spec (const char *spec, GError **error)
{
  g_autoptr (GPtrArray) pairs =
    g_ptr_array_new_with_free_func ((GDestroyNotify) disco_plot_column_pair_free);
  g_auto (GStrv) entries = NULL;

  g_return_val_if_fail (spec != NULL, NULL);

  entries = g_strsplit (spec, ",", -1);
  for (guint i = 0; entries[i] != NULL; i++)
    {
      g_auto (GStrv) parts = g_strsplit (entries[i], ":", 3);
      guint n = g_strv_length (parts);
      DiscoPlotColumnPair *pair;

      for (guint k = 0; k < n; k++)
        g_strstrip (parts[k]);
      if (n < 2 || parts[0][0] == '\0' || parts[1][0] == '\0' ||
          (n == 3 && parts[2][0] == '\0'))
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                       "curve %u, \"%s\", is not X:Y or X:Y:LABEL (two column names and "
                       "an optional legend entry)", i + 1, g_strstrip (entries[i]));
          return NULL;
        }
      pair = g_new0 (DiscoPlotColumnPair, 1);
      pair->x = g_strdup (parts[0]);
      pair->y = g_strdup (parts[1]);
      pair->label = n == 3 ? g_strdup (parts[2]) : NULL;
      g_ptr_array_add (pairs, pair);
    }
  return g_steal_pointer (&pairs);
}

/* Learning curves from results.json. */

static const struct
{
  const char *phase;
  const char *label;
  double r, g, b;
} phases[] = {
  { "train", "train", 0.12, 0.47, 0.71 },
  { "validation", "validation", 1.00, 0.50, 0.05 },
  { "test", "test", 0.17, 0.63, 0.17 },
  { "none", "all", 0.58, 0.40, 0.74 },
};

static double
member_number (JsonObject *object, const char *name)
{
  JsonNode *node = object != NULL ? json_object_get_member (object, name) : NULL;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node) ||
      json_node_get_value_type (node) == G_TYPE_STRING ||
      !JSON_NODE_HOLDS_VALUE (node))
    return NAN;
  return json_node_get_double (node);
}

/**
 * disco_plot_learning_curves:
 * @report_path: a results.json written by the evaluator node
 * @width: image width in pixels
 * @height: image height in pixels
 * @error: return location for a #GError
 *
 * Renders accuracy (top, percent) and loss (bottom) per epoch for every
 * phase found in the report.
 *
 * Returns: (transfer full) (nullable): the PNG file's bytes, or %NULL with
 *   @error set (%DISCO_ERROR_IO when the file cannot be read,
 *   %DISCO_ERROR_DATA when it is not a report)
 */
GBytes *
disco_plot_learning_curves (const char *report_path, guint width, guint height,
                            GError **error)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) parse_error = NULL;
  g_autoptr (GArray) epochs = g_array_new (FALSE, FALSE, sizeof (double));
  g_autoptr (GPtrArray) keep = g_ptr_array_new_with_free_func ((GDestroyNotify) g_array_unref);
  GArray *values[G_N_ELEMENTS (phases)][2];
  DiscoPlotSeries accuracy[G_N_ELEMENTS (phases)], loss[G_N_ELEMENTS (phases)];
  DiscoPlotPanel panels[2];
  JsonNode *root;
  JsonNode *list;
  JsonArray *array;
  guint n_series = 0;

  g_return_val_if_fail (report_path != NULL, NULL);

  if (!json_parser_load_from_file (parser, report_path, &parse_error))
    {
      gboolean io = parse_error->domain != JSON_PARSER_ERROR;
      /* json-glib's parse messages already start with "file:line:column". */
      if (io)
        g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot read: %s", report_path,
                     parse_error->message);
      else
        g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA, "%s", parse_error->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  list = root != NULL && JSON_NODE_HOLDS_OBJECT (root) ?
         json_object_get_member (json_node_get_object (root), "epochs") : NULL;
  if (list == NULL || !JSON_NODE_HOLDS_ARRAY (list))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                   "%s: not a results report: no \"epochs\" list", report_path);
      return NULL;
    }
  array = json_node_get_array (list);
  if (json_array_get_length (array) == 0)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA, "%s: the report has no epoch yet",
                   report_path);
      return NULL;
    }
  for (guint p = 0; p < G_N_ELEMENTS (phases); p++)
    for (guint k = 0; k < 2; k++)
      g_ptr_array_add (keep, values[p][k] = g_array_new (FALSE, FALSE, sizeof (double)));
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *element = json_array_get_element (array, i);
      JsonObject *epoch;
      double number;

      if (!JSON_NODE_HOLDS_OBJECT (element) ||
          !isfinite (number = member_number (json_node_get_object (element), "epoch")))
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                       "%s: epoch entry %u has no \"epoch\" number", report_path, i + 1);
          return NULL;
        }
      epoch = json_node_get_object (element);
      g_array_append_val (epochs, number);
      for (guint p = 0; p < G_N_ELEMENTS (phases); p++)
        {
          JsonNode *phase = json_object_get_member (epoch, phases[p].phase);
          JsonObject *object = phase != NULL && JSON_NODE_HOLDS_OBJECT (phase) ?
                               json_node_get_object (phase) : NULL;
          double a = member_number (object, "accuracy"), l = member_number (object, "loss");

          g_array_append_val (values[p][0], a);
          g_array_append_val (values[p][1], l);
        }
    }
  for (guint p = 0; p < G_N_ELEMENTS (phases); p++)
    {
      gboolean any = FALSE;

      for (guint i = 0; i < epochs->len; i++)
        any = any || isfinite (g_array_index (values[p][0], double, i)) ||
              isfinite (g_array_index (values[p][1], double, i));
      if (!any)
        continue;
      accuracy[n_series] = (DiscoPlotSeries) {
        phases[p].label, (double *) epochs->data, (double *) values[p][0]->data, epochs->len,
        phases[p].r, phases[p].g, phases[p].b, epochs->len <= 30 };
      loss[n_series] = accuracy[n_series];
      loss[n_series].y = (double *) values[p][1]->data;
      n_series++;
    }
  if (n_series == 0)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                   "%s: the report has no train, validation or test results", report_path);
      return NULL;
    }
  panels[0] = (DiscoPlotPanel) { "Accuracy", "epoch", "accuracy (%)", accuracy, n_series, TRUE,
                                 FALSE };
  panels[1] = (DiscoPlotPanel) { "Loss", "epoch", "loss", loss, n_series, TRUE, FALSE };
  return disco_plot_render_panels (panels, 2, width, height, NULL, error);
}
