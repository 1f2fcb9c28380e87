/* disco-online-network.h */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

/**
 * DiscoOnlineRule:
 * @DISCO_ONLINE_RULE_NONE: no plasticity (a teacher, or control only)
 * @DISCO_ONLINE_RULE_EXACT_INVERSE: error (r_E − φ_I⁻¹(r_I)) ⊙ φ_E′, with
 *   φ_I⁻¹(r_I) = u_I
 * @DISCO_ONLINE_RULE_LINEAR_THRESHOLD: φ_I⁻¹ replaced by a Taylor line
 *   around #DiscoOnlineNetwork:threshold-rate
 *
 * The continuous-time plasticity rule of an online network.
 */
typedef enum
{
  DISCO_ONLINE_RULE_NONE,
  DISCO_ONLINE_RULE_EXACT_INVERSE,
  DISCO_ONLINE_RULE_LINEAR_THRESHOLD,
} DiscoOnlineRule;

#define DISCO_TYPE_ONLINE_RULE (disco_online_rule_get_type ())
GType disco_online_rule_get_type (void);

#define DISCO_TYPE_ONLINE_NETWORK (disco_online_network_get_type ())
G_DECLARE_FINAL_TYPE (DiscoOnlineNetwork, disco_online_network, DISCO, ONLINE_NETWORK, DiscoNode)

G_END_DECLS
