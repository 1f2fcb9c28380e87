/* disco-nodes.h: registration of the node types in this plugin
 *
 * Each node file defines its own registration with DISCO_NODE_REGISTER_DEFINE;
 * plugin/disco-plugin.c holds the one list of calls.
 */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

#define DISCO_NODE_REGISTER_DEFINE(func, name, type)                                               \
  gboolean disco_node_register_##func (void);                                                      \
  gboolean disco_node_register_##func (void) { return disco_registry_register (name, type); }

#define DISCO_NODE_REGISTER_DECLARE(func) gboolean disco_node_register_##func (void)
#define DISCO_NODE_REGISTER(func) disco_node_register_##func ()

DISCO_NODE_REGISTER_DECLARE (constant_source);
DISCO_NODE_REGISTER_DECLARE (affine);
DISCO_NODE_REGISTER_DECLARE (recorder);
DISCO_NODE_REGISTER_DECLARE (microcircuit);
DISCO_NODE_REGISTER_DECLARE (rate_layer);
DISCO_NODE_REGISTER_DECLARE (readout);
DISCO_NODE_REGISTER_DECLARE (integrator);
DISCO_NODE_REGISTER_DECLARE (evaluator);
DISCO_NODE_REGISTER_DECLARE (adam);
DISCO_NODE_REGISTER_DECLARE (sgd);
DISCO_NODE_REGISTER_DECLARE (idx_loader);
DISCO_NODE_REGISTER_DECLARE (digits_loader);
DISCO_NODE_REGISTER_DECLARE (leaky_pi);
DISCO_NODE_REGISTER_DECLARE (plasticity);
DISCO_NODE_REGISTER_DECLARE (receptive_fields);
DISCO_NODE_REGISTER_DECLARE (activity_image);
DISCO_NODE_REGISTER_DECLARE (learning_curves);
DISCO_NODE_REGISTER_DECLARE (sinusoid_source);
DISCO_NODE_REGISTER_DECLARE (online_network);
DISCO_NODE_REGISTER_DECLARE (sweep_source);
DISCO_NODE_REGISTER_DECLARE (single_circuit);
DISCO_NODE_REGISTER_DECLARE (table_writer);

G_END_DECLS
