/* test-loaders.c: the idx-loader and digits-loader nodes in pipelines
 *
 * Pipelines are built from text with disco_pipeline_new_from_string() (the
 * plugin loads from the build tree) and every tick's outputs are read in a
 * handler of DiscoPipeline::tick. Expected values come from reading the
 * same files with io/disco-dataset-io.c, which this test compiles in,
 * and from the facts in /work/shared/DATA.md.
 *
 * Groups:
 *  - MNIST: split sizes, ticks and flags of a whole epoch, the content of
 *    every phase, shuffling by seed, limit, several epochs;
 *  - Fashion-MNIST (gzipped) and the fixtures (raw and gzipped);
 *  - the 8×8 digits and its test-fraction;
 *  - a table of bad inputs, each failing with a GError before any tick and
 *    before the output folder is made.
 *
 * A missing dataset is a failure, not a skip (data/install-datasets.sh
 * installs them as part of the setup).
 */
#include <disco/disco.h>

#include "disco-dataset-io.h"

#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#ifndef SOURCE_ROOT
#error "SOURCE_ROOT must name the source tree"
#endif

#define N_CLASSES 10
#define SOFT_TARGET 0.99f
#define TARGET_TOLERANCE 1e-6

/* Reference copies of the full sets, loaded once by the tests that need them. */
static DiscoDataset *mnist_train;
static DiscoDataset *mnist_test;

/* ---- helpers --------------------------------------------------------------- */

static char *
source_path (const char *first_part, ...)
{
  const char *root = g_getenv ("DISCO_SOURCE_ROOT");
  g_autofree char *tail = NULL;
  va_list parts;

  va_start (parts, first_part);
  tail = g_build_filename_valist (first_part, &parts);
  va_end (parts);
  return g_build_filename (root != NULL ? root : SOURCE_ROOT, tail, NULL);
}

static char *
dataset_path (const char *set)
{
  char *dir = source_path ("data", "datasets", set, NULL);

  if (!g_file_test (dir, G_FILE_TEST_EXISTS))
    g_error ("dataset %s is missing: run data/install-datasets.sh", dir);
  return dir;
}

static void
ensure_mnist (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = dataset_path ("mnist");

  if (mnist_train == NULL)
    mnist_train = disco_dataset_load_idx_dir (dir, "train", &error);
  g_assert_no_error (error);
  if (mnist_test == NULL)
    mnist_test = disco_dataset_load_idx_dir (dir, "t10k", &error);
  g_assert_no_error (error);
}

/* What a run emitted, per phase (indexed by DiscoPhase). */
typedef struct
{
  DiscoNode *loader;
  float soft_target;
  GArray *ticks;          /* DiscoTick */
  GArray *labels[4];      /* guint8, in emitted order */
  GArray *tick_checksums; /* double, one per tick: a fingerprint of the images */
  double pixel_sum[4];
  guint64 n_pixels[4];
  float min_pixel, max_pixel;
  guint n_bad_targets;
  guint n_bad_labels;
  /* When set, validation and test images are compared row by row with
   * these: the validation split is train[0..], the test split test[first..]. */
  const DiscoDataset *train_ref;
  const DiscoDataset *test_ref;
  guint test_ref_first;
  guint n_bad_rows;
} Run;

static void
run_init (Run *run, float soft_target)
{
  memset (run, 0, sizeof *run);
  run->soft_target = soft_target;
  run->ticks = g_array_new (FALSE, FALSE, sizeof (DiscoTick));
  for (guint p = 0; p < 4; p++)
    run->labels[p] = g_array_new (FALSE, FALSE, 1);
  run->tick_checksums = g_array_new (FALSE, FALSE, sizeof (double));
  run->min_pixel = G_MAXFLOAT;
  run->max_pixel = -G_MAXFLOAT;
}

static void
run_clear (Run *run)
{
  g_clear_object (&run->loader);
  g_array_unref (run->ticks);
  for (guint p = 0; p < 4; p++)
    g_array_unref (run->labels[p]);
  g_array_unref (run->tick_checksums);
}

static guint
run_count_phase (Run *run, DiscoPhase phase)
{
  guint n = 0;

  for (guint i = 0; i < run->ticks->len; i++)
    n += g_array_index (run->ticks, DiscoTick, i).phase == phase;
  return n;
}

