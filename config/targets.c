/*
 * targets.c -- the probe targets of a model (model.h): every distinct
 * (address, probe settings, effective Host) once, with the services that
 * use it.  A KubeFed record gives five names for the same load balancers;
 * they must share one probe and one health, or the names disagree.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "config/model.h"

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
	       a->rise == b->rise && a->fall == b->fall;
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

void model_targets_clear(struct model *m)
{
	for (size_t i = 0; i < m->nsvcs; i++)
		for (size_t j = 0; j < m->svcs[i].neps; j++)
			for (size_t k = 0; k < m->svcs[i].eps[j].naddrs; k++)
				m->svcs[i].eps[j].addrs[k].target = 0;
	if (m->targets)
		free(m->targets[0].svcs); /* one block for every list */
	free(m->targets);
	free(m->target_hosts);
	m->targets = NULL;
	m->ntargets = 0;
	m->target_hosts = NULL;
}

/* The Host an HTTP probe of this address sends: the setting, else the
 * service's name without its final dot, written into *hosts. */
static const char *target_host(const struct model_service *s,
			       const struct model_endpoint *e, char **hosts)
{
	if (e->probe.type == PROBE_TCP)
		return NULL;
	if (e->probe.host)
		return e->probe.host;
	size_t n = strlen(s->name);
	char *h = *hosts;
	memcpy(h, s->name, n);
	if (n && h[n - 1] == '.')
		n--;
	h[n] = '\0';
	*hosts += n + 1;
	return h;
}

struct tbuild {
	struct model *m;
	uint32_t *slot;   /* open addressing: 1 + target index, 0 empty */
	uint32_t mask;
	uint32_t *last;   /* per target: 1 + the last service counted */
	uint32_t *count;  /* per target: services using it */
};

static uint32_t target_find_or_add(struct tbuild *b, const struct model_addr *a,
				   const struct probe_spec *spec,
				   const char *host)
{
	struct model *m = b->m;
	uint32_t i = (uint32_t)model_target_hash(a, spec, host) & b->mask;

	for (; b->slot[i]; i = (i + 1) & b->mask) {
		struct model_target *t = &m->targets[b->slot[i] - 1];
		if (model_target_same(&t->addr, t->spec, t->host, a, spec, host))
			return b->slot[i] - 1;
	}
	struct model_target *t = &m->targets[m->ntargets];
	t->addr = *a;
	t->addr.target = (uint32_t)m->ntargets + 1;
	t->spec = spec;
	t->host = host;
	b->slot[i] = (uint32_t)++m->ntargets;
	return (uint32_t)m->ntargets - 1;
}

/* Pass 1: a target for every probed address, and how many services use
 * each.  Services are visited in order, so "the last one counted" is
 * enough to count each once. */
static void targets_assign(struct tbuild *b, char *hosts)
{
	struct model *m = b->m;

	for (size_t i = 0; i < m->nsvcs; i++) {
		struct model_service *s = &m->svcs[i];
		for (size_t j = 0; j < s->neps; j++) {
			struct model_endpoint *e = &s->eps[j];
			if (e->probe.type == PROBE_NONE || !e->naddrs)
				continue;
			char *mark = hosts;
			const char *host = target_host(s, e, &hosts);
			size_t before = m->ntargets;
			for (size_t k = 0; k < e->naddrs; k++) {
				uint32_t t = target_find_or_add(b, &e->addrs[k],
								&e->probe, host);
				e->addrs[k].target = t + 1;
				if (b->last[t] != i + 1) {
					b->last[t] = (uint32_t)i + 1;
					b->count[t]++;
				}
			}
			/* The host went unused: every address found an
			 * earlier target with the same Host. */
			if (m->ntargets == before && host == mark)
				hosts = mark;
		}
	}
}

/* Pass 2: the service lists, one block for all. */
static int targets_users(struct tbuild *b, size_t total)
{
	struct model *m = b->m;
	uint32_t *block = malloc((total ? total : 1) * sizeof(*block));

	if (!block)
		return -1;
	for (size_t t = 0, off = 0; t < m->ntargets; t++) {
		m->targets[t].svcs = block + off;
		off += b->count[t];
		b->last[t] = 0;
	}
	for (size_t i = 0; i < m->nsvcs; i++) {
		const struct model_service *s = &m->svcs[i];
		for (size_t j = 0; j < s->neps; j++) {
			const struct model_endpoint *e = &s->eps[j];
			for (size_t k = 0; k < e->naddrs; k++) {
				uint32_t t = e->addrs[k].target;
				if (!t || b->last[t - 1] == i + 1)
					continue;
				b->last[t - 1] = (uint32_t)i + 1;
				struct model_target *mt = &m->targets[t - 1];
				mt->svcs[mt->nsvcs++] = (uint32_t)i;
			}
		}
	}
	return 0;
}

int model_targets_build(struct model *m)
{
	size_t n = 0, hostlen = 0, total = 0;
	struct tbuild b = { .m = m };
	int rc = -1;

	model_targets_clear(m);
	for (size_t i = 0; i < m->nsvcs; i++) {
		for (size_t j = 0; j < m->svcs[i].neps; j++) {
			if (m->svcs[i].eps[j].probe.type == PROBE_NONE)
				continue;
			n += m->svcs[i].eps[j].naddrs;
			hostlen += strlen(m->svcs[i].name) + 1;
		}
	}
	if (!n)
		return 0;
	uint32_t size = 16;
	while (size < 2 * n)
		size <<= 1;
	b.mask = size - 1;
	b.slot = calloc(size, sizeof(*b.slot));
	b.last = calloc(n, sizeof(*b.last));
	b.count = calloc(n, sizeof(*b.count));
	m->targets = calloc(n, sizeof(*m->targets));
	m->target_hosts = malloc(hostlen + 1);
	if (!b.slot || !b.last || !b.count || !m->targets || !m->target_hosts)
		goto out;
	targets_assign(&b, m->target_hosts);
	for (size_t t = 0; t < m->ntargets; t++)
		total += b.count[t];
	if (targets_users(&b, total) < 0)
		goto out;
	rc = 0;
out:
	free(b.slot);
	free(b.last);
	free(b.count);
	if (rc < 0)
		model_targets_clear(m);
	return rc;
}
