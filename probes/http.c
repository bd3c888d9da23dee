/* http.c -- see http.h.  Transfers run on the control loop through
 * lib/curlev.c (libcurl multi driven by libevent). */
#include "config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>

#include "probes/http.h"
#include "probes/health.h"
#include "lib/curlev.h"
#include "lib/log.h"
#include "lib/xalloc.h"

/* Enough for any health page; a bigger body is cut off (and the verdict
 * taken on what came) rather than downloaded until the timeout. */
#define HTTP_BODY_CAP (64 * 1024)

struct http_probe_ctx {
	struct curlev *cev;
	size_t nprobes;            /* made and not yet freed */
};

struct http_probe {
	struct http_probe_ctx *ctx;
	CURL *easy;                /* set up once, run every interval */
	CURLSH *share;             /* keepalive: this target's own
				      connection cache, else NULL */
	bool busy;                 /* a run is in flight */
	bool keepalive;
	struct curl_slist *headers;
	struct curl_slist *connect_to;
	struct probe_status_range *status; /* copied from the spec */
	size_t nstatus;
	char *tls_host;      /* https: the name the certificate must match */
	char *want;          /* body substring, or NULL */
	size_t want_len;
	char *buf;           /* body so far, only when want is set */
	size_t len, cap;
	size_t seen;         /* body bytes received */
	bool cut;            /* we stopped the transfer at HTTP_BODY_CAP */
	http_probe_done_fn fn;
	void *arg;
	char errbuf[CURL_ERROR_SIZE];
};

static void http_probe_release(struct http_probe *hp)
{
	if (hp->easy)
		curl_easy_cleanup(hp->easy);
	/* After the easy handle: a share in use cannot be cleaned up. */
	if (hp->share)
		curl_share_cleanup(hp->share);
	curl_slist_free_all(hp->headers);
	curl_slist_free_all(hp->connect_to);
	free(hp->status);
	free(hp->tls_host);
	free(hp->want);
	free(hp->buf);
	free(hp);
}

/* ---- verdicts ---- */

static bool http_status_ok(const struct http_probe *hp, long code)
{
	if (hp->nstatus == 0)
		return code >= 200 && code <= 399;
	for (size_t i = 0; i < hp->nstatus; i++)
		if (code >= hp->status[i].lo && code <= hp->status[i].hi)
			return true;
	return false;
}

static bool http_is_tls_error(CURLcode rc)
{
	switch (rc) {
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_CRL_BADFILE:
	case CURLE_SSL_ISSUER_ERROR:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
	case CURLE_SSL_SHUTDOWN_FAILED:
	case CURLE_SSL_ENGINE_NOTFOUND:
	case CURLE_SSL_ENGINE_SETFAILED:
	case CURLE_SSL_ENGINE_INITFAILED:
	case CURLE_USE_SSL_FAILED:
		return true;
	default:
		return false;
	}
}

/* curl's message without the prefixes that only repeat "TLS". */
static const char *http_tls_detail(const char *msg)
{
	static const char *const prefixes[] = {
		"SSL certificate problem: ", "SSL: ", "OpenSSL SSL_connect: ",
	};

	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t n = strlen(prefixes[i]);
		if (strncmp(msg, prefixes[i], n) == 0)
			return msg + n;
	}
	return msg;
}

/* "what: msg", or "what (host HOST): msg" when host is given, as a reason;
 * a message too long for out (HEALTH_REASON_LEN) is cut there. */
static void http_reason_msg(char *out, size_t len, const char *what,
			    const char *host, const char *msg)
{
	int n = host ? snprintf(out, len, "%s (host %s): ", what, host) :
		       snprintf(out, len, "%s: ", what);
	size_t m;

	if (n < 0 || (size_t)n >= len)
		return;
	m = strnlen(msg, len - (size_t)n - 1);
	memcpy(out + n, msg, m);
	out[(size_t)n + m] = '\0';
}

static void http_error_reason(const struct http_probe *hp, CURLcode rc,
			      char *out, size_t len)
{
	const char *msg = hp->errbuf[0] ? hp->errbuf : curl_easy_strerror(rc);
	long oserr = 0;

	if (rc == CURLE_OPERATION_TIMEDOUT) {
		snprintf(out, len, "timeout");
		return;
	}
	if (rc == CURLE_COULDNT_CONNECT) {
		curl_easy_getinfo(hp->easy, CURLINFO_OS_ERRNO, &oserr);
		if (oserr == ECONNREFUSED)
			snprintf(out, len, "refused");
		else if (oserr == ENETUNREACH || oserr == EHOSTUNREACH)
			snprintf(out, len, "unreachable");
		else
			http_reason_msg(out, len, "connect error", NULL, msg);
		return;
	}
	if (http_is_tls_error(rc)) {
		/* The certificate is checked against the probe host, never
		 * the address: name it, so that a wrong `host` is plain. */
		http_reason_msg(out, len, "tls error",
				hp->tls_host ? hp->tls_host : "?",
				http_tls_detail(msg));
		return;
	}
	http_reason_msg(out, len, "connect error", NULL, msg);
}

