/* store_query.c: the store's read side as JSON: status counts, reports, events */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../proto/products.h"
#include "store_internal.h"

static int j_col_text(cJSON *o, const char *k, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	return store_j_add(o, k, store_j_str((const char *)t));
}

static int j_col_int(cJSON *o, const char *k, sqlite3_stmt *st, int col)
{
	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return store_j_add(o, k, cJSON_CreateNull());
	return store_j_add(o, k, cJSON_CreateNumber((double)sqlite3_column_int64(st, col)));
}

static int j_col_time(cJSON *o, const char *k, sqlite3_stmt *st, int col)
{
	char buf[32];

	if (sqlite3_column_type(st, col) == SQLITE_NULL)
		return store_j_add(o, k, cJSON_CreateNull());
	isotime_format(sqlite3_column_int64(st, col), buf);
	return store_j_add(o, k, cJSON_CreateString(buf));
}

static int j_col_bool(cJSON *o, const char *k, sqlite3_stmt *st, int col)
{
	return store_j_add(o, k, cJSON_CreateBool(sqlite3_column_int(st, col) != 0));
}

/*
 * store_collect_rows(), and *last (may be NULL) gets column last_col of the last row taken.
 * group (needs last): past limit, rows with the same last_col as the last one are still
 * taken (a page of events in collection order ends with a whole report).
 */
static int collect_rows_last(struct store *s, sqlite3_stmt *st, size_t limit, store_row_fn row_fn,
			     cJSON **out, int *truncated, int last_col, int64_t *last, int group)
{
	cJSON *arr = cJSON_CreateArray();
	size_t n = 0;
	int rc;

	if (truncated)
		*truncated = 0;
	if (arr == NULL) {
		sqlite3_reset(st);
		return -ENOMEM;
	}
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		cJSON *item;

		if (limit && n >= limit &&
		    (!group || sqlite3_column_int64(st, last_col) != *last)) {
			if (truncated)
				*truncated = 1;
			rc = SQLITE_DONE;
			break;
		}
		if ((item = row_fn(s, st)) == NULL) {
			cJSON_Delete(arr);
			sqlite3_reset(st);
			return -ENOMEM;
		}
		cJSON_AddItemToArray(arr, item);
		if (last)
			*last = sqlite3_column_int64(st, last_col);
		n++;
	}
	sqlite3_reset(st);
	if (rc != SQLITE_DONE) {
		cJSON_Delete(arr);
		return store_db_err(s, "query");
	}
	*out = arr;
	return 0;
}

int store_collect_rows(struct store *s, sqlite3_stmt *st, size_t limit, store_row_fn row_fn,
		       cJSON **out, int *truncated)
{
	return collect_rows_last(s, st, limit, row_fn, out, truncated, 0, NULL, 0);
}

int store_collect_one(struct store *s, sqlite3_stmt *st, store_row_fn row_fn, cJSON **out)
{
	cJSON *arr;
	int r = store_collect_rows(s, st, 0, row_fn, &arr, NULL);

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
	/* kept by the triggers of schema version 3 (store.c): one row, whatever the size */
	sqlite3_stmt *st = store_stmt(s, ST_COUNTS, "SELECT reports,events FROM counts");
	int rc;

	*reports = *events = 0;
	if (st == NULL)
		return -EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*reports = sqlite3_column_int64(st, 0);
		*events = sqlite3_column_int64(st, 1);
	}
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : store_db_err(s, "counts");
}

/* ---- REPORT ---- */

#define REPORT_COLS                                                                                \
	"id,udid,key,incident,path,size,sha256,status,error,variant,product,os_version,build,"     \
	"timestamp,n_events,collected,removed,collected_at,seq,"                                   \
	"key GLOB 'incident:*/sha256:*'"

