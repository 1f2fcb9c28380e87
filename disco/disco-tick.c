/* disco-tick.c */
#include "disco-tick.h"

G_DEFINE_BOXED_TYPE (DiscoTick, disco_tick, disco_tick_copy, disco_tick_free)

/**
 * disco_tick_copy:
 * @tick: a tick
 *
 * Copies a tick, for a handler of #DiscoPipeline::tick that keeps it.
 *
 * Returns: (transfer full): a copy of @tick
 */
DiscoTick *
disco_tick_copy (const DiscoTick *tick)
{
  g_return_val_if_fail (tick != NULL, NULL);
  return g_memdup2 (tick, sizeof (DiscoTick));
}

/**
 * disco_tick_free:
 * @tick: a tick from disco_tick_copy()
 *
 * Frees @tick.
 */
void
disco_tick_free (DiscoTick *tick)
{
  g_free (tick);
}

/**
 * disco_phase_to_string:
 * @phase: a phase
 *
 * Names a phase.
 *
 * Returns: the phase's name as results files and logs write it:
 *   "train", "validation", "test" or "none"
 */
const char *
disco_phase_to_string (DiscoPhase phase)
{
  switch (phase)
    {
    case DISCO_PHASE_TRAIN: return "train";
    case DISCO_PHASE_VALIDATION: return "validation";
    case DISCO_PHASE_TEST: return "test";
    case DISCO_PHASE_NONE:
    default: return "none";
    }
}
