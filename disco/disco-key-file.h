/* disco-key-file.h: the key-file dialect of pipeline and sweep files, with
 * lines kept for messages (engine internal, not installed, not introspected)
 *
 * GLib's key-file syntax, parsed here because GKeyFile keeps no line numbers
 * and takes a '#' after a value as part of the value. Pipeline files
 * (disco-pipeline-file.c) and sweep files (tools/disco-sweep-file.c) share it.
 *
 * The text must be text (issue #15): valid UTF-8 without a byte-order mark,
 * no NUL byte (the parser takes a length, so a NUL cannot end a file early),
 * no control character but tab, and CR only in a CR LF line end. Each
 * violation is an error at "file:line:column", the column counted in
 * characters from 1, naming the character ("U+0000 (NUL)"). Command-line
 * overrides are one line each: _disco_key_file_check_line().
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef struct
{
  char *key;
  char *value;
  char *where; /* "file:line" */
} DiscoKeyFileEntry;

typedef struct
{
  char *name;
  char *where;        /* "file:line" of the [name] header */
  GPtrArray *entries; /* DiscoKeyFileEntry, in file order */
} DiscoKeyFileGroup;

/**
 * DiscoKeyFileFlags:
 * @DISCO_KEY_FILE_NONE: keys are names (letters, digits, '-', '_')
 * @DISCO_KEY_FILE_DOTTED_KEYS: keys may also hold '.' (`node.property`)
 */
typedef enum
{
  DISCO_KEY_FILE_NONE = 0,
  DISCO_KEY_FILE_DOTTED_KEYS = 1 << 0,
} DiscoKeyFileFlags;

gboolean _disco_key_file_is_valid_name (const char *name);
GPtrArray *_disco_key_file_parse (const char *text, gsize length, const char *file_label,
                                  DiscoKeyFileFlags flags, GError **error);
gboolean _disco_key_file_check_line (const char *text, const char *label, GError **error);
DiscoKeyFileGroup *_disco_key_file_group_new (const char *name, const char *where);
DiscoKeyFileGroup *_disco_key_file_find_group (GPtrArray *groups, const char *name);
DiscoKeyFileEntry *_disco_key_file_find_entry (DiscoKeyFileGroup *group, const char *key);
void _disco_key_file_entry_free (gpointer entry);
void _disco_key_file_group_free (gpointer group);

G_END_DECLS
