/* test_metrics.c -- the exposition against a status view of the test's
 * making: totals without target labels by default, per-target series on
 * request, a scrape in slices equal to one written whole, a scrape that
 * stops when the targets change under it, totals that never go down. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>

#include "config/cfg.h"
#include "control/metrics.h"
#include "control/status.h"
#include "tests/unit/tap.h"

#define NT 8

static struct model *model;
static const struct model *served;   /* what the view says it serves */
static struct status_stats stats;
static struct probe_stats pst[NT];
static uint8_t health[NT];
static struct probe_counters counters;

static const char conf[] =
	"zone:\n  name: z.test\n  nameservers:\n"
	"    - name: ns1\n      addresses: [192.0.2.1]\n"
	"probe-defaults: { type: tcp, port: 80 }\n"
	"services:\n"
	"  - name: a\n    endpoints:\n"
	"      - region: eu\n        addresses: [10.0.0.1, 10.0.0.2]\n"
	"      - region: us\n        addresses: [10.0.0.3]\n"
	"  - name: b\n    endpoints:\n"
	"      - region: eu\n        addresses: [10.0.0.4]\n"
	"      - region: us\n        addresses: [10.0.0.5]\n"
	"        probe: { type: none }\n";

static void errline(void *arg, const char *line)
{
	printf("# config: %s\n", line);
}

static const struct model *v_model(void *arg)
{
	return served;
}

static void v_stats(void *arg, struct status_stats *st)
{
	*st = stats;
}

static void v_queries(void *arg, struct answer_stats *q)
{
	memset(q, 0, sizeof(*q));
}

static bool v_ready(void *arg)
{
	return true;
}

static void v_counters(void *arg, struct probe_counters *c)
{
	*c = counters;
}

static bool v_target(void *arg, uint32_t t, struct probe_info *pi)
{
	static char addr[NT][INET6_ADDRSTRLEN];

	if (t >= model->ntargets || t >= NT)
		return false;
	*pi = (struct probe_info){
		.target = t, .port = 80, .spec = &model->targets[t].spec,
		.health = health[t], .reason = "", .st = &pst[t],
		.address = model_addr_str(&model->targets[t].addr, addr[t],
					  sizeof(addr[t])),
	};
	return true;
}

static bool v_kube(void *arg, struct kube_status *ks)
{
	return false;
}

static const struct admin_rule *v_rules(void *arg, size_t *n)
{
	*n = 0;
	return NULL;
}

static enum model_admin v_admin_of(void *arg, const struct model_service *s,
				   const struct model_endpoint *e)
{
	return ADMIN_NONE;
}

static const struct status_view view = {
	.model = v_model, .stats = v_stats, .queries = v_queries,
	.ready = v_ready, .probe_counters = v_counters, .target = v_target,
	.kube = v_kube, .rules = v_rules, .admin_of = v_admin_of,
};

/* The exposition as a string (the caller frees it). */
static char *text_of(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);

	evbuffer_remove(b, s, n);
	s[n] = '\0';
	return s;
}

static char *scrape(struct metrics_totals *tot, bool per_target)
{
	struct evbuffer *b = evbuffer_new();

	metrics_write(b, &view, tot, per_target);
	char *s = text_of(b);
	evbuffer_free(b);
	return s;
}

/* The value of the one sample whose line starts with `series `. */
static long long value(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (!strncmp(p, series, n) && p[n] == ' ')
			return atoll(p + n + 1);
	return -1;
}

/* The default exposition: series, value, what it proves. */
static const struct {
	const char *series;
	long long value;
	const char *what;
} default_cases[] = {
	{ "gslbd_probe_attempts_total", 30, "attempts: the probe manager's total" },
	{ "gslbd_probe_failures_total{reason=\"refused\"}", 6,
	  "failures by class: the probe manager's totals" },
	{ "gslbd_probe_failures_total{reason=\"tls\"}", 0,
	  "...every class present" },
	{ "gslbd_probe_duration_seconds_bucket{le=\"0.005\"}", 4,
	  "duration buckets from the manager's totals, cumulative" },
	{ "gslbd_probe_duration_seconds_bucket{le=\"+Inf\"}", 8, "...up to +Inf" },
	{ "gslbd_probe_duration_seconds_count", 8, "...and _count" },
	{ "gslbd_probe_targets{health=\"down\"}", 1, "targets by health: down" },
	{ "gslbd_probe_targets{health=\"up\"}", 2, "targets by health: up" },
	{ "gslbd_probe_targets{health=\"unknown\"}", 1,
	  "targets by health: unknown" },
	{ "gslbd_services", 2, "services counted" },
	{ "gslbd_addresses{state=\"ineligible\"}", 1,
	  "the down address is not eligible" },
	{ "gslbd_addresses{state=\"eligible\"}", 4,
	  "the others are (unknown and unprobed count as up)" },
	{ "gslbd_services_all_down", 0, "no service has nothing to answer" },
};

static void test_default(void)
{
	struct metrics_totals tot = { 0 };
	char *s = scrape(&tot, false);

	ok(!strstr(s, "address=\"") && !strstr(s, "gslbd_endpoint_"),
	   "by default no series carries an address or is per endpoint");
	for (size_t i = 0; i < sizeof(default_cases) / sizeof(default_cases[0]);
	     i++)
		is_int(value(s, default_cases[i].series), default_cases[i].value,
		       default_cases[i].what);
	free(s);
}

