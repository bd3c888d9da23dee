/*
 * test_admin.c -- the admin rules (config/admin.c, config/admin.h): which
 * endpoints a rule matches (region, service as FQDN or relative to the
 * apex, endpoint name defaulting to the region, NULL or empty matching
 * anything), and how setting, replacing and removing rules decides an
 * endpoint's state (the last matching rule wins).
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "config/admin.h"
#include "config/model.h"
#include "tests/unit/tap.h"

#define APEX "example.org."

/* Two services of two endpoints each: eu (named after its region) and
 * us-2 (in region us, with a name of its own). */
static struct model_endpoint eps[] = {
	{ .region = "eu", .name = NULL, .enabled = true },
	{ .region = "us", .name = "us-2", .enabled = true },
};
static struct model_service svcs[] = {
	{ .name = "www." APEX, .eps = eps, .neps = 2 },
	{ .name = "api." APEX, .eps = eps, .neps = 2 },
};
#define NSVC (sizeof(svcs) / sizeof(svcs[0]))
#define NEP (sizeof(eps) / sizeof(eps[0]))

/* ---- admin_rule_matches: one rule against one endpoint ---- */

static const struct {
	const char *region, *service, *endpoint;
	const char *apex;  /* the zone the service is in */
	unsigned svc, ep;  /* index into svcs, eps */
	bool want;
	const char *what;
} match_cases[] = {
	{ NULL, NULL, NULL, APEX, 0, 0, true,
	  "a rule with no fields matches every endpoint" },
	{ "eu", NULL, NULL, APEX, 0, 0, true, "region eu matches eu" },
	{ "eu", NULL, NULL, APEX, 0, 1, false, "region eu misses us" },
	{ "us", NULL, NULL, APEX, 1, 1, true,
	  "region us matches us-2, whatever its name" },
	{ NULL, "www." APEX, NULL, APEX, 0, 0, true,
	  "service as an FQDN matches" },
	{ NULL, "www." APEX, NULL, APEX, 1, 0, false,
	  "service as an FQDN misses another service" },
	{ NULL, "www", NULL, APEX, 0, 0, true,
	  "service relative to the apex: www is www.<apex>" },
	{ NULL, "www", NULL, APEX, 1, 0, false,
	  "relative www misses api.<apex>" },
	{ NULL, "ww", NULL, APEX, 0, 0, false,
	  "relative ww does not match the longer label www" },
	{ NULL, "wwww", NULL, APEX, 0, 0, false,
	  "relative wwww does not match the shorter label www" },
	{ NULL, "www.example", NULL, APEX, 0, 0, false,
	  "a relative name must be followed by the whole apex" },
	{ NULL, "www.example.org", NULL, APEX, 0, 0, false,
	  "without its trailing dot a name is relative, as in the config" },
	{ NULL, "www", NULL, "other.org.", 0, 0, false,
	  "relative www misses a service of another apex" },
	{ NULL, "www", NULL, NULL, 0, 0, false,
	  "relative names match nothing without an apex" },
	{ NULL, "www." APEX, NULL, NULL, 0, 0, true,
	  "an FQDN matches without an apex" },
	{ NULL, NULL, "eu", APEX, 0, 0, true,
	  "endpoint name defaults to the region (model_endpoint_name)" },
	{ NULL, NULL, "us", APEX, 0, 1, false,
	  "an endpoint with a name of its own is not named after its region" },
	{ NULL, NULL, "us-2", APEX, 0, 1, true, "endpoint us-2 by its name" },
	{ NULL, NULL, "us-2", APEX, 0, 0, false, "endpoint us-2 misses eu" },
	{ "us", "api", "us-2", APEX, 1, 1, true,
	  "all three fields given and right: a match" },
	{ "eu", "api", "us-2", APEX, 1, 1, false,
	  "all three given, the region wrong: no match" },
	{ "us", "www", "us-2", APEX, 1, 1, false,
	  "all three given, the service wrong: no match" },
};

