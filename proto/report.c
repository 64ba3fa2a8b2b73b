/* report.c: report_parse(): split the .ips header from the body, read the JSON layouts */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "report_internal.h"

/* ---- names ---- */

const char *report_status_name(enum report_status s)
{
	switch (s) {
	case REPORT_OK:
		return "ok";
	case REPORT_SKIPPED:
		return "skipped";
	case REPORT_ERROR:
		return "error";
	}
	return "error";
}

const char *report_variant_name(enum report_variant v)
{
	static const char *const names[] = {
		[REPORT_VARIANT_UNKNOWN] = "unknown",
		[REPORT_VARIANT_T1] = "T1",
		[REPORT_VARIANT_T2] = "T2",
		[REPORT_VARIANT_T3] = "T3",
		[REPORT_VARIANT_T4] = "T4",
		[REPORT_VARIANT_J1] = "J1",
		[REPORT_VARIANT_J2] = "J2",
		[REPORT_VARIANT_J3] = "J3",
		[REPORT_VARIANT_J4] = "J4",
		[REPORT_VARIANT_EXC_TEXT] = "exc-text",
		[REPORT_VARIANT_EXC_JSON] = "exc-json",
	};
	if ((unsigned)v >= sizeof(names) / sizeof(names[0]))
		return "unknown";
	return names[v];
}

const char *report_role_name(enum report_role r)
{
	switch (r) {
	case REPORT_ROLE_FOREGROUND:
		return "foreground";
	case REPORT_ROLE_DAEMON:
		return "daemon";
	case REPORT_ROLE_BACKGROUND:
		return "background";
	}
	return "background";
}

int report_role_from_name(const char *name, enum report_role *out)
{
	static const enum report_role all[] = {REPORT_ROLE_FOREGROUND, REPORT_ROLE_DAEMON,
					       REPORT_ROLE_BACKGROUND};

	if (name == NULL || out == NULL)
		return -EINVAL;
	for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
		if (strcmp(name, report_role_name(all[i])) == 0) {
			*out = all[i];
			return 0;
		}
	}
	return -EINVAL;
}

/* ---- the result object ---- */

static struct report *report_new(void)
{
	struct report *r = calloc(1, sizeof(*r));
	struct report_memory_status *m;

	if (r == NULL)
		return NULL;
	r->status = REPORT_OK;
	r->error_offset = REPORT_NULL;
	r->timestamp_epoch = REPORT_NULL;
	r->page_size = REPORT_NULL;
	m = &r->memory;
	m->free = m->active = m->inactive = m->speculative = m->throttled = REPORT_NULL;
	m->wired = m->purgeable = m->file_backed = m->anonymous = REPORT_NULL;
	m->compressor_size = m->uncompressed = m->compressions = m->decompressions = REPORT_NULL;
	m->zone_map_cap = m->zone_map_size = m->largest_zone_size = REPORT_NULL;
	return r;
}

static void event_release(struct report_event *ev)
{
	free(ev->process);
	free(ev->uuid);
	free(ev->reason);
	for (size_t i = 0; i < ev->n_states; i++)
		free(ev->states[i]);
	free(ev->states);
}

static void report_drop_events(struct report *r)
{
	for (size_t i = 0; i < r->n_events; i++)
		event_release(&r->events[i]);
	free(r->events);
	r->events = NULL;
	r->n_events = 0;
}

void report_free(struct report *r)
{
	if (r == NULL)
		return;
	report_drop_events(r);
	free(r->error);
	free(r->bug_type);
	free(r->incident);
	free(r->timestamp);
	free(r->product);
	free(r->os_name);
	free(r->os_version);
	free(r->build);
	free(r->kernel);
	free(r->largest_process);
	free(r->memory.largest_zone);
	free(r);
}

struct report_event *report_event_add(struct report *r)
{
	struct report_event *ev;
	size_t n = r->n_events;

	/* capacity is 4, then the next power of two: grow at 0 and at each power of two >= 4 */
	if (n == 0 || (n >= 4 && (n & (n - 1)) == 0)) {
		struct report_event *grown;
		size_t cap = n == 0 ? 4 : n * 2;

		grown = realloc(r->events, cap * sizeof(*grown));
		if (grown == NULL)
			return NULL;
		r->events = grown;
	}
	ev = &r->events[r->n_events++];
	memset(ev, 0, sizeof(*ev));
	ev->pid = ev->priority = ev->rpages = ev->page_size = REPORT_NULL;
	ev->footprint_bytes = ev->limit_bytes = ev->lifetime_max_pages = REPORT_NULL;
	ev->role = REPORT_ROLE_BACKGROUND;
	return ev;
}

int report_event_add_state(struct report_event *ev, const char *s, size_t n)
{
	char **states = realloc(ev->states, (ev->n_states + 1) * sizeof(*states));

	if (states == NULL)
		return -ENOMEM;
	ev->states = states;
	states[ev->n_states] = report_strdup_clean(s, n);
	if (states[ev->n_states] == NULL)
		return -ENOMEM;
	ev->n_states++;
	return 0;
}

void report_event_finish(struct report_event *ev, int64_t page_size)
{
	int64_t bytes;

	ev->role = REPORT_ROLE_BACKGROUND;
	for (size_t i = 0; i < ev->n_states; i++) {
		if (strcmp(ev->states[i], "frontmost") == 0) {
			ev->role = REPORT_ROLE_FOREGROUND;
			break;
		}
		if (strcmp(ev->states[i], "daemon") == 0)
			ev->role = REPORT_ROLE_DAEMON;
	}
	ev->page_size = page_size;
	if (ev->rpages != REPORT_NULL && ev->rpages >= 0 && page_size != REPORT_NULL &&
	    page_size > 0 && !__builtin_mul_overflow(ev->rpages, page_size, &bytes))
		ev->footprint_bytes = bytes;
	if (ev->reason != NULL && strcmp(ev->reason, "per-process-limit") == 0)
		ev->limit_bytes = ev->footprint_bytes;
}

