/* test_answer.c -- the answer writer, decoded by ldns as an independent
 * reader: sections, flags, compression, truncation, EDNS, policies. */
#include "config.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "config/admin.h"
#include "config/cfg.h"
#include "server/answer.h"
#include "server/compile.h"
#include "tests/unit/tap.h"

static const char base_conf[] =
	"server:\n"
	"  identity: unit-1\n"
	"  nsid: unit-nsid\n"
	"zone:\n"
	"  name: z.test\n"
	"  ttl: 300\n"
	"  soa: { minimum: 60 }\n"
	"  nameservers:\n"
	"    - name: ns1\n"
	"      addresses: [192.0.2.1, \"2001:db8::1\"]\n"
	"probe-defaults: { type: tcp, port: 9 }\n"
	"topology:\n"
	"  - region: a\n"
	"    subnets: [10.0.0.0/8]\n"
	"  - region: b\n"
	"    subnets: [10.1.0.0/16]\n"
	"services:\n"
	"  - name: www\n"
	"    ttl: 20\n"
	"    endpoints:\n"
	"      - region: a\n"
	"        addresses: [192.0.2.10, 192.0.2.11]\n"
	"      - region: b\n"
	"        addresses: [192.0.2.12]\n"
	"  - name: capped\n"
	"    max-answers: 2\n"
	"    endpoints:\n"
	"      - region: a\n"
	"        addresses: [192.0.2.20, 192.0.2.21, 192.0.2.22, 192.0.2.23]\n"
	"  - name: fo\n"
	"    policy: failover\n"
	"    endpoints:\n"
	"      - region: a\n"
	"        priority: 1\n"
	"        addresses: [192.0.2.30]\n"
	"      - region: b\n"
	"        priority: 2\n"
	"        addresses: [192.0.2.31]\n"
	"  - name: w\n"
	"    policy: weighted\n"
	"    endpoints:\n"
	"      - region: a\n"
	"        weight: 3\n"
	"        addresses: [192.0.2.40]\n"
	"      - region: b\n"
	"        weight: 1\n"
	"        addresses: [192.0.2.41]\n"
	"  - name: topo\n"
	"    policy: topology\n"
	"    endpoints:\n"
	"      - region: a\n"
	"        addresses: [192.0.2.50]\n"
	"      - region: b\n"
	"        addresses: [192.0.2.51]\n"
	"  - name: sf\n"
	"    all-down: servfail\n"
	"    endpoints:\n"
	"      - region: a\n"
	"        addresses: [192.0.2.60]\n"
	"  - name: nd\n"
	"    all-down: nodata\n"
	"    endpoints:\n"
	"      - region: a\n"
	"        addresses: [192.0.2.70]\n"
	"  - name: open\n"
	"    endpoints:\n"
	"      - region: a\n"
	"        addresses: [192.0.2.80]\n"
	"  - name: off\n"
	"    endpoints:\n"
	"      - region: a\n"
	"        enabled: false\n"
	"        addresses: [192.0.2.90]\n"
	"      - region: b\n"
	"        addresses: [192.0.2.91]\n"
	"  - name: b.c\n"
	"    endpoints:\n"
	"      - region: a\n"
	"        addresses: [192.0.2.100]\n"
	/* Region a has only IPv4, region b both families. */
	"  - name: topo46\n"
	"    policy: topology\n"
	"    endpoints:\n"
	"      - region: a\n"
	"        addresses: [192.0.2.110]\n"
	"      - region: b\n"
	"        addresses: [192.0.2.111, \"2001:db8::111\"]\n"
	"  - name: w46\n"
	"    policy: weighted\n"
	"    endpoints:\n"
	"      - region: a\n"
	"        weight: 3\n"
	"        addresses: [192.0.2.120]\n"
	"      - region: b\n"
	"        weight: 1\n"
	"        addresses: [192.0.2.121, \"2001:db8::121\"]\n"
	"  - name: w46z\n"
	"    policy: weighted\n"
	"    endpoints:\n"
	"      - region: a\n"
	"        weight: 0\n"
	"        addresses: [192.0.2.130]\n"
	"      - region: b\n"
	"        weight: 0\n"
	"        addresses: [\"2001:db8::131\"]\n"
	/* The preferred endpoint has only IPv4. */
	"  - name: fo46\n"
	"    policy: failover\n"
	"    endpoints:\n"
	"      - region: a\n"
	"        priority: 1\n"
	"        addresses: [192.0.2.140]\n"
	"      - region: b\n"
	"        priority: 2\n"
	"        addresses: [192.0.2.141, \"2001:db8::141\"]\n";

static struct model *model;
static struct snap *snap;
/* The probes' health table and the admin rules, as the daemon keeps
 * them apart from the model. */
static uint8_t health[256];
static struct admin *adm;

static enum model_admin test_admin(const void *arg,
				   const struct model_service *s,
				   const struct model_endpoint *e)
{
	return admin_of(adm, model->zone.apex, s, e);
}

static struct compile_view view(void)
{
	return (struct compile_view){ .health = health,
		.nhealth = model->ntargets, .admin = test_admin };
}

static void set_health(struct model_service *s, size_t ep, uint8_t h)
{
	health[s->eps[ep].addrs[0].target - 1] = h;
}
static struct answer_ctx ctx;
static uint8_t out[65535];

