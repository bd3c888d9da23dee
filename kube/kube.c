/* kube.c -- see kube.h.  Glue: reflectors (client.c) name the objects
 * that changed; the index (kubeidx.c) maps those again (kubefed.c); its
 * winners are cached (cache.c) and announced through the coalesced
 * change callback. */
#include "config.h"

#include <signal.h>
#include <stdio.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/wait.h>

#include <event2/event.h>
#include <jansson.h>

#include "kube/cache.h"
#include "kube/client.h"
#include "kube/kube.h"
#include "kube/kubecfg.h"
#include "kube/kubefed.h"
#include "kube/kubeidx.h"
#include "lib/log.h"
#include "lib/xalloc.h"

/* Events closer than this are applied together. */
#define KUBE_COALESCE_MS   10
#define KUBE_CACHE_GAP_MS  30000 /* writing 50,000 services costs ~0.5 s of CPU */

#define KUBE_MCDNS "/apis/multiclusterdns.kubefed.io/v1alpha1"
#define KUBE_CORE  "/apis/core.kubefed.io/v1beta1"

enum kube_kind { KUBE_SDR = KUBEFED_SDR, KUBE_IDR = KUBEFED_IDR,
		 KUBE_DNSEP = KUBEFED_DNSEP, KUBE_CLUSTER };

struct kube_watch {
	enum kube_kind kind;
	char *ns;                /* NULL: every namespace */
	struct kube_reflector *r;
};

struct kube_src {
	struct event_base *base;
	struct kube_client *cl;
	struct kube_watch *w;
	size_t nw;
	char *apex;
	struct probe_spec defaults;
	enum model_policy policy;
	uint32_t ttl;
	uint32_t max_answers;
	char *cache_file;
	kube_change_fn fn;
	void *arg;
	struct kubeidx *idx;     /* the services from the API */
	struct model_service *cache_svcs; /* from the cache file, until */
	const struct model_service **cache_list; /* the first mapping */
	size_t ncache;
	bool from_cache;
	bool mapped;           /* a mapping from the API has been made */
	bool changes_all;      /* kube_take_changes: everything changed */
	struct event *coalesce;
	struct timespec remap_end; /* when the last remap finished */
	int64_t remap_cost_us;     /* and what it took, with the rebuild */
	struct event *startup;
	struct event *cache_ev;
	pid_t writer;            /* a child writing the cache, or 0 */
	struct event *reap_ev;   /* polls for it to finish */
	bool cache_dirty;
	struct timespec cache_last;
	uint64_t bad;           /* object problems, counted once each */
};

/* ---- small helpers ---- */

static void kube_timer(struct event *ev, uint32_t ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	evtimer_add(ev, &tv);
}

/* Map once every ServiceDNSRecord list is in.  The other resources
 * only refine the answers (cluster readiness, extra names): one the API
 * refuses to list (403 without RBAC, 404 without its CRD) counts as
 * empty, or a single missing CRD would keep every service unserved. */
static bool kube_ready_to_map(const struct kube_src *k)
{
	for (size_t i = 0; i < k->nw; i++) {
		struct kube_refl_stats st;
		kube_reflector_stats(k->w[i].r, &st);
		if (st.synced)
			continue;
		if (k->w[i].kind == KUBE_SDR || !st.connected || st.ok)
			return false;
	}
	return true;
}

/* Mapping messages, each when it first appears (the index says a
 * message again only when its object or name changed). */
static void kube_map_log(void *arg, enum log_level lvl, const char *msg)
{
	struct kube_src *k = arg;

	if (!strncmp(msg, "kube object skipped", 19))
		k->bad++;
	log_msg(lvl, "%s", msg);
}

static struct kubefed_opts kube_opts(struct kube_src *k)
{
	struct kubefed_opts o = {
		.apex = k->apex, .policy = k->policy, .ttl = k->ttl,
		.max_answers = k->max_answers,
		.defaults = &k->defaults, .log = kube_map_log, .log_arg = k,
	};

