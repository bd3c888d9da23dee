/*
 * test_probe_spec.c -- the probe settings table (config/probe_spec.c):
 * every row read from YAML and from annotation text, stored in the cache
 * file and read back; layering; range errors; and that equal, cmp and
 * hash agree.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config/cfg.h"
#include "config/probe_spec.h"
#include "kube/cache.h"
#include "lib/parse.h"
#include "tests/unit/tap.h"

/* Lines 1-4: a zone; a probe block follows at line 5. */
#define ZONE \
	"zone:\n" \
	"  name: example.org\n" \
	"  nameservers:\n" \
	"    - name: ns1.example.net.\n"

/* One value other than the default for every setting: as a YAML probe
 * block writes it, and as text (an annotation) writes it. */
static const struct sample {
	const char *key, *yaml, *text;
} samples[] = {
	{ "type", "https", "https" },
	{ "port", "8443", "8443" },
	{ "interval", "2s", "2000ms" },
	{ "timeout", "300ms", "300ms" },
	{ "rise", "3", "3" },
	{ "fall", "4", "4" },
	{ "jitter", "50ms", "50ms" },
	{ "method", "HEAD", "HEAD" },
	{ "path", "/healthz?x=1", "/healthz?x=1" },
	{ "host", "probe.example.net", "probe.example.net" },
	{ "expect-status", "[204, \"300-302\"]", "204, 300-302" },
	{ "expect-body", "\"all good\"", "all good" },
	{ "headers", "[\"X-Probe: gslbd, 1\"]", "X-Probe: gslbd, 1" },
	{ "tls-verify", "false", "off" },
	{ "ca-file", "/etc/gslbd/ca.pem", "/etc/gslbd/ca.pem" },
	{ "fast-interval", "100ms", "100ms" },
	{ "keepalive", "true", "yes" },
};
#define NSAMPLES (sizeof(samples) / sizeof(samples[0]))

static char errs[4][512];
static int nerrs;

static void collect(void *arg, const char *line)
{
	if (nerrs < 4)
		snprintf(errs[nerrs], sizeof(errs[0]), "%s", line);
	nerrs++;
}

static struct model *load(const char *yaml)
{
	nerrs = 0;
	return cfg_load_string("t.yaml", yaml, collect, NULL);
}

static const struct sample *sample_of(const char *key)
{
	for (size_t i = 0; i < NSAMPLES; i++)
		if (!strcmp(samples[i].key, key))
			return &samples[i];
	return NULL;
}

/* ---- the table itself ---- */

static void test_table(void)
{
	bool bits = true, keys = true, found = true, samples_ok = true;

	for (size_t i = 0; i < PROBE_SPEC_NFIELDS; i++) {
		const struct probe_spec_field *f = &probe_spec_fields[i];
		bits &= f->bit == 1u << i;
		found &= probe_spec_field(f->key) == f;
		samples_ok &= sample_of(f->key) != NULL;
		for (size_t j = 0; j < i; j++)
			keys &= strcmp(f->key, probe_spec_fields[j].key) &&
				strcmp(f->cache_key,
				       probe_spec_fields[j].cache_key);
	}
	ok(bits, "row i describes PS_* bit 1 << i");
	ok(keys, "YAML keys and cache keys are unique");
	ok(found, "probe_spec_field finds each row by its key");
	ok(!probe_spec_field("tyep"), "...and no row for an unknown key");
	ok(samples_ok && NSAMPLES == PROBE_SPEC_NFIELDS,
	   "every row has a sample below");
}

/* ---- every row: YAML -> spec -> cache JSON -> spec ---- */

/* sample s resolved from a YAML probe-defaults block; NULL on error. */
static bool resolve_yaml(const struct sample *s, struct probe_spec *out)
{
	char yaml[512];
	struct model *m;
	bool good;

	snprintf(yaml, sizeof(yaml), ZONE "probe-defaults:\n  %s: %s\n",
		 s->key, s->yaml);
	m = load(yaml);
	good = m && m->probe_defaults.set == probe_spec_field(s->key)->bit;
	if (good) {
		probe_spec_copy(out, &m->probe_defaults);
		probe_spec_finish(out);
	}
	if (!m)
		printf("#   %s\n", errs[0]);
	model_free(m);
	return good;
}

