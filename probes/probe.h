/*
 * probe.h -- the probe manager: active health checks of every endpoint
 * address in the model, on the control thread's libevent base.
 *
 * HTTP(S) probes run through one libcurl multi handle driven by libevent
 * (CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION); TCP probes are
 * non-blocking connects watched by libevent.  Nothing here blocks.
 *
 * The manager writes verdicts straight into the current model's
 * struct model_addr (health, reason, since) and calls the change callback
 * once per loop iteration in which some address changed health, so the
 * caller rebuilds the answer snapshot once.
 */
#ifndef GSLBD_PROBE_H
#define GSLBD_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/model.h"

struct event_base;
struct probe_mgr;

typedef void (*probe_change_fn)(void *arg);

struct probe_mgr *probe_mgr_new(struct event_base *base, probe_change_fn fn,
				void *arg);

/* Make m the model being probed.  Probes whose key (service name,
 * endpoint name, address) and resolved spec are unchanged keep running and
 * copy their current state into m; new addresses get a probe whose first
 * run is immediate (plus jitter); probes of addresses gone from m are
 * cancelled.  The previous model may be freed after this returns.
 * Returns 0, or -1 when out of memory (the old probe set is then kept). */
int probe_mgr_sync(struct probe_mgr *pm, struct model *m);

/* Cancel every probe and free the manager.  NULL is fine. */
void probe_mgr_free(struct probe_mgr *pm);

/* Counters for status and metrics. */
struct probe_counters {
	uint64_t attempts;
	uint64_t failures;
	uint64_t transitions;
	uint32_t active; /* probes configured now */
};
void probe_mgr_counters(const struct probe_mgr *pm, struct probe_counters *c);

/* The addresses whose health changed since the last call (pointers into
 * the current model), so that only their services are rebuilt.  Returns
 * false when more changed than were recorded, or the model was replaced:
 * then treat everything as changed.  Empties the list either way. */
bool probe_mgr_take_changed(struct probe_mgr *pm, struct model_addr ***out,
			    size_t *n);

/* True once every probe has delivered at least one verdict. */
int probe_mgr_first_round_done(const struct probe_mgr *pm);

/* Per-probe counters for metrics.  Failures are counted by class of the
 * verdict's reason, so that label values stay few and fixed. */
enum probe_fail_class {
	PROBE_FAIL_TIMEOUT, PROBE_FAIL_REFUSED, PROBE_FAIL_STATUS,
	PROBE_FAIL_BODY, PROBE_FAIL_TLS, PROBE_FAIL_CONNECT, PROBE_FAIL_OTHER,
	PROBE_FAIL_MAX
};
/* "timeout", "refused", "status", "body", "tls", "connect", "other". */
const char *probe_fail_class_name(unsigned cls);
/* The class of a failure reason as the probes write it. */
enum probe_fail_class probe_fail_classify(const char *reason);

/* Probe duration histogram: upper bounds in seconds (+Inf implied). */
#define PROBE_LAT_BUCKETS 10
extern const double probe_lat_bounds[PROBE_LAT_BUCKETS];

struct probe_stats {
	uint64_t attempts;                   /* runs started */
	uint64_t failures[PROBE_FAIL_MAX];
	uint64_t lat_bucket[PROBE_LAT_BUCKETS + 1]; /* per bucket, not
						       cumulative; last: +Inf */
	uint64_t lat_count;                  /* verdicts */
	uint64_t lat_sum_us;
	uint64_t last_us;                    /* the last run's duration */
};

struct probe_info {
	const char *service, *endpoint, *region;
	const char *address;                 /* presentation form */
	const struct model_addr *addr;
	const struct probe_stats *st;
};

/* Call fn for every probe, in no particular order.  The pointers are
 * valid during the call only.  Probes that survive a sync keep their
 * counters; new ones start from zero. */
void probe_mgr_foreach(const struct probe_mgr *pm,
		       void (*fn)(const struct probe_info *pi, void *arg),
		       void *arg);

#endif
