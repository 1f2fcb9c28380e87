/* disco-constant-source.h */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

#define DISCO_TYPE_CONSTANT_SOURCE (disco_constant_source_get_type ())
G_DECLARE_FINAL_TYPE (DiscoConstantSource, disco_constant_source, DISCO, CONSTANT_SOURCE, DiscoNode)

G_END_DECLS
