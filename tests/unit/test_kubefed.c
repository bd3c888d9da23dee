/*
 * test_kubefed.c -- the Kubernetes source without a network: KubeFed
 * objects (inline JSON fixtures) mapped to services (kube/
 * kubefed.c), the cache file round trip (cache.c) and credentials from
 * kubeconfig files and the service account directory (kubecfg.c).
 */
#include "config.h"

#include <arpa/inet.h>
#include <fcntl.h>
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
#include "kube/kubefed.h"
#include "config/model.h"
#include "tests/unit/tap.h"

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
	int rc;
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
	m.rc = kubefed_map(a, b, c, &o, &m.s, &m.n, &m.st);
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

	if (!ok(m.rc == 0, "a ServiceDNSRecord maps"))
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
	ok(m.rc == 0 && m.n == 0 && nlogged(LOG_LVL_WARN) == 0 &&
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

	ok(s && s->neps == 1 && ep(s, "mixed"),
	   "hostname-only and empty load balancers give no endpoint");
	is_str(addrs(ep(s, "mixed"), buf, sizeof(buf)), "192.0.2.7",
	       "an ingress with ip and hostname uses the ip, once");
	ok(logged(LOG_LVL_WARN, "cluster aws has hostname "
		  "a1.elb.amazonaws.com and no ip", NULL),
	   "hostname-only load balancer: warning names cluster and host");
	ok(svc(&m, "web.prod.fed.svc.us.example.org."),
	   "region us still named: it falls back to the other clusters");
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
		if (!ok(m.rc == 0 && m.n == 2 && m.st.bad == 1 &&
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
	ok(m.rc == 0 && m.n == 4, "duplicates: names from three objects");
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
	ok(m.rc == 0 && m.n == 1 && s, "DNSEndpoint: one service per dnsName");
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
	 * same names: the SDR wins, and quietly. */
	m = map("[" SDR1("web", "prod", "", "", "192.0.2.1") "]", NULL,
		"[{\"metadata\": {\"name\": \"service-web\", \"namespace\":"
		"  \"prod\", \"ownerReferences\": [{\"kind\":"
		"  \"ServiceDNSRecord\", \"name\": \"web\"}]},"
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

/* ---- credentials ---- */

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (!fp) {
		perror(path);
		exit(2);
	}
	fputs(text, fp);
	fclose(fp);
}

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
	write_file(tok, "file-token-1\n");
	write_file(path,
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
		write_file(tok, "file-token-2\n");
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
	write_file(path, "clusters: [\n");
	ok(kube_creds_kubeconfig(&c, path, NULL, err, sizeof(err)) < 0 &&
	   strstr(err, path), "bad YAML: named with the file");

	/* In-cluster, with the directory overridden. */
	snprintf(sa, sizeof(sa), "%s/sa", dir);
	mkdir(sa, 0700);
	snprintf(path, sizeof(path), "%s/token", sa);
	write_file(path, "sa-token\n");
	snprintf(path, sizeof(path), "%s/ca.crt", sa);
	write_file(path, "PEM\n");
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
	const struct model_service *s;
	size_t n;

	if (!ok(mkdtemp(dir), "temporary directory"))
		return;
	snprintf(kc, sizeof(kc), "%s/kubeconfig", dir);
	snprintf(cache, sizeof(cache), "%s/cache.json", dir);
	/* Port 1 on loopback: refused at once, nothing to wait for. */
	write_file(kc, "current-context: x\n"
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
	s = kube_services(k, &n);
	ok(n == 0, "no services before the API or the cache answered");
	changes = 0;
	event_base_dispatch(base);
	s = kube_services(k, &n);
	kube_get_status(k, &st);
	ok(changes == 1 && st.from_cache,
	   "at start-up the cache is served at once");
	ok(kubefed_services_equal(s, n, m.s, m.n),
	   "the cached services, as written");
	/* Then the API's connection failure is seen and kept. */
	for (int i = 0; i < 200 && !st.errors; i++) {
		event_base_loop(base, EVLOOP_ONCE);
		kube_get_status(k, &st);
	}
	ok(st.from_cache && !st.synced && !st.connected && st.errors > 0 &&
	   strstr(st.last_error, "onnect"),
	   "status: not synced, not connected, the error kept");
	ok(kube_update(k, &conf, "example.org.", NULL) == 0,
	   "kube_update on a running source");
	kube_free(k);
	ok(1, "kube_free with requests pending");
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
	test_equal_and_cache();
	test_base64();
	test_kubeconfig();
	test_startup_cache();
	return tap_done();
}
