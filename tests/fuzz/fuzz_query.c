/*
 * fuzz_query.c -- libFuzzer target for the query path: any bytes in,
 * through the parser and the answer writer over UDP and TCP limits, from
 * a snapshot with every kind of data (services of each policy, static
 * records, a delegation with a DS, DNAMEs (one whose substitution is too
 * long), NSID, CH TXT, topology), and from the same zone signed (a key
 * made at start: RRSIGs, NSEC proofs, referrals with DO).  Crashes,
 * sanitizer reports and an answer longer than its limit are failures.
 *
 * Build: ./configure CC=clang --enable-fuzzers --enable-sanitizers
 * Run:   tests/fuzz/fuzz_query -max_total_time=60 tests/fuzz/corpus
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ldns/ldns.h>

#include "config/cfg.h"
#include "server/answer.h"
#include "server/onlinesign.h"
#include "server/compile.h"
#include "server/rrl.h"

static const char conf[] =
	"server:\n"
	"  listen: [\"127.0.0.1:5300\"]\n"
	"  identity: fuzz\n"
	"  version: fuzz\n"
	"  nsid: fuzz-nsid\n"
	"zone:\n"
	"  name: z.test\n"
	"  nameservers:\n"
	"    - name: ns1\n"
	"      addresses: [192.0.2.1, \"2001:db8::1\"]\n"
	"  zone-file: %s\n"
	"topology:\n"
	"  - region: a\n"
	"    subnets: [10.0.0.0/8, \"2001:db8::/32\"]\n"
	"  - region: b\n"
	"    subnets: [10.1.0.0/16]\n"
	"services:\n"
	"  - name: all\n"
	"    endpoints:\n"
	"      - region: a\n"
	"        addresses: [192.0.2.10, 192.0.2.11, \"2001:db8::10\"]\n"
	"      - region: b\n"
	"        addresses: [192.0.2.20]\n"
	"  - name: fo\n"
	"    policy: failover\n"
	"    endpoints:\n"
	"      - region: a\n"
	"        priority: 2\n"
	"        addresses: [192.0.2.30]\n"
	"      - region: b\n"
	"        addresses: [192.0.2.31]\n"
	"  - name: w\n"
	"    policy: weighted\n"
	"    endpoints:\n"
	"      - region: a\n"
	"        weight: 3\n"
	"        addresses: [192.0.2.40]\n"
	"      - region: b\n"
	"        addresses: [\"2001:db8::41\"]\n"
	"  - name: topo.deep.er\n"
	"    policy: topology\n"
	"    max-answers: 1\n"
	"    endpoints:\n"
	"      - region: a\n"
	"        addresses: [192.0.2.50, 192.0.2.51]\n"
	"      - region: b\n"
	"        addresses: [192.0.2.52]\n";

/* The zone file: written to a temporary file at start. */
static const char zone[] =
	"txt TXT \"x\"\n"
	"dn DNAME t.example.\n"
	"apex-dn DNAME z.test.\n"
	"long DNAME "
	"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa."
	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb."
	"ccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc.d.\n"
	"sub NS ns.sub\n"
	"sub DS 12345 13 2 "
	"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n"
	"ns.sub A 192.0.2.77\n";

static const struct snap *snap, *signed_snap, *compact_snap;
static struct answer_ctx ctx;
static struct rrl_table *rrl;

/* A CSK for z.test in a fresh directory; its base name. */
static char *make_key(void)
{
	static char dir[] = "/tmp/gslbd-fuzz-key.XXXXXX";
	static char base[sizeof(dir) + 16];
	char path[sizeof(base) + 16];
	ldns_key *k = ldns_key_new_frm_algorithm(LDNS_SIGN_ECDSAP256SHA256, 256);
	ldns_rdf *owner = ldns_dname_new_frm_str("z.test.");
	FILE *f;

	if (!mkdtemp(dir) || !k || !owner)
		abort();
	ldns_key_set_pubkey_owner(k, owner);
	ldns_key_set_flags(k, 257);
	ldns_rr *rr = ldns_key2rr(k);
	snprintf(base, sizeof(base), "%s/Kz", dir);
	snprintf(path, sizeof(path), "%s.key", base);
	if (!rr || !(f = fopen(path, "w")))
		abort();
	ldns_rr_print(f, rr);
	fclose(f);
	snprintf(path, sizeof(path), "%s.private", base);
	if (!(f = fopen(path, "w")) || fchmod(fileno(f), 0600) < 0)
		abort();
	ldns_key_print(f, k);
	fclose(f);
	ldns_rr_free(rr);
	ldns_key_deep_free(k);
	return base;
}

