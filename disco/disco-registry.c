/* disco-registry.c
 *
 * Plugins are searched, in order, in every folder of $DISCO_PLUGIN_PATH
 * (colon-separated), then in the build tree when this library itself was
 * loaded from the build tree (so tools, tests and bindings run uninstalled
 * without setting anything), then in the install directory. A node name
 * registered twice keeps its first type, so a plugin on DISCO_PLUGIN_PATH
 * overrides an installed one.
 */

/**
 * SECTION:disco-registry
 * @title: Registry
 * @short_description: node types by name
 *
 * Pipeline files name node types (`node = microcircuit`); the registry maps
 * those names to GTypes. Plugin modules are loaded the first time the
 * registry is used. Bindings may register their own types, e.g. a node
 * written in Python: `Disco.registry_register("doubler", Doubler)`.
 */

#define _GNU_SOURCE
#include "disco-registry.h"
#include "disco-error.h"
#include "disco-node.h"
#include "disco-private.h"

#include <dlfcn.h>
#include <gmodule.h>
#include <stdlib.h>
#include <string.h>

static GMutex registry_lock;
static GHashTable *types_by_name; /* char* -> GType */
static GHashTable *names_by_type; /* GType -> char* (not owned) */

/* g_ptr_array_sort passes pointers to the elements. */
static gint
compare_string_pointers (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 (*(char *const *) a, *(char *const *) b);
}

static void
ensure_tables (void)
{
  if (types_by_name == NULL)
    {
      types_by_name = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
      names_by_type = g_hash_table_new (g_direct_hash, g_direct_equal);
    }
}

/**
 * disco_registry_register:
 * @name: the name pipeline files use, kebab-case (e.g. "microcircuit")
 * @type: a concrete #DiscoNode subtype
 *
 * Registers a node type under @name.
 *
 * Returns: %TRUE when registered, %FALSE when @name was already taken
 *   (the first registration stays)
 */
gboolean
disco_registry_register (const char *name, GType type)
{
  gboolean added = FALSE;

  g_return_val_if_fail (name != NULL && *name != '\0', FALSE);
  g_return_val_if_fail (g_type_is_a (type, DISCO_TYPE_NODE), FALSE);
  g_return_val_if_fail (!G_TYPE_IS_ABSTRACT (type), FALSE);

  g_mutex_lock (&registry_lock);
  ensure_tables ();
  if (!g_hash_table_contains (types_by_name, name))
    {
      char *key = g_strdup (name);

      g_hash_table_insert (types_by_name, key, GSIZE_TO_POINTER (type));
      if (!g_hash_table_contains (names_by_type, GSIZE_TO_POINTER (type)))
        g_hash_table_insert (names_by_type, GSIZE_TO_POINTER (type), key);
      added = TRUE;
    }
  g_mutex_unlock (&registry_lock);
  return added;
}

/**
 * disco_registry_lookup:
 * @name: a node type name
 *
 * Looks up the node type registered under @name, the name a pipeline
 * file's `node =` key gives. The registry loads the plugin modules the
 * first time it is used.
 *
 * Returns: the type registered under @name, or %G_TYPE_INVALID
 */
GType
disco_registry_lookup (const char *name)
{
  GType type;

  g_return_val_if_fail (name != NULL, G_TYPE_INVALID);
  _disco_registry_ensure_loaded ();
  g_mutex_lock (&registry_lock);
  type = GPOINTER_TO_SIZE (g_hash_table_lookup (types_by_name, name));
  g_mutex_unlock (&registry_lock);
  return type;
}

/**
 * disco_registry_get_name_for_type:
 * @type: a node type
 *
 * Looks up the name a node type is registered under, the inverse of
 * disco_registry_lookup().
 *
 * Returns: (nullable): the name @type is registered under
 */
const char *
disco_registry_get_name_for_type (GType type)
{
  const char *name;

  _disco_registry_ensure_loaded ();
  g_mutex_lock (&registry_lock);
  name = g_hash_table_lookup (names_by_type, GSIZE_TO_POINTER (type));
  g_mutex_unlock (&registry_lock);
  return name;
}

/**
 * disco_registry_list_names:
 *
 * Lists the registered node types. The registry loads the plugin modules the
 * first time it is used.
 *
 * Returns: (transfer full) (array zero-terminated=1): every registered
 *   node type name, sorted
 */
char **
disco_registry_list_names (void)
{
  g_autoptr (GPtrArray) names = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer key;

  _disco_registry_ensure_loaded ();
  g_mutex_lock (&registry_lock);
  g_hash_table_iter_init (&iter, types_by_name);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    g_ptr_array_add (names, g_strdup (key));
  g_mutex_unlock (&registry_lock);
  g_ptr_array_sort (names, compare_string_pointers);
  g_ptr_array_add (names, NULL);
  return (char **) g_ptr_array_steal (names, NULL);
}

