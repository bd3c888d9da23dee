/*
 * daemon_int.h -- what the files of daemon/ share: publish.c (snapshots,
 * commits) at the bottom, services.c (composition, Kubernetes merges)
 * above it, daemon.c and status.c on top.  Control thread only.
 */
#ifndef GSLBD_DAEMON_INT_H
#define GSLBD_DAEMON_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "config/admin.h"
#include "daemon/daemon.h"
#include "server/compile.h"

struct snap;

/* The admin rules as the compiler asks them, for one model's zone. */
struct admin_view {
	const struct admin *a;
	const char *apex;
};

/* The compiler's view of model m: health from the probe manager's table
 * (or the array given), admin state from the rules through *av. */
struct compile_view daemon_view(const struct gslbd *g, const struct model *m,
				struct admin_view *av, const uint8_t *health,
				size_t n);

/* Publish s, built since t0, and account for it. */
void daemon_publish(struct gslbd *g, struct snap *s, const struct timespec *t0);

/* Health or admin state changed: patch what the changed targets touch,
 * or rebuild everything (full, or when due).  Returns 0, -1, or 1: the
 * full build is deferred while signing. */
int daemon_rebuild(struct gslbd *g, bool full);

/* The one way a new service list goes live (see publish.c); the caller
 * then rebuilds the name index (daemon_names_build).  req: what asks
 * (DAEMON_REQ_*), for a deferred build.  Returns 0, -1 (err) or 1:
 * deferred while signing (nothing changed but nm's targets). */
int daemon_commit(struct gslbd *g, struct model *nm, unsigned req,
		  char *err, size_t errlen);

/* presign.c: full builds that sign big.  What asks for a full build,
 * remembered while a signing batch is in flight and run again, in this
 * order, when it lands. */
enum {
	DAEMON_REQ_RELOAD = 1,  /* re-read the config file */
	DAEMON_REQ_RELIST = 2,  /* recompose from the source's services */
	DAEMON_REQ_REBUILD = 4, /* the live model built in full */
};
/* A full build of m with view v: 0 and *out (to publish), -1 (err), or
 * 1: deferred, the misses are being signed on the signer threads and
 * req will run again when they land. */
int daemon_full_build(struct gslbd *g, const struct model *m,
		      struct compile_view *v, unsigned req, struct snap **out,
		      char *err, size_t errlen);
/* daemon.c: what runs when a batch lands (g->sign_rerun). */
void daemon_rerun(struct gslbd *g, unsigned req);
/* A signing batch is in flight. */
bool daemon_signing(const struct gslbd *g);
void daemon_presign_free(struct gslbd *g);

/* services.c: the live list for m from the config's and the source's
 * services; the reserved names of m; the name index of the live model. */
void daemon_compose(struct gslbd *g, const struct model *m,
		    struct model_service **out, size_t *nout);
char **daemon_reserved_names(const struct model *m, size_t *n);
void daemon_names_free(char **v, size_t n);
void daemon_names_build(struct gslbd *g);
/* 0, -1, or 1: deferred while signing (runs again when it lands). */
int daemon_services_changed(struct gslbd *g);
/* kube_change_fn: the Kubernetes source's services changed. */
void daemon_on_kube_change(void *arg);
/* The Kubernetes services of these names (sorted, unique) merged into
 * the live model in place: 1 done, 0 the full path must run. */
int daemon_kube_patch(struct gslbd *g, const char *const *names, size_t n);

/* hostnames.c: load balancers by host name.  Needed when m has a
 * Kubernetes source or a config endpoint with `hostnames:` (the live list
 * is then composed, not the config's own).  prepare makes the resolver
 * (before the first composition); configure applies m's `resolver:`
 * once m is live; fill adds a composed copy's resolved addresses (and
 * wants its names); begin/end around a full composition drop the names
 * no service wants any more. */
bool daemon_hostnames_needed(const struct model *m);
int daemon_hostnames_prepare(struct gslbd *g, const struct model *m,
			     void (*changed)(void *g), char *err, size_t errlen);
/* The resolver's callback (services.c): the services naming the hosts
 * that changed are merged in place, or the live list composed again. */
void daemon_hostnames_changed(void *g);
void daemon_hostnames_configure(struct gslbd *g, const struct model *m);
void daemon_hostnames_begin(struct gslbd *g);
void daemon_hostnames_end(struct gslbd *g);
void daemon_hostnames_fill(struct gslbd *g, struct model_service *s);
void daemon_hostnames_free(struct gslbd *g);

#endif