static cJSON *report_row(struct store *s, sqlite3_stmt *st)
{
	cJSON *o = cJSON_CreateObject();

	(void)s;
	if (o == NULL || j_col_int(o, "id", st, 0) || j_col_text(o, "udid", st, 1) ||
	    j_col_text(o, "key", st, 2) || j_col_text(o, "incident", st, 3) ||
	    j_col_text(o, "path", st, 4) || j_col_int(o, "size", st, 5) ||
	    j_col_text(o, "sha256", st, 6) || j_col_text(o, "status", st, 7) ||
	    j_col_text(o, "error", st, 8) || j_col_text(o, "variant", st, 9) ||
	    j_col_text(o, "product", st, 10) || j_col_text(o, "os_version", st, 11) ||
	    j_col_text(o, "build", st, 12) || j_col_text(o, "timestamp", st, 13) ||
	    j_col_int(o, "events", st, 14) || j_col_time(o, "collected", st, 15) ||
	    j_col_bool(o, "removed_from_device", st, 16) || j_col_time(o, "collected_at", st, 17) ||
	    j_col_int(o, "seq", st, 18) || j_col_bool(o, "conflict", st, 19) ||
	    store_j_add(o, "product_name",
			store_j_str(products_name((const char *)sqlite3_column_text(st, 10))))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

int store_reports_json(struct store *s, const struct store_report_filter *f, cJSON **out,
		       struct store_page *page)
{
	sqlite3_stmt *st = store_stmt(s, ST_REPORTS_LIST,
				      "SELECT " REPORT_COLS " FROM reports "
				      "WHERE (?1 IS NULL OR udid=?1) AND (?2 IS NULL OR status=?2) "
				      "AND id<?4 ORDER BY id DESC LIMIT ?3");

	page->next = 0;
	if (st == NULL)
		return -EIO;
	store_bind_text(st, 1, f->udid);
	store_bind_text(st, 2, f->status);
	sqlite3_bind_int64(st, 3, (int64_t)f->limit + 1);
	sqlite3_bind_int64(st, 4, f->before_id > 0 ? f->before_id : INT64_MAX);
	return collect_rows_last(s, st, f->limit, report_row, out, &page->truncated, 0, &page->next,
				 0);
}

int store_report_json(struct store *s, int64_t report_id, cJSON **out)
{
	sqlite3_stmt *st =
		store_stmt(s, ST_REPORT_GET, "SELECT " REPORT_COLS " FROM reports WHERE id=?1");

	*out = NULL;
	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, report_id);
	return store_collect_one(s, st, report_row, out);
}

/* ---- EVENT ---- */

int store_event_add_collection(cJSON *o, const char *product, int64_t collected_at, int64_t seq)
{
	char t[32];

	isotime_format(collected_at, t);
	if (store_j_add(o, "collected_at", cJSON_CreateString(t)) ||
	    store_j_add(o, "seq", cJSON_CreateNumber((double)seq)) ||
	    store_j_add(o, "product_name", store_j_str(products_name(product))))
		return -ENOMEM;
	return 0;
}

/*
 * The event filters, in parameter order. Each combination of the filters set is its own
 * cached statement (ST_EVENTS + mask, or ST_EVENTS_AFTER + mask in collection order), so
 * that SQLite plans each with the index it wants; a page after the first (before_id) is
 * prepared for its query alone.
 */
enum { EV_UDID, EV_PRODUCT, EV_BUILD, EV_PROCESS, EV_REASON, EV_ROLE, EV_SINCE, EV_UNTIL, EV__N };

/* the strings are ids in strs: an unknown text matches nothing (NULL) */
#define EV_STR(col) " AND e." col "=(SELECT id FROM strs WHERE s=?)"

static const char *const event_cond[EV__N] = {
	EV_STR("udid"),	  EV_STR("product"), EV_STR("build"),  EV_STR("process"),
	EV_STR("reason"), EV_STR("role"),    " AND e.time>=?", " AND e.time<=?",
};

_Static_assert(ST__COUNT - ST_EVENTS == 1 << EV__N, "one cached statement per filter mask");
_Static_assert(ST_EVENTS - ST_EVENTS_AFTER == 1 << EV__N, "one per mask in collection order");

/* The SQL of a query: collection order (after, collected_since), or newest first. proc_in:
 * the process filter is a JSON array of names (see process_names()). */
static void events_sql(char *sql, size_t size, unsigned mask, const struct store_event_filter *f,
		       int before_null_time, int proc_in)
{
	size_t n;

	if (f->by_collection)
		/* events_rseq: in collection order from the cursor, no sort */
		n = (size_t)snprintf(sql, size,
				     "SELECT " STORE_EVENT_COLS_RSEQ STORE_EVENT_FROM
				     " WHERE e.rseq>? AND e.collected_at>=?");
	else
		n = (size_t)snprintf(sql, size,
				     "SELECT " STORE_EVENT_COLS STORE_EVENT_FROM " WHERE 1");
	for (int i = 0; i < EV__N; i++)
		if (mask & (1u << i))
			n += (size_t)snprintf(
				sql + n, size - n, "%s",
				i == EV_PROCESS && proc_in
					? " AND e.process IN (SELECT id FROM strs "
					  "WHERE s IN (SELECT value FROM json_each(?)))"
					: event_cond[i]);
	if (!f->by_collection && f->before_id > 0)
		n += (size_t)snprintf(sql + n, size - n, "%s",
				      before_null_time ? " AND e.time IS NULL AND e.id<?"
						       : " AND (e.time<? OR (e.time=? AND e.id<?)"
							 " OR e.time IS NULL)");
	snprintf(sql + n, size - n, "%s",
		 f->by_collection ? " ORDER BY e.rseq, e.seq LIMIT ?"
				  : " ORDER BY e.time DESC, e.id DESC LIMIT ?");
}

/* The time of event id (REPORT_NULL when NULL or no such event). */
static int event_time(struct store *s, int64_t id, int64_t *t)
{
	sqlite3_stmt *st;
	int rc;

	*t = REPORT_NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT time FROM events WHERE id=?1", -1, &st, NULL) !=
	    SQLITE_OK)
		return store_db_err(s, "prepare");
	sqlite3_bind_int64(st, 1, id);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
		*t = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_err(s, "event time");
}

