/*
 * admin.h -- the operator's admin rules (drain, force-up, force-down),
 * set through the control API.  They are runtime state: they outlive
 * reloads and Kubernetes changes, apply to endpoints that appear later,
 * and are never written into the model; the compiler asks admin_of.
 *
 * A rule matches by region, service and endpoint name (NULL: any); an
 * endpoint takes the state of the last rule that matches it.
 */
#ifndef GSLBD_ADMIN_H
#define GSLBD_ADMIN_H

#include <stddef.h>

#include "config/model.h"

struct admin;

struct admin_rule {
	const char *region, *service, *endpoint; /* NULL: any */
	enum model_admin admin;
};

struct admin *admin_new(void);
void admin_free(struct admin *a);

/* Set the state for (region, service, endpoint); empty strings are NULL.
 * A rule for the same three replaces the old one; ADMIN_NONE removes it.
 * service is an FQDN or a name relative to the zone apex. */
void admin_set(struct admin *a, const char *region, const char *service,
	      const char *endpoint, enum model_admin state);

/* The state of endpoint e of service s in a zone with this apex. */
enum model_admin admin_of(const struct admin *a, const char *apex,
			  const struct model_service *s,
			  const struct model_endpoint *e);

/* Does a rule with these fields (NULL: any) match e of s? */
bool admin_rule_matches(const struct admin_rule *r, const char *apex,
			const struct model_service *s,
			const struct model_endpoint *e);

/* The rules in force, in the order they were set (valid until the next
 * admin_set). */
const struct admin_rule *admin_rules(const struct admin *a, size_t *n);

#endif
