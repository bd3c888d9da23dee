/* probe_spec.c -- see probe_spec.h. */
#include "config.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/probe_spec.h"
#include "lib/parse.h"
#include "lib/xalloc.h"

/* ---- the table ---- */

static const char *const probe_spec_types[] = { "none", "http", "https",
						"tcp", NULL };
static const char *const probe_spec_methods[] = { "GET", "HEAD", NULL };

const char *probe_spec_type_name(unsigned type)
{
	return type < PROBE_TCP + 1 ? probe_spec_types[type] : "unknown";
}

#define PS_AT(member) \
	.off = offsetof(struct probe_spec, member), \
	.size = sizeof(((struct probe_spec *)0)->member)
#define PS_LIST(member, count) \
	PS_AT(member), .count_off = offsetof(struct probe_spec, count)

/* Row i describes bit 1 << i.  The port has no fixed default: it follows
 * the type (probe_spec_finish). */
const struct probe_spec_field probe_spec_fields[PROBE_SPEC_NFIELDS] = {
	{ .key = "type", .cache_key = "type", .bit = PS_TYPE,
	  .kind = PSK_ENUM, .flags = PSF_DFLT | PSF_ANN, PS_AT(type),
	  .names = probe_spec_types, .what = "probe type",
	  .dflt = PROBE_HTTP },
	{ .key = "port", .cache_key = "port", .bit = PS_PORT,
	  .kind = PSK_UINT, .flags = PSF_ANN, PS_AT(port),
	  .lo = 1, .hi = 65535 },
	{ .key = "interval", .cache_key = "interval_ms", .bit = PS_INTERVAL,
	  .kind = PSK_MS, .flags = PSF_DFLT | PSF_ANN, PS_AT(interval_ms),
	  .lo = 1, .hi = UINT32_MAX, .dflt = PROBE_DEFAULT_INTERVAL_MS },
	{ .key = "timeout", .cache_key = "timeout_ms", .bit = PS_TIMEOUT,
	  .kind = PSK_MS, .flags = PSF_DFLT | PSF_ANN, PS_AT(timeout_ms),
	  .lo = 1, .hi = UINT32_MAX, .dflt = PROBE_DEFAULT_TIMEOUT_MS },
	{ .key = "rise", .cache_key = "rise", .bit = PS_RISE,
	  .kind = PSK_UINT, .flags = PSF_DFLT, PS_AT(rise),
	  .lo = 1, .hi = 1000, .dflt = PROBE_DEFAULT_RISE },
	{ .key = "fall", .cache_key = "fall", .bit = PS_FALL,
	  .kind = PSK_UINT, .flags = PSF_DFLT, PS_AT(fall),
	  .lo = 1, .hi = 1000, .dflt = PROBE_DEFAULT_FALL },
	{ .key = "jitter", .cache_key = "jitter_ms", .bit = PS_JITTER,
	  .kind = PSK_MS, .flags = PSF_DFLT, PS_AT(jitter_ms),
	  .lo = 0, .hi = UINT32_MAX, .dflt = PROBE_DEFAULT_JITTER_MS },
	{ .key = "method", .cache_key = "method", .bit = PS_METHOD,
	  .kind = PSK_STR, .flags = PSF_DFLT, PS_AT(method),
	  .names = probe_spec_methods, .what = "method", .dflt_text = "GET" },
	{ .key = "path", .cache_key = "path", .bit = PS_PATH,
	  .kind = PSK_STR, .flags = PSF_DFLT | PSF_WORD | PSF_SLASH | PSF_ANN,
	  PS_AT(path), .dflt_text = "/" },
	{ .key = "host", .cache_key = "host", .bit = PS_HOST,
	  .kind = PSK_STR, .flags = PSF_WORD | PSF_ANN | PSF_ANN_HOST,
	  PS_AT(host) },
	{ .key = "expect-status", .cache_key = "status", .bit = PS_STATUS,
	  .kind = PSK_STATUS, .flags = PSF_DFLT | PSF_ONE | PSF_FULL | PSF_ANN,
	  PS_LIST(status, nstatus), .dflt_text = "200-399" },
	{ .key = "expect-body", .cache_key = "body", .bit = PS_BODY,
	  .kind = PSK_STR, PS_AT(body) },
	{ .key = "headers", .cache_key = "headers", .bit = PS_HEADERS,
	  .kind = PSK_HEADERS, PS_LIST(headers, nheaders) },
	{ .key = "tls-verify", .cache_key = "tls_verify", .bit = PS_TLS_VERIFY,
	  .kind = PSK_BOOL, .flags = PSF_DFLT, PS_AT(tls_verify), .dflt = 1 },
	{ .key = "ca-file", .cache_key = "ca_file", .bit = PS_CA_FILE,
	  .kind = PSK_STR, PS_AT(ca_file) },
	{ .key = "fast-interval", .cache_key = "fast_interval_ms",
	  .bit = PS_FAST_INTERVAL, .kind = PSK_MS, .flags = PSF_DFLT | PSF_ANN,
	  PS_AT(fast_interval_ms), .lo = 10, .hi = UINT32_MAX,
	  .dflt = PROBE_DEFAULT_FAST_INTERVAL_MS },
	{ .key = "keepalive", .cache_key = "keepalive", .bit = PS_KEEPALIVE,
	  .kind = PSK_BOOL, .flags = PSF_DFLT | PSF_ANN, PS_AT(keepalive),
	  .dflt = 0 },
};

