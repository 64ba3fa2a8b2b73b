/* store_event.c: the EVENT text rendered from an event row's columns, as cJSON prints it */
#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../proto/products.h"
#include "store_internal.h"

/*
 * DESIGN
 * Events were stored as the EVENT text that cJSON_PrintUnformatted() gave at ingest (schema
 * version 2); they are now columns (store.c, version 3) and the same text is written here,
 * byte for byte: the keys in the same order, numbers and strings formatted by cJSON's own
 * rules (print_number(), print_string_ptr() of cJSON 1.7), so replies do not change
 * (test-store-v3.c compares a migrated store's replies with the landed code's). A row's
 * pieces are gathered, then written once into the block of its cJSON raw item.
 * The text after the event's own fields is the same for every event of a report (ingest
 * writes their report columns from one report's facts): it is rendered once per report,
 * from the first of its events read, and kept in s->facts until the next write.
 */

/* a growing text buffer */
struct jbuf {
	char *p;
	size_t n, cap;
	int oom;
};

/* room for len more bytes and a NUL (0), or b->oom set (-ENOMEM) */
static __attribute__((noinline)) int jb_grow(struct jbuf *b, size_t len)
{
	size_t cap = b->cap ? b->cap : 1024;
	char *np;

	if (b->oom)
		return -ENOMEM;
	while (cap < b->n + len + 1)
		cap *= 2;
	if ((np = realloc(b->p, cap)) == NULL) {
		b->oom = 1;
		return -ENOMEM;
	}
	b->p = np;
	b->cap = cap;
	return 0;
}

/* after a failed grow, b->oom marks the whole text as failed (what still fits is junk) */
static inline void jb_put(struct jbuf *b, const char *s, size_t len)
{
	if (b->n + len + 1 > b->cap && jb_grow(b, len) < 0)
		return;
	memcpy(b->p + b->n, s, len);
	b->n += len;
	b->p[b->n] = '\0';
}

static void jb_lit(struct jbuf *b, const char *s)
{
	jb_put(b, s, strlen(s));
}

/* cJSON's print_string_ptr(); NULL is null (cJSON_CreateNull() where a string is absent) */
static void jb_str(struct jbuf *b, const char *s)
{
	const unsigned char *c, *run;
	char esc[8];

	if (s == NULL) {
		jb_lit(b, "null");
		return;
	}
	jb_put(b, "\"", 1);
	for (run = c = (const unsigned char *)s; *c; c++) {
		if (*c >= 32 && *c != '"' && *c != '\\')
			continue;
		jb_put(b, (const char *)run, (size_t)(c - run));
		run = c + 1;
		switch (*c) {
		case '"':
			jb_lit(b, "\\\"");
			break;
		case '\\':
			jb_lit(b, "\\\\");
			break;
		case '\b':
			jb_lit(b, "\\b");
			break;
		case '\f':
			jb_lit(b, "\\f");
			break;
		case '\n':
			jb_lit(b, "\\n");
			break;
		case '\r':
			jb_lit(b, "\\r");
			break;
		case '\t':
			jb_lit(b, "\\t");
			break;
		default:
			snprintf(esc, sizeof(esc), "\\u%04x", *c);
			jb_lit(b, esc);
		}
	}
	jb_put(b, (const char *)run, (size_t)(c - run));
	jb_put(b, "\"", 1);
}

/* cJSON's print_number() of cJSON_CreateNumber(d), into buf (NUL-terminated) */
static void num_text(double d, char buf[32])
{
	int vi = d >= INT_MAX ? INT_MAX : d <= (double)INT_MIN ? INT_MIN : (int)d;
	double test = 0.0, max;

	if (isnan(d) || isinf(d)) {
		memcpy(buf, "null", 5);
		return;
	}
	if (d == (double)vi) {
		snprintf(buf, 32, "%d", vi);
	} else {
		snprintf(buf, 32, "%1.15g", d);
		max = fabs(d);
		if (sscanf(buf, "%lg", &test) != 1 ||
		    fabs(test - d) > fmax(fabs(test), max) * DBL_EPSILON)
			snprintf(buf, 32, "%1.17g", d);
	}
}

