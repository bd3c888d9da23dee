/* test_statusdoc.c -- /status written in slices is byte for byte the
 * document dumped whole (a model of a few hundred services, every budget
 * from one element a slice to all at once, empty arrays too), a slice
 * stays within its budget plus one element, and a stream stops when the
 * model or its targets change under it. */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <event2/buffer.h>
#include <jansson.h>

#include "config/cfg.h"
#include "control/status.h"
#include "control/statusdoc.h"
#include "tests/unit/tap.h"

#define NSVCS 300
#define NT 1024

static struct model *model;
static const struct model *served; /* what the view says it serves */
static struct status_stats stats;
static struct probe_stats pst[NT];
static char addr[NT][INET6_ADDRSTRLEN];
static bool kube_on;
static struct admin_rule rules[2] = {
	{ .region = "eu", .service = NULL, .endpoint = NULL,
	  .admin = ADMIN_DRAINED },
	{ .region = NULL, .service = "s7.z.test.", .endpoint = "us",
	  .admin = ADMIN_FORCE_DOWN },
};
static size_t nrules;

static void errline(void *arg, const char *line)
{
	printf("# config: %s\n", line);
}

static const struct model *v_model(void *arg) { return served; }
static void v_stats(void *arg, struct status_stats *st) { *st = stats; }
static bool v_ready(void *arg) { return true; }

/* Health, reason and since vary with the index; a quote and a
 * backslash in a reason must come out escaped the same both ways. */
static bool v_target(void *arg, uint32_t t, struct probe_info *pi)
{
	static const char *const reason[3] = { "status 200",
		"status 503 \"bad\" \\ x", "connection refused" };

	if (!served || t >= served->ntargets || t >= NT ||
	    !served->targets[t].nsvcs)
		return false;
	*pi = (struct probe_info){
		.target = t, .port = 80, .spec = &served->targets[t].spec,
		.health = (uint8_t)(t % 3 ? HEALTH_UP : HEALTH_DOWN),
		.reason = reason[t % 3], .since = 1700000000 + t,
		.st = &pst[t], .host = t % 2 ? "lb.z.test" : NULL,
		.address = model_addr_str(&served->targets[t].addr, addr[t],
					  sizeof(addr[t])),
	};
	return true;
}

static bool v_kube(void *arg, struct kube_status *ks)
{
	if (!kube_on)
		return false;
	*ks = (struct kube_status){ .connected = true, .synced = true,
		.last_sync = 1700000300, .relists = 2, .watch_events = 9,
		.services = 12, .last_error = "410 Gone" };
	return true;
}

static const struct admin_rule *v_rules(void *arg, size_t *n)
{
	*n = nrules;
	return rules;
}

static enum model_admin v_admin_of(void *arg, const struct model_service *s,
				   const struct model_endpoint *e)
{
	return e->region && !strcmp(e->region, "eu") ? ADMIN_DRAINED :
	       ADMIN_NONE;
}

static const struct status_view view = {
	.model = v_model, .stats = v_stats, .ready = v_ready,
	.target = v_target, .kube = v_kube, .rules = v_rules,
	.admin_of = v_admin_of,
};

static char *text_of(struct evbuffer *b)
{
	size_t n = evbuffer_get_length(b);
	char *s = malloc(n + 1);

	evbuffer_remove(b, s, n);
	s[n] = '\0';
	return s;
}

/* The whole document as /status sent it before streaming. */
static char *whole(void)
{
	json_t *j = statusdoc_tree(&view);
	char *s = j ? json_dumps(j, STATUSDOC_FLAGS) : NULL;

	json_decref(j);
	if (!s)
		return NULL;
	size_t n = strlen(s);
	s = realloc(s, n + 2);
	memcpy(s + n, "\n", 2);
	return s;
}

/* The streamed document with this budget; *calls and *maxslice say how
 * it went. */
static char *streamed(size_t budget, int *calls, size_t *maxslice)
{
	struct statusdoc_cursor cur;
	struct evbuffer *b = evbuffer_new(), *all = evbuffer_new();
	enum statusdoc_step r;

	*calls = 0;
	*maxslice = 0;
	statusdoc_begin(&cur, &view);
	do {
		r = statusdoc_next(&cur, b, &view, budget);
		(*calls)++;
		if (evbuffer_get_length(b) > *maxslice)
			*maxslice = evbuffer_get_length(b);
		evbuffer_add_buffer(all, b);
	} while (r == STATUSDOC_MORE && *calls < 1000000);
	char *s = r == STATUSDOC_DONE ? text_of(all) : NULL;
	evbuffer_free(b);
	evbuffer_free(all);
	return s;
}

