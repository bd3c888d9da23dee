/*
 * zonefile.h -- static records from an RFC 1035 master file, read with
 * ldns, for the names the services do not cover (MX, TXT, CAA, ...).
 *
 * The SOA and the apex NS records come from the config, so the file must
 * not carry them; every record must lie inside the zone.  A DS only at a
 * delegation, a DNAME alone at its name (beside no CNAME, at no
 * delegation) with no name below it.  The file is read whole first, with
 * the config file's limits (lib/readfile.h).
 */
#ifndef GSLBD_ZONEFILE_H
#define GSLBD_ZONEFILE_H

#include <stddef.h>
#include <stdint.h>

struct ldns_struct_rr_list;

/*
 * Read path.  $ORIGIN starts as apex (an FQDN), $TTL as default_ttl.
 * Owner names are lower-cased.  On success returns 0 and *out is a new
 * list the caller owns (ldns_rr_list_deep_free).
 * Returns -1 when the file is wrong: err holds "path:line:1: message".
 * Returns -2 when the file cannot be read at all (missing, not a regular
 * file, too large): err holds a message without a place, so the caller
 * can name where the path came from.
 */
int zonefile_load(const char *path, const char *apex, uint32_t default_ttl,
		  struct ldns_struct_rr_list **out, char *err, size_t errlen);

#endif
