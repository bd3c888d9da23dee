/*
 * test_control.c -- the control API (control/control.c, control/metrics.c,
 * control/status.c) in-process, against a status view (control/status.h)
 * of the test's making: what /status and /metrics show is what the view
 * says (health, eligibility, admin state, each probe target once with its
 * names), /readyz follows the view, admin actions and reloads reach the
 * view with the right arguments, and requests are refused as documented
 * (empty parameters, bearer token, Origin).
 *
 * The API runs on its own libevent loop in a second thread; the test
 * talks to it with blocking libcurl requests on 127.0.0.1 only.  What the
 * view records is guarded by a mutex.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "config/admin.h"
#include "config/cfg.h"
#include "config/model.h"
#include "control/control.h"
#include "control/status.h"
#include "lib/log.h"
#include "tests/unit/tap.h"
#include "tests/unit/testutil.h"

/* ---- the model the fake daemon serves ---- */

/*
 * Targets after the build: 0 = 192.0.2.1 (www and api, up), 1 =
 * 192.0.2.2 (www, down), 2 = 192.0.2.7 (old), retired below when old's
 * probe is turned off.  api's ap endpoint is unprobed, its sa endpoint
 * disabled.
 */
static const char model_yaml[] =
	TU_ZONE_YAML
	"  - name: www\n"
	"    probe: { host: lb.example.org, path: /healthz }\n"
	"    endpoints:\n"
	"      - { region: eu, addresses: [192.0.2.1] }\n"
	"      - { region: us, name: us-2, addresses: [192.0.2.2] }\n"
	"  - name: api\n"
	"    probe: { host: lb.example.org, path: /healthz }\n"
	"    endpoints:\n"
	"      - { region: eu, addresses: [192.0.2.1] }\n"
	"      - { region: ap, addresses: [\"2001:db8::1\"],\n"
	"          probe: { type: none } }\n"
	"      - { region: sa, addresses: [192.0.2.9], enabled: false,\n"
	"          probe: { type: none } }\n"
	"  - name: old\n"
	"    endpoints:\n"
	"      - { region: eu, addresses: [192.0.2.7] }\n";

/* ---- the fake daemon behind the view ---- */

#define NT 3

static struct fake {
	pthread_mutex_t mu;
	struct model *m;
	struct admin *admin;
	/* per target index */
	uint8_t health[NT];
	const char *reason[NT];
	int64_t since[NT];
	struct probe_stats st[NT];
	char addr[NT][INET6_ADDRSTRLEN];
	/* what the test changes, and what the view records (under mu) */
	bool ready, kube, reload_fails;
	int matched;              /* what set_admin answers */
	int set_calls, reload_calls;
	char last_set[256];       /* "region|service|endpoint|state", '*': NULL */
} F = { .mu = PTHREAD_MUTEX_INITIALIZER };

static const struct model *fv_model(void *arg)
{
	return F.m;
}

static void fv_stats(void *arg, struct status_stats *st)
{
	*st = (struct status_stats){
		.started = 1700000000, .workers = 3, .generation = 42,
		.last_build_us = 1500, .last_build_time = 1700000500,
		.snapshot_bytes = 4096, .snapshot_names = 5, .reloads_ok = 2,
		.reloads_failed = 1, .last_reload_time = 1700000400,
		.last_reload_ok = false,
	};
}

static void fv_queries(void *arg, struct answer_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->udp = 5;
	st->tcp = 2;
}

static bool fv_ready(void *arg)
{
	pthread_mutex_lock(&F.mu);
	bool r = F.ready;
	pthread_mutex_unlock(&F.mu);
	return r;
}

static void fv_probe_counters(void *arg, struct probe_counters *c)
{
	*c = (struct probe_counters){ .attempts = 16, .failures = 9,
				      .transitions = 3, .active = 2 };
}

/* As the probe manager: no state for a retired target. */
static bool fv_target(void *arg, uint32_t t, struct probe_info *pi)
{
	const struct model_target *mt;

	if (t >= F.m->ntargets || t >= NT || !F.m->targets[t].nsvcs)
		return false;
	mt = &F.m->targets[t];
	*pi = (struct probe_info){
		.target = t, .address = F.addr[t], .port = mt->spec.port,
		.spec = &mt->spec, .host = mt->host, .health = F.health[t],
		.reason = F.reason[t], .since = F.since[t], .st = &F.st[t],
	};
	return true;
}

