/*
 * tcp.h -- DNS over TCP (RFC 7766) on a libevent loop per worker thread:
 * length-prefixed messages, pipelined queries answered in order, an idle
 * timeout, a cap on open connections, and a stop reading clients that
 * do not read their answers.
 *
 * Slow and greedy clients (RFC 7766 sections 6.2.3 and 10): a message
 * begun must be whole within a deadline however the bytes trickle in, a
 * connection lives at most so long, one client address holds at most so
 * many connections, and when every slot is taken the least recently used
 * idle connection is closed to make room for the new one.
 */
#ifndef GSLBD_TCP_H
#define GSLBD_TCP_H

#include <stddef.h>
#include <stdint.h>

#include "server/answer.h"

struct qsbr;
struct tcp_worker;

struct tcp_limits {
	uint32_t idle_ms;        /* nothing pending: close after this */
	uint32_t query_ms;       /* a message begun must be whole within */
	uint32_t lifetime_ms;    /* close after this, whatever the client does */
	uint32_t max_clients;    /* open connections in this worker */
	uint32_t max_per_source; /* of them from one client address */
};

/* fds: listening sockets; the worker owns them from here on (closed by
 * tcp_worker_free, even when this fails). */
struct tcp_worker *tcp_worker_new(int *fds, size_t nfds,
				  const struct tcp_limits *lim, struct qsbr *q,
				  unsigned qsbr_id, uint64_t seed);
int tcp_worker_start(struct tcp_worker *w);
/* Stop, join, close every connection and listener, free. */
void tcp_worker_free(struct tcp_worker *w);
const struct answer_stats *tcp_worker_stats(const struct tcp_worker *w);

#endif
