/* disco-dataset-io.h: reading MNIST-style IDX files and the 8x8 digits CSV
 *
 * Plain C on GLib/GIO, shared by the dataset loader nodes and the tests.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * DISCO_DATASET_ERROR:
 *
 * Error domain of the dataset readers. Every message starts with the path of
 * the offending file: `path: what went wrong`.
 *
 * It is kept separate from %DISCO_ERROR for now so that this file builds on its
 * own; the codes map one to one onto %DISCO_ERROR_IO (@NOT_FOUND, @IO) and
 * %DISCO_ERROR_DATA (all others) if the engine's domain takes over.
 */
#define DISCO_DATASET_ERROR (disco_dataset_error_quark ())

/**
 * DiscoDatasetError:
 * @DISCO_DATASET_ERROR_NOT_FOUND: the file (or a split's file in a folder) does not exist
 * @DISCO_DATASET_ERROR_IO: the file exists but could not be read
 * @DISCO_DATASET_ERROR_BAD_MAGIC: the IDX magic number is not the expected one
 * @DISCO_DATASET_ERROR_TRUNCATED: the file ends inside the header or the data
 *   (also a gzip stream that stops early, and a CSV with no records)
 * @DISCO_DATASET_ERROR_COUNT_MISMATCH: images and labels files hold different
 *   numbers of samples
 * @DISCO_DATASET_ERROR_BAD_DIMENSIONS: zero or absurdly large counts, rows or
 *   columns; a CSV line with the wrong number of fields
 * @DISCO_DATASET_ERROR_CORRUPT: the content breaks the format: undecodable
 *   gzip data, a label outside 0..9, data past the announced records, a CSV
 *   field that is not a number in range
 *
 * Error codes of the %DISCO_DATASET_ERROR domain.
 */
typedef enum
{
  DISCO_DATASET_ERROR_NOT_FOUND,
  DISCO_DATASET_ERROR_IO,
  DISCO_DATASET_ERROR_BAD_MAGIC,
  DISCO_DATASET_ERROR_TRUNCATED,
  DISCO_DATASET_ERROR_COUNT_MISMATCH,
  DISCO_DATASET_ERROR_BAD_DIMENSIONS,
  DISCO_DATASET_ERROR_CORRUPT,
} DiscoDatasetError;

GQuark disco_dataset_error_quark (void);

/**
 * DISCO_DATASET_N_CLASSES:
 *
 * Number of classes of every dataset these readers know (MNIST, Fashion-MNIST,
 * the 8x8 digits): labels are 0..9.
 */
#define DISCO_DATASET_N_CLASSES 10

/**
 * DISCO_IDX_IMAGES_MAGIC:
 *
 * Magic number of an IDX image file: unsigned bytes, three dimensions
 * (count, rows, cols).
 */
#define DISCO_IDX_IMAGES_MAGIC 0x00000803u

/**
 * DISCO_IDX_LABELS_MAGIC:
 *
 * Magic number of an IDX label file: unsigned bytes, one dimension (count).
 */
#define DISCO_IDX_LABELS_MAGIC 0x00000801u

/**
 * DiscoDataset:
 * @n_samples: number of samples
 * @rows: image height in pixels
 * @cols: image width in pixels
 * @n_features: @rows × @cols, the length of one flattened sample
 * @n_classes: number of classes; every label is below it
 * @images: (array) (element-type gfloat): @n_samples × @n_features pixels,
 *   row-major, sample after sample, scaled to [0, 1]
 * @labels: (array) (element-type guint8): @n_samples class labels
 * @source: the file the images came from, for messages
 *
 * A labelled image dataset held in memory. Free with disco_dataset_free().
 */
typedef struct _DiscoDataset DiscoDataset;

struct _DiscoDataset
{
  guint n_samples;
  guint rows;
  guint cols;
  guint n_features;
  guint n_classes;
  float *images;
  guint8 *labels;
  char *source;
};

DiscoDataset *disco_dataset_load_idx        (const char *images_path,
                                             const char *labels_path,
                                             GError    **error);
DiscoDataset *disco_dataset_load_idx_dir    (const char *dir,
                                             const char *split,
                                             GError    **error);
DiscoDataset *disco_dataset_load_digits_csv (const char *path,
                                             GError    **error);
void          disco_dataset_free            (DiscoDataset *dataset);

guint        *disco_dataset_class_counts    (const DiscoDataset *dataset);
void          disco_dataset_gather_batch    (const DiscoDataset *dataset,
                                             const guint        *indices,
                                             guint               batch_size,
                                             float               target_on,
                                             float              *images_out,
                                             float              *targets_out);

guint        *disco_permutation_new         (guint  n,
                                             GRand *rand);
void          disco_permutation_shuffle     (guint *indices,
                                             guint  n,
                                             GRand *rand);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiscoDataset, disco_dataset_free)

G_END_DECLS
