/* tcp.c -- TCP answering workers (tcp.h). */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "lib/acceptguard.h"
#include "lib/xalloc.h"
#include "server/qsbr.h"
#include "server/snap.h"
#include "server/tcp.h"
#include "server/tcp_frame.h"

/* Stop reading a client that does not read its answers once this much
 * waits for it: one largest answer more may still be queued, so a
 * connection holds at most about 128 KiB, and a worker at most
 * tcp-max-clients times that until tcp-idle-timeout closes it. */
#define TCP_OUT_HIGH (64u * 1024u)

/* An open connection.  The worker keeps them in a list, most recently
 * active first: the tail is the one to close when room is needed, and
 * stopping closes what clients still hold open. */
struct tcp_conn {
	struct tcp_conn *prev, *next;
	struct tcp_worker *w;
	struct bufferevent *bev;
	struct event *deadline; /* lifetime, or the partial message's end */
	struct sockaddr_storage peer;
	uint64_t born_ms;       /* accepted (monotonic) */
	bool partial;           /* part of a message is waiting */
	bool for_partial;       /* the deadline armed is the message's */
	bool closing;           /* close once the answers queued are out */
};

struct tcp_worker {
	pthread_t th;
	bool started;
	struct qsbr *qsbr;
	unsigned qid;
	struct tcp_limits lim;
	struct event_base *base;
	struct evconnlistener **ls;
	size_t nls;
	struct acceptguard *guard;
	struct event *tick;
	unsigned clients;
	struct tcp_conn *conns;
	struct answer_ctx ctx;
	struct tcp_frame_buf buf;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static struct timeval ms_tv(uint64_t ms)
{
	return (struct timeval){ .tv_sec = (time_t)(ms / 1000),
				 .tv_usec = (suseconds_t)(ms % 1000) * 1000 };
}

static void tcp_unlink(struct tcp_conn *c)
{
	struct tcp_worker *w = c->w;

	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
}

static void tcp_push_front(struct tcp_conn *c)
{
	struct tcp_worker *w = c->w;

	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
}

/* The socket is closed here, not by the bufferevent: libevent closes it
 * only when the bufferevent's finalizer runs, after the callback that
 * freed it, and one accept callback that makes room for a burst of new
 * clients would otherwise hold every evicted descriptor open at once. */
static void tcp_close(struct tcp_conn *c)
{
	struct tcp_worker *w = c->w;
	evutil_socket_t fd = bufferevent_getfd(c->bev);

	tcp_unlink(c);
	if (c->deadline)
		event_free(c->deadline);
	bufferevent_free(c->bev);
	if (fd >= 0)
		close(fd);
	free(c);
	w->clients--;
}

/* Close, but let the answers already queued go out first. */
static void tcp_finish(struct tcp_conn *c)
{
	if (!evbuffer_get_length(bufferevent_get_output(c->bev))) {
		tcp_close(c);
		return;
	}
	c->closing = true;
	bufferevent_disable(c->bev, EV_READ);
	bufferevent_setwatermark(c->bev, EV_WRITE, 0, 0);
}

/* The next deadline: the end of its life, or sooner the end of the
 * message begun, whichever comes first. */
static void tcp_arm(struct tcp_conn *c, uint64_t now)
{
	const struct tcp_limits *lim = &c->w->lim;
	uint64_t end = c->born_ms + lim->lifetime_ms;

	c->for_partial = c->partial && now + lim->query_ms < end;
	if (c->for_partial)
		end = now + lim->query_ms;
	struct timeval tv = ms_tv(end > now ? end - now : 0);
	evtimer_add(c->deadline, &tv);
}

static void tcp_deadline_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_conn *c = arg;
	struct tcp_worker *w = c->w;

	if (c->closing) {
		tcp_close(c); /* the answers did not go out in time either */
		return;
	}
	w->ctx.st.tcp_closed[c->for_partial ? ANSWER_TCP_SLOW :
			     ANSWER_TCP_LIFETIME]++;
	tcp_finish(c);
}

static size_t tcp_answer(void *arg, const uint8_t *msg, size_t len,
			 uint8_t *out, size_t outmax)
{
	struct tcp_conn *c = arg;

	return answer_query(&c->w->ctx, snap_current(), msg, len,
			    (const struct sockaddr *)&c->peer, true, out,
			    outmax);
}

