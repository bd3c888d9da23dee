/* control.c -- see control.h.
 *
 * One evhttp server on the control thread's event base.  Every handler
 * runs on that thread and only reads or calls into the daemon through
 * the status view (status.h), so nothing here needs a lock, and nothing
 * blocks: responses are built in memory and handed to evhttp, except
 * /status and a /metrics with per-target series, which are written a
 * slice per turn of the loop as the client takes them (control_scrape).
 *
 * Endpoints:
 *   GET  /metrics       Prometheus text format 0.0.4
 *   GET  /status        JSON: services, endpoints, probe targets, admin rules
 *   GET  /healthz       200 "ok" while the process runs (no token needed)
 *   GET  /readyz        200 once ready (status.h), else 503
 *   POST /admin/drain, /admin/undrain, /admin/force-up, /admin/force-down
 *                       region=, service=, endpoint= (query or form body)
 *   POST /reload        as SIGHUP
 */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/queue.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/http.h>
#include <event2/keyvalq_struct.h>
#include <event2/listener.h>
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include "config/model.h"
#include "control/control.h"
#include "control/metrics.h"
#include "control/status.h"
#include "control/statusdoc.h"
#include "lib/acceptguard.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "probes/health.h"
#include "server/snap.h"
#include "server/zonedump.h"

/* Requests are tiny: a few parameters at most.  Bound what a client
 * can make us buffer. */
#define CONTROL_MAX_HEADERS 8192
#define CONTROL_MAX_BODY    4096
#define CONTROL_TIMEOUT_S   10
#define CONTROL_BACKLOG     64

struct control_scrape;
struct control_conn;

struct control {
	struct status_view v;
	struct evhttp *http;
	struct metrics_totals totals; /* the probe totals as last shown */
	LIST_HEAD(, control_scrape) scrapes; /* streamed /metrics going on */
	LIST_HEAD(, control_conn) conns;     /* every open connection */
	struct evconnlistener *lev;
	struct acceptguard *guard;
	unsigned nconns, max_conns;
	uint32_t request_ms;
	unsigned long long cap_hits; /* times at the cap since last logged */
	time_t cap_logged;
	bool public;     /* listening on a non-loopback address */
	struct model_listen listen; /* its address: a Host allowed too */
	bool have_token;
	/* SHA-256 of the token: comparing digests takes the same time
	 * whatever the length or content of what a client sends. */
	unsigned char token_md[32];
};

/* ---- small helpers ---- */

static int control_digest(const char *s, size_t len, unsigned char md[32])
{
	unsigned int mdlen = 0;

	if (!EVP_Digest(s, len, md, &mdlen, EVP_sha256(), NULL) ||
	    mdlen != 32)
		return -1;
	return 0;
}

/* libevent writes at most 16 KiB per loop turn by default: a /status of
 * 10,000 addresses (megabytes) would then need hundreds of turns of a
 * loop busy with their probes, and could outlast the connection timeout. */
#define CONTROL_MAX_WRITE (4u << 20)

/* evhttp 2.1 sends a HEAD response's body too: leave it out here. */
static void control_send(struct evhttp_request *req, int code,
			 const char *reason, struct evbuffer *b)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct bufferevent *bev = conn ?
		evhttp_connection_get_bufferevent(conn) : NULL;

	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD)
		evbuffer_drain(b, evbuffer_get_length(b));
	if (bev && evbuffer_get_length(b) > CONTROL_MAX_WRITE / 4)
		bufferevent_set_max_single_write(bev, CONTROL_MAX_WRITE);
	evhttp_send_reply(req, code, reason, b);
}

static void control_reply(struct evhttp_request *req, int code,
			  const char *reason, const char *ctype,
			  const char *body, size_t len)
{
	struct evkeyvalq *h = evhttp_request_get_output_headers(req);
	struct evbuffer *b = evbuffer_new();

	evhttp_add_header(h, "Content-Type", ctype);
	evhttp_add_header(h, "Cache-Control", "no-store");
	evbuffer_add(b, body, len);
	control_send(req, code, reason, b);
	evbuffer_free(b);
}

static void control_text(struct evhttp_request *req, int code,
			 const char *reason, const char *text)
{
	control_reply(req, code, reason, "text/plain; charset=utf-8", text,
		      strlen(text));
}

/* Send j (consumed) as the response, or 500 when it could not be built
 * (a jb marked bad: see below). */
static void control_json(struct evhttp_request *req, int code,
			 const char *reason, json_t *j)
{
	char *s = j ? json_dumps(j, JSON_INDENT(1) | JSON_PRESERVE_ORDER) :
		  NULL;

	json_decref(j);
	if (!s) {
		control_text(req, HTTP_INTERNAL, "Internal Server Error",
			     "cannot encode the answer\n");
		return;
	}
	size_t len = strlen(s);
	/* A trailing newline: friendlier for curl on a terminal. */
	s = xrealloc(s, len + 2);
	s[len++] = '\n';
	s[len] = '\0';
	control_reply(req, code, reason, "application/json", s, len);
	free(s);
}

