/* store.c: the SQLite (WAL) store of devices, reports, events and per-phone file indexes */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "../proto/report_json.h"
#include "log.h"
#include "store.h"

/*
 * DESIGN
 * Tables: devices, reports (one row per report key), events (one row per kill event, with
 * the report's effective product/build/time copied in for filtering, and the event's JSON
 * as jetsamctl parse prints it), files (per-phone index, WITHOUT ROWID on (udid, path)).
 *
 * The limits query must stay fast with millions of events, so ingestion also maintains
 * small summary tables keyed by (product, build, role): lim_values holds a histogram of
 * limit_bytes (the median is read from it), lim_phones and lim_procs the distinct phones
 * and processes, lim_groups the first/last time and OS version. Reports are never
 * deleted; reparse rebuilds the summaries from the events.
 */

/* the loop's own checkpoint is a safety net: workers checkpoint first (store_checkpoint) */
#define STORE_LOOP_CHECKPOINT_PAGES "16384"

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_DEV_UPSERT,
	ST_DEV_STATE,
	ST_DEV_SYNCED,
	ST_REPORT_BY_KEY,
	ST_REPORT_INSERT,
	ST_EVENT_INSERT,
	ST_FILE_UPSERT,
	ST_FILE_REMOVED,
	ST_REPORT_REMOVED,
	ST_LIM_VALUE,
	ST_LIM_GROUP,
	ST_LIM_PHONE,
	ST_LIM_PROC,
	ST_LIM_PHONES_INC,
	ST_LIM_PROCS_SET,
	ST_DEV_GET,
	ST_REPORT_GET,
	ST_REPORT_EVENTS,
	ST__COUNT,
};

struct store {
	sqlite3 *db;
	sqlite3_stmt *st[ST__COUNT];
	/* status counts, kept up to date by ingest; recounted after a rollback or a reparse */
	int counts_valid;
	int64_t n_reports, n_events;
};

static const char *const stmt_sql[ST__COUNT] = {
	[ST_BEGIN] = "BEGIN IMMEDIATE",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_DEV_UPSERT] =
		"INSERT INTO devices(udid,name,product,os_version,build,connection,first_seen,"
		"last_seen) VALUES(?1,?2,?3,?4,?5,?6,?7,?7) ON CONFLICT(udid) DO UPDATE SET "
		"name=coalesce(?2,name),product=coalesce(?3,product),"
		"os_version=coalesce(?4,os_version),build=coalesce(?5,build),"
		"connection=coalesce(?6,connection),last_seen=?7",
	[ST_DEV_STATE] = "INSERT INTO devices(udid,state,attached,error,first_seen,last_seen) "
			 "VALUES(?1,?2,?3,?4,?5,?5) ON CONFLICT(udid) DO UPDATE SET state=?2,"
			 "attached=?3,error=?4,last_seen=CASE WHEN ?3 THEN ?5 ELSE last_seen END",
	[ST_DEV_SYNCED] = "UPDATE devices SET last_sync=?2 WHERE udid=?1",
	[ST_REPORT_BY_KEY] = "SELECT id FROM reports WHERE key=?1",
	[ST_REPORT_INSERT] =
		"INSERT INTO reports(key,udid,incident,path,size,sha256,archive,status,error,"
		"variant,bug_type,product,os_version,build,timestamp,time,n_events,collected) "
		"VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17,?18)",
	[ST_EVENT_INSERT] = "INSERT INTO events(report_id,seq,udid,product,os_version,build,time,"
			    "process,reason,role,limit_bytes,json) "
			    "VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12)",
	[ST_FILE_UPSERT] =
		"INSERT OR REPLACE INTO files(udid,path,size,mtime_ns,report_id,removed) "
		"VALUES(?1,?2,?3,?4,?5,0)",
	[ST_FILE_REMOVED] = "UPDATE files SET removed=1 WHERE udid=?1 AND path=?2 "
			    "RETURNING report_id",
	[ST_REPORT_REMOVED] = "UPDATE reports SET removed=1 WHERE id=?1",
	[ST_LIM_VALUE] = "INSERT INTO lim_values(product,build,role,limit_bytes,n) "
			 "VALUES(?1,?2,?3,?4,1) ON CONFLICT DO UPDATE SET n=n+1",
	[ST_LIM_GROUP] =
		"INSERT INTO lim_groups(product,build,role,os_version,first_seen,last_seen) "
		"VALUES(?1,?2,?3,?4,?5,?5) ON CONFLICT DO UPDATE SET "
		"first_seen=min(first_seen,?5),last_seen=max(last_seen,?5),"
		"os_version=coalesce(os_version,?4)",
	[ST_LIM_PHONE] = "INSERT OR IGNORE INTO lim_phones(product,build,role,udid) "
			 "VALUES(?1,?2,?3,?4)",
	[ST_LIM_PROC] = "INSERT OR IGNORE INTO lim_procs(product,build,role,process) "
			"VALUES(?1,?2,?3,?4)",
	[ST_LIM_PHONES_INC] = "UPDATE lim_groups SET phones=phones+1 "
			      "WHERE product=?1 AND build=?2 AND role=?3",
	[ST_LIM_PROCS_SET] =
		"UPDATE lim_groups SET processes=(SELECT json_group_array(process) "
		"FROM (SELECT process FROM lim_procs WHERE product=?1 AND build=?2 "
		"AND role=?3 ORDER BY process)) WHERE product=?1 AND build=?2 AND role=?3",
	[ST_DEV_GET] = "SELECT udid,name,product,os_version,build,connection,attached,state,error,"
		       "first_seen,last_seen,last_sync,"
		       "(SELECT count(*) FROM reports r WHERE r.udid=d.udid) "
		       "FROM devices d WHERE udid=?1",
	[ST_REPORT_GET] = "SELECT id,udid,key,incident,path,size,sha256,status,error,variant,"
			  "product,os_version,build,timestamp,n_events,collected,removed "
			  "FROM reports WHERE id=?1",
	[ST_REPORT_EVENTS] = "SELECT json FROM events WHERE report_id=?1 ORDER BY seq",
};

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

static int db_err(struct store *s, const char *what)
{
	log_err("store", "%s failed: %s", what, sqlite3_errmsg(s->db));
	return -EIO;
}

static sqlite3_stmt *stmt(struct store *s, enum stmt_id id)
{
	sqlite3_stmt *st = s->st[id];

	if (st == NULL) {
		if (sqlite3_prepare_v3(s->db, stmt_sql[id], -1, SQLITE_PREPARE_PERSISTENT, &st,
				       NULL) != SQLITE_OK) {
			db_err(s, "prepare");
			return NULL;
		}
		s->st[id] = st;
	} else {
		sqlite3_reset(st);
		sqlite3_clear_bindings(st);
	}
	return st;
}

