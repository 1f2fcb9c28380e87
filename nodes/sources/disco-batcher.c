/* disco-batcher.c: epochs, phases and minibatches of the dataset loaders
 *
 * A loader node hands the batcher two pools of samples: the training pool,
 * whose first validation-fraction becomes the validation split and the rest
 * the train split, and the test split. Each epoch then walks the phases
 * train → validation → test, minibatch by minibatch:
 *
 *   epoch 1: train[0] … train[T-1] | validation[0] … [V-1] | test[0] … [S-1]
 *   epoch 2: (train reshuffled) …
 *
 * The train split is visited in an order shuffled afresh at the start of
 * every epoch (Fisher–Yates from file order, by a GRand seeded with the
 * node's seed and the epoch number, so an epoch's order depends on those
 * two only and a resumed run repeats it). Validation and test keep file order, so their metrics compare
 * across epochs and runs. `limit` keeps the first samples of each phase's
 * order; with shuffling on, every epoch thus trains on a fresh random
 * subset of that size.
 */
#include "disco-batcher.h"
#include "disco-parallel.h"

#include <math.h>
#include <string.h>

G_DEFINE_FLAGS_TYPE (DiscoLoaderPhases, disco_loader_phases,
                     G_DEFINE_ENUM_VALUE (DISCO_LOADER_PHASE_TRAIN, "train"),
                     G_DEFINE_ENUM_VALUE (DISCO_LOADER_PHASE_VALIDATION, "validation"),
                     G_DEFINE_ENUM_VALUE (DISCO_LOADER_PHASE_TEST, "test"))

/* ----- the shared properties ---------------------------------------------- */

/**
 * disco_batcher_settings_init:
 * @settings: settings to fill
 *
 * Sets every field to its default (the DISCO_BATCHER_DEFAULT_* values).
 */
void
disco_batcher_settings_init (DiscoBatcherSettings *settings)
{
  g_return_if_fail (settings != NULL);

  memset (settings, 0, sizeof *settings);
  settings->batch_size = DISCO_BATCHER_DEFAULT_BATCH_SIZE;
  settings->epochs = DISCO_BATCHER_DEFAULT_EPOCHS;
  settings->validation_fraction = DISCO_BATCHER_DEFAULT_VALIDATION_FRACTION;
  settings->soft_target = DISCO_BATCHER_DEFAULT_SOFT_TARGET;
  settings->shuffle = DISCO_BATCHER_DEFAULT_SHUFFLE;
  settings->limit = DISCO_BATCHER_DEFAULT_LIMIT;
  settings->phases = DISCO_BATCHER_DEFAULT_PHASES;
}

/**
 * disco_batcher_install_properties:
 * @klass: a loader node's class
 * @first_id: the property id of the first shared property; the others
 *   follow in the order of the DISCO_BATCHER_PROP_* enum
 *
 * Installs the properties every loader shares: batch-size, epochs,
 * validation-fraction, soft-target, shuffle, limit, phases, and the
 * read-only counts n-train, n-validation and n-test.
 */