/* {"error": msg} with the given status. */
static void control_error(struct evhttp_request *req, int code,
			  const char *reason, const char *msg)
{
	control_json(req, code, reason, json_pack("{s:s}", "error", msg));
}

/* ---- connections: a cap and a deadline ---- */

/* evhttp restarts its timeout on every byte, so a client that trickles a
 * header line every few seconds holds its connection for ever, and it
 * has no cap on connections.  Each connection evhttp accepts gets one of
 * these, with an absolute deadline, and counts against the cap. */
struct control_conn {
	LIST_ENTRY(control_conn) link;
	struct control *c;
	struct bufferevent *bev;
	struct evhttp_connection *evcon; /* NULL until adopted */
	struct event *deadline;          /* first: adopt, then: deadline */
	struct control_scrape *scrape;   /* a streamed /metrics on it */
	/* A POST /reload waiting for DNSSEC signing to finish (no
	 * deadline meanwhile: the wait is ours, not the client's). */
	struct evhttp_request *reload;
};

static void control_scrape_closed(struct evhttp_connection *conn, void *arg);

static void control_conn_arm(struct control_conn *cc)
{
	struct timeval tv = { cc->c->request_ms / 1000,
			      (cc->c->request_ms % 1000) * 1000 };
	evtimer_add(cc->deadline, &tv);
}

static void control_conn_drop(struct control_conn *cc)
{
	struct control *c = cc->c;

	LIST_REMOVE(cc, link);
	event_free(cc->deadline);
	bufferevent_decref(cc->bev);
	free(cc);
	if (c->nconns-- == c->max_conns && c->lev)
		acceptguard_block(c->guard, false);
}

/* evhttp frees the connection. */
static void control_conn_closed(struct evhttp_connection *evcon, void *arg)
{
	struct control_conn *cc = arg;

	if (cc->scrape)
		control_scrape_closed(evcon, cc->scrape);
	cc->reload = NULL; /* the client went: evhttp frees the request */
	control_conn_drop(cc);
}

/* Out of time: evhttp takes a timeout as the end of the connection (a
 * streamed response in progress is ended through its close callback). */
static void control_conn_deadline(struct control_conn *cc)
{
	bufferevent_event_cb ev = NULL;

	/* Freed by evhttp without its close callback: nothing to close. */
	bufferevent_getcb(cc->bev, NULL, NULL, &ev, NULL);
	if (!ev) {
		control_conn_drop(cc);
		return;
	}
	log_debug("control API connection past its deadline: closed");
	bufferevent_trigger_event(cc->bev, BEV_EVENT_READING |
				  BEV_EVENT_TIMEOUT, 0);
	/* cc is freed now. */
}

/* Runs first right after evhttp set the connection up (it was made
 * active in the accept callback, so before any read on the socket):
 * evhttp's callback argument on the bufferevent is the connection, and
 * its close callback tells us when it goes.  A reference on the
 * bufferevent, held from control_conn_new to control_conn_drop, keeps
 * cc->bev valid whatever evhttp does with it meanwhile (evhttp closes the
 * socket itself). */
static void control_conn_cb(evutil_socket_t fd, short what, void *arg)
{
	struct control_conn *cc = arg;
	bufferevent_event_cb ev = NULL;
	void *evcon = NULL;

	if (cc->evcon) {
		control_conn_deadline(cc);
		return;
	}
	bufferevent_getcb(cc->bev, NULL, NULL, &ev, &evcon);
	if (!ev || !evcon) { /* evhttp gave up on it already */
		control_conn_drop(cc);
		return;
	}
	cc->evcon = evcon;
	evhttp_connection_set_closecb(cc->evcon, control_conn_closed, cc);
	control_conn_arm(cc);
}

static void control_cap_log(struct control *c)
{
	time_t now = time(NULL);

	c->cap_hits++;
	if (now - c->cap_logged < 10)
		return;
	log_warn("control API at its connection cap: new connections wait "
		 "max-connections=%u times=%llu", c->max_conns, c->cap_hits);
	c->cap_hits = 0;
	c->cap_logged = now;
}

