/*
 * test_targets.c -- the probe targets of a model (config/targets.c,
 * struct model_target in config/model.h): which addresses share one
 * target (same address, probe settings and effective Host), the
 * numbering a full build gives them, and the incremental drop / add that
 * retires, appends and revives targets while every other index stays.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg.h"
#include "config/model.h"
#include "tests/unit/tap.h"
#include "tests/unit/testutil.h"

/* ---- loading ---- */

/* One service with one endpoint in region eu. */
#define SVC(name, probe, addrs) \
	"  - { name: " name ", probe: { " probe " }, endpoints: " \
	"[ { region: eu, addresses: [" addrs "] } ] }\n"

static void errline(void *arg, const char *line)
{
	printf("# config: %s\n", line);
}

/* The model of TU_ZONE_YAML + services, with its targets built; NULL (and a
 * failed assertion) when either fails. */
static struct model *load(const char *services)
{
	char text[4096];
	struct model *m;

	snprintf(text, sizeof(text), "%s%s", TU_ZONE_YAML, services);
	m = cfg_load_string("targets.yaml", text, errline, NULL);
	if (m)
		model_targets_build(m);
	if (!m)
		ok(0, "the model loads and its targets build");
	return m;
}

/* ---- the layout of a model's targets, as short strings ---- */

/* Every address's target field, in model order: "1 1 0". */
static const char *addr_targets(const struct model *m, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < m->nsvcs; i++)
		for (size_t j = 0; j < m->svcs[i].neps; j++)
			for (size_t k = 0; k < m->svcs[i].eps[j].naddrs; k++)
				o += (size_t)snprintf(buf + o, len - o, "%s%u",
					o ? " " : "",
					m->svcs[i].eps[j].addrs[k].target);
	return buf;
}

/* Each target's services and effective Host, ';' between targets:
 * "0,1@lb.example.org;2@-" ("-": no Host, as for tcp). */
static const char *target_users(const struct model *m, char *buf, size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t t = 0; t < m->ntargets; t++) {
		const struct model_target *mt = &m->targets[t];
		if (t)
			o += (size_t)snprintf(buf + o, len - o, ";");
		for (uint32_t u = 0; u < mt->nsvcs; u++)
			o += (size_t)snprintf(buf + o, len - o, "%s%u",
					      u ? "," : "", mt->svcs[u]);
		o += (size_t)snprintf(buf + o, len - o, "@%s",
				      mt->host ? mt->host : "-");
	}
	return buf;
}

/* The invariants every build and every drop/add must keep: a probed
 * address points at a target on its own address that lists its service
 * (unless its service is dropped: a bit in the mask `dropped`, and then
 * it has none); a target's own address carries 1 + its index; an
 * unprobed address has no target. */
static bool consistent(const struct model *m, unsigned dropped, char *why,
		       size_t len)
{
	for (size_t t = 0; t < m->ntargets; t++)
		if (m->targets[t].addr.target != t + 1) {
			snprintf(why, len, "target %zu has addr.target %u", t,
				 m->targets[t].addr.target);
			return false;
		}
	for (size_t i = 0; i < m->nsvcs; i++)
		for (size_t j = 0; j < m->svcs[i].neps; j++) {
			const struct model_endpoint *e = &m->svcs[i].eps[j];
			for (size_t k = 0; k < e->naddrs; k++) {
				uint32_t id = e->addrs[k].target;
				const struct model_target *t;
				bool listed = false;
				if ((e->probe.type == PROBE_NONE ||
				     (dropped >> i & 1)) && !id)
					continue;
				if (!id || id > m->ntargets) {
					snprintf(why, len, "svc %zu addr %zu: "
						 "target %u of %zu", i, k, id,
						 m->ntargets);
					return false;
				}
				t = &m->targets[id - 1];
				for (uint32_t u = 0; u < t->nsvcs; u++)
					listed |= t->svcs[u] == i;
				if (!listed || t->addr.family != e->addrs[k].family ||
				    memcmp(&t->addr.ip, &e->addrs[k].ip,
					   t->addr.family == AF_INET6 ? 16 : 4)) {
					snprintf(why, len, "svc %zu addr %zu: "
						 "target %u is not its own", i,
						 k, id);
					return false;
				}
			}
		}
	return true;
}

