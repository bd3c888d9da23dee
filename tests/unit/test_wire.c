/* test_wire.c -- the query parser accepts what RFC 1035/6891/7871 allow
 * and rejects each malformation with the right verdict. */
#include "config.h"

#include <string.h>

#include "server/wire.h"
#include "tests/unit/tap.h"

struct pkt {
	uint8_t b[1024];
	size_t n;
};

static void hdr(struct pkt *p, uint16_t flags, uint16_t qd, uint16_t an,
		uint16_t ns, uint16_t ar)
{
	p->n = 0;
	wire_put16(p->b, 0x1234);
	wire_put16(p->b + 2, flags);
	wire_put16(p->b + 4, qd);
	wire_put16(p->b + 6, an);
	wire_put16(p->b + 8, ns);
	wire_put16(p->b + 10, ar);
	p->n = 12;
}

static void raw(struct pkt *p, const void *d, size_t n)
{
	if (n)
		memcpy(p->b + p->n, d, n);
	p->n += n;
}

static void u16(struct pkt *p, uint16_t v)
{
	wire_put16(p->b + p->n, v);
	p->n += 2;
}

/* "WwW.Example.ORG" A IN */
static void question(struct pkt *p, uint16_t type)
{
	raw(p, "\3WwW\7Example\3ORG\0", 17);
	u16(p, type);
	u16(p, 1);
}

/* OPT header; options follow with opt_option(); returns rdlen offset */
static size_t opt(struct pkt *p, uint16_t size, uint8_t version,
		  uint16_t flags)
{
	raw(p, "\0", 1);
	u16(p, DNS_T_OPT);
	u16(p, size);
	p->b[p->n++] = 0;
	p->b[p->n++] = version;
	u16(p, flags);
	size_t at = p->n;
	u16(p, 0);
	return at;
}

static void opt_option(struct pkt *p, size_t rdlen_at, uint16_t code,
		       const void *d, uint16_t n)
{
	u16(p, code);
	u16(p, n);
	raw(p, d, n);
	wire_put16(p->b + rdlen_at, (uint16_t)(wire_get16(p->b + rdlen_at) + 4 + n));
}

static enum wire_verdict parse(struct pkt *p, struct wire_query *q)
{
	return wire_parse_query(p->b, p->n, q);
}

static void test_plain(void)
{
	struct pkt p;
	struct wire_query q;

	hdr(&p, DNS_F_RD, 1, 0, 0, 0);
	question(&p, DNS_T_AAAA);
	is_int(parse(&p, &q), WIRE_OK, "a plain query parses");
	is_int(q.id, 0x1234, "the id is read");
	is_int(q.qtype, DNS_T_AAAA, "the qtype is read");
	is_int(q.qclass, DNS_C_IN, "the qclass is read");
	is_int(q.qname_len, 17, "the qname length counts the root label");
	is_int(q.nlabels, 3, "three labels, root not counted");
	ok(memcmp(q.qname, "\3www\7example\3org\0", 17) == 0,
	   "the qname is lower-cased for lookup");
	is_int(q.label_off[1], 4, "label offsets point at each label");
	is_int(q.label_off[2], 12, "label offsets point at the last label");
	is_int(q.qend, 12 + 17 + 4, "qend is just past the question");
	ok(!q.edns, "no OPT: no EDNS");
}

