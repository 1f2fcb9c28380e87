/* test-images.c: PNG rendering, receptive fields and activity images
 *
 * Activity figures (io/disco-plot.c, compiled in) are checked at the
 * positions their layout reports.  Every image is decoded again with libpng's simplified API and checked
 * pixel by pixel where the expected value is known.
 */

#include <disco/disco.h>
#include <glib/gstdio.h>
#include <math.h>
#include <png.h>
#include <string.h>

#include "test-random-source.h"
#include "disco-kernels.h"
#include "disco-plot.h"

/* ----- helpers ---------------------------------------------------------------- */

typedef struct
{
  guint width;
  guint height;
  guint32 file_format; /* the file's own format: PNG_FORMAT_FLAG_* */
  guint8 *rgb;         /* width × height × 3 */
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
  return g_strcmp0 (*(char *const *) a, *(char *const *) b);
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
  g_autoptr (GBytes) png = disco_tensor_render_png (t, DISCO_COLORMAP_VIRIDIS, NAN, NAN, 1, &error);
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
  assert_rgb ((guint8[]){ r, g, b }, 33, 145, 140);

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
  g_autoptr (GBytes) png =
      disco_tensor_render_png (t, DISCO_COLORMAP_DIVERGING, NAN, NAN, 1, &error);
  g_autoptr (GBytes) zpng = NULL;
  g_autoptr (Decoded) d = NULL;
  g_autoptr (Decoded) zd = NULL;

  g_test_summary ("The diverging map over ±max|x|: −max is blue (0, 0, 255), 0 is white, "
                  "+max is red (255, 0, 0), linear in between; all-zero data is white");
  g_assert_no_error (error);
  d = decode (png);
  assert_rgb (pixel (d, 0, 0), 0, 0, 255);
  assert_rgb (pixel (d, 1, 0), 255, 255, 255);
  assert_rgb (pixel (d, 2, 0), 255, 128, 128); /* round(255 · 0.5) */
  assert_rgb (pixel (d, 3, 0), 255, 0, 0);
  assert_rgb (pixel (d, 4, 0), 191, 191, 255); /* round(255 · 0.75) */

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
  g_assert_cmpuint (s[5], ==, 16384); /* round(16383.75) */
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
fields (const char *const *overrides, const char *output_dir)
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

  w = disco_tensor_read_host (
      disco_node_get_parameter (disco_pipeline_get_node (p, "h1"), "weight"), &error);
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

          disco_colormap_get_color (DISCO_COLORMAP_DIVERGING, 0.5 + 0.5 * wu[k] / range, &r, &g,
                                    &b);
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
    "every = 2\nwidth = 50\nscale = 1\nstyle = pixels\n"
    "[i]\nnode = activity-image\nstate = settle\nlayer = h1\nsignal = inhibitory\n"
    "every = 2\nwidth = 50\nscale = 1\nstyle = pixels\n"
    "[f]\nnode = activity-image\nstate = settle\nlayer = h1\nsignal = top-down\n"
    "every = 2\nwidth = 50\nscale = 1\nstyle = pixels\n";

static void
test_activity_images (void)
{
  g_autofree char *dir = g_dir_make_tmp ("disco-images-XXXXXX", NULL);
  g_autofree char *sub = g_build_filename (dir, "activity", NULL);
  GError *error = NULL;
  g_autoptr (DiscoPipeline) p = disco_pipeline_new_from_string (activity_pipeline, NULL, &error);
  g_auto (GStrv) files = NULL;
  const char *expected[] = {
    "h1-excitatory-000000.png", "h1-excitatory-000002.png", "h1-inhibitory-000000.png",
    "h1-inhibitory-000002.png", "h1-top-down-000000.png",   "h1-top-down-000002.png",
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
  g_autoptr (DiscoPipeline) p =
      disco_pipeline_new_from_string (activity_pipeline, overrides, &error);
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
    /* checks: targets of the wrong width (20 features, not 3 outputs) */
    { "e.target=data", DISCO_ERROR_SHAPE },
  };
  g_autofree char *dir = g_dir_make_tmp ("disco-images-XXXXXX", NULL);
  g_auto (GStrv) left = NULL;

  g_test_summary ("Bad activity-image configurations are errors before any tick");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      const char *overrides[] = { cases[i].override, NULL };
      GError *error = NULL;
      g_autoptr (DiscoPipeline) p =
          disco_pipeline_new_from_string (activity_pipeline, overrides, &error);

      g_assert_no_error (error);
      g_object_set (p, "output-dir", dir, NULL);
      g_assert_false (disco_pipeline_run (p, NULL, &error));
      g_test_message ("%s: %s", cases[i].override, error->message);
      g_assert_error (error, DISCO_ERROR, cases[i].code);
      if (cases[i].code == DISCO_ERROR_SHAPE)
        {
          g_assert_nonnull (strstr (error->message, "node \"e\""));
          g_assert_nonnull (strstr (error->message, "\"target\""));
        }
      g_clear_error (&error);
    }
  left = list_dir (dir);
  g_assert_cmpuint (g_strv_length (left), ==, 0);
}