static void tcp_read_cb(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *c = arg;
	struct tcp_worker *w = c->w;
	unsigned answered;
	enum tcp_frame_state st;

	st = tcp_frame_drain(bufferevent_get_input(bev),
			     bufferevent_get_output(bev), TCP_OUT_HIGH,
			     &w->buf, tcp_answer, c, &answered);
	if (st == TCP_FRAME_BAD) {
		w->ctx.st.tcp_closed[ANSWER_TCP_MALFORMED]++;
		tcp_finish(c);
		qsbr_quiescent(w->qsbr, w->qid);
		return;
	}
	if (st == TCP_FRAME_BLOCKED)
		bufferevent_disable(bev, EV_READ);
	/* Most recently active first. */
	if (w->conns != c) {
		tcp_unlink(c);
		tcp_push_front(c);
	}
	/* A message begun gets query_ms to arrive whole, counted from its
	 * first byte (the one after the last whole message). */
	bool partial = st == TCP_FRAME_PARTIAL;
	if (partial != c->partial || (partial && answered)) {
		c->partial = partial;
		tcp_arm(c, now_ms());
	}
	qsbr_quiescent(w->qsbr, w->qid);
}

static void tcp_write_cb(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *c = arg;

	if (c->closing) {
		if (!evbuffer_get_length(bufferevent_get_output(bev)))
			tcp_close(c);
		return;
	}
	/* Output drained below the watermark: read (and answer) again. */
	if (!(bufferevent_get_enabled(bev) & EV_READ)) {
		bufferevent_enable(bev, EV_READ);
		tcp_read_cb(bev, arg);
	}
}

static void tcp_event_cb(struct bufferevent *bev, short what, void *arg)
{
	struct tcp_conn *c = arg;

	/* A client may send its queries and shut down its side at once:
	 * the answers still queued go out before the close. */
	if ((what & BEV_EVENT_EOF) && !c->closing &&
	    evbuffer_get_length(bufferevent_get_output(bev))) {
		tcp_finish(c);
		return;
	}
	if ((what & BEV_EVENT_TIMEOUT) && !c->closing)
		c->w->ctx.st.tcp_closed[ANSWER_TCP_IDLE]++;
	/* EOF, error, or the idle timeout. */
	tcp_close(c);
}

/* One client for tcp-max-per-source: an IPv4 address, or an IPv6 /64
 * (a host is given a whole /64 and could otherwise open its share from
 * each of its addresses); an IPv4-mapped address counts as IPv4. */
static bool same_source(const struct sockaddr_storage *a,
			const struct sockaddr_storage *b)
{
	if (a->ss_family != b->ss_family)
		return false;
	if (a->ss_family == AF_INET)
		return ((const struct sockaddr_in *)a)->sin_addr.s_addr ==
			((const struct sockaddr_in *)b)->sin_addr.s_addr;
	if (a->ss_family == AF_INET6) {
		const struct in6_addr *x =
			&((const struct sockaddr_in6 *)a)->sin6_addr;
		const struct in6_addr *y =
			&((const struct sockaddr_in6 *)b)->sin6_addr;
		size_t n = IN6_IS_ADDR_V4MAPPED(x) ? sizeof(*x) : 8;
		return !memcmp(x, y, n);
	}
	return false;
}

/* Nothing read and not answered, nothing waiting to go out. */
static bool tcp_idle(const struct tcp_conn *c)
{
	return !c->closing && !c->partial &&
		!evbuffer_get_length(bufferevent_get_input(c->bev)) &&
		!evbuffer_get_length(bufferevent_get_output(c->bev));
}

/* Room for one more connection from peer: close the least recently used
 * idle connection of that client when it has its share (none idle: no
 * room), else the least recently used one, idle first, when the worker
 * is full. */
static bool tcp_make_room(struct tcp_worker *w,
			  const struct sockaddr_storage *peer)
{
	struct tcp_conn *c, *last = NULL, *idle_src = NULL, *idle_any = NULL;
	unsigned from_src = 0;

	for (c = w->conns; c; c = c->next)
		last = c;
	/* Walk from the least recently active. */
	for (c = last; c; c = c->prev) {
		bool mine = same_source(&c->peer, peer);
		from_src += mine;
		if (tcp_idle(c)) {
			if (mine && !idle_src)
				idle_src = c;
			if (!idle_any)
				idle_any = c;
		}
	}
	if (from_src >= w->lim.max_per_source) {
		if (!idle_src) {
			w->ctx.st.tcp_closed[ANSWER_TCP_PER_SOURCE]++;
			return false;
		}
		w->ctx.st.tcp_closed[ANSWER_TCP_EVICTED]++;
		tcp_close(idle_src);
		return true;
	}
	if (w->clients < w->lim.max_clients)
		return true;
	/* Full.  Refusing would let clients that hold their slots (slow
	 * ones, until tcp-query-timeout; greedy ones, for ever) lock every
	 * other out; the least recently active one goes instead, idle ones
	 * first.  A resolver's query arrives in one segment and is answered
	 * at once, so it is rarely the busy one closed. */
	if (!idle_any)
		idle_any = last;
	if (!idle_any) {
		w->ctx.st.tcp_closed[ANSWER_TCP_REFUSED]++;
		return false;
	}
	w->ctx.st.tcp_closed[ANSWER_TCP_EVICTED]++;
	tcp_close(idle_any);
	return true;
}