	return o;
}

static struct kubeidx *kube_idx_new(struct kube_src *k)
{
	struct kubefed_opts o = kube_opts(k);

	return kubeidx_new(&o);
}

/* ---- the cache file ---- */

static void kube_cache_schedule(struct kube_src *k);

/* The winners, written; 0 or -1 with a message in err. */
static int kube_cache_write_winners(struct kube_src *k, char *err,
				    size_t errlen)
{
	size_t n;
	const struct model_service *const *s = kube_service_list(k, &n);

	return kube_cache_write_list(k->cache_file, s, n, err, errlen);
}

static void kube_cache_write_now(struct kube_src *k)
{
	char err[256];

	if (kube_cache_write_winners(k, err, sizeof(err)) < 0)
		log_warn("kube cache not written file=%s error=\"%s\"",
			 k->cache_file, err);
	else
		log_debug("kube cache written file=%s", k->cache_file);
}

/* Serialising tens of thousands of services costs the control thread
 * about half a second, and fsync may wait on the disk longer: a child
 * writes from its copy-on-write image of the list while probes and
 * queries go on (the child only serialises, writes and exits).  inline:
 * at exit, or when fork fails. */
static void kube_cache_flush(struct kube_src *k, bool inline_only)
{
	if (!k->cache_file || !k->cache_dirty)
		return;
	if (!inline_only && k->writer > 0) {
		kube_timer(k->cache_ev, 1000); /* one at a time */
		return;
	}
	k->cache_dirty = false;
	clock_gettime(CLOCK_MONOTONIC, &k->cache_last);
	if (!inline_only) {
		pid_t pid = fork();
		if (pid == 0) {
			char err[256];
			/* The parent's handlers write into its event loop's
			 * signal pipe: not from here. */
			signal(SIGTERM, SIG_DFL);
			signal(SIGINT, SIG_DFL);
			signal(SIGHUP, SIG_DFL);
			_exit(kube_cache_write_winners(k, err, sizeof(err)) < 0 ?
			      1 : 0);
		}
		if (pid > 0) {
			k->writer = pid;
			kube_timer(k->reap_ev, 100);
			return;
		}
		log_warn("kube cache: fork failed, writing inline error=\"%s\"",
			 strerror(errno));
	}
	kube_cache_write_now(k);
}

static void kube_cache_cb(evutil_socket_t fd, short what, void *arg)
{
	kube_cache_flush(arg, false);
}

static void kube_reap_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kube_src *k = arg;
	int st;
	pid_t r = waitpid(k->writer, &st, WNOHANG);

	if (r == 0) {
		kube_timer(k->reap_ev, 100);
		return;
	}
	k->writer = 0;
	if (r < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		log_warn("kube cache not written file=%s (the writer failed; "
			 "retrying)", k->cache_file);
		kube_cache_schedule(k);
	} else {
		log_debug("kube cache written file=%s", k->cache_file);
	}
}

/* At most one write every KUBE_CACHE_GAP_MS (30 s), however fast the
 * API changes: a write of a large cache costs real CPU. */
static void kube_cache_schedule(struct kube_src *k)
{
	struct timespec now;
	int64_t since;

	if (!k->cache_file)
		return;
	k->cache_dirty = true;
	if (evtimer_pending(k->cache_ev, NULL))
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	since = (int64_t)(now.tv_sec - k->cache_last.tv_sec) * 1000 +
		(now.tv_nsec - k->cache_last.tv_nsec) / 1000000;
	kube_timer(k->cache_ev, since >= KUBE_CACHE_GAP_MS ? 0 :
		   (uint32_t)(KUBE_CACHE_GAP_MS - since));
}

/* ---- the service list ---- */

/* The new list is out: the cache file and the callback follow; then
 * what only the old list showed (the cache file's services) is freed,
 * once the caller no longer reads it. */
