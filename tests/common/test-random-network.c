/* test-random-network.c: see test-random-network.h. */
#include "test-random-network.h"

#include <math.h>

/* A standard normal (Box–Muller) from the seeded generator. */
static double
normal (GRand *rand)
{
  const double u = g_rand_double_range (rand, 1e-12, 1.0), v = g_rand_double (rand);

  return sqrt (-2.0 * log (u)) * cos (2.0 * G_PI * v);
}

/* Each layer's offset in a sample's state and the state size, from the
 * layers' kinds (as disco_ops_network_new() lays them out). */
static void
lay_out_states (TestRandomNetwork *net)
{
  net->state_size = 0;
  for (guint l = 0; l < net->n_layers; l++)
    {
      net->offsets[l] = net->state_size;
      net->state_size += net->layers[l].kind == DISCO_OPS_LAYER_MICROCIRCUIT ? 2 * net->layers[l].n
                                                                             : net->layers[l].n;
    }
}

/* Sizes F–n_1–…–n_out: microcircuit layers with LeCun-normal weights (std
 * 1/√fan_in, as the microcircuit node initialises them) and small biases,
 * then a linear readout; softplus, τ_E 20 ms, τ_I 5 ms (MODEL.md §2).
 * Inputs are MNIST-like: about a fifth of the pixels lit, uniform in
 * [0, brightness], the brightness growing linearly from @brightness_first
 * (sample 0) to @brightness_last (sample B − 1), so that the samples can
 * be made to settle after different numbers of steps. */
TestRandomNetwork *
test_random_network_new (guint32 seed, const gsize *sizes, guint n_sizes, gsize n_samples,
                         double brightness_first, double brightness_last)
{
  GRand *rand = g_rand_new_with_seed (seed);
  TestRandomNetwork *net = g_new0 (TestRandomNetwork, 1);

  g_assert_cmpuint (n_sizes, >=, 2);
  g_assert_cmpuint (n_sizes - 1, <=, TEST_RANDOM_NETWORK_MAX_LAYERS);
  net->n_layers = n_sizes - 1;
  net->n_in = sizes[0];
  net->n_samples = n_samples;
  for (guint l = 0; l < net->n_layers; l++)
    {
      const gsize n_in = sizes[l], n = sizes[l + 1];
      const gboolean readout = l + 1 == net->n_layers;

      net->weights[l] = g_new (float, n *n_in);
      for (gsize i = 0; i < n * n_in; i++)
        net->weights[l][i] = (float) (normal (rand) / sqrt ((double) n_in));
      if (!readout)
        {
          net->biases[l] = g_new (float, n);
          for (gsize i = 0; i < n; i++)
            net->biases[l][i] = (float) g_rand_double_range (rand, -0.1, 0.1);
        }
      net->layers[l] = (DiscoOpsLayer){
        .kind = readout ? DISCO_OPS_LAYER_READOUT : DISCO_OPS_LAYER_MICROCIRCUIT,
        .n = n,
        .n_in = n_in,
        .weight = net->weights[l],
        .bias = net->biases[l],
        .phi_e = DISCO_SOFT_RECTIFIER_SOFTPLUS,
        .phi_i = DISCO_SOFT_RECTIFIER_SOFTPLUS,
        .tau_e = 20e-3f,
        .tau_i = 5e-3f,
      };
    }
  lay_out_states (net);

  net->x = g_new (float, n_samples * net->n_in);
  for (gsize s = 0; s < n_samples; s++)
    {
      const double brightness =
          n_samples > 1 ? brightness_first
                              + (brightness_last - brightness_first) * s / (double) (n_samples - 1)
                        : brightness_first;

      for (gsize i = 0; i < net->n_in; i++)
        net->x[s * net->n_in + i] =
            g_rand_double (rand) < 0.2 ? (float) (brightness * g_rand_double (rand)) : 0.0f;
    }
  g_rand_free (rand);
  return net;
}

void
test_random_network_free (TestRandomNetwork *net)
{
  if (net == NULL)
    return;
  for (guint l = 0; l < net->n_layers; l++)
    {
      g_free (net->weights[l]);
      g_free (net->biases[l]);
    }
  g_free (net->x);
  g_free (net);
}

/* Makes hidden layer @layer a rate layer (the backprop baseline's, state u
 * only) with the same weights, bias and φ_E, and lays the states out again;
 * the random draws, so the parameters and inputs, stay those of the seed. */
void
test_random_network_make_rate (TestRandomNetwork *net, guint layer)
{
  g_assert_cmpuint (layer + 1, <, net->n_layers);
  net->layers[layer].kind = DISCO_OPS_LAYER_RATE;
  lay_out_states (net);
}
