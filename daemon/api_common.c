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