static void kube_announce(struct kube_src *k)
{
	struct model_service *cache = NULL;
	size_t ncache = 0;

	if (k->from_cache) {
		cache = k->cache_svcs;
		ncache = k->ncache;
		free(k->cache_list);
		k->cache_svcs = NULL;
		k->cache_list = NULL;
		k->ncache = 0;
		k->from_cache = false;
		k->changes_all = true;
	}
	kube_cache_schedule(k);
	if (k->fn)
		k->fn(k->arg);
	kubeidx_release(k->idx);
	kubefed_services_free(cache, ncache);
}

/* Every object of w's store into x, and those it lacks out of it. */
static void kube_sync_watch(struct kubeidx *x, const struct kube_watch *w)
{
	json_t *store = kube_reflector_store(w->r), *v;
	const char *key;

	json_object_foreach(store, key, v)
		kubeidx_set(x, (enum kubefed_kind)w->kind, key, v);
	kubeidx_prune(x, (enum kubefed_kind)w->kind, w->ns, store);
}

/* The objects w's watch events named (keys) into x. */
static void kube_set_keys(struct kubeidx *x, const struct kube_watch *w,
			  const json_t *keys)
{
	json_t *store = kube_reflector_store(w->r), *v;
	const char *key;

	json_object_foreach((json_t *)keys, key, v)
		kubeidx_set(x, (enum kubefed_kind)w->kind, key,
			    json_object_get(store, key));
}

/* What the reflectors took in since the last turn, into x: the clusters
 * first, so that objects map against them once. */
static void kube_feed(struct kube_src *k, struct kubeidx *x)
{
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < k->nw; i++) {
			struct kube_watch *w = &k->w[i];
			json_t *keys = NULL;
			bool some;

			if ((w->kind == KUBE_CLUSTER) != (pass == 0))
				continue;
			some = kube_reflector_take_changed(w->r, &keys);
			if (w->kind == KUBE_CLUSTER) {
				if (!some || keys)
					kubeidx_set_clusters(
						x, kube_reflector_store(w->r));
			} else if (!some) {
				kube_sync_watch(x, w);
			} else if (keys) {
				kube_set_keys(x, w, keys);
			}
			json_decref(keys);
		}
	}
}

static void kube_remap(struct kube_src *k)
{
	struct kubeidx_stats st;
	bool first = !k->mapped;
	size_t n;
	int rc;

	if (!kube_ready_to_map(k))
		return;
	kube_feed(k, k->idx);
	rc = kubeidx_commit(k->idx);
	k->mapped = true;
	kubeidx_stats(k->idx, &st);
	if (rc == 0 && !first && !k->from_cache) {
		log_debug("kube objects mapped, no change objects=%zu",
			  st.remapped);
		kubeidx_release(k->idx);
		return;
	}
	kubeidx_list(k->idx, &n);
	if (first || k->from_cache)
		log_info("kube services from the API services=%zu%s", n,
			 k->from_cache ? " replacing=cache" : "");
	else
		log_info("kube services changed objects=%zu names=%zu "
			 "services=%zu bad_objects=%u duplicates=%u",
			 st.remapped, st.names, n, st.bad, st.duplicates);
	kube_announce(k);
}

static int64_t kube_us_between(const struct timespec *a,
			       const struct timespec *b)
{
	return (int64_t)(b->tv_sec - a->tv_sec) * 1000000 +
		(b->tv_nsec - a->tv_nsec) / 1000;
}

static void kube_coalesce_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kube_src *k = arg;
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	kube_remap(k); /* also the daemon's rebuild, through the callback */
	clock_gettime(CLOCK_MONOTONIC, &k->remap_end);
	k->remap_cost_us = kube_us_between(&t0, &k->remap_end);
}

static void kube_refl_cb(void *arg, struct kube_reflector *r,
			 enum kube_refl_event ev)
{
	struct kube_src *k = arg;