static void test_round_trip(struct probe_spec *resolved)
{
	struct probe_spec dflt = { 0 };

	probe_spec_finish(&dflt);
	for (size_t i = 0; i < PROBE_SPEC_NFIELDS; i++) {
		const struct probe_spec_field *f = &probe_spec_fields[i];
		const struct sample *s = sample_of(f->key);
		struct probe_spec *y = &resolved[i], t = { 0 }, back;
		char what[128], err[PARSE_ERRLEN];
		json_t *j;

		snprintf(what, sizeof(what), "%s: YAML sets only its bit",
			 f->key);
		if (!ok(resolve_yaml(s, y), what))
			continue;
		snprintf(what, sizeof(what), "%s: the value changes the spec",
			 f->key);
		ok(probe_spec_cmp(y, &dflt) != 0, what);

		j = kube_cache_probe_json(y);
		snprintf(what, sizeof(what), "%s: cache JSON and back is "
			 "equal, same set bits, same hash", f->key);
		ok(j && kube_cache_probe_read(j, &back) == 0 &&
		   probe_spec_equal(y, &back) && y->set == back.set &&
		   probe_spec_hash(y) == probe_spec_hash(&back), what);
		json_decref(j);
		probe_spec_clear(&back);

		snprintf(what, sizeof(what), "%s: text '%s' reads as the YAML "
			 "does", f->key, s->text);
		int rc = probe_spec_parse(&t, f, s->text, err, sizeof(err));
		bool given = t.set == f->bit;

		probe_spec_finish(&t);
		ok(rc == 0 && given && probe_spec_equal(&t, y), what);
		probe_spec_clear(&t);
	}
	probe_spec_clear(&dflt);
}

/* ---- defaults and layering ---- */

static void test_defaults(void)
{
	struct probe_spec ps = { 0 };
	bool good = true;

	probe_spec_finish(&ps);
	is_int(ps.set, 0, "finish fills defaults without marking them given");
	for (size_t i = 0; i < PROBE_SPEC_NFIELDS; i++) {
		const struct probe_spec_field *f = &probe_spec_fields[i];
		if (!(f->flags & PSF_DFLT))
			continue;
		if (f->kind == PSK_STR)
			good &= !strcmp(*probe_spec_str(&ps, f), f->dflt_text);
		else if (f->kind != PSK_STATUS)
			good &= probe_spec_num(&ps, f) == f->dflt;
	}
	ok(good, "every default in the table is what finish fills");
	ok(ps.nstatus == 1 && ps.status[0].lo == 200 &&
	   ps.status[0].hi == 399 && ps.port == 80 && !ps.host &&
	   !ps.nheaders, "status 200-399, port 80, no host, no headers");
	probe_spec_clear(&ps);
}

static void test_overlay(const struct probe_spec *resolved)
{
	struct model *m = load(ZONE
		"probe-defaults:\n"
		"  interval: 2s\n"
		"  path: /a\n"
		"  headers: [\"X-A: 1\"]\n"
		"services:\n"
		"  - name: www\n"
		"    probe: {path: /b, rise: 3, headers: []}\n"
		"    endpoints:\n"
		"      - region: eu\n"
		"        addresses: [192.0.2.1]\n"
		"        probe: {rise: 4, port: 8080}\n");
	const struct probe_spec *e = m ? &m->svcs[0].eps[0].probe : NULL;
	bool good = true;

	ok(e && e->interval_ms == 2000 && !strcmp(e->path, "/b") &&
	   e->rise == 4 && e->port == 8080 && e->fall == PROBE_DEFAULT_FALL,
	   "endpoint over service over probe-defaults over built-ins");
	ok(e && e->nheaders == 0 && (e->set & PS_HEADERS),
	   "an empty header list overrides the inherited one");
	model_free(m);

	/* Each sample layer over a finished spec is the YAML result. */
	for (size_t i = 0; i < PROBE_SPEC_NFIELDS; i++) {
		const struct probe_spec_field *f = &probe_spec_fields[i];
		struct probe_spec base = { 0 }, layer = { 0 };
		char err[PARSE_ERRLEN];

		probe_spec_finish(&base);
		good &= probe_spec_parse(&layer, f, sample_of(f->key)->text,
					 err, sizeof(err)) == 0;
		probe_spec_overlay(&base, &layer);
		good &= base.set == f->bit;
		probe_spec_finish(&base);
		good &= probe_spec_equal(&base, &resolved[i]);
		probe_spec_clear(&base);
		probe_spec_clear(&layer);
	}
	ok(good, "overlay carries each setting, and only its bit");
}

/* ---- equal, cmp and hash agree ---- */

static int sgn(int x)
{
	return (x > 0) - (x < 0);
}

