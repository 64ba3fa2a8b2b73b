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

#define REPARSE_BATCH 64

struct reparse_item {
	int64_t id;
	char *archive;
	struct report *report;
	int err; /* archive read or parse failure */
};

struct reparse_job {
	uv_work_t work;
	struct api_ctx *a;
	struct ipc_client *c; /* referenced */
	cJSON *id;
	char *state_dir;
	size_t max_size;
	int64_t after_id;
	struct reparse_item items[REPARSE_BATCH];
	size_t n;
	int64_t total, ok, skipped, error, events;
};

static void reparse_work_cb(uv_work_t *w)
{
	struct reparse_job *j = w->data;

	for (size_t i = 0; i < j->n; i++) {
		struct reparse_item *it = &j->items[i];

		it->err = ingest_reread(j->state_dir, it->archive, j->max_size, &it->report);
	}
}

static void reparse_items_release(struct reparse_job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		free(j->items[i].archive);
		report_free(j->items[i].report);
	}
	j->n = 0;
}

static void reparse_finish(struct reparse_job *j, int r)
{
	reparse_items_release(j);
	/* also after a failure or a stop: the batches committed so far changed events */
	if (j->total > 0) {
		int r2 = store_limits_rebuild(j->a->store);

		if (r == 0)
			r = r2;
	}
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

static void reparse_after_cb(uv_work_t *w, int status);

/* Queue the next batch, or finish. */
static void reparse_next(struct reparse_job *j)
{
	struct store_archived *v = NULL;
	size_t n = 0;
	int r;

	reparse_items_release(j);
	r = store_archived_list(j->a->store, j->after_id, REPARSE_BATCH, &v, &n);
	if (r < 0 || n == 0) {
		store_archived_free(v, n);
		reparse_finish(j, r);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		j->items[i].id = v[i].id;
		j->items[i].archive = v[i].archive;
		j->items[i].report = NULL;
		j->items[i].err = 0;
		v[i].archive = NULL;
	}
	j->n = n;
	j->after_id = v[n - 1].id;
	store_archived_free(v, n);
	r = uv_queue_work(j->a->loop, &j->work, reparse_work_cb, reparse_after_cb);
	if (r < 0) {
		reparse_finish(j, -ECANCELED);
		return;
	}
	j->a->jobs_running++;
}

static void reparse_after_cb(uv_work_t *w, int status)
{
	struct reparse_job *j = w->data;
	struct store *s = j->a->store;
	int r;

	j->a->jobs_running--;
	if (status < 0) {
		reparse_finish(j, -ECANCELED);
		return;
	}
	r = store_begin(s);
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
		switch (it->report->status) {
		case REPORT_OK:
			j->ok++;
			break;
		case REPORT_SKIPPED:
			j->skipped++;
			break;
		case REPORT_ERROR:
			j->error++;
			break;
		}
	}
	if (r == 0)
		r = store_commit(s);
	if (r < 0) {
		store_rollback(s);
		reparse_finish(j, r);
		return;
	}
	if (j->a->stopping) {
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
	a->reparse_running = 1;
	log_info("api", "reparse started");
	reparse_next(j);
	/* reparse_next() may have finished at once (no archived reports) */
	return a->reparse_running ? IPC_PENDING : IPC_DONE;
}
