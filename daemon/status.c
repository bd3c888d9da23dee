/*
 * status.c -- the status view (control/status.h) the control API reads
 * the daemon through: plain calls into the daemon's parts, so control/
 * holds no handle to any of them.
 */
#include "config.h"

#include "config/admin.h"
#include "daemon/daemon.h"
#include "kube/kube.h"
#include "probes/probe.h"
#include "server/listen.h"

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

static bool sv_resolver(void *arg, struct resolver_stats *rs)
{
	struct gslbd *g = arg;

	if (!g->resolver)
		return false;
	resolver_stats(g->resolver, rs);
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
		.kube = sv_kube, .resolver = sv_resolver,
		.rules = sv_rules, .admin_of = sv_admin_of,
		.set_admin = sv_set_admin, .reload = sv_reload,
	};
}

