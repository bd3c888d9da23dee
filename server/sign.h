/*
 * sign.h -- DNSSEC signatures for the compiler (control thread only):
 * RRSIGs made with the keys config/cfg_dnssec.c loaded, rendered as the
 * wire blobs the query path appends (snap.h, struct snap_rrs).
 *
 * Signing happens when a snapshot is built or patched, never per query.
 * Each signature expires at now + validity minus up to a tenth of it
 * (jitter, so that refreshes spread out); inception is now - 1 h for
 * clocks behind ours.
 */
#ifndef GSLBD_SIGN_H
#define GSLBD_SIGN_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include <ldns/ldns.h>

#include "config/model.h"
#include "server/snap.h"

struct sign;

/*
 * Signatures kept across builds, so that a reload or a full build after
 * a Kubernetes change re-signs only the RRsets that changed.  An entry is
 * an RRset's content (records, TTL, signing key tags) and its RRSIGs; it
 * is reused while more than a third of the validity (and a hundredth) is
 * left, so that a refresh (daemon/dnssec.c, at a third left) re-signs the
 * slice of signatures that expire first, not the whole zone.  A full
 * build drops the entries it did not use.  Owned by the daemon; control
 * thread only.
 */
struct sign_cache;
struct sign_cache *sign_cache_new(void);
void sign_cache_free(struct sign_cache *c);

/* A signer for one build; d must stay alive while it is used (its keys
 * are borrowed).  NULL when d is not enabled.  cache may be NULL; full:
 * a full build (its end sweeps the cache, see sign_free). */
struct sign *sign_new(const struct model_dnssec *d, time_t now,
		      struct sign_cache *cache, bool full);
/* ok: the build succeeded; a full one then drops unused cache entries. */
void sign_free(struct sign *sg, bool ok);

/* Signatures made and taken from the cache by this signer. */
void sign_counts(const struct sign *sg, size_t *made, size_t *reused);

/* The RRSIGs over rrset (records of one owner, type and TTL): the KSKs
 * for DNSKEY, CDS and CDNSKEY, the ZSKs for anything else.  Caller frees the list.  NULL
 * when a key failed to sign. */
ldns_rr_list *sign_rrset(struct sign *sg, const ldns_rr_list *rrset);

/* BIND key timing at time now: key i of d is in the DNSKEY RRset
 * (published) / signs (active). */
bool sign_key_published(const struct model_dnssec *d, size_t i, time_t now);
bool sign_key_active(const struct model_dnssec *d, size_t i, time_t now);
/* The first timing event of any key after now (unix time), 0: none. */
uint32_t sign_next_event(const struct model_dnssec *d, time_t now);

/* The earliest expiration this signer has put in a signature (unix
 * time), UINT32_MAX when it made none. */
uint32_t sign_earliest(const struct sign *sg);

/*
 * Collect mode, for signing big builds off the control thread: a build
 * whose signer collects (sign_collect) signs nothing.  For every RRset
 * the cache misses, sign_rrset returns placeholder RRSIGs of the exact
 * size the real ones would have (so the build lays out and fails as a
 * real one would) and records a copy of the RRset as a job, once per
 * content.  The snapshot such a build makes is for throwing away, unless
 * it recorded no job; it sweeps the cache only then.
 *
 * The jobs are then signed, each by one call of sign_jobs_run, on any
 * thread (each thread with its own key list from sign_jobs_keys; the
 * jobs hold their own references to the keys, so the model may go), and
 * stored into the cache on the control thread (sign_jobs_store); the
 * build run again then finds its signatures there.
 */
struct sign_jobs;
struct sign_jobs *sign_jobs_new(void);
void sign_jobs_free(struct sign_jobs *j);
size_t sign_jobs_count(const struct sign_jobs *j);
/* sg's misses go to j (sg needs a cache). */
void sign_collect(struct sign *sg, struct sign_jobs *j);
/* Any thread: a key list of the thread's own for sign_jobs_run. */
ldns_key_list *sign_jobs_keys(const struct sign_jobs *j);
void sign_jobs_keys_free(ldns_key_list *k);
/* Any thread: sign job i (each job by one thread only). */
void sign_jobs_run(struct sign_jobs *j, size_t i, ldns_key_list *keys);
/* Control thread, once every job ran: the signatures into the cache.
 * Returns the number of jobs that failed to sign. */
size_t sign_jobs_store(struct sign_jobs *j, struct sign_cache *c);

/* Filling in: the compiler tells where the RRSIGs sign_rrset just gave
 * it went (out: sign_wire's result, the RRSIGs its last records); once
 * the jobs ran, sign_jobs_fill writes the real signatures over the
 * placeholders (the same size), making the collect build's snapshot a
 * real one without building it again.  -1: some placeholder's place is
 * unknown or a signature failed; build again. */
void sign_note_wire(struct sign *sg, const ldns_rr_list *sigs,
		    const struct snap_rrs *out);
int sign_jobs_fill(struct sign_jobs *j);
/* The signatures the jobs made, and those the collect build reused. */
void sign_jobs_counts(const struct sign_jobs *j, size_t *made,
		      size_t *reused);
/* Drop the entries the last full build did not use (a filled-in
 * collect build is complete). */
void sign_cache_sweep(struct sign_cache *c);

/* rrs as wire into the arena.  ptr: each owner is written as a pointer
 * to the question name (0xc00c), else in full, uncompressed.  ttl: when
 * non-zero, every record's TTL (negative answers shorten the SOA's).
 * Returns 0, or -1 when it does not fit in 64 KiB. */
int sign_wire(struct snap_arena *a, const ldns_rr_list *rrs, bool ptr,
	      uint32_t ttl, struct snap_rrs *out);

#endif
