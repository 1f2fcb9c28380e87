/* fuzz-state.c: the checkpoint's state.ini reader, disco_checkpoint_verify()
 *
 * The input is state.ini, in a checkpoint folder that also holds one small
 * .npy file ("h1.weight.npy") its [files] manifest may list. When the input
 * has no [integrity] group, the harness appends the one the writer would
 * (the SHA-256 of the lines above), so the fuzzer also reaches the manifest
 * checks behind it.
 */
#define _GNU_SOURCE /* memmem */
#include <disco/disco.h>
#include "fuzz-common.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *dir = g_build_filename (fuzz_dir (), "checkpoint", NULL);
  g_autofree char *npy_path = g_build_filename (dir, "h1.weight.npy", NULL);
  g_autoptr (GString) text = g_string_new_len ((const char *) data, size);
  g_autoptr (GError) error = NULL;
  g_autoptr (GKeyFile) state = NULL;

  fuzz_init ();
  g_mkdir_with_parents (dir, 0700);
  if (!g_file_test (npy_path, G_FILE_TEST_EXISTS))
    {
      const gsize shape[1] = { 2 };
      const float values[2] = { 1, 2 };
      g_autoptr (DiscoTensor) weight = disco_tensor_new_from_values (1, shape, values, 2, NULL);

      g_assert_true (disco_tensor_save_npy (weight, npy_path, NULL));
    }
  if (memmem (data, size, "[integrity]", 11) == NULL)
    {
      g_autofree char *sum = NULL;

      if (text->len > 0 && text->str[text->len - 1] != '\n')
        g_string_append_c (text, '\n');
      sum = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) text->str, text->len);
      g_string_append_printf (text, "[integrity]\nsha256=%s\n", sum);
    }
  g_free (fuzz_write ("checkpoint/state.ini", (const uint8_t *) text->str, text->len));
  state = disco_checkpoint_verify (dir, &error);
  g_assert_true ((state == NULL) == (error != NULL));
  return 0;
}
