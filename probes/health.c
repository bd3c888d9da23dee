/* health.c -- see health.h. */
#include "config.h"

#include <string.h>

#include "probes/health.h"

void health_init(struct health *h)
{
	memset(h, 0, sizeof(*h));
	h->state = HEALTH_UNKNOWN;
}

static void health_set_reason(struct health *h, const char *reason)
{
	size_t n = reason ? strlen(reason) : 0;

	if (n >= sizeof(h->reason))
		n = sizeof(h->reason) - 1;
	if (n)
		memcpy(h->reason, reason, n);
	h->reason[n] = '\0';
}

bool health_feed(struct health *h, bool success, const char *reason,
		 uint32_t rise, uint32_t fall)
{
	return health_feed_at(h, success, reason, rise, fall, 0, 0);
}

/* GCRA with a burst of two: a transition at now is allowed when the
 * bucket's theoretical arrival time is at most one hold ahead. */
static bool health_paced(struct health *h, int64_t now_ms, uint32_t hold_ms)
{
	if (!hold_ms)
		return true;
	int64_t tat = h->tat_ms > now_ms ? h->tat_ms : now_ms;
	if (tat - now_ms > (int64_t)hold_ms)
		return false;
	h->tat_ms = tat + hold_ms;
	return true;
}

bool health_feed_at(struct health *h, bool success, const char *reason,
		    uint32_t rise, uint32_t fall, int64_t now_ms,
		    uint32_t hold_ms)
{
	uint8_t want = success ? HEALTH_UP : HEALTH_DOWN;
	uint32_t need = success ? rise : fall;

	health_set_reason(h, reason);
	if (h->state == HEALTH_UNKNOWN) {
		h->state = want;
		h->streak = 0;
		return true;
	}
	if (h->state == want) {
		/* Agreement breaks any run towards the other state. */
		h->streak = 0;
		return false;
	}
	if (need == 0)
		need = 1;
	if (h->streak < need)
		h->streak++;
	if (h->streak < need || !health_paced(h, now_ms, hold_ms))
		return false; /* not yet, or held back: streak stays full */
	h->state = want;
	h->streak = 0;
	return true;
}

/* ---- suspect re-checks ---- */

void health_rtt_feed(struct health_rtt *r, uint64_t us)
{
	uint32_t m = us > UINT32_MAX / 8 ? UINT32_MAX / 8 : (uint32_t)us;

	if (r->n == 0) {
		r->srtt_us = m;
		r->rttvar_us = m / 2;
	} else {
		uint32_t dev = r->srtt_us > m ? r->srtt_us - m : m - r->srtt_us;
		r->rttvar_us = (uint32_t)(((uint64_t)3 * r->rttvar_us + dev) / 4);
		r->srtt_us = (uint32_t)(((uint64_t)7 * r->srtt_us + m) / 8);
	}
	if (r->n < UINT32_MAX)
		r->n++;
}

uint32_t health_suspect_ms(const struct health_rtt *r, uint32_t fast_ms,
			   uint32_t timeout_ms)
{
	if (r->n < HEALTH_RTT_MIN_SAMPLES || fast_ms == 0)
		return 0;
	uint64_t rto_us = (uint64_t)r->srtt_us + 4 * (uint64_t)r->rttvar_us;
	uint64_t ms = (rto_us + 999) / 1000;
	if (ms < fast_ms / 4)
		ms = fast_ms / 4;
	if (ms == 0 || ms > fast_ms / 2 || ms >= timeout_ms)
		return 0;
	return (uint32_t)ms;
}

const char *health_name(uint8_t state)
{
	switch (state) {
	case HEALTH_UP:
		return "up";
	case HEALTH_DOWN:
		return "down";
	default:
		return "unknown";
	}
}
