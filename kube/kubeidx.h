/*
 * kubeidx.h -- the KubeFed mapping of a changing set of objects, kept up
 * to date one object at a time.
 *
 * kubefed_map maps every object at once (~75 ms at 10,000
 * ServiceDNSRecords); a watch event changes one.  The index keeps what
 * each ServiceDNSRecord and DNSEndpoint maps to (kubefed_map_object) and,
 * per name, the candidates of every object in winning order, so that the
 * winner of each name is the one kubefed_map would choose over the same
 * objects.  A change costs its object's mapping and one pass of pointer
 * copies over the list of winners.
 *
 * Use: say what changed (kubeidx_set, kubeidx_prune, kubeidx_set_clusters,
 * kubeidx_set_opts), then kubeidx_commit.  When it returns 1 the list
 * changed: announce it; then, and after every other commit too,
 * kubeidx_release, which frees what the previous list alone still
 * pointed to.
 *
 * Pointers: a winner whose object was not mapped again, or was mapped to
 * an equal service (kubefed_services_equal), keeps its pointer from one
 * commit to the next; a changed one gets a new pointer.
 *
 * Messages about an object are said when they first appear, not again
 * while it maps the same way; a name's duplicates likewise.
 *
 * Out of memory aborts (lib/xalloc.h).  No I/O but the log callback:
 * unit-tested and fuzzed against kubefed_map.
 */
#ifndef GSLBD_KUBEIDX_H
#define GSLBD_KUBEIDX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "config/model.h"
#include "kube/kubefed.h"

/* kubeidx_take_changes names at most this many, else "everything". */
#define KUBEIDX_CHANGES_MAX 4096

struct kubeidx;

/* opts: copied; the apex and defaults it points to must stay until the
 * next kubeidx_set_opts or kubeidx_free. */
struct kubeidx *kubeidx_new(const struct kubefed_opts *opts);
void kubeidx_free(struct kubeidx *x);

/* New settings: every object is mapped again by the next commit, and
 * every message is said anew. */
void kubeidx_set_opts(struct kubeidx *x, const struct kubefed_opts *opts);

/* The KubeFedCluster objects now (an array, or a store: key -> object).
 * Returns 1 when readiness changed (every object is mapped again by the
 * next commit), 0 when it did not. */
int kubeidx_set_clusters(struct kubeidx *x, const json_t *clusters);

/* The object of kind known as key ("namespace/name") is now obj (a
 * reference is kept), or is gone (obj NULL).  Mapped at once, unless it
 * equals what was last mapped under key. */
void kubeidx_set(struct kubeidx *x, enum kubefed_kind kind, const char *key,
		 const json_t *obj);

/* Every object of kind in namespace ns (NULL: any) whose key keep (a
 * store: key -> object) lacks is gone. */
void kubeidx_prune(struct kubeidx *x, enum kubefed_kind kind, const char *ns,
		   const json_t *keep);

/* The changes so far become the list: 1 when it changed (a winner came,
 * went or got a new pointer), 0 when not. */
int kubeidx_commit(struct kubeidx *x);

/* The previous list and the services only it pointed to are freed.
 * Call after every commit, once nothing reads the previous list. */
void kubeidx_release(struct kubeidx *x);

/* The winners, sorted by name; owned by the index, valid until the next
 * kubeidx_release after a commit that returned 1. */
const struct model_service *const *kubeidx_list(const struct kubeidx *x,
						size_t *n);

/* The names whose winner came, went or changed (kubefed_services_equal)
 * since the last call: sorted, unique, owned by the index until the next
 * call that finds changes.  False: take everything as changed (nothing
 * taken yet, a commit that mapped every object, more than
 * KUBEIDX_CHANGES_MAX names); *names is NULL then.  Empties the record. */
bool kubeidx_take_changes(struct kubeidx *x, const char *const **names,
			  size_t *n);

struct kubeidx_stats {
	size_t objects;    /* held */
	size_t remapped;   /* objects the last commit's batch mapped */
	size_t names;      /* names whose winner it changed */
	uint32_t bad;      /* over every object held, as kubefed_stats */
	uint32_t skipped;
	uint32_t duplicates;
};
void kubeidx_stats(const struct kubeidx *x, struct kubeidx_stats *st);

#endif
