/*
 * main.c -- the gslbd process: options, the control thread's event loop
 * (signals, reclamation), privileges, the pidfile, and the data-plane
 * threads' lifetime.  What it serves is the rest of daemon/.
 *
 * Data flows one way: config + Kubernetes -> model (read-only) ->
 * probes (health table) -> compile (model, health, admin) -> snapshot
 * published -> workers answer from it.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <event2/event.h>
#include <jansson.h>
#include <event2/thread.h>

#include "config/admin.h"
#include "config/cfg.h"
#include "config/model.h"
#include "control/control.h"
#include "daemon/daemon.h"
#include "daemon/daemon_int.h"
#include "daemon/fdlimit.h"
#include "kube/kube.h"
#include "lib/log.h"
#include "lib/xalloc.h"
#include "probes/probe.h"
#include "server/compile.h"
#include "server/listen.h"
#include "server/qsbr.h"
#include "server/sign.h"
#include "server/snap.h"

#define DEFAULT_CONFIG "/etc/gslbd/gslbd.yaml"

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

static void reload(struct gslbd *g)
{
	char err[256];
	daemon_reload(g, err, sizeof(err));
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

/* The pidfile is written while still root (it usually lives in /run)
 * and removed at exit when the dropped user still may.  The temporary
 * file is created afresh (O_EXCL, O_NOFOLLOW): whoever may write the
 * directory must not get root to write through a planted symlink. */
static int write_pidfile(struct gslbd *g, const char *path)
{
	char tmp[4096], line[32];
	int fd = -1, n;

	if (!path)
		return 0;
	n = snprintf(line, sizeof(line), "%ld\n", (long)getpid());
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp) ||
	    (unlink(tmp) < 0 && errno != ENOENT) ||
	    (fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		       O_CLOEXEC, 0644)) < 0 ||
	    write(fd, line, (size_t)n) != n || close(fd) < 0 ||
	    rename(tmp, path) < 0) {
		log_err("cannot write the pidfile file=%s error=\"%s\"", path,
			strerror(errno));
		if (fd >= 0) {
			close(fd);
			unlink(tmp);
		}
		return -1;
	}
	g->pidfile = xstrdup(path);
	return 0;
}

/* Sockets are bound; give up root for good (setgroups first, then the
 * group, then the user: the other order could not drop the group). */
static int drop_privileges(const struct model_server *sv)
{
	if (!sv->user && !sv->group)
		return 0;
	uid_t uid = getuid();
	gid_t gid = getgid();
	if (sv->user) {
		struct passwd *pw = getpwnam(sv->user);
		if (!pw) {
			log_err("unknown user user=%s", sv->user);
			return -1;
		}
		uid = pw->pw_uid;
		gid = pw->pw_gid;
	}
	if (sv->group) {
		struct group *gr = getgrnam(sv->group);
		if (!gr) {
			log_err("unknown group group=%s", sv->group);
			return -1;
		}
		gid = gr->gr_gid;
	}
	if ((geteuid() == 0 && setgroups(1, &gid) < 0) || setgid(gid) < 0 ||
	    setuid(uid) < 0) {
		log_err("cannot drop privileges user=%s group=%s error=\"%s\"",
			sv->user ? sv->user : "-", sv->group ? sv->group : "-",
			strerror(errno));
		return -1;
	}
	if (uid != 0 && setuid(0) == 0) {
		log_err("privileges could be regained; refusing to run");
		return -1;
	}
	log_info("dropped privileges uid=%u gid=%u", (unsigned)uid,
		 (unsigned)gid);
	return 0;
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
	struct timeval second = { 1, 0 };
	g->sigcache = sign_cache_new();
	g->sign_rerun = daemon_rerun;
	g->ev_resign = event_new(g->base, -1, EV_PERSIST, daemon_dnssec_tick, g);
	if (!g->ev_resign || event_add(g->ev_resign, &second))
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
	fdlimit_fit(&g->model->server, &g->model->control, workers);
	if (!(g->ls = listen_open(&g->model->server, workers, err,
				  sizeof(err)))) {
		log_err("%s", err);
		return 1;
	}
	struct status_view view;
	daemon_status_view(g, &view);
	if (g->model->control.enabled &&
	    !(g->control = control_new(g->base, &view, &g->model->control,
				       err, sizeof(err)))) {
		log_err("%s", err);
		return 1;
	}
	if (write_pidfile(g, g->model->server.pidfile) < 0 ||
	    drop_privileges(&g->model->server) < 0)
		return 1;
	g->st.workers = workers;
	g->st.started = time(NULL);
	struct model *m = g->model;
	g->model = NULL;
	if (!(g->admin = admin_new()) ||
	    !(g->qsbr = qsbr_new(listen_threads(g->ls))) ||
	    !(g->probes = probe_mgr_new(g->base, daemon_on_health_change, g)) ||
	    daemon_go_live(g, m) < 0) {
		log_err("cannot set up probes");
		return 1;
	}
	if (!snap_current())
		return 1;
	if (g->model->kube.enabled && daemon_kube_start(g, err, sizeof(err)) < 0) {
		log_err("kubernetes source: %s", err);
		return 1;
	}
	if (listen_start(g->ls, g->qsbr, err, sizeof(err)) < 0) {
		log_err("%s", err);
		return 1;
	}
	log_info("serving zone=%s services=%zu listeners=%zu workers=%u "
		 "uid=%u",
		 g->model->zone.apex, g->model->nsvcs,
		 g->model->server.nlisten, workers, (unsigned)getuid());
	event_base_dispatch(g->base);
	return 0;
}

static void teardown(struct gslbd *g)
{
	listen_close(g->ls); /* joins the workers first */
	control_free(g->control);
	kube_free(g->kube);
	daemon_hostnames_free(g);
	probe_mgr_free(g->probes);
	daemon_free_services(g->cfg_svcs, g->ncfg_svcs);
	admin_free(g->admin);
	free(g->name_slot);
	for (size_t i = 0; i < g->nreserved; i++)
		free(g->reserved[i]);
	free(g->reserved);
	if (g->pidfile && unlink(g->pidfile) < 0 && errno != ENOENT)
		log_warn("cannot remove the pidfile file=%s", g->pidfile);
	free(g->pidfile);
	daemon_presign_free(g); /* joins the signer threads */
	snap_release_current();
	sign_cache_free(g->sigcache);
	qsbr_free(g->qsbr);
	model_free(g->model);
	struct event *evs[] = { g->ev_hup, g->ev_term, g->ev_int,
				g->ev_reclaim, g->ev_resign };
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
	struct snap *s = compile_snapshot(g->model, NULL, 0, err, sizeof(err));

	if (!s) {
		fprintf(stderr, "%s: %s\n", g->path, err);
		return 1;
	}
	snap_free(s);
	printf("%s: configuration ok (zone %s, %zu services)\n", g->path,
	       g->model->zone.apex, g->model->nsvcs);
	return 0;
}

/* The libraries allocate through lib/xalloc too, so running out of
 * memory means the same everywhere and no caller needs a branch for it.  Before any
 * other call into them: memory must be freed by the allocator that made
 * it (these all end in malloc/free, which callers may also use). */
static int hook_allocators(void)
{
	event_set_mem_functions(xmalloc, xrealloc, free);
	json_set_alloc_funcs(xmalloc, free);
	return curl_global_init_mem(CURL_GLOBAL_DEFAULT, xmalloc, free,
				    xrealloc, xstrdup, xcalloc) == CURLE_OK ?
		0 : -1;
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
			g.level_from_cli = true;
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
	if (hook_allocators() < 0) {
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
	daemon_apply_log_level(&g, g.model);
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
