/* disco-bench-validate.c: how loading and validation scale with the node count
 *
 *   disco-bench-validate [--nodes N[,N...]] [--graph NAME[,NAME...]]
 *
 * Builds pipelines of 1k, 10k and 100k nodes (or the --nodes given) and
 * prints the seconds spent building them and validating them:
 *
 *   chain        constant-source → affine → affine → … (disco_pipeline_make_node
 *                and disco_pipeline_link)
 *   fan-out      one constant-source feeding every affine
 *   layers       constant-source → rate-layer → rate-layer → … → affine: one
 *                dynamical network of N − 2 layers coupled by state links
 *   text-chain   the chain written as pipeline-file text and loaded with
 *                disco_pipeline_new_from_string (parse, build and validate:
 *                "build" is the whole load, validation included)
 *   text-fan-out the fan-out the same way
 *
 * Validation is the engine's check of links, loops and sources and the
 * tick order; nothing is prepared or run. Run it unattended; a graph that
 * takes longer than the others shows the quadratic part.
 */
#include <disco/disco.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct
{
  double build_seconds;
  double validate_seconds;
} Timing;

static double
seconds_since (gint64 start)
{
  return (g_get_monotonic_time () - start) / 1e6;
}

static gboolean
check (gboolean ok, GError *error, const char *what)
{
  if (!ok)
    {
      g_printerr ("disco-bench-validate: %s: %s\n", what,
                  error != NULL ? error->message : "failed");
      exit (1);
    }
  return ok;
}

/* Builds a graph through the API; returns the pipeline, with the timing of
 * its building and validation. */
static DiscoPipeline *
build_api (const char *graph, guint n, Timing *timing)
{
  g_autoptr (DiscoPipeline) pipeline = disco_pipeline_new ();
  g_autoptr (GError) error = NULL;
  gboolean layers = strcmp (graph, "layers") == 0;
  gboolean fan_out = strcmp (graph, "fan-out") == 0;
  char previous[32] = "src", name[32], target[48];
  gint64 start = g_get_monotonic_time ();

  check (disco_pipeline_make_node (pipeline, "constant-source", "src", &error) != NULL, error,
         "constant-source");
  for (guint i = 1; i < n; i++)
    {
      const char *type = layers && i < n - 1 ? "rate-layer" : "affine";
      DiscoNode *node;

      g_snprintf (name, sizeof name, "n%u", i);
      node = disco_pipeline_make_node (pipeline, type, name, &error);
      check (node != NULL, error, type);
      if (strcmp (type, "rate-layer") == 0)
        g_object_set (node, "size", 4, NULL);
      g_snprintf (target, sizeof target, "%s.input", name);
      check (disco_pipeline_link (pipeline, target, fan_out ? "src" : previous, &error), error,
             "link");
      memcpy (previous, name, sizeof name);
    }
  timing->build_seconds = seconds_since (start);
  start = g_get_monotonic_time ();
  check (disco_pipeline_validate (pipeline, &error), error, "validate");
  timing->validate_seconds = seconds_since (start);
  return g_steal_pointer (&pipeline);
}

/* The same graph as pipeline-file text, loaded (parse, build, validate). */
static DiscoPipeline *
build_text (const char *graph, guint n, Timing *timing)
{
  GString *text = g_string_new ("[src]\nnode = constant-source\n");
  g_autoptr (GError) error = NULL;
  gboolean fan_out = strcmp (graph, "text-fan-out") == 0;
  DiscoPipeline *pipeline;
  gint64 start;

  for (guint i = 1; i < n; i++)
    {
      g_string_append_printf (text, "[n%u]\nnode = affine\n", i);
      if (fan_out || i == 1)
        g_string_append (text, "input = src\n");
      else
        g_string_append_printf (text, "input = n%u\n", i - 1);
    }
  start = g_get_monotonic_time ();
  pipeline = disco_pipeline_new_from_string (text->str, NULL, &error);
  timing->build_seconds = seconds_since (start);
  check (pipeline != NULL, error, "load");
  /* Validated by the load; a second call finds it valid and costs nothing. */
  start = g_get_monotonic_time ();
  check (disco_pipeline_validate (pipeline, &error), error, "validate");
  timing->validate_seconds = seconds_since (start);
  g_string_free (text, TRUE);
  return pipeline;
}

int
main (int argc, char **argv)
{
  g_autoptr (GOptionContext) context =
      g_option_context_new ("— time pipeline loading and validation");
  g_autoptr (GError) error = NULL;
  g_autofree char *nodes_arg = NULL;
  g_autofree char *graphs_arg = NULL;
  g_auto (GStrv) sizes = NULL;
  g_auto (GStrv) graphs = NULL;
  GOptionEntry entries[] = {
    { "nodes", 'n', 0, G_OPTION_ARG_STRING, &nodes_arg,
      "Node counts, comma-separated (1000,10000,100000)", "N,..." },
    { "graph", 'g', 0, G_OPTION_ARG_STRING, &graphs_arg,
      "Graphs, comma-separated (chain,fan-out,layers,text-chain,text-fan-out)", "NAME,..." },
    G_OPTION_ENTRY_NULL
  };

  g_option_context_add_main_entries (context, entries, NULL);
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("disco-bench-validate: %s\n", error->message);
      return 1;
    }
  sizes = g_strsplit (nodes_arg != NULL ? nodes_arg : "1000,10000,100000", ",", -1);
  graphs = g_strsplit (
      graphs_arg != NULL ? graphs_arg : "chain,fan-out,layers,text-chain,text-fan-out", ",", -1);

  g_print ("%-13s %8s %10s %11s\n", "graph", "nodes", "build (s)", "validate (s)");
  for (guint g = 0; graphs[g] != NULL; g++)
    for (guint s = 0; sizes[s] != NULL; s++)
      {
        guint64 n = g_ascii_strtoull (sizes[s], NULL, 10);
        Timing timing = { 0 };
        g_autoptr (DiscoPipeline) pipeline = NULL;

        if (n < 3 || n > G_MAXUINT)
          {
            g_printerr ("disco-bench-validate: node count \"%s\" is not 3 or more\n", sizes[s]);
            return 1;
          }
        if (g_str_has_prefix (graphs[g], "text-"))
          {
            if (strcmp (graphs[g], "text-chain") != 0 && strcmp (graphs[g], "text-fan-out") != 0)
              goto unknown;
            pipeline = build_text (graphs[g], n, &timing);
          }
        else
          {
            if (strcmp (graphs[g], "chain") != 0 && strcmp (graphs[g], "fan-out") != 0
                && strcmp (graphs[g], "layers") != 0)
              goto unknown;
            pipeline = build_api (graphs[g], n, &timing);
          }
        g_print ("%-13s %8" G_GUINT64_FORMAT " %10.3f %11.3f\n", graphs[g], n, timing.build_seconds,
                 timing.validate_seconds);
        continue;
      unknown:
        g_printerr ("disco-bench-validate: no graph \"%s\"\n", graphs[g]);
        return 1;
      }
  return 0;
}
