/* disco-device.c: which operations table a node computes with
 *
 * A node's arithmetic is written once against a DiscoOps table: the CUDA
 * backend's when the node computes on CUDA, the host table, disco_ops_cpu(),
 * otherwise.  There is no second (host-only) copy to choose instead.
 */
#include "disco-device.h"
#include <disco/disco-backend.h>

/**
 * disco_node_get_ops:
 * @node: a node in a validated pipeline
 *
 * Returns: (transfer none): the CUDA table when the node computes on CUDA
 *   (the pipeline does and the node's #DiscoNode:device is not cpu), else
 *   the host table, disco_ops_cpu(); never %NULL
 */
const DiscoOps *
disco_node_get_ops (DiscoNode *node)
{
  if (disco_node_get_device (node) == DISCO_DEVICE_CUDA)
    {
      const DiscoBackend *backend = disco_backend_get (DISCO_DEVICE_CUDA);

      if (backend != NULL && backend->ops != NULL)
        return backend->ops;
    }
  return disco_ops_cpu ();
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
  if (disco_tensor_get_device (tensor) == DISCO_DEVICE_CPU
      && !disco_tensor_to_device (tensor, DISCO_DEVICE_CUDA, error))
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
  if (disco_tensor_get_device (tensor) == DISCO_DEVICE_CPU
      && !disco_tensor_to_device (tensor, DISCO_DEVICE_CUDA, error))
    return NULL;
  return disco_tensor_write_device (tensor, error);
}
