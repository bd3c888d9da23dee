/*
 * deep_name.c -- CPU per answer for query names of growing depth, in one
 * process without sockets (thread CPU time), for a zone without and
 * with a delegation and a DNAME.  A name that does not exist makes the
 * answer path look for a cut, a DNAME and (DNSSEC) a closest encloser
 * among its ancestors: this shows how that grows with the depth.  Built
 * and run by bench/deep-name.
 *
 * Zone: 100 services (s000-s099) of 3 A + 1 AAAA under bench.example; the
 * "cuts" zone adds `sub NS` (a delegation) and `old DNAME`.  Queries: A
 * for a missing name of D labels below the apex (x1.x2...xD), D = 1, 8,
 * 32, 64, 120; the same 4096-query set each round.
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench/benchzone.h"
#include "bench/cputime.h"
#include "config/cfg.h"
#include "server/answer.h"
#include "server/compile.h"
#include "server/wire.h"

#define NQ 1024
static const int depths[] = { 1, 8, 32, 64, 120 };
#define ND (sizeof(depths) / sizeof(depths[0]))

static uint8_t qbuf[NQ][512];
static size_t qlen[NQ];

static struct snap *build(const char *zonefile)
{
	char zone[128] = "";

	if (zonefile)
		snprintf(zone, sizeof(zone), "  zone-file: \"%s\"\n", zonefile);
	return benchzone_build("", zone, "");
}

/* Query i: A for a missing name `depth` labels below the apex. */
static size_t mkquery(uint8_t *b, int i, int depth)
{
	size_t n = 12;

	memset(b, 0, 12);
	wire_put16(b, (uint16_t)i);
	wire_put16(b + 4, 1);
	/* One-letter labels: 120 of them make a 255-byte name.  The first
	 * two vary with i, so answers are not all for one name. */
	for (int d = 0; d < depth; d++) {
		b[n++] = 1;
		b[n++] = (uint8_t)(d == 0 ? 'a' + i % 26 :
				   d == 1 ? 'a' + (i / 26) % 26 : 'x');
	}
	memcpy(b + n, "\x05" "bench\x07" "example\0", 15);
	n += 15;
	wire_put16(b + n, DNS_T_A);
	wire_put16(b + n + 2, DNS_C_IN);
	return n + 4;
}

static double run(struct answer_ctx *c, const struct snap *s, long n,
		  uint64_t *sink)
{
	static uint8_t out[4096];
	struct sockaddr_in from = { .sin_family = AF_INET };
	double t0 = cpu_ns();

	for (long i = 0; i < n; i++) {
		int k = (int)(i % NQ);
		size_t len = answer_query(c, s, qbuf[k], qlen[k],
					  (struct sockaddr *)&from, false, out,
					  sizeof(out));
		if (i < NQ && (len < 12 || (out[3] & 0xf) != 3)) {
			fprintf(stderr, "query %d (%zu bytes): not NXDOMAIN "
				"(rcode %d)\n", k, qlen[k],
				len >= 12 ? out[3] & 0xf : -1);
			exit(1);
		}
		*sink += len;
	}
	return (cpu_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 7;
	long n = argc > 2 ? atol(argv[2]) : 500000;
	char zf[] = "/tmp/gslbd-deepname-XXXXXX";
	int fd = mkstemp(zf);
	static const char zone[] =
		"sub.bench.example. 300 IN NS ns.other.example.\n"
		"old.bench.example. 300 IN DNAME new.example.\n";
	if (fd < 0 || write(fd, zone, sizeof(zone) - 1) !=
	    (ssize_t)(sizeof(zone) - 1))
		return 1;
	close(fd);
	struct snap *zs[2] = { build(NULL), build(zf) };
	unlink(zf);
	static const char *const zn[2] = { "plain", "cuts" };
	struct answer_ctx c;
	uint64_t sink = 0;
	static double res[2][ND][64];

	if (rounds < 1 || rounds > 64 || n < NQ)
		return 1;
	answer_ctx_init(&c, 1);
	for (int r = 0; r < rounds; r++) {
		for (size_t d = 0; d < ND; d++) {
			for (int i = 0; i < NQ; i++)
				qlen[i] = mkquery(qbuf[i], i, depths[d]);
			for (int z = 0; z < 2; z++)
				res[z][d][r] = run(&c, zs[z], n, &sink);
		}
		printf("round %d:", r + 1);
		for (int z = 0; z < 2; z++)
			for (size_t d = 0; d < ND; d++)
				printf(" %s/%d %.0f", zn[z], depths[d],
				       res[z][d][r]);
		printf(" ns\n");
	}
	printf("NXDOMAIN answer path, thread CPU ns per answer by labels "
	       "below the apex, %d rounds x %ld answers, median (min-max), "
	       "and the median's ratio to 1 label:\n", rounds, n);
	for (int z = 0; z < 2; z++) {
		double base = 0;
		for (size_t d = 0; d < ND; d++) {
			qsort(res[z][d], (size_t)rounds, sizeof(double),
			      cmp_double);
			double med = res[z][d][rounds / 2];
			if (!d)
				base = med;
			printf("  %-5s %3d labels %8.1f (%.1f-%.1f)  x%.2f\n",
			       zn[z], depths[d], med, res[z][d][0],
			       res[z][d][rounds - 1], med / base);
		}
	}
	snap_free(zs[0]);
	snap_free(zs[1]);
	return (int)(sink & 0);
}
