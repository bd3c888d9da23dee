/*
 * answer.c -- the response writer (answer.h).
 *
 * A response is the query's own header and question (so the qname keeps
 * the client's 0x20 case), then precompiled records copied from the
 * snapshot, then OPT.  Room for OPT is reserved before any record is
 * written, so an answer that does not fit is truncated, never the OPT.
 */
#include "config.h"

#include <netinet/in.h>
#include <string.h>
#include <time.h>

#include "config/model.h"
#include "server/answer.h"
#include "lib/prefix.h"
#include "lib/rand.h"

struct resp {
	uint8_t *buf;
	size_t len;
	size_t limit;     /* room for records; OPT is already reserved */
	uint16_t an, ns, ar;
	uint16_t flags;
	unsigned rcode;   /* up to 12 bits; the upper 8 go in OPT */
	bool ecs;         /* echo ECS */
	uint8_t scope;
	/* for rate limiting (server/rrl.h) and cookies */
	bool referral, dname;
	uint32_t qhash;   /* the query name's, once looked up */
	uint32_t cut;     /* the delegation's or the DNAME's owner */
	bool cookie;      /* answer with a COOKIE option: sc */
	uint8_t sc[COOKIE_SERVER_LEN];
	bool dnssec;      /* signed zone and DO: RRSIGs and NSECs go in */
};

/* A COOKIE option in a response: client and server cookie. */
#define COOKIE_OPT_LEN (4 + COOKIE_CLIENT_LEN + COOKIE_SERVER_LEN)

#define likely(x)   __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

void answer_ctx_init(struct answer_ctx *c, uint64_t seed)
{
	memset(c, 0, sizeof(*c));
	c->rng = seed ? seed : 0x9e3779b97f4a7c15ull;
	c->rot = (uint32_t)seed;
}

static uint64_t rng_next(struct answer_ctx *c)
{
	return rand_next(&c->rng);
}

static bool put(struct resp *r, const void *p, size_t n)
{
	if (r->len + n > r->limit)
		return false;
	memcpy(r->buf + r->len, p, n);
	r->len += n;
	return true;
}

/* Is the query name inside the zone?  Compares the apex against the
 * query's trailing labels. */
static bool in_zone(const struct snap *s, const struct wire_query *q,
		    unsigned *apex_off)
{
	if (q->nlabels < s->apex_labels)
		return false;
	unsigned off = q->nlabels == s->apex_labels ? 0 :
		q->label_off[q->nlabels - s->apex_labels];
	if (off + s->apex_len != q->qname_len ||
	    memcmp(q->qname + off, s->apex, s->apex_len) != 0)
		return false;
	*apex_off = off;
	return true;
}

/* NXDOMAIN / NODATA: the SOA, owned by the apex inside the qname. */
static void negative(struct resp *r, const struct snap *s, unsigned apex_off,
		     unsigned rcode)
{
	uint8_t ptr[2];
	size_t save = r->len;

	r->rcode = rcode;
	r->flags |= DNS_F_AA;
	wire_put16(ptr, (uint16_t)(0xc000u | (DNS_HDR_LEN + apex_off)));
	if (put(r, ptr, 2) && put(r, s->soa_neg, s->soa_neg_len)) {
		uint8_t *rd = r->buf + r->len - s->soa_neg_len;
		for (unsigned i = 0; i < s->soa_nptr; i++)
			memcpy(rd + s->soa_ptr[i], ptr, 2);
		r->ns = 1;
		return;
	}
	r->len = save;
	r->flags |= DNS_F_TC;
}

/* Copy a precompiled RRset answer.  Additional data is dropped when it
 * does not fit (it is optional), unless `need_ar` (referral glue). */