static int bind_text(sqlite3_stmt *st, int i, const char *v)
{
	return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

static int bind_int(sqlite3_stmt *st, int i, int64_t v)
{
	return v != REPORT_NULL ? sqlite3_bind_int64(st, i, v) : sqlite3_bind_null(st, i);
}

/* Run a prepared statement that returns no row we need. */
static int run(struct store *s, sqlite3_stmt *st, const char *what)
{
	int rc;

	if (st == NULL)
		return -EIO;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	if (rc != SQLITE_DONE) {
		int r = db_err(s, what);

		sqlite3_reset(st);
		return r;
	}
	sqlite3_reset(st);
	return 0;
}

static int64_t now_s(void)
{
	return (int64_t)time(NULL);
}

static int limits_dirty(struct store *s)
{
	sqlite3_stmt *st;
	int dirty = 0;

	if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM meta WHERE key='limits_dirty'", -1, &st,
			       NULL) != SQLITE_OK)
		return 0;
	dirty = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_finalize(st);
	return dirty;
}

int store_open(const char *state_dir, struct store **out)
{
	struct store *s;
	char path[PATH_MAX];
	char *msg = NULL;
	int rc;

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
	sqlite3_busy_timeout(s->db, 5000);
	rc = sqlite3_exec(s->db,
			  "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;"
			  "PRAGMA wal_autocheckpoint=" STORE_LOOP_CHECKPOINT_PAGES ";"
			  "PRAGMA foreign_keys=ON; PRAGMA cache_size=-16384;"
			  "PRAGMA mmap_size=268435456;",
			  NULL, NULL, &msg);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db, schema_sql, NULL, NULL, &msg);
	if (rc != SQLITE_OK) {
		log_err("store", "cannot set up database '%s': %s", path, msg ? msg : "?");
		sqlite3_free(msg);
		store_close(s);
		return -EIO;
	}
	if (limits_dirty(s)) {
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
	if (s->db) {
		sqlite3_exec(s->db, "PRAGMA optimize", NULL, NULL, NULL);
		sqlite3_close(s->db);
	}
	free(s);
}

/* ---- durability (worker threads; file operations and a private connection) ---- */

static int fsync_path(const char *path, int flags)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | flags);
	int r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int store_sync_durable(const char *state_dir)
{
	char db[PATH_MAX], wal[PATH_MAX];
	int r;

	if (snprintf(db, sizeof(db), "%s/jetsamd.db", state_dir) >= (int)sizeof(db) ||
	    snprintf(wal, sizeof(wal), "%s/jetsamd.db-wal", state_dir) >= (int)sizeof(wal))
		return -ENAMETOOLONG;
	/* first the log, where the commits are; then what a checkpoint may have copied */
	r = fsync_path(wal, 0);
	if (r < 0 && r != -ENOENT) {
		log_err("store", "cannot fsync '%s': %s", wal, strerror(-r));
		return r;
	}
	/* no log: no connection is open and the database file holds every commit */
	r = fsync_path(db, 0);
	if (r == 0)
		r = fsync_path(state_dir, O_DIRECTORY);
	if (r < 0)
		log_err("store", "cannot make '%s' durable: %s", db, strerror(-r));
	return r;
}