/**
 * disco_registry_load_plugin:
 * @path: a plugin module file
 * @error: return location for a #GError
 *
 * Loads one plugin module and runs its %DISCO_PLUGIN_INIT_SYMBOL.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_registry_load_plugin (const char *path, GError **error)
{
  GModule *module;
  gboolean (*init) (GError * *error) = NULL;

  g_return_val_if_fail (path != NULL, FALSE);

  module = g_module_open (path, G_MODULE_BIND_LOCAL);
  if (module == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot load plugin: %s", path,
                   g_module_error ());
      return FALSE;
    }
  if (!g_module_symbol (module, DISCO_PLUGIN_INIT_SYMBOL, (gpointer *) &init) || init == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: not a Disco plugin (no symbol \"%s\")",
                   path, DISCO_PLUGIN_INIT_SYMBOL);
      g_module_close (module);
      return FALSE;
    }
  /* Registered GTypes can never be unloaded. */
  g_module_make_resident (module);
  return init (error);
}

/* The build tree's plugin folder, when libdisco was loaded from the build tree. */
static char *
uninstalled_plugin_dir (void)
{
  Dl_info info;
  g_autofree char *lib_dir = NULL;
  g_autofree char *real_lib_dir = NULL;
  g_autofree char *real_build_dir = NULL;

  if (dladdr ((void *) uninstalled_plugin_dir, &info) == 0 || info.dli_fname == NULL)
    return NULL;
  /* The loader may have found us through "$ORIGIN/../disco" or a symlink. */
  lib_dir = g_path_get_dirname (info.dli_fname);
  real_lib_dir = realpath (lib_dir, NULL);
  real_build_dir = realpath (DISCO_BUILD_LIB_DIR, NULL);
  if (real_lib_dir == NULL || g_strcmp0 (real_lib_dir, real_build_dir) != 0)
    return NULL;
  return g_strdup (DISCO_BUILD_PLUGIN_DIR);
}

/**
 * disco_registry_get_plugin_path:
 *
 * Lists where plugin modules are looked for: each folder of
 * `$DISCO_PLUGIN_PATH`, then the build tree when this library was loaded
 * from it, then the install folder.
 *
 * Returns: (transfer full) (array zero-terminated=1): the folders searched
 *   for plugins, in order
 */
char **
disco_registry_get_plugin_path (void)
{
  GStrvBuilder *builder = g_strv_builder_new ();
  const char *env = g_getenv ("DISCO_PLUGIN_PATH");
  g_autofree char *uninstalled = uninstalled_plugin_dir ();
  char **dirs;

  if (env != NULL)
    {
      g_auto (GStrv) parts = g_strsplit (env, G_SEARCHPATH_SEPARATOR_S, -1);
      for (guint i = 0; parts[i] != NULL; i++)
        if (*parts[i] != '\0')
          g_strv_builder_add (builder, parts[i]);
    }
  if (uninstalled != NULL)
    g_strv_builder_add (builder, uninstalled);
  else
    g_strv_builder_add (builder, DISCO_PLUGIN_DIR);
  dirs = g_strv_builder_end (builder);
  g_strv_builder_unref (builder);
  return dirs;
}

static void
load_plugins_in (const char *dir_path)
{
  g_autoptr (GDir) dir = g_dir_open (dir_path, 0, NULL);
  g_autoptr (GPtrArray) files = g_ptr_array_new_with_free_func (g_free);
  const char *entry;

  if (dir == NULL)
    return;
  while ((entry = g_dir_read_name (dir)) != NULL)
    if (g_str_has_suffix (entry, "." G_MODULE_SUFFIX))
      g_ptr_array_add (files, g_build_filename (dir_path, entry, NULL));
  /* Sorted, so the load order never depends on the file system. */
  g_ptr_array_sort (files, compare_string_pointers);
  for (guint i = 0; i < files->len; i++)
    {
      g_autoptr (GError) error = NULL;

      if (!disco_registry_load_plugin (g_ptr_array_index (files, i), &error))
        g_warning ("%s", error->message);
    }
}

void
_disco_registry_ensure_loaded (void)
{
  static gsize loaded = 0;

  if (g_once_init_enter (&loaded))
    {
      g_auto (GStrv) dirs = disco_registry_get_plugin_path ();

      g_mutex_lock (&registry_lock);
      ensure_tables ();
      g_mutex_unlock (&registry_lock);
      for (guint i = 0; dirs[i] != NULL; i++)
        load_plugins_in (dirs[i]);
      g_once_init_leave (&loaded, 1);
    }
}