static void errline(void *arg, const char *line)
{
	printf("# config: %s\n", line);
}

static void load(const char *extra)
{
	char err[256];
	size_t n = strlen(base_conf) + (extra ? strlen(extra) : 0) + 1;
	char *text = malloc(n);
	snprintf(text, n, "%s%s", base_conf, extra ? extra : "");
	model = cfg_load_string("unit.yaml", text, errline, NULL);
	free(text);
	if (!model) {
		printf("Bail out! test config rejected\n");
		exit(1);
	}
	model_targets_build(model);
	if (model->ntargets > sizeof(health)) {
		printf("Bail out! targets\n");
		exit(1);
	}
	memset(health, 0, sizeof(health));
	struct compile_view v = view();
	snap = compile_snapshot(model, &v, 1, err, sizeof(err));
	if (!snap) {
		printf("Bail out! compile: %s\n", err);
		exit(1);
	}
}

static void recompile(void)
{
	char err[256];
	snap_free(snap);
	struct compile_view v = view();
	snap = compile_snapshot(model, &v, 2, err, sizeof(err));
	if (!snap) {
		printf("Bail out! compile: %s\n", err);
		exit(1);
	}
}

static struct model_service *svc(const char *name)
{
	for (size_t i = 0; i < model->nsvcs; i++)
		if (!strncmp(model->svcs[i].name, name, strlen(name)) &&
		    model->svcs[i].name[strlen(name)] == '.')
			return &model->svcs[i];
	printf("Bail out! no service %s\n", name);
	exit(1);
}

struct qopt {
	int edns;          /* advertised size; 0: no OPT */
	uint8_t version;
	bool nsid;
	const uint8_t *ecs; /* raw ECS option data */
	size_t ecs_len;
	uint16_t qclass;
};

/* Build a query by hand (the name as written, for 0x20 checks). */
static size_t mkquery(uint8_t *b, const char *name, uint16_t type,
		      const struct qopt *o)
{
	size_t n = 12;
	memset(b, 0, 12);
	wire_put16(b, 0xbeef);
	wire_put16(b + 2, DNS_F_RD);
	wire_put16(b + 4, 1);
	for (const char *p = name; *p;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		b[n++] = (uint8_t)l;
		memcpy(b + n, p, l);
		n += l;
		p += l + (dot ? 1 : 0);
	}
	b[n++] = 0;
	wire_put16(b + n, type);
	wire_put16(b + n + 2, o && o->qclass ? o->qclass : DNS_C_IN);
	n += 4;
	if (o && o->edns) {
		wire_put16(b + 10, 1);
		b[n++] = 0;
		wire_put16(b + n, DNS_T_OPT);
		wire_put16(b + n + 2, (uint16_t)o->edns);
		b[n + 4] = 0;
		b[n + 5] = o->version;
		wire_put16(b + n + 6, 0);
		size_t rd = n + 8;
		n += 10;
		size_t start = n;
		if (o->nsid) {
			wire_put16(b + n, EDNS_O_NSID);
			wire_put16(b + n + 2, 0);
			n += 4;
		}
		if (o->ecs) {
			wire_put16(b + n, EDNS_O_ECS);
			wire_put16(b + n + 2, (uint16_t)o->ecs_len);
			memcpy(b + n + 4, o->ecs, o->ecs_len);
			n += 4 + o->ecs_len;
		}
		wire_put16(b + rd, (uint16_t)(n - start));
	}
	return n;
}

static size_t last_len;

static ldns_pkt *ask_from(const char *name, uint16_t type,
			  const struct qopt *o, bool tcp, const char *client)
{
	uint8_t q[1024];
	struct sockaddr_in from = { .sin_family = AF_INET };
	ldns_pkt *p = NULL;

	inet_pton(AF_INET, client ? client : "127.0.0.1", &from.sin_addr);
	size_t qn = mkquery(q, name, type, o);
	last_len = answer_query(&ctx, snap, q, qn, (struct sockaddr *)&from,
				tcp, out, tcp ? sizeof(out) : 4096);
	if (!last_len || ldns_wire2pkt(&p, out, last_len) != LDNS_STATUS_OK)
		return NULL;
	return p;
}

static ldns_pkt *ask(const char *name, uint16_t type, const struct qopt *o)
{
	return ask_from(name, type, o, false, NULL);
}

static char *first_rr_str(const ldns_rr_list *l)
{
	static char buf[512];
	char *s = ldns_rr2str(ldns_rr_list_rr(l, 0));
	snprintf(buf, sizeof(buf), "%s", s ? s : "");
	free(s);
	buf[strcspn(buf, "\n")] = 0;
	return buf;
}

