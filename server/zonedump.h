/*
 * zonedump.h -- a snapshot as a master file (RFC 1035 text), exactly as
 * it is served now: every name in canonical order, each service's
 * current answer, and with DNSSEC the RRSIGs, NSEC chain and DNSKEYs.
 * For GET /zone (gslbctl zone) and GET /ds (gslbctl ds).  Control
 * thread only; the text is made with ldns from the snapshot's own wire.
 */
#ifndef GSLBD_ZONEDUMP_H
#define GSLBD_ZONEDUMP_H

#include "server/snap.h"

/* The zone as text; caller frees.  Answers a policy may give besides
 * the one shown (other groups, other rotation windows) follow it as
 * comment lines, so the file stays one RRset per owner and type and
 * verifies with ldns-verify-zone and dnssec-verify. */
char *zonedump_text(const struct snap *s);

/* DS records (SHA-256) for the apex DNSKEYs with the SEP bit (KSKs and
 * CSKs), one a line; "" when the zone is not signed.  Caller frees. */
char *zonedump_ds(const struct snap *s);

#endif
