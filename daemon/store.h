/* store.h: the SQLite (WAL) store of devices, reports, events and per-phone file indexes */
#ifndef JETSAMD_STORE_H
#define JETSAMD_STORE_H

#include <stddef.h>
#include <stdint.h>

#include "../proto/report.h"
#include "fileindex.h"

/*
 * DESIGN
 * One database, <state_dir>/jetsamd.db, in WAL mode. One thread at a time touches a struct
 * store: in the daemon that is the store thread (daemon/storeq.h), which owns it from start
 * to exit; the loop never calls SQLite (it submits store jobs and gets their results by
 * value), so SQLite's busy timeout (5 s, an outside process holding the lock) and every
 * commit wait on the store thread only. Functions return 0 or a negative errno (-EIO for
 * SQLite errors, logged once here with SQLite's message).
 *
 * Durability. The connection runs with synchronous=NORMAL: a commit write()s its pages to
 * jetsamd.db-wal and returns without fsync. What each failure can lose:
 *  - The process dies (crash, kill, OOM, restart): nothing committed. Committed pages are
 *    in the kernel's page cache and the next open reads them from the log. A sync commits
 *    each report as soon as it is archived (one transaction per report), so an interrupted
 *    sync keeps every report it finished.
 *  - The host loses power or the kernel crashes: the commits since the last fsync of the
 *    log (at most those: recovery keeps a prefix of the commits and drops a torn one
 *    whole). That is safe for reports pulled from a phone because, until they are durable,
 *    they are still on the phone: with remove_after_pull, the removal job (a worker,
 *    daemon/devices_sync.c) calls store_sync_durable() first and removes nothing unless it
 *    returns 0. It fsyncs the log
 *    (fsync flushes the file's dirty pages whatever descriptor is used), the database file
 *    (changed by checkpoints) and the state directory (the log's directory entry), and it
 *    runs after the commit of every file it may remove (the removal job starts only after
 *    the sync's last store job came back, and store jobs run in order). A lost commit is
 *    re-done by the next sync: its file index entry is gone too, so the file is downloaded
 *    again and stored once by its key. The archive (daemon/archive.c, in workers) is
 *    fsync'ed before the commit.
 *  - `import` (daemon/import.c) has no phone copy to fall back on: it commits (store job),
 *    then calls store_sync_durable() in a worker and replies only after that (an error
 *    reply if it fails; the client still has its copy, and importing it again stores it
 *    once). The import's archive is fsync'ed before the commit.
 *  - `reparse` commits batch by batch and replies without an fsync: after a power loss some
 *    reports may show their old parse outcome until reparse runs again (their archives are
 *    intact). Device state, last_sync and removal marks may likewise roll back to an
 *    earlier value; a report removed from a phone never rolls back, since its commit was
 *    durable before the removal.
 * Checkpoints fsync the log and the database, so they are taken by workers too: they call
 * store_checkpoint() (a private connection, PASSIVE: it never waits for the store thread's
 * readers or writer) after each sync, and the store thread's own automatic checkpoint only
 * fires as a safety net when the log exceeds 16384 pages (64 MiB with 4 KiB pages), e.g.
 * during a large reparse while no phone syncs. The loop thread calls the store only in
 * store_open() and store_devices_mark_all_detached() (at start, before the store thread
 * runs and before anything listens) and store_close() (final checkpoint, at exit, after the
 * store thread ended).
 *
 * The implementation is split by job (store.c, store_devices.c, store_files.c, store_ingest.c,
 * store_limits.c, store_query.c, store_durable.c; store_internal.h says what each does).
 *
 * Exactly once: every report has a key, "incident:<id>" or "sha256:<hex>" when it has no
 * incident id. The same report seen under another path (Retired/, ".synced") adds a file
 * index entry pointing at the existing report and nothing else. A different report (other
 * bytes, both parse) with a known incident id is a conflict, kept under
 * "incident:<id>/sha256:<hex>" (store_ingest.c), never dropped.
 *
 * Collection cursor: each commit of a report takes seq = max + 1 (reports_seq) and the host
 * clock as collected_at; its events carry both (rseq, collected_at: events_rseq serves
 * `events after`). seq is never reused: reports are never deleted.
 */

