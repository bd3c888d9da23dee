/* onlinesign.c -- compact denial signed on the worker (onlinesign.h). */
#include "config.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>
#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/evp.h>

#include "lib/xalloc.h"
#include "server/onlinesign.h"
#include "server/wire.h"

#define T_RRSIG 46
#define T_NSEC  47

/* The NSEC bitmap: window 0, 17 bytes: RRSIG (46), NSEC (47), NXNAME
 * (128). */
static const uint8_t nxname_bitmap[19] = {
	0, 17, 0, 0, 0, 0, 0, 0x03, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80,
};

/* Room for one cached answer: the NSEC (2 + 10 + 2 + 255 + 19) and two
 * RRSIGs (2 + 10 + 18 + 255 + 64 each) with the longest names; entries
 * that would need more are served but not cached. */
#define ENTRY_WIRE 640
#define SIG_MAX 64

struct onsign_key {
	EVP_PKEY *pkey;
	uint8_t alg;
	uint16_t tag;
};

struct onsign_keys {
	uint64_t id;          /* unique per build: the cache's key */
	uint32_t ttl, validity, rate;
	uint8_t apex_len;
	uint8_t apex[DNS_NAME_MAX];
	unsigned nkeys;
	struct onsign_key key[ONSIGN_KEYS_MAX];
};

struct onsign_entry {
	uint64_t id;          /* onsign_keys.id; 0: empty */
	uint32_t made;        /* unix time it was signed */
	uint16_t len, count;
	uint8_t qlen;
	uint8_t wire[ENTRY_WIRE];
};

struct onsign_worker {
	EVP_MD_CTX *md;
	uint64_t tokens;      /* thousandths of a signature */
	uint64_t last_ms;     /* last refill; 0: never (the bucket is full) */
	struct onsign_entry *tab; /* ONSIGN_CACHE_SLOTS */
};

static _Atomic uint64_t keys_serial;

static void keys_free(void *p)
{
	struct onsign_keys *k = p;

	for (unsigned i = 0; i < k->nkeys; i++)
		EVP_PKEY_free(k->key[i].pkey);
}

struct onsign_keys *onsign_keys_new(struct snap_arena *a, const uint8_t *apex,
				    uint8_t apex_len, uint32_t ttl,
				    uint32_t validity, uint32_t rate)
{
	struct onsign_keys *k = snap_alloc(a, sizeof(*k));

	k->id = atomic_fetch_add(&keys_serial, 1) + 1;
	k->ttl = ttl;
	k->validity = validity;
	k->rate = rate;
	k->apex_len = apex_len;
	memcpy(k->apex, apex, apex_len);
	snap_arena_on_free(a, keys_free, k);
	return k;
}

unsigned onsign_keys_count(const struct onsign_keys *k)
{
	return k ? k->nkeys : 0;
}

/* One signature over data into sig (64 bytes: r || s for ECDSA P-256,
 * as RFC 6605 4 wants, or the Ed25519 signature); 0 or -1. */
static int sign_data(EVP_MD_CTX *md, const struct onsign_key *key,
		     const uint8_t *data, size_t n, uint8_t sig[SIG_MAX])
{
	uint8_t der[80];
	size_t dl = sizeof(der);
	int rc = -1;

	if (key->alg == LDNS_ED25519) {
		size_t sl = SIG_MAX;
		if (EVP_DigestSignInit(md, NULL, NULL, NULL, key->pkey) == 1 &&
		    EVP_DigestSign(md, sig, &sl, data, n) == 1 && sl == SIG_MAX)
			rc = 0;
		EVP_MD_CTX_reset(md);
		return rc;
	}
	if (EVP_DigestSignInit(md, NULL, EVP_sha256(), NULL, key->pkey) == 1 &&
	    EVP_DigestSign(md, der, &dl, data, n) == 1) {
		const unsigned char *p = der;
		ECDSA_SIG *es = d2i_ECDSA_SIG(NULL, &p, (long)dl);
		const BIGNUM *r, *s;
		if (es) {
			ECDSA_SIG_get0(es, &r, &s);
			if (BN_bn2binpad(r, sig, 32) == 32 &&
			    BN_bn2binpad(s, sig + 32, 32) == 32)
				rc = 0;
			ECDSA_SIG_free(es);
		}
	}
	EVP_MD_CTX_reset(md);
	return rc;
}