static void
on_tick (DiscoPipeline *pipeline, DiscoTick *tick, gpointer user_data)
{
  Run *run = user_data;
  DiscoTensor *images = disco_node_get_output (run->loader, "images");
  DiscoTensor *targets = disco_node_get_output (run->loader, "targets");
  DiscoTensor *labels = disco_node_get_output (run->loader, "labels");
  const float *x, *t, *l;
  gsize b, f;
  double checksum = 0.0;
  float off = (1.0f - run->soft_target) / (N_CLASSES - 1);
  const DiscoDataset *ref = NULL;
  guint ref_first = 0;

  g_array_append_val (run->ticks, *tick);
  g_assert_nonnull (images);
  g_assert_nonnull (targets);
  g_assert_nonnull (labels);
  b = disco_tensor_get_dim (images, 0);
  f = disco_tensor_get_dim (images, 1);
  g_assert_cmpuint (disco_tensor_get_n_dims (images), ==, 2);
  g_assert_cmpuint (disco_tensor_get_n_dims (targets), ==, 2);
  g_assert_cmpuint (disco_tensor_get_n_dims (labels), ==, 1);
  g_assert_cmpuint (disco_tensor_get_dim (targets, 0), ==, b);
  g_assert_cmpuint (disco_tensor_get_dim (targets, 1), ==, N_CLASSES);
  g_assert_cmpuint (disco_tensor_get_dim (labels, 0), ==, b);
  g_assert_cmpuint (tick->batch_size, ==, b);

  x = disco_tensor_read_host (images, NULL);
  t = disco_tensor_read_host (targets, NULL);
  l = disco_tensor_read_host (labels, NULL);

  if (tick->phase == DISCO_PHASE_VALIDATION && run->train_ref != NULL)
    ref = run->train_ref;
  else if (tick->phase == DISCO_PHASE_TEST && run->test_ref != NULL)
    {
      ref = run->test_ref;
      ref_first = run->test_ref_first;
    }

  for (gsize i = 0; i < b; i++)
    {
      const float *row = x + i * f;
      guint label = (guint) l[i];
      double row_sum = 0.0, target_sum = 0.0;
      guint position = run->labels[tick->phase]->len;
      guint8 label_byte = label;

      if (l[i] != (float) label || label >= N_CLASSES)
        run->n_bad_labels++;
      for (gsize j = 0; j < f; j++)
        {
          run->min_pixel = MIN (run->min_pixel, row[j]);
          run->max_pixel = MAX (run->max_pixel, row[j]);
          row_sum += row[j];
        }
      for (guint c = 0; c < N_CLASSES; c++)
        {
          float want = c == label ? run->soft_target : off;
          target_sum += t[i * N_CLASSES + c];
          if (fabsf (t[i * N_CLASSES + c] - want) > TARGET_TOLERANCE)
            run->n_bad_targets++;
        }
      if (fabs (target_sum - 1.0) > 1e-5)
        run->n_bad_targets++;
      if (ref != NULL)
        {
          g_autofree float *expected = g_new (float, f);

          disco_dataset_copy_images (ref, ref_first + position, 1, expected);
          if (ref->labels[ref_first + position] != label
              || memcmp (row, expected, f * sizeof (float)) != 0)
            run->n_bad_rows++;
        }

      run->pixel_sum[tick->phase] += row_sum;
      run->n_pixels[tick->phase] += f;
      checksum += row_sum * (double) (i + 1);
      g_array_append_val (run->labels[tick->phase], label_byte);
    }
  g_array_append_val (run->tick_checksums, checksum);
}

/* Loads @text, connects @run and runs it; returns FALSE with @error set if
 * loading or running failed. */
static gboolean
run_pipeline (const char *text, Run *run, DiscoPipeline **out_pipeline, GError **error)
{
  g_autoptr (DiscoPipeline) pipeline = disco_pipeline_new_from_string (text, NULL, error);
  gboolean ok;

  if (pipeline == NULL)
    return FALSE;
  /* A reference of our own: the counts stay readable after the pipeline. */
  run->loader = g_object_ref (disco_pipeline_get_node (pipeline, "data"));
  g_signal_connect (pipeline, "tick", G_CALLBACK (on_tick), run);
  ok = disco_pipeline_run (pipeline, NULL, error);
  if (out_pipeline != NULL)
    *out_pipeline = g_steal_pointer (&pipeline);
  return ok;
}

/* A pipeline of one loader named "data" with @settings (lines "key = value"),
 * and a recorder of its default output; with @output_dir set, the run's
 * output folder. */
static char *
loader_pipeline_full (guint64 seed, const char *output_dir, const char *type, const char *settings)
{
  g_autofree char *output_line =
      output_dir != NULL ? g_strdup_printf ("output-dir = %s\n", output_dir) : g_strdup ("");

  return g_strdup_printf ("[pipeline]\n"
                          "seed = %" G_GUINT64_FORMAT "\n"
                          "%s"
                          "\n"
                          "[data]\n"
                          "node = %s\n"
                          "%s\n"
                          "\n"
                          "[log]\n"
                          "node = recorder\n"
                          "input = data\n",
                          seed, output_line, type, settings);
}

static char *
loader_pipeline (guint64 seed, const char *type, const char *settings)
{
  return loader_pipeline_full (seed, NULL, type, settings);
}

static guint
get_uint (DiscoNode *node, const char *name)
{
  guint value = 0;

  g_object_get (node, name, &value, NULL);
  return value;
}

static double
get_double (DiscoNode *node, const char *name)
{
  double value = 0;

  g_object_get (node, name, &value, NULL);
  return value;
}

/* Checks the context of every tick: batch numbers, flags, totals, and that
 * the phases come in order. @sizes gives the samples per phase. */
