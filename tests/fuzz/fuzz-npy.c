/* fuzz-npy.c: the .npy reader (disco/disco-tensor-io.c) */
#include <disco/disco.h>
#include "fuzz-common.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *path = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoTensor) tensor = NULL;

  fuzz_init ();
  path = fuzz_write ("x.npy", data, size);
  tensor = disco_tensor_load_npy (path, &error);
  g_assert_true ((tensor == NULL) == (error != NULL));
  if (tensor != NULL)
    {
      g_autofree char *again = g_build_filename (fuzz_dir (), "y.npy", NULL);
      g_assert_true (disco_tensor_save_npy (tensor, again, NULL));
    }
  return 0;
}