/* evhttp asks for the bufferevent of each connection it accepts. */
static struct bufferevent *control_conn_new(struct event_base *base,
					    void *arg)
{
	struct control *c = arg;
	struct control_conn *cc = xcalloc(1, sizeof(*cc));

	acceptguard_ok(c->guard);
	cc->c = c;
	cc->deadline = evtimer_new(base, control_conn_cb, cc);
	/* As evhttp makes its own: it closes the socket itself, at once
	 * (with BEV_OPT_CLOSE_ON_FREE the close would wait for the
	 * bufferevent's deferred finalisation, and a new connection could
	 * be handed the same descriptor number before the old one is out
	 * of epoll). */
	cc->bev = bufferevent_socket_new(base, -1, 0);
	if (!cc->deadline || !cc->bev)
		xalloc_die(sizeof(*cc));
	bufferevent_incref(cc->bev);
	event_active(cc->deadline, EV_TIMEOUT, 1);
	LIST_INSERT_HEAD(&c->conns, cc, link);
	/* At the cap: later clients wait in the listen backlog until one
	 * of these goes (a deadline bounds how long that takes). */
	if (++c->nconns >= c->max_conns && c->lev) {
		acceptguard_block(c->guard, true);
		control_cap_log(c);
	}
	return cc->bev;
}

static struct control_conn *control_conn_find(struct control *c,
					      struct evhttp_connection *conn)
{
	struct control_conn *cc;

	LIST_FOREACH(cc, &c->conns, link)
		if (conn && cc->evcon == conn)
			return cc;
	return NULL;
}

/* The request is whole (or a streamed response moves on): the response,
 * and a next request on the same connection, get a deadline of their
 * own. */
static void control_conn_touch(struct control *c, struct evhttp_request *req)
{
	struct control_conn *cc = control_conn_find(c,
		evhttp_request_get_connection(req));

	if (cc)
		control_conn_arm(cc);
}

/* ---- authentication ---- */

/* Without a token the API trusts whoever reaches loopback.  A web page
 * can reach it too, through a name it rebinds to 127.0.0.1 (DNS
 * rebinding: same-origin GETs carry no Origin): its Host is then that
 * name.  So without a token, only Hosts that are a loopback address,
 * localhost, or the address the API listens on are served.  The host is
 * parsed as an address: a prefix test would let "127.0.0.1.nip.io" or
 * "127.attacker.example" through. */
bool control_host_allowed(const char *h, const struct sockaddr *listen)
{
	char host[256];
	const char *end;
	size_t n;
	struct in6_addr a6;
	struct in_addr a4;
	bool v6 = h && h[0] == '[';

	if (!h)
		return true; /* HTTP/1.0 tools; a browser always sends Host */
	if (v6) {
		if (!(end = strchr(h, ']')) || (end[1] && end[1] != ':'))
			return false;
		h++;
		n = (size_t)(end - h);
	} else {
		n = strcspn(h, ":");
		end = h + n;
		if (*end && *end != ':')
			return false;
	}
	/* The port, if any, must be digits: "127.0.0.1:x@evil" is no host. */
	if (*end == ':' || (end[0] == ']' && end[1] == ':')) {
		const char *p = end + (*end == ']' ? 2 : 1);
		if (!*p || p[strspn(p, "0123456789")])
			return false;
	}
	if (n >= sizeof(host))
		return false;
	memcpy(host, h, n);
	host[n] = '\0';
	if (v6) {
		if (inet_pton(AF_INET6, host, &a6) != 1)
			return false;
		if (IN6_IS_ADDR_LOOPBACK(&a6))
			return true;
		return listen && listen->sa_family == AF_INET6 &&
			!memcmp(&a6, &((const struct sockaddr_in6 *)
				       (const void *)listen)->sin6_addr,
				sizeof(a6));
	}
	if (!strcasecmp(host, "localhost") || !strcasecmp(host, "localhost."))
		return true;
	if (inet_pton(AF_INET, host, &a4) != 1)
		return false;
	if ((ntohl(a4.s_addr) >> 24) == 127)
		return true;
	return listen && listen->sa_family == AF_INET &&
		a4.s_addr == ((const struct sockaddr_in *)(const void *)
			      listen)->sin_addr.s_addr;
}

static bool control_host_ok(const struct control *c,
			    struct evhttp_request *req)
{
	if (c->have_token)
		return true;
	return control_host_allowed(evhttp_find_header(
		evhttp_request_get_input_headers(req), "Host"),
		(const struct sockaddr *)&c->listen.ss);
}

static bool control_authorized(const struct control *c,
			       struct evhttp_request *req)
{
	static const char bearer[] = "Bearer ";
	const char *h;
	unsigned char md[32];

	if (!c->have_token)
		return true;
	h = evhttp_find_header(evhttp_request_get_input_headers(req),
			       "Authorization");
	if (!h || strncasecmp(h, bearer, sizeof(bearer) - 1))
		return false;
	h += sizeof(bearer) - 1;
	while (*h == ' ')
		h++;
	if (control_digest(h, strlen(h), md) < 0)
		return false;
	return CRYPTO_memcmp(md, c->token_md, sizeof(md)) == 0;
}