static void rrset(struct resp *r, const struct snap_rrset *rs, bool need_ar)
{
	size_t save = r->len;
	bool sig = r->dnssec && rs->sig.len;

	/* RRSIGs follow the answer records they cover; never dropped. */
	if (!put(r, rs->wire, rs->an_len) ||
	    (sig && !put(r, rs->sig.wire, rs->sig.len)) ||
	    !put(r, rs->wire + rs->an_len, rs->ns_len)) {
		r->len = save;
		r->flags |= DNS_F_TC;
		return;
	}
	r->an = (uint16_t)(rs->ancount + (sig ? rs->sig.count : 0));
	r->ns = rs->nscount;
	if (rs->ar_len && !put(r, rs->wire + rs->an_len + rs->ns_len,
			       rs->ar_len)) {
		if (need_ar)
			r->flags |= DNS_F_TC;
		return;
	}
	r->ar = rs->arcount;
}

/* --- DNSSEC: proofs appended to negative answers and referrals ------ */

/* Records for the authority section; no room: truncated, never cut. */
static void authority(struct resp *r, const struct snap_rrs *x)
{
	if (!x || !x->len || (r->flags & DNS_F_TC))
		return;
	if (!put(r, x->wire, x->len)) {
		r->flags |= DNS_F_TC;
		return;
	}
	r->ns = (uint16_t)(r->ns + x->count);
}

/* NODATA: the SOA's RRSIGs and the name's NSEC (a service whose family
 * has nothing to answer has its own). */
static void nodata_proof(struct resp *r, const struct snap *s,
			 const struct snap_node *n, const struct snap_svc *svc)
{
	if (!r->dnssec)
		return;
	authority(r, &s->soa_sig);
	authority(r, svc && svc->nsec ? svc->nsec : n->nsec);
}

/* NXDOMAIN: the SOA's RRSIGs, the NSEC covering the name and the one
 * covering the wildcard at its closest encloser (RFC 4035 3.1.3.2). */
static void nxdomain_proof(struct resp *r, const struct snap *s,
			   const struct wire_query *q)
{
	const struct snap_node *ce = NULL;
	unsigned stop = q->nlabels - s->apex_labels;
	uint8_t wc[DNS_NAME_MAX];

	authority(r, &s->soa_sig);
	/* No name is deeper than node_labels: start there. */
	unsigned first = q->nlabels > s->node_labels ?
		q->nlabels - s->node_labels : 1;
	for (unsigned i = first; i <= stop && !ce; i++) {
		unsigned off = q->label_off[i];
		uint8_t len = (uint8_t)(q->qname_len - off);
		ce = snap_lookup(s, q->qname + off, len,
				 wire_name_hash(q->qname + off, len));
	}
	const struct snap_node *cover = snap_chain_floor(s, q->qname,
							 q->qname_len);
	authority(r, cover->nsec);
	if (!ce)
		return; /* cannot be: the apex is a node */
	wc[0] = 1;
	wc[1] = '*';
	memcpy(wc + 2, ce->name, ce->name_len);
	const struct snap_node *wcover = snap_chain_floor(s, wc,
							  ce->name_len + 2u);
	if (wcover != cover)
		authority(r, wcover->nsec);
}

/* A referral: NS in authority, then (DNSSEC) the DS RRset or the NSEC
 * proving the child unsigned, then the glue, which must fit. */
static void referral(struct resp *r, const struct snap_node *n)
{
	const struct snap_rrset *rs = n->referral;
	const struct snap_rrs *sec = r->dnssec ? n->ref_sec : NULL;
	size_t save = r->len;

	if (!sec) {
		rrset(r, rs, true);
		return;
	}
	if (!put(r, rs->wire, rs->ns_len) || !put(r, sec->wire, sec->len) ||
	    !put(r, rs->wire + rs->ns_len, rs->ar_len)) {
		r->len = save;
		r->flags |= DNS_F_TC;
		return;
	}
	r->ns = (uint16_t)(rs->nscount + sec->count);
	r->ar = rs->arcount;
}

/* Topology: the client's subnet (ECS, else the resolver's address)
 * picks a region; no rule or no healthy endpoint there: everything
 * (and service() falls back to everything too when the region has no
 * address of the family asked for). */
static const struct snap_group *
pick_topology(const struct snap *s, const struct snap_svc *svc,
	      const struct wire_query *q, const struct sockaddr *from,
	      struct resp *r)
{
	uint8_t fam = 0, srclen = 0;
	const uint8_t *addr = NULL;

