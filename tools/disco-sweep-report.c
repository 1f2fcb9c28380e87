/* disco-sweep-report.c: tables and curves over the runs of a sweep */

/**
 * SECTION:sweep-report
 * @title: Sweep report
 * @short_description: Table 1 of a sweep, as Markdown and CSV, and its test curves
 *
 * A sweep writes one folder per run, `DIR/<pipeline>/seed-<n>/` or
 * `DIR/<pipeline>/<grid point>/seed-<n>/`, holding the sweep's
 * `sweep-run.ini` (group `[run]`: pipeline, pipeline-file, grid, seed,
 * status, message, exit-status) and the run's own `results.json` (see the
 * evaluator node). disco_sweep_report_write() gathers them into:
 *
 * - `DIR/report.md`: three tables in the layout of Table 1 of Rossbroich &
 *   Zenke (rows: data set × network; columns: learning rule, with the grid
 *   point appended): final-epoch test accuracy, test accuracy at the
 *   best-validation epoch, and that validation accuracy (Table S3), each
 *   cell "mean ± std (n)" over the finished runs. Then one line per
 *   configuration (pipeline and grid point) with its run counts and, last,
 *   its wall time; the failed runs with their messages; and the
 *   configurations with fewer finished runs than runs, after "Missing:".
 * - `DIR/report.csv`: one row per configuration, the same numbers.
 * - `DIR/runs.csv`: one row per run.
 * - `DIR/curves.png`: mean test accuracy against epoch per configuration,
 *   with a ±1 standard deviation band; not written when no run has epochs.
 *
 * Everything is sorted and nothing depends on the time or the sweep
 * folder's own path, so that two sweeps with the same results give the
 * same files once the wall-time columns (the last column of the
 * configuration table, the last two of report.csv, `wall_time_s` of
 * runs.csv) are cut out. Each file is replaced atomically.
 */

#define G_LOG_DOMAIN "disco-sweep"

#include "disco-sweep-report.h"

#include "disco-plot.h"

#include <disco/disco.h>

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

#define RUN_FILE "sweep-run.ini"
#define RESULTS_FILE "results.json"
#define CURVES_WIDTH 1200
#define CURVES_HEIGHT 640
#define DASH "—"

typedef enum
{
  RUN_PENDING,
  RUN_RUNNING,
  RUN_STOPPED,
  RUN_FINISHED,
  RUN_FAILED,
} RunStatus;

static const char *const status_names[] = { "pending", "running", "stopped", "finished", "failed" };

/* One epoch of a run; NAN where the phase is missing. */
typedef struct
{
  gint64 epoch;
  double test;
  double validation;
} EpochPoint;

/* What a run trained: Table 1's row and column. */
typedef struct
{
  char *dataset; /* "MNIST", "Fashion-MNIST", "digits", … */
  char *network; /* "1×256", "3×256", "256–128" */
  guint n_layers;
  char *rule; /* the plasticity node's rule */
} Setup;

typedef struct
{
  char *folder; /* relative to the sweep folder */
  char *pipeline;
  char *pipeline_file; /* nullable */
  char *grid;          /* "" without a grid */
  gint64 seed;
  RunStatus status; /* as reported: finished without results is failed */
  char *message;
  GArray *epochs;   /* EpochPoint, in the file's order */
  double wall_time; /* NAN when unknown */
  Setup setup;      /* from results.json's config; fields NULL without */
  /* From the epochs; NAN or 0 when undefined. */
  double test_final;
  double test_at_best;
  double validation_best;
  gint64 best_epoch;
} Run;

/* Mean and sample standard deviation (NAN for fewer than 2 values). */
typedef struct
{
  guint n;
  double mean;
  double std;
} Stats;

typedef struct
{
  char *pipeline;
  char *grid;
  Setup setup;
  char *row;       /* "MNIST 1×256" */
  char *column;    /* "linear-threshold, adam.learning-rate=0.002" */
  GPtrArray *runs; /* Run, borrowed, by seed */
  guint n_status[G_N_ELEMENTS (status_names)];
  Stats test_final;
  Stats test_at_best;
  Stats validation_best;
  Stats wall_time;
  gint64 epochs_min; /* over finished runs; 0 without */
  gint64 epochs_max;
} Config;

static void
setup_clear (Setup *setup)
{
  g_clear_pointer (&setup->dataset, g_free);
  g_clear_pointer (&setup->network, g_free);
  g_clear_pointer (&setup->rule, g_free);
}

static void
run_free (Run *run)
{
  g_free (run->folder);
  g_free (run->pipeline);
  g_free (run->pipeline_file);
  g_free (run->grid);
  g_free (run->message);
  g_array_unref (run->epochs);
  setup_clear (&run->setup);
  g_free (run);
}

static void
config_free (Config *config)
{
  g_free (config->pipeline);
  g_free (config->grid);
  setup_clear (&config->setup);
  g_free (config->row);
  g_free (config->column);
  g_ptr_array_unref (config->runs);
  g_free (config);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Run, run_free)

/* ---------------------------------------------------------------- Setup */

/* The data set's name from the loader's path: its base name without
 * extensions, with MNIST's and Fashion-MNIST's usual spelling. */
static char *
dataset_name (const char *path)
{
  g_autofree char *base = g_path_get_basename (path);
  char *dot = strchr (base, '.');

  if (dot != NULL && dot != base)
    *dot = '\0';
  if (g_ascii_strcasecmp (base, "mnist") == 0)
    return g_strdup ("MNIST");
  if (g_ascii_strcasecmp (base, "fashion-mnist") == 0
      || g_ascii_strcasecmp (base, "fashion_mnist") == 0)
    return g_strdup ("Fashion-MNIST");
  return g_steal_pointer (&base);
}

/* Accumulates one node of a configuration into @setup; @sizes collects the
 * hidden layers' sizes in the order of the nodes. */
