/* test-ops-table.c */
#include "test-ops-table.h"
#include "disco-ops.h"
#include <disco/disco-backend.h>

#include <string.h>

/* Uploads, downloads and copies through the table or the backend. */
static guint64 transfers;

static gpointer
separate_alloc (gsize size, GError **error)
{
  gpointer buffer = g_try_malloc (MAX (size, 1));

  if (buffer == NULL)
    {
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_MEMORY, "cannot allocate %" G_GSIZE_FORMAT
                   " bytes for the test table", size);
      return NULL;
    }
  /* All bits set: NaN as a float, a huge index as an integer. */
  memset (buffer, 0xff, MAX (size, 1));
  return buffer;
}

static void
separate_free (gpointer buffer)
{
  g_free (buffer);
}

static gboolean
separate_copy (gpointer dst, gconstpointer src, gsize size, GError **error G_GNUC_UNUSED)
{
  transfers++;
  if (size > 0)
    memmove (dst, src, size);
  return TRUE;
}

static gboolean
separate_synchronize (GError **error G_GNUC_UNUSED)
{
  return TRUE;
}

static char *
separate_describe (void)
{
  return g_strdup ("test table (host memory, separate buffers)");
}

static DiscoOps table;
static DiscoBackend backend;

/**
 * test_ops_table:
 *
 * Returns: (transfer none): the host table's kernels under the name
 *   "test-separate", with its own memory functions (see the header)
 */
const DiscoOps *
test_ops_table (void)
{
  if (table.name == NULL)
    {
      table = *disco_ops_cpu ();
      table.name = "test-separate";
      table.alloc = separate_alloc;
      table.free = separate_free;
      table.upload = separate_copy;
      table.download = separate_copy;
      table.copy = separate_copy;
    }
  return &table;
}

/* Registers the test table as the CUDA backend's (see the header). */
void
test_ops_table_install (void)
{
  backend = (DiscoBackend) {
    .name = "test-separate",
    .describe = separate_describe,
    .alloc = separate_alloc,
    .free = separate_free,
    .copy_to_host = separate_copy,
    .copy_to_device = separate_copy,
    .copy_on_device = separate_copy,
    .synchronize = separate_synchronize,
    .ops = test_ops_table (),
  };
  disco_backend_register (DISCO_DEVICE_CUDA, &backend);
}

void
test_ops_table_uninstall (void)
{
  disco_backend_register (DISCO_DEVICE_CUDA, NULL);
}

/* The copies made through the table or its backend so far. */
guint64
test_ops_table_get_transfers (void)
{
  return transfers;
}
