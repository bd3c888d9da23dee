/*
 * prefix.h -- whether two addresses agree on their first bits: the one
 * prefix test, for the config model, the snapshot compiler and the query
 * path.  Inline because answer.c runs it per topology rule per query.
 */
#ifndef GSLBD_PREFIX_H
#define GSLBD_PREFIX_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

/* a and b (network byte order, at least (bits + 7) / 8 bytes each) are
 * equal in their first bits bits. */
static inline bool prefix_match(const uint8_t *a, const uint8_t *b,
				unsigned bits)
{
	unsigned bytes = bits / 8, rem = bits % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	return !rem || !((a[bytes] ^ b[bytes]) & (0xffu << (8 - rem)));
}

#endif
