/* test-storeq.c: the store thread: jobs in order, results on the loop, a stop with jobs queued */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "../../daemon/store.h"
#include "../../daemon/storeq.h"
#include "check.h"

#define N_JOBS 200

struct tjob {
	struct storeq_job base; /* first */
	int seq;
	uv_thread_t ran_on;   /* set by work_cb */
	int64_t reports_seen; /* store_counts() on the store thread */
	int done;
};

static int ran[N_JOBS], n_ran;		   /* store thread only */
static int delivered[N_JOBS], n_delivered; /* loop only */
static uv_thread_t loop_thread;
static int wrong_thread;
static struct storeq *q_for_counts;
static int not_loaded; /* done_cbs that ran before the thread's first count was back */
static int stopped;

static void work_cb(struct store *s, struct storeq_job *job)
{
	struct tjob *j = (struct tjob *)job;
	int64_t ev;

	j->ran_on = uv_thread_self();
	store_counts(s, &j->reports_seen, &ev);
	if (n_ran < N_JOBS)
		ran[n_ran++] = j->seq;
}

static void done_cb(struct storeq_job *job)
{
	struct tjob *j = (struct tjob *)job;
	uv_thread_t self = uv_thread_self();
	int64_t reports, events;

	if (!uv_thread_equal(&self, &loop_thread) || uv_thread_equal(&j->ran_on, &loop_thread))
		wrong_thread++;
	j->done = 1;
	if (storeq_counts(q_for_counts, &reports, &events) != 0)
		not_loaded++;
	if (n_delivered < N_JOBS)
		delivered[n_delivered++] = j->seq;
}

static void stopped_cb(void *arg)
{
	(void)arg;
	stopped++;
}

struct chain {
	struct tjob j;
	struct storeq *q;
};

/* A follow-up submitted from a done_cb while the queue drains still runs. */
static struct tjob follow;

static void chain_done_cb(struct storeq_job *job)
{
	struct storeq *q = ((struct chain *)job)->q;

	done_cb(job);
	follow.seq = N_JOBS - 1;
	follow.base.work_cb = work_cb;
	follow.base.done_cb = done_cb;
	CHECK(storeq_submit(q, &follow.base) == 0);
}

/* A job that sleeps on the store thread while the loop keeps turning. */
static atomic_int slow_running;

static void slow_work_cb(struct store *s, struct storeq_job *job)
{
	(void)s;
	(void)job;
	atomic_store(&slow_running, 1);
	usleep(300 * 1000);
	atomic_store(&slow_running, 0);
}

static int ticks_while_slow;

static void tick_cb(uv_timer_t *t)
{
	if (atomic_load(&slow_running))
		ticks_while_slow++;
	if (stopped)
		uv_close((uv_handle_t *)t, NULL);
}

int main(void)
{
	char dir[] = "/tmp/test-storeq-XXXXXX";
	uv_loop_t loop;
	struct store *s = NULL;
	struct storeq *q = NULL;
	static struct tjob jobs[N_JOBS - 2];
	static struct chain ch;
	static struct tjob slow;
	uv_timer_t tick;
	int64_t reports = -1, events = -1;
	char cmd[128];

	loop_thread = uv_thread_self();
	CHECK(mkdtemp(dir) != NULL);
	CHECK(uv_loop_init(&loop) == 0);
	CHECK(store_open(dir, &s) == 0);
	CHECK(storeq_new(&loop, s, &q) == 0);
	q_for_counts = q;
	/* the thread counts first: not loaded until that came back to the loop */
	ASSERT_EQ(storeq_counts(q, &reports, &events), -EAGAIN);

	/* the slow job first: the loop's timer keeps ticking while it runs */
	slow.base.work_cb = slow_work_cb;
	CHECK(storeq_submit(q, &slow.base) == 0);
	for (int i = 0; i < N_JOBS - 2; i++) {
		jobs[i].seq = i;
		jobs[i].base.work_cb = work_cb;
		jobs[i].base.done_cb = done_cb;
		CHECK(storeq_submit(q, &jobs[i].base) == 0);
	}
	ch.j.seq = N_JOBS - 2;
	ch.j.base.work_cb = work_cb;
	ch.j.base.done_cb = chain_done_cb;
	ch.q = q;
	CHECK(storeq_submit(q, &ch.j.base) == 0);
	CHECK(storeq_pending(q) == N_JOBS);
	/* the store's idle memory given back between jobs: the jobs after it still run */
	CHECK(storeq_release_memory(q) == 0);
	/* stop with every job still queued: all run, all are delivered, then the callback */
	storeq_stop(q, stopped_cb, NULL);
	CHECK(uv_timer_init(&loop, &tick) == 0);
	CHECK(uv_timer_start(&tick, tick_cb, 10, 10) == 0);
	uv_run(&loop, UV_RUN_DEFAULT);

	ASSERT_EQ(stopped, 1);
	ASSERT_EQ(n_ran, N_JOBS);
	ASSERT_EQ(n_delivered, N_JOBS);
	for (int i = 0; i < N_JOBS; i++) {
		ASSERT_EQ(ran[i], i);
		ASSERT_EQ(delivered[i], i);
	}
	ASSERT_EQ(wrong_thread, 0);
	ASSERT_EQ(not_loaded, 0);
	ASSERT_EQ(storeq_counts(q, &reports, &events), 0);
	ASSERT_EQ(reports, 0);
	ASSERT_EQ(events, 0);
	CHECK(ticks_while_slow >= 5);
	CHECK(follow.done);
	/* the thread has ended: no job is taken any more */
	CHECK(storeq_submit(q, &follow.base) == -ESHUTDOWN);
	CHECK(storeq_release_memory(q) == -ESHUTDOWN);
	storeq_free(q);
	store_close(s);
	CHECK(uv_loop_close(&loop) == 0);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	return CHECK_DONE();
}
