/*
 * kubeidx_harness.h -- the incremental index (kube/kubeidx.c) next to
 * what it must agree with: objects kept in a store per kind, as the
 * reflectors keep them, fed to the index one event at a time, and
 * kubefed_map over the whole store as the oracle.  For the unit test
 * and the fuzzer.
 */
#ifndef GSLBD_KUBEIDX_HARNESS_H
#define GSLBD_KUBEIDX_HARNESS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "kube/client.h"
#include "kube/kubefed.h"
#include "kube/kubeidx.h"

/* The index of the first service of list that differs from a (n when
 * none), or SIZE_MAX when the lengths differ. */
static inline size_t list_differs(const struct model_service *const *list,
				  size_t n, const struct model_service *a,
				  size_t na)
{
	size_t i;

	if (n != na)
		return SIZE_MAX;
	for (i = 0; i < n; i++)
		if (!kubefed_services_equal(list[i], 1, &a[i], 1))
			break;
	return i;
}

/* The index against kubefed_map over the same objects: the state is a
 * store per kind (key -> object), as the reflectors keep it. */
struct incr {
	json_t *store[KUBEFED_NKINDS], *clusters;
	struct kubeidx *x;
	struct kubefed_opts o;
	struct model_service *prev; /* kubefed_map of the previous state */
	size_t nprev;
};

static inline void quiet(void *arg, enum log_level lvl, const char *msg)
{
}

static inline void incr_init(struct incr *t, kubefed_log_fn log)
{
	memset(t, 0, sizeof(*t));
	t->o.apex = "example.org.";
	t->o.policy = POLICY_ALL;
	t->o.ttl = 30;
	t->o.log = log;
	for (int kind = 0; kind < KUBEFED_NKINDS; kind++)
		t->store[kind] = json_object();
	t->clusters = json_object();
	t->x = kubeidx_new(&t->o);
}

static inline void incr_done(struct incr *t)
{
	kubeidx_free(t->x);
	kubefed_services_free(t->prev, t->nprev);
	for (int kind = 0; kind < KUBEFED_NKINDS; kind++)
		json_decref(t->store[kind]);
	json_decref(t->clusters);
}

static inline json_t *values(const json_t *store)
{
	json_t *a = json_array(), *v;
	const char *k;

	json_object_foreach((json_t *)store, k, v)
		json_array_append(a, v);
	return a;
}

/* kubefed_map of the whole state. */
static inline void incr_full(const struct incr *t, struct model_service **s,
			     size_t *n, struct kubefed_stats *st)
{
	struct kubefed_opts o = t->o;
	json_t *a = values(t->store[KUBEFED_SDR]);
	json_t *b = values(t->clusters), *c = values(t->store[KUBEFED_DNSEP]);
	json_t *i = values(t->store[KUBEFED_IDR]);

	o.log = quiet;
	kubefed_map(a, i, b, c, &o, s, n, st);
	json_decref(i);
	json_decref(a);
	json_decref(b);
	json_decref(c);
}

/* One object event, the way kube.c applies a watch event: to the store
 * and to the index.  obj NULL: deleted.  Takes obj over. */
static inline void incr_event(struct incr *t, enum kubefed_kind kind,
			      json_t *obj, const char *delkey)
{
	char key[512];

	if (!obj) {
		kubeidx_set(t->x, kind, delkey, NULL);
		/* Last: delkey may be the store's own string. */
		json_object_del(t->store[kind], delkey);
		return;
	}
	kube_obj_key(obj, key, sizeof(key));
	json_object_set_new(t->store[kind], key, obj);
	kubeidx_set(t->x, kind, key, obj);
}

/* Why the index's list differs from kubefed_map over the state, or
 * NULL; full: that map (the caller frees it). */
static inline const char *incr_differs(const struct incr *t,
				       struct model_service **full,
				       size_t *nfull)
{
	static char why[600];
	const struct model_service *const *l;
	struct kubefed_stats fs;
	struct kubeidx_stats st;
	size_t n, d;

	incr_full(t, full, nfull, &fs);
	l = kubeidx_list(t->x, &n);
	kubeidx_stats(t->x, &st);
	d = list_differs(l, n, *full, *nfull);
	if (st.bad != fs.bad || st.skipped != fs.skipped ||
	    st.duplicates != fs.duplicates ||
	    st.objects != json_object_size(t->store[0]) +
			  json_object_size(t->store[1]) +
			  json_object_size(t->store[2])) {
		snprintf(why, sizeof(why), "stats: %zu objects, bad %u, "
			 "skipped %u, duplicates %u; kubefed_map: bad %u, "
			 "skipped %u, duplicates %u", st.objects, st.bad,
			 st.skipped, st.duplicates, fs.bad, fs.skipped,
			 fs.duplicates);
		return why;
	}
	if (d == SIZE_MAX) {
		snprintf(why, sizeof(why), "%zu names, kubefed_map %zu", n,
			 *nfull);
		return why;
	}
	if (d < n) {
		snprintf(why, sizeof(why), "%s differs from kubefed_map's %s",
			 l[d]->name, (*full)[d].name);
		return why;
	}
	return NULL;
}

/* The names that differ between a and b, both sorted; into out (each
 * a's or b's string), their count returned. */
static inline size_t diff_names(const struct model_service *a, size_t na,
				const struct model_service *b, size_t nb,
				const char **out)
{
	size_t i = 0, j = 0, n = 0;

	while (i < na || j < nb) {
		int c = i == na ? 1 : j == nb ? -1 : strcmp(a[i].name,
							    b[j].name);
		if (c < 0)
			out[n++] = a[i++].name;
		else if (c > 0)
			out[n++] = b[j++].name;
		else if (!kubefed_services_equal(&a[i++], 1, &b[j++], 1))
			out[n++] = a[i - 1].name;
	}
	return n;
}

/* Why kubeidx_take_changes does not name exactly what changed from
 * t->prev to full, or NULL.  everything_ok: "take everything" may be
 * the answer (a cluster change mapped every object). */
static inline const char *incr_changes_differ(struct incr *t,
					      const struct model_service *full,
					      size_t nfull, bool everything_ok)
{
	static char why[600];
	const char **want = calloc(t->nprev + nfull + 1, sizeof(*want));
	const char *const *got;
	size_t nwant = diff_names(t->prev, t->nprev, full, nfull, want), ngot;
	const char *r = NULL;

	if (!kubeidx_take_changes(t->x, &got, &ngot)) {
		if (!everything_ok)
			r = "take_changes said everything after one object";
		goto out;
	}
	if (ngot != nwant) {
		snprintf(why, sizeof(why), "take_changes named %zu, %zu "
			 "changed (first: %s)", ngot, nwant,
			 nwant ? want[0] : ngot ? got[0] : "-");
		r = why;
		goto out;
	}
	for (size_t i = 0; i < ngot; i++) {
		if (strcmp(got[i], want[i])) {
			snprintf(why, sizeof(why), "take_changes named %s, "
				 "want %s", got[i], want[i]);
			r = why;
			goto out;
		}
	}
out:
	free(want);
	return r;
}

/* After a commit: why the index's list or counts differ from
 * kubefed_map's, or take_changes from what changed since the last
 * check, or NULL.  That map is then the state to compare with next. */
static inline const char *incr_check(struct incr *t, bool everything_ok)
{
	struct model_service *full = NULL;
	size_t nfull = 0;
	const char *why = incr_differs(t, &full, &nfull);

	if (!why)
		why = incr_changes_differ(t, full, nfull, everything_ok);
	kubefed_services_free(t->prev, t->nprev);
	t->prev = full;
	t->nprev = nfull;
	return why;
}

#endif
