/*
 * xalloc.c -- see xalloc.h for why out of memory aborts.
 */
#include "config.h"

#include "lib/xalloc.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/log.h"

void xalloc_die(size_t n)
{
	log_err("out of memory bytes=%zu, aborting", n);
	abort();
}

void *xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);

	if (!p)
		xalloc_die(n);
	return p;
}

void *xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);

	if (!p)
		xalloc_die(nmemb * size);
	return p;
}

void *xreallocarray(void *p, size_t nmemb, size_t size)
{
	void *q;
	size_t n;

	if (size && nmemb > SIZE_MAX / size)
		xalloc_die(SIZE_MAX);
	n = nmemb * size;
	q = realloc(p, n > 0 ? n : 1);
	if (!q)
		xalloc_die(n);
	return q;
}

void *xrealloc(void *p, size_t n)
{
	void *q = realloc(p, n > 0 ? n : 1);

	if (!q)
		xalloc_die(n);
	return q;
}

char *xstrdup(const char *s)
{
	char *p = strdup(s);

	if (!p)
		xalloc_die(strlen(s) + 1);
	return p;
}

char *xstrndup(const char *s, size_t n)
{
	char *p = strndup(s, n);

	if (!p)
		xalloc_die(n + 1);
	return p;
}

char *xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	int n;

	va_start(ap, fmt);
	n = vasprintf(&p, fmt, ap);
	va_end(ap);
	if (n < 0)
		xalloc_die(strlen(fmt));
	return p;
}
