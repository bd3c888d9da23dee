/*
 * daemon.c -- what the daemon serves (daemon.h): the live model composed
 * from the config's and the Kubernetes source's services, committed
 * through one path, snapshots patched as health and admin state change,
 * reloads, and the status view the control API reads.
 */
#include "config.h"

#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>

#include "config/admin.h"
#include "config/cfg.h"
#include "config/model.h"
#include "control/control.h"
#include "daemon/daemon.h"
#include "kube/kube.h"
#include "lib/log.h"
#include "probes/probe.h"
#include "server/compile.h"
#include "server/listen.h"
#include "server/qsbr.h"
#include "server/snap.h"

static void err_to_log(void *arg, const char *line)
{
	log_err("config error: %s", line);
}

/* The admin rules as the compiler asks them, for one model's zone. */
struct admin_view {
	const struct admin *a;
	const char *apex;
};

static enum model_admin view_admin(const void *arg,
				   const struct model_service *s,
				   const struct model_endpoint *e)
{
	const struct admin_view *av = arg;

	return admin_of(av->a, av->apex, s, e);
}

/* The compiler's view of model m: health from the probe manager's table
 * (or the array given), admin state from the rules. */
static struct compile_view view_of(const struct gslbd *g,
				   const struct model *m,
				   struct admin_view *av,
				   const uint8_t *health, size_t n)
{
	struct compile_view v = { .health = health, .nhealth = n,
				  .admin = view_admin, .admin_arg = av };

	av->a = g->admin;
	av->apex = m->zone.apex;
	if (!health && g->probes)
		v.health = probe_mgr_health(g->probes, &v.nhealth);
	return v;
}

static void publish(struct gslbd *g, struct snap *s,
		    const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	g->need_full = false;
	g->st.generation++;
	g->st.last_build_us = (t1.tv_sec - t0->tv_sec) * 1000000 +
		(t1.tv_nsec - t0->tv_nsec) / 1000;
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
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return (x > y) - (x < y);
}

/* The services that use the changed targets, sorted and unique, or NULL
 * when patching would not pay (or memory ran out). */
static uint32_t *dirty_services(const struct model *m, const uint32_t *tids,
				size_t n, size_t *nout)
{
	size_t total = 0, k = 0;

	for (size_t i = 0; i < n; i++)
		if (tids[i] < m->ntargets)
			total += m->targets[tids[i]].nsvcs;
	if (total > m->nsvcs / 2 + 64)
		return NULL;
	uint32_t *d = malloc((total ? total : 1) * sizeof(*d));
	if (!d)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		if (tids[i] >= m->ntargets)
			continue;
		const struct model_target *t = &m->targets[tids[i]];
		memcpy(d + k, t->svcs, t->nsvcs * sizeof(*d));
		k += t->nsvcs;
	}
	qsort(d, k, sizeof(*d), u32_cmp);
	size_t u = 0;
	for (size_t i = 0; i < k; i++)
		if (!u || d[u - 1] != d[i])
			d[u++] = d[i];
	*nout = u;
	return d;
}

/* Health or admin state changed: patch the services of the targets that
 * changed, or rebuild everything when that is due. */
static int rebuild(struct gslbd *g, bool full)
{
	char err[256];
	struct timespec t0;
	const struct snap *cur = snap_current();
	struct admin_view av;
	struct compile_view v = view_of(g, g->model, &av, NULL, 0);
	struct snap *s = NULL;
	const uint32_t *changed;
	size_t n, nd = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	bool known = probe_mgr_take_changed(g->probes, &changed, &n);
	if (!full && known && !g->need_full && cur && n == 0)
		return 0; /* nothing changed since the last build */
	if (!full && known && !g->need_full && cur) {
		uint32_t *dirty = dirty_services(g->model, changed, n, &nd);
		if (dirty)
			s = compile_patch(cur, g->model, &v, dirty, nd,
					  g->st.generation + 1, err,
					  sizeof(err));
		free(dirty);
	}
	if (!s)
		s = compile_snapshot(g->model, &v, g->st.generation + 1, err,
				     sizeof(err));
	if (!s) {
		/* The current snapshot may belong to another service list, or
		 * miss transitions taken above: only a full build is safe. */
		g->need_full = true;
		log_err("snapshot build failed, still serving the previous one "
			"reason=\"%s\"", err);
		return -1;
	}
	publish(g, s, &t0);
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

/* --- service composition ------------------------------------------- */

void daemon_free_services(struct model_service *svcs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		model_service_clear(&svcs[i]);
	free(svcs);
}

static void names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
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
			names_free(v, *n);
			return NULL;
		}
	}
	qsort(v, *n, sizeof(*v), name_cmp);
	return v;
}

