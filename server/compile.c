/*
 * compile.c -- model + health + admin -> snapshot (compile.h).
 *
 * Zone data (SOA, apex NS, glue, zone-file records) goes through one
 * sorted ldns_rr_list; each owner/type run becomes a precompiled RRset.
 * NS runs below the apex are delegations: their names become referral
 * nodes and everything beneath them is glue, reachable only through the
 * referral.  Services become nodes with address groups per policy.
 */
#include "config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <ldns/ldns.h>

#include "server/compile.h"
#include "server/onlinesign.h"
#include "server/sign.h"
#include "lib/log.h"
#include "lib/prefix.h"
#include "lib/xalloc.h"

struct build {
	struct snap *s;
	struct snap_arena *a;
	const struct model *m;
	const struct compile_view *v;
	uint8_t *admin;       /* scratch: the current service's endpoints */
	size_t nadmin;
	ldns_rdf *apex;
	ldns_rr_list *zone;   /* all zone data, sorted */
	ldns_rr_list *glue;   /* A/AAAA of in-zone name servers */
	ldns_rdf **cuts;
	size_t ncuts;
	ldns_rdf **dnames;    /* DNAME owners: no name may lie below one */
	size_t ndnames;
	struct snap_node **table;
	uint32_t mask;
	uint32_t nnodes;
	bool patch;           /* table shared with the previous snapshot's */
	time_t now;           /* for signatures and key timing */
	struct sign *sign;    /* DNSSEC: NULL when the zone is not signed */
	char *err;
	size_t errlen;
};

