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
#include <stdlib.h>
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
  double y_min, y_max, x_min, x_max;

  g_return_if_fail (area != NULL);

  y_min = area->y_min;
  y_max = area->y_max;
  x_min = area->x_min;
  x_max = area->x_max;
  if (area->log_y)
    {
      y = y > 0.0 ? log10 (y) : NAN;
      y_min = log10 (y_min);
      y_max = log10 (y_max);
    }
  if (area->log_x)
    {
      x = x > 0.0 ? log10 (x) : NAN;
      x_min = log10 (x_min);
      x_max = log10 (x_max);
    }
  if (px != NULL)
    *px = area->left + (x - x_min) / (x_max - x_min) * area->width;
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
    value = 0.0; /* no "-0" */
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
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE, "plot %u has no series", index + 1);
      return FALSE;
    }
  for (guint s = 0; s < panel->n_series; s++)
    {
      const DiscoPlotSeries *series = &panel->series[s];

      if (series->n == 0 || series->x == NULL || series->y == NULL)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                       "series \"%s\" of plot %u has no points", series->label ? series->label : "",
                       index + 1);
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
data_limits (const DiscoPlotPanel *panel, double *x_lo, double *x_hi, double *y_lo, double *y_hi)
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

/* Extends the curve being drawn to (@px, @py), or starts one there when
 * @drawing is FALSE (the first point, or the first after a gap). */
