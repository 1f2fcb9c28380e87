/* disco-feedback.c
 *
 * J_l = ∂y/∂u^E_l = W_out D_L W_L D_{L−1} ⋯ W_{l+1} D_l, D_k = diag(φ_E′(u^E_k)),
 * then Q_l = J_l diag(φ_I′(u^I_l)), normalised per sample (MODEL.md §4);
 * optionally averaged over the minibatch and clipped first, as the
 * reference's modify_fb_weights does.
 *
 * The Jacobians of all samples are stacked into one (B·O) × n_l matrix: the
 * weights are shared, so going down one layer is a single GEMM
 * (B·O × n_l)·(n_l × n_{l−1}) for the whole minibatch, followed by a
 * per-sample column scaling by D.
 */
#include "disco-feedback.h"

#include <math.h>
#include <string.h>

/* φ′ of the unit whose potential sits at u: φ_E′ for a microcircuit, φ′ for
 * a rate layer. */
static void
scale_columns_by_slope (const DiscoLayerSpec *spec, const float *state, gsize N,
                        gsize offset, gsize n_samples, gsize n_out, float *jacobian)
{
  for (gsize s = 0; s < n_samples; s++)
    {
      const float *u = state + s * N + offset;
      for (gsize j = 0; j < spec->n; j++)
        {
          float slope = disco_softrect_derivative (&spec->phi_e, u[j]);
          for (gsize o = 0; o < n_out; o++)
            jacobian[(s * n_out + o) * spec->n + j] *= slope;
        }
    }
}

/**
 * disco_feedback_compute:
 * @network: the network
 * @state: B × N open-loop states
 * @n_samples: B
 * @options: averaging, clipping and normalisation
 * @q: (array): one buffer of B × O × n_l floats per layer; filled for
 *   microcircuit layers, ignored (may be %NULL) for the others
 *
 * Computes the feedback weights of every microcircuit layer.
 */
void
disco_feedback_compute (DiscoNetwork *network, const float *state, gsize n_samples,
                        const DiscoFeedbackOptions *options, float *const *q)
{
  const guint n_layers = disco_network_get_n_layers (network);
  const DiscoLayerSpec *readout = disco_network_get_layer (network, n_layers - 1);
  const gsize N = disco_network_get_state_size (network);
  const gsize O = readout->n;
  const float *w_out = disco_tensor_read_host (readout->weight, NULL);
  gsize widest = 0;
  float *jacobian, *below;

  for (guint l = 0; l < n_layers; l++)
    widest = MAX (widest, disco_network_get_layer (network, l)->n);
  jacobian = g_new (float, n_samples * O * widest);
  below = g_new (float, n_samples * O * widest);

  if (n_layers >= 2)
    {
      /* J_L = W_out D_L */
      const guint top = n_layers - 2;
      const DiscoLayerSpec *spec = disco_network_get_layer (network, top);

      for (gsize s = 0; s < n_samples; s++)
        memcpy (jacobian + s * O * spec->n, w_out, O * spec->n * sizeof (float));
      scale_columns_by_slope (spec, state, N, disco_network_get_layer_offset (network, top),
                              n_samples, O, jacobian);
    }

  for (gint l = (gint) n_layers - 2; l >= 0; l--)
    {
      const DiscoLayerSpec *spec = disco_network_get_layer (network, l);
      const gsize n = spec->n, offset = disco_network_get_layer_offset (network, l);

      if (spec->kind == DISCO_LAYER_MICROCIRCUIT && q[l] != NULL)
        {
          float *ql = q[l];

          for (gsize s = 0; s < n_samples; s++)
            {
              const float *u_i = state + s * N + offset + n;
              for (gsize j = 0; j < n; j++)
                {
                  float slope = disco_softrect_derivative (&spec->phi_i, u_i[j]);
                  for (gsize o = 0; o < O; o++)
                    ql[(s * O + o) * n + j] = jacobian[(s * O + o) * n + j] * slope;
                }
            }
          if (options->average)
            {
              for (gsize i = 0; i < O * n; i++)
                {
                  double sum = 0;
                  for (gsize s = 0; s < n_samples; s++)
                    sum += ql[s * O * n + i];
                  for (gsize s = 0; s < n_samples; s++)
                    ql[s * O * n + i] = sum / n_samples;
                }
            }
          if (options->clip > 0)
            for (gsize i = 0; i < n_samples * O * n; i++)
              ql[i] = CLAMP (ql[i], -options->clip, options->clip);
          for (gsize s = 0; s < n_samples && options->norm > 0; s++)
            {
              float *qs = ql + s * O * n;
              double sum2 = 0;
              float scale;

              for (gsize i = 0; i < O * n; i++)
                sum2 += (double) qs[i] * qs[i];
              scale = sum2 > 0 ? options->norm / sqrt (sum2) : 0.0f;
              for (gsize i = 0; i < O * n; i++)
                qs[i] *= scale;
            }
        }
      if (l > 0)
        {
          /* J_{l−1} = J_l W_l D_{l−1}: one GEMM for every sample at once. */
          const DiscoLayerSpec *lower = disco_network_get_layer (network, l - 1);
          const float *w = disco_tensor_read_host (spec->weight, NULL);
          float *swap;

          disco_gemm_cpu (FALSE, FALSE, n_samples * O, lower->n, n, 1.0f, jacobian, n, w,
                          lower->n, 0.0f, below, lower->n);
          scale_columns_by_slope (lower, state, N,
                                  disco_network_get_layer_offset (network, l - 1), n_samples, O,
                                  below);
          swap = jacobian;
          jacobian = below;
          below = swap;
        }
    }
  g_free (jacobian);
  g_free (below);
}
