/*
 * test_kubefed.c -- the Kubernetes source without a network: KubeFed
 * objects (inline JSON fixtures) mapped to services (kube/
 * kubefed.c), the same kept up to date one object at a time and checked
 * against kubefed_map after every random event (kubeidx.c), the cache
 * file round trip (cache.c) and credentials from kubeconfig files and
 * the service account directory (kubecfg.c).
 */
#include "config.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <jansson.h>

#include "kube/cache.h"
#include "kube/kube.h"
#include "kube/kubecfg.h"
#include "kube/client.h"
#include "kube/kubefed.h"
#include "kube/kubeidx.h"
#include "config/model.h"
#include "lib/rand.h"
#include "tests/unit/kubeidx_harness.h"
#include "tests/unit/tap.h"
#include "tests/unit/testutil.h"

/* ---- log capture ---- */

#define MAXLOG 64

static struct {
	char line[MAXLOG][512];
	enum log_level lvl[MAXLOG];
	int n;
} L;

static void capture(void *arg, enum log_level lvl, const char *msg)
{
	if (L.n < MAXLOG) {
		snprintf(L.line[L.n], sizeof(L.line[0]), "%s", msg);
		L.lvl[L.n] = lvl;
	}
	L.n++;
}

/* A captured line at level lvl (or any, with -1) containing all of a
 * and b (b may be NULL). */
static bool logged(int lvl, const char *a, const char *b)
{
	for (int i = 0; i < L.n && i < MAXLOG; i++)
		if ((lvl < 0 || (int)L.lvl[i] == lvl) && strstr(L.line[i], a) &&
		    (!b || strstr(L.line[i], b)))
			return true;
	return false;
}

static int nlogged(int lvl)
{
	int n = 0;

	for (int i = 0; i < L.n && i < MAXLOG; i++)
		if ((int)L.lvl[i] == lvl)
			n++;
	return n;
}

static void dump_log(void)
{
	for (int i = 0; i < L.n && i < MAXLOG; i++)
		printf("#   log[%d]: %s\n", (int)L.lvl[i], L.line[i]);
}

/* ---- mapping helpers ---- */

static json_t *J(const char *text)
{
	json_error_t e;
	json_t *j = json_loads(text, 0, &e);

	if (!j) {
		printf("# bad fixture: %s at line %d col %d\n", e.text, e.line,
		       e.column);
		exit(2);
	}
	return j;
}

struct mapped {
	struct model_service *s;
	size_t n;
	struct kubefed_stats st;
};

static struct mapped map_with(const char *sdrs, const char *clusters,
			      const char *deps, const struct probe_spec *dflt)
{
	struct kubefed_opts o = {
		.apex = "example.org.", .policy = POLICY_ALL, .ttl = 30,
		.defaults = dflt, .log = capture,
	};
	json_t *a = sdrs ? J(sdrs) : NULL, *b = clusters ? J(clusters) : NULL;
	json_t *c = deps ? J(deps) : NULL;
	struct mapped m;

	memset(&L, 0, sizeof(L));
	kubefed_map(a, NULL, b, c, &o, &m.s, &m.n, &m.st);
	json_decref(a);
	json_decref(b);
	json_decref(c);
	return m;
}

static struct mapped map(const char *sdrs, const char *clusters,
			 const char *deps)
{
	return map_with(sdrs, clusters, deps, NULL);
}

static void unmap(struct mapped *m)
{
	kubefed_services_free(m->s, m->n);
	memset(m, 0, sizeof(*m));
}

static const struct model_service *svc(const struct mapped *m,
				       const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (!strcmp(m->s[i].name, name))
			return &m->s[i];
	return NULL;
}

static const struct model_endpoint *ep(const struct model_service *s,
				       const char *name)
{
	for (size_t i = 0; s && i < s->neps; i++)
		if (!strcmp(s->eps[i].name, name))
			return &s->eps[i];
	return NULL;
}

/* "1.1.1.1,::3" */
static const char *addrs(const struct model_endpoint *e, char *buf,
			 size_t len)
{
	char a[INET6_ADDRSTRLEN];

	buf[0] = '\0';
	for (size_t i = 0; e && i < e->naddrs; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
			 i ? "," : "", model_addr_str(&e->addrs[i], a,
						       sizeof(a)));
	return buf;
}

/* Priorities of a service's endpoints, in endpoint order: "c1=1 c2=2". */
static const char *prios(const struct model_service *s, char *buf,
			 size_t len)
{
	buf[0] = '\0';
	for (size_t i = 0; s && i < s->neps; i++)
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s=%u",
			 i ? " " : "", s->eps[i].name, s->eps[i].priority);
	return buf;
}

/* ---- fixtures ---- */

/* Three clusters in two regions; c3 has the older single zone. */
#define SDR_WEB \
	"{\"metadata\": {\"name\": \"web\", \"namespace\": \"prod\"}," \
	" \"spec\": {\"domainRef\": \"myfed\"}," \
	" \"status\": {\"domain\": \"example.org\", \"dns\": [" \
	"  {\"cluster\": \"c1\", \"region\": \"eu\", \"zones\": [\"eu-a\"]," \
	"   \"loadBalancer\": {\"ingress\": [{\"ip\": \"192.0.2.1\"}]}}," \
	"  {\"cluster\": \"c2\", \"region\": \"eu\", \"zones\": [\"eu-b\"]," \
	"   \"loadBalancer\": {\"ingress\": [{\"ip\": \"192.0.2.2\"}]}}," \
	"  {\"cluster\": \"c3\", \"region\": \"us\", \"zone\": \"us-a\"," \
	"   \"loadBalancer\": {\"ingress\": [{\"ip\": \"192.0.2.3\"}," \
	"                                  {\"ip\": \"2001:db8::3\"}]}}]}}"

#define G "web.prod.myfed.svc.example.org."

/* A ServiceDNSRecord with one cluster and the given extra text in
 * metadata (after name/namespace) and spec (after domainRef). */
#define SDR1(name, ns, meta, spec, ip) \
	"{\"metadata\": {\"name\": \"" name "\", \"namespace\": \"" ns "\"" \
	meta "}, \"spec\": {\"domainRef\": \"fed\"" spec "}," \
	" \"status\": {\"domain\": \"example.org\", \"dns\": [" \
	"  {\"cluster\": \"c1\", \"region\": \"eu\"," \
	"   \"loadBalancer\": {\"ingress\": [{\"ip\": \"" ip "\"}]}}]}}"

/* ---- the naming convention ---- */

static void test_levels(void)
{
	struct mapped m = map("[" SDR_WEB "]", NULL, NULL);
	const struct model_service *s;
	char buf[256];

	if (!ok(m.n > 0, "a ServiceDNSRecord maps"))
		return;
	is_int(m.n, 6, "global + 2 regions + 3 zones");
	if (!ok(m.n == 6, "six names")) {
		for (size_t i = 0; i < m.n; i++)
			printf("#   %s\n", m.s[i].name);
	}
	for (size_t i = 1; i < m.n; i++)
		if (strcmp(m.s[i - 1].name, m.s[i].name) >= 0)
			ok(0, "services are sorted by name");

	s = svc(&m, G);
	ok(s, "global name <svc>.<ns>.<fed>.svc.<domain>");
	if (s) {
		is_int(s->neps, 3, "global: one endpoint per cluster");
		is_int(s->policy, POLICY_ALL, "global: the configured policy");
		is_int(s->ttl, 30, "global: the configured ttl");
		is_str(s->source, "kube", "source is kube");
		is_str(ep(s, "c3")->region, "us", "endpoint region = region");
		is_str(addrs(ep(s, "c3"), buf, sizeof(buf)),
		       "192.0.2.3,2001:db8::3",
		       "endpoint addresses = loadBalancer.ingress[].ip");
		ok(ep(s, "c1")->enabled,
		   "a cluster without a KubeFedCluster object counts as Ready");
		is_str(ep(s, "c1")->probe.host, "web.prod.myfed.svc.example.org",
		       "probe Host is the global name");
		is_int(ep(s, "c1")->probe.type, PROBE_HTTP,
		       "probe: built-in defaults without config defaults");
	}

	s = svc(&m, "web.prod.myfed.svc.eu.example.org.");
	ok(s, "region name <svc>.<ns>.<fed>.svc.<region>.<domain>");
	is_int(s ? (int)s->policy : -1, POLICY_FAILOVER, "region: failover");
	is_str(prios(s, buf, sizeof(buf)), "c1=1 c2=1 c3=2",
	       "region: its clusters at 1, the others at 2");
	s = svc(&m, "web.prod.myfed.svc.us.example.org.");
	is_str(prios(s, buf, sizeof(buf)), "c1=2 c2=2 c3=1",
	       "region us: c3 at 1");

	s = svc(&m, "web.prod.myfed.svc.eu-a.eu.example.org.");
	ok(s, "zone name <svc>.<ns>.<fed>.svc.<zone>.<region>.<domain>");
	is_int(s ? (int)s->policy : -1, POLICY_FAILOVER, "zone: failover");
	is_str(prios(s, buf, sizeof(buf)), "c1=1 c2=2 c3=3",
	       "zone: zone 1, rest of the region 2, all others 3");
	s = svc(&m, "web.prod.myfed.svc.eu-b.eu.example.org.");
	is_str(prios(s, buf, sizeof(buf)), "c1=2 c2=1 c3=3",
	       "zone eu-b: c2 at 1");
	s = svc(&m, "web.prod.myfed.svc.us-a.us.example.org.");
	ok(s, "the older single status.dns[].zone string is read");
	is_str(prios(s, buf, sizeof(buf)), "c1=3 c2=3 c3=1",
	       "zone us-a: c3 at 1, the other region at 3");
	is_int(nlogged(LOG_LVL_WARN), 0, "no warnings for a good object");
	unmap(&m);
}

static void test_spec_fields(void)
{
	struct mapped m;
	const struct model_service *s;

	m = map("[" SDR1("web", "prod", "",
			 ", \"recordTTL\": 120, \"dnsPrefix\": \"shop\"",
			 "192.0.2.9") "]", NULL, NULL);
	s = svc(&m, "web.prod.fed.svc.example.org.");
	is_int(s ? s->ttl : 0, 120, "recordTTL becomes the ttl");
	s = svc(&m, "shop.example.org.");
	ok(s && s->neps == 1 && s->policy == POLICY_ALL && s->ttl == 120,
	   "dnsPrefix: <dnsPrefix>.<domain> served like the global name");
	ok(svc(&m, "web.prod.fed.svc.eu.example.org.") && m.n == 3,
	   "dnsPrefix adds one name; the region name stays");
	unmap(&m);

	m = map("[" SDR1("web", "prod", "", ", \"externalName\": \"shop\"",
			 "192.0.2.9") "]", NULL, NULL);
	ok(svc(&m, "shop.prod.fed.svc.example.org.") &&
	   !svc(&m, "web.prod.fed.svc.example.org."),
	   "externalName replaces the service label");
	unmap(&m);

	/* The federation-v2 shape: federationName + dnsSuffix, no
	 * status.domain, status.dns[].zone. */
	m = map("[{\"metadata\": {\"name\": \"Web\", \"namespace\": \"prod\"},"
		" \"spec\": {\"federationName\": \"Fed\","
		"  \"dnsSuffix\": \"Example.ORG\"},"
		" \"status\": {\"dns\": [{\"cluster\": \"c1\","
		"  \"loadBalancer\": {\"ingress\": [{\"ip\": \"192.0.2.1\"}]}}]}}]",
		NULL, NULL);
	ok(m.n == 1 && svc(&m, "web.prod.fed.svc.example.org."),
	   "older federationName + dnsSuffix accepted, names lower-cased");
	ok(m.n == 1 && !strcmp(m.s[0].eps[0].region, "c1"),
	   "no region: the cluster name is the region label");
	unmap(&m);

	/* Status not filled in yet: quietly nothing. */
	m = map("[{\"metadata\": {\"name\": \"web\", \"namespace\": \"prod\"},"
		" \"spec\": {\"domainRef\": \"fed\"}}]", NULL, NULL);
	ok(m.n == 0 && nlogged(LOG_LVL_WARN) == 0 &&
	   logged(LOG_LVL_DEBUG, "no status.domain", NULL),
	   "an SDR without status yet is skipped at debug level");
	unmap(&m);
}

