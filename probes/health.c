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
