/* acceptguard.c -- see acceptguard.h. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "lib/acceptguard.h"
#include "lib/log.h"
#include "lib/xalloc.h"

#define GUARD_PAUSE_MIN_MS 100
#define GUARD_PAUSE_MAX_MS 1000

struct acceptguard {
	struct event_base *base;
	const char *what;
	struct evconnlistener **ls;
	size_t nls;
	struct event *timer;
	bool episode;            /* failures seen, no success since */
	bool paused;             /* listeners disabled for failures */
	bool blocked;            /* disabled by the owner (at its cap) */
	unsigned pause_ms;       /* the next pause */
	int first_err;
	unsigned long long count;   /* failures in this episode */
	unsigned long long total;   /* over every episode */
	struct timespec since;
};

/* libevent hands an error callback the listener's accept argument, which
 * for the control API belongs to evhttp: find the guard by listener.
 * Touched when a guard starts or stops watching and when accept fails,
 * never for a connection accepted. */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct reg { struct evconnlistener *l; struct acceptguard *g; } *reg;
static size_t nreg;

static void guard_error_cb(struct evconnlistener *l, void *unused)
{
	int err = errno;
	struct acceptguard *g = NULL;

	pthread_mutex_lock(&reg_lock);
	for (size_t i = 0; i < nreg && !g; i++)
		if (reg[i].l == l)
			g = reg[i].g;
	pthread_mutex_unlock(&reg_lock);
	if (g)
		acceptguard_failed(g, err);
}

static double guard_elapsed(const struct acceptguard *g)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - g->since.tv_sec) +
		(double)(now.tv_nsec - g->since.tv_nsec) / 1e9;
}

static void guard_end(struct acceptguard *g)
{
	log_warn("accept works again listener=%s failures=%llu seconds=%.1f",
		 g->what, g->count, guard_elapsed(g));
	g->episode = false;
	g->count = 0;
	g->pause_ms = GUARD_PAUSE_MIN_MS;
}

static void guard_enable(struct acceptguard *g, bool on)
{
	for (size_t i = 0; i < g->nls; i++)
		if (on)
			evconnlistener_enable(g->ls[i]);
		else
			evconnlistener_disable(g->ls[i]);
}

/* The end of a pause does not undo the owner's block. */
static void guard_listen(struct acceptguard *g, bool on)
{
	g->paused = !on;
	if (!g->blocked)
		guard_enable(g, on);
}

void acceptguard_block(struct acceptguard *g, bool blocked)
{
	if (g->blocked == blocked)
		return;
	g->blocked = blocked;
	if (blocked || !g->paused)
		guard_enable(g, !blocked);
}

/* A pause is over: listen again, and if a whole pause's length passes
 * with no failure the episode is over too. */
static void guard_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	struct acceptguard *g = arg;

	if (g->paused) {
		struct timeval quiet = { GUARD_PAUSE_MAX_MS / 1000,
					 (GUARD_PAUSE_MAX_MS % 1000) * 1000 };
		guard_listen(g, true);
		evtimer_add(g->timer, &quiet);
	} else if (g->episode) {
		guard_end(g);
	}
}

struct acceptguard *acceptguard_new(struct event_base *base, const char *what)
{
	struct acceptguard *g = xcalloc(1, sizeof(*g));

	g->base = base;
	g->what = what;
	g->pause_ms = GUARD_PAUSE_MIN_MS;
	g->timer = evtimer_new(base, guard_timer_cb, g);
	if (!g->timer)
		xalloc_die(sizeof(struct event *));
	return g;
}

void acceptguard_watch(struct acceptguard *g, struct evconnlistener *l)
{
	g->ls = xreallocarray(g->ls, g->nls + 1, sizeof(*g->ls));
	g->ls[g->nls++] = l;
	pthread_mutex_lock(&reg_lock);
	reg = xreallocarray(reg, nreg + 1, sizeof(*reg));
	reg[nreg++] = (struct reg){ l, g };
	pthread_mutex_unlock(&reg_lock);
	evconnlistener_set_error_cb(l, guard_error_cb);
}

void acceptguard_ok(struct acceptguard *g)
{
	if (g && g->episode && !g->paused) {
		evtimer_del(g->timer);
		guard_end(g);
	}
}

void acceptguard_failed(struct acceptguard *g, int err)
{
	g->total++;
	g->count++;
	if (!g->episode) {
		g->episode = true;
		g->first_err = err;
		clock_gettime(CLOCK_MONOTONIC, &g->since);
		log_warn("accept failed: pausing the listener listener=%s "
			 "error=\"%s\"%s", g->what, strerror(err),
			 err == EMFILE || err == ENFILE ?
			 " hint=\"the open file limit: raise LimitNOFILE or "
			 "lower tcp-max-clients\"" : "");
	} else if (g->paused) {
		return; /* another listener of the same guard, same turn */
	} else if (g->pause_ms < GUARD_PAUSE_MAX_MS) {
		g->pause_ms *= 2;
		if (g->pause_ms > GUARD_PAUSE_MAX_MS)
			g->pause_ms = GUARD_PAUSE_MAX_MS;
	}
	struct timeval tv = { g->pause_ms / 1000, (g->pause_ms % 1000) * 1000 };
	guard_listen(g, false);
	evtimer_add(g->timer, &tv);
}

unsigned long long acceptguard_failures(const struct acceptguard *g)
{
	return g ? g->total : 0;
}

void acceptguard_free(struct acceptguard *g)
{
	if (!g)
		return;
	pthread_mutex_lock(&reg_lock);
	for (size_t i = 0; i < nreg;)
		if (reg[i].g == g)
			reg[i] = reg[--nreg];
		else
			i++;
	if (!nreg) {
		free(reg);
		reg = NULL;
	}
	pthread_mutex_unlock(&reg_lock);
	for (size_t i = 0; i < g->nls; i++)
		evconnlistener_set_error_cb(g->ls[i], NULL);
	if (g->timer)
		event_free(g->timer);
	free(g->ls);
	free(g);
}
