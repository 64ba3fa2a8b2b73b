/* test-store-v3.c: schema version 3: a version 2 store migrates with identical replies, kept counts
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <dirent.h>
#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "../../daemon/log.h"
#include "../../daemon/store.h"
#include "../../daemon/store_internal.h"
#include "check.h"

/*
 * The fixture tests/data/store-v2-722814a.sql and the replies it gave,
 * tests/data/store-v2-722814a.replies, were made by the landed code (722814a, schema version
 * 2) with this file built with -DSTORE_V2_GEN (see gen_main()): every corpus report under
 * three phones, an import, a reparse, an upgrade and events with edge values. The test
 * migrates the fixture and asks the same queries: every reply byte for byte as before.
 */

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n + 1)) != NULL) {
		if (fread(buf, 1, (size_t)n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		} else {
			buf[n] = '\0';
			if (len)
				*len = (size_t)n;
		}
	}
	fclose(f);
	return buf;
}

/* ---- the queries (the same in both builds) ---- */

struct out {
	char *buf;
	size_t len, cap;
};

static void out_add(struct out *o, const char *name, cJSON *reply, int rc)
{
	char *text = reply ? cJSON_PrintUnformatted(reply) : NULL;
	size_t need = strlen(name) + (text ? strlen(text) : 16) + 32;

	if (o->len + need >= o->cap) {
		size_t ncap = (o->cap + need) * 2;
		char *nb = realloc(o->buf, ncap);

		if (nb == NULL)
			abort();
		o->buf = nb;
		o->cap = ncap;
	}
	o->len += (size_t)snprintf(o->buf + o->len, o->cap - o->len, "%s\t%d\t%s\n", name, rc,
				   text ? text : "-");
	cJSON_free(text);
	cJSON_Delete(reply);
}

static void q_events(struct store *s, struct out *o, const char *name, struct store_event_filter f)
{
	struct store_page pg;
	cJSON *arr = NULL;
	int rc;

	if (f.limit == 0)
		f.limit = 100000;
	rc = store_events_json(s, &f, &arr, &pg);
	out_add(o, name, arr, rc);
}

#define EV(...)                                                                                    \
	((struct store_event_filter){.since = REPORT_NULL, .until = REPORT_NULL, __VA_ARGS__})

/* Every reply the fixture is compared by, one line each: name, rc, JSON text. */
static char *replies(struct store *s)
{
	static const char *const procs[] = {"SpringBoard", "MobileSafari", "back\\slash",
					    "quo\"te",	   "t*",	   "com.apple.*"};
	static const char *const reasons[] = {"per-process-limit", "vm-pageshortage", "vm",
					      "highwater", "fc-thrashing"};
	static const char *const roles[] = {"foreground", "daemon", "background"};
	struct out o = {0};
	cJSON *arr = NULL;
	char name[64];
	int rc;

	q_events(s, &o, "events all", EV(.limit = 0));
	q_events(s, &o, "events limit 7", EV(.limit = 7));
	q_events(s, &o, "events before_id 20", EV(.limit = 50, .before_id = 20));
	q_events(s, &o, "events after 0", EV(.by_collection = 1));
	q_events(s, &o, "events after 3", EV(.by_collection = 1, .after = 3, .limit = 5));
	q_events(s, &o, "events udid UA", EV(.udid = "UA"));
	q_events(s, &o, "events udid UB fg", EV(.udid = "UB", .role = "foreground"));
	q_events(s, &o, "events product", EV(.product = "iPhone12,1"));
	q_events(s, &o, "events product build", EV(.product = "iPhone12,1", .build = "20A362"));
	q_events(s, &o, "events window",
		 (struct store_event_filter){.since = 1500000000, .until = 1660000000});
	q_events(s, &o, "events nothing", EV(.udid = "no-such-phone"));
	for (size_t i = 0; i < sizeof(procs) / sizeof(procs[0]); i++) {
		snprintf(name, sizeof(name), "events process %s", procs[i]);
		q_events(s, &o, name, EV(.process = procs[i]));
	}
	for (size_t i = 0; i < sizeof(reasons) / sizeof(reasons[0]); i++) {
		snprintf(name, sizeof(name), "events reason %s", reasons[i]);
		q_events(s, &o, name, EV(.reason = reasons[i]));
	}
	for (size_t i = 0; i < sizeof(roles) / sizeof(roles[0]); i++) {
		snprintf(name, sizeof(name), "events role %s", roles[i]);
		q_events(s, &o, name, EV(.role = roles[i]));
		snprintf(name, sizeof(name), "limits role %s", roles[i]);
		rc = store_limits_json(s, NULL, NULL, roles[i], &arr);
		out_add(&o, name, arr, rc);
		arr = NULL;
	}
	rc = store_limits_json(s, NULL, NULL, NULL, &arr);
	out_add(&o, "limits", arr, rc);
	arr = NULL;
	rc = store_limits_json(s, "iPhone12,1", NULL, NULL, &arr);
	out_add(&o, "limits product", arr, rc);
	for (int64_t id = 1; id <= 60; id++) {
		arr = NULL;
		snprintf(name, sizeof(name), "report %lld events", (long long)id);
		rc = store_report_events_json(s, id, &arr);
		out_add(&o, name, arr, rc);
	}
	return o.buf;
}