void
disco_batcher_install_properties (GObjectClass *klass, guint first_id)
{
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  const GParamFlags ro = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS;
  GParamSpec *pspecs[DISCO_BATCHER_N_PROPERTIES];

  g_return_if_fail (G_IS_OBJECT_CLASS (klass));
  g_return_if_fail (first_id > 0);

  pspecs[DISCO_BATCHER_PROP_BATCH_SIZE] =
      g_param_spec_uint ("batch-size", "Batch size",
                         "Samples per minibatch, i.e. per tick; the last minibatch of a "
                         "phase holds the samples that remain",
                         1, DISCO_BATCHER_MAX_BATCH_SIZE, DISCO_BATCHER_DEFAULT_BATCH_SIZE, rw);
  pspecs[DISCO_BATCHER_PROP_EPOCHS] =
      g_param_spec_uint ("epochs", "Epochs",
                         "Passes over the data; each epoch emits the train, validation "
                         "and test phases in this order, then the run ends",
                         1, DISCO_BATCHER_MAX_EPOCHS, DISCO_BATCHER_DEFAULT_EPOCHS, rw);
  pspecs[DISCO_BATCHER_PROP_VALIDATION_FRACTION] = g_param_spec_double (
      "validation-fraction", "Validation fraction",
      "Fraction of the training samples held out as the validation "
      "split, taken from their start in file order (0: no validation "
      "phase)",
      0.0, DISCO_BATCHER_MAX_VALIDATION_FRACTION, DISCO_BATCHER_DEFAULT_VALIDATION_FRACTION, rw);
  pspecs[DISCO_BATCHER_PROP_SOFT_TARGET] = g_param_spec_double (
      "soft-target", "Soft target",
      "Target value of the true class (1: one-hot targets); the other "
      "9 classes get (1 - soft-target) / 9 each, so every target row "
      "sums to 1",
      DISCO_BATCHER_MIN_SOFT_TARGET, 1.0, DISCO_BATCHER_DEFAULT_SOFT_TARGET, rw);
  pspecs[DISCO_BATCHER_PROP_SHUFFLE] =
      g_param_spec_boolean ("shuffle", "Shuffle",
                            "Reshuffle the train split at the start of every epoch, "
                            "reproducibly from the pipeline seed and the node name; "
                            "validation and test always keep file order",
                            DISCO_BATCHER_DEFAULT_SHUFFLE, rw);
  pspecs[DISCO_BATCHER_PROP_LIMIT] =
      g_param_spec_uint ("limit", "Limit",
                         "At most this many samples per phase and epoch, the first of each "
                         "phase's order, for quick runs (0: all samples)",
                         0, G_MAXUINT, DISCO_BATCHER_DEFAULT_LIMIT, rw);
  pspecs[DISCO_BATCHER_PROP_PHASES] =
      g_param_spec_flags ("phases", "Phases",
                          "Phases each epoch emits, always in the order train, validation, "
                          "test; separate several with ',' (e.g. \"train,test\")",
                          DISCO_TYPE_LOADER_PHASES, DISCO_BATCHER_DEFAULT_PHASES, rw);
  pspecs[DISCO_BATCHER_PROP_N_TRAIN] =
      g_param_spec_uint ("n-train", "Train samples",
                         "Samples the train phase emits per epoch, after limit (0 when the "
                         "phase is off); known once the run is prepared",
                         0, G_MAXUINT, 0, ro);
  pspecs[DISCO_BATCHER_PROP_N_VALIDATION] =
      g_param_spec_uint ("n-validation", "Validation samples",
                         "Samples the validation phase emits per epoch, after limit (0 when "
                         "the phase is off); known once the run is prepared",
                         0, G_MAXUINT, 0, ro);
  pspecs[DISCO_BATCHER_PROP_N_TEST] =
      g_param_spec_uint ("n-test", "Test samples",
                         "Samples the test phase emits per epoch, after limit (0 when the "
                         "phase is off); known once the run is prepared",
                         0, G_MAXUINT, 0, ro);

  for (guint i = 0; i < DISCO_BATCHER_N_PROPERTIES; i++)
    g_object_class_install_property (klass, first_id + i, pspecs[i]);
}

/**
 * disco_batcher_get_property:
 * @settings: the node's settings
 * @id: a property id relative to the first shared one
 * @value: the value to set
 *
 * Returns: %FALSE when @id is not a shared property
 */