static bool names_reserved(const struct gslbd *g, const char *name)
{
	return bsearch(&name, g->reserved, g->nreserved, sizeof(*g->reserved),
		       name_cmp) != NULL;
}

static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (uint8_t)*s) * 16777619u;
	return h;
}

static void names_put(uint32_t *ix, uint32_t mask, const char *name,
		      uint32_t slot)
{
	uint32_t k = name_hash(name) & mask;

	while (ix[k])
		k = (k + 1) & mask;
	ix[k] = slot + 1;
}

/* The name index of the live model, at most half full. */
static void names_build(struct gslbd *g)
{
	const struct model *m = g->model;
	uint32_t size = 16;

	free(g->name_slot);
	g->name_slot = NULL;
	while (size < 2 * m->nsvcs + 2)
		size <<= 1;
	if (!(g->name_slot = calloc(size, sizeof(*g->name_slot))))
		return; /* changes take the full path */
	g->name_mask = size - 1;
	for (size_t i = 0; i < m->nsvcs; i++)
		names_put(g->name_slot, g->name_mask, m->svcs[i].name,
			  (uint32_t)i);
}

static uint32_t names_find(const struct gslbd *g, const char *name)
{
	const struct model *m = g->model;

	for (uint32_t k = name_hash(name) & g->name_mask; g->name_slot[k];
	     k = (k + 1) & g->name_mask)
		if (!strcmp(m->svcs[g->name_slot[k] - 1].name, name))
			return g->name_slot[k] - 1;
	return UINT32_MAX;
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
	size_t nk = 0, n = 0, dups = 0, taken = 0, big = 0;
	const struct model_service *ks = g->kube ? kube_services(g->kube, &nk) :
		NULL;
	struct model_service *v = calloc(g->ncfg_svcs + nk + 1, sizeof(*v));
	char **names = calloc(g->ncfg_svcs + 1, sizeof(*names));

	if (!v || !names)
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
		if (names_reserved(g, key)) {
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
	free(names);
	*out = v;
	*nout = n;
	return 0;
fail:
	free(names);
	daemon_free_services(v, n);
	return -1;
}

/* The one way a new service list goes live.  nm has its services; it
 * gets its targets, is compiled against the health its targets will
 * have, and only then are the probes synced, nm made g->model and the
 * snapshot published.  Returns 0, or -1 with err (nothing changed but
 * nm's targets). */
static int commit(struct gslbd *g, struct model *nm, char *err, size_t errlen)
{
	struct timespec t0;
	struct admin_view av;
	uint8_t *health = NULL;
	struct snap *s = NULL;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (model_targets_build(nm) < 0 ||
	    !(health = calloc(nm->ntargets ? nm->ntargets : 1, 1)) ||
	    probe_mgr_health_of(g->probes, nm->targets, nm->ntargets,
				health) < 0) {
		free(health);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	struct compile_view v = view_of(g, nm, &av, health, nm->ntargets);
	s = compile_snapshot(nm, &v, g->st.generation + 1, err, errlen);
	free(health);
	if (!s)
		return -1;
	if (probe_mgr_sync(g->probes, nm->targets, nm->ntargets) < 0) {
		snap_free(s);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	g->model = nm;
	names_build(g);
	publish(g, s, &t0);
	return 0;
}

/* daemon_go_live, handing the replaced model back (*old) rather than
 * freeing it: a reload still reads its Kubernetes section. */
static int go_live(struct gslbd *g, struct model *m, struct model **old,
		   char *err, size_t errlen)
{
	struct model_service *old_cfg = g->cfg_svcs, *cfg = m->svcs, *v;
	size_t old_n = g->ncfg_svcs, ncfg = m->nsvcs, nv;

	char **old_res = g->reserved, **res = NULL;
	size_t old_nres = g->nreserved, nres = 0;

	*old = g->model;
	if (m->kube.enabled && !(res = reserved_names(m, &nres))) {
		snprintf(err, errlen, "out of memory");
		model_free(m);
		return -1;
	}
	g->reserved = res;
	g->nreserved = nres;
	/* Without another source nothing is ever recomposed: the config's
	 * services serve as they are, with no pristine copy kept. */
	g->cfg_svcs = m->kube.enabled ? cfg : NULL;
	g->ncfg_svcs = m->kube.enabled ? ncfg : 0;
	if (m->kube.enabled) {
		if (compose(g, m, &v, &nv) < 0) {
			snprintf(err, errlen, "out of memory");
			goto undo;
		}
		m->svcs = v;
		m->nsvcs = nv;
	}
	if (commit(g, m, err, errlen) < 0) {
		model_targets_clear(m);
		if (m->kube.enabled) {
			daemon_free_services(m->svcs, m->nsvcs);
			m->svcs = cfg;
			m->nsvcs = ncfg;
		}
		goto undo;
	}
	daemon_free_services(old_cfg, old_n);
	names_free(old_res, old_nres);
	/* Parsing a large config leaves freed memory in the heap; give it
	 * back to the system. */
	malloc_trim(0);
	return 0;
undo:
	g->cfg_svcs = old_cfg;
	g->ncfg_svcs = old_n;
	names_free(res, nres);
	g->reserved = old_res;
	g->nreserved = old_nres;
	model_free(m);
	return -1;
}

int daemon_go_live(struct gslbd *g, struct model *m)
{
	char err[256];
	struct model *old;

	if (go_live(g, m, &old, err, sizeof(err)) < 0) {
		log_err("configuration not served reason=\"%s\"", err);
		return -1;
	}
	model_free(old);
	return 0;
}

/* The Kubernetes source's services changed: a new service list over the
 * same configuration goes live.  The new model shares the configuration
 * parts with the old one, which gives them up when it goes. */
static int services_changed(struct gslbd *g)
{
	char err[256];
	struct model *old = g->model, *nm = malloc(sizeof(*nm));
	struct model_service *v;
	size_t nv;

	if (!nm || compose(g, old, &v, &nv) < 0) {
		free(nm);
		log_err("kubernetes change not applied: out of memory");
		return -1;
	}
	*nm = *old;
	nm->svcs = v;
	nm->nsvcs = nv;
	nm->targets = NULL;
	nm->ntargets = nm->target_cap = 0;
	nm->target_index = NULL;
	nm->target_mask = 0;
	if (commit(g, nm, err, sizeof(err)) < 0) {
		model_targets_clear(nm);
		daemon_free_services(v, nv);
		free(nm);
		log_err("kubernetes change not applied, still serving the "
			"previous services reason=\"%s\"", err);
		return -1;
	}
	model_targets_clear(old);
	daemon_free_services(old->svcs, old->nsvcs);
	free(old);
	return 0;
}

/* --- Kubernetes changes merged in place ----------------------------- */

struct kube_edit {
	uint32_t slot;                  /* UINT32_MAX: a new name */
	const struct model_service *svc; /* the source's */
	struct model_service copy;      /* the model's, made in phase 2 */
};

enum edit_plan { EDIT_SKIP, EDIT_DO, EDIT_FULL };

static int svc_ptr_cmp(const void *key, const void *elt)
{
	return strcmp(key, (*(const struct model_service *const *)elt)->name);
}

static enum edit_plan kube_edit_plan(const struct gslbd *g,
				     const struct model_service *const *ks,
				     size_t nk, const char *name,
				     struct kube_edit *e)
{
	const struct model_service *const *f =
		bsearch(name, ks, nk, sizeof(*ks), svc_ptr_cmp);

	if (!g->name_slot)
		return EDIT_FULL;
	e->slot = names_find(g, name);
	e->svc = f ? *f : NULL;
	/* The config's own names and the zone's are not the source's to
	 * change; compose() says so when it next runs. */
	const char *src = e->slot == UINT32_MAX ? "kube" :
		g->model->svcs[e->slot].source;
	if (!src || strcmp(src, "kube"))
		return EDIT_SKIP;
	if (e->slot == UINT32_MAX && f && names_reserved(g, name))
		return EDIT_SKIP;
	if (!f)
		return e->slot == UINT32_MAX ? EDIT_SKIP : EDIT_FULL;
	if (svc_addr_count(e->svc) > SVC_ADDRS_MAX)
		return EDIT_FULL;
	return EDIT_DO;
}

/* Merge the copies: replace or append each, targets follow, then the
 * probes of the targets that changed, then a patched snapshot.  From
 * here on the model has changed: a failure makes the next build full.
 * Returns 0, or -1 when the full path should run. */
static int kube_edit_apply(struct gslbd *g, struct kube_edit *ed, size_t ne)
{
	struct model *m = g->model;
	struct model_target_ids d = { NULL, 0, 0 };
	uint32_t *dirty = calloc(ne, sizeof(*dirty));
	struct timespec t0;
	int rc = -1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (size_t i = 0; i < ne; i++) {
		uint32_t slot = ed[i].slot;
		if (slot == UINT32_MAX) {
			slot = (uint32_t)m->nsvcs++;
		} else {
			model_targets_drop(m, slot, &d);
			model_service_clear(&m->svcs[slot]);
		}
		m->svcs[slot] = ed[i].copy;
		if (dirty)
			dirty[i] = slot;
		if (ed[i].slot == UINT32_MAX && g->name_slot) {
			if (2 * (m->nsvcs + 1) > (size_t)g->name_mask + 1)
				names_build(g);
			else
				names_put(g->name_slot, g->name_mask,
					  m->svcs[slot].name, slot);
		}
		if (model_targets_add(m, slot, &d) < 0)
			goto out;
	}
	if (!dirty || d.n == SIZE_MAX ||
	    probe_mgr_update(g->probes, m->targets, m->ntargets, d.ids, d.n) < 0)
		goto out;
	char err[256];
	struct admin_view av;
	struct compile_view v = view_of(g, m, &av, NULL, 0);
	struct snap *s = compile_patch(snap_current(), m, &v, dirty, ne,
				       g->st.generation + 1, err, sizeof(err));
	if (!s) {
		log_debug("kubernetes change: patch refused, full build "
			  "reason=\"%s\"", err);
		goto out;
	}
	publish(g, s, &t0);
	log_debug("kubernetes change merged services=%zu targets=%zu", ne, d.n);
	rc = 0;
out:
	free(dirty);
	free(d.ids);
	if (rc < 0) {
		/* The model is already merged: what failed is the targets,
		 * the probes or the snapshot.  Build them all anew. */
		model_targets_build(m);
		if (probe_mgr_sync(g->probes, m->targets, m->ntargets) < 0 ||
		    rebuild(g, true) < 0)
			g->need_full = true;
		rc = 0;
	}
	return rc;
}

/* A few Kubernetes names changed: merge them into the live model in
 * place.  Returns 1 when done, 0 when the full path must run instead (a
 * name gone, one too large, no index), -1 when memory ran out before
 * anything changed. */
static int kube_patch(struct gslbd *g, const char *const *names, size_t n)
{
	struct model *m = g->model;
	size_t nk = 0, nnew = 0;
	const struct model_service *const *ks = kube_service_list(g->kube, &nk);
	struct kube_edit *ed = calloc(n ? n : 1, sizeof(*ed));
	int rc = -1;

	if (!ed)
		return -1;
	/* Phase 1: what to do with each name; nothing changes yet. */
	size_t ne = 0;
	for (size_t i = 0; i < n; i++) {
		switch (kube_edit_plan(g, ks, nk, names[i], &ed[ne])) {
		case EDIT_SKIP:
			continue;
		case EDIT_FULL:
			rc = 0;
			goto out;
		case EDIT_DO:
			nnew += ed[ne].slot == UINT32_MAX;
			ne++;
		}
	}
	if (!ne) {
		rc = 1;
		goto out;
	}
	/* Phase 2: everything that can fail before the model is touched. */
	for (size_t i = 0; i < ne; i++)
		if (model_service_copy(&ed[i].copy, ed[i].svc) < 0)
			goto out;
	if (nnew) {
		struct model_service *nv = realloc(m->svcs, (m->nsvcs + nnew) *
						   sizeof(*nv));
		if (!nv)
			goto out;
		m->svcs = nv;
	}
	/* Phase 3: merge. */
	rc = kube_edit_apply(g, ed, ne) < 0 ? 0 : 1;
	ne = 0; /* the copies are the model's now */
out:
	for (size_t i = 0; i < ne; i++)
		model_service_clear(&ed[i].copy);
	free(ed);
	return rc;
}

static void on_kube_change(void *arg)
{
	struct gslbd *g = arg;
	const char *const *names;
	size_t n;

	if (!g->model->kube.enabled)
		return;
	/* Taken every time, so the record starts empty for the next. */
	bool known = kube_take_changes(g->kube, &names, &n);
	if (known && kube_patch(g, names, n) == 1)
		return;
	services_changed(g);
}

int daemon_kube_start(struct gslbd *g, char *err, size_t errlen)
{
	const struct model *m = g->model;
	g->kube = kube_new(g->base, &m->kube, m->zone.apex,
			   &m->probe_defaults, on_kube_change, g, err, errlen);
	return g->kube ? 0 : -1;
}

/* After a reload made a new model live: keep, retune, replace or stop
 * the Kubernetes source as the new section says. */
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
	struct model *old;

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
	bool same_listen = listen_same(g->ls, &nm->server);
	/* Composed, compiled and committed once: a model that cannot be
	 * served never replaces one that can. */
	if (go_live(g, nm, &old, err, errlen) < 0) {
		log_err("reload rejected, keeping the running configuration "
			"reason=\"%s\"", err);
		return -1;
	}
	if (!same_listen)
		log_warn("listen addresses changed; they take effect on restart");
	kube_reconfigure(g, &old->kube);
	model_free(old);
	daemon_apply_log_level(g, g->model);
	/* Only now that the reload is committed: a rejected one changes
	 * nothing, the token included. */
	if (g->control && control_set_token(g->control,
					     g->model->control.token) < 0)
		log_warn("control token not updated");
	g->st.reloads_failed--;
	g->st.reloads_ok++;
	g->st.last_reload_ok = true;
	log_info("reload done services=%zu", g->ncfg_svcs ? g->ncfg_svcs :
		 g->model->nsvcs);
	return 0;
}

/* --- admin rules and the status view ------------------------------- */

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

int daemon_set_admin(struct gslbd *g, const char *region,
		     const char *service, const char *endpoint,
		     enum model_admin a)
{
	const struct model *m = g->model;
	struct admin_rule r = {
		region && *region ? region : NULL,
		service && *service ? service : NULL,
		endpoint && *endpoint ? endpoint : NULL, a,
	};
	int matched = 0;

	if (admin_set(g->admin, r.region, r.service, r.endpoint, a) < 0)
		return -1;
	for (size_t i = 0; i < m->nsvcs; i++)
		for (size_t j = 0; j < m->svcs[i].neps; j++)
			matched += admin_rule_matches(&r, m->zone.apex,
						      &m->svcs[i],
						      &m->svcs[i].eps[j]);
	log_info("admin change region=%s service=%s endpoint=%s state=%s "
		 "matched=%d", r.region ? r.region : "*",
		 r.service ? r.service : "*", r.endpoint ? r.endpoint : "*",
		 model_admin_name(a), matched);
	rebuild(g, true);
	return matched;
}

static const struct model *sv_model(void *arg)
{
	return ((struct gslbd *)arg)->model;
}

static void sv_stats(void *arg, struct status_stats *st)
{
	*st = ((struct gslbd *)arg)->st;
}

static void sv_queries(void *arg, struct answer_stats *st)
{
	listen_stats(((struct gslbd *)arg)->ls, st);
}

static bool sv_ready(void *arg)
{
	return daemon_ready(arg);
}

static void sv_probe_counters(void *arg, struct probe_counters *c)
{
	probe_mgr_counters(((struct gslbd *)arg)->probes, c);
}

static bool sv_target(void *arg, uint32_t index, struct probe_info *pi)
{
	return probe_mgr_info(((struct gslbd *)arg)->probes, index, pi);
}

static bool sv_kube(void *arg, struct kube_status *ks)
{
	struct gslbd *g = arg;

	if (!g->kube)
		return false;
	kube_get_status(g->kube, ks);
	return true;
}

static const struct admin_rule *sv_rules(void *arg, size_t *n)
{
	return admin_rules(((struct gslbd *)arg)->admin, n);
}

static enum model_admin sv_admin_of(void *arg, const struct model_service *s,
				    const struct model_endpoint *e)
{
	struct gslbd *g = arg;

	return admin_of(g->admin, g->model->zone.apex, s, e);
}

static int sv_set_admin(void *arg, const char *region, const char *service,
			const char *endpoint, enum model_admin a)
{
	return daemon_set_admin(arg, region, service, endpoint, a);
}

static int sv_reload(void *arg, char *err, size_t errlen)
{
	return daemon_reload(arg, err, errlen);
}

void daemon_status_view(struct gslbd *g, struct status_view *v)
{
	*v = (struct status_view){
		.arg = g, .model = sv_model, .stats = sv_stats,
		.queries = sv_queries, .ready = sv_ready,
		.probe_counters = sv_probe_counters, .target = sv_target,
		.kube = sv_kube, .rules = sv_rules, .admin_of = sv_admin_of,
		.set_admin = sv_set_admin, .reload = sv_reload,
	};
}