__attribute__((format(printf, 4, 0))) static int
report_vset(struct report *r, enum report_status st, int64_t offset, const char *fmt, va_list ap)
{
	char buf[512];

	vsnprintf(buf, sizeof(buf), fmt, ap);
	free(r->error);
	r->error = report_strdup_clean(buf, strlen(buf));
	if (r->error == NULL)
		return -ENOMEM;
	r->status = st;
	r->error_offset = offset;
	r->truncated = 0;
	report_drop_events(r); /* never a partial event list */
	return 0;
}

int report_fail(struct report *r, int64_t offset, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = report_vset(r, REPORT_ERROR, offset, fmt, ap);
	va_end(ap);
	return rc;
}

int report_skip(struct report *r, const char *fmt, ...)
{
	va_list ap;
	int rc;

	va_start(ap, fmt);
	rc = report_vset(r, REPORT_SKIPPED, REPORT_NULL, fmt, ap);
	va_end(ap);
	return rc;
}

/* ---- small helpers ---- */

char *report_strdup_clean(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	char *out = malloc(n * 3 + 1), *o = out;
	size_t i = 0;

	if (out == NULL)
		return NULL;
	while (i < n) {
		unsigned c = u[i];
		size_t len = 0;
		unsigned lo = 0x80, hi = 0xbf;

		if (c != 0 && c < 0x80) {
			*o++ = (char)c;
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			len = 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			len = 3;
			if (c == 0xe0)
				lo = 0xa0;
			else if (c == 0xed)
				hi = 0x9f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			len = 4;
			if (c == 0xf0)
				lo = 0x90;
			else if (c == 0xf4)
				hi = 0x8f;
		}
		if (len != 0 && i + len <= n && u[i + 1] >= lo && u[i + 1] <= hi) {
			size_t k;

			for (k = 2; k < len; k++) {
				if (u[i + k] < 0x80 || u[i + k] > 0xbf)
					break;
			}
			if (k == len) {
				memcpy(o, s + i, len);
				o += len;
				i += len;
				continue;
			}
		}
		memcpy(o, "\xef\xbf\xbd", 3); /* U+FFFD */
		o += 3;
		i++;
	}
	*o = '\0';
	return out;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static const char *skip_ws(const char *p, const char *end)
{
	while (p < end && is_space(*p))
		p++;
	return p;
}

int report_int_parse(const char *s, size_t n, int64_t *out)
{
	size_t i = 0;
	int neg = 0;
	int64_t v = 0;

	if (n > 0 && s[0] == '-') {
		neg = 1;
		i = 1;
	}
	if (i >= n)
		return -EINVAL;
	for (; i < n; i++) {
		if (!is_digit(s[i]))
			return -EINVAL;
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (int64_t)(s[i] - '0'), &v))
			return -EINVAL;
	}
	*out = neg ? -v : v;
	return 0;
}

int report_split_os(struct report *r, const char *s, size_t n)
{
	const char *end = s + n, *open = NULL, *head_end, *ver = NULL;

	while (n > 0 && is_space(*s)) {
		s++;
		n--;
	}
	end = s + n;
	while (end > s && is_space(end[-1]))
		end--;
	head_end = end;
	if (end > s && end[-1] == ')') {
		for (const char *q = end - 1; q > s; q--) {
			if (q[-1] == '(') {
				open = q - 1;
				break;
			}
		}
	}
	if (open != NULL) {
		if (r->build == NULL && end - 1 > open + 1) {
			r->build = report_strdup_clean(open + 1, (size_t)(end - 1 - (open + 1)));
			if (r->build == NULL)
				return -ENOMEM;
		}
		head_end = open;
	}
	while (head_end > s && is_space(head_end[-1]))
		head_end--;
	for (const char *q = head_end; q > s; q--) {
		if (is_space(q[-1])) {
			ver = q;
			break;
		}
	}
	if (ver == NULL && head_end > s && is_digit(*s))
		ver = s;
	if (ver != NULL && !is_digit(*ver))
		ver = NULL;
	if (ver != NULL && r->os_version == NULL) {
		r->os_version = report_strdup_clean(ver, (size_t)(head_end - ver));
		if (r->os_version == NULL)
			return -ENOMEM;
	}
	if (ver != NULL)
		head_end = ver;
	while (head_end > s && is_space(head_end[-1]))
		head_end--;
	if (head_end > s && r->os_name == NULL) {
		r->os_name = report_strdup_clean(s, (size_t)(head_end - s));
		if (r->os_name == NULL)
			return -ENOMEM;
	}
	return 0;
}

static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

