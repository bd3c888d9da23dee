/* zonedump.c -- a snapshot as a master file (zonedump.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "config/model.h"
#include "lib/xalloc.h"
#include "server/zonedump.h"

struct out {
	char *buf;
	size_t len, cap;
};

static void out_add(struct out *o, const char *s)
{
	size_t n = strlen(s);

	if (o->len + n + 1 > o->cap) {
		o->cap = (o->len + n + 1) * 2;
		o->buf = xreallocarray(o->buf, o->cap, 1);
	}
	memcpy(o->buf + o->len, s, n + 1);
	o->len += n;
}

/* One record as a line, or as a comment when prefix says so. */
static void out_rr(struct out *o, const ldns_rr *rr, const char *prefix)
{
	char *t = ldns_rr2str(rr);

	if (!t)
		xalloc_die(64);
	if (prefix)
		out_add(o, prefix);
	out_add(o, t); /* ends in a newline */
	free(t);
}

/* Records written as the query path writes them: owner pointers to a
 * question for name at offset 12.  A packet is made around them so that
 * ldns reads them back. */
static void out_wire(struct out *o, const uint8_t *name, size_t nlen,
		     const uint8_t *w1, size_t l1, const uint8_t *w2,
		     size_t l2, unsigned count, const char *prefix)
{
	size_t len = DNS_HDR_LEN + nlen + 4 + l1 + l2;
	uint8_t *p = xcalloc(1, len);
	ldns_pkt *pkt = NULL;

	wire_put16(p + 2, DNS_F_QR);
	wire_put16(p + 4, 1);
	wire_put16(p + 6, (uint16_t)count);
	memcpy(p + DNS_HDR_LEN, name, nlen);
	wire_put16(p + DNS_HDR_LEN + nlen, DNS_T_A);
	wire_put16(p + DNS_HDR_LEN + nlen + 2, DNS_C_IN);
	memcpy(p + DNS_HDR_LEN + nlen + 4, w1, l1);
	if (l2)
		memcpy(p + DNS_HDR_LEN + nlen + 4 + l1, w2, l2);
	if (ldns_wire2pkt(&pkt, p, len) == LDNS_STATUS_OK) {
		ldns_rr_list *an = ldns_pkt_answer(pkt);
		for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++)
			out_rr(o, ldns_rr_list_rr(an, i), prefix);
	} else {
		out_add(o, "; (records that do not parse)\n");
	}
	ldns_pkt_free(pkt);
	free(p);
}

/* Whole uncompressed records (NSEC, DS, referral NS and glue). */
static void out_full(struct out *o, const uint8_t *w, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		ldns_rr *rr = NULL;
		if (ldns_wire2rr(&rr, w, len, &pos, LDNS_SECTION_ANSWER) !=
		    LDNS_STATUS_OK) {
			out_add(o, "; (records that do not parse)\n");
			return;
		}
		out_rr(o, rr, NULL);
		ldns_rr_free(rr);
	}
}

/* The answer a group gives in one family, first window; the others as
 * comments when the answer is capped. */
static void out_group(struct out *o, const struct snap_node *n,
		      const struct snap_svc *svc, const struct snap_group *g,
		      bool v6, const char *prefix)
{
	unsigned cnt_all = v6 ? g->n6 : g->n4;
	const uint8_t *base = v6 ? svc->rr6 + (size_t)g->off6 * SNAP_RR6_LEN :
		svc->rr4 + (size_t)g->off4 * SNAP_RR4_LEN;
	size_t rl = v6 ? SNAP_RR6_LEN : SNAP_RR4_LEN;
	const struct snap_rrs *sig = v6 ? g->sig6 : g->sig4;

	if (!cnt_all)
		return;
	unsigned cnt = svc->max_answers && cnt_all > svc->max_answers ?
		svc->max_answers : cnt_all;
	unsigned windows = cnt < cnt_all ? cnt_all : 1;
	uint8_t *buf = xmalloc(cnt * rl);
	for (unsigned w = 0; w < windows; w++) {
		for (unsigned i = 0; i < cnt; i++)
			memcpy(buf + i * rl, base + ((w + i) % cnt_all) * rl, rl);
		out_wire(o, n->name, n->name_len, buf, cnt * rl,
			 sig ? sig[w].wire : NULL, sig ? sig[w].len : 0,
			 cnt + (sig ? sig[w].count : 0),
			 w ? "; rotation: " : prefix);
	}
	free(buf);
}

/* The group a query without client information gets. */
static uint16_t default_group(const struct snap_svc *svc)
{
	return svc->policy == POLICY_TOPOLOGY ? svc->all_group : 0;
}

