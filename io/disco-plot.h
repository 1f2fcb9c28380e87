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
 * @log_x: the x axis is logarithmic (@x_min and @x_max are data values,
 *   both > 0)
 *
 * Where a panel's data lands in the image; see disco_plot_area_map().
 * Fields added later go at the end.
 */
typedef struct
{
  double left, top, width, height;
  double x_min, x_max, y_min, y_max;
  gboolean log_y;
  gboolean log_x;
} DiscoPlotArea;

void disco_plot_area_map (const DiscoPlotArea *area, double x, double y, double *px, double *py);

GBytes *disco_plot_render (const char *title, const char *x_label, const char *y_label,
                           const DiscoPlotSeries *series, guint n_series, guint width, guint height,
                           DiscoPlotArea *area, GError **error);
GBytes *disco_plot_render_panels (const DiscoPlotPanel *panels, guint n_panels, guint width,
                                  guint height, DiscoPlotArea *areas, GError **error);

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

/**
 * DiscoPlotTimeAxis:
 * @DISCO_PLOT_TIME_LOG: logarithmic, from the first recorded step after the
 *   start of each loop to its last: every decade of time gets the same room
 * @DISCO_PLOT_TIME_LINEAR: linear, from the start of each loop to its end
 *
 * How an activity figure spreads solver time over its columns.
 */
typedef enum
{
  DISCO_PLOT_TIME_LOG,
  DISCO_PLOT_TIME_LINEAR,
} DiscoPlotTimeAxis;

/**
 * DiscoPlotUnitOrder:
 * @DISCO_PLOT_UNIT_ORDER_NONE: unit 0 at the top, in index order
 * @DISCO_PLOT_UNIT_ORDER_CLOSED_LOOP_CHANGE: by how much the value changes
 *   over the closed loop (last row minus last open-loop row), largest
 *   increase at the top; without closed-loop rows, by the last value
 *
 * The order of the rows of an activity figure's heat map.
 */
typedef enum
{
  DISCO_PLOT_UNIT_ORDER_NONE,
  DISCO_PLOT_UNIT_ORDER_CLOSED_LOOP_CHANGE,
} DiscoPlotUnitOrder;

/**
 * DiscoPlotActivity:
 * @title: (nullable): the first line of the title, bold
 * @subtitle: (nullable): the second line of the title
 * @signal_label: (nullable): the colour bar's label (name and unit)
 * @values: (array length=n_times): @n_times rows of @n_units values
 * @n_units: units of the layer, at least 1
 * @times: (array length=n_times): the time of each row (s), non-decreasing;
 *   the closed loop continues where the open loop stopped
 * @n_times: rows, at least 1
 * @open_loop_rows: how many rows are open loop, 1 to @n_times; the rest
 *   are closed loop
 * @diverging: blue–white–red, symmetric around 0 (signed values such as
 *   the top-down input); else viridis from 0 to the largest value (rates)
 * @order: the heat map's row order
 * @time_axis: the time scale of each loop's panel
 * @outputs: (nullable) (array length=n_times): @n_times rows of
 *   @n_outputs values of the output layer, drawn as lines under the map
 * @output_label: (nullable): the y label of the output plot
 * @output_min: the output plot's y range; NaN (both) fits the data
 * @output_max: see @output_min
 * @control: (nullable) (array length=n_times): @n_times rows of @n_outputs
 *   control values c, drawn as lines under the outputs
 * @n_outputs: values per row of @outputs and @control
 * @label: the target class, drawn in red with a legend entry; −1: none
 * @prediction: the predicted class, drawn in blue; −1: none
 * @target_value: a dashed red line at this output value in the
 *   closed-loop panel (the target y* of @label); NaN: none
 * @closed_loop_change: the closed-loop heat map shows each value minus the
 *   unit's value in the last open-loop row, blue–white–red around 0, with
 *   its own colour bar (between the panels) labelled @change_label; the
 *   open-loop map keeps the colour bar on the right
 * @change_label: (nullable): the label of that colour bar
 *
 * An activity figure: how one sample settles, open loop then closed loop.
 * Fields added later go at the end.
 */
typedef struct
{
  const char *title;
  const char *subtitle;
  const char *signal_label;
  const float *values;
  gsize n_units;
  const double *times;
  gsize n_times;
  gsize open_loop_rows;
  gboolean diverging;
  DiscoPlotUnitOrder order;
  DiscoPlotTimeAxis time_axis;
  const float *outputs;
  const char *output_label;
  double output_min, output_max;
  const float *control;
  gsize n_outputs;
  gint label;
  gint prediction;
  double target_value;
  gboolean closed_loop_change;
  const char *change_label;
} DiscoPlotActivity;

/**
 * DiscoPlotActivityLayout:
 * @n_panels: 1 (open loop only) or 2 (open then closed loop)
 * @heat: per panel, where the heat map lies: x is time since the start of
 *   the loop (s), y the row position (0 at the top, @n_units at the
 *   bottom; row k spans k to k + 1)
 * @outputs: per panel, the output plot (y in output units); zero where
 *   there is none
 * @control: per panel, the control plot; zero where there is none
 * @boundary_left: the first pixel column of the open/closed-loop marker
 * @boundary_width: its width in pixels (0 without a closed loop)
 * @bar: the colour bar of the heat maps (of the open-loop one only with
 *   #DiscoPlotActivity:closed_loop_change): y from @v_min (bottom) to
 *   @v_max (top)
 * @v_min: the value at the bottom of the colour range
 * @v_max: the value at the top
 * @change_bar: with #DiscoPlotActivity:closed_loop_change, the colour bar of
 *   the closed-loop map, y from @change_min to @change_max; else zero
 * @change_min: the change at the bottom of that colour range (−@change_max)
 * @change_max: the change at its top
 *
 * Where an activity figure put things, for tests and annotations.
 */
typedef struct
{
  guint n_panels;
  DiscoPlotArea heat[2];
  DiscoPlotArea outputs[2];
  DiscoPlotArea control[2];
  double boundary_left, boundary_width;
  DiscoPlotArea bar;
  double v_min, v_max;
  DiscoPlotArea change_bar;
  double change_min, change_max;
} DiscoPlotActivityLayout;

void disco_plot_activity_unit_order (const DiscoPlotActivity *activity, gsize *order);
GBytes *disco_plot_render_activity (const DiscoPlotActivity *activity, guint width, guint height,
                                    DiscoPlotActivityLayout *layout, gsize *order, GError **error);

GBytes *disco_plot_learning_curves (const char *report_path, guint width, guint height,
                                    GError **error);

G_END_DECLS
