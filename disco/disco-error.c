/* disco-error.c */
#include "disco-error.h"

/**
 * disco_error_quark:
 *
 * Gets the quark of the %DISCO_ERROR domain; use %DISCO_ERROR instead.
 *
 * Returns: the quark of the Disco error domain
 */
/* The quark's name is text, not an expression: */
/* clang-format off */
G_DEFINE_QUARK (disco-error-quark, disco_error)
/* clang-format on */
