/* disco-tensor.h: float32 row-major tensors on the host or a device */
#pragma once

#include <glib-object.h>
#include "disco-enums-base.h"

G_BEGIN_DECLS

/**
 * DISCO_TENSOR_MAX_DIMS:
 *
 * The most dimensions a #DiscoTensor has (batch first).
 */
#define DISCO_TENSOR_MAX_DIMS 4

#define DISCO_TYPE_TENSOR (disco_tensor_get_type ())
G_DECLARE_FINAL_TYPE (DiscoTensor, disco_tensor, DISCO, TENSOR, GObject)

DiscoTensor *disco_tensor_new (guint n_dims, const gsize *shape);
DiscoTensor *disco_tensor_new_on_device (DiscoDevice device, guint n_dims, const gsize *shape,
                                         GError **error);
DiscoTensor *disco_tensor_new_from_data (guint n_dims, const gsize *shape, const guint8 *data,
                                         gsize size, GError **error);
DiscoTensor *disco_tensor_new_from_bytes (guint n_dims, const gsize *shape, GBytes *bytes,
                                          GError **error);
DiscoTensor *disco_tensor_new_from_values (guint n_dims, const gsize *shape, const float *values,
                                           gsize n_values, GError **error);
DiscoTensor *disco_tensor_copy (DiscoTensor *self, GError **error);

guint disco_tensor_get_n_dims (DiscoTensor *self);
const gsize *disco_tensor_get_shape (DiscoTensor *self, guint *n_dims);
gsize disco_tensor_get_dim (DiscoTensor *self, guint axis);
gsize disco_tensor_get_n_elements (DiscoTensor *self);
gsize disco_tensor_get_row_size (DiscoTensor *self);
gboolean disco_tensor_has_shape (DiscoTensor *self, guint n_dims, const gsize *shape);
char *disco_tensor_shape_to_string (DiscoTensor *self);
DiscoDevice disco_tensor_get_device (DiscoTensor *self);

const float *disco_tensor_read_host (DiscoTensor *self, GError **error);
float *disco_tensor_write_host (DiscoTensor *self, GError **error);
guintptr disco_tensor_get_host_address (DiscoTensor *self, gboolean writable, GError **error);
gconstpointer disco_tensor_read_device (DiscoTensor *self, GError **error);
gpointer disco_tensor_write_device (DiscoTensor *self, GError **error);
gboolean disco_tensor_to_device (DiscoTensor *self, DiscoDevice device, GError **error);

GBytes *disco_tensor_get_bytes (DiscoTensor *self, GError **error);
float *disco_tensor_get_values (DiscoTensor *self, gsize *n_values, GError **error);
float disco_tensor_get_value (DiscoTensor *self, gsize index);
gboolean disco_tensor_set_data (DiscoTensor *self, const guint8 *data, gsize size, GError **error);
gboolean disco_tensor_set_values (DiscoTensor *self, const float *values, gsize n_values,
                                  GError **error);
gboolean disco_tensor_fill (DiscoTensor *self, float value, GError **error);

gboolean disco_tensor_save_npy (DiscoTensor *self, const char *path, GError **error);
DiscoTensor *disco_tensor_load_npy (const char *path, GError **error);

G_END_DECLS
