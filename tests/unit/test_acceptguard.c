/*
 * test_acceptguard.c -- lib/acceptguard.c: a failed accept pauses the
 * listeners and the pause ends by itself; a listener its owner has
 * blocked (the control API at its connection cap) stays blocked when a
 * pause ends, and unblocking during a pause does not cut it short.
 * Accepting is observed from outside: a client connects (the kernel
 * completes the handshake either way) and the test counts the accept
 * callbacks libevent makes.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <event2/event.h>
#include <event2/listener.h>

#include "lib/acceptguard.h"
#include "tests/unit/tap.h"

static int accepted;
static struct acceptguard *guard;

static void accept_cb(struct evconnlistener *l, evutil_socket_t fd,
		      struct sockaddr *sa, int len, void *arg)
{
	(void)l; (void)sa; (void)len; (void)arg;
	accepted++;
	acceptguard_ok(guard);
	close(fd);
}

static void run_ms(struct event_base *base, int ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };
	event_base_loopexit(base, &tv);
	event_base_dispatch(base);
}

/* Positive expectations wait up to 3 s (a loaded machine); negative
 * ones are bounded by the pause or the block itself. */
static void run_until(struct event_base *base, int want)
{
	for (int i = 0; i < 150 && accepted < want; i++)
		run_ms(base, 20);
}

static int client(const struct sockaddr_in *sin)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd >= 0 && connect(fd, (const struct sockaddr *)sin,
			       sizeof(*sin)) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

int main(void)
{
	struct event_base *base = event_base_new();
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t slen = sizeof(sin);

	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	struct evconnlistener *l = evconnlistener_new_bind(base, accept_cb,
		NULL, LEV_OPT_CLOSE_ON_FREE | LEV_OPT_REUSEABLE, 16,
		(struct sockaddr *)&sin, sizeof(sin));
	if (!ok(base && l, "a listener on loopback"))
		return tap_done();
	getsockname(evconnlistener_get_fd(l), (struct sockaddr *)&sin, &slen);
	guard = acceptguard_new(base, "test");
	acceptguard_watch(guard, l);

	int c1 = client(&sin);
	run_until(base, 1);
	ok(c1 >= 0 && accepted == 1, "accepting");

	/* A failure pauses; the pause (100 ms) ends by itself. */
	acceptguard_failed(guard, EMFILE);
	int c2 = client(&sin);
	run_ms(base, 50);
	ok(accepted == 1, "paused after a failed accept");
	run_until(base, 2);
	ok(c2 >= 0 && accepted == 2, "the pause ends by itself");
	ok(acceptguard_failures(guard) == 1, "one failure counted");

	/* Blocked by the owner, then a failure and its pause: the pause's
	 * end leaves the listener blocked. */
	acceptguard_block(guard, true);
	acceptguard_failed(guard, EMFILE);
	int c3 = client(&sin);
	run_ms(base, 300);
	ok(accepted == 2, "a blocked listener stays blocked when a pause ends");
	acceptguard_block(guard, false);
	run_until(base, 3);
	ok(c3 >= 0 && accepted == 3, "unblocked: accepting again");

	/* Unblocking during a pause waits for the pause's end. */
	acceptguard_block(guard, true);
	acceptguard_failed(guard, EMFILE);   /* the pause is 200 ms now */
	acceptguard_block(guard, false);
	int c4 = client(&sin);
	run_ms(base, 50);
	ok(accepted == 3, "unblocking does not cut a pause short");
	run_until(base, 4);
	ok(c4 >= 0 && accepted == 4, "and the pause ends by itself");

	close(c1);
	close(c2);
	close(c3);
	close(c4);
	acceptguard_free(guard);
	evconnlistener_free(l);
	event_base_free(base);
	return tap_done();
}
