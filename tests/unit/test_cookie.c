/* test_cookie.c -- DNS cookies: SipHash-2-4 against its reference vectors
 * and OpenSSL, server cookies against RFC 9018 Appendix A, the validity
 * window, rotation, and the COOKIE option lengths RFC 7873 allows. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "config/model.h"
#include "lib/siphash.h"
#include "server/cookie.h"
#include "server/wire.h"
#include "tests/unit/tap.h"
#include "tests/unit/testutil.h"

static void unhex(const char *s, uint8_t *out)
{
	for (size_t i = 0; s[2 * i]; i++) {
		unsigned v;
		sscanf(s + 2 * i, "%2x", &v);
		out[i] = (uint8_t)v;
	}
}

/* OpenSSL's SipHash-2-4 with an 8-byte tag, as an independent reader. */
static uint64_t ossl_siphash(const uint8_t key[16], const uint8_t *in,
			     size_t len)
{
	EVP_MAC *mac = EVP_MAC_fetch(NULL, "SIPHASH", NULL);
	EVP_MAC_CTX *c = mac ? EVP_MAC_CTX_new(mac) : NULL;
	size_t size = 8, outl = 0;
	uint8_t out[16];
	OSSL_PARAM p[] = {
		OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size),
		OSSL_PARAM_construct_end(),
	};
	uint64_t v = 0;

	if (!c || !EVP_MAC_init(c, key, 16, p) ||
	    !EVP_MAC_update(c, in, len) ||
	    !EVP_MAC_final(c, out, &outl, sizeof(out)) || outl != 8) {
		printf("# OpenSSL SipHash unavailable\n");
		outl = 0;
	}
	for (size_t i = 0; i < outl; i++)
		v |= (uint64_t)out[i] << (8 * i);
	EVP_MAC_CTX_free(c);
	EVP_MAC_free(mac);
	return v;
}

static void test_siphash(void)
{
	uint8_t key[16], in[64];

	for (int i = 0; i < 16; i++)
		key[i] = (uint8_t)i;
	for (int i = 0; i < 64; i++)
		in[i] = (uint8_t)i;
	/* The reference implementation's vectors.h: key 00..0f, message
	 * 00..len-1. */
	ok(siphash24(key, in, 0) == 0x726fdb47dd0e0e31ull,
	   "siphash: reference vector, empty message");
	ok(siphash24(key, in, 1) == 0x74f839c593dc67fdull,
	   "siphash: reference vector, 1 byte");
	ok(siphash24(key, in, 15) == 0xa129ca6149be45e5ull,
	   "siphash: the paper's example, 15 bytes");
	int same = 0;
	uint64_t rng = 0x1234567;
	for (size_t len = 0; len <= 64; len++) {
		for (int i = 0; i < 16; i++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			key[i] = (uint8_t)(rng >> 56);
		}
		for (size_t i = 0; i < len; i++) {
			rng = rng * 6364136223846793005ull + 1442695040888963407ull;
			in[i] = (uint8_t)(rng >> 56);
		}
		same += siphash24(key, in, len) == ossl_siphash(key, in, len);
	}
	is_int(same, 65, "siphash: same as OpenSSL's EVP_MAC for 0..64 bytes, random keys");
}

struct vec {
	const char *what, *secret, *client, *ip;
	uint32_t ts;
	const char *want;
};

static void test_rfc9018_make(void)
{
	static const struct vec v[] = {
		{ "A.1 learning a new server cookie",
		  "e5e973e5a6b2a43f48e7dc849e37bfcf", "2464c4abcf10c957",
		  "198.51.100.100", 1559731985,
		  "010000005cf79f111f8130c3eee29480" },
		{ "A.2 the same client, renewed",
		  "e5e973e5a6b2a43f48e7dc849e37bfcf", "2464c4abcf10c957",
		  "198.51.100.100", 1559734385,
		  "010000005cf7a871d4a564a1442aca77" },
		{ "A.3 another client",
		  "e5e973e5a6b2a43f48e7dc849e37bfcf", "fc93fc62807ddb86",
		  "203.0.113.203", 1559734700,
		  "010000005cf7a9acf73a7810aca2381e" },
		{ "A.4 IPv6 client, new secret",
		  "445536bcd2513298075a5d379663c962", "22681ab97d52c298",
		  "2001:db8:220:1:59de:d0f4:8769:82b8", 1559741961,
		  "010000005cf7c609a6bb79d16625507a" },
	};
	static const uint8_t head[4] = { 1, 0, 0, 0 };

	for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
		uint8_t secret[16], client[8], want[16], got[16], ip[16];
		bool v6 = strchr(v[i].ip, ':') != NULL;
		unhex(v[i].secret, secret);
		unhex(v[i].client, client);
		unhex(v[i].want, want);
		inet_pton(v6 ? AF_INET6 : AF_INET, v[i].ip, ip);
		cookie_make(secret, client, head, v[i].ts, ip, v6 ? 16 : 4, got);
		ok(!memcmp(got, want, 16), v[i].what);
	}
}

