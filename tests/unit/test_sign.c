/* test_sign.c -- collect mode (sign.h) and the signer pool (signpool.h):
 * placeholders as large as real signatures, jobs only for cache misses,
 * each RRset once; the pool's signatures verify, land in the cache, and
 * outlive the model's keys. */
#include "config.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>

#include "server/sign.h"
#include "server/signpool.h"
#include "server/snap.h"
#include "tap.h"

#define APEX "z.test."

static ldns_key *make_key(uint16_t flags, ldns_rr_list *dnskeys)
{
	ldns_key *k = ldns_key_new_frm_algorithm(LDNS_SIGN_ECDSAP256SHA256, 256);

	if (!k)
		abort();
	ldns_key_set_pubkey_owner(k, ldns_dname_new_frm_str(APEX));
	ldns_key_set_flags(k, flags);
	ldns_rr *rr = ldns_key2rr(k);
	ldns_key_set_keytag(k, ldns_calc_keytag(rr));
	ldns_rr_list_push_rr(dnskeys, rr);
	return k;
}

static void make_dnssec(struct model_dnssec *d)
{
	memset(d, 0, sizeof(*d));
	d->enabled = true;
	d->validity = 14 * 86400;
	d->keys = ldns_key_list_new();
	d->dnskeys = ldns_rr_list_new();
	ldns_key_list_push_key(d->keys, make_key(257, d->dnskeys));
	ldns_key_list_push_key(d->keys, make_key(256, d->dnskeys));
	d->nkeys = 2;
	d->key_paths = calloc(2, sizeof(*d->key_paths));
	d->ksk_mask = 1;
	d->zsk_mask = 2;
}

/* An A RRset: owner <label><i>, address <net>.<i & 0xff>. */
static ldns_rr_list *rrset(const char *label, const char *net, unsigned i)
{
	char buf[256];
	ldns_rr *rr = NULL;
	ldns_rr_list *l = ldns_rr_list_new();

	snprintf(buf, sizeof(buf), "%s%u." APEX " 300 IN A %s.%u", label, i,
		 net, i & 0xff);
	if (ldns_rr_new_frm_str(&rr, buf, 300, NULL, NULL) != LDNS_STATUS_OK)
		abort();
	ldns_rr_list_push_rr(l, rr);
	return l;
}

static size_t wire_len(const ldns_rr_list *l)
{
	size_t n = 0;

	for (size_t i = 0; l && i < ldns_rr_list_rr_count(l); i++)
		n += ldns_rr_uncompressed_size(ldns_rr_list_rr(l, i));
	return n;
}

/* Every signature of sigs verifies over set with one of the keys. */
static bool verifies(ldns_rr_list *set, ldns_rr_list *sigs,
		     ldns_rr_list *dnskeys)
{
	if (!sigs || !ldns_rr_list_rr_count(sigs))
		return false;
	for (size_t i = 0; i < ldns_rr_list_rr_count(sigs); i++) {
		bool one = false;
		for (size_t k = 0; k < ldns_rr_list_rr_count(dnskeys); k++)
			one |= ldns_verify_rrsig(set, ldns_rr_list_rr(sigs, i),
				ldns_rr_list_rr(dnskeys, k)) == LDNS_STATUS_OK;
		if (!one)
			return false;
	}
	return true;
}

static atomic_int done_calls;
static void on_done(void *arg)
{
	(void)arg;
	atomic_fetch_add(&done_calls, 1);
}

#define NSETS 300