static void check_consistent(const struct model *m, unsigned dropped,
			     const char *what)
{
	char why[160] = "";

	if (!ok(consistent(m, dropped, why, sizeof(why)), what))
		printf("#   %s\n", why);
}

/* ---- a full build: who shares a target ---- */

#define A1 "192.0.2.1"
#define A2 "192.0.2.2"
#define HOST "host: lb.example.org"

static const struct {
	const char *services;
	const char *addrs;  /* addr_targets() */
	const char *users;  /* target_users() */
	const char *what;
} build_cases[] = {
	{ SVC("a", HOST, A1) SVC("b", HOST, A1),
	  "1 1", "0,1@lb.example.org",
	  "same address, settings and host: one target for both services" },
	{ SVC("a", "", A1) SVC("b", "", A1),
	  "1 2", "0@a.example.org;1@b.example.org",
	  "without host: the Host defaults to each service's name, two "
	  "targets" },
	{ SVC("a", "", A1) SVC("b", "host: a.example.org", A1),
	  "1 1", "0,1@a.example.org",
	  "a host naming what the other's Host defaults to: one target" },
	{ SVC("a", "type: tcp, port: 443", A1)
	  SVC("b", "type: tcp, port: 443", A1),
	  "1 1", "0,1@-", "tcp ignores the Host: shared, with no Host" },
	{ SVC("a", "type: tcp, port: 443, path: /x, host: x.org", A1)
	  SVC("b", "type: tcp, port: 443, path: /y, host: y.org", A1),
	  "1 1", "0,1@-", "tcp ignores path and host settings: shared" },
	{ SVC("a", HOST ", path: /x", A1) SVC("b", HOST ", path: /y", A1),
	  "1 2", "0@lb.example.org;1@lb.example.org",
	  "another path: another target" },
	{ SVC("a", HOST ", port: 8080", A1) SVC("b", HOST ", port: 8081", A1),
	  "1 2", "0@lb.example.org;1@lb.example.org",
	  "another port: another target" },
	{ SVC("a", HOST ", interval: 2s", A1) SVC("b", HOST, A1),
	  "1 2", "0@lb.example.org;1@lb.example.org",
	  "another interval: another target" },
	{ SVC("a", HOST ", type: https", A1) SVC("b", HOST, A1),
	  "1 2", "0@lb.example.org;1@lb.example.org",
	  "another type (https, http): another target" },
	{ SVC("a", "type: tcp, port: 80", A1)
	  SVC("b", "type: tcp, port: 80, timeout: 300ms", A1),
	  "1 2", "0@-;1@-", "tcp with another timeout: another target" },
	{ SVC("a", HOST, A1) SVC("b", HOST, A2),
	  "1 2", "0@lb.example.org;1@lb.example.org",
	  "same settings on another address: another target" },
	{ SVC("a", HOST, A1 ", " A2) SVC("b", HOST, A2 ", " A1),
	  "1 2 2 1", "0,1@lb.example.org;0,1@lb.example.org",
	  "two shared addresses: two targets, each listing both services" },
	{ SVC("a", "type: none", A1) SVC("b", HOST, A1),
	  "0 1", "1@lb.example.org",
	  "an unprobed address gets target 0; the probed one target 1" },
	{ SVC("a", "type: none", A1 ", " A2), "0 0", "",
	  "only unprobed addresses: no targets at all" },
	{ SVC("a", HOST, "\"2001:db8::1\"") SVC("b", HOST, "\"2001:db8::1\""),
	  "1 1", "0,1@lb.example.org", "IPv6 addresses share alike" },
	{ "  - { name: a, probe: { " HOST " }, endpoints: [\n"
	  "      { region: eu, addresses: [" A1 "] },\n"
	  "      { region: us, addresses: [" A1 "] } ] }\n",
	  "1 1", "0@lb.example.org",
	  "one service using an address twice is listed once" },
	{ "  - { name: a, probe: { " HOST " }, endpoints: [\n"
	  "      { region: eu, addresses: [" A1 "] },\n"
	  "      { region: us, addresses: [" A1 "], probe: { port: 81 } } ] }\n",
	  "1 2", "0@lb.example.org;0@lb.example.org",
	  "an endpoint's own probe setting makes its own target" },
};