int store_checkpoint(const char *state_dir, int64_t min_wal_bytes, int *frames)
{
	char db[PATH_MAX], wal[PATH_MAX];
	sqlite3 *h = NULL;
	struct stat st;
	int n_log = 0, n_done = 0, rc, r = 0;

	if (frames)
		*frames = 0;
	if (snprintf(db, sizeof(db), "%s/jetsamd.db", state_dir) >= (int)sizeof(db) ||
	    snprintf(wal, sizeof(wal), "%s/jetsamd.db-wal", state_dir) >= (int)sizeof(wal))
		return -ENAMETOOLONG;
	if (stat(wal, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if ((int64_t)st.st_size < min_wal_bytes)
		return 0;
	rc = sqlite3_open_v2(db, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(h, "PRAGMA synchronous=FULL", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_wal_checkpoint_v2(h, NULL, SQLITE_CHECKPOINT_PASSIVE, &n_log, &n_done);
	if (rc != SQLITE_OK && rc != SQLITE_BUSY) {
		log_err("store", "cannot checkpoint '%s': %s", db,
			h ? sqlite3_errmsg(h) : sqlite3_errstr(rc));
		r = -EIO;
	} else {
		log_debug("store", "checkpoint: %d of %d log frames in the database", n_done,
			  n_log);
		if (frames)
			*frames = n_done;
	}
	sqlite3_close(h);
	return r;
}

/* ---- transactions (loop thread) ---- */

int store_begin(struct store *s)
{
	return run(s, stmt(s, ST_BEGIN), "begin");
}

int store_commit(struct store *s)
{
	return run(s, stmt(s, ST_COMMIT), "commit");
}

int store_rollback(struct store *s)
{
	s->counts_valid = 0;
	if (sqlite3_get_autocommit(s->db))
		return 0;
	return run(s, stmt(s, ST_ROLLBACK), "rollback");
}

/* ---- devices ---- */

int store_device_upsert(struct store *s, const char *udid, const char *name, const char *product,
			const char *os_version, const char *build, const char *connection)
{
	sqlite3_stmt *st = stmt(s, ST_DEV_UPSERT);

	if (st == NULL || udid == NULL)
		return st ? -EINVAL : -EIO;
	bind_text(st, 1, udid);
	bind_text(st, 2, name);
	bind_text(st, 3, product);
	bind_text(st, 4, os_version);
	bind_text(st, 5, build);
	bind_text(st, 6, connection);
	sqlite3_bind_int64(st, 7, now_s());
	return run(s, st, "device upsert");
}

int store_device_set_state(struct store *s, const char *udid, const char *state, int attached,
			   const char *error)
{
	sqlite3_stmt *st = stmt(s, ST_DEV_STATE);

	if (st == NULL || udid == NULL || state == NULL)
		return st ? -EINVAL : -EIO;
	bind_text(st, 1, udid);
	bind_text(st, 2, state);
	sqlite3_bind_int(st, 3, attached ? 1 : 0);
	bind_text(st, 4, error);
	sqlite3_bind_int64(st, 5, now_s());
	return run(s, st, "device state");
}

int store_device_set_synced(struct store *s, const char *udid, int64_t when)
{
	sqlite3_stmt *st = stmt(s, ST_DEV_SYNCED);

	if (st == NULL)
		return -EIO;
	bind_text(st, 1, udid);
	sqlite3_bind_int64(st, 2, when);
	return run(s, st, "device synced");
}

int store_devices_mark_all_detached(struct store *s)
{
	if (sqlite3_exec(s->db, "UPDATE devices SET attached=0, state='detached'", NULL, NULL,
			 NULL) != SQLITE_OK)
		return db_err(s, "mark detached");
	return 0;
}

/* ---- file index ---- */

int store_file_index_load(struct store *s, const char *udid, struct store_file_index *out)
{
	sqlite3_stmt *st = NULL;
	size_t cap = 0;
	int rc, r = 0;

	memset(out, 0, sizeof(*out));
	if (sqlite3_prepare_v2(s->db,
			       "SELECT path,size,mtime_ns,report_id,removed FROM files "
			       "WHERE udid=?1 ORDER BY path",
			       -1, &st, NULL) != SQLITE_OK)
		return db_err(s, "file index load");
	bind_text(st, 1, udid);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_file_entry *e;

		if (out->n == cap) {
			size_t ncap = cap ? cap * 2 : 64;
			struct store_file_entry *nv = realloc(out->v, ncap * sizeof(*nv));

			if (nv == NULL) {
				r = -ENOMEM;
				break;
			}
			out->v = nv;
			cap = ncap;
		}
		e = &out->v[out->n];
		e->path = strdup((const char *)sqlite3_column_text(st, 0));
		if (e->path == NULL) {
			r = -ENOMEM;
			break;
		}
		e->size = sqlite3_column_int64(st, 1);
		e->mtime_ns = sqlite3_column_type(st, 2) == SQLITE_NULL
				      ? REPORT_NULL
				      : sqlite3_column_int64(st, 2);
		e->report_id =
			sqlite3_column_type(st, 3) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 3);
		e->removed = sqlite3_column_int(st, 4);
		out->n++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = db_err(s, "file index load");
	sqlite3_finalize(st);
	if (r < 0)
		store_file_index_release(out);
	return r;
}

void store_file_index_release(struct store_file_index *idx)
{
	for (size_t i = 0; i < idx->n; i++)
		free(idx->v[i].path);
	free(idx->v);
	idx->v = NULL;
	idx->n = 0;
}

const struct store_file_entry *store_file_index_find(const struct store_file_index *idx,
						     const char *path)
{
	size_t lo = 0, hi = idx->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(idx->v[mid].path, path);

		if (c == 0)
			return &idx->v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int store_file_mark_removed(struct store *s, const char *udid, const char *path)
{
	sqlite3_stmt *st = stmt(s, ST_FILE_REMOVED);
	int64_t report_id = 0;
	int rc;

	if (st == NULL)
		return -EIO;
	bind_text(st, 1, udid);
	bind_text(st, 2, path);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		report_id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return db_err(s, "file removed");
	if (report_id == 0)
		return -ENOENT;
	st = stmt(s, ST_REPORT_REMOVED);
	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, report_id);
	return run(s, st, "report removed");
}

/* ---- ingest ---- */

static const char *or_null(const char *a, const char *b)
{
	return a ? a : b;
}

static int lim_group_update(struct store *s, enum stmt_id id, const char *product,
			    const char *build, const char *role)
{
	sqlite3_stmt *st = stmt(s, id);

	if (st == NULL)
		return -EIO;
	bind_text(st, 1, product);
	bind_text(st, 2, build);
	bind_text(st, 3, role);
	return run(s, st, "limits group update");
}

/* Group keys of the limits summaries: NULL product/build become "" there. */
static int lim_add(struct store *s, const char *product, const char *build, const char *role,
		   const char *os_version, int64_t limit, int64_t time_s, const char *udid,
		   const char *process)
{
	sqlite3_stmt *st;
	int r;

	product = product ? product : "";
	build = build ? build : "";
	if ((st = stmt(s, ST_LIM_VALUE)) == NULL)
		return -EIO;
	bind_text(st, 1, product);
	bind_text(st, 2, build);
	bind_text(st, 3, role);
	sqlite3_bind_int64(st, 4, limit);
	if ((r = run(s, st, "limits values")) < 0)
		return r;
	if ((st = stmt(s, ST_LIM_GROUP)) == NULL)
		return -EIO;
	bind_text(st, 1, product);
	bind_text(st, 2, build);
	bind_text(st, 3, role);
	bind_text(st, 4, os_version);
	bind_int(st, 5, time_s);
	if ((r = run(s, st, "limits groups")) < 0)
		return r;
	if (udid) {
		if ((st = stmt(s, ST_LIM_PHONE)) == NULL)
			return -EIO;
		bind_text(st, 1, product);
		bind_text(st, 2, build);
		bind_text(st, 3, role);
		bind_text(st, 4, udid);
		if ((r = run(s, st, "limits phones")) < 0)
			return r;
		if (sqlite3_changes(s->db) > 0 &&
		    (r = lim_group_update(s, ST_LIM_PHONES_INC, product, build, role)) < 0)
			return r;
	}
	if (process) {
		if ((st = stmt(s, ST_LIM_PROC)) == NULL)
			return -EIO;
		bind_text(st, 1, product);
		bind_text(st, 2, build);
		bind_text(st, 3, role);
		bind_text(st, 4, process);
		if ((r = run(s, st, "limits processes")) < 0)
			return r;
		if (sqlite3_changes(s->db) > 0 &&
		    (r = lim_group_update(s, ST_LIM_PROCS_SET, product, build, role)) < 0)
			return r;
	}
	return 0;
}

struct facts {
	const char *udid, *product, *os_version, *build;
	const char *incident, *timestamp;
	int64_t time; /* report time, else the collection time */
};

static int j_add(cJSON *o, const char *k, cJSON *v);
static cJSON *j_str(const char *v);

/* The EVENT object of PROTOCOL.md, as text (cJSON_free). */
static char *event_text(const struct report_event *ev, int64_t report_id, const struct facts *f,
			int64_t epoch)
{
	cJSON *o = report_json_event(ev);
	char *text = NULL;
	char t[32];

	if (epoch != REPORT_NULL)
		store_format_time(epoch, t);
	if (o && !j_add(o, "report_id", cJSON_CreateNumber((double)report_id)) &&
	    !j_add(o, "udid", j_str(f->udid)) && !j_add(o, "incident", j_str(f->incident)) &&
	    !j_add(o, "product", j_str(f->product)) &&
	    !j_add(o, "os_version", j_str(f->os_version)) && !j_add(o, "build", j_str(f->build)) &&
	    !j_add(o, "timestamp", j_str(f->timestamp)) &&
	    !j_add(o, "time", epoch != REPORT_NULL ? cJSON_CreateString(t) : cJSON_CreateNull()))
		text = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	return text;
}

/* Insert the events of a report; with_limits also feeds the limits summaries. */
static int insert_events(struct store *s, int64_t report_id, const struct report *rep,
			 const struct facts *f, int with_limits)
{
	for (size_t i = 0; i < rep->n_events; i++) {
		const struct report_event *ev = &rep->events[i];
		const char *role = report_role_name(ev->role);
		sqlite3_stmt *st = stmt(s, ST_EVENT_INSERT);
		char *text = event_text(ev, report_id, f, rep->timestamp_epoch);
		int r;

		if (text == NULL || st == NULL) {
			cJSON_free(text);
			return st ? -ENOMEM : -EIO;
		}
		sqlite3_bind_int64(st, 1, report_id);
		sqlite3_bind_int64(st, 2, (int64_t)i);
		bind_text(st, 3, f->udid);
		bind_text(st, 4, f->product);
		bind_text(st, 5, f->os_version);
		bind_text(st, 6, f->build);
		bind_int(st, 7, rep->timestamp_epoch);
		bind_text(st, 8, ev->process);
		bind_text(st, 9, ev->reason);
		bind_text(st, 10, role);
		bind_int(st, 11, ev->limit_bytes);
		sqlite3_bind_text(st, 12, text, -1, cJSON_free);
		if ((r = run(s, st, "event insert")) < 0)
			return r;
		if (with_limits && ev->limit_bytes != REPORT_NULL) {
			r = lim_add(s, f->product, f->build, role, f->os_version, ev->limit_bytes,
				    f->time, f->udid, ev->process);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

static int file_upsert(struct store *s, const struct store_ingest *in, int64_t report_id)
{
	sqlite3_stmt *st;

	if (in->udid == NULL)
		return 0;
	if ((st = stmt(s, ST_FILE_UPSERT)) == NULL)
		return -EIO;
	bind_text(st, 1, in->udid);
	bind_text(st, 2, in->path);
	sqlite3_bind_int64(st, 3, in->size);
	bind_int(st, 4, in->mtime_ns);
	sqlite3_bind_int64(st, 5, report_id);
	return run(s, st, "file index insert");
}

static int report_is_error(struct store *s, int64_t id)
{
	sqlite3_stmt *st;
	int err = 0;

	if (sqlite3_prepare_v2(s->db, "SELECT status='error' FROM reports WHERE id=?1", -1, &st,
			       NULL) != SQLITE_OK)
		return 0;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW)
		err = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return err;
}

/* Replace a report stored with status error (and so without events) by a good copy. */
static int upgrade_report(struct store *s, int64_t id, const struct store_ingest *in)
{
	const struct report *rep = in->report;
	sqlite3_stmt *st;
	struct facts f;
	int r;

	f.udid = in->udid;
	f.product = or_null(rep->product, in->device_product);
	f.os_version = or_null(rep->os_version, in->device_os_version);
	f.build = or_null(rep->build, in->device_build);
	f.time = rep->timestamp_epoch != REPORT_NULL ? rep->timestamp_epoch : now_s();
	f.incident = rep->incident;
	f.timestamp = rep->timestamp;
	if (sqlite3_prepare_v2(s->db,
			       "UPDATE reports SET size=?2,sha256=?3,archive=?4,status=?5,error=?6,"
			       "variant=?7,bug_type=?8,product=?9,os_version=?10,build=?11,"
			       "timestamp=?12,time=?13,n_events=?14,udid=coalesce(udid,?15) "
			       "WHERE id=?1",
			       -1, &st, NULL) != SQLITE_OK)
		return db_err(s, "report upgrade");
	sqlite3_bind_int64(st, 1, id);
	sqlite3_bind_int64(st, 2, in->size);
	bind_text(st, 3, in->sha256);
	bind_text(st, 4, in->archive);
	bind_text(st, 5, report_status_name(rep->status));
	bind_text(st, 6, rep->status == REPORT_OK ? NULL : rep->error);
	bind_text(st, 7,
		  rep->variant == REPORT_VARIANT_UNKNOWN ? NULL
							 : report_variant_name(rep->variant));
	bind_text(st, 8, rep->bug_type);
	bind_text(st, 9, f.product);
	bind_text(st, 10, f.os_version);
	bind_text(st, 11, f.build);
	bind_text(st, 12, rep->timestamp);
	bind_int(st, 13, rep->timestamp_epoch);
	sqlite3_bind_int64(st, 14, (int64_t)rep->n_events);
	bind_text(st, 15, in->udid);
	r = run(s, st, "report upgrade");
	sqlite3_finalize(st);
	if (r < 0)
		return r;
	log_info("store", "report %lld: a copy that parses replaces the one that did not",
		 (long long)id);
	return insert_events(s, id, rep, &f, 1);
}

int store_ingest(struct store *s, const struct store_ingest *in, struct store_ingest_result *out)
{
	const struct report *rep = in->report;
	char *key = NULL;
	sqlite3_stmt *st;
	struct facts f;
	int64_t id = 0, collected = now_s();
	int rc, r;

	memset(out, 0, sizeof(*out));
	if (rep == NULL || in->sha256 == NULL || in->path == NULL)
		return -EINVAL;
	if (rep->incident && rep->incident[0])
		r = asprintf(&key, "incident:%s", rep->incident);
	else
		r = asprintf(&key, "sha256:%s", in->sha256);
	if (r < 0)
		return -ENOMEM;

	if ((st = stmt(s, ST_REPORT_BY_KEY)) == NULL) {
		free(key);
		return -EIO;
	}
	bind_text(st, 1, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
		free(key);
		return db_err(s, "report lookup");
	}
	if (id != 0 && (rep->status == REPORT_ERROR || !report_is_error(s, id))) {
		free(key);
		out->report_id = id;
		out->duplicate = 1;
		return file_upsert(s, in, id);
	}
	if (id != 0) {
		/* the known copy did not parse (cut short, ...) and this one does: it replaces it
		 */
		free(key);
		if ((r = upgrade_report(s, id, in)) < 0)
			return r;
		out->report_id = id;
		out->n_events = rep->n_events;
		s->n_events += (int64_t)rep->n_events;
		return file_upsert(s, in, id);
	}

	f.udid = in->udid;
	f.product = or_null(rep->product, in->device_product);
	f.os_version = or_null(rep->os_version, in->device_os_version);
	f.build = or_null(rep->build, in->device_build);
	f.time = rep->timestamp_epoch != REPORT_NULL ? rep->timestamp_epoch : collected;
	f.incident = rep->incident;
	f.timestamp = rep->timestamp;

	if ((st = stmt(s, ST_REPORT_INSERT)) == NULL) {
		free(key);
		return -EIO;
	}
	sqlite3_bind_text(st, 1, key, -1, free);
	bind_text(st, 2, in->udid);
	bind_text(st, 3, rep->incident);
	bind_text(st, 4, in->path);
	sqlite3_bind_int64(st, 5, in->size);
	bind_text(st, 6, in->sha256);
	bind_text(st, 7, in->archive);
	bind_text(st, 8, report_status_name(rep->status));
	bind_text(st, 9, rep->status == REPORT_OK ? NULL : rep->error);
	bind_text(st, 10,
		  rep->variant == REPORT_VARIANT_UNKNOWN ? NULL
							 : report_variant_name(rep->variant));
	bind_text(st, 11, rep->bug_type);
	bind_text(st, 12, f.product);
	bind_text(st, 13, f.os_version);
	bind_text(st, 14, f.build);
	bind_text(st, 15, rep->timestamp);
	bind_int(st, 16, rep->timestamp_epoch);
	sqlite3_bind_int64(st, 17, (int64_t)rep->n_events);
	sqlite3_bind_int64(st, 18, collected);
	if ((r = run(s, st, "report insert")) < 0)
		return r;
	id = sqlite3_last_insert_rowid(s->db);
	if ((r = insert_events(s, id, rep, &f, 1)) < 0)
		return r;
	if ((r = file_upsert(s, in, id)) < 0)
		return r;
	out->report_id = id;
	out->n_events = rep->n_events;
	s->n_reports++;
	s->n_events += (int64_t)rep->n_events;
	return 0;
}

/* ---- JSON helpers ---- */

void store_format_time(int64_t epoch, char out[32])
{
	time_t t = (time_t)epoch;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL) {
		strcpy(out, "1970-01-01T00:00:00Z");
		return;
	}
	/* the modulos only tell the compiler the widths; gmtime_r keeps fields in range */
	snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02uZ", (unsigned)(tm.tm_year + 1900) % 10000u,
		 (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u,
		 (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
		 (unsigned)tm.tm_sec % 100u);
}

static int j_add(cJSON *o, const char *k, cJSON *v)
{
	if (v == NULL)
		return -ENOMEM;
	cJSON_AddItemToObject(o, k, v);
	return 0;
}

static cJSON *j_str(const char *v)
{
	return v ? cJSON_CreateString(v) : cJSON_CreateNull();
}

static int j_col_text(cJSON *o, const char *k, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return j_add(o, k, t ? cJSON_CreateString((const char *)t) : cJSON_CreateNull());
}

static int j_col_int(cJSON *o, const char *k, sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return j_add(o, k, cJSON_CreateNull());
	return j_add(o, k, cJSON_CreateNumber((double)sqlite3_column_int64(st, col)));
}

static int j_col_time(cJSON *o, const char *k, sqlite3_stmt *st, int col)
{
	char buf[32];

	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return j_add(o, k, cJSON_CreateNull());
	store_format_time(sqlite3_column_int64(st, col), buf);
	return j_add(o, k, cJSON_CreateString(buf));
}

static int j_col_bool(cJSON *o, const char *k, sqlite3_stmt *st, int col)
{
	return j_add(o, k, cJSON_CreateBool(sqlite3_column_int(st, col) != 0));
}

/* Run a query whose rows become array items through row_fn. */
static int collect_rows(struct store *s, sqlite3_stmt *st, size_t limit,
			cJSON *(*row_fn)(sqlite3_stmt *), cJSON **out, int *truncated)
{
	cJSON *arr = cJSON_CreateArray();
	size_t n = 0;
	int rc;

	if (truncated)
		*truncated = 0;
	if (arr == NULL)
		return -ENOMEM;
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cJSON *item;

		if (limit && n == limit) {
			if (truncated)
				*truncated = 1;
			rc = SQLITE_DONE;
			break;
		}
		item = row_fn(st);
		if (item == NULL) {
			cJSON_Delete(arr);
			sqlite3_reset(st);
			return -ENOMEM;
		}
		cJSON_AddItemToArray(arr, item);
		n++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		cJSON_Delete(arr);
		return db_err(s, "query");
	}
	*out = arr;
	return 0;
}

/* The one row a bound statement selects, or -ENOENT when it selects none. */
static int collect_one(struct store *s, sqlite3_stmt *st, cJSON *(*row_fn)(sqlite3_stmt *),
		       cJSON **out)
{
	cJSON *arr;
	int r = collect_rows(s, st, 0, row_fn, &arr, NULL);

	if (r < 0)
		return r;
	if (cJSON_GetArraySize(arr) == 0) {
		cJSON_Delete(arr);
		return -ENOENT;
	}
	*out = cJSON_DetachItemFromArray(arr, 0);
	cJSON_Delete(arr);
	return 0;
}

int store_counts(struct store *s, int64_t *reports, int64_t *events)
{
	sqlite3_stmt *st;
	int r = 0;

	if (!s->counts_valid) {
		if (sqlite3_prepare_v2(s->db,
				       "SELECT (SELECT count(*) FROM reports),"
				       "(SELECT count(*) FROM events)",
				       -1, &st, NULL) != SQLITE_OK)
			return db_err(s, "counts");
		if (sqlite3_step(st) == SQLITE_ROW) {
			s->n_reports = sqlite3_column_int64(st, 0);
			s->n_events = sqlite3_column_int64(st, 1);
			s->counts_valid = 1;
		} else {
			r = db_err(s, "counts");
		}
		sqlite3_finalize(st);
	}
	*reports = s->n_reports;
	*events = s->n_events;
	return r;
}

static cJSON *device_row(sqlite3_stmt *st)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || j_col_text(o, "udid", st, 0) || j_col_text(o, "name", st, 1) ||
	    j_col_text(o, "product", st, 2) || j_col_text(o, "os_version", st, 3) ||
	    j_col_text(o, "build", st, 4) || j_col_text(o, "connection", st, 5) ||
	    j_col_bool(o, "attached", st, 6) || j_col_text(o, "state", st, 7) ||
	    j_col_text(o, "error", st, 8) || j_col_time(o, "first_seen", st, 9) ||
	    j_col_time(o, "last_seen", st, 10) || j_col_time(o, "last_sync", st, 11) ||
	    j_col_int(o, "reports", st, 12)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int store_devices_json(struct store *s, cJSON **out)
{
	sqlite3_stmt *st;
	int r;

	if (sqlite3_prepare_v2(s->db,
			       "SELECT udid,name,product,os_version,build,connection,attached,"
			       "state,error,first_seen,last_seen,last_sync,"
			       "(SELECT count(*) FROM reports r WHERE r.udid=d.udid) "
			       "FROM devices d ORDER BY attached DESC, udid",
			       -1, &st, NULL) != SQLITE_OK)
		return db_err(s, "devices");
	r = collect_rows(s, st, 0, device_row, out, NULL);
	sqlite3_finalize(st);
	return r;
}

int store_device_json(struct store *s, const char *udid, cJSON **out)
{
	sqlite3_stmt *st = stmt(s, ST_DEV_GET);

	*out = NULL;
	if (st == NULL)
		return -EIO;
	bind_text(st, 1, udid);
	return collect_one(s, st, device_row, out);
}

static cJSON *report_row(sqlite3_stmt *st)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || j_col_int(o, "id", st, 0) || j_col_text(o, "udid", st, 1) ||
	    j_col_text(o, "key", st, 2) || j_col_text(o, "incident", st, 3) ||
	    j_col_text(o, "path", st, 4) || j_col_int(o, "size", st, 5) ||
	    j_col_text(o, "sha256", st, 6) || j_col_text(o, "status", st, 7) ||
	    j_col_text(o, "error", st, 8) || j_col_text(o, "variant", st, 9) ||
	    j_col_text(o, "product", st, 10) || j_col_text(o, "os_version", st, 11) ||
	    j_col_text(o, "build", st, 12) || j_col_text(o, "timestamp", st, 13) ||
	    j_col_int(o, "events", st, 14) || j_col_time(o, "collected", st, 15) ||
	    j_col_bool(o, "removed_from_device", st, 16)) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int store_reports_json(struct store *s, const struct store_report_filter *f, cJSON **out,
		       int *truncated)
{
	sqlite3_stmt *st;
	int r;

	if (sqlite3_prepare_v2(s->db,
			       "SELECT id,udid,key,incident,path,size,sha256,status,error,variant,"
			       "product,os_version,build,timestamp,n_events,collected,removed "
			       "FROM reports WHERE (?1 IS NULL OR udid=?1) AND "
			       "(?2 IS NULL OR status=?2) ORDER BY id DESC LIMIT ?3",
			       -1, &st, NULL) != SQLITE_OK)
		return db_err(s, "reports");
	bind_text(st, 1, f->udid);
	bind_text(st, 2, f->status);
	sqlite3_bind_int64(st, 3, (int64_t)f->limit + 1);
	r = collect_rows(s, st, f->limit, report_row, out, truncated);
	sqlite3_finalize(st);
	return r;
}

int store_report_json(struct store *s, int64_t report_id, cJSON **out)
{
	sqlite3_stmt *st = stmt(s, ST_REPORT_GET);

	*out = NULL;
	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, report_id);
	return collect_one(s, st, report_row, out);
}

/* column 0: the stored EVENT text, handed on as it is */
static cJSON *event_row(sqlite3_stmt *st)
{
	const char *json = (const char *)sqlite3_column_text(st, 0);

	return cJSON_CreateRaw(json ? json : "{}");
}

int store_events_json(struct store *s, const struct store_event_filter *f, cJSON **out,
		      int *truncated)
{
	char sql[1024];
	size_t n;
	sqlite3_stmt *st;
	int r, i = 1;

	n = (size_t)snprintf(sql, sizeof(sql), "SELECT e.json FROM events e WHERE 1");
#define COND(field, text)                                                                          \
	if (f->field)                                                                              \
	n += (size_t)snprintf(sql + n, sizeof(sql) - n, " AND " text)
	COND(udid, "e.udid=?");
	COND(product, "e.product=?");
	COND(build, "e.build=?");
	COND(process, "e.process=?");
	COND(reason, "e.reason=?");
	COND(role, "e.role=?");
#undef COND
	if (f->since != REPORT_NULL)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, " AND e.time>=?");
	if (f->until != REPORT_NULL)
		n += (size_t)snprintf(sql + n, sizeof(sql) - n, " AND e.time<=?");
	snprintf(sql + n, sizeof(sql) - n, " ORDER BY e.time DESC, e.id DESC LIMIT ?");
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return db_err(s, "events");
	if (f->udid)
		bind_text(st, i++, f->udid);
	if (f->product)
		bind_text(st, i++, f->product);
	if (f->build)
		bind_text(st, i++, f->build);
	if (f->process)
		bind_text(st, i++, f->process);
	if (f->reason)
		bind_text(st, i++, f->reason);
	if (f->role)
		bind_text(st, i++, f->role);
	if (f->since != REPORT_NULL)
		sqlite3_bind_int64(st, i++, f->since);
	if (f->until != REPORT_NULL)
		sqlite3_bind_int64(st, i++, f->until);
	sqlite3_bind_int64(st, i, (int64_t)f->limit + 1);
	r = collect_rows(s, st, f->limit, event_row, out, truncated);
	sqlite3_finalize(st);
	return r;
}

int store_report_events_json(struct store *s, int64_t report_id, cJSON **out)
{
	sqlite3_stmt *st = stmt(s, ST_REPORT_EVENTS);

	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, report_id);
	return collect_rows(s, st, 0, event_row, out, NULL);
}

