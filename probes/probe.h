/*
 * probe.h -- the probe manager: active health checks of the model's probe
 * targets (model.h: one per distinct address and probe settings, however
 * many names use it), on the control thread's libevent base.
 *
 * HTTP(S) probes run through one libcurl multi handle driven by libevent
 * (CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION); TCP probes are
 * non-blocking connects watched by libevent.  Nothing here blocks.
 *
 * The manager owns the health table (target index -> up/down, reason,
 * since): it copies what it probes and points into no model.  It calls the
 * change callback once per loop iteration in which some target changed
 * health, so the caller patches the answer snapshot once.
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

/* Probe exactly these targets (a model's targets[]; retired ones, with
 * no services, are not probed); from now on target index i means t[i].  A target equal to one probed before (address,
 * settings, Host) keeps its probe, health and counters; a new one starts
 * UNKNOWN with its first run within its jitter; the others are
 * cancelled.  Nothing in t is kept.  Changes remembered so far are
 * dropped: the caller has compiled against probe_mgr_health_of(), which
 * includes them. */
void probe_mgr_sync(struct probe_mgr *pm, const struct model_target *t,
		    size_t n);

/* The same targets, changed only at ids[0..nids): each is new (an index
 * at or past the old count), retired (nsvcs 0: its probe stops) or
 * revived.  Every other target keeps its probe, health and index, and
 * changes already recorded stay valid.  Returns 0, or -1 when there are
 * fewer targets than before (call probe_mgr_sync). */
int probe_mgr_update(struct probe_mgr *pm, const struct model_target *t,
		     size_t n, const uint32_t *ids, size_t nids);

/* The health each of t[0..n) would have after probe_mgr_sync(pm, t, n)
 * (an equal target's state now, else UNKNOWN) into out[0..n), so a new
 * model can be compiled before anything is committed. */
void probe_mgr_health_of(const struct probe_mgr *pm,
			 const struct model_target *t, size_t n, uint8_t *out);

/* Cancel every probe and free the manager.  NULL is fine. */
void probe_mgr_free(struct probe_mgr *pm);


/* The health table: enum model_health per target index, *n entries.
 * Valid until the next sync or free. */
const uint8_t *probe_mgr_health(const struct probe_mgr *pm, size_t *n);

/* The targets whose health changed since the last call, so that only
 * their services are rebuilt.  Returns false when more changed than were
 * recorded, or the targets were replaced: then treat everything as
 * changed.  Empties the list either way. */
bool probe_mgr_take_changed(struct probe_mgr *pm, const uint32_t **out,
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
	uint64_t suspects;                   /* of which suspect re-checks */
	uint64_t failures[PROBE_FAIL_MAX];
	uint64_t lat_bucket[PROBE_LAT_BUCKETS + 1]; /* per bucket, not
						       cumulative; last: +Inf */
	uint64_t lat_count;                  /* verdicts */
	uint64_t lat_sum_us;
	uint64_t last_us;                    /* the last run's duration */
};

/* Counters for status and metrics, over every target there has been:
 * they never go down when targets go. */
struct probe_counters {
	uint64_t attempts;
	uint64_t suspects;  /* runs started beside a slow one (health.h) */
	uint64_t failures;
	uint64_t transitions;
	uint32_t active; /* probes configured now */
	uint64_t fail_class[PROBE_FAIL_MAX];
	uint64_t lat_bucket[PROBE_LAT_BUCKETS + 1]; /* per bucket; last +Inf */
	uint64_t lat_sum_us;
};
void probe_mgr_counters(const struct probe_mgr *pm, struct probe_counters *c);

struct probe_info {
	uint32_t target;                     /* index */
	const char *address;                 /* presentation form */
	uint16_t port;                       /* resolved: 80/443 for http(s) */
	const struct probe_spec *spec;
	const char *host;                    /* Host and SNI; NULL for tcp */
	uint8_t health;                      /* enum model_health */
	const char *reason;                  /* of the last verdict */
	int64_t since;                       /* unix time of the last change */
	const struct probe_stats *st;
};

/* One target's state.  Returns false when there is no such target.
 * The pointers are valid until the next sync. */
bool probe_mgr_info(const struct probe_mgr *pm, uint32_t target,
		    struct probe_info *pi);

/* Call fn for every target, in index order.  The pointers are valid
 * during the call only.  Targets that survive a sync keep their
 * counters; new ones start from zero. */
void probe_mgr_foreach(const struct probe_mgr *pm,
		       void (*fn)(const struct probe_info *pi, void *arg),
		       void *arg);

#endif