/* ---- readiness and load balancers ---- */

static void test_ready(void)
{
	const char *clusters =
		"[{\"metadata\": {\"name\": \"c1\", \"namespace\": \"kf\"},"
		"  \"status\": {\"conditions\": [{\"type\": \"Ready\","
		"   \"status\": \"True\"}]}},"
		" {\"metadata\": {\"name\": \"c2\", \"namespace\": \"kf\"},"
		"  \"status\": {\"conditions\": [{\"type\": \"Offline\","
		"   \"status\": \"True\"}, {\"type\": \"Ready\","
		"   \"status\": \"False\"}]}},"
		" {\"metadata\": {\"name\": \"c3\", \"namespace\": \"kf\"},"
		"  \"status\": {}}]";
	struct mapped m = map("[" SDR_WEB "]", clusters, NULL);
	const struct model_service *s = svc(&m, G);

	ok(s && ep(s, "c1")->enabled, "Ready=True cluster: enabled");
	ok(s && !ep(s, "c2")->enabled,
	   "Ready=False cluster: endpoint disabled (admin untouched)");
	ok(s && !ep(s, "c3")->enabled,
	   "no Ready condition: not Ready");
	s = svc(&m, "web.prod.myfed.svc.eu-b.eu.example.org.");
	ok(s && s->neps == 3 && !ep(s, "c2")->enabled,
	   "zone name keeps a not-Ready cluster's endpoint, disabled, so "
	   "failover moves on");
	unmap(&m);
}

static void test_load_balancers(void)
{
	struct mapped m = map(
		"[{\"metadata\": {\"name\": \"web\", \"namespace\": \"prod\"},"
		" \"spec\": {\"domainRef\": \"fed\"},"
		" \"status\": {\"domain\": \"example.org\", \"dns\": ["
		"  {\"cluster\": \"aws\", \"region\": \"us\","
		"   \"loadBalancer\": {\"ingress\": [{\"hostname\":"
		"    \"a1.elb.amazonaws.com\"}]}},"
		"  {\"cluster\": \"mixed\", \"region\": \"eu\","
		"   \"loadBalancer\": {\"ingress\": [{\"hostname\": \"lb.x\"},"
		"    {\"ip\": \"192.0.2.7\", \"hostname\": \"lb.y\"},"
		"    {\"ip\": \"192.0.2.7\"}]}},"
		"  {\"cluster\": \"down\", \"region\": \"eu\","
		"   \"loadBalancer\": {}}]}}]", NULL, NULL);
	const struct model_service *s = svc(&m, "web.prod.fed.svc.example.org.");
	char buf[128];

	ok(s && s->neps == 2 && ep(s, "mixed") && ep(s, "aws") &&
	   !ep(s, "down"), "hostname-only load balancers give an endpoint, "
	   "empty ones none");
	ok(ep(s, "aws") && ep(s, "aws")->naddrs == 0 &&
	   ep(s, "aws")->nhostnames == 1 &&
	   !strcmp(ep(s, "aws")->hostnames[0], "a1.elb.amazonaws.com"),
	   "a hostname is kept by name (for the resolver), no address yet");
	is_str(addrs(ep(s, "mixed"), buf, sizeof(buf)), "192.0.2.7",
	       "an ingress with ip and hostname uses the ip, once");
	ok(ep(s, "mixed") && ep(s, "mixed")->nhostnames == 2 &&
	   !strcmp(ep(s, "mixed")->hostnames[0], "lb.x") &&
	   !strcmp(ep(s, "mixed")->hostnames[1], "lb.y"),
	   "and the hostname beside an ip too, as KubeFed resolves both");
	ok(nlogged(LOG_LVL_WARN) == 0, "no warning for hostnames");
	ok(svc(&m, "web.prod.fed.svc.us.example.org."),
	   "region us named");
	unmap(&m);

	m = map("[{\"metadata\": {\"name\": \"web\", \"namespace\": \"prod\"},"
		" \"spec\": {\"domainRef\": \"fed\"},"
		" \"status\": {\"domain\": \"example.org\", \"dns\": ["
		"  {\"cluster\": \"aws\", \"region\": \"us\","
		"   \"loadBalancer\": {\"ingress\": [{\"hostname\":"
		"    \"bad host!\"}, {\"ip\": \"192.0.2.8\"}]}}]}}]",
		NULL, NULL);
	ok(m.n == 2 && logged(LOG_LVL_WARN, "'bad host!' is not a host name",
			      NULL),
	   "a hostname that is not a host name is warned and skipped");
	unmap(&m);

	/* An address in the hostname field resolves to itself, as Go's
	 * LookupHost has it; twenty such entries beside twenty ips fit. */
	char json[4096];
	int off = snprintf(json, sizeof(json),
		"[{\"metadata\": {\"name\": \"web\", \"namespace\": \"prod\"},"
		" \"spec\": {\"domainRef\": \"fed\"},"
		" \"status\": {\"domain\": \"example.org\", \"dns\": ["
		"  {\"cluster\": \"aws\", \"region\": \"us\","
		"   \"loadBalancer\": {\"ingress\": [");
	for (int i = 0; i < 20; i++)
		off += snprintf(json + off, sizeof(json) - (size_t)off,
				"%s{\"ip\": \"192.0.2.%d\", "
				"\"hostname\": \"%s\"}", i ? "," : "",
				i + 1, i ? "198.51.100.9" : "2001:DB8::1");
	snprintf(json + off, sizeof(json) - (size_t)off, "]}}]}}]");
	m = map(json, NULL, NULL);
	s = svc(&m, "web.prod.fed.svc.example.org.");
	ok(s && s->neps == 1 && s->eps[0].nhostnames == 0 &&
	   s->eps[0].naddrs == 22 && nlogged(LOG_LVL_WARN) == 0,
	   "a hostname that is an address is taken as one (once), not "
	   "looked up as a name");
	unmap(&m);
}

/* ---- annotations ---- */

static void test_annotations(void)
{
	struct probe_spec dflt = { 0 };
	const struct model_endpoint *e;
	struct mapped m;

	dflt.set = PS_PATH | PS_RISE;
	dflt.path = strdup("/default");
	dflt.rise = 5;
	m = map_with("[" SDR1("web", "prod",
		", \"annotations\": {"
		"\"gslbd.io/probe-type\": \"https\","
		"\"gslbd.io/probe-port\": \"8443\","
		"\"gslbd.io/probe-path\": \"/healthz\","
		"\"gslbd.io/probe-host\": \"www.example.com\","
		"\"gslbd.io/probe-interval\": \"2s\","
		"\"gslbd.io/probe-timeout\": \"500ms\","
		"\"gslbd.io/probe-expect-status\": \"200, 301-302\","
		"\"gslbd.io/policy\": \"weighted\","
		"\"gslbd.io/ttl\": \"1m\","
		"\"other.io/x\": \"ignored\"}",
		", \"recordTTL\": 120", "192.0.2.9") "]", NULL, NULL, &dflt);
	e = m.n ? ep(svc(&m, "web.prod.fed.svc.example.org."), "c1") : NULL;
	if (!ok(e, "annotated SDR maps")) {
		dump_log();
		goto bad;
	}
	is_int(e->probe.type, PROBE_HTTPS, "probe-type https");
	is_int(e->probe.port, 8443, "probe-port");
	is_str(e->probe.path, "/healthz", "probe-path beats probe-defaults");
	is_str(e->probe.host, "www.example.com", "probe-host");
	is_int(e->probe.interval_ms, 2000, "probe-interval");
	is_int(e->probe.timeout_ms, 500, "probe-timeout");
	ok(e->probe.nstatus == 2 && e->probe.status[0].lo == 200 &&
	   e->probe.status[0].hi == 200 && e->probe.status[1].lo == 301 &&
	   e->probe.status[1].hi == 302, "probe-expect-status list");
	is_int(e->probe.rise, 5, "probe-defaults fill what is not annotated");
	is_int(svc(&m, "web.prod.fed.svc.example.org.")->policy,
	       POLICY_WEIGHTED, "gslbd.io/policy");
	is_int(svc(&m, "web.prod.fed.svc.example.org.")->ttl, 60,
	       "gslbd.io/ttl beats recordTTL");
	is_int(svc(&m, "web.prod.fed.svc.eu.example.org.")->policy,
	       POLICY_FAILOVER, "region level stays failover");
	is_int(nlogged(LOG_LVL_WARN), 0, "good annotations: no warning");
	unmap(&m);

	m = map_with("[" SDR1("web", "prod",
		", \"annotations\": {"
		"\"gslbd.io/probe-type\": \"ftp\","
		"\"gslbd.io/probe-port\": \"99999\","
		"\"gslbd.io/probe-path\": \"healthz\","
		"\"gslbd.io/probe-interval\": \"soon\","
		"\"gslbd.io/probe-expect-status\": \"700\","
		"\"gslbd.io/policy\": \"random\","
		"\"gslbd.io/ttl\": \"1.5\","
		"\"gslbd.io/probe-tyep\": \"tcp\"}", "", "192.0.2.9") "]",
		NULL, NULL, &dflt);
	e = m.n ? ep(svc(&m, "web.prod.fed.svc.example.org."), "c1") : NULL;
	if (!ok(e, "an SDR with bad annotations still maps"))
		goto bad;
	ok(e->probe.type == PROBE_HTTP && e->probe.port == 80 &&
	   !strcmp(e->probe.path, "/default") &&
	   e->probe.interval_ms == PROBE_DEFAULT_INTERVAL_MS &&
	   e->probe.nstatus == 1 && e->probe.status[0].hi == 399,
	   "bad probe annotations: the defaults");
	is_int(svc(&m, "web.prod.fed.svc.example.org.")->policy, POLICY_ALL,
	       "bad policy annotation: the default");
	is_int(svc(&m, "web.prod.fed.svc.example.org.")->ttl, 30,
	       "bad ttl annotation: the default");
	ok(logged(LOG_LVL_WARN, "gslbd.io/probe-port='99999'", "prod/web"),
	   "bad annotation warning names the object and the value");
	ok(logged(LOG_LVL_WARN, "unknown annotation gslbd.io/probe-tyep",
		  NULL), "a misspelt gslbd.io annotation is reported");
	is_int(nlogged(LOG_LVL_WARN), 8, "one warning per bad annotation");
	unmap(&m);

	m = map("[" SDR1("web", "prod",
		", \"annotations\": {\"gslbd.io/probe-timeout\": \"5s\"}", "",
		"192.0.2.9") "]", NULL, NULL);
	e = m.n ? ep(svc(&m, "web.prod.fed.svc.example.org."), "c1") : NULL;
	ok(e && e->probe.timeout_ms == PROBE_DEFAULT_TIMEOUT_MS &&
	   logged(LOG_LVL_WARN, "exceeds the interval", NULL),
	   "annotated timeout over the interval: warning, the defaults");
	unmap(&m);

	m = map("[" SDR1("web", "prod",
		", \"annotations\": {\"gslbd.io/probe-type\": \"tcp\"}", "",
		"192.0.2.9") "]", NULL, NULL);
	e = m.n ? ep(svc(&m, "web.prod.fed.svc.example.org."), "c1") : NULL;
	ok(e && e->probe.type == PROBE_HTTP &&
	   logged(LOG_LVL_WARN, "tcp needs", NULL),
	   "tcp without a port: warning, http probe");
	unmap(&m);
bad:
	probe_spec_clear(&dflt);
}

