/* store_outbox.c: the fleet outbox: the reports and device rows to ship, queued by their commits */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../proto/report_json.h"
#include "archive.h"
#include "fleet_rows.h"
#include "log.h"
#include "store_internal.h"
#include "store_outbox.h"

/*
 * DESIGN
 * fleet_outbox holds references, not copies: (kind, ref) = (0, udid) for a device row,
 * (1, key) for a report with its events. Triggers on reports and devices queue an entry in
 * the transaction of the statement that changed the row (ingest, import, upgrade, reparse,
 * removal mark, device state), so a crash or a PostgreSQL outage loses nothing. A row queued
 * again moves to the end (its older entry is deleted): the batch reader ships the row as it
 * is when read, so that is the same and keeps commit order. AUTOINCREMENT: ids are never
 * reused, so store_outbox_done(upto) deletes only entries the batch read (an entry queued
 * again while its batch was on the way has a new, larger id and ships again).
 * The triggers queue only while meta 'fleet_host' is set (store_outbox_configure()): a store
 * that does not ship keeps no outbox.
 */
const char store_outbox_sql[] =
	"CREATE TABLE IF NOT EXISTS fleet_outbox(id INTEGER PRIMARY KEY AUTOINCREMENT,"
	" kind INTEGER NOT NULL, ref TEXT NOT NULL);"
	"CREATE INDEX IF NOT EXISTS fleet_outbox_ref ON fleet_outbox(kind, ref);"
#define OUTBOX_TRIGGER(name, ev, table, kind, ref)                                                 \
	"CREATE TRIGGER IF NOT EXISTS " name " AFTER " ev " ON " table                             \
	" WHEN EXISTS(SELECT 1 FROM meta WHERE key='fleet_host') BEGIN"                            \
	" DELETE FROM fleet_outbox WHERE kind=" kind " AND ref=NEW." ref ";"                       \
	" INSERT INTO fleet_outbox(kind,ref) VALUES(" kind ",NEW." ref "); END;"
	OUTBOX_TRIGGER("fleet_outbox_dev_ins", "INSERT", "devices", "0", "udid") OUTBOX_TRIGGER(
		"fleet_outbox_dev_upd", "UPDATE", "devices", "0", "udid")
		OUTBOX_TRIGGER("fleet_outbox_rep_ins", "INSERT", "reports", "1", "key")
			OUTBOX_TRIGGER("fleet_outbox_rep_upd", "UPDATE", "reports", "1", "key");
#undef OUTBOX_TRIGGER

/* Run one statement with an optional text parameter ?1. */
static int exec1(struct store *s, const char *sql, const char *p1)
{
	sqlite3_stmt *st;
	int rc;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return store_db_err(s, "outbox prepare");
	if (p1)
		sqlite3_bind_text(st, 1, p1, -1, SQLITE_TRANSIENT);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		;
	sqlite3_finalize(st);
	return rc == SQLITE_DONE ? 0 : store_db_err(s, "outbox");
}

/* meta 'fleet_host' (NULL when unset; malloc'ed) */
static int host_get(struct store *s, char **host)
{
	sqlite3_stmt *st;
	int rc;

	*host = NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key='fleet_host'", -1, &st,
			       NULL) != SQLITE_OK)
		return store_db_err(s, "outbox prepare");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*host = store_col_dup(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_err(s, "fleet host");
}

