/* test-fleet.c: unit tests of the fleet's pure parts and the store outbox (no PostgreSQL) */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <sys/stat.h>

#include <cjson/cJSON.h>

#include "../../daemon/fleet_pg.h"
#include "../../daemon/fleet_rows.h"
#include "../../daemon/fleetschema.h"
#include "../../daemon/log.h"
#include "../../daemon/store.h"
#include "../../daemon/store_outbox.h"
#include "check.h"

/* ---- COPY text ---- */

static void test_copy_text(void)
{
	struct fleet_buf b = {0};
	static const unsigned char bytes[] = {0x00, 0xff, 0x5c};

	ASSERT_EQ(fleet_buf_field(&b, "a\tb\\c\nd\re", 1), 0);
	ASSERT_EQ(fleet_buf_field(&b, NULL, 0), 0);
	ASSERT_EQ(fleet_buf_field(&b, "", 0), 0);
	ASSERT_EQ(fleet_buf_bytea(&b, bytes, sizeof(bytes)), 0);
	ASSERT_STREQ(b.data, "a\\tb\\\\c\\nd\\re\t\\N\t\t\\\\x00ff5c");
	/* not UTF-8 (a report's bytes): each bad byte becomes U+FFFD */
	b.len = 0;
	ASSERT_EQ(fleet_buf_field(&b,
				  "a\xff\xfe"
				  "b\xc3\xa9",
				  1),
		  0);
	ASSERT_STREQ(b.data, "a\xef\xbf\xbd\xef\xbf\xbd"
			     "b\xc3\xa9");
	free(b.data);
}

