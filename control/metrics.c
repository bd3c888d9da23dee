/*
 * metrics.c -- the Prometheus text exposition (format 0.0.4) of what
 * gslbd answers and decides: queries, snapshots, reloads, the Kubernetes
 * source, and its services, addresses and probe targets counted up; with
 * per-target series, also one set per address and per probe target.
 * Every metric is listed in docs/metrics.md.
 *
 * The exposition is written in parts (enum m_part): first everything
 * whose size does not grow with the service list, then, with per-target
 * series, one family at a time over the services (per-address families)
 * or over the probe targets.  metrics_next() stops at a whole service or
 * target once the caller's budget is reached, and the next call, in a
 * later turn of the event loop, goes on from there.
 *
 * Between two calls the model may change.  Memory: the cursor holds
 * indexes, never a pointer into the model or the probe manager, and each
 * call takes the model afresh from the view and bounds every index by
 * its counts, so nothing freed or past an end is read.  Consistency:
 * within one model, services keep their slots or are appended
 * (Kubernetes changes merged in place) and targets keep their indexes;
 * a new model or re-indexed targets move targets_generation, and the
 * scrape then stops (METRICS_CHANGED) rather than write a series twice
 * or miss one.  The model pointer alone would not tell: a model freed
 * and the next one allocated compare equal.  The snapshot generation
 * would stop most large scrapes: it moves with every health change.
 */
#include "config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <event2/buffer.h>

#include "config/model.h"
#include "control/metrics.h"
#include "control/status.h"
#include "probes/health.h"

/* ---- writing ---- */

/* A line is many small pieces: copied into this buffer and handed to
 * the evbuffer in runs, they cost a fraction of an evbuffer call (or a
 * printf) each, which counts at 10,000 targets. */
struct m_out {
	struct evbuffer *b;
	size_t n;
	char buf[16384];
};

static void m_flush(struct m_out *o)
{
	if (o->n)
		evbuffer_add(o->b, o->buf, o->n);
	o->n = 0;
}

static void m_put(struct m_out *o, const char *s, size_t len)
{
	if (len > sizeof(o->buf) - o->n) {
		m_flush(o);
		if (len > sizeof(o->buf)) {
			evbuffer_add(o->b, s, len);
			return;
		}
	}
	memcpy(o->buf + o->n, s, len);
	o->n += len;
}

static void m_str(struct m_out *o, const char *s)
{
	m_put(o, s, strlen(s));
}

static size_t m_len(const struct m_out *o)
{
	return evbuffer_get_length(o->b) + o->n;
}

struct mlabel {
	const char *k, *v;
};

static void m_head(struct m_out *o, const char *name, const char *type,
		   const char *help)
{
	m_str(o, "# HELP ");
	m_str(o, name);
	m_put(o, " ", 1);
	m_str(o, help);
	m_str(o, "\n# TYPE ");
	m_str(o, name);
	m_put(o, " ", 1);
	m_str(o, type);
	m_put(o, "\n", 1);
}

/* A label value: backslash, double quote and newline escaped. */
static void m_escape(struct m_out *o, const char *s)
{
	const char *run = s;

	for (; *s; s++) {
		const char *esc = *s == '\\' ? "\\\\" : *s == '"' ? "\\\"" :
				  *s == '\n' ? "\\n" : NULL;
		if (!esc)
			continue;
		m_put(o, run, (size_t)(s - run));
		m_put(o, esc, 2);
		run = s + 1;
	}
	m_put(o, run, (size_t)(s - run));
}

/* name{labels,extra} value.  The value is preformatted. */
static void m_sample(struct m_out *o, const char *name,
		     const struct mlabel *l, size_t nl,
		     const struct mlabel *extra, const char *value)
{
	size_t n = nl + (extra ? 1 : 0);

	m_str(o, name);
	for (size_t i = 0; i < n; i++) {
		const struct mlabel *x = i < nl ? &l[i] : extra;
		m_put(o, i ? "," : "{", 1);
		m_str(o, x->k);
		m_put(o, "=\"", 2);
		m_escape(o, x->v ? x->v : "");
		m_put(o, "\"", 1);
	}
	if (n)
		m_put(o, "} ", 2);
	else
		m_put(o, " ", 1);
	m_str(o, value);
	m_put(o, "\n", 1);
}

