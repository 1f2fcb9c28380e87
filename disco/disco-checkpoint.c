/* disco-checkpoint.c: a run's checkpoints and parameter files
 *
 * A pipeline saves every parameter (and state a node keeps as one, such as
 * an optimizer's moments) as .npy files, disco_pipeline_save_parameters(),
 * and loads them back, disco_pipeline_load_parameters(). After every epoch
 * a run writes them into <output-dir>/checkpoint with state.ini, from which
 * a later run resumes.
 *
 * Checkpoints that prove themselves: state.ini lists every file of the
 * checkpoint folder with its shape, size and SHA-256, and ends with the
 * SHA-256 of everything above it. disco_checkpoint_verify() refuses a
 * missing, extra, changed or truncated file and an edited state.ini.
 */

#include "disco-pipeline.h"
#include "disco-pipeline-private.h"
#include "disco-error.h"
#include "disco-output-folder.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <string.h>

#define INTEGRITY_MARK "\n[integrity]\n"

/* ----- saving and resuming ----------------------------------------------- */

static gboolean
remove_tree (const char *path, GError **error)
{
  g_autoptr (GDir) dir = g_dir_open (path, 0, NULL);
  const char *name;

  while (dir != NULL && (name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *child = g_build_filename (path, name, NULL);
      if (g_remove (child) != 0)
        {
          int saved = errno;
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot remove: %s", child,
                       g_strerror (saved));
          return FALSE;
        }
    }
  if (g_rmdir (path) != 0)
    {
      int saved = errno;
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot remove: %s", path,
                   g_strerror (saved));
      return FALSE;
    }
  return TRUE;
}

/* <output-dir>/checkpoint holds every parameter as .npy and state.ini: the
 * epoch it ends, the ticks run, how to rebuild the pipeline (its file, that
 * file's SHA-256, the overrides, its nodes) and a manifest of every file
 * with its shape and SHA-256, sealed by the SHA-256 of state.ini itself
 * (disco_checkpoint_verify()). It is written beside and swapped in by
 * renames, so a crash leaves the previous checkpoint whole. */
gboolean
_disco_pipeline_save_checkpoint (DiscoPipeline *self, guint epoch, guint64 ticks, GError **error)
{
  g_autofree char *final = g_build_filename (self->output_dir, "checkpoint", NULL);
  g_autofree char *staging = g_build_filename (self->output_dir, "checkpoint.new", NULL);
  g_autofree char *previous = g_build_filename (self->output_dir, "checkpoint.old", NULL);
  g_autoptr (GKeyFile) state = g_key_file_new ();
  g_autoptr (GStrvBuilder) nodes = g_strv_builder_new ();
  g_auto (GStrv) node_list = NULL;
  g_autofree char *source = NULL;

  if ((g_file_test (staging, G_FILE_TEST_IS_DIR) && !remove_tree (staging, error))
      || (g_file_test (previous, G_FILE_TEST_IS_DIR) && !remove_tree (previous, error))
      || !disco_pipeline_save_parameters (self, staging, error))
    return FALSE;
  g_key_file_set_uint64 (state, "checkpoint", "epoch", epoch);
  g_key_file_set_uint64 (state, "checkpoint", "ticks", ticks);
  g_key_file_set_uint64 (state, "checkpoint", "seed", self->seed);
  if (self->source_file != NULL)
    {
      source = g_canonicalize_filename (self->source_file, NULL);
      g_key_file_set_string (state, "run", "file", source);
      if (self->source_checksum != NULL)
        g_key_file_set_string (state, "run", "file-sha256", self->source_checksum);
      if (self->overrides != NULL)
        g_key_file_set_string_list (state, "run", "overrides",
                                    (const char *const *) self->overrides,
                                    g_strv_length (self->overrides));
    }
  /* Which pipeline it is: resume refuses a checkpoint of another one. */
  for (guint i = 0; i < self->nodes->len; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->nodes, i);
      g_autofree char *entry =
          g_strdup_printf ("%s:%s", disco_node_get_name (node), _disco_pipeline_type_label (node));
      g_strv_builder_add (nodes, entry);
    }
  node_list = g_strv_builder_end (nodes);
  g_key_file_set_string_list (state, "run", "nodes", (const char *const *) node_list,
                              g_strv_length (node_list));
  /* state.ini lists every file with its shape and SHA-256, and its own. */
  if (!_disco_checkpoint_write_state (staging, state, error))
    return FALSE;
  if ((g_file_test (final, G_FILE_TEST_IS_DIR) && g_rename (final, previous) != 0)
      || g_rename (staging, final) != 0)
    {
      int saved = errno;
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot save the checkpoint: %s", final,
                   g_strerror (saved));
      return FALSE;
    }
  return !g_file_test (previous, G_FILE_TEST_IS_DIR) || remove_tree (previous, error);
}

