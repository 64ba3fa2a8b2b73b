/* report.c: report_parse(): split the .ips header from the body, hand the body to its layout */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "arena.h"
#include "report_internal.h"

/* ---- names ---- */

const char *report_status_name(enum report_status s)
{
	switch (s) {
	case REPORT_OK:
		return "ok";
	case REPORT_SKIPPED:
		return "skipped";
	case REPORT_ERROR:
		return "error";
	}
	return "error";
}

const char *report_variant_name(enum report_variant v)
{
	static const char *const names[] = {
		[REPORT_VARIANT_UNKNOWN] = "unknown",
		[REPORT_VARIANT_T1] = "T1",
		[REPORT_VARIANT_T2] = "T2",
		[REPORT_VARIANT_T3] = "T3",
		[REPORT_VARIANT_T4] = "T4",
		[REPORT_VARIANT_J1] = "J1",
		[REPORT_VARIANT_J2] = "J2",
		[REPORT_VARIANT_J3] = "J3",
		[REPORT_VARIANT_J4] = "J4",
		[REPORT_VARIANT_EXC_TEXT] = "exc-text",
		[REPORT_VARIANT_EXC_JSON] = "exc-json",
	};
	if ((unsigned)v >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[v];
}

const char *report_role_name(enum report_role r)
{
	switch (r) {
	case REPORT_ROLE_FOREGROUND:
		return "foreground";
	case REPORT_ROLE_DAEMON:
		return "daemon";
	case REPORT_ROLE_BACKGROUND:
		return "background";
	}
	return "background";
}

int report_role_from_name(const char *name, enum report_role *out)
{
	static const enum report_role all[] = {REPORT_ROLE_FOREGROUND, REPORT_ROLE_DAEMON,
					       REPORT_ROLE_BACKGROUND};

	if (name == NULL || out == NULL)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(name, report_role_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- the result object ---- */

/* A parse tree: from the thread's arena, dropped whole at once when it may be (arena.h) */
static void tree_free(cJSON *t)
{
	if (t != NULL && !arena_thread_drop())
		cJSON_Delete(t);
}

static struct report *report_new(void)
{
	struct report *r = calloc(1, sizeof(*r));
	struct report_memory_status *m;

	if (r == NULL)
		return NULL;
	r->status = REPORT_OK;
	r->error_offset = REPORT_NULL;
	r->timestamp_epoch = REPORT_NULL;
	r->page_size = REPORT_NULL;
	m = &r->memory;
	m->free = m->active = m->inactive = m->speculative = m->throttled = REPORT_NULL;
	m->wired = m->purgeable = m->file_backed = m->anonymous = REPORT_NULL;
	m->compressor_size = m->uncompressed = m->compressions = m->decompressions = REPORT_NULL;
	m->zone_map_cap = m->zone_map_size = m->largest_zone_size = REPORT_NULL;
	return r;
}

void report_free(struct report *r)
{
	if (r == NULL)
		return;
	report_drop_events(r);
	free(r->error);
	free(r->bug_type);
	free(r->incident);
	free(r->timestamp);
	free(r->product);
	free(r->os_name);
	free(r->os_version);
	free(r->build);
	free(r->kernel);
	free(r->largest_process);
	free(r->memory.largest_zone);
	free(r);
}

/* ---- the .ips header line ---- */

static void header_release(struct report_header *h)
{
	free(h->bug_type);
	free(h->timestamp);
	free(h->os_version);
	free(h->incident);
	free(h->app_name);
	free(h->slice_uuid);
	free(h->bundle_id);
}

static int header_from_json(struct report_header *h, const cJSON *obj)
{
	const cJSON *bug = NULL, *ts = NULL, *os = NULL, *inc = NULL, *app = NULL, *name = NULL;
	const cJSON *uuid = NULL, *bundle = NULL;
	int rc;

	for (const cJSON *it = obj->child; it != NULL; it = it->next) {
		if (report_cjson_take(it, "bug_type", &bug) ||
		    report_cjson_take(it, "timestamp", &ts) ||
		    report_cjson_take(it, "os_version", &os) ||
		    report_cjson_take(it, "incident_id", &inc) ||
		    report_cjson_take(it, "app_name", &app) ||
		    report_cjson_take(it, "name", &name) ||
		    report_cjson_take(it, "slice_uuid", &uuid) ||
		    report_cjson_take(it, "bundleID", &bundle))
			continue;
	}
	if (bug != NULL && cJSON_IsNumber(bug) && report_cjson_int(bug) != REPORT_NULL) {
		char num[32];

		snprintf(num, sizeof(num), "%lld", (long long)report_cjson_int(bug));
		h->bug_type = report_strdup_clean(num, strlen(num));
		if (h->bug_type == NULL)
			return -ENOMEM;
	}
	if ((rc = report_cjson_str(bug, &h->bug_type)) ||
	    (rc = report_cjson_str(ts, &h->timestamp)) ||
	    (rc = report_cjson_str(os, &h->os_version)) ||
	    (rc = report_cjson_str(inc, &h->incident)) ||
	    (rc = report_cjson_str(app, &h->app_name)) ||
	    (rc = report_cjson_str(name, &h->app_name)) ||
	    (rc = report_cjson_str(uuid, &h->slice_uuid)) ||
	    (rc = report_cjson_str(bundle, &h->bundle_id)))
		return rc;
	return 0;
}

/* 298 JetsamEvent, 198 LowMemory (iOS 7), 309 crash (JSON), 109 crash (text, iOS 10-14) */
static int bug_type_may_be_memory(const char *b)
{
	return strcmp(b, "298") == 0 || strcmp(b, "198") == 0 || strcmp(b, "309") == 0 ||
	       strcmp(b, "109") == 0;
}

/* Facts the header gives first (the body only fills what it lacks). */
static int facts_from_header(struct report *r, const struct report_header *h)
{
	int rc;

	if ((rc = report_dup_if_unset(&r->bug_type, h->bug_type)) ||
	    (rc = report_dup_if_unset(&r->incident, h->incident)) ||
	    (rc = report_dup_if_unset(&r->timestamp, h->timestamp)))
		return rc;
	return 0;
}

static int body_from_json(struct report *r, const struct report_header *h, const cJSON *root)
{
	struct body_fields b = {0};

	for (const cJSON *it = root->child; it != NULL; it = it->next) {
		if (report_cjson_take(it, "processes", &b.processes) ||
		    report_cjson_take(it, "memoryStatus", &b.memory) ||
		    report_cjson_take(it, "exception", &b.exception) ||
		    report_cjson_take(it, "product", &b.product) ||
		    report_cjson_take(it, "modelCode", &b.model_code) ||
		    report_cjson_take(it, "incident", &b.incident) ||
		    report_cjson_take(it, "date", &b.date) ||
		    report_cjson_take(it, "captureTime", &b.capture_time) ||
		    report_cjson_take(it, "build", &b.build) ||
		    report_cjson_take(it, "osVersion", &b.os_version) ||
		    report_cjson_take(it, "kernel", &b.kernel) ||
		    report_cjson_take(it, "largestProcess", &b.largest) ||
		    report_cjson_take(it, "bug_type", &b.bug_type) ||
		    report_cjson_take(it, "roots_installed", &b.roots) ||
		    report_cjson_take(it, "codeSigningMonitor", &b.csm) ||
		    report_cjson_take(it, "pageSize", &b.page_size) ||
		    report_cjson_take(it, "procName", &b.proc_name) ||
		    report_cjson_take(it, "pid", &b.pid) ||
		    report_cjson_take(it, "procRole", &b.proc_role) ||
		    report_cjson_take(it, "bundleInfo", &b.bundle_info))
			continue;
	}
	if (b.exception != NULL)
		return report_exc_from_json(r, h, &b);
	if (b.processes != NULL || b.memory != NULL || b.largest != NULL)
		return report_jetsam_from_json(r, h, root, &b);
	if (h->bug_type != NULL && strcmp(h->bug_type, "298") == 0)
		return report_fail(r, REPORT_NULL, "jetsam report has no 'processes' array");
	return report_skip(r, "not a memory report: json body without processes or exception");
}

/* ---- top level ---- */

/* The first line is a compact object followed by more text: the .ips header. A line cut at
 * its start (pastebin copies) is read from its first complete "key". */
static int header_from_line(struct report_header *h, const char *p, size_t n, int cut,
			    int max_depth, cJSON **whole)
{
	const char *pe = NULL;
	cJSON *obj = NULL;
	char *copy = NULL;
	int open;

	*whole = NULL;
	if (report_depth_exceeded(p, n, max_depth, &open) >= 0)
		return 0;
	if (cut) {
		const char *comma = NULL;

		for (size_t i = 0; i + 1 < n; i++) {
			if (p[i] == ',' && p[i + 1] == '"') {
				comma = p + i;
				break;
			}
		}
		if (comma == NULL)
			return 0;
		n -= (size_t)(comma - p);
		copy = malloc(n);
		if (copy == NULL)
			return -ENOMEM;
		memcpy(copy, comma, n);
		copy[0] = '{';
		p = copy;
	}
	obj = cJSON_ParseWithLengthOpts(p, n, &pe, 0);
	if (obj != NULL && cJSON_IsObject(obj) && report_skip_ws(pe, p + n) == p + n) {
		int rc = header_from_json(h, obj);

		if (rc != 0) {
			tree_free(obj);
			free(copy);
			return rc;
		}
		if (!cut) {
			*whole = obj;
			obj = NULL;
		}
	}
	tree_free(obj);
	free(copy);
	return 0;
}

static int body_is_memory_less_header(const cJSON *obj)
{
	/* a one-line object that is a header, not a compact body */
	return cJSON_GetObjectItemCaseSensitive(obj, "bug_type") != NULL &&
	       cJSON_GetObjectItemCaseSensitive(obj, "processes") == NULL &&
	       cJSON_GetObjectItemCaseSensitive(obj, "memoryStatus") == NULL &&
	       cJSON_GetObjectItemCaseSensitive(obj, "exception") == NULL;
}

static int parse_json_body(struct report *r, const struct report_header *h, const char *s,
			   const char *body, const char *end, int max_depth)
{
	const char *pe = NULL;
	int open = 0;
	int64_t deep = report_depth_exceeded(body, (size_t)(end - body), max_depth, &open);
	cJSON *root;
	int rc;

	if (deep >= 0)
		return report_fail(r, (body - s) + deep, "json nesting deeper than %d levels",
				   max_depth);
	root = cJSON_ParseWithLengthOpts(body, (size_t)(end - body), &pe, 0);
	if (root == NULL) {
		int64_t off = pe != NULL ? pe - s : body - s;

		/* cut short: the text ends inside a string, or still nested and nothing but the
		 * failing token follows the point where cJSON stopped */
		if (open == 2 || (open == 1 && (pe == NULL || report_skip_ws(pe + 1, end) == end)))
			return report_fail(r, off, "report body ends before its json is complete");
		return report_fail(r, off, "invalid json in report body");
	}
	if (report_skip_ws(pe, end) != end) {
		tree_free(root);
		return report_fail(r, pe - s, "unexpected data after the report body");
	}
	rc = body_from_json(r, h, root);
	tree_free(root);
	return rc;
}

static int parse_any(struct report *r, const char *s, size_t len, int max_depth)
{
	const char *end = s + len, *p = s, *line_end, *body;
	struct report_header h = {0};
	cJSON *whole = NULL;
	int rc = 0;

	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	p = report_skip_ws(p, end);
	if (p == end)
		return report_fail(r, (int64_t)len, "empty report");
	line_end = memchr(p, '\n', (size_t)(end - p));
	if (line_end == NULL)
		line_end = end;
	body = p;
	if (*p == '{') {
		rc = header_from_line(&h, p, (size_t)(line_end - p), 0, max_depth, &whole);
		if (rc != 0)
			goto out;
		if (whole != NULL) {
			body = report_skip_ws(line_end, end);
			if (body == end && !body_is_memory_less_header(whole)) {
				/* a compact one-line body, no header */
				header_release(&h);
				memset(&h, 0, sizeof(h));
			} else {
				tree_free(whole);
				whole = NULL;
			}
		}
	} else {
		const char *t = line_end, *next = report_skip_ws(line_end, end);

		while (t > p && report_is_space(t[-1]))
			t--;
		if (t > p && t[-1] == '}' && next < end && *next == '{' &&
		    memchr(p, ':', (size_t)(t - p)) != NULL) {
			rc = header_from_line(&h, p, (size_t)(t - p), 1, max_depth, &whole);
			if (rc != 0)
				goto out;
			body = next;
		}
	}
	if ((rc = facts_from_header(r, &h)) != 0)
		goto out;
	if (whole != NULL) {
		rc = body_from_json(r, &h, whole);
		goto out;
	}
	if (h.bug_type != NULL && !bug_type_may_be_memory(h.bug_type)) {
		if ((rc = report_facts_after_body(r, &h)) == 0)
			rc = report_skip(r, "not a memory report: bug_type '%s'", h.bug_type);
		goto out;
	}
	body = report_skip_ws(body, end);
	if (body == end) {
		if ((rc = report_facts_after_body(r, &h)) == 0)
			rc = report_fail(r, (int64_t)len, "report has a header but no body");
		goto out;
	}
	if (*body == '{') {
		rc = parse_json_body(r, &h, s, body, end, max_depth);
	} else if (*body == '"' || *body == '[') {
		if ((rc = report_facts_after_body(r, &h)) == 0)
			rc = report_fail(r, body - s, "report body is not a json object");
	} else {
		rc = report_text_parse(r, &h, body, (size_t)(end - body), (size_t)(body - s));
		if (rc == 0)
			rc = report_facts_after_body(r, &h);
	}
	if (rc == 0 && r->status == REPORT_ERROR)
		rc = report_facts_after_body(r, &h);
out:
	tree_free(whole);
	header_release(&h);
	return rc;
}

int report_parse(const void *buf, size_t len, const struct report_opts *opts, struct report **out)
{
	size_t max_size = REPORT_DEFAULT_MAX_SIZE;
	int max_depth = REPORT_DEFAULT_MAX_DEPTH;
	struct report *r;
	int rc;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (buf == NULL && len != 0)
		return -EINVAL;
	if (opts != NULL && opts->max_size != 0)
		max_size = opts->max_size;
	if (opts != NULL && opts->max_depth > 0)
		max_depth = opts->max_depth;
	r = report_new();
	if (r == NULL)
		return -ENOMEM;
	if (len > max_size)
		rc = report_fail(r, (int64_t)max_size, "report too large: %zu bytes, limit %zu",
				 len, max_size);
	else if (len == 0)
		rc = report_fail(r, 0, "empty report");
	else {
		arena_thread_begin(); /* cJSON trees from the thread's arena (report_use_arena) */
		rc = parse_any(r, buf, len, max_depth);
		arena_thread_end();
	}
	if (rc != 0) {
		report_free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void report_use_arena(void)
{
	cJSON_Hooks hooks = {.malloc_fn = arena_thread_malloc, .free_fn = arena_thread_free};

	cJSON_InitHooks(&hooks);
}