gboolean
disco_batcher_get_property (const DiscoBatcherSettings *settings, guint id, GValue *value)
{
  switch (id)
    {
    case DISCO_BATCHER_PROP_BATCH_SIZE: g_value_set_uint (value, settings->batch_size); break;
    case DISCO_BATCHER_PROP_EPOCHS: g_value_set_uint (value, settings->epochs); break;
    case DISCO_BATCHER_PROP_VALIDATION_FRACTION:
      g_value_set_double (value, settings->validation_fraction);
      break;
    case DISCO_BATCHER_PROP_SOFT_TARGET: g_value_set_double (value, settings->soft_target); break;
    case DISCO_BATCHER_PROP_SHUFFLE: g_value_set_boolean (value, settings->shuffle); break;
    case DISCO_BATCHER_PROP_LIMIT: g_value_set_uint (value, settings->limit); break;
    case DISCO_BATCHER_PROP_PHASES: g_value_set_flags (value, settings->phases); break;
    case DISCO_BATCHER_PROP_N_TRAIN:
      g_value_set_uint (value, settings->n_samples[DISCO_PHASE_TRAIN]);
      break;
    case DISCO_BATCHER_PROP_N_VALIDATION:
      g_value_set_uint (value, settings->n_samples[DISCO_PHASE_VALIDATION]);
      break;
    case DISCO_BATCHER_PROP_N_TEST:
      g_value_set_uint (value, settings->n_samples[DISCO_PHASE_TEST]);
      break;
    default: return FALSE;
    }
  return TRUE;
}

/**
 * disco_batcher_set_property:
 * @settings: the node's settings
 * @id: a property id relative to the first shared one
 * @value: the new value, already checked against the pspec's range
 *
 * Returns: %FALSE when @id is not a writable shared property
 */
gboolean
disco_batcher_set_property (DiscoBatcherSettings *settings, guint id, const GValue *value)
{
  switch (id)
    {
    case DISCO_BATCHER_PROP_BATCH_SIZE: settings->batch_size = g_value_get_uint (value); break;
    case DISCO_BATCHER_PROP_EPOCHS: settings->epochs = g_value_get_uint (value); break;
    case DISCO_BATCHER_PROP_VALIDATION_FRACTION:
      settings->validation_fraction = g_value_get_double (value);
      break;
    case DISCO_BATCHER_PROP_SOFT_TARGET: settings->soft_target = g_value_get_double (value); break;
    case DISCO_BATCHER_PROP_SHUFFLE: settings->shuffle = g_value_get_boolean (value); break;
    case DISCO_BATCHER_PROP_LIMIT: settings->limit = g_value_get_uint (value); break;
    case DISCO_BATCHER_PROP_PHASES: settings->phases = g_value_get_flags (value); break;
    default: return FALSE;
    }
  return TRUE;
}

/**
 * disco_batcher_notify_counts:
 * @object: a loader node
 *
 * Emits ::notify for n-train, n-validation and n-test.
 */
void
disco_batcher_notify_counts (GObject *object)
{
  GObjectClass *klass = G_OBJECT_GET_CLASS (object);
  static const char *const names[] = { "n-train", "n-validation", "n-test" };

  for (guint i = 0; i < G_N_ELEMENTS (names); i++)
    g_object_notify_by_pspec (object, g_object_class_find_property (klass, names[i]));
}

/* ----- ports and errors ------------------------------------------------------ */

/**
 * disco_batcher_add_ports:
 * @klass: a loader node's class
 *
 * Declares the outputs every loader has: images (the default output),
 * targets and labels.
 */
void
disco_batcher_add_ports (DiscoNodeClass *klass)
{
  disco_node_class_add_port (klass, DISCO_PORT_OUTPUT, "images", DISCO_PORT_FLAG_NONE,
                             "B × F images, flattened row by row, pixels scaled to [0, 1]");
  disco_node_class_add_port (klass, DISCO_PORT_OUTPUT, "targets", DISCO_PORT_FLAG_NONE,
                             "B × 10 soft one-hot targets: soft-target at the true class, "
                             "(1 - soft-target) / 9 elsewhere");
  disco_node_class_add_port (klass, DISCO_PORT_OUTPUT, "labels", DISCO_PORT_FLAG_NONE,
                             "B class indices 0..9, as floats");
}

/**
 * disco_batcher_declare_outputs:
 * @node: a loader node, in its prepare hook
 * @n_features: the length F of one flattened image
 *
 * Declares the shapes of the outputs, with any batch size.
 */
