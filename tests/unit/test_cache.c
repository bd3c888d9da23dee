/*
 * test_cache.c -- the Kubernetes services cache file (kube/cache.c,
 * kube/cache.h): every service, endpoint and probe field survives a
 * write and a read; damaged, truncated or foreign files are refused
 * whole with a message; unknown keys are tolerated; fields an older
 * gslbd did not write are filled as the config would; and a write
 * leaves no temporary file behind, whether it succeeds or fails.
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/cfg.h"
#include "config/model.h"
#include "kube/cache.h"
#include "kube/kubefed.h"
#include "tests/unit/tap.h"
#include "tests/unit/testutil.h"

static char dir[] = "/tmp/gslbd-test-cache-XXXXXX";
static char file[sizeof(dir) + 32];

/* Services with every field away from its default: a probe with every
 * setting, IPv6, a disabled endpoint, an endpoint with its own name. */
static const char services_yaml[] =
	TU_ZONE_YAML
	"  - name: www\n"
	"    policy: failover\n"
	"    all-down: nodata\n"
	"    ttl: 12s\n"
	"    max-answers: 3\n"
	"    probe:\n"
	"      type: https\n"
	"      port: 8443\n"
	"      interval: 2500ms\n"
	"      timeout: 900ms\n"
	"      jitter: 50ms\n"
	"      rise: 3\n"
	"      fall: 4\n"
	"      method: HEAD\n"
	"      path: /health?x=1\n"
	"      host: lb.example.org\n"
	"      expect-status: [\"200-204\", 301]\n"
	"      expect-body: alive\n"
	"      headers: [\"X-A: 1\", \"X-B: two\"]\n"
	"      tls-verify: false\n"
	"      ca-file: /etc/gslbd/ca.pem\n"
	"    endpoints:\n"
	"      - region: eu\n"
	"        name: eu-west\n"
	"        weight: 5\n"
	"        priority: 2\n"
	"        addresses: [192.0.2.1, \"2001:db8::1\"]\n"
	"      - region: us\n"
	"        enabled: false\n"
	"        addresses: [\"2001:db8:0:1::2\"]\n"
	"  - name: db\n"
	"    probe: { type: tcp, port: 5432 }\n"
	"    endpoints:\n"
	"      - { region: eu, addresses: [198.51.100.7] }\n";

static void errline(void *arg, const char *line)
{
	printf("# config: %s\n", line);
}

/* ---- a probe spec as one line, every field named ---- */

static const char *spec_str(const struct probe_spec *ps, char *buf,
			    size_t len)
{
	size_t o = (size_t)snprintf(buf, len,
		"set=%#x type=%s port=%u interval=%u timeout=%u jitter=%u "
		"rise=%u fall=%u method=%s path=%s host=%s status=",
		ps->set, probe_spec_type_name(ps->type), ps->port,
		ps->interval_ms, ps->timeout_ms, ps->jitter_ms, ps->rise,
		ps->fall, ps->method ? ps->method : "-",
		ps->path ? ps->path : "-", ps->host ? ps->host : "-");

	for (size_t i = 0; i < ps->nstatus && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%u-%u", i ? "," : "",
				      ps->status[i].lo, ps->status[i].hi);
	o += (size_t)snprintf(buf + o, len - o, " body=%s headers=",
			      ps->body ? ps->body : "-");
	for (size_t i = 0; i < ps->nheaders && o < len; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%s", i ? "|" : "",
				      ps->headers[i]);
	snprintf(buf + o, len - o, " tls-verify=%d ca=%s", ps->tls_verify,
		 ps->ca_file ? ps->ca_file : "-");
	return buf;
}

/* ---- files ---- */

