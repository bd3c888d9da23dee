/* cfg.c -- see cfg.h: the sections of the file and loading it.  The
 * grammar is docs/examples/gslbd.yaml. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>
#include <yaml.h>

#include "config/cfg_int.h"
#include "config/zonefile.h"
#include "lib/parse.h"
#include "lib/readfile.h"
#include "lib/xalloc.h"

/* ---- server ---- */

static int cfg_listen_one(struct cfg_ctx *c, const yaml_node_t *n,
			  const char *path, uint16_t defport,
			  struct model_listen *l)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *s = cfg_want_str(c, n, path), *port = NULL, *colon;
	struct model_addr a;
	uint64_t pn = defport;
	size_t hl;

	if (!s)
		return -1;
	colon = strchr(s, ':');
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || (rb[1] && rb[1] != ':') || (rb[1] == ':' && !rb[2]))
			goto bad;
		hl = (size_t)(rb - s - 1);
		if (hl >= sizeof(host))
			goto bad;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (rb[1])
			port = rb + 2;
	} else if (colon && !strchr(colon + 1, ':')) {
		/* One colon: IPv4 with a port.  Bare IPv6 has several. */
		hl = (size_t)(colon - s);
		if (hl >= sizeof(host) || !colon[1])
			goto bad;
		memcpy(host, s, hl);
		host[hl] = '\0';
		port = colon + 1;
	} else {
		snprintf(host, sizeof(host), "%s", s);
		if (strlen(s) >= sizeof(host))
			goto bad;
	}
	if (model_addr_parse(&a, host) < 0 ||
	    (s[0] == '[' && a.family != AF_INET6))
		goto bad;
	if (port && (parse_u64(port, &pn) || pn < 1 || pn > 65535)) {
		cfg_error(c, n, "%s: bad port in '%s' (1-65535)", path, s);
		return -1;
	}
	memset(l, 0, sizeof(*l));
	if (a.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&l->ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)pn);
		sin->sin_addr = a.ip.v4;
		l->sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&l->ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)pn);
		sin6->sin6_addr = a.ip.v6;
		l->sslen = sizeof(*sin6);
	}
	return 0;
bad:
	cfg_error(c, n, "%s: bad listen address '%s' (ADDR, ADDR:PORT or "
		  "[IPV6]:PORT)", path, s);
	return -1;
}

static void cfg_listen(struct cfg_ctx *c, const yaml_node_t *n,
		       const char *path, uint16_t port)
{
	struct model_server *srv = &c->m->server;
	size_t len;

	srv->listen = cfg_seq_array(c, n, path, sizeof(*srv->listen),
				    "empty list: nothing to listen on", &len);
	for (size_t i = 0; i < len; i++) {
		char p[CFG_PATH];
		cfg_path_idx(p, path, i);
		if (cfg_listen_one(c, cfg_seq_item(c, n, i), p, port,
				   &srv->listen[srv->nlisten]) == 0)
			srv->nlisten++;
	}
}

static void cfg_listen_default(struct cfg_ctx *c, uint16_t port)
{
	struct model_server *srv = &c->m->server;
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;

	srv->listen = xcalloc(2, sizeof(*srv->listen));
	sin = (struct sockaddr_in *)&srv->listen[0].ss;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv->listen[0].sslen = sizeof(*sin);
	sin6 = (struct sockaddr_in6 *)&srv->listen[1].ss;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	sin6->sin6_addr = in6addr_loopback;
	srv->listen[1].sslen = sizeof(*sin6);
	srv->nlisten = 2;
}

/* Slow and greedy TCP clients (RFC 7766 section 10). */
static void cfg_server_tcp_limits(struct cfg_ctx *c, const yaml_node_t *n,
				  struct model_server *srv)
{
	cfg_opt_ms32(c, n, "server", "tcp-query-timeout", 1,
		     &srv->tcp_query_ms, NULL);
	cfg_opt_ms32(c, n, "server", "tcp-max-lifetime", 1,
		     &srv->tcp_lifetime_ms, NULL);
	cfg_opt_u32(c, n, "server", "tcp-max-per-source", 1, 1000000,
		    &srv->tcp_max_per_source);
}