static int take_digits(const char **p, const char *end, size_t count, int *out)
{
	int v = 0;

	for (size_t i = 0; i < count; i++) {
		if (*p >= end || !is_digit(**p))
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return 0;
}

int64_t report_time_parse(const char *s, size_t n)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	const char *p = s, *end = s + n;
	int y, mo, d, h, mi, sec, oh, om, sign;
	int64_t t;

	if (take_digits(&p, end, 4, &y) || p >= end || *p++ != '-' ||
	    take_digits(&p, end, 2, &mo) || p >= end || *p++ != '-' ||
	    take_digits(&p, end, 2, &d) || p >= end || (*p != ' ' && *p != 'T'))
		return REPORT_NULL;
	p++;
	if (take_digits(&p, end, 2, &h) || p >= end || *p++ != ':' ||
	    take_digits(&p, end, 2, &mi) || p >= end || *p++ != ':' ||
	    take_digits(&p, end, 2, &sec))
		return REPORT_NULL;
	if (mo < 1 || mo > 12 || d < 1 || d > mdays[mo - 1] || h > 23 || mi > 59 || sec > 60)
		return REPORT_NULL;
	if (p < end && *p == '.') {
		p++;
		if (p >= end || !is_digit(*p))
			return REPORT_NULL;
		while (p < end && is_digit(*p))
			p++;
	}
	while (p < end && *p == ' ')
		p++;
	if (p < end && *p == 'Z') {
		oh = om = 0;
		sign = 1;
		p++;
	} else {
		if (p >= end || (*p != '+' && *p != '-'))
			return REPORT_NULL; /* no zone: the instant is unknown */
		sign = *p++ == '-' ? -1 : 1;
		if (take_digits(&p, end, 2, &oh))
			return REPORT_NULL;
		if (p < end && *p == ':')
			p++;
		if (take_digits(&p, end, 2, &om) || oh > 23 || om > 59)
			return REPORT_NULL;
	}
	while (p < end && is_space(*p))
		p++;
	if (p != end)
		return REPORT_NULL;
	t = days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + sec;
	return t - sign * (oh * 3600 + om * 60);
}

int64_t report_limit_from_message(const char *s, size_t n)
{
	for (size_t i = 0; i + 5 <= n; i++) {
		const char *p, *end = s + n, *num;
		int64_t mb, bytes;

		if (strncasecmp(s + i, "limit", 5) != 0)
			continue;
		p = s + i + 5;
		while (p < end && *p == ' ')
			p++;
		if (p < end && (*p == '=' || *p == ':')) {
			p++;
			while (p < end && *p == ' ')
				p++;
		}
		num = p;
		while (p < end && is_digit(*p))
			p++;
		if (p == num || report_int_parse(num, (size_t)(p - num), &mb) != 0)
			continue;
		while (p < end && *p == ' ')
			p++;
		if (end - p < 2 || strncasecmp(p, "MB", 2) != 0)
			continue;
		if (__builtin_mul_overflow(mb, (int64_t)1024 * 1024, &bytes))
			continue;
		return bytes;
	}
	return REPORT_NULL;
}

/* ---- JSON value helpers ---- */

static int64_t json_int(const cJSON *it)
{
	double d;

	if (it == NULL || !cJSON_IsNumber(it))
		return REPORT_NULL;
	d = it->valuedouble;
	if (!(d >= -9.2e18 && d <= 9.2e18) || d != floor(d))
		return REPORT_NULL;
	return (int64_t)d;
}

/* *dst = a clean copy of the string value (kept when already set). 0 or -ENOMEM. */
static int json_str(const cJSON *it, char **dst)
{
	if (*dst != NULL || it == NULL || !cJSON_IsString(it) || it->valuestring == NULL)
		return 0;
	*dst = report_strdup_clean(it->valuestring, strlen(it->valuestring));
	return *dst == NULL ? -ENOMEM : 0;
}

static int key_is(const cJSON *it, const char *key)
{
	return it->string != NULL && strcmp(it->string, key) == 0;
}

/* Set *slot to it when it has key and *slot is unset (first occurrence wins). */
static int take(const cJSON *it, const char *key, const cJSON **slot)
{
	if (!key_is(it, key))
		return 0;
	if (*slot == NULL)
		*slot = it;
	return 1;
}

/* ---- the .ips header line ---- */

static void header_release(struct report_header *h)
{
	free(h->bug_type);
	free(h->timestamp);
	free(h->os_version);
	free(h->incident);
	free(h->app_name);
	free(h->slice_uuid);
}

static int header_from_json(struct report_header *h, const cJSON *obj)
{
	const cJSON *bug = NULL, *ts = NULL, *os = NULL, *inc = NULL, *app = NULL, *name = NULL;
	const cJSON *uuid = NULL;
	int rc;

	for (const cJSON *it = obj->child; it != NULL; it = it->next) {
		if (take(it, "bug_type", &bug) || take(it, "timestamp", &ts) ||
		    take(it, "os_version", &os) || take(it, "incident_id", &inc) ||
		    take(it, "app_name", &app) || take(it, "name", &name) ||
		    take(it, "slice_uuid", &uuid))
			continue;
	}
	if (bug != NULL && cJSON_IsNumber(bug) && json_int(bug) != REPORT_NULL) {
		char num[32];

		snprintf(num, sizeof(num), "%lld", (long long)json_int(bug));
		h->bug_type = report_strdup_clean(num, strlen(num));
		if (h->bug_type == NULL)
			return -ENOMEM;
	}
	if ((rc = json_str(bug, &h->bug_type)) || (rc = json_str(ts, &h->timestamp)) ||
	    (rc = json_str(os, &h->os_version)) || (rc = json_str(inc, &h->incident)) ||
	    (rc = json_str(app, &h->app_name)) || (rc = json_str(name, &h->app_name)) ||
	    (rc = json_str(uuid, &h->slice_uuid)))
		return rc;
	return 0;
}

/* 298 JetsamEvent, 198 LowMemory (iOS 7), 309 crash (JSON), 109 crash (text, iOS 10-14) */
static int bug_type_may_be_memory(const char *b)
{
	return strcmp(b, "298") == 0 || strcmp(b, "198") == 0 || strcmp(b, "309") == 0 ||
	       strcmp(b, "109") == 0;
}

