/* disco-leaky-pi.h */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

/**
 * DiscoControlError:
 * @DISCO_CONTROL_ERROR_CROSS_ENTROPY: e = y* − softmax(y)
 * @DISCO_CONTROL_ERROR_MSE: e = y* − y
 *
 * The output error a controller feeds back (MODEL.md §3).
 */
typedef enum
{
  DISCO_CONTROL_ERROR_CROSS_ENTROPY,
  DISCO_CONTROL_ERROR_MSE,
} DiscoControlError;

#define DISCO_TYPE_CONTROL_ERROR (disco_control_error_get_type ())
GType disco_control_error_get_type (void);

/* What the integrator needs of a controller. */
typedef struct
{
  DiscoNode *node;
  DiscoControlError error;
  float k_p, k_i, leak, tau;
  gsize n; /* outputs controlled */
} DiscoControllerSpec;

gboolean disco_controller_get_spec (DiscoNode *node, DiscoControllerSpec *spec);

#define DISCO_TYPE_LEAKY_PI (disco_leaky_pi_get_type ())
G_DECLARE_FINAL_TYPE (DiscoLeakyPi, disco_leaky_pi, DISCO, LEAKY_PI, DiscoNode)

G_END_DECLS
