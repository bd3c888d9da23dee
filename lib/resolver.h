/*
 * resolver.h -- host names kept resolved on the control thread's
 * libevent base (evdns: asynchronous, never a blocking getaddrinfo).
 *
 * Cloud load balancers (AWS ELB and the like) are published as a host
 * name whose addresses change.  The resolver looks up A and AAAA of every
 * wanted name, looks again when the answer's TTL runs out (clamped to
 * min/max), and keeps each name's current addresses.  When lookups fail
 * the last good addresses stay for keep_ms, then the name has none; each
 * change of state is logged once.  When some name's addresses changed,
 * the change callback runs once (coalesced) on a later loop turn.
 *
 * Knows nothing of the service model: names in, addresses out.
 */
#ifndef GSLBD_RESOLVER_H
#define GSLBD_RESOLVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct event_base;
struct resolver;

/* Addresses per name kept at most (more are dropped, said once). */
#define RESOLVER_ADDRS_MAX 64

struct resolver_addr {
	int family;        /* AF_INET or AF_INET6 */
	uint8_t ip[16];    /* 4 or 16 bytes used */
};

struct resolver_conf {
	const char *const *servers; /* "ip", "ip:port", "[v6]:port" */
	size_t nservers;            /* 0: the nameservers of resolv_conf */
	const char *resolv_conf;    /* NULL: /etc/resolv.conf */
	uint32_t min_ttl_ms, max_ttl_ms, keep_ms, timeout_ms;
};

typedef void (*resolver_change_fn)(void *arg);

/* NULL with a message in err (a bad server, an unreadable resolv.conf
 * with no servers given). */
struct resolver *resolver_new(struct event_base *base,
			      const struct resolver_conf *conf,
			      resolver_change_fn fn, void *arg,
			      char *err, size_t errlen);

/* New servers and timings: every name is looked up again (its addresses
 * stay meanwhile).  Returns 0, or -1 with err (the old settings stay). */
int resolver_configure(struct resolver *r, const struct resolver_conf *conf,
		       char *err, size_t errlen);

/* Whether two configurations are the same (no need to reconfigure). */
bool resolver_conf_equal(const struct resolver_conf *a,
			 const struct resolver_conf *b);

/* Which names are wanted: resolver_want adds one (a new name is looked
 * up at once); between resolver_begin and resolver_end every name not
 * wanted again is dropped at the end.  name: a host name, no final dot. */
void resolver_begin(struct resolver *r);
void resolver_want(struct resolver *r, const char *name);
void resolver_end(struct resolver *r);

/* The current addresses of name (*a valid until the next loop turn), or
 * 0 when it has none (not looked up yet, or failed past keep_ms). */
size_t resolver_get(const struct resolver *r, const char *name,
		    const struct resolver_addr **a);

/* The names whose addresses changed since the last call (sorted,
 * unique; owned by the resolver until the next call).  False: take every
 * name as changed (more than RESOLVER_CHANGES_MAX); *names NULL then. */
#define RESOLVER_CHANGES_MAX 256
bool resolver_take_changes(struct resolver *r, const char *const **names,
			   size_t *n);

/* For status and tests. */
struct resolver_stats {
	size_t names, ok, stale, failed, pending;
	uint64_t lookups, failures, changes;
};
void resolver_stats(const struct resolver *r, struct resolver_stats *st);

/* Stops every lookup without calling back; NULL is fine. */
void resolver_free(struct resolver *r);

#endif
