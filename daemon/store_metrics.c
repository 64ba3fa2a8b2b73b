/* store_metrics.c: the store's part of a metrics scrape, kept as aggregates between scrapes */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "store_internal.h"
#include "store_metrics.h"

/* counts deletes and updates of rows the aggregates read (see DESIGN in store_metrics.h) */
static const char epoch_sql[] =
	"CREATE TEMP TABLE IF NOT EXISTS jetsamd_metrics_epoch(n INTEGER NOT NULL);"
	"INSERT INTO jetsamd_metrics_epoch SELECT 0"
	" WHERE NOT EXISTS (SELECT 1 FROM jetsamd_metrics_epoch);"
	"CREATE TEMP TRIGGER IF NOT EXISTS jetsamd_metrics_ev_del AFTER DELETE ON events"
	" BEGIN UPDATE jetsamd_metrics_epoch SET n=n+1; END;"
	"CREATE TEMP TRIGGER IF NOT EXISTS jetsamd_metrics_ev_upd AFTER UPDATE ON events"
	" BEGIN UPDATE jetsamd_metrics_epoch SET n=n+1; END;"
	"CREATE TEMP TRIGGER IF NOT EXISTS jetsamd_metrics_rep_del AFTER DELETE ON reports"
	" BEGIN UPDATE jetsamd_metrics_epoch SET n=n+1; END;"
	"CREATE TEMP TRIGGER IF NOT EXISTS jetsamd_metrics_rep_upd AFTER UPDATE OF status"
	" ON reports BEGIN UPDATE jetsamd_metrics_epoch SET n=n+1; END;";

/* event rows read per collect at most: a rebuild at a million events is split into store
 * jobs of about 0.1 s, so that other store jobs run in between */
#define STORE_METRICS_CHUNK   16384
#define STORE_METRICS_STR_(x) #x
#define STORE_METRICS_STR(x)  STORE_METRICS_STR_(x)

struct kill_e {
	struct metrics_kill k;
	uint32_t h;
};

struct lim_e {
	struct metrics_limit l;
	int64_t time, id; /* of the event whose limit it is: the newest */
	uint32_t h;
};

/* an open-addressing index: slot = entry index + 1, 0 = empty; cap a power of two */
struct hindex {
	uint32_t *slot;
	size_t cap;
};

struct store_metrics {
	int installed;
	int64_t epoch, max_event, max_report;
	int valid; /* the aggregates hold every row up to the max ids */
	struct kill_e *kills;
	size_t n_kills, cap_kills;
	struct hindex kidx;
	struct lim_e *lims;
	size_t n_lims, cap_lims;
	struct hindex lidx;
	int64_t reports[METRICS_N_REPORT];
	struct metrics_ratio *ratios;
	size_t n_ratios;
	int ratios_valid;
};

static uint32_t hash_str(uint32_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return (h ^ 0x1f) * 16777619u; /* field separator */
}

static void reset(struct store_metrics *m)
{
	m->valid = 0;
	m->max_event = m->max_report = 0;
	m->n_kills = m->n_lims = 0;
	if (m->kidx.slot)
		memset(m->kidx.slot, 0, m->kidx.cap * sizeof(uint32_t));
	if (m->lidx.slot)
		memset(m->lidx.slot, 0, m->lidx.cap * sizeof(uint32_t));
	memset(m->reports, 0, sizeof(m->reports));
	free(m->ratios);
	m->ratios = NULL;
	m->n_ratios = 0;
	m->ratios_valid = 0;
}