__attribute__((format(printf, 2, 3)))
static int fail(struct build *b, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(b->err, b->errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int sign_set(struct build *b, const ldns_rr_list *set, bool ptr,
		    uint32_t ttl, struct snap_rrs *out);
static int sign_soa(struct build *b, const ldns_rr *soa, uint32_t ttl);
static int svc_sign(struct build *b, const struct model_service *ms,
		    const struct snap_svc *svc, struct snap_group *groups);
static int nsec_chain(struct build *b);
static int apex_keys(struct build *b);
static int compact_signer(struct build *b);
static int patch_svc_nsec(struct build *b, const struct snap *prev,
			  uint32_t k);

/* --- the name table ------------------------------------------------ */

/* Insert without probing for an existing entry (rehashing). */
static void table_put(struct snap_node **t, uint32_t mask, struct snap_node *n)
{
	uint32_t i = n->hash & mask;
	while (t[i])
		i = (i + 1) & mask;
	t[i] = n;
}

/* Keep the build table at most half full; it grows as names come. */
static void table_grow(struct build *b)
{
	uint32_t size = (b->mask + 1) * 2;
	struct snap_node **t = xcalloc(size, sizeof(*t));
	for (uint32_t i = 0; i <= b->mask; i++)
		if (b->table[i])
			table_put(t, size - 1, b->table[i]);
	free(b->table);
	b->table = t;
	b->mask = size - 1;
}

static struct snap_node *node_get(struct build *b, const uint8_t *name,
				  size_t len)
{
	uint32_t h = wire_name_hash(name, len);
	uint32_t i;

	for (i = h & b->mask; b->table[i]; i = (i + 1) & b->mask) {
		struct snap_node *n = b->table[i];
		if (n->hash == h && n->name_len == len &&
		    memcmp(n->name, name, len) == 0)
			return n;
	}
	if (2 * (b->nnodes + 1) > b->mask + 1) {
		/* A patch checked its room first: its table lives in the
		 * arena and cannot grow. */
		if (b->patch)
			return NULL;
		table_grow(b);
		for (i = h & b->mask; b->table[i]; i = (i + 1) & b->mask)
			;
	}
	struct snap_node *n = snap_alloc(b->a, sizeof(*n));
	n->name = snap_memdup(b->a, name, len);
	n->hash = h;
	n->name_len = (uint8_t)len;
	b->table[i] = n;
	b->nnodes++;
	uint8_t labels = wire_name_labels(name, len);
	if (labels > b->s->node_labels)
		b->s->node_labels = labels;
	return n;
}

/* The final table, in the snapshot's arena, sized for at most half
 * full so that misses (NXDOMAIN floods) stop after short probes, with a
 * quarter more for names that patches add before the next full build. */
static void table_final(struct build *b)
{
	uint32_t size = 16;
	while (size < 2 * b->nnodes + b->nnodes / 2 + 8)
		size <<= 1;
	struct snap_node **t = snap_alloc(b->a, size * sizeof(*t));
	for (uint32_t i = 0; i <= b->mask; i++)
		if (b->table[i])
			table_put(t, size - 1, b->table[i]);
	b->s->table = (const struct snap_node **)t;
	b->s->mask = size - 1;
	b->s->nnodes = b->nnodes;
}

/* The node for a name and empty non-terminals up to the apex, so that
 * names with descendants answer NODATA rather than NXDOMAIN. */
static struct snap_node *node_add(struct build *b, const ldns_rdf *name)
{
	const uint8_t *w = ldns_rdf_data(name);
	size_t len = ldns_rdf_size(name);
	struct snap_node *n = node_get(b, w, len);

	if (!n)
		return NULL;
	size_t off = 0;
	while (len - off > b->s->apex_len) {
		off += 1 + (size_t)w[off];
		if (!node_get(b, w + off, len - off))
			return NULL;
	}
	return n;
}

/* Patching: a copy of an existing node in this build's arena, put in its
 * place in the table (the original is shared and immutable), or NULL
 * when there is no such node. */
static struct snap_node *node_own(struct build *b, const ldns_rdf *name)
{
	const uint8_t *w = ldns_rdf_data(name);
	size_t len = ldns_rdf_size(name);
	uint32_t h = wire_name_hash(w, len);

	for (uint32_t i = h & b->mask; b->table[i]; i = (i + 1) & b->mask) {
		struct snap_node *n = b->table[i];
		if (n->hash != h || n->name_len != len || memcmp(n->name, w, len))
			continue;
		struct snap_node *c = snap_memdup(b->a, n, sizeof(*n));
		b->table[i] = c;
		return c;
	}
	return NULL;
}

static bool below_cut(const struct build *b, const ldns_rdf *name)
{
	for (size_t i = 0; i < b->ncuts; i++)
		if (ldns_dname_is_subdomain(name, b->cuts[i]))
			return true;
	return false;
}

static bool below_dname(const struct build *b, const ldns_rdf *name)
{
	for (size_t i = 0; i < b->ndnames; i++)
		if (ldns_dname_is_subdomain(name, b->dnames[i]))
			return true;
	return false;
}

static bool is_cut(const struct build *b, const ldns_rdf *name)
{
	for (size_t i = 0; i < b->ncuts; i++)
		if (ldns_dname_compare(name, b->cuts[i]) == 0)
			return true;
	return false;
}

/* --- zone data ------------------------------------------------------ */

static int push_str(struct build *b, ldns_rr_list *l, const char *text)
{
	ldns_rr *rr = NULL;
	if (ldns_rr_new_frm_str(&rr, text, 0, NULL, NULL) != LDNS_STATUS_OK)
		return fail(b, "cannot build record: %s", text);
	ldns_dname2canonical(ldns_rr_owner(rr));
	if (!ldns_rr_list_push_rr(l, rr))
		xalloc_die(sizeof(rr));
	return 0;
}

static int zone_data(struct build *b)
{
	const struct model_zone *z = &b->m->zone;
	char line[1024], ip[INET6_ADDRSTRLEN];

	/* Every model comes from cfg_load, which has turned serial 0 into
	 * the load time (cfg_fill_defaults). */
	assert(z->soa_serial != 0);
	snprintf(line, sizeof(line), "%s %u IN SOA %s %s %u %u %u %u %u",
		 z->apex, z->ttl, z->soa_mname, z->soa_rname, z->soa_serial,
		 z->soa_refresh, z->soa_retry, z->soa_expire, z->soa_minimum);
	if (push_str(b, b->zone, line) < 0)
		return -1;
	for (size_t i = 0; i < z->nns; i++) {
		const struct model_ns *ns = &z->ns[i];
		snprintf(line, sizeof(line), "%s %u IN NS %s", z->apex, z->ttl,
			 ns->name);
		if (push_str(b, b->zone, line) < 0)
			return -1;
		for (size_t j = 0; j < ns->naddrs; j++) {
			snprintf(line, sizeof(line), "%s %u IN %s %s",
				 ns->name, z->ttl,
				 ns->addrs[j].family == AF_INET ? "A" : "AAAA",
				 model_addr_str(&ns->addrs[j], ip, sizeof(ip)));
			if (push_str(b, b->glue, line) < 0 ||
			    push_str(b, b->zone, line) < 0)
				return -1;
		}
	}
	ldns_rr_list *st = (ldns_rr_list *)z->static_rrs;
	for (size_t i = 0; st && i < ldns_rr_list_rr_count(st); i++) {
		ldns_rr *rr = ldns_rr_clone(ldns_rr_list_rr(st, i));
		if (!rr || !ldns_rr_list_push_rr(b->zone, rr))
			xalloc_die(sizeof(*rr));
		ldns_dname2canonical(ldns_rr_owner(rr));
	}
	if (b->sign && apex_keys(b) < 0)
		return -1;
	ldns_rr_list_sort(b->zone);
	return 0;
}

/* The config and the zone file have no name below a DNAME; a Kubernetes
 * name may, and is hidden as one below a delegation is. */
static int find_dnames(struct build *b)
{
	size_t n = ldns_rr_list_rr_count(b->zone);

	b->dnames = xcalloc(n ? n : 1, sizeof(*b->dnames));
	for (size_t i = 0; i < n; i++) {
		ldns_rr *rr = ldns_rr_list_rr(b->zone, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNAME)
			b->dnames[b->ndnames++] = ldns_rr_owner(rr);
	}
	for (size_t i = 0; i < b->ndnames; i++) {
		size_t l = ldns_dname_label_count(b->dnames[i]);
		if (l > b->s->cut_labels)
			b->s->cut_labels = (uint8_t)l;
	}
	return 0;
}

static int find_cuts(struct build *b)
{
	size_t n = ldns_rr_list_rr_count(b->zone);

	b->cuts = xcalloc(n ? n : 1, sizeof(*b->cuts));
	for (size_t i = 0; i < n; i++) {
		ldns_rr *rr = ldns_rr_list_rr(b->zone, i);
		ldns_rdf *o = ldns_rr_owner(rr);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_NS &&
		    ldns_dname_compare(o, b->apex) != 0 && !is_cut(b, o))
			b->cuts[b->ncuts++] = o;
	}
	b->s->has_cuts = b->ncuts > 0;
	for (size_t i = 0; i < b->ncuts; i++) {
		size_t l = ldns_dname_label_count(b->cuts[i]);
		if (l > b->s->cut_labels)
			b->s->cut_labels = (uint8_t)l;
	}
	return find_dnames(b);
}

/* Wire for one RRset, compressed as if after a question for `owner`:
 * the answer section, then optional additional records. */
static int rrset_template(struct build *b, ldns_rdf *owner,
			  ldns_rr_list *rrs, ldns_rr_list *extra,
			  struct snap_rrset *out)
{
	ldns_pkt *p = ldns_pkt_new();
	ldns_rr *q = ldns_rr_new();
	uint8_t *w1 = NULL, *w2 = NULL;
	size_t l1 = 0, l2 = 0;
	int rc = -1;

	if (!p || !q)
		goto out;
	ldns_rr_set_owner(q, ldns_rdf_clone(owner));
	ldns_rr_set_type(q, ldns_rr_get_type(ldns_rr_list_rr(rrs, 0)));
	ldns_rr_set_class(q, LDNS_RR_CLASS_IN);
	ldns_rr_set_question(q, true);
	ldns_pkt_push_rr(p, LDNS_SECTION_QUESTION, q);
	q = NULL;
	for (size_t i = 0; i < ldns_rr_list_rr_count(rrs); i++)
		ldns_pkt_push_rr(p, LDNS_SECTION_ANSWER,
				 ldns_rr_clone(ldns_rr_list_rr(rrs, i)));
	if (ldns_pkt2wire(&w1, p, &l1) != LDNS_STATUS_OK)
		goto out;
	for (size_t i = 0; extra && i < ldns_rr_list_rr_count(extra); i++)
		ldns_pkt_push_rr(p, LDNS_SECTION_ADDITIONAL,
				 ldns_rr_clone(ldns_rr_list_rr(extra, i)));
	if (ldns_pkt2wire(&w2, p, &l2) != LDNS_STATUS_OK)
		goto out;
	size_t skip = DNS_HDR_LEN + ldns_rdf_size(owner) + 4;
	if (l1 < skip || l2 < l1 || l2 - skip > 65535)
		goto out;
	out->type = ldns_rr_get_type(ldns_rr_list_rr(rrs, 0));
	out->ancount = (uint16_t)ldns_rr_list_rr_count(rrs);
	out->arcount = (uint16_t)ldns_pkt_arcount(p);
	out->an_len = (uint16_t)(l1 - skip);
	out->ar_len = (uint16_t)(l2 - l1);
	out->wire = snap_memdup(b->a, w2 + skip, l2 - skip);
	rc = 0;
out:
	ldns_rr_free(q);
	ldns_pkt_free(p);
	free(w1);
	free(w2);
	return rc < 0 ? fail(b, "cannot compile an RRset") : 0;
}

/* A DNAME (a singleton RRset): owner as a pointer to offset 12, then
 * type, class, TTL and the target uncompressed (RFC 6672 2.5), so that
 * answer.c can point the owner at any suffix of a longer query name and
 * at the target from the CNAME it synthesizes. */
static int dname_template(struct build *b, ldns_rr_list *set,
			  struct snap_rrset *out)
{
	const ldns_rr *rr = ldns_rr_list_rr(set, 0);
	const ldns_rdf *t = ldns_rr_rdf(rr, 0);
	uint8_t buf[12 + DNS_NAME_MAX];
	size_t tl = t ? ldns_rdf_size(t) : 0;

	if (ldns_rr_list_rr_count(set) != 1 || !tl || tl > DNS_NAME_MAX)
		return fail(b, "cannot compile a DNAME");
	wire_put16(buf, 0xc00c);
	wire_put16(buf + 2, DNS_T_DNAME);
	wire_put16(buf + 4, DNS_C_IN);
	wire_put32(buf + 6, ldns_rr_ttl(rr));
	wire_put16(buf + 10, (uint16_t)tl);
	memcpy(buf + 12, ldns_rdf_data(t), tl);
	memset(out, 0, sizeof(*out));
	out->type = DNS_T_DNAME;
	out->ancount = 1;
	out->an_len = (uint16_t)(12 + tl);
	out->wire = snap_memdup(b->a, buf, 12 + tl);
	b->s->has_dname = true;
	return 0;
}

/* Append rr's uncompressed wire to buf (referrals may be answered for
 * names below the cut, where compression offsets would differ). */
static int append_rr(uint8_t **buf, size_t *len, const ldns_rr *rr)
{
	uint8_t *w = NULL;
	size_t n = 0;

	if (ldns_rr2wire(&w, rr, LDNS_SECTION_ANSWER, &n) != LDNS_STATUS_OK)
		return -1;
	uint8_t *nb = xrealloc(*buf, *len + n);
	memcpy(nb + *len, w, n);
	*buf = nb;
	*len += n;
	free(w);
	return 0;
}

static int referral_template(struct build *b, ldns_rr_list *ns,
			     struct snap_rrset *out)
{
	uint8_t *buf = NULL;
	size_t len = 0, nlen;
	uint16_t glue = 0;
	size_t zn = ldns_rr_list_rr_count(b->zone);

	for (size_t i = 0; i < ldns_rr_list_rr_count(ns); i++)
		if (append_rr(&buf, &len, ldns_rr_list_rr(ns, i)) < 0)
			goto bad;
	nlen = len;
	for (size_t i = 0; i < ldns_rr_list_rr_count(ns); i++) {
		ldns_rdf *target = ldns_rr_ns_nsdname(ldns_rr_list_rr(ns, i));
		for (size_t j = 0; j < zn; j++) {
			ldns_rr *rr = ldns_rr_list_rr(b->zone, j);
			ldns_rr_type t = ldns_rr_get_type(rr);
			if ((t == LDNS_RR_TYPE_A || t == LDNS_RR_TYPE_AAAA) &&
			    ldns_dname_compare(ldns_rr_owner(rr), target) == 0) {
				if (append_rr(&buf, &len, rr) < 0)
					goto bad;
				glue++;
			}
		}
	}
	if (len > 65535)
		goto bad;
	out->type = DNS_T_NS;
	out->nscount = (uint16_t)ldns_rr_list_rr_count(ns);
	out->arcount = glue;
	out->ns_len = (uint16_t)nlen;
	out->ar_len = (uint16_t)(len - nlen);
	out->wire = snap_memdup(b->a, buf, len);
	free(buf);
	return 0;
bad:
	free(buf);
	return fail(b, "cannot compile a referral");
}

/* Turn the sorted zone list into nodes: each owner's runs of one type. */
static int zone_nodes(struct build *b)
{
	size_t n = ldns_rr_list_rr_count(b->zone);

	for (size_t i = 0; i < n;) {
		ldns_rdf *owner = ldns_rr_owner(ldns_rr_list_rr(b->zone, i));
		size_t j = i;
		while (j < n && ldns_dname_compare(owner,
			ldns_rr_owner(ldns_rr_list_rr(b->zone, j))) == 0)
			j++;
		if (below_cut(b, owner)) { /* glue: only via referrals */
			i = j;
			continue;
		}
		/* A full build's table grows: node_add finds room. */
		struct snap_node *node = node_add(b, owner);
		struct snap_rrset *sets = snap_alloc(b->a, (j - i) * sizeof(*sets));
		node->rrsets = sets;
		bool cut = is_cut(b, owner);
		for (size_t k = i; k < j;) {
			ldns_rr_type t = ldns_rr_get_type(ldns_rr_list_rr(b->zone, k));
			ldns_rr_list *set = ldns_rr_list_new();
			if (!set)
				xalloc_die(sizeof(ldns_rr_list));
			for (; k < j && ldns_rr_get_type(ldns_rr_list_rr(b->zone, k)) == t; k++)
				ldns_rr_list_push_rr(set, ldns_rr_list_rr(b->zone, k));
			int rc = 0;
			uint16_t before = node->nrrsets;
			if (cut && t == LDNS_RR_TYPE_NS) {
				struct snap_rrset *ref = snap_alloc(b->a, sizeof(*ref));
				rc = referral_template(b, set, ref);
				node->referral = ref;
				node->flags |= SNAP_N_CUT;
			} else if (!cut && t == LDNS_RR_TYPE_DNAME) {
				rc = dname_template(b, set,
						    &sets[node->nrrsets++]);
			} else if (!cut || t == LDNS_RR_TYPE_DS) {
				/* DS lives on the parent side of the cut (RFC
				 * 4035 3.1.4.1): answered here, with AA. */
				bool apex_ns = t == LDNS_RR_TYPE_NS;
				rc = rrset_template(b, owner, set,
					apex_ns ? b->glue : NULL,
					&sets[node->nrrsets++]);
			}
			if (rc == 0 && b->sign && node->nrrsets > before)
				rc = sign_set(b, set, true, 0,
					      &sets[node->nrrsets - 1].sig);
			ldns_rr_list_free(set); /* not deep: rrs belong to zone */
			if (rc < 0)
				return -1;
		}
		if (ldns_dname_compare(owner, b->apex) == 0)
			node->flags |= SNAP_N_APEX;
		i = j;
	}
	return 0;
}

/* A name in SOA rdata, ending in a pointer placeholder when it lies in
 * the zone (the pointer to the apex depends on the query's name). */
static size_t soa_name(struct build *b, const ldns_rdf *name, uint8_t *out,
		       bool *ptr)
{
	const uint8_t *w = ldns_rdf_data(name);
	size_t len = ldns_rdf_size(name), apex = b->s->apex_len;

	*ptr = ldns_dname_compare(name, b->apex) == 0 ||
		ldns_dname_is_subdomain(name, b->apex);
	if (!*ptr) {
		memcpy(out, w, len);
		return len;
	}
	memcpy(out, w, len - apex);
	return len - apex + 2;
}

/* The SOA for negative answers: TTL = min(SOA TTL, minimum) (RFC 2308). */
static int soa_negative(struct build *b)
{
	const struct model_zone *z = &b->m->zone;
	ldns_rr *soa = NULL;
	uint8_t buf[10 + 2 * DNS_NAME_MAX + 20];
	size_t n = 10;

	for (size_t i = 0; i < ldns_rr_list_rr_count(b->zone); i++) {
		ldns_rr *rr = ldns_rr_list_rr(b->zone, i);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA)
			soa = rr;
	}
	if (!soa || ldns_rr_rd_count(soa) != 7)
		return fail(b, "cannot compile the SOA");
	wire_put16(buf, DNS_T_SOA);
	wire_put16(buf + 2, DNS_C_IN);
	wire_put32(buf + 4, z->ttl < z->soa_minimum ? z->ttl : z->soa_minimum);
	for (size_t i = 0; i < 2; i++) {
		ldns_rdf *d = ldns_rdf_clone(ldns_rr_rdf(soa, i));
		bool ptr;
		if (!d)
			xalloc_die(sizeof(ldns_rdf));
		ldns_dname2canonical(d);
		n += soa_name(b, d, buf + n, &ptr);
		ldns_rdf_deep_free(d);
		if (ptr)
			b->s->soa_ptr[b->s->soa_nptr++] = (uint16_t)(n - 2);
	}
	for (size_t i = 2; i < 7; i++) {
		memcpy(buf + n, ldns_rdf_data(ldns_rr_rdf(soa, i)), 4);
		n += 4;
	}
	wire_put16(buf + 8, (uint16_t)(n - 10));
	b->s->soa_neg = snap_memdup(b->a, buf, n);
	b->s->soa_neg_len = (uint16_t)n;
	return b->sign ? sign_soa(b, soa, wire_get32(buf + 4)) : 0;
}

