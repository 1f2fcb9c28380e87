/* disco-inspect.c: what node types exist, and what each one takes
 *
 *   disco-inspect             list every node type
 *   disco-inspect NODE        ports and properties of one type, like gst-inspect
 *   disco-inspect --json      every type as JSON (docs/nodes.json is this output)
 */
#include <disco/disco.h>
#include "disco-json.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static gint
compare_pspecs (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(GParamSpec *const *) a)->name, (*(GParamSpec *const *) b)->name);
}

/* Properties a user sets: the node's own and its ancestors', but not "name". */
static GPtrArray *
user_properties (GType type)
{
  g_autoptr (GTypeClass) klass = g_type_class_ref (type);
  guint n = 0;
  g_autofree GParamSpec **pspecs = g_object_class_list_properties (G_OBJECT_CLASS (klass), &n);
  GPtrArray *out = g_ptr_array_new ();

  for (guint i = 0; i < n; i++)
    if (strcmp (pspecs[i]->name, "name") != 0)
      g_ptr_array_add (out, pspecs[i]);
  g_ptr_array_sort (out, compare_pspecs);
  return out;
}

static void
list_types (void)
{
  g_auto (GStrv) names = disco_registry_list_names ();
  guint n = g_strv_length (names);

  for (guint i = 0; i < n; i++)
    {
      GType type = disco_registry_lookup (names[i]);
      g_print ("%-20s %s%s — %s\n", names[i], disco_node_type_get_long_name (type),
               disco_node_type_is_dynamical (type) ? " (dynamical)" : "",
               disco_node_type_get_description (type));
    }
  g_print ("\n%u node types\n", n);
}

static void
print_type (const char *name, GType type)
{
  g_autoptr (GPtrArray) pspecs = user_properties (type);

  g_print ("Node type: %s\n", name);
  g_print ("  Long name     %s\n", disco_node_type_get_long_name (type));
  g_print ("  Category      %s\n", disco_node_type_get_category (type));
  g_print ("  Description   %s\n", disco_node_type_get_description (type));
  g_print ("  GType         %s\n", g_type_name (type));
  g_print ("  Dynamical     %s\n", disco_node_type_is_dynamical (type)
             ? "yes: holds continuous state advanced by an integrator" : "no");
  g_print ("  Runs on CUDA  %s\n", disco_node_type_runs_on_cuda (type)
             ? "yes (some settings may still need the CPU)" : "no: a pipeline with it runs on the CPU");

  for (int d = 0; d < 2; d++)
    {
      DiscoPortDirection direction = d == 0 ? DISCO_PORT_INPUT : DISCO_PORT_OUTPUT;
      g_auto (GStrv) ports = disco_node_type_get_port_names (type, direction);

      g_print ("\n%s ports:\n", d == 0 ? "Input" : "Output");
      if (ports[0] == NULL)
        g_print ("  none\n");
      for (guint i = 0; ports[i] != NULL; i++)
        {
          DiscoPortFlags flags;
          const char *blurb;

          disco_node_type_get_port_info (type, ports[i], NULL, &flags, &blurb);
          g_print ("  %-18s: %s%s\n", ports[i], blurb,
                   (flags & DISCO_PORT_FLAG_OPTIONAL) ? " (optional)" : "");
        }
    }

  g_print ("\nProperties:\n");
  if (pspecs->len == 0)
    g_print ("  none\n");
  for (guint i = 0; i < pspecs->len; i++)
    {
      GParamSpec *pspec = g_ptr_array_index (pspecs, i);
      g_autofree char *range = disco_param_spec_range_to_string (pspec);
      g_autofree char *def = disco_value_to_string (g_param_spec_get_default_value (pspec));

      g_print ("  %-18s: %s\n", pspec->name, g_param_spec_get_blurb (pspec));
      g_print ("  %-18s  flags: %s%s\n", "",
               (pspec->flags & G_PARAM_READABLE) ? "readable" : "",
               (pspec->flags & G_PARAM_WRITABLE) ? ", writable" : "");
      g_print ("  %-18s  %s%s%s. Default: %s\n", "", g_type_name (pspec->value_type),
               range ? ". Range: " : "", range ? range : "", def);
    }
}

