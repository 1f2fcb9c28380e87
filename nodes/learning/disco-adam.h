/* disco-adam.h */
#pragma once

#include "disco-optimizer.h"

G_BEGIN_DECLS

#define DISCO_TYPE_ADAM (disco_adam_get_type ())
G_DECLARE_FINAL_TYPE (DiscoAdam, disco_adam, DISCO, ADAM, DiscoOptimizer)

G_END_DECLS
