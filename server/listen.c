/*
 * listen.c -- sockets and worker threads (listen.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include "server/listen.h"
#include "server/log.h"
#include "server/qsbr.h"
#include "server/snap.h"

#define UDP_BATCH   32
#define UDP_IN_MAX  4096  /* larger queries are not queries we answer */
#define UDP_OUT_MAX 4096  /* edns-udp-size is at most this */
#define TCP_MSG_MAX 65535
#define TCP_OUT_HIGH (256u * 1024u) /* stop reading a client that does
				       not read its answers */

/* A wildcard-bound UDP socket must answer from the address the query
 * was sent to, or clients on multi-address hosts drop the reply. */
union pktinfo_buf {
	char buf[CMSG_SPACE(sizeof(struct in6_pktinfo))];
	struct cmsghdr align;
};

struct udp_sock {
	struct worker *w;
	bool pktinfo;
};

/* An open TCP connection; the worker keeps a list so that stopping can
 * close what clients still hold open. */
struct tcp_conn {
	struct tcp_conn *prev, *next;
	struct worker *w;
	struct bufferevent *bev;
	struct sockaddr_storage peer;
};

struct worker {
	unsigned id;
	pthread_t th;
	bool started;
	struct listen_set *ls;
	struct event_base *base;
	struct event **udp_ev;
	struct udp_sock *udp;
	struct evconnlistener **tcp_l;
	struct event *tick;
	unsigned tcp_clients;
	struct tcp_conn *conns;
	struct answer_ctx ctx;
	/* UDP batch buffers */
	struct mmsghdr in[UDP_BATCH], out[UDP_BATCH];
	struct iovec in_iov[UDP_BATCH], out_iov[UDP_BATCH];
	struct sockaddr_storage from[UDP_BATCH];
	union pktinfo_buf cin[UDP_BATCH], cout[UDP_BATCH];
	uint8_t inbuf[UDP_BATCH][UDP_IN_MAX];
	uint8_t outbuf[UDP_BATCH][UDP_OUT_MAX];
	/* TCP: one message at a time */
	uint8_t tcp_in[TCP_MSG_MAX];
	uint8_t tcp_out[2 + TCP_MSG_MAX];
};

struct listen_set {
	struct model_listen *addrs;
	size_t naddrs;
	unsigned nworkers;
	uint32_t tcp_idle_ms;
	uint32_t tcp_max;
	int *udp_fd; /* [worker * naddrs + addr] */
	int *tcp_fd;
	struct worker **w;
	struct qsbr *qsbr;
};

static bool listen_is_wildcard(const struct model_listen *l)
{
	const struct sockaddr *sa = (const struct sockaddr *)&l->ss;
	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_addr.s_addr ==
			htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(
		&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

static int sock_open(const struct model_listen *l, int type, char *err,
		     size_t errlen)
{
	const struct sockaddr *sa = (const struct sockaddr *)&l->ss;
	int one = 1;
	int fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	char host[INET6_ADDRSTRLEN + 8];

	if (fd < 0)
		goto fail;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)))
		goto fail;
	if (sa->sa_family == AF_INET6 &&
	    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)))
		goto fail;
	if (type == SOCK_DGRAM) {
		int sz = 4 << 20; /* absorb bursts; capped by rmem_max */
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof(sz));
		if (listen_is_wildcard(l) &&
		    (sa->sa_family == AF_INET ?
		     setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) :
		     setsockopt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, &one,
				sizeof(one))))
			goto fail;
	}
	if (bind(fd, sa, l->sslen) < 0)
		goto fail;
	if (type == SOCK_STREAM && listen(fd, 256) < 0)
		goto fail;
	return fd;
