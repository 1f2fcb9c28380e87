/* disco-digits-loader.c */

/**
 * SECTION:node-digits-loader
 * @title: digits-loader
 * @short_description: the 8×8 handwritten digits in minibatches, for quick runs
 * @see_also: #DiscoIdxLoader
 *
 * Reads scikit-learn's 8 × 8 handwritten digits (`digits.csv.gz`, 1797
 * samples; one line per sample: 64 pixel values 0..16, then the label),
 * raw or gzipped. Pixels are divided by 16 into [0, 1] (F = 64).
 *
 * The set comes in one file, so it is split by position: the last
 * #DiscoDigitsLoader:test-fraction of the samples is the test split (0.2:
 * 359 samples), the rest the training samples (1438), of which the first
 * #DiscoDigitsLoader:validation-fraction is the validation split (0.1: 144)
 * and the remainder the train split (1294). Split sizes are rounded to the
 * nearest sample. From there the loader behaves like #DiscoIdxLoader: every
 * epoch emits train (reshuffled each epoch when #DiscoDigitsLoader:shuffle
 * is on), validation and test in minibatches, with the tick context set,
 * then ends the stream after the last epoch.
 *
 * A missing file is a %DISCO_ERROR_IO, a malformed one (a line with the
 * wrong number of fields, a value out of range) a %DISCO_ERROR_DATA; the
 * message names the file and line.
 *
 * Ports: outputs `images` (B × 64, the default output), `targets` (B × 10:
 * #DiscoDigitsLoader:soft-target at the true class, (1 - soft-target) / 9
 * elsewhere) and `labels` (B, the class index as a float).
 *
 * ## Example pipeline
 * |[
 * [data]
 * node = digits-loader
 * path = ../data/datasets/digits/digits.csv.gz
 * batch-size = 32
 * epochs = 20
 * test-fraction = 0.2
 *
 * [h1]
 * node = microcircuit
 * input = data.images
 * ]|
 */

#include "disco-digits-loader.h"
#include "disco-batcher.h"
#include "disco-dataset-io.h"
#include "disco-nodes.h"

#include <string.h>

#define DEFAULT_PATH "../data/datasets/digits/digits.csv.gz"
#define DEFAULT_TEST_FRACTION 0.2
#define MAX_TEST_FRACTION 0.9

struct _DiscoDigitsLoader
{
  DiscoNode parent_instance;

  char *path;
  double test_fraction;
  DiscoBatcherSettings settings;

  DiscoDataset *data;
  DiscoBatcher *batcher;
};

G_DEFINE_FINAL_TYPE (DiscoDigitsLoader, disco_digits_loader, DISCO_TYPE_NODE)
DISCO_NODE_REGISTER_DEFINE (digits_loader, "digits-loader", DISCO_TYPE_DIGITS_LOADER)

enum
{
  PROP_0,
  PROP_PATH,
  PROP_TEST_FRACTION,
  PROP_BATCHER, /* first of the DISCO_BATCHER_N_PROPERTIES shared loader properties */
};

static GParamSpec *properties[PROP_BATCHER];

/* Releases the data of a run. */
static void
disco_digits_loader_clear (DiscoDigitsLoader *self)
{
  g_clear_pointer (&self->batcher, disco_batcher_free);
  g_clear_pointer (&self->data, disco_dataset_free);
}

static void
disco_digits_loader_dispose (GObject *object)
{
  disco_digits_loader_clear (DISCO_DIGITS_LOADER (object));
  G_OBJECT_CLASS (disco_digits_loader_parent_class)->dispose (object);
}

static void
disco_digits_loader_finalize (GObject *object)
{
  DiscoDigitsLoader *self = DISCO_DIGITS_LOADER (object);

  g_free (self->path);
  G_OBJECT_CLASS (disco_digits_loader_parent_class)->finalize (object);
}

