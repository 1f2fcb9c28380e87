/* disco-inspect.c: what node types exist, and what each one takes
 *
 *   disco-inspect             list every node type
 *   disco-inspect NODE        ports and properties of one type, like gst-inspect
 *   disco-inspect --json      every type as JSON (docs/nodes.json is this output)
 *   disco-inspect --graph FILE|NAME [node.property=value ...] [-o OUT] [--graph-format F]
 *                             the pipeline as a Graphviz graph (dot, or through
 *                             Graphviz's dot: svg, png, pdf), as
 *                             GST_DEBUG_DUMP_DOT_DIR draws a GStreamer pipeline
 */
#include <disco/disco.h>
#include "disco-json.h"
#include "disco-tool-pipelines.h"

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
  /* As gst-inspect's "Implemented Interfaces": DiscoLayer for the layers. */
  {
    guint n_interfaces = 0;
    g_autofree GType *interfaces = g_type_interfaces (type, &n_interfaces);

    for (guint i = 0; i < n_interfaces; i++)
      g_print ("%s%s", i == 0 ? "  Interfaces    " : ", ", g_type_name (interfaces[i]));
    if (n_interfaces > 0)
      g_print ("\n");
  }
  g_print ("  Dynamical     %s\n", disco_node_type_is_dynamical (type)
                                       ? "yes: holds continuous state advanced by an integrator"
                                       : "no");
  g_print ("  Runs on CUDA  %s\n", disco_node_type_runs_on_cuda (type)
                                       ? "yes (some settings may still need the CPU)"
                                       : "no: a pipeline with it runs on the CPU");

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
      g_print ("  %-18s  flags: %s%s\n", "", (pspec->flags & G_PARAM_READABLE) ? "readable" : "",
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
      g_string_append_printf (out,
                              ",\n    \"dynamical\": %s,\n    \"runs-on-cuda\": %s,"
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
              g_string_append_printf (out,
                                      ", \"direction\": \"%s\", \"optional\": %s, "
                                      "\"blurb\": ",
                                      d == 0 ? "input" : "output",
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

/* ----- --graph ----------------------------------------------------------- */

/* How a link is drawn: what it means to the run (DESIGN.md §4). */
typedef enum
{
  LINK_ORDERS_TICKS,  /* the producer runs first in every tick */
  LINK_COUPLING,      /* between two dynamical nodes: state, inside a tick */
  LINK_READS_NETWORK, /* from a dynamical node: after its whole network */
} LinkKind;

typedef struct
{
  DiscoNode *producer;
  const char *producer_port;
  DiscoNode *consumer;
  const char *consumer_port;
  LinkKind kind;
  gboolean back; /* a coupling that closes a loop: no rank constraint */
} GraphLink;

/* Text inside a record label: the record's own characters escaped. */
static void
append_record_text (GString *out, const char *text)
{
  for (const char *c = text; *c != '\0'; c++)
    {
      if (strchr ("{}|<>\"\\", *c) != NULL)
        g_string_append_c (out, '\\');
      g_string_append_c (out, *c);
    }
}

/* Text inside a quoted dot string, line breaks as "\n". */
static void
append_quoted (GString *out, const char *text)
{
  g_string_append_c (out, '"');
  for (const char *c = text; *c != '\0'; c++)
    {
      if (*c == '\n')
        {
          g_string_append (out, "\\n");
          continue;
        }
      if (*c == '"' || *c == '\\')
        g_string_append_c (out, '\\');
      g_string_append_c (out, *c);
    }
  g_string_append_c (out, '"');
}

/* A record field name for a port: letters, digits and "_" only. */
static char *
port_id (const char *prefix, const char *port)
{
  char *id = g_strconcat (prefix, port, NULL);

  for (char *c = id; *c != '\0'; c++)
    if (!g_ascii_isalnum (*c))
      *c = '_';
  return id;
}

/* "name = value" of every readable, writable property of @object whose
 * value is not its GParamSpec's default, except those in @skip. */
static GPtrArray *
changed_properties (GObject *object, const char *const *skip)
{
  guint n = 0;
  g_autofree GParamSpec **pspecs = g_object_class_list_properties (G_OBJECT_GET_CLASS (object), &n);
  GPtrArray *out = g_ptr_array_new_with_free_func (g_free);

  qsort (pspecs, n, sizeof (GParamSpec *), compare_pspecs);
  for (guint i = 0; i < n; i++)
    {
      GParamSpec *pspec = pspecs[i];
      g_auto (GValue) value = G_VALUE_INIT;
      g_autofree char *text = NULL;
      g_autofree char *def = NULL;

      if ((pspec->flags & G_PARAM_READWRITE) != G_PARAM_READWRITE
          || (skip != NULL && g_strv_contains (skip, pspec->name)))
        continue;
      g_value_init (&value, pspec->value_type);
      g_object_get_property (object, pspec->name, &value);
      if (g_param_value_defaults (pspec, &value))
        continue;
      /* A float field behind a double property (the layers' time
       * constants) differs from its default in the last bits only. */
      text = disco_value_to_string (&value);
      def = disco_value_to_string (g_param_spec_get_default_value (pspec));
      if (strcmp (text, def) == 0)
        continue;
      /* Long values (plot series, titles) would widen the node: cut them. */
      if (g_utf8_strlen (text, -1) > 40)
        {
          char *cut = g_utf8_substring (text, 0, 39);
          g_free (text);
          text = g_strconcat (cut, "…", NULL);
          g_free (cut);
        }
      g_ptr_array_add (out, g_strdup_printf ("%s = %s", pspec->name, text));
    }
  return out;
}

/* Every link of @pipeline, consumers in file order, ports in type order. */
static GArray *
collect_links (DiscoPipeline *pipeline, char **names)
{
  GArray *links = g_array_new (FALSE, TRUE, sizeof (GraphLink));

  for (guint i = 0; names[i] != NULL; i++)
    {
      DiscoNode *node = disco_pipeline_get_node (pipeline, names[i]);
      g_auto (GStrv) ports =
          disco_node_type_get_port_names (G_OBJECT_TYPE (node), DISCO_PORT_INPUT);

      for (guint j = 0; ports[j] != NULL; j++)
        {
          GraphLink link = { .consumer = node };

          link.producer = disco_node_get_input_node (node, ports[j], &link.producer_port);
          if (link.producer == NULL)
            continue;
          link.consumer_port = g_intern_string (ports[j]);
          /* As disco-pipeline-schedule.c's orders_ticks() decides. */
          if (disco_node_is_dynamical (link.producer) && disco_node_is_dynamical (node))
            link.kind = LINK_COUPLING;
          else if (disco_node_is_dynamical (link.producer))
            link.kind = LINK_READS_NETWORK;
          else
            link.kind = LINK_ORDERS_TICKS;
          g_array_append_val (links, link);
        }
    }
  return links;
}

/* Marks the couplings that close a loop (the controller's feedback, say)
 * by a depth-first walk along couplings, from the nodes a tick-ordering
 * link feeds first: the network is then drawn input first, top down, and
 * only the forward couplings constrain the layout. */
static void
mark_back_links (GArray *links, DiscoNode *node, GHashTable *state)
{
  g_hash_table_insert (state, node, GINT_TO_POINTER (1)); /* on the path */
  for (guint i = 0; i < links->len; i++)
    {
      GraphLink *link = &g_array_index (links, GraphLink, i);
      gint seen;

      if (link->kind != LINK_COUPLING || link->producer != node)
        continue;
      seen = GPOINTER_TO_INT (g_hash_table_lookup (state, link->consumer));
      if (seen == 1)
        link->back = TRUE;
      else if (seen == 0)
        mark_back_links (links, link->consumer, state);
    }
  g_hash_table_insert (state, node, GINT_TO_POINTER (2)); /* done */
}

/* The network (dynamical nodes joined by couplings) of each dynamical node,
 * as the smallest index in @names of its members. */
static GHashTable *
find_networks (DiscoPipeline *pipeline, char **names, GArray *links)
{
  GHashTable *network = g_hash_table_new (g_direct_hash, g_direct_equal);
  gboolean changed = TRUE;

  for (guint i = 0; names[i] != NULL; i++)
    {
      DiscoNode *node = disco_pipeline_get_node (pipeline, names[i]);
      if (disco_node_is_dynamical (node))
        g_hash_table_insert (network, node, GUINT_TO_POINTER (i + 1));
    }
  while (changed)
    {
      changed = FALSE;
      for (guint i = 0; i < links->len; i++)
        {
          GraphLink *link = &g_array_index (links, GraphLink, i);
          guint a, b;

          if (link->kind != LINK_COUPLING)
            continue;
          a = GPOINTER_TO_UINT (g_hash_table_lookup (network, link->producer));
          b = GPOINTER_TO_UINT (g_hash_table_lookup (network, link->consumer));
          if (a != b)
            {
              g_hash_table_insert (network, a < b ? link->consumer : link->producer,
                                   GUINT_TO_POINTER (MIN (a, b)));
              changed = TRUE;
            }
        }
    }
  return network;
}

/* Whether to draw a port as a field: every linked port and every required
 * input; a node's unlinked optional inputs and outputs (the integrator's
 * trajectories, say) are left out, except a lone output. */
static gboolean
port_is_drawn (DiscoNode *node, const char *port, DiscoPortDirection direction, guint n_ports,
               GHashTable *used_outputs)
{
  DiscoPortFlags flags = 0;
  g_autofree char *key = NULL;

  if (direction == DISCO_PORT_INPUT)
    {
      disco_node_type_get_port_info (G_OBJECT_TYPE (node), port, NULL, &flags, NULL);
      return disco_node_is_linked (node, port) || !(flags & DISCO_PORT_FLAG_OPTIONAL);
    }
  key = g_strdup_printf ("%s.%s", disco_node_get_name (node), port);
  return n_ports == 1 || g_hash_table_contains (used_outputs, key);
}

/* The drawn ports of @node as record fields "<i_port> port|...". */
static void
append_ports (GString *out, DiscoNode *node, DiscoPortDirection direction, GHashTable *used_outputs)
{
  g_auto (GStrv) ports = disco_node_type_get_port_names (G_OBJECT_TYPE (node), direction);
  guint n = g_strv_length (ports);
  gboolean first = TRUE;

  for (guint i = 0; ports[i] != NULL; i++)
    {
      g_autofree char *id = NULL;

      if (!port_is_drawn (node, ports[i], direction, n, used_outputs))
        continue;
      id = port_id (direction == DISCO_PORT_INPUT ? "i_" : "o_", ports[i]);
      g_string_append_printf (out, "%s<%s> ", first ? "" : "|", id);
      append_record_text (out, ports[i]);
      first = FALSE;
    }
}

static void
append_node (GString *out, DiscoNode *node, const char *indent, GHashTable *used_outputs)
{
  GType type = G_OBJECT_TYPE (node);
  const char *name = disco_node_get_name (node);
  const char *skip[] = { "name", NULL };
  g_autoptr (GPtrArray) props = changed_properties (G_OBJECT (node), skip);
  GString *inputs = g_string_new (NULL);
  GString *outputs = g_string_new (NULL);
  gboolean dynamical = disco_node_is_dynamical (node);
  const char *fill;

  append_ports (inputs, node, DISCO_PORT_INPUT, used_outputs);
  append_ports (outputs, node, DISCO_PORT_OUTPUT, used_outputs);
  fill = dynamical ? "#dceaf7" : inputs->len == 0 ? "#e2f0d9" : "#f2f2f2";
  g_string_append (out, indent);
  append_quoted (out, name);
  g_string_append (out, " [label=\"{");
  if (inputs->len > 0)
    g_string_append_printf (out, "{%s}|", inputs->str);
  append_record_text (out, name);
  g_string_append (out, "\\n");
  append_record_text (out, disco_registry_get_name_for_type (type));
  if (props->len > 0)
    {
      g_string_append (out, "|");
      for (guint i = 0; i < props->len; i++)
        {
          append_record_text (out, g_ptr_array_index (props, i));
          g_string_append (out, "\\l");
        }
    }
  if (outputs->len > 0)
    g_string_append_printf (out, "|{%s}", outputs->str);
  g_string_append_printf (out, "}\", fillcolor=\"%s\"];\n", fill);
  g_string_free (inputs, TRUE);
  g_string_free (outputs, TRUE);
}

/* The pipeline as a Graphviz graph: one record per node (ports as fields,
 * properties that differ from their defaults), one edge per link. */
static char *
pipeline_to_dot (DiscoPipeline *pipeline, const char *file)
{
  g_auto (GStrv) names = disco_pipeline_list_nodes (pipeline);
  g_autoptr (GArray) links = collect_links (pipeline, names);
  g_autoptr (GHashTable) networks = find_networks (pipeline, names, links);
  g_autoptr (GHashTable) state = g_hash_table_new (g_direct_hash, g_direct_equal);
  g_autoptr (GHashTable) used_outputs =
      g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  const char *skip[] = { "source-file", NULL };
  g_autoptr (GPtrArray) settings = changed_properties (G_OBJECT (pipeline), skip);
  g_autofree char *base = g_path_get_basename (file);
  g_auto (GStrv) order = disco_pipeline_get_tick_order (pipeline);
  guint kinds = 0;
  GString *out = g_string_new ("digraph pipeline {\n");
  GString *label = g_string_new (base);

  for (guint i = 0; i < settings->len; i++)
    g_string_append_printf (label, "%s%s", i ? " · " : " · [pipeline] ",
                            (char *) g_ptr_array_index (settings, i));
  if (order != NULL)
    {
      g_autofree char *joined = g_strjoinv (" → ", order);
      g_string_append_printf (label, "\ntick order: %s", joined);
    }
  for (guint i = 0; i < links->len; i++)
    {
      GraphLink *link = &g_array_index (links, GraphLink, i);
      g_hash_table_add (
          used_outputs,
          g_strdup_printf ("%s.%s", disco_node_get_name (link->producer), link->producer_port));
      kinds |= 1 << link->kind;
    }
  /* The legend: the kinds of link this graph has. */
  if (kinds & (1 << LINK_ORDERS_TICKS))
    g_string_append (label, "\nsolid: orders ticks (the producer runs first)");
  if (kinds & (1 << LINK_COUPLING))
    g_string_append (label, "\ndashed blue: state coupling between dynamical nodes, "
                            "resolved inside a tick");
  if (kinds & (1 << LINK_READS_NETWORK))
    g_string_append (label, "\nbold green: read after the whole network has settled");
  g_string_append (label, "\n");
  g_string_append (out, "  graph [fontname=\"Sans\", fontsize=11, labelloc=b, "
                        "nodesep=0.3, ranksep=0.45, label=");
  append_quoted (out, label->str);
  g_string_append (out,
                   "];\n  node [shape=Mrecord, style=filled, fontname=\"Sans\", "
                   "fontsize=10, color=\"#555555\"];\n"
                   "  edge [fontname=\"Sans\", fontsize=9, color=\"#333333\", arrowsize=0.7];\n");
  g_string_free (label, TRUE);

  /* Walk the couplings from where the network's input enters it. */
  for (int pass = 0; pass < 2; pass++)
    for (guint i = 0; names[i] != NULL; i++)
      {
        DiscoNode *node = disco_pipeline_get_node (pipeline, names[i]);
        gboolean entry = FALSE;

        if (!disco_node_is_dynamical (node) || g_hash_table_contains (state, node))
          continue;
        for (guint j = 0; j < links->len && !entry; j++)
          {
            GraphLink *link = &g_array_index (links, GraphLink, j);
            entry = link->consumer == node && link->kind == LINK_ORDERS_TICKS;
          }
        if (entry || pass == 1)
          mark_back_links (links, node, state);
      }

  /* Nodes: each network of dynamical nodes in a cluster of its own. */
  for (guint i = 0; names[i] != NULL; i++)
    {
      DiscoNode *node = disco_pipeline_get_node (pipeline, names[i]);
      guint id = GPOINTER_TO_UINT (g_hash_table_lookup (networks, node));

      if (id == 0)
        append_node (out, node, "  ", used_outputs);
      else if (id == i + 1)
        {
          g_autoptr (GPtrArray) readers = g_ptr_array_new ();
          GString *cluster = g_string_new ("dynamical network: state couplings resolved "
                                           "inside a tick");

          for (guint j = 0; j < links->len; j++)
            {
              GraphLink *link = &g_array_index (links, GraphLink, j);
              const char *reader = disco_node_get_name (link->consumer);

              if (link->kind == LINK_READS_NETWORK
                  && GPOINTER_TO_UINT (g_hash_table_lookup (networks, link->producer)) == id
                  && !g_ptr_array_find_with_equal_func (readers, reader, g_str_equal, NULL))
                g_ptr_array_add (readers, (gpointer) reader);
            }
          for (guint j = 0; j < readers->len; j++)
            g_string_append_printf (cluster, "%s%s", j ? ", " : "; read by ",
                                    (char *) g_ptr_array_index (readers, j));
          g_string_append_printf (out,
                                  "  subgraph cluster_network_%u {\n"
                                  "    style=\"rounded,dashed\"; color=\"#1f5fa8\"; "
                                  "fontcolor=\"#1f5fa8\"; fontsize=10; labeljust=l;\n"
                                  "    label=",
                                  id);
          append_quoted (out, cluster->str);
          g_string_append (out, ";\n");
          g_string_free (cluster, TRUE);
          for (guint j = i; names[j] != NULL; j++)
            {
              DiscoNode *member = disco_pipeline_get_node (pipeline, names[j]);
              if (GPOINTER_TO_UINT (g_hash_table_lookup (networks, member)) == id)
                append_node (out, member, "    ", used_outputs);
            }
          g_string_append (out, "  }\n");
        }
    }

  /* Links, from output field to input field. */
  for (guint i = 0; i < links->len; i++)
    {
      GraphLink *link = &g_array_index (links, GraphLink, i);
      g_autofree char *from = port_id ("o_", link->producer_port);
      g_autofree char *to = port_id ("i_", link->consumer_port);

      g_string_append (out, "  ");
      append_quoted (out, disco_node_get_name (link->producer));
      /* Loops back up leave and enter from the side, not around the node. */
      g_string_append_printf (out, ":%s%s -> ", from, link->back ? ":e" : ":s");
      append_quoted (out, disco_node_get_name (link->consumer));
      g_string_append_printf (out, ":%s%s", to, link->back ? ":e" : ":n");
      switch (link->kind)
        {
        case LINK_COUPLING:
          g_string_append_printf (out, " [style=dashed, color=\"#1f77b4\"%s]",
                                  link->back ? ", constraint=false" : "");
          break;
        case LINK_READS_NETWORK:
          g_string_append (out, " [style=bold, penwidth=2, color=\"#2e8b3a\"]");
          break;
        case LINK_ORDERS_TICKS: break;
        }
      g_string_append (out, ";\n");
    }
  g_string_append (out, "}\n");
  return g_string_free (out, FALSE);
}

/* Writes @dot to @output (stdout when NULL) as @format: dot itself, or
 * through Graphviz's dot. */
static gboolean
write_graph (const char *dot, const char *format, const char *output, GError **error)
{
  g_autofree char *dot_program = NULL;
  g_autoptr (GSubprocess) process = NULL;
  g_autoptr (GBytes) input = NULL;
  g_autofree char *type = NULL;

  if (strcmp (format, "dot") == 0)
    {
      if (output == NULL)
        {
          fputs (dot, stdout);
          return fflush (stdout) == 0;
        }
      return disco_write_file_atomically (output, (const guint8 *) dot, strlen (dot), error);
    }
  dot_program = g_find_program_in_path ("dot");
  if (dot_program == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                   "--graph-format %s needs Graphviz's dot, which is not installed "
                   "(Debian: apt-get install graphviz); --graph-format dot writes the "
                   "graph for rendering elsewhere",
                   format);
      return FALSE;
    }
  type = g_strconcat ("-T", format, NULL);
  process = output != NULL
                ? g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE, error, dot_program, type, "-o",
                                    output, NULL)
                : g_subprocess_new (G_SUBPROCESS_FLAGS_STDIN_PIPE, error, dot_program, type, NULL);
  if (process == NULL)
    return FALSE;
  input = g_bytes_new_static (dot, strlen (dot));
  if (!g_subprocess_communicate (process, input, NULL, NULL, NULL, error))
    return FALSE;
  if (!g_subprocess_get_if_exited (process) || g_subprocess_get_exit_status (process) != 0)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s %s failed (exit status %d)",
                   dot_program, type, g_subprocess_get_exit_status (process));
      return FALSE;
    }
  return TRUE;
}

