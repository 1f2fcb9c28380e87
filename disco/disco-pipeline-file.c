/* disco-pipeline-file.c: a pipeline built from a pipeline file
 *
 * The file is read by the key-file parser (disco-key-file.c), which keeps
 * the line of every group and key; overrides ("node.property=value") are
 * applied over its entries as lines of their own; then the nodes are made,
 * their properties set and their links made, in that order, and the
 * pipeline is validated. Every error names "file:line" (or the override)
 * and the node, property or port. Relative paths in properties are
 * resolved beside the file (disco_pipeline_resolve_path()).
 */

#include "disco-pipeline.h"
#include "disco-pipeline-private.h"
#include "disco-error.h"
#include "disco-key-file.h"

#include <string.h>

/* ----- properties and links from text ------------------------------------ */

static gboolean
set_property_at (GObject *object, const char *object_label, const char *key, const char *text,
                 const char *where, GError **error)
{
  GParamSpec *pspec = g_object_class_find_property (G_OBJECT_GET_CLASS (object), key);
  g_autofree char *at = _disco_pipeline_prefix (where);
  g_autofree char *what = NULL;
  GValue value = G_VALUE_INIT;

  if (pspec == NULL || strcmp (key, "name") == 0)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_NO_SUCH_PROPERTY, "%sno property \"%s\" in %s",
                   at, key, object_label);
      return FALSE;
    }
  if (!(pspec->flags & G_PARAM_WRITABLE) || (pspec->flags & G_PARAM_CONSTRUCT_ONLY))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_NO_SUCH_PROPERTY,
                   "%sproperty \"%s\" of %s is read-only", at, key, object_label);
      return FALSE;
    }
  what = g_strdup_printf ("%sproperty \"%s\" of %s", at, key, object_label);
  if (!_disco_value_parse (pspec, text, &value, what, error))
    {
      g_value_unset (&value);
      return FALSE;
    }
  g_object_set_property (object, key, &value);
  g_value_unset (&value);
  return TRUE;
}

/* A key of a node group: an input port (a link) or a property. */
static gboolean
apply_node_key (DiscoPipeline *self, DiscoNode *node, const char *key, const char *value,
                const char *where, gboolean links, GError **error)
{
  DiscoPortDirection direction;
  gboolean is_port =
      disco_node_type_get_port_info (G_OBJECT_TYPE (node), key, &direction, NULL, NULL);

  if (is_port && direction == DISCO_PORT_INPUT)
    return links ? _disco_pipeline_link_at (self, node, key, value, where, error) : TRUE;
  if (links)
    return TRUE;
  if (is_port)
    {
      g_autofree char *at = _disco_pipeline_prefix (where);
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_LINK,
                   "%s\"%s.%s\" is an output port; write the link on the consumer's input", at,
                   disco_node_get_name (node), key);
      return FALSE;
    }
  {
    g_autofree char *label = _disco_pipeline_node_label (node);
    return set_property_at (G_OBJECT (node), label, key, value, where, error);
  }
}

