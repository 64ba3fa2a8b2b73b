/* ingest.c: the one path of a report into the store: hash, archive, parse; commit; publish */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

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

/* What the store records for an item of src. */
static struct store_ingest store_input(const struct ingest_source *src,
				       const struct ingest_item *it)
{
	return (struct store_ingest){
		.udid = src->udid,
		.path = it->path,
		.size = it->size,
		.mtime_ns = it->mtime_ns,
		.sha256 = it->sha256,
		.archive = it->archive,
		.report = it->report,
		.device_product = src->product,
		.device_os_version = src->os_version,
		.device_build = src->build,
	};
}

int ingest_commit(struct store *s, const struct ingest_source *src, struct ingest_item *v, size_t n)
{
	int r = store_begin(s);

	for (size_t i = 0; r == 0 && i < n; i++) {
		struct store_ingest in = store_input(src, &v[i]);

		r = store_ingest(s, &in, &v[i].res);
	}
	if (r == 0)
		r = store_commit(s);
	if (r < 0)
		store_rollback(s);
	return r;
}

cJSON *ingest_events_json(const struct ingest_source *src, const struct ingest_item *it)
{
	struct store_ingest in = store_input(src, it);
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; arr && it->report && i < it->report->n_events; i++) {
		cJSON *o = store_event_json(&in, &it->report->events[i], it->res.report_id);

		if (o == NULL) {
			cJSON_Delete(arr);
			return NULL;
		}
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}
