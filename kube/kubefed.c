/* kubefed.c -- see kubefed.h.  Field names follow kubefed's
 * pkg/apis/multiclusterdns/v1alpha1 and core/v1beta1 Go types. */
#include "config.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "kube/client.h"
#include "kube/kubefed.h"
#include "lib/parse.h"
#include "lib/xalloc.h"

#define KF_TTL_MAX 2147483647u /* RFC 2181 8 */
#define KF_NAME_MAX 253        /* presentation, without the final dot */
/* Addresses in one list (a DNSEndpoint's targets, a load balancer's
 * ingress): far more than any real one, and small enough that checking
 * a list for duplicates stays cheap on the control thread. */
#define KF_ADDRS_MAX 256

/* A service being built, and who asked for it. */
struct kf_cand {
	struct model_service svc;
	char owner[320];  /* "ServiceDNSRecord ns/name" */
	size_t seq;       /* order of generation: first one wins a name */
	bool derived;     /* a DNSEndpoint that KubeFed made from an SDR */
};

struct kf_ready {
	char *name;
	bool ready;
	size_t pos;  /* in the input: the first of a name counts */
};

struct kubefed_clusters {
	struct kf_ready *v; /* sorted by name, one per name */
	size_t n;
};

struct kf {
	const struct kubefed_opts *o;
	struct kubefed_stats st;
	struct kf_cand *c;
	size_t n, cap;
	const struct kubefed_clusters *ready;
	uint32_t max_answers; /* of the object being mapped */
};

/* One object being mapped, for messages. */
struct kf_obj {
	const char *kind;
	char id[300];
	const json_t *j;
};

/* A status.dns[] entry. */
struct kf_cl {
	const char *cluster, *region; /* region: "" when not given */
	const json_t *zones;          /* array of strings, or NULL */
	const char *zone;             /* the older single zone */
	struct model_addr *addrs;
	size_t naddrs;
	char **hosts;       /* load balancers by name, normalised */
	size_t nhosts;
	bool ready;
};

/* ---- logging ---- */

static void kf_say(const struct kubefed_opts *o, enum log_level lvl,
		   const char *msg)
{
	if (o->log)
		o->log(o->log_arg, lvl, msg);
	else
		log_msg(lvl, "%s", msg);
}

static void kf_log(struct kf *k, enum log_level lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void kf_log(struct kf *k, enum log_level lvl, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	kf_say(k->o, lvl, msg);
}

/* A malformed object: said once by the caller's dedup, then skipped. */
#define kf_bad(k, ob, fmt, ...) do { \
	(k)->st.bad++; \
	kf_log((k), LOG_LVL_WARN, "kube object skipped: %s %s: " fmt, \
	       (ob)->kind, (ob)->id, __VA_ARGS__); \
} while (0)

/* ---- names ---- */

static bool kf_label_ok(const char *s, size_t len)
{
	if (len == 0 || len > 63)
		return false;
	for (size_t i = 0; i < len; i++)
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '_')
			return false;
	return true;
}

/*
 * parts joined with dots, lower case, with a final dot.  Each part may
 * hold several labels; one trailing dot on a part is dropped.  Returns
 * 0, or -1 for an invalid name.
 */
static int kf_join(const char *const *parts, size_t n, char **out)
{
	char buf[KF_NAME_MAX + 2];
	size_t len = 0;

	*out = NULL;
	for (size_t i = 0; i < n; i++) {
		const char *p = parts[i];
		size_t pl = strlen(p);

		if (pl && p[pl - 1] == '.')
			pl--;
		if (!pl || len + pl + 1 > KF_NAME_MAX + 1)
			return -1;
		for (size_t s = 0, e; s <= pl; s = e + 1) {
			const char *dot = memchr(p + s, '.', pl - s);
			e = dot ? (size_t)(dot - p) : pl;
			if (!kf_label_ok(p + s, e - s))
				return -1;
		}
		for (size_t j = 0; j < pl; j++)
			buf[len++] = (char)tolower((unsigned char)p[j]);
		buf[len++] = '.';
	}
	if (len - 1 > KF_NAME_MAX)
		return -1;
	buf[len] = '\0';
	*out = xstrdup(buf);
	return 0;
}

static bool kf_in_zone(const char *apex, const char *name)
{
	size_t la = strlen(apex), ln = strlen(name);

	if (!strcmp(apex, "."))
		return true;
	if (ln < la || strcmp(name + ln - la, apex))
		return false;
	return ln == la || name[ln - la - 1] == '.';
}

/* A checked, in-zone name; NULL after saying why. */
static char *kf_name(struct kf *k, const struct kf_obj *ob,
		     const char *const *parts, size_t n)
{
	char *name, shown[300] = "";

	if (kf_join(parts, n, &name) < 0) {
		for (size_t i = 0; i < n; i++)
			snprintf(shown + strlen(shown),
				 sizeof(shown) - strlen(shown), "%s%s",
				 i ? "." : "", parts[i]);
		k->st.skipped++;
		kf_log(k, LOG_LVL_WARN, "kube name skipped: %s %s: '%s' is "
		       "not a valid DNS name", ob->kind, ob->id, shown);
		return NULL;
	}
	if (!kf_in_zone(k->o->apex, name)) {
		k->st.skipped++;
		kf_log(k, LOG_LVL_WARN, "kube name skipped: %s %s: %s is "
		       "outside the zone %s", ob->kind, ob->id, name,
		       k->o->apex);
		free(name);
		return NULL;
	}
	return name;
}

/* ---- JSON field access with types checked ---- */

/* 1: a string (*out), 0: absent or null, -1: another type. */
static int kf_str(const json_t *o, const char *key, const char **out)
{
	const json_t *v = json_object_get(o, key);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return -1;
	*out = json_string_value(v);
	return **out ? 1 : 0;
}

static bool kf_is_opt(const json_t *o, const char *key,
		      int (*is)(const json_t *))
{
	const json_t *v = json_object_get(o, key);

	return !v || json_is_null(v) || is(v);
}

static int kf_is_arr(const json_t *v) { return json_is_array(v); }

/* ---- annotations ---- */

static const char *kf_ann(const json_t *ann, const char *key)
{
	char full[64];

	snprintf(full, sizeof(full), KUBEFED_ANN_PREFIX "%s", key);
	return json_string_value(json_object_get(ann, full));
}

/* The per-object settings: policy, ttl and a probe layer. */
struct kf_ann {
	struct probe_spec ps;
	enum model_policy policy;
	bool has_policy;
	uint32_t ttl;
	bool has_ttl;
	uint32_t max_answers;
	bool has_max_answers;
};

static void kf_ann_bad(struct kf *k, const struct kf_obj *ob,
		       const char *key, const char *v, const char *why)
{
	kf_log(k, LOG_LVL_WARN, "kube annotation ignored: %s %s: "
	       KUBEFED_ANN_PREFIX "%s='%s': %s; using the default",
	       ob->kind, ob->id, key, v, why);
}