	/* A state change matters before the first mapping: an optional
	 * resource the API refuses can be what it waits for. */
	if (ev != KUBE_REFL_CHANGED && k->mapped)
		return;
	if (evtimer_pending(k->coalesce, NULL))
		return;
	/* A remap costs the control thread what the objects that changed
	 * cost, plus the daemon's rebuild in the callback (the whole list
	 * after a relist or a cluster change): under a stream of events,
	 * leave at least three times that between two, so probes keep their
	 * share.  After a quiet spell the first event waits only the usual
	 * window. */
	struct timespec now;
	int64_t wait = KUBE_COALESCE_MS * 1000;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t gap = 3 * k->remap_cost_us - kube_us_between(&k->remap_end,
							     &now);
	if (gap > wait)
		wait = gap;
	kube_timer(k->coalesce, (uint32_t)((wait + 999) / 1000));
}

/* Serve what the cache file knew until the API's first list lands: a
 * stale list for a moment is better than NXDOMAIN, which resolvers would
 * cache for the SOA minimum. */
static void kube_startup_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kube_src *k = arg;
	const struct model_service **list;
	struct model_service *s;
	char err[256];
	size_t n;

	if (k->mapped || !k->cache_file)
		return;
	if (kube_cache_read(k->cache_file, &s, &n, err, sizeof(err)) < 0) {
		log_info("no kube cache to serve until the API's first list "
			 "error=\"%s\"", err);
		return;
	}
	/* Only names in the zone this instance serves now. */
	for (size_t i = 0; i < n; i++) {
		size_t la = strlen(k->apex), ln = strlen(s[i].name);
		if (strcmp(k->apex, ".") && (ln < la ||
		    strcmp(s[i].name + ln - la, k->apex) ||
		    (ln > la && s[i].name[ln - la - 1] != '.'))) {
			log_warn("kube cache entry outside the zone skipped "
				 "name=%s", s[i].name);
			model_service_clear(&s[i]);
			memmove(&s[i], &s[i + 1], (n - i - 1) * sizeof(*s));
			n--;
			i--;
		}
	}
	list = xcalloc(n, sizeof(*list));
	for (size_t i = 0; i < n; i++)
		list[i] = &s[i];
	log_info("serving the kube cache until the API's first list file=%s "
		 "services=%zu", k->cache_file, n);
	k->cache_svcs = s;
	k->cache_list = list;
	k->ncache = n;
	k->from_cache = true;
	k->changes_all = true;
	if (k->fn)
		k->fn(k->arg);
}

/* ---- set-up ---- */

static void kube_watch_add(struct kube_src *k, enum kube_kind kind,
			   const char *ns, const char *res, uint32_t resync)
{
	const char *group = kind == KUBE_CLUSTER ? KUBE_CORE : KUBE_MCDNS;
	struct kube_watch *w = &k->w[k->nw++]; /* kube_free takes any part */
	char path[512], what[160];

	w->kind = kind;
	if (ns) {
		snprintf(path, sizeof(path), "%s/namespaces/%s/%s", group, ns,
			 res);
		snprintf(what, sizeof(what), "%s/%s", ns, res);
	} else {
		snprintf(path, sizeof(path), "%s/%s", group, res);
		snprintf(what, sizeof(what), "%s", res);
	}
	if (ns)
		w->ns = xstrdup(ns);
	w->r = kube_reflector_new(k->cl, path, what, resync, kube_refl_cb, k);
}

static void kube_watches(struct kube_src *k, const struct model_kube *c)
{
	size_t nns = c->nnamespaces ? c->nnamespaces : 1;
	const char *fedns = c->kubefed_namespace ? c->kubefed_namespace :
			    "kube-federation-system";

	k->w = xcalloc(nns * 3 + 1, sizeof(*k->w));
	kube_watch_add(k, KUBE_CLUSTER, fedns, "kubefedclusters",
		       c->resync_ms);
	for (size_t i = 0; i < nns; i++) {
		const char *ns = c->nnamespaces ? c->namespaces[i] : NULL;
		kube_watch_add(k, KUBE_SDR, ns, "servicednsrecords",
			       c->resync_ms);
		if (c->ingressdnsrecords)
			kube_watch_add(k, KUBE_IDR, ns, "ingressdnsrecords",
				       c->resync_ms);
		if (c->dnsendpoints)
			kube_watch_add(k, KUBE_DNSEP, ns, "dnsendpoints",
				       c->resync_ms);
	}
}

