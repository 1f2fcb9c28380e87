/* fuzz-csv.c: the digits CSV reader (io/disco-dataset-io.c) */
#include "disco-dataset-io.h"
#include "fuzz-common.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *path = NULL;
  g_autoptr (GError) error = NULL;
  DiscoDataset *dataset;

  fuzz_init ();
  path = fuzz_write ("digits.csv", data, size);
  dataset = disco_dataset_load_digits_csv (path, &error);
  g_assert_true ((dataset == NULL) == (error != NULL));
  g_assert_true (error == NULL || error->domain == DISCO_ERROR);
  if (dataset != NULL)
    {
      g_free (disco_dataset_class_counts (dataset));
      disco_dataset_free (dataset);
    }
  return 0;
}
