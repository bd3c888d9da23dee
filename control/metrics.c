/*
 * metrics.c -- the Prometheus text exposition (format 0.0.4) of what
 * gslbd answers and decides: queries, probes per target, health and
 * admin state per address, snapshots, reloads, the Kubernetes source.  Every metric
 * is listed in docs/metrics.md.
 */
#include "config.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "config/model.h"
#include "control/metrics.h"
#include "control/status.h"

struct mlabel {
	const char *k, *v;
};

static void m_head(struct evbuffer *b, const char *name, const char *type,
		   const char *help)
{
	evbuffer_add_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help,
			    name, type);
}

/* A label value: backslash, double quote and newline escaped. */
static void m_escape(struct evbuffer *b, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" :
				  *s == '\n' ? "\\n" : NULL;
		if (!esc)
			continue;
		evbuffer_add(b, run, (size_t)(s - run));
		evbuffer_add(b, esc, 2);
		run = s + 1;
	}
	evbuffer_add(b, run, (size_t)(s - run));
}

/* name{labels,extra} value.  The value is preformatted. */
static void m_sample(struct evbuffer *b, const char *name,
		     const struct mlabel *l, size_t nl,
		     const struct mlabel *extra, const char *value)
{
	bool any = false;

	evbuffer_add_printf(b, "%s", name);
	for (size_t i = 0; i < nl + (extra ? 1 : 0); i++) {
		const struct mlabel *x = i < nl ? &l[i] : extra;
		evbuffer_add_printf(b, "%s%s=\"", any ? "," : "{", x->k);
		m_escape(b, x->v ? x->v : "");
		evbuffer_add(b, "\"", 1);
		any = true;
	}
	evbuffer_add_printf(b, "%s %s\n", any ? "}" : "", value);
}

static void m_u64(struct evbuffer *b, const char *name,
		  const struct mlabel *l, size_t nl,
		  const struct mlabel *extra, uint64_t v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	m_sample(b, name, l, nl, extra, buf);
}

static void m_dbl(struct evbuffer *b, const char *name,
		  const struct mlabel *l, size_t nl,
		  const struct mlabel *extra, double v)
{
	char buf[64];

	/* Whole numbers (timestamps, sizes) in full, not as 1.7e+09. */
	if (v == (double)(int64_t)v && v < 9007199254740992.0 &&
	    v > -9007199254740992.0)
		snprintf(buf, sizeof(buf), "%lld", (long long)v);
	else
		snprintf(buf, sizeof(buf), "%.9g", v);
	m_sample(b, name, l, nl, extra, buf);
}

/* A family with one unlabelled sample. */
static void m_one(struct evbuffer *b, const char *name, const char *type,
		  const char *help, double v)
{
	m_head(b, name, type, help);
	m_dbl(b, name, NULL, 0, NULL, v);
}

static const char *const control_qtypes[ANSWER_QT_MAX] = {
	[ANSWER_QT_A] = "A", [ANSWER_QT_AAAA] = "AAAA", [ANSWER_QT_NS] = "NS",
	[ANSWER_QT_SOA] = "SOA", [ANSWER_QT_ANY] = "ANY",
	[ANSWER_QT_TXT] = "TXT", [ANSWER_QT_OTHER] = "OTHER",
};

static const char *metrics_rcode_name(unsigned r, char *buf, size_t len)
{
	static const char *const names[] = {
		"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP",
		"REFUSED", "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH",
		"NOTZONE", NULL, NULL, NULL, NULL, NULL, "BADVERS",
	};

	if (r < sizeof(names) / sizeof(names[0]) && names[r])
		return names[r];
	if (r == ANSWER_RCODES - 1)
		return "OTHER"; /* answer.c folds everything above here */
	snprintf(buf, len, "RCODE%u", r);
	return buf;
}

