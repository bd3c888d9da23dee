/* test_rrl.c -- response rate limiting: how answers are grouped (NSD's
 * classes, from real answers of a compiled snapshot), the per-second
 * count, the slip cycle, prefixes, exemptions, cookies, and the answer
 * cut down to TC=1 or BADCOOKIE. */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/cfg.h"
#include "server/answer.h"
#include "server/compile.h"
#include "server/rrl.h"
#include "tests/unit/tap.h"
#include "tests/unit/testutil.h"

static const char conf[] =
	"zone:\n"
	"  name: z.test\n"
	"  nameservers:\n"
	"    - name: ns1\n"
	"      addresses: [192.0.2.1]\n"
	"  zone-file: %s\n"
	"probe-defaults: { type: none }\n"
	"services:\n"
	"  - name: www\n"
	"    endpoints: [{ region: a, addresses: [192.0.2.10] }]\n"
	"  - name: api\n"
	"    endpoints: [{ region: a, addresses: [192.0.2.11] }]\n";

static struct model *model;
static struct snap *snap;
static struct answer_ctx ctx;
static uint8_t out[4096];
static size_t out_len;

static void errline(void *arg, const char *line)
{
	(void)arg;
	printf("# config: %s\n", line);
}

static void load(void)
{
	char zpath[] = "/tmp/test_rrl_XXXXXX", text[2048], err[256];
	int fd = mkstemp(zpath);
	static const char zone[] =
		"sub.z.test. 3600 IN NS ns.sub.z.test.\n"
		"ns.sub.z.test. 3600 IN A 192.0.2.5\n"
		"dn.z.test. 3600 IN DNAME target.example.\n";

	if (fd < 0 || write(fd, zone, sizeof(zone) - 1) < 0) {
		printf("Bail out! zone file\n");
		exit(1);
	}
	close(fd);
	snprintf(text, sizeof(text), conf, zpath);
	model = cfg_load_string("unit.yaml", text, errline, NULL);
	unlink(zpath);
	if (!model || model_targets_build(model) < 0) {
		printf("Bail out! config\n");
		exit(1);
	}
	struct compile_view v = { .health = NULL, .nhealth = 0 };
	if (!(snap = compile_snapshot(model, &v, 1, err, sizeof(err)))) {
		printf("Bail out! compile: %s\n", err);
		exit(1);
	}
}

/* Answer a query (with an OPT, and a client cookie when cookie) and
 * return what the writer recorded for rate limiting. */
static struct rrl_facts ask(const char *name, uint16_t type, bool cookie)
{
	uint8_t q[512];
	size_t n = 12;
	struct sockaddr_storage from = tu_sockaddr("10.0.0.1");

	memset(q, 0, 12);
	wire_put16(q, 0x4242);
	wire_put16(q + 4, 1);
	wire_put16(q + 10, 1);
	for (const char *p = name; *p;) {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);
		q[n++] = (uint8_t)l;
		memcpy(q + n, p, l);
		n += l;
		p += l + (dot ? 1 : 0);
	}
	q[n++] = 0;
	wire_put16(q + n, type);
	wire_put16(q + n + 2, DNS_C_IN);
	n += 4;
	q[n] = 0;
	wire_put16(q + n + 1, DNS_T_OPT);
	wire_put16(q + n + 3, 1232);
	memset(q + n + 5, 0, 4);
	wire_put16(q + n + 9, cookie ? 12 : 0);
	n += 11;
	if (cookie) {
		wire_put16(q + n, EDNS_O_COOKIE);
		wire_put16(q + n + 2, 8);
		memcpy(q + n + 4, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
		n += 12;
	}
	out_len = answer_query(&ctx, snap, q, n, (struct sockaddr *)&from,
			       false, out, sizeof(out));
	return ctx.last;
}

static bool same(struct rrl_facts a, struct rrl_facts b)
{
	return a.kind == b.kind && a.name == b.name;
}

