/*
 * rand.h -- xorshift64*: cheap pseudo-random numbers for spreading load
 * (probe jitter, backoff, weighted answers), not for anything secret.
 * The state must start non-zero.
 */
#ifndef GSLBD_RAND_H
#define GSLBD_RAND_H

#include <stdint.h>

static inline uint64_t rand_next(uint64_t *state)
{
	uint64_t x = *state;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*state = x;
	return x * 0x2545F4914F6CDD1DULL;
}

#endif