static void cfg_server(struct cfg_ctx *c, const yaml_node_t *n)
{
	static const char *const keys[] = {
		"listen", "port", "workers", "edns-udp-size",
		"tcp-idle-timeout", "tcp-max-clients", "tcp-query-timeout",
		"tcp-max-lifetime", "tcp-max-per-source", "identity", "version",
		"nsid", "user", "group", "pidfile", "log-level",
		"cookies", "cookie-secret", "cookie-secret-previous", NULL,
	};
	static const char *const levels[] = {
		"err", "warn", "info", "debug", NULL,
	};
	struct model_server *srv = &c->m->server;
	uint32_t port = 53, v;
	yaml_node_t *l;
	int lvl;

	if (n && !cfg_map_check(c, n, "server", keys))
		n = NULL;
	if (!n) {
		cfg_listen_default(c, (uint16_t)port);
		return;
	}
	cfg_opt_u32(c, n, "server", "port", 1, 65535, &port);
	if ((l = cfg_get(c, n, "listen")))
		cfg_listen(c, l, "server.listen", (uint16_t)port);
	else
		cfg_listen_default(c, (uint16_t)port);
	cfg_opt_u32(c, n, "server", "workers", 1, 256, &srv->workers);
	if (cfg_opt_u32(c, n, "server", "edns-udp-size", 512, 4096, &v) == 1)
		srv->edns_udp_size = (uint16_t)v;
	cfg_opt_ms32(c, n, "server", "tcp-idle-timeout", 1, &srv->tcp_idle_ms,
		     NULL);
	cfg_opt_u32(c, n, "server", "tcp-max-clients", 1, 1000000,
		    &srv->tcp_max_clients);
	cfg_server_tcp_limits(c, n, srv);
	cfg_opt_str(c, n, "server", "identity", &srv->identity);
	cfg_opt_str(c, n, "server", "version", &srv->version);
	cfg_opt_str(c, n, "server", "nsid", &srv->nsid);
	/* The NSID rides in every answer's OPT that asks for it: keep it
	 * small enough never to crowd out the answer. */
	if (srv->nsid && strlen(srv->nsid) > 128)
		cfg_error(c, cfg_get(c, n, "nsid"), "server.nsid: at most 128 "
			  "bytes (%zu given)", strlen(srv->nsid));
	cfg_opt_str(c, n, "server", "user", &srv->user);
	cfg_opt_str(c, n, "server", "group", &srv->group);
	cfg_opt_str(c, n, "server", "pidfile", &srv->pidfile);
	if (cfg_opt_enum(c, n, "server", "log-level", levels, "log level",
			 &lvl, NULL) == 1)
		srv->log_level = lvl;
	cfg_cookies(c, n);
}

/* ---- zone ---- */

static void cfg_soa(struct cfg_ctx *c, const yaml_node_t *n)
{
	static const char *const keys[] = {
		"mname", "rname", "serial", "refresh", "retry", "expire",
		"minimum", NULL,
	};
	struct model_zone *z = &c->m->zone;
	yaml_node_t *v;

	if (!cfg_map_check(c, n, "zone.soa", keys))
		return;
	if ((v = cfg_get(c, n, "mname")))
		z->soa_mname = cfg_name(c, v, "zone.soa.mname", CFG_NAME_ABS);
	if ((v = cfg_get(c, n, "rname")))
		z->soa_rname = cfg_name(c, v, "zone.soa.rname",
					CFG_NAME_MAILBOX);
	cfg_opt_u32(c, n, "zone.soa", "serial", 0, UINT32_MAX, &z->soa_serial);
	cfg_opt_ttl(c, n, "zone.soa", "refresh", &z->soa_refresh);
	cfg_opt_ttl(c, n, "zone.soa", "retry", &z->soa_retry);
	cfg_opt_ttl(c, n, "zone.soa", "expire", &z->soa_expire);
	cfg_opt_ttl(c, n, "zone.soa", "minimum", &z->soa_minimum);
}