static void tcp_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
			  struct sockaddr *sa, int salen, void *arg)
{
	struct tcp_worker *w = arg;
	int one = 1;
	struct tcp_conn *c = xcalloc(1, sizeof(*c));

	acceptguard_ok(w->guard);
	if (salen > 0 && (size_t)salen <= sizeof(c->peer))
		memcpy(&c->peer, sa, (size_t)salen);
	if (!tcp_make_room(w, &c->peer)) {
		close(fd);
		free(c);
		return;
	}
	/* Both fail only for want of memory. */
	if (!(c->bev = bufferevent_socket_new(w->base, fd, 0)) ||
	    !(c->deadline = evtimer_new(w->base, tcp_deadline_cb, c)))
		xalloc_die(sizeof(*c));
	c->w = w;
	c->born_ms = now_ms();
	tcp_push_front(c);
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	w->clients++;
	struct timeval idle = ms_tv(w->lim.idle_ms);
	bufferevent_setcb(c->bev, tcp_read_cb, tcp_write_cb, tcp_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, TCP_OUT_HIGH / 2, 0);
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
	tcp_arm(c, c->born_ms);
}

/* An idle loop still reports quiescence, so snapshots can be freed. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_worker *w = arg;
	qsbr_quiescent(w->qsbr, w->qid);
}

struct tcp_worker *tcp_worker_new(int *fds, size_t nfds,
				  const struct tcp_limits *lim, struct qsbr *q,
				  unsigned qsbr_id, uint64_t seed)
{
	struct tcp_worker *w = xcalloc(1, sizeof(*w));
	struct timeval tick = { 0, 50 * 1000 };
	size_t i = 0;

	w->qsbr = q;
	w->qid = qsbr_id;
	w->lim = *lim;
	answer_ctx_init(&w->ctx, seed);
	w->base = event_base_new();
	w->ls = xcalloc(nfds, sizeof(*w->ls));
	w->tick = w->base ? event_new(w->base, -1, EV_PERSIST, tick_cb, w) :
		NULL;
	if (!w->base || !w->tick || event_add(w->tick, &tick) < 0)
		goto fail;
	w->guard = acceptguard_new(w->base, "dns-tcp");
	for (; i < nfds; i++) {
		w->ls[i] = evconnlistener_new(w->base, tcp_accept_cb, w,
			LEV_OPT_CLOSE_ON_FREE, -1, fds[i]);
		if (!w->ls[i])
			goto fail;
		w->nls++;
		acceptguard_watch(w->guard, w->ls[i]);
	}
	return w;
fail:
	for (; i < nfds; i++)
		close(fds[i]);
	tcp_worker_free(w);
	return NULL;
}

static void *tcp_main(void *arg)
{
	struct tcp_worker *w = arg;
	event_base_dispatch(w->base);
	qsbr_offline(w->qsbr, w->qid);
	return NULL;
}

int tcp_worker_start(struct tcp_worker *w)
{
	if (pthread_create(&w->th, NULL, tcp_main, w))
		return -1;
	w->started = true;
	return 0;
}

void tcp_worker_free(struct tcp_worker *w)
{
	if (!w)
		return;
	if (w->started) {
		event_base_loopexit(w->base, NULL);
		pthread_join(w->th, NULL);
	}
	while (w->conns)
		tcp_close(w->conns);
	acceptguard_free(w->guard);
	for (size_t i = 0; i < w->nls; i++)
		evconnlistener_free(w->ls[i]);
	if (w->tick)
		event_free(w->tick);
	free(w->ls);
	if (w->base)
		event_base_free(w->base);
	free(w);
}

const struct answer_stats *tcp_worker_stats(const struct tcp_worker *w)
{
	return &w->ctx.st;
}