static void test_grouping(void)
{
	struct rrl_facts www = ask("www.z.test", DNS_T_A, false);
	is_int(www.kind, RRL_K_POSITIVE, "an address answer is positive");
	ok(same(www, ask("WWW.z.test", DNS_T_A, false)),
	   "the same name in another case: the same group");
	is_int(ask("www.z.test", DNS_T_AAAA, false).kind, RRL_K_NODATA,
	       "AAAA of an IPv4-only service is NODATA");
	ok(!same(www, ask("api.z.test", DNS_T_A, false)),
	   "another name: another group");
	struct rrl_facts nx1 = ask("nope.z.test", DNS_T_A, false);
	struct rrl_facts nx2 = ask("other.nope.z.test", DNS_T_AAAA, false);
	is_int(nx1.kind, RRL_K_NXDOMAIN, "a missing name is NXDOMAIN");
	ok(same(nx1, nx2), "every NXDOMAIN of the zone: one group");
	struct rrl_facts nd1 = ask("www.z.test", DNS_T_TXT, false);
	struct rrl_facts nd2 = ask("api.z.test", DNS_T_MX, false);
	is_int(nd1.kind, RRL_K_NODATA, "a missing type is NODATA");
	ok(same(nd1, nd2), "every NODATA of the zone: one group");
	ok(!same(nd1, nx1), "NODATA and NXDOMAIN: separate groups");
	struct rrl_facts r1 = ask("a.sub.z.test", DNS_T_A, false);
	struct rrl_facts r2 = ask("b.c.sub.z.test", DNS_T_AAAA, false);
	is_int(r1.kind, RRL_K_REFERRAL, "a name below a delegation: referral");
	ok(same(r1, r2), "referrals to the same delegation: one group");
	struct rrl_facts d1 = ask("a.dn.z.test", DNS_T_A, false);
	struct rrl_facts d2 = ask("b.c.dn.z.test", DNS_T_TXT, false);
	is_int(d1.kind, RRL_K_DNAME, "a name below a DNAME: synthesized");
	ok(same(d1, d2), "every name below one DNAME: one group");
	struct rrl_facts e1 = ask("example.com", DNS_T_A, false);
	struct rrl_facts e2 = ask("other.example.net", DNS_T_AAAA, false);
	is_int(e1.kind, RRL_K_ERROR, "out of zone: REFUSED is an error");
	ok(same(e1, e2) && e1.name == 0, "every error: one group per source");
	struct rrl_facts any = ask("www.z.test", DNS_T_ANY, false);
	is_int(any.kind, RRL_K_ANY, "ANY has its own class");
	ok(!same(any, www), "ANY and A of one name: separate groups");
	ok(www.opt > www.qlen && www.opt < out_len,
	   "the OPT's offset is recorded");
}

static struct rrl_conf conf5(uint32_t slip)
{
	struct rrl_conf c = { .rps = 5, .slip = slip, .v4_prefix = 24,
			      .v6_prefix = 56 };
	rrl_conf_masks(&c);
	return c;
}

static unsigned run(struct rrl_table *t, const struct rrl_conf *c,
		    const char *src, const struct rrl_facts *f, uint32_t now,
		    unsigned n, char *pattern)
{
	struct sockaddr_storage from = tu_sockaddr(src);
	unsigned pass = 0;

	for (unsigned i = 0; i < n; i++) {
		enum rrl_verdict v = rrl_check(t, c, (struct sockaddr *)&from,
					       f, now);
		pass += v == RRL_PASS;
		if (pattern)
			pattern[i] = v == RRL_PASS ? 'p' : v == RRL_SLIP ? 's' : 'd';
	}
	if (pattern)
		pattern[n] = 0;
	return pass;
}

