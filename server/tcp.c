/* tcp.c -- TCP answering workers (tcp.h). */
#include "config.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "server/qsbr.h"
#include "server/snap.h"
#include "server/tcp.h"

#define TCP_MSG_MAX 65535
#define TCP_OUT_HIGH (256u * 1024u) /* stop reading a client that does
				       not read its answers */

/* An open connection; the worker keeps a list so that stopping can close
 * what clients still hold open. */
struct tcp_conn {
	struct tcp_conn *prev, *next;
	struct tcp_worker *w;
	struct bufferevent *bev;
	struct sockaddr_storage peer;
	bool closing;   /* the client half-closed: close once answers are out */
};

struct tcp_worker {
	pthread_t th;
	bool started;
	struct qsbr *qsbr;
	unsigned qid;
	uint32_t idle_ms, max_clients;
	struct event_base *base;
	struct evconnlistener **ls;
	size_t nls;
	struct event *tick;
	unsigned clients;
	struct tcp_conn *conns;
	struct answer_ctx ctx;
	uint8_t in[TCP_MSG_MAX];
	uint8_t out[2 + TCP_MSG_MAX];
};

static void tcp_close(struct tcp_conn *c)
{
	struct tcp_worker *w = c->w;

	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	bufferevent_free(c->bev);
	free(c);
	w->clients--;
}

static void tcp_read_cb(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *c = arg;
	struct tcp_worker *w = c->w;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct evbuffer *out = bufferevent_get_output(bev);
	const struct snap *s = snap_current();

	/* Answer every complete message: pipelined queries in order. */
	while (evbuffer_get_length(out) < TCP_OUT_HIGH) {
		uint8_t lp[2];
		if (evbuffer_copyout(in, lp, 2) < 2)
			break;
		size_t mlen = wire_get16(lp);
		if (evbuffer_get_length(in) < 2 + mlen)
			break;
		evbuffer_drain(in, 2);
		evbuffer_remove(in, w->in, mlen);
		size_t rlen = answer_query(&w->ctx, s, w->in, mlen,
			(const struct sockaddr *)&c->peer, true, w->out + 2,
			TCP_MSG_MAX);
		if (!rlen) {
			/* Garbage on a stream cannot be resynchronised. */
			tcp_close(c);
			qsbr_quiescent(w->qsbr, w->qid);
			return;
		}
		wire_put16(w->out, (uint16_t)rlen);
		evbuffer_add(out, w->out, rlen + 2);
	}
	if (evbuffer_get_length(out) >= TCP_OUT_HIGH)
		bufferevent_disable(bev, EV_READ);
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
		c->closing = true;
		bufferevent_disable(bev, EV_READ);
		bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
		return;
	}
	/* EOF, error, or the idle timeout (also hits a half-sent query). */
	tcp_close(c);
}

static void tcp_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
			  struct sockaddr *sa, int salen, void *arg)
{
	struct tcp_worker *w = arg;
	int one = 1;
	struct tcp_conn *c = NULL;

	if (w->clients >= w->max_clients || !(c = calloc(1, sizeof(*c))) ||
	    !(c->bev = bufferevent_socket_new(w->base, fd,
					      BEV_OPT_CLOSE_ON_FREE))) {
		free(c);
		close(fd);
		return;
	}
	c->w = w;
	if (salen > 0 && (size_t)salen <= sizeof(c->peer))
		memcpy(&c->peer, sa, (size_t)salen);
	c->next = w->conns;
	if (w->conns)
		w->conns->prev = c;
	w->conns = c;
	setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	w->clients++;
	struct timeval idle = {
		.tv_sec = w->idle_ms / 1000,
		.tv_usec = (w->idle_ms % 1000) * 1000,
	};
	bufferevent_setcb(c->bev, tcp_read_cb, tcp_write_cb, tcp_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, TCP_OUT_HIGH / 2, 0);
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* An idle loop still reports quiescence, so snapshots can be freed. */
static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_worker *w = arg;
	qsbr_quiescent(w->qsbr, w->qid);
}

struct tcp_worker *tcp_worker_new(int *fds, size_t nfds, uint32_t idle_ms,
				  uint32_t max_clients, struct qsbr *q,
				  unsigned qsbr_id, uint64_t seed)
{
	struct tcp_worker *w = calloc(1, sizeof(*w));
	struct timeval tick = { 0, 50 * 1000 };
	size_t i = 0;

	if (!w)
		goto fail;
	w->qsbr = q;
	w->qid = qsbr_id;
	w->idle_ms = idle_ms;
	w->max_clients = max_clients;
	answer_ctx_init(&w->ctx, seed);
	w->base = event_base_new();
	w->ls = calloc(nfds ? nfds : 1, sizeof(*w->ls));
	w->tick = w->base ? event_new(w->base, -1, EV_PERSIST, tick_cb, w) :
		NULL;
	if (!w->base || !w->ls || !w->tick || event_add(w->tick, &tick) < 0)
		goto fail;
	for (; i < nfds; i++) {
		w->ls[i] = evconnlistener_new(w->base, tcp_accept_cb, w,
			LEV_OPT_CLOSE_ON_FREE, -1, fds[i]);
		if (!w->ls[i])
			goto fail;
		w->nls++;
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
