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
 * sdrs, clusters, dnseps: JSON arrays of objects (NULL: none).  On
 * success *out is a new array of *n services sorted by name (free with
 * kubefed_services_free) and 0 is returned; -1 when out of memory.
 * st may be NULL.
 */
int kubefed_map(const json_t *sdrs, const json_t *clusters,
		const json_t *dnseps, const struct kubefed_opts *opts,
		struct model_service **out, size_t *n,
		struct kubefed_stats *st);

void kubefed_services_free(struct model_service *s, size_t n);

/* Same services, endpoints, addresses and settings (health ignored). */
bool kubefed_services_equal(const struct model_service *a, size_t na,
			    const struct model_service *b, size_t nb);

#endif
