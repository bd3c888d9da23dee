/* sign.c -- RRSIGs through ldns for the compiler (sign.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "lib/log.h"
#include "lib/rand.h"
#include "lib/xalloc.h"
#include "server/sign.h"

struct cache_entry {
	struct cache_entry *next;
	uint8_t key[32];     /* SHA-256 of the RRset content and keys */
	uint32_t expire;     /* the earliest of its signatures */
	uint64_t gen;        /* the last build that used it */
	uint16_t len;
	uint8_t wire[];      /* the RRSIGs, uncompressed */
};

struct sign_cache {
	struct cache_entry **tab;
	size_t mask, n;
	uint64_t gen;
};

struct sign {
	/* Views of the model's key list: they borrow its keys, so they are
	 * emptied before they are freed. */
	ldns_key_list *ksk, *zsk;
	uint32_t inception, expiration, jitter, validity;
	uint32_t earliest;
	uint64_t rng;
	time_t now;
	struct sign_cache *cache;
	bool full;
	size_t made, reused;
	/* Collect mode: misses become jobs and placeholders. */
	struct sign_jobs *collect;
	const struct model_dnssec *d;
	uint32_t ksk_bits, zsk_bits;
};

struct sign_job {
	ldns_rr_list *rrset;  /* a deep copy, freed once signed */
	uint32_t keys;        /* bits into the batch's key list */
	uint32_t expire;
	uint8_t key[32];      /* its cache key */
	uint8_t *sigs;        /* the RRSIGs as the cache keeps them (wire), */
	uint16_t len;         /* made by a signer thread; NULL: failed */
	uint16_t nsig;
};

/* Where a placeholder signature lies in the collect build's snapshot:
 * filled in place when the real one is made (same size). */
struct sign_fix {
	uint8_t *dst;
	uint32_t job;
	uint16_t k;     /* the job's k-th RRSIG */
	uint16_t rdlen; /* the placeholder's */
};

struct sign_jobs {
	struct sign_job *v;
	size_t n, cap;
	/* The cache keys recorded, so an RRset met twice is signed once:
	 * open addressing, 1 + job index. */
	uint32_t *seen;
	size_t seen_mask;
	uint32_t inception;
	/* Shells over the model's EVP keys (up-ref'd): the batch outlives
	 * a reload freeing the model. */
	ldns_key_list *keys;
	/* The placeholders handed out (nplace) and those whose place in
	 * the snapshot the compiler told (fix); the last handed out. */
	struct sign_fix *fix;
	size_t nfix, capfix, nplace;
	const ldns_rr_list *last;
	uint32_t last_job;
	size_t reused;  /* signatures the collect build took from the cache */
};

struct sign_cache *sign_cache_new(void)
{
	struct sign_cache *c = xcalloc(1, sizeof(*c));

	c->mask = 1023;
	c->tab = xcalloc(c->mask + 1, sizeof(*c->tab));
	return c;
}

void sign_cache_free(struct sign_cache *c)
{
	if (!c)
		return;
	for (size_t i = 0; i <= c->mask; i++)
		while (c->tab[i]) {
			struct cache_entry *e = c->tab[i];
			c->tab[i] = e->next;
			free(e);
		}
	free(c->tab);
	free(c);
}

static size_t cache_slot(const struct sign_cache *c, const uint8_t *key)
{
	size_t h;

	memcpy(&h, key, sizeof(h));
	return h & c->mask;
}

static void cache_grow(struct sign_cache *c)
{
	size_t size = (c->mask + 1) * 2;
	struct cache_entry **t = xcalloc(size, sizeof(*t));
	struct sign_cache n = { .tab = t, .mask = size - 1 };

	for (size_t i = 0; i <= c->mask; i++)
		while (c->tab[i]) {
			struct cache_entry *e = c->tab[i];
			c->tab[i] = e->next;
			size_t k = cache_slot(&n, e->key);
			e->next = t[k];
			t[k] = e;
		}
	free(c->tab);
	c->tab = t;
	c->mask = size - 1;
}

