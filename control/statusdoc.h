/*
 * statusdoc.h -- the /status JSON document of the running daemon
 * (control thread only), whole or a slice at a time.
 *
 * At 10,000 services the document is about 8 MB and took 0.4 s to build
 * as one jansson tree: a client that asked and did not read held all of
 * it, and the control thread (which also runs the probes) stalled for the
 * whole build.  The cursor writes it in slices of whole services or
 * targets, byte for byte the document statusdoc_tree() dumps with
 * STATUSDOC_FLAGS and a trailing newline, each slice in its own turn of
 * the event loop (statusdoc.c says why that is safe while the model
 * changes).
 */
#ifndef GSLBD_STATUSDOC_H
#define GSLBD_STATUSDOC_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

struct evbuffer;
struct model;
struct status_view;

/* How the document is dumped (the whole one and every slice). */
#define STATUSDOC_FLAGS (JSON_INDENT(1) | JSON_PRESERVE_ORDER)

/* Where a stream is.  The model pointer is compared, never read. */
struct statusdoc_cursor {
	const struct model *m;
	uint64_t targets_generation;
	unsigned part;  /* what comes next (statusdoc.c: enum sd_part) */
	size_t pos;     /* service or target index within the part */
	size_t emitted; /* elements written into the current array */
};

enum statusdoc_step {
	STATUSDOC_MORE,    /* call statusdoc_next again */
	STATUSDOC_DONE,    /* the document is complete */
	STATUSDOC_CHANGED, /* the model or its targets changed: nothing
			    * more can follow; what went is not a document */
	STATUSDOC_FAILED,  /* a part could not be encoded: likewise */
};

/* The whole document as one tree (NULL if a part could not be built):
 * what the streamed one must equal. */
json_t *statusdoc_tree(const struct status_view *v);

/* Start a document of the model the view serves now. */
void statusdoc_begin(struct statusdoc_cursor *cur,
		     const struct status_view *v);

/* Append the next part of the document to b, stopping at a whole service
 * or target once budget bytes were appended (the head, everything before
 * "services", goes in the first call, and the tail, the admin rules and
 * the Kubernetes source, in the last).  Nothing is appended when the
 * answer is STATUSDOC_CHANGED. */
enum statusdoc_step statusdoc_next(struct statusdoc_cursor *cur,
				   struct evbuffer *b,
				   const struct status_view *v, size_t budget);

#endif
