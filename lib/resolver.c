/* resolver.c -- see resolver.h.  Each name has one entry: its addresses,
 * its state (pending, ok, stale, failed) and a timer for the next
 * lookup.  A lookup asks A and AAAA at once and settles when both are
 * back.  Entries live in an open-addressing table by name; one no longer
 * wanted while a lookup is out waits on a list until it comes back,
 * since evdns calls back later even for a cancelled request. */
#include "config.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <event2/dns.h>
#include <event2/event.h>

#include "lib/log.h"
#include "lib/resolver.h"
#include "lib/xalloc.h"

enum rs_state { RS_PENDING, RS_OK, RS_STALE, RS_FAILED };

struct rs_entry {
	char *name;
	struct resolver *r;
	struct resolver_addr addrs[RESOLVER_ADDRS_MAX];
	size_t naddrs;
	enum rs_state state;
	int64_t last_good_ms;
	struct event *timer;
	int inflight;
	/* The lookup in progress. */
	struct resolver_addr got[RESOLVER_ADDRS_MAX];
	size_t ngot;
	uint32_t ttl;
	int answers, err;
	bool dropped_said;
	uint32_t gen;
	bool dead;
	struct rs_entry *next_dead;
};

struct resolver {
	struct event_base *base;
	struct evdns_base *dns;
	uint32_t min_ttl_ms, max_ttl_ms, keep_ms, timeout_ms;
	char **servers;
	size_t nservers;
	char *resolv_conf;
	struct rs_entry **slot;   /* open addressing by name */
	size_t cap, n;
	struct rs_entry *dead;    /* dropped, a lookup still out */
	uint32_t gen;
	struct event *notify;
	resolver_change_fn fn;
	void *arg;
	uint64_t lookups, failures, changes;
	char **rec, **taken;      /* changed names: recorded, handed out */
	size_t nrec, ntaken;
	bool rec_all;
};

static int64_t rs_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- the table ---- */

static size_t rs_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
	return (size_t)h;
}

static size_t rs_find(const struct resolver *r, const char *name)
{
	size_t i = rs_hash(name) & (r->cap - 1);

	while (r->slot[i] && strcmp(r->slot[i]->name, name))
		i = (i + 1) & (r->cap - 1);
	return i;
}

static struct rs_entry *rs_get(const struct resolver *r, const char *name)
{
	return r->cap ? r->slot[rs_find(r, name)] : NULL;
}

/* A table of at least want entries at most half full, with e of the
 * old one where keep says. */
static void rs_rehash(struct resolver *r, size_t want,
		      bool (*keep)(struct resolver *, struct rs_entry *))
{
	struct rs_entry **old = r->slot;
	size_t ocap = r->cap;

	r->cap = 16;
	while (r->cap < 2 * want + 2)
		r->cap <<= 1;
	r->slot = xcalloc(r->cap, sizeof(*r->slot));
	r->n = 0;
	for (size_t i = 0; i < ocap; i++) {
		if (!old[i] || (keep && !keep(r, old[i])))
			continue;
		r->slot[rs_find(r, old[i]->name)] = old[i];
		r->n++;
	}
	free(old);
}

/* ---- addresses ---- */

static int rs_addr_cmp(const void *pa, const void *pb)
{
	const struct resolver_addr *a = pa, *b = pb;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	return memcmp(a->ip, b->ip, sizeof(a->ip));
}

static void rs_addrs_text(const struct resolver_addr *a, size_t n, char *buf,
			  size_t len)
{
	size_t off = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < n && off + INET6_ADDRSTRLEN + 8 < len; i++) {
		char t[INET6_ADDRSTRLEN];
		inet_ntop(a[i].family, a[i].ip, t, sizeof(t));
		off += (size_t)snprintf(buf + off, len - off, "%s%s",
					i ? "," : "", t);
	}
	if (n && buf[0] == '\0')
		snprintf(buf, len, "...");
}

/* ---- lookups ---- */

static void rs_lookup(struct rs_entry *e);

static void rs_timer_cb(evutil_socket_t fd, short what, void *arg)
{
	rs_lookup(arg);
}

