/* disco-plot.h: line plots with axes, ticks, labels and a legend, as PNG
 *
 * Plain C helpers on cairo, shared by the learning-curves node, the
 * disco-plot tool and the tests. No GObject type.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * DiscoPlotSeries:
 * @label: (nullable): the legend entry; %NULL leaves the series out of the legend
 * @x: (array length=n): abscissae
 * @y: (array length=n): ordinates; a NaN (or infinite) value leaves a gap
 * @n: number of points
 * @r: red of the line, 0 to 1
 * @g: green of the line, 0 to 1
 * @b: blue of the line, 0 to 1
 * @markers: draw a dot at every point (isolated points always get one)
 * @band_low: (nullable) (array length=n): lower edges of a band around the
 *   curve, such as mean − std
 * @band_high: (nullable) (array length=n): upper edges of the band
 *
 * One curve: a 2 px line through (x[i], y[i]) in the series colour.
 *
 * Where @band_low and @band_high are both set, the area between
 * (x[i], band_low[i]) and (x[i], band_high[i]) is filled in the series
 * colour at 20 % opacity, under the lines of every series of the panel; a
 * NaN (or infinite) edge breaks the band like a NaN breaks the line, and a
 * lone point of a band is drawn as a short bar. The y axis covers the band.
 * Fields added later go at the end, so that positional initialisers stay
 * valid.
 */
typedef struct
{
  const char *label;
  const double *x;
  const double *y;
  gsize n;
  double r, g, b;
  gboolean markers;
  const double *band_low;
  const double *band_high;
} DiscoPlotSeries;

/**
 * DiscoPlotPanel:
 * @title: (nullable): text above the plot
 * @x_label: (nullable): text under the x axis
 * @y_label: (nullable): text beside the y axis, rotated
 * @series: (array length=n_series): the curves
 * @n_series: number of curves, at least 1
 * @x_integer: tick the x axis at whole numbers only (epochs)
 * @log_y: a logarithmic y axis, ticked at powers of ten; points with
 *   y ≤ 0 leave gaps, like NaN
 *
 * One plot of a figure; disco_plot_render_panels() stacks panels. Fields
 * added later go at the end, so that positional initialisers stay valid.
 */
typedef struct
{
  const char *title;
  const char *x_label;
  const char *y_label;
  const DiscoPlotSeries *series;
  guint n_series;
  gboolean x_integer;
  gboolean log_y;
} DiscoPlotPanel;

/**
 * DiscoPlotArea:
 * @left: pixel column of the x axis minimum
 * @top: pixel row of the y axis maximum
 * @width: width of the plot area in pixels
 * @height: height of the plot area in pixels
 * @x_min: data value at the left edge
 * @x_max: data value at the right edge
 * @y_min: data value at the bottom edge
 * @y_max: data value at the top edge
 * @log_y: the y axis is logarithmic (@y_min and @y_max are still data
 *   values, powers of ten)
 *
 * Where a panel's data lands in the image; see disco_plot_area_map().
 */
typedef struct
{
  double left, top, width, height;
  double x_min, x_max, y_min, y_max;
  gboolean log_y;
} DiscoPlotArea;

void disco_plot_area_map (const DiscoPlotArea *area, double x, double y,
                          double *px, double *py);

GBytes *disco_plot_render (const char *title, const char *x_label, const char *y_label,
                           const DiscoPlotSeries *series, guint n_series,
                           guint width, guint height, DiscoPlotArea *area,
                           GError **error);
GBytes *disco_plot_render_panels (const DiscoPlotPanel *panels, guint n_panels,
                                  guint width, guint height, DiscoPlotArea *areas,
                                  GError **error);

void disco_plot_palette_color (guint index, double *r, double *g, double *b);

/**
 * DiscoPlotColumnPair:
 * @x: name of the column of abscissae
 * @y: name of the column of ordinates
 * @label: (nullable): the legend entry; %NULL: the @y name
 *
 * One curve of a table, as named by disco_plot_parse_series_spec().
 */
typedef struct
{
  char *x;
  char *y;
  char *label;
} DiscoPlotColumnPair;

void disco_plot_column_pair_free (DiscoPlotColumnPair *pair);
GPtrArray *disco_plot_parse_series_spec (const char *spec, GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiscoPlotColumnPair, disco_plot_column_pair_free)

GBytes *disco_plot_learning_curves (const char *report_path, guint width, guint height,
                                    GError **error);

G_END_DECLS