/* "(64,10)": a shape as a checkpoint's manifest writes it. */
static char *
manifest_shape (DiscoTensor *tensor)
{
  guint n_dims;
  const gsize *shape = disco_tensor_get_shape (tensor, &n_dims);
  GString *text = g_string_new ("(");

  for (guint i = 0; i < n_dims; i++)
    g_string_append_printf (text, "%s%" G_GSIZE_FORMAT, i ? "," : "", shape[i]);
  g_string_append_c (text, ')');
  return g_string_free (text, FALSE);
}

/* A checkpoint resumes only into the pipeline that wrote it: the same
 * nodes of the same types, and a file of the same shape for every
 * parameter (state created lazily, such as optimizer moments, may have a
 * file and no parameter yet). */
static gboolean
check_checkpoint_pipeline (DiscoPipeline *self, GKeyFile *state, const char *state_path,
                           GError **error)
{
  g_auto (GStrv) recorded = g_key_file_get_string_list (state, "run", "nodes", NULL, NULL);
  g_autoptr (GHashTable) types = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);

  if (recorded == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                   "%s: not a checkpoint: [run] has no \"nodes\"", state_path);
      return FALSE;
    }
  for (guint i = 0; recorded[i] != NULL; i++)
    {
      const char *colon = strrchr (recorded[i], ':');
      g_hash_table_insert (types, g_strndup (recorded[i], colon ? colon - recorded[i] : -1),
                           (gpointer) (colon ? colon + 1 : ""));
    }
  for (guint i = 0; i < self->nodes->len; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->nodes, i);
      const char *type = g_hash_table_lookup (types, disco_node_get_name (node));

      if (type == NULL || strcmp (type, _disco_pipeline_type_label (node)) != 0)
        {
          if (type == NULL)
            g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                         "%s: a checkpoint of another pipeline: it has no node \"%s\" (%s)",
                         state_path, disco_node_get_name (node), _disco_pipeline_type_label (node));
          else
            g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                         "%s: a checkpoint of another pipeline: its node \"%s\" is a %s, "
                         "this pipeline's a %s",
                         state_path, disco_node_get_name (node), type,
                         _disco_pipeline_type_label (node));
          return FALSE;
        }
      g_hash_table_remove (types, disco_node_get_name (node));
    }
  if (g_hash_table_size (types) > 0)
    {
      GHashTableIter iter;
      gpointer name, type;

      g_hash_table_iter_init (&iter, types);
      g_hash_table_iter_next (&iter, &name, &type);
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                   "%s: a checkpoint of another pipeline: its node \"%s\" (%s) is not in "
                   "this pipeline",
                   state_path, (const char *) name, (const char *) type);
      return FALSE;
    }
  for (guint i = 0; i < self->nodes->len; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->nodes, i);
      g_auto (GStrv) names = disco_node_list_parameters (node);

      for (guint j = 0; names[j] != NULL; j++)
        {
          g_autofree char *file =
              g_strdup_printf ("%s.%s.npy", disco_node_get_name (node), names[j]);
          g_autofree char *path = g_build_filename (self->resume, file, NULL);
          g_autofree char *have = _disco_checkpoint_file_shape (state, file);
          g_autofree char *want = manifest_shape (disco_node_get_parameter (node, names[j]));

          if (have == NULL)
            {
              g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                           "%s: missing: the checkpoint has no file for parameter \"%s.%s\" "
                           "(a checkpoint of another pipeline)",
                           path, disco_node_get_name (node), names[j]);
              return FALSE;
            }
          if (strcmp (have, want) != 0)
            {
              g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                           "%s: holds shape %s, parameter \"%s.%s\" of this pipeline has %s "
                           "(a checkpoint of another pipeline)",
                           path, have, disco_node_get_name (node), names[j], want);
              return FALSE;
            }
        }
    }
  return TRUE;
}

