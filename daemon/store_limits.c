/* store_limits.c: the store's limit statistics: summary tables, the LIMIT rows, rebuild */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../proto/products.h"
#include "store_internal.h"

/*
 * DESIGN
 * The limits query must stay fast with millions of events, so ingestion also maintains
 * small summary tables keyed by (product, build, role): lim_values holds a histogram of
 * limit_bytes (the median is read from it), lim_phones and lim_procs the distinct phones
 * and processes, lim_groups the first/last time and OS version. Each event costs a few
 * indexed writes, whatever the group's size: the sorted process list of a LIMIT is read
 * from lim_procs' primary key at query time (lim_groups.processes, the JSON array releases
 * before 11 kept up to date on every new name, quadratic in names, is no longer written). Reports
 * are never deleted; reparse rebuilds the summaries from the events (a meta mark, limits_dirty,
 * says a rebuild is owed, also across a crash).
 */

/*
 * Run a statement of the summaries with the group key at ?1..?3, text (NULL: none) at ?4
 * and num (REPORT_NULL: none) at ?5.
 */
static int lim_write(struct store *s, enum stmt_id id, const char *sql, const char *const key[3],
		     const char *text, int64_t num)
{
	sqlite3_stmt *st = store_stmt(s, id, sql);

	if (st == NULL)
		return -EIO;
	for (int i = 0; i < 3; i++)
		store_bind_text(st, 1 + i, key[i]);
	if (text)
		store_bind_text(st, 4, text);
	if (num != REPORT_NULL)
		sqlite3_bind_int64(st, 5, num);
	return store_run(s, st, "limits summary");
}

/* A distinct phone or process of a group; a new one updates the group's row (then). */
static int lim_distinct(struct store *s, const char *const key[3], enum stmt_id id, const char *sql,
			const char *value, enum stmt_id then, const char *then_sql)
{
	int r = lim_write(s, id, sql, key, value, REPORT_NULL);

	if (r == 0 && sqlite3_changes(s->db) > 0)
		r = lim_write(s, then, then_sql, key, NULL, REPORT_NULL);
	return r;
}