static char *kube_apex(const char *a)
{
	size_t l = strlen(a);
	char *s = xmalloc(l + 2);

	for (size_t i = 0; i < l; i++)
		s[i] = (char)(a[i] >= 'A' && a[i] <= 'Z' ? a[i] + 32 : a[i]);
	if (l && a[l - 1] == '.')
		s[l] = '\0';
	else
		memcpy(s + l, ".", 2);
	return s;
}

struct kube_src *kube_new(struct event_base *base,
			  const struct model_kube *conf,
			  const char *zone_apex,
			  const struct probe_spec *defaults,
			  kube_change_fn fn, void *arg,
			  char *err, size_t errlen)
{
	struct kube_creds creds;
	struct kube_src *k;

	if (conf->kubeconfig) {
		if (kube_creds_kubeconfig(&creds, conf->kubeconfig,
					  conf->context, err, errlen) < 0)
			return NULL;
	} else if (kube_creds_in_cluster(&creds, err, errlen) < 0) {
		return NULL;
	}
	k = xcalloc(1, sizeof(*k));
	k->base = base;
	k->fn = fn;
	k->arg = arg;
	k->policy = conf->policy;
	k->ttl = conf->ttl;
	k->max_answers = conf->max_answers;
	log_info("kube source starting server=%s credentials=\"%s\" "
		 "namespaces=%zu dnsendpoints=%s ingressdnsrecords=%s",
		 creds.server, creds.source, conf->nnamespaces,
		 conf->dnsendpoints ? "yes" : "no",
		 conf->ingressdnsrecords ? "yes" : "no");
	if (!(k->cl = kube_client_new(base, &creds, conf->timeout_ms))) {
		snprintf(err, errlen, "libcurl cannot start");
		kube_free(k);
		return NULL;
	}
	k->apex = kube_apex(zone_apex);
	k->coalesce = evtimer_new(base, kube_coalesce_cb, k);
	k->startup = evtimer_new(base, kube_startup_cb, k);
	k->cache_ev = evtimer_new(base, kube_cache_cb, k);
	k->reap_ev = evtimer_new(base, kube_reap_cb, k);
	if (!k->coalesce || !k->startup || !k->cache_ev || !k->reap_ev)
		xalloc_die(sizeof(struct event *));
	if (conf->cache_file)
		k->cache_file = xstrdup(conf->cache_file);
	if (defaults)
		probe_spec_copy(&k->defaults, defaults);
	k->idx = kube_idx_new(k);
	kube_watches(k, conf);
	if (k->cache_file)
		kube_timer(k->startup, 0);
	return k;
}

static bool kube_streq(const char *a, const char *b)
{
	if (!a || !b)
		return a == b;
	return !strcmp(a, b);
}

bool kube_conf_same_source(const struct model_kube *a,
			   const struct model_kube *b)
{
	if (a->enabled != b->enabled || !kube_streq(a->kubeconfig,
						    b->kubeconfig) ||
	    !kube_streq(a->context, b->context) ||
	    !kube_streq(a->kubefed_namespace, b->kubefed_namespace) ||
	    !kube_streq(a->cache_file, b->cache_file) ||
	    a->resync_ms != b->resync_ms || a->timeout_ms != b->timeout_ms ||
	    a->dnsendpoints != b->dnsendpoints ||
	    a->ingressdnsrecords != b->ingressdnsrecords ||
	    a->nnamespaces != b->nnamespaces)
		return false;
	for (size_t i = 0; i < a->nnamespaces; i++)
		if (strcmp(a->namespaces[i], b->namespaces[i]))
			return false;
	return true;
}