/**
 * disco_pipeline_set_node_property:
 * @self: a pipeline
 * @target: "node.property" (or "pipeline.property" for run-wide settings)
 * @value: the value as text, as a pipeline file would write it
 * @error: return location for a #GError
 *
 * Sets a property from text, checking type and range, or makes a link when
 * the key is an input port.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_pipeline_set_node_property (DiscoPipeline *self, const char *target, const char *value,
                                  GError **error)
{
  const char *dot;
  g_autofree char *name = NULL;
  DiscoNode *node;

  g_return_val_if_fail (DISCO_IS_PIPELINE (self), FALSE);
  g_return_val_if_fail (target != NULL && value != NULL, FALSE);
  g_return_val_if_fail (!self->running, FALSE);

  dot = strchr (target, '.');
  if (dot == NULL || dot == target || dot[1] == '\0')
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX, "\"%s\" must read \"node.property\"",
                   target);
      return FALSE;
    }
  name = g_strndup (target, dot - target);
  if (strcmp (name, "pipeline") == 0)
    return set_property_at (G_OBJECT (self), "the pipeline", dot + 1, value, NULL, error);
  node = g_hash_table_lookup (self->nodes_by_name, name);
  if (node == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_NO_SUCH_NODE, "no node \"%s\" (in \"%s\")", name,
                   target);
      return FALSE;
    }
  return apply_node_key (self, node, dot + 1, value, NULL, FALSE, error)
         && apply_node_key (self, node, dot + 1, value, NULL, TRUE, error);
}

/**
 * disco_pipeline_set:
 * @self: a pipeline
 * @assignment: "node.property=value", as on disco-run's command line
 * @error: return location for a #GError
 *
 * Applies one `node.property=value` assignment, as disco-run's command line
 * gives it: a node's property (see disco_pipeline_set_node_property()) or,
 * with `pipeline` as the node, a property of @self.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_pipeline_set (DiscoPipeline *self, const char *assignment, GError **error)
{
  const char *eq;
  g_autofree char *target = NULL;

  g_return_val_if_fail (assignment != NULL, FALSE);
  eq = strchr (assignment, '=');
  if (eq == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                   "\"%s\" must read \"node.property=value\"", assignment);
      return FALSE;
    }
  target = g_strstrip (g_strndup (assignment, eq - assignment));
  return disco_pipeline_set_node_property (self, target, eq + 1, error);
}

/* ----- pipeline files ----------------------------------------------------- */

static gboolean
apply_overrides (GPtrArray *groups, const char *const *overrides, GError **error)
{
  for (guint i = 0; overrides != NULL && overrides[i] != NULL; i++)
    {
      const char *o = overrides[i];
      const char *eq = strchr (o, '=');
      const char *dot = strchr (o, '.');
      g_autofree char *where = NULL;
      g_autofree char *group_name = NULL;
      g_autofree char *key = NULL;
      DiscoKeyFileGroup *group;
      DiscoKeyFileEntry *entry;

      /* An override is one line of text, like a line of the file. */
      {
        g_autofree char *escaped = g_strescape (o, NULL);
        g_autofree char *label = g_strdup_printf ("override \"%s\"", escaped);

        if (!_disco_key_file_check_line (o, label, error))
          return FALSE;
      }
      where = g_strdup_printf ("override \"%s\"", o);
      if (eq == NULL || dot == NULL || dot > eq || dot == o || dot + 1 == eq)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                       "%s: an override reads node.property=value", where);
          return FALSE;
        }
      group_name = g_strndup (o, dot - o);
      key = g_strstrip (g_strndup (dot + 1, eq - dot - 1));
      group = _disco_key_file_find_group (groups, group_name);
      if (group == NULL && strcmp (group_name, "pipeline") == 0)
        {
          group = _disco_key_file_group_new ("pipeline", where);
          g_ptr_array_insert (groups, 0, group);
        }
      if (group == NULL)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_NO_SUCH_NODE,
                       "%s: the pipeline has no node \"%s\"", where, group_name);
          return FALSE;
        }
      if (strcmp (key, "node") == 0)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                       "%s: an override cannot change the type of node \"%s\"", where, group_name);
          return FALSE;
        }
      entry = _disco_key_file_find_entry (group, key);
      if (entry == NULL)
        {
          entry = g_new0 (DiscoKeyFileEntry, 1);
          entry->key = g_strdup (key);
          g_ptr_array_add (group->entries, entry);
        }
      g_free (entry->value);
      g_free (entry->where);
      entry->value = g_strdup (eq + 1);
      entry->where = g_strdup (where);
    }
  return TRUE;
}

