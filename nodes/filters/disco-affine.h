/* disco-affine.h */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

#define DISCO_TYPE_AFFINE (disco_affine_get_type ())
G_DECLARE_FINAL_TYPE (DiscoAffine, disco_affine, DISCO, AFFINE, DiscoNode)

G_END_DECLS