static void test_header_errors(void)
{
	struct pkt p;
	struct wire_query q;

	hdr(&p, 0, 1, 0, 0, 0);
	is_int(wire_parse_query(p.b, 11, &q), WIRE_DROP,
	       "shorter than a header: dropped");
	hdr(&p, DNS_F_QR, 1, 0, 0, 0);
	question(&p, DNS_T_A);
	is_int(parse(&p, &q), WIRE_DROP, "a response (QR=1) is dropped");
	hdr(&p, 0, 0, 0, 0, 0);
	is_int(parse(&p, &q), WIRE_FORMERR, "QDCOUNT=0: FORMERR");
	ok(!q.qd_ok, "QDCOUNT=0: no question to echo");
	hdr(&p, 0, 2, 0, 0, 0);
	question(&p, DNS_T_A);
	question(&p, DNS_T_A);
	is_int(parse(&p, &q), WIRE_FORMERR, "QDCOUNT=2: FORMERR");
	hdr(&p, 0, 1, 1, 0, 0);
	question(&p, DNS_T_A);
	is_int(parse(&p, &q), WIRE_FORMERR, "ANCOUNT=1 in a query: FORMERR");
	ok(q.qd_ok, "...with the question echoed");
	hdr(&p, 0, 1, 0, 1, 0);
	question(&p, DNS_T_A);
	is_int(parse(&p, &q), WIRE_FORMERR, "NSCOUNT=1 in a query: FORMERR");
	hdr(&p, 0, 1, 0, 1, 0);
	question(&p, DNS_T_IXFR);
	raw(&p, "\0", 1);
	u16(&p, DNS_T_SOA);
	u16(&p, 1);
	raw(&p, "\0\0\0\0\0\x16", 6);
	raw(&p, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 22);
	is_int(parse(&p, &q), WIRE_OK, "IXFR with the client's SOA in authority parses (then REFUSED)");
	hdr(&p, 4u << 11, 1, 0, 0, 0);
	question(&p, DNS_T_SOA);
	is_int(parse(&p, &q), WIRE_NOTIMP, "opcode NOTIFY: NOTIMP");
	ok(q.qd_ok, "...with the question echoed");
	hdr(&p, 4u << 11, 1, 0, 0, 1);
	question(&p, DNS_T_SOA);
	opt(&p, 1232, 0, 0);
	is_int(parse(&p, &q), WIRE_NOTIMP, "NOTIFY with EDNS: NOTIMP");
	ok(q.edns, "...with its OPT seen, so the answer carries one");
	hdr(&p, 5u << 11, 1, 0, 3, 0);
	question(&p, DNS_T_SOA);
	is_int(parse(&p, &q), WIRE_NOTIMP, "opcode UPDATE: NOTIMP, not FORMERR");
	hdr(&p, 0, 1, 0, 0, 0);
	question(&p, DNS_T_A);
	raw(&p, "x", 1);
	is_int(parse(&p, &q), WIRE_FORMERR, "trailing garbage: FORMERR");
}

static void test_name_errors(void)
{
	struct pkt p;
	struct wire_query q;

	hdr(&p, 0, 1, 0, 0, 0);
	raw(&p, "\3www\xc0\x0c", 6);
	u16(&p, 1);
	u16(&p, 1);
	is_int(parse(&p, &q), WIRE_FORMERR, "a pointer in the qname: FORMERR");
	hdr(&p, 0, 1, 0, 0, 0);
	raw(&p, "\x41", 1);
	is_int(parse(&p, &q), WIRE_FORMERR, "label type 0x40: FORMERR");
	hdr(&p, 0, 1, 0, 0, 0);
	for (int i = 0; i < 5; i++) {
		p.b[p.n++] = 63;
		memset(p.b + p.n, 'a', 63);
		p.n += 63;
	}
	raw(&p, "\0", 1);
	u16(&p, 1);
	u16(&p, 1);
	is_int(parse(&p, &q), WIRE_FORMERR, "a 321-byte name: FORMERR");
	hdr(&p, 0, 1, 0, 0, 0);
	for (int i = 0; i < 3; i++) {
		p.b[p.n++] = 63;
		memset(p.b + p.n, 'a', 63);
		p.n += 63;
	}
	p.b[p.n++] = 61;
	memset(p.b + p.n, 'b', 61);
	p.n += 61;
	raw(&p, "\0", 1);
	u16(&p, 1);
	u16(&p, 1);
	is_int(parse(&p, &q), WIRE_OK, "a 255-byte name is the maximum");
	is_int(q.qname_len, 255, "...and is read whole");
	hdr(&p, 0, 1, 0, 0, 0);
	raw(&p, "\3www\7exa", 8);
	is_int(parse(&p, &q), WIRE_FORMERR, "a name cut short: FORMERR");
	hdr(&p, 0, 1, 0, 0, 0);
	raw(&p, "\3www\0\0", 6);
	is_int(parse(&p, &q), WIRE_FORMERR, "a question without its class: FORMERR");
}