/* ---- limits ---- */

struct lim_row {
	char *product, *build, *role, *os_version, *procs;
	int64_t first, last, count, phones, min, median, max;
	int role_rank;
};

static int role_rank(const char *role)
{
	enum report_role r;

	return report_role_from_name(role, &r) == 0 ? (int)r : 9;
}

/* Compare dotted numeric versions ("15.10" > "15.9"); NULL/"" first. */
static int cmp_version(const char *a, const char *b)
{
	if (!a || !*a || !b || !*b)
		return (a && *a) - (b && *b);
	while (*a || *b) {
		char *ea, *eb;
		unsigned long long na = strtoull(a, &ea, 10), nb = strtoull(b, &eb, 10);

		if (ea == a || eb == b) /* not numeric here: plain text order */
			return strcmp(a, b);
		if (na != nb)
			return na < nb ? -1 : 1;
		a = *ea == '.' ? ea + 1 : ea;
		b = *eb == '.' ? eb + 1 : eb;
		if (!*a || !*b)
			return (*a != 0) - (*b != 0);
	}
	return 0;
}

/* Builds: numeric major first ("9A334" < "10A403"), then length, then text. */
static int cmp_build(const char *a, const char *b)
{
	unsigned long na = strtoul(a, NULL, 10), nb = strtoul(b, NULL, 10);

	if (na != nb)
		return na < nb ? -1 : 1;
	if (strlen(a) != strlen(b))
		return strlen(a) < strlen(b) ? -1 : 1;
	return strcmp(a, b);
}

