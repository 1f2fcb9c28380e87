/* disco-image.h: tensors as PNG images */
#pragma once

#include <glib-object.h>
#include "disco-tensor.h"

G_BEGIN_DECLS

/**
 * DiscoColormap:
 * @DISCO_COLORMAP_VIRIDIS: matplotlib's perceptually uniform viridis (its
 *   256-entry table), for magnitudes such as rates: dark violet (68, 1, 84)
 *   at the bottom of the range, yellow (253, 231, 37) at the top
 * @DISCO_COLORMAP_DIVERGING: for signed values such as weights or top-down
 *   input: blue (0, 0, 255) at the bottom, white (255, 255, 255) in the
 *   middle, red (255, 0, 0) at the top, linear in between. With a range
 *   symmetric around 0, zero is white.
 * @DISCO_COLORMAP_GRAY: black (0, 0, 0) at the bottom, white at the top
 *
 * How a value becomes a colour.
 */
typedef enum
{
  DISCO_COLORMAP_VIRIDIS,
  DISCO_COLORMAP_DIVERGING,
  DISCO_COLORMAP_GRAY,
} DiscoColormap;

#define DISCO_TYPE_COLORMAP (disco_colormap_get_type ())
GType disco_colormap_get_type (void);

void disco_colormap_get_color (DiscoColormap map, double position, guint8 *red, guint8 *green,
                               guint8 *blue);

GBytes *disco_png_encode_rgb (const guint8 *pixels, gsize size, guint width, guint height,
                              GError **error);

GBytes *disco_tensor_render_png (DiscoTensor *tensor, DiscoColormap map, double vmin, double vmax,
                                 guint scale, GError **error);
GBytes *disco_tensor_render_png16 (DiscoTensor *tensor, double vmin, double vmax, GError **error);

G_END_DECLS