static void
check_ticks (Run *run, guint epochs, guint batch_size, const guint sizes[4])
{
  guint ticks_per_epoch = 0;
  guint i = 0;

  for (guint p = DISCO_PHASE_TRAIN; p <= DISCO_PHASE_TEST; p++)
    ticks_per_epoch += (sizes[p] + batch_size - 1) / batch_size;
  g_assert_cmpuint (run->ticks->len, ==, ticks_per_epoch * epochs);

  for (guint e = 1; e <= epochs; e++)
    {
      DiscoPhase last_phase = DISCO_PHASE_NONE;

      for (guint p = DISCO_PHASE_TEST; p >= DISCO_PHASE_TRAIN; p--)
        if (sizes[p] > 0)
          {
            last_phase = p;
            break;
          }
      for (guint p = DISCO_PHASE_TRAIN; p <= DISCO_PHASE_TEST; p++)
        {
          guint n_batches = (sizes[p] + batch_size - 1) / batch_size;

          for (guint batch = 0; batch < n_batches; batch++, i++)
            {
              const DiscoTick *tick = &g_array_index (run->ticks, DiscoTick, i);
              gboolean phase_end = batch + 1 == n_batches;
              DiscoTickFlags flags = phase_end ? DISCO_TICK_FLAG_PHASE_END : 0;

              if (phase_end && p == last_phase)
                flags |= DISCO_TICK_FLAG_EPOCH_END;
              g_assert_cmpuint (tick->index, ==, i);
              g_assert_cmpuint (tick->epoch, ==, e);
              g_assert_cmpint (tick->phase, ==, p);
              g_assert_cmpuint (tick->batch, ==, batch);
              g_assert_cmpuint (tick->flags, ==, flags);
              g_assert_cmpuint (tick->n_ticks, ==, (guint64) ticks_per_epoch * epochs);
              g_assert_cmpuint (tick->n_epochs, ==, epochs);
              g_assert_cmpuint (tick->batch_size, ==,
                                phase_end ? sizes[p] - batch * batch_size : batch_size);
            }
        }
    }
}

static void
assert_labels_begin (GArray *labels, const guint8 *expected, guint n)
{
  g_assert_cmpuint (labels->len, >=, n);
  g_assert_cmpmem (labels->data, n, expected, n);
}

/* ---- MNIST ------------------------------------------------------------------ */

static void
test_mnist_epoch (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) pipeline = NULL;
  g_autofree char *dir = dataset_path ("mnist");
  g_autofree char *settings = g_strdup_printf ("path = %s", dir);
  g_autofree char *text = loader_pipeline (1, "idx-loader", settings);
  static const guint8 validation_first[] = { 5, 0, 4, 1, 9, 2, 1, 3, 1, 4 };
  static const guint8 test_first[] = { 7, 2, 1, 0, 4 };
  const guint sizes[4] = { 0, 54000, 6000, 10000 };
  guint counts[N_CLASSES] = { 0 }, emitted[N_CLASSES] = { 0 };
  double train_sum = 0.0, test_mean, reference_mean = 0.0;
  DiscoNode *log;
  gint64 start;
  Run run;

  g_test_summary ("A default MNIST epoch: 54000/6000/10000 samples in 540/60/100 "
                  "ticks with the right context; validation is the first 6000 train "
                  "samples and test the t10k set, unchanged and in order; the train "
                  "phase is a permutation of the other 54000");
  ensure_mnist ();
  run_init (&run, SOFT_TARGET);
  run.train_ref = mnist_train;
  run.test_ref = mnist_test;

  start = g_get_monotonic_time ();
  g_assert_true (run_pipeline (text, &run, &pipeline, &error));
  g_assert_no_error (error);
  g_test_message ("loading and one epoch with checks: %.2f s",
                  (g_get_monotonic_time () - start) / 1e6);

  g_assert_cmpuint (get_uint (run.loader, "n-train"), ==, 54000);
  g_assert_cmpuint (get_uint (run.loader, "n-validation"), ==, 6000);
  g_assert_cmpuint (get_uint (run.loader, "n-test"), ==, 10000);
  g_assert_cmpuint (run.ticks->len, ==, 700);
  g_assert_cmpuint (run_count_phase (&run, DISCO_PHASE_TRAIN), ==, 540);
  g_assert_cmpuint (run_count_phase (&run, DISCO_PHASE_VALIDATION), ==, 60);
  g_assert_cmpuint (run_count_phase (&run, DISCO_PHASE_TEST), ==, 100);
  check_ticks (&run, 1, 100, sizes);

  /* Outputs: images in [0, 1], soft targets that match the labels. */
  g_assert_cmpfloat (run.min_pixel, >=, 0.0f);
  g_assert_cmpfloat (run.max_pixel, <=, 1.0f);
  g_assert_cmpfloat (run.max_pixel, ==, 1.0f);
  g_assert_cmpuint (run.n_bad_targets, ==, 0);
  g_assert_cmpuint (run.n_bad_labels, ==, 0);

  /* Validation and test: the files' samples, in file order. */
  g_assert_cmpuint (run.n_bad_rows, ==, 0);
  assert_labels_begin (run.labels[DISCO_PHASE_VALIDATION], validation_first,
                       G_N_ELEMENTS (validation_first));
  assert_labels_begin (run.labels[DISCO_PHASE_TEST], test_first, G_N_ELEMENTS (test_first));
  g_assert_cmpuint (run.labels[DISCO_PHASE_TEST]->len, ==, 10000);

  /* The mean test pixel: DATA.md's figure for the train set is 0.1307; the
   * test set's, computed from the file, is about 0.1325. */
  for (gsize i = 0; i < (gsize) mnist_test->n_samples * mnist_test->n_features; i++)
    reference_mean += disco_dataset_pixel (mnist_test, i);
  reference_mean /= (double) mnist_test->n_samples * mnist_test->n_features;
  test_mean = run.pixel_sum[DISCO_PHASE_TEST] / run.n_pixels[DISCO_PHASE_TEST];
  g_assert_cmpfloat_with_epsilon (test_mean, reference_mean, 1e-9);
  g_assert_cmpfloat_with_epsilon (test_mean, 0.1325, 5e-4);
  g_test_message ("mean test pixel %.6f", test_mean);

  /* Train: the samples after the validation split, each exactly once. */
  for (guint i = 6000; i < mnist_train->n_samples; i++)
    {
      counts[mnist_train->labels[i]]++;
      for (guint j = 0; j < mnist_train->n_features; j++)
        train_sum += disco_dataset_pixel (mnist_train, (gsize) i * mnist_train->n_features + j);
    }
  g_assert_cmpuint (run.labels[DISCO_PHASE_TRAIN]->len, ==, 54000);
  for (guint i = 0; i < run.labels[DISCO_PHASE_TRAIN]->len; i++)
    emitted[g_array_index (run.labels[DISCO_PHASE_TRAIN], guint8, i)]++;
  g_assert_cmpmem (emitted, sizeof emitted, counts, sizeof counts);
  g_assert_cmpfloat_with_epsilon (run.pixel_sum[DISCO_PHASE_TRAIN], train_sum, 1e-9 * train_sum);
  /* ... but shuffled: not in file order. */
  g_assert_true (memcmp (run.labels[DISCO_PHASE_TRAIN]->data, mnist_train->labels + 6000, 54000)
                 != 0);

  /* The recorder downstream saw the same ticks. */
  log = disco_pipeline_get_node (pipeline, "log");
  {
    guint64 recorded = 0;
    double sum = 0.0;

    g_object_get (log, "ticks", &recorded, "sum", &sum, NULL);
    g_assert_cmpuint (recorded, ==, 700);
    g_assert_cmpfloat_with_epsilon (sum, run.pixel_sum[1] + run.pixel_sum[2] + run.pixel_sum[3],
                                    1e-6 * sum);
  }
  run_clear (&run);
}

