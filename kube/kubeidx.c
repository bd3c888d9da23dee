/* kubeidx.c -- see kubeidx.h.  Two kinds of entry: an object (its
 * candidates in its own order) and a name (the candidates of every
 * object for it, in winning order, and the winner the list shows).  A
 * change unlinks an object's old candidates from their names and links
 * the new ones; the names it touched are settled at the commit. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kube/kubeidx.h"
#include "lib/xalloc.h"

struct kx_obj;
struct kx_name;

struct kx_cand {
	struct model_service svc; /* what the list points to */
	struct kx_obj *obj;
	struct kx_name *nm;
	struct kx_cand *next;     /* the name's next, or the next retired */
	size_t seq;               /* in the object's own order */
	bool derived;
};

struct kx_obj {
	char *key;
	enum kubefed_kind kind;
	json_t *json;             /* as last mapped */
	struct kx_cand **c;
	size_t nc;
	uint64_t *msgs;           /* its messages' hashes, sorted */
	size_t nmsgs;
	uint32_t bad, skipped;
	uint32_t epoch;           /* of the settings it was mapped with */
};

struct kx_name {
	char *name;
	struct kx_cand *head;               /* winning order: head wins */
	const struct model_service *shown;  /* the winner in the list */
	uint64_t *dups;                     /* duplicates said, sorted */
	size_t ndups;
	bool touched;
};

/* Entries by their key string: open addressing, linear probing. */
struct kx_tab {
	void **slot;
	size_t cap, n;
	const char *(*key)(const void *e);
};

struct kx_msg {
	enum log_level lvl;
	char *text;
};

struct kubeidx {
	struct kubefed_opts o;
	struct kubefed_clusters *cl;
	struct kx_tab objs[KUBEFED_NKINDS], names;
	uint32_t epoch;
	bool stale;               /* some objects have an older epoch */
	bool forget;              /* say every message anew */
	struct kx_name **touched; /* names to settle at the commit */
	size_t ntouched, captouched;
	struct kx_cand *retired;  /* unlinked, freed by kubeidx_release */
	const struct model_service **list, **old_list;
	size_t nlist;
	struct kx_msg *cap;       /* messages of the mapping in progress */
	size_t ncap, capcap;
	char **rec, **taken;      /* changed names: recorded, handed out */
	size_t nrec, ntaken;
	bool rec_all;
	size_t ncands, remapped, last_remapped, last_names;
	uint32_t bad, skipped;
};

/* ---- hashing and the tables ---- */

static uint64_t kx_hash(uint64_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return h;
}

#define KX_FNV 0xcbf29ce484222325ULL

static const char *kx_obj_key(const void *e)
{
	return ((const struct kx_obj *)e)->key;
}

static const char *kx_name_key(const void *e)
{
	return ((const struct kx_name *)e)->name;
}

static size_t kx_tab_find(const struct kx_tab *t, const char *key)
{
	size_t i = kx_hash(KX_FNV, key) & (t->cap - 1);

	while (t->slot[i] && strcmp(t->key(t->slot[i]), key))
		i = (i + 1) & (t->cap - 1);
	return i;
}

static void *kx_tab_get(const struct kx_tab *t, const char *key)
{
	return t->cap ? t->slot[kx_tab_find(t, key)] : NULL;
}

/* Room for one more (under 3/4 full). */
static void kx_tab_reserve(struct kx_tab *t)
{
	struct kx_tab nt = { NULL, t->cap ? t->cap * 2 : 64, 0, t->key };

	if ((t->n + 1) * 4 <= t->cap * 3)
		return;
	nt.slot = xcalloc(nt.cap, sizeof(*nt.slot));
	for (size_t i = 0; i < t->cap; i++)
		if (t->slot[i])
			nt.slot[kx_tab_find(&nt, t->key(t->slot[i]))] =
				t->slot[i];
	nt.n = t->n;
	free(t->slot);
	*t = nt;
}

/* e's key is not in t, and kx_tab_reserve made room. */
static void kx_tab_put(struct kx_tab *t, void *e)
{
	t->slot[kx_tab_find(t, t->key(e))] = e;
	t->n++;
}

/* Deletion by shifting back the entries probed past the hole, so that
 * lookups need no tombstones. */