struct store;

/*
 * Open (or create) the store and bring its schema to this release's version (PRAGMA
 * user_version; older stores are migrated, see store.c). -ENOTSUP when a newer jetsamd
 * wrote it, -EIO when SQLite fails (logged).
 */
int store_open(const char *state_dir, struct store **out);
void store_close(struct store *s); /* NULL is a no-op */

/*
 * Make every transaction committed so far (by any connection) durable: fsync the log, the
 * database file and the state directory. Pure file operations, no struct store: for worker
 * threads, never the loop. Returns 0 or a negative errno (logged); a missing log is fine
 * (no connection open: the database file has everything), a missing database is -ENOENT.
 */
int store_sync_durable(const char *state_dir);
/*
 * Passive checkpoint through a private connection when the log is at least min_wal_bytes
 * long; *frames (may be NULL) gets the log frames now in the database. Blocks on fsync: for
 * worker threads. Returns 0 (also when there is nothing to do or another checkpoint runs)
 * or -EIO (logged).
 */
int store_checkpoint(const char *state_dir, int64_t min_wal_bytes, int *frames);

/*
 * Give back the memory the connection holds while idle: SQLite's page cache, prepared
 * statements, the strings cache; it all refills on use. Outside a transaction only (else a
 * no-op). The store thread runs it when no sync runs (storeq_release_memory()).
 */
void store_release_memory(struct store *s);

int store_begin(struct store *s);
int store_commit(struct store *s);
int store_rollback(struct store *s);

/* ---- devices (written by the device side) ---- */

/* A phone's DEVICE row by value (strings cut to fit; "" = NULL in the database). */
struct store_device {
	char udid[64];
	char name[256];
	char product[32];
	char os_version[32];
	char build[32];
	char connection[16];
	char state[16];
	char error[512];
	int attached;
	int64_t first_seen, last_seen;
	int64_t last_sync; /* 0 = never */
	int64_t reports;   /* reports stored from this phone */
};

/* Insert or update identity facts and last_seen (any argument but udid may be NULL = keep). */
int store_device_upsert(struct store *s, const char *udid, const char *name, const char *product,
			const char *os_version, const char *build, const char *connection);
/*
 * state: attached|syncing|idle|locked|untrusted|error|detached; error NULL clears it.
 * *row (may be NULL) gets the device's row as the same statement left it (no read-back).
 */
int store_device_set_state(struct store *s, const char *udid, const char *state, int attached,
			   const char *error, struct store_device *row);
int store_device_set_synced(struct store *s, const char *udid, int64_t when);
/* At start-up: every device is detached until usbmuxd says otherwise. */
int store_devices_mark_all_detached(struct store *s);

/* ---- per-phone file index (path, size, mtime; the structs are in fileindex.h) ---- */

/* Deep copy of a phone's index, safe to hand to a worker thread by value. */
int store_file_index_load(struct store *s, const char *udid, struct store_file_index *out);

/* ---- ingest ---- */

struct store_ingest {
	const char *udid; /* NULL for an import */
	const char *path; /* path on the phone, or "import:<name>" */
	int64_t size;
	int64_t mtime_ns;    /* REPORT_NULL for an import */
	const char *sha256;  /* hex of the raw bytes */
	const char *archive; /* archive path relative to the state dir */
	const struct report *report;
	/* the phone's own facts, used where the report does not state them */
	const char *device_product, *device_os_version, *device_build;
};

struct store_ingest_result {
	int64_t report_id;
	int duplicate;	 /* the key was known: only the file index entry was added */
	size_t n_events; /* events added (0 for a duplicate) */
	/* the commit's collection time and sequence (0 for a duplicate) */
	int64_t collected_at, seq;
};

