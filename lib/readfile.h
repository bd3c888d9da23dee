/*
 * readfile.h -- read a whole text file that configures gslbd (the config
 * file, zone files) into memory, with one set of limits.
 *
 * Paths come from operators and ConfigMap mounts, so the file may be a
 * directory, a FIFO or a device such as /dev/zero: those are refused
 * before any read (a FIFO without a writer would block the control
 * thread, /dev/zero never ends), and so is a file larger than the limit
 * or one holding a NUL byte (text formats only).
 */
#ifndef GSLBD_READFILE_H
#define GSLBD_READFILE_H

#include <stddef.h>

/* The largest file read as configuration: far above any real config or
 * static zone, far below what would hurt the daemon. */
#define READFILE_MAX (16u << 20)

/* Where a problem is in the file; line 0 when it is the file as a whole
 * (cannot be opened, not a regular file, too large). */
struct readfile_pos {
	unsigned line, col;
};

/*
 * The file at path, NUL-terminated, in a buffer the caller frees (*len
 * bytes, not counting the terminator).  Returns NULL with the reason in
 * err (without the path: the caller says which file and why it was
 * read) and its place in *pos.
 */
char *readfile_text(const char *path, size_t max, size_t *len,
		    struct readfile_pos *pos, char *err, size_t errlen);

#endif