/* --- services ------------------------------------------------------- */

struct svc_build {
	const struct model_service *ms;
	const uint8_t *admin; /* per endpoint of ms */
	struct snap_svc *svc;
	struct snap_group *groups;
	uint8_t *rr4, *rr6;
	uint16_t n4, n6;
	uint32_t ttl;
};

static uint8_t addr_health(const struct build *b, const struct model_addr *a)
{
	const struct compile_view *v = b->v;

	if (!v || !v->health || !a->target || a->target > v->nhealth)
		return HEALTH_UNKNOWN;
	return v->health[a->target - 1];
}

/* The addresses a policy may use now.  When nothing is healthy and the
 * service fails open, every administratively allowed address counts. */
static bool usable(const struct build *b, const struct svc_build *sb,
		   size_t ep, const struct model_addr *a, bool fail_open)
{
	uint8_t h = fail_open ? HEALTH_UP : addr_health(b, a);

	return model_answerable(sb->ms->eps[ep].enabled, sb->admin[ep], h);
}

/* Has the endpoint a usable address (of family fam; 0: any)? */
static bool ep_usable_fam(const struct build *b, const struct svc_build *sb,
			  size_t ep, bool fail_open, int fam)
{
	const struct model_endpoint *e = &sb->ms->eps[ep];

	for (size_t i = 0; i < e->naddrs; i++)
		if ((!fam || e->addrs[i].family == fam) &&
		    usable(b, sb, ep, &e->addrs[i], fail_open))
			return true;
	return false;
}

