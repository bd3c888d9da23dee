/*
 * targets.c -- the probe targets of a model (model.h): every distinct
 * (address, probe settings, effective Host) once, with the services that
 * use it.  A KubeFed record gives five names for the same load balancers;
 * they must share one probe and one health, or the names disagree.
 *
 * A full build numbers the targets afresh; a Kubernetes change of a few
 * services updates them in place (drop, add), keeping every other index,
 * so the probe manager and the snapshot patch only what changed.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "config/model.h"
#include "lib/xalloc.h"

static const void *addr_bytes(const struct model_addr *a, size_t *len)
{
	*len = a->family == AF_INET6 ? 16 : 4;
	return a->family == AF_INET6 ? (const void *)&a->ip.v6 :
	       (const void *)&a->ip.v4;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *c = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ c[i]) * 0x100000001b3ULL;
	return h;
}

static uint64_t fnv_str(uint64_t h, const char *s)
{
	return s ? fnv(h, s, strlen(s) + 1) : fnv(h, "", 1);
}

uint64_t model_target_hash(const struct model_addr *a,
			   const struct probe_spec *s, const char *host)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	size_t n;
	const void *b = addr_bytes(a, &n);
	uint32_t head[3] = { (uint32_t)s->type, s->port, s->interval_ms };

	h = fnv(h, b, n);
	h = fnv(h, head, sizeof(head));
	if (s->type == PROBE_TCP)
		return h;
	return fnv_str(fnv_str(h, host), s->path);
}

/* What a tcp probe uses; the HTTP fields may hold defaults it ignores. */
static bool tcp_same(const struct probe_spec *a, const struct probe_spec *b)
{
	return a->port == b->port && a->interval_ms == b->interval_ms &&
	       a->timeout_ms == b->timeout_ms && a->jitter_ms == b->jitter_ms &&
	       a->rise == b->rise && a->fall == b->fall &&
	       a->fast_interval_ms == b->fast_interval_ms;
}

static bool str_same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

bool model_target_same(const struct model_addr *a, const struct probe_spec *sa,
		       const char *host_a, const struct model_addr *b,
		       const struct probe_spec *sb, const char *host_b)
{
	size_t na, nb;
	const void *pa = addr_bytes(a, &na), *pb = addr_bytes(b, &nb);

	if (a->family != b->family || memcmp(pa, pb, na) || sa->type != sb->type)
		return false;
	if (sa->type == PROBE_TCP)
		return tcp_same(sa, sb);
	/* The effective Host was compared apart: a spec naming the host
	 * and one defaulting to the same service name probe alike. */
	struct probe_spec x = *sa, y = *sb;
	x.host = y.host = NULL;
	return str_same(host_a, host_b) && probe_spec_equal(&x, &y);
}

/* ---- the table ---- */

static void target_free(struct model_target *t)
{
	probe_spec_clear(&t->spec);
	free(t->host);
	free(t->svcs);
}

void model_targets_clear(struct model *m)
{
	for (size_t i = 0; i < m->nsvcs; i++)
		for (size_t j = 0; j < m->svcs[i].neps; j++)
			for (size_t k = 0; k < m->svcs[i].eps[j].naddrs; k++)
				m->svcs[i].eps[j].addrs[k].target = 0;
	for (size_t t = 0; t < m->ntargets; t++)
		target_free(&m->targets[t]);
	free(m->targets);
	free(m->target_index);
	m->targets = NULL;
	m->ntargets = m->target_cap = 0;
	m->target_index = NULL;
	m->target_mask = 0;
}

static void ids_push(struct model_target_ids *d, uint32_t id)
{
	if (!d)
		return;
	if (d->n == d->cap) {
		d->cap = d->cap ? 2 * d->cap : 64;
		d->ids = xreallocarray(d->ids, d->cap, sizeof(*d->ids));
	}
	d->ids[d->n++] = id;
}

/* Keep the index at most half full. */
static void index_reserve(struct model *m, size_t n)
{
	size_t size = (size_t)m->target_mask + 1;

	if (m->target_index && 2 * n <= size)
		return;
	size = 16;
	while (size < 2 * n + 2)
		size <<= 1;
	uint32_t *ix = xcalloc(size, sizeof(*ix));
	for (size_t t = 0; t < m->ntargets; t++) {
		uint32_t k = (uint32_t)m->targets[t].hash & (uint32_t)(size - 1);
		while (ix[k])
			k = (k + 1) & (uint32_t)(size - 1);
		ix[k] = (uint32_t)t + 1;
	}
	free(m->target_index);
	m->target_index = ix;
	m->target_mask = (uint32_t)(size - 1);
}

/* The Host an HTTP probe of this address sends: the setting, else the
 * service's name without its final dot. */
