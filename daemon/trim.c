/* trim.c: give freed heap and idle file page mappings back to the system, off the loop */
#include <fcntl.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "log.h"
#include "trim.h"

static uv_work_t trim_req;
static int trim_busy;  /* loop thread only */
static int trim_again; /* loop thread only: asked for while one ran */

/*
 * glibc's per-thread cache (tcache): up to 7 freed chunks of each of the 64 smallest chunk
 * sizes (32 to 1040 bytes, 16 apart), kept by the thread that freed them for its next
 * malloc. They count as in use: malloc_trim() neither returns them nor merges them with
 * their free neighbours, and each keeps its page resident in the middle of free heap. With
 * 32 phones idle after 32 x 100 reports, 8 threads held 1,700 such chunks (680 KB) spread
 * over the arenas, which kept 0.9-1.4 MiB resident (issue 12's idle figure, f1).
 */
#define TRIM_CACHE_SIZES 64
#define TRIM_CACHE_COUNT 7
#define TRIM_FREER_STACK (64 * 1024)

struct trim_cache {
	size_t n;
	void *p[TRIM_CACHE_SIZES * TRIM_CACHE_COUNT];
};

static struct trim_cache trim_loop_cache; /* the loop's, taken when a trim is queued */

#define PM_PRESENT (1ull << 63)
#define PM_SWAPPED (1ull << 62)
#define PM_FILE	   (1ull << 61) /* a page of the file (or shared), not a private copy */
#define PM_CHUNK   512

/*
 * Through /proc/self/pagemap, which walks the page tables of this range only (smaps would
 * walk the whole process, heaps included, under the mmap lock): the bytes resident in
 * [start, end), or 0 when a page there is a private copy (or swapped out), which a drop
 * would lose.
 */
static size_t trim_range_file_bytes(int pm, unsigned long start, unsigned long end, long pg)
{
	uint64_t e[PM_CHUNK];
	size_t resident = 0;

	for (unsigned long a = start; a < end;) {
		size_t n = (size_t)((end - a) / (unsigned long)pg);
		ssize_t got;

		n = n > PM_CHUNK ? PM_CHUNK : n;
		got = pread(pm, e, n * sizeof(e[0]), (off_t)(a / (unsigned long)pg * sizeof(e[0])));
		if (got <= 0)
			return 0;
		n = (size_t)got / sizeof(e[0]);
		for (size_t i = 0; i < n; i++) {
			if ((e[i] & PM_SWAPPED) || ((e[i] & PM_PRESENT) && !(e[i] & PM_FILE)))
				return 0;
			if (e[i] & PM_PRESENT)
				resident += (size_t)pg;
		}
		a += (unsigned long)n * (unsigned long)pg;
	}
	return resident;
}

size_t trim_mappings(void)
{
	FILE *f = fopen("/proc/self/maps", "re");
	int pm = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	long pg = sysconf(_SC_PAGESIZE);
	char *line = NULL;
	size_t cap = 0, dropped = 0;

	while (f != NULL && pm >= 0 && pg > 0 && getline(&line, &cap, f) > 0) {
		unsigned long start, end;
		char perms[8];
		int path = 0;
		size_t bytes;

		/* "start-end perms offset dev inode [path]": a file, readable, not writable */
		if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &start, &end, perms, &path) < 3 ||
		    path <= 0 || line[path] != '/' || perms[0] != 'r' || perms[1] == 'w' ||
		    perms[3] != 'p' || end <= start)
			continue;
		bytes = trim_range_file_bytes(pm, start, end, pg);
		if (bytes > 0 && madvise((void *)start, end - start, MADV_DONTNEED) == 0)
			dropped += bytes;
	}
	free(line);
	if (pm >= 0)
		close(pm);
	if (f != NULL)
		fclose(f);
	return dropped;
}

/* As many chunks of each cached size as the cache holds: malloc serves them from it first. */
static void trim_cache_take(struct trim_cache *c)
{
	for (size_t i = 0; i < TRIM_CACHE_SIZES; i++)
		for (size_t k = 0; k < TRIM_CACHE_COUNT; k++) {
			void *p = malloc(24 + 16 * i); /* a chunk of 32 + 16 * i bytes */

			if (p == NULL)
				return;
			c->p[c->n++] = p;
		}
}

/* caches: NULL-terminated; each is emptied */
static void trim_cache_free(void *arg)
{
	for (struct trim_cache **c = arg; *c != NULL; c++) {
		for (size_t i = 0; i < (*c)->n; i++)
			free((*c)->p[i]);
		(*c)->n = 0;
	}
}

/*
 * The chunks are freed on a thread of its own that then ends: what its own cache keeps of
 * them goes back to the arenas when it ends, so no cache keeps any of them. Without that
 * thread (none could start), they go back into this thread's cache, as if never taken.
 */
static void trim_cache_release(struct trim_cache **caches)
{
	uv_thread_options_t opt = {.flags = UV_THREAD_HAS_STACK_SIZE,
				   .stack_size = TRIM_FREER_STACK};
	uv_thread_t t;

	if (uv_thread_create_ex(&t, &opt, trim_cache_free, caches) == 0)
		uv_thread_join(&t);
	else
		trim_cache_free(caches);
}

void trim_thread_cache(void)
{
	struct trim_cache c = {0};
	struct trim_cache *all[] = {&c, NULL};

	trim_cache_take(&c);
	trim_cache_release(all);
}

static void trim_work_cb(uv_work_t *req)
{
	struct trim_cache own = {0};
	struct trim_cache *all[] = {&trim_loop_cache, &own, NULL};
	size_t dropped;

	(void)req;
	trim_cache_take(&own);
	trim_cache_release(all);
	dropped = trim_mappings();
	malloc_trim(0);
	log_debug("trim", "heap trimmed; %zu KiB of clean file pages unmapped", dropped / 1024);
}

static void trim_after_cb(uv_work_t *req, int status)
{
	struct trim_cache *all[] = {&trim_loop_cache, NULL};

	trim_cache_free(all); /* emptied by the work, unless it was cancelled */
	trim_busy = 0;
	if (status == 0 && trim_again) {
		trim_again = 0;
		trim_heap_soon(req->loop);
	}
}

void trim_heap_soon(uv_loop_t *loop)
{
	int r;

	if (trim_busy) {
		trim_again = 1;
		return;
	}
	trim_cache_take(&trim_loop_cache); /* the work frees them */
	r = uv_queue_work(loop, &trim_req, trim_work_cb, trim_after_cb);
	if (r < 0) {
		struct trim_cache *all[] = {&trim_loop_cache, NULL};

		log_debug("trim", "cannot queue a heap trim: %s", uv_strerror(r));
		trim_cache_free(all);
		return;
	}
	trim_busy = 1;
}