static void metrics_queries(struct evbuffer *b, const struct status_view *v)
{
	struct answer_stats q;
	char buf[16];

	v->queries(v->arg, &q);
	m_head(b, "gslbd_queries_total", "counter",
	       "DNS queries received, by transport.");
	m_u64(b, "gslbd_queries_total", &(struct mlabel){ "proto", "udp" },
	      1, NULL, q.udp);
	m_u64(b, "gslbd_queries_total", &(struct mlabel){ "proto", "tcp" },
	      1, NULL, q.tcp);
	m_head(b, "gslbd_queries_by_qtype_total", "counter",
	       "DNS queries received, by query type.");
	for (unsigned i = 0; i < ANSWER_QT_MAX; i++)
		m_u64(b, "gslbd_queries_by_qtype_total",
		      &(struct mlabel){ "qtype", control_qtypes[i] }, 1, NULL,
		      q.qtype[i]);
	m_head(b, "gslbd_responses_total", "counter",
	       "DNS responses sent, by response code (extended codes "
	       "included).");
	for (unsigned i = 0; i < ANSWER_RCODES; i++) {
		/* The usual codes always, so that rate() has a series to
		 * work on before the first one is sent. */
		if (!q.rcode[i] && i > 5 && i != 16)
			continue;
		m_u64(b, "gslbd_responses_total",
		      &(struct mlabel){ "rcode",
			metrics_rcode_name(i, buf, sizeof(buf)) }, 1, NULL,
		      q.rcode[i]);
	}
	m_head(b, "gslbd_truncated_total", "counter",
	       "UDP responses sent with TC=1 because the answer did not fit.");
	m_u64(b, "gslbd_truncated_total", NULL, 0, NULL, q.truncated);
	m_head(b, "gslbd_dropped_total", "counter",
	       "Packets that got no answer (not a query, too short).");
	m_u64(b, "gslbd_dropped_total", NULL, 0, NULL, q.dropped);
	m_head(b, "gslbd_edns_queries_total", "counter",
	       "Queries with an EDNS OPT record.");
	m_u64(b, "gslbd_edns_queries_total", NULL, 0, NULL, q.edns);
	m_head(b, "gslbd_ecs_queries_total", "counter",
	       "Queries with an EDNS Client Subnet option.");
	m_u64(b, "gslbd_ecs_queries_total", NULL, 0, NULL, q.ecs);
}

/* The four labels of every per-address series. */
struct m_addr_labels {
	struct mlabel l[4];
	char ip[INET6_ADDRSTRLEN];
};

static void m_addr_labels(struct m_addr_labels *al,
			  const struct model_service *s,
			  const struct model_endpoint *e,
			  const struct model_addr *a)
{
	model_addr_str(a, al->ip, sizeof(al->ip));
	al->l[0] = (struct mlabel){ "service", s->name };
	al->l[1] = (struct mlabel){ "endpoint", model_endpoint_name(e) };
	al->l[2] = (struct mlabel){ "region", e->region ? e->region : "" };
	al->l[3] = (struct mlabel){ "address", al->ip };
}

enum m_ep_kind { M_EP_UP, M_EP_ELIGIBLE, M_EP_ADMIN, M_EP_SINCE };

static void metrics_addr_one(struct evbuffer *b, const struct status_view *v,
			     enum m_ep_kind kind, const char *name,
			     const struct m_addr_labels *al,
			     const struct model_endpoint *e, uint8_t adm,
			     const struct model_addr *a)
{
	struct probe_info pi;
	uint8_t h = status_addr_health(v, a, &pi);

	switch (kind) {
	case M_EP_UP:
		m_u64(b, name, al->l, 4, NULL, h != HEALTH_DOWN);
		break;
	case M_EP_ELIGIBLE:
		m_u64(b, name, al->l, 4, NULL,
		      model_answerable(e->enabled, adm, h));
		break;
	case M_EP_SINCE:
		m_u64(b, name, al->l, 4, NULL, a->target && pi.since > 0 ?
		      (uint64_t)pi.since : 0);
		break;
	case M_EP_ADMIN:
		for (unsigned st = ADMIN_NONE; st <= ADMIN_FORCE_DOWN; st++)
			m_u64(b, name, al->l, 4, &(struct mlabel){ "state",
			      model_admin_name(st) }, adm == st);
		break;
	}
}

static void metrics_ep_family(struct evbuffer *b, const struct status_view *v,
			      const struct model *m, enum m_ep_kind kind,
			      const char *name)
{
	for (size_t i = 0; i < m->nsvcs; i++) {
		const struct model_service *s = &m->svcs[i];
		for (size_t j = 0; j < s->neps; j++) {
			const struct model_endpoint *e = &s->eps[j];
			uint8_t adm = (uint8_t)v->admin_of(v->arg, s, e);
			for (size_t k = 0; k < e->naddrs; k++) {
				struct m_addr_labels al;

				m_addr_labels(&al, s, e, &e->addrs[k]);
				metrics_addr_one(b, v, kind, name, &al, e, adm,
						 &e->addrs[k]);
			}
		}
	}
}

