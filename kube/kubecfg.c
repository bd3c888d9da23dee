/* kubecfg.c -- see kubecfg.h. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>
#include <yaml.h>

#include "config/cfg.h"
#include "kube/kubecfg.h"
#include "lib/log.h"
#include "lib/readfile.h"
#include "lib/xalloc.h"

#define KUBECFG_MAX_FILE (4u << 20) /* kubeconfigs with many clusters */
#define KUBECFG_MAX_TOKEN (64u << 10)

/* ---- base64 ---- */

int kube_base64_decode(const char *in, struct kube_blob *out)
{
	size_t n = strlen(in), k = 0, pad = 0;
	unsigned char *clean, *buf;
	int got;

	out->data = NULL;
	out->len = 0;
	if (n > INT32_MAX)
		return -1;
	clean = xmalloc(n + 1);
	/* PEM-style line breaks are common in hand-made kubeconfigs. */
	for (size_t i = 0; i < n; i++)
		if (in[i] != ' ' && in[i] != '\n' && in[i] != '\r' &&
		    in[i] != '\t')
			clean[k++] = (unsigned char)in[i];
	clean[k] = '\0';
	if (k == 0 || k % 4) {
		free(clean);
		return -1;
	}
	if (clean[k - 1] == '=')
		pad++;
	if (clean[k - 2] == '=')
		pad++;
	buf = xmalloc(k / 4 * 3 + 1);
	/* EVP_DecodeBlock counts the padding as zero bytes; drop them. */
	got = EVP_DecodeBlock(buf, clean, (int)k);
	free(clean);
	if (got < 0 || (size_t)got < pad) {
		free(buf);
		return -1;
	}
	out->data = buf;
	out->len = (size_t)got - pad;
	return 0;
}

/* ---- files ---- */

/* A whole small file; NULL with err set.  Through lib/readfile so a
 * token "file" that is a FIFO or a device cannot block the control
 * thread. */
static char *kc_slurp(const char *path, size_t max, size_t *lenp,
		      char *err, size_t errlen)
{
	struct readfile_pos pos;
	char why[192];
	char *buf = readfile_text(path, max, lenp, &pos, why, sizeof(why));

	if (!buf && pos.line)
		snprintf(err, errlen, "cannot read %s:%u:%u: %s", path,
			 pos.line, pos.col, why);
	else if (!buf)
		snprintf(err, errlen, "cannot read %s: %s", path, why);
	return buf;
}

static int kc_read_token(struct kube_creds *c, char *err, size_t errlen)
{
	struct stat st;
	size_t len;
	char *t;

	if (stat(c->token_file, &st) < 0) {
		snprintf(err, errlen, "cannot read token file %s: %s",
		       c->token_file, strerror(errno));
		return -1;
	}
	if (!(t = kc_slurp(c->token_file, KUBECFG_MAX_TOKEN, &len, err,
			   errlen)))
		return -1;
	while (len && (t[len - 1] == '\n' || t[len - 1] == '\r' ||
		       t[len - 1] == ' ' || t[len - 1] == '\t'))
		t[--len] = '\0';
	if (!len || strpbrk(t, "\r\n")) {
		snprintf(err, errlen, "token file %s is empty or not one line",
		       c->token_file);
		free(t);
		return -1;
	}
	free(c->token);
	c->token = t;
	c->token_mtime = st.st_mtim;
	return 0;
}

int kube_creds_refresh(struct kube_creds *c, char *err, size_t errlen)
{
	struct stat st;

	if (!c->token_file)
		return 0;
	if (stat(c->token_file, &st) == 0 &&
	    st.st_mtim.tv_sec == c->token_mtime.tv_sec &&
	    st.st_mtim.tv_nsec == c->token_mtime.tv_nsec && c->token)
		return 0;
	return kc_read_token(c, err, errlen);
}

/* ---- kubeconfig (YAML) ---- */

static const char *kc_text(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ?
	       (const char *)n->data.scalar.value : NULL;
}

