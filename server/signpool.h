/*
 * signpool.h -- signer threads for big DNSSEC builds: a batch of jobs
 * collected by a build in collect mode (sign.h) is signed by every
 * thread of the pool while the control thread keeps running.  One batch
 * at a time.  Started, waited for and freed by the control thread only.
 */
#ifndef GSLBD_SIGNPOOL_H
#define GSLBD_SIGNPOOL_H

#include <stdbool.h>

struct sign_jobs;
struct signpool;

/* n threads (0: the online CPUs, at most SIGNPOOL_MAX_DEFAULT). */
#define SIGNPOOL_MAX_DEFAULT 4
struct signpool *signpool_new(unsigned n);
/* Waits for the threads; a batch in flight is abandoned between jobs
 * (its jobs then stay unsigned; the caller still frees them). */
void signpool_free(struct signpool *p);
unsigned signpool_threads(const struct signpool *p);

/* Sign every job of j; done(arg) is called once, on the pool thread
 * that finishes last (make it only wake the control thread, e.g. with
 * event_active).  j belongs to the caller, who must not touch it until
 * done ran.  -1 when a batch is already in flight. */
int signpool_start(struct signpool *p, struct sign_jobs *j,
		   void (*done)(void *arg), void *arg);
/* Block until the batch in flight (if any) is done. */
void signpool_wait(struct signpool *p);
/* A batch is in flight. */
bool signpool_busy(struct signpool *p);

#endif
