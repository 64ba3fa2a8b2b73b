/* trim.c: give freed heap and idle file page mappings back to the system, off the loop */
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "trim.h"

static uv_work_t trim_req;
static int trim_busy;  /* loop thread only */
static int trim_again; /* loop thread only: asked for while one ran */

/* One mapping of /proc/self/smaps, as far as read. */
struct trim_vma {
	unsigned long start, end;
	int droppable; /* a file, not writable */
	long rss_kb, anon_kb;
};

static size_t trim_vma_drop(const struct trim_vma *v)
{
	if (!v->droppable || v->anon_kb != 0 || v->rss_kb <= 0 || v->end <= v->start)
		return 0;
	if (madvise((void *)v->start, v->end - v->start, MADV_DONTNEED) < 0)
		return 0;
	return (size_t)v->rss_kb * 1024u;
}

/* A mapping's first line: "start-end perms offset dev inode [path]". */
static void trim_vma_header(struct trim_vma *v, const char *line)
{
	char perms[8] = "";
	int path = 0;

	memset(v, 0, sizeof(*v));
	v->anon_kb = -1; /* unknown until read: never dropped */
	if (sscanf(line, "%lx-%lx %7s %*s %*s %*s %n", &v->start, &v->end, perms, &path) < 3)
		return;
	v->droppable = path > 0 && line[path] == '/' && perms[0] == 'r' && perms[1] != 'w';
}

size_t trim_mappings(void)
{
	FILE *f = fopen("/proc/self/smaps", "re");
	struct trim_vma v = {.anon_kb = -1};
	char *line = NULL;
	size_t cap = 0, dropped = 0;

	if (f == NULL)
		return 0;
	while (getline(&line, &cap, f) > 0) {
		long kb;

		if (sscanf(line, "Rss: %ld kB", &kb) == 1)
			v.rss_kb = kb;
		else if (sscanf(line, "Anonymous: %ld kB", &kb) == 1)
			v.anon_kb = kb;
		else if ((line[0] >= '0' && line[0] <= '9') || (line[0] >= 'a' && line[0] <= 'f')) {
			/* a mapping's first line (its field lines are "Name: value") */
			dropped += trim_vma_drop(&v);
			trim_vma_header(&v, line);
		}
	}
	dropped += trim_vma_drop(&v);
	free(line);
	fclose(f);
	return dropped;
}

static void trim_work_cb(uv_work_t *req)
{
	size_t dropped;

	(void)req;
	dropped = trim_mappings();
	malloc_trim(0);
	log_debug("trim", "heap trimmed; %zu KiB of clean file pages unmapped", dropped / 1024);
}

static void trim_after_cb(uv_work_t *req, int status)
{
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
	r = uv_queue_work(loop, &trim_req, trim_work_cb, trim_after_cb);
	if (r < 0) {
		log_debug("trim", "cannot queue a heap trim: %s", uv_strerror(r));
		return;
	}
	trim_busy = 1;
}