static int cmp_lim(const void *pa, const void *pb)
{
	const struct lim_row *a = pa, *b = pb;
	int c = strcmp(a->product, b->product);

	if (c == 0)
		c = cmp_version(a->os_version, b->os_version);
	if (c == 0)
		c = cmp_build(a->build, b->build);
	if (c == 0)
		c = a->role_rank - b->role_rank;
	return c;
}

static void lim_rows_free(struct lim_row *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].product);
		free(v[i].build);
		free(v[i].role);
		free(v[i].os_version);
		free(v[i].procs);
	}
	free(v);
}

static char *col_dup(sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return t ? strdup((const char *)t) : NULL;
}

static int group_cmp_key(const struct lim_row *row, sqlite3_stmt *st)
{
	int c = strcmp(row->product, (const char *)sqlite3_column_text(st, 0));

	if (c == 0)
		c = strcmp(row->build, (const char *)sqlite3_column_text(st, 1));
	if (c == 0)
		c = strcmp(row->role, (const char *)sqlite3_column_text(st, 2));
	return c;
}

/*
 * count/min/median/max of every group from the limit_bytes histogram, in one pass: rows
 * and groups both come ordered by (product, build, role) in BINARY order.
 */
static int lim_fill(struct store *s, const char *product, struct lim_row *v, size_t n)
{
	sqlite3_stmt *st;
	size_t g = 0;
	int rc, r = 0;
	int64_t *vals = NULL, *cnts = NULL;
	size_t nv = 0, cap = 0;

	if (sqlite3_prepare_v2(s->db,
			       "SELECT product,build,role,limit_bytes,n FROM lim_values "
			       "WHERE (?1 IS NULL OR product=?1) "
			       "ORDER BY product,build,role,limit_bytes",
			       -1, &st, NULL) != SQLITE_OK)
		return db_err(s, "limits values");
	bind_text(st, 1, product);
	rc = sqlite3_step(st);
	while (g < n) {
		struct lim_row *row = &v[g];
		int64_t total = 0, seen = 0, k;

		nv = 0;
		while (rc == SQLITE_ROW) {
			int c = group_cmp_key(row, st);

			if (c < 0)
				break;
			if (c == 0) {
				if (nv == cap) {
					size_t ncap = cap ? cap * 2 : 64;
					int64_t *a = realloc(vals, ncap * sizeof(*a));
					int64_t *b = a ? realloc(cnts, ncap * sizeof(*b)) : NULL;

					if (a)
						vals = a;
					if (b == NULL) {
						r = -ENOMEM;
						goto out;
					}
					cnts = b;
					cap = ncap;
				}
				vals[nv] = sqlite3_column_int64(st, 3);
				cnts[nv] = sqlite3_column_int64(st, 4);
				total += cnts[nv++];
			}
			rc = sqlite3_step(st);
		}
		if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
			r = db_err(s, "limits values");
			goto out;
		}
		row->count = total;
		if (nv > 0) {
			row->min = vals[0];
			row->max = vals[nv - 1];
			k = (total - 1) / 2; /* lower middle */
			for (size_t i = 0; i < nv; i++) {
				seen += cnts[i];
				if (seen > k) {
					row->median = vals[i];
					break;
				}
			}
		}
		g++;
	}
