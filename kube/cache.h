/*
 * cache.h -- the last known Kubernetes services on disk (JSON), so that
 * a restart during an API outage still serves them.
 *
 * Written to a temporary file in the same directory, fsync'd, renamed
 * over the old one and the directory fsync'd: a crash leaves the old
 * file or the new one, never half of either.  Health is not stored:
 * every address starts unknown (counted up) and the probes decide.
 */
#ifndef GSLBD_KUBE_CACHE_H
#define GSLBD_KUBE_CACHE_H

#include <stddef.h>

#include "config/model.h"

#define KUBE_CACHE_VERSION 1

/* Returns 0, or -1 with a message in err. */
int kube_cache_write(const char *path, const struct model_service *s,
		     size_t n, char *err, size_t errlen);

/* A new array of services (free with kubefed_services_free), each with
 * source "kube".  Returns 0, or -1 with a message in err. */
int kube_cache_read(const char *path, struct model_service **out,
		    size_t *n, char *err, size_t errlen);

#endif
