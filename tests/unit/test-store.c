/* test-store.c: unit tests of the SQLite store: ingest, file index, queries, schema versions */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "../../daemon/log.h"
#include "../../daemon/store.h"
#include "../../daemon/store_internal.h"
#include "check.h"

#define MB (1024 * 1024)

static struct report_event mk_event(char *process, enum report_role role, int64_t limit)
{
	static char *states_fg[] = {"frontmost", "resume"};
	static char *states_bg[] = {"suspended"};
	struct report_event ev = {0};

	ev.process = process;
	ev.pid = 100;
	ev.uuid = "0000-1111";
	ev.reason = limit != REPORT_NULL ? "per-process-limit" : "vm";
	ev.role = role;
	ev.states = role == REPORT_ROLE_FOREGROUND ? states_fg : states_bg;
	ev.n_states = role == REPORT_ROLE_FOREGROUND ? 2 : 1;
	ev.priority = 10;
	ev.rpages = limit != REPORT_NULL ? limit / 16384 : 1000;
	ev.page_size = 16384;
	ev.footprint_bytes = ev.rpages * 16384;
	ev.limit_bytes = limit;
	ev.lifetime_max_pages = REPORT_NULL;
	return ev;
}

static void mk_report(struct report *r, char *incident, char *product, char *os, char *build,
		      int64_t epoch, struct report_event *ev, size_t n)
{
	memset(r, 0, sizeof(*r));
	r->status = REPORT_OK;
	r->variant = REPORT_VARIANT_J3;
	r->bug_type = "298";
	r->incident = incident;
	r->timestamp = "2022-06-01 10:00:00.00 +0000";
	r->timestamp_epoch = epoch;
	r->product = product;
	r->os_version = os;
	r->build = build;
	r->page_size = 16384;
	r->error_offset = REPORT_NULL;
	r->events = ev;
	r->n_events = n;
}

static int ingest(struct store *s, const char *udid, const char *path, const char *sha,
		  const struct report *r, struct store_ingest_result *res)
{
	struct store_ingest in = {.udid = udid,
				  .path = path,
				  .size = 1234,
				  .mtime_ns = 1000,
				  .sha256 = sha,
				  .archive = "archive/aa/aa.ips",
				  .report = r,
				  .device_product = "iPhone99,1",
				  .device_os_version = "99.0",
				  .device_build = "99Z1"};
	int rc = store_begin(s);

	if (rc == 0)
		rc = store_ingest(s, &in, res);
	if (rc == 0)
		rc = store_commit(s);
	else
		store_rollback(s);
	return rc;
}

