/*
 * cookie.h -- DNS cookies (RFC 7873) with interoperable server cookies
 * (RFC 9018): version 1, three reserved bytes, a timestamp and a
 * SipHash-2-4 over the client cookie, those eight bytes and the client's
 * address, keyed with a 128-bit secret.  Every instance configured with
 * the same secret accepts the others' cookies.
 *
 * The query path calls cookie_answer() (no allocation, no locks); the
 * keys live in the snapshot, filled on the control plane by
 * cookie_keys_build().
 */
#ifndef GSLBD_COOKIE_H
#define GSLBD_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define COOKIE_CLIENT_LEN 8
#define COOKIE_SERVER_LEN 16 /* the one RFC 9018 server cookie size */
#define COOKIE_SECRET_LEN 16
#define COOKIE_REUSE_AGE  1800 /* RFC 9018 4.3: renew after half an hour */
#define COOKIE_MAX_AGE    3600 /* ... and accept for an hour */
#define COOKIE_MAX_AHEAD  300  /* ... or five minutes into the future */

struct cookie_keys {
	bool on;
	bool has_prev;
	uint8_t secret[COOKIE_SECRET_LEN];
	uint8_t prev[COOKIE_SECRET_LEN]; /* still accepted: rotation */
};

enum cookie_state {
	COOKIE_NONE = 0, /* the query had no COOKIE option */
	COOKIE_CLIENT,   /* a client cookie only, or a server cookie that is
			    not ours, not this client's, or too old */
	COOKIE_VALID,    /* a server cookie we made for this client */
};

/* The query's COOKIE option payload cookie[0..len) (8, or 16..40 bytes:
 * wire.c refuses other lengths) from `from` at unix time now.  Writes
 * the server cookie for the response to out: the one received when it is
 * valid under the current secret and young (RFC 9018 4.3), else a fresh
 * one. */
enum cookie_state cookie_answer(const struct cookie_keys *k,
				const uint8_t *cookie, size_t len,
				const struct sockaddr *from, uint32_t now,
				uint8_t out[COOKIE_SERVER_LEN]);

/* The RFC 9018 server cookie: head is its version and reserved bytes as
 * they go into the hash, ip the client address (4 or 16 bytes). */
void cookie_make(const uint8_t secret[COOKIE_SECRET_LEN],
		 const uint8_t client[COOKIE_CLIENT_LEN],
		 const uint8_t head[4], uint32_t ts, const uint8_t *ip,
		 size_t iplen, uint8_t out[COOKIE_SERVER_LEN]);

/* Control plane: the keys the config gives (model.h), or, for a config
 * without a secret, one drawn at random once per process, so a reload
 * does not invalidate the cookies clients hold. */
struct model_cookies;
void cookie_keys_build(struct cookie_keys *k, const struct model_cookies *m);

#endif
