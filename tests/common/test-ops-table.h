/* test-ops-table.h: a second operations table over host memory, so that
 * the device branches of the nodes (`ops != disco_ops_cpu ()`) run and are
 * checked without a GPU.
 *
 * test_ops_table() is a copy of disco_ops_cpu()'s table under its own name:
 * every kernel is the host one (its buffers are host memory), so the
 * arithmetic is the host table's, bit for bit, but code that compares the
 * table with disco_ops_cpu() takes its device branch.  Its memory functions
 * keep their own buffers: a fresh allocation is filled with NaN (so a
 * branch that reads memory it never wrote shows in its results), and
 * uploads, downloads and copies are counted.  test_ops_table_fail_open_loop()
 * makes one sample's open-loop unit solves report failure (its only
 * kernel that differs: a fault injected after the host kernel), to force
 * the integrator's open-loop fallback.
 *
 * test_ops_table_install() registers a backend for %DISCO_DEVICE_CUDA
 * whose table is test_ops_table() and whose memory is that same host
 * memory: a pipeline with `device = cuda` then computes every node on the
 * test table, and its tensors keep a separate "device" copy that the
 * engine synchronises as on a GPU.  test_ops_table_uninstall() removes it.
 */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

typedef struct _DiscoOps DiscoOps;

const DiscoOps *test_ops_table (void);
void test_ops_table_install (void);
void test_ops_table_uninstall (void);
guint64 test_ops_table_get_transfers (void);
void test_ops_table_fail_open_loop (gint row);

G_END_DECLS