static int
print_graph (int argc, char **argv, const char *format, const char *output)
{
  static const char *const formats[] = { "dot", "svg", "png", "pdf", NULL };
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoPipeline) pipeline = NULL;
  g_autofree char *file = NULL;
  g_autofree char *dot = NULL;

  if (format == NULL)
    {
      const char *dot_at = output != NULL ? strrchr (output, '.') : NULL;
      format = dot_at != NULL && g_strv_contains (formats, dot_at + 1) ? dot_at + 1 : "dot";
    }
  if (!g_strv_contains (formats, format))
    {
      g_printerr ("disco-inspect: unknown --graph-format \"%s\" (dot, svg, png or pdf)\n", format);
      return 2;
    }
  if (argc < 2)
    {
      g_printerr ("disco-inspect: --graph needs a pipeline file (usage: disco-inspect --graph "
                  "FILE [node.property=value ...])\n");
      return 2;
    }
  if ((file = disco_tool_find_pipeline (argv[1])) == NULL)
    {
      g_autofree char *message = disco_tool_pipeline_not_found ("disco-inspect", argv[1]);
      g_printerr ("%s\n", message);
      return 1;
    }
  pipeline = disco_pipeline_new_from_file (file, (const char *const *) argv + 2, &error);
  if (pipeline == NULL)
    {
      g_printerr ("disco-inspect: %s\n", error->message);
      return 1;
    }
  dot = pipeline_to_dot (pipeline, file);
  if (!write_graph (dot, format, output, &error))
    {
      g_printerr ("disco-inspect: %s\n", error->message);
      return 1;
    }
  return 0;
}