static int dup_if_unset(char **dst, const char *s)
{
	if (*dst != NULL || s == NULL)
		return 0;
	*dst = strdup(s); /* already clean */
	return *dst == NULL ? -ENOMEM : 0;
}

/* Facts the header gives first (the body only fills what it lacks). */
static int facts_from_header(struct report *r, const struct report_header *h)
{
	int rc;

	if ((rc = dup_if_unset(&r->bug_type, h->bug_type)) ||
	    (rc = dup_if_unset(&r->incident, h->incident)) ||
	    (rc = dup_if_unset(&r->timestamp, h->timestamp)))
		return rc;
	return 0;
}

/* Facts the body gives first (the header only fills what it lacks). */
static int facts_after_body(struct report *r, const struct report_header *h)
{
	int rc;

	if (h->os_version != NULL &&
	    (rc = report_split_os(r, h->os_version, strlen(h->os_version))) != 0)
		return rc;
	if (r->timestamp != NULL && r->timestamp_epoch == REPORT_NULL)
		r->timestamp_epoch = report_time_parse(r->timestamp, strlen(r->timestamp));
	return 0;
}

/* Nesting scan state: depth is opens minus closes (a close too many makes cJSON stop there,
 * before any deeper part, so it needs no clamping). */
struct depth_scan {
	int depth, max;
	int in_str, esc;
};

/* Scan s[from, to) byte by byte: the offset of the first bracket too deep, or -1. */
static int64_t depth_scalar(const unsigned char *s, size_t from, size_t to, struct depth_scan *st)
{
	for (size_t i = from; i < to; i++) {
		unsigned char c = s[i];

		if (st->in_str) {
			if (st->esc)
				st->esc = 0;
			else if (c == '\\')
				st->esc = 1;
			else if (c == '"')
				st->in_str = 0;
			continue;
		}
		if (c == '"') {
			st->in_str = 1;
		} else if (c == '{' || c == '[') {
			if (++st->depth > st->max)
				return (int64_t)i;
		} else if (c == '}' || c == ']') {
			st->depth--;
		}
	}
	return -1;
}

#if defined(__SSE2__)
static uint64_t mask64(const __m128i v[4], char c)
{
	const __m128i k = _mm_set1_epi8(c);
	uint64_t m = 0;

	for (int i = 0; i < 4; i++)
		m |= (uint64_t)(uint16_t)_mm_movemask_epi8(_mm_cmpeq_epi8(v[i], k)) << (16 * i);
	return m;
}
#endif

/* Scan [p, p+n) for nesting beyond max: the offset of the first bracket too deep, or -1.
 * *open is 2 when the text ends inside a string, 1 inside an unclosed bracket, else 0.
 * 64-byte blocks without a backslash are classified with SSE2 masks (strings found by a
 * prefix XOR of the quote bits); the others go byte by byte. */
int64_t report_depth_exceeded(const char *p, size_t n, int max, int *open)
{
	const unsigned char *s = (const unsigned char *)p;
	struct depth_scan st = {.max = max};
	size_t i = 0;
	int64_t at;

#if defined(__SSE2__)
	for (; i + 64 <= n; i += 64) {
		__m128i v[4], w[4];
		uint64_t q, x, ob, cb;

		__m128i any_bs = _mm_setzero_si128(), any_br = _mm_setzero_si128();

		for (int k = 0; k < 4; k++) {
			v[k] = _mm_loadu_si128((const __m128i *)(const void *)(s + i + 16 * k));
			any_bs = _mm_or_si128(any_bs, _mm_cmpeq_epi8(v[k], _mm_set1_epi8('\\')));
			w[k] = _mm_or_si128(v[k], _mm_set1_epi8(0x20)); /* '[' -> '{', ']' -> '}' */
			any_br = _mm_or_si128(any_br, _mm_cmpeq_epi8(w[k], _mm_set1_epi8('{')));
			any_br = _mm_or_si128(any_br, _mm_cmpeq_epi8(w[k], _mm_set1_epi8('}')));
		}
		if (st.esc || _mm_movemask_epi8(any_bs) != 0) {
			if ((at = depth_scalar(s, i, i + 64, &st)) >= 0)
				return at;
			continue;
		}
		q = mask64(v, '"');
		if (_mm_movemask_epi8(any_br) == 0) {
			st.in_str ^= __builtin_parityll(q); /* no bracket: only the string state */
			continue;
		}
		x = q ^ (q << 1);
		x ^= x << 2;
		x ^= x << 4;
		x ^= x << 8;
		x ^= x << 16;
		x ^= x << 32; /* bit i: odd number of quotes at or before i */
		if (st.in_str)
			x = ~x;
		st.in_str = (int)(x >> 63);
		ob = mask64(w, '{') & ~x;
		cb = mask64(w, '}') & ~x;
		for (uint64_t all = ob | cb; all != 0; all &= all - 1) { /* a few per block */
			int bit = __builtin_ctzll(all);

			if (ob >> bit & 1) {
				if (++st.depth > max)
					return (int64_t)(i + (size_t)bit);
			} else {
				st.depth--;
			}
		}
	}
#endif
	if ((at = depth_scalar(s, i, n, &st)) >= 0)
		return at;
	*open = st.in_str ? 2 : st.depth > 0;
	return -1;
}

/* ---- JetsamEvent JSON body ---- */

struct proc_fields {
	const cJSON *name, *pid, *uuid, *reason, *states, *priority, *rpages, *lifetime;
};

