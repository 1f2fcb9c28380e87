/* disco-idx-loader.c */

/**
 * SECTION:node-idx-loader
 * @title: idx-loader
 * @short_description: MNIST-style datasets in minibatches, epoch by epoch
 * @see_also: #DiscoDigitsLoader
 *
 * Reads a dataset in IDX format, as MNIST and Fashion-MNIST ship it: the
 * folder #DiscoIdxLoader:path holds `train-images-idx3-ubyte`,
 * `train-labels-idx1-ubyte`, `t10k-images-idx3-ubyte` and
 * `t10k-labels-idx1-ubyte`, each raw or gzipped with a `.gz` suffix. Pixels
 * are scaled to [0, 1] and each image flattened row by row (F = 784 for
 * 28 × 28).
 *
 * The first #DiscoIdxLoader:validation-fraction of the train files, in file
 * order, is the validation split (0.1 of MNIST's 60000: 6000), the rest the
 * train split (54000); the t10k files are the test split (10000). Every
 * epoch emits the train split (reshuffled each epoch, reproducibly from the
 * pipeline seed, when #DiscoIdxLoader:shuffle is on), then validation, then
 * test, as minibatches of #DiscoIdxLoader:batch-size; the last minibatch of
 * a phase holds what remains. #DiscoIdxLoader:phases leaves phases out and
 * #DiscoIdxLoader:limit shortens them for quick runs. Each tick carries its
 * epoch, batch, phase, end-of-phase and end-of-epoch flags and the run's
 * total of ticks; after the last epoch the loader ends the stream.
 *
 * The files are read and checked completely before the first tick: a
 * missing folder or file is a %DISCO_ERROR_IO, a malformed file (bad magic
 * number, truncated, counts that disagree) a %DISCO_ERROR_DATA, and the
 * message names the file.
 *
 * Ports: outputs `images` (B × F, the default output), `targets` (B × 10:
 * #DiscoIdxLoader:soft-target at the true class, (1 - soft-target) / 9
 * elsewhere) and `labels` (B, the class index as a float).
 *
 * ## Example pipeline
 * |[
 * [data]
 * node = idx-loader
 * path = ../data/datasets/fashion-mnist
 * batch-size = 100
 * epochs = 50
 * validation-fraction = 0.1
 * soft-target = 0.99
 * # limit = 1000          # quick run: 1000 samples per phase
 * # phases = train,test   # no validation phase
 *
 * [h1]
 * node = microcircuit
 * input = data.images
 * ]|
 */

#include "disco-idx-loader.h"
#include "disco-batcher.h"
#include "disco-dataset-io.h"
#include "disco-nodes.h"

#include <string.h>

#define DEFAULT_PATH "../data/datasets/mnist"

struct _DiscoIdxLoader
{
  DiscoNode parent_instance;

  char *path;
  DiscoBatcherSettings settings;

  DiscoDataset *train_data;
  DiscoDataset *test_data;
  DiscoBatcher *batcher;
};

G_DEFINE_FINAL_TYPE (DiscoIdxLoader, disco_idx_loader, DISCO_TYPE_NODE)
DISCO_NODE_REGISTER_DEFINE (idx_loader, "idx-loader", DISCO_TYPE_IDX_LOADER)

enum
{
  PROP_0,
  PROP_PATH,
  PROP_BATCHER, /* first of the DISCO_BATCHER_N_PROPERTIES shared loader properties */
};

static GParamSpec *properties[PROP_BATCHER];

/* Releases the data of a run. */
static void
disco_idx_loader_clear (DiscoIdxLoader *self)
{
  g_clear_pointer (&self->batcher, disco_batcher_free);
  g_clear_pointer (&self->train_data, disco_dataset_free);
  g_clear_pointer (&self->test_data, disco_dataset_free);
}

static void
disco_idx_loader_dispose (GObject *object)
{
  disco_idx_loader_clear (DISCO_IDX_LOADER (object));
  G_OBJECT_CLASS (disco_idx_loader_parent_class)->dispose (object);
}

static void
disco_idx_loader_finalize (GObject *object)
{
  DiscoIdxLoader *self = DISCO_IDX_LOADER (object);

  g_free (self->path);
  G_OBJECT_CLASS (disco_idx_loader_parent_class)->finalize (object);
}