/* ----- activity figures ------------------------------------------------------------- */

/* A small recording: 11 open-loop rows at 0, 1, …, 10 ms, then 20
 * closed-loop rows from 10 ms (the open-loop end) to 29 ms.  Unit j sits at
 * 0.1·(j + 1) in the open loop and moves by change[j] over the closed
 * loop, linearly in rows. */
#define FIG_OL 11
#define FIG_T 31
#define FIG_N 4
#define FIG_O 3

static const double fig_change[FIG_N] = { -0.05, 0.3, 0.0, 0.1 };

typedef struct
{
  double times[FIG_T];
  float values[FIG_T * FIG_N];
  float outputs[FIG_T * FIG_O];
  float control[FIG_T * FIG_O];
  DiscoPlotActivity activity;
} Figure;

static void
figure_init (Figure *f)
{
  memset (f, 0, sizeof *f);
  for (guint i = 0; i < FIG_T; i++)
    {
      guint k = i < FIG_OL ? 0 : i - FIG_OL + 1;

      f->times[i] = i < FIG_OL ? i * 1e-3 : (FIG_OL - 1 + (i - FIG_OL)) * 1e-3;
      for (guint j = 0; j < FIG_N; j++)
        f->values[i * FIG_N + j] = 0.1 * (j + 1) + fig_change[j] * k / (FIG_T - FIG_OL);
      for (guint o = 0; o < FIG_O; o++)
        {
          f->outputs[i * FIG_O + o] = (o + 1) * 0.2 + 0.01 * i;
          f->control[i * FIG_O + o] = i < FIG_OL ? 0.0 : 0.05 * (o + 1) * k;
        }
    }
  f->activity = (DiscoPlotActivity){
    .title = "h1: excitatory rates of sample 0 (label 2, prediction 1)",
    .subtitle = "train tick 0, epoch 1, batch 0",
    .signal_label = "rate r_E (a.u.)",
    .values = f->values,
    .n_units = FIG_N,
    .times = f->times,
    .n_times = FIG_T,
    .open_loop_rows = FIG_OL,
    .diverging = FALSE,
    .order = DISCO_PLOT_UNIT_ORDER_NONE,
    .time_axis = DISCO_PLOT_TIME_LOG,
    .outputs = f->outputs,
    .output_label = "output y",
    .output_min = NAN,
    .output_max = NAN,
    .control = f->control,
    .n_outputs = FIG_O,
    .label = 2,
    .prediction = 1,
    .target_value = 0.99,
  };
}

static Decoded *
render_figure (const DiscoPlotActivity *activity, DiscoPlotActivityLayout *layout, gsize *order)
{
  GError *error = NULL;
  g_autoptr (GBytes) png = disco_plot_render_activity (activity, 900, 700, layout, order, &error);

  g_assert_no_error (error);
  g_assert_nonnull (png);
  return decode (png);
}

static void
assert_color (const guint8 *p, DiscoColormap map, double position)
{
  guint8 r, g, b;

  disco_colormap_get_color (map, position, &r, &g, &b);
  assert_rgb (p, r, g, b);
}

/* The pixel where @area maps (x, y); a point on the right edge is in the
 * last column. */
static const guint8 *
pixel_at (Decoded *d, const DiscoPlotArea *area, double x, double y)
{
  double px, py;

  disco_plot_area_map (area, x, y, &px, &py);
  px = MIN (px, area->left + area->width - 1);
  return pixel (d, (guint) floor (px), (guint) floor (py));
}