static void test_service_all(void)
{
	ldns_pkt *p = ask("WwW.Z.test", DNS_T_A, NULL);
	ok(p != NULL, "a service answer decodes");
	is_int(ldns_pkt_get_rcode(p), 0, "service A: NOERROR");
	ok(ldns_pkt_aa(p) && !ldns_pkt_ra(p) && ldns_pkt_qr(p),
	   "service A: AA=1, RA=0, QR=1");
	ok(ldns_pkt_rd(p), "RD copied from the query");
	is_int(ldns_pkt_ancount(p), 3, "all three addresses");
	is_int(ldns_pkt_nscount(p) + ldns_pkt_arcount(p), 0,
	       "minimal response: no authority, no additional");
	ok(strncmp(first_rr_str(ldns_pkt_answer(p)), "WwW.Z.test.\t20", 14) == 0,
	   "owner keeps the query's case (0x20) and the service TTL");
	char first1[64];
	snprintf(first1, sizeof(first1), "%s", first_rr_str(ldns_pkt_answer(p)));
	ldns_pkt_free(p);
	p = ask("www.z.test", DNS_T_A, NULL);
	ok(strcmp(first1 + 11, first_rr_str(ldns_pkt_answer(p)) + 11) != 0,
	   "policy all rotates the order between queries");
	ldns_pkt_free(p);

	p = ask("capped.z.test", DNS_T_A, NULL);
	is_int(ldns_pkt_ancount(p), 2, "max-answers caps the answer");
	ldns_pkt_free(p);

	p = ask("www.z.test", DNS_T_AAAA, NULL);
	is_int(ldns_pkt_get_rcode(p), 0, "AAAA of an A-only service: NOERROR");
	is_int(ldns_pkt_ancount(p), 0, "...NODATA");
	is_int(ldns_pkt_nscount(p), 1, "...with the SOA in authority");
	ldns_pkt_free(p);

	p = ask("off.z.test", DNS_T_A, NULL);
	is_int(ldns_pkt_ancount(p), 1, "a disabled endpoint is never answered");
	ok(strstr(first_rr_str(ldns_pkt_answer(p)), "192.0.2.91") != NULL,
	   "...only the enabled one");
	ldns_pkt_free(p);
}

static void test_negative(void)
{
	ldns_pkt *p = ask("nope.Z.TEST", DNS_T_A, NULL);
	is_int(ldns_pkt_get_rcode(p), LDNS_RCODE_NXDOMAIN, "unknown name: NXDOMAIN");
	ok(ldns_pkt_aa(p), "NXDOMAIN is authoritative");
	is_int(ldns_pkt_nscount(p), 1, "NXDOMAIN carries the SOA");
	ldns_rr *soa = ldns_rr_list_rr(ldns_pkt_authority(p), 0);
	is_int(ldns_rr_get_type(soa), LDNS_RR_TYPE_SOA, "...which is an SOA");
	is_int(ldns_rr_ttl(soa), 60, "SOA TTL = min(SOA TTL 300, minimum 60)");
	char *owner = ldns_rdf2str(ldns_rr_owner(soa));
	is_str(owner, "Z.TEST.", "SOA owner points into the query name");
	free(owner);
	char *mname = ldns_rdf2str(ldns_rr_rdf(soa, 0));
	char *rname = ldns_rdf2str(ldns_rr_rdf(soa, 1));
	ok(!strcmp(mname, "ns1.Z.TEST.") && !strcmp(rname, "hostmaster.Z.TEST."),
	   "SOA MNAME and RNAME are compressed against the apex in the query");
	free(mname);
	free(rname);
	is_int(last_len, 12 + 17 + 2 + 10 + 6 + 13 + 20,
	       "NXDOMAIN is 80 bytes: every name in it compressed");
	ldns_pkt_free(p);

	p = ask("c.z.test", DNS_T_A, NULL);
	is_int(ldns_pkt_get_rcode(p), 0, "empty non-terminal: NOERROR (NODATA)");
	is_int(ldns_pkt_ancount(p), 0, "...no answer");
	ldns_pkt_free(p);

	p = ask("www.example.com", DNS_T_A, NULL);
	is_int(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED, "out of zone: REFUSED");
	ok(!ldns_pkt_aa(p), "REFUSED is not authoritative");
	ldns_pkt_free(p);
	p = ask("xz.test", DNS_T_A, NULL);
	is_int(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED,
	       "a name sharing the zone's suffix but not a label: REFUSED");
	ldns_pkt_free(p);

	p = ask("z.test", DNS_T_AXFR, NULL);
	is_int(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED, "AXFR: REFUSED");
	ldns_pkt_free(p);
}

static void test_apex(void)
{
	ldns_pkt *p = ask("z.test", DNS_T_NS, NULL);
	is_int(ldns_pkt_ancount(p), 1, "apex NS answered");
	is_int(ldns_pkt_arcount(p), 2, "glue A and AAAA in additional");
	ldns_pkt_free(p);
	p = ask("z.test", DNS_T_SOA, NULL);
	is_int(ldns_pkt_ancount(p), 1, "apex SOA answered");
	ldns_pkt_free(p);
	p = ask("ns1.z.test", DNS_T_AAAA, NULL);
	is_int(ldns_pkt_ancount(p), 1, "glue name answers AAAA");
	ldns_pkt_free(p);
	p = ask("z.test", DNS_T_ANY, NULL);
	is_int(ldns_pkt_ancount(p) > 0 && ldns_pkt_ancount(p) <= 1, 1,
	       "ANY at the apex: one RRset (RFC 8482)");
	ldns_pkt_free(p);
	/* compression: "z.test" occurs in NS rdata and glue owners */
	p = ask("z.test", DNS_T_NS, NULL);
	is_int(last_len, 86, "apex NS answer is compressed (118 bytes without)");
	ldns_pkt_free(p);
}

