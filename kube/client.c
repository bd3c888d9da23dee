/* client.c -- see client.h.  The libevent glue is the one of
 * probes/http.c (after curl's docs/examples/hiperfifo.c); the list/watch
 * state machine follows client-go's reflector. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>

#include "kube/client.h"
#include "lib/curlev.h"
#include "lib/log.h"
#include "lib/rand.h"
#include "lib/xalloc.h"

#define KUBE_LIST_CAP  (256u << 20) /* one page of 500 objects is far less */
#define KUBE_LINE_CAP  (16u << 20)  /* one watch event: one object */
#define KUBE_ERR_CAP   (64u << 10)  /* an error body: a Status */
#define KUBE_WATCH_MIN_MS 1000      /* shorter watches back off */

struct kube_client {
	struct event_base *base;
	struct curlev *cev;
	struct kube_creds creds;
	uint32_t timeout_ms;
	uint64_t rng;
	char token_err[48]; /* last token-file problem, logged once */
};

enum kube_req_kind { KUBE_REQ_LIST, KUBE_REQ_WATCH };

enum kube_abort { KUBE_ABORT_NONE, KUBE_ABORT_RELIST, KUBE_ABORT_ERROR };

/* One request in flight: a page of a list, or a watch. */
struct kube_req {
	struct kube_reflector *r;
	enum kube_req_kind kind;
	CURL *easy;
	struct curl_slist *headers;
	char *buf;          /* list/error body, or the watch's partial line */
	size_t len, cap;
	long status;        /* HTTP status, once headers are in */
	bool streaming;     /* a watch that answered 200: events follow */
	enum kube_abort abort;
	char abort_msg[128];
	uint64_t nevents;
	bool healthy;       /* an event was applied: the error state ends */
	struct timespec started;
	char errbuf[CURL_ERROR_SIZE];
};

struct kube_reflector {
	struct kube_client *cl;
	char *path, *what;
	uint32_t resync_ms;
	kube_refl_fn fn;
	void *arg;
	json_t *store;      /* "ns/name" -> object, after the first list */
	json_t *changed;    /* keys watch events touched since taken */
	bool changed_all;   /* a list replaced the store since taken */
	json_t *pending;    /* a paged list being assembled */
	char *cont;         /* its continue token */
	char *rv;           /* resourceVersion to watch from */
	bool need_relist;
	uint32_t backoff_ms;
	struct event *step;   /* next request */
	struct event *resync; /* next full relist */
	struct event *notify; /* deferred callbacks */
	bool notify_changed, notify_state;
	struct kube_req *req;
	char err_key[48];     /* the error state last logged */
	struct kube_refl_stats st;
};

/* ---- small helpers ---- */

static uint32_t kube_rand(struct kube_client *cl)
{
	return (uint32_t)(rand_next(&cl->rng) >> 32);
}

static void kube_evtimer(struct event *ev, uint32_t ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(ev, &tv);
}

static int64_t kube_ms_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (int64_t)(now.tv_sec - t0->tv_sec) * 1000 +
	       (now.tv_nsec - t0->tv_nsec) / 1000000;
}

const char *kube_obj_key(const json_t *obj, char *buf, size_t len)
{
	const json_t *md = json_object_get(obj, "metadata");
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const char *name = json_string_value(json_object_get(md, "name"));

	if (!name || !*name)
		return NULL;
	snprintf(buf, len, "%s/%s", ns ? ns : "", name);
	return buf;
}

static const char *kube_obj_rv(const json_t *obj)
{
	const json_t *md = json_object_get(obj, "metadata");

	return json_string_value(json_object_get(md, "resourceVersion"));
}

static void refl_set_rv(struct kube_reflector *r, const char *rv)
{
	if (!rv || !*rv || (r->rv && !strcmp(r->rv, rv)))
		return;
	free(r->rv);
	r->rv = xstrdup(rv);
}

/* ---- what changed, for the owner ---- */

static void refl_changed_all(struct kube_reflector *r)
{
	r->changed_all = true;
	json_decref(r->changed);
	r->changed = NULL;
}

