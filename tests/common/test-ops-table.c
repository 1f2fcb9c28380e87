/* test-ops-table.c */
#include "test-ops-table.h"
#include "disco-ops.h"
#include "disco-kernels-equilibrium.h"
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
      g_set_error (error, DISCO_ERROR, DISCO_ERROR_MEMORY,
                   "cannot allocate %" G_GSIZE_FORMAT " bytes for the test table", size);
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

/* The sample whose open-loop unit solves are made to fail, or −1. */
static gint failing_row = -1;

/* The host kernel; then, in an open loop's first pass (no control, cold
 * start), failing_row's status says the unit sweeps ran out. */
static void
failing_microcircuit_units (const DiscoSoftRectifier *phi_e, const DiscoSoftRectifier *phi_i,
                            gsize n_rows, gsize n, const guint *rows, float *state, gsize ld,
                            const float *drive, const guint *drive_rows, gsize n_out,
                            const double *control, const float *q, float *top_down,
                            const DiscoEquilibriumColdStart *cold, gboolean first, float *rate,
                            float *slope, float *inhibitory_slope, guint *iterations, gint *status)
{
  disco_ops_cpu ()->equilibrium_microcircuit_units (
      phi_e, phi_i, n_rows, n, rows, state, ld, drive, drive_rows, n_out, control, q, top_down,
      cold, first, rate, slope, inhibitory_slope, iterations, status);
  if (failing_row >= 0 && control == NULL && cold != NULL)
    for (gsize r = 0; r < n_rows; r++)
      if (rows[r] == (guint) failing_row)
        status[r] = DISCO_EQUILIBRIUM_ITERATION_LIMIT;
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
      table.equilibrium_microcircuit_units = failing_microcircuit_units;
    }
  return &table;
}

/* Registers the test table as the CUDA backend's (see the header). */
void
test_ops_table_install (void)
{
  backend = (DiscoBackend){
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

/* From now on, the open loop of sample @row (of every minibatch; −1: of
 * none) reports that its unit solves did not converge, so that the
 * integrator hands it to the ODE solver. */
void
test_ops_table_fail_open_loop (gint row)
{
  failing_row = row;
}

/* The copies made through the table or its backend so far. */
guint64
test_ops_table_get_transfers (void)
{
  return transfers;
}
