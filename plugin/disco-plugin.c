/* disco-plugin.c: the entry point of the disco-nodes plugin module */
#include "disco/disco-private.h"
#include "disco-parallel.h"
#include "nodes/disco-nodes.h"

#include <gmodule.h>

G_MODULE_EXPORT gboolean disco_plugin_init (GError **error);

/**
 * disco_plugin_init:
 * @error: return location for a #GError
 *
 * Registers every node type of nodes/. The registry calls it once when it
 * loads this module.
 *
 * Returns: %TRUE
 */
G_MODULE_EXPORT gboolean
disco_plugin_init (GError **error)
{
  DISCO_NODE_REGISTER (constant_source);
  DISCO_NODE_REGISTER (affine);
  DISCO_NODE_REGISTER (recorder);
  DISCO_NODE_REGISTER (microcircuit);
  DISCO_NODE_REGISTER (rate_layer);
  DISCO_NODE_REGISTER (readout);
  DISCO_NODE_REGISTER (integrator);
  DISCO_NODE_REGISTER (evaluator);
  DISCO_NODE_REGISTER (adam);
  DISCO_NODE_REGISTER (sgd);
  DISCO_NODE_REGISTER (idx_loader);
  DISCO_NODE_REGISTER (digits_loader);
  DISCO_NODE_REGISTER (leaky_pi);
  DISCO_NODE_REGISTER (plasticity);
  DISCO_NODE_REGISTER (receptive_fields);
  DISCO_NODE_REGISTER (activity_image);
  DISCO_NODE_REGISTER (learning_curves);
  DISCO_NODE_REGISTER (sinusoid_source);
  DISCO_NODE_REGISTER (online_network);
  DISCO_NODE_REGISTER (sweep_source);
  DISCO_NODE_REGISTER (single_circuit);
  DISCO_NODE_REGISTER (table_writer);
  /* The run's finiteness check scans large tensors on the nodes' threads. */
  _disco_set_pieces_runner (disco_parallel_run);
  return TRUE;
}
