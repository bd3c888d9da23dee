/*
 * test_cfg.c -- the config loader (config/cfg.c), the zone-file reader
 * (config/zonefile.c) and the model helpers (config/model.c).
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "config/cfg.h"
#include "config/model.h"
#include "config/zonefile.h"
#include "lib/log.h"
#include "lib/parse.h"
#include "tests/unit/tap.h"
#include "tests/unit/testutil.h"

/* ---- error collection ---- */

#define MAXERR 32

struct errs {
	char line[MAXERR][512];
	int n;
};

static struct errs E;

static void collect(void *arg, const char *line)
{
	struct errs *e = arg;

	if (e->n < MAXERR)
		snprintf(e->line[e->n], sizeof(e->line[0]), "%s", line);
	e->n++;
}

static void dump_errs(void)
{
	for (int i = 0; i < E.n && i < MAXERR; i++)
		printf("#   error: %s\n", E.line[i]);
}

static struct model *load(const char *yaml)
{
	memset(&E, 0, sizeof(E));
	return cfg_load_string("t.yaml", yaml, collect, &E);
}

static bool has_err(const char *want)
{
	for (int i = 0; i < E.n && i < MAXERR; i++)
		if (!strncmp(E.line[i], want, strlen(want)))
			return true;
	return false;
}

/* The config is refused and one error line starts with want. */
static void expect_err(const char *yaml, const char *want, const char *what)
{
	struct model *m = load(yaml);

	if (!ok(!m && has_err(want), what)) {
		printf("#   want: %s\n", want);
		dump_errs();
	}
	model_free(m);
}

/* The config is refused with exactly these error lines, in this order. */
static void expect_errs(const char *yaml, const char *const *want,
			const char *what)
{
	struct model *m = load(yaml);
	int n = 0;
	bool same = !m;

	for (; want[n]; n++)
		same = same && n < E.n && n < MAXERR &&
		       !strcmp(E.line[n], want[n]);
	if (!ok(same && E.n == n, what)) {
		for (int i = 0; want[i]; i++)
			printf("#   want: %s\n", want[i]);
		dump_errs();
	}
	model_free(m);
}

static struct model *expect_ok(const char *yaml, const char *what)
{
	struct model *m = load(yaml);

	if (!ok(m && E.n == 0, what))
		dump_errs();
	return m;
}

/* Lines 1-4: a zone with an out-of-zone name server (no glue needed). */
#define BASE \
	"zone:\n" \
	"  name: example.org\n" \
	"  nameservers:\n" \
	"    - name: ns1.example.net.\n"

/* Lines 5-9: one service, one endpoint. */
#define SVC \
	"services:\n" \
	"  - name: www\n" \
	"    endpoints:\n" \
	"      - region: eu\n" \
	"        addresses: [192.0.2.1]\n"

/* ---- helpers ---- */

static const char *listen_str(const struct model_listen *l, char *buf,
			      size_t len)
{
	char a[INET6_ADDRSTRLEN];

	if (l->ss.ss_family == AF_INET) {
		const struct sockaddr_in *s = (const void *)&l->ss;
		inet_ntop(AF_INET, &s->sin_addr, a, sizeof(a));
		snprintf(buf, len, "%s:%u", a, ntohs(s->sin_port));
	} else {
		const struct sockaddr_in6 *s = (const void *)&l->ss;
		inet_ntop(AF_INET6, &s->sin6_addr, a, sizeof(a));
		snprintf(buf, len, "[%s]:%u", a, ntohs(s->sin6_port));
	}
	return buf;
}

static const char *find_example(void)
{
	static char buf[4096];
	static const char *const guesses[] = {
		"docs/examples/gslbd.yaml", "../docs/examples/gslbd.yaml",
		"../../docs/examples/gslbd.yaml",
		"../../../docs/examples/gslbd.yaml", NULL,
	};
	const char *top = getenv("top_srcdir");

	if (top) {
		snprintf(buf, sizeof(buf), "%s/docs/examples/gslbd.yaml", top);
		if (access(buf, R_OK) == 0)
			return buf;
	}
	for (int i = 0; guesses[i]; i++)
		if (access(guesses[i], R_OK) == 0)
			return guesses[i];
	return NULL;
}


/* ---- the example ---- */

static void test_example(void)
{
	const char *path = find_example();
	time_t before = time(NULL);
	struct model *m;
	char buf[128];

	if (!ok(path, "the example config docs/examples/gslbd.yaml is found"))
		return;
	memset(&E, 0, sizeof(E));
	m = cfg_load(path, collect, &E);
	if (!ok(m && E.n == 0, "the annotated example loads without errors")) {
		dump_errs();
		model_free(m);
		return;
	}
	is_str(m->path, path, "model remembers the file it came from");
	is_int(m->server.nlisten, 2, "example: two listen addresses");
	is_str(listen_str(&m->server.listen[0], buf, sizeof(buf)),
	       "127.0.0.1:53", "example: bare 127.0.0.1 gets server.port 53");
	is_str(listen_str(&m->server.listen[1], buf, sizeof(buf)), "[::1]:53",
	       "example: bare ::1 is IPv6 without a port");
	is_int(m->server.workers, 2, "example: workers 2");
	is_int(m->server.edns_udp_size, 1232, "example: edns-udp-size");
	is_int(m->server.tcp_idle_ms, 10000, "example: tcp-idle-timeout 10s");
	is_int(m->server.tcp_max_clients, 256, "example: tcp-max-clients");
	is_str(m->server.identity, "gslbd-eu-1", "example: identity");
	is_str(m->server.version, "gslbd", "example: version");
	is_str(m->server.nsid, "gslbd-eu-1", "example: nsid");
	ok(!m->server.user && !m->server.group,
	   "example: commented-out user/group stay unset");

	is_str(m->zone.apex, "global.example.org.",
	       "example: apex is an FQDN with a trailing dot");
	is_int(m->zone.ttl, 3600, "example: zone ttl 1h in seconds");
	is_str(m->zone.soa_mname, "ns1.global.example.org.",
	       "example: soa mname is absolute without a trailing dot");
	is_str(m->zone.soa_rname, "hostmaster.example.org.",
	       "example: soa rname is absolute (outside the zone)");
	ok(m->zone.soa_serial >= (uint32_t)before,
	   "example: serial 0 becomes the unix time at load");
	is_int(m->zone.soa_refresh, 3600, "example: soa refresh 1h");
	is_int(m->zone.soa_retry, 600, "example: soa retry 10m");
	is_int(m->zone.soa_expire, 604800, "example: soa expire 1w");
	is_int(m->zone.soa_minimum, 60, "example: soa minimum 60s");
	is_int(m->zone.nns, 2, "example: two name servers");
	is_str(m->zone.ns[0].name, "ns1.global.example.org.",
	       "example: relative NS name joined to the apex");
	is_int(m->zone.ns[0].naddrs, 2, "example: ns1 has v4 and v6 glue");
	is_int(m->zone.ns[0].addrs[1].family, AF_INET6,
	       "example: quoted IPv6 glue parses");
	is_str(m->zone.ns[1].name, "ns2.global.example.org.",
	       "example: absolute NS name kept");
	ok(!m->zone.zone_file && !m->zone.static_rrs,
	   "example: no zone file (commented out)");

	ok(m->probe_defaults.set & PS_TYPE,
	   "example: probe-defaults keep which fields were given");
	is_str(m->probe_defaults.path, "/", "example: default path");

	is_int(m->ntopo, 2, "example: two topology regions");
	is_str(m->topo[0].region, "eu-west", "example: topology region");
	is_int(m->topo[0].nnets, 2, "example: eu-west has two subnets");
	is_int(m->topo[0].nets[1].family, AF_INET6, "example: v6 subnet");
	is_int(m->topo[0].nets[1].prefix, 48, "example: v6 prefix /48");

	if (!ok(m->nsvcs == 2, "example: two services"))
		goto out;
	struct model_service *www = &m->svcs[0], *api = &m->svcs[1];
	is_str(www->name, "www.global.example.org.", "example: www FQDN");
	is_str(www->source, "config", "example: service source is config");
	is_int(www->policy, POLICY_ALL, "example: www policy all");
	is_int(www->ttl, 30, "example: www ttl 30s");
	is_int(www->max_answers, 8, "example: www max-answers");
	is_int(www->all_down, ALLDOWN_SERVE_ALL, "example: www all-down");
	is_int(www->neps, 2, "example: www has two endpoints");
	is_str(www->eps[0].name, "eu-west",
	       "example: endpoint name defaults to its region");
	is_str(www->eps[0].probe.path, "/healthz",
	       "example: service probe path overrides probe-defaults");
	is_int(www->eps[0].probe.port, 80, "example: http port defaults 80");
	is_int(www->eps[1].probe.port, 8080,
	       "example: endpoint probe port overrides the service");
	is_str(www->eps[1].probe.path, "/healthz",
	       "example: endpoint inherits the service path");
	is_int(www->eps[1].naddrs, 2, "example: us-east has two addresses");
	is_str(model_addr_str(&www->eps[1].addrs[1], buf, sizeof(buf)), "::1",
	       "example: quoted ::1 endpoint address");
	is_str(api->name, "api.global.example.org.", "example: api FQDN");
	is_int(api->policy, POLICY_FAILOVER, "example: api policy failover");
	is_int(api->eps[1].priority, 2, "example: api us-east priority 2");
	is_int(api->eps[1].probe.type, PROBE_TCP, "example: api tcp probe");
	is_int(api->eps[1].probe.port, 443, "example: api tcp port 443");
	is_str(api->eps[0].probe.path, "/",
	       "example: api inherits the probe-defaults path");
out:
	model_free(m);
}

/* ---- the example shows the defaults ---- */

/* Setting f of ps, over the built-in defaults dflt, changes nothing. */
static bool shown_is_default(const struct probe_spec *ps,
			     const struct probe_spec_field *f,
			     const struct probe_spec *dflt)
{
	struct probe_spec one = { 0 }, only = { 0 };
	bool same;

	probe_spec_copy(&one, dflt);
	probe_spec_copy(&only, ps);
	only.set = f->bit;
	probe_spec_overlay(&one, &only);
	same = probe_spec_equal(&one, dflt);
	probe_spec_clear(&one);
	probe_spec_clear(&only);
	return same;
}

/*
 * The example says its values are the defaults unless a comment says
 * otherwise: every probe-defaults key it sets equals the table's built-in
 * default, and the server, zone, service and endpoint keys it shows without
 * such a comment equal what a minimal config gets.
 */
