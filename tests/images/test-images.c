/* test-images.c: PNG rendering, receptive fields and activity images
 *
 * Every image is decoded again with libpng's simplified API and checked
 * pixel by pixel where the expected value is known.
 */

#include <disco/disco.h>
#include <glib/gstdio.h>
#include <math.h>
#include <png.h>
#include <string.h>

#include "test-random-source.h"

/* ----- helpers ---------------------------------------------------------------- */

typedef struct
{
  guint width;
  guint height;
  guint32 file_format;   /* the file's own format: PNG_FORMAT_FLAG_* */
  guint8 *rgb;           /* width × height × 3 */
} Decoded;

static void
decoded_free (Decoded *d)
{
  g_free (d->rgb);
  g_free (d);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Decoded, decoded_free)

static Decoded *
decode (GBytes *png)
{
  png_image image;
  Decoded *d = g_new0 (Decoded, 1);

  memset (&image, 0, sizeof image);
  image.version = PNG_IMAGE_VERSION;
  g_assert_true (png_image_begin_read_from_memory (&image, g_bytes_get_data (png, NULL),
                                                   g_bytes_get_size (png)));
  d->width = image.width;
  d->height = image.height;
  d->file_format = image.format;
  image.format = PNG_FORMAT_RGB;
  d->rgb = g_malloc (PNG_IMAGE_SIZE (image));
  g_assert_true (png_image_finish_read (&image, NULL, d->rgb, 0, NULL));
  return d;
}

static Decoded *
decode_file (const char *path)
{
  g_autoptr (GMappedFile) file = g_mapped_file_new (path, FALSE, NULL);
  g_autoptr (GBytes) bytes = NULL;

  g_assert_nonnull (file);
  bytes = g_mapped_file_get_bytes (file);
  return decode (bytes);
}

static const guint8 *
pixel (Decoded *d, guint x, guint y)
{
  g_assert_cmpuint (x, <, d->width);
  g_assert_cmpuint (y, <, d->height);
  return d->rgb + ((gsize) y * d->width + x) * 3;
}

static void
assert_rgb (const guint8 *p, guint r, guint g, guint b)
{
  g_assert_cmpuint (p[0], ==, r);
  g_assert_cmpuint (p[1], ==, g);
  g_assert_cmpuint (p[2], ==, b);
}

static DiscoTensor *
matrix (gsize rows, gsize cols, const float *values)
{
  gsize shape[2] = { rows, cols };
  GError *error = NULL;
  DiscoTensor *t = disco_tensor_new_from_values (2, shape, values, rows * cols, &error);

  g_assert_no_error (error);
  return t;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(char * const *) a, *(char * const *) b);
}

static void
count_tick (DiscoPipeline *pipeline, DiscoTick *tick, guint64 *ticks)
{
  (*ticks)++;
}

