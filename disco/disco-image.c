/* disco-image.c
 *
 * PNG encoding goes through libpng into memory (png_set_write_fn appends to a
 * GByteArray); libpng reports errors by longjmp, so each encoder keeps its
 * heap state outside the setjmp frame and frees it on both paths.
 */

/**
 * SECTION:disco-image
 * @title: Images
 * @short_description: tensors as PNG heat maps
 *
 * A 2-D tensor (rows × columns; a 1-D one is one row) becomes a PNG image
 * with one pixel per value, or a scale × scale block per value with
 * disco_tensor_render_png(). Colours come from a #DiscoColormap: viridis for
 * magnitudes, a blue–white–red diverging map for signed values, or gray.
 * For exact values, disco_tensor_render_png16() writes 16-bit grayscale with
 * a linear mapping of [vmin, vmax] to [0, 65535]. Write the bytes with
 * disco_write_file_atomically().
 *
 * From Python:
 * |[
 * png = t.render_png (Disco.Colormap.VIRIDIS, float ('nan'), float ('nan'), 4)
 * open ('t.png', 'wb').write (png.get_data ())
 * ]|
 */

#include "disco-image.h"
#include "disco-error.h"

#include <math.h>
#include <png.h>
#include <setjmp.h>
#include <string.h>

/* The longest side an image may have: libpng's default user limit. */
#define MAX_SIDE 1000000

G_DEFINE_ENUM_TYPE (DiscoColormap, disco_colormap,
                    G_DEFINE_ENUM_VALUE (DISCO_COLORMAP_VIRIDIS, "viridis"),
                    G_DEFINE_ENUM_VALUE (DISCO_COLORMAP_DIVERGING, "diverging"),
                    G_DEFINE_ENUM_VALUE (DISCO_COLORMAP_GRAY, "gray"))

/* matplotlib's _viridis_data (lib/matplotlib/_cm_listed.py, 3.6.3), each
 * component rounded to 8 bits. */