/* Restores parameters and state from a checkpoint folder and tells every
 * node to go on with the next epoch. The checkpoint must prove itself
 * (disco_checkpoint_verify(): every file as written, state.ini unedited)
 * and be of this pipeline. */
gboolean
_disco_pipeline_resume_from_checkpoint (DiscoPipeline *self, GError **error)
{
  g_autofree char *state_path = g_build_filename (self->resume, "state.ini", NULL);
  g_autoptr (GKeyFile) state = disco_checkpoint_verify (self->resume, error);
  guint64 epoch, ticks;

  if (state == NULL || !check_checkpoint_pipeline (self, state, state_path, error))
    return FALSE;
  /* disco_checkpoint_verify() checked both and their ranges. */
  epoch = g_key_file_get_uint64 (state, "checkpoint", "epoch", NULL);
  ticks = g_key_file_get_uint64 (state, "checkpoint", "ticks", NULL);
  if (!disco_pipeline_load_parameters (self, self->resume, error))
    return FALSE;
  for (guint i = 0; i < self->tick_order->len; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->tick_order, i);
      DiscoNodeClass *klass = DISCO_NODE_GET_CLASS (node);
      GError *node_error = NULL;

      if (klass->resume != NULL
          && (!klass->resume (node, epoch + 1, &node_error) || node_error != NULL))
        {
          g_propagate_error (error, node_error);
          _disco_pipeline_prefix_node_error (error, node, "resume");
          return FALSE;
        }
    }
  self->first_tick = ticks;
  return TRUE;
}

/* ----- parameter files --------------------------------------------------- */