static void
print_json (void)
{
  g_auto (GStrv) names = disco_registry_list_names ();
  GString *out = g_string_new ("{\n");

  for (guint i = 0; names[i] != NULL; i++)
    {
      GType type = disco_registry_lookup (names[i]);
      g_autoptr (GPtrArray) pspecs = user_properties (type);

      g_string_append (out, "  ");
      disco_json_append_string (out, names[i]);
      g_string_append (out, ": {\n    \"long-name\": ");
      disco_json_append_string (out, disco_node_type_get_long_name (type));
      g_string_append (out, ",\n    \"category\": ");
      disco_json_append_string (out, disco_node_type_get_category (type));
      g_string_append (out, ",\n    \"description\": ");
      disco_json_append_string (out, disco_node_type_get_description (type));
      g_string_append_printf (out, ",\n    \"dynamical\": %s,\n    \"runs-on-cuda\": %s,"
                              "\n    \"ports\": [",
                              disco_node_type_is_dynamical (type) ? "true" : "false",
                              disco_node_type_runs_on_cuda (type) ? "true" : "false");
      for (int d = 0, first = 1; d < 2; d++)
        {
          DiscoPortDirection direction = d == 0 ? DISCO_PORT_INPUT : DISCO_PORT_OUTPUT;
          g_auto (GStrv) ports = disco_node_type_get_port_names (type, direction);

          for (guint j = 0; ports[j] != NULL; j++, first = 0)
            {
              DiscoPortFlags flags;
              const char *blurb;

              disco_node_type_get_port_info (type, ports[j], NULL, &flags, &blurb);
              g_string_append_printf (out, "%s\n      {\"name\": ", first ? "" : ",");
              disco_json_append_string (out, ports[j]);
              g_string_append_printf (out, ", \"direction\": \"%s\", \"optional\": %s, "
                                      "\"blurb\": ", d == 0 ? "input" : "output",
                                      (flags & DISCO_PORT_FLAG_OPTIONAL) ? "true" : "false");
              disco_json_append_string (out, blurb);
              g_string_append (out, "}");
            }
        }
      g_string_append (out, "\n    ],\n    \"properties\": [");
      for (guint j = 0; j < pspecs->len; j++)
        {
          GParamSpec *pspec = g_ptr_array_index (pspecs, j);
          g_autofree char *range = disco_param_spec_range_to_string (pspec);
          g_autofree char *def = disco_value_to_string (g_param_spec_get_default_value (pspec));

          g_string_append_printf (out, "%s\n      {\"name\": ", j ? "," : "");
          disco_json_append_string (out, pspec->name);
          g_string_append (out, ", \"type\": ");
          disco_json_append_string (out, g_type_name (pspec->value_type));
          g_string_append (out, ", \"default\": ");
          disco_json_append_string (out, def);
          g_string_append (out, ", \"range\": ");
          disco_json_append_string (out, range ? range : "");
          g_string_append_printf (out, ", \"writable\": %s, \"blurb\": ",
                                  (pspec->flags & G_PARAM_WRITABLE) ? "true" : "false");
          disco_json_append_string (out, g_param_spec_get_blurb (pspec));
          g_string_append (out, "}");
        }
      g_string_append_printf (out, "\n    ]\n  }%s\n", names[i + 1] ? "," : "");
    }
  g_string_append (out, "}\n");
  fputs (out->str, stdout);
  g_string_free (out, TRUE);
}

int
main (int argc, char **argv)
{
  gboolean json = FALSE;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print every node type as JSON", NULL },
    G_OPTION_ENTRY_NULL
  };

  setlocale (LC_ALL, "");
  context = g_option_context_new ("[NODE] - list Disco node types, or describe one");
  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("disco-inspect: %s\n", error->message);
      return 2;
    }
  if (json)
    {
      print_json ();
      return 0;
    }
  if (argc < 2)
    {
      list_types ();
      return 0;
    }
  for (int i = 1; i < argc; i++)
    {
      GType type = disco_registry_lookup (argv[i]);

      if (type == G_TYPE_INVALID)
        {
          g_printerr ("disco-inspect: no node type \"%s\" (run disco-inspect to list them)\n",
                      argv[i]);
          return 1;
        }
      print_type (argv[i], type);
      if (i + 1 < argc)
        g_print ("\n");
    }
  return 0;
}
