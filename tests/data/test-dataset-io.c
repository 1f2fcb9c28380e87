/* test-dataset-io.c: tests of io/disco-dataset-io.c
 *
 * Three groups:
 *  - the full datasets (data/install-datasets.sh puts them in $DISCO_DATA_DIR):
 *    sizes, first labels, class counts and mean pixels from /work/shared/DATA.md;
 *  - the fixtures ($DISCO_FIXTURES_DIR, made by data/make-fixtures.sh), which
 *    must equal the first records of the full sets, and the helpers
 *    (permutation, minibatch gathering) on them;
 *  - tables of broken files, one test per row, each checking the error code,
 *    what the message says is wrong, and that it begins with the broken
 *    file's path.
 *
 * A missing dataset directory is a failure, not a skip: the datasets are part
 * of the build's setup, and a silent skip would hide that they never ran.
 */
#include "disco-dataset-io.h"

#include <gio/gio.h>
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#define MNIST_SIDE 28
#define MNIST_FEATURES (MNIST_SIDE * MNIST_SIDE)
#define FIXTURE_RECORDS 20
#define DIGITS_FIXTURE_LINES 30

/* DATA.md states the mean pixels to four decimals. */
#define MEAN_PIXEL_TOLERANCE 1e-4

/* Full datasets are loaded once and shared by the tests that need them. */
static DiscoDataset *mnist_train;
static DiscoDataset *mnist_test;

/* ---- helpers --------------------------------------------------------- */

/* The source tree's data folders, unless the environment names others. */
#define DEFAULT_DATA_DIR SOURCE_ROOT "/data/datasets"
#define DEFAULT_FIXTURES_DIR SOURCE_ROOT "/data/fixtures"

/* Returns $DISCO_DATA_DIR/<set>, or NULL after failing the test with a hint. */
static char *
dataset_dir (const char *set)
{
  const char *root = g_getenv ("DISCO_DATA_DIR") ? g_getenv ("DISCO_DATA_DIR") : DEFAULT_DATA_DIR;
  char *dir;

  dir = g_build_filename (root, set, NULL);
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_test_fail_printf ("dataset folder %s is missing: run "
                          "data/install-datasets.sh to install the datasets",
                          dir);
      g_free (dir);
      return NULL;
    }
  return dir;
}

/* Returns $DISCO_FIXTURES_DIR/<parts...>, or NULL after failing the test. */
static char *
fixture_path (const char *first_part, ...)
{
  const char *root =
      g_getenv ("DISCO_FIXTURES_DIR") ? g_getenv ("DISCO_FIXTURES_DIR") : DEFAULT_FIXTURES_DIR;
  g_autofree char *tail = NULL;
  va_list parts;

  if (!g_file_test (root, G_FILE_TEST_IS_DIR))
    {
      g_test_fail_printf ("the fixtures folder %s is missing (set DISCO_FIXTURES_DIR)", root);
      return NULL;
    }
  va_start (parts, first_part);
  tail = g_build_filename_valist (first_part, &parts);
  va_end (parts);
  return g_build_filename (root, tail, NULL);
}

static const DiscoDataset *
get_mnist (gboolean train)
{
  DiscoDataset **cache = train ? &mnist_train : &mnist_test;
  g_autofree char *dir = NULL;
  g_autoptr (GError) error = NULL;

  if (*cache != NULL)
    return *cache;
  dir = dataset_dir ("mnist");
  if (dir == NULL)
    return NULL;
  *cache = disco_dataset_load_idx_dir (dir, train ? "train" : "t10k", &error);
  g_assert_no_error (error);
  g_assert_nonnull (*cache);
  return *cache;
}

static double
mean_pixel (const DiscoDataset *dataset)
{
  gsize n = (gsize) dataset->n_samples * dataset->n_features;
  double sum = 0.0;
  gsize i;

  for (i = 0; i < n; i++)
    sum += disco_dataset_pixel (dataset, i);
  return sum / (double) n;
}

static void
assert_pixels_in_unit_range (const DiscoDataset *dataset)
{
  gsize n = (gsize) dataset->n_samples * dataset->n_features;
  float lowest = 1.0f, highest = 0.0f;
  gsize i;

  for (i = 0; i < n; i++)
    {
      lowest = MIN (lowest, disco_dataset_pixel (dataset, i));
      highest = MAX (highest, disco_dataset_pixel (dataset, i));
    }
  g_assert_cmpfloat (lowest, ==, 0.0f);
  g_assert_cmpfloat (highest, ==, 1.0f);
}

static void
assert_labels_begin (const DiscoDataset *dataset, const guint8 *expected, gsize n_expected)
{
  g_assert_cmpuint (dataset->n_samples, >=, n_expected);
  g_assert_cmpmem (dataset->labels, n_expected, expected, n_expected);
}

static void
assert_class_counts (const DiscoDataset *dataset, const guint *expected)
{
  g_autofree guint *counts = disco_dataset_class_counts (dataset);
  guint c;

  g_assert_cmpuint (dataset->n_classes, ==, DISCO_DATASET_N_CLASSES);
  for (c = 0; c < dataset->n_classes; c++)
    g_assert_cmpuint (counts[c], ==, expected[c]);
}

/* @small must be the first @small->n_samples records of @full. */
static void
assert_prefix_of (const DiscoDataset *small, const DiscoDataset *full)
{
  g_assert_cmpuint (small->n_samples, <=, full->n_samples);
  g_assert_cmpuint (small->rows, ==, full->rows);
  g_assert_cmpuint (small->cols, ==, full->cols);
  g_assert_cmpuint (small->n_features, ==, full->n_features);
  g_assert_cmpuint (small->n_classes, ==, full->n_classes);
  g_assert_cmpmem (small->labels, small->n_samples, full->labels, small->n_samples);
  {
    const gsize n = (gsize) small->n_samples * small->n_features;
    g_autofree float *a = g_new (float, n);
    g_autofree float *b = g_new (float, n);

    disco_dataset_copy_images (small, 0, small->n_samples, a);
    disco_dataset_copy_images (full, 0, small->n_samples, b);
    g_assert_cmpmem (a, n * sizeof (float), b, n * sizeof (float));
  }
}

