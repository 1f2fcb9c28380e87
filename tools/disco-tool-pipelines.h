/* disco-tool-pipelines.h: pipelines found by name (not installed)
 *
 * disco-run and disco-inspect --graph take a pipeline file, or the name of
 * an example pipeline: "quick" stands for quick.pipeline, looked up in the
 * current folder, then in every folder of $DISCO_PIPELINE_PATH
 * (colon-separated), then in <datadir>/disco-1.0/pipelines, where meson
 * install puts pipelines/. A tool run from the build tree (not installed)
 * looks in the source tree's pipelines/ instead of the installed folder, as
 * the registry finds the build tree's plugins.
 *
 * The tools define DISCO_PIPELINE_DIR (the installed folder),
 * DISCO_BUILD_TOOLS_DIR and DISCO_SOURCE_PIPELINE_DIR.
 */
#pragma once

#include <glib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Whether this program is the build tree's (argv[0] may lie: ask the
 * kernel where the running executable is). */
static inline gboolean
disco_tool_is_uninstalled (void)
{
  g_autofree char *exe = realpath ("/proc/self/exe", NULL);
  g_autofree char *dir = exe != NULL ? g_path_get_dirname (exe) : NULL;
  g_autofree char *build_dir = realpath (DISCO_BUILD_TOOLS_DIR, NULL);

  return dir != NULL && build_dir != NULL && strcmp (dir, build_dir) == 0;
}

/**
 * disco_tool_pipeline_dirs:
 *
 * The folders searched for a pipeline given by name, after the current
 * folder: $DISCO_PIPELINE_PATH, then the installed (or, uninstalled, the
 * source tree's) pipelines folder.
 *
 * Returns: (transfer full): the folders, in search order
 */
static inline char **
disco_tool_pipeline_dirs (void)
{
  GStrvBuilder *builder = g_strv_builder_new ();
  const char *env = g_getenv ("DISCO_PIPELINE_PATH");
  char **dirs;

  if (env != NULL)
    {
      g_auto (GStrv) parts = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);
      for (guint i = 0; parts[i] != NULL; i++)
        if (parts[i][0] != '\0')
          g_strv_builder_add (builder, parts[i]);
    }
  g_strv_builder_add (builder, disco_tool_is_uninstalled () ? DISCO_SOURCE_PIPELINE_DIR
                                                            : DISCO_PIPELINE_DIR);
  dirs = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return dirs;
}

/* DIR/NAME, or DIR/NAME.pipeline, when it is a file (DIR NULL: as given). */
static inline char *
disco_tool_try_pipeline (const char *dir, const char *name)
{
  g_autofree char *plain = dir != NULL ? g_build_filename (dir, name, NULL) : g_strdup (name);
  g_autofree char *with_suffix = g_strconcat (plain, ".pipeline", NULL);

  if (g_file_test (plain, G_FILE_TEST_IS_REGULAR))
    return g_steal_pointer (&plain);
  if (!g_str_has_suffix (name, ".pipeline") && g_file_test (with_suffix, G_FILE_TEST_IS_REGULAR))
    return g_steal_pointer (&with_suffix);
  return NULL;
}

/**
 * disco_tool_find_pipeline:
 * @name: a pipeline file, or the name of one
 *
 * A path (anything with a "/") is returned as it is, for the loader to open
 * or to report; so is a name that exists in the current folder, even when
 * it is not a file (the loader's message then says why it cannot be read).
 * Otherwise @name, then @name.pipeline, is looked up in the current folder
 * and then in disco_tool_pipeline_dirs().
 *
 * Returns: (transfer full) (nullable): the file to load, or %NULL when
 *   @name names no pipeline anywhere
 */
static inline char *
disco_tool_find_pipeline (const char *name)
{
  g_auto (GStrv) dirs = NULL;
  char *found;

  if (strchr (name, G_DIR_SEPARATOR) != NULL || g_file_test (name, G_FILE_TEST_EXISTS))
    return g_strdup (name);
  if ((found = disco_tool_try_pipeline (NULL, name)) != NULL)
    return found;
  dirs = disco_tool_pipeline_dirs ();
  for (guint i = 0; dirs[i] != NULL; i++)
    if ((found = disco_tool_try_pipeline (dirs[i], name)) != NULL)
      return found;
  return NULL;
}

/* The message for a name that disco_tool_find_pipeline() did not find. */
static inline char *
disco_tool_pipeline_not_found (const char *tool, const char *name)
{
  g_auto (GStrv) dirs = disco_tool_pipeline_dirs ();
  g_autofree char *searched = g_strjoinv (", ", dirs);

  return g_strdup_printf ("%s: %s: no such pipeline file, nor a pipeline of that name in "
                          "the current folder or in %s (disco-run --list-pipelines lists "
                          "them)",
                          tool, name, searched);
}

/* The first comment line of a pipeline file, without "# ": "" when the
 * file opens with something else. */
static inline char *
disco_tool_pipeline_summary (const char *path)
{
  g_autofree char *text = NULL;
  const char *line;
  const char *end;

  if (!g_file_get_contents (path, &text, NULL, NULL))
    return g_strdup ("");
  for (line = text; *line == '\n'; line++)
    ;
  if (*line != '#' && *line != ';')
    return g_strdup ("");
  for (line++; *line == ' ' || *line == '\t'; line++)
    ;
  end = strchr (line, '\n');
  return g_strstrip (g_strndup (line, end != NULL ? (gsize) (end - line) : strlen (line)));
}

static inline gint
disco_tool_compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/**
 * disco_tool_list_pipelines:
 *
 * Prints, for each folder of disco_tool_pipeline_dirs(), a "# FOLDER" line,
 * then each NAME.pipeline in it, one a line: its name and the first comment
 * line of the file. A name found in an earlier folder hides the same name
 * in later ones, as disco_tool_find_pipeline() would.
 */
static inline void
disco_tool_list_pipelines (void)
{
  g_auto (GStrv) dirs = disco_tool_pipeline_dirs ();
  g_autoptr (GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; dirs[i] != NULL; i++)
    {
      g_autoptr (GDir) dir = g_dir_open (dirs[i], 0, NULL);
      g_autoptr (GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      const char *entry;

      if (dir == NULL)
        {
          printf ("# %s: none (no such folder)\n", dirs[i]);
          continue;
        }
      while ((entry = g_dir_read_name (dir)) != NULL)
        if (g_str_has_suffix (entry, ".pipeline"))
          g_ptr_array_add (names, g_strndup (entry, strlen (entry) - strlen (".pipeline")));
      g_ptr_array_sort (names, disco_tool_compare_strings);
      printf ("# %s\n", dirs[i]);
      for (guint j = 0; j < names->len; j++)
        {
          const char *name = g_ptr_array_index (names, j);
          g_autofree char *file = NULL;
          g_autofree char *summary = NULL;

          if (g_hash_table_contains (seen, name))
            continue;
          g_hash_table_add (seen, g_strdup (name));
          file = g_strconcat (dirs[i], G_DIR_SEPARATOR_S, name, ".pipeline", NULL);
          summary = disco_tool_pipeline_summary (file);
          printf ("%-36s %s\n", name, summary);
        }
    }
}