static void test_rows(void)
{
	struct fleet_batch bt = {0};
	cJSON *dev = cJSON_Parse(
		"{\"udid\":\"U1\",\"name\":\"Lab\\tphone\",\"product\":\"iPhone15,2\",\"os_"
		"version\":"
		"\"18.5\",\"build\":\"22F76\",\"connection\":\"USB\",\"attached\":true,\"state\":"
		"\"idle\",\"error\":null,\"first_seen\":\"2026-01-02T03:04:05Z\",\"last_seen\":"
		"\"2026-01-02T03:04:06Z\",\"last_sync\":null,\"reports\":3,\"product_name\":"
		"\"x\"}");
	cJSON *rep = cJSON_Parse(
		"{\"id\":7,\"udid\":\"U1\",\"key\":\"incident:AB\",\"incident\":\"AB\",\"path\":"
		"\"JetsamEvent-1.ips\",\"size\":1234,\"sha256\":\"ff\",\"status\":\"ok\",\"error\":"
		"null,"
		"\"variant\":\"J3\",\"product\":\"iPhone15,2\",\"os_version\":\"18.5\",\"build\":"
		"\"22F76\",\"timestamp\":\"2026-01-02 03:04:05.00 "
		"+0000\",\"events\":2,\"collected\":"
		"\"2026-01-02T03:05:00Z\",\"removed_from_device\":false,\"collected_at\":"
		"\"2026-01-02T03:06:00Z\",\"seq\":4,\"conflict\":false}");
	const char *ev_text = "{\"process\":\"Game\",\"pid\":42,\"uuid\":null,\"reason\":"
			      "\"per-process-limit\",\"role\":\"foreground\",\"priority\":10,"
			      "\"rpages\":100,\"page_size\":16384,\"footprint_bytes\":1638400,"
			      "\"limit_bytes\":3221225472,\"lifetime_max_pages\":null,"
			      "\"udid\":\"U1\",\"product\":\"iPhone15,2\",\"os_version\":\"18.5\","
			      "\"build\":\"22F76\",\"time\":\"2026-01-02T03:04:05Z\"}";
	cJSON *ev = cJSON_Parse(ev_text), *odd = cJSON_Parse("{\"role\":\"idle-exit\"}");

	ASSERT_EQ(fleet_rows_device(&bt.copy[FLEET_DEVICES], "h1", dev), 0);
	ASSERT_STREQ(bt.copy[FLEET_DEVICES].data,
		     "h1\tU1\tLab\\tphone\tiPhone15,2\t18.5\t22F76\tUSB\tt\tidle\t\\N\t"
		     "2026-01-02T03:04:05Z\t2026-01-02T03:04:06Z\t\\N\t3\n");
	ASSERT_EQ(fleet_rows_report(&bt.copy[FLEET_REPORTS], "h1", rep, "2026-01-02T03:04:05Z",
				    NULL, NULL, 0),
		  0);
	ASSERT_STREQ(bt.copy[FLEET_REPORTS].data,
		     "h1\tincident:AB\tAB\tU1\tJetsamEvent-1.ips\t1234\tff\tok\t\\N\tJ3\t"
		     "iPhone15,2\t18.5\t22F76\t2026-01-02 03:04:05.00 +0000\t2026-01-02T03:04:05Z\t"
		     "2\t2026-01-02T03:06:00Z\tf\t\\N\t\\N\n");
	ASSERT_EQ(fleet_rows_event(&bt.copy[FLEET_EVENTS], "h1", "incident:AB", 1, ev, "{\"a\":1}"),
		  0);
	ASSERT_STREQ(bt.copy[FLEET_EVENTS].data,
		     "h1\tincident:AB\t1\tU1\tiPhone15,2\t18.5\t22F76\t2026-01-02T03:04:05Z\tGame\t"
		     "42\t\\N\tper-process-limit\tforeground\t10\t100\t16384\t1638400\t3221225472\t"
		     "\\N\t{\"a\":1}\n");
	/* numbers past the column's type ship as NULL (int4 pid and priority, bigint) */
	bt.copy[FLEET_EVENTS].len = 0;
	cJSON_ReplaceItemInObject(ev, "pid", cJSON_CreateNumber(4294967296.0));
	cJSON_ReplaceItemInObject(ev, "priority", cJSON_CreateNumber(-2147483648.0));
	cJSON_ReplaceItemInObject(ev, "rpages", cJSON_CreateNumber(1e30));
	ASSERT_EQ(fleet_rows_event(&bt.copy[FLEET_EVENTS], "h", "k", 0, ev, "{}"), 0);
	ASSERT_STREQ(bt.copy[FLEET_EVENTS].data,
		     "h\tk\t0\tU1\tiPhone15,2\t18.5\t22F76\t2026-01-02T03:04:05Z\tGame\t\\N\t"
		     "\\N\tper-process-limit\tforeground\t-2147483648\t\\N\t16384\t1638400\t"
		     "3221225472\t\\N\t{}\n");
	/* a year PostgreSQL has not (a hostile report's time) ships as NULL */
	bt.copy[FLEET_EVENTS].len = 0;
	cJSON_ReplaceItemInObject(ev, "time", cJSON_CreateString("0000-01-01T00:00:00Z"));
	ASSERT_EQ(fleet_rows_event(&bt.copy[FLEET_EVENTS], "h", "k", 0, ev, "{}"), 0);
	CHECK(strstr(bt.copy[FLEET_EVENTS].data, "0000-") == NULL);
	/* a role PostgreSQL's check does not know ships as NULL */
	bt.copy[FLEET_EVENTS].len = 0;
	ASSERT_EQ(fleet_rows_event(&bt.copy[FLEET_EVENTS], "h1", "k", 0, odd, "{}"), 0);
	CHECK(strstr(bt.copy[FLEET_EVENTS].data, "idle-exit") == NULL);
	/* no key / no udid: refused */
	ASSERT_EQ(fleet_rows_device(&bt.copy[FLEET_DEVICES], "h1", odd), -EINVAL);
	ASSERT_EQ(fleet_rows_report(&bt.copy[FLEET_REPORTS], "h1", odd, NULL, NULL, NULL, 0),
		  -EINVAL);
	fleet_batch_release(&bt);
	CHECK(bt.copy[0].data == NULL);
	fleet_batch_release(NULL);
	cJSON_Delete(dev);
	cJSON_Delete(rep);
	cJSON_Delete(ev);
	cJSON_Delete(odd);
}

/* ---- libpq parameters, the built-in schema ---- */