/* ---- bad objects, duplicates, the zone ---- */

static void test_malformed(void)
{
	const char *good = SDR1("zz-good", "prod", "", "", "192.0.2.50");
	char fixture[8192];
	struct mapped m;
	static const struct { const char *obj, *what, *msg; } bad[] = {
		{ "{\"metadata\": {\"name\": \"a\", \"namespace\": \"p\"},"
		  " \"spec\": {\"domainRef\": \"f\"}, \"status\": {\"domain\":"
		  " \"example.org\", \"dns\": {\"cluster\": \"c1\"}}}",
		  "status.dns not a list", "status.dns is not a list" },
		{ "{\"metadata\": {\"name\": \"a\", \"namespace\": \"p\"},"
		  " \"spec\": {\"domainRef\": \"f\"}, \"status\": {\"domain\":"
		  " \"example.org\", \"dns\": [{\"region\": \"eu\"}]}}",
		  "dns entry without cluster", "status.dns[0].cluster" },
		{ "{\"metadata\": {\"name\": \"a\", \"namespace\": \"p\"},"
		  " \"spec\": {\"domainRef\": \"f\"}, \"status\": {\"domain\":"
		  " \"example.org\", \"dns\": [{\"cluster\": \"c1\","
		  " \"loadBalancer\": {\"ingress\": [{\"ip\": \"300.1.1.1\"}]}}]}}",
		  "bad ip", "bad address '300.1.1.1'" },
		{ "{\"metadata\": {\"name\": \"a\", \"namespace\": \"p\"},"
		  " \"spec\": {\"domainRef\": \"f\", \"recordTTL\": \"60\"},"
		  " \"status\": {\"domain\": \"example.org\", \"dns\": []}}",
		  "recordTTL a string", "spec.recordTTL is not a TTL" },
		{ "{\"metadata\": {\"name\": \"a\", \"namespace\": \"p\"},"
		  " \"spec\": {}, \"status\": {\"domain\": \"example.org\"}}",
		  "no domainRef", "spec.domainRef" },
		{ "{\"metadata\": {\"name\": \"a\", \"namespace\": \"p\"},"
		  " \"spec\": {\"domainRef\": 5}}",
		  "domainRef a number", "has another type" },
		{ "{\"metadata\": {\"name\": \"a\", \"namespace\": \"p\"},"
		  " \"spec\": {\"domainRef\": \"f\"}, \"status\": {\"domain\":"
		  " \"example.org\", \"dns\": [{\"cluster\": \"c1\","
		  " \"zones\": \"eu-a\"}]}}",
		  "zones a string", "zones of the wrong type" },
		{ "{\"metadata\": {\"name\": \"a\", \"namespace\": \"p\"},"
		  " \"spec\": {\"domainRef\": \"f\"}, \"status\": {\"domain\":"
		  " \"example.org\", \"dns\": [{\"cluster\": \"c1\","
		  " \"loadBalancer\": {\"ingress\": [\"192.0.2.1\"]}}]}}",
		  "ingress entry a string", "wrong type" },
		{ "{\"metadata\": {\"name\": \"a\"}, \"spec\": {}}",
		  "no namespace", "metadata.namespace" },
		{ "{\"metadata\": {}, \"spec\": {}}", "no name",
		  "no metadata.name" },
		{ "[1, 2]", "not an object", "no metadata.name" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char what[128];

		snprintf(fixture, sizeof(fixture), "[%s, %s]", bad[i].obj,
			 good);
		m = map(fixture, NULL, NULL);
		snprintf(what, sizeof(what), "malformed (%s): skipped, logged, "
			 "the good one kept", bad[i].what);
		if (!ok(m.n == 2 && m.st.bad == 1 &&
			svc(&m, "zz-good.prod.fed.svc.example.org.") &&
			logged(LOG_LVL_WARN, bad[i].msg, NULL), what)) {
			printf("#   n=%zu bad=%u\n", m.n, m.st.bad);
			dump_log();
		}
		unmap(&m);
	}

	m = map("[" SDR1("a", "p", "", ", \"dnsPrefix\": \"bad prefix\"",
		    "192.0.2.1") "]", NULL, NULL);
	ok(m.n == 2 && logged(LOG_LVL_WARN, "'bad prefix.example.org' is "
			      "not a valid DNS name", NULL),
	   "an invalid name is skipped alone; the others stay");
	unmap(&m);

	m = map("[{\"metadata\": {\"name\": \"a\", \"namespace\": \"p\"},"
		" \"spec\": {\"domainRef\": \"f\"}, \"status\": {\"domain\":"
		" \"example.org\", \"dns\": ["
		" {\"cluster\": \"c1\", \"loadBalancer\": {\"ingress\":"
		"  [{\"ip\": \"192.0.2.1\"}]}},"
		" {\"cluster\": \"c1\", \"loadBalancer\": {\"ingress\":"
		"  [{\"ip\": \"192.0.2.2\"}]}}]}}]", NULL, NULL);
	ok(m.n == 1 && m.s[0].neps == 1 &&
	   logged(LOG_LVL_WARN, "cluster c1 is listed twice", NULL),
	   "a cluster listed twice: the first entry kept, warned");
	unmap(&m);

	/* The second entry's hostnames go with it (a leak under ASan). */
	m = map("[{\"metadata\": {\"name\": \"a\", \"namespace\": \"p\"},"
		" \"spec\": {\"domainRef\": \"f\"}, \"status\": {\"domain\":"
		" \"example.org\", \"dns\": ["
		" {\"cluster\": \"c1\", \"loadBalancer\": {\"ingress\":"
		"  [{\"hostname\": \"lb1.example.net\"}]}},"
		" {\"cluster\": \"c1\", \"loadBalancer\": {\"ingress\":"
		"  [{\"hostname\": \"lb2.example.net\"}]}}]}}]", NULL, NULL);
	ok(m.n == 1 && m.s[0].neps == 1 && m.s[0].eps[0].nhostnames == 1 &&
	   !strcmp(m.s[0].eps[0].hostnames[0], "lb1.example.net") &&
	   logged(LOG_LVL_WARN, "cluster c1 is listed twice", NULL),
	   "a cluster listed twice with hostnames: the first entry's kept");
	unmap(&m);
}

static void test_duplicates_and_zone(void)
{
	struct mapped m;

	/* Sorted by namespace/name: "b/x" before "c/x"; "a/y" claims b/x's
	 * name through externalName and, sorting first, wins it. */
	m = map("[" SDR1("x", "c", "", ", \"externalName\": \"web\"",
			 "192.0.2.3") ","
		SDR1("x", "b", "", ", \"externalName\": \"web\"",
		     "192.0.2.2") ","
		SDR1("web", "b", "", "", "192.0.2.1") "]", NULL, NULL);
	ok(m.n == 4, "duplicates: names from three objects");
	{
		const struct model_service *s =
			svc(&m, "web.b.fed.svc.example.org.");
		char buf[64];
		is_str(addrs(s ? &s->eps[0] : NULL, buf, sizeof(buf)),
		       "192.0.2.1",
		       "two objects, one name: the first by namespace/name "
		       "is kept");
	}
	ok(logged(LOG_LVL_WARN, "ServiceDNSRecord b/x: "
		  "web.b.fed.svc.example.org. is already served from "
		  "ServiceDNSRecord b/web", NULL),
	   "the duplicate is warned, naming both objects");
	is_int(m.st.duplicates, 2, "global and region names duplicated");
	unmap(&m);

	m = map("[{\"metadata\": {\"name\": \"w\", \"namespace\": \"p\"},"
		" \"spec\": {\"domainRef\": \"f\"}, \"status\": {\"domain\":"
		" \"other.net\", \"dns\": [{\"cluster\": \"c1\","
		" \"loadBalancer\": {\"ingress\": [{\"ip\": \"192.0.2.1\"}]}}]}},"
		SDR1("v", "p", "", "", "192.0.2.2") "]", NULL, NULL);
	ok(m.n == 2 && !svc(&m, "w.p.f.svc.other.net.") &&
	   logged(LOG_LVL_WARN, "w.p.f.svc.other.net. is outside the zone "
		  "example.org.", NULL),
	   "a name outside the zone apex is skipped with a warning");
	is_int(m.st.skipped, 1, "one name skipped");
	unmap(&m);

	/* "notexample.org" must not pass as inside "example.org". */
	m = map("[{\"metadata\": {\"name\": \"w\", \"namespace\": \"p\"},"
		" \"spec\": {\"domainRef\": \"f\", \"dnsPrefix\": \"x\"},"
		" \"status\": {\"domain\": \"notexample.org\", \"dns\": ["
		" {\"cluster\": \"c1\", \"loadBalancer\": {\"ingress\":"
		" [{\"ip\": \"192.0.2.1\"}]}}]}}]", NULL, NULL);
	is_int(m.n, 0, "a look-alike domain is outside the zone");
	unmap(&m);
}

/* ---- DNSEndpoint ---- */

static void test_dnsendpoint(void)
{
	struct mapped m;
	const struct model_service *s;

	m = map(NULL, NULL,
		"[{\"metadata\": {\"name\": \"app\", \"namespace\": \"p\"},"
		" \"spec\": {\"endpoints\": ["
		"  {\"dnsName\": \"App.example.org\", \"recordType\": \"A\","
		"   \"targets\": [\"192.0.2.1\", \"192.0.2.2\"],"
		"   \"recordTTL\": 120},"
		"  {\"dnsName\": \"app.example.org.\", \"recordType\": \"AAAA\","
		"   \"targets\": [\"2001:db8::1\"]},"
		"  {\"dnsName\": \"txt.example.org\", \"recordType\": \"TXT\","
		"   \"targets\": [\"hello\"]},"
		"  {\"dnsName\": \"far.example.net\", \"recordType\": \"A\","
		"   \"targets\": [\"192.0.2.9\"]}]}}]");
	s = svc(&m, "app.example.org.");
	ok(m.n == 1 && s, "DNSEndpoint: one service per dnsName");
	if (s) {
		is_int(s->neps, 3, "one endpoint per target, A and AAAA merged");
		is_str(s->eps[0].region, "dnsendpoint", "region dnsendpoint");
		is_str(s->eps[2].name, "2001:db8::1",
		       "endpoint named by its target");
		is_int(s->ttl, 120, "recordTTL becomes the ttl");
		ok(!s->eps[0].probe.host, "probed under its own name");
	}
	ok(logged(LOG_LVL_DEBUG, "txt.example.org TXT", NULL) &&
	   !logged(LOG_LVL_WARN, "TXT", NULL),
	   "other record types: skipped at debug level");
	ok(logged(LOG_LVL_WARN, "far.example.net. is outside the zone", NULL),
	   "DNSEndpoint name outside the zone: warned");
	unmap(&m);

	m = map(NULL, NULL,
		"[{\"metadata\": {\"name\": \"a\", \"namespace\": \"p\"},"
		" \"spec\": {\"endpoints\": ["
		"  {\"dnsName\": \"ok.example.org\", \"recordType\": \"A\","
		"   \"targets\": [\"192.0.2.1\"]},"
		"  {\"dnsName\": \"b.example.org\", \"recordType\": \"A\","
		"   \"targets\": [\"2001:db8::1\"]}]}},"
		" {\"metadata\": {\"name\": \"b\", \"namespace\": \"p\"},"
		" \"spec\": {\"endpoints\": [{\"dnsName\": \"c.example.org\","
		"  \"recordType\": \"A\", \"targets\": [\"192.0.2.3\"]}]}}]");
	ok(m.n == 1 && svc(&m, "c.example.org.") && m.st.bad == 1 &&
	   logged(LOG_LVL_WARN, "DNSEndpoint p/a", "not an A address"),
	   "a DNSEndpoint with a bad target is skipped whole");
	unmap(&m);

	/* KubeFed's controller makes a DNSEndpoint for each SDR with the
	 * same names, and no ownerReferences (controller.go): the SDR wins,
	 * and quietly. */
	m = map("[" SDR1("web", "prod", "", "", "192.0.2.1") "]", NULL,
		"[{\"metadata\": {\"name\": \"service-web\", \"namespace\":"
		"  \"prod\"},"
		" \"spec\": {\"endpoints\": [{\"dnsName\":"
		"  \"web.prod.fed.svc.example.org\", \"recordType\": \"A\","
		"  \"targets\": [\"192.0.2.1\"]}]}},"
		" {\"metadata\": {\"name\": \"other\", \"namespace\": \"prod\"},"
		" \"spec\": {\"endpoints\": [{\"dnsName\":"
		"  \"web.prod.fed.svc.eu.example.org\", \"recordType\": \"A\","
		"  \"targets\": [\"192.0.2.8\"]}]}}]");
	s = svc(&m, "web.prod.fed.svc.example.org.");
	ok(m.n == 2 && s && !strcmp(s->eps[0].name, "c1"),
	   "an SDR name beats the same DNSEndpoint name");
	ok(logged(LOG_LVL_DEBUG, "DNSEndpoint prod/service-web", NULL) &&
	   logged(LOG_LVL_WARN, "DNSEndpoint prod/other", NULL),
	   "derived DNSEndpoint duplicates at debug, others warned");
	unmap(&m);
}

/* KubeFed's own DNSEndpoints are known by name and content, not by an
 * ownerReference it never sets; look-alikes are not. */
static void test_kubefed_dnsendpoints(void)
{
	struct mapped m;

	m = map("[" SDR1("web", "prod", "", "", "192.0.2.1") "]", NULL,
		"[{\"metadata\": {\"name\": \"service-web\", \"namespace\":"
		"  \"prod\"}, \"spec\": {\"endpoints\": ["
		"  {\"dnsName\": \"web.prod.fed.svc.example.org\","
		"   \"recordType\": \"A\", \"targets\": [\"192.0.2.1\"]},"
		"  {\"dnsName\": \"web.prod.fed.svc.eu.example.org\","
		"   \"recordType\": \"A\", \"targets\": [\"192.0.2.1\"]},"
		"  {\"dnsName\": \"web.prod.fed.svc.eu1.eu.example.org\","
		"   \"recordType\": \"CNAME\", \"targets\":"
		"   [\"web.prod.fed.svc.eu.example.org\"]}]}},"
		" {\"metadata\": {\"name\": \"ingress-shop\", \"namespace\":"
		"  \"prod\"}, \"spec\": {\"endpoints\": ["
		"  {\"dnsName\": \"web.prod.fed.svc.example.org\","
		"   \"recordType\": \"A\", \"targets\": [\"192.0.2.1\"]}]}}]");
	ok(m.n == 2 && m.st.duplicates == 3 && nlogged(LOG_LVL_WARN) == 0,
	   "service-<name> / ingress-<name> without ownerReferences: their "
	   "duplicates say nothing at warn");
	unmap(&m);

	m = map("[" SDR1("web", "prod", "", "", "192.0.2.1") "]", NULL,
		"[{\"metadata\": {\"name\": \"service-web\", \"namespace\":"
		"  \"prod\"}, \"spec\": {\"endpoints\": ["
		"  {\"dnsName\": \"web.prod.fed.svc.example.org\","
		"   \"recordType\": \"A\", \"targets\": [\"192.0.2.1\"]},"
		"  {\"dnsName\": \"web.example.org\","
		"   \"recordType\": \"A\", \"targets\": [\"192.0.2.1\"]}]}},"
		" {\"metadata\": {\"name\": \"service-web\", \"namespace\":"
		"  \"other\"}, \"spec\": {\"endpoints\": ["
		"  {\"dnsName\": \"web.prod.fed.svc.example.org\","
		"   \"recordType\": \"A\", \"targets\": [\"192.0.2.1\"]}]}}]");
	ok(logged(LOG_LVL_WARN, "DNSEndpoint other/service-web", NULL) &&
	   logged(LOG_LVL_WARN, "DNSEndpoint prod/service-web", NULL),
	   "a look-alike (a name KubeFed would not write, another "
	   "namespace's names) is warned");
	unmap(&m);
}

/* RFC 2181 5: two clusters behind one load balancer give one record. */
static void test_dedup(void)
{
	struct mapped m = map(
		"[{\"metadata\": {\"name\": \"nginx\", \"namespace\": \"dup\"},"
		" \"spec\": {\"domainRef\": \"fed\"},"
		" \"status\": {\"domain\": \"example.org\", \"dns\": ["
		"  {\"cluster\": \"c1\", \"region\": \"us\", \"zones\": [\"us1\"],"
		"   \"loadBalancer\": {\"ingress\": [{\"ip\": \"192.0.2.1\"}]}},"
		"  {\"cluster\": \"c2\", \"region\": \"eu\", \"zones\": [\"eu1\"],"
		"   \"loadBalancer\": {\"ingress\": [{\"ip\": \"192.0.2.1\"},"
		"    {\"ip\": \"192.0.2.2\"}]}},"
		"  {\"cluster\": \"c3\", \"region\": \"eu\", \"zones\": [\"eu1\"],"
		"   \"loadBalancer\": {\"ingress\": [{\"ip\": \"192.0.2.2\"}]}}"
		"  ]}}]",
		"[{\"metadata\": {\"name\": \"c2\", \"namespace\": \"kf\"},"
		"  \"status\": {\"conditions\": [{\"type\": \"Ready\","
		"   \"status\": \"False\"}]}}]", NULL);
	const struct model_service *s;
	char buf[128];

	s = svc(&m, "nginx.dup.fed.svc.example.org.");
	ok(s && s->neps == 2 && ep(s, "c1") && ep(s, "c3") && !ep(s, "c2"),
	   "global: each address once; a not-Ready cluster whose every "
	   "address a Ready one has goes");
	is_str(addrs(ep(s, "c1"), buf, sizeof(buf)), "192.0.2.1",
	       "the first Ready cluster keeps a shared address");
	s = svc(&m, "nginx.dup.fed.svc.eu.example.org.");
	is_str(prios(s, buf, sizeof(buf)), "c1=2 c3=1",
	       "region eu: the shared address stays with its Ready cluster at "
	       "its best priority");
	unmap(&m);

	m = map("[" SDR1("web", "prod", "", "", "192.0.2.1") "," 
		"{\"metadata\": {\"name\": \"api\", \"namespace\": \"prod\"},"
		" \"spec\": {\"domainRef\": \"fed\"},"
		" \"status\": {\"domain\": \"example.org\", \"dns\": ["
		"  {\"cluster\": \"a\", \"region\": \"eu\","
		"   \"loadBalancer\": {\"ingress\": [{\"ip\": \"192.0.2.5\"}]}},"
		"  {\"cluster\": \"b\", \"region\": \"eu\","
		"   \"loadBalancer\": {\"ingress\": [{\"ip\": \"192.0.2.5\"}]}}"
		"  ]}}]", NULL, NULL);
	s = svc(&m, "api.prod.fed.svc.eu.example.org.");
	ok(s && s->neps == 1 && !strcmp(s->eps[0].name, "a"),
	   "equal rank: the earlier cluster keeps the address");
	unmap(&m);
}

/* kubernetes.max-answers, and gslbd.io/max-answers per object. */
static void test_max_answers(void)
{
	struct kubefed_opts o = {
		.apex = "example.org.", .policy = POLICY_ALL, .ttl = 30,
		.max_answers = 8, .log = capture,
	};
	json_t *a = J("[" SDR1("web", "prod", "", "", "192.0.2.1") ","
		      SDR1("all", "prod", ", \"annotations\": {\"gslbd.io/"
			   "max-answers\": \"0\"}", "", "192.0.2.2") ","
		      SDR1("two", "prod", ", \"annotations\": {\"gslbd.io/"
			   "max-answers\": \"2\"}", "", "192.0.2.3") ","
		      SDR1("bad", "prod", ", \"annotations\": {\"gslbd.io/"
			   "max-answers\": \"-1\"}", "", "192.0.2.4") "]");
	json_t *d = J("[{\"metadata\": {\"name\": \"e\", \"namespace\": \"p\","
		      " \"annotations\": {\"gslbd.io/max-answers\": \"3\"}},"
		      " \"spec\": {\"endpoints\": [{\"dnsName\":"
		      " \"e.example.org\", \"recordType\": \"A\","
		      " \"targets\": [\"192.0.2.9\"]}]}}]");
	struct mapped m;

	memset(&L, 0, sizeof(L));
	kubefed_map(a, NULL, NULL, d, &o, &m.s, &m.n, &m.st);
	ok(svc(&m, "web.prod.fed.svc.example.org.")->max_answers
	   == 8 && svc(&m, "web.prod.fed.svc.eu.example.org.")->max_answers
	   == 8, "kubernetes.max-answers applies to every level");
	ok(svc(&m, "all.prod.fed.svc.example.org.")->max_answers == 0 &&
	   svc(&m, "all.prod.fed.svc.eu.example.org.")->max_answers == 0,
	   "gslbd.io/max-answers: 0 answers every address, at every level");
	ok(svc(&m, "two.prod.fed.svc.example.org.")->max_answers == 2 &&
	   svc(&m, "e.example.org.")->max_answers == 3,
	   "gslbd.io/max-answers on a ServiceDNSRecord and a DNSEndpoint");
	ok(svc(&m, "bad.prod.fed.svc.example.org.")->max_answers == 8 &&
	   logged(LOG_LVL_WARN, "gslbd.io/max-answers='-1'", NULL),
	   "a bad gslbd.io/max-answers is logged and the default used");
	unmap(&m);
	json_decref(a);
	json_decref(d);
}

/* IngressDNSRecord: one name per host, every cluster's addresses, the
 * host as the probe's Host; it beats KubeFed's ingress-<name>
 * DNSEndpoint for the same names. */
static void test_ingress(void)
{
	struct kubefed_opts o = {
		.apex = "example.org.", .policy = POLICY_ALL, .ttl = 30,
		.max_answers = 8, .log = capture,
	};
	json_t *idrs = J(
		"[{\"metadata\": {\"name\": \"shop\", \"namespace\": \"p\"},"
		" \"spec\": {\"hosts\": [\"Shop.example.org\", \"www.example.org\","
		"  \"shop.example.org\", \"*.example.org\", \"x.example.net\"],"
		"  \"recordTTL\": 120},"
		" \"status\": {\"dns\": ["
		"  {\"cluster\": \"c1\", \"loadBalancer\": {\"ingress\":"
		"   [{\"ip\": \"192.0.2.1\"}]}},"
		"  {\"cluster\": \"c2\", \"loadBalancer\": {\"ingress\":"
		"   [{\"ip\": \"192.0.2.2\"}, {\"ip\": \"192.0.2.1\"}]}},"
		"  {\"cluster\": \"c3\", \"loadBalancer\": {}}]}},"
		" {\"metadata\": {\"name\": \"new\", \"namespace\": \"p\"},"
		" \"spec\": {\"hosts\": [\"new.example.org\"]}},"
		" {\"metadata\": {\"name\": \"bad\", \"namespace\": \"p\"},"
		" \"spec\": {\"hosts\": \"bad.example.org\"}}]");
	json_t *deps = J(
		"[{\"metadata\": {\"name\": \"ingress-shop\", \"namespace\":"
		"  \"p\"}, \"spec\": {\"endpoints\": [{\"dnsName\":"
		"  \"www.example.org\", \"recordType\": \"A\", \"targets\":"
		"  [\"192.0.2.1\", \"192.0.2.2\"], \"recordTTL\": 180}]}}]");
	const json_t *clusters = J(
		"[{\"metadata\": {\"name\": \"c2\", \"namespace\": \"kf\"},"
		"  \"status\": {\"conditions\": [{\"type\": \"Ready\","
		"   \"status\": \"False\"}]}}]");
	const struct model_service *s;
	struct mapped m;
	char buf[128];

	memset(&L, 0, sizeof(L));
	kubefed_map(NULL, idrs, clusters, deps, &o, &m.s, &m.n, &m.st);
	ok(m.n == 2, "IngressDNSRecord: one name per valid host "
	   "in the zone, each once");
	s = svc(&m, "www.example.org.");
	ok(s && s->neps == 2 && s->ttl == 120 && s->policy == POLICY_ALL &&
	   s->max_answers == 8, "every cluster with addresses, recordTTL, "
	   "the kubernetes policy and max-answers");
	is_str(addrs(ep(s, "c1"), buf, sizeof(buf)), "192.0.2.1",
	       "cluster c1's address");
	is_str(addrs(ep(s, "c2"), buf, sizeof(buf)), "192.0.2.2",
	       "an address shared with a Ready cluster is answered once");
	ok(s && !ep(s, "c2")->enabled, "a not-Ready cluster is disabled");
	is_str(s ? s->eps[0].probe.host : "", "www.example.org",
	       "the probe Host is the host");
	is_str(svc(&m, "shop.example.org.") ?
	       svc(&m, "shop.example.org.")->eps[0].probe.host : "",
	       "shop.example.org", "each host probes with its own Host");
	ok(logged(LOG_LVL_WARN, "'*.example.org' is not a valid", NULL) &&
	   logged(LOG_LVL_WARN, "x.example.net. is outside the zone", NULL),
	   "a wildcard host and a host outside the zone are warned");
	ok(logged(LOG_LVL_WARN, "IngressDNSRecord p/bad", NULL) &&
	   m.st.bad == 1, "spec.hosts of the wrong type: the object is bad");
	ok(logged(LOG_LVL_DEBUG, "IngressDNSRecord p/new", "not ready"),
	   "no status.dns yet: skipped at debug");
	ok(m.st.duplicates == 1 && !logged(LOG_LVL_WARN, "ingress-shop",
					    NULL),
	   "KubeFed's ingress-<name> DNSEndpoint loses its names quietly");
	unmap(&m);
	json_decref(idrs);
	json_decref(deps);
	json_decref((json_t *)clusters);
}

/* ---- equality and the cache ---- */

static void test_equal_and_cache(void)
{
	struct mapped a = map("[" SDR_WEB "]", NULL, NULL);
	struct mapped b = map("[" SDR_WEB "]", NULL, NULL);
	struct model_service *r = NULL;
	char path[] = "/tmp/gslbd-kube-cache-XXXXXX", err[256], file[300];
	size_t n = 0;
	FILE *fp;

	ok(kubefed_services_equal(a.s, a.n, b.s, b.n),
	   "the same input maps to equal lists");
	b.s[1].eps[0].addrs[0].ip.v4.s_addr ^= 1;
	ok(!kubefed_services_equal(a.s, a.n, b.s, b.n),
	   "a changed address is a change");
	b.s[1].eps[0].addrs[0].ip.v4.s_addr ^= 1;
	b.s[0].eps[0].enabled = !b.s[0].eps[0].enabled;
	ok(!kubefed_services_equal(a.s, a.n, b.s, b.n),
	   "a readiness change is a change");
	b.s[0].eps[0].enabled = !b.s[0].eps[0].enabled;
	b.s[0].eps[0].addrs[0].target = 7;
	ok(kubefed_services_equal(a.s, a.n, b.s, b.n),
	   "a target index is not part of equality");
	unmap(&b);

	if (!ok(mkdtemp(path), "temporary directory"))
		return;
	snprintf(file, sizeof(file), "%s/kube.json", path);
	ok(kube_cache_write(file, a.s, a.n, err, sizeof(err)) == 0,
	   "cache written");
	ok(kube_cache_read(file, &r, &n, err, sizeof(err)) == 0,
	   "cache read back");
	ok(kubefed_services_equal(a.s, a.n, r, n),
	   "cache round trip: services, endpoints, probes equal");
	ok(n && !strcmp(r[0].source, "kube"), "cached services are kube's");
	kubefed_services_free(r, n);

	/* The annotated probe fields survive too. */
	unmap(&a);
	a = map("[" SDR1("web", "prod", ", \"annotations\": {"
		"\"gslbd.io/probe-type\": \"https\","
		"\"gslbd.io/probe-expect-status\": \"204\"}", "",
		"2001:db8::9") "]", NULL, NULL);
	kube_cache_write(file, a.s, a.n, err, sizeof(err));
	ok(kube_cache_read(file, &r, &n, err, sizeof(err)) == 0 &&
	   kubefed_services_equal(a.s, a.n, r, n),
	   "cache round trip: https, status 204, IPv6");
	kubefed_services_free(r, n);

	/* Load balancers by name, with and without an address beside. */
	unmap(&a);
	a = map("[{\"metadata\": {\"name\": \"web\", \"namespace\": \"p\"},"
		" \"spec\": {\"domainRef\": \"fed\"},"
		" \"status\": {\"domain\": \"example.org\", \"dns\": ["
		"  {\"cluster\": \"aws\", \"region\": \"us\","
		"   \"loadBalancer\": {\"ingress\": [{\"hostname\":"
		"    \"a1.elb.example.net\"}]}},"
		"  {\"cluster\": \"gcp\", \"region\": \"eu\","
		"   \"loadBalancer\": {\"ingress\": [{\"ip\": \"192.0.2.4\","
		"    \"hostname\": \"lb.example.net\"}]}}]}}]", NULL, NULL);
	kube_cache_write(file, a.s, a.n, err, sizeof(err));
	ok(kube_cache_read(file, &r, &n, err, sizeof(err)) == 0 &&
	   kubefed_services_equal(a.s, a.n, r, n) && n == 3 &&
	   r[0].eps[0].nhostnames == 1,
	   "cache round trip: hostnames kept (an endpoint with only a name "
	   "too)");
	kubefed_services_free(r, n);

	ok(kube_cache_write(file, NULL, 0, err, sizeof(err)) == 0 &&
	   kube_cache_read(file, &r, &n, err, sizeof(err)) == 0 && n == 0,
	   "an empty list round-trips");
	kubefed_services_free(r, n);

	fp = fopen(file, "w");
	fputs("{\"version\": 1, \"services\": [{\"name\": \"x.\"}]}", fp);
	fclose(fp);
	ok(kube_cache_read(file, &r, &n, err, sizeof(err)) < 0 &&
	   strstr(err, "services[0] is damaged"),
	   "a damaged cache is refused, not half-read");
	fp = fopen(file, "w");
	fputs("{\"services\": [", fp);
	fclose(fp);
	ok(kube_cache_read(file, &r, &n, err, sizeof(err)) < 0,
	   "a truncated cache is refused");
	ok(kube_cache_read("/nonexistent/kube.json", &r, &n, err,
			   sizeof(err)) < 0, "a missing cache is an error");
	snprintf(file, sizeof(file), "%s/missing-dir/kube.json", path);
	ok(kube_cache_write(file, a.s, a.n, err, sizeof(err)) < 0 &&
	   strstr(err, "cannot create"), "an unwritable cache says why");
	unmap(&a);
	snprintf(file, sizeof(file), "%s/kube.json", path);
	unlink(file);
	rmdir(path);
}

/* ---- the incremental index (kubeidx.c) ---- */

/* ---- random objects with collisions ---- */

static uint32_t rnd(uint64_t *r, uint32_t n)
{
	return (uint32_t)((rand_next(r) >> 33) % n);
}

static const char *pick(uint64_t *r, const char *const *v, size_t n)
{
	return v[rnd(r, (uint32_t)n)];
}
#define PICK(r, v) pick((r), (v), sizeof(v) / sizeof((v)[0]))

static const char *const svc_names[] = { "web", "api", "db" };
static const char *const namespaces[] = { "a", "b" };
static const char *const ips[] = { "192.0.2.1", "192.0.2.2", "192.0.2.3",
				   "2001:db8::1" };

static json_t *rand_ingress(uint64_t *r)
{
	json_t *ing = json_array();
	uint32_t n = rnd(r, 3);

	for (uint32_t i = 0; i < n; i++)
		json_array_append_new(ing, json_pack("{s:s}", "ip",
			rnd(r, 40) ? PICK(r, ips) : "192.0.2.999"));
	return json_pack("{s:o}", "ingress", ing);
}

/* A ServiceDNSRecord: names that collide through externalName and
 * dnsPrefix, clusters that share regions and zones (and a region "x.eu"
 * whose name is zone x of region eu: a collision inside one object),
 * now and then one not ready yet, outside the zone or malformed. */
static json_t *rand_sdr(uint64_t *r, const char *ns, const char *name)
{
	static const char *const cls[] = { "c1", "c2", "c3" };
	static const char *const regions[] = { "eu", "us", "x.eu" };
	static const char *const zones[] = { "x", "z1", "z2" };
	json_t *dns = json_array();
	uint32_t ncl = rnd(r, 4);
	char rv[16];

	for (uint32_t i = 0; i < ncl; i++)
		json_array_append_new(dns, json_pack("{s:s,s:s,s:[s],s:o}",
			"cluster", PICK(r, cls), "region", PICK(r, regions),
			"zones", PICK(r, zones), "loadBalancer",
			rand_ingress(r)));
	snprintf(rv, sizeof(rv), "%u", rnd(r, 1000000));
	json_t *o = json_pack("{s:{s:s,s:s,s:s},s:{s:s},s:{s:s,s:o}}",
		"metadata", "name", name, "namespace", ns, "resourceVersion",
		rv, "spec", "domainRef", "fed", "status", "domain",
		rnd(r, 12) ? "example.org" : "example.net", "dns", dns);
	json_t *spec = json_object_get(o, "spec");
	if (!rnd(r, 4))
		json_object_set_new(spec, "externalName",
				    json_string(PICK(r, svc_names)));
	if (!rnd(r, 5))
		json_object_set_new(spec, "dnsPrefix",
				    json_string(rnd(r, 2) ? "www" : "shop"));
	if (!rnd(r, 6))
		json_object_set_new(json_object_get(o, "metadata"),
			"annotations", json_pack("{s:s}", rnd(r, 2) ?
				"gslbd.io/ttl" : "gslbd.io/bogus", "60"));
	return o;
}

/* A DNSEndpoint: names of ServiceDNSRecords (derived or not) and its
 * own, A and AAAA, now and then a TXT or a bad target. */
static json_t *rand_dep(uint64_t *r, const char *ns, const char *name)
{
	static const char *const names[] = {
		"web.a.fed.svc.example.org", "api.b.fed.svc.eu.example.org",
		"www.example.org", "far.example.net", "own.example.org",
		"own2.example.org", "own3.example.org",
	};
	json_t *eps = json_array();
	uint32_t n = 1 + rnd(r, 3);

	for (uint32_t i = 0; i < n; i++) {
		uint32_t t = rnd(r, 20);
		json_array_append_new(eps, json_pack("{s:s,s:s,s:[s]}",
			"dnsName", PICK(r, names), "recordType",
			t == 0 ? "TXT" : t < 4 ? "AAAA" : "A", "targets",
			t == 1 ? "192.0.2.7" : t < 4 ? "2001:db8::7" :
			pick(r, ips + 1, 3)));
	}
	json_t *o = json_pack("{s:{s:s,s:s},s:{s:o}}", "metadata", "name",
			      name, "namespace", ns, "spec", "endpoints", eps);
	if (!rnd(r, 3))
		json_object_set_new(json_object_get(o, "metadata"),
			"ownerReferences", json_pack("[{s:s}]", "kind",
						    "ServiceDNSRecord"));
	return o;
}

/* An IngressDNSRecord whose hosts meet the other kinds' names. */
static json_t *rand_idr(uint64_t *r, const char *ns, const char *name)
{
	static const char *const hosts[] = { "www.example.org",
		"web.a.fed.svc.example.org", "Shop.example.org", "*.example.org",
		"far.example.net" };
	static const char *const cls[] = { "c1", "c2", "c3" };
	json_t *dns = json_array(), *h = json_array();
	uint32_t ncl = rnd(r, 4), nh = rnd(r, 3);

	for (uint32_t i = 0; i < ncl; i++)
		json_array_append_new(dns, json_pack("{s:s,s:o}", "cluster",
			PICK(r, cls), "loadBalancer", rand_ingress(r)));
	for (uint32_t i = 0; i < nh; i++)
		json_array_append_new(h, json_string(PICK(r, hosts)));
	json_t *o = json_pack("{s:{s:s,s:s},s:{s:o},s:{s:o}}",
		"metadata", "name", name, "namespace", ns, "spec", "hosts", h,
		"status", "dns", dns);
	if (!rnd(r, 4))
		json_object_set_new(json_object_get(o, "spec"), "recordTTL",
				    json_integer(rnd(r, 2) ? 60 : 0));
	if (!rnd(r, 6))
		json_object_set_new(json_object_get(o, "metadata"),
			"annotations", json_pack("{s:s}", rnd(r, 2) ?
				"gslbd.io/max-answers" : "gslbd.io/ttl", "2"));
	return o;
}

static json_t *rand_obj(uint64_t *r, enum kubefed_kind kind)
{
	static const char *const depnames[] = { "ep1", "ep2", "service-web",
						"ingress-web" };
	const char *ns = PICK(r, namespaces);

	if (kind == KUBEFED_IDR)
		return rand_idr(r, ns, PICK(r, svc_names));
	return kind == KUBEFED_SDR ? rand_sdr(r, ns, PICK(r, svc_names)) :
	       rand_dep(r, ns, PICK(r, depnames));
}

static json_t *rand_cluster(uint64_t *r, const char *name)
{
	return json_pack("{s:{s:s},s:{s:[{s:s,s:s}]}}", "metadata", "name",
			 name, "status", "conditions", "type", "Ready",
			 "status", rnd(r, 3) ? "True" : "False");
}

/* The same object with only its resourceVersion changed: the noise a
 * status update makes. */
static json_t *noise(const json_t *o)
{
	json_t *c = json_deep_copy(o);

	json_object_set_new(json_object_get(c, "metadata"),
			    "resourceVersion", json_string("noise"));
	return c;
}

/* The object with one part more or less, so most of what it maps to
 * stays: a DNSEndpoint's last entry dropped or one more added; a
 * ServiceDNSRecord's dnsPrefix toggled or its last cluster dropped. */
static json_t *edit(uint64_t *r, enum kubefed_kind kind, const json_t *o)
{
	json_t *c = json_deep_copy(o), *fresh = rand_obj(r, kind);
	json_t *spec = json_object_get(c, "spec");
	json_t *eps = json_object_get(spec, "endpoints");
	json_t *dns = json_object_get(json_object_get(c, "status"), "dns");

	if (kind == KUBEFED_DNSEP && rnd(r, 2) && json_array_size(eps) > 1)
		json_array_remove(eps, json_array_size(eps) - 1);
	else if (kind == KUBEFED_DNSEP)
		json_array_extend(eps, json_object_get(json_object_get(fresh,
			"spec"), "endpoints"));
	else if (rnd(r, 2) && json_array_size(dns))
		json_array_remove(dns, json_array_size(dns) - 1);
	else if (json_object_get(spec, "dnsPrefix"))
		json_object_del(spec, "dnsPrefix");
	else
		json_object_set_new(spec, "dnsPrefix", json_string("www"));
	json_decref(fresh);
	return c;
}

/* The names one object maps to, into out (a JSON object). */
static void names_of(const struct incr *t, enum kubefed_kind kind,
		     const json_t *obj, json_t *out)
{
	struct kubefed_clusters *cl = kubefed_clusters_new(t->clusters);
	struct kubefed_opts o = t->o;
	struct kubefed_cand *c;
	char key[512];
	size_t n;

	o.log = quiet;
	kube_obj_key(obj, key, sizeof(key));
	kubefed_map_object(kind, obj, key, cl, &o, &c, &n, NULL);
	for (size_t i = 0; i < n; i++)
		json_object_set_new(out, c[i].svc.name, json_true());
	kubefed_cands_free(c, n);
	kubefed_clusters_free(cl);
}

/* Every name outside touched has the pointer it had (prev: the list
 * before, by name). */
static const char *incr_pointers_kept(const struct incr *t,
				      const json_t *prev, const json_t *touched)
{
	static char why[300];
	const struct model_service *const *l;
	size_t n;

	l = kubeidx_list(t->x, &n);
	for (size_t i = 0; i < n; i++) {
		json_t *p = json_object_get(prev, l[i]->name);
		if (!p || json_object_get(touched, l[i]->name))
			continue;
		if ((uintptr_t)json_integer_value(p) != (uintptr_t)l[i]) {
			snprintf(why, sizeof(why), "%s has a new pointer, its "
				 "objects unchanged", l[i]->name);
			return why;
		}
	}
	return NULL;
}

static json_t *list_pointers(const struct incr *t)
{
	const struct model_service *const *l;
	json_t *m = json_object();
	size_t n;

	l = kubeidx_list(t->x, &n);
	for (size_t i = 0; i < n; i++)
		json_object_set_new(m, l[i]->name,
				    json_integer((json_int_t)(uintptr_t)l[i]));
	return m;
}

/* An existing key of kind, or NULL. */
static const char *some_key(uint64_t *r, const json_t *store)
{
	size_t n = json_object_size(store), i = 0, want;
	const char *k;
	json_t *v;

	if (!n)
		return NULL;
	want = rnd(r, (uint32_t)n);
	json_object_foreach((json_t *)store, k, v)
		if (i++ == want)
			return k;
	return NULL;
}

/* One random step; returns what it did, for the failure message. */
static const char *incr_step(struct incr *t, uint64_t *r, json_t *touched,
			     bool *cluster, bool *quiet_event)
{
	static char what[600];
	enum kubefed_kind kind = (enum kubefed_kind)rnd(r, KUBEFED_NKINDS);
	uint32_t op = rnd(r, 20);
	const char *key = some_key(r, t->store[kind]);
	json_t *obj;

	*cluster = *quiet_event = false;
	if (op == 0) {
		char name[8];
		snprintf(name, sizeof(name), "c%u", 1 + rnd(r, 3));
		*cluster = true;
		json_object_set_new(t->clusters, name, rand_cluster(r, name));
		kubeidx_set_clusters(t->x, t->clusters);
		snprintf(what, sizeof(what), "KubeFedCluster %s", name);
		return what;
	}
	if (key && op < 4) {
		snprintf(what, sizeof(what), "DELETED %s %s",
			 kubefed_kind_name(kind), key);
		names_of(t, kind, json_object_get(t->store[kind], key),
			 touched);
		incr_event(t, kind, NULL, key);
		return what;
	}
	if (key && op < 12) {
		obj = edit(r, kind, json_object_get(t->store[kind], key));
		snprintf(what, sizeof(what), "MODIFIED %s %s (edited)",
			 kubefed_kind_name(kind), key);
		names_of(t, kind, json_object_get(t->store[kind], key),
			 touched);
		names_of(t, kind, obj, touched);
		incr_event(t, kind, obj, NULL);
		return what;
	}
	if (key && op < 14) {
		*quiet_event = true;
		obj = noise(json_object_get(t->store[kind], key));
		snprintf(what, sizeof(what), "MODIFIED %s %s (noise)",
			 kubefed_kind_name(kind), key);
		incr_event(t, kind, obj, NULL);
		return what;
	}
	obj = rand_obj(r, kind);
	{
		char k[512];
		json_t *old = json_object_get(t->store[kind],
					      kube_obj_key(obj, k, sizeof(k)));
		snprintf(what, sizeof(what), "%s %s %s", old ? "MODIFIED" :
			 "ADDED", kubefed_kind_name(kind), k);
		if (old)
			names_of(t, kind, old, touched);
	}
	names_of(t, kind, obj, touched);
	incr_event(t, kind, obj, NULL);
	return what;
}

static void test_kubeidx_property(void)
{
	uint64_t seed = 0x6b756265696478ULL, r;
	const char *env = getenv("KUBEIDX_SEED");
	int bad = 0, steps = 400, quiet_ok = 1;
	struct model_service *full;
	size_t nfull;
	struct incr t;
	const char *why;

	if (env)
		seed = strtoull(env, NULL, 0);
	r = seed;
	printf("# kubeidx property test: seed=0x%llx (KUBEIDX_SEED=... to "
	       "replay)\n", (unsigned long long)seed);
	incr_init(&t, quiet);
	for (int i = 1; i <= 3; i++) {
		char name[8];
		snprintf(name, sizeof(name), "c%d", i);
		json_object_set_new(t.clusters, name, rand_cluster(&r, name));
	}
	kubeidx_set_clusters(t.x, t.clusters);
	for (int i = 0; i < 12; i++)
		incr_event(&t, i % 3 ? KUBEFED_SDR : KUBEFED_DNSEP,
			   rand_obj(&r, i % 3 ? KUBEFED_SDR : KUBEFED_DNSEP),
			   NULL);
	ok(kubeidx_commit(t.x) == 1, "the first objects make a list");
	why = incr_differs(&t, &full, &nfull);
	if (!ok(!why, "the first list is kubefed_map's"))
		printf("#   %s\n", why);
	{
		const char *const *names;
		size_t n;
		ok(!kubeidx_take_changes(t.x, &names, &n) && !names,
		   "the first list: take everything");
	}
	kubeidx_release(t.x);
	t.prev = full;
	t.nprev = nfull;
	for (int step = 0; step < steps && !bad; step++) {
		json_t *touched = json_object(), *ptrs = list_pointers(&t);
		bool cluster, noisy;
		const char *what = incr_step(&t, &r, touched, &cluster, &noisy);
		int rc = kubeidx_commit(t.x);

		why = incr_check(&t, cluster);
		if (!why && !cluster)
			why = incr_pointers_kept(&t, ptrs, touched);
		if (!why && noisy && rc != 0) {
			why = "noise made a change";
			quiet_ok = 0;
		}
		if (why) {
			printf("#   step %d (%s): %s\n", step, what, why);
			bad++;
		}
		kubeidx_release(t.x);
		json_decref(touched);
		json_decref(ptrs);
	}
	ok(!bad, "after each of 400 random events the index's list and "
	   "counts are kubefed_map's over all objects, take_changes names "
	   "exactly the names that changed, and names of other objects keep "
	   "their pointers");
	ok(quiet_ok, "an event that changes only the resourceVersion "
	   "changes nothing");
	incr_done(&t);
}

/* Messages, pointers and the change record on a known case. */
static void test_kubeidx_cases(void)
{
	struct incr t;
	const char *const *names;
	const struct model_service *const *l;
	const struct model_service *keep;
	size_t n;
	json_t *ep;

	incr_init(&t, capture);
	memset(&L, 0, sizeof(L));
	incr_event(&t, KUBEFED_SDR, J(SDR1("web", "a", "", "",
					   "192.0.2.1")), NULL);
	incr_event(&t, KUBEFED_SDR, J(SDR1("api", "a", "", "",
					   "192.0.2.9")), NULL);
	ep = J("{\"metadata\": {\"name\": \"ep\", \"namespace\": \"a\","
	       " \"annotations\": {\"gslbd.io/bogus\": \"1\"}},"
	       " \"spec\": {\"endpoints\": [{\"dnsName\":"
	       " \"web.a.fed.svc.example.org\", \"recordType\": \"A\","
	       " \"targets\": [\"192.0.2.8\"]}]}}");
	incr_event(&t, KUBEFED_DNSEP, ep, NULL);
	ok(kubeidx_commit(t.x) == 1, "commit: a list");
	kubeidx_take_changes(t.x, &names, &n);
	kubeidx_release(t.x);
	ok(logged(LOG_LVL_WARN, "DNSEndpoint a/ep: web.a.fed.svc.example.org."
		  " is already served from ServiceDNSRecord a/web", NULL) &&
	   logged(LOG_LVL_WARN, "unknown annotation gslbd.io/bogus", NULL),
	   "a duplicate and an object's problem are said");
	l = kubeidx_list(t.x, &n);
	keep = n ? l[0] : NULL;

	memset(&L, 0, sizeof(L));
	incr_event(&t, KUBEFED_DNSEP, noise(ep), NULL);
	ok(kubeidx_commit(t.x) == 0 && L.n == 0,
	   "noise: no change, nothing said again");
	ok(kubeidx_take_changes(t.x, &names, &n) && n == 0,
	   "noise: no names changed");
	kubeidx_release(t.x);

	incr_event(&t, KUBEFED_SDR, J(SDR1("web", "a", "", "",
					   "192.0.2.2")), NULL);
	ok(kubeidx_commit(t.x) == 1, "a new address: a change");
	ok(kubeidx_take_changes(t.x, &names, &n) && n == 2 &&
	   !strcmp(names[0], "web.a.fed.svc.eu.example.org.") &&
	   !strcmp(names[1], "web.a.fed.svc.example.org."),
	   "take_changes: its global and region names, sorted");
	l = kubeidx_list(t.x, &n);
	ok(n == 4 && l[0] == keep, "the other record keeps its pointer");
	kubeidx_release(t.x);

	memset(&L, 0, sizeof(L));
	incr_event(&t, KUBEFED_SDR, NULL, "a/web");
	ok(kubeidx_commit(t.x) == 1, "deleted: a change");
	l = kubeidx_list(t.x, &n);
	ok(kubeidx_take_changes(t.x, &names, &n) && n == 2 &&
	   !strcmp(names[1], "web.a.fed.svc.example.org."),
	   "take_changes: the region name gone, the global name the "
	   "DNSEndpoint's now");
	ok(L.n == 0, "nothing new to say");
	kubeidx_release(t.x);

	/* Readiness maps every object again: everything may change. */
	json_object_set_new(t.clusters, "c1", J(
		"{\"metadata\": {\"name\": \"c1\"}, \"status\": {\"conditions\":"
		" [{\"type\": \"Ready\", \"status\": \"False\"}]}}"));
	ok(kubeidx_set_clusters(t.x, t.clusters) == 1 &&
	   kubeidx_commit(t.x) == 1 &&
	   !kubeidx_take_changes(t.x, &names, &n),
	   "a cluster not ready: every object mapped, take everything");
	kubeidx_release(t.x);
	ok(kubeidx_set_clusters(t.x, t.clusters) == 0,
	   "the same readiness again: nothing to do");

	/* New settings say every message anew. */
	memset(&L, 0, sizeof(L));
	t.o.ttl = 60;
	kubeidx_set_opts(t.x, &t.o);
	ok(kubeidx_commit(t.x) == 1 && logged(LOG_LVL_WARN, "gslbd.io/bogus",
					      NULL),
	   "new settings: mapped again, messages said anew");
	kubeidx_release(t.x);

	kubeidx_prune(t.x, KUBEFED_SDR, "a", t.store[KUBEFED_DNSEP]);
	ok(kubeidx_commit(t.x) == 1 && (kubeidx_list(t.x, &n), n == 1),
	   "prune: objects of namespace a missing from the store go");
	kubeidx_release(t.x);
	incr_done(&t);
}

/* More changed names than the record holds: take everything. */
static void test_kubeidx_bound(void)
{
	struct incr t;
	const char *const *names;
	size_t n;
	json_t *eps = json_array();
	char name[64];

	incr_init(&t, quiet);
	kubeidx_commit(t.x);
	kubeidx_take_changes(t.x, &names, &n);
	kubeidx_release(t.x);
	for (int i = 0; i <= KUBEIDX_CHANGES_MAX; i++) {
		snprintf(name, sizeof(name), "n%d.example.org", i);
		json_array_append_new(eps, json_pack("{s:s,s:s,s:[s]}",
			"dnsName", name, "recordType", "A", "targets",
			"192.0.2.1"));
	}
	incr_event(&t, KUBEFED_DNSEP, json_pack("{s:{s:s,s:s},s:{s:o}}",
		"metadata", "name", "big", "namespace", "a", "spec",
		"endpoints", eps), NULL);
	ok(kubeidx_commit(t.x) == 1 && !kubeidx_take_changes(t.x, &names, &n),
	   "more than KUBEIDX_CHANGES_MAX names: take everything");
	ok(kubeidx_take_changes(t.x, &names, &n) && n == 0,
	   "and the record is empty after");
	kubeidx_release(t.x);
	incr_done(&t);
}

static int64_t usec_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (int64_t)(t1.tv_sec - t0->tv_sec) * 1000000 +
	       (t1.tv_nsec - t0->tv_nsec) / 1000;
}

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Not a test: what one object's event costs at scale (bench/README.md).
 * KUBEIDX_BENCH_RECORDS sets the number of ServiceDNSRecords (two
 * clusters in two regions: five names each). */
