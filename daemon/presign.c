/*
 * presign.c -- full builds that sign big (daemon_int.h).  A full build
 * first runs in collect mode (server/sign.h): a build that finds every
 * signature in the cache is published as it is; one that misses a few
 * RRsets signs them inline, as builds always did, and gets them filled
 * in over its placeholders; one that misses more hands them to the
 * signer threads (server/signpool.h) and is
 * deferred: the old snapshot keeps serving, health patches keep applying
 * to it, and the control loop (probes, the Kubernetes watch, the control
 * API) keeps running.  Full-build requests that come meanwhile are only
 * remembered; when the batch lands its signatures go into the cache and
 * the remembered requests run again (reload, then relist, then rebuild),
 * now finding their signatures there.
 */
#include "config.h"

#include <stdlib.h>
#include <time.h>

#include <event2/event.h>

#include "daemon/daemon.h"
#include "daemon/daemon_int.h"
#include "lib/log.h"
#include "server/compile.h"
#include "server/sign.h"
#include "server/signpool.h"
#include "server/snap.h"

/* Misses signed inline: what one core signs in under 10 ms (the inline
 * path in bench/dnssec-scale: 7.7 s of CPU for 300,008 RRsets, the build
 * included, so 256 take under 7 ms), so a health change after a failed
 * build, a small zone or a reload touching a few names behaves as before. */
#define PRESIGN_INLINE_MAX 256
/* Batches in a row before a build signs inline whatever it misses: a
 * source changing faster than the pool signs must still get served. */
#define PRESIGN_MAX_ROUNDS 3

