/* disco-error.c */
#include "disco-error.h"

G_DEFINE_QUARK (disco-error-quark, disco_error)