static void test_example_defaults(void)
{
	const char *path = find_example();
	struct probe_spec dflt = { 0 }, shown = { 0 };
	struct model *m, *b;

	if (!ok(path, "example defaults: the example config is found"))
		return;
	memset(&E, 0, sizeof(E));
	m = cfg_load(path, collect, &E);
	if (!ok(m != NULL, "example defaults: the example loads")) {
		dump_errs();
		return;
	}
	probe_spec_finish(&dflt);
	probe_spec_copy(&shown, &dflt);
	probe_spec_overlay(&shown, &m->probe_defaults);
	for (size_t i = 0; i < PROBE_SPEC_NFIELDS; i++) {
		const struct probe_spec_field *f = &probe_spec_fields[i];
		char what[128];

		if (!(m->probe_defaults.set & f->bit))
			continue;
		snprintf(what, sizeof(what), "example defaults: probe-defaults "
			 "%s is the built-in default", f->key);
		ok(shown_is_default(&m->probe_defaults, f, &dflt), what);
	}
	ok(probe_spec_equal(&shown, &dflt),
	   "example defaults: probe-defaults as a whole are the built-ins");
	probe_spec_clear(&dflt);
	probe_spec_clear(&shown);

	b = expect_ok(BASE SVC, "example defaults: a minimal config loads");
	if (!b)
		goto out;
	is_int(m->server.nlisten, b->server.nlisten,
	       "example defaults: as many listen addresses as the default");
	for (size_t i = 0; i < m->server.nlisten && i < b->server.nlisten;
	     i++) {
		char x[128], y[128];
		is_str(listen_str(&m->server.listen[i], x, sizeof(x)),
		       listen_str(&b->server.listen[i], y, sizeof(y)),
		       "example defaults: listen address and port");
	}
	is_int(m->server.edns_udp_size, b->server.edns_udp_size,
	       "example defaults: edns-udp-size");
	is_int(m->server.tcp_idle_ms, b->server.tcp_idle_ms,
	       "example defaults: tcp-idle-timeout");
	is_int(m->server.tcp_max_clients, b->server.tcp_max_clients,
	       "example defaults: tcp-max-clients");
	ok(m->server.log_level == b->server.log_level ||
	   (b->server.log_level == -1 && m->server.log_level == LOG_LVL_INFO),
	   "example defaults: log-level info");
	is_int(m->zone.ttl, b->zone.ttl, "example defaults: zone ttl");
	ok(m->zone.soa_refresh == b->zone.soa_refresh &&
	   m->zone.soa_retry == b->zone.soa_retry &&
	   m->zone.soa_expire == b->zone.soa_expire &&
	   m->zone.soa_minimum == b->zone.soa_minimum,
	   "example defaults: soa refresh, retry, expire and minimum");
	if (m->nsvcs >= 1 && m->svcs[0].neps >= 2) {
		const struct model_service *w = &m->svcs[0], *d = &b->svcs[0];
		const struct model_endpoint *e = &w->eps[1], *de = &d->eps[0];

		ok(w->policy == d->policy && w->ttl == d->ttl &&
		   w->max_answers == d->max_answers &&
		   w->all_down == d->all_down,
		   "example defaults: www policy, ttl, max-answers, all-down");
		ok(e->weight == de->weight && e->priority == de->priority &&
		   e->enabled == de->enabled,
		   "example defaults: us-east weight, priority, enabled");
	} else {
		ok(0, "example defaults: www has two endpoints");
	}
	model_free(b);
out:
	model_free(m);
}

/* ---- defaults ---- */

static void test_defaults(void)
{
	time_t before = time(NULL);
	struct model *m = expect_ok(BASE SVC, "a minimal config loads");
	char buf[128];

	if (!m)
		return;
	is_int(m->server.nlisten, 2, "default: two listen addresses");
	is_str(listen_str(&m->server.listen[0], buf, sizeof(buf)),
	       "127.0.0.1:53", "default: listen 127.0.0.1 port 53");
	is_str(listen_str(&m->server.listen[1], buf, sizeof(buf)), "[::1]:53",
	       "default: listen ::1 port 53");
	ok(m->server.workers >= 1 && m->server.workers <= 256,
	   "default: workers is the CPU count, within 1..256");
	is_int(m->server.edns_udp_size, 1232, "default: edns-udp-size 1232");
	is_int(m->server.tcp_idle_ms, 10000, "default: tcp idle 10s");
	is_int(m->server.tcp_max_clients, 256, "default: tcp-max-clients");
	ok(!m->server.identity && !m->server.version && !m->server.nsid,
	   "default: identity, version and nsid are off");
	is_int(m->zone.ttl, 3600, "default: zone ttl 3600");
	is_str(m->zone.soa_mname, "ns1.example.net.",
	       "default: soa mname is the first NS");
	is_str(m->zone.soa_rname, "hostmaster.example.org.",
	       "default: soa rname is hostmaster.<apex>");
	ok(m->zone.soa_serial >= (uint32_t)before,
	   "default: serial is the unix time");
	ok(m->zone.soa_refresh == 3600 && m->zone.soa_retry == 600 &&
	   m->zone.soa_expire == 604800 && m->zone.soa_minimum == 60,
	   "default: soa timers 1h/10m/1w/60s");
	is_int(m->probe_defaults.set, 0, "default: no probe-defaults given");
	is_int(m->ntopo, 0, "default: no topology");

	struct model_service *s = &m->svcs[0];
	struct model_endpoint *ep = &s->eps[0];
	struct probe_spec *ps = &ep->probe;
	is_int(s->policy, POLICY_ALL, "default: policy all");
	is_int(s->all_down, ALLDOWN_SERVE_ALL, "default: all-down serve-all");
	is_int(s->ttl, 30, "default: service ttl 30");
	is_int(s->max_answers, 8, "default: max-answers 8");
	ok(ep->weight == 1 && ep->priority == 1 && ep->enabled,
	   "default: weight 1, priority 1, enabled");
	is_str(ep->name, "eu", "default: endpoint name is its region");
	is_int(ps->type, PROBE_HTTP, "default probe: http");
	is_int(ps->port, 80, "default probe: port 80");
	is_int(ps->interval_ms, PROBE_DEFAULT_INTERVAL_MS,
	       "default probe: interval");
	is_int(ps->timeout_ms, PROBE_DEFAULT_TIMEOUT_MS,
	       "default probe: timeout");
	is_int(ps->jitter_ms, PROBE_DEFAULT_JITTER_MS, "default probe: jitter");
	ok(ps->rise == PROBE_DEFAULT_RISE && ps->fall == PROBE_DEFAULT_FALL,
	   "default probe: rise and fall");
	is_str(ps->method, "GET", "default probe: method GET");
	is_str(ps->path, "/", "default probe: path /");
	ok(!ps->host, "default probe: host NULL (prober uses service name)");
	ok(ps->nstatus == 1 && ps->status[0].lo == 200 &&
	   ps->status[0].hi == 399, "default probe: status 200-399");
	ok(ps->tls_verify, "default probe: tls-verify true");
	ok(!ps->body && !ps->nheaders && !ps->ca_file,
	   "default probe: no body, headers or CA file");
	model_free(m);
}

/* ---- durations, TTLs, listen ---- */

static void test_durations(void)
{
	static const struct { const char *s; uint64_t ms; } good[] = {
		{ "500ms", 500 }, { "2s", 2000 }, { "1m", 60000 },
		{ "1h", 3600000 }, { "1d", 86400000 }, { "1w", 604800000 },
		{ "30", 30000 }, { "0", 0 }, { "1m30s", 90000 },
		{ "1s500ms", 1500 },
	};
	static const char *const bad[] = {
		"", "s", "5x", "-1s", "1.5s", " 1s", "1s ", "1 s", "ms",
		"99999999999999999999", "18446744073709551615",
		"10000000000000000w", NULL,
	};
	char what[128];
	uint64_t ms;

	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		ms = 12345;
		snprintf(what, sizeof(what), "duration '%s' is %llu ms",
			 good[i].s, (unsigned long long)good[i].ms);
		ok(parse_duration_ms(good[i].s, &ms) == 0 &&
		   ms == good[i].ms, what);
	}
	for (size_t i = 0; bad[i]; i++) {
		snprintf(what, sizeof(what), "duration '%s' is refused",
			 bad[i]);
		ok(parse_duration_ms(bad[i], &ms) < 0, what);
	}

	struct model *m = expect_ok(BASE "  ttl: 2147483647\n" SVC
				    "    ttl: \"45s\"\n",
				    "TTLs as bare seconds and quoted durations");
	if (m) {
		is_int(m->zone.ttl, 2147483647u, "TTL 2147483647 is the max");
		is_int(m->svcs[0].ttl, 45, "TTL '45s' is 45 seconds");
	}
	model_free(m);
	expect_err(BASE "  ttl: 2147483648\n",
		   "t.yaml:5:8: zone.ttl: 2147483648 is out of range",
		   "TTL 2147483648 is out of range, at its line:column");
	expect_err(BASE "  ttl: 1500ms\n",
		   "t.yaml:5:8: zone.ttl: a TTL is whole seconds",
		   "TTL 1500ms is refused: not whole seconds");
	expect_err(BASE "probe-defaults:\n  interval: 5 s\n",
		   "t.yaml:6:13: probe-defaults.interval: bad duration '5 s'",
		   "bad duration reported at its line:column");
}