static gboolean
build_from_groups (DiscoPipeline *self, GPtrArray *groups, GError **error)
{
  /* Nodes first, so links may name nodes defined further down. */
  for (guint i = 0; i < groups->len; i++)
    {
      DiscoKeyFileGroup *group = g_ptr_array_index (groups, i);
      DiscoKeyFileEntry *type_entry;

      if (strcmp (group->name, "pipeline") == 0)
        {
          for (guint j = 0; j < group->entries->len; j++)
            {
              DiscoKeyFileEntry *e = g_ptr_array_index (group->entries, j);
              if (!set_property_at (G_OBJECT (self), "[pipeline]", e->key, e->value, e->where,
                                    error))
                return FALSE;
            }
          continue;
        }
      type_entry = _disco_key_file_find_entry (group, "node");
      if (type_entry == NULL)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                       "%s: group [%s] has no \"node = <type>\" line", group->where, group->name);
          return FALSE;
        }
      if (_disco_pipeline_make_node_at (self, type_entry->value, group->name, type_entry->where,
                                        error)
          == NULL)
        return FALSE;
      g_hash_table_insert (self->node_locations, g_strdup (group->name), g_strdup (group->where));
    }
  /* Then properties, then links: a link error then never hides a typo. */
  for (int pass = 0; pass < 2; pass++)
    for (guint i = 0; i < groups->len; i++)
      {
        DiscoKeyFileGroup *group = g_ptr_array_index (groups, i);
        DiscoNode *node = g_hash_table_lookup (self->nodes_by_name, group->name);

        if (node == NULL)
          continue;
        for (guint j = 0; j < group->entries->len; j++)
          {
            DiscoKeyFileEntry *e = g_ptr_array_index (group->entries, j);
            if (strcmp (e->key, "node") == 0)
              continue;
            if (!apply_node_key (self, node, e->key, e->value, e->where, pass == 1, error))
              return FALSE;
          }
      }
  return TRUE;
}

static DiscoPipeline *
new_from_text (const char *text, gsize length, const char *label, const char *source_file,
               const char *const *overrides, GError **error)
{
  g_autoptr (GPtrArray) groups =
      _disco_key_file_parse (text, length, label, DISCO_KEY_FILE_NONE, error);
  g_autoptr (DiscoPipeline) self = NULL;

  if (groups == NULL || !apply_overrides (groups, overrides, error))
    return NULL;
  self = disco_pipeline_new ();
  self->source_file = g_strdup (source_file);
  self->overrides = g_strdupv ((char **) overrides);
  if (!build_from_groups (self, groups, error) || !disco_pipeline_validate (self, error))
    return NULL;
  return g_steal_pointer (&self);
}

/**
 * disco_pipeline_new_from_file:
 * @path: a pipeline file
 * @overrides: (array zero-terminated=1) (nullable): "node.property=value"
 *   assignments applied over the file's values
 * @error: return location for a #GError
 *
 * Loads, builds and validates a pipeline. Every error — syntax, unknown
 * node type, property or port, bad value, bad link, algebraic loop — is
 * reported here, before anything runs, as "file:line: message".
 *
 * Returns: (transfer full) (nullable): the pipeline, or %NULL with @error set
 */
DiscoPipeline *
disco_pipeline_new_from_file (const char *path, const char *const *overrides, GError **error)
{
  g_autofree char *text = NULL;
  gsize length = 0;
  g_autoptr (GError) read_error = NULL;
  DiscoPipeline *pipeline;

  g_return_val_if_fail (path != NULL, NULL);
  if (!g_file_get_contents (path, &text, &length, &read_error))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot read pipeline file: %s", path,
                   read_error->message);
      return NULL;
    }
  /* The length, not strlen: a NUL byte in the file is an error, not its end. */
  pipeline = new_from_text (text, length, path, path, overrides, error);
  /* A checkpoint records it: resuming after the file changed is refused. */
  if (pipeline != NULL)
    pipeline->source_checksum =
        g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) text, length);
  return pipeline;
}

/**
 * disco_pipeline_new_from_string:
 * @text: a pipeline description in pipeline-file syntax
 * @overrides: (array zero-terminated=1) (nullable): "node.property=value"
 *   assignments applied over the text's values
 * @error: return location for a #GError
 *
 * Like disco_pipeline_new_from_file(); messages name the text "<string>".
 *
 * Returns: (transfer full) (nullable): the pipeline, or %NULL with @error set
 */
