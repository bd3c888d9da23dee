/* model_dedup.c -- one address once per name (RFC 2181 5: an RRset holds
 * no duplicate records).
 *
 * Two KubeFed clusters can share a load balancer, and a hostname can
 * resolve to an address a cluster also lists: the name would answer the
 * same A record twice.  Each address stays with the one endpoint that
 * would answer it first (enabled before disabled, then the better
 * priority, then the earlier endpoint), so fallbacks and readiness keep
 * their meaning; the health of an address is its target's, the same in
 * every endpoint.  Sorting keeps it O(n log n) for names with many. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "config/model.h"
#include "lib/xalloc.h"

struct dd_ref {
	const struct model_addr *a;
	uint32_t ep, idx;
	uint32_t rank_en, rank_prio; /* 0: enabled; the priority */
};

static size_t dd_len(int family)
{
	return family == AF_INET ? 4 : 16;
}

static int dd_cmp(const void *pa, const void *pb)
{
	const struct dd_ref *a = pa, *b = pb;
	int c;

	if (a->a->family != b->a->family)
		return a->a->family < b->a->family ? -1 : 1;
	if ((c = memcmp(&a->a->ip, &b->a->ip, dd_len(a->a->family))))
		return c;
	if (a->rank_en != b->rank_en)
		return a->rank_en < b->rank_en ? -1 : 1;
	if (a->rank_prio != b->rank_prio)
		return a->rank_prio < b->rank_prio ? -1 : 1;
	if (a->ep != b->ep)
		return a->ep < b->ep ? -1 : 1;
	return (a->idx > b->idx) - (a->idx < b->idx);
}

static bool dd_same(const struct model_addr *a, const struct model_addr *b)
{
	return a->family == b->family &&
	       !memcmp(&a->ip, &b->ip, dd_len(a->family));
}

/* Endpoint e keeps the addresses not marked in drop (indexed from base). */
static void dd_compact(struct model_endpoint *e, const bool *drop)
{
	size_t m = 0;

	for (size_t i = 0; i < e->naddrs; i++)
		if (!drop[i])
			e->addrs[m++] = e->addrs[i];
	e->naddrs = m;
}

/* Endpoints left without an address go: they could answer nothing.
 * One with host names stays: its addresses may come from the resolver. */
static void dd_drop_empty(struct model_service *s)
{
	size_t m = 0;

	for (size_t i = 0; i < s->neps; i++) {
		if (s->eps[i].naddrs || s->eps[i].nhostnames) {
			s->eps[m++] = s->eps[i];
			continue;
		}
		free(s->eps[i].region);
		free(s->eps[i].name);
		free(s->eps[i].addrs);
		probe_spec_clear(&s->eps[i].probe);
	}
	s->neps = m;
}

size_t model_service_dedup(struct model_service *s)
{
	size_t n = 0, k = 0, gone = 0;
	struct dd_ref *r;
	bool *drop;
	size_t *base;

	for (size_t i = 0; i < s->neps; i++)
		n += s->eps[i].naddrs;
	if (n < 2)
		return 0;
	r = xcalloc(n, sizeof(*r));
	drop = xcalloc(n, sizeof(*drop));
	base = xcalloc(s->neps, sizeof(*base));
	for (size_t i = 0; i < s->neps; i++) {
		base[i] = k;
		for (size_t j = 0; j < s->eps[i].naddrs; j++, k++) {
			r[k].a = &s->eps[i].addrs[j];
			r[k].ep = (uint32_t)i;
			r[k].idx = (uint32_t)j;
			r[k].rank_en = s->eps[i].enabled ? 0 : 1;
			r[k].rank_prio = s->eps[i].priority;
		}
	}
	qsort(r, n, sizeof(*r), dd_cmp);
	for (size_t i = 1; i < n; i++) {
		if (dd_same(r[i].a, r[i - 1].a)) {
			drop[base[r[i].ep] + r[i].idx] = true;
			gone++;
		}
	}
	if (gone) {
		for (size_t i = 0; i < s->neps; i++)
			dd_compact(&s->eps[i], drop + base[i]);
		dd_drop_empty(s);
	}
	free(base);
	free(drop);
	free(r);
	return gone;
}
