/* disco-sweep-report.h: tables and curves over the runs of a sweep
 *
 * Plain C, no GObject type; compiled into disco-sweep and its test.
 */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/**
 * DiscoSweepReportCounts:
 * @finished: runs that finished with a readable results.json holding epochs
 * @failed: runs that failed, and finished runs whose results.json is
 *   missing, unreadable or without epochs
 * @stopped: runs stopped before they finished
 * @running: runs still running
 * @pending: runs not started
 * @total: all runs found (the sum of the above)
 *
 * How many runs of a sweep are in each state, as the report counts them.
 */
typedef struct
{
  guint finished;
  guint failed;
  guint stopped;
  guint running;
  guint pending;
  guint total;
} DiscoSweepReportCounts;

gboolean disco_sweep_report_write (const char *dir, DiscoSweepReportCounts *counts, GError **error);

G_END_DECLS