/**
 * disco_pipeline_save_parameters:
 * @self: a pipeline whose nodes are prepared (during or after a run)
 * @dir: the folder to write into; created when missing
 * @error: return location for a #GError
 *
 * Saves every parameter of every node as `<dir>/<node>.<parameter>.npy`
 * (numpy.load reads them), each file atomically.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_pipeline_save_parameters (DiscoPipeline *self, const char *dir, GError **error)
{
  g_return_val_if_fail (DISCO_IS_PIPELINE (self), FALSE);
  g_return_val_if_fail (dir != NULL, FALSE);

  if (g_mkdir_with_parents (dir, 0755) != 0)
    {
      int saved = errno;
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot create folder: %s", dir,
                   g_strerror (saved));
      return FALSE;
    }
  for (guint i = 0; i < self->nodes->len; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->nodes, i);
      g_auto (GStrv) names = disco_node_list_parameters (node);

      for (guint j = 0; names[j] != NULL; j++)
        {
          g_autofree char *file =
              g_strdup_printf ("%s.%s.npy", disco_node_get_name (node), names[j]);
          g_autofree char *path = g_build_filename (dir, file, NULL);

          if (!disco_tensor_save_npy (disco_node_get_parameter (node, names[j]), path, error))
            return FALSE;
        }
    }
  return TRUE;
}

/**
 * disco_pipeline_load_parameters:
 * @self: a pipeline whose nodes are prepared
 * @dir: a folder written by disco_pipeline_save_parameters()
 * @error: return location for a #GError
 *
 * Overwrites every parameter of every node with `<dir>/<node>.<parameter>.npy`.
 * A missing file or a shape that differs from the node's is an error, and
 * then no parameter is changed. A file for a parameter a node of the
 * pipeline does not have yet (state created lazily, such as an optimizer's
 * moments) adds that parameter.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_pipeline_load_parameters (DiscoPipeline *self, const char *dir, GError **error)
{
  g_autoptr (GPtrArray) loaded = g_ptr_array_new_with_free_func (g_object_unref);
  g_autoptr (GPtrArray) targets = g_ptr_array_new ();

  g_return_val_if_fail (DISCO_IS_PIPELINE (self), FALSE);
  g_return_val_if_fail (dir != NULL, FALSE);

  /* Read and check everything first, so a bad file changes nothing. */
  for (guint i = 0; i < self->nodes->len; i++)
    {
      DiscoNode *node = g_ptr_array_index (self->nodes, i);
      g_auto (GStrv) names = disco_node_list_parameters (node);

      for (guint j = 0; names[j] != NULL; j++)
        {
          DiscoTensor *target = disco_node_get_parameter (node, names[j]);
          g_autofree char *file =
              g_strdup_printf ("%s.%s.npy", disco_node_get_name (node), names[j]);
          g_autofree char *path = g_build_filename (dir, file, NULL);
          DiscoTensor *tensor = disco_tensor_load_npy (path, error);
          guint n_dims;
          const gsize *shape = disco_tensor_get_shape (target, &n_dims);

          if (tensor == NULL)
            return FALSE;
          g_ptr_array_add (loaded, tensor);
          if (!disco_tensor_has_shape (tensor, n_dims, shape))
            {
              g_autofree char *want = disco_tensor_shape_to_string (target);
              g_autofree char *got = disco_tensor_shape_to_string (tensor);
              g_set_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE,
                           "%s: parameter \"%s.%s\" has shape %s, the file holds %s", path,
                           disco_node_get_name (node), names[j], want, got);
              return FALSE;
            }
          g_ptr_array_add (targets, target);
        }
    }
  /* State a node creates lazily (an optimizer's moments appear with the
   * first gradient) has a file but no tensor yet: give it one. */
  {
    g_autoptr (GDir) listing = g_dir_open (dir, 0, NULL);
    const char *file;

    while (listing != NULL && (file = g_dir_read_name (listing)) != NULL)
      {
        const char *dot = strchr (file, '.');
        g_autofree char *node_name = NULL;
        g_autofree char *parameter = NULL;
        g_autofree char *path = NULL;
        DiscoNode *node;
        DiscoTensor *tensor;

        if (dot == NULL || !g_str_has_suffix (file, ".npy"))
          continue;
        node_name = g_strndup (file, dot - file);
        parameter = g_strndup (dot + 1, strlen (dot + 1) - strlen (".npy"));
        node = g_hash_table_lookup (self->nodes_by_name, node_name);
        if (node == NULL || *parameter == '\0'
            || disco_node_get_parameter (node, parameter) != NULL)
          continue;
        path = g_build_filename (dir, file, NULL);
        if ((tensor = disco_tensor_load_npy (path, error)) == NULL)
          return FALSE;
        disco_node_add_parameter (node, parameter, tensor);
        g_object_unref (tensor);
      }
  }
  for (guint i = 0; i < loaded->len; i++)
    {
      GBytes *bytes = disco_tensor_get_bytes (g_ptr_array_index (loaded, i), error);
      gboolean ok;

      if (bytes == NULL)
        return FALSE;
      ok = disco_tensor_set_data (g_ptr_array_index (targets, i), g_bytes_get_data (bytes, NULL),
                                  g_bytes_get_size (bytes), error);
      g_bytes_unref (bytes);
      if (!ok)
        return FALSE;
    }
  return TRUE;
}

