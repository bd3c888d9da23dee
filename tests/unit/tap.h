/*
 * tap.h -- a minimal Test Anything Protocol producer for unit tests.
 * Each test file: include this, call ok()/is_int()/is_str(), and
 * `return tap_done();` from main.
 */
#ifndef GSLBD_TAP_H
#define GSLBD_TAP_H

#include <stdio.h>
#include <string.h>

static int tap_count, tap_failed;

static inline int tap_ok(int cond, const char *file, int line, const char *what)
{
	tap_count++;
	printf("%sok %d - %s\n", cond ? "" : "not ", tap_count, what);
	if (!cond) {
		tap_failed++;
		printf("#   failed at %s:%d\n", file, line);
	}
	fflush(stdout);
	return cond;
}

#define ok(cond, what) tap_ok(!!(cond), __FILE__, __LINE__, (what))

#define is_int(got, want, what) do { \
	long long g_ = (long long)(got), w_ = (long long)(want); \
	if (!ok(g_ == w_, (what))) \
		printf("#   got %lld, want %lld\n", g_, w_); \
} while (0)

#define is_str(got, want, what) do { \
	const char *g_ = (got), *w_ = (want); \
	int same_ = (g_ && w_) ? strcmp(g_, w_) == 0 : g_ == w_; \
	if (!ok(same_, (what))) \
		printf("#   got \"%s\", want \"%s\"\n", g_ ? g_ : "(null)", \
		       w_ ? w_ : "(null)"); \
} while (0)

static inline int tap_done(void)
{
	printf("1..%d\n", tap_count);
	return tap_failed ? 1 : 0;
}

#endif
