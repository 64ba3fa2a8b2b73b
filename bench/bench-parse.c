/* bench-parse.c: report_parse() throughput next to raw cJSON_ParseWithLength on the same bytes */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "report.h"

/*
 * usage: bench_parse [--rounds N] DIR|FILE...     parse the given reports
 *        bench_parse [--rounds N] --synth FILE    64 reports made from one JetsamEvent
 * Prints MB/s for report_parse (header split, depth check, cJSON, walk, events) and for
 * raw cJSON_ParseWithLength of the same bytes (header line and body parsed separately,
 * as the file is not one JSON document). Both run on each input in turn (order alternating),
 * best of five passes; the last line "RESULT<TAB>figure<TAB>met|not met" is for bench/run.
 */

struct input {
	char *buf;
	size_t len;
	size_t header_len; /* bytes of the first line when it is a header, else 0 */
};

static struct input *inputs;
static size_t n_inputs, cap_inputs;

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void add_input(char *buf, size_t len)
{
	const char *nl = memchr(buf, '\n', len);

	if (n_inputs == cap_inputs) {
		cap_inputs = cap_inputs ? cap_inputs * 2 : 64;
		inputs = realloc(inputs, cap_inputs * sizeof(*inputs));
		if (inputs == NULL) {
			fprintf(stderr, "bench_parse: out of memory\n");
			exit(1);
		}
	}
	inputs[n_inputs].buf = buf;
	inputs[n_inputs].len = len;
	inputs[n_inputs].header_len = nl != NULL && buf[0] == '{' && nl > buf + 1 && nl[-1] == '}'
					      ? (size_t)(nl - buf + 1)
					      : 0;
	n_inputs++;
}

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

static void add_path(const char *path)
{
	struct stat st;
	size_t len;
	char *buf;

	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		DIR *d = opendir(path);
		struct dirent *e;

		while (d != NULL && (e = readdir(d)) != NULL) {
			char sub[4096];

			if (e->d_name[0] == '.')
				continue;
			snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
			if (stat(sub, &st) == 0 && S_ISREG(st.st_mode))
				add_path(sub);
		}
		if (d != NULL)
			closedir(d);
		return;
	}
	buf = slurp(path, &len);
	if (buf == NULL) {
		fprintf(stderr, "bench_parse: cannot read '%s'\n", path);
		exit(1);
	}
	add_input(buf, len);
}

/* 64 distinct reports from one: the process list rotated and the pids changed. */
static void synthesize(const char *path)
{
	size_t len;
	char *src = slurp(path, &len);
	const char *nl = src ? memchr(src, '\n', len) : NULL;
	cJSON *body;

	if (nl == NULL) {
		fprintf(stderr, "bench_parse: cannot read a two-part report from '%s'\n", path);
		exit(1);
	}
	body = cJSON_ParseWithLength(nl + 1, len - (size_t)(nl + 1 - src));
	if (body == NULL || !cJSON_IsArray(cJSON_GetObjectItem(body, "processes"))) {
		fprintf(stderr, "bench_parse: '%s' has no whole JetsamEvent body\n", path);
		exit(1);
	}
	for (int i = 0; i < 64; i++) {
		cJSON *procs = cJSON_GetObjectItem(body, "processes"), *p;
		char *text;
		size_t hl = (size_t)(nl + 1 - src), tl;
		char *buf;

		for (int k = 0; k < 7 && cJSON_GetArraySize(procs) > 1; k++) {
			cJSON *first = cJSON_DetachItemFromArray(procs, 0);

			cJSON_AddItemToArray(procs, first);
		}
		cJSON_ArrayForEach(p, procs)
		{
			cJSON *pid = cJSON_GetObjectItem(p, "pid");

			if (cJSON_IsNumber(pid))
				cJSON_SetNumberValue(pid, pid->valuedouble + 1);
		}
		text = cJSON_Print(body);
		tl = strlen(text);
		buf = malloc(hl + tl + 1);
		memcpy(buf, src, hl);
		memcpy(buf + hl, text, tl);
		buf[hl + tl] = '\n';
		cJSON_free(text);
		add_input(buf, hl + tl + 1);
	}
	cJSON_Delete(body);
	free(src);
}

