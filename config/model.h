/*
 * model.h -- the service model: what gslbd serves, whatever its source.
 *
 * The config parser (config/cfg.c) and the Kubernetes source (kube/)
 * produce it; the probe manager (probes/) and the compiler (server/)
 * read it.  Once composed (daemon/) and given its probe targets
 * (model_targets_build), a model is read-only: health lives in the probe
 * manager's table, admin state in the daemon's rules.  Worker threads
 * never see it: they only read the snapshot server/compile.c builds.
 *
 * Ownership: a struct model owns every pointer reachable from it; free it
 * with model_free().  Strings are heap copies.  Names are lower-case
 * presentation format with a trailing dot ("www.global.example.org.").
 */
#ifndef GSLBD_MODEL_H
#define GSLBD_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "config/probe_spec.h"

struct ldns_struct_rr_list;
struct ldns_struct_key_list;

/* The health of a probe target, as the probe manager reports it. */
enum model_health {
	HEALTH_UNKNOWN = 0, /* not probed yet: counts as up (optimistic start) */
	HEALTH_UP,
	HEALTH_DOWN,
};

struct model_addr {
	int family; /* AF_INET or AF_INET6 */
	union {
		struct in_addr v4;
		struct in6_addr v6;
	} ip;
	/* 1 + index into model.targets; 0: not probed (always up).  Set by
	 * model_targets_build only, so a zeroed address has none. */
	uint32_t target;
};

/* A network prefix, for topology maps and access lists. */
struct model_net {
	int family;
	uint8_t prefix; /* bits */
	uint8_t addr[16];
};

enum model_policy {
	POLICY_ALL = 0,  /* every healthy address, rotated, capped */
	POLICY_FAILOVER, /* healthy endpoints of the best (lowest) priority */
	POLICY_WEIGHTED, /* one healthy endpoint, chosen by weight */
	POLICY_TOPOLOGY, /* the client's region, else every healthy one */
};

enum model_alldown {
	ALLDOWN_SERVE_ALL = 0, /* fail open: answer as if all were up */
	ALLDOWN_SERVFAIL,
	ALLDOWN_NODATA,
};

/* Runtime admin state of an endpoint (daemon/admin.h), never in the
 * model itself. */
enum model_admin {
	ADMIN_NONE = 0,
	ADMIN_DRAINED,    /* never answered */
	ADMIN_FORCE_UP,   /* answered whatever the probes say */
	ADMIN_FORCE_DOWN, /* never answered, counts as down */
};

struct model_endpoint {
	char *region;    /* region / cluster label */
	char *name;      /* unique within the service; defaults to region */
	struct model_addr *addrs;
	size_t naddrs;
	/* Load-balancer host names (lower case, no final dot) whose
	 * addresses the daemon adds to addrs of the live model's copy as the
	 * resolver finds them (daemon/hostnames.c); the source's own
	 * services keep only the literal addresses. */
	char **hostnames;
	size_t nhostnames;
	uint32_t weight;   /* default 1 */
	uint32_t priority; /* lower is preferred; default 1 */
	bool enabled;      /* default true */
	struct probe_spec probe; /* fully resolved: defaults, service, endpoint */
};

struct model_service {
	char *name;          /* FQDN, lower case, trailing dot */
	enum model_policy policy;
	enum model_alldown all_down;
	uint32_t ttl;        /* default 30 */
	uint32_t max_answers; /* default 8; 0: no cap */
	struct model_endpoint *eps;
	size_t neps;
	const char *source;  /* "config", "kube": where it came from (static) */
};

struct model_ns {
	char *name;          /* FQDN */
	struct model_addr *addrs; /* glue, required when name is in the zone */
	size_t naddrs;
};

struct model_zone {
	char *apex;          /* FQDN */
	uint32_t ttl;        /* default TTL of zone data (SOA, NS, glue): 3600 */
	char *soa_mname;     /* default: first NS name */
	char *soa_rname;     /* default: "hostmaster.<apex>" */
	uint32_t soa_serial; /* 0 in the file: unix time at load */
	uint32_t soa_refresh, soa_retry, soa_expire, soa_minimum;
	struct model_ns *ns;
	size_t nns;
	char *zone_file;     /* absolute or relative to the config file */
	struct ldns_struct_rr_list *static_rrs; /* from zone_file, owned */
};

/* DNSSEC (config/cfg_dnssec.c): keys loaded once at config load, so
 * the compiler signs without touching the files. */
enum model_denial {
	DENIAL_NSEC = 0, /* a precomputed, presigned NSEC chain */
	DENIAL_COMPACT,  /* RFC 9824, signed online; the chain as fallback */
};

/* BIND key timing (the .private file's Publish/Activate/Inactive/Delete),
 * unix time; 0: not set.  A key is in the DNSKEY RRset from publish until
 * delete and signs from activate until inactive. */
struct model_key_time {
	int64_t publish, activate, inactive, delete_;
};