static void test_edns(void)
{
	struct qopt o = { .edns = 1232, .nsid = true };
	ldns_pkt *p = ask("www.z.test", DNS_T_A, &o);
	is_int(ldns_pkt_edns_udp_size(p), 1232, "OPT echoed with our size");
	ok(memmem(out, last_len, "unit-nsid", 9) != NULL, "NSID returned when asked");
	ldns_pkt_free(p);
	o.nsid = false;
	p = ask("www.z.test", DNS_T_A, &o);
	ok(memmem(out, last_len, "unit-nsid", 9) == NULL, "no NSID unless asked");
	ldns_pkt_free(p);
	p = ask("www.z.test", DNS_T_A, NULL);
	ok(!ldns_pkt_edns(p), "no OPT in the query: none in the answer");
	ldns_pkt_free(p);

	o.version = 1;
	p = ask("www.z.test", DNS_T_A, &o);
	is_int(ldns_pkt_edns_extended_rcode(p), 1, "EDNS version 1: BADVERS (16 >> 4)");
	is_int(ldns_pkt_ancount(p), 0, "BADVERS carries no answer");
	is_int(ldns_pkt_edns_version(p), 0, "BADVERS answers with version 0");
	ldns_pkt_free(p);

	uint8_t nq[512];
	size_t nn = mkquery(nq, "z.test", DNS_T_SOA, &(struct qopt){ .edns = 1232 });
	wire_put16(nq + 2, 4u << 11); /* NOTIFY */
	last_len = answer_query(&ctx, snap, nq, nn, NULL, false, out, 4096);
	p = NULL;
	ok(last_len && ldns_wire2pkt(&p, out, last_len) == LDNS_STATUS_OK &&
	   ldns_pkt_get_rcode(p) == LDNS_RCODE_NOTIMPL && ldns_pkt_edns(p),
	   "NOTIMP to an EDNS query carries OPT (RFC 6891 7)");
	ldns_pkt_free(p);

	struct qopt ch = { .qclass = DNS_C_CH };
	p = ask("id.server", DNS_T_TXT, &ch);
	is_int(ldns_pkt_ancount(p), 1, "CH TXT id.server answered");
	ok(memmem(out, last_len, "unit-1", 6) != NULL, "...with the identity");
	ldns_pkt_free(p);
	p = ask("version.bind", DNS_T_TXT, &ch);
	is_int(ldns_pkt_get_rcode(p), LDNS_RCODE_REFUSED,
	       "version.bind without a configured version: REFUSED");
	ldns_pkt_free(p);
}

/* Health changes patch the snapshot: only the changed service is rebuilt,
 * everything else is shared, and chains are bounded. */
static void test_patch(void)
{
	char err[256];
	struct snap *base = snap, *p1, *p2;
	size_t fo = (size_t)(svc("fo") - model->svcs);
	size_t www = (size_t)(svc("www") - model->svcs);

	set_health(svc("fo"), 0, HEALTH_UP);
	recompile();
	base = snap;
	set_health(svc("fo"), 0, HEALTH_DOWN);
	uint32_t dirty[1] = { (uint32_t)fo };
	struct compile_view v = view();
	p1 = compile_patch(base, model, &v, dirty, 1, 10, err, sizeof(err));
	ok(p1 != NULL, "a health change patches the snapshot");
	ok(p1 && p1->svcs[fo] != base->svcs[fo], "...rebuilding the changed service");
	ok(p1 && p1->svcs[www] == base->svcs[www], "...sharing the unchanged ones");
	ok(p1 && p1->table == base->table, "...and the name table");
	is_int(p1 ? p1->narenas : 0, 2, "...adding one arena");
	snap = p1;
	ldns_pkt *p = ask("fo.z.test", DNS_T_A, NULL);
	ok(p && strstr(first_rr_str(ldns_pkt_answer(p)), "192.0.2.31") != NULL,
	   "the patched snapshot answers with the failover region");
	ldns_pkt_free(p);
	snap_free(base); /* the patch keeps what it shares alive */
	p = ask("www.z.test", DNS_T_A, NULL);
	is_int(p ? ldns_pkt_ancount(p) : 0, 3,
	       "after the base is freed, shared services still answer");
	ldns_pkt_free(p);
	p2 = compile_patch(p1, model, &v, NULL, 0, 11, err, sizeof(err));
	ok(p2 && p2->svcs[fo] == p1->svcs[fo], "nothing dirty: nothing rebuilt");
	snap_free(p1);
	snap = p2;
	struct snap *cur = p2;
	int n = 0;
	while ((p2 = compile_patch(cur, model, &v, dirty, 1, 12, err,
				   sizeof(err)))) {
		snap_free(cur);
		cur = p2;
		n++;
	}
	snap = cur;
	is_int(cur->narenas, SNAP_MAX_ARENAS, "patch chains stop at SNAP_MAX_ARENAS");
	ok(n > 0 && strstr(err, "full rebuild") != NULL, "...then ask for a full rebuild");
	set_health(svc("fo"), 0, HEALTH_UP);
	recompile();
	is_int(snap->narenas, 1, "a full rebuild compacts to one arena");
}

