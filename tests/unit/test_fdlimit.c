/*
 * test_fdlimit.c -- the client caps fitted under the open file limit
 * (daemon/fdlimit.c): left alone when a quarter of the limit (at least
 * 128) stays free, lowered to fit otherwise, the control API to an eighth
 * of the room at most, never to zero.  The test lowers its own limit for
 * good (soft = hard), so the cases run from the largest limit down.
 */
#include "config.h"

#include <stdio.h>
#include <sys/resource.h>

#include "daemon/fdlimit.h"
#include "tests/unit/tap.h"

static const struct {
	rlim_t limit;
	unsigned workers;
	uint32_t tcp, conns;          /* configured */
	uint32_t want_tcp, want_conns;
} cases[] = {
	/* 2 x 256 + 32 = 544 <= 1024 - 256: untouched */
	{ 1024, 2, 256, 32, 256, 32 },
	/* room 768: conns stay 32 (<= 96), tcp (768 - 32) / 8 = 92 */
	{ 1024, 8, 256, 32, 92, 32 },
	/* room 72: conns 72 / 8 = 9, tcp (72 - 9) / 1 = 63 */
	{ 200, 1, 256, 32, 63, 9 },
	/* room 0: one of each, the least that can serve */
	{ 128, 2, 256, 32, 1, 1 },
};

int main(void)
{
	char what[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct rlimit rl = { cases[i].limit, cases[i].limit };
		struct model_server srv = { .tcp_max_clients = cases[i].tcp };
		struct model_control ctl = { .max_connections = cases[i].conns };

		if (!ok(setrlimit(RLIMIT_NOFILE, &rl) == 0,
			"the open file limit can be lowered"))
			break;
		fdlimit_fit(&srv, &ctl, cases[i].workers);
		snprintf(what, sizeof(what), "limit %llu, %u workers: "
			 "tcp-max-clients %u", (unsigned long long)cases[i].limit,
			 cases[i].workers, cases[i].want_tcp);
		is_int(srv.tcp_max_clients, cases[i].want_tcp, what);
		snprintf(what, sizeof(what), "limit %llu, %u workers: "
			 "max-connections %u", (unsigned long long)cases[i].limit,
			 cases[i].workers, cases[i].want_conns);
		is_int(ctl.max_connections, cases[i].want_conns, what);
	}
	return tap_done();
}