static void
setup_add_node (Setup *setup, GArray *sizes, const char *type, const char *path, gint64 size,
                const char *rule)
{
  if (type == NULL)
    return;
  if (g_str_has_suffix (type, "-loader") && path != NULL && setup->dataset == NULL)
    setup->dataset = dataset_name (path);
  else if ((g_str_equal (type, "microcircuit") || g_str_equal (type, "rate-layer")) && size > 0)
    g_array_append_val (sizes, size);
  else if (g_str_equal (type, "plasticity") && rule != NULL && setup->rule == NULL)
    setup->rule = g_strdup (rule);
}

static void
setup_finish (Setup *setup, GArray *sizes)
{
  gboolean same = TRUE;
  GString *network;

  setup->n_layers = sizes->len;
  if (setup->dataset == NULL)
    setup->dataset = g_strdup ("unknown data");
  if (setup->rule == NULL)
    setup->rule = g_strdup ("no plasticity");
  if (sizes->len == 0)
    {
      setup->network = g_strdup ("no hidden layer");
      return;
    }
  for (guint i = 1; i < sizes->len; i++)
    same = same && g_array_index (sizes, gint64, i) == g_array_index (sizes, gint64, 0);
  network = g_string_new (NULL);
  if (same)
    g_string_printf (network, "%u×%" G_GINT64_FORMAT, sizes->len, g_array_index (sizes, gint64, 0));
  else
    for (guint i = 0; i < sizes->len; i++)
      g_string_append_printf (network, "%s%" G_GINT64_FORMAT, i ? "–" : "",
                              g_array_index (sizes, gint64, i));
  setup->network = g_string_free (network, FALSE);
}

static const char *
json_string_member (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || json_node_get_value_type (node) != G_TYPE_STRING)
    return NULL;
  return json_node_get_string (node);
}

/* A member that is an object, or NULL (json_object_get_object_member()
 * complains about a missing one). */
static JsonObject *
json_object_member (JsonObject *object, const char *name)
{
  JsonNode *node = json_object_get_member (object, name);

  if (node == NULL || !JSON_NODE_HOLDS_OBJECT (node))
    return NULL;
  return json_node_get_object (node);
}

static gboolean
json_number_member (JsonObject *object, const char *name, double *value)
{
  JsonNode *node = json_object_get_member (object, name);
  GType type;

  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  type = json_node_get_value_type (node);
  if (type != G_TYPE_DOUBLE && type != G_TYPE_INT64)
    return FALSE;
  *value = json_node_get_double (node);
  return TRUE;
}

/* The setup from results.json's "config": every member with a "node". */
static void
setup_from_json (Setup *setup, JsonObject *config)
{
  g_autoptr (GArray) sizes = g_array_new (FALSE, FALSE, sizeof (gint64));
  JsonObjectIter iter;
  const char *name;
  JsonNode *member;

  json_object_iter_init_ordered (&iter, config);
  while (json_object_iter_next_ordered (&iter, &name, &member))
    {
      JsonObject *node;
      double size = 0.0;

      if (!JSON_NODE_HOLDS_OBJECT (member))
        continue;
      node = json_node_get_object (member);
      json_number_member (node, "size", &size);
      setup_add_node (setup, sizes, json_string_member (node, "node"),
                      json_string_member (node, "path"), (gint64) size,
                      json_string_member (node, "rule"));
    }
  setup_finish (setup, sizes);
}

/* A pipeline file's value, without a trailing "# comment". */
static char *
keyfile_value (GKeyFile *file, const char *group, const char *key)
{
  g_autofree char *value = g_key_file_get_string (file, group, key, NULL);
  char *hash;

  if (value == NULL)
    return NULL;
  hash = strstr (value, " #");
  if (hash != NULL)
    *hash = '\0';
  return g_strdup (g_strstrip (value));
}

/* The setup from the pipeline file with the grid point's overrides, for a
 * configuration none of whose runs has written a results.json. */
static gboolean
setup_from_pipeline (Setup *setup, const char *pipeline_file, const char *grid)
{
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autoptr (GArray) sizes = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_auto (GStrv) groups = NULL;
  g_auto (GStrv) overrides = NULL;

  if (pipeline_file == NULL || *pipeline_file == '\0'
      || !g_key_file_load_from_file (file, pipeline_file, G_KEY_FILE_NONE, NULL))
    return FALSE;
  overrides = g_strsplit (grid, ", ", -1);
  for (guint i = 0; overrides[i] != NULL; i++)
    {
      char *eq = strchr (overrides[i], '=');
      char *dot = strchr (overrides[i], '.');

      if (eq == NULL || dot == NULL || dot > eq)
        continue;
      *eq = *dot = '\0';
      g_key_file_set_string (file, g_strstrip (overrides[i]), g_strstrip (dot + 1),
                             g_strstrip (eq + 1));
    }
  groups = g_key_file_get_groups (file, NULL);
  for (guint i = 0; groups[i] != NULL; i++)
    {
      g_autofree char *type = keyfile_value (file, groups[i], "node");
      g_autofree char *path = keyfile_value (file, groups[i], "path");
      g_autofree char *size = keyfile_value (file, groups[i], "size");
      g_autofree char *rule = keyfile_value (file, groups[i], "rule");

      setup_add_node (setup, sizes, type, path, size != NULL ? g_ascii_strtoll (size, NULL, 10) : 0,
                      rule);
    }
  setup_finish (setup, sizes);
  return TRUE;
}

static void
setup_copy (Setup *dest, const Setup *src)
{
  dest->dataset = g_strdup (src->dataset);
  dest->network = g_strdup (src->network);
  dest->n_layers = src->n_layers;
  dest->rule = g_strdup (src->rule);
}

/* ----------------------------------------------------------------- Runs */

/* Reads results.json into @run; FALSE with a reason (no paths in it, so
 * that reports of two sweeps compare) when it is missing or no report. */