static void
test_copy_images_levels (void)
{
  const guint n_samples = 3, n_features = 256 + 7;
  g_autoptr (GRand) rand = g_rand_new_with_seed (3);
  DiscoDataset *dataset = g_new0 (DiscoDataset, 1);
  g_autofree float *out = g_new (float, n_samples *n_features);
  const guint order[] = { 2, 0, 1 };

  g_test_summary ("copy_images and gather_batch give each byte's level bit for bit: IDX's b / "
                  "255 (the vectorised division) for all 256 bytes, and a loader's own levels "
                  "otherwise");
  dataset->n_samples = n_samples;
  dataset->rows = 1;
  dataset->cols = dataset->n_features = n_features;
  dataset->n_classes = 10;
  dataset->pixels = g_new (guint8, n_samples * n_features);
  dataset->labels = g_new0 (guint8, n_samples);
  for (guint i = 0; i < n_samples * n_features; i++)
    dataset->pixels[i] = (guint8) (i < 256 ? i : (guint) g_rand_int_range (rand, 0, 256));
  for (guint b = 0; b < 256; b++)
    dataset->levels[b] = (float) b / 255.0f;
  for (int own = 0; own <= 1; own++)
    {
      if (own)
        for (guint b = 0; b < 256; b++)
          dataset->levels[b] = 1.0f - (float) b / 300.0f;
      disco_dataset_copy_images (dataset, 1, 2, out);
      for (guint i = 0; i < 2 * n_features; i++)
        g_assert_true (out[i] == dataset->levels[dataset->pixels[n_features + i]]);
      disco_dataset_copy_images (dataset, 0, 1, out);
      for (guint i = 0; i < n_features; i++)
        g_assert_true (out[i] == dataset->levels[dataset->pixels[i]]);
      /* A minibatch in another order, through the same conversion. */
      disco_dataset_gather_batch (dataset, order, 3, 1.0f, out, NULL);
      for (guint b = 0; b < 3; b++)
        for (guint i = 0; i < n_features; i++)
          g_assert_true (out[b * n_features + i]
                         == dataset->levels[dataset->pixels[order[b] * n_features + i]]);
    }
  disco_dataset_free (dataset);
}

static GBytes *
gzip_bytes (const guint8 *data, gsize size)
{
  g_autoptr (GZlibCompressor) deflater = g_zlib_compressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP, 9);
  g_autoptr (GOutputStream) memory = g_memory_output_stream_new_resizable ();
  g_autoptr (GOutputStream) stream = g_converter_output_stream_new (memory, G_CONVERTER (deflater));
  g_autoptr (GError) error = NULL;

  g_output_stream_write_all (stream, data, size, NULL, NULL, &error);
  g_assert_no_error (error);
  g_output_stream_close (stream, NULL, &error);
  g_assert_no_error (error);
  return g_memory_output_stream_steal_as_bytes (G_MEMORY_OUTPUT_STREAM (memory));
}

static void
put_be32 (guint8 *bytes, guint32 value)
{
  bytes[0] = value >> 24;
  bytes[1] = value >> 16;
  bytes[2] = value >> 8;
  bytes[3] = value;
}

/* ---- full datasets ---------------------------------------------------- */

static void
test_mnist_train (void)
{
  static const guint8 first_labels[] = { 5, 0, 4, 1, 9, 2, 1, 3, 1, 4 };
  static const guint class_counts[] = {
    5923, 6742, 5958, 6131, 5842, 5421, 5918, 6265, 5851, 5949
  };
  g_autofree char *dir = NULL;
  g_autoptr (DiscoDataset) timed = NULL;
  g_autoptr (GError) error = NULL;
  const DiscoDataset *dataset;
  double seconds;

  g_test_summary ("Full MNIST train: 60000 28x28 images, first labels, class "
                  "counts and mean pixel as in DATA.md; reports the load time");

  dir = dataset_dir ("mnist");
  if (dir == NULL)
    return;

  /* Timed here, before anything else loads it, then kept for the other tests. */
  g_test_timer_start ();
  timed = disco_dataset_load_idx_dir (dir, "train", &error);
  seconds = g_test_timer_elapsed ();
  g_assert_no_error (error);
  g_test_message ("loading MNIST train (47 MB raw IDX) took %.3f s", seconds);
  g_test_minimized_result (seconds, "MNIST train load: %.3f s", seconds);

  if (mnist_train == NULL)
    mnist_train = g_steal_pointer (&timed);
  dataset = get_mnist (TRUE);
  g_assert_cmpuint (dataset->n_samples, ==, 60000);
  g_assert_cmpuint (dataset->rows, ==, MNIST_SIDE);
  g_assert_cmpuint (dataset->cols, ==, MNIST_SIDE);
  g_assert_cmpuint (dataset->n_features, ==, MNIST_FEATURES);
  g_assert_cmpuint (dataset->n_classes, ==, 10);
  g_assert_true (g_str_has_suffix (dataset->source, "train-images-idx3-ubyte"));
  assert_labels_begin (dataset, first_labels, G_N_ELEMENTS (first_labels));
  assert_class_counts (dataset, class_counts);
  g_assert_cmpfloat_with_epsilon (mean_pixel (dataset), 0.1307, MEAN_PIXEL_TOLERANCE);
  assert_pixels_in_unit_range (dataset);
}

static void
test_mnist_test (void)
{
  static const guint8 first_labels[] = { 7, 2, 1, 0, 4 };
  const DiscoDataset *dataset;

  g_test_summary ("Full MNIST test split: 10000 28x28 images, first labels 7,2,1,0,4");

  dataset = get_mnist (FALSE);
  if (dataset == NULL)
    return;
  g_assert_cmpuint (dataset->n_samples, ==, 10000);
  g_assert_cmpuint (dataset->rows, ==, MNIST_SIDE);
  g_assert_cmpuint (dataset->cols, ==, MNIST_SIDE);
  assert_labels_begin (dataset, first_labels, G_N_ELEMENTS (first_labels));
  assert_pixels_in_unit_range (dataset);
}

