/* import.c: the import command: raw report bytes from a client, archived, parsed, stored */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "../proto/report.h"
#include "api_common.h"
#include "config.h"
#include "import.h"
#include "ingest.h"
#include "ipc.h"
#include "log.h"
#include "../proto/request.h"
#include "store.h"
#include "storeq.h"
#include "trim.h"

struct import_job {
	struct storeq_job sjob; /* first: the commit on the store thread */
	uv_work_t work;
	struct api_ctx *a;
	struct ipc_client *c; /* referenced */
	cJSON *id;
	char *name;
	char *state_dir;
	void *buf; /* the raw bytes, freed by the worker once archived and parsed */
	size_t len;
	size_t max_size, max_events;
	struct ingest_item it;
	int prepare_err; /* ingest_prepare() */
	int commit_err;	 /* ingest_commit() on the store thread */
	cJSON *rep;	 /* the REPORT as committed (store thread), or NULL */
	int durable_err; /* store_sync_durable() after the commit */
};

static const struct ingest_source import_source = {0}; /* no phone, no phone facts */
static const char *const import_args[] = {"name", "size", NULL};

static void import_work_cb(uv_work_t *w)
{
	struct import_job *j = w->data;

	j->prepare_err =
		ingest_prepare(j->state_dir, j->buf, j->len, j->max_size, j->max_events, &j->it);
	free(j->buf);
	j->buf = NULL;
	trim_thread_cache(); /* the parse's small chunks: see trim.h */
}

static void import_job_free(struct import_job *j)
{
	ipc_client_unref(j->c);
	cJSON_Delete(j->id);
	free(j->name);
	free(j->state_dir);
	free(j->buf);
	ingest_item_release(&j->it);
	cJSON_Delete(j->rep);
	free(j);
}

/* The reply to an import is sent once its commit is durable (store.h DESIGN). */
static void import_durable_work_cb(uv_work_t *w)
{
	struct import_job *j = w->data;

	j->durable_err = store_sync_durable(j->state_dir);
}

static void import_reply(struct import_job *j)
{
	const struct store_ingest_result *res = &j->it.res;
	cJSON *out;

	if (j->durable_err < 0) {
		/* committed but perhaps not on disk: the client keeps its copy and may retry */
		api_reply_err(j->c, j->id, PROTO_E_INTERNAL, "cannot make the store durable: %s",
			      strerror(-j->durable_err));
		return;
	}
	out = cJSON_CreateObject();
	if (j->rep == NULL || out == NULL) {
		cJSON_Delete(out);
		api_reply_err(j->c, j->id, PROTO_E_INTERNAL, "cannot read back the report");
		return;
	}
	cJSON_AddItemToObject(out, "report", j->rep);
	j->rep = NULL;
	cJSON_AddBoolToObject(out, "duplicate", res->duplicate);
	api_reply_ok(j->c, j->id, out);
	log_info("api", "import '%s': report %lld, %s, %zu events%s", j->name,
		 (long long)res->report_id, report_status_name(j->it.report->status), res->n_events,
		 res->duplicate ? " (duplicate)" : "");
}

static void import_durable_after_cb(uv_work_t *w, int status)
{
	struct import_job *j = w->data;
	struct api_ctx *a = j->a;

	j->a->jobs_running--;
	if (status < 0 && j->durable_err == 0)
		j->durable_err = status == UV_ECANCELED ? -ECANCELED : -EIO;
	import_reply(j);
	ipc_client_resume(j->c);
	import_job_free(j);
	api_jobs_idle_trim(a);
}

/* Store thread: commit, then render the REPORT row for the reply (by value). */
static void import_commit_work_cb(struct store *s, struct storeq_job *job)
{
	struct import_job *j = (struct import_job *)job;

	j->commit_err = ingest_commit(s, &import_source, &j->it, 1);
	if (j->commit_err == 0 && store_report_json(s, j->it.res.report_id, &j->rep) < 0)
		j->rep = NULL;
}

/* Loop: publish, then fsync in a worker and reply: the loop never waits for the disk. */
static void import_commit_done_cb(struct storeq_job *job)
{
	struct import_job *j = (struct import_job *)job;
	struct api_ctx *a = j->a;
	int r;

	j->a->jobs_running--;
	if (j->commit_err < 0) {
		api_reply_err(j->c, j->id, PROTO_E_INTERNAL, "cannot store the report: %s",
			      strerror(-j->commit_err));
		goto done;
	}
	if (!j->it.res.duplicate)
		j->a->report_cb(j->a->report_arg, &import_source, &j->it);
	r = uv_queue_work(j->a->loop, &j->work, import_durable_work_cb, import_durable_after_cb);
	if (r == 0) {
		j->a->jobs_running++;
		return;
	}
	j->durable_err = -EIO;
	log_err("api", "import '%s': cannot queue the store fsync: %s", j->name, uv_strerror(r));
	import_reply(j);
done:
	ipc_client_resume(j->c);
	import_job_free(j);
	api_jobs_idle_trim(a);
}

