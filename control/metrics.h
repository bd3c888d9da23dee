/*
 * metrics.h -- /metrics: the Prometheus text exposition of the running
 * daemon, written into an evbuffer (control thread only).
 */
#ifndef GSLBD_METRICS_H
#define GSLBD_METRICS_H

struct evbuffer;
struct status_view;

void metrics_write(struct evbuffer *b, const struct status_view *v);

#endif