/* The probe settings whose rows allow an annotation, each
 * gslbd.io/probe-<key> with the value a config file would give. */
static void kf_ann_probe(struct kf *k, const struct kf_obj *ob,
			 const json_t *ann, struct probe_spec *ps)
{
	for (size_t i = 0; i < PROBE_SPEC_NFIELDS; i++) {
		const struct probe_spec_field *f = &probe_spec_fields[i];
		char key[48], err[PARSE_ERRLEN], *host = NULL;
		const char *v;
		int rc = 0;

		snprintf(key, sizeof(key), "probe-%s", f->key);
		if (!(f->flags & PSF_ANN) || !(v = kf_ann(ann, key)))
			continue;
		/* A Host header: a name, lower case, no final dot. */
		if ((f->flags & PSF_ANN_HOST) &&
		    (rc = kf_join(&v, 1, &host)) == 0)
			host[strlen(host) - 1] = '\0';
		if (rc == 0)
			rc = probe_spec_parse(ps, f, host ? host : v, err,
					      sizeof(err));
		else
			snprintf(err, sizeof(err), "expected a host name");
		free(host);
		if (rc < 0)
			kf_ann_bad(k, ob, key, v, err);
	}
}

static bool kf_ann_known(const char *name)
{
	const struct probe_spec_field *f;

	if (!strcmp(name, "policy") || !strcmp(name, "ttl") ||
	    !strcmp(name, "max-answers"))
		return true;
	return !strncmp(name, "probe-", 6) &&
	       (f = probe_spec_field(name + 6)) && (f->flags & PSF_ANN);
}

static void kf_ann_read(struct kf *k, const struct kf_obj *ob,
			struct kf_ann *a)
{
	static const char *const policies[] = { "all", "failover", "weighted",
						"topology", NULL };
	const json_t *ann = json_object_get(json_object_get(ob->j,
							    "metadata"),
					    "annotations");
	size_t pl = strlen(KUBEFED_ANN_PREFIX);
	char err[PARSE_ERRLEN];
	const char *key, *v;
	const json_t *val;
	uint64_t x;
	int i;

	memset(a, 0, sizeof(*a));
	if (!json_is_object(ann))
		return;
	json_object_foreach((json_t *)ann, key, val) {
		if (!strncmp(key, KUBEFED_ANN_PREFIX, pl) &&
		    !kf_ann_known(key + pl))
			kf_log(k, LOG_LVL_WARN, "kube annotation ignored: %s "
			       "%s: unknown annotation %s", ob->kind, ob->id,
			       key);
	}
	kf_ann_probe(k, ob, ann, &a->ps);
	if ((v = kf_ann(ann, "policy"))) {
		if (parse_enum(v, policies, "policy", &i, err,
			       sizeof(err)) == 0) {
			a->policy = (enum model_policy)i;
			a->has_policy = true;
		} else {
			kf_ann_bad(k, ob, "policy", v, err);
		}
	}
	if ((v = kf_ann(ann, "ttl"))) {
		if (!parse_duration_ms(v, &x) && x % 1000 == 0 &&
		    x / 1000 <= KF_TTL_MAX) {
			a->ttl = (uint32_t)(x / 1000);
			a->has_ttl = true;
		} else {
			kf_ann_bad(k, ob, "ttl", v, "expected whole seconds, "
				   "e.g. 30");
		}
	}
	if ((v = kf_ann(ann, "max-answers"))) {
		if (parse_u64(v, &x) == 0 && x <= 65535) {
			a->max_answers = (uint32_t)x;
			a->has_max_answers = true;
		} else {
			kf_ann_bad(k, ob, "max-answers", v, "expected 0 (every "
				   "address) to 65535");
		}
	}
}

/* defaults <- annotations <- built-ins, then the combined checks the
 * config parser makes, dropping the annotations that break them. */
static void kf_probe_resolve(struct kf *k, const struct kf_obj *ob,
			    struct kf_ann *a, const char *host,
			    struct probe_spec *out)
{
	static const struct probe_spec none;
	const struct probe_spec *d = k->o->defaults ? k->o->defaults : &none;

	for (int pass = 0; pass < 3; pass++) {
		memset(out, 0, sizeof(*out));
		probe_spec_overlay(out, d);
		probe_spec_overlay(out, &a->ps);
		probe_spec_finish(out);
		if (out->type != PROBE_NONE &&
		    out->timeout_ms > out->interval_ms &&
		    (a->ps.set & (PS_TIMEOUT | PS_INTERVAL))) {
			kf_log(k, LOG_LVL_WARN, "kube annotation ignored: %s "
			       "%s: probe timeout %ums exceeds the interval "
			       "%ums; using the default interval and timeout",
			       ob->kind, ob->id, out->timeout_ms,
			       out->interval_ms);
			a->ps.set &= ~(uint32_t)(PS_TIMEOUT | PS_INTERVAL);
			probe_spec_clear(out);
			continue;
		}
		if (out->type == PROBE_TCP && !out->port) {
			kf_log(k, LOG_LVL_WARN, "kube annotation ignored: %s "
			       "%s: probe type tcp needs "
			       KUBEFED_ANN_PREFIX "probe-port; probing http",
			       ob->kind, ob->id);
			a->ps.set &= ~(uint32_t)PS_TYPE;
			a->ps.type = PROBE_HTTP;
			a->ps.set |= PS_TYPE;
			probe_spec_clear(out);
			continue;
		}
		break;
	}
	/* Every level of one service probes with the same Host, so the
	 * probes of one address agree whichever name asked. */
	if (!out->host && host) {
		size_t l = strlen(host);
		out->host = xstrndup(host, l && host[l - 1] == '.' ? l - 1 : l);
		out->set |= PS_HOST;
	}
}

/* ---- candidates ---- */

static struct kf_cand *kf_cand_new(struct kf *k, const struct kf_obj *ob,
				   char *name, enum model_policy pol,
				   uint32_t ttl)
{
	struct kf_cand *c;

	if (k->n == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 32;
		k->c = xreallocarray(k->c, cap, sizeof(*k->c));
		k->cap = cap;
	}
	c = &k->c[k->n];
	memset(c, 0, sizeof(*c));
	c->svc.name = name;
	c->svc.policy = pol;
	c->svc.all_down = ALLDOWN_SERVE_ALL;
	c->svc.ttl = ttl;
	c->svc.max_answers = k->max_answers;
	c->svc.source = "kube";
	c->seq = k->n;
	snprintf(c->owner, sizeof(c->owner), "%s %s", ob->kind, ob->id);
	k->n++;
	return c;
}

/* The last candidate goes away again (it got no endpoints). */
static void kf_cand_drop_last(struct kf *k)
{
	model_service_clear(&k->c[--k->n].svc);
}

static struct model_endpoint *kf_ep_add(struct kf *k, struct kf_cand *c,
					size_t room)
{
	struct model_endpoint *ep;

	if (!c->svc.eps)
		c->svc.eps = xcalloc(room, sizeof(*ep));
	ep = &c->svc.eps[c->svc.neps];
	memset(ep, 0, sizeof(*ep));
	ep->weight = 1;
	ep->priority = 1;
	ep->enabled = true;
	return ep;
}