static void
test_activity_figure_layout (void)
{
  Figure f;
  DiscoPlotActivityLayout lay;
  g_autoptr (Decoded) d = NULL;
  const DiscoPlotArea *bar;
  double v_max = 0.1 * FIG_N + 0.1, py;

  g_test_summary ("An activity figure has the asked size; the open/closed-loop marker, the "
                  "panels and the colour bar lie where the layout says: the marker between "
                  "the panels, the bar right of them; a unit's value has the colour bar's "
                  "colour at that value; axes frame the maps");
  figure_init (&f);
  d = render_figure (&f.activity, &lay, NULL);
  g_assert_cmpuint (d->width, ==, 900);
  g_assert_cmpuint (d->height, ==, 700);
  g_assert_cmpuint (lay.n_panels, ==, 2);
  /* Over both loops, the largest value is the last of unit 3: 0.4 + 0.1. */
  g_assert_cmpfloat_with_epsilon (lay.v_min, 0.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (lay.v_max, v_max, 1e-6);

  /* Marker: dark gray, between the panels, from the maps to the control. */
  g_assert_cmpfloat (lay.boundary_width, >, 0.0);
  g_assert_cmpfloat (lay.boundary_left, >, lay.heat[0].left + lay.heat[0].width);
  g_assert_cmpfloat (lay.boundary_left + lay.boundary_width, <, lay.heat[1].left);
  for (double y = lay.heat[0].top; y < lay.control[0].top + lay.control[0].height; y += 37)
    assert_rgb (pixel (d, (guint) lay.boundary_left, (guint) y), 64, 64, 64);
  /* The panels share rows: heat map, outputs, control. */
  g_assert_cmpfloat (lay.heat[0].top, ==, lay.heat[1].top);
  g_assert_cmpfloat (lay.heat[0].top + lay.heat[0].height, <, lay.outputs[0].top);
  g_assert_cmpfloat (lay.outputs[0].top + lay.outputs[0].height, <, lay.control[0].top);
  g_assert_cmpfloat (lay.control[0].top + lay.control[0].height, <, d->height);
  /* Frames: dark lines just outside each map. */
  assert_rgb (pixel (d, (guint) lay.heat[0].left - 1, (guint) lay.heat[0].top + 20), 51, 51, 51);
  assert_rgb (
      pixel (d, (guint) (lay.heat[1].left + lay.heat[1].width), (guint) lay.heat[1].top + 20), 51,
      51, 51);

  /* Colour bar: right of the closed-loop map, as tall as the maps, viridis
   * from 0 (bottom) to v_max (top). */
  bar = &lay.bar;
  g_assert_cmpfloat (bar->left, >, lay.heat[1].left + lay.heat[1].width);
  g_assert_cmpfloat (bar->left + bar->width, <, d->width);
  g_assert_cmpfloat (bar->top, ==, lay.heat[0].top);
  g_assert_cmpfloat (bar->height, ==, lay.heat[0].height);
  assert_color (pixel (d, (guint) bar->left + 4, (guint) bar->top), DISCO_COLORMAP_VIRIDIS,
                1.0 - 0.5 / bar->height);
  assert_color (pixel (d, (guint) bar->left + 4, (guint) (bar->top + bar->height - 1)),
                DISCO_COLORMAP_VIRIDIS, 0.5 / bar->height);
  /* A known value: unit 1 holds 0.2 through the open loop; its colour is
   * the bar's at 0.2 (the row whose centre is nearest 0.2). */
  assert_color (pixel_at (d, &lay.heat[0], 5e-3, 1.5), DISCO_COLORMAP_VIRIDIS, 0.2 / v_max);
  disco_plot_area_map (bar, 0.0, 0.2, NULL, &py);
  assert_color (pixel (d, (guint) bar->left + 4, (guint) floor (py)), DISCO_COLORMAP_VIRIDIS,
                (bar->top + bar->height - (floor (py) + 0.5)) / bar->height);
  {
    const guint8 *map = pixel_at (d, &lay.heat[0], 5e-3, 1.5);
    const guint8 *key = pixel (d, (guint) bar->left + 4, (guint) floor (py));

    for (guint c = 0; c < 3; c++)
      g_assert_cmpint (abs ((int) map[c] - (int) key[c]), <=, 2);
  }
}

static void
test_activity_figure_time (void)
{
  Figure f;
  DiscoPlotActivityLayout lay;
  const DiscoPlotTimeAxis axes[] = { DISCO_PLOT_TIME_LOG, DISCO_PLOT_TIME_LINEAR };

  g_test_summary ("Each loop has its own time axis from its start: a recorded row at loop "
                  "time t lands in the column the layout maps t to, on both panels, on a "
                  "log axis (from the first step, 1 ms) and on a linear one (from 0)");
  figure_init (&f);
  /* One unit whose value is its row number: every row has its colour. */
  f.activity.n_units = 1;
  for (guint i = 0; i < FIG_T; i++)
    f.values[i] = i;
  for (guint a = 0; a < G_N_ELEMENTS (axes); a++)
    {
      g_autoptr (Decoded) d = NULL;
      const guint rows[] = { 1, 3, 7, 10, FIG_OL + 1, FIG_OL + 4, FIG_OL + 12, FIG_T - 1 };

      f.activity.time_axis = axes[a];
      d = render_figure (&f.activity, &lay, NULL);
      g_assert_cmpint (lay.heat[0].log_x, ==, axes[a] == DISCO_PLOT_TIME_LOG);
      g_assert_cmpfloat_with_epsilon (lay.heat[0].x_min,
                                      axes[a] == DISCO_PLOT_TIME_LOG ? 1e-3 : 0.0, 1e-12);
      g_assert_cmpfloat_with_epsilon (lay.heat[0].x_max, 10e-3, 1e-12);
      g_assert_cmpfloat_with_epsilon (lay.heat[1].x_max, 19e-3, 1e-12);
      for (guint r = 0; r < G_N_ELEMENTS (rows); r++)
        {
          guint i = rows[r], p = i < FIG_OL ? 0 : 1;
          double t = f.times[i] - f.times[p == 0 ? 0 : FIG_OL];

          g_test_message ("axis %u, row %u at %g s", a, i, t);
          assert_color (pixel_at (d, &lay.heat[p], t, 0.5), DISCO_COLORMAP_VIRIDIS,
                        (double) i / (FIG_T - 1));
        }
      /* The closed loop's first row (its loop time 0, the open loop's end)
       * has a column on the linear axis only. */
      if (axes[a] == DISCO_PLOT_TIME_LINEAR)
        assert_color (pixel (d, (guint) lay.heat[1].left, (guint) lay.heat[1].top + 5),
                      DISCO_COLORMAP_VIRIDIS, (double) FIG_OL / (FIG_T - 1));
    }
}

static void
test_activity_figure_sort (void)
{
  Figure f;
  DiscoPlotActivityLayout lay;
  gsize order[FIG_N];
  const gsize sorted[FIG_N] = { 1, 3, 2, 0 };

  g_test_summary ("Rows in unit order, or sorted by the change over the closed loop, "
                  "largest increase at the top; with closed-loop changes the closed-loop map "
                  "shows each unit's change (diverging) on its own bar");
  figure_init (&f);
  {
    g_autoptr (Decoded) d = render_figure (&f.activity, &lay, order);

    for (gsize j = 0; j < FIG_N; j++)
      g_assert_cmpuint (order[j], ==, j);
    /* Row 2 from the top in the open loop is unit 2: 0.3. */
    assert_color (pixel_at (d, &lay.heat[0], 5e-3, 2.5), DISCO_COLORMAP_VIRIDIS, 0.3 / lay.v_max);
  }
  f.activity.order = DISCO_PLOT_UNIT_ORDER_CLOSED_LOOP_CHANGE;
  f.activity.closed_loop_change = TRUE;
  f.activity.change_label = "change of r_E (a.u.)";
  {
    g_autoptr (Decoded) d = render_figure (&f.activity, &lay, order);
    double last = f.times[FIG_T - 1] - f.times[FIG_OL];

    for (gsize j = 0; j < FIG_N; j++)
      g_assert_cmpuint (order[j], ==, sorted[j]);
    g_assert_cmpfloat_with_epsilon (lay.change_max, 0.3, 1e-6);
    g_assert_cmpfloat_with_epsilon (lay.change_min, -0.3, 1e-6);
    /* The open-loop range is the open loop's alone: 0 to 0.4. */
    g_assert_cmpfloat_with_epsilon (lay.v_max, 0.4, 1e-6);
    /* Open loop, sorted: the top row is unit 1 (0.2), the bottom unit 0. */
    assert_color (pixel_at (d, &lay.heat[0], 5e-3, 0.5), DISCO_COLORMAP_VIRIDIS, 0.2 / 0.4);
    assert_color (pixel_at (d, &lay.heat[0], 5e-3, 3.5), DISCO_COLORMAP_VIRIDIS, 0.1 / 0.4);
    /* Closed loop, at its end: unit 1 changed by +0.3 (red), unit 0 by −0.05. */
    assert_color (pixel (d, (guint) (lay.heat[1].left + lay.heat[1].width - 1),
                         (guint) (lay.heat[1].top + 2)),
                  DISCO_COLORMAP_DIVERGING, 1.0);
    assert_color (pixel_at (d, &lay.heat[1], last * 0.999, 3.5), DISCO_COLORMAP_DIVERGING,
                  (-0.05 + 0.3) / 0.6);
    /* The change bar is right of the closed-loop map, the rate bar between
     * the panels, left of the marker. */
    g_assert_cmpfloat (lay.change_bar.left, >, lay.heat[1].left + lay.heat[1].width);
    g_assert_cmpfloat (lay.bar.left, >, lay.heat[0].left + lay.heat[0].width);
    g_assert_cmpfloat (lay.bar.left + lay.bar.width, <, lay.boundary_left);
    assert_color (pixel (d, (guint) lay.change_bar.left + 4, (guint) lay.change_bar.top),
                  DISCO_COLORMAP_DIVERGING, 1.0 - 0.5 / lay.change_bar.height);
  }
}

static void
test_activity_figure_open_loop_only (void)
{
  Figure f;
  DiscoPlotActivityLayout lay;
  g_autoptr (Decoded) d = NULL;

  g_test_summary ("A recording without a closed loop gets one panel over the width and no "
                  "marker");
  figure_init (&f);
  f.activity.n_times = FIG_OL;
  f.activity.closed_loop_change = TRUE;
  d = render_figure (&f.activity, &lay, NULL);
  g_assert_cmpuint (lay.n_panels, ==, 1);
  g_assert_cmpfloat (lay.boundary_width, ==, 0.0);
  g_assert_cmpfloat (lay.heat[0].width, >, 0.6 * d->width);
}

static void
test_activity_figure_bad_inputs (void)
{
  static const struct
  {
    const char *what;
    gsize open_loop_rows;
    gsize n_times;
    gint label;
    gboolean reverse_time;
    gboolean no_values;
  } cases[] = {
    /* checks: no open-loop row */
    { "open-loop rows 0", 0, FIG_T, 2, FALSE, FALSE },
    /* checks: more open-loop rows than rows (a recording of mismatched length) */
    { "open-loop rows > rows", FIG_T + 1, FIG_T, 2, FALSE, FALSE },
    /* checks: time running backwards */
    { "times decrease", FIG_OL, FIG_T, 2, TRUE, FALSE },
    /* checks: a label beyond the outputs (targets of mismatched width) */
    { "label 3 of 3 outputs", FIG_OL, FIG_T, 3, FALSE, FALSE },
    /* checks: no rows */
    { "no rows", FIG_OL, 0, 2, FALSE, FALSE },
    /* checks: no values */
    { "no values", FIG_OL, FIG_T, 2, FALSE, TRUE },
  };

  g_test_summary ("Inconsistent figure data is a GError (BAD_VALUE), never a critical");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      Figure f;
      GError *error = NULL;
      g_autoptr (GBytes) png = NULL;

      figure_init (&f);
      f.activity.open_loop_rows = cases[i].open_loop_rows;
      f.activity.n_times = cases[i].n_times;
      f.activity.label = cases[i].label;
      if (cases[i].reverse_time)
        f.times[5] = f.times[4] - 1e-3;
      if (cases[i].no_values)
        f.activity.values = NULL;
      png = disco_plot_render_activity (&f.activity, 900, 700, NULL, NULL, &error);
      g_test_message ("%s: %s", cases[i].what, error ? error->message : "(no error)");
      g_assert_null (png);
      g_assert_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE);
      g_clear_error (&error);
    }
}

