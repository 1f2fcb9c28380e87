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

/* Names of the C0 control characters, U+0000 … U+001F. */
static const char *const c0_names[32] = {
  "NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL", "BS",  "HT",  "LF",
  "VT",  "FF",  "CR",  "SO",  "SI",  "DLE", "DC1", "DC2", "DC3", "DC4", "NAK",
  "SYN", "ETB", "CAN", "EM",  "SUB", "ESC", "FS",  "GS",  "RS",  "US",
};

/* Checks that @text (@length bytes, NUL bytes included) is text Disco reads:
 * UTF-8 without a byte-order mark, no control character but tab — and, in
 * a multi-line text, LF or CR LF at the end of a line. The error is
 * "@label:line:column: ..." (@label alone when not @multi_line), columns
 * counting characters from 1. */
static gboolean
check_text (const char *text, gsize length, const char *label, gboolean multi_line, GError **error)
{
  const char *p = text, *end = text + length;
  guint line = 1, column = 1;
  g_autofree char *where = NULL;

  while (p < end)
    {
      guchar byte = (guchar) *p;
      gunichar c;
      gsize n = 1;

      if (byte < 0x80)
        c = byte;
      else
        {
          c = g_utf8_get_char_validated (p, end - p);
          if (c == (gunichar) -1 || c == (gunichar) -2)
            {
              where =
                  multi_line ? g_strdup_printf ("%s:%u:%u", label, line, column) : g_strdup (label);
              g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                           "%s: not valid UTF-8 text (byte 0x%02X)", where, byte);
              return FALSE;
            }
          n = g_utf8_next_char (p) - p;
        }

      if (c == '\n' && multi_line)
        {
          line++;
          column = 1;
          p++;
          continue;
        }
      if (c == '\r' && multi_line && p + 1 < end && p[1] == '\n')
        {
          p++;
          continue;
        }
      if (c == '\t' || (c >= 0x20 && c != 0x7F && (c < 0x80 || c > 0x9F) && c != 0xFEFF))
        {
          p += n;
          column++;
          continue;
        }

      where = multi_line ? g_strdup_printf ("%s:%u:%u", label, line, column) : g_strdup (label);
      if (c == 0xFEFF)
        g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                     "%s: U+FEFF: a UTF-8 byte-order mark (BOM) is not allowed%s", where,
                     p == text ? ": save the file as UTF-8 without a BOM" : "");
      else if (c == 0)
        g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                     "%s: U+0000 (NUL): a NUL byte is not allowed (is this a text file?)", where);
      else if (c == '\r' && multi_line)
        g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                     "%s: U+000D (CR) is allowed only in a CR LF line end", where);
      else
        g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                     "%s: control character U+%04X (%s) is not allowed (only tab%s)", where, c,
                     c < 0x20    ? c0_names[c]
                     : c == 0x7F ? "DEL"
                                 : "C1 control",
                     multi_line ? " and line ends" : "");
      return FALSE;
    }
  return TRUE;
}

/**
 * _disco_key_file_check_line:
 * @text: a one-line setting, e.g. a command-line override
 * @label: how messages name it, e.g. `override "h1.size=3"`
 * @error: return location for a #GError
 *
 * Checks that @text is valid UTF-8 without control characters (a tab is
 * allowed) or line ends.
 *
 * Returns: %TRUE when it is, else %FALSE with @error set
 */
gboolean
_disco_key_file_check_line (const char *text, const char *label, GError **error)
{
  return check_text (text, strlen (text), label, FALSE, error);
}

/* Parses @text (@length bytes) into groups of entries; every error is
 * "file:line: ...", "file:line:column: ..." for a character that is not
 * allowed (see check_text()). */
GPtrArray *
_disco_key_file_parse (const char *text, gsize length, const char *file_label,
                       DiscoKeyFileFlags flags, GError **error)
{
  g_autoptr (GPtrArray) groups = g_ptr_array_new_with_free_func (_disco_key_file_group_free);
  /* name -> DiscoKeyFileGroup: a file of 100k groups parses in linear time */
  g_autoptr (GHashTable) groups_by_name = g_hash_table_new (g_str_hash, g_str_equal);
  g_auto (GStrv) lines = NULL;
  g_autofree char *copy = NULL;
  DiscoKeyFileGroup *current = NULL;

  if (!check_text (text, length, file_label, TRUE, error))
    return NULL;
  /* No NUL byte inside: the copy is the whole text as a C string. */
  copy = g_strndup (text, length);
  lines = g_strsplit (copy, "\n", -1);
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
                           "%s: invalid node name \"%s\": use letters, digits, '-' and '_'", where,
                           name);
              return NULL;
            }
          existing = g_hash_table_lookup (groups_by_name, name);
          if (existing != NULL)
            {
              g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                           "%s: group [%s] is already defined at %s", where, name, existing->where);
              return NULL;
            }
          current = _disco_key_file_group_new (name, where);
          g_ptr_array_add (groups, current);
          g_hash_table_insert (groups_by_name, current->name, current);
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
                         "%s: expected \"[group]\" or \"key = value\", found \"%s\"", where, line);
            return NULL;
          }
        key = g_strstrip (g_strndup (line, eq - line));
        if (!is_valid_key (key, flags))
          {
            g_set_error (error, DISCO_ERROR, DISCO_ERROR_SYNTAX,
                         "%s: invalid key \"%s\": use letters, digits, '-' and '_'%s", where, key,
                         (flags & DISCO_KEY_FILE_DOTTED_KEYS) ? " (and '.')" : "");
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
                         "%s: key \"%s\" of [%s] is already set at %s", where, key, current->name,
                         existing->where);
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
