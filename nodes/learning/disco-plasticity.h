/* disco-plasticity.h */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

/**
 * DiscoPlasticityRule:
 * @DISCO_PLASTICITY_EXACT_INVERSE: δ = (φ_I⁻¹(r_I) − r_E) ⊙ φ_E′(u_E) (MODEL.md §6)
 * @DISCO_PLASTICITY_LINEAR_THRESHOLD: φ_I⁻¹ replaced by its Taylor line around
 *   a running average of the open-loop inhibitory rate: a Hebbian rule whose
 *   LTP/LTD threshold moves with inhibition
 * @DISCO_PLASTICITY_BACKPROP: the exact gradient of the soft-target
 *   cross-entropy of the same layers without E–I pairing (rate layers)
 *
 * The rule that turns a network's states into parameter updates.
 */
typedef enum
{
  DISCO_PLASTICITY_EXACT_INVERSE,
  DISCO_PLASTICITY_LINEAR_THRESHOLD,
  DISCO_PLASTICITY_BACKPROP,
} DiscoPlasticityRule;

#define DISCO_TYPE_PLASTICITY_RULE (disco_plasticity_rule_get_type ())
GType disco_plasticity_rule_get_type (void);

#define DISCO_TYPE_PLASTICITY (disco_plasticity_get_type ())
G_DECLARE_FINAL_TYPE (DiscoPlasticity, disco_plasticity, DISCO, PLASTICITY, DiscoNode)

G_END_DECLS