static void parse_one(const struct input *in, size_t *events)
{
	struct report *r = NULL;

	if (report_parse(in->buf, in->len, NULL, &r) != 0) {
		fprintf(stderr, "bench_parse: out of memory\n");
		exit(1);
	}
	*events += r->n_events;
	report_free(r);
}

static void cjson_one(const struct input *in, size_t *failed)
{
	cJSON *h = NULL, *b;

	if (in->header_len > 0)
		h = cJSON_ParseWithLength(in->buf, in->header_len);
	b = cJSON_ParseWithLength(in->buf + in->header_len, in->len - in->header_len);
	*failed += b == NULL;
	cJSON_Delete(h);
	cJSON_Delete(b);
}

/* One pass: each input parsed by both, alternating which goes first, so that both see the
 * same machine load and the same cache state (the machine may be busy). */
static void run_pass(int rounds, double *tp, double *tc, size_t *events, size_t *failed)
{
	*tp = *tc = 0;
	*events = *failed = 0;
	for (int k = 0; k < rounds; k++) {
		for (size_t i = 0; i < n_inputs; i++) {
			double t0, t1, t2;

			if ((i + (size_t)k) & 1) {
				t0 = now();
				parse_one(&inputs[i], events);
				t1 = now();
				cjson_one(&inputs[i], failed);
				t2 = now();
				*tp += t1 - t0;
				*tc += t2 - t1;
			} else {
				t0 = now();
				cjson_one(&inputs[i], failed);
				t1 = now();
				parse_one(&inputs[i], events);
				t2 = now();
				*tc += t1 - t0;
				*tp += t2 - t1;
			}
		}
	}
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int rounds = 0, i = 1;
	size_t total = 0, events = 0, failed = 0, ok = 0;
	double best_p = 1e30, best_c = 1e30, mb, ratios[5], ratio;

	/* as jetsamd does: report_parse's trees from the thread's arena; raw cJSON stays on malloc
	 * (no arena scope is open around it) */
	report_use_arena();
	if (argc > 2 && strcmp(argv[1], "--rounds") == 0) {
		rounds = atoi(argv[2]);
		i = 3;
	}
	if (i < argc - 1 && strcmp(argv[i], "--synth") == 0) {
		synthesize(argv[i + 1]);
		i += 2;
	}
	for (; i < argc; i++)
		add_path(argv[i]);
	if (n_inputs == 0) {
		fprintf(stderr, "usage: bench_parse [--rounds N] DIR|FILE... | --synth FILE\n");
		return 2;
	}
	for (size_t k = 0; k < n_inputs; k++) {
		struct report *r = NULL;

		total += inputs[k].len;
		if (report_parse(inputs[k].buf, inputs[k].len, NULL, &r) == 0 &&
		    r->status == REPORT_OK)
			ok++;
		report_free(r);
	}
	if (rounds <= 0) /* about 0.5 s per pass */
		rounds = (int)(1 + 0.5 * 250e6 / (double)total);
	for (int pass = 0; pass < 5; pass++) {
		double tp, tc;

		run_pass(rounds, &tp, &tc, &events, &failed);
		ratios[pass] = tc / tp;
		if (tp < best_p)
			best_p = tp;
		if (tc < best_c)
			best_c = tc;
	}
	qsort(ratios, 5, sizeof(ratios[0]), cmp_double);
	ratio = ratios[2]; /* the median pass */
	mb = (double)total * rounds / 1e6;
	printf("inputs: %zu reports, %.1f KB average, %zu parsed ok, %zu events per round\n",
	       n_inputs, (double)total / n_inputs / 1e3, ok, events / (size_t)rounds);
	printf("report_parse:          %8.1f MB/s\n", mb / best_p);
	printf("cJSON_ParseWithLength: %8.1f MB/s%s\n", mb / best_c,
	       failed ? "  (some inputs are not JSON)" : "");
	printf("ratio parse/cJSON:     %8.2f  (median of 5 passes; passes %.2f .. %.2f)\n", ratio,
	       ratios[0], ratios[4]);
	/* the line bench/run puts in its table */
	printf("RESULT\t%.2fx raw cJSON (%.0f vs %.0f MB/s)\t%s\n", ratio, mb / best_p, mb / best_c,
	       ratio >= 0.9 ? "met" : "not met");
	for (size_t k = 0; k < n_inputs; k++)
		free(inputs[k].buf);
	free(inputs);
	return 0;
}
