/* disco-backend.h: how the engine reaches a compute device
 *
 * libdisco itself never links CUDA (it is introspected, and g-ir-scanner
 * cannot link its helper against cuBLAS on Debian 12's meson). A backend
 * module fills in this table at run time; tensors then allocate and copy
 * through it. The CPU needs no backend: host memory is the CPU's memory.
 */
#pragma once

#include <glib.h>
#include "disco-enums-base.h"

G_BEGIN_DECLS

/**
 * DiscoBackend: (skip)
 * @name: short name shown to users, e.g. "cuda"
 * @describe: one line naming the device (model, memory), newly allocated
 * @alloc: allocate @size bytes of device memory
 * @free: release memory from @alloc
 * @copy_to_host: copy @size bytes from device memory to host memory
 * @copy_to_device: copy @size bytes from host memory to device memory
 * @copy_on_device: copy @size bytes between two device buffers
 * @synchronize: wait until all queued device work has finished
 * @ops: the device's table of numerical operations (a `const DiscoOps *`
 *   from `kernels/disco-ops.h`; opaque here, so that libdisco needs no
 *   kernels), or %NULL
 *
 * The functions a device backend provides. Every function that can fail
 * sets a #GError in the %DISCO_ERROR domain and returns %FALSE or %NULL.
 */
typedef struct
{
  const char *name;
  char *(*describe) (void);
  gpointer (*alloc) (gsize size, GError **error);
  void (*free) (gpointer device_ptr);
  gboolean (*copy_to_host) (gpointer host, gconstpointer device_ptr, gsize size, GError **error);
  gboolean (*copy_to_device) (gpointer device_ptr, gconstpointer host, gsize size, GError **error);
  gboolean (*copy_on_device) (gpointer dst, gconstpointer src, gsize size, GError **error);
  gboolean (*synchronize) (GError **error);
  gconstpointer ops;
} DiscoBackend;

void disco_backend_register (DiscoDevice device, const DiscoBackend *backend);
const DiscoBackend *disco_backend_get (DiscoDevice device);

G_END_DECLS
