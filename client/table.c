/* table.c: jetsamctl's tables: cells, column widths fitted to the terminal, printing */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "output.h"

#define TABLE_GAP 2
/* A cell's alt text replaces an ellipsized text only when the column is narrower than this many
 * columns more than the alt: "iPhone13,2 (iPh…" says less than "iPhone13,2" */
#define TABLE_ALT_MARGIN 8

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
	if (t->cols[i].min == TABLE_WHOLE) /* never cut: the alt texts, however wide the column */
		return maxalt > 0 && maxalt <= w;
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

/* Width of whole column i when every cell with an alt text shows it */
static int whole_alt_width(const struct table *t, size_t i)
{
	size_t rows = table_rows(t), r;
	int max = text_width(t->cols[i].header);

	for (r = 0; r < rows; r++) {
		const struct table_cell *cell = &t->cells[r * t->ncols + i];
		int w = cell->alt != NULL ? text_width(cell->alt) : cell->width;

		if (w > max)
			max = w;
	}
	return max;
}

/* Narrow the first whole column still in full that has alt texts to them: 1 when one was
 * narrowed (every shown column is back at its natural width), else 0 */
static int table_whole_to_alt(const struct table *t, int *natural, int *widths)
{
	size_t i, j;

	for (i = 0; i < t->ncols; i++) {
		int w;

		if (t->cols[i].min != TABLE_WHOLE || widths[i] < 0 ||
		    (w = whole_alt_width(t, i)) >= natural[i])
			continue;
		natural[i] = w;
		for (j = 0; j < t->ncols; j++)
			if (widths[j] >= 0)
				widths[j] = natural[j];
		return 1;
	}
	return 0;
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
		/* Still too wide: whole columns show their alt texts, then try again */
		if (table_whole_to_alt(t, natural, widths))
			continue;
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