	r->scope = 0;
	if (q->ecs) {
		/* Source 0: the client asked that no subnet be used (RFC 7871
		 * 7.1.2); the answer then depends on nothing: scope 0. */
		if (!q->ecs_source)
			return &svc->groups[svc->all_group];
		fam = q->ecs_family == 1 ? AF_INET : AF_INET6;
		addr = q->ecs_addr;
		srclen = q->ecs_source;
	} else if (from && from->sa_family == AF_INET) {
		fam = AF_INET;
		addr = (const uint8_t *)&((const struct sockaddr_in *)from)->sin_addr;
		srclen = 32;
	} else if (from && from->sa_family == AF_INET6) {
		const struct in6_addr *a6 =
			&((const struct sockaddr_in6 *)from)->sin6_addr;
		if (IN6_IS_ADDR_V4MAPPED(a6)) {
			fam = AF_INET;
			addr = a6->s6_addr + 12;
			srclen = 32;
		} else {
			fam = AF_INET6;
			addr = a6->s6_addr;
			srclen = 128;
		}
	}
	if (!addr)
		return &svc->groups[svc->all_group];
	/* No rule holds the client: the answer is right for its whole
	 * subnet only down to the longest rule that overlaps it (RFC 7871
	 * allows a scope longer than the source). */
	uint8_t scope = srclen;
	for (uint32_t i = 0; i < s->ntopo; i++) {
		const struct snap_topo *t = &s->topo[i];
		if (t->family != fam)
			continue;
		if (t->prefix <= srclen && prefix_match(t->addr, addr, t->prefix)) {
			r->scope = t->scope;
			uint16_t g = svc->region_group[t->region];
			return &svc->groups[g < svc->ngroups ? g : svc->all_group];
		}
		if (prefix_match(t->addr, addr, t->prefix < srclen ? t->prefix :
				 srclen) && t->prefix > scope)
			scope = t->prefix;
	}
	r->scope = scope;
	return &svc->groups[svc->all_group];
}

/* The address family a query asks for: 4 (A), 6 (AAAA), 0 (ANY: either). */
static inline unsigned query_family(const struct wire_query *q)
{
	return q->qtype == DNS_T_A ? 4 : q->qtype == DNS_T_AAAA ? 6 : 0;
}

static inline bool group_has(const struct snap_group *g, unsigned fam)
{
	return fam == 4 ? g->n4 : fam == 6 ? g->n6 : g->n4 || g->n6;
}

/* Weighted: among the groups with an address of the family asked for,
 * so that an IPv4-only endpoint never makes an AAAA answer empty while
 * another endpoint has IPv6.  All weights 0: each such group alike. */
static const struct snap_group *pick_weighted(struct answer_ctx *c,
					      const struct snap_svc *svc,
					      unsigned fam)
{
	uint32_t total = fam == 4 ? svc->weight4 :
			 fam == 6 ? svc->weight6 : svc->total_weight;
	uint64_t x;

	if (unlikely(!total)) {
		uint16_t n = 0;
		for (uint16_t i = 0; i < svc->ngroups; i++)
			n += group_has(&svc->groups[i], fam) || !fam;
		if (!n)
			return &svc->groups[0]; /* none has it: NODATA */
		x = rng_next(c) % n;
		for (uint16_t i = 0; i < svc->ngroups; i++)
			if ((group_has(&svc->groups[i], fam) || !fam) &&
			    x-- == 0)
				return &svc->groups[i];
		return &svc->groups[svc->ngroups - 1];
	}
	x = rng_next(c) % total;
	for (uint16_t i = 0; i < svc->ngroups; i++) {
		const struct snap_group *g = &svc->groups[i];
		if (fam && !group_has(g, fam))
			continue;
		if (x < g->weight)
			return g;
		x -= g->weight;
	}
	return &svc->groups[svc->ngroups - 1];
}