static void
test_activity_figure_pipeline (void)
{
  const char *overrides[] = { "e.style=figure", "e.target=data.targets", "f.style=figure",
                              "f.target=data.targets", NULL };
  g_autofree char *dir = g_dir_make_tmp ("disco-images-XXXXXX", NULL);
  GError *error = NULL;
  g_autoptr (DiscoPipeline) p =
      disco_pipeline_new_from_string (activity_pipeline, overrides, &error);
  const char *names[] = { "h1-excitatory-000000.png", "h1-top-down-000002.png" };

  g_test_summary ("In a pipeline, style = figure writes figures of figure-width × "
                  "figure-height on the same ticks, with the label from the targets");
  g_assert_no_error (error);
  g_object_set (p, "output-dir", dir, NULL);
  g_assert_true (disco_pipeline_run (p, NULL, &error));
  g_assert_no_error (error);
  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    {
      g_autofree char *path = g_build_filename (dir, "activity", names[i], NULL);
      g_autoptr (Decoded) d = decode_file (path);

      g_assert_cmpuint (d->width, ==, 1200);
      g_assert_cmpuint (d->height, ==, 900);
      /* White background in the top left corner. */
      assert_rgb (pixel (d, 2, 2), 255, 255, 255);
    }
}

/* The recorded row nearest in time to @t (the pixels style's rule). */
static gsize
nearest (const float *times, gsize T, double t)
{
  gsize best = 0;

  for (gsize i = 1; i < T; i++)
    if (fabs (times[i] - t) < fabs (times[best] - t))
      best = i;
  return best;
}

