/* probe.c -- see probe.h.
 *
 * One struct probe per (service, endpoint, address) whose resolved spec
 * has a probe type.  A probe points into the current model (names, spec,
 * address) and owns only its health state, its timer and the transfer in
 * flight; probe_mgr_sync() re-points the survivors at the new model. */
#include "config.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "probes/health.h"
#include "probes/http.h"
#include "probes/probe.h"
#include "probes/tcp.h"
#include "lib/log.h"
#include "lib/rand.h"

struct probe {
	struct probe_mgr *pm;
	/* Key and spec: borrowed from the current model. */
	const char *svc;
	const char *ep;
	const char *region;
	const struct probe_spec *spec;
	struct model_addr *addr;
	char addrstr[INET6_ADDRSTRLEN];

	struct health hs;
	int64_t since;
	bool have_verdict;
	bool taken;              /* during sync: claimed by the new model */
	struct event *timer;
	struct timespec started; /* of the run in flight (monotonic) */
	struct http_probe *http; /* in flight, or NULL */
	struct tcp_probe *tcp;   /* in flight, or NULL */
	struct probe_stats st;
};

/* Transitions remembered between two snapshot patches; a burst beyond
 * this falls back to rebuilding everything. */
#define PROBE_CHANGED_MAX 1024

/* First runs of new probes per millisecond, at most (see sync). */
#define PROBE_START_PER_MS 10

struct probe_mgr {
	struct event_base *base;
	probe_change_fn fn;
	void *arg;
	struct http_probe_ctx *http;
	struct event *notify;    /* zero-timeout: coalesces change callbacks */
	struct model_addr *changed[PROBE_CHANGED_MAX]; /* since last taken */
	size_t nchanged;
	bool changed_all;        /* overflowed, or a new model */
	struct probe **probes;
	size_t nprobes;
	uint64_t rng;
	struct probe_counters c;
};

/* ---- small helpers ---- */

/* xorshift64*: jitter only needs to spread probes, not be unguessable. */
static uint32_t probe_rand(struct probe_mgr *pm)
{
	return (uint32_t)(rand_next(&pm->rng) >> 32);
}

static uint32_t probe_jitter(struct probe_mgr *pm, uint32_t jitter_ms)
{
	return jitter_ms ? (uint32_t)(probe_rand(pm) %
				      ((uint64_t)jitter_ms + 1)) : 0;
}

static int64_t probe_elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - since->tv_sec) * 1000 +
	       (now.tv_nsec - since->tv_nsec) / 1000000;
}

static uint64_t probe_elapsed_us(const struct timespec *since)
{
	struct timespec now;
	int64_t us;

	clock_gettime(CLOCK_MONOTONIC, &now);
	us = (int64_t)(now.tv_sec - since->tv_sec) * 1000000 +
	     (now.tv_nsec - since->tv_nsec) / 1000;
	return us > 0 ? (uint64_t)us : 0;
}

static void probe_arm(struct probe *p, uint32_t delay_ms)
{
	struct timeval tv = {
		.tv_sec = delay_ms / 1000,
		.tv_usec = (delay_ms % 1000) * 1000,
	};

	evtimer_add(p->timer, &tv);
}

static void probe_notify(struct probe_mgr *pm)
{
	static const struct timeval zero = { 0, 0 };

	if (!evtimer_pending(pm->notify, NULL))
		evtimer_add(pm->notify, &zero);
}

static void probe_notify_event(evutil_socket_t fd, short what, void *arg)
{
	struct probe_mgr *pm = arg;

	if (pm->fn)
		pm->fn(pm->arg);
}

static void probe_cancel_run(struct probe *p)
{
	if (p->http) {
		http_probe_cancel(p->http);
		p->http = NULL;
	}
	if (p->tcp) {
		tcp_probe_cancel(p->tcp);
		p->tcp = NULL;
	}
}

static void probe_free(struct probe *p)
{
	if (!p)
		return;
	probe_cancel_run(p);
	if (p->timer)
		event_free(p->timer);
	free(p);
}

/* ---- metrics ---- */

const double probe_lat_bounds[PROBE_LAT_BUCKETS] = {
	0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
};

const char *probe_fail_class_name(unsigned cls)
{
	static const char *const names[PROBE_FAIL_MAX] = {
		"timeout", "refused", "status", "body", "tls", "connect",
		"other",
	};

	return cls < PROBE_FAIL_MAX ? names[cls] : "other";
}

/* Reasons come from http.c and tcp.c: "timeout", "refused",
 * "unreachable", "connect error: ...", "tls error: ...", "status 503",
 * "body mismatch"; anything else (a local error) is "other". */