/* A/AAAA of a service, chosen by its policy. */
static void service(struct answer_ctx *c, struct resp *r,
		    const struct snap *s, const struct snap_node *node,
		    const struct snap_svc *svc, const struct wire_query *q,
		    const struct sockaddr *from, unsigned apex_off)
{
	const struct snap_group *g;

	if (unlikely(svc->down == SNAP_DOWN_SERVFAIL)) {
		r->rcode = DNS_R_SERVFAIL;
		return;
	}
	if (unlikely(svc->down == SNAP_DOWN_NODATA || !svc->ngroups)) {
		negative(r, s, apex_off, DNS_R_NOERROR);
		nodata_proof(r, s, node, svc);
		return;
	}
	switch (svc->policy) {
	case POLICY_WEIGHTED:
		g = pick_weighted(c, svc, query_family(q));
		break;
	case POLICY_TOPOLOGY:
		g = pick_topology(s, svc, q, from, r);
		/* The fallback to everything is per family: a region with
		 * only IPv4 sends an AAAA query to the others' IPv6. */
		if (!group_has(g, query_family(q)))
			g = &svc->groups[svc->all_group];
		break;
	default:
		g = &svc->groups[0];
		break;
	}
	if (svc->policy != POLICY_TOPOLOGY)
		r->scope = 0;

	bool v6 = q->qtype == DNS_T_AAAA || (q->qtype == DNS_T_ANY && !g->n4);
	unsigned n = v6 ? g->n6 : g->n4;
	const uint8_t *base = v6 ? svc->rr6 + (size_t)g->off6 * SNAP_RR6_LEN :
		svc->rr4 + (size_t)g->off4 * SNAP_RR4_LEN;
	size_t rl = v6 ? SNAP_RR6_LEN : SNAP_RR4_LEN;

	r->flags |= DNS_F_AA;
	if (!n) {
		negative(r, s, apex_off, DNS_R_NOERROR);
		nodata_proof(r, s, node, svc);
		return;
	}
	unsigned cnt = svc->max_answers && n > svc->max_answers ?
		svc->max_answers : n;
	unsigned start = c->rot++ % n;
	const struct snap_rrs *sig = NULL;
	if (r->dnssec && (sig = v6 ? g->sig6 : g->sig4))
		sig += cnt < n ? start : 0; /* each window is signed apart */
	if (r->len + cnt * rl + (sig ? sig->len : 0) > r->limit) {
		r->flags |= DNS_F_TC;
		return;
	}
	for (unsigned i = 0, k = start; i < cnt; i++) {
		memcpy(r->buf + r->len, base + k * rl, rl);
		r->len += rl;
		if (++k == n)
			k = 0;
	}
	r->an = (uint16_t)cnt;
	if (sig) {
		memcpy(r->buf + r->len, sig->wire, sig->len);
		r->len += sig->len;
		r->an = (uint16_t)(r->an + sig->count);
	}
}

/* qtype NSEC at a name of a signed zone: its NSEC (and, with DO, the
 * RRSIGs after it in the same wire).  False for an empty non-terminal,
 * which has none of its own. */
static bool nsec_answer(struct resp *r, const struct snap_node *n)
{
	const struct snap_rrs *x = n->nsec;

	if (!x || x->len < n->name_len + 10u ||
	    memcmp(x->wire, n->name, n->name_len) != 0)
		return false;
	size_t one = n->name_len + 10u + wire_get16(x->wire + n->name_len + 8);
	size_t len = r->dnssec ? x->len : one;
	if (!put(r, x->wire, len)) {
		r->flags |= DNS_F_TC;
		return true;
	}
	r->an = r->dnssec ? x->count : 1;
	return true;
}

/* In-zone data for an existing name. */
static void node_answer(struct answer_ctx *c, struct resp *r,
			const struct snap *s, const struct snap_node *n,
			const struct wire_query *q, const struct sockaddr *from,
			unsigned apex_off)
{
	uint16_t qt = q->qtype;
	const struct snap_rrset *rs;

	if (unlikely(n->flags & SNAP_N_CUT) && qt != DNS_T_DS) {
		referral(r, n);
		r->referral = true;
		r->cut = n->hash;
		return;
	}
	const struct snap_svc *svc = snap_node_svc(s, n);
	if (svc && (qt == DNS_T_A || qt == DNS_T_AAAA || qt == DNS_T_ANY)) {
		service(c, r, s, n, svc, q, from, apex_off);
		return;
	}
	r->flags |= DNS_F_AA;
	if (unlikely(qt == DNS_T_NSEC) && nsec_answer(r, n))
		return;
	if (qt == DNS_T_ANY)
		rs = n->nrrsets ? &n->rrsets[0] : NULL; /* RFC 8482: one */
	else if (!(rs = snap_rrset_find(n, qt)))
		rs = snap_rrset_find(n, DNS_T_CNAME);
	if (rs) {
		rrset(r, rs, false);
	} else {
		negative(r, s, apex_off, DNS_R_NOERROR);
		nodata_proof(r, s, n, NULL);
	}
}

