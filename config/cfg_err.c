/* cfg_err.c -- configuration errors, kept and reported in file order
 * (cfg_int.h).  The bottom of config/'s reader: it calls nothing above. */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <yaml.h>

#include "config/cfg_int.h"
#include "lib/xalloc.h"

/* ---- errors ---- */


/*
 * Keep the line to report it in order of place: the parser checks the
 * zone before the server section, say, and a reader wants line order.
 */
void cfg_emit(struct cfg_ctx *c, size_t line, size_t col,
	      const char *text)
{
	char *t;

	c->nerr++;
	if (!c->err)
		return;
	if (c->nmsgs == c->capmsgs) {
		size_t cap = c->capmsgs ? c->capmsgs * 2 : 16;
		c->msgs = xreallocarray(c->msgs, cap, sizeof(*c->msgs));
		c->capmsgs = cap;
	}
	t = xstrdup(text);
	c->msgs[c->nmsgs] = (struct cfg_msg){ line, col, c->nmsgs, t };
	c->nmsgs++;
}

static int cfg_msg_cmp(const void *pa, const void *pb)
{
	const struct cfg_msg *a = pa, *b = pb;

	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return (a->seq > b->seq) - (a->seq < b->seq);
}

void cfg_flush(struct cfg_ctx *c)
{
	if (c->nmsgs)
		qsort(c->msgs, c->nmsgs, sizeof(*c->msgs), cfg_msg_cmp);
	for (size_t i = 0; i < c->nmsgs; i++) {
		c->err(c->arg, c->msgs[i].text);
		free(c->msgs[i].text);
	}
	free(c->msgs);
	c->msgs = NULL;
	c->nmsgs = c->capmsgs = 0;
}

void cfg_error_at(struct cfg_ctx *c, size_t line, size_t col,
		  const char *fmt, ...)
{
	char msg[768], full[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "%s:%zu:%zu: %s", c->name, line, col, msg);
	cfg_emit(c, line, col, full);
}

