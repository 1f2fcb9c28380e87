/* disco-sweep-file.c: sweep files, and the runs they expand to
 *
 *   [sweep]
 *   pipelines = mnist-1x256-*.pipeline fmnist-1x256-*.pipeline
 *   seeds = 0-9
 *   output-dir = runs/table1
 *   [overrides]
 *   settle.method = equilibrium
 *   [grid]
 *   adam.learning-rate = 0.001, 0.002
 *
 * Pipeline patterns are looked up beside the sweep file (a '*' or '?' in the
 * file name part), output-dir is relative to the current folder, like
 * disco-run's -o.
 */
#include "disco-sweep-file.h"

#include <disco/disco.h>
#include "disco-key-file.h"

#include <string.h>

#define MAX_SEEDS 100000

static void
run_free (gpointer data)
{
  DiscoSweepRun *run = data;

  g_free (run->pipeline_file);
  g_free (run->pipeline);
  g_free (run->grid_point);
  g_strfreev (run->overrides);
  g_free (run->dir);
  g_free (run);
}

void
disco_sweep_plan_free (DiscoSweepPlan *plan)
{
  if (plan == NULL)
    return;
  g_free (plan->file);
  g_free (plan->output_dir);
  g_clear_pointer (&plan->runs, g_ptr_array_unref);
  g_free (plan);
}

static gboolean
parse_uint (const char *text, guint *value)
{
  guint64 v;

  if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT32, &v, NULL))
    return FALSE;
  *value = (guint) v;
  return TRUE;
}

/**
 * disco_sweep_parse_seeds:
 * @text: a list of seeds and ranges: "0-9", "0, 3, 5-7"
 * @where: "file:line" for messages
 * @seeds: (out): the seeds (guint), in the order given
 *
 * Returns: %FALSE with @error set on an empty list, a bad number, a
 *   reversed range, a seed given twice or more than 100000 seeds
 */
gboolean
disco_sweep_parse_seeds (const char *text, const char *where, GArray **seeds, GError **error)
{
  g_auto (GStrv) items = g_strsplit (text, ",", -1);
  g_autoptr (GArray) list = g_array_new (FALSE, FALSE, sizeof (guint));
  g_autoptr (GHashTable) seen = g_hash_table_new (NULL, NULL);

  for (guint i = 0; items[i] != NULL; i++)
    {
      char *item = g_strstrip (items[i]);
      char *dash = strchr (item, '-');
      guint first, last;

      if (*item == '\0')
        continue;
      if (dash != NULL)
        {
          g_autofree char *a = g_strstrip (g_strndup (item, dash - item));
          g_autofree char *b = g_strstrip (g_strdup (dash + 1));

          if (!parse_uint (a, &first) || !parse_uint (b, &last))
            {
              g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                           "%s: seeds: \"%s\" is not a range of seeds (first-last, 0 … %u)", where,
                           item, G_MAXUINT32);
              return FALSE;
            }
          if (last < first)
            {
              g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                           "%s: seeds: the range \"%s\" runs backwards", where, item);
              return FALSE;
            }
        }
      else if (parse_uint (item, &first))
        last = first;
      else
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                       "%s: seeds: \"%s\" is not a seed (0 … %u) or a range first-last", where,
                       item, G_MAXUINT32);
          return FALSE;
        }
      if ((guint64) last - first + list->len >= MAX_SEEDS)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE, "%s: seeds: more than %u seeds",
                       where, MAX_SEEDS);
          return FALSE;
        }
      for (guint64 s = first; s <= last; s++)
        {
          guint seed = (guint) s;

          if (g_hash_table_contains (seen, GUINT_TO_POINTER (seed + 1)))
            {
              g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                           "%s: seeds: seed %u is given twice", where, seed);
              return FALSE;
            }
          g_hash_table_add (seen, GUINT_TO_POINTER (seed + 1));
          g_array_append_val (list, seed);
        }
    }
  if (list->len == 0)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE, "%s: seeds: no seed given", where);
      return FALSE;
    }
  *seeds = g_steal_pointer (&list);
  return TRUE;
}

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Every file a pattern names, sorted; the pattern's folder part is literal. */
static gboolean
expand_pattern (const char *pattern, const char *base_dir, const char *where, GPtrArray *files,
                GError **error)
{
  g_autofree char *full = g_path_is_absolute (pattern) ? g_strdup (pattern)
                                                       : g_build_filename (base_dir, pattern, NULL);
  g_autofree char *dir = g_path_get_dirname (full);
  g_autofree char *name = g_path_get_basename (full);
  g_autoptr (GPtrArray) found = g_ptr_array_new_with_free_func (g_free);

  if (strpbrk (dir, "*?[") != NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "%s: pipelines: \"%s\": patterns may use '*' and '?' in the file name only",
                   where, pattern);
      return FALSE;
    }
  if (strpbrk (name, "*?") == NULL)
    {
      if (g_file_test (full, G_FILE_TEST_IS_REGULAR))
        g_ptr_array_add (found, g_canonicalize_filename (full, NULL));
    }
  else
    {
      g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
      g_autoptr (GPatternSpec) spec = g_pattern_spec_new (name);
      const char *entry;

      while (listing != NULL && (entry = g_dir_read_name (listing)) != NULL)
        {
          g_autofree char *path = g_build_filename (dir, entry, NULL);

          if (g_pattern_spec_match_string (spec, entry)
              && g_file_test (path, G_FILE_TEST_IS_REGULAR))
            g_ptr_array_add (found, g_canonicalize_filename (path, NULL));
        }
    }
  if (found->len == 0)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "%s: pipelines: no pipeline file matches \"%s\" (looked in %s)", where, pattern,
                   dir);
      return FALSE;
    }
  g_ptr_array_sort (found, compare_strings);
  for (guint i = 0; i < found->len; i++)
    if (!g_ptr_array_find_with_equal_func (files, found->pdata[i], g_str_equal, NULL))
      g_ptr_array_add (files, g_strdup (found->pdata[i]));
  return TRUE;
}

