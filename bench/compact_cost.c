/*
 * compact_cost.c -- CPU per DO NXDOMAIN answer of the answer path, in one
 * process, no sockets (thread CPU time): the presigned NSEC chain against
 * RFC 9824 compact denial served from the worker's cache and signed
 * online.  Built and run by bench/compact-cost.
 *
 * The zone is bench/qps's (100 services), signed with one P-256 (or,
 * with "ed25519" as the last argument, Ed25519) CSK.  Variants,
 * alternated round by round:
 *   nsec   denial: nsec; 4096 distinct missing names, DO
 *   hit    denial: compact; 64 missing names, repeated (cache hits)
 *   miss   denial: compact, online-sign-rate at its maximum; a new name
 *          for every query (each one signed online)
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "bench/benchzone.h"
#include "bench/cputime.h"
#include "config/cfg.h"
#include "server/answer.h"
#include "server/compile.h"
#include "server/onlinesign.h"

#define NQ 4096

/* A CSK for bench.example in a temporary directory; its base name. */
static char *make_key(ldns_signing_algorithm alg)
{
	static char dir[] = "/tmp/gslbd-compactcost.XXXXXX";
	static char base[sizeof(dir) + 8];
	char path[sizeof(base) + 16];
	ldns_key *k = ldns_key_new_frm_algorithm(alg, 256);
	FILE *f;

	if (!mkdtemp(dir) || !k)
		exit(1);
	ldns_key_set_pubkey_owner(k, ldns_dname_new_frm_str("bench.example."));
	ldns_key_set_flags(k, 257);
	ldns_rr *rr = ldns_key2rr(k);
	snprintf(base, sizeof(base), "%s/K", dir);
	snprintf(path, sizeof(path), "%s.key", base);
	if (!(f = fopen(path, "w")))
		exit(1);
	ldns_rr_print(f, rr);
	fclose(f);
	snprintf(path, sizeof(path), "%s.private", base);
	if (!(f = fopen(path, "w")) || fchmod(fileno(f), 0600) < 0)
		exit(1);
	ldns_key_print(f, k);
	fclose(f);
	ldns_rr_free(rr);
	ldns_key_deep_free(k);
	return base;
}

static void drop_key(char *base)
{
	char p[256];

	snprintf(p, sizeof(p), "%s.key", base);
	unlink(p);
	snprintf(p, sizeof(p), "%s.private", base);
	unlink(p);
	*strrchr(base, '/') = 0;
	rmdir(base);
}

static struct snap *build(const char *key, const char *denial)
{
	char tail[512];

	snprintf(tail, sizeof(tail), "dnssec:\n  keys: [%s]\n  denial: %s\n"
		 "  online-sign-rate: 1000000\n", key, denial);
	return benchzone_build("", "", tail);
}

/* A query for A at <label>.bench.example with DO. */
static size_t mkquery(uint8_t *b, const char *label, uint16_t id)
{
	static const uint8_t opt[] = { 0, 0, 41, 4, 208, 0, 0, 0x80, 0, 0, 0 };
	size_t n = 12, l = strlen(label);

	memset(b, 0, 12);
	wire_put16(b, id);
	wire_put16(b + 4, 1);
	wire_put16(b + 10, 1);
	b[n++] = (uint8_t)l;
	memcpy(b + n, label, l);
	n += l;
	memcpy(b + n, "\x05" "bench\x07" "example\0", 15);
	n += 15;
	wire_put16(b + n, DNS_T_A);
	wire_put16(b + n + 2, DNS_C_IN);
	n += 4;
	memcpy(b + n, opt, sizeof(opt));
	return n + sizeof(opt);
}

enum { V_NSEC, V_HIT, V_MISS, V_N };

static uint8_t qbuf[NQ][96];
static size_t qlen[NQ];