#define N_EDGES 6

/* events with edge values: escapes, big and negative numbers, NULLs, no states */
static void edge_events(struct report_event out[N_EDGES])
{
	static char *st2[] = {"frontmost", "resume"}, *st1[] = {"sus\"pended\\"};
	const struct report_event ev[N_EDGES] = {
		{.process = "quo\"te",
		 .pid = -1,
		 .uuid = NULL,
		 .reason = "per-process-limit",
		 .role = REPORT_ROLE_FOREGROUND,
		 .states = st2,
		 .n_states = 2,
		 .priority = 10,
		 .rpages = 4294967296LL,
		 .page_size = 16384,
		 .footprint_bytes = 70368744177664LL,
		 .limit_bytes = 70368744177664LL,
		 .lifetime_max_pages = 2147483648LL},
		{.process = "back\\slash\ttab\x01",
		 .pid = 2147483647,
		 .uuid = "ABCDEF",
		 .reason = "vm",
		 .role = REPORT_ROLE_DAEMON,
		 .states = st1,
		 .n_states = 1,
		 .priority = REPORT_NULL,
		 .rpages = REPORT_NULL,
		 .page_size = REPORT_NULL,
		 .footprint_bytes = REPORT_NULL,
		 .limit_bytes = REPORT_NULL,
		 .lifetime_max_pages = REPORT_NULL},
		{.process = "caf\xc3\xa9",
		 .pid = 0,
		 .uuid = "0000-1111",
		 .reason = "highwater",
		 .role = REPORT_ROLE_BACKGROUND,
		 .states = NULL,
		 .n_states = 0,
		 .priority = 0,
		 .rpages = 1234567890123456789LL,
		 .page_size = 4096,
		 .footprint_bytes = 1000000000000001LL,
		 .limit_bytes = 999999999999999LL,
		 .lifetime_max_pages = -5},
		{.process = NULL,
		 .pid = REPORT_NULL,
		 .uuid = "u",
		 .reason = NULL,
		 .role = REPORT_ROLE_FOREGROUND,
		 .states = st2,
		 .n_states = 1,
		 .priority = 1,
		 .rpages = 1,
		 .page_size = 16384,
		 .footprint_bytes = 16384,
		 .limit_bytes = 16384,
		 .lifetime_max_pages = 1},
		{.process = "t1",
		 .bundle_id = "com.apple.t1",
		 .pid = 7,
		 .uuid = "0000-1111",
		 .reason = "exc-resource-memory",
		 .role = REPORT_ROLE_FOREGROUND,
		 .states = st2,
		 .n_states = 2,
		 .priority = 10,
		 .rpages = 100,
		 .page_size = 16384,
		 .footprint_bytes = 1638400,
		 .limit_bytes = 2097152000,
		 .lifetime_max_pages = 9},
		{.process = "t2",
		 .pid = 8,
		 .uuid = "0000-1111",
		 .reason = "fc-thrashing",
		 .role = REPORT_ROLE_DAEMON,
		 .states = st1,
		 .n_states = 1,
		 .priority = 3,
		 .rpages = 100,
		 .page_size = 16384,
		 .footprint_bytes = 1638400,
		 .limit_bytes = 1638400,
		 .lifetime_max_pages = 9},
	};

	memcpy(out, ev, sizeof(ev));
}

#ifdef STORE_V2_GEN
/* ---- the generator (built against the landed code) ---- */

static int commit_one(struct store *s, struct store_ingest *in)
{
	struct store_ingest_result res;
	int r = store_begin(s);

	if (r == 0)
		r = store_ingest(s, in, &res);
	if (r == 0)
		r = store_commit(s);
	else
		store_rollback(s);
	return r;
}

