/* zonefile.c -- see zonefile.h. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "config/zonefile.h"
#include "lib/readfile.h"
#include "lib/xalloc.h"

/* A record and the line it ended on, for errors found after reading. */
struct zonefile_ent {
	ldns_rr *rr;
	int line;
};

struct zonefile_ctx {
	const char *path;
	char *err;
	size_t errlen;
	ldns_rdf *apex;
	struct zonefile_ent *ents;
	size_t n, cap;
};

static void zonefile_err(struct zonefile_ctx *z, int line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void zonefile_err(struct zonefile_ctx *z, int line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	snprintf(z->err, z->errlen, "%s:%d:1: %s", z->path, line, msg);
}

/* The owner as text for messages. */
static void zonefile_owner_str(const ldns_rr *rr, char *buf, size_t len)
{
	char *s = ldns_rdf2str(ldns_rr_owner(rr));

	if (!s)
		xalloc_die(ldns_rdf_size(ldns_rr_owner(rr)));
	snprintf(buf, len, "%s", s);
	free(s);
}

static void zonefile_push(struct zonefile_ctx *z, ldns_rr *rr, int line)
{
	if (z->n == z->cap) {
		z->cap = z->cap ? z->cap * 2 : 64;
		z->ents = xreallocarray(z->ents, z->cap, sizeof(*z->ents));
	}
	z->ents[z->n].rr = rr;
	z->ents[z->n].line = line;
	z->n++;
}

/* Checks one record can stand in the zone.  Returns 0 or -1 (err set). */
static int zonefile_check_rr(struct zonefile_ctx *z, ldns_rr *rr, int line)
{
	ldns_rdf *owner = ldns_rr_owner(rr);
	char name[LDNS_MAX_DOMAINLEN + 16];
	bool at_apex;

	ldns_dname2canonical(owner);
	zonefile_owner_str(rr, name, sizeof(name));
	if (ldns_rr_get_class(rr) != LDNS_RR_CLASS_IN) {
		zonefile_err(z, line, "%s: only class IN is served", name);
		return -1;
	}
	at_apex = ldns_dname_compare(owner, z->apex) == 0;
	if (!at_apex && !ldns_dname_is_subdomain(owner, z->apex)) {
		char *apex = ldns_rdf2str(z->apex);
		zonefile_err(z, line, "%s is outside the zone %s", name,
			     apex ? apex : "?");
		free(apex);
		return -1;
	}
	if (ldns_dname_is_wildcard(owner)) {
		/* Served literally, "*" would answer only queries for "*":
		 * refusing it is better than silently not expanding it. */
		zonefile_err(z, line, "%s: wildcard records are not supported",
			     name);
		return -1;
	}
	if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_SOA) {
		zonefile_err(z, line, "%s: SOA records come from the config "
			     "(zone.soa), not the zone file", name);
		return -1;
	}
	if (at_apex && ldns_rr_get_type(rr) == LDNS_RR_TYPE_NS) {
		zonefile_err(z, line, "%s: NS records at the apex come from the "
			     "config (zone.nameservers), not the zone file",
			     name);
		return -1;
	}
	return 0;
}

static int zonefile_ent_cmp(const void *pa, const void *pb)
{
	const struct zonefile_ent *a = pa, *b = pb;
	int c = ldns_dname_compare(ldns_rr_owner(a->rr), ldns_rr_owner(b->rr));

	if (c)
		return c;
	return (a->line > b->line) - (a->line < b->line);
}

/*
 * RFC 1034 3.6.2: a CNAME owner has no other data.  Sorting a copy by
 * owner (then line) makes this one pass; the error names the record
 * that made the name conflict, the second in file order.
 */
static int zonefile_check_cname(struct zonefile_ctx *z)
{
	struct zonefile_ent *s;
	size_t i = 0;

	if (z->n < 2)
		return 0;
	s = xreallocarray(NULL, z->n, sizeof(*s));
	memcpy(s, z->ents, z->n * sizeof(*s));
	qsort(s, z->n, sizeof(*s), zonefile_ent_cmp);
	while (i < z->n) {
		size_t j = i, nrel = 0, ncname = 0;
		int second = 0;

		for (; j < z->n && ldns_dname_compare(ldns_rr_owner(s[i].rr),
				ldns_rr_owner(s[j].rr)) == 0; j++) {
			ldns_rr_type t = ldns_rr_get_type(s[j].rr);
			/* DNSSEC records may sit beside a CNAME. */
			if (t == LDNS_RR_TYPE_RRSIG || t == LDNS_RR_TYPE_NSEC)
				continue;
			if (++nrel == 2)
				second = s[j].line;
			if (t == LDNS_RR_TYPE_CNAME)
				ncname++;
		}
		if (ncname && nrel > 1) {
			char name[LDNS_MAX_DOMAINLEN + 16];
			zonefile_owner_str(s[i].rr, name, sizeof(name));
			zonefile_err(z, second, ncname > 1 ?
				     "%s: more than one CNAME" :
				     "%s: CNAME beside other data "
				     "(RFC 1034 3.6.2)", name);
			free(s);
			return -1;
		}
		i = j;
	}
	free(s);
	return 0;
}

