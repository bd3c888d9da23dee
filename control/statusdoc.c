/* statusdoc.c -- see statusdoc.h.
 *
 * The document is one object whose bulk is two arrays, "services" and
 * "targets".  The streamed form writes the keys before them (the head)
 * as jansson dumps that part of the object, then each array element
 * dumped on its own and indented to its depth, then the keys after them
 * (the tail): with the same dump flags, jansson's output for the whole
 * object is exactly that concatenation (JSON strings escape every
 * newline, so each raw newline in a dump is one jansson put there to
 * indent the next line).
 *
 * Between two slices the model may change, as for a streamed /metrics
 * (metrics.c): the cursor holds indexes, never a pointer into the model
 * or the probe manager, and each call takes the model afresh from the
 * view and bounds every index by its counts.  Kubernetes changes merged
 * in place keep every service in its slot or append it, and keep target
 * indexes, so each service and target is still written once (as it is
 * when its slice is written).  A new model (a reload, a relist) or
 * re-indexed targets move targets_generation: the stream then stops
 * (STATUSDOC_CHANGED) and the caller must end the response as failed.
 * Holding the old model instead would not do: it is freed when the new
 * one goes live, and its target indexes no longer name the probe states
 * the view returns.  A reload is rare next to a /status of a fraction of
 * a second, and a client retries.
 */
#include "config.h"

#include <arpa/inet.h>
#include <assert.h>
#include <stdbool.h>
#include <string.h>

#include <event2/buffer.h>

#include "config/model.h"
#include "control/status.h"
#include "control/statusdoc.h"
#include "probes/health.h"

/* ---- the parts as jansson trees: one failure flag, not a check per call */

struct jb {
	bool bad;
};

static json_t *jb_str(struct jb *jb, const char *s)
{
	json_t *v;

	if (!s)
		return json_null();
	/* Names come from YAML or JSON and so are UTF-8; if one is not,
	 * say so rather than fail the whole document. */
	v = json_string(s);
	if (!v)
		v = json_string("(invalid utf-8)");
	if (!v)
		jb->bad = true;
	return v;
}

static void jb_set(struct jb *jb, json_t *o, const char *k, json_t *v)
{
	if (!v || json_object_set_new(o, k, v) < 0)
		jb->bad = true;
}

static void jb_push(struct jb *jb, json_t *a, json_t *v)
{
	if (!v || json_array_append_new(a, v) < 0)
		jb->bad = true;
}

static json_t *sd_addr(struct jb *jb, const struct status_view *v,
		       const struct model_endpoint *e, uint8_t adm,
		       const struct model_addr *a)
{
	char ip[INET6_ADDRSTRLEN];
	struct probe_info pi;
	uint8_t h = status_addr_health(v, a, &pi);
	json_t *o = json_object();

	if (!o) {
		jb->bad = true;
		return NULL;
	}
	model_addr_str(a, ip, sizeof(ip));
	jb_set(jb, o, "address", jb_str(jb, ip));
	jb_set(jb, o, "health", jb_str(jb, health_name(h)));
	jb_set(jb, o, "reason", jb_str(jb, a->target ? pi.reason : ""));
	jb_set(jb, o, "since", json_integer(a->target ? pi.since : 0));
	jb_set(jb, o, "target", a->target ? json_integer(a->target - 1) :
	       json_null());
	jb_set(jb, o, "eligible", json_boolean(model_answerable(e->enabled,
	       adm, h)));
	return o;
}

static json_t *sd_ep(struct jb *jb, const struct status_view *v,
		     const struct model_service *s,
		     const struct model_endpoint *e)
{
	json_t *o = json_object(), *addrs = json_array();
	uint8_t adm = (uint8_t)v->admin_of(v->arg, s, e);

	if (!o || !addrs) {
		json_decref(o);
		json_decref(addrs);
		jb->bad = true;
		return NULL;
	}
	jb_set(jb, o, "name", jb_str(jb, model_endpoint_name(e)));
	jb_set(jb, o, "region", jb_str(jb, e->region));
	jb_set(jb, o, "weight", json_integer(e->weight));
	jb_set(jb, o, "priority", json_integer(e->priority));
	jb_set(jb, o, "enabled", json_boolean(e->enabled));
	jb_set(jb, o, "admin", jb_str(jb, model_admin_name(adm)));
	for (size_t k = 0; k < e->naddrs; k++)
		jb_push(jb, addrs, sd_addr(jb, v, e, adm, &e->addrs[k]));
	jb_set(jb, o, "addresses", addrs);
	return o;
}