static struct cookie_keys keys(const char *secret, const char *prev)
{
	struct cookie_keys k = { .on = true };
	unhex(secret, k.secret);
	if (prev) {
		unhex(prev, k.prev);
		k.has_prev = true;
	}
	return k;
}

static void test_answer_vectors(void)
{
	struct cookie_keys k = keys("e5e973e5a6b2a43f48e7dc849e37bfcf", NULL);
	struct sockaddr_storage a1 = tu_sockaddr("198.51.100.100");
	uint8_t q[40], out[16], want[16];

	/* A.1: a client cookie alone gets a fresh server cookie. */
	unhex("2464c4abcf10c957", q);
	is_int(cookie_answer(&k, q, 8, (struct sockaddr *)&a1, 1559731985, out),
	       COOKIE_CLIENT, "A.1: a client cookie alone is not validated");
	unhex("010000005cf79f111f8130c3eee29480", want);
	ok(!memcmp(out, want, 16), "A.1: the response carries the RFC's server cookie");

	/* A.2: 40 minutes later it is still valid but over half an hour
	 * old: renewed. */
	unhex("2464c4abcf10c957010000005cf79f111f8130c3eee29480", q);
	is_int(cookie_answer(&k, q, 24, (struct sockaddr *)&a1, 1559734385, out),
	       COOKIE_VALID, "A.2: the cookie from A.1 is valid 40 minutes later");
	unhex("010000005cf7a871d4a564a1442aca77", want);
	ok(!memcmp(out, want, 16), "A.2: renewed after half an hour, as the RFC shows");

	/* Young: sent back as it is, no second hash. */
	unhex("2464c4abcf10c957010000005cf79f111f8130c3eee29480", q);
	is_int(cookie_answer(&k, q, 24, (struct sockaddr *)&a1, 1559731985 + 60, out),
	       COOKIE_VALID, "a one-minute-old cookie is valid");
	ok(!memcmp(out, q + 8, 16), "a young cookie is echoed unchanged");

	/* Window: an hour old holds, a second more does not; five
	 * minutes ahead holds, a second more does not. */
	is_int(cookie_answer(&k, q, 24, (struct sockaddr *)&a1, 1559731985 + 3600, out),
	       COOKIE_VALID, "an hour old: still valid");
	is_int(cookie_answer(&k, q, 24, (struct sockaddr *)&a1, 1559731985 + 3601, out),
	       COOKIE_CLIENT, "an hour and a second old: not valid");
	is_int(cookie_answer(&k, q, 24, (struct sockaddr *)&a1, 1559731985 - 300, out),
	       COOKIE_VALID, "five minutes ahead: valid (clock skew)");
	is_int(cookie_answer(&k, q, 24, (struct sockaddr *)&a1, 1559731985 - 301, out),
	       COOKIE_CLIENT, "five minutes and a second ahead: not valid");

	/* Bound to the client address and to every byte. */
	struct sockaddr_storage other = tu_sockaddr("198.51.100.101");
	is_int(cookie_answer(&k, q, 24, (struct sockaddr *)&other, 1559731985, out),
	       COOKIE_CLIENT, "the same cookie from another address is not valid");
	q[23] ^= 1;
	is_int(cookie_answer(&k, q, 24, (struct sockaddr *)&a1, 1559731985, out),
	       COOKIE_CLIENT, "a cookie with one bit flipped is not valid");
	struct sockaddr_in6 mapped = { .sin6_family = AF_INET6 };
	inet_pton(AF_INET6, "::ffff:198.51.100.100", &mapped.sin6_addr);
	unhex("2464c4abcf10c957010000005cf79f111f8130c3eee29480", q);
	is_int(cookie_answer(&k, q, 24, (struct sockaddr *)&mapped, 1559731985, out),
	       COOKIE_VALID, "a v4-mapped source hashes as its IPv4 address");

	/* A.3: reserved bytes the client sent are part of the hash. */
	struct sockaddr_storage a3 = tu_sockaddr("203.0.113.203");
	unhex("fc93fc62807ddb8601abcdef5cf78f71a314227b6679ebf5", q);
	is_int(cookie_answer(&k, q, 24, (struct sockaddr *)&a3, 0x5cf78f71 + 100, out),
	       COOKIE_VALID, "A.3: a cookie with non-zero reserved bytes validates");
	ok(out[0] == 1 && !out[1] && !out[2] && !out[3],
	   "A.3: the fresh cookie is version 1 with zero reserved bytes");
	is_int(cookie_answer(&k, q, 24, (struct sockaddr *)&a3, 1559734700, out),
	       COOKIE_CLIENT, "A.3: at the RFC's reply time it is over an hour old");
	unhex("010000005cf7a9acf73a7810aca2381e", want);
	ok(!memcmp(out, want, 16), "A.3: the fresh cookie is the RFC's");

	/* A.4: rotation; the old secret still validates, the new one
	 * signs. */
	struct cookie_keys rot = keys("445536bcd2513298075a5d379663c962",
				      "dd3bdf9344b678b185a6f5cb60fca715");
	struct cookie_keys nop = keys("445536bcd2513298075a5d379663c962", NULL);
	struct sockaddr_storage a4 = tu_sockaddr("2001:db8:220:1:59de:d0f4:8769:82b8");
	unhex("22681ab97d52c298010000005cf7c57926556bd0934c72f8", q);
	is_int(cookie_answer(&rot, q, 24, (struct sockaddr *)&a4, 1559741961, out),
	       COOKIE_VALID, "A.4: a cookie of the previous secret is valid while rotating");
	unhex("010000005cf7c609a6bb79d16625507a", want);
	ok(!memcmp(out, want, 16), "A.4: the response cookie is the new secret's");
	is_int(cookie_answer(&nop, q, 24, (struct sockaddr *)&a4, 1559741961, out),
	       COOKIE_CLIENT, "A.4: without the previous secret it is not valid");

	/* Server cookies of other lengths or versions are not ours. */
	unhex("2464c4abcf10c957010000005cf79f111f8130c3eee2948000", q);
	is_int(cookie_answer(&k, q, 25, (struct sockaddr *)&a1, 1559731985, out),
	       COOKIE_CLIENT, "a 17-byte server cookie is not ours");
	unhex("2464c4abcf10c957020000005cf79f111f8130c3eee29480", q);
	is_int(cookie_answer(&k, q, 24, (struct sockaddr *)&a1, 1559731985, out),
	       COOKIE_CLIENT, "a version 2 server cookie is not ours");
}

