/* disco-tool-format.h: text the command-line tools share (not installed) */
#pragma once

#include <glib.h>

/* "m:ss", or "h:mm:ss" from an hour on: elapsed times and ETAs. */
static inline char *
disco_tool_format_duration (double seconds)
{
  guint s = seconds > 0 ? (guint) (seconds + 0.5) : 0;

  if (s >= 3600)
    return g_strdup_printf ("%u:%02u:%02u", s / 3600, s / 60 % 60, s % 60);
  return g_strdup_printf ("%u:%02u", s / 60, s % 60);
}