static void rs_schedule(struct rs_entry *e, int64_t ms)
{
	struct timeval tv = { (time_t)(ms / 1000), (suseconds_t)(ms % 1000) *
			      1000 };

	evtimer_add(e->timer, &tv);
}

static void rs_notify_cb(evutil_socket_t fd, short what, void *arg)
{
	struct resolver *r = arg;

	if (r->fn)
		r->fn(r->arg);
}

static void rs_names_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void rs_changed(struct resolver *r, const char *name)
{
	struct timeval tv = { 0, 0 };

	r->changes++;
	if (!r->rec_all && r->nrec == RESOLVER_CHANGES_MAX) {
		rs_names_free(r->rec, r->nrec);
		r->rec = NULL;
		r->nrec = 0;
		r->rec_all = true;
	}
	if (!r->rec_all) {
		if (!r->rec)
			r->rec = xcalloc(RESOLVER_CHANGES_MAX, sizeof(*r->rec));
		r->rec[r->nrec++] = xstrdup(name);
	}
	if (!evtimer_pending(r->notify, NULL))
		evtimer_add(r->notify, &tv);
}

static void rs_entry_free(struct rs_entry *e)
{
	if (e->timer)
		event_free(e->timer);
	free(e->name);
	free(e);
}

/* A lookup came back with addresses. */
static void rs_settle_ok(struct rs_entry *e)
{
	struct resolver *r = e->r;
	enum rs_state prev = e->state;
	size_t m = 0;
	char txt[512];
	bool changed;

	qsort(e->got, e->ngot, sizeof(*e->got), rs_addr_cmp);
	for (size_t i = 0; i < e->ngot; i++)
		if (!m || rs_addr_cmp(&e->got[m - 1], &e->got[i]))
			e->got[m++] = e->got[i];
	changed = m != e->naddrs ||
		  memcmp(e->got, e->addrs, m * sizeof(*e->got));
	memcpy(e->addrs, e->got, m * sizeof(*e->got));
	e->naddrs = m;
	e->state = RS_OK;
	e->last_good_ms = rs_now_ms();
	rs_addrs_text(e->addrs, e->naddrs, txt, sizeof(txt));
	if (prev != RS_OK)
		log_info("hostname resolved name=%s addresses=%s ttl=%u%s",
			 e->name, txt, e->ttl, prev == RS_STALE ?
			 " (again, after failed lookups)" : "");
	else if (changed)
		log_info("hostname addresses changed name=%s addresses=%s "
			 "ttl=%u", e->name, txt, e->ttl);
	if (changed)
		rs_changed(r, e->name);
	uint64_t next = (uint64_t)e->ttl * 1000;
	if (next < r->min_ttl_ms)
		next = r->min_ttl_ms;
	if (next > r->max_ttl_ms)
		next = r->max_ttl_ms;
	rs_schedule(e, (int64_t)next);
}

/* A lookup failed: the last good addresses stay for keep_ms. */
static void rs_settle_fail(struct rs_entry *e)
{
	struct resolver *r = e->r;
	const char *why = e->err ? evdns_err_to_string(e->err) :
			  "no A or AAAA records";
	int64_t now = rs_now_ms(), next = r->min_ttl_ms;

	r->failures++;
	switch (e->state) {
	case RS_PENDING:
		e->state = RS_FAILED;
		log_warn("hostname lookup failed name=%s error=\"%s\"; "
			 "retrying every %ums", e->name, why, r->min_ttl_ms);
		break;
	case RS_OK:
		if (r->keep_ms) {
			e->state = RS_STALE;
			log_warn("hostname lookup failed, keeping the last "
				 "addresses name=%s error=\"%s\" keep=%ums",
				 e->name, why, r->keep_ms);
			break;
		}
		/* fall through: nothing is kept */
		__attribute__((fallthrough));
	case RS_STALE:
		if (now - e->last_good_ms < (int64_t)r->keep_ms)
			break;
		e->state = RS_FAILED;
		e->naddrs = 0;
		log_warn("hostname has no addresses now name=%s error=\"%s\" "
			 "(lookups failing for %lldms)", e->name, why,
			 (long long)(now - e->last_good_ms));
		rs_changed(r, e->name);
		break;
	case RS_FAILED:
		break;
	}
	if (e->state == RS_STALE &&
	    e->last_good_ms + (int64_t)r->keep_ms - now < next)
		next = e->last_good_ms + (int64_t)r->keep_ms - now;
	rs_schedule(e, next > 0 ? next : 0);
}

