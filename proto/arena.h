/* arena.h: a bump allocator, and one per thread behind malloc/free hooks (cJSON's parse trees) */
#ifndef JETSAMD_ARENA_H
#define JETSAMD_ARENA_H

#include <stddef.h>

/*
 * struct arena hands out memory from chunks by bumping a pointer. Freeing only counts:
 * when the last live allocation is freed the arena rewinds (every chunk is empty again),
 * and arena_trim gives back every chunk but the first. Requests over ARENA_MAX_ALLOC are
 * refused (NULL), so sizes never overflow and one request never makes a chunk over
 * ARENA_CHUNK_MAX. Not thread-safe: one arena belongs to one thread.
 */
#define ARENA_FIRST_CHUNK (32u * 1024u)	  /* kept while the thread lives */
#define ARENA_CHUNK_MAX	  (1024u * 1024u) /* chunks double up to this */
#define ARENA_MAX_ALLOC	  (64u * 1024u)	  /* larger requests: malloc (thread hooks) */

struct arena_chunk;

struct arena {
	struct arena_chunk *first, *cur;
	size_t live;  /* allocations not freed yet */
	size_t bytes; /* capacity of all chunks */
};

void arena_init(struct arena *a);
/* Free every chunk (whatever is still live becomes invalid). */
void arena_release(struct arena *a);
/* n bytes aligned for any type (n == 0 counts as 1); NULL over ARENA_MAX_ALLOC or no memory */
void *arena_alloc(struct arena *a, size_t n);
/* 1 when p lies in a chunk of a (counted free; the last one rewinds), 0 when it does not */
int arena_free(struct arena *a, void *p);
/* With nothing live: free every chunk but the first. */
void arena_trim(struct arena *a);

/*
 * The calling thread's arena, for cJSON_InitHooks (proto/report.c, report_use_arena).
 * arena_thread_malloc takes from the thread's arena while an arena_thread_begin scope is
 * open on that thread (the arena is made on first use), and from malloc otherwise;
 * arena_thread_free counts a pointer of the thread's arena and free()s anything else. So
 * memory from a scope must be freed on the thread that took it, and a tree must not
 * outlive its scope for the arena to rewind (report_parse frees its trees before it
 * returns). When the outermost scope ends with nothing live, the arena is trimmed, unless
 * an arena_thread_hold is open (a job parsing many reports keeps its chunks until it ends).
 * The arena is released when the thread exits.
 */
void arena_thread_begin(void);
void arena_thread_end(void);
/*
 * Inside a scope: free at once everything the thread's arena handed out since the outermost
 * arena_thread_begin, when all of it came from the arena (nothing from malloc) and the arena
 * held nothing live before; returns 1 then, and every such pointer is invalid. Returns 0
 * and changes nothing otherwise: free as usual. For a scope's last live cJSON tree, instead of
 * cJSON_Delete() walking it (report_parse).
 */
int arena_thread_drop(void);
void arena_thread_hold(void);
void arena_thread_unhold(void);
void *arena_thread_malloc(size_t n);
void arena_thread_free(void *p);
/* Bytes held by the calling thread's arena (0 when it has none): for tests. */
size_t arena_thread_bytes(void);

#endif
