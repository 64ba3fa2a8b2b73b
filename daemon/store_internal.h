/* store_internal.h: what the store's files share: struct store, the statement cache, helpers */
#ifndef JETSAMD_STORE_INTERNAL_H
#define JETSAMD_STORE_INTERNAL_H

#include <errno.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <sqlite3.h>

#include "../proto/isotime.h"
#include "store.h"

/*
 * DESIGN
 * Tables: devices (n_reports kept by a trigger), reports (one row per report key, with its
 * collection seq and collected_at), events (one compact row per kill event: numbers, and
 * ids into strs for the strings they repeat; the report's effective product/build/time and
 * its seq (rseq) and collected_at are copied in for filtering, its incident, os_version and
 * timestamp are read from the report; the EVENT text is rendered from the row, as
 * jetsamctl parse prints it plus the report's facts, by store_event.c), strs (store_dict.c),
 * counts (what status shows, kept by triggers), files (per-phone index, WITHOUT ROWID on
 * (udid, path)), proc_names (every process name, with a bundle id seen with it: the
 * process filter resolves its term there first, so that one name keeps the events_process
 * plan).
 * The limits query must stay fast with millions of events, so ingestion also maintains
 * small summary tables keyed by (product, build, role) (store_limits.c).
 *
 * One job per file: store.c (open/close, schema and its versions, transactions, the
 * statement cache), store_durable.c (worker-side fsync and checkpoint), store_devices.c,
 * store_files.c (file index rows), store_ingest.c (ingest and reparse: one report-row bind),
 * store_limits.c (limit statistics), store_query.c (status, reports and events as JSON),
 * store_event.c (the EVENT text of a row), store_dict.c (the strings of events),
 * store_outbox.c (the fleet outbox: its triggers queue report and device changes).
 *
 * A new column: one more step in migrations[] (store.c), then the statement of the job
 * that writes it and the renderer that shows it (store_query.c, or store_devices.c for
 * DEVICE); test-store.c opens a store of the release before.
 *
 * One statement style: every statement has an id below and goes through store_stmt(), which
 * prepares it once (its SQL text stands beside the code that runs it) and hands it out
 * reset. Whoever steps a statement resets it when done (store_run() and store_collect_*()
 * do), so no reader keeps a snapshot open between calls.
 */

enum stmt_id {
	/* store.c */
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_USER_VERSION,
	/* store_devices.c */
	ST_DEV_UPSERT,
	ST_DEV_STATE,
	ST_DEV_SYNCED,
	ST_DEV_DETACH_ALL,
	ST_DEV_GET,
	ST_DEV_LIST,
	/* store_files.c */
	ST_FILE_LOAD,
	ST_FILE_UPSERT,
	ST_FILE_REMOVED,
	ST_REPORT_REMOVED,
	/* store_ingest.c */
	ST_REPORT_BY_KEY,
	ST_REPORT_INSERT,
	ST_REPORT_UPGRADE,
	ST_REPORT_SEQ,
	ST_PROC_NAME_ADD,
	ST_EVENT_INSERT,
	ST_REPARSE_LOOKUP,
	ST_REPARSE_DELETE,
	ST_REPARSE_UPDATE,
	ST_ARCHIVED_LIST,
	/* store_dict.c, store_event.c */
	ST_EVENT_REPORT,
	ST_DICT_FIND,
	ST_DICT_ADD,
	ST_DICT_GET,
	/* store_limits.c */
	ST_LIM_VALUE,
	ST_LIM_GROUP,
	ST_LIM_PHONE,
	ST_LIM_PROC,
	ST_LIM_PHONES_INC,
	ST_LIM_GROUPS_LIST,
	ST_LIM_VALUES_LIST,
	ST_LIM_PROCS_LIST,
	ST_LIM_DIRTY_GET,
	ST_LIM_DIRTY_SET,
	ST_LIM_REBUILD, /* + step: the rebuild's statements, in order */
	/* store_query.c */
	ST_COUNTS = ST_LIM_REBUILD + 16,
	ST_REPORTS_LIST,
	ST_REPORT_GET,
	ST_REPORT_EVENTS,
	ST_CURSOR,
	ST_PROC_NAMES,
	ST_SEQ_SINCE,
	ST_EVENTS_AFTER, /* + filter mask: the collection-order statements */
	ST_EVENTS = ST_EVENTS_AFTER +
		    256, /* + filter mask: one statement per combination of the event filters */
	ST__COUNT = ST_EVENTS + 256,
};

/* store_dict.c's cache of strs: text[id] and an open-addressing table of ids by text */
struct store_dict {
	char **text;
	char **json; /* text[id] as a JSON string, made on first use */
	size_t *json_len;
	size_t n_text;
	int64_t *slots;
	size_t n_slots, used;
};

/*
 * The EVENT text after an event's own fields, the same for every event of a report: its
 * report_id ... product_name and the closing brace (store_event.c); id 0: unused.
 */
struct store_facts {
	int64_t id;
	char *tail;
	size_t len;
};
#define STORE_FACTS_CACHE 1024

struct store {
	sqlite3 *db;
	sqlite3_stmt *st[ST__COUNT];
	struct store_dict dict;
	/* store_event.c: facts of reports whose events were rendered, by report id mod size */
	struct store_facts facts[STORE_FACTS_CACHE];
};

/* The cached statement id (sql: its text, used the first time), reset and unbound; NULL
 * (logged) when it does not prepare. */