/* Entries the last full build did not use go. */
static void cache_sweep(struct sign_cache *c)
{
	for (size_t i = 0; i <= c->mask; i++) {
		struct cache_entry **pp = &c->tab[i];
		while (*pp) {
			struct cache_entry *e = *pp;
			if (e->gen == c->gen) {
				pp = &e->next;
				continue;
			}
			*pp = e->next;
			free(e);
			c->n--;
		}
	}
}

/* SHA-256 fetched once: EVP_sha256() in EVP_Digest looks the algorithm
 * up by name under a lock on every call, which a build of 300,000 RRsets
 * pays 600,000 times while the signer threads take the same lock.
 * Control thread only. */
static const EVP_MD *cache_md(EVP_MD_CTX **ctx)
{
	static EVP_MD *md;
	static EVP_MD_CTX *c;

	if (!md && !(md = EVP_MD_fetch(NULL, "SHA256", NULL)))
		xalloc_die(64);
	if (!c && !(c = EVP_MD_CTX_new()))
		xalloc_die(64);
	*ctx = c;
	return md;
}

/* The content an RRSIG depends on, whatever the order of the records:
 * per-record digests summed lane by lane, then the keys' tags. */
static void cache_key(const ldns_rr_list *rrset, const ldns_key_list *keys,
		      uint8_t out[32])
{
	uint64_t acc[4] = { 0 };
	uint8_t d[32];
	unsigned dl = 0;
	EVP_MD_CTX *ctx;
	const EVP_MD *md = cache_md(&ctx);

	for (size_t i = 0; i < ldns_rr_list_rr_count(rrset); i++) {
		uint8_t *w = NULL;
		size_t n = 0;
		if (ldns_rr2wire(&w, ldns_rr_list_rr(rrset, i),
				 LDNS_SECTION_ANSWER, &n) != LDNS_STATUS_OK)
			n = 0;
		EVP_Digest(w, n, d, &dl, md, NULL);
		free(w);
		for (size_t k = 0; k < 4; k++) {
			uint64_t v;
			memcpy(&v, d + 8 * k, 8);
			acc[k] += v;
		}
	}
	EVP_DigestInit_ex(ctx, md, NULL);
	EVP_DigestUpdate(ctx, acc, sizeof(acc));
	size_t cnt = ldns_rr_list_rr_count(rrset);
	EVP_DigestUpdate(ctx, &cnt, sizeof(cnt));
	for (size_t i = 0; i < ldns_key_list_key_count(keys); i++) {
		uint16_t tag = ldns_key_keytag(ldns_key_list_key(keys, i));
		EVP_DigestUpdate(ctx, &tag, sizeof(tag));
	}
	EVP_DigestFinal_ex(ctx, out, &dl);
}

static struct cache_entry *cache_find(struct sign_cache *c,
				      const uint8_t *key)
{
	for (struct cache_entry *e = c->tab[cache_slot(c, key)]; e; e = e->next)
		if (!memcmp(e->key, key, 32))
			return e;
	return NULL;
}

static ldns_rr_list *cache_sigs(const struct cache_entry *e)
{
	ldns_rr_list *l = ldns_rr_list_new();
	size_t pos = 0;

	if (!l)
		xalloc_die(sizeof(ldns_rr_list));
	while (pos < e->len) {
		ldns_rr *rr = NULL;
		if (ldns_wire2rr(&rr, e->wire, e->len, &pos,
				 LDNS_SECTION_ANSWER) != LDNS_STATUS_OK) {
			ldns_rr_list_deep_free(l);
			return NULL;
		}
		if (!ldns_rr_list_push_rr(l, rr))
			xalloc_die(sizeof(rr));
	}
	return l;
}

/* sigs as the cache keeps them, into buf (4096 bytes); 0 when they do
 * not fit (then not cached: signed again next time). */
static size_t sigs_wire(const ldns_rr_list *sigs, uint8_t *buf)
{
	size_t len = 0;

	for (size_t i = 0; i < ldns_rr_list_rr_count(sigs); i++) {
		uint8_t *w = NULL;
		size_t n = 0;
		if (ldns_rr2wire(&w, ldns_rr_list_rr(sigs, i),
				 LDNS_SECTION_ANSWER, &n) != LDNS_STATUS_OK ||
		    len + n > 4096) {
			free(w);
			return 0;
		}
		memcpy(buf + len, w, n);
		len += n;
		free(w);
	}
	return len;
}