static bool fv_kube(void *arg, struct kube_status *ks)
{
	pthread_mutex_lock(&F.mu);
	bool on = F.kube;
	pthread_mutex_unlock(&F.mu);
	if (!on)
		return false;
	*ks = (struct kube_status){ .connected = true, .synced = true,
				    .last_sync = 1700000300, .relists = 4,
				    .services = 6 };
	snprintf(ks->last_error, sizeof(ks->last_error), "watch expired");
	return true;
}

static const struct admin_rule *fv_rules(void *arg, size_t *n)
{
	return admin_rules(F.admin, n);
}

static enum model_admin fv_admin_of(void *arg, const struct model_service *s,
				    const struct model_endpoint *e)
{
	return admin_of(F.admin, F.m->zone.apex, s, e);
}

static int fv_set_admin(void *arg, const char *region, const char *service,
			const char *endpoint, enum model_admin a)
{
	pthread_mutex_lock(&F.mu);
	F.set_calls++;
	snprintf(F.last_set, sizeof(F.last_set), "%s|%s|%s|%s",
		 region ? region : "*", service ? service : "*",
		 endpoint ? endpoint : "*", model_admin_name(a));
	int n = F.matched;
	pthread_mutex_unlock(&F.mu);
	admin_set(F.admin, region, service, endpoint, a);
	return n;
}

static int fv_reload(void *arg, char *err, size_t errlen)
{
	pthread_mutex_lock(&F.mu);
	bool fail = F.reload_fails;
	F.reload_calls++;
	pthread_mutex_unlock(&F.mu);
	if (fail) {
		snprintf(err, errlen, "gslbd.yaml:3:7: unknown key 'zonee'");
		return -1;
	}
	return 0;
}

static const struct status_view view = {
	.arg = &F, .model = fv_model, .stats = fv_stats,
	.queries = fv_queries, .ready = fv_ready,
	.probe_counters = fv_probe_counters, .target = fv_target,
	.kube = fv_kube, .rules = fv_rules, .admin_of = fv_admin_of,
	.set_admin = fv_set_admin, .reload = fv_reload,
};

static void fake_set(bool ready, bool kube, bool reload_fails, int matched)
{
	pthread_mutex_lock(&F.mu);
	F.ready = ready;
	F.kube = kube;
	F.reload_fails = reload_fails;
	F.matched = matched;
	pthread_mutex_unlock(&F.mu);
}

/* The calls recorded so far, and the last set_admin's arguments. */
static void fake_calls(int *set, int *reload, char *last, size_t len)
{
	pthread_mutex_lock(&F.mu);
	*set = F.set_calls;
	*reload = F.reload_calls;
	snprintf(last, len, "%s", F.last_set);
	pthread_mutex_unlock(&F.mu);
}

static int fake_init(void)
{
	static const uint8_t health[NT] = { HEALTH_UP, HEALTH_DOWN, HEALTH_UP };
	static const char *const reason[NT] = { "status 200", "status 503",
						"status 200" };

	F.m = cfg_load_string("control.yaml", model_yaml, NULL, NULL);
	if (!F.m)
		return -1;
	model_targets_build(F.m);
	if (F.m->ntargets != NT)
		return -1;
	/* old's probe is turned off: its target retires, as a merge that
	 * changed it would leave it. */
	model_targets_drop(F.m, 2, NULL);
	F.m->svcs[2].eps[0].probe.type = PROBE_NONE;
	for (size_t t = 0; t < NT; t++) {
		F.health[t] = health[t];
		F.reason[t] = reason[t];
		F.since[t] = 1700000000 + 100 * (int64_t)t;
		F.st[t].attempts = 7 + 2 * t;
		model_addr_str(&F.m->targets[t].addr, F.addr[t],
			       sizeof(F.addr[t]));
	}
	F.admin = admin_new();
	admin_set(F.admin, NULL, "api", "eu", ADMIN_DRAINED);
	return 0;
}

/* ---- the API on its own thread ---- */

static struct event_base *base;
static int stop_pipe[2];
static pthread_t loop_thread;

static void on_stop(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(base);
}

static void *loop_main(void *arg)
{
	event_base_dispatch(base);
	return NULL;
}

/* A port nobody listens on now (LEV_OPT_REUSEABLE lets control_new take
 * it at once). */