static void
line_point (cairo_t *cr, gboolean *drawing, double px, double py)
{
  if (*drawing)
    cairo_line_to (cr, px, py);
  else
    cairo_move_to (cr, px, py);
  *drawing = TRUE;
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
      end = i; /* [start, end) have a band */
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
draw_panel (cairo_t *cr, const DiscoPlotPanel *panel, double x0, double y0, double w, double h,
            DiscoPlotArea *out)
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
  area.log_y = FALSE; /* while drawing, y is in drawn units (log10 on a log axis) */
  area.log_x = FALSE;
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
  left_margin =
      12.0 + (panel->y_label ? LABEL_SIZE + 10.0 : 0.0) + y_label_width + 8.0 + TICK_LENGTH;
  top_margin = panel->title ? TITLE_SIZE + 22.0 : 14.0;
  bottom_margin = TICK_LENGTH + TICK_SIZE + 10.0 + (panel->x_label ? LABEL_SIZE + 12.0 : 0.0) + 6.0;
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
          line_point (cr, &drawing, px, py);
        }
      cairo_stroke (cr);
      for (gsize i = 0; i < series->n; i++)
        {
          gboolean prev_ok =
              i > 0 && isfinite (series->x[i - 1]) && isfinite (panel_y (panel, series->y[i - 1]));
          gboolean next_ok = i + 1 < series->n && isfinite (series->x[i + 1])
                             && isfinite (panel_y (panel, series->y[i + 1]));
          double y = panel_y (panel, series->y[i]);
          double px, py;

          if (!isfinite (series->x[i]) || !isfinite (y)
              || (!series->markers && (prev_ok || next_ok)))
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

/* The PNG of what @cr drew on @surface; an error names @what ("plot",
 * "figure") when drawing or encoding failed. */
static GBytes *
surface_to_png (cairo_t *cr, cairo_surface_t *surface, const char *what, GError **error)
{
  cairo_status_t status = cairo_status (cr);
  GByteArray *png = g_byte_array_new ();

  cairo_surface_flush (surface);
  if (status == CAIRO_STATUS_SUCCESS)
    status = cairo_surface_write_to_png_stream (surface, append_png, png);
  if (status != CAIRO_STATUS_SUCCESS)
    {
      g_byte_array_unref (png);
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_FAILED, "cannot draw the %s: %s", what,
                   cairo_status_to_string (status));
      return NULL;
    }
  return g_byte_array_free_to_bytes (png);
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
disco_plot_render_panels (const DiscoPlotPanel *panels, guint n_panels, guint width, guint height,
                          DiscoPlotArea *areas, GError **error)
{
  cairo_surface_t *surface;
  cairo_t *cr;
  GBytes *png;

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
  png = surface_to_png (cr, surface, "plot", error);
  cairo_destroy (cr);
  cairo_surface_destroy (surface);
  return png;
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

/* ----- activity figures: heat map, outputs and control over two time axes ----- */

#define ACTIVITY_PANEL_GAP 28.0 /* between the open- and closed-loop panels */
#define ACTIVITY_BOUNDARY_WIDTH 2.0
#define ACTIVITY_ROW_GAP 14.0
#define ACTIVITY_BAR_WIDTH 16.0
#define ACTIVITY_LINE_SHARE 0.2 /* of the plot height, per line plot */

/* One loop of the recording: rows [first, end), its own time axis. */
typedef struct
{
  gsize first, end;
  double t0;     /* the loop's start (s); the axis shows t − t0 */
  double lo, hi; /* the axis range in loop time (s) */
  gboolean log;
} ActivityLeg;

/* Line colours: the target class, the prediction, the other classes. */
static const double label_rgb[3] = { 0.84, 0.15, 0.16 };
static const double prediction_rgb[3] = { 0.12, 0.47, 0.71 };
static const double other_rgb[3] = { 0.72, 0.72, 0.72 };
static const double boundary_rgb[3] = { 0.25, 0.25, 0.25 };

static void
activity_leg_init (ActivityLeg *leg, const DiscoPlotActivity *a, gsize first, gsize end)
{
  leg->first = first;
  leg->end = end;
  leg->t0 = a->times[first];
  leg->log = a->time_axis == DISCO_PLOT_TIME_LOG;
  leg->hi = a->times[end - 1] - leg->t0;
  if (leg->log)
    {
      /* From the first recorded step: the loop's first row (rest, or the
       * open-loop steady state) is the previous panel's last. */
      leg->lo = 0.0;
      for (gsize i = first; i < end && leg->lo <= 0.0; i++)
        leg->lo = a->times[i] - leg->t0;
      if (leg->lo <= 0.0)
        leg->lo = 1e-3;
      if (leg->hi <= leg->lo)
        leg->hi = 10.0 * leg->lo;
    }
  else
    {
      leg->lo = 0.0;
      if (leg->hi <= 0.0)
        leg->hi = 1e-3;
    }
}

/* The row of @leg shown at loop time @t: the nearest on the axis's scale
 * (in log time, rows at the loop's start have no place unless the loop
 * has no other). */
static gsize
activity_leg_row_at (const ActivityLeg *leg, const double *times, double t)
{
  gsize lo = leg->first, hi = leg->end - 1, best;
  double target = leg->t0 + t;

  if (leg->log)
    while (lo < hi && times[lo] - leg->t0 <= 0.0)
      lo++;
  best = lo;
  /* the first row at or after target, then its left neighbour */
  while (lo < hi)
    {
      gsize mid = (lo + hi) / 2;

      if (times[mid] < target)
        lo = mid + 1;
      else
        hi = mid;
    }
  if (lo > best)
    {
      double left = times[lo - 1] - leg->t0, right = times[lo] - leg->t0;
      double d_left, d_right;

      if (leg->log)
        {
          d_left = log (t / left);
          d_right = log (right / t);
        }
      else
        {
          d_left = t - left;
          d_right = right - t;
        }
      if (d_left <= d_right)
        lo--;
    }
  return lo;
}

/* Loop time at pixel offset @x (from the area's left edge) of @area. */
static double
activity_time_at (const DiscoPlotArea *area, double x)
{
  double f = x / area->width;

  if (area->log_x)
    return area->x_min * pow (area->x_max / area->x_min, f);
  return area->x_min + f * (area->x_max - area->x_min);
}

/* A unit and its sort key. */
typedef struct
{
  float key;
  gsize unit;
} UnitKey;

/* Larger key first, NaN last, ties in index order. */
static int
compare_units (const void *a, const void *b)
{
  const UnitKey *x = a, *y = b;
  float kx = isnan (x->key) ? -INFINITY : x->key, ky = isnan (y->key) ? -INFINITY : y->key;

  if (kx != ky)
    return kx > ky ? -1 : 1;
  return x->unit < y->unit ? -1 : x->unit > y->unit ? 1 : 0;
}

/**
 * disco_plot_activity_unit_order:
 * @activity: the figure's data
 * @order: (out caller-allocates) (array length=activity->n_units): the unit
 *   shown in each row of the heat map, top to bottom
 *
 * The heat map's rows as @activity's #DiscoPlotActivity:order asks; ties
 * keep index order.
 */
void
disco_plot_activity_unit_order (const DiscoPlotActivity *activity, gsize *order)
{
  gsize n, T;
  g_autofree UnitKey *keys = NULL;

  g_return_if_fail (activity != NULL && order != NULL);

  n = activity->n_units;
  T = activity->n_times;
  for (gsize j = 0; j < n; j++)
    order[j] = j;
  if (activity->order == DISCO_PLOT_UNIT_ORDER_NONE || activity->values == NULL || T == 0)
    return;
  keys = g_new (UnitKey, n);
  for (gsize j = 0; j < n; j++)
    {
      keys[j].unit = j;
      keys[j].key = activity->values[(T - 1) * n + j];
      if (activity->open_loop_rows >= 1 && activity->open_loop_rows < T)
        keys[j].key -= activity->values[(activity->open_loop_rows - 1) * n + j];
    }
  qsort (keys, n, sizeof (UnitKey), compare_units);
  for (gsize j = 0; j < n; j++)
    order[j] = keys[j].unit;
}

/* Ticks of a time axis in ms: 1, 2, 5 × 10^k labelled (1 × 10^k only over
 * more than 2.5 decades) and the other digits as minor ticks on a log axis;
 * nice steps on a linear one.  Returns the number of ticks. */
static guint
activity_time_ticks (const DiscoPlotArea *area, double *ms, gboolean *major, guint max)
{
  double lo = area->x_min * 1e3, hi = area->x_max * 1e3;
  guint n = 0;

  if (area->log_x)
    {
      gboolean sparse = log10 (hi / lo) > 2.5;

      for (int k = (int) floor (log10 (lo)); k <= (int) ceil (log10 (hi)) && n < max; k++)
        for (int m = 1; m <= 9 && n < max; m++)
          {
            double v = m * pow (10.0, k);

            if (v < lo * (1 - 1e-3) || v > hi * (1 + 1e-3))
              continue;
            ms[n] = v;
            major[n] = m == 1 || (!sparse && (m == 2 || m == 5));
            n++;
          }
    }
  else
    {
      double step = nice_step (hi - lo, 5);

      for (double v = ceil (lo / step - 1e-6) * step; v <= hi * (1 + 1e-6) && n < max; v += step)
        {
          ms[n] = v;
          major[n] = TRUE;
          n++;
        }
    }
  return n;
}

static void
format_ms (char *buf, gsize size, double ms)
{
  if (fabs (ms) < 1e-9)
    ms = 0.0;
  g_snprintf (buf, size, "%.3g", ms);
}

/* Frame of an area, drawn just outside its pixels. */
static void
activity_frame (cairo_t *cr, const DiscoPlotArea *area)
{
  cairo_set_line_width (cr, 1.0);
  cairo_set_source_rgb (cr, 0.2, 0.2, 0.2);
  cairo_rectangle (cr, area->left - 0.5, area->top - 0.5, area->width + 1.0, area->height + 1.0);
  cairo_stroke (cr);
}

/* Time ticks under @area, their numbers and the axis label when @numbers;
 * light vertical grid lines at the labelled ticks when @grid. */
static void
activity_time_axis (cairo_t *cr, const DiscoPlotArea *area, gboolean numbers, gboolean grid,
                    const char *x_label)
{
  double ms[64], right_edge = -INFINITY;
  gboolean major[64];
  guint n = activity_time_ticks (area, ms, major, G_N_ELEMENTS (ms));
  double bottom = area->top + area->height;
  char buf[32];

  cairo_set_line_width (cr, 1.0);
  if (grid)
    {
      cairo_set_source_rgb (cr, 0.9, 0.9, 0.9);
      for (guint i = 0; i < n; i++)
        {
          double px;

          if (!major[i])
            continue;
          disco_plot_area_map (area, ms[i] / 1e3, 0.0, &px, NULL);
          if (px < area->left + 1.0 || px > area->left + area->width - 1.0)
            continue;
          cairo_move_to (cr, round (px) + 0.5, area->top);
          cairo_line_to (cr, round (px) + 0.5, bottom);
        }
      cairo_stroke (cr);
    }
  cairo_set_source_rgb (cr, 0.2, 0.2, 0.2);
  set_font (cr, TICK_SIZE, FALSE);
  for (guint i = 0; i < n; i++)
    {
      double px, length = major[i] ? TICK_LENGTH : TICK_LENGTH * 0.6, w;

      disco_plot_area_map (area, ms[i] / 1e3, 0.0, &px, NULL);
      px = MIN (MAX (px, area->left - 0.5), area->left + area->width - 0.5);
      cairo_move_to (cr, round (px) + 0.5, bottom + 0.5);
      cairo_line_to (cr, round (px) + 0.5, bottom + 0.5 + length);
      cairo_stroke (cr);
      if (!numbers || !major[i])
        continue;
      format_ms (buf, sizeof buf, ms[i]);
      w = text_width (cr, buf);
      if (px - w / 2 < right_edge + 6.0)
        continue; /* no overlapping numbers */
      draw_text (cr, buf, px, bottom + TICK_LENGTH + 3.0, 0.5, 0.0);
      right_edge = px + w / 2;
    }
  if (numbers && x_label != NULL)
    {
      cairo_set_source_rgb (cr, 0.0, 0.0, 0.0);
      set_font (cr, LABEL_SIZE, FALSE);
      draw_text (cr, x_label, area->left + area->width / 2, bottom + TICK_LENGTH + TICK_SIZE + 12.0,
                 0.5, 0.0);
    }
}

/* A y axis: ticks at nice values of [area->y_min, area->y_max] (both ends
 * already nice), numbers left of @area when @numbers, light grid lines
 * when @grid. */
static void
activity_value_axis (cairo_t *cr, const DiscoPlotArea *area, double step, gboolean numbers,
                     gboolean grid)
{
  char buf[64];

  cairo_set_line_width (cr, 1.0);
  if (grid)
    {
      cairo_set_source_rgb (cr, 0.9, 0.9, 0.9);
      for (double v = area->y_min + step; v < area->y_max - 0.5 * step; v += step)
        {
          double py;

          disco_plot_area_map (area, area->x_min, v, NULL, &py);
          cairo_move_to (cr, area->left, round (py) + 0.5);
          cairo_line_to (cr, area->left + area->width, round (py) + 0.5);
        }
      cairo_stroke (cr);
    }
  cairo_set_source_rgb (cr, 0.2, 0.2, 0.2);
  set_font (cr, TICK_SIZE, FALSE);
  for (double v = area->y_min; v <= area->y_max + 0.5 * step; v += step)
    {
      double py;

      disco_plot_area_map (area, area->x_min, v, NULL, &py);
      cairo_move_to (cr, area->left - 0.5 - TICK_LENGTH, round (py) + 0.5);
      cairo_line_to (cr, area->left - 0.5, round (py) + 0.5);
      cairo_stroke (cr);
      if (!numbers)
        continue;
      format_tick (buf, sizeof buf, v, step);
      draw_text (cr, buf, area->left - TICK_LENGTH - 4.0, py, 1.0, 0.5);
    }
}

/* The rotated label left of a row of panels, centred on it. */
static void
activity_y_label (cairo_t *cr, const char *text, double x, const DiscoPlotArea *area)
{
  if (text == NULL)
    return;
  cairo_set_source_rgb (cr, 0.0, 0.0, 0.0);
  set_font (cr, LABEL_SIZE, FALSE);
  cairo_save (cr);
  cairo_translate (cr, x, area->top + area->height / 2);
  cairo_rotate (cr, -G_PI / 2);
  draw_text (cr, text, 0.0, 0.0, 0.5, 0.0);
  cairo_restore (cr);
}

static void
put_pixel (guint8 *data, int stride, int x, int y, const guint8 rgb[3])
{
  guint32 *p = (guint32 *) (data + (gsize) y * stride) + x;

  *p = ((guint32) rgb[0] << 16) | ((guint32) rgb[1] << 8) | rgb[2];
}

static void
activity_color (gboolean diverging, double v, double v_min, double v_max, guint8 rgb[3])
{
  double position = (v - v_min) / (v_max - v_min);

  if (!isfinite (v))
    {
      rgb[0] = rgb[1] = rgb[2] = 128; /* NaN: gray */
      return;
    }
  disco_colormap_get_color (diverging ? DISCO_COLORMAP_DIVERGING : DISCO_COLORMAP_VIRIDIS,
                            CLAMP (position, 0.0, 1.0), &rgb[0], &rgb[1], &rgb[2]);
}

/* The heat map of one loop, pixel by pixel: each column the row nearest
 * its time, each pixel row the unit of its place in @order; minus @base
 * (one value per unit) when not %NULL. */
static void
activity_heat_map (cairo_surface_t *surface, const DiscoPlotActivity *a, const ActivityLeg *leg,
                   const DiscoPlotArea *area, const gsize *order, const float *base,
                   gboolean diverging, double v_min, double v_max)
{
  guint8 *data = cairo_image_surface_get_data (surface);
  int stride = cairo_image_surface_get_stride (surface);
  int left = (int) area->left, top = (int) area->top;
  int width = (int) area->width, height = (int) area->height;
  const gsize n = a->n_units;

  for (int x = 0; x < width; x++)
    {
      gsize row = activity_leg_row_at (leg, a->times, activity_time_at (area, x + 0.5));
      const float *values = a->values + row * n;

      for (int y = 0; y < height; y++)
        {
          gsize unit = order[MIN ((gsize) ((y + 0.5) * n / height), n - 1)];
          double v = values[unit] - (base != NULL ? base[unit] : 0.0f);
          guint8 rgb[3];

          activity_color (diverging, v, v_min, v_max, rgb);
          put_pixel (data, stride, left + x, top + y, rgb);
        }
    }
}

/* A colour bar's pixels: each row the colour of the value at its centre. */
static void
activity_bar_pixels (cairo_surface_t *surface, const DiscoPlotArea *bar, gboolean diverging)
{
  guint8 *data = cairo_image_surface_get_data (surface);
  int stride = cairo_image_surface_get_stride (surface);

  for (int y = 0; y < (int) bar->height; y++)
    {
      double v = bar->y_max - (y + 0.5) / bar->height * (bar->y_max - bar->y_min);
      guint8 rgb[3];

      activity_color (diverging, v, bar->y_min, bar->y_max, rgb);
      for (int x = 0; x < (int) bar->width; x++)
        put_pixel (data, stride, (int) bar->left + x, (int) bar->top + y, rgb);
    }
}

/* The tick step of a colour bar and the width of its widest number. */
static double
activity_bar_step (cairo_t *cr, double v_min, double v_max, gboolean diverging, double *text)
{
  double step = nice_step (v_max - v_min, diverging ? 4 : 5);
  char buf[64];

  set_font (cr, TICK_SIZE, FALSE);
  *text = 0.0;
  for (double v = ceil (v_min / step - 1e-9) * step; v <= v_max + 1e-9 * step; v += step)
    {
      format_tick (buf, sizeof buf, v, step);
      *text = MAX (*text, text_width (cr, buf));
    }
  return step;
}

/* Room a colour bar takes beside a panel: gap, bar, ticks, numbers, label. */
static double
activity_bar_room (double text)
{
  return 18.0 + ACTIVITY_BAR_WIDTH + TICK_LENGTH + 4.0 + text + 10.0 + LABEL_SIZE;
}

/* A colour bar's frame, ticks, numbers and rotated label. */
static void
activity_bar_axis (cairo_t *cr, const DiscoPlotArea *bar, double step, double text,
                   const char *label)
{
  char buf[64];

  activity_frame (cr, bar);
  cairo_set_source_rgb (cr, 0.2, 0.2, 0.2);
  set_font (cr, TICK_SIZE, FALSE);
  for (double v = ceil (bar->y_min / step - 1e-9) * step; v <= bar->y_max + 1e-9 * step; v += step)
    {
      double py;

      disco_plot_area_map (bar, 0.0, v, NULL, &py);
      cairo_move_to (cr, bar->left + bar->width + 0.5, round (py) + 0.5);
      cairo_line_to (cr, bar->left + bar->width + 0.5 + TICK_LENGTH, round (py) + 0.5);
      cairo_stroke (cr);
      format_tick (buf, sizeof buf, v, step);
      draw_text (cr, buf, bar->left + bar->width + TICK_LENGTH + 4.0, py, 0.0, 0.5);
    }
  if (label != NULL)
    {
      cairo_save (cr);
      cairo_set_source_rgb (cr, 0.0, 0.0, 0.0);
      set_font (cr, LABEL_SIZE, FALSE);
      cairo_translate (cr, bar->left + bar->width + TICK_LENGTH + 4.0 + text + 8.0,
                       bar->top + bar->height / 2);
      cairo_rotate (cr, -G_PI / 2);
      draw_text (cr, label, 0.0, 0.0, 0.5, 0.0);
      cairo_restore (cr);
    }
}

/* The lines of one output trajectory (@values, rows × n_outputs) over one
 * loop: the other classes first, then the prediction, then the label. */
static void
activity_lines (cairo_t *cr, const DiscoPlotActivity *a, const ActivityLeg *leg,
                const DiscoPlotArea *area, const float *values)
{
  gboolean highlight = a->label >= 0 || a->prediction >= 0;

  cairo_save (cr);
  cairo_rectangle (cr, area->left, area->top - 2.0, area->width, area->height + 4.0);
  cairo_clip (cr);
  cairo_set_line_join (cr, CAIRO_LINE_JOIN_ROUND);
  for (int pass = 0; pass < 3; pass++)
    for (gsize o = 0; o < a->n_outputs; o++)
      {
        gboolean drawing = FALSE;
        int kind = (gint) o == a->label ? 2 : (gint) o == a->prediction ? 1 : 0;
        const double *rgb = kind == 2 ? label_rgb : kind == 1 ? prediction_rgb : other_rgb;
        double r, g, b;

        if (kind != pass)
          continue;
        if (highlight || a->n_outputs == 1)
          r = rgb[0], g = rgb[1], b = rgb[2];
        else
          disco_plot_palette_color (o, &r, &g, &b);
        cairo_set_source_rgb (cr, r, g, b);
        cairo_set_line_width (cr, kind == 0 && highlight ? 1.2 : LINE_WIDTH);
        for (gsize i = leg->first; i < leg->end; i++)
          {
            double t = a->times[i] - leg->t0, v = values[i * a->n_outputs + o], px, py;

            if ((leg->log && t <= 0.0) || !isfinite (v))
              {
                drawing = FALSE;
                continue;
              }
            disco_plot_area_map (area, t, v, &px, &py);
            line_point (cr, &drawing, px, py);
          }
        cairo_stroke (cr);
      }
  cairo_restore (cr);
}

/* Nice y range over @values (rows × n_outputs) of all rows, or the fixed
 * one; returns the tick step. */
static double
activity_line_range (const DiscoPlotActivity *a, const float *values, double fixed_min,
                     double fixed_max, double extra, double *y_min, double *y_max)
{
  double step;

  if (isfinite (fixed_min) && isfinite (fixed_max) && fixed_max > fixed_min)
    {
      *y_min = fixed_min;
      *y_max = fixed_max;
      return nice_step (fixed_max - fixed_min, 4);
    }
  *y_min = INFINITY;
  *y_max = -INFINITY;
  for (gsize i = 0; i < a->n_times * a->n_outputs; i++)
    if (isfinite (values[i]))
      {
        *y_min = MIN (*y_min, values[i]);
        *y_max = MAX (*y_max, values[i]);
      }
  if (isfinite (extra))
    {
      *y_min = MIN (*y_min, extra);
      *y_max = MAX (*y_max, extra);
    }
  if (!isfinite (*y_min))
    *y_min = *y_max = 0.0;
  nice_range (y_min, y_max, &step, 4, FALSE);
  return step;
}

static gboolean
check_activity (const DiscoPlotActivity *a, guint width, guint height, GError **error)
{
  if (a->values == NULL || a->times == NULL || a->n_units == 0 || a->n_times == 0)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "an activity figure needs at least one recorded row of one unit");
      return FALSE;
    }
  if (a->open_loop_rows < 1 || a->open_loop_rows > a->n_times)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "%" G_GSIZE_FORMAT " open-loop rows of %" G_GSIZE_FORMAT " recorded rows "
                   "(use 1 to %" G_GSIZE_FORMAT ")",
                   a->open_loop_rows, a->n_times, a->n_times);
      return FALSE;
    }
  for (gsize i = 0; i < a->n_times; i++)
    if (!isfinite (a->times[i]) || (i > 0 && a->times[i] < a->times[i - 1]))
      {
        g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                     "recorded time %" G_GSIZE_FORMAT " (%g s) is not finite or earlier "
                     "than the one before",
                     i, a->times[i]);
        return FALSE;
      }
  if ((a->outputs != NULL || a->control != NULL) && a->n_outputs == 0)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "output or control lines of 0 values per row");
      return FALSE;
    }
  if (a->label >= (gint) a->n_outputs || a->prediction >= (gint) a->n_outputs)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "class %d to highlight of %" G_GSIZE_FORMAT " outputs",
                   MAX (a->label, a->prediction), a->n_outputs);
      return FALSE;
    }
  if (width < 320 || height < 240 || width > 16384 || height > 16384)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "image size %u×%u is out of range (320×240 to 16384×16384)", width, height);
      return FALSE;
    }
  return TRUE;
}