/* ---- /metrics ---- */

/* A streamed /metrics is sent in slices of about this size, each made
 * when the client has taken the one before: a few hundred targets per
 * turn of the loop, so the probes keep their schedule meanwhile. */
#define CONTROL_SLICE (256u << 10)

/* One streamed /metrics.  Owned by the control: freed when the response
 * ends, when its connection closes first, or with the control. */
struct control_scrape {
	LIST_ENTRY(control_scrape) link;
	struct control *c;
	struct evhttp_request *req;
	struct evhttp_connection *conn;
	struct metrics_cursor cur;
	struct statusdoc_cursor doc; /* a streamed /status: see below */
};

static void control_scrape_free(struct control_scrape *s)
{
	LIST_REMOVE(s, link);
	free(s);
}

/* The connection closes before the response ended (the client went, or
 * timed out): evhttp has taken the request off it, and ending it frees
 * it.  When the whole server is freed, the request is still on its
 * connection, which frees it. */
static void control_scrape_closed(struct evhttp_connection *conn, void *arg)
{
	struct control_scrape *s = arg;

	if (!evhttp_request_get_connection(s->req))
		evhttp_send_reply_end(s->req);
	control_scrape_free(s);
}

static void control_scrape_end(struct control_scrape *s)
{
	struct control_conn *cc = control_conn_find(s->c, s->conn);

	if (cc)
		cc->scrape = NULL;
	else
		evhttp_connection_set_closecb(s->conn, NULL, NULL);
	evhttp_send_reply_end(s->req);
	control_scrape_free(s);
}

/* The next slice, once the last one is written (evhttp calls this when
 * the connection's output has drained), or the end. */
static void control_scrape_more(struct evhttp_connection *conn, void *arg)
{
	struct control_scrape *s = arg;
	struct evbuffer *b = evbuffer_new();
	enum metrics_step r;

	if (!b) {
		control_scrape_end(s); /* what was sent is valid as it is */
		return;
	}
	do
		r = metrics_next(&s->cur, b, &s->c->v, &s->c->totals,
				 CONTROL_SLICE);
	while (r == METRICS_MORE && !evbuffer_get_length(b));
	if (r == METRICS_CHANGED) {
		/* What went ends at a whole service or target: valid as it
		 * stands.  Say why no more follows. */
		evbuffer_add_printf(b, "# the service list changed during the "
				    "scrape: per-target series cut short\n");
		log_info("metrics scrape cut short: the service list changed");
	}
	if (r == METRICS_MORE) {
		control_conn_touch(s->c, s->req);
		evhttp_send_reply_chunk_with_cb(s->req, b, control_scrape_more,
						s);
	}
	else
		evhttp_send_reply_chunk(s->req, b);
	evbuffer_free(b);
	if (r != METRICS_MORE)
		control_scrape_end(s);
}

/*
 * A streamed response on req's connection (/metrics per target, /status):
 * the scrape that follows it, told when the connection closes; NULL (the
 * request answered 500) without a connection.  The body has no length:
 * HTTP/1.1 gets it chunked, HTTP/1.0 up to the close, so it cannot keep
 * the connection.  The caller sets the cursor, then control_stream_start.
 */
static struct control_scrape *control_stream_open(struct control *c,
						  struct evhttp_request *req)
{
	struct evhttp_connection *conn = evhttp_request_get_connection(req);
	struct evkeyvalq *in = evhttp_request_get_input_headers(req);
	const char *hdr = evhttp_find_header(in, "Connection");
	struct control_scrape *s;

	if (!conn || !evhttp_connection_get_bufferevent(conn)) {
		evhttp_send_error(req, HTTP_INTERNAL, "no connection");
		return NULL;
	}
	s = xcalloc(1, sizeof(*s));
	if (hdr && !evutil_ascii_strcasecmp(hdr, "keep-alive"))
		evhttp_remove_header(in, "Connection");
	s->c = c;
	s->req = req;
	s->conn = conn;
	LIST_INSERT_HEAD(&c->scrapes, s, link);
	struct control_conn *cc = control_conn_find(c, conn);
	if (cc)
		cc->scrape = s; /* its close callback tells the scrape */
	else
		evhttp_connection_set_closecb(conn, control_scrape_closed, s);
	return s;
}

/* Writes of at most slice bytes, so a slow reader gets them one by one. */
static void control_stream_start(struct control_scrape *s, size_t slice)
{
	bufferevent_set_max_single_write(
		evhttp_connection_get_bufferevent(s->conn), slice);
	evhttp_send_reply_start(s->req, HTTP_OK, "OK");
}

static void control_metrics_stream(struct control *c,
				   struct evhttp_request *req)
{
	struct control_scrape *s = control_stream_open(c, req);