static void kx_tab_del(struct kx_tab *t, const char *key)
{
	size_t mask = t->cap - 1, i = kx_tab_find(t, key), j = i;

	if (!t->slot[i])
		return;
	t->slot[i] = NULL;
	t->n--;
	for (;;) {
		j = (j + 1) & mask;
		if (!t->slot[j])
			return;
		size_t h = kx_hash(KX_FNV, t->key(t->slot[j])) & mask;
		/* Stays when its home lies cyclically in (i, j]. */
		if (i <= j ? (h > i && h <= j) : (h > i || h <= j))
			continue;
		t->slot[i] = t->slot[j];
		t->slot[j] = NULL;
		i = j;
	}
}

/* ---- sets of message hashes ---- */

static int kx_u64_cmp(const void *pa, const void *pb)
{
	uint64_t a = *(const uint64_t *)pa, b = *(const uint64_t *)pb;

	return (a > b) - (a < b);
}

static bool kx_said(const uint64_t *set, size_t n, uint64_t h)
{
	return n && bsearch(&h, set, n, sizeof(h), kx_u64_cmp);
}

static void kx_say(const struct kubeidx *x, enum log_level lvl,
		   const char *msg)
{
	if (x->o.log)
		x->o.log(x->o.log_arg, lvl, msg);
	else
		log_msg(lvl, "%s", msg);
}

/* ---- state ---- */

static void kx_stale(struct kubeidx *x)
{
	x->epoch++;
	x->stale = true;
}

static void kx_touch_reserve(struct kubeidx *x, size_t more)
{
	size_t want = x->ntouched + more;

	if (want <= x->captouched)
		return;
	want = want < 2 * x->captouched ? 2 * x->captouched : want;
	x->touched = xreallocarray(x->touched, want, sizeof(*x->touched));
	x->captouched = want;
}

/* kx_touch_reserve made room. */
static void kx_touch(struct kubeidx *x, struct kx_name *nm)
{
	if (nm->touched)
		return;
	nm->touched = true;
	x->touched[x->ntouched++] = nm;
}

static void kx_cand_free(struct kx_cand *c)
{
	model_service_clear(&c->svc);
	free(c);
}

static void kx_name_free(struct kubeidx *x, struct kx_name *nm)
{
	kx_tab_del(&x->names, nm->name);
	free(nm->name);
	free(nm->dups);
	free(nm);
}

/* The entry of name, made (empty) when there is none. */
static struct kx_name *kx_name_get(struct kubeidx *x, const char *name)
{
	struct kx_name *nm = kx_tab_get(&x->names, name);

	if (nm)
		return nm;
	kx_tab_reserve(&x->names);
	nm = xcalloc(1, sizeof(*nm));
	nm->name = xstrdup(name);
	kx_tab_put(&x->names, nm);
	return nm;
}

/* Winning order: kind, then namespace/name, then the object's order. */
static int kx_cand_cmp(const struct kx_cand *a, const struct kx_cand *b)
{
	int c;

	if (a->obj->kind != b->obj->kind)
		return a->obj->kind < b->obj->kind ? -1 : 1;
	if ((c = strcmp(a->obj->key, b->obj->key)))
		return c;
	return (a->seq > b->seq) - (a->seq < b->seq);
}

static void kx_link(struct kubeidx *x, struct kx_cand *c)
{
	struct kx_cand **pp = &c->nm->head;

	while (*pp && kx_cand_cmp(*pp, c) < 0)
		pp = &(*pp)->next;
	c->next = *pp;
	*pp = c;
	x->ncands++;
	kx_touch(x, c->nm);
}

static void kx_unlink(struct kubeidx *x, struct kx_cand *c)
{
	struct kx_cand **pp = &c->nm->head;

	while (*pp != c)
		pp = &(*pp)->next;
	*pp = c->next;
	c->next = NULL;
	x->ncands--;
	kx_touch(x, c->nm);
}

/* Unlinked, and kept until kubeidx_release: the list may show it. */
static void kx_retire(struct kubeidx *x, struct kx_cand *c)
{
	c->obj = NULL;
	c->nm = NULL;
	c->next = x->retired;
	x->retired = c;
}

/* ---- messages of one mapping ---- */

static void kx_capture(void *arg, enum log_level lvl, const char *msg)
{
	struct kubeidx *x = arg;

	if (x->ncap == x->capcap) {
		x->capcap = x->capcap ? 2 * x->capcap : 16;
		x->cap = xreallocarray(x->cap, x->capcap, sizeof(*x->cap));
	}
	x->cap[x->ncap].text = xstrdup(msg);
	x->cap[x->ncap++].lvl = lvl;
}

