/* disco-device.h: which operations table a node computes with */
#pragma once

#include <disco/disco.h>
#include "disco-ops.h"

G_BEGIN_DECLS

/**
 * DISCO_DEVICE_PATH_ENV:
 *
 * Set to `table` in the environment, nodes that have a device path take it
 * on the CPU too, through disco_ops_cpu(): the code a GPU would run,
 * checked on any machine against the CPU's own paths.
 */
#define DISCO_DEVICE_PATH_ENV "DISCO_DEVICE_PATH"

const DiscoOps *disco_node_get_ops (DiscoNode *node);
gconstpointer disco_tensor_read_ops (DiscoTensor *tensor, const DiscoOps *ops, GError **error);
gpointer disco_tensor_write_ops (DiscoTensor *tensor, const DiscoOps *ops, GError **error);

G_END_DECLS
