/*
 * siphash.h -- SipHash-2-4 (Aumasson and Bernstein), the keyed hash RFC
 * 9018 uses for DNS server cookies.  Hand-written rather than OpenSSL's
 * EVP_MAC because it runs once or twice per query carrying a cookie, and
 * an EVP_MAC context costs a parameter lookup and a key schedule per
 * call; tests/unit/test_cookie.c checks it against the reference vectors
 * and against OpenSSL.
 */
#ifndef GSLBD_SIPHASH_H
#define GSLBD_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

#define SIPHASH_KEY_LEN 16

/* The 64-bit tag of in[0..len) under key; its 8 output bytes, as the
 * reference implementation writes them, are this value little-endian. */
uint64_t siphash24(const uint8_t key[SIPHASH_KEY_LEN], const void *in,
		   size_t len);

#endif