/* DNSSEC: the DNAME's RRSIGs after it, owned (like it) by the qname's
 * suffix at offset off; the CNAME made from it stays unsigned, as RFC
 * 6672 5.3.1 lets validators accept.  False when it does not fit. */
static bool dname_sig(struct resp *r, const struct snap_rrset *dn,
		      unsigned off)
{
	size_t at = r->len;

	if (!dn->sig.len)
		return true;
	if (!put(r, dn->sig.wire, dn->sig.len))
		return false;
	for (size_t p = at; p + 12 <= r->len;
	     p += 12 + wire_get16(r->buf + p + 10))
		wire_put16(r->buf + p, (uint16_t)(0xc000u | (DNS_HDR_LEN + off)));
	r->an = (uint16_t)(r->an + dn->sig.count);
	return true;
}

/*
 * RFC 6672 3.2: the query name is below the DNAME at its label i (the
 * owner starts at qname offset off).  The answer is the DNAME, its owner
 * pointing into the question, and a CNAME from the query name to the
 * query name with the owner replaced by the target, with the DNAME's TTL:
 * the labels before the owner, as the client wrote them, then a pointer
 * to the target in the DNAME.  Like a CNAME, the new name is not chased:
 * resolvers ask for it.  A new name over 255 bytes: YXDOMAIN.
 */
static void dname_answer(struct resp *r, const struct snap_rrset *dn,
			 const struct wire_query *q, unsigned off)
{
	size_t at = r->len, tlen = (size_t)dn->an_len - 12;
	uint8_t rr[12];

	r->flags |= DNS_F_AA;
	if (!put(r, dn->wire, dn->an_len)) {
		r->flags |= DNS_F_TC;
		return;
	}
	wire_put16(r->buf + at, (uint16_t)(0xc000u | (DNS_HDR_LEN + off)));
	r->an = 1;
	if (r->dnssec && !dname_sig(r, dn, off)) {
		r->flags |= DNS_F_TC;
		return;
	}
	if (off + tlen > DNS_NAME_MAX) {
		r->rcode = DNS_R_YXDOMAIN;
		return;
	}
	wire_put16(rr, 0xc00c);
	wire_put16(rr + 2, DNS_T_CNAME);
	wire_put16(rr + 4, DNS_C_IN);
	memcpy(rr + 6, dn->wire + 6, 4); /* the DNAME's TTL */
	wire_put16(rr + 10, (uint16_t)(off + 2));
	uint8_t ptr[2];
	wire_put16(ptr, (uint16_t)(0xc000u | (at + 12)));
	if (!put(r, rr, sizeof(rr)) ||
	    !put(r, r->buf + DNS_HDR_LEN, off) || !put(r, ptr, 2)) {
		r->flags |= DNS_F_TC;
		return;
	}
	r->an = (uint16_t)(r->an + 1); /* the CNAME */
}

/* A name that does not exist: below a delegation, below a DNAME, or
 * NXDOMAIN.  The nearest such ancestor decides; a DNAME may sit at the
 * apex, a delegation cannot. */