static gboolean
read_results (Run *run, const char *path, char **reason)
{
  g_autoptr (JsonParser) parser = json_parser_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *text = NULL;
  gsize length;
  JsonNode *root, *list, *config;
  JsonObject *object;
  JsonArray *epochs;

  if (!g_file_get_contents (path, &text, &length, &error))
    {
      if (g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        *reason = g_strdup (RESULTS_FILE " is missing");
      else
        *reason = g_strdup_printf (RESULTS_FILE " cannot be read: %s", error->message);
      return FALSE;
    }
  if (!json_parser_load_from_data (parser, text, length, &error))
    {
      const char *message = error->message;

      /* json-glib names in-memory data "<data>"; ours is the file. */
      if (g_str_has_prefix (message, "<data>"))
        message += strlen ("<data>");
      *reason = g_strdup_printf (RESULTS_FILE "%s%s", *message == ':' ? "" : ": ", message);
      return FALSE;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      *reason = g_strdup (RESULTS_FILE " is not a report (no JSON object)");
      return FALSE;
    }
  object = json_node_get_object (root);
  list = json_object_get_member (object, "epochs");
  if (list == NULL || !JSON_NODE_HOLDS_ARRAY (list))
    {
      *reason = g_strdup (RESULTS_FILE " is not a report (no \"epochs\" list)");
      return FALSE;
    }
  epochs = json_node_get_array (list);
  for (guint i = 0; i < json_array_get_length (epochs); i++)
    {
      JsonNode *element = json_array_get_element (epochs, i);
      EpochPoint point = { i + 1, NAN, NAN };
      JsonObject *epoch, *phase;
      double number;

      if (!JSON_NODE_HOLDS_OBJECT (element))
        continue;
      epoch = json_node_get_object (element);
      if (json_number_member (epoch, "epoch", &number))
        point.epoch = (gint64) number;
      phase = json_object_member (epoch, "test");
      if (phase != NULL && json_number_member (phase, "accuracy", &number))
        point.test = number;
      phase = json_object_member (epoch, "validation");
      if (phase != NULL && json_number_member (phase, "accuracy", &number))
        point.validation = number;
      g_array_append_val (run->epochs, point);
    }
  json_number_member (object, "wall_time_s", &run->wall_time);
  config = json_object_get_member (object, "config");
  if (config != NULL && JSON_NODE_HOLDS_OBJECT (config))
    setup_from_json (&run->setup, json_node_get_object (config));
  if (run->epochs->len == 0)
    {
      *reason = g_strdup (RESULTS_FILE " has no epochs");
      return FALSE;
    }
  return TRUE;
}

/* The final epoch's test accuracy, and the first epoch with the highest
 * validation accuracy with its test accuracy. */
static void
run_summarize (Run *run)
{
  run->test_final = run->test_at_best = run->validation_best = NAN;
  run->best_epoch = 0;
  if (run->epochs->len == 0)
    return;
  run->test_final = g_array_index (run->epochs, EpochPoint, run->epochs->len - 1).test;
  for (guint i = 0; i < run->epochs->len; i++)
    {
      const EpochPoint *point = &g_array_index (run->epochs, EpochPoint, i);

      if (isfinite (point->validation)
          && (!isfinite (run->validation_best) || point->validation > run->validation_best))
        {
          run->validation_best = point->validation;
          run->test_at_best = point->test;
          run->best_epoch = point->epoch;
        }
    }
}

static gint64
run_final_epoch (const Run *run)
{
  if (run->epochs->len == 0)
    return 0;
  return g_array_index (run->epochs, EpochPoint, run->epochs->len - 1).epoch;
}

static gboolean
parse_status (const char *text, RunStatus *status)
{
  for (guint i = 0; i < G_N_ELEMENTS (status_names); i++)
    if (g_strcmp0 (text, status_names[i]) == 0)
      {
        *status = i;
        return TRUE;
      }
  return FALSE;
}

/* One run folder; NULL, with a warning naming the file, when its
 * sweep-run.ini cannot be read or lacks what a run needs. */
static Run *
read_run (const char *dir, const char *folder)
{
  g_autofree char *run_dir = g_build_filename (dir, folder, NULL);
  g_autofree char *ini_path = g_build_filename (run_dir, RUN_FILE, NULL);
  g_autofree char *results_path = g_build_filename (run_dir, RESULTS_FILE, NULL);
  g_autoptr (GKeyFile) file = g_key_file_new ();
  g_autoptr (GError) error = NULL;
  g_autofree char *status = NULL;
  g_autofree char *reason = NULL;
  g_autoptr (Run) run = g_new0 (Run, 1);

  run->folder = g_strdup (folder);
  run->epochs = g_array_new (FALSE, FALSE, sizeof (EpochPoint));
  run->wall_time = NAN;
  if (!g_key_file_load_from_file (file, ini_path, G_KEY_FILE_NONE, &error))
    {
      g_warning ("%s: cannot read the run, skipped: %s", ini_path, error->message);
      return NULL;
    }
  run->pipeline = g_key_file_get_string (file, "run", "pipeline", &error);
  if (run->pipeline == NULL || *run->pipeline == '\0')
    {
      g_warning ("%s: the run has no pipeline, skipped%s%s", ini_path, error ? ": " : "",
                 error ? error->message : "");
      return NULL;
    }
  run->seed = g_key_file_get_int64 (file, "run", "seed", &error);
  if (error != NULL)
    {
      g_warning ("%s: the run has no valid seed, skipped: %s", ini_path, error->message);
      return NULL;
    }
  status = g_key_file_get_string (file, "run", "status", NULL);
  if (!parse_status (status, &run->status))
    {
      g_warning ("%s: the run's status \"%s\" is none of pending, running, stopped, "
                 "finished, failed; skipped",
                 ini_path, status ? status : "");
      return NULL;
    }
  run->pipeline_file = g_key_file_get_string (file, "run", "pipeline-file", NULL);
  run->grid = g_key_file_get_string (file, "run", "grid", NULL);
  if (run->grid == NULL)
    run->grid = g_strdup ("");
  g_strstrip (run->grid);
  run->message = g_key_file_get_string (file, "run", "message", NULL);
  if (run->message == NULL)
    run->message = g_strdup ("");

  if (!read_results (run, results_path, &reason) && run->status == RUN_FINISHED)
    {
      run->status = RUN_FAILED;
      g_free (run->message);
      run->message = g_strdup_printf ("finished, but %s", reason);
    }
  run_summarize (run);
  return g_steal_pointer (&run);
}

static int
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Names in @path, sorted, so that warnings come in a fixed order. */
static GPtrArray *
sorted_entries (const char *path)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (dir == NULL)
    return names;
  while ((name = g_dir_read_name (dir)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_strings);
  return names;
}

/* Finds sweep-run.ini in the folders two and three levels below @dir. */
static void
scan (const char *dir, const char *folder, guint depth, GPtrArray *runs)
{
  g_autofree char *path = g_build_filename (dir, folder, NULL);
  g_autoptr (GPtrArray) names = NULL;

  if (depth >= 2)
    {
      g_autofree char *ini = g_build_filename (path, RUN_FILE, NULL);

      if (g_file_test (ini, G_FILE_TEST_EXISTS))
        {
          Run *run = read_run (dir, folder);
          if (run != NULL)
            g_ptr_array_add (runs, run);
          return;
        }
    }
  if (depth >= 3)
    return;
  names = sorted_entries (path);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autofree char *child = g_build_filename (path, name, NULL);
      g_autofree char *child_folder = NULL;

      if (!g_file_test (child, G_FILE_TEST_IS_DIR))
        continue;
      child_folder = *folder ? g_strconcat (folder, "/", name, NULL) : g_strdup (name);
      scan (dir, child_folder, depth + 1, runs);
    }
}