static void test_order(const struct probe_spec *resolved)
{
	struct probe_spec all[PROBE_SPEC_NFIELDS + 2] = { { 0 } };
	size_t n = PROBE_SPEC_NFIELDS + 2, distinct = 0;
	bool agree = true, anti = true, trans = true, hashes = true;

	for (size_t i = 0; i < PROBE_SPEC_NFIELDS; i++)
		probe_spec_copy(&all[i], &resolved[i]);
	probe_spec_finish(&all[n - 2]);
	probe_spec_copy(&all[n - 1], &resolved[0]);
	all[n - 1].set = 0; /* set bits are not compared */
	for (size_t a = 0; a < n; a++) {
		bool unique = true;
		for (size_t b = 0; b < n; b++) {
			int c = probe_spec_cmp(&all[a], &all[b]);
			agree &= (c == 0) == probe_spec_equal(&all[a], &all[b]);
			anti &= sgn(c) ==
				-sgn(probe_spec_cmp(&all[b], &all[a]));
			hashes &= c != 0 || probe_spec_hash(&all[a]) ==
					    probe_spec_hash(&all[b]);
			if (b < a && probe_spec_hash(&all[a]) ==
				     probe_spec_hash(&all[b]))
				unique = false;
			for (size_t k = 0; k < n; k++)
				trans &= !(c < 0 && probe_spec_cmp(&all[b],
					   &all[k]) < 0) ||
					 probe_spec_cmp(&all[a], &all[k]) < 0;
		}
		distinct += unique;
	}
	ok(agree, "cmp is 0 exactly when equal");
	ok(anti, "cmp(a, b) is -cmp(b, a)");
	ok(trans, "cmp is transitive");
	ok(hashes, "equal specs hash equal, set bits aside");
	is_int(distinct, n - 1, "the different specs hash apart");
	for (size_t i = 0; i < n; i++)
		probe_spec_clear(&all[i]);
}

static void test_order_lists(void)
{
	struct probe_spec a = { 0 }, b = { 0 };
	const struct probe_spec_field *st = probe_spec_field("expect-status");
	const struct probe_spec_field *hd = probe_spec_field("headers");
	char err[PARSE_ERRLEN];

	probe_spec_parse(&a, st, "200", err, sizeof(err));
	probe_spec_parse(&b, st, "200,300", err, sizeof(err));
	ok(probe_spec_cmp(&a, &b) < 0 && !probe_spec_equal(&a, &b) &&
	   probe_spec_hash(&a) != probe_spec_hash(&b),
	   "a list before a longer one it starts");
	probe_spec_clear(&a);
	probe_spec_clear(&b);
	probe_spec_parse_item(&a, hd, "A: 1", err, sizeof(err));
	probe_spec_parse_item(&a, hd, "B: 2", err, sizeof(err));
	probe_spec_parse_item(&b, hd, "B: 2", err, sizeof(err));
	probe_spec_parse_item(&b, hd, "A: 1", err, sizeof(err));
	ok(probe_spec_cmp(&a, &b) < 0 && probe_spec_hash(&a) !=
	   probe_spec_hash(&b), "header order counts");
	probe_spec_clear(&a);
	probe_spec_clear(&b);
	b.body = strdup("");
	ok(probe_spec_cmp(&a, &b) < 0 && probe_spec_hash(&a) !=
	   probe_spec_hash(&b), "an unset string before an empty one");
	probe_spec_clear(&b);
}

/* ---- errors ---- */

static void test_ranges(void)
{
	for (size_t i = 0; i < PROBE_SPEC_NFIELDS; i++) {
		const struct probe_spec_field *f = &probe_spec_fields[i];
		const char *u = f->kind == PSK_MS ? "ms" : "";
		unsigned long long out[2] = { f->lo - 1, f->hi + 1 };

		if (f->kind != PSK_UINT && f->kind != PSK_MS)
			continue;
		for (int k = f->lo ? 0 : 1; k < 2; k++) {
			struct probe_spec ps = { 0 };
			char v[32], want[256], line[512], yaml[256];
			char err[PARSE_ERRLEN], what[128];
			size_t col = strlen("  ") + strlen(f->key) +
				     strlen(": ") + 1;
			struct model *m;

			snprintf(v, sizeof(v), "%llu%s", out[k], u);
			snprintf(want, sizeof(want), "%s is out of range "
				 "(%llu%s-%llu%s)", v,
				 (unsigned long long)f->lo, u,
				 (unsigned long long)f->hi, u);
			snprintf(what, sizeof(what), "%s %s: out of range, "
				 "spec untouched", f->key, v);
			ok(probe_spec_parse(&ps, f, v, err, sizeof(err)) ==
			   -1 && !strcmp(err, want) && ps.set == 0, what);

			snprintf(yaml, sizeof(yaml), ZONE "probe-defaults:\n"
				 "  %s: %s\n", f->key, v);
			snprintf(line, sizeof(line), "t.yaml:6:%zu: "
				 "probe-defaults.%s: %s", col, f->key, want);
			snprintf(what, sizeof(what), "%s %s: one YAML error, "
				 "at its line:column", f->key, v);
			m = load(yaml);
			if (!ok(!m && nerrs == 1 && !strcmp(errs[0], line),
				what))
				printf("#   got %s\n#  want %s\n", errs[0],
				       line);
			model_free(m);
		}
	}
}