static void cache_put_wire(struct sign_cache *c, const uint8_t *key,
			   const uint8_t *buf, size_t len, uint32_t expire)
{
	struct cache_entry *e = cache_find(c, key);
	if (e) { /* stale: replace it */
		struct cache_entry **pp = &c->tab[cache_slot(c, key)];
		while (*pp != e)
			pp = &(*pp)->next;
		*pp = e->next;
		free(e);
		c->n--;
	}
	if (c->n + 1 > c->mask + 1)
		cache_grow(c);
	e = xmalloc(sizeof(*e) + len);
	memcpy(e->key, key, 32);
	e->expire = expire;
	e->gen = c->gen;
	e->len = (uint16_t)len;
	memcpy(e->wire, buf, len);
	size_t k = cache_slot(c, key);
	e->next = c->tab[k];
	c->tab[k] = e;
	c->n++;
}

static void cache_put(struct sign_cache *c, const uint8_t *key,
		      const ldns_rr_list *sigs, uint32_t expire)
{
	uint8_t buf[4096];
	size_t len = sigs_wire(sigs, buf);

	if (len)
		cache_put_wire(c, key, buf, len, expire);
}

void sign_cache_sweep(struct sign_cache *c)
{
	cache_sweep(c);
}

bool sign_key_published(const struct model_dnssec *d, size_t i, time_t now)
{
	const struct model_key_time *t = d->times ? &d->times[i] : NULL;

	return !t || ((!t->publish || now >= t->publish) &&
		      (!t->delete_ || now < t->delete_));
}

bool sign_key_active(const struct model_dnssec *d, size_t i, time_t now)
{
	const struct model_key_time *t = d->times ? &d->times[i] : NULL;

	return sign_key_published(d, i, now) &&
		(!t || ((!t->activate || now >= t->activate) &&
			(!t->inactive || now < t->inactive)));
}

uint32_t sign_next_event(const struct model_dnssec *d, time_t now)
{
	int64_t next = 0;

	for (size_t i = 0; d->times && i < d->nkeys; i++) {
		const struct model_key_time *t = &d->times[i];
		int64_t v[] = { t->publish, t->activate, t->inactive, t->delete_ };
		for (size_t j = 0; j < 4; j++)
			if (v[j] > now && (!next || v[j] < next))
				next = v[j];
	}
	return next > UINT32_MAX ? UINT32_MAX : (uint32_t)next;
}

static ldns_key_list *key_view(ldns_key_list *all, uint32_t mask)
{
	ldns_key_list *l = ldns_key_list_new();

	if (!l)
		xalloc_die(sizeof(*l));
	for (size_t i = 0; i < ldns_key_list_key_count(all); i++)
		if (mask & (1u << i))
			ldns_key_list_push_key(l, ldns_key_list_key(all, i));
	return l;
}

static void key_view_free(ldns_key_list *l)
{
	if (!l)
		return;
	ldns_key_list_set_key_count(l, 0);
	ldns_key_list_free(l);
}

struct sign *sign_new(const struct model_dnssec *d, time_t now,
		      struct sign_cache *cache, bool full)
{
	if (!d || !d->enabled)
		return NULL;
	struct sign *sg = xcalloc(1, sizeof(*sg));
	uint32_t active = 0;
	for (size_t i = 0; i < d->nkeys; i++)
		if (sign_key_active(d, i, now))
			active |= 1u << i;
	sg->ksk = key_view(d->keys, d->ksk_mask & active);
	sg->zsk = key_view(d->keys, d->zsk_mask & active);
	sg->ksk_bits = d->ksk_mask & active;
	sg->zsk_bits = d->zsk_mask & active;
	sg->d = d;
	sg->inception = (uint32_t)now - 3600;
	sg->expiration = (uint32_t)now + d->validity;
	sg->jitter = d->validity / 10;
	sg->validity = d->validity;
	sg->earliest = UINT32_MAX;
	sg->now = now;
	sg->cache = cache;
	sg->full = full;
	if (cache && full)
		cache->gen++;
	sg->rng = (uint64_t)now * 0x9e3779b97f4a7c15ull | 1;
	return sg;
}

