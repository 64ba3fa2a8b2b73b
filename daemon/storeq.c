/* storeq.c: the store thread: store jobs in, results back to the loop through a uv_async_t */
#include <errno.h>
#include <malloc.h>
#include <stdlib.h>

#include "log.h"
#include "store.h"
#include "storeq.h"
#include "trim.h"

/* idle this long after a job: the store gives its cache back (store_release_memory()) */
#define STOREQ_IDLE_RELEASE_NS (2000ull * 1000 * 1000)

struct storeq {
	uv_loop_t *loop;
	struct store *store;
	uv_thread_t thread;
	uv_async_t async;
	uv_mutex_t lock;
	uv_cond_t cond;
	/* guarded by lock */
	struct storeq_job *in_head, *in_tail;	/* to the thread */
	struct storeq_job *out_head, *out_tail; /* back to the loop */
	unsigned undelivered;			/* submitted, done_cb not yet returned */
	int stopping, exited;
	int t_loaded;		     /* the thread has counted (its first step) */
	int64_t t_reports, t_events; /* counts after the last job the thread ran */
	/* loop only */
	int loaded;
	int64_t n_reports, n_events;
	int started, closing;
	void (*stopped_cb)(void *arg);
	void *stopped_arg;
};

static void push(struct storeq_job **head, struct storeq_job **tail, struct storeq_job *j)
{
	j->next = NULL;
	if (*tail)
		(*tail)->next = j;
	else
		*head = j;
	*tail = j;
}

/* The thread ends once stopping, with nothing queued and every result delivered (a done_cb
 * may still submit a follow-up job while the queue drains). */
static void thread_main(void *arg)
{
	struct storeq *q = arg;
	int64_t reports = 0, events = 0;
	/* the counts the store keeps (read here, not on the loop) */
	int r = store_counts(q->store, &reports, &events), ran = 0;

	uv_mutex_lock(&q->lock);
	q->t_loaded = 1;
	q->t_reports = r == 0 ? reports : 0;
	q->t_events = r == 0 ? events : 0;
	uv_async_send(&q->async);
	for (;;) {
		struct storeq_job *j = q->in_head;

		if (j == NULL) {
			if (q->stopping && q->undelivered == 0)
				break;
			if (!ran) {
				uv_cond_wait(&q->cond, &q->lock);
			} else if (uv_cond_timedwait(&q->cond, &q->lock, STOREQ_IDLE_RELEASE_NS) ==
				   UV_ETIMEDOUT) {
				ran = 0; /* a burst of jobs is over: give the memory back */
				uv_mutex_unlock(&q->lock);
				store_release_memory(q->store);
				/* idle: what SQLite freed goes back to the kernel, not to an arena
				 */
				trim_thread_cache();
				malloc_trim(0);
				uv_mutex_lock(&q->lock);
			}
			continue;
		}
		ran = 1;
		q->in_head = j->next;
		if (q->in_head == NULL)
			q->in_tail = NULL;
		uv_mutex_unlock(&q->lock);
		j->work_cb(q->store, j);
		if (store_counts(q->store, &reports, &events) < 0)
			reports = events = -1;
		uv_mutex_lock(&q->lock);
		if (reports >= 0) {
			q->t_reports = reports;
			q->t_events = events;
		}
		push(&q->out_head, &q->out_tail, j);
		uv_async_send(&q->async);
	}
	q->exited = 1;
	uv_mutex_unlock(&q->lock);
	uv_async_send(&q->async);
}

static void closed_cb(uv_handle_t *h)
{
	struct storeq *q = h->data;

	if (q->stopped_cb)
		q->stopped_cb(q->stopped_arg);
}