/* An override's target: node.property, not a setting the sweep owns. */
static gboolean
check_target (const char *key, const char *where, GError **error)
{
  const char *dot = strchr (key, '.');

  if (dot == NULL || dot == key || dot[1] == '\0' || strchr (dot + 1, '.') != NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX, "%s: \"%s\" is not a node.property name",
                   where, key);
      return FALSE;
    }
  if (strcmp (key, "pipeline.seed") == 0 || strcmp (key, "pipeline.output-dir") == 0
      || strcmp (key, "pipeline.resume") == 0)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "%s: the sweep sets %s itself (use seeds = and output-dir = in [sweep])", where,
                   key);
      return FALSE;
    }
  return TRUE;
}

typedef struct
{
  const char *key;
  char **values;
} GridAxis;

static char *
pipeline_name (const char *file)
{
  g_autofree char *base = g_path_get_basename (file);

  if (g_str_has_suffix (base, ".pipeline") && strlen (base) > strlen (".pipeline"))
    base[strlen (base) - strlen (".pipeline")] = '\0';
  return g_steal_pointer (&base);
}

/* A grid point's label, also a folder name: no '/' and no leading '.'. */
static char *
folder_safe (const char *label)
{
  char *safe = g_strdup (label);

  g_strdelimit (safe, "/\\", '_');
  if (safe[0] == '.')
    safe[0] = '_';
  return safe;
}

/**
 * disco_sweep_plan_load_from_text:
 * @text: a sweep file's contents
 * @length: its length in bytes, or -1 when @text ends with its first NUL
 * @label: the name messages give the text (the file's path)
 * @base_dir: where pipeline patterns are looked up
 * @options: (nullable): what the command line changes
 *
 * Returns: (transfer full): the plan, or %NULL with @error set
 *   ("file:line: ...") when anything in the file is wrong
 */
