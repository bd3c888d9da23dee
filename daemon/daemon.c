/*
 * daemon.c -- what the daemon serves (daemon.h): configurations going
 * live, reloads, the Kubernetes source's lifetime and admin rules.
 * Snapshots and commits are publish.c's; composing the service list,
 * services.c's; the status view, status.c's.
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

void daemon_apply_log_level(const struct gslbd *g, const struct model *m)
{
	if (!g->level_from_cli && m->server.log_level >= 0)
		log_set_level((enum log_level)m->server.log_level);
}

/* daemon_go_live, handing the replaced model back (*old) rather than
 * freeing it: a reload still reads its Kubernetes section.  1: deferred
 * while signing (m freed, nothing changed). */
static int go_live(struct gslbd *g, struct model *m, struct model **old,
		   char *err, size_t errlen)
{
	struct model_service *old_cfg = g->cfg_svcs, *cfg = m->svcs, *v;
	size_t old_n = g->ncfg_svcs, ncfg = m->nsvcs, nv;

	char **old_res = g->reserved, **res = NULL;
	size_t old_nres = g->nreserved, nres = 0;

	bool compose = daemon_hostnames_needed(m);

	*old = g->model;
	if (m->kube.enabled)
		res = daemon_reserved_names(m, &nres);
	if (daemon_hostnames_prepare(g, m, daemon_hostnames_changed, err,
				     errlen) < 0) {
		daemon_names_free(res, nres);
		model_free(m);
		return -1;
	}
	g->reserved = res;
	g->nreserved = nres;
	/* Without another source nothing is ever recomposed: the config's
	 * services serve as they are, with no pristine copy kept. */
	g->cfg_svcs = compose ? cfg : NULL;
	g->ncfg_svcs = compose ? ncfg : 0;
	if (compose) {
		daemon_compose(g, m, &v, &nv);
		m->svcs = v;
		m->nsvcs = nv;
	}
	int rc = daemon_commit(g, m, DAEMON_REQ_RELOAD, err, errlen);
	if (rc != 0) {
		model_targets_clear(m);
		if (compose) {
			daemon_free_services(m->svcs, m->nsvcs);
			m->svcs = cfg;
			m->nsvcs = ncfg;
		}
		goto undo;
	}
	daemon_names_build(g);
	daemon_hostnames_configure(g, m);
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
	return rc;
}

int daemon_go_live(struct gslbd *g, struct model *m)
{
	char err[256];
	struct model *old;

	/* Start-up: nothing serves yet, so it is never deferred. */
	if (go_live(g, m, &old, err, sizeof(err)) != 0) {
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
		kube_update(g->kube, &m->kube, m->zone.apex,
			    &m->probe_defaults);
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

	if (daemon_signing(g)) {
		/* Coalesced: however many come, one reload when it lands. */
		g->sign_req |= DAEMON_REQ_RELOAD;
		log_info("reload queued until signing finishes config=%s",
			 g->path);
		return 1;
	}
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
	int rc = go_live(g, nm, &old, err, errlen);
	if (rc > 0) {
		/* Not an attempt yet: the signatures are being made, and the
		 * reload runs again, config re-read, when they are. */
		g->st.reloads_failed--;
		log_info("reload deferred until signing finishes");
		return 1;
	}
	if (rc < 0) {
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
	if (!daemon_dnssec_fresh(g))
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

	if (admin_set(g->admin, r.region, r.service, r.endpoint, a) < 0) {
		log_warn("admin change refused: too many rules max=%u",
			 ADMIN_MAX_RULES);
		return -1;
	}
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

/* A signing batch landed (presign.c): run again what asked for a full
 * build meanwhile, now finding its signatures cached; a request that
 * defers again goes back in g->sign_req. */
void daemon_rerun(struct gslbd *g, unsigned p)
{
	char err[256] = "";
	int rc;

	if (p & DAEMON_REQ_RELOAD) {
		if ((rc = daemon_reload(g, err, sizeof(err))) > 0) {
			g->sign_req |= p;
			return;
		}
		control_reload_done(g->control, rc, err);
		if (rc == 0) /* composed and built in full */
			p &= ~(DAEMON_REQ_RELIST | DAEMON_REQ_REBUILD);
	}
	if (p & DAEMON_REQ_RELIST) {
		if ((rc = daemon_services_changed(g)) > 0) {
			g->sign_req |= p & ~DAEMON_REQ_RELOAD;
			return;
		}
		if (rc == 0)
			p &= ~DAEMON_REQ_REBUILD;
	}
	if (p & DAEMON_REQ_REBUILD)
		daemon_rebuild(g, true);
}
