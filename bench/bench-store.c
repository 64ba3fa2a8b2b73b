/* bench-store.c: p50/p99 latency of limits and events queries over 1,000,000 stored events */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "../daemon/log.h"
#include "../daemon/store.h"

#define EVENTS_PER_REPORT 10
#define N_PRODUCTS	  12
#define N_BUILDS	  6
#define N_PHONES	  200
#define N_PROCS		  300
#define N_RUNS		  200 /* per query; BENCH_STORE_RUNS=N: N (a profile) */
#define MAX_RUNS	  100000

/* BENCH_STORE_CLOCK=cpu: the query latencies in this thread's CPU time (a loaded machine) */
static clockid_t query_clock = CLOCK_MONOTONIC;

static double clock_ms(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static double now_ms(void)
{
	return clock_ms(CLOCK_MONOTONIC);
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static unsigned long long rng_state = 88172645463325252ull;

static unsigned rnd(unsigned n)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (unsigned)(rng_state % n);
}

static char products[N_PRODUCTS][16], builds[N_BUILDS][8], oses[N_BUILDS][8];
static char procs[N_PROCS][24], phones[N_PHONES][48];

static int fill(struct store *s, long n_events)
{
	static char *st_fg[] = {"frontmost", "resume"}, *st_bg[] = {"suspended"};
	long n_reports = n_events / EVENTS_PER_REPORT;
	double t0 = now_ms(), c0 = clock_ms(CLOCK_PROCESS_CPUTIME_ID);

	for (long i = 0; i < n_reports; i++) {
		struct report_event ev[EVENTS_PER_REPORT];
		struct report r = {0};
		struct store_ingest in = {0};
		struct store_ingest_result res;
		char incident[64], sha[65];
		unsigned p = rnd(N_PRODUCTS), b = rnd(N_BUILDS);
		int rc;

		if (i % 1000 == 0 && store_begin(s) < 0)
			return -EIO;
		for (int k = 0; k < EVENTS_PER_REPORT; k++) {
			int fg = k == 0, lim = k < 3;

			memset(&ev[k], 0, sizeof(ev[k]));
			ev[k].process = procs[rnd(N_PROCS)];
			ev[k].pid = 100 + k;
			ev[k].uuid = "7e0f7c3c-0c83-3c5a-9ed3-4a2b2c8f9d10";
			ev[k].reason = lim ? "per-process-limit" : "vm-pageshortage";
			ev[k].role = fg ? REPORT_ROLE_FOREGROUND
					: (k % 2 ? REPORT_ROLE_DAEMON : REPORT_ROLE_BACKGROUND);
			ev[k].states = fg ? st_fg : st_bg;
			ev[k].n_states = fg ? 2 : 1;
			ev[k].priority = fg ? 10 : 0;
			ev[k].rpages = 20000 + rnd(60000);
			ev[k].page_size = 16384;
			ev[k].footprint_bytes = ev[k].rpages * 16384;
			/* limits are quantised per product/build, as on real phones */
			ev[k].limit_bytes =
				lim ? (int64_t)(1000 + 200 * p + 50 * b + 25 * rnd(4)) * 1024 * 1024
				    : REPORT_NULL;
			ev[k].lifetime_max_pages = ev[k].rpages + 100;
		}
		snprintf(incident, sizeof(incident), "BENCH-%08ld", i);
		snprintf(sha, sizeof(sha), "%064ld", i);
		r.status = REPORT_OK;
		r.variant = REPORT_VARIANT_J3;
		r.bug_type = "298";
		r.incident = incident;
		r.timestamp = "2022-06-01 10:00:00.00 +0000";
		r.timestamp_epoch = 1600000000 + i * 60;
		r.product = products[p];
		r.os_version = oses[b];
		r.build = builds[b];
		r.page_size = 16384;
		r.events = ev;
		r.n_events = EVENTS_PER_REPORT;
		in.udid = phones[rnd(N_PHONES)];
		in.path = incident;
		in.size = 10000;
		in.mtime_ns = i;
		in.sha256 = sha;
		in.archive = "archive/00/x.ips";
		in.report = &r;
		rc = store_ingest(s, &in, &res);
		if (rc < 0)
			return rc;
		if ((i % 1000 == 999 || i == n_reports - 1) && store_commit(s) < 0)
			return -EIO;
	}
	printf("fill: %ld events in %ld reports: %.1f s (CPU %.1f s)\n",
	       n_reports * EVENTS_PER_REPORT, n_reports, (now_ms() - t0) / 1e3,
	       (clock_ms(CLOCK_PROCESS_CPUTIME_ID) - c0) / 1e3);
	return 0;
}

typedef int (*query_fn)(struct store *s, unsigned i, cJSON **out);

static int q_status(struct store *s, unsigned i, cJSON **out)
{
	int64_t nrep, nev;
	int r = store_counts(s, &nrep, &nev);

	(void)i;
	*out = cJSON_CreateArray(); /* counts only: an empty reply body */
	return r < 0 ? r : (*out ? 0 : -ENOMEM);
}

static int q_limits_all(struct store *s, unsigned i, cJSON **out)
{
	(void)i;
	return store_limits_json(s, NULL, NULL, NULL, out);
}

static int q_limits_product(struct store *s, unsigned i, cJSON **out)
{
	return store_limits_json(s, products[i % N_PRODUCTS], NULL, "foreground", out);
}

static int q_events(struct store *s, const struct store_event_filter *f, cJSON **out)
{
	struct store_page pg;

	return store_events_json(s, f, out, &pg);
}

static int q_events_all(struct store *s, unsigned i, cJSON **out)
{
	struct store_event_filter f = {.since = REPORT_NULL, .until = REPORT_NULL, .limit = 1000};

	(void)i;
	return q_events(s, &f, out);
}

static int q_events_process(struct store *s, unsigned i, cJSON **out)
{
	struct store_event_filter f = {.process = procs[i % N_PROCS],
				       .since = REPORT_NULL,
				       .until = REPORT_NULL,
				       .limit = 1000};

	return q_events(s, &f, out);
}

static int q_events_product_build(struct store *s, unsigned i, cJSON **out)
{
	struct store_event_filter f = {.product = products[i % N_PRODUCTS],
				       .build = builds[i % N_BUILDS],
				       .since = REPORT_NULL,
				       .until = REPORT_NULL,
				       .limit = 1000};

	return q_events(s, &f, out);
}

static int q_events_udid_role(struct store *s, unsigned i, cJSON **out)
{
	struct store_event_filter f = {.udid = phones[i % N_PHONES],
				       .role = "foreground",
				       .since = REPORT_NULL,
				       .until = REPORT_NULL,
				       .limit = 1000};

	return q_events(s, &f, out);
}

static int q_events_window(struct store *s, unsigned i, cJSON **out)
{
	struct store_event_filter f = {.since = 1600000000 + (int64_t)i * 3600,
				       .until = 1600000000 + (int64_t)i * 3600 + 86400,
				       .limit = 1000};

	return q_events(s, &f, out);
}

/* collection order: the events of the last 100 reports (a CI gate's `events --after`) */
static int q_events_after(struct store *s, unsigned i, cJSON **out)
{
	int64_t cursor = 0;
	struct store_event_filter f = {
		.since = REPORT_NULL, .until = REPORT_NULL, .by_collection = 1, .limit = 1000};

	store_cursor(s, &cursor);
	f.after = cursor - 100 - (int64_t)(i % 100);
	f.process = i % 2 ? procs[i % N_PROCS] : NULL;
	return q_events(s, &f, out);
}

/* a process glob in another case: several names */
static int q_events_glob(struct store *s, unsigned i, cJSON **out)
{
	char glob[32];
	struct store_event_filter f = {
		.process = glob, .since = REPORT_NULL, .until = REPORT_NULL, .limit = 1000};

	snprintf(glob, sizeof(glob), "%.*s*", (int)strlen(procs[i % N_PROCS]) - 1,
		 procs[i % N_PROCS]);
	for (char *c = glob; *c; c++)
		*c = (char)(*c >= 'a' && *c <= 'z' ? *c - 'a' + 'A' : *c);
	return q_events(s, &f, out);
}

/* BENCH_STORE_ONLY=NAME: only the queries whose names start with NAME (a profile of one) */
static const char *only;
static unsigned n_runs = N_RUNS;

static void run(struct store *s, const char *name, query_fn fn)
{
	static double t[MAX_RUNS];
	size_t items = 0;

	if (only && strncmp(name, only, strlen(only)) != 0)
		return;
	for (unsigned i = 0; i < n_runs; i++) {
		cJSON *out = NULL;
		double t0 = clock_ms(query_clock);
		char *text;

		if (fn(s, i, &out) < 0) {
			printf("%-32s FAILED\n", name);
			return;
		}
		/* the daemon also encodes the reply */
		text = cJSON_PrintUnformatted(out);
		t[i] = clock_ms(query_clock) - t0;
		items += (size_t)cJSON_GetArraySize(out);
		cJSON_free(text);
		cJSON_Delete(out);
	}
	qsort(t, n_runs, sizeof(t[0]), cmp_double);
	printf("%-32s p50 %7.2f ms  p99 %7.2f ms  (%zu rows/query, target p99 < 50 ms: %s)\n", name,
	       t[n_runs / 2], t[n_runs * 99 / 100], items / n_runs,
	       t[n_runs * 99 / 100] < 50.0 ? "met" : "MISSED");
}

/* Drop the kernel's cached pages of the store's files (a cold start, this store only). */
static void evict(const char *dir)
{
	static const char *const names[] = {"jetsamd.db", "jetsamd.db-wal", "jetsamd.db-shm"};
	char path[4096];

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int fd;

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if ((fd = open(path, O_RDONLY | O_CLOEXEC)) < 0)
			continue;
		fdatasync(fd);
		posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
		close(fd);
	}
}