DiscoSweepPlan *
disco_sweep_plan_load_from_text (const char *text, gssize length, const char *label,
                                 const char *base_dir, const DiscoSweepOptions *options,
                                 GError **error)
{
  static const DiscoSweepOptions no_options = { 0 };
  const char *const *overrides;
  const char *output_dir;
  g_autoptr (GPtrArray) groups = NULL;
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GPtrArray) common = g_ptr_array_new_with_free_func (g_free);
  g_autoptr (GArray) axes = g_array_new (FALSE, TRUE, sizeof (GridAxis));
  g_autoptr (GArray) seeds = NULL;
  g_autoptr (GHashTable) names = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  DiscoKeyFileGroup *sweep;
  g_autoptr (DiscoSweepPlan) plan = g_new0 (DiscoSweepPlan, 1);
  guint n_points = 1;
  gboolean ok = FALSE;

  if (options == NULL)
    options = &no_options;
  overrides = options->overrides;
  output_dir = options->output_dir;
  groups = _disco_key_file_parse (text, length < 0 ? strlen (text) : (gsize) length, label,
                                  DISCO_KEY_FILE_DOTTED_KEYS, error);
  if (groups == NULL)
    return NULL;
  plan->file = g_strdup (label);
  plan->runs = g_ptr_array_new_with_free_func (run_free);

  for (guint i = 0; i < groups->len; i++)
    {
      DiscoKeyFileGroup *group = g_ptr_array_index (groups, i);

      if (strcmp (group->name, "sweep") != 0 && strcmp (group->name, "overrides") != 0
          && strcmp (group->name, "grid") != 0)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                       "%s: unknown group [%s] (a sweep file has [sweep], [overrides] and "
                       "[grid])",
                       group->where, group->name);
          return NULL;
        }
    }
  sweep = _disco_key_file_find_group (groups, "sweep");
  if (sweep == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                   "%s: a sweep file needs a [sweep] group with pipelines = and seeds =", label);
      return NULL;
    }
  for (guint i = 0; i < sweep->entries->len; i++)
    {
      DiscoKeyFileEntry *e = g_ptr_array_index (sweep->entries, i);

      if (strcmp (e->key, "pipelines") == 0)
        {
          g_auto (GStrv) patterns = g_strsplit_set (e->value, " \t", -1);
          for (guint j = 0; patterns[j] != NULL; j++)
            if (*patterns[j] != '\0'
                && !expand_pattern (patterns[j], base_dir, e->where, files, error))
              return NULL;
          if (files->len == 0)
            {
              g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                           "%s: pipelines: no pipeline file given", e->where);
              return NULL;
            }
        }
      else if (strcmp (e->key, "seeds") == 0)
        {
          if (!disco_sweep_parse_seeds (e->value, e->where, &seeds, error))
            return NULL;
        }
      else if (strcmp (e->key, "output-dir") == 0)
        {
          if (*e->value == '\0')
            {
              g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE, "%s: output-dir is empty",
                           e->where);
              return NULL;
            }
          g_free (plan->output_dir);
          plan->output_dir = g_strdup (e->value);
        }
      else
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                       "%s: unknown key \"%s\" in [sweep] (pipelines, seeds, output-dir)", e->where,
                       e->key);
          return NULL;
        }
    }
  if (files->len == 0 || seeds == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX, "%s: [sweep] has no %s = line",
                   sweep->where, files->len == 0 ? "pipelines" : "seeds");
      return NULL;
    }
  if (options->seeds != NULL)
    {
      g_clear_pointer (&seeds, g_array_unref);
      if (!disco_sweep_parse_seeds (options->seeds, "--seeds", &seeds, error))
        return NULL;
    }
  if (options->only != NULL)
    {
      g_autoptr (GPatternSpec) spec = g_pattern_spec_new (options->only);

      for (guint i = files->len; i-- > 0;)
        {
          g_autofree char *name = pipeline_name (files->pdata[i]);
          if (!g_pattern_spec_match_string (spec, name))
            g_ptr_array_remove_index (files, i);
        }
      if (files->len == 0)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                       "--only %s: no pipeline of the sweep has a matching name", options->only);
          return NULL;
        }
    }
  for (guint i = 0; i < files->len; i++)
    {
      g_autofree char *name = pipeline_name (files->pdata[i]);
      const char *other = g_hash_table_lookup (names, name);

      if (other != NULL)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                       "%s: two pipelines share the name \"%s\" (%s and %s): their runs "
                       "would share a folder",
                       sweep->where, name, other, (char *) files->pdata[i]);
          return NULL;
        }
      g_hash_table_insert (names, g_steal_pointer (&name), files->pdata[i]);
    }

  {
    DiscoKeyFileGroup *group = _disco_key_file_find_group (groups, "overrides");
    for (guint i = 0; group != NULL && i < group->entries->len; i++)
      {
        DiscoKeyFileEntry *e = g_ptr_array_index (group->entries, i);
        if (!check_target (e->key, e->where, error))
          return NULL;
        g_ptr_array_add (common, g_strdup_printf ("%s=%s", e->key, e->value));
      }
  }
  {
    DiscoKeyFileGroup *group = _disco_key_file_find_group (groups, "grid");
    for (guint i = 0; group != NULL && i < group->entries->len; i++)
      {
        DiscoKeyFileEntry *e = g_ptr_array_index (group->entries, i);
        GridAxis axis = { e->key, g_strsplit (e->value, ",", -1) };
        guint n = 0;

        g_array_append_val (axes, axis);
        if (!check_target (e->key, e->where, error))
          goto out;
        for (guint j = 0; axis.values[j] != NULL; j++)
          {
            g_strstrip (axis.values[j]);
            if (*axis.values[j] == '\0')
              {
                g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                             "%s: grid %s: an empty value in \"%s\"", e->where, e->key, e->value);
                goto out;
              }
            for (guint k = 0; k < j; k++)
              if (strcmp (axis.values[k], axis.values[j]) == 0)
                {
                  g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                               "%s: grid %s: the value \"%s\" is given twice", e->where, e->key,
                               axis.values[j]);
                  goto out;
                }
            n++;
          }
        if (n_points > 100000 / n)
          {
            g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                         "%s: the grid has more than 100000 points", e->where);
            goto out;
          }
        n_points *= n;
      }
  }
  for (guint i = 0; overrides != NULL && overrides[i] != NULL; i++)
    {
      const char *eq = strchr (overrides[i], '=');
      g_autofree char *key = eq != NULL ? g_strndup (overrides[i], eq - overrides[i]) : NULL;
      g_autofree char *escaped = g_strescape (overrides[i], NULL);
      g_autofree char *label = g_strdup_printf ("override \"%s\"", escaped);
      g_autofree char *where = g_strdup_printf ("override \"%s\"", overrides[i]);

      /* One line of text, as disco-run checks it, but before any run starts. */
      if (!_disco_key_file_check_line (overrides[i], label, error))
        goto out;
      if (key == NULL)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                       "%s: an override reads node.property=value", where);
          goto out;
        }
      if (!check_target (key, where, error))
        goto out;
    }
  if (output_dir != NULL)
    {
      g_free (plan->output_dir);
      plan->output_dir = g_strdup (output_dir);
    }
  if (plan->output_dir == NULL)
    {
      g_autofree char *base = g_path_get_basename (label);
      char *dot = strrchr (base, '.');
      if (dot != NULL && dot != base)
        *dot = '\0';
      plan->output_dir = g_build_filename ("runs", base, NULL);
    }

  for (guint f = 0; f < files->len; f++)
    for (guint p = 0; p < n_points; p++)
      {
        g_autoptr (GPtrArray) assignments = g_ptr_array_new_with_free_func (g_free);
        g_autofree char *label_text = NULL;
        g_autofree char *point = NULL;
        guint rest = p;

        /* The last axis varies fastest, as nested loops in file order. */
        for (gint a = (gint) axes->len - 1; a >= 0; a--)
          {
            GridAxis *axis = &g_array_index (axes, GridAxis, a);
            guint n = g_strv_length (axis->values);
            g_ptr_array_insert (assignments, 0,
                                g_strdup_printf ("%s=%s", axis->key, axis->values[rest % n]));
            rest /= n;
          }
        g_ptr_array_add (assignments, NULL);
        label_text = g_strjoinv (",", (char **) assignments->pdata);
        g_ptr_array_remove_index (assignments, assignments->len - 1);
        point = folder_safe (label_text);
        for (guint s = 0; s < seeds->len; s++)
          {
            DiscoSweepRun *run = g_new0 (DiscoSweepRun, 1);
            GStrvBuilder *builder = g_strv_builder_new ();
            guint seed = g_array_index (seeds, guint, s);
            g_autofree char *seed_dir = g_strdup_printf ("seed-%u", seed);
            g_autofree char *seed_override = g_strdup_printf ("pipeline.seed=%u", seed);

            run->index = plan->runs->len;
            run->pipeline_file = g_strdup (files->pdata[f]);
            run->pipeline = pipeline_name (run->pipeline_file);
            run->grid_point = g_strdup (point);
            run->seed = seed;
            for (guint i = 0; i < common->len; i++)
              g_strv_builder_add (builder, common->pdata[i]);
            for (guint i = 0; i < assignments->len; i++)
              g_strv_builder_add (builder, assignments->pdata[i]);
            if (overrides != NULL)
              g_strv_builder_addv (builder, (const char **) overrides);
            g_strv_builder_add (builder, seed_override);
            run->overrides = g_strv_builder_end (builder);
            g_strv_builder_unref (builder);
            run->dir =
                *point != '\0'
                    ? g_build_filename (plan->output_dir, run->pipeline, point, seed_dir, NULL)
                    : g_build_filename (plan->output_dir, run->pipeline, seed_dir, NULL);
            g_ptr_array_add (plan->runs, run);
          }
      }
  ok = TRUE;

out:
  for (guint a = 0; a < axes->len; a++)
    g_strfreev (g_array_index (axes, GridAxis, a).values);
  return ok ? g_steal_pointer (&plan) : NULL;
}

/**
 * disco_sweep_plan_load:
 * @path: a sweep file
 * @options: (nullable): what the command line changes
 *
 * Returns: (transfer full): the plan, or %NULL with @error set
 */
DiscoSweepPlan *
disco_sweep_plan_load (const char *path, const DiscoSweepOptions *options, GError **error)
{
  g_autofree char *text = NULL;
  g_autofree char *base_dir = g_path_get_dirname (path);
  gsize length = 0;
  g_autoptr (GError) read_error = NULL;

  if (!g_file_get_contents (path, &text, &length, &read_error))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot read sweep file: %s", path,
                   read_error->message);
      return NULL;
    }
  /* The length, not strlen: a NUL byte in the file is an error, not its end. */
  return disco_sweep_plan_load_from_text (text, length, path, base_dir, options, error);
}