static void kx_capture_clear(struct kubeidx *x)
{
	for (size_t i = 0; i < x->ncap; i++)
		free(x->cap[i].text);
	x->ncap = 0;
}

/* The captured messages o has not said yet are said; what it says now
 * is remembered (h: their hashes, taken over). */
static void kx_obj_say(struct kubeidx *x, struct kx_obj *o, uint64_t *h)
{
	for (size_t i = 0; i < x->ncap; i++)
		if (!kx_said(o->msgs, o->nmsgs, h[i]))
			kx_say(x, x->cap[i].lvl, x->cap[i].text);
	qsort(h, x->ncap, sizeof(*h), kx_u64_cmp);
	free(o->msgs);
	o->msgs = h;
	o->nmsgs = x->ncap;
}

/* ---- objects ---- */

static void kx_obj_free(struct kx_obj *o)
{
	for (size_t i = 0; i < o->nc; i++)
		kx_cand_free(o->c[i]);
	free(o->c);
	free(o->msgs);
	json_decref(o->json);
	free(o->key);
	free(o);
}

/* The old candidate of o that new one may stand in for: same name,
 * equal service, same standing; i is where to look first. */
static struct kx_cand *kx_reusable(const struct kx_obj *o, bool *used,
				   size_t i, const struct kubefed_cand *nc)
{
	for (size_t k = 0; k <= o->nc; k++) {
		size_t j = k ? k - 1 : i;
		const struct kx_cand *c;

		if (j >= o->nc || used[j])
			continue;
		c = o->c[j];
		if (c->derived == nc->derived &&
		    !strcmp(c->svc.name, nc->svc.name) &&
		    kubefed_services_equal(&c->svc, 1, &nc->svc, 1)) {
			used[j] = true;
			return o->c[j];
		}
	}
	return NULL;
}

/* c[i]: the old candidate for nc[i] when one is equal, else a new one
 * (obj NULL until linked) that takes nc[i]'s service over (zeroed). */
static void kx_cands_make(struct kubeidx *x, struct kx_obj *o,
			 struct kubefed_cand *nc, size_t n, bool *used,
			 struct kx_cand **c)
{
	for (size_t i = 0; i < n; i++) {
		if ((c[i] = kx_reusable(o, used, i, &nc[i])))
			continue;
		c[i] = xcalloc(1, sizeof(**c));
		c[i]->nm = kx_name_get(x, nc[i].svc.name);
		c[i]->svc = nc[i].svc;
		c[i]->derived = nc[i].derived;
		memset(&nc[i].svc, 0, sizeof(nc[i].svc));
		kx_touch(x, c[i]->nm); /* an empty new name is freed then */
	}
}

/* o's candidates become c (n of them); nothing here can fail. */
static void kx_obj_relink(struct kubeidx *x, struct kx_obj *o,
			  struct kx_cand **c, size_t n, const bool *used)
{
	bool same = n == o->nc;

	for (size_t i = 0; same && i < n; i++)
		same = c[i] == o->c[i];
	if (!same) {
		for (size_t j = 0; j < o->nc; j++) {
			kx_unlink(x, o->c[j]);
			if (!used[j])
				kx_retire(x, o->c[j]);
		}
		for (size_t i = 0; i < n; i++) {
			c[i]->obj = o;
			c[i]->seq = i;
			kx_link(x, c[i]);
		}
	}
	free(o->c);
	o->c = c;
	o->nc = n;
}

/* Map o as json is now. */
static void kx_obj_map(struct kubeidx *x, struct kx_obj *o, const json_t *json)
{
	struct kubefed_opts mo = x->o;
	struct kubefed_cand *nc;
	struct kubefed_stats st = { 0 };
	struct kx_cand **c;
	uint64_t *h;
	bool *used;
	size_t n;

	mo.log = kx_capture;
	mo.log_arg = x;
	kx_capture_clear(x);
	kubefed_map_object(o->kind, json, o->key, x->cl, &mo, &nc, &n, &st);
	kx_touch_reserve(x, o->nc + n);
	c = xcalloc(n, sizeof(*c));
	used = xcalloc(o->nc, sizeof(*used));
	h = xcalloc(x->ncap, sizeof(*h));
	kx_cands_make(x, o, nc, n, used, c);
	for (size_t i = 0; i < x->ncap; i++)
		h[i] = kx_hash(KX_FNV + x->cap[i].lvl, x->cap[i].text);
	kx_obj_relink(x, o, c, n, used);
	kx_obj_say(x, o, h);
	if (o->json != json) {
		json_decref(o->json);
		o->json = json_incref((json_t *)json);
	}
	o->epoch = x->epoch;
	x->bad += st.bad - o->bad;
	x->skipped += st.skipped - o->skipped;
	o->bad = st.bad;
	o->skipped = st.skipped;
	x->remapped++;
	kubefed_cands_free(nc, n);
	free(used);
	kx_capture_clear(x);
}

