/* cfg.c -- see cfg.h.  The grammar is docs/examples/gslbd.yaml. */
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

#include "config/cfg.h"
#include "config/zonefile.h"

#define CFG_MAX_FILE (16u << 20)  /* a config is small; refuse surprises */
#define CFG_TTL_MAX  2147483647u  /* RFC 2181 8 */
#define CFG_PATH     160          /* room for "services[12].endpoints[3].probe.x" */

/* One layer of probe settings and where its values were written, so a
 * problem that only shows once layers are combined can name a line. */
struct cfg_probe_src {
	struct probe_spec ps;
	char path[CFG_PATH];
	const yaml_node_t *node, *type_node, *timeout_node, *interval_node;
	const yaml_node_t *jitter_node;
	bool reported; /* a combined-spec error was already blamed here */
};

/* An error line held back so that all of them go out in file order. */
struct cfg_msg {
	size_t line, col, seq;
	char *text;
};

struct cfg_ctx {
	const char *name;         /* file name in error lines */
	char *dir;                /* its directory, for zone-file */
	cfg_err_fn err;
	void *arg;
	unsigned nerr;
	struct cfg_msg *msgs;
	size_t nmsgs, capmsgs;
	yaml_document_t doc;
	struct model *m;
	ldns_rdf *apex;           /* NULL when zone.name is missing or bad */
	struct cfg_probe_src defaults;
	const yaml_node_t **svc_name_nodes; /* per model service, for errors */
	const yaml_node_t *zone_file_node;
};

/* ---- errors ---- */