static bool ep_usable(const struct build *b, const struct svc_build *sb,
		      size_t ep, bool fail_open)
{
	return ep_usable_fam(b, sb, ep, fail_open, 0);
}

/* The admin state of every endpoint of ms, asked once per build. */
static const uint8_t *svc_admin(struct build *b, const struct model_service *ms)
{
	if (ms->neps > b->nadmin) {
		b->admin = xrealloc(b->admin, ms->neps);
		b->nadmin = ms->neps;
	}
	for (size_t i = 0; i < ms->neps; i++)
		b->admin[i] = b->v && b->v->admin ?
			(uint8_t)b->v->admin(b->v->admin_arg, ms, &ms->eps[i]) :
			ADMIN_NONE;
	return b->admin;
}

static void put_rr(struct svc_build *sb, const struct model_addr *a)
{
	bool v4 = a->family == AF_INET;
	uint8_t *p = v4 ? sb->rr4 + (size_t)sb->n4++ * SNAP_RR4_LEN :
		sb->rr6 + (size_t)sb->n6++ * SNAP_RR6_LEN;
	wire_put16(p, 0xc00c);
	wire_put16(p + 2, v4 ? DNS_T_A : DNS_T_AAAA);
	wire_put16(p + 4, DNS_C_IN);
	wire_put32(p + 6, sb->ttl);
	wire_put16(p + 10, v4 ? 4 : 16);
	memcpy(p + 12, v4 ? (const void *)&a->ip.v4 : (const void *)&a->ip.v6,
	       v4 ? 4 : 16);
}

/* Open a group; endpoints are then added with group_add. */
static struct snap_group *group_open(struct svc_build *sb, uint32_t weight)
{
	struct snap_group *g = &sb->groups[sb->svc->ngroups++];
	g->weight = weight;
	g->off4 = sb->n4;
	g->off6 = sb->n6;
	return g;
}

/* Whether g already answers address a: two endpoints of a config-file
 * service may list the same address, and an RRset must not hold a
 * record twice (RFC 2181 5). */
static bool group_has(const struct svc_build *sb, const struct snap_group *g,
		      const struct model_addr *a)
{
	bool v4 = a->family == AF_INET;
	const uint8_t *rr = v4 ? sb->rr4 + (size_t)g->off4 * SNAP_RR4_LEN :
		sb->rr6 + (size_t)g->off6 * SNAP_RR6_LEN;
	size_t len = v4 ? SNAP_RR4_LEN : SNAP_RR6_LEN;
	const void *ip = v4 ? (const void *)&a->ip.v4 : (const void *)&a->ip.v6;

	for (uint32_t i = 0; i < (v4 ? g->n4 : g->n6); i++, rr += len)
		if (!memcmp(rr + 12, ip, v4 ? 4 : 16))
			return true;
	return false;
}

/* The endpoint's usable addresses of family fam (0: any) into g. */
static void group_add_fam(const struct build *b, struct svc_build *sb,
			  struct snap_group *g, size_t e, bool fail_open,
			  int fam)
{
	const struct model_endpoint *ep = &sb->ms->eps[e];

	for (size_t i = 0; i < ep->naddrs; i++) {
		const struct model_addr *a = &ep->addrs[i];
		if ((fam && a->family != fam) || !usable(b, sb, e, a, fail_open) ||
		    group_has(sb, g, a))
			continue;
		put_rr(sb, a);
		if (a->family == AF_INET)
			g->n4++;
		else
			g->n6++;
	}
}

static void group_add(const struct build *b, struct svc_build *sb,
		      struct snap_group *g, size_t e, bool fail_open)
{
	group_add_fam(b, sb, g, e, fail_open, 0);
}

static void svc_groups(struct build *b, const struct model_service *ms,
		       struct svc_build *sb, bool fo)
{
	struct snap_svc *svc = sb->svc;
	struct snap_group *g;
	uint32_t best = UINT32_MAX;

	switch (ms->policy) {
	case POLICY_FAILOVER: {
		/* The best priority per address family: an AAAA query goes
		 * to the best endpoints that have IPv6, even when better ones
		 * have only IPv4. */
		uint32_t best6 = UINT32_MAX;
		for (size_t i = 0; i < ms->neps; i++) {
			uint32_t pr = ms->eps[i].priority;
			if (pr < best && ep_usable_fam(b, sb, i, fo, AF_INET))
				best = pr;
			if (pr < best6 && ep_usable_fam(b, sb, i, fo, AF_INET6))
				best6 = pr;
		}
		g = group_open(sb, 1);
		for (size_t i = 0; i < ms->neps; i++) {
			if (ms->eps[i].priority == best)
				group_add_fam(b, sb, g, i, fo, AF_INET);
			if (ms->eps[i].priority == best6)
				group_add_fam(b, sb, g, i, fo, AF_INET6);
		}
		break;
	}
	case POLICY_WEIGHTED:
		for (size_t i = 0; i < ms->neps; i++) {
			if (!ep_usable(b, sb, i, fo))
				continue;
			g = group_open(sb, ms->eps[i].weight);
			group_add(b, sb, g, i, fo);
			svc->total_weight += ms->eps[i].weight;
			svc->weight4 += g->n4 ? ms->eps[i].weight : 0;
			svc->weight6 += g->n6 ? ms->eps[i].weight : 0;
		}
		break;
	case POLICY_TOPOLOGY: {
		size_t nreg = b->m->ntopo;
		uint16_t *rg = snap_alloc(b->a, (nreg ? nreg : 1) * sizeof(*rg));
		for (size_t r = 0; r < nreg; r++) {
			rg[r] = UINT16_MAX;
			for (size_t i = 0; i < ms->neps; i++) {
				const struct model_endpoint *ep = &ms->eps[i];
				if (strcmp(ep->region, b->m->topo[r].region) ||
				    !ep_usable(b, sb, i, fo))
					continue;
				if (rg[r] == UINT16_MAX) {
					rg[r] = svc->ngroups;
					group_open(sb, 1);
				}
				group_add(b, sb, &sb->groups[rg[r]], i, fo);
			}
		}
		svc->region_group = rg;
	}
		/* The last group is everything usable. */
		__attribute__((fallthrough));
	default:
		svc->all_group = svc->ngroups;
		g = group_open(sb, 1);
		for (size_t i = 0; i < ms->neps; i++)
			group_add(b, sb, g, i, fo);
		break;
	}
}