/* The names in dir other than . and .., sorted, space-separated. */
static const char *dir_list(char *buf, size_t len)
{
	struct dirent **ents;
	int n = scandir(dir, &ents, NULL, alphasort);
	size_t o = 0;

	buf[0] = '\0';
	for (int i = 0; i < n; i++) {
		if (strcmp(ents[i]->d_name, ".") && strcmp(ents[i]->d_name, ".."))
			o += (size_t)snprintf(buf + o, len - o, "%s%s",
					      o ? " " : "", ents[i]->d_name);
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
	return buf;
}

/* ---- round trip ---- */

static void test_round_trip(const struct model *m)
{
	struct model_service *r = NULL;
	char err[256] = "", want[1024], got[1024], ip[64];
	size_t n = 0;

	if (!ok(kube_cache_write(file, m->svcs, m->nsvcs, err,
				 sizeof(err)) == 0, "the services are written"))
		printf("#   %s\n", err);
	if (!ok(kube_cache_read(file, &r, &n, err, sizeof(err)) == 0,
		"and read back")) {
		printf("#   %s\n", err);
		return;
	}
	ok(kubefed_services_equal(m->svcs, m->nsvcs, r, n),
	   "round trip: services, endpoints, addresses and probes equal");
	is_int(n, 2, "round trip: both services");
	if (n != 2)
		goto out;
	is_str(spec_str(&r[0].eps[0].probe, got, sizeof(got)),
	       spec_str(&m->svcs[0].eps[0].probe, want, sizeof(want)),
	       "round trip: every probe field, and which were set explicitly");
	is_str(got, "set=0x7fff type=https port=8443 interval=2500 "
	       "timeout=900 jitter=50 rise=3 fall=4 method=HEAD "
	       "path=/health?x=1 host=lb.example.org status=200-204,301-301 "
	       "body=alive headers=X-A: 1|X-B: two tls-verify=0 "
	       "ca=/etc/gslbd/ca.pem",
	       "round trip: the probe read back is the one configured");
	is_str(spec_str(&r[1].eps[0].probe, got, sizeof(got)),
	       spec_str(&m->svcs[1].eps[0].probe, want, sizeof(want)),
	       "round trip: a tcp probe with the HTTP fields at defaults");
	ok(r[0].policy == POLICY_FAILOVER && r[0].all_down == ALLDOWN_NODATA &&
	   r[0].ttl == 12 && r[0].max_answers == 3,
	   "round trip: policy, all-down, ttl, max-answers");
	ok(r[0].eps[0].weight == 5 && r[0].eps[0].priority == 2,
	   "round trip: weight and priority");
	is_str(r[0].eps[0].name, "eu-west", "round trip: an endpoint's own name");
	is_str(model_addr_str(&r[0].eps[0].addrs[1], ip, sizeof(ip)),
	       "2001:db8::1", "round trip: an IPv6 address");
	ok(!r[0].eps[1].enabled && r[0].eps[0].enabled,
	   "round trip: a disabled endpoint stays disabled, the other not");
	ok(!strcmp(r[0].source, "kube") && !strcmp(r[1].source, "kube"),
	   "round trip: what the cache gives back is Kubernetes' own");
	ok(r[0].eps[0].addrs[0].target == 0,
	   "round trip: no target indexes come from a file");
out:
	kubefed_services_free(r, n);
}

/* ---- atomic writes ---- */

static void test_atomic(const struct model *m)
{
	char err[256] = "", names[512], path[sizeof(file) + 16];

	kube_cache_write(file, m->svcs, m->nsvcs, err, sizeof(err));
	ok(kube_cache_write(file, m->svcs, 1, err, sizeof(err)) == 0,
	   "a cache written over an older one");
	is_str(dir_list(names, sizeof(names)), "cache.json",
	       "after a write the directory holds the file and no temporary");

	/* A rename onto a directory fails after the temporary is written:
	 * the temporary must go too. */
	snprintf(path, sizeof(path), "%s/sub", dir);
	mkdir(path, 0700);
	ok(kube_cache_write(path, m->svcs, m->nsvcs, err, sizeof(err)) < 0 &&
	   strstr(err, "cannot rename"),
	   "a failed rename is an error that says so");
	is_str(dir_list(names, sizeof(names)), "cache.json sub",
	       "a failed write leaves no temporary behind");
	rmdir(path);
}

/* ---- refusals ---- */

/* A real cache cut short, as a full disk or a copy gone wrong would. */
static void test_truncated(const struct model *m)
{
	struct model_service dummy, *r = &dummy;
	struct stat st;
	size_t n = 99;
	char err[512] = "";

	kube_cache_write(file, m->svcs, m->nsvcs, err, sizeof(err));
	if (stat(file, &st) < 0 || truncate(file, st.st_size / 2) < 0) {
		ok(0, "a cache cut in half");
		return;
	}
	ok(kube_cache_read(file, &r, &n, err, sizeof(err)) < 0 && !r && !n &&
	   strstr(err, "cache.json:1:"),
	   "a written cache cut in half is refused whole, with its place");
}

static const struct {
	const char *text;
	const char *err; /* a part of the message */
	const char *what;
} bad_cases[] = {
	{ "", "cache.json", "an empty file is refused, naming the file" },
	{ "hello", "cache.json:1:", "garbage is refused, with its line" },
	{ "{\"version\": 1, \"services\": [", "cache.json:1:",
	  "a truncated file is refused, with its line" },
	{ "{\"version\": 2, \"services\": []}", "not a gslbd cache (version 1)",
	  "another version is refused" },
	{ "{\"services\": []}", "not a gslbd cache",
	  "a file without a version is refused" },
	{ "{\"version\": \"1\", \"services\": []}", "not a gslbd cache",
	  "a version that is not a number is refused" },
	{ "{\"version\": 1, \"services\": {}}", "not a gslbd cache",
	  "services that are not a list are refused" },
	{ "[1, 2]", "not a gslbd cache", "a list at the top is refused" },
	{ "{\"version\": 1, \"services\": [{\"name\": \"a.example.org.\", "
	  "\"endpoints\": []}]}", "services[0] is damaged",
	  "a service without endpoints is damaged" },
	{ "{\"version\": 1, \"services\": [{\"name\": \"a.example.org.\", "
	  "\"endpoints\": [{\"region\": \"eu\", \"name\": \"eu\", "
	  "\"addresses\": [\"192.0.2.300\"]}]}]}", "services[0] is damaged",
	  "a bad address is damage" },
	{ "{\"version\": 1, \"services\": [{\"name\": \"a.example.org.\", "
	  "\"endpoints\": [{\"region\": \"eu\", \"addresses\": "
	  "[\"192.0.2.1\"]}]}]}", "services[0] is damaged",
	  "an endpoint without its name is damage" },
	{ "{\"version\": 1, \"services\": [{\"name\": \"a.example.org.\", "
	  "\"policy\": \"random\", \"endpoints\": [{\"region\": \"eu\", "
	  "\"name\": \"eu\", \"addresses\": [\"192.0.2.1\"]}]}]}",
	  "services[0] is damaged", "an unknown policy is damage" },
	{ "{\"version\": 1, \"services\": [{\"name\": \"a.example.org.\", "
	  "\"endpoints\": [{\"region\": \"eu\", \"name\": \"eu\", "
	  "\"addresses\": [\"192.0.2.1\"], \"probe\": {\"port\": 70000}}]}]}",
	  "services[0] is damaged", "a port past 65535 is damage" },
	{ "{\"version\": 1, \"services\": [{\"name\": \"a.example.org.\", "
	  "\"endpoints\": [{\"region\": \"eu\", \"name\": \"eu\", "
	  "\"addresses\": [\"192.0.2.1\"], \"probe\": {\"type\": \"icmp\"}}]}]}",
	  "services[0] is damaged", "an unknown probe type is damage" },
	{ "{\"version\": 1, \"services\": [{\"name\": \"a.example.org.\", "
	  "\"endpoints\": [{\"region\": \"eu\", \"name\": \"eu\", "
	  "\"addresses\": [\"192.0.2.1\"], \"probe\": {\"status\": "
	  "[[99, 200]]}}]}]}", "services[0] is damaged",
	  "a status below 100 is damage" },
	{ "{\"version\": 1, \"services\": [{\"name\": \"a.example.org.\", "
	  "\"endpoints\": [{\"region\": \"eu\", \"name\": \"eu\", "
	  "\"addresses\": [\"192.0.2.1\"], \"probe\": {\"rise\": -1}}]}]}",
	  "services[0] is damaged", "a negative count is damage" },
};

static void test_refused(void)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		struct model_service dummy, *r = &dummy;
		size_t n = 99;
		char err[512] = "";

		tu_write_file(file, bad_cases[i].text);
		int rc = kube_cache_read(file, &r, &n, err, sizeof(err));
		if (!ok(rc < 0 && strstr(err, bad_cases[i].err) && !r && !n,
			bad_cases[i].what))
			printf("#   rc %d, n %zu, err \"%s\"\n", rc, n, err);
	}
	{
		struct model_service *r = NULL;
		size_t n = 0;
		char err[512] = "", path[sizeof(file) + 16];

		snprintf(path, sizeof(path), "%s/none.json", dir);
		ok(kube_cache_read(path, &r, &n, err, sizeof(err)) < 0 &&
		   strstr(err, "none.json"),
		   "a missing file is an error naming it");
		/* A FIFO without a writer would block an open(2) for reading
		 * or a read(2) forever. */
		snprintf(path, sizeof(path), "%s/fifo.json", dir);
		if (ok(mkfifo(path, 0600) == 0, "a FIFO at the cache path"))
			ok(kube_cache_read(path, &r, &n, err, sizeof(err)) < 0 &&
			   strstr(err, "fifo.json") && !r && !n,
			   "a FIFO is refused, not waited on");
		unlink(path);
	}
}

