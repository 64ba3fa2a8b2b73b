/* ingest.h: the one path of a report into the store: hash, archive, parse; commit; publish */
#ifndef JETSAMD_INGEST_H
#define JETSAMD_INGEST_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct cJSON;

/*
 * DESIGN
 * fetch (a phone's files), import (a client's bytes) and reparse (the archive) take the same
 * steps. On a worker thread, with plain values only: ingest_prepare() hashes the raw bytes,
 * writes them to the content-addressed archive (durable before any commit) and parses
 * them; reparse re-reads the archive with ingest_reread(). A sync uses
 * ingest_prepare_batch() instead and makes a batch of reports durable with one
 * archive_flush() before it commits them. On the store thread (a store job, storeq.h):
 * ingest_commit() records a batch in one transaction. Back on the loop the caller publishes each
 * new report's events from memory (ingest_events_json(), the EVENT shape of proto/PROTOCOL.md)
 * instead of reading them back from SQLite.
 */

/* Where a batch came from: a phone (its lockdown facts fill what a report omits) or import. */
struct ingest_source {
	const char *udid;			  /* NULL for an import */
	const char *product, *os_version, *build; /* NULL = unknown */
};

/* One report file on its way in. */
struct ingest_item {
	char *path;		/* phone path, or "import:<name>" (owned) */
	int64_t size, mtime_ns; /* mtime_ns REPORT_NULL for an import */
	char sha256[65];
	char *archive;			/* relative to the state dir (owned) */
	struct report *report;		/* owned, never NULL after ingest_prepare() */
	const char *failed_step;	/* after a failed ingest_prepare(): "archive" or "parse" */
	struct store_ingest_result res; /* set by ingest_commit() */
	struct cJSON *events; /* a new report's EVENT array, rendered by ingest_commit() (owned) */
};

/*
 * Worker: hash, archive under state_dir and parse buf into it (path, size and mtime_ns are
 * the caller's). A report of more than max_events events (0: no cap) keeps the first
 * max_events, and its error says it was cut (max_events_per_report). Returns 0, or -errno
 * with nothing allocated (archive errors are logged).
 */
int ingest_prepare(const char *state_dir, const void *buf, size_t len, size_t max_size,
		   size_t max_events, struct ingest_item *it);
/*
 * The same, but the archive file is not fsync'ed (archive_put()): the caller calls
 * archive_flush(state_dir) once for a batch of items, and commits none of them before it
 * returned 0.
 */
int ingest_prepare_batch(const char *state_dir, const void *buf, size_t len, size_t max_size,
			 size_t max_events, struct ingest_item *it);
/* Worker: read an archived report back and parse it with the current parser (and cap). */
int ingest_reread(const char *state_dir, const char *archive, size_t max_size, size_t max_events,
		  struct report **out);
void ingest_item_release(struct ingest_item *it);

/*
 * Store thread: record v[0..n) in one transaction (rolled back on failure, then tried once
 * more: SQLite's busy timeout is 5 s); fills v[i].res
 * and, for a new report, v[i].events (so that the loop only sends them; NULL: ENOMEM).
 */
int ingest_commit(struct store *s, const struct ingest_source *src, struct ingest_item *v,
		  size_t n);
/*
 * Any thread: whether ingest_commit() renders the EVENT arrays (on by default). The hub turns
 * it off while no client subscribes to events; v[i].events then stays NULL, and a caller
 * that finds a subscriber after all renders them itself with ingest_events_json().
 */
void ingest_render_events(int on);
/* Loop: the EVENT objects of a committed item, in file order (a cJSON array; NULL: ENOMEM). */
struct cJSON *ingest_events_json(const struct ingest_source *src, const struct ingest_item *it);

#endif