/* probe_spec_num reads numbers by width; bool is read as one byte. */
static_assert(sizeof(bool) == 1, "bool is one byte");
static_assert(sizeof(enum probe_type) == sizeof(uint32_t),
	      "enum probe_type is read as a uint32_t");
static_assert(PS_KEEPALIVE == 1u << (PROBE_SPEC_NFIELDS - 1),
	      "one row per PS_* bit");

const struct probe_spec_field *probe_spec_field(const char *key)
{
	for (size_t i = 0; i < PROBE_SPEC_NFIELDS; i++)
		if (!strcmp(probe_spec_fields[i].key, key))
			return &probe_spec_fields[i];
	return NULL;
}

/* ---- access by row ---- */

static void *probe_spec_slot(const struct probe_spec *ps,
			     const struct probe_spec_field *f)
{
	return (char *)ps + f->off;
}

char **probe_spec_str(const struct probe_spec *ps,
		      const struct probe_spec_field *f)
{
	assert(f->kind == PSK_STR);
	return probe_spec_slot(ps, f);
}

struct probe_status_range **probe_spec_status(const struct probe_spec *ps,
					      const struct probe_spec_field *f)
{
	assert(f->kind == PSK_STATUS);
	return probe_spec_slot(ps, f);
}

char ***probe_spec_headers(const struct probe_spec *ps,
			   const struct probe_spec_field *f)
{
	assert(f->kind == PSK_HEADERS);
	return probe_spec_slot(ps, f);
}

size_t *probe_spec_count(const struct probe_spec *ps,
			 const struct probe_spec_field *f)
{
	assert(f->kind == PSK_STATUS || f->kind == PSK_HEADERS);
	return (size_t *)((char *)ps + f->count_off);
}

uint64_t probe_spec_num(const struct probe_spec *ps,
			const struct probe_spec_field *f)
{
	const void *p = (const char *)ps + f->off;
	uint32_t u32;
	uint16_t u16;
	uint8_t u8;

	switch (f->size) {
	case 1: memcpy(&u8, p, 1); return u8;
	case 2: memcpy(&u16, p, 2); return u16;
	case 4: memcpy(&u32, p, 4); return u32;
	}
	assert(!"a number field is 1, 2 or 4 bytes");
	return 0;
}

void probe_spec_set_num(struct probe_spec *ps,
			const struct probe_spec_field *f, uint64_t v)
{
	void *p = (char *)ps + f->off;
	uint32_t u32 = (uint32_t)v;
	uint16_t u16 = (uint16_t)v;
	uint8_t u8 = v != 0 && f->kind == PSK_BOOL ? 1 : (uint8_t)v;

	switch (f->size) {
	case 1: memcpy(p, &u8, 1); break;
	case 2: memcpy(p, &u16, 2); break;
	case 4: memcpy(p, &u32, 4); break;
	default: assert(!"a number field is 1, 2 or 4 bytes");
	}
}