static void kf_ep_fill(struct model_endpoint *ep, const char *region,
		       const char *name, const struct model_addr *addrs,
		       size_t naddrs, const struct probe_spec *ps)
{
	ep->region = xstrdup(region);
	ep->name = xstrdup(name);
	ep->addrs = xcalloc(naddrs, sizeof(*ep->addrs));
	probe_spec_copy(&ep->probe, ps);
	memcpy(ep->addrs, addrs, naddrs * sizeof(*addrs));
	ep->naddrs = naddrs;
}

/* One name of a ServiceDNSRecord: every cluster with addresses, at the
 * priority prio[i] (0: left out). */
static void kf_emit(struct kf *k, const struct kf_obj *ob, char *name,
		    enum model_policy pol, uint32_t ttl,
		    const struct probe_spec *ps, const struct kf_cl *cls,
		    size_t ncl, const uint32_t *prio)
{
	struct kf_cand *c;

	if (!name)
		return;
	c = kf_cand_new(k, ob, name, pol, ttl);
	for (size_t i = 0; i < ncl; i++) {
		struct model_endpoint *ep;

		if ((!cls[i].naddrs && !cls[i].nhosts) || (prio && !prio[i]))
			continue;
		ep = kf_ep_add(k, c, ncl);
		kf_ep_fill(ep, cls[i].region[0] ? cls[i].region :
			   cls[i].cluster, cls[i].cluster, cls[i].addrs,
			   cls[i].naddrs, ps);
		if (cls[i].nhosts) {
			ep->hostnames = xcalloc(cls[i].nhosts,
						sizeof(*ep->hostnames));
			for (size_t j = 0; j < cls[i].nhosts; j++)
				ep->hostnames[j] = xstrdup(cls[i].hosts[j]);
			ep->nhostnames = cls[i].nhosts;
		}
		ep->priority = prio ? prio[i] : 1;
		/* Not through admin: that is the operator's runtime state,
		 * carried across reloads; !enabled is never answered. */
		ep->enabled = cls[i].ready;
		c->svc.neps++;
	}
	/* Clusters sharing a load balancer: each address once. */
	model_service_dedup(&c->svc);
	if (!c->svc.neps)
		kf_cand_drop_last(k);
}

/* ---- KubeFedCluster readiness ---- */

static bool kf_cluster_ready(const json_t *o)
{
	const json_t *conds = json_object_get(json_object_get(o, "status"),
					      "conditions");
	size_t i;
	const json_t *c;

	json_array_foreach(conds, i, c) {
		const char *t = json_string_value(json_object_get(c, "type"));
		const char *s = json_string_value(json_object_get(c,
								  "status"));
		if (t && !strcmp(t, "Ready"))
			return s && !strcmp(s, "True");
	}
	return false;
}

static int kf_ready_name_cmp(const void *pa, const void *pb)
{
	return strcmp(((const struct kf_ready *)pa)->name,
		      ((const struct kf_ready *)pb)->name);
}

static int kf_ready_cmp(const void *pa, const void *pb)
{
	const struct kf_ready *a = pa, *b = pb;
	int c = strcmp(a->name, b->name);

	return c ? c : (a->pos > b->pos) - (a->pos < b->pos);
}

static void kf_ready_add(struct kubefed_clusters *c, const json_t *o)
{
	const char *name = json_string_value(json_object_get(
		json_object_get(o, "metadata"), "name"));

	if (!name)
		return;
	c->v[c->n].name = xstrdup(name);
	c->v[c->n].ready = kf_cluster_ready(o);
	c->v[c->n].pos = c->n;
	c->n++;
}

struct kubefed_clusters *kubefed_clusters_new(const json_t *clusters)
{
	size_t n = json_is_array(clusters) ? json_array_size(clusters) :
		   json_object_size(clusters), i, m = 0;
	struct kubefed_clusters *c = xcalloc(1, sizeof(*c));
	const json_t *o;
	const char *key;

	c->v = xcalloc(n, sizeof(*c->v));
	json_array_foreach(clusters, i, o)
		kf_ready_add(c, o);
	json_object_foreach((json_t *)clusters, key, o)
		kf_ready_add(c, o);
	qsort(c->v, c->n, sizeof(*c->v), kf_ready_cmp);
	for (i = 0; i < c->n; i++) {
		if (m && !strcmp(c->v[m - 1].name, c->v[i].name)) {
			free(c->v[i].name);
			continue;
		}
		c->v[m++] = c->v[i];
	}
	c->n = m;
	return c;
}

bool kubefed_clusters_equal(const struct kubefed_clusters *a,
			    const struct kubefed_clusters *b)
{
	if (a->n != b->n)
		return false;
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->v[i].name, b->v[i].name) ||
		    a->v[i].ready != b->v[i].ready)
			return false;
	return true;
}

void kubefed_clusters_free(struct kubefed_clusters *c)
{
	if (!c)
		return;
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].name);
	free(c->v);
	free(c);
}

/* A cluster with no KubeFedCluster object counts as Ready: the probes
 * still judge its addresses (fail open, as everywhere). */
static bool kf_ready(const struct kf *k, const char *cluster)
{
	struct kf_ready key = { .name = (char *)cluster };
	const struct kf_ready *r;

	if (!k->ready || !k->ready->n)
		return true;
	r = bsearch(&key, k->ready->v, k->ready->n, sizeof(key),
		    kf_ready_name_cmp);
	return r ? r->ready : true;
}

/* ---- ServiceDNSRecord ---- */

static void kf_cls_free_one(struct kf_cl *cl)
{
	free(cl->addrs);
	for (size_t j = 0; j < cl->nhosts; j++)
		free(cl->hosts[j]);
	free(cl->hosts);
}

static void kf_cls_free(struct kf_cl *cls, size_t n)
{
	for (size_t i = 0; i < n; i++)
		kf_cls_free_one(&cls[i]);
	free(cls);
}

/* A load balancer's hostname, as KubeFed resolves it: kept by name
 * (lower case, no final dot) for the daemon's resolver.  0, or -1 when
 * it is not a host name (reported; the entry is skipped). */
static int kf_lb_host(struct kf *k, const struct kf_obj *ob, size_t di,
		      size_t ii, const char *host, struct kf_cl *cl)
{
	char *name;

	if (kf_join(&host, 1, &name) < 0) {
		k->st.skipped++;
		kf_log(k, LOG_LVL_WARN, "kube load balancer skipped: %s %s: "
		       "status.dns[%zu].loadBalancer.ingress[%zu].hostname "
		       "'%s' is not a host name", ob->kind, ob->id, di, ii,
		       host);
		return -1;
	}
	name[strlen(name) - 1] = '\0';
	for (size_t j = 0; j < cl->nhosts; j++) {
		if (!strcmp(cl->hosts[j], name)) {
			free(name);
			return 0;
		}
	}
	if (!cl->hosts)
		cl->hosts = xcalloc(KF_ADDRS_MAX, sizeof(*cl->hosts));
	cl->hosts[cl->nhosts++] = name;
	return 0;
}

