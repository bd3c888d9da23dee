/*
 * wire.h -- DNS wire format on the query path: constants and the query
 * parser.  Hand-written because it runs once per packet; it allocates
 * nothing and reads no byte outside the packet (fuzzed: tests/fuzz/).
 */
#ifndef GSLBD_WIRE_H
#define GSLBD_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNS_HDR_LEN     12
#define DNS_NAME_MAX    255
#define DNS_LABELS_MAX  128
#define DNS_UDP_PLAIN   512

enum {
	DNS_T_A = 1, DNS_T_NS = 2, DNS_T_CNAME = 5, DNS_T_SOA = 6,
	DNS_T_HINFO = 13, DNS_T_MX = 15, DNS_T_TXT = 16, DNS_T_AAAA = 28,
	DNS_T_SRV = 33, DNS_T_DNAME = 39, DNS_T_OPT = 41, DNS_T_DS = 43,
	DNS_T_NSEC = 47, DNS_T_TKEY = 249,
	DNS_T_TSIG = 250, DNS_T_IXFR = 251, DNS_T_AXFR = 252,
	DNS_T_MAILB = 253, DNS_T_MAILA = 254, DNS_T_ANY = 255,
};

enum { DNS_C_IN = 1, DNS_C_CH = 3, DNS_C_NONE = 254, DNS_C_ANY = 255 };

enum {
	DNS_R_NOERROR = 0, DNS_R_FORMERR = 1, DNS_R_SERVFAIL = 2,
	DNS_R_NXDOMAIN = 3, DNS_R_NOTIMP = 4, DNS_R_REFUSED = 5,
	DNS_R_YXDOMAIN = 6,
	DNS_R_BADVERS = 16, /* extended: upper 8 bits live in the OPT TTL */
};

/* Header flag bits, in the 16-bit flags word. */
#define DNS_F_QR 0x8000u
#define DNS_F_AA 0x0400u
#define DNS_F_TC 0x0200u
#define DNS_F_RD 0x0100u
#define DNS_F_RA 0x0080u
#define DNS_F_AD 0x0020u
#define DNS_F_CD 0x0010u
#define DNS_OPCODE(flags) (((flags) >> 11) & 0xfu)

enum { EDNS_O_NSID = 3, EDNS_O_ECS = 8, EDNS_O_COOKIE = 10 };
#define EDNS_COOKIE_MAX 40 /* RFC 7873 4: client 8 + server 8..32 */
#define EDNS_F_DO 0x8000u

/* What the parser decided about a packet. */
enum wire_verdict {
	WIRE_OK = 0,
	WIRE_DROP,      /* not worth an answer: too short, or a response */
	WIRE_FORMERR,   /* answer FORMERR (question echoed when qd_ok) */
	WIRE_NOTIMP,    /* opcode we do not implement */
	WIRE_REFUSED,   /* e.g. TSIG-signed: we hold no keys */
};

struct wire_query {
	uint16_t id;
	uint16_t flags;       /* as received */
	uint16_t qtype, qclass;
	uint16_t qend;        /* offset just past the question */
	uint8_t qname_len;    /* wire length including the root label */
	uint8_t nlabels;      /* labels, not counting the root */
	bool qd_ok;           /* the question parsed: it can be echoed */
	/* EDNS (valid when edns) */
	bool edns;
	bool nsid;            /* the client asked for NSID */
	bool ecs;             /* a well-formed ECS option was present */
	uint8_t edns_version;
	uint16_t edns_flags;
	uint16_t edns_udp;    /* the client's advertised size */
	uint8_t ecs_source;   /* source prefix length */
	uint16_t ecs_family;  /* 1 = IPv4, 2 = IPv6 */
	uint8_t ecs_addr[16]; /* zero-padded */
	bool cookie;          /* a well-formed COOKIE option was present */
	uint8_t cookie_len;   /* 8 (client only) or 16..40 */
	uint8_t cookie_data[EDNS_COOKIE_MAX]; /* client, then server cookie */
	/* offsets of each label inside qname (and so inside the packet,
	 * at DNS_HDR_LEN + offset) */
	uint8_t label_off[DNS_LABELS_MAX];
	uint8_t qname[DNS_NAME_MAX]; /* lower-cased wire form */
};

/* Parse a query packet.  Fills q as far as it got. */
enum wire_verdict wire_parse_query(const uint8_t *pkt, size_t len,
				   struct wire_query *q);

/* Lower-case wire name hash (FNV-1a), shared by the snapshot builder and
 * the query path so they agree. */
static inline uint32_t wire_name_hash(const uint8_t *name, size_t len)
{
	uint32_t h = 2166136261u;
	for (size_t i = 0; i < len; i++) {
		h ^= name[i];
		h *= 16777619u;
	}
	return h;
}

/* Labels of an uncompressed wire name, not counting the root. */
static inline uint8_t wire_name_labels(const uint8_t *name, size_t len)
{
	uint8_t n = 0;
	for (size_t i = 0; i < len && name[i]; i += (size_t)name[i] + 1)
		n++;
	return n;
}

static inline void wire_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void wire_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint16_t wire_get16(const uint8_t *p)
{
	return (uint16_t)((p[0] << 8) | p[1]);
}

static inline uint32_t wire_get32(const uint8_t *p)
{
	return ((uint32_t)wire_get16(p) << 16) | wire_get16(p + 2);
}

#endif
