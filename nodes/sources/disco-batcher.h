/* disco-batcher.h: epochs, phases and minibatches of the dataset loaders
 *
 * Plain C shared by the idx-loader and digits-loader nodes: the properties
 * every loader has (batch size, epochs, split, soft targets, shuffling,
 * limit, phases), the train/validation/test split, and the walk through
 * epochs and phases that fills each tick's outputs and context.
 */
#pragma once

#include <disco/disco.h>

#include "disco-dataset-io.h"

G_BEGIN_DECLS

/**
 * DiscoLoaderPhases:
 * @DISCO_LOADER_PHASE_TRAIN: the training split, reshuffled every epoch
 * @DISCO_LOADER_PHASE_VALIDATION: the validation split, in file order
 * @DISCO_LOADER_PHASE_TEST: the test split, in file order
 *
 * The phases a loader emits in each epoch, always in the order train,
 * validation, test. A pipeline file names them separated by `,`, `|` or
 * `+`, e.g. `phases = train,test`.
 */
typedef enum /*< flags >*/
{
  DISCO_LOADER_PHASE_TRAIN = 1 << 0,
  DISCO_LOADER_PHASE_VALIDATION = 1 << 1,
  DISCO_LOADER_PHASE_TEST = 1 << 2,
} DiscoLoaderPhases;

/**
 * DISCO_LOADER_PHASES_ALL:
 *
 * Every phase: train, validation and test.
 */
#define DISCO_LOADER_PHASES_ALL                                                                    \
  (DISCO_LOADER_PHASE_TRAIN | DISCO_LOADER_PHASE_VALIDATION | DISCO_LOADER_PHASE_TEST)

#define DISCO_TYPE_LOADER_PHASES (disco_loader_phases_get_type ())
GType disco_loader_phases_get_type (void);

/* Defaults of the shared loader properties. */
#define DISCO_BATCHER_DEFAULT_BATCH_SIZE 100
#define DISCO_BATCHER_MAX_BATCH_SIZE 65536
#define DISCO_BATCHER_DEFAULT_EPOCHS 1
#define DISCO_BATCHER_MAX_EPOCHS 1000000
#define DISCO_BATCHER_DEFAULT_VALIDATION_FRACTION 0.1
#define DISCO_BATCHER_MAX_VALIDATION_FRACTION 0.9
#define DISCO_BATCHER_DEFAULT_SOFT_TARGET 0.99
#define DISCO_BATCHER_MIN_SOFT_TARGET 0.1
#define DISCO_BATCHER_DEFAULT_SHUFFLE TRUE
#define DISCO_BATCHER_DEFAULT_LIMIT 0
#define DISCO_BATCHER_DEFAULT_PHASES DISCO_LOADER_PHASES_ALL

/**
 * DiscoBatcherSettings:
 * @batch_size: samples per minibatch (the last of a phase may be smaller)
 * @epochs: passes over the data
 * @validation_fraction: share of the training pool, from its start, held
 *   out as the validation split
 * @soft_target: target value of the true class; the other classes share
 *   the rest equally
 * @shuffle: reshuffle the train split at the start of every epoch
 * @limit: at most this many samples per phase (0: all)
 * @phases: the phases emitted each epoch
 * @n_samples: samples each #DiscoPhase emits per epoch, set by
 *   disco_batcher_new() and kept after the run (read-only properties)
 *
 * The configuration every loader node shares, as its properties set it.
 */
typedef struct
{
  guint batch_size;
  guint epochs;
  double validation_fraction;
  double soft_target;
  gboolean shuffle;
  guint limit;
  DiscoLoaderPhases phases;

  guint n_samples[DISCO_PHASE_TEST + 1];
} DiscoBatcherSettings;

/* Ids of the shared properties, relative to the first id a node gives
 * disco_batcher_install_properties(). */
enum
{
  DISCO_BATCHER_PROP_BATCH_SIZE,
  DISCO_BATCHER_PROP_EPOCHS,
  DISCO_BATCHER_PROP_VALIDATION_FRACTION,
  DISCO_BATCHER_PROP_SOFT_TARGET,
  DISCO_BATCHER_PROP_SHUFFLE,
  DISCO_BATCHER_PROP_LIMIT,
  DISCO_BATCHER_PROP_PHASES,
  DISCO_BATCHER_PROP_N_TRAIN,
  DISCO_BATCHER_PROP_N_VALIDATION,
  DISCO_BATCHER_PROP_N_TEST,
  DISCO_BATCHER_N_PROPERTIES
};

void disco_batcher_settings_init (DiscoBatcherSettings *settings);
void disco_batcher_install_properties (GObjectClass *klass, guint first_id);
gboolean disco_batcher_get_property (const DiscoBatcherSettings *settings, guint id, GValue *value);
gboolean disco_batcher_set_property (DiscoBatcherSettings *settings, guint id, const GValue *value);
void disco_batcher_notify_counts (GObject *object);

void disco_batcher_add_ports (DiscoNodeClass *klass);
void disco_batcher_declare_outputs (DiscoNode *node, guint n_features);

void disco_batcher_propagate_error (GError **error, GError *dataset_error, DiscoNode *node);

guint disco_batcher_split_count (guint n, double fraction);

/**
 * DiscoBatcherSplit:
 * @dataset: (nullable): where the samples are; %NULL for an empty split
 * @first: index of the split's first sample in @dataset
 * @count: number of samples
 *
 * A contiguous range of a dataset's samples.
 */
typedef struct
{
  const DiscoDataset *dataset;
  guint first;
  guint count;
} DiscoBatcherSplit;

typedef struct _DiscoBatcher DiscoBatcher;

DiscoBatcher *disco_batcher_new (DiscoBatcherSettings *settings, guint64 seed,
                                 const DiscoBatcherSplit *train_pool,
                                 const DiscoBatcherSplit *test_split, GError **error);
void disco_batcher_free (DiscoBatcher *self);
guint disco_batcher_get_n_samples (DiscoBatcher *self, DiscoPhase phase);
guint64 disco_batcher_get_n_ticks (DiscoBatcher *self);
void disco_batcher_seek_epoch (DiscoBatcher *self, guint epoch);
DiscoFlowReturn disco_batcher_next (DiscoBatcher *self, DiscoNode *node, DiscoTick *tick,
                                    GError **error);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiscoBatcher, disco_batcher_free)

G_END_DECLS