/* The field of a process entry that key names (NULL for the others), by its first letter:
 * one strcmp per key, as the walk over hundreds of entries is the parser's own hot loop. */
static const cJSON **proc_slot(struct proc_fields *f, const char *k, int *j3)
{
	const cJSON **slot = NULL;
	const char *want = NULL;

	if (k == NULL)
		return NULL;
	switch (k[0]) {
	case 'n':
		want = "name", slot = &f->name;
		break;
	case 'p':
		if (k[1] == 'i')
			want = "pid", slot = &f->pid;
		else
			want = "priority", slot = &f->priority;
		break;
	case 'u':
		want = "uuid", slot = &f->uuid;
		break;
	case 'r':
		if (k[1] == 'e')
			want = "reason", slot = &f->reason;
		else
			want = "rpages", slot = &f->rpages;
		break;
	case 's':
		want = "states", slot = &f->states;
		break;
	case 'l':
		want = "lifetimeMax", slot = &f->lifetime;
		break;
	case 'f':
		*j3 |= strcmp(k, "freeze_skip_reason:") == 0;
		return NULL;
	case 'c':
		*j3 |= strcmp(k, "csFlags") == 0 || strcmp(k, "csTrustLevel") == 0;
		return NULL;
	case 'm':
		*j3 |= strcmp(k, "mem_regions") == 0;
		return NULL;
	default:
		return NULL;
	}
	return strcmp(k, want) == 0 ? slot : NULL;
}

/* Fill f from every member of the process entry p (first occurrence of a key wins).
 * Returns 1 when the entry has a string reason, else 0. */
static int proc_walk(const cJSON *p, struct proc_fields *f, int *j3)
{
	memset(f, 0, sizeof(*f));
	for (const cJSON *it = p->child; it != NULL; it = it->next) {
		const cJSON **slot = proc_slot(f, it->string, j3);

		if (slot != NULL && *slot == NULL)
			*slot = it;
	}
	if (f->reason != NULL && !cJSON_IsString(f->reason))
		f->reason = NULL; /* a reason is a string in every layout seen */
	return f->reason != NULL;
}

static int event_from_process(struct report *r, const struct proc_fields *f, int64_t page_size)
{
	struct report_event *ev;
	int rc;

	ev = report_event_add(r);
	if (ev == NULL)
		return -ENOMEM;
	if ((rc = json_str(f->name, &ev->process)) || (rc = json_str(f->uuid, &ev->uuid)))
		return rc;
	if ((rc = json_str(f->reason, &ev->reason)) != 0)
		return rc;
	ev->pid = json_int(f->pid);
	ev->priority = json_int(f->priority);
	ev->rpages = json_int(f->rpages);
	ev->lifetime_max_pages = json_int(f->lifetime);
	if (cJSON_IsArray(f->states)) {
		for (const cJSON *s = f->states->child; s != NULL; s = s->next) {
			if (cJSON_IsString(s) && s->valuestring != NULL &&
			    (rc = report_event_add_state(ev, s->valuestring,
							 strlen(s->valuestring))) != 0)
				return rc;
		}
	}
	report_event_finish(ev, page_size);
	return 0;
}

static void memory_from_json(struct report_memory_status *m, const cJSON *ms)
{
	for (const cJSON *it = ms->child; it != NULL; it = it->next) {
		const char *k = it->string;
		int64_t *dst = NULL;

		if (k == NULL)
			continue;
		if (strcmp(k, "memoryPages") == 0 && cJSON_IsObject(it)) {
			memory_from_json(m, it);
			continue;
		}
		if (strcmp(k, "free") == 0)
			dst = &m->free;
		else if (strcmp(k, "active") == 0)
			dst = &m->active;
		else if (strcmp(k, "inactive") == 0)
			dst = &m->inactive;
		else if (strcmp(k, "speculative") == 0)
			dst = &m->speculative;
		else if (strcmp(k, "throttled") == 0)
			dst = &m->throttled;
		else if (strcmp(k, "wired") == 0)
			dst = &m->wired;
		else if (strcmp(k, "purgeable") == 0)
			dst = &m->purgeable;
		else if (strcmp(k, "fileBacked") == 0)
			dst = &m->file_backed;
		else if (strcmp(k, "anonymous") == 0)
			dst = &m->anonymous;
		else if (strcmp(k, "compressorSize") == 0)
			dst = &m->compressor_size;
		else if (strcmp(k, "uncompressed") == 0)
			dst = &m->uncompressed;
		else if (strcmp(k, "compressions") == 0)
			dst = &m->compressions;
		else if (strcmp(k, "decompressions") == 0)
			dst = &m->decompressions;
		else if (strcmp(k, "zoneMapCap") == 0)
			dst = &m->zone_map_cap;
		else if (strcmp(k, "zoneMapSize") == 0)
			dst = &m->zone_map_size;
		else if (strcmp(k, "largestZoneSize") == 0)
			dst = &m->largest_zone_size;
		if (dst != NULL && *dst == REPORT_NULL)
			*dst = json_int(it);
	}
}

struct body_fields {
	const cJSON *processes, *memory, *exception, *product, *model_code, *incident, *date;
	const cJSON *capture_time, *build, *os_version, *kernel, *largest, *bug_type, *roots;
	const cJSON *csm, *page_size, *proc_name, *pid, *proc_role;
};

static int os_major(const struct report *r)
{
	int64_t v = 0;
	size_t n = 0;

	if (r->os_version == NULL)
		return -1;
	while (is_digit(r->os_version[n]) && n < 4)
		n++;
	if (n == 0 || report_int_parse(r->os_version, n, &v) != 0)
		return -1;
	return (int)v;
}

