/* store.c: the SQLite (WAL) store: open/close, schema, transactions, the statement cache */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"
#include "store_internal.h"

/* the loop's own checkpoint is a safety net: workers checkpoint first (store_checkpoint) */
#define STORE_LOOP_CHECKPOINT_PAGES "16384"
/* the database is read through a map of up to this many bytes (PRAGMA mmap_size) */
#define STORE_MMAP_SIZE "268435456"

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS devices("
	" udid TEXT PRIMARY KEY, name TEXT, product TEXT, os_version TEXT, build TEXT,"
	" connection TEXT, attached INTEGER NOT NULL DEFAULT 0,"
	" state TEXT NOT NULL DEFAULT 'attached', error TEXT,"
	" first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, last_sync INTEGER);"
	"CREATE TABLE IF NOT EXISTS reports("
	" id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, udid TEXT, incident TEXT,"
	" path TEXT NOT NULL, size INTEGER NOT NULL, sha256 TEXT NOT NULL, archive TEXT,"
	" status TEXT NOT NULL, error TEXT, variant TEXT, bug_type TEXT, product TEXT,"
	" os_version TEXT, build TEXT, timestamp TEXT, time INTEGER,"
	" n_events INTEGER NOT NULL DEFAULT 0, collected INTEGER NOT NULL,"
	" removed INTEGER NOT NULL DEFAULT 0);"
	"CREATE INDEX IF NOT EXISTS reports_udid ON reports(udid, id);"
	"CREATE INDEX IF NOT EXISTS reports_status ON reports(status, id);"
	"CREATE TABLE IF NOT EXISTS events("
	" id INTEGER PRIMARY KEY, report_id INTEGER NOT NULL REFERENCES reports(id),"
	" seq INTEGER NOT NULL, udid TEXT, product TEXT, os_version TEXT, build TEXT,"
	" time INTEGER, process TEXT, reason TEXT, role TEXT, limit_bytes INTEGER,"
	" json TEXT NOT NULL);" /* json: the whole EVENT object of PROTOCOL.md */
	"CREATE INDEX IF NOT EXISTS events_time ON events(time);"
	"CREATE INDEX IF NOT EXISTS events_report ON events(report_id, seq);"
	"CREATE INDEX IF NOT EXISTS events_udid ON events(udid, time);"
	/* udid + role (a phone's foreground kills) without reading the rows of other roles */
	"CREATE INDEX IF NOT EXISTS events_udid_role ON events(udid, role, time);"

	"CREATE INDEX IF NOT EXISTS events_product ON events(product, build, time);"
	"CREATE INDEX IF NOT EXISTS events_process ON events(process, time);"
	"CREATE INDEX IF NOT EXISTS events_reason ON events(reason, time);"
	"CREATE INDEX IF NOT EXISTS events_limits ON events(product, build, role, limit_bytes)"
	" WHERE limit_bytes IS NOT NULL;"
	"CREATE TABLE IF NOT EXISTS files("
	" udid TEXT NOT NULL, path TEXT NOT NULL, size INTEGER NOT NULL,"
	" mtime_ns INTEGER, report_id INTEGER, removed INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY(udid, path)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS lim_values(product TEXT NOT NULL, build TEXT NOT NULL,"
	" role TEXT NOT NULL, limit_bytes INTEGER NOT NULL, n INTEGER NOT NULL,"
	" PRIMARY KEY(product, build, role, limit_bytes)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS lim_groups(product TEXT NOT NULL, build TEXT NOT NULL,"
	" role TEXT NOT NULL, os_version TEXT, first_seen INTEGER, last_seen INTEGER,"
	" phones INTEGER NOT NULL DEFAULT 0, processes TEXT NOT NULL DEFAULT '[]',"
	" PRIMARY KEY(product, build, role)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS lim_phones(product TEXT NOT NULL, build TEXT NOT NULL,"
	" role TEXT NOT NULL, udid TEXT NOT NULL,"
	" PRIMARY KEY(product, build, role, udid)) WITHOUT ROWID;"
	"CREATE TABLE IF NOT EXISTS lim_procs(product TEXT NOT NULL, build TEXT NOT NULL,"
	" role TEXT NOT NULL, process TEXT NOT NULL,"
	" PRIMARY KEY(product, build, role, process)) WITHOUT ROWID;"
	"INSERT OR IGNORE INTO meta(key, value) VALUES('schema', '1');";

/*
 * 1 -> 2: the collection cursor (protocol version 2). collected_at: host clock when the
 * report was committed; seq: its collection sequence (max + 1 at each commit, never reused).
 * Reports stored before get seq in id order and collected_at from collected. proc_names:
 * the distinct process names (with the bundle id an EXC_RESOURCE report gave them), which
 * the process filter matches before it asks for events.
 */
static const char schema_v2_sql[] =
	"ALTER TABLE reports ADD COLUMN collected_at INTEGER;"
	"ALTER TABLE reports ADD COLUMN seq INTEGER;"
	"UPDATE reports SET collected_at=collected, seq=id;"
	/* events carry their report's (queries read them without a join) */
	"ALTER TABLE events ADD COLUMN rseq INTEGER;"
	"ALTER TABLE events ADD COLUMN collected_at INTEGER;"
	"UPDATE events SET rseq=report_id,"
	" collected_at=(SELECT collected FROM reports WHERE id=events.report_id);"
	/* collection order: events in (rseq, seq) order from a cursor */
	"CREATE INDEX IF NOT EXISTS events_rseq ON events(rseq, seq);"
	"CREATE UNIQUE INDEX IF NOT EXISTS reports_seq ON reports(seq);"
	"CREATE INDEX IF NOT EXISTS reports_collected_at ON reports(collected_at);"
	/* the process filter's names: every process name (and bundle id seen with it) */
	"CREATE TABLE IF NOT EXISTS proc_names(name TEXT NOT NULL,"
	" bundle_id TEXT NOT NULL DEFAULT '', PRIMARY KEY(name, bundle_id)) WITHOUT ROWID;"
	"INSERT OR IGNORE INTO proc_names(name)"
	" SELECT DISTINCT process FROM events WHERE process IS NOT NULL;";

/*
 * 2 -> 3: a compact event row, and counts kept, not counted.
 * Events hold numbers: the strings they repeat (phone, product, build, role, process,
 * reason, uuid, the states array as JSON text) are ids into strs, and the facts of their
 * report (incident, os_version, timestamp) are read from it; the EVENT text is rendered
 * from the columns at query time (store_event.c), as it was stored before. footprint is
 * NULL when it is rpages * page_size (the parser's rule), the lowest integer when it is
 * null although that product exists. events_v shows the rows with their texts.
 * counts holds what `status` shows (reports, events) and devices.n_reports what DEVICE
 * shows, kept by triggers in the transaction of every write that changes them (ingest,
 * upgrade, reparse, import, a new device row): O(1) at any store size.
 */
static const char schema_v3_sql[] =
	"CREATE TABLE IF NOT EXISTS strs(id INTEGER PRIMARY KEY, s TEXT NOT NULL UNIQUE);"
	"CREATE TEMP TABLE ev2 AS SELECT id, report_id, seq, rseq, collected_at, time, udid,"
	" product, build, role, process, reason, limit_bytes,"
	" json_extract(json,'$.pid') AS pid, json_extract(json,'$.uuid') AS uuid,"
	" json_extract(json,'$.states') AS states, json_extract(json,'$.priority') AS priority,"
	" json_extract(json,'$.rpages') AS rpages, json_extract(json,'$.page_size') AS page_size,"
	" json_extract(json,'$.footprint_bytes') AS footprint,"
	" json_extract(json,'$.lifetime_max_pages') AS lifetime_max FROM events;"
	"INSERT OR IGNORE INTO strs(s) SELECT v FROM (SELECT udid AS v FROM ev2"
	" UNION SELECT product FROM ev2 UNION SELECT build FROM ev2 UNION SELECT role FROM ev2"
	" UNION SELECT process FROM ev2 UNION SELECT reason FROM ev2 UNION SELECT uuid FROM ev2"
	" UNION SELECT states FROM ev2) WHERE v IS NOT NULL ORDER BY v;"
	"DROP TABLE events;"
	"CREATE TABLE events(id INTEGER PRIMARY KEY, report_id INTEGER NOT NULL,"
	" seq INTEGER NOT NULL, rseq INTEGER, collected_at INTEGER, time INTEGER,"
	" udid INTEGER, product INTEGER, build INTEGER, role INTEGER, process INTEGER,"
	" reason INTEGER, limit_bytes INTEGER, pid INTEGER, uuid INTEGER, states INTEGER,"
	" priority INTEGER, rpages INTEGER, page_size INTEGER, footprint INTEGER,"
	" lifetime_max INTEGER);"
	"INSERT INTO events SELECT id, report_id, seq, rseq, collected_at, time,"
	" (SELECT id FROM strs WHERE s=udid), (SELECT id FROM strs WHERE s=product),"
	" (SELECT id FROM strs WHERE s=build), (SELECT id FROM strs WHERE s=role),"
	" (SELECT id FROM strs WHERE s=process), (SELECT id FROM strs WHERE s=reason),"
	" limit_bytes, pid, (SELECT id FROM strs WHERE s=uuid),"
	" (SELECT id FROM strs WHERE s=states), priority, rpages, page_size,"
	" CASE WHEN footprint IS NULL THEN -9223372036854775808"
	"  WHEN rpages>=0 AND page_size>0 AND footprint=rpages*page_size THEN NULL"
	"  ELSE footprint END, lifetime_max FROM ev2 ORDER BY id;"
	"DROP TABLE ev2;"
	/* the plans: newest first (time), collection order and a report's events (rseq: one
	 * report each), a phone's with its role in the key (no row read to test it), product
	 * and build, process, reason */
	"CREATE INDEX events_time ON events(time);"
	"CREATE INDEX events_rseq ON events(rseq, seq);"
	"CREATE INDEX events_udid ON events(udid, time, role);"
	"CREATE INDEX events_product ON events(product, build, time);"
	"CREATE INDEX events_process ON events(process, time);"
	"CREATE INDEX events_reason ON events(reason, time);"
	"CREATE VIEW events_v AS SELECT e.id, e.report_id, e.seq, e.rseq, e.collected_at, e.time,"
	" e.limit_bytes, u.s AS udid, p.s AS product, b.s AS build, ro.s AS role,"
	" pr.s AS process, re.s AS reason, r.os_version AS os_version"
	" FROM events e LEFT JOIN strs u ON u.id=e.udid LEFT JOIN strs p ON p.id=e.product"
	" LEFT JOIN strs b ON b.id=e.build LEFT JOIN strs ro ON ro.id=e.role"
	" LEFT JOIN strs pr ON pr.id=e.process LEFT JOIN strs re ON re.id=e.reason"
	" LEFT JOIN reports r ON r.id=e.report_id;"
	"CREATE TABLE IF NOT EXISTS counts(id INTEGER PRIMARY KEY CHECK(id=1),"
	" reports INTEGER NOT NULL, events INTEGER NOT NULL);"
	"INSERT OR REPLACE INTO counts(id,reports,events)"
	" VALUES(1,(SELECT count(*) FROM reports),(SELECT count(*) FROM events));"
	"ALTER TABLE devices ADD COLUMN n_reports INTEGER NOT NULL DEFAULT 0;"
	"UPDATE devices SET n_reports=(SELECT count(*) FROM reports r WHERE r.udid=devices.udid);"
	"CREATE TRIGGER counts_report AFTER INSERT ON reports BEGIN"
	" UPDATE counts SET reports=reports+1;"
	" UPDATE devices SET n_reports=n_reports+1 WHERE udid=new.udid; END;"
	"CREATE TRIGGER counts_report_udid AFTER UPDATE OF udid ON reports"
	" WHEN new.udid IS NOT old.udid BEGIN"
	" UPDATE devices SET n_reports=n_reports-1 WHERE udid=old.udid;"
	" UPDATE devices SET n_reports=n_reports+1 WHERE udid=new.udid; END;"
	/* a phone's reports stored before its device row (none in the daemon's own order) */
	"CREATE TRIGGER counts_device AFTER INSERT ON devices BEGIN"
	" UPDATE devices SET n_reports=(SELECT count(*) FROM reports r WHERE r.udid=new.udid)"
	" WHERE udid=new.udid; END;"
	"CREATE TRIGGER counts_event_add AFTER INSERT ON events BEGIN"
	" UPDATE counts SET events=events+1; END;"
	"CREATE TRIGGER counts_event_del AFTER DELETE ON events BEGIN"
	" UPDATE counts SET events=events-1; END;";

int store_db_err(struct store *s, const char *what)
{
	log_err("store", "%s failed: %s", what, sqlite3_errmsg(s->db));
	return -EIO;
}

sqlite3_stmt *store_stmt(struct store *s, enum stmt_id id, const char *sql)
{
	sqlite3_stmt *st = s->st[id];

	if (st == NULL) {
		if (sqlite3_prepare_v3(s->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &st, NULL) !=
		    SQLITE_OK) {
			store_db_err(s, "prepare");
			return NULL;
		}
		s->st[id] = st;
	} else {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	return st;
}

int store_run(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc;

	if (st == NULL)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE) {
		int r = store_db_err(s, what);

		sqlite3_reset(st);
		return r;
	}
	sqlite3_reset(st);
	return 0;
}

int64_t store_now(void)
{
	return (int64_t)time(NULL);
}

char *store_col_dup(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return t ? strdup((const char *)t) : NULL;
}

/*
 * Schema versions, stamped in the database header (PRAGMA user_version). Version 0 is an
 * empty file or a store written before the stamp existed (schema_sql as it was then, with
 * meta.schema = '1'): schema_sql creates only what is missing, so both become version 1.
 * migrations[v] takes a store from version v to v + 1; a new column or table is one more
 * entry here (ALTER TABLE ..., CREATE TABLE ...), run on every older store at its next open
 * and on a new one after schema_sql, which stays version 1 as it is.
 */
static const char *const migrations[] = {
	schema_sql,	  /* 0 -> 1 */
	schema_v2_sql,	  /* 1 -> 2 */
	schema_v3_sql,	  /* 2 -> 3: compact events, kept counts */
	store_outbox_sql, /* 3 -> 4: the fleet outbox (store_outbox.c) */
};

#define STORE_SCHEMA_VERSION ((int)(sizeof(migrations) / sizeof(migrations[0])))

static int user_version(struct store *s, int *v)
{
	sqlite3_stmt *st = store_stmt(s, ST_USER_VERSION, "PRAGMA user_version");
	int rc;

	if (st == NULL)
		return -EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*v = sqlite3_column_int(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : store_db_err(s, "schema version");
}

/* Script sql, logged as what on failure (-EIO). */
static int exec_script(struct store *s, const char *path, const char *sql, const char *what)
{
	char *msg = NULL;

	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) == SQLITE_OK)
		return 0;
	log_err("store", "cannot %s '%s': %s", what, path, msg ? msg : sqlite3_errmsg(s->db));
	sqlite3_free(msg);
	return -EIO;
}

