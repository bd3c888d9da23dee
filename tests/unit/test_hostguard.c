/*
 * test_hostguard.c -- the control API's DNS-rebinding guard
 * (control_host_allowed): a table of Host values and whether a request
 * without a token may carry them.  Names are never allowed but
 * localhost; addresses must be loopback or the listen address; a port
 * must be numeric.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include "control/control.h"
#include "tests/unit/tap.h"

static const struct {
	const char *host;
	int ok;       /* allowed with the API on 127.0.0.1 */
	int ok_pub;   /* allowed with it on 192.0.2.7 / 2001:db8::7 */
} cases[] = {
	{ NULL, 1, 1 },                       /* HTTP/1.0 without Host */
	{ "127.0.0.1", 1, 1 },
	{ "127.0.0.1:8053", 1, 1 },
	{ "127.200.3.4:1", 1, 1 },
	{ "localhost", 1, 1 },
	{ "LocalHost:8053", 1, 1 },
	{ "localhost.", 1, 1 },
	{ "[::1]", 1, 1 },
	{ "[::1]:8053", 1, 1 },
	{ "[0:0:0:0:0:0:0:1]:80", 1, 1 },
	{ "192.0.2.7:8053", 0, 1 },
	{ "[2001:db8::7]:8053", 0, 1 },
	{ "127.attacker.example", 0, 0 },
	{ "127.0.0.1.nip.io", 0, 0 },
	{ "127.0.0.1.nip.io:8053", 0, 0 },
	{ "127.0.0.1.", 0, 0 },
	{ "127.1", 0, 0 },                    /* inet_aton would take it */
	{ "0x7f.0.0.1", 0, 0 },
	{ "127.0.0.1:", 0, 0 },
	{ "127.0.0.1:80x", 0, 0 },
	{ "127.0.0.1:80@evil.example", 0, 0 },
	{ "127.0.0.1 ", 0, 0 },
	{ "[::1].evil.example", 0, 0 },
	{ "[::1]x", 0, 0 },
	{ "[::1", 0, 0 },
	{ "[127.0.0.1]", 0, 0 },
	{ "::1", 0, 0 },                      /* v6 needs its brackets */
	{ "[::2]:8053", 0, 0 },
	{ "[::ffff:127.0.0.1]", 0, 0 },
	{ "evil.example", 0, 0 },
	{ "", 0, 0 },
	{ ":8053", 0, 0 },
};

int main(void)
{
	struct sockaddr_in lo = { .sin_family = AF_INET };
	struct sockaddr_in pub4 = { .sin_family = AF_INET };
	struct sockaddr_in6 pub6 = { .sin6_family = AF_INET6 };
	char what[160];

	lo.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	inet_pton(AF_INET, "192.0.2.7", &pub4.sin_addr);
	inet_pton(AF_INET6, "2001:db8::7", &pub6.sin6_addr);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const char *h = cases[i].host;
		bool pub = strchr(h ? h : "", '[') ?
			control_host_allowed(h, (struct sockaddr *)&pub6) :
			control_host_allowed(h, (struct sockaddr *)&pub4);
		snprintf(what, sizeof(what), "Host %s%s%s: %s on loopback",
			 h ? "\"" : "", h ? h : "(none)", h ? "\"" : "",
			 cases[i].ok ? "allowed" : "refused");
		is_int(control_host_allowed(h, (struct sockaddr *)&lo),
		       cases[i].ok, what);
		snprintf(what, sizeof(what), "Host %s%s%s: %s on a public "
			 "address", h ? "\"" : "", h ? h : "(none)",
			 h ? "\"" : "", cases[i].ok_pub ? "allowed" : "refused");
		is_int(pub, cases[i].ok_pub, what);
	}
	return tap_done();
}