static const guint8 viridis[256][3] = {
  { 68, 1, 84 },    { 68, 2, 86 },    { 69, 4, 87 },    { 69, 5, 89 },    { 70, 7, 90 },
  { 70, 8, 92 },    { 70, 10, 93 },   { 70, 11, 94 },   { 71, 13, 96 },   { 71, 14, 97 },
  { 71, 16, 99 },   { 71, 17, 100 },  { 71, 19, 101 },  { 72, 20, 103 },  { 72, 22, 104 },
  { 72, 23, 105 },  { 72, 24, 106 },  { 72, 26, 108 },  { 72, 27, 109 },  { 72, 28, 110 },
  { 72, 29, 111 },  { 72, 31, 112 },  { 72, 32, 113 },  { 72, 33, 115 },  { 72, 35, 116 },
  { 72, 36, 117 },  { 72, 37, 118 },  { 72, 38, 119 },  { 72, 40, 120 },  { 72, 41, 121 },
  { 71, 42, 122 },  { 71, 44, 122 },  { 71, 45, 123 },  { 71, 46, 124 },  { 71, 47, 125 },
  { 70, 48, 126 },  { 70, 50, 126 },  { 70, 51, 127 },  { 70, 52, 128 },  { 69, 53, 129 },
  { 69, 55, 129 },  { 69, 56, 130 },  { 68, 57, 131 },  { 68, 58, 131 },  { 68, 59, 132 },
  { 67, 61, 132 },  { 67, 62, 133 },  { 66, 63, 133 },  { 66, 64, 134 },  { 66, 65, 134 },
  { 65, 66, 135 },  { 65, 68, 135 },  { 64, 69, 136 },  { 64, 70, 136 },  { 63, 71, 136 },
  { 63, 72, 137 },  { 62, 73, 137 },  { 62, 74, 137 },  { 62, 76, 138 },  { 61, 77, 138 },
  { 61, 78, 138 },  { 60, 79, 138 },  { 60, 80, 139 },  { 59, 81, 139 },  { 59, 82, 139 },
  { 58, 83, 139 },  { 58, 84, 140 },  { 57, 85, 140 },  { 57, 86, 140 },  { 56, 88, 140 },
  { 56, 89, 140 },  { 55, 90, 140 },  { 55, 91, 141 },  { 54, 92, 141 },  { 54, 93, 141 },
  { 53, 94, 141 },  { 53, 95, 141 },  { 52, 96, 141 },  { 52, 97, 141 },  { 51, 98, 141 },
  { 51, 99, 141 },  { 50, 100, 142 }, { 50, 101, 142 }, { 49, 102, 142 }, { 49, 103, 142 },
  { 49, 104, 142 }, { 48, 105, 142 }, { 48, 106, 142 }, { 47, 107, 142 }, { 47, 108, 142 },
  { 46, 109, 142 }, { 46, 110, 142 }, { 46, 111, 142 }, { 45, 112, 142 }, { 45, 113, 142 },
  { 44, 113, 142 }, { 44, 114, 142 }, { 44, 115, 142 }, { 43, 116, 142 }, { 43, 117, 142 },
  { 42, 118, 142 }, { 42, 119, 142 }, { 42, 120, 142 }, { 41, 121, 142 }, { 41, 122, 142 },
  { 41, 123, 142 }, { 40, 124, 142 }, { 40, 125, 142 }, { 39, 126, 142 }, { 39, 127, 142 },
  { 39, 128, 142 }, { 38, 129, 142 }, { 38, 130, 142 }, { 38, 130, 142 }, { 37, 131, 142 },
  { 37, 132, 142 }, { 37, 133, 142 }, { 36, 134, 142 }, { 36, 135, 142 }, { 35, 136, 142 },
  { 35, 137, 142 }, { 35, 138, 141 }, { 34, 139, 141 }, { 34, 140, 141 }, { 34, 141, 141 },
  { 33, 142, 141 }, { 33, 143, 141 }, { 33, 144, 141 }, { 33, 145, 140 }, { 32, 146, 140 },
  { 32, 146, 140 }, { 32, 147, 140 }, { 31, 148, 140 }, { 31, 149, 139 }, { 31, 150, 139 },
  { 31, 151, 139 }, { 31, 152, 139 }, { 31, 153, 138 }, { 31, 154, 138 }, { 30, 155, 138 },
  { 30, 156, 137 }, { 30, 157, 137 }, { 31, 158, 137 }, { 31, 159, 136 }, { 31, 160, 136 },
  { 31, 161, 136 }, { 31, 161, 135 }, { 31, 162, 135 }, { 32, 163, 134 }, { 32, 164, 134 },
  { 33, 165, 133 }, { 33, 166, 133 }, { 34, 167, 133 }, { 34, 168, 132 }, { 35, 169, 131 },
  { 36, 170, 131 }, { 37, 171, 130 }, { 37, 172, 130 }, { 38, 173, 129 }, { 39, 173, 129 },
  { 40, 174, 128 }, { 41, 175, 127 }, { 42, 176, 127 }, { 44, 177, 126 }, { 45, 178, 125 },
  { 46, 179, 124 }, { 47, 180, 124 }, { 49, 181, 123 }, { 50, 182, 122 }, { 52, 182, 121 },
  { 53, 183, 121 }, { 55, 184, 120 }, { 56, 185, 119 }, { 58, 186, 118 }, { 59, 187, 117 },
  { 61, 188, 116 }, { 63, 188, 115 }, { 64, 189, 114 }, { 66, 190, 113 }, { 68, 191, 112 },
  { 70, 192, 111 }, { 72, 193, 110 }, { 74, 193, 109 }, { 76, 194, 108 }, { 78, 195, 107 },
  { 80, 196, 106 }, { 82, 197, 105 }, { 84, 197, 104 }, { 86, 198, 103 }, { 88, 199, 101 },
  { 90, 200, 100 }, { 92, 200, 99 },  { 94, 201, 98 },  { 96, 202, 96 },  { 99, 203, 95 },
  { 101, 203, 94 }, { 103, 204, 92 }, { 105, 205, 91 }, { 108, 205, 90 }, { 110, 206, 88 },
  { 112, 207, 87 }, { 115, 208, 86 }, { 117, 208, 84 }, { 119, 209, 83 }, { 122, 209, 81 },
  { 124, 210, 80 }, { 127, 211, 78 }, { 129, 211, 77 }, { 132, 212, 75 }, { 134, 213, 73 },
  { 137, 213, 72 }, { 139, 214, 70 }, { 142, 214, 69 }, { 144, 215, 67 }, { 147, 215, 65 },
  { 149, 216, 64 }, { 152, 216, 62 }, { 155, 217, 60 }, { 157, 217, 59 }, { 160, 218, 57 },
  { 162, 218, 55 }, { 165, 219, 54 }, { 168, 219, 52 }, { 170, 220, 50 }, { 173, 220, 48 },
  { 176, 221, 47 }, { 178, 221, 45 }, { 181, 222, 43 }, { 184, 222, 41 }, { 186, 222, 40 },
  { 189, 223, 38 }, { 192, 223, 37 }, { 194, 223, 35 }, { 197, 224, 33 }, { 200, 224, 32 },
  { 202, 225, 31 }, { 205, 225, 29 }, { 208, 225, 28 }, { 210, 226, 27 }, { 213, 226, 26 },
  { 216, 226, 25 }, { 218, 227, 25 }, { 221, 227, 24 }, { 223, 227, 24 }, { 226, 228, 24 },
  { 229, 228, 25 }, { 231, 228, 25 }, { 234, 229, 26 }, { 236, 229, 27 }, { 239, 229, 28 },
  { 241, 229, 29 }, { 244, 230, 30 }, { 246, 230, 32 }, { 248, 230, 33 }, { 251, 231, 35 },
  { 253, 231, 37 },
};