static void out_service(struct out *o, const struct snap_node *n,
			const struct snap_svc *svc)
{
	if (svc->down == SNAP_DOWN_SERVFAIL) {
		out_add(o, "; (nothing healthy: SERVFAIL)\n");
		return;
	}
	if (svc->down == SNAP_DOWN_NODATA || !svc->ngroups)
		return;
	uint16_t d = default_group(svc);
	for (int v6 = 0; v6 < 2; v6++) {
		/* The default answer per family, as a query without client
		 * information gets it; weighted: the first group with it. */
		uint16_t shown = d;
		for (uint16_t i = 0; svc->policy == POLICY_WEIGHTED &&
		     i < svc->ngroups; i++)
			if (v6 ? svc->groups[i].n6 : svc->groups[i].n4) {
				shown = i;
				break;
			}
		const struct snap_group *g = &svc->groups[shown];
		if (!(v6 ? g->n6 : g->n4))
			g = &svc->groups[svc->all_group];
		out_group(o, n, svc, g, v6, NULL);
		for (uint16_t i = 0; i < svc->ngroups; i++)
			if (&svc->groups[i] != g)
				out_group(o, n, svc, &svc->groups[i], v6,
					  "; variant: ");
	}
}

static int node_cmp(const void *x, const void *y)
{
	const struct snap_node *a = *(const struct snap_node *const *)x;
	const struct snap_node *b = *(const struct snap_node *const *)y;

	return snap_canon_cmp(a->name, a->name_len, b->name, b->name_len);
}

static void out_node(struct out *o, const struct snap *s,
		     const struct snap_node *n)
{
	if (n->flags & SNAP_N_CUT) {
		const struct snap_rrset *r = n->referral;
		out_full(o, r->wire, r->ns_len);
		/* The DS, when the zone has one, is also an RRset of the
		 * node (printed below): print it once. */
		if (n->ref_sec && n->ref_sec != n->nsec &&
		    !snap_rrset_find(n, DNS_T_DS))
			out_full(o, n->ref_sec->wire, n->ref_sec->len);
		out_full(o, r->wire + r->ns_len, r->ar_len);
	}
	for (uint16_t i = 0; i < n->nrrsets; i++) {
		const struct snap_rrset *r = &n->rrsets[i];
		out_wire(o, n->name, n->name_len, r->wire, r->an_len,
			 r->sig.wire, r->sig.len, r->ancount + r->sig.count,
			 NULL);
	}
	const struct snap_svc *svc = snap_node_svc(s, n);
	if (svc)
		out_service(o, n, svc);
	bool ent = !n->nrrsets && !svc && !(n->flags & SNAP_N_CUT);
	if (n->nsec && !ent)
		out_full(o, n->nsec->wire, n->nsec->len);
}

char *zonedump_text(const struct snap *s)
{
	struct out o = { 0 };
	const struct snap_node **v = xreallocarray(NULL, s->nnodes + 1,
						   sizeof(*v));
	size_t n = 0;
	char line[128];

	for (uint32_t i = 0; i <= s->mask; i++)
		if (s->table[i])
			v[n++] = s->table[i];
	qsort(v, n, sizeof(*v), node_cmp);
	snprintf(line, sizeof(line), "; gslbd snapshot generation %llu%s\n",
		 (unsigned long long)s->generation,
		 s->dnssec ? ", signed" : "");
	out_add(&o, line);
	for (size_t i = 0; i < n; i++)
		out_node(&o, s, v[i]);
	free(v);
	if (!o.buf)
		out_add(&o, "");
	return o.buf;
}

char *zonedump_ds(const struct snap *s)
{
	struct out o = { 0 };
	const struct snap_node *apex = snap_lookup(s, s->apex, s->apex_len,
		wire_name_hash(s->apex, s->apex_len));
	const struct snap_rrset *dk = apex ? snap_rrset_find(apex, 48) : NULL;

	out_add(&o, "");
	if (!dk)
		return o.buf;
	uint8_t *p = xcalloc(1, DNS_HDR_LEN + s->apex_len + 4 + dk->an_len);
	size_t len = DNS_HDR_LEN + s->apex_len + 4 + dk->an_len;
	ldns_pkt *pkt = NULL;
	wire_put16(p + 4, 1);
	wire_put16(p + 6, dk->ancount);
	memcpy(p + DNS_HDR_LEN, s->apex, s->apex_len);
	wire_put16(p + DNS_HDR_LEN + s->apex_len, 48);
	wire_put16(p + DNS_HDR_LEN + s->apex_len + 2, DNS_C_IN);
	memcpy(p + DNS_HDR_LEN + s->apex_len + 4, dk->wire, dk->an_len);
	if (ldns_wire2pkt(&pkt, p, len) == LDNS_STATUS_OK) {
		ldns_rr_list *an = ldns_pkt_answer(pkt);
		for (size_t i = 0; i < ldns_rr_list_rr_count(an); i++) {
			ldns_rr *k = ldns_rr_list_rr(an, i);
			if (!(ldns_rdf2native_int16(ldns_rr_rdf(k, 0)) &
			      LDNS_KEY_SEP_KEY))
				continue;
			ldns_rr *ds = ldns_key_rr2ds(k, LDNS_SHA256);
			if (ds)
				out_rr(&o, ds, NULL);
			ldns_rr_free(ds);
		}
	}
	ldns_pkt_free(pkt);
	free(p);
	return o.buf;
}