static void no_node(struct resp *r, const struct snap *s,
		    const struct wire_query *q, unsigned apex_off)
{
	if (s->has_cuts || s->has_dname) {
		unsigned stop = q->nlabels - s->apex_labels;
		/* No cut or DNAME is deeper than cut_labels: start there. */
		unsigned first = q->nlabels > s->cut_labels ?
			q->nlabels - s->cut_labels : 1;
		for (unsigned i = first; i <= stop; i++) {
			unsigned off = i == stop ? apex_off : q->label_off[i];
			uint8_t len = (uint8_t)(q->qname_len - off);
			const struct snap_node *n = snap_lookup(s,
				q->qname + off, len,
				wire_name_hash(q->qname + off, len));
			const struct snap_rrset *dn;
			if (!n)
				continue;
			if (i < stop && (n->flags & SNAP_N_CUT)) {
				referral(r, n);
				r->referral = true;
				r->cut = n->hash;
				return;
			}
			if (s->has_dname &&
			    (dn = snap_rrset_find(n, DNS_T_DNAME))) {
				dname_answer(r, dn, q, off);
				r->dname = true;
				r->cut = n->hash;
				return;
			}
		}
	}
	negative(r, s, apex_off, DNS_R_NXDOMAIN);
	if (r->dnssec)
		nxdomain_proof(r, s, q);
}

/* CH TXT id.server / hostname.bind / version.bind / version.server. */
static void chaos(struct resp *r, const struct snap *s,
		  const struct wire_query *q)
{
	static const uint8_t id1[] = "\x02id\x06server";
	static const uint8_t id2[] = "\x08hostname\x04" "bind";
	static const uint8_t ver1[] = "\x07version\x04" "bind";
	static const uint8_t ver2[] = "\x07version\x06server";
	const uint8_t *txt = NULL;
	uint16_t tlen = 0;

#define IS(x) (q->qname_len == sizeof(x) && !memcmp(q->qname, x, sizeof(x)))
	if (IS(id1) || IS(id2)) {
		txt = s->identity;
		tlen = s->identity_len;
	} else if (IS(ver1) || IS(ver2)) {
		txt = s->version;
		tlen = s->version_len;
	}
#undef IS
	if (!txt || (q->qtype != DNS_T_TXT && q->qtype != DNS_T_ANY)) {
		r->rcode = DNS_R_REFUSED;
		return;
	}
	uint8_t rr[12];
	wire_put16(rr, 0xc00c);
	wire_put16(rr + 2, DNS_T_TXT);
	wire_put16(rr + 4, DNS_C_CH);
	wire_put32(rr + 6, 0);
	wire_put16(rr + 10, tlen);
	size_t save = r->len;
	if (put(r, rr, sizeof(rr)) && put(r, txt, tlen)) {
		r->an = 1;
		r->flags |= DNS_F_AA;
	} else {
		r->len = save;
		r->flags |= DNS_F_TC;
	}
}

static size_t opt_size(const struct snap *s, const struct wire_query *q)
{
	size_t n = 11;
	if (q->nsid && s->nsid)
		n += 4 + (size_t)s->nsid_len;
	if (q->ecs)
		n += 8 + (q->ecs_source + 7u) / 8u;
	return n;
}

/* OPT goes last; its room was reserved, so this cannot overflow. */
static void write_opt(struct resp *r, const struct snap *s,
		      const struct wire_query *q)
{
	uint8_t *p = r->buf + r->len;
	size_t rdlen = 0;

	p[0] = 0;
	wire_put16(p + 1, DNS_T_OPT);
	wire_put16(p + 3, s->edns_udp_size);
	p[5] = (uint8_t)(r->rcode >> 4);
	p[6] = 0; /* version */
	wire_put16(p + 7, q->edns_flags & EDNS_F_DO);
	uint8_t *o = p + 11;
	if (q->nsid && s->nsid) {
		wire_put16(o, EDNS_O_NSID);
		wire_put16(o + 2, s->nsid_len);
		memcpy(o + 4, s->nsid, s->nsid_len);
		o += 4 + s->nsid_len;
	}
	if (q->ecs) {
		unsigned alen = (q->ecs_source + 7u) / 8u;
		wire_put16(o, EDNS_O_ECS);
		wire_put16(o + 2, (uint16_t)(4 + alen));
		wire_put16(o + 4, q->ecs_family);
		o[6] = q->ecs_source;
		o[7] = r->ecs ? r->scope : 0;
		memcpy(o + 8, q->ecs_addr, alen);
		o += 8 + alen;
	}
	if (r->cookie) {
		wire_put16(o, EDNS_O_COOKIE);
		wire_put16(o + 2, COOKIE_CLIENT_LEN + COOKIE_SERVER_LEN);
		memcpy(o + 4, q->cookie_data, COOKIE_CLIENT_LEN);
		memcpy(o + 4 + COOKIE_CLIENT_LEN, r->sc, COOKIE_SERVER_LEN);
		o += COOKIE_OPT_LEN;
	}
	rdlen = (size_t)(o - (p + 11));
	wire_put16(p + 9, (uint16_t)rdlen);
	r->len += 11 + rdlen;
	r->ar++;
}

