/*
 * health.h -- the per-address health state machine: up/down with
 * rise/fall hysteresis.  Pure logic, no I/O, no clock, so it can be
 * tested exhaustively; the probe manager (probe.c) feeds it verdicts and
 * keeps the outcome in its health table.
 *
 * Rules:
 *  - A new address starts HEALTH_UNKNOWN, which the answer compiler treats
 *    as up, so a freshly started gslbd serves everything at once.
 *  - The first verdict decides directly (success: UP, failure: DOWN): at
 *    start-up there is no history to protect, and waiting for rise/fall
 *    verdicts would serve a dead region for several more seconds.
 *  - After that, `fall` consecutive failures take an UP address DOWN and
 *    `rise` consecutive successes bring a DOWN one UP.  Any verdict that
 *    agrees with the current state resets the count, so an alternating
 *    target never moves once decided (with rise, fall >= 2).
 *  - Flap damping (health_feed_at with a hold): transitions are paced
 *    like a token bucket of two, one token back per hold.  An outage and
 *    its recovery (two transitions) go through at once; a target that
 *    keeps flapping changes state at most once per hold after that.  A
 *    transition held back is taken by the first verdict after the hold
 *    that still disagrees with the state.
 */
#ifndef GSLBD_HEALTH_H
#define GSLBD_HEALTH_H

#include <stdbool.h>
#include <stdint.h>

#include "config/model.h"

/* Room for a whole reason as the probes write it (curl's TLS messages run
 * to 120 characters and more); a longer one is cut to fit. */
#define HEALTH_REASON_LEN 200

struct health {
	uint8_t state;    /* enum model_health */
	uint32_t streak;  /* consecutive verdicts against the current state */
	int64_t tat_ms;   /* damping: when the bucket is full again (GCRA) */
	char reason[HEALTH_REASON_LEN]; /* the last verdict's reason */
};

void health_init(struct health *h);

/* Feed one verdict.  reason (NULL: "") is stored, truncated, whatever the
 * outcome.  rise/fall of 0 count as 1.  Returns true when this verdict
 * changed h->state (including the first decision out of UNKNOWN). */
bool health_feed(struct health *h, bool success, const char *reason,
		 uint32_t rise, uint32_t fall);

/* health_feed, with flap damping: now_ms is a monotonic clock, hold_ms
 * the pace of transitions in a run of them (0: none). */
bool health_feed_at(struct health *h, bool success, const char *reason,
		    uint32_t rise, uint32_t fall, int64_t now_ms,
		    uint32_t hold_ms);

/* True when the last verdict disagreed with the state (a transition is
 * under way or held back): the probe manager re-checks sooner then. */
static inline bool health_unsettled(const struct health *h)
{
	return h->state != HEALTH_UNKNOWN && h->streak > 0;
}

/* ---- suspect re-checks ----
 *
 * A black-holed target costs a whole timeout per failing run: with fall
 * 2 that is two timeouts in a row.  A run of an up target that stays
 * unanswered far beyond what the target usually takes is suspect, and a
 * second run starts beside it, so the two timeouts overlap.  "Far beyond"
 * is the target's own retransmission timeout as TCP computes it (RFC
 * 6298: smoothed latency + 4 x its mean deviation, over successful runs
 * only), so a slow-but-healthy target is not probed twice; and a target
 * whose usual latency is not well below fast-interval is never re-checked
 * this way (it keeps the plain schedule). */

/* Successful runs needed before a target's latency is trusted. */
#define HEALTH_RTT_MIN_SAMPLES 3

struct health_rtt {
	uint32_t srtt_us;   /* smoothed latency */
	uint32_t rttvar_us; /* its mean deviation */
	uint32_t n;         /* samples, saturating */
};

/* One successful run's duration. */
void health_rtt_feed(struct health_rtt *r, uint64_t us);

/* After how many ms a run still in flight starts a suspect re-check:
 * srtt + 4 x rttvar, at least fast_ms / 4; 0 (never) before
 * HEALTH_RTT_MIN_SAMPLES successes, when that exceeds fast_ms / 2, or
 * when it would not start before timeout_ms. */
uint32_t health_suspect_ms(const struct health_rtt *r, uint32_t fast_ms,
			   uint32_t timeout_ms);

/* "unknown", "up", "down". */
const char *health_name(uint8_t state);

#endif