void
disco_batcher_declare_outputs (DiscoNode *node, guint n_features)
{
  const gsize images[] = { 0, n_features };
  const gsize targets[] = { 0, DISCO_DATASET_N_CLASSES };
  const gsize labels[] = { 0 };

  disco_node_declare_output (node, "images", 2, images);
  disco_node_declare_output (node, "targets", 2, targets);
  disco_node_declare_output (node, "labels", 1, labels);
}

static void
prefix_node (GError **error, DiscoNode *node)
{
  const char *type_name = disco_registry_get_name_for_type (G_OBJECT_TYPE (node));

  g_prefix_error (error, "node \"%s\" (%s): ", disco_node_get_name (node),
                  type_name != NULL ? type_name : G_OBJECT_TYPE_NAME (node));
}

/**
 * disco_batcher_propagate_error:
 * @error: (out) (optional): the error to set
 * @dataset_error: (transfer full): an error of the dataset readers
 * @node: the loader that read the file
 *
 * Passes on an error of the dataset readers, a %DISCO_ERROR already (a
 * missing or unreadable file is %DISCO_ERROR_IO, a malformed one
 * %DISCO_ERROR_DATA); an error of another domain becomes
 * %DISCO_ERROR_FAILED. The message, which starts with the file's path, gets
 * the node's name and type in front: `node "data" (idx-loader): path: what`.
 */
void
disco_batcher_propagate_error (GError **error, GError *dataset_error, DiscoNode *node)
{
  DiscoError code;

  g_return_if_fail (dataset_error != NULL);

  code = dataset_error->domain == DISCO_ERROR ? dataset_error->code : DISCO_ERROR_FAILED;
  g_set_error_literal (error, DISCO_ERROR, code, dataset_error->message);
  g_error_free (dataset_error);
  prefix_node (error, node);
}

/**
 * disco_batcher_split_count:
 * @n: number of samples
 * @fraction: a fraction in [0, 1]
 *
 * The size of a split that takes @fraction of @n samples, rounded to the
 * nearest integer (halves up): 0.1 of 60000 is 6000, 0.2 of 1797 is 359.
 *
 * Returns: the count, at most @n
 */
guint
disco_batcher_split_count (guint n, double fraction)
{
  double count = floor ((double) n * fraction + 0.5);

  if (count <= 0.0)
    return 0;
  return count >= (double) n ? n : (guint) count;
}

/* ----- the walk through epochs and phases -------------------------------------- */

/* One phase: the samples it visits, in order. */
typedef struct
{
  DiscoPhase phase;
  const DiscoDataset *dataset;
  guint *order;  /* sample indices into dataset, n_total of them */
  guint first;   /* the split's first sample in dataset */
  guint n_total; /* the split's size */
  guint n_emit;  /* samples emitted per epoch: n_total after limit */
  guint n_batches;
} Phase;

struct _DiscoBatcher
{
  guint batch_size;
  guint epochs;
  float soft_target;
  gboolean shuffle;

  guint n_features;
  guint64 seed;
  Phase phases[3];  /* train, validation, test */
  Phase *active[3]; /* the phases with samples to emit, in order */
  guint n_active;
  guint64 n_ticks;

  /* where the walk stands: the next tick is batch `batch` of
   * active[`phase`] in epoch `epoch` */
  guint epoch;
  guint phase;
  guint batch;
};

static void
phase_init (Phase *phase, DiscoPhase which, const DiscoBatcherSplit *split, gboolean on,
            guint limit, guint batch_size)
{
  phase->phase = which;
  phase->dataset = split->count > 0 ? split->dataset : NULL;
  phase->n_total = phase->dataset != NULL ? split->count : 0;
  phase->first = split->first;
  phase->order = g_new (guint, MAX (phase->n_total, 1));
  for (guint i = 0; i < phase->n_total; i++)
    phase->order[i] = split->first + i;
  phase->n_emit = on ? phase->n_total : 0;
  if (limit > 0)
    phase->n_emit = MIN (phase->n_emit, limit);
  phase->n_batches = (phase->n_emit + batch_size - 1) / batch_size;
}

