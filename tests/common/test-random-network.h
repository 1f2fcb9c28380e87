/* test-random-network.h: a seeded random microcircuit network and inputs
 * for the lockstep solver's tests and benchmark (disco-ops-network.h); a
 * hidden layer can be turned into a rate layer. */
#pragma once

#include <glib.h>

#include "disco-ops-network.h"

G_BEGIN_DECLS

#define TEST_RANDOM_NETWORK_MAX_LAYERS 8

/* Layers (host arrays) ready for disco_ops_network_new(), and B × F inputs;
 * offsets[l] is layer l's place in a sample's state of state_size floats. */
typedef struct
{
  guint n_layers;
  DiscoOpsLayer layers[TEST_RANDOM_NETWORK_MAX_LAYERS];
  float *weights[TEST_RANDOM_NETWORK_MAX_LAYERS];
  float *biases[TEST_RANDOM_NETWORK_MAX_LAYERS];
  gsize offsets[TEST_RANDOM_NETWORK_MAX_LAYERS];
  gsize n_in;
  gsize n_samples;
  gsize state_size;
  float *x;
} TestRandomNetwork;

TestRandomNetwork *test_random_network_new (guint32 seed, const gsize *sizes, guint n_sizes,
                                            gsize n_samples, double brightness_first,
                                            double brightness_last);

void test_random_network_free (TestRandomNetwork *network);

void test_random_network_make_rate (TestRandomNetwork *network, guint layer);

G_END_DECLS
