/* disco-sweep-source.h */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

#define DISCO_TYPE_SWEEP_SOURCE (disco_sweep_source_get_type ())
G_DECLARE_FINAL_TYPE (DiscoSweepSource, disco_sweep_source, DISCO, SWEEP_SOURCE, DiscoNode)

G_END_DECLS