/* A query for "a." with an OPT holding the given options. */
static size_t query(uint8_t *b, const uint8_t *opts, size_t olen)
{
	static const uint8_t head[] = {
		0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 1,
		1, 'a', 0, 0, 1, 0, 1,
		0, 0, 41, 0x10, 0, 0, 0, 0, 0,
	};
	memcpy(b, head, sizeof(head));
	wire_put16(b + sizeof(head), (uint16_t)olen);
	memcpy(b + sizeof(head) + 2, opts, olen);
	return sizeof(head) + 2 + olen;
}

static void test_option_lengths(void)
{
	uint8_t opt[100], pkt[200];
	struct wire_query q;

	for (unsigned len = 0; len <= 41; len++) {
		wire_put16(opt, EDNS_O_COOKIE);
		wire_put16(opt + 2, (uint16_t)len);
		memset(opt + 4, 0xab, len);
		enum wire_verdict v = wire_parse_query(pkt, query(pkt, opt, 4 + len), &q);
		bool good = len == 8 || (len >= 16 && len <= 40);
		if (!ok(good ? v == WIRE_OK && q.cookie && q.cookie_len == len :
			v == WIRE_FORMERR, "COOKIE length: 8 or 16..40, else FORMERR"))
			printf("#   length %u verdict %d\n", len, v);
	}
	wire_put16(opt, EDNS_O_COOKIE);
	wire_put16(opt + 2, 8);
	memcpy(opt + 12, opt, 4);
	is_int(wire_parse_query(pkt, query(pkt, opt, 24), &q), WIRE_FORMERR,
	       "two COOKIE options: FORMERR");
	is_int(wire_parse_query(pkt, query(pkt, opt, 0), &q), WIRE_OK,
	       "no COOKIE option: fine");
	ok(!q.cookie, "no COOKIE option: none recorded");
}

static void test_random_secret(void)
{
	struct model_cookies m = { .enabled = true };
	struct cookie_keys a, b;
	static const uint8_t zero[16];

	cookie_keys_build(&a, &m);
	cookie_keys_build(&b, &m);
	ok(memcmp(a.secret, zero, 16) != 0, "no secret configured: a random one");
	ok(!memcmp(a.secret, b.secret, 16),
	   "the random secret stays the same across rebuilds (reloads)");
	ok(!a.has_prev, "no previous secret unless configured");
}

int main(void)
{
	test_siphash();
	test_rfc9018_make();
	test_answer_vectors();
	test_option_lengths();
	test_random_secret();
	return tap_done();
}