static uint16_t free_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t len = sizeof(sin);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	uint16_t port = 0;

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sin, sizeof(sin)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sin, &len) == 0)
		port = ntohs(sin.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

/* A control API on 127.0.0.1, with this token (or none); its port. */
static struct control *start_api(const char *token, uint16_t *port)
{
	char err[256] = "";

	for (int tries = 0; tries < 5; tries++) {
		struct model_control conf = { .enabled = true,
					      .token = (char *)token };
		struct sockaddr_in *sin = (struct sockaddr_in *)&conf.listen.ss;
		struct control *c;

		*port = free_port();
		sin->sin_family = AF_INET;
		sin->sin_port = htons(*port);
		sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		conf.listen.sslen = sizeof(*sin);
		if (*port && (c = control_new(base, &view, &conf, err,
					      sizeof(err))))
			return c;
	}
	printf("# control_new: %s\n", err);
	return NULL;
}

/* ---- HTTP over libcurl ---- */

struct resp {
	long code;
	char body[65536];
	size_t len;
	char ctype[128], auth[128]; /* Content-Type, WWW-Authenticate */
	json_t *json;               /* the body, when it is JSON */
};

static size_t on_body(char *p, size_t sz, size_t n, void *arg)
{
	struct resp *r = arg;
	size_t k = sz * n, room = sizeof(r->body) - 1 - r->len;

	memcpy(r->body + r->len, p, k < room ? k : room);
	r->len += k < room ? k : room;
	r->body[r->len] = '\0';
	return k;
}

/* Keep the value of header `name` (without CRLF) in out. */
static void header_value(const char *line, size_t len, const char *name,
			 char *out, size_t outlen)
{
	size_t nl = strlen(name);

	if (len <= nl || strncasecmp(line, name, nl) || line[nl] != ':')
		return;
	line += nl + 1;
	len -= nl + 1;
	while (len && *line == ' ')
		line++, len--;
	while (len && (line[len - 1] == '\r' || line[len - 1] == '\n'))
		len--;
	snprintf(out, outlen, "%.*s", (int)len, line);
}

static size_t on_header(char *p, size_t sz, size_t n, void *arg)
{
	struct resp *r = arg;

	header_value(p, sz * n, "Content-Type", r->ctype, sizeof(r->ctype));
	header_value(p, sz * n, "WWW-Authenticate", r->auth, sizeof(r->auth));
	return sz * n;
}

static uint16_t api_port; /* where req() goes */

/* One request: method "GET" or "POST", a path with its query, a form
 * body (POST only, may be NULL) and extra headers (NULL-terminated, may
 * be NULL).  Returns r (code 0 when nothing answered). */
static struct resp *req(struct resp *r, const char *method, const char *path,
			const char *form, const char *const *headers)
{
	CURL *e = curl_easy_init();
	struct curl_slist *h = NULL;
	char url[512];

	json_decref(r->json);
	memset(r, 0, sizeof(*r));
	if (!e)
		return r;
	snprintf(url, sizeof(url), "http://127.0.0.1:%u%s", api_port, path);
	for (size_t i = 0; headers && headers[i]; i++)
		h = curl_slist_append(h, headers[i]);
	curl_easy_setopt(e, CURLOPT_URL, url);
	curl_easy_setopt(e, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, 5000L);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
	if (!strcmp(method, "POST"))
		curl_easy_setopt(e, CURLOPT_POSTFIELDS, form ? form : "");
	if (curl_easy_perform(e) == CURLE_OK)
		curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->code);
	curl_easy_cleanup(e);
	curl_slist_free_all(h);
	if (!strncmp(r->ctype, "application/json", 16))
		r->json = json_loads(r->body, 0, NULL);
	return r;
}

/* ---- JSON by path: "services/0/endpoints/1/name" ---- */

static json_t *jget(json_t *j, const char *path)
{
	char key[64];

	while (j && *path) {
		size_t n = strcspn(path, "/");
		snprintf(key, sizeof(key), "%.*s", (int)n, path);
		path += n + (path[n] == '/');
		j = json_is_array(j) ? json_array_get(j, strtoul(key, NULL, 10)) :
		    json_object_get(j, key);
	}
	return j;
}

/* The value at path as compact JSON text ("\"up\"", "0", "null"), or
 * "(absent)". */
