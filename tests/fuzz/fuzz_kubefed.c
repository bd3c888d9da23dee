/*
 * fuzz_kubefed.c -- libFuzzer target for the mapping of Kubernetes
 * objects to services: anyone who may create a ServiceDNSRecord or a
 * DNSEndpoint in a watched namespace chooses these bytes.  The input is
 * JSON; its array (or an object's "items") is mapped as ServiceDNSRecords,
 * as KubeFedClusters and as DNSEndpoints.  Malformed objects must be
 * skipped: a crash, a sanitizer report or a leak is a failure.
 */
#include "config.h"

#include <jansson.h>

#include "kube/kubefed.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void quiet(void *arg, enum log_level level, const char *line)
{
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
		if (kubefed_map(arr, empty, empty, &o, &s, &n, &st) == 0)
			kubefed_services_free(s, n);
		if (kubefed_map(arr, arr, arr, &o, &s, &n, &st) == 0)
			kubefed_services_free(s, n);
	}
	json_decref(empty);
	json_decref(doc);
	return 0;
}
