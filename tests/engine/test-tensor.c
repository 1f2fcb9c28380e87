/* test-tensor.c: DiscoTensor shapes, data in and out, errors */
#include <disco/disco.h>
#include <disco/disco-backend.h>

#include <glib/gstdio.h>
#include <string.h>

static void
test_tensor_new (void)
{
  const gsize shape[] = { 2, 3, 4 };
  g_autoptr (DiscoTensor) t = disco_tensor_new (3, shape);
  guint n_dims;
  const gsize *got = disco_tensor_get_shape (t, &n_dims);
  const float *values = disco_tensor_read_host (t, NULL);
  g_autofree char *text = disco_tensor_shape_to_string (t);

  g_test_summary ("A new tensor has its shape, 24 zeros, lives on the CPU");
  g_assert_cmpuint (n_dims, ==, 3);
  g_assert_cmpuint (got[0], ==, 2);
  g_assert_cmpuint (got[2], ==, 4);
  g_assert_cmpuint (disco_tensor_get_n_elements (t), ==, 24);
  g_assert_cmpuint (disco_tensor_get_row_size (t), ==, 12);
  g_assert_cmpuint (disco_tensor_get_dim (t, 1), ==, 3);
  g_assert_cmpuint (disco_tensor_get_dim (t, 3), ==, 1);
  g_assert_cmpstr (text, ==, "2×3×4");
  g_assert_cmpint (disco_tensor_get_device (t), ==, DISCO_DEVICE_CPU);
  for (guint i = 0; i < 24; i++)
    g_assert_cmpfloat (values[i], ==, 0.0f);
  g_assert_true (disco_tensor_has_shape (t, 3, shape));
  g_assert_false (disco_tensor_has_shape (t, 2, shape));
}

static void
test_tensor_data_round_trip (void)
{
  const gsize shape[] = { 2, 2 };
  const float values[] = { 1.5f, -2.0f, 3.25f, 1e-8f };
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoTensor) t =
      disco_tensor_new_from_data (2, shape, (const guint8 *) values, sizeof values, &error);
  g_autoptr (GBytes) bytes = NULL;
  g_autoptr (DiscoTensor) copy = NULL;
  g_autofree float *out = NULL;
  gsize n = 0;

  g_test_summary ("Bytes in, bytes and floats out, deep copies are independent");
  g_assert_no_error (error);
  bytes = disco_tensor_get_bytes (t, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), values, sizeof values);
  out = disco_tensor_get_values (t, &n, &error);
  g_assert_no_error (error);
  g_assert_cmpmem (out, n * sizeof (float), values, sizeof values);
  g_assert_cmpfloat (disco_tensor_get_value (t, 2), ==, 3.25f);

  copy = disco_tensor_copy (t, &error);
  g_assert_no_error (error);
  g_assert_true (disco_tensor_fill (t, 7.0f, &error));
  g_assert_cmpfloat (disco_tensor_get_value (copy, 0), ==, 1.5f);
  g_assert_cmpfloat (disco_tensor_get_value (t, 0), ==, 7.0f);
}

static void
test_tensor_bad_inputs (void)
{
  const gsize shape[] = { 2, 2 };
  const gsize zero_shape[] = { 2, 0 };
  const gsize five[] = { 1, 1, 1, 1, 1 };
  const float three[] = { 1, 2, 3 };
  g_autoptr (GError) error = NULL;
  DiscoTensor *t;

  g_test_summary ("Wrong sizes, empty and 5-d shapes, and a missing device backend are "
                  "errors, not crashes");
  t = disco_tensor_new_from_values (2, shape, three, 3, &error);
  g_assert_null (t);
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE);
  g_assert_nonnull (strstr (error->message, "2×2"));
  g_clear_error (&error);

  t = disco_tensor_new_on_device (DISCO_DEVICE_CPU, 2, zero_shape, &error);
  g_assert_null (t);
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE);
  g_clear_error (&error);

  t = disco_tensor_new_on_device (DISCO_DEVICE_CPU, 5, five, &error);
  g_assert_null (t);
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_SHAPE);
  g_clear_error (&error);

  /* No CUDA backend is ever loaded in the unit tests. */
  t = disco_tensor_new_on_device (DISCO_DEVICE_CUDA, 2, shape, &error);
  g_assert_null (t);
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_DEVICE);
  g_clear_error (&error);

  t = disco_tensor_new (2, shape);
  g_assert_false (disco_tensor_to_device (t, DISCO_DEVICE_CUDA, &error));
  g_assert_error (error, DISCO_ERROR, DISCO_ERROR_DEVICE);
  g_assert_cmpint (disco_tensor_get_device (t), ==, DISCO_DEVICE_CPU);
  g_assert_nonnull (disco_tensor_read_host (t, NULL));
  g_object_unref (t);
}

/* A fake device backend over host memory, to check the lazy copies. */
static guint copies_to_host, copies_to_device;

static gpointer
fake_alloc (gsize size, GError **error)
{
  return g_malloc0 (size);
}
static void
fake_free (gpointer p)
{
  g_free (p);
}
static gboolean
fake_to_host (gpointer host, gconstpointer dev, gsize size, GError **error)
{
  copies_to_host++;
  memcpy (host, dev, size);
  return TRUE;
}
static gboolean
fake_to_device (gpointer dev, gconstpointer host, gsize size, GError **error)
{
  copies_to_device++;
  memcpy (dev, host, size);
  return TRUE;
}
static gboolean
fake_on_device (gpointer dst, gconstpointer src, gsize size, GError **error)
{
  memcpy (dst, src, size);
  return TRUE;
}

