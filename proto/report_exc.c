/* report_exc.c: the EXC_RESOURCE memory crash JSON body (bug_type 309) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "report_internal.h"

int report_exc_from_json(struct report *r, const struct report_header *h,
			 const struct body_fields *b)
{
	const cJSON *type = NULL, *subtype = NULL, *message = NULL;
	const cJSON *train = NULL, *build = NULL;
	struct report_event *ev;
	int rc;

	if ((rc = report_cjson_str(b->model_code, &r->product)) ||
	    (rc = report_cjson_str(b->product, &r->product)) ||
	    (rc = report_cjson_str(b->incident, &r->incident)) ||
	    (rc = report_cjson_str(b->capture_time, &r->timestamp)) ||
	    (rc = report_cjson_str(b->bug_type, &r->bug_type)))
		return rc;
	if (cJSON_IsObject(b->os_version)) {
		for (const cJSON *it = b->os_version->child; it != NULL; it = it->next) {
			if (report_cjson_take(it, "train", &train) ||
			    report_cjson_take(it, "build", &build))
				continue;
		}
		if (cJSON_IsString(train) &&
		    (rc = report_split_os(r, train->valuestring, strlen(train->valuestring))) != 0)
			return rc;
		if ((rc = report_cjson_str(build, &r->build)) != 0)
			return rc;
	}
	if ((rc = report_facts_after_body(r, h)) != 0)
		return rc;
	r->variant = REPORT_VARIANT_EXC_JSON;
	if (cJSON_IsObject(b->exception)) {
		for (const cJSON *it = b->exception->child; it != NULL; it = it->next) {
			if (report_cjson_take(it, "type", &type) ||
			    report_cjson_take(it, "subtype", &subtype) ||
			    report_cjson_take(it, "message", &message))
				continue;
		}
	}
	if (!cJSON_IsString(type) || strncmp(type->valuestring, "EXC_RESOURCE", 12) != 0 ||
	    !cJSON_IsString(subtype) || strcasecmp(subtype->valuestring, "MEMORY") != 0) {
		char what[64] = "unknown";

		if (cJSON_IsString(type)) {
			snprintf(what, sizeof(what), "%s", type->valuestring);
			if (cJSON_IsString(subtype) && strlen(what) < sizeof(what) - 2)
				snprintf(what + strlen(what), sizeof(what) - strlen(what), " %s",
					 subtype->valuestring);
		}
		return report_skip(r, "not a memory report: '%s' crash", what);
	}
	if (cJSON_IsString(message) && strstr(message->valuestring, "Threshold") != NULL &&
	    strstr(message->valuestring, "Diagnostic") != NULL)
		return report_skip(r, "memory diagnostic report, not a limit violation");
	ev = report_event_add(r);
	if (ev == NULL)
		return -ENOMEM;
	if ((rc = report_cjson_str(b->proc_name, &ev->process)) ||
	    (rc = report_dup_if_unset(&ev->process, h->app_name)) ||
	    (rc = report_dup_if_unset(&ev->uuid, h->slice_uuid)))
		return rc;
	if (cJSON_IsObject(b->bundle_info)) {
		const cJSON *id = NULL;

		for (const cJSON *it = b->bundle_info->child; it != NULL; it = it->next)
			if (report_cjson_take(it, "CFBundleIdentifier", &id))
				continue;
		if ((rc = report_cjson_str(id, &ev->bundle_id)) != 0)
			return rc;
	}
	if ((rc = report_dup_if_unset(&ev->bundle_id, h->bundle_id)) != 0)
		return rc;
	if (ev->uuid != NULL) {
		for (char *c = ev->uuid; *c != '\0'; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
	}
	ev->reason = strdup("exc-resource-memory");
	if (ev->reason == NULL)
		return -ENOMEM;
	ev->pid = report_cjson_int(b->pid);
	if (cJSON_IsString(b->proc_role) &&
	    (rc = report_event_add_state(ev, b->proc_role->valuestring,
					 strlen(b->proc_role->valuestring))) != 0)
		return rc;
	report_event_finish(ev, REPORT_NULL);
	if (cJSON_IsString(b->proc_role) &&
	    strcasecmp(b->proc_role->valuestring, "Foreground") == 0)
		ev->role = REPORT_ROLE_FOREGROUND;
	if (cJSON_IsString(message))
		ev->limit_bytes = report_limit_from_message(message->valuestring,
							    strlen(message->valuestring));
	r->status = REPORT_OK;
	return 0;
}
