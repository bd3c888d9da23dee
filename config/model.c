/* model.c -- see model.h. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "config/model.h"

/* ---- probe specs ---- */

void probe_spec_clear(struct probe_spec *ps)
{
	if (!ps)
		return;
	free(ps->method);
	free(ps->path);
	free(ps->host);
	free(ps->status);
	free(ps->body);
	for (size_t i = 0; i < ps->nheaders; i++)
		free(ps->headers[i]);
	free(ps->headers);
	free(ps->ca_file);
	memset(ps, 0, sizeof(*ps));
}

/* strdup that maps NULL to NULL; *ok goes false when out of memory. */
static char *model_strdup_opt(const char *s, bool *ok)
{
	char *d;

	if (!s)
		return NULL;
	d = strdup(s);
	if (!d)
		*ok = false;
	return d;
}

static int model_status_dup(struct probe_status_range **dst,
			    const struct probe_status_range *src, size_t n)
{
	*dst = NULL;
	if (n == 0)
		return 0;
	*dst = calloc(n, sizeof(**dst));
	if (!*dst)
		return -1;
	memcpy(*dst, src, n * sizeof(**dst));
	return 0;
}

static int model_headers_dup(char ***dst, char *const *src, size_t n)
{
	*dst = NULL;
	if (n == 0)
		return 0;
	*dst = calloc(n, sizeof(**dst));
	if (!*dst)
		return -1;
	for (size_t i = 0; i < n; i++) {
		(*dst)[i] = strdup(src[i]);
		if (!(*dst)[i]) {
			for (size_t j = 0; j < i; j++)
				free((*dst)[j]);
			free(*dst);
			*dst = NULL;
			return -1;
		}
	}
	return 0;
}

/*
 * The owned fields of src named by mask, deep-copied into a zeroed staging
 * spec.  Copying into staging first means a failed allocation leaves the
 * destination untouched.
 */
static int model_spec_stage(struct probe_spec *st, const struct probe_spec *src,
			    uint32_t mask)
{
	bool ok = true;

	memset(st, 0, sizeof(*st));
	if (mask & PS_METHOD)
		st->method = model_strdup_opt(src->method, &ok);
	if (mask & PS_PATH)
		st->path = model_strdup_opt(src->path, &ok);
	if (mask & PS_HOST)
		st->host = model_strdup_opt(src->host, &ok);
	if (mask & PS_BODY)
		st->body = model_strdup_opt(src->body, &ok);
	if (mask & PS_CA_FILE)
		st->ca_file = model_strdup_opt(src->ca_file, &ok);
	if (mask & PS_STATUS) {
		if (model_status_dup(&st->status, src->status, src->nstatus))
			ok = false;
		else
			st->nstatus = src->nstatus;
	}
	if (mask & PS_HEADERS) {
		if (model_headers_dup(&st->headers, src->headers,
				      src->nheaders))
			ok = false;
		else
			st->nheaders = src->nheaders;
	}
	if (!ok) {
		probe_spec_clear(st);
		return -1;
	}
	return 0;
}

/* Move owned field f from staging st into dst, freeing what dst had. */
#define MODEL_MOVE(dst, st, f) do { \
	free((dst)->f); \
	(dst)->f = (st)->f; \
	(st)->f = NULL; \
} while (0)

int probe_spec_overlay(struct probe_spec *dst, const struct probe_spec *src)
{
	struct probe_spec st;
	uint32_t m = src->set;

	if (model_spec_stage(&st, src, m) < 0)
		return -1;
	if (m & PS_TYPE)
		dst->type = src->type;
	if (m & PS_PORT)
		dst->port = src->port;
	if (m & PS_INTERVAL)
		dst->interval_ms = src->interval_ms;
	if (m & PS_TIMEOUT)
		dst->timeout_ms = src->timeout_ms;
	if (m & PS_JITTER)
		dst->jitter_ms = src->jitter_ms;
	if (m & PS_RISE)
		dst->rise = src->rise;
	if (m & PS_FALL)
		dst->fall = src->fall;
	if (m & PS_TLS_VERIFY)
		dst->tls_verify = src->tls_verify;
	if (m & PS_METHOD)
		MODEL_MOVE(dst, &st, method);
	if (m & PS_PATH)
		MODEL_MOVE(dst, &st, path);
	if (m & PS_HOST)
		MODEL_MOVE(dst, &st, host);
	if (m & PS_BODY)
		MODEL_MOVE(dst, &st, body);
	if (m & PS_CA_FILE)
		MODEL_MOVE(dst, &st, ca_file);
	if (m & PS_STATUS) {
		MODEL_MOVE(dst, &st, status);
		dst->nstatus = st.nstatus;
	}
	if (m & PS_HEADERS) {
		for (size_t i = 0; i < dst->nheaders; i++)
			free(dst->headers[i]);
		MODEL_MOVE(dst, &st, headers);
		dst->nheaders = st.nheaders;
	}
	dst->set |= m;
	return 0;
}

int probe_spec_copy(struct probe_spec *dst, const struct probe_spec *src)
{
	const uint32_t all = PS_METHOD | PS_PATH | PS_HOST | PS_BODY |
			     PS_CA_FILE | PS_STATUS | PS_HEADERS;
	struct probe_spec st;

	if (model_spec_stage(&st, src, all) < 0) {
		memset(dst, 0, sizeof(*dst));
		return -1;
	}
	*dst = *src;
	dst->method = st.method;
	dst->path = st.path;
	dst->host = st.host;
	dst->body = st.body;
	dst->ca_file = st.ca_file;
	dst->status = st.status;
	dst->headers = st.headers;
	return 0;
}