static void refl_changed(struct kube_reflector *r, const char *key)
{
	if (r->changed_all)
		return;
	/* jansson allocates through lib/xalloc in the daemon; NULL here
	 * means memory ran out in a test. */
	if (!r->changed && !(r->changed = json_object()))
		xalloc_die(sizeof(json_t));
	if (json_object_size(r->changed) >= KUBE_CHANGED_MAX ||
	    json_object_set_new(r->changed, key, json_true()) < 0)
		refl_changed_all(r);
}

bool kube_reflector_take_changed(struct kube_reflector *r, json_t **keys)
{
	bool all = r->changed_all;

	*keys = r->changed;
	r->changed = NULL;
	r->changed_all = false;
	if (all) {
		json_decref(*keys);
		*keys = NULL;
	}
	return !all;
}

/* ---- notifications (always from the loop, never inside curl) ---- */

static void refl_notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kube_reflector *r = arg;
	bool changed = r->notify_changed, state = r->notify_state;

	r->notify_changed = r->notify_state = false;
	if (changed)
		r->fn(r->arg, r, KUBE_REFL_CHANGED);
	if (state)
		r->fn(r->arg, r, KUBE_REFL_STATE);
}

static void refl_notify(struct kube_reflector *r, enum kube_refl_event ev)
{
	if (ev == KUBE_REFL_CHANGED)
		r->notify_changed = true;
	else
		r->notify_state = true;
	kube_evtimer(r->notify, 0);
}

/* ---- error state: logged once per change, not once per retry ---- */

static void refl_error(struct kube_reflector *r, bool answered,
		       const char *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void refl_error(struct kube_reflector *r, bool answered,
		       const char *key, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->st.last_error, sizeof(r->st.last_error), fmt, ap);
	va_end(ap);
	r->st.errors++;
	r->st.connected = answered;
	r->st.ok = false;
	if (strcmp(r->err_key, key)) {
		snprintf(r->err_key, sizeof(r->err_key), "%s", key);
		log_warn("kube API request failed, retrying resource=%s "
			 "error=\"%s\"", r->what, r->st.last_error);
		refl_notify(r, KUBE_REFL_STATE);
	}
}

static void refl_ok(struct kube_reflector *r)
{
	bool was = r->st.connected && r->st.ok;

	r->st.connected = r->st.ok = true;
	if (r->err_key[0]) {
		log_info("kube API answers again resource=%s", r->what);
		r->err_key[0] = '\0';
	}
	if (!was)
		refl_notify(r, KUBE_REFL_STATE);
}

static const char *kube_http_hint(long status)
{
	switch (status) {
	case 400: return "bad request";
	case 401: return "unauthorized: check the token";
	case 403: return "forbidden: check the RBAC rules (list and watch)";
	case 404: return "not found: is this CRD installed?";
	case 410: return "gone: resourceVersion too old";
	case 429: return "throttled by the API server";
	default:
		return status >= 500 ? "API server error" : "unexpected status";
	}
}

/* The HTTP error with the message of the Status object in the body. */
static void refl_http_error(struct kube_reflector *r, struct kube_req *q)
{
	const char *msg = NULL;
	char key[32];
	json_t *st = NULL;

	if (q->buf && q->len)
		st = json_loadb(q->buf, q->len, 0, NULL);
	msg = json_string_value(json_object_get(st, "message"));
	snprintf(key, sizeof(key), "http %ld", q->status);
	refl_error(r, true, key, "HTTP %ld %s%s%.60s", q->status,
		   kube_http_hint(q->status), msg ? ": " : "",
		   msg ? msg : "");
	json_decref(st);
}

static void refl_curl_error(struct kube_reflector *r, struct kube_req *q,
			    CURLcode rc)
{
	char key[32];

	snprintf(key, sizeof(key), "curl %d", (int)rc);
	refl_error(r, false, key, "%.100s",
		   q->errbuf[0] ? q->errbuf : curl_easy_strerror(rc));
}

/* ---- scheduling ---- */

static void refl_backoff(struct kube_reflector *r)
{
	uint32_t b = r->backoff_ms ? r->backoff_ms : KUBE_BACKOFF_MIN_MS;
	uint32_t delay = b + kube_rand(r->cl) % (b / 4 + 1);

	if (delay > KUBE_BACKOFF_MAX_MS)
		delay = KUBE_BACKOFF_MAX_MS;
	r->backoff_ms = b * 2 > KUBE_BACKOFF_MAX_MS ? KUBE_BACKOFF_MAX_MS :
			b * 2;
	log_debug("kube retry resource=%s in_ms=%u", r->what, delay);
	kube_evtimer(r->step, delay);
}