static gboolean
check_split (const DiscoBatcherSplit *split)
{
  if (split->count == 0)
    return TRUE;
  g_return_val_if_fail (split->dataset != NULL, FALSE);
  g_return_val_if_fail (split->first <= split->dataset->n_samples
                            && split->count <= split->dataset->n_samples - split->first,
                        FALSE);
  g_return_val_if_fail (split->dataset->n_classes == DISCO_DATASET_N_CLASSES, FALSE);
  return TRUE;
}

/**
 * disco_batcher_new:
 * @settings: the loader's settings; their @n_samples are filled in
 * @seed: seed of the shuffling, e.g. disco_node_get_seed()
 * @train_pool: the training samples: the first validation-fraction of them
 *   make the validation split, the rest the train split
 * @test_split: the test samples
 * @error: return location for a #GError
 *
 * Sets up the walk through @settings' epochs. The datasets must outlive the
 * batcher.
 *
 * Fails with %DISCO_ERROR_DATA when the two pools hold images of different
 * sizes, and with %DISCO_ERROR_BAD_VALUE when no selected phase has a sample
 * to emit.
 *
 * Returns: (transfer full) (nullable): the batcher, or %NULL with @error set
 */
DiscoBatcher *
disco_batcher_new (DiscoBatcherSettings *settings, guint64 seed,
                   const DiscoBatcherSplit *train_pool, const DiscoBatcherSplit *test_split,
                   GError **error)
{
  g_autoptr (DiscoBatcher) self = NULL;
  DiscoBatcherSplit validation, train;
  guint n_validation;
  guint64 ticks_per_epoch = 0;

  g_return_val_if_fail (settings != NULL, NULL);
  g_return_val_if_fail (settings->batch_size > 0, NULL);
  g_return_val_if_fail (train_pool != NULL && test_split != NULL, NULL);
  g_return_val_if_fail (check_split (train_pool) && check_split (test_split), NULL);

  memset (settings->n_samples, 0, sizeof settings->n_samples);

  if (train_pool->count > 0 && test_split->count > 0
      && train_pool->dataset->n_features != test_split->dataset->n_features)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                   "%s: images of %u × %u pixels, but %s holds %u × %u",
                   test_split->dataset->source, test_split->dataset->rows,
                   test_split->dataset->cols, train_pool->dataset->source,
                   train_pool->dataset->rows, train_pool->dataset->cols);
      return NULL;
    }

  n_validation = disco_batcher_split_count (train_pool->count, settings->validation_fraction);
  validation = (DiscoBatcherSplit){ train_pool->dataset, train_pool->first, n_validation };
  train = (DiscoBatcherSplit){ train_pool->dataset, train_pool->first + n_validation,
                               train_pool->count - n_validation };

  self = g_new0 (DiscoBatcher, 1);
  self->batch_size = settings->batch_size;
  self->epochs = settings->epochs;
  self->soft_target = (float) settings->soft_target;
  self->shuffle = settings->shuffle;
  self->seed = seed;
  self->n_features = train_pool->count > 0   ? train_pool->dataset->n_features
                     : test_split->count > 0 ? test_split->dataset->n_features
                                             : 0;

  phase_init (&self->phases[0], DISCO_PHASE_TRAIN, &train,
              settings->phases & DISCO_LOADER_PHASE_TRAIN, settings->limit, self->batch_size);
  phase_init (&self->phases[1], DISCO_PHASE_VALIDATION, &validation,
              settings->phases & DISCO_LOADER_PHASE_VALIDATION, settings->limit, self->batch_size);
  phase_init (&self->phases[2], DISCO_PHASE_TEST, test_split,
              settings->phases & DISCO_LOADER_PHASE_TEST, settings->limit, self->batch_size);

  for (guint i = 0; i < G_N_ELEMENTS (self->phases); i++)
    {
      Phase *phase = &self->phases[i];

      settings->n_samples[phase->phase] = phase->n_emit;
      if (phase->n_emit > 0)
        self->active[self->n_active++] = phase;
      ticks_per_epoch += phase->n_batches;
    }
  if (self->n_active == 0)
    {
      g_autoptr (GFlagsClass) flags = g_type_class_ref (DISCO_TYPE_LOADER_PHASES);
      GString *names = g_string_new (NULL);

      for (guint i = 0; i < flags->n_values; i++)
        if (settings->phases & flags->values[i].value)
          g_string_append_printf (names, "%s%s", names->len ? "," : "",
                                  flags->values[i].value_nick);
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "no samples to emit: phases \"%s\" select only empty splits "
                   "(check phases and the split fractions)",
                   names->str);
      g_string_free (names, TRUE);
      return NULL;
    }
  self->n_ticks = ticks_per_epoch * self->epochs;
  self->epoch = 1;
  return g_steal_pointer (&self);
}