/*
 * An integer as cJSON prints it: below 1e15 in size its digits ("%d", or "%1.15g" exactly),
 * else num_text(). The text is in buf (not NUL-terminated); returns where, *len its length.
 */
static const char *int_text(int64_t v, char buf[32], size_t *len)
{
	static const char pairs[201] = "00010203040506070809101112131415161718192021222324"
				       "25262728293031323334353637383940414243444546474849"
				       "50515253545556575859606162636465666768697071727374"
				       "75767778798081828384858687888990919293949596979899";
	char *p = buf + 32;
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	if (v <= -1000000000000000LL || v >= 1000000000000000LL) {
		num_text((double)v, buf);
		*len = strlen(buf);
		return buf;
	}
	while (u >= 100) {
		p -= 2;
		memcpy(p, pairs + u % 100 * 2, 2);
		u /= 100;
	}
	if (u >= 10) {
		p -= 2;
		memcpy(p, pairs + u * 2, 2);
	} else {
		*--p = (char)('0' + u);
	}
	if (v < 0)
		*--p = '-';
	*len = (size_t)(buf + 32 - p);
	return p;
}

static void jb_int(struct jbuf *b, int64_t v)
{
	char buf[32];
	size_t len;
	const char *p = int_text(v, buf, &len);

	jb_put(b, p, len);
}

/* a key (",\"name\":" written out by the caller, plain ASCII) or other literal text */
#define jb_key(b, key) jb_put((b), (key), sizeof(key) - 1)

/* a string id column (strs); SQL NULL reads as id 0, which is no string */
static void jb_col_str(struct jbuf *b, struct store *s, sqlite3_stmt *st, int col)
{
	const struct store_dict *d = &s->dict;
	int64_t id = sqlite3_column_int64(st, col);
	size_t len;
	const char *json;

	if (id > 0 && (size_t)id < d->n_text && d->json[id]) { /* cached already */
		jb_put(b, d->json[id], d->json_len[id]);
		return;
	}
	if ((json = store_dict_json(s, id, &len)))
		jb_put(b, json, len);
	else
		jb_key(b, "null");
}

char *store_json_quote(const char *text, size_t *len)
{
	struct jbuf b = {0};

	jb_str(&b, text);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	*len = b.n;
	return b.p;
}

/* a TIME, quoted; the same value as the row before is formatted once (a report's events) */
static void jb_time(struct jbuf *b, int64_t t, int slot)
{
	static _Thread_local int64_t last[2] = {INT64_MIN, INT64_MIN};
	static _Thread_local char text[2][34];
	static _Thread_local size_t len[2];

	if (t != last[slot]) {
		text[slot][0] = '"';
		isotime_format(t, text[slot] + 1);
		len[slot] = strlen(text[slot]);
		text[slot][len[slot]++] = '"';
		last[slot] = t;
	}
	jb_put(b, text[slot], len[slot]);
}

/*
 * products_name() of a product as JSON, kept by the product's string id (content checked:
 * ids are per store and may be reused after a rollback); rows come in runs of few products.
 */
#define NAME_CACHE 64
struct name_cached {
	char product[32];
	char json[96]; /* the name as JSON (null: no name) */
	size_t len;    /* 0: an empty entry */
};

static void jb_product_name(struct jbuf *b, const char *product, int64_t id)
{
	static _Thread_local struct name_cached cache[NAME_CACHE];
	struct name_cached *c = &cache[(uint64_t)id % NAME_CACHE];
	size_t plen;
	const char *name;
	char *q;

	if (product == NULL) {
		jb_put(b, "null", 4);
		return;
	}
	if (c->len && strcmp(product, c->product) == 0) {
		jb_put(b, c->json, c->len);
		return;
	}
	name = products_name(product);
	q = name ? store_json_quote(name, &c->len) : NULL;
	plen = strlen(product);
	if (name == NULL)
		jb_put(b, "null", 4);
	else if (q)
		jb_put(b, q, c->len);
	else
		b->oom = 1;
	if (plen < sizeof(c->product) && (name == NULL || (q && c->len < sizeof(c->json)))) {
		memcpy(c->product, product, plen + 1);
		c->len = q ? c->len : 4;
		memcpy(c->json, q ? q : "null", c->len);
	} else {
		c->len = 0;
	}
	free(q);
}

