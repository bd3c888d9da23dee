/*
 * kubefed.h -- KubeFed objects (ServiceDNSRecord, KubeFedCluster,
 * DNSEndpoint, as JSON from the API) mapped to model services, with
 * KubeFed's naming convention:
 *
 *   global  <svc>.<ns>.<fed>.svc.<domain>
 *   region  <svc>.<ns>.<fed>.svc.<region>.<domain>
 *   zone    <svc>.<ns>.<fed>.svc.<zone>.<region>.<domain>
 *   prefix  <dnsPrefix>.<domain>          (served like the global name)
 *
 * KubeFed's own DNS made an empty zone name a CNAME to the region name,
 * and that a CNAME to the global name.  gslbd answers every level
 * directly with healthy addresses and gets the same fallback from the
 * failover policy: a zone name has its zone's clusters at priority 1,
 * the rest of its region at 2 and every other cluster at 3; a region
 * name has its clusters at 1 and the others at 2.
 *
 * Pure functions of their input: no I/O, so they are unit-tested with
 * inline fixtures.  Problems with single objects are reported through
 * the log callback and the object (or the one name) is skipped; nothing
 * else is dropped.
 */
#ifndef GSLBD_KUBEFED_H
#define GSLBD_KUBEFED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config/model.h"
#include "lib/log.h"

/* Annotations on ServiceDNSRecord and DNSEndpoint objects. */
#define KUBEFED_ANN_PREFIX "gslbd.io/"

typedef void (*kubefed_log_fn)(void *arg, enum log_level lvl,
			       const char *msg);

struct kubefed_opts {
	const char *apex;          /* zone apex, lower case, trailing dot */
	enum model_policy policy;  /* for global and DNSEndpoint names */
	uint32_t ttl;
	uint32_t max_answers;      /* addresses per answer; 0: every one */
	const struct probe_spec *defaults; /* config probe-defaults, or NULL */
	kubefed_log_fn log;        /* NULL: straight to the log */
	void *log_arg;
};

struct kubefed_stats {
	uint32_t bad;        /* malformed objects skipped */
	uint32_t skipped;    /* names skipped: outside the zone, invalid */
	uint32_t duplicates; /* names already taken by an earlier object */
};

/*
 * sdrs, idrs (IngressDNSRecords), clusters, dnseps: JSON arrays of
 * objects (NULL: none).  *out gets a new array of *n services sorted
 * by name (free with kubefed_services_free).  st may be NULL.
 *
 * Each object is mapped on its own (as kubefed_map_object does) into
 * candidates; a name two candidates ask for goes to the first in
 * (kind, namespace/name, the object's own order): ServiceDNSRecords,
 * then IngressDNSRecords, then DNSEndpoints.  The others are logged as duplicates.
 */
void kubefed_map(const json_t *sdrs, const json_t *idrs,
		 const json_t *clusters, const json_t *dnseps,
		 const struct kubefed_opts *opts, struct model_service **out,
		 size_t *n, struct kubefed_stats *st);

/* The kinds that ask for names, in the order they win them: a record
 * before the DNSEndpoint KubeFed makes from it. */
enum kubefed_kind { KUBEFED_SDR, KUBEFED_IDR, KUBEFED_DNSEP };
#define KUBEFED_NKINDS 3

/* "ServiceDNSRecord", "IngressDNSRecord", "DNSEndpoint" */
const char *kubefed_kind_name(enum kubefed_kind kind);

/* KubeFedCluster readiness by cluster name, made once per change of
 * the clusters and read by every object's mapping.  clusters: a JSON
 * array of objects, or an object of them (a reflector's store), or NULL.
 * The first object of a name counts. */
struct kubefed_clusters *kubefed_clusters_new(const json_t *clusters);
bool kubefed_clusters_equal(const struct kubefed_clusters *a,
			    const struct kubefed_clusters *b);
void kubefed_clusters_free(struct kubefed_clusters *c);

/* One name an object asks for. */
struct kubefed_cand {
	struct model_service svc;
	bool derived; /* a DNSEndpoint KubeFed made from a ServiceDNSRecord:
			 losing a name to it is expected (said at debug) */
};

/*
 * One ServiceDNSRecord or DNSEndpoint: obj, known as key
 * ("namespace/name", as kube_obj_key gives it).  *out gets a new array
 * of *n candidates in the object's own order (a name may come twice);
 * free with kubefed_cands_free.  Messages about the object go through
 * opts->log; st (may be NULL) counts its bad objects and skipped names.
 */
void kubefed_map_object(enum kubefed_kind kind, const json_t *obj,
			const char *key, const struct kubefed_clusters *cl,
			const struct kubefed_opts *opts,
			struct kubefed_cand **out, size_t *n,
			struct kubefed_stats *st);
void kubefed_cands_free(struct kubefed_cand *c, size_t n);

/* The message for a candidate that loses name to an earlier one; owners
 * as "<kind name> <namespace/name>". */
void kubefed_log_duplicate(const struct kubefed_opts *opts,
			   const char *name, const char *loser, bool derived,
			   const char *winner);

void kubefed_services_free(struct model_service *s, size_t n);

/* Same services, endpoints, addresses and settings (health ignored). */
bool kubefed_services_equal(const struct model_service *a, size_t na,
			    const struct model_service *b, size_t nb);

#endif
