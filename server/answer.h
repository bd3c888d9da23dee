/*
 * answer.h -- turn one query packet into one response packet, from the
 * current snapshot.  The query path: no allocation, no locks, no ldns.
 */
#ifndef GSLBD_ANSWER_H
#define GSLBD_ANSWER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "server/snap.h"

struct onsign_worker;

/* Per-worker counters: plain integers, each written by one thread only;
 * readers (metrics) tolerate a torn read of a counter in progress. */
enum { ANSWER_QT_A, ANSWER_QT_AAAA, ANSWER_QT_NS, ANSWER_QT_SOA,
       ANSWER_QT_ANY, ANSWER_QT_TXT, ANSWER_QT_OTHER, ANSWER_QT_MAX };
#define ANSWER_RCODES 24

/* Rate limiting and cookie counters (server/rrl.h, server/cookie.h). */
enum { ANSWER_G_RRL_LIMITED, ANSWER_G_RRL_SLIPPED, ANSWER_G_RRL_DROPPED,
       ANSWER_G_COOKIE_CLIENT, ANSWER_G_COOKIE_VALID, ANSWER_G_MAX };
/* RFC 9824 compact denial (server/onlinesign.h): NXDOMAIN proofs signed
 * online, served from the worker's cache, or proven with the chain
 * because the worker's token bucket was empty. */
enum { ANSWER_ON_SIGNED, ANSWER_ON_HIT, ANSWER_ON_FALLBACK, ANSWER_ON_MAX };
/* Why the server closed a TCP connection (counted in answer_stats). */
enum answer_tcp_close {
	ANSWER_TCP_IDLE,      /* tcp-idle-timeout with nothing pending */
	ANSWER_TCP_SLOW,      /* a message not complete in tcp-query-timeout */
	ANSWER_TCP_LIFETIME,  /* tcp-max-lifetime reached */
	ANSWER_TCP_EVICTED,   /* the least recently used, to make room */
	ANSWER_TCP_REFUSED,   /* no room: refused at accept */
	ANSWER_TCP_PER_SOURCE, /* refused: tcp-max-per-source reached */
	ANSWER_TCP_MALFORMED, /* a message got no answer: framing lost */
	ANSWER_TCP_CLOSE_MAX
};

struct answer_stats {
	uint64_t udp, tcp;
	uint64_t qtype[ANSWER_QT_MAX];
	uint64_t rcode[ANSWER_RCODES];
	uint64_t truncated;
	uint64_t dropped;
	uint64_t edns;
	uint64_t ecs;
	uint64_t guard[ANSWER_G_MAX];
	/* Connection hardening (server/udp.c, server/tcp.c). */
	uint64_t udp_oversize;   /* datagrams over 4096 bytes, dropped */
	uint64_t tcp_closed[ANSWER_TCP_CLOSE_MAX]; /* by enum answer_tcp_close */
	uint64_t online[ANSWER_ON_MAX]; /* by ANSWER_ON_* */
};

struct answer_ctx {
	uint32_t rot;      /* rotation of address answers */
	uint64_t rng;      /* xorshift state for weighted choice */
	struct answer_stats st;
	struct rrl_facts last; /* about the answer answer_query just wrote */
	/* Compact denial's signer, cache and bucket; owned by the worker
	 * (NULL: compact answers always fall back to the chain). */
	struct onsign_worker *onsign;
};

void answer_ctx_init(struct answer_ctx *c, uint64_t seed);

/* Answer the query in pkt[0..len) from snapshot s.  from: the client's
 * address (topology without ECS).  tcp: no 512/EDNS size limit.  Writes
 * at most outmax bytes (>= 512; 65535 for TCP).  Returns the response
 * length, or 0 when the packet deserves no answer. */
size_t answer_query(struct answer_ctx *c, const struct snap *s,
		    const uint8_t *pkt, size_t len, const struct sockaddr *from,
		    bool tcp, uint8_t *out, size_t outmax);

#endif