/* A legend entry: a line sample and its text; @dashed for the target. */
static double
activity_legend_entry (cairo_t *cr, double x, double y, const double rgb[3], double line_width,
                       gboolean dashed, const char *text)
{
  double dash[] = { 5.0, 3.0 };

  cairo_set_source_rgb (cr, rgb[0], rgb[1], rgb[2]);
  cairo_set_line_width (cr, line_width);
  if (dashed)
    cairo_set_dash (cr, dash, 2, 0.0);
  cairo_move_to (cr, x, y + LABEL_SIZE / 2);
  cairo_line_to (cr, x + 24.0, y + LABEL_SIZE / 2);
  cairo_stroke (cr);
  cairo_set_dash (cr, NULL, 0, 0.0);
  cairo_set_source_rgb (cr, 0.0, 0.0, 0.0);
  draw_text (cr, text, x + 30.0, y + LABEL_SIZE / 2, 0.0, 0.5);
  return y + LABEL_SIZE + 8.0;
}

/**
 * disco_plot_render_activity:
 * @activity: the figure's data
 * @width: image width in pixels, 320 to 16384
 * @height: image height in pixels, 240 to 16384
 * @layout: (out caller-allocates) (nullable): where things landed
 * @order: (out caller-allocates) (array length=activity->n_units) (nullable):
 *   the unit shown in each heat map row, top to bottom
 * @error: return location for a #GError
 *
 * Renders how one sample settles: a title; for the open loop and, when
 * there are closed-loop rows, the closed loop, side by side and each on its
 * own time axis (ms since the loop began), a heat map of units × time with
 * the output and control trajectories as lines under it; a marker between
 * the two loops; and a colour bar for the heat map.  Each heat map column
 * shows the recorded row nearest its time (on the axis's scale), each pixel
 * row the unit its place falls on.  The colour range is 0 to the largest
 * value (viridis), or symmetric around 0 (diverging), over both loops; with
 * #DiscoPlotActivity:closed_loop_change the open loop's alone, and the
 * closed-loop map has its own symmetric range of changes.
 *
 * Returns: (transfer full) (nullable): the PNG file's bytes, or %NULL with
 *   @error set (%DISCO_ERROR_BAD_VALUE for inconsistent data or size)
 */