/* What one owner name holds, for the checks across records. */
struct zonefile_owner {
	size_t nds, nns, ndname, ncname, nother;
	int ds_line, dname_line, second_dname;
};

static void zonefile_owner_scan(const struct zonefile_ent *s, size_t i,
				size_t j, struct zonefile_owner *o)
{
	memset(o, 0, sizeof(*o));
	for (size_t k = i; k < j; k++) {
		switch (ldns_rr_get_type(s[k].rr)) {
		case LDNS_RR_TYPE_DS:
			if (!o->nds++)
				o->ds_line = s[k].line;
			break;
		case LDNS_RR_TYPE_NS:
			o->nns++;
			break;
		case LDNS_RR_TYPE_DNAME:
			if (!o->ndname++)
				o->dname_line = s[k].line;
			else if (!o->second_dname)
				o->second_dname = s[k].line;
			break;
		case LDNS_RR_TYPE_CNAME:
			o->ncname++;
			break;
		default:
			o->nother++;
			break;
		}
	}
}

/* The rules of one owner; dname: the last DNAME owner seen in canonical
 * order, whose descendants follow it directly.  Returns 0 or -1. */
static int zonefile_check_owner(struct zonefile_ctx *z,
				const struct zonefile_ent *s, size_t i,
				size_t j, const ldns_rdf **dname)
{
	const ldns_rdf *owner = ldns_rr_owner(s[i].rr);
	bool apex = ldns_dname_compare(owner, z->apex) == 0;
	char name[LDNS_MAX_DOMAINLEN + 16];
	struct zonefile_owner o;

	zonefile_owner_scan(s, i, j, &o);
	zonefile_owner_str(s[i].rr, name, sizeof(name));
	if (*dname && ldns_dname_is_subdomain(owner, *dname)) {
		char *d = ldns_rdf2str(*dname);
		zonefile_err(z, s[i].line, "%s: below the DNAME at %s, where no "
			     "name may exist (RFC 6672 2.4)", name, d ? d : "?");
		free(d);
		return -1;
	}
	if (o.nds && (apex || !o.nns)) {
		zonefile_err(z, o.ds_line, apex ?
			     "%s: a DS at the apex belongs in the parent zone" :
			     "%s: a DS belongs at a delegation (NS records at "
			     "the same name, RFC 4035 2.4)", name);
		return -1;
	}
	if (!o.ndname)
		return 0;
	if (o.second_dname) {
		zonefile_err(z, o.second_dname, "%s: more than one DNAME", name);
		return -1;
	}
	if (o.ncname || (!apex && o.nns)) {
		zonefile_err(z, o.dname_line, o.ncname ?
			     "%s: DNAME beside a CNAME (RFC 6672 2.4)" :
			     "%s: DNAME at a delegation", name);
		return -1;
	}
	*dname = owner;
	return 0;
}

/*
 * DS only at a delegation, DNAME alone of its kind and with nothing
 * below it: one pass over a copy sorted in canonical order, where a
 * name's descendants come right after it.
 */
static int zonefile_check_owners(struct zonefile_ctx *z)
{
	const ldns_rdf *dname = NULL;
	struct zonefile_ent *s;
	size_t i = 0;
	int rc = 0;

	if (!z->n)
		return 0;
	s = xreallocarray(NULL, z->n, sizeof(*s));
	memcpy(s, z->ents, z->n * sizeof(*s));
	qsort(s, z->n, sizeof(*s), zonefile_ent_cmp);
	while (i < z->n && rc == 0) {
		size_t j = i;
		while (j < z->n && ldns_dname_compare(ldns_rr_owner(s[i].rr),
				ldns_rr_owner(s[j].rr)) == 0)
			j++;
		rc = zonefile_check_owner(z, s, i, j, &dname);
		i = j;
	}
	free(s);
	return rc;
}

