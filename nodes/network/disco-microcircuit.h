/* disco-microcircuit.h */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

#define DISCO_TYPE_MICROCIRCUIT (disco_microcircuit_get_type ())
G_DECLARE_FINAL_TYPE (DiscoMicrocircuit, disco_microcircuit, DISCO, MICROCIRCUIT, DiscoNode)

G_END_DECLS
