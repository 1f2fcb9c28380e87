/* disco-error.c */
#include "disco-error.h"

/**
 * disco_error_quark:
 *
 * Gets the quark of the %DISCO_ERROR domain; use %DISCO_ERROR instead.
 *
 * Returns: the quark of the Disco error domain
 */
/* clang-format off: the quark's name is text, not an expression */
G_DEFINE_QUARK (disco-error-quark, disco_error)
/* clang-format on */
