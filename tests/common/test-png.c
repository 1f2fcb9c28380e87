/* test-png.c: decode the PNG images that the tests check pixel by pixel */
#include "test-png.h"

#include <string.h>

typedef struct
{
  const guint8 *data;
  gsize size;
  gsize at;
} PngReader;

static cairo_status_t
read_png (void *closure, unsigned char *data, unsigned int length)
{
  PngReader *reader = closure;

  if (reader->size - reader->at < length)
    return CAIRO_STATUS_READ_ERROR;
  memcpy (data, reader->data + reader->at, length);
  reader->at += length;
  return CAIRO_STATUS_SUCCESS;
}

/**
 * test_png_decode:
 * @png: the bytes of a PNG file
 *
 * Decodes a PNG file held in memory. Bytes left over after the image's end
 * count as a failure, so that a truncated or padded file is caught.
 *
 * Returns: (transfer full) (nullable): an image surface, to free with
 *   cairo_surface_destroy(), or %NULL when @png is not exactly one valid
 *   PNG image
 */
cairo_surface_t *
test_png_decode (GBytes *png)
{
  PngReader reader = { NULL, 0, 0 };
  cairo_surface_t *surface;

  g_return_val_if_fail (png != NULL, NULL);

  reader.data = g_bytes_get_data (png, &reader.size);
  surface = cairo_image_surface_create_from_png_stream (read_png, &reader);
  if (cairo_surface_status (surface) != CAIRO_STATUS_SUCCESS || reader.at != reader.size)
    {
      cairo_surface_destroy (surface);
      return NULL;
    }
  return surface;
}