static void facts_clear(struct store_facts *f)
{
	free(f->tail);
	f->tail = NULL;
	f->id = 0;
}

void store_event_forget(struct store *s)
{
	for (int i = 0; i < STORE_FACTS_CACHE; i++)
		facts_clear(&s->facts[i]);
}

/* a column of text as JSON (NULL: null), as store_json_quote() writes it */
static void jb_col_text(struct jbuf *b, sqlite3_stmt *st, int col)
{
	jb_str(b, (const char *)sqlite3_column_text(st, col));
}

/*
 * The tail of the EVENT text of event_id's report (report_id): the columns its events
 * share, read from that event, and the report's incident, os_version and timestamp; 0, or
 * -EIO / -ENOMEM.
 */
static int tail_text(struct store *s, struct jbuf *b, int64_t event_id, int64_t report_id)
{
	sqlite3_stmt *st =
		store_stmt(s, ST_EVENT_REPORT,
			   "SELECT e.udid,e.product,e.build,e.time,e.collected_at,e.rseq,"
			   "r.incident,r.os_version,r.timestamp FROM events e "
			   "LEFT JOIN reports r ON r.id=e.report_id WHERE e.id=?1");
	int64_t product_id, t;
	int rc;

	if (st == NULL)
		return -EIO;
	sqlite3_bind_int64(st, 1, event_id);
	if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
		sqlite3_reset(st);
		return rc == SQLITE_DONE ? -EIO : store_db_err(s, "event facts");
	}
	jb_key(b, ",\"report_id\":");
	jb_int(b, report_id);
	jb_key(b, ",\"udid\":");
	jb_col_str(b, s, st, 0);
	jb_key(b, ",\"incident\":");
	jb_col_text(b, st, 6);
	jb_key(b, ",\"product\":");
	jb_col_str(b, s, st, 1);
	jb_key(b, ",\"os_version\":");
	jb_col_text(b, st, 7);
	jb_key(b, ",\"build\":");
	jb_col_str(b, s, st, 2);
	jb_key(b, ",\"timestamp\":");
	jb_col_text(b, st, 8);
	jb_key(b, ",\"time\":");
	t = sqlite3_column_int64(st, 3);
	if (t == 0 && sqlite3_column_type(st, 3) == SQLITE_NULL)
		jb_put(b, "null", 4);
	else
		jb_time(b, t, 0);
	/* the collection facts (store_event_add_collection()) */
	jb_key(b, ",\"collected_at\":");
	jb_time(b, sqlite3_column_int64(st, 4), 1);
	jb_key(b, ",\"seq\":");
	jb_int(b, sqlite3_column_int64(st, 5));
	jb_key(b, ",\"product_name\":");
	product_id = sqlite3_column_int64(st, 1); /* NULL: 0, no string */
	jb_product_name(b, store_dict_text(s, product_id), product_id);
	jb_put(b, "}", 1);
	sqlite3_reset(st);
	return b->oom ? -ENOMEM : 0;
}

/* The tail of the row's EVENT text, kept by report. */
static const struct store_facts *report_facts(struct store *s, sqlite3_stmt *st)
{
	int64_t id = sqlite3_column_int64(st, EC_REPORT_ID);
	struct store_facts *f = &s->facts[(uint64_t)id % STORE_FACTS_CACHE];
	struct jbuf b = {0};

	if (id == f->id)
		return f;
	facts_clear(f);
	if (tail_text(s, &b, sqlite3_column_int64(st, EC_ID), id) < 0) {
		free(b.p);
		return NULL;
	}
	f->tail = b.p;
	f->len = b.n;
	f->id = id;
	return f;
}

