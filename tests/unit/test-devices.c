/* test-devices.c: the phone scheduler and state machine on a real loop, without usbmuxd */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "../../daemon/config.h"
#include "../../daemon/devices.h"
#include "../../daemon/devices_impl.h"
#include "../../daemon/store.h"
#include "../../daemon/storeq.h"
#include "check.h"

/*
 * Phones are attached through the devwatch callbacks (the seam devices_watch_ops); usbmuxd's
 * socket does not exist, so every sync job really runs fetch_sync() on the thread pool and
 * fails to reach the phone: each phone goes attached -> syncing -> error. The test checks the
 * order of states, that max_parallel_syncs = 1 holds, waited syncs, detach and the stop.
 */

#define PHONES 3

struct bench {
	uv_loop_t loop;
	struct config cfg;
	struct store *store;
	struct storeq *sq;
	struct devices *dv;
	cJSON *last_row[PHONES]; /* the last DEVICE row handed up per phone */
	uv_timer_t deadline, step;
	char dir[64];
	char history[PHONES][256]; /* "attached,syncing,error,..." per phone */
	unsigned max_syncing, errors_seen, status_calls, reports, row_mismatches;
	int waited, sync_unknown, sync_detached, stopped, sq_stopped;
	struct devices_queued queued;
	size_t n_synced;
	char synced_state[PHONES][16];
	int synced_has_error[PHONES];
	unsigned attached_after_detach, total_after_detach;
};

static const char *const udids[PHONES] = {"phone-a", "phone-b", "phone-c"};

static int phone_index(const char *udid)
{
	for (int i = 0; i < PHONES; i++)
		if (strcmp(udids[i], udid) == 0)
			return i;
	return -1;
}

static void sq_stopped_cb(void *arg)
{
	((struct bench *)arg)->sq_stopped = 1;
}

/* devices first, then the store thread (it delivers the last state rows) */
static void stopped_cb(void *arg)
{
	struct bench *b = arg;

	b->stopped = 1;
	storeq_stop(b->sq, sq_stopped_cb, b);
	uv_close((uv_handle_t *)&b->deadline, NULL);
	uv_close((uv_handle_t *)&b->step, NULL);
}

static void wait_cb(void *arg, const struct devices_sync_result *res, size_t n)
{
	struct bench *b = arg;
	unsigned syncing;

	b->n_synced = n;
	for (size_t i = 0; i < n; i++) {
		int k = phone_index(res[i].udid);

		if (k < 0)
			continue;
		snprintf(b->synced_state[k], sizeof(b->synced_state[k]), "%s", res[i].state);
		b->synced_has_error[k] = res[i].error != NULL;
	}
	devices_watch_ops.detach_cb(b->dv, "phone-b");
	b->sync_detached = devices_sync(b->dv, "phone-b", NULL, NULL, NULL, NULL);
	devices_counts(b->dv, &b->attached_after_detach, &syncing, &b->total_after_detach);
	devices_stop(b->dv, stopped_cb, b);
}

/* Once every phone has failed its first sync: ask for a waited sync of all of them. */
static void all_failed_cb(uv_timer_t *t)
{
	struct bench *b = t->data;
	struct devices_wait *w;

	b->sync_unknown = devices_sync(b->dv, "phone-z", NULL, NULL, NULL, NULL);
	b->waited = devices_sync(b->dv, NULL, &b->queued, wait_cb, b, &w);
}

static void device_cb(void *arg, const struct store_device *row)
{
	struct bench *b = arg;
	int k = phone_index(row->udid);
	unsigned attached, syncing, total;
	size_t len;

	devices_counts(b->dv, &attached, &syncing, &total);
	if (syncing > b->max_syncing)
		b->max_syncing = syncing;
	if (k < 0)
		return;
	/* compared with the store's DEVICE once the store thread has ended */
	cJSON_Delete(b->last_row[k]);
	b->last_row[k] = store_device_row_json(row);
	len = strlen(b->history[k]);
	snprintf(b->history[k] + len, sizeof(b->history[k]) - len, "%s%s", len ? "," : "",
		 row->state);
	if (strcmp(row->state, "error") == 0 && ++b->errors_seen == PHONES)
		uv_timer_start(&b->step, all_failed_cb, 0, 0); /* not inside a callback */
}