static bool kf_addr_dup(const struct kf_cl *cl, const struct model_addr *a)
{
	for (size_t i = 0; i < cl->naddrs; i++)
		if (cl->addrs[i].family == a->family &&
		    !memcmp(&cl->addrs[i].ip, &a->ip, sizeof(a->ip)))
			return true;
	return false;
}

/* loadBalancer.ingress[] of one entry.  Returns 0, -1 (reported). */
static int kf_ingress(struct kf *k, const struct kf_obj *ob, size_t di,
		      const json_t *lb, struct kf_cl *cl)
{
	const json_t *ing, *it;
	size_t i;

	if (!kf_is_opt(lb, "ingress", kf_is_arr) ||
	    (lb && !json_is_object(lb) && !json_is_null(lb))) {
		kf_bad(k, ob, "status.dns[%zu].loadBalancer: wrong type", di);
		return -1;
	}
	ing = json_object_get(lb, "ingress");
	if (json_array_size(ing) > KF_ADDRS_MAX) {
		kf_bad(k, ob, "status.dns[%zu].loadBalancer.ingress: %zu "
		       "entries, more than %d", di, json_array_size(ing),
		       KF_ADDRS_MAX);
		return -1;
	}
	/* Room for each entry's ip and a hostname that is an address. */
	if (json_array_size(ing))
		cl->addrs = xcalloc(2 * json_array_size(ing),
				    sizeof(*cl->addrs));
	json_array_foreach(ing, i, it) {
		const char *ip, *host;
		struct model_addr a;

		if (!json_is_object(it) || kf_str(it, "ip", &ip) < 0 ||
		    kf_str(it, "hostname", &host) < 0) {
			kf_bad(k, ob, "status.dns[%zu].loadBalancer."
			       "ingress[%zu]: wrong type", di, i);
			return -1;
		}
		/* Both, as KubeFed's ExtractLoadBalancerTargets takes
		 * them: the ip, and the hostname's addresses.  A hostname
		 * that is an address resolves to itself, as Go's LookupHost
		 * has it, rather than failing as a name. */
		if (host && model_addr_parse(&a, host) == 0) {
			if (!kf_addr_dup(cl, &a))
				cl->addrs[cl->naddrs++] = a;
		} else if (host) {
			kf_lb_host(k, ob, di, i, host, cl);
		}
		if (!ip)
			continue;
		if (model_addr_parse(&a, ip) < 0) {
			kf_bad(k, ob, "status.dns[%zu].loadBalancer."
			       "ingress[%zu].ip: bad address '%s'", di, i, ip);
			return -1;
		}
		if (!kf_addr_dup(cl, &a))
			cl->addrs[cl->naddrs++] = a;
	}
	return 0;
}

static int kf_dns_entry(struct kf *k, const struct kf_obj *ob, size_t di,
			const json_t *e, struct kf_cl *cl)
{
	const json_t *z;
	size_t i;

	if (!json_is_object(e)) {
		kf_bad(k, ob, "status.dns[%zu]: expected an object", di);
		return -1;
	}
	if (kf_str(e, "cluster", &cl->cluster) <= 0) {
		kf_bad(k, ob, "status.dns[%zu].cluster: missing or not a "
		       "string", di);
		return -1;
	}
	if (kf_str(e, "region", &cl->region) < 0 ||
	    kf_str(e, "zone", &cl->zone) < 0 ||
	    !kf_is_opt(e, "zones", kf_is_arr)) {
		kf_bad(k, ob, "status.dns[%zu]: region or zones of the wrong "
		       "type", di);
		return -1;
	}
	if (!cl->region)
		cl->region = "";
	cl->zones = json_object_get(e, "zones");
	json_array_foreach(cl->zones, i, z) {
		if (!json_is_string(z)) {
			kf_bad(k, ob, "status.dns[%zu].zones[%zu]: not a "
			       "string", di, i);
			return -1;
		}
	}
	cl->ready = kf_ready(k, cl->cluster);
	return kf_ingress(k, ob, di, json_object_get(e, "loadBalancer"), cl);
}

/* Does cluster cl list zone z? */
static bool kf_cl_in_zone(const struct kf_cl *cl, const char *z)
{
	const json_t *v;
	size_t i;

	if (cl->zone && !strcmp(cl->zone, z))
		return true;
	json_array_foreach(cl->zones, i, v)
		if (!strcmp(json_string_value(v), z))
			return true;
	return false;
}

/* Has (zone, region) been emitted by an earlier cluster? */
static bool kf_zone_seen(const struct kf_cl *cls, size_t upto,
			 const char *z, const char *region)
{
	for (size_t i = 0; i < upto; i++)
		if (!strcmp(cls[i].region, region) && kf_cl_in_zone(&cls[i], z))
			return true;
	return false;
}

struct kf_sdr {
	const char *svc, *ns, *fed, *domain, *prefix;
	uint32_t ttl;
	enum model_policy policy;
	bool ttl_from_ann;    /* gslbd.io/ttl beats recordTTL */
};

static void kf_sdr_zone(struct kf *k, const struct kf_obj *ob,
			const struct kf_sdr *d, const struct probe_spec *ps,
			const struct kf_cl *cls, size_t n, const char *z,
			const char *region, uint32_t *prio)
{
	const char *parts[] = { d->svc, d->ns, d->fed, "svc", z, region,
				d->domain };

	for (size_t j = 0; j < n; j++)
		prio[j] = !strcmp(cls[j].region, region) ?
			  (kf_cl_in_zone(&cls[j], z) ? 1 : 2) : 3;
	kf_emit(k, ob, kf_name(k, ob, parts, 7), POLICY_FAILOVER, d->ttl, ps,
		cls, n, prio);
}

static void kf_sdr_levels(struct kf *k, const struct kf_obj *ob,
			  const struct kf_sdr *d, const struct probe_spec *ps,
			  const struct kf_cl *cls, size_t n)
{
	const char *global[] = { d->svc, d->ns, d->fed, "svc", d->domain };
	const char *prefix[] = { d->prefix, d->domain };
	uint32_t *prio = xcalloc(n, sizeof(*prio));
	char *gname;

	if (!(gname = kf_name(k, ob, global, 5))) {
		free(prio);
		return;
	}
	kf_emit(k, ob, gname, d->policy, d->ttl, ps, cls, n, NULL);
	if (d->prefix)
		kf_emit(k, ob, kf_name(k, ob, prefix, 2), d->policy, d->ttl,
			ps, cls, n, NULL);
	for (size_t i = 0; i < n; i++) {
		const char *r = cls[i].region;
		const char *rparts[] = { d->svc, d->ns, d->fed, "svc", r,
					 d->domain };
		const json_t *zv;
		size_t zi;
		bool seen = false;

		if (!r[0])
			continue;
		for (size_t j = 0; j < i && !seen; j++)
			seen = !strcmp(cls[j].region, r);
		if (!seen) {
			for (size_t j = 0; j < n; j++)
				prio[j] = !strcmp(cls[j].region, r) ? 1 : 2;
			kf_emit(k, ob, kf_name(k, ob, rparts, 6),
				POLICY_FAILOVER, d->ttl, ps, cls, n, prio);
		}
		if (cls[i].zone && !kf_zone_seen(cls, i, cls[i].zone, r))
			kf_sdr_zone(k, ob, d, ps, cls, n, cls[i].zone, r, prio);
		json_array_foreach(cls[i].zones, zi, zv) {
			const char *z = json_string_value(zv);
			bool dup = kf_zone_seen(cls, i, z, r) ||
				   (cls[i].zone && !strcmp(cls[i].zone, z));
			for (size_t y = 0; y < zi && !dup; y++)
				dup = !strcmp(json_string_value(
					json_array_get(cls[i].zones, y)), z);
			if (!dup)
				kf_sdr_zone(k, ob, d, ps, cls, n, z, r, prio);
		}
	}
	free(prio);
}

