/*
 * daemon.c -- what the daemon serves: the live model composed from the
 * config's and the Kubernetes source's services, snapshots rebuilt or
 * patched as it changes, reloads, admin rules, and the daemon.h API.
 */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>

#include "config/cfg.h"
#include "kube/kube.h"
#include "config/model.h"
#include "probes/probe.h"
#include "server/compile.h"
#include "control/control.h"
#include "daemon/daemon_int.h"
#include "server/listen.h"
#include "lib/log.h"
#include "server/qsbr.h"
#include "server/snap.h"

static void err_to_log(void *arg, const char *line)
{
	log_err("config error: %s", line);
}

/* Compile the model as it stands and hand it to the workers.  Health and
 * admin changes patch the current snapshot (only the services whose
 * eligibility changed are rebuilt); a new service list needs a full
 * build, as does a patch chain grown long. */
static int rebuild(struct gslbd *g, bool full)
{
	char err[256];
	struct timespec t0, t1;
	const struct snap *cur = snap_current();
	struct snap *s = NULL;
	struct model_addr **changed;
	size_t n;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	/* The transitions since the last build say which services to
	 * rebuild; anything else (a new model, too many) rebuilds all. */
	bool known = probe_mgr_take_changed(g->probes, &changed, &n);
	if (!full && known && !g->need_full && cur && n == 0)
		return 0; /* nothing changed since the last build */
	if (!full && known && !g->need_full && cur && n <= 1024) {
		uint32_t dirty[1024];
		for (size_t i = 0; i < n; i++)
			dirty[i] = changed[i]->svc_idx;
		s = compile_patch(cur, g->model, dirty, n,
				  g->st.generation + 1, err, sizeof(err));
	}
	if (!s)
		s = compile_snapshot(g->model, g->st.generation + 1, err,
				     sizeof(err));
	if (!s) {
		/* The current snapshot may belong to another service list, or
		 * miss transitions taken above: only a full build is safe. */
		g->need_full = true;
		log_err("snapshot build failed, still serving the previous one "
			"reason=\"%s\"", err);
		return -1;
	}
	g->need_full = false;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	g->st.generation++;
	g->st.last_build_us = (t1.tv_sec - t0.tv_sec) * 1000000 +
		(t1.tv_nsec - t0.tv_nsec) / 1000;
	g->st.last_build_time = time(NULL);
	g->st.snapshot_bytes = 0;
	for (unsigned i = 0; i < s->narenas; i++)
		g->st.snapshot_bytes += snap_arena_bytes(s->arenas[i]);
	g->st.snapshot_names = s->nnodes;
	snap_publish(g->qsbr, s);
	qsbr_reclaim(g->qsbr);
	log_debug("snapshot published generation=%llu names=%u bytes=%zu "
		  "arenas=%u build_us=%lld", (unsigned long long)g->st.generation,
		  s->nnodes, g->st.snapshot_bytes, s->narenas,
		  (long long)g->st.last_build_us);
	return 0;
}

void daemon_on_health_change(void *arg)
{
	rebuild(arg, false);
}

void daemon_apply_log_level(const struct gslbd *g, const struct model *m)
{
	if (!g->level_from_cli && m->server.log_level >= 0)
		log_set_level((enum log_level)m->server.log_level);
}

/* --- service composition and admin rules ---------------------------- */

static bool rule_match(const struct admin_rule *r, const struct model *m,
		       const struct model_service *svc,
		       const struct model_endpoint *ep)
{
	if (r->region && strcmp(r->region, ep->region))
		return false;
	if (r->endpoint && strcmp(r->endpoint, ep->name))
		return false;
	if (!r->service)
		return true;
	if (!strcmp(r->service, svc->name))
		return true;
	/* a name relative to the apex: "www" for "www.<apex>" */
	size_t n = strlen(r->service);
	return !strncmp(svc->name, r->service, n) && svc->name[n] == '.' &&
		!strcmp(svc->name + n + 1, m->zone.apex);
}

/* Every endpoint takes the admin state of the last rule matching it. */
static void apply_rules(const struct gslbd *g, struct model *m)
{
	for (size_t i = 0; i < m->nsvcs; i++) {
		struct model_service *svc = &m->svcs[i];
		for (size_t j = 0; j < svc->neps; j++) {
			struct model_endpoint *ep = &svc->eps[j];
			for (size_t a = 0; a < ep->naddrs; a++)
				ep->addrs[a].svc_idx = (uint32_t)i;
			ep->admin = ADMIN_NONE;
			for (size_t k = 0; k < g->nrules; k++)
				if (rule_match(&g->rules[k], m, svc, ep))
					ep->admin = g->rules[k].admin;
		}
	}
}