static int
compare_runs (gconstpointer a, gconstpointer b)
{
  const Run *x = *(const Run *const *) a, *y = *(const Run *const *) b;
  int c = strcmp (x->pipeline, y->pipeline);

  if (c == 0)
    c = strcmp (x->grid, y->grid);
  if (c == 0)
    c = (x->seed > y->seed) - (x->seed < y->seed);
  if (c == 0)
    c = strcmp (x->folder, y->folder);
  return c;
}

/* -------------------------------------------------------- Configurations */

static Stats
stats_of (GArray *values)
{
  Stats stats = { values->len, NAN, NAN };
  double sum = 0.0, squares = 0.0;

  if (values->len == 0)
    return stats;
  for (guint i = 0; i < values->len; i++)
    sum += g_array_index (values, double, i);
  stats.mean = sum / values->len;
  if (values->len < 2)
    return stats;
  for (guint i = 0; i < values->len; i++)
    {
      double d = g_array_index (values, double, i) - stats.mean;
      squares += d * d;
    }
  stats.std = sqrt (squares / (values->len - 1));
  return stats;
}

/* Statistics of one number of the finished runs, over those defining it. */
static Stats
config_stats (const Config *config, gsize offset)
{
  g_autoptr (GArray) values = g_array_new (FALSE, FALSE, sizeof (double));

  for (guint i = 0; i < config->runs->len; i++)
    {
      const Run *run = g_ptr_array_index (config->runs, i);
      double value = G_STRUCT_MEMBER (double, run, offset);

      if (run->status == RUN_FINISHED && isfinite (value))
        g_array_append_val (values, value);
    }
  return stats_of (values);
}

static int
rule_rank (const char *rule)
{
  static const char *const order[] = { "backprop", "exact-inverse", "linear-threshold" };

  for (guint i = 0; i < G_N_ELEMENTS (order); i++)
    if (g_str_equal (rule, order[i]))
      return i;
  return G_N_ELEMENTS (order);
}

static int
dataset_rank (const char *dataset)
{
  if (g_str_equal (dataset, "MNIST"))
    return 0;
  if (g_str_equal (dataset, "Fashion-MNIST"))
    return 1;
  return 2;
}

/* Rows: MNIST, Fashion-MNIST, then the others by name; within a data set
 * by depth, then name. */
static int
compare_rows (const Config *x, const Config *y)
{
  int c = dataset_rank (x->setup.dataset) - dataset_rank (y->setup.dataset);

  if (c == 0)
    c = strcmp (x->setup.dataset, y->setup.dataset);
  if (c == 0)
    c = (x->setup.n_layers > y->setup.n_layers) - (x->setup.n_layers < y->setup.n_layers);
  if (c == 0)
    c = strcmp (x->setup.network, y->setup.network);
  return c;
}

/* Columns: backprop, exact-inverse, linear-threshold, the others by name;
 * within a rule by label (pipeline, grid point). */
static int
compare_columns (const Config *x, const Config *y)
{
  int c = rule_rank (x->setup.rule) - rule_rank (y->setup.rule);

  if (c == 0)
    c = strcmp (x->setup.rule, y->setup.rule);
  if (c == 0)
    c = strcmp (x->column, y->column);
  return c;
}

static int
compare_rows_indirect (gconstpointer a, gconstpointer b)
{
  return compare_rows (*(const Config *const *) a, *(const Config *const *) b);
}

static int
compare_columns_indirect (gconstpointer a, gconstpointer b)
{
  return compare_columns (*(const Config *const *) a, *(const Config *const *) b);
}

