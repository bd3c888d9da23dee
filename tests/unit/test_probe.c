/* test_probe.c -- the probe manager on a real event loop against real
 * local servers: HTTP verdicts and reasons, TCP connects, HTTPS with a
 * self-signed certificate, coalesced change callbacks, fall/rise on a
 * target that dies and recovers, and probe_mgr_sync keeping, cancelling
 * and starting probes.  All traffic stays on 127.0.0.1 / ::1. */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>

#include "config/model.h"
#include "probes/probe.h"
#include "lib/log.h"
#include "tests/unit/tap.h"

#define SVC "probe.test."

enum port_id { P_HTTP, P_HTTP6, P_HANG, P_CLOSED, P_TLS, P_HOLE, P_COUNT };
static uint16_t ports[P_COUNT];
static struct event_base *base;
static bool toggle_up = true; /* what /toggle answers */
static bool hang_up = true;   /* false: /hang and /slow never answer */
static char tmpdir[64];
/* TEST_TIME_SCALE=N stretches every interval, timeout and wait N times,
 * for runs under valgrind. */
static int tscale = 1;
#define T(ms) ((ms) * tscale)

/* ---- local servers ---- */

static void http_reply(struct evhttp_request *req, int code, const char *body)
{
	struct evbuffer *b = evbuffer_new();

	if (b)
		evbuffer_add_printf(b, "%s", body);
	evhttp_send_reply(req, code, code == 200 ? "OK" : "Error", b);
	if (b)
		evbuffer_free(b);
}

/* /slow answers 150 ms late (a cross-region target). */
static void slow_reply(evutil_socket_t fd, short what, void *arg)
{
	http_reply(arg, 200, "slow\n");
}

static void http_handler(struct evhttp_request *req, void *arg)
{
	const char *uri = evhttp_request_get_uri(req);
	struct evkeyvalq *h = evhttp_request_get_input_headers(req);

	if ((strcmp(uri, "/hang") == 0 || strcmp(uri, "/slow") == 0) &&
	    !hang_up)
		return; /* black hole: the request is never answered (evhttp
			   frees it when the prober gives up) */
	if (strcmp(uri, "/hang") == 0)
		http_reply(req, 200, "fine\n");
	else if (strcmp(uri, "/slow") == 0) {
		struct timeval tv = { 0, T(150) * 1000 };
		event_base_once(base, -1, EV_TIMEOUT, slow_reply, req, &tv);
	} else if (strcmp(uri, "/ok") == 0)
		http_reply(req, 200, "fine\n");
	else if (strcmp(uri, "/fail") == 0)
		http_reply(req, 503, "sick\n");
	else if (strcmp(uri, "/body") == 0)
		http_reply(req, 200, "status: healthy\n");
	else if (strcmp(uri, "/toggle") == 0)
		http_reply(req, toggle_up ? 200 : 503, "t\n");
	else if (strcmp(uri, "/hdr") == 0) {
		const char *host = evhttp_find_header(h, "Host");
		const char *x = evhttp_find_header(h, "X-Probe");
		/* curl adds ":port" for a non-default port. */
		bool good = host && strncmp(host, "probe.test", 10) == 0 &&
			    (host[10] == '\0' || host[10] == ':') &&
			    x && strcmp(x, "gslbd") == 0;
		http_reply(req, good ? 200 : 400, "hdr\n");
	} else
		http_reply(req, 404, "no\n");
}

static uint16_t sock_port(int fd)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);

	if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0)
		return 0;
	if (ss.ss_family == AF_INET6)
		return ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
	return ntohs(((struct sockaddr_in *)&ss)->sin_port);
}

static uint16_t http_listen(struct evhttp *http, const char *addr)
{
	struct evhttp_bound_socket *bs;

	bs = evhttp_bind_socket_with_handle(http, addr, 0);

	return bs ? sock_port(evhttp_bound_socket_get_fd(bs)) : 0;
}

/* listen() but never accept: the kernel finishes the handshake, the
 * request is sent, no answer ever comes. */
static int hang_listen(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(fd, 16) < 0)
		return -1;
	ports[P_HANG] = sock_port(fd);
	return fd;
}

/* Bound but not listening: connects are refused, and nobody else can
 * take the port while we hold it. */
static int closed_port(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sin, sizeof(sin)) < 0)
		return -1;
	ports[P_CLOSED] = sock_port(fd);
	return fd;
}

static const char tls_server_py[] =
	"import http.server, os, ssl, sys\n"
	"class H(http.server.BaseHTTPRequestHandler):\n"
	"    def do_GET(self):\n"
	"        b = b'ok\\n'\n"
	"        self.send_response(200)\n"
	"        self.send_header('Content-Length', str(len(b)))\n"
	"        self.end_headers()\n"
	"        self.wfile.write(b)\n"
	"    def log_message(self, *a):\n"
	"        pass\n"
	"class S(http.server.ThreadingHTTPServer):\n"
	"    def handle_error(self, *a):\n"
	"        pass\n"
	"s = S(('127.0.0.1', 0), H)\n"
	"c = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)\n"
	"c.load_cert_chain(sys.argv[1], sys.argv[2])\n"
	"s.socket = c.wrap_socket(s.socket, server_side=True)\n"
	"os.write(1, b'%d\\n' % s.server_address[1])\n"
	"os.dup2(os.open(os.devnull, os.O_WRONLY), 1)\n"
	"s.serve_forever()\n";

/* Self-signed certificate for probe.test, and a python TLS server using
 * it.  The server writes its port in one write() and then lets go of the
 * pipe, so closing our end cannot kill it with EPIPE.  Returns the
 * child's pid, or -1 (HTTPS tests are then skipped). */
