/* test_onlinesign.c -- the compact denial NSEC and RRSIG wire written by
 * hand (server/onlinesign.c): ldns parses it and verifies the signature,
 * for P-256 and Ed25519; the cache, the bucket, and the key outliving
 * the model's ldns key. */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>

#include "server/onlinesign.h"
#include "server/snap.h"
#include "server/wire.h"
#include "tap.h"

static const uint8_t apex[] = "\x04" "zone" "\x04" "test";

struct pkt {
	uint8_t buf[2048];
	size_t qend;
};

/* Header and question for qname (as the client wrote it). */
static void question(struct pkt *p, const char *qname_text, uint8_t *lower,
		     uint8_t *qlen, unsigned *labels)
{
	ldns_rdf *n = ldns_dname_new_frm_str(qname_text);
	size_t len = ldns_rdf_size(n);

	memset(p->buf, 0, DNS_HDR_LEN);
	wire_put16(p->buf + 2, DNS_F_QR | DNS_F_AA);
	wire_put16(p->buf + 4, 1);
	memcpy(p->buf + DNS_HDR_LEN, ldns_rdf_data(n), len);
	wire_put16(p->buf + DNS_HDR_LEN + len, DNS_T_A);
	wire_put16(p->buf + DNS_HDR_LEN + len + 2, DNS_C_IN);
	p->qend = DNS_HDR_LEN + len + 4;
	*labels = ldns_dname_label_count(n);
	ldns_dname2canonical(n);
	memcpy(lower, ldns_rdf_data(n), len);
	*qlen = (uint8_t)len;
	ldns_rdf_deep_free(n);
}

/* The records written after the question parse, the NSEC is the RFC 9824
 * one and its RRSIG verifies with key_rr. */
static void check_answer(struct pkt *p, size_t len, uint16_t count,
			 const char *qname_text, const ldns_rr *key_rr,
			 const char *what)
{
	char msg[160];
	ldns_pkt *pkt = NULL;

	wire_put16(p->buf + 8, count);
	snprintf(msg, sizeof(msg), "%s: parses", what);
	if (!ok(ldns_wire2pkt(&pkt, p->buf, p->qend + len) == LDNS_STATUS_OK,
		msg))
		return;
	ldns_rr_list *auth = ldns_pkt_authority(pkt);
	ldns_rr *nsec = ldns_rr_list_rr(auth, 0);
	ldns_rr *sig = ldns_rr_list_rr(auth, 1);
	ldns_rdf *owner = ldns_dname_new_frm_str(qname_text);
	ldns_dname2canonical(owner);
	ldns_rdf *wild = ldns_dname_new_frm_str("\\000");
	ldns_rdf *next = ldns_dname_cat_clone(wild, owner);

	snprintf(msg, sizeof(msg), "%s: NSEC then RRSIG", what);
	ok(ldns_rr_list_rr_count(auth) == 2 && nsec && sig &&
	   ldns_rr_get_type(nsec) == LDNS_RR_TYPE_NSEC &&
	   ldns_rr_get_type(sig) == LDNS_RR_TYPE_RRSIG, msg);
	if (!nsec || !sig || ldns_rr_get_type(nsec) != LDNS_RR_TYPE_NSEC)
		goto out;
	ldns_rdf *o = ldns_rdf_clone(ldns_rr_owner(nsec));
	ldns_dname2canonical(o);
	snprintf(msg, sizeof(msg), "%s: owner is the query name", what);
	ok(ldns_dname_compare(o, owner) == 0, msg);
	ldns_rdf_deep_free(o);
	snprintf(msg, sizeof(msg), "%s: next name is \\000.<qname>", what);
	ok(ldns_dname_compare(ldns_rr_rdf(nsec, 0), next) == 0, msg);
	const ldns_rdf *bm = ldns_rr_rdf(nsec, 1);
	snprintf(msg, sizeof(msg), "%s: bitmap RRSIG NSEC NXNAME only", what);
	ok(ldns_nsec_bitmap_covers_type(bm, LDNS_RR_TYPE_RRSIG) &&
	   ldns_nsec_bitmap_covers_type(bm, LDNS_RR_TYPE_NSEC) &&
	   ldns_nsec_bitmap_covers_type(bm, ONSIGN_T_NXNAME) &&
	   !ldns_nsec_bitmap_covers_type(bm, LDNS_RR_TYPE_A) &&
	   !ldns_nsec_bitmap_covers_type(bm, LDNS_RR_TYPE_CNAME), msg);
	snprintf(msg, sizeof(msg), "%s: TTL 60 on both", what);
	ok(ldns_rr_ttl(nsec) == 60 && ldns_rr_ttl(sig) == 60, msg);
	uint32_t inc = ldns_rdf2native_time_t(ldns_rr_rrsig_inception(sig));
	uint32_t exp = ldns_rdf2native_time_t(ldns_rr_rrsig_expiration(sig));
	snprintf(msg, sizeof(msg), "%s: inception now-1h, expiration now+1d",
		 what);
	ok(exp - inc == 86400 + 3600, msg);

	ldns_rr_list *set = ldns_rr_list_new(), *keys = ldns_rr_list_new();
	ldns_rr_list_push_rr(set, nsec);
	ldns_rr_list_push_rr(keys, (ldns_rr *)key_rr);
	ldns_status st = ldns_verify_rrsig_keylist(set, sig, keys, NULL);
	snprintf(msg, sizeof(msg), "%s: the RRSIG verifies (%s)", what,
		 ldns_get_errorstr_by_id(st));
	ok(st == LDNS_STATUS_OK, msg);
	ldns_rr_list_free(set);
	ldns_rr_list_free(keys);
out:
	ldns_rdf_deep_free(owner);
	ldns_rdf_deep_free(wild);
	ldns_rdf_deep_free(next);
	ldns_pkt_free(pkt);
}