	if (!s)
		return;
	metrics_begin(&s->cur, &c->v, true);
	control_stream_start(s, CONTROL_SLICE);
	control_scrape_more(s->conn, s);
}

static void control_metrics(struct control *c, struct evhttp_request *req)
{
	const struct model *m = c->v.model(c->v.arg);
	bool per_target = m && m->control.metrics_per_target;
	struct evbuffer *b;

	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Content-Type",
			  "text/plain; version=0.0.4; charset=utf-8");
	evhttp_add_header(evhttp_request_get_output_headers(req),
			  "Cache-Control", "no-store");
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		evhttp_send_reply(req, HTTP_OK, "OK", NULL);
		return;
	}
	if (per_target) {
		control_metrics_stream(c, req);
		return;
	}
	/* Totals only: a few kilobytes, whatever the service list. */
	b = evbuffer_new();
	metrics_write(b, &c->v, &c->totals, false);
	control_send(req, HTTP_OK, "OK", b);
	evbuffer_free(b);
}

/* ---- /status ---- */

/* /status is written as /metrics is, a slice of whole services or
 * targets per turn of the loop, each once the client has taken the one
 * before (statusdoc.h): 8 MB at 10,000 services reached its reader in
 * 0.14 s (bench/status-stream), so a slice holds the control thread
 * about a millisecond, and a client that does not read holds one slice
 * (plus one service), not the whole document. */
#define CONTROL_STATUS_SLICE (64u << 10)

/* The model changed under the stream, or a part could not be encoded:
 * what went is no document, and ending the body as complete would pass
 * it for one.  So the connection is closed as at its deadline (from the
 * loop, not from inside evhttp's write callback): a chunked body then
 * lacks its last chunk and the client sees a failed transfer. */
static void control_status_abort(struct control_scrape *s,
				 enum statusdoc_step r)
{
	struct control_conn *cc = control_conn_find(s->c, s->conn);

	log_info("status stream cut short reason=%s", r == STATUSDOC_CHANGED ?
		 "the service list changed" : "cannot encode the answer");
	if (cc)
		event_active(cc->deadline, EV_TIMEOUT, 1);
	else
		control_scrape_end(s);
}

static void control_status_more(struct evhttp_connection *conn, void *arg)
{
	struct control_scrape *s = arg;
	struct evbuffer *b = evbuffer_new();
	enum statusdoc_step r;

	if (!b)
		xalloc_die(sizeof(struct evbuffer *));
	r = statusdoc_next(&s->doc, b, &s->c->v, CONTROL_STATUS_SLICE);
	if (r == STATUSDOC_MORE) {
		control_conn_touch(s->c, s->req);
		evhttp_send_reply_chunk_with_cb(s->req, b, control_status_more,
						s);
	} else if (r == STATUSDOC_DONE) {
		evhttp_send_reply_chunk(s->req, b);
		control_scrape_end(s);
	} else {
		control_status_abort(s, r);
	}
	evbuffer_free(b);
}

static void control_status(struct control *c, struct evhttp_request *req)
{
	struct evkeyvalq *out = evhttp_request_get_output_headers(req);
	struct control_scrape *s;

	evhttp_add_header(out, "Content-Type", "application/json");
	evhttp_add_header(out, "Cache-Control", "no-store");
	if (evhttp_request_get_command(req) == EVHTTP_REQ_HEAD) {
		evhttp_send_reply(req, HTTP_OK, "OK", NULL);
		return;
	}
	if (!(s = control_stream_open(c, req)))
		return;
	statusdoc_begin(&s->doc, &c->v);
	control_stream_start(s, CONTROL_STATUS_SLICE);
	control_status_more(s->conn, s);
}

/* ---- admin actions and reload ---- */

/* The request's parameters: the query string, then a form body. */
static int control_params(struct evhttp_request *req, struct evkeyvalq *out)
{
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *q = u ? evhttp_uri_get_query(u) : NULL;
	struct evbuffer *in = evhttp_request_get_input_buffer(req);
	size_t len = in ? evbuffer_get_length(in) : 0;
	struct evkeyvalq body;

	TAILQ_INIT(out);
	if (q && evhttp_parse_query_str(q, out) < 0)
		return -1;
	if (!len)
		return 0;
	/* Bounded by evhttp_set_max_body_size. */
	char *s = xmalloc(len + 1);
	evbuffer_copyout(in, s, len);
	s[len] = '\0';
	TAILQ_INIT(&body);
	int rc = strlen(s) == len ? evhttp_parse_query_str(s, &body) : -1;
	free(s);
	if (rc < 0) {
		evhttp_clear_headers(&body);
		return -1;
	}
	struct evkeyval *kv;
	TAILQ_FOREACH(kv, &body, next)
		if (evhttp_add_header(out, kv->key, kv->value) < 0)
			rc = -1;
	evhttp_clear_headers(&body);
	return rc;
}