static pid_t tls_server_start(void)
{
	char cmd[512], cert[96], key[96], buf[16];
	struct pollfd pfd;
	int pipefd[2];
	ssize_t got;
	pid_t pid;

	snprintf(cert, sizeof(cert), "%s/cert.pem", tmpdir);
	snprintf(key, sizeof(key), "%s/key.pem", tmpdir);
	snprintf(cmd, sizeof(cmd),
		 "openssl req -x509 -newkey ec -pkeyopt "
		 "ec_paramgen_curve:prime256v1 -nodes -days 2 "
		 "-subj /CN=probe.test -addext subjectAltName=DNS:probe.test "
		 "-keyout %s -out %s >/dev/null 2>&1", key, cert);
	if (system(cmd) != 0)
		return -1;
	if (pipe(pipefd) < 0)
		return -1;
	pid = fork();
	if (pid < 0)
		return -1;
	if (pid == 0) {
		int null = open("/dev/null", O_WRONLY);
		dup2(pipefd[1], 1);
		if (null >= 0)
			dup2(null, 2);
		close(pipefd[0]);
		execlp("python3", "python3", "-c", tls_server_py, cert, key,
		       (char *)NULL);
		_exit(127);
	}
	close(pipefd[1]);
	pfd.fd = pipefd[0];
	pfd.events = POLLIN;
	/* Bounded: a python that does not come up within 10 s is a skip. */
	got = -1;
	if (poll(&pfd, 1, 10000) == 1)
		got = read(pipefd[0], buf, sizeof(buf) - 1);
	close(pipefd[0]);
	if (got <= 0) {
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		return -1;
	}
	buf[got] = '\0';
	ports[P_TLS] = (uint16_t)atoi(buf);
	printf("# tls server pid %d port %u\n", (int)pid, ports[P_TLS]);
	return pid;
}

/* ---- models by hand ---- */

struct ep_def {
	const char *name;
	const char *addr;
	enum probe_type type;
	enum port_id port;
	const char *path;
	const char *method;
	const char *body;
	uint16_t st_lo, st_hi;  /* 0: default 200-399 */
	const char *header;
	bool verify;
	bool ca;
	uint32_t timeout_ms;    /* 0: 400 */
	const char *host;       /* NULL: the service name */
};

static char *xstrdup(const char *s)
{
	char *d = s ? strdup(s) : NULL;

	if (s && !d)
		abort();
	return d;
}

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n, size);

	if (!p)
		abort();
	return p;
}