/* A link planted at the temporary name is replaced, never followed. */
static void test_tmp_link(const struct model *m)
{
	char tmp[sizeof(file) + 32], victim[sizeof(dir) + 16], err[512] = "";

	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld", file, (long)getpid());
	snprintf(victim, sizeof(victim), "%s/victim", dir);
	tu_write_file(victim, "keep me\n");
	if (!ok(symlink(victim, tmp) == 0, "a link at the temporary name"))
		return;
	ok(kube_cache_write(file, m->svcs, m->nsvcs, err, sizeof(err)) == 0,
	   "the cache is written past the link");
	FILE *f = fopen(victim, "r");
	char buf[32] = "";
	if (f) {
		if (!fgets(buf, sizeof(buf), f))
			buf[0] = 0;
		fclose(f);
	}
	ok(!strcmp(buf, "keep me\n"), "the link's target is untouched");
	unlink(victim);
}

/* ---- tolerated: unknown keys, fields an older gslbd did not write ---- */

static void test_tolerated(void)
{
	struct model_service *r = NULL;
	size_t n = 0;
	char err[512] = "", got[1024];

	tu_write_file(file, "{\"version\": 1, \"written\": 0, \"future\": true, "
		   "\"services\": [{\"name\": \"a.example.org.\", "
		   "\"colour\": \"blue\", \"endpoints\": [{\"region\": \"eu\", "
		   "\"name\": \"eu\", \"zone\": \"eu-1a\", \"addresses\": "
		   "[\"192.0.2.1\"], \"probe\": {\"type\": \"http\", "
		   "\"grpc\": 1}}]}]}");
	if (!ok(kube_cache_read(file, &r, &n, err, sizeof(err)) == 0 && n == 1,
		"unknown keys (top, service, endpoint, probe) are tolerated")) {
		printf("#   %s\n", err);
		kubefed_services_free(r, n);
		return;
	}
	is_str(spec_str(&r[0].eps[0].probe, got, sizeof(got)),
	       "set=0 type=http port=80 interval=1000 timeout=800 jitter=100 "
	       "rise=2 fall=2 method=GET path=/ host=- status=200-399 body=- "
	       "headers= tls-verify=1 ca=-",
	       "a probe with fields missing gets the config's defaults");
	ok(r[0].ttl == 30 && r[0].max_answers == 8 &&
	   r[0].policy == POLICY_ALL && r[0].all_down == ALLDOWN_SERVE_ALL,
	   "a service with fields missing gets the defaults");
	ok(r[0].eps[0].weight == 1 && r[0].eps[0].priority == 1 &&
	   r[0].eps[0].enabled, "an endpoint with fields missing: weight 1, "
	   "priority 1, enabled");
	kubefed_services_free(r, n);
}

int main(void)
{
	struct model *m;

	if (!ok(mkdtemp(dir), "a temporary directory"))
		return tap_done();
	snprintf(file, sizeof(file), "%s/cache.json", dir);
	m = cfg_load_string("cache.yaml", services_yaml, errline, NULL);
	if (ok(m, "the services to cache load")) {
		test_round_trip(m);
		test_atomic(m);
		test_truncated(m);
		test_tmp_link(m);
	}
	test_refused();
	test_tolerated();
	model_free(m);
	tu_rmtree(dir);
	return tap_done();
}