/* Append a copy of www as a new name, with its targets, as a Kubernetes
 * change merged in place does. */
static size_t append_service(const char *name)
{
	struct model_service *v = realloc(model->svcs, (model->nsvcs + 1) *
					  sizeof(*v));
	if (!v)
		abort();
	model->svcs = v;
	size_t n = model->nsvcs;
	model_service_copy(&v[n], svc("www"));
	free(v[n].name);
	v[n].name = strdup(name);
	model->nsvcs++;
	model_targets_add(model, (uint32_t)n, NULL);
	return n;
}

/* New names patch the snapshot too: a copied name table gets them and
 * their empty non-terminals; the previous snapshot is left as it was. */
static void test_patch_add(void)
{
	char err[256];
	struct snap *base = snap, *p1, *p2;
	struct compile_view v;

	append_service("added.deeper.z.test.");
	v = view();
	p1 = compile_patch(base, model, &v, NULL, 0, 20, err, sizeof(err));
	if (!ok(p1 != NULL, "a new name patches the snapshot")) {
		printf("# %s\n", err);
		return;
	}
	ok(p1->table != base->table && p1->nnodes == base->nnodes + 2,
	   "...into a copied name table, with its empty non-terminal");
	snap = p1;
	ldns_pkt *p = ask("Added.Deeper.z.test", DNS_T_A, NULL);
	is_int(p ? ldns_pkt_ancount(p) : 0, 3, "the new name answers");
	ldns_pkt_free(p);
	p = ask("deeper.z.test", DNS_T_A, NULL);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_NOERROR &&
	   ldns_pkt_ancount(p) == 0, "its parent is an empty non-terminal");
	ldns_pkt_free(p);
	p = ask("www.z.test", DNS_T_A, NULL);
	is_int(p ? ldns_pkt_ancount(p) : 0, 3, "old names still answer");
	ldns_pkt_free(p);
	snap = base;
	p = ask("added.deeper.z.test", DNS_T_A, NULL);
	ok(p && ldns_pkt_get_rcode(p) == LDNS_RCODE_NXDOMAIN,
	   "the previous snapshot is untouched");
	ldns_pkt_free(p);

	/* The empty non-terminal becomes a service: its node is copied,
	 * not written where the previous snapshot shares it. */
	append_service("deeper.z.test.");
	v = view();
	p2 = compile_patch(p1, model, &v, NULL, 0, 21, err, sizeof(err));
	ok(p2 && p2->nnodes == p1->nnodes, "a name that existed is not added twice");
	snap = p2;
	p = ask("deeper.z.test", DNS_T_A, NULL);
	is_int(p ? ldns_pkt_ancount(p) : 0, 3, "the former non-terminal answers");
	ldns_pkt_free(p);
	snap = p1;
	p = ask("deeper.z.test", DNS_T_A, NULL);
	ok(p && ldns_pkt_ancount(p) == 0, "...and is still empty in the old one");
	ldns_pkt_free(p);
	snap_free(base);
	snap_free(p1);
	snap = p2;
	recompile();
	p = ask("added.deeper.z.test", DNS_T_A, NULL);
	is_int(p ? ldns_pkt_ancount(p) : 0, 3, "a full build keeps appended names");
	ldns_pkt_free(p);
}

static void test_truncation(void)
{
	char extra[4096];
	size_t n = (size_t)snprintf(extra, sizeof(extra),
		"  - name: big\n    max-answers: 0\n    endpoints:\n"
		"      - region: a\n        addresses: [");
	for (int i = 0; i < 40; i++)
		n += (size_t)snprintf(extra + n, sizeof(extra) - n,
				      "%s\"2001:db8::%x\"", i ? ", " : "", i + 1);
	snprintf(extra + n, sizeof(extra) - n, "]\n");
	model_free(model);
	snap_free(snap);
	load(extra);

	ldns_pkt *p = ask("big.z.test", DNS_T_AAAA, NULL);
	ok(ldns_pkt_tc(p), "40 AAAA over plain UDP: TC=1");
	is_int(ldns_pkt_ancount(p), 0, "...and no partial answer");
	ok(last_len <= 512, "...within 512 bytes");
	ldns_pkt_free(p);
	struct qopt o = { .edns = 4096 };
	p = ask("big.z.test", DNS_T_AAAA, &o);
	ok(!ldns_pkt_tc(p), "with EDNS 4096 (capped at 1232): fits");
	is_int(ldns_pkt_ancount(p), 40, "...all 40");
	ok(last_len <= 1232, "...within our 1232-byte limit");
	ldns_pkt_free(p);
	o.edns = 600;
	p = ask("big.z.test", DNS_T_AAAA, &o);
	ok(ldns_pkt_tc(p) && ldns_pkt_edns(p), "EDNS 600: TC=1, OPT kept");
	ok(last_len <= 600, "...within the client's size");
	ldns_pkt_free(p);
	p = ask_from("big.z.test", DNS_T_AAAA, NULL, true, NULL);
	ok(!ldns_pkt_tc(p) && ldns_pkt_ancount(p) == 40, "over TCP: everything");
	ldns_pkt_free(p);
}