static void
disco_digits_loader_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DiscoDigitsLoader *self = DISCO_DIGITS_LOADER (object);

  switch (prop_id)
    {
    case PROP_PATH: g_value_set_string (value, self->path); break;
    case PROP_TEST_FRACTION: g_value_set_double (value, self->test_fraction); break;
    default:
      if (prop_id < PROP_BATCHER
          || !disco_batcher_get_property (&self->settings, prop_id - PROP_BATCHER, value))
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static void
disco_digits_loader_set_property (GObject *object, guint prop_id, const GValue *value,
                                  GParamSpec *pspec)
{
  DiscoDigitsLoader *self = DISCO_DIGITS_LOADER (object);

  switch (prop_id)
    {
    case PROP_PATH:
      g_free (self->path);
      self->path = g_value_dup_string (value);
      break;
    case PROP_TEST_FRACTION: self->test_fraction = g_value_get_double (value); break;
    default:
      if (prop_id < PROP_BATCHER
          || !disco_batcher_set_property (&self->settings, prop_id - PROP_BATCHER, value))
        G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
    }
}

static gboolean
disco_digits_loader_prepare (DiscoNode *node, GError **error)
{
  DiscoDigitsLoader *self = DISCO_DIGITS_LOADER (node);
  DiscoPipeline *pipeline = disco_node_get_pipeline (node);
  g_autofree char *path = NULL;
  GError *dataset_error = NULL;
  DiscoBatcherSplit train_pool, test_split;
  guint n_test;

  disco_digits_loader_clear (self);
  memset (self->settings.n_samples, 0, sizeof self->settings.n_samples);

  if (self->path == NULL || *self->path == '\0')
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "property \"path\" of node \"%s\" is empty: give the digits CSV file",
                   disco_node_get_name (node));
      return FALSE;
    }
  path =
      pipeline != NULL ? disco_pipeline_resolve_path (pipeline, self->path) : g_strdup (self->path);

  self->data = disco_dataset_load_digits_csv (path, &dataset_error);
  if (self->data == NULL)
    {
      disco_batcher_propagate_error (error, dataset_error, node);
      return FALSE;
    }

  /* The test split is the end of the file, the training pool the start. */
  n_test = disco_batcher_split_count (self->data->n_samples, self->test_fraction);
  train_pool = (DiscoBatcherSplit){ self->data, 0, self->data->n_samples - n_test };
  test_split = (DiscoBatcherSplit){ self->data, self->data->n_samples - n_test, n_test };

  self->batcher = disco_batcher_new (&self->settings, disco_node_get_seed (node), &train_pool,
                                     &test_split, error);
  disco_batcher_notify_counts (G_OBJECT (self));
  if (self->batcher == NULL)
    {
      disco_digits_loader_clear (self);
      return FALSE;
    }
  disco_batcher_declare_outputs (node, self->data->n_features);
  return TRUE;
}

static DiscoFlowReturn
disco_digits_loader_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  DiscoDigitsLoader *self = DISCO_DIGITS_LOADER (node);

  g_return_val_if_fail (self->batcher != NULL, DISCO_FLOW_ERROR);
  return disco_batcher_next (self->batcher, node, tick, error);
}

static gboolean
disco_digits_loader_finish (DiscoNode *node, GError **error)
{
  disco_digits_loader_clear (DISCO_DIGITS_LOADER (node));
  return TRUE;
}

static gboolean
disco_digits_loader_resume (DiscoNode *node, guint epoch, GError **error)
{
  disco_batcher_seek_epoch (DISCO_DIGITS_LOADER (node)->batcher, epoch);
  return TRUE;
}

static void
disco_digits_loader_class_init (DiscoDigitsLoaderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);

  object_class->dispose = disco_digits_loader_dispose;
  object_class->finalize = disco_digits_loader_finalize;
  object_class->get_property = disco_digits_loader_get_property;
  object_class->set_property = disco_digits_loader_set_property;
  node_class->prepare = disco_digits_loader_prepare;
  node_class->process = disco_digits_loader_process;
  node_class->resume = disco_digits_loader_resume;
  node_class->finish = disco_digits_loader_finish;

  properties[PROP_PATH] =
      g_param_spec_string ("path", "Path",
                           "The digits CSV file (64 pixel values 0..16, then the label, per "
                           "line), raw or gzipped; relative to the pipeline file's folder",
                           DEFAULT_PATH, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  properties[PROP_TEST_FRACTION] = g_param_spec_double (
      "test-fraction", "Test fraction",
      "Fraction of the samples, taken from the end of the file, that "
      "makes the test split; the rest are the training samples "
      "(0: no test phase)",
      0.0, MAX_TEST_FRACTION, DEFAULT_TEST_FRACTION, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, PROP_BATCHER, properties);
  disco_batcher_install_properties (object_class, PROP_BATCHER);

  /* Produces host tensors; a node on the device takes its copy lazily. */
  disco_node_class_set_runs_on_cuda (node_class, TRUE);
  disco_node_class_set_metadata (node_class, "Digits dataset loader", "Source/Dataset",
                                 "Emits scikit-learn's 8x8 handwritten digits as minibatches "
                                 "of images and soft one-hot targets, epoch by epoch: train "
                                 "(reshuffled), validation, test");
  disco_batcher_add_ports (node_class);
}

static void
disco_digits_loader_init (DiscoDigitsLoader *self)
{
  self->path = g_strdup (DEFAULT_PATH);
  self->test_fraction = DEFAULT_TEST_FRACTION;
  disco_batcher_settings_init (&self->settings);
}
