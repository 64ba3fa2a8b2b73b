/* api_common.c: what the command files share: per-client state and the reply envelopes */
#include <errno.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "api_common.h"
#include "ipc.h"
#include "../proto/request.h"

struct api_client *api_client_state(struct ipc_client *c)
{
	void **slot = ipc_client_slot(c);

	if (*slot == NULL)
		*slot = calloc(1, sizeof(struct api_client));
	return *slot;
}

/* ---- replies ---- */

static void add_id(cJSON *o, const cJSON *id)
{
	if (id != NULL)
		cJSON_AddItemToObject(o, "id", cJSON_Duplicate(id, 1));
}

void api_reply_ok(struct ipc_client *c, const cJSON *id, cJSON *result)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || result == NULL) {
		cJSON_Delete(o);
		cJSON_Delete(result);
		return;
	}
	add_id(o, id);
	cJSON_AddBoolToObject(o, "ok", 1);
	cJSON_AddItemToObject(o, "result", result);
	ipc_client_send(c, o);
	cJSON_Delete(o);
}

void api_reply_err(struct ipc_client *c, const cJSON *id, const char *code, const char *fmt, ...)
{
	cJSON *o = cJSON_CreateObject(), *e = cJSON_CreateObject();
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (o && e) {
		add_id(o, id);
		cJSON_AddBoolToObject(o, "ok", 0);
		cJSON_AddStringToObject(e, "code", code);
		cJSON_AddStringToObject(e, "message", msg);
		cJSON_AddItemToObject(o, "error", e);
		e = NULL;
		ipc_client_send(c, o);
	}
	cJSON_Delete(e);
	cJSON_Delete(o);
}

void api_reply_store_err(struct ipc_client *c, const cJSON *id, int r)
{
	if (r == -ENOMEM)
		api_reply_err(c, id, PROTO_E_INTERNAL, "out of memory");
	else
		api_reply_err(c, id, PROTO_E_INTERNAL, "store query failed: %s", strerror(-r));
}

void api_jobs_idle_trim(const struct api_ctx *a)
{
	/* parses and commits of big reports leave freed heap in the malloc arenas */
	if (a->jobs_running == 0)
		malloc_trim(0);
}

/* ---- store queries ---- */

struct api_query *api_query_new(struct api_ctx *a, struct ipc_client *c, struct request *req)
{
	struct api_query *q = calloc(1, sizeof(*q));

	if (q == NULL)
		return NULL;
	q->a = a;
	q->c = c;
	q->root = req->root;
	q->id = req->id;
	return q;
}

static void query_free(struct api_query *q)
{
	cJSON_Delete(q->result);
	free(q);
}

static void query_work_cb(struct store *s, struct storeq_job *job)
{
	struct api_query *q = (struct api_query *)job;

	q->r = q->run(s, q);
}

static void query_done_cb(struct storeq_job *job)
{
	struct api_query *q = (struct api_query *)job;

	if (q->r < 0)
		api_reply_store_err(q->c, q->id, q->r);
	else if (q->err_code)
		api_reply_err(q->c, q->id, q->err_code, "%s", q->err_msg);
	else
		q->reply(q);
	ipc_client_resume(q->c);
	ipc_client_unref(q->c);
	cJSON_Delete(q->root);
	query_free(q);
}

enum ipc_outcome api_query_submit(struct api_query *q, struct request *req)
{
	int r;

	q->job.work_cb = query_work_cb;
	q->job.done_cb = query_done_cb;
	q->c = ipc_client_ref(q->c);
	/* the request's JSON now belongs to the query */
	req->root = NULL;
	r = storeq_submit(q->a->sq, &q->job);
	if (r == 0)
		return IPC_PENDING;
	req->root = q->root; /* request_release() frees it */
	api_reply_err(q->c, q->id, PROTO_E_INTERNAL, "the store is shutting down");
	ipc_client_unref(q->c);
	query_free(q);
	return IPC_DONE;
}