static void test_matches(void)
{
	for (size_t i = 0; i < sizeof(match_cases) / sizeof(match_cases[0]);
	     i++) {
		struct admin_rule r = {
			.region = match_cases[i].region,
			.service = match_cases[i].service,
			.endpoint = match_cases[i].endpoint,
			.admin = ADMIN_DRAINED,
		};
		is_int(admin_rule_matches(&r, match_cases[i].apex,
					  &svcs[match_cases[i].svc],
					  &eps[match_cases[i].ep]),
		       match_cases[i].want, match_cases[i].what);
	}

	struct model_endpoint noregion = { .name = "x", .enabled = true };
	struct admin_rule r = { .region = "eu", .admin = ADMIN_DRAINED };
	ok(!admin_rule_matches(&r, APEX, &svcs[0], &noregion),
	   "a region rule misses an endpoint without a region");

	/* Not a name gslbd would serve, but it pins the label boundary
	 * down: the relative name must end where a label ends. */
	struct model_service glued = { .name = "wwwx" APEX, .eps = eps,
				       .neps = 1 };
	r = (struct admin_rule){ .service = "www", .admin = ADMIN_DRAINED };
	ok(!admin_rule_matches(&r, APEX, &glued, &eps[0]),
	   "relative www misses wwwx<apex>: the label must end at a dot");
}

/* ---- admin_set and admin_of: sequences of rules ---- */

/* The state of every (service, endpoint) pair as one letter each, in the
 * order www/eu www/us-2 api/eu api/us-2: '-' none, 'D' drained,
 * 'U' force-up, 'X' force-down. */
static const char *grid(const struct admin *a, const char *apex, char *buf)
{
	static const char letter[] = { '-', 'D', 'U', 'X' };
	size_t k = 0;

	for (size_t i = 0; i < NSVC; i++)
		for (size_t j = 0; j < NEP; j++)
			buf[k++] = letter[admin_of(a, apex, &svcs[i], &eps[j])];
	buf[k] = '\0';
	return buf;
}

struct op {
	const char *region, *service, *endpoint;
	enum model_admin state;
};

/* Ends a list of ops; not a state admin_set is ever given here. */
#define END ((enum model_admin)99)
#define END_OP { .state = END }

static const struct {
	struct op ops[5];      /* applied in order, up to END */
	size_t nrules;         /* admin_rules' count afterwards */
	const char *grid;      /* see grid() */
	const char *what;
} seq_cases[] = {
	{ { END_OP }, 0, "----",
	  "no rules: every endpoint in no admin state" },
	{ { { "eu", NULL, NULL, ADMIN_DRAINED }, END_OP }, 1, "D-D-",
	  "drain region eu: eu of both services" },
	{ { { NULL, "www", NULL, ADMIN_FORCE_DOWN }, END_OP }, 1, "XX--",
	  "force-down a service by its relative name" },
	{ { { NULL, NULL, "us-2", ADMIN_FORCE_UP }, END_OP }, 1, "-U-U",
	  "force-up an endpoint by name" },
	{ { { "eu", NULL, NULL, ADMIN_DRAINED },
	    { "eu", NULL, NULL, ADMIN_FORCE_UP }, END_OP }, 1, "U-U-",
	  "the same triple again replaces the rule, not adds one" },
	{ { { "eu", NULL, NULL, ADMIN_DRAINED },
	    { "eu", NULL, NULL, ADMIN_NONE }, END_OP }, 0, "----",
	  "ADMIN_NONE removes the rule" },
	{ { { "eu", NULL, NULL, ADMIN_DRAINED },
	    { "eu", "www", NULL, ADMIN_NONE }, END_OP }, 1, "D-D-",
	  "ADMIN_NONE removes only the exact triple, not a wider rule" },
	{ { { "us", NULL, NULL, ADMIN_NONE }, END_OP }, 0, "----",
	  "removing a rule that does not exist is harmless" },
	{ { { "eu", NULL, NULL, ADMIN_DRAINED },
	    { NULL, "www." APEX, NULL, ADMIN_FORCE_UP }, END_OP }, 2, "UUD-",
	  "last matching rule wins: a later service rule over a region rule" },
	{ { { NULL, "www", NULL, ADMIN_FORCE_UP },
	    { "eu", NULL, NULL, ADMIN_DRAINED }, END_OP }, 2, "DUD-",
	  "last matching rule wins: a later region rule over a service rule" },
	{ { { "eu", NULL, NULL, ADMIN_DRAINED },
	    { NULL, "www", NULL, ADMIN_FORCE_UP },
	    { "eu", NULL, NULL, ADMIN_DRAINED }, END_OP }, 2, "DUD-",
	  "setting a rule again moves it last, so it wins again" },
	{ { { "eu", NULL, NULL, ADMIN_DRAINED },
	    { NULL, "www", NULL, ADMIN_FORCE_UP },
	    { NULL, "www", NULL, ADMIN_NONE }, END_OP }, 1, "D-D-",
	  "removing the later rule lets the earlier one show again" },
	{ { { "", "", "us-2", ADMIN_FORCE_DOWN },
	    { NULL, NULL, "us-2", ADMIN_NONE }, END_OP }, 0, "----",
	  "empty fields are NULL: (\"\", \"\", us-2) is (NULL, NULL, us-2)" },
	{ { { "", "", "", ADMIN_DRAINED }, END_OP }, 1, "DDDD",
	  "all fields empty: a rule that matches everything" },
	{ { { NULL, "www", NULL, ADMIN_DRAINED },
	    { NULL, "www." APEX, NULL, ADMIN_FORCE_UP }, END_OP }, 2, "UU--",
	  "www and www.<apex> are two rules (both kept, the later wins)" },
};