out:
	sqlite3_finalize(st);
	free(vals);
	free(cnts);
	return r;
}

static cJSON *str_or_null(const char *v)
{
	return v && *v ? cJSON_CreateString(v) : cJSON_CreateNull();
}

static cJSON *lim_json(struct lim_row *row, const struct lim_row *prev)
{
	cJSON *o = cJSON_CreateObject(), *drift = NULL;
	char t1[32], t2[32];

	if (o == NULL)
		return NULL;
	store_format_time(row->first, t1);
	store_format_time(row->last, t2);
	if (prev) {
		double pct =
			((double)row->median - (double)prev->median) * 100.0 / (double)prev->median;

		if (pct > 5.0 || pct < -5.0) {
			drift = cJSON_CreateObject();
			if (drift == NULL ||
			    j_add(drift, "previous_build", str_or_null(prev->build)) ||
			    j_add(drift, "previous_median",
				  cJSON_CreateNumber((double)prev->median)) ||
			    j_add(drift, "change_pct",
				  cJSON_CreateNumber((double)llround(pct * 10.0) / 10.0))) {
				cJSON_Delete(drift);
				cJSON_Delete(o);
				return NULL;
			}
		}
	}
	if (j_add(o, "product", str_or_null(row->product)) ||
	    j_add(o, "os_version", str_or_null(row->os_version)) ||
	    j_add(o, "build", str_or_null(row->build)) ||
	    j_add(o, "role", cJSON_CreateString(row->role)) ||
	    j_add(o, "count", cJSON_CreateNumber((double)row->count)) ||
	    j_add(o, "phones", cJSON_CreateNumber((double)row->phones)) ||
	    j_add(o, "min", cJSON_CreateNumber((double)row->min)) ||
	    j_add(o, "median", cJSON_CreateNumber((double)row->median)) ||
	    j_add(o, "max", cJSON_CreateNumber((double)row->max)) ||
	    j_add(o, "first_seen", cJSON_CreateString(t1)) ||
	    j_add(o, "last_seen", cJSON_CreateString(t2)) ||
	    /* kept as JSON text by SQLite's json_group_array(): sorted names */
	    j_add(o, "processes", cJSON_CreateRaw(row->procs ? row->procs : "[]"))) {
		cJSON_Delete(drift);
		cJSON_Delete(o);
		return NULL;
	}
	cJSON_AddItemToObject(o, "drift", drift ? drift : cJSON_CreateNull());
	return o;
}