static char *target_host(const struct model_service *s,
			 const struct model_endpoint *e)
{
	if (e->probe.type == PROBE_TCP)
		return NULL;
	const char *h = e->probe.host ? e->probe.host : s->name;
	size_t n = strlen(h);
	if (!e->probe.host && n && h[n - 1] == '.')
		n--;
	return xstrndup(h, n);
}

static void user_add(struct model_target *t, uint32_t svc)
{
	/* A service is added whole, after being dropped whole: if it
	 * already uses t, it was the last to be added. */
	if (t->nsvcs && t->svcs[t->nsvcs - 1] == svc)
		return;
	if (t->nsvcs == t->cap) {
		t->cap = t->cap ? 2 * t->cap : 2;
		t->svcs = xreallocarray(t->svcs, t->cap, sizeof(*t->svcs));
	}
	t->svcs[t->nsvcs++] = svc;
}

/* The target of one probed address, found or made. */
static void target_get(struct model *m, const struct model_addr *a,
		       const struct probe_spec *spec, const char *host,
		       uint32_t *out, bool *made)
{
	uint64_t h = model_target_hash(a, spec, host);
	uint32_t k = (uint32_t)h & m->target_mask;

	*made = false;
	/* No index yet when a build found nothing to probe. */
	for (; m->target_index && m->target_index[k];
	     k = (k + 1) & m->target_mask) {
		const struct model_target *t = &m->targets[m->target_index[k] - 1];
		if (t->hash == h && model_target_same(&t->addr, &t->spec,
						      t->host, a, spec, host)) {
			*out = m->target_index[k] - 1;
			return;
		}
	}
	index_reserve(m, m->ntargets + 1);
	if (m->ntargets == m->target_cap) {
		m->target_cap = m->target_cap ? 2 * m->target_cap : 16;
		m->targets = xreallocarray(m->targets, m->target_cap,
					   sizeof(*m->targets));
	}
	struct model_target *t = &m->targets[m->ntargets];
	memset(t, 0, sizeof(*t));
	probe_spec_copy(&t->spec, spec);
	t->host = host ? xstrdup(host) : NULL;
	t->addr = *a;
	t->addr.target = (uint32_t)m->ntargets + 1;
	t->hash = h;
	*out = (uint32_t)m->ntargets++;
	*made = true;
	k = (uint32_t)h & m->target_mask;
	while (m->target_index[k])
		k = (k + 1) & m->target_mask;
	m->target_index[k] = *out + 1;
}

void model_targets_add(struct model *m, uint32_t i, struct model_target_ids *d)
{
	struct model_service *s = &m->svcs[i];

	for (size_t j = 0; j < s->neps; j++) {
		struct model_endpoint *e = &s->eps[j];
		if (e->probe.type == PROBE_NONE || !e->naddrs)
			continue;
		char *host = target_host(s, e);
		for (size_t k = 0; k < e->naddrs; k++) {
			uint32_t t;
			bool made;
			target_get(m, &e->addrs[k], &e->probe, host, &t, &made);
			bool revived = !made && !m->targets[t].nsvcs;
			user_add(&m->targets[t], i);
			e->addrs[k].target = t + 1;
			if (made || revived)
				ids_push(d, t);
		}
		free(host);
	}
}

void model_targets_drop(struct model *m, uint32_t i, struct model_target_ids *d)
{
	struct model_service *s = &m->svcs[i];

	for (size_t j = 0; j < s->neps; j++) {
		for (size_t k = 0; k < s->eps[j].naddrs; k++) {
			uint32_t id = s->eps[j].addrs[k].target;
			s->eps[j].addrs[k].target = 0;
			if (!id || id > m->ntargets)
				continue;
			struct model_target *t = &m->targets[id - 1];
			for (uint32_t u = 0; u < t->nsvcs; u++) {
				if (t->svcs[u] != i)
					continue;
				memmove(&t->svcs[u], &t->svcs[u + 1],
					(t->nsvcs - u - 1) * sizeof(*t->svcs));
				if (!--t->nsvcs)
					ids_push(d, id - 1);
				break;
			}
		}
	}
}

void model_targets_build(struct model *m)
{
	size_t n = 0;

	model_targets_clear(m);
	for (size_t i = 0; i < m->nsvcs; i++)
		for (size_t j = 0; j < m->svcs[i].neps; j++)
			if (m->svcs[i].eps[j].probe.type != PROBE_NONE)
				n += m->svcs[i].eps[j].naddrs;
	if (!n)
		return;
	index_reserve(m, n);
	m->targets = xreallocarray(NULL, n, sizeof(*m->targets));
	m->target_cap = n;
	for (size_t i = 0; i < m->nsvcs; i++)
		model_targets_add(m, (uint32_t)i, NULL);
}
