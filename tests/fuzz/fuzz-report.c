/* fuzz-report.c: libFuzzer target for report_parse() and the JSON encoding of its result */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "report.h"
#include "report_internal.h"
#include "report_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Byte-by-byte reference of the nesting pre-check (which scans 64-byte blocks with SSE2). */
static int64_t depth_reference(const uint8_t *p, size_t n, int max, int *open)
{
	int depth = 0, in_str = 0, esc = 0;

	for (size_t i = 0; i < n; i++) {
		uint8_t c = p[i];

		if (in_str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
		} else if (c == '{' || c == '[') {
			if (++depth > max)
				return (int64_t)i;
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	*open = in_str ? 2 : depth > 0;
	return -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct report_opts opts = {.max_size = 1 << 20, .max_depth = 0};
	struct report *r = NULL;
	int open_a = -1, open_b = -1;
	cJSON *obj;

	if (report_depth_exceeded((const char *)data, size, 8, &open_a) !=
		    depth_reference(data, size, 8, &open_b) ||
	    open_a != open_b)
		abort();
	if (report_parse(data, size, &opts, &r) != 0)
		return 0;
	/* invariants the callers rely on */
	if (r->status == REPORT_ERROR && r->n_events != 0)
		abort();
	if (r->status != REPORT_OK && r->error == NULL)
		abort();
	for (size_t i = 0; i < r->n_events; i++) {
		const struct report_event *ev = &r->events[i];

		if (ev->reason == NULL)
			abort();
		if (ev->footprint_bytes != REPORT_NULL &&
		    ev->footprint_bytes != ev->rpages * ev->page_size)
			abort();
	}
	obj = report_json_result(r, "fuzz");
	if (obj != NULL) {
		char *text = cJSON_PrintUnformatted(obj);

		cJSON_free(text);
		cJSON_Delete(obj);
	}
	report_free(r);
	return 0;
}