/* The spec and status fields; 1 to go on, 0 to skip quietly, -1 bad. */
static int kf_sdr_fields(struct kf *k, const struct kf_obj *ob,
			 struct kf_sdr *d)
{
	const json_t *spec = json_object_get(ob->j, "spec");
	const json_t *status = json_object_get(ob->j, "status");
	const json_t *ttl;
	const char *suffix = NULL, *fn = NULL;

	if ((spec && !json_is_object(spec)) ||
	    (status && !json_is_object(status) && !json_is_null(status))) {
		kf_bad(k, ob, "%s", "spec or status is not an object");
		return -1;
	}
	if (kf_str(spec, "domainRef", &d->fed) < 0 ||
	    kf_str(spec, "federationName", &fn) < 0 ||
	    kf_str(spec, "dnsSuffix", &suffix) < 0 ||
	    kf_str(spec, "externalName", &d->svc) < 0 ||
	    kf_str(spec, "dnsPrefix", &d->prefix) < 0 ||
	    kf_str(status, "domain", &d->domain) < 0) {
		kf_bad(k, ob, "%s", "a string field of spec or status has "
		       "another type");
		return -1;
	}
	if (!d->fed)
		d->fed = fn;
	if (!d->domain)
		d->domain = suffix;
	if (!d->fed) {
		kf_bad(k, ob, "%s", "spec.domainRef (or spec.federationName) "
		       "is missing");
		return -1;
	}
	ttl = json_object_get(spec, "recordTTL");
	if (ttl && !json_is_null(ttl)) {
		if (!json_is_integer(ttl) || json_integer_value(ttl) < 0 ||
		    json_integer_value(ttl) > (json_int_t)KF_TTL_MAX) {
			kf_bad(k, ob, "%s", "spec.recordTTL is not a TTL");
			return -1;
		}
		if (json_integer_value(ttl) > 0)
			d->ttl = (uint32_t)json_integer_value(ttl);
	}
	if (!kf_is_opt(status, "dns", kf_is_arr)) {
		kf_bad(k, ob, "%s", "status.dns is not a list");
		return -1;
	}
	/* The controller has not filled the status in yet: not an error. */
	if (!d->domain || !json_array_size(json_object_get(status, "dns"))) {
		kf_log(k, LOG_LVL_DEBUG, "kube object not ready: %s %s: no "
		       "status.domain or status.dns yet", ob->kind, ob->id);
		return 0;
	}
	return 1;
}

/* status.dns[] of a record: one entry per cluster.  NULL when the
 * object is bad (reported); free with kf_cls_free(cls,
 * json_array_size(dns)). */
static struct kf_cl *kf_dns_list(struct kf *k, const struct kf_obj *ob,
				 const json_t *dns, size_t *np)
{
	struct kf_cl *cls = xcalloc(json_array_size(dns) + 1, sizeof(*cls));
	const json_t *e;
	size_t n = 0, i;

	json_array_foreach(dns, i, e) {
		bool dup = false;

		if (kf_dns_entry(k, ob, i, e, &cls[n]) < 0) {
			kf_cls_free(cls, json_array_size(dns));
			return NULL;
		}
		for (size_t j = 0; j < n && !dup; j++)
			dup = !strcmp(cls[j].cluster, cls[n].cluster);
		if (dup) {
			kf_log(k, LOG_LVL_WARN, "kube entry skipped: %s %s: "
			       "cluster %s is listed twice in status.dns",
			       ob->kind, ob->id, cls[n].cluster);
			kf_cls_free_one(&cls[n]);
			memset(&cls[n], 0, sizeof(cls[n]));
			continue;
		}
		n++;
	}
	*np = n;
	return cls;
}

static void kf_sdr(struct kf *k, const json_t *o, const char *id)
{
	struct kf_obj ob = { "ServiceDNSRecord", "", o };
	struct kf_sdr d = { .ttl = k->o->ttl, .policy = k->o->policy };
	const json_t *dns;
	struct kf_cl *cls = NULL;
	struct kf_ann a;
	struct probe_spec ps = { 0 };
	char *gname = NULL;
	size_t n = 0;
	const char *gparts[5];

	snprintf(ob.id, sizeof(ob.id), "%s", id);
	memset(&a, 0, sizeof(a));
	if (kf_str(json_object_get(o, "metadata"), "namespace", &d.ns) <= 0) {
		kf_bad(k, &ob, "%s", "metadata.namespace is missing");
		return;
	}
	if (kf_sdr_fields(k, &ob, &d) <= 0)
		return;
	if (!d.svc)
		kf_str(json_object_get(o, "metadata"), "name", &d.svc);
	dns = json_object_get(json_object_get(o, "status"), "dns");
	if (!(cls = kf_dns_list(k, &ob, dns, &n)))
		return;
	kf_ann_read(k, &ob, &a);
	if (a.has_policy)
		d.policy = a.policy;
	if (a.has_ttl)
		d.ttl = a.ttl;
	if (a.has_max_answers)
		k->max_answers = a.max_answers;
	gparts[0] = d.svc;
	gparts[1] = d.ns;
	gparts[2] = d.fed;
	gparts[3] = "svc";
	gparts[4] = d.domain;
	/* The probe Host is the global name even for the other levels. */
	kf_join(gparts, 5, &gname); /* NULL for a bad name: no Host */
	kf_probe_resolve(k, &ob, &a, gname, &ps);
	kf_sdr_levels(k, &ob, &d, &ps, cls, n);
	free(gname);
	probe_spec_clear(&ps);
	probe_spec_clear(&a.ps);
	kf_cls_free(cls, json_array_size(dns));
}

/* ---- IngressDNSRecord ---- */

/* spec.hosts[] and spec.recordTTL; 1 to go on, 0 to skip quietly, -1
 * bad. */