static void test_params_and_schema(void)
{
	struct fleet_pg_conf conf = {"host=/run/pg dbname=jetsam", "/etc/jetsamd/pgpass", "h1",
				     "box", "jetsamd 0.1.0"};
	const char *k[16], *v[16];
	int n = fleet_pg_params(&conf, k, v, 16), dbname = -1, timeout = -1;

	CHECK(n > 0 && k[n] == NULL && v[n] == NULL);
	for (int i = 0; i < n; i++) {
		if (strcmp(k[i], "dbname") == 0)
			dbname = i;
		if (strcmp(k[i], "connect_timeout") == 0)
			timeout = i;
		CHECK(strcmp(k[i], "password") != 0);
	}
	/* bounded waits first, so the conninfo may override them; the passfile after it */
	CHECK(timeout >= 0 && dbname > timeout);
	ASSERT_STREQ(v[dbname], conf.conninfo);
	ASSERT_STREQ(k[n - 1], "passfile");
	ASSERT_STREQ(v[n - 1], "/etc/jetsamd/pgpass");
	conf.passfile = "";
	ASSERT_EQ(fleet_pg_params(&conf, k, v, 16), n - 1);
	ASSERT_EQ(fleet_pg_params(&conf, k, v, 4), -ENOSPC);

	CHECK(fleet_schema_count >= 2);
	for (unsigned i = 0; i < fleet_schema_count; i++) {
		ASSERT_EQ(fleet_schema_files[i].version, (int)i + 1);
		CHECK(strstr(fleet_schema_files[i].sql, "BEGIN;") != NULL);
		CHECK(strstr(fleet_schema_files[i].sql, "COMMIT;") != NULL);
	}
	ASSERT_STREQ(fleet_schema_files[0].name, "001_init");
}

/* ---- the store outbox ---- */

static struct report_event events[3];
static struct report rep;

/* a report of n events (incident inc) committed from phone U1 */
static int ingest(struct store *s, char *inc, const char *sha, size_t n)
{
	struct store_ingest_result res;
	struct store_ingest in = {.udid = "U1",
				  .path = inc,
				  .size = 10,
				  .mtime_ns = 1,
				  .sha256 = sha,
				  .archive = "archive/none.ips",
				  .report = &rep};
	int r;

	memset(&rep, 0, sizeof(rep));
	for (size_t i = 0; i < 3; i++) {
		memset(&events[i], 0, sizeof(events[i]));
		events[i].process = "Game";
		events[i].role = REPORT_ROLE_FOREGROUND;
		events[i].pid = events[i].priority = events[i].rpages = REPORT_NULL;
		events[i].page_size = events[i].footprint_bytes = REPORT_NULL;
		events[i].limit_bytes = (int64_t)(i + 1) << 20;
		events[i].lifetime_max_pages = REPORT_NULL;
	}
	rep.status = REPORT_OK;
	rep.incident = inc;
	rep.product = "iPhone15,2";
	rep.build = "22F76";
	rep.timestamp_epoch = 1700000000;
	rep.error_offset = REPORT_NULL;
	rep.events = events;
	rep.n_events = n;
	r = store_begin(s);
	if (r == 0)
		r = store_ingest(s, &in, &res);
	if (r == 0)
		r = store_commit(s);
	else
		store_rollback(s);
	return r;
}

static int64_t depth(struct store *s)
{
	int64_t n = -1;

	ASSERT_EQ(store_outbox_depth(s, &n), 0);
	return n;
}

static int count_lines(const struct fleet_buf *b)
{
	int n = 0;

	for (size_t i = 0; i < b->len; i++)
		n += b->data[i] == '\n';
	return n;
}

