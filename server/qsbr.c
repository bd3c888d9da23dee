/* qsbr.c -- see qsbr.h. */
#include "config.h"

#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>

#include "server/qsbr.h"
#include "lib/xalloc.h"

/* One cache line per worker so their stores do not contend. */
struct qsbr_slot {
	_Atomic uint64_t seen;
	char pad[64 - sizeof(uint64_t)];
};

struct qsbr_item {
	struct qsbr_item *next;
	void *obj;
	void (*fn)(void *);
	uint64_t epoch;
};

struct qsbr {
	_Atomic uint64_t epoch;
	unsigned n;
	struct qsbr_item *retired; /* control thread only */
	struct qsbr_slot *slots;
};

#define QSBR_OFFLINE UINT64_MAX

struct qsbr *qsbr_new(unsigned nthreads)
{
	struct qsbr *q = xcalloc(1, sizeof(*q));
	size_t size = sizeof(*q->slots) * (nthreads ? nthreads : 1);

	if (posix_memalign((void **)&q->slots, 64, size))
		xalloc_die(size);
	q->n = nthreads;
	atomic_init(&q->epoch, 1);
	for (unsigned i = 0; i < nthreads; i++)
		atomic_init(&q->slots[i].seen, 1);
	return q;
}

void qsbr_quiescent(struct qsbr *q, unsigned tid)
{
	uint64_t e = atomic_load_explicit(&q->epoch, memory_order_acquire);
	atomic_store_explicit(&q->slots[tid].seen, e, memory_order_relaxed);
	/* The store must be visible before this thread loads the snapshot
	 * pointer again (store-load order needs a full fence), or a thread
	 * coming back from offline could read a snapshot the reclaimer,
	 * still seeing it offline, is freeing.  Once per batch. */
	atomic_thread_fence(memory_order_seq_cst);
}

void qsbr_offline(struct qsbr *q, unsigned tid)
{
	atomic_store_explicit(&q->slots[tid].seen, QSBR_OFFLINE,
			      memory_order_release);
}

void qsbr_retire(struct qsbr *q, void *obj, void (*fn)(void *))
{
	struct qsbr_item *it = xmalloc(sizeof(*it));

	it->obj = obj;
	it->fn = fn;
	/* Readers that report an epoch greater than this one have loaded
	 * the snapshot pointer after it was replaced. */
	it->epoch = atomic_fetch_add_explicit(&q->epoch, 1,
					      memory_order_acq_rel) + 1;
	it->next = q->retired;
	q->retired = it;
}

unsigned qsbr_reclaim(struct qsbr *q)
{
	uint64_t min = QSBR_OFFLINE;
	unsigned left = 0;

	/* Pairs with the fence in qsbr_quiescent: the pointer swap and the
	 * epoch bump are ordered before reading what the threads saw. */
	atomic_thread_fence(memory_order_seq_cst);
	for (unsigned i = 0; i < q->n; i++) {
		uint64_t s = atomic_load_explicit(&q->slots[i].seen,
						  memory_order_acquire);
		if (s < min)
			min = s;
	}
	for (struct qsbr_item **pp = &q->retired; *pp;) {
		struct qsbr_item *it = *pp;
		if (it->epoch <= min) {
			*pp = it->next;
			it->fn(it->obj);
			free(it);
		} else {
			pp = &it->next;
			left++;
		}
	}
	return left;
}

void qsbr_free(struct qsbr *q)
{
	if (!q)
		return;
	while (q->retired) {
		struct qsbr_item *it = q->retired;
		q->retired = it->next;
		it->fn(it->obj);
		free(it);
	}
	free(q->slots);
	free(q);
}
