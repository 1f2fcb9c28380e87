/* disco-readout.h */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

#define DISCO_TYPE_READOUT (disco_readout_get_type ())
G_DECLARE_FINAL_TYPE (DiscoReadout, disco_readout, DISCO, READOUT, DiscoNode)

G_END_DECLS