static void m_u64(struct m_out *o, const char *name,
		  const struct mlabel *l, size_t nl,
		  const struct mlabel *extra, uint64_t v)
{
	char buf[24], *p = buf + sizeof(buf);

	*--p = '\0';
	do {
		*--p = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	m_sample(o, name, l, nl, extra, p);
}

static void m_dbl(struct m_out *o, const char *name,
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
	m_sample(o, name, l, nl, extra, buf);
}

/* A family with one unlabelled sample. */
static void m_one(struct m_out *o, const char *name, const char *type,
		  const char *help, double v)
{
	m_head(o, name, type, help);
	m_dbl(o, name, NULL, 0, NULL, v);
}

/* ---- process, queries, Kubernetes ---- */

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

/* Rate limiting and DNS cookies (server/rrl.h, server/cookie.h). */
static void metrics_guard(struct m_out *o, const struct answer_stats *q)
{
	m_head(o, "gslbd_rrl_limited_total", "counter",
	       "UDP answers over the rate limit (slipped plus dropped).");
	m_u64(o, "gslbd_rrl_limited_total", NULL, 0, NULL,
	      q->guard[ANSWER_G_RRL_LIMITED]);
	m_head(o, "gslbd_rrl_slipped_total", "counter",
	       "Rate-limited answers sent cut down: TC=1, or BADCOOKIE to a "
	       "client that sent a cookie.");
	m_u64(o, "gslbd_rrl_slipped_total", NULL, 0, NULL,
	      q->guard[ANSWER_G_RRL_SLIPPED]);
	m_head(o, "gslbd_rrl_dropped_total", "counter",
	       "Rate-limited answers not sent.");
	m_u64(o, "gslbd_rrl_dropped_total", NULL, 0, NULL,
	      q->guard[ANSWER_G_RRL_DROPPED]);
	m_head(o, "gslbd_cookie_queries_total", "counter",
	       "Queries with a DNS COOKIE option, by whether their server "
	       "cookie was valid (valid queries are never rate-limited).");
	m_u64(o, "gslbd_cookie_queries_total",
	      &(struct mlabel){ "server_cookie", "valid" }, 1, NULL,
	      q->guard[ANSWER_G_COOKIE_VALID]);
	m_u64(o, "gslbd_cookie_queries_total",
	      &(struct mlabel){ "server_cookie", "none_or_invalid" }, 1, NULL,
	      q->guard[ANSWER_G_COOKIE_CLIENT]);
}

/* RFC 9824 compact denial on the workers (server/onlinesign.h). */
static void metrics_online(struct m_out *o, const struct answer_stats *q)
{
	m_head(o, "gslbd_dnssec_online_signatures_total", "counter",
	       "Compact denial NSEC records signed online by the workers.");
	m_u64(o, "gslbd_dnssec_online_signatures_total", NULL, 0, NULL,
	      q->online[ANSWER_ON_SIGNED]);
	m_head(o, "gslbd_dnssec_online_cache_hits_total", "counter",
	       "Compact denial answers served from a worker's cache.");
	m_u64(o, "gslbd_dnssec_online_cache_hits_total", NULL, 0, NULL,
	      q->online[ANSWER_ON_HIT]);
	m_head(o, "gslbd_dnssec_online_fallbacks_total", "counter",
	       "Compact denial answers proven with the NSEC chain instead, "
	       "the worker's signing budget (online-sign-rate) being spent.");
	m_u64(o, "gslbd_dnssec_online_fallbacks_total", NULL, 0, NULL,
	      q->online[ANSWER_ON_FALLBACK]);
}

static void metrics_queries(struct m_out *o, const struct status_view *v)
{
	struct answer_stats q;
	char buf[16];

	v->queries(v->arg, &q);
	m_head(o, "gslbd_queries_total", "counter",
	       "DNS queries received, by transport.");
	m_u64(o, "gslbd_queries_total", &(struct mlabel){ "proto", "udp" },
	      1, NULL, q.udp);
	m_u64(o, "gslbd_queries_total", &(struct mlabel){ "proto", "tcp" },
	      1, NULL, q.tcp);
	m_head(o, "gslbd_queries_by_qtype_total", "counter",
	       "DNS queries received, by query type.");
	for (unsigned i = 0; i < ANSWER_QT_MAX; i++)
		m_u64(o, "gslbd_queries_by_qtype_total",
		      &(struct mlabel){ "qtype", control_qtypes[i] }, 1, NULL,
		      q.qtype[i]);
	m_head(o, "gslbd_responses_total", "counter",
	       "DNS responses sent, by response code (extended codes "
	       "included).");
	for (unsigned i = 0; i < ANSWER_RCODES; i++) {
		/* The usual codes always, so that rate() has a series to
		 * work on before the first one is sent. */
		if (!q.rcode[i] && i > 5 && i != 16)
			continue;
		m_u64(o, "gslbd_responses_total",
		      &(struct mlabel){ "rcode",
			metrics_rcode_name(i, buf, sizeof(buf)) }, 1, NULL,
		      q.rcode[i]);
	}
	m_head(o, "gslbd_truncated_total", "counter",
	       "UDP responses sent with TC=1 because the answer did not fit.");
	m_u64(o, "gslbd_truncated_total", NULL, 0, NULL, q.truncated);
	m_head(o, "gslbd_dropped_total", "counter",
	       "Packets that got no answer (not a query, too short).");
	m_u64(o, "gslbd_dropped_total", NULL, 0, NULL, q.dropped);
	m_head(o, "gslbd_edns_queries_total", "counter",
	       "Queries with an EDNS OPT record.");
	m_u64(o, "gslbd_edns_queries_total", NULL, 0, NULL, q.edns);
	m_head(o, "gslbd_ecs_queries_total", "counter",
	       "Queries with an EDNS Client Subnet option.");
	m_u64(o, "gslbd_ecs_queries_total", NULL, 0, NULL, q.ecs);
	metrics_guard(o, &q);
	metrics_online(o, &q);
}

/* What the data plane refused or closed to protect itself. */
static void metrics_conn(struct m_out *o, const struct status_view *v)
{
	static const char *const reasons[ANSWER_TCP_CLOSE_MAX] = {
		[ANSWER_TCP_IDLE] = "idle",
		[ANSWER_TCP_SLOW] = "slow",
		[ANSWER_TCP_LIFETIME] = "lifetime",
		[ANSWER_TCP_EVICTED] = "evicted",
		[ANSWER_TCP_REFUSED] = "refused",
		[ANSWER_TCP_PER_SOURCE] = "per-source",
		[ANSWER_TCP_MALFORMED] = "malformed",
	};
	struct answer_stats q;

	v->queries(v->arg, &q);
	m_head(o, "gslbd_udp_oversize_total", "counter",
	       "UDP datagrams over 4096 bytes, dropped unanswered.");
	m_u64(o, "gslbd_udp_oversize_total", NULL, 0, NULL, q.udp_oversize);
	m_head(o, "gslbd_tcp_closed_total", "counter",
	       "TCP connections the server closed or refused, by reason.");
	for (unsigned i = 0; i < ANSWER_TCP_CLOSE_MAX; i++)
		m_u64(o, "gslbd_tcp_closed_total",
		      &(struct mlabel){ "reason", reasons[i] }, 1, NULL,
		      q.tcp_closed[i]);
}

static void metrics_daemon(struct m_out *o, const struct status_view *v)
{
	struct status_stats st;
	size_t nrules = 0;

	v->stats(v->arg, &st);
	v->rules(v->arg, &nrules);
	m_head(o, "gslbd_build_info", "gauge",
	       "Always 1; the version is in the label.");
	m_u64(o, "gslbd_build_info",
	      &(struct mlabel){ "version", PACKAGE_VERSION }, 1, NULL, 1);
	m_one(o, "gslbd_start_time_seconds", "gauge",
	      "Unix time the daemon started serving.", (double)st.started);
	m_one(o, "gslbd_workers", "gauge", "Query worker threads.",
	      st.workers);
	m_one(o, "gslbd_ready", "gauge",
	      "1 once the first probe round (and Kubernetes sync) is done.",
	      v->ready(v->arg));
	m_one(o, "gslbd_snapshot_generation", "gauge",
	      "Answer snapshots published since start.",
	      (double)st.generation);
	m_one(o, "gslbd_snapshot_build_seconds", "gauge",
	      "How long the last snapshot took to build.",
	      (double)st.last_build_us / 1e6);
	m_one(o, "gslbd_snapshot_build_timestamp_seconds", "gauge",
	      "Unix time the last snapshot was published.",
	      (double)st.last_build_time);
	m_one(o, "gslbd_snapshot_names", "gauge",
	      "Names in the current snapshot.", st.snapshot_names);
	m_one(o, "gslbd_snapshot_bytes", "gauge",
	      "Memory of the current snapshot.", (double)st.snapshot_bytes);
	if (st.sig_expire)
		m_one(o, "gslbd_dnssec_signature_expiry_timestamp_seconds",
		      "gauge", "Unix time the earliest RRSIG served expires.",
		      (double)st.sig_expire);
	if (st.sig_expire) {
		/* Big re-signs run on the signer threads (daemon/presign.c). */
		m_one(o, "gslbd_dnssec_signatures_pending", "gauge",
		      "RRsets being signed on the signer threads now.",
		      (double)st.sign_pending);
		m_head(o, "gslbd_dnssec_signing_batches_total", "counter",
		       "Signing batches done on the signer threads.");
		m_u64(o, "gslbd_dnssec_signing_batches_total", NULL, 0, NULL,
		      st.sign_batches);
		m_one(o, "gslbd_dnssec_signing_last_batch_seconds", "gauge",
		      "How long the last signing batch took.",
		      (double)st.sign_last_ms / 1e3);
		m_one(o, "gslbd_dnssec_signing_last_batch_timestamp_seconds",
		      "gauge", "Unix time the last signing batch ended (0: none).",
		      (double)st.sign_last_time);
	}
	m_head(o, "gslbd_reloads_total", "counter",
	       "Configuration reloads (SIGHUP or POST /reload), by result.");
	m_u64(o, "gslbd_reloads_total", &(struct mlabel){ "result", "ok" },
	      1, NULL, st.reloads_ok);
	m_u64(o, "gslbd_reloads_total",
	      &(struct mlabel){ "result", "failed" }, 1, NULL,
	      st.reloads_failed);
	/* Before any reload the configuration in use is the one that
	 * loaded at start, which succeeded. */
	m_one(o, "gslbd_last_reload_success", "gauge",
	      "1 when the last reload succeeded (or there was none yet).",
	      st.last_reload_time ? st.last_reload_ok : 1);
	m_one(o, "gslbd_last_reload_timestamp_seconds", "gauge",
	      "Unix time of the last reload attempt (0: none yet).",
	      (double)st.last_reload_time);
	m_one(o, "gslbd_admin_rules", "gauge",
	      "Admin rules (drain, force-up, force-down) in force.",
	      (double)nrules);
}

static void metrics_kube(struct m_out *o, const struct status_view *v)
{
	struct kube_status ks;

	if (!v->kube(v->arg, &ks))
		return;
	m_one(o, "gslbd_kube_connected", "gauge",
	      "1 when the last request reached the Kubernetes API.",
	      ks.connected);
	m_one(o, "gslbd_kube_synced", "gauge",
	      "1 once a full list has been received from the API.",
	      ks.synced);
	m_one(o, "gslbd_kube_from_cache", "gauge",
	      "1 while serving the cache file's service list.",
	      ks.from_cache);
	m_one(o, "gslbd_kube_last_sync_timestamp_seconds", "gauge",
	      "Unix time of the last full list (0: none).",
	      (double)ks.last_sync);
	m_head(o, "gslbd_kube_relists_total", "counter",
	       "Full lists after the first (resync, 410 Gone, reconnect).");
	m_u64(o, "gslbd_kube_relists_total", NULL, 0, NULL, ks.relists);
	m_head(o, "gslbd_kube_watch_events_total", "counter",
	       "Watch events received.");
	m_u64(o, "gslbd_kube_watch_events_total", NULL, 0, NULL,
	      ks.watch_events);
	m_head(o, "gslbd_kube_errors_total", "counter",
	       "Failed API requests and objects that could not be used.");
	m_u64(o, "gslbd_kube_errors_total", NULL, 0, NULL, ks.errors);
	m_one(o, "gslbd_kube_services", "gauge",
	      "Services from the Kubernetes source.", ks.services);
}

/* Load balancers' host names (lib/resolver.h). */
static void metrics_resolver(struct m_out *o, const struct status_view *v)
{
	static const char *const states[] = { "ok", "stale", "failed",
					      "pending" };
	struct resolver_stats rs;
	size_t by[4];

	if (!v->resolver || !v->resolver(v->arg, &rs))
		return;
	by[0] = rs.ok;
	by[1] = rs.stale;
	by[2] = rs.failed;
	by[3] = rs.pending;
	m_head(o, "gslbd_resolver_names", "gauge",
	       "Load balancers' host names, by state (stale: lookups fail, "
	       "the last addresses kept).");
	for (size_t i = 0; i < 4; i++)
		m_u64(o, "gslbd_resolver_names",
		      &(struct mlabel){ "state", states[i] }, 1, NULL, by[i]);
	m_head(o, "gslbd_resolver_lookups_total", "counter",
	       "Host name lookups (A and AAAA together).");
	m_u64(o, "gslbd_resolver_lookups_total", NULL, 0, NULL, rs.lookups);
	m_head(o, "gslbd_resolver_failures_total", "counter",
	       "Host name lookups that failed.");
	m_u64(o, "gslbd_resolver_failures_total", NULL, 0, NULL, rs.failures);
	m_head(o, "gslbd_resolver_changes_total", "counter",
	       "Changes of a host name's addresses.");
	m_u64(o, "gslbd_resolver_changes_total", NULL, 0, NULL, rs.changes);
}

/* ---- the parts: totals first, then per address, then per target ---- */

enum m_part {
	M_HEAD,      /* everything not per address or per target */
	M_EP_UP, M_EP_ELIGIBLE, M_EP_ADMIN, M_EP_SINCE,
	M_PR_ATTEMPTS, M_PR_FAILURES, M_PR_DURATION, M_PR_LAST,
	M_DONE,
};

static const struct {
	const char *name, *type, *help;
} m_fams[M_DONE] = {
	[M_EP_UP] = { "gslbd_endpoint_up", "gauge",
		"1 unless the probes found the address down (not yet probed "
		"and unprobed addresses count as up)." },
	[M_EP_ELIGIBLE] = { "gslbd_endpoint_eligible", "gauge",
		"1 when the address is given out in answers now (enabled, "
		"admin state, health)." },
	[M_EP_ADMIN] = { "gslbd_endpoint_admin", "gauge",
		"Admin state of the address's endpoint: 1 for the state in "
		"force, 0 for the others." },
	[M_EP_SINCE] = { "gslbd_endpoint_last_transition_timestamp_seconds",
		"gauge", "Unix time of the address's last health change (0: "
		"none yet)." },
	[M_PR_ATTEMPTS] = { "gslbd_probe_attempts_total", "counter",
		"Probe runs started." },
	[M_PR_FAILURES] = { "gslbd_probe_failures_total", "counter",
		"Failed probe runs, by class of reason (timeout, refused, "
		"status, body, tls, connect, other)." },
	[M_PR_DURATION] = { "gslbd_probe_duration_seconds", "histogram",
		"How long finished probe runs took." },
	[M_PR_LAST] = { "gslbd_probe_last_duration_seconds", "gauge",
		"How long the target's last finished probe run took." },
};

static void m_fam_head(struct m_out *o, enum m_part p)
{
	m_head(o, m_fams[p].name, m_fams[p].type, m_fams[p].help);
}

/* The bucket bounds as label values, made once per call. */
struct m_le {
	char s[PROBE_LAT_BUCKETS + 1][16];
};

static void m_le_init(struct m_le *le)
{
	for (unsigned i = 0; i < PROBE_LAT_BUCKETS; i++)
		snprintf(le->s[i], sizeof(le->s[i]), "%g", probe_lat_bounds[i]);
	snprintf(le->s[PROBE_LAT_BUCKETS], sizeof(le->s[0]), "+Inf");
}

/* A histogram's samples from per-bucket (not cumulative) counts. */
static void m_histogram(struct m_out *o, const char *fam,
			const struct mlabel *l, size_t nl,
			const struct m_le *le, const uint64_t *bucket,
			uint64_t sum_us)
{
	char name[64];
	uint64_t cum = 0;

	snprintf(name, sizeof(name), "%s_bucket", fam);
	for (unsigned i = 0; i <= PROBE_LAT_BUCKETS; i++) {
		cum += bucket[i];
		m_u64(o, name, l, nl, &(struct mlabel){ "le", le->s[i] }, cum);
	}
	snprintf(name, sizeof(name), "%s_sum", fam);
	m_dbl(o, name, l, nl, NULL, (double)sum_us / 1e6);
	snprintf(name, sizeof(name), "%s_count", fam);
	m_u64(o, name, l, nl, NULL, cum);
}

/* A counter kept from going down.  The probe manager's totals never do
 * (they outlive the targets that counted them); this guards the
 * exposition against a manager replaced under it, which would read as a
 * reset to rate(). */
static uint64_t m_mono(struct metrics_mono *x, uint64_t now)
{
	if (now + x->carry < x->shown)
		x->carry = x->shown - now;
	x->shown = now + x->carry;
	return x->shown;
}

/* The services, addresses and probe targets counted up, in one pass
 * over each and without allocating. */
struct m_counts {
	size_t services, all_down, eligible, ineligible;
	size_t health[HEALTH_DOWN + 1]; /* live targets by health */
};

static void m_count_addrs(const struct status_view *v,
			  const struct model *m, struct m_counts *n)
{
	n->services = m->nsvcs;
	for (size_t i = 0; i < m->nsvcs; i++) {
		const struct model_service *s = &m->svcs[i];
		size_t el = 0, all = 0;
		for (size_t j = 0; j < s->neps; j++) {
			const struct model_endpoint *e = &s->eps[j];
			enum model_admin adm = v->admin_of(v->arg, s, e);
			for (size_t k = 0; k < e->naddrs; k++)
				el += model_answerable(e->enabled, adm,
					status_addr_health(v, &e->addrs[k],
							   NULL));
			all += e->naddrs;
		}
		n->eligible += el;
		n->ineligible += all - el;
		n->all_down += !el;
	}
}

static void m_count_targets(const struct status_view *v,
			    const struct model *m, struct m_counts *n)
{
	struct probe_info pi;

	for (size_t t = 0; t < m->ntargets; t++) {
		if (!m->targets[t].nsvcs || !v->target(v->arg, (uint32_t)t, &pi))
			continue; /* retired: nothing uses it, not probed */
		n->health[pi.health <= HEALTH_DOWN ? pi.health :
			  HEALTH_UNKNOWN]++;
	}
}

/* The probe totals, for when the per-target series are not written: the
 * same families, without target labels, from the probe manager's own
 * totals (exact: they keep what targets that went had counted). */
static void metrics_probe_totals(struct m_out *o,
				 const struct probe_counters *pc,
				 struct metrics_totals *tot,
				 const struct m_le *le)
{
	uint64_t bucket[PROBE_LAT_BUCKETS + 1];

	m_fam_head(o, M_PR_ATTEMPTS);
	m_u64(o, m_fams[M_PR_ATTEMPTS].name, NULL, 0, NULL, pc->attempts);
	m_fam_head(o, M_PR_FAILURES);
	for (unsigned c = 0; c < PROBE_FAIL_MAX; c++)
		m_u64(o, m_fams[M_PR_FAILURES].name, NULL, 0,
		      &(struct mlabel){ "reason", probe_fail_class_name(c) },
		      m_mono(&tot->failures[c], pc->fail_class[c]));
	for (unsigned b = 0; b <= PROBE_LAT_BUCKETS; b++)
		bucket[b] = m_mono(&tot->bucket[b], pc->lat_bucket[b]);
	m_fam_head(o, M_PR_DURATION);
	m_histogram(o, m_fams[M_PR_DURATION].name, NULL, 0, le, bucket,
		    m_mono(&tot->sum_us, pc->lat_sum_us));
}

static void metrics_counts(struct m_out *o, const struct status_view *v,
			   const struct model *m, struct metrics_totals *tot,
			   bool per_target)
{
	struct m_counts n = { 0 };
	struct probe_counters pc = { 0 };
	struct m_le le;

	if (m) {
		m_count_addrs(v, m, &n);
		m_count_targets(v, m, &n);
	}
	v->probe_counters(v->arg, &pc);
	m_one(o, "gslbd_services", "gauge",
	      "Services (names with endpoints) in the model served now.",
	      (double)n.services);
	m_one(o, "gslbd_services_all_down", "gauge",
	      "Services with no address given out in answers now (their "
	      "all-down setting applies).", (double)n.all_down);
	m_head(o, "gslbd_addresses", "gauge",
	       "Endpoint addresses of every service, by whether they are "
	       "given out in answers now.");
	m_u64(o, "gslbd_addresses", &(struct mlabel){ "state", "eligible" },
	      1, NULL, n.eligible);
	m_u64(o, "gslbd_addresses",
	      &(struct mlabel){ "state", "ineligible" }, 1, NULL,
	      n.ineligible);
	m_one(o, "gslbd_probes_active", "gauge",
	      "Probe targets now (one per distinct address and probe "
	      "settings, however many names use it).", pc.active);
	m_head(o, "gslbd_probe_targets", "gauge",
	       "Probe targets by health (unknown: no verdict yet).");
	for (unsigned h = HEALTH_UNKNOWN; h <= HEALTH_DOWN; h++)
		m_u64(o, "gslbd_probe_targets",
		      &(struct mlabel){ "health", health_name((uint8_t)h) }, 1,
		      NULL, n.health[h]);
	m_head(o, "gslbd_probe_transitions_total", "counter",
	       "Health changes of probe targets.");
	m_u64(o, "gslbd_probe_transitions_total", NULL, 0, NULL,
	      pc.transitions);
	m_head(o, "gslbd_probe_suspect_runs_total", "counter",
	       "Probe runs started beside one still in flight far past the "
	       "target's usual latency (also in gslbd_probe_attempts_total).");
	m_u64(o, "gslbd_probe_suspect_runs_total", NULL, 0, NULL,
	      pc.suspects);
	if (!per_target) {
		m_le_init(&le);
		metrics_probe_totals(o, &pc, tot, &le);
	}
}

/* ---- per address ---- */

/* One service's addresses, for one per-address family. */
static void m_ep_service(struct m_out *o, const struct status_view *v,
			 enum m_part p, const struct model_service *s)
{
	const char *name = m_fams[p].name;

	for (size_t j = 0; j < s->neps; j++) {
		const struct model_endpoint *e = &s->eps[j];
		enum model_admin adm = v->admin_of(v->arg, s, e);
		for (size_t k = 0; k < e->naddrs; k++) {
			const struct model_addr *a = &e->addrs[k];
			char ip[INET6_ADDRSTRLEN];
			struct probe_info pi = { 0 };
			uint8_t h = status_addr_health(v, a, &pi);
			const struct mlabel l[4] = {
				{ "service", s->name },
				{ "endpoint", model_endpoint_name(e) },
				{ "region", e->region ? e->region : "" },
				{ "address", model_addr_str(a, ip, sizeof(ip)) },
			};
			switch (p) {
			case M_EP_UP:
				m_u64(o, name, l, 4, NULL, h != HEALTH_DOWN);
				break;
			case M_EP_ELIGIBLE:
				m_u64(o, name, l, 4, NULL, model_answerable(
				      e->enabled, adm, (enum model_health)h));
				break;
			case M_EP_ADMIN:
				for (unsigned st = ADMIN_NONE;
				     st <= ADMIN_FORCE_DOWN; st++)
					m_u64(o, name, l, 4, &(struct mlabel){
					      "state", model_admin_name(st) },
					      adm == st);
				break;
			default: /* M_EP_SINCE */
				m_u64(o, name, l, 4, NULL, a->target &&
				      pi.since > 0 ? (uint64_t)pi.since : 0);
				break;
			}
		}
	}
}

/* ---- per target ---- */

static void m_target(struct m_out *o, enum m_part p,
		     const struct probe_info *pi, const struct m_le *le)
{
	const struct probe_stats *st = pi->st;
	const char *name = m_fams[p].name;
	char port[8];
	snprintf(port, sizeof(port), "%u", pi->port);
	const struct mlabel l[4] = {
		{ "address", pi->address }, { "port", port },
		{ "type", probe_spec_type_name(pi->spec->type) },
		{ "host", pi->host ? pi->host : "" },
	};

	switch (p) {
	case M_PR_ATTEMPTS:
		m_u64(o, name, l, 4, NULL, st->attempts);
		break;
	case M_PR_FAILURES:
		for (unsigned c = 0; c < PROBE_FAIL_MAX; c++)
			m_u64(o, name, l, 4, &(struct mlabel){ "reason",
			      probe_fail_class_name(c) }, st->failures[c]);
		break;
	case M_PR_DURATION:
		m_histogram(o, name, l, 4, le, st->lat_bucket, st->lat_sum_us);
		break;
	default: /* M_PR_LAST */
		m_dbl(o, name, l, 4, NULL, (double)st->last_us / 1e6);
		break;
	}
}

/* ---- the cursor ---- */

/* One step of a per-address or per-target part: its family head when
 * it starts, then one service or one live target, or on to the next
 * part.  Every index is checked against the model of this call. */
static void m_step(struct m_out *o, const struct status_view *v,
		   const struct model *m, struct metrics_cursor *cur,
		   const struct m_le *le)
{
	enum m_part p = (enum m_part)cur->part;
	struct probe_info pi;

	assert(p > M_HEAD && p < M_DONE);
	if (!cur->pos)
		m_fam_head(o, p);
	if (p < M_PR_ATTEMPTS) {
		if (cur->pos < m->nsvcs) {
			m_ep_service(o, v, p, &m->svcs[cur->pos++]);
			return;
		}
	} else {
		for (; cur->pos < m->ntargets; cur->pos++) {
			uint32_t t = (uint32_t)cur->pos;
			if (m->targets[t].nsvcs && v->target(v->arg, t, &pi)) {
				m_target(o, p, &pi, le);
				cur->pos++;
				return;
			}
		}
	}
	cur->part++;
	cur->pos = 0;
}

void metrics_begin(struct metrics_cursor *cur, const struct status_view *v,
		   bool per_target)
{
	struct status_stats st;

	v->stats(v->arg, &st);
	*cur = (struct metrics_cursor){
		.m = v->model(v->arg),
		.targets_generation = st.targets_generation,
		.per_target = per_target, .part = M_HEAD,
	};
}

enum metrics_step metrics_next(struct metrics_cursor *cur, struct evbuffer *b,
			       const struct status_view *v,
			       struct metrics_totals *tot, size_t budget)
{
	const struct model *m = v->model(v->arg);
	struct status_stats st;
	struct m_out o;
	struct m_le le;
	size_t start;

	v->stats(v->arg, &st);
	if (m != cur->m || st.targets_generation != cur->targets_generation)
		return METRICS_CHANGED;
	o.b = b;
	o.n = 0;
	start = evbuffer_get_length(b);
	if (cur->part == M_HEAD) {
		metrics_daemon(&o, v);
		metrics_queries(&o, v);
		metrics_conn(&o, v);
		metrics_counts(&o, v, m, tot, cur->per_target);
		metrics_kube(&o, v);
		metrics_resolver(&o, v);
		cur->part = cur->per_target && m ? M_EP_UP : M_DONE;
		cur->pos = 0;
	}
	if (cur->part != M_DONE)
		m_le_init(&le);
	while (cur->part != M_DONE && m_len(&o) - start < budget)
		m_step(&o, v, m, cur, &le);
	m_flush(&o);
	return cur->part == M_DONE ? METRICS_DONE : METRICS_MORE;
}

void metrics_write(struct evbuffer *b, const struct status_view *v,
		   struct metrics_totals *tot, bool per_target)
{
	struct metrics_cursor cur;

	metrics_begin(&cur, v, per_target);
	metrics_next(&cur, b, v, tot, SIZE_MAX);
}
