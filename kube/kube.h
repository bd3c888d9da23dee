/*
 * kube.h -- services from the KubeFed host cluster's API: list + watch of
 * ServiceDNSRecord, KubeFedCluster and DNSEndpoint objects, mapped to
 * model services, on the control thread's libevent base (libcurl multi,
 * never blocking).
 *
 * The source keeps its own list of services.  When that list changes it
 * calls the change callback (coalesced: at most once per loop iteration
 * and no more than every ~50 ms under a burst of events); the caller then
 * reads kube_services() and composes the live model from it.  When the
 * API is unreachable nothing changes: the last known list stays, and at
 * start-up it is read from the cache file.
 */
#ifndef GSLBD_KUBE_H
#define GSLBD_KUBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/model.h"

struct event_base;
struct kube_src;

typedef void (*kube_change_fn)(void *arg);

/* Start watching.  conf: the `kubernetes:` section; zone_apex: only
 * names inside it are served (others are logged and skipped);
 * defaults: the config's resolved probe-defaults, overridden per object
 * by annotations.  The source copies what it keeps.  Returns NULL with a
 * message in err (bad kubeconfig, unreadable credentials). */
struct kube_src *kube_new(struct event_base *base,
			  const struct model_kube *conf,
			  const char *zone_apex,
			  const struct probe_spec *defaults,
			  kube_change_fn fn, void *arg,
			  char *err, size_t errlen);

/* The current services (owned by the source, valid until the next
 * change callback or kube_free).  Names are FQDNs inside the zone. */
const struct model_service *kube_services(const struct kube_src *k,
					  size_t *n);

/* The current services as pointers sorted by name; NULL and 0 until the
 * source keeps them one by one. */
const struct model_service *const *kube_service_list(const struct kube_src *k,
						     size_t *n);

/* The names changed since the last call, or false: take everything as
 * changed (always, until the source maps objects one by one). */
bool kube_take_changes(struct kube_src *k, const char *const **names,
		       size_t *n);

/* On reload.  True when a and b reach the same objects the same way
 * (credentials, namespaces, kinds, timeouts, cache file): the running
 * source can stay and take b's mapping settings through kube_update.
 * False: make a new source (keep serving the old one's services until
 * the new one first calls back, then kube_free the old). */
bool kube_conf_same_source(const struct model_kube *a,
			   const struct model_kube *b);

/* New mapping settings for a running source: conf's policy and ttl, the
 * zone apex and probe-defaults.  The objects it holds are mapped again
 * on the next loop turn, and the change callback follows if the
 * services differ.  Returns 0, or -1 when out of memory (the old
 * settings stay). */
int kube_update(struct kube_src *k, const struct model_kube *conf,
		const char *zone_apex, const struct probe_spec *defaults);

/* Stop every transfer and free.  NULL is fine. */
void kube_free(struct kube_src *k);

/* For status and metrics. */
struct kube_status {
	bool connected;        /* the last request reached the API */
	bool synced;           /* a full list has been received */
	bool from_cache;       /* serving the cache file's list */
	int64_t last_sync;     /* unix time of the last full list */
	uint64_t relists;      /* full lists after the first */
	uint64_t watch_events;
	uint64_t errors;       /* failed requests, bad objects */
	uint32_t services;
	char last_error[128];
};
void kube_get_status(const struct kube_src *k, struct kube_status *st);

#endif
