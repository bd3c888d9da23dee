/*
 * listen.h -- the data plane: the sockets and the threads that answer on
 * them.  Each worker has its own SO_REUSEPORT copy of every configured
 * address, UDP and TCP, so the kernel spreads clients over workers, and
 * shares nothing with the others but the published snapshot.
 *
 * UDP: one thread per socket, blocking in recvmmsg and answering each
 * batch with sendmmsg, with no event loop (server/udp.h).  TCP: one
 * thread per worker running a libevent loop over all of that worker's
 * listeners and connections (server/tcp.h).
 */
#ifndef GSLBD_LISTEN_H
#define GSLBD_LISTEN_H

#include <stddef.h>

#include "config/model.h"
#include "server/answer.h"

struct listen_set;
struct qsbr;

/* Open and bind every socket (before privileges are dropped).
 * Returns NULL with a message in err. */
struct listen_set *listen_open(const struct model_server *srv,
			       unsigned workers, char *err, size_t errlen);

/* How many data-plane threads listen_start runs (QSBR slots). */
unsigned listen_threads(const struct listen_set *ls);

/* Start the worker threads.  Returns 0 or -1 (err). */
int listen_start(struct listen_set *ls, struct qsbr *q, char *err,
		 size_t errlen);

/* Stop and join the workers, close the sockets, free.  NULL is fine. */
void listen_close(struct listen_set *ls);

/* Same addresses, ports and settings a restart would need? */
int listen_same(const struct listen_set *ls, const struct model_server *srv);

/* Sum of every worker's counters (approximate while running). */
void listen_stats(const struct listen_set *ls, struct answer_stats *sum);

#endif