/* ----- the checkpoint's manifest ------------------------------------------------ */

/* The shape in an .npy header, as "(64,10)", "(5)" or "()"; NULL when the
 * data is no .npy. */
static char *
npy_shape (const char *data, gsize size)
{
  g_autofree char *header = NULL;
  const char *start, *end;
  GString *shape;
  gsize header_len;

  if (size < 10 || memcmp (data, "\x93NUMPY", 6) != 0)
    return NULL;
  header_len = (guint8) data[8] | ((gsize) (guint8) data[9] << 8);
  if (10 + header_len > size)
    return NULL;
  header = g_strndup (data + 10, header_len);
  start = strstr (header, "'shape': (");
  if (start == NULL || (end = strchr (start, ')')) == NULL)
    return NULL;
  shape = g_string_new ("(");
  for (const char *c = start + strlen ("'shape': ("); c < end; c++)
    if (g_ascii_isdigit (*c) || *c == ',')
      g_string_append_c (shape, *c);
  if (shape->len > 1 && shape->str[shape->len - 1] == ',')
    g_string_truncate (shape, shape->len - 1);
  g_string_append_c (shape, ')');
  return g_string_free (shape, FALSE);
}

static char *
describe_file (const char *data, gsize size)
{
  g_autofree char *shape = npy_shape (data, size);
  g_autofree char *sum =
      g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) data, size);

  return g_strdup_printf ("%s%s%sbytes=%" G_GSIZE_FORMAT " sha256=%s", shape ? "shape=" : "",
                          shape ? shape : "", shape ? " " : "", size, sum);
}

/* One [files] entry: shape (nullable), size and checksum. */
static gboolean
parse_entry (const char *entry, char **shape, guint64 *bytes, char **sum)
{
  g_auto (GStrv) words = g_strsplit (entry, " ", -1);

  *shape = NULL;
  *sum = NULL;
  *bytes = G_MAXUINT64;
  for (guint i = 0; words[i] != NULL; i++)
    {
      /* A word given twice: the last counts (the first leaked; fuzz-state). */
      if (g_str_has_prefix (words[i], "shape="))
        {
          g_free (*shape);
          *shape = g_strdup (words[i] + strlen ("shape="));
        }
      else if (g_str_has_prefix (words[i], "bytes="))
        g_ascii_string_to_unsigned (words[i] + strlen ("bytes="), 10, 0, G_MAXUINT64, bytes, NULL);
      else if (g_str_has_prefix (words[i], "sha256="))
        {
          g_free (*sum);
          *sum = g_strdup (words[i] + strlen ("sha256="));
        }
    }
  if (*sum == NULL || strlen (*sum) != 64 || *bytes == G_MAXUINT64)
    {
      g_clear_pointer (shape, g_free);
      g_clear_pointer (sum, g_free);
      return FALSE;
    }
  return TRUE;
}

/* The shape the manifest records for @file, e.g. "(64,10)"; NULL if none. */
char *
_disco_checkpoint_file_shape (GKeyFile *state, const char *file)
{
  g_autofree char *entry = g_key_file_get_string (state, "files", file, NULL);
  char *shape = NULL, *sum = NULL;
  guint64 bytes;

  if (entry == NULL || !parse_entry (entry, &shape, &bytes, &sum))
    return NULL;
  g_free (sum);
  return shape;
}

static gint
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static GPtrArray *
list_folder (const char *dir, GError **error)
{
  g_autoptr (GError) open_error = NULL;
  g_autoptr (GDir) listing = g_dir_open (dir, 0, &open_error);
  GPtrArray *names;
  const char *name;

  if (listing == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot read the checkpoint: %s", dir,
                   open_error->message);
      return NULL;
    }
  names = g_ptr_array_new_with_free_func (g_free);
  while ((name = g_dir_read_name (listing)) != NULL)
    g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  return names;
}

