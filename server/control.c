/* control.c -- placeholder until the control API lands (being written). */
#include "config.h"

#include <stdlib.h>

#include "server/control.h"

struct control {
	int unused;
};

struct control *control_new(struct event_base *base, struct gslbd *g,
			    const struct model_control *conf, char *err,
			    size_t errlen)
{
	return calloc(1, sizeof(struct control));
}

int control_set_token(struct control *c, const char *token)
{
	return 0;
}

void control_free(struct control *c)
{
	free(c);
}