int store_outbox_configure(struct store *s, const char *host_id)
{
	char *was = NULL;
	int same, r = store_begin(s);

	if (r == 0)
		r = host_get(s, &was);
	same = (host_id == NULL && was == NULL) || (host_id && was && strcmp(was, host_id) == 0);
	if (r == 0 && !same) {
		/* off, or on under another id: start over (the new id has none of our rows) */
		r = exec1(s, "DELETE FROM fleet_outbox", NULL);
		if (r == 0 && host_id == NULL)
			r = exec1(s, "DELETE FROM meta WHERE key='fleet_host'", NULL);
		if (r == 0 && host_id != NULL) {
			log_info("store", "fleet: queueing the whole store for host id '%s'",
				 host_id);
			r = exec1(s,
				  "INSERT OR REPLACE INTO meta(key,value) VALUES('fleet_host',?1)",
				  host_id);
			if (r == 0)
				r = exec1(s,
					  "INSERT INTO fleet_outbox(kind,ref) SELECT 0,udid FROM "
					  "devices ORDER BY udid",
					  NULL);
			if (r == 0)
				r = exec1(s,
					  "INSERT INTO fleet_outbox(kind,ref) SELECT 1,key FROM "
					  "reports ORDER BY seq",
					  NULL);
		}
	}
	free(was);
	if (r == 0)
		r = store_commit(s);
	if (r < 0)
		store_rollback(s);
	return r;
}

int store_outbox_depth(struct store *s, int64_t *n)
{
	sqlite3_stmt *st;
	int rc;

	*n = 0;
	if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM fleet_outbox", -1, &st, NULL) !=
	    SQLITE_OK)
		return store_db_err(s, "outbox prepare");
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return rc == SQLITE_ROW ? 0 : store_db_err(s, "outbox depth");
}

int store_outbox_done(struct store *s, int64_t upto)
{
	char sql[96];

	snprintf(sql, sizeof(sql), "DELETE FROM fleet_outbox WHERE id<=%lld", (long long)upto);
	return exec1(s, sql, NULL);
}

struct entry {
	int64_t id;
	int kind;
	char *ref;
};

/* The first max entries, in order. */
static int entries_load(struct store *s, size_t max, struct entry **v, size_t *n)
{
	sqlite3_stmt *st;
	int rc, r = 0;

	*n = 0;
	if ((*v = calloc(max, sizeof(**v))) == NULL)
		return -ENOMEM;
	if (sqlite3_prepare_v2(s->db, "SELECT id,kind,ref FROM fleet_outbox ORDER BY id LIMIT ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return store_db_err(s, "outbox prepare");
	sqlite3_bind_int64(st, 1, (int64_t)max);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW && *n < max) {
		struct entry *e = &(*v)[*n];

		e->id = sqlite3_column_int64(st, 0);
		e->kind = sqlite3_column_int(st, 1);
		if ((e->ref = store_col_dup(st, 2)) == NULL) {
			r = -ENOMEM;
			break;
		}
		(*n)++;
	}
	if (r == 0 && rc != SQLITE_DONE && rc != SQLITE_ROW)
		r = store_db_err(s, "outbox read");
	sqlite3_finalize(st);
	return r;
}

/* A report's id, parsed time (ISO-8601, "" when none) and archive (malloc'ed, may be NULL). */
static int report_lookup(struct store *s, const char *key, int64_t *id, char time[32],
			 char **archive)
{
	sqlite3_stmt *st;
	int rc;

	*id = 0;
	time[0] = '\0';
	*archive = NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT id,time,archive FROM reports WHERE key=?1", -1, &st,
			       NULL) != SQLITE_OK)
		return store_db_err(s, "outbox prepare");
	sqlite3_bind_text(st, 1, key, -1, SQLITE_TRANSIENT);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*id = sqlite3_column_int64(st, 0);
		if (sqlite3_column_type(st, 1) != SQLITE_NULL)
			isotime_format(sqlite3_column_int64(st, 1), time);
		*archive = store_col_dup(st, 2);
	}
	sqlite3_finalize(st);
	return rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : store_db_err(s, "outbox report");
}

/* The report's archived bytes and (when asked) its parsed facts as JSON text. */
static void report_extras(const struct store_outbox_opts *o, const char *archive, void **raw,
			  size_t *raw_len, char **facts)
{
	struct report *rep = NULL;
	cJSON *j;

	*raw = NULL;
	*facts = NULL;
	if ((!o->ship_facts && !o->ship_raw) || archive == NULL ||
	    archive_read(o->state_dir, archive, o->max_report_size, raw, raw_len) < 0)
		return;
	if (o->ship_facts && report_parse(*raw, *raw_len, NULL, &rep) == 0) {
		if ((j = report_json_report(rep)) != NULL)
			*facts = cJSON_PrintUnformatted(j);
		cJSON_Delete(j);
	}
	report_free(rep);
	if (!o->ship_raw) {
		free(*raw);
		*raw = NULL;
	}
}