void daemon_free_services(struct model_service *svcs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		model_service_clear(&svcs[i]);
	free(svcs);
}

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Names a Kubernetes service may not take: the apex, the name servers
 * and every owner in the zone file.  A DNSEndpoint anyone may create in a
 * watched namespace must not answer for ns1 (its glue) or the apex. */
static char **reserved_names(const struct model *m, size_t *n)
{
	const ldns_rr_list *st = m->zone.static_rrs;
	size_t cap = 1 + m->zone.nns + (st ? ldns_rr_list_rr_count(st) : 0);
	char **v = calloc(cap, sizeof(*v));

	*n = 0;
	if (!v)
		return NULL;
	v[(*n)++] = strdup(m->zone.apex);
	for (size_t i = 0; i < m->zone.nns; i++)
		v[(*n)++] = strdup(m->zone.ns[i].name);
	for (size_t i = 0; st && i < ldns_rr_list_rr_count(st); i++)
		v[(*n)++] = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(st, i)));
	for (size_t i = 0; i < *n; i++) {
		if (!v[i]) {
			for (size_t j = 0; j < *n; j++)
				free(v[j]);
			free(v);
			return NULL;
		}
	}
	qsort(v, *n, sizeof(*v), name_cmp);
	return v;
}

static size_t svc_addr_count(const struct model_service *s)
{
	size_t n = 0;
	for (size_t i = 0; i < s->neps; i++)
		n += s->eps[i].naddrs;
	return n;
}

/* More than this in one service cannot be an honest answer set, and the
 * snapshot refuses it (and with it every later build). */
#define SVC_ADDRS_MAX 4096

/* The live service list for m: deep copies of the config's services,
 * then the Kubernetes source's, except names the config or the zone
 * already has (the file wins) and services too large to answer; each
 * kind said once per change of its count.  Returns 0 or -1 (nothing
 * changed). */
static int compose(struct gslbd *g, const struct model *m,
		   struct model_service **out, size_t *nout)
{
	size_t nk = 0, n = 0, dups = 0, taken = 0, big = 0, nres = 0;
	const struct model_service *ks = g->kube ? kube_services(g->kube, &nk) :
		NULL;
	struct model_service *v = calloc(g->ncfg_svcs + nk + 1, sizeof(*v));
	char **names = calloc(g->ncfg_svcs + 1, sizeof(*names));
	char **res = nk ? reserved_names(m, &nres) : NULL;

	if (!v || !names || (nk && !res))
		goto fail;
	for (size_t i = 0; i < g->ncfg_svcs; i++, n++) {
		if (model_service_copy(&v[n], &g->cfg_svcs[i]) < 0)
			goto fail;
		names[i] = g->cfg_svcs[i].name;
	}
	qsort(names, g->ncfg_svcs, sizeof(*names), name_cmp);
	for (size_t i = 0; i < nk; i++) {
		const char *key = ks[i].name;
		if (bsearch(&key, names, g->ncfg_svcs, sizeof(*names), name_cmp)) {
			dups++;
			continue;
		}
		if (bsearch(&key, res, nres, sizeof(*res), name_cmp)) {
			log_debug("kubernetes service skipped: the zone owns the "
				  "name service=%s", key);
			taken++;
			continue;
		}
		if (svc_addr_count(&ks[i]) > SVC_ADDRS_MAX) {
			log_debug("kubernetes service skipped: too many addresses "
				  "service=%s", key);
			big++;
			continue;
		}
		if (model_service_copy(&v[n], &ks[i]) < 0)
			goto fail;
		n++;
	}
	if (dups != g->kube_dups)
		log_warn("kubernetes services also in the config file, the "
			 "file's kept count=%zu", dups);
	if (taken != g->kube_taken)
		log_warn("kubernetes services skipped: the apex, a name server "
			 "or a zone-file name count=%zu", taken);
	if (big != g->kube_big)
		log_warn("kubernetes services skipped: more than %d addresses "
			 "count=%zu", SVC_ADDRS_MAX, big);
	g->kube_dups = dups;
	g->kube_taken = taken;
	g->kube_big = big;
	for (size_t i = 0; i < nres; i++)
		free(res[i]);
	free(res);
	free(names);
	*out = v;
	*nout = n;
	return 0;
fail:
	for (size_t i = 0; i < nres; i++)
		free(res[i]);
	free(res);
	free(names);
	daemon_free_services(v, n);
	return -1;
}

/* Make m live: its services become the composed list, probes follow,
 * and a new snapshot is published.  m's own services (from the config
 * file) are kept aside as the pristine list.  On failure nothing
 * changes and m is freed. */