static void test_listen(void)
{
	struct model *m = expect_ok(BASE
		"server:\n"
		"  port: 5353\n"
		"  listen: [\"127.0.0.1:5300\", \"[::1]:5301\", \"::1\", "
		"192.0.2.1, \"[2001:db8::1]\"]\n",
		"listen forms ADDR, ADDR:PORT, [V6]:PORT and bare V6 load");
	char buf[128];

	if (!m)
		return;
	is_int(m->server.nlisten, 5, "five listen entries");
	is_str(listen_str(&m->server.listen[0], buf, sizeof(buf)),
	       "127.0.0.1:5300", "listen 127.0.0.1:5300 keeps its port");
	is_str(listen_str(&m->server.listen[1], buf, sizeof(buf)),
	       "[::1]:5301", "listen [::1]:5301 keeps its port");
	is_str(listen_str(&m->server.listen[2], buf, sizeof(buf)),
	       "[::1]:5353", "bare ::1 takes server.port");
	is_str(listen_str(&m->server.listen[3], buf, sizeof(buf)),
	       "192.0.2.1:5353", "bare IPv4 takes server.port");
	is_str(listen_str(&m->server.listen[4], buf, sizeof(buf)),
	       "[2001:db8::1]:5353", "bracketed IPv6 without port");
	is_int(m->server.listen[0].sslen, sizeof(struct sockaddr_in),
	       "IPv4 listen sslen is sockaddr_in");
	model_free(m);

	m = expect_ok(BASE "server:\n  port: 5300\n",
		      "server.port without listen");
	if (m)
		is_str(listen_str(&m->server.listen[1], buf, sizeof(buf)),
		       "[::1]:5300", "default listen addresses take server.port");
	model_free(m);
	expect_err(BASE "server:\n  listen: [\"[127.0.0.1]:53\"]\n",
		   "t.yaml:6:12: server.listen[0]: bad listen address",
		   "brackets around IPv4 are refused");
	expect_err(BASE "server:\n  listen: [\"127.0.0.1:0\"]\n",
		   "t.yaml:6:12: server.listen[0]: bad port",
		   "listen port 0 is refused");
	expect_err(BASE "server:\n  listen: [\"[::1]:70000\"]\n",
		   "t.yaml:6:12: server.listen[0]: bad port",
		   "listen port 70000 is refused");
	expect_err(BASE "server:\n  listen: [localhost]\n",
		   "t.yaml:6:12: server.listen[0]: bad listen address",
		   "host names are not listen addresses");
	expect_err(BASE "server:\n  listen: []\n",
		   "t.yaml:6:11: server.listen: empty list",
		   "an empty listen list is refused");
}

/* ---- error classes ---- */

static void test_errors_keys_types(void)
{
	expect_err(BASE SVC
		   "  - name: api\n"
		   "    polcy: all\n"
		   "    endpoints:\n"
		   "      - region: eu\n"
		   "        addresses: [192.0.2.2]\n",
		   "t.yaml:11:5: unknown key 'polcy' in services[1]",
		   "unknown key named with its path and line:column");
	expect_err(BASE "bogus: 1\n",
		   "t.yaml:5:1: unknown key 'bogus' at the top level",
		   "unknown top-level key");
	expect_err(BASE
		   "services:\n"
		   "  - name: www\n"
		   "    ttl: 30\n"
		   "    ttl: 60\n"
		   "    endpoints:\n"
		   "      - region: eu\n"
		   "        addresses: [192.0.2.1]\n",
		   "t.yaml:8:5: duplicate key 'ttl' in services[0] "
		   "(first at line 7)",
		   "duplicate key in a mapping");
	expect_err("zone: 5\n", "t.yaml:1:7: zone: expected a mapping",
		   "wrong type: expected a mapping");
	expect_err(BASE "services: www\n",
		   "t.yaml:5:11: services: expected a list",
		   "wrong type: expected a list");
	expect_err(BASE
		   "services:\n"
		   "  - name: [www]\n"
		   "    endpoints:\n"
		   "      - region: eu\n"
		   "        addresses: [192.0.2.1]\n",
		   "t.yaml:6:11: services[0].name: expected a string",
		   "wrong type: expected a string");
	expect_err(BASE "server:\n  port: abc\n",
		   "t.yaml:6:9: server.port: expected a number",
		   "wrong type: expected a number");
	expect_err(BASE "server:\n  port: \"53\"\n",
		   "t.yaml:6:9: server.port: expected a number",
		   "a quoted number is a string, not a number");
	expect_err(BASE SVC "        enabled: maybe\n",
		   "t.yaml:10:18: services[0].endpoints[0].enabled: expected "
		   "a boolean",
		   "wrong type: expected a boolean");
	expect_err(BASE SVC "        addresses: [192.0.2.300]\n",
		   "t.yaml:10:9: duplicate key 'addresses'",
		   "a second addresses key is a duplicate");
	expect_err(BASE
		   "services:\n"
		   "  - name: www\n"
		   "    endpoints:\n"
		   "      - region: eu\n"
		   "        addresses: [192.0.2.1, 192.0.2.300]\n",
		   "t.yaml:9:32: services[0].endpoints[0].addresses[1]: bad "
		   "address '192.0.2.300'",
		   "bad address named with its index and line:column");
	expect_err(BASE
		   "services:\n"
		   "  - name: www\n"
		   "    endpoints:\n"
		   "      - region: eu\n"
		   "        addresses: [192.0.2.1, 192.0.2.1]\n",
		   "t.yaml:9:32: services[0].endpoints[0].addresses[1]: "
		   "duplicate address",
		   "the same address twice in one endpoint is refused");
}

static void test_errors_ranges(void)
{
	expect_err(BASE "server:\n  port: 0\n",
		   "t.yaml:6:9: server.port: 0 is out of range (1-65535)",
		   "port 0 is out of range");
	expect_err(BASE "server:\n  port: 65536\n",
		   "t.yaml:6:9: server.port: 65536 is out of range",
		   "port 65536 is out of range");
	expect_err(BASE "server:\n  port: -1\n",
		   "t.yaml:6:9: server.port: -1 is out of range",
		   "a negative port is out of range");
	expect_err(BASE "server:\n  workers: 0\n",
		   "t.yaml:6:12: server.workers: 0 is out of range (1-256)",
		   "workers 0 is out of range");
	expect_err(BASE "server:\n  workers: 257\n",
		   "t.yaml:6:12: server.workers: 257 is out of range",
		   "workers 257 is out of range");
	expect_err(BASE "server:\n  edns-udp-size: 511\n",
		   "t.yaml:6:18: server.edns-udp-size: 511 is out of range "
		   "(512-4096)",
		   "edns-udp-size 511 is out of range");
	expect_err(BASE "server:\n  edns-udp-size: 4097\n",
		   "t.yaml:6:18: server.edns-udp-size: 4097 is out of range",
		   "edns-udp-size 4097 is out of range");
	expect_err(BASE "probe-defaults:\n  rise: 0\n",
		   "t.yaml:6:9: probe-defaults.rise: 0 is out of range",
		   "rise 0 is out of range");
	expect_err(BASE "probe-defaults:\n  fall: 0\n",
		   "t.yaml:6:9: probe-defaults.fall: 0 is out of range",
		   "fall 0 is out of range");
	expect_err(BASE "probe-defaults:\n  port: 0\n",
		   "t.yaml:6:9: probe-defaults.port: 0 is out of range",
		   "probe port 0 is out of range");
	expect_err(BASE SVC "    ttl: 2147483648\n",
		   "t.yaml:10:10: services[0].ttl: 2147483648 is out of range",
		   "service TTL over 2^31-1 is out of range");
	expect_err(BASE "probe-defaults:\n  interval: 1s\n  timeout: 2s\n",
		   "t.yaml:7:12: probe-defaults: probe timeout (2000ms) must "
		   "not exceed the interval (1000ms)",
		   "timeout over interval in one layer, at the timeout");
	expect_err(BASE "probe-defaults:\n  timeout: 1500ms\n",
		   "t.yaml:6:12: probe-defaults: probe timeout (1500ms)",
		   "probe-defaults timeout over the built-in interval");
	/* Combined layers: blamed once on the service, not per endpoint. */
	expect_err(BASE
		   "services:\n"
		   "  - name: www\n"
		   "    probe:\n"
		   "      timeout: 1500ms\n"
		   "    endpoints:\n"
		   "      - region: eu\n"
		   "        addresses: [192.0.2.1]\n"
		   "      - region: us\n"
		   "        addresses: [192.0.2.2]\n",
		   "t.yaml:8:16: services[0].probe: probe timeout (1500ms) "
		   "must not exceed the interval (1000ms)",
		   "service timeout over the default interval is blamed on "
		   "the service");
	ok(E.n == 1, "...and reported once, not once per endpoint");
	struct model *m = expect_ok(BASE
		"probe-defaults:\n"
		"  interval: 2s\n"
		"services:\n"
		"  - name: www\n"
		"    probe:\n"
		"      timeout: 1500ms\n"
		"    endpoints:\n"
		"      - region: eu\n"
		"        addresses: [192.0.2.1]\n",
		"a timeout is fine against an interval from another layer");
	model_free(m);
}

static void test_errors_enums(void)
{
	expect_err(BASE SVC "    policy: rr\n",
		   "t.yaml:10:13: services[0].policy: unknown policy 'rr' "
		   "(all, failover, weighted, topology)",
		   "unknown policy lists the choices");
	expect_err(BASE SVC "    all-down: fail\n",
		   "t.yaml:10:15: services[0].all-down: unknown all-down "
		   "value 'fail' (serve-all, servfail, nodata)",
		   "unknown all-down value");
	expect_err(BASE "probe-defaults:\n  type: icmp\n",
		   "t.yaml:6:9: probe-defaults.type: unknown probe type "
		   "'icmp' (none, http, https, tcp)",
		   "unknown probe type");
	expect_err(BASE "probe-defaults:\n  method: POST\n",
		   "t.yaml:6:11: probe-defaults.method: unknown method 'POST' "
		   "(GET, HEAD)",
		   "unknown probe method");
	struct model *m = expect_ok(BASE SVC "    policy: topology\n",
		"policy topology without a topology section is fine "
		"(falls back)");
	if (m)
		is_int(m->svcs[0].policy, POLICY_TOPOLOGY, "policy topology");
	model_free(m);
}

