/* disco-node-util.h: small helpers the node files share
 *
 * The index of a row's largest value (predictions, the softmax's shift) and
 * the writing of a figure into the run's output folder.
 */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

/* The index of the largest of the @n (≥ 1) values of @v; the first on a tie. */
static inline guint
disco_node_util_argmax (const float *v, gsize n)
{
  guint best = 0;

  for (gsize i = 1; i < n; i++)
    if (v[i] > v[best])
      best = i;
  return best;
}

/* Writes @data atomically to @relative in the output folder of @node's
 * pipeline (disco_pipeline_build_output_path()), creating its folders;
 * FALSE with @error set when it cannot. */
static inline gboolean
disco_node_util_write_output (DiscoNode *node, const char *relative, GBytes *data, GError **error)
{
  g_autofree char *path =
      disco_pipeline_build_output_path (disco_node_get_pipeline (node), relative, error);

  return path != NULL
         && disco_write_file_atomically (path, g_bytes_get_data (data, NULL),
                                         g_bytes_get_size (data), error);
}

G_END_DECLS
