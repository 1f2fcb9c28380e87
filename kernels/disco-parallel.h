/* disco-parallel.h: the CPU operations table's threads (disco-ops-cpu.c).
 *
 * One process-wide team of worker threads runs the pieces of one operation
 * at a time beside the thread that asked.  How an operation is cut into
 * pieces depends on its shape only, never on the number of threads, and
 * every piece writes its own outputs with the arithmetic it would have
 * alone: results are the same bits with any thread count.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * DiscoParallelFunc:
 * @piece: the piece to run, 0 … n_pieces − 1
 * @data: the caller's data
 *
 * One piece of a disco_parallel_run() job.
 */
typedef void (*DiscoParallelFunc) (gsize piece, gpointer data);

/**
 * DISCO_PARALLEL_MAX_THREADS:
 *
 * The most threads disco_parallel_set_threads() accepts.
 */
#define DISCO_PARALLEL_MAX_THREADS 256

/**
 * DISCO_PARALLEL_MAX_PIECES:
 *
 * The most pieces the CPU kernels cut one operation into (enough for 16
 * threads; more would cost more in hand-offs than they save).
 */
#define DISCO_PARALLEL_MAX_PIECES 16

/**
 * DISCO_PARALLEL_PIECE_FIRST:
 * @piece: a piece, 0 … @n_pieces − 1
 * @n_pieces: the pieces of the job
 * @n: the items (rows, columns, values) the job covers
 *
 * The first item of @piece when @n items are shared among @n_pieces as
 * evenly as whole items allow; DISCO_PARALLEL_PIECE_LAST() is one past its
 * last, and the next piece's first.
 */
#define DISCO_PARALLEL_PIECE_FIRST(piece, n_pieces, n) ((n) * (piece) / (n_pieces))
#define DISCO_PARALLEL_PIECE_LAST(piece, n_pieces, n) ((n) * ((piece) + 1) / (n_pieces))

guint disco_parallel_get_threads (void);
void disco_parallel_set_threads (guint n_threads);
void disco_parallel_run (gsize n_pieces, DiscoParallelFunc func, gpointer data);
gboolean disco_parallel_in_job (void);
guint disco_parallel_pieces (gsize n_items, gsize min_items, guint max_pieces);

G_END_DECLS