static void cfg_error_at(struct cfg_ctx *c, size_t line, size_t col,
			 const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/*
 * Keep the line to report it in order of place: the parser checks the
 * zone before the server section, say, and a reader wants line order.
 * Without memory to keep it, it goes out at once.
 */
static void cfg_emit(struct cfg_ctx *c, size_t line, size_t col,
		     const char *text)
{
	char *t;

	c->nerr++;
	if (!c->err)
		return;
	if (c->nmsgs == c->capmsgs) {
		size_t cap = c->capmsgs ? c->capmsgs * 2 : 16;
		struct cfg_msg *m = realloc(c->msgs, cap * sizeof(*m));
		if (!m) {
			c->err(c->arg, text);
			return;
		}
		c->msgs = m;
		c->capmsgs = cap;
	}
	if (!(t = strdup(text))) {
		c->err(c->arg, text);
		return;
	}
	c->msgs[c->nmsgs] = (struct cfg_msg){ line, col, c->nmsgs, t };
	c->nmsgs++;
}

static int cfg_msg_cmp(const void *pa, const void *pb)
{
	const struct cfg_msg *a = pa, *b = pb;

	if (a->line != b->line)
		return a->line < b->line ? -1 : 1;
	if (a->col != b->col)
		return a->col < b->col ? -1 : 1;
	return (a->seq > b->seq) - (a->seq < b->seq);
}

static void cfg_flush(struct cfg_ctx *c)
{
	if (c->nmsgs)
		qsort(c->msgs, c->nmsgs, sizeof(*c->msgs), cfg_msg_cmp);
	for (size_t i = 0; i < c->nmsgs; i++) {
		c->err(c->arg, c->msgs[i].text);
		free(c->msgs[i].text);
	}
	free(c->msgs);
	c->msgs = NULL;
	c->nmsgs = c->capmsgs = 0;
}

static void cfg_error_at(struct cfg_ctx *c, size_t line, size_t col,
			 const char *fmt, ...)
{
	char msg[768], full[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(full, sizeof(full), "%s:%zu:%zu: %s", c->name, line, col, msg);
	cfg_emit(c, line, col, full);
}

/* libyaml marks are 0-based; editors count from 1. */
#define cfg_error(c, n, ...) \
	cfg_error_at((c), (n) ? (n)->start_mark.line + 1 : 1, \
		     (n) ? (n)->start_mark.column + 1 : 1, __VA_ARGS__)

static void cfg_oom(struct cfg_ctx *c, const yaml_node_t *n)
{
	cfg_error(c, n, "out of memory");
}

/* ---- small helpers ---- */

/* Paths only name places in messages, so a long one is cut, visibly. */
static void cfg_path_mark_cut(char *buf, int n)
{
	if (n >= CFG_PATH)
		memcpy(buf + CFG_PATH - 4, "...", 4);
}

static void cfg_path(char *buf, const char *path, const char *key)
{
	cfg_path_mark_cut(buf, snprintf(buf, CFG_PATH, "%s%s%s", path,
					*path ? "." : "", key));
}

static void cfg_path_idx(char *buf, const char *path, size_t i)
{
	cfg_path_mark_cut(buf, snprintf(buf, CFG_PATH, "%s[%zu]", path, i));
}

static yaml_node_t *cfg_node(struct cfg_ctx *c, int idx)
{
	return yaml_document_get_node(&c->doc, idx);
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
static bool cfg_is_null(const yaml_node_t *n)
{
	const char *s = cfg_text(n);

	return s && cfg_is_plain(n) && (!*s || !strcmp(s, "~") ||
		!strcmp(s, "null") || !strcmp(s, "Null") || !strcmp(s, "NULL"));
}

static size_t cfg_seq_len(const yaml_node_t *n)
{
	return (size_t)(n->data.sequence.items.top -
			n->data.sequence.items.start);
}

static yaml_node_t *cfg_seq_item(struct cfg_ctx *c, const yaml_node_t *n,
				 size_t i)
{
	return cfg_node(c, n->data.sequence.items.start[i]);
}

static bool cfg_want_map(struct cfg_ctx *c, const yaml_node_t *n,
			 const char *path)
{
	if (n->type == YAML_MAPPING_NODE)
		return true;
	cfg_error(c, n, "%s: expected a mapping", path);
	return false;
}

static bool cfg_want_seq(struct cfg_ctx *c, const yaml_node_t *n,
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
static void *cfg_seq_array(struct cfg_ctx *c, const yaml_node_t *n,
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
	if (!(a = calloc(cfg_seq_len(n), size))) {
		cfg_oom(c, n);
		return NULL;
	}
	*len = cfg_seq_len(n);
	return a;
}

/* A non-null scalar without NUL bytes (which C strings cannot carry). */
static const char *cfg_want_str(struct cfg_ctx *c, const yaml_node_t *n,
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

static bool cfg_has_ctl(const char *s, bool space_ok)
{
	for (; *s; s++)
		if (iscntrl((unsigned char)*s) || (!space_ok && *s == ' '))
			return true;
	return false;
}

/* ---- mappings ---- */

/*
 * Reports unknown, duplicate and non-string keys of mapping n.  Returns
 * false only when n is not a mapping at all, so that callers still look
 * at the keys they know in a mapping that has a typo elsewhere.
 */
static bool cfg_map_check(struct cfg_ctx *c, const yaml_node_t *n,
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
		const yaml_node_t *k = cfg_node(c, p->key);
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
			const yaml_node_t *k2 = cfg_node(c, q->key);
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
static yaml_node_t *cfg_get(struct cfg_ctx *c, const yaml_node_t *n,
			    const char *key)
{
	const yaml_node_pair_t *p;

	for (p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top;
	     p++) {
		const char *ks = cfg_text(cfg_node(c, p->key));
		if (ks && !strcmp(ks, key))
			return cfg_node(c, p->value);
	}
	return NULL;
}

static yaml_node_t *cfg_require(struct cfg_ctx *c, const yaml_node_t *n,
				const char *path, const char *key)
{
	yaml_node_t *v = cfg_get(c, n, key);

	if (!v)
		cfg_error(c, n, "missing required key '%s' in %s", key, path);
	return v;
}

/* ---- scalars ---- */

/* Plain decimal digits only: strtoull would take signs and spaces. */
static int cfg_parse_u64(const char *s, uint64_t *v)
{
	uint64_t x = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		if (__builtin_mul_overflow(x, 10, &x) ||
		    __builtin_add_overflow(x, (uint64_t)(*s - '0'), &x))
			return -1;
	}
	*v = x;
	return 0;
}

int cfg_parse_duration_ms(const char *s, uint64_t *ms)
{
	static const struct { const char *unit; uint64_t ms; } units[] = {
		{ "ms", 1 }, { "s", 1000 }, { "m", 60000 }, { "h", 3600000 },
		{ "d", 86400000 }, { "w", 604800000 },
	};
	uint64_t total = 0;

	if (!s || !*s)
		return -1;
	if (cfg_parse_u64(s, &total) == 0)
		return __builtin_mul_overflow(total, 1000, ms) ? -1 : 0;
	/* One or more <number><unit> groups: "1m30s" reads as one expects. */
	while (*s) {
		uint64_t x = 0, part;
		size_t i, ulen = 0;

		if (*s < '0' || *s > '9')
			return -1;
		for (; *s >= '0' && *s <= '9'; s++)
			if (__builtin_mul_overflow(x, 10, &x) ||
			    __builtin_add_overflow(x, (uint64_t)(*s - '0'), &x))
				return -1;
		for (i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
			ulen = strlen(units[i].unit);
			if (!strncmp(s, units[i].unit, ulen) &&
			    (s[ulen] == '\0' || (s[ulen] >= '0' && s[ulen] <= '9')))
				break;
		}
		if (i == sizeof(units) / sizeof(units[0]))
			return -1;
		if (__builtin_mul_overflow(x, units[i].ms, &part) ||
		    __builtin_add_overflow(total, part, &total))
			return -1;
		s += ulen;
	}
	*ms = total;
	return 0;
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
	char p[CFG_PATH];
	const char *s;
	uint64_t x;
	bool neg;

	if (!v)
		return 0;
	cfg_path(p, path, key);
	/* A quoted "53" is a string in YAML: say so rather than guess. */
	if (!cfg_text(v) || !cfg_is_plain(v) || cfg_is_null(v)) {
		cfg_error(c, v, "%s: expected a number", p);
		return -1;
	}
	s = cfg_text(v);
	neg = s[0] == '-' && cfg_parse_u64(s + 1, &x) == 0;
	if (!neg && cfg_parse_u64(s, &x)) {
		cfg_error(c, v, "%s: expected a number", p);
		return -1;
	}
	if (neg || x < lo || x > hi) {
		cfg_error(c, v, "%s: %s is out of range (%llu-%llu)", p,
			  cfg_text(v), (unsigned long long)lo,
			  (unsigned long long)hi);
		return -1;
	}
	*out = x;
	return 1;
}

static int cfg_opt_u32(struct cfg_ctx *c, const yaml_node_t *map,
		       const char *path, const char *key, uint32_t lo,
		       uint32_t hi, uint32_t *out)
{
	uint64_t x;
	int rc = cfg_opt_u64(c, map, path, key, lo, hi, &x);

	if (rc == 1)
		*out = (uint32_t)x;
	return rc;
}

static int cfg_opt_bool(struct cfg_ctx *c, const yaml_node_t *map,
			const char *path, const char *key, bool *out)
{
	static const char *const t[] = { "true", "True", "TRUE", "yes", "Yes",
					 "YES", "on", "On", "ON", NULL };
	static const char *const f[] = { "false", "False", "FALSE", "no", "No",
					 "NO", "off", "Off", "OFF", NULL };
	yaml_node_t *v = cfg_get(c, map, key);
	char p[CFG_PATH];
	const char *s;

	if (!v)
		return 0;
	s = cfg_text(v);
	if (s && cfg_is_plain(v)) {
		for (size_t i = 0; t[i]; i++) {
			if (!strcmp(s, t[i])) {
				*out = true;
				return 1;
			}
			if (!strcmp(s, f[i])) {
				*out = false;
				return 1;
			}
		}
	}
	cfg_path(p, path, key);
	cfg_error(c, v, "%s: expected a boolean (true or false)", p);
	return -1;
}

/* A duration, in ms, within lo..hi. */
static int cfg_opt_ms(struct cfg_ctx *c, const yaml_node_t *map,
		      const char *path, const char *key, uint64_t lo,
		      uint64_t hi, uint64_t *out, const yaml_node_t **where)
{
	yaml_node_t *v = cfg_get(c, map, key);
	char p[CFG_PATH];
	uint64_t ms;
	const char *s;

	if (!v)
		return 0;
	cfg_path(p, path, key);
	if (where)
		*where = v;
	if (!(s = cfg_want_str(c, v, p)))
		return -1;
	if (cfg_parse_duration_ms(s, &ms) < 0) {
		cfg_error(c, v, "%s: bad duration '%s' (a number with a unit: "
			  "500ms, 2s, 1m, 1h, 1d, 1w; bare numbers are "
			  "seconds)", p, s);
		return -1;
	}
	if (ms < lo || ms > hi) {
		cfg_error(c, v, "%s: %s is out of range (%llums-%llums)", p, s,
			  (unsigned long long)lo, (unsigned long long)hi);
		return -1;
	}
	*out = ms;
	return 1;
}

static int cfg_opt_ms32(struct cfg_ctx *c, const yaml_node_t *map,
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
static int cfg_opt_ttl(struct cfg_ctx *c, const yaml_node_t *map,
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

static int cfg_opt_str(struct cfg_ctx *c, const yaml_node_t *map,
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
	if (!(d = strdup(s))) {
		cfg_oom(c, v);
		return -1;
	}
	free(*out);
	*out = d;
	return 1;
}

/* An enum given by name; *out is the index in names[]. */
static int cfg_opt_enum(struct cfg_ctx *c, const yaml_node_t *map,
			const char *path, const char *key,
			const char *const *names, const char *what, int *out,
			const yaml_node_t **where)
{
	yaml_node_t *v = cfg_get(c, map, key);
	char p[CFG_PATH], list[128] = "";
	const char *s;

	if (!v)
		return 0;
	cfg_path(p, path, key);
	if (where)
		*where = v;
	if (!(s = cfg_want_str(c, v, p)))
		return -1;
	for (int i = 0; names[i]; i++) {
		if (!strcmp(s, names[i])) {
			*out = i;
			return 1;
		}
		snprintf(list + strlen(list), sizeof(list) - strlen(list),
			 "%s%s", i ? ", " : "", names[i]);
	}
	cfg_error(c, v, "%s: unknown %s '%s' (%s)", p, what, s, list);
	return -1;
}

/* A list of addresses.  An empty list is returned as such. */
static int cfg_addrs(struct cfg_ctx *c, const yaml_node_t *n,
		     const char *path, struct model_addr **out, size_t *nout)
{
	size_t len, i, k = 0;
	int rc = 0;

	if (!cfg_want_seq(c, n, path))
		return -1;
	len = cfg_seq_len(n);
	if (len && !(*out = calloc(len, sizeof(**out)))) {
		cfg_oom(c, n);
		return -1;
	}
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

enum cfg_name_kind {
	CFG_NAME_ABS,     /* always absolute: the apex, SOA mname */
	CFG_NAME_MAILBOX, /* always absolute, any label text: SOA rname */
	CFG_NAME_NS,      /* relative to the apex, or absolute anywhere */
	CFG_NAME_SVC,     /* relative to the apex, or absolute inside it */
};

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

static bool cfg_in_zone(struct cfg_ctx *c, const ldns_rdf *d)
{
	return ldns_dname_compare(d, c->apex) == 0 ||
	       ldns_dname_is_subdomain(d, c->apex);
}

/*
 * Name n as a lower-case FQDN with a trailing dot, per kind.  Returns a
 * heap string, or NULL after reporting.
 */
static char *cfg_name(struct cfg_ctx *c, const yaml_node_t *n,
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
		cfg_oom(c, n);
	return out;
}

/* ---- server ---- */

static int cfg_listen_one(struct cfg_ctx *c, const yaml_node_t *n,
			  const char *path, uint16_t defport,
			  struct model_listen *l)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *s = cfg_want_str(c, n, path), *port = NULL, *colon;
	struct model_addr a;
	uint64_t pn = defport;
	size_t hl;

	if (!s)
		return -1;
	colon = strchr(s, ':');
	if (s[0] == '[') {
		const char *rb = strchr(s, ']');
		if (!rb || (rb[1] && rb[1] != ':') || (rb[1] == ':' && !rb[2]))
			goto bad;
		hl = (size_t)(rb - s - 1);
		if (hl >= sizeof(host))
			goto bad;
		memcpy(host, s + 1, hl);
		host[hl] = '\0';
		if (rb[1])
			port = rb + 2;
	} else if (colon && !strchr(colon + 1, ':')) {
		/* One colon: IPv4 with a port.  Bare IPv6 has several. */
		hl = (size_t)(colon - s);
		if (hl >= sizeof(host) || !colon[1])
			goto bad;
		memcpy(host, s, hl);
		host[hl] = '\0';
		port = colon + 1;
	} else {
		snprintf(host, sizeof(host), "%s", s);
		if (strlen(s) >= sizeof(host))
			goto bad;
	}
	if (model_addr_parse(&a, host) < 0 ||
	    (s[0] == '[' && a.family != AF_INET6))
		goto bad;
	if (port && (cfg_parse_u64(port, &pn) || pn < 1 || pn > 65535)) {
		cfg_error(c, n, "%s: bad port in '%s' (1-65535)", path, s);
		return -1;
	}
	memset(l, 0, sizeof(*l));
	if (a.family == AF_INET) {
		struct sockaddr_in *sin = (struct sockaddr_in *)&l->ss;
		sin->sin_family = AF_INET;
		sin->sin_port = htons((uint16_t)pn);
		sin->sin_addr = a.ip.v4;
		l->sslen = sizeof(*sin);
	} else {
		struct sockaddr_in6 *sin6 = (struct sockaddr_in6 *)&l->ss;
		sin6->sin6_family = AF_INET6;
		sin6->sin6_port = htons((uint16_t)pn);
		sin6->sin6_addr = a.ip.v6;
		l->sslen = sizeof(*sin6);
	}
	return 0;
bad:
	cfg_error(c, n, "%s: bad listen address '%s' (ADDR, ADDR:PORT or "
		  "[IPV6]:PORT)", path, s);
	return -1;
}

static void cfg_listen(struct cfg_ctx *c, const yaml_node_t *n,
		       const char *path, uint16_t port)
{
	struct model_server *srv = &c->m->server;
	size_t len;

	srv->listen = cfg_seq_array(c, n, path, sizeof(*srv->listen),
				    "empty list: nothing to listen on", &len);
	for (size_t i = 0; i < len; i++) {
		char p[CFG_PATH];
		cfg_path_idx(p, path, i);
		if (cfg_listen_one(c, cfg_seq_item(c, n, i), p, port,
				   &srv->listen[srv->nlisten]) == 0)
			srv->nlisten++;
	}
}

static void cfg_listen_default(struct cfg_ctx *c, uint16_t port)
{
	struct model_server *srv = &c->m->server;
	struct sockaddr_in *sin;
	struct sockaddr_in6 *sin6;

	if (!(srv->listen = calloc(2, sizeof(*srv->listen)))) {
		cfg_oom(c, NULL);
		return;
	}
	sin = (struct sockaddr_in *)&srv->listen[0].ss;
	sin->sin_family = AF_INET;
	sin->sin_port = htons(port);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	srv->listen[0].sslen = sizeof(*sin);
	sin6 = (struct sockaddr_in6 *)&srv->listen[1].ss;
	sin6->sin6_family = AF_INET6;
	sin6->sin6_port = htons(port);
	sin6->sin6_addr = in6addr_loopback;
	srv->listen[1].sslen = sizeof(*sin6);
	srv->nlisten = 2;
}

static void cfg_server(struct cfg_ctx *c, const yaml_node_t *n)
{
	static const char *const keys[] = {
		"listen", "port", "workers", "edns-udp-size",
		"tcp-idle-timeout", "tcp-max-clients", "identity", "version",
		"nsid", "user", "group", "pidfile", "log-level", NULL,
	};
	static const char *const levels[] = {
		"err", "warn", "info", "debug", NULL,
	};
	struct model_server *srv = &c->m->server;
	uint32_t port = 53, v;
	yaml_node_t *l;
	int lvl;

	if (n && !cfg_map_check(c, n, "server", keys))
		n = NULL;
	if (!n) {
		cfg_listen_default(c, (uint16_t)port);
		return;
	}
	cfg_opt_u32(c, n, "server", "port", 1, 65535, &port);
	if ((l = cfg_get(c, n, "listen")))
		cfg_listen(c, l, "server.listen", (uint16_t)port);
	else
		cfg_listen_default(c, (uint16_t)port);
	cfg_opt_u32(c, n, "server", "workers", 1, 256, &srv->workers);
	if (cfg_opt_u32(c, n, "server", "edns-udp-size", 512, 4096, &v) == 1)
		srv->edns_udp_size = (uint16_t)v;
	cfg_opt_ms32(c, n, "server", "tcp-idle-timeout", 1, &srv->tcp_idle_ms,
		     NULL);
	cfg_opt_u32(c, n, "server", "tcp-max-clients", 1, 1000000,
		    &srv->tcp_max_clients);
	cfg_opt_str(c, n, "server", "identity", &srv->identity);
	cfg_opt_str(c, n, "server", "version", &srv->version);
	cfg_opt_str(c, n, "server", "nsid", &srv->nsid);
	/* The NSID rides in every answer's OPT that asks for it: keep it
	 * small enough never to crowd out the answer. */
	if (srv->nsid && strlen(srv->nsid) > 128)
		cfg_error(c, cfg_get(c, n, "nsid"), "server.nsid: at most 128 "
			  "bytes (%zu given)", strlen(srv->nsid));
	cfg_opt_str(c, n, "server", "user", &srv->user);
	cfg_opt_str(c, n, "server", "group", &srv->group);
	cfg_opt_str(c, n, "server", "pidfile", &srv->pidfile);
	if (cfg_opt_enum(c, n, "server", "log-level", levels, "log level",
			 &lvl, NULL) == 1)
		srv->log_level = lvl;
}

/* ---- zone ---- */

static void cfg_soa(struct cfg_ctx *c, const yaml_node_t *n)
{
	static const char *const keys[] = {
		"mname", "rname", "serial", "refresh", "retry", "expire",
		"minimum", NULL,
	};
	struct model_zone *z = &c->m->zone;
	yaml_node_t *v;

	if (!cfg_map_check(c, n, "zone.soa", keys))
		return;
	if ((v = cfg_get(c, n, "mname")))
		z->soa_mname = cfg_name(c, v, "zone.soa.mname", CFG_NAME_ABS);
	if ((v = cfg_get(c, n, "rname")))
		z->soa_rname = cfg_name(c, v, "zone.soa.rname",
					CFG_NAME_MAILBOX);
	cfg_opt_u32(c, n, "zone.soa", "serial", 0, UINT32_MAX, &z->soa_serial);
	cfg_opt_ttl(c, n, "zone.soa", "refresh", &z->soa_refresh);
	cfg_opt_ttl(c, n, "zone.soa", "retry", &z->soa_retry);
	cfg_opt_ttl(c, n, "zone.soa", "expire", &z->soa_expire);
	cfg_opt_ttl(c, n, "zone.soa", "minimum", &z->soa_minimum);
}

static void cfg_ns_one(struct cfg_ctx *c, const yaml_node_t *n,
		       const char *path, struct model_ns *ns)
{
	static const char *const keys[] = { "name", "addresses", NULL };
	yaml_node_t *v;
	char p[CFG_PATH];

	if (!cfg_map_check(c, n, path, keys))
		return;
	if ((v = cfg_get(c, n, "addresses"))) {
		cfg_path(p, path, "addresses");
		cfg_addrs(c, v, p, &ns->addrs, &ns->naddrs);
	}
	if (!(v = cfg_require(c, n, path, "name")))
		return;
	cfg_path(p, path, "name");
	if (!(ns->name = cfg_name(c, v, p, CFG_NAME_NS)))
		return;
	/* Resolvers cannot reach an in-zone server without glue. */
	if (c->apex && !ns->naddrs) {
		ldns_rdf *d = ldns_dname_new_frm_str(ns->name);
		if (d && cfg_in_zone(c, d))
			cfg_error(c, n, "%s: name server %s is inside the zone "
				  "and needs glue addresses", path, ns->name);
		ldns_rdf_deep_free(d);
	}
}

static void cfg_nameservers(struct cfg_ctx *c, const yaml_node_t *n)
{
	struct model_zone *z = &c->m->zone;
	size_t len;

	z->ns = cfg_seq_array(c, n, "zone.nameservers", sizeof(*z->ns),
			      "at least one name server is required", &len);
	for (size_t i = 0; i < len; i++) {
		const yaml_node_t *it = cfg_seq_item(c, n, i);
		char p[CFG_PATH];

		cfg_path_idx(p, "zone.nameservers", i);
		cfg_ns_one(c, it, p, &z->ns[z->nns]);
		for (size_t j = 0; z->ns[z->nns].name && j < z->nns; j++) {
			if (z->ns[j].name &&
			    !strcmp(z->ns[j].name, z->ns[z->nns].name)) {
				cfg_error(c, it, "%s: duplicate name server "
					  "%s", p, z->ns[j].name);
				break;
			}
		}
		z->nns++;
	}
}

static void cfg_zone_file_path(struct cfg_ctx *c, const yaml_node_t *n)
{
	struct model_zone *z = &c->m->zone;
	const char *s = cfg_want_str(c, n, "zone.zone-file");
	size_t len;

	c->zone_file_node = n;
	if (!s)
		return;
	if (!*s) {
		cfg_error(c, n, "zone.zone-file: empty string");
		return;
	}
	if (s[0] == '/') {
		z->zone_file = strdup(s);
	} else {
		len = strlen(c->dir) + strlen(s) + 2;
		if ((z->zone_file = malloc(len)))
			snprintf(z->zone_file, len, "%s/%s", c->dir, s);
	}
	if (!z->zone_file)
		cfg_oom(c, n);
}

static void cfg_zone(struct cfg_ctx *c, const yaml_node_t *n)
{
	static const char *const keys[] = {
		"name", "ttl", "soa", "nameservers", "zone-file", NULL,
	};
	struct model_zone *z = &c->m->zone;
	yaml_node_t *v;

	if (!cfg_map_check(c, n, "zone", keys))
		return;
	/* The apex first: every relative name below is joined to it. */
	if ((v = cfg_require(c, n, "zone", "name")) &&
	    (z->apex = cfg_name(c, v, "zone.name", CFG_NAME_ABS))) {
		if (!strcmp(z->apex, ".")) {
			/* A GSLB serves a delegated zone; the root has no
			 * parent to delegate it. */
			cfg_error(c, v, "zone.name: the root zone cannot be served");
			free(z->apex);
			z->apex = NULL;
		} else if (!(c->apex = ldns_dname_new_frm_str(z->apex))) {
			cfg_oom(c, v);
		}
	}
	cfg_opt_ttl(c, n, "zone", "ttl", &z->ttl);
	if ((v = cfg_get(c, n, "soa")))
		cfg_soa(c, v);
	if ((v = cfg_require(c, n, "zone", "nameservers")))
		cfg_nameservers(c, v);
	if ((v = cfg_get(c, n, "zone-file")))
		cfg_zone_file_path(c, v);
}

/* ---- probes ---- */

static int cfg_status_one(const char *s, struct probe_status_range *r)
{
	const char *dash = strchr(s, '-');
	char lo[8];
	uint64_t a, b;

	if (dash) {
		if ((size_t)(dash - s) >= sizeof(lo))
			return -1;
		memcpy(lo, s, (size_t)(dash - s));
		lo[dash - s] = '\0';
		if (cfg_parse_u64(lo, &a) || cfg_parse_u64(dash + 1, &b))
			return -1;
	} else if (cfg_parse_u64(s, &a)) {
		return -1;
	} else {
		b = a;
	}
	if (a < 100 || b > 599 || a > b)
		return -1;
	r->lo = (uint16_t)a;
	r->hi = (uint16_t)b;
	return 0;
}

/* expect-status: a list of codes and ranges (a single one may stand
 * alone, as "expect-status: 200"). */
static void cfg_status(struct cfg_ctx *c, const yaml_node_t *n,
		       const char *path, struct probe_spec *ps)
{
	size_t len = n->type == YAML_SEQUENCE_NODE ? cfg_seq_len(n) : 1;
	bool bad = false;

	if (n->type == YAML_MAPPING_NODE) {
		cfg_error(c, n, "%s: expected a list", path);
		return;
	}
	if (!len) {
		cfg_error(c, n, "%s: empty list (omit the key for 200-399)",
			  path);
		return;
	}
	if (!(ps->status = calloc(len, sizeof(*ps->status)))) {
		cfg_oom(c, n);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		const yaml_node_t *it = n->type == YAML_SEQUENCE_NODE ?
					cfg_seq_item(c, n, i) : n;
		char p[CFG_PATH];
		const char *s;

		cfg_path_idx(p, path, i);
		if (!(s = cfg_want_str(c, it, p))) {
			bad = true;
		} else if (cfg_status_one(s, &ps->status[i]) < 0) {
			cfg_error(c, it, "%s: bad status '%s' (a code 100-599 "
				  "or a range like 200-399)", p, s);
			bad = true;
		}
	}
	ps->nstatus = len;
	if (!bad)
		ps->set |= PS_STATUS;
}

static void cfg_headers(struct cfg_ctx *c, const yaml_node_t *n,
			const char *path, struct probe_spec *ps)
{
	size_t len;

	ps->headers = cfg_seq_array(c, n, path, sizeof(*ps->headers), NULL,
				    &len);
	for (size_t i = 0; i < len; i++) {
		const yaml_node_t *it = cfg_seq_item(c, n, i);
		char p[CFG_PATH];
		const char *s, *colon;

		cfg_path_idx(p, path, i);
		if (!(s = cfg_want_str(c, it, p)))
			continue;
		colon = strchr(s, ':');
		if (!colon || colon == s || cfg_has_ctl(s, true) ||
		    memchr(s, ' ', (size_t)(colon - s))) {
			cfg_error(c, it, "%s: bad header '%s' (\"Name: "
				  "value\")", p, s);
			continue;
		}
		if (!(ps->headers[ps->nheaders] = strdup(s))) {
			cfg_oom(c, it);
			continue;
		}
		ps->nheaders++;
	}
	ps->set |= PS_HEADERS;
}

/* A string field of a probe that must be free of spaces and controls. */
static void cfg_probe_word(struct cfg_ctx *c, const yaml_node_t *n,
			   const char *path, const char *key, char **out,
			   uint32_t bit, uint32_t *set)
{
	char p[CFG_PATH];
	int rc = cfg_opt_str(c, n, path, key, out);

	if (rc != 1)
		return;
	cfg_path(p, path, key);
	if (cfg_has_ctl(*out, false)) {
		cfg_error(c, cfg_get(c, n, key), "%s: spaces or control "
			  "characters in '%s'", p, *out);
		return;
	}
	if (bit == PS_PATH && (*out)[0] != '/') {
		cfg_error(c, cfg_get(c, n, key), "%s: '%s' must start with "
			  "'/'", p, *out);
		return;
	}
	*set |= bit;
}

static void cfg_probe(struct cfg_ctx *c, const yaml_node_t *n,
		      const char *path, struct cfg_probe_src *src)
{
	static const char *const keys[] = {
		"type", "port", "interval", "timeout", "jitter", "rise",
		"fall", "method", "path", "host", "expect-status",
		"expect-body", "headers", "tls-verify", "ca-file", NULL,
	};
	static const char *const types[] = { "none", "http", "https", "tcp",
					     NULL };
	static const char *const methods[] = { "GET", "HEAD", NULL };
	struct probe_spec *ps = &src->ps;
	const yaml_node_t *v;
	uint32_t port;
	int i;

	snprintf(src->path, sizeof(src->path), "%s", path);
	src->node = n;
	if (!cfg_map_check(c, n, path, keys))
		return;
	if (cfg_opt_enum(c, n, path, "type", types, "probe type", &i,
			 &src->type_node) == 1) {
		ps->type = (enum probe_type)i;
		ps->set |= PS_TYPE;
	}
	if (cfg_opt_u32(c, n, path, "port", 1, 65535, &port) == 1) {
		ps->port = (uint16_t)port;
		ps->set |= PS_PORT;
	}
	if (cfg_opt_ms32(c, n, path, "interval", 1, &ps->interval_ms,
			 &src->interval_node) == 1)
		ps->set |= PS_INTERVAL;
	if (cfg_opt_ms32(c, n, path, "timeout", 1, &ps->timeout_ms,
			 &src->timeout_node) == 1)
		ps->set |= PS_TIMEOUT;
	if (cfg_opt_ms32(c, n, path, "jitter", 0, &ps->jitter_ms,
			 &src->jitter_node) == 1)
		ps->set |= PS_JITTER;
	if (cfg_opt_u32(c, n, path, "rise", 1, 1000, &ps->rise) == 1)
		ps->set |= PS_RISE;
	if (cfg_opt_u32(c, n, path, "fall", 1, 1000, &ps->fall) == 1)
		ps->set |= PS_FALL;
	if (cfg_opt_enum(c, n, path, "method", methods, "method", &i,
			 NULL) == 1) {
		if ((ps->method = strdup(methods[i])))
			ps->set |= PS_METHOD;
		else
			cfg_oom(c, n);
	}
	cfg_probe_word(c, n, path, "path", &ps->path, PS_PATH, &ps->set);
	cfg_probe_word(c, n, path, "host", &ps->host, PS_HOST, &ps->set);
	if (cfg_opt_str(c, n, path, "expect-body", &ps->body) == 1)
		ps->set |= PS_BODY;
	if (cfg_opt_str(c, n, path, "ca-file", &ps->ca_file) == 1)
		ps->set |= PS_CA_FILE;
	if (cfg_opt_bool(c, n, path, "tls-verify", &ps->tls_verify) == 1)
		ps->set |= PS_TLS_VERIFY;
	if ((v = cfg_get(c, n, "expect-status"))) {
		char p[CFG_PATH];
		cfg_path(p, path, "expect-status");
		cfg_status(c, v, p, ps);
	}
	if ((v = cfg_get(c, n, "headers"))) {
		char p[CFG_PATH];
		cfg_path(p, path, "headers");
		cfg_headers(c, v, p, ps);
	}
}

/* The most specific of n layers (most specific first) that set any of
 * bits; NULL when none did. */
static struct cfg_probe_src *cfg_probe_blame(struct cfg_probe_src **layers,
					     size_t n, uint32_t bits)
{
	for (size_t i = 0; i < n; i++)
		if (layers[i] && (layers[i]->ps.set & bits))
			return layers[i];
	return NULL;
}

/*
 * Problems that show only once layers combine (a service timeout over
 * the default interval) are blamed on the most specific layer that set
 * one of the fields involved, and only once per layer.
 */
static void cfg_probe_check(struct cfg_ctx *c, const struct probe_spec *ps,
			    struct cfg_probe_src **layers, size_t n,
			    bool need_port)
{
	struct cfg_probe_src *b;

	if (ps->type != PROBE_NONE && ps->timeout_ms > ps->interval_ms &&
	    (b = cfg_probe_blame(layers, n, PS_TIMEOUT | PS_INTERVAL)) &&
	    !b->reported) {
		b->reported = true;
		cfg_error(c, b->timeout_node ? b->timeout_node :
			  b->interval_node, "%s: probe timeout (%ums) must not "
			  "exceed the interval (%ums)", b->path, ps->timeout_ms,
			  ps->interval_ms);
	}
	if (ps->type != PROBE_NONE && ps->jitter_ms > ps->interval_ms &&
	    (b = cfg_probe_blame(layers, n, PS_JITTER | PS_INTERVAL)) &&
	    !b->reported) {
		b->reported = true;
		cfg_error(c, b->jitter_node ? b->jitter_node :
			  b->interval_node, "%s: probe jitter (%ums) must not "
			  "exceed the interval (%ums)", b->path, ps->jitter_ms,
			  ps->interval_ms);
	}
	if (need_port && ps->type == PROBE_TCP && !ps->port &&
	    (b = cfg_probe_blame(layers, n, PS_TYPE)) && !b->reported) {
		b->reported = true;
		cfg_error(c, b->type_node, "%s: probe type tcp needs a port",
			  b->path);
	}
}

/* built-in <- probe-defaults <- service <- endpoint, into out. */
static int cfg_probe_resolve(struct cfg_ctx *c, struct probe_spec *out,
			     struct cfg_probe_src *svc,
			     struct cfg_probe_src *ep)
{
	struct cfg_probe_src *layers[] = { ep, svc, &c->defaults };

	memset(out, 0, sizeof(*out));
	if (probe_spec_overlay(out, &c->defaults.ps) < 0 ||
	    (svc && probe_spec_overlay(out, &svc->ps) < 0) ||
	    (ep && probe_spec_overlay(out, &ep->ps) < 0) ||
	    probe_spec_finish(out) < 0)
		return -1;
	cfg_probe_check(c, out, layers, sizeof(layers) / sizeof(layers[0]),
			true);
	return 0;
}

/* ---- topology ---- */

static bool cfg_net_eq(const struct model_net *a, const struct model_net *b)
{
	return a->family == b->family && a->prefix == b->prefix &&
	       !memcmp(a->addr, b->addr, sizeof(a->addr));
}

/*
 * The region (0..k) that already maps net, or NULL.  The same prefix in
 * two regions would make the answer depend on list order.
 */
static const char *cfg_topo_owner(struct cfg_ctx *c, size_t k,
				  const struct model_net *net)
{
	const struct model_topology *t = c->m->topo;

	for (size_t j = 0; j <= k; j++)
		for (size_t i = 0; i < t[j].nnets; i++)
			if (cfg_net_eq(&t[j].nets[i], net))
				return t[j].region ? t[j].region : "?";
	return NULL;
}

static void cfg_topo_subnets(struct cfg_ctx *c, const yaml_node_t *v,
			     const char *path, size_t k)
{
	struct model_topology *t = &c->m->topo[k];
	size_t len;

	t->nets = cfg_seq_array(c, v, path, sizeof(*t->nets), "empty list",
				&len);
	for (size_t i = 0; i < len; i++) {
		const yaml_node_t *it = cfg_seq_item(c, v, i);
		struct model_net *net = &t->nets[t->nnets];
		char ip[CFG_PATH];
		const char *s, *owner;

		cfg_path_idx(ip, path, i);
		if (!(s = cfg_want_str(c, it, ip)))
			continue;
		if (model_net_parse(net, s) < 0) {
			cfg_error(c, it, "%s: bad subnet '%s' (ADDR/BITS with "
				  "the host bits zero)", ip, s);
			continue;
		}
		if ((owner = cfg_topo_owner(c, k, net))) {
			cfg_error(c, it, "%s: %s is already mapped to region "
				  "'%s'", ip, s, owner);
			continue;
		}
		t->nnets++;
	}
}

static void cfg_topo_one(struct cfg_ctx *c, const yaml_node_t *n,
			 const char *path, size_t k)
{
	static const char *const keys[] = { "region", "subnets", NULL };
	struct model_topology *t = &c->m->topo[k];
	const yaml_node_t *v;
	char p[CFG_PATH];

	if (!cfg_map_check(c, n, path, keys))
		return;
	if ((v = cfg_require(c, n, path, "region")) &&
	    cfg_opt_str(c, n, path, "region", &t->region) == 1) {
		for (size_t j = 0; j < k; j++)
			if (c->m->topo[j].region &&
			    !strcmp(c->m->topo[j].region, t->region))
				cfg_error(c, v, "%s: duplicate region '%s' "
					  "(list all its subnets in one "
					  "entry)", path, t->region);
	}
	if (!(v = cfg_require(c, n, path, "subnets")))
		return;
	cfg_path(p, path, "subnets");
	cfg_topo_subnets(c, v, p, k);
}

static void cfg_topology(struct cfg_ctx *c, const yaml_node_t *n)
{
	size_t len;

	c->m->topo = cfg_seq_array(c, n, "topology", sizeof(*c->m->topo), NULL,
				   &len);
	for (size_t i = 0; i < len; i++) {
		const yaml_node_t *it = cfg_seq_item(c, n, i);
		char p[CFG_PATH];

		cfg_path_idx(p, "topology", i);
		c->m->ntopo++;
		cfg_topo_one(c, it, p, i);
	}
}

/* ---- services ---- */

static void cfg_endpoint(struct cfg_ctx *c, const yaml_node_t *n,
			 const char *path, struct model_endpoint *ep,
			 struct cfg_probe_src *svc_probe)
{
	static const char *const keys[] = {
		"region", "name", "addresses", "weight", "priority", "enabled",
		"probe", NULL,
	};
	struct cfg_probe_src src = { 0 };
	const yaml_node_t *v;
	char p[CFG_PATH];

	ep->weight = 1;
	ep->priority = 1;
	ep->enabled = true;
	if (!cfg_map_check(c, n, path, keys))
		return;
	if (cfg_require(c, n, path, "region"))
		cfg_opt_str(c, n, path, "region", &ep->region);
	cfg_opt_str(c, n, path, "name", &ep->name);
	if (!ep->name && ep->region && !(ep->name = strdup(ep->region)))
		cfg_oom(c, n);
	if ((v = cfg_get(c, n, "addresses"))) {
		cfg_path(p, path, "addresses");
		if (cfg_addrs(c, v, p, &ep->addrs, &ep->naddrs) == 0 &&
		    !ep->naddrs)
			cfg_error(c, v, "%s: an endpoint needs at least one "
				  "address", p);
	} else {
		cfg_error(c, n, "%s: an endpoint needs addresses "
			  "(missing key 'addresses')", path);
	}
	cfg_opt_u32(c, n, path, "weight", 0, 1000000, &ep->weight);
	cfg_opt_u32(c, n, path, "priority", 0, 1000000, &ep->priority);
	cfg_opt_bool(c, n, path, "enabled", &ep->enabled);
	if ((v = cfg_get(c, n, "probe"))) {
		cfg_path(p, path, "probe");
		cfg_probe(c, v, p, &src);
	}
	if (cfg_probe_resolve(c, &ep->probe, svc_probe, v ? &src : NULL) < 0)
		cfg_oom(c, n);
	probe_spec_clear(&src.ps);
}

/* Duplicate service names, found by sorting (a config may hold 100,000
 * services: comparing every pair would take minutes). */
static const struct model_service *cfg_dup_base;

static int cfg_svc_idx_cmp(const void *a, const void *b)
{
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	const char *x = cfg_dup_base[i].name, *y = cfg_dup_base[j].name;
	int r = strcmp(x ? x : "", y ? y : "");
	return r ? r : (i < j ? -1 : i > j);
}

static void cfg_services_dups(struct cfg_ctx *c, struct model *m)
{
	size_t n = m->nsvcs, *idx = malloc((n ? n : 1) * sizeof(*idx));

	if (!idx) {
		cfg_oom(c, NULL);
		return;
	}
	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	cfg_dup_base = m->svcs;
	qsort(idx, n, sizeof(*idx), cfg_svc_idx_cmp);
	/* Equal names sort together, the first written first. */
	for (size_t run = 0; run < n;) {
		const char *name = m->svcs[idx[run]].name;
		size_t k = run + 1;
		for (; k < n && name && m->svcs[idx[k]].name &&
		       !strcmp(m->svcs[idx[k]].name, name); k++) {
			char p[CFG_PATH];
			cfg_path_idx(p, "services", idx[k]);
			cfg_error(c, c->svc_name_nodes[idx[k]], "%s: duplicate "
				  "service name %s (first at line %zu)", p, name,
				  c->svc_name_nodes[idx[run]]->start_mark.line + 1);
		}
		run = k;
	}
	free(idx);
}

/* Where an endpoint's name was written, for the duplicate-name error. */
static const yaml_node_t *cfg_ep_name_node(struct cfg_ctx *c,
					   const yaml_node_t *n)
{
	const yaml_node_t *v;

	if (n->type != YAML_MAPPING_NODE)
		return n;
	if ((v = cfg_get(c, n, "name")) || (v = cfg_get(c, n, "region")))
		return v;
	return n;
}

static void cfg_endpoints(struct cfg_ctx *c, const yaml_node_t *n,
			  const char *path, struct model_service *s,
			  struct cfg_probe_src *svc_probe)
{
	size_t len;

	s->eps = cfg_seq_array(c, n, path, sizeof(*s->eps),
			       "a service needs at least one endpoint", &len);
	for (size_t i = 0; i < len; i++) {
		const yaml_node_t *it = cfg_seq_item(c, n, i);
		struct model_endpoint *ep = &s->eps[i];
		char p[CFG_PATH];

		cfg_path_idx(p, path, i);
		cfg_endpoint(c, it, p, ep, svc_probe);
		s->neps++;
		for (size_t j = 0; ep->name && j < i; j++) {
			if (s->eps[j].name && !strcmp(s->eps[j].name,
						      ep->name)) {
				cfg_error(c, cfg_ep_name_node(c, it), "%s: "
					  "endpoint name '%s' is used twice "
					  "in service %s (the name defaults to "
					  "the region): give each a distinct "
					  "name", p, ep->name,
					  s->name ? s->name : "?");
				break;
			}
		}
	}
}

static void cfg_service(struct cfg_ctx *c, const yaml_node_t *n,
			const char *path, struct model_service *s,
			const yaml_node_t **name_node)
{
	static const char *const keys[] = {
		"name", "policy", "ttl", "max-answers", "all-down", "probe",
		"endpoints", NULL,
	};
	static const char *const policies[] = { "all", "failover",
						"weighted", "topology", NULL };
	static const char *const alldown[] = { "serve-all", "servfail",
					       "nodata", NULL };
	struct cfg_probe_src src = { 0 };
	const yaml_node_t *v, *probe;
	char p[CFG_PATH];
	int i;

	s->source = "config";
	s->ttl = 30;
	s->max_answers = 8;
	if (!cfg_map_check(c, n, path, keys))
		return;
	if ((v = cfg_require(c, n, path, "name"))) {
		cfg_path(p, path, "name");
		s->name = cfg_name(c, v, p, CFG_NAME_SVC);
		*name_node = v;
	}
	if (cfg_opt_enum(c, n, path, "policy", policies, "policy", &i,
			 NULL) == 1)
		s->policy = (enum model_policy)i;
	if (cfg_opt_enum(c, n, path, "all-down", alldown, "all-down value",
			 &i, NULL) == 1)
		s->all_down = (enum model_alldown)i;
	cfg_opt_ttl(c, n, path, "ttl", &s->ttl);
	cfg_opt_u32(c, n, path, "max-answers", 0, 65535, &s->max_answers);
	if ((probe = cfg_get(c, n, "probe"))) {
		cfg_path(p, path, "probe");
		cfg_probe(c, probe, p, &src);
	}
	if ((v = cfg_require(c, n, path, "endpoints"))) {
		cfg_path(p, path, "endpoints");
		cfg_endpoints(c, v, p, s, probe ? &src : NULL);
	}
	probe_spec_clear(&src.ps);
}

static void cfg_services(struct cfg_ctx *c, const yaml_node_t *n)
{
	struct model *m = c->m;
	size_t len;

	if (!cfg_want_seq(c, n, "services"))
		return;
	len = cfg_seq_len(n);
	if (!len)
		return;
	m->svcs = calloc(len, sizeof(*m->svcs));
	c->svc_name_nodes = calloc(len, sizeof(*c->svc_name_nodes));
	if (!m->svcs || !c->svc_name_nodes) {
		cfg_oom(c, n);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		struct model_service *s = &m->svcs[i];
		char p[CFG_PATH];

		cfg_path_idx(p, "services", i);
		cfg_service(c, cfg_seq_item(c, n, i), p, s,
			    &c->svc_name_nodes[i]);
		m->nsvcs++;
	}
	cfg_services_dups(c, m);
}

/* ---- kubernetes ---- */

/* A path as written, or joined to the config file's directory. */
static char *cfg_rel_path(struct cfg_ctx *c, const char *s)
{
	char *out;

	if (s[0] == '/')
		return strdup(s);
	if (asprintf(&out, "%s/%s", c->dir, s) < 0)
		return NULL;
	return out;
}

static void cfg_kube_path(struct cfg_ctx *c, const yaml_node_t *n,
			  const char *key, char **out)
{
	char *s = NULL, *full;

	if (cfg_opt_str(c, n, "kubernetes", key, &s) != 1)
		return;
	if (!(full = cfg_rel_path(c, s)))
		cfg_oom(c, cfg_get(c, n, key));
	free(s);
	free(*out);
	*out = full;
}

/* RFC 1123 label, as Kubernetes requires of namespace names. */
static bool cfg_k8s_label(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 63 || s[0] == '-' || s[len - 1] == '-')
		return false;
	for (; *s; s++)
		if (!(*s >= 'a' && *s <= 'z') && !(*s >= '0' && *s <= '9') &&
		    *s != '-')
			return false;
	return true;
}

static void cfg_kube_namespaces(struct cfg_ctx *c, const yaml_node_t *n)
{
	struct model_kube *k = &c->m->kube;
	const char *path = "kubernetes.namespaces";
	size_t len;

	if (!cfg_want_seq(c, n, path))
		return;
	len = cfg_seq_len(n);
	if (!len) {
		cfg_error(c, n, "%s: empty list (omit the key to watch every "
			  "namespace)", path);
		return;
	}
	if (!(k->namespaces = calloc(len, sizeof(*k->namespaces)))) {
		cfg_oom(c, n);
		return;
	}
	for (size_t i = 0; i < len; i++) {
		const yaml_node_t *it = cfg_seq_item(c, n, i);
		char p[CFG_PATH];
		const char *s;
		bool dup = false;

		cfg_path_idx(p, path, i);
		if (!(s = cfg_want_str(c, it, p)))
			continue;
		if (!cfg_k8s_label(s)) {
			cfg_error(c, it, "%s: '%s' is not a valid namespace "
				  "name (lower-case letters, digits and '-', "
				  "up to 63)", p, s);
			continue;
		}
		for (size_t j = 0; j < k->nnamespaces && !dup; j++)
			dup = !strcmp(k->namespaces[j], s);
		if (dup) {
			cfg_error(c, it, "%s: duplicate namespace '%s'", p, s);
			continue;
		}
		if (!(k->namespaces[k->nnamespaces] = strdup(s))) {
			cfg_oom(c, it);
			continue;
		}
		k->nnamespaces++;
	}
}

static void cfg_kube(struct cfg_ctx *c, const yaml_node_t *n)
{
	static const char *const keys[] = {
		"kubeconfig", "context", "namespaces", "kubefed-namespace",
		"cache-file", "resync", "timeout", "dnsendpoints", "policy",
		"ttl", NULL,
	};
	static const char *const policies[] = { "all", "failover",
						"weighted", "topology", NULL };
	struct model_kube *k = &c->m->kube;
	const yaml_node_t *v;
	int i;

	k->enabled = true;
	k->resync_ms = 10 * 60 * 1000;
	k->timeout_ms = 10 * 1000;
	k->dnsendpoints = true;
	k->policy = POLICY_ALL;
	k->ttl = 30;
	if (!(k->kubefed_namespace = strdup("kube-federation-system")))
		cfg_oom(c, n);
	/* "kubernetes:" alone: in-cluster credentials, every default. */
	if (cfg_is_null(n) || !cfg_map_check(c, n, "kubernetes", keys))
		return;
	cfg_kube_path(c, n, "kubeconfig", &k->kubeconfig);
	cfg_opt_str(c, n, "kubernetes", "context", &k->context);
	if ((v = cfg_get(c, n, "namespaces")))
		cfg_kube_namespaces(c, v);
	if (cfg_opt_str(c, n, "kubernetes", "kubefed-namespace",
			&k->kubefed_namespace) == 1 &&
	    !cfg_k8s_label(k->kubefed_namespace))
		cfg_error(c, cfg_get(c, n, "kubefed-namespace"),
			  "kubernetes.kubefed-namespace: '%s' is not a valid "
			  "namespace name", k->kubefed_namespace);
	cfg_kube_path(c, n, "cache-file", &k->cache_file);
	cfg_opt_ms32(c, n, "kubernetes", "resync", 1000, &k->resync_ms, NULL);
	cfg_opt_ms32(c, n, "kubernetes", "timeout", 100, &k->timeout_ms,
		     NULL);
	cfg_opt_bool(c, n, "kubernetes", "dnsendpoints", &k->dnsendpoints);
	if (cfg_opt_enum(c, n, "kubernetes", "policy", policies, "policy", &i,
			 NULL) == 1)
		k->policy = (enum model_policy)i;
	cfg_opt_ttl(c, n, "kubernetes", "ttl", &k->ttl);
}

/* ---- cross checks ---- */

/* A service owns the address records of its name: glue or zone-file
 * data there would be answered beside, or instead of, the healthy set. */
static void cfg_service_conflicts(struct cfg_ctx *c)
{
	struct model *m = c->m;
	ldns_rr_list *rrs = m->zone.static_rrs;

	for (size_t i = 0; i < m->nsvcs; i++) {
		const char *name = m->svcs[i].name;
		const yaml_node_t *where = c->svc_name_nodes[i];
		ldns_rdf *d;

		if (!name)
			continue;
		for (size_t j = 0; j < m->zone.nns; j++)
			if (m->zone.ns[j].name && m->zone.ns[j].naddrs &&
			    !strcmp(m->zone.ns[j].name, name))
				cfg_error(c, where, "%s: this name is also a "
					  "name server with glue addresses",
					  name);
		if (!rrs || !(d = ldns_dname_new_frm_str(name)))
			continue;
		for (size_t j = 0; j < ldns_rr_list_rr_count(rrs); j++) {
			ldns_rr *rr = ldns_rr_list_rr(rrs, j);
			ldns_rr_type t = ldns_rr_get_type(rr);
			if ((t != LDNS_RR_TYPE_A && t != LDNS_RR_TYPE_AAAA &&
			     t != LDNS_RR_TYPE_CNAME) ||
			    ldns_dname_compare(ldns_rr_owner(rr), d))
				continue;
			cfg_error(c, where, "%s: %s records come from the "
				  "service, not the zone file %s", name,
				  t == LDNS_RR_TYPE_A ? "A" :
				  t == LDNS_RR_TYPE_AAAA ? "AAAA" : "CNAME",
				  m->zone.zone_file);
			break;
		}
		ldns_rdf_deep_free(d);
	}
}

static void cfg_zone_file_load(struct cfg_ctx *c)
{
	struct model_zone *z = &c->m->zone;
	char err[1024];
	int rc;

	if (!z->zone_file || !z->apex)
		return;
	rc = zonefile_load(z->zone_file, z->apex, z->ttl, &z->static_rrs, err,
			   sizeof(err));
	if (rc == -2) {
		cfg_error(c, c->zone_file_node, "zone.zone-file: %s", err);
	} else if (rc < 0) {
		/* Already "path:line:1: message", in the zone file's terms;
		 * it goes after the config file's own lines. */
		cfg_emit(c, SIZE_MAX, 0, err);
	}
}

/* Defaults that depend on other settings, once everything is read. */
static void cfg_fill_defaults(struct cfg_ctx *c)
{
	struct model *m = c->m;
	struct model_zone *z = &m->zone;

	if (!m->server.workers) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		m->server.workers = n < 1 ? 1 : n > 256 ? 256 : (uint32_t)n;
	}
	if (!z->soa_serial)
		z->soa_serial = (uint32_t)time(NULL);
	if (!z->soa_mname && z->nns && z->ns[0].name &&
	    !(z->soa_mname = strdup(z->ns[0].name)))
		cfg_oom(c, NULL);
	if (!z->soa_rname && z->apex) {
		size_t len = strlen(z->apex) + sizeof("hostmaster.");
		if ((z->soa_rname = malloc(len)))
			snprintf(z->soa_rname, len, "hostmaster.%s", z->apex);
		else
			cfg_oom(c, NULL);
	}
}

/* ---- control ---- */

/* 127.0.0.1:8053: the control API is on unless disabled, and never on a
 * public address unless configured (see cfg_control). */
static void cfg_control_defaults(struct model_control *ctl)
{
	struct sockaddr_in *sin = (struct sockaddr_in *)&ctl->listen.ss;

	ctl->enabled = true;
	memset(&ctl->listen, 0, sizeof(ctl->listen));
	sin->sin_family = AF_INET;
	sin->sin_port = htons(8053);
	sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	ctl->listen.sslen = sizeof(*sin);
}

static void cfg_control(struct cfg_ctx *c, const yaml_node_t *n)
{
	static const char *const keys[] = {
		"enabled", "listen", "token", NULL,
	};
	struct model_control *ctl = &c->m->control;
	const yaml_node_t *l;

	/* "control:" alone: every default. */
	if (cfg_is_null(n) || !cfg_map_check(c, n, "control", keys))
		return;
	cfg_opt_bool(c, n, "control", "enabled", &ctl->enabled);
	if ((l = cfg_get(c, n, "listen")))
		cfg_listen_one(c, l, "control.listen", 8053, &ctl->listen);
	if (cfg_opt_str(c, n, "control", "token", &ctl->token) == 1 &&
	    cfg_has_ctl(ctl->token, false))
		cfg_error(c, cfg_get(c, n, "token"), "control.token: spaces "
			  "or control characters");
	/* Admin actions and reloads are not for the whole network to take:
	 * an address others can reach must come with a token. */
	if (ctl->enabled && !ctl->token && !model_listen_is_loopback(&ctl->listen))
		cfg_error(c, l ? l : n, "control.listen: a non-loopback "
			  "address needs control.token");
}

/* ---- top level ---- */

static void cfg_root(struct cfg_ctx *c, const yaml_node_t *root)
{
	static const char *const keys[] = {
		"server", "zone", "probe-defaults", "topology", "services",
		"kubernetes", "control", NULL,
	};
	struct cfg_probe_src *layers[] = { &c->defaults };
	struct probe_spec resolved;
	const yaml_node_t *v;

	if (!root) {
		cfg_error_at(c, 1, 1, "empty configuration: the zone section "
			     "is required");
		return;
	}
	if (!cfg_map_check(c, root, "", keys))
		return;
	if ((v = cfg_get(c, root, "zone")))
		cfg_zone(c, v);
	else
		cfg_error(c, root, "missing required key 'zone' at the top "
			  "level");
	cfg_server(c, cfg_get(c, root, "server"));
	if ((v = cfg_get(c, root, "probe-defaults"))) {
		cfg_probe(c, v, "probe-defaults", &c->defaults);
		/*
		 * Checked alone too, as Kubernetes services start from it;
		 * but a tcp type may get its port from each service.
		 */
		if (probe_spec_copy(&resolved, &c->defaults.ps) == 0 &&
		    probe_spec_finish(&resolved) == 0)
			cfg_probe_check(c, &resolved, layers, 1, false);
		else
			cfg_oom(c, v);
		probe_spec_clear(&resolved);
	}
	if ((v = cfg_get(c, root, "topology")))
		cfg_topology(c, v);
	if ((v = cfg_get(c, root, "services")))
		cfg_services(c, v);
	if ((v = cfg_get(c, root, "kubernetes")))
		cfg_kube(c, v);
	if ((v = cfg_get(c, root, "control")))
		cfg_control(c, v);
	cfg_zone_file_load(c);
	cfg_service_conflicts(c);
	cfg_fill_defaults(c);
}

static void cfg_model_init(struct model *m)
{
	m->server.edns_udp_size = 1232;
	m->server.log_level = -1;
	m->server.tcp_idle_ms = 10000;
	m->server.tcp_max_clients = 256;
	m->zone.ttl = 3600;
	m->zone.soa_refresh = 3600;
	m->zone.soa_retry = 600;
	m->zone.soa_expire = 604800;
	m->zone.soa_minimum = 60;
	cfg_control_defaults(&m->control);
}

static void cfg_yaml_error(struct cfg_ctx *c, const yaml_parser_t *p)
{
	const char *problem = p->problem ? p->problem : "YAML error";

	if (p->context)
		cfg_error_at(c, p->problem_mark.line + 1,
			     p->problem_mark.column + 1, "%s %s (line %zu)",
			     problem, p->context, p->context_mark.line + 1);
	else
		cfg_error_at(c, p->problem_mark.line + 1,
			     p->problem_mark.column + 1, "%s", problem);
}

/* A second document would be silently ignored; say so instead. */
static void cfg_one_document(struct cfg_ctx *c, yaml_parser_t *p)
{
	yaml_document_t extra;
	yaml_node_t *root;

	if (!yaml_parser_load(p, &extra)) {
		cfg_yaml_error(c, p);
		return;
	}
	if ((root = yaml_document_get_root_node(&extra)))
		cfg_error(c, root, "only one YAML document is allowed");
	yaml_document_delete(&extra);
}

char *cfg_dirname(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}

struct model *cfg_load_string(const char *name, const char *text,
			      cfg_err_fn err, void *arg)
{
	struct cfg_ctx c = { .name = name, .err = err, .arg = arg };
	yaml_parser_t parser;
	bool have_doc = false;

	c.m = calloc(1, sizeof(*c.m));
	c.dir = cfg_dirname(name);
	if (!c.m || !c.dir || !(c.m->path = strdup(name)) ||
	    !yaml_parser_initialize(&parser)) {
		cfg_error_at(&c, 1, 1, "out of memory");
		goto out;
	}
	cfg_model_init(c.m);
	yaml_parser_set_input_string(&parser, (const unsigned char *)text,
				     strlen(text));
	if (!yaml_parser_load(&parser, &c.doc)) {
		cfg_yaml_error(&c, &parser);
	} else {
		have_doc = true;
		cfg_one_document(&c, &parser);
		if (!c.nerr)
			cfg_root(&c, yaml_document_get_root_node(&c.doc));
	}
	yaml_parser_delete(&parser);
out:
	if (have_doc)
		yaml_document_delete(&c.doc);
	if (c.m) {
		c.m->probe_defaults = c.defaults.ps; /* given fields only */
		memset(&c.defaults.ps, 0, sizeof(c.defaults.ps));
	}
	cfg_flush(&c);
	ldns_rdf_deep_free(c.apex);
	free(c.svc_name_nodes);
	free(c.dir);
	if (c.nerr) {
		model_free(c.m);
		return NULL;
	}
	return c.m;
}

/* The whole file as a string; NULL with line set on failure. */
static char *cfg_slurp(const char *path, char *line, size_t linelen)
{
	FILE *fp = fopen(path, "r");
	char *buf = NULL, *nb;
	size_t len = 0, cap = 0, got;

	if (!fp) {
		snprintf(line, linelen, "%s:1:1: cannot open: %s", path,
			 strerror(errno));
		return NULL;
	}
	do {
		if (len + 1 >= cap) {
			cap = cap ? cap * 2 : 16384;
			if (cap > CFG_MAX_FILE + 2) {
				snprintf(line, linelen, "%s:1:1: larger than "
					 "%u bytes", path, CFG_MAX_FILE);
				goto fail;
			}
			if (!(nb = realloc(buf, cap))) {
				snprintf(line, linelen, "%s:1:1: out of "
					 "memory", path);
				goto fail;
			}
			buf = nb;
		}
		got = fread(buf + len, 1, cap - len - 1, fp);
		len += got;
	} while (got);
	if (ferror(fp)) {
		snprintf(line, linelen, "%s:1:1: read error: %s", path,
			 strerror(errno));
		goto fail;
	}
	if (memchr(buf, '\0', len)) {
		snprintf(line, linelen, "%s:1:1: NUL byte in the file", path);
		goto fail;
	}
	buf[len] = '\0';
	fclose(fp);
	return buf;
fail:
	fclose(fp);
	free(buf);
	return NULL;
}

struct model *cfg_load(const char *path, cfg_err_fn err, void *arg)
{
	char line[1024];
	struct model *m;
	char *buf = cfg_slurp(path, line, sizeof(line));

	if (!buf) {
		if (err)
			err(arg, line);
		return NULL;
	}
	m = cfg_load_string(path, buf, err, arg);
	free(buf);
	return m;
}
