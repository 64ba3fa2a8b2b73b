/* arena.c: a bump allocator, and one per thread behind malloc/free hooks (cJSON's parse trees) */
#include <pthread.h>
#include <stdalign.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "arena.h"

#define ALIGN alignof(max_align_t)

struct arena_chunk {
	struct arena_chunk *next;
	size_t cap, used;
	alignas(max_align_t) unsigned char data[];
};

static size_t round_up(size_t n)
{
	return (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
}

void arena_init(struct arena *a)
{
	a->first = a->cur = NULL;
	a->live = 0;
	a->bytes = 0;
}

void arena_release(struct arena *a)
{
	struct arena_chunk *c = a->first, *next;

	for (; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	arena_init(a);
}

static struct arena_chunk *chunk_new(size_t cap)
{
	struct arena_chunk *c = malloc(sizeof(*c) + cap);

	if (c != NULL) {
		c->next = NULL;
		c->cap = cap;
		c->used = 0;
	}
	return c;
}

void *arena_alloc(struct arena *a, size_t n)
{
	struct arena_chunk *c, *last = NULL;
	size_t cap;

	if (n > ARENA_MAX_ALLOC)
		return NULL;
	n = round_up(n ? n : 1);
	for (c = a->cur; c != NULL; last = c, c = c->next)
		if (c->cap - c->used >= n)
			break;
	if (c == NULL) {
		/* a new chunk at the end: the first, or twice the last, up to ARENA_CHUNK_MAX */
		if (last == NULL && a->first != NULL)
			for (last = a->first; last->next != NULL; last = last->next)
				;
		cap = last == NULL ? ARENA_FIRST_CHUNK : last->cap * 2;
		if (cap > ARENA_CHUNK_MAX)
			cap = ARENA_CHUNK_MAX;
		if (cap < n)
			cap = n;
		c = chunk_new(cap);
		if (c == NULL)
			return NULL;
		if (last == NULL)
			a->first = c;
		else
			last->next = c;
		a->bytes += cap;
	}
	a->cur = c;
	c->used += n;
	a->live++;
	return c->data + c->used - n;
}

static void rewind_all(struct arena *a)
{
	for (struct arena_chunk *c = a->first; c != NULL; c = c->next)
		c->used = 0;
	a->cur = a->first;
}

static int in_chunk(const struct arena_chunk *c, uintptr_t u)
{
	return c != NULL && u >= (uintptr_t)c->data && u < (uintptr_t)c->data + c->cap;
}

int arena_free(struct arena *a, void *p)
{
	uintptr_t u = (uintptr_t)p;

	if (p == NULL)
		return 0;
	/* the chunk in use first: it is the largest, so most of a tree lies in it */
	if (!in_chunk(a->cur, u)) {
		struct arena_chunk *c = a->first;

		while (c != NULL && (c == a->cur || !in_chunk(c, u)))
			c = c->next;
		if (c == NULL)
			return 0;
	}
	if (a->live > 0 && --a->live == 0)
		rewind_all(a);
	return 1;
}

void arena_trim(struct arena *a)
{
	struct arena_chunk *c, *next;

	if (a->live != 0 || a->first == NULL)
		return;
	for (c = a->first->next; c != NULL; c = next) {
		next = c->next;
		a->bytes -= c->cap;
		free(c);
	}
	a->first->next = NULL;
	rewind_all(a);
}

/* ---- one arena per thread ---- */

static _Thread_local struct arena *tl_arena;
static _Thread_local unsigned tl_scope, tl_hold;
/* since the outermost scope opened: allocations from the arena and from malloc (through the
 * hooks), and whether the arena held live ones before */
static _Thread_local size_t tl_scope_taken, tl_scope_malloced;
static _Thread_local int tl_scope_shared;
static pthread_key_t tl_key;
static pthread_once_t tl_once = PTHREAD_ONCE_INIT;
static int tl_key_ok;

static void thread_exit_cb(void *p)
{
	struct arena *a = p;

	if (a->live != 0)
		return; /* something still points into it: a leak, kept visible */
	arena_release(a);
	free(a);
}

static void key_once_cb(void)
{
	tl_key_ok = pthread_key_create(&tl_key, thread_exit_cb) == 0;
}

static struct arena *thread_arena(void)
{
	struct arena *a;

	if (tl_arena != NULL)
		return tl_arena;
	pthread_once(&tl_once, key_once_cb);
	if (!tl_key_ok || (a = malloc(sizeof(*a))) == NULL)
		return NULL;
	arena_init(a);
	if (pthread_setspecific(tl_key, a) != 0) {
		free(a);
		return NULL;
	}
	tl_arena = a;
	return a;
}

static void thread_trim(void)
{
	if (tl_arena != NULL && tl_scope == 0 && tl_hold == 0)
		arena_trim(tl_arena);
}

void arena_thread_begin(void)
{
	if (tl_scope++ == 0) {
		tl_scope_taken = tl_scope_malloced = 0;
		tl_scope_shared = tl_arena != NULL && tl_arena->live != 0;
	}
}

int arena_thread_drop(void)
{
	/* nothing taken through the hooks: cJSON may not use them (another thread's hooks) */
	if (tl_scope == 0 || tl_scope_shared || tl_scope_malloced != 0 || tl_scope_taken == 0 ||
	    tl_arena == NULL)
		return 0;
	rewind_all(tl_arena);
	tl_arena->live = 0;
	return 1;
}

void arena_thread_end(void)
{
	if (tl_scope > 0 && --tl_scope == 0)
		thread_trim();
}

void arena_thread_hold(void)
{
	tl_hold++;
}

void arena_thread_unhold(void)
{
	if (tl_hold > 0 && --tl_hold == 0)
		thread_trim();
}

void *arena_thread_malloc(size_t n)
{
	struct arena *a;
	void *p;

	if (tl_scope == 0)
		return malloc(n);
	if (n > ARENA_MAX_ALLOC || (a = thread_arena()) == NULL ||
	    (p = arena_alloc(a, n)) == NULL) {
		tl_scope_malloced++;
		return malloc(n);
	}
	tl_scope_taken++;
	return p;
}

void arena_thread_free(void *p)
{
	if (p == NULL)
		return;
	if (tl_arena == NULL || !arena_free(tl_arena, p))
		free(p);
}

size_t arena_thread_bytes(void)
{
	return tl_arena != NULL ? tl_arena->bytes : 0;
}