GBytes *
disco_plot_render_activity (const DiscoPlotActivity *activity, guint width, guint height,
                            DiscoPlotActivityLayout *layout, gsize *order, GError **error)
{
  const DiscoPlotActivity *a = activity;
  DiscoPlotActivityLayout lay = { 0 };
  ActivityLeg legs[2];
  g_autofree gsize *own_order = NULL;
  cairo_surface_t *surface;
  cairo_t *cr;
  GBytes *png;
  const float *base = NULL;
  gboolean change;
  double v_min = INFINITY, v_max = -INFINITY, bar_step, bar_text, out_step = 1.0;
  double change_step = 1.0, change_text = 0.0, ctl_step = 1.0, gap;
  double out_min = 0, out_max = 1, ctl_min = 0, ctl_max = 1, y_text;
  double top, bottom_margin, left_margin, right_column, panel_width;
  double heat_height, line_height = 0.0, header_y, unit_step, legend_width = 0.0, x_cursor;
  guint n_lines;
  char buf[64], label_text[64], prediction_text[64];

  g_return_val_if_fail (activity != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!check_activity (a, width, height, error))
    return NULL;
  if (order == NULL)
    order = own_order = g_new (gsize, a->n_units);
  disco_plot_activity_unit_order (a, order);

  /* The loops and the colour ranges: over both loops, or the open loop's
   * values and the closed loop's changes apart. */
  lay.n_panels = a->open_loop_rows < a->n_times ? 2 : 1;
  change = a->closed_loop_change && lay.n_panels == 2;
  activity_leg_init (&legs[0], a, 0, a->open_loop_rows);
  if (lay.n_panels == 2)
    activity_leg_init (&legs[1], a, a->open_loop_rows, a->n_times);
  if (change)
    {
      double m = 0.0;

      base = a->values + (a->open_loop_rows - 1) * a->n_units;
      for (gsize i = a->open_loop_rows; i < a->n_times; i++)
        for (gsize j = 0; j < a->n_units; j++)
          {
            double d = a->values[i * a->n_units + j] - base[j];

            if (isfinite (d))
              m = MAX (m, fabs (d));
          }
      if (m <= 0.0)
        m = 1.0;
      lay.change_min = -m;
      lay.change_max = m;
    }
  for (gsize i = 0; i < (change ? a->open_loop_rows : a->n_times) * a->n_units; i++)
    if (isfinite (a->values[i]))
      {
        v_min = MIN (v_min, a->values[i]);
        v_max = MAX (v_max, a->values[i]);
      }
  if (a->diverging)
    {
      double m = isfinite (v_min) ? MAX (fabs (v_min), fabs (v_max)) : 0.0;

      if (m <= 0.0)
        m = 1.0;
      v_min = -m;
      v_max = m;
    }
  else
    {
      v_min = isfinite (v_min) ? MIN (v_min, 0.0) : 0.0;
      if (!isfinite (v_max) || v_max <= v_min)
        v_max = v_min + 1.0;
    }
  lay.v_min = v_min;
  lay.v_max = v_max;
  n_lines = (a->outputs != NULL) + (a->control != NULL);
  if (a->outputs != NULL)
    out_step = activity_line_range (a, a->outputs, a->output_min, a->output_max,
                                    lay.n_panels == 2 ? a->target_value : NAN, &out_min, &out_max);
  if (a->control != NULL)
    ctl_step = activity_line_range (a, a->control, NAN, NAN, 0.0, &ctl_min, &ctl_max);
  unit_step = MAX (1.0, nice_step (a->n_units, 5));

  surface = cairo_image_surface_create (CAIRO_FORMAT_RGB24, width, height);
  cr = cairo_create (surface);
  cairo_set_source_rgb (cr, 1.0, 1.0, 1.0);
  cairo_paint (cr);

  /* Margins: the widest y tick number on the left; the colour bar's and
   * the legend's column on the right; a change bar's between the panels. */
  bar_step = activity_bar_step (cr, v_min, v_max, a->diverging, &bar_text);
  if (change)
    change_step = activity_bar_step (cr, lay.change_min, lay.change_max, TRUE, &change_text);
  set_font (cr, TICK_SIZE, FALSE);
  g_snprintf (buf, sizeof buf, "%" G_GSIZE_FORMAT, a->n_units);
  y_text = text_width (cr, buf);
  for (double v = out_min; a->outputs != NULL && v <= out_max + 0.5 * out_step; v += out_step)
    {
      format_tick (buf, sizeof buf, v, out_step);
      y_text = MAX (y_text, text_width (cr, buf));
    }
  for (double v = ctl_min; a->control != NULL && v <= ctl_max + 0.5 * ctl_step; v += ctl_step)
    {
      format_tick (buf, sizeof buf, v, ctl_step);
      y_text = MAX (y_text, text_width (cr, buf));
    }
  left_margin = 12.0 + LABEL_SIZE + 10.0 + y_text + 8.0 + TICK_LENGTH;
  g_snprintf (label_text, sizeof label_text, "label %d", a->label);
  if (a->prediction >= 0 && a->prediction == a->label)
    g_snprintf (prediction_text, sizeof prediction_text, "label = prediction %d", a->label);
  else
    g_snprintf (prediction_text, sizeof prediction_text, "prediction %d", a->prediction);
  set_font (cr, LABEL_SIZE, FALSE);
  if (n_lines > 0)
    {
      legend_width = MAX (text_width (cr, "other classes"), text_width (cr, label_text));
      legend_width = MAX (legend_width, text_width (cr, prediction_text));
      legend_width = MAX (legend_width, text_width (cr, "target y*"));
      legend_width += 18.0 + 30.0;
    }
  right_column = MAX (activity_bar_room (change ? change_text : bar_text), legend_width) + 12.0;
  gap = change ? activity_bar_room (bar_text) + 8.0 + ACTIVITY_PANEL_GAP : ACTIVITY_PANEL_GAP;

  /* Title lines, then the loops' headers. */
  top = 10.0;
  cairo_set_source_rgb (cr, 0.0, 0.0, 0.0);
  if (a->title != NULL)
    {
      set_font (cr, TITLE_SIZE, TRUE);
      draw_text (cr, a->title, width / 2.0, top, 0.5, 0.0);
      top += TITLE_SIZE + 10.0;
    }
  if (a->subtitle != NULL)
    {
      set_font (cr, LABEL_SIZE, FALSE);
      draw_text (cr, a->subtitle, width / 2.0, top, 0.5, 0.0);
      top += LABEL_SIZE + 10.0;
    }
  header_y = top + 8.0;
  top = round (header_y + LABEL_SIZE + 12.0);
  bottom_margin = TICK_LENGTH + TICK_SIZE + 10.0 + LABEL_SIZE + 12.0 + 8.0;
  panel_width =
      floor ((width - left_margin - right_column - (lay.n_panels - 1) * gap) / lay.n_panels);
  if (n_lines > 0)
    line_height = floor ((height - top - bottom_margin) * ACTIVITY_LINE_SHARE);
  heat_height = floor (height - top - bottom_margin - n_lines * (line_height + ACTIVITY_ROW_GAP));
  panel_width = MAX (panel_width, MIN_AREA);
  heat_height = MAX (heat_height, MIN_AREA);

  x_cursor = round (left_margin);
  for (guint p = 0; p < lay.n_panels; p++)
    {
      double y = top;

      lay.heat[p] =
          (DiscoPlotArea){ x_cursor,   y,          panel_width, heat_height, legs[p].lo,
                           legs[p].hi, a->n_units, 0.0,         FALSE,       legs[p].log };
      y += heat_height + ACTIVITY_ROW_GAP;
      if (a->outputs != NULL)
        {
          lay.outputs[p] =
              (DiscoPlotArea){ x_cursor,   y,       panel_width, line_height, legs[p].lo,
                               legs[p].hi, out_min, out_max,     FALSE,       legs[p].log };
          y += line_height + ACTIVITY_ROW_GAP;
        }
      if (a->control != NULL)
        lay.control[p] =
            (DiscoPlotArea){ x_cursor,   y,       panel_width, line_height, legs[p].lo,
                             legs[p].hi, ctl_min, ctl_max,     FALSE,       legs[p].log };
      x_cursor += panel_width + gap;
    }
  /* Each colour bar right of its map: with changes, the open loop's
   * between the panels. */
  lay.bar =
      (DiscoPlotArea){ round ((change ? lay.heat[0].left + panel_width : x_cursor - gap) + 18.0),
                       top,
                       ACTIVITY_BAR_WIDTH,
                       heat_height,
                       0.0,
                       1.0,
                       v_min,
                       v_max,
                       FALSE,
                       FALSE };
  if (change)
    lay.change_bar = (DiscoPlotArea){ round (x_cursor - gap + 18.0),
                                      top,
                                      ACTIVITY_BAR_WIDTH,
                                      heat_height,
                                      0.0,
                                      1.0,
                                      lay.change_min,
                                      lay.change_max,
                                      FALSE,
                                      FALSE };
  if (lay.n_panels == 2)
    {
      lay.boundary_width = ACTIVITY_BOUNDARY_WIDTH;
      lay.boundary_left =
          round (lay.heat[1].left - (ACTIVITY_PANEL_GAP + ACTIVITY_BOUNDARY_WIDTH) / 2);
    }

  /* Heat maps and colour bars, pixel by pixel. */
  cairo_surface_flush (surface);
  activity_heat_map (surface, a, &legs[0], &lay.heat[0], order, NULL, a->diverging, v_min, v_max);
  if (lay.n_panels == 2)
    activity_heat_map (surface, a, &legs[1], &lay.heat[1], order, base, change || a->diverging,
                       change ? lay.change_min : v_min, change ? lay.change_max : v_max);
  activity_bar_pixels (surface, &lay.bar, a->diverging);
  if (change)
    activity_bar_pixels (surface, &lay.change_bar, TRUE);
  cairo_surface_mark_dirty (surface);

  /* Frames, axes and lines of every panel. */
  for (guint p = 0; p < lay.n_panels; p++)
    {
      const DiscoPlotArea *last = a->control != NULL   ? &lay.control[p]
                                  : a->outputs != NULL ? &lay.outputs[p]
                                                       : &lay.heat[p];
      const char *x_label =
          p == 0 ? "time since input onset (ms)" : "time since controller on (ms)";
      const char *header = p == 0   ? "open loop (c = 0)"
                           : change ? "closed loop (controller on): change from open loop"
                                    : "closed loop (controller on)";

      activity_frame (cr, &lay.heat[p]);
      activity_time_axis (cr, &lay.heat[p], last == &lay.heat[p], FALSE, x_label);
      cairo_set_source_rgb (cr, 0.2, 0.2, 0.2);
      set_font (cr, TICK_SIZE, FALSE);
      for (double k = 0; k <= a->n_units + 1e-9; k += unit_step)
        {
          double py = round (lay.heat[p].top + k / a->n_units * heat_height) - 0.5;

          cairo_move_to (cr, lay.heat[p].left - 0.5 - TICK_LENGTH, py);
          cairo_line_to (cr, lay.heat[p].left - 0.5, py);
          cairo_stroke (cr);
          if (p > 0)
            continue;
          format_tick (buf, sizeof buf, k, unit_step);
          draw_text (cr, buf, lay.heat[p].left - TICK_LENGTH - 4.0, py, 1.0, 0.5);
        }
      if (a->outputs != NULL)
        {
          activity_value_axis (cr, &lay.outputs[p], out_step, p == 0, TRUE);
          activity_time_axis (cr, &lay.outputs[p], last == &lay.outputs[p], TRUE, x_label);
          if (p == 1 && isfinite (a->target_value) && a->label >= 0)
            {
              double dash[] = { 5.0, 3.0 }, py;

              disco_plot_area_map (&lay.outputs[p], lay.outputs[p].x_min, a->target_value, NULL,
                                   &py);
              cairo_set_source_rgb (cr, label_rgb[0], label_rgb[1], label_rgb[2]);
              cairo_set_line_width (cr, 1.5);
              cairo_set_dash (cr, dash, 2, 0.0);
              cairo_move_to (cr, lay.outputs[p].left, py);
              cairo_line_to (cr, lay.outputs[p].left + lay.outputs[p].width, py);
              cairo_stroke (cr);
              cairo_set_dash (cr, NULL, 0, 0.0);
            }
          activity_lines (cr, a, &legs[p], &lay.outputs[p], a->outputs);
          activity_frame (cr, &lay.outputs[p]);
        }
      if (a->control != NULL)
        {
          activity_value_axis (cr, &lay.control[p], ctl_step, p == 0, TRUE);
          activity_time_axis (cr, &lay.control[p], TRUE, TRUE, x_label);
          activity_lines (cr, a, &legs[p], &lay.control[p], a->control);
          activity_frame (cr, &lay.control[p]);
        }
      cairo_set_source_rgb (cr, 0.0, 0.0, 0.0);
      set_font (cr, LABEL_SIZE, TRUE);
      draw_text (cr, header, lay.heat[p].left + panel_width / 2, header_y, 0.5, 0.0);
    }
  activity_y_label (cr,
                    a->order == DISCO_PLOT_UNIT_ORDER_CLOSED_LOOP_CHANGE
                        ? (lay.n_panels == 2 ? "unit (sorted by closed-loop change)"
                                             : "unit (sorted by final value)")
                        : "unit",
                    12.0, &lay.heat[0]);
  if (a->outputs != NULL)
    activity_y_label (cr, a->output_label, 12.0, &lay.outputs[0]);
  if (a->control != NULL)
    activity_y_label (cr, "control c", 12.0, &lay.control[0]);

  /* The open/closed-loop marker, just left of the closed-loop panel. */
  if (lay.n_panels == 2)
    {
      const DiscoPlotArea *last = a->control != NULL   ? &lay.control[1]
                                  : a->outputs != NULL ? &lay.outputs[1]
                                                       : &lay.heat[1];

      cairo_set_source_rgb (cr, boundary_rgb[0], boundary_rgb[1], boundary_rgb[2]);
      cairo_rectangle (cr, lay.boundary_left, header_y, lay.boundary_width,
                       last->top + last->height - header_y);
      cairo_fill (cr);
    }

  activity_bar_axis (cr, &lay.bar, bar_step, bar_text, a->signal_label);
  if (change)
    activity_bar_axis (cr, &lay.change_bar, change_step, change_text, a->change_label);

  /* Legend of the lines, right of the output plot. */
  if (n_lines > 0)
    {
      double lx = (change ? lay.change_bar : lay.bar).left,
             ly = (a->outputs != NULL ? lay.outputs : lay.control)[0].top;

      set_font (cr, LABEL_SIZE, FALSE);
      if (a->label >= 0)
        ly = activity_legend_entry (cr, lx, ly, label_rgb, LINE_WIDTH, FALSE, label_text);
      if (a->prediction >= 0 && a->prediction != a->label)
        ly = activity_legend_entry (cr, lx, ly, prediction_rgb, LINE_WIDTH, FALSE, prediction_text);
      if (a->label >= 0 || a->prediction >= 0)
        ly = activity_legend_entry (cr, lx, ly, other_rgb, 1.2, FALSE, "other classes");
      if (a->outputs != NULL && lay.n_panels == 2 && isfinite (a->target_value) && a->label >= 0)
        activity_legend_entry (cr, lx, ly, label_rgb, 1.5, TRUE, "target y*");
    }

  png = surface_to_png (cr, surface, "figure", error);
  cairo_destroy (cr);
  cairo_surface_destroy (surface);
  if (png != NULL && layout != NULL)
    *layout = lay;
  return png;
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
      if (n < 2 || parts[0][0] == '\0' || parts[1][0] == '\0' || (n == 3 && parts[2][0] == '\0'))
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                       "curve %u, \"%s\", is not X:Y or X:Y:LABEL (two column names and "
                       "an optional legend entry)",
                       i + 1, g_strstrip (entries[i]));
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

  if (node == NULL || JSON_NODE_HOLDS_NULL (node)
      || json_node_get_value_type (node) == G_TYPE_STRING || !JSON_NODE_HOLDS_VALUE (node))
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
disco_plot_learning_curves (const char *report_path, guint width, guint height, GError **error)
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
  list = root != NULL && JSON_NODE_HOLDS_OBJECT (root)
             ? json_object_get_member (json_node_get_object (root), "epochs")
             : NULL;
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

      if (!JSON_NODE_HOLDS_OBJECT (element)
          || !isfinite (number = member_number (json_node_get_object (element), "epoch")))
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
          JsonObject *object =
              phase != NULL && JSON_NODE_HOLDS_OBJECT (phase) ? json_node_get_object (phase) : NULL;
          double a = member_number (object, "accuracy"), l = member_number (object, "loss");

          g_array_append_val (values[p][0], a);
          g_array_append_val (values[p][1], l);
        }
    }
  for (guint p = 0; p < G_N_ELEMENTS (phases); p++)
    {
      gboolean any = FALSE;

      for (guint i = 0; i < epochs->len; i++)
        any = any || isfinite (g_array_index (values[p][0], double, i))
              || isfinite (g_array_index (values[p][1], double, i));
      if (!any)
        continue;
      accuracy[n_series] = (DiscoPlotSeries){ phases[p].label,
                                              (double *) epochs->data,
                                              (double *) values[p][0]->data,
                                              epochs->len,
                                              phases[p].r,
                                              phases[p].g,
                                              phases[p].b,
                                              epochs->len <= 30 };
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
  panels[0] =
      (DiscoPlotPanel){ "Accuracy", "epoch", "accuracy (%)", accuracy, n_series, TRUE, FALSE };
  panels[1] = (DiscoPlotPanel){ "Loss", "epoch", "loss", loss, n_series, TRUE, FALSE };
  return disco_plot_render_panels (panels, 2, width, height, NULL, error);
}
