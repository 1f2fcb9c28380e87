/* disco-network-provider.c: the DiscoNetworkProvider interface */
#include "disco-network-provider.h"

/**
 * SECTION:disco-network-provider
 * @title: DiscoNetworkProvider
 * @short_description: a node that drives a network and publishes its states
 *
 * The integrator implements it; plasticity and activity-image ask the node
 * their `state` input links to for its network through it, so they depend
 * on what they need (the layers and the state layout), not on the
 * integrator's type.
 */

G_DEFINE_INTERFACE (DiscoNetworkProvider, disco_network_provider, DISCO_TYPE_NODE)

static void
disco_network_provider_default_init (DiscoNetworkProviderInterface *iface)
{
}

/**
 * disco_network_provider_get_network: (virtual get_network) (skip)
 * @self: a network provider
 *
 * Returns: (transfer none) (nullable): the network @self drives, owned by
 *   @self; %NULL before it has been prepared
 */
DiscoNetwork *
disco_network_provider_get_network (DiscoNetworkProvider *self)
{
  DiscoNetworkProviderInterface *iface;

  g_return_val_if_fail (DISCO_IS_NETWORK_PROVIDER (self), NULL);

  iface = DISCO_NETWORK_PROVIDER_GET_IFACE (self);
  g_return_val_if_fail (iface->get_network != NULL, NULL);
  return iface->get_network (self);
}