/* The answer data of one service, in the build's arena. */
static const struct snap_svc *svc_data(struct build *b,
				       const struct model_service *ms)
{
	size_t n4 = 0, n6 = 0;
	bool healthy = false;
	struct svc_build sb = { .ms = ms, .admin = svc_admin(b, ms),
				.ttl = ms->ttl };

	for (size_t i = 0; i < ms->neps; i++) {
		for (size_t j = 0; j < ms->eps[i].naddrs; j++) {
			if (ms->eps[i].addrs[j].family == AF_INET)
				n4++;
			else
				n6++;
		}
		healthy = healthy || ep_usable(b, &sb, i, false);
	}
	if (2 * (n4 + n6) > UINT16_MAX) {
		fail(b, "too many addresses in service %s", ms->name);
		return NULL;
	}
	struct snap_svc *svc = snap_alloc(b->a, sizeof(*svc));
	/* Every address can appear twice (its region group and the
	 * all group), and there is one group per endpoint at most. */
	sb.svc = svc;
	sb.groups = snap_alloc(b->a, (ms->neps + b->m->ntopo + 1) *
			       sizeof(struct snap_group));
	sb.rr4 = snap_alloc(b->a, 2 * n4 * SNAP_RR4_LEN + 1);
	sb.rr6 = snap_alloc(b->a, 2 * n6 * SNAP_RR6_LEN + 1);
	svc->policy = (uint8_t)ms->policy;
	svc->max_answers = ms->max_answers > UINT16_MAX ? UINT16_MAX :
		(uint16_t)ms->max_answers;
	if (!healthy && ms->all_down == ALLDOWN_SERVFAIL)
		svc->down = SNAP_DOWN_SERVFAIL;
	else if (!healthy && ms->all_down == ALLDOWN_NODATA)
		svc->down = SNAP_DOWN_NODATA;
	svc_groups(b, ms, &sb, !healthy);
	svc->groups = sb.groups;
	svc->rr4 = sb.rr4;
	svc->rr6 = sb.rr6;
	svc->n4 = sb.n4;
	svc->n6 = sb.n6;
	if (b->sign && svc_sign(b, ms, svc, sb.groups) < 0)
		return NULL;
	return svc;
}

static int compile_service(struct build *b, size_t idx)
{
	const struct model_service *ms = &b->m->svcs[idx];
	ldns_rdf *name = ldns_dname_new_frm_str(ms->name);

	if (!name)
		return fail(b, "bad service name %s", ms->name);
	ldns_dname2canonical(name);
	if (below_cut(b, name) || is_cut(b, name)) {
		log_warn("service hidden by a delegation service=%s", ms->name);
		ldns_rdf_deep_free(name);
		return 0;
	}
	if (below_dname(b, name)) {
		log_warn("service hidden by a DNAME service=%s", ms->name);
		ldns_rdf_deep_free(name);
		return 0;
	}
	struct snap_node *node = b->patch ? node_own(b, name) : NULL;
	if (!node)
		node = node_add(b, name);
	ldns_rdf_deep_free(name);
	/* patch_table made room for every new name and its parents. */
	assert(node);
	if (!(b->s->svcs[idx] = svc_data(b, ms)))
		return -1;
	node->svc = (uint32_t)idx + 1;
	return 0;
}

static void service_tables(struct build *b, size_t n)
{
	b->s->nsvcs = (uint32_t)n;
	b->s->svcs = snap_alloc(b->a, (n ? n : 1) * sizeof(*b->s->svcs));
}

/* --- topology, chaos, NSID ------------------------------------------ */

/* Is inner a longer prefix inside outer? */
static bool net_in(const struct snap_topo *inner, const struct snap_topo *outer)
{
	return inner->family == outer->family &&
	       inner->prefix > outer->prefix &&
	       prefix_match(inner->addr, outer->addr, outer->prefix);
}

static int topo_cmp(const void *x, const void *y)
{
	const struct snap_topo *a = x, *b = y;
	return (int)b->prefix - (int)a->prefix;
}

static int topology(struct build *b)
{
	size_t n = 0, k = 0;

	for (size_t i = 0; i < b->m->ntopo; i++)
		n += b->m->topo[i].nnets;
	struct snap_topo *t = snap_alloc(b->a, (n ? n : 1) * sizeof(*t));
	for (size_t i = 0; i < b->m->ntopo; i++) {
		for (size_t j = 0; j < b->m->topo[i].nnets; j++, k++) {
			const struct model_net *mn = &b->m->topo[i].nets[j];
			t[k].family = (uint8_t)mn->family;
			t[k].prefix = mn->prefix;
			t[k].region = (uint16_t)i;
			memcpy(t[k].addr, mn->addr, 16);
		}
	}
	qsort(t, n, sizeof(*t), topo_cmp);
	/* A more specific rule inside this one splits its clients, so an
	 * answer from this rule is only valid at that finer scope. */
	for (size_t i = 0; i < n; i++) {
		t[i].scope = t[i].prefix;
		for (size_t j = 0; j < n; j++)
			if (net_in(&t[j], &t[i]) && t[j].prefix > t[i].scope)
				t[i].scope = t[j].prefix;
	}
	b->s->topo = t;
	b->s->ntopo = (uint32_t)n;
	return 0;
}

/* TXT rdata: the text in character-strings of at most 255 bytes. */
static const uint8_t *txt_rdata(struct build *b, const char *text,
				uint16_t *len)
{
	size_t n = strlen(text), out = 0;
	if (n > 4000)
		n = 4000;
	uint8_t *p = snap_alloc(b->a, n + n / 255 + 2);
	size_t i = 0;
	do {
		size_t chunk = n - i > 255 ? 255 : n - i;
		p[out++] = (uint8_t)chunk;
		memcpy(p + out, text + i, chunk);
		out += chunk;
		i += chunk;
	} while (i < n);
	*len = (uint16_t)out;
	return p;
}

/* Rate limiting and cookie keys: settings the workers read per query. */
static int guard_data(struct build *b)
{
	cookie_keys_build(&b->s->cookie, &b->m->cookies);
	/* It fails only for want of memory, and snap_memdup aborts. */
	(void)rrl_conf_build(&b->s->rrl, &b->m->rrl, b->a);
	b->s->rrl.apex_hash = wire_name_hash(b->s->apex, b->s->apex_len);
	return 0;
}

static int server_data(struct build *b)
{
	const struct model_server *sv = &b->m->server;
	struct snap *s = b->s;

	s->edns_udp_size = sv->edns_udp_size ? sv->edns_udp_size : 1232;
	if (sv->identity)
		s->identity = txt_rdata(b, sv->identity, &s->identity_len);
	if (sv->version)
		s->version = txt_rdata(b, sv->version, &s->version_len);
	if (sv->nsid) {
		size_t n = strlen(sv->nsid);
		s->nsid_len = (uint16_t)(n > 512 ? 512 : n);
		s->nsid = snap_memdup(b->a, sv->nsid, s->nsid_len);
	}
	return guard_data(b);
}

static int build_all(struct build *b)
{
	const struct model *m = b->m;

	if (!(b->apex = ldns_dname_new_frm_str(m->zone.apex)))
		return fail(b, "bad zone name %s", m->zone.apex);
	ldns_dname2canonical(b->apex);
	b->s->apex_len = (uint8_t)ldns_rdf_size(b->apex);
	memcpy(b->s->apex, ldns_rdf_data(b->apex), b->s->apex_len);
	b->s->apex_labels = (uint8_t)(ldns_dname_label_count(b->apex));
	if (!(b->zone = ldns_rr_list_new()) || !(b->glue = ldns_rr_list_new()))
		xalloc_die(sizeof(ldns_rr_list));
	if (zone_data(b) < 0 || find_cuts(b) < 0)
		return -1;
	b->mask = 1023;
	b->table = xcalloc(b->mask + 1, sizeof(*b->table));
	if (zone_nodes(b) < 0 || soa_negative(b) < 0 || topology(b) < 0 ||
	    server_data(b) < 0)
		return -1;
	service_tables(b, m->nsvcs);
	for (size_t i = 0; i < m->nsvcs; i++)
		if (compile_service(b, i) < 0)
			return -1;
	if (b->sign && nsec_chain(b) < 0)
		return -1;
	table_final(b);
	return 0;
}