static void cfg_ns_one(struct cfg_ctx *c, const yaml_node_t *n,
		       const char *path, struct model_ns *ns)
{
	static const char *const keys[] = { "name", "addresses", NULL };
	yaml_node_t *v;
	char p[CFG_PATH];

	if (!cfg_map_check(c, n, path, keys))
		return;
	if ((v = cfg_get(c, n, "addresses"))) {
		cfg_path(p, path, "addresses");
		cfg_addrs(c, v, p, &ns->addrs, &ns->naddrs);
	}
	if (!(v = cfg_require(c, n, path, "name")))
		return;
	cfg_path(p, path, "name");
	if (!(ns->name = cfg_name(c, v, p, CFG_NAME_NS)))
		return;
	/* Resolvers cannot reach an in-zone server without glue. */
	if (c->apex && !ns->naddrs) {
		ldns_rdf *d = ldns_dname_new_frm_str(ns->name);
		if (d && cfg_in_zone(c, d))
			cfg_error(c, n, "%s: name server %s is inside the zone "
				  "and needs glue addresses", path, ns->name);
		ldns_rdf_deep_free(d);
	}
}

static void cfg_nameservers(struct cfg_ctx *c, const yaml_node_t *n)
{
	struct model_zone *z = &c->m->zone;
	size_t len;

	z->ns = cfg_seq_array(c, n, "zone.nameservers", sizeof(*z->ns),
			      "at least one name server is required", &len);
	for (size_t i = 0; i < len; i++) {
		const yaml_node_t *it = cfg_seq_item(c, n, i);
		char p[CFG_PATH];

		cfg_path_idx(p, "zone.nameservers", i);
		cfg_ns_one(c, it, p, &z->ns[z->nns]);
		for (size_t j = 0; z->ns[z->nns].name && j < z->nns; j++) {
			if (z->ns[j].name &&
			    !strcmp(z->ns[j].name, z->ns[z->nns].name)) {
				cfg_error(c, it, "%s: duplicate name server "
					  "%s", p, z->ns[j].name);
				break;
			}
		}
		z->nns++;
	}
}

static void cfg_zone_file_path(struct cfg_ctx *c, const yaml_node_t *n)
{
	struct model_zone *z = &c->m->zone;
	const char *s = cfg_want_str(c, n, "zone.zone-file");

	c->zone_file_node = n;
	if (!s)
		return;
	if (!*s) {
		cfg_error(c, n, "zone.zone-file: empty string");
		return;
	}
	z->zone_file = cfg_path_join(c->dir, s);
}

static void cfg_zone(struct cfg_ctx *c, const yaml_node_t *n)
{
	static const char *const keys[] = {
		"name", "ttl", "soa", "nameservers", "zone-file", NULL,
	};
	struct model_zone *z = &c->m->zone;
	yaml_node_t *v;

	if (!cfg_map_check(c, n, "zone", keys))
		return;
	/* The apex first: every relative name below is joined to it. */
	if ((v = cfg_require(c, n, "zone", "name")) &&
	    (z->apex = cfg_name(c, v, "zone.name", CFG_NAME_ABS))) {
		if (!strcmp(z->apex, ".")) {
			/* A GSLB serves a delegated zone; the root has no
			 * parent to delegate it. */
			cfg_error(c, v, "zone.name: the root zone cannot be served");
			free(z->apex);
			z->apex = NULL;
		} else if (!(c->apex = ldns_dname_new_frm_str(z->apex))) {
			xalloc_die(strlen(z->apex)); /* cfg_name checked it */
		}
	}
	cfg_opt_ttl(c, n, "zone", "ttl", &z->ttl);
	if ((v = cfg_get(c, n, "soa")))
		cfg_soa(c, v);
	if ((v = cfg_require(c, n, "zone", "nameservers")))
		cfg_nameservers(c, v);
	if ((v = cfg_get(c, n, "zone-file")))
		cfg_zone_file_path(c, v);
}