/* Group keys of the limits summaries: NULL product/build become "" there. */
int store_lim_add(struct store *s, const char *product, const char *build, const char *role,
		  const char *os_version, int64_t limit, int64_t time_s, const char *udid,
		  const char *process)
{
	const char *key[3] = {product ? product : "", build ? build : "", role};
	int r;

	if ((r = lim_write(s, ST_LIM_VALUE,
			   "INSERT INTO lim_values(product,build,role,limit_bytes,n) "
			   "VALUES(?1,?2,?3,?5,1) ON CONFLICT DO UPDATE SET n=n+1",
			   key, NULL, limit)) < 0 ||
	    (r = lim_write(s, ST_LIM_GROUP,
			   "INSERT INTO lim_groups(product,build,role,os_version,first_seen,"
			   "last_seen) VALUES(?1,?2,?3,?4,?5,?5) ON CONFLICT DO UPDATE SET "
			   "first_seen=min(first_seen,?5),last_seen=max(last_seen,?5),"
			   "os_version=coalesce(os_version,?4)",
			   key, os_version, time_s)) < 0)
		return r;
	if (udid && (r = lim_distinct(s, key, ST_LIM_PHONE,
				      "INSERT OR IGNORE INTO lim_phones(product,build,role,udid) "
				      "VALUES(?1,?2,?3,?4)",
				      udid, ST_LIM_PHONES_INC,
				      "UPDATE lim_groups SET phones=phones+1 "
				      "WHERE product=?1 AND build=?2 AND role=?3")) < 0)
		return r;
	/* O(log n) per name: the sorted list is read from lim_procs' key by the limits query */
	if (process && (r = lim_write(s, ST_LIM_PROC,
				      "INSERT OR IGNORE INTO lim_procs(product,build,role,process) "
				      "VALUES(?1,?2,?3,?4)",
				      key, process, REPORT_NULL)) < 0)
		return r;
	return 0;
}

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
static int lim_fill(struct store *s, const char *product, const char *role, struct lim_row *v,
		    size_t n)
{
	sqlite3_stmt *st;
	size_t g = 0;
	int rc, r = 0;
	int64_t *vals = NULL, *cnts = NULL;
	size_t nv = 0, cap = 0;

	st = store_stmt(s, ST_LIM_VALUES_LIST,
			"SELECT product,build,role,limit_bytes,n FROM lim_values "
			"WHERE (?1 IS NULL OR product=?1) AND (?2 IS NULL OR role=?2) "
			"ORDER BY product,build,role,limit_bytes");
	if (st == NULL)
		return -EIO;
	store_bind_text(st, 1, product);
	store_bind_text(st, 2, role);
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
			r = store_db_err(s, "limits values");
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
	sqlite3_reset(st);
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
	isotime_format(row->first, t1);
	isotime_format(row->last, t2);
	if (prev) {
		double pct =
			((double)row->median - (double)prev->median) * 100.0 / (double)prev->median;

		if (pct > 5.0 || pct < -5.0) {
			drift = cJSON_CreateObject();
			if (drift == NULL ||
			    store_j_add(drift, "previous_build", str_or_null(prev->build)) ||
			    store_j_add(drift, "previous_median",
					cJSON_CreateNumber((double)prev->median)) ||
			    store_j_add(drift, "change_pct",
					cJSON_CreateNumber((double)llround(pct * 10.0) / 10.0))) {
				cJSON_Delete(drift);
				cJSON_Delete(o);
				return NULL;
			}
		}
	}
	if (store_j_add(o, "product", str_or_null(row->product)) ||
	    store_j_add(o, "product_name", str_or_null(products_name(row->product))) ||
	    store_j_add(o, "os_version", str_or_null(row->os_version)) ||
	    store_j_add(o, "build", str_or_null(row->build)) ||
	    store_j_add(o, "role", cJSON_CreateString(row->role)) ||
	    store_j_add(o, "count", cJSON_CreateNumber((double)row->count)) ||
	    store_j_add(o, "phones", cJSON_CreateNumber((double)row->phones)) ||
	    store_j_add(o, "min", cJSON_CreateNumber((double)row->min)) ||
	    store_j_add(o, "median", cJSON_CreateNumber((double)row->median)) ||
	    store_j_add(o, "max", cJSON_CreateNumber((double)row->max)) ||
	    store_j_add(o, "first_seen", cJSON_CreateString(t1)) ||
	    store_j_add(o, "last_seen", cJSON_CreateString(t2)) ||
	    /* JSON text from SQLite's json_group_array() over lim_procs: sorted names */
	    store_j_add(o, "processes", cJSON_CreateRaw(row->procs ? row->procs : "[]"))) {
		cJSON_Delete(drift);
		cJSON_Delete(o);
		return NULL;
	}
	cJSON_AddItemToObject(o, "drift", drift ? drift : cJSON_CreateNull());
	return o;
}

/* text[0..len) as a JSON string, escaped as SQLite's json_group_array() does */
static int procs_add(char **p, size_t *n, size_t *cap, const unsigned char *text, size_t len)
{
	static const char special[32] = {
		['\b'] = 'b', ['\t'] = 't', ['\n'] = 'n', ['\f'] = 'f', ['\r'] = 'r'};
	char *w;

	if (*n + 6 * len + 4 > *cap) {
		size_t ncap = *cap ? *cap : 4096;
		char *np;

		while (ncap < *n + 6 * len + 4)
			ncap *= 2;
		if ((np = realloc(*p, ncap)) == NULL)
			return -ENOMEM;
		*p = np;
		*cap = ncap;
	}
	w = *p + *n;
	*w++ = *n == 0 ? '[' : ',';
	*w++ = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = text[i];

		if (c == '"' || c == '\\') {
			*w++ = '\\';
		} else if (c < 32 && special[c]) {
			*w++ = '\\';
			c = (unsigned char)special[c];
		} else if (c < 32) {
			memcpy(w, "\\u00", 4);
			w += 4;
			*w++ = (char)('0' + (c >> 4));
			c = (unsigned char)"0123456789abcdef"[c & 15];
		}
		*w++ = (char)c;
	}
	*w++ = '"';
	*n = (size_t)(w - *p);
	return 0;
}

