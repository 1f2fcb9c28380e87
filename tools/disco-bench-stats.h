/* disco-bench-stats.h: the order statistics the benchmark tools print */
#pragma once

#include <glib.h>

/* qsort()/g_array_sort() order of doubles. */
static inline int
disco_bench_compare_doubles (gconstpointer a, gconstpointer b)
{
  double x = *(const double *) a, y = *(const double *) b;

  return (x > y) - (x < y);
}

/* The upper median of @values (seconds), in milliseconds; sorts @values. */
static inline double
disco_bench_median_ms (GArray *values)
{
  if (values->len == 0)
    return 0;
  g_array_sort (values, disco_bench_compare_doubles);
  return 1e3 * g_array_index (values, double, values->len / 2);
}