static json_t *sd_svc(struct jb *jb, const struct status_view *v,
		      const struct model_service *s)
{
	json_t *o = json_object(), *eps = json_array();

	if (!o || !eps) {
		json_decref(o);
		json_decref(eps);
		jb->bad = true;
		return NULL;
	}
	jb_set(jb, o, "name", jb_str(jb, s->name));
	jb_set(jb, o, "policy", jb_str(jb, model_policy_name(s->policy)));
	jb_set(jb, o, "all-down", jb_str(jb,
	       model_alldown_name(s->all_down)));
	jb_set(jb, o, "ttl", json_integer(s->ttl));
	jb_set(jb, o, "source", jb_str(jb, s->source ? s->source : "config"));
	for (size_t j = 0; j < s->neps; j++)
		jb_push(jb, eps, sd_ep(jb, v, s, &s->eps[j]));
	jb_set(jb, o, "endpoints", eps);
	return o;
}

/* Every probe target once, with the names that use it; NULL for one
 * that is not listed (retired, or no probe state while the probes are
 * re-synced). */
static json_t *sd_target(struct jb *jb, const struct status_view *v,
			 const struct model *m, size_t t)
{
	const struct model_target *mt = &m->targets[t];
	json_t *o, *names;
	struct probe_info pi;

	if (!mt->nsvcs || !v->target(v->arg, (uint32_t)t, &pi))
		return NULL;
	o = json_object();
	names = json_array();
	if (!o || !names) {
		json_decref(o);
		json_decref(names);
		jb->bad = true;
		return NULL;
	}
	jb_set(jb, o, "address", jb_str(jb, pi.address));
	jb_set(jb, o, "port", json_integer(pi.port));
	jb_set(jb, o, "type", jb_str(jb, probe_spec_type_name(pi.spec->type)));
	jb_set(jb, o, "host", pi.host ? jb_str(jb, pi.host) : json_null());
	jb_set(jb, o, "health", jb_str(jb, health_name(pi.health)));
	jb_set(jb, o, "reason", jb_str(jb, pi.reason));
	jb_set(jb, o, "since", json_integer(pi.since));
	jb_set(jb, o, "attempts", json_integer((json_int_t)pi.st->attempts));
	for (uint32_t i = 0; i < mt->nsvcs; i++)
		jb_push(jb, names, jb_str(jb, m->svcs[mt->svcs[i]].name));
	jb_set(jb, o, "names", names);
	return o;
}

static json_t *sd_rules(struct jb *jb, const struct status_view *v)
{
	size_t n = 0;
	const struct admin_rule *r = v->rules(v->arg, &n);
	json_t *a = json_array();

	if (!a) {
		jb->bad = true;
		return NULL;
	}
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		if (!o) {
			jb->bad = true;
			continue;
		}
		jb_set(jb, o, "region", jb_str(jb, r[i].region));
		jb_set(jb, o, "service", jb_str(jb, r[i].service));
		jb_set(jb, o, "endpoint", jb_str(jb, r[i].endpoint));
		jb_set(jb, o, "admin", jb_str(jb, model_admin_name(r[i].admin)));
		jb_push(jb, a, o);
	}
	return a;
}

static json_t *sd_kube(struct jb *jb, const struct status_view *v)
{
	struct kube_status ks;

	if (!v->kube(v->arg, &ks))
		return json_null();
	json_t *o = json_object();
	if (!o) {
		jb->bad = true;
		return NULL;
	}
	jb_set(jb, o, "connected", json_boolean(ks.connected));
	jb_set(jb, o, "synced", json_boolean(ks.synced));
	jb_set(jb, o, "from-cache", json_boolean(ks.from_cache));
	jb_set(jb, o, "last-sync", json_integer(ks.last_sync));
	jb_set(jb, o, "relists", json_integer((json_int_t)ks.relists));
	jb_set(jb, o, "watch-events",
	       json_integer((json_int_t)ks.watch_events));
	jb_set(jb, o, "errors", json_integer((json_int_t)ks.errors));
	jb_set(jb, o, "services", json_integer(ks.services));
	jb_set(jb, o, "last-error", jb_str(jb, ks.last_error));
	return o;
}

