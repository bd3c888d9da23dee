/* cfg_service.c -- services, endpoints, probe settings and their
 * layering, topology, and the checks across them.  See cfg_int.h. */
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
#include "lib/xalloc.h"

/* ---- probes ---- */

/* A setting's value was read (rc 0) or is reported at n. */
static void cfg_probe_report(struct cfg_ctx *c, const yaml_node_t *n,
			     const char *path, int rc, const char *err)
{
	if (rc < 0)
		cfg_error(c, n, "%s: %s", path, err);
}

/* A list setting: a YAML list, or (PSF_ONE) a single item alone, as in
 * "expect-status: 200".  An empty list is a value too: no headers. */
static void cfg_probe_list(struct cfg_ctx *c, const yaml_node_t *n,
			   const char *path, const struct probe_spec_field *f,
			   struct probe_spec *ps)
{
	bool seq = n->type == YAML_SEQUENCE_NODE;
	size_t len = seq ? cfg_seq_len(n) : 1;
	char err[PARSE_ERRLEN];

	if (!seq && (n->type == YAML_MAPPING_NODE || !(f->flags & PSF_ONE))) {
		cfg_error(c, n, "%s: expected a list", path);
		return;
	}
	if (!len) {
		int rc = probe_spec_list_check(ps, f, err, sizeof(err));
		cfg_probe_report(c, n, path, rc, err);
		if (rc == 0)
			ps->set |= f->bit;
		return;
	}
	for (size_t i = 0; i < len; i++) {
		const yaml_node_t *it = seq ? cfg_seq_item(c, n, i) : n;
		char p[CFG_PATH];
		const char *s;

		cfg_path_idx(p, path, i);
		if ((s = cfg_want_str(c, it, p)))
			cfg_probe_report(c, it, p, probe_spec_parse_item(ps, f,
					 s, err, sizeof(err)), err);
	}
}

/* A single value: numbers and booleans are plain YAML scalars (a quoted
 * "80" is a string), everything else any string. */
static void cfg_probe_value(struct cfg_ctx *c, const yaml_node_t *n,
			    const char *path, const struct probe_spec_field *f,
			    struct probe_spec *ps)
{
	char err[PARSE_ERRLEN];
	const char *s;

	if (f->kind == PSK_UINT || f->kind == PSK_BOOL)
		s = cfg_plain(n);
	else if (!(s = cfg_want_str(c, n, path)))
		return;
	cfg_probe_report(c, n, path, probe_spec_parse(ps, f, s, err,
			 sizeof(err)), err);
}

void cfg_probe(struct cfg_ctx *c, const yaml_node_t *n,
	       const char *path, struct cfg_probe_src *src)
{
	const char *keys[PROBE_SPEC_NFIELDS + 1] = { NULL };

	snprintf(src->path, sizeof(src->path), "%s", path);
	src->node = n;
	for (size_t i = 0; i < PROBE_SPEC_NFIELDS; i++)
		keys[i] = probe_spec_fields[i].key;
	if (!cfg_map_check(c, n, path, keys))
		return;
	for (size_t i = 0; i < PROBE_SPEC_NFIELDS; i++) {
		const struct probe_spec_field *f = &probe_spec_fields[i];
		const yaml_node_t *v = cfg_get(c, n, f->key);
		char p[CFG_PATH];

		if (!v)
			continue;
		src->where[i] = v;
		cfg_path(p, path, f->key);
		if (f->kind == PSK_STATUS || f->kind == PSK_HEADERS)
			cfg_probe_list(c, v, p, f, &src->ps);
		else
			cfg_probe_value(c, v, p, f, &src->ps);
	}
}

/* The most specific of n layers (most specific first) that set any of
 * bits; NULL when none did. */
static struct cfg_probe_src *cfg_probe_blame(struct cfg_probe_src **layers,
					     size_t n, uint32_t bits)
{
	for (size_t i = 0; i < n; i++)
		if (layers[i] && (layers[i]->ps.set & bits))
			return layers[i];
	return NULL;
}

/*
 * Problems that show only once layers combine (a service timeout over
 * the default interval) are blamed on the most specific layer that set
 * one of the fields involved, and only once per layer.
 */
