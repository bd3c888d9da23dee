/*
 * qsbr.h -- quiescent-state-based reclamation of old snapshots.
 *
 * Workers read the current snapshot without locks.  When the control
 * thread publishes a new one, the old one is retired with the epoch of
 * that moment; it is freed once every worker has reported a quiescent
 * point (a moment holding no snapshot pointer) at or after that epoch.
 * A worker that sleeps in its event loop reports from a periodic timer,
 * so reclamation lags by at most that period.
 */
#ifndef GSLBD_QSBR_H
#define GSLBD_QSBR_H

struct qsbr;

struct qsbr *qsbr_new(unsigned nthreads);
/* Frees every retired object, whatever the workers' state: call only
 * after the workers have stopped. */
void qsbr_free(struct qsbr *q);

/* Worker tid holds no pointer to shared data right now. */
void qsbr_quiescent(struct qsbr *q, unsigned tid);
/* Worker tid leaves for good (it will not read again). */
void qsbr_offline(struct qsbr *q, unsigned tid);

/* Control thread: free obj with fn once no worker can still see it. */
void qsbr_retire(struct qsbr *q, void *obj, void (*fn)(void *));
/* Control thread: free what has become safe.  Returns how many remain. */
unsigned qsbr_reclaim(struct qsbr *q);

#endif
