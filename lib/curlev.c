/* curlev.c -- libcurl multi on libevent (curlev.h); the pattern of
 * curl's docs/examples/hiperfifo.c. */
#include "config.h"

#include <stdlib.h>

#include <event2/event.h>

#include "lib/curlev.h"
#include "lib/log.h"
#include "lib/xalloc.h"

/* A socket curl asked us to watch. */
struct curlev_sock {
	struct curlev_sock *prev, *next;
	short kind;          /* EV_READ/EV_WRITE bits of ev */
	struct event *ev;
};

struct curlev {
	struct event_base *base;
	CURLM *multi;
	struct event *timer; /* curl's single timeout */
	int running;
	struct curlev_sock *socks;
	curlev_done_fn done;
	const char *what;
};

static void curlev_check_done(struct curlev *c)
{
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(c->multi, &left))) {
		void *priv = NULL;
		CURL *easy;
		CURLcode rc;

		if (msg->msg != CURLMSG_DONE)
			continue;
		/* msg dies with remove_handle: take what we need first. */
		easy = msg->easy_handle;
		rc = msg->data.result;
		curl_easy_getinfo(easy, CURLINFO_PRIVATE, (char **)&priv);
		curl_multi_remove_handle(c->multi, easy);
		c->done(easy, priv, rc);
	}
}

static void curlev_act(struct curlev *c, curl_socket_t fd, int action)
{
	CURLMcode mc = curl_multi_socket_action(c->multi, fd, action,
						&c->running);
	if (mc != CURLM_OK)
		log_warn("%s: curl socket action failed error=%s", c->what,
			 curl_multi_strerror(mc));
	curlev_check_done(c);
}

static void curlev_sock_event(evutil_socket_t fd, short what, void *arg)
{
	curlev_act(arg, fd, ((what & EV_READ) ? CURL_CSELECT_IN : 0) |
			    ((what & EV_WRITE) ? CURL_CSELECT_OUT : 0));
}

static void curlev_timer_event(evutil_socket_t fd, short what, void *arg)
{
	curlev_act(arg, CURL_SOCKET_TIMEOUT, 0);
}

static void curlev_sock_free(struct curlev *c, struct curlev_sock *s)
{
	if (s->prev)
		s->prev->next = s->next;
	else
		c->socks = s->next;
	if (s->next)
		s->next->prev = s->prev;
	if (s->ev)
		event_free(s->ev);
	free(s);
}

/* CURLMOPT_SOCKETFUNCTION: start, change or stop watching one socket. */
static int curlev_sock_cb(CURL *easy, curl_socket_t fd, int what,
			  void *userp, void *socketp)
{
	struct curlev *c = userp;
	struct curlev_sock *s = socketp;
	short kind;

	if (what == CURL_POLL_REMOVE) {
		if (s)
			curlev_sock_free(c, s);
		return 0;
	}
	kind = ((what & CURL_POLL_IN) ? EV_READ : 0) |
	       ((what & CURL_POLL_OUT) ? EV_WRITE : 0);
	if (!s) {
		s = xcalloc(1, sizeof(*s));
		s->next = c->socks;
		if (c->socks)
			c->socks->prev = s;
		c->socks = s;
		if (curl_multi_assign(c->multi, fd, s) != CURLM_OK) {
			curlev_sock_free(c, s);
			return -1;
		}
	} else if (s->ev && s->kind == kind) {
		return 0;
	}
	/* A fresh event rather than event_assign(): this may run inside the
	 * old event's own callback, where reassigning it is not allowed. */
	if (s->ev)
		event_free(s->ev);
	s->ev = event_new(c->base, fd, kind | EV_PERSIST, curlev_sock_event, c);
	if (!s->ev)
		xalloc_die(sizeof(struct event *));
	if (event_add(s->ev, NULL) < 0)
		return -1;
	s->kind = kind;
	return 0;
}

/* CURLMOPT_TIMERFUNCTION: curl wants one wake-up, or none (-1).  Never act
 * from in here (curl forbids re-entry): a zero timeout runs on the next
 * loop turn. */
static int curlev_timer_cb(CURLM *multi, long timeout_ms, void *userp)
{
	struct curlev *c = userp;
	struct timeval tv;

	if (timeout_ms < 0) {
		evtimer_del(c->timer);
		return 0;
	}
	tv.tv_sec = timeout_ms / 1000;
	tv.tv_usec = (timeout_ms % 1000) * 1000;
	return evtimer_add(c->timer, &tv) < 0 ? -1 : 0;
}

struct curlev *curlev_new(struct event_base *base, curlev_done_fn done,
			  const char *what)
{
	struct curlev *c;

	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		return NULL;
	c = xcalloc(1, sizeof(*c));
	c->base = base;
	c->done = done;
	c->what = what;
	c->timer = evtimer_new(base, curlev_timer_event, c);
	c->multi = curl_multi_init();
	if (!c->timer || !c->multi ||
	    curl_multi_setopt(c->multi, CURLMOPT_SOCKETFUNCTION,
			      curlev_sock_cb) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_SOCKETDATA, c) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERFUNCTION,
			      curlev_timer_cb) != CURLM_OK ||
	    curl_multi_setopt(c->multi, CURLMOPT_TIMERDATA, c) != CURLM_OK)
		goto fail;
	return c;
fail:
	if (c->multi)
		curl_multi_cleanup(c->multi);
	if (c->timer)
		event_free(c->timer);
	free(c);
	curl_global_cleanup();
	return NULL;
}

void curlev_free(struct curlev *c)
{
	if (!c)
		return;
	curl_multi_cleanup(c->multi);
	/* Sockets curl did not say goodbye to. */
	while (c->socks)
		curlev_sock_free(c, c->socks);
	event_free(c->timer);
	free(c);
	curl_global_cleanup();
}

int curlev_keep_connections(struct curlev *c, long n)
{
	return curl_multi_setopt(c->multi, CURLMOPT_MAXCONNECTS, n) ==
		CURLM_OK ? 0 : -1;
}

int curlev_add(struct curlev *c, CURL *easy)
{
	return curl_multi_add_handle(c->multi, easy) == CURLM_OK ? 0 : -1;
}

void curlev_remove(struct curlev *c, CURL *easy)
{
	curl_multi_remove_handle(c->multi, easy);
}
