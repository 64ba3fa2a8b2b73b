/* test-report-corpus.c: every real report of tests/data/corpus against hand-written expectations */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "report.h"
#include "report_json.h"

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else if (buf != NULL) {
			buf[n] = '\0';
			*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

static const char *cur_file;

static void expect_str(const cJSON *exp, const char *key, const char *got)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(exp, key);

	if (e == NULL)
		return;
	check_count++;
	if (cJSON_IsNull(e)
		    ? got != NULL
		    : !cJSON_IsString(e) || got == NULL || strcmp(e->valuestring, got) != 0) {
		check_failures++;
		fprintf(stderr, "%s: %s: want %s, got \"%s\"\n", cur_file, key,
			cJSON_IsString(e) ? e->valuestring : "null", got ? got : "(null)");
	}
}

static void expect_int(const cJSON *exp, const char *key, int64_t got)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(exp, key);
	int64_t want;

	if (e == NULL)
		return;
	want = cJSON_IsNull(e) ? REPORT_NULL : (int64_t)e->valuedouble;
	check_count++;
	if ((!cJSON_IsNull(e) && !cJSON_IsNumber(e)) || want != got) {
		check_failures++;
		fprintf(stderr, "%s: %s: want %lld, got %lld\n", cur_file, key, (long long)want,
			(long long)got);
	}
}

static void expect_bool(const cJSON *exp, const char *key, int got)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(exp, key);

	if (e == NULL)
		return;
	check_count++;
	if (cJSON_IsTrue(e) != (got != 0)) {
		check_failures++;
		fprintf(stderr, "%s: %s: want %s, got %d\n", cur_file, key,
			cJSON_IsTrue(e) ? "true" : "false", got);
	}
}

static void expect_states(const cJSON *exp, const struct report_event *ev)
{
	const cJSON *e = cJSON_GetObjectItemCaseSensitive(exp, "states");
	size_t i = 0;
	const cJSON *s;

	if (e == NULL)
		return;
	check_count++;
	cJSON_ArrayForEach(s, e)
	{
		if (i >= ev->n_states || !cJSON_IsString(s) ||
		    strcmp(s->valuestring, ev->states[i]) != 0)
			break;
		i++;
	}
	if (i != (size_t)cJSON_GetArraySize(e) || i != ev->n_states) {
		check_failures++;
		fprintf(stderr, "%s: event %s: states differ\n", cur_file,
			ev->process ? ev->process : "?");
	}
}

