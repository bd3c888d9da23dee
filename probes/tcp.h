/*
 * tcp.h -- TCP connect probes: a non-blocking connect watched by one
 * libevent event with the probe timeout.  Success is a completed
 * handshake; the socket is then reset at once (no data, no TIME_WAIT).
 */
#ifndef GSLBD_TCP_H
#define GSLBD_TCP_H

#include <stdbool.h>
#include <stdint.h>

#include "config/model.h"

struct event_base;
struct tcp_probe;

/* Called exactly once per started probe, from the event loop (never from
 * inside tcp_probe_start).  reason: "ok", "refused", "timeout",
 * "unreachable" or "connect error: ...".  The probe is freed right after
 * the callback returns: do not cancel it from there. */
typedef void (*tcp_probe_done_fn)(void *arg, bool ok, const char *reason);

/* Start connecting to addr:port.  Returns NULL when no socket or event
 * could be made (the callback is then never called). */
struct tcp_probe *tcp_probe_start(struct event_base *base,
				  const struct model_addr *addr, uint16_t port,
				  uint32_t timeout_ms, tcp_probe_done_fn fn,
				  void *arg);

/* Abort a probe whose callback has not run yet; the callback never runs. */
void tcp_probe_cancel(struct tcp_probe *tp);

#endif
