/*
 * snap.h -- the answer snapshot: everything the workers need to answer,
 * precompiled to wire form, immutable once published.
 *
 * server/compile.c builds one from the model; server/answer.c reads it.
 * The structs are visible (not opaque) because the query path reads them
 * inline.  A snapshot and everything it points to live in one arena and
 * are freed together by snap_free(), after every worker has passed a
 * quiescent point (server/qsbr.h).
 *
 * Wire templates are compressed as if they followed a question whose name
 * is the node's own name at offset 12: a query for that node always puts
 * its name there, so compression pointers stay valid whatever the case of
 * the query.  A DNAME template is the one exception to compression: its
 * target is never compressed (RFC 6672 2.5) and its owner is the only
 * pointer, so the query path can move it behind a longer query name.
 */
#ifndef GSLBD_SNAP_H
#define GSLBD_SNAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "server/cookie.h"
#include "server/rrl.h"
#include "server/wire.h"

/* Whole records as wire, appended as they are: RRSIGs (owner a pointer
 * to the question name) or, for negative answers and referrals, NSEC /
 * DS records with their RRSIGs (owner in full). */
struct snap_rrs {
	const uint8_t *wire;
	uint16_t len, count;
};

/* One RRset's answer: answer, authority and additional sections. */
struct snap_rrset {
	uint16_t type;
	uint16_t ancount, nscount, arcount;
	uint16_t an_len, ns_len, ar_len;
	const uint8_t *wire; /* an_len + ns_len + ar_len bytes */
	struct snap_rrs sig; /* DNSSEC: its RRSIGs, after the answer part */
};

/* A set of addresses a policy may answer with: one endpoint, one region,
 * or everything healthy.  Indexes into snap_svc.rr4 / rr6. */
struct snap_group {
	uint32_t weight;
	uint16_t off4, n4;
	uint16_t off6, n6;
	/* DNSSEC: the RRSIGs of the A / AAAA answer; one per rotation start
	 * when max_answers caps the group (each window is its own RRset),
	 * else one. */
	const struct snap_rrs *sig4, *sig6;
};

enum { SNAP_DOWN_NONE = 0, SNAP_DOWN_SERVFAIL, SNAP_DOWN_NODATA };

struct snap_svc {
	uint8_t policy;      /* enum model_policy */
	uint8_t down;        /* SNAP_DOWN_*: nothing healthy, answer so */
	uint16_t max_answers; /* 0: no cap */
	uint16_t ngroups;
	uint16_t all_group;  /* topology: the group of every healthy one */
	uint32_t total_weight;
	uint32_t weight4, weight6; /* weighted: of the groups with A / AAAA */
	const struct snap_group *groups;
	const uint16_t *region_group; /* topology: region index -> group */
	const uint8_t *rr4;  /* A records, SNAP_RR4_LEN bytes each */
	const uint8_t *rr6;  /* AAAA records, SNAP_RR6_LEN bytes each */
	uint16_t n4, n6;
	/* DNSSEC: the NSEC for NODATA while a configured address family has
	 * nothing to answer (its bitmap without that type); NULL: the
	 * node's own. */
	const struct snap_rrs *nsec;
};

/* C0 0C, type, class, ttl, rdlength, rdata */
#define SNAP_RR4_LEN (2 + 10 + 4)
#define SNAP_RR6_LEN (2 + 10 + 16)

/* Patches before a full rebuild compacts the shared arenas again. */
#define SNAP_MAX_ARENAS 32

enum {
	SNAP_N_CUT = 1,  /* a delegation point below the apex */
	SNAP_N_APEX = 2,
};

struct snap_node {
	uint32_t hash;
	uint8_t name_len;
	uint8_t flags;
	uint16_t nrrsets;
	const uint8_t *name;  /* lower-case wire */
	const struct snap_rrset *rrsets; /* sorted by type */
	const struct snap_rrset *referral; /* CUT: NS + glue, uncompressed */
	uint32_t svc;         /* 1 + index into snap.svcs; 0: no service */
	/* DNSSEC: this name's NSEC (an empty non-terminal: the one that
	 * covers it) with RRSIGs; CUT: what a referral adds to authority,
	 * the DS RRset or the NSEC proving there is none. */
	const struct snap_rrs *nsec;
	const struct snap_rrs *ref_sec;
};

/* A topology rule: a client prefix preferring a region. */
struct snap_topo {
	uint8_t family;  /* AF_INET / AF_INET6 */
	uint8_t prefix;
	uint8_t scope;   /* ECS scope to answer with when this rule matches */
	uint16_t region;
	uint8_t addr[16];
};

struct snap {
	uint64_t generation;
	uint8_t apex[DNS_NAME_MAX];
	uint8_t apex_len;
	uint8_t apex_labels;
	bool has_cuts;
	bool has_dname;  /* a DNAME somewhere: names below it are redirected */
	/* The most labels of a cut's or a DNAME's owner, and of any name:
	 * a missing name's ancestors deeper than these need no lookup (a
	 * 120-label name would otherwise cost 120 hashed lookups). */
	uint8_t cut_labels;
	uint8_t node_labels;
	uint16_t edns_udp_size;

