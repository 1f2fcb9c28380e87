/* fuzz-pipeline.c: the pipeline-file parser with overrides
 *
 * The input, split at NUL bytes: the pipeline text, then one override per
 * part. The raw input, NUL bytes included, also goes through the key-file
 * parser as a file would (it must report a NUL, not stop at it). Nothing
 * runs: loading parses, builds and validates.
 */
#include <disco/disco.h>
#include "disco-key-file.h"
#include "fuzz-common.h"

#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr (GPtrArray) parts = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) groups = NULL;
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) pipeline = NULL;
  const uint8_t *start = data, *end = data + size;

  fuzz_init ();
  groups = _disco_key_file_parse ((const char *) data, size, "<fuzz>", DISCO_KEY_FILE_DOTTED_KEYS,
                                  &error);
  g_assert_true ((groups == NULL) == (error != NULL));
  g_clear_error (&error);

  while (start <= end)
    {
      const uint8_t *nul = memchr (start, 0, end - start);
      const uint8_t *stop = nul != NULL ? nul : end;

      g_ptr_array_add (parts, g_strndup ((const char *) start, stop - start));
      start = stop + 1;
    }
  g_ptr_array_add (parts, NULL);
  pipeline = disco_pipeline_new_from_string (g_ptr_array_index (parts, 0),
                                             (const char *const *) parts->pdata + 1, &error);
  g_assert_true ((pipeline == NULL) == (error != NULL));
  return 0;
}
