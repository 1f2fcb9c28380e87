/* disco-rate-layer.h */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

#define DISCO_TYPE_RATE_LAYER (disco_rate_layer_get_type ())
G_DECLARE_FINAL_TYPE (DiscoRateLayer, disco_rate_layer, DISCO, RATE_LAYER, DiscoNode)

G_END_DECLS
