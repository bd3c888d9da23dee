/*
 * control.h -- the control and metrics HTTP API (evhttp, control thread):
 * /metrics, /status, /healthz, /readyz, admin actions and reload.
 */
#ifndef GSLBD_CONTROL_H
#define GSLBD_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "config/model.h"

struct event_base;
struct control;
struct status_view;

/* Listen as conf says; read the daemon through v (copied).  Returns NULL
 * with a message in err. */
struct control *control_new(struct event_base *base,
			    const struct status_view *v,
			    const struct model_control *conf, char *err,
			    size_t errlen);

/* Take a new token after a reload (the address needs a restart). */
int control_set_token(struct control *c, const char *token);

void control_free(struct control *c);

/* A reload the daemon deferred (status_view.reload returned 1) is done:
 * rc 0 or -1 (err), as reload would have returned.  Answers the POST
 * /reload requests waiting for it.  c may be NULL. */
void control_reload_done(struct control *c, int rc, const char *err);

/* The DNS-rebinding guard used when no token is set: is Host (NULL: none
 * sent) a loopback address (127.0.0.0/8, [::1]), localhost, or the
 * address the API listens on (listen, may be NULL), with an optional
 * numeric port?  Names are refused: any of them could be rebound. */
bool control_host_allowed(const char *host, const struct sockaddr *listen);

#endif