#define EP(n, a, t, p, ...) \
	{ .name = (n), .addr = (a), .type = (t), .port = (p), ##__VA_ARGS__ }

static struct model *model_build(const struct ep_def *defs, size_t n)
{
	struct model *m = xcalloc(1, sizeof(*m));
	struct model_service *s;

	m->svcs = xcalloc(1, sizeof(*m->svcs));
	m->nsvcs = 1;
	s = &m->svcs[0];
	s->name = xstrdup(SVC);
	s->eps = xcalloc(n, sizeof(*s->eps));
	s->neps = n;
	for (size_t i = 0; i < n; i++) {
		const struct ep_def *d = &defs[i];
		struct model_endpoint *e = &s->eps[i];
		struct probe_spec *ps = &e->probe;

		e->name = xstrdup(d->name);
		e->region = xstrdup(d->name);
		e->enabled = true;
		e->weight = e->priority = 1;
		e->addrs = xcalloc(1, sizeof(*e->addrs));
		e->naddrs = 1;
		if (model_addr_parse(&e->addrs[0], d->addr) < 0)
			abort();
		ps->type = d->type;
		ps->port = ports[d->port];
		ps->interval_ms = T(150);
		ps->fast_interval_ms = T(50);
		ps->jitter_ms = T(20);
		/* Generous: a loaded machine under ASan must not time out a probe
		 * of a server that answers; "hang" sets its own. */
		ps->timeout_ms = T(d->timeout_ms ? d->timeout_ms : 1500);
		ps->rise = 2;
		ps->fall = 2;
		ps->method = xstrdup(d->method ? d->method : "GET");
		ps->path = xstrdup(d->path ? d->path : "/ok");
		ps->body = xstrdup(d->body);
		ps->host = xstrdup(d->host);
		if (d->st_lo) {
			ps->status = xcalloc(1, sizeof(*ps->status));
			ps->status[0].lo = d->st_lo;
			ps->status[0].hi = d->st_hi;
			ps->nstatus = 1;
		}
		if (d->header) {
			ps->headers = xcalloc(1, sizeof(*ps->headers));
			ps->headers[0] = xstrdup(d->header);
			ps->nheaders = 1;
		}
		ps->tls_verify = d->verify;
		if (d->ca) {
			char path[96];
			snprintf(path, sizeof(path), "%s/cert.pem", tmpdir);
			ps->ca_file = xstrdup(path);
		}
	}
	model_targets_build(m);
	return m;
}

/* The manager the health helpers read; set by sync(). */
static struct probe_mgr *cur_pm;

static int sync_model(struct probe_mgr *pm, struct model *m)
{
	cur_pm = pm;
	probe_mgr_sync(pm, m->targets, m->ntargets);
	return 0;
}

/* What the manager says of a model address (a zeroed info when the
 * address has no target). */
static struct probe_info info_of(const struct model_addr *a)
{
	struct probe_info pi = { .health = HEALTH_UNKNOWN, .reason = "" };

	if (a->target)
		probe_mgr_info(cur_pm, a->target - 1, &pi);
	return pi;
}

static struct model_addr *addr_of(struct model *m, const char *ep)
{
	struct model_service *s = &m->svcs[0];

	for (size_t i = 0; i < s->neps; i++)
		if (strcmp(s->eps[i].name, ep) == 0)
			return &s->eps[i].addrs[0];
	return NULL;
}

/* ---- running the loop, bounded ---- */

typedef bool (*pred_fn)(void *arg);
struct waiter {
	pred_fn pred;
	void *arg;
	bool met;
};

static void wait_tick(evutil_socket_t fd, short what, void *arg)
{
	struct waiter *w = arg;

	if (w->pred(w->arg)) {
		w->met = true;
		event_base_loopbreak(base);
	}
}

static void wait_limit(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(base);
}

/* Run the loop until pred holds (checked every 10 ms) or ms pass. */
static bool run_until(pred_fn pred, void *arg, int ms)
{
	struct waiter w = { pred, arg, false };
	struct timeval tick = { 0, 10000 };
	struct timeval limit = { T(ms) / 1000, (T(ms) % 1000) * 1000 };
	struct event *ev = event_new(base, -1, EV_PERSIST, wait_tick, &w);
	/* An event of our own rather than event_base_loopexit(): a loopexit
	 * left pending when pred held early would cut the next wait short. */
	struct event *stop = evtimer_new(base, wait_limit, NULL);

	if (!ev || !stop)
		abort();
	if (pred(arg))
		w.met = true;
	else {
		event_add(ev, &tick);
		evtimer_add(stop, &limit);
		event_base_dispatch(base);
	}
	event_free(ev);
	event_free(stop);
	return w.met;
}

static bool never(void *arg)
{
	return false;
}

static void run_for(int ms)
{
	run_until(never, NULL, ms);
}

struct decided_arg {
	struct model *m;
	const char *skip; /* endpoint not waited for, or NULL */
};

static bool all_decided(void *arg)
{
	struct decided_arg *d = arg;
	struct model_service *s = &d->m->svcs[0];

	for (size_t i = 0; i < s->neps; i++) {
		if (s->eps[i].probe.type == PROBE_NONE)
			continue;
		if (d->skip && strcmp(s->eps[i].name, d->skip) == 0)
			continue;
		if (info_of(&s->eps[i].addrs[0]).health == HEALTH_UNKNOWN)
			return false;
	}
	return true;
}

struct health_arg {
	struct model_addr *a;
	uint8_t want;
};

static bool health_is(void *arg)
{
	struct health_arg *h = arg;

	return info_of(h->a).health == h->want;
}

static int changes;
static void on_change(void *arg)
{
	changes++;
}

static void check(struct model *m, const char *ep, uint8_t health,
		  const char *reason)
{
	struct probe_info pi = info_of(addr_of(m, ep));
	char what[128];

	snprintf(what, sizeof(what), "%s is %s", ep,
		 health == HEALTH_UP ? "up" :
		 health == HEALTH_DOWN ? "down" : "unknown");
	is_int(pi.health, health, what);
	if (reason) {
		size_t rl = strlen(reason);

		snprintf(what, sizeof(what), "%s reason", ep);
		/* A trailing '*' matches any rest (curl's TLS wording). */
		if (rl && reason[rl - 1] == '*') {
			bool same = strncmp(pi.reason, reason, rl - 1) == 0;
			if (!ok(same, what))
				printf("#   got \"%s\", want \"%s\"\n",
				       pi.reason, reason);
		} else {
			is_str(pi.reason, reason, what);
		}
	}
}

/* A host the test certificate (probe.test) does not cover. */
#define TLS_OTHER_HOST "a-name-the-certificate-does-not-cover.probe.test"

/* A TLS failure reason reaches probe_info whole: curl's message about a
 * certificate for another name ends with that name, far past 47
 * characters. */
static void check_long_tls_reason(struct model *m)
{
	struct probe_info pi = info_of(addr_of(m, "tls-host"));
	size_t n = strlen(pi.reason);

	is_int(pi.health, HEALTH_DOWN, "tls-host is down");
	is_int(probe_fail_classify(pi.reason), PROBE_FAIL_TLS,
	   "tls-host reason is a tls error");
	ok(strncmp(pi.reason, "tls error (host " TLS_OTHER_HOST "): ",
		   strlen(TLS_OTHER_HOST) + 18) == 0,
	   "tls-host reason names the host the certificate was checked for");
	if (!ok(n > 47 && strstr(pi.reason, TLS_OTHER_HOST "'"),
		"tls-host reason is whole, up to the name curl checked"))
		printf("#   got \"%s\" (%zu characters)\n", pi.reason, n);
}

/* ---- tests ---- */

static const struct ep_def first_defs[] = {
	EP("ok200", "127.0.0.1", PROBE_HTTP, P_HTTP, .path = "/ok"),
	EP("s503", "127.0.0.1", PROBE_HTTP, P_HTTP, .path = "/fail"),
	EP("range5xx", "127.0.0.1", PROBE_HTTP, P_HTTP,
	    .path = "/fail", .st_lo = 500, .st_hi = 599),
	EP("body-ok", "127.0.0.1", PROBE_HTTP, P_HTTP,
	    .path = "/body", .body = "healthy"),
	EP("body-bad", "127.0.0.1", PROBE_HTTP, P_HTTP,
	    .path = "/body", .body = "nope"),
	EP("head", "127.0.0.1", PROBE_HTTP, P_HTTP,
	    .path = "/ok", .method = "HEAD"),
	EP("hdr", "127.0.0.1", PROBE_HTTP, P_HTTP,
	    .path = "/hdr", .header = "X-Probe: gslbd"),
	EP("hang", "127.0.0.1", PROBE_HTTP, P_HANG,
	    .path = "/ok", .timeout_ms = 300),
	EP("hang-long", "127.0.0.1", PROBE_HTTP, P_HANG,
	    .path = "/ok", .timeout_ms = 20000),
	EP("http-refused", "127.0.0.1", PROBE_HTTP, P_CLOSED, .path = "/ok"),
	EP("tcp-ok", "127.0.0.1", PROBE_TCP, P_HTTP),
	EP("tcp-refused", "127.0.0.1", PROBE_TCP, P_CLOSED),
	EP("none", "127.0.0.1", PROBE_NONE, P_HTTP),
};

static const struct ep_def v6_defs[] = {
	EP("v6", "::1", PROBE_HTTP, P_HTTP6, .path = "/ok"),
};

static const struct ep_def tls_defs[] = {
	EP("tls-verify", "127.0.0.1", PROBE_HTTPS, P_TLS,
	    .path = "/", .verify = true),
	EP("tls-ca", "127.0.0.1", PROBE_HTTPS, P_TLS,
	    .path = "/", .verify = true, .ca = true),
	EP("tls-noverify", "127.0.0.1", PROBE_HTTPS, P_TLS, .path = "/"),
	/* A trusted certificate for another name: curl's message is long. */
	EP("tls-host", "127.0.0.1", PROBE_HTTPS, P_TLS, .path = "/",
	   .verify = true, .ca = true, .host = TLS_OTHER_HOST),
};

#define NTLS_DEFS (sizeof(tls_defs) / sizeof(tls_defs[0]))

static struct model *model_first(bool v6, bool tls)
{
	struct ep_def defs[32];
	size_t n = 0;

	memcpy(defs, first_defs, sizeof(first_defs));
	n = sizeof(first_defs) / sizeof(first_defs[0]);
	if (v6)
		defs[n++] = v6_defs[0];
	for (size_t i = 0; tls && i < NTLS_DEFS; i++)
		defs[n++] = tls_defs[i];
	return model_build(defs, n);
}

static void test_verdicts(struct probe_mgr *pm, struct model *m, bool v6,
			  bool tls)
{
	struct decided_arg d = { m, "hang-long" };
	struct probe_counters c;
	size_t probed = sizeof(first_defs) / sizeof(first_defs[0]) - 1 +
			(v6 ? 1 : 0) + (tls ? NTLS_DEFS : 0);

	ok(run_until(all_decided, &d, 5000), "every probe decided within 5 s");
	ok(!probe_mgr_first_round_done(pm),
	   "first round not done while one probe hangs");
	check(m, "ok200", HEALTH_UP, "status 200");
	check(m, "s503", HEALTH_DOWN, "status 503");
	check(m, "range5xx", HEALTH_UP, "status 503");
	check(m, "body-ok", HEALTH_UP, "status 200");
	check(m, "body-bad", HEALTH_DOWN, "body mismatch");
	check(m, "head", HEALTH_UP, "status 200");
	check(m, "hdr", HEALTH_UP, "status 200");
	check(m, "hang", HEALTH_DOWN, "timeout");
	check(m, "http-refused", HEALTH_DOWN, "refused");
	check(m, "tcp-ok", HEALTH_UP, "ok");
	check(m, "tcp-refused", HEALTH_DOWN, "refused");
	check(m, "none", HEALTH_UNKNOWN, "");
	ok(info_of(addr_of(m, "s503")).since > 0, "since set on transition");
	if (v6)
		check(m, "v6", HEALTH_UP, "status 200");
	else
		ok(1, "v6 # SKIP no ::1 on this host");
	if (tls) {
		check(m, "tls-verify", HEALTH_DOWN,
		      "tls error (host probe.test): *");
		check(m, "tls-ca", HEALTH_UP, "status 200");
		check(m, "tls-noverify", HEALTH_UP, "status 200");
		check_long_tls_reason(m);
	} else {
		/* tests/deps.sh installs both: a server that did not
		 * start is a failure, not a reason to skip HTTPS. */
		ok(0, "https: the TLS test server did not start (openssl "
		   "CLI and python3 needed)");
	}
	probe_mgr_counters(pm, &c);
	is_int(c.active, probed, "active counts probed addresses only");
	ok(c.attempts >= probed - 1, "attempts counted");
	ok(c.failures >= 5, "failures counted");
	ok(c.transitions >= probed - 1, "first verdicts are transitions");
	ok(changes >= 1 && (uint64_t)changes <= c.transitions,
	   "change callback ran, at most once per transition");

	/* Steady state: decided probes keep their verdict, nothing flaps. */
	uint64_t before = c.transitions, attempts = c.attempts;
	run_for(500);
	probe_mgr_counters(pm, &c);
	is_int(c.transitions, before, "no transitions in steady state");
	ok(c.attempts > attempts, "probes keep running");
}

/* A target dies and recovers: out after fall failures, back after rise
 * successes, one transition each way. */
static void test_fall_rise(struct probe_mgr *pm, struct model *m)
{
	struct model_addr *a = addr_of(m, "toggle");
	struct health_arg down = { a, HEALTH_DOWN }, up = { a, HEALTH_UP };
	struct probe_counters c0, c1;
	struct timespec t0, t1;
	long ms;

	ok(run_until(health_is, &up, 3000), "toggle starts up");
	probe_mgr_counters(pm, &c0);
	toggle_up = false;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok(run_until(health_is, &down, 3000), "dead target goes down");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	     (t1.tv_nsec - t0.tv_nsec) / 1000000;
	/* fall=2 at 150 ms (+20 jitter), fast-interval 50 ms: the second
	 * failure follows the first, which came within interval + jitter. */
	uint64_t fails = 0;
	const struct probe_stats *st = info_of(a).st;
	for (size_t i = 0; st && i < PROBE_FAIL_MAX; i++)
		fails += st->failures[i];
	ok(fails >= 2 && ms < T(1000),
	   "down after fall failures, not the first");
	printf("# detected down in %ld ms\n", ms);
	is_str(info_of(a).reason, "status 503", "down reason");
	toggle_up = true;
	ok(run_until(health_is, &up, 3000), "recovered target comes back");
	probe_mgr_counters(pm, &c1);
	is_int(c1.transitions - c0.transitions, 2, "one transition each way");
}

struct fail_arg {
	struct model_addr *a;
};

static bool failed_once(void *arg)
{
	struct probe_info pi = info_of(((struct fail_arg *)arg)->a);
	uint64_t f = 0;

	for (size_t i = 0; pi.st && i < PROBE_FAIL_MAX; i++)
		f += pi.st->failures[i];
	return f > 0;
}

/* A failed run of an up target is re-checked after fast-interval, not a
 * whole interval: interval 600 ms, fast-interval 60 ms. */
static void test_fast_recheck(void)
{
	static const struct ep_def defs[] = {
		EP("toggle", "127.0.0.1", PROBE_HTTP, P_HTTP, .path = "/toggle"),
	};
	struct model *m = model_build(defs, 1);
	struct probe_mgr *pm = probe_mgr_new(base, on_change, NULL);
	struct model_addr *a = addr_of(m, "toggle");
	struct health_arg down = { a, HEALTH_DOWN }, up = { a, HEALTH_UP };
	struct fail_arg fa = { a };
	struct timespec t0, t1;

	m->svcs[0].eps[0].probe.interval_ms = T(600);
	m->svcs[0].eps[0].probe.fast_interval_ms = T(60);
	m->svcs[0].eps[0].probe.jitter_ms = 0;
	model_targets_build(m);
	toggle_up = true;
	ok(pm && sync_model(pm, m) == 0 && run_until(health_is, &up, 3000),
	   "fast re-check: target up");
	toggle_up = false;
	ok(run_until(failed_once, &fa, 3000), "fast re-check: a run failed");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok(run_until(health_is, &down, 3000), "fast re-check: down");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 +
		  (t1.tv_nsec - t0.tv_nsec) / 1000000;
	printf("# second failure %ld ms after the first\n", ms);
	ok(ms < T(400), "the second failure came after fast-interval, not "
	   "after another interval");
	toggle_up = true;
	probe_mgr_free(pm);
	model_free(m);
}

struct attempts_arg {
	struct model_addr *a;
	uint64_t n;
};

static bool attempts_reach(void *arg)
{
	struct attempts_arg *x = arg;
	struct probe_info pi = info_of(x->a);

	return pi.st && pi.st->attempts >= x->n;
}

/* From the first failed verdict of a black-holed target to its down
 * transition, with the target at path (interval 600 ms, timeout 400 ms,
 * fast-interval 200 ms, fall 2); also its suspect runs. */
static long blackhole_gap(const char *path, uint64_t *suspects,
			  uint64_t *healthy_runs, uint64_t *healthy_suspects)
{
	struct ep_def defs[] = {
		EP("bh", "127.0.0.1", PROBE_HTTP, P_HTTP, .path = path,
		   .timeout_ms = 400),
	};
	struct model *m = model_build(defs, 1);
	struct probe_mgr *pm = probe_mgr_new(base, on_change, NULL);
	struct model_addr *a = addr_of(m, "bh");
	struct health_arg down = { a, HEALTH_DOWN }, up = { a, HEALTH_UP };
	struct attempts_arg five = { a, 5 };
	struct fail_arg fa = { a };
	struct timespec t0, t1;
	struct timespec h0, h1;

	m->svcs[0].eps[0].probe.interval_ms = T(600);
	m->svcs[0].eps[0].probe.fast_interval_ms = T(200);
	m->svcs[0].eps[0].probe.jitter_ms = 0;
	model_targets_build(m);
	hang_up = true;
	ok(pm && sync_model(pm, m) == 0 && run_until(health_is, &up, 3000),
	   "black hole: target up");
	/* Five healthy runs: the latency is known, and a healthy target is
	 * probed once per interval. */
	clock_gettime(CLOCK_MONOTONIC, &h0);
	ok(run_until(attempts_reach, &five, 6000), "black hole: five runs");
	clock_gettime(CLOCK_MONOTONIC, &h1);
	*healthy_runs = info_of(a).st->attempts;
	*healthy_suspects = info_of(a).st->suspects;
	printf("# %s: 5 healthy runs in %ld ms\n", path,
	       (long)((h1.tv_sec - h0.tv_sec) * 1000 +
		      (h1.tv_nsec - h0.tv_nsec) / 1000000));
	hang_up = false;
	ok(run_until(failed_once, &fa, 3000), "black hole: a run failed");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok(run_until(health_is, &down, 3000), "black hole: down");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	is_str(info_of(a).reason, "timeout", "black hole: reason timeout");
	*suspects = info_of(a).st->suspects;
	hang_up = true;
	probe_mgr_free(pm);
	model_free(m);
	return (t1.tv_sec - t0.tv_sec) * 1000 +
	       (t1.tv_nsec - t0.tv_nsec) / 1000000;
}

/* A run of an up target unanswered past its usual latency starts a
 * suspect re-check beside it, so the two timeouts of fall 2 overlap; a
 * slow-but-healthy target (150 ms, more than fast-interval / 2) is never
 * probed twice and keeps the two timeouts in a row. */
static void test_suspect(void)
{
	uint64_t sus, runs, hsus;
	long ms = blackhole_gap("/hang", &sus, &runs, &hsus);

	printf("# quick target: down %ld ms after the first timeout, "
	       "%llu suspect runs\n", ms, (unsigned long long)sus);
	ok(ms < T(200), "suspect: the second timeout overlapped the first");
	ok(sus >= 1, "suspect: a suspect run was started");
	is_int(hsus, 0, "suspect: none while the quick target was healthy");
	is_int(runs, 5, "suspect: healthy quick target, one run per interval");

	ms = blackhole_gap("/slow", &sus, &runs, &hsus);
	printf("# slow target: down %ld ms after the first timeout, "
	       "%llu suspect runs\n", ms, (unsigned long long)sus);
	ok(ms >= T(350), "suspect: a slow target waits out a second timeout");
	is_int(sus, 0, "suspect: never for a target slower than "
	       "fast-interval / 2");
	is_int(runs, 5, "suspect: healthy slow target, one run per interval");
}

/* A nonblocking connect to 127.0.0.1:port, left in flight. */
static int connect_nowait(uint16_t port)
{
	struct sockaddr_in sin = { .sin_family = AF_INET,
				   .sin_port = htons(port) };
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0)
		(void)connect(fd, (struct sockaddr *)&sin, sizeof(sin));
	return fd;
}