static void
disco_idx_loader_get_property (GObject *object, guint prop_id, GValue *value, GParamSpec *pspec)
{
  DiscoIdxLoader *self = DISCO_IDX_LOADER (object);

  if (prop_id == PROP_PATH)
    g_value_set_string (value, self->path);
  else if (prop_id < PROP_BATCHER
           || !disco_batcher_get_property (&self->settings, prop_id - PROP_BATCHER, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static void
disco_idx_loader_set_property (GObject *object, guint prop_id, const GValue *value,
                               GParamSpec *pspec)
{
  DiscoIdxLoader *self = DISCO_IDX_LOADER (object);

  if (prop_id == PROP_PATH)
    {
      g_free (self->path);
      self->path = g_value_dup_string (value);
    }
  else if (prop_id < PROP_BATCHER
           || !disco_batcher_set_property (&self->settings, prop_id - PROP_BATCHER, value))
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
}

static gboolean
disco_idx_loader_prepare (DiscoNode *node, GError **error)
{
  DiscoIdxLoader *self = DISCO_IDX_LOADER (node);
  DiscoPipeline *pipeline = disco_node_get_pipeline (node);
  DiscoLoaderPhases phases = self->settings.phases;
  g_autofree char *dir = NULL;
  GError *dataset_error = NULL;
  DiscoBatcherSplit train_pool = { 0 }, test_split = { 0 };

  disco_idx_loader_clear (self);
  memset (self->settings.n_samples, 0, sizeof self->settings.n_samples);

  if (self->path == NULL || *self->path == '\0')
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "property \"path\" of node \"%s\" is empty: give the folder of the "
                   "IDX files",
                   disco_node_get_name (node));
      return FALSE;
    }
  dir =
      pipeline != NULL ? disco_pipeline_resolve_path (pipeline, self->path) : g_strdup (self->path);
  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO,
                   "node \"%s\" (idx-loader): %s: no such folder (property \"path\" is "
                   "\"%s\")",
                   disco_node_get_name (node), dir, self->path);
      return FALSE;
    }

  /* Only the files of the phases in use are read. */
  if (phases & (DISCO_LOADER_PHASE_TRAIN | DISCO_LOADER_PHASE_VALIDATION))
    {
      self->train_data = disco_dataset_load_idx_dir (dir, "train", &dataset_error);
      if (self->train_data == NULL)
        goto dataset_failed;
      train_pool = (DiscoBatcherSplit){ self->train_data, 0, self->train_data->n_samples };
    }
  if (phases & DISCO_LOADER_PHASE_TEST)
    {
      self->test_data = disco_dataset_load_idx_dir (dir, "t10k", &dataset_error);
      if (self->test_data == NULL)
        goto dataset_failed;
      test_split = (DiscoBatcherSplit){ self->test_data, 0, self->test_data->n_samples };
    }

  self->batcher = disco_batcher_new (&self->settings, disco_node_get_seed (node), &train_pool,
                                     &test_split, error);
  disco_batcher_notify_counts (G_OBJECT (self));
  if (self->batcher == NULL)
    {
      disco_idx_loader_clear (self);
      return FALSE;
    }
  disco_batcher_declare_outputs (node, self->train_data != NULL ? self->train_data->n_features
                                                                : self->test_data->n_features);
  return TRUE;

dataset_failed:
  disco_idx_loader_clear (self);
  disco_batcher_propagate_error (error, dataset_error, node);
  return FALSE;
}

static DiscoFlowReturn
disco_idx_loader_process (DiscoNode *node, DiscoTick *tick, GError **error)
{
  DiscoIdxLoader *self = DISCO_IDX_LOADER (node);

  g_return_val_if_fail (self->batcher != NULL, DISCO_FLOW_ERROR);
  return disco_batcher_next (self->batcher, node, tick, error);
}

static gboolean
disco_idx_loader_finish (DiscoNode *node, GError **error)
{
  disco_idx_loader_clear (DISCO_IDX_LOADER (node));
  return TRUE;
}

static gboolean
disco_idx_loader_resume (DiscoNode *node, guint epoch, GError **error)
{
  disco_batcher_seek_epoch (DISCO_IDX_LOADER (node)->batcher, epoch);
  return TRUE;
}

static void
disco_idx_loader_class_init (DiscoIdxLoaderClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  DiscoNodeClass *node_class = DISCO_NODE_CLASS (klass);

  object_class->dispose = disco_idx_loader_dispose;
  object_class->finalize = disco_idx_loader_finalize;
  object_class->get_property = disco_idx_loader_get_property;
  object_class->set_property = disco_idx_loader_set_property;
  node_class->prepare = disco_idx_loader_prepare;
  node_class->process = disco_idx_loader_process;
  node_class->resume = disco_idx_loader_resume;
  node_class->finish = disco_idx_loader_finish;

  properties[PROP_PATH] =
      g_param_spec_string ("path", "Path",
                           "Folder holding train-images-idx3-ubyte, train-labels-idx1-ubyte, "
                           "t10k-images-idx3-ubyte and t10k-labels-idx1-ubyte, each raw or "
                           "gzipped (.gz); relative to the pipeline file's folder",
                           DEFAULT_PATH, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, PROP_BATCHER, properties);
  disco_batcher_install_properties (object_class, PROP_BATCHER);

  /* Produces host tensors; a node on the device takes its copy lazily. */
  disco_node_class_set_runs_on_cuda (node_class, TRUE);
  disco_node_class_set_metadata (node_class, "IDX dataset loader", "Source/Dataset",
                                 "Emits MNIST-style IDX datasets (raw or gzipped) as "
                                 "minibatches of images and soft one-hot targets, epoch by "
                                 "epoch: train (reshuffled), validation, test");
  disco_batcher_add_ports (node_class);
}

static void
disco_idx_loader_init (DiscoIdxLoader *self)
{
  self->path = g_strdup (DEFAULT_PATH);
  disco_batcher_settings_init (&self->settings);
}