static void test_policies(void)
{
	ldns_pkt *p = ask("fo.z.test", DNS_T_A, NULL);
	ok(strstr(first_rr_str(ldns_pkt_answer(p)), "192.0.2.30") &&
	   ldns_pkt_ancount(p) == 1, "failover: the preferred region only");
	ldns_pkt_free(p);
	set_health(svc("fo"), 0, HEALTH_DOWN);
	recompile();
	p = ask("fo.z.test", DNS_T_A, NULL);
	ok(strstr(first_rr_str(ldns_pkt_answer(p)), "192.0.2.31") != NULL,
	   "failover: the next region when the first is down");
	ldns_pkt_free(p);
	set_health(svc("fo"), 0, HEALTH_UP);

	int heavy = 0, single = 0;
	for (int i = 0; i < 2000; i++) {
		p = ask("w.z.test", DNS_T_A, NULL);
		heavy += strstr(first_rr_str(ldns_pkt_answer(p)), "192.0.2.40") != NULL;
		single += ldns_pkt_ancount(p) == 1;
		ldns_pkt_free(p);
	}
	is_int(single, 2000, "weighted: one endpoint per answer");
	ok(heavy > 1350 && heavy < 1650, "weighted 3:1 -> about 75% (1350..1650 of 2000)");

	p = ask_from("topo.z.test", DNS_T_A, NULL, false, "10.1.2.3");
	ok(strstr(first_rr_str(ldns_pkt_answer(p)), "192.0.2.51") &&
	   ldns_pkt_ancount(p) == 1, "topology: 10.1/16 client gets region b");
	ldns_pkt_free(p);
	p = ask_from("topo.z.test", DNS_T_A, NULL, false, "10.9.2.3");
	ok(strstr(first_rr_str(ldns_pkt_answer(p)), "192.0.2.50") &&
	   ldns_pkt_ancount(p) == 1, "topology: 10/8 client gets region a");
	ldns_pkt_free(p);
	p = ask_from("topo.z.test", DNS_T_A, NULL, false, "192.168.1.1");
	is_int(ldns_pkt_ancount(p), 2, "topology: unknown client gets every region");
	ldns_pkt_free(p);

	static const uint8_t ecs_b[] = { 0, 1, 24, 0, 10, 1, 7 };
	struct qopt o = { .edns = 1232, .ecs = ecs_b, .ecs_len = sizeof(ecs_b) };
	p = ask_from("topo.z.test", DNS_T_A, &o, false, "10.9.9.9");
	ok(strstr(first_rr_str(ldns_pkt_answer(p)), "192.0.2.51") != NULL,
	   "topology: ECS 10.1.7.0/24 wins over the resolver's address");
	const uint8_t *e = memmem(out, last_len, "\0\x08\0\x07\0\x01\x18", 7);
	ok(e && e[7] == 16, "ECS echoed with scope /16 (the matching rule)");
	ldns_pkt_free(p);
	p = ask_from("www.z.test", DNS_T_A, &o, false, NULL);
	e = memmem(out, last_len, "\0\x08\0\x07\0\x01\x18", 7);
	ok(e && e[7] == 0, "policy all: ECS echoed with scope 0");
	ldns_pkt_free(p);

	static const uint8_t ecs0[] = { 0, 1, 0, 0 };
	struct qopt o0 = { .edns = 1232, .ecs = ecs0, .ecs_len = sizeof(ecs0) };
	p = ask_from("topo.z.test", DNS_T_A, &o0, false, "10.1.2.3");
	e = memmem(out, last_len, "\0\x08\0\x04\0\x01\0", 7);
	ok(e && e[7] == 0 && ldns_pkt_ancount(p) == 2,
	   "ECS source 0: every region, scope 0 (the resolver's address unused)");
	ldns_pkt_free(p);
	static const uint8_t ecs8[] = { 0, 1, 8, 0, 10 };
	struct qopt o8 = { .edns = 1232, .ecs = ecs8, .ecs_len = sizeof(ecs8) };
	p = ask_from("topo.z.test", DNS_T_A, &o8, false, "192.168.1.1");
	e = memmem(out, last_len, "\0\x08\0\x05\0\x01\x08", 7);
	ok(e && e[7] == 16 &&
	   strstr(first_rr_str(ldns_pkt_answer(p)), "192.0.2.50") != NULL,
	   "ECS 10/8 matches rule 10/8 (region a); the nested 10.1/16 rule "
	   "narrows the scope to /16");
	ldns_pkt_free(p);
	static const uint8_t ecs4[] = { 0, 1, 4, 0, 0 };
	struct qopt o4 = { .edns = 1232, .ecs = ecs4, .ecs_len = sizeof(ecs4) };
	p = ask_from("topo.z.test", DNS_T_A, &o4, false, "192.168.1.1");
	e = memmem(out, last_len, "\0\x08\0\x05\0\x01\x04", 7);
	ok(e && e[7] == 16 && ldns_pkt_ancount(p) == 2,
	   "ECS 0/4, wider than the rules: every region, scope of the longest "
	   "overlapping rule (/16), not /4");
	ldns_pkt_free(p);

	set_health(svc("topo"), 1, HEALTH_DOWN);
	recompile();
	p = ask_from("topo.z.test", DNS_T_A, NULL, false, "10.1.2.3");
	ok(strstr(first_rr_str(ldns_pkt_answer(p)), "192.0.2.50") != NULL,
	   "topology: the client's region down -> the other healthy ones");
	ldns_pkt_free(p);
}

