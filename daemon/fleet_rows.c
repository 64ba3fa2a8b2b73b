/* fleet_rows.c: COPY text rows for the fleet's staging tables, from DEVICE/REPORT/EVENT JSON */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "../proto/sanitize.h"
#include "fleet_rows.h"

void fleet_batch_release(struct fleet_batch *b)
{
	if (b == NULL)
		return;
	for (int i = 0; i < FLEET__TABLES; i++)
		free(b->copy[i].data);
	memset(b, 0, sizeof(*b));
}

static int reserve(struct fleet_buf *b, size_t more)
{
	size_t cap = b->cap ? b->cap : 4096;
	char *n;

	if (b->len + more + 1 <= b->cap)
		return 0;
	while (cap < b->len + more + 1)
		cap *= 2;
	if ((n = realloc(b->data, cap)) == NULL)
		return -ENOMEM;
	b->data = n;
	b->cap = cap;
	return 0;
}

static void put(struct fleet_buf *b, const char *s, size_t n)
{
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
}

/* v (NULL: \N; n bytes, no NUL inside) as one COPY text field */
static int put_field(struct fleet_buf *b, const char *v, size_t n, int first)
{
	/* worst case: every byte escaped, a tab before */
	if (reserve(b, 2 * n + 3) < 0)
		return -ENOMEM;
	if (!first)
		put(b, "\t", 1);
	if (v == NULL) {
		put(b, "\\N", 2);
		return 0;
	}
	for (const char *p = v; p < v + n; p++) {
		switch (*p) {
		case '\\':
			put(b, "\\\\", 2);
			break;
		case '\n':
			put(b, "\\n", 2);
			break;
		case '\r':
			put(b, "\\r", 2);
			break;
		case '\t':
			put(b, "\\t", 2);
			break;
		default:
			put(b, p, 1);
		}
	}
	return 0;
}

int fleet_buf_field(struct fleet_buf *b, const char *v, int first)
{
	size_t n = v ? strlen(v) : 0;
	char *fixed = NULL;
	int r;

	/* the database is UTF-8: a report's bytes that are not (cJSON keeps them) would fail
	 * the whole batch; each byte of an invalid sequence becomes U+FFFD, as replies do */
	if (v && !sanitize_utf8_valid(v, n)) {
		if ((fixed = sanitize_utf8_repair(v, n, &n)) == NULL)
			return -ENOMEM;
		v = fixed;
	}
	r = put_field(b, v, n, first);
	free(fixed);
	return r;
}

int fleet_buf_bytea(struct fleet_buf *b, const void *bytes, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = bytes;

	if (reserve(b, 2 * len + 4) < 0)
		return -ENOMEM;
	put(b, "\t\\\\x", 4); /* COPY text unescapes \\x to bytea's \x */
	for (size_t i = 0; i < len; i++) {
		b->data[b->len++] = hex[p[i] >> 4];
		b->data[b->len++] = hex[p[i] & 15];
	}
	b->data[b->len] = '\0';
	return 0;
}

static int end_row(struct fleet_buf *b)
{
	if (reserve(b, 1) < 0)
		return -ENOMEM;
	put(b, "\n", 1);
	return 0;
}

/* A report's own time (isotime_format: years 0000..9999): PostgreSQL has no year 0 */
static const char *time_or_null(const char *t)
{
	return t && strncmp(t, "0000-", 5) != 0 ? t : NULL;
}

/*
 * The text of member k of o for a column: strings as they are, numbers as integers (the
 * columns are integers), booleans t/f; missing or null: NULL. A number the column cannot
 * hold (a hostile report's pid or priority past int4, anything past bigint) ships as NULL:
 * PostgreSQL would refuse the whole batch, and every batch after it, again and again.
 */
