/*
 * fdlimit.h -- keep clients from taking the descriptors the probes need.
 *
 * Every TCP client and control API connection holds a descriptor, and so
 * does every probe in flight, zone file read and Kubernetes request.  At
 * the open file limit a probe fails with a local error and a healthy
 * endpoint is taken down.  So the client caps are fitted under the limit
 * with a reserve left over, rather than reacting once it is reached.
 */
#ifndef GSLBD_FDLIMIT_H
#define GSLBD_FDLIMIT_H

#include "config/model.h"

/* Raise the soft open file limit to the hard one, then lower
 * srv->tcp_max_clients (per worker) and ctl->max_connections until
 * workers * tcp-max-clients + max-connections leaves a quarter of the
 * limit (at least FDLIMIT_RESERVE_MIN descriptors) free.  Logs what it
 * lowered. */
void fdlimit_fit(struct model_server *srv, struct model_control *ctl,
		 unsigned workers);

#define FDLIMIT_RESERVE_MIN 128

#endif