static enum report_variant variant_from_version(int major)
{
	if (major >= 17)
		return REPORT_VARIANT_J4;
	if (major >= 15)
		return REPORT_VARIANT_J3;
	if (major >= 11)
		return REPORT_VARIANT_J2;
	if (major >= 9)
		return REPORT_VARIANT_J1;
	return REPORT_VARIANT_UNKNOWN;
}

static int jetsam_from_json(struct report *r, const struct report_header *h, const cJSON *root,
			    const struct body_fields *b)
{
	int has_j3_keys = 0, has_zone = 0;
	const cJSON *ms = cJSON_IsObject(b->memory) ? b->memory : NULL;
	int64_t page_size = REPORT_NULL;
	size_t index = 0;
	int rc;

	if ((rc = json_str(b->product, &r->product)) ||
	    (rc = json_str(b->incident, &r->incident)) || (rc = json_str(b->date, &r->timestamp)) ||
	    (rc = json_str(b->kernel, &r->kernel)) ||
	    (rc = json_str(b->largest, &r->largest_process)) ||
	    (rc = json_str(b->bug_type, &r->bug_type)))
		return rc;
	if (cJSON_IsString(b->build) &&
	    (rc = report_split_os(r, b->build->valuestring, strlen(b->build->valuestring))) != 0)
		return rc;
	if ((rc = facts_after_body(r, h)) != 0)
		return rc;
	if (ms != NULL) {
		const cJSON *ps = NULL, *zone = NULL;

		for (const cJSON *it = ms->child; it != NULL; it = it->next) {
			if (take(it, "pageSize", &ps) || take(it, "largestZone", &zone))
				continue;
			if (key_is(it, "zoneMapCap") || key_is(it, "zoneMapSize"))
				has_zone = 1;
		}
		has_zone |= zone != NULL;
		page_size = json_int(ps);
		memory_from_json(&r->memory, ms);
		if ((rc = json_str(zone, &r->memory.largest_zone)) != 0)
			return rc;
	}
	if (page_size == REPORT_NULL)
		page_size = json_int(b->page_size);
	if (page_size != REPORT_NULL && page_size <= 0)
		page_size = REPORT_NULL; /* never guessed */
	r->page_size = page_size;

	if (b->processes == NULL)
		return report_fail(r, REPORT_NULL, "jetsam report has no 'processes' array");
	if (!cJSON_IsArray(b->processes))
		return report_fail(r, REPORT_NULL, "jetsam report 'processes' is not an array");
	for (const cJSON *p = b->processes->child; p != NULL; p = p->next, index++) {
		struct proc_fields f = {0};

		if (!cJSON_IsObject(p))
			return report_fail(r, REPORT_NULL, "process entry %zu is not an object",
					   index);
		if (index == 0) {
			/* the first entry is walked whole: it tells the variant (csFlags ...) */
			if (proc_walk(p, &f, &has_j3_keys) == 0)
				continue;
		} else {
			/* The kill marker is a string member: only string members need their
			 * key read, and the entry is walked whole only when it has one (this
			 * loop over hundreds of entries is the parser's own hot path). */
			const cJSON *reason = NULL;

			for (const cJSON *it = p->child; it != NULL; it = it->next) {
				const char *k = it->string;

				if ((it->type & 0xff) != cJSON_String || k == NULL)
					continue;
				if (k[0] == 'r' && strcmp(k, "reason") == 0) {
					reason = it;
					break;
				}
			}
			if (reason == NULL || proc_walk(p, &f, &has_j3_keys) == 0)
				continue;
		}
		if ((rc = event_from_process(r, &f, page_size)) != 0)
			return rc;
	}

	if (b->csm != NULL || (root->child != NULL && key_is(root->child, "build")))
		r->variant = REPORT_VARIANT_J4;
	else if (b->bug_type != NULL || b->roots != NULL || has_j3_keys)
		r->variant = REPORT_VARIANT_J3;
	else if (has_zone && os_major(r) < 15)
		r->variant = REPORT_VARIANT_J2; /* zone counters arrived in iOS 11 */
	else if (os_major(r) >= 9)
		r->variant = variant_from_version(os_major(r));
	else if (ms != NULL)
		r->variant = has_zone ? REPORT_VARIANT_J2 : REPORT_VARIANT_J1;
	else
		r->variant = REPORT_VARIANT_UNKNOWN;
	r->status = REPORT_OK;
	return 0;
}

/* ---- crash report JSON body (bug_type 309) ---- */

