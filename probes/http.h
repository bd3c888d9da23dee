/*
 * http.h -- HTTP and HTTPS probes through one libcurl multi handle driven
 * by libevent (CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION, as in
 * curl's hiperfifo example).  Each probe is one fresh connection to the
 * endpoint address; the URL carries the probe host, so the Host header
 * and TLS SNI (and certificate check) name the service, not the address.
 */
#ifndef GSLBD_HTTP_H
#define GSLBD_HTTP_H

#include <stdbool.h>

#include "config/model.h"

struct event_base;
struct http_probe_ctx;
struct http_probe;

/* Called exactly once per started probe, from the event loop (never from
 * inside http_probe_start).  reason: "status 200" on success; "timeout",
 * "refused", "status 503", "body mismatch", "connect error: ..." or
 * "tls error (host NAME): ..." on failure, NAME being the host the
 * certificate was checked against.  The probe is freed right after the
 * callback returns: do not cancel it from there. */
typedef void (*http_probe_done_fn)(void *arg, bool ok, const char *reason);

/* One per event base.  Returns NULL when curl cannot be set up. */
struct http_probe_ctx *http_probe_ctx_new(struct event_base *base);

/* Abort every probe in flight (no callbacks) and free.  NULL is fine. */
void http_probe_ctx_free(struct http_probe_ctx *ctx);

/* Probe addr with spec (type PROBE_HTTP or PROBE_HTTPS).  host is the
 * name for the URL, Host header and SNI (a trailing dot is dropped).
 * reuse: take a kept-alive connection if there is one, and keep this one
 * (spec->keepalive); otherwise a new connection, closed after.
 * Everything needed later is copied: spec, addr and host may go away
 * while the probe runs.  Returns NULL when out of memory. */
struct http_probe *http_probe_start(struct http_probe_ctx *ctx,
				    const struct probe_spec *spec,
				    const struct model_addr *addr,
				    const char *host, bool reuse,
				    http_probe_done_fn fn, void *arg);

/* Abort a probe whose callback has not run yet; the callback never runs. */
void http_probe_cancel(struct http_probe *hp);

#endif
