/* cache.c -- see cache.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "kube/cache.h"
#include "kube/kubefed.h"

static const char *const cache_policies[] = { "all", "failover",
					       "weighted", "topology", NULL };
static const char *const cache_alldown[] = { "serve-all", "servfail",
					     "nodata", NULL };
static const char *const cache_types[] = { "none", "http", "https", "tcp",
					   NULL };

/* ---- to JSON ---- */

/* json_object_set_new that remembers a failure in *ok. */
static void cache_set(json_t *o, const char *k, json_t *v, bool *ok)
{
	if (!v || json_object_set_new(o, k, v) < 0)
		*ok = false;
}

static void cache_set_str(json_t *o, const char *k, const char *s, bool *ok)
{
	if (s)
		cache_set(o, k, json_string(s), ok);
}

static json_t *cache_probe(const struct probe_spec *ps)
{
	json_t *o = json_object(), *st = json_array(), *h = json_array();
	bool ok = o && st && h;

	if (!ok) {
		json_decref(o);
		json_decref(st);
		json_decref(h);
		return NULL;
	}
	for (size_t i = 0; i < ps->nstatus; i++) {
		json_t *r = json_pack("[ii]", ps->status[i].lo,
				      ps->status[i].hi);
		if (!r || json_array_append_new(st, r) < 0)
			ok = false;
	}
	for (size_t i = 0; i < ps->nheaders; i++)
		if (json_array_append_new(h, json_string(ps->headers[i])) < 0)
			ok = false;
	cache_set(o, "set", json_integer(ps->set), &ok);
	cache_set(o, "type", json_string(cache_types[ps->type]), &ok);
	cache_set(o, "port", json_integer(ps->port), &ok);
	cache_set(o, "interval_ms", json_integer(ps->interval_ms), &ok);
	cache_set(o, "timeout_ms", json_integer(ps->timeout_ms), &ok);
	cache_set(o, "jitter_ms", json_integer(ps->jitter_ms), &ok);
	cache_set(o, "rise", json_integer(ps->rise), &ok);
	cache_set(o, "fall", json_integer(ps->fall), &ok);
	cache_set_str(o, "method", ps->method, &ok);
	cache_set_str(o, "path", ps->path, &ok);
	cache_set_str(o, "host", ps->host, &ok);
	cache_set(o, "status", st, &ok);
	cache_set_str(o, "body", ps->body, &ok);
	cache_set(o, "headers", h, &ok);
	cache_set(o, "tls_verify", json_boolean(ps->tls_verify), &ok);
	cache_set_str(o, "ca_file", ps->ca_file, &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *cache_endpoint(const struct model_endpoint *ep)
{
	json_t *o = json_object(), *a = json_array();
	bool ok = o && a;

	if (!ok) {
		json_decref(o);
		json_decref(a);
		return NULL;
	}
	for (size_t i = 0; i < ep->naddrs; i++) {
		char buf[INET6_ADDRSTRLEN];
		model_addr_str(&ep->addrs[i], buf, sizeof(buf));
		if (json_array_append_new(a, json_string(buf)) < 0)
			ok = false;
	}
	cache_set_str(o, "region", ep->region, &ok);
	cache_set_str(o, "name", ep->name, &ok);
	cache_set(o, "addresses", a, &ok);
	cache_set(o, "weight", json_integer(ep->weight), &ok);
	cache_set(o, "priority", json_integer(ep->priority), &ok);
	cache_set(o, "enabled", json_boolean(ep->enabled), &ok);
	cache_set(o, "probe", cache_probe(&ep->probe), &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static json_t *cache_service(const struct model_service *s)
{
	json_t *o = json_object(), *eps = json_array();
	bool ok = o && eps;

	if (!ok) {
		json_decref(o);
		json_decref(eps);
		return NULL;
	}
	for (size_t i = 0; i < s->neps; i++)
		if (json_array_append_new(eps, cache_endpoint(&s->eps[i])) < 0)
			ok = false;
	cache_set_str(o, "name", s->name, &ok);
	cache_set(o, "policy", json_string(cache_policies[s->policy]), &ok);
	cache_set(o, "all_down", json_string(cache_alldown[s->all_down]),
		  &ok);
	cache_set(o, "ttl", json_integer(s->ttl), &ok);
	cache_set(o, "max_answers", json_integer(s->max_answers), &ok);
	cache_set(o, "endpoints", eps, &ok);
	if (!ok) {
		json_decref(o);
		return NULL;
	}
	return o;
}

static int cache_fsync_dir(const char *path)
{
	const char *slash = strrchr(path, '/');
	char *dir = slash ? strndup(path, slash == path ? 1 :
				    (size_t)(slash - path)) : strdup(".");
	int fd, rc = -1;

	if (!dir)
		return -1;
	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		rc = fsync(fd);
		close(fd);
	}
	free(dir);
	return rc;
}

int kube_cache_write(const char *path, const struct model_service *s,
		     size_t n, char *err, size_t errlen)
{
	json_t *root = json_object(), *arr = json_array();
	char *text = NULL, *tmp = NULL;
	bool ok = root && arr;
	size_t len, off = 0;
	int fd = -1, rc = -1;

	for (size_t i = 0; ok && i < n; i++)
		if (json_array_append_new(arr, cache_service(&s[i])) < 0)
			ok = false;
	cache_set(root, "version", json_integer(KUBE_CACHE_VERSION), &ok);
	cache_set(root, "written", json_integer((json_int_t)time(NULL)), &ok);
	cache_set(root, "services", arr, &ok);
	arr = NULL;
	if (!ok || !(text = json_dumps(root, JSON_COMPACT)) ||
	    asprintf(&tmp, "%s.tmp.%ld", path, (long)getpid()) < 0) {
		tmp = NULL;
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	len = strlen(text);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		       0644)) < 0) {
		snprintf(err, errlen, "cannot create %s: %s", tmp,
			  strerror(errno));
		goto out;
	}
	while (off < len) {
		ssize_t w = write(fd, text + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			snprintf(err, errlen, "cannot write %s: %s", tmp,
				  strerror(errno));
			goto out;
		}
		off += (size_t)w;
	}
	if (write(fd, "\n", 1) != 1 || fsync(fd) < 0) {
		snprintf(err, errlen, "cannot write %s: %s", tmp,
			  strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		snprintf(err, errlen, "cannot write %s: %s", tmp,
			  strerror(errno));
		goto out;
	}
	fd = -1;
	if (rename(tmp, path) < 0) {
		snprintf(err, errlen, "cannot rename %s to %s: %s", tmp, path,
			  strerror(errno));
		goto out;
	}
	/* The rename itself must reach the disk. */
	cache_fsync_dir(path);
	rc = 0;
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && tmp)
		unlink(tmp);
	free(tmp);
	free(text);
	json_decref(arr);
	json_decref(root);
	return rc;
}

/* ---- from JSON ---- */

static int cache_enum(const json_t *o, const char *key,
		      const char *const *names, int dflt)
{
	const char *s = json_string_value(json_object_get(o, key));

	if (!s)
		return dflt;
	for (int i = 0; names[i]; i++)
		if (!strcmp(names[i], s))
			return i;
	return -1;
}

static int cache_u32(const json_t *o, const char *key, uint32_t *out)
{
	const json_t *v = json_object_get(o, key);

	if (!v)
		return 0;
	if (!json_is_integer(v) || json_integer_value(v) < 0 ||
	    json_integer_value(v) > UINT32_MAX)
		return -1;
	*out = (uint32_t)json_integer_value(v);
	return 0;
}

static int cache_strdup(const json_t *o, const char *key, char **out)
{
	const json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v) || !(*out = strdup(json_string_value(v))))
		return -1;
	return 0;
}

