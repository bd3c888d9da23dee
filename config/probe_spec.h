/*
 * probe_spec.h -- how an address is probed (struct probe_spec), and the
 * one description of its settings: a table with a row per setting that
 * names it (the YAML key, the gslbd.io/probe-<key> annotation, the cache
 * file's key), says what kind of value it is, what range or form is
 * allowed, its built-in default and where it lives in the struct.
 *
 * Everything that handles settings one by one walks the table: copying,
 * layering, comparing and hashing here; reading YAML (config/cfg_service.c),
 * annotations (kube/kubefed.c) and the cache file (kube/cache.c) there.
 * A new setting is a new field, a new PS_* bit and a new row.
 *
 * Ownership: a probe_spec owns its strings and arrays; release them with
 * probe_spec_clear().
 */
#ifndef GSLBD_PROBE_SPEC_H
#define GSLBD_PROBE_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum probe_type {
	PROBE_NONE = 0, /* no probe: the address is always up */
	PROBE_HTTP,
	PROBE_HTTPS,
	PROBE_TCP,
};

/* Bits of probe_spec.set: which fields were given explicitly, so that
 * endpoint settings override service settings override probe-defaults.
 * Bit i is row i of probe_spec_fields[]. */
enum {
	PS_TYPE = 1u << 0, PS_PORT = 1u << 1, PS_INTERVAL = 1u << 2,
	PS_TIMEOUT = 1u << 3, PS_RISE = 1u << 4, PS_FALL = 1u << 5,
	PS_JITTER = 1u << 6, PS_METHOD = 1u << 7, PS_PATH = 1u << 8,
	PS_HOST = 1u << 9, PS_STATUS = 1u << 10, PS_BODY = 1u << 11,
	PS_HEADERS = 1u << 12, PS_TLS_VERIFY = 1u << 13, PS_CA_FILE = 1u << 14,
	PS_FAST_INTERVAL = 1u << 15, PS_KEEPALIVE = 1u << 16,
};

struct probe_status_range {
	uint16_t lo, hi; /* inclusive; a single code has lo == hi */
};

struct probe_spec {
	uint32_t set;         /* PS_* bits given explicitly at this level */
	enum probe_type type;
	uint16_t port;        /* 0: 80 for http, 443 for https */
	uint32_t interval_ms;
	uint32_t timeout_ms;
	uint32_t jitter_ms;   /* each run is delayed by a random 0..jitter */
	uint32_t rise;        /* consecutive successes to go up */
	uint32_t fall;        /* consecutive failures to go down */
	char *method;         /* "GET" or "HEAD" */
	char *path;           /* "/" */
	char *host;           /* Host header and TLS SNI; NULL: service name */
	struct probe_status_range *status;
	size_t nstatus;       /* 0: 200-399 */
	char *body;           /* substring the body must contain, or NULL */
	char **headers;       /* "Name: value" */
	size_t nheaders;
	bool tls_verify;
	char *ca_file;        /* NULL: system store */
	uint32_t fast_interval_ms; /* re-check while changing state; taken
				      as interval when larger */
	bool keepalive;       /* http(s): reuse the connection between runs
				 of a healthy target (a new one at least
				 every PROBE_KEEPALIVE_FRESH runs) */
};

/* Built-in defaults (documented in gslbd.conf(5)). */
#define PROBE_DEFAULT_INTERVAL_MS 1000
#define PROBE_DEFAULT_TIMEOUT_MS  800
#define PROBE_DEFAULT_JITTER_MS   100
#define PROBE_DEFAULT_RISE        2
#define PROBE_DEFAULT_FALL        2
#define PROBE_DEFAULT_FAST_INTERVAL_MS 200
/* With keepalive: a new connection at least every this many runs, so a
 * server that stops accepting is still seen. */
#define PROBE_KEEPALIVE_FRESH 10

/* ---- the table ---- */

/* What kind of value a setting holds, and so how it is stored. */
enum probe_spec_kind {
	PSK_ENUM,    /* an enum (int), written as one of names[] */
	PSK_UINT,    /* uint16_t or uint32_t, lo..hi */
	PSK_MS,      /* uint32_t milliseconds, written as a duration, lo..hi */
	PSK_BOOL,    /* bool */
	PSK_STR,     /* char *, heap; NULL: not set; one of names[] if given */
	PSK_STATUS,  /* struct probe_status_range *, count at count_off */
	PSK_HEADERS, /* char ** ("Name: value"), count at count_off */
};