static int64_t ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
		(t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* GSLBD_SIGN_INLINE=1: the old path, every miss signed on the control
 * thread (bench/dnssec-scale compares both in one run). */
static bool presign_disabled(void)
{
	const char *e = getenv("GSLBD_SIGN_INLINE");
	return e && *e && *e != '0';
}

/* Pool thread: wake the control thread (the base was made after
 * evthread_use_pthreads, so this is safe from any thread). */
static void presign_done(void *arg)
{
	struct gslbd *g = arg;
	event_active(g->ev_signed, EV_READ, 0);
}

/* Control thread: the batch is signed. */
static void presign_landed(evutil_socket_t fd, short what, void *arg)
{
	struct gslbd *g = arg;
	struct sign_jobs *j = g->signing;

	(void)fd;
	(void)what;
	if (!j)
		return;
	g->signing = NULL;
	size_t n = sign_jobs_count(j);
	size_t failed = sign_jobs_store(j, g->sigcache);
	sign_jobs_free(j);
	int64_t ms = ms_since(&g->sign_t0);
	g->st.sign_pending = 0;
	g->st.sign_batches++;
	g->st.sign_last_ms = ms;
	g->st.sign_last_time = time(NULL);
	log_info("signing batch landed rrsets=%zu failed=%zu ms=%lld "
		 "rerun=%s%s%s", n, failed, (long long)ms,
		 g->sign_req & DAEMON_REQ_RELOAD ? "reload," : "",
		 g->sign_req & DAEMON_REQ_RELIST ? "relist," : "",
		 g->sign_req & DAEMON_REQ_REBUILD ? "rebuild" : "");
	g->sign_rounds++;
	unsigned req = g->sign_req;
	g->sign_req = 0;
	g->sign_rerun(g, req);
}

static int presign_pool(struct gslbd *g)
{
	if (!g->signpool && !(g->signpool = signpool_new(0)))
		return -1;
	if (!g->ev_signed &&
	    !(g->ev_signed = event_new(g->base, -1, 0, presign_landed, g))) {
		log_err("cannot make the signing event");
		return -1;
	}
	return 0;
}

/* A few misses: signed here, as a build always did. */
static void presign_inline(struct sign_jobs *j)
{
	ldns_key_list *k = sign_jobs_keys(j);

	for (size_t i = 0; i < sign_jobs_count(j); i++)
		sign_jobs_run(j, i, k);
	sign_jobs_keys_free(k);
}

/* The collect build s, its jobs signed and stored: filled in, it is the
 * build (0); or -1, build again. */
static int presign_fill(struct gslbd *g, struct sign_jobs *j,
			struct snap *s)
{
	size_t made, reused;

	if (sign_jobs_fill(j) < 0)
		return -1;
	sign_cache_sweep(g->sigcache); /* as a real full build does */
	sign_jobs_counts(j, &made, &reused);
	log_info("zone signed signatures_made=%zu reused=%zu "
		 "earliest_expiry=%u", made, reused, s->sig_expire);
	return 0;
}

/* Start-up: nothing serves yet, so there is nothing to keep running
 * for; every thread signs and this one waits. */
static void presign_wait(struct gslbd *g, struct sign_jobs *j)
{
	struct timespec t0;
	size_t n = sign_jobs_count(j);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	log_info("signing batch started rrsets=%zu threads=%u wait=start-up",
		 n, signpool_threads(g->signpool));
	signpool_start(g->signpool, j, NULL, NULL);
	signpool_wait(g->signpool);
	size_t failed = sign_jobs_store(j, g->sigcache);
	int64_t ms = ms_since(&t0);
	g->st.sign_batches++;
	g->st.sign_last_ms = ms;
	g->st.sign_last_time = time(NULL);
	log_info("signing batch landed rrsets=%zu failed=%zu ms=%lld", n,
		 failed, (long long)ms);
}

int daemon_full_build(struct gslbd *g, const struct model *m,
		      struct compile_view *v, unsigned req, struct snap **out,
		      char *err, size_t errlen)
{
	uint64_t gen = g->st.generation + 1;

	*out = NULL;
	if (g->signing) {
		g->sign_req |= req;
		return 1;
	}
	if (!m->dnssec.enabled || !v->sigcache || presign_disabled() ||
	    g->sign_rounds >= PRESIGN_MAX_ROUNDS || presign_pool(g) < 0) {
		g->sign_rounds = 0;
		*out = compile_snapshot(m, v, gen, err, errlen);
		return *out ? 0 : -1;
	}
	struct sign_jobs *j = sign_jobs_new();
	v->collect = j;
	struct snap *s = compile_snapshot(m, v, gen, err, errlen);
	v->collect = NULL;
	size_t n = sign_jobs_count(j);
	if (s && n == 0) { /* every signature cached: s is real */
		sign_jobs_free(j);
		g->sign_rounds = 0;
		*out = s;
		return 0;
	}
	if (!s) { /* a real build fails the same way */
		sign_jobs_free(j);
		return -1;
	}
	if (n <= PRESIGN_INLINE_MAX || !snap_current()) {
		if (n > PRESIGN_INLINE_MAX) {
			presign_wait(g, j);
		} else {
			presign_inline(j);
			sign_jobs_store(j, g->sigcache);
		}
		g->sign_rounds = 0;
		if (presign_fill(g, j, s) == 0) {
			sign_jobs_free(j);
			*out = s;
			return 0;
		}
		snap_free(s);
		sign_jobs_free(j);
		*out = compile_snapshot(m, v, gen, err, errlen);
		return *out ? 0 : -1;
	}
	snap_free(s);
	g->signing = j;
	g->sign_req |= req;
	g->st.sign_pending = n;
	clock_gettime(CLOCK_MONOTONIC, &g->sign_t0);
	log_info("signing batch started rrsets=%zu threads=%u for=%s", n,
		 signpool_threads(g->signpool),
		 req == DAEMON_REQ_RELOAD ? "reload" :
		 req == DAEMON_REQ_RELIST ? "relist" : "rebuild");
	signpool_start(g->signpool, j, presign_done, g);
	return 1;
}

bool daemon_signing(const struct gslbd *g)
{
	return g->signing != NULL;
}

void daemon_presign_free(struct gslbd *g)
{
	signpool_free(g->signpool); /* abandons the batch, joins */
	g->signpool = NULL;
	sign_jobs_free(g->signing);
	g->signing = NULL;
	if (g->ev_signed)
		event_free(g->ev_signed);
	g->ev_signed = NULL;
}
