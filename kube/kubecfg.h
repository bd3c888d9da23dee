/*
 * kubecfg.h -- how to reach the Kubernetes API: the server URL and the
 * credentials, from a kubeconfig file (clusters/users/contexts) or from
 * the pod's service account (in-cluster), applied to libcurl handles.
 *
 * Inline "-data" fields of a kubeconfig are base64-decoded and handed to
 * libcurl as blobs (no temporary files).  Token files are re-read when
 * their mtime changes: bound service-account tokens rotate.
 */
#ifndef GSLBD_KUBECFG_H
#define GSLBD_KUBECFG_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <curl/curl.h>

/* Where the in-cluster credentials live; GSLBD_SA_DIR overrides it. */
#define KUBE_SA_DIR "/var/run/secrets/kubernetes.io/serviceaccount"

struct kube_blob {
	unsigned char *data;
	size_t len;
};

struct kube_creds {
	char *server;            /* "https://host:port", no trailing slash */
	char *ca_file;           /* or ca (PEM bytes); neither: system store */
	struct kube_blob ca;
	char *cert_file;         /* client certificate (mTLS) */
	struct kube_blob cert;
	char *key_file;
	struct kube_blob key;
	char *token;             /* bearer token, current value */
	char *token_file;        /* re-read when it changes */
	struct timespec token_mtime;
	bool insecure;           /* insecure-skip-tls-verify */
	char *source;            /* "kubeconfig PATH context NAME" or
				    "in-cluster DIR", for logs */
};

/* From a kubeconfig file.  context NULL: its current-context.  Relative
 * paths inside are relative to the file's directory.  Returns 0, or -1
 * with a message in err (c then owns nothing). */
int kube_creds_kubeconfig(struct kube_creds *c, const char *path,
			  const char *context, char *err, size_t errlen);

/* From the service account directory and KUBERNETES_SERVICE_HOST/PORT.
 * Returns 0 or -1 with a message in err. */
int kube_creds_in_cluster(struct kube_creds *c, char *err, size_t errlen);

/* Re-read the token file if it changed since the last read.  A failed
 * read keeps the old token (and says why in err, returning -1). */
int kube_creds_refresh(struct kube_creds *c, char *err, size_t errlen);

/* Set the TLS options of one request and append the Authorization
 * header to *headers (the caller frees the list).  Returns 0 or -1. */
int kube_creds_apply(const struct kube_creds *c, CURL *easy,
		     struct curl_slist **headers);

void kube_creds_clear(struct kube_creds *c);

/* Base64 (standard alphabet, padding required, whitespace ignored) into
 * a new buffer.  Returns 0 or -1. */
int kube_base64_decode(const char *in, struct kube_blob *out);

#endif