static void rs_cb(int result, char type, int count, int ttl,
		  void *addresses, void *arg)
{
	struct rs_entry *e = arg;
	size_t len = type == DNS_IPv4_A ? 4 : 16;

	e->inflight--;
	if (e->dead) {
		if (!e->inflight) {
			struct rs_entry **p = &e->r->dead;
			while (*p != e)
				p = &(*p)->next_dead;
			*p = e->next_dead;
			rs_entry_free(e);
		}
		return;
	}
	if (result == DNS_ERR_NONE && count > 0 &&
	    (type == DNS_IPv4_A || type == DNS_IPv6_AAAA)) {
		e->answers++;
		if (ttl >= 0 && (uint32_t)ttl < e->ttl)
			e->ttl = (uint32_t)ttl;
		for (int i = 0; i < count; i++) {
			struct resolver_addr *a;
			if (e->ngot == RESOLVER_ADDRS_MAX) {
				if (!e->dropped_said)
					log_warn("hostname has more than %d "
						 "addresses, the rest ignored "
						 "name=%s", RESOLVER_ADDRS_MAX,
						 e->name);
				e->dropped_said = true;
				break;
			}
			a = &e->got[e->ngot++];
			memset(a, 0, sizeof(*a));
			a->family = type == DNS_IPv4_A ? AF_INET : AF_INET6;
			memcpy(a->ip, (const uint8_t *)addresses + i * len, len);
		}
	} else if (result != DNS_ERR_NONE && result != DNS_ERR_NODATA) {
		e->err = result;
	}
	if (e->inflight)
		return;
	if (e->ngot)
		rs_settle_ok(e);
	else
		rs_settle_fail(e);
}

static void rs_lookup(struct rs_entry *e)
{
	struct resolver *r = e->r;

	if (e->inflight)
		return; /* the one out settles and schedules the next */
	e->ngot = 0;
	e->ttl = UINT32_MAX;
	e->answers = 0;
	e->err = 0;
	e->inflight = 2;
	r->lookups++;
	if (!evdns_base_resolve_ipv4(r->dns, e->name, DNS_QUERY_NO_SEARCH,
				     rs_cb, e)) {
		e->inflight--;
		e->err = DNS_ERR_UNKNOWN;
	}
	if (!evdns_base_resolve_ipv6(r->dns, e->name, DNS_QUERY_NO_SEARCH,
				     rs_cb, e)) {
		e->inflight--;
		e->err = DNS_ERR_UNKNOWN;
	}
	if (!e->inflight)
		rs_settle_fail(e);
}

/* ---- set-up ---- */

static void rs_conf_free(struct resolver *r)
{
	for (size_t i = 0; i < r->nservers; i++)
		free(r->servers[i]);
	free(r->servers);
	free(r->resolv_conf);
	r->servers = NULL;
	r->nservers = 0;
	r->resolv_conf = NULL;
}

/* The servers and options into r->dns (suspended by the caller). */
static int rs_servers(struct resolver *r, const struct resolver_conf *c,
		      char *err, size_t errlen)
{
	char tmo[32];

	for (size_t i = 0; i < c->nservers; i++) {
		if (evdns_base_nameserver_ip_add(r->dns, c->servers[i]) != 0) {
			snprintf(err, errlen, "resolver server '%s' is not an "
				 "address (ip, ip:port or [ipv6]:port)",
				 c->servers[i]);
			return -1;
		}
	}
	if (!c->nservers) {
		const char *path = c->resolv_conf ? c->resolv_conf :
				   "/etc/resolv.conf";
		int rc = evdns_base_resolv_conf_parse(r->dns,
			DNS_OPTION_NAMESERVERS, path);
		if (rc != 0)
			log_warn("resolver: %s not read (error %d); asking "
				 "127.0.0.1", path, rc);
	}
	snprintf(tmo, sizeof(tmo), "%u.%03u", c->timeout_ms / 1000,
		 c->timeout_ms % 1000);
	if (evdns_base_set_option(r->dns, "timeout:", tmo) != 0 ||
	    evdns_base_set_option(r->dns, "attempts:", "2") != 0 ||
	    evdns_base_set_option(r->dns, "randomize-case:", "0") != 0) {
		snprintf(err, errlen, "resolver options refused");
		return -1;
	}
	return 0;
}