static const DiscoBackend fake_backend = {
  .name = "fake",
  .alloc = fake_alloc,
  .free = fake_free,
  .copy_to_host = fake_to_host,
  .copy_to_device = fake_to_device,
  .copy_on_device = fake_on_device,
};

static void
test_tensor_device_copies_are_lazy (void)
{
  const gsize shape[] = { 4 };
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoTensor) t = NULL;
  float *device;
  float *host;

  g_test_summary ("A device tensor copies to the host only when the host reads stale data");
  disco_backend_register (DISCO_DEVICE_CUDA, &fake_backend);
  t = disco_tensor_new_on_device (DISCO_DEVICE_CUDA, 1, shape, &error);
  g_assert_no_error (error);
  copies_to_host = copies_to_device = 0;

  device = disco_tensor_write_device (t, &error);
  device[2] = 5.0f;
  g_assert_cmpuint (copies_to_host + copies_to_device, ==, 0);
  g_assert_cmpfloat (disco_tensor_get_value (t, 2), ==, 5.0f);
  g_assert_cmpuint (copies_to_host, ==, 1);
  g_assert_cmpfloat (disco_tensor_get_value (t, 2), ==, 5.0f);
  g_assert_cmpuint (copies_to_host, ==, 1);

  host = disco_tensor_write_host (t, &error);
  host[0] = 3.0f;
  g_assert_nonnull (disco_tensor_read_device (t, &error));
  g_assert_cmpuint (copies_to_device, ==, 1);
  g_assert_cmpfloat (((const float *) disco_tensor_read_device (t, NULL))[0], ==, 3.0f);

  g_assert_true (disco_tensor_to_device (t, DISCO_DEVICE_CPU, &error));
  g_assert_cmpfloat (disco_tensor_get_value (t, 0), ==, 3.0f);
  g_assert_cmpfloat (disco_tensor_get_value (t, 2), ==, 5.0f);
  disco_backend_register (DISCO_DEVICE_CUDA, NULL);
}

static void
test_tensor_npy_round_trip (void)
{
  const gsize shape[] = { 3, 5 };
  g_autoptr (GError) error = NULL;
  g_autoptr (DiscoTensor) t = disco_tensor_new (2, shape);
  g_autoptr (DiscoTensor) back = NULL;
  g_autofree char *dir = g_dir_make_tmp ("disco-npy-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "w.npy", NULL);
  g_autofree char *contents = NULL;
  float *values = disco_tensor_write_host (t, NULL);
  gsize length;

  g_test_summary ("A tensor saved as .npy reads back bit for bit, with a header numpy accepts");
  for (guint i = 0; i < 15; i++)
    values[i] = (float) i / 7.0f - 1.0f;
  g_assert_true (disco_tensor_save_npy (t, path, &error));
  g_assert_no_error (error);
  g_assert_true (g_file_get_contents (path, &contents, &length, NULL));
  /* magic, version 1.0, header padded to a multiple of 64 bytes, 15 floats */
  g_assert_cmpmem (contents, 8, "\x93NUMPY\x01\x00", 8);
  g_assert_cmpuint (length, ==, 128 + 15 * 4);
  g_assert_nonnull (strstr (contents + 10, "'shape': (3, 5), }"));
  back = disco_tensor_load_npy (path, &error);
  g_assert_no_error (error);
  g_assert_true (disco_tensor_has_shape (back, 2, shape));
  g_assert_cmpmem (disco_tensor_read_host (back, NULL), 60, values, 60);
  g_remove (path);
  g_rmdir (dir);
}

static void
test_tensor_npy_bad_files (void)
{
  static const struct
  {
    const char *what;
    const char *contents;
    gsize length;
  } cases[] = {
    { "not npy", "hello, world", 12 },
    { "float64",
      "\x93NUMPY\x01\x00\x3a\x00{'descr': '<f8', 'fortran_order': False, 'shape': (1,), }\n"
      "\0\0\0\0\0\0\0\0",
      10 + 58 + 8 },
    { "short data",
      "\x93NUMPY\x01\x00\x3a\x00{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }\n"
      "\0\0\0\0",
      10 + 58 + 4 },
    { "header past end", "\x93NUMPY\x01\x00\xff\x00{'descr'", 18 },
  };
  g_autofree char *dir = g_dir_make_tmp ("disco-npy-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "bad.npy", NULL);

  g_test_summary ("Malformed .npy files are DISCO_ERROR_DATA errors naming the file");
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr (GError) error = NULL;
      g_autoptr (DiscoTensor) t = NULL;

      g_assert_true (g_file_set_contents (path, cases[i].contents, cases[i].length, NULL));
      t = disco_tensor_load_npy (path, &error);
      g_assert_null (t);
      g_assert_error (error, DISCO_ERROR, DISCO_ERROR_DATA);
      g_assert_true (g_str_has_prefix (error->message, path));
    }
  {
    g_autoptr (GError) error = NULL;
    g_assert_null (disco_tensor_load_npy ("/nonexistent/w.npy", &error));
    g_assert_error (error, DISCO_ERROR, DISCO_ERROR_IO);
  }
  g_remove (path);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/disco/tensor/npy-round-trip", test_tensor_npy_round_trip);
  g_test_add_func ("/disco/tensor/npy-bad-files", test_tensor_npy_bad_files);
  g_test_add_func ("/disco/tensor/new", test_tensor_new);
  g_test_add_func ("/disco/tensor/data-round-trip", test_tensor_data_round_trip);
  g_test_add_func ("/disco/tensor/bad-inputs", test_tensor_bad_inputs);
  g_test_add_func ("/disco/tensor/device-copies-are-lazy", test_tensor_device_copies_are_lazy);
  return g_test_run ();
}
