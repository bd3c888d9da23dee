/* cookie.c -- DNS cookies, RFC 7873 and RFC 9018 (cookie.h). */
#include "config.h"

#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "config/model.h"
#include "lib/log.h"
#include "lib/siphash.h"
#include "server/cookie.h"

void cookie_make(const uint8_t secret[COOKIE_SECRET_LEN],
		 const uint8_t client[COOKIE_CLIENT_LEN],
		 const uint8_t head[4], uint32_t ts, const uint8_t *ip,
		 size_t iplen, uint8_t out[COOKIE_SERVER_LEN])
{
	uint8_t in[COOKIE_CLIENT_LEN + 8 + 16];

	memcpy(in, client, COOKIE_CLIENT_LEN);
	memcpy(in + 8, head, 4);
	in[12] = (uint8_t)(ts >> 24);
	in[13] = (uint8_t)(ts >> 16);
	in[14] = (uint8_t)(ts >> 8);
	in[15] = (uint8_t)ts;
	if (iplen)
		memcpy(in + 16, ip, iplen);
	uint64_t h = siphash24(secret, in, 16 + iplen);
	memcpy(out, in + 8, 8);
	for (int i = 0; i < 8; i++)
		out[8 + i] = (uint8_t)(h >> (8 * i));
}

/* The client address as RFC 9018 hashes it: 4 bytes for IPv4 (also
 * when a dual-stack socket shows it v4-mapped, so that an instance with
 * an IPv4 socket computes the same cookie), 16 for IPv6. */
static const uint8_t *client_ip(const struct sockaddr *from, size_t *len)
{
	*len = 0;
	if (!from)
		return NULL;
	if (from->sa_family == AF_INET) {
		*len = 4;
		return (const uint8_t *)
			&((const struct sockaddr_in *)from)->sin_addr;
	}
	if (from->sa_family == AF_INET6) {
		const struct in6_addr *a =
			&((const struct sockaddr_in6 *)from)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a)) {
			*len = 4;
			return a->s6_addr + 12;
		}
		*len = 16;
		return a->s6_addr;
	}
	return NULL;
}

static bool cookie_ok(const uint8_t *secret, const uint8_t *client,
		      const uint8_t *sc, const uint8_t *ip, size_t iplen)
{
	uint8_t want[COOKIE_SERVER_LEN];
	uint32_t ts = (uint32_t)sc[4] << 24 | (uint32_t)sc[5] << 16 |
		      (uint32_t)sc[6] << 8 | sc[7];

	cookie_make(secret, client, sc, ts, ip, iplen, want);
	/* A timing difference tells an off-path attacker nothing it could
	 * use (the hash covers its own address), but compare it all
	 * anyway. */
	uint8_t d = 0;
	for (int i = 8; i < COOKIE_SERVER_LEN; i++)
		d |= (uint8_t)(want[i] ^ sc[i]);
	return d == 0;
}

enum cookie_state cookie_answer(const struct cookie_keys *k,
				const uint8_t *cookie, size_t len,
				const struct sockaddr *from, uint32_t now,
				uint8_t out[COOKIE_SERVER_LEN])
{
	static const uint8_t v1[4] = { 1, 0, 0, 0 };
	const uint8_t *sc = cookie + COOKIE_CLIENT_LEN;
	enum cookie_state st = COOKIE_CLIENT;
	size_t iplen;
	const uint8_t *ip = client_ip(from, &iplen);

	if (len == COOKIE_CLIENT_LEN + COOKIE_SERVER_LEN && sc[0] == 1) {
		uint32_t ts = (uint32_t)sc[4] << 24 | (uint32_t)sc[5] << 16 |
			      (uint32_t)sc[6] << 8 | sc[7];
		/* Serial arithmetic: the timestamp wraps in 2106. */
		int32_t age = (int32_t)(now - ts);
		if (age <= COOKIE_MAX_AGE && age >= -COOKIE_MAX_AHEAD) {
			if (cookie_ok(k->secret, cookie, sc, ip, iplen)) {
				if (age >= 0 && age <= COOKIE_REUSE_AGE &&
				    !memcmp(sc, v1, 4)) {
					memcpy(out, sc, COOKIE_SERVER_LEN);
					return COOKIE_VALID;
				}
				st = COOKIE_VALID;
			} else if (k->has_prev &&
				   cookie_ok(k->prev, cookie, sc, ip, iplen)) {
				st = COOKIE_VALID;
			}
		}
	}
	cookie_make(k->secret, cookie, v1, now, ip, iplen, out);
	return st;
}

static uint8_t random_secret[COOKIE_SECRET_LEN];
static pthread_once_t random_once = PTHREAD_ONCE_INIT;

static void random_init(void)
{
	size_t got = 0;

	while (got < sizeof(random_secret)) {
		ssize_t r = getrandom(random_secret + got,
				      sizeof(random_secret) - got, 0);
		if (r > 0) {
			got += (size_t)r;
		} else {
			/* No kernel randomness means no secret worth the
			 * name; a guessable one would let anyone mint
			 * cookies that bypass rate limiting. */
			log_err("cannot draw a random cookie secret");
			abort();
		}
	}
}

void cookie_keys_build(struct cookie_keys *k, const struct model_cookies *m)
{
	memset(k, 0, sizeof(*k));
	k->on = m->enabled;
	if (m->has_secret) {
		memcpy(k->secret, m->secret, COOKIE_SECRET_LEN);
	} else {
		pthread_once(&random_once, random_init);
		memcpy(k->secret, random_secret, COOKIE_SECRET_LEN);
	}
	if (m->has_previous) {
		memcpy(k->prev, m->previous, COOKIE_SECRET_LEN);
		k->has_prev = true;
	}
}
