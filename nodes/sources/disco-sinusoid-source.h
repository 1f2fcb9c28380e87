/* disco-sinusoid-source.h */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

#define DISCO_TYPE_SINUSOID_SOURCE (disco_sinusoid_source_get_type ())
G_DECLARE_FINAL_TYPE (DiscoSinusoidSource, disco_sinusoid_source, DISCO, SINUSOID_SOURCE, DiscoNode)

G_END_DECLS
