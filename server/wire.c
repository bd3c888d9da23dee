/*
 * wire.c -- the query parser (see wire.h).
 *
 * Strict where the RFCs let a server be: a query must carry exactly one
 * question, no answer or authority records, at most one OPT, and nothing
 * after its last record.  Anything else is FORMERR, so a malformed packet
 * can never be half-understood.
 */
#include "config.h"

#include <string.h>

#include "server/wire.h"

/* Parse the question name at pkt[off], lower-casing into q->qname.
 * Compression is not allowed in a question (nothing precedes it). */
static int parse_qname(const uint8_t *pkt, size_t len, size_t *off,
		       struct wire_query *q)
{
	size_t p = *off, n = 0;
	unsigned labels = 0;

	for (;;) {
		if (p >= len)
			return -1;
		uint8_t l = pkt[p];
		if (l == 0)
			break;
		if (l > 63) /* pointer or reserved label type */
			return -1;
		if (n + 1 + l + 1 > DNS_NAME_MAX || p + 1 + l > len)
			return -1;
		q->label_off[labels++] = (uint8_t)n;
		q->qname[n++] = l;
		for (unsigned i = 0; i < l; i++) {
			uint8_t c = pkt[p + 1 + i];
			q->qname[n++] = (c >= 'A' && c <= 'Z') ? c | 0x20 : c;
		}
		p += 1 + (size_t)l;
	}
	q->qname[n++] = 0;
	q->qname_len = (uint8_t)n;
	q->nlabels = (uint8_t)labels;
	*off = p + 1;
	return 0;
}

/* Skip an owner name anywhere in the message (pointers allowed). */
static int skip_name(const uint8_t *pkt, size_t len, size_t *off)
{
	size_t p = *off;

	for (;;) {
		if (p >= len)
			return -1;
		uint8_t l = pkt[p];
		if (l == 0) {
			*off = p + 1;
			return 0;
		}
		if ((l & 0xc0) == 0xc0) {
			if (p + 2 > len)
				return -1;
			*off = p + 2;
			return 0;
		}
		if (l > 63)
			return -1;
		p += 1 + (size_t)l;
	}
}

/* RFC 7871 section 6: family, prefixes and address length must agree. */
static int parse_ecs(const uint8_t *d, uint16_t dlen, struct wire_query *q)
{
	if (q->ecs || dlen < 4)
		return -1;
	uint16_t fam = wire_get16(d);
	uint8_t src = d[2], scope = d[3];
	unsigned max = fam == 1 ? 32 : fam == 2 ? 128 : 0;
	if (max == 0 || src > max || scope != 0)
		return -1;
	unsigned alen = (src + 7u) / 8u;
	if ((unsigned)dlen - 4 != alen)
		return -1;
	memset(q->ecs_addr, 0, sizeof(q->ecs_addr));
	memcpy(q->ecs_addr, d + 4, alen);
	/* Bits beyond the source prefix must be zero. */
	if (alen && (src % 8) && (q->ecs_addr[alen - 1] & (0xffu >> (src % 8))))
		return -1;
	q->ecs = true;
	q->ecs_family = fam;
	q->ecs_source = src;
	return 0;
}

/* RFC 7873 5.2.2: a client cookie of 8 bytes, then nothing or a server
 * cookie of 8 to 32; anything else (or a second COOKIE) is malformed. */
static int parse_cookie(const uint8_t *d, uint16_t dlen, struct wire_query *q)
{
	if (q->cookie || dlen < 8 || (dlen > 8 && dlen < 16) ||
	    dlen > EDNS_COOKIE_MAX)
		return -1;
	memcpy(q->cookie_data, d, dlen);
	q->cookie_len = (uint8_t)dlen;
	q->cookie = true;
	return 0;
}

static int parse_opt(const uint8_t *pkt, size_t owner, size_t rr,
		     struct wire_query *q)
{
	if (q->edns || pkt[owner] != 0) /* a second OPT, or not at the root */
		return -1;
	q->edns = true;
	q->edns_udp = wire_get16(pkt + rr + 2);
	q->edns_version = pkt[rr + 5];
	q->edns_flags = wire_get16(pkt + rr + 6);
	uint16_t rdlen = wire_get16(pkt + rr + 8);
	const uint8_t *d = pkt + rr + 10;

