/*
 * daemon_int.h -- the running daemon's state, shared by daemon/main.c
 * (process: options, privileges, signals, threads) and daemon/daemon.c
 * (what it serves: composing services, snapshots, reloads, admin rules,
 * and the daemon.h API).  Control thread only.
 */
#ifndef GSLBD_DAEMON_INT_H
#define GSLBD_DAEMON_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "daemon/daemon.h"

struct event;
struct event_base;
struct qsbr;
struct listen_set;
struct control;

struct admin_rule {
	char *region, *service, *endpoint; /* NULL: any */
	enum model_admin admin;
};

struct gslbd {
	const char *path;
	bool level_from_cli;       /* -l given: the config's log-level yields */
	char *pidfile;             /* written by us, removed at exit */
	struct event_base *base;
	struct model *model;       /* live: config + kube services */
	struct model_service *cfg_svcs; /* the config file's, pristine */
	size_t ncfg_svcs;
	struct probe_mgr *probes;
	struct kube_src *kube;     /* NULL: no `kubernetes:` section */
	size_t kube_dups;          /* kube names the config already has */
	size_t kube_taken;         /* kube names the zone owns */
	size_t kube_big;           /* kube services too large to answer */
	struct qsbr *qsbr;
	struct listen_set *ls;
	struct control *control;
	struct admin_rule *rules;
	struct daemon_admin_rule *rules_view;
	size_t nrules;
	struct daemon_stats st;
	bool need_full;            /* the last build failed: patch nothing */
	struct event *ev_hup, *ev_term, *ev_int, *ev_reclaim;
};

/* Make m live (its services composed, probes synced, snapshot built).
 * On failure nothing changes and m is freed.  Returns 0 or -1. */
int daemon_go_live(struct gslbd *g, struct model *m);
/* Start the Kubernetes source the live model configures. */
int daemon_kube_start(struct gslbd *g, char *err, size_t errlen);
/* The config's log level, unless -l was given. */
void daemon_apply_log_level(const struct gslbd *g, const struct model *m);
void daemon_free_services(struct model_service *svcs, size_t n);
/* probe_change_fn: some address changed health. */
void daemon_on_health_change(void *arg);

#endif
