/* sign.c -- RRSIGs through ldns for the compiler (sign.h). */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "lib/rand.h"
#include "lib/xalloc.h"
#include "server/sign.h"

struct sign {
	/* Views of the model's key list: they borrow its keys, so they are
	 * emptied before they are freed. */
	ldns_key_list *ksk, *zsk;
	uint32_t inception, expiration, jitter;
	uint32_t earliest;
	uint64_t rng;
};

bool sign_key_published(const struct model_dnssec *d, size_t i, time_t now)
{
	const struct model_key_time *t = d->times ? &d->times[i] : NULL;

	return !t || ((!t->publish || now >= t->publish) &&
		      (!t->delete_ || now < t->delete_));
}

bool sign_key_active(const struct model_dnssec *d, size_t i, time_t now)
{
	const struct model_key_time *t = d->times ? &d->times[i] : NULL;

	return sign_key_published(d, i, now) &&
		(!t || ((!t->activate || now >= t->activate) &&
			(!t->inactive || now < t->inactive)));
}

uint32_t sign_next_event(const struct model_dnssec *d, time_t now)
{
	int64_t next = 0;

	for (size_t i = 0; d->times && i < d->nkeys; i++) {
		const struct model_key_time *t = &d->times[i];
		int64_t v[] = { t->publish, t->activate, t->inactive, t->delete_ };
		for (size_t j = 0; j < 4; j++)
			if (v[j] > now && (!next || v[j] < next))
				next = v[j];
	}
	return next > UINT32_MAX ? UINT32_MAX : (uint32_t)next;
}

static ldns_key_list *key_view(ldns_key_list *all, uint32_t mask)
{
	ldns_key_list *l = ldns_key_list_new();

	if (!l)
		xalloc_die(sizeof(*l));
	for (size_t i = 0; i < ldns_key_list_key_count(all); i++)
		if (mask & (1u << i))
			ldns_key_list_push_key(l, ldns_key_list_key(all, i));
	return l;
}

static void key_view_free(ldns_key_list *l)
{
	if (!l)
		return;
	ldns_key_list_set_key_count(l, 0);
	ldns_key_list_free(l);
}

struct sign *sign_new(const struct model_dnssec *d, time_t now)
{
	if (!d || !d->enabled)
		return NULL;
	struct sign *sg = xcalloc(1, sizeof(*sg));
	uint32_t active = 0;
	for (size_t i = 0; i < d->nkeys; i++)
		if (sign_key_active(d, i, now))
			active |= 1u << i;
	sg->ksk = key_view(d->keys, d->ksk_mask & active);
	sg->zsk = key_view(d->keys, d->zsk_mask & active);
	sg->inception = (uint32_t)now - 3600;
	sg->expiration = (uint32_t)now + d->validity;
	sg->jitter = d->validity / 10;
	sg->earliest = UINT32_MAX;
	sg->rng = (uint64_t)now * 0x9e3779b97f4a7c15ull | 1;
	return sg;
}

void sign_free(struct sign *sg)
{
	if (!sg)
		return;
	key_view_free(sg->ksk);
	key_view_free(sg->zsk);
	free(sg);
}

uint32_t sign_earliest(const struct sign *sg)
{
	return sg ? sg->earliest : UINT32_MAX;
}

ldns_rr_list *sign_rrset(struct sign *sg, const ldns_rr_list *rrset)
{
	bool dnskey = ldns_rr_get_type(ldns_rr_list_rr(rrset, 0)) ==
		LDNS_RR_TYPE_DNSKEY;
	ldns_key_list *keys = dnskey ? sg->ksk : sg->zsk;

	if (!ldns_key_list_key_count(keys))
		return NULL; /* no key active: refuse to build unsigned */
	uint32_t exp = sg->expiration -
		(sg->jitter ? (uint32_t)(rand_next(&sg->rng) % sg->jitter) : 0);

	/* ldns takes the validity period from the keys; they are ours for
	 * the length of this call (the control thread is the only user). */
	for (size_t i = 0; i < ldns_key_list_key_count(keys); i++) {
		ldns_key *k = ldns_key_list_key(keys, i);
		ldns_key_set_inception(k, sg->inception);
		ldns_key_set_expiration(k, exp);
	}
	ldns_rr_list *sigs = ldns_sign_public((ldns_rr_list *)rrset, keys);
	if (sigs && ldns_rr_list_rr_count(sigs) != ldns_key_list_key_count(keys)) {
		ldns_rr_list_deep_free(sigs);
		return NULL;
	}
	if (sigs && exp < sg->earliest)
		sg->earliest = exp;
	return sigs;
}

int sign_wire(struct snap_arena *a, const ldns_rr_list *rrs, bool ptr,
	      uint32_t ttl, struct snap_rrs *out)
{
	uint8_t buf[65535];
	size_t len = 0;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; rrs && i < ldns_rr_list_rr_count(rrs); i++) {
		const ldns_rr *rr = ldns_rr_list_rr(rrs, i);
		uint8_t *w = NULL;
		size_t n = 0;
		if (ldns_rr2wire(&w, rr, LDNS_SECTION_ANSWER, &n) !=
		    LDNS_STATUS_OK)
			return -1;
		size_t own = ldns_rdf_size(ldns_rr_owner(rr));
		size_t skip = ptr ? own : 0;
		if (n < own + 10 || len + (ptr ? 2 : 0) + n - skip > sizeof(buf)) {
			free(w);
			return -1;
		}
		if (ptr) {
			wire_put16(buf + len, 0xc00c);
			len += 2;
		}
		memcpy(buf + len, w + skip, n - skip);
		if (ttl)
			wire_put32(buf + len + (ptr ? 0 : own) + 4, ttl);
		len += n - skip;
		free(w);
		out->count++;
	}
	out->len = (uint16_t)len;
	out->wire = snap_memdup(a, buf, len);
	if (!out->wire)
		xalloc_die(len);
	return 0;
}