static void test_errors_names(void)
{
	struct model *m;

	expect_err(BASE SVC
		   "  - name: WWW.Example.ORG.\n"
		   "    endpoints:\n"
		   "      - region: eu\n"
		   "        addresses: [192.0.2.2]\n",
		   "t.yaml:10:11: services[1]: duplicate service name "
		   "www.example.org. (first at line 6)",
		   "duplicate service names, relative vs absolute, any case");
	expect_err(BASE
		   "services:\n"
		   "  - name: www.example.com.\n"
		   "    endpoints:\n"
		   "      - region: eu\n"
		   "        addresses: [192.0.2.1]\n",
		   "t.yaml:6:11: services[0].name: 'www.example.com.' is "
		   "outside the zone example.org.",
		   "absolute service name outside the zone");
	expect_err(BASE
		   "services:\n"
		   "  - name: \"bad name!\"\n"
		   "    endpoints:\n"
		   "      - region: eu\n"
		   "        addresses: [192.0.2.1]\n",
		   "t.yaml:6:11: services[0].name: 'bad name!' is not a valid "
		   "DNS name",
		   "service name with invalid characters");
	expect_err(BASE
		   "services:\n"
		   "  - name: aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
		   "aaaaaaaaaaaaa\n"
		   "    endpoints:\n"
		   "      - region: eu\n"
		   "        addresses: [192.0.2.1]\n",
		   "t.yaml:6:11: services[0].name: 'aaaa",
		   "a 64-octet label is refused");
	ok(E.n == 1 && strstr(E.line[0], "is not a valid DNS name (labels "
				   "up to 63"),
	   "...with a message naming the label limit");
	{
		char yaml[1024], label[61], name[400] = "";
		memset(label, 'b', 60);
		label[60] = '\0';
		for (int i = 0; i < 4; i++)
			snprintf(name + strlen(name), sizeof(name) -
				 strlen(name), "%s%s", i ? "." : "", label);
		snprintf(yaml, sizeof(yaml), BASE
			 "services:\n"
			 "  - name: %s\n"
			 "    endpoints:\n"
			 "      - region: eu\n"
			 "        addresses: [192.0.2.1]\n", name);
		expect_err(yaml, "t.yaml:6:11: services[0].name:",
			   "a name over 255 octets once joined to the apex "
			   "is refused");
	}
	expect_err(BASE
		   "services:\n"
		   "  - name: www.example.org\n"
		   "    endpoints:\n"
		   "      - region: eu\n"
		   "        addresses: [192.0.2.1]\n",
		   "t.yaml:6:11: services[0].name: 'www.example.org' is "
		   "relative to the zone",
		   "a relative name repeating the apex (missing dot) is "
		   "caught");
	m = expect_ok(BASE
		      "services:\n"
		      "  - name: Shop.EU\n"
		      "    endpoints:\n"
		      "      - region: eu\n"
		      "        addresses: [192.0.2.1]\n"
		      "  - name: \"@\"\n"
		      "    endpoints:\n"
		      "      - region: eu\n"
		      "        addresses: [192.0.2.1]\n"
		      "  - name: Deep.Shop.EU.example.org.\n"
		      "    endpoints:\n"
		      "      - region: eu\n"
		      "        addresses: [192.0.2.1]\n",
		      "names: relative, '@' and absolute inside the zone");
	if (m) {
		is_str(m->svcs[0].name, "shop.eu.example.org.",
		       "relative name is joined and lower-cased");
		is_str(m->svcs[1].name, "example.org.", "'@' is the apex");
		is_str(m->svcs[2].name, "deep.shop.eu.example.org.",
		       "absolute name kept and lower-cased");
	}
	model_free(m);
	expect_err(BASE
		   "services:\n"
		   "  - name: \"@\"\n"
		   "    endpoints:\n"
		   "      - region: eu\n"
		   "        addresses: [192.0.2.1]\n"
		   "  - name: example.org.\n"
		   "    endpoints:\n"
		   "      - region: eu\n"
		   "        addresses: [192.0.2.1]\n",
		   "t.yaml:10:11: services[1]: duplicate service name "
		   "example.org.",
		   "'@' and the absolute apex are the same name");
	expect_err("zone:\n"
		   "  name: example.org\n"
		   "  nameservers:\n"
		   "    - name: ns1\n",
		   "t.yaml:4:7: zone.nameservers[0]: name server "
		   "ns1.example.org. is inside the zone and needs glue "
		   "addresses",
		   "in-zone name server without glue");
	expect_err("zone:\n"
		   "  name: example.org\n"
		   "  nameservers:\n"
		   "    - name: ns1.example.net.\n"
		   "    - name: NS1.example.net.\n",
		   "t.yaml:5:7: zone.nameservers[1]: duplicate name server",
		   "the same name server twice");
	expect_err("zone:\n"
		   "  name: example.org\n"
		   "  nameservers:\n"
		   "    - name: ns1\n"
		   "      addresses: [192.0.2.53]\n"
		   "services:\n"
		   "  - name: ns1\n"
		   "    endpoints:\n"
		   "      - region: eu\n"
		   "        addresses: [192.0.2.1]\n",
		   "t.yaml:7:11: ns1.example.org.: this name is also a name "
		   "server with glue",
		   "a service cannot take a glue name");
	expect_err("zone:\n"
		   "  name: \"exa mple.org\"\n"
		   "  nameservers:\n"
		   "    - name: ns1.example.net.\n",
		   "t.yaml:2:9: zone.name: 'exa mple.org' is not a valid DNS "
		   "name",
		   "a bad zone name");
}

static void test_errors_endpoints(void)
{
	struct model *m;

	expect_err(BASE
		   "services:\n"
		   "  - name: www\n"
		   "    endpoints:\n"
		   "      - region: eu\n",
		   "t.yaml:8:9: services[0].endpoints[0]: an endpoint needs "
		   "addresses",
		   "endpoint without addresses");
	expect_err(BASE
		   "services:\n"
		   "  - name: www\n"
		   "    endpoints:\n"
		   "      - region: eu\n"
		   "        addresses: []\n",
		   "t.yaml:9:20: services[0].endpoints[0].addresses: an "
		   "endpoint needs at least one address",
		   "endpoint with an empty address list");
	expect_err(BASE
		   "services:\n"
		   "  - name: www\n"
		   "    endpoints: []\n",
		   "t.yaml:7:16: services[0].endpoints: a service needs at "
		   "least one endpoint",
		   "service with no endpoints");
	expect_err(BASE SVC
		   "      - region: eu\n"
		   "        addresses: [192.0.2.2]\n",
		   "t.yaml:10:17: services[0].endpoints[1]: endpoint name 'eu' "
		   "is used twice in service www.example.org.",
		   "two endpoints defaulting to the same region name");
	ok(has_err("t.yaml:10:17:") && strstr(E.line[0],
	   "give each a distinct name"),
	   "...and the message says to give each a distinct name");
	m = expect_ok(BASE SVC
		      "      - region: eu\n"
		      "        name: eu-b\n"
		      "        addresses: [192.0.2.2]\n"
		      "        weight: 3\n"
		      "        priority: 0\n"
		      "        enabled: false\n",
		      "two endpoints of one region with distinct names");
	if (m) {
		struct model_endpoint *ep = &m->svcs[0].eps[1];
		is_str(ep->name, "eu-b", "explicit endpoint name");
		is_str(ep->region, "eu", "region kept beside the name");
		ok(ep->weight == 3 && ep->priority == 0 && !ep->enabled,
		   "weight, priority and enabled read");
	}
	model_free(m);
	expect_err(BASE
		   "services:\n"
		   "  - name: www\n"
		   "    endpoints:\n"
		   "      - addresses: [192.0.2.1]\n",
		   "t.yaml:8:9: missing required key 'region' in "
		   "services[0].endpoints[0]",
		   "endpoint without a region");
	expect_err(BASE SVC
		   "        probe:\n"
		   "          type: tcp\n",
		   "t.yaml:11:17: services[0].endpoints[0].probe: probe type "
		   "tcp needs a port",
		   "tcp probe without a port");
	expect_err(BASE "probe-defaults:\n  type: tcp\n" SVC
		   "      - region: us\n"
		   "        addresses: [192.0.2.2]\n",
		   "t.yaml:6:9: probe-defaults: probe type tcp needs a port",
		   "tcp from probe-defaults without a port is blamed there");
	ok(E.n == 1, "...once, though two endpoints inherit it");
	m = expect_ok(BASE "probe-defaults:\n  type: tcp\n",
		      "probe-defaults tcp without a port is fine with no "
		      "service using it (services may give ports)");
	model_free(m);
	m = expect_ok(BASE "probe-defaults:\n  type: tcp\n" SVC
		      "        probe: {port: 25}\n",
		      "tcp with the port given at the endpoint");
	if (m)
		ok(m->svcs[0].eps[0].probe.type == PROBE_TCP &&
		   m->svcs[0].eps[0].probe.port == 25,
		   "tcp type from defaults, port from the endpoint");
	model_free(m);
}

static void test_errors_topology(void)
{
	struct model *m;

	expect_err(BASE
		   "topology:\n"
		   "  - region: eu\n"
		   "    subnets: [10.1.0.1/16]\n",
		   "t.yaml:7:15: topology[0].subnets[0]: bad subnet "
		   "'10.1.0.1/16'",
		   "topology subnet with host bits set");
	expect_err(BASE
		   "topology:\n"
		   "  - region: eu\n"
		   "    subnets: [10.0.0.0/33]\n",
		   "t.yaml:7:15: topology[0].subnets[0]: bad subnet",
		   "topology prefix longer than 32 bits");
	expect_err(BASE
		   "topology:\n"
		   "  - region: eu\n"
		   "    subnets: 10.0.0.0/8\n",
		   "t.yaml:7:14: topology[0].subnets: expected a list",
		   "topology subnets not a list");
	expect_err(BASE
		   "topology:\n"
		   "  - subnets: [10.0.0.0/8]\n",
		   "t.yaml:6:5: missing required key 'region' in topology[0]",
		   "topology entry without a region");
	expect_err(BASE
		   "topology:\n"
		   "  - region: eu\n"
		   "    subnets: [10.0.0.0/8]\n"
		   "  - region: us\n"
		   "    subnets: [\"10.0.0.0/8\"]\n",
		   "t.yaml:9:15: topology[1].subnets[0]: 10.0.0.0/8 is "
		   "already mapped to region 'eu'",
		   "one prefix mapped to two regions");
	expect_err(BASE
		   "topology:\n"
		   "  - region: eu\n"
		   "    subnets: [10.0.0.0/8]\n"
		   "  - region: eu\n"
		   "    subnets: [10.1.0.0/16]\n",
		   "t.yaml:8:13: topology[1]: duplicate region 'eu'",
		   "a region listed twice");
	m = expect_ok(BASE
		      "topology:\n"
		      "  - region: eu\n"
		      "    subnets: [10.0.0.0/8, 192.0.2.7, \"::/0\"]\n",
		      "topology with a bare address and ::/0");
	if (m) {
		is_int(m->topo[0].nets[1].prefix, 32,
		       "a bare address is a /32");
		is_int(m->topo[0].nets[2].prefix, 0, "::/0 has prefix 0");
	}
	model_free(m);
}