/* The keys before "services". */
static json_t *sd_head(struct jb *jb, const struct status_view *v,
		       const struct model *m)
{
	struct status_stats st;
	json_t *o = json_object();

	if (!o) {
		jb->bad = true;
		return NULL;
	}
	v->stats(v->arg, &st);
	jb_set(jb, o, "version", jb_str(jb, PACKAGE_VERSION));
	jb_set(jb, o, "zone", jb_str(jb, m ? m->zone.apex : NULL));
	jb_set(jb, o, "generation", json_integer((json_int_t)st.generation));
	jb_set(jb, o, "ready", json_boolean(v->ready(v->arg)));
	jb_set(jb, o, "started", json_integer(st.started));
	jb_set(jb, o, "workers", json_integer(st.workers));
	jb_set(jb, o, "snapshot", json_pack("{s:I,s:I,s:f,s:I}",
	       "names", (json_int_t)st.snapshot_names,
	       "bytes", (json_int_t)st.snapshot_bytes,
	       "build-seconds", (double)st.last_build_us / 1e6,
	       "built", (json_int_t)st.last_build_time));
	jb_set(jb, o, "reloads", json_pack("{s:I,s:I,s:I,s:b}",
	       "ok", (json_int_t)st.reloads_ok,
	       "failed", (json_int_t)st.reloads_failed,
	       "last", (json_int_t)st.last_reload_time,
	       "last-ok", st.last_reload_time ? st.last_reload_ok : 1));
	return o;
}

/* The keys after "targets". */
static void sd_tail(struct jb *jb, const struct status_view *v, json_t *o)
{
	jb_set(jb, o, "admin-rules", sd_rules(jb, v));
	jb_set(jb, o, "kubernetes", sd_kube(jb, v));
}

json_t *statusdoc_tree(const struct status_view *v)
{
	const struct model *m = v->model(v->arg);
	struct jb jb = { false };
	json_t *o = sd_head(&jb, v, m), *svcs = json_array(),
	       *tgts = json_array();

	for (size_t i = 0; m && i < m->nsvcs; i++)
		jb_push(&jb, svcs, sd_svc(&jb, v, &m->svcs[i]));
	for (size_t t = 0; m && t < m->ntargets; t++) {
		json_t *to = sd_target(&jb, v, m, t);
		if (to)
			jb_push(&jb, tgts, to);
	}
	if (o) {
		jb_set(&jb, o, "services", svcs);
		jb_set(&jb, o, "targets", tgts);
		sd_tail(&jb, v, o);
	} else {
		json_decref(svcs);
		json_decref(tgts);
	}
	if (jb.bad) {
		json_decref(o);
		return NULL;
	}
	return o;
}

/* ---- the document in slices ---- */

enum sd_part { SD_HEAD, SD_SVCS, SD_TGTS, SD_TAIL, SD_DONE };

/* Appends a dump to an evbuffer, indenting every line after the first
 * by depth more spaces (depth 0: as it is). */
struct sd_out {
	struct evbuffer *b;
	unsigned depth;
};

static int sd_out_cb(const char *p, size_t len, void *arg)
{
	static const char pad[] = "        ";
	struct sd_out *o = arg;
	const char *nl;

	assert(o->depth < sizeof(pad));
	while (o->depth && (nl = memchr(p, '\n', len))) {
		size_t n = (size_t)(nl - p) + 1;
		if (evbuffer_add(o->b, p, n) < 0 ||
		    evbuffer_add(o->b, pad, o->depth) < 0)
			return -1;
		p += n;
		len -= n;
	}
	return len ? evbuffer_add(o->b, p, len) : 0;
}

static int sd_dump(struct evbuffer *b, const json_t *j, unsigned depth)
{
	struct sd_out o = { b, depth };

	return json_dump_callback(j, sd_out_cb, &o, STATUSDOC_FLAGS);
}

/* The head object dumped without its closing "\n}", then the opening of
 * "services".  The head always has keys, so the dump ends in "\n}". */
static int sd_write_head(struct evbuffer *b, const struct status_view *v,
			 const struct model *m)
{
	struct jb jb = { false };
	json_t *o = sd_head(&jb, v, m);
	char *s = o && !jb.bad ? json_dumps(o, STATUSDOC_FLAGS) : NULL;
	size_t len = s ? strlen(s) : 0;
	int rc = -1;

	json_decref(o);
	if (len > 2 && !strcmp(s + len - 2, "\n}") &&
	    evbuffer_add(b, s, len - 2) == 0 &&
	    evbuffer_add_printf(b, ",\n \"services\": [") > 0)
		rc = 0;
	free(s);
	return rc;
}

