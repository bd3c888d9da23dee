/*
 * curlev.h -- one libcurl multi handle driven by a libevent base: curl
 * says which sockets to watch (CURLMOPT_SOCKETFUNCTION) and when to wake
 * (CURLMOPT_TIMERFUNCTION); the events call curl_multi_socket_action;
 * finished transfers are handed back.  Nothing blocks.  The HTTP probes
 * and the Kubernetes API client each run their transfers through one.
 */
#ifndef GSLBD_CURLEV_H
#define GSLBD_CURLEV_H

#include <curl/curl.h>

struct event_base;
struct curlev;

/* A transfer finished (after it was removed from the multi handle):
 * priv is the easy handle's CURLOPT_PRIVATE. */
typedef void (*curlev_done_fn)(CURL *easy, void *priv, CURLcode rc);

/* what: a short name for log lines ("http probe", "kube"). */
struct curlev *curlev_new(struct event_base *base, curlev_done_fn done,
			  const char *what);
/* Remove every transfer first (curlev_remove); then free. */
void curlev_free(struct curlev *c);

/* Idle connections the multi handle may keep for reuse (libcurl's own
 * default follows the number of transfers in flight). */
int curlev_keep_connections(struct curlev *c, long n);

int curlev_add(struct curlev *c, CURL *easy);
/* Stop a transfer in flight; done is not called for it. */
void curlev_remove(struct curlev *c, CURL *easy);

#endif