static const char *jtext(json_t *root, const char *path, char *buf,
			 size_t len)
{
	json_t *v = jget(root, path);
	char *s = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;

	snprintf(buf, len, "%s", s ? s : "(absent)");
	free(s);
	return buf;
}

struct jcase {
	const char *path, *want, *what;
};

static void check_json(json_t *root, const struct jcase *c, size_t n)
{
	char got[1024];

	for (size_t i = 0; i < n; i++)
		is_str(jtext(root, c[i].path, got, sizeof(got)), c[i].want,
		       c[i].what);
}

/* How many lines of text are exactly line. */
static int count_lines(const char *text, const char *line)
{
	size_t n = strlen(line);
	int k = 0;

	for (const char *p = text; (p = strstr(p, line)); p += n)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			k++;
	return k;
}

/* ---- /status ---- */

#define W "services/0/endpoints/"
#define A "services/1/endpoints/"

static const struct jcase status_cases[] = {
	{ "zone", "\"example.org.\"", "status: the zone from the view's model" },
	{ "generation", "42", "status: the generation from the view's stats" },
	{ "workers", "3", "status: the workers from the view's stats" },
	{ "reloads/failed", "1", "status: reload counters from the stats" },
	{ "reloads/last-ok", "false", "status: the last reload failed" },
	{ "services/0/name", "\"www.example.org.\"", "status: services in order" },
	{ W "0/addresses/0/health", "\"up\"",
	  "status: an address shows its target's health (up)" },
	{ W "0/addresses/0/target", "0", "status: an address names its target" },
	{ W "0/addresses/0/eligible", "true", "status: up and enabled: eligible" },
	{ W "1/name", "\"us-2\"", "status: an endpoint's own name" },
	{ W "1/addresses/0/health", "\"down\"",
	  "status: an address shows its target's health (down)" },
	{ W "1/addresses/0/reason", "\"status 503\"",
	  "status: the target's reason" },
	{ W "1/addresses/0/since", "1700000100", "status: the target's since" },
	{ W "1/addresses/0/eligible", "false", "status: down: not eligible" },
	{ A "0/admin", "\"drained\"",
	  "status: admin state from the view's admin_of" },
	{ A "0/addresses/0/health", "\"up\"",
	  "status: a shared target's health under its second name" },
	{ A "0/addresses/0/eligible", "false", "status: drained: not eligible" },
	{ W "0/admin", "\"none\"",
	  "status: the same target under the other name is not drained" },
	{ A "1/addresses/0/address", "\"2001:db8::1\"", "status: IPv6 address" },
	{ A "1/addresses/0/health", "\"unknown\"",
	  "status: an unprobed address is unknown" },
	{ A "1/addresses/0/target", "null", "status: an unprobed address has no "
	  "target" },
	{ A "1/addresses/0/eligible", "true", "status: unprobed counts as up" },
	{ A "2/enabled", "false", "status: a disabled endpoint says so" },
	{ A "2/addresses/0/eligible", "false", "status: disabled: not eligible" },
	{ "targets/0/address", "\"192.0.2.1\"", "status: target 0 listed" },
	{ "targets/0/names", "[\"www.example.org.\",\"api.example.org.\"]",
	  "status: a shared target once, with both its names" },
	{ "targets/0/host", "\"lb.example.org\"", "status: the target's Host" },
	{ "targets/0/port", "80", "status: the target's port" },
	{ "targets/0/type", "\"http\"", "status: the target's type" },
	{ "targets/0/attempts", "7", "status: the target's attempts" },
	{ "targets/1/names", "[\"www.example.org.\"]",
	  "status: target 1 with its one name" },
	{ "targets/1/health", "\"down\"", "status: target 1 down" },
	{ "targets/2", "(absent)", "status: a retired target is not listed" },
	{ "admin-rules/0", "{\"region\":null,\"service\":\"api\","
	  "\"endpoint\":\"eu\",\"admin\":\"drained\"}",
	  "status: the view's admin rules" },
	{ "admin-rules/1", "(absent)", "status: one rule only" },
	{ "kubernetes", "null", "status: no Kubernetes source in the view" },
};

