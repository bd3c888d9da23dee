/* fdlimit.c -- see fdlimit.h. */
#include "config.h"

#include <sys/resource.h>

#include "daemon/fdlimit.h"
#include "lib/log.h"

void fdlimit_fit(struct model_server *srv, struct model_control *ctl,
		 unsigned workers)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return;
	/* The soft limit is often 1024 for compatibility with select();
	 * nothing here uses select. */
	if (rl.rlim_cur < rl.rlim_max) {
		rlim_t was = rl.rlim_cur;
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
			rl.rlim_cur = was;
	}
	if (rl.rlim_cur == RLIM_INFINITY || workers == 0)
		return;
	unsigned long long limit = rl.rlim_cur;
	unsigned long long reserve = limit / 4 > FDLIMIT_RESERVE_MIN ?
		limit / 4 : FDLIMIT_RESERVE_MIN;
	unsigned long long room = limit > reserve ? limit - reserve : 0;
	unsigned long long want = (unsigned long long)workers *
		srv->tcp_max_clients + ctl->max_connections;

	if (want <= room)
		return;
	uint32_t tcp = srv->tcp_max_clients, conns = ctl->max_connections;
	/* The control API gets an eighth at most: a few operators and a
	 * Prometheus, against the world's resolvers. */
	if (conns > room / 8)
		conns = room / 8 ? (uint32_t)(room / 8) : 1;
	unsigned long long per = room > conns ? (room - conns) / workers : 0;
	if (per < tcp)
		tcp = per ? (uint32_t)per : 1;
	log_warn("the open file limit leaves no room for every client: caps "
		 "lowered limit=%llu reserved=%llu workers=%u "
		 "tcp-max-clients=%u control.max-connections=%u "
		 "hint=\"raise LimitNOFILE (ulimit -n)\"", limit, reserve,
		 workers, tcp, conns);
	srv->tcp_max_clients = tcp;
	ctl->max_connections = conns;
}
