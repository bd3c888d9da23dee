/*
 * test_resolver.c -- lib/resolver.c against a DNS server in this process
 * (a UDP socket on 127.0.0.1 answered with ldns on the same event base):
 * A and AAAA merged, TTLs clamped, a change called back once and named,
 * a silent server kept stale for keep_ms then dropped, names no longer
 * wanted swept.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <event2/event.h>
#include <ldns/ldns.h>

#include "lib/log.h"
#include "lib/resolver.h"
#include "tests/unit/tap.h"

/* The fake server: one name's A and AAAA, a TTL, or silence. */
static struct {
	int fd;
	char v4[4][16], v6[2][40];
	int n4, n6;
	uint32_t ttl;
	bool silent;
	int queries;
} S;

static int changes;
static struct event_base *base;

static void srv_cb(evutil_socket_t fd, short what, void *arg)
{
	uint8_t buf[512], *out = NULL;
	struct sockaddr_storage from;
	socklen_t flen = sizeof(from);
	ssize_t n = recvfrom(fd, buf, sizeof(buf), 0, (struct sockaddr *)&from,
			     &flen);
	ldns_pkt *q = NULL, *r;
	size_t olen;

	if (n <= 0 || ldns_wire2pkt(&q, buf, (size_t)n) != LDNS_STATUS_OK)
		return;
	S.queries++;
	if (S.silent) {
		ldns_pkt_free(q);
		return;
	}
	ldns_rr *qr = ldns_rr_list_rr(ldns_pkt_question(q), 0);
	ldns_rr_type t = ldns_rr_get_type(qr);
	r = ldns_pkt_new();
	ldns_pkt_set_id(r, ldns_pkt_id(q));
	ldns_pkt_set_qr(r, true);
	ldns_pkt_set_aa(r, true);
	ldns_pkt_set_rd(r, ldns_pkt_rd(q));
	ldns_pkt_push_rr(r, LDNS_SECTION_QUESTION, ldns_rr_clone(qr));
	for (int i = 0; t == LDNS_RR_TYPE_A && i < S.n4; i++) {
		char txt[128];
		ldns_rr *rr;
		snprintf(txt, sizeof(txt), "lb.test. %u IN A %s", S.ttl, S.v4[i]);
		ldns_rr_new_frm_str(&rr, txt, 0, NULL, NULL);
		ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, rr);
	}
	for (int i = 0; t == LDNS_RR_TYPE_AAAA && i < S.n6; i++) {
		char txt[128];
		ldns_rr *rr;
		snprintf(txt, sizeof(txt), "lb.test. %u IN AAAA %s", S.ttl,
			 S.v6[i]);
		ldns_rr_new_frm_str(&rr, txt, 0, NULL, NULL);
		ldns_pkt_push_rr(r, LDNS_SECTION_ANSWER, rr);
	}
	if (ldns_pkt2wire(&out, r, &olen) == LDNS_STATUS_OK)
		sendto(fd, out, olen, 0, (struct sockaddr *)&from, flen);
	free(out);
	ldns_pkt_free(r);
	ldns_pkt_free(q);
}

static void on_change(void *arg)
{
	changes++;
	event_base_loopbreak(base);
}

static void stop_cb(evutil_socket_t fd, short what, void *arg)
{
	event_base_loopbreak(base);
}

/* Run the loop until a change is called back or ms pass. */
static void run_for(int ms)
{
	struct event *t = evtimer_new(base, stop_cb, NULL);
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(t, &tv);
	event_base_dispatch(base);
	event_free(t);
}

/* Until a change is called back (at most ms); whether one was. */
static bool wait_change(int ms)
{
	int before = changes;
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		run_for(50);
		if (changes != before)
			return true;
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if ((t1.tv_sec - t0.tv_sec) * 1000 +
		    (t1.tv_nsec - t0.tv_nsec) / 1000000 > ms)
			return false;
	}
}

static const char *addrs_text(struct resolver *r, const char *name,
			      char *buf, size_t len)
{
	const struct resolver_addr *a;
	size_t n = resolver_get(r, name, &a);

	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		char t[INET6_ADDRSTRLEN];
		inet_ntop(a[i].family, a[i].ip, t, sizeof(t));
		snprintf(buf + strlen(buf), len - strlen(buf), "%s%s",
			 i ? "," : "", t);
	}
	return buf;
}

