/* devices_stage.c: a sync's second stage: archive and parse downloads, one flush and commit per
 * batch */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../proto/arena.h"
#include "archive.h"
#include "clock.h"
#include "devices_impl.h"
#include "log.h"

/*
 * DESIGN
 * The sync's worker (fetch_sync on the pool) only downloads: file_cb copies each file into
 * a queue and returns, so the next download starts while this job's own thread hashes,
 * archives (archive_put: temp file and rename, no fsync) and parses the last one. Parsed
 * reports gather in a batch. A batch ends at STAGE_BATCH_FILES files, STAGE_BATCH_BYTES raw
 * bytes, STAGE_BATCH_MS after its first file (so that a slow phone's reports still land
 * within about a second), when a file cannot be archived (a full disk: what is archived is
 * committed while the store may still have room; a sync keeps its progress), or at the end
 * of the sync. Then one archive_flush() (a syncfs of
 * the state dir's file system) makes every file of the batch durable, and only then one
 * store job commits the batch in one transaction (ingest_commit). The phone's copies are
 * removed (remove_after_pull) only after the job's store jobs, by the removal job, which
 * makes the store durable first. A crash before a batch's commit loses nothing: its files
 * are not in the file index, so the next sync pulls them again and the store records each
 * report once (content-addressed archive; the store knows a report by its hash).
 * Why syncfs and not an fdatasync of each file plus an fsync of each directory touched:
 * writing 500 files of 210 KB into 256 directories in batches of 64 on this project's ext4
 * test machine (loaded) took 1.06/2.62 s (min/median of 3) with syncfs, 1.49/2.84 s with
 * sync_file_range + fdatasync + dir fsyncs (1,000 calls), 2.62/3.25 s with today's per-file
 * fsync; syncfs is one call whatever the batch and needs no list of files or directories.
 * Its cost: it also writes what other programs left dirty on that file system.
 *
 * Memory: the queue holds at most STAGE_QUEUE_BYTES of downloaded files (one file always
 * fits, up to max_report_size); a batch holds at most STAGE_BATCH_FILES parsed reports, and
 * at most SYNC_BATCHES_IN_FLIGHT batches wait for the store thread (j->slots) while the
 * next one fills. A cancelled job (stop, detach, SIGTERM) drops what is queued and its
 * unflushed batch at once; a batch already submitted commits as a whole. At the deadline
 * (sync_timeout) or a lost connection the stage finishes what was downloaded.
 */

#define STAGE_BATCH_FILES 64
#define STAGE_BATCH_BYTES (8u * 1024u * 1024u)
#define STAGE_BATCH_MS	  1000
#define STAGE_QUEUE_BYTES (4u * 1024u * 1024u)

struct stage_file {
	struct stage_file *next;
	char *path;
	int64_t size, mtime_ns;
	char buf[]; /* size bytes */
};

/* A batch on its way into the store: one store job, its reports in file order. */
struct batch_commit {
	struct storeq_job sjob; /* first */
	struct phone_job *j;
	struct ingest_source src;
	size_t n, bytes;
	uint64_t first_ms;
	int r;
	struct ingest_item it[STAGE_BATCH_FILES];
};

struct sync_stage {
	uv_thread_t thread;
	uv_mutex_t mu;
	uv_cond_t cond; /* a file queued, room in the queue, or the end */
	struct stage_file *head, *tail;
	size_t queued_bytes;
	int ending;		  /* fetch_sync returned: finish what is queued */
	atomic_int err;		  /* -ENOMEM: file_cb stops the walk */
	unsigned failed;	  /* files not archived, parsed, flushed or submitted */
	struct batch_commit *cur; /* stage thread: the batch being filled */
	struct phone_job *j;
};