int onsign_keys_add(struct onsign_keys *k, const struct ldns_struct_key *key)
{
	ldns_key *lk = (ldns_key *)key;
	uint8_t alg = (uint8_t)ldns_key_algorithm(lk);
	EVP_PKEY *pk = ldns_key_evp_key(lk);
	uint8_t sig[SIG_MAX];

	if (k->nkeys >= ONSIGN_KEYS_MAX || !pk ||
	    (alg != LDNS_ECDSAP256SHA256 && alg != LDNS_ED25519))
		return -1;
	EVP_MD_CTX *md = EVP_MD_CTX_new();
	if (!md)
		xalloc_die(sizeof(void *));
	int rc = sign_data(md, &(struct onsign_key){ pk, alg, 0 },
			   k->apex, k->apex_len, sig);
	EVP_MD_CTX_free(md);
	if (rc < 0 || EVP_PKEY_up_ref(pk) != 1)
		return -1;
	k->key[k->nkeys++] = (struct onsign_key){
		.pkey = pk, .alg = alg, .tag = ldns_key_keytag(lk),
	};
	return 0;
}

struct onsign_worker *onsign_worker_new(void)
{
	struct onsign_worker *w = xcalloc(1, sizeof(*w));

	/* Pages of the table are touched only once used: a zone without
	 * compact denial costs address space, not memory. */
	w->tab = xcalloc(ONSIGN_CACHE_SLOTS, sizeof(*w->tab));
	if (!(w->md = EVP_MD_CTX_new()))
		xalloc_die(sizeof(void *));
	return w;
}

void onsign_worker_free(struct onsign_worker *w)
{
	if (!w)
		return;
	EVP_MD_CTX_free(w->md);
	free(w->tab);
	free(w);
}

/* The token bucket: refilled at rate a second, holding one second's
 * worth; true when a signature may be made now. */
static bool bucket_take(struct onsign_worker *w, uint32_t rate,
			uint64_t mono_ms)
{
	uint64_t cap = (uint64_t)rate * 1000u;

	if (!rate)
		return false;
	if (!w->last_ms) {
		w->tokens = cap;
	} else if (mono_ms > w->last_ms) {
		w->tokens += (mono_ms - w->last_ms) * rate;
		if (w->tokens > cap)
			w->tokens = cap;
	}
	w->last_ms = mono_ms ? mono_ms : 1;
	if (w->tokens < 1000)
		return false;
	w->tokens -= 1000;
	return true;
}

static size_t put_rr_head(uint8_t *p, uint16_t type, uint32_t ttl)
{
	wire_put16(p, 0xc00c);
	wire_put16(p + 2, type);
	wire_put16(p + 4, DNS_C_IN);
	wire_put32(p + 6, ttl);
	return 12; /* rdlength at p + 10, by the caller */
}

/* NSEC then one RRSIG per key into out (room bytes): 0, -1 when it
 * does not fit, -2 when a key failed. */
