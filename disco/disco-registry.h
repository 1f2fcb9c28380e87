/* disco-registry.h: node types by name, and the plugins that register them */
#pragma once

#include <glib-object.h>

G_BEGIN_DECLS

/**
 * DISCO_PLUGIN_INIT_SYMBOL:
 *
 * The symbol a plugin module exports: a `gboolean (*) (GError **error)`
 * function that registers the module's node types with
 * disco_registry_register().
 */
#define DISCO_PLUGIN_INIT_SYMBOL "disco_plugin_init"

gboolean disco_registry_register (const char *name, GType type);
GType disco_registry_lookup (const char *name);
char **disco_registry_list_names (void);
const char *disco_registry_get_name_for_type (GType type);
gboolean disco_registry_load_plugin (const char *path, GError **error);
char **disco_registry_get_plugin_path (void);

G_END_DECLS
