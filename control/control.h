/*
 * control.h -- the control and metrics HTTP API (evhttp, control thread):
 * /metrics, /status, /healthz, /readyz, admin actions and reload.
 */
#ifndef GSLBD_CONTROL_H
#define GSLBD_CONTROL_H

#include <stddef.h>

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

#endif