static void bench_kubeidx(void)
{
	const char *env = getenv("KUBEIDX_BENCH_RECORDS");
	size_t nrec = env ? strtoul(env, NULL, 10) : 1000, runs = 200, n;
	int64_t *us = calloc(runs, sizeof(*us)), full_us;
	struct model_service *s;
	struct timespec t0;
	struct incr t;

	incr_init(&t, quiet);
	for (size_t i = 0; i < nrec; i++) {
		char name[32], ns[16], ip[32];
		snprintf(name, sizeof(name), "svc%zu", i);
		snprintf(ns, sizeof(ns), "ns%zu", i % 20);
		snprintf(ip, sizeof(ip), "10.1.%zu.%zu", (i >> 8) & 255,
			 i & 255);
		incr_event(&t, KUBEFED_SDR, json_pack(
			"{s:{s:s,s:s},s:{s:s},s:{s:s,s:[{s:s,s:s,s:[s],s:{s:[{s:s}]}},"
			"{s:s,s:s,s:[s],s:{s:[{s:s}]}}]}}",
			"metadata", "name", name, "namespace", ns, "spec",
			"domainRef", "fed", "status", "domain", "example.org",
			"dns", "cluster", "c1", "region", "eu", "zones", "eu-1a",
			"loadBalancer", "ingress", "ip", ip, "cluster", "c2",
			"region", "us", "zones", "us-1a", "loadBalancer",
			"ingress", "ip", "10.2.0.1"), NULL);
	}
	kubeidx_commit(t.x);
	kubeidx_release(t.x);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	incr_full(&t, &s, &n, NULL);
	full_us = usec_since(&t0);
	kubefed_services_free(s, n);
	for (size_t run = 0; run < runs; run++) {
		char key[32], ip[32];
		size_t i = (run * 7919) % nrec;
		json_t *o;

		snprintf(key, sizeof(key), "ns%zu/svc%zu", i % 20, i);
		snprintf(ip, sizeof(ip), "172.16.%zu.%zu", run / 250,
			 run % 250 + 1);
		o = json_deep_copy(json_object_get(t.store[KUBEFED_SDR], key));
		json_t *dns0 = json_array_get(json_object_get(
			json_object_get(o, "status"), "dns"), 0);
		json_object_set_new(json_array_get(json_object_get(
			json_object_get(dns0, "loadBalancer"), "ingress"), 0),
			"ip", json_string(ip));
		clock_gettime(CLOCK_MONOTONIC, &t0);
		incr_event(&t, KUBEFED_SDR, o, NULL);
		kubeidx_commit(t.x);
		kubeidx_release(t.x);
		us[run] = usec_since(&t0);
	}
	qsort(us, runs, sizeof(*us), cmp_i64);
	kubeidx_list(t.x, &n);
	printf("# kubeidx at %zu records (%zu names): one object's event "
	       "(map, index, commit, release) min %lld us, median %lld us, "
	       "max %lld us over %zu; kubefed_map of everything %lld us\n",
	       nrec, n, (long long)us[0], (long long)us[runs / 2],
	       (long long)us[runs - 1], runs, (long long)full_us);
	free(us);
	incr_done(&t);
}