static void test_limit(void)
{
	struct rrl_table *t = rrl_table_new(10, 42);
	struct rrl_conf c = conf5(2);
	struct rrl_facts f = { .kind = RRL_K_POSITIVE, .name = 7 };
	char pat[64];

	run(t, &c, "10.0.0.1", &f, 1000, 11, pat);
	is_str(pat, "pppppdsdsds", "rps 5, slip 2: five pass, then drop and slip alternate");
	run(t, &c, "10.0.0.200", &f, 1000, 2, pat);
	is_str(pat, "ds", "another address in the same /24 shares the count");
	is_int(run(t, &c, "10.0.1.1", &f, 1000, 5, NULL), 5,
	       "another /24 is counted apart");
	struct rrl_facts g = { .kind = RRL_K_POSITIVE, .name = 8 };
	is_int(run(t, &c, "10.0.0.1", &g, 1000, 5, NULL), 5,
	       "another name from the same source is counted apart");
	struct rrl_facts nx = { .kind = RRL_K_NXDOMAIN, .name = 7 };
	is_int(run(t, &c, "10.0.0.1", &nx, 1000, 5, NULL), 5,
	       "another class with the same name hash is counted apart");
	run(t, &c, "10.0.0.1", &f, 1001, 7, pat);
	is_str(pat, "pppppds", "the next second: five pass again, the slip cycle goes on");

	c.slip = 0;
	run(t, &c, "10.0.2.1", &f, 1000, 8, pat);
	is_str(pat, "pppppddd", "slip 0: every limited answer dropped");
	c.slip = 1;
	run(t, &c, "10.0.3.1", &f, 1000, 8, pat);
	is_str(pat, "pppppsss", "slip 1: every limited answer truncated");
	c.slip = 3;
	run(t, &c, "10.0.4.1", &f, 1000, 11, pat);
	is_str(pat, "pppppddsdds", "slip 3: every third");

	c = conf5(2);
	is_int(run(t, &c, "2001:db8:0:1::1", &f, 1000, 5, NULL), 5,
	       "IPv6: five pass");
	is_int(run(t, &c, "2001:db8:0:1:ffff::2", &f, 1000, 1, NULL), 0,
	       "IPv6: the same /56 shares the count");
	is_int(run(t, &c, "2001:db8:0:100::1", &f, 1000, 5, NULL), 5,
	       "IPv6: another /56 is counted apart");
	is_int(run(t, &c, "::ffff:10.0.0.7", &f, 1001, 1, NULL), 0,
	       "a v4-mapped source counts as its IPv4 /24");

	c.v4_prefix = 32;
	c.v6_prefix = 64;
	rrl_conf_masks(&c);
	is_int(run(t, &c, "10.0.5.1", &f, 1000, 5, NULL) +
	       run(t, &c, "10.0.5.2", &f, 1000, 5, NULL), 10,
	       "ipv4-prefix 32: neighbours are counted apart");
	is_int(run(t, &c, "2001:db8:1:2:0:0:0:1", &f, 1000, 5, NULL) +
	       run(t, &c, "2001:db8:1:2:ffff::1", &f, 1000, 5, NULL), 5,
	       "ipv6-prefix 64: one /64 is counted together");
	c.v4_prefix = 20;
	rrl_conf_masks(&c);
	is_int(run(t, &c, "10.0.16.1", &f, 1000, 5, NULL) +
	       run(t, &c, "10.0.31.255", &f, 1000, 5, NULL), 5,
	       "ipv4-prefix 20: 10.0.16.0/20 is counted together");
	c = conf5(2);
	struct model_net ex;
	model_net_parse(&ex, "10.9.0.0/16");
	c.exempt = &ex;
	c.nexempt = 1;
	is_int(run(t, &c, "10.9.8.7", &f, 1000, 50, NULL), 50,
	       "an exempt prefix is never limited");
	is_int(run(t, &c, "10.8.8.7", &f, 1000, 50, NULL), 5,
	       "a prefix outside the exemption is");

	c = conf5(2);
	struct rrl_facts ck = f;
	ck.cookie = COOKIE_VALID;
	is_int(run(t, &c, "10.0.0.1", &ck, 1001, 50, NULL), 50,
	       "a valid server cookie is never limited");
	ck.cookie = COOKIE_CLIENT;
	is_int(run(t, &c, "10.0.0.1", &ck, 1001, 5, NULL), 0,
	       "a client cookie alone is limited");
	c.rps = 0;
	is_int(run(t, &c, "10.0.0.1", &f, 1001, 50, NULL), 50,
	       "responses-per-second 0: off");
	rrl_table_free(t);
}

static void test_slip(void)
{
	struct rrl_facts f = ask("www.z.test", DNS_T_A, false);
	size_t n = rrl_slip(out, out_len, &f);
	uint16_t flags = wire_get16(out + 2);

	ok(flags & DNS_F_TC, "slip: TC=1");
	is_int(flags & 0xf, DNS_R_NOERROR, "slip: the RCODE stays");
	is_int(wire_get16(out + 6), 0, "slip: no answer records");
	is_int(wire_get16(out + 8), 0, "slip: no authority records");
	is_int(wire_get16(out + 10), 1, "slip: the OPT stays");
	is_int(n, f.qlen + 11, "slip: header, question and an empty OPT");
	is_int(wire_get16(out + f.qlen + 1), DNS_T_OPT, "slip: OPT right after the question");

	f = ask("www.z.test", DNS_T_A, true);
	is_int(f.cookie, COOKIE_CLIENT, "a client cookie alone: not validated");
	n = rrl_slip(out, out_len, &f);
	flags = wire_get16(out + 2);
	ok(!(flags & DNS_F_TC), "slip with a client cookie: no TC");
	is_int((out[f.qlen + 5] << 4) | (flags & 0xf), 23,
	       "slip with a client cookie: BADCOOKIE (RFC 7873 5.2.3)");
	is_int(n, f.qlen + 11 + 28, "slip with a client cookie: the COOKIE option stays");
	is_int(wire_get16(out + f.qlen + 11), EDNS_O_COOKIE, "... a COOKIE option");
	is_int(wire_get16(out + f.qlen + 13), 24, "... with a server cookie");
}

int main(void)
{
	load();
	answer_ctx_init(&ctx, 1);
	test_grouping();
	test_limit();
	test_slip();
	snap_free(snap);
	model_free(model);
	return tap_done();
}
