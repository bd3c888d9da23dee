/*
 * dnssec.c -- keeping signatures fresh (daemon.h): a once-a-second look
 * at the current snapshot's earliest signature expiration; when less
 * than a third of the validity is left, a full build re-signs the slice
 * of signatures that expire first (server/sign.h: the signature cache
 * gives the others).  Readiness fails when less than a day is left, so that a load
 * balancer stops sending to an instance whose answers are about to go
 * bogus.
 */
#include "config.h"

#include <time.h>

#include "daemon/daemon.h"
#include "daemon/daemon_int.h"
#include "lib/log.h"
#include "server/snap.h"

#define DNSSEC_READY_MIN 86400 /* seconds of validity left */

/* Seconds until the earliest signature of s expires (negative: past). */
static int64_t dnssec_left(const struct snap *s)
{
	return (int64_t)s->sig_expire - (int64_t)time(NULL);
}

/* A day, or a quarter of a validity shorter than four days: below the
 * third at which re-signing starts, so a working refresh stays ready. */
bool daemon_dnssec_fresh(const struct gslbd *g)
{
	const struct snap *s = snap_current();
	int64_t min = DNSSEC_READY_MIN;

	if (!s || !s->dnssec)
		return true;
	if (g->model && g->model->dnssec.validity / 4 < min)
		min = g->model->dnssec.validity / 4;
	return dnssec_left(s) >= min;
}

/* A failed re-sign (no active key, say) is tried again a minute later,
 * not every second: the log says it once a minute. */
static void dnssec_rebuild(struct gslbd *g)
{
	if (daemon_rebuild(g, true) < 0) {
		log_err("re-signing failed, still serving the previous snapshot");
		g->resign_after = (int64_t)time(NULL) + 60;
	}
}

void daemon_dnssec_tick(evutil_socket_t fd, short what, void *arg)
{
	struct gslbd *g = arg;
	const struct snap *s = snap_current();

	(void)fd;
	(void)what;
	/* While a batch signs, the build it ends in re-signs anyway. */
	if (!s || !s->dnssec || !g->model || !g->model->dnssec.enabled ||
	    (int64_t)time(NULL) < g->resign_after || daemon_signing(g))
		return;
	int64_t left = dnssec_left(s);
	if (s->key_event && time(NULL) >= (time_t)s->key_event) {
		/* A key is published, activated, retired or deleted now. */
		log_info("key timing event: rebuilding the DNSKEY RRset and "
			 "signatures at=%u", s->key_event);
		dnssec_rebuild(g);
		return;
	}
	if (left >= (int64_t)g->model->dnssec.validity / 3)
		return;
	log_info("re-signing the zone: signatures expire soon "
		 "earliest_expiry=%u left_s=%lld", s->sig_expire,
		 (long long)left);
	dnssec_rebuild(g);
}
