/* probe.c -- see probe.h.
 *
 * One struct probe per target.  A probe owns a copy of what it probes
 * (address, settings, Host), its health state, its timer and the
 * transfers in flight; it points into no model, so a new model only
 * re-indexes the probes (probe_mgr_sync).
 *
 * A probe has two run slots: the scheduled run, and a suspect re-check
 * started beside it when it goes unanswered far beyond the target's usual
 * latency (health.h).  The first success ends both; a failure is counted
 * as it comes; the next run is scheduled when the last one ends. */
#include "config.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/log.h"
#include "lib/rand.h"
#include "lib/xalloc.h"
#include "probes/health.h"
#include "probes/http.h"
#include "probes/probe.h"
#include "probes/tcp.h"

struct probe;

/* One run slot: an HTTP probe is set up on first use and kept. */
struct probe_run {
	struct probe *p;
	struct http_probe *http; /* NULL until the slot's first HTTP run */
	struct tcp_probe *tcp;   /* in flight, or NULL */
	struct timespec started; /* of the run in flight (monotonic) */
	bool busy;
};

struct probe {
	struct probe_mgr *pm;
	uint32_t index;          /* target index in the current sync */
	struct model_addr addr;
	struct probe_spec spec;  /* owned copy */
	char *host;              /* owned; NULL for tcp */
	uint64_t hash;           /* model_target_hash of the three above */
	char addrstr[INET6_ADDRSTRLEN];