/**
 * disco_colormap_get_color:
 * @map: the colour map
 * @position: where in the map, 0 (bottom) to 1 (top); clamped, NaN gives 0
 * @red: (out) (optional): the red component
 * @green: (out) (optional): the green component
 * @blue: (out) (optional): the blue component
 *
 * The 8-bit sRGB colour of @map at @position. Viridis and gray have 256
 * levels, level round(255 · @position); the diverging map is interpolated
 * linearly between its three colours and rounded.
 */
void
disco_colormap_get_color (DiscoColormap map, double position, guint8 *red, guint8 *green,
                          guint8 *blue)
{
  guint8 rgb[3];

  if (!(position > 0.0))
    position = 0.0;
  if (position > 1.0)
    position = 1.0;

  switch (map)
    {
    case DISCO_COLORMAP_VIRIDIS: memcpy (rgb, viridis[(guint) lround (position * 255.0)], 3); break;
    case DISCO_COLORMAP_DIVERGING:
      if (position < 0.5)
        {
          /* blue (0, 0, 255) → white */
          guint8 w = (guint8) lround (position * 2.0 * 255.0);
          rgb[0] = w;
          rgb[1] = w;
          rgb[2] = 255;
        }
      else
        {
          /* white → red (255, 0, 0) */
          guint8 w = (guint8) lround ((1.0 - position) * 2.0 * 255.0);
          rgb[0] = 255;
          rgb[1] = w;
          rgb[2] = w;
        }
      break;
    case DISCO_COLORMAP_GRAY:
    default: rgb[0] = rgb[1] = rgb[2] = (guint8) lround (position * 255.0); break;
    }
  if (red != NULL)
    *red = rgb[0];
  if (green != NULL)
    *green = rgb[1];
  if (blue != NULL)
    *blue = rgb[2];
}

typedef struct
{
  GByteArray *out;
  char message[256];
} PngSink;

static void
png_sink_write (png_structp png, png_bytep data, png_size_t length)
{
  PngSink *sink = png_get_io_ptr (png);

  g_byte_array_append (sink->out, data, (guint) length);
}

