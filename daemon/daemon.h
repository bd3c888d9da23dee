/*
 * daemon.h -- what the daemon serves (daemon.c), for the process around
 * it (main.c): the live model composed from the config's and the
 * Kubernetes source's services, its probe targets, snapshots built or
 * patched as health, admin rules and services change, and reloads.
 * Control thread only.
 *
 * A new service list (start-up, reload, a Kubernetes relist or a removed
 * name) goes one way: compose it, give it its targets, compile it against
 * the probes' health as it would be, and only when that worked sync the
 * probes and publish; a failure anywhere changes nothing.  A Kubernetes
 * change of a few names is merged in place instead: those services are
 * replaced or appended in their slots, only their targets' probes are
 * touched, and the snapshot is patched for them.  The model is written
 * by these two merges only; everything else reads it.
 */
#ifndef GSLBD_DAEMON_H
#define GSLBD_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <event2/util.h>

struct sign_cache;
struct sign_jobs;
struct signpool;

#include "config/model.h"
#include "control/status.h"

struct admin;
struct control;
struct event;
struct event_base;
struct kube_src;
struct listen_set;
struct probe_mgr;
struct qsbr;
struct resolver;

struct gslbd {
	const char *path;
	bool level_from_cli;       /* -l given: the config's log-level yields */
	char *pidfile;             /* written by us, removed at exit */
	struct event_base *base;
	struct model *model;       /* live, read-only: config + kube services */
	struct model_service *cfg_svcs; /* the config file's, pristine */
	size_t ncfg_svcs;
	struct probe_mgr *probes;
	struct kube_src *kube;     /* NULL: no `kubernetes:` section */
	struct resolver *resolver; /* load balancers by name (hostnames.c) */
	size_t kube_dups;          /* kube names the config already has */
	size_t kube_taken;         /* kube names the zone owns */
	size_t kube_big;           /* kube services too large to answer */
	struct admin *admin;       /* the operator's rules */
	/* The live model's service names: open addressing, 1 + slot, for
	 * Kubernetes changes applied in place; NULL: take the full path. */
	uint32_t *name_slot;
	uint32_t name_mask;
	/* Names a Kubernetes service may not take (the apex, name servers,
	 * zone-file owners), sorted; made when a config goes live. */
	char **reserved;
	size_t nreserved;
	struct qsbr *qsbr;
	struct listen_set *ls;
	struct control *control;
	struct status_stats st;
	bool need_full;            /* the last build failed: patch nothing */
	struct event *ev_hup, *ev_term, *ev_int, *ev_reclaim;
	struct event *ev_resign; /* DNSSEC: daemon_dnssec_tick each second */
	struct sign_cache *sigcache; /* DNSSEC signatures across builds */
	int64_t resign_after;    /* DNSSEC: a failed re-sign waits until then */
	/* Full builds that sign big (presign.c): the signer threads, the
	 * batch in flight (NULL: none) and the event its end makes active,
	 * the requests to run again then (DAEMON_REQ_*), batches in a row. */
	struct signpool *signpool;
	struct sign_jobs *signing;
	struct event *ev_signed;
	unsigned sign_req;
	unsigned sign_rounds;
	/* Run the requests req again (daemon_rerun): set by main.c, so
	 * that presign.c does not call back up into its callers. */
	void (*sign_rerun)(struct gslbd *g, unsigned req);
	struct timespec sign_t0;
};

/* Make m live: its services composed with the Kubernetes source's, its
 * targets probed, its snapshot published.  m's own services are kept as
 * the pristine config list.  On failure nothing changes and m is freed.
 * Returns 0 or -1. */
int daemon_go_live(struct gslbd *g, struct model *m);

/* Start the Kubernetes source the live model configures. */
int daemon_kube_start(struct gslbd *g, char *err, size_t errlen);

/* The config's log level, unless -l was given. */
void daemon_apply_log_level(const struct gslbd *g, const struct model *m);

void daemon_free_services(struct model_service *svcs, size_t n);

/* probe_change_fn: some target changed health. */
void daemon_on_health_change(void *arg);

/* Reload the config file, as SIGHUP does.  Returns 0, or -1 with the
 * reason in err (the running config stays), or 1: deferred while the
 * signer threads sign (it runs again when they are done and tells the
 * control API then: control_reload_done). */
int daemon_reload(struct gslbd *g, char *err, size_t errlen);

/* Ready to be sent traffic: the first probe round is done and, when
 * configured, the first Kubernetes sync (or cache load). */
bool daemon_ready(const struct gslbd *g);

/* DNSSEC (daemon/dnssec.c): more than a day of signature validity left
 * (always true for an unsigned zone); the timer callback re-signing
 * everything when less than a third of the validity is left. */
bool daemon_dnssec_fresh(const struct gslbd *g);
void daemon_dnssec_tick(evutil_socket_t fd, short what, void *arg);

/* Set the admin state of every endpoint matching region, service and
 * endpoint name (NULL matches any; service is an FQDN or a name relative
 * to the zone).  ADMIN_NONE removes the rule.  Returns the number of
 * endpoints matched now (0 is not an error), or -1 when the rule table
 * is full (ADMIN_MAX_RULES). */
int daemon_set_admin(struct gslbd *g, const char *region,
		     const char *service, const char *endpoint,
		     enum model_admin a);

/* The view the control API reads the daemon through. */
void daemon_status_view(struct gslbd *g, struct status_view *v);

#endif