static const cJSON *get(const cJSON *o, const char *k)
{
	return cJSON_GetObjectItemCaseSensitive(o, k);
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = get(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = get(o, k);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* Events come as raw JSON text items (stored whole): parse them for inspection. */
static cJSON *plain(cJSON *arr)
{
	char *text = cJSON_PrintUnformatted(arr);
	cJSON *out = text ? cJSON_Parse(text) : NULL;

	CHECK(out != NULL && cJSON_IsArray(out));
	free(text);
	cJSON_Delete(arr);
	return out;
}

static cJSON *limits(struct store *s, const char *product, const char *build, const char *role)
{
	cJSON *arr = NULL;

	ASSERT_EQ(store_limits_json(s, product, build, role, &arr), 0);
	return plain(arr); /* "processes" is raw JSON text */
}

/* report 1 (INC-1): ingested first, replaced by the reparse tests */
static struct report r1;
static struct report_event e1[3];

/* Devices: identity, state (and the row it returns), last sync. */
static void test_devices(struct store *s)
{
	struct store_device row;
	cJSON *arr, *o;

	ASSERT_EQ(store_device_upsert(s, "U1", "Lab 1", "iPhone13,2", "15.5", "19F77", "USB"), 0);
	ASSERT_EQ(store_device_set_state(s, "U1", "idle", 1, NULL, NULL), 0);
	ASSERT_EQ(store_device_set_state(s, "U0", "error", 0, "lockdown failed", &row), 0);
	/* the row the same statement left: a device first seen through its state */
	ASSERT_STREQ(row.udid, "U0");
	ASSERT_STREQ(row.state, "error");
	ASSERT_STREQ(row.error, "lockdown failed");
	ASSERT_STREQ(row.name, "");
	ASSERT_EQ(row.attached, 0);
	CHECK(row.first_seen > 1700000000 && row.first_seen == row.last_seen);
	ASSERT_EQ(row.last_sync, 0);
	ASSERT_EQ(row.reports, 0);
	ASSERT_EQ(store_devices_json(s, &arr), 0);
	ASSERT_EQ(cJSON_GetArraySize(arr), 2);
	ASSERT_STREQ(str(cJSON_GetArrayItem(arr, 0), "udid"), "U1"); /* attached first */
	ASSERT_STREQ(str(cJSON_GetArrayItem(arr, 0), "product"), "iPhone13,2");
	CHECK(cJSON_IsTrue(get(cJSON_GetArrayItem(arr, 0), "attached")));
	CHECK(cJSON_IsNull(get(cJSON_GetArrayItem(arr, 0), "last_sync")));
	ASSERT_STREQ(str(cJSON_GetArrayItem(arr, 1), "error"), "lockdown failed");
	cJSON_Delete(arr);
	ASSERT_EQ(store_device_set_synced(s, "U1", 1700000000), 0);
	ASSERT_EQ(store_device_json(s, "U1", &o), 0);
	ASSERT_STREQ(str(o, "last_sync"), "2023-11-14T22:13:20Z");
	cJSON_Delete(o);
	ASSERT_EQ(store_device_json(s, "nope", &o), -ENOENT);
}

/* Exactly-once ingest by key; errors stored; counts. */
static void test_ingest(struct store *s)
{
	struct store_ingest_result res, res2;
	struct report r2, r3, r4, rerr;
	struct report_event e2[2], e3[2], e4[1];
	cJSON *arr, *o;
	struct store_page pg;
	int64_t nrep, nev;

	/* build 19F77: foreground limits 100, 200, 300 MB (+ one without a limit) */
	e1[0] = mk_event("Alpha", REPORT_ROLE_FOREGROUND, 200 * MB);
	e1[1] = mk_event("Beta", REPORT_ROLE_BACKGROUND, REPORT_NULL);
	e1[2] = mk_event("Gamma", REPORT_ROLE_DAEMON, 50 * MB);
	mk_report(&r1, "INC-1", "iPhone13,2", "15.5", "19F77", 1654077600, e1, 3);
	ASSERT_EQ(ingest(s, "U1", "JetsamEvent-1.ips", "aa01", &r1, &res), 0);
	ASSERT_EQ(res.duplicate, 0);
	ASSERT_EQ(res.n_events, 3);

	/* the same report under Retired/ with .synced: one more file entry, nothing else */
	ASSERT_EQ(ingest(s, "U1", "Retired/JetsamEvent-1.ips.synced", "aa01", &r1, &res2), 0);
	ASSERT_EQ(res2.duplicate, 1);
	ASSERT_EQ(res2.report_id, res.report_id);
	ASSERT_EQ(res2.n_events, 0);

	e2[0] = mk_event("Alpha", REPORT_ROLE_FOREGROUND, 100 * MB);
	e2[1] = mk_event("Delta", REPORT_ROLE_FOREGROUND, 300 * MB);
	/* no incident: identified by content; product/build from the phone when missing */
	mk_report(&r2, NULL, "iPhone13,2", "15.5", "19F77", 1654081200, e2, 2);
	ASSERT_EQ(ingest(s, "U2", "JetsamEvent-2.ips", "bb01", &r2, &res), 0);
	ASSERT_EQ(res.duplicate, 0);
	ASSERT_EQ(ingest(s, "U2", "JetsamEvent-2-copy.ips", "bb01", &r2, &res2), 0);
	ASSERT_EQ(res2.duplicate, 1);
	ASSERT_EQ(store_report_json(s, res.report_id, &o), 0);
	ASSERT_STREQ(str(o, "key"), "sha256:bb01");
	ASSERT_STREQ(str(o, "status"), "ok");
	ASSERT_STREQ(str(o, "variant"), "J3");
	ASSERT_EQ(num(o, "events"), 2);
	CHECK(cJSON_IsFalse(get(o, "removed_from_device")));
	cJSON_Delete(o);

	/* build 19G71 (15.6): foreground 300, 300 MB: median 300 vs 200 before: drift +50 % */
	e3[0] = mk_event("Alpha", REPORT_ROLE_FOREGROUND, 300 * MB);
	e3[1] = mk_event("Alpha", REPORT_ROLE_FOREGROUND, 300 * MB);
	mk_report(&r3, "INC-3", "iPhone13,2", "15.6", "19G71", 1656669600, e3, 2);
	ASSERT_EQ(ingest(s, "U1", "JetsamEvent-3.ips", "cc01", &r3, &res), 0);

	/* a report without product: the phone's facts are used */
	e4[0] = mk_event("Echo", REPORT_ROLE_FOREGROUND, 400 * MB);
	mk_report(&r4, "INC-4", NULL, NULL, NULL, REPORT_NULL, e4, 1);
	ASSERT_EQ(ingest(s, "U3", "JetsamEvent-4.ips", "dd01", &r4, &res), 0);

	/* a report that does not parse is stored with its error and no events */
	memset(&rerr, 0, sizeof(rerr));
	rerr.status = REPORT_ERROR;
	rerr.error = "unexpected end of input";
	rerr.timestamp_epoch = REPORT_NULL;
	rerr.page_size = REPORT_NULL;
	ASSERT_EQ(ingest(s, NULL, "import:broken.ips", "ee01", &rerr, &res), 0);
	ASSERT_EQ(res.n_events, 0);
	{
		struct store_report_filter f = {.status = "error", .limit = 10};

		ASSERT_EQ(store_reports_json(s, &f, &arr, &pg), 0);
		ASSERT_EQ(cJSON_GetArraySize(arr), 1);
		ASSERT_STREQ(str(cJSON_GetArrayItem(arr, 0), "error"), "unexpected end of input");
		ASSERT_STREQ(str(cJSON_GetArrayItem(arr, 0), "path"), "import:broken.ips");
		CHECK(cJSON_IsNull(get(cJSON_GetArrayItem(arr, 0), "udid")));
		cJSON_Delete(arr);
	}
	{
		struct store_report_filter f = {.limit = 2};

		ASSERT_EQ(store_reports_json(s, &f, &arr, &pg), 0);
		ASSERT_EQ(cJSON_GetArraySize(arr), 2);
		ASSERT_EQ(pg.truncated, 1);
		ASSERT_STREQ(str(cJSON_GetArrayItem(arr, 0), "path"),
			     "import:broken.ips"); /* newest */
		cJSON_Delete(arr);
	}
	ASSERT_EQ(store_counts(s, &nrep, &nev), 0);
	ASSERT_EQ(nrep, 5);
	ASSERT_EQ(nev, 8);
}

/* The file index: sorted, found by path, marks removal on the report. */
static void test_file_index(struct store *s)
{
	struct store_file_index idx;
	cJSON *o;

	ASSERT_EQ(store_file_index_load(s, "U1", &idx), 0);
	ASSERT_EQ(idx.n, 3);
	ASSERT_STREQ(idx.v[0].path, "JetsamEvent-1.ips");
	ASSERT_STREQ(idx.v[2].path, "Retired/JetsamEvent-1.ips.synced");
	CHECK(store_file_index_find(&idx, "JetsamEvent-3.ips") != NULL);
	CHECK(store_file_index_find(&idx, "JetsamEvent-9.ips") == NULL);
	ASSERT_EQ(store_file_index_find(&idx, "JetsamEvent-1.ips")->report_id,
		  store_file_index_find(&idx, "Retired/JetsamEvent-1.ips.synced")->report_id);
	ASSERT_EQ(store_file_index_find(&idx, "JetsamEvent-1.ips")->size, 1234);
	ASSERT_EQ(store_file_index_find(&idx, "JetsamEvent-1.ips")->mtime_ns, 1000);
	store_file_index_release(&idx);
	ASSERT_EQ(store_file_mark_removed(s, "U1", "JetsamEvent-3.ips"), 0);
	ASSERT_EQ(store_file_mark_removed(s, "U1", "nope.ips"), -ENOENT);
	ASSERT_EQ(store_file_index_load(s, "U1", &idx), 0);
	ASSERT_EQ(store_file_index_find(&idx, "JetsamEvent-3.ips")->removed, 1);
	ASSERT_EQ(store_report_json(s, store_file_index_find(&idx, "JetsamEvent-3.ips")->report_id,
				    &o),
		  0);
	CHECK(cJSON_IsTrue(get(o, "removed_from_device")));
	cJSON_Delete(o);
	store_file_index_release(&idx);
}

/* Events: newest first, filters combine. */
static void test_events(struct store *s)
{
	cJSON *arr, *o;
	struct store_page pg;

	{
		struct store_event_filter f = {
			.since = REPORT_NULL, .until = REPORT_NULL, .limit = 100};

		ASSERT_EQ(store_events_json(s, &f, &arr, &pg), 0);
		arr = plain(arr);
		ASSERT_EQ(cJSON_GetArraySize(arr), 8);
		ASSERT_EQ(pg.truncated, 0);
		o = cJSON_GetArrayItem(arr, 0);
		ASSERT_STREQ(str(o, "incident"), "INC-3");
		ASSERT_STREQ(str(o, "time"), "2022-07-01T10:00:00Z");
		ASSERT_STREQ(str(o, "product"), "iPhone13,2");
		ASSERT_STREQ(str(o, "role"), "foreground");
		ASSERT_EQ(num(o, "limit_bytes"), 300 * MB);
		CHECK(cJSON_IsArray(get(o, "states")));
		CHECK(get(o, "report_id") && get(o, "udid") && get(o, "timestamp"));
		/* the report without a time sorts last; product from the phone */
		o = cJSON_GetArrayItem(arr, 7);
		ASSERT_STREQ(str(o, "process"), "Echo");
		ASSERT_STREQ(str(o, "product"), "iPhone99,1");
		ASSERT_STREQ(str(o, "build"), "99Z1");
		CHECK(cJSON_IsNull(get(o, "time")));
		cJSON_Delete(arr);

		f.process = "Alpha";
		ASSERT_EQ(store_events_json(s, &f, &arr, &pg), 0);
		arr = plain(arr);
		ASSERT_EQ(cJSON_GetArraySize(arr), 4);
		cJSON_Delete(arr);
		f.build = "19F77";
		ASSERT_EQ(store_events_json(s, &f, &arr, &pg), 0);
		arr = plain(arr);
		ASSERT_EQ(cJSON_GetArraySize(arr), 2);
		cJSON_Delete(arr);
		f.process = NULL;
		f.build = NULL;
		f.role = "daemon";
		ASSERT_EQ(store_events_json(s, &f, &arr, &pg), 0);
		arr = plain(arr);
		ASSERT_EQ(cJSON_GetArraySize(arr), 1);
		ASSERT_STREQ(str(cJSON_GetArrayItem(arr, 0), "process"), "Gamma");
		cJSON_Delete(arr);
		f.role = NULL;
		f.udid = "U2";
		ASSERT_EQ(store_events_json(s, &f, &arr, &pg), 0);
		arr = plain(arr);
		ASSERT_EQ(cJSON_GetArraySize(arr), 2);
		cJSON_Delete(arr);
		f.udid = NULL;
		f.reason = "vm";
		ASSERT_EQ(store_events_json(s, &f, &arr, &pg), 0);
		arr = plain(arr);
		ASSERT_EQ(cJSON_GetArraySize(arr), 1);
		cJSON_Delete(arr);
		f.reason = NULL;
		f.since = 1654077600; /* 2022-06-01T10:00:00Z */
		f.until = 1654081200;
		ASSERT_EQ(store_events_json(s, &f, &arr, &pg), 0);
		arr = plain(arr);
		ASSERT_EQ(cJSON_GetArraySize(arr), 5);
		cJSON_Delete(arr);
		f.since = f.until = REPORT_NULL;
		f.limit = 3;
		ASSERT_EQ(store_events_json(s, &f, &arr, &pg), 0);
		arr = plain(arr);
		ASSERT_EQ(cJSON_GetArraySize(arr), 3);
		ASSERT_EQ(pg.truncated, 1);
		cJSON_Delete(arr);
	}
	ASSERT_EQ(store_report_events_json(s, 1, &arr), 0);
	arr = plain(arr);
	ASSERT_EQ(cJSON_GetArraySize(arr), 3);
	ASSERT_STREQ(str(cJSON_GetArrayItem(arr, 0), "process"), "Alpha"); /* file order */
	ASSERT_STREQ(str(cJSON_GetArrayItem(arr, 2), "process"), "Gamma");
	cJSON_Delete(arr);
}

/* Limits from the summaries: median, drift, filters. */
static void test_limits(struct store *s)
{
	struct store_ingest_result res;
	cJSON *arr, *o;

	arr = limits(s, NULL, NULL, NULL);
	/* iPhone13,2 15.5 19F77 foreground, daemon; 15.6 19G71 foreground; iPhone99,1 fg */
	ASSERT_EQ(cJSON_GetArraySize(arr), 4);
	o = cJSON_GetArrayItem(arr, 0);
	ASSERT_STREQ(str(o, "product"), "iPhone13,2");
	ASSERT_STREQ(str(o, "build"), "19F77");
	ASSERT_STREQ(str(o, "os_version"), "15.5");
	ASSERT_STREQ(str(o, "role"), "foreground");
	ASSERT_EQ(num(o, "count"), 3);
	ASSERT_EQ(num(o, "phones"), 2);
	ASSERT_EQ(num(o, "min"), 100 * MB);
	ASSERT_EQ(num(o, "median"), 200 * MB);
	ASSERT_EQ(num(o, "max"), 300 * MB);
	ASSERT_STREQ(str(o, "first_seen"), "2022-06-01T10:00:00Z");
	ASSERT_STREQ(str(o, "last_seen"), "2022-06-01T11:00:00Z");
	ASSERT_EQ(cJSON_GetArraySize(get(o, "processes")), 2);
	ASSERT_STREQ(cJSON_GetArrayItem(get(o, "processes"), 0)->valuestring, "Alpha");
	ASSERT_STREQ(cJSON_GetArrayItem(get(o, "processes"), 1)->valuestring, "Delta");
	CHECK(cJSON_IsNull(get(o, "drift")));
	o = cJSON_GetArrayItem(arr, 1);
	ASSERT_STREQ(str(o, "role"), "daemon");
	ASSERT_EQ(num(o, "median"), 50 * MB);
	o = cJSON_GetArrayItem(arr, 2);
	ASSERT_STREQ(str(o, "build"), "19G71");
	ASSERT_EQ(num(o, "count"), 2);
	ASSERT_EQ(num(o, "median"), 300 * MB); /* even count: lower middle */
	ASSERT_EQ(num(o, "phones"), 1);
	ASSERT_STREQ(str(get(o, "drift"), "previous_build"), "19F77");
	ASSERT_EQ(num(get(o, "drift"), "previous_median"), 200 * MB);
	ASSERT_EQ(num(get(o, "drift"), "change_pct"), 50);
	o = cJSON_GetArrayItem(arr, 3);
	ASSERT_STREQ(str(o, "product"), "iPhone99,1");
	ASSERT_EQ(num(o, "median"), 400 * MB);
	cJSON_Delete(arr);
	/* filters; drift still refers to the build that is filtered out */
	arr = limits(s, "iPhone13,2", "19G71", "foreground");
	ASSERT_EQ(cJSON_GetArraySize(arr), 1);
	ASSERT_STREQ(str(get(cJSON_GetArrayItem(arr, 0), "drift"), "previous_build"), "19F77");
	cJSON_Delete(arr);
	arr = limits(s, NULL, NULL, "daemon");
	ASSERT_EQ(cJSON_GetArraySize(arr), 1);
	cJSON_Delete(arr);
	arr = limits(s, "iPhone1,1", NULL, NULL);
	ASSERT_EQ(cJSON_GetArraySize(arr), 0);
	cJSON_Delete(arr);

	/* even count lower middle with distinct values: 100, 200, 300, 400 -> 200 */
	{
		struct report r5;
		struct report_event e5[1];

		e5[0] = mk_event("Zulu", REPORT_ROLE_FOREGROUND, 400 * MB);
		mk_report(&r5, "INC-5", "iPhone13,2", "15.5", "19F77", 1654090000, e5, 1);
		ASSERT_EQ(ingest(s, "U1", "JetsamEvent-5.ips", "ff01", &r5, &res), 0);
		arr = limits(s, "iPhone13,2", "19F77", "foreground");
		ASSERT_EQ(num(cJSON_GetArrayItem(arr, 0), "count"), 4);
		ASSERT_EQ(num(cJSON_GetArrayItem(arr, 0), "median"), 200 * MB);
		cJSON_Delete(arr);
	}
}

/* Reparse: replace a report's events, rebuild the summaries. */
static void test_reparse(struct store *s)
{
	cJSON *arr;
	int64_t nrep, nev;

	/* reparse: replace the events of report 1, then rebuild the summaries */
	{
		struct store_archived *v;
		size_t n, nev2;
		cJSON *before, *after;
		char *b, *a;

		ASSERT_EQ(store_archived_list(s, 0, 100, &v, &n), 0);
		ASSERT_EQ(n, 6);
		ASSERT_STREQ(v[0].archive, "archive/aa/aa.ips");
		store_archived_free(v, n);
		ASSERT_EQ(store_archived_list(s, 4, 100, &v, &n), 0);
		ASSERT_EQ(n, 2);
		store_archived_free(v, n);

		before = limits(s, NULL, NULL, NULL);
		ASSERT_EQ(store_begin(s), 0);
		ASSERT_EQ(store_report_replace(s, 1, &r1, &nev2), 0);
		ASSERT_EQ(nev2, 3);
		ASSERT_EQ(store_commit(s), 0);
		ASSERT_EQ(store_limits_rebuild(s), 0);
		after = limits(s, NULL, NULL, NULL);
		b = cJSON_PrintUnformatted(before);
		a = cJSON_PrintUnformatted(after);
		ASSERT_STREQ(a, b);
		free(a);
		free(b);
		cJSON_Delete(before);
		cJSON_Delete(after);
		ASSERT_EQ(store_counts(s, &nrep, &nev), 0);
		ASSERT_EQ(nev, 9);
		/* a new parse with fewer events */
		r1.n_events = 1;
		ASSERT_EQ(store_begin(s), 0);
		ASSERT_EQ(store_report_replace(s, 1, &r1, &nev2), 0);
		ASSERT_EQ(store_commit(s), 0);
		ASSERT_EQ(store_limits_rebuild(s), 0);
		ASSERT_EQ(store_counts(s, &nrep, &nev), 0);
		ASSERT_EQ(nev, 9 - 3 + 1); /* kept by the store's triggers, no recount */
		/* a rolled back replace rolls the kept counts back with it */
		r1.n_events = 2;
		ASSERT_EQ(store_begin(s), 0);
		ASSERT_EQ(store_report_replace(s, 1, &r1, &nev2), 0);
		ASSERT_EQ(store_rollback(s), 0);
		ASSERT_EQ(store_counts(s, &nrep, &nev), 0);
		ASSERT_EQ(nev, 9 - 3 + 1);
		r1.n_events = 1;
		ASSERT_EQ(store_report_events_json(s, 1, &arr), 0);
		arr = plain(arr);
		ASSERT_EQ(cJSON_GetArraySize(arr), 1);
		cJSON_Delete(arr);
		arr = limits(s, NULL, NULL, "daemon");
		ASSERT_EQ(cJSON_GetArraySize(arr), 0); /* Gamma's limit went away */
		cJSON_Delete(arr);
	}
	/* a reparse interrupted before its rebuild: the next open rebuilds the summaries */
	{
		size_t nev2;

		r1.n_events = 3;
		ASSERT_EQ(store_begin(s), 0);
		ASSERT_EQ(store_report_replace(s, 1, &r1, &nev2), 0);
		ASSERT_EQ(store_commit(s), 0);
	}
}

/* Everything is still there after a reopen; a copy that parses replaces one that did not. */
static void test_reopen(const char *dir)
{
	struct store *s;
	struct store_ingest_result res;
	struct store_device row;
	cJSON *arr, *o;
	int64_t nrep, nev;

	/* everything is still there after a reopen; devices start detached */
	ASSERT_EQ(store_open(dir, &s), 0);
	ASSERT_EQ(store_devices_mark_all_detached(s), 0);
	ASSERT_EQ(store_device_json(s, "U1", &o), 0);
	ASSERT_STREQ(str(o, "state"), "detached");
	CHECK(cJSON_IsFalse(get(o, "attached")));
	ASSERT_EQ(num(o, "reports"), 3);
	cJSON_Delete(o);
	/* the row set_state returns is the row the queries render, without a read-back */
	memset(&row, 0x55, sizeof(row));
	ASSERT_EQ(store_device_set_state(s, "U1", "syncing", 1, NULL, &row), 0);
	ASSERT_STREQ(row.name, "Lab 1");
	ASSERT_STREQ(row.product, "iPhone13,2");
	ASSERT_STREQ(row.connection, "USB");
	ASSERT_STREQ(row.state, "syncing");
	ASSERT_STREQ(row.error, "");
	ASSERT_EQ(row.attached, 1);
	ASSERT_EQ(row.last_sync, 1700000000);
	ASSERT_EQ(row.reports, 3);
	{
		cJSON *from_row = store_device_row_json(&row);
		char *a, *b;

		ASSERT_EQ(store_device_json(s, "U1", &o), 0);
		a = cJSON_PrintUnformatted(from_row);
		b = cJSON_PrintUnformatted(o);
		ASSERT_STREQ(a, b);
		CHECK(cJSON_IsNull(get(from_row, "error")));
		free(a);
		free(b);
		cJSON_Delete(from_row);
		cJSON_Delete(o);
	}
	ASSERT_EQ(store_device_set_state(s, NULL, "idle", 1, NULL, NULL), -EINVAL);
	ASSERT_EQ(store_counts(s, &nrep, &nev), 0);
	ASSERT_EQ(nrep, 6);
	arr = limits(s, NULL, NULL, "daemon");
	ASSERT_EQ(cJSON_GetArraySize(arr), 1); /* Gamma's limit is back, from the rebuild */
	cJSON_Delete(arr);
	ASSERT_EQ(ingest(s, "U1", "JetsamEvent-1.ips", "aa01", &r1, &res), 0);
	ASSERT_EQ(res.duplicate, 1);
	/* a copy that parses replaces a stored copy that did not (same incident) */
	{
		struct report cut, whole;
		struct report_event ew[1];
		struct store_ingest_result a, b, c;
		int64_t n_before, nev_before, nev_after;

		ASSERT_EQ(store_counts(s, &n_before, &nev_before), 0);
		memset(&cut, 0, sizeof(cut));
		cut.status = REPORT_ERROR;
		cut.error = "unexpected end of input";
		cut.incident = "INC-CUT";
		cut.timestamp_epoch = REPORT_NULL;
		cut.page_size = REPORT_NULL;
		ASSERT_EQ(ingest(s, "U4", "JetsamEvent-cut.ips", "cu01", &cut, &a), 0);
		ASSERT_EQ(a.duplicate, 0);
		ASSERT_EQ(ingest(s, "U4", "JetsamEvent-cut2.ips", "cu02", &cut, &b), 0);
		ASSERT_EQ(b.duplicate, 1); /* another bad copy adds nothing */
		ew[0] = mk_event("Cut", REPORT_ROLE_DAEMON, REPORT_NULL);
		mk_report(&whole, "INC-CUT", "iPhone13,2", "15.5", "19F77", 1654077000, ew, 1);
		ASSERT_EQ(ingest(s, "U4", "Retired/JetsamEvent-cut.ips", "cu03", &whole, &c), 0);
		ASSERT_EQ(c.duplicate, 0);
		ASSERT_EQ(c.report_id, a.report_id);
		ASSERT_EQ(c.n_events, 1);
		ASSERT_EQ(store_report_json(s, a.report_id, &o), 0);
		ASSERT_STREQ(str(o, "status"), "ok");
		CHECK(cJSON_IsNull(get(o, "error")));
		ASSERT_STREQ(str(o, "sha256"), "cu03");
		ASSERT_STREQ(str(o, "path"), "JetsamEvent-cut.ips"); /* where it was first seen */
		cJSON_Delete(o);
		ASSERT_EQ(ingest(s, "U4", "JetsamEvent-cut3.ips", "cu01", &cut, &b), 0);
		ASSERT_EQ(b.duplicate, 1);
		ASSERT_EQ(store_counts(s, &nrep, &nev_after), 0);
		ASSERT_EQ(nrep, n_before + 1);
		ASSERT_EQ(nev_after, nev_before + 1);
	}

	store_close(s);
	store_close(NULL);
}

static void test_all(const char *dir)
{
	struct store *s;

	ASSERT_EQ(store_open(dir, &s), 0);
	if (s == NULL)
		return;
	test_devices(s);
	test_ingest(s);
	test_file_index(s);
	test_events(s);
	test_limits(s);
	test_reparse(s);
	store_close(s);
	test_reopen(dir);
}

static int64_t file_size(const char *dir, const char *name)
{
	char p[256];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, name);
	return stat(p, &st) == 0 ? (int64_t)st.st_size : -1;
}

/* Copy dir/name to to/name (missing source: nothing copied). */
static void copy_file(const char *dir, const char *to, const char *name)
{
	char a[256], b[256], buf[8192];
	FILE *in, *out;
	size_t n;

	snprintf(a, sizeof(a), "%s/%s", dir, name);
	snprintf(b, sizeof(b), "%s/%s", to, name);
	in = fopen(a, "rb");
	if (in == NULL)
		return;
	out = fopen(b, "wb");
	CHECK(out != NULL);
	while (out && (n = fread(buf, 1, sizeof(buf), in)) > 0)
		CHECK(fwrite(buf, 1, n, out) == n);
	if (out)
		fclose(out);
	fclose(in);
}

/* Run sql on dir/jetsamd.db through a connection of its own (creates the file). */
static void db_exec(const char *dir, const char *sql)
{
	char p[256];
	sqlite3 *h = NULL;

	snprintf(p, sizeof(p), "%s/jetsamd.db", dir);
	CHECK(sqlite3_open(p, &h) == SQLITE_OK);
	CHECK(sqlite3_exec(h, sql, NULL, NULL, NULL) == SQLITE_OK);
	sqlite3_close(h);
}

/* The integer a query of dir/jetsamd.db selects, -1 on failure. */
static int64_t db_int(const char *dir, const char *sql)
{
	char p[256];
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	snprintf(p, sizeof(p), "%s/jetsamd.db", dir);
	if (sqlite3_open_v2(p, &h, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK &&
	    sqlite3_prepare_v2(h, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

/* Reports in the database made of only the files store_sync_durable() flushes. */
static int64_t reports_in_files(const char *dir, const char *copy)
{
	CHECK(mkdir(copy, 0700) == 0);
	copy_file(dir, copy, "jetsamd.db");
	copy_file(dir, copy, "jetsamd.db-wal"); /* not -shm: it is rebuilt from the log */
	return db_int(copy, "SELECT count(*) FROM reports");
}

static void test_durable(const char *top)
{
	char dir[200], empty[200], copy[200], sha[16], path[64];
	struct report_event ev[1];
	struct report r;
	struct store_ingest_result res;
	struct store *s = NULL;
	int frames = -1;

	snprintf(dir, sizeof(dir), "%s/durable", top);
	snprintf(empty, sizeof(empty), "%s/empty", top);
	CHECK(mkdir(dir, 0700) == 0);
	CHECK(mkdir(empty, 0700) == 0);

	/* no database: nothing can be made durable, so nothing may be removed from a phone */
	ASSERT_EQ(store_sync_durable(empty), -ENOENT);
	CHECK(store_sync_durable("/nonexistent/jetsamd-state") < 0);
	ASSERT_EQ(store_checkpoint(empty, 0, &frames), 0);
	ASSERT_EQ(frames, 0);

	ASSERT_EQ(store_open(dir, &s), 0);
	if (s == NULL)
		return;
	ev[0] = mk_event("Durable", REPORT_ROLE_FOREGROUND, (int64_t)2048 * MB);
	for (int i = 0; i < 40; i++) {
		char inc[32];

		snprintf(inc, sizeof(inc), "INC-D%02d", i);
		snprintf(sha, sizeof(sha), "du%02d", i);
		snprintf(path, sizeof(path), "JetsamEvent-d%02d.ips", i);
		mk_report(&r, inc, "iPhone13,2", "15.5", "19F77", 1654070000 + i, ev, 1);
		ASSERT_EQ(ingest(s, "UD", path, sha, &r, &res), 0);
	}
	/* the commits are in the log file (no fsync yet) while the loop's connection is open */
	CHECK(file_size(dir, "jetsamd.db-wal") > 0);
	ASSERT_EQ(store_sync_durable(dir), 0);
	snprintf(copy, sizeof(copy), "%s/copy1", top);
	ASSERT_EQ(reports_in_files(dir, copy), 40);

	/* a checkpoint by a private connection beside the open store; a long minimum skips it */
	ASSERT_EQ(store_checkpoint(dir, INT64_MAX, &frames), 0);
	ASSERT_EQ(frames, 0);
	ASSERT_EQ(store_checkpoint(dir, 1, &frames), 0);
	CHECK(frames > 0);
	/* the store keeps working after the log was backfilled (the next writer restarts it) */
	mk_report(&r, "INC-D-AFTER", "iPhone13,2", "15.5", "19F77", 1654079999, ev, 1);
	ASSERT_EQ(ingest(s, "UD", "JetsamEvent-after.ips", "duaf", &r, &res), 0);
	ASSERT_EQ(res.duplicate, 0);
	ASSERT_EQ(store_sync_durable(dir), 0);
	snprintf(copy, sizeof(copy), "%s/copy2", top);
	ASSERT_EQ(reports_in_files(dir, copy), 41);

	/* closed: the log is folded into the database and gone, which is durable as well */
	store_close(s);
	ASSERT_EQ(file_size(dir, "jetsamd.db-wal"), -1);
	ASSERT_EQ(store_sync_durable(dir), 0);
	snprintf(copy, sizeof(copy), "%s/copy3", top);
	ASSERT_EQ(reports_in_files(dir, copy), 41);
}

/* The whole text of a file (malloc'ed), NULL when it cannot be read. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long len;

	if (f && fseek(f, 0, SEEK_END) == 0 && (len = ftell(f)) >= 0 &&
	    fseek(f, 0, SEEK_SET) == 0 && (buf = calloc(1, (size_t)len + 1)) != NULL &&
	    fread(buf, 1, (size_t)len, f) != (size_t)len) {
		free(buf);
		buf = NULL;
	}
	if (f)
		fclose(f);
	CHECK(buf != NULL);
	return buf;
}

/*
 * A store of the landed release (fixture: its dump, made by the code of ca038b6) opens,
 * keeps its rows and gets the version stamp.
 */
static void test_landed_store(const char *top, const char *landed_sql)
{
	char dir[200];
	struct store *s = NULL;
	struct store_file_index idx;
	struct store_ingest_result res;
	struct report r;
	struct report_event ev[1];
	cJSON *o, *arr;
	int64_t nrep, nev;

	snprintf(dir, sizeof(dir), "%s/landed", top);
	CHECK(mkdir(dir, 0700) == 0);
	db_exec(dir, landed_sql);
	ASSERT_EQ(db_int(dir, "PRAGMA user_version"), 0);

	ASSERT_EQ(store_open(dir, &s), 0);
	if (s == NULL)
		return;
	ASSERT_EQ(store_device_json(s, "UL", &o), 0);
	ASSERT_STREQ(str(o, "name"), "Old phone");
	ASSERT_STREQ(str(o, "last_sync"), "2023-11-14T22:13:20Z");
	ASSERT_EQ(num(o, "reports"), 2);
	cJSON_Delete(o);
	ASSERT_EQ(store_device_json(s, "UX", &o), 0);
	ASSERT_STREQ(str(o, "error"), "lockdown failed");
	CHECK(cJSON_IsNull(get(o, "product")));
	cJSON_Delete(o);
	ASSERT_EQ(store_report_json(s, 1, &o), 0);
	ASSERT_STREQ(str(o, "key"), "incident:INC-L");
	ASSERT_EQ(num(o, "events"), 2);
	/* version 2: seq in id order, collected_at from collected */
	ASSERT_EQ(num(o, "seq"), 1);
	CHECK(str(o, "collected_at") && str(o, "collected") &&
	      strcmp(str(o, "collected_at"), str(o, "collected")) == 0);
	CHECK(cJSON_IsFalse(get(o, "conflict")));
	cJSON_Delete(o);
	ASSERT_EQ(store_report_json(s, 2, &o), 0);
	CHECK(cJSON_IsTrue(get(o, "removed_from_device")));
	cJSON_Delete(o);
	ASSERT_EQ(store_report_json(s, 3, &o), 0);
	ASSERT_STREQ(str(o, "status"), "error");
	cJSON_Delete(o);
	ASSERT_EQ(store_report_events_json(s, 1, &arr), 0);
	arr = plain(arr);
	ASSERT_EQ(cJSON_GetArraySize(arr), 2);
	ASSERT_STREQ(str(cJSON_GetArrayItem(arr, 0), "process"), "Old");
	/* the migration gave the events their report's seq and collection time */
	ASSERT_EQ(num(cJSON_GetArrayItem(arr, 1), "seq"), 1);
	CHECK(str(cJSON_GetArrayItem(arr, 1), "collected_at") != NULL);
	cJSON_Delete(arr);
	{ /* the migration listed the process names: the filter finds them in any case */
		struct store_event_filter f = {
			.since = REPORT_NULL, .until = REPORT_NULL, .process = "OLD", .limit = 10};
		struct store_page pg;

		ASSERT_EQ(store_events_json(s, &f, &arr, &pg), 0);
		CHECK(cJSON_GetArraySize(arr) >= 1);
		cJSON_Delete(arr);
	}
	ASSERT_EQ(store_file_index_load(s, "UL", &idx), 0);
	ASSERT_EQ(idx.n, 3);
	ASSERT_EQ(store_file_index_find(&idx, "Retired/JetsamEvent-L.ips.synced")->report_id, 1);
	ASSERT_EQ(store_file_index_find(&idx, "JetsamEvent-M.ips")->removed, 1);
	store_file_index_release(&idx);
	arr = limits(s, NULL, NULL, NULL);
	ASSERT_EQ(cJSON_GetArraySize(arr), 1);
	ASSERT_EQ(num(cJSON_GetArrayItem(arr, 0), "count"), 2);
	ASSERT_EQ(num(cJSON_GetArrayItem(arr, 0), "median"), 100 * MB);
	ASSERT_STREQ(
		cJSON_GetArrayItem(get(cJSON_GetArrayItem(arr, 0), "processes"), 0)->valuestring,
		"Old");
	cJSON_Delete(arr);
	/* exactly once still holds across the upgrade; new reports go in beside the old */
	ev[0] = mk_event("Old", REPORT_ROLE_FOREGROUND, 200 * MB);
	mk_report(&r, "INC-L", "iPhone12,1", "16.0", "20A362", 1654077600, ev, 1);
	ASSERT_EQ(ingest(s, "UL", "Retired/JetsamEvent-L.ips", "ab01", &r, &res), 0);
	ASSERT_EQ(res.duplicate, 1);
	ASSERT_EQ(res.report_id, 1);
	mk_report(&r, "INC-N", "iPhone12,1", "16.0", "20A362", 1654090000, ev, 1);
	ASSERT_EQ(ingest(s, "UL", "JetsamEvent-N.ips", "ab04", &r, &res), 0);
	ASSERT_EQ(res.duplicate, 0);
	ASSERT_EQ(res.seq, 4); /* after the migrated ones */
	arr = limits(s, NULL, NULL, NULL);
	ASSERT_EQ(num(cJSON_GetArrayItem(arr, 0), "count"), 3);
	ASSERT_EQ(num(cJSON_GetArrayItem(arr, 0), "median"), 200 * MB);
	cJSON_Delete(arr);
	store_close(s);

	ASSERT_EQ(db_int(dir, "PRAGMA user_version"), 4);
	ASSERT_EQ(db_int(dir, "SELECT count(*) FROM reports"), 4);
	ASSERT_EQ(db_int(dir, "SELECT count(*) FROM files"), 5);
	/* a stamped store opens as it is */
	ASSERT_EQ(store_open(dir, &s), 0);
	ASSERT_EQ(store_counts(s, &nrep, &nev), 0);
	ASSERT_EQ(nrep, 4);
	ASSERT_EQ(nev, 4);
	store_close(s);
}

/* A new store gets the stamp; a store of a newer release is left alone. */
static void test_schema_version(const char *top, const char *landed_sql)
{
	char fresh[200], newer[200];
	struct store *s = NULL;

	snprintf(fresh, sizeof(fresh), "%s/fresh", top);
	snprintf(newer, sizeof(newer), "%s/newer", top);
	CHECK(mkdir(fresh, 0700) == 0);
	CHECK(mkdir(newer, 0700) == 0);
	ASSERT_EQ(store_open(fresh, &s), 0);
	store_close(s);
	ASSERT_EQ(db_int(fresh, "PRAGMA user_version"), 4);
	ASSERT_EQ(db_int(fresh, "SELECT count(*) FROM sqlite_schema WHERE name='lim_procs'"), 1);

	db_exec(newer, landed_sql);
	db_exec(newer, "PRAGMA user_version=99");
	s = NULL;
	ASSERT_EQ(store_open(newer, &s), -ENOTSUP);
	CHECK(s == NULL);
	ASSERT_EQ(db_int(newer, "PRAGMA user_version"), 99);
}

/*
 * No statement keeps a read open after a call returns (each is reset after use, also when
 * a query stops at its limit): a checkpoint that must wait for every reader (TRUNCATE)
 * gets through at once beside the open store.
 */
static void test_no_open_reads(const char *top)
{
	char dir[200], p[256];
	struct store *s = NULL;
	struct store_event_filter ef = {.since = REPORT_NULL, .until = REPORT_NULL, .limit = 1};
	struct store_report_filter rf = {.limit = 1};
	struct store_ingest_result res;
	struct store_file_index idx;
	struct store_archived *v;
	struct store_device row;
	struct report_event ev[2];
	struct report r;
	cJSON *o;
	sqlite3 *h = NULL;
	int64_t nrep, nev;
	size_t n;
	struct store_page pg;
	int n_log = -1, n_done = -1;

	snprintf(dir, sizeof(dir), "%s/reads", top);
	CHECK(mkdir(dir, 0700) == 0);
	ASSERT_EQ(store_open(dir, &s), 0);
	if (s == NULL)
		return;
	ev[0] = mk_event("Reader", REPORT_ROLE_FOREGROUND, 100 * MB);
	ev[1] = mk_event("Other", REPORT_ROLE_FOREGROUND, 200 * MB);
	mk_report(&r, "INC-R1", "iPhone13,2", "15.5", "19F77", 1654077600, ev, 2);
	ASSERT_EQ(ingest(s, "UR", "JetsamEvent-r1.ips", "rr01", &r, &res), 0);
	mk_report(&r, "INC-R2", "iPhone13,2", "15.5", "19F77", 1654077700, ev, 2);
	ASSERT_EQ(ingest(s, "UR", "JetsamEvent-r2.ips", "rr02", &r, &res), 0);
	ASSERT_EQ(store_device_set_state(s, "UR", "idle", 1, NULL, &row), 0);

	/* every reading call, queries that stop at their limit among them */
	ASSERT_EQ(store_counts(s, &nrep, &nev), 0);
	ASSERT_EQ(store_devices_json(s, &o), 0);
	cJSON_Delete(o);
	ASSERT_EQ(store_device_json(s, "UR", &o), 0);
	cJSON_Delete(o);
	ASSERT_EQ(store_reports_json(s, &rf, &o, &pg), 0);
	ASSERT_EQ(pg.truncated, 1);
	cJSON_Delete(o);
	ASSERT_EQ(store_report_json(s, res.report_id, &o), 0);
	cJSON_Delete(o);
	ASSERT_EQ(store_events_json(s, &ef, &o, &pg), 0);
	ASSERT_EQ(pg.truncated, 1);
	cJSON_Delete(o);
	ASSERT_EQ(store_report_events_json(s, res.report_id, &o), 0);
	cJSON_Delete(o);
	ASSERT_EQ(store_limits_json(s, NULL, NULL, NULL, &o), 0);
	cJSON_Delete(o);
	ASSERT_EQ(store_file_index_load(s, "UR", &idx), 0);
	store_file_index_release(&idx);
	ASSERT_EQ(store_archived_list(s, 0, 1, &v, &n), 0);
	ASSERT_EQ(n, 1);
	store_archived_free(v, n);

	snprintf(p, sizeof(p), "%s/jetsamd.db", dir);
	ASSERT_EQ(sqlite3_open(p, &h), SQLITE_OK);
	/* a first read makes this connection see the log (WAL mode) */
	ASSERT_EQ(sqlite3_exec(h, "SELECT count(*) FROM reports", NULL, NULL, NULL), SQLITE_OK);
	CHECK(file_size(dir, "jetsamd.db-wal") > 0);
	ASSERT_EQ(sqlite3_wal_checkpoint_v2(h, NULL, SQLITE_CHECKPOINT_TRUNCATE, &n_log, &n_done),
		  SQLITE_OK);
	ASSERT_EQ(n_log, 0);				/* TRUNCATE: the log is empty after it */
	ASSERT_EQ(file_size(dir, "jetsamd.db-wal"), 0); /* emptied: nobody still reads it */
	sqlite3_close(h);
	store_close(s);
}

/* argv[1]: tests/data/store-landed-ca038b6.sql */
/* SQLite VM steps of every cached statement since the last call. */
static int64_t vm_steps(struct store *s)
{
	int64_t n = 0;

	for (int i = 0; i < ST__COUNT; i++)
		if (s->st[i])
			n += sqlite3_stmt_status(s->st[i], SQLITE_STMTSTATUS_VM_STEP, 1);
	return n;
}

#define NAMES_BIG   20000
#define NAMES_SMALL 1000

/* n events of distinct process names prefix-%05d in one limits group; returns the steps. */
static int64_t ingest_names(struct store *s, const char *prefix, size_t n, int k)
{
	struct report_event *ev = calloc(n, sizeof(*ev));
	char(*names)[16] = calloc(n, sizeof(*names));
	char incident[32], sha[65];
	struct report r;
	struct store_ingest_result res;
	int64_t steps;

	CHECK(ev != NULL && names != NULL);
	if (ev == NULL || names == NULL) {
		free(ev);
		free(names);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		snprintf(names[i], sizeof(names[i]), "%s-%05zu", prefix, i);
		ev[i] = mk_event(names[i], REPORT_ROLE_FOREGROUND, 100 * MB);
	}
	snprintf(incident, sizeof(incident), "names-%d", k);
	snprintf(sha, sizeof(sha), "%064d", k);
	mk_report(&r, incident, "iPhone14,2", "16.0", "20A362", 1700000000 + k, ev, n);
	vm_steps(s);
	ASSERT_EQ(ingest(s, "names-phone", incident, sha, &r, &res), 0);
	steps = vm_steps(s);
	ASSERT_EQ(res.n_events, n);
	free(ev);
	free(names);
	return steps;
}

/*
 * The limit statistics cost the same per new process name whatever the group holds (a
 * json_group_array rebuilt per new name made 20 k names quadratic): 1,000 new names into a
 * group of 21,000 take no more SQLite steps than 1,000 into an empty group.
 */
static void test_limits_many_names(const char *top)
{
	char dir[128];
	struct store *s = NULL;
	int64_t first, last;
	cJSON *arr;
	const cJSON *procs;

	snprintf(dir, sizeof(dir), "%s/names", top);
	CHECK(mkdir(dir, 0700) == 0);
	ASSERT_EQ(store_open(dir, &s), 0);
	if (s == NULL)
		return;
	first = ingest_names(s, "a", NAMES_SMALL, 1);
	ingest_names(s, "m", NAMES_BIG, 2);
	last = ingest_names(s, "z", NAMES_SMALL, 3);
	fprintf(stderr, "limits: %lld steps for %d names into an empty group, %lld into %d\n",
		(long long)first, NAMES_SMALL, (long long)last, NAMES_SMALL + NAMES_BIG);
	CHECK(first > 0);
	CHECK(last * 10 <= first * 11);
	/* the reply is unchanged: every name once, sorted */
	arr = limits(s, "iPhone14,2", NULL, "foreground");
	ASSERT_EQ(cJSON_GetArraySize(arr), 1);
	procs = get(cJSON_GetArrayItem(arr, 0), "processes");
	ASSERT_EQ(cJSON_GetArraySize(procs), 2 * NAMES_SMALL + NAMES_BIG);
	ASSERT_EQ(num(cJSON_GetArrayItem(arr, 0), "count"), 2 * NAMES_SMALL + NAMES_BIG);
	ASSERT_STREQ(cJSON_GetArrayItem(procs, 0)->valuestring, "a-00000");
	ASSERT_STREQ(cJSON_GetArrayItem(procs, NAMES_SMALL)->valuestring, "m-00000");
	ASSERT_STREQ(cJSON_GetArrayItem(procs, 2 * NAMES_SMALL + NAMES_BIG - 1)->valuestring,
		     "z-00999");
	cJSON_Delete(arr);
	store_close(s);
}

/*
 * A LIMIT's processes are the JSON text SQLite's json_group_array() gives over the group's
 * names in order (it was built by it), byte for byte: quotes, backslashes, control bytes.
 */
static void test_limits_names_text(const char *top)
{
	static char *names[] = {
		"plain",	"quo\"te",	    "back\\slash",	   "tab\there",
		"ctl\001\037x", "nl\nff\fcr\rbs\b", "del\177utf8\303\251/"};
	enum { N = sizeof(names) / sizeof(names[0]) };
	struct report_event ev[N];
	struct store_ingest_result res;
	struct store *s = NULL;
	struct report r;
	char dir[128], p[256];
	sqlite3 *h = NULL;
	sqlite3_stmt *st = NULL;
	cJSON *arr = NULL;
	const cJSON *procs;

	snprintf(dir, sizeof(dir), "%s/names-text", top);
	CHECK(mkdir(dir, 0700) == 0);
	ASSERT_EQ(store_open(dir, &s), 0);
	if (s == NULL)
		return;
	for (size_t i = 0; i < N; i++)
		ev[i] = mk_event(names[i], REPORT_ROLE_FOREGROUND, 100 * MB);
	mk_report(&r, "names-text", "iPhone14,2", "16.0", "20A362", 1700000000, ev, N);
	ASSERT_EQ(ingest(s, "names-phone", "names-text", "ab", &r, &res), 0);
	ASSERT_EQ(store_limits_json(s, "iPhone14,2", NULL, "foreground", &arr), 0);
	ASSERT_EQ(cJSON_GetArraySize(arr), 1);
	procs = cJSON_GetObjectItemCaseSensitive(cJSON_GetArrayItem(arr, 0), "processes");
	CHECK(cJSON_IsRaw(procs));
	snprintf(p, sizeof(p), "%s/jetsamd.db", dir);
	CHECK(sqlite3_open(p, &h) == SQLITE_OK);
	CHECK(sqlite3_prepare_v2(h,
				 "SELECT json_group_array(process) FROM (SELECT process FROM "
				 "lim_procs WHERE product='iPhone14,2' AND role='foreground' "
				 "ORDER BY process)",
				 -1, &st, NULL) == SQLITE_OK);
	CHECK(sqlite3_step(st) == SQLITE_ROW);
	if (cJSON_IsRaw(procs) && sqlite3_column_text(st, 0))
		ASSERT_STREQ(procs->valuestring, (const char *)sqlite3_column_text(st, 0));
	sqlite3_finalize(st);
	sqlite3_close(h);
	cJSON_Delete(arr);
	store_close(s);
}

/* events of store s in collection order after seq after (collected_since 0), at most limit */
static cJSON *ev_after(struct store *s, int64_t after, size_t limit, struct store_page *pg)
{
	struct store_event_filter f = {.since = REPORT_NULL,
				       .until = REPORT_NULL,
				       .by_collection = 1,
				       .after = after,
				       .limit = limit};
	cJSON *arr = NULL;

	ASSERT_EQ(store_events_json(s, &f, &arr, pg), 0);
	return plain(arr);
}

/* The collection cursor: seq, collected_at, after/collected_since, paging with next. */
static void test_collection(const char *top)
{
	char dir[200];
	struct store *s = NULL;
	struct store_ingest_result res;
	struct store_page pg;
	struct report r, bad;
	struct report_event ev[2];
	cJSON *arr, *o;
	int64_t cur = -1;

	snprintf(dir, sizeof(dir), "%s/collect", top);
	CHECK(mkdir(dir, 0700) == 0);
	ASSERT_EQ(store_open(dir, &s), 0);
	if (s == NULL)
		return;
	ASSERT_EQ(store_cursor(s, &cur), 0);
	ASSERT_EQ(cur, 0);
	/* a phone clock 3 days behind: report time old, collection new */
	ev[0] = mk_event("MyApp", REPORT_ROLE_FOREGROUND, 100 * MB);
	ev[1] = mk_event("Maps", REPORT_ROLE_BACKGROUND, REPORT_NULL);
	mk_report(&r, "C-1", "iPhone13,2", "15.5", "19F77", 1654000000, ev, 2);
	ASSERT_EQ(ingest(s, "U1", "a.ips", "c1", &r, &res), 0);
	ASSERT_EQ(res.seq, 1);
	CHECK(res.collected_at > 1700000000);
	mk_report(&r, "C-2", "iPhone13,2", "15.5", "19F77", 1600000000, ev, 1);
	ASSERT_EQ(ingest(s, "U2", "b.ips", "c2", &r, &res), 0);
	ASSERT_EQ(res.seq, 2);
	/* a duplicate commits nothing new */
	ASSERT_EQ(ingest(s, "U2", "b2.ips", "c2", &r, &res), 0);
	ASSERT_EQ(res.duplicate, 1);
	ASSERT_EQ(store_cursor(s, &cur), 0);
	ASSERT_EQ(cur, 2);

	arr = ev_after(s, 0, 100, &pg);
	ASSERT_EQ(cJSON_GetArraySize(arr), 3);
	ASSERT_EQ(pg.truncated, 0);
	ASSERT_EQ(num(cJSON_GetArrayItem(arr, 0), "seq"), 1);
	ASSERT_STREQ(str(cJSON_GetArrayItem(arr, 0), "process"), "MyApp");
	ASSERT_STREQ(str(cJSON_GetArrayItem(arr, 1), "process"), "Maps");
	ASSERT_EQ(num(cJSON_GetArrayItem(arr, 2), "seq"), 2);
	ASSERT_STREQ(str(cJSON_GetArrayItem(arr, 0), "product_name"), "iPhone 12");
	CHECK(str(cJSON_GetArrayItem(arr, 0), "collected_at") != NULL);
	cJSON_Delete(arr);
	arr = ev_after(s, 1, 100, &pg);
	ASSERT_EQ(cJSON_GetArraySize(arr), 1);
	ASSERT_STREQ(str(cJSON_GetArrayItem(arr, 0), "incident"), "C-2");
	cJSON_Delete(arr);
	arr = ev_after(s, 2, 100, &pg);
	ASSERT_EQ(cJSON_GetArraySize(arr), 0);
	cJSON_Delete(arr);
	/* paging: next is the last seq returned; a page ends with a whole report */
	arr = ev_after(s, 0, 1, &pg);
	ASSERT_EQ(cJSON_GetArraySize(arr), 2);
	ASSERT_EQ(pg.truncated, 1);
	ASSERT_EQ(pg.next, 1);
	cJSON_Delete(arr);
	arr = ev_after(s, 1, 1, &pg);
	ASSERT_EQ(cJSON_GetArraySize(arr), 1);
	ASSERT_EQ(pg.truncated, 0);
	cJSON_Delete(arr);
	{
		struct store_event_filter f = {.since = REPORT_NULL,
					       .until = REPORT_NULL,
					       .by_collection = 1,
					       .collected_since = (int64_t)time(NULL) + 3600,
					       .limit = 10};

		ASSERT_EQ(store_events_json(s, &f, &arr, &pg), 0);
		ASSERT_EQ(cJSON_GetArraySize(arr), 0);
		cJSON_Delete(arr);
		f.collected_since = 1000;
		f.process = "MyApp";
		ASSERT_EQ(store_events_json(s, &f, &arr, &pg), 0);
		ASSERT_EQ(cJSON_GetArraySize(arr), 2);
		cJSON_Delete(arr);
	}
	/* the process filter: any case, exact or glob; several names, none */
	{
		static const struct {
			const char *term;
			int n;
		} cases[] = {{"maps*", 1}, {"MYAPP", 2}, {"m*", 3}, {"[mx]y?pp", 2},
			     {"Map", 0},   {"nope", 0},	 {"*", 3}};

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
			struct store_event_filter f = {.since = REPORT_NULL,
						       .until = REPORT_NULL,
						       .process = cases[i].term,
						       .limit = 10};

			ASSERT_EQ(store_events_json(s, &f, &arr, &pg), 0);
			ASSERT_EQ(cJSON_GetArraySize(arr), cases[i].n);
			cJSON_Delete(arr);
			f.by_collection = 1;
			ASSERT_EQ(store_events_json(s, &f, &arr, &pg), 0);
			ASSERT_EQ(cJSON_GetArraySize(arr), cases[i].n);
			cJSON_Delete(arr);
		}
	}
	/* newest first, paged by before_id: every event once */
	{
		struct store_event_filter f = {
			.since = REPORT_NULL, .until = REPORT_NULL, .limit = 1};
		int seen = 0;

		do {
			ASSERT_EQ(store_events_json(s, &f, &arr, &pg), 0);
			seen += cJSON_GetArraySize(arr);
			cJSON_Delete(arr);
			f.before_id = pg.next;
		} while (pg.truncated && seen < 10);
		ASSERT_EQ(seen, 3);
	}
	{
		struct store_report_filter f = {.limit = 1};

		ASSERT_EQ(store_reports_json(s, &f, &arr, &pg), 0);
		ASSERT_EQ(pg.truncated, 1);
		ASSERT_EQ(pg.next, 2);
		cJSON_Delete(arr);
		f.before_id = pg.next;
		ASSERT_EQ(store_reports_json(s, &f, &arr, &pg), 0);
		ASSERT_EQ(pg.truncated, 0);
		o = cJSON_GetArrayItem(arr, 0);
		ASSERT_EQ(num(o, "id"), 1);
		ASSERT_EQ(num(o, "seq"), 1);
		ASSERT_STREQ(str(o, "product_name"), "iPhone 12");
		cJSON_Delete(arr);
	}
	/* a report stored as not parsing, then a good copy: collected again, a new seq */
	mk_report(&bad, "C-3", "iPhone13,2", "15.5", "19F77", 1654000000, NULL, 0);
	bad.status = REPORT_ERROR;
	bad.error = "cut short";
	ASSERT_EQ(ingest(s, "U1", "c.ips", "c3", &bad, &res), 0);
	ASSERT_EQ(res.seq, 3);
	mk_report(&r, "C-3", "iPhone13,2", "15.5", "19F77", 1654000000, ev, 1);
	ASSERT_EQ(ingest(s, "U1", "c.ips", "c3b", &r, &res), 0);
	ASSERT_EQ(res.duplicate, 0);
	ASSERT_EQ(res.seq, 4);
	arr = ev_after(s, 3, 100, &pg);
	ASSERT_EQ(cJSON_GetArraySize(arr), 1);
	cJSON_Delete(arr);
	/* another report with a known incident id: kept as a conflict, once */
	mk_report(&r, "C-1", "iPhone13,2", "15.5", "19F77", 1654000099, ev, 1);
	ASSERT_EQ(ingest(s, "U3", "d.ips", "c9", &r, &res), 0);
	ASSERT_EQ(res.duplicate, 0);
	ASSERT_EQ(res.seq, 5);
	ASSERT_EQ(store_report_json(s, res.report_id, &o), 0);
	ASSERT_STREQ(str(o, "key"), "incident:C-1/sha256:c9");
	ASSERT_STREQ(str(o, "incident"), "C-1");
	CHECK(cJSON_IsTrue(get(o, "conflict")));
	cJSON_Delete(o);
	ASSERT_EQ(store_report_json(s, 1, &o), 0);
	CHECK(cJSON_IsFalse(get(o, "conflict")));
	cJSON_Delete(o);
	ASSERT_EQ(ingest(s, "U3", "Retired/d.ips", "c9", &r, &res), 0);
	ASSERT_EQ(res.duplicate, 1);
	/* the first copy seen again is still the first */
	mk_report(&r, "C-1", "iPhone13,2", "15.5", "19F77", 1654000000, ev, 2);
	ASSERT_EQ(ingest(s, "U1", "a2.ips", "c1", &r, &res), 0);
	ASSERT_EQ(res.duplicate, 1);
	ASSERT_EQ(res.report_id, 1);
	/* a copy that does not parse is not a conflict: a partial copy of the known one */
	bad.incident = "C-1";
	ASSERT_EQ(ingest(s, "U1", "a3.ips", "c1cut", &bad, &res), 0);
	ASSERT_EQ(res.duplicate, 1);
	/* a bundle id (EXC_RESOURCE) matches the process it was seen with */
	{
		struct store_event_filter f = {.since = REPORT_NULL,
					       .until = REPORT_NULL,
					       .process = "COM.apple.maps",
					       .limit = 10};
		struct report_event exc = mk_event("Maps", REPORT_ROLE_FOREGROUND, 50 * MB);

		exc.bundle_id = "com.apple.Maps";
		mk_report(&r, "C-4", "iPhone13,2", "15.5", "19F77", 1654000500, &exc, 1);
		ASSERT_EQ(ingest(s, "U1", "e.ips", "c4", &r, &res), 0);
		ASSERT_EQ(store_events_json(s, &f, &arr, &pg), 0);
		ASSERT_EQ(cJSON_GetArraySize(arr), 2); /* both Maps events (C-1, C-4) */
		cJSON_Delete(arr);
		f.process = "com.apple.*";
		ASSERT_EQ(store_events_json(s, &f, &arr, &pg), 0);
		ASSERT_EQ(cJSON_GetArraySize(arr), 2);
		cJSON_Delete(arr);
	}
	store_close(s);
	/* the sequence survives a restart */
	ASSERT_EQ(store_open(dir, &s), 0);
	ASSERT_EQ(store_cursor(s, &cur), 0);
	ASSERT_EQ(cur, 6);
	store_close(s);
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/jt-store-XXXXXX";
	char cmd[100];
	char *landed_sql = argc > 1 ? slurp(argv[1]) : NULL;

	log_init(LOG_LEVEL_WARNING);
	CHECK(mkdtemp(dir) != NULL);
	test_all(dir);
	test_durable(dir);
	test_no_open_reads(dir);
	test_limits_many_names(dir);
	test_limits_names_text(dir);
	test_collection(dir);
	CHECK(landed_sql != NULL);
	if (landed_sql) {
		test_landed_store(dir, landed_sql);
		test_schema_version(dir, landed_sql);
	}
	free(landed_sql);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	return CHECK_DONE();
}
