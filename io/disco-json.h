/* disco-json.h: JSON text written by hand (reports, disco-inspect --json)
 *
 * json-glib reads Disco's reports back; writing them stays plain GString
 * work so that the number format (%.9g, every float32 exact) is ours.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* Appends @s (UTF-8; NULL as "") as a quoted JSON string. */
static inline void
disco_json_append_string (GString *out, const char *s)
{
  g_string_append_c (out, '"');
  for (const char *c = s != NULL ? s : ""; *c; c++)
    {
      if (*c == '"' || *c == '\\')
        g_string_append_printf (out, "\\%c", *c);
      else if ((guchar) *c < 0x20)
        g_string_append_printf (out, "\\u%04x", *c);
      else
        g_string_append_c (out, *c);
    }
  g_string_append_c (out, '"');
}

G_END_DECLS