int main(void)
{
	struct model_dnssec d;
	time_t now = time(NULL);
	struct sign_cache *cache = sign_cache_new();
	ldns_rr_list *sets[NSETS];

	make_dnssec(&d);
	for (unsigned i = 0; i < NSETS; i++)
		sets[i] = rrset("n", "192.0.2", i);
	ldns_rr_list *dnskey = ldns_rr_list_clone(d.dnskeys);

	/* Placeholders: the size of the real thing, signing nothing. */
	struct sign *real = sign_new(&d, now, NULL, false);
	struct sign_jobs *j = sign_jobs_new();
	struct sign *sg = sign_new(&d, now, cache, true);
	sign_collect(sg, j);
	bool sizes = true;
	for (unsigned i = 0; i < NSETS; i++) {
		ldns_rr_list *p = sign_rrset(sg, sets[i]);
		ldns_rr_list *r = sign_rrset(real, sets[i]);
		sizes &= p && r && ldns_rr_list_rr_count(p) == 1 &&
			wire_len(p) == wire_len(r);
		ldns_rr_list_deep_free(p);
		ldns_rr_list_deep_free(r);
	}
	ok(sizes, "placeholder RRSIGs are as large as real ones (ZSK)");
	ldns_rr_list *p = sign_rrset(sg, dnskey);
	ldns_rr_list *r = sign_rrset(real, dnskey);
	ok(p && r && wire_len(p) == wire_len(r) &&
	   ldns_rr_list_rr_count(p) == 1, "and for the DNSKEY RRset (KSK)");
	ok(!verifies(dnskey, p, d.dnskeys), "a placeholder is no signature");
	ldns_rr_list_deep_free(p);
	ldns_rr_list_deep_free(r);
	p = sign_rrset(sg, sets[7]); /* again: one job per content */
	ldns_rr_list_deep_free(p);
	is_int(sign_jobs_count(j), NSETS + 1, "one job per missed RRset");
	size_t made, reused;
	sign_counts(sg, &made, &reused);
	is_int(made, 0, "collect mode signs nothing");
	sign_free(sg, true);
	sign_free(real, true);

	/* The pool signs with its own key references: the model's go. */
	ldns_rr_list *pub = ldns_rr_list_clone(d.dnskeys);
	model_dnssec_clear(&d);
	memset(&d, 0, sizeof(d));
	struct signpool *pool = signpool_new(3);
	ok(pool && signpool_threads(pool) == 3, "three signer threads");
	ok(signpool_start(pool, j, on_done, NULL) == 0, "batch started");
	signpool_wait(pool);
	ok(!signpool_busy(pool), "batch done");
	is_int(atomic_load(&done_calls), 1, "done called once");
	is_int(sign_jobs_store(j, cache), 0, "every job signed");
	sign_jobs_free(j);

	sign_cache_free(cache);
	ldns_rr_list_deep_free(pub);

	/* Again with keys alive: a fresh cache, jobs, pool, verify. */
	make_dnssec(&d);
	cache = sign_cache_new();
	j = sign_jobs_new();
	sg = sign_new(&d, now, cache, true);
	sign_collect(sg, j);
	for (unsigned i = 0; i < NSETS; i++)
		ldns_rr_list_deep_free(sign_rrset(sg, sets[i]));
	sign_free(sg, true);
	ok(signpool_start(pool, j, on_done, NULL) == 0, "second batch");
	signpool_wait(pool);
	is_int(sign_jobs_store(j, cache), 0, "every job signed");
	sign_jobs_free(j);
	j = sign_jobs_new();
	sg = sign_new(&d, now, cache, true);
	sign_collect(sg, j);
	bool good = true;
	for (unsigned i = 0; i < NSETS; i++) {
		ldns_rr_list *s = sign_rrset(sg, sets[i]);
		good &= verifies(sets[i], s, d.dnskeys);
		ldns_rr_list_deep_free(s);
	}
	ok(good, "the pool's signatures verify (ldns_verify_rrsig)");
	is_int(sign_jobs_count(j), 0, "no job: every RRset was cached");
	ldns_rr_list *extra = rrset("new", "198.51.100", 1);
	ldns_rr_list_deep_free(sign_rrset(sg, extra));
	is_int(sign_jobs_count(j), 1, "a new RRset is the only job");
	sign_free(sg, true);
	sign_jobs_free(j);
	ldns_rr_list_deep_free(extra);

	/* Filling in: placeholders laid out as wire, the jobs signed, the
	 * real signatures written over them: the wire then verifies. */
	struct snap_arena *ar = snap_arena_new();
	struct snap *sn = snap_alloc(ar, sizeof(*sn));
	sn->arena = sn->arenas[0] = ar;
	sn->narenas = 1;
	struct sign_cache *c3 = sign_cache_new();
	struct snap_rrs outs[5]; /* the fifth: the first's content again */
	j = sign_jobs_new();
	sg = sign_new(&d, now, c3, true);
	sign_collect(sg, j);
	for (unsigned i = 0; i < 5; i++) {
		ldns_rr_list *l = sign_rrset(sg, sets[i % 4]);
		ok(l && sign_wire(ar, l, false, 0, &outs[i]) == 0, "laid out");
		sign_note_wire(sg, l, &outs[i]);
		ldns_rr_list_deep_free(l);
	}
	sign_free(sg, true);
	ok(sign_jobs_fill(j) < 0, "nothing to fill in before signing");
	ldns_key_list *kl = sign_jobs_keys(j);
	for (size_t i = 0; i < sign_jobs_count(j); i++)
		sign_jobs_run(j, i, kl);
	sign_jobs_keys_free(kl);
	ok(sign_jobs_fill(j) == 0, "filled in");
	good = true;
	for (unsigned i = 0; i < 5; i++) {
		ldns_rr_list *l = ldns_rr_list_new();
		size_t pos = 0;
		ldns_rr *rr;
		while (pos < outs[i].len &&
		       ldns_wire2rr(&rr, outs[i].wire, outs[i].len, &pos,
				    LDNS_SECTION_ANSWER) == LDNS_STATUS_OK)
			ldns_rr_list_push_rr(l, rr);
		good &= verifies(sets[i % 4], l, d.dnskeys);
		ldns_rr_list_deep_free(l);
	}
	ok(good, "the filled-in wire verifies, content met twice too");
	sign_jobs_counts(j, &made, &reused);
	is_int(made, 4, "four signatures made");
	sign_jobs_free(j);
	/* A placeholder whose place was not told: no filling in. */
	j = sign_jobs_new();
	sg = sign_new(&d, now, c3, true);
	sign_collect(sg, j);
	ldns_rr_list_deep_free(sign_rrset(sg, sets[9]));
	sign_free(sg, true);
	kl = sign_jobs_keys(j);
	sign_jobs_run(j, 0, kl);
	sign_jobs_keys_free(kl);
	ok(sign_jobs_fill(j) < 0, "an unplaced placeholder refuses filling in");
	sign_jobs_free(j);
	sign_cache_free(c3);
	snap_free(sn);

	/* Freed with a batch in flight: abandoned between jobs, joined;
	 * the jobs stay the caller's (no leak, no use after free). */
	struct sign_cache *c2 = sign_cache_new();
	j = sign_jobs_new();
	sg = sign_new(&d, now, c2, true);
	sign_collect(sg, j);
	for (unsigned i = 0; i < NSETS; i++)
		ldns_rr_list_deep_free(sign_rrset(sg, sets[i]));
	sign_free(sg, true);
	is_int(sign_jobs_count(j), NSETS, "jobs for the other time's RRsets");
	struct signpool *p2 = signpool_new(2);
	signpool_start(p2, j, NULL, NULL);
	signpool_free(p2);
	sign_jobs_free(j);
	sign_cache_free(c2);

	signpool_free(pool);
	sign_cache_free(cache);
	model_dnssec_clear(&d);
	for (unsigned i = 0; i < NSETS; i++)
		ldns_rr_list_deep_free(sets[i]);
	ldns_rr_list_deep_free(dnskey);
	return tap_done();
}