static void refl_arm_resync(struct kube_reflector *r)
{
	uint32_t j = r->resync_ms / 10;

	kube_evtimer(r->resync, r->resync_ms + (j ? kube_rand(r->cl) % j : 0));
}

/* ---- the request ---- */

static void req_free(struct kube_req *q)
{
	if (!q)
		return;
	if (q->easy)
		curl_easy_cleanup(q->easy);
	curl_slist_free_all(q->headers);
	free(q->buf);
	free(q);
}

static int req_append(struct kube_req *q, const char *data, size_t len,
		      size_t cap)
{
	if (q->len + len > cap)
		return -1;
	if (q->len + len + 1 > q->cap) {
		size_t nc = q->cap ? q->cap : 16384;

		while (nc < q->len + len + 1)
			nc *= 2;
		q->buf = xrealloc(q->buf, nc);
		q->cap = nc;
	}
	memcpy(q->buf + q->len, data, len);
	q->len += len;
	q->buf[q->len] = '\0';
	return 0;
}

static void req_abort(struct kube_req *q, enum kube_abort how,
		      const char *msg)
{
	if (q->abort != KUBE_ABORT_NONE)
		return;
	q->abort = how;
	snprintf(q->abort_msg, sizeof(q->abort_msg), "%s", msg);
}

/* One watch event line.  Store updates happen here; the owner hears of
 * them through the deferred notification. */
static void req_event(struct kube_req *q, const char *line, size_t len)
{
	struct kube_reflector *r = q->r;
	json_t *ev, *obj;
	const char *type;
	char key[512];

	if (!(ev = json_loadb(line, len, 0, NULL))) {
		req_abort(q, KUBE_ABORT_ERROR, "bad JSON in the watch stream");
		return;
	}
	type = json_string_value(json_object_get(ev, "type"));
	obj = json_object_get(ev, "object");
	if (!type || !json_is_object(obj)) {
		req_abort(q, KUBE_ABORT_ERROR, "bad watch event");
		goto out;
	}
	q->nevents++;
	r->st.events++;
	if (!strcmp(type, "ERROR")) {
		json_int_t code = json_integer_value(json_object_get(obj,
								     "code"));
		const char *m = json_string_value(json_object_get(obj,
								  "message"));
		char msg[128];

		/* 410: our resourceVersion was compacted away. */
		if (code == 410) {
			req_abort(q, KUBE_ABORT_RELIST, "410 Gone");
			goto out;
		}
		snprintf(msg, sizeof(msg), "watch error %lld: %.90s",
			 (long long)code, m ? m : "?");
		req_abort(q, KUBE_ABORT_ERROR, msg);
		goto out;
	}
	/* Not at the 200 already: a server that accepts and then breaks
	 * every stream would flap between "failed" and "answers again". */
	if (!q->healthy) {
		q->healthy = true;
		refl_ok(r);
	}
	if (!strcmp(type, "BOOKMARK")) {
		refl_set_rv(r, kube_obj_rv(obj));
		goto out;
	}
	if (strcmp(type, "ADDED") && strcmp(type, "MODIFIED") &&
	    strcmp(type, "DELETED")) {
		log_debug("kube watch event ignored resource=%s type=%s",
			  r->what, type);
		goto out;
	}
	if (!kube_obj_key(obj, key, sizeof(key))) {
		r->st.errors++;
		log_debug("kube watch event without a name resource=%s",
			  r->what);
		goto out;
	}
	if (!strcmp(type, "DELETED")) {
		if (json_object_del(r->store, key) == 0) {
			refl_changed(r, key);
			refl_notify(r, KUBE_REFL_CHANGED);
		}
	} else if (json_object_set(r->store, key, obj) < 0) {
		/* A key cut inside a UTF-8 sequence: a relist tries again. */
		req_abort(q, KUBE_ABORT_RELIST, "object key not stored");
		goto out;
	} else {
		refl_changed(r, key);
		refl_notify(r, KUBE_REFL_CHANGED);
	}
	refl_set_rv(r, kube_obj_rv(obj));
out:
	json_decref(ev);
}