void sign_free(struct sign *sg, bool ok)
{
	if (!sg)
		return;
	/* A collect build that found every signature cached used exactly
	 * what a real build would: it may sweep. */
	if (sg->cache && sg->full && ok &&
	    (!sg->collect || !sg->collect->n))
		cache_sweep(sg->cache);
	if (sg->collect)
		sg->collect->reused += sg->reused;
	key_view_free(sg->ksk);
	key_view_free(sg->zsk);
	free(sg);
}

void sign_counts(const struct sign *sg, size_t *made, size_t *reused)
{
	*made = sg ? sg->made : 0;
	*reused = sg ? sg->reused : 0;
}

uint32_t sign_earliest(const struct sign *sg)
{
	return sg ? sg->earliest : UINT32_MAX;
}

/* --- collect mode ---------------------------------------------------- */

struct sign_jobs *sign_jobs_new(void)
{
	struct sign_jobs *j = xcalloc(1, sizeof(*j));

	j->seen_mask = 1023;
	j->seen = xcalloc(j->seen_mask + 1, sizeof(*j->seen));
	return j;
}

void sign_jobs_free(struct sign_jobs *j)
{
	if (!j)
		return;
	for (size_t i = 0; i < j->n; i++) {
		ldns_rr_list_deep_free(j->v[i].rrset);
		free(j->v[i].sigs);
	}
	free(j->v);
	free(j->fix);
	free(j->seen);
	if (j->keys)
		ldns_key_list_free(j->keys);
	free(j);
}

size_t sign_jobs_count(const struct sign_jobs *j)
{
	return j ? j->n : 0;
}

void sign_collect(struct sign *sg, struct sign_jobs *j)
{
	if (sg)
		sg->collect = j;
}

/* A shell over k's EVP key: what ldns_sign_public reads, and a
 * validity period of its own.  Frees with ldns_key_deep_free. */
static ldns_key *key_shell(const ldns_key *k)
{
	ldns_key *c = ldns_key_new();
	EVP_PKEY *e = ldns_key_evp_key(k);
	ldns_rdf *owner = ldns_rdf_clone(ldns_key_pubkey_owner(k));

	if (!c || !owner || EVP_PKEY_up_ref(e) != 1)
		xalloc_die(sizeof(ldns_key));
	ldns_key_set_algorithm(c, ldns_key_algorithm(k));
	ldns_key_set_evp_key(c, e);
	ldns_key_set_flags(c, ldns_key_flags(k));
	ldns_key_set_keytag(c, ldns_key_keytag(k));
	ldns_key_set_pubkey_owner(c, owner);
	ldns_key_set_use(c, ldns_key_use(k));
	return c;
}

static ldns_key_list *keys_clone(const ldns_key_list *all)
{
	ldns_key_list *l = ldns_key_list_new();

	if (!l)
		xalloc_die(sizeof(*l));
	for (size_t i = 0; i < ldns_key_list_key_count(all); i++)
		if (!ldns_key_list_push_key(l, key_shell(
				ldns_key_list_key(all, i))))
			xalloc_die(sizeof(ldns_key *));
	return l;
}

ldns_key_list *sign_jobs_keys(const struct sign_jobs *j)
{
	return keys_clone(j->keys);
}

void sign_jobs_keys_free(ldns_key_list *k)
{
	if (k)
		ldns_key_list_free(k);
}

/* Signature bytes of the supported algorithms (13, 15): a placeholder
 * must be as long as the real thing. */
#define SIG_BYTES 64

/* What sign_rrset would return, but with zero signatures: the build
 * lays out the same bytes and fails where a real one would. */
