/* test-store-metrics.c: unit tests of the store's metrics aggregates: incremental = rebuilt,
 * reparse seen */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/log.h"
#include "../../daemon/store.h"
#include "../../daemon/store_metrics.h"
#include "check.h"

#define GB (1024LL * 1024 * 1024)

static struct report_event ev(char *process, enum report_role role, const char *reason,
			      int64_t limit)
{
	static char *states[] = {"frontmost"};
	struct report_event e = {0};

	e.process = process;
	e.pid = 100;
	e.uuid = "0000-1111";
	e.reason = (char *)reason;
	e.role = role;
	e.states = states;
	e.n_states = 1;
	e.rpages = 1000;
	e.page_size = 16384;
	e.footprint_bytes = 1000 * 16384;
	e.limit_bytes = limit;
	e.lifetime_max_pages = REPORT_NULL;
	return e;
}

static void mk_report(struct report *r, char *incident, char *build, int64_t epoch,
		      struct report_event *e, size_t n)
{
	memset(r, 0, sizeof(*r));
	r->status = REPORT_OK;
	r->variant = REPORT_VARIANT_J3;
	r->bug_type = "298";
	r->incident = incident;
	r->timestamp = "2026-01-01 10:00:00.00 +0000";
	r->timestamp_epoch = epoch;
	r->product = "iPad16,3";
	r->os_version = build[1] == '3' ? "26.3" : "26.4";
	r->build = build;
	r->page_size = 16384;
	r->error_offset = REPORT_NULL;
	r->events = e;
	r->n_events = n;
}

static int ingest(struct store *s, const char *sha, const struct report *r)
{
	struct store_ingest in = {.udid = "00008103-000C35E22E88801E",
				  .path = sha,
				  .size = 1234,
				  .mtime_ns = 1000,
				  .sha256 = sha,
				  .archive = "archive/aa/aa.ips",
				  .report = r};
	struct store_ingest_result res;
	int rc = store_begin(s);

	if (rc == 0)
		rc = store_ingest(s, &in, &res);
	if (rc == 0)
		rc = store_commit(s);
	else
		store_rollback(s);
	return rc;
}

/* a (kept, incremental) and a fresh rebuild agree on everything */
static void same_as_rebuild(struct store *s, const struct store_metrics_result *a)
{
	struct store_metrics *fresh;
	struct store_metrics_result b;

	CHECK(store_metrics_new(&fresh) == 0);
	ASSERT_EQ(store_metrics_collect(s, fresh, &b), 0);
	ASSERT_EQ(b.rebuilt, 1);
	while (b.more) { /* chunk by chunk */
		store_metrics_result_release(&b);
		ASSERT_EQ(store_metrics_collect(s, fresh, &b), 0);
	}
	ASSERT_EQ(a->n_kills, b.n_kills);
	ASSERT_EQ(a->n_limits, b.n_limits);
	ASSERT_EQ(a->n_ratios, b.n_ratios);
	CHECK(a->n_kills == b.n_kills &&
	      memcmp(a->kills, b.kills, a->n_kills * sizeof(*a->kills)) == 0);
	CHECK(a->n_limits == b.n_limits &&
	      memcmp(a->limits, b.limits, a->n_limits * sizeof(*a->limits)) == 0);
	CHECK(a->n_ratios == b.n_ratios &&
	      memcmp(a->ratios, b.ratios, a->n_ratios * sizeof(*a->ratios)) == 0);
	CHECK(memcmp(a->reports, b.reports, sizeof(a->reports)) == 0);
	store_metrics_result_release(&b);
	store_metrics_free(fresh);
}

static int64_t kills_of(const struct store_metrics_result *r, const char *build, const char *role,
			const char *reason)
{
	for (size_t i = 0; i < r->n_kills; i++)
		if (!strcmp(r->kills[i].build, build) && !strcmp(r->kills[i].role, role) &&
		    !strcmp(r->kills[i].reason, reason))
			return r->kills[i].n;
	return 0;
}

static int64_t limit_of(const struct store_metrics_result *r, const char *build, const char *role)
{
	for (size_t i = 0; i < r->n_limits; i++)
		if (!strcmp(r->limits[i].build, build) && !strcmp(r->limits[i].role, role))
			return r->limits[i].bytes;
	return -1;
}

