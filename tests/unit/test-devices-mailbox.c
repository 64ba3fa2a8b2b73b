/* test-devices-mailbox.c: the cross-thread mailbox: order, coalescing, bound and overflow */
#include <stdio.h>
#include <string.h>
#include <uv.h>

#include "../../daemon/mailbox.h"
#include "check.h"

#define THREADS	   4
#define PER_THREAD 5000

struct drain_state {
	unsigned long drains, events, overflows;
	unsigned next[THREADS]; /* per-thread sequence numbers must arrive in order */
	int order_ok;
	unsigned long expect_total;
	int closed;
};

static struct drain_state st;

static void close_done_cb(struct mailbox *mb)
{
	(void)mb;
	st.closed = 1;
}

static void drain_cb(struct mailbox *mb, const struct mailbox_event *v, size_t n, int overflow)
{
	st.drains++;
	st.overflows += overflow != 0;
	for (size_t i = 0; i < n; i++) {
		unsigned t, seq;

		if (sscanf(v[i].udid, "t%u-%u", &t, &seq) != 2 || t >= THREADS) {
			st.order_ok = 0;
			continue;
		}
		/* with drops a thread's numbers may jump, never go back */
		if (seq < st.next[t])
			st.order_ok = 0;
		st.next[t] = seq + 1;
		st.events++;
	}
	(void)mb;
}

struct poster {
	struct mailbox *mb;
	unsigned id;
};

static void poster_main(void *arg)
{
	struct poster *p = arg;

	for (unsigned i = 0; i < PER_THREAD; i++) {
		struct mailbox_event ev = {.kind = MAILBOX_ADD};

		snprintf(ev.udid, sizeof(ev.udid), "t%u-%u", p->id, i);
		mailbox_post(p->mb, &ev);
	}
}

static void stop_cb(uv_timer_t *t)
{
	struct mailbox *mb = t->data;

	mailbox_close(mb, close_done_cb);
	uv_close((uv_handle_t *)t, NULL);
}

/* Threads post while the loop drains: nothing lost with a large bound, order per thread. */
static void test_threads(size_t cap, int expect_no_loss)
{
	uv_loop_t loop;
	struct mailbox mb;
	uv_thread_t th[THREADS];
	struct poster p[THREADS];
	uv_timer_t stop;

	memset(&st, 0, sizeof(st));
	st.order_ok = 1;
	CHECK(uv_loop_init(&loop) == 0);
	CHECK(mailbox_init(&mb, &loop, cap, drain_cb) == 0);
	for (unsigned i = 0; i < THREADS; i++) {
		p[i].mb = &mb;
		p[i].id = i;
		CHECK(uv_thread_create(&th[i], poster_main, &p[i]) == 0);
	}
	/* run the loop while the threads post, then join them and drain what is left */
	for (int spins = 0; spins < 200; spins++)
		uv_run(&loop, UV_RUN_NOWAIT);
	for (unsigned i = 0; i < THREADS; i++)
		uv_thread_join(&th[i]);
	uv_timer_init(&loop, &stop);
	stop.data = &mb;
	/*
	 * The loop's clock is as old as the last spin; joining may have taken longer than 50 ms
	 * under load, and libuv runs due timers before it polls the async handle.
	 */
	uv_update_time(&loop);
	uv_timer_start(&stop, stop_cb, 50, 0);
	CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
	CHECK(st.closed);
	CHECK(uv_loop_close(&loop) == 0);
	CHECK(st.order_ok);
	CHECK(st.drains >= 1);
	if (expect_no_loss) {
		ASSERT_EQ(st.events, THREADS * PER_THREAD);
		ASSERT_EQ(st.overflows, 0);
	} else {
		CHECK(st.events < THREADS * PER_THREAD);
		CHECK(st.overflows >= 1);
	}
}

/* Posts before the loop runs coalesce into one drain; the bound drops and flags overflow. */
static void test_bound(void)
{
	uv_loop_t loop;
	struct mailbox mb;
	uv_timer_t stop;

	memset(&st, 0, sizeof(st));
	st.order_ok = 1;
	CHECK(uv_loop_init(&loop) == 0);
	CHECK(mailbox_init(&mb, &loop, 8, drain_cb) == 0);
	for (unsigned i = 0; i < 20; i++) {
		struct mailbox_event ev = {.kind = MAILBOX_REMOVE};

		snprintf(ev.udid, sizeof(ev.udid), "t0-%u", i);
		mailbox_post(&mb, &ev);
	}
	uv_run(&loop, UV_RUN_NOWAIT);
	ASSERT_EQ(st.drains, 1);
	ASSERT_EQ(st.events, 8);
	ASSERT_EQ(st.overflows, 1);
	ASSERT_EQ(st.next[0], 8); /* the first 8 were kept, the rest dropped */
	/* the next drain starts clean */
	{
		struct mailbox_event ev = {.kind = MAILBOX_ADD};

		snprintf(ev.udid, sizeof(ev.udid), "t0-%u", 100);
		mailbox_post(&mb, &ev);
	}
	uv_run(&loop, UV_RUN_NOWAIT);
	ASSERT_EQ(st.drains, 2);
	ASSERT_EQ(st.events, 9);
	ASSERT_EQ(st.overflows, 1);
	uv_timer_init(&loop, &stop);
	stop.data = &mb;
	uv_timer_start(&stop, stop_cb, 0, 0);
	CHECK(uv_run(&loop, UV_RUN_DEFAULT) == 0);
	CHECK(uv_loop_close(&loop) == 0);
}

int main(void)
{
	test_bound();
	test_threads(THREADS * PER_THREAD, 1);
	test_threads(16, 0);
	return CHECK_DONE();
}
