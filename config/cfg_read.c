/* cfg_read.c -- reading YAML values (maps, scalars, durations, addresses,
 * names) with their place.  See cfg_int.h. */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <ldns/ldns.h>
#include <yaml.h>

#include "config/cfg_int.h"
#include "config/zonefile.h"
#include "lib/parse.h"
#include "lib/xalloc.h"

/* ---- small helpers ---- */

/* Paths only name places in messages, so a long one is cut, visibly. */
static void cfg_path_mark_cut(char *buf, int n)
{
	if (n >= CFG_PATH)
		memcpy(buf + CFG_PATH - 4, "...", 4);
}

void cfg_path(char *buf, const char *path, const char *key)
{
	cfg_path_mark_cut(buf, snprintf(buf, CFG_PATH, "%s%s%s", path,
					*path ? "." : "", key));
}

void cfg_path_idx(char *buf, const char *path, size_t i)
{
	cfg_path_mark_cut(buf, snprintf(buf, CFG_PATH, "%s[%zu]", path, i));
}

static const char *cfg_text(const yaml_node_t *n)
{
	return n && n->type == YAML_SCALAR_NODE ?
	       (const char *)n->data.scalar.value : NULL;
}

static bool cfg_is_plain(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE &&
	       n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
}

/* YAML's null: an empty plain value, "~" or "null". */
bool cfg_is_null(const yaml_node_t *n)
{
	const char *s = cfg_text(n);

	return s && cfg_is_plain(n) && (!*s || !strcmp(s, "~") ||
		!strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"));
}


static bool cfg_want_map(struct cfg_ctx *c, const yaml_node_t *n,
			 const char *path)
{
	if (n->type == YAML_MAPPING_NODE)
		return true;
	cfg_error(c, n, "%s: expected a mapping", path);
	return false;
}

bool cfg_want_seq(struct cfg_ctx *c, const yaml_node_t *n,
		  const char *path)
{
	if (n->type == YAML_SEQUENCE_NODE)
		return true;
	cfg_error(c, n, "%s: expected a list", path);
	return false;
}

/* A sequence at n and a zeroed array for its items (size bytes each).
 * empty: the complaint when the list must not be empty, or NULL when an
 * empty list is fine.  Returns the array and its length in *len, or NULL
 * (*len 0) when the list is empty or wrong; a wrong one is reported. */
void *cfg_seq_array(struct cfg_ctx *c, const yaml_node_t *n,
		    const char *path, size_t size, const char *empty,
		    size_t *len)
{
	void *a;

	*len = 0;
	if (!cfg_want_seq(c, n, path))
		return NULL;
	if (!cfg_seq_len(n)) {
		if (empty)
			cfg_error(c, n, "%s: %s", path, empty);
		return NULL;
	}
	a = xcalloc(cfg_seq_len(n), size);
	*len = cfg_seq_len(n);
	return a;
}

/* A non-null scalar without NUL bytes (which C strings cannot carry). */
const char *cfg_want_str(struct cfg_ctx *c, const yaml_node_t *n,
			 const char *path)
{
	const char *s = cfg_text(n);

	if (!s || cfg_is_null(n)) {
		cfg_error(c, n, "%s: expected a string", path);
		return NULL;
	}
	if (strlen(s) != n->data.scalar.length) {
		cfg_error(c, n, "%s: NUL byte in string", path);
		return NULL;
	}
	return s;
}

/* ---- mappings ---- */

/*
 * Reports unknown, duplicate and non-string keys of mapping n.  Returns
 * false only when n is not a mapping at all, so that callers still look
 * at the keys they know in a mapping that has a typo elsewhere.
 */
bool cfg_map_check(struct cfg_ctx *c, const yaml_node_t *n,
		   const char *path, const char *const *known)
{
	const yaml_node_pair_t *p, *q;
	char where[CFG_PATH + 8];

	if (!cfg_want_map(c, n, *path ? path : "the top level"))
		return false;
	snprintf(where, sizeof(where), *path ? "in %s" : "at the top level",
		 path);
	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		const yaml_node_t *k = cfg_yaml_node(c, p->key);
		const char *ks = cfg_text(k);
		size_t i;

		if (!ks) {
			cfg_error(c, k, "expected a string key %s", where);
			continue;
		}
		for (i = 0; known[i] && strcmp(known[i], ks); i++)
			;
		if (!known[i]) {
			cfg_error(c, k, "unknown key '%s' %s", ks, where);
			continue;
		}
		for (q = n->data.mapping.pairs.start; q < p; q++) {
			const yaml_node_t *k2 = cfg_yaml_node(c, q->key);
			const char *s2 = cfg_text(k2);
			if (s2 && !strcmp(s2, ks)) {
				cfg_error(c, k, "duplicate key '%s' %s "
					  "(first at line %zu)", ks, where,
					  k2->start_mark.line + 1);
				break;
			}
		}
	}
	return true;
}

