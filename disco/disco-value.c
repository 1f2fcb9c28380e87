/* disco-value.c: property values as text, both ways
 *
 * A pipeline file, an override and disco-run's command line give every
 * property as text: it is parsed into a GValue of the property's type and
 * checked against the GParamSpec's range here. The other way, a value is
 * written as a pipeline file would write it, and a range as disco-inspect
 * and error messages show it.
 */

#include "disco-pipeline.h"
#include "disco-pipeline-private.h"
#include "disco-error.h"

#include <errno.h>
#include <math.h>
#include <string.h>

/* ----- property values from text ----------------------------------------- */

/**
 * disco_param_spec_range_to_string:
 * @pspec: a property's specification
 *
 * Describes the values a property takes, as disco-inspect and error messages
 * show them: "1 … 65536" for numbers, the nicks "tsit5, euler, rk4" of an
 * enum, "any of train, validation, test" for flags.
 *
 * Returns: (transfer full) (nullable): the text, or %NULL for a property
 *   without a range (strings, booleans)
 */
char *
disco_param_spec_range_to_string (GParamSpec *pspec)
{
  g_return_val_if_fail (G_IS_PARAM_SPEC (pspec), NULL);

#define RANGE(T, fmt, cast)                                                                        \
  if (G_IS_PARAM_SPEC_##T (pspec))                                                                 \
    return g_strdup_printf (fmt " … " fmt, cast G_PARAM_SPEC_##T (pspec)->minimum,                 \
                            cast G_PARAM_SPEC_##T (pspec)->maximum);
  RANGE (INT, "%d", (int) );
  RANGE (UINT, "%u", (guint));
  RANGE (LONG, "%ld", (long) );
  RANGE (ULONG, "%lu", (gulong));
  RANGE (INT64, "%" G_GINT64_FORMAT, (gint64));
  RANGE (UINT64, "%" G_GUINT64_FORMAT, (guint64));
  RANGE (FLOAT, "%g", (double) );
  RANGE (DOUBLE, "%g", (double) );
#undef RANGE
  if (G_IS_PARAM_SPEC_FLAGS (pspec))
    {
      GFlagsClass *klass = G_PARAM_SPEC_FLAGS (pspec)->flags_class;
      GString *s = g_string_new ("any of ");
      for (guint i = 0; i < klass->n_values; i++)
        g_string_append_printf (s, "%s%s", i ? ", " : "", klass->values[i].value_nick);
      return g_string_free (s, FALSE);
    }
  if (G_IS_PARAM_SPEC_ENUM (pspec))
    {
      GEnumClass *klass = G_PARAM_SPEC_ENUM (pspec)->enum_class;
      GString *s = g_string_new (NULL);
      for (guint i = 0; i < klass->n_values; i++)
        g_string_append_printf (s, "%s%s", i ? ", " : "", klass->values[i].value_nick);
      return g_string_free (s, FALSE);
    }
  return NULL;
}

gboolean
_disco_value_parse (GParamSpec *pspec, const char *text, GValue *value, const char *what,
                    GError **error)
{
  GType type = G_PARAM_SPEC_VALUE_TYPE (pspec);
  GType fundamental = G_TYPE_FUNDAMENTAL (type);
  g_autoptr (GError) parse_error = NULL;

  g_value_init (value, type);
  switch (fundamental)
    {
    case G_TYPE_STRING: g_value_set_string (value, text); return TRUE;

    case G_TYPE_BOOLEAN:
      if (g_ascii_strcasecmp (text, "true") == 0 || g_ascii_strcasecmp (text, "yes") == 0
          || g_ascii_strcasecmp (text, "on") == 0 || strcmp (text, "1") == 0)
        g_value_set_boolean (value, TRUE);
      else if (g_ascii_strcasecmp (text, "false") == 0 || g_ascii_strcasecmp (text, "no") == 0
               || g_ascii_strcasecmp (text, "off") == 0 || strcmp (text, "0") == 0)
        g_value_set_boolean (value, FALSE);
      else
        break;
      return TRUE;

    case G_TYPE_INT:
    case G_TYPE_LONG:
    case G_TYPE_INT64:
      {
        gint64 v;
        if (!g_ascii_string_to_signed (text, 10, G_MININT64, G_MAXINT64, &v, &parse_error))
          break;
        if (fundamental == G_TYPE_INT && (v < G_MININT || v > G_MAXINT))
          goto out_of_range;
        if (fundamental == G_TYPE_INT)
          g_value_set_int (value, v);
        else if (fundamental == G_TYPE_LONG)
          g_value_set_long (value, v);
        else
          g_value_set_int64 (value, v);
        goto check_range;
      }

    case G_TYPE_UINT:
    case G_TYPE_ULONG:
    case G_TYPE_UINT64:
      {
        guint64 v;
        if (text[0] == '-')
          goto out_of_range;
        if (!g_ascii_string_to_unsigned (text, 10, 0, G_MAXUINT64, &v, &parse_error))
          break;
        if (fundamental == G_TYPE_UINT && v > G_MAXUINT)
          goto out_of_range;
        if (fundamental == G_TYPE_UINT)
          g_value_set_uint (value, v);
        else if (fundamental == G_TYPE_ULONG)
          g_value_set_ulong (value, v);
        else
          g_value_set_uint64 (value, v);
        goto check_range;
      }

    case G_TYPE_FLOAT:
    case G_TYPE_DOUBLE:
      {
        char *end = NULL;
        double v;

        errno = 0;
        v = g_ascii_strtod (text, &end);
        if (*text == '\0' || end == NULL || *end != '\0' || !isfinite (v))
          break;
        if (fundamental == G_TYPE_FLOAT)
          g_value_set_float (value, v);
        else
          g_value_set_double (value, v);
        goto check_range;
      }

    case G_TYPE_ENUM:
      {
        g_autoptr (GEnumClass) klass = g_type_class_ref (type);
        GEnumValue *ev = g_enum_get_value_by_nick (klass, text);

        if (ev == NULL)
          ev = g_enum_get_value_by_name (klass, text);
        if (ev == NULL)
          {
            g_autofree char *choices = disco_param_spec_range_to_string (pspec);
            g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE, "%s: \"%s\" is not one of: %s",
                         what, text, choices);
            return FALSE;
          }
        g_value_set_enum (value, ev->value);
        return TRUE;
      }

    case G_TYPE_FLAGS:
      {
        g_autoptr (GFlagsClass) klass = g_type_class_ref (type);
        g_auto (GStrv) parts = g_strsplit_set (text, "|,+", -1);
        guint flags = 0;

        for (guint i = 0; parts[i] != NULL; i++)
          {
            GFlagsValue *fv;
            g_strstrip (parts[i]);
            if (*parts[i] == '\0')
              continue;
            fv = g_flags_get_value_by_nick (klass, parts[i]);
            if (fv == NULL)
              {
                g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE, "%s: unknown flag \"%s\"",
                             what, parts[i]);
                return FALSE;
              }
            flags |= fv->value;
          }
        g_value_set_flags (value, flags);
        return TRUE;
      }

    default:
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE,
                   "%s: a property of type %s cannot be set from text", what, g_type_name (type));
      return FALSE;
    }

  g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE, "%s: \"%s\" is not a valid %s", what,
               text, g_type_name (type));
  return FALSE;