/* The tail object dumped without its opening "{\n", after the close of
 * "targets", and the document's trailing newline. */
static int sd_write_tail(struct evbuffer *b, const struct status_view *v)
{
	struct jb jb = { false };
	json_t *o = json_object();
	char *s = NULL;
	int rc = -1;

	if (o) {
		sd_tail(&jb, v, o);
		if (!jb.bad)
			s = json_dumps(o, STATUSDOC_FLAGS);
	}
	json_decref(o);
	if (s && !strncmp(s, "{\n", 2) && evbuffer_add(b, ",\n", 2) == 0 &&
	    evbuffer_add(b, s + 2, strlen(s + 2)) == 0 &&
	    evbuffer_add(b, "\n", 1) == 0)
		rc = 0;
	free(s);
	return rc;
}

/* One element of the array being written, as jansson puts it at depth 2:
 * a separator, a newline and two spaces, the element indented. */
static int sd_write_elem(struct statusdoc_cursor *cur, struct evbuffer *b,
			 json_t *j)
{
	int rc = evbuffer_add(b, cur->emitted ? ",\n  " : "\n  ",
			      cur->emitted ? 4 : 3);

	if (rc == 0)
		rc = sd_dump(b, j, 2);
	json_decref(j);
	cur->emitted++;
	return rc;
}

/* The close of the array being written: "[]" when it had nothing. */
static int sd_close_array(struct statusdoc_cursor *cur, struct evbuffer *b)
{
	int rc = cur->emitted ? evbuffer_add(b, "\n ]", 3) :
		 evbuffer_add(b, "]", 1);

	cur->emitted = 0;
	cur->pos = 0;
	cur->part++;
	return rc;
}

/* Write one service or target, or close the array when past its end. */
static int sd_step(struct statusdoc_cursor *cur, struct evbuffer *b,
		   const struct status_view *v, const struct model *m)
{
	struct jb jb = { false };
	json_t *j = NULL;

	if (cur->part == SD_SVCS) {
		if (!m || cur->pos >= m->nsvcs)
			return sd_close_array(cur, b) < 0 ||
			       evbuffer_add_printf(b, ",\n \"targets\": [") < 0 ?
			       -1 : 0;
		j = sd_svc(&jb, v, &m->svcs[cur->pos++]);
	} else {
		while (m && cur->pos < m->ntargets && !j && !jb.bad)
			j = sd_target(&jb, v, m, cur->pos++);
		if (!j && !jb.bad)
			return sd_close_array(cur, b);
	}
	if (jb.bad) {
		json_decref(j);
		return -1;
	}
	return sd_write_elem(cur, b, j);
}

void statusdoc_begin(struct statusdoc_cursor *cur,
		     const struct status_view *v)
{
	struct status_stats st;

	v->stats(v->arg, &st);
	*cur = (struct statusdoc_cursor){
		.m = v->model(v->arg),
		.targets_generation = st.targets_generation,
		.part = SD_HEAD,
	};
}

enum statusdoc_step statusdoc_next(struct statusdoc_cursor *cur,
				   struct evbuffer *b,
				   const struct status_view *v, size_t budget)
{
	const struct model *m = v->model(v->arg);
	struct status_stats st;
	size_t start = evbuffer_get_length(b);

	v->stats(v->arg, &st);
	if (m != cur->m || st.targets_generation != cur->targets_generation)
		return STATUSDOC_CHANGED;
	if (cur->part == SD_HEAD) {
		if (sd_write_head(b, v, m) < 0)
			return STATUSDOC_FAILED;
		cur->part = SD_SVCS;
	}
	while ((cur->part == SD_SVCS || cur->part == SD_TGTS) &&
	       evbuffer_get_length(b) - start < budget)
		if (sd_step(cur, b, v, m) < 0)
			return STATUSDOC_FAILED;
	if (cur->part == SD_TAIL) {
		if (sd_write_tail(b, v) < 0)
			return STATUSDOC_FAILED;
		cur->part = SD_DONE;
	}
	return cur->part == SD_DONE ? STATUSDOC_DONE : STATUSDOC_MORE;
}
