/*
 * main.c -- the gslbd daemon: options, the control thread's event loop
 * (signals, reloads, probes), and the worker threads' lifetime.
 *
 * Data flows one way: config -> model -> (probes write health) ->
 * compile -> snapshot published -> workers answer from it.
 */
#include "config.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <event2/thread.h>

#include "config/cfg.h"
#include "config/model.h"
#include "probes/probe.h"
#include "server/compile.h"
#include "server/listen.h"
#include "server/log.h"
#include "server/qsbr.h"
#include "server/snap.h"

#define DEFAULT_CONFIG "/etc/gslbd/gslbd.yaml"

struct gslbd {
	const char *path;
	struct event_base *base;
	struct model *model;
	struct probe_mgr *probes;
	struct qsbr *qsbr;
	struct listen_set *ls;
	uint64_t generation;
	struct event *ev_hup, *ev_term, *ev_int, *ev_reclaim;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: gslbd [-t] [-c FILE] [-l LEVEL] [--syslog]\n"
		"  -c, --config FILE     configuration (default %s)\n"
		"  -t, --check           check the configuration and exit\n"
		"  -l, --log-level LVL   err, warn, info (default) or debug\n"
		"      --syslog          log to syslog instead of stderr\n"
		"  -V, --version         print the version and exit\n"
		"  -h, --help            this text\n", DEFAULT_CONFIG);
}

static void err_to_stderr(void *arg, const char *line)
{
	fprintf(stderr, "%s\n", line);
}

static void err_to_log(void *arg, const char *line)
{
	log_err("config error: %s", line);
}

