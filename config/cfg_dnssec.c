/* cfg_dnssec.c -- the `dnssec:` section: BIND key files read with ldns
 * once at load, so that signing never opens a file (cfg_int.h). */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <ldns/ldns.h>
#include <yaml.h>

#include "config/cfg_int.h"
#include "lib/parse.h"
#include "lib/xalloc.h"

#define DNSSEC_VALIDITY_DEFAULT (14u * 86400u)
#define DNSSEC_VALIDITY_MIN     86400u
#define DNSSEC_ONLINE_RATE_DEFAULT 2000u

/* "dir/Kexample.+013+12345" from what was written, with or without its
 * .key / .private suffix, relative to the config file's directory. */
static char *key_base(struct cfg_ctx *c, const char *s)
{
	size_t n = strlen(s);
	char *out;

	if (n > 4 && !strcmp(s + n - 4, ".key"))
		n -= 4;
	else if (n > 8 && !strcmp(s + n - 8, ".private"))
		n -= 8;
	if (s[0] == '/')
		return xstrndup(s, n);
	if (asprintf(&out, "%s/%.*s", c->dir, (int)n, s) < 0)
		xalloc_die(n);
	return out;
}

/* The DNSKEY in base.key: the first DNSKEY record, comments skipped. */
static ldns_rr *read_dnskey(const char *path, char *err, size_t errlen)
{
	FILE *fp = fopen(path, "r");
	ldns_rr *rr = NULL;
	uint32_t ttl = 3600;
	ldns_rdf *origin = NULL, *prev = NULL;
	int line = 0;

	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	while (!feof(fp)) {
		ldns_status st = ldns_rr_new_frm_fp_l(&rr, fp, &ttl, &origin,
						      &prev, &line);
		if (st == LDNS_STATUS_SYNTAX_EMPTY ||
		    st == LDNS_STATUS_SYNTAX_TTL ||
		    st == LDNS_STATUS_SYNTAX_ORIGIN)
			continue;
		if (st != LDNS_STATUS_OK) {
			snprintf(err, errlen, "%s:%d: %s", path, line,
				 ldns_get_errorstr_by_id(st));
			rr = NULL;
			break;
		}
		if (ldns_rr_get_type(rr) == LDNS_RR_TYPE_DNSKEY &&
		    ldns_rr_rd_count(rr) == 4)
			break;
		ldns_rr_free(rr);
		rr = NULL;
	}
	fclose(fp);
	ldns_rdf_deep_free(origin);
	ldns_rdf_deep_free(prev);
	if (!rr && !*err)
		snprintf(err, errlen, "%s: no DNSKEY record", path);
	return rr;
}

/* The private key in base.private, refused when others may read it. */
static ldns_key *read_private(const char *path, char *err, size_t errlen)
{
	struct stat st;
	ldns_key *k = NULL;
	FILE *fp = fopen(path, "r");

	if (!fp) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(fp), &st) < 0 || (st.st_mode & 077)) {
		snprintf(err, errlen, "%s: readable by group or others (mode "
			 "%04o); chmod 600 it", path,
			 (unsigned)(st.st_mode & 07777));
		fclose(fp);
		return NULL;
	}
	ldns_status s = ldns_key_new_frm_fp(&k, fp);
	fclose(fp);
	if (s != LDNS_STATUS_OK) {
		snprintf(err, errlen, "%s: %s", path, ldns_get_errorstr_by_id(s));
		return NULL;
	}
	return k;
}

/* "Publish: 20240101000000" and its kin, as dnssec-keygen writes them
 * into the .private file (UTC). */
static int key_times(const char *path, struct model_key_time *t,
		     char *err, size_t errlen)
{
	static const char *const names[] = {
		"Publish", "Activate", "Inactive", "Delete",
	};
	int64_t *field[] = { &t->publish, &t->activate, &t->inactive,
			     &t->delete_ };
	FILE *fp = fopen(path, "r");
	char line[512];

	memset(t, 0, sizeof(*t));
	if (!fp)
		return 0; /* already reported by the key reader */
	while (fgets(line, sizeof(line), fp)) {
		for (size_t i = 0; i < 4; i++) {
			size_t n = strlen(names[i]);
			struct tm tm = { 0 };
			if (strncmp(line, names[i], n) || line[n] != ':')
				continue;
			const char *v = line + n + 1;
			while (*v == ' ' || *v == '\t')
				v++;
			char *end = strptime(v, "%Y%m%d%H%M%S", &tm);
			if (!end || (*end && *end != '\n' && *end != ' ')) {
				snprintf(err, errlen, "%s: %s: not a time "
					 "YYYYMMDDHHMMSS", path, names[i]);
				fclose(fp);
				return -1;
			}
			*field[i] = (int64_t)timegm(&tm);
		}
	}
	fclose(fp);
	return 0;
}