/* The events of report id, as events rows of key. */
static int events_rows(struct store *s, const struct store_outbox_opts *o, int64_t id,
		       const char *key, struct fleet_batch *b)
{
	cJSON *arr = NULL, *ev;
	int seq = 0, r = store_report_events_json(s, id, &arr);

	cJSON_ArrayForEach(ev, arr)
	{
		cJSON *obj = cJSON_IsRaw(ev) ? cJSON_Parse(ev->valuestring) : NULL;
		char *text = cJSON_IsRaw(ev) ? NULL : cJSON_PrintUnformatted(ev);

		if (r == 0 && (cJSON_IsRaw(ev) ? obj == NULL : text == NULL))
			r = -ENOMEM;
		if (r == 0)
			r = fleet_rows_event(&b->copy[FLEET_EVENTS], o->host_id, key, seq++,
					     obj ? obj : ev, text ? text : ev->valuestring);
		cJSON_Delete(obj);
		cJSON_free(text);
	}
	cJSON_Delete(arr);
	b->rows[FLEET_EVENTS] += seq;
	return r;
}

static int report_rows(struct store *s, const struct store_outbox_opts *o, const char *key,
		       struct fleet_batch *b)
{
	char time[32], *archive, *facts;
	cJSON *rep = NULL;
	int64_t id;
	void *raw;
	size_t raw_len = 0;
	int r = report_lookup(s, key, &id, time, &archive);

	if (r < 0 || id == 0) {
		free(archive);
		return r; /* gone (never: reports are not deleted) */
	}
	r = store_report_json(s, id, &rep);
	report_extras(o, archive, &raw, &raw_len, &facts);
	if (r == 0)
		r = fleet_rows_report(&b->copy[FLEET_REPORTS], o->host_id, rep,
				      time[0] ? time : NULL, facts, raw, raw_len);
	if (r == 0) {
		b->rows[FLEET_REPORTS]++;
		r = events_rows(s, o, id, key, b);
	}
	cJSON_Delete(rep);
	cJSON_free(facts);
	free(raw);
	free(archive);
	return r;
}

static int device_rows(struct store *s, const struct store_outbox_opts *o, const char *udid,
		       struct fleet_batch *b)
{
	cJSON *dev = NULL;
	int r = store_device_json(s, udid, &dev);

	if (r == -ENOENT)
		return 0;
	if (r == 0)
		r = fleet_rows_device(&b->copy[FLEET_DEVICES], o->host_id, dev);
	if (r == 0)
		b->rows[FLEET_DEVICES]++;
	cJSON_Delete(dev);
	return r;
}

int store_outbox_read(struct store *s, const struct store_outbox_opts *o, struct fleet_batch *b)
{
	size_t max = o->max_events ? o->max_events : 1, n = 0, i;
	struct entry *v = NULL;
	int r;

	memset(b, 0, sizeof(*b));
	r = store_outbox_depth(s, &b->depth);
	if (r == 0 && b->depth > 0)
		r = entries_load(s, max, &v, &n);
	for (i = 0; r == 0 && i < n; i++) {
		/* a batch holds one entry at least, then stops at max events */
		if (i > 0 && (size_t)b->rows[FLEET_EVENTS] >= max)
			break;
		if (v[i].kind == 0)
			r = device_rows(s, o, v[i].ref, b);
		else
			r = report_rows(s, o, v[i].ref, b);
		b->upto = v[i].id;
		b->entries++;
	}
	for (i = 0; i < n; i++)
		free(v[i].ref);
	free(v);
	if (r < 0)
		fleet_batch_release(b);
	return r;
}
