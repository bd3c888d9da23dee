/*
 * rrl_cost.c -- CPU per answer of the UDP answer path with and without
 * rate limiting and cookies, in one process, with no sockets: what the
 * rate-limiting and cookie code adds to an answer, free of the kernel's
 * send and receive costs and of other load on the machine (thread CPU
 * time).  Built and run by bench/rrl-cost.
 *
 * The zone is bench/qps's: 100 services of 3 A + 1 AAAA, queries 80% A,
 * 10% AAAA, 10% NXDOMAIN, from 16 client addresses.  Variants, alternated
 * round by round:
 *   off     answer_query only (rate-limit.responses-per-second: 0)
 *   rrl     answer_query + rrl_check, at a limit nothing reaches (what
 *           server/udp.c does for every answer)
 *   edns    rrl, and every query has an OPT (the cookie's baseline)
 *   cookie  rrl, and every query's OPT carries a valid server cookie
 *           (SipHash-2-4 check, echo)
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/benchzone.h"
#include "bench/cputime.h"
#include "config/cfg.h"
#include "server/answer.h"
#include "server/compile.h"
#include "server/rrl.h"

#define NQ 4096
#define NSRC 16

static uint8_t qbuf[NQ][128];
static size_t qlen[NQ];
static struct sockaddr_in src[NSRC];

static struct snap *build(bool cookies)
{
	char head[160];

	snprintf(head, sizeof(head), "server:\n  cookie-secret: "
		 "\"00112233445566778899aabbccddeeff\"\n  cookies: %s\n",
		 cookies ? "true" : "false");
	return benchzone_build(head, "", "");
}

/* Query i: a name, a type, and (edns) an OPT, with (cookie) a client
 * cookie and room for the server cookie. */
static size_t mkquery(uint8_t *b, int i, bool edns, bool cookie)
{
	char name[32];
	size_t n = 12;
	int k = i % 10;

	snprintf(name, sizeof(name), k == 9 ? "nx%03d" : "s%03d", i % 100);
	memset(b, 0, 12);
	wire_put16(b, (uint16_t)i);
	wire_put16(b + 4, 1);
	b[n++] = (uint8_t)strlen(name);
	memcpy(b + n, name, strlen(name));
	n += strlen(name);
	memcpy(b + n, "\x05" "bench\x07" "example\0", 15);
	n += 15;
	wire_put16(b + n, k == 8 ? DNS_T_AAAA : DNS_T_A);
	wire_put16(b + n + 2, DNS_C_IN);
	n += 4;
	if (edns && !cookie) {
		wire_put16(b + 10, 1);
		static const uint8_t opt[] = { 0, 0, 41, 4, 208, 0, 0, 0, 0,
					       0, 0 };
		memcpy(b + n, opt, sizeof(opt));
		n += sizeof(opt);
	}
	if (cookie) {
		wire_put16(b + 10, 1);
		static const uint8_t opt[] = { 0, 0, 41, 4, 208, 0, 0, 0, 0,
					       0, 28, 0, 10, 0, 24 };
		memcpy(b + n, opt, sizeof(opt));
		n += sizeof(opt);
		memcpy(b + n, "\x01\x02\x03\x04\x05\x06\x07\x08", 8);
		memset(b + n + 8, 0, 16);
		n += 24;
	}
	return n;
}

/* Fill each cookie query's server cookie with the one gslbd gives its
 * source (answer it once and copy the cookie back). */
static void learn(struct answer_ctx *c, const struct snap *s)
{
	static uint8_t out[4096];
	for (int i = 0; i < NQ; i++) {
		size_t n = answer_query(c, s, qbuf[i], qlen[i],
			(struct sockaddr *)&src[i % NSRC], false, out, 4096);
		/* the COOKIE option is the last 24 bytes of the answer */
		memcpy(qbuf[i] + qlen[i] - 16, out + n - 16, 16);
	}
}

enum { V_OFF, V_RRL, V_EDNS, V_COOKIE, V_N };

static double run(int v, struct answer_ctx *c, const struct snap *s,
		  struct rrl_table *t, long n, uint64_t *sink)
{
	static uint8_t out[4096];
	struct rrl_conf rc = { .rps = v == V_OFF ? 0 : 1000000, .slip = 2,
			       .v4_prefix = 24, .v6_prefix = 56 };
	uint32_t now = (uint32_t)time(NULL);

	rrl_conf_masks(&rc);
	double t0 = cpu_ns();

	for (long i = 0; i < n; i++) {
		int k = (int)(i % NQ);
		const struct sockaddr *from =
			(const struct sockaddr *)&src[k % NSRC];
		size_t len = answer_query(c, s, qbuf[k], qlen[k], from, false,
					  out, 4096);
		/* as server/udp.c: only when the limit is on */
		if (len && rc.rps && rrl_check(t, &rc, from, &c->last, now) ==
		    RRL_SLIP)
			len = rrl_slip(out, len, &c->last);
		*sink += len;
	}
	return (cpu_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 9;
	long n = argc > 2 ? atol(argv[2]) : 2000000;
	struct snap *plain = build(false), *ck = build(true);
	struct answer_ctx c;
	struct rrl_table *t = rrl_table_new(16, 12345);
	uint64_t sink = 0;
	double res[V_N][64], ratio[V_N][64];
	static const char *const names[V_N] = { "off", "rrl", "edns",
						"cookie" };

	if (rounds < 1 || rounds > 64 || n < 1)
		return 1;
	answer_ctx_init(&c, 1);
	for (int i = 0; i < NSRC; i++) {
		src[i].sin_family = AF_INET;
		src[i].sin_addr.s_addr = htonl(0xc0a80000u + (uint32_t)i * 256);
	}
	for (int r = 0; r < rounds; r++) {
		for (int v = 0; v < V_N; v++) {
			for (int i = 0; i < NQ; i++)
				qlen[i] = mkquery(qbuf[i], i, v >= V_EDNS,
						  v == V_COOKIE);
			if (v == V_COOKIE)
				learn(&c, ck);
			res[v][r] = run(v, &c, v == V_COOKIE ? ck : plain, t, n,
					&sink);
		}
		for (int v = 0; v < V_N; v++)
			ratio[v][r] = res[v][r] / res[V_OFF][r];
		printf("round %d: off %.1f  rrl %.1f  edns %.1f  cookie %.1f ns "
		       "per answer\n", r + 1, res[V_OFF][r], res[V_RRL][r],
		       res[V_EDNS][r], res[V_COOKIE][r]);
	}
	printf("answer path, thread CPU ns per answer, %d rounds x %ld "
	       "answers, median (min-max); ratio to off within each round\n"
	       "(edns and cookie with rate limiting on; cookie - edns is "
	       "what the cookie costs):\n",
	       rounds, n);
	for (int v = 0; v < V_N; v++) {
		qsort(res[v], (size_t)rounds, sizeof(double), cmp_double);
		qsort(ratio[v], (size_t)rounds, sizeof(double), cmp_double);
		printf("  %-7s %7.1f (%.1f-%.1f)   x%.3f (%.3f-%.3f)\n", names[v],
		       res[v][rounds / 2], res[v][0], res[v][rounds - 1],
		       ratio[v][rounds / 2], ratio[v][0], ratio[v][rounds - 1]);
	}
	rrl_table_free(t);
	snap_free(plain);
	snap_free(ck);
	return (int)(sink & 0);
}
