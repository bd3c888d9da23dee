/*
 * compile.h -- build an answer snapshot (snap.h) from the model and the
 * health the probes wrote into it.  Control thread only.
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

/* Returns a new snapshot, or NULL with a message in err. */
struct snap *compile_snapshot(const struct model *m, uint64_t generation,
			      char *err, size_t errlen);

#endif