/* A TCP target whose SYNs start being dropped (its listen backlog shrunk
 * to 0 and full: connect never completes) goes down a suspect delay
 * after its first timeout, as an HTTP one does. */
static void test_suspect_tcp(void)
{
	static const struct ep_def defs[] = {
		EP("tcp-bh", "127.0.0.1", PROBE_TCP, P_HOLE, .timeout_ms = 400),
	};
	struct sockaddr_in sin = { .sin_family = AF_INET };
	int lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int fill[2];

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (lfd < 0 || bind(lfd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    listen(lfd, 128) < 0)
		abort();
	ports[P_HOLE] = sock_port(lfd);
	struct model *m = model_build(defs, 1);
	struct probe_mgr *pm = probe_mgr_new(base, on_change, NULL);
	struct model_addr *a = addr_of(m, "tcp-bh");
	struct health_arg down = { a, HEALTH_DOWN }, up = { a, HEALTH_UP };
	struct attempts_arg five = { a, 5 };
	struct fail_arg fa = { a };
	struct timespec t0, t1;

	m->svcs[0].eps[0].probe.interval_ms = T(600);
	m->svcs[0].eps[0].probe.fast_interval_ms = T(200);
	m->svcs[0].eps[0].probe.jitter_ms = 0;
	model_targets_build(m);
	ok(pm && sync_model(pm, m) == 0 && run_until(health_is, &up, 3000) &&
	   run_until(attempts_reach, &five, 6000), "tcp black hole: target up");
	/* Never accepted, the probes' connections fill the queue; a backlog
	 * of 0 is then full, and two connects of ours make sure of it. */
	listen(lfd, 0);
	fill[0] = connect_nowait(ports[P_HOLE]);
	fill[1] = connect_nowait(ports[P_HOLE]);
	ok(run_until(failed_once, &fa, 3000), "tcp black hole: a run failed");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ok(run_until(health_is, &down, 3000), "tcp black hole: down");
	clock_gettime(CLOCK_MONOTONIC, &t1);
	long ms = (t1.tv_sec - t0.tv_sec) * 1000 +
		  (t1.tv_nsec - t0.tv_nsec) / 1000000;
	printf("# tcp black hole: down %ld ms after the first timeout, %llu "
	       "suspect runs\n", ms,
	       (unsigned long long)info_of(a).st->suspects);
	is_str(info_of(a).reason, "timeout", "tcp black hole: reason timeout");
	ok(ms < T(200), "tcp black hole: the second timeout overlapped");
	ok(info_of(a).st->suspects >= 1, "tcp black hole: a suspect run");
	probe_mgr_free(pm);
	model_free(m);
	close(fill[0]);
	close(fill[1]);
	close(lfd);
}

static void flip_hang(evutil_socket_t fd, short what, void *arg)
{
	hang_up = !hang_up;
}

/* A target that black-holes and answers by turns, every 120 ms, with
 * interval 400 ms and fall 2: its suspect re-checks add verdicts, never
 * changes beyond the pace of one per interval x fall (after the first
 * outage and recovery, which go through at once). */
static void test_suspect_flapping(void)
{
	static const struct ep_def defs[] = {
		EP("flap", "127.0.0.1", PROBE_HTTP, P_HTTP, .path = "/hang",
		   .timeout_ms = 300),
	};
	struct model *m = model_build(defs, 1);
	struct probe_mgr *pm = probe_mgr_new(base, on_change, NULL);
	struct model_addr *a = addr_of(m, "flap");
	struct health_arg up = { a, HEALTH_UP };
	struct attempts_arg four = { a, 4 };
	struct probe_counters c0, c1;
	struct timeval every = { 0, T(120) * 1000 };
	struct event *flip = event_new(base, -1, EV_PERSIST, flip_hang, NULL);

	m->svcs[0].eps[0].probe.interval_ms = T(400);
	m->svcs[0].eps[0].probe.fast_interval_ms = T(200);
	m->svcs[0].eps[0].probe.jitter_ms = 0;
	if (!flip)
		abort();
	model_targets_build(m);
	hang_up = true;
	ok(pm && sync_model(pm, m) == 0 && run_until(health_is, &up, 3000) &&
	   run_until(attempts_reach, &four, 5000), "flapping: target up");
	probe_mgr_counters(pm, &c0);
	event_add(flip, &every);
	run_for(6000);
	event_free(flip);
	probe_mgr_counters(pm, &c1);
	uint64_t n = c1.transitions - c0.transitions;
	printf("# flapping 6 s: %llu changes, %llu suspect runs, %llu runs\n",
	       (unsigned long long)n,
	       (unsigned long long)(c1.suspects - c0.suspects),
	       (unsigned long long)(c1.attempts - c0.attempts));
	ok(c1.suspects > c0.suspects, "flapping: suspect runs happened");
	ok(n <= 2 + 6000 / 800 + 1, "flapping: at most one change per "
	   "interval x fall after the first two");
	hang_up = true;
	probe_mgr_free(pm);
	model_free(m);
}

static const struct ep_def toggle_defs[] = {
	EP("toggle", "127.0.0.1", PROBE_HTTP, P_HTTP, .path = "/toggle"),
};

/* Several transitions in one loop iteration give one callback. */
static void test_coalesce(void)
{
	static const struct ep_def defs[] = {
		/* Four targets: the same port, other timeouts. */
		EP("r1", "127.0.0.1", PROBE_TCP, P_CLOSED, .timeout_ms = 400),
		EP("r2", "127.0.0.1", PROBE_TCP, P_CLOSED, .timeout_ms = 401),
		EP("r3", "127.0.0.1", PROBE_TCP, P_CLOSED, .timeout_ms = 402),
		EP("r4", "127.0.0.1", PROBE_TCP, P_CLOSED, .timeout_ms = 403),
	};
	struct model *m = model_build(defs, 4);
	struct probe_mgr *pm = probe_mgr_new(base, on_change, NULL);
	struct decided_arg d = { m, NULL };
	struct probe_counters c;

	for (size_t i = 0; i < m->svcs[0].neps; i++)
		m->svcs[0].eps[i].probe.jitter_ms = 0;
	/* Targets copy the settings: make them again. */
	model_targets_build(m);
	changes = 0;
	ok(pm && sync_model(pm, m) == 0, "coalesce: manager up");
	ok(run_until(all_decided, &d, 2000), "coalesce: all decided");
	run_for(20);
	probe_mgr_counters(pm, &c);
	is_int(c.transitions, 4, "coalesce: four transitions");
	is_int(changes, 1, "coalesce: one change callback");
	ok(probe_mgr_first_round_done(pm), "coalesce: first round done");
	probe_mgr_free(pm);
	model_free(m);
}

/* probe_mgr_sync: survivors keep state, changed/new ones start over,
 * removed ones (one with a transfer in flight) are cancelled. */
/* ---- per-probe counters (metrics) ---- */

struct stats_seen {
	size_t n, consistent;
	uint64_t fail[PROBE_FAIL_MAX];
	uint64_t attempts;
	bool s503_status, refused, timeout, body;
};

static void stats_visit(const struct probe_info *pi, void *arg)
{
	struct stats_seen *ss = arg;
	const struct probe_stats *st = pi->st;
	uint64_t b = 0, f = 0;

	ss->n++;
	ss->attempts += st->attempts;
	for (size_t i = 0; i <= PROBE_LAT_BUCKETS; i++)
		b += st->lat_bucket[i];
	for (size_t i = 0; i < PROBE_FAIL_MAX; i++) {
		f += st->failures[i];
		ss->fail[i] += st->failures[i];
	}
	/* One verdict per finished run; at most two runs in flight (a
	 * suspect re-check beside a slow one), and a suspect pair that ends
	 * on the first success leaves the other run without a verdict. */
	if (b == st->lat_count && f <= st->lat_count &&
	    st->attempts >= st->lat_count &&
	    st->attempts <= st->lat_count + st->suspects + 2 &&
	    pi->address && pi->spec &&
	    pi->port && (pi->spec->type == PROBE_TCP) == !pi->host)
		ss->consistent++;
	/* Targets are told apart by what they probe. */
	const struct probe_spec *ps = pi->spec;
	if (ps->path && !strcmp(ps->path, "/fail") && !ps->nstatus)
		ss->s503_status = st->failures[PROBE_FAIL_STATUS] > 0;
	if (ps->type == PROBE_TCP && ps->port == ports[P_CLOSED])
		ss->refused = st->failures[PROBE_FAIL_REFUSED] > 0;
	if (ps->port == ports[P_HANG] && ps->timeout_ms == (uint32_t)T(300))
		ss->timeout = st->failures[PROBE_FAIL_TIMEOUT] > 0;
	if (ps->body && !strcmp(ps->body, "nope"))
		ss->body = st->failures[PROBE_FAIL_BODY] > 0;
}

static void test_stats(struct probe_mgr *pm)
{
	struct stats_seen ss = { 0 };
	struct probe_counters c;

	probe_mgr_counters(pm, &c);
	probe_mgr_foreach(pm, stats_visit, &ss);
	is_int(ss.n, c.active, "foreach visits every probe");
	is_int(ss.consistent, ss.n, "per-probe counters are consistent");
	is_int(ss.attempts, c.attempts, "per-probe attempts add up");
	bool same = true;
	for (size_t i = 0; i < PROBE_FAIL_MAX; i++)
		same &= ss.fail[i] == c.fail_class[i];
	ok(same, "the manager's failures by class are the probes' sums");
	ok(ss.s503_status, "a 503 counts as a status failure");
	ok(ss.refused, "a refused connect counts as refused");
	ok(ss.timeout, "a hung server counts as a timeout");
	ok(ss.body, "a body mismatch counts as body");
	is_int(probe_fail_classify("tls error: x"), PROBE_FAIL_TLS,
	       "tls errors classify as tls");
	is_int(probe_fail_classify("unreachable"), PROBE_FAIL_CONNECT,
	       "unreachable classifies as connect");
	is_int(probe_fail_classify("local error"), PROBE_FAIL_OTHER,
	       "anything else is other");
	is_str(probe_fail_class_name(PROBE_FAIL_CONNECT), "connect",
	       "class names");
}

static void test_sync(struct probe_mgr *pm, struct model *old)
{
	static const struct ep_def defs[] = {
		EP("ok200", "127.0.0.1", PROBE_HTTP, P_HTTP, .path = "/ok"),
		/* Changed settings: a new target, even under an old name. */
		EP("body-bad", "127.0.0.1", PROBE_HTTP, P_HTTP,
		    .path = "/body", .body = "health"),
		EP("tcp-refused", "127.0.0.1", PROBE_TCP, P_CLOSED),
		EP("brand-new", "127.0.0.1", PROBE_HTTP, P_HTTP, .path = "/ok",
		    .timeout_ms = 350),
		/* The same target as an old one under a new name: shared. */
		EP("body-twin", "127.0.0.1", PROBE_HTTP, P_HTTP,
		    .path = "/body", .body = "healthy"),
		EP("now-none", "127.0.0.1", PROBE_NONE, P_HTTP),
	};
	struct model *m = model_build(defs, 6);
	struct decided_arg d = { m, NULL };
	struct probe_counters c;
	int64_t since = info_of(addr_of(old, "tcp-refused")).since;

	ok(sync_model(pm, m) == 0, "sync to a changed model");
	/* The old model goes at once: the manager must not touch it again. */
	model_free(old);
	probe_mgr_counters(pm, &c);
	is_int(c.active, 5, "sync: active follows the new model");
	check(m, "body-twin", HEALTH_UP, "status 200");
	check(m, "ok200", HEALTH_UP, "status 200");
	check(m, "tcp-refused", HEALTH_DOWN, "refused");
	is_int(info_of(addr_of(m, "tcp-refused")).since, since,
	       "sync: since carried");
	check(m, "body-bad", HEALTH_UNKNOWN, "");
	check(m, "brand-new", HEALTH_UNKNOWN, "");
	ok(run_until(all_decided, &d, 3000), "sync: new probes decide");
	check(m, "body-bad", HEALTH_UP, "status 200");
	check(m, "brand-new", HEALTH_UP, "status 200");
	check(m, "now-none", HEALTH_UNKNOWN, "");
	ok(probe_mgr_first_round_done(pm), "sync: first round done");

	/* Syncing the same model again changes nothing. */
	probe_mgr_counters(pm, &c);
	uint64_t tr = c.transitions;
	ok(sync_model(pm, m) == 0, "sync to the same model");
	check(m, "ok200", HEALTH_UP, "status 200");
	run_for(300);
	probe_mgr_counters(pm, &c);
	is_int(c.transitions, tr, "resync: no transitions");

	/* An empty model cancels everything. */
	struct model *empty = xcalloc(1, sizeof(*empty));
	ok(sync_model(pm, empty) == 0, "sync to an empty model");
	model_free(m);
	probe_mgr_counters(pm, &c);
	is_int(c.active, 0, "empty: nothing active");
	ok(probe_mgr_first_round_done(pm), "empty: first round trivially done");
	run_for(200);
	model_free(empty);
}

int main(void)
{
	struct evhttp *http;
	struct probe_mgr *pm;
	struct model *m, *mt;
	int hang_fd, closed_fd;
	pid_t tls_pid = -1;
	bool v6;

	if (getenv("TEST_TIME_SCALE"))
		tscale = atoi(getenv("TEST_TIME_SCALE")) > 0 ?
			 atoi(getenv("TEST_TIME_SCALE")) : 1;
	signal(SIGPIPE, SIG_IGN);
	log_init(LOG_LVL_INFO, false);
	base = event_base_new();
	http = base ? evhttp_new(base) : NULL;
	if (!http)
		abort();
	evhttp_set_gencb(http, http_handler, NULL);
	ports[P_HTTP] = http_listen(http, "127.0.0.1");
	ports[P_HTTP6] = http_listen(http, "::1");
	v6 = ports[P_HTTP6] != 0;
	hang_fd = hang_listen();
	closed_fd = closed_port();
	ok(ports[P_HTTP] && hang_fd >= 0 && closed_fd >= 0, "local servers up");

	snprintf(tmpdir, sizeof(tmpdir), "/tmp/gslbd-probe-XXXXXX");
	if (mkdtemp(tmpdir))
		tls_pid = tls_server_start();

	pm = probe_mgr_new(base, on_change, NULL);
	ok(pm != NULL, "manager created");
	m = model_first(v6, tls_pid > 0);
	ok(sync_model(pm, m) == 0, "first sync");
	test_verdicts(pm, m, v6, tls_pid > 0);
	test_stats(pm);
	test_sync(pm, m); /* frees m */
	probe_mgr_free(pm);

	pm = probe_mgr_new(base, on_change, NULL);
	mt = model_build(toggle_defs, 1);
	ok(sync_model(pm, mt) == 0, "toggle sync");
	test_fall_rise(pm, mt);
	/* Free the manager with probes possibly in flight. */
	probe_mgr_free(pm);
	model_free(mt);

	test_coalesce();
	test_fast_recheck();
	test_suspect();
	test_suspect_flapping();
	test_suspect_tcp();

	if (tls_pid > 0) {
		kill(tls_pid, SIGTERM);
		waitpid(tls_pid, NULL, 0);
	}
	if (tmpdir[0]) {
		char p[96];
		snprintf(p, sizeof(p), "%s/cert.pem", tmpdir);
		unlink(p);
		snprintf(p, sizeof(p), "%s/key.pem", tmpdir);
		unlink(p);
		rmdir(tmpdir);
	}
	close(hang_fd);
	close(closed_fd);
	evhttp_free(http);
	event_base_free(base);
	return tap_done();
}
