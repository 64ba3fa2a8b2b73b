/* test-report-regress.c: replay every fuzz seed and regression file through the parser */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
		}
		*len = (size_t)n;
	}
	fclose(f);
	return buf;
}

/* Parse buf: the result must keep the invariants; returns its JSON text (malloc'ed) or NULL. */
static char *parse_text(const char *path, const char *buf, size_t len)
{
	struct report *r = NULL;
	cJSON *obj;
	char *text, *copy;

	ASSERT_EQ(report_parse(buf, len, NULL, &r), 0);
	if (r == NULL)
		return NULL;
	if (r->status == REPORT_ERROR)
		ASSERT_EQ(r->n_events, 0);
	if (r->status != REPORT_OK)
		CHECK(r->error != NULL);
	obj = report_json_result(r, path);
	CHECK(obj != NULL);
	text = cJSON_PrintUnformatted(obj);
	CHECK(text != NULL);
	copy = text ? strdup(text) : NULL;
	cJSON_free(text);
	cJSON_Delete(obj);
	report_free(r);
	return copy;
}

/*
 * Parse one file: it must not crash or leak, and the result must keep the invariants; parsed
 * again with the trees in the thread's arena (report_use_arena, as jetsamd does), the result
 * is the same.
 */
static void replay(const char *path)
{
	size_t len = 0;
	char *buf = slurp(path, &len);
	char *plain, *arena;

	CHECK(buf != NULL);
	if (buf == NULL)
		return;
	plain = parse_text(path, buf, len);
	report_use_arena();
	arena = parse_text(path, buf, len);
	cJSON_InitHooks(NULL);
	CHECK((plain == NULL) == (arena == NULL));
	if (plain != NULL && arena != NULL)
		ASSERT_STREQ(arena, plain);
	free(plain);
	free(arena);
	free(buf);
}

/* Replay every regular file under dir (one level of subdirectories too). */
static int replay_dir(const char *dir, int depth)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -errno;
	while ((e = readdir(d)) != NULL) {
		char path[4096];

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (e->d_type == DT_DIR) {
			if (depth == 0) {
				int k = replay_dir(path, 1);

				if (k > 0)
					n += k;
			}
			continue;
		}
		if (strcmp(e->d_name, "SOURCES.md") == 0 || strcmp(e->d_name, "README.md") == 0)
			continue;
		replay(path);
		n++;
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	int total = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: test-report-regress DIR...\n");
		return 2;
	}
	for (int i = 1; i < argc; i++) {
		int n = replay_dir(argv[i], 0);

		if (n < 0 && i == 1) {
			fprintf(stderr, "cannot open '%s': %s\n", argv[i], strerror(-n));
			return 1;
		}
		if (n > 0)
			total += n;
	}
	fprintf(stderr, "%d files replayed\n", total);
	CHECK(total > 0);
	return CHECK_DONE();
}
