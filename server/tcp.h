/*
 * tcp.h -- DNS over TCP (RFC 7766) on a libevent loop per worker thread:
 * length-prefixed messages, pipelined queries answered in order, an idle
 * timeout, a cap on open connections, and a stop reading clients that
 * do not read their answers.
 */
#ifndef GSLBD_TCP_H
#define GSLBD_TCP_H

#include <stddef.h>
#include <stdint.h>

#include "server/answer.h"

struct qsbr;
struct tcp_worker;

/* fds: listening sockets; the worker owns them from here on (closed by
 * tcp_worker_free, even when this fails). */
struct tcp_worker *tcp_worker_new(int *fds, size_t nfds, uint32_t idle_ms,
				  uint32_t max_clients, struct qsbr *q,
				  unsigned qsbr_id, uint64_t seed);
int tcp_worker_start(struct tcp_worker *w);
/* Stop, join, close every connection and listener, free. */
void tcp_worker_free(struct tcp_worker *w);
const struct answer_stats *tcp_worker_stats(const struct tcp_worker *w);

#endif