fail:;
	int e = errno;
	const void *ip = sa->sa_family == AF_INET ?
		(const void *)&((const struct sockaddr_in *)sa)->sin_addr :
		(const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
	unsigned port = ntohs(sa->sa_family == AF_INET ?
		((const struct sockaddr_in *)sa)->sin_port :
		((const struct sockaddr_in6 *)sa)->sin6_port);
	inet_ntop(sa->sa_family, ip, host, sizeof(host));
	snprintf(err, errlen, "cannot listen on %s port %u (%s): %s", host,
		 port, type == SOCK_DGRAM ? "udp" : "tcp", strerror(e));
	if (fd >= 0)
		close(fd);
	return -1;
}

struct listen_set *listen_open(const struct model_server *srv,
			       unsigned workers, char *err, size_t errlen)
{
	struct listen_set *ls = calloc(1, sizeof(*ls));
	size_t n = srv->nlisten * workers;

	if (!ls)
		goto oom;
	ls->nworkers = workers;
	ls->naddrs = srv->nlisten;
	ls->tcp_idle_ms = srv->tcp_idle_ms ? srv->tcp_idle_ms : 10000;
	ls->tcp_max = srv->tcp_max_clients ? srv->tcp_max_clients : 256;
	ls->addrs = calloc(srv->nlisten ? srv->nlisten : 1, sizeof(*ls->addrs));
	ls->udp_fd = malloc((n ? n : 1) * sizeof(int));
	ls->tcp_fd = malloc((n ? n : 1) * sizeof(int));
	ls->w = calloc(workers, sizeof(*ls->w));
	if (!ls->addrs || !ls->udp_fd || !ls->tcp_fd || !ls->w)
		goto oom;
	memcpy(ls->addrs, srv->listen, srv->nlisten * sizeof(*ls->addrs));
	for (size_t i = 0; i < n; i++)
		ls->udp_fd[i] = ls->tcp_fd[i] = -1;
	for (size_t i = 0; i < n; i++) {
		const struct model_listen *l = &srv->listen[i % srv->nlisten];
		if ((ls->udp_fd[i] = sock_open(l, SOCK_DGRAM, err, errlen)) < 0 ||
		    (ls->tcp_fd[i] = sock_open(l, SOCK_STREAM, err, errlen)) < 0) {
			listen_close(ls);
			return NULL;
		}
	}
	return ls;
oom:
	snprintf(err, errlen, "out of memory");
	listen_close(ls);
	return NULL;
}

/* --- UDP ------------------------------------------------------------ */

static void udp_send(int fd, struct mmsghdr *m, unsigned n)
{
	unsigned done = 0;
	while (done < n) {
		int r = sendmmsg(fd, m + done, n - done, 0);
		if (r < 0) {
			if (errno == EINTR)
				continue;
			/* EAGAIN: the socket buffer is full; dropping is what
			 * a busy DNS server does, the client retries. */
			done++;
			continue;
		}
		done += (unsigned)r;
	}
}

/* Copy the destination address of a received datagram into the reply's
 * source.  The interface index is cleared for IPv4 so routing picks the
 * way out; IPv6 keeps it, which link-local addresses need. */
static void reply_from(struct msghdr *in, struct msghdr *out,
		       union pktinfo_buf *cout)
{
	out->msg_control = NULL;
	out->msg_controllen = 0;
	for (struct cmsghdr *c = CMSG_FIRSTHDR(in); c; c = CMSG_NXTHDR(in, c)) {
		struct cmsghdr *o = (struct cmsghdr *)cout->buf;
		if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
			struct in_pktinfo pi;
			memcpy(&pi, CMSG_DATA(c), sizeof(pi));
			pi.ipi_spec_dst = pi.ipi_addr;
			pi.ipi_ifindex = 0;
			o->cmsg_level = IPPROTO_IP;
			o->cmsg_type = IP_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(pi));
			memcpy(CMSG_DATA(o), &pi, sizeof(pi));
			out->msg_controllen = CMSG_SPACE(sizeof(pi));
		} else if (c->cmsg_level == IPPROTO_IPV6 &&
			   c->cmsg_type == IPV6_PKTINFO) {
			o->cmsg_level = IPPROTO_IPV6;
			o->cmsg_type = IPV6_PKTINFO;
			o->cmsg_len = CMSG_LEN(sizeof(struct in6_pktinfo));
			memcpy(CMSG_DATA(o), CMSG_DATA(c),
			       sizeof(struct in6_pktinfo));
			out->msg_controllen = CMSG_SPACE(sizeof(struct in6_pktinfo));
		} else {
			continue;
		}
		out->msg_control = cout->buf;
		return;
	}
}

