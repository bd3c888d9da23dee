/*
 * onlinesign.h -- RFC 9824 compact denial: the NSEC "NXNAME" record of a
 * name that does not exist and its RRSIGs, made on the worker thread that
 * answers, behind a per-worker cache and a per-worker token bucket.
 *
 * The compiler (control thread) makes one onsign_keys per full build and
 * puts it in the snapshot's arena: it holds its own references to the
 * signing keys (EVP_PKEY_up_ref), dropped when the last snapshot using the
 * arena is freed, so a reload that frees the model and its ldns keys
 * never pulls a key from under a worker still answering from the old
 * snapshot (QSBR).  Patches share it as they share the arena.
 *
 * Each worker owns one onsign_worker: its EVP_MD_CTX (OpenSSL 3 signs
 * with one EVP_PKEY from several threads as long as each has its own
 * context), its cache and its bucket.  Nothing here takes a lock; a cache
 * hit allocates nothing.
 */
#ifndef GSLBD_ONLINESIGN_H
#define GSLBD_ONLINESIGN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/snap.h"

/* RFC 9824: the NXNAME meta-type, in the NSEC bitmap of a compact
 * NXDOMAIN and nowhere else; a query for it gets FORMERR (3.5). */
#define ONSIGN_T_NXNAME 128
/* RFC 9824 4: "Compact Answers OK" EDNS header flag. */
#define ONSIGN_EDNS_CO 0x4000u

/* Cache slots per worker (direct-mapped by the name's hash). */
#define ONSIGN_CACHE_SLOTS 4096
/* A cached NSEC + RRSIGs is reused for at most this long (seconds). */
#define ONSIGN_REUSE 3600u
/* Signing keys per snapshot (the active zone-signing ones). */
#define ONSIGN_KEYS_MAX 4

struct ldns_struct_key;
struct onsign_keys;
struct onsign_worker;

/* For a full build (control thread): the signer for apex (lower-case
 * wire), NSEC TTL ttl, signature validity seconds, rate signatures per
 * second per worker (0: never sign online).  Lives in arena a and is
 * freed with it. */
struct onsign_keys *onsign_keys_new(struct snap_arena *a, const uint8_t *apex,
				    uint8_t apex_len, uint32_t ttl,
				    uint32_t validity, uint32_t rate);
/* Add a zone-signing key (algorithm 13 or 15); takes its own reference
 * to the key's EVP_PKEY and signs once with it, so that any lazy setup
 * OpenSSL does on first use happens here, on the control thread.
 * Returns 0, or -1 (unsupported algorithm, no EVP key, sign failed). */
int onsign_keys_add(struct onsign_keys *k, const struct ldns_struct_key *key);
unsigned onsign_keys_count(const struct onsign_keys *k);

/* A worker's state; onsign_worker_free(NULL) is fine. */
struct onsign_worker *onsign_worker_new(void);
void onsign_worker_free(struct onsign_worker *w);

enum onsign_result {
	ONSIGN_HIT,      /* from the cache */
	ONSIGN_SIGNED,   /* signed now */
	ONSIGN_FALLBACK, /* bucket empty (or rate 0, no key, no worker):
			    the caller proves NXDOMAIN with the chain */
	ONSIGN_NOROOM,   /* does not fit in room: truncate */
};

/*
 * Write the NSEC for qname (lower-case wire, qlen bytes, labels labels,
 * at offset 12 of the response so its owner is the pointer 0xc00c) with
 * next name "\000.<qname>" and types RRSIG NSEC NXNAME, then its RRSIGs,
 * at out (room bytes).  *len and *count: bytes and records written.
 * now: unix time (inception now - 1 h); mono_ms: a monotonic clock in
 * milliseconds for the bucket.
 */
enum onsign_result onsign_nxname(struct onsign_worker *w,
				 const struct onsign_keys *k,
				 const uint8_t *qname, uint8_t qlen,
				 unsigned labels, uint32_t now,
				 uint64_t mono_ms, uint8_t *out, size_t room,
				 size_t *len, uint16_t *count);

#endif