static int cache_read_probe(const json_t *o, struct probe_spec *ps)
{
	const json_t *st = json_object_get(o, "status");
	const json_t *h = json_object_get(o, "headers");
	uint32_t port = 0, set = 0;
	int t;

	memset(ps, 0, sizeof(*ps));
	if (!json_is_object(o) || (t = cache_enum(o, "type", cache_types,
						  PROBE_HTTP)) < 0 ||
	    cache_u32(o, "set", &set) < 0 || cache_u32(o, "port", &port) < 0 ||
	    port > 65535 ||
	    cache_u32(o, "interval_ms", &ps->interval_ms) < 0 ||
	    cache_u32(o, "timeout_ms", &ps->timeout_ms) < 0 ||
	    cache_u32(o, "jitter_ms", &ps->jitter_ms) < 0 ||
	    cache_u32(o, "rise", &ps->rise) < 0 ||
	    cache_u32(o, "fall", &ps->fall) < 0 ||
	    cache_strdup(o, "method", &ps->method) < 0 ||
	    cache_strdup(o, "path", &ps->path) < 0 ||
	    cache_strdup(o, "host", &ps->host) < 0 ||
	    cache_strdup(o, "body", &ps->body) < 0 ||
	    cache_strdup(o, "ca_file", &ps->ca_file) < 0 ||
	    (st && !json_is_array(st)) || (h && !json_is_array(h)))
		goto bad;
	ps->set = set;
	ps->type = (enum probe_type)t;
	ps->port = (uint16_t)port;
	ps->tls_verify = !json_is_false(json_object_get(o, "tls_verify"));
	if (json_array_size(st) &&
	    !(ps->status = calloc(json_array_size(st), sizeof(*ps->status))))
		goto bad;
	for (size_t i = 0; i < json_array_size(st); i++) {
		json_int_t lo, hi;
		if (json_unpack(json_array_get(st, i), "[II]", &lo, &hi) ||
		    lo < 100 || hi > 599 || lo > hi)
			goto bad;
		ps->status[i].lo = (uint16_t)lo;
		ps->status[i].hi = (uint16_t)hi;
		ps->nstatus++;
	}
	if (json_array_size(h) &&
	    !(ps->headers = calloc(json_array_size(h), sizeof(char *))))
		goto bad;
	for (size_t i = 0; i < json_array_size(h); i++) {
		const char *s = json_string_value(json_array_get(h, i));
		if (!s || !(ps->headers[i] = strdup(s)))
			goto bad;
		ps->nheaders++;
	}
	/* A cache from an older gslbd may lack fields: fill them as the
	 * config would. */
	return probe_spec_finish(ps);
bad:
	probe_spec_clear(ps);
	return -1;
}