static void udp_cb(evutil_socket_t fd, short what, void *arg)
{
	struct udp_sock *us = arg;
	struct worker *w = us->w;
	const struct snap *s = snap_current();

	/* Bounded drain: other sockets on this worker get their turn. */
	for (int round = 0; round < 16; round++) {
		for (unsigned i = 0; i < UDP_BATCH; i++) {
			w->in[i].msg_hdr.msg_namelen = sizeof(w->from[i]);
			w->in[i].msg_hdr.msg_control = us->pktinfo ?
				w->cin[i].buf : NULL;
			w->in[i].msg_hdr.msg_controllen = us->pktinfo ?
				sizeof(w->cin[i]) : 0;
		}
		int n = recvmmsg(fd, w->in, UDP_BATCH, MSG_DONTWAIT, NULL);
		if (n <= 0)
			break;
		unsigned m = 0;
		for (int i = 0; i < n; i++) {
			size_t len = answer_query(&w->ctx, s, w->inbuf[i],
				w->in[i].msg_len,
				(const struct sockaddr *)&w->from[i], false,
				w->outbuf[m], UDP_OUT_MAX);
			if (!len)
				continue;
			w->out_iov[m].iov_base = w->outbuf[m];
			w->out_iov[m].iov_len = len;
			w->out[m].msg_hdr.msg_name = &w->from[i];
			w->out[m].msg_hdr.msg_namelen =
				w->in[i].msg_hdr.msg_namelen;
			if (us->pktinfo)
				reply_from(&w->in[i].msg_hdr, &w->out[m].msg_hdr,
					   &w->cout[m]);
			m++;
		}
		udp_send((int)fd, w->out, m);
		if (n < UDP_BATCH)
			break;
	}
	qsbr_quiescent(w->ls->qsbr, w->id);
}

/* --- TCP (RFC 7766) ------------------------------------------------- */

static void tcp_close(struct tcp_conn *c)
{
	struct worker *w = c->w;

	if (c->prev)
		c->prev->next = c->next;
	else
		w->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	bufferevent_free(c->bev);
	free(c);
	w->tcp_clients--;
}

static void tcp_read_cb(struct bufferevent *bev, void *arg)
{
	struct tcp_conn *c = arg;
	struct worker *w = c->w;
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
		evbuffer_remove(in, w->tcp_in, mlen);
		size_t rlen = answer_query(&w->ctx, s, w->tcp_in, mlen,
			(const struct sockaddr *)&c->peer, true, w->tcp_out + 2,
			TCP_MSG_MAX);
		if (!rlen) {
			/* Garbage on a stream cannot be resynchronised. */
			tcp_close(c);
			qsbr_quiescent(w->ls->qsbr, w->id);
			return;
		}
		wire_put16(w->tcp_out, (uint16_t)rlen);
		evbuffer_add(out, w->tcp_out, rlen + 2);
	}
	if (evbuffer_get_length(out) >= TCP_OUT_HIGH)
		bufferevent_disable(bev, EV_READ);
	qsbr_quiescent(w->ls->qsbr, w->id);
}

static void tcp_write_cb(struct bufferevent *bev, void *arg)
{
	/* Output drained below the watermark: read (and answer) again. */
	if (!(bufferevent_get_enabled(bev) & EV_READ)) {
		bufferevent_enable(bev, EV_READ);
		tcp_read_cb(bev, arg);
	}
}

