/* disco-device.c: which operations table a node computes with
 *
 * A node with a device path writes it once against a DiscoOps table. In a
 * pipeline on CUDA the table is the CUDA backend's; on the CPU the node
 * keeps its own (faster, compacting) host code unless DISCO_DEVICE_PATH =
 * table asks for the device path on the host table, which is how the
 * device path is tested on machines without a GPU.
 */
#include "disco-device.h"
#include <disco/disco-backend.h>

#include <string.h>

/**
 * disco_node_get_ops:
 * @node: a node in a validated pipeline
 *
 * Returns: (nullable): the CUDA table when the node computes on CUDA (the
 *   pipeline does and the node's #DiscoNode:device is not cpu), the host
 *   table when #DISCO_DEVICE_PATH_ENV is `table` (and the node's device is
 *   not cpu), else %NULL: compute with the host code
 */
const DiscoOps *
disco_node_get_ops (DiscoNode *node)
{
  DiscoDevice setting;

  if (disco_node_get_device (node) == DISCO_DEVICE_CUDA)
    {
      const DiscoBackend *backend = disco_backend_get (DISCO_DEVICE_CUDA);
      return backend != NULL ? backend->ops : NULL;
    }
  g_object_get (node, "device", &setting, NULL);
  if (setting != DISCO_DEVICE_CPU && g_strcmp0 (g_getenv (DISCO_DEVICE_PATH_ENV), "table") == 0)
    return disco_ops_cpu ();
  return NULL;
}

/**
 * disco_tensor_read_ops:
 * @tensor: a tensor
 * @ops: the table a node computes with
 * @error: return location for a #GError
 *
 * Returns: (nullable): the tensor's values in @ops's memory (host memory
 *   for the host table, device memory otherwise; copied there first when
 *   the other side is newer), or %NULL with @error set
 */
gconstpointer
disco_tensor_read_ops (DiscoTensor *tensor, const DiscoOps *ops, GError **error)
{
  if (ops == disco_ops_cpu ())
    return disco_tensor_read_host (tensor, error);
  /* A host producer's tensor (a loader's batch) moves to the device on
   * first use; the producer's next host write makes the copy stale again. */
  if (disco_tensor_get_device (tensor) == DISCO_DEVICE_CPU &&
      !disco_tensor_to_device (tensor, DISCO_DEVICE_CUDA, error))
    return NULL;
  return disco_tensor_read_device (tensor, error);
}

/**
 * disco_tensor_write_ops:
 * @tensor: a tensor
 * @ops: the table a node computes with
 * @error: return location for a #GError
 *
 * Returns: (nullable): the tensor's values in @ops's memory, to be written
 *   (the other copy becomes stale), or %NULL with @error set
 */
gpointer
disco_tensor_write_ops (DiscoTensor *tensor, const DiscoOps *ops, GError **error)
{
  if (ops == disco_ops_cpu ())
    return disco_tensor_write_host (tensor, error);
  if (disco_tensor_get_device (tensor) == DISCO_DEVICE_CPU &&
      !disco_tensor_to_device (tensor, DISCO_DEVICE_CUDA, error))
    return NULL;
  return disco_tensor_write_device (tensor, error);
}