/* Bring the schema to STORE_SCHEMA_VERSION, all steps in one transaction; *from: the
 * version it had. */
static int migrate(struct store *s, const char *path, int *from)
{
	char stamp[48];
	int v = 0, r = store_begin(s);

	if (r == 0)
		r = user_version(s, &v);
	*from = v;
	if (r == 0 && v > STORE_SCHEMA_VERSION) {
		log_err("store", "'%s' has schema version %d, newer than this jetsamd's %d", path,
			v, STORE_SCHEMA_VERSION);
		r = -ENOTSUP;
	}
	if (r == 0 && v > 0 && v < STORE_SCHEMA_VERSION)
		log_info("store", "'%s': schema version %d to %d", path, v, STORE_SCHEMA_VERSION);
	for (; r == 0 && v < STORE_SCHEMA_VERSION; v++) {
		snprintf(stamp, sizeof(stamp), "PRAGMA user_version=%d", v + 1);
		r = exec_script(s, path, migrations[v], "update the schema of");
		if (r == 0)
			r = exec_script(s, path, stamp, "stamp the schema version of");
	}
	if (r == 0)
		r = store_commit(s);
	if (r < 0)
		store_rollback(s);
	return r;
}

/* Connection settings and schema; 0 or a negative errno (logged). */
static int setup(struct store *s, const char *path)
{
	int from = 0, r;

	sqlite3_busy_timeout(s->db, 5000);
	if (exec_script(s, path,
			"PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			"PRAGMA wal_autocheckpoint=" STORE_LOOP_CHECKPOINT_PAGES ";"
			"PRAGMA foreign_keys=ON; PRAGMA cache_size=-16384;"
			"PRAGMA mmap_size=" STORE_MMAP_SIZE ";",
			"set up") < 0)
		return -EIO;
	if ((r = migrate(s, path, &from)) < 0)
		return r;
	/* version 3 rewrote the events of an older store compactly: give the space back once
	 * (an error leaves the free pages for later inserts) */
	if (from > 0 && from < 3) {
		log_info("store", "'%s': compacting after the schema update", path);
		if (exec_script(s, path, "VACUUM", "compact") < 0)
			log_warn("store", "'%s' not compacted: its free pages are used first",
				 path);
	}
	return 0;
}

