/*
 * kube.h -- services from the KubeFed host cluster's API: list + watch of
 * ServiceDNSRecord, KubeFedCluster and DNSEndpoint objects, mapped to
 * model services, on the control thread's libevent base (libcurl multi,
 * never blocking).
 *
 * The source keeps its own list of services.  A watch event maps only
 * the object it names again (kubeidx.h); a KubeFedCluster change, new
 * settings or a relist that changed much map more.  When the list
 * changes the source calls the change callback (coalesced: events
 * within KUBE_COALESCE_MS, 10 ms, are applied together, and under a
 * stream of them remaps are spaced by three times what they cost); the
 * caller then reads kube_service_list() and, to rebuild only what
 * changed, kube_take_changes().  An event that leaves every service
 * equal (status or resourceVersion noise) calls nothing.  When the API
 * is unreachable nothing changes: the last known list stays, and at
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

/* The current services, sorted by name: pointers owned by the source,
 * valid until the next change callback has returned, or kube_free (copy
 * what must live longer).  Names are FQDNs inside the zone.  A service
 * whose object was not mapped again, or was mapped to an equal service,
 * keeps its pointer from one callback to the next, so a changed pointer
 * means a changed (or moved) service. */
const struct model_service *const *kube_service_list(const struct kube_src *k,
						     size_t *n);

/* The same list (the older name; it returned an array of structs). */
const struct model_service *const *kube_services(const struct kube_src *k,
						 size_t *n);

/* The names whose service came, went or changed in any field since the
 * last call: sorted, unique, valid until the next change callback.
 * False: take everything as changed (the first list, the switch from
 * the cache file to the API, a KubeFedCluster change or new settings
 * that changed something, more than 4096 names); *names is NULL then.
 * Either way the record starts empty again.  A name whose pointer
 * changed to an equal service (another object's) is not named. */
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
 * services differ. */
void kube_update(struct kube_src *k, const struct model_kube *conf,
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
