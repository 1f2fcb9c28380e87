/* disco-activity-image.h */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

/**
 * DiscoActivitySignal:
 * @DISCO_ACTIVITY_EXCITATORY: excitatory rates r_E = φ_E(u_E) (a rate
 *   layer's r = φ(u)), viridis from 0
 * @DISCO_ACTIVITY_INHIBITORY: inhibitory rates r_I = φ_I(u_I), viridis from 0
 * @DISCO_ACTIVITY_TOP_DOWN: the top-down input f = c·Q_l, diverging, symmetric
 *
 * Which activity of a layer an activity image shows.
 */
typedef enum
{
  DISCO_ACTIVITY_EXCITATORY,
  DISCO_ACTIVITY_INHIBITORY,
  DISCO_ACTIVITY_TOP_DOWN,
} DiscoActivitySignal;

#define DISCO_TYPE_ACTIVITY_SIGNAL (disco_activity_signal_get_type ())
GType disco_activity_signal_get_type (void);

/**
 * DiscoActivityStyle:
 * @DISCO_ACTIVITY_STYLE_FIGURE: a figure with axes, colour bar, title and
 *   the output and control trajectories
 * @DISCO_ACTIVITY_STYLE_PIXELS: the plain heat map, one square of pixels (or
 *   one 16-bit gray pixel) per value, for analysis
 *
 * What an activity image looks like.
 */
typedef enum
{
  DISCO_ACTIVITY_STYLE_FIGURE,
  DISCO_ACTIVITY_STYLE_PIXELS,
} DiscoActivityStyle;

#define DISCO_TYPE_ACTIVITY_STYLE (disco_activity_style_get_type ())
GType disco_activity_style_get_type (void);

/**
 * DiscoActivitySort:
 * @DISCO_ACTIVITY_SORT_NONE: units in index order, 0 at the top
 * @DISCO_ACTIVITY_SORT_CLOSED_LOOP_CHANGE: by the change over the closed
 *   loop (last state minus open-loop steady state), largest increase at the
 *   top; without a closed loop, by the final value
 *
 * The order of an activity figure's rows.
 */
typedef enum
{
  DISCO_ACTIVITY_SORT_NONE,
  DISCO_ACTIVITY_SORT_CLOSED_LOOP_CHANGE,
} DiscoActivitySort;

#define DISCO_TYPE_ACTIVITY_SORT (disco_activity_sort_get_type ())
GType disco_activity_sort_get_type (void);

/**
 * DiscoActivityTimeAxis:
 * @DISCO_ACTIVITY_TIME_AXIS_LOG: each loop's time on a log scale from its
 *   first recorded step
 * @DISCO_ACTIVITY_TIME_AXIS_LINEAR: each loop's time on a linear scale from
 *   its start
 *
 * How an activity figure spreads time over its columns.
 */
typedef enum
{
  DISCO_ACTIVITY_TIME_AXIS_LOG,
  DISCO_ACTIVITY_TIME_AXIS_LINEAR,
} DiscoActivityTimeAxis;

#define DISCO_TYPE_ACTIVITY_TIME_AXIS (disco_activity_time_axis_get_type ())
GType disco_activity_time_axis_get_type (void);

#define DISCO_TYPE_ACTIVITY_IMAGE (disco_activity_image_get_type ())
G_DECLARE_FINAL_TYPE (DiscoActivityImage, disco_activity_image, DISCO, ACTIVITY_IMAGE, DiscoNode)

G_END_DECLS
