/* output.c: jetsamctl's output helpers: messages, text, CSV, MiB, relative times, JSON fields */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include "output.h"
#include "timeparse.h"

void ctl_error(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("jetsamctl: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

void ctl_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fprintf(stderr, "jetsamctl%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, " (see `jetsamctl%s%s --help`)\n", cmd ? " " : "", cmd ? cmd : "");
}

/* --- text --- */

/* Decode one UTF-8 sequence at s; returns its length (0 at the end), *cp = -1 when invalid */
static size_t utf8_next(const unsigned char *s, long *cp)
{
	size_t n, i;
	long c;

	if (s[0] == 0) {
		*cp = 0;
		return 0;
	}
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
		c = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		c = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		c = s[0] & 0x07;
	} else {
		*cp = -1;
		return 1;
	}
	for (i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80) {
			*cp = -1;
			return 1;
		}
		c = (c << 6) | (s[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((n == 3 && c < 0x800) || (n == 4 && (c < 0x10000 || c > 0x10ffff)) ||
	    (c >= 0xd800 && c <= 0xdfff)) {
		*cp = -1;
		return 1;
	}
	*cp = c;
	return n;
}

/* Columns taken by code point c: wcwidth(3) of the locale (jetsamctl sets LC_CTYPE, a UTF-8
 * one when the environment names none), else a small table of its own */
static int cp_width(long c)
{
	int w;

	if (c < 0)
		return 1; /* shown as '?' */
	if (c < 0x20 || (c >= 0x7f && c < 0xa0))
		return 1; /* shown as '?' */
	if ((w = wcwidth((wchar_t)c)) >= 0)
		return w;
	if ((c >= 0x300 && c <= 0x36f) || (c >= 0x200b && c <= 0x200f) ||
	    (c >= 0xfe00 && c <= 0xfe0f) || (c >= 0x20d0 && c <= 0x20ff))
		return 0;
	if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf && c != 0x303f) ||
	    (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
	    (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
	    (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1f64f) ||
	    (c >= 0x1f680 && c <= 0x1f6ff) || (c >= 0x1fa70 && c <= 0x1faff) ||
	    (c >= 0x1f900 && c <= 0x1f9ff) || (c >= 0x20000 && c <= 0x3fffd))
		return 2;
	return 1;
}

int text_width(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	int w = 0;
	long c;
	size_t n;

	while ((n = utf8_next(p, &c)) > 0) {
		w += cp_width(c);
		p += n;
	}
	return w;
}

/* Is code point c shown as '?' */
static int cp_unsafe(long c)
{
	return c < 0 || c < 0x20 || (c >= 0x7f && c < 0xa0) || (c >= 0x202a && c <= 0x202e) ||
	       (c >= 0x2066 && c <= 0x2069);
}

char *text_sanitize(const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t len = strlen(s), o = 0, n;
	char *out = malloc(len + 1);
	long c;

	if (out == NULL)
		return NULL;
	while ((n = utf8_next(p, &c)) > 0) {
		if (cp_unsafe(c)) {
			out[o++] = '?';
		} else {
			memcpy(out + o, p, n);
			o += n;
		}
		p += n;
	}
	out[o] = 0;
	return out;
}

void text_fit(char *buf, size_t size, const char *s, int width, const char *ellipsis,
	      int ellipsis_width)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t o = 0, n, elen = strlen(ellipsis);
	int w = 0, total = text_width(s), limit;
	long c;

	if (size == 0)
		return;
	limit = total <= width ? width : width - ellipsis_width;
	while ((n = utf8_next(p, &c)) > 0) {
		int cw = cp_width(c);

		if (w + cw > limit)
			break;
		if (cp_unsafe(c)) {
			if (o + 1 >= size)
				break;
			buf[o++] = '?';
		} else {
			if (o + n >= size)
				break;
			memcpy(buf + o, p, n);
			o += n;
		}
		w += cw;
		p += n;
	}
	if (total > width && limit >= 0 && o + elen < size) {
		memcpy(buf + o, ellipsis, elen);
		o += elen;
	}
	buf[o] = 0;
}

/* --- CSV --- */

void csv_field(FILE *f, int first, const char *s)
{
	if (!first)
		fputc(',', f);
	if (s == NULL)
		return;
	if (strpbrk(s, ",\"\r\n") == NULL && s[0] != ' ' && s[0] != 0 && s[strlen(s) - 1] != ' ') {
		fputs(s, f);
		return;
	}
	if (s[0] == 0)
		return;
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

void csv_json(FILE *f, int first, const cJSON *v)
{
	char *text;

	if (v == NULL || cJSON_IsNull(v)) {
		csv_field(f, first, NULL);
		return;
	}
	if (cJSON_IsString(v)) {
		csv_field(f, first, v->valuestring);
		return;
	}
	if (cJSON_IsArray(v)) {
		size_t len = 1, o = 0;
		const cJSON *e;
		char *joined;

		cJSON_ArrayForEach(e, v)
		{
			len += (cJSON_IsString(e) ? strlen(e->valuestring) : 32) + 1;
		}
		joined = malloc(len);
		if (joined == NULL) {
			csv_field(f, first, NULL);
			return;
		}
		joined[0] = 0;
		cJSON_ArrayForEach(e, v)
		{
			char num[32] = "";
			const char *s = num;

			if (cJSON_IsString(e))
				s = e->valuestring;
			else if (cJSON_IsNumber(e))
				snprintf(num, sizeof(num), "%.15g", e->valuedouble);
			o += (size_t)snprintf(joined + o, len - o, "%s%s", o ? ";" : "", s);
		}
		csv_field(f, first, joined);
		free(joined);
		return;
	}
	text = cJSON_PrintUnformatted(v);
	csv_field(f, first, text);
	cJSON_free(text);
}

void csv_header(FILE *f, const char *const *names)
{
	size_t i;

	for (i = 0; names[i] != NULL; i++)
		csv_field(f, i == 0, names[i]);
	csv_end(f);
}

void csv_end(FILE *f)
{
	fputc('\n', f);
}

void csv_objects(FILE *f, const char *const *names, const cJSON *list)
{
	const cJSON *o;

	csv_header(f, names);
	cJSON_ArrayForEach(o, list)
	{
		for (const char *const *name = names; *name != NULL; name++)
			csv_json(f, name == names, cJSON_GetObjectItemCaseSensitive(o, *name));
		csv_end(f);
	}
}

/* --- values --- */

void fmt_mib(char *buf, size_t size, double bytes)
{
	snprintf(buf, size, "%.1f", bytes / (1024.0 * 1024.0));
}

void fmt_reltime(char *buf, size_t size, time_t t, time_t now)
{
	long long d = (long long)now - (long long)t;
	long long a = d < 0 ? -d : d;
	const char *pre = d < 0 ? "in " : "", *post = d < 0 ? "" : " ago";

	if (a < 5) {
		snprintf(buf, size, "just now");
	} else if (a < 60) {
		snprintf(buf, size, "%s%lld s%s", pre, a, post);
	} else if (a < 3600) {
		snprintf(buf, size, "%s%lld min%s", pre, a / 60, post);
	} else if (a < 48 * 3600) {
		snprintf(buf, size, "%s%lld h%s", pre, a / 3600, post);
	} else if (a < 60LL * 86400) {
		snprintf(buf, size, "%s%lld days%s", pre, a / 86400, post);
	} else {
		struct tm tm;

		if (gmtime_r(&t, &tm) == NULL)
			snprintf(buf, size, "-");
		else
			strftime(buf, size, "%Y-%m-%d", &tm);
	}
}

void fmt_reltime_str(char *buf, size_t size, const char *s, time_t now)
{
	time_t t;

	if (s == NULL || timeparse_iso(s, &t) < 0) {
		snprintf(buf, size, "-");
		return;
	}
	fmt_reltime(buf, size, t, now);
}

void fmt_os(char *buf, size_t size, const char *os_version, const char *build)
{
	if (os_version != NULL && build != NULL)
		snprintf(buf, size, "%s (%s)", os_version, build);
	else if (os_version != NULL || build != NULL)
		snprintf(buf, size, "%s", os_version != NULL ? os_version : build);
	else
		snprintf(buf, size, "-");
}

/* --- JSON fields --- */

const char *jstr(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

const char *jstr_or(const cJSON *o, const char *key, const char *fallback)
{
	const char *s = jstr(o, key);

	return s != NULL ? s : fallback;
}

int jnum(const cJSON *o, const char *key, double *out)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	if (!cJSON_IsNumber(v))
		return -1;
	*out = v->valuedouble;
	return 0;
}

void fmt_jnum(char *buf, size_t size, const cJSON *o, const char *key)
{
	double v;

	if (jnum(o, key, &v) < 0)
		snprintf(buf, size, "-");
	else
		snprintf(buf, size, "%.15g", v);
}

void fmt_jmib(char *buf, size_t size, const cJSON *o, const char *key)
{
	double v;

	if (jnum(o, key, &v) < 0)
		snprintf(buf, size, "-");
	else
		fmt_mib(buf, size, v);
}

int json_print(const cJSON *v)
{
	char *text = cJSON_PrintUnformatted(v);

	if (text == NULL) {
		ctl_error("out of memory");
		return CTL_EXIT_ERROR;
	}
	puts(text);
	cJSON_free(text);
	if (fflush(stdout) != 0) {
		ctl_error("cannot write output: %s", strerror(errno));
		return CTL_EXIT_ERROR;
	}
	return CTL_EXIT_OK;
}
