/* disco-ops-cpu.c: the operations table of host memory (disco-ops.h).
 *
 * Buffers are g_malloc'd; every operation calls the CPU kernel its entry of
 * disco-ops-list.h names, the fast variant where one exists with the same
 * bits (rk_combine, the steady-state test) or within 4 ulp (φ in softrect
 * and microcircuit): the CPU's arithmetic, for every node that computes
 * through a table.  Everything runs synchronously, so
 * @synchronize and @check have nothing to report.  Each compute entry
 * counts its calls (@get_operation_count): the number of kernel launches
 * the same work makes on CUDA, measured on any machine.
 */

#undef G_LOG_DOMAIN
#define G_LOG_DOMAIN "Disco-Kernels"

#include "disco-ops.h"
#include "disco-parallel.h"

#include <string.h>

static gpointer
cpu_alloc (gsize size, GError **error)
{
  gpointer buffer = g_try_malloc (MAX (size, 1));

  if (buffer == NULL)
    g_set_error (error, DISCO_KERNELS_ERROR, DISCO_ERROR_MEMORY,
                 "cannot allocate %" G_GSIZE_FORMAT " bytes of host memory", size);
  return buffer;
}

static gboolean
cpu_copy (gpointer dst, gconstpointer src, gsize size, GError **error G_GNUC_UNUSED)
{
  if (size > 0)
    memcpy (dst, src, size);
  return TRUE;
}

static gboolean
cpu_nothing_pending (GError **error G_GNUC_UNUSED)
{
  return TRUE;
}

/* The compute operations run so far (get_operation_count): each entry of
 * the table below counts itself, then calls its kernel. */
static guint64 operation_count;

static guint64
cpu_get_operation_count (void)
{
  return __atomic_load_n (&operation_count, __ATOMIC_RELAXED);
}

typedef struct
{
  gsize n_rows, n_cols, ldf, ldy, n_pieces;
  float atol, rtol;
  const float *f, *y;
  gint *at_rest;
} SteadyStateJob;

static void
steady_state_piece (gsize piece, gpointer data)
{
  enum
  {
    BLOCK = 64
  };
  const SteadyStateJob *job = data;
  const gsize last = DISCO_PARALLEL_PIECE_LAST (piece, job->n_pieces, job->n_rows);
  float rms_f[BLOCK], rms_y[BLOCK];

  for (gsize first = DISCO_PARALLEL_PIECE_FIRST (piece, job->n_pieces, job->n_rows); first < last;
       first += BLOCK)
    {
      const gsize rows = MIN (BLOCK, last - first);

      disco_rms_rows_fast_cpu (rows, job->n_cols, job->f + first * job->ldf, job->ldf, rms_f);
      disco_rms_rows_fast_cpu (rows, job->n_cols, job->y + first * job->ldy, job->ldy, rms_y);
      for (gsize r = 0; r < rows; r++)
        job->at_rest[first + r] = rms_f[r] < job->atol + job->rtol * rms_y[r];
    }
}

/* disco_steady_state_rows_cpu() with the row norms of
 * disco_rms_rows_fast_cpu() (four rows side by side, the same bits), in
 * blocks of rows on disco-parallel's threads: the compacting solver's test
 * after every step.  Named as a fast kernel so that its list entry can say
 * `fast_cpu`; only this table calls it. */
static void
disco_steady_state_rows_fast_cpu (gsize n_rows, gsize n_cols, float atol, float rtol,
                                  const float *f, gsize ldf, const float *y, gsize ldy,
                                  gint *at_rest)
{
  SteadyStateJob job = { n_rows, n_cols, ldf, ldy, 1, atol, rtol, f, y, at_rest };

  g_return_if_fail (n_rows == 0 || (n_cols > 0 && at_rest != NULL));
  if (n_rows == 0)
    return;

  job.n_pieces =
      disco_parallel_pieces (n_rows, 65536 / (2 * n_cols) + 1, DISCO_PARALLEL_MAX_PIECES);
  disco_parallel_run (job.n_pieces, steady_state_piece, &job);
}

/* Each compute entry counts itself, then calls the CPU kernel its list
 * entry names: disco_<name>_cpu, or disco_<name>_fast_cpu. */
#define COUNTED(name, cpu_kernel, params, args)                                                    \
  static void counted_##name params                                                                \
  {                                                                                                \
    __atomic_fetch_add (&operation_count, 1, __ATOMIC_RELAXED);                                    \
    disco_##name##_##cpu_kernel args;                                                              \
  }

DISCO_OPS_LIST (COUNTED)

#define CPU_SLOT(name, cpu_kernel, params, args) .name = counted_##name,

static const DiscoOps cpu_ops = {
  .name = "cpu",
  .alloc = cpu_alloc,
  .free = g_free,
  .upload = cpu_copy,
  .download = cpu_copy,
  .copy = cpu_copy,
  .synchronize = cpu_nothing_pending,
  .check = cpu_nothing_pending,
  DISCO_OPS_LIST (CPU_SLOT).get_operation_count = cpu_get_operation_count,
};

/**
 * disco_ops_cpu:
 *
 * Returns: (transfer none): the operations table of host memory, the CPU
 *   kernels of disco-kernels.h
 */
const DiscoOps *
disco_ops_cpu (void)
{
  return &cpu_ops;
}