/* Groups the sorted runs by pipeline and grid point. */
static GPtrArray *
group_configs (GPtrArray *runs)
{
  GPtrArray *configs = g_ptr_array_new_with_free_func ((GDestroyNotify) config_free);
  g_autoptr (GHashTable) cells = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  for (guint i = 0; i < runs->len; i++)
    {
      Run *run = g_ptr_array_index (runs, i);
      Config *config = configs->len ? g_ptr_array_index (configs, configs->len - 1) : NULL;

      if (config == NULL || !g_str_equal (config->pipeline, run->pipeline)
          || !g_str_equal (config->grid, run->grid))
        {
          config = g_new0 (Config, 1);
          config->pipeline = g_strdup (run->pipeline);
          config->grid = g_strdup (run->grid);
          config->runs = g_ptr_array_new ();
          g_ptr_array_add (configs, config);
        }
      g_ptr_array_add (config->runs, run);
      config->n_status[run->status]++;
    }

  for (guint i = 0; i < configs->len; i++)
    {
      Config *config = g_ptr_array_index (configs, i);
      gboolean found = FALSE;

      /* The setup of the first run (by seed) that wrote a config, else of
       * the pipeline file. */
      for (guint r = 0; r < config->runs->len && !found; r++)
        {
          const Run *run = g_ptr_array_index (config->runs, r);
          if (run->setup.dataset != NULL)
            {
              setup_copy (&config->setup, &run->setup);
              found = TRUE;
            }
        }
      for (guint r = 0; r < config->runs->len && !found; r++)
        {
          const Run *run = g_ptr_array_index (config->runs, r);
          found = setup_from_pipeline (&config->setup, run->pipeline_file, run->grid);
        }
      if (!found)
        {
          config->setup.dataset = g_strdup (config->pipeline);
          config->setup.network = g_strdup ("");
          config->setup.rule = g_strdup ("unknown rule");
        }
      config->row = *config->setup.network
                        ? g_strdup_printf ("%s %s", config->setup.dataset, config->setup.network)
                        : g_strdup (config->setup.dataset);

      config->test_final = config_stats (config, G_STRUCT_OFFSET (Run, test_final));
      config->test_at_best = config_stats (config, G_STRUCT_OFFSET (Run, test_at_best));
      config->validation_best = config_stats (config, G_STRUCT_OFFSET (Run, validation_best));
      config->wall_time = config_stats (config, G_STRUCT_OFFSET (Run, wall_time));
      for (guint r = 0; r < config->runs->len; r++)
        {
          const Run *run = g_ptr_array_index (config->runs, r);
          gint64 epochs = run_final_epoch (run);

          if (run->status != RUN_FINISHED)
            continue;
          config->epochs_min = config->epochs_min ? MIN (config->epochs_min, epochs) : epochs;
          config->epochs_max = MAX (config->epochs_max, epochs);
        }
    }

  /* Columns are rule and grid point; two pipelines that land in the same
   * cell (an open-loop variant, say) get their names added to tell them
   * apart. */
  for (guint pass = 0; pass < 2; pass++)
    for (guint i = 0; i < configs->len; i++)
      {
        Config *config = g_ptr_array_index (configs, i);
        g_autofree char *key =
            g_strdup_printf ("%s\n%s\n%s", config->row, config->setup.rule, config->grid);
        const char *other = g_hash_table_lookup (cells, key);

        if (pass == 0)
          {
            if (other == NULL)
              g_hash_table_insert (cells, g_steal_pointer (&key), config->pipeline);
            else if (!g_str_equal (other, config->pipeline))
              g_hash_table_replace (cells, g_steal_pointer (&key), (gpointer) "");
            continue;
          }
        if (other != NULL && *other == '\0')
          config->column = g_strdup_printf ("%s (%s)%s%s", config->setup.rule, config->pipeline,
                                            *config->grid ? ", " : "", config->grid);
        else
          config->column = g_strdup_printf ("%s%s%s", config->setup.rule, *config->grid ? ", " : "",
                                            config->grid);
      }
  return configs;
}

/* ---------------------------------------------------------------- Text */

static void
append_number (GString *out, double value)
{
  char buf[G_ASCII_DTOSTR_BUF_SIZE];

  if (isfinite (value))
    g_string_append (out, g_ascii_formatd (buf, sizeof buf, "%.15g", value));
}

static void
append_csv_field (GString *out, const char *text)
{
  if (strpbrk (text, ",\"\r\n") == NULL)
    {
      g_string_append (out, text);
      return;
    }
  g_string_append_c (out, '"');
  for (const char *c = text; *c; c++)
    {
      if (*c == '"')
        g_string_append_c (out, '"');
      g_string_append_c (out, *c);
    }
  g_string_append_c (out, '"');
}

/* Text for a Markdown table cell: pipes escaped, lines joined. */
static void
append_md (GString *out, const char *text)
{
  for (const char *c = text; *c; c++)
    {
      if (*c == '|')
        g_string_append (out, "\\|");
      else if (*c == '\n' || *c == '\r')
        g_string_append_c (out, ' ');
      else
        g_string_append_c (out, *c);
    }
}

/* "mean ± std (n)", "mean (1)" or a dash, with @decimals decimals. */
static void
append_stats (GString *out, const Stats *stats, int decimals, gboolean with_n)
{
  char mean[G_ASCII_DTOSTR_BUF_SIZE], std[G_ASCII_DTOSTR_BUF_SIZE];
  g_autofree char *format = g_strdup_printf ("%%.%df", decimals);

  if (stats->n == 0)
    {
      g_string_append (out, DASH);
      return;
    }
  g_ascii_formatd (mean, sizeof mean, format, stats->mean);
  g_string_append (out, mean);
  if (stats->n >= 2)
    g_string_append_printf (out, " ± %s", g_ascii_formatd (std, sizeof std, format, stats->std));
  if (with_n)
    g_string_append_printf (out, " (%u)", stats->n);
}

static char *
config_label (const Config *config)
{
  if (*config->grid == '\0')
    return g_strdup (config->pipeline);
  return g_strdup_printf ("%s, %s", config->pipeline, config->grid);
}

/* Final epochs of the finished runs: "50", "48–50 (runs differ)", or a dash
 * (Markdown); "50", "48-50" or "" (CSV). */
static void
append_epochs (GString *out, const Config *config, gboolean csv)
{
  if (config->epochs_max == 0)
    g_string_append (out, csv ? "" : DASH);
  else if (config->epochs_min == config->epochs_max)
    g_string_append_printf (out, "%" G_GINT64_FORMAT, config->epochs_max);
  else
    g_string_append_printf (out, "%" G_GINT64_FORMAT "%s%" G_GINT64_FORMAT "%s", config->epochs_min,
                            csv ? "-" : "–", config->epochs_max, csv ? "" : " (runs differ)");
}

typedef struct
{
  const char *title;
  const char *note;
  gsize offset; /* of the Stats in Config */
} TableKind;