static void quiet(void *arg, const char *line)
{
	fprintf(stderr, "%s\n", line);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[256], path[] = "/tmp/gslbd-fuzz-zone-XXXXXX";
	char text[sizeof(conf) + sizeof(path)];
	int fd = mkstemp(path);
	struct model *m;

	if (fd < 0 || write(fd, zone, sizeof(zone) - 1) !=
	    (ssize_t)(sizeof(zone) - 1) || close(fd) < 0)
		abort();
	snprintf(text, sizeof(text), conf, path);
	m = cfg_load_string("fuzz.yaml", text, quiet, NULL);
	if (!m)
		abort();
	snap = compile_snapshot(m, NULL, 1, err, sizeof(err));
	if (!snap) {
		fprintf(stderr, "compile: %s\n", err);
		abort();
	}
	model_free(m);

	/* The same zone (the DS and DNAMEs too), signed. */
	char *base = make_key();
	size_t len = sizeof(text) + strlen(base) + 32;
	char *sconf = malloc(len);
	snprintf(sconf, len, "%sdnssec:\n  keys: [%s]\n", text, base);
	if (!(m = cfg_load_string("fuzz-signed.yaml", sconf, quiet, NULL)))
		abort();
	signed_snap = compile_snapshot(m, NULL, 1, err, sizeof(err));
	if (!signed_snap) {
		fprintf(stderr, "compile (signed): %s\n", err);
		abort();
	}
	model_free(m);
	free(sconf);

	/* And with RFC 9824 compact denial, signing online: the bucket
	 * keeps the fuzzer fast (200 signatures a second at most), the
	 * cache and the chain fallback get their share. */
	len = sizeof(text) + strlen(base) + 96;
	sconf = malloc(len);
	snprintf(sconf, len, "%sdnssec:\n  keys: [%s]\n  denial: compact\n"
		 "  online-sign-rate: 200\n", text, base);
	if (!(m = cfg_load_string("fuzz-compact.yaml", sconf, quiet, NULL)))
		abort();
	unlink(path);
	compact_snap = compile_snapshot(m, NULL, 1, err, sizeof(err));
	if (!compact_snap || !compact_snap->onsign) {
		fprintf(stderr, "compile (compact): %s\n", err);
		abort();
	}
	model_free(m);
	free(sconf);
	/* The keys were read at load: the files are not needed any more. */
	char kpath[256];
	snprintf(kpath, sizeof(kpath), "%s.key", base);
	unlink(kpath);
	snprintf(kpath, sizeof(kpath), "%s.private", base);
	unlink(kpath);
	*strrchr(base, '/') = 0;
	rmdir(base);
	answer_ctx_init(&ctx, 1);
	ctx.onsign = onsign_worker_new();
	rrl = rrl_table_new(4, 1);
	return 0;
}

/* Rate limiting on the UDP answer: counting any answer, and cutting it
 * down from the offsets the writer recorded, must stay inside it. */
static void fuzz_rrl(uint8_t *out, size_t n, const struct sockaddr *from)
{
	static struct rrl_conf c = { .rps = 1, .slip = 1,
				     .v4_prefix = 24, .v6_prefix = 56 };

	if (!n)
		return;
	rrl_conf_masks(&c);
	if (rrl_check(rrl, &c, from, &ctx.last, 1) == RRL_SLIP) {
		size_t m = rrl_slip(out, n, &ctx.last);
		if (m < 12 || m > n)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[65535];
	struct sockaddr_in from = { .sin_family = AF_INET };

	from.sin_addr.s_addr = htonl(0x0a010203);
	size_t n = answer_query(&ctx, snap, data, size,
				(struct sockaddr *)&from, false, out, 4096);
	if (n > 4096)
		abort();
	fuzz_rrl(out, n, (struct sockaddr *)&from);
	n = answer_query(&ctx, snap, data, size, (struct sockaddr *)&from,
			 true, out, sizeof(out));
	if (n && n < 12)
		abort();
	n = answer_query(&ctx, signed_snap, data, size,
			 (struct sockaddr *)&from, false, out, 4096);
	if (n > 4096)
		abort();
	n = answer_query(&ctx, signed_snap, data, size,
			 (struct sockaddr *)&from, true, out, sizeof(out));
	if (n && n < 12)
		abort();
	n = answer_query(&ctx, compact_snap, data, size,
			 (struct sockaddr *)&from, false, out, 4096);
	if (n > 4096)
		abort();
	n = answer_query(&ctx, compact_snap, data, size,
			 (struct sockaddr *)&from, true, out, sizeof(out));
	if (n && n < 12)
		abort();
	return 0;
}