void kube_update(struct kube_src *k, const struct model_kube *conf,
		 const char *zone_apex, const struct probe_spec *defaults)
{
	free(k->apex);
	k->apex = kube_apex(zone_apex);
	probe_spec_clear(&k->defaults);
	if (defaults)
		probe_spec_copy(&k->defaults, defaults);
	k->policy = conf->policy;
	k->ttl = conf->ttl;
	k->max_answers = conf->max_answers;
	/* Every object is mapped again, and what is said about it said
	 * anew: it may read differently now. */
	struct kubefed_opts o = kube_opts(k);
	kubeidx_set_opts(k->idx, &o);
	kube_timer(k->coalesce, 0);
}

const struct model_service *const *kube_service_list(const struct kube_src *k,
						     size_t *n)
{
	if (k->from_cache) {
		*n = k->ncache;
		return k->cache_list;
	}
	return kubeidx_list(k->idx, n);
}

const struct model_service *const *kube_services(const struct kube_src *k,
						 size_t *n)
{
	return kube_service_list(k, n);
}

bool kube_take_changes(struct kube_src *k, const char *const **names,
		       size_t *n)
{
	bool some = kubeidx_take_changes(k->idx, names, n);

	if (k->changes_all || k->from_cache) {
		k->changes_all = false;
		*names = NULL;
		*n = 0;
		return false;
	}
	return some;
}

void kube_free(struct kube_src *k)
{
	if (!k)
		return;
	/* A write in progress finishes first (its file would otherwise be
	 * renamed over the newer one below); then the newest list is
	 * written, so that it survives the restart that follows. */
	if (k->writer > 0) {
		int st;
		while (waitpid(k->writer, &st, 0) < 0 && errno == EINTR)
			;
	}
	if (k->cache_dirty)
		kube_cache_flush(k, true);
	for (size_t i = 0; i < k->nw; i++) {
		kube_reflector_free(k->w[i].r);
		free(k->w[i].ns);
	}
	free(k->w);
	kube_client_free(k->cl);
	if (k->coalesce)
		event_free(k->coalesce);
	if (k->startup)
		event_free(k->startup);
	if (k->cache_ev)
		event_free(k->cache_ev);
	if (k->reap_ev)
		event_free(k->reap_ev);
	kubeidx_free(k->idx);
	kubefed_services_free(k->cache_svcs, k->ncache);
	free(k->cache_list);
	probe_spec_clear(&k->defaults);
	free(k->apex);
	free(k->cache_file);
	free(k);
}

void kube_get_status(const struct kube_src *k, struct kube_status *st)
{
	bool have_err = false;
	size_t n;

	memset(st, 0, sizeof(*st));
	st->connected = k->nw > 0;
	st->synced = k->nw > 0;
	st->from_cache = k->from_cache;
	kube_service_list(k, &n);
	st->services = (uint32_t)n;
	st->errors = k->bad;
	for (size_t i = 0; i < k->nw; i++) {
		struct kube_refl_stats rs;

		kube_reflector_stats(k->w[i].r, &rs);
		st->connected = st->connected && rs.connected;
		st->synced = st->synced && rs.synced;
		if (rs.last_sync > st->last_sync)
			st->last_sync = rs.last_sync;
		st->relists += rs.lists > 1 ? rs.lists - 1 : 0;
		st->watch_events += rs.events;
		st->errors += rs.errors;
		if (!have_err && rs.last_error[0] && !rs.ok) {
			snprintf(st->last_error, sizeof(st->last_error), "%s",
				 rs.last_error);
			have_err = true;
		}
	}
	for (size_t i = 0; !have_err && i < k->nw; i++) {
		struct kube_refl_stats rs;

		kube_reflector_stats(k->w[i].r, &rs);
		if (rs.last_error[0]) {
			snprintf(st->last_error, sizeof(st->last_error), "%s",
				 rs.last_error);
			have_err = true;
		}
	}
}
