/* store_devices.c: the store's devices table: identity, state, last sync, DEVICE rendering */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "../proto/products.h"
#include "store_internal.h"

/* The DEVICE columns, in struct store_device order; every device query selects them. */
#define DEVICE_COLS                                                                                \
	"udid,name,product,os_version,build,connection,state,error,attached,first_seen,"           \
	"last_seen,last_sync,n_reports"

static const char sql_upsert[] =
	"INSERT INTO devices(udid,name,product,os_version,build,connection,first_seen,"
	"last_seen) VALUES(?1,?2,?3,?4,?5,?6,?7,?7) ON CONFLICT(udid) DO UPDATE SET "
	"name=coalesce(?2,name),product=coalesce(?3,product),"
	"os_version=coalesce(?4,os_version),build=coalesce(?5,build),"
	"connection=coalesce(?6,connection),last_seen=?7";
static const char sql_state[] =
	"INSERT INTO devices(udid,state,attached,error,first_seen,last_seen) "
	"VALUES(?1,?2,?3,?4,?5,?5) ON CONFLICT(udid) DO UPDATE SET state=?2,"
	"attached=?3,error=?4,last_seen=CASE WHEN ?3 THEN ?5 ELSE last_seen END "
	"RETURNING " DEVICE_COLS;
static const char sql_get[] = "SELECT " DEVICE_COLS " FROM devices WHERE udid=?1";
static const char sql_list[] = "SELECT " DEVICE_COLS " FROM devices ORDER BY attached DESC, udid";

int store_device_upsert(struct store *s, const char *udid, const char *name, const char *product,
			const char *os_version, const char *build, const char *connection)
{
	sqlite3_stmt *st = store_stmt(s, ST_DEV_UPSERT, sql_upsert);

	if (st == NULL || udid == NULL)
		return st ? -EINVAL : -EIO;
	store_bind_text(st, 1, udid);
	store_bind_text(st, 2, name);
	store_bind_text(st, 3, product);
	store_bind_text(st, 4, os_version);
	store_bind_text(st, 5, build);
	store_bind_text(st, 6, connection);
	sqlite3_bind_int64(st, 7, store_now());
	return store_run(s, st, "device upsert");
}

static void col_copy(char *dst, size_t size, sqlite3_stmt *st, int col)
{
	const unsigned char *t = sqlite3_column_text(st, col);

	snprintf(dst, size, "%s", t ? (const char *)t : "");
}

/* A row of DEVICE_COLS into *row. */
static void device_from_stmt(sqlite3_stmt *st, struct store_device *row)
{
	memset(row, 0, sizeof(*row));
	col_copy(row->udid, sizeof(row->udid), st, 0);
	col_copy(row->name, sizeof(row->name), st, 1);
	col_copy(row->product, sizeof(row->product), st, 2);
	col_copy(row->os_version, sizeof(row->os_version), st, 3);
	col_copy(row->build, sizeof(row->build), st, 4);
	col_copy(row->connection, sizeof(row->connection), st, 5);
	col_copy(row->state, sizeof(row->state), st, 6);
	col_copy(row->error, sizeof(row->error), st, 7);
	row->attached = sqlite3_column_int(st, 8) != 0;
	row->first_seen = sqlite3_column_int64(st, 9);
	row->last_seen = sqlite3_column_int64(st, 10);
	row->last_sync = sqlite3_column_int64(st, 11); /* NULL reads as 0: never */
	row->reports = sqlite3_column_int64(st, 12);
}

int store_device_set_state(struct store *s, const char *udid, const char *state, int attached,
			   const char *error, struct store_device *row)
{
	sqlite3_stmt *st = store_stmt(s, ST_DEV_STATE, sql_state);
	int rc;

	if (st == NULL || udid == NULL || state == NULL)
		return st ? -EINVAL : -EIO;
	store_bind_text(st, 1, udid);
	store_bind_text(st, 2, state);
	sqlite3_bind_int(st, 3, attached ? 1 : 0);
	store_bind_text(st, 4, error);
	sqlite3_bind_int64(st, 5, store_now());
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW && row)
		device_from_stmt(st, row);
	if (rc == SQLITE_ROW)
		rc = sqlite3_step(st);
	sqlite3_reset(st);
	return rc == SQLITE_DONE ? 0 : store_db_err(s, "device state");
}

int store_device_set_synced(struct store *s, const char *udid, int64_t when)
{
	sqlite3_stmt *st =
		store_stmt(s, ST_DEV_SYNCED, "UPDATE devices SET last_sync=?2 WHERE udid=?1");

	if (st == NULL)
		return -EIO;
	store_bind_text(st, 1, udid);
	sqlite3_bind_int64(st, 2, when);
	return store_run(s, st, "device synced");
}

int store_devices_mark_all_detached(struct store *s)
{
	return store_run(
		s,
		store_stmt(s, ST_DEV_DETACH_ALL, "UPDATE devices SET attached=0, state='detached'"),
		"mark detached");
}

/* ---- DEVICE (PROTOCOL.md) ---- */

static cJSON *text_or_null(const char *v)
{
	return v[0] ? cJSON_CreateString(v) : cJSON_CreateNull();
}

static cJSON *time_or_null(int64_t epoch)
{
	char t[32];

	if (epoch == 0)
		return cJSON_CreateNull();
	isotime_format(epoch, t);
	return cJSON_CreateString(t);
}

cJSON *store_device_row_json(const struct store_device *row)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || store_j_add(o, "udid", text_or_null(row->udid)) ||
	    store_j_add(o, "name", text_or_null(row->name)) ||
	    store_j_add(o, "product", text_or_null(row->product)) ||
	    store_j_add(o, "product_name", store_j_str(products_name(row->product))) ||
	    store_j_add(o, "os_version", text_or_null(row->os_version)) ||
	    store_j_add(o, "build", text_or_null(row->build)) ||
	    store_j_add(o, "connection", text_or_null(row->connection)) ||
	    store_j_add(o, "attached", cJSON_CreateBool(row->attached)) ||
	    store_j_add(o, "state", text_or_null(row->state)) ||
	    store_j_add(o, "error", text_or_null(row->error)) ||
	    store_j_add(o, "first_seen", time_or_null(row->first_seen)) ||
	    store_j_add(o, "last_seen", time_or_null(row->last_seen)) ||
	    store_j_add(o, "last_sync", time_or_null(row->last_sync)) ||
	    store_j_add(o, "reports", cJSON_CreateNumber((double)row->reports))) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

static cJSON *device_row(struct store *s, sqlite3_stmt *st)
{
	struct store_device row;

	(void)s;
	device_from_stmt(st, &row);
	return store_device_row_json(&row);
}

int store_devices_json(struct store *s, cJSON **out)
{
	sqlite3_stmt *st = store_stmt(s, ST_DEV_LIST, sql_list);

	if (st == NULL)
		return -EIO;
	return store_collect_rows(s, st, 0, device_row, out, NULL);
}

int store_device_json(struct store *s, const char *udid, cJSON **out)
{
	sqlite3_stmt *st = store_stmt(s, ST_DEV_GET, sql_get);

	*out = NULL;
	if (st == NULL)
		return -EIO;
	store_bind_text(st, 1, udid);
	return store_collect_one(s, st, device_row, out);
}