/**
 * disco_batcher_free:
 * @self: (nullable) (transfer full): a batcher
 *
 * Frees @self (not the datasets it walks).
 */
void
disco_batcher_free (DiscoBatcher *self)
{
  if (self == NULL)
    return;
  for (guint i = 0; i < G_N_ELEMENTS (self->phases); i++)
    g_free (self->phases[i].order);
  g_free (self);
}

/**
 * disco_batcher_get_n_samples:
 * @self: a batcher
 * @phase: a phase
 *
 * Returns: the samples @phase emits per epoch
 */
guint
disco_batcher_get_n_samples (DiscoBatcher *self, DiscoPhase phase)
{
  g_return_val_if_fail (self != NULL, 0);

  for (guint i = 0; i < G_N_ELEMENTS (self->phases); i++)
    if (self->phases[i].phase == phase)
      return self->phases[i].n_emit;
  return 0;
}

/**
 * disco_batcher_get_n_ticks:
 * @self: a batcher
 *
 * Returns: the ticks of the whole run, every epoch together
 */
guint64
disco_batcher_get_n_ticks (DiscoBatcher *self)
{
  g_return_val_if_fail (self != NULL, 0);
  return self->n_ticks;
}

static float *
output_buffer (DiscoNode *node, const char *port, guint n_dims, const gsize *shape, GError **error)
{
  DiscoTensor *tensor = disco_node_ensure_output (node, port, n_dims, shape);

  return tensor != NULL ? disco_tensor_write_host (tensor, error) : NULL;
}

/* Epoch e's order is file order shuffled by a generator seeded from the
 * node's seed and e alone: no generator state carries from one epoch to the
 * next, so a run resumed at epoch e sees the very order it would have. */
static void
shuffle_for_epoch (DiscoBatcher *self, Phase *phase)
{
  guint32 seed_words[3] = { (guint32) self->seed, (guint32) (self->seed >> 32), self->epoch };
  GRand *rand = g_rand_new_with_seed_array (seed_words, G_N_ELEMENTS (seed_words));

  for (guint i = 0; i < phase->n_total; i++)
    phase->order[i] = phase->first + i;
  disco_permutation_shuffle (phase->order, phase->n_total, rand);
  g_rand_free (rand);
}

/**
 * disco_batcher_seek_epoch:
 * @self: a batcher
 * @epoch: the epoch the next tick starts, from 1
 *
 * Continues the walk at the start of @epoch (for a resumed run).
 */
void
disco_batcher_seek_epoch (DiscoBatcher *self, guint epoch)
{
  g_return_if_fail (self != NULL && epoch >= 1);
  self->epoch = epoch;
  self->phase = 0;
  self->batch = 0;
}

/* Samples per piece of gather(): a minibatch of 100 in two. */
#define GATHER_PIECE_MIN_SAMPLES 32

typedef struct
{
  const DiscoDataset *dataset;
  const guint *indices;
  guint count;
  float target_on;
  float *images, *targets;
  gsize n_pieces;
} GatherJob;

static void
gather_piece (gsize piece, gpointer data)
{
  const GatherJob *job = data;
  const gsize first = DISCO_PARALLEL_PIECE_FIRST (piece, job->n_pieces, job->count);
  const gsize last = DISCO_PARALLEL_PIECE_LAST (piece, job->n_pieces, job->count);

  disco_dataset_gather_batch (job->dataset, job->indices + first, (guint) (last - first),
                              job->target_on, job->images + first * job->dataset->n_features,
                              job->targets + first * DISCO_DATASET_N_CLASSES);
}

