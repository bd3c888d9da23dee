/*
 * rrl.h -- response rate limiting, as NSD and Knot DNS do it: answers to
 * one client prefix are counted per second in buckets that group them by
 * what they are, and past the limit they are dropped, or every slip-th
 * goes out truncated (TC=1) so that a real client behind a spoofed flood
 * still gets through over TCP.
 *
 * Grouping (NSD's): a positive answer or ANY by its query name, a
 * referral by its delegation, an answer synthesized from a DNAME by the
 * DNAME (as NSD groups wildcard answers), NXDOMAIN and NODATA by the
 * zone, every error (REFUSED, FORMERR, SERVFAIL, ...) by the source
 * alone.
 *
 * One table per UDP thread, allocated when the thread starts: lookups
 * take no lock and allocate nothing; a bucket another key hashes to is
 * taken over (the table forgets, it never grows).  TCP is not limited:
 * a TCP client has proven its address.  Queries with a valid server
 * cookie (server/cookie.h) are not limited either, for the same reason.
 */
#ifndef GSLBD_RRL_H
#define GSLBD_RRL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* The settings, as the snapshot carries them (a reload changes them
 * without touching the tables). */
struct rrl_conf {
	uint32_t rps;        /* responses per second per bucket; 0: off */
	uint32_t slip;       /* every slip-th limited answer truncated; 0: none */
	uint8_t v4_prefix, v6_prefix;
	/* derived from the above once per snapshot, not per query */
	uint32_t v4_mask;    /* network byte order */
	uint64_t v6_mask[2]; /* as the address's bytes lie in memory */
	uint32_t apex_hash;  /* the group of NXDOMAIN and NODATA */
	uint32_t nexempt;
	const struct model_net *exempt; /* never limited */
};

/* How an answer is grouped. */
enum rrl_kind {
	RRL_K_POSITIVE = 1, RRL_K_ANY, RRL_K_REFERRAL, RRL_K_NODATA,
	RRL_K_NXDOMAIN, RRL_K_ERROR, RRL_K_DNAME,
};

/* What the answer writer records about the answer it just wrote, for
 * rate limiting to decide on and, if need be, to cut it down. */
struct rrl_facts {
	uint8_t kind;      /* enum rrl_kind */
	uint8_t cookie;    /* enum cookie_state */
	uint16_t qlen;     /* header and question */
	uint16_t opt;      /* offset of the OPT record; 0: none */
	uint32_t name;     /* hash of the name that groups it (0 for errors) */
};

enum rrl_verdict { RRL_PASS = 0, RRL_SLIP, RRL_DROP };

struct rrl_table;

/* 2^bits buckets (control plane; aborts on out of memory). */
struct rrl_table *rrl_table_new(unsigned bits, uint64_t seed);
void rrl_table_free(struct rrl_table *t);

/* Count the answer f to client `from` at second now; say whether it may
 * go out, go out truncated, or not at all. */
enum rrl_verdict rrl_check(struct rrl_table *t, const struct rrl_conf *c,
			   const struct sockaddr *from,
			   const struct rrl_facts *f, uint32_t now);

/* Cut the response out[0..len) down to its header, question and OPT:
 * TC=1, or BADCOOKIE when the client sent a cookie without a valid server
 * cookie (RFC 7873 5.2.3 lets rate limiting answer so; the fresh server
 * cookie in the OPT is what lets the client through next time).
 * Returns the new length. */
size_t rrl_slip(uint8_t *out, size_t len, const struct rrl_facts *f);

/* Fill the masks from v4_prefix and v6_prefix (rrl_conf_build does). */
void rrl_conf_masks(struct rrl_conf *c);

/* Control plane: the settings the config gives, the exempt prefixes
 * copied into the snapshot's arena a.  -1 when that is out of memory.
 * apex_hash is the caller's to fill. */
struct model_rrl;
struct model_net;
struct snap_arena;
int rrl_conf_build(struct rrl_conf *c, const struct model_rrl *m,
		   struct snap_arena *a);

#endif