static void test_build(void)
{
	char got[512], what[200];

	for (size_t i = 0; i < sizeof(build_cases) / sizeof(build_cases[0]);
	     i++) {
		struct model *m = load(build_cases[i].services);
		if (!m)
			continue;
		snprintf(what, sizeof(what), "%s (address targets)",
			 build_cases[i].what);
		is_str(addr_targets(m, got, sizeof(got)), build_cases[i].addrs,
		       what);
		snprintf(what, sizeof(what), "%s (services and Host)",
			 build_cases[i].what);
		is_str(target_users(m, got, sizeof(got)), build_cases[i].users,
		       what);
		snprintf(what, sizeof(what), "%s (invariants)",
			 build_cases[i].what);
		check_consistent(m, 0, what);
		model_free(m);
	}
}

/* ---- incremental: drop and add keep every other index ---- */

struct ids_want {
	const char *ids; /* the ids reported, "1 2" */
	const char *addrs, *users;
	unsigned dropped; /* services dropped and not added back, as bits */
};

static const char *ids_str(const struct model_target_ids *d, char *buf,
			   size_t len)
{
	size_t o = 0;

	buf[0] = '\0';
	for (size_t i = 0; i < d->n && d->n != SIZE_MAX; i++)
		o += (size_t)snprintf(buf + o, len - o, "%s%u", i ? " " : "",
				      d->ids[i]);
	return buf;
}

/* After one step: the ids it reported (then forgotten), the layout and
 * the invariants. */
static void check_step(const struct model *m, struct model_target_ids *d,
		       const struct ids_want *w, const char *what)
{
	char got[512], msg[200];

	snprintf(msg, sizeof(msg), "%s (ids reported)", what);
	is_str(ids_str(d, got, sizeof(got)), w->ids, msg);
	snprintf(msg, sizeof(msg), "%s (address targets)", what);
	is_str(addr_targets(m, got, sizeof(got)), w->addrs, msg);
	snprintf(msg, sizeof(msg), "%s (services and Host)", what);
	is_str(target_users(m, got, sizeof(got)), w->users, msg);
	snprintf(msg, sizeof(msg), "%s (invariants)", what);
	check_consistent(m, w->dropped, msg);
	d->n = 0;
}

/* Put a copy of src into slot i of m, as the daemon merges a changed
 * service: its targets dropped, the old one cleared, then targets added
 * for the new one. */
static void replace(struct model *m, uint32_t i,
		    const struct model_service *src, struct model_target_ids *d)
{
	struct model_service copy;

	model_service_copy(&copy, src);
	model_targets_drop(m, i, d);
	model_service_clear(&m->svcs[i]);
	m->svcs[i] = copy;
	model_targets_add(m, i, d);
}

static void test_incremental(void)
{
	/* a and b share target 0 on A1; c has target 1 on A2. */
	struct model *m = load(SVC("a", HOST, A1) SVC("b", HOST, A1)
			       SVC("c", HOST, A2));
	/* What c is replaced with: a c on a new address, and c as it was. */
	struct model *moved = load(SVC("c", HOST, "192.0.2.3"));
	struct model *back = load(SVC("c", HOST, A2));
	struct model_target_ids d = { NULL, 0, 0 };

	if (!m || !moved || !back)
		goto out;
	check_step(m, &d, &(struct ids_want){ "", "1 1 2",
		   "0,1@lb.example.org;2@lb.example.org", 0 },
		   "the starting layout");

	model_targets_drop(m, 2, &d);
	check_step(m, &d, &(struct ids_want){ "1", "1 1 0",
		   "0,1@lb.example.org;@lb.example.org", 1u << 2 },
		   "dropping c retires its target 1 (nsvcs 0, id reported) "
		   "and leaves target 0");
	model_targets_drop(m, 1, &d);
	check_step(m, &d, &(struct ids_want){ "", "1 0 0",
		   "0@lb.example.org;@lb.example.org", 1u << 2 | 1u << 1 },
		   "dropping b: target 0 still used by a, nothing reported");
	model_targets_add(m, 1, &d);
	check_step(m, &d, &(struct ids_want){ "", "1 1 0",
		   "0,1@lb.example.org;@lb.example.org", 1u << 2 },
		   "b back on the existing target 0: nothing new to report");

	/* c replaced with a service on a new address */
	replace(m, 2, &moved->svcs[0], &d);
	check_step(m, &d, &(struct ids_want){ "2", "1 1 3",
		   "0,1@lb.example.org;@lb.example.org;2@lb.example.org", 0 },
		   "a new address is appended as target 2 (id reported); "
		   "targets 0 and 1 keep their indexes");
	is_int(m->ntargets, 3, "the retired target is kept, not reused");

	/* c replaced with its old address again */
	replace(m, 2, &back->svcs[0], &d);
	check_step(m, &d, &(struct ids_want){ "2 1", "1 1 2",
		   "0,1@lb.example.org;2@lb.example.org;@lb.example.org", 0 },
		   "the old key revives retired target 1 at its index (id "
		   "reported), and target 2 retires (id reported)");
	is_int(m->ntargets, 3, "reviving appends nothing");

	model_targets_build(m);
	check_step(m, &d, &(struct ids_want){ "", "1 1 2",
		   "0,1@lb.example.org;2@lb.example.org", 0 },
		   "a full build numbers afresh and drops retired targets");
out:
	free(d.ids);
	model_free(m);
	model_free(moved);
	model_free(back);
}

