/* A small deterministic generator (xorshift64) for the randomised
 * differential tests: the same seed gives the same inputs on every run and
 * machine, so a failure can be reproduced. Include once, in the test's .c
 * file, and seed it with rng_state = <non-zero>. */
#ifndef TA_TEST_RNG_H
#define TA_TEST_RNG_H

#include <stdint.h>

static uint64_t rng_state = 0x9e3779b97f4a7c15u;

static inline uint64_t rng_next(void)
{
  rng_state ^= rng_state << 13;
  rng_state ^= rng_state >> 7;
  rng_state ^= rng_state << 17;
  return rng_state;
}

/* Uniform enough below n (n far below 2^64). */
static inline unsigned rng_below(unsigned n)
{
  return (unsigned)(rng_next() % n);
}

#endif