check_range:
  {
    GValue copy = G_VALUE_INIT;
    gboolean changed;

    g_value_init (&copy, type);
    g_value_copy (value, &copy);
    changed = g_param_value_validate (pspec, &copy);
    g_value_unset (&copy);
    if (!changed)
      return TRUE;
  }
out_of_range:
  {
    g_autofree char *range = disco_param_spec_range_to_string (pspec);
    g_set_error (error, DISCO_ERROR, DISCO_ERROR_BAD_VALUE, "%s: value %s is out of range (%s)",
                 what, text, range != NULL ? range : "?");
    return FALSE;
  }
}

/**
 * disco_value_to_string:
 * @value: a value of a property type a pipeline file can set
 *
 * Writes a value as a pipeline file would: "true", "0.001", "tsit5",
 * "train,test" (flags by nick), "NULL" for a missing string. The inverse of
 * what the file loader parses.
 *
 * Returns: (transfer full): the text
 */
char *
disco_value_to_string (const GValue *value)
{
  GType fundamental = G_TYPE_FUNDAMENTAL (G_VALUE_TYPE (value));

  switch (fundamental)
    {
    case G_TYPE_STRING:
      return g_strdup (g_value_get_string (value) ? g_value_get_string (value) : "NULL");
    case G_TYPE_BOOLEAN: return g_strdup (g_value_get_boolean (value) ? "true" : "false");
    case G_TYPE_FLOAT: return g_strdup_printf ("%g", g_value_get_float (value));
    case G_TYPE_DOUBLE: return g_strdup_printf ("%g", g_value_get_double (value));
    case G_TYPE_ENUM:
      {
        g_autoptr (GEnumClass) klass = g_type_class_ref (G_VALUE_TYPE (value));
        GEnumValue *ev = g_enum_get_value (klass, g_value_get_enum (value));
        return g_strdup (ev ? ev->value_nick : "?");
      }
    case G_TYPE_FLAGS:
      {
        g_autoptr (GFlagsClass) klass = g_type_class_ref (G_VALUE_TYPE (value));
        GString *nicks = g_string_new (NULL);
        guint flags = g_value_get_flags (value);

        /* "train,test", as a pipeline file writes them. */
        for (guint i = 0; i < klass->n_values; i++)
          if ((flags & klass->values[i].value) == klass->values[i].value
              && klass->values[i].value != 0)
            g_string_append_printf (nicks, "%s%s", nicks->len ? "," : "",
                                    klass->values[i].value_nick);
        return g_string_free (nicks, FALSE);
      }
    default: return g_strdup_value_contents (value);
    }
}