enum model_cds {
	CDS_PUBLISH = 0, /* CDS + CDNSKEY for the active KSKs (RFC 7344) */
	CDS_NONE,
	CDS_DELETE,      /* the delete form: the parent removes the DS (RFC 8078) */
};

struct model_dnssec {
	bool enabled;        /* a `dnssec:` section with keys */
	enum model_cds cds;
	char **key_paths;    /* as configured, without .key/.private */
	size_t nkeys;
	enum model_denial denial;
	uint32_t validity;   /* seconds; default 14 days */
	/* Owned.  Signing keys (flags, key tag and owner set); ksk_mask has
	 * bit i set when key i signs the DNSKEY RRset (flag 257, or a lone
	 * CSK), zsk_mask when it signs everything else. */
	struct ldns_struct_key_list *keys;
	uint32_t ksk_mask, zsk_mask;
	/* The DNSKEY records, owner the apex, as the .key files hold them. */
	struct ldns_struct_rr_list *dnskeys;
	struct model_key_time *times; /* per key, in the same order */
	/* compact: online signatures a second per worker (token bucket,
	 * burst one second's worth); 0: always the chain. */
	uint32_t online_sign_rate;
};

/* Release what a dnssec section owns. */
void model_dnssec_clear(struct model_dnssec *d);

/* Topology: client prefixes that prefer one region. */
struct model_topology {
	char *region;
	struct model_net *nets;
	size_t nnets;
};

struct model_listen {
	struct sockaddr_storage ss;
	socklen_t sslen;
};

struct model_server {
	struct model_listen *listen; /* default 127.0.0.1 and ::1, port 53 */
	size_t nlisten;
	uint32_t workers;        /* default: number of CPUs */
	uint16_t edns_udp_size;  /* default 1232 */
	uint32_t tcp_idle_ms;    /* default 10000 */
	uint32_t tcp_max_clients; /* per worker, default 256 */
	uint32_t tcp_query_ms;   /* a message begun must end within; 5000 */
	uint32_t tcp_lifetime_ms; /* a connection's longest life; 120000 */
	uint32_t tcp_max_per_source; /* per worker and address; default 16 */
	char *identity;          /* id.server / hostname.bind; NULL: refused */
	char *version;           /* version.bind / version.server; NULL: refused */
	char *nsid;              /* RFC 5001 payload as given (text); NULL: off */
	char *user, *group;      /* drop privileges to these after binding */
	char *pidfile;           /* written after binding; NULL: none */
	int log_level;           /* enum log_level; -1: not set (info) */
};

/* Response rate limiting (server/rrl.h): the `rate-limit` section. */
struct model_rrl {
	uint32_t rps;            /* per prefix and answer group; 0: off.  200 */
	uint32_t slip;           /* every slip-th limited answer truncated; 2 */
	uint8_t v4_prefix;       /* 24 */
	uint8_t v6_prefix;       /* 56 */
	struct model_net *exempt; /* never limited */
	size_t nexempt;
};

/* DNS cookies (server/cookie.h): server.cookies, server.cookie-secret,
 * server.cookie-secret-previous. */
struct model_cookies {
	bool enabled;            /* default true */
	bool has_secret;         /* false: a random secret per process */
	bool has_previous;
	uint8_t secret[16];
	uint8_t previous[16];    /* still accepted, while rotating */
};

/* The control and metrics HTTP API: control/control.c. */
struct model_control {
	bool enabled;            /* default true */
	struct model_listen listen; /* default 127.0.0.1:8053 */
	char *token;             /* bearer token required when set */
	bool metrics_per_target; /* series per address and probe target */
	uint32_t max_connections; /* open at once; default 32 */
	uint32_t request_ms;     /* accept to whole request; default 10000 */
};

/* Resolution of endpoint host names (lib/resolver.c): the `resolver:`
 * section. */
struct model_resolver {
	char **servers;          /* "ip" or "ip:port"; none: /etc/resolv.conf */
	size_t nservers;
	uint32_t min_ttl_ms;     /* re-resolve no sooner; default 5 s */
	uint32_t max_ttl_ms;     /* and no later; default 5 min */
	uint32_t keep_ms;        /* last good addresses kept this long after
				    lookups start failing; default 10 min */
	uint32_t timeout_ms;     /* one query; default 2 s */
};

/* The Kubernetes (KubeFed) source of services: kube/. */
struct model_kube {
	bool enabled;            /* a `kubernetes:` section is present */
	char *kubeconfig;        /* NULL: in-cluster service account */
	char *context;           /* NULL: the kubeconfig's current-context */
	char **namespaces;       /* none: every namespace */
	size_t nnamespaces;
	char *kubefed_namespace; /* KubeFedCluster/Domain objects; default
				    "kube-federation-system" */
	char *cache_file;        /* last known services; NULL: none */
	uint32_t resync_ms;      /* full relist period; default 10 min */
	uint32_t timeout_ms;     /* API request timeout; default 10 s */
	bool dnsendpoints;       /* also watch DNSEndpoint; default true */
	enum model_policy policy; /* for services from the API; default all */
	uint32_t ttl;            /* default 30 */
	uint32_t max_answers;    /* addresses per answer; default 8, 0: all */
	bool ingressdnsrecords;  /* also watch IngressDNSRecord; default true */
};