static void test_bad_values(void)
{
	static const struct { const char *key, *text, *msg; } bad[] = {
		{ "type", "icmp",
		  "unknown probe type 'icmp' (none, http, https, tcp)" },
		{ "port", "80x", "expected a number" },
		{ "interval", "soon", "bad duration 'soon' (a number with a "
		  "unit: 500ms, 2s, 1m, 1h, 1d, 1w; bare numbers are "
		  "seconds)" },
		{ "method", "POST", "unknown method 'POST' (GET, HEAD)" },
		{ "path", "healthz", "'healthz' must start with '/'" },
		{ "host", "a b", "spaces or control characters in 'a b'" },
		{ "expect-status", "200,600", "bad status '600' (a code "
		  "100-599 or a range like 200-399)" },
		{ "expect-status", " , ", "bad status '' (a code 100-599 or "
		  "a range like 200-399)" },
		{ "expect-status", "", "empty list (omit the key for "
		  "200-399)" },
		{ "expect-body", "", "empty string" },
		{ "headers", "NoColon", "bad header 'NoColon' (\"Name: "
		  "value\")" },
		{ "tls-verify", "maybe", "expected a boolean (true or false)" },
	};
	char err[PARSE_ERRLEN], what[160];
	struct probe_spec ps = { 0 };

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(what, sizeof(what), "%s '%s': %s", bad[i].key,
			 bad[i].text, bad[i].msg);
		err[0] = '\0';
		if (!ok(probe_spec_parse(&ps, probe_spec_field(bad[i].key),
					 bad[i].text, err, sizeof(err)) == -1 &&
			!strcmp(err, bad[i].msg) && ps.set == 0, what))
			printf("#   got %s\n", err);
	}
	ok(probe_spec_parse(&ps, probe_spec_field("expect-status"),
			    ",200,, 301-302 ,", err, sizeof(err)) == 0 &&
	   ps.nstatus == 2 && ps.status[1].hi == 302,
	   "empty status items are skipped, spaces around items ignored");
	probe_spec_clear(&ps);
}

static void test_cache_read(void)
{
	static const char *const damaged[] = {
		"[]", "{\"set\": -1}", "{\"type\": \"ftp\"}",
		"{\"port\": 65536}", "{\"interval_ms\": 4294967296}",
		"{\"rise\": \"2\"}", "{\"path\": 5}", "{\"tls_verify\": 1}",
		"{\"status\": [[99, 200]]}", "{\"status\": [200]}",
		"{\"status\": {}}", "{\"headers\": [\"NoColon\"]}",
		"{\"headers\": [5]}",
	};
	struct probe_spec ps;
	json_t *j;
	bool refused = true;

	j = json_loads("{\"set\": 7, \"type\": \"tcp\", \"port\": 25, "
		       "\"method\": null}", 0, NULL);
	ok(kube_cache_probe_read(j, &ps) == 0 && ps.type == PROBE_TCP &&
	   ps.port == 25 && ps.interval_ms == PROBE_DEFAULT_INTERVAL_MS &&
	   ps.set == (PS_TYPE | PS_PORT) && !strcmp(ps.method, "GET"),
	   "a setting the cache lacks is not given and gets its default");
	json_decref(j);
	probe_spec_clear(&ps);
	for (size_t i = 0; i < sizeof(damaged) / sizeof(damaged[0]); i++) {
		j = json_loads(damaged[i], 0, NULL);
		if (kube_cache_probe_read(j, &ps) == 0) {
			printf("#   read: %s\n", damaged[i]);
			refused = false;
			probe_spec_clear(&ps);
		}
		json_decref(j);
	}
	ok(refused, "a damaged probe in the cache is refused");
}

int main(void)
{
	struct probe_spec resolved[PROBE_SPEC_NFIELDS] = { { 0 } };

	test_table();
	test_round_trip(resolved);
	test_defaults();
	test_overlay(resolved);
	test_order(resolved);
	test_order_lists();
	test_ranges();
	test_bad_values();
	test_cache_read();
	for (size_t i = 0; i < PROBE_SPEC_NFIELDS; i++)
		probe_spec_clear(&resolved[i]);
	return tap_done();
}