/* disco_dataset_gather_batch() in blocks of samples on disco-parallel's
 * threads (the same values): converting a minibatch's pixels (78,400 on
 * MNIST) was a serial stretch of every tick that the other threads waited
 * out. */
static void
gather (const DiscoDataset *dataset, const guint *indices, guint count, float target_on,
        float *images, float *targets)
{
  GatherJob job = { dataset, indices, count, target_on, images, targets, 1 };

  job.n_pieces = disco_parallel_pieces (count, GATHER_PIECE_MIN_SAMPLES, DISCO_PARALLEL_MAX_PIECES);
  disco_parallel_run (job.n_pieces, gather_piece, &job);
}

/**
 * disco_batcher_next:
 * @self: a batcher
 * @node: the loader, whose images, targets and labels outputs get the minibatch
 * @tick: the tick to describe
 * @error: return location for a #GError
 *
 * Emits the next minibatch and fills in @tick (epoch, batch, phase, flags,
 * n_ticks, n_epochs, batch_size), unless an earlier source in the tick
 * order already did: the first source describes the tick.
 *
 * Returns: %DISCO_FLOW_OK, %DISCO_FLOW_EOS after the last epoch, or
 *   %DISCO_FLOW_ERROR with @error set
 */
DiscoFlowReturn
disco_batcher_next (DiscoBatcher *self, DiscoNode *node, DiscoTick *tick, GError **error)
{
  Phase *phase;
  guint start, count;
  gsize shape[2];
  float *images, *targets, *labels;
  DiscoTickFlags flags = DISCO_TICK_FLAG_NONE;

  g_return_val_if_fail (self != NULL, DISCO_FLOW_ERROR);
  g_return_val_if_fail (DISCO_IS_NODE (node), DISCO_FLOW_ERROR);
  g_return_val_if_fail (tick != NULL, DISCO_FLOW_ERROR);

  if (self->epoch > self->epochs)
    return DISCO_FLOW_EOS;

  phase = self->active[self->phase];
  if (self->batch == 0 && phase->phase == DISCO_PHASE_TRAIN && self->shuffle)
    shuffle_for_epoch (self, phase);

  start = self->batch * self->batch_size;
  count = MIN (self->batch_size, phase->n_emit - start);

  shape[0] = count;
  shape[1] = self->n_features;
  if ((images = output_buffer (node, "images", 2, shape, error)) == NULL)
    return DISCO_FLOW_ERROR;
  shape[1] = DISCO_DATASET_N_CLASSES;
  if ((targets = output_buffer (node, "targets", 2, shape, error)) == NULL)
    return DISCO_FLOW_ERROR;
  if ((labels = output_buffer (node, "labels", 1, shape, error)) == NULL)
    return DISCO_FLOW_ERROR;

  gather (phase->dataset, phase->order + start, count, self->soft_target, images, targets);
  for (guint i = 0; i < count; i++)
    labels[i] = phase->dataset->labels[phase->order[start + i]];

  if (self->batch + 1 == phase->n_batches)
    {
      flags |= DISCO_TICK_FLAG_PHASE_END;
      if (self->phase + 1 == self->n_active)
        flags |= DISCO_TICK_FLAG_EPOCH_END;
    }

  if (tick->epoch == 0 && tick->phase == DISCO_PHASE_NONE)
    {
      tick->epoch = self->epoch;
      tick->batch = self->batch;
      tick->phase = phase->phase;
      tick->flags |= flags;
      tick->n_ticks = self->n_ticks;
      tick->n_epochs = self->epochs;
      tick->batch_size = count;
    }

  /* Step to the next tick's position. */
  if (!(flags & DISCO_TICK_FLAG_PHASE_END))
    self->batch++;
  else
    {
      self->batch = 0;
      if (++self->phase == self->n_active)
        {
          self->phase = 0;
          self->epoch++;
        }
    }
  return DISCO_FLOW_OK;
}