static void test_status(void)
{
	struct resp r = { 0 };
	char got[256];

	fake_set(false, false, false, 0);
	req(&r, "GET", "/status", NULL, NULL);
	is_int(r.code, 200, "GET /status answers 200");
	if (!ok(r.json, "/status is JSON"))
		return;
	check_json(r.json, status_cases,
		   sizeof(status_cases) / sizeof(status_cases[0]));
	is_str(jtext(r.json, "ready", got, sizeof(got)), "false",
	       "status: ready from the view (not ready)");

	fake_set(true, true, false, 0);
	req(&r, "GET", "/status", NULL, NULL);
	is_str(jtext(r.json, "ready", got, sizeof(got)), "true",
	       "status: ready from the view (ready)");
	is_str(jtext(r.json, "kubernetes/relists", got, sizeof(got)),
	       "4", "status: the view's Kubernetes counters");
	is_str(jtext(r.json, "kubernetes/last-error", got, sizeof(got)),
	       "\"watch expired\"", "status: the view's Kubernetes error");
	json_decref(r.json);
}

/* ---- /metrics ---- */

#define PL(addr) "{address=\"" addr "\",port=\"80\",type=\"http\"," \
	"host=\"lb.example.org\"}"
#define EL(svc, ep, region, addr) "{service=\"" svc ".example.org.\"," \
	"endpoint=\"" ep "\",region=\"" region "\",address=\"" addr "\""

static const struct {
	const char *line;
	int times;
	const char *what;
} metric_cases[] = {
	{ "gslbd_probe_attempts_total" PL("192.0.2.1") " 7", 1,
	  "metrics: a shared target's attempts once, labelled address, port, "
	  "type, host" },
	{ "gslbd_probe_attempts_total" PL("192.0.2.2") " 9", 1,
	  "metrics: the other target's attempts" },
	{ "gslbd_probe_attempts_total" PL("192.0.2.7") " 11", 0,
	  "metrics: no series for a retired target" },
	{ "gslbd_probe_last_duration_seconds" PL("192.0.2.1") " 0", 1,
	  "metrics: the last duration per target" },
	{ "gslbd_probe_duration_seconds_count" PL("192.0.2.2") " 0", 1,
	  "metrics: a histogram per target" },
	{ "gslbd_probes_active 2", 1, "metrics: the view's probe counters" },
	{ "gslbd_endpoint_up" EL("www", "eu", "eu", "192.0.2.1") "} 1", 1,
	  "metrics: endpoint_up 1 for an address whose target is up" },
	{ "gslbd_endpoint_up" EL("www", "us-2", "us", "192.0.2.2") "} 0", 1,
	  "metrics: endpoint_up 0 for an address whose target is down" },
	{ "gslbd_endpoint_up" EL("api", "eu", "eu", "192.0.2.1") "} 1", 1,
	  "metrics: endpoint_up for the shared target under its second name" },
	{ "gslbd_endpoint_up" EL("api", "ap", "ap", "2001:db8::1") "} 1", 1,
	  "metrics: an unprobed address counts up" },
	{ "gslbd_endpoint_eligible" EL("api", "eu", "eu", "192.0.2.1") "} 0", 1,
	  "metrics: a drained address is not eligible" },
	{ "gslbd_endpoint_eligible" EL("api", "sa", "sa", "192.0.2.9") "} 0", 1,
	  "metrics: a disabled address is not eligible" },
	{ "gslbd_endpoint_eligible" EL("www", "eu", "eu", "192.0.2.1") "} 1", 1,
	  "metrics: an up, enabled, undrained address is eligible" },
	{ "gslbd_endpoint_admin" EL("api", "eu", "eu", "192.0.2.1")
	  ",state=\"drained\"} 1", 1,
	  "metrics: the admin state in force is 1" },
	{ "gslbd_endpoint_admin" EL("api", "eu", "eu", "192.0.2.1")
	  ",state=\"none\"} 0", 1, "metrics: the other admin states are 0" },
	{ "gslbd_endpoint_last_transition_timestamp_seconds"
	  EL("www", "us-2", "us", "192.0.2.2") "} 1700000100", 1,
	  "metrics: the target's since per address" },
	{ "gslbd_queries_total{proto=\"udp\"} 5", 1,
	  "metrics: the view's query counters" },
	{ "gslbd_snapshot_generation 42", 1, "metrics: the view's stats" },
	{ "gslbd_last_reload_success 0", 1,
	  "metrics: the last reload failed, says the view" },
	{ "gslbd_admin_rules 1", 1, "metrics: the view's rule count" },
	{ "gslbd_ready 1", 1, "metrics: ready from the view" },
	{ "gslbd_kube_relists_total 4", 1,
	  "metrics: the view's Kubernetes counters" },
};