static void async_cb(uv_async_t *h)
{
	struct storeq *q = h->data;
	struct storeq_job *j, *next;
	int exited;

	uv_mutex_lock(&q->lock);
	j = q->out_head;
	q->out_head = q->out_tail = NULL;
	q->loaded = q->t_loaded;
	q->n_reports = q->t_reports;
	q->n_events = q->t_events;
	uv_mutex_unlock(&q->lock);
	for (; j; j = next) {
		next = j->next;
		if (j->done_cb)
			j->done_cb(j);
		uv_mutex_lock(&q->lock);
		if (--q->undelivered == 0 && q->stopping)
			uv_cond_signal(&q->cond);
		uv_mutex_unlock(&q->lock);
	}
	uv_mutex_lock(&q->lock);
	exited = q->exited;
	uv_mutex_unlock(&q->lock);
	if (exited && !q->closing) {
		q->closing = 1;
		uv_thread_join(&q->thread);
		q->started = 0;
		uv_close((uv_handle_t *)&q->async, closed_cb);
	}
}

int storeq_new(uv_loop_t *loop, struct store *s, struct storeq **out)
{
	struct storeq *q = calloc(1, sizeof(*q));
	int r;

	*out = NULL;
	if (q == NULL)
		return -ENOMEM;
	q->loop = loop;
	q->store = s;
	if ((r = uv_mutex_init(&q->lock)) < 0) {
		free(q);
		return r;
	}
	if ((r = uv_cond_init(&q->cond)) < 0)
		goto fail_mutex;
	if ((r = uv_async_init(loop, &q->async, async_cb)) < 0)
		goto fail_cond;
	q->async.data = q;
	r = uv_thread_create(&q->thread, thread_main, q);
	if (r < 0) {
		/* closed now; storeq_stop() then only calls back */
		q->exited = 1;
		uv_close((uv_handle_t *)&q->async, NULL);
		*out = q;
		return r;
	}
	q->started = 1;
	*out = q;
	return 0;
fail_cond:
	uv_cond_destroy(&q->cond);
fail_mutex:
	uv_mutex_destroy(&q->lock);
	free(q);
	return r;
}

int storeq_submit(struct storeq *q, struct storeq_job *job)
{
	int r = 0;

	uv_mutex_lock(&q->lock);
	if (q->exited) {
		r = -ESHUTDOWN;
	} else {
		push(&q->in_head, &q->in_tail, job);
		q->undelivered++;
		uv_cond_signal(&q->cond);
	}
	uv_mutex_unlock(&q->lock);
	return r;
}

static void release_work_cb(struct store *s, struct storeq_job *job)
{
	(void)job;
	store_release_memory(s);
}

static void release_done_cb(struct storeq_job *job)
{
	free(job);
}

int storeq_release_memory(struct storeq *q)
{
	struct storeq_job *j = calloc(1, sizeof(*j));
	int r;

	if (j == NULL)
		return -ENOMEM;
	j->work_cb = release_work_cb;
	j->done_cb = release_done_cb;
	if ((r = storeq_submit(q, j)) < 0)
		free(j);
	return r;
}

int storeq_counts(const struct storeq *q, int64_t *reports, int64_t *events)
{
	*reports = q->n_reports;
	*events = q->n_events;
	return q->loaded ? 0 : -EAGAIN;
}

unsigned storeq_pending(struct storeq *q)
{
	unsigned n;

	uv_mutex_lock(&q->lock);
	n = q->undelivered;
	uv_mutex_unlock(&q->lock);
	return n;
}

void storeq_stop(struct storeq *q, void (*stopped_cb)(void *arg), void *arg)
{
	q->stopped_cb = stopped_cb;
	q->stopped_arg = arg;
	if (!q->started) { /* the thread never started, or has already ended */
		if (!q->closing && stopped_cb)
			stopped_cb(arg);
		return;
	}
	uv_mutex_lock(&q->lock);
	q->stopping = 1;
	uv_cond_signal(&q->cond);
	uv_mutex_unlock(&q->lock);
}

void storeq_free(struct storeq *q)
{
	if (q == NULL)
		return;
	if (q->started) {
		log_err("store", "store thread freed while running: not freed");
		return;
	}
	uv_cond_destroy(&q->cond);
	uv_mutex_destroy(&q->lock);
	free(q);
}