static ldns_rr_list *placeholder(const ldns_rr_list *rrset,
				 ldns_key_list *keys, uint32_t inception,
				 uint32_t exp)
{
	static const uint8_t zero[SIG_BYTES];
	ldns_rr_list *out = ldns_rr_list_new();
	ldns_rr_list *c = ldns_rr_list_clone(rrset);

	if (!out || !c)
		xalloc_die(sizeof(*out));
	for (size_t i = 0; i < ldns_rr_list_rr_count(c); i++)
		ldns_rr2canonical(ldns_rr_list_rr(c, i));
	for (size_t i = 0; i < ldns_key_list_key_count(keys); i++) {
		ldns_key *k = ldns_key_list_key(keys, i);
		ldns_key_set_inception(k, inception);
		ldns_key_set_expiration(k, exp);
		ldns_rr *sig = ldns_create_empty_rrsig(c, k);
		ldns_rdf *b = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_B64,
						    SIG_BYTES, zero);
		if (!sig || !b)
			xalloc_die(SIG_BYTES);
		ldns_rr_rrsig_set_sig(sig, b);
		ldns_rr_list_push_rr(out, sig);
	}
	ldns_rr_list_deep_free(c);
	return out;
}

/* 1 + the index of the job for this content, 0: none yet. */
static uint32_t jobs_seen(struct sign_jobs *j, const uint8_t *key)
{
	size_t h;

	memcpy(&h, key, sizeof(h));
	for (size_t k = h & j->seen_mask; j->seen[k];
	     k = (k + 1) & j->seen_mask)
		if (!memcmp(j->v[j->seen[k] - 1].key, key, 32))
			return j->seen[k];
	return 0;
}

static void jobs_seen_add(struct sign_jobs *j, const uint8_t *key,
			  uint32_t idx)
{
	size_t h;

	if (2 * (j->n + 1) > j->seen_mask + 1) {
		size_t size = (j->seen_mask + 1) * 2;
		free(j->seen);
		j->seen = xcalloc(size, sizeof(*j->seen));
		j->seen_mask = size - 1;
		for (uint32_t i = 0; i < idx; i++)
			jobs_seen_add(j, j->v[i].key, i);
	}
	memcpy(&h, key, sizeof(h));
	size_t k = h & j->seen_mask;
	while (j->seen[k])
		k = (k + 1) & j->seen_mask;
	j->seen[k] = idx + 1;
}

static ldns_rr_list *collect_miss(struct sign *sg, const ldns_rr_list *rrset,
				  bool dnskey, const uint8_t *key, uint32_t exp)
{
	struct sign_jobs *j = sg->collect;

	if (!j->keys) {
		j->keys = keys_clone(sg->d->keys);
		j->inception = sg->inception;
	}
	uint32_t idx = jobs_seen(j, key);
	if (idx) { /* met before: its signature, as a cache hit would */
		idx--;
		exp = j->v[idx].expire;
	} else {
		if (j->n == j->cap) {
			j->cap = j->cap ? 2 * j->cap : 256;
			j->v = xreallocarray(j->v, j->cap, sizeof(*j->v));
		}
		struct sign_job *jb = &j->v[j->n];
		memset(jb, 0, sizeof(*jb));
		if (!(jb->rrset = ldns_rr_list_clone(rrset)))
			xalloc_die(sizeof(*jb->rrset));
		jb->keys = dnskey ? sg->ksk_bits : sg->zsk_bits;
		jb->expire = exp;
		memcpy(jb->key, key, 32);
		jobs_seen_add(j, key, (uint32_t)j->n);
		idx = (uint32_t)j->n++;
	}
	if (exp < sg->earliest)
		sg->earliest = exp;
	/* The batch's own shells: the model's keys are not written here. */
	ldns_key_list *view = ldns_key_list_new();
	if (!view)
		xalloc_die(sizeof(*view));
	for (size_t i = 0; i < ldns_key_list_key_count(j->keys); i++)
		if ((dnskey ? sg->ksk_bits : sg->zsk_bits) & (1u << i))
			ldns_key_list_push_key(view, ldns_key_list_key(j->keys, i));
	ldns_rr_list *l = placeholder(rrset, view, sg->inception, exp);
	key_view_free(view);
	j->last = l;
	j->last_job = idx;
	j->nplace++;
	return l;
}

