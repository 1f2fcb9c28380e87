/* disco-tick.h: the context of one tick (one minibatch) */
#pragma once

#include <glib-object.h>
#include "disco-enums-base.h"

G_BEGIN_DECLS

#define DISCO_TYPE_TICK (disco_tick_get_type ())

/**
 * DiscoTick:
 * @index: running number of the tick in this run, from 0
 * @epoch: epoch, from 1 (0 when the source has no epochs)
 * @batch: minibatch index within the phase, from 0
 * @phase: the dataset phase the tick belongs to
 * @flags: marks set by the source (end of phase, end of epoch)
 * @n_ticks: ticks the whole run is expected to have, 0 when unknown (for ETA)
 * @n_epochs: epochs the run is expected to have, 0 when unknown
 * @batch_size: samples in this tick's minibatch, 0 when not applicable
 *
 * What a tick is about. The pipeline resets it before each tick; the first
 * source node fills it in; every node reads it.
 */
typedef struct
{
  guint64 index;
  guint epoch;
  guint batch;
  DiscoPhase phase;
  DiscoTickFlags flags;
  guint64 n_ticks;
  guint n_epochs;
  guint batch_size;
} DiscoTick;

GType disco_tick_get_type (void);
DiscoTick *disco_tick_copy (const DiscoTick *tick);
void disco_tick_free (DiscoTick *tick);
const char *disco_phase_to_string (DiscoPhase phase);

G_DEFINE_AUTOPTR_CLEANUP_FUNC (DiscoTick, disco_tick_free)

G_END_DECLS