static void compare(const char *what, size_t budget)
{
	char *w = whole(), *s;
	int calls;
	size_t maxslice;
	char name[160];

	s = streamed(budget, &calls, &maxslice);
	snprintf(name, sizeof(name), "%s, budget %zu: streamed equals whole "
		 "(%d slices)", what, budget, calls);
	ok(w && s && !strcmp(w, s), name);
	if (w && s && strcmp(w, s)) {
		size_t i = 0;
		while (w[i] == s[i])
			i++;
		printf("# differ at %zu: whole '%.40s' streamed '%.40s'\n", i,
		       w + i, s + i);
	}
	free(w);
	free(s);
}

static void test_equal(void)
{
	static const size_t budgets[] = { 1, 700, 4096, 64 << 10, SIZE_MAX };
	int calls;
	size_t maxslice;

	for (size_t i = 0; i < sizeof(budgets) / sizeof(budgets[0]); i++)
		compare("300 services", budgets[i]);
	char *s = streamed(1, &calls, &maxslice);
	json_error_t err;
	json_t *j = s ? json_loads(s, 0, &err) : NULL;
	ok(j && json_array_size(json_object_get(j, "services")) == NSVCS,
	   "the streamed document parses, with every service");
	ok(json_array_size(json_object_get(j, "targets")) == model->ntargets,
	   "...and every target");
	ok(calls > NSVCS, "one element a slice at a budget of one byte");
	json_decref(j);
	free(s);

	/* 4 KiB: about five services a slice; none beyond budget plus one
	 * element (the head, the first slice, is under a kilobyte). */
	free(streamed(4096, &calls, &maxslice));
	ok(maxslice < 4096 + 2048, "a slice stays within budget plus one "
	   "element");

	nrules = 2;
	kube_on = true;
	compare("with admin rules and a Kubernetes source", 1);
	compare("with admin rules and a Kubernetes source", SIZE_MAX);
	nrules = 0;
	kube_on = false;
	served = NULL;
	compare("no model: empty arrays", 1);
	served = model;
}

static void test_changed(void)
{
	struct statusdoc_cursor cur;
	struct evbuffer *b = evbuffer_new();

	statusdoc_begin(&cur, &view);
	for (int i = 0; i < 5; i++)
		statusdoc_next(&cur, b, &view, 1);
	size_t before = evbuffer_get_length(b);
	stats.targets_generation++;
	ok(statusdoc_next(&cur, b, &view, 1) == STATUSDOC_CHANGED &&
	   evbuffer_get_length(b) == before,
	   "targets re-indexed under a stream: it stops, writes nothing");
	stats.targets_generation--;

	statusdoc_begin(&cur, &view);
	statusdoc_next(&cur, b, &view, 1);
	served = NULL;
	ok(statusdoc_next(&cur, b, &view, 1) == STATUSDOC_CHANGED,
	   "another model under a stream: it stops");
	served = model;
	evbuffer_free(b);
}

int main(void)
{
	size_t len = 4096 + NSVCS * 200;
	char *conf = malloc(len), *p = conf;

	p += sprintf(p, "zone:\n  name: z.test\n  nameservers:\n"
		     "    - name: ns1\n      addresses: [192.0.2.1]\n"
		     "probe-defaults: { type: tcp, port: 80 }\nservices:\n");
	/* Two endpoints each; every third service has an unprobed one and
	 * every fifth an IPv6 address; neighbours share a target. */
	for (int i = 0; i < NSVCS; i++)
		p += sprintf(p, "  - name: s%d\n    endpoints:\n"
			     "      - { region: eu, addresses: [10.0.%d.%d] }\n"
			     "      - { region: us, addresses: [%s%d]%s }\n",
			     i, i / 200, i % 200 / 2,
			     i % 5 ? "10.1.0." : "2001:db8::", i % 250,
			     i % 3 ? "" : ", probe: { type: none }");
	model = cfg_load_string("statusdoc.yaml", conf, errline, NULL);
	free(conf);
	if (!model || model_targets_build(model) < 0 ||
	    model->nsvcs != NSVCS || model->ntargets > NT) {
		printf("Bail out! test model\n");
		return 1;
	}
	served = model;
	for (size_t t = 0; t < model->ntargets; t++)
		pst[t].attempts = 3 + t;
	stats = (struct status_stats){ .started = 1700000000, .workers = 2,
		.generation = 7, .last_build_us = 1234, .snapshot_names = 600,
		.snapshot_bytes = 123456, .reloads_ok = 1 };
	test_equal();
	test_changed();
	model_free(model);
	return tap_done();
}