static void
append_table (GString *out, const TableKind *kind, GPtrArray *configs, GPtrArray *rows,
              GPtrArray *columns)
{
  g_string_append_printf (out, "## %s\n\n", kind->title);
  if (kind->note != NULL)
    g_string_append_printf (out, "%s\n\n", kind->note);
  g_string_append (out, "| Data set, network |");
  for (guint c = 0; c < columns->len; c++)
    {
      const Config *column = g_ptr_array_index (columns, c);
      g_string_append_c (out, ' ');
      append_md (out, column->column);
      g_string_append (out, " |");
    }
  g_string_append (out, "\n|:--|");
  for (guint c = 0; c < columns->len; c++)
    g_string_append (out, "--:|");
  g_string_append_c (out, '\n');
  for (guint r = 0; r < rows->len; r++)
    {
      const Config *row = g_ptr_array_index (rows, r);

      g_string_append (out, "| ");
      append_md (out, row->row);
      g_string_append (out, " |");
      for (guint c = 0; c < columns->len; c++)
        {
          const Config *column = g_ptr_array_index (columns, c);
          const Config *cell = NULL;

          for (guint i = 0; i < configs->len && cell == NULL; i++)
            {
              const Config *config = g_ptr_array_index (configs, i);
              if (g_str_equal (config->row, row->row)
                  && g_str_equal (config->column, column->column))
                cell = config;
            }
          g_string_append_c (out, ' ');
          if (cell != NULL)
            append_stats (out, &G_STRUCT_MEMBER (Stats, cell, kind->offset), 2, TRUE);
          else
            g_string_append (out, DASH);
          g_string_append (out, " |");
        }
      g_string_append_c (out, '\n');
    }
  g_string_append_c (out, '\n');
}

/* One Config per distinct row or column label, sorted by @compare. */
static GPtrArray *
distinct (GPtrArray *configs, GCompareFunc compare)
{
  GPtrArray *sorted = g_ptr_array_new ();
  GPtrArray *unique = g_ptr_array_new ();

  for (guint i = 0; i < configs->len; i++)
    g_ptr_array_add (sorted, g_ptr_array_index (configs, i));
  g_ptr_array_sort (sorted, compare);
  for (guint i = 0; i < sorted->len; i++)
    if (unique->len == 0
        || compare (&g_ptr_array_index (sorted, i), &g_ptr_array_index (unique, unique->len - 1))
               != 0)
      g_ptr_array_add (unique, g_ptr_array_index (sorted, i));
  g_ptr_array_unref (sorted);
  return unique;
}

static char *
build_markdown (GPtrArray *configs, GPtrArray *runs, const DiscoSweepReportCounts *counts)
{
  static const TableKind tables[] = {
    { "Table 1: test accuracy (%) after the final epoch", NULL,
      G_STRUCT_OFFSET (Config, test_final) },
    { "Table 2: test accuracy (%) at the best-validation epoch",
      "The best-validation epoch of a run is the first epoch with its highest validation "
      "accuracy.",
      G_STRUCT_OFFSET (Config, test_at_best) },
    { "Table S3: validation accuracy (%) at the best-validation epoch", NULL,
      G_STRUCT_OFFSET (Config, validation_best) },
  };
  GString *out = g_string_new ("# Sweep report\n\n");
  g_autoptr (GPtrArray) rows = distinct (configs, compare_rows_indirect);
  g_autoptr (GPtrArray) columns = distinct (configs, compare_columns_indirect);
  gboolean any = FALSE;

  g_string_append_printf (out,
                          "%u runs in %u configurations: %u finished, %u failed, "
                          "%u stopped, %u running, %u pending.\n\n",
                          counts->total, configs->len, counts->finished, counts->failed,
                          counts->stopped, counts->running, counts->pending);
  g_string_append (out, "Accuracies are in percent: mean ± sample standard deviation over the "
                        "finished runs, their number in parentheses; " DASH " where no run "
                        "finished.\n\n");
  if (configs->len > 0)
    for (guint t = 0; t < G_N_ELEMENTS (tables); t++)
      append_table (out, &tables[t], configs, rows, columns);

  g_string_append (out,
                   "## Configurations\n\n"
                   "| Configuration | Data set | Network | Rule | Epochs | Runs | Finished "
                   "| Failed | Stopped | Running | Pending | Wall time per finished run (s) |\n"
                   "|:--|:--|:--|:--|--:|--:|--:|--:|--:|--:|--:|--:|\n");
  for (guint i = 0; i < configs->len; i++)
    {
      const Config *config = g_ptr_array_index (configs, i);
      g_autofree char *label = config_label (config);

      g_string_append (out, "| ");
      append_md (out, label);
      g_string_append (out, " | ");
      append_md (out, config->setup.dataset);
      g_string_append (out, " | ");
      append_md (out, *config->setup.network ? config->setup.network : DASH);
      g_string_append (out, " | ");
      append_md (out, config->setup.rule);
      g_string_append (out, " | ");
      append_epochs (out, config, FALSE);
      g_string_append_printf (out, " | %u | %u | %u | %u | %u | %u | ", config->runs->len,
                              config->n_status[RUN_FINISHED], config->n_status[RUN_FAILED],
                              config->n_status[RUN_STOPPED], config->n_status[RUN_RUNNING],
                              config->n_status[RUN_PENDING]);
      append_stats (out, &config->wall_time, 1, FALSE);
      g_string_append (out, " |\n");
    }

  g_string_append (out, "\n## Failed runs\n\n");
  for (guint i = 0; i < runs->len; i++)
    {
      const Run *run = g_ptr_array_index (runs, i);

      if (run->status != RUN_FAILED)
        continue;
      g_string_append_printf (out, "- `%s`: %s\n", run->folder,
                              *run->message ? run->message : "(no message)");
      any = TRUE;
    }
  if (!any)
    g_string_append (out, "None.\n");

  g_string_append (out, "\nMissing: ");
  any = FALSE;
  for (guint i = 0; i < configs->len; i++)
    {
      const Config *config = g_ptr_array_index (configs, i);

      if (config->n_status[RUN_FINISHED] == config->runs->len)
        continue;
      g_string_append_printf (out, "%s%s / %s (%s): %u of %u runs finished", any ? "; " : "",
                              config->row, config->column, config->pipeline,
                              config->n_status[RUN_FINISHED], config->runs->len);
      any = TRUE;
    }
  g_string_append (out, any ? ".\n" : "none.\n");
  return g_string_free (out, FALSE);
}