/* Complete lines of a watch stream; the tail waits for more. */
static void req_lines(struct kube_req *q)
{
	size_t start = 0;
	char *nl;

	while (q->abort == KUBE_ABORT_NONE && start < q->len &&
	       (nl = memchr(q->buf + start, '\n', q->len - start))) {
		size_t end = (size_t)(nl - q->buf), l = end - start;

		if (l && q->buf[start + l - 1] == '\r')
			l--;
		if (l)
			req_event(q, q->buf + start, l);
		start = end + 1;
	}
	if (start) {
		memmove(q->buf, q->buf + start, q->len - start);
		q->len -= start;
		q->buf[q->len] = '\0';
	}
}

static size_t req_write_cb(char *data, size_t size, size_t n, void *userp)
{
	struct kube_req *q = userp;
	size_t len = size * n;

	if (!q->status) {
		curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &q->status);
		q->streaming = q->kind == KUBE_REQ_WATCH && q->status == 200;
		/* A server that did not answer, or answered with an error
		 * status, now streams: that error is over.  (A broken
		 * stream waits for a good event instead, see req_event.) */
		if (q->streaming && (!strncmp(q->r->err_key, "curl", 4) ||
				     !strncmp(q->r->err_key, "http", 4))) {
			q->healthy = true;
			refl_ok(q->r);
		}
	}
	if (q->status != 200) {
		/* Only the Status message matters; keep the start of it. */
		if (q->len < KUBE_ERR_CAP)
			req_append(q, data, len < KUBE_ERR_CAP - q->len ? len :
				   KUBE_ERR_CAP - q->len, KUBE_ERR_CAP);
		return len;
	}
	if (req_append(q, data, len, q->streaming ? KUBE_LINE_CAP :
		       KUBE_LIST_CAP) < 0) {
		req_abort(q, KUBE_ABORT_ERROR, q->streaming ?
			  "watch event too large" : "list response too large");
		return 0;
	}
	if (q->streaming)
		req_lines(q);
	return q->abort == KUBE_ABORT_NONE ? len : 0;
}

static char *req_url(struct kube_reflector *r, CURL *e)
{
	struct kube_client *cl = r->cl;
	char *url, *esc;

	/* curl_easy_escape fails only for want of memory. */
	if (!r->need_relist && r->rv && r->store) {
		uint32_t t = KUBE_WATCH_SECONDS +
			     kube_rand(cl) % (KUBE_WATCH_SECONDS / 5 + 1);
		if (!(esc = curl_easy_escape(e, r->rv, 0)))
			xalloc_die(strlen(r->rv) * 3);
		url = xasprintf("%s%s?watch=1&allowWatchBookmarks=true&"
				"resourceVersion=%s&timeoutSeconds=%u",
				cl->creds.server, r->path, esc, t);
		curl_free(esc);
		return url;
	}
	if (r->cont) {
		if (!(esc = curl_easy_escape(e, r->cont, 0)))
			xalloc_die(strlen(r->cont) * 3);
		url = xasprintf("%s%s?limit=%d&continue=%s", cl->creds.server,
				r->path, KUBE_LIST_LIMIT, esc);
		curl_free(esc);
		return url;
	}
	return xasprintf("%s%s?limit=%d", cl->creds.server, r->path,
			 KUBE_LIST_LIMIT);
}

