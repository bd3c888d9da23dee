/* test_snap.c -- snapshot lookup: every compiled name is found, nothing
 * else is, empty non-terminals exist, and the table holds many names. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "config/cfg.h"
#include "server/compile.h"
#include "server/qsbr.h"
#include "server/snap.h"
#include "tests/unit/tap.h"

static void errline(void *arg, const char *line)
{
	printf("# config: %s\n", line);
}

static const struct snap_node *find(const struct snap *s, const char *name)
{
	ldns_rdf *d = ldns_dname_new_frm_str(name);
	ldns_dname2canonical(d);
	const struct snap_node *n = snap_lookup(s, ldns_rdf_data(d),
		(uint8_t)ldns_rdf_size(d),
		wire_name_hash(ldns_rdf_data(d), ldns_rdf_size(d)));
	ldns_rdf_deep_free(d);
	return n;
}

static struct snap *build(size_t nsvc, struct model **mp)
{
	size_t cap = 4096 + nsvc * 120;
	char *conf = malloc(cap);
	size_t n = (size_t)snprintf(conf, cap,
		"zone:\n  name: z.test\n  nameservers:\n"
		"    - name: ns1\n      addresses: [192.0.2.1]\n"
		"probe-defaults: { type: none }\nservices:\n");
	for (size_t i = 0; i < nsvc; i++)
		n += (size_t)snprintf(conf + n, cap - n,
			"  - name: s%zu.ns%zu.fed.svc\n    endpoints:\n"
			"      - region: a\n        addresses: [10.%zu.%zu.1]\n",
			i, i % 7, (i >> 8) & 255, i & 255);
	char err[256];
	*mp = cfg_load_string("snap.yaml", conf, errline, NULL);
	free(conf);
	if (!*mp)
		return NULL;
	struct snap *s = compile_snapshot(*mp, NULL, 7, err, sizeof(err));
	if (!s)
		printf("# compile: %s\n", err);
	return s;
}

/* A name below a DNAME (as a Kubernetes object could bring) is hidden,
 * as one below a delegation is; the DNAME's node keeps its DNAME. */
static void test_dname_hides(void)
{
	char err[256];
	ldns_rr *rr = NULL;
	struct model *m = cfg_load_string("dn.yaml",
		"zone:\n  name: z.test\n  nameservers:\n"
		"    - name: ns1\n      addresses: [192.0.2.1]\n"
		"probe-defaults: { type: none }\nservices:\n"
		"  - name: a.dn\n    endpoints:\n"
		"      - region: a\n        addresses: [10.0.0.1]\n"
		"  - name: b\n    endpoints:\n"
		"      - region: a\n        addresses: [10.0.0.2]\n",
		errline, NULL);

	if (!ok(m, "a model with a service a.dn"))
		return;
	/* After the config check, which refuses this in a config. */
	ldns_rr_new_frm_str(&rr, "dn.z.test. 300 IN DNAME t.example.", 0,
			    NULL, NULL);
	if (!m->zone.static_rrs)
		m->zone.static_rrs = ldns_rr_list_new();
	ldns_rr_list_push_rr(m->zone.static_rrs, rr);
	struct snap *s = compile_snapshot(m, NULL, 8, err, sizeof(err));
	if (ok(s, "compiles")) {
		ok(s->has_dname, "the snapshot knows it has a DNAME");
		ok(!find(s, "a.dn.z.test."), "the service below the DNAME is hidden");
		ok(find(s, "b.z.test.") && find(s, "b.z.test.")->svc,
		   "a service beside it is not");
		const struct snap_rrset *d =
			snap_rrset_find(find(s, "dn.z.test."), DNS_T_DNAME);
		ok(d && d->ancount == 1 && d->an_len == 12 + 11 &&
		   !memcmp(d->wire + 12, "\001t\007example", 11),
		   "the DNAME's template: owner pointer, target uncompressed");
		snap_free(s);
	}
	model_free(m);
}

int main(void)
{
	test_dname_hides();

	struct model *m;
	struct snap *s = build(3, &m);

	ok(s != NULL, "a small snapshot compiles");
	if (!s)
		return tap_done();
	is_int(s->generation, 7, "the generation is recorded");
	ok(find(s, "z.test.") && (find(s, "z.test.")->flags & SNAP_N_APEX),
	   "the apex is a node, flagged");
	ok(find(s, "s1.ns1.fed.svc.z.test.") &&
	   find(s, "s1.ns1.fed.svc.z.test.")->svc, "a service name is a node with a service");
	ok(find(s, "S1.NS1.FED.SVC.Z.TEST.") != NULL, "lookup ignores case");
	const struct snap_node *ent = find(s, "fed.svc.z.test.");
	ok(ent && !ent->svc && ent->nrrsets == 0, "an empty non-terminal exists, empty");
	ok(find(s, "svc.z.test.") != NULL, "...and its parent too");
	ok(find(s, "nope.z.test.") == NULL, "an unknown name is not found");
	ok(find(s, "s9.ns2.fed.svc.z.test.") == NULL, "a service not configured is not found");
	ok(snap_rrset_find(find(s, "z.test."), DNS_T_SOA) != NULL, "the apex has its SOA");
	ok(snap_rrset_find(find(s, "z.test."), DNS_T_NS) != NULL, "...and its NS");
	ok(snap_rrset_find(find(s, "z.test."), DNS_T_MX) == NULL, "...and no MX");
	snap_free(s);
	model_free(m);

	s = build(20000, &m);
	ok(s != NULL, "20000 services compile");
	size_t found = 0;
	char name[128];
	for (size_t i = 0; s && i < 20000; i++) {
		snprintf(name, sizeof(name), "s%zu.ns%zu.fed.svc.z.test.", i, i % 7);
		found += find(s, name) != NULL;
	}
	is_int(found, 20000, "every one of them is found");
	ok(s && s->mask + 1 >= 2 * s->nnodes, "the table stays at most half full");

	/* publication and reclamation: a retired snapshot is freed only
	 * after every worker passed a quiescent point */
	struct qsbr *q = qsbr_new(2);
	snap_publish(q, s);
	ok(snap_current() == s, "published snapshot is current");
	struct model *m2;
	struct snap *s2 = build(2, &m2);
	snap_publish(q, s2);
	ok(snap_current() == s2, "a new snapshot replaces it");
	is_int(qsbr_reclaim(q), 1, "the old one waits while workers have not passed");
	qsbr_quiescent(q, 0);
	is_int(qsbr_reclaim(q), 1, "...still waits for the second worker");
	qsbr_quiescent(q, 1);
	is_int(qsbr_reclaim(q), 0, "...freed once both passed a quiescent point");
	snap_release_current();
	qsbr_free(q);
	model_free(m);
	model_free(m2);
	return tap_done();
}