static char *
build_report_csv (GPtrArray *configs)
{
  GString *out = g_string_new ("pipeline,grid,dataset,network,rule,n_total,n_finished,n_failed,"
                               "n_stopped,n_pending,epochs,test_final_mean,test_final_std,"
                               "test_at_best_validation_mean,test_at_best_validation_std,"
                               "validation_best_mean,validation_best_std,wall_time_mean_s,"
                               "wall_time_std_s\n");

  for (guint i = 0; i < configs->len; i++)
    {
      const Config *config = g_ptr_array_index (configs, i);
      const Stats *stats[] = { &config->test_final, &config->test_at_best, &config->validation_best,
                               &config->wall_time };

      append_csv_field (out, config->pipeline);
      g_string_append_c (out, ',');
      append_csv_field (out, config->grid);
      g_string_append_c (out, ',');
      append_csv_field (out, config->setup.dataset);
      g_string_append_c (out, ',');
      append_csv_field (out, config->setup.network);
      g_string_append_c (out, ',');
      append_csv_field (out, config->setup.rule);
      g_string_append_printf (out, ",%u,%u,%u,%u,%u,", config->runs->len,
                              config->n_status[RUN_FINISHED], config->n_status[RUN_FAILED],
                              config->n_status[RUN_STOPPED], config->n_status[RUN_PENDING]);
      append_epochs (out, config, TRUE);
      for (guint s = 0; s < G_N_ELEMENTS (stats); s++)
        {
          g_string_append_c (out, ',');
          append_number (out, stats[s]->mean);
          g_string_append_c (out, ',');
          append_number (out, stats[s]->std);
        }
      g_string_append_c (out, '\n');
    }
  return g_string_free (out, FALSE);
}

static char *
build_runs_csv (GPtrArray *runs)
{
  GString *out = g_string_new ("pipeline,grid,seed,status,epochs,test_final,"
                               "test_at_best_validation,validation_best,best_validation_epoch,"
                               "wall_time_s,folder,message\n");

  for (guint i = 0; i < runs->len; i++)
    {
      const Run *run = g_ptr_array_index (runs, i);

      append_csv_field (out, run->pipeline);
      g_string_append_c (out, ',');
      append_csv_field (out, run->grid);
      g_string_append_printf (out, ",%" G_GINT64_FORMAT ",%s,", run->seed,
                              status_names[run->status]);
      if (run->epochs->len > 0)
        g_string_append_printf (out, "%" G_GINT64_FORMAT, run_final_epoch (run));
      g_string_append_c (out, ',');
      append_number (out, run->test_final);
      g_string_append_c (out, ',');
      append_number (out, run->test_at_best);
      g_string_append_c (out, ',');
      append_number (out, run->validation_best);
      g_string_append_c (out, ',');
      if (run->best_epoch > 0)
        g_string_append_printf (out, "%" G_GINT64_FORMAT, run->best_epoch);
      g_string_append_c (out, ',');
      append_number (out, run->wall_time);
      g_string_append_c (out, ',');
      append_csv_field (out, run->folder);
      g_string_append_c (out, ',');
      append_csv_field (out, run->message);
      g_string_append_c (out, '\n');
    }
  return g_string_free (out, FALSE);
}

/* --------------------------------------------------------------- Curves */

/* One configuration's curve: test accuracy per epoch over its runs. */
typedef struct
{
  char *label;
  GArray *x;    /* double: epochs with at least one value */
  GArray *mean; /* double */
  GArray *low;  /* double: mean − std, NAN where fewer than two runs have the epoch */
  GArray *high; /* double: mean + std, likewise */
  double r, g, b;
} Curve;

static void
curve_free (Curve *curve)
{
  g_free (curve->label);
  g_array_unref (curve->x);
  g_array_unref (curve->mean);
  g_array_unref (curve->low);
  g_array_unref (curve->high);
  g_free (curve);
}

static int
compare_gint64 (gconstpointer a, gconstpointer b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return (x > y) - (x < y);
}

/* The curve of the finished runs, or of every run with epochs when none
 * finished; NULL without any test accuracy. */
static Curve *
config_curve (const Config *config)
{
  g_autoptr (GPtrArray) use = g_ptr_array_new ();
  g_autoptr (GArray) epochs = g_array_new (FALSE, FALSE, sizeof (gint64));
  g_autoptr (GArray) values = g_array_new (FALSE, FALSE, sizeof (double));
  Curve *curve;

  for (guint pass = 0; pass < 2 && use->len == 0; pass++)
    for (guint i = 0; i < config->runs->len; i++)
      {
        Run *run = g_ptr_array_index (config->runs, i);
        if (run->epochs->len > 0 && (pass == 1 || run->status == RUN_FINISHED))
          g_ptr_array_add (use, run);
      }
  for (guint i = 0; i < use->len; i++)
    {
      const Run *run = g_ptr_array_index (use, i);
      for (guint e = 0; e < run->epochs->len; e++)
        g_array_append_val (epochs, g_array_index (run->epochs, EpochPoint, e).epoch);
    }
  g_array_sort (epochs, compare_gint64);

  curve = g_new0 (Curve, 1);
  curve->x = g_array_new (FALSE, FALSE, sizeof (double));
  curve->mean = g_array_new (FALSE, FALSE, sizeof (double));
  curve->low = g_array_new (FALSE, FALSE, sizeof (double));
  curve->high = g_array_new (FALSE, FALSE, sizeof (double));
  for (guint i = 0; i < epochs->len; i++)
    {
      gint64 epoch = g_array_index (epochs, gint64, i);
      double x = epoch, low, high;
      Stats stats;

      if (i > 0 && epoch == g_array_index (epochs, gint64, i - 1))
        continue;
      g_array_set_size (values, 0);
      for (guint r = 0; r < use->len; r++)
        {
          const Run *run = g_ptr_array_index (use, r);
          for (guint e = 0; e < run->epochs->len; e++)
            {
              const EpochPoint *point = &g_array_index (run->epochs, EpochPoint, e);
              if (point->epoch == epoch && isfinite (point->test))
                {
                  g_array_append_val (values, point->test);
                  break;
                }
            }
        }
      if (values->len == 0)
        continue;
      stats = stats_of (values);
      g_array_append_val (curve->x, x);
      g_array_append_val (curve->mean, stats.mean);
      low = stats.mean - stats.std;
      high = stats.mean + stats.std;
      g_array_append_val (curve->low, low);
      g_array_append_val (curve->high, high);
    }
  if (curve->x->len == 0)
    {
      curve_free (curve);
      return NULL;
    }
  curve->label = config_label (config);
  return curve;
}