int
main (int argc, char **argv)
{
  gboolean json = FALSE;
  gboolean graph = FALSE;
  g_autofree char *graph_format = NULL;
  g_autofree char *output = NULL;
  g_autoptr (GOptionContext) context = NULL;
  g_autoptr (GError) error = NULL;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print every node type as JSON", NULL },
    { "graph", 0, 0, G_OPTION_ARG_NONE, &graph,
      "Draw the pipeline FILE (or NAME, as disco-run finds it) as a Graphviz graph", NULL },
    { "graph-format", 0, 0, G_OPTION_ARG_STRING, &graph_format,
      "dot (the default), or svg, png, pdf rendered by Graphviz's dot", "FORMAT" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &output,
      "Write the graph to FILE (its extension picks the format), not stdout", "FILE" },
    G_OPTION_ENTRY_NULL
  };

  setlocale (LC_ALL, "");
  context = g_option_context_new ("[NODE | --graph FILE [node.property=value ...]] - list "
                                  "Disco node types, describe one, or draw a pipeline");
  g_option_context_add_main_entries (context, entries, NULL);
  g_option_context_set_description (
      context,
      "disco-inspect --graph FILE [node.property=value ...] draws a pipeline: one record per\n"
      "node with its name, type, ports and the properties that differ from their defaults;\n"
      "one edge per link, from output port to input port. Solid edges order ticks; dashed\n"
      "blue edges are state couplings between dynamical nodes, resolved inside a tick (the\n"
      "nodes they join are boxed as one network); bold green edges read a network after it\n"
      "has settled.\n"
      "\n"
      "Examples:\n"
      "  disco-inspect microcircuit\n"
      "  disco-inspect --graph pipelines/quick.pipeline | dot -Tsvg > quick.svg\n"
      "  disco-inspect --graph quick h1.size=64 -o quick.png");
  if (!g_option_context_parse (context, &argc, &argv, &error))
    {
      g_printerr ("disco-inspect: %s\n", error->message);
      return 2;
    }
  if (graph)
    return print_graph (argc, argv, graph_format, output);
  if (graph_format != NULL || output != NULL)
    {
      g_printerr ("disco-inspect: --graph-format and --output go with --graph\n");
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
