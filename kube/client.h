/*
 * client.h -- list + watch of Kubernetes resources, the way client-go's
 * reflectors do it, on a libevent base with one libcurl multi handle.
 *
 * A reflector lists a resource (paged: limit=500 + continue), then
 * watches from the list's resourceVersion (allowWatchBookmarks, a
 * server-side timeoutSeconds with jitter), applying ADDED / MODIFIED /
 * DELETED events to an in-memory store keyed "namespace/name".  410 Gone
 * (as HTTP status or as a watch ERROR event) means relist; a watch that
 * ends normally is resumed from the last resourceVersion; failures retry
 * with capped exponential backoff and jitter (500 ms doubling to 30 s);
 * and a full relist runs every resync period.  The store is kept
 * through any outage.  Nothing here blocks.
 */
#ifndef GSLBD_KUBE_CLIENT_H
#define GSLBD_KUBE_CLIENT_H

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

#include "kube/kubecfg.h"

struct event_base;
struct kube_client;
struct kube_reflector;

#define KUBE_BACKOFF_MIN_MS 500
#define KUBE_BACKOFF_MAX_MS 30000
#define KUBE_WATCH_SECONDS  300  /* plus up to 20% jitter */
#define KUBE_LIST_LIMIT     500

/* creds: taken over (the client clears and frees it).  timeout_ms: for
 * connecting and for each list request.  Returns NULL when libcurl
 * cannot start (creds are cleared then too). */
struct kube_client *kube_client_new(struct event_base *base,
				    struct kube_creds *creds,
				    uint32_t timeout_ms);

/* Free every reflector's transfer first (kube_reflector_free). */
void kube_client_free(struct kube_client *cl);

enum kube_refl_event {
	KUBE_REFL_CHANGED, /* the store changed (after the first list) */
	KUBE_REFL_STATE,   /* connected / error state changed */
};
typedef void (*kube_refl_fn)(void *arg, struct kube_reflector *r,
			     enum kube_refl_event ev);

/* path: the collection, e.g.
 * "/apis/multiclusterdns.kubefed.io/v1alpha1/namespaces/x/servicednsrecords";
 * what: a short name for logs.  The first list starts on the next loop
 * turn.  fn is called from the event loop, never from inside libcurl. */
struct kube_reflector *kube_reflector_new(struct kube_client *cl,
					  const char *path, const char *what,
					  uint32_t resync_ms,
					  kube_refl_fn fn, void *arg);
void kube_reflector_free(struct kube_reflector *r);

/* The objects: a JSON object "namespace/name" -> object (borrowed). */
json_t *kube_reflector_store(const struct kube_reflector *r);

/* Watch events name at most this many keys between two takes; more
 * count as a list. */
#define KUBE_CHANGED_MAX 4096

/* What changed in the store since the last call.  True: *keys is a new
 * JSON object (the caller's) of the keys whose objects watch events
 * added, changed or deleted (look each up in the store: absent means
 * deleted), or NULL when there were none.  False (*keys NULL): a list
 * replaced the store, so any object may have changed. */
bool kube_reflector_take_changed(struct kube_reflector *r, json_t **keys);

struct kube_refl_stats {
	bool synced;        /* a full list has been received */
	bool connected;     /* the last request got an HTTP answer */
	bool ok;            /* ... and it was not an error */
	int64_t last_sync;  /* unix time of the last full list */
	uint64_t lists;     /* complete lists */
	uint64_t events;    /* watch events applied */
	uint64_t errors;    /* failed requests and bad events */
	char last_error[128];
};
void kube_reflector_stats(const struct kube_reflector *r,
			  struct kube_refl_stats *st);

/* Start a full relist now (as the resync timer does). */
void kube_reflector_relist(struct kube_reflector *r);

/* "namespace/name" of an object, into buf; NULL when metadata.name is
 * missing or not a string. */
const char *kube_obj_key(const json_t *obj, char *buf, size_t len);

#endif
