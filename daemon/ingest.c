/* ingest.c: the one path of a report into the store: hash, archive, parse; commit; publish */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "archive.h"
#include "ingest.h"
#include "log.h"

static atomic_int render_events = 1;

void ingest_render_events(int on)
{
	atomic_store_explicit(&render_events, on != 0, memory_order_relaxed);
}

/* More than max events: keep the first max and say so in the report's error (status kept). */
static int cap_events(struct report *r, size_t max)
{
	size_t n = r->n_events;
	char msg[160];

	if (max == 0 || n <= max)
		return 0;
	report_keep_events(r, max);
	snprintf(msg, sizeof(msg), "events cut: %zu of %zu kept (max_events_per_report)", max, n);
	free(r->error);
	r->error = strdup(msg);
	return r->error ? 0 : -ENOMEM;
}

static int prepare(const char *state_dir, const void *buf, size_t len, size_t max_size,
		   size_t max_events, int batch, struct ingest_item *it)
{
	struct report_opts opts = {.max_size = max_size};
	int r;

	archive_sha256_hex(buf, len, it->sha256);
	r = batch ? archive_put(state_dir, buf, len, it->sha256, &it->archive)
		  : archive_write(state_dir, buf, len, it->sha256, &it->archive);
	if (r < 0) {
		log_err("ingest", "cannot archive '%s': %s", it->path ? it->path : "?",
			strerror(-r));
		it->archive = NULL;
		it->failed_step = "archive";
		return r;
	}
	it->report = NULL;
	r = report_parse(buf, len, &opts, &it->report);
	if (r == 0 && it->report)
		r = cap_events(it->report, max_events);
	if (r < 0 || it->report == NULL) {
		report_free(it->report);
		it->report = NULL;
		free(it->archive);
		it->archive = NULL;
		it->failed_step = "parse";
		return r < 0 ? r : -ENOMEM;
	}
	return 0;
}

int ingest_prepare(const char *state_dir, const void *buf, size_t len, size_t max_size,
		   size_t max_events, struct ingest_item *it)
{
	return prepare(state_dir, buf, len, max_size, max_events, 0, it);
}

int ingest_prepare_batch(const char *state_dir, const void *buf, size_t len, size_t max_size,
			 size_t max_events, struct ingest_item *it)
{
	return prepare(state_dir, buf, len, max_size, max_events, 1, it);
}

int ingest_reread(const char *state_dir, const char *archive, size_t max_size, size_t max_events,
		  struct report **out)
{
	struct report_opts opts = {.max_size = max_size};
	void *buf = NULL;
	size_t len = 0;
	int r = archive_read(state_dir, archive, max_size, &buf, &len);

	*out = NULL;
	if (r == 0)
		r = report_parse(buf, len, &opts, out);
	if (r == 0 && *out)
		r = cap_events(*out, max_events);
	free(buf);
	return r;
}

void ingest_item_release(struct ingest_item *it)
{
	free(it->path);
	free(it->archive);
	report_free(it->report);
	cJSON_Delete(it->events);
	it->path = it->archive = NULL;
	it->report = NULL;
	it->events = NULL;
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

static int commit_once(struct store *s, const struct ingest_source *src, struct ingest_item *v,
		       size_t n)
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

int ingest_commit(struct store *s, const struct ingest_source *src, struct ingest_item *v, size_t n)
{
	int r = commit_once(s, src, v, n);

	/* once more after a failure (e.g. an outside lock held past the busy timeout): the
	 * first try was rolled back whole */
	if (r < 0 && r != -ENOMEM) {
		log_warn("ingest", "commit failed (%s): trying once more", strerror(-r));
		r = commit_once(s, src, v, n);
	}
	if (r < 0)
		return r;
	if (!atomic_load_explicit(&render_events, memory_order_relaxed))
		return 0; /* nobody subscribes to events: the loop renders them if one does now */
	for (size_t i = 0; i < n; i++)
		if (!v[i].res.duplicate && v[i].events == NULL)
			v[i].events = ingest_events_json(src, &v[i]);
	return 0;
}

cJSON *ingest_events_json(const struct ingest_source *src, const struct ingest_item *it)
{
	struct store_ingest in = store_input(src, it);
	cJSON *arr = cJSON_CreateArray();

	for (size_t i = 0; arr && it->report && i < it->report->n_events; i++) {
		cJSON *o = store_event_json(&in, &it->report->events[i], &it->res);

		if (o == NULL) {
			cJSON_Delete(arr);
			return NULL;
		}
		cJSON_AddItemToArray(arr, o);
	}
	return arr;
}
