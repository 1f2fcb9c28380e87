/* disco-receptive-fields.h */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

#define DISCO_TYPE_RECEPTIVE_FIELDS (disco_receptive_fields_get_type ())
G_DECLARE_FINAL_TYPE (DiscoReceptiveFields, disco_receptive_fields, DISCO, RECEPTIVE_FIELDS,
                      DiscoNode)

/* Shared by the image nodes: checks a file-name pattern property. */
gboolean disco_image_check_pattern (DiscoNode *node, const char *property, const char *pattern,
                                    const char *conversions, GError **error);

G_END_DECLS
