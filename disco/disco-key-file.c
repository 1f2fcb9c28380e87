/* disco-key-file.c: the key-file dialect of pipeline and sweep files */
#include "disco-key-file.h"
#include "disco-error.h"

#include <string.h>

/* Node names and keys: letters, digits, '-' and '_'. */
gboolean
_disco_key_file_is_valid_name (const char *name)
{
  if (name == NULL || *name == '\0')
    return FALSE;
  for (const char *c = name; *c; c++)
    if (!g_ascii_isalnum (*c) && *c != '-' && *c != '_')
      return FALSE;
  return TRUE;
}

static gboolean
is_valid_key (const char *key, DiscoKeyFileFlags flags)
{
  if (!(flags & DISCO_KEY_FILE_DOTTED_KEYS))
    return _disco_key_file_is_valid_name (key);
  if (key == NULL || *key == '\0' || *key == '.')
    return FALSE;
  for (const char *c = key; *c; c++)
    if (!g_ascii_isalnum (*c) && *c != '-' && *c != '_' && *c != '.')
      return FALSE;
  return TRUE;
}

DiscoKeyFileGroup *
_disco_key_file_group_new (const char *name, const char *where)
{
  DiscoKeyFileGroup *group = g_new0 (DiscoKeyFileGroup, 1);

  group->name = g_strdup (name);
  group->where = g_strdup (where);
  group->entries = g_ptr_array_new_with_free_func (_disco_key_file_entry_free);
  return group;
}

void
_disco_key_file_entry_free (gpointer data)
{
  DiscoKeyFileEntry *e = data;
  g_free (e->key);
  g_free (e->value);
  g_free (e->where);
  g_free (e);
}

void
_disco_key_file_group_free (gpointer data)
{
  DiscoKeyFileGroup *g = data;
  g_free (g->name);
  g_free (g->where);
  g_ptr_array_unref (g->entries);
  g_free (g);
}

DiscoKeyFileGroup *
_disco_key_file_find_group (GPtrArray *groups, const char *name)
{
  for (guint i = 0; i < groups->len; i++)
    {
      DiscoKeyFileGroup *g = g_ptr_array_index (groups, i);
      if (strcmp (g->name, name) == 0)
        return g;
    }
  return NULL;
}

DiscoKeyFileEntry *
_disco_key_file_find_entry (DiscoKeyFileGroup *group, const char *key)
{
  for (guint i = 0; i < group->entries->len; i++)
    {
      DiscoKeyFileEntry *e = g_ptr_array_index (group->entries, i);
      if (strcmp (e->key, key) == 0)
        return e;
    }
  return NULL;
}

/* Parses @text into groups of entries; every error is "file:line: ...". */
GPtrArray *
_disco_key_file_parse (const char *text, const char *file_label, DiscoKeyFileFlags flags,
                       GError **error)
{
  g_autoptr (GPtrArray) groups = g_ptr_array_new_with_free_func (_disco_key_file_group_free);
  g_auto (GStrv) lines = NULL;
  DiscoKeyFileGroup *current = NULL;

  if (!g_utf8_validate (text, -1, NULL))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX, "%s: not valid UTF-8 text",
                   file_label);
      return NULL;
    }
  lines = g_strsplit (text, "\n", -1);
  for (guint i = 0; lines[i] != NULL; i++)
    {
      char *line = g_strstrip (lines[i]);
      g_autofree char *where = g_strdup_printf ("%s:%u", file_label, i + 1);

      if (*line == '\0' || *line == '#' || *line == ';')
        continue;
      if (*line == '[')
        {
          char *end = strchr (line, ']');
          g_autofree char *name = NULL;
          DiscoKeyFileGroup *existing;

          if (end == NULL || end[1] != '\0')
            {
              g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                           "%s: a group header reads [name], not \"%s\"", where, line);
              return NULL;
            }
          name = g_strstrip (g_strndup (line + 1, end - line - 1));
          if (!_disco_key_file_is_valid_name (name))
            {
              g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                           "%s: invalid node name \"%s\": use letters, digits, '-' and '_'",
                           where, name);
              return NULL;
            }
          existing = _disco_key_file_find_group (groups, name);
          if (existing != NULL)
            {
              g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                           "%s: group [%s] is already defined at %s", where, name,
                           existing->where);
              return NULL;
            }
          current = _disco_key_file_group_new (name, where);
          g_ptr_array_add (groups, current);
          continue;
        }
      {
        char *eq = strchr (line, '=');
        g_autofree char *key = NULL;
        char *value, *hash;
        DiscoKeyFileEntry *entry, *existing;

        if (eq == NULL)
          {
            g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                         "%s: expected \"[group]\" or \"key = value\", found \"%s\"", where,
                         line);
            return NULL;
          }
        key = g_strstrip (g_strndup (line, eq - line));
        if (!is_valid_key (key, flags))
          {
            g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                         "%s: invalid key \"%s\": use letters, digits, '-' and '_'%s",
                         where, key, (flags & DISCO_KEY_FILE_DOTTED_KEYS) ? " (and '.')" : "");
            return NULL;
          }
        if (current == NULL)
          {
            g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                         "%s: key \"%s\" comes before any [group]", where, key);
            return NULL;
          }
        value = eq + 1;
        /* A comment after a value starts with '#' after white space. */
        for (hash = strchr (value, '#'); hash != NULL; hash = strchr (hash + 1, '#'))
          if (hash > value && g_ascii_isspace (hash[-1]))
            {
              *hash = '\0';
              break;
            }
        g_strstrip (value);
        existing = _disco_key_file_find_entry (current, key);
        if (existing != NULL)
          {
            g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                         "%s: key \"%s\" of [%s] is already set at %s", where, key,
                         current->name, existing->where);
            return NULL;
          }
        entry = g_new0 (DiscoKeyFileEntry, 1);
        entry->key = g_steal_pointer (&key);
        entry->value = g_strdup (value);
        entry->where = g_steal_pointer (&where);
        g_ptr_array_add (current->entries, entry);
      }
    }
  return g_steal_pointer (&groups);
}

