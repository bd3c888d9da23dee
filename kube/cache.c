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
#include "lib/xalloc.h"
#include "kube/kubefed.h"
#include "lib/parse.h"
#include "lib/readfile.h"

static const char *const cache_policies[] = { "all", "failover",
					       "weighted", "topology", NULL };
static const char *const cache_alldown[] = { "serve-all", "servfail",
					     "nodata", NULL };

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

/* The value of setting f in ps, as the cache stores it. */
static json_t *cache_probe_field(const struct probe_spec *ps,
				 const struct probe_spec_field *f)
{
	json_t *a;

	switch (f->kind) {
	case PSK_ENUM:
		return json_string(f->names[probe_spec_num(ps, f)]);
	case PSK_UINT:
	case PSK_MS:
		return json_integer((json_int_t)probe_spec_num(ps, f));
	case PSK_BOOL:
		return json_boolean(probe_spec_num(ps, f));
	case PSK_STR:
		return json_string(*probe_spec_str(ps, f));
	case PSK_STATUS:
	case PSK_HEADERS:
		break;
	}
	if (!(a = json_array()))
		return NULL;
	for (size_t i = 0; i < *probe_spec_count(ps, f); i++) {
		json_t *v = f->kind == PSK_HEADERS ?
			json_string((*probe_spec_headers(ps, f))[i]) :
			json_pack("[ii]", (*probe_spec_status(ps, f))[i].lo,
				  (*probe_spec_status(ps, f))[i].hi);
		if (json_array_append_new(a, v) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

json_t *kube_cache_probe_json(const struct probe_spec *ps)
{
	json_t *o = json_object();
	bool ok = o != NULL;

	cache_set(o, "set", json_integer(ps->set), &ok);
	for (size_t i = 0; ok && i < PROBE_SPEC_NFIELDS; i++) {
		const struct probe_spec_field *f = &probe_spec_fields[i];
		/* An unset string is left out, as null would be read. */
		if (f->kind == PSK_STR && !*probe_spec_str(ps, f))
			continue;
		cache_set(o, f->cache_key, cache_probe_field(ps, f), &ok);
	}
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
	if (ep->nhostnames) {
		json_t *h = json_array();
		for (size_t i = 0; i < ep->nhostnames; i++)
			json_array_append_new(h, json_string(ep->hostnames[i]));
		cache_set(o, "hostnames", h, &ok);
	}
	cache_set(o, "weight", json_integer(ep->weight), &ok);
	cache_set(o, "priority", json_integer(ep->priority), &ok);
	cache_set(o, "enabled", json_boolean(ep->enabled), &ok);
	cache_set(o, "probe", kube_cache_probe_json(&ep->probe), &ok);
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
	char *dir = slash ? xstrndup(path, slash == path ? 1 :
				     (size_t)(slash - path)) : xstrdup(".");
	int fd, rc = -1;

	if ((fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		rc = fsync(fd);
		close(fd);
	}
	free(dir);
	return rc;
}

int kube_cache_write_list(const char *path,
			  const struct model_service *const *s, size_t n,
			  char *err, size_t errlen)
{
	json_t *root = json_object(), *arr = json_array();
	char *text = NULL, *tmp = NULL;
	bool ok = root && arr;
	size_t len, off = 0;
	int fd = -1, rc = -1;

	for (size_t i = 0; ok && i < n; i++)
		if (json_array_append_new(arr, cache_service(s[i])) < 0)
			ok = false;
	cache_set(root, "version", json_integer(KUBE_CACHE_VERSION), &ok);
	cache_set(root, "written", json_integer((json_int_t)time(NULL)), &ok);
	cache_set(root, "services", arr, &ok);
	arr = NULL;
	/* json_string refuses text that is not UTF-8. */
	if (!ok || !(text = json_dumps(root, JSON_COMPACT))) {
		snprintf(err, errlen, "cannot encode the services as JSON");
		goto out;
	}
	tmp = xasprintf("%s.tmp.%ld", path, (long)getpid());
	len = strlen(text);
	/* Never through a link or a file planted at the temporary name (the
	 * state directory may be shared): remove it, then create anew. */
	unlink(tmp);
	if ((fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		       O_CLOEXEC, 0644)) < 0) {
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

int kube_cache_write(const char *path, const struct model_service *s,
		     size_t n, char *err, size_t errlen)
{
	const struct model_service **p = xcalloc(n, sizeof(*p));
	int rc;

	for (size_t i = 0; i < n; i++)
		p[i] = &s[i];
	rc = kube_cache_write_list(path, p, n, err, errlen);
	free(p);
	return rc;
}

/* ---- from JSON ---- */

/* The index in names of string v; dflt when v is absent or not a
 * string, -1 when it is none of them. */
static int cache_enum(const json_t *v, const char *const *names, int dflt)
{
	const char *s = json_string_value(v);

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
	if (!json_is_string(v))
		return -1;
	*out = xstrdup(json_string_value(v));
	return 0;
}

/* Setting f of ps from v.  Numbers must fit the field; list items are
 * checked as a config's would be.  Returns 0 or -1. */
static int cache_read_field(const json_t *v, const struct probe_spec_field *f,
			    struct probe_spec *ps)
{
	char err[PARSE_ERRLEN], item[48];
	const json_t *it;
	json_int_t lo, hi;
	size_t i;
	int e;

	switch (f->kind) {
	case PSK_ENUM:
		if ((e = cache_enum(v, f->names, -1)) < 0)
			return -1;
		probe_spec_set_num(ps, f, (uint64_t)e);
		return 0;
	case PSK_UINT:
	case PSK_MS:
		if (!json_is_integer(v) || json_integer_value(v) < 0 ||
		    (uint64_t)json_integer_value(v) >> (8 * f->size))
			return -1;
		probe_spec_set_num(ps, f, (uint64_t)json_integer_value(v));
		return 0;
	case PSK_BOOL:
		if (!json_is_boolean(v))
			return -1;
		probe_spec_set_num(ps, f, json_is_true(v));
		return 0;
	case PSK_STR:
		if (!json_is_string(v))
			return -1;
		*probe_spec_str(ps, f) = xstrdup(json_string_value(v));
		return 0;
	case PSK_STATUS:
	case PSK_HEADERS:
		break;
	}
	if (!json_is_array(v))
		return -1;
	json_array_foreach(v, i, it) {
		const char *s = json_string_value(it);
		if (f->kind == PSK_STATUS) {
			if (json_unpack((json_t *)it, "[II]", &lo, &hi))
				return -1;
			snprintf(item, sizeof(item), "%lld-%lld",
				 (long long)lo, (long long)hi);
			s = item;
		}
		if (!s || probe_spec_parse_item(ps, f, s, err,
						sizeof(err)) < 0)
			return -1;
	}
	return 0;
}

int kube_cache_probe_read(const json_t *o, struct probe_spec *ps)
{
	uint32_t set = 0, absent = 0;

	memset(ps, 0, sizeof(*ps));
	if (!json_is_object(o) || cache_u32(o, "set", &set) < 0)
		return -1;
	for (size_t i = 0; i < PROBE_SPEC_NFIELDS; i++) {
		const struct probe_spec_field *f = &probe_spec_fields[i];
		const json_t *v = json_object_get(o, f->cache_key);

		/* A cache from an older gslbd may lack a setting: it counts
		 * as not given, and gets the default a config would. */
		if (!v || json_is_null(v)) {
			absent |= f->bit;
			continue;
		}
		if (cache_read_field(v, f, ps) < 0) {
			probe_spec_clear(ps);
			return -1;
		}
	}
	ps->set = set & ~absent;
	probe_spec_finish(ps);
	return 0;
}

/* Load balancers by name (optional; a file from before has none). */
static int cache_read_hostnames(const json_t *o, struct model_endpoint *ep)
{
	const json_t *h = json_object_get(o, "hostnames"), *v;
	size_t i;

	if (!h)
		return 0;
	if (!json_is_array(h) || json_array_size(h) > 256)
		return -1;
	ep->hostnames = xcalloc(json_array_size(h) + 1,
				sizeof(*ep->hostnames));
	json_array_foreach(h, i, v) {
		if (!json_is_string(v) || !json_string_length(v))
			return -1;
		ep->hostnames[ep->nhostnames++] = xstrdup(json_string_value(v));
	}
	return 0;
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
	    !ep->name || !json_is_array(a) ||
	    cache_u32(o, "weight", &ep->weight) < 0 ||
	    cache_u32(o, "priority", &ep->priority) < 0 ||
	    cache_read_hostnames(o, ep) < 0 ||
	    (!json_array_size(a) && !ep->nhostnames))
		return -1;
	ep->addrs = xcalloc(json_array_size(a) + 1, sizeof(*ep->addrs));
	json_array_foreach(a, i, v) {
		if (!json_is_string(v) ||
		    model_addr_parse(&ep->addrs[i], json_string_value(v)) < 0)
			return -1;
		ep->naddrs++;
	}
	return kube_cache_probe_read(json_object_get(o, "probe"), &ep->probe);
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
	    (pol = cache_enum(json_object_get(o, "policy"), cache_policies,
			       0)) < 0 ||
	    (ad = cache_enum(json_object_get(o, "all_down"), cache_alldown,
			      0)) < 0 ||
	    cache_u32(o, "ttl", &s->ttl) < 0 ||
	    cache_u32(o, "max_answers", &s->max_answers) < 0)
		return -1;
	s->policy = (enum model_policy)pol;
	s->all_down = (enum model_alldown)ad;
	s->eps = xcalloc(json_array_size(eps), sizeof(*s->eps));
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
	struct readfile_pos pos;
	size_t len, i;
	char *text, why[256];

	*out = NULL;
	*n = 0;
	/* Through lib/readfile: a FIFO or device planted at the path would
	 * block the control thread or never end. */
	if (!(text = readfile_text(path, KUBE_CACHE_MAX, &len, &pos, why,
				   sizeof(why)))) {
		snprintf(err, errlen, "%s: %s", path, why);
		return -1;
	}
	root = json_loadb(text, len, 0, &je);
	free(text);
	if (!root) {
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
	if (len)
		s = xcalloc(len, sizeof(*s));
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