static void import_after_cb(uv_work_t *w, int status)
{
	struct import_job *j = w->data;
	struct api_ctx *a = j->a;
	int r;

	j->a->jobs_running--;
	if (status < 0) {
		api_reply_err(j->c, j->id, PROTO_E_INTERNAL, "import cancelled: %s",
			      uv_strerror(status));
		goto done;
	}
	if (j->prepare_err < 0) {
		api_reply_err(j->c, j->id, PROTO_E_INTERNAL, "cannot %s the report: %s",
			      j->it.failed_step ? j->it.failed_step : "archive",
			      strerror(-j->prepare_err));
		goto done;
	}
	j->sjob.work_cb = import_commit_work_cb;
	j->sjob.done_cb = import_commit_done_cb;
	r = storeq_submit(j->a->sq, &j->sjob);
	if (r == 0) {
		j->a->jobs_running++;
		return;
	}
	api_reply_err(j->c, j->id, PROTO_E_INTERNAL, "cannot store the report: %s", strerror(-r));
done:
	ipc_client_resume(j->c);
	import_job_free(j);
	api_jobs_idle_trim(a);
}

enum ipc_outcome import_request(struct api_ctx *a, struct ipc_client *c, struct request *req)
{
	struct api_client *ac = api_client_state(c);
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(req->root, "size");
	const char *name = NULL;
	double n;

	if (ac == NULL) {
		api_reply_err(c, req->id, PROTO_E_INTERNAL, "out of memory");
		ipc_client_close_after_flush(c);
		return IPC_DONE;
	}
	if (size == NULL || !cJSON_IsNumber(size)) {
		api_reply_err(c, req->id, PROTO_E_BAD_REQUEST,
			      "argument 'size' must be the byte count that follows: closing");
		ipc_client_close_after_flush(c);
		return IPC_DONE;
	}
	n = size->valuedouble;
	if (n < 1 || n != (double)(size_t)n || n > (double)a->cfg->max_report_size) {
		api_reply_err(c, req->id, PROTO_E_TOO_LARGE,
			      "import size must be 1..%zu bytes (max_report_size): closing",
			      a->cfg->max_report_size);
		ipc_client_close_after_flush(c);
		return IPC_DONE;
	}
	ac->import_bad = 0;
	ac->import_code = PROTO_E_BAD_REQUEST;
	if (request_check_known(req, import_args) < 0) {
		ac->import_bad = 1;
		ac->import_code = PROTO_E_INVALID_ARGUMENT;
		snprintf(ac->import_err, sizeof(ac->import_err), "%s", req->err_msg);
	} else if (request_string(req, "name", &name) < 0 || name == NULL) {
		ac->import_bad = 1;
		snprintf(ac->import_err, sizeof(ac->import_err), "%s",
			 name == NULL && req->err_msg[0] == '\0' ? "argument 'name' is missing"
								 : req->err_msg);
	} else if (strlen(name) > 255 || strchr(name, '\n')) {
		ac->import_bad = 1;
		snprintf(ac->import_err, sizeof(ac->import_err),
			 "argument 'name' must be at most 255 bytes, on one line");
	}
	cJSON_Delete(ac->import_id);
	free(ac->import_name);
	ac->import_id = req->id ? cJSON_Duplicate(req->id, 1) : NULL;
	ac->import_name = strdup(name && !ac->import_bad ? name : "");
	ipc_client_expect_raw(c, (size_t)n);
	return IPC_DONE;
}

enum ipc_outcome import_raw(struct api_ctx *a, struct ipc_client *c, void *buf, size_t len)
{
	struct api_client *ac = api_client_state(c);
	struct import_job *j;
	int r;

	if (ac == NULL || ac->import_bad) {
		if (ac)
			api_reply_err(c, ac->import_id, ac->import_code, "%s", ac->import_err);
		free(buf);
		return IPC_DONE;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL || ac->import_name == NULL ||
	    (j->state_dir = strdup(a->cfg->state_dir)) == NULL) {
		if (j)
			free(j);
		free(buf);
		api_reply_err(c, ac->import_id, PROTO_E_INTERNAL, "out of memory");
		return IPC_DONE;
	}
	j->work.data = j;
	j->a = a;
	j->c = ipc_client_ref(c);
	j->id = ac->import_id;
	ac->import_id = NULL;
	j->name = ac->import_name;
	ac->import_name = NULL;
	j->buf = buf;
	j->len = len;
	j->max_size = a->cfg->max_report_size;
	j->max_events = a->cfg->max_events_per_report;
	j->it.size = (int64_t)len;
	j->it.mtime_ns = REPORT_NULL;
	if (asprintf(&j->it.path, "import:%s", j->name) < 0) {
		j->it.path = NULL;
		api_reply_err(c, j->id, PROTO_E_INTERNAL, "out of memory");
		import_job_free(j);
		return IPC_DONE;
	}
	r = uv_queue_work(a->loop, &j->work, import_work_cb, import_after_cb);
	if (r < 0) {
		api_reply_err(c, j->id, PROTO_E_INTERNAL, "cannot queue the import: %s",
			      uv_strerror(r));
		import_job_free(j);
		return IPC_DONE;
	}
	j->a->jobs_running++;
	return IPC_PENDING;
}
