/* rrl.c -- response rate limiting (rrl.h). */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "config/model.h"
#include "lib/prefix.h"
#include "lib/xalloc.h"
#include "server/cookie.h"
#include "server/rrl.h"
#include "server/snap.h"
#include "server/wire.h"

struct rrl_bucket {
	uint64_t key;
	uint32_t stamp;   /* the second count is for */
	uint32_t count;   /* answers in that second */
	uint32_t limited; /* limited answers so far: the slip cycle */
};

struct rrl_table {
	uint64_t seed;   /* so that nobody can aim floods at one bucket */
	uint64_t mask;
	struct rrl_bucket b[];
};

struct rrl_table *rrl_table_new(unsigned bits, uint64_t seed)
{
	size_t n = (size_t)1 << bits;
	struct rrl_table *t = xcalloc(1, sizeof(*t) + n * sizeof(t->b[0]));

	t->seed = seed | 1;
	t->mask = n - 1;
	return t;
}

void rrl_table_free(struct rrl_table *t)
{
	free(t);
}

/* The client's prefix (masked) as two words and its family; false for
 * an address family that is not limited. */
static inline bool source(const struct sockaddr *from,
			  const struct rrl_conf *c, uint64_t w[2],
			  unsigned *fam)
{
	if (from->sa_family == AF_INET) {
		uint32_t a;
		memcpy(&a, &((const struct sockaddr_in *)from)->sin_addr, 4);
		w[0] = a & c->v4_mask;
		w[1] = 0;
		*fam = 4;
		return true;
	}
	if (from->sa_family != AF_INET6)
		return false;
	const struct in6_addr *a6 =
		&((const struct sockaddr_in6 *)from)->sin6_addr;
	if (IN6_IS_ADDR_V4MAPPED(a6)) {
		uint32_t a;
		memcpy(&a, a6->s6_addr + 12, 4);
		w[0] = a & c->v4_mask;
		w[1] = 0;
		*fam = 4;
		return true;
	}
	memcpy(w, a6->s6_addr, 16);
	w[0] &= c->v6_mask[0];
	w[1] &= c->v6_mask[1];
	*fam = 6;
	return true;
}

static inline uint64_t mix(uint64_t h)
{
	/* murmur3's finaliser: every input bit reaches every output bit */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	return h;
}

static bool exempt(const struct rrl_conf *c, const struct sockaddr *from)
{
	const uint8_t *a;
	int fam;

	if (from->sa_family == AF_INET) {
		a = (const uint8_t *)&((const struct sockaddr_in *)from)->sin_addr;
		fam = AF_INET;
	} else {
		const struct in6_addr *a6 =
			&((const struct sockaddr_in6 *)from)->sin6_addr;
		fam = IN6_IS_ADDR_V4MAPPED(a6) ? AF_INET : AF_INET6;
		a = fam == AF_INET ? a6->s6_addr + 12 : a6->s6_addr;
	}
	for (uint32_t i = 0; i < c->nexempt; i++)
		if (c->exempt[i].family == fam &&
		    prefix_match(c->exempt[i].addr, a, c->exempt[i].prefix))
			return true;
	return false;
}

enum rrl_verdict rrl_check(struct rrl_table *t, const struct rrl_conf *c,
			   const struct sockaddr *from,
			   const struct rrl_facts *f, uint32_t now)
{
	uint64_t w[2];
	unsigned fam;

	if (!c->rps || f->cookie == COOKIE_VALID || !f->kind || !from ||
	    !source(from, c, w, &fam))
		return RRL_PASS;
	/* One finaliser over the words, each spread by its own odd
	 * multiplier first so that they cannot cancel out. */
	uint64_t key = mix((w[0] * 0x9e3779b97f4a7c15ull) ^
			   (w[1] * 0xc2b2ae3d27d4eb4full) ^
			   (((uint64_t)f->kind << 40 | (uint64_t)fam << 32 |
			     f->name) * 0x165667b19e3779f9ull) ^ t->seed);
	struct rrl_bucket *bk = &t->b[key & t->mask];

	if (bk->key != key) {
		bk->key = key;
		bk->stamp = now;
		bk->count = 0;
		bk->limited = 0;
	} else if (bk->stamp != now) {
		bk->stamp = now;
		bk->count = 0;
	}
	if (++bk->count <= c->rps)
		return RRL_PASS;
	/* Over the limit: only now pay for the exempt list, so that it
	 * costs nothing to the answers that pass anyway. */
	if (c->nexempt && exempt(c, from)) {
		bk->count = c->rps;
		return RRL_PASS;
	}
	bk->limited++;
	if (c->slip && bk->limited % c->slip == 0)
		return RRL_SLIP;
	return RRL_DROP;
}

size_t rrl_slip(uint8_t *out, size_t len, const struct rrl_facts *f)
{
	size_t n = f->qlen;
	uint16_t flags = wire_get16(out + 2);
	uint16_t ar = 0;

	if (f->opt && f->opt < len) {
		size_t olen = len - f->opt;
		memmove(out + n, out + f->opt, olen);
		if (f->cookie == COOKIE_CLIENT) {
			/* BADCOOKIE (23): 7 in the header, 1 in the OPT's
			 * extended RCODE byte. */
			flags = (uint16_t)((flags & ~0xfu) | (23u & 0xfu));
			out[n + 5] = 23u >> 4;
		} else {
			flags |= DNS_F_TC;
		}
		n += olen;
		ar = 1;
	} else {
		flags |= DNS_F_TC;
	}
	wire_put16(out + 2, flags);
	wire_put16(out + 6, 0);
	wire_put16(out + 8, 0);
	wire_put16(out + 10, ar);
	return n;
}

void rrl_conf_masks(struct rrl_conf *c)
{
	uint8_t m6[16];

	c->v4_mask = htonl(c->v4_prefix >= 32 ? 0xffffffffu :
			   ~(0xffffffffu >> c->v4_prefix));
	for (unsigned i = 0; i < 16; i++) {
		unsigned bits = c->v6_prefix > 8 * i ? c->v6_prefix - 8 * i : 0;
		m6[i] = bits >= 8 ? 0xff : (uint8_t)(0xff00u >> bits);
	}
	memcpy(c->v6_mask, m6, 16);
}

int rrl_conf_build(struct rrl_conf *c, const struct model_rrl *m,
		   struct snap_arena *a)
{
	memset(c, 0, sizeof(*c));
	c->rps = m->rps;
	c->slip = m->slip;
	c->v4_prefix = m->v4_prefix;
	c->v6_prefix = m->v6_prefix;
	rrl_conf_masks(c);
	if (m->nexempt) {
		c->exempt = snap_memdup(a, m->exempt,
					m->nexempt * sizeof(*m->exempt));
		if (!c->exempt)
			return -1;
		c->nexempt = (uint32_t)m->nexempt;
	}
	return 0;
}