/* Does the private key give the public key in the DNSKEY? */
static bool key_matches(ldns_key *k, const ldns_rr *dnskey)
{
	ldns_rr *pub = ldns_key2rr(k);
	bool same = pub && ldns_rr_rd_count(pub) == 4 &&
		ldns_rdf_compare(ldns_rr_rdf(pub, 3), ldns_rr_rdf(dnskey, 3)) == 0;

	ldns_rr_free(pub);
	return same;
}

/* One key pair; on success it is in d->keys and d->dnskeys. */
static int load_key(struct cfg_ctx *c, struct model_dnssec *d,
		    const char *base, char *err, size_t errlen)
{
	size_t n = strlen(base) + sizeof(".private");
	char *path = xmalloc(n);
	ldns_key *k = NULL;
	int rc = -1;

	snprintf(path, n, "%s.key", base);
	ldns_rr *rr = read_dnskey(path, err, errlen);
	if (!rr)
		goto out;
	ldns_dname2canonical(ldns_rr_owner(rr));
	uint16_t flags = ldns_rdf2native_int16(ldns_rr_rdf(rr, 0));
	uint8_t alg = ldns_rdf2native_int8(ldns_rr_rdf(rr, 2));
	if (ldns_dname_compare(ldns_rr_owner(rr), c->apex) != 0) {
		snprintf(err, errlen, "%s: the key's owner is not the zone "
			 "apex %s", path, c->m->zone.apex);
		goto out;
	}
	if (alg != LDNS_ECDSAP256SHA256 && alg != LDNS_ED25519) {
		snprintf(err, errlen, "%s: algorithm %u is not supported "
			 "(13 ECDSAP256SHA256 or 15 ED25519)", path, alg);
		goto out;
	}
	if (flags != 256 && flags != 257) {
		snprintf(err, errlen, "%s: flags %u (256 for a ZSK, 257 for "
			 "a KSK or CSK)", path, flags);
		goto out;
	}
	snprintf(path, n, "%s.private", base);
	if (!(k = read_private(path, err, errlen)))
		goto out;
	if ((uint8_t)ldns_key_algorithm(k) != alg || !key_matches(k, rr)) {
		snprintf(err, errlen, "%s: does not match %s.key", path, base);
		goto out;
	}
	d->times = xreallocarray(d->times, ldns_key_list_key_count(d->keys) + 1,
				 sizeof(*d->times));
	if (key_times(path, &d->times[ldns_key_list_key_count(d->keys)], err,
		      errlen) < 0)
		goto out;
	ldns_key_set_flags(k, flags);
	ldns_rdf *owner = ldns_rdf_clone(c->apex);
	if (!owner)
		xalloc_die(ldns_rdf_size(c->apex));
	ldns_key_set_pubkey_owner(k, owner);
	ldns_key_set_keytag(k, ldns_calc_keytag(rr));
	ldns_rr_set_ttl(rr, c->m->zone.ttl);
	if (!ldns_key_list_push_key(d->keys, k) ||
	    !ldns_rr_list_push_rr(d->dnskeys, rr))
		xalloc_die(sizeof(k));
	k = NULL;
	rr = NULL;
	rc = 0;
out:
	if (k)
		ldns_key_deep_free(k);
	ldns_rr_free(rr);
	free(path);
	return rc;
}

/* Which key signs what: KSKs (257) the DNSKEY RRset and ZSKs (256) the
 * rest; keys of one kind only are CSKs and sign everything. */
static void key_roles(struct model_dnssec *d)
{
	/* Timing decides, per build, which of these publish and sign
	 * (server/sign.c); the roles are by flags alone. */
	uint32_t k257 = 0, k256 = 0;

	for (size_t i = 0; i < ldns_key_list_key_count(d->keys); i++) {
		if (ldns_key_flags(ldns_key_list_key(d->keys, i)) == 257)
			k257 |= 1u << i;
		else
			k256 |= 1u << i;
	}
	d->ksk_mask = k257 ? k257 : k256;
	d->zsk_mask = k256 ? k256 : k257;
}

static uint32_t max_ttl(const struct model *m)
{
	uint32_t t = m->zone.ttl;
	const ldns_rr_list *st = m->zone.static_rrs;

	for (size_t i = 0; i < m->nsvcs; i++)
		if (m->svcs[i].ttl > t)
			t = m->svcs[i].ttl;
	if (m->kube.enabled && m->kube.ttl > t)
		t = m->kube.ttl;
	for (size_t i = 0; st && i < ldns_rr_list_rr_count(st); i++)
		if (ldns_rr_ttl(ldns_rr_list_rr(st, i)) > t)
			t = ldns_rr_ttl(ldns_rr_list_rr(st, i));
	return t;
}

static void cfg_dnssec_validity(struct cfg_ctx *c, const yaml_node_t *n,
				struct model_dnssec *d)
{
	const yaml_node_t *v = NULL;
	uint64_t ms;