static double run(int v, struct answer_ctx *c, const struct snap *s,
		  long n, int round, uint64_t *sink)
{
	static uint8_t out[4096];
	char label[32];
	uint8_t q[96];

	double t0 = cpu_ns();
	for (long i = 0; i < n; i++) {
		size_t len;
		if (v == V_MISS) {
			/* a name no query asked before: signed online */
			snprintf(label, sizeof(label), "m%d-%ld", round, i);
			len = mkquery(q, label, (uint16_t)i);
			len = answer_query(c, s, q, len, NULL, false, out,
					   4096);
		} else {
			int k = v == V_HIT ? (int)(i % 64) : (int)(i % NQ);
			len = answer_query(c, s, qbuf[k], qlen[k], NULL, false,
					   out, 4096);
		}
		*sink += len;
	}
	return (cpu_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	int rounds = argc > 1 ? atoi(argv[1]) : 7;
	long n = argc > 2 ? atol(argv[2]) : 200000;
	long nmiss = argc > 3 ? atol(argv[3]) : 20000;
	bool ed = argc > 4 && !strcmp(argv[4], "ed25519");
	char *key = make_key(ed ? LDNS_SIGN_ED25519 :
			     LDNS_SIGN_ECDSAP256SHA256);
	struct snap *chain = build(key, "nsec"), *compact = build(key, "compact");
	struct answer_ctx c;
	uint64_t sink = 0;
	double res[V_N][64], ratio[V_N][64];
	static const char *const names[V_N] = { "nsec", "hit", "miss" };
	char label[32];

	drop_key(key);
	if (rounds < 1 || rounds > 64 || n < 1 || nmiss < 1)
		return 1;
	answer_ctx_init(&c, 1);
	c.onsign = onsign_worker_new();
	for (int i = 0; i < NQ; i++) {
		snprintf(label, sizeof(label), "nx%04d", i);
		qlen[i] = mkquery(qbuf[i], label, (uint16_t)i);
	}
	for (int r = 0; r < rounds; r++) {
		res[V_NSEC][r] = run(V_NSEC, &c, chain, n, r, &sink);
		run(V_HIT, &c, compact, 64, r, &sink); /* warm the cache */
		res[V_HIT][r] = run(V_HIT, &c, compact, n, r, &sink);
		res[V_MISS][r] = run(V_MISS, &c, compact, nmiss, r, &sink);
		for (int v = 0; v < V_N; v++)
			ratio[v][r] = res[v][r] / res[V_NSEC][r];
		printf("round %d: nsec %.0f  hit %.0f  miss %.0f ns per answer\n",
		       r + 1, res[V_NSEC][r], res[V_HIT][r], res[V_MISS][r]);
	}
	printf("DO NXDOMAIN answers (%s key), thread CPU ns per answer, %d "
	       "rounds (%ld nsec/hit, %ld miss answers each), median "
	       "(min-max); ratio to nsec within each round:\n",
	       ed ? "Ed25519" : "P-256", rounds, n, nmiss);
	for (int v = 0; v < V_N; v++) {
		qsort(res[v], (size_t)rounds, sizeof(double), cmp_double);
		qsort(ratio[v], (size_t)rounds, sizeof(double), cmp_double);
		printf("  %-5s %8.0f (%.0f-%.0f)   x%.2f (%.2f-%.2f)\n", names[v],
		       res[v][rounds / 2], res[v][0], res[v][rounds - 1],
		       ratio[v][rounds / 2], ratio[v][0], ratio[v][rounds - 1]);
	}
	printf("online signatures %llu, cache hits %llu, fallbacks %llu\n",
	       (unsigned long long)c.st.online[ANSWER_ON_SIGNED],
	       (unsigned long long)c.st.online[ANSWER_ON_HIT],
	       (unsigned long long)c.st.online[ANSWER_ON_FALLBACK]);
	onsign_worker_free(c.onsign);
	snap_free(chain);
	snap_free(compact);
	return (int)(sink & 0);
}
