/*
 * metrics.h -- /metrics: the Prometheus text exposition of the running
 * daemon (control thread only).
 *
 * By default: totals and counts, whose size does not grow with the
 * service list.  With per-target series (control.metrics-per-target) also
 * a set of series per address and per probe target, which at 10,000
 * targets is tens of megabytes: written a slice at a time through a
 * cursor, each slice in its own turn of the event loop (metrics.c says
 * why that is safe while the model changes).
 */
#ifndef GSLBD_METRICS_H
#define GSLBD_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "probes/probe.h"

struct evbuffer;
struct model;
struct status_view;

/* A total as last shown, and what targets gone since took with them. */
struct metrics_mono {
	uint64_t shown, carry;
};

/* The probe totals summed over the targets there are now.  Targets come
 * and go with their counters, so each total is kept from going down.
 * Zero it once; the caller keeps it across scrapes. */
struct metrics_totals {
	struct metrics_mono failures[PROBE_FAIL_MAX];
	struct metrics_mono bucket[PROBE_LAT_BUCKETS + 1];
	struct metrics_mono sum_us;
};

/* Where a scrape is.  The model pointer is compared, never read. */
struct metrics_cursor {
	const struct model *m;
	uint64_t targets_generation;
	bool per_target;
	unsigned part;  /* what comes next (metrics.c: enum m_part) */
	size_t pos;     /* service or target index within the part */
};

enum metrics_step {
	METRICS_MORE,    /* call metrics_next again */
	METRICS_DONE,    /* the exposition is complete */
	METRICS_CHANGED, /* the model or its targets changed: end here */
};

/* Start a scrape of the model the view serves now; per_target adds the
 * per-address and per-target series. */
void metrics_begin(struct metrics_cursor *cur, const struct status_view *v,
		   bool per_target);

/* Append the next part of the exposition to b, stopping at a whole
 * service or target once budget bytes were appended (the totals and
 * counts all go in the first call).  METRICS_CHANGED: the model was
 * replaced or its targets re-indexed since metrics_begin, and the rest
 * cannot be written without repeating or missing series; nothing was
 * appended. */
enum metrics_step metrics_next(struct metrics_cursor *cur, struct evbuffer *b,
			       const struct status_view *v,
			       struct metrics_totals *tot, size_t budget);

/* The whole exposition at once. */
void metrics_write(struct evbuffer *b, const struct status_view *v,
		   struct metrics_totals *tot, bool per_target);

#endif