/**
 * _disco_checkpoint_write_state:
 * @dir: a checkpoint folder holding every file of the checkpoint
 * @state: the checkpoint's state ([checkpoint] and [run]); its [files]
 *   group is filled in here
 * @error: return location for a #GError
 *
 * Writes @dir/state.ini: @state, a [files] entry for every file in @dir
 * (its shape when it is an .npy, its size and SHA-256), and an [integrity]
 * group with the SHA-256 of everything above it.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
_disco_checkpoint_write_state (const char *dir, GKeyFile *state, GError **error)
{
  g_autoptr (GPtrArray) names = list_folder (dir, error);
  g_autofree char *path = g_build_filename (dir, DISCO_CHECKPOINT_STATE, NULL);
  g_autofree char *body = NULL;
  g_autofree char *sum = NULL;
  GString *text;
  gboolean ok;

  if (names == NULL)
    return FALSE;
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      g_autofree char *file = g_build_filename (dir, name, NULL);
      g_autofree char *data = NULL;
      g_autofree char *entry = NULL;
      g_autoptr (GError) read_error = NULL;
      gsize size;

      if (strcmp (name, DISCO_CHECKPOINT_STATE) == 0)
        continue;
      if (!g_file_get_contents (file, &data, &size, &read_error))
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot read back: %s", file,
                       read_error->message);
          return FALSE;
        }
      entry = describe_file (data, size);
      g_key_file_set_string (state, "files", name, entry);
    }
  body = g_key_file_to_data (state, NULL, NULL);
  text = g_string_new (body);
  while (text->len > 0 && !g_str_has_suffix (text->str, "\n\n"))
    g_string_append_c (text, '\n');
  sum = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) text->str, text->len);
  g_string_append_printf (text,
                          "%s# the SHA-256 of every line above: resume refuses an "
                          "edited state.ini\nsha256=%s\n",
                          INTEGRITY_MARK + 1, sum);
  ok = disco_write_file_atomically (path, (const guint8 *) text->str, text->len, error);
  g_string_free (text, TRUE);
  return ok;
}

static gboolean
get_number (GKeyFile *state, const char *path, const char *key, guint64 min, guint64 max,
            guint64 *value, GError **error)
{
  g_autofree char *text = g_key_file_get_value (state, "checkpoint", key, NULL);

  if (text == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                   "%s: not a checkpoint: no \"%s\" in [checkpoint]", path, key);
      return FALSE;
    }
  if (!g_ascii_string_to_unsigned (text, 10, min, max, value, NULL))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                   "%s: %s \"%s\" is out of range: a checkpoint's %s is a whole number "
                   "from %" G_GUINT64_FORMAT " to %" G_GUINT64_FORMAT,
                   path, key, text, key, min, max);
      return FALSE;
    }
  return TRUE;
}

/**
 * disco_checkpoint_verify:
 * @dir: a checkpoint folder (`<output-dir>/checkpoint`)
 * @error: return location for a #GError
 *
 * Checks that @dir is a whole checkpoint as it was written: state.ini is
 * unedited (it records its own SHA-256), its epoch and ticks are in range,
 * and every file its manifest lists is there with the recorded size and
 * SHA-256, with no other file beside them. Each error names the file and
 * what is wrong with it (%DISCO_ERROR_IO when state.ini cannot be read,
 * %DISCO_ERROR_DATA otherwise).
 *
 * Returns: (transfer full) (nullable): the checkpoint's state.ini
 *   ([checkpoint] epoch, ticks, seed; [run] file, file-sha256, overrides,
 *   nodes; [files]), or %NULL with @error set
 */
