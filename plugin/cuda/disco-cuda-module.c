/* disco-cuda-module.c: the module that installs the CUDA backend.
 *
 * Loaded by the plugin disco-cuda (../disco-cuda-plugin.c) from the folder
 * cuda/ beside it, only where a CUDA driver is: this module links CUDA's
 * runtime and cuBLAS, whose loading alone costs a process 0.1 s and 150 MB.
 * It registers no node type: it registers the CUDA device backend with
 * libdisco when a CUDA device is usable, so that device=cuda and
 * device=auto can pick it.  Without a usable device it does nothing and
 * says why under G_MESSAGES_DEBUG=Disco-CUDA, so such a machine behaves
 * exactly like a build without CUDA.
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Disco-CUDA"

#include "disco/disco-backend.h"
#include "kernels/disco-kernels-cuda.h"

#include <gmodule.h>

G_MODULE_EXPORT gboolean disco_plugin_init (GError **error);

/**
 * disco_plugin_init:
 * @error: return location for a #GError
 *
 * Registers the CUDA backend for %DISCO_DEVICE_CUDA when a device starts.
 * A missing GPU is no error of the plugin.
 *
 * Returns: %TRUE
 */
G_MODULE_EXPORT gboolean
disco_plugin_init (GError **error)
{
  g_autoptr (GError) why = NULL;
  g_autofree char *description = NULL;

  if (!disco_cuda_init (&why))
    {
      g_debug ("CUDA backend not registered: %s", why->message);
      return TRUE;
    }
  description = disco_cuda_describe ();
  g_debug ("CUDA backend registered: %s", description);
  disco_backend_register (DISCO_DEVICE_CUDA, disco_cuda_get_backend ());
  return TRUE;
}