static int make(struct onsign_worker *w, const struct onsign_keys *k,
		const uint8_t *qname, uint8_t qlen, unsigned labels,
		uint32_t now, uint8_t *out, size_t room, size_t *len,
		uint16_t *count)
{
	/* What RFC 4034 3.1.8.1 signs: the RRSIG rdata up to the
	 * signature, then the NSEC in canonical form (owner in full). */
	uint8_t data[18 + DNS_NAME_MAX + DNS_NAME_MAX + 10 + 2 +
		     DNS_NAME_MAX + sizeof(nxname_bitmap)];
	uint16_t rdlen = (uint16_t)(2 + qlen + sizeof(nxname_bitmap));
	size_t nsec_len = 12 + (size_t)rdlen;
	size_t sig_len = 12 + 18 + (size_t)k->apex_len + SIG_MAX;
	size_t total = nsec_len + k->nkeys * sig_len;
	uint8_t *p = out;

	if (total > room)
		return -1;
	p += put_rr_head(p, T_NSEC, k->ttl);
	wire_put16(p - 2, rdlen);
	p[0] = 1;
	p[1] = 0;
	memcpy(p + 2, qname, qlen);
	memcpy(p + 2 + qlen, nxname_bitmap, sizeof(nxname_bitmap));
	p += rdlen;

	/* The signed data: RRSIG rdata head (filled per key), then the
	 * NSEC with its owner written out. */
	size_t head = 18 + (size_t)k->apex_len;
	uint8_t *d = data + head;
	memcpy(d, qname, qlen);
	d += qlen;
	memcpy(d, out + 2, 10); /* type, class, TTL, rdlength */
	d += 10;
	memcpy(d, out + 12, rdlen);
	d += rdlen;

	for (unsigned i = 0; i < k->nkeys; i++) {
		const struct onsign_key *key = &k->key[i];
		uint8_t *rd = p + 12;
		p += put_rr_head(p, T_RRSIG, k->ttl);
		wire_put16(p - 2, (uint16_t)(18 + k->apex_len + SIG_MAX));
		wire_put16(rd, T_NSEC);
		rd[2] = key->alg;
		rd[3] = (uint8_t)labels;
		wire_put32(rd + 4, k->ttl);
		wire_put32(rd + 8, now + k->validity);
		wire_put32(rd + 12, now - 3600u);
		wire_put16(rd + 16, key->tag);
		memcpy(rd + 18, k->apex, k->apex_len);
		memcpy(data, rd, head);
		if (sign_data(w->md, key, data, (size_t)(d - data),
			      rd + head) < 0)
			return -2;
		p = rd + head + SIG_MAX;
	}
	*len = (size_t)(p - out);
	*count = (uint16_t)(1 + k->nkeys);
	return 0;
}

enum onsign_result onsign_nxname(struct onsign_worker *w,
				 const struct onsign_keys *k,
				 const uint8_t *qname, uint8_t qlen,
				 unsigned labels, uint32_t now,
				 uint64_t mono_ms, uint8_t *out, size_t room,
				 size_t *len, uint16_t *count)
{
	if (!w || !k || !k->nkeys)
		return ONSIGN_FALLBACK;
	struct onsign_entry *e = &w->tab[wire_name_hash(qname, qlen) &
					 (ONSIGN_CACHE_SLOTS - 1)];
	if (e->id == k->id && e->qlen == qlen && now - e->made < ONSIGN_REUSE &&
	    memcmp(e->wire + 14, qname, qlen) == 0) {
		if (e->len > room)
			return ONSIGN_NOROOM;
		memcpy(out, e->wire, e->len);
		*len = e->len;
		*count = e->count;
		return ONSIGN_HIT;
	}
	/* No room is decided before a token is spent. */
	if (12 + 2 + (size_t)qlen + sizeof(nxname_bitmap) +
	    k->nkeys * (12 + 18 + (size_t)k->apex_len + SIG_MAX) > room)
		return ONSIGN_NOROOM;
	if (!bucket_take(w, k->rate, mono_ms))
		return ONSIGN_FALLBACK;
	int rc = make(w, k, qname, qlen, labels, now, out, room, len, count);
	if (rc < 0)
		return rc == -1 ? ONSIGN_NOROOM : ONSIGN_FALLBACK;
	if (*len <= ENTRY_WIRE) {
		e->id = k->id;
		e->made = now;
		e->qlen = qlen;
		e->len = (uint16_t)*len;
		e->count = *count;
		memcpy(e->wire, out, *len);
	}
	return ONSIGN_SIGNED;
}