/* Bind f's values at the statement's parameters, in events_sql()'s order. */
static void events_bind(sqlite3_stmt *st, unsigned mask, const struct store_event_filter *f,
			int64_t before_time)
{
	const char *text[EV_SINCE] = {f->udid,	  f->product, f->build,
				      f->process, f->reason,  f->role};
	int64_t times[2] = {f->since, f->until};
	int i, p = 1;

	if (f->by_collection) {
		sqlite3_bind_int64(st, p++, f->after);
		sqlite3_bind_int64(st, p++, f->collected_since);
	}
	for (i = 0; i < EV_SINCE; i++)
		if (mask & (1u << i))
			store_bind_text(st, p++, text[i]);
	for (i = 0; i < 2; i++)
		if (mask & (1u << (EV_SINCE + i)))
			sqlite3_bind_int64(st, p++, times[i]);
	if (!f->by_collection && f->before_id > 0) {
		if (before_time != REPORT_NULL) {
			sqlite3_bind_int64(st, p++, before_time);
			sqlite3_bind_int64(st, p++, before_time);
		}
		sqlite3_bind_int64(st, p++, f->before_id);
	}
	/* collection order: no limit in SQL, a page ends with a whole report (rows come in
	 * index order, unsorted, and stop being read after the page) */
	sqlite3_bind_int64(st, p, f->by_collection ? -1 : (int64_t)f->limit + 1);
}

/*
 * The process names the filter term matches, case-insensitively, as a name or glob (*, ?,
 * [...]) of the name or of a bundle id seen with it: *n of them; with one, *one is it (a
 * malloc'ed copy), with more, *json is a JSON array of them (malloc'ed).
 */
static int process_names(struct store *s, const char *term, size_t *n, char **one, char **json)
{
	sqlite3_stmt *st =
		store_stmt(s, ST_PROC_NAMES,
			   "SELECT json_group_array(name),count(*),min(name) FROM (SELECT DISTINCT "
			   "name FROM proc_names WHERE lower(name) GLOB lower(?1) OR "
			   "lower(bundle_id) GLOB lower(?1))");
	int rc;

	*n = 0;
	*one = *json = NULL;
	if (st == NULL)
		return -EIO;
	store_bind_text(st, 1, term);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*n = (size_t)sqlite3_column_int64(st, 1);
		if (*n == 1 && (*one = store_col_dup(st, 2)) == NULL)
			rc = SQLITE_NOMEM;
		if (*n > 1 && (*json = store_col_dup(st, 0)) == NULL)
			rc = SQLITE_NOMEM;
	}
	sqlite3_reset(st);
	if (rc == SQLITE_NOMEM)
		return -ENOMEM;
	return rc == SQLITE_ROW ? 0 : store_db_err(s, "process names");
}

/* store_events_json() once the process filter is one name (cached statement) or a JSON array
 * of names (proc_in: prepared for this query). */
