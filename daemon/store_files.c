/* store_files.c: the store's per-phone file index rows (load, add, mark removed) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

/* One more entry at the end of idx (capacity *cap); NULL when out of memory. */
static struct store_file_entry *index_push(struct store_file_index *idx, size_t *cap)
{
	if (idx->n == *cap) {
		size_t ncap = *cap ? *cap * 2 : 64;
		struct store_file_entry *nv = realloc(idx->v, ncap * sizeof(*nv));

		if (nv == NULL)
			return NULL;
		idx->v = nv;
		*cap = ncap;
	}
	return &idx->v[idx->n];
}

int store_file_index_load(struct store *s, const char *udid, struct store_file_index *out)
{
	sqlite3_stmt *st = store_stmt(s, ST_FILE_LOAD,
				      "SELECT path,size,mtime_ns,report_id,removed FROM files "
				      "WHERE udid=?1 ORDER BY path");
	size_t cap = 0;
	int rc, r = 0;

	memset(out, 0, sizeof(*out));
	if (st == NULL)
		return -EIO;
	store_bind_text(st, 1, udid);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_file_entry *e = index_push(out, &cap);

		if (e == NULL || (e->path = store_col_dup(st, 0)) == NULL) {
			r = -ENOMEM;
			break;
		}
		e->size = sqlite3_column_int64(st, 1);
		e->mtime_ns = sqlite3_column_type(st, 2) == SQLITE_NULL
				      ? REPORT_NULL
				      : sqlite3_column_int64(st, 2);
		e->report_id = sqlite3_column_int64(st, 3); /* NULL reads as 0 */
		e->removed = sqlite3_column_int(st, 4);
		out->n++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_db_err(s, "file index load");
	sqlite3_reset(st);
	if (r < 0)
		store_file_index_release(out);
	return r;
}

int store_file_upsert(struct store *s, const struct store_ingest *in, int64_t report_id)
{
	sqlite3_stmt *st;

	if (in->udid == NULL)
		return 0;
	st = store_stmt(s, ST_FILE_UPSERT,
			"INSERT OR REPLACE INTO files(udid,path,size,mtime_ns,report_id,removed) "
			"VALUES(?1,?2,?3,?4,?5,0)");
	if (st == NULL)
		return -EIO;
	store_bind_text(st, 1, in->udid);
	store_bind_text(st, 2, in->path);
	sqlite3_bind_int64(st, 3, in->size);
	store_bind_int(st, 4, in->mtime_ns);
	sqlite3_bind_int64(st, 5, report_id);
	return store_run(s, st, "file index insert");
}

int store_file_mark_removed(struct store *s, const char *udid, const char *path)
{
	sqlite3_stmt *st = store_stmt(s, ST_FILE_REMOVED,
				      "UPDATE files SET removed=1 WHERE udid=?1 AND path=?2 "
				      "RETURNING report_id");
	int64_t report_id = 0;
	int rc;

	if (st == NULL)
		return -EIO;
	store_bind_text(st, 1, udid);
	store_bind_text(st, 2, path);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW)
		report_id = sqlite3_column_int64(st, 0);
	sqlite3_reset(st);
	if (rc != SQLITE_DONE)
		return store_db_err(s, "file removed");
	if (report_id == 0)
		return -ENOENT;
	st = store_stmt(s, ST_REPORT_REMOVED, "UPDATE reports SET removed=1 WHERE id=?1");
	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, report_id);
	return store_run(s, st, "report removed");
}