void cfg_probe_check(struct cfg_ctx *c, const struct probe_spec *ps,
		     struct cfg_probe_src **layers, size_t n,
		     bool need_port)
{
	struct cfg_probe_src *b;

	if (ps->type != PROBE_NONE && ps->timeout_ms > ps->interval_ms &&
	    (b = cfg_probe_blame(layers, n, PS_TIMEOUT | PS_INTERVAL)) &&
	    !b->reported) {
		b->reported = true;
		cfg_error(c, CFG_WHERE(b, PS_TIMEOUT) ?
			  CFG_WHERE(b, PS_TIMEOUT) : CFG_WHERE(b, PS_INTERVAL),
			  "%s: probe timeout (%ums) must not exceed the "
			  "interval (%ums)", b->path, ps->timeout_ms,
			  ps->interval_ms);
	}
	if (ps->type != PROBE_NONE && ps->jitter_ms > ps->interval_ms &&
	    (b = cfg_probe_blame(layers, n, PS_JITTER | PS_INTERVAL)) &&
	    !b->reported) {
		b->reported = true;
		cfg_error(c, CFG_WHERE(b, PS_JITTER) ?
			  CFG_WHERE(b, PS_JITTER) : CFG_WHERE(b, PS_INTERVAL),
			  "%s: probe jitter (%ums) must not exceed the "
			  "interval (%ums)", b->path, ps->jitter_ms,
			  ps->interval_ms);
	}
	if (need_port && ps->type == PROBE_TCP && !ps->port &&
	    (b = cfg_probe_blame(layers, n, PS_TYPE)) && !b->reported) {
		b->reported = true;
		cfg_error(c, CFG_WHERE(b, PS_TYPE), "%s: probe type tcp needs "
			  "a port", b->path);
	}
}

/* built-in <- probe-defaults <- service <- endpoint, into out. */
static void cfg_probe_resolve(struct cfg_ctx *c, struct probe_spec *out,
			      struct cfg_probe_src *svc,
			      struct cfg_probe_src *ep)
{
	struct cfg_probe_src *layers[] = { ep, svc, &c->defaults };

	memset(out, 0, sizeof(*out));
	probe_spec_overlay(out, &c->defaults.ps);
	if (svc)
		probe_spec_overlay(out, &svc->ps);
	if (ep)
		probe_spec_overlay(out, &ep->ps);
	probe_spec_finish(out);
	cfg_probe_check(c, out, layers, sizeof(layers) / sizeof(layers[0]),
			true);
}

/* ---- topology ---- */