static int events_query(struct store *s, const struct store_event_filter *f, int proc_in,
			cJSON **out, struct store_page *page)
{
	const char *text[EV_SINCE] = {f->udid,	  f->product, f->build,
				      f->process, f->reason,  f->role};
	int64_t before_time = REPORT_NULL;
	unsigned mask = 0;
	sqlite3_stmt *st = NULL;
	char sql[1024];
	int i, r, cached = (f->before_id <= 0 || f->by_collection) && !proc_in;
	enum stmt_id id;

	for (i = 0; i < EV_SINCE; i++)
		mask |= text[i] ? 1u << i : 0;
	mask |= f->since != REPORT_NULL ? 1u << EV_SINCE : 0;
	mask |= f->until != REPORT_NULL ? 1u << EV_UNTIL : 0;
	if (!f->by_collection && f->before_id > 0 &&
	    (r = event_time(s, f->before_id, &before_time)) < 0)
		return r;
	id = (enum stmt_id)((f->by_collection ? ST_EVENTS_AFTER : ST_EVENTS) + (int)mask);
	if (cached && s->st[id]) { /* prepared already: no need for its text */
		st = store_stmt(s, id, NULL);
	} else {
		events_sql(sql, sizeof(sql), mask, f, before_time == REPORT_NULL, proc_in);
		if (cached)
			st = store_stmt(s, id, sql);
		else if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
			return store_db_err(s, "prepare");
	}
	if (st == NULL)
		return -EIO;
	events_bind(st, mask, f, before_time);
	r = collect_rows_last(s, st, f->limit, store_event_row, out, &page->truncated,
			      f->by_collection ? EC_RSEQ : EC_ID, &page->next, f->by_collection);
	if (!cached)
		sqlite3_finalize(st);
	return r;
}

/*
 * collected_since as a start for the cursor: no report before the first one collected since
 * then qualifies (*after is raised to just below it; the collected_at test stays exact).
 */
static int seq_since(struct store *s, int64_t since, int64_t *after)
{
	sqlite3_stmt *st = store_stmt(
		s, ST_SEQ_SINCE,
		"SELECT coalesce(min(seq),(SELECT max(seq) FROM reports),0) FROM reports "
		"WHERE collected_at>=?1");
	int rc;

	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, since);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && sqlite3_column_int64(st, 0) - 1 > *after)
		*after = sqlite3_column_int64(st, 0) - 1;
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : store_db_err(s, "collected since");
}

int store_events_json(struct store *s, const struct store_event_filter *f, cJSON **out,
		      struct store_page *page)
{
	struct store_event_filter g = *f;
	char *one = NULL, *json = NULL;
	size_t n = 0;
	int r = 0;

	page->next = 0;
	page->truncated = 0;
	if (f->by_collection && f->collected_since > 0 &&
	    (r = seq_since(s, f->collected_since, &g.after)) < 0)
		return r;
	if (f->process && (r = process_names(s, f->process, &n, &one, &json)) < 0)
		return r;
	if (f->process && n == 0) { /* no such process: nothing to read */
		*out = cJSON_CreateArray();
		return *out ? 0 : -ENOMEM;
	}
	g.process = f->process ? (n == 1 ? one : json) : NULL;
	r = events_query(s, &g, n > 1, out, page);
	free(one);
	free(json);
	return r;
}

int store_cursor(struct store *s, int64_t *seq)
{
	sqlite3_stmt *st = store_stmt(s, ST_CURSOR, "SELECT coalesce(max(seq),0) FROM reports");
	int rc;

	*seq = 0;
	if (st == NULL)
		return -EIO;
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*seq = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	return rc == SQLITE_ROW ? 0 : store_db_err(s, "cursor");
}

int store_report_events_json(struct store *s, int64_t report_id, cJSON **out)
{
	/* a report's events are those of its seq (events_rseq) */
	sqlite3_stmt *st = store_stmt(s, ST_REPORT_EVENTS,
				      "SELECT " STORE_EVENT_COLS STORE_EVENT_FROM
				      " WHERE e.rseq=(SELECT seq FROM reports WHERE id=?1)"
				      " AND e.report_id=?1 ORDER BY e.seq");

	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, report_id);
	return store_collect_rows(s, st, 0, store_event_row, out, NULL);
}
