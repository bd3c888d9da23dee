/*
 * acceptguard.h -- what a listener does when accept() fails for want of
 * resources (EMFILE, ENFILE, ENOBUFS, ENOMEM) or any other lasting
 * reason: libevent would call accept() again at once, forever, at full
 * CPU, logging each failure.  Instead every listener of the guard pauses
 * (100 ms, doubling up to 1 s while the failures go on), one line is
 * logged when the episode starts and one when it ends, with the count.
 *
 * One guard per event loop (the DNS TCP worker, the control API); a
 * guard and its listeners belong to that loop's thread.
 */
#ifndef GSLBD_ACCEPTGUARD_H
#define GSLBD_ACCEPTGUARD_H

#include <stdbool.h>

struct event_base;
struct evconnlistener;
struct acceptguard;

/* what: the listener's name in the log ("dns-tcp", "control"). */
struct acceptguard *acceptguard_new(struct event_base *base, const char *what);

/* Guard l: its accept errors pause every listener of g.  Free g before
 * its listeners. */
void acceptguard_watch(struct acceptguard *g, struct evconnlistener *l);

/* The owner stops (blocked) or resumes accepting, e.g. at its connection
 * cap: use this rather than evconnlistener_disable/enable, so that the
 * end of a pause does not resume listeners the owner has stopped, and
 * resuming does not cut a pause short. */
void acceptguard_block(struct acceptguard *g, bool blocked);

/* A connection was accepted: ends an episode that is under way. */
void acceptguard_ok(struct acceptguard *g);

/* accept() failed with err (called by the error callback; exposed for
 * tests). */
void acceptguard_failed(struct acceptguard *g, int err);

/* Failures seen since the start, over every episode. */
unsigned long long acceptguard_failures(const struct acceptguard *g);

/* Stop guarding (a paused listener stays paused), free.  NULL is fine. */
void acceptguard_free(struct acceptguard *g);

#endif