/* a piece of an EVENT text */
struct piece {
	const char *p;
	size_t n;
};

/* a string id column (strs) as JSON; SQL NULL reads as id 0, which is no string: null */
static struct piece str_piece(struct store *s, sqlite3_stmt *st, int col)
{
	const struct store_dict *d = &s->dict;
	int64_t id = sqlite3_column_int64(st, col);
	struct piece v = {"null", 4};

	if (id > 0 && (size_t)id < d->n_text && d->json[id]) /* cached already */
		return (struct piece){d->json[id], d->json_len[id]};
	if ((v.p = store_dict_json(s, id, &v.n)) == NULL)
		v = (struct piece){"null", 4};
	return v;
}

/*
 * An integer column, REPORT_NULL-style: SQL NULL (read as 0, then told apart) is null;
 * digits go into buf. Returns the value, *is_null whether it was NULL.
 */
static struct piece int_piece(sqlite3_stmt *st, int col, char buf[32], int64_t *v, int *is_null)
{
	struct piece r = {"null", 4};

	*v = sqlite3_column_int64(st, col);
	*is_null = *v == 0 && sqlite3_column_type(st, col) == SQLITE_NULL;
	if (!*is_null)
		r.p = int_text(*v, buf, &r.n);
	return r;
}

/* the parser's footprint: rpages * page_size when both are known and it does not overflow
 * (rp, rp_null, ps: those columns, read; NULL page_size reads as 0: null below) */
static struct piece footprint_piece(sqlite3_stmt *st, char buf[32], int64_t rp, int rp_null,
				    int64_t ps)
{
	int64_t v;
	int null;
	struct piece r = int_piece(st, EC_FOOTPRINT, buf, &v, &null);

	if (!null)
		return v == REPORT_NULL ? (struct piece){"null", 4} : r;
	if (rp_null || rp < 0 || ps <= 0 || __builtin_mul_overflow(rp, ps, &v))
		return (struct piece){"null", 4};
	r.p = int_text(v, buf, &r.n);
	return r;
}

/* The event's own fields, in jetsamctl parse --json's order (report_json_event()). */
enum {
	EF_PROCESS,
	EF_PID,
	EF_UUID,
	EF_REASON,
	EF_ROLE,
	EF_STATES,
	EF_PRIORITY,
	EF_RPAGES,
	EF_PAGE_SIZE,
	EF_FOOTPRINT,
	EF_LIMIT,
	EF_LIFETIME_MAX,
	EF__N
};

/* the keys before the fields; EF_KEYS: all of them, for their length */
#define K_PROCESS   "{\"process\":"
#define K_PID	    ",\"pid\":"
#define K_UUID	    ",\"uuid\":"
#define K_REASON    ",\"reason\":"
#define K_ROLE	    ",\"role\":"
#define K_STATES    ",\"states\":"
#define K_PRIORITY  ",\"priority\":"
#define K_RPAGES    ",\"rpages\":"
#define K_PAGE_SIZE ",\"page_size\":"
#define K_FOOTPRINT ",\"footprint_bytes\":"
#define K_LIMIT	    ",\"limit_bytes\":"
#define K_LIFETIME  ",\"lifetime_max_pages\":"
#define EF_KEYS                                                                                    \
	K_PROCESS K_PID K_UUID K_REASON K_ROLE K_STATES K_PRIORITY K_RPAGES K_PAGE_SIZE            \
		K_FOOTPRINT K_LIMIT K_LIFETIME

/* write key (a literal: a copy of constant size), then piece v at w */
#define EF_PUT(w, key, v)                                                                          \
	do {                                                                                       \
		memcpy((w), key, sizeof(key) - 1);                                                 \
		(w) += sizeof(key) - 1;                                                            \
		memcpy((w), (v).p, (v).n);                                                         \
		(w) += (v).n;                                                                      \
	} while (0)