static void
test_fashion_train (void)
{
  static const guint8 first_labels[] = { 9, 0, 0, 3, 0, 2, 7, 2, 5, 5 };
  static const guint class_counts[] = {
    6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000, 6000
  };
  g_autofree char *dir = NULL;
  g_autoptr (DiscoDataset) dataset = NULL;
  g_autoptr (GError) error = NULL;
  double seconds;

  g_test_summary ("Full Fashion-MNIST train, read through the gzip decompressor: "
                  "shape, first labels, 6000 per class, mean pixel 0.2860");

  dir = dataset_dir ("fashion-mnist");
  if (dir == NULL)
    return;
  g_test_timer_start ();
  dataset = disco_dataset_load_idx_dir (dir, "train", &error);
  seconds = g_test_timer_elapsed ();
  g_assert_no_error (error);
  g_test_message ("loading Fashion-MNIST train (26 MB gzipped IDX) took %.3f s", seconds);

  g_assert_cmpuint (dataset->n_samples, ==, 60000);
  g_assert_cmpuint (dataset->rows, ==, MNIST_SIDE);
  g_assert_cmpuint (dataset->cols, ==, MNIST_SIDE);
  g_assert_true (g_str_has_suffix (dataset->source, "train-images-idx3-ubyte.gz"));
  assert_labels_begin (dataset, first_labels, G_N_ELEMENTS (first_labels));
  assert_class_counts (dataset, class_counts);
  g_assert_cmpfloat_with_epsilon (mean_pixel (dataset), 0.2860, MEAN_PIXEL_TOLERANCE);
  assert_pixels_in_unit_range (dataset);
}