/* ---- kubernetes ---- */

/* A path as written, or joined to the config file's directory. */
static char *cfg_rel_path(struct cfg_ctx *c, const char *s)
{
	return cfg_path_join(c->dir, s);
}

static void cfg_kube_path(struct cfg_ctx *c, const yaml_node_t *n,
			  const char *key, char **out)
{
	char *s = NULL, *full;

	if (cfg_opt_str(c, n, "kubernetes", key, &s) != 1)
		return;
	full = cfg_rel_path(c, s);
	free(s);
	free(*out);
	*out = full;
}

/* RFC 1123 label, as Kubernetes requires of namespace names. */
static bool cfg_k8s_label(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= '0' && *s <= '9') &&
		    *s != '-')
			return false;
	return true;
}

static void cfg_kube_namespaces(struct cfg_ctx *c, const yaml_node_t *n)
{
	struct model_kube *k = &c->m->kube;
	const char *path = "kubernetes.namespaces";
	size_t len;

	if (!cfg_want_seq(c, n, path))
		return;
	len = cfg_seq_len(n);
	if (!len) {
		cfg_error(c, n, "%s: empty list (omit the key to watch every "
			  "namespace)", path);
		return;
	}
	k->namespaces = xcalloc(len, sizeof(*k->namespaces));
	for (size_t i = 0; i < len; i++) {
		const yaml_node_t *it = cfg_seq_item(c, n, i);
		char p[CFG_PATH];
		const char *s;
		bool dup = false;

		cfg_path_idx(p, path, i);
		if (!(s = cfg_want_str(c, it, p)))
			continue;
		if (!cfg_k8s_label(s)) {
			cfg_error(c, it, "%s: '%s' is not a valid namespace "
				  "name (lower-case letters, digits and '-', "
				  "up to 63)", p, s);
			continue;
		}
		for (size_t j = 0; j < k->nnamespaces && !dup; j++)
			dup = !strcmp(k->namespaces[j], s);
		if (dup) {
			cfg_error(c, it, "%s: duplicate namespace '%s'", p, s);
			continue;
		}
		k->namespaces[k->nnamespaces++] = xstrdup(s);
	}
}

static void cfg_kube(struct cfg_ctx *c, const yaml_node_t *n)
{
	static const char *const keys[] = {
		"kubeconfig", "context", "namespaces", "kubefed-namespace",
		"cache-file", "resync", "timeout", "dnsendpoints", "policy",
		"ttl", "max-answers", "ingressdnsrecords", NULL,
	};
	static const char *const policies[] = { "all", "failover",
						"weighted", "topology", NULL };
	struct model_kube *k = &c->m->kube;
	const yaml_node_t *v;
	int i;

	k->enabled = true;
	k->resync_ms = 10 * 60 * 1000;
	k->timeout_ms = 10 * 1000;
	k->dnsendpoints = true;
	k->policy = POLICY_ALL;
	k->ttl = 30;
	k->max_answers = 8;
	k->ingressdnsrecords = true;
	k->kubefed_namespace = xstrdup("kube-federation-system");
	/* "kubernetes:" alone: in-cluster credentials, every default. */
	if (cfg_is_null(n) || !cfg_map_check(c, n, "kubernetes", keys))
		return;
	cfg_kube_path(c, n, "kubeconfig", &k->kubeconfig);
	cfg_opt_str(c, n, "kubernetes", "context", &k->context);
	if ((v = cfg_get(c, n, "namespaces")))
		cfg_kube_namespaces(c, v);
	if (cfg_opt_str(c, n, "kubernetes", "kubefed-namespace",
			&k->kubefed_namespace) == 1 &&
	    !cfg_k8s_label(k->kubefed_namespace))
		cfg_error(c, cfg_get(c, n, "kubefed-namespace"),
			  "kubernetes.kubefed-namespace: '%s' is not a valid "
			  "namespace name", k->kubefed_namespace);
	cfg_kube_path(c, n, "cache-file", &k->cache_file);
	cfg_opt_ms32(c, n, "kubernetes", "resync", 1000, &k->resync_ms, NULL);
	cfg_opt_ms32(c, n, "kubernetes", "timeout", 100, &k->timeout_ms,
		     NULL);
	cfg_opt_bool(c, n, "kubernetes", "dnsendpoints", &k->dnsendpoints);
	if (cfg_opt_enum(c, n, "kubernetes", "policy", policies, "policy", &i,
			 NULL) == 1)
		k->policy = (enum model_policy)i;
	cfg_opt_ttl(c, n, "kubernetes", "ttl", &k->ttl);
	cfg_opt_u32(c, n, "kubernetes", "max-answers", 0, 65535,
		    &k->max_answers);
	cfg_opt_bool(c, n, "kubernetes", "ingressdnsrecords",
		     &k->ingressdnsrecords);
}

