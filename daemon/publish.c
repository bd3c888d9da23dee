/*
 * publish.c -- snapshots of the live model (daemon_int.h): the compiler's
 * view (health by target, admin rules), patches for the services whose
 * targets changed, full builds, publishing, and the one way a new service
 * list is committed.  It knows nothing of where services come from.
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
#include "lib/xalloc.h"
#include "probes/probe.h"
#include "server/compile.h"
#include "server/listen.h"
#include "server/qsbr.h"
#include "server/snap.h"

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
				  .admin = view_admin, .admin_arg = av,
				  .sigcache = g->sigcache };

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
	g->st.sig_expire = s->dnssec ? s->sig_expire : 0;
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
 * when patching would not pay. */
static uint32_t *dirty_services(const struct model *m, const uint32_t *tids,
				size_t n, size_t *nout)
{
	size_t total = 0, k = 0;

	for (size_t i = 0; i < n; i++)
		if (tids[i] < m->ntargets)
			total += m->targets[tids[i]].nsvcs;
	if (total > m->nsvcs / 2 + 64)
		return NULL;
	uint32_t *d = xcalloc(total ? total : 1, sizeof(*d));

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
 * changed, or rebuild everything when that is due (1: that full build is
 * deferred while signing, see presign.c). */
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
	if (!s) {
		int rc = daemon_full_build(g, g->model, &v, DAEMON_REQ_REBUILD,
					   &s, err, sizeof(err));
		if (rc > 0)
			return 1; /* runs again once the signatures are made */
	}
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

/* The one way a new service list goes live.  nm has its services; it
 * gets its targets, is compiled against the health its targets will
 * have, and only then are the probes synced, nm made g->model and the
 * snapshot published.  Returns 0, or -1 with err, or 1 when deferred
 * while signing (either way nothing changed but nm's targets). */
int daemon_commit(struct gslbd *g, struct model *nm, unsigned req,
		  char *err, size_t errlen)
{
	struct timespec t0;
	struct admin_view av;
	uint8_t *health;
	struct snap *s;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	model_targets_build(nm);
	health = xcalloc(nm->ntargets ? nm->ntargets : 1, 1);
	probe_mgr_health_of(g->probes, nm->targets, nm->ntargets, health);
	struct compile_view v = daemon_view(g, nm, &av, health, nm->ntargets);
	int rc = daemon_full_build(g, nm, &v, req, &s, err, errlen);
	free(health);
	if (rc != 0)
		return rc;
	probe_mgr_sync(g->probes, nm->targets, nm->ntargets);
	g->model = nm;
	g->st.targets_generation++;
	daemon_publish(g, s, &t0);
	return 0;
}