static void report_cb(void *arg, const struct ingest_source *src, struct ingest_item *it)
{
	(void)src;
	(void)it;
	((struct bench *)arg)->reports++;
}

static void status_cb(void *arg)
{
	((struct bench *)arg)->status_calls++;
}

static const struct devices_ops ops = {
	.device_cb = device_cb,
	.report_cb = report_cb,
	.status_cb = status_cb,
};

static void deadline_cb(uv_timer_t *t)
{
	struct bench *b = t->data;

	fprintf(stderr, "deadline: the scenario did not finish\n");
	CHECK(0);
	if (!b->stopped)
		devices_stop(b->dv, stopped_cb, b);
}

static int bench_start(struct bench *b)
{
	char sock[128];

	snprintf(b->dir, sizeof(b->dir), "/tmp/jetsamd-test-devices-XXXXXX");
	if (mkdtemp(b->dir) == NULL || config_init(&b->cfg) < 0 || uv_loop_init(&b->loop) < 0)
		return -1;
	snprintf(sock, sizeof(sock), "UNIX:%s/no-usbmuxd", b->dir);
	free(b->cfg.state_dir);
	b->cfg.state_dir = strdup(b->dir);
	b->cfg.usbmuxd_socket = strdup(sock);
	b->cfg.max_parallel_syncs = 1;
	b->cfg.retry_min_s = 60; /* no retry during the test: only asked-for syncs run */
	if (store_open(b->dir, &b->store) < 0 || storeq_new(&b->loop, b->store, &b->sq) < 0)
		return -1;
	uv_timer_init(&b->loop, &b->deadline);
	uv_timer_init(&b->loop, &b->step);
	b->deadline.data = b->step.data = b;
	uv_timer_start(&b->deadline, deadline_cb, 20000, 0);
	return devices_new(&b->loop, &b->cfg, b->sq, &ops, b, &b->dv);
}

int main(void)
{
	static struct bench b;
	char cmd[160];

	CHECK(bench_start(&b) == 0);
	for (int i = 0; i < PHONES; i++)
		devices_watch_ops.attach_cb(b.dv, udids[i], 0);
	uv_run(&b.loop, UV_RUN_DEFAULT);

	CHECK(b.stopped);
	CHECK(b.sq_stopped);
	/* the row handed up is the store's DEVICE as the store thread wrote it (no read-back) */
	for (int i = 0; i < PHONES; i++) {
		cJSON *stored = NULL;

		if (store_device_json(b.store, udids[i], &stored) < 0 ||
		    !cJSON_Compare(stored, b.last_row[i], 1))
			b.row_mismatches++;
		cJSON_Delete(stored);
		cJSON_Delete(b.last_row[i]);
	}
	for (int i = 0; i < PHONES; i++)
		fprintf(stderr, "%s: %s\n", udids[i], b.history[i]);
	/* first sync, then the waited one; phone-b was detached last */
	ASSERT_STREQ(b.history[0], "attached,syncing,error,syncing,error");
	ASSERT_STREQ(b.history[1], "attached,syncing,error,syncing,error,detached");
	ASSERT_STREQ(b.history[2], "attached,syncing,error,syncing,error");
	ASSERT_EQ(b.max_syncing, 1); /* max_parallel_syncs */
	ASSERT_EQ(b.sync_unknown, -ENOENT);
	ASSERT_EQ(b.waited, 0);
	ASSERT_EQ(b.queued.n, PHONES);
	ASSERT_EQ(b.n_synced, PHONES);
	for (int i = 0; i < PHONES; i++) {
		ASSERT_STREQ(b.synced_state[i], "error");
		CHECK(b.synced_has_error[i]);
	}
	ASSERT_EQ(b.sync_detached, -ENOENT);
	ASSERT_EQ(b.attached_after_detach, PHONES - 1);
	ASSERT_EQ(b.total_after_detach, PHONES);
	ASSERT_EQ(b.reports, 0);
	ASSERT_EQ(b.row_mismatches, 0);
	devices_queued_release(&b.queued);
	devices_free(b.dv);
	storeq_free(b.sq);
	store_close(b.store);
	CHECK(uv_loop_close(&b.loop) == 0);
	config_release(&b.cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b.dir);
	CHECK(system(cmd) == 0);
	return CHECK_DONE();
}
