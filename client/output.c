/* output.c: jetsamctl's output helpers: fitted tables, CSV, MiB, relative times, JSON fields */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"
#include "timeparse.h"

#define TABLE_GAP 2
/* A cell's alt text replaces an ellipsized text only when the column is narrower than this many
 * columns more than the alt: "iPhone13,2 (iPh…" says less than "iPhone13,2" */
#define TABLE_ALT_MARGIN 8

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

	fprintf(stderr, "jetsamctl %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(see `jetsamctl %s --help`)\n", cmd);
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

/* Columns taken by code point c (a small wcwidth that does not depend on the locale) */
static int cp_width(long c)
{
	if (c < 0)
		return 1; /* shown as '?' */
	if (c < 0x20 || (c >= 0x7f && c < 0xa0))
		return 1; /* shown as '?' */
	if ((c >= 0x300 && c <= 0x36f) || (c >= 0x200b && c <= 0x200f) ||
	    (c >= 0xfe00 && c <= 0xfe0f) || (c >= 0x20d0 && c <= 0x20ff))
		return 0;
	if ((c >= 0x1100 && c <= 0x115f) || (c >= 0x2e80 && c <= 0xa4cf && c != 0x303f) ||
	    (c >= 0xac00 && c <= 0xd7a3) || (c >= 0xf900 && c <= 0xfaff) ||
	    (c >= 0xfe30 && c <= 0xfe4f) || (c >= 0xff00 && c <= 0xff60) ||
	    (c >= 0xffe0 && c <= 0xffe6) || (c >= 0x1f300 && c <= 0x1f64f) ||
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

/* --- tables --- */

struct table_cell {
	char *text;
	char *alt; /* shorter text shown instead of cutting text, or NULL */
	const char *style;
	int width;
};

struct table {
	struct table_column *cols;
	size_t ncols;
	struct table_cell *cells;
	size_t ncells, cap;
};

struct table *table_new(const struct table_column *cols, size_t ncols)
{
	struct table *t = calloc(1, sizeof(*t));

	if (t == NULL)
		return NULL;
	t->cols = malloc(ncols * sizeof(*cols));
	if (t->cols == NULL) {
		free(t);
		return NULL;
	}
	memcpy(t->cols, cols, ncols * sizeof(*cols));
	t->ncols = ncols;
	return t;
}

void table_free(struct table *t)
{
	size_t i;

	if (t == NULL)
		return;
	for (i = 0; i < t->ncells; i++) {
		free(t->cells[i].text);
		free(t->cells[i].alt);
	}
	free(t->cells);
	free(t->cols);
	free(t);
}

int table_add_alt(struct table *t, const char *text, const char *alt, const char *style)
{
	struct table_cell *cell;

	if (t->ncells == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 64;
		struct table_cell *cells = realloc(t->cells, cap * sizeof(*cells));

		if (cells == NULL)
			return -ENOMEM;
		t->cells = cells;
		t->cap = cap;
	}
	cell = &t->cells[t->ncells];
	cell->text = text_sanitize(text != NULL ? text : "-");
	cell->alt = alt != NULL ? text_sanitize(alt) : NULL;
	if (cell->text == NULL || (alt != NULL && cell->alt == NULL)) {
		free(cell->text);
		free(cell->alt);
		return -ENOMEM;
	}
	cell->style = style;
	cell->width = text_width(cell->text);
	t->ncells++;
	return 0;
}

int table_add(struct table *t, const char *text, const char *style)
{
	return table_add_alt(t, text, NULL, style);
}

int table_addf(struct table *t, const char *style, const char *fmt, ...)
{
	char buf[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	return table_add(t, buf, style);
}

size_t table_rows(const struct table *t)
{
	return t->ncells / t->ncols;
}

/* Width of a line with these column widths */
static int line_width(const int *widths, size_t n)
{
	int total = 0, shown = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		if (widths[i] < 0)
			continue;
		total += widths[i];
		shown++;
	}
	return shown > 0 ? total + (shown - 1) * TABLE_GAP : 0;
}

/*
 * Whether the cut cells of column i at width w show their alt text: when the widest alt of
 * a cut cell fits and the column is less than TABLE_ALT_MARGIN wider (the same choice for the
 * whole column, so that it reads alike)
 */
static int column_uses_alt(const struct table *t, size_t i, int w)
{
	size_t rows = table_rows(t), r;
	int maxalt = 0;

	for (r = 0; r < rows; r++) {
		const struct table_cell *cell = &t->cells[r * t->ncols + i];

		if (cell->width > w && cell->alt != NULL && text_width(cell->alt) > maxalt)
			maxalt = text_width(cell->alt);
	}
	return maxalt > 0 && maxalt <= w && w < maxalt + TABLE_ALT_MARGIN;
}

/* Width that column i really takes at width w: cut cells take w, unless their alt is shown */
static int shown_width(const struct table *t, size_t i, int w)
{
	size_t rows = table_rows(t), r;
	int max = text_width(t->cols[i].header), alt = column_uses_alt(t, i, w);

	for (r = 0; r < rows && max < w; r++) {
		const struct table_cell *cell = &t->cells[r * t->ncols + i];
		int cw = cell->width;

		if (cw > w)
			cw = alt && cell->alt != NULL ? text_width(cell->alt) : w;
		if (cw > max)
			max = cw;
	}
	return max < w ? max : w;
}

/*
 * After shrinking: a column whose cells show their shorter alt text needs less than it got;
 * give that room to the columns that are still cut.
 */
static void table_give_back(const struct table *t, const int *natural, int *widths)
{
	char *gave = calloc(t->ncols, 1);
	int pass, slack;
	size_t i;

	for (pass = 0; gave != NULL && pass < 4; pass++) {
		slack = 0;
		for (i = 0; i < t->ncols; i++) {
			int w;

			if (widths[i] < 0)
				continue;
			w = shown_width(t, i, widths[i]);
			if (w < widths[i])
				gave[i] = 1; /* it never takes room back */
			slack += widths[i] - w;
			widths[i] = w;
		}
		if (slack == 0)
			break;
		while (slack > 0) {
			size_t best = t->ncols;
			int need = 0;

			for (i = 0; i < t->ncols; i++)
				if (widths[i] >= 0 && !gave[i] && natural[i] - widths[i] > need) {
					need = natural[i] - widths[i];
					best = i;
				}
			if (best == t->ncols)
				break;
			widths[best]++;
			slack--;
		}
	}
	free(gave);
}

int table_layout(const struct table *t, int width, int *widths)
{
	size_t rows = table_rows(t), i, r;
	int *natural = calloc(t->ncols, sizeof(int));
	int total;

	if (natural == NULL) {
		for (i = 0; i < t->ncols; i++)
			widths[i] = 0;
		return 0;
	}
	for (i = 0; i < t->ncols; i++) {
		natural[i] = text_width(t->cols[i].header);
		for (r = 0; r < rows; r++) {
			int w = t->cells[r * t->ncols + i].width;

			if (w > natural[i])
				natural[i] = w;
		}
		widths[i] = natural[i];
	}
	for (;;) {
		/* Shrink the shrinkable column with the most room, one column at a time */
		while ((total = line_width(widths, t->ncols)) > width && width > 0) {
			size_t best = t->ncols;
			int room = 0;

			for (i = 0; i < t->ncols; i++) {
				int min = t->cols[i].min;

				if (widths[i] < 0 || min <= 0)
					continue;
				if (widths[i] - min > room) {
					room = widths[i] - min;
					best = i;
				}
			}
			if (best == t->ncols)
				break;
			widths[best]--;
		}
		if (width <= 0 || total <= width)
			break;
		/* Still too wide: drop the column with the highest drop number (rightmost on
		 * ties), give everything else its natural width back, and try again */
		{
			size_t victim = t->ncols;
			int prio = 0;

			for (i = 0; i < t->ncols; i++) {
				if (widths[i] >= 0 && t->cols[i].drop > 0 &&
				    t->cols[i].drop >= prio) {
					prio = t->cols[i].drop;
					victim = i;
				}
			}
			if (victim == t->ncols)
				break; /* nothing left to drop: the line stays too long */
			for (i = 0; i < t->ncols; i++)
				if (widths[i] >= 0)
					widths[i] = natural[i];
			widths[victim] = -1;
		}
	}
	if (width > 0) {
		table_give_back(t, natural, widths);
		/* room left: dropped columns come back, the least droppable first */
		for (;;) {
			size_t back = t->ncols;

			for (i = 0; i < t->ncols; i++)
				if (widths[i] < 0 &&
				    line_width(widths, t->ncols) + TABLE_GAP + natural[i] <=
					    width &&
				    (back == t->ncols || t->cols[i].drop < t->cols[back].drop))
					back = i;
			if (back == t->ncols)
				break;
			widths[back] = natural[back];
		}
	}
	free(natural);
	return line_width(widths, t->ncols);
}

/*
 * Print one cell in a column of width w. Blanks are not written at once but added to
 * *pending, and written only before the next visible text, so lines have no trailing blanks.
 */
static void print_cell(FILE *f, const char *text, int text_w, const char *alt, const char *style,
		       enum table_align align, int w, int *pending, int flags)
{
	const char *ellipsis = (flags & TABLE_ASCII) ? "..." : "\xe2\x80\xa6";
	int ell_w = (flags & TABLE_ASCII) ? 3 : 1;
	char buf[4096];
	int pad;

	if (text_w > w && alt != NULL) {
		text = alt;
		text_w = text_width(alt);
	}
	if (text_w > w) {
		text_fit(buf, sizeof(buf), text, w, ellipsis, ell_w);
		text = buf;
		text_w = text_width(buf);
	}
	pad = w - text_w;
	if (align == TABLE_RIGHT)
		*pending += pad;
	if (*text != 0) {
		fprintf(f, "%*s", *pending, "");
		*pending = 0;
		if (style != NULL && (flags & TABLE_COLOR))
			fprintf(f, "\033[%sm%s\033[0m", style, text);
		else
			fputs(text, f);
	}
	if (align == TABLE_LEFT)
		*pending += pad;
}

int table_print(const struct table *t, FILE *f, int width, int flags)
{
	int *widths = calloc(t->ncols, sizeof(int));
	char *use_alt = calloc(t->ncols, 1);
	size_t rows = table_rows(t), r, i;

	if (widths == NULL || use_alt == NULL) {
		free(widths);
		free(use_alt);
		return -ENOMEM;
	}
	table_layout(t, width, widths);
	for (i = 0; i < t->ncols; i++)
		use_alt[i] = widths[i] >= 0 && column_uses_alt(t, i, widths[i]);
	for (r = 0; r <= rows; r++) {
		int first = 1, pending = 0;

		for (i = 0; i < t->ncols; i++) {
			const struct table_cell *cell;

			if (widths[i] < 0)
				continue;
			if (!first)
				pending += TABLE_GAP;
			first = 0;
			if (r == 0) {
				print_cell(f, t->cols[i].header, text_width(t->cols[i].header),
					   NULL, "1", t->cols[i].align, widths[i], &pending, flags);
				continue;
			}
			cell = &t->cells[(r - 1) * t->ncols + i];
			print_cell(f, cell->text, cell->width, use_alt[i] ? cell->alt : NULL,
				   cell->style, t->cols[i].align, widths[i], &pending, flags);
		}
		fputc('\n', f);
	}
	free(widths);
	free(use_alt);
	return 0;
}

int table_print_ctl(const struct table *t, const struct ctl *ctl)
{
	const char *lang = getenv("LC_ALL");
	int flags = ctl->color ? TABLE_COLOR : 0;

	if (lang == NULL || *lang == 0)
		lang = getenv("LC_CTYPE");
	if (lang == NULL || *lang == 0)
		lang = getenv("LANG");
	if (lang == NULL || (strstr(lang, "UTF-8") == NULL && strstr(lang, "utf8") == NULL &&
			     strstr(lang, "UTF8") == NULL && strstr(lang, "utf-8") == NULL))
		flags |= TABLE_ASCII;
	if (table_print(t, stdout, ctl->width, flags) < 0) {
		ctl_error("out of memory");
		return CTL_EXIT_ERROR;
	}
	return CTL_EXIT_OK;
}

int table_finish(struct table *t, const struct ctl *ctl, const char *empty)
{
	int r = CTL_EXIT_OK;

	if (table_rows(t) == 0)
		puts(empty);
	else
		r = table_print_ctl(t, ctl);
	table_free(t);
	return r;
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