struct snap *compile_snapshot(const struct model *m,
			      const struct compile_view *v,
			      uint64_t generation, char *err, size_t errlen)
{
	struct build b = { .m = m, .v = v, .err = err, .errlen = errlen };
	int rc = -1;

	b.a = snap_arena_new();
	b.s = snap_alloc(b.a, sizeof(*b.s));
	b.s->arena = b.a;
	b.s->arenas[0] = b.a;
	b.s->narenas = 1;
	b.s->generation = generation;
	b.now = time(NULL);
	b.sign = sign_new(&m->dnssec, b.now, v ? v->sigcache : NULL, true);
	if (v && v->collect)
		sign_collect(b.sign, v->collect);
	rc = build_all(&b);
	if (rc == 0 && b.sign && m->dnssec.denial == DENIAL_COMPACT)
		rc = compact_signer(&b);
	if (b.sign) {
		size_t made, reused;
		sign_counts(b.sign, &made, &reused);
		b.s->dnssec = true;
		b.s->sig_expire = sign_earliest(b.sign);
		b.s->sig_made = (uint32_t)b.now;
		b.s->key_event = sign_next_event(&m->dnssec, b.now);
		/* A collect build that missed nothing is a real one. */
		if (!(v && v->collect) || !sign_jobs_count(v->collect))
			log_info("zone signed signatures_made=%zu reused=%zu "
				 "earliest_expiry=%u", made, reused,
				 b.s->sig_expire);
	}
	sign_free(b.sign, rc == 0);
	free(b.admin);
	free(b.cuts);
	free(b.dnames);
	free(b.table);
	ldns_rr_list_deep_free(b.zone);
	ldns_rr_list_deep_free(b.glue);
	ldns_rdf_deep_free(b.apex);
	if (rc < 0) {
		snap_free(b.s);
		return NULL;
	}
	return b.s;
}

/* Room in a copy of prev's name table for the services new in m (slots
 * past prev->nsvcs), each with its empty non-terminals; or -1 when a full
 * build is due (no room, or delegations or DNAMEs to check them against). */
static int patch_table(struct build *b, const struct snap *prev)
{
	size_t add = 0;

	for (size_t i = prev->nsvcs; i < b->m->nsvcs; i++) {
		const char *n = b->m->svcs[i].name;
		add++;
		for (; *n; n++)
			add += *n == '.';
	}
	if (prev->has_cuts || prev->has_dname ||
	    2 * (prev->nnodes + add) > prev->mask + 1)
		return -1;
	b->mask = prev->mask;
	b->nnodes = prev->nnodes;
	b->table = snap_memdup(b->a, prev->table,
			       ((size_t)prev->mask + 1) * sizeof(*b->table));
	b->patch = true;
	b->s->table = (const struct snap_node **)b->table;
	return 0;
}

struct snap *compile_patch(const struct snap *prev, const struct model *m,
			   const struct compile_view *v,
			   const uint32_t *dirty, size_t ndirty,
			   uint64_t generation, char *err, size_t errlen)
{
	struct build b = { .m = m, .v = v, .err = err, .errlen = errlen };

	/* A key timing event passed: the DNSKEY RRset and the signing keys
	 * change together, in a full build. */
	if (prev->narenas >= SNAP_MAX_ARENAS || prev->nsvcs > m->nsvcs ||
	    (prev->key_event && time(NULL) >= (time_t)prev->key_event)) {
		snprintf(err, errlen, "a full rebuild is due");
		return NULL;
	}
	b.a = snap_arena_new();
	b.s = snap_alloc(b.a, sizeof(*b.s));
	/* Everything but the service table (and, for new names, the name
	 * table) is shared as it is. */
	*b.s = *prev;
	b.s->generation = generation;
	for (unsigned i = 0; i < prev->narenas; i++)
		snap_arena_ref(prev->arenas[i]);
	b.s->arenas[b.s->narenas++] = b.a;
	b.s->arena = b.a;
	service_tables(&b, m->nsvcs);
	memcpy(b.s->svcs, prev->svcs, prev->nsvcs * sizeof(*b.s->svcs));
	b.now = time(NULL);
	b.sign = sign_new(&m->dnssec, b.now, v ? v->sigcache : NULL, false);
	if (m->nsvcs > prev->nsvcs) {
		/* New names change the NSEC chain: a full build signs it. */
		if (b.sign || patch_table(&b, prev) < 0) {
			snprintf(err, errlen, "a full rebuild is due");
			goto fail;
		}
		for (size_t i = prev->nsvcs; i < m->nsvcs; i++)
			if (compile_service(&b, i) < 0)
				goto fail;
		b.s->nnodes = b.nnodes;
	}
	for (size_t i = 0; i < ndirty; i++) {
		uint32_t k = dirty[i];
		if (k >= prev->nsvcs || !prev->svcs[k])
			continue; /* new (done above), or hidden by a delegation */
		if (!(b.s->svcs[k] = svc_data(&b, &m->svcs[k])))
			goto fail;
		if (b.sign && patch_svc_nsec(&b, prev, k) < 0)
			goto fail;
	}
	if (b.sign && sign_earliest(b.sign) < b.s->sig_expire)
		b.s->sig_expire = sign_earliest(b.sign);
	sign_free(b.sign, true);
	free(b.admin);
	return b.s;
fail:
	sign_free(b.sign, false);
	free(b.admin);
	snap_free(b.s);
	return NULL;
}

/* --- DNSSEC: signatures and the NSEC chain ---------------------------- */

/* RFC 9824: the workers' online signer, with the zone-signing keys
 * active now (a key timing event forces a full build, so it follows the
 * keys as the chain does).  The chain stays built: it proves NODATA and
 * NXDOMAIN whenever a worker's bucket is empty. */
static int compact_signer(struct build *b)
{
	const struct model_dnssec *d = &b->m->dnssec;
	const struct model_zone *z = &b->m->zone;
	struct onsign_keys *k = onsign_keys_new(b->a, b->s->apex,
		b->s->apex_len, z->ttl < z->soa_minimum ? z->ttl : z->soa_minimum,
		d->validity, d->online_sign_rate);

	for (size_t i = 0; i < ldns_key_list_key_count(d->keys); i++)
		if ((d->zsk_mask & (1u << i)) && sign_key_active(d, i, b->now) &&
		    onsign_keys_add(k, ldns_key_list_key(d->keys, i)) < 0)
			return fail(b, "key %zu cannot sign online", i);
	b->s->onsign = k;
	return 0;
}

static int sign_set(struct build *b, const ldns_rr_list *set, bool ptr,
		    uint32_t ttl, struct snap_rrs *out)
{
	ldns_rr_list *sigs = sign_rrset(b->sign, set);
	int rc = sigs ? sign_wire(b->a, sigs, ptr, ttl, out) : -1;

	if (rc == 0)
		sign_note_wire(b->sign, sigs, out);

	ldns_rr_list_deep_free(sigs);
	return rc < 0 ? fail(b, "cannot sign an RRset") : 0;
}

/* The SOA's RRSIGs for negative answers: signed over the SOA as it is,
 * shown with the shortened TTL the SOA gets there. */
static int sign_soa(struct build *b, const ldns_rr *soa, uint32_t ttl)
{
	ldns_rr_list *l = ldns_rr_list_new();
	ldns_rr_list *sigs;
	int rc = -1;

	ldns_rr_list_push_rr(l, (ldns_rr *)soa);
	if ((sigs = sign_rrset(b->sign, l)) &&
	    (rc = sign_wire(b->a, sigs, false, ttl, &b->s->soa_sig)) == 0)
		sign_note_wire(b->sign, sigs, &b->s->soa_sig);
	ldns_rr_list_deep_free(sigs);
	ldns_rr_list_free(l); /* not deep: the SOA belongs to the zone */
	return rc < 0 ? fail(b, "cannot sign the SOA") : 0;
}

static ldns_rdf *name_rdf(const uint8_t *w, size_t len)
{
	ldns_rdf *d = ldns_rdf_new_frm_data(LDNS_RDF_TYPE_DNAME, len, w);
	if (!d)
		xalloc_die(len);
	return d;
}

