/* test-png.h: decode the PNG images that the tests check pixel by pixel */
#pragma once

#include <cairo.h>
#include <glib.h>

G_BEGIN_DECLS

cairo_surface_t *test_png_decode (GBytes *png);

G_END_DECLS