/* Loop: keep a committed file for the removal job (its path moves over). */
static int job_add_done(struct phone_job *j, struct ingest_item *it)
{
	if (j->n_done == j->cap_done) {
		size_t cap = j->cap_done ? 2 * j->cap_done : 16;
		struct fetch_known *v = realloc(j->done, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		j->done = v;
		j->cap_done = cap;
	}
	j->done[j->n_done++] =
		(struct fetch_known){.path = it->path, .size = it->size, .mtime_ns = it->mtime_ns};
	it->path = NULL;
	return 0;
}

static void batch_free(struct batch_commit *b)
{
	for (size_t i = 0; b && i < b->n; i++)
		ingest_item_release(&b->it[i]);
	free(b);
}

/* Store thread: the batch's reports, events and file index entries in one transaction. */
static void batch_work_cb(struct store *s, struct storeq_job *job)
{
	struct batch_commit *b = (struct batch_commit *)job;

	b->r = ingest_commit(s, &b->src, b->it, b->n);
	if (b->r < 0)
		b->j->commit_err_st = b->r;
}

/* Loop: publish the new reports; remember the committed files for removal. */
static void batch_done_cb(struct storeq_job *job)
{
	struct batch_commit *b = (struct batch_commit *)job;
	struct phone_job *j = b->j;
	struct phone *ph = j->ph;
	struct devices *dv = ph->dv;

	if (b->r < 0) {
		log_err("devices", "'%s': cannot store %zu report(s) from '%s' on: %s", ph->udid,
			b->n, b->it[0].path, strerror(-b->r));
		j->commit_err = b->r;
	}
	for (size_t i = 0; b->r == 0 && i < b->n; i++) {
		struct ingest_item *it = &b->it[i];

		log_debug("devices", "'%s': '%s' stored as report %lld%s (%zu events)", ph->udid,
			  it->path, (long long)it->res.report_id,
			  it->res.duplicate ? ", a duplicate" : "", it->res.n_events);
		if (!it->res.duplicate) {
			ph->new_reports++;
			dv->ops->report_cb(dv->arg, &b->src, it);
		}
		if (job_add_done(j, it) < 0)
			j->commit_err = -ENOMEM;
	}
	uv_sem_post(&j->slots);
	batch_free(b);
}

/* Stage thread: make the batch durable, then hand it to the store thread. */
static void stage_flush(struct sync_stage *st)
{
	struct batch_commit *b = st->cur;
	struct phone_job *j = st->j;
	uint64_t t0 = clock_now_ms();
	int r;

	st->cur = NULL;
	if (b == NULL || b->n == 0) {
		free(b);
		return;
	}
	r = archive_flush(j->params.state_dir);
	if (r < 0) {
		log_err("devices", "'%s': cannot make %zu archived report(s) durable: %s",
			j->params.udid, b->n, strerror(-r));
		goto fail;
	}
	log_debug("devices", "'%s': %zu report(s), %zu bytes durable in %llu ms", j->params.udid,
		  b->n, b->bytes, (unsigned long long)(clock_now_ms() - t0));
	b->j = j;
	b->src = (struct ingest_source){j->params.udid, j->res.product, j->res.os_version,
					j->res.build};
	b->sjob.work_cb = batch_work_cb;
	b->sjob.done_cb = batch_done_cb;
	uv_sem_wait(&j->slots); /* bounded: at most a few batches wait for the store */
	r = storeq_submit(j->sq, &b->sjob);
	if (r == 0)
		return;
	uv_sem_post(&j->slots);
fail:
	st->failed += (unsigned)b->n;
	batch_free(b);
}

/* Stage thread: archive and parse one downloaded file into the current batch. */
static void stage_add(struct sync_stage *st, struct stage_file *f)
{
	struct phone_job *j = st->j;
	struct ingest_item *it;
	int r;

	if (st->cur == NULL && (st->cur = calloc(1, sizeof(*st->cur))) == NULL) {
		atomic_store(&st->err, -ENOMEM);
		st->failed++;
		free(f->path);
		return;
	}
	it = &st->cur->it[st->cur->n];
	memset(it, 0, sizeof(*it));
	it->path = f->path;
	it->size = f->size;
	it->mtime_ns = f->mtime_ns;
	r = ingest_prepare_batch(j->params.state_dir, f->buf, (size_t)f->size,
				 j->params.max_report_size, j->max_events, it);
	if (r < 0) {
		if (r == -ENOMEM)
			atomic_store(&st->err, r);
		st->failed++;
		ingest_item_release(it);
		/* e.g. a full disk: commit what is archived now, while the store may have room */
		if (it->failed_step && !strcmp(it->failed_step, "archive"))
			stage_flush(st);
		return;
	}
	if (st->cur->n++ == 0)
		st->cur->first_ms = clock_now_ms();
	st->cur->bytes += (size_t)f->size;
	if (st->cur->n == STAGE_BATCH_FILES || st->cur->bytes >= STAGE_BATCH_BYTES)
		stage_flush(st);
}

enum stage_next { NEXT_FILE, NEXT_FLUSH, NEXT_END };

/* Stage thread: wait for a file, for the current batch's time limit, or for the end. */
static enum stage_next stage_next(struct sync_stage *st, struct stage_file **out)
{
	enum stage_next what = NEXT_END;

	*out = NULL;
	uv_mutex_lock(&st->mu);
	for (;;) {
		uint64_t now, due;

		if (st->head) {
			*out = st->head;
			st->head = st->head->next;
			if (!st->head)
				st->tail = NULL;
			st->queued_bytes -= (size_t)(*out)->size;
			uv_cond_broadcast(&st->cond); /* room for the downloader */
			what = NEXT_FILE;
			break;
		}
		if (st->ending)
			break;
		if (!st->cur || st->cur->n == 0) {
			uv_cond_wait(&st->cond, &st->mu);
			continue;
		}
		now = clock_now_ms();
		due = st->cur->first_ms + STAGE_BATCH_MS;
		if (now >= due) {
			what = NEXT_FLUSH;
			break;
		}
		uv_cond_timedwait(&st->cond, &st->mu, (due - now) * 1000000u);
	}
	uv_mutex_unlock(&st->mu);
	return what;
}

static void stage_main(void *arg)
{
	struct sync_stage *st = arg;
	struct phone_job *j = st->j;

	arena_thread_hold(); /* the reports parsed here reuse one cJSON arena until the sync ends */
	for (;;) {
		struct stage_file *f;
		enum stage_next what = stage_next(st, &f);

		if (atomic_load(&j->cancel)) {
			/* stop or detach: nothing more is archived or committed */
			if (f)
				free(f->path);
			free(f);
			batch_free(st->cur);
			st->cur = NULL;
		} else if (what == NEXT_FILE) {
			stage_add(st, f);
			free(f);
		} else {
			stage_flush(st);
		}
		if (what == NEXT_END)
			break;
	}
	arena_thread_unhold();
}

int sync_stage_start(struct phone_job *j)
{
	struct sync_stage *st = calloc(1, sizeof(*st));
	int r;

	if (!st)
		return -ENOMEM;
	st->j = j;
	atomic_init(&st->err, 0);
	if ((r = uv_mutex_init(&st->mu)) < 0) {
		free(st);
		return r;
	}
	if ((r = uv_cond_init(&st->cond)) < 0) {
		uv_mutex_destroy(&st->mu);
		free(st);
		return r;
	}
	if ((r = uv_thread_create(&st->thread, stage_main, st)) < 0) {
		uv_cond_destroy(&st->cond);
		uv_mutex_destroy(&st->mu);
		free(st);
		return r;
	}
	j->stage = st;
	return 0;
}

int sync_stage_file_cb(void *arg, const char *path, int64_t size, int64_t mtime_ns, const void *buf)
{
	struct phone_job *j = arg;
	struct sync_stage *st = j->stage;
	struct stage_file *f = malloc(sizeof(*f) + (size_t)size);
	int r;

	if (!f || !(f->path = strdup(path))) {
		free(f);
		return -ENOMEM;
	}
	memcpy(f->buf, buf, (size_t)size);
	f->size = size;
	f->mtime_ns = mtime_ns;
	f->next = NULL;
	uv_mutex_lock(&st->mu);
	/* bounded: wait while the queue is full (a file larger than the bound goes alone) */
	while (st->head && st->queued_bytes + (size_t)size > STAGE_QUEUE_BYTES &&
	       !atomic_load(&j->cancel) && !atomic_load(&st->err))
		uv_cond_wait(&st->cond, &st->mu);
	r = atomic_load(&st->err);
	if (r == 0 && atomic_load(&j->cancel))
		r = -ECANCELED;
	if (r == 0) {
		if (st->tail)
			st->tail->next = f;
		else
			st->head = f;
		st->tail = f;
		st->queued_bytes += (size_t)size;
		uv_cond_broadcast(&st->cond);
	}
	uv_mutex_unlock(&st->mu);
	if (r < 0) {
		free(f->path);
		free(f);
	}
	return r;
}

void sync_stage_finish(struct phone_job *j)
{
	struct sync_stage *st = j->stage;
	struct fetch_result *res = &j->res;

	if (!st)
		return;
	uv_mutex_lock(&st->mu);
	st->ending = 1;
	uv_cond_broadcast(&st->cond);
	uv_mutex_unlock(&st->mu);
	uv_thread_join(&st->thread);
	j->stage = NULL;
	if (st->failed) {
		res->n_files -= st->failed < res->n_files ? st->failed : res->n_files;
		res->n_failed += st->failed;
		if (res->state == FETCH_OK) {
			char msg[96];

			snprintf(msg, sizeof(msg),
				 "%u report file(s) could not be archived or stored", st->failed);
			free(res->error);
			res->state = FETCH_ERROR;
			res->error = strdup(msg);
		}
	}
	uv_cond_destroy(&st->cond);
	uv_mutex_destroy(&st->mu);
	free(st);
}
