/* api_common.c: what the command files share: per-client state and the reply envelopes */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../proto/request.h"
#include "api_common.h"
#include "ipc.h"
#include "trim.h"

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

/* {"id", "ok": true, "result"} (result consumed); NULL when out of memory. Any thread. */
static cJSON *envelope_ok(const cJSON *id, cJSON *result)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || result == NULL) {
		cJSON_Delete(o);
		cJSON_Delete(result);
		return NULL;
	}
	add_id(o, id);
	cJSON_AddBoolToObject(o, "ok", 1);
	cJSON_AddItemToObject(o, "result", result);
	return o;
}

void api_reply_ok(struct ipc_client *c, const cJSON *id, cJSON *result)
{
	cJSON *o = envelope_ok(id, result);

	if (o != NULL)
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
		trim_heap_soon(a->loop);
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
	free(q->text);
	free(q);
}

/*
 * Store thread: run the query, then build and encode the whole reply line here too. An
 * events reply of 100 000 rows is a tree of tens of MiB and a line of tens of MB: printing,
 * checking and freeing it took the loop 10-20 ms for 20 000 rows (chaos-clients: a hundred
 * such requests at once held a new client's status 10-24 ms). The loop queues the bytes.
 */
static void query_work_cb(struct store *s, struct storeq_job *job)
{
	struct api_query *q = (struct api_query *)job;
	cJSON *o;

	q->r = q->run(s, q);
	if (q->r >= 0 && q->err_code == NULL && q->build != NULL) {
		o = envelope_ok(q->id, q->build(q));
		q->text = o ? ipc_encode(o, &q->text_len) : NULL;
		cJSON_Delete(o);
		if (q->text == NULL)
			q->r = -ENOMEM;
	}
	cJSON_Delete(q->result); /* what build did not take */
	q->result = NULL;
}

static int query_start(struct api_query *q);

static void query_done_cb(struct storeq_job *job)
{
	struct api_query *q = (struct api_query *)job;
	struct api_ctx *a = q->a;

	if (q->r < 0) {
		api_reply_store_err(q->c, q->id, q->r);
	} else if (q->err_code) {
		api_reply_err(q->c, q->id, q->err_code, "%s", q->err_msg);
	} else if (q->text) {
		ipc_client_send_line(q->c, q->text, q->text_len, q->id);
		q->text = NULL;
	} else if (q->reply) {
		q->reply(q);
	}
	ipc_client_resume(q->c);
	ipc_client_unref(q->c);
	cJSON_Delete(q->root);
	query_free(q);
	a->queries_running--;
	/* the next waiting query takes the slot */
	while (a->queries_head && a->queries_running < API_QUERIES_MAX) {
		struct api_query *w = a->queries_head;

		a->queries_head = w->next;
		if (a->queries_head == NULL)
			a->queries_tail = NULL;
		if (query_start(w) < 0) {
			api_reply_err(w->c, w->id, PROTO_E_INTERNAL, "the store is shutting down");
			ipc_client_resume(w->c);
			ipc_client_unref(w->c);
			cJSON_Delete(w->root);
			query_free(w);
		}
	}
}

/* Hand q to the store thread, taking a slot. Returns 0 or -ESHUTDOWN. */
static int query_start(struct api_query *q)
{
	int r;

	q->job.work_cb = query_work_cb;
	q->job.done_cb = query_done_cb;
	r = storeq_submit(q->a->sq, &q->job);
	if (r == 0)
		q->a->queries_running++;
	return r;
}

enum ipc_outcome api_query_submit(struct api_query *q, struct request *req)
{
	struct api_ctx *a = q->a;

	q->c = ipc_client_ref(q->c);
	/* the request's JSON now belongs to the query */
	req->root = NULL;
	if (a->queries_running >= API_QUERIES_MAX) {
		q->next = NULL;
		if (a->queries_tail)
			a->queries_tail->next = q;
		else
			a->queries_head = q;
		a->queries_tail = q;
		return IPC_PENDING;
	}
	if (query_start(q) == 0)
		return IPC_PENDING;
	req->root = q->root; /* request_release() frees it */
	api_reply_err(q->c, q->id, PROTO_E_INTERNAL, "the store is shutting down");
	ipc_client_unref(q->c);
	query_free(q);
	return IPC_DONE;
}