/* Each group's processes, sorted, as the JSON array text json_group_array() gave. */
static int lim_procs_fill(struct store *s, struct lim_row *v, size_t n)
{
	sqlite3_stmt *st;
	size_t len = 0, cap = 0;
	char *text = NULL;
	int rc = SQLITE_DONE, r = 0;

	for (size_t g = 0; g < n && r == 0; g++) {
		st = store_stmt(s, ST_LIM_PROCS_LIST,
				"SELECT process FROM lim_procs WHERE product=?1 AND build=?2 "
				"AND role=?3 ORDER BY process");
		if (st == NULL)
			return -EIO;
		sqlite3_bind_text(st, 1, v[g].product, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 2, v[g].build, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 3, v[g].role, -1, SQLITE_STATIC);
		len = 0;
		while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW)
			r = procs_add(&text, &len, &cap, sqlite3_column_text(st, 0),
				      (size_t)sqlite3_column_bytes(st, 0));
		sqlite3_reset(st);
		if (r == 0 && rc != SQLITE_DONE)
			r = store_db_err(s, "limits processes");
		if (r == 0 && len > 0) {
			text[len++] = ']';
			if ((v[g].procs = malloc(len + 1)) == NULL)
				r = -ENOMEM;
			else
				memcpy(v[g].procs, text, len);
			if (v[g].procs)
				v[g].procs[len] = '\0';
		}
	}
	free(text);
	return r;
}

/*
 * Every group of lim_groups of product and role (NULL: any), in key order; *v and *n: what
 * was read. A role's rows alone are enough for drift: it compares foreground rows only.
 */
static int lim_groups_load(struct store *s, const char *product, const char *role,
			   struct lim_row **v, size_t *n)
{
	sqlite3_stmt *st =
		store_stmt(s, ST_LIM_GROUPS_LIST,
			   "SELECT product,build,role,os_version,first_seen,last_seen,phones "
			   "FROM lim_groups WHERE (?1 IS NULL OR product=?1) "
			   "AND (?2 IS NULL OR role=?2) ORDER BY product,build,role");
	size_t cap = 0;
	int rc, r = 0;

	if (st == NULL)
		return -EIO;
	store_bind_text(st, 1, product);
	store_bind_text(st, 2, role);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		struct lim_row *row;

		if (*n == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			struct lim_row *nv = realloc(*v, ncap * sizeof(*nv));

			if (nv == NULL) {
				r = -ENOMEM;
				break;
			}
			*v = nv;
			cap = ncap;
		}
		row = &(*v)[(*n)++];
		memset(row, 0, sizeof(*row));
		row->product = store_col_dup(st, 0);
		row->build = store_col_dup(st, 1);
		row->role = store_col_dup(st, 2);
		row->os_version = store_col_dup(st, 3);
		row->first = sqlite3_column_int64(st, 4);
		row->last = sqlite3_column_int64(st, 5);
		row->phones = sqlite3_column_int64(st, 6);
		if (!row->product || !row->build || !row->role) {
			r = -ENOMEM;
			break;
		}
		row->role_rank = role_rank(row->role);
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_db_err(s, "limits groups");
	sqlite3_reset(st);
	return r;
}

/* The foreground row of the previous build of v[i]'s product (v sorted), for drift. */
static const struct lim_row *lim_previous(const struct lim_row *v, size_t i)
{
	if (strcmp(v[i].role, "foreground") != 0 || v[i].count == 0)
		return NULL;
	for (size_t k = i; k-- > 0;) {
		if (strcmp(v[k].product, v[i].product) != 0)
			break;
		if (strcmp(v[k].role, "foreground") == 0 && strcmp(v[k].build, v[i].build) != 0 &&
		    v[k].median > 0)
			return &v[k];
	}
	return NULL;
}