static void test_errors_required(void)
{
	struct model *m;

	expect_err("server:\n  port: 53\n",
		   "t.yaml:1:1: missing required key 'zone' at the top level",
		   "the zone section is required");
	expect_err("zone:\n  nameservers:\n    - name: ns1.example.net.\n",
		   "t.yaml:2:3: missing required key 'name' in zone",
		   "zone.name is required");
	expect_err("zone:\n  name: example.org\n",
		   "t.yaml:2:3: missing required key 'nameservers' in zone",
		   "zone.nameservers is required");
	expect_err("zone:\n  name: example.org\n  nameservers: []\n",
		   "t.yaml:3:16: zone.nameservers: at least one name server",
		   "zone.nameservers may not be empty");
	expect_err("", "t.yaml:1:1: empty configuration",
		   "an empty file is refused");
	expect_err("- a\n- b\n", "t.yaml:1:1: the top level: expected a "
		   "mapping", "a top-level list is refused");
	expect_err(BASE "---\nzone: {}\n",
		   "t.yaml:6:1: only one YAML document is allowed",
		   "a second YAML document is refused");
	expect_err("zone:\n  name: [example.org\n  ttl: 5\n",
		   "t.yaml:", "a YAML syntax error is reported");
	ok(E.n == 1 && strstr(E.line[0], "t.yaml:3:") != NULL,
	   "...at the line where the parser noticed it");
	if (E.n)
		printf("# yaml error: %s\n", E.line[0]);

	/* Several mistakes: all are reported, not just the first. */
	m = load(BASE "server:\n  port: 0\n  workers: 0\n  bogus: 1\n" SVC
		 "    policy: nope\n");
	ok(!m && E.n == 4, "four mistakes give four error lines");
	if (E.n != 4)
		dump_errs();
	ok(has_err("t.yaml:6:9:") && has_err("t.yaml:7:12:") &&
	   has_err("t.yaml:8:3:") && has_err("t.yaml:14:13:"),
	   "...each at its own line:column");
	model_free(m);

	/* The zone is checked before the server; lines still come in order. */
	m = load("server:\n  port: 0\n" BASE "  ttl: 1.5\n");
	ok(!m && E.n == 2 && !strncmp(E.line[0], "t.yaml:2:", 9) &&
	   !strncmp(E.line[1], "t.yaml:7:", 9),
	   "errors are reported in file order");
	model_free(m);

	memset(&E, 0, sizeof(E));
	m = cfg_load("/nonexistent/gslbd.yaml", collect, &E);
	ok(!m && E.n == 1 &&
	   !strncmp(E.line[0], "/nonexistent/gslbd.yaml:1:1: cannot open",
		    40), "a missing config file is one error line");
	m = cfg_load_string("t.yaml", "zone: [", NULL, NULL);
	ok(!m, "a NULL error callback is allowed");
}

/* ---- probe layering ---- */

static void test_probe_layers(void)
{
	struct model *m = expect_ok(BASE
		"probe-defaults:\n"
		"  interval: 2s\n"
		"  path: /healthz\n"
		"  headers: [\"X-Probe: gslbd\"]\n"
		"services:\n"
		"  - name: www\n"
		"    probe:\n"
		"      timeout: 1500ms\n"
		"      expect-status: [204, \"300-302\"]\n"
		"      type: https\n"
		"    endpoints:\n"
		"      - region: eu\n"
		"        addresses: [192.0.2.1]\n"
		"        probe:\n"
		"          port: 8443\n"
		"          host: eu.example.org\n"
		"          tls-verify: false\n"
		"      - region: us\n"
		"        addresses: [192.0.2.2]\n"
		"  - name: api\n"
		"    endpoints:\n"
		"      - region: eu\n"
		"        addresses: [192.0.2.3]\n",
		"three layers of probe settings load");

	if (!m)
		return;
	struct probe_spec *a = &m->svcs[0].eps[0].probe;
	struct probe_spec *b = &m->svcs[0].eps[1].probe;
	struct probe_spec *c = &m->svcs[1].eps[0].probe;
	is_int(m->probe_defaults.set, PS_INTERVAL | PS_PATH | PS_HEADERS,
	       "probe-defaults keep only the given fields");
	is_int(a->interval_ms, 2000, "endpoint: interval from probe-defaults");
	is_int(a->timeout_ms, 1500, "endpoint: timeout from the service");
	is_int(a->port, 8443, "endpoint: own port");
	is_str(a->host, "eu.example.org", "endpoint: own host");
	ok(!a->tls_verify, "endpoint: own tls-verify false");
	is_str(a->path, "/healthz", "endpoint: path from probe-defaults");
	ok(a->nheaders == 1 && !strcmp(a->headers[0], "X-Probe: gslbd"),
	   "endpoint: headers from probe-defaults");
	ok(a->nstatus == 2 && a->status[0].lo == 204 && a->status[0].hi == 204
	   && a->status[1].lo == 300 && a->status[1].hi == 302,
	   "endpoint: expect-status codes and ranges from the service");
	is_int(b->type, PROBE_HTTPS, "sibling endpoint: https from service");
	is_int(b->port, 443, "sibling endpoint: https defaults to port 443");
	ok(!b->host && b->tls_verify,
	   "sibling endpoint: not affected by the other's overrides");
	is_int(c->type, PROBE_HTTP, "other service: built-in http type");
	is_int(c->timeout_ms, PROBE_DEFAULT_TIMEOUT_MS,
	       "other service: built-in timeout, not the sibling's");
	is_int(c->interval_ms, 2000, "other service: probe-defaults interval");
	ok(!probe_spec_equal(a, b), "different endpoints' specs differ");
	model_free(m);

	expect_err(BASE "probe-defaults:\n  expect-status: [\"399-200\"]\n",
		   "t.yaml:6:19: probe-defaults.expect-status[0]: bad status "
		   "'399-200'", "reversed status range is refused");
	expect_err(BASE "probe-defaults:\n  expect-status: [600]\n",
		   "t.yaml:6:19: probe-defaults.expect-status[0]: bad status",
		   "status code 600 is refused");
	expect_err(BASE "probe-defaults:\n  headers: [\"NoColon\"]\n",
		   "t.yaml:6:13: probe-defaults.headers[0]: bad header",
		   "a header without a colon is refused");
	expect_err(BASE "probe-defaults:\n  path: healthz\n",
		   "t.yaml:6:9: probe-defaults.path: 'healthz' must start "
		   "with '/'", "a probe path must start with a slash");
}

static void test_probe_spec_api(void)
{
	struct probe_spec base = { 0 }, over = { 0 }, cp;
	struct probe_status_range r = { 500, 503 };
	char *hdrs[] = { "A: 1", "B: 2" };

	probe_spec_finish(&base);
	is_int(base.set, 0, "finish does not mark defaults as given");
	is_int(base.port, 80, "finish: http port 80");
	over.set = PS_TYPE | PS_PATH | PS_STATUS | PS_HEADERS;
	over.type = PROBE_HTTPS;
	over.path = "/x";
	over.status = &r;
	over.nstatus = 1;
	over.headers = hdrs;
	over.nheaders = 2;
	probe_spec_overlay(&base, &over);
	is_int(base.set, PS_TYPE | PS_PATH | PS_STATUS | PS_HEADERS,
	       "overlay adds the source's set bits");
	ok(base.path != over.path && !strcmp(base.path, "/x"),
	   "overlay deep-copies strings");
	ok(base.nheaders == 2 && base.headers != hdrs &&
	   !strcmp(base.headers[1], "B: 2"), "overlay deep-copies headers");
	probe_spec_finish(&base);
	is_int(base.port, 443,
	       "finish again: the default port follows the new type");
	is_str(base.method, "GET", "fields not overlaid keep their values");
	probe_spec_copy(&cp, &base);
	ok(probe_spec_equal(&cp, &base), "a copy is equal");
	ok(cp.path != base.path, "a copy owns its strings");
	free(cp.host);
	cp.host = strdup("h");
	ok(cp.host && !probe_spec_equal(&cp, &base),
	   "a different host makes specs differ");
	probe_spec_clear(&cp);
	ok(!cp.path && !cp.headers && cp.set == 0,
	   "clear frees and zeroes the spec");
	probe_spec_clear(&base);
	probe_spec_clear(NULL);
}

/* ---- model helpers ---- */

static void test_model_helpers(void)
{
	struct model_addr a;
	struct model_net n;
	uint8_t v4[4] = { 10, 1, 200, 3 }, v6[16] = { 0x20, 0x01, 0x0d, 0xb8 };
	char buf[INET6_ADDRSTRLEN];

	ok(model_addr_parse(&a, "192.0.2.1") == 0 && a.family == AF_INET,
	   "parse IPv4");
	ok(model_addr_parse(&a, "2001:db8::1") == 0 && a.family == AF_INET6,
	   "parse IPv6");
	is_str(model_addr_str(&a, buf, sizeof(buf)), "2001:db8::1",
	       "IPv6 back to text");
	ok(model_addr_parse(&a, "192.0.2") < 0 &&
	   model_addr_parse(&a, "fe80::1%eth0") < 0 &&
	   model_addr_parse(&a, "") < 0, "refuse partial, scoped and empty");

	ok(model_answerable(true, ADMIN_NONE, HEALTH_UNKNOWN),
	   "unknown health counts as up");
	ok(!model_answerable(true, ADMIN_NONE, HEALTH_DOWN),
	   "down is not answerable");
	ok(model_answerable(true, ADMIN_FORCE_UP, HEALTH_DOWN),
	   "force-up answers a down address");
	ok(!model_answerable(false, ADMIN_FORCE_UP, HEALTH_UP),
	   "disabled beats force-up");
	ok(!model_answerable(true, ADMIN_DRAINED, HEALTH_UP),
	   "drained is never answered");
	ok(!model_answerable(true, ADMIN_FORCE_DOWN, HEALTH_UP),
	   "force-down is never answered");
	ok(model_answerable(true, ADMIN_NONE, HEALTH_UP),
	   "up and enabled is answerable");

	ok(model_net_parse(&n, "10.0.0.0/8") == 0 && n.prefix == 8,
	   "parse 10.0.0.0/8");
	ok(model_net_contains(&n, AF_INET, v4), "10/8 contains 10.1.200.3");
	ok(!model_net_contains(&n, AF_INET6, v6), "a v4 net has no v6 addr");
	ok(model_net_parse(&n, "10.1.192.0/18") == 0 &&
	   model_net_contains(&n, AF_INET, v4),
	   "10.1.192.0/18 contains 10.1.200.3 (partial byte)");
	ok(model_net_parse(&n, "10.1.128.0/18") == 0 &&
	   !model_net_contains(&n, AF_INET, v4),
	   "10.1.128.0/18 does not");
	ok(model_net_parse(&n, "2001:db8::/32") == 0 &&
	   model_net_contains(&n, AF_INET6, v6), "v6 /32 contains");
	ok(model_net_parse(&n, "10.0.0.1/8") < 0, "host bits must be zero");
	ok(model_net_parse(&n, "10.0.0.0/") < 0 &&
	   model_net_parse(&n, "10.0.0.0/-1") < 0 &&
	   model_net_parse(&n, "10.0.0.0/ 8") < 0 &&
	   model_net_parse(&n, "/8") < 0 &&
	   model_net_parse(&n, "2001:db8::/129") < 0,
	   "malformed prefixes are refused");
	ok(model_net_parse(&n, "0.0.0.0/0") == 0 &&
	   model_net_contains(&n, AF_INET, v4), "0/0 contains everything v4");
	/* A crash here fails the whole test program. */
	model_free(NULL);
}

