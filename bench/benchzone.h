/*
 * benchzone.h -- the zone the in-process benchmarks (rrl_cost.c,
 * deep_name.c, compact_cost.c) answer from: bench/qps's 100 services
 * s000-s099 of 3 A + 1 AAAA under bench.example, compiled from a config
 * text.  Header-only, as cputime.h.
 */
#ifndef GSLBD_BENCH_BENCHZONE_H
#define GSLBD_BENCH_BENCHZONE_H

#include <stdio.h>
#include <stdlib.h>

#include "config/cfg.h"
#include "server/compile.h"

static void benchzone_log(void *arg, const char *line)
{
	(void)arg;
	fprintf(stderr, "%s\n", line);
}

/* head: YAML before `zone:`; zone: keys inside `zone:` (indented two
 * spaces); tail: sections after the zone.  Exits on any error. */
static inline struct snap *benchzone_build(const char *head, const char *zone,
					   const char *tail)
{
	char *conf = malloc(1 << 16), err[256];
	size_t n = (size_t)snprintf(conf, 1 << 16,
		"%szone:\n  name: bench.example\n%s  nameservers:\n"
		"    - name: ns1\n      addresses: [192.0.2.253]\n"
		"%sprobe-defaults: { type: none }\nservices:\n",
		head, zone, tail);
	for (int i = 0; i < 100; i++)
		n += (size_t)snprintf(conf + n, (1 << 16) - n,
			"  - name: s%03d\n    endpoints:\n      - region: r1\n"
			"        addresses: [192.0.2.%d, 198.51.100.%d, "
			"203.0.113.%d, \"2001:db8::%x\"]\n",
			i, i + 1, i + 1, i + 1, i + 1);
	struct model *m = cfg_load_string("bench.yaml", conf, benchzone_log,
					  NULL);
	free(conf);
	if (!m)
		exit(1);
	model_targets_build(m);
	struct snap *s = compile_snapshot(m, NULL, 1, err, sizeof(err));
	if (!s) {
		fprintf(stderr, "compile: %s\n", err);
		exit(1);
	}
	model_free(m);
	return s;
}

#endif