void sign_jobs_run(struct sign_jobs *j, size_t i, ldns_key_list *keys)
{
	struct sign_job *jb = &j->v[i];
	ldns_key_list *view = key_view(keys, jb->keys);
	size_t want = ldns_key_list_key_count(view);

	for (size_t k = 0; k < want; k++) {
		ldns_key *key = ldns_key_list_key(view, k);
		ldns_key_set_inception(key, j->inception);
		ldns_key_set_expiration(key, jb->expire);
	}
	ldns_rr_list *sigs = want ? ldns_sign_public(jb->rrset, view) : NULL;
	uint8_t buf[4096];
	size_t len;
	if (sigs && ldns_rr_list_rr_count(sigs) == want &&
	    (len = sigs_wire(sigs, buf))) {
		jb->sigs = xmalloc(len);
		memcpy(jb->sigs, buf, len);
		jb->len = (uint16_t)len;
		jb->nsig = (uint16_t)want;
	}
	ldns_rr_list_deep_free(sigs);
	key_view_free(view);
	/* Done with: a batch of 300,000 RRsets should not hold them all. */
	ldns_rr_list_deep_free(jb->rrset);
	jb->rrset = NULL;
}

size_t sign_jobs_store(struct sign_jobs *j, struct sign_cache *c)
{
	size_t failed = 0;

	for (size_t i = 0; i < j->n; i++) {
		if (!j->v[i].sigs) {
			failed++;
			continue;
		}
		cache_put_wire(c, j->v[i].key, j->v[i].sigs, j->v[i].len,
			       j->v[i].expire);
	}
	return failed;
}

/* The record at *pos of w (len bytes): its end, its RDATA length.
 * Owners are a pointer or uncompressed (sign_wire, ldns_rr2wire). */
static int wire_skip_rr(const uint8_t *w, size_t len, size_t *pos,
			uint16_t *rdlen)
{
	size_t p = *pos;

	if (p < len && (w[p] & 0xc0) == 0xc0) {
		p += 2;
	} else {
		while (p < len && w[p])
			p += (size_t)w[p] + 1;
		p++;
	}
	if (p + 10 > len)
		return -1;
	*rdlen = wire_get16(w + p + 8);
	p += 10 + *rdlen;
	if (p > len)
		return -1;
	*pos = p;
	return 0;
}

void sign_note_wire(struct sign *sg, const ldns_rr_list *sigs,
		    const struct snap_rrs *out)
{
	struct sign_jobs *j = sg ? sg->collect : NULL;

	if (!j || !sigs || sigs != j->last)
		return;
	j->last = NULL;
	size_t k = ldns_rr_list_rr_count(sigs), pos = 0;
	uint8_t *w = (uint8_t *)out->wire; /* not published yet */
	/* The RRSIGs are the last k records of out. */
	for (size_t r = 0; r < out->count; r++) {
		uint16_t rdlen;
		if (wire_skip_rr(w, out->len, &pos, &rdlen) < 0)
			return; /* not noted: no filling in for this build */
		if (r + k < out->count)
			continue;
		if (rdlen < SIG_BYTES)
			return;
		if (j->nfix == j->capfix) {
			j->capfix = j->capfix ? 2 * j->capfix : 1024;
			j->fix = xreallocarray(j->fix, j->capfix,
					       sizeof(*j->fix));
		}
		j->fix[j->nfix++] = (struct sign_fix){
			w + pos - SIG_BYTES, j->last_job,
			(uint16_t)(r + k - out->count), rdlen };
	}
	j->nplace--;
}

/* The k-th RRSIG in a job's wire: its signature, and RDATA length. */
static const uint8_t *job_sig(const struct sign_job *jb, uint16_t k,
			      uint16_t *rdlen)
{
	size_t pos = 0;

	if (!jb->sigs || k >= jb->nsig)
		return NULL;
	for (uint16_t i = 0; i <= k; i++)
		if (wire_skip_rr(jb->sigs, jb->len, &pos, rdlen) < 0)
			return NULL;
	return jb->sigs + pos - SIG_BYTES;
}

int sign_jobs_fill(struct sign_jobs *j)
{
	if (j->nplace) /* a placeholder whose place is not known */
		return -1;
	for (size_t i = 0; i < j->nfix; i++) {
		const struct sign_fix *f = &j->fix[i];
		uint16_t rdlen;
		const uint8_t *sig = job_sig(&j->v[f->job], f->k, &rdlen);
		if (!sig || rdlen != f->rdlen)
			return -1;
		memcpy(f->dst, sig, SIG_BYTES);
	}
	return 0;
}

