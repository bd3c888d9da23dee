/*
 * listen.c -- sockets and the data-plane threads (listen.h): per worker,
 * one UDP thread per listen address (server/udp.c) and one TCP thread
 * for all of them (server/tcp.c), each socket its own SO_REUSEPORT copy
 * so the kernel spreads clients over workers.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/xalloc.h"
#include "server/listen.h"
#include "server/tcp.h"
#include "server/udp.h"

struct listen_set {
	struct model_listen *addrs;
	size_t naddrs;
	unsigned nworkers;
	struct tcp_limits tcp_lim;
	int *udp_fd;   /* [worker * naddrs + addr] */
	int *tcp_fd;   /* handed to the TCP workers at start */
	struct udp_thread **udp;
	struct tcp_worker **tcp;
};

static bool is_wildcard(const struct model_listen *l)
{
	const struct sockaddr *sa = (const struct sockaddr *)&l->ss;
	if (sa->sa_family == AF_INET)
		return ((const struct sockaddr_in *)sa)->sin_addr.s_addr ==
			htonl(INADDR_ANY);
	return IN6_IS_ADDR_UNSPECIFIED(
		&((const struct sockaddr_in6 *)sa)->sin6_addr);
}

static void sock_error(const struct model_listen *l, int type, int e,
		       char *err, size_t errlen)
{
	const struct sockaddr *sa = (const struct sockaddr *)&l->ss;
	char host[INET6_ADDRSTRLEN];
	const void *ip = sa->sa_family == AF_INET ?
		(const void *)&((const struct sockaddr_in *)sa)->sin_addr :
		(const void *)&((const struct sockaddr_in6 *)sa)->sin6_addr;
	unsigned port = ntohs(sa->sa_family == AF_INET ?
		((const struct sockaddr_in *)sa)->sin_port :
		((const struct sockaddr_in6 *)sa)->sin6_port);

	inet_ntop(sa->sa_family, ip, host, sizeof(host));
	snprintf(err, errlen, "cannot listen on %s port %u (%s): %s", host,
		 port, type == SOCK_DGRAM ? "udp" : "tcp", strerror(e));
}

static int sock_open(const struct model_listen *l, int type, char *err,
		     size_t errlen)
{
	const struct sockaddr *sa = (const struct sockaddr *)&l->ss;
	int one = 1;
	int fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

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
		if (is_wildcard(l) &&
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
fail:
	sock_error(l, type, errno, err, errlen);
	if (fd >= 0)
		close(fd);
	return -1;
}

struct listen_set *listen_open(const struct model_server *srv,
			       unsigned workers, char *err, size_t errlen)
{
	struct listen_set *ls = xcalloc(1, sizeof(*ls));
	size_t n = srv->nlisten * workers;

	ls->nworkers = workers;
	ls->naddrs = srv->nlisten;
	ls->tcp_lim = (struct tcp_limits){
		.idle_ms = srv->tcp_idle_ms ? srv->tcp_idle_ms : 10000,
		.query_ms = srv->tcp_query_ms ? srv->tcp_query_ms : 5000,
		.lifetime_ms = srv->tcp_lifetime_ms ? srv->tcp_lifetime_ms :
			120000,
		.max_clients = srv->tcp_max_clients ? srv->tcp_max_clients :
			256,
		.max_per_source = srv->tcp_max_per_source ?
			srv->tcp_max_per_source : 16,
	};
	ls->addrs = xcalloc(srv->nlisten, sizeof(*ls->addrs));
	ls->udp_fd = xreallocarray(NULL, n, sizeof(int));
	ls->tcp_fd = xreallocarray(NULL, n, sizeof(int));
	ls->udp = xcalloc(n, sizeof(*ls->udp));
	ls->tcp = xcalloc(workers, sizeof(*ls->tcp));
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
}

unsigned listen_threads(const struct listen_set *ls)
{
	return ls->nworkers * (unsigned)(ls->naddrs + 1);
}

static uint64_t seed_for(unsigned id)
{
	return ((uint64_t)time(NULL) << 16) ^ (uint64_t)getpid() ^
		((uint64_t)(id + 1) * 0x9e3779b97f4a7c15ull);
}

int listen_start(struct listen_set *ls, struct qsbr *q, char *err,
		 size_t errlen)
{
	unsigned qid = 0;
	size_t n = (size_t)ls->nworkers * ls->naddrs;

	for (size_t i = 0; i < n; i++, qid++) {
		const struct model_listen *l = &ls->addrs[i % ls->naddrs];
		ls->udp[i] = udp_thread_new(ls->udp_fd[i], is_wildcard(l), q, qid,
					    seed_for(qid));
		if (!ls->udp[i] || udp_thread_start(ls->udp[i]) < 0) {
			snprintf(err, errlen, "cannot start a UDP thread");
			return -1;
		}
	}
	for (unsigned w = 0; w < ls->nworkers; w++, qid++) {
		int *fds = &ls->tcp_fd[(size_t)w * ls->naddrs];
		ls->tcp[w] = tcp_worker_new(fds, ls->naddrs, &ls->tcp_lim, q,
					    qid, seed_for(qid));
		for (size_t i = 0; i < ls->naddrs; i++)
			fds[i] = -1; /* the worker owns them now */
		if (!ls->tcp[w] || tcp_worker_start(ls->tcp[w]) < 0) {
			snprintf(err, errlen, "cannot start a TCP worker");
			return -1;
		}
	}
	return 0;
}

void listen_close(struct listen_set *ls)
{
	if (!ls)
		return;
	size_t n = (size_t)ls->nworkers * ls->naddrs;
	for (size_t i = 0; ls->udp && i < n; i++)
		udp_thread_free(ls->udp[i]);
	for (unsigned i = 0; ls->tcp && i < ls->nworkers; i++)
		tcp_worker_free(ls->tcp[i]);
	for (size_t i = 0; i < n; i++) {
		if (ls->udp_fd && ls->udp_fd[i] >= 0)
			close(ls->udp_fd[i]);
		if (ls->tcp_fd && ls->tcp_fd[i] >= 0)
			close(ls->tcp_fd[i]);
	}
	free(ls->udp_fd);
	free(ls->tcp_fd);
	free(ls->udp);
	free(ls->tcp);
	free(ls->addrs);
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

static void add_stats(struct answer_stats *sum, const struct answer_stats *st)
{
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
	for (int k = 0; k < ANSWER_G_MAX; k++)
		sum->guard[k] += st->guard[k];
	sum->udp_oversize += st->udp_oversize;
	for (int k = 0; k < ANSWER_TCP_CLOSE_MAX; k++)
		sum->tcp_closed[k] += st->tcp_closed[k];
	for (int k = 0; k < ANSWER_ON_MAX; k++)
		sum->online[k] += st->online[k];
}

void listen_stats(const struct listen_set *ls, struct answer_stats *sum)
{
	size_t n = (size_t)ls->nworkers * ls->naddrs;

	memset(sum, 0, sizeof(*sum));
	for (size_t i = 0; i < n; i++)
		if (ls->udp[i])
			add_stats(sum, udp_thread_stats(ls->udp[i]));
	for (unsigned i = 0; i < ls->nworkers; i++)
		if (ls->tcp[i])
			add_stats(sum, tcp_worker_stats(ls->tcp[i]));
}