static const char *value(const cJSON *o, const char *k, char tmp[32])
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);

	if (cJSON_IsString(v) && strcmp(k, "time") == 0)
		return time_or_null(v->valuestring);
	if (cJSON_IsString(v))
		return v->valuestring;
	if (cJSON_IsNumber(v)) {
		double d = v->valuedouble, max = 9.2e18;

		if (strcmp(k, "pid") == 0 || strcmp(k, "priority") == 0)
			max = 2147483647.0;
		if (!(d >= -max - 1 && d <= max)) /* also NaN */
			return NULL;
		snprintf(tmp, 32, "%" PRId64, (int64_t)d);
		return tmp;
	}
	if (cJSON_IsBool(v))
		return cJSON_IsTrue(v) ? "t" : "f";
	return NULL;
}

/* Fields of o named by keys (NULL-terminated), after host_id. */
static int fields(struct fleet_buf *b, const char *host_id, const cJSON *o, const char *const *keys)
{
	char tmp[32];
	int r = fleet_buf_field(b, host_id, 1);

	for (; r == 0 && *keys; keys++)
		r = fleet_buf_field(b, value(o, *keys, tmp), 0);
	return r;
}

int fleet_rows_device(struct fleet_buf *b, const char *host_id, const cJSON *dev)
{
	static const char *const keys[] = {
		"udid",	 "name",  "product",	"os_version", "build",	   "connection", "attached",
		"state", "error", "first_seen", "last_seen",  "last_sync", "reports",	 NULL,
	};
	char tmp[32];

	if (value(dev, "udid", tmp) == NULL)
		return -EINVAL;
	if (fields(b, host_id, dev, keys) < 0)
		return -ENOMEM;
	return end_row(b);
}

int fleet_rows_report(struct fleet_buf *b, const char *host_id, const cJSON *rep, const char *time,
		      const char *facts, const void *raw, size_t raw_len)
{
	static const char *const head[] = {
		"key",	 "incident", "udid",	"path",	      "size",  "sha256",    "status",
		"error", "variant",  "product", "os_version", "build", "timestamp", NULL};
	static const char *const tail[] = {"events", "collected_at", "removed_from_device", NULL};
	char tmp[32];
	int r;

	if (value(rep, "key", tmp) == NULL)
		return -EINVAL;
	r = fields(b, host_id, rep, head);
	if (r == 0)
		r = fleet_buf_field(b, time_or_null(time), 0);
	for (const char *const *k = tail; r == 0 && *k; k++)
		r = fleet_buf_field(b, value(rep, *k, tmp), 0);
	if (r == 0)
		r = fleet_buf_field(b, facts, 0);
	if (r == 0)
		r = raw ? fleet_buf_bytea(b, raw, raw_len) : fleet_buf_field(b, NULL, 0);
	return r < 0 ? r : end_row(b);
}

/* PostgreSQL's check on events.role: any other name ships as NULL */
static const char *role_or_null(const char *role)
{
	if (role && (strcmp(role, "foreground") == 0 || strcmp(role, "daemon") == 0 ||
		     strcmp(role, "background") == 0))
		return role;
	return NULL;
}

int fleet_rows_event(struct fleet_buf *b, const char *host_id, const char *report_key, int seq,
		     const cJSON *ev, const char *text)
{
	static const char *const place[] = {"udid",    "product", "os_version", "build",  "time",
					    "process", "pid",	  "uuid",	"reason", NULL};
	static const char *const sizes[] = {
		"priority",	      "rpages", "page_size", "footprint_bytes", "limit_bytes",
		"lifetime_max_pages", NULL};
	char tmp[32], n[16];
	int r;

	snprintf(n, sizeof(n), "%d", seq);
	r = fleet_buf_field(b, host_id, 1);
	if (r == 0)
		r = fleet_buf_field(b, report_key, 0);
	if (r == 0)
		r = fleet_buf_field(b, n, 0);
	for (const char *const *k = place; r == 0 && *k; k++)
		r = fleet_buf_field(b, value(ev, *k, tmp), 0);
	if (r == 0)
		r = fleet_buf_field(b, role_or_null(value(ev, "role", tmp)), 0);
	for (const char *const *k = sizes; r == 0 && *k; k++)
		r = fleet_buf_field(b, value(ev, *k, tmp), 0);
	if (r == 0)
		r = fleet_buf_field(b, text, 0);
	return r < 0 ? r : end_row(b);
}