static bool http_verdict(struct http_probe *hp, CURLcode rc, char *out,
			 size_t len)
{
	long code = 0;

	if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && hp->cut)) {
		http_error_reason(hp, rc, out, len);
		return false;
	}
	curl_easy_getinfo(hp->easy, CURLINFO_RESPONSE_CODE, &code);
	snprintf(out, len, "status %ld", code);
	if (!http_status_ok(hp, code))
		return false;
	if (hp->want && (!hp->buf ||
			 !memmem(hp->buf, hp->len, hp->want, hp->want_len))) {
		snprintf(out, len, "body mismatch");
		return false;
	}
	return true;
}

/* A transfer finished (curlev_done_fn). */
static void http_done(CURL *easy, void *priv, CURLcode rc)
{
	struct http_probe *hp = priv;
	char reason[HEALTH_REASON_LEN];

	if (!hp)
		return;
	bool ok = http_verdict(hp, rc, reason, sizeof(reason));
	hp->busy = false;
	hp->fn(hp->arg, ok, reason);
}

/* ---- context ---- */

struct http_probe_ctx *http_probe_ctx_new(struct event_base *base)
{
	struct http_probe_ctx *ctx = xcalloc(1, sizeof(*ctx));

	if (!(ctx->cev = curlev_new(base, http_done, "http probe"))) {
		free(ctx);
		return NULL;
	}
	/* libcurl applies this to each cache, and a kept-alive target has a
	 * cache of its own (http_probe_new): one idle connection each, so a
	 * run on a new connection retires the old one.  Probes without
	 * keepalive never return a connection to any cache. */
	curlev_keep_connections(ctx->cev, 1);
	return ctx;
}

void http_probe_ctx_free(struct http_probe_ctx *ctx)
{
	if (!ctx)
		return;
	assert(ctx->nprobes == 0);
	curlev_free(ctx->cev);
	free(ctx);
}

/* ---- one probe ---- */

static size_t http_write_cb(char *data, size_t size, size_t n, void *userp)
{
	struct http_probe *hp = userp;
	size_t len = size * n;

	hp->seen += len;
	if (hp->want && hp->len < HTTP_BODY_CAP) {
		size_t take = len;
		if (take > HTTP_BODY_CAP - hp->len)
			take = HTTP_BODY_CAP - hp->len;
		if (hp->len + take > hp->cap) {
			size_t cap = hp->cap ? hp->cap : 4096;
			while (cap < hp->len + take)
				cap *= 2;
			if (cap > HTTP_BODY_CAP)
				cap = HTTP_BODY_CAP;
			hp->buf = xrealloc(hp->buf, cap);
			hp->cap = cap;
		}
		memcpy(hp->buf + hp->len, data, take);
		hp->len += take;
	}
	if (hp->seen > HTTP_BODY_CAP) {
		hp->cut = true;
		return 0; /* stop the download: we have seen enough */
	}
	return len;
}

/* "host" for a URL: no trailing dot, IPv6 literals bracketed. */
static char *http_url(const struct probe_spec *spec, const char *host,
		      uint16_t port)
{
	const char *scheme = spec->type == PROBE_HTTPS ? "https" : "http";
	const char *path = spec->path && spec->path[0] ? spec->path : "/";
	size_t hl = strlen(host);
	bool v6 = strchr(host, ':') != NULL;

	if (hl > 1 && host[hl - 1] == '.')
		hl--;
	return xasprintf("%s://%s%.*s%s:%u%s%s", scheme, v6 ? "[" : "",
			 (int)hl, host, v6 ? "]" : "", port,
			 path[0] == '/' ? "" : "/", path);
}

/* CURLOPT_CLOSESOCKETFUNCTION: a probe has nothing more to say once its
 * verdict is in, so close with a reset rather than a FIN exchange: one
 * packet instead of four, and no TIME_WAIT on either side (haproxy
 * closes its checks the same way). */
static int http_close_socket(void *clientp, curl_socket_t fd)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	(void)clientp;
	(void)setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
	return close(fd);
}