void sign_jobs_counts(const struct sign_jobs *j, size_t *made,
		      size_t *reused)
{
	*made = 0;
	for (size_t i = 0; i < j->n; i++)
		*made += j->v[i].nsig;
	*reused = j->reused;
}

ldns_rr_list *sign_rrset(struct sign *sg, const ldns_rr_list *rrset)
{
	/* CDS/CDNSKEY too: RFC 7344 4.1 wants them signed by a key the
	 * parent's DS points to. */
	ldns_rr_type t = ldns_rr_get_type(ldns_rr_list_rr(rrset, 0));
	bool dnskey = t == LDNS_RR_TYPE_DNSKEY || t == LDNS_RR_TYPE_CDS ||
		t == LDNS_RR_TYPE_CDNSKEY;
	ldns_key_list *keys = dnskey ? sg->ksk : sg->zsk;

	uint8_t key[32];

	if (sg->collect) /* only the list returned last may be noted */
		sg->collect->last = NULL;

	if (!ldns_key_list_key_count(keys))
		return NULL; /* no key active: refuse to build unsigned */
	if (sg->cache) {
		cache_key(rrset, keys, key);
		struct cache_entry *e = cache_find(sg->cache, key);
		ldns_rr_list *l;
		/* Reused until a little past the refresh point (a third left):
		 * a refresh then re-signs only the slice of signatures that
		 * expire first (the jitter spreads them over a tenth of the
		 * validity), and the next slice at the next refresh. */
		if (e && (int64_t)e->expire - sg->now >=
			 sg->validity / 3 + sg->validity / 100 &&
		    (l = cache_sigs(e))) {
			e->gen = sg->cache->gen;
			if (e->expire < sg->earliest)
				sg->earliest = e->expire;
			sg->reused += ldns_rr_list_rr_count(l);
			return l;
		}
	}
	uint32_t exp = sg->expiration -
		(sg->jitter ? (uint32_t)(rand_next(&sg->rng) % sg->jitter) : 0);

	if (sg->collect)
		return collect_miss(sg, rrset, dnskey, key, exp);

	/* ldns takes the validity period from the keys; they are ours for
	 * the length of this call (the control thread is the only user). */
	for (size_t i = 0; i < ldns_key_list_key_count(keys); i++) {
		ldns_key *k = ldns_key_list_key(keys, i);
		ldns_key_set_inception(k, sg->inception);
		ldns_key_set_expiration(k, exp);
	}
	ldns_rr_list *sigs = ldns_sign_public((ldns_rr_list *)rrset, keys);
	if (sigs && ldns_rr_list_rr_count(sigs) != ldns_key_list_key_count(keys)) {
		ldns_rr_list_deep_free(sigs);
		return NULL;
	}
	if (sigs && exp < sg->earliest)
		sg->earliest = exp;
	if (sigs) {
		sg->made += ldns_rr_list_rr_count(sigs);
		if (sg->cache)
			cache_put(sg->cache, key, sigs, exp);
	}
	return sigs;
}

int sign_wire(struct snap_arena *a, const ldns_rr_list *rrs, bool ptr,
	      uint32_t ttl, struct snap_rrs *out)
{
	uint8_t buf[65535];
	size_t len = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; rrs && i < ldns_rr_list_rr_count(rrs); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		uint8_t *w = NULL;
		size_t n = 0;
		if (ldns_rr2wire(&w, rr, LDNS_SECTION_ANSWER, &n) !=
		    LDNS_STATUS_OK)
			return -1;
		size_t own = ldns_rdf_size(ldns_rr_owner(rr));
		size_t skip = ptr ? own : 0;
		if (n < own + 10 || len + (ptr ? 2 : 0) + n - skip > sizeof(buf)) {
			free(w);
			return -1;
		}
		if (ptr) {
			wire_put16(buf + len, 0xc00c);
			len += 2;
		}
		memcpy(buf + len, w + skip, n - skip);
		if (ttl)
			wire_put32(buf + len + (ptr ? 0 : own) + 4, ttl);
		len += n - skip;
		free(w);
		out->count++;
	}
	out->len = (uint16_t)len;
	out->wire = snap_memdup(a, buf, len);
	return 0;
}