static void test_outbox(const char *dir)
{
	struct store_outbox_opts o = {.host_id = "h1", .state_dir = dir, .max_events = 4};
	struct fleet_batch b;
	struct store *s = NULL;
	int64_t upto;

	ASSERT_EQ(store_open(dir, &s), 0);
	/* not shipping: commits queue nothing */
	ASSERT_EQ(ingest(s, "I0", "00", 1), 0);
	ASSERT_EQ(store_device_set_state(s, "U1", "idle", 1, NULL, NULL), 0);
	ASSERT_EQ(depth(s), 0);
	/* on: the whole store, devices first, then reports by collection */
	ASSERT_EQ(store_outbox_configure(s, "h1"), 0);
	ASSERT_EQ(depth(s), 2);
	ASSERT_EQ(store_outbox_configure(s, "h1"), 0); /* same id: nothing again */
	ASSERT_EQ(depth(s), 2);
	/* every commit queues in its own transaction: three reports of 3 events, a device */
	ASSERT_EQ(ingest(s, "I1", "01", 3), 0);
	ASSERT_EQ(ingest(s, "I2", "02", 3), 0);
	ASSERT_EQ(ingest(s, "I1", "01", 3), 0); /* a duplicate changes no report row */
	ASSERT_EQ(depth(s), 4);
	ASSERT_EQ(ingest(s, "I3", "03", 2), 0);
	ASSERT_EQ(depth(s), 5);
	/* each report commit also changes U1's kept report count (devices.n_reports, schema 3),
	 * which moves U1 to the end: I0, I1, I2, I3, U1. The first batch: I0 (1 event) and
	 * I1 (3): 4 events, the limit */
	ASSERT_EQ(store_outbox_read(s, &o, &b), 0);
	ASSERT_EQ(b.depth, 5);
	ASSERT_EQ(b.entries, 2);
	ASSERT_EQ(b.rows[FLEET_DEVICES], 0);
	ASSERT_EQ(b.rows[FLEET_REPORTS], 2);
	ASSERT_EQ(b.rows[FLEET_EVENTS], 4);
	ASSERT_EQ(count_lines(&b.copy[FLEET_EVENTS]), 4);
	CHECK(b.copy[FLEET_DEVICES].data == NULL);
	CHECK(strstr(b.copy[FLEET_REPORTS].data, "h1\tincident:I0\tI0\tU1\t") != NULL);
	CHECK(strstr(b.copy[FLEET_REPORTS].data, "2023-11-14T22:13:20Z") != NULL); /* time */
	CHECK(strstr(b.copy[FLEET_EVENTS].data, "h1\tincident:I1\t2\t") != NULL);
	upto = b.upto;
	fleet_batch_release(&b);
	/* the device changes while the batch is on the way: it is queued again, at the end */
	ASSERT_EQ(store_device_set_state(s, "U1", "syncing", 1, NULL, NULL), 0);
	ASSERT_EQ(store_outbox_done(s, upto), 0);
	ASSERT_EQ(depth(s), 3); /* I2, I3, U1 */
	ASSERT_EQ(store_outbox_read(s, &o, &b), 0);
	ASSERT_EQ(b.entries, 2); /* I2 (3), I3 (2): past the limit, one report at a time */
	ASSERT_EQ(b.rows[FLEET_EVENTS], 5);
	CHECK(b.copy[FLEET_DEVICES].data == NULL);
	ASSERT_EQ(store_outbox_done(s, b.upto), 0);
	fleet_batch_release(&b);
	ASSERT_EQ(store_outbox_read(s, &o, &b), 0);
	ASSERT_EQ(b.entries, 1);
	CHECK(strstr(b.copy[FLEET_DEVICES].data, "\tsyncing\t") != NULL);
	ASSERT_EQ(store_outbox_done(s, b.upto), 0);
	fleet_batch_release(&b);
	ASSERT_EQ(store_outbox_read(s, &o, &b), 0);
	ASSERT_EQ(b.upto, 0);
	ASSERT_EQ(b.depth, 0);
	/* a removal mark is a report change */
	ASSERT_EQ(store_file_mark_removed(s, "U1", "I3"), 0);
	ASSERT_EQ(depth(s), 1);
	/* another host id: everything again; off: nothing kept, nothing queued */
	ASSERT_EQ(store_outbox_configure(s, "h2"), 0);
	ASSERT_EQ(depth(s), 5);
	ASSERT_EQ(store_outbox_configure(s, NULL), 0);
	ASSERT_EQ(depth(s), 0);
	ASSERT_EQ(ingest(s, "I4", "04", 1), 0);
	ASSERT_EQ(depth(s), 0);
	store_close(s);
}

int main(void)
{
	char dir[] = "/tmp/jt-fleet-XXXXXX";

	log_set_level(LOG_LEVEL_ERR);
	test_copy_text();
	test_rows();
	test_params_and_schema();
	if (mkdtemp(dir) == NULL)
		return 1;
	test_outbox(dir);
	{
		char cmd[300];

		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		if (system(cmd) != 0)
			fprintf(stderr, "cannot remove %s\n", dir);
	}
	return CHECK_DONE();
}