/* The first train minibatch's labels and image fingerprint of a run with
 * @seed and @extra settings; one train batch per epoch. */
static void
first_train_batches (guint64 seed, const char *extra, guint epochs, GArray **labels,
                     GArray **checksums)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = dataset_path ("mnist");
  g_autofree char *settings = g_strdup_printf (
      "path = %s\nphases = train\nlimit = 100\nepochs = %u\n%s", dir, epochs, extra);
  g_autofree char *text = loader_pipeline (seed, "idx-loader", settings);
  Run run;

  run_init (&run, SOFT_TARGET);
  g_assert_true (run_pipeline (text, &run, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (run.ticks->len, ==, epochs);
  *labels = g_array_ref (run.labels[DISCO_PHASE_TRAIN]);
  *checksums = g_array_ref (run.tick_checksums);
  run_clear (&run);
}

static gboolean
arrays_equal (GArray *a, GArray *b)
{
  guint size = g_array_get_element_size (a);

  return a->len == b->len && (a->len == 0 || memcmp (a->data, b->data, (gsize) a->len * size) == 0);
}

static void
test_mnist_shuffle (void)
{
  g_autoptr (GArray) labels_a = NULL, sums_a = NULL;
  g_autoptr (GArray) labels_b = NULL, sums_b = NULL;
  g_autoptr (GArray) labels_c = NULL, sums_c = NULL;
  g_autoptr (GArray) labels_d = NULL, sums_d = NULL;
  g_autoptr (GArray) labels_e = NULL, sums_e = NULL;

  g_test_summary ("The train order depends on the seed only; each epoch is "
                  "reshuffled; shuffle = false keeps file order");
  ensure_mnist ();

  first_train_batches (1, "", 2, &labels_a, &sums_a);
  first_train_batches (1, "", 2, &labels_b, &sums_b);
  first_train_batches (2, "", 2, &labels_c, &sums_c);
  g_assert_cmpuint (labels_a->len, ==, 200);

  /* Same seed, same batches; another seed, other batches. */
  g_assert_true (arrays_equal (labels_a, labels_b));
  g_assert_true (arrays_equal (sums_a, sums_b));
  g_assert_false (arrays_equal (labels_a, labels_c));
  g_assert_false (arrays_equal (sums_a, sums_c));

  /* Epoch 2 draws another order than epoch 1. */
  g_assert_true (memcmp (labels_a->data, labels_a->data + 100, 100) != 0);
  g_assert_cmpfloat (g_array_index (sums_a, double, 0), !=, g_array_index (sums_a, double, 1));

  /* Unshuffled: the train split in file order, the same every epoch. */
  first_train_batches (1, "shuffle = false", 2, &labels_d, &sums_d);
  first_train_batches (2, "shuffle = false", 2, &labels_e, &sums_e);
  g_assert_cmpmem (labels_d->data, 100, mnist_train->labels + 6000, 100);
  g_assert_cmpmem (labels_d->data + 100, 100, mnist_train->labels + 6000, 100);
  g_assert_true (arrays_equal (labels_d, labels_e));
  g_assert_true (arrays_equal (sums_d, sums_e));
}

static void
test_mnist_limit (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = dataset_path ("mnist");
  g_autofree char *settings = g_strdup_printf ("path = %s\nlimit = 250", dir);
  g_autofree char *text = loader_pipeline (1, "idx-loader", settings);
  static const guint8 validation_first[] = { 5, 0, 4, 1, 9 };
  static const guint8 test_first[] = { 7, 2, 1, 0, 4 };
  const guint sizes[4] = { 0, 250, 250, 250 };
  Run run;

  g_test_summary ("limit = 250 gives 3 minibatches (100, 100, 50) per phase, from the "
                  "start of each phase's order");
  ensure_mnist ();
  run_init (&run, SOFT_TARGET);
  run.train_ref = mnist_train;
  run.test_ref = mnist_test;
  g_assert_true (run_pipeline (text, &run, NULL, &error));
  g_assert_no_error (error);

  g_assert_cmpuint (get_uint (run.loader, "n-train"), ==, 250);
  g_assert_cmpuint (get_uint (run.loader, "n-validation"), ==, 250);
  g_assert_cmpuint (get_uint (run.loader, "n-test"), ==, 250);
  check_ticks (&run, 1, 100, sizes);
  g_assert_cmpuint (run.n_bad_rows, ==, 0);
  g_assert_cmpuint (run.n_bad_targets, ==, 0);
  assert_labels_begin (run.labels[DISCO_PHASE_VALIDATION], validation_first, 5);
  assert_labels_begin (run.labels[DISCO_PHASE_TEST], test_first, 5);
  run_clear (&run);
}

static void
test_mnist_epochs (void)
{
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) pipeline = NULL;
  g_autofree char *dir = dataset_path ("mnist");
  g_autofree char *settings =
      g_strdup_printf ("path = %s\nlimit = 250\nepochs = 2\nsoft-target = 1", dir);
  g_autofree char *text = loader_pipeline (3, "idx-loader", settings);
  const guint sizes[4] = { 0, 250, 250, 250 };
  guint epochs_ended = 0;
  Run run;

  g_test_summary ("Two epochs: epoch numbers 1 and 2, EPOCH_END on ticks 8 and 17, "
                  "end_epoch called twice; soft-target = 1 gives one-hot targets");
  run_init (&run, 1.0f);
  g_assert_true (run_pipeline (text, &run, &pipeline, &error));
  g_assert_no_error (error);

  check_ticks (&run, 2, 100, sizes);
  for (guint i = 0; i < run.ticks->len; i++)
    {
      const DiscoTick *tick = &g_array_index (run.ticks, DiscoTick, i);

      g_assert_cmpuint (!!(tick->flags & DISCO_TICK_FLAG_EPOCH_END), ==, i == 8 || i == 17);
      g_assert_cmpuint (tick->epoch, ==, i < 9 ? 1 : 2);
    }
  g_assert_cmpuint (run.n_bad_targets, ==, 0);
  g_object_get (disco_pipeline_get_node (pipeline, "log"), "epochs-ended", &epochs_ended, NULL);
  g_assert_cmpuint (epochs_ended, ==, 2);
  run_clear (&run);
}