enum probe_fail_class probe_fail_classify(const char *reason)
{
	static const struct {
		const char *prefix;
		enum probe_fail_class cls;
	} map[] = {
		{ "timeout", PROBE_FAIL_TIMEOUT },
		{ "refused", PROBE_FAIL_REFUSED },
		{ "status", PROBE_FAIL_STATUS },
		{ "body", PROBE_FAIL_BODY },
		{ "tls", PROBE_FAIL_TLS },
		{ "connect", PROBE_FAIL_CONNECT },
		{ "unreachable", PROBE_FAIL_CONNECT },
	};

	if (!reason)
		return PROBE_FAIL_OTHER;
	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strncmp(reason, map[i].prefix, strlen(map[i].prefix)))
			return map[i].cls;
	return PROBE_FAIL_OTHER;
}

static void probe_account(struct probe *p, bool ok, const char *reason)
{
	struct probe_stats *st = &p->st;
	uint64_t us = probe_elapsed_us(&p->started);
	size_t b;

	if (!ok)
		st->failures[probe_fail_classify(reason)]++;
	for (b = 0; b < PROBE_LAT_BUCKETS; b++)
		if ((double)us <= probe_lat_bounds[b] * 1e6)
			break;
	st->lat_bucket[b]++;
	st->lat_count++;
	st->lat_sum_us += us;
	st->last_us = us;
}

void probe_mgr_foreach(const struct probe_mgr *pm,
		       void (*fn)(const struct probe_info *pi, void *arg),
		       void *arg)
{
	for (size_t i = 0; i < pm->nprobes; i++) {
		const struct probe *p = pm->probes[i];
		struct probe_info pi = {
			.service = p->svc, .endpoint = p->ep,
			.region = p->region, .address = p->addrstr,
			.addr = p->addr, .st = &p->st,
		};
		fn(&pi, arg);
	}
}

/* ---- one run ---- */

static void probe_verdict(struct probe *p, bool ok, const char *reason)
{
	struct probe_mgr *pm = p->pm;
	const struct probe_spec *spec = p->spec;
	int64_t delay;

	p->have_verdict = true;
	if (!ok)
		pm->c.failures++;
	probe_account(p, ok, reason);
	if (health_feed(&p->hs, ok, reason, spec->rise, spec->fall)) {
		p->since = (int64_t)time(NULL);
		p->addr->health = p->hs.state;
		p->addr->since = p->since;
		pm->c.transitions++;
		if (pm->nchanged < PROBE_CHANGED_MAX)
			pm->changed[pm->nchanged++] = p->addr;
		else
			pm->changed_all = true;
		log_info("health change service=%s endpoint=%s address=%s "
			 "state=%s reason=%s", p->svc, p->ep, p->addrstr,
			 health_name(p->hs.state), p->hs.reason);
		probe_notify(pm);
	} else {
		log_debug("probe verdict service=%s endpoint=%s address=%s "
			  "ok=%d state=%s reason=%s", p->svc, p->ep,
			  p->addrstr, ok, health_name(p->hs.state),
			  p->hs.reason);
	}
	memcpy(p->addr->reason, p->hs.reason, sizeof(p->addr->reason));

	/* The next run starts interval (+ jitter) after this one started, or
	 * at once when this one took longer: never two at a time. */
	delay = (int64_t)spec->interval_ms + probe_jitter(pm, spec->jitter_ms) -
		probe_elapsed_ms(&p->started);
	probe_arm(p, delay > 0 ? (uint32_t)delay : 0);
}

static void probe_http_done(void *arg, bool ok, const char *reason)
{
	struct probe *p = arg;

	p->http = NULL; /* freed by http.c after we return */
	probe_verdict(p, ok, reason);
}

static void probe_tcp_done(void *arg, bool ok, const char *reason)
{
	struct probe *p = arg;

	p->tcp = NULL;
	probe_verdict(p, ok, reason);
}

static void probe_run(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	struct probe_mgr *pm = p->pm;
	const struct probe_spec *spec = p->spec;

	if (p->http || p->tcp)
		return; /* cannot happen: the timer is only armed when idle */
	clock_gettime(CLOCK_MONOTONIC, &p->started);
	pm->c.attempts++;
	p->st.attempts++;
	if (spec->type == PROBE_TCP) {
		p->tcp = tcp_probe_start(pm->base, p->addr, spec->port,
					 spec->timeout_ms, probe_tcp_done, p);
		if (p->tcp)
			return;
	} else if (pm->http) {
		p->http = http_probe_start(pm->http, spec, p->addr,
					   spec->host ? spec->host : p->svc,
					   probe_http_done, p);
		if (p->http)
			return;
	}
	/* Out of sockets or memory here: say so rather than stay silent. */
	probe_verdict(p, false, "local error");
}