/* A probe target: one address probed one way.  Every address of every
 * service whose (address, probe settings, Host) match shares one target,
 * so it is probed once and every name sees the same health. */
struct model_target {
	struct model_addr addr;        /* .target: 1 + this target's index */
	struct probe_spec spec;        /* owned copy */
	char *host;         /* HTTP Host and SNI: spec.host or the first
			       service's name without its dot; NULL for tcp */
	uint64_t hash;      /* model_target_hash */
	uint32_t *svcs;     /* indexes of the services using it (owned) */
	uint32_t nsvcs;     /* 0: retired, nothing uses it (not probed) */
	uint32_t cap;
};

struct model {
	char *path;                 /* the config file it came from */
	struct model_server server;
	struct model_zone zone;
	struct probe_spec probe_defaults;
	struct model_topology *topo;
	size_t ntopo;
	struct model_service *svcs;
	size_t nsvcs;
	struct model_kube kube;
	struct model_resolver resolver;
	struct model_control control;
	struct model_dnssec dnssec;
	struct model_rrl rrl;
	struct model_cookies cookies;
	/* Filled by model_targets_build, kept by model_targets_drop and
	 * model_targets_add; indexes are stable until the next build. */
	struct model_target *targets;
	size_t ntargets, target_cap;
	uint32_t *target_index; /* open addressing: 1 + index, 0 empty */
	uint32_t target_mask;
};

/* Release everything a model owns, and the model itself.  NULL is fine. */
void model_free(struct model *m);

/* Release what a service owns (not the struct). */
void model_service_clear(struct model_service *s);

/* Deep copy of a service (without target indexes: they belong to the
 * model the original is in). */
void model_service_copy(struct model_service *dst,
			const struct model_service *src);

/* Each address of s stays in one endpoint only, the one that would
 * answer it first (enabled, then the better priority, then the earlier);
 * endpoints left without addresses are removed (config/model_dedup.c).
 * Returns how many addresses went. */
size_t model_service_dedup(struct model_service *s);

/* Does any service of m name load balancers by host name? */
bool model_has_hostnames(const struct model *m);

/* Release what a kube section owns. */
void model_kube_clear(struct model_kube *k);

/* Whether an address may be answered now: the endpoint enabled, its
 * admin state and its target's health. */
bool model_answerable(bool enabled, enum model_admin admin,
		      enum model_health health);

/* Give every probed address of m its target: one per distinct
 * (address, port, probe settings, effective Host), with the services that
 * use it.  Replaces targets a previous call made (and compacts them). */
void model_targets_build(struct model *m);
void model_targets_clear(struct model *m);

/* Target indexes whose use changed (new, retired or revived), for the
 * probe manager. */
struct model_target_ids {
	uint32_t *ids;
	size_t n, cap;
};

/* Service slot i stops using its targets (before it is replaced or
 * removed): a target nothing uses any more is retired, not removed, so
 * indexes stay.  Its addresses lose their targets. */
void model_targets_drop(struct model *m, uint32_t i, struct model_target_ids *d);

/* Service slot i (new or replaced) gets targets for its probed
 * addresses: an existing one (revived when retired) or a new one at the
 * end. */
void model_targets_add(struct model *m, uint32_t i, struct model_target_ids *d);

/* True when two probed addresses are one target: same address, and the
 * settings that matter for their probe type equal (host: the effective
 * Host, ignored for tcp). */
bool model_target_same(const struct model_addr *a, const struct probe_spec *sa,
		       const char *host_a, const struct model_addr *b,
		       const struct probe_spec *sb, const char *host_b);
uint64_t model_target_hash(const struct model_addr *a,
			   const struct probe_spec *s, const char *host);

/* "192.0.2.1" / "2001:db8::1" into buf (INET6_ADDRSTRLEN). */
const char *model_addr_str(const struct model_addr *a, char *buf, size_t len);

/* Parse a textual IPv4/IPv6 address.  Returns 0 or -1. */
int model_addr_parse(struct model_addr *a, const char *s);

/* Parse "10.0.0.0/8" or "2001:db8::/32" (a bare address is a host
 * prefix).  Host bits must be zero.  Returns 0 or -1. */
int model_net_parse(struct model_net *n, const char *s);

/* Names of enum values, as the config file and the control API spell
 * them; an endpoint's name defaults to its region. */
const char *model_admin_name(unsigned admin);
const char *model_policy_name(unsigned policy);
const char *model_alldown_name(unsigned all_down);
const char *model_endpoint_name(const struct model_endpoint *e);

/* Is a listen address on loopback (127.0.0.0/8, ::1, v4-mapped 127/8)? */
bool model_listen_is_loopback(const struct model_listen *l);

/* Does net contain the address (family, 4 or 16 bytes)? */
bool model_net_contains(const struct model_net *n, int family,
			const uint8_t *addr);

#endif