int daemon_go_live(struct gslbd *g, struct model *m)
{
	struct model_service *old_cfg = g->cfg_svcs, *v;
	size_t old_n = g->ncfg_svcs, nv;

	/* Without another source nothing is ever recomposed: the config's
	 * services serve as they are, with no pristine copy kept. */
	if (!m->kube.enabled) {
		g->cfg_svcs = NULL;
		g->ncfg_svcs = 0;
		apply_rules(g, m);
		if (probe_mgr_sync(g->probes, m) < 0)
			goto undo;
		goto live;
	}
	g->cfg_svcs = m->svcs;
	g->ncfg_svcs = m->nsvcs;
	if (compose(g, m, &v, &nv) < 0)
		goto undo;
	m->svcs = v;
	m->nsvcs = nv;
	apply_rules(g, m);
	if (probe_mgr_sync(g->probes, m) < 0) {
		m->svcs = g->cfg_svcs;
		m->nsvcs = g->ncfg_svcs;
		daemon_free_services(v, nv);
		goto undo;
	}
live:
	daemon_free_services(old_cfg, old_n);
	model_free(g->model);
	g->model = m;
	rebuild(g, true);
	/* Parsing a large config leaves freed memory in the heap; give it
	 * back to the system. */
	malloc_trim(0);
	return 0;
undo:
	g->cfg_svcs = old_cfg;
	g->ncfg_svcs = old_n;
	model_free(m);
	return -1;
}

/* The other sources' services changed: recompose in place, probes
 * follow, full rebuild (the service list, and so its indexes, moved). */
static int services_changed(struct gslbd *g)
{
	struct model_service *v, *old = g->model->svcs;
	size_t nv, old_n = g->model->nsvcs;

	if (compose(g, g->model, &v, &nv) < 0)
		return -1;
	g->model->svcs = v;
	g->model->nsvcs = nv;
	apply_rules(g, g->model);
	if (probe_mgr_sync(g->probes, g->model) < 0) {
		g->model->svcs = old;
		g->model->nsvcs = old_n;
		daemon_free_services(v, nv);
		log_err("kubernetes change not applied: out of memory");
		return -1;
	}
	daemon_free_services(old, old_n);
	return rebuild(g, true);
}

static void on_kube_change(void *arg)
{
	struct gslbd *g = arg;
	if (g->model->kube.enabled)
		services_changed(g);
}

int daemon_kube_start(struct gslbd *g, char *err, size_t errlen)
{
	const struct model *m = g->model;
	g->kube = kube_new(g->base, &m->kube, m->zone.apex,
			   &m->probe_defaults, on_kube_change, g, err, errlen);
	return g->kube ? 0 : -1;
}

/* After a reload made nm live: keep, retune, replace or stop the
 * Kubernetes source as the new section says. */
static void kube_reconfigure(struct gslbd *g, const struct model_kube *old)
{
	char err[256];
	const struct model *m = g->model;

	if (!m->kube.enabled) {
		kube_free(g->kube);
		g->kube = NULL;
		return;
	}
	if (g->kube && kube_conf_same_source(old, &m->kube)) {
		if (kube_update(g->kube, &m->kube, m->zone.apex,
				&m->probe_defaults) < 0)
			log_err("kubernetes settings not updated: out of memory");
		return;
	}
	/* A new API or credentials: the new source starts from the cache
	 * file at once, so the gap in its names is short. */
	kube_free(g->kube);
	g->kube = NULL;
	if (daemon_kube_start(g, err, sizeof(err)) < 0)
		log_err("kubernetes source not started: %s", err);
}

int daemon_reload(struct gslbd *g, char *err, size_t errlen)
{
	log_info("reloading config=%s", g->path);
	g->st.last_reload_time = time(NULL);
	g->st.last_reload_ok = false;
	g->st.reloads_failed++;
	struct model *nm = cfg_load(g->path, err_to_log, NULL);
	if (!nm) {
		snprintf(err, errlen, "configuration rejected (errors logged)");
		log_err("reload rejected, keeping the running configuration");
		return -1;
	}
	/* Compile once before committing to it: a model that cannot be
	 * served must not replace one that can. */
	struct snap *trial = compile_snapshot(nm, 0, err, errlen);
	if (!trial) {
		log_err("reload rejected, keeping the running configuration "
			"reason=\"%s\"", err);
		model_free(nm);
		return -1;
	}
	snap_free(trial);
	if (!listen_same(g->ls, &nm->server))
		log_warn("listen addresses changed; they take effect on restart");
	size_t n = nm->nsvcs;
	struct model_kube old_kube = g->model->kube;
	memset(&g->model->kube, 0, sizeof(g->model->kube)); /* now ours */
	if (daemon_go_live(g, nm) < 0) {
		g->model->kube = old_kube;
		snprintf(err, errlen, "cannot set up probes (out of memory)");
		log_err("reload rejected: %s", err);
		return -1;
	}
	kube_reconfigure(g, &old_kube);
	model_kube_clear(&old_kube);
	daemon_apply_log_level(g, g->model);
	/* Only now that the reload is committed: a rejected one changes
	 * nothing, the token included. */
	if (g->control && control_set_token(g->control,
					     g->model->control.token) < 0)
		log_warn("control token not updated");
	g->st.reloads_failed--;
	g->st.reloads_ok++;
	g->st.last_reload_ok = true;
	log_info("reload done services=%zu", n);
	return 0;
}