/* ---- manager ---- */

struct probe_mgr *probe_mgr_new(struct event_base *base, probe_change_fn fn,
				void *arg)
{
	struct probe_mgr *pm = calloc(1, sizeof(*pm));
	struct timespec ts;

	if (!pm)
		return NULL;
	pm->base = base;
	pm->fn = fn;
	pm->arg = arg;
	clock_gettime(CLOCK_REALTIME, &ts);
	pm->rng = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^
		  ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)pm;
	if (!pm->rng)
		pm->rng = 0x9E3779B97F4A7C15ULL;
	pm->notify = evtimer_new(base, probe_notify_event, pm);
	pm->http = http_probe_ctx_new(base);
	if (!pm->notify || !pm->http) {
		probe_mgr_free(pm);
		return NULL;
	}
	return pm;
}

void probe_mgr_free(struct probe_mgr *pm)
{
	if (!pm)
		return;
	for (size_t i = 0; i < pm->nprobes; i++)
		probe_free(pm->probes[i]);
	free(pm->probes);
	http_probe_ctx_free(pm->http);
	if (pm->notify)
		event_free(pm->notify);
	free(pm);
}

static int probe_key_cmp(const char *svc_a, const char *ep_a,
			 const struct model_addr *a, const char *svc_b,
			 const char *ep_b, const struct model_addr *b)
{
	int r = strcmp(svc_a, svc_b);

	if (r)
		return r;
	if ((r = strcmp(ep_a, ep_b)))
		return r;
	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(&a->ip, &b->ip, a->family == AF_INET6 ?
		      sizeof(a->ip.v6) : sizeof(a->ip.v4));
}

static int probe_sort_cmp(const void *x, const void *y)
{
	const struct probe *a = *(struct probe *const *)x;
	const struct probe *b = *(struct probe *const *)y;

	return probe_key_cmp(a->svc, a->ep, a->addr, b->svc, b->ep, b->addr);
}

/* An old probe with this key and an equal spec that no new address has
 * claimed yet, or NULL.  old is sorted by key. */
static struct probe *probe_find(struct probe **old, size_t n, const char *svc,
				const char *ep, const struct model_addr *a,
				const struct probe_spec *spec)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct probe *p = old[mid];
		if (probe_key_cmp(p->svc, p->ep, p->addr, svc, ep, a) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* The key includes the service name, so equal specs also mean an
	 * equal effective Host (spec host, else the service name). */
	for (; lo < n; lo++) {
		struct probe *p = old[lo];
		if (probe_key_cmp(p->svc, p->ep, p->addr, svc, ep, a))
			break;
		if (!p->taken && probe_spec_equal(p->spec, spec))
			return p;
	}
	return NULL;
}

static struct probe *probe_new(struct probe_mgr *pm)
{
	struct probe *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->pm = pm;
	p->timer = evtimer_new(pm->base, probe_run, p);
	if (!p->timer) {
		free(p);
		return NULL;
	}
	health_init(&p->hs);
	return p;
}

static const char *probe_ep_name(const struct model_endpoint *e)
{
	if (e->name)
		return e->name;
	return e->region ? e->region : "";
}

static size_t probe_count(const struct model *m)
{
	size_t n = 0;

	for (size_t i = 0; i < m->nsvcs; i++)
		for (size_t j = 0; j < m->svcs[i].neps; j++)
			if (m->svcs[i].eps[j].probe.type != PROBE_NONE)
				n += m->svcs[i].eps[j].naddrs;
	return n;
}

/* Point p at its place in the new model. */
static void probe_bind(struct probe *p, const struct model_service *s,
		       const struct model_endpoint *e, struct model_addr *a)
{
	p->svc = s->name;
	p->ep = probe_ep_name(e);
	p->region = e->region ? e->region : "";
	p->spec = &e->probe;
	p->addr = a;
	if (!inet_ntop(a->family, &a->ip, p->addrstr, sizeof(p->addrstr)))
		strcpy(p->addrstr, "?");
}

/* One probed address of the new model, in the order sync visits them. */
struct probe_slot {
	struct model_service *s;
	struct model_endpoint *e;
	struct model_addr *a;
	struct probe *p;
	bool fresh;
};