/* ---- control ---- */

/* 127.0.0.1:8053: the control API is on unless disabled, and never on a
 * public address unless configured (see cfg_control). */
static void cfg_control_defaults(struct model_control *ctl)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&ctl->listen.ss;

	ctl->enabled = true;
	ctl->max_connections = 32;
	ctl->request_ms = 10000;
	memset(&ctl->listen, 0, sizeof(ctl->listen));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(8053);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ctl->listen.sslen = sizeof(*sin);
}

static void cfg_control(struct cfg_ctx *c, const yaml_node_t *n)
{
	static const char *const keys[] = {
		"enabled", "listen", "token", "metrics-per-target",
		"max-connections", "request-timeout", NULL,
	};
	struct model_control *ctl = &c->m->control;
	const yaml_node_t *l;

	/* "control:" alone: every default. */
	if (cfg_is_null(n) || !cfg_map_check(c, n, "control", keys))
		return;
	cfg_opt_bool(c, n, "control", "enabled", &ctl->enabled);
	if ((l = cfg_get(c, n, "listen")))
		cfg_listen_one(c, l, "control.listen", 8053, &ctl->listen);
	if (cfg_opt_str(c, n, "control", "token", &ctl->token) == 1 &&
	    parse_has_ctl(ctl->token, false))
		cfg_error(c, cfg_get(c, n, "token"), "control.token: spaces "
			  "or control characters");
	cfg_opt_bool(c, n, "control", "metrics-per-target",
		     &ctl->metrics_per_target);
	cfg_opt_u32(c, n, "control", "max-connections", 1, 100000,
		    &ctl->max_connections);
	cfg_opt_ms32(c, n, "control", "request-timeout", 1,
		     &ctl->request_ms, NULL);
	/* Admin actions and reloads are not for the whole network to take:
	 * an address others can reach must come with a token. */
	if (ctl->enabled && !ctl->token && !model_listen_is_loopback(&ctl->listen))
		cfg_error(c, l ? l : n, "control.listen: a non-loopback "
			  "address needs control.token");
}

/* ---- top level ---- */