/* --- daemon.h ------------------------------------------------------- */

const struct model *daemon_model(const struct gslbd *g)
{
	return g->model;
}

void daemon_get_stats(const struct gslbd *g, struct daemon_stats *st)
{
	*st = g->st;
}

void daemon_query_stats(const struct gslbd *g, struct answer_stats *st)
{
	listen_stats(g->ls, st);
}

const struct probe_mgr *daemon_probes(const struct gslbd *g)
{
	return g->probes;
}

const struct kube_src *daemon_kube(const struct gslbd *g)
{
	return g->kube;
}

/* Serving the cache file counts as synced: during an API outage every
 * instance would otherwise stay unready, which is the outage gslbd is
 * there to ride out. */
bool daemon_ready(const struct gslbd *g)
{
	struct kube_status ks;

	if (!g->probes || !probe_mgr_first_round_done(g->probes))
		return false;
	if (!g->kube)
		return true;
	kube_get_status(g->kube, &ks);
	return ks.synced || ks.from_cache;
}

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

int daemon_set_admin(struct gslbd *g, const char *region,
		     const char *service, const char *endpoint,
		     enum model_admin a)
{
	region = region && *region ? region : NULL;
	service = service && *service ? service : NULL;
	endpoint = endpoint && *endpoint ? endpoint : NULL;
	/* Room for the new rule first: failing must change nothing. */
	if (a != ADMIN_NONE) {
		struct admin_rule *nr = realloc(g->rules,
			(g->nrules + 1) * sizeof(*nr));
		if (nr)
			g->rules = nr;
		struct daemon_admin_rule *nv = realloc(g->rules_view,
			(g->nrules + 1) * sizeof(*nv));
		if (nv)
			g->rules_view = nv;
		if (!nr || !nv)
			return -1;
	}
	struct admin_rule add = { NULL, NULL, NULL, a };
	if (a != ADMIN_NONE) {
		add.region = dup_or_null(region);
		add.service = dup_or_null(service);
		add.endpoint = dup_or_null(endpoint);
	}
	if (a != ADMIN_NONE &&
	    ((region && !add.region) || (service && !add.service) ||
	     (endpoint && !add.endpoint))) {
		free(add.region);
		free(add.service);
		free(add.endpoint);
		return -1;
	}
	/* One rule per target: a new state replaces the old one. */
	for (size_t i = 0; i < g->nrules; i++) {
		struct admin_rule *r = &g->rules[i];
		if (!same_str(r->region, region) ||
		    !same_str(r->service, service) ||
		    !same_str(r->endpoint, endpoint))
			continue;
		free(r->region);
		free(r->service);
		free(r->endpoint);
		memmove(r, r + 1, (g->nrules - i - 1) * sizeof(*r));
		g->nrules--;
		break;
	}
	if (a != ADMIN_NONE)
		g->rules[g->nrules++] = add;
	int matched = 0;
	struct admin_rule probe = { (char *)region, (char *)service,
				    (char *)endpoint, a };
	for (size_t i = 0; i < g->model->nsvcs; i++)
		for (size_t j = 0; j < g->model->svcs[i].neps; j++)
			matched += rule_match(&probe, g->model, &g->model->svcs[i],
					      &g->model->svcs[i].eps[j]);
	log_info("admin change region=%s service=%s endpoint=%s state=%d "
		 "matched=%d", region ? region : "*", service ? service : "*",
		 endpoint ? endpoint : "*", (int)a, matched);
	apply_rules(g, g->model);
	rebuild(g, true);
	return matched;
}

const struct daemon_admin_rule *daemon_admin_rules(const struct gslbd *g,
						   size_t *n)
{
	for (size_t i = 0; i < g->nrules; i++) {
		g->rules_view[i].region = g->rules[i].region;
		g->rules_view[i].service = g->rules[i].service;
		g->rules_view[i].endpoint = g->rules[i].endpoint;
		g->rules_view[i].admin = g->rules[i].admin;
	}
	*n = g->nrules;
	return g->rules_view;
}

