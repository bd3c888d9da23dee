/*
 * cputime.h -- what the in-process benchmarks (rrl_cost.c,
 * siphash_bench.c) share: the calling thread's CPU time, so time the
 * scheduler gives to other processes does not count, and a comparator
 * for taking medians.  Header-only.
 */
#ifndef GSLBD_BENCH_CPUTIME_H
#define GSLBD_BENCH_CPUTIME_H

#include <time.h>

static inline double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#endif