static void check_file(const char *path, const cJSON *exp)
{
	const cJSON *events, *mem, *contains, *near, *e;
	struct report *r = NULL;
	size_t len = 0, i = 0;
	char *buf = slurp(path, &len);

	CHECK(buf != NULL);
	if (buf == NULL)
		return;
	ASSERT_EQ(report_parse(buf, len, NULL, &r), 0);
	free(buf);
	if (r == NULL)
		return;
	expect_str(exp, "status", report_status_name(r->status));
	expect_str(exp, "variant",
		   r->variant == REPORT_VARIANT_UNKNOWN ? NULL : report_variant_name(r->variant));
	expect_bool(exp, "truncated", r->truncated);
	expect_str(exp, "bug_type", r->bug_type);
	expect_str(exp, "product", r->product);
	expect_str(exp, "os_name", r->os_name);
	expect_str(exp, "os_version", r->os_version);
	expect_str(exp, "build", r->build);
	expect_str(exp, "incident", r->incident);
	expect_str(exp, "timestamp", r->timestamp);
	expect_str(exp, "kernel", r->kernel);
	expect_str(exp, "largest_process", r->largest_process);
	expect_int(exp, "page_size", r->page_size);
	expect_int(exp, "timestamp_epoch", r->timestamp_epoch);
	mem = cJSON_GetObjectItemCaseSensitive(exp, "memory");
	if (mem != NULL) {
		expect_int(mem, "free", r->memory.free);
		expect_int(mem, "active", r->memory.active);
		expect_int(mem, "throttled", r->memory.throttled);
		expect_int(mem, "wired", r->memory.wired);
		expect_int(mem, "compressions", r->memory.compressions);
		expect_int(mem, "compressor_size", r->memory.compressor_size);
		expect_int(mem, "uncompressed", r->memory.uncompressed);
	}
	if (r->status == REPORT_ERROR) {
		/* a problem with a place in the file */
		CHECK(r->error != NULL);
		CHECK(r->error_offset == REPORT_NULL ||
		      (r->error_offset >= 0 && (size_t)r->error_offset <= len));
	}
	near = cJSON_GetObjectItemCaseSensitive(exp, "error_offset_near");
	if (cJSON_IsNumber(near)) {
		int64_t want = (int64_t)near->valuedouble;

		check_count++;
		if (r->error_offset == REPORT_NULL || r->error_offset < want ||
		    r->error_offset > want + 1) {
			check_failures++;
			fprintf(stderr, "%s: error offset %lld, want %lld (+1)\n", cur_file,
				(long long)r->error_offset, (long long)want);
		}
	}
	contains = cJSON_GetObjectItemCaseSensitive(exp, "error_contains");
	if (cJSON_IsString(contains)) {
		check_count++;
		if (r->error == NULL || strstr(r->error, contains->valuestring) == NULL) {
			check_failures++;
			fprintf(stderr, "%s: error \"%s\" lacks \"%s\"\n", cur_file,
				r->error ? r->error : "(null)", contains->valuestring);
		}
	}
	events = cJSON_GetObjectItemCaseSensitive(exp, "events");
	CHECK(cJSON_IsArray(events));
	check_count++;
	if ((size_t)cJSON_GetArraySize(events) != r->n_events) {
		check_failures++;
		fprintf(stderr, "%s: want %d events, got %zu\n", cur_file,
			cJSON_GetArraySize(events), r->n_events);
	}
	cJSON_ArrayForEach(e, events)
	{
		const struct report_event *ev;

		if (i >= r->n_events)
			break;
		ev = &r->events[i++];
		expect_str(e, "process", ev->process);
		expect_int(e, "pid", ev->pid);
		expect_str(e, "uuid", ev->uuid);
		expect_str(e, "reason", ev->reason);
		expect_str(e, "role", report_role_name(ev->role));
		expect_states(e, ev);
		expect_int(e, "priority", ev->priority);
		expect_int(e, "rpages", ev->rpages);
		expect_int(e, "page_size", ev->page_size);
		expect_int(e, "footprint_bytes", ev->footprint_bytes);
		expect_int(e, "limit_bytes", ev->limit_bytes);
		expect_int(e, "lifetime_max_pages", ev->lifetime_max_pages);
	}
	report_free(r);
}

int main(int argc, char **argv)
{
	static const char *const subdirs[] = {"jetsam", "excresource"};
	const cJSON *exp;
	cJSON *expected;
	size_t len;
	char *text;
	struct stat st;
	int seen = 0, want = 0;

	if (argc != 3) {
		fprintf(stderr, "usage: test-report-corpus CORPUS_DIR EXPECTED_JSON\n");
		return 2;
	}
	if (stat(argv[1], &st) != 0 || !S_ISDIR(st.st_mode)) {
		fprintf(stderr, "FAIL: corpus directory '%s' is missing\n", argv[1]);
		return 1;
	}
	text = slurp(argv[2], &len);
	if (text == NULL) {
		fprintf(stderr, "cannot read '%s'\n", argv[2]);
		return 1;
	}
	expected = cJSON_ParseWithLength(text, len);
	free(text);
	if (expected == NULL) {
		fprintf(stderr, "'%s' is not valid json\n", argv[2]);
		return 1;
	}
	/* every file of the corpus has an expectation */
	for (size_t d = 0; d < sizeof(subdirs) / sizeof(subdirs[0]); d++) {
		char dir[4096];
		DIR *dp;
		struct dirent *de;

		snprintf(dir, sizeof(dir), "%s/%s", argv[1], subdirs[d]);
		dp = opendir(dir);
		CHECK(dp != NULL);
		if (dp == NULL)
			continue;
		while ((de = readdir(dp)) != NULL) {
			char rel[512], path[4608];

			if (de->d_name[0] == '.')
				continue;
			snprintf(rel, sizeof(rel), "%s/%s", subdirs[d], de->d_name);
			snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
			exp = cJSON_GetObjectItemCaseSensitive(expected, rel);
			cur_file = rel;
			check_count++;
			if (exp == NULL) {
				check_failures++;
				fprintf(stderr, "%s: no expectation written for this file\n", rel);
				continue;
			}
			check_file(path, exp);
			seen++;
		}
		closedir(dp);
	}
	/* and every expectation has its file */
	cJSON_ArrayForEach(exp, expected)
	{
		if (exp->string[0] != '_')
			want++;
	}
	ASSERT_EQ(seen, want);
	fprintf(stderr, "%d corpus files checked\n", seen);
	cJSON_Delete(expected);
	return CHECK_DONE();
}