static void probe_slots_fill(struct model *m, struct probe_slot *slot)
{
	for (size_t i = 0; i < m->nsvcs; i++) {
		struct model_service *s = &m->svcs[i];
		for (size_t j = 0; j < s->neps; j++) {
			struct model_endpoint *e = &s->eps[j];
			if (e->probe.type == PROBE_NONE)
				continue;
			for (size_t k = 0; k < e->naddrs; k++, slot++) {
				slot->s = s;
				slot->e = e;
				slot->a = &e->addrs[k];
			}
		}
	}
}

int probe_mgr_sync(struct probe_mgr *pm, struct model *m)
{
	size_t n = probe_count(m);
	struct probe_slot *slot = NULL;
	struct probe **next = NULL;

	if (n) {
		slot = calloc(n, sizeof(*slot));
		next = calloc(n, sizeof(*next));
		if (!slot || !next)
			goto oom;
		probe_slots_fill(m, slot);
	}
	/* Old names are still valid here: the caller frees the old model
	 * only after we return. */
	if (pm->nprobes > 1)
		qsort(pm->probes, pm->nprobes, sizeof(*pm->probes),
		      probe_sort_cmp);

	/* Phase 1: claim survivors, allocate the rest; nothing visible
	 * changes, so running out of memory leaves everything as it was. */
	for (size_t i = 0; i < n; i++) {
		struct probe_slot *sl = &slot[i];
		sl->p = probe_find(pm->probes, pm->nprobes, sl->s->name,
				   probe_ep_name(sl->e), sl->a, &sl->e->probe);
		if (sl->p) {
			sl->p->taken = true;
			continue;
		}
		sl->p = probe_new(pm);
		if (!sl->p)
			goto oom;
		sl->fresh = true;
	}

	/* New probes start within their jitter, but never more than about
	 * PROBE_START_PER_MS a millisecond: 10,000 connections opened at
	 * once time each other out and mark healthy regions down. */
	size_t nfresh = 0;
	for (size_t i = 0; i < n; i++)
		nfresh += slot[i].fresh;
	uint32_t spread = (uint32_t)(nfresh / PROBE_START_PER_MS);

	/* Phase 2: commit. */
	for (size_t i = 0; i < n; i++) {
		struct probe_slot *sl = &slot[i];
		struct probe *p = sl->p;

		probe_bind(p, sl->s, sl->e, sl->a);
		next[i] = p;
		if (sl->fresh) {
			sl->a->health = HEALTH_UNKNOWN;
			sl->a->reason[0] = '\0';
			sl->a->since = 0;
			uint64_t w = (uint64_t)sl->e->probe.jitter_ms + spread;
			if (w > sl->e->probe.interval_ms && spread)
				w = sl->e->probe.interval_ms;
			uint32_t win = w > UINT32_MAX ? UINT32_MAX : (uint32_t)w;
			probe_arm(p, probe_jitter(pm, win));
		} else {
			sl->a->health = p->hs.state;
			sl->a->since = p->since;
			memcpy(sl->a->reason, p->hs.reason,
			       sizeof(sl->a->reason));
		}
	}
	for (size_t i = 0; i < pm->nprobes; i++) {
		struct probe *p = pm->probes[i];
		if (p->taken)
			p->taken = false;
		else
			probe_free(p); /* cancels a run in flight */
	}
	free(pm->probes);
	free(slot);
	pm->probes = next;
	pm->nprobes = n;
	pm->c.active = (uint32_t)n;
	/* Remembered changes point into the old model. */
	pm->nchanged = 0;
	pm->changed_all = true;
	return 0;
oom:
	for (size_t i = 0; i < pm->nprobes; i++)
		pm->probes[i]->taken = false;
	for (size_t i = 0; slot && i < n; i++)
		if (slot[i].fresh)
			probe_free(slot[i].p);
	free(slot);
	free(next);
	log_err("probe sync failed: out of memory");
	return -1;
}

void probe_mgr_counters(const struct probe_mgr *pm, struct probe_counters *c)
{
	*c = pm->c;
}

int probe_mgr_first_round_done(const struct probe_mgr *pm)
{
	for (size_t i = 0; i < pm->nprobes; i++)
		if (!pm->probes[i]->have_verdict)
			return 0;
	return 1;
}

bool probe_mgr_take_changed(struct probe_mgr *pm, struct model_addr ***out,
			    size_t *n)
{
	bool ok = !pm->changed_all;

	*out = pm->changed;
	*n = pm->nchanged;
	pm->nchanged = 0;
	pm->changed_all = false;
	return ok;
}