static int req_setup(struct kube_req *q, const char *url)
{
	struct kube_client *cl = q->r->cl;
	CURL *e = q->easy;
	CURLcode rc = CURLE_OK;
	long total = (long)cl->timeout_ms;
	struct curl_slist *l;

	if (!(l = curl_slist_append(NULL, "Accept: application/json")))
		xalloc_die(sizeof(*l));
	q->headers = l;
	if (kube_creds_apply(&cl->creds, e, &q->headers) < 0)
		return -1;
	/* A watch ends server-side after timeoutSeconds; the client limit
	 * only catches a connection that died silently. */
	if (q->kind == KUBE_REQ_WATCH)
		total += (KUBE_WATCH_SECONDS + KUBE_WATCH_SECONDS / 5 + 5) *
			 1000L;
#define SET(opt, val) do {                                 \
		if (rc == CURLE_OK)                         \
			rc = curl_easy_setopt(e, opt, val); \
	} while (0)
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PRIVATE, q);
	SET(CURLOPT_ERRORBUFFER, q->errbuf);
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_CONNECTTIMEOUT_MS, (long)cl->timeout_ms);
	SET(CURLOPT_TIMEOUT_MS, total);
	SET(CURLOPT_TCP_KEEPALIVE, 1L);
	SET(CURLOPT_TCP_KEEPIDLE, 30L);
	SET(CURLOPT_TCP_KEEPINTVL, 10L);
	SET(CURLOPT_FOLLOWLOCATION, 0L);
	SET(CURLOPT_USERAGENT, "gslbd/" PACKAGE_VERSION);
	SET(CURLOPT_HTTPHEADER, q->headers);
	SET(CURLOPT_WRITEFUNCTION, req_write_cb);
	SET(CURLOPT_WRITEDATA, q);
	if (q->kind == KUBE_REQ_LIST)
		SET(CURLOPT_ACCEPT_ENCODING, "");
#undef SET
	return rc == CURLE_OK ? 0 : -1;
}

static void refl_start(struct kube_reflector *r)
{
	struct kube_client *cl = r->cl;
	struct kube_req *q;
	char err[256], *url = NULL;

	if (r->req)
		return;
	if (kube_creds_refresh(&cl->creds, err, sizeof(err)) < 0) {
		/* Keep using the old token; say so once. */
		if (strcmp(cl->token_err, "token")) {
			snprintf(cl->token_err, sizeof(cl->token_err), "token");
			log_warn("kube token file unreadable, keeping the "
				 "previous token error=\"%s\"", err);
		}
	} else {
		cl->token_err[0] = '\0';
	}
	q = xcalloc(1, sizeof(*q));
	q->r = r;
	q->kind = !r->need_relist && r->rv && r->store ? KUBE_REQ_WATCH :
		  KUBE_REQ_LIST;
	clock_gettime(CLOCK_MONOTONIC, &q->started);
	if (q->kind == KUBE_REQ_LIST && !r->cont) {
		json_decref(r->pending);
		if (!(r->pending = json_object()))
			xalloc_die(sizeof(json_t));
	}
	if (!(q->easy = curl_easy_init()))
		goto fail;
	url = req_url(r, q->easy);
	if (req_setup(q, url) < 0 || curlev_add(cl->cev, q->easy) < 0)
		goto fail;
	log_debug("kube request resource=%s kind=%s", r->what,
		  q->kind == KUBE_REQ_WATCH ? "watch" : "list");
	free(url);
	r->req = q;
	return;
fail:
	free(url);
	req_free(q);
	refl_error(r, false, "start", "cannot start a request");
	refl_backoff(r);
}

static void refl_step_cb(evutil_socket_t fd, short what, void *arg)
{
	refl_start(arg);
}

static void refl_resync_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kube_reflector *r = arg;

	log_debug("kube resync resource=%s", r->what);
	kube_reflector_relist(r);
}

/* The list is whole: it becomes the store, and the watch starts. */
static void refl_list_complete(struct kube_reflector *r, const char *rv)
{
	bool changed = !r->store || !json_equal(r->store, r->pending);

	json_decref(r->store);
	r->store = r->pending;
	r->pending = NULL;
	free(r->rv);
	r->rv = rv && *rv ? xstrdup(rv) : NULL;
	r->need_relist = false;
	r->backoff_ms = 0;
	if (r->st.synced)
		log_debug("kube relist done resource=%s objects=%zu changed=%d",
			  r->what, json_object_size(r->store), (int)changed);
	else
		log_info("kube list done resource=%s objects=%zu", r->what,
			 json_object_size(r->store));
	r->st.synced = true;
	r->st.lists++;
	r->st.last_sync = (int64_t)time(NULL);
	if (changed) {
		refl_changed_all(r);
		refl_notify(r, KUBE_REFL_CHANGED);
	}
	refl_arm_resync(r);
	if (!r->rv) {
		/* Nothing to watch from: poll by listing, gently. */
		log_warn("kube list without a resourceVersion, polling "
			 "resource=%s", r->what);
		r->need_relist = true;
		kube_evtimer(r->step, KUBE_BACKOFF_MAX_MS);
		return;
	}
	kube_evtimer(r->step, 0);
}

