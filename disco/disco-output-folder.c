/* disco-output-folder.c: what a run keeps in its output folder besides its
 * results
 *
 * One run per folder: a run holds <output-dir>/.disco/lock (flock, and the
 * holder's "pid host" inside) from before it reads a checkpoint until after
 * its last file is written. A second run is refused, naming the holder; a
 * lock left by a process that died is taken over with a note.
 *
 * What a run wrote: every path built by disco_pipeline_build_output_path()
 * during a run is appended to <output-dir>/.disco/outputs before the file is
 * written, so DISCO_OUTPUT_MODE_OVERWRITE removes exactly the previous run's
 * files (and results.json and the checkpoint folders), never a file the run
 * did not write, even after a crash.
 */
#include "disco-output-folder.h"
#include "disco-error.h"
#include "disco-pipeline.h"

#include <errno.h>
#include <fcntl.h>
#include <glib/gstdio.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOCK_NAME "lock"
#define OUTPUTS_NAME "outputs"

struct _DiscoOutputLock
{
  char *dir;
  char *path;
  int fd;
  gboolean created_dir;
};

/* ----- the lock -------------------------------------------------------------- */

/* "pid host" of the lock's last holder; FALSE when the file names none. */
static gboolean
read_holder (int fd, gint64 *pid, char **host)
{
  char text[256];
  ssize_t n = pread (fd, text, sizeof text - 1, 0);
  g_auto (GStrv) words = NULL;

  if (n <= 0)
    return FALSE;
  text[n] = '\0';
  words = g_strsplit_set (g_strstrip (text), " \n", 3);
  if (words[0] == NULL || words[1] == NULL
      || !g_ascii_string_to_signed (words[0], 10, 1, G_MAXINT, pid, NULL))
    return FALSE;
  *host = g_strdup (words[1]);
  return TRUE;
}

static gboolean
process_exists (gint64 pid)
{
  return kill ((pid_t) pid, 0) == 0 || errno == EPERM;
}

static void
set_busy_error (GError **error, const char *dir, const char *path, gint64 pid, const char *host)
{
  if (pid > 0)
    g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO,
                 "%s: the output folder is in use by another run: process %" G_GINT64_FORMAT
                 " on %s holds %s; wait for it to end, or use another output folder",
                 dir, pid, host, path);
  else
    g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO,
                 "%s: the output folder is in use by another run (it holds %s); wait for "
                 "it to end, or use another output folder",
                 dir, path);
}

/**
 * _disco_output_lock_acquire:
 * @dir: the output folder; created when missing
 * @error: return location for a #GError
 *
 * Makes the caller the only run writing @dir, until
 * _disco_output_lock_release().
 *
 * Returns: (transfer full) (nullable): the lock, or %NULL with @error set
 *   (%DISCO_ERROR_IO) when another run holds it or a folder cannot be made
 */