sqlite3_stmt *store_stmt(struct store *s, enum stmt_id id, const char *sql);
/* Log SQLite's last error for what; returns -EIO. */
int store_db_err(struct store *s, const char *what);
/* Step st (NULL: -EIO) to its end, ignoring rows, and reset it. */
int store_run(struct store *s, sqlite3_stmt *st, const char *what);
int64_t store_now(void);

static inline int store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
	return v ? sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT) : sqlite3_bind_null(st, i);
}

/* REPORT_NULL binds NULL */
static inline int store_bind_int(sqlite3_stmt *st, int i, int64_t v)
{
	return v != REPORT_NULL ? sqlite3_bind_int64(st, i, v) : sqlite3_bind_null(st, i);
}

/* malloc'ed copy of a text column (NULL for NULL or out of memory) */
char *store_col_dup(sqlite3_stmt *st, int col);

/* ---- JSON (store_query.c) ---- */

static inline int store_j_add(cJSON *o, const char *k, cJSON *v)
{
	if (v == NULL)
		return -ENOMEM;
	cJSON_AddItemToObject(o, k, v);
	return 0;
}

static inline cJSON *store_j_str(const char *v)
{
	return v ? cJSON_CreateString(v) : cJSON_CreateNull();
}

/* A row of a query as a JSON item (NULL when out of memory). */
typedef cJSON *(*store_row_fn)(struct store *s, sqlite3_stmt *st);
/* Step a bound statement; its rows become array items through row_fn; resets it. */
int store_collect_rows(struct store *s, sqlite3_stmt *st, size_t limit, store_row_fn row_fn,
		       cJSON **out, int *truncated);
/* The one row a bound statement selects, or -ENOENT when it selects none. */
int store_collect_one(struct store *s, sqlite3_stmt *st, store_row_fn row_fn, cJSON **out);

/* Add collected_at (TIME), seq and product_name (of product) to an EVENT object. */
int store_event_add_collection(cJSON *o, const char *product, int64_t collected_at, int64_t seq);

/* ---- events (store_event.c): the columns every event query selects, in this order ---- */

/*
 * An event's own columns and its report's id, in the table's column order. What the events
 * of a report share (rseq, collected_at, time, udid, product, build: ingest writes them all
 * from one report's facts) is read once per report with the report's own facts, not per row.
 * Collection order also selects rseq (STORE_EVENT_COLS_RSEQ: a page ends with a report).
 */
#define STORE_EVENT_COLS                                                                           \
	"e.id,e.report_id,e.role,e.process,e.reason,e.limit_bytes,e.pid,e.uuid,e.states,"          \
	"e.priority,e.rpages,e.page_size,e.footprint,e.lifetime_max"
#define STORE_EVENT_COLS_RSEQ STORE_EVENT_COLS ",e.rseq"
/* events alone: a sort carries no report columns; their report's facts come in the render */
#define STORE_EVENT_FROM " FROM events e"

enum store_event_col {
	EC_ID,
	EC_REPORT_ID,
	EC_ROLE,
	EC_PROCESS,
	EC_REASON,
	EC_LIMIT,
	EC_PID,
	EC_UUID,
	EC_STATES,
	EC_PRIORITY,
	EC_RPAGES,
	EC_PAGE_SIZE,
	EC_FOOTPRINT,
	EC_LIFETIME_MAX,
	EC_RSEQ, /* STORE_EVENT_COLS_RSEQ only */
};

/* The EVENT of a row of STORE_EVENT_COLS, as a raw JSON item. Its report's facts are read
 * once and kept: store_event_forget() at every write transaction (store_begin(): a write may
 * change them) and when the strings cache goes. */
void store_event_forget(struct store *s);
cJSON *store_event_row(struct store *s, sqlite3_stmt *st);
/* The JSON text of ev's states array (malloc'ed; NULL when out of memory). */
char *store_event_states_text(const struct report_event *ev);

/* ---- strings of events (store_dict.c) ---- */

/* The id of text in strs, added when new (inside a transaction); NULL text: id 0. */
int store_dict_id(struct store *s, const char *text, int64_t *id);
/* The text of id (NULL: none); valid until the cache is reset. */
const char *store_dict_text(struct store *s, int64_t id);
/* The same as a JSON string (quoted, escaped as cJSON does), *len its length. */
const char *store_dict_json(struct store *s, int64_t id, size_t *len);
/* text (NULL: null) as a JSON string, as cJSON prints it (malloc'ed; NULL: no memory). */
char *store_json_quote(const char *text, size_t *len);
/* Forget the cache (a rollback, memory release, close). */
void store_dict_reset(struct store *s);

/* ---- between the jobs ---- */

/* store_outbox.c: the schema step of the fleet outbox (a table and its triggers) */
extern const char store_outbox_sql[];

/* store_files.c: the file index entry of an ingested phone file (none for an import) */
int store_file_upsert(struct store *s, const struct store_ingest *in, int64_t report_id);
/* store_limits.c: one event with a limit into the summaries (inside a transaction) */
int store_lim_add(struct store *s, const char *product, const char *build, const char *role,
		  const char *os_version, int64_t limit, int64_t time_s, const char *udid,
		  const char *process);
/* store_limits.c: mark the summaries stale (a reparse changed events); read the mark */
int store_limits_mark_dirty(struct store *s);
int store_limits_dirty(struct store *s);

#endif
