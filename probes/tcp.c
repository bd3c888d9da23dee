/* tcp.c -- see tcp.h. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>

#include "lib/xalloc.h"
#include "probes/tcp.h"
#include "probes/health.h"

struct tcp_probe {
	int fd;
	struct event *ev;
	int early_err;       /* connect() finished at once: 0 or errno */
	bool early;
	tcp_probe_done_fn fn;
	void *arg;
};

static void tcp_probe_close(struct tcp_probe *tp, bool reset)
{
	if (tp->ev)
		event_free(tp->ev);
	if (tp->fd >= 0) {
		if (reset) {
			/* A health check has nothing to say: an RST instead of
			 * a FIN leaves no TIME_WAIT behind on either side. */
			struct linger lg = { .l_onoff = 1, .l_linger = 0 };
			(void)setsockopt(tp->fd, SOL_SOCKET, SO_LINGER, &lg,
					 sizeof(lg));
		}
		close(tp->fd);
	}
	free(tp);
}

static const char *tcp_probe_reason(int err, char *buf, size_t len)
{
	switch (err) {
	case 0:
		return "ok";
	case ECONNREFUSED:
		return "refused";
	case ETIMEDOUT:
		return "timeout";
	case ENETUNREACH:
	case EHOSTUNREACH:
	case EADDRNOTAVAIL:
		return "unreachable";
	default:
		snprintf(buf, len, "connect error: %s", strerror(err));
		return buf;
	}
}

static void tcp_probe_event(evutil_socket_t fd, short what, void *arg)
{
	struct tcp_probe *tp = arg;
	char buf[HEALTH_REASON_LEN];
	int err;

	if (tp->early) {
		err = tp->early_err;
	} else if (what & EV_TIMEOUT) {
		err = ETIMEDOUT;
	} else {
		socklen_t len = sizeof(err);
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0)
			err = errno;
	}
	tp->fn(tp->arg, err == 0, tcp_probe_reason(err, buf, sizeof(buf)));
	tcp_probe_close(tp, err == 0);
}

struct tcp_probe *tcp_probe_start(struct event_base *base,
				  const struct model_addr *addr, uint16_t port,
				  uint32_t timeout_ms, tcp_probe_done_fn fn,
				  void *arg)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	struct tcp_probe *tp;

	memset(&ss, 0, sizeof(ss));
	if (addr->family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons(port);
		sin->sin_addr = addr->ip.v4;
		sslen = sizeof(*sin);
	} else if (addr->family == AF_INET6) {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons(port);
		sin6->sin6_addr = addr->ip.v6;
		sslen = sizeof(*sin6);
	} else {
		return NULL;
	}

	tp = xcalloc(1, sizeof(*tp));
	tp->fn = fn;
	tp->arg = arg;
	tp->fd = socket(addr->family,
			SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (tp->fd < 0)
		goto fail;
	if (!(tp->ev = event_new(base, tp->fd, EV_WRITE, tcp_probe_event, tp)))
		xalloc_die(sizeof(struct event *));

	if (connect(tp->fd, (struct sockaddr *)&ss, sslen) == 0) {
		tp->early = true;
	} else if (errno != EINPROGRESS) {
		tp->early = true;
		tp->early_err = errno;
	}
	if (tp->early) {
		/* Loopback connects (or refuses) inside connect(); report it
		 * through the loop anyway, so the caller never sees its
		 * callback run before tcp_probe_start returns. */
		event_active(tp->ev, EV_WRITE, 0);
	} else {
		struct timeval tv = {
			.tv_sec = timeout_ms / 1000,
			.tv_usec = (timeout_ms % 1000) * 1000,
		};
		if (event_add(tp->ev, &tv) < 0)
			goto fail;
	}
	return tp;
fail:
	tcp_probe_close(tp, false);
	return NULL;
}

void tcp_probe_cancel(struct tcp_probe *tp)
{
	if (tp)
		tcp_probe_close(tp, false);
}