static int kf_idr_fields(struct kf *k, const struct kf_obj *ob,
			 uint32_t *ttl)
{
	const json_t *spec = json_object_get(ob->j, "spec");
	const json_t *status = json_object_get(ob->j, "status");
	const json_t *hosts = json_object_get(spec, "hosts"), *h, *t;
	size_t i;

	if ((spec && !json_is_object(spec)) ||
	    (status && !json_is_object(status) && !json_is_null(status)) ||
	    !kf_is_opt(spec, "hosts", kf_is_arr) ||
	    !kf_is_opt(status, "dns", kf_is_arr)) {
		kf_bad(k, ob, "%s", "spec, spec.hosts, status or status.dns "
		       "of the wrong type");
		return -1;
	}
	json_array_foreach(hosts, i, h) {
		if (!json_is_string(h)) {
			kf_bad(k, ob, "spec.hosts[%zu]: not a string", i);
			return -1;
		}
	}
	t = json_object_get(spec, "recordTTL");
	if (t && !json_is_null(t)) {
		if (!json_is_integer(t) || json_integer_value(t) < 0 ||
		    json_integer_value(t) > (json_int_t)KF_TTL_MAX) {
			kf_bad(k, ob, "%s", "spec.recordTTL is not a TTL");
			return -1;
		}
		if (json_integer_value(t) > 0)
			*ttl = (uint32_t)json_integer_value(t);
	}
	if (!json_array_size(hosts) ||
	    !json_array_size(json_object_get(status, "dns"))) {
		kf_log(k, LOG_LVL_DEBUG, "kube object not ready: %s %s: no "
		       "spec.hosts or status.dns yet", ob->kind, ob->id);
		return 0;
	}
	return 1;
}

/* Has an earlier host of the list the same name? */
static bool kf_host_seen(struct kf *k, size_t first, const char *name)
{
	for (size_t i = first; i < k->n; i++)
		if (!strcmp(k->c[i].svc.name, name))
			return true;
	return false;
}

/* One name per spec.hosts[] entry, every cluster's addresses, as
 * KubeFed's getIngressDNSEndpoints publishes them.  The probe Host is
 * the host itself: an ingress routes by it. */
static void kf_idr(struct kf *k, const json_t *o, const char *id)
{
	struct kf_obj ob = { "IngressDNSRecord", "", o };
	uint32_t ttl = k->o->ttl;
	enum model_policy pol = k->o->policy;
	const json_t *dns = json_object_get(json_object_get(o, "status"),
					    "dns"), *h;
	const char *ns;
	struct kf_cl *cls;
	struct kf_ann a;
	size_t n = 0, i, first = k->n;

	snprintf(ob.id, sizeof(ob.id), "%s", id);
	if (kf_str(json_object_get(o, "metadata"), "namespace", &ns) <= 0) {
		kf_bad(k, &ob, "%s", "metadata.namespace is missing");
		return;
	}
	if (kf_idr_fields(k, &ob, &ttl) <= 0 ||
	    !(cls = kf_dns_list(k, &ob, dns, &n)))
		return;
	kf_ann_read(k, &ob, &a);
	if (a.has_policy)
		pol = a.policy;
	if (a.has_ttl)
		ttl = a.ttl;
	if (a.has_max_answers)
		k->max_answers = a.max_answers;
	json_array_foreach(json_object_get(json_object_get(o, "spec"),
					   "hosts"), i, h) {
		const char *host = json_string_value(h);
		struct probe_spec ps = { 0 };
		char *name;

		if (!(name = kf_name(k, &ob, &host, 1)))
			continue;
		if (kf_host_seen(k, first, name)) {
			free(name);
			continue;
		}
		kf_probe_resolve(k, &ob, &a, name, &ps);
		kf_emit(k, &ob, name, pol, ttl, &ps, cls, n, NULL);
		probe_spec_clear(&ps);
	}
	probe_spec_clear(&a.ps);
	kf_cls_free(cls, json_array_size(dns));
}

/* ---- DNSEndpoint ---- */

/* Label i (from the left) of a DNS name in presentation: start and
 * length, or false when it has fewer labels. */
static bool kf_label(const char *name, size_t i, const char **l, size_t *len)
{
	const char *p = name, *dot;

	for (; i > 0; i--) {
		if (!(dot = strchr(p, '.')))
			return false;
		p = dot + 1;
	}
	dot = strchr(p, '.');
	*l = p;
	*len = dot ? (size_t)(dot - p) : strlen(p);
	return *len > 0;
}

static bool kf_label_is(const char *name, size_t i, const char *want)
{
	const char *l;
	size_t len;

	return kf_label(name, i, &l, &len) && len == strlen(want) &&
	       !strncasecmp(l, want, len);
}

/* A DNSEndpoint as KubeFed's DNS endpoint controller writes it
 * (pkg/controller/dnsendpoint/controller.go): named "service-<record>"
 * or "ingress-<record>" in the record's namespace, with no
 * ownerReferences, so it is known by its name and content.  A service
 * one has only KubeFed's own names, <svc>.<ns>.<fed>.svc.<...>, and
 * CNAMEs (its fallbacks and dnsPrefix); an ingress one only A records
 * and CNAMEs. */
static bool kf_kubefed_made(const json_t *o)
{
	const json_t *md = json_object_get(o, "metadata");
	const char *name = json_string_value(json_object_get(md, "name"));
	const char *ns = json_string_value(json_object_get(md, "namespace"));
	const json_t *eps = json_object_get(json_object_get(o, "spec"),
					    "endpoints"), *e;
	bool svc, ing;
	size_t i;

	if (!name || !ns)
		return false;
	svc = !strncmp(name, "service-", 8) && name[8];
	ing = !strncmp(name, "ingress-", 8) && name[8];
	if (!svc && !ing)
		return false;
	json_array_foreach(eps, i, e) {
		const char *dn = json_string_value(json_object_get(e,
								   "dnsName"));
		const char *rt = json_string_value(json_object_get(
			e, "recordType"));

		if (!dn || !rt)
			return false;
		if (!strcmp(rt, "CNAME"))
			continue;
		if (strcmp(rt, "A"))
			return false;
		if (svc && (!kf_label_is(dn, 1, ns) || !kf_label_is(dn, 3,
								    "svc")))
			return false;
	}
	return true;
}

/* A DNSEndpoint made from a ServiceDNSRecord or IngressDNSRecord, with
 * the same names: its duplicates are expected.  Older controllers set
 * an ownerReference; KubeFed v0.6 does not. */
static bool kf_derived(const json_t *o)
{
	const json_t *refs = json_object_get(json_object_get(o, "metadata"),
					     "ownerReferences");
	const json_t *r;
	size_t i;

	json_array_foreach(refs, i, r) {
		const char *kind = json_string_value(json_object_get(r,
								     "kind"));
		if (kind && (!strcmp(kind, "ServiceDNSRecord") ||
			     !strcmp(kind, "IngressDNSRecord")))
			return true;
	}
	return kf_kubefed_made(o);
}

