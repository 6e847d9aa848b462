/* A small seeded PRNG (xorshift64) for tests that generate random cases:
 * the same seed gives the same cases on every machine, so a failure names
 * a seed that reproduces it. Not for anything but tests. */
#pragma once
#include <stdint.h>

typedef struct {
        uint64_t s;          /* never 0 */
} test_rng_t;

uint64_t test_rng_next(test_rng_t *r);

/* Uniform enough in [lo, hi] (inclusive), hi >= lo. */
int64_t test_rng_in(test_rng_t *r, int64_t lo, int64_t hi);