DiscoOutputLock *
_disco_output_lock_acquire (const char *dir, GError **error)
{
  g_autofree char *meta = g_build_filename (dir, DISCO_OUTPUT_FOLDER_META, NULL);
  g_autofree char *path = g_build_filename (meta, LOCK_NAME, NULL);
  gboolean created = !g_file_test (dir, G_FILE_TEST_EXISTS);
  const char *here = g_get_host_name ();
  g_autofree char *previous_host = NULL;
  g_autofree char *mine = NULL;
  gint64 previous_pid = 0;
  DiscoOutputLock *lock;
  int fd = -1;

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot create output folder: %s", dir,
                   g_strerror (saved));
      return NULL;
    }
  /* A holder that releases unlinks the file: what we locked must still be
   * the file at @path, else try again. */
  for (guint attempt = 0; attempt < 20 && fd < 0; attempt++)
    {
      struct stat opened, named;

      if (g_mkdir_with_parents (meta, 0755) != 0
          || (fd = g_open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0)
        {
          int saved = errno;
          if (saved == ENOENT)
            continue;
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot open the lock: %s", path,
                       g_strerror (saved));
          goto fail;
        }
      if (flock (fd, LOCK_EX | LOCK_NB) != 0)
        {
          int saved = errno;
          gint64 pid = 0;
          g_autofree char *host = NULL;
          gboolean named_holder = read_holder (fd, &pid, &host);

          if (saved == EWOULDBLOCK ||
              /* No flock here (some network file systems): trust a live pid. */
              (named_holder && (g_strcmp0 (host, here) != 0 || process_exists (pid))))
            {
              set_busy_error (error, dir, path, named_holder ? pid : 0, host);
              close (fd);
              goto fail;
            }
        }
      if (fstat (fd, &opened) != 0 || g_stat (path, &named) != 0 || opened.st_ino != named.st_ino
          || opened.st_dev != named.st_dev)
        {
          close (fd);
          fd = -1;
        }
    }
  if (fd < 0)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot take the lock", path);
      goto fail;
    }

  /* A lock file left behind names a process that died without releasing it
   * (killed, or its machine crashed). On this host the free flock proves it
   * gone; a lock from another host may be held through a file system whose
   * locks do not reach here, so only its owner may remove it. */
  if (read_holder (fd, &previous_pid, &previous_host))
    {
      if (g_strcmp0 (previous_host, here) != 0)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO,
                       "%s: the output folder is in use by another run: process %" G_GINT64_FORMAT
                       " on %s holds %s; if that run is gone, remove %s",
                       dir, previous_pid, previous_host, path, path);
          close (fd);
          goto fail;
        }
      g_message ("%s: taking over the lock of process %" G_GINT64_FORMAT " on %s, "
                 "which %s",
                 path, previous_pid, previous_host,
                 process_exists (previous_pid) ? "no longer holds it" : "is gone");
    }
  mine = g_strdup_printf ("%ld %s\n", (long) getpid (), here);
  if (ftruncate (fd, 0) != 0 || pwrite (fd, mine, strlen (mine), 0) != (ssize_t) strlen (mine))
    {
      int saved = errno;
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot write: %s", path,
                   g_strerror (saved));
      g_unlink (path);
      close (fd);
      goto fail;
    }

  lock = g_new0 (DiscoOutputLock, 1);
  lock->dir = g_strdup (dir);
  lock->path = g_steal_pointer (&path);
  lock->fd = fd;
  lock->created_dir = created;
  return lock;

fail:
  g_rmdir (meta);
  if (created)
    g_rmdir (dir);
  return NULL;
}

/* Releases the lock; removes .disco/ and the output folder when they are
 * empty and this run made them (a run that failed before writing leaves
 * nothing). */
void
_disco_output_lock_release (DiscoOutputLock *lock)
{
  g_autofree char *meta = NULL;

  if (lock == NULL)
    return;
  meta = g_path_get_dirname (lock->path);
  g_unlink (lock->path);
  close (lock->fd);
  g_rmdir (meta);
  if (lock->created_dir)
    g_rmdir (lock->dir);
  g_free (lock->dir);
  g_free (lock->path);
  g_free (lock);
}

/* ----- what a run wrote ------------------------------------------------------ */

/* Only a plain relative path inside the folder is ever removed. */
static gboolean
safe_relative (const char *relative)
{
  g_auto (GStrv) parts = NULL;

  if (*relative == '\0' || g_path_is_absolute (relative))
    return FALSE;
  parts = g_strsplit (relative, "/", -1);
  for (guint i = 0; parts[i] != NULL; i++)
    if (strcmp (parts[i], "..") == 0 || strcmp (parts[i], ".") == 0 || *parts[i] == '\0'
        || (i == 0 && strcmp (parts[i], DISCO_OUTPUT_FOLDER_META) == 0))
      return FALSE;
  return TRUE;
}

/**
 * _disco_output_folder_record:
 * @dir: the output folder, locked by the caller
 * @relative: a path inside it, about to be written
 * @error: return location for a #GError
 *
 * Appends @relative to the folder's list of outputs (one that is not a
 * plain path inside the folder is not listed).
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
_disco_output_folder_record (const char *dir, const char *relative, GError **error)
{
  g_autofree char *path = g_build_filename (dir, DISCO_OUTPUT_FOLDER_META, OUTPUTS_NAME, NULL);
  g_autofree char *line = g_strconcat (relative, "\n", NULL);
  gsize length = strlen (line);
  int fd;

  if (!safe_relative (relative))
    return TRUE; /* never removed, so not listed */
  fd = g_open (path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0 || write (fd, line, length) != (ssize_t) length)
    {
      int saved = errno;
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot record an output: %s", path,
                   g_strerror (saved));
      if (fd >= 0)
        close (fd);
      return FALSE;
    }
  close (fd);
  return TRUE;
}