static void count(struct answer_ctx *c, const struct wire_query *q, bool tcp)
{
	static const uint8_t qt_index[256] = {
		[DNS_T_A] = ANSWER_QT_A + 1, [DNS_T_AAAA] = ANSWER_QT_AAAA + 1,
		[DNS_T_NS] = ANSWER_QT_NS + 1, [DNS_T_SOA] = ANSWER_QT_SOA + 1,
		[DNS_T_ANY] = ANSWER_QT_ANY + 1, [DNS_T_TXT] = ANSWER_QT_TXT + 1,
	};
	unsigned i = q->qd_ok && q->qtype < 256 ? qt_index[q->qtype] : 0;

	if (tcp)
		c->st.tcp++;
	else
		c->st.udp++;
	c->st.qtype[i ? i - 1 : ANSWER_QT_OTHER]++;
	if (q->edns)
		c->st.edns++;
	if (q->ecs)
		c->st.ecs++;
}

/* RFC 7873 5.2: check the client's server cookie and make the one to
 * answer with.  Never BADCOOKIE here: without a policy that requires
 * cookies, a missing or stale one gets a normal answer and a fresh
 * cookie (5.2.3, 5.2.4); only rate limiting answers BADCOOKIE
 * (rrl_slip). */
static void answer_cookie(struct answer_ctx *c, struct resp *r,
			  const struct snap *s, const struct wire_query *q,
			  const struct sockaddr *from)
{
	struct timespec ts;

	/* The coarse clock: a vDSO read of the last tick, no syscall. */
	clock_gettime(CLOCK_REALTIME_COARSE, &ts);
	c->last.cookie = (uint8_t)cookie_answer(&s->cookie, q->cookie_data,
		q->cookie_len, from, (uint32_t)ts.tv_sec, r->sc);
	c->st.guard[c->last.cookie == COOKIE_VALID ? ANSWER_G_COOKIE_VALID :
		    ANSWER_G_COOKIE_CLIENT]++;
	r->cookie = true;
}

/* What rate limiting groups this answer by (NSD's classes, rrl.h). */
static void rrl_facts(struct answer_ctx *c, const struct snap *s,
		      const struct wire_query *q, const struct resp *r)
{
	struct rrl_facts *f = &c->last;

	if (r->rcode == DNS_R_NXDOMAIN) {
		f->kind = RRL_K_NXDOMAIN;
		f->name = s->rrl.apex_hash;
	} else if (r->rcode != DNS_R_NOERROR) {
		f->kind = RRL_K_ERROR;
		f->name = 0;
	} else if (r->referral) {
		f->kind = RRL_K_REFERRAL;
		f->name = r->cut;
	} else if (r->dname) {
		/* by the DNAME, not the query name: random names below it
		 * must not each get an allowance (NSD's wildcard class) */
		f->kind = RRL_K_DNAME;
		f->name = r->cut;
	} else if (q->qtype == DNS_T_ANY) {
		f->kind = RRL_K_ANY;
		f->name = r->qhash;
	} else if (!r->an) {
		f->kind = RRL_K_NODATA;
		f->name = s->rrl.apex_hash;
	} else {
		f->kind = RRL_K_POSITIVE;
		f->name = r->qhash;
	}
}

