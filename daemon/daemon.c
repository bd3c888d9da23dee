/*
 * daemon.c -- what the daemon serves (daemon.h): snapshots built, patched
 * and published, the one way a new service list goes live, reloads, the
 * Kubernetes source's lifetime and admin rules.  Composing the service
 * list is services.c's; the status view, status.c's.
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
#include "probes/probe.h"
#include "server/compile.h"
#include "server/listen.h"
#include "server/qsbr.h"
#include "server/snap.h"

static void err_to_log(void *arg, const char *line)
{
	log_err("config error: %s", line);
}

static enum model_admin view_admin(const void *arg,
				   const struct model_service *s,
				   const struct model_endpoint *e)
{
	const struct admin_view *av = arg;

	return admin_of(av->a, av->apex, s, e);
}

/* The compiler's view of model m: health from the probe manager's table
 * (or the array given), admin state from the rules. */
struct compile_view daemon_view(const struct gslbd *g,
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

void daemon_publish(struct gslbd *g, struct snap *s,
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
int daemon_rebuild(struct gslbd *g, bool full)
{
	char err[256];
	struct timespec t0;
	const struct snap *cur = snap_current();
	struct admin_view av;
	struct compile_view v = daemon_view(g, g->model, &av, NULL, 0);
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
	daemon_publish(g, s, &t0);
	return 0;
}

void daemon_on_health_change(void *arg)
{
	daemon_rebuild(arg, false);
}

void daemon_apply_log_level(const struct gslbd *g, const struct model *m)
{
	if (!g->level_from_cli && m->server.log_level >= 0)
		log_set_level((enum log_level)m->server.log_level);
}

/* The one way a new service list goes live.  nm has its services; it
 * gets its targets, is compiled against the health its targets will
 * have, and only then are the probes synced, nm made g->model and the
 * snapshot published.  Returns 0, or -1 with err (nothing changed but
 * nm's targets). */
int daemon_commit(struct gslbd *g, struct model *nm, char *err, size_t errlen)
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
	struct compile_view v = daemon_view(g, nm, &av, health, nm->ntargets);
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
	g->st.targets_generation++;
	daemon_names_build(g);
	daemon_publish(g, s, &t0);
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
	if (m->kube.enabled && !(res = daemon_reserved_names(m, &nres))) {
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
		if (daemon_compose(g, m, &v, &nv) < 0) {
			snprintf(err, errlen, "out of memory");
			goto undo;
		}
		m->svcs = v;
		m->nsvcs = nv;
	}
	if (daemon_commit(g, m, err, errlen) < 0) {
		model_targets_clear(m);
		if (m->kube.enabled) {
			daemon_free_services(m->svcs, m->nsvcs);
			m->svcs = cfg;
			m->nsvcs = ncfg;
		}
		goto undo;
	}
	daemon_free_services(old_cfg, old_n);
	daemon_names_free(old_res, old_nres);
	/* Parsing a large config leaves freed memory in the heap; give it
	 * back to the system. */
	malloc_trim(0);
	return 0;
undo:
	g->cfg_svcs = old_cfg;
	g->ncfg_svcs = old_n;
	daemon_names_free(res, nres);
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

int daemon_kube_start(struct gslbd *g, char *err, size_t errlen)
{
	const struct model *m = g->model;
	g->kube = kube_new(g->base, &m->kube, m->zone.apex,
			   &m->probe_defaults, daemon_on_kube_change, g, err, errlen);
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
	daemon_rebuild(g, true);
	return matched;
}

