/*
 * compile.h -- build an answer snapshot (snap.h) from the model, the
 * probe targets' health and the endpoints' admin state.  Control thread
 * only.
 *
 * Static zone data is turned into wire templates with ldns once here, so
 * the query path never touches ldns.  Service answers are laid out as
 * arrays of fixed-size A/AAAA records grouped as each policy needs.
 */
#ifndef GSLBD_COMPILE_H
#define GSLBD_COMPILE_H

#include <stddef.h>
#include <stdint.h>

#include "config/model.h"
#include "server/snap.h"

/* What the compiler reads besides the model, during the call only. */
struct compile_view {
	/* enum model_health by target index (model.targets); NULL, or an
	 * index past nhealth: unknown, which counts as up. */
	const uint8_t *health;
	size_t nhealth;
	/* The admin state of an endpoint; NULL: ADMIN_NONE everywhere. */
	enum model_admin (*admin)(const void *arg,
				  const struct model_service *s,
				  const struct model_endpoint *e);
	const void *admin_arg;
	/* DNSSEC: signatures kept across builds (server/sign.h); NULL:
	 * sign everything. */
	struct sign_cache *sigcache;
	/* DNSSEC collect mode (sign.h): misses become jobs here and the
	 * snapshot carries placeholders.  NULL: sign as usual. */
	struct sign_jobs *collect;
};

/* Returns a new snapshot, or NULL with a message in err.  v may be NULL
 * (everything up, no admin state). */
struct snap *compile_snapshot(const struct model *m,
			      const struct compile_view *v,
			      uint64_t generation, char *err, size_t errlen);

/* A new snapshot sharing everything with prev but the services listed
 * in dirty (indexes into m->svcs), rebuilt from m, and the services m
 * has past prev's (appended since), added with their names.  m must hold
 * the service list prev was built from in the same slots; a reload or a
 * removed service needs compile_snapshot.  Returns NULL (err) when a full
 * rebuild is due (a long patch chain, no room for new names, delegations
 * or DNAMEs to check them against) or memory ran out. */
struct snap *compile_patch(const struct snap *prev, const struct model *m,
			   const struct compile_view *v,
			   const uint32_t *dirty, size_t ndirty,
			   uint64_t generation, char *err, size_t errlen);

#endif