static void gen_corpus(struct store *s, const char *corpus)
{
	static const char *const phones[] = {"UA", "UB", "UC"};
	static const char *const subdirs[] = {"jetsam", "excresource"};
	char path[1024];
	int k = 0;

	for (size_t d = 0; d < 2; d++) {
		struct dirent **names;
		int n;

		snprintf(path, sizeof(path), "%s/%s", corpus, subdirs[d]);
		n = scandir(path, &names, NULL, alphasort);
		for (int i = 0; i < n; i++) {
			struct report *r = NULL;
			char sha[65], *buf;
			size_t len = 0;

			snprintf(path, sizeof(path), "%s/%s/%s", corpus, subdirs[d],
				 names[i]->d_name);
			if (names[i]->d_name[0] != '.' && (buf = slurp(path, &len)) != NULL &&
			    report_parse(buf, len, NULL, &r) == 0) {
				struct store_ingest in = {.udid = phones[k % 3],
							  .path = names[i]->d_name,
							  .size = (int64_t)len,
							  .mtime_ns = k,
							  .sha256 = sha,
							  .archive = "archive/00/x.ips",
							  .report = r,
							  .device_product = "iPhone12,1",
							  .device_os_version = "16.0",
							  .device_build = "20A362"};

				snprintf(sha, sizeof(sha), "%064d", k++);
				if (commit_one(s, &in) < 0)
					fprintf(stderr, "gen: %s not stored\n", path);
				free(buf);
			}
			report_free(r);
			free(names[i]);
		}
		free(names);
	}
}

/* a report of edge_events(), a phone's facts, an import, an upgrade, a reparse */
static void gen_edges(struct store *s)
{
	struct report_event ev[N_EDGES];
	struct report r = {.status = REPORT_OK,
			   .variant = REPORT_VARIANT_J3,
			   .bug_type = "298",
			   .incident = "EDGE-1",
			   .timestamp = "2022-06-01 10:00:00.00 +0000",
			   .timestamp_epoch = 1654077600,
			   .product = "iPhone12,1",
			   .os_version = "16.0",
			   .build = "20A362",
			   .page_size = 16384,
			   .error_offset = REPORT_NULL,
			   .events = ev,
			   .n_events = 6};
	struct store_ingest in = {.udid = "UB",
				  .path = "edge.ips",
				  .size = 1,
				  .mtime_ns = 1,
				  .sha256 = "e1",
				  .archive = "archive/e1.ips",
				  .report = &r};
	size_t n;

	edge_events(ev);
	commit_one(s, &in);
	/* no incident, no time, no product: the phone's facts (UC) */
	r.incident = NULL;
	r.timestamp = NULL;
	r.timestamp_epoch = REPORT_NULL;
	r.product = r.os_version = r.build = NULL;
	in = (struct store_ingest){.udid = "UC",
				   .path = "edge2.ips",
				   .size = 1,
				   .mtime_ns = 1,
				   .sha256 = "e2",
				   .report = &r,
				   .device_product = "iPad8,1",
				   .device_os_version = "15.1",
				   .device_build = "19B74"};
	commit_one(s, &in);
	/* an import (no phone), and a report stored as not parsing, then a good copy */
	r.incident = "EDGE-3";
	r.timestamp_epoch = 1654000000;
	r.timestamp = "2022-05-31 12:26:40.00 +0000";
	r.product = "iPhone12,1";
	in = (struct store_ingest){.path = "import:edge3.ips",
				   .size = 1,
				   .mtime_ns = REPORT_NULL,
				   .sha256 = "e3",
				   .report = &r};
	commit_one(s, &in);
	r.incident = "EDGE-4";
	r.status = REPORT_ERROR;
	r.error = "cut short";
	r.n_events = 0;
	in = (struct store_ingest){.udid = "UA",
				   .path = "edge4.ips",
				   .size = 1,
				   .mtime_ns = 1,
				   .sha256 = "e4",
				   .report = &r};
	commit_one(s, &in);
	r.status = REPORT_OK;
	r.error = NULL;
	r.n_events = 3;
	in.sha256 = "e4b";
	commit_one(s, &in);
	/* a reparse: report 1's events get new row ids, after every other event */
	r.incident = "EDGE-1";
	r.n_events = 2;
	r.events = ev + 4;
	if (store_begin(s) == 0 && store_report_replace(s, 1, &r, &n) == 0 && store_commit(s) == 0)
		store_limits_rebuild(s);
}