/* The value of the first key named key, or NULL. */
yaml_node_t *cfg_get(struct cfg_ctx *c, const yaml_node_t *n,
		     const char *key)
{
	const yaml_node_pair_t *p;

	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		const char *ks = cfg_text(cfg_yaml_node(c, p->key));
		if (ks && !strcmp(ks, key))
			return cfg_yaml_node(c, p->value);
	}
	return NULL;
}

yaml_node_t *cfg_require(struct cfg_ctx *c, const yaml_node_t *n,
			 const char *path, const char *key)
{
	yaml_node_t *v = cfg_get(c, n, key);

	if (!v)
		cfg_error(c, n, "missing required key '%s' in %s", key, path);
	return v;
}

/* ---- scalars ---- */

/* The text of a plain, non-null scalar: YAML's numbers and booleans are
 * plain, and a quoted "53" is a string (say so rather than guess). */
const char *cfg_plain(const yaml_node_t *n)
{
	return cfg_text(n) && cfg_is_plain(n) && !cfg_is_null(n) ?
	       cfg_text(n) : NULL;
}

/*
 * The cfg_opt_* readers look up key in mapping map.  They return 0 when
 * the key is absent (out untouched), 1 when it was read into out, and -1
 * after reporting a bad value.
 */
static int cfg_opt_u64(struct cfg_ctx *c, const yaml_node_t *map,
		       const char *path, const char *key, uint64_t lo,
		       uint64_t hi, uint64_t *out)
{
	yaml_node_t *v = cfg_get(c, map, key);
	char p[CFG_PATH], err[PARSE_ERRLEN];

	if (!v)
		return 0;
	cfg_path(p, path, key);
	if (parse_uint(cfg_plain(v), lo, hi, out, err, sizeof(err)) < 0) {
		cfg_error(c, v, "%s: %s", p, err);
		return -1;
	}
	return 1;
}

int cfg_opt_u32(struct cfg_ctx *c, const yaml_node_t *map,
		const char *path, const char *key, uint32_t lo,
		uint32_t hi, uint32_t *out)
{
	uint64_t x;
	int rc = cfg_opt_u64(c, map, path, key, lo, hi, &x);

	if (rc == 1)
		*out = (uint32_t)x;
	return rc;
}

int cfg_opt_bool(struct cfg_ctx *c, const yaml_node_t *map,
		 const char *path, const char *key, bool *out)
{
	yaml_node_t *v = cfg_get(c, map, key);
	char p[CFG_PATH], err[PARSE_ERRLEN];

	if (!v)
		return 0;
	cfg_path(p, path, key);
	if (parse_bool(cfg_plain(v), out, err, sizeof(err)) < 0) {
		cfg_error(c, v, "%s: %s", p, err);
		return -1;
	}
	return 1;
}

