/*
 * http.h -- HTTP and HTTPS probes through one libcurl multi handle driven
 * by libevent (CURLMOPT_SOCKETFUNCTION / CURLMOPT_TIMERFUNCTION, as in
 * curl's hiperfifo example).  A probe is set up once per target and run
 * every interval: the per-run cost is the transfer, not building a
 * handle.  Each run connects to the endpoint address; the URL carries the
 * probe host, so the Host header and TLS SNI (and certificate check) name
 * the service, not the address.
 */
#ifndef GSLBD_HTTP_H
#define GSLBD_HTTP_H

#include <stdbool.h>

#include "config/model.h"

struct event_base;
struct http_probe_ctx;
struct http_probe;

/* Called exactly once per started run, from the event loop (never from
 * inside http_probe_run).  reason: "status 200" on success; "timeout",
 * "refused", "status 503", "body mismatch", "connect error: ..." or
 * "tls error (host NAME): ..." on failure, NAME being the host the
 * certificate was checked against.  The callback may start the next run
 * or stop another probe, but must not free this one. */
typedef void (*http_probe_done_fn)(void *arg, bool ok, const char *reason);

/* One per event base.  Returns NULL when curl cannot be set up. */
struct http_probe_ctx *http_probe_ctx_new(struct event_base *base);

/* Free the context once every probe made with it was freed.  NULL is
 * fine. */
void http_probe_ctx_free(struct http_probe_ctx *ctx);

/* One target's HTTP(S) probe: a libcurl easy handle set up once for
 * addr with spec (type PROBE_HTTP or PROBE_HTTPS), run again and again.
 * host is the name for the URL, Host header and SNI (a trailing dot is
 * dropped).  Everything needed later is copied: spec, addr and host may
 * go away.  With spec->keepalive the probe keeps its own connection (a
 * one-entry cache of its own, so that finding it never searches the
 * other targets' connections).  Returns NULL when curl refuses an
 * option. */
struct http_probe *http_probe_new(struct http_probe_ctx *ctx,
				  const struct probe_spec *spec,
				  const struct model_addr *addr,
				  const char *host, http_probe_done_fn fn,
				  void *arg);

/* Start a run; fn is called once when it ends, from the event loop.
 * reuse: take the kept-alive connection if there is one (keepalive
 * only); otherwise a new connection.  A connection not kept is closed
 * with a reset, so that no TIME_WAIT is left on either side.  Returns 0,
 * or -1 when the run could not start (fn is not called then). */
int http_probe_run(struct http_probe *hp, bool reuse);

/* True while a run is in flight. */
bool http_probe_busy(const struct http_probe *hp);

/* Abort the run in flight, if any; its callback never runs.  Safe from
 * inside another probe's callback. */
void http_probe_stop(struct http_probe *hp);

/* Stop and free, closing a kept-alive connection.  NULL is fine. */
void http_probe_free(struct http_probe *hp);

#endif
