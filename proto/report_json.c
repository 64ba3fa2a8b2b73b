/* report_json.c: encode parsed reports and kill events as cJSON objects */
#include <stdint.h>
#include <stdio.h>

#include "report_json.h"

static int add_str(cJSON *o, const char *key, const char *v)
{
	cJSON *it = v != NULL ? cJSON_CreateString(v) : cJSON_CreateNull();

	if (it == NULL)
		return -1;
	cJSON_AddItemToObject(o, key, it);
	return 0;
}

static int add_int(cJSON *o, const char *key, int64_t v)
{
	cJSON *it = v != REPORT_NULL ? cJSON_CreateNumber((double)v) : cJSON_CreateNull();

	if (it == NULL)
		return -1;
	cJSON_AddItemToObject(o, key, it);
	return 0;
}

static cJSON *report_object(const struct report *r)
{
	cJSON *o = cJSON_CreateObject();
	const char *variant = NULL;

	if (o == NULL)
		return NULL;
	if (r != NULL && r->variant != REPORT_VARIANT_UNKNOWN)
		variant = report_variant_name(r->variant);
	if (add_str(o, "incident", r ? r->incident : NULL) ||
	    add_str(o, "bug_type", r ? r->bug_type : NULL) ||
	    add_str(o, "product", r ? r->product : NULL) ||
	    add_str(o, "os_version", r ? r->os_version : NULL) ||
	    add_str(o, "build", r ? r->build : NULL) ||
	    add_str(o, "timestamp", r ? r->timestamp : NULL) ||
	    add_int(o, "page_size", r ? r->page_size : REPORT_NULL) ||
	    add_str(o, "largest_process", r ? r->largest_process : NULL) ||
	    add_str(o, "variant", variant)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

cJSON *report_json_report(const struct report *r)
{
	return report_object(r);
}

cJSON *report_json_event(const struct report_event *ev)
{
	cJSON *o = cJSON_CreateObject(), *states;

	if (o == NULL)
		return NULL;
	if (add_str(o, "process", ev->process) || add_int(o, "pid", ev->pid) ||
	    add_str(o, "uuid", ev->uuid) || add_str(o, "reason", ev->reason) ||
	    add_str(o, "role", report_role_name(ev->role)))
		goto fail;
	states = cJSON_AddArrayToObject(o, "states");
	if (states == NULL)
		goto fail;
	for (size_t i = 0; i < ev->n_states; i++) {
		cJSON *s = cJSON_CreateString(ev->states[i]);

		if (s == NULL)
			goto fail;
		cJSON_AddItemToArray(states, s);
	}
	if (add_int(o, "priority", ev->priority) || add_int(o, "rpages", ev->rpages) ||
	    add_int(o, "page_size", ev->page_size) ||
	    add_int(o, "footprint_bytes", ev->footprint_bytes) ||
	    add_int(o, "limit_bytes", ev->limit_bytes) ||
	    add_int(o, "lifetime_max_pages", ev->lifetime_max_pages))
		goto fail;
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

static cJSON *result(const struct report *r, const char *file, const char *status,
		     const char *error)
{
	cJSON *o = cJSON_CreateObject(), *rep, *events;

	if (o == NULL)
		return NULL;
	if (add_str(o, "file", file) || add_str(o, "status", status) || add_str(o, "error", error))
		goto fail;
	rep = report_object(r);
	if (rep == NULL)
		goto fail;
	cJSON_AddItemToObject(o, "report", rep);
	events = cJSON_AddArrayToObject(o, "events");
	if (events == NULL)
		goto fail;
	for (size_t i = 0; r != NULL && i < r->n_events; i++) {
		cJSON *ev = report_json_event(&r->events[i]);

		if (ev == NULL)
			goto fail;
		cJSON_AddItemToArray(events, ev);
	}
	return o;
fail:
	cJSON_Delete(o);
	return NULL;
}

cJSON *report_json_result(const struct report *r, const char *file)
{
	char msg[640];
	const char *error = r->error;

	if (error != NULL && r->error_offset != REPORT_NULL) {
		snprintf(msg, sizeof(msg), "%s (at byte %lld)", error, (long long)r->error_offset);
		error = msg;
	}
	return result(r, file, report_status_name(r->status), error);
}

cJSON *report_json_failure(const char *file, const char *error)
{
	return result(NULL, file, "error", error);
}
