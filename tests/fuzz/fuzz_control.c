/*
 * fuzz_control.c -- libFuzzer target for the control API request path:
 * any bytes as an HTTP request (method, path, query string, headers,
 * body) through evhttp's parser and the real handlers of control.c
 * (routing, Host and Origin guards, bearer token, admin parameters,
 * /status, /metrics, reload), against a small model behind a status view
 * of the fuzzer's making.  The API listens on 127.0.0.1 and the request
 * goes over a loopback connection, the only way evhttp takes one.
 *
 * Input: byte 0 bit 0 = a token is required; the rest is the request
 * (an end of headers is appended when it has none).  Besides crashes and
 * sanitizer reports, a failure is: a response that is not HTTP, or one
 * with status 200 to anything but /healthz or /readyz while a token that
 * no input can contain is required.  The Host guard
 * (control_host_allowed) gets the request bytes as a Host too.
 *
 * Build: ./configure CC=clang --enable-fuzzers --enable-sanitizers
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "config/admin.h"
#include "config/cfg.h"
#include "config/model.h"
#include "control/control.h"
#include "control/status.h"
#include "lib/log.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Printable, and made of characters a token may have but in an order no
 * mutation of the seeds is likely to produce. */
#define TOKEN "Zq9-fuzz-token-never-guessed-7f3c"

static const char model_yaml[] =
	"zone:\n"
	"  name: example.org\n"
	"  nameservers:\n"
	"    - name: ns1.example.net.\n"
	"probe-defaults:\n"
	"  type: none\n"
	"services:\n"
	"  - name: www\n"
	"    endpoints:\n"
	"      - { region: eu, addresses: [192.0.2.1] }\n"
	"      - { region: us, name: us-2, addresses: [\"2001:db8::1\"] }\n";

static struct model *M;
static struct admin *A;
static struct event_base *base;
static struct control *api;
static struct sockaddr_in where;
static int reloads;

static const struct model *fv_model(void *arg) { return M; }
static void fv_stats(void *arg, struct status_stats *st)
{
	memset(st, 0, sizeof(*st));
}
static void fv_queries(void *arg, struct answer_stats *st)
{
	memset(st, 0, sizeof(*st));
}
static bool fv_ready(void *arg) { return true; }
static void fv_counters(void *arg, struct probe_counters *c)
{
	memset(c, 0, sizeof(*c));
}
static bool fv_target(void *arg, uint32_t t, struct probe_info *pi)
{
	return false;
}
static bool fv_kube(void *arg, struct kube_status *ks) { return false; }
static const struct admin_rule *fv_rules(void *arg, size_t *n)
{
	return admin_rules(A, n);
}
static enum model_admin fv_admin_of(void *arg, const struct model_service *s,
				    const struct model_endpoint *e)
{
	return admin_of(A, M->zone.apex, s, e);
}
static int fv_set_admin(void *arg, const char *region, const char *service,
			const char *endpoint, enum model_admin a)
{
	/* Rules would pile up over millions of runs: start afresh. */
	admin_free(A);
	A = admin_new();
	admin_set(A, region, service, endpoint, a);
	return 1;
}
static int fv_reload(void *arg, char *err, size_t errlen)
{
	if (++reloads % 2)
		return 0;
	snprintf(err, errlen, "fuzz: a reload that fails");
	return -1;
}

static const struct status_view view = {
	.model = fv_model, .stats = fv_stats, .queries = fv_queries,
	.ready = fv_ready, .probe_counters = fv_counters,
	.target = fv_target, .kube = fv_kube, .rules = fv_rules,
	.admin_of = fv_admin_of, .set_admin = fv_set_admin,
	.reload = fv_reload,
};

static void quiet(void *arg, const char *line) { }

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct model_control conf = { .enabled = true };
	socklen_t len = sizeof(where);
	char err[256];
	int fd;

	log_init(LOG_LVL_ERR, false);
	M = cfg_load_string("fuzz.yaml", model_yaml, quiet, NULL);
	if (!M || !(base = event_base_new()))
		abort();
	model_targets_build(M);
	A = admin_new();
	/* A free port, then the API on it (it binds with SO_REUSEADDR). */
	where.sin_family = AF_INET;
	where.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&where, sizeof(where)) ||
	    getsockname(fd, (struct sockaddr *)&where, &len))
		abort();
	close(fd);
	memcpy(&conf.listen.ss, &where, sizeof(where));
	conf.listen.sslen = sizeof(where);
	conf.max_connections = 4;
	conf.request_ms = 2000;
	if (!(api = control_new(base, &view, &conf, err, sizeof(err)))) {
		fprintf(stderr, "control_new: %s\n", err);
		abort();
	}
	return 0;
}

/* Run the loop and read the response until the server closes, or until
 * nothing more happens for a while (a partial request, a kept-alive
 * connection).  Returns the bytes read (at most cap). */
static size_t exchange(int fd, char *resp, size_t cap)
{
	size_t got = 0;
	int quiet_turns = 0;

	while (quiet_turns < 20) {
		event_base_loop(base, EVLOOP_NONBLOCK);
		ssize_t r = recv(fd, resp + got, cap - got, MSG_DONTWAIT);
		if (r > 0) {
			got += (size_t)r;
			quiet_turns = 0;
			if (got == cap)
				break;
		} else if (r == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
			break;
		} else {
			quiet_turns++;
		}
	}
	return got;
}

static void check_response(const char *resp, size_t n, bool token)
{
	/* evhttp echoes the request's version, whatever digits it had. */
	const char *sp = n ? memchr(resp, ' ', n < 16 ? n : 16) : NULL;
	if (n && (n < 12 || memcmp(resp, "HTTP/", 5) || !sp ||
		  (size_t)(sp - resp) + 4 > n))
		abort();
	if (!token || !n || memcmp(sp + 1, "200", 3))
		return;
	/* Without the token, only the open routes answer 200. */
	const char *body = memmem(resp, n, "\r\n\r\n", 4);
	if (!body)
		return; /* headers cut by the read cap */
	body += 4;
	size_t blen = n - (size_t)(body - resp);
	if (!(blen >= 3 && !memcmp(body, "ok\n", 3)) &&
	    !(blen >= 6 && !memcmp(body, "ready\n", 6)) && blen)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char resp[1 << 16];
	char host[512];

	if (size < 1 || size > 9000)
		return 0;
	bool token = data[0] & 1;
	const char *req = (const char *)data + 1;
	size_t rlen = size - 1;

	/* The Host guard on its own, with and without a listen address. */
	size_t hl = rlen < sizeof(host) - 1 ? rlen : sizeof(host) - 1;
	memcpy(host, req, hl);
	host[hl] = '\0';
	control_host_allowed(host, NULL);
	control_host_allowed(host, (const struct sockaddr *)&where);

	if (control_set_token(api, token ? TOKEN : NULL) < 0)
		abort();
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		abort();
	if (connect(fd, (struct sockaddr *)&where, sizeof(where)) < 0) {
		close(fd);
		return 0;
	}
	ssize_t w = send(fd, req, rlen, MSG_NOSIGNAL);
	if (w == (ssize_t)rlen && !memmem(req, rlen, "\r\n\r\n", 4))
		send(fd, "\r\n\r\n", 4, MSG_NOSIGNAL);
	size_t n = exchange(fd, resp, sizeof(resp));
	close(fd);
	/* Let the server see the close and free the connection. */
	for (int i = 0; i < 5; i++)
		event_base_loop(base, EVLOOP_NONBLOCK);
	check_response(resp, n, token);
	return 0;
}