int store_open(const char *state_dir, struct store **out)
{
	struct store *s;
	char path[PATH_MAX];
	int rc, r;

	*out = NULL;
	if (snprintf(path, sizeof(path), "%s/jetsamd.db", state_dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	s = calloc(1, sizeof(*s));
	if (s == NULL)
		return -ENOMEM;
	rc = sqlite3_open_v2(path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		log_err("store", "cannot open database '%s': %s", path,
			s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc));
		store_close(s);
		return -EIO;
	}
	if ((r = setup(s, path)) < 0) {
		store_close(s);
		return r;
	}
	if (store_limits_dirty(s)) {
		log_warn("store", "a reparse was interrupted: rebuilding the limits summaries");
		if (store_limits_rebuild(s) < 0) {
			store_close(s);
			return -EIO;
		}
	}
	*out = s;
	return 0;
}

void store_close(struct store *s)
{
	if (s == NULL)
		return;
	for (int i = 0; i < ST__COUNT; i++)
		sqlite3_finalize(s->st[i]);
	store_dict_reset(s);
	if (s->db) {
		sqlite3_exec(s->db, "PRAGMA optimize", NULL, NULL, NULL);
		sqlite3_close(s->db);
	}
	free(s);
}

void store_release_memory(struct store *s)
{
	if (s == NULL || !sqlite3_get_autocommit(s->db))
		return; /* never inside a transaction */
	/* prepared statements come back on their next use (store_stmt()) */
	for (int i = 0; i < ST__COUNT; i++) {
		sqlite3_finalize(s->st[i]);
		s->st[i] = NULL;
	}
	store_dict_reset(s);
	/* no malloc_trim() here: it holds every malloc arena while it walks them (the loop
	 * would wait); returning freed memory to the kernel is the allocator's policy */
	sqlite3_db_release_memory(s->db);
	/* a new mmap_size unmaps the database and maps it again untouched: the pages queries
	 * read through the map leave this process's RSS (they stay in the page cache) */
	sqlite3_exec(s->db, "PRAGMA mmap_size=0", NULL, NULL, NULL);
	sqlite3_exec(s->db, "PRAGMA mmap_size=" STORE_MMAP_SIZE, NULL, NULL, NULL);
}

/* ---- transactions (loop thread) ---- */

int store_begin(struct store *s)
{
	store_event_forget(s); /* a write may change the facts of reports shown with events */
	return store_run(s, store_stmt(s, ST_BEGIN, "BEGIN IMMEDIATE"), "begin");
}

int store_commit(struct store *s)
{
	return store_run(s, store_stmt(s, ST_COMMIT, "COMMIT"), "commit");
}

int store_rollback(struct store *s)
{
	store_dict_reset(s); /* ids it handed out may be rolled back */
	if (sqlite3_get_autocommit(s->db))
		return 0;
	return store_run(s, store_stmt(s, ST_ROLLBACK, "ROLLBACK"), "rollback");
}