/* The fallback to other regions is per address family: an AAAA query
 * from a region with only IPv4 gets another region's IPv6, not NODATA. */
static void test_policies_per_family(void)
{
	static const uint8_t ecs_a[] = { 0, 1, 16, 0, 10, 9 };
	struct qopt o = { .edns = 1232, .ecs = ecs_a, .ecs_len = sizeof(ecs_a) };
	ldns_pkt *p;

	p = ask_from("topo46.z.test", DNS_T_AAAA, &o, false, "10.1.2.3");
	ok(p && ldns_pkt_ancount(p) == 1 &&
	   strstr(first_rr_str(ldns_pkt_answer(p)), "2001:db8::111"),
	   "topology: AAAA from a v4-only region (ECS 10.9/16) gets the other "
	   "region's AAAA");
	ldns_pkt_free(p);
	p = ask_from("topo46.z.test", DNS_T_A, &o, false, "10.1.2.3");
	ok(p && ldns_pkt_ancount(p) == 1 &&
	   strstr(first_rr_str(ldns_pkt_answer(p)), "192.0.2.110"),
	   "topology: A from that region still gets its own region");
	ldns_pkt_free(p);
	p = ask_from("topo46.z.test", DNS_T_AAAA, NULL, false, "10.1.2.3");
	ok(p && ldns_pkt_ancount(p) == 1 &&
	   strstr(first_rr_str(ldns_pkt_answer(p)), "2001:db8::111"),
	   "topology: AAAA from region b gets its own AAAA");
	ldns_pkt_free(p);

	int v6 = 0, v4b = 0, v6z = 0;
	for (int i = 0; i < 200; i++) {
		p = ask("w46.z.test", DNS_T_AAAA, NULL);
		v6 += p && ldns_pkt_ancount(p) == 1 &&
		      strstr(first_rr_str(ldns_pkt_answer(p)), "2001:db8::121");
		ldns_pkt_free(p);
		p = ask("w46.z.test", DNS_T_A, NULL);
		v4b += p && strstr(first_rr_str(ldns_pkt_answer(p)),
				   "192.0.2.121") != NULL;
		ldns_pkt_free(p);
		p = ask("w46z.z.test", DNS_T_AAAA, NULL);
		v6z += p && ldns_pkt_ancount(p) == 1;
		ldns_pkt_free(p);
	}
	is_int(v6, 200, "weighted: every AAAA answer comes from the endpoint "
	       "with IPv6, never empty from the v4-only one");
	ok(v4b > 20 && v4b < 90, "weighted: A answers still 3:1 over both "
	   "endpoints (21..89 of 200 from the lighter)");
	is_int(v6z, 200, "weighted, all weights 0: every AAAA answer from the "
	       "endpoint with IPv6");

	p = ask("fo46.z.test", DNS_T_AAAA, NULL);
	ok(p && ldns_pkt_ancount(p) == 1 &&
	   strstr(first_rr_str(ldns_pkt_answer(p)), "2001:db8::141"),
	   "failover: AAAA goes to the best endpoint that has IPv6");
	ldns_pkt_free(p);
	p = ask("fo46.z.test", DNS_T_A, NULL);
	ok(p && ldns_pkt_ancount(p) == 1 &&
	   strstr(first_rr_str(ldns_pkt_answer(p)), "192.0.2.140"),
	   "failover: A still goes to the preferred endpoint only");
	ldns_pkt_free(p);
}

static void test_all_down(void)
{
	set_health(svc("sf"), 0, HEALTH_DOWN);
	set_health(svc("nd"), 0, HEALTH_DOWN);
	set_health(svc("open"), 0, HEALTH_DOWN);
	recompile();
	ldns_pkt *p = ask("sf.z.test", DNS_T_A, NULL);
	is_int(ldns_pkt_get_rcode(p), LDNS_RCODE_SERVFAIL, "all down, servfail: SERVFAIL");
	ldns_pkt_free(p);
	p = ask("nd.z.test", DNS_T_A, NULL);
	ok(ldns_pkt_get_rcode(p) == 0 && ldns_pkt_ancount(p) == 0 &&
	   ldns_pkt_nscount(p) == 1, "all down, nodata: NODATA with SOA");
	ldns_pkt_free(p);
	p = ask("open.z.test", DNS_T_A, NULL);
	is_int(ldns_pkt_ancount(p), 1, "all down, serve-all: fails open");
	ldns_pkt_free(p);
	admin_set(adm, NULL, "open", NULL, ADMIN_DRAINED);
	recompile();
	p = ask("open.z.test", DNS_T_A, NULL);
	is_int(ldns_pkt_ancount(p), 0, "serve-all never answers a drained endpoint");
	ldns_pkt_free(p);
}

/* Whether the first authority record of p is owned by name. */
static bool auth_owner_is(const ldns_pkt *p, const char *name)
{
	if (!p || !ldns_pkt_nscount(p))
		return false;
	char *o = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(
		ldns_pkt_authority(p), 0)));
	bool same = o && !strcasecmp(o, name);
	free(o);
	return same;
}