/* A duration, in ms, within lo..hi. */
int cfg_opt_ms(struct cfg_ctx *c, const yaml_node_t *map,
		      const char *path, const char *key, uint64_t lo,
		      uint64_t hi, uint64_t *out, const yaml_node_t **where)
{
	yaml_node_t *v = cfg_get(c, map, key);
	char p[CFG_PATH], err[PARSE_ERRLEN];
	const char *s;

	if (!v)
		return 0;
	cfg_path(p, path, key);
	if (where)
		*where = v;
	if (!(s = cfg_want_str(c, v, p)))
		return -1;
	if (parse_ms(s, lo, hi, out, err, sizeof(err)) < 0) {
		cfg_error(c, v, "%s: %s", p, err);
		return -1;
	}
	return 1;
}

int cfg_opt_ms32(struct cfg_ctx *c, const yaml_node_t *map,
		 const char *path, const char *key, uint32_t lo,
		 uint32_t *out, const yaml_node_t **where)
{
	uint64_t ms;
	int rc = cfg_opt_ms(c, map, path, key, lo, UINT32_MAX, &ms, where);

	if (rc == 1)
		*out = (uint32_t)ms;
	return rc;
}

/* A TTL: a duration (bare numbers are seconds) in whole seconds. */
int cfg_opt_ttl(struct cfg_ctx *c, const yaml_node_t *map,
		const char *path, const char *key, uint32_t *out)
{
	uint64_t ms;
	const yaml_node_t *v = NULL;
	int rc = cfg_opt_ms(c, map, path, key, 0, UINT64_MAX, &ms, &v);
	char p[CFG_PATH];

	if (rc != 1)
		return rc;
	cfg_path(p, path, key);
	if (ms % 1000) {
		cfg_error(c, v, "%s: a TTL is whole seconds, not %s", p,
			  cfg_text(v));
		return -1;
	}
	if (ms / 1000 > CFG_TTL_MAX) {
		cfg_error(c, v, "%s: %s is out of range (0-%u seconds)", p,
			  cfg_text(v), CFG_TTL_MAX);
		return -1;
	}
	*out = (uint32_t)(ms / 1000);
	return 1;
}

int cfg_opt_str(struct cfg_ctx *c, const yaml_node_t *map,
		const char *path, const char *key, char **out)
{
	yaml_node_t *v = cfg_get(c, map, key);
	char p[CFG_PATH];
	const char *s;
	char *d;

	if (!v)
		return 0;
	cfg_path(p, path, key);
	if (!(s = cfg_want_str(c, v, p)))
		return -1;
	if (!*s) {
		cfg_error(c, v, "%s: empty string", p);
		return -1;
	}
	d = xstrdup(s);
	free(*out);
	*out = d;
	return 1;
}

/* An enum given by name; *out is the index in names[]. */
int cfg_opt_enum(struct cfg_ctx *c, const yaml_node_t *map,
		 const char *path, const char *key,
		 const char *const *names, const char *what, int *out,
		 const yaml_node_t **where)
{
	yaml_node_t *v = cfg_get(c, map, key);
	char p[CFG_PATH], err[PARSE_ERRLEN];
	const char *s;

	if (!v)
		return 0;
	cfg_path(p, path, key);
	if (where)
		*where = v;
	if (!(s = cfg_want_str(c, v, p)))
		return -1;
	if (parse_enum(s, names, what, out, err, sizeof(err)) < 0) {
		cfg_error(c, v, "%s: %s", p, err);
		return -1;
	}
	return 1;
}

/* A list of addresses.  An empty list is returned as such. */
int cfg_addrs(struct cfg_ctx *c, const yaml_node_t *n,
	      const char *path, struct model_addr **out, size_t *nout)
{
	size_t len, i, k = 0;
	int rc = 0;

	if (!cfg_want_seq(c, n, path))
		return -1;
	len = cfg_seq_len(n);
	if (len)
		*out = xcalloc(len, sizeof(**out));
	for (i = 0; i < len; i++) {
		const yaml_node_t *it = cfg_seq_item(c, n, i);
		char p[CFG_PATH];
		const char *s;

		cfg_path_idx(p, path, i);
		if (!(s = cfg_want_str(c, it, p))) {
			rc = -1;
			continue;
		}
		if (model_addr_parse(&(*out)[k], s) < 0) {
			cfg_error(c, it, "%s: bad address '%s' (an IPv4 or "
				  "IPv6 address)", p, s);
			rc = -1;
			continue;
		}
		for (size_t j = 0; j < k; j++) {
			if ((*out)[j].family == (*out)[k].family &&
			    !memcmp(&(*out)[j].ip, &(*out)[k].ip,
				    sizeof((*out)[k].ip))) {
				cfg_error(c, it, "%s: duplicate address '%s'",
					  p, s);
				rc = -1;
				k--;
				break;
			}
		}
		k++;
	}
	*nout = k;
	return rc;
}