static int cache_read_ep(const json_t *o, struct model_endpoint *ep)
{
	const json_t *a = json_object_get(o, "addresses"), *v;
	size_t i;

	ep->weight = 1;
	ep->priority = 1;
	ep->enabled = !json_is_false(json_object_get(o, "enabled"));
	if (!json_is_object(o) || cache_strdup(o, "region", &ep->region) < 0 ||
	    cache_strdup(o, "name", &ep->name) < 0 || !ep->region ||
	    !ep->name || !json_array_size(a) ||
	    cache_u32(o, "weight", &ep->weight) < 0 ||
	    cache_u32(o, "priority", &ep->priority) < 0)
		return -1;
	if (!(ep->addrs = calloc(json_array_size(a), sizeof(*ep->addrs))))
		return -1;
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) ||
		    model_addr_parse(&ep->addrs[i], json_string_value(v)) < 0)
			return -1;
		ep->naddrs++;
	}
	return cache_read_probe(json_object_get(o, "probe"), &ep->probe);
}

static int cache_read_svc(const json_t *o, struct model_service *s)
{
	const json_t *eps = json_object_get(o, "endpoints"), *e;
	int pol, ad;
	size_t i;

	s->source = "kube";
	s->ttl = 30;
	s->max_answers = 8;
	if (!json_is_object(o) || cache_strdup(o, "name", &s->name) < 0 ||
	    !s->name || !json_array_size(eps) ||
	    (pol = cache_enum(o, "policy", cache_policies, 0)) < 0 ||
	    (ad = cache_enum(o, "all_down", cache_alldown, 0)) < 0 ||
	    cache_u32(o, "ttl", &s->ttl) < 0 ||
	    cache_u32(o, "max_answers", &s->max_answers) < 0)
		return -1;
	s->policy = (enum model_policy)pol;
	s->all_down = (enum model_alldown)ad;
	if (!(s->eps = calloc(json_array_size(eps), sizeof(*s->eps))))
		return -1;
	json_array_foreach(eps, i, e) {
		s->neps++;
		if (cache_read_ep(e, &s->eps[i]) < 0)
			return -1;
	}
	return 0;
}

int kube_cache_read(const char *path, struct model_service **out,
		    size_t *n, char *err, size_t errlen)
{
	json_error_t je;
	json_t *root, *arr;
	struct model_service *s = NULL;
	size_t len, i;

	*out = NULL;
	*n = 0;
	if (!(root = json_load_file(path, 0, &je))) {
		if (je.line > 0)
			snprintf(err, errlen, "%s:%d: %s", path, je.line,
				  je.text);
		else
			snprintf(err, errlen, "%s", je.text);
		return -1;
	}
	arr = json_object_get(root, "services");
	if (json_integer_value(json_object_get(root, "version")) !=
	    KUBE_CACHE_VERSION || !json_is_array(arr)) {
		snprintf(err, errlen, "%s: not a gslbd cache (version %d)",
			  path, KUBE_CACHE_VERSION);
		json_decref(root);
		return -1;
	}
	len = json_array_size(arr);
	if (len && !(s = calloc(len, sizeof(*s)))) {
		snprintf(err, errlen, "out of memory");
		json_decref(root);
		return -1;
	}
	for (i = 0; i < len; i++) {
		if (cache_read_svc(json_array_get(arr, i), &s[i]) < 0) {
			snprintf(err, errlen, "%s: services[%zu] is damaged",
				  path, i);
			kubefed_services_free(s, i + 1);
			json_decref(root);
			return -1;
		}
	}
	json_decref(root);
	*out = s;
	*n = len;
	return 0;
}
