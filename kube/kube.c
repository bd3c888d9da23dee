/* kube.c -- see kube.h.  Glue: reflectors (client.c) feed the KubeFed
 * mapping (kubefed.c); the result is kept, compared, cached (cache.c)
 * and announced through the coalesced change callback. */
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
#include "lib/log.h"

#define KUBE_COALESCE_MS   50
#define KUBE_CACHE_GAP_MS  30000 /* writing 50,000 services costs ~0.5 s of CPU */

#define KUBE_MCDNS "/apis/multiclusterdns.kubefed.io/v1alpha1"
#define KUBE_CORE  "/apis/core.kubefed.io/v1beta1"

enum kube_kind { KUBE_SDR, KUBE_DNSEP, KUBE_CLUSTER, KUBE_NKINDS };

struct kube_watch {
	enum kube_kind kind;
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
	char *cache_file;
	kube_change_fn fn;
	void *arg;
	struct model_service *svcs;
	size_t nsvcs;
	bool from_cache;
	bool mapped;           /* a mapping from the API has been made */
	struct event *coalesce;
	struct timespec remap_end; /* when the last remap finished */
	int64_t remap_cost_ms;     /* and what it took, with the rebuild */
	struct event *startup;
	struct event *cache_ev;
	pid_t writer;            /* a child writing the cache, or 0 */
	struct event *reap_ev;   /* polls for it to finish */
	bool cache_dirty;
	struct timespec cache_last;
	json_t *seen_prev, *seen_cur; /* messages of the last mapping */
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

/* Mapping messages: each is logged when it first appears, not again
 * while the object stays as it is. */
static void kube_map_log(void *arg, enum log_level lvl, const char *msg)
{
	struct kube_src *k = arg;

	if (k->seen_cur && !json_object_get(k->seen_cur, msg))
		json_object_set_new(k->seen_cur, msg, json_true());
	if (k->seen_prev && json_object_get(k->seen_prev, msg))
		return;
	if (!strncmp(msg, "kube object skipped", 19))
		k->bad++;
	log_msg(lvl, "%s", msg);
}

/* ---- the cache file ---- */

static void kube_cache_schedule(struct kube_src *k);

static void kube_cache_write_now(struct kube_src *k)
{
	char err[256];

	if (kube_cache_write(k->cache_file, k->svcs, k->nsvcs, err,
			     sizeof(err)) < 0)
		log_warn("kube cache not written file=%s error=\"%s\"",
			 k->cache_file, err);
	else
		log_debug("kube cache written file=%s services=%zu",
			  k->cache_file, k->nsvcs);
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
			_exit(kube_cache_write(k->cache_file, k->svcs, k->nsvcs,
					       err, sizeof(err)) < 0 ? 1 : 0);
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
		log_debug("kube cache written file=%s services=%zu",
			  k->cache_file, k->nsvcs);
	}
}

/* At most one write a second, however fast the API changes. */
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

/* New services in place; the old ones live until fn has returned, so
 * that a caller still holding them while it composes is safe. */
static void kube_replace(struct kube_src *k, struct model_service *s,
			 size_t n)
{
	struct model_service *old = k->svcs;
	size_t nold = k->nsvcs;

	k->svcs = s;
	k->nsvcs = n;
	if (k->fn)
		k->fn(k->arg);
	kubefed_services_free(old, nold);
}

static int kube_collect(const struct kube_src *k, json_t **arrs)
{
	for (int i = 0; i < KUBE_NKINDS; i++)
		if (!(arrs[i] = json_array()))
			return -1;
	for (size_t i = 0; i < k->nw; i++) {
		json_t *store = kube_reflector_store(k->w[i].r), *v;
		const char *key;

		json_object_foreach(store, key, v)
			if (json_array_append(arrs[k->w[i].kind], v) < 0)
				return -1;
	}
	return 0;
}

