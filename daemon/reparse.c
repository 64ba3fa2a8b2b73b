/* reparse.c: the reparse command: re-read every archived report with the current parser */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "../proto/report.h"
#include "api_common.h"
#include "config.h"
#include "ingest.h"
#include "ipc.h"
#include "log.h"
#include "reparse.h"
#include "../proto/request.h"
#include "store.h"
#include "storeq.h"
#include "trim.h"

#define REPARSE_BATCH 64

struct reparse_item {
	int64_t id;
	char *archive;
	struct report *report;
	int err; /* archive read or parse failure */
};

struct reparse_job {
	struct storeq_job sjob; /* first: commit a batch and list the next (store thread) */
	uv_work_t work;
	struct api_ctx *a;
	struct ipc_client *c; /* referenced */
	cJSON *id;
	char *state_dir;
	size_t max_size, max_events;
	int64_t after_id;
	struct reparse_item items[REPARSE_BATCH];
	size_t n;
	int64_t total, ok, skipped, error, events;
	int store_err; /* of the last store job */
	int final;     /* the store job rebuilds the limits, then the reply */
	int result;    /* the outcome replied once the limits are rebuilt */
};

static void reparse_work_cb(uv_work_t *w)
{
	struct reparse_job *j = w->data;

	for (size_t i = 0; i < j->n; i++) {
		struct reparse_item *it = &j->items[i];

		it->err = ingest_reread(j->state_dir, it->archive, j->max_size, j->max_events,
					&it->report);
	}
	trim_thread_cache(); /* the parses' small chunks: see trim.h */
}

static void reparse_items_release(struct reparse_job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		free(j->items[i].archive);
		report_free(j->items[i].report);
	}
	j->n = 0;
}

static void reparse_reply(struct reparse_job *j, int r)
{
	if (r < 0) {
		api_reply_err(j->c, j->id, PROTO_E_INTERNAL, "reparse failed: %s", strerror(-r));
	} else {
		cJSON *res = cJSON_CreateObject();

		if (res) {
			cJSON_AddNumberToObject(res, "reports", (double)j->total);
			cJSON_AddNumberToObject(res, "ok", (double)j->ok);
			cJSON_AddNumberToObject(res, "skipped", (double)j->skipped);
			cJSON_AddNumberToObject(res, "error", (double)j->error);
			cJSON_AddNumberToObject(res, "events", (double)j->events);
			api_reply_ok(j->c, j->id, res);
		}
		log_info("api",
			 "reparse: %lld reports, %lld ok, %lld skipped, %lld error, "
			 "%lld events",
			 (long long)j->total, (long long)j->ok, (long long)j->skipped,
			 (long long)j->error, (long long)j->events);
	}
	j->a->reparse_running = 0;
	ipc_client_resume(j->c);
	ipc_client_unref(j->c);
	cJSON_Delete(j->id);
	free(j->state_dir);
	api_jobs_idle_trim(j->a);
	free(j);
}

static void reparse_store_work_cb(struct store *s, struct storeq_job *job);
static void reparse_store_done_cb(struct storeq_job *job);

/* Finish with r: the limits are rebuilt on the store thread first (when events changed). */
static void reparse_finish(struct reparse_job *j, int r)
{
	reparse_items_release(j);
	j->result = r;
	/* also after a failure or a stop: the batches committed so far changed events */
	if (j->total > 0) {
		j->final = 1;
		j->sjob.work_cb = reparse_store_work_cb;
		j->sjob.done_cb = reparse_store_done_cb;
		if (storeq_submit(j->a->sq, &j->sjob) == 0) {
			j->a->jobs_running++;
			return;
		}
		if (r == 0)
			r = -ESHUTDOWN;
	}
	reparse_reply(j, r);
}