static void
test_mnist_phases (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = dataset_path ("mnist");
  g_autofree char *settings = g_strdup_printf (
      "path = %s\nphases = train,test\nlimit = 150\nvalidation-fraction = 0.5", dir);
  g_autofree char *text = loader_pipeline (1, "idx-loader", settings);
  const guint sizes[4] = { 0, 150, 0, 150 };
  Run run;

  g_test_summary ("phases = train,test skips validation; the split still holds it out");
  ensure_mnist ();
  run_init (&run, SOFT_TARGET);
  g_assert_true (run_pipeline (text, &run, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (get_uint (run.loader, "n-validation"), ==, 0);
  check_ticks (&run, 1, 100, sizes);
  g_assert_cmpuint (run.n_bad_targets, ==, 0);
  run_clear (&run);
}

/* ---- Fashion-MNIST, fixtures --------------------------------------------------- */

static void
test_fashion (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *dir = dataset_path ("fashion-mnist");
  g_autofree char *settings =
      g_strdup_printf ("path = %s\nvalidation-fraction = 0\nshuffle = false\nlimit = 10\n"
                       "batch-size = 4",
                       dir);
  g_autofree char *text = loader_pipeline (1, "idx-loader", settings);
  static const guint8 train_first[] = { 9, 0, 0, 3, 0, 2, 7, 2, 5, 5 };
  const guint sizes[4] = { 0, 10, 0, 10 };
  Run run;

  g_test_summary ("Fashion-MNIST from gzipped files: train labels begin 9,0,0,3,...; "
                  "validation-fraction = 0 leaves no validation phase");
  run_init (&run, SOFT_TARGET);
  g_assert_true (run_pipeline (text, &run, NULL, &error));
  g_assert_no_error (error);
  check_ticks (&run, 1, 4, sizes);
  assert_labels_begin (run.labels[DISCO_PHASE_TRAIN], train_first, G_N_ELEMENTS (train_first));
  g_assert_cmpuint (run.labels[DISCO_PHASE_VALIDATION]->len, ==, 0);
  g_assert_cmpuint (run.n_bad_targets, ==, 0);
  g_assert_cmpfloat (run.max_pixel, <=, 1.0f);
  run_clear (&run);
}

static void
test_fixtures (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *raw = source_path ("data", "fixtures", "mnist", NULL);
  g_autofree char *gz = source_path ("data", "fixtures", "mnist-gz", NULL);
  g_autofree char *raw_settings = g_strdup_printf ("path = %s\nbatch-size = 7", raw);
  g_autofree char *gz_settings = g_strdup_printf ("path = %s\nbatch-size = 7", gz);
  g_autofree char *raw_text = loader_pipeline (5, "idx-loader", raw_settings);
  g_autofree char *gz_text = loader_pipeline (5, "idx-loader", gz_settings);
  g_autoptr (DiscoPipeline) pipeline = NULL;
  const guint sizes[4] = { 0, 18, 2, 20 };
  Run a, b, again;

  g_test_summary ("The 20-record fixtures, raw and gzipped, give the same ticks; a "
                  "pipeline runs twice with the same result");
  run_init (&a, SOFT_TARGET);
  run_init (&b, SOFT_TARGET);
  run_init (&again, SOFT_TARGET);
  g_assert_true (run_pipeline (raw_text, &a, &pipeline, &error));
  g_assert_no_error (error);
  g_assert_true (run_pipeline (gz_text, &b, NULL, &error));
  g_assert_no_error (error);
  check_ticks (&a, 1, 7, sizes);
  check_ticks (&b, 1, 7, sizes);
  for (guint p = 0; p < 4; p++)
    g_assert_true (arrays_equal (a.labels[p], b.labels[p]));
  g_assert_true (arrays_equal (a.tick_checksums, b.tick_checksums));

  /* A second run of the same pipeline reloads the data and starts over. */
  g_signal_connect (pipeline, "tick", G_CALLBACK (on_tick), &again);
  g_signal_handlers_disconnect_matched (pipeline, G_SIGNAL_MATCH_DATA, 0, 0, NULL, NULL, &a);
  again.loader = g_object_ref (a.loader);
  g_assert_true (disco_pipeline_run (pipeline, NULL, &error));
  g_assert_no_error (error);
  g_assert_true (arrays_equal (a.tick_checksums, again.tick_checksums));
  g_assert_cmpuint (get_uint (again.loader, "n-train"), ==, 18);

  run_clear (&a);
  run_clear (&b);
  run_clear (&again);
}

/* ---- digits --------------------------------------------------------------------- */

static void
test_digits (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = source_path ("data", "datasets", "digits", "digits.csv.gz", NULL);
  g_autofree char *settings = g_strdup_printf ("path = %s\nbatch-size = 64", path);
  g_autofree char *text = loader_pipeline (1, "digits-loader", settings);
  g_autoptr (DiscoDataset) digits = disco_dataset_load_digits_csv (path, &error);
  const guint sizes[4] = { 0, 1294, 144, 359 };
  Run run;

  g_test_summary ("The 1797 digits: the last 20% (359) are test, the first 10% of the "
                  "other 1438 (144) validation, the remaining 1294 train");
  g_assert_no_error (error);
  g_assert_cmpuint (digits->n_samples, ==, 1797);

  run_init (&run, SOFT_TARGET);
  run.train_ref = digits;
  run.test_ref = digits;
  run.test_ref_first = 1797 - 359;
  g_assert_true (run_pipeline (text, &run, NULL, &error));
  g_assert_no_error (error);

  g_assert_cmpuint (get_uint (run.loader, "n-train"), ==, 1294);
  g_assert_cmpuint (get_uint (run.loader, "n-validation"), ==, 144);
  g_assert_cmpuint (get_uint (run.loader, "n-test"), ==, 359);
  g_assert_cmpfloat (get_double (run.loader, "test-fraction"), ==, 0.2);
  check_ticks (&run, 1, 64, sizes);
  g_assert_cmpuint (g_array_index (run.ticks, DiscoTick, 0).n_ticks, ==, 21 + 3 + 6);
  g_assert_cmpuint (disco_tensor_get_dim (disco_node_get_output (run.loader, "images"), 1), ==, 64);
  g_assert_cmpuint (run.n_bad_rows, ==, 0);
  g_assert_cmpuint (run.n_bad_targets, ==, 0);
  g_assert_cmpuint (run.n_bad_labels, ==, 0);
  g_assert_cmpfloat (run.min_pixel, >=, 0.0f);
  g_assert_cmpfloat (run.max_pixel, ==, 1.0f);
  run_clear (&run);
}

static void
test_digits_fractions (void)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *path = source_path ("data", "datasets", "digits", "digits.csv.gz", NULL);
  g_autofree char *settings =
      g_strdup_printf ("path = %s\ntest-fraction = 0\nvalidation-fraction = 0.25\n"
                       "batch-size = 500\nepochs = 3",
                       path);
  g_autofree char *text = loader_pipeline (1, "digits-loader", settings);
  const guint sizes[4] = { 0, 1348, 449, 0 };
  Run run;

  g_test_summary ("test-fraction = 0 leaves no test phase: the epoch ends with "
                  "validation; 0.25 of 1797 rounds to 449");
  run_init (&run, SOFT_TARGET);
  g_assert_true (run_pipeline (text, &run, NULL, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (get_uint (run.loader, "n-test"), ==, 0);
  check_ticks (&run, 3, 500, sizes);
  run_clear (&run);
}

/* ---- bad inputs ------------------------------------------------------------------- */

typedef enum
{
  DAMAGE_NONE,
  DAMAGE_MAGIC,  /* train-images: magic 0x803 → 0x804 */
  DAMAGE_COUNT,  /* train-labels: count 20 → 19 */
  DAMAGE_REMOVE, /* t10k-labels removed */
  DAMAGE_CSV,    /* a digits CSV with a short line */
} Damage;

typedef struct
{
  const char *name;
  const char *type;
  /* The loader's settings; "@DIR@" becomes the damaged copy's folder,
   * "@MISSING@" a folder that does not exist. */
  const char *settings;
  Damage damage;
  gint code;                /* a DiscoError */
  gboolean fails_at_load;   /* caught by the file parser, not by prepare */
  const char *message_part; /* must occur in the message; "@DIR@" as above */
} BadCase;

static const BadCase bad_cases[] = {
  /* checks: a missing folder is an IO error naming it */
  { "missing-folder", "idx-loader", "path = @MISSING@", DAMAGE_NONE, DISCO_ERROR_IO, FALSE,
    "@MISSING@: no such folder" },
  /* checks: a damaged magic number is a DATA error naming the file */
  { "bad-magic", "idx-loader", "path = @DIR@", DAMAGE_MAGIC, DISCO_ERROR_DATA, FALSE,
    "@DIR@/train-images-idx3-ubyte: bad IDX magic number" },
  /* checks: images and labels of different counts */
  { "count-mismatch", "idx-loader", "path = @DIR@", DAMAGE_COUNT, DISCO_ERROR_DATA, FALSE,
    "@DIR@/train-labels-idx1-ubyte: 19 labels" },
  /* checks: a missing file of the folder is an IO error naming the folder and file */
  { "missing-file", "idx-loader", "path = @DIR@", DAMAGE_REMOVE, DISCO_ERROR_IO, FALSE,
    "t10k-labels-idx1-ubyte" },
  /* checks: ... but not when its phase is off */
  { "missing-file-unused", "idx-loader", "path = @DIR@\nphases = train,validation", DAMAGE_REMOVE,
    0, FALSE, NULL },
  /* checks: the engine's range checks */
  { "batch-size-0", "idx-loader", "path = @DIR@\nbatch-size = 0", DAMAGE_NONE,
    DISCO_ERROR_BAD_VALUE, TRUE, "batch-size" },
  { "batch-size-huge", "idx-loader", "path = @DIR@\nbatch-size = 65537", DAMAGE_NONE,
    DISCO_ERROR_BAD_VALUE, TRUE, "batch-size" },
  { "validation-fraction", "idx-loader", "path = @DIR@\nvalidation-fraction = 0.95", DAMAGE_NONE,
    DISCO_ERROR_BAD_VALUE, TRUE, "validation-fraction" },
  { "soft-target", "idx-loader", "path = @DIR@\nsoft-target = 0.05", DAMAGE_NONE,
    DISCO_ERROR_BAD_VALUE, TRUE, "soft-target" },
  { "epochs-0", "idx-loader", "path = @DIR@\nepochs = 0", DAMAGE_NONE, DISCO_ERROR_BAD_VALUE, TRUE,
    "epochs" },
  { "test-fraction", "digits-loader", "path = @DIR@/digits.csv\ntest-fraction = 1", DAMAGE_NONE,
    DISCO_ERROR_BAD_VALUE, TRUE, "test-fraction" },
  /* checks: a flag that does not exist */
  { "bad-phase", "idx-loader", "path = @DIR@\nphases = train,bogus", DAMAGE_NONE,
    DISCO_ERROR_BAD_VALUE, TRUE, "bogus" },
  /* checks: phases that select nothing to emit */
  { "no-samples", "idx-loader", "path = @DIR@\nphases = validation\nvalidation-fraction = 0",
    DAMAGE_NONE, DISCO_ERROR_BAD_VALUE, FALSE, "no samples to emit" },
  /* checks: an empty path */
  { "empty-path", "idx-loader", "path = ", DAMAGE_NONE, DISCO_ERROR_BAD_VALUE, FALSE,
    "property \"path\"" },
  /* checks: the digits file: missing, malformed */
  { "digits-missing", "digits-loader", "path = @MISSING@/digits.csv.gz", DAMAGE_NONE,
    DISCO_ERROR_IO, FALSE, "@MISSING@/digits.csv.gz: no such file" },
  { "digits-short-line", "digits-loader", "path = @DIR@/digits.csv", DAMAGE_CSV, DISCO_ERROR_DATA,
    FALSE, "@DIR@/digits.csv:2: 3 fields" },
};

static void
copy_file (const char *from, const char *to)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;

  g_file_get_contents (from, &contents, &length, &error);
  g_assert_no_error (error);
  g_file_set_contents (to, contents, length, &error);
  g_assert_no_error (error);
}

/* Overwrites the 4 bytes at @offset of @path with the big-endian @value. */
static void
patch_be32 (const char *path, gsize offset, guint32 value)
{
  g_autoptr (GError) error = NULL;
  g_autofree char *contents = NULL;
  gsize length = 0;
  guint32 be = GUINT32_TO_BE (value);

  g_file_get_contents (path, &contents, &length, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (length, >=, offset + 4);
  memcpy (contents + offset, &be, 4);
  g_file_set_contents (path, contents, length, &error);
  g_assert_no_error (error);
}

static char *
replace_all (const char *text, const char *dir, const char *missing)
{
  g_autoptr (GString) s = g_string_new (text);

  g_string_replace (s, "@DIR@", dir, 0);
  g_string_replace (s, "@MISSING@", missing, 0);
  return g_string_free (g_steal_pointer (&s), FALSE);
}

static void
on_tick_count (DiscoPipeline *pipeline, DiscoTick *tick, gpointer user_data)
{
  (*(guint *) user_data)++;
}

static void
test_bad_input (gconstpointer data)
{
  const BadCase *bad = data;
  static const char *const files[] = { "train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                       "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte" };
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) pipeline = NULL;
  g_autofree char *dir = g_dir_make_tmp ("disco-loaders-XXXXXX", &error);
  g_autofree char *missing = NULL, *settings = NULL, *text = NULL, *output = NULL;
  g_autofree char *message_part = NULL, *summary = NULL;
  guint ticks = 0;
  gboolean ok;

  summary = g_strdup_printf ("Bad input \"%s\": a GError of the right code, naming the "
                             "culprit, before any tick and before the output folder is made",
                             bad->name);
  g_test_summary (summary);
  g_assert_no_error (error);
  missing = g_build_filename (dir, "no-such-folder", NULL);
  output = g_build_filename (dir, "out", NULL);

  /* A copy of the raw fixtures and a small digits CSV, then the damage. */
  for (guint i = 0; i < G_N_ELEMENTS (files); i++)
    {
      g_autofree char *from = source_path ("data", "fixtures", "mnist", files[i], NULL);
      g_autofree char *to = g_build_filename (dir, files[i], NULL);
      copy_file (from, to);
    }
  {
    g_autofree char *csv = g_build_filename (dir, "digits.csv", NULL);
    GString *lines = g_string_new (NULL);

    for (guint i = 0; i < 3; i++)
      {
        for (guint j = 0; j < 64; j++)
          g_string_append_printf (lines, "%u,", (i + j) % 17);
        g_string_append_printf (lines, "%u\n", i);
      }
    if (bad->damage == DAMAGE_CSV)
      g_string_insert (lines, strchr (lines->str, '\n') + 1 - lines->str, "1,2,3\n");
    g_file_set_contents (csv, lines->str, lines->len, &error);
    g_assert_no_error (error);
    g_string_free (lines, TRUE);
  }
  switch (bad->damage)
    {
    case DAMAGE_MAGIC:
      {
        g_autofree char *path = g_build_filename (dir, files[0], NULL);
        patch_be32 (path, 0, 0x00000804);
        break;
      }
    case DAMAGE_COUNT:
      {
        g_autofree char *path = g_build_filename (dir, files[1], NULL);
        patch_be32 (path, 4, 19);
        break;
      }
    case DAMAGE_REMOVE:
      {
        g_autofree char *path = g_build_filename (dir, files[3], NULL);
        g_assert_cmpint (g_unlink (path), ==, 0);
        break;
      }
    case DAMAGE_NONE:
    case DAMAGE_CSV:
    default: break;
    }

  settings = replace_all (bad->settings, dir, missing);
  text = loader_pipeline_full (1, output, bad->type, settings);

  pipeline = disco_pipeline_new_from_string (text, NULL, &error);
  if (bad->fails_at_load)
    {
      g_assert_null (pipeline);
      g_assert_error (error, DISCO_ERROR, bad->code);
    }
  else
    {
      g_assert_no_error (error);
      g_assert_nonnull (pipeline);
      g_signal_connect (pipeline, "tick", G_CALLBACK (on_tick_count), &ticks);
      ok = disco_pipeline_run (pipeline, NULL, &error);
      if (bad->message_part == NULL)
        {
          /* The control row: this one must run. */
          g_assert_no_error (error);
          g_assert_true (ok);
          g_assert_cmpuint (ticks, ==, 2);
        }
      else
        {
          g_assert_false (ok);
          g_assert_error (error, DISCO_ERROR, bad->code);
          g_assert_cmpuint (ticks, ==, 0);
          g_assert_false (g_file_test (output, G_FILE_TEST_EXISTS));
          /* The engine puts the location first, then the node. */
          g_assert_nonnull (strstr (error->message, "node \"data\""));
        }
    }
  if (bad->message_part != NULL)
    {
      message_part = replace_all (bad->message_part, dir, missing);
      if (strstr (error->message, message_part) == NULL)
        g_error ("message \"%s\" lacks \"%s\"", error->message, message_part);
    }
  g_test_message ("%s: %s", bad->name, error != NULL ? error->message : "(ran)");

  /* Clean up the folder. */
  {
    g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
    const char *name;

    while (listing != NULL && (name = g_dir_read_name (listing)) != NULL)
      {
        g_autofree char *path = g_build_filename (dir, name, NULL);
        if (g_file_test (path, G_FILE_TEST_IS_DIR))
          g_rmdir (path);
        else
          g_unlink (path);
      }
    g_rmdir (dir);
  }
}

/* ---- main ----------------------------------------------------------------------------- */

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);

  g_test_add_func ("/disco/loader/mnist/epoch", test_mnist_epoch);
  g_test_add_func ("/disco/loader/mnist/shuffle", test_mnist_shuffle);
  g_test_add_func ("/disco/loader/mnist/limit", test_mnist_limit);
  g_test_add_func ("/disco/loader/mnist/epochs", test_mnist_epochs);
  g_test_add_func ("/disco/loader/mnist/phases", test_mnist_phases);
  g_test_add_func ("/disco/loader/fashion-mnist", test_fashion);
  g_test_add_func ("/disco/loader/fixtures", test_fixtures);
  g_test_add_func ("/disco/loader/digits/split", test_digits);
  g_test_add_func ("/disco/loader/digits/fractions", test_digits_fractions);
  for (guint i = 0; i < G_N_ELEMENTS (bad_cases); i++)
    {
      g_autofree char *path = g_strdup_printf ("/disco/loader/bad/%s", bad_cases[i].name);
      g_test_add_data_func (path, &bad_cases[i], test_bad_input);
    }

  status = g_test_run ();
  g_clear_pointer (&mnist_train, disco_dataset_free);
  g_clear_pointer (&mnist_test, disco_dataset_free);
  return status;
}