static int http_probe_setup(struct http_probe *hp,
			    const struct probe_spec *spec,
			    const struct model_addr *addr, const char *host)
{
	uint16_t port = spec->port ? spec->port :
			(spec->type == PROBE_HTTPS ? 443 : 80);
	char ip[INET6_ADDRSTRLEN], map[INET6_ADDRSTRLEN + 16];
	CURL *e = hp->easy;
	char *url;
	CURLcode rc = CURLE_OK;

	if (!inet_ntop(addr->family, &addr->ip, ip, sizeof(ip)))
		return -1;
	/* Empty host and port match the one URL this handle has; the target
	 * is the endpoint address, so no DNS lookup ever happens. */
	snprintf(map, sizeof(map), "::%s%s%s:%u",
		 addr->family == AF_INET6 ? "[" : "", ip,
		 addr->family == AF_INET6 ? "]" : "", port);
	/* curl_slist_append fails only for want of memory. */
	if (!(hp->connect_to = curl_slist_append(NULL, map)))
		xalloc_die(sizeof(map));
	for (size_t i = 0; i < spec->nheaders; i++) {
		struct curl_slist *l = curl_slist_append(hp->headers,
							 spec->headers[i]);
		if (!l)
			xalloc_die(strlen(spec->headers[i]));
		hp->headers = l;
	}
	url = http_url(spec, host, port);

/* Stop at the first option curl refuses. */
#define SET(opt, val) do {                                 \
		if (rc == CURLE_OK)                         \
			rc = curl_easy_setopt(e, opt, val); \
	} while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_CONNECT_TO, hp->connect_to);
	SET(CURLOPT_PRIVATE, hp);
	SET(CURLOPT_ERRORBUFFER, hp->errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_NOPROXY, "*");
	SET(CURLOPT_TIMEOUT_MS, (long)spec->timeout_ms);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)spec->timeout_ms);
	SET(CURLOPT_FORBID_REUSE, spec->keepalive ? 0L : 1L);
	SET(CURLOPT_CLOSESOCKETFUNCTION, http_close_socket);
	/* Health pages are small; libcurl's default is a 16 kB buffer per
	 * handle, and every target keeps its handle. */
	SET(CURLOPT_BUFFERSIZE, 4096L);
	if (hp->share)
		SET(CURLOPT_SHARE, hp->share);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_USERAGENT, "gslbd/" PACKAGE_VERSION " health-check");
	SET(CURLOPT_WRITEFUNCTION, http_write_cb);
	SET(CURLOPT_WRITEDATA, hp);
	if (spec->method && strcasecmp(spec->method, "HEAD") == 0)
		SET(CURLOPT_NOBODY, 1L);
	if (hp->headers)
		SET(CURLOPT_HTTPHEADER, hp->headers);
	if (spec->type == PROBE_HTTPS) {
		SET(CURLOPT_SSL_VERIFYPEER, spec->tls_verify ? 1L : 0L);
		SET(CURLOPT_SSL_VERIFYHOST, spec->tls_verify ? 2L : 0L);
		if (spec->ca_file)
			SET(CURLOPT_CAINFO, spec->ca_file);
	}
#undef SET
	free(url);
	return rc == CURLE_OK ? 0 : -1;
}

struct http_probe *http_probe_new(struct http_probe_ctx *ctx,
				  const struct probe_spec *spec,
				  const struct model_addr *addr,
				  const char *host, http_probe_done_fn fn,
				  void *arg)
{
	struct http_probe *hp = xcalloc(1, sizeof(*hp));

	hp->ctx = ctx;
	hp->fn = fn;
	hp->arg = arg;
	hp->keepalive = spec->keepalive;
	if (spec->nstatus) {
		hp->status = xcalloc(spec->nstatus, sizeof(*hp->status));
		memcpy(hp->status, spec->status,
		       spec->nstatus * sizeof(*hp->status));
		hp->nstatus = spec->nstatus;
	}
	if (spec->type == PROBE_HTTPS) {
		size_t hl = strlen(host);
		if (hl > 1 && host[hl - 1] == '.')
			hl--;
		hp->tls_host = xstrndup(host, hl);
	}
	if (spec->body && spec->body[0]) {
		hp->want = xstrdup(spec->body);
		hp->want_len = strlen(hp->want);
	}
	/* Keep-alive: the multi handle's one connection cache is keyed by
	 * address and port, so a thousand virtual hosts behind one load
	 * balancer would put a thousand connections in one list that every
	 * run searches.  A share of its own gives this target a cache of
	 * one. */
	if (spec->keepalive &&
	    (!(hp->share = curl_share_init()) ||
	     curl_share_setopt(hp->share, CURLSHOPT_SHARE,
			       CURL_LOCK_DATA_CONNECT) != CURLSHE_OK))
		goto fail;
	hp->easy = curl_easy_init();
	if (!hp->easy || http_probe_setup(hp, spec, addr, host) < 0)
		goto fail;
	ctx->nprobes++;
	return hp;
fail:
	http_probe_release(hp);
	return NULL;
}

int http_probe_run(struct http_probe *hp, bool reuse)
{
	assert(!hp->busy);
	hp->len = hp->seen = 0;
	hp->cut = false;
	hp->errbuf[0] = '\0';
	/* A new connection for every run unless keepalive asked otherwise:
	 * a kept-alive one would hide a server that no longer accepts, so
	 * even then every PROBE_KEEPALIVE_FRESH-th run is new (probe.c). */
	if (curl_easy_setopt(hp->easy, CURLOPT_FRESH_CONNECT,
			     reuse && hp->keepalive ? 0L : 1L) != CURLE_OK ||
	    curlev_add(hp->ctx->cev, hp->easy) < 0)
		return -1;
	hp->busy = true;
	return 0;
}

bool http_probe_busy(const struct http_probe *hp)
{
	return hp->busy;
}

void http_probe_stop(struct http_probe *hp)
{
	if (!hp || !hp->busy)
		return;
	curlev_remove(hp->ctx->cev, hp->easy);
	hp->busy = false;
}

void http_probe_free(struct http_probe *hp)
{
	if (!hp)
		return;
	http_probe_stop(hp);
	hp->ctx->nprobes--;
	http_probe_release(hp);
}