/* The outputs the folder's runs recorded, each once, in order. */
char **
_disco_output_folder_list_outputs (const char *dir)
{
  g_autofree char *path = g_build_filename (dir, DISCO_OUTPUT_FOLDER_META, OUTPUTS_NAME, NULL);
  g_autofree char *text = NULL;
  g_auto (GStrv) lines = NULL;
  g_autoptr (GHashTable) seen = g_hash_table_new (g_str_hash, g_str_equal);
  GPtrArray *list = g_ptr_array_new ();

  if (g_file_get_contents (path, &text, NULL, NULL))
    {
      lines = g_strsplit (text, "\n", -1);
      for (guint i = 0; lines[i] != NULL; i++)
        if (safe_relative (lines[i]) && g_hash_table_add (seen, lines[i]))
          g_ptr_array_add (list, g_strdup (lines[i]));
    }
  g_ptr_array_add (list, NULL);
  return (char **) g_ptr_array_free (list, FALSE);
}

/* What in @dir shows a previous run, e.g. "checkpoint/state.ini, results.json
 * and 3 more files it wrote"; NULL when nothing does. */
char *
_disco_output_folder_describe_run (const char *dir)
{
  static const char *const marks[] = { "checkpoint/" DISCO_CHECKPOINT_STATE, "results.json" };
  g_auto (GStrv) outputs = _disco_output_folder_list_outputs (dir);
  GString *what = g_string_new (NULL);
  guint more = 0;

  for (guint i = 0; i < G_N_ELEMENTS (marks); i++)
    {
      g_autofree char *path = g_build_filename (dir, marks[i], NULL);
      if (g_file_test (path, G_FILE_TEST_EXISTS))
        g_string_append_printf (what, "%s%s", what->len ? ", " : "", marks[i]);
    }
  for (guint i = 0; outputs[i] != NULL; i++)
    {
      g_autofree char *path = g_build_filename (dir, outputs[i], NULL);
      if (strcmp (outputs[i], "results.json") != 0 && g_file_test (path, G_FILE_TEST_EXISTS))
        more++;
    }
  if (more > 0)
    g_string_append_printf (what, "%s%u %sfile%s it wrote", what->len ? " and " : "", more,
                            what->len ? "more " : "", more == 1 ? "" : "s");
  if (what->len == 0)
    {
      g_string_free (what, TRUE);
      return NULL;
    }
  return g_string_free (what, FALSE);
}

static gboolean
remove_path (const char *path, GError **error)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_autoptr (GDir) listing = g_dir_open (path, 0, NULL);
      const char *name;

      while (listing != NULL && (name = g_dir_read_name (listing)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          if (!remove_path (child, error))
            return FALSE;
        }
    }
  if (g_remove (path) != 0 && errno != ENOENT)
    {
      int saved = errno;
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot remove: %s", path,
                   g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

/**
 * _disco_output_folder_clear:
 * @dir: the output folder, locked by the caller
 * @error: return location for a #GError
 *
 * Removes what previous runs wrote into @dir: the files they recorded
 * (and the folders that leaves empty), results.json, checkpoint/,
 * checkpoint.new/ and checkpoint.old/. Nothing else is touched.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
_disco_output_folder_clear (const char *dir, GError **error)
{
  static const char *const run_files[] = { "results.json", "checkpoint", "checkpoint.new",
                                           "checkpoint.old" };
  g_auto (GStrv) outputs = _disco_output_folder_list_outputs (dir);
  g_autofree char *list = g_build_filename (dir, DISCO_OUTPUT_FOLDER_META, OUTPUTS_NAME, NULL);

  for (guint i = 0; outputs[i] != NULL; i++)
    {
      g_autofree char *path = g_build_filename (dir, outputs[i], NULL);
      g_autofree char *parent = g_path_get_dirname (outputs[i]);

      if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
        continue; /* a run writes files; a folder there is not its own */
      if (g_remove (path) != 0 && errno != ENOENT)
        {
          int saved = errno;
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot remove: %s", path,
                       g_strerror (saved));
          return FALSE;
        }
      /* Folders the outputs were written into go when left empty. */
      while (strcmp (parent, ".") != 0)
        {
          g_autofree char *folder = g_build_filename (dir, parent, NULL);
          char *up;

          if (g_rmdir (folder) != 0)
            break;
          up = g_path_get_dirname (parent);
          g_free (parent);
          parent = up;
        }
    }
  for (guint i = 0; i < G_N_ELEMENTS (run_files); i++)
    {
      g_autofree char *path = g_build_filename (dir, run_files[i], NULL);
      if (!remove_path (path, error))
        return FALSE;
    }
  return remove_path (list, error);
}
