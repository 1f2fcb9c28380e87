/* disco-digits-loader.h */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

#define DISCO_TYPE_DIGITS_LOADER (disco_digits_loader_get_type ())
G_DECLARE_FINAL_TYPE (DiscoDigitsLoader, disco_digits_loader, DISCO, DIGITS_LOADER, DiscoNode)

G_END_DECLS
