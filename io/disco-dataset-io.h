/* disco-dataset-io.h: reading MNIST-style IDX files and the 8x8 digits CSV
 *
 * Plain C on GLib/GIO, shared by the dataset loader nodes and the tests;
 * of the engine it needs only the error domain (link libdisco).
 */
#pragma once

#include <glib.h>

#include <disco/disco-error.h>

G_BEGIN_DECLS

/* Errors: %DISCO_ERROR, the one domain of Disco. A file that is missing or
 * cannot be read is %DISCO_ERROR_IO; a file that breaks its format (bad
 * magic, truncated, mismatching counts, absurd dimensions, corrupt gzip
 * data, a label outside 0..9, a bad CSV field) is %DISCO_ERROR_DATA. Every
 * message starts with the path of the offending file: `path: what went
 * wrong` (`path:line: …` for the CSV). */

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
 * @pixels: (array) (element-type guint8) (nullable): @n_samples ×
 *   @n_features pixels as bytes, row-major, sample after sample (IDX files:
 *   the bytes as read), or %NULL when @images holds the values
 * @levels: the value in [0, 1] of each byte of @pixels (b / 255 for IDX)
 * @images: (array) (element-type gfloat) (nullable): @n_samples ×
 *   @n_features pixel values in [0, 1] (the digits CSV, whose values need
 *   not be whole), or %NULL when @pixels holds them
 * @labels: (array) (element-type guint8): @n_samples class labels
 * @source: the file the images came from, for messages
 *
 * A labelled image dataset held in memory: MNIST's 70k images are 55 MB as
 * bytes, where floats would take 220 MB (and their first touch a good part
 * of a short run).  Read values with disco_dataset_pixel() or
 * disco_dataset_copy_images(), minibatches with
 * disco_dataset_gather_batch().  Free with disco_dataset_free().
 */
typedef struct _DiscoDataset DiscoDataset;

struct _DiscoDataset
{
  guint n_samples;
  guint rows;
  guint cols;
  guint n_features;
  guint n_classes;
  guint8 *pixels;
  float levels[256];
  float *images;
  guint8 *labels;
  char *source;
};

DiscoDataset *disco_dataset_load_idx (const char *images_path, const char *labels_path,
                                      GError **error);
DiscoDataset *disco_dataset_load_idx_dir (const char *dir, const char *split, GError **error);
DiscoDataset *disco_dataset_load_digits_csv (const char *path, GError **error);
void disco_dataset_free (DiscoDataset *dataset);

/**
 * disco_dataset_pixel:
 * @dataset: a dataset
 * @index: a value's index, below n_samples × n_features
 *
 * Returns: the value of pixel @index (sample @index / n_features)
 */
static inline float
disco_dataset_pixel (const DiscoDataset *dataset, gsize index)
{
  return dataset->pixels != NULL ? dataset->levels[dataset->pixels[index]] : dataset->images[index];
}

void disco_dataset_copy_images (const DiscoDataset *dataset, guint first, guint n_samples,
                                float *out);

guint *disco_dataset_class_counts (const DiscoDataset *dataset);
void disco_dataset_gather_batch (const DiscoDataset *dataset, const guint *indices,
                                 guint batch_size, float target_on, float *images_out,
                                 float *targets_out);

guint *disco_permutation_new (guint n, GRand *rand);
void disco_permutation_shuffle (guint *indices, guint n, GRand *rand);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiscoDataset, disco_dataset_free)

G_END_DECLS