/* Reads every record; returns 0 or -1 with err set. */
static int zonefile_read(struct zonefile_ctx *z, FILE *fp, bool ends_nl,
			 uint32_t ttl)
{
	ldns_rdf *origin = ldns_rdf_clone(z->apex);
	ldns_rdf *prev = ldns_rdf_clone(z->apex);
	int line = 1, rc = -1;

	if (!origin || !prev)
		xalloc_die(ldns_rdf_size(z->apex));
	/* fp reads memory, so it cannot fail; were it to, ldns would answer
	 * SYNTAX_EMPTY for ever, hence the ferror() test. */
	while (!feof(fp) && !ferror(fp)) {
		ldns_rr *rr = NULL;
		ldns_status s = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &origin,
						     &prev, &line);
		/*
		 * ldns counts the newline that ended the record; at the end
		 * of the file there is one only if the file ends with one.
		 */
		int at = feof(fp) && !ends_nl ? line : line - 1;

		/* ldns reads "$ORIGIN sub" as "sub.": the zone check on
		 * each record is what catches an $ORIGIN outside the zone. */
		if (s == LDNS_STATUS_SYNTAX_EMPTY ||
		    s == LDNS_STATUS_SYNTAX_TTL ||
		    s == LDNS_STATUS_SYNTAX_ORIGIN)
			continue;
		if (s == LDNS_STATUS_SYNTAX_INCLUDE) {
			zonefile_err(z, at, "$INCLUDE is not supported");
			goto out;
		}
		if (s != LDNS_STATUS_OK) {
			zonefile_err(z, at, "%s", ldns_get_errorstr_by_id(s));
			goto out;
		}
		if (zonefile_check_rr(z, rr, at) < 0) {
			ldns_rr_free(rr);
			goto out;
		}
		zonefile_push(z, rr, at);
	}
	if (ferror(fp)) {
		zonefile_err(z, line, "read error");
		goto out;
	}
	rc = zonefile_check_cname(z);
	if (rc == 0)
		rc = zonefile_check_owners(z);
out:
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	return rc;
}

int zonefile_load(const char *path, const char *apex, uint32_t default_ttl,
		  struct ldns_struct_rr_list **out, char *err, size_t errlen)
{
	struct zonefile_ctx z = {
		.path = path, .err = err, .errlen = errlen,
	};
	ldns_rr_list *list = NULL;
	struct readfile_pos pos;
	char why[256], *text;
	size_t len;
	FILE *fp;
	int rc = -1;

	*out = NULL;
	if (errlen)
		err[0] = '\0';
	z.apex = ldns_dname_new_frm_str(apex);
	if (!z.apex) {
		snprintf(err, errlen, "bad zone apex '%s'", apex);
		return -2;
	}
	ldns_dname2canonical(z.apex);
	text = readfile_text(path, READFILE_MAX, &len, &pos, why, sizeof(why));
	if (!text && pos.line) {
		/* Something in the text (a NUL byte): a place in the file. */
		snprintf(err, errlen, "%s:%u:%u: %s", path, pos.line, pos.col,
			 why);
		ldns_rdf_deep_free(z.apex);
		return -1;
	}
	if (!text) {
		snprintf(err, errlen, "cannot read zone file '%s': %s", path,
			 why);
		ldns_rdf_deep_free(z.apex);
		return -2;
	}
	/* An empty stream: fmemopen may refuse a zero size. */
	fp = fmemopen(len ? text : (char *)"\n", len ? len : 1, "r");
	if (!fp) {
		snprintf(err, errlen, "cannot read zone file '%s': %s", path,
			 strerror(errno));
		free(text);
		ldns_rdf_deep_free(z.apex);
		return -2;
	}
	if (zonefile_read(&z, fp, !len || text[len - 1] == '\n',
			  default_ttl) == 0) {
		if (!(list = ldns_rr_list_new()))
			xalloc_die(sizeof(ldns_rr_list));
		for (size_t i = 0; i < z.n; i++) {
			if (!ldns_rr_list_push_rr(list, z.ents[i].rr))
				xalloc_die(z.n * sizeof(ldns_rr *));
			z.ents[i].rr = NULL; /* the list owns it now */
		}
		*out = list;
		rc = 0;
	}
	for (size_t i = 0; i < z.n; i++)
		ldns_rr_free(z.ents[i].rr);
	free(z.ents);
	fclose(fp);
	free(text);
	ldns_rdf_deep_free(z.apex);
	return rc;
}