/*
 * The row's EVENT text: its own fields, then its report's tail (report_facts()). The pieces
 * are gathered first, then written once into a block of cJSON's allocator that holds the
 * item and its text: the text is marked a reference, so that cJSON_Delete() frees the block
 * alone (cJSON_Duplicate() copies it like any other; cJSON_IsRaw() still holds).
 */
cJSON *store_event_row(struct store *s, sqlite3_stmt *st)
{
	const struct store_facts *f = report_facts(s, st);
	struct piece v[EF__N];
	char nums[EF__N][32];
	const char *states;
	int64_t x, rpages, page_size;
	int null, rpages_null;
	size_t total;
	cJSON *o;
	char *w;

	if (f == NULL)
		return NULL;
	v[EF_PROCESS] = str_piece(s, st, EC_PROCESS);
	v[EF_PID] = int_piece(st, EC_PID, nums[EF_PID], &x, &null);
	v[EF_UUID] = str_piece(s, st, EC_UUID);
	v[EF_REASON] = str_piece(s, st, EC_REASON);
	v[EF_ROLE] = str_piece(s, st, EC_ROLE);
	/* stored as the JSON text of the array */
	states = store_dict_text(s, sqlite3_column_int64(st, EC_STATES));
	v[EF_STATES] = states ? (struct piece){states, strlen(states)} : (struct piece){"[]", 2};
	v[EF_PRIORITY] = int_piece(st, EC_PRIORITY, nums[EF_PRIORITY], &x, &null);
	v[EF_RPAGES] = int_piece(st, EC_RPAGES, nums[EF_RPAGES], &rpages, &rpages_null);
	v[EF_PAGE_SIZE] = int_piece(st, EC_PAGE_SIZE, nums[EF_PAGE_SIZE], &page_size, &null);
	v[EF_FOOTPRINT] = footprint_piece(st, nums[EF_FOOTPRINT], rpages, rpages_null, page_size);
	v[EF_LIMIT] = int_piece(st, EC_LIMIT, nums[EF_LIMIT], &x, &null);
	v[EF_LIFETIME_MAX] = int_piece(st, EC_LIFETIME_MAX, nums[EF_LIFETIME_MAX], &x, &null);
	total = sizeof(EF_KEYS) - 1 + f->len;
	for (int i = 0; i < EF__N; i++)
		total += v[i].n;
	if ((o = cJSON_malloc(sizeof(*o) + total + 1)) == NULL)
		return NULL;
	memset(o, 0, sizeof(*o));
	o->type = cJSON_Raw | cJSON_IsReference;
	o->valuestring = w = (char *)(o + 1);
	EF_PUT(w, K_PROCESS, v[EF_PROCESS]);
	EF_PUT(w, K_PID, v[EF_PID]);
	EF_PUT(w, K_UUID, v[EF_UUID]);
	EF_PUT(w, K_REASON, v[EF_REASON]);
	EF_PUT(w, K_ROLE, v[EF_ROLE]);
	EF_PUT(w, K_STATES, v[EF_STATES]);
	EF_PUT(w, K_PRIORITY, v[EF_PRIORITY]);
	EF_PUT(w, K_RPAGES, v[EF_RPAGES]);
	EF_PUT(w, K_PAGE_SIZE, v[EF_PAGE_SIZE]);
	EF_PUT(w, K_FOOTPRINT, v[EF_FOOTPRINT]);
	EF_PUT(w, K_LIMIT, v[EF_LIMIT]);
	EF_PUT(w, K_LIFETIME, v[EF_LIFETIME_MAX]);
	memcpy(w, f->tail, f->len);
	w[f->len] = '\0';
	return o;
}

char *store_event_states_text(const struct report_event *ev)
{
	struct jbuf b = {0};

	jb_put(&b, "[", 1);
	for (size_t i = 0; i < ev->n_states; i++) {
		if (i)
			jb_put(&b, ",", 1);
		jb_str(&b, ev->states[i]);
	}
	jb_put(&b, "]", 1);
	if (b.oom) {
		free(b.p);
		return NULL;
	}
	return b.p;
}