/* Without control.metrics-per-target: totals and counts only. */
static const struct {
	const char *line;
	const char *what;
} total_cases[] = {
	{ "gslbd_probe_attempts_total 16", "totals: the view's attempts" },
	{ "gslbd_probe_failures_total{reason=\"status\"} 0",
	  "totals: failures by class, summed over the live targets" },
	{ "gslbd_probe_duration_seconds_count 0", "totals: one histogram" },
	{ "gslbd_probe_targets{health=\"up\"} 1",
	  "totals: live targets up (the retired one not counted)" },
	{ "gslbd_probe_targets{health=\"down\"} 1", "totals: targets down" },
	{ "gslbd_addresses{state=\"eligible\"} 3",
	  "totals: addresses eligible (up, unprobed, old's now unprobed)" },
	{ "gslbd_addresses{state=\"ineligible\"} 3",
	  "totals: addresses not (down, drained, disabled)" },
	{ "gslbd_services 3", "totals: services" },
	{ "gslbd_services_all_down 0", "totals: every service has one" },
};

static void test_metrics(void)
{
	struct resp r = { 0 };

	fake_set(true, true, false, 0);
	req(&r, "GET", "/metrics", NULL, NULL);
	is_int(r.code, 200, "GET /metrics answers 200");
	ok(!strncmp(r.ctype, "text/plain; version=0.0.4", 25),
	   "metrics: the Prometheus text format's content type");
	for (size_t i = 0; i < sizeof(total_cases) / sizeof(total_cases[0]);
	     i++)
		if (!ok(count_lines(r.body, total_cases[i].line) == 1,
			total_cases[i].what))
			printf("#   want: %s\n", total_cases[i].line);
	ok(!strstr(r.body, "address=\"") && !strstr(r.body, "gslbd_endpoint_"),
	   "metrics: by default no series per address or target");

	/* The key is read from the model served at each scrape. */
	F.m->control.metrics_per_target = true;
	req(&r, "GET", "/metrics", NULL, NULL);
	F.m->control.metrics_per_target = false;
	is_int(r.code, 200, "GET /metrics with per-target series answers 200");
	for (size_t i = 0; i < sizeof(metric_cases) / sizeof(metric_cases[0]);
	     i++)
		if (!ok(count_lines(r.body, metric_cases[i].line) ==
			metric_cases[i].times, metric_cases[i].what))
			printf("#   want %d of: %s\n", metric_cases[i].times,
			       metric_cases[i].line);
	ok(!strstr(r.body, "192.0.2.7\",port"),
	   "metrics: no probe series at all for the retired target");
	ok(count_lines(r.body, "gslbd_probe_attempts_total 16") == 0,
	   "metrics: no unlabelled total beside the per-target series");

	fake_set(false, false, false, 0);
	req(&r, "GET", "/metrics", NULL, NULL);
	ok(count_lines(r.body, "gslbd_ready 0") == 1 &&
	   !strstr(r.body, "gslbd_kube_"),
	   "metrics: not ready, and no Kubernetes families without a source");
}

/* ---- /readyz ---- */

static void test_readyz(void)
{
	struct resp r = { 0 };

	fake_set(false, false, false, 0);
	is_int(req(&r, "GET", "/readyz", NULL, NULL)->code, 503,
	       "readyz: 503 while the view is not ready");
	fake_set(true, false, false, 0);
	is_int(req(&r, "GET", "/readyz", NULL, NULL)->code, 200,
	       "readyz: 200 once the view is ready");
	fake_set(false, false, false, 0);
	is_int(req(&r, "GET", "/readyz", NULL, NULL)->code, 503,
	       "readyz: back to 503 when the view says so again");
}

/* ---- admin actions: what set_admin receives ---- */