static void test_edns(void)
{
	struct pkt p;
	struct wire_query q;
	size_t at;

	hdr(&p, 0, 1, 0, 0, 1);
	question(&p, DNS_T_A);
	at = opt(&p, 4096, 0, EDNS_F_DO);
	opt_option(&p, at, EDNS_O_NSID, NULL, 0);
	opt_option(&p, at, 65001, "junk", 4);
	is_int(parse(&p, &q), WIRE_OK, "OPT with NSID and an unknown option parses");
	ok(q.edns, "EDNS seen");
	is_int(q.edns_udp, 4096, "advertised size read");
	is_int(q.edns_flags & EDNS_F_DO, EDNS_F_DO, "DO bit read");
	ok(q.nsid, "NSID requested");

	hdr(&p, 0, 1, 0, 0, 1);
	question(&p, DNS_T_A);
	opt(&p, 1232, 1, 0);
	is_int(parse(&p, &q), WIRE_OK, "EDNS version 1 parses (answered BADVERS)");
	is_int(q.edns_version, 1, "version read");

	hdr(&p, 0, 1, 0, 0, 2);
	question(&p, DNS_T_A);
	opt(&p, 1232, 0, 0);
	opt(&p, 1232, 0, 0);
	is_int(parse(&p, &q), WIRE_FORMERR, "two OPT records: FORMERR");

	hdr(&p, 0, 1, 0, 0, 1);
	question(&p, DNS_T_A);
	raw(&p, "\1x\0", 3);
	u16(&p, DNS_T_OPT);
	u16(&p, 1232);
	raw(&p, "\0\0\0\0\0\0", 6);
	is_int(parse(&p, &q), WIRE_FORMERR, "OPT not owned by the root: FORMERR");

	hdr(&p, 0, 1, 0, 0, 1);
	question(&p, DNS_T_A);
	at = opt(&p, 1232, 0, 0);
	u16(&p, 10);
	u16(&p, 50);
	wire_put16(p.b + at, 4);
	is_int(parse(&p, &q), WIRE_FORMERR, "an option longer than OPT: FORMERR");

	hdr(&p, 0, 1, 0, 0, 1);
	question(&p, DNS_T_A);
	at = opt(&p, 1232, 0, 0);
	wire_put16(p.b + at, 10);
	is_int(parse(&p, &q), WIRE_FORMERR, "OPT rdata past the packet: FORMERR");

	hdr(&p, 0, 1, 0, 0, 1);
	question(&p, DNS_T_A);
	raw(&p, "\0", 1);
	u16(&p, DNS_T_TSIG);
	raw(&p, "\0\xff\0\0\0\0\0\0", 8);
	is_int(parse(&p, &q), WIRE_REFUSED, "TSIG-signed query: REFUSED (no keys)");
}

static void test_ecs(void)
{
	struct pkt p;
	struct wire_query q;
	size_t at;

	hdr(&p, 0, 1, 0, 0, 1);
	question(&p, DNS_T_A);
	at = opt(&p, 1232, 0, 0);
	opt_option(&p, at, EDNS_O_ECS, "\0\1\x18\0\xc0\x00\x02", 7);
	is_int(parse(&p, &q), WIRE_OK, "ECS 192.0.2.0/24 parses");
	ok(q.ecs && q.ecs_family == 1 && q.ecs_source == 24, "ECS fields read");
	ok(q.ecs_addr[0] == 192 && q.ecs_addr[2] == 2 && q.ecs_addr[3] == 0,
	   "ECS address zero-padded");

	static const struct {
		const char *d;
		uint16_t n;
		const char *what;
	} bad[] = {
		{ "\0\1\x21\0\1\2\3\4\5", 9, "ECS IPv4 /33: FORMERR" },
		{ "\0\1\x18\x08\xc0\0\2", 7, "ECS with a scope in a query: FORMERR" },
		{ "\0\1\x18\0\xc0\0\2\0", 8, "ECS address longer than /24 needs: FORMERR" },
		{ "\0\1\x17\0\xc0\0\3", 7, "ECS host bits beyond /23 set: FORMERR" },
		{ "\0\3\x08\0\x01", 5, "ECS unknown family: FORMERR" },
		{ "\0\1", 2, "ECS too short: FORMERR" },
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		hdr(&p, 0, 1, 0, 0, 1);
		question(&p, DNS_T_A);
		at = opt(&p, 1232, 0, 0);
		opt_option(&p, at, EDNS_O_ECS, bad[i].d, bad[i].n);
		is_int(parse(&p, &q), WIRE_FORMERR, bad[i].what);
	}
	hdr(&p, 0, 1, 0, 0, 1);
	question(&p, DNS_T_A);
	at = opt(&p, 1232, 0, 0);
	opt_option(&p, at, EDNS_O_ECS, "\0\2\0\0", 4);
	is_int(parse(&p, &q), WIRE_OK, "ECS ::/0 (opt-out) parses");
	is_int(q.ecs_source, 0, "...with source prefix 0");
}

int main(void)
{
	test_plain();
	test_header_errors();
	test_name_errors();
	test_edns();
	test_ecs();
	return tap_done();
}