/* ---- zone files ---- */

static char tmpdir[256];

static int zf(const char *name, const char *text, uint32_t ttl,
	      ldns_rr_list **out, char *err, size_t errlen)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	tu_write_file(path, text);
	return zonefile_load(path, "example.org.", ttl, out, err, errlen);
}

/* The zone file is refused and err starts "<tmpdir>/<name>:<where>". */
static void zf_err(const char *name, const char *text, const char *where,
		   const char *what)
{
	ldns_rr_list *l = NULL;
	char err[512], want[512];
	int rc = zf(name, text, 3600, &l, err, sizeof(err));

	snprintf(want, sizeof(want), "%s/%s:%s", tmpdir, name, where);
	if (!ok(rc == -1 && !l && !strncmp(err, want, strlen(want)), what))
		printf("#   want: %s\n#   got:  %s (rc %d)\n", want, err, rc);
	if (l)
		ldns_rr_list_deep_free(l);
}

static void test_zonefile_direct(void)
{
	ldns_rr_list *l = NULL;
	char err[512];
	int rc;

	rc = zf("ok.zone",
		"; static data\n"
		"@          MX 10 mail\n"
		"mail       A 192.0.2.25\n"
		"MAIL2 600  IN A 192.0.2.26\n"
		"txt.example.org. TXT \"hello\"\n"
		"sub        NS ns.other.net.\n"
		"alias      CNAME www\n"
		"$TTL 120\n"
		"late       TXT \"x\"\n", 1234, &l, err, sizeof(err));
	if (!ok(rc == 0 && l, "a good zone file loads")) {
		printf("#   %s\n", err);
		return;
	}
	is_int(ldns_rr_list_rr_count(l), 7, "seven records");
	ldns_rr *mx = ldns_rr_list_rr(l, 0);
	char *owner = ldns_rdf2str(ldns_rr_owner(mx));
	is_str(owner, "example.org.", "'@' is the apex ($ORIGIN = apex)");
	free(owner);
	is_int(ldns_rr_get_type(mx), LDNS_RR_TYPE_MX, "first record is MX");
	is_int(ldns_rr_ttl(mx), 1234, "without $TTL the default TTL applies");
	owner = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(l, 2)));
	is_str(owner, "mail2.example.org.", "owner names are lower-cased");
	free(owner);
	is_int(ldns_rr_ttl(ldns_rr_list_rr(l, 2)), 600, "explicit TTL kept");
	is_int(ldns_rr_ttl(ldns_rr_list_rr(l, 6)), 120, "$TTL applies after");
	ldns_rr_list_deep_free(l);

	zf_err("syntax.zone", "ok A 192.0.2.1\n\nbad A 999.1.1.1\n", "3:1: ",
	       "zone-file syntax error names line 3");
	rc = zf("origin.zone", "$ORIGIN Sub.example.org.\nwww A 192.0.2.1\n",
		60, &l, err, sizeof(err));
	if (ok(rc == 0 && l && ldns_rr_list_rr_count(l) == 1,
	       "an absolute $ORIGIN inside the zone is followed")) {
		owner = ldns_rdf2str(ldns_rr_owner(ldns_rr_list_rr(l, 0)));
		is_str(owner, "www.sub.example.org.",
		       "relative owner joined to the new $ORIGIN, lower-cased");
		free(owner);
	}
	if (l)
		ldns_rr_list_deep_free(l);
	l = NULL;
	zf_err("relorigin.zone", "$ORIGIN sub\nwww A 192.0.2.1\n",
	       "2:1: www.sub. is outside the zone example.org.",
	       "a relative $ORIGIN (ldns reads it as absolute) leaves the "
	       "zone: refused at the record");
	zf_err("nonl.zone", "ok A 192.0.2.1\nbad A 999.1.1.1", "2:1: ",
	       "error on a last line without a newline names that line");
	zf_err("paren.zone", "ok A 192.0.2.1\nbad ( A\n 999.1.1.1 )\n",
	       "3:1: ", "an error in a multi-line record names its last line");
	zf_err("out.zone", "ok A 192.0.2.1\nwww.example.com. A 192.0.2.1\n",
	       "2:1: www.example.com. is outside the zone example.org.",
	       "a record outside the zone is refused");
	zf_err("wild.zone", "ok A 192.0.2.1\n*.w A 192.0.2.2\n",
	       "2:1: *.w.example.org.: wildcard records are not supported",
	       "a wildcard owner is refused, not served literally");
	zf_err("soa.zone",
	       "@ SOA ns1.example.org. h.example.org. 1 2 3 4 5\n",
	       "1:1: example.org.: SOA records come from the config",
	       "an SOA record in the zone file is refused");
	zf_err("ns.zone", "@ NS ns9.example.net.\n",
	       "1:1: example.org.: NS records at the apex come from the "
	       "config", "apex NS in the zone file is refused");
	zf_err("cname.zone",
	       "foo CNAME www\nbar A 192.0.2.1\nFOO TXT \"x\"\n",
	       "3:1: foo.example.org.: CNAME beside other data",
	       "CNAME beside other data, at the second record's line");
	zf_err("cname2.zone", "foo CNAME www\nfoo CNAME api\n",
	       "2:1: foo.example.org.: more than one CNAME",
	       "two CNAMEs at one name");
	zf_err("incl.zone", "$INCLUDE other.zone\n",
	       "1:1: $INCLUDE is not supported", "$INCLUDE is refused");
	zf_err("chaos.zone", "foo CH TXT \"x\"\n",
	       "1:1: foo.example.org.: only class IN",
	       "non-IN class is refused");
	rc = zf("empty.zone", "", 3600, &l, err, sizeof(err));
	ok(rc == 0 && l && ldns_rr_list_rr_count(l) == 0,
	   "an empty zone file loads, with no records");
	ldns_rr_list_deep_free(l);
	l = NULL;
	zf_err("ds-apex.zone", "@ DS 1 13 2 00112233\n",
	       "1:1: example.org.: a DS at the apex belongs in the parent",
	       "DS at the apex is refused");
	zf_err("ds-nons.zone", "x TXT \"a\"\nx DS 1 13 2 00112233\n",
	       "2:1: x.example.org.: a DS belongs at a delegation",
	       "DS without NS at its name is refused");
	rc = zf("ds-ok.zone", "d DS 1 13 2 00112233\nd NS ns.d\nns.d A 192.0.2.1\n",
		3600, &l, err, sizeof(err));
	ok(rc == 0 && l && ldns_rr_list_rr_count(l) == 3,
	   "DS at a delegation loads");
	ldns_rr_list_deep_free(l);
	l = NULL;
	zf_err("dn-below.zone", "a.d TXT \"x\"\nd DNAME t.example.\n",
	       "1:1: a.d.example.org.: below the DNAME at d.example.org.",
	       "a name below a DNAME is refused, wherever it is in the file");
	zf_err("dn-two.zone", "d DNAME t.example.\nd DNAME u.example.\n",
	       "2:1: d.example.org.: more than one DNAME",
	       "two DNAMEs at one name are refused");
	zf_err("dn-cut.zone", "d NS ns.example.\nd DNAME t.example.\n",
	       "2:1: d.example.org.: DNAME at a delegation",
	       "a DNAME at a delegation is refused");
	rc = zf("dn-ok.zone", "d DNAME t.example.\nd TXT \"beside\"\n"
		"@ DNAME other.example.\n", 3600, &l, err, sizeof(err));
	ok(rc == -1 && strstr(err, "below the DNAME at example.org."),
	   "a DNAME at the apex puts every other name below it");
	ldns_rr_list_deep_free(l);
	l = NULL;
	rc = zf("dn-ok2.zone", "d DNAME t.example.\nd TXT \"beside\"\n"
		"dd TXT \"next to it\"\n", 3600, &l, err, sizeof(err));
	ok(rc == 0 && l && ldns_rr_list_rr_count(l) == 3,
	   "a DNAME beside other data and next to other names loads");
	ldns_rr_list_deep_free(l);
	l = NULL;
	{
		char dir[600];
		snprintf(dir, sizeof(dir), "%s/zdir", tmpdir);
		mkdir(dir, 0700);
		rc = zonefile_load(dir, "example.org.", 60, &l, err,
				   sizeof(err));
		ok(rc == -2 && !l && strstr(err, "a directory, not a regular "
					    "file"),
		   "a directory as zone file is refused at once (-2)");
		rc = zonefile_load("/dev/zero", "example.org.", 60, &l, err,
				   sizeof(err));
		ok(rc == -2 && !l && strstr(err, "a character device"),
		   "/dev/zero as zone file is refused at once (-2)");
		rmdir(dir);
	}
	rc = zonefile_load("/nonexistent/z", "example.org.", 60, &l, err,
			   sizeof(err));
	ok(rc == -2 && !l && strstr(err, "cannot read zone file"),
	   "a missing zone file returns -2 without a place");
}