static const struct {
	const char *path, *form;
	const char *call; /* "region|service|endpoint|state" */
	const char *what;
} admin_cases[] = {
	{ "/admin/drain?region=x", NULL, "x|*|*|drained",
	  "drain by region: set_admin(x, NULL, NULL, drained)" },
	{ "/admin/undrain?region=x", NULL, "x|*|*|none",
	  "undrain: set_admin with ADMIN_NONE" },
	{ "/admin/force-up?service=www", NULL, "*|www|*|force-up",
	  "a relative service name is passed as given" },
	{ "/admin/force-up?service=WWW.Example.ORG", NULL,
	  "*|www.example.org.|*|force-up",
	  "a service under the apex: lower case, with its trailing dot" },
	{ "/admin/force-up?service=example.org", NULL,
	  "*|example.org.|*|force-up", "the apex itself: made absolute" },
	{ "/admin/force-up?service=wwwexample.org", NULL,
	  "*|wwwexample.org|*|force-up",
	  "a name that only ends like the apex stays relative" },
	{ "/admin/force-down", "endpoint=us-2&region=us",
	  "us|*|us-2|force-down", "parameters from a form body" },
	{ "/admin/drain?region=eu", "service=api", "eu|api|*|drained",
	  "query string and form body together" },
	{ "/admin/drain?region=eu&endpoint=", NULL, "eu|*|*|drained",
	  "an empty parameter is NULL" },
};

static void test_admin(void)
{
	struct resp r = { 0 };
	int sets, reloads, before;
	char call[256];

	fake_set(true, false, false, 3);
	for (size_t i = 0; i < sizeof(admin_cases) / sizeof(admin_cases[0]);
	     i++) {
		fake_calls(&before, &reloads, call, sizeof(call));
		req(&r, "POST", admin_cases[i].path, admin_cases[i].form, NULL);
		fake_calls(&sets, &reloads, call, sizeof(call));
		if (!ok(r.code == 200 && sets == before + 1 &&
			!strcmp(call, admin_cases[i].call), admin_cases[i].what))
			printf("#   %ld, %d call(s), got %s\n", r.code,
			       sets - before, call);
	}
	req(&r, "POST", "/admin/drain?region=x", NULL, NULL);
	is_str(jtext(r.json, "matched", call, sizeof(call)), "3",
	       "admin: matched is the number the view answered");
	is_str(jtext(r.json, "admin", call, sizeof(call)), "\"drained\"",
	       "admin: the state set, by name");
	/* The rules the view now holds decide what /status shows: the
	 * last one matching www/us-2 is (us, *, us-2, force-down). */
	req(&r, "GET", "/status", NULL, NULL);
	is_str(jtext(r.json, W "1/admin", call, sizeof(call)),
	       "\"force-down\"",
	       "admin: /status shows the state the view now answers");

	fake_calls(&before, &reloads, call, sizeof(call));
	is_int(req(&r, "POST", "/admin/drain", NULL, NULL)->code, 400,
	       "admin: no parameters -> 400");
	is_str(jtext(r.json, "error", call, sizeof(call)),
	       "\"give region, service or endpoint\"",
	       "admin: the 400 says what to give");
	is_int(req(&r, "POST", "/admin/drain?region=&service=", NULL,
		   NULL)->code, 400, "admin: only empty parameters -> 400");
	is_int(req(&r, "POST", "/admin/drain?regio=x", NULL, NULL)->code, 400,
	       "admin: an unknown parameter -> 400");
	is_int(req(&r, "POST", "/admin/drain?region=x&region=y", NULL,
		   NULL)->code, 400, "admin: a repeated parameter -> 400");
	fake_calls(&sets, &reloads, call, sizeof(call));
	is_int(sets, before, "admin: a refused request never reaches the view");

	fake_set(true, false, false, -1);
	is_int(req(&r, "POST", "/admin/drain?region=x", NULL, NULL)->code, 409,
	       "admin: a full rule table -> 409");
	ok(r.json && strstr(json_string_value(json_object_get(r.json, "error")) ?
			    json_string_value(json_object_get(r.json, "error")) :
			    "", "too many admin rules"),
	   "admin: the 409 says the rule table is full");
	json_decref(r.json);
}

/* ---- refusals: Origin, token ---- */

static void test_origin(void)
{
	static const char *const origin[] = { "Origin: http://evil.example",
					      NULL };
	struct resp r = { 0 };
	int before, sets, reloads;
	char call[256];

	fake_set(true, false, false, 1);
	fake_calls(&before, &reloads, call, sizeof(call));
	is_int(req(&r, "POST", "/admin/drain?region=x", NULL, origin)->code,
	       403, "an Origin header (a web page) -> 403");
	is_int(req(&r, "GET", "/status", NULL, origin)->code, 403,
	       "an Origin header on a read -> 403 too");
	fake_calls(&sets, &reloads, call, sizeof(call));
	is_int(sets, before, "a refused web page's drain never reaches the view");
	json_decref(r.json);
}