static void metrics_endpoints(struct evbuffer *b, const struct status_view *v,
			      const struct model *m)
{
	m_head(b, "gslbd_endpoint_up", "gauge",
	       "1 unless the probes found the address down (not yet probed "
	       "and unprobed addresses count as up).");
	metrics_ep_family(b, v, m, M_EP_UP, "gslbd_endpoint_up");
	m_head(b, "gslbd_endpoint_eligible", "gauge",
	       "1 when the address is given out in answers now (enabled, "
	       "admin state, health).");
	metrics_ep_family(b, v, m, M_EP_ELIGIBLE, "gslbd_endpoint_eligible");
	m_head(b, "gslbd_endpoint_admin", "gauge",
	       "Admin state of the address's endpoint: 1 for the state in "
	       "force, 0 for the others.");
	metrics_ep_family(b, v, m, M_EP_ADMIN, "gslbd_endpoint_admin");
	m_head(b, "gslbd_endpoint_last_transition_timestamp_seconds", "gauge",
	       "Unix time of the address's last health change (0: none "
	       "yet).");
	metrics_ep_family(b, v, m, M_EP_SINCE,
			  "gslbd_endpoint_last_transition_timestamp_seconds");
}

enum m_probe_kind { M_PR_ATTEMPTS, M_PR_FAILURES, M_PR_DURATION, M_PR_LAST };

struct m_probe_arg {
	struct evbuffer *b;
	enum m_probe_kind kind;
};

static void metrics_probe_one(const struct probe_info *pi, void *arg)
{
	struct m_probe_arg *pa = arg;
	struct evbuffer *b = pa->b;
	const struct probe_stats *st = pi->st;
	char port[8];
	snprintf(port, sizeof(port), "%u", pi->port);
	const struct mlabel l[4] = {
		{ "address", pi->address }, { "port", port },
		{ "type", probe_spec_type_name(pi->spec->type) },
		{ "host", pi->host ? pi->host : "" },
	};
	static const char *const hist = "gslbd_probe_duration_seconds";
	char le[32], name[64];
	uint64_t cum = 0;

	switch (pa->kind) {
	case M_PR_ATTEMPTS:
		m_u64(b, "gslbd_probe_attempts_total", l, 4, NULL,
		      st->attempts);
		break;
	case M_PR_FAILURES:
		for (unsigned c = 0; c < PROBE_FAIL_MAX; c++)
			m_u64(b, "gslbd_probe_failures_total", l, 4,
			      &(struct mlabel){ "reason",
			      probe_fail_class_name(c) }, st->failures[c]);
		break;
	case M_PR_DURATION:
		snprintf(name, sizeof(name), "%s_bucket", hist);
		for (unsigned i = 0; i < PROBE_LAT_BUCKETS; i++) {
			cum += st->lat_bucket[i];
			snprintf(le, sizeof(le), "%g", probe_lat_bounds[i]);
			m_u64(b, name, l, 4, &(struct mlabel){ "le", le }, cum);
		}
		cum += st->lat_bucket[PROBE_LAT_BUCKETS];
		m_u64(b, name, l, 4, &(struct mlabel){ "le", "+Inf" }, cum);
		snprintf(name, sizeof(name), "%s_sum", hist);
		m_dbl(b, name, l, 4, NULL, (double)st->lat_sum_us / 1e6);
		snprintf(name, sizeof(name), "%s_count", hist);
		m_u64(b, name, l, 4, NULL, cum);
		break;
	case M_PR_LAST:
		m_dbl(b, "gslbd_probe_last_duration_seconds", l, 4, NULL,
		      (double)st->last_us / 1e6);
		break;
	}
}

/* One pass over the targets per family: families must be contiguous. */
static void metrics_probe_family(struct evbuffer *b,
				 const struct status_view *v,
				 const struct model *m, enum m_probe_kind kind)
{
	struct m_probe_arg pa = { b, kind };
	struct probe_info pi;

	for (size_t t = 0; m && t < m->ntargets; t++)
		if (v->target(v->arg, (uint32_t)t, &pi))
			metrics_probe_one(&pi, &pa);
}

static void metrics_probes(struct evbuffer *b, const struct status_view *v,
			   const struct model *m)
{
	struct probe_counters pc = { 0 };

	v->probe_counters(v->arg, &pc);
	m_one(b, "gslbd_probes_active", "gauge",
	      "Probe targets now (one per distinct address and probe "
	      "settings, however many names use it).", pc.active);
	m_head(b, "gslbd_probe_transitions_total", "counter",
	       "Health changes of probe targets.");
	m_u64(b, "gslbd_probe_transitions_total", NULL, 0, NULL,
	      pc.transitions);
	m_head(b, "gslbd_probe_attempts_total", "counter",
	       "Probe runs started for the target.");
	metrics_probe_family(b, v, m, M_PR_ATTEMPTS);
	m_head(b, "gslbd_probe_failures_total", "counter",
	       "Failed probe runs, by class of reason (timeout, refused, "
	       "status, body, tls, connect, other).");
	metrics_probe_family(b, v, m, M_PR_FAILURES);
	m_head(b, "gslbd_probe_duration_seconds", "histogram",
	       "How long finished probe runs took.");
	metrics_probe_family(b, v, m, M_PR_DURATION);
	m_head(b, "gslbd_probe_last_duration_seconds", "gauge",
	       "How long the target's last finished probe run took.");
	metrics_probe_family(b, v, m, M_PR_LAST);
}