	/* SOA for negative answers: type .. rdata, owner is written as a
	 * pointer to the apex inside the query's name.  MNAME and RNAME end
	 * in pointers to the apex too, at soa_ptr[], patched per query. */
	const uint8_t *soa_neg;
	uint16_t soa_neg_len;
	uint16_t soa_ptr[2];
	uint8_t soa_nptr;

	uint32_t mask;          /* table size - 1 (power of two) */
	const struct snap_node **table;
	uint32_t nnodes;

	const uint8_t *nsid;    /* NULL: off */
	uint16_t nsid_len;
	const uint8_t *identity; /* TXT rdata (length-prefixed strings) */
	uint16_t identity_len;
	const uint8_t *version;
	uint16_t version_len;

	/* DNSSEC (NULL/false/0 when the zone is not signed). */
	bool dnssec;
	struct snap_rrs soa_sig;   /* RRSIGs of the negative SOA, full owner */
	const struct snap_node **chain; /* NSEC owners, canonical order */
	uint32_t nchain;
	uint32_t sig_expire;       /* earliest signature expiration */
	uint32_t sig_made;         /* when the oldest signatures were made */
	uint32_t key_event;        /* next key timing event (unix), 0: none */
	/* Abuse handling: rate limiting (UDP) and DNS cookies. */
	struct rrl_conf rrl;
	struct cookie_keys cookie;

	const struct snap_topo *topo; /* longest prefix first */
	uint32_t ntopo;

	/* Service answers by model service index.  A health change copies
	 * this table and rebuilds only the services that changed; the rest
	 * is shared with the previous snapshot. */
	const struct snap_svc **svcs;
	uint32_t nsvcs;

	/* Arenas holding this snapshot's data, shared and refcounted; the
	 * last one is its own (it holds this struct). */
	struct snap_arena *arenas[SNAP_MAX_ARENAS];
	unsigned narenas;
	struct snap_arena *arena; /* == arenas[narenas - 1] */
};

static inline const struct snap_svc *snap_node_svc(const struct snap *s,
						   const struct snap_node *n)
{
	return n->svc ? s->svcs[n->svc - 1] : NULL;
}

/* Exact-match lookup of a lower-case wire name. */
static inline const struct snap_node *
snap_lookup(const struct snap *s, const uint8_t *name, uint8_t len,
	    uint32_t hash)
{
	for (uint32_t i = hash & s->mask;; i = (i + 1) & s->mask) {
		const struct snap_node *n = s->table[i];
		if (!n)
			return NULL;
		if (n->hash == hash && n->name_len == len &&
		    __builtin_memcmp(n->name, name, len) == 0)
			return n;
	}
}

/* DNSSEC canonical order (RFC 4034 6.1) of two lower-case wire names:
 * label by label from the root.  <0, 0, >0. */
static inline int snap_canon_cmp(const uint8_t *a, unsigned alen,
				 const uint8_t *b, unsigned blen)
{
	uint8_t la[DNS_LABELS_MAX], lb[DNS_LABELS_MAX];
	unsigned na = 0, nb = 0;

	for (unsigned o = 0; o < alen && a[o] && na < DNS_LABELS_MAX;
	     o += 1u + a[o])
		la[na++] = (uint8_t)o;
	for (unsigned o = 0; o < blen && b[o] && nb < DNS_LABELS_MAX;
	     o += 1u + b[o])
		lb[nb++] = (uint8_t)o;
	while (na && nb) {
		const uint8_t *x = a + la[--na], *y = b + lb[--nb];
		unsigned n = x[0] < y[0] ? x[0] : y[0];
		int c = __builtin_memcmp(x + 1, y + 1, n);
		if (c)
			return c;
		if (x[0] != y[0])
			return (int)x[0] - (int)y[0];
	}
	return (int)na - (int)nb;
}

/* The NSEC owner at or before name in canonical order (the one that
 * covers it when name does not exist); the apex for names before it. */
static inline const struct snap_node *
snap_chain_floor(const struct snap *s, const uint8_t *name, unsigned len)
{
	uint32_t lo = 0, hi = s->nchain;

	while (hi - lo > 1) {
		uint32_t mid = lo + (hi - lo) / 2;
		const struct snap_node *n = s->chain[mid];
		if (snap_canon_cmp(n->name, n->name_len, name, len) <= 0)
			lo = mid;
		else
			hi = mid;
	}
	return s->chain[lo];
}

/* The rrset of one type at a node, or NULL. */
const struct snap_rrset *snap_rrset_find(const struct snap_node *n,
					 uint16_t type);

/* Arena allocation for the builder: zeroed, 16-byte aligned, freed with
 * the snapshot.  Never NULL: out of memory aborts (lib/xalloc.h). */
struct snap_arena;
struct snap_arena *snap_arena_new(void);
void *snap_alloc(struct snap_arena *a, size_t size);
void *snap_memdup(struct snap_arena *a, const void *p, size_t size);
size_t snap_arena_bytes(const struct snap_arena *a);
/* One more snapshot uses the arena. */
void snap_arena_ref(struct snap_arena *a);

/* Free a snapshot and its arena. */
void snap_free(struct snap *s);

/* The snapshot the workers answer from.  Publishing hands the previous
 * one to QSBR reclamation. */
struct qsbr;
void snap_publish(struct qsbr *q, struct snap *s);
const struct snap *snap_current(void);
/* At shutdown, after the workers stopped. */
void snap_release_current(void);

#endif
