/* signpool.c -- signer threads (signpool.h). */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <unistd.h>

#include "lib/log.h"
#include "lib/xalloc.h"
#include "server/sign.h"
#include "server/signpool.h"

struct signpool {
	pthread_mutex_t mu;
	pthread_cond_t cv;       /* a batch to take, the end of one, stop */
	pthread_t *th;
	unsigned n;
	bool stop;
	/* The batch in flight: NULL when none. */
	struct sign_jobs *jobs;
	uint64_t seq;            /* batches started */
	unsigned running;        /* threads still on the batch */
	atomic_size_t next;      /* the next job to take */
	atomic_bool abandon;
	void (*done)(void *arg);
	void *done_arg;
};

/* One thread's share of a batch: jobs taken one at a time, so a slow
 * thread (the other helper, a busy core) delays no one. */
static void pool_sign(struct signpool *p, struct sign_jobs *j)
{
	size_t n = sign_jobs_count(j);
	ldns_key_list *keys = sign_jobs_keys(j);

	for (;;) {
		size_t i = atomic_fetch_add(&p->next, 1);
		if (i >= n || atomic_load(&p->abandon))
			break;
		sign_jobs_run(j, i, keys);
	}
	sign_jobs_keys_free(keys);
}

static void *pool_main(void *arg)
{
	struct signpool *p = arg;
	uint64_t seen = 0;

	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (!p->stop && (p->seq == seen || !p->jobs))
			pthread_cond_wait(&p->cv, &p->mu);
		if (p->stop)
			break;
		seen = p->seq;
		struct sign_jobs *j = p->jobs;
		pthread_mutex_unlock(&p->mu);
		pool_sign(p, j);
		pthread_mutex_lock(&p->mu);
		if (--p->running == 0) {
			void (*done)(void *) = p->done;
			void *darg = p->done_arg;
			p->jobs = NULL;
			pthread_cond_broadcast(&p->cv);
			/* Under the lock: signpool_free cannot pass its join
			 * while the control thread's event is being made
			 * active. */
			if (done)
				done(darg);
		}
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

struct signpool *signpool_new(unsigned n)
{
	struct signpool *p = xcalloc(1, sizeof(*p));

	if (!n) {
		long c = sysconf(_SC_NPROCESSORS_ONLN);
		n = c < 1 ? 1 : c > SIGNPOOL_MAX_DEFAULT ?
			SIGNPOOL_MAX_DEFAULT : (unsigned)c;
	}
	pthread_mutex_init(&p->mu, NULL);
	pthread_cond_init(&p->cv, NULL);
	p->th = xcalloc(n, sizeof(*p->th));
	for (unsigned i = 0; i < n; i++) {
		if (pthread_create(&p->th[i], NULL, pool_main, p) != 0) {
			log_warn("signer thread not started: %u of %u run",
				 i, n);
			break;
		}
		p->n++;
	}
	if (!p->n) {
		signpool_free(p);
		return NULL;
	}
	return p;
}

void signpool_free(struct signpool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->mu);
	atomic_store(&p->abandon, true);
	while (p->jobs)
		pthread_cond_wait(&p->cv, &p->mu);
	p->stop = true;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	for (unsigned i = 0; i < p->n; i++)
		pthread_join(p->th[i], NULL);
	pthread_cond_destroy(&p->cv);
	pthread_mutex_destroy(&p->mu);
	free(p->th);
	free(p);
}

unsigned signpool_threads(const struct signpool *p)
{
	return p ? p->n : 0;
}

int signpool_start(struct signpool *p, struct sign_jobs *j,
		   void (*done)(void *arg), void *arg)
{
	pthread_mutex_lock(&p->mu);
	if (p->jobs) {
		pthread_mutex_unlock(&p->mu);
		return -1;
	}
	p->jobs = j;
	p->done = done;
	p->done_arg = arg;
	p->running = p->n;
	atomic_store(&p->next, 0);
	atomic_store(&p->abandon, false);
	p->seq++;
	pthread_cond_broadcast(&p->cv);
	pthread_mutex_unlock(&p->mu);
	return 0;
}

void signpool_wait(struct signpool *p)
{
	pthread_mutex_lock(&p->mu);
	while (p->jobs)
		pthread_cond_wait(&p->cv, &p->mu);
	pthread_mutex_unlock(&p->mu);
}

bool signpool_busy(struct signpool *p)
{
	pthread_mutex_lock(&p->mu);
	bool b = p->jobs != NULL;
	pthread_mutex_unlock(&p->mu);
	return b;
}