static void one_algorithm(ldns_signing_algorithm alg, const char *name)
{
	char what[96];
	struct snap_arena *a = snap_arena_new();
	struct snap *s = snap_alloc(a, sizeof(*s));
	ldns_key *key = ldns_key_new_frm_algorithm(alg, 256);
	ldns_rdf *owner = ldns_dname_new_frm_str("zone.test.");
	uint32_t now = (uint32_t)time(NULL);
	uint8_t lower[DNS_NAME_MAX], qlen;
	unsigned labels;
	size_t len;
	uint16_t cnt;
	struct pkt p;

	s->arenas[0] = a;
	s->narenas = 1;
	ldns_key_set_pubkey_owner(key, owner);
	ldns_key_set_flags(key, 256);
	ldns_rr *key_rr = ldns_key2rr(key);
	ldns_key_set_keytag(key, ldns_calc_keytag(key_rr));

	struct onsign_keys *k = onsign_keys_new(a, apex, sizeof(apex), 60,
						86400, 2);
	snprintf(what, sizeof(what), "%s: key added", name);
	ok(onsign_keys_add(k, key) == 0 && onsign_keys_count(k) == 1, what);
	struct onsign_worker *w = onsign_worker_new();

	question(&p, "NoPe.Zone.Test.", lower, &qlen, &labels);
	enum onsign_result r = onsign_nxname(w, k, lower, qlen, labels, now,
		1000, p.buf + p.qend, sizeof(p.buf) - p.qend, &len, &cnt);
	snprintf(what, sizeof(what), "%s: signed", name);
	ok(r == ONSIGN_SIGNED && cnt == 2, what);
	check_answer(&p, len, cnt, "nope.zone.test.", key_rr, name);
	uint8_t first[1024];
	memcpy(first, p.buf + p.qend, len);

	question(&p, "nope.ZONE.test.", lower, &qlen, &labels);
	r = onsign_nxname(w, k, lower, qlen, labels, now, 1000,
			  p.buf + p.qend, sizeof(p.buf) - p.qend, &len, &cnt);
	snprintf(what, sizeof(what), "%s: the same name again is a hit, "
		 "the same bytes", name);
	ok(r == ONSIGN_HIT && !memcmp(first, p.buf + p.qend, len), what);
	snprintf(what, sizeof(what), "%s: a hit in another case verifies", name);
	check_answer(&p, len, cnt, "nope.zone.test.", key_rr, what);

	question(&p, "a.b.zone.test.", lower, &qlen, &labels);
	r = onsign_nxname(w, k, lower, qlen, labels, now, 1000,
			  p.buf + p.qend, 100, &len, &cnt);
	snprintf(what, sizeof(what), "%s: no room: NOROOM", name);
	ok(r == ONSIGN_NOROOM, what);
	/* Rate 2: the bucket held two; no room spent none. */
	r = onsign_nxname(w, k, lower, qlen, labels, now, 1000,
			  p.buf + p.qend, sizeof(p.buf) - p.qend, &len, &cnt);
	snprintf(what, sizeof(what), "%s: the second token", name);
	ok(r == ONSIGN_SIGNED, what);
	question(&p, "c.b.zone.test.", lower, &qlen, &labels);
	r = onsign_nxname(w, k, lower, qlen, labels, now, 1000,
			  p.buf + p.qend, sizeof(p.buf) - p.qend, &len, &cnt);
	snprintf(what, sizeof(what), "%s: bucket empty: FALLBACK", name);
	ok(r == ONSIGN_FALLBACK, what);

	/* The model (and its ldns key) goes first on a reload; the
	 * snapshot's reference keeps the key signing. */
	ldns_key_deep_free(key);
	r = onsign_nxname(w, k, lower, qlen, labels, now, 1600,
			  p.buf + p.qend, sizeof(p.buf) - p.qend, &len, &cnt);
	snprintf(what, sizeof(what), "%s: half a second refills one, signed "
		 "after the ldns key is freed", name);
	ok(r == ONSIGN_SIGNED, what);
	check_answer(&p, len, cnt, "c.b.zone.test.", key_rr, what);

	/* Another build: a new key set, so the cache does not answer. */
	struct onsign_keys *k2 = onsign_keys_new(a, apex, sizeof(apex), 60,
						 86400, 0);
	question(&p, "nope.zone.test.", lower, &qlen, &labels);
	r = onsign_nxname(w, k2, lower, qlen, labels, now, 5000,
			  p.buf + p.qend, sizeof(p.buf) - p.qend, &len, &cnt);
	snprintf(what, sizeof(what), "%s: another build misses; rate 0 and "
		 "no key: FALLBACK", name);
	ok(r == ONSIGN_FALLBACK, what);
	r = onsign_nxname(NULL, k, lower, qlen, labels, now, 5000,
			  p.buf + p.qend, sizeof(p.buf) - p.qend, &len, &cnt);
	ok(r == ONSIGN_FALLBACK, "no worker state: FALLBACK");

	onsign_worker_free(w);
	snap_free(s); /* drops the EVP_PKEY references */
	ldns_rr_free(key_rr);
}

int main(void)
{
	one_algorithm(LDNS_SIGN_ECDSAP256SHA256, "P-256");
	one_algorithm(LDNS_SIGN_ED25519, "Ed25519");
	return tap_done();
}