/* Service names in the model are lower case with a trailing dot; take
 * "WWW.Example.org" as "www.example.org." and "www" as it is (admin rules
 * match names relative to the zone too).  Returns a heap copy or NULL. */
static char *control_service_name(const struct control *c, const char *s)
{
	const struct model *m = c->v.model(c->v.arg);
	const char *apex = m && m->zone.apex ? m->zone.apex : "";
	size_t len = strlen(s), alen = strlen(apex);
	char *out = xmalloc(len + 2);

	for (size_t i = 0; i <= len; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	/* apex is "example.org.": compare without its dot. */
	if (len && out[len - 1] != '.' && alen > 1 && len >= alen - 1 &&
	    !strncmp(out + len - (alen - 1), apex, alen - 1) &&
	    (len == alen - 1 || out[len - alen] == '.')) {
		out[len] = '.';
		out[len + 1] = '\0';
	}
	return out;
}

static void control_admin(struct control *c, struct evhttp_request *req,
			  enum model_admin a)
{
	struct evkeyvalq params;
	const char *v[3] = { NULL, NULL, NULL };
	static const char *const keys[3] = { "region", "service", "endpoint" };
	struct evkeyval *kv;
	char msg[160];

	if (control_params(req, &params) < 0) {
		evhttp_clear_headers(&params);
		control_error(req, HTTP_BADREQUEST, "Bad Request",
			      "malformed parameters");
		return;
	}
	TAILQ_FOREACH(kv, &params, next) {
		size_t i;
		for (i = 0; i < 3 && strcmp(kv->key, keys[i]); i++)
			;
		if (i == 3 || v[i]) {
			snprintf(msg, sizeof(msg), "%s parameter '%.64s'",
				 i == 3 ? "unknown" : "repeated", kv->key);
			evhttp_clear_headers(&params);
			control_error(req, HTTP_BADREQUEST, "Bad Request", msg);
			return;
		}
		v[i] = *kv->value ? kv->value : NULL;
	}
	/* An action on every endpoint at once is too easy to do by
	 * mistake (a shell variable that came out empty). */
	if (!v[0] && !v[1] && !v[2]) {
		evhttp_clear_headers(&params);
		control_error(req, HTTP_BADREQUEST, "Bad Request",
			      "give region, service or endpoint");
		return;
	}
	char *svc = v[1] ? control_service_name(c, v[1]) : NULL;
	/* The daemon logs the change. */
	int n = c->v.set_admin(c->v.arg, v[0], svc, v[2], a);
	free(svc);
	evhttp_clear_headers(&params);
	if (n < 0) {
		snprintf(msg, sizeof(msg), "too many admin rules (at most %u): "
			 "remove some first", ADMIN_MAX_RULES);
		control_error(req, 409, "Conflict", msg);
		return;
	}
	control_json(req, HTTP_OK, "OK", json_pack("{s:i,s:s}", "matched", n,
			"admin", model_admin_name(a)));
}

static void control_reload_reply(struct evhttp_request *req, int rc,
				 const char *err)
{
	if (rc < 0) {
		control_json(req, 409, "Conflict", json_pack("{s:b,s:s}", "ok",
			     0, "error", err[0] ? err : "reload failed"));
		return;
	}
	control_json(req, HTTP_OK, "OK", json_pack("{s:b}", "ok", 1));
}

static void control_reload(struct control *c, struct evhttp_request *req)
{
	char err[256] = "";

	log_info("reload requested via the control API");
	int rc = c->v.reload(c->v.arg, err, sizeof(err));
	struct control_conn *cc = rc > 0 ? control_conn_find(c,
		evhttp_request_get_connection(req)) : NULL;
	if (rc > 0 && cc && !cc->reload) {
		/* Deferred while DNSSEC signatures are made: answered by
		 * control_reload_done with the reload's own result. */
		cc->reload = req;
		evtimer_del(cc->deadline);
		return;
	}
	if (rc > 0) {
		control_json(req, 202, "Accepted", json_pack("{s:b,s:b}", "ok",
			     1, "pending", 1));
		return;
	}
	control_reload_reply(req, rc, err);
}

void control_reload_done(struct control *c, int rc, const char *err)
{
	struct control_conn *cc;

	if (!c)
		return;
	/* From the top each time: a reply may close its connection. */
	for (;;) {
		LIST_FOREACH(cc, &c->conns, link)
			if (cc->reload)
				break;
		if (!cc)
			return;
		struct evhttp_request *req = cc->reload;
		cc->reload = NULL;
		control_conn_arm(cc);
		control_reload_reply(req, rc, err ? err : "");
	}
}

/* ---- the zone as served (server/zonedump.h) ---- */

/* GET /zone: the current snapshot as a master file; GET /ds: the DS
 * records for the parent.  The control thread publishes snapshots, so
 * the current one cannot be freed while this reads it. */
static void control_zone(struct evhttp_request *req, bool ds)
{
	const struct snap *s = snap_current();

	if (!s) {
		control_error(req, 503, "Service Unavailable", "no snapshot yet");
		return;
	}
	char *t = ds ? zonedump_ds(s) : zonedump_text(s);
	control_reply(req, HTTP_OK, "OK", "text/dns; charset=utf-8", t,
		      strlen(t));
	free(t);
}

/* ---- routing ---- */

enum control_route {
	R_METRICS, R_STATUS, R_HEALTHZ, R_READYZ, R_DRAIN, R_UNDRAIN,
	R_FORCE_UP, R_FORCE_DOWN, R_RELOAD, R_ZONE, R_DS,
};

static const struct {
	const char *path;
	bool post;   /* else GET (and HEAD) */
	bool open;   /* no token needed */
} control_routes[] = {
	[R_METRICS] = { "/metrics", false, false },
	[R_STATUS] = { "/status", false, false },
	[R_HEALTHZ] = { "/healthz", false, true },
	[R_READYZ] = { "/readyz", false, true },
	[R_DRAIN] = { "/admin/drain", true, false },
	[R_UNDRAIN] = { "/admin/undrain", true, false },
	[R_FORCE_UP] = { "/admin/force-up", true, false },
	[R_FORCE_DOWN] = { "/admin/force-down", true, false },
	[R_RELOAD] = { "/reload", true, false },
	[R_ZONE] = { "/zone", false, false },
	[R_DS] = { "/ds", false, false },
};

static void control_dispatch(struct evhttp_request *req, void *arg)
{
	struct control *c = arg;
	const struct evhttp_uri *u = evhttp_request_get_evhttp_uri(req);
	const char *path = u ? evhttp_uri_get_path(u) : NULL;
	enum evhttp_cmd_type cmd = evhttp_request_get_command(req);
	size_t r, nroutes = sizeof(control_routes) / sizeof(control_routes[0]);

	control_conn_touch(c, req);
	if (!path || !*path)
		path = "/";
	for (r = 0; r < nroutes && strcmp(path, control_routes[r].path); r++)
		;
	if (r == nroutes) {
		control_error(req, HTTP_NOTFOUND, "Not Found", "no such path");
		return;
	}
	/* Browsers send Origin with cross-site POSTs: without this, any web
	 * page an operator opens could drain regions through a loopback API
	 * that has no token.  gslbctl, curl and Prometheus send none. */
	if (evhttp_find_header(evhttp_request_get_input_headers(req),
			       "Origin")) {
		control_error(req, 403, "Forbidden",
			      "requests from web pages are refused");
		return;
	}
	if (!control_host_ok(c, req)) {
		control_error(req, 403, "Forbidden",
			      "Host is not a loopback address or localhost");
		return;
	}
	if (!control_routes[r].open && !control_authorized(c, req)) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "WWW-Authenticate", "Bearer realm=\"gslbd\"");
		control_error(req, 401, "Unauthorized",
			      "missing or wrong bearer token");
		return;
	}
	if (control_routes[r].post ? cmd != EVHTTP_REQ_POST :
	    cmd != EVHTTP_REQ_GET && cmd != EVHTTP_REQ_HEAD) {
		evhttp_add_header(evhttp_request_get_output_headers(req),
				  "Allow", control_routes[r].post ? "POST" :
				  "GET, HEAD");
		control_error(req, HTTP_BADMETHOD, "Method Not Allowed",
			      control_routes[r].post ? "use POST" :
			      "use GET");
		return;
	}
	switch ((enum control_route)r) {
	case R_METRICS:
		control_metrics(c, req);
		break;
	case R_ZONE:
	case R_DS:
		control_zone(req, r == R_DS);
		break;
	case R_STATUS:
		control_status(c, req);
		break;
	case R_HEALTHZ:
		control_text(req, HTTP_OK, "OK", "ok\n");
		break;
	case R_READYZ:
		if (c->v.ready(c->v.arg))
			control_text(req, HTTP_OK, "OK", "ready\n");
		else
			control_text(req, HTTP_SERVUNAVAIL,
				     "Service Unavailable", "not ready\n");
		break;
	case R_DRAIN:
		control_admin(c, req, ADMIN_DRAINED);
		break;
	case R_UNDRAIN:
		control_admin(c, req, ADMIN_NONE);
		break;
	case R_FORCE_UP:
		control_admin(c, req, ADMIN_FORCE_UP);
		break;
	case R_FORCE_DOWN:
		control_admin(c, req, ADMIN_FORCE_DOWN);
		break;
	case R_RELOAD:
		control_reload(c, req);
		break;
	}
}