static void test_per_target(void)
{
	struct metrics_totals tot = { 0 };
	char *whole = scrape(&tot, true);

	is_int(value(whole, "gslbd_probe_attempts_total{address=\"10.0.0.2\","
		     "port=\"80\",type=\"tcp\",host=\"\"}"), 11,
	       "per target: attempts with the target's labels");
	is_int(value(whole, "gslbd_endpoint_up{service=\"a.z.test.\","
		     "endpoint=\"eu\",region=\"eu\",address=\"10.0.0.2\"}"), 0,
	       "per address: the down address");
	ok(!strstr(whole, "\ngslbd_probe_attempts_total "),
	   "no unlabelled total beside the per-target series");

	/* One byte of budget: every call stops after one service or
	 * target, as a scrape over many loop turns does. */
	struct metrics_cursor cur;
	struct evbuffer *b = evbuffer_new();
	enum metrics_step r;
	int calls = 0;

	metrics_begin(&cur, &view, true);
	while ((r = metrics_next(&cur, b, &view, &tot, 1)) == METRICS_MORE)
		calls++;
	char *sliced = text_of(b);
	ok(r == METRICS_DONE && calls > 20, "a sliced scrape takes many calls");
	is_str(sliced, whole, "...and says exactly what a whole one says");
	free(sliced);

	/* The targets re-indexed half way: stop, write nothing more. */
	metrics_begin(&cur, &view, true);
	for (int i = 0; i < 6; i++)
		metrics_next(&cur, b, &view, &tot, 1);
	size_t before = evbuffer_get_length(b);
	stats.targets_generation++;
	r = metrics_next(&cur, b, &view, &tot, 1);
	ok(r == METRICS_CHANGED && evbuffer_get_length(b) == before,
	   "a re-index under a scrape stops it");
	stats.targets_generation--;

	/* Another model in its place (even one at the same address is
	 * caught by the generation; a different one by the pointer). */
	evbuffer_drain(b, evbuffer_get_length(b));
	metrics_begin(&cur, &view, true);
	metrics_next(&cur, b, &view, &tot, 1);
	served = NULL;
	ok(metrics_next(&cur, b, &view, &tot, 1) == METRICS_CHANGED,
	   "a new model under a scrape stops it");
	served = model;
	evbuffer_free(b);
	free(whole);
}

static void test_totals_monotonic(void)
{
	struct metrics_totals tot = { 0 };
	char *s = scrape(&tot, false);
	long long refused = value(s, "gslbd_probe_failures_total{reason=\"refused\"}");
	long long inf = value(s, "gslbd_probe_duration_seconds_bucket{le=\"+Inf\"}");
	free(s);

	/* Target 1 goes with its counters (retired: no services); the
	 * manager's totals keep what it counted. */
	uint32_t keep = model->targets[1].nsvcs;
	model->targets[1].nsvcs = 0;
	s = scrape(&tot, false);
	is_int(value(s, "gslbd_probe_failures_total{reason=\"refused\"}"),
	       refused, "a target gone does not take the total down");
	is_int(value(s, "gslbd_probe_duration_seconds_bucket{le=\"+Inf\"}"),
	       inf, "...nor the histogram");
	is_int(value(s, "gslbd_probe_targets{health=\"down\"}"), 0,
	       "...while the count of targets follows");
	free(s);
	pst[0].failures[PROBE_FAIL_REFUSED] += 2;
	counters.fail_class[PROBE_FAIL_REFUSED] += 2;
	s = scrape(&tot, false);
	is_int(value(s, "gslbd_probe_failures_total{reason=\"refused\"}"),
	       refused + 2, "later failures count on top");
	free(s);
	model->targets[1].nsvcs = keep;
	pst[0].failures[PROBE_FAIL_REFUSED] -= 2;
	counters.fail_class[PROBE_FAIL_REFUSED] -= 2;
}

int main(void)
{
	model = cfg_load_string("metrics.yaml", conf, errline, NULL);
	if (model)
		model_targets_build(model);
	if (!model || model->ntargets != 4) {
		printf("Bail out! test model\n");
		return 1;
	}
	served = model;
	counters = (struct probe_counters){ .attempts = 30, .active = 4 };
	/* Target 1 (10.0.0.2) is down after refusals; 3 has no verdict. */
	health[0] = health[2] = HEALTH_UP;
	health[1] = HEALTH_DOWN;
	for (int t = 0; t < 4; t++) {
		pst[t].attempts = 5 + (uint64_t)t * 3;
		pst[t].lat_bucket[0] = 1;
		pst[t].lat_bucket[4] = 1;
		pst[t].lat_count = 2;
		pst[t].lat_sum_us = 60000;
	}
	pst[1].failures[PROBE_FAIL_REFUSED] = 6;
	pst[1].attempts = 11;
	/* The manager's totals: what the four targets counted. */
	counters.fail_class[PROBE_FAIL_REFUSED] = 6;
	counters.lat_bucket[0] = counters.lat_bucket[4] = 4;
	counters.lat_sum_us = 4 * 60000;
	test_default();
	test_per_target();
	test_totals_monotonic();
	model_free(model);
	return tap_done();
}