/* Decide the answer for a query that parsed. */
static void resolve(struct answer_ctx *c, struct resp *r,
		    const struct snap *s, const struct wire_query *q,
		    const struct sockaddr *from)
{
	unsigned apex_off;

	if (q->edns && q->edns_version > 0) {
		r->rcode = DNS_R_BADVERS;
		return;
	}
	if (q->qclass == DNS_C_CH) {
		chaos(r, s, q);
		return;
	}
	if (q->qclass != DNS_C_IN || !in_zone(s, q, &apex_off)) {
		r->rcode = DNS_R_REFUSED;
		return;
	}
	switch (q->qtype) {
	case DNS_T_AXFR:
	case DNS_T_IXFR:
	case DNS_T_TKEY:
	case DNS_T_TSIG:
		r->rcode = DNS_R_REFUSED;
		return;
	case DNS_T_OPT:
	case 0:
		r->rcode = DNS_R_FORMERR;
		return;
	case DNS_T_MAILA:
	case DNS_T_MAILB:
		r->rcode = DNS_R_NOTIMP;
		return;
	default:
		break;
	}
	r->qhash = wire_name_hash(q->qname, q->qname_len);
	const struct snap_node *n = snap_lookup(s, q->qname, q->qname_len,
						r->qhash);
	if (n)
		node_answer(c, r, s, n, q, from, apex_off);
	else
		no_node(r, s, q, apex_off);
}

size_t answer_query(struct answer_ctx *c, const struct snap *s,
		    const uint8_t *pkt, size_t len, const struct sockaddr *from,
		    bool tcp, uint8_t *out, size_t outmax)
{
	struct wire_query q;
	struct resp r = { .buf = out };
	enum wire_verdict v = wire_parse_query(pkt, len, &q);

	c->last.kind = 0;
	c->last.cookie = COOKIE_NONE;
	if (unlikely(v == WIRE_DROP)) {
		c->st.dropped++;
		return 0;
	}
	count(c, &q, tcp);

	size_t max = 65535;
	if (!tcp) {
		max = DNS_UDP_PLAIN;
		if (q.edns && v == WIRE_OK && q.edns_udp > DNS_UDP_PLAIN)
			max = q.edns_udp < s->edns_udp_size ? q.edns_udp :
				s->edns_udp_size;
	}
	if (max > outmax)
		max = outmax;

	/* Header and question, as the client sent them. */
	size_t qlen = q.qd_ok ? q.qend : DNS_HDR_LEN;
	memcpy(out, pkt, qlen);
	r.len = qlen;
	r.flags = DNS_F_QR | (q.flags & (0x7800u | DNS_F_RD | DNS_F_CD));
	bool opt = q.edns && (v == WIRE_OK || v == WIRE_NOTIMP ||
			      v == WIRE_REFUSED);
	if (q.cookie && v == WIRE_OK && s->cookie.on)
		answer_cookie(c, &r, s, &q, from);
	size_t reserve = opt ? opt_size(s, &q) +
		(r.cookie ? COOKIE_OPT_LEN : 0) : 0;
	r.limit = max > reserve ? max - reserve : 0;

	switch (v) {
	case WIRE_OK:
		r.ecs = q.ecs;
		r.dnssec = s->dnssec && q.edns && (q.edns_flags & EDNS_F_DO);
		resolve(c, &r, s, &q, from);
		break;
	case WIRE_NOTIMP:
		r.rcode = DNS_R_NOTIMP;
		break;
	case WIRE_REFUSED:
		r.rcode = DNS_R_REFUSED;
		break;
	default:
		r.rcode = DNS_R_FORMERR;
		break;
	}
	rrl_facts(c, s, &q, &r);
	if (r.flags & DNS_F_TC) {
		/* Truncated: the client retries over TCP for everything. */
		r.len = qlen;
		r.an = r.ns = r.ar = 0;
		c->st.truncated++;
	}
	c->last.qlen = (uint16_t)qlen;
	c->last.opt = opt ? (uint16_t)r.len : 0;
	if (opt)
		write_opt(&r, s, &q);
	wire_put16(out + 2, (uint16_t)(r.flags | (r.rcode & 0xfu)));
	wire_put16(out + 4, q.qd_ok ? 1 : 0);
	wire_put16(out + 6, r.an);
	wire_put16(out + 8, r.ns);
	wire_put16(out + 10, r.ar);
	c->st.rcode[r.rcode < ANSWER_RCODES ? r.rcode : ANSWER_RCODES - 1]++;
	return r.len;
}