static void cfg_root(struct cfg_ctx *c, const yaml_node_t *root)
{
	static const char *const keys[] = {
		"server", "zone", "probe-defaults", "topology", "services",
		"kubernetes", "control", "rate-limit", "resolver", "dnssec",
		NULL,
	};
	struct cfg_probe_src *layers[] = { &c->defaults };
	struct probe_spec resolved;
	const yaml_node_t *v;

	if (!root) {
		cfg_error_at(c, 1, 1, "empty configuration: the zone section "
			     "is required");
		return;
	}
	if (!cfg_map_check(c, root, "", keys))
		return;
	if ((v = cfg_get(c, root, "zone")))
		cfg_zone(c, v);
	else
		cfg_error(c, root, "missing required key 'zone' at the top "
			  "level");
	cfg_server(c, cfg_get(c, root, "server"));
	if ((v = cfg_get(c, root, "probe-defaults"))) {
		cfg_probe(c, v, "probe-defaults", &c->defaults);
		/*
		 * Checked alone too, as Kubernetes services start from it;
		 * but a tcp type may get its port from each service.
		 */
		probe_spec_copy(&resolved, &c->defaults.ps);
		probe_spec_finish(&resolved);
		cfg_probe_check(c, &resolved, layers, 1, false);
		probe_spec_clear(&resolved);
	}
	if ((v = cfg_get(c, root, "topology")))
		cfg_topology(c, v);
	if ((v = cfg_get(c, root, "services")))
		cfg_services(c, v);
	if ((v = cfg_get(c, root, "kubernetes")))
		cfg_kube(c, v);
	if ((v = cfg_get(c, root, "control")))
		cfg_control(c, v);
	if ((v = cfg_get(c, root, "rate-limit")))
		cfg_rate_limit(c, v);
	if ((v = cfg_get(c, root, "resolver")))
		cfg_resolver(c, v);
	cfg_zone_file_load(c);
	cfg_service_conflicts(c);
	cfg_service_dname_conflicts(c);
	cfg_fill_defaults(c);
	if ((v = cfg_get(c, root, "dnssec")))
		cfg_dnssec(c, v);
}

static void cfg_model_init(struct model *m)
{
	m->server.edns_udp_size = 1232;
	m->server.log_level = -1;
	m->server.tcp_idle_ms = 10000;
	m->server.tcp_max_clients = 256;
	m->server.tcp_query_ms = 5000;
	m->server.tcp_lifetime_ms = 120000;
	m->server.tcp_max_per_source = 16;
	m->zone.ttl = 3600;
	m->zone.soa_refresh = 3600;
	m->zone.soa_retry = 600;
	m->zone.soa_expire = 604800;
	m->zone.soa_minimum = 60;
	cfg_control_defaults(&m->control);
	cfg_rrl_defaults(m);
	cfg_resolver_defaults(&m->resolver);
}

char *cfg_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return xstrdup(".");
	if (slash == path)
		return xstrdup("/");
	return xstrndup(path, (size_t)(slash - path));
}

char *cfg_path_join(const char *dir, const char *rel)
{
	if (rel[0] == '/' || !dir)
		return xstrdup(rel);
	return xasprintf("%s/%s", dir, rel);
}

struct model *cfg_load_string(const char *name, const char *text,
			      cfg_err_fn err, void *arg)
{
	struct cfg_ctx c = { .name = name, .err = err, .arg = arg };

	c.m = xcalloc(1, sizeof(*c.m));
	c.dir = cfg_dirname(name);
	c.m->path = xstrdup(name);
	cfg_model_init(c.m);
	if (cfg_yaml_load(&c, text, strlen(text)) == 0)
		cfg_root(&c, cfg_yaml_root(&c));
	cfg_yaml_free(&c);
	c.m->probe_defaults = c.defaults.ps; /* given fields only */
	memset(&c.defaults.ps, 0, sizeof(c.defaults.ps));
	cfg_flush(&c);
	ldns_rdf_deep_free(c.apex);
	free(c.svc_names);
	free(c.dir);
	if (c.nerr) {
		model_free(c.m);
		return NULL;
	}
	return c.m;
}

/* The whole file as a string; NULL with line set on failure. */
static char *cfg_slurp(const char *path, char *line, size_t linelen)
{
	struct readfile_pos pos;
	char why[256];
	size_t len;
	char *buf = readfile_text(path, READFILE_MAX, &len, &pos, why,
				  sizeof(why));

	if (!buf)
		snprintf(line, linelen, "%s:%u:%u: %s", path,
			 pos.line ? pos.line : 1, pos.line ? pos.col : 1, why);
	return buf;
}

struct model *cfg_load(const char *path, cfg_err_fn err, void *arg)
{
	char line[1024];
	struct model *m;
	char *buf = cfg_slurp(path, line, sizeof(line));

	if (!buf) {
		if (err)
			err(arg, line);
		return NULL;
	}
	m = cfg_load_string(path, buf, err, arg);
	free(buf);
	return m;
}