static int crash_from_json(struct report *r, const struct report_header *h,
			   const struct body_fields *b)
{
	const cJSON *type = NULL, *subtype = NULL, *message = NULL;
	const cJSON *train = NULL, *build = NULL;
	struct report_event *ev;
	int rc;

	if ((rc = json_str(b->model_code, &r->product)) ||
	    (rc = json_str(b->product, &r->product)) ||
	    (rc = json_str(b->incident, &r->incident)) ||
	    (rc = json_str(b->capture_time, &r->timestamp)) ||
	    (rc = json_str(b->bug_type, &r->bug_type)))
		return rc;
	if (cJSON_IsObject(b->os_version)) {
		for (const cJSON *it = b->os_version->child; it != NULL; it = it->next) {
			if (take(it, "train", &train) || take(it, "build", &build))
				continue;
		}
		if (cJSON_IsString(train) &&
		    (rc = report_split_os(r, train->valuestring, strlen(train->valuestring))) != 0)
			return rc;
		if ((rc = json_str(build, &r->build)) != 0)
			return rc;
	}
	if ((rc = facts_after_body(r, h)) != 0)
		return rc;
	r->variant = REPORT_VARIANT_EXC_JSON;
	if (cJSON_IsObject(b->exception)) {
		for (const cJSON *it = b->exception->child; it != NULL; it = it->next) {
			if (take(it, "type", &type) || take(it, "subtype", &subtype) ||
			    take(it, "message", &message))
				continue;
		}
	}
	if (!cJSON_IsString(type) || strncmp(type->valuestring, "EXC_RESOURCE", 12) != 0 ||
	    !cJSON_IsString(subtype) || strcasecmp(subtype->valuestring, "MEMORY") != 0) {
		char what[64] = "unknown";

		if (cJSON_IsString(type)) {
			snprintf(what, sizeof(what), "%s", type->valuestring);
			if (cJSON_IsString(subtype) && strlen(what) < sizeof(what) - 2)
				snprintf(what + strlen(what), sizeof(what) - strlen(what), " %s",
					 subtype->valuestring);
		}
		return report_skip(r, "not a memory report: '%s' crash", what);
	}
	if (cJSON_IsString(message) && strstr(message->valuestring, "Threshold") != NULL &&
	    strstr(message->valuestring, "Diagnostic") != NULL)
		return report_skip(r, "memory diagnostic report, not a limit violation");
	ev = report_event_add(r);
	if (ev == NULL)
		return -ENOMEM;
	if ((rc = json_str(b->proc_name, &ev->process)) ||
	    (rc = dup_if_unset(&ev->process, h->app_name)) ||
	    (rc = dup_if_unset(&ev->uuid, h->slice_uuid)))
		return rc;
	if (ev->uuid != NULL) {
		for (char *c = ev->uuid; *c != '\0'; c++)
			if (*c >= 'A' && *c <= 'Z')
				*c = (char)(*c - 'A' + 'a');
	}
	ev->reason = strdup("exc-resource-memory");
	if (ev->reason == NULL)
		return -ENOMEM;
	ev->pid = json_int(b->pid);
	if (cJSON_IsString(b->proc_role) &&
	    (rc = report_event_add_state(ev, b->proc_role->valuestring,
					 strlen(b->proc_role->valuestring))) != 0)
		return rc;
	report_event_finish(ev, REPORT_NULL);
	if (cJSON_IsString(b->proc_role) &&
	    strcasecmp(b->proc_role->valuestring, "Foreground") == 0)
		ev->role = REPORT_ROLE_FOREGROUND;
	if (cJSON_IsString(message))
		ev->limit_bytes = report_limit_from_message(message->valuestring,
							    strlen(message->valuestring));
	r->status = REPORT_OK;
	return 0;
}

static int body_from_json(struct report *r, const struct report_header *h, const cJSON *root)
{
	struct body_fields b = {0};

	for (const cJSON *it = root->child; it != NULL; it = it->next) {
		if (take(it, "processes", &b.processes) || take(it, "memoryStatus", &b.memory) ||
		    take(it, "exception", &b.exception) || take(it, "product", &b.product) ||
		    take(it, "modelCode", &b.model_code) || take(it, "incident", &b.incident) ||
		    take(it, "date", &b.date) || take(it, "captureTime", &b.capture_time) ||
		    take(it, "build", &b.build) || take(it, "osVersion", &b.os_version) ||
		    take(it, "kernel", &b.kernel) || take(it, "largestProcess", &b.largest) ||
		    take(it, "bug_type", &b.bug_type) || take(it, "roots_installed", &b.roots) ||
		    take(it, "codeSigningMonitor", &b.csm) || take(it, "pageSize", &b.page_size) ||
		    take(it, "procName", &b.proc_name) || take(it, "pid", &b.pid) ||
		    take(it, "procRole", &b.proc_role))
			continue;
	}
	if (b.exception != NULL)
		return crash_from_json(r, h, &b);
	if (b.processes != NULL || b.memory != NULL || b.largest != NULL)
		return jetsam_from_json(r, h, root, &b);
	if (h->bug_type != NULL && strcmp(h->bug_type, "298") == 0)
		return report_fail(r, REPORT_NULL, "jetsam report has no 'processes' array");
	return report_skip(r, "not a memory report: json body without processes or exception");
}

/* ---- top level ---- */

/* The first line is a compact object followed by more text: the .ips header. A line cut at
 * its start (pastebin copies) is read from its first complete "key". */
static int header_from_line(struct report_header *h, const char *p, size_t n, int cut,
			    int max_depth, cJSON **whole)
{
	const char *pe = NULL;
	cJSON *obj = NULL;
	char *copy = NULL;
	int open;

	*whole = NULL;
	if (report_depth_exceeded(p, n, max_depth, &open) >= 0)
		return 0;
	if (cut) {
		const char *comma = NULL;

		for (size_t i = 0; i + 1 < n; i++) {
			if (p[i] == ',' && p[i + 1] == '"') {
				comma = p + i;
				break;
			}
		}
		if (comma == NULL)
			return 0;
		n -= (size_t)(comma - p);
		copy = malloc(n);
		if (copy == NULL)
			return -ENOMEM;
		memcpy(copy, comma, n);
		copy[0] = '{';
		p = copy;
	}
	obj = cJSON_ParseWithLengthOpts(p, n, &pe, 0);
	if (obj != NULL && cJSON_IsObject(obj) && skip_ws(pe, p + n) == p + n) {
		int rc = header_from_json(h, obj);

		if (rc != 0) {
			cJSON_Delete(obj);
			free(copy);
			return rc;
		}
		if (!cut) {
			*whole = obj;
			obj = NULL;
		}
	}
	cJSON_Delete(obj);
	free(copy);
	return 0;
}

