/* disco-cuda-plugin.c: the plugin module that installs the CUDA backend
 * where a GPU can be.
 *
 * Loaded like every plugin (DISCO_PLUGIN_PATH, the build tree, the install
 * folder).  It links no CUDA library: where the CUDA driver
 * (libcuda.so.1) is, it loads the backend module from the folder cuda/
 * beside it (cuda/disco-cuda-module.c), which registers the device when
 * one starts.  Elsewhere it does nothing, and a run does not pay for
 * loading CUDA's runtime and cuBLAS (0.1 s and 150 MB of every process on
 * a machine without a GPU).  $DISCO_CUDA=0 hides the GPU: a way to compare
 * devices, and to keep a shared GPU machine's tests on the CPU.
 * G_MESSAGES_DEBUG=Disco-CUDA says why no backend was registered.
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Disco-CUDA"

#define _GNU_SOURCE
#include "disco/disco-error.h"
#include "disco/disco-registry.h"

#include <dlfcn.h>
#include <gmodule.h>

G_MODULE_EXPORT gboolean disco_plugin_init (GError **error);

/**
 * disco_plugin_init:
 * @error: return location for a #GError
 *
 * Loads the CUDA backend's module when a CUDA driver is installed.  A
 * missing driver or GPU is no error of the plugin; a missing module beside
 * it is (a broken install).
 *
 * Returns: %TRUE, or %FALSE with @error set when the module is missing or
 *   fails to load
 */
G_MODULE_EXPORT gboolean
disco_plugin_init (GError **error)
{
  g_autofree char *dir = NULL, *module = NULL;
  Dl_info self;
  void *driver;

  if (g_strcmp0 (g_getenv ("DISCO_CUDA"), "0") == 0)
    {
      g_debug ("CUDA backend not loaded: DISCO_CUDA=0");
      return TRUE;
    }
  /* CUDA's runtime needs the driver's library to find any device. */
  driver = dlopen ("libcuda.so.1", RTLD_LAZY | RTLD_LOCAL);
  if (driver == NULL)
    {
      g_debug ("CUDA backend not loaded: no CUDA driver (%s)", dlerror ());
      return TRUE;
    }
  dlclose (driver);
  if (dladdr ((void *) disco_plugin_init, &self) == 0 || self.dli_fname == NULL)
    {
      g_set_error_literal (error, DISCO_ERROR, DISCO_ERROR_IO,
                           "disco-cuda: cannot find where this plugin was loaded from");
      return FALSE;
    }
  dir = g_path_get_dirname (self.dli_fname);
  module = g_build_filename (dir, "cuda", "libdisco-cuda-module." G_MODULE_SUFFIX, NULL);
  return disco_registry_load_plugin (module, error);
}