/* ---- names ---- */

/* Host-name text: letters, digits, '-', '_' and dots between labels. */
static bool cfg_hostname_chars(const char *s)
{
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && *s != '-' && *s != '_' &&
		    *s != '.')
			return false;
	return true;
}

static bool cfg_ends_with_apex(struct cfg_ctx *c, const char *s)
{
	const char *apex = c->m->zone.apex;
	size_t la = strlen(apex) - 1, ls = strlen(s); /* apex without dot */

	if (la == 0 || ls < la || strncasecmp(s + ls - la, apex, la))
		return false;
	return ls == la || s[ls - la - 1] == '.';
}

bool cfg_in_zone(struct cfg_ctx *c, const ldns_rdf *d)
{
	return ldns_dname_compare(d, c->apex) == 0 ||
	       ldns_dname_is_subdomain(d, c->apex);
}

/*
 * Name n as a lower-case FQDN with a trailing dot, per kind.  Returns a
 * heap string, or NULL after reporting.
 */
char *cfg_name(struct cfg_ctx *c, const yaml_node_t *n,
	       const char *path, enum cfg_name_kind kind)
{
	char text[LDNS_MAX_DOMAINLEN * 2 + 8];
	const char *s = cfg_want_str(c, n, path);
	bool relative;
	ldns_rdf *d;
	char *out;
	size_t len;

	if (!s)
		return NULL;
	len = strlen(s);
	relative = (kind == CFG_NAME_NS || kind == CFG_NAME_SVC) &&
		   (len == 0 || s[len - 1] != '.');
	if (kind != CFG_NAME_MAILBOX && !(relative && !strcmp(s, "@")) &&
	    (!cfg_hostname_chars(s) || len == 0 || len > LDNS_MAX_DOMAINLEN)) {
		cfg_error(c, n, "%s: '%s' is not a valid DNS name", path, s);
		return NULL;
	}
	if (relative && !c->apex)
		return NULL; /* the zone name error is reported already */
	if (relative && !strcmp(s, "@")) {
		snprintf(text, sizeof(text), "%s", c->m->zone.apex);
	} else if (relative) {
		/* The classic zone-file slip: "www.example.org" meant as FQDN. */
		if (cfg_ends_with_apex(c, s)) {
			cfg_error(c, n, "%s: '%s' is relative to the zone, so "
				  "it means '%s.%s'; end it with a dot if it is "
				  "a full name", path, s, s, c->m->zone.apex);
			return NULL;
		}
		snprintf(text, sizeof(text), "%s.%s", s, c->m->zone.apex);
	} else {
		snprintf(text, sizeof(text), "%s%s", s,
			 len && s[len - 1] == '.' ? "" : ".");
	}
	d = ldns_dname_new_frm_str(text);
	if (!d || ldns_rdf_size(d) > LDNS_MAX_DOMAINLEN) {
		cfg_error(c, n, "%s: '%s' is not a valid DNS name (labels up "
			  "to 63 octets, names up to 255)", path, s);
		ldns_rdf_deep_free(d);
		return NULL;
	}
	ldns_dname2canonical(d);
	if (kind == CFG_NAME_SVC && c->apex && !cfg_in_zone(c, d)) {
		cfg_error(c, n, "%s: '%s' is outside the zone %s", path, s,
			  c->m->zone.apex);
		ldns_rdf_deep_free(d);
		return NULL;
	}
	out = ldns_rdf2str(d);
	ldns_rdf_deep_free(d);
	if (!out)
		xalloc_die(0);
	return out;
}