/* What else a row says about its setting. */
enum {
	PSF_DFLT = 1u << 0,  /* probe_spec_finish() fills dflt / dflt_text */
	PSF_WORD = 1u << 1,  /* no spaces or control characters */
	PSF_SLASH = 1u << 2, /* starts with '/' */
	PSF_ONE = 1u << 3,   /* YAML: a single item may stand for the list */
	PSF_FULL = 1u << 4,  /* a list that may not be empty */
	PSF_ANN = 1u << 5,   /* may be set by annotation gslbd.io/probe-<key> */
	PSF_ANN_HOST = 1u << 6, /* as an annotation: a DNS host name, taken
				   in lower case without a final dot */
};

struct probe_spec_field {
	const char *key;       /* YAML key; annotation gslbd.io/probe-<key> */
	const char *cache_key; /* its key in the cache file (kube/cache.c) */
	uint32_t bit;          /* PS_* */
	enum probe_spec_kind kind;
	uint32_t flags;        /* PSF_* */
	size_t off, size;      /* the field in struct probe_spec */
	size_t count_off;      /* lists: the size_t that counts the items */
	uint64_t lo, hi;       /* uint and ms: the allowed range */
	const char *const *names; /* enum, and str if only these may be */
	const char *what;      /* enum and names: the value in messages */
	uint64_t dflt;         /* enum, uint, ms, bool: built-in default */
	const char *dflt_text; /* str and lists: the built-in default as a
				  config would write it */
};

#define PROBE_SPEC_NFIELDS 17
extern const struct probe_spec_field probe_spec_fields[PROBE_SPEC_NFIELDS];

/* The row with this YAML key, or NULL. */
const struct probe_spec_field *probe_spec_field(const char *key);

/* ---- values of one setting ---- */

/*
 * Text s as the value of setting f in ps: the old value is replaced, and
 * f->bit set.  A list is comma-separated for status codes ("200-299,302",
 * spaces around each item ignored) and a single item for headers.
 * Returns 0; or -1 with a message in err (PARSE_ERRLEN) that says what
 * is wrong with the value but not where, and ps unchanged.  s may be NULL for "a value of another kind" (see parse.h).
 */
int probe_spec_parse(struct probe_spec *ps, const struct probe_spec_field *f,
		     const char *s, char *err, size_t errlen);

/* One more item (a code or range, a header) on list setting f; sets
 * f->bit.  Returns as probe_spec_parse does. */
int probe_spec_parse_item(struct probe_spec *ps,
			  const struct probe_spec_field *f, const char *s,
			  char *err, size_t errlen);

/* Whether list setting f of ps may hold what it holds: 0, or -1 with a
 * message when it is empty and may not be. */
int probe_spec_list_check(const struct probe_spec *ps,
			  const struct probe_spec_field *f, char *err,
			  size_t errlen);

/* The value of an enum, uint, ms or bool setting, and setting it (the
 * bit is left alone). */
uint64_t probe_spec_num(const struct probe_spec *ps,
			const struct probe_spec_field *f);
void probe_spec_set_num(struct probe_spec *ps,
			const struct probe_spec_field *f, uint64_t v);

/* Where a str, status or headers setting is stored, and a list's
 * count (asserting the row's kind). */
char **probe_spec_str(const struct probe_spec *ps,
		      const struct probe_spec_field *f);
struct probe_status_range **probe_spec_status(const struct probe_spec *ps,
					      const struct probe_spec_field *f);
char ***probe_spec_headers(const struct probe_spec *ps,
			   const struct probe_spec_field *f);
size_t *probe_spec_count(const struct probe_spec *ps,
			 const struct probe_spec_field *f);

/* ---- whole specs ---- */

/* Release what a probe_spec owns (not the struct); zeroes it. */
void probe_spec_clear(struct probe_spec *ps);

/* dst := the fields of src that src->set names, over what dst has; deep
 * copies. */
void probe_spec_overlay(struct probe_spec *dst, const struct probe_spec *src);

/* Fill what dst does not set with the built-in defaults. */
void probe_spec_finish(struct probe_spec *dst);

/* Deep copy. */
void probe_spec_copy(struct probe_spec *dst, const struct probe_spec *src);

/* True when two resolved specs would probe the same way: every setting
 * equal (set bits are not compared). */
bool probe_spec_equal(const struct probe_spec *a, const struct probe_spec *b);

/* A total order over the same settings: 0 exactly when equal. */
int probe_spec_cmp(const struct probe_spec *a, const struct probe_spec *b);

/* A hash of the same settings: equal specs hash equal. */
uint64_t probe_spec_hash(const struct probe_spec *ps);

/* "none", "http", "https", "tcp", as the config spells them. */
const char *probe_spec_type_name(unsigned type);

#endif