static void test_aggregates(struct store *s)
{
	struct report_event e1[] = {
		ev("App", REPORT_ROLE_FOREGROUND, "per-process-limit", 6 * GB),
		ev("bg", REPORT_ROLE_BACKGROUND, "vm-pageshortage", REPORT_NULL),
		ev("d", REPORT_ROLE_DAEMON, "Some Odd Reason", REPORT_NULL),
	};
	struct report_event e2[] = {ev("App", REPORT_ROLE_FOREGROUND, "per-process-limit", 3 * GB)};
	struct report_event e3[] = {ev("App", REPORT_ROLE_FOREGROUND, "per-process-limit", 4 * GB)};
	struct report r1, r2, r3;
	struct store_metrics *m;
	struct store_metrics_result res;
	size_t nev;

	mk_report(&r1, "I1", "23D127", 1767261600, e1, 3);
	mk_report(&r2, "I2", "23E246", 1767348000, e2, 1);
	mk_report(&r3, "I3", "23E246", 1767300000, e3, 1); /* older than r2 */
	CHECK(store_metrics_new(&m) == 0);
	ASSERT_EQ(store_metrics_collect(s, m, &res), 0); /* empty store */
	CHECK(res.rebuilt && res.n_kills == 0 && res.n_limits == 0 && res.n_ratios == 0);
	store_metrics_result_release(&res);

	ASSERT_EQ(ingest(s, "01", &r1), 0);
	ASSERT_EQ(ingest(s, "02", &r2), 0);
	ASSERT_EQ(store_metrics_collect(s, m, &res), 0);
	ASSERT_EQ(res.rebuilt, 0); /* appended rows only: read past the ids */
	ASSERT_EQ(res.rows_read, 4);
	ASSERT_EQ(kills_of(&res, "23D127", "foreground", "per-process-limit"), 1);
	ASSERT_EQ(kills_of(&res, "23D127", "daemon", "other"), 1); /* not a label-safe reason */
	ASSERT_EQ(limit_of(&res, "23E246", "foreground"), 3 * GB);
	ASSERT_EQ(res.n_ratios, 1);
	if (res.n_ratios == 1) {
		ASSERT_STREQ(res.ratios[0].build, "23E246");
		ASSERT_STREQ(res.ratios[0].previous_build, "23D127");
		ASSERT_STREQ(res.ratios[0].role, "foreground");
		CHECK(res.ratios[0].ratio == -0.5);
	}
	ASSERT_EQ(res.reports[METRICS_REPORT_OK], 2);
	same_as_rebuild(s, &res);
	store_metrics_result_release(&res);

	/* an older report: counted, but the newest limit stays r2's */
	ASSERT_EQ(ingest(s, "03", &r3), 0);
	ASSERT_EQ(store_metrics_collect(s, m, &res), 0);
	CHECK(res.rebuilt == 0 && res.rows_read == 1);
	ASSERT_EQ(kills_of(&res, "23E246", "foreground", "per-process-limit"), 2);
	ASSERT_EQ(limit_of(&res, "23E246", "foreground"), 3 * GB);
	same_as_rebuild(s, &res);
	store_metrics_result_release(&res);

	/* nothing new: nothing read */
	ASSERT_EQ(store_metrics_collect(s, m, &res), 0);
	CHECK(res.rebuilt == 0 && res.rows_read == 0 && res.n_kills == 4);
	store_metrics_result_release(&res);

	/* reparse rewrites report 1's events: the aggregates are rebuilt */
	r1.n_events = 1;
	CHECK(store_begin(s) == 0);
	ASSERT_EQ(store_report_replace(s, 1, &r1, &nev), 0);
	CHECK(store_commit(s) == 0);
	ASSERT_EQ(store_limits_rebuild(s), 0);
	ASSERT_EQ(store_metrics_collect(s, m, &res), 0);
	ASSERT_EQ(res.rebuilt, 1);
	ASSERT_EQ(kills_of(&res, "23D127", "daemon", "other"), 0);
	ASSERT_EQ(kills_of(&res, "23D127", "background", "vm-pageshortage"), 0);
	ASSERT_EQ(kills_of(&res, "23D127", "foreground", "per-process-limit"), 1);
	same_as_rebuild(s, &res);
	store_metrics_result_release(&res);

	/* a phone's last sync */
	ASSERT_EQ(store_device_upsert(s, "00008103-000C35E22E88801E", "pad", "iPad16,3", "26.4",
				      "23E246", "USB"),
		  0);
	ASSERT_EQ(store_device_set_synced(s, "00008103-000C35E22E88801E", 1795499700), 0);
	ASSERT_EQ(store_metrics_collect(s, m, &res), 0);
	ASSERT_EQ(res.n_syncs, 1);
	if (res.n_syncs == 1) {
		ASSERT_STREQ(res.syncs[0].product, "iPad16,3");
		ASSERT_EQ(res.syncs[0].last_sync, 1795499700);
	}
	ASSERT_EQ(res.rebuilt, 0); /* a device row is not an event or a report status */
	store_metrics_result_release(&res);
	store_metrics_free(m);
	store_metrics_free(NULL);
}

/* more rows than a collect reads: chunks, then the same as a rebuild in one go */
static void test_chunks(struct store *s)
{
	size_t n = 16384 + 100;
	struct report_event *e = calloc(n, sizeof(*e));
	struct store_metrics *m;
	struct store_metrics_result res = {0};
	struct report r;
	int chunks = 0;
	int64_t rows = 0, total = 0, reports = 0, events = 0;

	CHECK(e != NULL);
	if (e == NULL)
		return;
	for (size_t i = 0; i < n; i++)
		e[i] = ev("p", i % 2 ? REPORT_ROLE_DAEMON : REPORT_ROLE_BACKGROUND,
			  i % 3 ? "vm-pageshortage" : "highwater", i % 5 ? REPORT_NULL : GB);
	mk_report(&r, "BIG", "23E246", 1767400000, e, n);
	ASSERT_EQ(ingest(s, "99", &r), 0);
	CHECK(store_metrics_new(&m) == 0);
	do {
		store_metrics_result_release(&res);
		ASSERT_EQ(store_metrics_collect(s, m, &res), 0);
		rows += res.rows_read;
		chunks++;
	} while (res.more && chunks < 100);
	CHECK(chunks >= 2);
	for (size_t i = 0; i < res.n_kills; i++)
		total += res.kills[i].n;
	CHECK(store_counts(s, &reports, &events) == 0);
	ASSERT_EQ(total, events);
	ASSERT_EQ(rows, events);
	same_as_rebuild(s, &res);
	store_metrics_result_release(&res);
	store_metrics_free(m);
	free(e);
}

int main(void)
{
	char dir[] = "/tmp/jt-store-metrics-XXXXXX";
	struct store *s = NULL;
	char cmd[128];

	log_init(LOG_LEVEL_WARNING);
	CHECK(mkdtemp(dir) != NULL);
	ASSERT_EQ(store_open(dir, &s), 0);
	if (s) {
		test_aggregates(s);
		test_chunks(s);
	}
	store_close(s);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", dir);
	return CHECK_DONE();
}