/* A model whose every address is unprobed has no targets and no index;
 * the first probed service to arrive must still get a target. */
static void test_add_to_empty(void)
{
	struct model *m = load(SVC("a", "type: none", A1));
	struct model *o = load(SVC("a", HOST, A1));
	struct model_target_ids d = { NULL, 0, 0 };

	if (!m || !o)
		goto out;
	is_int(m->ntargets, 0, "only unprobed addresses: no targets");
	/* a probed service added to a model without targets */
	replace(m, 0, &o->svcs[0], &d);
	check_step(m, &d, &(struct ids_want){ "0", "1", "0@lb.example.org", 0 },
		   "it gets target 0 (id reported)");
out:
	free(d.ids);
	model_free(m);
	model_free(o);
}

/* ---- model_target_same and model_target_hash ---- */

static void test_same_and_hash(void)
{
	struct model *m = load(SVC("a", HOST, A1) SVC("b", HOST, A1)
			       SVC("c", "type: tcp, port: 80", A1)
			       SVC("d", HOST ", path: /other", A1));
	const struct model_addr *a;
	const struct probe_spec *sa, *sb, *tcp, *other;
	struct probe_spec copy;

	if (!m)
		return;
	a = &m->svcs[0].eps[0].addrs[0];
	sa = &m->svcs[0].eps[0].probe;
	sb = &m->svcs[1].eps[0].probe;
	tcp = &m->svcs[2].eps[0].probe;
	other = &m->svcs[3].eps[0].probe;
	ok(model_target_hash(a, sa, "h") == model_target_hash(a, sb, "h"),
	   "equal specs from two services hash equal");
	probe_spec_copy(&copy, sa);
	{
		ok(model_target_hash(a, sa, "h") ==
		   model_target_hash(a, &copy, "h") &&
		   model_target_same(a, sa, "h", a, &copy, "h"),
		   "a deep copy of a spec hashes equal and is the same target");
		probe_spec_clear(&copy);
	}
	ok(model_target_hash(a, tcp, "x") == model_target_hash(a, tcp, NULL) &&
	   model_target_same(a, tcp, "x", a, tcp, NULL),
	   "tcp: the Host takes no part in hash or sameness");
	ok(!model_target_same(a, sa, "h", a, sa, "other"),
	   "http: another Host is another target");
	ok(!model_target_same(a, sa, "h", a, other, "h"),
	   "http: another path is another target");
	ok(!model_target_same(a, sa, "h", a, tcp, NULL),
	   "another type is another target");
	{
		struct model_addr v6;
		model_addr_parse(&v6, "::ffff:192.0.2.1");
		ok(!model_target_same(a, sa, "h", &v6, sa, "h"),
		   "an IPv4-mapped IPv6 address is not the IPv4 address");
	}
	model_free(m);
}

int main(void)
{
	test_build();
	test_incremental();
	test_add_to_empty();
	test_same_and_hash();
	return tap_done();
}
