/* model.c -- see model.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "config/model.h"
#include "lib/prefix.h"
#include "lib/xalloc.h"

/* ---- addresses and prefixes ---- */

bool model_answerable(bool enabled, enum model_admin admin,
		      enum model_health health)
{
	if (!enabled || admin == ADMIN_DRAINED || admin == ADMIN_FORCE_DOWN)
		return false;
	return admin == ADMIN_FORCE_UP || health != HEALTH_DOWN;
}

const char *model_addr_str(const struct model_addr *a, char *buf, size_t len)
{
	const void *src = a->family == AF_INET6 ? (const void *)&a->ip.v6 :
			  (const void *)&a->ip.v4;

	if (len == 0)
		return buf;
	if (!inet_ntop(a->family, src, buf, (socklen_t)len))
		snprintf(buf, len, "?");
	return buf;
}

int model_addr_parse(struct model_addr *a, const char *s)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, &a->ip.v4) == 1) {
		a->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, &a->ip.v6) == 1) {
		a->family = AF_INET6;
		return 0;
	}
	memset(a, 0, sizeof(*a));
	return -1;
}

int model_net_parse(struct model_net *n, const char *s)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(s, '/');
	size_t alen = slash ? (size_t)(slash - s) : strlen(s);
	struct model_addr a;
	unsigned long bits;
	unsigned maxbits, alen_b;

	memset(n, 0, sizeof(*n));
	if (alen == 0 || alen >= sizeof(buf))
		return -1;
	memcpy(buf, s, alen);
	buf[alen] = '\0';
	if (model_addr_parse(&a, buf) < 0)
		return -1;
	maxbits = a.family == AF_INET ? 32 : 128;
	alen_b = maxbits / 8;
	bits = maxbits;
	if (slash) {
		char *end;
		/* strtoul would take "-1" or " 8"; insist on plain digits. */
		if (slash[1] < '0' || slash[1] > '9' || strlen(slash + 1) > 3)
			return -1;
		errno = 0;
		bits = strtoul(slash + 1, &end, 10);
		if (*end || errno || bits > maxbits)
			return -1;
	}
	memcpy(n->addr, a.family == AF_INET ? (const void *)&a.ip.v4 :
	       (const void *)&a.ip.v6, alen_b);
	for (unsigned i = 0; i < alen_b; i++) {
		unsigned lo = i * 8;
		uint8_t keep = bits >= lo + 8 ? 0xff : bits <= lo ? 0 :
			       (uint8_t)(0xff << (8 - (bits - lo)));
		if (n->addr[i] & (uint8_t)~keep) {
			memset(n, 0, sizeof(*n));
			return -1;
		}
	}
	n->family = a.family;
	n->prefix = (uint8_t)bits;
	return 0;
}

bool model_net_contains(const struct model_net *n, int family,
			const uint8_t *addr)
{
	return n->family == family && prefix_match(n->addr, addr, n->prefix);
}

/* ---- freeing ---- */

void model_service_clear(struct model_service *s)
{
	free(s->name);
	for (size_t i = 0; i < s->neps; i++) {
		struct model_endpoint *ep = &s->eps[i];
		free(ep->region);
		free(ep->name);
		free(ep->addrs);
		for (size_t j = 0; j < ep->nhostnames; j++)
			free(ep->hostnames[j]);
		free(ep->hostnames);
		probe_spec_clear(&ep->probe);
	}
	free(s->eps);
}

bool model_has_hostnames(const struct model *m)
{
	for (size_t i = 0; i < m->nsvcs; i++)
		for (size_t j = 0; j < m->svcs[i].neps; j++)
			if (m->svcs[i].eps[j].nhostnames)
				return true;
	return false;
}

static void model_zone_clear(struct model_zone *z)
{
	free(z->apex);
	free(z->soa_mname);
	free(z->soa_rname);
	for (size_t i = 0; i < z->nns; i++) {
		free(z->ns[i].name);
		free(z->ns[i].addrs);
	}
	free(z->ns);
	free(z->zone_file);
	if (z->static_rrs)
		ldns_rr_list_deep_free(z->static_rrs);
}

static void model_server_clear(struct model_server *s)
{
	free(s->listen);
	free(s->identity);
	free(s->version);
	free(s->nsid);
	free(s->user);
	free(s->group);
	free(s->pidfile);
}