/* A failed page: the list starts over, after a pause. */
static void refl_list_retry(struct kube_reflector *r)
{
	free(r->cont);
	r->cont = NULL;
	json_decref(r->pending);
	r->pending = NULL;
	refl_backoff(r);
}

/* A page of a list, into pending.  Returns 0 or -1 (reported). */
static int refl_list_page(struct kube_reflector *r, struct kube_req *q)
{
	json_t *body, *items, *md;
	const char *cont;
	char key[512];
	int rc = -1;

	body = json_loadb(q->buf ? q->buf : "", q->len, 0, NULL);
	items = json_object_get(body, "items");
	if (!body || !(json_is_array(items) || json_is_null(items))) {
		refl_error(r, true, "badlist", "bad list response (not a "
			   "Kubernetes list)");
		goto out;
	}
	refl_ok(r);
	for (size_t i = 0; i < json_array_size(items); i++) {
		json_t *it = json_array_get(items, i);
		if (!kube_obj_key(it, key, sizeof(key))) {
			r->st.errors++;
			continue;
		}
		if (json_object_set(r->pending, key, it) < 0) {
			r->st.errors++; /* a key cut inside UTF-8 */
			continue;
		}
	}
	md = json_object_get(body, "metadata");
	cont = json_string_value(json_object_get(md, "continue"));
	free(r->cont);
	r->cont = NULL;
	if (cont && *cont)
		r->cont = xstrdup(cont);
	if (r->cont)
		kube_evtimer(r->step, 0);
	else
		refl_list_complete(r, json_string_value(
			json_object_get(md, "resourceVersion")));
	rc = 0;
out:
	json_decref(body);
	return rc;
}

static void refl_list_done(struct kube_reflector *r, struct kube_req *q,
			   CURLcode rc)
{
	if (q->status == 410 && r->cont) {
		/* The continue token expired: list again from the start. */
		log_debug("kube list continue expired resource=%s", r->what);
		free(r->cont);
		r->cont = NULL;
		kube_evtimer(r->step, 0);
		return;
	}
	if (q->status && q->status != 200) {
		/* A 404 too: a missing CRD and a proxy in trouble look
		 * alike, and emptying the list would be wrong for the
		 * second.  The log says which CRD to check. */
		refl_http_error(r, q);
		refl_list_retry(r);
		return;
	}
	if (q->abort != KUBE_ABORT_NONE) {
		refl_error(r, true, "list", "%s", q->abort_msg);
		refl_list_retry(r);
		return;
	}
	if (rc != CURLE_OK) {
		refl_curl_error(r, q, rc);
		refl_list_retry(r);
		return;
	}
	if (refl_list_page(r, q) < 0)
		refl_list_retry(r);
}

static void refl_watch_done(struct kube_reflector *r, struct kube_req *q,
			    CURLcode rc)
{
	int64_t lasted = kube_ms_since(&q->started);

	if (q->abort == KUBE_ABORT_RELIST || q->status == 410) {
		log_info("kube watch expired, relisting resource=%s reason=%s",
			 r->what, q->abort == KUBE_ABORT_RELIST ?
			 q->abort_msg : "410 Gone");
		r->need_relist = true;
		kube_evtimer(r->step, 0);
		return;
	}
	if (q->status && q->status != 200) {
		refl_http_error(r, q);
		refl_backoff(r);
		return;
	}
	if (q->abort == KUBE_ABORT_ERROR) {
		refl_error(r, true, "watch", "%s", q->abort_msg);
		refl_backoff(r);
		return;
	}
	/* Our own limit on a stream that answered: a silent peer. */
	if (rc != CURLE_OK && !(rc == CURLE_OPERATION_TIMEDOUT &&
				q->streaming)) {
		refl_curl_error(r, q, rc);
		refl_backoff(r);
		return;
	}
	refl_ok(r);
	log_debug("kube watch ended resource=%s events=%llu ms=%lld", r->what,
		  (unsigned long long)q->nevents, (long long)lasted);
	/* A server that closes watches at once must not be hammered. */
	if (lasted < KUBE_WATCH_MIN_MS && !q->nevents) {
		refl_backoff(r);
		return;
	}
	r->backoff_ms = 0;
	kube_evtimer(r->step, 0);
}

