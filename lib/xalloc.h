/*
 * xalloc.h -- the allocation policy: out of memory aborts.
 *
 * gslbd's control plane (config, zone, Kubernetes, probes, compile, control
 * API) allocates through these.  A failed allocation logs one line and
 * aborts, as gdnsd's xmalloc does: rollback code that no test can reach is
 * worse than a clean restart by the service manager, and a half-built
 * snapshot must never be published.  The query path allocates nothing.
 * Code that reads untrusted sizes checks them against a limit first, so a
 * hostile input cannot turn into an abort.
 */
#ifndef GSLBD_XALLOC_H
#define GSLBD_XALLOC_H

#include <stddef.h>

void *xmalloc(size_t n) __attribute__((malloc, returns_nonnull));
void *xcalloc(size_t nmemb, size_t size) __attribute__((malloc, returns_nonnull));
/* nmemb * size, checked for overflow (which also aborts). */
void *xreallocarray(void *p, size_t nmemb, size_t size)
	__attribute__((returns_nonnull));
void *xrealloc(void *p, size_t n) __attribute__((returns_nonnull));
char *xstrdup(const char *s) __attribute__((malloc, returns_nonnull));
char *xstrndup(const char *s, size_t n) __attribute__((malloc, returns_nonnull));
char *xasprintf(const char *fmt, ...)
	__attribute__((format(printf, 1, 2), returns_nonnull));
/* Logs "out of memory" with what was asked for, then aborts. */
void xalloc_die(size_t n) __attribute__((noreturn, cold));

#endif