/* Compile the model as it stands and hand it to the workers. */
static int rebuild(struct gslbd *g)
{
	char err[256];
	struct timespec t0, t1;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	struct snap *s = compile_snapshot(g->model, g->generation + 1, err,
					  sizeof(err));
	if (!s) {
		log_err("snapshot build failed, still serving the previous one "
			"reason=\"%s\"", err);
		return -1;
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	g->generation++;
	snap_publish(g->qsbr, s);
	qsbr_reclaim(g->qsbr);
	log_debug("snapshot published generation=%llu names=%u bytes=%zu "
		  "build_us=%ld", (unsigned long long)g->generation, s->nnodes,
		  snap_arena_bytes(s->arena),
		  (long)((t1.tv_sec - t0.tv_sec) * 1000000 +
			 (t1.tv_nsec - t0.tv_nsec) / 1000));
	return 0;
}

static void on_health_change(void *arg)
{
	rebuild(arg);
}

/* Administrative state set through the control API survives reloads. */
static void carry_admin(const struct model *old, struct model *nm)
{
	for (size_t i = 0; i < nm->nsvcs; i++) {
		struct model_service *ns = &nm->svcs[i];
		for (size_t j = 0; j < old->nsvcs; j++) {
			const struct model_service *os = &old->svcs[j];
			if (strcmp(ns->name, os->name))
				continue;
			for (size_t a = 0; a < ns->neps; a++)
				for (size_t b = 0; b < os->neps; b++)
					if (!strcmp(ns->eps[a].name, os->eps[b].name))
						ns->eps[a].admin = os->eps[b].admin;
		}
	}
}

static void reload(struct gslbd *g)
{
	char err[256];

	log_info("reloading config=%s", g->path);
	struct model *nm = cfg_load(g->path, err_to_log, NULL);
	if (!nm) {
		log_err("reload rejected, keeping the running configuration");
		return;
	}
	/* Compile once before committing to it: a model that cannot be
	 * served must not replace one that can. */
	struct snap *trial = compile_snapshot(nm, 0, err, sizeof(err));
	if (!trial) {
		log_err("reload rejected, keeping the running configuration "
			"reason=\"%s\"", err);
		model_free(nm);
		return;
	}
	snap_free(trial);
	if (!listen_same(g->ls, &nm->server))
		log_warn("listen addresses changed; they take effect on restart");
	carry_admin(g->model, nm);
	if (probe_mgr_sync(g->probes, nm) < 0) {
		log_err("reload rejected: cannot set up probes");
		model_free(nm);
		return;
	}
	model_free(g->model);
	g->model = nm;
	if (rebuild(g) == 0)
		log_info("reload done services=%zu", nm->nsvcs);
}

static void on_signal(evutil_socket_t sig, short what, void *arg)
{
	struct gslbd *g = arg;

	if (sig == SIGHUP) {
		reload(g);
		return;
	}
	log_info("stopping signal=%d", (int)sig);
	event_base_loopbreak(g->base);
}

static void on_reclaim(evutil_socket_t fd, short what, void *arg)
{
	struct gslbd *g = arg;
	qsbr_reclaim(g->qsbr);
}

static unsigned default_workers(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 64 ? 64 : (unsigned)n;
}

static int setup_events(struct gslbd *g)
{
	struct timeval tick = { 0, 100 * 1000 };

	g->ev_hup = evsignal_new(g->base, SIGHUP, on_signal, g);
	g->ev_term = evsignal_new(g->base, SIGTERM, on_signal, g);
	g->ev_int = evsignal_new(g->base, SIGINT, on_signal, g);
	g->ev_reclaim = event_new(g->base, -1, EV_PERSIST, on_reclaim, g);
	if (!g->ev_hup || !g->ev_term || !g->ev_int || !g->ev_reclaim)
		return -1;
	if (event_add(g->ev_hup, NULL) || event_add(g->ev_term, NULL) ||
	    event_add(g->ev_int, NULL) || event_add(g->ev_reclaim, &tick))
		return -1;
	return 0;
}

static int run(struct gslbd *g)
{
	char err[256];
	unsigned workers = g->model->server.workers ?
		g->model->server.workers : default_workers();

	if (evthread_use_pthreads() < 0 || !(g->base = event_base_new()) ||
	    setup_events(g) < 0) {
		log_err("cannot set up the event loop");
		return 1;
	}
	if (!(g->ls = listen_open(&g->model->server, workers, err,
				  sizeof(err)))) {
		log_err("%s", err);
		return 1;
	}
	if (!(g->qsbr = qsbr_new(workers)) ||
	    !(g->probes = probe_mgr_new(g->base, on_health_change, g)) ||
	    probe_mgr_sync(g->probes, g->model) < 0) {
		log_err("cannot set up probes");
		return 1;
	}
	if (rebuild(g) < 0)
		return 1;
	if (listen_start(g->ls, g->qsbr, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return 1;
	}
	log_info("serving zone=%s services=%zu listeners=%zu workers=%u",
		 g->model->zone.apex, g->model->nsvcs,
		 g->model->server.nlisten, workers);
	event_base_dispatch(g->base);
	return 0;
}

static void teardown(struct gslbd *g)
{
	listen_close(g->ls); /* joins the workers first */
	probe_mgr_free(g->probes);
	snap_release_current();
	qsbr_free(g->qsbr);
	model_free(g->model);
	struct event *evs[] = { g->ev_hup, g->ev_term, g->ev_int,
				g->ev_reclaim };
	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++)
		if (evs[i])
			event_free(evs[i]);
	if (g->base)
		event_base_free(g->base);
}

/* -t: parse, validate and compile, as a reload would. */
static int check_only(struct gslbd *g)
{
	char err[256];
	struct snap *s = compile_snapshot(g->model, 0, err, sizeof(err));

	if (!s) {
		fprintf(stderr, "%s: %s\n", g->path, err);
		return 1;
	}
	snap_free(s);
	printf("%s: configuration ok (zone %s, %zu services)\n", g->path,
	       g->model->zone.apex, g->model->nsvcs);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 't' },
		{ "log-level", required_argument, NULL, 'l' },
		{ "syslog", no_argument, NULL, 's' },
		{ "version", no_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct gslbd g = { .path = DEFAULT_CONFIG };
	enum log_level level = LOG_LVL_INFO;
	bool check = false, use_syslog = false;
	int c, rc;

	while ((c = getopt_long(argc, argv, "c:tl:Vh", opts, NULL)) != -1) {
		switch (c) {
		case 'c': g.path = optarg; break;
		case 't': check = true; break;
		case 's': use_syslog = true; break;
		case 'l':
			if (log_level_parse(optarg, &level) < 0) {
				fprintf(stderr, "gslbd: unknown log level '%s'\n",
					optarg);
				return 2;
			}
			break;
		case 'V': printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return 2;
	}
	log_init(level, use_syslog);
	signal(SIGPIPE, SIG_IGN);
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		log_err("cannot initialise libcurl");
		return 1;
	}
	g.model = cfg_load(g.path, err_to_stderr, NULL);
	if (!g.model) {
		if (!check)
			log_err("configuration rejected config=%s", g.path);
		curl_global_cleanup();
		return 1;
	}
	if (check) {
		rc = check_only(&g);
		model_free(g.model);
	} else {
		rc = run(&g);
		teardown(&g);
	}
	curl_global_cleanup();
	return rc;
}