/* 100 one-letter labels, then suffix. */
static const char *deep(const char *suffix)
{
	static char name[512];
	size_t n = 0;
	for (int i = 0; i < 100; i++) {
		name[n++] = 'x';
		name[n++] = '.';
	}
	snprintf(name + n, sizeof(name) - n, "%s", suffix);
	return name;
}

/* The answer path starts its search for a cut or a DNAME at the deepest
 * one's depth, not at the query name's: deep names must still find the
 * right one, and ancestors between them must not hide it. */
static void test_deep_names(void)
{
	ldns_pkt *p = ask(deep("sub.z.test"), DNS_T_A, NULL);
	ok(p && !ldns_pkt_aa(p) && ldns_pkt_nscount(p) == 1 &&
	   auth_owner_is(p, "sub.z.test."),
	   "100 labels below a shallow delegation: its referral");
	ldns_pkt_free(p);
	p = ask(deep("a.b.deep.z.test"), DNS_T_A, NULL);
	ok(p && !ldns_pkt_aa(p) && ldns_pkt_nscount(p) == 1 &&
	   auth_owner_is(p, "a.b.deep.z.test."),
	   "100 labels below the deepest delegation: its referral");
	ldns_pkt_free(p);
	p = ask(deep("c.b.deep.z.test"), DNS_T_A, NULL);
	ok(p && ldns_pkt_aa(p) &&
	   ldns_pkt_get_rcode(p) == LDNS_RCODE_NXDOMAIN,
	   "100 labels beside the deepest delegation: NXDOMAIN");
	ldns_pkt_free(p);
	p = ask(deep("old.z.test"), DNS_T_A, NULL);
	ok(p && ldns_pkt_ancount(p) >= 2 &&
	   ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(p), 0)) ==
	   LDNS_RR_TYPE_DNAME, "100 labels below a DNAME: the DNAME");
	ldns_pkt_free(p);
}

static void test_referral(void)
{
	char dir[] = "/tmp/gslbd-unit-XXXXXX", path[256], extra[512];
	if (!mkdtemp(dir)) {
		ok(0, "mkdtemp");
		return;
	}
	snprintf(path, sizeof(path), "%s/z.zone", dir);
	FILE *f = fopen(path, "w");
	fputs("sub 300 IN NS ns.sub\nns.sub 300 IN A 192.0.2.99\n"
	      "txt 300 IN TXT \"hello\"\nalias 300 IN CNAME www\n"
	      "a.b.deep 300 IN NS ns.other.example.\n"
	      "old 300 IN DNAME new.example.\n", f);
	fclose(f);
	model_free(model);
	snap_free(snap);
	snprintf(extra, sizeof(extra), "%s", "");
	char *conf = malloc(strlen(base_conf) + 512);
	/* add zone-file under zone: */
	const char *at = strstr(base_conf, "  nameservers:");
	size_t pre = (size_t)(at - base_conf);
	memcpy(conf, base_conf, pre);
	sprintf(conf + pre, "  zone-file: %s\n%s", path, at);
	char err[256];
	model = cfg_load_string("unit.yaml", conf, errline, NULL);
	free(conf);
	snap = model ? compile_snapshot(model, NULL, 3, err, sizeof(err)) : NULL;
	ok(snap != NULL, "a config with a zone file compiles");
	if (!snap)
		return;
	ldns_pkt *p = ask("deep.Sub.z.test", DNS_T_A, NULL);
	ok(p && !ldns_pkt_aa(p) && ldns_pkt_get_rcode(p) == 0,
	   "below a delegation: referral, AA=0, NOERROR");
	is_int(ldns_pkt_nscount(p), 1, "referral NS in authority");
	is_int(ldns_pkt_arcount(p), 1, "referral glue in additional");
	ldns_pkt_free(p);
	p = ask("sub.z.test", DNS_T_NS, NULL);
	ok(p && !ldns_pkt_aa(p) && ldns_pkt_nscount(p) == 1,
	   "at the delegation point: referral too");
	ldns_pkt_free(p);
	p = ask("txt.z.test", DNS_T_TXT, NULL);
	ok(p && ldns_pkt_ancount(p) == 1 && memmem(out, last_len, "hello", 5),
	   "static TXT from the zone file");
	ldns_pkt_free(p);
	p = ask("alias.z.test", DNS_T_A, NULL);
	ok(p && ldns_pkt_ancount(p) == 1 &&
	   ldns_rr_get_type(ldns_rr_list_rr(ldns_pkt_answer(p), 0)) ==
	   LDNS_RR_TYPE_CNAME, "A at a CNAME: the CNAME");
	ldns_pkt_free(p);
	test_deep_names();
	unlink(path);
	rmdir(dir);
}

int main(void)
{
	answer_ctx_init(&ctx, 42);
	adm = admin_new();
	load(NULL);
	test_service_all();
	test_negative();
	test_apex();
	test_edns();
	test_policies();
	test_policies_per_family();
	test_all_down();
	test_patch();
	test_patch_add();
	test_truncation();
	test_referral();
	model_free(model);
	snap_free(snap);
	admin_free(adm);
	return tap_done();
}