int store_limits_json(struct store *s, const char *product, const char *build, const char *role,
		      cJSON **out)
{
	sqlite3_stmt *groups = NULL;
	struct lim_row *v = NULL;
	size_t n = 0, cap = 0;
	cJSON *arr = NULL;
	int rc, r = 0;

	*out = NULL;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT product,build,role,os_version,first_seen,last_seen,phones,"
			       "processes FROM lim_groups WHERE (?1 IS NULL OR product=?1) "
			       "ORDER BY product,build,role",
			       -1, &groups, NULL) != SQLITE_OK) {
		r = db_err(s, "limits");
		goto out;
	}
	bind_text(groups, 1, product);
	while ((rc = sqlite3_step(groups)) == SQLITE_ROW) {
		struct lim_row *row;

		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			struct lim_row *nv = realloc(v, ncap * sizeof(*nv));

			if (nv == NULL) {
				r = -ENOMEM;
				goto out;
			}
			v = nv;
			cap = ncap;
		}
		row = &v[n++];
		memset(row, 0, sizeof(*row));
		row->product = col_dup(groups, 0);
		row->build = col_dup(groups, 1);
		row->role = col_dup(groups, 2);
		row->os_version = col_dup(groups, 3);
		row->first = sqlite3_column_int64(groups, 4);
		row->last = sqlite3_column_int64(groups, 5);
		row->phones = sqlite3_column_int64(groups, 6);
		row->procs = col_dup(groups, 7);
		if (!row->product || !row->build || !row->role) {
			r = -ENOMEM;
			goto out;
		}
		row->role_rank = role_rank(row->role);
	}
	if (rc != SQLITE_DONE) {
		r = db_err(s, "limits groups");
		goto out;
	}
	if ((r = lim_fill(s, product, v, n)) < 0)
		goto out;
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_lim);
	arr = cJSON_CreateArray();
	if (arr == NULL) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		const struct lim_row *prev = NULL;
		cJSON *o;

		if (strcmp(v[i].role, "foreground") == 0 && v[i].count > 0) {
			/* the foreground row of the previous build of this product */
			for (size_t k = i; k-- > 0;) {
				if (strcmp(v[k].product, v[i].product) != 0)
					break;
				if (strcmp(v[k].role, "foreground") == 0 &&
				    strcmp(v[k].build, v[i].build) != 0 && v[k].median > 0) {
					prev = &v[k];
					break;
				}
			}
		}
		if ((build && strcmp(v[i].build, build) != 0) ||
		    (role && strcmp(v[i].role, role) != 0))
			continue;
		o = lim_json(&v[i], prev);
		if (o == NULL) {
			r = -ENOMEM;
			goto out;
		}
		cJSON_AddItemToArray(arr, o);
	}
	*out = arr;
	arr = NULL;
out:
	cJSON_Delete(arr);
	lim_rows_free(v, n);
	sqlite3_finalize(groups);
	return r;
}

/* ---- reparse ---- */