static void
png_sink_flush (png_structp png)
{
}

static void
png_sink_error (png_structp png, png_const_charp message)
{
  PngSink *sink = png_get_error_ptr (png);

  g_strlcpy (sink->message, message, sizeof sink->message);
  png_longjmp (png, 1);
}

static void
png_sink_warning (png_structp png, png_const_charp message)
{
  g_debug ("libpng: %s", message);
}

/* Encodes @height rows of @width pixels: @channels 1 (gray) or 3 (RGB),
 * @bit_depth 8 or 16 (16-bit samples big-endian, as PNG stores them), with
 * the optional key/value pairs of @text (NULL-terminated) as tEXt chunks. */
static GBytes *
encode_png (const guint8 *pixels, guint width, guint height, int channels, int bit_depth,
            const char *const *text, GError **error)
{
  PngSink sink = { NULL, "" };
  png_structp png;
  png_infop info;
  gsize row_bytes = (gsize) width * channels * (bit_depth / 8);

  png = png_create_write_struct (PNG_LIBPNG_VER_STRING, &sink, png_sink_error, png_sink_warning);
  if (png == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_FAILED, "could not start a PNG encoder");
      return NULL;
    }
  info = png_create_info_struct (png);
  if (info == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_FAILED, "could not start a PNG encoder");
      png_destroy_write_struct (&png, NULL);
      return NULL;
    }
  sink.out = g_byte_array_new ();
  if (setjmp (png_jmpbuf (png)))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_FAILED, "could not encode a PNG image: %s",
                   sink.message);
      png_destroy_write_struct (&png, &info);
      g_byte_array_unref (sink.out);
      return NULL;
    }
  png_set_write_fn (png, &sink, png_sink_write, png_sink_flush);
  png_set_IHDR (png, info, width, height, bit_depth,
                channels == 1 ? PNG_COLOR_TYPE_GRAY : PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  for (guint i = 0; text != NULL && text[i] != NULL && text[i + 1] != NULL; i += 2)
    {
      png_text chunk = { .compression = PNG_TEXT_COMPRESSION_NONE,
                         .key = (char *) text[i],
                         .text = (char *) text[i + 1] };
      png_set_text (png, info, &chunk, 1);
    }
  png_write_info (png, info);
  for (guint y = 0; y < height; y++)
    png_write_row (png, pixels + y * row_bytes);
  png_write_end (png, NULL);
  png_destroy_write_struct (&png, &info);
  return g_byte_array_free_to_bytes (sink.out);
}

/**
 * disco_png_encode_rgb:
 * @pixels: (array length=size) (element-type guint8): @height rows of
 *   @width RGB pixels, 3 bytes each, top row first
 * @size: bytes in @pixels: 3 × @width × @height
 * @width: image width in pixels, 1 to 1 000 000
 * @height: image height in pixels, 1 to 1 000 000
 * @error: return location for a #GError
 *
 * Encodes an 8-bit RGB image as PNG in memory.
 *
 * Returns: (transfer full) (nullable): the PNG file's bytes, or %NULL with
 *   @error set (%DISCO_ERROR_BAD_VALUE for a bad size)
 */
GBytes *
disco_png_encode_rgb (const guint8 *pixels, gsize size, guint width, guint height, GError **error)
{
  g_return_val_if_fail (pixels != NULL || size == 0, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (width < 1 || height < 1 || width > MAX_SIDE || height > MAX_SIDE)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "a PNG image of %u × %u pixels: each side must be 1 to %d", width, height,
                   MAX_SIDE);
      return NULL;
    }
  if (size != (gsize) width * height * 3)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "%" G_GSIZE_FORMAT " bytes of pixels for a %u × %u RGB image, which needs "
                   "%" G_GSIZE_FORMAT,
                   size, width, height, (gsize) width * height * 3);
      return NULL;
    }
  return encode_png (pixels, width, height, 3, 8, NULL, error);
}

