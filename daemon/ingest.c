/* ingest.c: the one path of a report into the store: hash, archive, parse; commit; publish */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../proto/report_json.h"
#include "archive.h"
#include "ingest.h"
#include "log.h"

int ingest_prepare(const char *state_dir, const void *buf, size_t len, size_t max_size,
		   struct ingest_item *it)
{
	struct report_opts opts = {.max_size = max_size};
	int r;

	archive_sha256_hex(buf, len, it->sha256);
	r = archive_write(state_dir, buf, len, it->sha256, &it->archive);
	if (r < 0) {
		log_err("ingest", "cannot archive '%s': %s", it->path ? it->path : "?",
			strerror(-r));
		it->archive = NULL;
		it->failed_step = "archive";
		return r;
	}
	it->report = NULL;
	r = report_parse(buf, len, &opts, &it->report);
	if (r < 0 || it->report == NULL) {
		free(it->archive);
		it->archive = NULL;
		it->failed_step = "parse";
		return r < 0 ? r : -ENOMEM;
	}
	return 0;
}

int ingest_reread(const char *state_dir, const char *archive, size_t max_size, struct report **out)
{
	struct report_opts opts = {.max_size = max_size};
	void *buf = NULL;
	size_t len = 0;
	int r = archive_read(state_dir, archive, max_size, &buf, &len);

	*out = NULL;
	if (r == 0)
		r = report_parse(buf, len, &opts, out);
	free(buf);
	return r;
}

void ingest_item_release(struct ingest_item *it)
{
	free(it->path);
	free(it->archive);
	report_free(it->report);
	it->path = it->archive = NULL;
	it->report = NULL;
}

int ingest_commit(struct store *s, const struct ingest_source *src, struct ingest_item *v, size_t n)
{
	int r = store_begin(s);

	for (size_t i = 0; r == 0 && i < n; i++) {
		struct store_ingest in = {
			.udid = src->udid,
			.path = v[i].path,
			.size = v[i].size,
			.mtime_ns = v[i].mtime_ns,
			.sha256 = v[i].sha256,
			.archive = v[i].archive,
			.report = v[i].report,
			.device_product = src->product,
			.device_os_version = src->os_version,
			.device_build = src->build,
		};

		r = store_ingest(s, &in, &v[i].res);
	}
	if (r == 0)
		r = store_commit(s);
	if (r < 0)
		store_rollback(s);
	return r;
}

static int add(cJSON *o, const char *key, cJSON *v)
{
	if (v == NULL)
		return -ENOMEM;
	cJSON_AddItemToObject(o, key, v);
	return 0;
}

static cJSON *str_or_null(const char *v)
{
	return v ? cJSON_CreateString(v) : cJSON_CreateNull();
}

/* One EVENT: the parser's event fields plus the report's facts (as the store renders it). */
static cJSON *event_json(const struct ingest_source *src, const struct ingest_item *it,
			 const struct report_event *ev)
{
	const struct report *rep = it->report;
	cJSON *o = report_json_event(ev);
	char t[32];

	if (rep->timestamp_epoch != REPORT_NULL)
		store_format_time(rep->timestamp_epoch, t);
	if (o && !add(o, "report_id", cJSON_CreateNumber((double)it->res.report_id)) &&
	    !add(o, "udid", str_or_null(src->udid)) &&
	    !add(o, "incident", str_or_null(rep->incident)) &&
	    !add(o, "product", str_or_null(rep->product ? rep->product : src->product)) &&
	    !add(o, "os_version",
		 str_or_null(rep->os_version ? rep->os_version : src->os_version)) &&
	    !add(o, "build", str_or_null(rep->build ? rep->build : src->build)) &&
	    !add(o, "timestamp", str_or_null(rep->timestamp)) &&
	    !add(o, "time",
		 rep->timestamp_epoch != REPORT_NULL ? cJSON_CreateString(t) : cJSON_CreateNull()))
		return o;
	cJSON_Delete(o);
	return NULL;
}

cJSON *ingest_events_json(const struct ingest_source *src, const struct ingest_item *it)
{
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; arr && it->report && i < it->report->n_events; i++) {
		cJSON *o = event_json(src, it, &it->report->events[i]);

		if (o == NULL) {
			cJSON_Delete(arr);
			return NULL;
		}
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}
