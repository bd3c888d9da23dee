/* test_readfile.c -- lib/readfile: a whole text file or a reason, never a
 * hang (FIFO, /dev/zero) and never more than the limit. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/readfile.h"
#include "tests/unit/tap.h"
#include "tests/unit/testutil.h"

static char dir[] = "/tmp/gslbd-readfile-XXXXXX";

static char *path_of(const char *name)
{
	static char p[256];

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return p;
}

/* Read path with a limit; the text, or NULL with the reason in err. */
static char *rd(const char *path, size_t max, size_t *len,
		struct readfile_pos *pos, char *err)
{
	return readfile_text(path, max, len, pos, err, 256);
}

int main(void)
{
	struct readfile_pos pos;
	char err[256], *t;
	size_t len = 0;

	if (!ok(mkdtemp(dir), "temporary directory"))
		return tap_done();

	tu_write_file(path_of("ok"), "a: 1\nb: 2\n");
	t = rd(path_of("ok"), 100, &len, &pos, err);
	ok(t && len == 10 && !strcmp(t, "a: 1\nb: 2\n"),
	   "a regular file is read whole, NUL-terminated");
	free(t);

	tu_write_file(path_of("empty"), "");
	t = rd(path_of("empty"), 100, &len, &pos, err);
	ok(t && len == 0 && !*t, "an empty file is an empty string");
	free(t);

	t = rd(path_of("ok"), 10, &len, &pos, err);
	ok(t && len == 10, "a file of exactly the limit is read");
	free(t);
	t = rd(path_of("ok"), 9, &len, &pos, err);
	ok(!t && !strcmp(err, "larger than 9 bytes") && pos.line == 0,
	   "one byte over the limit is refused, for the file as a whole");

	{
		FILE *fp = fopen(path_of("nul"), "w");
		fwrite("ab\ncd\0e\n", 1, 8, fp);
		fclose(fp);
	}
	t = rd(path_of("nul"), 100, &len, &pos, err);
	ok(!t && !strcmp(err, "NUL byte in the file") && pos.line == 2 &&
	   pos.col == 3, "a NUL byte is refused at its line and column");

	t = rd(dir, 100, &len, &pos, err);
	ok(!t && !strcmp(err, "a directory, not a regular file") &&
	   pos.line == 0, "a directory is refused");

	if (ok(mkfifo(path_of("fifo"), 0600) == 0, "mkfifo")) {
		/* Without O_NONBLOCK the open would wait for a writer for
		 * ever: the test would hang, not fail. */
		t = rd(path_of("fifo"), 100, &len, &pos, err);
		ok(!t && !strcmp(err, "a FIFO, not a regular file"),
		   "a FIFO without a writer is refused at once");
	}

	t = rd("/dev/zero", 100, &len, &pos, err);
	ok(!t && !strcmp(err, "a character device, not a regular file"),
	   "/dev/zero is refused before any read");

	t = rd(path_of("missing"), 100, &len, &pos, err);
	ok(!t && strstr(err, "cannot open: No such file") && pos.line == 0,
	   "a missing file says why");

	tu_rmtree(dir);
	return tap_done();
}