	for (size_t o = 0; o < rdlen;) {
		if (rdlen - o < 4)
			return -1;
		uint16_t code = wire_get16(d + o);
		uint16_t olen = wire_get16(d + o + 2);
		o += 4;
		if (olen > rdlen - o)
			return -1;
		if (code == EDNS_O_NSID)
			q->nsid = true;
		else if (code == EDNS_O_ECS && parse_ecs(d + o, olen, q) < 0)
			return -1;
		else if (code == EDNS_O_COOKIE &&
			 parse_cookie(d + o, olen, q) < 0)
			return -1;
		/* Unknown options are ignored (RFC 6891 6.1.2). */
		o += olen;
	}
	return 0;
}

/* Skip n records (an IXFR query's SOA in the authority section). */
static int skip_rrs(const uint8_t *pkt, size_t len, size_t *off, unsigned n)
{
	for (unsigned i = 0; i < n; i++) {
		if (skip_name(pkt, len, off) < 0 || len - *off < 10)
			return -1;
		uint16_t rdlen = wire_get16(pkt + *off + 8);
		if (len - *off - 10 < rdlen)
			return -1;
		*off += 10 + (size_t)rdlen;
	}
	return 0;
}

/* The additional section: OPT is understood, TSIG refused, the rest
 * skipped. */
static enum wire_verdict parse_additional(const uint8_t *pkt, size_t len,
					  size_t off, unsigned arcount,
					  struct wire_query *q)
{
	for (unsigned i = 0; i < arcount; i++) {
		size_t owner = off;
		if (skip_name(pkt, len, &off) < 0 || len - off < 10)
			return WIRE_FORMERR;
		uint16_t type = wire_get16(pkt + off);
		uint16_t rdlen = wire_get16(pkt + off + 8);
		if (len - off - 10 < rdlen)
			return WIRE_FORMERR;
		if (type == DNS_T_OPT) {
			if (parse_opt(pkt, owner, off, q) < 0)
				return WIRE_FORMERR;
		} else if (type == DNS_T_TSIG) {
			return i + 1 == arcount ? WIRE_REFUSED : WIRE_FORMERR;
		}
		off += 10 + (size_t)rdlen;
	}
	return off == len ? WIRE_OK : WIRE_FORMERR;
}

enum wire_verdict wire_parse_query(const uint8_t *pkt, size_t len,
				   struct wire_query *q)
{
	q->qd_ok = false;
	q->edns = q->nsid = q->ecs = q->cookie = false;
	if (len < DNS_HDR_LEN)
		return WIRE_DROP;
	q->id = wire_get16(pkt);
	q->flags = wire_get16(pkt + 2);
	if (q->flags & DNS_F_QR)
		return WIRE_DROP; /* never answer a response: no loops */

	unsigned qd = wire_get16(pkt + 4), an = wire_get16(pkt + 6);
	unsigned ns = wire_get16(pkt + 8), ar = wire_get16(pkt + 10);
	size_t off = DNS_HDR_LEN;

	if (qd == 1) {
		if (parse_qname(pkt, len, &off, q) < 0 || len - off < 4)
			return WIRE_FORMERR;
		q->qtype = wire_get16(pkt + off);
		q->qclass = wire_get16(pkt + off + 2);
		off += 4;
		q->qend = (uint16_t)off;
		q->qd_ok = true;
	}
	if (DNS_OPCODE(q->flags) != 0) {
		/* Still find the OPT, so the NOTIMP carries one (RFC 6891 7). */
		if (!q->qd_ok || an || ns ||
		    parse_additional(pkt, len, off, ar, q) != WIRE_OK)
			q->edns = q->nsid = q->ecs = q->cookie = false;
		return WIRE_NOTIMP;
	}
	/* RFC 1995: an IXFR query carries the client's SOA in authority. */
	if (qd != 1 || an != 0 || (ns != 0 && q->qtype != DNS_T_IXFR) ||
	    skip_rrs(pkt, len, &off, ns) < 0)
		return WIRE_FORMERR;
	return parse_additional(pkt, len, off, ar, q);
}