static void rs_conf_keep(struct resolver *r, const struct resolver_conf *c)
{
	rs_conf_free(r);
	r->min_ttl_ms = c->min_ttl_ms;
	r->max_ttl_ms = c->max_ttl_ms < c->min_ttl_ms ? c->min_ttl_ms :
			c->max_ttl_ms;
	r->keep_ms = c->keep_ms;
	r->timeout_ms = c->timeout_ms;
	if (c->nservers)
		r->servers = xcalloc(c->nservers, sizeof(*r->servers));
	for (size_t i = 0; i < c->nservers; i++)
		r->servers[i] = xstrdup(c->servers[i]);
	r->nservers = c->nservers;
	r->resolv_conf = c->resolv_conf ? xstrdup(c->resolv_conf) : NULL;
}

/* evdns's own messages (a server marked down, back up): into the log,
 * not onto stderr; the state changes that matter are logged above. */
static void rs_evdns_log(int is_warn, const char *msg)
{
	log_debug("resolver: %s", msg);
}

struct resolver *resolver_new(struct event_base *base,
			      const struct resolver_conf *conf,
			      resolver_change_fn fn, void *arg,
			      char *err, size_t errlen)
{
	struct resolver *r = xcalloc(1, sizeof(*r));

	r->base = base;
	r->fn = fn;
	r->arg = arg;
	evdns_set_log_fn(rs_evdns_log);
	if (!(r->notify = evtimer_new(base, rs_notify_cb, r)))
		xalloc_die(sizeof(struct event *));
	/* Inactive, the resolver must not keep the loop from exiting. */
	r->dns = evdns_base_new(base, EVDNS_BASE_DISABLE_WHEN_INACTIVE);
	if (!r->dns) {
		snprintf(err, errlen, "resolver: no evdns base");
		resolver_free(r);
		return NULL;
	}
	if (rs_servers(r, conf, err, errlen) < 0) {
		resolver_free(r);
		return NULL;
	}
	rs_conf_keep(r, conf);
	rs_rehash(r, 0, NULL);
	return r;
}

static bool rs_streq(const char *a, const char *b)
{
	return (!a || !b) ? a == b : !strcmp(a, b);
}

bool resolver_conf_equal(const struct resolver_conf *a,
			 const struct resolver_conf *b)
{
	if (a->nservers != b->nservers || a->min_ttl_ms != b->min_ttl_ms ||
	    a->max_ttl_ms != b->max_ttl_ms || a->keep_ms != b->keep_ms ||
	    a->timeout_ms != b->timeout_ms ||
	    !rs_streq(a->resolv_conf, b->resolv_conf))
		return false;
	for (size_t i = 0; i < a->nservers; i++)
		if (strcmp(a->servers[i], b->servers[i]))
			return false;
	return true;
}

int resolver_configure(struct resolver *r, const struct resolver_conf *conf,
		       char *err, size_t errlen)
{
	struct resolver_conf cur = {
		(const char *const *)r->servers, r->nservers, r->resolv_conf,
		r->min_ttl_ms, r->max_ttl_ms, r->keep_ms, r->timeout_ms,
	};
	char ignore[128];

	if (resolver_conf_equal(&cur, conf))
		return 0;
	evdns_base_clear_nameservers_and_suspend(r->dns);
	if (rs_servers(r, conf, err, errlen) < 0) {
		/* Back to the servers that worked. */
		evdns_base_clear_nameservers_and_suspend(r->dns);
		rs_servers(r, &cur, ignore, sizeof(ignore));
		evdns_base_resume(r->dns);
		return -1;
	}
	evdns_base_resume(r->dns);
	rs_conf_keep(r, conf);
	for (size_t i = 0; i < r->cap; i++) {
		if (r->slot[i] && !r->slot[i]->inflight) {
			evtimer_del(r->slot[i]->timer);
			rs_lookup(r->slot[i]);
		}
	}
	return 0;
}

