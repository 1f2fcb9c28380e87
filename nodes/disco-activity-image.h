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

#define DISCO_TYPE_ACTIVITY_IMAGE (disco_activity_image_get_type ())
G_DECLARE_FINAL_TYPE (DiscoActivityImage, disco_activity_image, DISCO, ACTIVITY_IMAGE, DiscoNode)

G_END_DECLS
