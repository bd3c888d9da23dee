/*
 * testutil.h -- small helpers shared by unit tests: a zone to put
 * services under, files in a temporary directory, socket addresses.  Header-only, like
 * tap.h; a test uses what it needs.
 */
#ifndef GSLBD_TESTUTIL_H
#define GSLBD_TESTUTIL_H

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The start of a config: zone example.org with an out-of-zone name
 * server (no glue), then the services a test appends. */
#define TU_ZONE_YAML \
	"zone:\n" \
	"  name: example.org\n" \
	"  nameservers:\n" \
	"    - name: ns1.example.net.\n" \
	"services:\n"

/* Write text to path, or stop the test: a fixture that cannot be
 * written proves nothing. */
static inline void tu_write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");

	if (!fp) {
		perror(path);
		exit(2);
	}
	fputs(text, fp);
	fclose(fp);
}

/* Remove dir, its files and its empty subdirectories (whatever a failed
 * test left behind). */
static inline void tu_rmtree(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char path[4096];

	while (d && (e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (unlink(path) < 0)
			rmdir(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

/* A socket address (port 0) for a textual IPv4 or IPv6 address. */
static inline struct sockaddr_storage tu_sockaddr(const char *s)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(s, ':')) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
		a->sin6_family = AF_INET6;
		inet_pton(AF_INET6, s, &a->sin6_addr);
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)&ss;
		a->sin_family = AF_INET;
		inet_pton(AF_INET, s, &a->sin_addr);
	}
	return ss;
}

#endif