static struct kx_obj *kx_obj_new(struct kubeidx *x, enum kubefed_kind kind,
				 const char *key)
{
	struct kx_obj *o = xcalloc(1, sizeof(*o));

	kx_tab_reserve(&x->objs[kind]);
	o->key = xstrdup(key);
	o->kind = kind;
	kx_tab_put(&x->objs[kind], o);
	return o;
}

static void kx_obj_drop(struct kubeidx *x, struct kx_obj *o)
{
	kx_touch_reserve(x, o->nc);
	for (size_t i = 0; i < o->nc; i++) {
		kx_unlink(x, o->c[i]);
		kx_retire(x, o->c[i]);
	}
	o->nc = 0;
	x->bad -= o->bad;
	x->skipped -= o->skipped;
	kx_tab_del(&x->objs[o->kind], o->key);
	kx_obj_free(o);
}

void kubeidx_set(struct kubeidx *x, enum kubefed_kind kind, const char *key,
		 const json_t *obj)
{
	struct kx_obj *o = kx_tab_get(&x->objs[kind], key);

	if (!obj) {
		if (o)
			kx_obj_drop(x, o);
		return;
	}
	if (o && o->epoch == x->epoch &&
	    (o->json == obj || json_equal(o->json, (json_t *)obj))) {
		/* The same again: the next look is a pointer compare. */
		json_decref(o->json);
		o->json = json_incref((json_t *)obj);
		return;
	}
	if (!o)
		o = kx_obj_new(x, kind, key);
	kx_obj_map(x, o, obj);
}

void kubeidx_prune(struct kubeidx *x, enum kubefed_kind kind, const char *ns,
		   const json_t *keep)
{
	struct kx_tab *t = &x->objs[kind];
	size_t nl = ns ? strlen(ns) : 0, n = 0;
	/* Collected first: a deletion moves entries within the table. */
	struct kx_obj **gone = xcalloc(t->n, sizeof(*gone));

	for (size_t i = 0; i < t->cap; i++) {
		struct kx_obj *o = t->slot[i];
		if (o && (!ns || (!strncmp(o->key, ns, nl) &&
				  o->key[nl] == '/')) &&
		    !json_object_get(keep, o->key))
			gone[n++] = o;
	}
	for (size_t i = 0; i < n; i++)
		kx_obj_drop(x, gone[i]);
	free(gone);
}

/* ---- settings ---- */

struct kubeidx *kubeidx_new(const struct kubefed_opts *opts)
{
	struct kubeidx *x = xcalloc(1, sizeof(*x));

	x->o = *opts;
	for (int kind = 0; kind < KUBEFED_NKINDS; kind++)
		x->objs[kind].key = kx_obj_key;
	x->names.key = kx_name_key;
	x->rec_all = true; /* nothing taken yet: everything is new */
	x->cl = kubefed_clusters_new(NULL);
	return x;
}

void kubeidx_set_opts(struct kubeidx *x, const struct kubefed_opts *opts)
{
	x->o = *opts;
	x->forget = true;
	kx_stale(x);
}

int kubeidx_set_clusters(struct kubeidx *x, const json_t *clusters)
{
	struct kubefed_clusters *cl = kubefed_clusters_new(clusters);

	if (kubefed_clusters_equal(cl, x->cl)) {
		kubefed_clusters_free(cl);
		return 0;
	}
	kubefed_clusters_free(x->cl);
	x->cl = cl;
	kx_stale(x);
	return 1;
}

/* ---- the commit ---- */

