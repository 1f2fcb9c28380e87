/* disco-sgd.h */
#pragma once

#include "disco-optimizer.h"

G_BEGIN_DECLS

#define DISCO_TYPE_SGD (disco_sgd_get_type ())
G_DECLARE_FINAL_TYPE (DiscoSgd, disco_sgd, DISCO, SGD, DiscoOptimizer)

G_END_DECLS