/* The RRSIGs of cnt records of an address array, from start (wrapping
 * at n), as one RRset owned by the service's name. */
static int addr_sig(struct build *b, const ldns_rdf *owner,
		    const uint8_t *base, size_t rl, unsigned n,
		    unsigned start, unsigned cnt, struct snap_rrs *out)
{
	ldns_rr_list *l = ldns_rr_list_new();

	for (unsigned i = 0, k = start; i < cnt; i++, k = (k + 1) % n) {
		const uint8_t *p = base + (size_t)k * rl;
		ldns_rr *rr = ldns_rr_new();
		ldns_rr_set_owner(rr, ldns_rdf_clone(owner));
		ldns_rr_set_type(rr, wire_get16(p + 2));
		ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
		ldns_rr_set_ttl(rr, ((uint32_t)wire_get16(p + 6) << 16) |
				wire_get16(p + 8));
		ldns_rr_push_rdf(rr, ldns_rdf_new_frm_data(
			rl == SNAP_RR4_LEN ? LDNS_RDF_TYPE_A : LDNS_RDF_TYPE_AAAA,
			rl - 12, p + 12));
		ldns_rr_list_push_rr(l, rr);
	}
	int rc = sign_set(b, l, true, 0, out);
	ldns_rr_list_deep_free(l);
	return rc;
}

/* Signatures for every answer a group can give in one family: one, or
 * one per rotation start when the answer is capped below n records. */
static const struct snap_rrs *group_sigs(struct build *b,
					 const ldns_rdf *owner,
					 const struct snap_svc *svc,
					 const uint8_t *base, size_t rl,
					 unsigned n)
{
	if (!n)
		return NULL;
	unsigned cnt = svc->max_answers && n > svc->max_answers ?
		svc->max_answers : n;
	unsigned nw = cnt < n ? n : 1;
	struct snap_rrs *v = snap_alloc(b->a, nw * sizeof(*v));
	for (unsigned w = 0; w < nw; w++)
		if (addr_sig(b, owner, base, rl, n, w, cnt, &v[w]) < 0)
			return NULL;
	return v;
}

static int svc_sign(struct build *b, const struct model_service *ms,
		    const struct snap_svc *svc, struct snap_group *groups)
{
	ldns_rdf *owner = ldns_dname_new_frm_str(ms->name);
	int rc = 0;

	if (!owner)
		return fail(b, "bad service name %s", ms->name);
	ldns_dname2canonical(owner);
	for (uint16_t i = 0; i < svc->ngroups && rc == 0; i++) {
		struct snap_group *g = &groups[i];
		if (g->n4 && !(g->sig4 = group_sigs(b, owner, svc,
			svc->rr4 + (size_t)g->off4 * SNAP_RR4_LEN,
			SNAP_RR4_LEN, g->n4)))
			rc = -1;
		if (g->n6 && !(g->sig6 = group_sigs(b, owner, svc,
			svc->rr6 + (size_t)g->off6 * SNAP_RR6_LEN,
			SNAP_RR6_LEN, g->n6)))
			rc = -1;
	}
	ldns_rdf_deep_free(owner);
	return rc;
}

/* The address families a service is configured with: its NSEC bitmap
 * says what the name has, whatever is healthy now. */
static void svc_families(const struct model_service *ms, bool *v4, bool *v6)
{
	*v4 = *v6 = false;
	for (size_t i = 0; i < ms->neps; i++)
		for (size_t j = 0; j < ms->eps[i].naddrs; j++) {
			if (ms->eps[i].addrs[j].family == AF_INET)
				*v4 = true;
			else
				*v6 = true;
		}
}

static bool has_ds(const struct build *b, const uint8_t *name, size_t len,
		   ldns_rr_list *out)
{
	bool found = false;

	for (size_t i = 0; i < ldns_rr_list_rr_count(b->zone); i++) {
		ldns_rr *rr = ldns_rr_list_rr(b->zone, i);
		ldns_rdf *o = ldns_rr_owner(rr);
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_DS &&
		    ldns_rdf_size(o) == len && !memcmp(ldns_rdf_data(o), name, len)) {
			found = true;
			if (out)
				ldns_rr_list_push_rr(out, rr);
		}
	}
	return found;
}

/* The NSEC of a node, signed, as wire: types are the node's RRsets, the
 * service's families (v4/v6), NS (+DS) at a delegation. */
static int nsec_make(struct build *b, const struct snap_node *n,
		     const uint8_t *next, size_t next_len, bool v4, bool v6,
		     struct snap_rrs *out)
{
	ldns_rr_type types[64];
	size_t nt = 0;

	for (uint16_t i = 0; i < n->nrrsets && nt < 58; i++)
		types[nt++] = n->rrsets[i].type;
	if (v4)
		types[nt++] = LDNS_RR_TYPE_A;
	if (v6)
		types[nt++] = LDNS_RR_TYPE_AAAA;
	if (n->flags & SNAP_N_CUT) {
		types[nt++] = LDNS_RR_TYPE_NS;
		/* The DS, when the zone has one, is an RRset of the node. */
		if (!snap_rrset_find(n, DNS_T_DS) &&
		    has_ds(b, n->name, n->name_len, NULL))
			types[nt++] = LDNS_RR_TYPE_DS;
	}
	types[nt++] = LDNS_RR_TYPE_RRSIG;
	types[nt++] = LDNS_RR_TYPE_NSEC;

	const struct model_zone *z = &b->m->zone;
	ldns_rr *rr = ldns_rr_new();
	ldns_rr_set_owner(rr, name_rdf(n->name, n->name_len));
	ldns_rr_set_type(rr, LDNS_RR_TYPE_NSEC);
	ldns_rr_set_class(rr, LDNS_RR_CLASS_IN);
	/* RFC 9077: the lesser of the SOA's TTL and its minimum. */
	ldns_rr_set_ttl(rr, z->ttl < z->soa_minimum ? z->ttl : z->soa_minimum);
	ldns_rr_push_rdf(rr, name_rdf(next, next_len));
	ldns_rr_push_rdf(rr, ldns_dnssec_create_nsec_bitmap(types, nt,
		LDNS_RR_TYPE_NSEC));

	ldns_rr_list *l = ldns_rr_list_new();
	ldns_rr_list_push_rr(l, rr);
	ldns_rr_list *sigs = sign_rrset(b->sign, l);
	int rc = -1;
	if (sigs) {
		ldns_rr_list_cat(l, sigs);
		rc = sign_wire(b->a, l, false, 0, out);
		if (rc == 0)
			sign_note_wire(b->sign, sigs, out);
		ldns_rr_list_free(sigs); /* its records now belong to l */
	}
	ldns_rr_list_deep_free(l);
	return rc < 0 ? fail(b, "cannot sign an NSEC record") : 0;
}

/* The next name of a node's NSEC, read back from its wire. */
static const uint8_t *nsec_next(const struct snap_node *n, size_t *len)
{
	const uint8_t *p = n->nsec->wire + n->name_len + 10;
	size_t l = 0;

	while (p[l])
		l += 1 + (size_t)p[l];
	*len = l + 1;
	return p;
}

/* Does the NSEC in n's wire list type t? */
static bool nsec_has(const struct snap_node *n, ldns_rr_type t)
{
	ldns_rr *rr = NULL;
	size_t pos = 0;
	bool has = false;

	if (ldns_wire2rr(&rr, n->nsec->wire, n->nsec->len, &pos,
			 LDNS_SECTION_ANSWER) == LDNS_STATUS_OK &&
	    ldns_rr_rd_count(rr) == 2)
		has = ldns_nsec_bitmap_covers_type(ldns_rr_rdf(rr, 1), t);
	ldns_rr_free(rr);
	return has;
}