/*
 * The daemon's first status: open the store (schema check), then its first query, the
 * counts; ms of both in t[0] and of the query alone in t[1]. cold: its pages are dropped.
 */
static int first_status_ms(const char *dir, int cold, double t[2])
{
	struct store *s;
	int64_t nrep, nev;
	double t0, t1;

	if (cold)
		evict(dir);
	t0 = now_ms();
	if (store_open(dir, &s) < 0)
		return -1;
	t1 = now_ms();
	if (store_counts(s, &nrep, &nev) < 0) {
		store_close(s);
		return -1;
	}
	t[1] = now_ms() - t1;
	t[0] = now_ms() - t0;
	store_close(s);
	return 0;
}

/* v[n][2] sorted by column k: the median */
static double median3(double v[3][2], int k)
{
	double c[3] = {v[0][k], v[1][k], v[2][k]};

	qsort(c, 3, sizeof(double), cmp_double);
	return c[1];
}

/* medians of 3 first statuses, for the store and an empty one, warm and cold */
static void cold_start(const char *dir)
{
	char tmpl[] = "/tmp/jt-bench-empty-XXXXXX";
	const char *empty = mkdtemp(tmpl);
	double full[3][2], none[3][2], ratio = 0, r2 = 0, t[2];
	char cmd[128];

	if (empty == NULL || first_status_ms(empty, 0, t) < 0)
		return;
	for (int cold = 0; cold < 2; cold++) {
		for (int i = 0; i < 3; i++)
			if (first_status_ms(dir, cold, full[i]) < 0 ||
			    first_status_ms(empty, cold, none[i]) < 0)
				return;
		printf("first status (%s, median of 3): open+counts %.2f ms vs %.2f ms empty; "
		       "the counts query alone %.3f ms vs %.3f ms empty\n",
		       cold ? "cold: the store's pages dropped from the page cache" : "warm",
		       median3(full, 0), median3(none, 0), median3(full, 1), median3(none, 1));
		ratio = median3(full, 0) / (median3(none, 0) > 0 ? median3(none, 0) : 1e-3);
		r2 = median3(full, 1) / (median3(none, 1) > 0 ? median3(none, 1) : 1e-3);
	}
	printf("RESULT\tcold start: first status (open+counts) %.2fx the empty store's, the counts "
	       "query %.2fx (cold, median of 3)\t%s\n",
	       ratio, r2, ratio <= 1.5 ? "met" : "not met");
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", empty);
	if (system(cmd) != 0)
		fprintf(stderr, "bench-store: cannot remove '%s'\n", empty);
}

