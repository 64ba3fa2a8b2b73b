/* store_query.c: the store's read side as JSON: status counts, reports, events */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

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

int store_collect_rows(struct store *s, sqlite3_stmt *st, size_t limit,
		       cJSON *(*row_fn)(sqlite3_stmt *), cJSON **out, int *truncated)
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

		if (limit && n == limit) {
			if (truncated)
				*truncated = 1;
			rc = SQLITE_DONE;
			break;
		}
		if ((item = row_fn(st)) == NULL) {
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
		return store_db_err(s, "query");
	}
	*out = arr;
	return 0;
}

int store_collect_one(struct store *s, sqlite3_stmt *st, cJSON *(*row_fn)(sqlite3_stmt *),
		      cJSON **out)
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
	sqlite3_stmt *st;
	int r = 0;

	if (!s->counts_valid) {
		st = store_stmt(
			s, ST_COUNTS,
			"SELECT (SELECT count(*) FROM reports),(SELECT count(*) FROM events)");
		if (st == NULL)
			return -EIO;
		if (sqlite3_step(st) == SQLITE_ROW) {
			s->n_reports = sqlite3_column_int64(st, 0);
			s->n_events = sqlite3_column_int64(st, 1);
			s->counts_valid = 1;
		} else {
			r = store_db_err(s, "counts");
		}
		sqlite3_reset(st);
	}
	*reports = s->n_reports;
	*events = s->n_events;
	return r;
}

/* ---- REPORT ---- */

#define REPORT_COLS                                                                                \
	"id,udid,key,incident,path,size,sha256,status,error,variant,product,os_version,build,"     \
	"timestamp,n_events,collected,removed"

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
	sqlite3_stmt *st = store_stmt(s, ST_REPORTS_LIST,
				      "SELECT " REPORT_COLS " FROM reports "
				      "WHERE (?1 IS NULL OR udid=?1) AND (?2 IS NULL OR status=?2) "
				      "ORDER BY id DESC LIMIT ?3");

	if (st == NULL)
		return -EIO;
	store_bind_text(st, 1, f->udid);
	store_bind_text(st, 2, f->status);
	sqlite3_bind_int64(st, 3, (int64_t)f->limit + 1);
	return store_collect_rows(s, st, f->limit, report_row, out, truncated);
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

/* column 0: the stored EVENT text, handed on as it is */
static cJSON *event_row(sqlite3_stmt *st)
{
	const char *json = (const char *)sqlite3_column_text(st, 0);

	return cJSON_CreateRaw(json ? json : "{}");
}

/*
 * The event filters, in parameter order. Each combination of the filters set is its own
 * cached statement (ST_EVENTS + mask), so that SQLite plans each with the index it wants.
 */
enum { EV_UDID, EV_PRODUCT, EV_BUILD, EV_PROCESS, EV_REASON, EV_ROLE, EV_SINCE, EV_UNTIL, EV__N };

static const char *const event_cond[EV__N] = {
	" AND e.udid=?",   " AND e.product=?", " AND e.build=?", " AND e.process=?",
	" AND e.reason=?", " AND e.role=?",    " AND e.time>=?", " AND e.time<=?",
};

_Static_assert(ST__COUNT - ST_EVENTS == 1 << EV__N, "one cached statement per filter mask");

static sqlite3_stmt *events_stmt(struct store *s, unsigned mask)
{
	enum stmt_id id = (enum stmt_id)(ST_EVENTS + (int)mask);
	char sql[512];
	size_t n;

	if (s->st[id]) /* prepared already: no need for its text */
		return store_stmt(s, id, NULL);
	n = (size_t)snprintf(sql, sizeof(sql), "SELECT e.json FROM events e WHERE 1");
	for (int i = 0; i < EV__N; i++)
		if (mask & (1u << i))
			n += (size_t)snprintf(sql + n, sizeof(sql) - n, "%s", event_cond[i]);
	snprintf(sql + n, sizeof(sql) - n, " ORDER BY e.time DESC, e.id DESC LIMIT ?");
	return store_stmt(s, id, sql);
}

int store_events_json(struct store *s, const struct store_event_filter *f, cJSON **out,
		      int *truncated)
{
	const char *text[EV_SINCE] = {f->udid,	  f->product, f->build,
				      f->process, f->reason,  f->role};
	int64_t times[2] = {f->since, f->until};
	unsigned mask = 0;
	sqlite3_stmt *st;
	int i, p = 1;

	for (i = 0; i < EV_SINCE; i++)
		mask |= text[i] ? 1u << i : 0;
	for (i = 0; i < 2; i++)
		mask |= times[i] != REPORT_NULL ? 1u << (EV_SINCE + i) : 0;
	if ((st = events_stmt(s, mask)) == NULL)
		return -EIO;
	for (i = 0; i < EV_SINCE; i++)
		if (text[i])
			store_bind_text(st, p++, text[i]);
	for (i = 0; i < 2; i++)
		if (times[i] != REPORT_NULL)
			sqlite3_bind_int64(st, p++, times[i]);
	sqlite3_bind_int64(st, p, (int64_t)f->limit + 1);
	return store_collect_rows(s, st, f->limit, event_row, out, truncated);
}

int store_report_events_json(struct store *s, int64_t report_id, cJSON **out)
{
	sqlite3_stmt *st = store_stmt(s, ST_REPORT_EVENTS,
				      "SELECT json FROM events WHERE report_id=?1 ORDER BY seq");

	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, report_id);
	return store_collect_rows(s, st, 0, event_row, out, NULL);
}