static bool cfg_net_eq(const struct model_net *a, const struct model_net *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

/*
 * The region (0..k) that already maps net, or NULL.  The same prefix in
 * two regions would make the answer depend on list order.
 */
static const char *cfg_topo_owner(struct cfg_ctx *c, size_t k,
				  const struct model_net *net)
{
	const struct model_topology *t = c->m->topo;

	for (size_t j = 0; j <= k; j++)
		for (size_t i = 0; i < t[j].nnets; i++)
			if (cfg_net_eq(&t[j].nets[i], net))
				return t[j].region ? t[j].region : "?";
	return NULL;
}

static void cfg_topo_subnets(struct cfg_ctx *c, const yaml_node_t *v,
			     const char *path, size_t k)
{
	struct model_topology *t = &c->m->topo[k];
	size_t len;

	t->nets = cfg_seq_array(c, v, path, sizeof(*t->nets), "empty list",
				&len);
	for (size_t i = 0; i < len; i++) {
		const yaml_node_t *it = cfg_seq_item(c, v, i);
		struct model_net *net = &t->nets[t->nnets];
		char ip[CFG_PATH];
		const char *s, *owner;

		cfg_path_idx(ip, path, i);
		if (!(s = cfg_want_str(c, it, ip)))
			continue;
		if (model_net_parse(net, s) < 0) {
			cfg_error(c, it, "%s: bad subnet '%s' (ADDR/BITS with "
				  "the host bits zero)", ip, s);
			continue;
		}
		if ((owner = cfg_topo_owner(c, k, net))) {
			cfg_error(c, it, "%s: %s is already mapped to region "
				  "'%s'", ip, s, owner);
			continue;
		}
		t->nnets++;
	}
}

static void cfg_topo_one(struct cfg_ctx *c, const yaml_node_t *n,
			 const char *path, size_t k)
{
	static const char *const keys[] = { "region", "subnets", NULL };
	struct model_topology *t = &c->m->topo[k];
	const yaml_node_t *v;
	char p[CFG_PATH];

	if (!cfg_map_check(c, n, path, keys))
		return;
	if ((v = cfg_require(c, n, path, "region")) &&
	    cfg_opt_str(c, n, path, "region", &t->region) == 1) {
		for (size_t j = 0; j < k; j++)
			if (c->m->topo[j].region &&
			    !strcmp(c->m->topo[j].region, t->region))
				cfg_error(c, v, "%s: duplicate region '%s' "
					  "(list all its subnets in one "
					  "entry)", path, t->region);
	}
	if (!(v = cfg_require(c, n, path, "subnets")))
		return;
	cfg_path(p, path, "subnets");
	cfg_topo_subnets(c, v, p, k);
}

void cfg_topology(struct cfg_ctx *c, const yaml_node_t *n)
{
	size_t len;

	c->m->topo = cfg_seq_array(c, n, "topology", sizeof(*c->m->topo), NULL,
				   &len);
	for (size_t i = 0; i < len; i++) {
		const yaml_node_t *it = cfg_seq_item(c, n, i);
		char p[CFG_PATH];

		cfg_path_idx(p, "topology", i);
		c->m->ntopo++;
		cfg_topo_one(c, it, p, i);
	}
}

/* ---- services ---- */

static void cfg_endpoint(struct cfg_ctx *c, const yaml_node_t *n,
			 const char *path, struct model_endpoint *ep,
			 struct cfg_probe_src *svc_probe)
{
	static const char *const keys[] = {
		"region", "name", "addresses", "hostnames", "weight",
		"priority", "enabled", "probe", NULL,
	};
	struct cfg_probe_src src = { 0 };
	const yaml_node_t *v;
	char p[CFG_PATH];

	ep->weight = 1;
	ep->priority = 1;
	ep->enabled = true;
	if (!cfg_map_check(c, n, path, keys))
		return;
	if (cfg_require(c, n, path, "region"))
		cfg_opt_str(c, n, path, "region", &ep->region);
	cfg_opt_str(c, n, path, "name", &ep->name);
	if (!ep->name && ep->region)
		ep->name = xstrdup(ep->region);
	if ((v = cfg_get(c, n, "hostnames"))) {
		cfg_path(p, path, "hostnames");
		cfg_hostnames(c, v, p, ep);
	}
	if ((v = cfg_get(c, n, "addresses"))) {
		cfg_path(p, path, "addresses");
		if (cfg_addrs(c, v, p, &ep->addrs, &ep->naddrs) == 0 &&
		    !ep->naddrs && !ep->nhostnames)
			cfg_error(c, v, "%s: an endpoint needs at least one "
				  "address", p);
	} else if (!ep->nhostnames) {
		cfg_error(c, n, "%s: an endpoint needs addresses "
			  "(missing key 'addresses' or 'hostnames')", path);
	}
	cfg_opt_u32(c, n, path, "weight", 0, 1000000, &ep->weight);
	cfg_opt_u32(c, n, path, "priority", 0, 1000000, &ep->priority);
	cfg_opt_bool(c, n, path, "enabled", &ep->enabled);
	if ((v = cfg_get(c, n, "probe"))) {
		cfg_path(p, path, "probe");
		cfg_probe(c, v, p, &src);
	}
	cfg_probe_resolve(c, &ep->probe, svc_probe, v ? &src : NULL);
	probe_spec_clear(&src.ps);
}

/* Duplicate service names, found by sorting (a config may hold 100,000
 * services: comparing every pair would take minutes). */
static const struct model_service *cfg_dup_base;

static int cfg_svc_idx_cmp(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	const char *x = cfg_dup_base[i].name, *y = cfg_dup_base[j].name;
	int r = strcmp(x ? x : "", y ? y : "");
	return r ? r : (i < j ? -1 : i > j);
}

static void cfg_services_dups(struct cfg_ctx *c, struct model *m)
{
	size_t n = m->nsvcs, *idx = xcalloc(n, sizeof(*idx));

	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	cfg_dup_base = m->svcs;
	qsort(idx, n, sizeof(*idx), cfg_svc_idx_cmp);
	/* Equal names sort together, the first written first. */
	for (size_t run = 0; run < n;) {
		const char *name = m->svcs[idx[run]].name;
		size_t k = run + 1;
		for (; k < n && name && m->svcs[idx[k]].name &&
		       !strcmp(m->svcs[idx[k]].name, name); k++) {
			char p[CFG_PATH];
			cfg_path_idx(p, "services", idx[k]);
			cfg_error_mark(c, c->svc_names[idx[k]], "%s: duplicate "
				       "service name %s (first at line %zu)", p,
				       name, c->svc_names[idx[run]].line + 1);
		}
		run = k;
	}
	free(idx);
}

/* Where an endpoint's name was written, for the duplicate-name error. */
static const yaml_node_t *cfg_ep_name_node(struct cfg_ctx *c,
					   const yaml_node_t *n)
{
	const yaml_node_t *v;

	if (n->type != YAML_MAPPING_NODE)
		return n;
	if ((v = cfg_get(c, n, "name")) || (v = cfg_get(c, n, "region")))
		return v;
	return n;
}

static void cfg_endpoints(struct cfg_ctx *c, const yaml_node_t *n,
			  const char *path, struct model_service *s,
			  struct cfg_probe_src *svc_probe)
{
	size_t len;

	s->eps = cfg_seq_array(c, n, path, sizeof(*s->eps),
			       "a service needs at least one endpoint", &len);
	for (size_t i = 0; i < len; i++) {
		const yaml_node_t *it = cfg_seq_item(c, n, i);
		struct model_endpoint *ep = &s->eps[i];
		char p[CFG_PATH];

		cfg_path_idx(p, path, i);
		cfg_endpoint(c, it, p, ep, svc_probe);
		s->neps++;
		for (size_t j = 0; ep->name && j < i; j++) {
			if (s->eps[j].name && !strcmp(s->eps[j].name,
						      ep->name)) {
				cfg_error(c, cfg_ep_name_node(c, it), "%s: "
					  "endpoint name '%s' is used twice "
					  "in service %s (the name defaults to "
					  "the region): give each a distinct "
					  "name", p, ep->name,
					  s->name ? s->name : "?");
				break;
			}
		}
	}
}

static void cfg_service(struct cfg_ctx *c, const yaml_node_t *n,
			const char *path, struct model_service *s,
			yaml_mark_t *name_at)
{
	static const char *const keys[] = {
		"name", "policy", "ttl", "max-answers", "all-down", "probe",
		"endpoints", NULL,
	};
	static const char *const policies[] = { "all", "failover",
						"weighted", "topology", NULL };
	static const char *const alldown[] = { "serve-all", "servfail",
					       "nodata", NULL };
	struct cfg_probe_src src = { 0 };
	const yaml_node_t *v, *probe;
	char p[CFG_PATH];
	int i;

	s->source = "config";
	s->ttl = 30;
	s->max_answers = 8;
	if (!cfg_map_check(c, n, path, keys))
		return;
	if ((v = cfg_require(c, n, path, "name"))) {
		cfg_path(p, path, "name");
		s->name = cfg_name(c, v, p, CFG_NAME_SVC);
		*name_at = v->start_mark;
	}
	if (cfg_opt_enum(c, n, path, "policy", policies, "policy", &i,
			 NULL) == 1)
		s->policy = (enum model_policy)i;
	if (cfg_opt_enum(c, n, path, "all-down", alldown, "all-down value",
			 &i, NULL) == 1)
		s->all_down = (enum model_alldown)i;
	cfg_opt_ttl(c, n, path, "ttl", &s->ttl);
	cfg_opt_u32(c, n, path, "max-answers", 0, 65535, &s->max_answers);
	if ((probe = cfg_get(c, n, "probe"))) {
		cfg_path(p, path, "probe");
		cfg_probe(c, probe, p, &src);
	}
	if ((v = cfg_require(c, n, path, "endpoints"))) {
		cfg_path(p, path, "endpoints");
		cfg_endpoints(c, v, p, s, probe ? &src : NULL);
	}
	probe_spec_clear(&src.ps);
}

/* The items come one at a time (cfg_items_next): at 100,000 services,
 * the nodes of all of them would take more memory than the services. */
void cfg_services(struct cfg_ctx *c, const yaml_node_t *n)
{
	struct model *m = c->m;
	struct cfg_items it;
	const yaml_node_t *item;
	size_t len;

	if (!cfg_want_seq(c, n, "services"))
		return;
	len = cfg_items_open(c, n, &it);
	if (!len)
		goto out;
	m->svcs = xcalloc(len, sizeof(*m->svcs));
	c->svc_names = xcalloc(len, sizeof(*c->svc_names));
	while ((item = cfg_items_next(c, &it))) {
		struct model_service *s = &m->svcs[m->nsvcs];
		char p[CFG_PATH];

		cfg_path_idx(p, "services", m->nsvcs);
		cfg_service(c, item, p, s, &c->svc_names[m->nsvcs]);
		m->nsvcs++;
	}
	cfg_services_dups(c, m);
out:
	cfg_items_close(c, &it);
}

/* ---- cross checks ---- */

/* A service owns the address records of its name: glue or zone-file
 * data there would be answered beside, or instead of, the healthy set. */
void cfg_service_conflicts(struct cfg_ctx *c)
{
	struct model *m = c->m;
	ldns_rr_list *rrs = m->zone.static_rrs;

	for (size_t i = 0; i < m->nsvcs; i++) {
		const char *name = m->svcs[i].name;
		yaml_mark_t where = c->svc_names[i];
		ldns_rdf *d;

		if (!name)
			continue;
		for (size_t j = 0; j < m->zone.nns; j++)
			if (m->zone.ns[j].name && m->zone.ns[j].naddrs &&
			    !strcmp(m->zone.ns[j].name, name))
				cfg_error_mark(c, where, "%s: this name is "
					       "also a name server with glue "
					       "addresses", name);
		if (!rrs || !(d = ldns_dname_new_frm_str(name)))
			continue;
		for (size_t j = 0; j < ldns_rr_list_rr_count(rrs); j++) {
			ldns_rr *rr = ldns_rr_list_rr(rrs, j);
			ldns_rr_type t = ldns_rr_get_type(rr);
			if ((t != LDNS_RR_TYPE_A && t != LDNS_RR_TYPE_AAAA &&
			     t != LDNS_RR_TYPE_CNAME) ||
			    ldns_dname_compare(ldns_rr_owner(rr), d))
				continue;
			cfg_error_mark(c, where, "%s: %s records come from "
				       "the service, not the zone file %s", name,
				       t == LDNS_RR_TYPE_A ? "A" :
				       t == LDNS_RR_TYPE_AAAA ? "AAAA" : "CNAME",
				       m->zone.zone_file);
			break;
		}
		ldns_rdf_deep_free(d);
	}
}

/* RFC 6672 2.4: no name exists below a DNAME; a service there would be
 * answered for its own name while its neighbours are redirected. */
void cfg_service_dname_conflicts(struct cfg_ctx *c)
{
	struct model *m = c->m;
	ldns_rr_list *rrs = m->zone.static_rrs;

	for (size_t j = 0; rrs && j < ldns_rr_list_rr_count(rrs); j++) {
		ldns_rr *rr = ldns_rr_list_rr(rrs, j);
		if (ldns_rr_get_type(rr) != LDNS_RR_TYPE_DNAME)
			continue;
		for (size_t i = 0; i < m->nsvcs; i++) {
			ldns_rdf *d;
			if (!m->svcs[i].name ||
			    !(d = ldns_dname_new_frm_str(m->svcs[i].name)))
				continue;
			ldns_dname2canonical(d);
			if (ldns_dname_is_subdomain(d, ldns_rr_owner(rr))) {
				char *o = ldns_rdf2str(ldns_rr_owner(rr));
				cfg_error_mark(c, c->svc_names[i], "%s: below "
					       "the DNAME at %s in the zone file "
					       "%s (RFC 6672 2.4)",
					       m->svcs[i].name, o ? o : "?",
					       m->zone.zone_file);
				free(o);
			}
			ldns_rdf_deep_free(d);
		}
	}
}

void cfg_zone_file_load(struct cfg_ctx *c)
{
	struct model_zone *z = &c->m->zone;
	char err[1024];
	int rc;

	if (!z->zone_file || !z->apex)
		return;
	rc = zonefile_load(z->zone_file, z->apex, z->ttl, &z->static_rrs, err,
			   sizeof(err));
	if (rc == -2) {
		cfg_error(c, c->zone_file_node, "zone.zone-file: %s", err);
	} else if (rc < 0) {
		/* Already "path:line:1: message", in the zone file's terms;
		 * it goes after the config file's own lines. */
		cfg_emit(c, SIZE_MAX, 0, err);
	}
}

/* Defaults that depend on other settings, once everything is read. */
void cfg_fill_defaults(struct cfg_ctx *c)
{
	struct model *m = c->m;
	struct model_zone *z = &m->zone;

	if (!m->server.workers) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		m->server.workers = n < 1 ? 1 : n > 256 ? 256 : (uint32_t)n;
	}
	if (!z->soa_serial)
		z->soa_serial = (uint32_t)time(NULL);
	if (!z->soa_mname && z->nns && z->ns[0].name)
		z->soa_mname = xstrdup(z->ns[0].name);
	if (!z->soa_rname && z->apex)
		z->soa_rname = xasprintf("hostmaster.%s", z->apex);
}

