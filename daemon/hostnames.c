/*
 * hostnames.c -- load balancers known by host name (an AWS ELB in a
 * KubeFed record, `hostnames:` in the config file): the resolver keeps
 * their addresses, and every composed copy of a service gets them added
 * to the endpoint that names the host, once per name (RFC 2181 5).  The
 * sources' own services never change; what a change of addresses does
 * to the live list is services.c's (daemon_hostnames_changed), passed to
 * the resolver by the caller so this file calls nothing above it.
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

int daemon_hostnames_prepare(struct gslbd *g, const struct model *m,
			     void (*changed)(void *g), char *err, size_t errlen)
{
	struct resolver_conf c = hn_conf(m);

	if (g->resolver || !daemon_hostnames_needed(m))
		return 0;
	g->resolver = resolver_new(g->base, &c, changed, g, err, errlen);
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