/* Files in @dir, sorted. */
static char **
list_dir (const char *dir)
{
  g_autoptr (GDir) d = g_dir_open (dir, 0, NULL);
  GPtrArray *names = g_ptr_array_new ();
  const char *name;

  g_assert_nonnull (d);
  while ((name = g_dir_read_name (d)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  g_ptr_array_add (names, NULL);
  return (char **) g_ptr_array_free (names, FALSE);
}

/* ----- rendering ---------------------------------------------------------------- */

static void
test_gray_pixels (void)
{
  const float v[] = { 0, 1, 2, 3, 4, 5 };
  g_autoptr (DiscoTensor) t = matrix (2, 3, v);
  GError *error = NULL;
  g_autoptr (GBytes) png = disco_tensor_render_png (t, DISCO_COLORMAP_GRAY, NAN, NAN, 1, &error);
  g_autoptr (Decoded) d = NULL;

  g_test_summary ("A 2 × 3 tensor in the gray map over its own range is an RGB8 image of "
                  "3 × 2 pixels with levels round(255 · x / 5), row-major");
  g_assert_no_error (error);
  d = decode (png);
  g_assert_cmpuint (d->width, ==, 3);
  g_assert_cmpuint (d->height, ==, 2);
  g_assert_cmpuint (d->file_format, ==, PNG_FORMAT_RGB);
  for (guint i = 0; i < 6; i++)
    {
      guint level = (guint) lround (255.0 * v[i] / 5.0);
      assert_rgb (pixel (d, i % 3, i / 3), level, level, level);
    }
}

static void
test_viridis_ends (void)
{
  const float v[] = { -3, 7, 2 };
  gsize shape[1] = { 3 };
  g_autoptr (DiscoTensor) t = disco_tensor_new_from_values (1, shape, v, 3, NULL);
  GError *error = NULL;
  g_autoptr (GBytes) png = disco_tensor_render_png (t, DISCO_COLORMAP_VIRIDIS, NAN, NAN, 1,
                                                    &error);
  g_autoptr (GBytes) clamped = NULL;
  g_autoptr (Decoded) d = NULL;
  g_autoptr (Decoded) c = NULL;
  guint8 r, g, b;

  g_test_summary ("A 1-D tensor is one row; viridis's ends are matplotlib's viridis[0] and "
                  "viridis[255]; values beyond an explicit range are clamped");
  g_assert_no_error (error);
  d = decode (png);
  g_assert_cmpuint (d->width, ==, 3);
  g_assert_cmpuint (d->height, ==, 1);
  assert_rgb (pixel (d, 0, 0), 68, 1, 84);
  assert_rgb (pixel (d, 1, 0), 253, 231, 37);
  disco_colormap_get_color (DISCO_COLORMAP_VIRIDIS, 0.5, &r, &g, &b);
  /* 5/10 of the way: level round(127.5) = 128, matplotlib's (33, 145, 140). */
  assert_rgb (pixel (d, 2, 0), 33, 145, 140);
  assert_rgb ((guint8[]) { r, g, b }, 33, 145, 140);

  clamped = disco_tensor_render_png (t, DISCO_COLORMAP_VIRIDIS, 0.0, 2.0, 1, &error);
  g_assert_no_error (error);
  c = decode (clamped);
  assert_rgb (pixel (c, 0, 0), 68, 1, 84);
  assert_rgb (pixel (c, 1, 0), 253, 231, 37);
  assert_rgb (pixel (c, 2, 0), 253, 231, 37);
}

static void
test_diverging (void)
{
  const float v[] = { -2, 0, 1, 2, -0.5f };
  g_autoptr (DiscoTensor) t = matrix (1, 5, v);
  const float zeros[] = { 0, 0 };
  g_autoptr (DiscoTensor) z = matrix (1, 2, zeros);
  GError *error = NULL;
  g_autoptr (GBytes) png = disco_tensor_render_png (t, DISCO_COLORMAP_DIVERGING, NAN, NAN, 1,
                                                    &error);
  g_autoptr (GBytes) zpng = NULL;
  g_autoptr (Decoded) d = NULL;
  g_autoptr (Decoded) zd = NULL;

  g_test_summary ("The diverging map over ±max|x|: −max is blue (0, 0, 255), 0 is white, "
                  "+max is red (255, 0, 0), linear in between; all-zero data is white");
  g_assert_no_error (error);
  d = decode (png);
  assert_rgb (pixel (d, 0, 0), 0, 0, 255);
  assert_rgb (pixel (d, 1, 0), 255, 255, 255);
  assert_rgb (pixel (d, 2, 0), 255, 128, 128);   /* round(255 · 0.5) */
  assert_rgb (pixel (d, 3, 0), 255, 0, 0);
  assert_rgb (pixel (d, 4, 0), 191, 191, 255);   /* round(255 · 0.75) */

  zpng = disco_tensor_render_png (z, DISCO_COLORMAP_DIVERGING, NAN, NAN, 1, &error);
  g_assert_no_error (error);
  zd = decode (zpng);
  assert_rgb (pixel (zd, 0, 0), 255, 255, 255);
  assert_rgb (pixel (zd, 1, 0), 255, 255, 255);
}

static void
test_scale (void)
{
  const float v[] = { 0, 1, 2, 3 };
  g_autoptr (DiscoTensor) t = matrix (2, 2, v);
  GError *error = NULL;
  g_autoptr (GBytes) png = disco_tensor_render_png (t, DISCO_COLORMAP_GRAY, 0, 3, 3, &error);
  g_autoptr (Decoded) d = NULL;

  g_test_summary ("scale = 3 draws each value as a 3 × 3 block");
  g_assert_no_error (error);
  d = decode (png);
  g_assert_cmpuint (d->width, ==, 6);
  g_assert_cmpuint (d->height, ==, 6);
  for (guint y = 0; y < 6; y++)
    for (guint x = 0; x < 6; x++)
      {
        guint level = (guint) lround (255.0 * v[(y / 3) * 2 + x / 3] / 3.0);
        assert_rgb (pixel (d, x, y), level, level, level);
      }
}

/* Reads a 16-bit gray PNG with the low-level API: exact samples, no gamma. */
typedef struct
{
  const guint8 *data;
  gsize size;
  gsize offset;
} MemReader;

static void
mem_read (png_structp png, png_bytep out, png_size_t length)
{
  MemReader *r = png_get_io_ptr (png);

  g_assert_cmpuint (r->offset + length, <=, r->size);
  memcpy (out, r->data + r->offset, length);
  r->offset += length;
}

/* Decodes a 16-bit gray PNG; @vmin and @vmax, when given, get the range
 * stored in its tEXt chunks (NaN when absent). */
static guint16 *
decode16 (GBytes *bytes, guint *width, guint *height, double *vmin, double *vmax)
{
  MemReader reader = { g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), 0 };
  png_structp png = png_create_read_struct (PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
  png_infop info = png_create_info_struct (png);
  guint16 *samples;

  g_assert_nonnull (png);
  g_assert_nonnull (info);
  g_assert_true (png_sig_cmp (reader.data, 0, 8) == 0);
  png_set_read_fn (png, &reader, mem_read);
  png_read_info (png, info);
  if (vmin != NULL && vmax != NULL)
    {
      png_textp text = NULL;
      int n = png_get_text (png, info, &text, NULL);

      *vmin = *vmax = NAN;
      for (int i = 0; i < n; i++)
        {
          if (strcmp (text[i].key, "disco-vmin") == 0)
            *vmin = g_ascii_strtod (text[i].text, NULL);
          else if (strcmp (text[i].key, "disco-vmax") == 0)
            *vmax = g_ascii_strtod (text[i].text, NULL);
        }
    }
  g_assert_cmpint (png_get_color_type (png, info), ==, PNG_COLOR_TYPE_GRAY);
  g_assert_cmpint (png_get_bit_depth (png, info), ==, 16);
  *width = png_get_image_width (png, info);
  *height = png_get_image_height (png, info);
  samples = g_new (guint16, (gsize) *width * *height);
  for (guint y = 0; y < *height; y++)
    {
      g_autofree guint8 *row = g_malloc (png_get_rowbytes (png, info));

      png_read_row (png, row, NULL);
      for (guint x = 0; x < *width; x++)
        samples[y * *width + x] = (row[2 * x] << 8) | row[2 * x + 1];
    }
  png_destroy_read_struct (&png, &info, NULL);
  return samples;
}

static void
test_png16 (void)
{
  const float v[] = { 0, 1, 0.5f, -1, 2, 0.25f };
  g_autoptr (DiscoTensor) t = matrix (2, 3, v);
  GError *error = NULL;
  g_autoptr (GBytes) png = disco_tensor_render_png16 (t, 0.0, 1.0, &error);
  g_autofree guint16 *s = NULL;
  guint width, height;

  g_test_summary ("16-bit gray maps [vmin, vmax] linearly to [0, 65535], clamped");
  g_assert_no_error (error);
  s = decode16 (png, &width, &height, NULL, NULL);
  g_assert_cmpuint (width, ==, 3);
  g_assert_cmpuint (height, ==, 2);
  g_assert_cmpuint (s[0], ==, 0);
  g_assert_cmpuint (s[1], ==, 65535);
  g_assert_cmpuint (s[2], >=, 32767);
  g_assert_cmpuint (s[2], <=, 32768);
  g_assert_cmpuint (s[3], ==, 0);
  g_assert_cmpuint (s[4], ==, 65535);
  g_assert_cmpuint (s[5], ==, 16384);   /* round(16383.75) */
}

static void
test_bad_inputs (void)
{
  const float v[8] = { 0 };
  float with_nan[3] = { 0, NAN, 1 };
  gsize shape3[3] = { 2, 2, 2 }, shape4[4] = { 1, 2, 2, 2 };
  g_autoptr (DiscoTensor) t3 = disco_tensor_new_from_values (3, shape3, v, 8, NULL);
  g_autoptr (DiscoTensor) t4 = disco_tensor_new_from_values (4, shape4, v, 8, NULL);
  g_autoptr (DiscoTensor) ok = matrix (2, 4, v);
  g_autoptr (DiscoTensor) nan = matrix (1, 3, with_nan);
  GError *error = NULL;

  g_test_summary ("3-D and 4-D tensors, empty ranges, non-finite data and bad scales are "
                  "errors, not crashes");
  g_assert_null (disco_tensor_render_png (t3, DISCO_COLORMAP_GRAY, NAN, NAN, 1, &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_null (disco_tensor_render_png16 (t4, NAN, NAN, &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE);
  g_clear_error (&error);
  g_assert_null (disco_tensor_render_png (ok, DISCO_COLORMAP_VIRIDIS, 1, 1, 1, &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE);
  g_clear_error (&error);
  g_assert_null (disco_tensor_render_png16 (ok, 2, 1, &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE);
  g_clear_error (&error);
  g_assert_null (disco_tensor_render_png (ok, DISCO_COLORMAP_GRAY, 0, INFINITY, 1, &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE);
  g_clear_error (&error);
  g_assert_null (disco_tensor_render_png (nan, DISCO_COLORMAP_DIVERGING, NAN, NAN, 1, &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE);
  g_clear_error (&error);
  g_assert_null (disco_tensor_render_png (ok, DISCO_COLORMAP_GRAY, NAN, NAN, 0, &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE);
  g_clear_error (&error);
  g_assert_null (disco_png_encode_rgb ((const guint8 *) v, 5, 1, 2, &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE);
  g_clear_error (&error);
}

/* ----- receptive fields ------------------------------------------------------------ */

static const char *fields_pipeline =
  "[data]\nnode = test-random-source\nrows = 2\ncols = 16\nticks = 2\nphase = train\n"
  "[h1]\nnode = microcircuit\ninput = data\nsize = 5\n"
  "[out]\nnode = readout\ninput = h1\nsize = 3\n"
  "[settle]\nnode = integrator\nnetwork = out\n"
  "[fields]\nnode = receptive-fields\nlayer = h1\ntile-width = 4\ntile-height = 4\n"
  "units = 4\ncolumns = 2\nscale = 1\npath = fields/epoch-%04u.png\n";

static DiscoPipeline *
fields (const char * const *overrides, const char *output_dir)
{
  GError *error = NULL;
  DiscoPipeline *p = disco_pipeline_new_from_string (fields_pipeline, overrides, &error);

  g_assert_no_error (error);
  if (output_dir != NULL)
    g_object_set (p, "output-dir", output_dir, NULL);
  return p;
}

static void
test_receptive_fields_tiles (void)
{
  g_autofree char *dir = g_dir_make_tmp ("disco-images-XXXXXX", NULL);
  g_autofree char *sub = g_build_filename (dir, "fields", NULL);
  g_autoptr (DiscoPipeline) p = fields (NULL, dir);
  GError *error = NULL;
  g_auto (GStrv) files = NULL;
  g_autofree char *path = NULL;
  g_autoptr (Decoded) d = NULL;
  const float *w;
  guint written = 0;

  g_test_summary ("Each tile of the mosaic shows one unit's weights, row-major 4 × 4, in "
                  "the diverging map over ±max|w| of that unit; tiles are separated by "
                  "gray lines");
  g_assert_true (disco_pipeline_run (p, NULL, &error));
  g_assert_no_error (error);
  g_object_get (disco_pipeline_get_node (p, "fields"), "written", &written, NULL);
  g_assert_cmpuint (written, ==, 1);
  files = list_dir (sub);
  g_assert_cmpuint (g_strv_length (files), ==, 1);
  g_assert_true (g_str_has_prefix (files[0], "epoch-") && g_str_has_suffix (files[0], ".png"));
  path = g_build_filename (sub, files[0], NULL);
  d = decode_file (path);
  g_assert_cmpuint (d->width, ==, 2 * 4 + 1);
  g_assert_cmpuint (d->height, ==, 2 * 4 + 1);
  g_assert_cmpuint (d->file_format, ==, PNG_FORMAT_RGB);

  w = disco_tensor_read_host (disco_node_get_parameter (disco_pipeline_get_node (p, "h1"),
                                                        "weight"), &error);
  g_assert_no_error (error);
  for (guint u = 0; u < 4; u++)
    {
      const float *wu = w + u * 16;
      guint x0 = (u % 2) * 5, y0 = (u / 2) * 5, extreme = 0;
      double range = 0;

      for (guint k = 0; k < 16; k++)
        if (fabs (wu[k]) > range)
          {
            range = fabs (wu[k]);
            extreme = k;
          }
      /* The strongest weight is the pure end of its sign. */
      if (wu[extreme] > 0)
        assert_rgb (pixel (d, x0 + extreme % 4, y0 + extreme / 4), 255, 0, 0);
      else
        assert_rgb (pixel (d, x0 + extreme % 4, y0 + extreme / 4), 0, 0, 255);
      for (guint k = 0; k < 16; k++)
        {
          const guint8 *px = pixel (d, x0 + k % 4, y0 + k / 4);
          guint8 r, g, b;

          disco_colormap_get_color (DISCO_COLORMAP_DIVERGING, 0.5 + 0.5 * wu[k] / range,
                                    &r, &g, &b);
          assert_rgb (px, r, g, b);
          /* Sign: red has no less red than blue, blue no less blue than red. */
          if (wu[k] > 0)
            g_assert_cmpuint (px[0], >, px[2]);
          else if (wu[k] < 0)
            g_assert_cmpuint (px[2], >, px[0]);
        }
    }
  for (guint i = 0; i < 9; i++)
    {
      assert_rgb (pixel (d, 4, i), 128, 128, 128);
      assert_rgb (pixel (d, i, 4), 128, 128, 128);
    }
}

static void
test_receptive_fields_bad_paths (void)
{
  g_autofree char *dir = g_dir_make_tmp ("disco-images-XXXXXX", NULL);
  g_autofree char *file = g_build_filename (dir, "a-file", NULL);
  g_autofree char *blocked = g_build_filename (dir, "out", NULL);
  g_autofree char *fields_dir = g_build_filename (blocked, "fields", NULL);
  g_autofree char *target_dir = NULL;
  GError *error = NULL;
  g_auto (GStrv) left = NULL;

  g_test_summary ("An output folder that is a file, or a target name taken by a folder, "
                  "gives an IO error and leaves no partial file");
  g_assert_true (g_file_set_contents (file, "x", 1, NULL));
  {
    g_autoptr (DiscoPipeline) p = fields (NULL, file);

    g_assert_false (disco_pipeline_run (p, NULL, &error));
    g_assert_error (error, DISCO_ERROR, DISCO_ERROR_IO);
    g_clear_error (&error);
  }

  /* Every possible epoch file name is a folder: the rename cannot replace it. */
  g_assert_cmpint (g_mkdir_with_parents (fields_dir, 0755), ==, 0);
  for (guint e = 0; e < 3; e++)
    {
      g_autofree char *name = g_strdup_printf ("epoch-%04u.png", e);
      g_autofree char *target = g_build_filename (fields_dir, name, NULL);
      g_assert_cmpint (g_mkdir (target, 0755), ==, 0);
    }
  {
    g_autoptr (DiscoPipeline) p = fields (NULL, blocked);

    g_assert_false (disco_pipeline_run (p, NULL, &error));
    g_assert_error (error, DISCO_ERROR, DISCO_ERROR_IO);
    g_clear_error (&error);
  }
  left = list_dir (fields_dir);
  g_assert_cmpuint (g_strv_length (left), ==, 3);
  for (guint e = 0; e < 3; e++)
    {
      g_autofree char *name = g_strdup_printf ("epoch-%04u.png", e);
      g_assert_cmpstr (left[e], ==, name);
    }
}

static void
test_receptive_fields_bad_properties (void)
{
  static const struct
  {
    const char *override;
    gint code;
  } cases[] = {
    /* checks: tiles of 5 × 5 for 16 inputs */
    { "fields.tile-width=5", DISCO_ERROR_SHAPE },
    /* checks: a pattern with a string conversion */
    { "fields.path=fields/%s.png", DISCO_ERROR_BAD_VALUE },
    /* checks: a pattern without the epoch */
    { "fields.path=fields.png", DISCO_ERROR_BAD_VALUE },
    /* checks: two conversions */
    { "fields.path=%u-%u.png", DISCO_ERROR_BAD_VALUE },
  };
  g_autofree char *dir = g_dir_make_tmp ("disco-images-XXXXXX", NULL);
  g_auto (GStrv) left = NULL;

  g_test_summary ("Bad property values are errors in prepare, before any tick, and "
                  "nothing is written; a relative path needs an output folder");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *overrides[] = { cases[i].override, NULL };
      g_autoptr (DiscoPipeline) p = fields (overrides, dir);
      GError *error = NULL;
      guint64 ticks = 0;

      g_signal_connect (p, "tick", G_CALLBACK (count_tick), &ticks);
      g_assert_false (disco_pipeline_run (p, NULL, &error));
      g_assert_error (error, DISCO_ERROR, cases[i].code);
      g_test_message ("%s: %s", cases[i].override, error->message);
      g_assert_cmpuint (ticks, ==, 0);
      g_clear_error (&error);
    }
  {
    g_autoptr (DiscoPipeline) p = fields (NULL, NULL);
    GError *error = NULL;

    g_assert_false (disco_pipeline_run (p, NULL, &error));
    g_assert_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE);
    g_clear_error (&error);
  }
  left = list_dir (dir);
  g_assert_cmpuint (g_strv_length (left), ==, 0);
}

/* ----- activity images -------------------------------------------------------------- */

static const char *activity_pipeline =
  "[data]\nnode = test-random-source\nrows = 3\ncols = 20\nticks = 3\nphase = train\n"
  "classes = 3\namplitude = 2\n"
  "[h1]\nnode = microcircuit\ninput = data\nsize = 6\nfeedback = control\n"
  "[out]\nnode = readout\ninput = h1\nsize = 3\nfeedback = control\n"
  "[control]\nnode = leaky-pi\nprediction = out\ntarget = data.targets\n"
  "[settle]\nnode = integrator\nnetwork = out\nrecord-sample = 1\n"
  "[e]\nnode = activity-image\nstate = settle\nlayer = h1\nsignal = excitatory\n"
  "every = 2\nwidth = 50\nscale = 1\n"
  "[i]\nnode = activity-image\nstate = settle\nlayer = h1\nsignal = inhibitory\n"
  "every = 2\nwidth = 50\nscale = 1\n"
  "[f]\nnode = activity-image\nstate = settle\nlayer = h1\nsignal = top-down\n"
  "every = 2\nwidth = 50\nscale = 1\n";

static void
test_activity_images (void)
{
  g_autofree char *dir = g_dir_make_tmp ("disco-images-XXXXXX", NULL);
  g_autofree char *sub = g_build_filename (dir, "activity", NULL);
  GError *error = NULL;
  g_autoptr (DiscoPipeline) p = disco_pipeline_new_from_string (activity_pipeline, NULL,
                                                                &error);
  g_auto (GStrv) files = NULL;
  const char *expected[] = {
    "h1-excitatory-000000.png", "h1-excitatory-000002.png",
    "h1-inhibitory-000000.png", "h1-inhibitory-000002.png",
    "h1-top-down-000000.png", "h1-top-down-000002.png",
  };

  g_test_summary ("Activity images of the recorded sample: units × 50 columns, written on "
                  "training ticks 0 and 2 (every = 2); E and I rates start at φ(0) for every "
                  "unit and change; the top-down input is 0 (white) in the open loop and "
                  "not everywhere later");
  g_assert_no_error (error);
  g_object_set (p, "output-dir", dir, NULL);
  g_assert_true (disco_pipeline_run (p, NULL, &error));
  g_assert_no_error (error);
  files = list_dir (sub);
  g_assert_cmpuint (g_strv_length (files), ==, G_N_ELEMENTS (expected));
  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    g_assert_cmpstr (files[i], ==, expected[i]);

  for (guint i = 0; i < G_N_ELEMENTS (expected); i++)
    {
      g_autofree char *path = g_build_filename (sub, expected[i], NULL);
      g_autoptr (Decoded) d = decode_file (path);
      gboolean top_down = strstr (expected[i], "top-down") != NULL;
      gboolean changes = FALSE;

      g_assert_cmpuint (d->width, ==, 50);
      g_assert_cmpuint (d->height, ==, 6);
      g_assert_cmpuint (d->file_format, ==, PNG_FORMAT_RGB);
      for (guint y = 0; y < 6; y++)
        {
          /* The first column is the state at rest: the same for all units
           * (u = 0, c = 0). */
          g_assert_cmpmem (pixel (d, 0, y), 3, pixel (d, 0, 0), 3);
          if (top_down)
            assert_rgb (pixel (d, 0, y), 255, 255, 255);
          for (guint x = 1; x < 50; x++)
            if (memcmp (pixel (d, x, y), pixel (d, 0, y), 3) != 0)
              changes = TRUE;
        }
      g_assert_true (changes);
    }
}

static void
test_activity_16_bit (void)
{
  const char *overrides[] = { "e.bit-depth=16", NULL };
  g_autofree char *dir = g_dir_make_tmp ("disco-images-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "activity", "h1-excitatory-000000.png", NULL);
  GError *error = NULL;
  g_autoptr (DiscoPipeline) p = disco_pipeline_new_from_string (activity_pipeline, overrides,
                                                                &error);
  g_autofree char *contents = NULL;
  g_autoptr (GBytes) bytes = NULL;
  g_autofree guint16 *s = NULL;
  gsize length;
  guint width, height;
  double vmin, vmax;

  g_test_summary ("A 16-bit activity image stores one gray sample per value with its range, "
                  "so values read back exactly: at t = 0 every E rate is φ(0) = log 2");
  g_assert_no_error (error);
  g_object_set (p, "output-dir", dir, NULL);
  g_assert_true (disco_pipeline_run (p, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  bytes = g_bytes_new (contents, length);
  s = decode16 (bytes, &width, &height, &vmin, &vmax);
  g_assert_cmpuint (width, ==, 50);
  g_assert_cmpuint (height, ==, 6);
  g_assert_true (isfinite (vmin) && isfinite (vmax) && vmax > vmin);
  for (guint y = 0; y < height; y++)
    g_assert_cmpfloat_with_epsilon (vmin + s[y * width] / 65535.0 * (vmax - vmin), G_LN2,
                                    (vmax - vmin) / 65535.0 + 1e-6);
}

static void
test_activity_bad_config (void)
{
  static const struct
  {
    const char *override;
    gint code;
  } cases[] = {
    /* checks: the integrator records nothing */
    { "settle.record-sample=-1", DISCO_ERROR_BAD_VALUE },
    /* checks: no such layer */
    { "e.layer=h7", DISCO_ERROR_BAD_VALUE },
    /* checks: the readout has no rates */
    { "e.layer=out", DISCO_ERROR_BAD_VALUE },
    /* checks: a pattern without the layer and signal */
    { "e.path=%u.png", DISCO_ERROR_BAD_VALUE },
    /* checks: a bit depth that is neither 8 nor 16 */
    { "e.bit-depth=12", DISCO_ERROR_BAD_VALUE },
    /* checks: not linked to an integrator */
    { "e.state=h1", DISCO_ERROR_LINK },
  };
  g_autofree char *dir = g_dir_make_tmp ("disco-images-XXXXXX", NULL);
  g_auto (GStrv) left = NULL;

  g_test_summary ("Bad activity-image configurations are errors before any tick");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *overrides[] = { cases[i].override, NULL };
      GError *error = NULL;
      g_autoptr (DiscoPipeline) p = disco_pipeline_new_from_string (activity_pipeline,
                                                                    overrides, &error);

      g_assert_no_error (error);
      g_object_set (p, "output-dir", dir, NULL);
      g_assert_false (disco_pipeline_run (p, NULL, &error));
      g_test_message ("%s: %s", cases[i].override, error->message);
      g_assert_error (error, DISCO_ERROR, cases[i].code);
      g_clear_error (&error);
    }
  left = list_dir (dir);
  g_assert_cmpuint (g_strv_length (left), ==, 0);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);
  disco_registry_register ("test-random-source", TEST_TYPE_RANDOM_SOURCE);

  g_test_add_func ("/disco/images/gray-pixels", test_gray_pixels);
  g_test_add_func ("/disco/images/viridis-ends", test_viridis_ends);
  g_test_add_func ("/disco/images/diverging", test_diverging);
  g_test_add_func ("/disco/images/scale", test_scale);
  g_test_add_func ("/disco/images/png16", test_png16);
  g_test_add_func ("/disco/images/bad-inputs", test_bad_inputs);
  g_test_add_func ("/disco/images/receptive-fields/tiles", test_receptive_fields_tiles);
  g_test_add_func ("/disco/images/receptive-fields/bad-paths", test_receptive_fields_bad_paths);
  g_test_add_func ("/disco/images/receptive-fields/bad-properties",
                   test_receptive_fields_bad_properties);
  g_test_add_func ("/disco/images/activity/images", test_activity_images);
  g_test_add_func ("/disco/images/activity/16-bit", test_activity_16_bit);
  g_test_add_func ("/disco/images/activity/bad-config", test_activity_bad_config);
  return g_test_run ();
}