int main(void)
{
	struct sockaddr_in sin = { .sin_family = AF_INET };
	socklen_t sl = sizeof(sin);
	char server[64], err[256], buf[256];
	const char *servers[1] = { server };
	const char *const *names;
	const struct resolver_addr *ra;
	size_t n;

	log_init(LOG_LVL_ERR, false);
	base = event_base_new();
	sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	S.fd = socket(AF_INET, SOCK_DGRAM, 0);
	if (bind(S.fd, (struct sockaddr *)&sin, sizeof(sin)) < 0 ||
	    getsockname(S.fd, (struct sockaddr *)&sin, &sl) < 0) {
		printf("Bail out! no UDP socket on 127.0.0.1\n");
		return 1;
	}
	snprintf(server, sizeof(server), "127.0.0.1:%u", ntohs(sin.sin_port));
	struct event *sev = event_new(base, S.fd, EV_READ | EV_PERSIST, srv_cb,
				      NULL);
	event_add(sev, NULL);
	strcpy(S.v4[0], "192.0.2.2");
	strcpy(S.v4[1], "192.0.2.1");
	strcpy(S.v4[2], "192.0.2.2");
	S.n4 = 3;
	strcpy(S.v6[0], "2001:db8::1");
	S.n6 = 1;
	S.ttl = 0;

	struct resolver_conf c = { servers, 1, NULL, 200, 400, 600, 150 };
	struct resolver *r = resolver_new(base, &c, on_change, NULL, err,
					  sizeof(err));
	if (!ok(r, "a resolver on a loopback server")) {
		printf("# %s\n", err);
		return tap_done();
	}
	struct resolver_conf bad = { (const char *[]){ "not an address" }, 1,
				     NULL, 200, 400, 600, 150 };
	ok(resolver_configure(r, &bad, err, sizeof(err)) < 0 &&
	   strstr(err, "not an address"), "a bad server is refused");

	resolver_begin(r);
	resolver_want(r, "lb.test");
	resolver_end(r);
	ok(resolver_get(r, "lb.test", &ra)
	   == 0, "nothing before the first answer");
	ok(wait_change(2000), "the first answer is called back");
	is_str(addrs_text(r, "lb.test", buf, sizeof(buf)),
	       "192.0.2.1,192.0.2.2,2001:db8::1",
	       "A and AAAA merged, sorted, each once");
	ok(resolver_take_changes(r, &names, &n) && n == 1 &&
	   !strcmp(names[0], "lb.test"), "the changed name is named");

	/* TTL 0 is clamped to min-ttl (200 ms): asked again soon, and a
	 * change shows. */
	int q0 = S.queries;
	S.n4 = 1;
	ok(wait_change(2000), "a new address set is called back");
	is_str(addrs_text(r, "lb.test", buf, sizeof(buf)),
	       "192.0.2.2,2001:db8::1", "after the TTL: the new addresses");
	ok(S.queries - q0 >= 2, "looked up again after min-ttl");
	resolver_take_changes(r, &names, &n);

	/* An answer that does not change calls nothing back. */
	ok(!wait_change(500), "the same answer again: no call back");

	/* Silence: kept for keep_ms (600 ms), then dropped. */
	S.silent = true;
	ok(wait_change(3000), "a silent server: the name loses its "
	   "addresses after keep-stale");
	ok(resolver_get(r, "lb.test", &ra)
	   == 0, "no addresses now");
	struct resolver_stats st;
	resolver_stats(r, &st);
	ok(st.failed == 1 && st.failures >= 2, "counted as failed");
	S.silent = false;
	ok(wait_change(3000), "the server back: addresses back");
	is_str(addrs_text(r, "lb.test", buf, sizeof(buf)),
	       "192.0.2.2,2001:db8::1", "the last answer's addresses");

	/* A name no longer wanted is swept; a new one looked up. */
	resolver_begin(r);
	resolver_want(r, "other.test");
	resolver_end(r);
	resolver_stats(r, &st);
	ok(st.names == 1 && resolver_get(r, "lb.test", &ra) == 0,
	   "a name not wanted again is dropped");
	run_for(300);
	resolver_free(r);
	event_free(sev);
	close(S.fd);
	event_base_free(base);
	return tap_done();
}