/* After new settings: every object not mapped with them yet is. */
static void kx_remap_stale(struct kubeidx *x)
{
	if (x->forget) {
		kx_touch_reserve(x, x->names.n);
		for (size_t i = 0; i < x->names.cap; i++) {
			struct kx_name *nm = x->names.slot[i];
			if (!nm)
				continue;
			free(nm->dups);
			nm->dups = NULL;
			nm->ndups = 0;
			kx_touch(x, nm);
		}
	}
	for (int kind = 0; kind < KUBEFED_NKINDS; kind++) {
		struct kx_tab *t = &x->objs[kind];
		for (size_t i = 0; i < t->cap; i++) {
			struct kx_obj *o = t->slot[i];
			if (!o || o->epoch == x->epoch)
				continue;
			if (x->forget) {
				free(o->msgs);
				o->msgs = NULL;
				o->nmsgs = 0;
			}
			kx_obj_map(x, o, o->json);
		}
	}
	x->stale = x->forget = false;
}

static void kx_owner(char *buf, size_t len, const struct kx_obj *o)
{
	snprintf(buf, len, "%s %s", kubefed_kind_name(o->kind), o->key);
}

/* A name's duplicates that were not said before are. */
static void kx_name_dups(struct kubeidx *x, struct kx_name *nm)
{
	char win[320], lose[320];
	uint64_t *h = NULL;
	size_t n = 0;

	for (const struct kx_cand *c = nm->head; c && c->next; c = c->next)
		n++;
	if (n) {
		h = xcalloc(n, sizeof(*h));
		kx_owner(win, sizeof(win), nm->head->obj);
	}
	n = 0;
	for (const struct kx_cand *c = nm->head ? nm->head->next : NULL; c;
	     c = c->next) {
		kx_owner(lose, sizeof(lose), c->obj);
		h[n] = kx_hash(kx_hash(KX_FNV + c->derived, lose), win);
		if (!kx_said(nm->dups, nm->ndups, h[n]))
			kubefed_log_duplicate(&x->o, nm->name, lose, c->derived,
					      win);
		n++;
	}
	if (n)
		qsort(h, n, sizeof(*h), kx_u64_cmp);
	free(nm->dups);
	nm->dups = h;
	nm->ndups = n;
}

static void kx_strs_clear(char **v, size_t *n)
{
	for (size_t i = 0; i < *n; i++)
		free(v[i]);
	*n = 0;
}

/* "Take everything as changed": no names needed. */
static void kx_record_all(struct kubeidx *x)
{
	x->rec_all = true;
	kx_strs_clear(x->rec, &x->nrec);
}

static void kx_record(struct kubeidx *x, const char *name)
{
	if (x->rec_all)
		return;
	if (!x->rec)
		x->rec = xcalloc(KUBEIDX_CHANGES_MAX, sizeof(*x->rec));
	if (x->nrec == KUBEIDX_CHANGES_MAX)
		kx_record_all(x);
	else
		x->rec[x->nrec++] = xstrdup(name);
}

static int kx_name_cmp(const void *pa, const void *pb)
{
	return strcmp((*(struct kx_name *const *)pa)->name,
		      (*(struct kx_name *const *)pb)->name);
}

/* The first i in [lo, n) with list[i] not before name. */
static size_t kx_list_find(const struct model_service *const *list,
			   size_t lo, size_t n, const char *name)
{
	while (lo < n) {
		size_t mid = lo + (n - lo) / 2;
		if (strcmp(list[mid]->name, name) < 0)
			lo = mid + 1;
		else
			n = mid;
	}
	return lo;
}

/* The list with the winners of ch (sorted, each a new winner, or none
 * for a name gone) in place of what it had for them. */
static const struct model_service **kx_list_merge(struct kubeidx *x,
						  struct kx_name **ch,
						  size_t nch, size_t n)
{
	const struct model_service **out = xcalloc(n, sizeof(*out));
	size_t i = 0, m = 0;

	for (size_t j = 0; j < nch; j++) {
		size_t at = kx_list_find(x->list, i, x->nlist, ch[j]->name);
		if (at > i)
			memcpy(out + m, x->list + i, (at - i) * sizeof(*out));
		m += at - i;
		i = at;
		if (ch[j]->shown)
			i++; /* the old winner, replaced or gone */
		if (ch[j]->head)
			out[m++] = &ch[j]->head->svc;
	}
	if (x->nlist > i)
		memcpy(out + m, x->list + i, (x->nlist - i) * sizeof(*out));
	return out;
}