/* Store thread: commit the batch in j->items (if any); list the next batch into j->items. */
static int reparse_commit(struct store *s, struct reparse_job *j)
{
	int r = j->n ? store_begin(s) : 0;

	for (size_t i = 0; r == 0 && i < j->n; i++) {
		struct reparse_item *it = &j->items[i];
		size_t nev = 0;

		j->total++;
		if (it->err < 0 || it->report == NULL) {
			log_warn("api", "reparse: report %lld: cannot read '%s': %s",
				 (long long)it->id, it->archive,
				 strerror(it->err < 0 ? -it->err : ENOMEM));
			j->error++;
			continue;
		}
		r = store_report_replace(s, it->id, it->report, &nev);
		j->events += (int64_t)nev;
		j->ok += it->report->status == REPORT_OK;
		j->skipped += it->report->status == REPORT_SKIPPED;
		j->error += it->report->status == REPORT_ERROR;
	}
	if (r == 0 && j->n)
		r = store_commit(s);
	if (r < 0 && j->n)
		store_rollback(s);
	return r;
}

static int reparse_list(struct store *s, struct reparse_job *j)
{
	struct store_archived *v = NULL;
	size_t n = 0;
	int r = store_archived_list(s, j->after_id, REPARSE_BATCH, &v, &n);

	for (size_t i = 0; r == 0 && i < n; i++) {
		j->items[i].id = v[i].id;
		j->items[i].archive = v[i].archive;
		j->items[i].report = NULL;
		j->items[i].err = 0;
		v[i].archive = NULL;
	}
	if (r == 0 && n) {
		j->n = n;
		j->after_id = v[n - 1].id;
	}
	store_archived_free(v, n);
	return r;
}

static void reparse_store_work_cb(struct store *s, struct storeq_job *job)
{
	struct reparse_job *j = (struct reparse_job *)job;

	if (j->final) {
		j->store_err = store_limits_rebuild(s);
		return;
	}
	j->store_err = reparse_commit(s, j);
	reparse_items_release(j);
	if (j->store_err == 0)
		j->store_err = reparse_list(s, j);
}

static void reparse_after_cb(uv_work_t *w, int status);

static void reparse_store_done_cb(struct storeq_job *job)
{
	struct reparse_job *j = (struct reparse_job *)job;
	int r;

	j->a->jobs_running--;
	if (j->final) {
		reparse_reply(j, j->result < 0 ? j->result : j->store_err);
		return;
	}
	if (j->store_err < 0 || j->n == 0) {
		reparse_finish(j, j->store_err);
		return;
	}
	if (j->a->stopping) {
		reparse_finish(j, -ECANCELED);
		return;
	}
	r = uv_queue_work(j->a->loop, &j->work, reparse_work_cb, reparse_after_cb);
	if (r < 0) {
		reparse_finish(j, -ECANCELED);
		return;
	}
	j->a->jobs_running++;
}

/* Commit the batch and list the next one, on the store thread. */
static void reparse_next(struct reparse_job *j)
{
	int r;

	j->sjob.work_cb = reparse_store_work_cb;
	j->sjob.done_cb = reparse_store_done_cb;
	r = storeq_submit(j->a->sq, &j->sjob);
	if (r < 0) {
		reparse_finish(j, r);
		return;
	}
	j->a->jobs_running++;
}

static void reparse_after_cb(uv_work_t *w, int status)
{
	struct reparse_job *j = w->data;

	j->a->jobs_running--;
	if (status < 0) {
		reparse_finish(j, -ECANCELED);
		return;
	}
	reparse_next(j);
}

enum ipc_outcome reparse_request(struct api_ctx *a, struct ipc_client *c, struct request *req)
{
	struct reparse_job *j;

	if (a->reparse_running) {
		api_reply_err(c, req->id, PROTO_E_INTERNAL, "a reparse is already running");
		return IPC_DONE;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL || (j->state_dir = strdup(a->cfg->state_dir)) == NULL) {
		free(j);
		api_reply_err(c, req->id, PROTO_E_INTERNAL, "out of memory");
		return IPC_DONE;
	}
	j->work.data = j;
	j->a = a;
	j->c = ipc_client_ref(c);
	j->id = req->id ? cJSON_Duplicate(req->id, 1) : NULL;
	j->max_size = a->cfg->max_report_size;
	j->max_events = a->cfg->max_events_per_report;
	a->reparse_running = 1;
	log_info("api", "reparse started");
	reparse_next(j);
	/* reparse_next() may have finished at once (the store is shutting down) */
	return a->reparse_running ? IPC_PENDING : IPC_DONE;
}
