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

#include <jansson.h>

#include "config/model.h"

#define KUBE_CACHE_VERSION 1
/* The largest cache read back: 100,000 services write about 40 MiB. */
#define KUBE_CACHE_MAX (256u << 20)

/* Returns 0, or -1 with a message in err. */
int kube_cache_write(const char *path, const struct model_service *s,
		     size_t n, char *err, size_t errlen);

/* The same from n pointers to services (the Kubernetes source's list). */
int kube_cache_write_list(const char *path,
			  const struct model_service *const *s, size_t n,
			  char *err, size_t errlen);

/* A new array of services (free with kubefed_services_free), each with
 * source "kube".  Returns 0, or -1 with a message in err. */
int kube_cache_read(const char *path, struct model_service **out,
		    size_t *n, char *err, size_t errlen);

/* One probe spec as the file holds it: "set" (the PS_* bits) and each
 * setting under its cache key (probe_spec.h); an unset string is left
 * out.  Returns a new object, or NULL when out of memory. */
json_t *kube_cache_probe_json(const struct probe_spec *ps);

/* Back from such an object, finished with the built-in defaults (a
 * setting the object lacks counts as not given).  Returns 0, or -1 when
 * it is damaged or memory runs out (ps then owns nothing). */
int kube_cache_probe_read(const json_t *o, struct probe_spec *ps);

#endif
