/* disco-ops.h: one table of operations over buffers of one memory space.
 *
 * SECTION:disco-ops
 * @title: Operations tables
 * @short_description: the kernels of disco-kernels.h behind function
 *   pointers, so that one orchestration runs on the CPU and on CUDA
 *
 * A #DiscoOps is a table of plain-C function pointers over buffers that
 * live in one memory space: host memory for disco_ops_cpu(), device memory
 * for disco_ops_cuda() (libdisco-kernels-cuda, when the CUDA backend is
 * built).  Code written against the table (the lockstep solver,
 * disco-ode-batched.h; the network right-hand side, disco-ops-network.h)
 * never dereferences a buffer: it allocates, offsets into, and hands
 * buffers to the table's operations, and moves data across only through
 * @upload and @download.  So the same lines drive both backends, and the
 * CPU table, which runs everywhere, tests the orchestration that the CUDA
 * table runs on a GPU.
 *
 * Buffers are typed pointers (float *, gint *, #DiscoOdeClock *) rather
 * than handles, so that a layer's block of a wider matrix is plain pointer
 * arithmetic, as in the kernels.  Each compute operation is one entry of
 * disco-ops-list.h, which declares its slot here, its `disco_<op>_cpu`
 * and its `disco_<op>_cuda` with one signature and documents its
 * contract; small parameter arrays (a tableau's weights, the array of
 * stage pointers, the rectifier) stay on the host for both tables, as the
 * CUDA kernels take them.
 *
 * Work may be queued asynchronously (CUDA runs it on the default stream, in
 * order); operations return void like the kernels and record a failure,
 * which @check or @synchronize reports.  @download waits for all work
 * queued before it.  Nothing else makes a host round trip.
 *
 * Shape legend: as disco-kernels.h (R rows, C columns, ld* row strides,
 * S stages) and disco-ode-clock.h (B clocks).
 */

#pragma once

#include <glib.h>

#include "disco-kernels.h"
#include "disco-kernels-equilibrium.h"
#include "disco-ode-clock.h"
#include "disco-ode-lockstep.h"
#include "disco-ops-list.h"

G_BEGIN_DECLS

/**
 * DiscoOps:
 * @name: "cpu" or "cuda", for messages and benchmarks
 * @alloc: @size bytes (> 0) in the table's memory space, uninitialised;
 *   %NULL with the error set when it fails
 * @free: releases a buffer of @alloc (%NULL is allowed)
 * @upload: copies @size bytes from host memory into a buffer
 * @download: copies @size bytes from a buffer to host memory, after all
 *   queued work: the one synchronising copy
 * @copy: copies @size bytes between two buffers (queued)
 * @synchronize: waits for all queued work, then reports as @check
 * @check: reports (and clears) the first failure recorded since the last
 *   check, without waiting
 * @fill: the compute operations, one slot per entry of DISCO_OPS_LIST
 *   (disco-ops-list.h, which documents each), from @fill to
 *   @equilibrium_newton in the list's order
 * @get_operation_count: the compute operations this table has run or
 *   queued so far, from every thread (memory copies not included): on CUDA
 *   its kernel launches and cuBLAS calls (an operation launches one or
 *   two), so the count per minibatch measures the launch overhead a solve
 *   pays; the host table counts the same calls, one each
 *
 * The operations of one memory space.  Tables are static and never freed.
 */
typedef struct _DiscoOps DiscoOps;

struct _DiscoOps
{
  const char *name;

  /* Memory */
  gpointer (*alloc) (gsize size, GError **error);
  void (*free) (gpointer buffer);
  gboolean (*upload) (gpointer dst, gconstpointer host_src, gsize size, GError **error);
  gboolean (*download) (gpointer host_dst, gconstpointer src, gsize size, GError **error);
  gboolean (*copy) (gpointer dst, gconstpointer src, gsize size, GError **error);
  gboolean (*synchronize) (GError **error);
  gboolean (*check) (GError **error);

  /* fill, gemm, …, equilibrium_newton: void (*name) (parameters) */
  DISCO_OPS_LIST (DISCO_OPS_SLOT)

  guint64 (*get_operation_count) (void);

  /*< private >*/
  gpointer padding[4];
};

const DiscoOps *disco_ops_cpu (void);

/* In libdisco-kernels-cuda (disco-ops-cuda.c), declared here so that code
 * written against the table names both; link that library to call it. */
const DiscoOps *disco_ops_cuda (void);

G_END_DECLS