int store_metrics_new(struct store_metrics **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void store_metrics_free(struct store_metrics *m)
{
	if (m == NULL)
		return;
	free(m->kills);
	free(m->lims);
	free(m->kidx.slot);
	free(m->lidx.slot);
	free(m->ratios);
	free(m);
}

/* ---- the two aggregates: find or add an entry by key ---- */

/* Grow the index to twice n entries (n: entries after the next add); rehash with hash_of. */
static int hindex_fit(struct hindex *x, size_t n, const void *v, size_t size, size_t hoff)
{
	size_t cap = x->cap ? x->cap : 64;
	uint32_t *slot;

	if (n * 2 <= x->cap)
		return 0;
	while (n * 2 > cap)
		cap *= 2;
	if ((slot = calloc(cap, sizeof(*slot))) == NULL)
		return -ENOMEM;
	for (size_t i = 0; i + 1 < n; i++) {
		uint32_t h;
		size_t j;

		memcpy(&h, (const char *)v + i * size + hoff, sizeof(h));
		for (j = h & (cap - 1); slot[j]; j = (j + 1) & (cap - 1))
			;
		slot[j] = (uint32_t)i + 1;
	}
	free(x->slot);
	x->slot = slot;
	x->cap = cap;
	return 0;
}

static int grow(void **v, size_t *cap, size_t n, size_t size)
{
	size_t ncap = *cap ? *cap * 2 : 64;
	void *p;

	if (n < *cap)
		return 0;
	if ((p = realloc(*v, ncap * size)) == NULL)
		return -ENOMEM;
	*v = p;
	*cap = ncap;
	return 0;
}

static struct kill_e *kill_get(struct store_metrics *m, const struct metrics_kill *key)
{
	uint32_t h = hash_str(
		hash_str(hash_str(hash_str(2166136261u, key->product), key->build), key->role),
		key->reason);
	size_t j;

	for (j = m->kidx.cap ? h & (m->kidx.cap - 1) : 0; m->kidx.cap && m->kidx.slot[j];
	     j = (j + 1) & (m->kidx.cap - 1)) {
		struct kill_e *e = &m->kills[m->kidx.slot[j] - 1];

		if (e->h == h && !strcmp(e->k.product, key->product) &&
		    !strcmp(e->k.build, key->build) && !strcmp(e->k.role, key->role) &&
		    !strcmp(e->k.reason, key->reason))
			return e;
	}
	if (grow((void **)&m->kills, &m->cap_kills, m->n_kills, sizeof(*m->kills)) < 0)
		return NULL;
	m->kills[m->n_kills].k = *key;
	m->kills[m->n_kills].k.n = 0;
	m->kills[m->n_kills].h = h;
	m->n_kills++;
	if (hindex_fit(&m->kidx, m->n_kills, m->kills, sizeof(*m->kills),
		       offsetof(struct kill_e, h)) < 0) {
		m->n_kills--;
		return NULL;
	}
	for (j = h & (m->kidx.cap - 1); m->kidx.slot[j]; j = (j + 1) & (m->kidx.cap - 1))
		;
	m->kidx.slot[j] = (uint32_t)m->n_kills;
	return &m->kills[m->n_kills - 1];
}

static struct lim_e *lim_get(struct store_metrics *m, const struct metrics_limit *key)
{
	uint32_t h = hash_str(hash_str(hash_str(2166136261u, key->product), key->build), key->role);
	size_t j;

	for (j = m->lidx.cap ? h & (m->lidx.cap - 1) : 0; m->lidx.cap && m->lidx.slot[j];
	     j = (j + 1) & (m->lidx.cap - 1)) {
		struct lim_e *e = &m->lims[m->lidx.slot[j] - 1];

		if (e->h == h && !strcmp(e->l.product, key->product) &&
		    !strcmp(e->l.build, key->build) && !strcmp(e->l.role, key->role))
			return e;
	}
	if (grow((void **)&m->lims, &m->cap_lims, m->n_lims, sizeof(*m->lims)) < 0)
		return NULL;
	memset(&m->lims[m->n_lims], 0, sizeof(*m->lims));
	m->lims[m->n_lims].l = *key;
	m->lims[m->n_lims].time = INT64_MIN;
	m->lims[m->n_lims].h = h;
	m->n_lims++;
	if (hindex_fit(&m->lidx, m->n_lims, m->lims, sizeof(*m->lims), offsetof(struct lim_e, h)) <
	    0) {
		m->n_lims--;
		return NULL;
	}
	for (j = h & (m->lidx.cap - 1); m->lidx.slot[j]; j = (j + 1) & (m->lidx.cap - 1))
		;
	m->lidx.slot[j] = (uint32_t)m->n_lims;
	return &m->lims[m->n_lims - 1];
}

static const char *col(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? (const char *)t : "";
}

/* One event row: id, product, build, role, reason, limit_bytes, time. */
static int add_event(void *ctx, sqlite3_stmt *st)
{
	struct store_metrics *m = ctx;
	struct metrics_kill kk = {0}; /* whole: results are compared and copied by value */
	struct metrics_limit lk = {0};
	struct kill_e *k;
	struct lim_e *l;
	int64_t id = sqlite3_column_int64(st, 0), t = sqlite3_column_int64(st, 6);

	m->max_event = id; /* rows come in id order */

	metrics_label_copy(kk.product, sizeof(kk.product), col(st, 1));
	metrics_label_copy(kk.build, sizeof(kk.build), col(st, 2));
	metrics_label_copy(kk.role, sizeof(kk.role), col(st, 3));
	metrics_label_copy(kk.reason, sizeof(kk.reason),
			   metrics_reason_label((const char *)sqlite3_column_text(st, 4)));
	if ((k = kill_get(m, &kk)) == NULL)
		return -ENOMEM;
	k->k.n++;
	if (sqlite3_column_type(st, 5) == SQLITE_NULL)
		return 0;
	memcpy(lk.product, kk.product, sizeof(lk.product));
	memcpy(lk.build, kk.build, sizeof(lk.build));
	memcpy(lk.role, kk.role, sizeof(lk.role));
	if ((l = lim_get(m, &lk)) == NULL)
		return -ENOMEM;
	if (t > l->time || (t == l->time && id > l->id)) {
		l->time = t;
		l->id = id;
		l->l.bytes = sqlite3_column_int64(st, 5);
	}
	return 0;
}

/* Run sql (one statement; ?1 bound to arg) and hand each row to fn. */
static int each_row(struct store *s, const char *sql, int64_t arg,
		    int (*fn)(void *ctx, sqlite3_stmt *st), void *ctx, int64_t *rows)
{
	sqlite3_stmt *st = NULL;
	int rc, r = 0;

	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return store_db_err(s, "metrics query");
	sqlite3_bind_int64(st, 1, arg);
	while (r == 0 && (rc = sqlite3_step(st)) == SQLITE_ROW) {
		r = fn(ctx, st);
		if (rows)
			(*rows)++;
	}
	if (r == 0 && rc != SQLITE_DONE)
		r = store_db_err(s, "metrics query");
	sqlite3_finalize(st);
	return r;
}

static int add_reports(void *ctx, sqlite3_stmt *st)
{
	struct store_metrics *m = ctx;
	static const char *const names[METRICS_N_REPORT] = {"ok", "skipped", "error"};
	const char *status = col(st, 0);

	for (int i = 0; i < METRICS_N_REPORT; i++)
		if (strcmp(status, names[i]) == 0)
			m->reports[i] += sqlite3_column_int64(st, 1);
	if (sqlite3_column_int64(st, 2) > m->max_report)
		m->max_report = sqlite3_column_int64(st, 2);
	return 0;
}

static int read_epoch(void *ctx, sqlite3_stmt *st)
{
	struct store_metrics *m = ctx;
	m->epoch = sqlite3_column_int64(st, 0);
	return 0;
}

/* ---- limit change ratios, from the LIMIT rows (sorted by product, OS version, build) ---- */

static const char *jstr(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsString(v) ? v->valuestring : "";
}

static double jnum(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static int same_group(const cJSON *a, const cJSON *b)
{
	return !strcmp(jstr(a, "product"), jstr(b, "product")) &&
	       !strcmp(jstr(a, "role"), jstr(b, "role"));
}

/* Per product and role: the newest build's median against the previous build with one. */
static int ratios_compute(struct store *s, struct store_metrics *m)
{
	cJSON *arr = NULL, *row;
	const cJSON **v = NULL;
	int r = store_limits_json(s, NULL, NULL, NULL, &arr);
	size_t n = 0, k = 0;

	free(m->ratios);
	m->ratios = NULL;
	m->n_ratios = 0;
	if (r < 0)
		return r;
	n = (size_t)cJSON_GetArraySize(arr);
	if (n && ((v = calloc(n, sizeof(*v))) == NULL ||
		  (m->ratios = calloc(n, sizeof(*m->ratios))) == NULL)) {
		free(v);
		cJSON_Delete(arr);
		return -ENOMEM;
	}
	n = 0;
	cJSON_ArrayForEach(row, arr) v[n++] = row;
	for (size_t i = 0; i < n; i++) {
		const cJSON *prev = NULL;
		struct metrics_ratio *out;
		size_t j;

		for (j = i + 1; j < n && !same_group(v[j], v[i]); j++)
			;
		if (j < n) /* not the newest build of its product and role */
			continue;
		for (j = i; j-- > 0 && prev == NULL;)
			if (same_group(v[j], v[i]) &&
			    strcmp(jstr(v[j], "build"), jstr(v[i], "build")) &&
			    jnum(v[j], "median") > 0)
				prev = v[j];
		if (prev == NULL)
			continue;
		out = &m->ratios[k++];
		metrics_label_copy(out->product, sizeof(out->product), jstr(v[i], "product"));
		metrics_label_copy(out->role, sizeof(out->role), jstr(v[i], "role"));
		metrics_label_copy(out->build, sizeof(out->build), jstr(v[i], "build"));
		metrics_label_copy(out->previous_build, sizeof(out->previous_build),
				   jstr(prev, "build"));
		out->ratio = jnum(v[i], "median") / jnum(prev, "median") - 1;
	}
	m->n_ratios = k;
	m->ratios_valid = 1;
	free(v);
	cJSON_Delete(arr);
	return 0;
}

/* ---- collect ---- */

static int cmp_kill(const void *pa, const void *pb)
{
	const struct metrics_kill *a = pa, *b = pb;
	int c = strcmp(a->product, b->product);

	if (c == 0)
		c = strcmp(a->build, b->build);
	if (c == 0)
		c = strcmp(a->role, b->role);
	return c ? c : strcmp(a->reason, b->reason);
}

static int cmp_limit(const void *pa, const void *pb)
{
	const struct metrics_limit *a = pa, *b = pb;
	int c = strcmp(a->product, b->product);

	if (c == 0)
		c = strcmp(a->build, b->build);
	return c ? c : strcmp(a->role, b->role);
}

/* The devices' last syncs, straight into the result. */
struct sync_ctx {
	struct store_metrics_sync *v;
	size_t n, cap;
};

static int add_sync(void *ctx, sqlite3_stmt *st)
{
	struct sync_ctx *c = ctx;
	struct store_metrics_sync *e;

	if (grow((void **)&c->v, &c->cap, c->n, sizeof(*c->v)) < 0)
		return -ENOMEM;
	e = &c->v[c->n++];
	metrics_label_copy(e->udid, sizeof(e->udid), col(st, 0));
	metrics_label_copy(e->product, sizeof(e->product), col(st, 1));
	e->last_sync = sqlite3_column_int64(st, 2);
	return 0;
}

/* Bring the aggregates up to date (a rebuild when rows were rewritten). */
static int refresh(struct store *s, struct store_metrics *m, struct store_metrics_result *out)
{
	int64_t epoch = m->epoch;
	int r;

	if (!m->installed) {
		char *msg = NULL;

		if (sqlite3_exec(s->db, epoch_sql, NULL, NULL, &msg) != SQLITE_OK) {
			log_err("store", "metrics triggers: %s", msg ? msg : "?");
			sqlite3_free(msg);
			return -EIO;
		}
		m->installed = 1;
	}
	if ((r = each_row(s, "SELECT n FROM jetsamd_metrics_epoch", 0, read_epoch, m, NULL)) < 0)
		return r;
	if (!m->valid || m->epoch != epoch) {
		reset(m);
		out->rebuilt = 1;
	}
	r = each_row(s,
		     /* events hold ids into strs (schema 3, store_dict.c) */
		     "SELECT e.id,p.s,b.s,ro.s,re.s,e.limit_bytes,coalesce(e.time,e.collected_at)"
		     " FROM events e LEFT JOIN strs p ON p.id=e.product"
		     " LEFT JOIN strs b ON b.id=e.build LEFT JOIN strs ro ON ro.id=e.role"
		     " LEFT JOIN strs re ON re.id=e.reason"
		     " WHERE e.id > ?1 ORDER BY e.id LIMIT " STORE_METRICS_STR(STORE_METRICS_CHUNK),
		     m->max_event, add_event, m, &out->rows_read);
	if (r == 0 && out->rows_read > 0)
		m->ratios_valid = 0;
	if (r == 0 && out->rows_read == STORE_METRICS_CHUNK) {
		m->valid = 1; /* so far: the next collect goes on from max_event */
		out->more = 1;
		return 0;
	}
	/* NOT INDEXED: a rowid range, not a scan of reports_status (which covers the query) */
	if (r == 0)
		r = each_row(s,
			     "SELECT status,count(*),max(id) FROM reports NOT INDEXED WHERE id > ?1"
			     " GROUP BY status",
			     m->max_report, add_reports, m, NULL);
	if (r == 0 && !m->ratios_valid)
		r = ratios_compute(s, m);
	if (r < 0) {
		reset(m);
		return r;
	}
	m->valid = 1;
	return 0;
}

int store_metrics_collect(struct store *s, struct store_metrics *m,
			  struct store_metrics_result *out)
{
	struct sync_ctx syncs = {0};
	int r;

	memset(out, 0, sizeof(*out));
	if ((r = store_begin(s)) < 0) /* one snapshot for every read */
		return r;
	r = refresh(s, m, out);
	if (r == 0 && out->more) {
		store_commit(s);
		return 0;
	}
	if (r == 0)
		r = each_row(s,
			     "SELECT udid,coalesce(product,''),last_sync FROM devices"
			     " WHERE last_sync > ?1",
			     0, add_sync, &syncs, NULL);
	store_commit(s);
	out->syncs = syncs.v;
	out->n_syncs = syncs.n;
	out->kills = m->n_kills ? malloc(m->n_kills * sizeof(*out->kills)) : NULL;
	out->limits = m->n_lims ? malloc(m->n_lims * sizeof(*out->limits)) : NULL;
	out->ratios = m->n_ratios ? malloc(m->n_ratios * sizeof(*out->ratios)) : NULL;
	if (r == 0 && ((m->n_kills && !out->kills) || (m->n_lims && !out->limits) ||
		       (m->n_ratios && !out->ratios)))
		r = -ENOMEM;
	if (r < 0) {
		store_metrics_result_release(out);
		return r;
	}
	for (size_t i = 0; i < m->n_kills; i++)
		out->kills[out->n_kills++] = m->kills[i].k;
	for (size_t i = 0; i < m->n_lims; i++)
		out->limits[out->n_limits++] = m->lims[i].l;
	if (m->n_ratios) /* memcpy and qsort take no NULL, even for 0 items */
		memcpy(out->ratios, m->ratios, m->n_ratios * sizeof(*out->ratios));
	out->n_ratios = m->n_ratios;
	if (out->n_kills)
		qsort(out->kills, out->n_kills, sizeof(*out->kills), cmp_kill);
	if (out->n_limits)
		qsort(out->limits, out->n_limits, sizeof(*out->limits), cmp_limit);
	memcpy(out->reports, m->reports, sizeof(out->reports));
	return 0;
}

void store_metrics_result_release(struct store_metrics_result *r)
{
	free(r->kills);
	free(r->limits);
	free(r->ratios);
	free(r->syncs);
	memset(r, 0, sizeof(*r));
}
