/* disco-tensor-io.c: tensors to and from NumPy .npy files
 *
 * Parameters are saved as .npy (format 1.0, '<f4', C order), so that numpy
 * reads them with numpy.load and writes them with numpy.save: no converter,
 * no new format. Only what Disco writes is read back: little-endian float32
 * in C order with 1 to 4 dimensions; anything else is a clear error.
 */

#include "disco-tensor.h"
#include "disco-error.h"
#include "disco-pipeline.h"

#include <string.h>

#define NPY_MAGIC "\x93NUMPY"
#define NPY_MAGIC_LEN 6

/**
 * disco_tensor_save_npy:
 * @self: a tensor
 * @path: the file to write, conventionally ending in ".npy"
 * @error: return location for a #GError
 *
 * Writes the tensor as a NumPy .npy file (float32, C order), atomically.
 *
 * Returns: %TRUE on success, %FALSE with @error set
 */
gboolean
disco_tensor_save_npy (DiscoTensor *self, const char *path, GError **error)
{
  g_autoptr (GString) header = g_string_new (NULL);
  g_autoptr (GByteArray) file = NULL;
  const float *values;
  guint n_dims;
  const gsize *shape;
  gsize total;
  guint16 header_len;

  g_return_val_if_fail (DISCO_IS_TENSOR (self), FALSE);
  g_return_val_if_fail (path != NULL, FALSE);

  values = disco_tensor_read_host (self, error);
  if (values == NULL)
    return FALSE;
  shape = disco_tensor_get_shape (self, &n_dims);
  g_string_append (header, "{'descr': '<f4', 'fortran_order': False, 'shape': (");
  /* As numpy writes it: "(3, 5)", and "(5,)" for one dimension. */
  for (guint i = 0; i < n_dims; i++)
    g_string_append_printf (header, "%s%" G_GSIZE_FORMAT, i ? ", " : "", shape[i]);
  if (n_dims == 1)
    g_string_append_c (header, ',');
  g_string_append (header, "), }");
  /* Pad with spaces so that magic + version + length + header is a multiple
   * of 64 bytes, ending in a newline, as the format asks. */
  total = NPY_MAGIC_LEN + 2 + 2 + header->len + 1;
  while (total % 64 != 0)
    {
      g_string_append_c (header, ' ');
      total++;
    }
  g_string_append_c (header, '\n');
  header_len = GUINT16_TO_LE ((guint16) header->len);

  file = g_byte_array_sized_new (total + disco_tensor_get_n_elements (self) * 4);
  g_byte_array_append (file, (const guint8 *) NPY_MAGIC, NPY_MAGIC_LEN);
  g_byte_array_append (file, (const guint8 *) "\x01\x00", 2);
  g_byte_array_append (file, (const guint8 *) &header_len, 2);
  g_byte_array_append (file, (const guint8 *) header->str, header->len);
#if G_BYTE_ORDER != G_LITTLE_ENDIAN
#error "the .npy writer assumes a little-endian host"
#endif
  g_byte_array_append (file, (const guint8 *) values,
                       disco_tensor_get_n_elements (self) * sizeof (float));
  return disco_write_file_atomically (path, file->data, file->len, error);
}

static gboolean
npy_error (GError **error, const char *path, const char *what)
{
  g_set_error (error, DISCO_ERROR, DISCO_ERROR_DATA,
               "%s: not a float32 .npy file Disco can "
               "read: %s",
               path, what);
  return FALSE;
}

/**
 * disco_tensor_load_npy:
 * @path: a .npy file of float32 values in C order ('<f4'), 1 to 4 dimensions
 * @error: return location for a #GError
 *
 * Reads a tensor written by disco_tensor_save_npy() or by
 * `numpy.save(path, array.astype(numpy.float32))`.
 *
 * Returns: (transfer full) (nullable): the tensor, or %NULL with @error set
 */
DiscoTensor *
disco_tensor_load_npy (const char *path, GError **error)
{
  g_autofree char *contents = NULL;
  g_autofree char *header = NULL;
  g_autoptr (GError) read_error = NULL;
  gsize length;
  guint16 header_len;
  const char *shape_start, *p;
  gsize shape[DISCO_TENSOR_MAX_DIMS];
  guint n_dims = 0;
  gsize n_elements = 1;

  g_return_val_if_fail (path != NULL, NULL);

  if (!g_file_get_contents (path, &contents, &length, &read_error))
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_IO, "%s: cannot read: %s", path,
                   read_error->message);
      return NULL;
    }
  if (length < 10 || memcmp (contents, NPY_MAGIC, NPY_MAGIC_LEN) != 0)
    return npy_error (error, path, "no .npy magic"), NULL;
  if (contents[6] != 1)
    return npy_error (error, path, "only format version 1.0 is read"), NULL;
  memcpy (&header_len, contents + 8, 2);
  header_len = GUINT16_FROM_LE (header_len);
  if ((gsize) header_len + 10 > length)
    return npy_error (error, path, "truncated header"), NULL;
  header = g_strndup (contents + 10, header_len);

  if (strstr (header, "'descr': '<f4'") == NULL)
    return npy_error (error, path, "the values are not little-endian float32 ('<f4')"), NULL;
  if (strstr (header, "'fortran_order': False") == NULL)
    return npy_error (error, path, "the array is in Fortran order"), NULL;
  shape_start = strstr (header, "'shape': (");
  if (shape_start == NULL)
    return npy_error (error, path, "no shape in the header"), NULL;
  for (p = shape_start + strlen ("'shape': ("); *p != ')';)
    {
      char *end;
      guint64 dim;

      while (*p == ' ' || *p == ',')
        p++;
      if (*p == ')')
        break;
      dim = g_ascii_strtoull (p, &end, 10);
      if (end == p || dim == 0 || n_dims == DISCO_TENSOR_MAX_DIMS
          || n_elements > G_MAXSIZE / 4 / dim)
        return npy_error (error, path, "the shape is not 1 to 4 positive sizes"), NULL;
      shape[n_dims++] = dim;
      n_elements *= dim;
      p = end;
    }
  if (n_dims == 0)
    return npy_error (error, path, "a scalar (0-d) array"), NULL;
  if (length - 10 - header_len != n_elements * sizeof (float))
    return npy_error (error, path, "the data size does not match the shape"), NULL;
  return disco_tensor_new_from_data (n_dims, shape, (const guint8 *) contents + 10 + header_len,
                                     n_elements * sizeof (float), error);
}