/* The candidate of this object for name, made on first use. */
static struct kf_cand *kf_dep_cand(struct kf *k, const struct kf_obj *ob,
				   size_t first, char *name,
				   const struct kf_sdr *d)
{
	for (size_t i = first; i < k->n; i++) {
		if (!strcmp(k->c[i].svc.name, name)) {
			free(name);
			return &k->c[i];
		}
	}
	return kf_cand_new(k, ob, name, d->policy, d->ttl);
}

/* One spec.endpoints[] entry.  Returns 0, or -1 (reported: skip the
 * whole object). */
static int kf_dep_entry(struct kf *k, const struct kf_obj *ob, size_t ei,
			const json_t *e, size_t first, struct kf_sdr *d,
			const struct probe_spec *ps)
{
	const char *dnsname, *rtype;
	const json_t *targets, *t, *ttl;
	struct kf_cand *c;
	int fam;
	size_t i;
	char *name;

	if (!json_is_object(e) || kf_str(e, "dnsName", &dnsname) <= 0 ||
	    kf_str(e, "recordType", &rtype) < 0 ||
	    !kf_is_opt(e, "targets", kf_is_arr)) {
		kf_bad(k, ob, "spec.endpoints[%zu]: dnsName missing or fields "
		       "of the wrong type", ei);
		return -1;
	}
	if (!rtype || (strcmp(rtype, "A") && strcmp(rtype, "AAAA"))) {
		kf_log(k, LOG_LVL_DEBUG, "kube record skipped: %s %s: %s %s "
		       "(only A and AAAA are served)", ob->kind, ob->id,
		       dnsname, rtype ? rtype : "(no type)");
		return 0;
	}
	fam = strcmp(rtype, "A") ? AF_INET6 : AF_INET;
	ttl = json_object_get(e, "recordTTL");
	if (ttl && !json_is_null(ttl) && (!json_is_integer(ttl) ||
	    json_integer_value(ttl) < 0 ||
	    json_integer_value(ttl) > (json_int_t)KF_TTL_MAX)) {
		kf_bad(k, ob, "spec.endpoints[%zu].recordTTL is not a TTL", ei);
		return -1;
	}
	targets = json_object_get(e, "targets");
	if (json_array_size(targets) > KF_ADDRS_MAX) {
		kf_bad(k, ob, "spec.endpoints[%zu].targets: %zu entries, more "
		       "than %d", ei, json_array_size(targets), KF_ADDRS_MAX);
		return -1;
	}
	json_array_foreach(targets, i, t) {
		struct model_addr a;
		if (!json_is_string(t) ||
		    model_addr_parse(&a, json_string_value(t)) < 0 ||
		    a.family != fam) {
			kf_bad(k, ob, "spec.endpoints[%zu].targets[%zu]: not "
			       "an %s address", ei, i, rtype);
			return -1;
		}
	}
	if (!(name = kf_name(k, ob, &dnsname, 1)))
		return 0;
	c = kf_dep_cand(k, ob, first, name, d);
	if (ttl && json_integer_value(ttl) > 0 && c->svc.neps == 0 &&
	    !d->ttl_from_ann)
		c->svc.ttl = (uint32_t)json_integer_value(ttl);
	json_array_foreach(targets, i, t) {
		struct model_endpoint *ep;
		struct model_addr a;
		char txt[INET6_ADDRSTRLEN];
		bool dup = false;

		model_addr_parse(&a, json_string_value(t));
		model_addr_str(&a, txt, sizeof(txt));
		for (size_t j = 0; j < c->svc.neps && !dup; j++)
			dup = !strcmp(c->svc.eps[j].name, txt);
		if (dup)
			continue;
		c->svc.eps = xreallocarray(c->svc.eps, c->svc.neps + 1,
					   sizeof(*c->svc.eps));
		ep = &c->svc.eps[c->svc.neps];
		memset(ep, 0, sizeof(*ep));
		ep->weight = 1;
		ep->priority = 1;
		ep->enabled = true;
		kf_ep_fill(ep, "dnsendpoint", txt, &a, 1, ps);
		c->svc.neps++;
	}
	return 0;
}

static void kf_dep(struct kf *k, const json_t *o, const char *id)
{
	struct kf_obj ob = { "DNSEndpoint", "", o };
	struct kf_sdr d = { .ttl = k->o->ttl, .policy = k->o->policy };
	const json_t *spec = json_object_get(o, "spec"), *eps, *e;
	struct probe_spec ps = { 0 };
	struct kf_ann a;
	size_t first = k->n, i;
	bool derived = kf_derived(o);

	snprintf(ob.id, sizeof(ob.id), "%s", id);
	if ((spec && !json_is_object(spec)) ||
	    !kf_is_opt(spec, "endpoints", kf_is_arr)) {
		kf_bad(k, &ob, "%s", "spec.endpoints is not a list");
		return;
	}
	eps = json_object_get(spec, "endpoints");
	if (!json_array_size(eps))
		return;
	kf_ann_read(k, &ob, &a);
	if (a.has_policy)
		d.policy = a.policy;
	if (a.has_ttl) {
		d.ttl = a.ttl;
		d.ttl_from_ann = true;
	}
	if (a.has_max_answers)
		k->max_answers = a.max_answers;
	/* Host: NULL, so each name is probed under its own name. */
	kf_probe_resolve(k, &ob, &a, NULL, &ps);
	json_array_foreach(eps, i, e) {
		if (kf_dep_entry(k, &ob, i, e, first, &d, &ps) < 0) {
			/* All or nothing per object: drop what it made. */
			while (k->n > first)
				kf_cand_drop_last(k);
			break;
		}
	}
	for (size_t j = first; j < k->n; j++)
		k->c[j].derived = derived;
	/* Names whose every entry was empty got no endpoints. */
	for (size_t j = k->n; j-- > first;) {
		if (k->c[j].svc.neps)
			continue;
		model_service_clear(&k->c[j].svc);
		memmove(&k->c[j], &k->c[j + 1], (k->n - j - 1) * sizeof(*k->c));
		k->n--;
	}
	probe_spec_clear(&ps);
	probe_spec_clear(&a.ps);
}

/* ---- ordering and duplicates ---- */

struct kf_sorted {
	const json_t *o;
	char key[512];
};

static int kf_sorted_cmp(const void *pa, const void *pb)
{
	return strcmp(((const struct kf_sorted *)pa)->key,
		      ((const struct kf_sorted *)pb)->key);
}

/* The objects of arr in namespace/name order; those without a name are
 * reported and left out. */
static struct kf_sorted *kf_sort(struct kf *k, const json_t *arr,
				 const char *kind, size_t *n)
{
	size_t len = json_array_size(arr), i;
	struct kf_sorted *s;
	const json_t *o;

	*n = 0;
	if (!len)
		return NULL;
	s = xcalloc(len, sizeof(*s));
	json_array_foreach(arr, i, o) {
		if (!json_is_object(o) ||
		    !kube_obj_key(o, s[*n].key, sizeof(s[*n].key))) {
			k->st.bad++;
			kf_log(k, LOG_LVL_WARN, "kube object skipped: %s #%zu: "
			       "no metadata.name", kind, i);
			continue;
		}
		s[(*n)++].o = o;
	}
	qsort(s, *n, sizeof(*s), kf_sorted_cmp);
	return s;
}