/* Reads @tensor as rows × cols host values, checking shape and finiteness,
 * and resolves a NaN @vmin/@vmax from the data (±max|x| when @symmetric). */
static const float *
read_matrix (DiscoTensor *tensor, gboolean symmetric, double *vmin, double *vmax, gsize *rows,
             gsize *cols, GError **error)
{
  guint n_dims = disco_tensor_get_n_dims (tensor);
  gsize n = disco_tensor_get_n_elements (tensor);
  gboolean lo_given = !isnan (*vmin), hi_given = !isnan (*vmax);
  const float *x;
  double lo = INFINITY, hi = -INFINITY, amax = 0.0;

  if (n_dims > 2)
    {
      g_autofree char *shape = disco_tensor_shape_to_string (tensor);
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                   "an image needs a 1-D or 2-D tensor, not one of shape %s", shape);
      return NULL;
    }
  *rows = n_dims == 2 ? disco_tensor_get_dim (tensor, 0) : 1;
  *cols = disco_tensor_get_dim (tensor, n_dims - 1);
  if (isinf (*vmin) || isinf (*vmax) || (lo_given && hi_given && !(*vmin < *vmax)))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "the value range [%g, %g] of an image is empty or infinite", *vmin, *vmax);
      return NULL;
    }
  x = disco_tensor_read_host (tensor, error);
  if (x == NULL)
    return NULL;
  for (gsize i = 0; i < n; i++)
    {
      if (!isfinite (x[i]))
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                       "value %" G_GSIZE_FORMAT " of the tensor to draw is %g", i, x[i]);
          return NULL;
        }
      lo = MIN (lo, x[i]);
      hi = MAX (hi, x[i]);
      amax = MAX (amax, fabs (x[i]));
    }
  if (symmetric)
    {
      lo = -amax;
      hi = amax;
    }
  if (!lo_given)
    *vmin = lo;
  if (!hi_given)
    *vmax = hi;
  if (!(*vmin < *vmax))
    {
      /* Constant data: move the end taken from the data away by 1. */
      if (symmetric && !lo_given && !hi_given)
        {
          *vmin = -1.0;
          *vmax = 1.0;
        }
      else if (!hi_given)
        *vmax = *vmin + 1.0;
      else if (!lo_given)
        *vmin = *vmax - 1.0;
    }
  if (!(*vmin < *vmax))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "the value range [%g, %g] of an image is empty", *vmin, *vmax);
      return NULL;
    }
  return x;
}

/**
 * disco_tensor_render_png:
 * @tensor: a 2-D tensor (rows × columns) or a 1-D one (one row)
 * @map: the colour map
 * @vmin: the value drawn at the bottom of @map; NaN: the smallest value
 *   (−max|x| for %DISCO_COLORMAP_DIVERGING)
 * @vmax: the value drawn at the top of @map; NaN: the largest value
 *   (+max|x| for %DISCO_COLORMAP_DIVERGING)
 * @scale: side of the square block of pixels that shows one value, 1 to 64
 * @error: return location for a #GError
 *
 * Draws @tensor as an 8-bit RGB PNG image of (columns · @scale) ×
 * (rows · @scale) pixels: value (i, j) fills the block at row i, column j.
 * Values outside [@vmin, @vmax] get the colour of the nearer end. When
 * the range taken from the data is empty (constant data), the end taken
 * from the data moves away by 1: [x, x + 1] (diverging with both ends NaN:
 * [−1, 1], so 0 stays white).
 *
 * Returns: (transfer full) (nullable): the PNG file's bytes, or %NULL with
 *   @error set: %DISCO_ERROR_SHAPE for a tensor of more than 2 dimensions,
 *   %DISCO_ERROR_BAD_VALUE for an empty range, non-finite data or a bad
 *   @scale
 */