	d->validity = DNSSEC_VALIDITY_DEFAULT;
	if (cfg_opt_ms(c, n, "dnssec", "signature-validity", 1000, UINT64_MAX,
		       &ms, &v) != 1)
		return;
	if (ms / 1000 > UINT32_MAX / 2) {
		cfg_error(c, v, "dnssec.signature-validity: too long");
		return;
	}
	d->validity = (uint32_t)(ms / 1000);
	uint32_t ttl = max_ttl(c->m);
	if (d->validity < DNSSEC_VALIDITY_MIN)
		cfg_error(c, v, "dnssec.signature-validity: %u s is under one "
			  "day", d->validity);
	else if ((uint64_t)d->validity < 2ull * ttl)
		cfg_error(c, v, "dnssec.signature-validity: %u s is under "
			  "twice the largest TTL (%u s)", d->validity, ttl);
}

/* A configuration must be able to sign now: an active key for each
 * role.  (Later timing events are the daemon's to follow.) */
static void cfg_dnssec_active(struct cfg_ctx *c, const yaml_node_t *kl,
			      struct model_dnssec *d)
{
	time_t now = time(NULL);
	bool ksk = false, zsk = false;

	for (size_t i = 0; i < d->nkeys; i++) {
		const struct model_key_time *t = &d->times[i];
		bool active = (!t->activate || now >= t->activate) &&
			(!t->inactive || now < t->inactive) &&
			(!t->publish || now >= t->publish) &&
			(!t->delete_ || now < t->delete_);
		ksk = ksk || (active && (d->ksk_mask & (1u << i)));
		zsk = zsk || (active && (d->zsk_mask & (1u << i)));
	}
	if (!ksk || !zsk)
		cfg_error(c, kl, "dnssec.keys: no %s is active now (see the "
			  "keys' Publish, Activate, Inactive and Delete times)",
			  !ksk ? "key signing the DNSKEY RRset" :
			  "key signing the zone");
}

/* dnssec.online-sign-rate: compact denial's per-worker token bucket. */
static void cfg_dnssec_online_rate(struct cfg_ctx *c, const yaml_node_t *n,
				   struct model_dnssec *d)
{
	d->online_sign_rate = DNSSEC_ONLINE_RATE_DEFAULT;
	cfg_opt_u32(c, n, "dnssec", "online-sign-rate", 0, 1000000,
		    &d->online_sign_rate);
}

void cfg_dnssec(struct cfg_ctx *c, const yaml_node_t *n)
{
	static const char *const keys[] = {
		"keys", "denial", "signature-validity", "cds",
		"online-sign-rate", NULL,
	};
	static const char *const denials[] = { "nsec", "compact", NULL };
	static const char *const cds[] = { "publish", "none", "delete", NULL };
	struct model_dnssec *d = &c->m->dnssec;
	const yaml_node_t *kl;
	int denial = 0;

	if (!cfg_map_check(c, n, "dnssec", keys))
		return;
	cfg_opt_enum(c, n, "dnssec", "denial", denials, "denial", &denial,
		     NULL);
	d->denial = (enum model_denial)denial;
	cfg_dnssec_online_rate(c, n, d);
	int c_ds = 0;
	cfg_opt_enum(c, n, "dnssec", "cds", cds, "cds", &c_ds, NULL);
	d->cds = (enum model_cds)c_ds;
	cfg_dnssec_validity(c, n, d);
	if (!(kl = cfg_require(c, n, "dnssec", "keys")) ||
	    !cfg_want_seq(c, kl, "dnssec.keys"))
		return;
	size_t len = cfg_seq_len(kl);
	if (!len || len > 16) {
		cfg_error(c, kl, "dnssec.keys: one to 16 key files");
		return;
	}
	if (!c->apex)
		return; /* zone.name is already reported */
	d->keys = ldns_key_list_new();
	d->dnskeys = ldns_rr_list_new();
	if (!d->keys || !d->dnskeys)
		xalloc_die(sizeof(ldns_rr_list));
	d->key_paths = xcalloc(len, sizeof(*d->key_paths));
	for (size_t i = 0; i < len; i++) {
		const yaml_node_t *it = cfg_seq_item(c, kl, i);
		char p[CFG_PATH], err[1024] = "";
		cfg_path_idx(p, "dnssec.keys", i);
		const char *s = cfg_want_str(c, it, p);
		if (!s)
			continue;
		char *base = key_base(c, s);
		d->key_paths[d->nkeys++] = base;
		if (load_key(c, d, base, err, sizeof(err)) < 0)
			cfg_error(c, it, "%s: %s", p, err);
	}
	if (ldns_key_list_key_count(d->keys) == len) {
		key_roles(d);
		d->enabled = true;
		cfg_dnssec_active(c, kl, d);
	}
}