/* A service whose NODATA would be proven wrong by its name's NSEC: a
 * configured family with nothing to answer now (all its addresses out),
 * or (a Kubernetes edit patched in) families the chain's NSEC does not
 * match.  Its NODATA then carries an NSEC of its own, whose bitmap lists
 * what it answers now; validators would call the other one bogus. */
static int svc_nsec(struct build *b, const struct snap_node *n,
		    struct snap_svc *svc, const struct model_service *ms)
{
	bool c4, c6;

	svc_families(ms, &c4, &c6);
	bool none = svc->down == SNAP_DOWN_NODATA;
	bool a4 = c4 && svc->n4 && !none, a6 = c6 && svc->n6 && !none;
	svc->nsec = NULL;
	if (a4 == nsec_has(n, LDNS_RR_TYPE_A) &&
	    a6 == nsec_has(n, LDNS_RR_TYPE_AAAA))
		return 0;
	struct snap_rrs *v = snap_alloc(b->a, sizeof(*v));
	size_t nl;
	const uint8_t *next = nsec_next(n, &nl);
	if (nsec_make(b, n, next, nl, a4, a6, v) < 0)
		return -1;
	svc->nsec = v;
	return 0;
}

static int node_canon_cmp(const void *x, const void *y)
{
	const struct snap_node *a = *(const struct snap_node *const *)x;
	const struct snap_node *c = *(const struct snap_node *const *)y;

	return snap_canon_cmp(a->name, a->name_len, c->name, c->name_len);
}

static bool is_ent(const struct snap_node *n)
{
	return !n->nrrsets && !n->svc && !(n->flags & SNAP_N_CUT);
}

/* The referral's DNSSEC part at a delegation: the DS RRset with its
 * RRSIGs when the zone has one, else the NSEC proving it has none. */
static int cut_sec(struct build *b, struct snap_node *n)
{
	ldns_rr_list *ds = ldns_rr_list_new();

	if (!has_ds(b, n->name, n->name_len, ds)) {
		ldns_rr_list_free(ds);
		n->ref_sec = n->nsec;
		return 0;
	}
	ldns_rr_list *sigs = sign_rrset(b->sign, ds);
	struct snap_rrs *v = snap_alloc(b->a, sizeof(*v));
	int rc = -1;
	if (sigs && v) {
		/* Shallow: the DS records are the zone's, the RRSIGs sigs'. */
		ldns_rr_list *all = ldns_rr_list_new();
		ldns_rr_list_cat(all, ds);
		ldns_rr_list_cat(all, sigs);
		rc = sign_wire(b->a, all, false, 0, v);
		if (rc == 0)
			sign_note_wire(b->sign, sigs, v);
		ldns_rr_list_free(all);
	}
	ldns_rr_list_deep_free(sigs);
	ldns_rr_list_free(ds); /* not deep: the zone's records */
	n->ref_sec = v;
	return rc < 0 ? fail(b, "cannot sign a DS RRset") : 0;
}

/* Every name's NSEC in canonical order, signed; empty non-terminals
 * point at the NSEC that covers them. */
static int nsec_chain(struct build *b)
{
	struct snap_node **all = xreallocarray(NULL, b->nnodes ? b->nnodes : 1,
					       sizeof(*all));
	uint32_t n = 0, nc = 0;
	int rc = -1;

	for (uint32_t i = 0; i <= b->mask; i++)
		if (b->table[i])
			all[n++] = b->table[i];
	qsort(all, n, sizeof(*all), node_canon_cmp);
	const struct snap_node **chain = snap_alloc(b->a,
		(n ? n : 1) * sizeof(*chain));
	for (uint32_t i = 0; i < n; i++)
		if (!is_ent(all[i]))
			chain[nc++] = all[i];
	b->s->chain = chain;
	b->s->nchain = nc;
	for (uint32_t i = 0; i < nc; i++) {
		struct snap_node *nd = (struct snap_node *)chain[i];
		const struct snap_node *next = chain[(i + 1) % nc];
		const struct snap_svc *svc = snap_node_svc(b->s, nd);
		bool v4 = false, v6 = false;
		struct snap_rrs *v = snap_alloc(b->a, sizeof(*v));
		if (svc)
			svc_families(&b->m->svcs[nd->svc - 1], &v4, &v6);
		if (nsec_make(b, nd, next->name, next->name_len, v4, v6, v) < 0)
			goto out;
		nd->nsec = v;
	}
	for (uint32_t i = 0; i < n; i++) {
		struct snap_node *nd = all[i];
		if (is_ent(nd))
			nd->nsec = snap_chain_floor(b->s, nd->name,
						    nd->name_len)->nsec;
		else if ((nd->flags & SNAP_N_CUT) && cut_sec(b, nd) < 0)
			goto out;
		else if (nd->svc && svc_nsec(b, nd,
				(struct snap_svc *)b->s->svcs[nd->svc - 1],
				&b->m->svcs[nd->svc - 1]) < 0)
			goto out;
	}
	rc = 0;
out:
	free(all);
	return rc;
}

/* A patched service's NODATA NSEC, against the name's node in prev. */
static int patch_svc_nsec(struct build *b, const struct snap *prev,
			  uint32_t k)
{
	const struct model_service *ms = &b->m->svcs[k];
	ldns_rdf *name = ldns_dname_new_frm_str(ms->name);

	if (!name)
		return fail(b, "bad service name %s", ms->name);
	ldns_dname2canonical(name);
	const uint8_t *w = ldns_rdf_data(name);
	size_t len = ldns_rdf_size(name);
	const struct snap_node *n = snap_lookup(prev, w, (uint8_t)len,
						wire_name_hash(w, len));
	ldns_rdf_deep_free(name);
	if (!n || !n->nsec)
		return fail(b, "a full rebuild is due");
	return svc_nsec(b, n, (struct snap_svc *)b->s->svcs[k], ms);
}

/* The apex's DNSKEY RRset (the keys published now), and CDS/CDNSKEY for
 * the parent (RFC 7344): the active KSKs', or the delete form (RFC 8078,
 * going insecure). */
static int apex_keys(struct build *b)
{
	const struct model_dnssec *d = &b->m->dnssec;
	char line[512];

	for (size_t i = 0; i < ldns_rr_list_rr_count(d->dnskeys); i++) {
		const ldns_rr *k = ldns_rr_list_rr(d->dnskeys, i);
		if (!sign_key_published(d, i, b->now))
			continue;
		ldns_rr_list_push_rr(b->zone, ldns_rr_clone(k));
		if (d->cds != CDS_PUBLISH || !(d->ksk_mask & (1u << i)) ||
		    !sign_key_active(d, i, b->now))
			continue;
		ldns_rr *cdnskey = ldns_rr_clone(k);
		ldns_rr *cds = ldns_key_rr2ds(k, LDNS_SHA256);
		if (!cds) {
			ldns_rr_free(cdnskey);
			return fail(b, "cannot make a CDS record");
		}
		ldns_rr_set_type(cdnskey, LDNS_RR_TYPE_CDNSKEY);
		ldns_rr_set_type(cds, LDNS_RR_TYPE_CDS);
		ldns_rr_set_ttl(cds, b->m->zone.ttl);
		ldns_rr_list_push_rr(b->zone, cdnskey);
		ldns_rr_list_push_rr(b->zone, cds);
	}
	if (d->cds == CDS_DELETE) {
		snprintf(line, sizeof(line), "%s %u IN CDS 0 0 0 00",
			 b->m->zone.apex, b->m->zone.ttl);
		if (push_str(b, b->zone, line) < 0)
			return -1;
		snprintf(line, sizeof(line), "%s %u IN CDNSKEY 0 3 0 AA==",
			 b->m->zone.apex, b->m->zone.ttl);
		if (push_str(b, b->zone, line) < 0)
			return -1;
	}
	return 0;
}
