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

/* True once every probe has delivered at least one verdict. */
int probe_mgr_first_round_done(const struct probe_mgr *pm);

#endif