static void kube_remap(struct kube_src *k)
{
	struct kubefed_opts o = {
		.apex = k->apex, .policy = k->policy, .ttl = k->ttl,
		.defaults = &k->defaults, .log = kube_map_log, .log_arg = k,
	};
	json_t *arrs[KUBE_NKINDS] = { NULL };
	struct model_service *s = NULL;
	struct kubefed_stats st;
	size_t n = 0;
	bool first = !k->mapped;

	if (!kube_ready_to_map(k))
		return;
	k->seen_cur = json_object();
	if (!k->seen_cur || kube_collect(k, arrs) < 0 ||
	    kubefed_map(arrs[KUBE_SDR], arrs[KUBE_CLUSTER], arrs[KUBE_DNSEP],
			&o, &s, &n, &st) < 0) {
		/* The next event or resync tries again. */
		log_err("kube mapping failed: out of memory, keeping the "
			"previous services");
		json_decref(k->seen_cur);
		k->seen_cur = NULL;
		goto out;
	}
	json_decref(k->seen_prev);
	k->seen_prev = k->seen_cur;
	k->seen_cur = NULL;
	k->mapped = true;
	if (!k->from_cache && !first &&
	    kubefed_services_equal(s, n, k->svcs, k->nsvcs)) {
		kubefed_services_free(s, n);
		goto out;
	}
	if (first || k->from_cache)
		log_info("kube services from the API services=%zu%s", n,
			 k->from_cache ? " replacing=cache" : "");
	else
		log_info("kube services changed services=%zu bad_objects=%u "
			 "duplicates=%u", n, st.bad, st.duplicates);
	k->from_cache = false;
	kube_cache_schedule(k);
	kube_replace(k, s, n);
out:
	for (int i = 0; i < KUBE_NKINDS; i++)
		json_decref(arrs[i]);
}

static int64_t kube_ms_between(const struct timespec *a,
			       const struct timespec *b)
{
	return (int64_t)(b->tv_sec - a->tv_sec) * 1000 +
		(b->tv_nsec - a->tv_nsec) / 1000000;
}

static void kube_coalesce_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kube_src *k = arg;
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	kube_remap(k); /* also the daemon's rebuild, through the callback */
	clock_gettime(CLOCK_MONOTONIC, &k->remap_end);
	k->remap_cost_ms = kube_ms_between(&t0, &k->remap_end);
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
	/* A remap of a large cluster costs real time on the control thread
	 * (~0.25 s at 10,000 records): under a stream of events, leave at
	 * least three times that between two, so probes keep their share.
	 * After a quiet spell the first event waits only the usual window. */
	struct timespec now;
	int64_t wait = KUBE_COALESCE_MS;
	clock_gettime(CLOCK_MONOTONIC, &now);
	int64_t gap = 3 * k->remap_cost_ms - kube_ms_between(&k->remap_end, &now);
	if (gap > wait)
		wait = gap;
	kube_timer(k->coalesce, (uint32_t)wait);
}

/* Serve what the cache file knew until the API's first list lands: a
 * stale list for a moment is better than NXDOMAIN, which resolvers would
 * cache for the SOA minimum. */
static void kube_startup_cb(evutil_socket_t fd, short what, void *arg)
{
	struct kube_src *k = arg;
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
	log_info("serving the kube cache until the API's first list file=%s "
		 "services=%zu", k->cache_file, n);
	k->from_cache = true;
	kube_replace(k, s, n);
}

/* ---- set-up ---- */

static int kube_watch_add(struct kube_src *k, enum kube_kind kind,
			  const char *ns, const char *res, uint32_t resync)
{
	const char *group = kind == KUBE_CLUSTER ? KUBE_CORE : KUBE_MCDNS;
	char path[512], what[160];
	struct kube_reflector *r;

	if (ns) {
		snprintf(path, sizeof(path), "%s/namespaces/%s/%s", group, ns,
			 res);
		snprintf(what, sizeof(what), "%s/%s", ns, res);
	} else {
		snprintf(path, sizeof(path), "%s/%s", group, res);
		snprintf(what, sizeof(what), "%s", res);
	}
	if (!(r = kube_reflector_new(k->cl, path, what, resync, kube_refl_cb,
				     k)))
		return -1;
	k->w[k->nw].kind = kind;
	k->w[k->nw].r = r;
	k->nw++;
	return 0;
}