/* Record one report, its events and its file index entry (call inside begin/commit). */
int store_ingest(struct store *s, const struct store_ingest *in, struct store_ingest_result *out);
struct cJSON;
/* The EVENT (PROTOCOL.md) that store_ingest() stored for event ev of in, with result res. */
struct cJSON *store_event_json(const struct store_ingest *in, const struct report_event *ev,
			       const struct store_ingest_result *res);
/* The phone file at path was removed from the phone by us. */
int store_file_mark_removed(struct store *s, const char *udid, const char *path);

/*
 * The query side (status, devices, reports, events, limits, reparse) is declared below by
 * the API implementation; it returns cJSON trees in the shapes of proto/PROTOCOL.md.
 */

/* ---- queries (daemon core): cJSON trees in the shapes of proto/PROTOCOL.md ---- */

struct store_event_filter {
	const char *udid, *product, *build, *process, *reason, *role; /* NULL = any */
	int64_t since, until; /* epoch seconds, REPORT_NULL = unbounded */
	/*
	 * Collection order (oldest first, by the report's seq) instead of newest first: only
	 * events of reports with seq > after, and collected_at >= collected_since (0 = any).
	 */
	int by_collection;
	int64_t after, collected_since;
	int64_t before_id; /* newest first: events after event before_id in that order (0 = none) */
	size_t limit;
};

struct store_report_filter {
	const char *udid, *status; /* NULL = any */
	int64_t before_id;	   /* 0 = any: only reports with a smaller id */
	size_t limit;
};

/*
 * A list reply's paging: truncated when more matched than the limit; next is the value to
 * pass back (the last seq returned in collection order, else the last id returned).
 */
struct store_page {
	int truncated;
	int64_t next;
};

/* Reports and events stored: one row kept by the store's triggers (O(1), never counted). */
int store_counts(struct store *s, int64_t *reports, int64_t *events);
/* DEVICE array, attached first, then by udid. */
int store_devices_json(struct store *s, struct cJSON **out);
/* One DEVICE; -ENOENT when the udid was never seen. */
int store_device_json(struct store *s, const char *udid, struct cJSON **out);
/* The DEVICE object of a row (NULL when out of memory). */
struct cJSON *store_device_row_json(const struct store_device *row);
/* REPORT array, newest first (by id). */
int store_reports_json(struct store *s, const struct store_report_filter *f, struct cJSON **out,
		       struct store_page *page);
int store_report_json(struct store *s, int64_t report_id, struct cJSON **out);
/* EVENT array, newest first (by the report's time, then by id), or in collection order. */
int store_events_json(struct store *s, const struct store_event_filter *f, struct cJSON **out,
		      struct store_page *page);
/* The collection cursor: the highest seq committed (0 when there is none). */
int store_cursor(struct store *s, int64_t *seq);
/* The EVENTs of one report, in file order. */
int store_report_events_json(struct store *s, int64_t report_id, struct cJSON **out);
/* LIMIT array (product, build, role: NULL = any). */
int store_limits_json(struct store *s, const char *product, const char *build, const char *role,
		      struct cJSON **out);

/* ---- reparse ---- */

struct store_archived {
	int64_t id;
	char *archive; /* relative to the state dir */
};

/* Every report with an archive, by id, starting after after_id; at most max. */
int store_archived_list(struct store *s, int64_t after_id, size_t max, struct store_archived **v,
			size_t *n);
void store_archived_free(struct store_archived *v, size_t n);
/* Replace a report's parse outcome and events (inside begin/commit; key is kept). */
int store_report_replace(struct store *s, int64_t report_id, const struct report *r,
			 size_t *n_events);
/* Recompute the limits summary tables from the events (after a reparse). */
int store_limits_rebuild(struct store *s);

#endif