/* dir: an empty directory for the store; writes dir/replies */
static int gen_main(const char *dir, const char *corpus)
{
	struct store *s;
	char path[1024], *text;
	FILE *f;

	if (store_open(dir, &s) < 0)
		return 1;
	store_device_upsert(s, "UA", "Phone \"A\"", "iPhone12,1", "16.0", "20A362", "USB");
	store_device_upsert(s, "UB", "B", "iPhone13,2", "15.5", "19F77", "USB");
	store_device_upsert(s, "UC", NULL, "iPad8,1", "15.1", "19B74", "Network");
	gen_corpus(s, corpus);
	gen_edges(s);
	text = replies(s);
	snprintf(path, sizeof(path), "%s/replies", dir);
	f = fopen(path, "w");
	if (f == NULL || fputs(text, f) < 0 || fclose(f) != 0)
		return 1;
	free(text);
	store_close(s);
	return 0;
}
#endif

#ifdef STORE_V2_GEN
int main(int argc, char **argv)
{
	log_init(LOG_LEVEL_WARNING);
	return argc == 3 ? gen_main(argv[1], argv[2]) : 2;
}
#endif

#ifndef STORE_V2_GEN
static struct report mk_report(const char *incident, struct report_event *ev, size_t n)
{
	return (struct report){.status = REPORT_OK,
			       .variant = REPORT_VARIANT_J3,
			       .bug_type = "298",
			       .incident = (char *)incident,
			       .timestamp = "2022-06-01 10:00:00.00 +0000",
			       .timestamp_epoch = 1654077600,
			       .product = "iPhone12,1",
			       .os_version = "16.0",
			       .build = "20A362",
			       .page_size = 16384,
			       .error_offset = REPORT_NULL,
			       .events = ev,
			       .n_events = n};
}

static int ingest(struct store *s, const char *udid, const char *sha, const struct report *r,
		  int rollback)
{
	struct store_ingest in = {
		.udid = udid, .path = sha, .size = 1, .mtime_ns = 1, .sha256 = sha, .report = r};
	struct store_ingest_result res;
	int rc = store_begin(s);

	if (rc == 0)
		rc = store_ingest(s, &in, &res);
	if (rc == 0 && !rollback)
		return store_commit(s);
	store_rollback(s);
	return rc;
}

