/*
 * udp.h -- one thread per UDP socket, answering in batches: a blocking
 * recvmmsg(MSG_WAITFORONE) takes whatever has arrived, one sendmmsg sends
 * the answers.  No event loop: the socket is never registered with epoll,
 * so sending costs no write-space wakeups and waiting costs no
 * epoll_wait (the shape of gdnsd's dnsio_udp).
 */
#ifndef GSLBD_UDP_H
#define GSLBD_UDP_H

#include <stdbool.h>
#include <stdint.h>

#include "server/answer.h"

struct qsbr;
struct udp_thread;

/* fd: a bound, non-blocking UDP socket (owned by the caller).  pktinfo:
 * the socket is bound to a wildcard address and delivers the destination
 * address of each datagram (IP_PKTINFO / IPV6_RECVPKTINFO). */
struct udp_thread *udp_thread_new(int fd, bool pktinfo, struct qsbr *q,
				  unsigned qsbr_id, uint64_t seed);
int udp_thread_start(struct udp_thread *u);
/* Stop and join (within the socket's receive timeout), then free. */
void udp_thread_free(struct udp_thread *u);
const struct answer_stats *udp_thread_stats(const struct udp_thread *u);

#endif
