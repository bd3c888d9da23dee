/* cfg_rrl.c -- the `rate-limit` section and the cookie keys of `server`
 * (see cfg_int.h; what they do: server/rrl.h, server/cookie.h). */
#include "config.h"

#include <string.h>

#include "config/cfg_int.h"
#include "config/model.h"

void cfg_rrl_defaults(struct model *m)
{
	/* On by default, as in NSD: an open authoritative server is a
	 * reflector until something says otherwise. */
	m->rrl.rps = 200;
	m->rrl.slip = 2;
	m->rrl.v4_prefix = 24;
	m->rrl.v6_prefix = 56;
	m->cookies.enabled = true;
}

static void cfg_rrl_exempt(struct cfg_ctx *c, const yaml_node_t *v)
{
	struct model_rrl *r = &c->m->rrl;
	size_t len;

	r->exempt = cfg_seq_array(c, v, "rate-limit.exempt",
				  sizeof(*r->exempt), NULL, &len);
	for (size_t i = 0; i < len; i++) {
		const yaml_node_t *it = cfg_seq_item(c, v, i);
		char ip[CFG_PATH];
		const char *s;

		cfg_path_idx(ip, "rate-limit.exempt", i);
		if (!(s = cfg_want_str(c, it, ip)))
			continue;
		if (model_net_parse(&r->exempt[r->nexempt], s) < 0) {
			cfg_error(c, it, "%s: bad subnet '%s' (ADDR/BITS with "
				  "the host bits zero)", ip, s);
			continue;
		}
		r->nexempt++;
	}
}

void cfg_rate_limit(struct cfg_ctx *c, const yaml_node_t *n)
{
	static const char *const keys[] = {
		"responses-per-second", "slip", "ipv4-prefix", "ipv6-prefix",
		"exempt", NULL,
	};
	struct model_rrl *r = &c->m->rrl;
	uint32_t v;
	const yaml_node_t *e;

	if (!cfg_map_check(c, n, "rate-limit", keys))
		return;
	cfg_opt_u32(c, n, "rate-limit", "responses-per-second", 0, 1000000,
		    &r->rps);
	cfg_opt_u32(c, n, "rate-limit", "slip", 0, 100, &r->slip);
	if (cfg_opt_u32(c, n, "rate-limit", "ipv4-prefix", 1, 32, &v) == 1)
		r->v4_prefix = (uint8_t)v;
	if (cfg_opt_u32(c, n, "rate-limit", "ipv6-prefix", 1, 128, &v) == 1)
		r->v6_prefix = (uint8_t)v;
	if ((e = cfg_get(c, n, "exempt")))
		cfg_rrl_exempt(c, e);
}

static int hexval(char ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

/* A 128-bit secret in hex; returns 1 when set, 0 when absent, -1. */
static int cfg_secret(struct cfg_ctx *c, const yaml_node_t *n,
		      const char *key, uint8_t out[16])
{
	const yaml_node_t *v = cfg_get(c, n, key);
	char p[CFG_PATH];
	const char *s;

	if (!v)
		return 0;
	cfg_path(p, "server", key);
	if (!(s = cfg_want_str(c, v, p)))
		return -1;
	if (strlen(s) != 32) {
		cfg_error(c, v, "%s: 32 hex digits (128 bits) expected, %zu "
			  "characters given", p, strlen(s));
		return -1;
	}
	for (int i = 0; i < 16; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0) {
			cfg_error(c, v, "%s: not a hex digit at character %d",
				  p, hi < 0 ? 2 * i + 1 : 2 * i + 2);
			return -1;
		}
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 1;
}

void cfg_cookies(struct cfg_ctx *c, const yaml_node_t *server)
{
	struct model_cookies *k = &c->m->cookies;

	cfg_opt_bool(c, server, "server", "cookies", &k->enabled);
	k->has_secret = cfg_secret(c, server, "cookie-secret", k->secret) == 1;
	k->has_previous = cfg_secret(c, server, "cookie-secret-previous",
				     k->previous) == 1;
	if (k->has_previous && !cfg_get(c, server, "cookie-secret"))
		cfg_error(c, cfg_get(c, server, "cookie-secret-previous"),
			  "server.cookie-secret-previous: needs "
			  "server.cookie-secret (the new secret)");
}
