/* disco-single-circuit.h */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

/**
 * DiscoSingleCircuitRule:
 * @DISCO_SINGLE_CIRCUIT_LINEAR: Δw = x·(r_E − (θ + δ·r_I))·φ_E′(u_E): φ_I⁻¹
 *   replaced by the line θ + δ·r_I (MODEL.md §7)
 * @DISCO_SINGLE_CIRCUIT_EXACT: Δw = x·(r_E − φ_I⁻¹(r_I))·φ_E′(u_E)
 *
 * The plasticity rule of the input synapse of a single microcircuit.
 */
typedef enum
{
  DISCO_SINGLE_CIRCUIT_LINEAR,
  DISCO_SINGLE_CIRCUIT_EXACT,
} DiscoSingleCircuitRule;

#define DISCO_TYPE_SINGLE_CIRCUIT_RULE (disco_single_circuit_rule_get_type ())
GType disco_single_circuit_rule_get_type (void);

/**
 * DiscoSingleCircuitMode:
 * @DISCO_SINGLE_CIRCUIT_CIRCUIT: the E–I pair's dynamics, integrated from rest
 * @DISCO_SINGLE_CIRCUIT_ISOLATED: an isolated E neuron: u_E = x, and the
 *   inhibitory rate clamped at a given value
 *
 * What a single-circuit node computes before the weight change.
 */
typedef enum
{
  DISCO_SINGLE_CIRCUIT_CIRCUIT,
  DISCO_SINGLE_CIRCUIT_ISOLATED,
} DiscoSingleCircuitMode;

#define DISCO_TYPE_SINGLE_CIRCUIT_MODE (disco_single_circuit_mode_get_type ())
GType disco_single_circuit_mode_get_type (void);

#define DISCO_TYPE_SINGLE_CIRCUIT (disco_single_circuit_get_type ())
G_DECLARE_FINAL_TYPE (DiscoSingleCircuit, disco_single_circuit, DISCO, SINGLE_CIRCUIT, DiscoNode)

G_END_DECLS
