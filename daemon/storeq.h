/* storeq.h: the store thread: it owns the store's connection and runs store jobs in order */
#ifndef JETSAMD_STOREQ_H
#define JETSAMD_STOREQ_H

#include <stdint.h>
#include <uv.h>

struct store;

/*
 * DESIGN
 * One thread owns struct store (the SQLite connection, WAL, busy timeout): the loop never
 * calls SQLite once the thread runs. A store job is a struct storeq_job embedded in the
 * submitter's own struct (first member, or found with container_of): work_cb runs on the
 * store thread with the store, then done_cb runs on the loop with the results the job left
 * in its own struct (by value: the loop never reads the store). Jobs run in submission order
 * and their done_cbs run in the same order. Submission is from any thread (a worker may
 * submit a report's commit while it downloads the next file); one mutex-guarded queue each
 * way, the way back woken by a uv_async_t (as daemon/mailbox.c).
 *
 * The thread reads the store's report and event counts first (store_counts(): a row the
 * store keeps, O(1)), then after each job copies them into the queue, so the loop answers
 * `status` from storeq_counts() without touching the store.
 *
 * storeq_stop() lets the thread run what is queued (also jobs that done_cbs submit while it
 * drains), delivers every done_cb, joins the thread and closes the handle; then stopped_cb.
 */

struct storeq;

struct storeq_job {
	void (*work_cb)(struct store *s, struct storeq_job *job); /* store thread */
	void (*done_cb)(struct storeq_job *job);		  /* loop; may be NULL */
	struct storeq_job *next;				  /* storeq's own */
};

/* Start the thread for s (s stays the caller's to close after storeq_free()). */
int storeq_new(uv_loop_t *loop, struct store *s, struct storeq **out);
/*
 * Any thread: queue job (work_cb, done_cb set by the caller). Returns 0, or -ESHUTDOWN once
 * the thread has ended (nothing runs; the job is the caller's again).
 */
int storeq_submit(struct storeq *q, struct storeq_job *job);
/*
 * Loop: report and event counts of the store after the last delivered job. -EAGAIN (counts 0)
 * until the thread's first count came back: a done_cb of any job sees them loaded.
 */
int storeq_counts(const struct storeq *q, int64_t *reports, int64_t *events);
/*
 * Any thread: a job that gives the store's idle memory back (store_release_memory()), e.g.
 * when the last running sync ended. The thread also does so by itself once it has been idle
 * for 2 s after a job. 0 or a negative errno (-ESHUTDOWN, -ENOMEM).
 */
int storeq_release_memory(struct storeq *q);
/* Loop: jobs submitted and not yet delivered. */
unsigned storeq_pending(struct storeq *q);
/* Loop: drain, join, close; stopped_cb (may be NULL) runs when all is done. */
void storeq_stop(struct storeq *q, void (*stopped_cb)(void *arg), void *arg);
/* After stopped_cb (or when never started); NULL is a no-op. */
void storeq_free(struct storeq *q);

#endif