static void test_zonefile_cfg(void)
{
	char cfgpath[512], zpath[512], want[1024];
	struct model *m;
#define CFG_HEAD \
		"zone:\n" \
		"  name: example.org\n" \
		"  nameservers:\n" \
		"    - name: ns1.example.net.\n" \
		"  zone-file: static.zone\n"

	snprintf(cfgpath, sizeof(cfgpath), "%s/gslbd.yaml", tmpdir);
	snprintf(zpath, sizeof(zpath), "%s/static.zone", tmpdir);
	tu_write_file(cfgpath, CFG_HEAD
		   "  ttl: 900\n"
		   "services:\n"
		   "  - name: www\n"
		   "    endpoints:\n"
		   "      - region: eu\n"
		   "        addresses: [192.0.2.1]\n");
	tu_write_file(zpath, "@ TXT \"v=spf1 -all\"\nmail A 192.0.2.25\n");
	memset(&E, 0, sizeof(E));
	m = cfg_load(cfgpath, collect, &E);
	if (ok(m, "config with a relative zone-file loads")) {
		is_str(m->zone.zone_file, zpath,
		       "zone-file is relative to the config's directory");
		is_int(ldns_rr_list_rr_count(m->zone.static_rrs), 2,
		       "static records are in the model");
		is_int(ldns_rr_ttl(ldns_rr_list_rr(m->zone.static_rrs, 0)), 900,
		       "the zone ttl is the zone file's default TTL");
	} else {
		dump_errs();
	}
	model_free(m);

	tu_write_file(zpath, "@ TXT \"x\"\nwww A 192.0.2.9\n");
	memset(&E, 0, sizeof(E));
	m = cfg_load(cfgpath, collect, &E);
	snprintf(want, sizeof(want), "%s:8:11: www.example.org.: A records "
		 "come from the service", cfgpath);
	if (!ok(!m && has_err(want),
		"zone-file A record at a service name is refused at the "
		"service"))
		dump_errs();
	model_free(m);

	tu_write_file(zpath, "@ TXT \"x\"\n\nfoo A 300.1.1.1\n");
	memset(&E, 0, sizeof(E));
	m = cfg_load(cfgpath, collect, &E);
	snprintf(want, sizeof(want), "%s:3:1: ", zpath);
	if (!ok(!m && E.n == 1 && has_err(want),
		"a zone-file error reaches the callback with its own "
		"file:line"))
		dump_errs();
	model_free(m);

	unlink(zpath);
	memset(&E, 0, sizeof(E));
	m = cfg_load(cfgpath, collect, &E);
	snprintf(want, sizeof(want), "%s:5:14: zone.zone-file: cannot read "
		 "zone file", cfgpath);
	if (!ok(!m && has_err(want),
		"a missing zone file is reported at the zone-file key"))
		dump_errs();
	model_free(m);
	unlink(cfgpath);
}

static void test_zonefile(void)
{
	snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_cfg.XXXXXX");
	if (!ok(mkdtemp(tmpdir), "make a temporary directory"))
		return;
	test_zonefile_direct();
	test_zonefile_cfg();
	/* Best effort: leave nothing behind. */
	static const char *const names[] = {
		"ok.zone", "syntax.zone", "out.zone", "soa.zone", "ns.zone",
		"cname.zone", "cname2.zone", "incl.zone", "chaos.zone",
		"nonl.zone", "paren.zone", "origin.zone", "relorigin.zone",
		NULL,
	};
	for (int i = 0; names[i]; i++) {
		char p[512];
		snprintf(p, sizeof(p), "%s/%s", tmpdir, names[i]);
		unlink(p);
	}
	rmdir(tmpdir);
}

/* ---- control ---- */

/* server.log-level and server.pidfile */
static void test_limits_added(void)
{
	expect_err("zone:\n  name: .\n  nameservers:\n"
		   "    - name: ns1.example.net.\n",
		   "t.yaml:2:9: zone.name: the root zone cannot be served",
		   "the root zone is refused with a clear error");
	expect_err("probe-defaults:\n  interval: 1s\n  jitter: 4294967295ms\n"
		   BASE SVC,
		   "t.yaml:3:11: probe-defaults: probe jitter (4294967295ms) must "
		   "not exceed the interval (1000ms)",
		   "a jitter longer than the interval is an error");
	char big[512];
	snprintf(big, sizeof(big), "server:\n  nsid: %0129d\n" BASE SVC, 7);
	expect_err(big, "t.yaml:2:9: server.nsid: at most 128 bytes (129 given)",
		   "an NSID over 128 bytes is an error");
}

static void test_log_level(void)
{
	struct model *m = expect_ok(BASE SVC, "no log-level");

	if (m) {
		is_int(m->server.log_level, -1, "log-level unset: -1 (info)");
		ok(!m->server.pidfile, "no pidfile by default");
	}
	model_free(m);
	m = expect_ok("server:\n  log-level: debug\n  pidfile: /run/g.pid\n"
		      BASE SVC, "log-level debug and a pidfile");
	if (m) {
		is_int(m->server.log_level, 3, "log-level debug is level 3");
		is_str(m->server.pidfile, "/run/g.pid", "pidfile kept as given");
	}
	model_free(m);
	expect_err("server:\n  log-level: loud\n" BASE SVC,
		   "t.yaml:2:14: server.log-level: unknown log level 'loud'",
		   "an unknown log level is an error at its value");
}

static void test_control(void)
{
	struct model *m = expect_ok(BASE SVC, "no control section");
	char buf[128];

	if (m) {
		ok(m->control.enabled, "control is on by default");
		is_str(listen_str(&m->control.listen, buf, sizeof(buf)),
		       "127.0.0.1:8053", "control listens on 127.0.0.1:8053");
		ok(!m->control.token, "no token by default");
		ok(!m->control.metrics_per_target,
		   "no per-target metrics by default");
	}
	model_free(m);

	m = expect_ok(BASE SVC "control:\n  metrics-per-target: true\n",
		      "control.metrics-per-target");
	if (m)
		ok(m->control.metrics_per_target,
		   "control.metrics-per-target: true");
	model_free(m);

	m = expect_ok(BASE SVC "control:\n", "an empty control section");
	if (m)
		is_str(listen_str(&m->control.listen, buf, sizeof(buf)),
		       "127.0.0.1:8053", "empty section keeps the defaults");
	model_free(m);

	m = expect_ok(BASE SVC "control:\n  listen: \"[::1]:9000\"\n"
		      "  token: s3cret\n", "control listen and token");
	if (m) {
		is_str(listen_str(&m->control.listen, buf, sizeof(buf)),
		       "[::1]:9000", "control.listen [::1]:9000");
		is_str(m->control.token, "s3cret", "control.token");
	}
	model_free(m);

	m = expect_ok(BASE SVC "control:\n  listen: 127.0.0.9\n",
		      "control.listen without a port");
	if (m)
		is_str(listen_str(&m->control.listen, buf, sizeof(buf)),
		       "127.0.0.9:8053", "a bare address takes port 8053");
	model_free(m);

	m = expect_ok(BASE SVC "control:\n  enabled: false\n",
		      "control disabled");
	if (m)
		ok(!m->control.enabled, "control.enabled: false");
	model_free(m);

	m = expect_ok(BASE SVC "control:\n  listen: \"0.0.0.0:8053\"\n"
		      "  token: abc\n", "a public address with a token");
	model_free(m);
	m = expect_ok(BASE SVC "control:\n  enabled: false\n"
		      "  listen: \"0.0.0.0:8053\"\n",
		      "a public address is fine when disabled");
	model_free(m);

	expect_err(BASE SVC "control:\n  listen: \"0.0.0.0:8053\"\n",
		   "t.yaml:11:11: control.listen: a non-loopback address "
		   "needs control.token",
		   "a public control address without a token is refused");
	expect_err(BASE SVC "control:\n  listen: \"[2001:db8::1]:80\"\n",
		   "t.yaml:11:11: control.listen: a non-loopback address",
		   "a public IPv6 control address without a token is refused");
	expect_err(BASE SVC "control:\n  listen: \"127.0.0.1:0\"\n",
		   "t.yaml:11:11: control.listen: bad port",
		   "control.listen port 0 is refused");
	expect_err(BASE SVC "control:\n  listen: localhost\n",
		   "t.yaml:11:11: control.listen: bad listen address",
		   "control.listen must be an address");
	expect_err(BASE SVC "control:\n  token: \"a b\"\n",
		   "t.yaml:11:10: control.token: spaces",
		   "a token with a space is refused");
	expect_err(BASE SVC "control:\n  token: \"\"\n",
		   "t.yaml:11:10: control.token: empty string",
		   "an empty token is refused");
	expect_err(BASE SVC "control:\n  enabled: maybe\n",
		   "t.yaml:11:12: control.enabled: expected a boolean",
		   "control.enabled must be a boolean");
	expect_err(BASE SVC "control:\n  metrics-per-target: 1000\n",
		   "t.yaml:11:23: control.metrics-per-target: expected a "
		   "boolean", "control.metrics-per-target must be a boolean");
	expect_err(BASE SVC "control:\n  metrics-per-target: [yes]\n",
		   "t.yaml:11:23: control.metrics-per-target:",
		   "...not a list");
	expect_err(BASE SVC "control:\n  port: 1\n",
		   "t.yaml:11:3: unknown key 'port' in control",
		   "unknown keys in control are refused");
	expect_err(BASE SVC "control: [1]\n",
		   "t.yaml:10:10: control: expected a mapping",
		   "control must be a mapping");

	m = expect_ok(BASE SVC "server:\n  user: nobody\n  group: nogroup\n",
		      "server.user and server.group");
	if (m) {
		is_str(m->server.user, "nobody", "server.user");
		is_str(m->server.group, "nogroup", "server.group");
	}
	model_free(m);
}

/* ---- kubernetes ---- */