static void tcp_event_cb(struct bufferevent *bev, short what, void *arg)
{
	/* EOF, error, or the idle timeout (also hits a half-sent query). */
	tcp_close(arg);
}

static void tcp_accept_cb(struct evconnlistener *l, evutil_socket_t fd,
			  struct sockaddr *sa, int salen, void *arg)
{
	struct worker *w = arg;
	int one = 1;
	struct tcp_conn *c = NULL;

	if (w->tcp_clients >= w->ls->tcp_max ||
	    !(c = calloc(1, sizeof(*c))) ||
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
	w->tcp_clients++;
	struct timeval idle = {
		.tv_sec = w->ls->tcp_idle_ms / 1000,
		.tv_usec = (w->ls->tcp_idle_ms % 1000) * 1000,
	};
	bufferevent_setcb(c->bev, tcp_read_cb, tcp_write_cb, tcp_event_cb, c);
	bufferevent_setwatermark(c->bev, EV_WRITE, TCP_OUT_HIGH / 2, 0);
	bufferevent_set_timeouts(c->bev, &idle, &idle);
	bufferevent_enable(c->bev, EV_READ | EV_WRITE);
}

/* --- workers -------------------------------------------------------- */

static void tick_cb(evutil_socket_t fd, short what, void *arg)
{
	struct worker *w = arg;
	qsbr_quiescent(w->ls->qsbr, w->id);
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	event_base_dispatch(w->base);
	qsbr_offline(w->ls->qsbr, w->id);
	return NULL;
}

static int worker_setup(struct listen_set *ls, unsigned id)
{
	struct worker *w = calloc(1, sizeof(*w));
	struct timeval tick = { 0, 50 * 1000 };

	if (!w)
		return -1;
	ls->w[id] = w;
	w->id = id;
	w->ls = ls;
	answer_ctx_init(&w->ctx, ((uint64_t)time(NULL) << 16) ^
			((uint64_t)id * 0x9e3779b97f4a7c15ull) ^ (uint64_t)getpid());
	for (unsigned i = 0; i < UDP_BATCH; i++) {
		w->in_iov[i].iov_base = w->inbuf[i];
		w->in_iov[i].iov_len = UDP_IN_MAX;
		w->in[i].msg_hdr.msg_iov = &w->in_iov[i];
		w->in[i].msg_hdr.msg_iovlen = 1;
		w->in[i].msg_hdr.msg_name = &w->from[i];
		w->out[i].msg_hdr.msg_iov = &w->out_iov[i];
		w->out[i].msg_hdr.msg_iovlen = 1;
	}
	w->base = event_base_new();
	w->udp_ev = calloc(ls->naddrs, sizeof(*w->udp_ev));
	w->udp = calloc(ls->naddrs, sizeof(*w->udp));
	w->tcp_l = calloc(ls->naddrs, sizeof(*w->tcp_l));
	w->tick = w->base ? event_new(w->base, -1, EV_PERSIST, tick_cb, w) : NULL;
	if (!w->base || !w->udp_ev || !w->udp || !w->tcp_l || !w->tick ||
	    event_add(w->tick, &tick) < 0)
		return -1;
	for (size_t i = 0; i < ls->naddrs; i++) {
		size_t k = (size_t)id * ls->naddrs + i;
		w->udp[i].w = w;
		w->udp[i].pktinfo = listen_is_wildcard(&ls->addrs[i]);
		w->udp_ev[i] = event_new(w->base, ls->udp_fd[k],
					 EV_READ | EV_PERSIST, udp_cb, &w->udp[i]);
		if (!w->udp_ev[i] || event_add(w->udp_ev[i], NULL) < 0)
			return -1;
		w->tcp_l[i] = evconnlistener_new(w->base, tcp_accept_cb, w,
			LEV_OPT_CLOSE_ON_FREE, -1, ls->tcp_fd[k]);
		if (!w->tcp_l[i])
			return -1;
		ls->tcp_fd[k] = -1; /* the listener owns it now */
	}
	return 0;
}

int listen_start(struct listen_set *ls, struct qsbr *q, char *err,
		 size_t errlen)
{
	ls->qsbr = q;
	for (unsigned i = 0; i < ls->nworkers; i++) {
		if (worker_setup(ls, i) < 0) {
			snprintf(err, errlen, "cannot set up worker %u", i);
			return -1;
		}
	}
	for (unsigned i = 0; i < ls->nworkers; i++) {
		int rc = pthread_create(&ls->w[i]->th, NULL, worker_main,
					ls->w[i]);
		if (rc) {
			snprintf(err, errlen, "cannot start worker %u: %s", i,
				 strerror(rc));
			return -1;
		}
		ls->w[i]->started = true;
	}
	return 0;
}

static void worker_free(struct worker *w, size_t naddrs)
{
	if (w->started)
		pthread_join(w->th, NULL);
	while (w->conns)
		tcp_close(w->conns);
	for (size_t i = 0; w->udp_ev && i < naddrs; i++)
		if (w->udp_ev[i])
			event_free(w->udp_ev[i]);
	for (size_t i = 0; w->tcp_l && i < naddrs; i++)
		if (w->tcp_l[i])
			evconnlistener_free(w->tcp_l[i]);
	if (w->tick)
		event_free(w->tick);
	free(w->udp_ev);
	free(w->udp);
	free(w->tcp_l);
	if (w->base)
		event_base_free(w->base);
	free(w);
}

void listen_close(struct listen_set *ls)
{
	if (!ls)
		return;
	size_t n = (size_t)ls->nworkers * ls->naddrs;
	for (unsigned i = 0; ls->w && i < ls->nworkers; i++)
		if (ls->w[i] && ls->w[i]->started)
			event_base_loopexit(ls->w[i]->base, NULL);
	for (unsigned i = 0; ls->w && i < ls->nworkers; i++)
		if (ls->w[i])
			worker_free(ls->w[i], ls->naddrs);
	for (size_t i = 0; i < n; i++) {
		if (ls->udp_fd && ls->udp_fd[i] >= 0)
			close(ls->udp_fd[i]);
		if (ls->tcp_fd && ls->tcp_fd[i] >= 0)
			close(ls->tcp_fd[i]);
	}
	free(ls->udp_fd);
	free(ls->tcp_fd);
	free(ls->addrs);
	free(ls->w);
	free(ls);
}

int listen_same(const struct listen_set *ls, const struct model_server *srv)
{
	if (ls->naddrs != srv->nlisten)
		return 0;
	for (size_t i = 0; i < ls->naddrs; i++)
		if (ls->addrs[i].sslen != srv->listen[i].sslen ||
		    memcmp(&ls->addrs[i].ss, &srv->listen[i].ss,
			   srv->listen[i].sslen) != 0)
			return 0;
	return 1;
}

void listen_stats(const struct listen_set *ls, struct answer_stats *sum)
{
	memset(sum, 0, sizeof(*sum));
	for (unsigned i = 0; i < ls->nworkers; i++) {
		const struct answer_stats *st = &ls->w[i]->ctx.st;
		sum->udp += st->udp;
		sum->tcp += st->tcp;
		for (int k = 0; k < ANSWER_QT_MAX; k++)
			sum->qtype[k] += st->qtype[k];
		for (int k = 0; k < ANSWER_RCODES; k++)
			sum->rcode[k] += st->rcode[k];
		sum->truncated += st->truncated;
		sum->dropped += st->dropped;
		sum->edns += st->edns;
		sum->ecs += st->ecs;
	}
}

unsigned listen_workers(const struct listen_set *ls)
{
	return ls->nworkers;
}
