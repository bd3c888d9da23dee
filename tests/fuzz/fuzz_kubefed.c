/*
 * fuzz_kubefed.c -- libFuzzer target for the mapping of Kubernetes
 * objects to services: anyone who may create a ServiceDNSRecord or a
 * DNSEndpoint in a watched namespace chooses these bytes.  The input is
 * JSON; its array (or an object's "items") is mapped as ServiceDNSRecords,
 * as KubeFedClusters and as DNSEndpoints.  Malformed objects must be
 * skipped: a crash, a sanitizer report or a leak is a failure.
 *
 * The same array is then a sequence of watch events for the incremental
 * index (kube/kubeidx.c): an element {"type": "ADDED" | "MODIFIED" |
 * "DELETED", "object": {...}} is that event, any other element an ADDED
 * or MODIFIED of itself; the object's "kind" (DNSEndpoint,
 * KubeFedCluster, else ServiceDNSRecord) says which store it goes to.
 * After every event the index must equal kubefed_map over the stores,
 * and name exactly the names that changed: else the target aborts.
 */
#include "config.h"

#include <stdlib.h>

#include <jansson.h>

#include "kube/kubefed.h"
#include "tests/unit/kubeidx_harness.h"

#define FUZZ_EVENTS_MAX 64 /* each is checked against a full map */

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* One element as an event on t.  Returns whether it was a cluster's
 * (every object may be mapped again then). */
static bool fuzz_event(struct incr *t, const json_t *e)
{
	const char *type = json_string_value(json_object_get(e, "type"));
	const json_t *obj = type ? json_object_get(e, "object") : e;
	const char *kind = json_string_value(json_object_get(obj, "kind"));
	bool gone = type && !strcmp(type, "DELETED");
	char key[512];

	/* The reflector keeps only objects with a name. */
	if (!json_is_object(obj) || !kube_obj_key(obj, key, sizeof(key)))
		return false;
	if (kind && !strcmp(kind, "KubeFedCluster")) {
		if (gone)
			json_object_del(t->clusters, key);
		else
			json_object_set(t->clusters, key, (json_t *)obj);
		kubeidx_set_clusters(t->x, t->clusters);
		return true;
	}
	incr_event(t, kind && !strcmp(kind, "DNSEndpoint") ? KUBEFED_DNSEP :
		   kind && !strcmp(kind, "IngressDNSRecord") ? KUBEFED_IDR :
		   KUBEFED_SDR, gone ? NULL : json_incref((json_t *)obj), key);
	return false;
}

static void fuzz_incremental(const json_t *arr)
{
	struct incr t;
	const json_t *e;
	size_t i;

	incr_init(&t, quiet);
	t.o.apex = "example.com.";
	kubeidx_set_opts(t.x, &t.o);
	json_array_foreach(arr, i, e) {
		const char *why;
		bool everything;

		if (i == FUZZ_EVENTS_MAX)
			break;
		everything = fuzz_event(&t, e) || i == 0;
		kubeidx_commit(t.x);
		if ((why = incr_check(&t, everything))) {
			fprintf(stderr, "kubeidx after event %zu: %s\n", i, why);
			abort();
		}
		kubeidx_release(t.x);
	}
	incr_done(&t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	json_t *doc = json_loadb((const char *)data, size,
				 JSON_DISABLE_EOF_CHECK, NULL);
	json_t *arr = json_is_array(doc) ? doc : json_object_get(doc, "items");
	json_t *empty = json_array();
	struct kubefed_opts o = {
		.apex = "example.com.", .policy = POLICY_ALL, .ttl = 30,
		.log = quiet,
	};
	struct model_service *s = NULL;
	struct kubefed_stats st;
	size_t n = 0;

	if (json_is_array(arr) && empty) {
		kubefed_map(arr, empty, empty, empty, &o, &s, &n, &st);
		kubefed_services_free(s, n);
		kubefed_map(arr, arr, arr, arr, &o, &s, &n, &st);
		kubefed_services_free(s, n);
		fuzz_incremental(arr);
	}
	json_decref(doc);
	json_decref(empty);
	return 0;
}