DiscoPipeline *
disco_pipeline_new_from_string (const char *text, const char *const *overrides, GError **error)
{
  g_return_val_if_fail (text != NULL, NULL);
  return new_from_text (text, strlen (text), "<string>", NULL, overrides, error);
}

/* ----- paths beside the file --------------------------------------------- */

/* @path, without its leading "../" and "./", in the first data folder that
 * has it: each of $DISCO_DATA_PATH (colon-separated), $XDG_DATA_HOME/disco-1.0,
 * <datadir>/disco-1.0 (where the installed install-datasets.sh puts
 * data/datasets). NULL when none has it. */
static char *
find_in_data_dirs (const char *path)
{
  const char *env = g_getenv ("DISCO_DATA_PATH");
  g_autofree char *user_dir = g_build_filename (g_get_user_data_dir (), "disco-1.0", NULL);
  g_auto (GStrv) env_dirs = g_strsplit (env != NULL ? env : "", G_SEARCHPATH_SEPARATOR_S, -1);
  GStrvBuilder *builder = g_strv_builder_new ();
  g_auto (GStrv) dirs = NULL;
  const char *rest = path;

  while (g_str_has_prefix (rest, "../") || g_str_has_prefix (rest, "./"))
    rest = strchr (rest, G_DIR_SEPARATOR) + 1;
  for (guint i = 0; env_dirs[i] != NULL; i++)
    if (env_dirs[i][0] != '\0')
      g_strv_builder_add (builder, env_dirs[i]);
  g_strv_builder_add (builder, user_dir);
  g_strv_builder_add (builder, DISCO_DATA_DIR);
  dirs = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  for (guint i = 0; rest[0] != '\0' && dirs[i] != NULL; i++)
    {
      g_autofree char *candidate = g_build_filename (dirs[i], rest, NULL);
      if (g_file_test (candidate, G_FILE_TEST_EXISTS))
        return g_steal_pointer (&candidate);
    }
  return NULL;
}

/**
 * disco_pipeline_resolve_path:
 * @self: a pipeline
 * @path: a path from a property, e.g. a dataset folder
 *
 * A relative input path is looked up first beside the pipeline file (as
 * includes are in most configuration formats, so a pipeline runs the same
 * from any working folder), then in the current folder (where a path given
 * on the command line is meant), then, without its leading "../", in the
 * data folders: each of `$DISCO_DATA_PATH` (colon-separated), then
 * `$XDG_DATA_HOME/disco-1.0`, then `<datadir>/disco-1.0`. So
 * "../data/datasets/mnist" of an installed or copied pipeline finds the
 * datasets that data/install-datasets.sh put in any of them. When it exists
 * nowhere, the path beside the file is returned, for the error message.
 * Absolute paths, and paths of pipelines built in code, are returned as
 * they are.
 *
 * Returns: (transfer full): the path to open
 */
char *
disco_pipeline_resolve_path (DiscoPipeline *self, const char *path)
{
  g_autofree char *dir = NULL;
  g_autofree char *beside_file = NULL;
  char *found;

  g_return_val_if_fail (DISCO_IS_PIPELINE (self), NULL);
  g_return_val_if_fail (path != NULL, NULL);
  if (g_path_is_absolute (path) || self->source_file == NULL)
    return g_strdup (path);
  dir = g_path_get_dirname (self->source_file);
  beside_file = g_build_filename (dir, path, NULL);
  if (!g_file_test (beside_file, G_FILE_TEST_EXISTS) && g_file_test (path, G_FILE_TEST_EXISTS))
    return g_strdup (path);
  if (!g_file_test (beside_file, G_FILE_TEST_EXISTS) && (found = find_in_data_dirs (path)) != NULL)
    return found;
  return g_steal_pointer (&beside_file);
}
