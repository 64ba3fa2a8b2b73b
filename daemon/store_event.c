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
 * (test-store-v3.c compares a migrated store's replies with the landed code's). A row goes
 * into the store's scratch buffer (kept while a query runs), then into one cJSON raw item.
 */

static void jb_put(struct jbuf *b, const char *s, size_t len)
{
	if (b->oom)
		return;
	if (b->n + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *np;

		while (cap < b->n + len + 1)
			cap *= 2;
		if ((np = realloc(b->p, cap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = cap;
	}
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

/* cJSON's print_number() of cJSON_CreateNumber(d) */
static void jb_num(struct jbuf *b, double d);

/* an integer: below 1e15 in size cJSON prints its digits ("%d", or "%1.15g" exactly) */
static void jb_int(struct jbuf *b, int64_t v)
{
	char buf[24], *p = buf + sizeof(buf);
	uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;

	if (v <= -1000000000000000LL || v >= 1000000000000000LL) {
		jb_num(b, (double)v);
		return;
	}
	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		*--p = '-';
	jb_put(b, p, (size_t)(buf + sizeof(buf) - p));
}

static void jb_num(struct jbuf *b, double d)
{
	char buf[32];
	int vi = d >= INT_MAX ? INT_MAX : d <= (double)INT_MIN ? INT_MIN : (int)d;
	double test = 0.0, max;

	if (isnan(d) || isinf(d)) {
		jb_lit(b, "null");
		return;
	}
	if (d == (double)vi) {
		snprintf(buf, sizeof(buf), "%d", vi);
	} else {
		snprintf(buf, sizeof(buf), "%1.15g", d);
		max = fabs(d);
		if (sscanf(buf, "%lg", &test) != 1 ||
		    fabs(test - d) > fmax(fabs(test), max) * DBL_EPSILON)
			snprintf(buf, sizeof(buf), "%1.17g", d);
	}
	jb_lit(b, buf);
}

/* an integer column, REPORT_NULL-style: SQL NULL (read as 0, then told apart) is null */
static void jb_col_int(struct jbuf *b, sqlite3_stmt *st, int col)
{
	int64_t v = sqlite3_column_int64(st, col);

	if (v == 0 && sqlite3_column_type(st, col) == SQLITE_NULL)
		jb_put(b, "null", 4);
	else
		jb_int(b, v);
}

/* a key (",\"name\":" written out by the caller, plain ASCII) or other literal text */
#define jb_key(b, key) jb_put((b), (key), sizeof(key) - 1)

/* a string id column (strs); SQL NULL reads as id 0, which is no string */
static void jb_col_str(struct jbuf *b, struct store *s, sqlite3_stmt *st, int col)
{
	size_t len;
	const char *json = store_dict_json(s, sqlite3_column_int64(st, col), &len);

	if (json)
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

/* the parser's footprint: rpages * page_size when both are known and it does not overflow */
static void jb_footprint(struct jbuf *b, sqlite3_stmt *st)
{
	int64_t rp, ps, v = sqlite3_column_int64(st, EC_FOOTPRINT);

	if (v != 0 || sqlite3_column_type(st, EC_FOOTPRINT) != SQLITE_NULL) {
		if (v == REPORT_NULL)
			jb_put(b, "null", 4);
		else
			jb_int(b, v);
		return;
	}
	rp = sqlite3_column_int64(st, EC_RPAGES);
	ps = sqlite3_column_int64(st, EC_PAGE_SIZE); /* NULL reads as 0: null below */
	if ((rp == 0 && sqlite3_column_type(st, EC_RPAGES) == SQLITE_NULL) || rp < 0 || ps <= 0 ||
	    __builtin_mul_overflow(rp, ps, &v))
		jb_put(b, "null", 4);
	else
		jb_int(b, v);
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
#define NAME_CACHE 16
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

/* The event's own fields: jetsamctl parse --json's order (report_json_event()). */
static void event_fields(struct jbuf *b, struct store *s, sqlite3_stmt *st)
{
	const char *states;

	jb_key(b, "{\"process\":");
	jb_col_str(b, s, st, EC_PROCESS);
	jb_key(b, ",\"pid\":");
	jb_col_int(b, st, EC_PID);
	jb_key(b, ",\"uuid\":");
	jb_col_str(b, s, st, EC_UUID);
	jb_key(b, ",\"reason\":");
	jb_col_str(b, s, st, EC_REASON);
	jb_key(b, ",\"role\":");
	jb_col_str(b, s, st, EC_ROLE);
	jb_key(b, ",\"states\":");
	states = store_dict_text(s, sqlite3_column_int64(st, EC_STATES));
	jb_lit(b, states ? states : "[]"); /* stored as the JSON text of the array */
	jb_key(b, ",\"priority\":");
	jb_col_int(b, st, EC_PRIORITY);
	jb_key(b, ",\"rpages\":");
	jb_col_int(b, st, EC_RPAGES);
	jb_key(b, ",\"page_size\":");
	jb_col_int(b, st, EC_PAGE_SIZE);
	jb_key(b, ",\"footprint_bytes\":");
	jb_footprint(b, st);
	jb_key(b, ",\"limit_bytes\":");
	jb_col_int(b, st, EC_LIMIT);
	jb_key(b, ",\"lifetime_max_pages\":");
	jb_col_int(b, st, EC_LIFETIME_MAX);
}

static void facts_clear(struct store_facts *f)
{
	for (int i = 0; i < 3; i++) {
		free(f->json[i]);
		f->json[i] = NULL;
	}
	f->id = 0;
}

void store_event_forget(struct store *s)
{
	for (int i = 0; i < STORE_FACTS_CACHE; i++)
		facts_clear(&s->facts[i]);
	free(s->render.p);
	memset(&s->render, 0, sizeof(s->render));
}

/* incident, os_version, timestamp of report id as JSON text (json[i] NULL: not read) */
static const struct store_facts *report_facts(struct store *s, int64_t id)
{
	struct store_facts *f = &s->facts[(uint64_t)id % STORE_FACTS_CACHE];
	sqlite3_stmt *st;

	if (id == f->id)
		return f;
	facts_clear(f);
	st = store_stmt(s, ST_EVENT_REPORT,
			"SELECT incident,os_version,timestamp FROM reports WHERE id=?1");
	if (st == NULL)
		return f;
	sqlite3_bind_int64(st, 1, id);
	if (sqlite3_step(st) == SQLITE_ROW) {
		for (int i = 0; i < 3; i++)
			f->json[i] = store_json_quote((const char *)sqlite3_column_text(st, i),
						      &f->len[i]);
		f->id = id;
	}
	sqlite3_reset(st);
	return f;
}

/* a fact of the report, as JSON (report_facts()); null when it could not be read */
static void jb_fact(struct jbuf *b, const struct store_facts *f, int i)
{
	if (f->json[i])
		jb_put(b, f->json[i], f->len[i]);
	else
		jb_key(b, "null");
}

static void event_text(struct jbuf *b, struct store *s, sqlite3_stmt *st)
{
	const struct store_facts *f = report_facts(s, sqlite3_column_int64(st, EC_REPORT_ID));
	const char *product;
	int64_t product_id, t;

	event_fields(b, s, st);
	jb_key(b, ",\"report_id\":");
	jb_col_int(b, st, EC_REPORT_ID);
	jb_key(b, ",\"udid\":");
	jb_col_str(b, s, st, EC_UDID);
	jb_key(b, ",\"incident\":");
	jb_fact(b, f, 0);
	jb_key(b, ",\"product\":");
	product_id = sqlite3_column_int64(st, EC_PRODUCT); /* NULL: 0, no string */
	product = store_dict_text(s, product_id);
	jb_col_str(b, s, st, EC_PRODUCT);
	jb_key(b, ",\"os_version\":");
	jb_fact(b, f, 1);
	jb_key(b, ",\"build\":");
	jb_col_str(b, s, st, EC_BUILD);
	jb_key(b, ",\"timestamp\":");
	jb_fact(b, f, 2);
	jb_key(b, ",\"time\":");
	t = sqlite3_column_int64(st, EC_TIME);
	if (t == 0 && sqlite3_column_type(st, EC_TIME) == SQLITE_NULL)
		jb_put(b, "null", 4);
	else
		jb_time(b, t, 0);
	/* the collection facts (store_event_add_collection()) */
	jb_key(b, ",\"collected_at\":");
	jb_time(b, sqlite3_column_int64(st, EC_COLLECTED_AT), 1);
	jb_key(b, ",\"seq\":");
	jb_int(b, sqlite3_column_int64(st, EC_RSEQ));
	jb_key(b, ",\"product_name\":");
	jb_product_name(b, product, product_id);
	jb_put(b, "}", 1);
}

cJSON *store_event_row(struct store *s, sqlite3_stmt *st)
{
	struct jbuf *b = &s->render;

	b->n = 0;
	b->oom = 0;
	event_text(b, s, st);
	return b->oom ? NULL : cJSON_CreateRaw(b->p); /* one copy, in cJSON's allocator */
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