static void
test_fashion_test (void)
{
  /* Measured from the installed files (md5-checked against DATA.md). */
  static const guint8 first_labels[] = { 9, 2, 1, 1, 6, 1, 4, 6, 5, 7 };
  static const guint class_counts[] = {
    1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000, 1000
  };
  g_autofree char *dir = NULL;
  g_autoptr (DiscoDataset) dataset = NULL;
  g_autoptr (GError) error = NULL;

  g_test_summary ("Full Fashion-MNIST test split: 10000 images, 1000 per class");

  dir = dataset_dir ("fashion-mnist");
  if (dir == NULL)
    return;
  dataset = disco_dataset_load_idx_dir (dir, "t10k", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (dataset->n_samples, ==, 10000);
  assert_labels_begin (dataset, first_labels, G_N_ELEMENTS (first_labels));
  assert_class_counts (dataset, class_counts);
}

static void
test_digits_full (void)
{
  /* Counted in scikit-learn's digits.csv.gz (python3-sklearn 1.2.1). */
  static const guint class_counts[] = { 178, 182, 177, 183, 181, 182, 181, 179, 174, 180 };
  static const guint8 first_labels[] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9 };
  /* First row of the file: 0,0,5,13,9,1,0,0,... */
  static const float first_pixels[] = { 0, 0, 5 / 16.f, 13 / 16.f, 9 / 16.f, 1 / 16.f, 0, 0 };
  g_autofree char *dir = NULL;
  g_autofree char *path = NULL;
  g_autoptr (DiscoDataset) dataset = NULL;
  g_autoptr (GError) error = NULL;

  g_test_summary ("Full 8x8 digits CSV: 1797 samples, 8x8, per-class counts, "
                  "pixels divided by 16");

  dir = dataset_dir ("digits");
  if (dir == NULL)
    return;
  path = g_build_filename (dir, "digits.csv.gz", NULL);
  dataset = disco_dataset_load_digits_csv (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (dataset->n_samples, ==, 1797);
  g_assert_cmpuint (dataset->rows, ==, 8);
  g_assert_cmpuint (dataset->cols, ==, 8);
  g_assert_cmpuint (dataset->n_features, ==, 64);
  g_assert_cmpstr (dataset->source, ==, path);
  assert_labels_begin (dataset, first_labels, G_N_ELEMENTS (first_labels));
  assert_class_counts (dataset, class_counts);
  g_assert_cmpmem (dataset->images, sizeof first_pixels, first_pixels, sizeof first_pixels);
  assert_pixels_in_unit_range (dataset);
}

/* ---- fixtures ---------------------------------------------------------- */

static void
test_fixtures_idx (gconstpointer data)
{
  const char *folder = data;
  g_autofree char *dir = fixture_path (folder, NULL);
  guint train;

  g_test_summary ("The IDX fixtures (raw and gzipped) hold the first 20 records "
                  "of MNIST train and test, header counts patched to 20");

  if (dir == NULL)
    return;
  for (train = 0; train <= 1; train++)
    {
      g_autoptr (DiscoDataset) fixture = NULL;
      g_autoptr (GError) error = NULL;
      const DiscoDataset *full;

      fixture = disco_dataset_load_idx_dir (dir, train ? "train" : "t10k", &error);
      g_assert_no_error (error);
      g_assert_cmpuint (fixture->n_samples, ==, FIXTURE_RECORDS);
      full = get_mnist (train);
      if (full == NULL)
        return;
      assert_prefix_of (fixture, full);
    }
}

static void
test_fixtures_digits (void)
{
  g_autofree char *fixture_file = fixture_path ("digits", "digits.csv.gz", NULL);
  g_autofree char *full_dir = NULL;
  g_autofree char *full_file = NULL;
  g_autoptr (DiscoDataset) fixture = NULL;
  g_autoptr (DiscoDataset) full = NULL;
  g_autoptr (GError) error = NULL;

  g_test_summary ("The digits fixture holds the first 30 lines of digits.csv.gz");

  if (fixture_file == NULL)
    return;
  fixture = disco_dataset_load_digits_csv (fixture_file, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (fixture->n_samples, ==, DIGITS_FIXTURE_LINES);

  full_dir = dataset_dir ("digits");
  if (full_dir == NULL)
    return;
  full_file = g_build_filename (full_dir, "digits.csv.gz", NULL);
  full = disco_dataset_load_digits_csv (full_file, &error);
  g_assert_no_error (error);
  assert_prefix_of (fixture, full);
}

static void
test_plain_csv (void)
{
  g_autofree char *tmp_dir = NULL;
  g_autofree char *path = NULL;
  g_autoptr (GString) csv = g_string_new (NULL);
  g_autoptr (DiscoDataset) dataset = NULL;
  g_autoptr (GError) error = NULL;
  guint i;

  g_test_summary ("An uncompressed CSV with CRLF line ends and blank lines loads too");

  for (i = 0; i < 64; i++)
    g_string_append_printf (csv, "%u,", i % 17);
  g_string_append (csv, "7\r\n\r\n");
  for (i = 0; i < 64; i++)
    g_string_append (csv, "16.0,");
  g_string_append (csv, "3\r\n");

  tmp_dir = g_dir_make_tmp ("disco-dataset-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (tmp_dir, "plain.csv", NULL);
  g_file_set_contents (path, csv->str, csv->len, &error);
  g_assert_no_error (error);

  dataset = disco_dataset_load_digits_csv (path, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (dataset->n_samples, ==, 2);
  g_assert_cmpuint (dataset->labels[0], ==, 7);
  g_assert_cmpuint (dataset->labels[1], ==, 3);
  g_assert_cmpfloat (dataset->images[16], ==, 16 / 16.0f);
  g_assert_cmpfloat (dataset->images[20], ==, 3 / 16.0f);
  g_assert_cmpfloat (dataset->images[64 + 63], ==, 1.0f);

  g_assert_cmpint (g_remove (path), ==, 0);
  g_assert_cmpint (g_rmdir (tmp_dir), ==, 0);
}

/* ---- helpers for the loader node --------------------------------------- */

static void
test_class_counts (void)
{
  /* Labels of the first 20 MNIST training samples, as make-fixtures cut them:
   * 5 0 4 1 9 2 1 3 1 4 3 5 3 6 1 7 2 8 6 9. */
  static const guint expected[] = { 1, 4, 2, 3, 2, 2, 2, 1, 1, 2 };
  g_autofree char *dir = fixture_path ("mnist", NULL);
  g_autoptr (DiscoDataset) dataset = NULL;
  g_autoptr (GError) error = NULL;

  g_test_summary ("disco_dataset_class_counts counts the labels of each class");

  if (dir == NULL)
    return;
  dataset = disco_dataset_load_idx_dir (dir, "train", &error);
  g_assert_no_error (error);
  assert_class_counts (dataset, expected);
}

static gboolean
is_permutation (const guint *values, guint n)
{
  g_autofree gboolean *seen = g_new0 (gboolean, MAX (n, 1));
  guint i;

  for (i = 0; i < n; i++)
    {
      if (values[i] >= n || seen[values[i]])
        return FALSE;
      seen[values[i]] = TRUE;
    }
  return TRUE;
}

static void
test_permutation (void)
{
  const guint n = 1000;
  g_autoptr (GRand) rand_a = g_rand_new_with_seed (42);
  g_autoptr (GRand) rand_b = g_rand_new_with_seed (42);
  g_autoptr (GRand) rand_c = g_rand_new_with_seed (43);
  g_autofree guint *a = disco_permutation_new (n, rand_a);
  g_autofree guint *b = disco_permutation_new (n, rand_b);
  g_autofree guint *c = disco_permutation_new (n, rand_c);
  g_autofree guint *empty = disco_permutation_new (0, rand_c);
  g_autofree guint *single = disco_permutation_new (1, rand_c);
  g_autofree guint *next_epoch = g_memdup2 (a, n * sizeof (guint));
  guint fixed_points = 0;
  guint i;

  g_test_summary ("Seeded Fisher-Yates: same seed same order, another seed "
                  "another order, always a permutation of 0..n-1");

  g_assert_true (is_permutation (a, n));
  g_assert_true (is_permutation (c, n));
  g_assert_cmpmem (a, n * sizeof (guint), b, n * sizeof (guint));
  g_assert_true (memcmp (a, c, n * sizeof (guint)) != 0);

  /* A shuffle that did nothing would also be "the same for the same seed". */
  for (i = 0; i < n; i++)
    fixed_points += a[i] == i;
  g_assert_cmpuint (fixed_points, <, n / 10);

  /* Reshuffling in place (the next epoch) keeps the contents. */
  disco_permutation_shuffle (next_epoch, n, rand_a);
  g_assert_true (is_permutation (next_epoch, n));
  g_assert_true (memcmp (a, next_epoch, n * sizeof (guint)) != 0);

  g_assert_nonnull (empty);
  g_assert_cmpuint (single[0], ==, 0);
}

static void
test_gather_batch (void)
{
  static const guint indices[] = { 19, 0, 7, 7 };
  const guint batch = G_N_ELEMENTS (indices);
  g_autofree char *dir = fixture_path ("mnist", NULL);
  g_autoptr (DiscoDataset) dataset = NULL;
  g_autoptr (GError) error = NULL;
  g_autofree float *images = NULL;
  g_autofree float *one_hot = NULL;
  g_autofree float *soft = NULL;
  guint b, c;

  g_test_summary ("A minibatch copies the indexed images in order; one-hot "
                  "targets are 1/0, soft targets 0.99 and 0.01/9, rows sum to 1");

  if (dir == NULL)
    return;
  dataset = disco_dataset_load_idx_dir (dir, "train", &error);
  g_assert_no_error (error);

  images = g_new (float, batch * dataset->n_features);
  one_hot = g_new (float, batch * dataset->n_classes);
  soft = g_new (float, batch * dataset->n_classes);
  disco_dataset_gather_batch (dataset, indices, batch, 1.0f, images, one_hot);
  disco_dataset_gather_batch (dataset, indices, batch, 0.99f, NULL, soft);

  for (b = 0; b < batch; b++)
    {
      const float *image = images + b * dataset->n_features;
      const float *hard_row = one_hot + b * dataset->n_classes;
      const float *soft_row = soft + b * dataset->n_classes;
      guint label = dataset->labels[indices[b]];
      double soft_sum = 0.0;

      for (gsize j = 0; j < dataset->n_features; j++)
        g_assert_cmpfloat (
            image[j], ==,
            disco_dataset_pixel (dataset, (gsize) indices[b] * dataset->n_features + j));
      for (c = 0; c < dataset->n_classes; c++)
        {
          g_assert_cmpfloat (hard_row[c], ==, c == label ? 1.0f : 0.0f);
          g_assert_cmpfloat_with_epsilon (soft_row[c], c == label ? 0.99 : 0.01 / 9, 1e-7);
          soft_sum += soft_row[c];
        }
      /* Ten float32 terms: a few ulps of 1 at most. */
      g_assert_cmpfloat_with_epsilon (soft_sum, 1.0, 1e-6);
    }
  /* Sample 19 of MNIST train is a 9, sample 0 a 5. */
  g_assert_cmpfloat (one_hot[9], ==, 1.0f);
  g_assert_cmpfloat (one_hot[dataset->n_classes + 5], ==, 1.0f);
}

/* ---- broken files ------------------------------------------------------ */

/* A valid gzip member header (magic, deflate, no flags, OS unix), then bytes
 * that break deflate at once: 0xff opens a block of type 3, which deflate
 * reserves. (Arbitrary text is a poor choice: it may well start a valid
 * stored block, and then the error is "ends early", not "corrupt".) */
#define CORRUPT_GZIP "\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xff\xff\xff\xff not deflate data"

/* A broken IDX pair starts as copies of the raw train fixtures; each row's
 * function breaks one of them. */
typedef struct
{
  GByteArray *images; /* NULL: do not write the file */
  GByteArray *labels;
} IdxPair;

typedef enum
{
  BLAME_IMAGES,
  BLAME_LABELS,
} Blame;

typedef struct
{
  const char *name;
  const char *summary;
  void (*break_pair) (IdxPair *pair);
  DiscoError code;
  const char *cause; /* what the message must say is wrong */
  Blame blame;
} BadIdxCase;

static void
replace_with_gzip (GByteArray *array)
{
  g_autoptr (GBytes) compressed = gzip_bytes (array->data, array->len);
  gsize size;
  const guint8 *data = g_bytes_get_data (compressed, &size);

  g_byte_array_set_size (array, 0);
  g_byte_array_append (array, data, size);
}

static void
break_images_magic (IdxPair *pair)
{
  put_be32 (pair->images->data, 0x00000804);
}

static void
break_images_are_labels (IdxPair *pair)
{
  g_byte_array_set_size (pair->images, 0);
  g_byte_array_append (pair->images, pair->labels->data, pair->labels->len);
}

static void
break_labels_magic (IdxPair *pair)
{
  put_be32 (pair->labels->data, 0x00000803);
}

static void
break_images_header_cut (IdxPair *pair)
{
  g_byte_array_set_size (pair->images, 10);
}

static void
break_labels_header_cut (IdxPair *pair)
{
  g_byte_array_set_size (pair->labels, 6);
}

static void
break_empty_images (IdxPair *pair)
{
  g_byte_array_set_size (pair->images, 0);
}

static void
break_images_data_cut (IdxPair *pair)
{
  g_byte_array_set_size (pair->images, 16 + 19 * MNIST_FEATURES + MNIST_FEATURES / 2);
}

static void
break_images_data_cut_gz (IdxPair *pair)
{
  break_images_data_cut (pair);
  replace_with_gzip (pair->images);
}

static void
break_images_gzip_cut (IdxPair *pair)
{
  replace_with_gzip (pair->images);
  g_byte_array_set_size (pair->images, pair->images->len / 2);
}

static void
break_labels_data_cut (IdxPair *pair)
{
  g_byte_array_set_size (pair->labels, 8 + 12);
}

static void
break_count_mismatch (IdxPair *pair)
{
  put_be32 (pair->labels->data + 4, FIXTURE_RECORDS - 1);
  g_byte_array_set_size (pair->labels, 8 + FIXTURE_RECORDS - 1);
}

static void
break_zero_rows (IdxPair *pair)
{
  put_be32 (pair->images->data + 8, 0);
}

static void
break_zero_count (IdxPair *pair)
{
  put_be32 (pair->images->data + 4, 0);
  put_be32 (pair->labels->data + 4, 0);
  g_byte_array_set_size (pair->images, 16);
  g_byte_array_set_size (pair->labels, 8);
}

static void
break_huge_cols (IdxPair *pair)
{
  put_be32 (pair->images->data + 12, 100000);
}

static void
break_huge_count (IdxPair *pair)
{
  put_be32 (pair->images->data + 4, 0xffffffff);
  put_be32 (pair->labels->data + 4, 0xffffffff);
}

/* Passes the header limits but promises far more data than a gzip stream
 * holds: must end as TRUNCATED, found while streaming. */
static void
break_big_count_gz (IdxPair *pair)
{
  put_be32 (pair->images->data + 4, 1000000);
  put_be32 (pair->labels->data + 4, 1000000);
  replace_with_gzip (pair->images);
  replace_with_gzip (pair->labels);
}

static void
break_trailing_data (IdxPair *pair)
{
  static const guint8 extra[] = { 1, 2, 3 };

  g_byte_array_append (pair->images, extra, sizeof extra);
}

static void
break_trailing_data_gz (IdxPair *pair)
{
  break_trailing_data (pair);
  replace_with_gzip (pair->images);
}

static void
break_corrupt_gzip (IdxPair *pair)
{
  static const char corrupt[] = CORRUPT_GZIP;

  g_byte_array_set_size (pair->images, 0);
  g_byte_array_append (pair->images, (const guint8 *) corrupt, sizeof corrupt - 1);
}

static void
break_gzip_crc (IdxPair *pair)
{
  replace_with_gzip (pair->images);
  /* The trailer is CRC32 then ISIZE, 4 bytes each. */
  pair->images->data[pair->images->len - 8] ^= 0xff;
}

static void
break_missing_images (IdxPair *pair)
{
  g_clear_pointer (&pair->images, g_byte_array_unref);
}

static void
break_missing_labels (IdxPair *pair)
{
  g_clear_pointer (&pair->labels, g_byte_array_unref);
}

static void
break_label_out_of_range (IdxPair *pair)
{
  pair->labels->data[8 + 13] = 10;
}

static const BadIdxCase bad_idx_cases[] = {
  { "wrong-magic", "Image file with magic 0x804", break_images_magic, DISCO_ERROR_DATA,
    "bad IDX magic number 0x00000804", BLAME_IMAGES },
  { "labels-as-images", "A label file passed as the image file", break_images_are_labels,
    DISCO_ERROR_DATA, "(this is an IDX label file)", BLAME_IMAGES },
  { "wrong-labels-magic", "Label file with the image magic", break_labels_magic, DISCO_ERROR_DATA,
    "(this is an IDX image file)", BLAME_LABELS },
  { "empty-file", "Zero-byte image file", break_empty_images, DISCO_ERROR_DATA,
    "ends inside the IDX header (0 of 16 bytes)", BLAME_IMAGES },
  { "truncated-header", "Image file cut inside its 16-byte header", break_images_header_cut,
    DISCO_ERROR_DATA, "ends inside the IDX header", BLAME_IMAGES },
  { "truncated-labels-header", "Label file cut inside its 8-byte header", break_labels_header_cut,
    DISCO_ERROR_DATA, "ends inside the IDX header", BLAME_LABELS },
  { "truncated-data", "Raw image file cut in the middle of record 20", break_images_data_cut,
    DISCO_ERROR_DATA, "ends after 19 of 20 images", BLAME_IMAGES },
  { "truncated-data-gz", "Complete gzip of an image file cut in record 20",
    break_images_data_cut_gz, DISCO_ERROR_DATA, "ends after 19 of 20 images", BLAME_IMAGES },
  { "truncated-gzip", "Gzip stream of the image file cut in half", break_images_gzip_cut,
    DISCO_ERROR_DATA, "gzip stream ends early", BLAME_IMAGES },
  { "truncated-labels", "Label file holding 12 of 20 labels", break_labels_data_cut,
    DISCO_ERROR_DATA, "ends after 12 of 20 labels", BLAME_LABELS },
  { "count-mismatch", "19 labels for 20 images", break_count_mismatch, DISCO_ERROR_DATA,
    "19 labels, but", BLAME_LABELS },
  { "zero-rows", "Image header with zero rows", break_zero_rows, DISCO_ERROR_DATA, "IDX rows is 0",
    BLAME_IMAGES },
  { "zero-count", "Headers announcing zero samples", break_zero_count, DISCO_ERROR_DATA,
    "IDX count is 0", BLAME_IMAGES },
  { "huge-cols", "Image header with 100000 columns", break_huge_cols, DISCO_ERROR_DATA,
    "IDX cols is 100000", BLAME_IMAGES },
  { "huge-count", "Headers announcing 2^32-1 samples", break_huge_count, DISCO_ERROR_DATA,
    "IDX count is 4294967295", BLAME_IMAGES },
  { "big-count-gz", "Gzipped headers announcing a million samples for 20 records",
    break_big_count_gz, DISCO_ERROR_DATA, "ends after 20 of 1000000 labels", BLAME_LABELS },
  { "trailing-data", "Raw image file with bytes after the last record", break_trailing_data,
    DISCO_ERROR_DATA, "data continues past the 20 images", BLAME_IMAGES },
  { "trailing-data-gz", "Gzipped image file with bytes after the last record",
    break_trailing_data_gz, DISCO_ERROR_DATA, "data continues past the 20 images", BLAME_IMAGES },
  { "corrupt-gzip", "Valid gzip header followed by garbage", break_corrupt_gzip, DISCO_ERROR_DATA,
    "corrupt gzip data", BLAME_IMAGES },
  { "gzip-bad-crc", "Gzipped image file whose CRC32 does not match", break_gzip_crc,
    DISCO_ERROR_DATA, "corrupt gzip data", BLAME_IMAGES },
  { "missing-images", "Image file that does not exist", break_missing_images, DISCO_ERROR_IO,
    "no such file", BLAME_IMAGES },
  { "missing-labels", "Label file that does not exist", break_missing_labels, DISCO_ERROR_IO,
    "no such file", BLAME_LABELS },
  { "label-out-of-range", "A label of 10 in a ten-class set", break_label_out_of_range,
    DISCO_ERROR_DATA, "label 10 of sample 13 is outside 0..9", BLAME_LABELS },
};

static GByteArray *
read_fixture_from (const char *folder, const char *name)
{
  g_autofree char *path = fixture_path (folder, name, NULL);
  g_autoptr (GError) error = NULL;
  char *contents = NULL;
  gsize size = 0;

  if (path == NULL)
    return NULL;
  g_file_get_contents (path, &contents, &size, &error);
  g_assert_no_error (error);
  return g_byte_array_new_take ((guint8 *) contents, size);
}

static void
write_or_skip (const char *path, GByteArray *bytes)
{
  g_autoptr (GError) error = NULL;

  if (bytes == NULL)
    return;
  g_file_set_contents (path, (const char *) bytes->data, bytes->len, &error);
  g_assert_no_error (error);
}

/* The error must have @code and a message of the form `path: what`, where
 * what says @cause. */
static void
assert_dataset_error (const GError *error, DiscoError code, const char *cause, const char *path)
{
  g_autofree char *base = g_path_get_basename (path);

  g_assert_error (error, DISCO_ERROR, (gint) code);
  g_test_message ("error message: %s", error->message);
  g_assert_true (g_str_has_prefix (error->message, path));
  g_assert_nonnull (strstr (error->message, base));
  g_assert_nonnull (strstr (error->message, cause));
}

static void
test_bad_idx (gconstpointer data)
{
  const BadIdxCase *bad = data;
  IdxPair pair = { NULL, NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoDataset) dataset = NULL;
  g_autofree char *tmp_dir = NULL;
  g_autofree char *images_name = NULL;
  g_autofree char *labels_name = NULL;
  g_autofree char *images_path = NULL;
  g_autofree char *labels_path = NULL;

  g_test_summary (bad->summary);

  pair.images = read_fixture_from ("mnist", "train-images-idx3-ubyte");
  pair.labels = read_fixture_from ("mnist", "train-labels-idx1-ubyte");
  if (pair.images == NULL || pair.labels == NULL)
    goto out;
  g_assert_cmpuint (pair.images->len, ==, 16 + FIXTURE_RECORDS * MNIST_FEATURES);
  g_assert_cmpuint (pair.labels->len, ==, 8 + FIXTURE_RECORDS);
  bad->break_pair (&pair);

  tmp_dir = g_dir_make_tmp ("disco-dataset-XXXXXX", &error);
  g_assert_no_error (error);
  /* The row's name in the file names, so a message naming the wrong file of
   * the pair (or a stale file) cannot pass. */
  images_name = g_strdup_printf ("%s-images-idx3-ubyte", bad->name);
  labels_name = g_strdup_printf ("%s-labels-idx1-ubyte", bad->name);
  images_path = g_build_filename (tmp_dir, images_name, NULL);
  labels_path = g_build_filename (tmp_dir, labels_name, NULL);
  write_or_skip (images_path, pair.images);
  write_or_skip (labels_path, pair.labels);

  dataset = disco_dataset_load_idx (images_path, labels_path, &error);
  g_assert_null (dataset);
  assert_dataset_error (error, bad->code, bad->cause,
                        bad->blame == BLAME_IMAGES ? images_path : labels_path);

  g_remove (images_path);
  g_remove (labels_path);
  g_assert_cmpint (g_rmdir (tmp_dir), ==, 0);

out:
  g_clear_pointer (&pair.images, g_byte_array_unref);
  g_clear_pointer (&pair.labels, g_byte_array_unref);
}

typedef struct
{
  const char *name;
  const char *summary;
  const char *contents; /* NULL: do not write the file */
  gsize length;         /* of @contents; 0: up to its first NUL */
  gboolean gzip;
  DiscoError code;
  const char *cause; /* what the message must say is wrong */
} BadCsvCase;

#define ZEROS_8 "0,0,0,0,0,0,0,0,"
#define ZEROS_63 ZEROS_8 ZEROS_8 ZEROS_8 ZEROS_8 ZEROS_8 ZEROS_8 ZEROS_8 "0,0,0,0,0,0,0,"
#define ZEROS_64 ZEROS_63 "0,"

static const BadCsvCase bad_csv_cases[] = {
  { "csv-missing", "CSV file that does not exist", NULL, 0, FALSE, DISCO_ERROR_IO, "no such file" },
  { "csv-empty", "Gzipped CSV with no records", "", 0, TRUE, DISCO_ERROR_DATA,
    "no samples in the file" },
  { "csv-short-line", "Second line with 9 fields instead of 65", ZEROS_64 "1\n" ZEROS_8 "3\n", 0,
    TRUE, DISCO_ERROR_DATA, ":2: 9 fields, expected 65" },
  { "csv-long-line", "Line with 66 fields", ZEROS_64 "0,1\n", 0, FALSE, DISCO_ERROR_DATA,
    ":1: 66 fields, expected 65" },
  { "csv-not-a-number", "Pixel that is not a number", "x," ZEROS_63 "5\n", 0, FALSE,
    DISCO_ERROR_DATA, "pixel 1 is \"x\"" },
  { "csv-pixel-range", "Pixel value 17 (the scale is 0..16)", "17," ZEROS_63 "5\n", 0, FALSE,
    DISCO_ERROR_DATA, "pixel 1 is \"17\", expected a number in 0..16" },
  { "csv-label-range", "Label 10 in a ten-class set", ZEROS_64 "10\n", 0, TRUE, DISCO_ERROR_DATA,
    "label is \"10\"" },
  { "csv-label-fraction", "Label 2.5", ZEROS_64 "2.5\n", 0, FALSE, DISCO_ERROR_DATA,
    "label is \"2.5\"" },
  { "csv-corrupt-gzip", "Valid gzip header followed by garbage", CORRUPT_GZIP,
    sizeof CORRUPT_GZIP - 1, FALSE, DISCO_ERROR_DATA, "corrupt gzip data" },
};

static void
test_bad_csv (gconstpointer data)
{
  const BadCsvCase *bad = data;
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoDataset) dataset = NULL;
  g_autofree char *tmp_dir = NULL;
  g_autofree char *name = NULL;
  g_autofree char *path = NULL;

  g_test_summary (bad->summary);

  tmp_dir = g_dir_make_tmp ("disco-dataset-XXXXXX", &error);
  g_assert_no_error (error);
  name = g_strdup_printf ("%s.csv.gz", bad->name);
  path = g_build_filename (tmp_dir, name, NULL);
  if (bad->contents != NULL)
    {
      g_autoptr (GByteArray) bytes = g_byte_array_new ();

      g_byte_array_append (bytes, (const guint8 *) bad->contents,
                           bad->length != 0 ? bad->length : strlen (bad->contents));
      if (bad->gzip)
        replace_with_gzip (bytes);
      write_or_skip (path, bytes);
    }

  dataset = disco_dataset_load_digits_csv (path, &error);
  g_assert_null (dataset);
  assert_dataset_error (error, bad->code, bad->cause, path);

  g_remove (path);
  g_assert_cmpint (g_rmdir (tmp_dir), ==, 0);
}

static void
test_bad_dir (void)
{
  g_autofree char *dir = fixture_path ("mnist", NULL);
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoDataset) dataset = NULL;

  g_test_summary ("A split that is not in the folder is an IO error naming the folder");

  if (dir == NULL)
    return;
  dataset = disco_dataset_load_idx_dir (dir, "validation", &error);
  g_assert_null (dataset);
  assert_dataset_error (error, DISCO_ERROR_IO, "neither", dir);
  g_assert_nonnull (strstr (error->message, "validation-images-idx3-ubyte"));
}

/* ---- seeded fuzzing ----------------------------------------------------- */

#ifndef FUZZ_ROUNDS
#define FUZZ_ROUNDS 400 /* -DFUZZ_ROUNDS=... for a longer run */
#endif

static void
mutate (GByteArray *bytes, GRand *rand)
{
  guint n_flips, i;

  switch (g_rand_int_range (rand, 0, 4))
    {
    case 0: /* the header, where sizes live */
      n_flips = g_rand_int_range (rand, 1, 4);
      for (i = 0; i < n_flips; i++)
        bytes->data[g_rand_int_range (rand, 0, MIN (bytes->len, 16))] =
            g_rand_int_range (rand, 0, 256);
      break;
    case 1: /* anywhere */
      n_flips = g_rand_int_range (rand, 1, 8);
      for (i = 0; i < n_flips; i++)
        bytes->data[g_rand_int_range (rand, 0, bytes->len)] ^= 1u << g_rand_int_range (rand, 0, 8);
      break;
    case 2: /* cut */ g_byte_array_set_size (bytes, g_rand_int_range (rand, 0, bytes->len)); break;
    default: /* extend */
      n_flips = g_rand_int_range (rand, 1, 64);
      for (i = 0; i < n_flips; i++)
        {
          guint8 byte = g_rand_int_range (rand, 0, 256);

          g_byte_array_append (bytes, &byte, 1);
        }
      break;
    }
}

static void
test_fuzz_idx (void)
{
  static const char *const folders[] = { "mnist", "mnist-gz" };
  static const char *const suffixes[] = { "", ".gz" };
  g_autoptr (GRand) rand = g_rand_new_with_seed (20231128);
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp_dir = NULL;
  g_autofree char *images_path = NULL;
  g_autofree char *labels_path = NULL;
  guint round, n_loaded = 0;

  g_test_summary ("Seeded random damage to the raw and gzipped fixtures (bytes "
                  "changed, cut, appended): every load either succeeds with "
                  "sane contents or fails with a dataset error naming one of "
                  "the two files; never a crash (run under ASan to see reads)");

  tmp_dir = g_dir_make_tmp ("disco-dataset-XXXXXX", &error);
  g_assert_no_error (error);
  images_path = g_build_filename (tmp_dir, "fuzz-images-idx3-ubyte", NULL);
  labels_path = g_build_filename (tmp_dir, "fuzz-labels-idx1-ubyte", NULL);

  for (round = 0; round < FUZZ_ROUNDS; round++)
    {
      guint format = round % 2;
      g_autofree char *images_name =
          g_strconcat ("train-images-idx3-ubyte", suffixes[format], NULL);
      g_autofree char *labels_name =
          g_strconcat ("train-labels-idx1-ubyte", suffixes[format], NULL);
      g_autoptr (GByteArray) images = read_fixture_from (folders[format], images_name);
      g_autoptr (GByteArray) labels = read_fixture_from (folders[format], labels_name);
      g_autoptr (DiscoDataset) dataset = NULL;
      g_autoptr (GError) load_error = NULL;

      if (images == NULL || labels == NULL)
        return;
      mutate (g_rand_boolean (rand) ? images : labels, rand);
      write_or_skip (images_path, images);
      write_or_skip (labels_path, labels);

      dataset = disco_dataset_load_idx (images_path, labels_path, &load_error);
      if (dataset != NULL)
        {
          guint i;

          g_assert_no_error (load_error);
          n_loaded++;
          g_assert_cmpuint (dataset->n_samples, ==, FIXTURE_RECORDS);
          g_assert_cmpuint (dataset->n_features, ==, dataset->rows * dataset->cols);
          for (i = 0; i < dataset->n_samples; i++)
            g_assert_cmpuint (dataset->labels[i], <, DISCO_DATASET_N_CLASSES);
        }
      else
        {
          g_assert_nonnull (load_error);
          g_assert_true (g_error_matches (load_error, DISCO_ERROR, DISCO_ERROR_DATA)
                         || g_error_matches (load_error, DISCO_ERROR, DISCO_ERROR_IO));
          g_assert_true (g_str_has_prefix (load_error->message, images_path)
                         || g_str_has_prefix (load_error->message, labels_path));
        }
    }
  /* Flipped pixel bits still load; that path must have been taken too. */
  g_test_message ("%u of %u damaged pairs still loaded", n_loaded, FUZZ_ROUNDS);
  g_assert_cmpuint (n_loaded, >, 0);
  g_assert_cmpuint (n_loaded, <, FUZZ_ROUNDS);

  g_remove (images_path);
  g_remove (labels_path);
  g_assert_cmpint (g_rmdir (tmp_dir), ==, 0);
}

static void
test_fuzz_csv (void)
{
  g_autoptr (GRand) rand = g_rand_new_with_seed (1797);
  g_autoptr (GError) error = NULL;
  g_autofree char *tmp_dir = NULL;
  g_autofree char *path = NULL;
  guint round;

  g_test_summary ("Seeded random damage to the gzipped and plain digits "
                  "fixture: a dataset or a dataset error naming the file");

  tmp_dir = g_dir_make_tmp ("disco-dataset-XXXXXX", &error);
  g_assert_no_error (error);
  path = g_build_filename (tmp_dir, "fuzz-digits.csv", NULL);

  for (round = 0; round < FUZZ_ROUNDS; round++)
    {
      g_autoptr (GByteArray) csv = read_fixture_from ("digits", "digits.csv.gz");
      g_autoptr (DiscoDataset) dataset = NULL;
      g_autoptr (GError) load_error = NULL;

      if (csv == NULL)
        return;
      if (round % 2 == 1)
        {
          /* The plain text, so that damage reaches the CSV parser. */
          g_autoptr (GInputStream) memory =
              g_memory_input_stream_new_from_data (csv->data, csv->len, NULL);
          g_autoptr (GZlibDecompressor) inflater =
              g_zlib_decompressor_new (G_ZLIB_COMPRESSOR_FORMAT_GZIP);
          g_autoptr (GInputStream) text =
              g_converter_input_stream_new (memory, G_CONVERTER (inflater));
          g_autoptr (GByteArray) plain = g_byte_array_new ();
          guint8 chunk[4096];
          gsize got;

          do
            {
              g_input_stream_read_all (text, chunk, sizeof chunk, &got, NULL, &error);
              g_assert_no_error (error);
              g_byte_array_append (plain, chunk, got);
            }
          while (got == sizeof chunk);
          g_clear_object (&text);
          g_clear_pointer (&csv, g_byte_array_unref);
          csv = g_steal_pointer (&plain);
        }
      mutate (csv, rand);
      write_or_skip (path, csv);

      dataset = disco_dataset_load_digits_csv (path, &load_error);
      if (dataset != NULL)
        {
          g_assert_no_error (load_error);
          g_assert_cmpuint (dataset->n_samples, >, 0);
        }
      else
        {
          g_assert_true (g_error_matches (load_error, DISCO_ERROR, DISCO_ERROR_DATA)
                         || g_error_matches (load_error, DISCO_ERROR, DISCO_ERROR_IO));
          g_assert_true (g_str_has_prefix (load_error->message, path));
        }
    }

  g_remove (path);
  g_assert_cmpint (g_rmdir (tmp_dir), ==, 0);
}

int
main (int argc, char **argv)
{
  int status;
  gsize i;

  g_test_init (&argc, &argv, G_TEST_OPTION_ISOLATE_DIRS, NULL);

  g_test_add_func ("/disco/dataset/mnist/train", test_mnist_train);
  g_test_add_func ("/disco/dataset/mnist/test", test_mnist_test);
  g_test_add_func ("/disco/dataset/fashion/train", test_fashion_train);
  g_test_add_func ("/disco/dataset/fashion/test", test_fashion_test);
  g_test_add_func ("/disco/dataset/digits/full", test_digits_full);

  g_test_add_data_func ("/disco/dataset/fixtures/idx-raw", "mnist", test_fixtures_idx);
  g_test_add_data_func ("/disco/dataset/fixtures/idx-gz", "mnist-gz", test_fixtures_idx);
  g_test_add_func ("/disco/dataset/fixtures/digits", test_fixtures_digits);
  g_test_add_func ("/disco/dataset/digits/plain-csv", test_plain_csv);

  g_test_add_func ("/disco/dataset/class-counts", test_class_counts);
  g_test_add_func ("/disco/dataset/permutation", test_permutation);
  g_test_add_func ("/disco/dataset/gather-batch", test_gather_batch);
  g_test_add_func ("/disco/dataset/copy-images-levels", test_copy_images_levels);

  for (i = 0; i < G_N_ELEMENTS (bad_idx_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/disco/dataset/bad-idx/%s", bad_idx_cases[i].name);

      g_test_add_data_func (path, &bad_idx_cases[i], test_bad_idx);
    }
  for (i = 0; i < G_N_ELEMENTS (bad_csv_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/disco/dataset/bad-csv/%s", bad_csv_cases[i].name);

      g_test_add_data_func (path, &bad_csv_cases[i], test_bad_csv);
    }
  g_test_add_func ("/disco/dataset/bad-dir", test_bad_dir);
  g_test_add_func ("/disco/dataset/fuzz/idx", test_fuzz_idx);
  g_test_add_func ("/disco/dataset/fuzz/csv", test_fuzz_csv);

  status = g_test_run ();

  g_clear_pointer (&mnist_train, disco_dataset_free);
  g_clear_pointer (&mnist_test, disco_dataset_free);
  return status;
}
