/* disco-idx-loader.h */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

#define DISCO_TYPE_IDX_LOADER (disco_idx_loader_get_type ())
G_DECLARE_FINAL_TYPE (DiscoIdxLoader, disco_idx_loader, DISCO, IDX_LOADER, DiscoNode)

G_END_DECLS
