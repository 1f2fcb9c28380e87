/* fuzz-common.h: what the libFuzzer harnesses share
 *
 * Every harness makes GLib criticals and warnings fatal, so a CRITICAL
 * reached from an input is a crash the fuzzer reports, and writes inputs
 * that a reader takes by path to a file in a private temporary folder.
 */
#pragma once

#include <glib.h>
#include <glib/gstdio.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static inline void
fuzz_init (void)
{
  static gboolean done;

  if (done)
    return;
  done = TRUE;
  g_log_set_always_fatal (G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  g_setenv ("DISCO_CUDA", "0", TRUE);
}

static char *fuzz_dir_path;

/* Removes @path and what it holds (two levels: the harnesses make no more). */
static inline void
fuzz_remove_tree (const char *path)
{
  GDir *dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      char *child = g_build_filename (path, name, NULL);

      if (g_file_test (child, G_FILE_TEST_IS_DIR))
        fuzz_remove_tree (child);
      else
        g_remove (child);
      g_free (child);
    }
  if (dir != NULL)
    g_dir_close (dir);
  g_rmdir (path);
}

static inline void
fuzz_remove_dir (void)
{
  fuzz_remove_tree (fuzz_dir_path);
}

/* A private folder, made once and removed at exit. */
static inline const char *
fuzz_dir (void)
{
  if (fuzz_dir_path == NULL)
    {
      fuzz_dir_path = g_dir_make_tmp ("disco-fuzz-XXXXXX", NULL);
      g_assert_nonnull (fuzz_dir_path);
      atexit (fuzz_remove_dir);
    }
  return fuzz_dir_path;
}

/* Writes @size bytes to @name in fuzz_dir(); returns its path. Plain
 * stdio: g_file_set_contents() syncs to disk, a hundred times slower. */
static inline char *
fuzz_write (const char *name, const uint8_t *data, size_t size)
{
  char *path = g_build_filename (fuzz_dir (), name, NULL);
  FILE *file = fopen (path, "wb");

  g_assert_nonnull (file);
  g_assert_true (fwrite (data, 1, size, file) == size);
  g_assert_true (fclose (file) == 0);
  return path;
}
