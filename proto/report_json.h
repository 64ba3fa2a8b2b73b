/* report_json.h: the JSON objects of parsed reports (jetsamctl parse --json, the daemon) */
#ifndef JETSAMD_PROTO_REPORT_JSON_H
#define JETSAMD_PROTO_REPORT_JSON_H

#include <cjson/cJSON.h>

#include "report.h"

/*
 * The schema is documented in REPORT-SCHEMA.md. Every key is always present; a value the
 * report lacks is null. All functions return a new cJSON tree owned by the caller
 * (cJSON_Delete), or NULL when out of memory.
 */

/* {"incident","bug_type","product","os_version","build","timestamp","page_size",
 *  "largest_process","variant"} */
cJSON *report_json_report(const struct report *r);

/* {"process","pid","uuid","reason","role","states","priority","rpages","page_size",
 *  "footprint_bytes","limit_bytes","lifetime_max_pages"} */
cJSON *report_json_event(const struct report_event *ev);

/* {"file","status","error","report","events"}: one line of `jetsamctl parse --json`.
 * file may be NULL (null). */
cJSON *report_json_result(const struct report *r, const char *file);

/* The same shape for a file that could not be parsed at all (unreadable): status "error",
 * report with every value null, no events. */
cJSON *report_json_failure(const char *file, const char *error);

#endif