/* ---- credentials ---- */


static void test_base64(void)
{
	struct kube_blob b;

	ok(kube_base64_decode("aGVsbG8=", &b) == 0 && b.len == 5 &&
	   !memcmp(b.data, "hello", 5), "base64 with padding");
	free(b.data);
	ok(kube_base64_decode("aGVs\nbG8h", &b) == 0 && b.len == 6 &&
	   !memcmp(b.data, "hello!", 6), "base64 with a line break");
	free(b.data);
	ok(kube_base64_decode("aGVsbG8", &b) < 0, "base64 of a bad length");
	ok(kube_base64_decode("aGV$bG8=", &b) < 0, "base64 with a bad char");
	ok(kube_base64_decode("", &b) < 0, "empty base64");
}

static void test_kubeconfig(void)
{
	char dir[] = "/tmp/gslbd-kubecfg-XXXXXX", path[400], tok[300],
	     err[512], sa[300];
	struct kube_creds c;

	if (!ok(mkdtemp(dir), "temporary directory"))
		return;
	snprintf(path, sizeof(path), "%s/config", dir);
	snprintf(tok, sizeof(tok), "%s/token", dir);
	tu_write_file(tok, "file-token-1\n");
	tu_write_file(path,
		   "apiVersion: v1\n"
		   "kind: Config\n"
		   "current-context: b\n"
		   "clusters:\n"
		   "- name: one\n"
		   "  cluster:\n"
		   "    server: https://10.0.0.1:6443/\n"
		   "    certificate-authority-data: aGVsbG8=\n"
		   "- name: two\n"
		   "  cluster:\n"
		   "    server: https://k8s.example.org\n"
		   "    certificate-authority: ca.pem\n"
		   "- name: three\n"
		   "  cluster:\n"
		   "    server: https://lab.example.org\n"
		   "    insecure-skip-tls-verify: true\n"
		   "- name: both\n"
		   "  cluster:\n"
		   "    server: https://lab.example.org\n"
		   "    certificate-authority: ca.pem\n"
		   "    insecure-skip-tls-verify: true\n"
		   "users:\n"
		   "- name: u1\n"
		   "  user:\n"
		   "    token: secret-token\n"
		   "    client-certificate-data: Y2VydA==\n"
		   "    client-key-data: a2V5\n"
		   "- name: u2\n"
		   "  user:\n"
		   "    tokenFile: token\n"
		   "    client-certificate: /abs/cert.pem\n"
		   "    client-key: key.pem\n"
		   "- name: u3\n"
		   "  user:\n"
		   "    exec:\n"
		   "      command: aws\n"
		   "contexts:\n"
		   "- name: a\n"
		   "  context: {cluster: one, user: u1}\n"
		   "- name: b\n"
		   "  context: {cluster: two, user: u2}\n"
		   "- name: c\n"
		   "  context: {cluster: one, user: u3}\n"
		   "- name: d\n"
		   "  context: {cluster: nope, user: u1}\n"
		   "- name: e\n"
		   "  context: {cluster: three, user: u1}\n"
		   "- name: f\n"
		   "  context: {cluster: both, user: u1}\n");

	if (ok(kube_creds_kubeconfig(&c, path, "a", err, sizeof(err)) == 0,
	       "kubeconfig: context a")) {
		is_str(c.server, "https://10.0.0.1:6443",
		       "server without the trailing slash");
		ok(c.ca.len == 5 && !memcmp(c.ca.data, "hello", 5) &&
		   !c.ca_file, "certificate-authority-data decoded to a blob");
		ok(c.cert.len == 4 && !memcmp(c.cert.data, "cert", 4) &&
		   c.key.len == 3, "client certificate and key data");
		is_str(c.token, "secret-token", "inline token");
		ok(!c.insecure, "TLS verified by default");
		kube_creds_clear(&c);
	} else {
		printf("#   %s\n", err);
	}
	if (ok(kube_creds_kubeconfig(&c, path, "e", err, sizeof(err)) == 0,
	       "kubeconfig: an insecure cluster loads"))
		ok(c.insecure, "insecure-skip-tls-verify is honoured");
	kube_creds_clear(&c);
	ok(kube_creds_kubeconfig(&c, path, "f", err, sizeof(err)) < 0 &&
	   strstr(err, "both given"),
	   "insecure-skip-tls-verify with a CA: refused, as kubectl does");
	kube_creds_clear(&c);
	if (ok(kube_creds_kubeconfig(&c, path, NULL, err, sizeof(err)) == 0,
	       "kubeconfig: current-context")) {
		char want[400];
		is_str(c.server, "https://k8s.example.org", "context b server");
		snprintf(want, sizeof(want), "%s/ca.pem", dir);
		is_str(c.ca_file, want,
		       "certificate-authority relative to the kubeconfig");
		is_str(c.cert_file, "/abs/cert.pem", "absolute path kept");
		is_str(c.token, "file-token-1", "tokenFile read, one line");
		ok(!c.insecure, "a CA file: verified");
		/* A rotated token is picked up before the next request. */
		tu_write_file(tok, "file-token-2\n");
		{
			struct timespec ts[2] = { { 0, UTIME_NOW },
						  { time(NULL) + 5, 0 } };
			utimensat(AT_FDCWD, tok, ts, 0);
		}
		ok(kube_creds_refresh(&c, err, sizeof(err)) == 0 &&
		   !strcmp(c.token, "file-token-2"),
		   "a changed token file is re-read");
		unlink(tok);
		ok(kube_creds_refresh(&c, err, sizeof(err)) < 0 &&
		   !strcmp(c.token, "file-token-2"),
		   "an unreadable token file keeps the old token");
		kube_creds_clear(&c);
	} else {
		printf("#   %s\n", err);
	}
	ok(kube_creds_kubeconfig(&c, path, "c", err, sizeof(err)) < 0 &&
	   strstr(err, "exec"), "exec plugins: a clear error");
	ok(kube_creds_kubeconfig(&c, path, "d", err, sizeof(err)) < 0 &&
	   strstr(err, "no cluster named 'nope'"), "a missing cluster");
	ok(kube_creds_kubeconfig(&c, path, "zz", err, sizeof(err)) < 0 &&
	   strstr(err, "no context named 'zz'"), "a missing context");
	ok(kube_creds_kubeconfig(&c, "/nonexistent/kubeconfig", NULL, err,
				 sizeof(err)) < 0 && strstr(err, "cannot open"),
	   "a missing kubeconfig");
	tu_write_file(path, "clusters: [\n");
	ok(kube_creds_kubeconfig(&c, path, NULL, err, sizeof(err)) < 0 &&
	   strstr(err, path), "bad YAML: named with the file");

	/* In-cluster, with the directory overridden. */
	snprintf(sa, sizeof(sa), "%s/sa", dir);
	mkdir(sa, 0700);
	snprintf(path, sizeof(path), "%s/token", sa);
	tu_write_file(path, "sa-token\n");
	snprintf(path, sizeof(path), "%s/ca.crt", sa);
	tu_write_file(path, "PEM\n");
	setenv("GSLBD_SA_DIR", sa, 1);
	unsetenv("KUBERNETES_SERVICE_HOST");
	ok(kube_creds_in_cluster(&c, err, sizeof(err)) < 0 &&
	   strstr(err, "KUBERNETES_SERVICE_HOST"),
	   "in-cluster without the service env: a clear error");
	setenv("KUBERNETES_SERVICE_HOST", "fd00::1", 1);
	setenv("KUBERNETES_SERVICE_PORT", "443", 1);
	if (ok(kube_creds_in_cluster(&c, err, sizeof(err)) == 0,
	       "in-cluster credentials")) {
		is_str(c.server, "https://[fd00::1]:443",
		       "in-cluster server, IPv6 bracketed");
		is_str(c.token, "sa-token", "service account token");
		is_str(c.ca_file, path, "service account CA");
		kube_creds_clear(&c);
	} else {
		printf("#   %s\n", err);
	}
	unlink(path);
	snprintf(path, sizeof(path), "%s/token", sa);
	unlink(path);
	rmdir(sa);
	snprintf(path, sizeof(path), "%s/config", dir);
	unlink(path);
	rmdir(dir);
}