static void refl_req_done(struct kube_req *q, CURLcode rc)
{
	struct kube_reflector *r = q->r;

	r->req = NULL;
	if (!q->status)
		curl_easy_getinfo(q->easy, CURLINFO_RESPONSE_CODE, &q->status);
	if (q->kind == KUBE_REQ_LIST)
		refl_list_done(r, q, rc);
	else
		refl_watch_done(r, q, rc);
	req_free(q);
}

/* A request finished (curlev_done_fn). */
static void kube_done(CURL *easy, void *priv, CURLcode rc)
{
	if (priv)
		refl_req_done(priv, rc);
}

/* ---- client ---- */

struct kube_client *kube_client_new(struct event_base *base,
				    struct kube_creds *creds,
				    uint32_t timeout_ms)
{
	struct kube_client *cl;
	struct timespec ts;

	cl = xcalloc(1, sizeof(*cl));
	cl->base = base;
	cl->creds = *creds;
	memset(creds, 0, sizeof(*creds));
	cl->timeout_ms = timeout_ms ? timeout_ms : 10000;
	clock_gettime(CLOCK_REALTIME, &ts);
	cl->rng = ((uint64_t)ts.tv_sec << 32) ^ (uint64_t)ts.tv_nsec ^
		  ((uint64_t)getpid() << 16);
	if (!cl->rng)
		cl->rng = 0x9E3779B97F4A7C15ULL;
	if (!(cl->cev = curlev_new(base, kube_done, "kube"))) {
		kube_creds_clear(&cl->creds);
		free(cl);
		return NULL;
	}
	return cl;
}

void kube_client_free(struct kube_client *cl)
{
	if (!cl)
		return;
	curlev_free(cl->cev);
	kube_creds_clear(&cl->creds);
	free(cl);
}

/* ---- reflector ---- */

struct kube_reflector *kube_reflector_new(struct kube_client *cl,
					  const char *path, const char *what,
					  uint32_t resync_ms,
					  kube_refl_fn fn, void *arg)
{
	struct kube_reflector *r = xcalloc(1, sizeof(*r));

	r->cl = cl;
	r->fn = fn;
	r->arg = arg;
	r->resync_ms = resync_ms ? resync_ms : 600000;
	r->path = xstrdup(path);
	r->what = xstrdup(what);
	r->step = evtimer_new(cl->base, refl_step_cb, r);
	r->resync = evtimer_new(cl->base, refl_resync_cb, r);
	r->notify = evtimer_new(cl->base, refl_notify_cb, r);
	if (!r->step || !r->resync || !r->notify)
		xalloc_die(sizeof(struct event *));
	kube_evtimer(r->step, 0);
	return r;
}

void kube_reflector_free(struct kube_reflector *r)
{
	if (!r)
		return;
	if (r->req) {
		curlev_remove(r->cl->cev, r->req->easy);
		req_free(r->req);
	}
	if (r->step)
		event_free(r->step);
	if (r->resync)
		event_free(r->resync);
	if (r->notify)
		event_free(r->notify);
	json_decref(r->store);
	json_decref(r->changed);
	json_decref(r->pending);
	free(r->cont);
	free(r->rv);
	free(r->path);
	free(r->what);
	free(r);
}

void kube_reflector_relist(struct kube_reflector *r)
{
	r->need_relist = true;
	if (r->req && r->req->kind == KUBE_REQ_WATCH) {
		curlev_remove(r->cl->cev, r->req->easy);
		req_free(r->req);
		r->req = NULL;
		kube_evtimer(r->step, 0);
	}
	/* A list in flight, or a retry pending, lists anyway. */
}

json_t *kube_reflector_store(const struct kube_reflector *r)
{
	return r->store;
}

void kube_reflector_stats(const struct kube_reflector *r,
			  struct kube_refl_stats *st)
{
	*st = r->st;
}