void model_dnssec_clear(struct model_dnssec *d)
{
	for (size_t i = 0; i < d->nkeys; i++)
		free(d->key_paths[i]);
	free(d->key_paths);
	if (d->keys)
		ldns_key_list_free(d->keys);
	if (d->dnskeys)
		ldns_rr_list_deep_free(d->dnskeys);
	free(d->times);
	memset(d, 0, sizeof(*d));
}

void model_free(struct model *m)
{
	if (!m)
		return;
	free(m->path);
	model_server_clear(&m->server);
	model_zone_clear(&m->zone);
	probe_spec_clear(&m->probe_defaults);
	for (size_t i = 0; i < m->ntopo; i++) {
		free(m->topo[i].region);
		free(m->topo[i].nets);
	}
	free(m->topo);
	model_targets_clear(m);
	for (size_t i = 0; i < m->nsvcs; i++)
		model_service_clear(&m->svcs[i]);
	free(m->svcs);
	model_kube_clear(&m->kube);
	for (size_t i = 0; i < m->resolver.nservers; i++)
		free(m->resolver.servers[i]);
	free(m->resolver.servers);
	free(m->control.token);
	model_dnssec_clear(&m->dnssec);
	free(m->rrl.exempt);
	free(m);
}

void model_kube_clear(struct model_kube *k)
{
	free(k->kubeconfig);
	free(k->context);
	for (size_t i = 0; i < k->nnamespaces; i++)
		free(k->namespaces[i]);
	free(k->namespaces);
	free(k->kubefed_namespace);
	free(k->cache_file);
	memset(k, 0, sizeof(*k));
}

int model_service_copy(struct model_service *dst,
		       const struct model_service *src)
{
	*dst = *src;
	dst->name = xstrdup(src->name);
	dst->eps = src->neps ? xcalloc(src->neps, sizeof(*dst->eps)) : NULL;
	for (size_t i = 0; i < src->neps; i++) {
		const struct model_endpoint *se = &src->eps[i];
		struct model_endpoint *de = &dst->eps[i];

		*de = *se;
		de->region = se->region ? xstrdup(se->region) : NULL;
		de->name = se->name ? xstrdup(se->name) : NULL;
		de->hostnames = se->nhostnames ?
			xcalloc(se->nhostnames, sizeof(*de->hostnames)) : NULL;
		for (size_t k = 0; k < se->nhostnames; k++)
			de->hostnames[k] = xstrdup(se->hostnames[k]);
		de->addrs = NULL;
		if (se->naddrs) {
			de->addrs = xreallocarray(NULL, se->naddrs,
						  sizeof(*de->addrs));
			memcpy(de->addrs, se->addrs,
			       se->naddrs * sizeof(*de->addrs));
			for (size_t k = 0; k < se->naddrs; k++)
				de->addrs[k].target = 0;
		}
		memset(&de->probe, 0, sizeof(de->probe));
		probe_spec_copy(&de->probe, &se->probe);
	}
	return 0;
}

bool model_listen_is_loopback(const struct model_listen *l)
{
	const struct sockaddr_in *sin = (const void *)&l->ss;
	const struct sockaddr_in6 *sin6 = (const void *)&l->ss;

	if (l->ss.ss_family == AF_INET)
		return (ntohl(sin->sin_addr.s_addr) >> 24) == 127;
	return IN6_IS_ADDR_LOOPBACK(&sin6->sin6_addr) ||
	       (IN6_IS_ADDR_V4MAPPED(&sin6->sin6_addr) &&
		sin6->sin6_addr.s6_addr[12] == 127);
}

const char *model_admin_name(unsigned a)
{
	switch (a) {
	case ADMIN_NONE: return "none";
	case ADMIN_DRAINED: return "drained";
	case ADMIN_FORCE_UP: return "force-up";
	case ADMIN_FORCE_DOWN: return "force-down";
	}
	return "unknown";
}

const char *model_policy_name(unsigned p)
{
	switch (p) {
	case POLICY_ALL: return "all";
	case POLICY_FAILOVER: return "failover";
	case POLICY_WEIGHTED: return "weighted";
	case POLICY_TOPOLOGY: return "topology";
	}
	return "unknown";
}

const char *model_alldown_name(unsigned a)
{
	switch (a) {
	case ALLDOWN_SERVE_ALL: return "serve-all";
	case ALLDOWN_SERVFAIL: return "servfail";
	case ALLDOWN_NODATA: return "nodata";
	}
	return "unknown";
}

const char *model_endpoint_name(const struct model_endpoint *e)
{
	if (e->name)
		return e->name;
	return e->region ? e->region : "";
}