static int body_is_memory_less_header(const cJSON *obj)
{
	/* a one-line object that is a header, not a compact body */
	return cJSON_GetObjectItemCaseSensitive(obj, "bug_type") != NULL &&
	       cJSON_GetObjectItemCaseSensitive(obj, "processes") == NULL &&
	       cJSON_GetObjectItemCaseSensitive(obj, "memoryStatus") == NULL &&
	       cJSON_GetObjectItemCaseSensitive(obj, "exception") == NULL;
}

static int parse_json_body(struct report *r, const struct report_header *h, const char *s,
			   const char *body, const char *end, int max_depth)
{
	const char *pe = NULL;
	int open = 0;
	int64_t deep = report_depth_exceeded(body, (size_t)(end - body), max_depth, &open);
	cJSON *root;
	int rc;

	if (deep >= 0)
		return report_fail(r, (body - s) + deep, "json nesting deeper than %d levels",
				   max_depth);
	root = cJSON_ParseWithLengthOpts(body, (size_t)(end - body), &pe, 0);
	if (root == NULL) {
		int64_t off = pe != NULL ? pe - s : body - s;

		/* cut short: the text ends inside a string, or still nested and nothing but the
		 * failing token follows the point where cJSON stopped */
		if (open == 2 || (open == 1 && (pe == NULL || skip_ws(pe + 1, end) == end)))
			return report_fail(r, off, "report body ends before its json is complete");
		return report_fail(r, off, "invalid json in report body");
	}
	if (skip_ws(pe, end) != end) {
		cJSON_Delete(root);
		return report_fail(r, pe - s, "unexpected data after the report body");
	}
	rc = body_from_json(r, h, root);
	cJSON_Delete(root);
	return rc;
}

static int parse_any(struct report *r, const char *s, size_t len, int max_depth)
{
	const char *end = s + len, *p = s, *line_end, *body;
	struct report_header h = {0};
	cJSON *whole = NULL;
	int rc = 0;

	if (len >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0)
		p += 3;
	p = skip_ws(p, end);
	if (p == end)
		return report_fail(r, (int64_t)len, "empty report");
	line_end = memchr(p, '\n', (size_t)(end - p));
	if (line_end == NULL)
		line_end = end;
	body = p;
	if (*p == '{') {
		rc = header_from_line(&h, p, (size_t)(line_end - p), 0, max_depth, &whole);
		if (rc != 0)
			goto out;
		if (whole != NULL) {
			body = skip_ws(line_end, end);
			if (body == end && !body_is_memory_less_header(whole)) {
				/* a compact one-line body, no header */
				header_release(&h);
				memset(&h, 0, sizeof(h));
			} else {
				cJSON_Delete(whole);
				whole = NULL;
			}
		}
	} else {
		const char *t = line_end, *next = skip_ws(line_end, end);

		while (t > p && is_space(t[-1]))
			t--;
		if (t > p && t[-1] == '}' && next < end && *next == '{' &&
		    memchr(p, ':', (size_t)(t - p)) != NULL) {
			rc = header_from_line(&h, p, (size_t)(t - p), 1, max_depth, &whole);
			if (rc != 0)
				goto out;
			body = next;
		}
	}
	if ((rc = facts_from_header(r, &h)) != 0)
		goto out;
	if (whole != NULL) {
		rc = body_from_json(r, &h, whole);
		goto out;
	}
	if (h.bug_type != NULL && !bug_type_may_be_memory(h.bug_type)) {
		if ((rc = facts_after_body(r, &h)) == 0)
			rc = report_skip(r, "not a memory report: bug_type '%s'", h.bug_type);
		goto out;
	}
	body = skip_ws(body, end);
	if (body == end) {
		if ((rc = facts_after_body(r, &h)) == 0)
			rc = report_fail(r, (int64_t)len, "report has a header but no body");
		goto out;
	}
	if (*body == '{') {
		rc = parse_json_body(r, &h, s, body, end, max_depth);
	} else if (*body == '"' || *body == '[') {
		if ((rc = facts_after_body(r, &h)) == 0)
			rc = report_fail(r, body - s, "report body is not a json object");
	} else {
		rc = report_text_parse(r, &h, body, (size_t)(end - body), (size_t)(body - s));
		if (rc == 0)
			rc = facts_after_body(r, &h);
	}
	if (rc == 0 && r->status == REPORT_ERROR)
		rc = facts_after_body(r, &h);
out:
	cJSON_Delete(whole);
	header_release(&h);
	return rc;
}

int report_parse(const void *buf, size_t len, const struct report_opts *opts, struct report **out)
{
	size_t max_size = REPORT_DEFAULT_MAX_SIZE;
	int max_depth = REPORT_DEFAULT_MAX_DEPTH;
	struct report *r;
	int rc;

	if (out == NULL)
		return -EINVAL;
	*out = NULL;
	if (buf == NULL && len != 0)
		return -EINVAL;
	if (opts != NULL && opts->max_size != 0)
		max_size = opts->max_size;
	if (opts != NULL && opts->max_depth > 0)
		max_depth = opts->max_depth;
	r = report_new();
	if (r == NULL)
		return -ENOMEM;
	if (len > max_size)
		rc = report_fail(r, (int64_t)max_size, "report too large: %zu bytes, limit %zu",
				 len, max_size);
	else if (len == 0)
		rc = report_fail(r, 0, "empty report");
	else
		rc = parse_any(r, buf, len, max_depth);
	if (rc != 0) {
		report_free(r);
		return rc;
	}
	*out = r;
	return 0;
}
