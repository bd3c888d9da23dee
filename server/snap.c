/* snap.c -- snapshot memory, lookup helpers and publication (snap.h). */
#include "config.h"

#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "lib/xalloc.h"
#include "server/qsbr.h"
#include "server/snap.h"

/* Chunks of at least 64 KiB; a snapshot of 100k names takes a few MiB,
 * and freeing it is a walk over a short list. */
struct snap_chunk {
	struct snap_chunk *next;
	size_t used, size;
	_Alignas(16) unsigned char data[];
};

/* Something the arena holds that is not arena memory (a key reference):
 * released when the arena is. */
struct snap_cleanup {
	struct snap_cleanup *next;
	void (*fn)(void *);
	void *arg;
};

struct snap_arena {
	struct snap_chunk *head;
	struct snap_cleanup *cleanup;
	size_t total;
	_Atomic unsigned refs; /* snapshots using it (control thread only
				  changes it; atomic for clarity) */
};

#define CHUNK_MIN (64u * 1024u)

struct snap_arena *snap_arena_new(void)
{
	struct snap_arena *a = xcalloc(1, sizeof(struct snap_arena));

	atomic_init(&a->refs, 1);
	return a;
}

void snap_arena_ref(struct snap_arena *a)
{
	atomic_fetch_add(&a->refs, 1);
}

void *snap_alloc(struct snap_arena *a, size_t size)
{
	size = (size + 15u) & ~(size_t)15u;
	struct snap_chunk *c = a->head;
	if (!c || c->size - c->used < size) {
		size_t want = size > CHUNK_MIN ? size : CHUNK_MIN;
		c = xmalloc(sizeof(*c) + want);
		c->size = want;
		c->used = 0;
		c->next = a->head;
		a->head = c;
		a->total += want;
	}
	void *p = c->data + c->used;
	c->used += size;
	memset(p, 0, size);
	return p;
}

void *snap_memdup(struct snap_arena *a, const void *p, size_t size)
{
	void *d = snap_alloc(a, size ? size : 1);

	if (size)
		memcpy(d, p, size);
	return d;
}

size_t snap_arena_bytes(const struct snap_arena *a)
{
	return a->total;
}

void snap_arena_on_free(struct snap_arena *a, void (*fn)(void *), void *arg)
{
	struct snap_cleanup *c = snap_alloc(a, sizeof(*c));

	c->fn = fn;
	c->arg = arg;
	c->next = a->cleanup;
	a->cleanup = c;
}

static void arena_free(struct snap_arena *a)
{
	if (!a)
		return;
	for (struct snap_cleanup *c = a->cleanup; c; c = c->next)
		c->fn(c->arg);
	while (a->head) {
		struct snap_chunk *c = a->head;
		a->head = c->next;
		free(c);
	}
	free(a);
}

void snap_free(struct snap *s)
{
	if (!s)
		return;
	/* The snapshot struct itself lives in its own (last) arena: take
	 * the list out of it before anything is freed. */
	struct snap_arena *a[SNAP_MAX_ARENAS];
	unsigned n = s->narenas;
	memcpy(a, s->arenas, n * sizeof(a[0]));
	for (unsigned i = 0; i < n; i++)
		if (atomic_fetch_sub(&a[i]->refs, 1) == 1)
			arena_free(a[i]);
}

const struct snap_rrset *snap_rrset_find(const struct snap_node *n,
					 uint16_t type)
{
	for (uint16_t i = 0; i < n->nrrsets; i++)
		if (n->rrsets[i].type == type)
			return &n->rrsets[i];
	return NULL;
}

static _Atomic(struct snap *) cur;

static void snap_free_cb(void *p)
{
	snap_free(p);
}

void snap_publish(struct qsbr *q, struct snap *s)
{
	struct snap *old = atomic_exchange_explicit(&cur, s,
						    memory_order_acq_rel);
	if (!old)
		return;
	if (q)
		qsbr_retire(q, old, snap_free_cb);
	else
		snap_free(old);
}

const struct snap *snap_current(void)
{
	return atomic_load_explicit(&cur, memory_order_acquire);
}

void snap_release_current(void)
{
	snap_free(atomic_exchange(&cur, NULL));
}
