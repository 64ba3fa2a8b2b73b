/* report_util.c: helpers below every report layout: events, outcome, strings, numbers, times */
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cjson/cJSON.h>

#include "isotime.h"
#include "report_internal.h"

/* ---- events and outcome ---- */

static void event_release(struct report_event *ev)
{
	free(ev->process);
	free(ev->bundle_id);
	free(ev->uuid);
	free(ev->reason);
	for (size_t i = 0; i < ev->n_states; i++)
		free(ev->states[i]);
	free(ev->states);
}

void report_drop_events(struct report *r)
{
	for (size_t i = 0; i < r->n_events; i++)
		event_release(&r->events[i]);
	free(r->events);
	r->events = NULL;
	r->n_events = 0;
}

void report_keep_events(struct report *r, size_t n)
{
	for (size_t i = n; i < r->n_events; i++)
		event_release(&r->events[i]);
	if (n < r->n_events)
		r->n_events = n;
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
		if (!report_is_digit(s[i]))
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

	while (n > 0 && report_is_space(*s)) {
		s++;
		n--;
	}
	end = s + n;
	while (end > s && report_is_space(end[-1]))
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
	while (head_end > s && report_is_space(head_end[-1]))
		head_end--;
	for (const char *q = head_end; q > s; q--) {
		if (report_is_space(q[-1])) {
			ver = q;
			break;
		}
	}
	if (ver == NULL && head_end > s && report_is_digit(*s))
		ver = s;
	if (ver != NULL && !report_is_digit(*ver))
		ver = NULL;
	if (ver != NULL && r->os_version == NULL) {
		r->os_version = report_strdup_clean(ver, (size_t)(head_end - ver));
		if (r->os_version == NULL)
			return -ENOMEM;
	}
	if (ver != NULL)
		head_end = ver;
	while (head_end > s && report_is_space(head_end[-1]))
		head_end--;
	if (head_end > s && r->os_name == NULL) {
		r->os_name = report_strdup_clean(s, (size_t)(head_end - s));
		if (r->os_name == NULL)
			return -ENOMEM;
	}
	return 0;
}

static int take_digits(const char **p, const char *end, size_t count, int *out)
{
	int v = 0;

	for (size_t i = 0; i < count; i++) {
		if (*p >= end || !report_is_digit(**p))
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
		if (p >= end || !report_is_digit(*p))
			return REPORT_NULL;
		while (p < end && report_is_digit(*p))
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
	while (p < end && report_is_space(*p))
		p++;
	if (p != end)
		return REPORT_NULL;
	t = isotime_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 +
	    sec;
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
		while (p < end && report_is_digit(*p))
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

int64_t report_cjson_int(const cJSON *it)
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
int report_cjson_str(const cJSON *it, char **dst)
{
	if (*dst != NULL || it == NULL || !cJSON_IsString(it) || it->valuestring == NULL)
		return 0;
	*dst = report_strdup_clean(it->valuestring, strlen(it->valuestring));
	return *dst == NULL ? -ENOMEM : 0;
}

int report_cjson_key_is(const cJSON *it, const char *key)
{
	return it->string != NULL && strcmp(it->string, key) == 0;
}

/* Set *slot to it when it has key and *slot is unset (first occurrence wins). */
int report_cjson_take(const cJSON *it, const char *key, const cJSON **slot)
{
	if (!report_cjson_key_is(it, key))
		return 0;
	if (*slot == NULL)
		*slot = it;
	return 1;
}

int report_dup_if_unset(char **dst, const char *s)
{
	if (*dst != NULL || s == NULL)
		return 0;
	*dst = strdup(s); /* already clean */
	return *dst == NULL ? -ENOMEM : 0;
}

/* Facts the body gives first (the header only fills what it lacks). */
int report_facts_after_body(struct report *r, const struct report_header *h)
{
	int rc;

	if (h->os_version != NULL &&
	    (rc = report_split_os(r, h->os_version, strlen(h->os_version))) != 0)
		return rc;
	if (r->timestamp != NULL && r->timestamp_epoch == REPORT_NULL)
		r->timestamp_epoch = report_time_parse(r->timestamp, strlen(r->timestamp));
	return 0;
}
