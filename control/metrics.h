/*
 * metrics.h -- /metrics: the Prometheus text exposition of the running
 * daemon, written into an evbuffer (control thread only).
 */
#ifndef GSLBD_METRICS_H
#define GSLBD_METRICS_H

struct evbuffer;
struct gslbd;

void metrics_write(struct evbuffer *b, struct gslbd *g);

#endif
