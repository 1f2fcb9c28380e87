/* test-random-source.h: a source of fixed random inputs for the tests
 *
 * Node type "test-random-source": emits `ticks` ticks of a rows × cols
 * tensor of uniform values in [0, amplitude); row r always holds the same
 * values (seeded by r), and `only-row = r` emits just that row. Output
 * `targets` holds soft one-hot targets (0.99) of class r mod `classes`;
 * every tick is in `phase`.
 */
#pragma once

#include <disco/disco.h>

G_BEGIN_DECLS

#define TEST_TYPE_RANDOM_SOURCE (test_random_source_get_type ())
G_DECLARE_FINAL_TYPE (TestRandomSource, test_random_source, TEST, RANDOM_SOURCE, DiscoNode)

G_END_DECLS
