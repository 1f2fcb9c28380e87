/* fuzz-idx.c: the IDX reader (io/disco-dataset-io.c), raw and gzipped
 *
 * The input: two bytes (little-endian) giving where the images file ends,
 * then the images file, then the labels file.
 */
#include "disco-dataset-io.h"
#include "fuzz-common.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *images = NULL, *labels = NULL;
  g_autoptr (GError) error = NULL;
  DiscoDataset *dataset;
  size_t split;

  fuzz_init ();
  if (size < 2)
    return 0;
  split = (data[0] | (size_t) data[1] << 8) % (size - 1);
  images = fuzz_write ("images", data + 2, split);
  labels = fuzz_write ("labels", data + 2 + split, size - 2 - split);
  dataset = disco_dataset_load_idx (images, labels, &error);
  g_assert_true ((dataset == NULL) == (error != NULL));
  g_assert_true (error == NULL || error->domain == DISCO_ERROR);
  if (dataset != NULL)
    {
      g_free (disco_dataset_class_counts (dataset));
      disco_dataset_free (dataset);
    }
  return 0;
}