static void test_kube(void)
{
	struct model *m = expect_ok(BASE SVC, "no kubernetes section");

	if (m)
		ok(!m->kube.enabled, "kubernetes is off without the section");
	model_free(m);

	m = expect_ok(BASE SVC "kubernetes:\n",
		      "an empty kubernetes section loads");
	if (m) {
		struct model_kube *k = &m->kube;
		ok(k->enabled, "kubernetes: alone turns the source on");
		ok(!k->kubeconfig && !k->context,
		   "kube default: in-cluster credentials");
		is_int(k->nnamespaces, 0, "kube default: every namespace");
		is_str(k->kubefed_namespace, "kube-federation-system",
		       "kube default: kubefed-namespace");
		ok(!k->cache_file, "kube default: no cache file");
		is_int(k->resync_ms, 600000, "kube default: resync 10m");
		is_int(k->timeout_ms, 10000, "kube default: timeout 10s");
		ok(k->dnsendpoints, "kube default: dnsendpoints true");
		is_int(k->policy, POLICY_ALL, "kube default: policy all");
		is_int(k->ttl, 30, "kube default: ttl 30");
	}
	model_free(m);

	m = load(BASE SVC
		 "kubernetes:\n"
		 "  kubeconfig: kube/config\n"
		 "  context: fed-host\n"
		 "  namespaces: [web, api-prod]\n"
		 "  kubefed-namespace: kubefed\n"
		 "  cache-file: /var/lib/gslbd/kube.json\n"
		 "  resync: 5m\n"
		 "  timeout: 3s\n"
		 "  dnsendpoints: false\n"
		 "  policy: failover\n"
		 "  ttl: 1m\n");
	if (!ok(m && E.n == 0, "a full kubernetes section loads"))
		dump_errs();
	if (m) {
		struct model_kube *k = &m->kube;
		is_str(k->kubeconfig, "./kube/config",
		       "kubeconfig is relative to the config file");
		is_str(k->context, "fed-host", "kube context");
		ok(k->nnamespaces == 2 && !strcmp(k->namespaces[0], "web") &&
		   !strcmp(k->namespaces[1], "api-prod"), "kube namespaces");
		is_str(k->kubefed_namespace, "kubefed", "kubefed-namespace");
		is_str(k->cache_file, "/var/lib/gslbd/kube.json",
		       "absolute cache-file kept");
		is_int(k->resync_ms, 300000, "resync 5m");
		is_int(k->timeout_ms, 3000, "timeout 3s");
		ok(!k->dnsendpoints, "dnsendpoints false");
		is_int(k->policy, POLICY_FAILOVER, "kube policy failover");
		is_int(k->ttl, 60, "kube ttl 1m in seconds");
	}
	model_free(m);

	memset(&E, 0, sizeof(E));
	m = cfg_load_string("/etc/gslbd/gslbd.yaml",
			    BASE SVC "kubernetes:\n  cache-file: kube.json\n",
			    collect, &E);
	if (m)
		is_str(m->kube.cache_file, "/etc/gslbd/kube.json",
		       "a relative cache-file joins the config directory");
	else
		ok(0, "a relative cache-file joins the config directory");
	model_free(m);

	expect_err(BASE SVC "kubernetes:\n  kubeconfg: x\n",
		   "t.yaml:11:3: unknown key 'kubeconfg' in kubernetes",
		   "kube: unknown key with line:column");
	expect_err(BASE SVC "kubernetes: [a]\n",
		   "t.yaml:10:13: kubernetes: expected a mapping",
		   "kube: the section is a mapping");
	expect_err(BASE SVC "kubernetes:\n  namespaces: web\n",
		   "t.yaml:11:15: kubernetes.namespaces: expected a list",
		   "kube: namespaces is a list");
	expect_err(BASE SVC "kubernetes:\n  namespaces: []\n",
		   "t.yaml:11:15: kubernetes.namespaces: empty list",
		   "kube: an empty namespaces list is refused");
	expect_err(BASE SVC "kubernetes:\n  namespaces: [web, Web_1]\n",
		   "t.yaml:11:21: kubernetes.namespaces[1]: 'Web_1' is not a "
		   "valid namespace name",
		   "kube: namespace names are RFC 1123 labels");
	expect_err(BASE SVC "kubernetes:\n  namespaces: [web, web]\n",
		   "t.yaml:11:21: kubernetes.namespaces[1]: duplicate "
		   "namespace 'web'", "kube: duplicate namespace");
	expect_err(BASE SVC "kubernetes:\n  resync: soon\n",
		   "t.yaml:11:11: kubernetes.resync: bad duration 'soon'",
		   "kube: resync is a duration");
	expect_err(BASE SVC "kubernetes:\n  resync: 10ms\n",
		   "t.yaml:11:11: kubernetes.resync: 10ms is out of range",
		   "kube: resync of at least 1s");
	expect_err(BASE SVC "kubernetes:\n  timeout: 1ms\n",
		   "t.yaml:11:12: kubernetes.timeout: 1ms is out of range",
		   "kube: timeout of at least 100ms");
	expect_err(BASE SVC "kubernetes:\n  dnsendpoints: maybe\n",
		   "t.yaml:11:17: kubernetes.dnsendpoints: expected a boolean",
		   "kube: dnsendpoints is a boolean");
	expect_err(BASE SVC "kubernetes:\n  policy: random\n",
		   "t.yaml:11:11: kubernetes.policy: unknown policy 'random'",
		   "kube: unknown policy");
	expect_err(BASE SVC "kubernetes:\n  ttl: 1500ms\n",
		   "t.yaml:11:8: kubernetes.ttl: a TTL is whole seconds",
		   "kube: ttl in whole seconds");
	expect_err(BASE SVC "kubernetes:\n  kubeconfig: [a]\n",
		   "t.yaml:11:15: kubernetes.kubeconfig: expected a string",
		   "kube: kubeconfig is a string");
	expect_err(BASE SVC "kubernetes:\n  kubefed-namespace: Kube.Fed\n",
		   "t.yaml:11:22: kubernetes.kubefed-namespace: 'Kube.Fed' is "
		   "not a valid namespace name",
		   "kube: kubefed-namespace is checked");
}

/* ---- the services list, read one item at a time ---- */

/* One service at line 2k+1 of a list: name s<k>, one address. */
static char *many_services(size_t n, size_t bad)
{
	size_t cap = 64 + n * 96, len = 0;
	char *t = malloc(cap);

	if (!t)
		return NULL;
	len += (size_t)snprintf(t + len, cap - len, "services:\n");
	for (size_t k = 0; k < n; k++)
		len += (size_t)snprintf(t + len, cap - len,
			"  - name: s%zu\n    endpoints: [{ region: %s, "
			"addresses: [10.0.%zu.%zu] }]\n", k,
			k == bad ? "[x]" : "eu", k / 256, k % 256);
	snprintf(t + len, cap - len, BASE);
	return t;
}

static void test_services_stream(void)
{
	struct model *m;
	char *big;

	/* The list may come before what its items depend on. */
	m = expect_ok("services:\n  - name: www\n    endpoints:\n"
		      "      - region: eu\n        addresses: [192.0.2.1]\n"
		      "probe-defaults:\n  type: tcp\n  port: 81\n" BASE,
		      "services before the zone and probe-defaults load");
	if (m && m->nsvcs == 1) {
		is_str(m->svcs[0].name, "www.example.org.",
		       "...the name joined to the zone given after it");
		is_int(m->svcs[0].eps[0].probe.port, 81,
		       "...the probe-defaults given after it apply");
	}
	model_free(m);

	/* Anchors and aliases are resolved as before, across items too. */
	m = expect_ok(BASE "services:\n"
		      "  - name: &n a\n    probe: &p { type: tcp, port: 82 }\n"
		      "    endpoints: [{ region: eu, addresses: [192.0.2.1] }]\n"
		      "  - name: b\n    probe: *p\n    endpoints:\n"
		      "      - { region: *n, addresses: [192.0.2.2], probe: *p }\n"
		      "kubernetes:\n  context: *n\n",
		      "anchors in one item serve later items and sections");
	if (m && m->nsvcs == 2) {
		is_int(m->svcs[1].eps[0].probe.port, 82,
		       "...a later service's probe is the anchored one");
		is_str(m->svcs[1].eps[0].region, "a", "...an aliased region");
		is_str(m->kube.context, "a", "...an alias after the list");
	}
	model_free(m);
	expect_errs(BASE "services:\n  - &s\n    name: www\n"
		    "    endpoints: [{ region: eu, addresses: [192.0.2.1] }]\n"
		    "  - *s\n", (const char *const[]){
		    "t.yaml:7:11: services[1]: duplicate service name "
		    "www.example.org. (first at line 7)", NULL },
		    "an item that is an alias of another is that item");
	expect_errs(BASE "services: &l\n  - name: www\n"
		    "    endpoints: [{ region: eu, addresses: [192.0.2.1] }]\n"
		    "topology: *l\n", (const char *const[]){
		    "t.yaml:6:5: unknown key 'name' in topology[0]",
		    "t.yaml:6:5: missing required key 'region' in topology[0]",
		    "t.yaml:6:5: missing required key 'subnets' in topology[0]",
		    "t.yaml:7:5: unknown key 'endpoints' in topology[0]", NULL },
		    "an anchored list is still whole where it is aliased");
	expect_errs(BASE "services:\n  - name: www\n"
		    "    endpoints: [{ region: eu, addresses: [192.0.2.1] }]\n"
		    "  - *nowhere\n", (const char *const[]){
		    "t.yaml:8:5: found undefined alias", NULL },
		    "an undefined alias in an item is a YAML error");
	expect_errs(BASE "services:\n  - name: &a www\n"
		    "    endpoints: [{ region: &a eu, addresses: [192.0.2.1] }]\n",
		    (const char *const[]){
		    "t.yaml:7:27: second occurrence found duplicate anchor; "
		    "first occurrence (line 6)", NULL },
		    "a repeated anchor in an item is a YAML error");

	/* A YAML error or a second document anywhere is the only error. */
	expect_errs(BASE "services:\n  - name: www\n    ttl: nope\n"
		    "    endpoints: [{ region: eu, addresses: [192.0.2.1] }]\n"
		    "control: [\n", (const char *const[]){
		    "t.yaml:10:1: did not find expected node content while "
		    "parsing a flow node (line 10)", NULL },
		    "a YAML error after the list hides the errors in it");
	expect_errs(BASE "services:\n  - name: www\n    ttl: nope\n"
		    "    endpoints: [{ region: eu, addresses: [192.0.2.1] }]\n"
		    "---\nzone: {}\n", (const char *const[]){
		    "t.yaml:10:1: only one YAML document is allowed", NULL },
		    "a second document after the list is the only error");
	expect_errs(BASE "services:\n  - name: a\n"
		    "    endpoints: [{ region: eu, addresses: [192.0.2.1] }]\n"
		    "services:\n  - name: b\n    bogus: 1\n",
		    (const char *const[]){
		    "t.yaml:8:1: duplicate key 'services' at the top level "
		    "(first at line 5)", NULL },
		    "a second services key is only a duplicate key");

	/* Many items: errors keep their places, duplicates find the first. */
	big = many_services(3000, 2500);
	if (big) {
		strstr(big, "s0\n")[1] = '1'; /* the first name: s1 */
		expect_errs(big, (const char *const[]){
			    "t.yaml:4:11: services[1]: duplicate service name "
			    "s1.example.org. (first at line 2)",
			    "t.yaml:5003:27: services[2500].endpoints[0].region: "
			    "expected a string", NULL },
			    "3,000 services: two errors, each at its place");
	}
	free(big);
}

int main(void)
{
	test_example();
	test_example_defaults();
	test_defaults();
	test_durations();
	test_listen();
	test_errors_keys_types();
	test_errors_ranges();
	test_errors_enums();
	test_errors_names();
	test_errors_endpoints();
	test_errors_topology();
	test_errors_required();
	test_probe_layers();
	test_probe_spec_api();
	test_model_helpers();
	test_zonefile();
	test_control();
	test_log_level();
	test_limits_added();
	test_kube();
	test_services_stream();
	return tap_done();
}