int store_limits_json(struct store *s, const char *product, const char *build, const char *role,
		      cJSON **out)
{
	struct lim_row *v = NULL;
	size_t n = 0;
	cJSON *arr = NULL;
	int r;

	*out = NULL;
	if ((r = lim_groups_load(s, product, role, &v, &n)) < 0 ||
	    (r = lim_fill(s, product, role, v, n)) < 0 || (r = lim_procs_fill(s, v, n)) < 0)
		goto out;
	if (n > 1)
		qsort(v, n, sizeof(*v), cmp_lim);
	if ((arr = cJSON_CreateArray()) == NULL) {
		r = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		cJSON *o;

		if ((build && strcmp(v[i].build, build) != 0) ||
		    (role && strcmp(v[i].role, role) != 0))
			continue;
		if ((o = lim_json(&v[i], lim_previous(v, i))) == NULL) {
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
	return r;
}

/* ---- rebuild (after a reparse) ---- */

/* events_v: the event rows with their strings (store.c, schema version 3) */
static const char *const rebuild_sql[] = {
	"DELETE FROM lim_values",
	"DELETE FROM lim_groups",
	"DELETE FROM lim_phones",
	"DELETE FROM lim_procs",
	"INSERT INTO lim_values(product,build,role,limit_bytes,n)"
	" SELECT coalesce(product,''),coalesce(build,''),role,limit_bytes,count(*)"
	" FROM events_v WHERE limit_bytes IS NOT NULL GROUP BY 1,2,3,4",
	"INSERT INTO lim_groups(product,build,role,os_version,first_seen,last_seen)"
	" SELECT coalesce(e.product,''),coalesce(e.build,''),e.role,min(e.os_version),"
	" min(coalesce(e.time,r.collected)),max(coalesce(e.time,r.collected))"
	" FROM events_v e JOIN reports r ON r.id=e.report_id"
	" WHERE e.limit_bytes IS NOT NULL GROUP BY 1,2,3",
	"INSERT OR IGNORE INTO lim_phones(product,build,role,udid)"
	" SELECT coalesce(product,''),coalesce(build,''),role,udid FROM events_v"
	" WHERE limit_bytes IS NOT NULL AND udid IS NOT NULL",
	"INSERT OR IGNORE INTO lim_procs(product,build,role,process)"
	" SELECT coalesce(product,''),coalesce(build,''),role,process FROM events_v"
	" WHERE limit_bytes IS NOT NULL AND process IS NOT NULL",
	"UPDATE lim_groups SET"
	" phones=(SELECT count(*) FROM lim_phones p WHERE p.product=lim_groups.product"
	"  AND p.build=lim_groups.build AND p.role=lim_groups.role)",
	"DELETE FROM meta WHERE key='limits_dirty'",
};

_Static_assert(sizeof(rebuild_sql) / sizeof(rebuild_sql[0]) <= ST_COUNTS - ST_LIM_REBUILD,
	       "room for the rebuild's statements in enum stmt_id");

int store_limits_rebuild(struct store *s)
{
	size_t n = sizeof(rebuild_sql) / sizeof(rebuild_sql[0]);
	int r = store_begin(s);

	for (size_t i = 0; r == 0 && i < n; i++)
		r = store_run(s, store_stmt(s, (enum stmt_id)(ST_LIM_REBUILD + i), rebuild_sql[i]),
			      "limits rebuild");
	if (r == 0)
		r = store_commit(s);
	if (r < 0)
		store_rollback(s);
	return r;
}

int store_limits_mark_dirty(struct store *s)
{
	return store_run(s,
			 store_stmt(s, ST_LIM_DIRTY_SET,
				    "INSERT OR REPLACE INTO meta(key,value) "
				    "VALUES('limits_dirty','1')"),
			 "reparse mark");
}

int store_limits_dirty(struct store *s)
{
	sqlite3_stmt *st =
		store_stmt(s, ST_LIM_DIRTY_GET, "SELECT 1 FROM meta WHERE key='limits_dirty'");
	int dirty;

	if (st == NULL)
		return 0;
	dirty = sqlite3_step(st) == SQLITE_ROW;
	sqlite3_reset(st);
	return dirty;
}
