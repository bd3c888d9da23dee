/*
 * fuzz_query.c -- libFuzzer target for the query path: any bytes in,
 * through the parser and the answer writer over UDP and TCP limits, from
 * a snapshot with every kind of data (services of each policy, static
 * records, a delegation with a DS, DNAMEs (one whose substitution is too
 * long), NSID, CH TXT, topology).  Crashes, sanitizer
 * reports and an answer longer than its limit are failures.
 *
 * Build: ./configure CC=clang --enable-fuzzers --enable-sanitizers
 * Run:   tests/fuzz/fuzz_query -max_total_time=60 tests/fuzz/corpus
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/cfg.h"
#include "server/answer.h"
#include "server/compile.h"

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

static const struct snap *snap;
static struct answer_ctx ctx;

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
	unlink(path);
	if (!m)
		abort();
	snap = compile_snapshot(m, NULL, 1, err, sizeof(err));
	if (!snap) {
		fprintf(stderr, "compile: %s\n", err);
		abort();
	}
	model_free(m);
	answer_ctx_init(&ctx, 1);
	return 0;
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
	n = answer_query(&ctx, snap, data, size, (struct sockaddr *)&from,
			 true, out, sizeof(out));
	if (n && n < 12)
		abort();
	return 0;
}