static int kf_cand_cmp(const void *pa, const void *pb)
{
	const struct kf_cand *a = pa, *b = pb;
	int c = strcmp(a->svc.name, b->svc.name);

	if (c)
		return c;
	return (a->seq > b->seq) - (a->seq < b->seq);
}

/* Sorted by name; the first of each name kept. */
static void kf_finish(struct kf *k, struct model_service **out, size_t *n)
{
	struct model_service *s = NULL;
	size_t m = 0, kept = 0;

	if (k->n) {
		qsort(k->c, k->n, sizeof(*k->c), kf_cand_cmp);
		s = xcalloc(k->n, sizeof(*s));
	}
	for (size_t i = 0; i < k->n; i++) {
		struct kf_cand *c = &k->c[i];

		if (m && !strcmp(s[m - 1].name, c->svc.name)) {
			k->st.duplicates++;
			kubefed_log_duplicate(k->o, c->svc.name, c->owner,
					      c->derived, k->c[kept].owner);
			model_service_clear(&c->svc);
			memset(&c->svc, 0, sizeof(c->svc));
			continue;
		}
		/* The service moves to s; its owner stays for messages. */
		s[m++] = c->svc;
		memset(&c->svc, 0, sizeof(c->svc));
		kept = i;
	}
	*out = s;
	*n = m;
}

void kubefed_log_duplicate(const struct kubefed_opts *opts,
			   const char *name, const char *loser, bool derived,
			   const char *winner)
{
	char msg[512];

	snprintf(msg, sizeof(msg), "kube name skipped: %s: %s is already "
		 "served from %s", loser, name, winner);
	kf_say(opts, derived ? LOG_LVL_DEBUG : LOG_LVL_WARN, msg);
}

const char *kubefed_kind_name(enum kubefed_kind kind)
{
	return kind == KUBEFED_SDR ? "ServiceDNSRecord" :
	       kind == KUBEFED_IDR ? "IngressDNSRecord" : "DNSEndpoint";
}

/* The one way an object becomes candidates, for both entry points. */
static void kf_object(struct kf *k, enum kubefed_kind kind, const json_t *o,
		      const char *key)
{
	k->max_answers = k->o->max_answers;
	if (kind == KUBEFED_SDR)
		kf_sdr(k, o, key);
	else if (kind == KUBEFED_IDR)
		kf_idr(k, o, key);
	else
		kf_dep(k, o, key);
}

static void kf_cands_clear(struct kf *k)
{
	for (size_t i = 0; i < k->n; i++)
		model_service_clear(&k->c[i].svc);
	free(k->c);
}

void kubefed_map(const json_t *sdrs, const json_t *idrs,
		 const json_t *clusters, const json_t *dnseps,
		 const struct kubefed_opts *opts, struct model_service **out,
		 size_t *n, struct kubefed_stats *st)
{
	struct kubefed_clusters *cl = kubefed_clusters_new(clusters);
	struct kf k = { .o = opts, .ready = cl };
	const json_t *in[KUBEFED_NKINDS];
	struct kf_sorted *s[KUBEFED_NKINDS] = { NULL };
	size_t ns[KUBEFED_NKINDS] = { 0 };

	in[KUBEFED_SDR] = sdrs;
	in[KUBEFED_IDR] = idrs;
	in[KUBEFED_DNSEP] = dnseps;
	for (int kind = 0; kind < KUBEFED_NKINDS; kind++)
		s[kind] = kf_sort(&k, in[kind],
				  kubefed_kind_name((enum kubefed_kind)kind),
				  &ns[kind]);
	for (int kind = 0; kind < KUBEFED_NKINDS; kind++)
		for (size_t i = 0; i < ns[kind]; i++)
			kf_object(&k, (enum kubefed_kind)kind, s[kind][i].o,
				  s[kind][i].key);
	kf_finish(&k, out, n);
	/* The kept candidates' services moved to *out; kf_finish cleared
	 * the others. */
	kf_cands_clear(&k);
	kubefed_clusters_free(cl);
	for (int kind = 0; kind < KUBEFED_NKINDS; kind++)
		free(s[kind]);
	if (st)
		*st = k.st;
}

void kubefed_map_object(enum kubefed_kind kind, const json_t *obj,
			const char *key, const struct kubefed_clusters *cl,
			const struct kubefed_opts *opts,
			struct kubefed_cand **out, size_t *n,
			struct kubefed_stats *st)
{
	struct kf k = { .o = opts, .ready = cl };
	struct kubefed_cand *c = NULL;

	if (!json_is_object(obj)) {
		k.st.bad++;
		kf_log(&k, LOG_LVL_WARN, "kube object skipped: %s %s: not an "
		       "object", kubefed_kind_name(kind), key);
	} else {
		kf_object(&k, kind, obj, key);
	}
	if (k.n)
		c = xcalloc(k.n, sizeof(*c));
	if (st)
		*st = k.st;
	for (size_t i = 0; i < k.n; i++) {
		c[i].svc = k.c[i].svc;
		c[i].derived = k.c[i].derived;
	}
	free(k.c);
	*out = c;
	*n = k.n;
}

void kubefed_cands_free(struct kubefed_cand *c, size_t n)
{
	for (size_t i = 0; i < n; i++)
		model_service_clear(&c[i].svc);
	free(c);
}

void kubefed_services_free(struct model_service *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		model_service_clear(&s[i]);
	free(s);
}

/* ---- comparison ---- */

static bool kf_ep_equal(const struct model_endpoint *a,
			const struct model_endpoint *b)
{
	if (strcmp(a->region, b->region) || strcmp(a->name, b->name) ||
	    a->naddrs != b->naddrs || a->weight != b->weight ||
	    a->priority != b->priority || a->enabled != b->enabled ||
	    !probe_spec_equal(&a->probe, &b->probe) ||
	    a->nhostnames != b->nhostnames)
		return false;
	for (size_t i = 0; i < a->nhostnames; i++)
		if (strcmp(a->hostnames[i], b->hostnames[i]))
			return false;
	for (size_t i = 0; i < a->naddrs; i++)
		if (a->addrs[i].family != b->addrs[i].family ||
		    memcmp(&a->addrs[i].ip, &b->addrs[i].ip,
			   sizeof(a->addrs[i].ip)))
			return false;
	return true;
}

bool kubefed_services_equal(const struct model_service *a, size_t na,
			    const struct model_service *b, size_t nb)
{
	if (na != nb)
		return false;
	for (size_t i = 0; i < na; i++) {
		const struct model_service *x = &a[i], *y = &b[i];
		if (strcmp(x->name, y->name) || x->policy != y->policy ||
		    x->all_down != y->all_down || x->ttl != y->ttl ||
		    x->max_answers != y->max_answers || x->neps != y->neps)
			return false;
		for (size_t j = 0; j < x->neps; j++)
			if (!kf_ep_equal(&x->eps[j], &y->eps[j]))
				return false;
	}
	return true;
}