static void test_token(struct control *c)
{
	static const char *const right[] = {
		"Authorization: Bearer s3cret", NULL };
	static const char *const wrong[] = {
		"Authorization: Bearer s3cres", NULL };
	struct resp r = { 0 };

	fake_set(true, false, false, 1);
	is_int(req(&r, "GET", "/status", NULL, NULL)->code, 401,
	       "token: /status without it -> 401");
	ok(!strncmp(r.auth, "Bearer", 6),
	   "token: the 401 names the Bearer scheme (WWW-Authenticate)");
	is_int(req(&r, "GET", "/status", NULL, wrong)->code, 401,
	       "token: a wrong token -> 401");
	is_int(req(&r, "POST", "/admin/drain?region=x", NULL, NULL)->code, 401,
	       "token: an admin action without it -> 401");
	is_int(req(&r, "GET", "/status", NULL, right)->code, 200,
	       "token: /status with Authorization: Bearer -> 200");
	is_int(req(&r, "POST", "/admin/drain?region=x", NULL, right)->code,
	       200, "token: an admin action with it -> 200");
	is_int(req(&r, "GET", "/readyz", NULL, NULL)->code, 200,
	       "token: /readyz needs none (Kubernetes probes)");
	ok(control_set_token(c, NULL) == 0,
	   "token: a reload may drop the token on loopback");
	is_int(req(&r, "GET", "/status", NULL, NULL)->code, 200,
	       "token: without a token again, /status needs none");
	json_decref(r.json);
}

/* ---- reload ---- */

static void test_reload(void)
{
	struct resp r = { 0 };
	int sets, reloads, before;
	char got[256];

	fake_set(true, false, true, 0);
	fake_calls(&sets, &before, got, sizeof(got));
	is_int(req(&r, "POST", "/reload", NULL, NULL)->code, 409,
	       "reload: the view's reload failing -> 409");
	is_str(jtext(r.json, "error", got, sizeof(got)),
	       "\"gslbd.yaml:3:7: unknown key 'zonee'\"",
	       "reload: the 409 carries the view's error text");
	is_str(jtext(r.json, "ok", got, sizeof(got)), "false",
	       "reload: ok false");
	fake_set(true, false, false, 0);
	is_int(req(&r, "POST", "/reload", NULL, NULL)->code, 200,
	       "reload: the view's reload succeeding -> 200");
	is_str(jtext(r.json, "ok", got, sizeof(got)), "true", "reload: ok true");
	is_int(req(&r, "GET", "/reload", NULL, NULL)->code, 405,
	       "reload: GET -> 405, nothing reloaded");
	fake_calls(&sets, &reloads, got, sizeof(got));
	is_int(reloads, before + 2, "reload: the view was asked twice");
	json_decref(r.json);
}

int main(void)
{
	struct control *open_api = NULL, *token_api = NULL;
	uint16_t open_port = 0, token_port = 0;
	struct event *stop = NULL;

	log_init(LOG_LVL_ERR, false);
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (!ok(fake_init() == 0, "the fake daemon's model and admin rules"))
		return tap_done();
	base = event_base_new();
	if (!ok(base && pipe(stop_pipe) == 0, "an event base"))
		return tap_done();
	stop = event_new(base, stop_pipe[0], EV_READ, on_stop, NULL);
	event_add(stop, NULL);
	open_api = start_api(NULL, &open_port);
	token_api = start_api("s3cret", &token_port);
	if (!ok(open_api && token_api, "two control APIs on 127.0.0.1") ||
	    !ok(pthread_create(&loop_thread, NULL, loop_main, NULL) == 0,
		"the API's loop runs in a second thread"))
		goto out;

	api_port = open_port;
	test_status();
	test_metrics();
	test_readyz();
	test_admin();
	test_origin();
	test_reload();
	api_port = token_port;
	test_token(token_api);

	if (write(stop_pipe[1], "x", 1) == 1)
		pthread_join(loop_thread, NULL);
out:
	control_free(open_api);
	control_free(token_api);
	event_free(stop);
	event_base_free(base);
	close(stop_pipe[0]);
	close(stop_pipe[1]);
	admin_free(F.admin);
	model_free(F.m);
	curl_global_cleanup();
	return tap_done();
}