/*
 * Defaults are filled from the explicit bits, not from what the fields
 * hold, so finishing twice (or after a later overlay) gives the same
 * answer: e.g. the port follows a type that an overlay changed.
 */
int probe_spec_finish(struct probe_spec *dst)
{
	uint32_t s = dst->set;

	if (!(s & PS_METHOD) && (!dst->method || strcmp(dst->method, "GET"))) {
		char *m = strdup("GET");
		if (!m)
			return -1;
		free(dst->method);
		dst->method = m;
	}
	if (!(s & PS_PATH) && (!dst->path || strcmp(dst->path, "/"))) {
		char *p = strdup("/");
		if (!p)
			return -1;
		free(dst->path);
		dst->path = p;
	}
	if (!(s & PS_STATUS)) {
		struct probe_status_range *r = calloc(1, sizeof(*r));
		if (!r)
			return -1;
		r->lo = 200;
		r->hi = 399;
		free(dst->status);
		dst->status = r;
		dst->nstatus = 1;
	}
	if (!(s & PS_TYPE))
		dst->type = PROBE_HTTP;
	if (!(s & PS_PORT))
		dst->port = dst->type == PROBE_HTTP ? 80 :
			    dst->type == PROBE_HTTPS ? 443 : 0;
	if (!(s & PS_INTERVAL))
		dst->interval_ms = PROBE_DEFAULT_INTERVAL_MS;
	if (!(s & PS_TIMEOUT))
		dst->timeout_ms = PROBE_DEFAULT_TIMEOUT_MS;
	if (!(s & PS_JITTER))
		dst->jitter_ms = PROBE_DEFAULT_JITTER_MS;
	if (!(s & PS_RISE))
		dst->rise = PROBE_DEFAULT_RISE;
	if (!(s & PS_FALL))
		dst->fall = PROBE_DEFAULT_FALL;
	if (!(s & PS_TLS_VERIFY))
		dst->tls_verify = true;
	return 0;
}

static bool model_streq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return strcmp(a, b) == 0;
}

bool probe_spec_equal(const struct probe_spec *a, const struct probe_spec *b)
{
	if (a->type != b->type || a->port != b->port ||
	    a->interval_ms != b->interval_ms ||
	    a->timeout_ms != b->timeout_ms || a->jitter_ms != b->jitter_ms ||
	    a->rise != b->rise || a->fall != b->fall ||
	    a->tls_verify != b->tls_verify ||
	    a->nstatus != b->nstatus || a->nheaders != b->nheaders)
		return false;
	if (!model_streq(a->method, b->method) ||
	    !model_streq(a->path, b->path) ||
	    !model_streq(a->host, b->host) ||
	    !model_streq(a->body, b->body) ||
	    !model_streq(a->ca_file, b->ca_file))
		return false;
	for (size_t i = 0; i < a->nstatus; i++)
		if (a->status[i].lo != b->status[i].lo ||
		    a->status[i].hi != b->status[i].hi)
			return false;
	for (size_t i = 0; i < a->nheaders; i++)
		if (strcmp(a->headers[i], b->headers[i]))
			return false;
	return true;
}

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
	unsigned full = n->prefix / 8, rest = n->prefix % 8;

	if (n->family != family)
		return false;
	if (memcmp(n->addr, addr, full))
		return false;
	if (rest) {
		uint8_t mask = (uint8_t)(0xff << (8 - rest));
		if ((n->addr[full] & mask) != (addr[full] & mask))
			return false;
	}
	return true;
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
		probe_spec_clear(&ep->probe);
	}
	free(s->eps);
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
	free(m->control.token);
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
	dst->name = NULL;
	dst->eps = NULL;
	dst->neps = 0;
	if (!(dst->name = strdup(src->name)))
		return -1;
	if (src->neps && !(dst->eps = calloc(src->neps, sizeof(*dst->eps)))) {
		model_service_clear(dst);
		return -1;
	}
	for (size_t i = 0; i < src->neps; i++, dst->neps++) {
		const struct model_endpoint *se = &src->eps[i];
		struct model_endpoint *de = &dst->eps[i];
		*de = *se;
		de->region = strdup(se->region);
		de->name = strdup(se->name);
		de->addrs = se->naddrs ? malloc(se->naddrs * sizeof(*de->addrs)) : NULL;
		memset(&de->probe, 0, sizeof(de->probe));
		if (de->addrs) {
			memcpy(de->addrs, se->addrs, se->naddrs * sizeof(*de->addrs));
			for (size_t k = 0; k < se->naddrs; k++)
				de->addrs[k].target = 0;
		}
		if (!de->region || !de->name || (se->naddrs && !de->addrs) ||
		    probe_spec_copy(&de->probe, &se->probe) < 0) {
			dst->neps++;
			model_service_clear(dst);
			return -1;
		}
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

const char *model_probe_type_name(unsigned t)
{
	switch (t) {
	case PROBE_NONE: return "none";
	case PROBE_HTTP: return "http";
	case PROBE_HTTPS: return "https";
	case PROBE_TCP: return "tcp";
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