/* The curves as PNG bytes; NULL (no error) when there is nothing to plot. */
static GBytes *
render_curves (GPtrArray *configs, GError **error)
{
  g_autoptr (GPtrArray) curves = g_ptr_array_new_with_free_func ((GDestroyNotify) curve_free);
  g_autofree DiscoPlotSeries *series = NULL;
  DiscoPlotPanel panel = {
    "Test accuracy: mean ± 1 std over runs", "epoch", "test accuracy (%)", NULL, 0, TRUE, FALSE
  };

  for (guint i = 0; i < configs->len; i++)
    {
      Curve *curve = config_curve (g_ptr_array_index (configs, i));
      if (curve == NULL)
        continue;
      disco_plot_palette_color (curves->len, &curve->r, &curve->g, &curve->b);
      g_ptr_array_add (curves, curve);
    }
  if (curves->len == 0)
    return NULL;

  series = g_new0 (DiscoPlotSeries, curves->len);
  for (guint i = 0; i < curves->len; i++)
    {
      const Curve *curve = g_ptr_array_index (curves, i);
      series[i] = (DiscoPlotSeries){ curve->label,
                                     (const double *) curve->x->data,
                                     (const double *) curve->mean->data,
                                     curve->x->len,
                                     curve->r,
                                     curve->g,
                                     curve->b,
                                     FALSE,
                                     (const double *) curve->low->data,
                                     (const double *) curve->high->data };
    }
  panel.series = series;
  panel.n_series = curves->len;
  return disco_plot_render_panels (&panel, 1, CURVES_WIDTH, CURVES_HEIGHT, NULL, error);
}

/* ----------------------------------------------------------------- API */

static gboolean
write_text (const char *dir, const char *name, const char *text, GError **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);

  return disco_write_file_atomically (path, (const guint8 *) text, strlen (text), error);
}

/**
 * disco_sweep_report_write:
 * @dir: the sweep's output folder
 * @counts: (out caller-allocates) (nullable): the runs found, by state
 * @error: return location for a #GError
 *
 * Reads every run folder of the sweep in @dir (a `sweep-run.ini` two or
 * three levels down; others are ignored, and an unreadable or invalid one
 * is skipped with a warning naming it) and writes `report.md`,
 * `report.csv`, `runs.csv` and, when some run has test accuracies,
 * `curves.png` into @dir, each atomically; see the section description
 * for their contents. A run whose status is finished but whose
 * results.json is missing, unreadable or without epochs counts as failed.
 *
 * Returns: %TRUE when the files were written; %FALSE with @error set
 *   (%DISCO_ERROR_IO) when @dir is not a folder or a file cannot be
 *   written
 */
gboolean
disco_sweep_report_write (const char *dir, DiscoSweepReportCounts *counts, GError **error)
{
  g_autoptr (GPtrArray) runs = g_ptr_array_new_with_free_func ((GDestroyNotify) run_free);
  g_autoptr (GPtrArray) configs = NULL;
  g_autoptr (GBytes) curves = NULL;
  g_autoptr (GError) plot_error = NULL;
  g_autofree char *markdown = NULL;
  g_autofree char *report_csv = NULL;
  g_autofree char *runs_csv = NULL;
  DiscoSweepReportCounts found = { 0 };

  g_return_val_if_fail (dir != NULL, FALSE);
  g_return_val_if_fail (error == NULL || *error == NULL, FALSE);

  if (!g_file_test (dir, G_FILE_TEST_IS_DIR))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: no such folder", dir);
      return FALSE;
    }
  scan (dir, "", 0, runs);
  g_ptr_array_sort (runs, compare_runs);
  for (guint i = 0; i < runs->len; i++)
    {
      const Run *run = g_ptr_array_index (runs, i);
      guint *slot[] = { &found.pending, &found.running, &found.stopped, &found.finished,
                        &found.failed };
      (*slot[run->status])++;
      found.total++;
    }
  configs = group_configs (runs);

  markdown = build_markdown (configs, runs, &found);
  report_csv = build_report_csv (configs);
  runs_csv = build_runs_csv (runs);
  if (!write_text (dir, "report.md", markdown, error)
      || !write_text (dir, "report.csv", report_csv, error)
      || !write_text (dir, "runs.csv", runs_csv, error))
    return FALSE;

  /* A plot that cannot be drawn is no I/O failure: the tables stand. */
  curves = render_curves (configs, &plot_error);
  if (plot_error != NULL)
    g_warning ("%s: no curves.png: %s", dir, plot_error->message);
  if (curves != NULL)
    {
      g_autofree char *path = g_build_filename (dir, "curves.png", NULL);
      if (!disco_write_file_atomically (path, g_bytes_get_data (curves, NULL),
                                        g_bytes_get_size (curves), error))
        return FALSE;
    }
  if (counts != NULL)
    *counts = found;
  return TRUE;
}