int store_archived_list(struct store *s, int64_t after_id, size_t max, struct store_archived **v,
			size_t *n)
{
	sqlite3_stmt *st;
	size_t cap = max ? max : 1;
	int rc, r = 0;

	*v = calloc(cap, sizeof(**v));
	*n = 0;
	if (*v == NULL)
		return -ENOMEM;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT id,archive FROM reports WHERE id>?1 AND archive IS NOT NULL "
			       "ORDER BY id LIMIT ?2",
			       -1, &st, NULL) != SQLITE_OK) {
		free(*v);
		*v = NULL;
		return db_err(s, "archived list");
	}
	sqlite3_bind_int64(st, 1, after_id);
	sqlite3_bind_int64(st, 2, (int64_t)cap);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		(*v)[*n].id = sqlite3_column_int64(st, 0);
		(*v)[*n].archive = col_dup(st, 1);
		if ((*v)[*n].archive == NULL) {
			r = -ENOMEM;
			break;
		}
		(*n)++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = db_err(s, "archived list");
	sqlite3_finalize(st);
	if (r < 0) {
		store_archived_free(*v, *n);
		*v = NULL;
		*n = 0;
	}
	return r;
}

void store_archived_free(struct store_archived *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].archive);
	free(v);
}

int store_report_replace(struct store *s, int64_t report_id, const struct report *rep,
			 size_t *n_events)
{
	sqlite3_stmt *st = NULL;
	struct facts f = {0};
	char *udid = NULL, *dprod = NULL, *dos = NULL, *dbuild = NULL, *incident = NULL;
	int64_t collected = 0;
	int r = 0;

	*n_events = 0;
	s->counts_valid = 0;
	if (sqlite3_prepare_v2(
		    s->db,
		    "SELECT r.udid,d.product,d.os_version,d.build,r.collected,r.incident "
		    "FROM reports r LEFT JOIN devices d ON d.udid=r.udid WHERE r.id=?1",
		    -1, &st, NULL) != SQLITE_OK)
		return db_err(s, "reparse lookup");
	sqlite3_bind_int64(st, 1, report_id);
	if (sqlite3_step(st) != SQLITE_ROW) {
		sqlite3_finalize(st);
		return -ENOENT;
	}
	udid = col_dup(st, 0);
	dprod = col_dup(st, 1);
	dos = col_dup(st, 2);
	dbuild = col_dup(st, 3);
	collected = sqlite3_column_int64(st, 4);
	incident = col_dup(st, 5);
	sqlite3_finalize(st);
	st = NULL;

	f.udid = udid;
	f.product = or_null(rep->product, dprod);
	f.os_version = or_null(rep->os_version, dos);
	f.build = or_null(rep->build, dbuild);
	f.incident = or_null(rep->incident, incident);
	f.timestamp = rep->timestamp;
	f.time = rep->timestamp_epoch != REPORT_NULL ? rep->timestamp_epoch : collected;

	if (sqlite3_prepare_v2(s->db, "DELETE FROM events WHERE report_id=?1", -1, &st, NULL) !=
	    SQLITE_OK) {
		r = db_err(s, "reparse delete");
		goto out;
	}
	sqlite3_bind_int64(st, 1, report_id);
	if ((r = run(s, st, "reparse delete")) < 0)
		goto out;
	sqlite3_finalize(st);
	st = NULL;
	if (sqlite3_prepare_v2(s->db,
			       "UPDATE reports SET incident=?2,status=?3,error=?4,"
			       "variant=?5,bug_type=?6,product=?7,os_version=?8,build=?9,"
			       "timestamp=?10,time=?11,n_events=?12 WHERE id=?1",
			       -1, &st, NULL) != SQLITE_OK) {
		r = db_err(s, "reparse update");
		goto out;
	}
	sqlite3_bind_int64(st, 1, report_id);
	bind_text(st, 2, f.incident);
	bind_text(st, 3, report_status_name(rep->status));
	bind_text(st, 4, rep->status == REPORT_OK ? NULL : rep->error);
	bind_text(st, 5,
		  rep->variant == REPORT_VARIANT_UNKNOWN ? NULL
							 : report_variant_name(rep->variant));
	bind_text(st, 6, rep->bug_type);
	bind_text(st, 7, f.product);
	bind_text(st, 8, f.os_version);
	bind_text(st, 9, f.build);
	bind_text(st, 10, rep->timestamp);
	bind_int(st, 11, rep->timestamp_epoch);
	sqlite3_bind_int64(st, 12, (int64_t)rep->n_events);
	if ((r = run(s, st, "reparse update")) < 0)
		goto out;
	/* the summaries are rebuilt as a whole after the reparse (store_limits_rebuild(), or
	 * store_open() after a crash): events only here */
	if ((r = insert_events(s, report_id, rep, &f, 0)) < 0)
		goto out;
	if (sqlite3_exec(s->db, "INSERT OR REPLACE INTO meta(key,value) VALUES('limits_dirty','1')",
			 NULL, NULL, NULL) != SQLITE_OK) {
		r = db_err(s, "reparse mark");
		goto out;
	}
	*n_events = rep->n_events;
out:
	sqlite3_finalize(st);
	free(udid);
	free(dprod);
	free(dos);
	free(dbuild);
	free(incident);
	return r;
}

int store_limits_rebuild(struct store *s)
{
	static const char sql[] =
		"BEGIN IMMEDIATE;"
		"DELETE FROM lim_values; DELETE FROM lim_groups; DELETE FROM lim_phones;"
		"DELETE FROM lim_procs;"
		"INSERT INTO lim_values(product,build,role,limit_bytes,n)"
		" SELECT coalesce(product,''),coalesce(build,''),role,limit_bytes,count(*)"
		" FROM events WHERE limit_bytes IS NOT NULL GROUP BY 1,2,3,4;"
		"INSERT INTO lim_groups(product,build,role,os_version,first_seen,last_seen)"
		" SELECT coalesce(e.product,''),coalesce(e.build,''),e.role,min(e.os_version),"
		" min(coalesce(e.time,r.collected)),max(coalesce(e.time,r.collected))"
		" FROM events e JOIN reports r ON r.id=e.report_id"
		" WHERE e.limit_bytes IS NOT NULL GROUP BY 1,2,3;"
		"INSERT OR IGNORE INTO lim_phones(product,build,role,udid)"
		" SELECT coalesce(product,''),coalesce(build,''),role,udid FROM events"
		" WHERE limit_bytes IS NOT NULL AND udid IS NOT NULL;"
		"INSERT OR IGNORE INTO lim_procs(product,build,role,process)"
		" SELECT coalesce(product,''),coalesce(build,''),role,process FROM events"
		" WHERE limit_bytes IS NOT NULL AND process IS NOT NULL;"
		"UPDATE lim_groups SET"
		" phones=(SELECT count(*) FROM lim_phones p WHERE p.product=lim_groups.product"
		"  AND p.build=lim_groups.build AND p.role=lim_groups.role),"
		" processes=(SELECT json_group_array(process) FROM (SELECT process FROM lim_procs p"
		"  WHERE p.product=lim_groups.product AND p.build=lim_groups.build"
		"  AND p.role=lim_groups.role ORDER BY process));"
		"DELETE FROM meta WHERE key='limits_dirty';"
		"COMMIT;";

	if (sqlite3_exec(s->db, sql, NULL, NULL, NULL) != SQLITE_OK) {
		int r = db_err(s, "limits rebuild");

		store_rollback(s);
		return r;
	}
	return 0;
}
