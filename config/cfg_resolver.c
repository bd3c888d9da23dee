/* cfg_resolver.c -- the `resolver:` section and an endpoint's
 * `hostnames:` (load balancers known by name, resolved by the daemon). */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/util.h>

#include "config/cfg_int.h"
#include "lib/xalloc.h"

/* Defaults: a load balancer's name is looked up again when its TTL runs
 * out, but not more often than every 5 s nor less than every 5 min; when
 * lookups fail its last addresses serve 10 more minutes. */
void cfg_resolver_defaults(struct model_resolver *r)
{
	r->min_ttl_ms = 5000;
	r->max_ttl_ms = 300000;
	r->keep_ms = 600000;
	r->timeout_ms = 2000;
}

/* "ip", "ip:port" or "[ipv6]:port", as evdns takes it. */
static bool cfg_server_ok(const char *s)
{
	struct sockaddr_storage ss;
	int len = (int)sizeof(ss);

	return evutil_parse_sockaddr_port(s, (struct sockaddr *)&ss,
					  &len) == 0;
}

static void cfg_resolver_servers(struct cfg_ctx *c, const yaml_node_t *v)
{
	struct model_resolver *r = &c->m->resolver;
	size_t len;

	r->servers = cfg_seq_array(c, v, "resolver.servers",
				   sizeof(*r->servers), NULL, &len);
	for (size_t i = 0; i < len; i++) {
		const yaml_node_t *it = cfg_seq_item(c, v, i);
		char p[CFG_PATH];
		const char *s;

		cfg_path_idx(p, "resolver.servers", i);
		if (!(s = cfg_want_str(c, it, p)))
			continue;
		if (!cfg_server_ok(s)) {
			cfg_error(c, it, "%s: '%s' is not an address (ip, "
				  "ip:port or [ipv6]:port)", p, s);
			continue;
		}
		r->servers[r->nservers++] = xstrdup(s);
	}
}

void cfg_resolver(struct cfg_ctx *c, const yaml_node_t *n)
{
	static const char *const keys[] = {
		"servers", "min-ttl", "max-ttl", "keep-stale", "timeout", NULL,
	};
	struct model_resolver *r = &c->m->resolver;
	const yaml_node_t *v, *where = NULL;

	if (cfg_is_null(n) || !cfg_map_check(c, n, "resolver", keys))
		return;
	if ((v = cfg_get(c, n, "servers")))
		cfg_resolver_servers(c, v);
	cfg_opt_ms32(c, n, "resolver", "min-ttl", 100, &r->min_ttl_ms, NULL);
	cfg_opt_ms32(c, n, "resolver", "max-ttl", 100, &r->max_ttl_ms,
		     &where);
	cfg_opt_ms32(c, n, "resolver", "keep-stale", 0, &r->keep_ms, NULL);
	cfg_opt_ms32(c, n, "resolver", "timeout", 100, &r->timeout_ms, NULL);
	if (r->max_ttl_ms < r->min_ttl_ms)
		cfg_error(c, where ? where : n, "resolver.max-ttl: %ums is "
			  "less than min-ttl %ums", r->max_ttl_ms,
			  r->min_ttl_ms);
}

/* A host name: letters, digits, '-' and '_' in labels of 1-63, 253 in
 * all; lower-cased, without a final dot, into a new string (NULL: bad). */
static char *cfg_hostname(const char *s)
{
	size_t len = strlen(s), lab = 0;
	char *out;

	if (len && s[len - 1] == '.')
		len--;
	if (!len || len > 253)
		return NULL;
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch == '.') {
			if (!lab)
				return NULL;
			lab = 0;
			continue;
		}
		if (!isalnum(ch) && ch != '-' && ch != '_')
			return NULL;
		if (++lab > 63)
			return NULL;
	}
	out = xstrndup(s, len);
	for (size_t i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)out[i]);
	return out;
}

void cfg_hostnames(struct cfg_ctx *c, const yaml_node_t *v, const char *path,
		   struct model_endpoint *ep)
{
	size_t len;

	ep->hostnames = cfg_seq_array(c, v, path, sizeof(*ep->hostnames),
				      NULL, &len);
	for (size_t i = 0; i < len; i++) {
		const yaml_node_t *it = cfg_seq_item(c, v, i);
		char p[CFG_PATH], *h;
		const char *s;
		bool dup = false;

		cfg_path_idx(p, path, i);
		if (!(s = cfg_want_str(c, it, p)))
			continue;
		struct model_addr a;
		if (model_addr_parse(&a, s) == 0) {
			/* It would be looked up as a name and never resolve. */
			cfg_error(c, it, "%s: '%s' is an address: list it under "
				  "'addresses'", p, s);
			continue;
		}
		if (!(h = cfg_hostname(s))) {
			cfg_error(c, it, "%s: '%s' is not a host name", p, s);
			continue;
		}
		for (size_t j = 0; j < ep->nhostnames && !dup; j++)
			dup = !strcmp(ep->hostnames[j], h);
		if (dup) {
			cfg_error(c, it, "%s: '%s' is listed twice", p, s);
			free(h);
			continue;
		}
		ep->hostnames[ep->nhostnames++] = h;
	}
}