static void
test_activity_pixels_unchanged (void)
{
  g_autofree char *dir = g_dir_make_tmp ("disco-images-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "activity", "h1-excitatory-000002.png", NULL);
  GError *error = NULL;
  g_autoptr (DiscoPipeline) p = disco_pipeline_new_from_string (activity_pipeline, NULL, &error);
  g_autoptr (DiscoTensor) image = NULL;
  g_autoptr (GBytes) expected = NULL;
  g_autofree char *contents = NULL;
  DiscoNode *settle;
  DiscoTensor *traj, *times;
  const float *y, *t;
  gsize T, row, shape[2] = { 6, 50 }, length;
  float *pixels;

  g_test_summary ("style = pixels writes, byte for byte, what the activity image always "
                  "wrote: 50 columns at evenly spaced times, each the nearest recorded row, "
                  "φ_E(u_E) per unit, viridis from 0, scale 1 (checked on the last tick, "
                  "whose trajectory the integrator still holds)");
  g_assert_no_error (error);
  g_object_set (p, "output-dir", dir, NULL);
  g_assert_true (disco_pipeline_run (p, NULL, &error));
  g_assert_no_error (error);
  settle = disco_pipeline_get_node (p, "settle");
  traj = disco_node_get_output (settle, "trajectory");
  times = disco_node_get_output (settle, "trajectory-times");
  T = disco_tensor_get_dim (traj, 0);
  row = disco_tensor_get_dim (traj, 1);
  y = disco_tensor_read_host (traj, &error);
  g_assert_no_error (error);
  t = disco_tensor_read_host (times, &error);
  g_assert_no_error (error);
  image = disco_tensor_new (2, shape);
  pixels = disco_tensor_write_host (image, &error);
  g_assert_no_error (error);
  for (guint col = 0; col < 50; col++)
    {
      double tc = t[0] + (t[T - 1] - t[0]) * col / 49.0;
      const float *state = y + nearest (t, T, tc) * row;

      for (guint j = 0; j < 6; j++) /* h1 is the first layer: u_E at 0…5 */
        pixels[j * 50 + col] = disco_softrect_forward (&DISCO_SOFT_RECTIFIER_SOFTPLUS, state[j]);
    }
  expected = disco_tensor_render_png (image, DISCO_COLORMAP_VIRIDIS, 0.0, NAN, 1, &error);
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  g_assert_cmpmem (contents, length, g_bytes_get_data (expected, NULL),
                   g_bytes_get_size (expected));
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
  g_test_add_func ("/disco/images/activity/pixels-unchanged", test_activity_pixels_unchanged);
  g_test_add_func ("/disco/images/activity/figure/layout", test_activity_figure_layout);
  g_test_add_func ("/disco/images/activity/figure/time", test_activity_figure_time);
  g_test_add_func ("/disco/images/activity/figure/sort", test_activity_figure_sort);
  g_test_add_func ("/disco/images/activity/figure/open-loop-only",
                   test_activity_figure_open_loop_only);
  g_test_add_func ("/disco/images/activity/figure/bad-inputs", test_activity_figure_bad_inputs);
  g_test_add_func ("/disco/images/activity/figure/pipeline", test_activity_figure_pipeline);
  return g_test_run ();
}
