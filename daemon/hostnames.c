/*
 * hostnames.c -- load balancers known by host name (an AWS ELB in a
 * KubeFed record, `hostnames:` in the config file): the resolver keeps
 * their addresses, and every composed copy of a service gets them added
 * to the endpoint that names the host, once per name (RFC 2181 5).  The
 * sources' own services never change; a change of addresses recomposes
 * the live list the way a Kubernetes relist does, so targets, probes and
 * the snapshot follow on the one path that already handles them.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "config/model.h"
#include "daemon/daemon.h"
#include "daemon/daemon_int.h"
#include "lib/log.h"
#include "lib/resolver.h"
#include "lib/xalloc.h"

static struct resolver_conf hn_conf(const struct model *m)
{
	const struct model_resolver *r = &m->resolver;
	struct resolver_conf c = {
		.servers = (const char *const *)r->servers,
		.nservers = r->nservers,
		.min_ttl_ms = r->min_ttl_ms, .max_ttl_ms = r->max_ttl_ms,
		.keep_ms = r->keep_ms, .timeout_ms = r->timeout_ms,
	};

	return c;
}

bool daemon_hostnames_needed(const struct model *m)
{
	return m->kube.enabled || model_has_hostnames(m);
}

static int hn_str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool hn_uses(const struct model_service *s, const char *const *hosts,
		    size_t nh)
{
	for (size_t i = 0; i < s->neps; i++)
		for (size_t j = 0; j < s->eps[i].nhostnames; j++)
			if (bsearch(&s->eps[i].hostnames[j], hosts, nh,
				    sizeof(*hosts), hn_str_cmp))
				return true;
	return false;
}

/* The services that name one of hosts (sorted), merged in place the way
 * a Kubernetes change of a few names is, when all of them come from the
 * Kubernetes source.  1: done; 0: take the full path. */
static int hn_patch(struct gslbd *g, const char *const *hosts, size_t nh)
{
	const struct model *m = g->model;
	char **names = NULL;
	size_t n = 0;
	int rc = 0;

	for (size_t i = 0; i < m->nsvcs; i++) {
		const struct model_service *s = &m->svcs[i];
		if (!hn_uses(s, hosts, nh))
			continue;
		if (!s->source || strcmp(s->source, "kube"))
			goto out;
		names = xreallocarray(names, n + 1, sizeof(*names));
		names[n++] = xstrdup(s->name);
	}
	qsort(names, n, sizeof(*names), hn_str_cmp);
	rc = n ? daemon_kube_patch(g, (const char *const *)names, n) : 1;
	if (rc == 1)
		log_debug("hostname change merged services=%zu", n);
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return rc == 1;
}

/* Addresses changed: the services naming those hosts merged in place,
 * or the live list composed again, as after a Kubernetes relist. */
static void hn_changed(void *arg)
{
	struct gslbd *g = arg;
	const char *const *hosts;
	size_t nh;

	/* The live list is the config's own (nothing to compose into). */
	if (!daemon_hostnames_needed(g->model))
		return;
	if (resolver_take_changes(g->resolver, &hosts, &nh) && g->kube &&
	    hn_patch(g, hosts, nh))
		return;
	log_debug("hostname addresses changed, recomposing services");
	daemon_services_changed(g);
}

int daemon_hostnames_prepare(struct gslbd *g, const struct model *m,
			     char *err, size_t errlen)
{
	struct resolver_conf c = hn_conf(m);

	if (g->resolver || !daemon_hostnames_needed(m))
		return 0;
	g->resolver = resolver_new(g->base, &c, hn_changed, g, err, errlen);
	return g->resolver ? 0 : -1;
}

void daemon_hostnames_configure(struct gslbd *g, const struct model *m)
{
	struct resolver_conf c = hn_conf(m);
	char err[256];

	if (!daemon_hostnames_needed(m)) {
		daemon_hostnames_free(g);
		return;
	}
	if (g->resolver && resolver_configure(g->resolver, &c, err,
					      sizeof(err)) < 0)
		log_err("resolver settings not applied, keeping the previous "
			"ones reason=\"%s\"", err);
}

void daemon_hostnames_begin(struct gslbd *g)
{
	if (g->resolver)
		resolver_begin(g->resolver);
}

void daemon_hostnames_end(struct gslbd *g)
{
	if (g->resolver)
		resolver_end(g->resolver);
}

void daemon_hostnames_fill(struct gslbd *g, struct model_service *s)
{
	bool any = false;

	if (!g->resolver)
		return;
	for (size_t i = 0; i < s->neps; i++) {
		struct model_endpoint *ep = &s->eps[i];

		for (size_t j = 0; j < ep->nhostnames; j++) {
			const struct resolver_addr *a;
			size_t n;

			resolver_want(g->resolver, ep->hostnames[j]);
			if (!(n = resolver_get(g->resolver, ep->hostnames[j],
					       &a)))
				continue;
			ep->addrs = xreallocarray(ep->addrs, ep->naddrs + n,
						  sizeof(*ep->addrs));
			for (size_t k = 0; k < n; k++) {
				struct model_addr *d = &ep->addrs[ep->naddrs++];
				memset(d, 0, sizeof(*d));
				d->family = a[k].family;
				memcpy(&d->ip, a[k].ip, a[k].family == AF_INET ?
				       4 : 16);
			}
			any = true;
		}
	}
	if (any)
		model_service_dedup(s);
}

void daemon_hostnames_free(struct gslbd *g)
{
	resolver_free(g->resolver);
	g->resolver = NULL;
}
