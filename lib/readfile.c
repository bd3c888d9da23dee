/* readfile.c -- see readfile.h. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lib/readfile.h"
#include "lib/xalloc.h"

static const char *readfile_kind(mode_t m)
{
	if (S_ISDIR(m))
		return "a directory";
	if (S_ISFIFO(m))
		return "a FIFO";
	if (S_ISCHR(m))
		return "a character device";
	if (S_ISBLK(m))
		return "a block device";
	if (S_ISSOCK(m))
		return "a socket";
	return "a special file";
}

/* The place of the first NUL byte, for the message. */
static void readfile_nul_pos(const char *buf, size_t at,
			     struct readfile_pos *pos)
{
	pos->line = 1;
	pos->col = 1;
	for (size_t i = 0; i < at; i++) {
		if (buf[i] == '\n') {
			pos->line++;
			pos->col = 1;
		} else {
			pos->col++;
		}
	}
}

/* Up to max + 1 bytes, so that a file grown past the limit since fstat
 * is noticed.  Returns the count, or -1 (errno). */
static ssize_t readfile_all(int fd, char *buf, size_t max)
{
	size_t len = 0;

	while (len <= max) {
		ssize_t n = read(fd, buf + len, max + 1 - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		if (n == 0)
			break;
		len += (size_t)n;
	}
	return (ssize_t)len;
}

char *readfile_text(const char *path, size_t max, size_t *len,
		    struct readfile_pos *pos, char *err, size_t errlen)
{
	/* O_NONBLOCK: opening a FIFO must not wait for a writer. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	struct stat st;
	char *buf = NULL, *nul;
	size_t cap;
	ssize_t n;

	pos->line = pos->col = 0;
	if (fd < 0) {
		snprintf(err, errlen, "cannot open: %s", strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) < 0) {
		snprintf(err, errlen, "cannot stat: %s", strerror(errno));
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s, not a regular file",
			 readfile_kind(st.st_mode));
		goto fail;
	}
	if ((unsigned long long)st.st_size > max) {
		snprintf(err, errlen, "larger than %zu bytes", max);
		goto fail;
	}
	/* Room for what fstat saw and some growth; more than that is a file
	 * being rewritten under us, read again at the next reload. */
	cap = (size_t)st.st_size + 4096 < max ? (size_t)st.st_size + 4096 : max;
	buf = xmalloc(cap + 2);
	if ((n = readfile_all(fd, buf, cap)) < 0) {
		snprintf(err, errlen, "read error: %s", strerror(errno));
		goto fail;
	}
	if ((size_t)n > cap) {
		if (cap == max)
			snprintf(err, errlen, "larger than %zu bytes", max);
		else
			snprintf(err, errlen, "grew while being read");
		goto fail;
	}
	if ((nul = memchr(buf, '\0', (size_t)n))) {
		readfile_nul_pos(buf, (size_t)(nul - buf), pos);
		snprintf(err, errlen, "NUL byte in the file");
		goto fail;
	}
	buf[n] = '\0';
	close(fd);
	*len = (size_t)n;
	return buf;
fail:
	close(fd);
	free(buf);
	return NULL;
}
