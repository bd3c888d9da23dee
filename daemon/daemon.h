/*
 * daemon.h -- what the control API (control/control.c) may see and do in
 * the running daemon.  Control thread only; implemented in main.c.
 */
#ifndef GSLBD_DAEMON_H
#define GSLBD_DAEMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/model.h"
#include "server/answer.h"

struct gslbd;
struct probe_mgr;
struct kube_src;

/* The live model: config services + Kubernetes services, with health
 * and admin state.  Valid until the next reload or service change. */
const struct model *daemon_model(const struct gslbd *g);

struct daemon_stats {
	int64_t started;          /* unix time */
	unsigned workers;
	uint64_t generation;      /* snapshots published */
	int64_t last_build_us;    /* how long the last snapshot took */
	int64_t last_build_time;  /* unix time */
	size_t snapshot_bytes;
	uint32_t snapshot_names;
	uint64_t reloads_ok, reloads_failed;
	int64_t last_reload_time; /* 0: never */
	bool last_reload_ok;
};
void daemon_get_stats(const struct gslbd *g, struct daemon_stats *st);

/* Query counters summed over the workers. */
void daemon_query_stats(const struct gslbd *g, struct answer_stats *st);

const struct probe_mgr *daemon_probes(const struct gslbd *g);
/* NULL when no `kubernetes:` section is configured. */
const struct kube_src *daemon_kube(const struct gslbd *g);

/* Ready to be sent traffic: the first probe round is done and, when
 * configured, the first Kubernetes sync (or cache load). */
bool daemon_ready(const struct gslbd *g);

/* Reload the config file, as SIGHUP does.  Returns 0, or -1 with the
 * reason in err (the running config stays). */
int daemon_reload(struct gslbd *g, char *err, size_t errlen);

/* Set the admin state of every endpoint matching region, service and
 * endpoint name (NULL matches any; service is an FQDN or a name relative
 * to the zone).  ADMIN_NONE removes the rule.  Rules survive reloads and
 * Kubernetes changes, and apply to matching endpoints that appear later.
 * Returns the number of endpoints matched now (0 is not an error). */
int daemon_set_admin(struct gslbd *g, const char *region,
		     const char *service, const char *endpoint,
		     enum model_admin a);

struct daemon_admin_rule {
	const char *region, *service, *endpoint; /* NULL: any */
	enum model_admin admin;
};
/* The rules in force, in the order they were set. */
const struct daemon_admin_rule *daemon_admin_rules(const struct gslbd *g,
						   size_t *n);

#endif