static int kube_watches(struct kube_src *k, const struct model_kube *c)
{
	size_t nns = c->nnamespaces ? c->nnamespaces : 1;
	const char *fedns = c->kubefed_namespace ? c->kubefed_namespace :
			    "kube-federation-system";

	if (!(k->w = calloc(nns * 2 + 1, sizeof(*k->w))))
		return -1;
	if (kube_watch_add(k, KUBE_CLUSTER, fedns, "kubefedclusters",
			   c->resync_ms) < 0)
		return -1;
	for (size_t i = 0; i < nns; i++) {
		const char *ns = c->nnamespaces ? c->namespaces[i] : NULL;
		if (kube_watch_add(k, KUBE_SDR, ns, "servicednsrecords",
				   c->resync_ms) < 0 ||
		    (c->dnsendpoints &&
		     kube_watch_add(k, KUBE_DNSEP, ns, "dnsendpoints",
				    c->resync_ms) < 0))
			return -1;
	}
	return 0;
}

static char *kube_apex(const char *a)
{
	size_t l = strlen(a);
	char *s = malloc(l + 2);

	if (!s)
		return NULL;
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
	if (!(k = calloc(1, sizeof(*k)))) {
		kube_creds_clear(&creds);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	k->base = base;
	k->fn = fn;
	k->arg = arg;
	k->policy = conf->policy;
	k->ttl = conf->ttl;
	log_info("kube source starting server=%s credentials=\"%s\" "
		 "namespaces=%zu dnsendpoints=%s", creds.server, creds.source,
		 conf->nnamespaces, conf->dnsendpoints ? "yes" : "no");
	k->cl = kube_client_new(base, &creds, conf->timeout_ms);
	k->apex = kube_apex(zone_apex);
	k->coalesce = evtimer_new(base, kube_coalesce_cb, k);
	k->startup = evtimer_new(base, kube_startup_cb, k);
	k->cache_ev = evtimer_new(base, kube_cache_cb, k);
	k->reap_ev = evtimer_new(base, kube_reap_cb, k);
	if (!k->cl || !k->apex || !k->coalesce || !k->startup ||
	    !k->cache_ev || !k->reap_ev ||
	    (conf->cache_file && !(k->cache_file = strdup(conf->cache_file))) ||
	    (defaults && probe_spec_copy(&k->defaults, defaults) < 0) ||
	    kube_watches(k, conf) < 0) {
		snprintf(err, errlen, "out of memory");
		kube_free(k);
		return NULL;
	}
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
	    a->nnamespaces != b->nnamespaces)
		return false;
	for (size_t i = 0; i < a->nnamespaces; i++)
		if (strcmp(a->namespaces[i], b->namespaces[i]))
			return false;
	return true;
}

int kube_update(struct kube_src *k, const struct model_kube *conf,
		const char *zone_apex, const struct probe_spec *defaults)
{
	struct probe_spec d = { 0 };
	char *apex = kube_apex(zone_apex);

	if (!apex || (defaults && probe_spec_copy(&d, defaults) < 0)) {
		free(apex);
		return -1;
	}
	free(k->apex);
	k->apex = apex;
	probe_spec_clear(&k->defaults);
	k->defaults = d;
	k->policy = conf->policy;
	k->ttl = conf->ttl;
	/* Messages about objects may read differently now: say them anew. */
	json_decref(k->seen_prev);
	k->seen_prev = NULL;
	kube_timer(k->coalesce, 0);
	return 0;
}

const struct model_service *kube_services(const struct kube_src *k,
					  size_t *n)
{
	*n = k->nsvcs;
	return k->svcs;
}

const struct model_service *const *kube_service_list(const struct kube_src *k,
						     size_t *n)
{
	*n = 0;
	return NULL;
}

bool kube_take_changes(struct kube_src *k, const char *const **names,
		       size_t *n)
{
	*names = NULL;
	*n = 0;
	return false;
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
	for (size_t i = 0; i < k->nw; i++)
		kube_reflector_free(k->w[i].r);
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
	kubefed_services_free(k->svcs, k->nsvcs);
	probe_spec_clear(&k->defaults);
	json_decref(k->seen_prev);
	json_decref(k->seen_cur);
	free(k->apex);
	free(k->cache_file);
	free(k);
}

void kube_get_status(const struct kube_src *k, struct kube_status *st)
{
	bool have_err = false;

	memset(st, 0, sizeof(*st));
	st->connected = k->nw > 0;
	st->synced = k->nw > 0;
	st->from_cache = k->from_cache;
	st->services = (uint32_t)k->nsvcs;
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
