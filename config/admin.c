/* admin.c -- see admin.h.  One array of rules; few by nature (an operator
 * drains a region or two), so a linear scan per endpoint is enough. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "config/admin.h"
#include "lib/xalloc.h"

struct admin {
	struct admin_rule *r;
	size_t n;
};

struct admin *admin_new(void)
{
	return xcalloc(1, sizeof(struct admin));
}

static void rule_clear(struct admin_rule *r)
{
	free((char *)r->region);
	free((char *)r->service);
	free((char *)r->endpoint);
}

void admin_free(struct admin *a)
{
	if (!a)
		return;
	for (size_t i = 0; i < a->n; i++)
		rule_clear(&a->r[i]);
	free(a->r);
	free(a);
}

static const char *nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

static bool same(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

static const char *dup_field(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void admin_set(struct admin *a, const char *region, const char *service,
	      const char *endpoint, enum model_admin state)
{
	struct admin_rule add = { .admin = state };

	region = nonempty(region);
	service = nonempty(service);
	endpoint = nonempty(endpoint);
	if (state != ADMIN_NONE) {
		a->r = xreallocarray(a->r, a->n + 1, sizeof(*a->r));
		add.region = dup_field(region);
		add.service = dup_field(service);
		add.endpoint = dup_field(endpoint);
	}
	for (size_t i = 0; i < a->n; i++) {
		struct admin_rule *r = &a->r[i];
		if (same(r->region, region) && same(r->service, service) &&
		    same(r->endpoint, endpoint)) {
			rule_clear(r);
			memmove(r, r + 1, (a->n - i - 1) * sizeof(*r));
			a->n--;
			break;
		}
	}
	if (state != ADMIN_NONE)
		a->r[a->n++] = add;
}

bool admin_rule_matches(const struct admin_rule *r, const char *apex,
			const struct model_service *s,
			const struct model_endpoint *e)
{
	if (r->region && (!e->region || strcmp(r->region, e->region)))
		return false;
	if (r->endpoint && strcmp(r->endpoint, model_endpoint_name(e)))
		return false;
	if (!r->service || !strcmp(r->service, s->name))
		return true;
	/* a name relative to the apex: "www" for "www.<apex>" */
	size_t n = strlen(r->service);
	return apex && !strncmp(s->name, r->service, n) && s->name[n] == '.' &&
		!strcmp(s->name + n + 1, apex);
}

enum model_admin admin_of(const struct admin *a, const char *apex,
			  const struct model_service *s,
			  const struct model_endpoint *e)
{
	enum model_admin st = ADMIN_NONE;

	for (size_t i = 0; i < a->n; i++)
		if (admin_rule_matches(&a->r[i], apex, s, e))
			st = a->r[i].admin;
	return st;
}

const struct admin_rule *admin_rules(const struct admin *a, size_t *n)
{
	*n = a->n;
	return a->r;
}