/* ---- lifetime ---- */

static const char *control_addr_str(const struct model_listen *l, char *buf,
				    size_t len)
{
	char ip[INET6_ADDRSTRLEN] = "?";

	if (l->ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *s = (const void *)&l->ss;
		inet_ntop(AF_INET6, &s->sin6_addr, ip, sizeof(ip));
		snprintf(buf, len, "[%s]:%u", ip, ntohs(s->sin6_port));
	} else {
		const struct sockaddr_in *s = (const void *)&l->ss;
		inet_ntop(AF_INET, &s->sin_addr, ip, sizeof(ip));
		snprintf(buf, len, "%s:%u", ip, ntohs(s->sin_port));
	}
	return buf;
}

struct control *control_new(struct event_base *base,
			    const struct status_view *v,
			    const struct model_control *conf, char *err,
			    size_t errlen)
{
	struct control *c = xcalloc(1, sizeof(*c));
	struct evconnlistener *lev;
	char where[INET6_ADDRSTRLEN + 16];

	control_addr_str(&conf->listen, where, sizeof(where));
	if (!(c->http = evhttp_new(base)))
		xalloc_die(sizeof(*c));
	c->v = *v;
	LIST_INIT(&c->scrapes);
	LIST_INIT(&c->conns);
	c->max_conns = conf->max_connections ? conf->max_connections : 32;
	c->request_ms = conf->request_ms ? conf->request_ms : 10000;
	c->public = !model_listen_is_loopback(&conf->listen);
	c->listen = conf->listen;
	if (control_set_token(c, conf->token) < 0) {
		snprintf(err, errlen, "control API: cannot hash the token");
		control_free(c);
		return NULL;
	}
	evhttp_set_max_headers_size(c->http, CONTROL_MAX_HEADERS);
	evhttp_set_max_body_size(c->http, CONTROL_MAX_BODY);
	evhttp_set_timeout(c->http, CONTROL_TIMEOUT_S);
	/* Every method reaches the dispatcher, which answers 405 itself
	 * with an Allow header naming the right one. */
	evhttp_set_allowed_methods(c->http, EVHTTP_REQ_GET | EVHTTP_REQ_POST |
		EVHTTP_REQ_HEAD | EVHTTP_REQ_PUT | EVHTTP_REQ_DELETE |
		EVHTTP_REQ_OPTIONS | EVHTTP_REQ_TRACE | EVHTTP_REQ_CONNECT |
		EVHTTP_REQ_PATCH);
	evhttp_set_gencb(c->http, control_dispatch, c);
	evhttp_set_bevcb(c->http, control_conn_new, c);
	lev = evconnlistener_new_bind(base, NULL, NULL,
		LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC |
		LEV_OPT_REUSEABLE, CONTROL_BACKLOG,
		(const struct sockaddr *)&conf->listen.ss, (int)conf->listen.sslen);
	if (!lev) {
		int e = errno;
		snprintf(err, errlen, "control API: cannot listen on %s: %s "
			 "(set control.listen, or control.enabled: false)",
			 where, strerror(e));
		control_free(c);
		return NULL;
	}
	if (!evhttp_bind_listener(c->http, lev))
		xalloc_die(sizeof(struct evhttp_bound_socket *));
	c->lev = lev;
	c->guard = acceptguard_new(base, "control");
	acceptguard_watch(c->guard, lev);
	log_info("control API listening address=%s token=%s", where,
		 c->have_token ? "required" : "none");
	return c;
}

int control_set_token(struct control *c, const char *token)
{
	unsigned char md[32];

	if (!token || !*token) {
		/* The address stays until a restart: a reload must not open a
		 * public listener to everyone by dropping the token. */
		if (c->public && c->have_token) {
			log_warn("control token kept: the control API listens "
				 "on a non-loopback address until restarted");
			return -1;
		}
		c->have_token = false;
		return 0;
	}
	if (control_digest(token, strlen(token), md) < 0)
		return -1;
	memcpy(c->token_md, md, sizeof(md));
	c->have_token = true;
	return 0;
}

void control_free(struct control *c)
{
	if (!c)
		return;
	acceptguard_free(c->guard);
	c->lev = NULL; /* connections freed below must not touch it */
	if (c->http)
		evhttp_free(c->http); /* frees the bound listeners too */
	/* Those whose connections closed without telling. */
	while (!LIST_EMPTY(&c->scrapes))
		control_scrape_free(LIST_FIRST(&c->scrapes));
	OPENSSL_cleanse(c->token_md, sizeof(c->token_md));
	free(c);
}