static int64_t db_int(struct store *s, const char *sql)
{
	sqlite3_stmt *st = NULL;
	int64_t v = -1;

	/* the test's own look at the database through the store's connection */
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* The kept counts equal what count(*) says, for the store and for every phone. */
static void check_counts(struct store *s, int64_t want_reports, int64_t want_events)
{
	int64_t nrep = -1, nev = -1;

	ASSERT_EQ(store_counts(s, &nrep, &nev), 0);
	ASSERT_EQ(nrep, want_reports);
	ASSERT_EQ(nev, want_events);
	ASSERT_EQ(db_int(s, "SELECT count(*) FROM reports"), nrep);
	ASSERT_EQ(db_int(s, "SELECT count(*) FROM events"), nev);
	ASSERT_EQ(db_int(s, "SELECT count(*) FROM devices WHERE n_reports IS NOT "
			    "(SELECT count(*) FROM reports r WHERE r.udid=devices.udid)"),
		  0);
}

static void test_counts(const char *top)
{
	static char *states[] = {"frontmost"};
	struct report_event ev[3];
	struct report r, bad;
	struct store *s = NULL;
	char dir[256];
	cJSON *o = NULL;
	size_t n;

	for (int i = 0; i < 3; i++)
		ev[i] = (struct report_event){.process = "P",
					      .pid = i,
					      .reason = "vm",
					      .role = REPORT_ROLE_DAEMON,
					      .states = states,
					      .n_states = 1,
					      .priority = REPORT_NULL,
					      .rpages = REPORT_NULL,
					      .page_size = REPORT_NULL,
					      .footprint_bytes = REPORT_NULL,
					      .limit_bytes = REPORT_NULL,
					      .lifetime_max_pages = REPORT_NULL};
	snprintf(dir, sizeof(dir), "%s/counts", top);
	CHECK(mkdir(dir, 0700) == 0);
	ASSERT_EQ(store_open(dir, &s), 0);
	if (s == NULL)
		return;
	check_counts(s, 0, 0);
	ASSERT_EQ(store_device_upsert(s, "U1", "one", NULL, NULL, NULL, "USB"), 0);
	r = mk_report("C-1", ev, 3);
	ASSERT_EQ(ingest(s, "U1", "a1", &r, 0), 0);
	check_counts(s, 1, 3);
	ASSERT_EQ(ingest(s, "U1", "a1", &r, 0), 0); /* a duplicate */
	r = mk_report("C-2", ev, 2);
	ASSERT_EQ(ingest(s, "U1", "a2", &r, 1), 0); /* rolled back */
	check_counts(s, 1, 3);
	/* an import (no phone) that did not parse, then a phone's copy that does: upgraded */
	bad = mk_report("C-3", NULL, 0);
	bad.status = REPORT_ERROR;
	ASSERT_EQ(ingest(s, NULL, "a3", &bad, 0), 0);
	check_counts(s, 2, 3);
	r = mk_report("C-3", ev, 2);
	ASSERT_EQ(ingest(s, "U1", "a3b", &r, 0), 0);
	check_counts(s, 2, 5);
	ASSERT_EQ(store_device_json(s, "U1", &o), 0);
	ASSERT_EQ(cJSON_GetObjectItem(o, "reports")->valuedouble, 2);
	cJSON_Delete(o);
	/* a phone whose reports came before its device row */
	r = mk_report("C-4", ev, 1);
	ASSERT_EQ(ingest(s, "U2", "a4", &r, 0), 0);
	ASSERT_EQ(store_device_set_state(s, "U2", "idle", 1, NULL, NULL), 0);
	check_counts(s, 3, 6);
	/* a reparse with fewer events, and one rolled back */
	r = mk_report("C-1", ev, 1);
	ASSERT_EQ(store_begin(s), 0);
	ASSERT_EQ(store_report_replace(s, 1, &r, &n), 0);
	ASSERT_EQ(store_commit(s), 0);
	check_counts(s, 3, 4);
	r.n_events = 3;
	ASSERT_EQ(store_begin(s), 0);
	ASSERT_EQ(store_report_replace(s, 1, &r, &n), 0);
	ASSERT_EQ(store_rollback(s), 0);
	check_counts(s, 3, 4);
	store_close(s);
	/* kept across a restart */
	ASSERT_EQ(store_open(dir, &s), 0);
	if (s)
		check_counts(s, 3, 4);
	store_close(s);
}

/*
 * Events stored now render as the EVENT cJSON gives for them (what version 2 stored):
 * edge values, footprints the parser's rule does not give, a null footprint.
 */
static void test_render_fresh(const char *top)
{
	struct report_event ev[N_EDGES + 1];
	struct report r;
	struct store *s = NULL;
	struct store_ingest in = {.udid = "UR",
				  .path = "r.ips",
				  .size = 1,
				  .mtime_ns = 1,
				  .sha256 = "r1",
				  .report = &r,
				  .device_product = "iPhone99,1"};
	struct store_ingest_result res;
	char dir[256];
	cJSON *arr = NULL;

	edge_events(ev);
	ev[N_EDGES] = ev[5];
	ev[N_EDGES].footprint_bytes = REPORT_NULL; /* the rule would give one */
	ev[N_EDGES - 1].footprint_bytes = 7;	   /* not the rule's */
	r = mk_report("R-1", ev, N_EDGES + 1);
	r.product = NULL; /* the phone's */
	snprintf(dir, sizeof(dir), "%s/render", top);
	CHECK(mkdir(dir, 0700) == 0);
	ASSERT_EQ(store_open(dir, &s), 0);
	if (s == NULL)
		return;
	ASSERT_EQ(store_begin(s), 0);
	ASSERT_EQ(store_ingest(s, &in, &res), 0);
	ASSERT_EQ(store_commit(s), 0);
	ASSERT_EQ(store_report_events_json(s, res.report_id, &arr), 0);
	ASSERT_EQ(cJSON_GetArraySize(arr), N_EDGES + 1);
	for (int i = 0; arr && i < N_EDGES + 1; i++) {
		cJSON *want = store_event_json(&in, &ev[i], &res);
		char *w = want ? cJSON_PrintUnformatted(want) : NULL;

		ASSERT_STREQ(cJSON_GetArrayItem(arr, i)->valuestring, w);
		cJSON_free(w);
		cJSON_Delete(want);
	}
	cJSON_Delete(arr);
	store_close(s);
}

/* The idle memory goes back (cache, statements, strings) and queries answer as before. */
static void test_release_memory(const char *top)
{
	struct report_event ev[N_EDGES];
	struct report r;
	struct store *s = NULL;
	struct store_event_filter f = {.since = REPORT_NULL, .until = REPORT_NULL, .limit = 100};
	struct store_page pg;
	char dir[256], *before = NULL, *after = NULL;
	cJSON *arr = NULL;
	int cur = 0, hi = 0, prepared = 0;

	edge_events(ev);
	snprintf(dir, sizeof(dir), "%s/release", top);
	CHECK(mkdir(dir, 0700) == 0);
	ASSERT_EQ(store_open(dir, &s), 0);
	if (s == NULL)
		return;
	for (int i = 0; i < 50; i++) {
		char sha[16];

		snprintf(sha, sizeof(sha), "m%d", i);
		r = mk_report(sha, ev, N_EDGES);
		ASSERT_EQ(ingest(s, "UM", sha, &r, 0), 0);
	}
	ASSERT_EQ(store_events_json(s, &f, &arr, &pg), 0);
	before = cJSON_PrintUnformatted(arr);
	cJSON_Delete(arr);
	sqlite3_db_status(s->db, SQLITE_DBSTATUS_CACHE_USED, &cur, &hi, 0);
	CHECK(cur > 0);
	/* inside a transaction: nothing goes */
	ASSERT_EQ(store_begin(s), 0);
	store_release_memory(s);
	CHECK(s->st[ST_BEGIN] != NULL);
	ASSERT_EQ(store_rollback(s), 0);
	store_release_memory(s);
	for (int i = 0; i < ST__COUNT; i++)
		prepared += s->st[i] != NULL;
	ASSERT_EQ(prepared, 0);
	ASSERT_EQ(s->dict.n_text, 0);
	sqlite3_db_status(s->db, SQLITE_DBSTATUS_CACHE_USED, &hi, &prepared, 0);
	fprintf(stderr, "release: page cache %d bytes before, %d after\n", cur, hi);
	CHECK(hi < cur);
	ASSERT_EQ(store_events_json(s, &f, &arr, &pg), 0);
	after = cJSON_PrintUnformatted(arr);
	cJSON_Delete(arr);
	ASSERT_STREQ(after, before);
	free(before);
	free(after);
	store_close(s);
}

/* The first line where a and b differ (1-based), 0 when equal. */
static int first_diff_line(const char *a, const char *b)
{
	int line = 1;

	for (; *a && *a == *b; a++, b++)
		line += *a == '\n';
	return *a == *b ? 0 : line;
}

/* sql_path: a version 2 store's dump; replies_path: what the landed code replied. */
static void test_v2_migrated(const char *top, const char *sql_path, const char *replies_path)
{
	char dir[256], db[300], *sql = slurp(sql_path, NULL), *want = slurp(replies_path, NULL);
	char *got = NULL;
	struct store *s = NULL;
	sqlite3 *h = NULL;
	int line;

	CHECK(sql != NULL && want != NULL);
	snprintf(dir, sizeof(dir), "%s/v2", top);
	snprintf(db, sizeof(db), "%s/jetsamd.db", dir);
	CHECK(mkdir(dir, 0700) == 0);
	ASSERT_EQ(sqlite3_open(db, &h), SQLITE_OK);
	ASSERT_EQ(sqlite3_exec(h, sql ? sql : "", NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(h);
	ASSERT_EQ(store_open(dir, &s), 0);
	if (s && want) {
		ASSERT_EQ(db_int(s, "PRAGMA user_version"), 4);
		ASSERT_EQ(db_int(s, "PRAGMA freelist_count"), 0); /* compacted once */
		check_counts(s, db_int(s, "SELECT count(*) FROM reports"),
			     db_int(s, "SELECT count(*) FROM events"));
		got = replies(s);
		line = first_diff_line(got, want);
		if (line)
			fprintf(stderr, "migrated store: reply line %d differs\n", line);
		ASSERT_EQ(line, 0);
	}
	store_close(s);
	free(got);
	free(sql);
	free(want);
}

int main(int argc, char **argv)
{
	char dir[] = "/tmp/jt-store3-XXXXXX";
	char cmd[100];

	log_init(LOG_LEVEL_WARNING);
	CHECK(mkdtemp(dir) != NULL);
	test_counts(dir);
	test_render_fresh(dir);
	test_release_memory(dir);
	CHECK(argc == 3);
	if (argc == 3)
		test_v2_migrated(dir, argv[1], argv[2]);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	return CHECK_DONE();
}
#endif
