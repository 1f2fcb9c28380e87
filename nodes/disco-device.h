/* disco-device.h: which operations table a node computes with */
#pragma once

#include <disco/disco.h>
#include "disco-ops.h"

G_BEGIN_DECLS

const DiscoOps *disco_node_get_ops (DiscoNode *node);
gconstpointer disco_tensor_read_ops (DiscoTensor *tensor, const DiscoOps *ops, GError **error);
gpointer disco_tensor_write_ops (DiscoTensor *tensor, const DiscoOps *ops, GError **error);

G_END_DECLS