static void test_sequences(void)
{
	char buf[NSVC * NEP + 1];

	for (size_t i = 0; i < sizeof(seq_cases) / sizeof(seq_cases[0]); i++) {
		struct admin *a = admin_new();
		size_t n = 99;

		for (const struct op *o = seq_cases[i].ops; o->state != END;
		     o++)
			admin_set(a, o->region, o->service, o->endpoint,
				  o->state);
		admin_rules(a, &n);
		if (!ok(n == seq_cases[i].nrules &&
			!strcmp(grid(a, APEX, buf), seq_cases[i].grid),
			seq_cases[i].what))
			printf("#   %zu rules (want %zu), grid %s "
			       "(want %s)\n", n, seq_cases[i].nrules, buf,
			       seq_cases[i].grid);
		admin_free(a);
	}
}

/* ---- admin_rules: what the control API lists ---- */

static void test_rules_listed(void)
{
	struct admin *a = admin_new();
	char region[8] = "eu", endpoint[8] = "";
	const struct admin_rule *r;
	size_t n = 0;

	admin_set(a, region, "www", endpoint, ADMIN_DRAINED);
	admin_set(a, NULL, NULL, "us-2", ADMIN_FORCE_UP);
	/* The caller's buffers are its own: the rule keeps copies. */
	strcpy(region, "us");
	r = admin_rules(a, &n);
	is_int(n, 2, "two rules listed");
	if (n == 2) {
		is_str(r[0].region, "eu", "rule 1 keeps a copy of its region");
		is_str(r[0].service, "www", "rule 1 service as given");
		ok(!r[0].endpoint, "rule 1: an empty endpoint is stored NULL");
		is_int(r[0].admin, ADMIN_DRAINED, "rule 1 drained");
		ok(!r[1].region && !r[1].service, "rule 2: NULL fields");
		is_str(r[1].endpoint, "us-2", "rule 2 endpoint");
		is_int(r[1].admin, ADMIN_FORCE_UP, "rule 2 force-up");
	}
	/* Replacing moves a rule to the end: the order is the order in
	 * which the rules were last set. */
	admin_set(a, "eu", "www", NULL, ADMIN_FORCE_DOWN);
	r = admin_rules(a, &n);
	ok(n == 2 && r[0].endpoint && !strcmp(r[0].endpoint, "us-2") &&
	   r[1].admin == ADMIN_FORCE_DOWN,
	   "a replaced rule is listed last, with its new state");
	admin_free(a);
	/* A crash here fails the whole test program. */
	admin_free(NULL);
}

int main(void)
{
	test_matches();
	test_sequences();
	test_rules_listed();
	return tap_done();
}
