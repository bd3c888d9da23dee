/*
 * status.h -- what the control API and metrics see of the running
 * daemon: a narrow view the daemon fills in (daemon/daemon.c).  Reading
 * goes through these calls only, so control/ holds no handle to the
 * probe manager, the Kubernetes source or the daemon itself, and can be
 * tested in-process against a view of a test's making.
 *
 * Every call runs on the control thread; returned pointers are valid
 * until the control thread next returns to its event loop.
 */
#ifndef GSLBD_STATUS_H
#define GSLBD_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/admin.h"
#include "config/model.h"
#include "kube/kube.h"
#include "lib/resolver.h"
#include "probes/probe.h"
#include "server/answer.h"

struct status_stats {
	int64_t started;          /* unix time */
	unsigned workers;
	uint64_t generation;      /* snapshots published */
	/* Moves whenever target indexes may have changed: a new service
	 * list went live and the probes were synced to it.  A reader that
	 * walks the targets over several loop turns stops when it moves. */
	uint64_t targets_generation;
	int64_t last_build_us;    /* how long the last snapshot took */
	int64_t last_build_time;  /* unix time */
	size_t snapshot_bytes;
	uint32_t snapshot_names;
	uint32_t sig_expire;      /* DNSSEC: earliest expiration; 0: unsigned */
	uint64_t reloads_ok, reloads_failed;
	int64_t last_reload_time; /* 0: never */
	bool last_reload_ok;
	/* DNSSEC signing batches (daemon/presign.c): RRsets being signed
	 * on the signer threads now, batches done, the last one's length
	 * and end (unix time, 0: none yet). */
	size_t sign_pending;
	uint64_t sign_batches;
	int64_t sign_last_ms, sign_last_time;
};

struct status_view {
	void *arg; /* passed to every call */

	/* The model being served (services, targets), or NULL. */
	const struct model *(*model)(void *arg);
	void (*stats)(void *arg, struct status_stats *st);
	/* Query counters summed over the workers. */
	void (*queries)(void *arg, struct answer_stats *st);
	/* Ready for traffic: first probe round done, Kubernetes synced. */
	bool (*ready)(void *arg);
	/* The probe counters, and one target's state by model index. */
	void (*probe_counters)(void *arg, struct probe_counters *c);
	bool (*target)(void *arg, uint32_t index, struct probe_info *pi);
	/* False when no Kubernetes source is configured. */
	bool (*kube)(void *arg, struct kube_status *ks);
	/* False when no host name is resolved (NULL: the same). */
	bool (*resolver)(void *arg, struct resolver_stats *rs);
	/* Admin state: rules and their effect on one endpoint. */
	const struct admin_rule *(*rules)(void *arg, size_t *n);
	enum model_admin (*admin_of)(void *arg, const struct model_service *s,
				     const struct model_endpoint *e);
	/* Change: see daemon.h.  Return as there. */
	int (*set_admin)(void *arg, const char *region, const char *service,
			 const char *endpoint, enum model_admin a);
	int (*reload)(void *arg, char *err, size_t errlen);
};

/* The health of a model address as the view reports it (unprobed and
 * not yet probed: HEALTH_UNKNOWN), with the target's state in *pi when
 * the address is probed (pi may be NULL). */
uint8_t status_addr_health(const struct status_view *v,
			   const struct model_addr *a, struct probe_info *pi);

#endif
