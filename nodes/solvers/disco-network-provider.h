/* disco-network-provider.h: the DiscoNetworkProvider interface */
#pragma once

#include <disco/disco.h>
#include "disco-network.h"

G_BEGIN_DECLS

#define DISCO_TYPE_NETWORK_PROVIDER (disco_network_provider_get_type ())
G_DECLARE_INTERFACE (DiscoNetworkProvider, disco_network_provider, DISCO, NETWORK_PROVIDER,
                     DiscoNode)

/**
 * DiscoNetworkProviderInterface:
 * @g_iface: the parent interface
 * @get_network: the network the node drives, once it has been prepared
 *   (%NULL before)
 *
 * A node that drives a network of layers (an integrator) and publishes its
 * states on its outputs: `state` and `open-loop-state` (the closed- and
 * open-loop steady states, batch × N in the network's state layout), and,
 * when it records a sample, `trajectory`, `trajectory-times` and
 * `trajectory-open-loop-rows`. Nodes that read those states (plasticity,
 * activity-image) link one of its outputs and ask it, through this
 * interface, how the states are laid out: the layers, their offsets, the
 * input.
 */
struct _DiscoNetworkProviderInterface
{
  GTypeInterface g_iface;

  DiscoNetwork *(*get_network) (DiscoNetworkProvider *self);
};

DiscoNetwork *disco_network_provider_get_network (DiscoNetworkProvider *self);

G_END_DECLS