static bool probe_spec_owned(const struct probe_spec_field *f)
{
	return f->kind == PSK_STR || f->kind == PSK_STATUS ||
	       f->kind == PSK_HEADERS;
}

/* ---- one field: free, copy, move ---- */

static void probe_spec_field_free(struct probe_spec *ps,
				  const struct probe_spec_field *f)
{
	switch (f->kind) {
	case PSK_STR:
		free(*probe_spec_str(ps, f));
		*probe_spec_str(ps, f) = NULL;
		return;
	case PSK_STATUS:
		free(*probe_spec_status(ps, f));
		*probe_spec_status(ps, f) = NULL;
		break;
	case PSK_HEADERS:
		for (size_t i = 0; i < *probe_spec_count(ps, f); i++)
			free((*probe_spec_headers(ps, f))[i]);
		free(*probe_spec_headers(ps, f));
		*probe_spec_headers(ps, f) = NULL;
		break;
	default:
		return;
	}
	*probe_spec_count(ps, f) = 0;
}

/* Field f of src into dst, where dst holds nothing of its own. */
static void probe_spec_field_dup(struct probe_spec *dst,
				 const struct probe_spec *src,
				 const struct probe_spec_field *f)
{
	size_t n = 0;

	switch (f->kind) {
	case PSK_STR:
		if (*probe_spec_str(src, f))
			*probe_spec_str(dst, f) = xstrdup(*probe_spec_str(src, f));
		return;
	case PSK_STATUS:
		n = *probe_spec_count(src, f);
		if (n) {
			*probe_spec_status(dst, f) = xreallocarray(NULL, n,
				sizeof(struct probe_status_range));
			memcpy(*probe_spec_status(dst, f),
			       *probe_spec_status(src, f),
			       n * sizeof(struct probe_status_range));
		}
		*probe_spec_count(dst, f) = n;
		return;
	case PSK_HEADERS:
		n = *probe_spec_count(src, f);
		if (n)
			*probe_spec_headers(dst, f) = xcalloc(n, sizeof(char *));
		for (size_t i = 0; i < n; i++) {
			(*probe_spec_headers(dst, f))[i] =
				xstrdup((*probe_spec_headers(src, f))[i]);
			(*probe_spec_count(dst, f))++;
		}
		return;
	default:
		memcpy(probe_spec_slot(dst, f), probe_spec_slot(src, f),
		       f->size);
		return;
	}
}

/* Field f moves from src to dst; what dst had is freed. */
static void probe_spec_field_move(struct probe_spec *dst,
				  struct probe_spec *src,
				  const struct probe_spec_field *f)
{
	probe_spec_field_free(dst, f);
	memcpy(probe_spec_slot(dst, f), probe_spec_slot(src, f), f->size);
	memset(probe_spec_slot(src, f), 0, f->size);
	if (f->kind == PSK_STATUS || f->kind == PSK_HEADERS) {
		*probe_spec_count(dst, f) = *probe_spec_count(src, f);
		*probe_spec_count(src, f) = 0;
	}
}

/* ---- values ---- */

