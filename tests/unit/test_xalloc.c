/* test_xalloc.c -- lib/xalloc: the allocation policy.  An allocation that
 * fails logs "out of memory bytes=N" and aborts (no caller sees NULL), and
 * the helpers give what their libc namesakes give otherwise. */
#include "config.h"

#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "tests/unit/tap.h"

/* Each case runs in a child that must not come back. */
static void fail_case(const char *name)
{
	/* volatile: the compiler may not fold a request it can see fails. */
	volatile size_t huge = SIZE_MAX - 4096;

	log_init(LOG_LVL_ERR, false);
	if (!strcmp(name, "malloc"))
		xmalloc(huge);
	else if (!strcmp(name, "calloc"))
		xcalloc(huge / 2, 4);
	else if (!strcmp(name, "realloc"))
		xrealloc(NULL, huge);
	else if (!strcmp(name, "reallocarray"))
		xreallocarray(NULL, huge / 2, 4); /* overflows: never asked */
	_exit(0); /* came back: the policy is broken */
}

/* Run case name in a child whose stderr goes to out; its wait status.
 * The child is this program again, so that a sanitizer's allocator can
 * be told to return NULL as libc's does rather than stop the process. */
static int run_case(const char *self, const char *name, char *out,
		    size_t outlen)
{
	int p[2], st = 0;
	ssize_t n;
	size_t len = 0;
	pid_t pid;

	if (pipe(p) < 0)
		return -1;
	if ((pid = fork()) == 0) {
		dup2(p[1], 2);
		close(p[0]);
		close(p[1]);
		setenv("ASAN_OPTIONS", "allocator_may_return_null=1", 1);
		execl(self, self, name, (char *)NULL);
		_exit(127);
	}
	close(p[1]);
	while (len + 1 < outlen &&
	       (n = read(p[0], out + len, outlen - 1 - len)) > 0)
		len += (size_t)n;
	out[len] = '\0';
	close(p[0]);
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return st;
}

int main(int argc, char **argv)
{
	static const char *const cases[] = { "malloc", "calloc", "realloc",
					     "reallocarray" };
	char out[4096], what[128];

	if (argc == 2) {
		fail_case(argv[1]);
		return 0;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
		int st = run_case("/proc/self/exe", cases[i], out,
				  sizeof(out));

		snprintf(what, sizeof(what), "x%s that cannot be met aborts",
			 cases[i]);
		ok(st >= 0 && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT,
		   what);
		snprintf(what, sizeof(what), "x%s says so first", cases[i]);
		ok(strstr(out, "out of memory bytes=") != NULL, what);
	}

	/* What callers count on when memory is there. */
	char *s = xmalloc(0);
	ok(s != NULL, "xmalloc(0) gives a pointer");
	free(s);
	int *z = xcalloc(4, sizeof(int));
	ok(z[0] == 0 && z[3] == 0, "xcalloc zeroes");
	z = xreallocarray(z, 8, sizeof(int));
	ok(z[3] == 0, "xreallocarray keeps the contents");
	free(z);
	s = xstrndup("abcdef", 3);
	is_str(s, "abc", "xstrndup stops at n");
	free(s);
	s = xasprintf("%s=%d", "n", 42);
	is_str(s, "n=42", "xasprintf formats");
	free(s);
	return tap_done();
}
