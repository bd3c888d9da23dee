/*
 * testutil.h -- small helpers shared by unit tests: a zone to put
 * services under, and files in a temporary directory.  Header-only, like
 * tap.h; a test uses what it needs.
 */
#ifndef GSLBD_TESTUTIL_H
#define GSLBD_TESTUTIL_H

#include <dirent.h>
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

#endif
