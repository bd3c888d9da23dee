/* test_canon.c -- DNSSEC canonical name order (snap_canon_cmp), which
 * both the NSEC chain builder and the query path's covering-NSEC search
 * rely on: RFC 4034 6.1's own example, and the floor search over it. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <ldns/ldns.h>

#include "server/snap.h"
#include "tests/unit/tap.h"

/* RFC 4034 6.1, in canonical order (lower-cased as the snapshot is). */
static const char *const rfc4034[] = {
	"example.", "a.example.", "yljkjljk.a.example.", "z.a.example.",
	"zabc.a.example.", "z.example.", "\\001.z.example.", "*.z.example.",
	"\\200.z.example.",
};
#define N (sizeof(rfc4034) / sizeof(rfc4034[0]))

static ldns_rdf *names[N];

static int cmp(size_t i, size_t j)
{
	return snap_canon_cmp(ldns_rdf_data(names[i]), ldns_rdf_size(names[i]),
			      ldns_rdf_data(names[j]), ldns_rdf_size(names[j]));
}

static ldns_rdf *dname(const char *s)
{
	ldns_rdf *d = ldns_dname_new_frm_str(s);
	ldns_dname2canonical(d);
	return d;
}

int main(void)
{
	struct snap_node nodes[N];
	const struct snap_node *chain[N];
	struct snap s = { .chain = chain, .nchain = N };
	char what[160];

	for (size_t i = 0; i < N; i++) {
		names[i] = dname(rfc4034[i]);
		memset(&nodes[i], 0, sizeof(nodes[i]));
		nodes[i].name = ldns_rdf_data(names[i]);
		nodes[i].name_len = (uint8_t)ldns_rdf_size(names[i]);
		chain[i] = &nodes[i];
	}
	size_t wrong = 0;
	for (size_t i = 0; i < N; i++)
		for (size_t j = 0; j < N; j++) {
			int c = cmp(i, j);
			int want = i < j ? -1 : i > j ? 1 : 0;
			if ((c < 0 ? -1 : c > 0 ? 1 : 0) != want) {
				printf("# out of order: %s vs %s\n", rfc4034[i],
				       rfc4034[j]);
				wrong++;
			}
		}
	is_int(wrong, 0, "RFC 4034 6.1: every pair of the example list in order");
	/* agrees with ldns on names of different lengths and labels */
	ldns_rdf *a = dname("b.a.example."), *b = dname("a-.example.");
	ok((snap_canon_cmp(ldns_rdf_data(a), ldns_rdf_size(a), ldns_rdf_data(b),
			   ldns_rdf_size(b)) < 0) ==
	   (ldns_dname_compare(a, b) < 0), "b.a.example < a-.example as ldns says");
	ldns_rdf_deep_free(a);
	ldns_rdf_deep_free(b);

	static const struct { const char *q; size_t floor; } fl[] = {
		{ "example.", 0 },             /* an owner: itself */
		{ "0.example.", 0 },           /* before a.example */
		{ "b.a.example.", 1 },         /* after a.example, before yljkjljk */
		{ "zz.a.example.", 4 },        /* after zabc.a */
		{ "y.example.", 4 },           /* after the a.example subtree */
		{ "a.z.example.", 7 },         /* after *.z */
		{ "zz.example.", 8 },          /* past the end: the last */
		{ "x.\\200.z.example.", 8 },   /* below the last */
	};
	for (size_t i = 0; i < sizeof(fl) / sizeof(fl[0]); i++) {
		ldns_rdf *q = dname(fl[i].q);
		const struct snap_node *f = snap_chain_floor(&s, ldns_rdf_data(q),
							     ldns_rdf_size(q));
		snprintf(what, sizeof(what), "floor of %s is %s", fl[i].q,
			 rfc4034[fl[i].floor]);
		ok(f == &nodes[fl[i].floor], what);
		ldns_rdf_deep_free(q);
	}
	for (size_t i = 0; i < N; i++)
		ldns_rdf_deep_free(names[i]);
	return tap_done();
}
