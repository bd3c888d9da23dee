/*
 * services.c -- the live service list (daemon.h): the config's services
 * composed with the Kubernetes source's (the file and the zone win), the
 * names a Kubernetes object may not take, an index of names, and
 * Kubernetes changes of a few names merged into the live model in place.
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
#include "daemon/daemon_int.h"
#include "kube/kube.h"
#include "lib/log.h"
#include "lib/resolver.h"
#include "lib/xalloc.h"
#include "probes/probe.h"
#include "server/compile.h"
#include "server/listen.h"
#include "server/qsbr.h"
#include "server/snap.h"

/* --- service composition ------------------------------------------- */

void daemon_free_services(struct model_service *svcs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		model_service_clear(&svcs[i]);
	free(svcs);
}

void daemon_names_free(char **v, size_t n)
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
char **daemon_reserved_names(const struct model *m, size_t *n)
{
	const ldns_rr_list *st = m->zone.static_rrs;
	size_t cap = 1 + m->zone.nns + (st ? ldns_rr_list_rr_count(st) : 0);
	char **v = xcalloc(cap, sizeof(*v));

	*n = 0;
	v[(*n)++] = xstrdup(m->zone.apex);
	for (size_t i = 0; i < m->zone.nns; i++)
		v[(*n)++] = xstrdup(m->zone.ns[i].name);
	for (size_t i = 0; st && i < ldns_rr_list_rr_count(st); i++) {
		/* NULL only for want of memory. */
		if (!(v[*n] = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(st, i)))))
			xalloc_die(LDNS_MAX_DOMAINLEN);
		(*n)++;
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
void daemon_names_build(struct gslbd *g)
{
	const struct model *m = g->model;
	uint32_t size = 16;

	free(g->name_slot);
	g->name_slot = NULL;
	while (size < 2 * m->nsvcs + 2)
		size <<= 1;
	g->name_slot = xcalloc(size, sizeof(*g->name_slot));
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
 * kind said once per change of its count. */
void daemon_compose(struct gslbd *g, const struct model *m,
		    struct model_service **out, size_t *nout)
{
	size_t nk = 0, n = 0, dups = 0, taken = 0, big = 0;
	const struct model_service *const *ks = g->kube ?
		kube_service_list(g->kube, &nk) : NULL;
	struct model_service *v = xcalloc(g->ncfg_svcs + nk + 1, sizeof(*v));
	char **names = xcalloc(g->ncfg_svcs + 1, sizeof(*names));

	daemon_hostnames_begin(g);
	for (size_t i = 0; i < g->ncfg_svcs; i++, n++) {
		model_service_copy(&v[n], &g->cfg_svcs[i]);
		daemon_hostnames_fill(g, &v[n]);
		names[i] = g->cfg_svcs[i].name;
	}
	qsort(names, g->ncfg_svcs, sizeof(*names), name_cmp);
	for (size_t i = 0; i < nk; i++) {
		const char *key = ks[i]->name;
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
		if (svc_addr_count(ks[i]) > SVC_ADDRS_MAX) {
			log_debug("kubernetes service skipped: too many addresses "
				  "service=%s", key);
			big++;
			continue;
		}
		model_service_copy(&v[n], ks[i]);
		daemon_hostnames_fill(g, &v[n]);
		n++;
	}
	daemon_hostnames_end(g);
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
}

/* The Kubernetes source's services changed: a new service list over the
 * same configuration goes live.  The new model shares the configuration
 * parts with the old one, which gives them up when it goes. */
int daemon_services_changed(struct gslbd *g)
{
	char err[256];
	struct model *old = g->model, *nm;
	struct model_service *v;
	size_t nv;

	if (daemon_signing(g)) { /* coalesced, composed when it lands */
		g->sign_req |= DAEMON_REQ_RELIST;
		return 1;
	}
	nm = xmalloc(sizeof(*nm));
	daemon_compose(g, old, &v, &nv);
	*nm = *old;
	nm->svcs = v;
	nm->nsvcs = nv;
	nm->targets = NULL;
	nm->ntargets = nm->target_cap = 0;
	nm->target_index = NULL;
	nm->target_mask = 0;
	int rc = daemon_commit(g, nm, DAEMON_REQ_RELIST, err, sizeof(err));
	if (rc != 0) {
		model_targets_clear(nm);
		daemon_free_services(v, nv);
		free(nm);
		if (rc > 0) {
			log_info("service list change deferred until signing "
				 "finishes");
			return 1;
		}
		log_err("kubernetes change not applied, still serving the "
			"previous services reason=\"%s\"", err);
		return -1;
	}
	daemon_names_build(g);
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
	 * change; daemon_compose() says so when it next runs. */
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

/* The probes could not follow the merged model (fewer targets than
 * they have): number the targets afresh, re-sync the probes by key and build in
 * full. */
static void kube_edit_resync(struct gslbd *g)
{
	struct model *m = g->model;

	model_targets_build(m);
	g->st.targets_generation++; /* target indexes moved */
	probe_mgr_sync(g->probes, m->targets, m->ntargets);
	/* Deferred (1) too: the snapshot's target numbers are stale, so no
	 * health patch may go on it until the full build is done. */
	if (daemon_rebuild(g, true) != 0)
		g->need_full = true;
}

/* Merge the copies: replace or append each, targets follow, then the
 * probes of the targets that changed, then a patched snapshot (a full
 * one when a patch is not possible: a long chain, no room for names).
 * The model has changed from the first copy on: what fails after that is
 * made good here, never undone. */
static void kube_edit_apply(struct gslbd *g, struct kube_edit *ed, size_t ne)
{
	struct model *m = g->model;
	struct model_target_ids d = { NULL, 0, 0 };
	uint32_t *dirty = xcalloc(ne, sizeof(*dirty));
	struct timespec t0;

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
		dirty[i] = slot;
		if (ed[i].slot == UINT32_MAX && g->name_slot) {
			if (2 * (m->nsvcs + 1) > (size_t)g->name_mask + 1)
				daemon_names_build(g);
			else
				names_put(g->name_slot, g->name_mask,
					  m->svcs[slot].name, slot);
		}
		model_targets_add(m, slot, &d);
	}
	if (probe_mgr_update(g->probes, m->targets, m->ntargets, d.ids,
			     d.n) < 0) {
		kube_edit_resync(g);
		goto out;
	}
	char err[256];
	struct admin_view av;
	struct compile_view v = daemon_view(g, m, &av, NULL, 0);
	struct snap *s = compile_patch(snap_current(), m, &v, dirty, ne,
				       g->st.generation + 1, err, sizeof(err));
	if (!s) {
		log_debug("kubernetes change: patch refused, full build "
			  "reason=\"%s\"", err);
		daemon_rebuild(g, true);
		goto out;
	}
	daemon_publish(g, s, &t0);
	log_debug("kubernetes change merged services=%zu targets=%zu", ne, d.n);
out:
	free(dirty);
	free(d.ids);
}

/* A few Kubernetes names changed: merge them into the live model in
 * place.  Returns 1 when done, 0 when the full path must run instead (a
 * name gone, one too large, no index). */
static int kube_patch(struct gslbd *g, const char *const *names, size_t n)
{
	struct model *m = g->model;
	size_t nk = 0, nnew = 0;
	const struct model_service *const *ks = kube_service_list(g->kube, &nk);
	struct kube_edit *ed = xcalloc(n, sizeof(*ed));
	int rc = 0;

	/* Phase 1: what to do with each name; nothing changes yet. */
	size_t ne = 0;
	for (size_t i = 0; i < n; i++) {
		switch (kube_edit_plan(g, ks, nk, names[i], &ed[ne])) {
		case EDIT_SKIP:
			continue;
		case EDIT_FULL:
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
	/* Phase 2: the copies, then the merge. */
	for (size_t i = 0; i < ne; i++) {
		model_service_copy(&ed[i].copy, ed[i].svc);
		daemon_hostnames_fill(g, &ed[i].copy);
	}
	if (nnew)
		m->svcs = xreallocarray(m->svcs, m->nsvcs + nnew,
					sizeof(*m->svcs));
	kube_edit_apply(g, ed, ne);
	rc = 1;
out:
	free(ed);
	return rc;
}

int daemon_kube_patch(struct gslbd *g, const char *const *names, size_t n)
{
	return kube_patch(g, names, n);
}

void daemon_on_kube_change(void *arg)
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
	daemon_services_changed(g);
}

/* ---- load balancers known by name: their addresses changed ---- */

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
void daemon_hostnames_changed(void *arg)
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