/* ---- wanted names ---- */

void resolver_begin(struct resolver *r)
{
	r->gen++;
}

void resolver_want(struct resolver *r, const char *name)
{
	struct rs_entry *e = rs_get(r, name);

	if (e) {
		e->gen = r->gen;
		return;
	}
	if (2 * (r->n + 1) > r->cap)
		rs_rehash(r, r->n + 1, NULL);
	e = xcalloc(1, sizeof(*e));
	e->name = xstrdup(name);
	e->r = r;
	e->gen = r->gen;
	e->state = RS_PENDING;
	if (!(e->timer = evtimer_new(r->base, rs_timer_cb, e)))
		xalloc_die(sizeof(struct event *));
	r->slot[rs_find(r, name)] = e;
	r->n++;
	rs_lookup(e);
}

/* Keeps entries wanted in this round; frees the others (or parks them
 * until their lookup is back). */
static bool rs_keep_wanted(struct resolver *r, struct rs_entry *e)
{
	if (e->gen == r->gen)
		return true;
	evtimer_del(e->timer);
	if (e->inflight) {
		e->dead = true;
		e->next_dead = r->dead;
		r->dead = e;
	} else {
		rs_entry_free(e);
	}
	return false;
}

void resolver_end(struct resolver *r)
{
	size_t keep = 0;

	for (size_t i = 0; i < r->cap; i++)
		keep += r->slot[i] && r->slot[i]->gen == r->gen;
	if (keep != r->n)
		rs_rehash(r, keep, rs_keep_wanted);
}

size_t resolver_get(const struct resolver *r, const char *name,
		    const struct resolver_addr **a)
{
	const struct rs_entry *e = rs_get(r, name);

	*a = e ? e->addrs : NULL;
	return e ? e->naddrs : 0;
}

static int rs_str_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

bool resolver_take_changes(struct resolver *r, const char *const **names,
			   size_t *n)
{
	bool all = r->rec_all;
	size_t m = 0;

	rs_names_free(r->taken, r->ntaken);
	r->taken = r->rec;
	r->ntaken = r->nrec;
	r->rec = NULL;
	r->nrec = 0;
	r->rec_all = false;
	if (r->ntaken)
		qsort(r->taken, r->ntaken, sizeof(*r->taken), rs_str_cmp);
	for (size_t i = 0; i < r->ntaken; i++) {
		if (m && !strcmp(r->taken[m - 1], r->taken[i])) {
			free(r->taken[i]);
			continue;
		}
		r->taken[m++] = r->taken[i];
	}
	r->ntaken = m;
	*names = all ? NULL : (const char *const *)r->taken;
	*n = all ? 0 : m;
	return !all;
}

void resolver_stats(const struct resolver *r, struct resolver_stats *st)
{
	memset(st, 0, sizeof(*st));
	st->names = r->n;
	st->lookups = r->lookups;
	st->failures = r->failures;
	st->changes = r->changes;
	for (size_t i = 0; i < r->cap; i++) {
		const struct rs_entry *e = r->slot[i];
		if (!e)
			continue;
		st->ok += e->state == RS_OK;
		st->stale += e->state == RS_STALE;
		st->failed += e->state == RS_FAILED;
		st->pending += e->state == RS_PENDING;
	}
}

void resolver_free(struct resolver *r)
{
	if (!r)
		return;
	/* Requests still out are dropped without a callback. */
	if (r->dns)
		evdns_base_free(r->dns, 0);
	for (size_t i = 0; i < r->cap; i++)
		if (r->slot[i])
			rs_entry_free(r->slot[i]);
	while (r->dead) {
		struct rs_entry *e = r->dead;
		r->dead = e->next_dead;
		rs_entry_free(e);
	}
	free(r->slot);
	if (r->notify)
		event_free(r->notify);
	rs_names_free(r->rec, r->nrec);
	rs_names_free(r->taken, r->ntaken);
	rs_conf_free(r);
	free(r);
}