/* ---- the source: an unreachable API at start-up serves the cache ---- */

static int changes;

static void on_change(void *arg)
{
	changes++;
	event_base_loopbreak(arg);
}

static void on_deadline(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(arg);
}

static void test_startup_cache(void)
{
	char dir[] = "/tmp/gslbd-kubesrc-XXXXXX", kc[300], cache[300],
	     err[256];
	struct mapped m = map("[" SDR_WEB "]", NULL, NULL);
	struct model_kube conf = {
		.enabled = true, .kubeconfig = kc, .cache_file = cache,
		.resync_ms = 600000, .timeout_ms = 200, .dnsendpoints = true,
		.policy = POLICY_ALL, .ttl = 30,
	};
	struct timeval tv = { 5, 0 };
	struct event_base *base;
	struct event *deadline;
	struct kube_src *k;
	struct kube_status st;
	const struct model_service *const *s;
	size_t n;

	if (!ok(mkdtemp(dir), "temporary directory"))
		return;
	snprintf(kc, sizeof(kc), "%s/kubeconfig", dir);
	snprintf(cache, sizeof(cache), "%s/cache.json", dir);
	/* Port 1 on loopback: refused at once, nothing to wait for. */
	tu_write_file(kc, "current-context: x\n"
		   "clusters: [{name: c, cluster: {server: "
		   "\"https://127.0.0.1:1\"}}]\n"
		   "users: [{name: u, user: {token: t}}]\n"
		   "contexts: [{name: x, context: {cluster: c, user: u}}]\n");
	kube_cache_write(cache, m.s, m.n, err, sizeof(err));
	base = event_base_new();
	deadline = evtimer_new(base, on_deadline, base);
	evtimer_add(deadline, &tv);
	k = kube_new(base, &conf, "Example.ORG", NULL, on_change, base, err,
		     sizeof(err));
	if (!ok(k, "kube_new with a kubeconfig")) {
		printf("#   %s\n", err);
		goto out;
	}
	s = kube_service_list(k, &n);
	ok(n == 0, "no services before the API or the cache answered");
	changes = 0;
	event_base_dispatch(base);
	s = kube_service_list(k, &n);
	kube_get_status(k, &st);
	ok(changes == 1 && st.from_cache && st.services == n,
	   "at start-up the cache is served at once");
	ok(list_differs(s, n, m.s, m.n) == n,
	   "the cached services, as written");
	ok(kube_services(k, &n) == s, "kube_services: the same list");
	{
		const char *const *names;
		ok(!kube_take_changes(k, &names, &n) && !names,
		   "served from the cache: take everything");
	}
	/* Then the API's connection failure is seen and kept. */
	for (int i = 0; i < 200 && !st.errors; i++) {
		event_base_loop(base, EVLOOP_ONCE);
		kube_get_status(k, &st);
	}
	ok(st.from_cache && !st.synced && !st.connected && st.errors > 0 &&
	   strstr(st.last_error, "onnect"),
	   "status: not synced, not connected, the error kept");
	/* Settings of a running source; kube_free below must still find
	 * every event it owns. */
	kube_update(k, &conf, "example.org.", NULL);
	{
		/* What the base held besides the source: the deadline, if
		 * it has not fired.  kube_free must take every event of
		 * its own (timers, curl sockets) with it. */
		int others = evtimer_pending(deadline, NULL) ? 1 : 0;
		kube_free(k);
		is_int(event_base_get_num_events(base,
						  EVENT_BASE_COUNT_ADDED),
		       others, "kube_free with requests pending removes "
		       "its events");
	}
	ok(kube_conf_same_source(&conf, &conf), "same section: same source");
	{
		struct model_kube c2 = conf;
		c2.policy = POLICY_FAILOVER;
		c2.ttl = 5;
		ok(kube_conf_same_source(&conf, &c2),
		   "policy and ttl only: kube_update is enough");
		c2.timeout_ms = 300;
		ok(!kube_conf_same_source(&conf, &c2),
		   "another timeout: a new source");
	}
	conf.kubeconfig = NULL;
	unsetenv("KUBERNETES_SERVICE_HOST");
	ok(!kube_new(base, &conf, "example.org", NULL, on_change, base, err,
		     sizeof(err)) && strstr(err, "KUBERNETES_SERVICE_HOST"),
	   "kube_new without credentials: NULL and why");
out:
	event_free(deadline);
	event_base_free(base);
	unmap(&m);
	unlink(cache);
	unlink(kc);
	rmdir(dir);
}

int main(void)
{
	log_init(LOG_LVL_ERR, false);
	test_levels();
	test_spec_fields();
	test_ready();
	test_load_balancers();
	test_annotations();
	test_malformed();
	test_duplicates_and_zone();
	test_dnsendpoint();
	test_kubefed_dnsendpoints();
	test_dedup();
	test_max_answers();
	test_ingress();
	test_equal_and_cache();
	test_kubeidx_cases();
	test_kubeidx_bound();
	test_kubeidx_property();
	bench_kubeidx();
	test_base64();
	test_kubeconfig();
	test_startup_cache();
	return tap_done();
}