static void metrics_daemon(struct evbuffer *b, const struct status_view *v)
{
	struct status_stats st;
	size_t nrules = 0;

	v->stats(v->arg, &st);
	v->rules(v->arg, &nrules);
	m_head(b, "gslbd_build_info", "gauge",
	       "Always 1; the version is in the label.");
	m_u64(b, "gslbd_build_info",
	      &(struct mlabel){ "version", PACKAGE_VERSION }, 1, NULL, 1);
	m_one(b, "gslbd_start_time_seconds", "gauge",
	      "Unix time the daemon started serving.", (double)st.started);
	m_one(b, "gslbd_workers", "gauge", "Query worker threads.",
	      st.workers);
	m_one(b, "gslbd_ready", "gauge",
	      "1 once the first probe round (and Kubernetes sync) is done.",
	      v->ready(v->arg));
	m_one(b, "gslbd_snapshot_generation", "gauge",
	      "Answer snapshots published since start.",
	      (double)st.generation);
	m_one(b, "gslbd_snapshot_build_seconds", "gauge",
	      "How long the last snapshot took to build.",
	      (double)st.last_build_us / 1e6);
	m_one(b, "gslbd_snapshot_build_timestamp_seconds", "gauge",
	      "Unix time the last snapshot was published.",
	      (double)st.last_build_time);
	m_one(b, "gslbd_snapshot_names", "gauge",
	      "Names in the current snapshot.", st.snapshot_names);
	m_one(b, "gslbd_snapshot_bytes", "gauge",
	      "Memory of the current snapshot.", (double)st.snapshot_bytes);
	m_head(b, "gslbd_reloads_total", "counter",
	       "Configuration reloads (SIGHUP or POST /reload), by result.");
	m_u64(b, "gslbd_reloads_total", &(struct mlabel){ "result", "ok" },
	      1, NULL, st.reloads_ok);
	m_u64(b, "gslbd_reloads_total",
	      &(struct mlabel){ "result", "failed" }, 1, NULL,
	      st.reloads_failed);
	/* Before any reload the configuration in use is the one that
	 * loaded at start, which succeeded. */
	m_one(b, "gslbd_last_reload_success", "gauge",
	      "1 when the last reload succeeded (or there was none yet).",
	      st.last_reload_time ? st.last_reload_ok : 1);
	m_one(b, "gslbd_last_reload_timestamp_seconds", "gauge",
	      "Unix time of the last reload attempt (0: none yet).",
	      (double)st.last_reload_time);
	m_one(b, "gslbd_admin_rules", "gauge",
	      "Admin rules (drain, force-up, force-down) in force.",
	      (double)nrules);
}

static void metrics_kube(struct evbuffer *b, const struct status_view *v)
{
	struct kube_status ks;

	if (!v->kube(v->arg, &ks))
		return;
	m_one(b, "gslbd_kube_connected", "gauge",
	      "1 when the last request reached the Kubernetes API.",
	      ks.connected);
	m_one(b, "gslbd_kube_synced", "gauge",
	      "1 once a full list has been received from the API.",
	      ks.synced);
	m_one(b, "gslbd_kube_from_cache", "gauge",
	      "1 while serving the cache file's service list.",
	      ks.from_cache);
	m_one(b, "gslbd_kube_last_sync_timestamp_seconds", "gauge",
	      "Unix time of the last full list (0: none).",
	      (double)ks.last_sync);
	m_head(b, "gslbd_kube_relists_total", "counter",
	       "Full lists after the first (resync, 410 Gone, reconnect).");
	m_u64(b, "gslbd_kube_relists_total", NULL, 0, NULL, ks.relists);
	m_head(b, "gslbd_kube_watch_events_total", "counter",
	       "Watch events received.");
	m_u64(b, "gslbd_kube_watch_events_total", NULL, 0, NULL,
	      ks.watch_events);
	m_head(b, "gslbd_kube_errors_total", "counter",
	       "Failed API requests and objects that could not be used.");
	m_u64(b, "gslbd_kube_errors_total", NULL, 0, NULL, ks.errors);
	m_one(b, "gslbd_kube_services", "gauge",
	      "Services from the Kubernetes source.", ks.services);
}

void metrics_write(struct evbuffer *b, const struct status_view *v)
{
	const struct model *m = v->model(v->arg);

	metrics_daemon(b, v);
	metrics_queries(b, v);
	if (m)
		metrics_endpoints(b, v, m);
	metrics_probes(b, v, m);
	metrics_kube(b, v);
}