/* The database file (after a checkpoint: closed) per event. */
static void bytes_per_event(const char *dir, int64_t nev)
{
	char path[4096];
	struct stat st;
	double per;

	snprintf(path, sizeof(path), "%s/jetsamd.db", dir);
	if (stat(path, &st) < 0 || nev <= 0)
		return;
	per = (double)st.st_size / (double)nev;
	printf("RESULT\tstore size: %.0f bytes/event (%lld bytes, %lld events)\t%s\n", per,
	       (long long)st.st_size, (long long)nev, per <= 250 ? "met" : "not met");
}

int main(int argc, char **argv)
{
	char tmpl[] = "/tmp/jt-bench-store-XXXXXX";
	const char *dir = argc > 1 && argv[1][0] ? argv[1] : NULL;
	long n = argc > 2 ? atol(argv[2]) : 1000000;
	struct store *s;
	int64_t nrep = 0, nev = 0;
	int made = 0;

	log_init(LOG_LEVEL_WARNING);
	if (getenv("BENCH_STORE_CLOCK") && strcmp(getenv("BENCH_STORE_CLOCK"), "cpu") == 0) {
		query_clock = CLOCK_THREAD_CPUTIME_ID;
		printf("query latencies in CPU time of the querying thread\n");
	}
	only = getenv("BENCH_STORE_ONLY");
	if (getenv("BENCH_STORE_RUNS"))
		n_runs = (unsigned)atoi(getenv("BENCH_STORE_RUNS"));
	if (n_runs < 1 || n_runs > MAX_RUNS)
		n_runs = N_RUNS;
	for (int i = 0; i < N_PRODUCTS; i++)
		snprintf(products[i], sizeof(products[i]), "iPhone%d,%d", 10 + i / 3, 1 + i % 3);
	for (int i = 0; i < N_BUILDS; i++) {
		snprintf(builds[i], sizeof(builds[i]), "%dA%d", 19 + i, 100 + i);
		snprintf(oses[i], sizeof(oses[i]), "%d.%d", 15 + i / 2, i % 2);
	}
	for (int i = 0; i < N_PROCS; i++)
		snprintf(procs[i], sizeof(procs[i]), "Process%03d", i);
	for (int i = 0; i < N_PHONES; i++)
		snprintf(phones[i], sizeof(phones[i]), "00008101-%015d", i);
	if (dir == NULL) {
		dir = mkdtemp(tmpl);
		made = 1;
	}
	if (dir == NULL || store_open(dir, &s) < 0) {
		fprintf(stderr, "bench-store: cannot open a store in '%s'\n", dir ? dir : "?");
		return 1;
	}
	if (store_counts(s, &nrep, &nev) == 0 && nev < n && fill(s, n - nev) < 0) {
		fprintf(stderr, "bench-store: fill failed\n");
		store_close(s);
		return 1;
	}
	store_counts(s, &nrep, &nev);
	printf("store: %lld reports, %lld events in %s\n", (long long)nrep, (long long)nev, dir);
	/* closed (its log checkpointed into the file): size, then the first status of a start */
	store_close(s);
	bytes_per_event(dir, nev);
	cold_start(dir);
	if (store_open(dir, &s) < 0) {
		fprintf(stderr, "bench-store: cannot reopen '%s'\n", dir);
		return 1;
	}
	run(s, "status counts", q_status);
	run(s, "limits (all)", q_limits_all);
	run(s, "limits product=P role=fg", q_limits_product);
	run(s, "events (newest 1000)", q_events_all);
	run(s, "events process=X", q_events_process);
	run(s, "events product+build", q_events_product_build);
	run(s, "events udid+role", q_events_udid_role);
	run(s, "events since..until (1 day)", q_events_window);
	run(s, "events after=cursor-100 [process]", q_events_after);
	run(s, "events process=GLOB* (any case)", q_events_glob);
	store_close(s);
	if (made) {
		char cmd[128];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			return 1;
	}
	return 0;
}