GKeyFile *
disco_checkpoint_verify (const char *dir, GError **error)
{
  g_autofree char *path = NULL;
  g_autofree char *text = NULL;
  g_autofree char *recorded = NULL;
  g_autofree char *sum = NULL;
  g_autoptr (GKeyFile) state = g_key_file_new ();
  g_autoptr (GError) read_error = NULL;
  g_autoptr (GPtrArray) names = NULL;
  g_auto (GStrv) files = NULL;
  g_autoptr (GHashTable) listed = g_hash_table_new (g_str_hash, g_str_equal);
  const char *mark;
  gsize length;
  guint64 number;

  g_return_val_if_fail (dir != NULL, NULL);
  path = g_build_filename (dir, DISCO_CHECKPOINT_STATE, NULL);
  if (!g_file_get_contents (path, &text, &length, &read_error))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: not a checkpoint: %s", path,
                   read_error->message);
      return NULL;
    }
  if (!g_key_file_load_from_data (state, text, length, G_KEY_FILE_NONE, &read_error))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA, "%s: not a checkpoint: %s", path,
                   read_error->message);
      return NULL;
    }
  if (!get_number (state, path, "epoch", 0, G_MAXUINT - 1, &number, error)
      || !get_number (state, path, "ticks", 1, G_MAXUINT64, &number, error))
    return NULL;
  mark = g_strrstr (text, INTEGRITY_MARK);
  recorded = g_key_file_get_string (state, "integrity", "sha256", NULL);
  if (mark == NULL || recorded == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                   "%s: the checkpoint has no manifest (it was written by an older "
                   "Disco), so it cannot be checked; start the run anew",
                   path);
      return NULL;
    }
  sum = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) text, mark + 1 - text);
  if (strcmp (sum, recorded) != 0)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                   "%s: edited after the checkpoint was written (the SHA-256 of its lines "
                   "is %.12s…, it records %.12s…)",
                   path, sum, recorded);
      return NULL;
    }

  files = g_key_file_get_keys (state, "files", NULL, NULL);
  for (guint i = 0; files != NULL && files[i] != NULL; i++)
    {
      g_autofree char *entry = g_key_file_get_string (state, "files", files[i], NULL);
      g_autofree char *file = g_build_filename (dir, files[i], NULL);
      g_autofree char *shape = NULL;
      g_autofree char *want = NULL;
      g_autofree char *data = NULL;
      g_autofree char *got = NULL;
      guint64 bytes;
      gsize size;

      if (entry == NULL || !parse_entry (entry, &shape, &bytes, &want)
          || strchr (files[i], '/') != NULL || strcmp (files[i], DISCO_CHECKPOINT_STATE) == 0)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                       "%s: entry \"%s\" of [files] is not \"[shape=(…)] bytes=N sha256=…\"", path,
                       files[i]);
          return NULL;
        }
      g_hash_table_add (listed, files[i]);
      if (!g_file_test (file, G_FILE_TEST_IS_REGULAR))
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                       "%s: missing: the checkpoint's manifest (%s) lists it", file, path);
          return NULL;
        }
      if (!g_file_get_contents (file, &data, &size, &read_error))
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot read: %s", file,
                       read_error->message);
          return NULL;
        }
      if (size != bytes)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                       "%s: holds %" G_GSIZE_FORMAT
                       " bytes, the checkpoint's manifest lists %" G_GUINT64_FORMAT
                       " (truncated or changed)",
                       file, size, bytes);
          return NULL;
        }
      got = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) data, size);
      if (strcmp (got, want) != 0)
        {
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                       "%s: changed since the checkpoint was written (SHA-256 %.12s…, the "
                       "manifest lists %.12s…)",
                       file, got, want);
          return NULL;
        }
    }
  names = list_folder (dir, error);
  if (names == NULL)
    return NULL;
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = g_ptr_array_index (names, i);
      if (strcmp (name, DISCO_CHECKPOINT_STATE) != 0 && !g_hash_table_contains (listed, name))
        {
          g_autofree char *file = g_build_filename (dir, name, NULL);
          g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
                       "%s: not part of the checkpoint (its manifest, %s, does not list it)", file,
                       path);
          return NULL;
        }
    }
  return g_steal_pointer (&state);
}