	struct health hs;
	int64_t since;
	uint32_t reused;         /* runs on a kept-alive connection in a row */
	bool have_verdict;
	bool taken;              /* during sync: claimed by a new target */
	struct event *timer;     /* idle: the next run; busy: a suspect one */
	struct probe_run run[2]; /* [0] scheduled, [1] suspect re-checks */
	struct timespec last_start; /* of the latest run */
	struct health_rtt rtt;
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
	uint32_t changed[PROBE_CHANGED_MAX]; /* target indexes, since taken */
	size_t nchanged;
	bool changed_all;        /* overflowed: rebuild in full */
	struct probe **probes;   /* by target index */
	uint8_t *health;         /* by target index: enum model_health */
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

static int64_t probe_now_ms(void)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
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

/* Scheduled runs start on a PROBE_TICK_MS grid of the monotonic clock:
 * the probes due in the same tick start in one wake-up of the control
 * thread, and their answers come back together, instead of a wake-up
 * (and, on a busy core, a context switch away from a DNS worker) per
 * probe.  A run starts at most one tick late. */
#define PROBE_TICK_MS 10

static void probe_arm_exact(struct probe *p, uint32_t delay_ms)
{
	struct timeval tv = {
		.tv_sec = delay_ms / 1000,
		.tv_usec = (delay_ms % 1000) * 1000,
	};

	evtimer_add(p->timer, &tv);
}

static void probe_arm(struct probe *p, uint32_t delay_ms)
{
	int64_t now = probe_now_ms();
	int64_t due = now + delay_ms;

	due += (PROBE_TICK_MS - due % PROBE_TICK_MS) % PROBE_TICK_MS;
	probe_arm_exact(p, (uint32_t)(due - now));
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

static void probe_stop_run(struct probe_run *r)
{
	if (r->http)
		http_probe_stop(r->http);
	if (r->tcp) {
		tcp_probe_cancel(r->tcp);
		r->tcp = NULL;
	}
	r->busy = false;
}

static void probe_free(struct probe *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < 2; i++) {
		probe_stop_run(&p->run[i]);
		http_probe_free(p->run[i].http);
	}
	if (p->timer)
		event_free(p->timer);
	probe_spec_clear(&p->spec);
	free(p->host);
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
 * "unreachable", "connect error: ...", "tls error (host NAME): ...",
 * "status 503",
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

static void probe_account(struct probe *p, uint64_t us, bool ok,
			  const char *reason)
{
	struct probe_stats *st = &p->st;
	size_t b;

	if (!ok) {
		enum probe_fail_class cls = probe_fail_classify(reason);
		st->failures[cls]++;
		p->pm->c.fail_class[cls]++;
	}
	for (b = 0; b < PROBE_LAT_BUCKETS; b++)
		if ((double)us <= probe_lat_bounds[b] * 1e6)
			break;
	st->lat_bucket[b]++;
	p->pm->c.lat_bucket[b]++;
	p->pm->c.lat_sum_us += us;
	st->lat_count++;
	st->lat_sum_us += us;
	st->last_us = us;
}

static uint16_t probe_port(const struct probe *p)
{
	if (p->spec.port)
		return p->spec.port;
	return p->spec.type == PROBE_HTTPS ? 443 : 80;
}

static void probe_fill_info(const struct probe *p, struct probe_info *pi)
{
	*pi = (struct probe_info){
		.target = p->index, .address = p->addrstr,
		.port = probe_port(p), .spec = &p->spec, .host = p->host,
		.health = p->hs.state, .reason = p->hs.reason,
		.since = p->since, .st = &p->st,
	};
}

bool probe_mgr_info(const struct probe_mgr *pm, uint32_t target,
		    struct probe_info *pi)
{
	if (target >= pm->nprobes || !pm->probes[target])
		return false;
	probe_fill_info(pm->probes[target], pi);
	return true;
}

void probe_mgr_foreach(const struct probe_mgr *pm,
		       void (*fn)(const struct probe_info *pi, void *arg),
		       void *arg)
{
	struct probe_info pi;

	for (size_t i = 0; i < pm->nprobes; i++) {
		if (!pm->probes[i])
			continue;
		probe_fill_info(pm->probes[i], &pi);
		fn(&pi, arg);
	}
}

/* ---- one run ---- */

static void probe_verdict(struct probe_run *r, bool ok, const char *reason)
{
	struct probe *p = r->p;
	struct probe_mgr *pm = p->pm;
	const struct probe_spec *spec = &p->spec;
	struct probe_run *other = &p->run[r == &p->run[0]];
	uint64_t us = probe_elapsed_us(&r->started);
	int64_t delay;

	r->busy = false;
	/* The first success ends both runs: the other one's answer, late or
	 * missing, says nothing newer (one lost SYN costs no failure). */
	if (ok && other->busy)
		probe_stop_run(other);
	p->have_verdict = true;
	if (!ok)
		pm->c.failures++;
	else
		health_rtt_feed(&p->rtt, us);
	probe_account(p, us, ok, reason);
	/* Flapping is paced: after an outage and its recovery, one change
	 * per interval x fall at most. */
	uint64_t hold = (uint64_t)spec->interval_ms * (spec->fall ? spec->fall : 1);
	if (health_feed_at(&p->hs, ok, reason, spec->rise, spec->fall,
			   probe_now_ms(), hold > UINT32_MAX ? UINT32_MAX :
			   (uint32_t)hold)) {
		p->since = (int64_t)time(NULL);
		pm->health[p->index] = p->hs.state;
		pm->c.transitions++;
		if (pm->nchanged < PROBE_CHANGED_MAX)
			pm->changed[pm->nchanged++] = p->index;
		else
			pm->changed_all = true;
		log_info("health change address=%s port=%u type=%s host=%s "
			 "state=%s reason=%s", p->addrstr, probe_port(p),
			 probe_spec_type_name(spec->type),
			 p->host ? p->host : "-", health_name(p->hs.state),
			 p->hs.reason);
		probe_notify(pm);
	} else {
		log_debug("probe verdict address=%s port=%u type=%s host=%s "
			  "ok=%d state=%s reason=%s", p->addrstr, probe_port(p),
			  probe_spec_type_name(spec->type),
			  p->host ? p->host : "-", ok,
			  health_name(p->hs.state), p->hs.reason);
	}
	if (other->busy)
		return; /* the next run is planned when that one ends */

	/* The next run starts interval (+ jitter) after the latest one
	 * started, or at once when that took longer.  While the target is
	 * changing state (a verdict against it, not yet enough), re-check
	 * after fast-interval, so a dead region leaves after one interval
	 * plus a re-check rather than fall intervals. */
	if (health_unsettled(&p->hs))
		delay = (int64_t)(spec->fast_interval_ms < spec->interval_ms ?
				  spec->fast_interval_ms : spec->interval_ms);
	else
		delay = (int64_t)spec->interval_ms +
			probe_jitter(pm, spec->jitter_ms);
	delay -= probe_elapsed_ms(&p->last_start);
	probe_arm(p, delay > 0 ? (uint32_t)delay : 0);
}

static void probe_http_done(void *arg, bool ok, const char *reason)
{
	probe_verdict(arg, ok, reason);
}

static void probe_tcp_done(void *arg, bool ok, const char *reason)
{
	struct probe_run *r = arg;

	r->tcp = NULL; /* freed by tcp.c after we return */
	probe_verdict(r, ok, reason);
}

/* Start a run in slot r; false when it could not start. */
static bool probe_start(struct probe *p, struct probe_run *r, bool reuse)
{
	struct probe_mgr *pm = p->pm;
	const struct probe_spec *spec = &p->spec;

	clock_gettime(CLOCK_MONOTONIC, &r->started);
	p->last_start = r->started;
	pm->c.attempts++;
	p->st.attempts++;
	if (spec->type == PROBE_TCP) {
		r->tcp = tcp_probe_start(pm->base, &p->addr, spec->port,
					 spec->timeout_ms, probe_tcp_done, r);
		r->busy = r->tcp != NULL;
		return r->busy;
	}
	if (!pm->http)
		return false;
	if (!r->http) {
		/* A suspect re-check always connects anew: it keeps no
		 * connection of its own. */
		struct probe_spec one = *spec;
		if (r != &p->run[0])
			one.keepalive = false;
		r->http = http_probe_new(pm->http, &one, &p->addr, p->host,
					 probe_http_done, r);
	}
	r->busy = r->http && http_probe_run(r->http, reuse) == 0;
	return r->busy;
}

/* The probe's timer: the next scheduled run when idle; while the
 * scheduled run is in flight, the suspect re-check beside it. */
static void probe_run(evutil_socket_t fd, short what, void *arg)
{
	struct probe *p = arg;
	struct probe_mgr *pm = p->pm;
	const struct probe_spec *spec = &p->spec;

	if (p->run[0].busy) {
		if (p->run[1].busy || p->hs.state != HEALTH_UP)
			return;
		if (probe_start(p, &p->run[1], false)) {
			p->st.suspects++;
			pm->c.suspects++;
			log_debug("probe suspect address=%s port=%u host=%s "
				  "after_ms=%ld", p->addrstr, probe_port(p),
				  p->host ? p->host : "-",
				  (long)probe_elapsed_ms(&p->run[0].started));
		}
		return;
	}
	if (p->run[1].busy)
		return; /* cannot happen: while a suspect run outlives the
			   scheduled one, the timer is not armed */
	/* Keepalive: reuse only while the target is up and settled, and
	 * open a new connection now and then. */
	bool reuse = spec->keepalive && p->hs.state == HEALTH_UP &&
		!health_unsettled(&p->hs) &&
		p->reused + 1 < PROBE_KEEPALIVE_FRESH;
	p->reused = reuse ? p->reused + 1 : 0;
	if (!probe_start(p, &p->run[0], reuse)) {
		/* Out of sockets here: say so rather than stay silent. */
		probe_verdict(&p->run[0], false, "local error");
		return;
	}
	uint32_t suspect = p->hs.state == HEALTH_UP ?
		health_suspect_ms(&p->rtt, spec->fast_interval_ms,
				  spec->timeout_ms) : 0;
	if (suspect)
		probe_arm_exact(p, suspect);
}

/* ---- manager ---- */

struct probe_mgr *probe_mgr_new(struct event_base *base, probe_change_fn fn,
				void *arg)
{
	struct probe_mgr *pm = xcalloc(1, sizeof(*pm));
	struct timespec ts;

	pm->base = base;
	pm->fn = fn;
	pm->arg = arg;
	clock_gettime(CLOCK_REALTIME, &ts);
	pm->rng = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^
		  ((uint64_t)getpid() << 16) ^ (uint64_t)(uintptr_t)pm;
	if (!pm->rng)
		pm->rng = 0x9E3779B97F4A7C15ULL;
	if (!(pm->notify = evtimer_new(base, probe_notify_event, pm)))
		xalloc_die(sizeof(struct event *));
	pm->http = http_probe_ctx_new(base);
	if (!pm->http) {
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
	free(pm->health);
	http_probe_ctx_free(pm->http);
	if (pm->notify)
		event_free(pm->notify);
	free(pm);
}

/* Old probes by hash, open addressing: 1 + index into old, 0 empty. */
struct probe_index {
	uint32_t *slot;
	uint32_t mask;
};

static void probe_index_build(struct probe_index *ix, struct probe **old,
			      size_t n)
{
	uint32_t size = 16;

	while (size < 2 * n)
		size <<= 1;
	ix->slot = xcalloc(size, sizeof(*ix->slot));
	ix->mask = size - 1;
	for (size_t i = 0; i < n; i++) {
		if (!old[i])
			continue;
		uint32_t k = (uint32_t)old[i]->hash & ix->mask;
		while (ix->slot[k])
			k = (k + 1) & ix->mask;
		ix->slot[k] = (uint32_t)i + 1;
	}
}

/* An old probe of this target that no new target has claimed yet. */
static struct probe *probe_find(const struct probe_index *ix,
				struct probe **old, const struct model_target *t,
				uint64_t hash)
{
	for (uint32_t k = (uint32_t)hash & ix->mask; ix->slot[k];
	     k = (k + 1) & ix->mask) {
		struct probe *p = old[ix->slot[k] - 1];
		if (p->hash == hash && !p->taken &&
		    model_target_same(&p->addr, &p->spec, p->host, &t->addr,
				      &t->spec, t->host))
			return p;
	}
	return NULL;
}

void probe_mgr_health_of(const struct probe_mgr *pm,
			 const struct model_target *t, size_t n, uint8_t *out)
{
	struct probe_index ix;

	probe_index_build(&ix, pm->probes, pm->nprobes);
	for (size_t i = 0; i < n; i++) {
		const struct probe *p = t[i].nsvcs ?
			probe_find(&ix, pm->probes, &t[i], t[i].hash) : NULL;
		out[i] = p ? p->hs.state : HEALTH_UNKNOWN;
	}
	free(ix.slot);
}

static struct probe *probe_new(struct probe_mgr *pm,
			       const struct model_target *t)
{
	struct probe *p = xcalloc(1, sizeof(*p));

	p->pm = pm;
	p->addr = t->addr;
	p->addr.target = 0;
	p->hash = t->hash;
	if (!inet_ntop(p->addr.family, &p->addr.ip, p->addrstr,
		       sizeof(p->addrstr)))
		strcpy(p->addrstr, "?");
	health_init(&p->hs);
	p->run[0].p = p->run[1].p = p;
	if (!(p->timer = evtimer_new(pm->base, probe_run, p)))
		xalloc_die(sizeof(struct event *));
	probe_spec_copy(&p->spec, &t->spec);
	if (t->host)
		p->host = xstrdup(t->host);
	return p;
}

/* New probes start within their jitter, but never more than about
 * PROBE_START_PER_MS a millisecond: 10,000 connections opened at once
 * time each other out and mark healthy regions down. */
static void probe_start_fresh(struct probe_mgr *pm, struct probe **next,
			      const bool *fresh, size_t n)
{
	size_t nfresh = 0;

	for (size_t i = 0; i < n; i++)
		nfresh += fresh[i];
	uint32_t spread = (uint32_t)(nfresh / PROBE_START_PER_MS);
	for (size_t i = 0; i < n; i++) {
		if (!fresh[i] || !next[i])
			continue;
		const struct probe_spec *ps = &next[i]->spec;
		uint64_t w = (uint64_t)ps->jitter_ms + spread;
		if (w > ps->interval_ms && spread)
			w = ps->interval_ms;
		probe_arm(next[i], probe_jitter(pm, w > UINT32_MAX ?
						UINT32_MAX : (uint32_t)w));
	}
}

void probe_mgr_sync(struct probe_mgr *pm, const struct model_target *t,
		    size_t n)
{
	struct probe **next = xcalloc(n, sizeof(*next));
	uint8_t *health = xcalloc(n, sizeof(*health));
	bool *fresh = xcalloc(n, sizeof(*fresh));
	struct probe_index ix = { NULL, 0 };

	probe_index_build(&ix, pm->probes, pm->nprobes);
	/* Phase 1: claim survivors, make the rest. */
	for (size_t i = 0; i < n; i++) {
		if (!t[i].nsvcs)
			continue; /* retired: nothing uses it */
		next[i] = probe_find(&ix, pm->probes, &t[i], t[i].hash);
		if (next[i]) {
			next[i]->taken = true;
			continue;
		}
		next[i] = probe_new(pm, &t[i]);
		fresh[i] = true;
	}
	/* Phase 2: commit. */
	size_t active = 0;
	for (size_t i = 0; i < n; i++) {
		if (!next[i])
			continue;
		next[i]->index = (uint32_t)i;
		health[i] = next[i]->hs.state;
		active++;
	}
	probe_start_fresh(pm, next, fresh, n);
	for (size_t i = 0; i < pm->nprobes; i++) {
		struct probe *p = pm->probes[i];
		if (p && p->taken)
			p->taken = false;
		else
			probe_free(p); /* cancels a run in flight */
	}
	free(pm->probes);
	free(pm->health);
	free(fresh);
	free(ix.slot);
	pm->probes = next;
	pm->health = health;
	pm->nprobes = n;
	pm->c.active = (uint32_t)active;
	/* Remembered changes are indexes of the old targets, and are already
	 * in the snapshot the caller compiled against probe_mgr_health_of():
	 * the next change can be patched in. */
	pm->nchanged = 0;
	pm->changed_all = false;
}

int probe_mgr_update(struct probe_mgr *pm, const struct model_target *t,
		     size_t n, const uint32_t *ids, size_t nids)
{
	if (n < pm->nprobes)
		return -1; /* targets are only added or retired here */
	if (n > pm->nprobes) {
		pm->probes = xreallocarray(pm->probes, n, sizeof(*pm->probes));
		pm->health = xrealloc(pm->health, n);
		for (size_t i = pm->nprobes; i < n; i++) {
			pm->probes[i] = NULL;
			pm->health[i] = HEALTH_UNKNOWN;
		}
		pm->nprobes = n;
	}
	bool fresh_one = true;
	for (size_t k = 0; k < nids; k++) {
		uint32_t i = ids[k];
		if (i >= n)
			continue;
		if (!t[i].nsvcs) {
			if (pm->probes[i])
				pm->c.active--;
			probe_free(pm->probes[i]);
			pm->probes[i] = NULL;
			pm->health[i] = HEALTH_UNKNOWN;
			continue;
		}
		if (pm->probes[i])
			continue; /* an index keeps its target */
		struct probe *p = probe_new(pm, &t[i]);
		if (!p)
			return -1;
		p->index = i;
		pm->probes[i] = p;
		pm->health[i] = HEALTH_UNKNOWN;
		pm->c.active++;
		probe_start_fresh(pm, &pm->probes[i], &fresh_one, 1);
	}
	return 0;
}

void probe_mgr_counters(const struct probe_mgr *pm, struct probe_counters *c)
{
	*c = pm->c;
}

int probe_mgr_first_round_done(const struct probe_mgr *pm)
{
	for (size_t i = 0; i < pm->nprobes; i++)
		if (pm->probes[i] && !pm->probes[i]->have_verdict)
			return 0;
	return 1;
}

const uint8_t *probe_mgr_health(const struct probe_mgr *pm, size_t *n)
{
	*n = pm->nprobes;
	return pm->health;
}

bool probe_mgr_take_changed(struct probe_mgr *pm, const uint32_t **out,
			    size_t *n)
{
	bool ok = !pm->changed_all;

	*out = pm->changed;
	*n = pm->nchanged;
	pm->nchanged = 0;
	pm->changed_all = false;
	return ok;
}