static yaml_node_t *kc_get(yaml_document_t *d, const yaml_node_t *map,
			   const char *key)
{
	const yaml_node_pair_t *p;

	if (!map || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (p = map->data.mapping.pairs.start; p < map->data.mapping.pairs.top;
	     p++) {
		const char *k = kc_text(yaml_document_get_node(d, p->key));
		if (k && !strcmp(k, key))
			return yaml_document_get_node(d, p->value);
	}
	return NULL;
}

static const char *kc_str(yaml_document_t *d, const yaml_node_t *map,
			  const char *key)
{
	const char *s = kc_text(kc_get(d, map, key));

	return s && *s ? s : NULL;
}

/*
 * The entry of list `list` (clusters, users, contexts) whose name is
 * name, and its inner mapping under `inner` ("cluster", "user",
 * "context").  NULL when absent.
 */
static yaml_node_t *kc_named(yaml_document_t *d, const yaml_node_t *root,
			     const char *list, const char *inner,
			     const char *name)
{
	yaml_node_t *l = kc_get(d, root, list);
	yaml_node_item_t *it;

	if (!l || l->type != YAML_SEQUENCE_NODE)
		return NULL;
	for (it = l->data.sequence.items.start; it < l->data.sequence.items.top;
	     it++) {
		yaml_node_t *e = yaml_document_get_node(d, *it);
		const char *n = kc_str(d, e, "name");
		if (n && !strcmp(n, name)) {
			yaml_node_t *m = kc_get(d, e, inner);
			return m && m->type == YAML_MAPPING_NODE ? m : NULL;
		}
	}
	return NULL;
}

/* A "-data" field into a blob, or the file path (made absolute). */
static int kc_pem(yaml_document_t *d, const yaml_node_t *map,
		  const char *key, const char *dir, char **file,
		  struct kube_blob *blob, char *err, size_t errlen)
{
	char dkey[64];
	const char *s;

	snprintf(dkey, sizeof(dkey), "%s-data", key);
	if ((s = kc_str(d, map, dkey))) {
		if (kube_base64_decode(s, blob) < 0) {
			snprintf(err, errlen, "%s: not valid base64", dkey);
			return -1;
		}
		return 0;
	}
	if ((s = kc_str(d, map, key)))
		*file = cfg_path_join(dir, s);
	return 0;
}

static int kc_server(struct kube_creds *c, const char *s, char *err,
		     size_t errlen)
{
	size_t len = strlen(s);

	if (strncmp(s, "https://", 8) && strncmp(s, "http://", 7)) {
		snprintf(err, errlen, "server '%s' is not an http(s) URL", s);
		return -1;
	}
	if (!strncmp(s, "http://", 7))
		log_warn("kube API server is plain http: credentials travel in "
			 "clear server=%s", s);
	while (len > 8 && s[len - 1] == '/')
		len--;
	c->server = xstrndup(s, len);
	return 0;
}

static int kc_cluster(struct kube_creds *c, yaml_document_t *d,
		      const yaml_node_t *cl, const char *dir, char *err,
		      size_t errlen)
{
	const char *s;

	if (!(s = kc_str(d, cl, "server"))) {
		snprintf(err, errlen, "the cluster has no server");
		return -1;
	}
	if (kc_server(c, s, err, errlen) < 0)
		return -1;
	s = kc_str(d, cl, "insecure-skip-tls-verify");
	c->insecure = s && !strcmp(s, "true");
	if (kc_pem(d, cl, "certificate-authority", dir, &c->ca_file,
		   &c->ca, err, errlen) < 0)
		return -1;
	/* As kubectl: both at once is a mistake, not a choice. */
	if (c->insecure && (c->ca_file || c->ca.len)) {
		snprintf(err, errlen, "insecure-skip-tls-verify and a "
			 "certificate-authority both given: remove one");
		return -1;
	}
	if (c->insecure)
		log_warn("kube API server certificate not verified "
			 "(insecure-skip-tls-verify)");
	return 0;
}

static int kc_user(struct kube_creds *c, yaml_document_t *d,
		   const yaml_node_t *u, const char *dir, char *err,
		   size_t errlen)
{
	const char *s;

	if (kc_get(d, u, "exec") || kc_get(d, u, "auth-provider")) {
		snprintf(err, errlen, "exec and auth-provider credential "
		       "plugins are not supported (use a token, tokenFile or "
		       "a client certificate)");
		return -1;
	}
	if (kc_pem(d, u, "client-certificate", dir, &c->cert_file, &c->cert,
		   err, errlen) < 0 ||
	    kc_pem(d, u, "client-key", dir, &c->key_file, &c->key, err,
		   errlen) < 0)
		return -1;
	if ((s = kc_str(d, u, "tokenFile"))) {
		c->token_file = cfg_path_join(dir, s);
		return kc_read_token(c, err, errlen);
	}
	if ((s = kc_str(d, u, "token")))
		c->token = xstrdup(s);
	return 0;
}

static int kc_resolve(struct kube_creds *c, yaml_document_t *d,
		      const char *dir, const char *context, char *err,
		      size_t errlen)
{
	yaml_node_t *root = yaml_document_get_root_node(d);
	const yaml_node_t *ctx, *cl, *u = NULL;
	const char *name = context, *cname, *uname;

	if (!root || root->type != YAML_MAPPING_NODE) {
		snprintf(err, errlen, "not a kubeconfig (expected a mapping)");
		return -1;
	}
	if (!name && !(name = kc_str(d, root, "current-context"))) {
		snprintf(err, errlen, "no current-context (set "
		       "kubernetes.context)");
		return -1;
	}
	if (!(ctx = kc_named(d, root, "contexts", "context", name))) {
		snprintf(err, errlen, "no context named '%s'", name);
		return -1;
	}
	if (!(cname = kc_str(d, ctx, "cluster")) ||
	    !(cl = kc_named(d, root, "clusters", "cluster", cname))) {
		snprintf(err, errlen, "context '%s': no cluster named '%s'",
		       name, cname ? cname : "");
		return -1;
	}
	if ((uname = kc_str(d, ctx, "user")) &&
	    !(u = kc_named(d, root, "users", "user", uname))) {
		snprintf(err, errlen, "context '%s': no user named '%s'", name,
		       uname);
		return -1;
	}
	if (kc_cluster(c, d, cl, dir, err, errlen) < 0 ||
	    (u && kc_user(c, d, u, dir, err, errlen) < 0))
		return -1;
	c->source = xasprintf("context %s", name);
	return 0;
}

int kube_creds_kubeconfig(struct kube_creds *c, const char *path,
			  const char *context, char *err, size_t errlen)
{
	char msg[256] = "", *text, *dir;
	yaml_parser_t parser;
	yaml_document_t doc;
	size_t len;
	int rc = -1;

	memset(c, 0, sizeof(*c));
	if (!(text = kc_slurp(path, KUBECFG_MAX_FILE, &len, err, errlen)))
		return -1;
	dir = cfg_dirname(path);
	if (!yaml_parser_initialize(&parser))
		xalloc_die(sizeof(parser));
	yaml_parser_set_input_string(&parser, (const unsigned char *)text,
				     len);
	if (!yaml_parser_load(&parser, &doc)) {
		snprintf(err, errlen, "%s:%zu:%zu: %s", path,
		       parser.problem_mark.line + 1,
		       parser.problem_mark.column + 1,
		       parser.problem ? parser.problem : "YAML error");
	} else {
		rc = kc_resolve(c, &doc, dir, context, msg, sizeof(msg));
		if (rc < 0)
			snprintf(err, errlen, "%s: %s", path, msg);
		yaml_document_delete(&doc);
	}
	yaml_parser_delete(&parser);
	free(dir);
	free(text);
	if (rc == 0 && c->source) {
		char *src = xasprintf("kubeconfig %s %s", path, c->source);

		free(c->source);
		c->source = src;
	}
	if (rc < 0)
		kube_creds_clear(c);
	return rc;
}

int kube_creds_in_cluster(struct kube_creds *c, char *err, size_t errlen)
{
	const char *dir = getenv("GSLBD_SA_DIR");
	const char *host = getenv("KUBERNETES_SERVICE_HOST");
	const char *port = getenv("KUBERNETES_SERVICE_PORT");
	struct stat st;

	memset(c, 0, sizeof(*c));
	if (!dir || !*dir)
		dir = KUBE_SA_DIR;
	if (!host || !*host || !port || !*port) {
		snprintf(err, errlen, "not running in a cluster "
		       "(KUBERNETES_SERVICE_HOST/PORT unset) and no "
		       "kubernetes.kubeconfig given");
		return -1;
	}
	c->server = xasprintf("https://%s%s%s:%s",
			      strchr(host, ':') ? "[" : "", host,
			      strchr(host, ':') ? "]" : "", port);
	c->token_file = xasprintf("%s/token", dir);
	c->ca_file = xasprintf("%s/ca.crt", dir);
	c->source = xasprintf("in-cluster %s", dir);
	if (stat(c->ca_file, &st) < 0) {
		snprintf(err, errlen, "cannot read %s: %s", c->ca_file,
		       strerror(errno));
		goto fail;
	}
	if (kc_read_token(c, err, errlen) < 0)
		goto fail;
	return 0;
fail:
	kube_creds_clear(c);
	return -1;
}

/* ---- applying ---- */

int kube_creds_apply(const struct kube_creds *c, CURL *e,
		     struct curl_slist **headers)
{
	CURLcode rc = CURLE_OK;

#define SET(opt, val) do {                                 \
		if (rc == CURLE_OK)                         \
			rc = curl_easy_setopt(e, opt, val); \
	} while (0)
	SET(CURLOPT_SSL_VERIFYPEER, c->insecure ? 0L : 1L);
	SET(CURLOPT_SSL_VERIFYHOST, c->insecure ? 0L : 2L);
	if (c->ca.data) {
		struct curl_blob b = { c->ca.data, c->ca.len,
				       CURL_BLOB_COPY };
		SET(CURLOPT_CAINFO_BLOB, &b);
	} else if (c->ca_file) {
		SET(CURLOPT_CAINFO, c->ca_file);
	}
	if (c->cert.data) {
		struct curl_blob b = { c->cert.data, c->cert.len,
				       CURL_BLOB_COPY };
		SET(CURLOPT_SSLCERT_BLOB, &b);
	} else if (c->cert_file) {
		SET(CURLOPT_SSLCERT, c->cert_file);
	}
	if (c->key.data) {
		struct curl_blob b = { c->key.data, c->key.len,
				       CURL_BLOB_COPY };
		SET(CURLOPT_SSLKEY_BLOB, &b);
	} else if (c->key_file) {
		SET(CURLOPT_SSLKEY, c->key_file);
	}
#undef SET
	if (rc != CURLE_OK)
		return -1;
	if (c->token) {
		struct curl_slist *l;
		char *h = xasprintf("Authorization: Bearer %s", c->token);

		l = curl_slist_append(*headers, h);
		/* The token must not linger in freed memory longer than
		 * needed; curl keeps its own copy. */
		explicit_bzero(h, strlen(h));
		free(h);
		if (!l) /* only for want of memory */
			xalloc_die(sizeof(*l));
		*headers = l;
	}
	return 0;
}

static void kc_blob_clear(struct kube_blob *b)
{
	if (b->data) {
		explicit_bzero(b->data, b->len);
		free(b->data);
	}
	b->data = NULL;
	b->len = 0;
}

void kube_creds_clear(struct kube_creds *c)
{
	if (!c)
		return;
	free(c->server);
	free(c->ca_file);
	kc_blob_clear(&c->ca);
	free(c->cert_file);
	kc_blob_clear(&c->cert);
	free(c->key_file);
	kc_blob_clear(&c->key);
	if (c->token) {
		explicit_bzero(c->token, strlen(c->token));
		free(c->token);
	}
	free(c->token_file);
	free(c->source);
	memset(c, 0, sizeof(*c));
}