GBytes *
disco_tensor_render_png (DiscoTensor *tensor, DiscoColormap map, double vmin, double vmax,
                         guint scale, GError **error)
{
  const float *x;
  gsize rows, cols, width, height;
  g_autofree guint8 *pixels = NULL;
  double span;

  g_return_val_if_fail (DISCO_IS_TENSOR (tensor), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (scale < 1 || scale > 64)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "image scale %u is out of range 1 to 64", scale);
      return NULL;
    }
  x = read_matrix (tensor, map == DISCO_COLORMAP_DIVERGING, &vmin, &vmax, &rows, &cols, error);
  if (x == NULL)
    return NULL;
  width = cols * scale;
  height = rows * scale;
  if (width > MAX_SIDE || height > MAX_SIDE)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "an image of %" G_GSIZE_FORMAT " × %" G_GSIZE_FORMAT " pixels is too "
                   "large: each side may be at most %d",
                   width, height, MAX_SIDE);
      return NULL;
    }
  pixels = g_malloc (width * height * 3);
  span = vmax - vmin;
  for (gsize i = 0; i < rows; i++)
    {
      guint8 *row = pixels + i * scale * width * 3;

      for (gsize j = 0; j < cols; j++)
        {
          guint8 rgb[3];

          disco_colormap_get_color (map, (x[i * cols + j] - vmin) / span, &rgb[0], &rgb[1],
                                    &rgb[2]);
          for (guint k = 0; k < scale; k++)
            memcpy (row + (j * scale + k) * 3, rgb, 3);
        }
      for (guint k = 1; k < scale; k++)
        memcpy (row + k * width * 3, row, width * 3);
    }
  return encode_png (pixels, (guint) width, (guint) height, 3, 8, NULL, error);
}

/**
 * disco_tensor_render_png16:
 * @tensor: a 2-D tensor (rows × columns) or a 1-D one (one row)
 * @vmin: the value stored as 0; NaN: the smallest value
 * @vmax: the value stored as 65535; NaN: the largest value
 * @error: return location for a #GError
 *
 * Writes @tensor as a 16-bit grayscale PNG image, one pixel per value, for
 * analysis: value x is stored as round(65535 · (x − @vmin) / (@vmax − @vmin)),
 * clamped to [0, 65535]; x = @vmin + p · (@vmax − @vmin) reads back p =
 * pixel / 65535. The range used is stored in the tEXt chunks "disco-vmin"
 * and "disco-vmax" (shortest round-trip decimal).
 *
 * Returns: (transfer full) (nullable): the PNG file's bytes, or %NULL with
 *   @error set as by disco_tensor_render_png()
 */
GBytes *
disco_tensor_render_png16 (DiscoTensor *tensor, double vmin, double vmax, GError **error)
{
  const float *x;
  gsize rows, cols;
  g_autofree guint8 *pixels = NULL;
  double span;

  g_return_val_if_fail (DISCO_IS_TENSOR (tensor), NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  x = read_matrix (tensor, FALSE, &vmin, &vmax, &rows, &cols, error);
  if (x == NULL)
    return NULL;
  if (cols > MAX_SIDE || rows > MAX_SIDE)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "an image of %" G_GSIZE_FORMAT " × %" G_GSIZE_FORMAT " pixels is too "
                   "large: each side may be at most %d",
                   cols, rows, MAX_SIDE);
      return NULL;
    }
  pixels = g_malloc (rows * cols * 2);
  span = vmax - vmin;
  for (gsize i = 0; i < rows * cols; i++)
    {
      double p = (x[i] - vmin) / span;
      guint16 level = (guint16) lround (CLAMP (p, 0.0, 1.0) * 65535.0);

      pixels[2 * i] = level >> 8;
      pixels[2 * i + 1] = level & 0xff;
    }
  {
    /* The range travels with the image, so its values can be read back. */
    char low[G_ASCII_DTOSTR_BUF_SIZE], high[G_ASCII_DTOSTR_BUF_SIZE];
    const char *text[] = { "disco-vmin", g_ascii_dtostr (low, sizeof low, vmin), "disco-vmax",
                           g_ascii_dtostr (high, sizeof high, vmax), NULL };
    return encode_png (pixels, (guint) cols, (guint) rows, 1, 16, text, error);
  }
}