int kubeidx_commit(struct kubeidx *x)
{
	const struct model_service **list;
	size_t nch = 0, n = x->nlist;
	bool full = x->stale;

	if (x->stale)
		kx_remap_stale(x);
	if (x->ntouched)
		qsort(x->touched, x->ntouched, sizeof(*x->touched),
		      kx_name_cmp);
	/* The names whose winner changed move to the front; a name nobody
	 * asks for and the list does not show goes. */
	for (size_t i = 0; i < x->ntouched; i++) {
		struct kx_name *nm = x->touched[i];
		const struct model_service *w = nm->head ? &nm->head->svc :
						NULL;
		nm->touched = false;
		kx_name_dups(x, nm);
		if (w == nm->shown) {
			if (!w)
				kx_name_free(x, nm);
			continue;
		}
		n += !nm->shown - !w;
		x->touched[nch++] = nm;
	}
	x->ntouched = 0;
	list = kx_list_merge(x, x->touched, nch, n);
	for (size_t i = 0; i < nch; i++) {
		struct kx_name *nm = x->touched[i];
		const struct model_service *w = nm->head ? &nm->head->svc :
						NULL;
		if (!w || !nm->shown ||
		    !kubefed_services_equal(w, 1, nm->shown, 1))
			kx_record(x, nm->name);
		nm->shown = w;
		if (!w)
			kx_name_free(x, nm);
	}
	free(x->old_list);
	x->old_list = x->list;
	x->list = list;
	x->nlist = n;
	x->last_remapped = x->remapped;
	x->last_names = nch;
	x->remapped = 0;
	if (full && nch)
		kx_record_all(x);
	return nch ? 1 : 0;
}

void kubeidx_release(struct kubeidx *x)
{
	while (x->retired) {
		struct kx_cand *c = x->retired;
		x->retired = c->next;
		kx_cand_free(c);
	}
	free(x->old_list);
	x->old_list = NULL;
}

/* ---- reading ---- */

const struct model_service *const *kubeidx_list(const struct kubeidx *x,
						size_t *n)
{
	*n = x->nlist;
	return x->list;
}

static int kx_str_cmp(const void *pa, const void *pb)
{
	return strcmp(*(char *const *)pa, *(char *const *)pb);
}

bool kubeidx_take_changes(struct kubeidx *x, const char *const **names,
			  size_t *n)
{
	char **t;
	size_t m = 0;

	*names = NULL;
	*n = 0;
	if (x->rec_all) {
		x->rec_all = false;
		kx_strs_clear(x->rec, &x->nrec);
		return false;
	}
	if (!x->nrec)
		return true;
	/* The record becomes what is handed out; the old hand-out goes. */
	kx_strs_clear(x->taken, &x->ntaken);
	t = x->taken;
	x->taken = x->rec;
	x->rec = t;
	qsort(x->taken, x->nrec, sizeof(*x->taken), kx_str_cmp);
	for (size_t i = 0; i < x->nrec; i++) {
		if (m && !strcmp(x->taken[m - 1], x->taken[i]))
			free(x->taken[i]);
		else
			x->taken[m++] = x->taken[i];
	}
	x->nrec = 0;
	x->ntaken = m;
	*names = (const char *const *)x->taken;
	*n = m;
	return true;
}

void kubeidx_stats(const struct kubeidx *x, struct kubeidx_stats *st)
{
	st->objects = 0;
	for (int kind = 0; kind < KUBEFED_NKINDS; kind++)
		st->objects += x->objs[kind].n;
	st->remapped = x->last_remapped;
	st->names = x->last_names;
	st->bad = x->bad;
	st->skipped = x->skipped;
	st->duplicates = (uint32_t)(x->ncands - x->nlist);
}

void kubeidx_free(struct kubeidx *x)
{
	if (!x)
		return;
	for (int kind = 0; kind < KUBEFED_NKINDS; kind++) {
		for (size_t i = 0; i < x->objs[kind].cap; i++)
			if (x->objs[kind].slot[i])
				kx_obj_free(x->objs[kind].slot[i]);
		free(x->objs[kind].slot);
	}
	for (size_t i = 0; i < x->names.cap; i++) {
		struct kx_name *nm = x->names.slot[i];
		if (nm) {
			free(nm->name);
			free(nm->dups);
			free(nm);
		}
	}
	free(x->names.slot);
	kubeidx_release(x);
	kx_capture_clear(x);
	free(x->cap);
	kx_strs_clear(x->rec, &x->nrec);
	kx_strs_clear(x->taken, &x->ntaken);
	free(x->rec);
	free(x->taken);
	free(x->list);
	free(x->touched);
	kubefed_clusters_free(x->cl);
	free(x);
}