/* "200" or "200-399": codes 100-599, low first. */
static int probe_spec_status_one(const char *s, struct probe_status_range *r)
{
	const char *dash = strchr(s, '-');
	char lo[8];
	uint64_t a, b;

	if (dash) {
		if ((size_t)(dash - s) >= sizeof(lo))
			return -1;
		memcpy(lo, s, (size_t)(dash - s));
		lo[dash - s] = '\0';
		if (parse_u64(lo, &a) || parse_u64(dash + 1, &b))
			return -1;
	} else if (parse_u64(s, &a)) {
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

/* "Name: value": a name without spaces, then a colon. */
static bool probe_spec_header_ok(const char *s)
{
	const char *colon = strchr(s, ':');

	return colon && colon != s && !parse_has_ctl(s, true) &&
	       !memchr(s, ' ', (size_t)(colon - s));
}

/* The checks a string setting's row asks for. */
static int probe_spec_str_ok(const struct probe_spec_field *f, const char *s,
			     const char **val, char *err, size_t errlen)
{
	int i;

	*val = s;
	if (f->names) {
		if (parse_enum(s, f->names, f->what, &i, err, errlen) < 0)
			return -1;
		*val = f->names[i];
	}
	if (!*s) {
		snprintf(err, errlen, "empty string");
		return -1;
	}
	if ((f->flags & PSF_WORD) && parse_has_ctl(s, false)) {
		snprintf(err, errlen, "spaces or control characters in '%s'",
			 s);
		return -1;
	}
	if ((f->flags & PSF_SLASH) && s[0] != '/') {
		snprintf(err, errlen, "'%s' must start with '/'", s);
		return -1;
	}
	return 0;
}

int probe_spec_parse_item(struct probe_spec *ps,
			  const struct probe_spec_field *f, const char *s,
			  char *err, size_t errlen)
{
	size_t *n = probe_spec_count(ps, f);
	struct probe_status_range r, *rs;
	char *h, **hs;

	if (!s) {
		snprintf(err, errlen, "expected a string");
		return -1;
	}
	if (f->kind == PSK_STATUS) {
		if (probe_spec_status_one(s, &r) < 0) {
			snprintf(err, errlen, "bad status '%s' (a code 100-599 "
				 "or a range like 200-399)", s);
			return -1;
		}
		rs = xreallocarray(*probe_spec_status(ps, f), *n + 1, sizeof(r));
		rs[(*n)++] = r;
		*probe_spec_status(ps, f) = rs;
	} else {
		if (!probe_spec_header_ok(s)) {
			snprintf(err, errlen, "bad header '%s' (\"Name: "
				 "value\")", s);
			return -1;
		}
		hs = xreallocarray(*probe_spec_headers(ps, f), *n + 1,
				   sizeof(h));
		*probe_spec_headers(ps, f) = hs;
		hs[(*n)++] = xstrdup(s);
	}
	ps->set |= f->bit;
	return 0;
}

int probe_spec_list_check(const struct probe_spec *ps,
			  const struct probe_spec_field *f, char *err,
			  size_t errlen)
{
	if ((f->flags & PSF_FULL) && !*probe_spec_count(ps, f)) {
		snprintf(err, errlen, "empty list (omit the key for %s)",
			 f->dflt_text);
		return -1;
	}
	return 0;
}

/* "200, 301-302": items between commas, spaces around them ignored (and
 * empty ones skipped, as strtok did). */
static int probe_spec_parse_list(struct probe_spec *ps,
				 const struct probe_spec_field *f,
				 const char *s, char *err, size_t errlen)
{
	char item[64];

	if (f->kind == PSK_HEADERS) /* a comma may be inside a header */
		return probe_spec_parse_item(ps, f, s, err, errlen);
	while (*s) {
		size_t len = strcspn(s, ",");
		const char *b = s, *e = s + len;
		int rc;

		s = *e ? e + 1 : e;
		if (!len)
			continue;
		while (b < e && *b == ' ')
			b++;
		while (e > b && e[-1] == ' ')
			e--;
		snprintf(item, sizeof(item), "%.*s", (int)(e - b), b);
		if ((size_t)(e - b) >= sizeof(item))
			memcpy(item + sizeof(item) - 4, "...", 4);
		if ((rc = probe_spec_parse_item(ps, f, item, err, errlen)))
			return rc;
	}
	return probe_spec_list_check(ps, f, err, errlen);
}

/* Text s into field f of a zeroed spec. */
static int probe_spec_parse_into(struct probe_spec *ps,
				 const struct probe_spec_field *f,
				 const char *s, char *err, size_t errlen)
{
	uint64_t v;
	bool b;
	int i;

	if (!s && probe_spec_owned(f)) {
		snprintf(err, errlen, "expected a string");
		return -1;
	}
	switch (f->kind) {
	case PSK_ENUM:
		if (parse_enum(s, f->names, f->what, &i, err, errlen) < 0)
			return -1;
		v = (uint64_t)i;
		break;
	case PSK_UINT:
		if (parse_uint(s, f->lo, f->hi, &v, err, errlen) < 0)
			return -1;
		break;
	case PSK_MS:
		if (parse_ms(s, f->lo, f->hi, &v, err, errlen) < 0)
			return -1;
		break;
	case PSK_BOOL:
		if (parse_bool(s, &b, err, errlen) < 0)
			return -1;
		v = b;
		break;
	case PSK_STR: {
		const char *val;
		if (probe_spec_str_ok(f, s, &val, err, errlen) < 0)
			return -1;
		*probe_spec_str(ps, f) = xstrdup(val);
		return 0;
	}
	default:
		return probe_spec_parse_list(ps, f, s, err, errlen);
	}
	probe_spec_set_num(ps, f, v);
	return 0;
}

int probe_spec_parse(struct probe_spec *ps, const struct probe_spec_field *f,
		     const char *s, char *err, size_t errlen)
{
	struct probe_spec tmp = { 0 };
	int rc = probe_spec_parse_into(&tmp, f, s, err, errlen);

	if (rc == 0) {
		probe_spec_field_move(ps, &tmp, f);
		ps->set |= f->bit;
	}
	probe_spec_clear(&tmp);
	return rc;
}

/* ---- whole specs ---- */

void probe_spec_clear(struct probe_spec *ps)
{
	if (!ps)
		return;
	for (size_t i = 0; i < PROBE_SPEC_NFIELDS; i++)
		probe_spec_field_free(ps, &probe_spec_fields[i]);
	memset(ps, 0, sizeof(*ps));
}

/* The fields of src named by mask, deep-copied into a zeroed spec. */
static void probe_spec_stage(struct probe_spec *st,
			     const struct probe_spec *src, uint32_t mask)
{
	memset(st, 0, sizeof(*st));
	for (size_t i = 0; i < PROBE_SPEC_NFIELDS; i++)
		if (mask & probe_spec_fields[i].bit)
			probe_spec_field_dup(st, src, &probe_spec_fields[i]);
}

void probe_spec_overlay(struct probe_spec *dst, const struct probe_spec *src)
{
	struct probe_spec st;

	probe_spec_stage(&st, src, src->set);
	for (size_t i = 0; i < PROBE_SPEC_NFIELDS; i++)
		if (src->set & probe_spec_fields[i].bit)
			probe_spec_field_move(dst, &st, &probe_spec_fields[i]);
	dst->set |= src->set;
}

void probe_spec_copy(struct probe_spec *dst, const struct probe_spec *src)
{
	probe_spec_stage(dst, src, UINT32_MAX);
	dst->set = src->set;
}

/*
 * Defaults are filled from the explicit bits, not from what the fields
 * hold, so finishing twice (or after a later overlay) gives the same
 * answer: e.g. the port follows a type that an overlay changed.
 */
void probe_spec_finish(struct probe_spec *dst)
{
	char err[PARSE_ERRLEN];

	for (size_t i = 0; i < PROBE_SPEC_NFIELDS; i++) {
		const struct probe_spec_field *f = &probe_spec_fields[i];
		uint32_t set = dst->set;
		int rc;

		if ((dst->set & f->bit) || !(f->flags & PSF_DFLT))
			continue;
		if (!probe_spec_owned(f)) {
			probe_spec_set_num(dst, f, f->dflt);
			continue;
		}
		if (f->kind == PSK_STR && *probe_spec_str(dst, f) &&
		    !strcmp(*probe_spec_str(dst, f), f->dflt_text))
			continue;
		rc = probe_spec_parse(dst, f, f->dflt_text, err, sizeof(err));
		assert(rc == 0 && "a built-in default parses");
		(void)rc;
		dst->set = set; /* a default is not given */
	}
	if (!(dst->set & PS_PORT))
		dst->port = dst->type == PROBE_HTTP ? 80 :
			    dst->type == PROBE_HTTPS ? 443 : 0;
}

/* ---- comparing and hashing ---- */

static int probe_spec_strcmp(const char *a, const char *b)
{
	if (!a || !b)
		return (a != NULL) - (b != NULL);
	return strcmp(a, b);
}

#define PS_CMP(a, b) (((a) > (b)) - ((a) < (b)))

/* Lists: item by item, then the shorter first. */
static int probe_spec_field_cmp(const struct probe_spec *a,
				const struct probe_spec *b,
				const struct probe_spec_field *f)
{
	size_t na, nb;
	int c = 0;

	if (!probe_spec_owned(f))
		return PS_CMP(probe_spec_num(a, f), probe_spec_num(b, f));
	if (f->kind == PSK_STR)
		return probe_spec_strcmp(*probe_spec_str(a, f),
					 *probe_spec_str(b, f));
	na = *probe_spec_count(a, f);
	nb = *probe_spec_count(b, f);
	for (size_t i = 0; !c && i < na && i < nb; i++) {
		if (f->kind == PSK_STATUS) {
			const struct probe_status_range *x =
				&(*probe_spec_status(a, f))[i];
			const struct probe_status_range *y =
				&(*probe_spec_status(b, f))[i];
			c = x->lo != y->lo ? PS_CMP(x->lo, y->lo) :
			    PS_CMP(x->hi, y->hi);
		} else {
			c = strcmp((*probe_spec_headers(a, f))[i],
				   (*probe_spec_headers(b, f))[i]);
		}
	}
	return c ? c : PS_CMP(na, nb);
}

int probe_spec_cmp(const struct probe_spec *a, const struct probe_spec *b)
{
	for (size_t i = 0; i < PROBE_SPEC_NFIELDS; i++) {
		int c = probe_spec_field_cmp(a, b, &probe_spec_fields[i]);
		if (c)
			return c < 0 ? -1 : 1;
	}
	return 0;
}

bool probe_spec_equal(const struct probe_spec *a, const struct probe_spec *b)
{
	return probe_spec_cmp(a, b) == 0;
}

/* FNV-1a, 64 bits. */
static uint64_t probe_spec_mix(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * 0x100000001b3ull;
	return h;
}

static uint64_t probe_spec_mix_u64(uint64_t h, uint64_t v)
{
	unsigned char b[8];

	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(v >> (8 * i));
	return probe_spec_mix(h, b, sizeof(b));
}

/* A string with its terminator, so "ab","c" and "a","bc" differ; NULL
 * apart from "". */
static uint64_t probe_spec_mix_str(uint64_t h, const char *s)
{
	h = probe_spec_mix_u64(h, s != NULL);
	return s ? probe_spec_mix(h, s, strlen(s) + 1) : h;
}

uint64_t probe_spec_hash(const struct probe_spec *ps)
{
	uint64_t h = 0xcbf29ce484222325ull;

	for (size_t i = 0; i < PROBE_SPEC_NFIELDS; i++) {
		const struct probe_spec_field *f = &probe_spec_fields[i];
		size_t n;

		if (!probe_spec_owned(f)) {
			h = probe_spec_mix_u64(h, probe_spec_num(ps, f));
			continue;
		}
		if (f->kind == PSK_STR) {
			h = probe_spec_mix_str(h, *probe_spec_str(ps, f));
			continue;
		}
		n = *probe_spec_count(ps, f);
		h = probe_spec_mix_u64(h, n);
		for (size_t j = 0; j < n; j++) {
			if (f->kind == PSK_STATUS) {
				const struct probe_status_range *r =
					&(*probe_spec_status(ps, f))[j];
				h = probe_spec_mix_u64(h, (uint64_t)r->lo << 16 |
						       r->hi);
			} else {
				h = probe_spec_mix_str(h,
					(*probe_spec_headers(ps, f))[j]);
			}
		}
	}
	return h;
}
