/* output.h: jetsamctl's output helpers: fitted tables, CSV, MiB, relative times, JSON fields */
#ifndef JETSAMCTL_OUTPUT_H
#define JETSAMCTL_OUTPUT_H

#include <stddef.h>
#include <stdio.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "ctl.h"

/* --- text --- */

/* Display width in terminal columns of UTF-8 text (wide CJK/emoji count 2, combining 0) */
int text_width(const char *s);

/*
 * Copy s into a new string that is safe for a terminal: control characters and invalid UTF-8
 * become '?'. Returns NULL when out of memory.
 */
char *text_sanitize(const char *s);

/*
 * Write s (sanitized) into buf cut to at most width columns; when cut, it ends with
 * ellipsis (which counts as ellipsis_width columns). buf gets at most size-1 bytes.
 */
void text_fit(char *buf, size_t size, const char *s, int width, const char *ellipsis,
	      int ellipsis_width);

/* --- tables (table.c) --- */

enum table_align { TABLE_LEFT, TABLE_RIGHT };

struct table_column {
	const char *header;
	enum table_align align;
	int min;  /* narrowest width when space is short (cells get ellipsized); 0: never shrunk;
		     TABLE_WHOLE: never cut */
	int drop; /* 0: always shown; else dropped when space is short, highest number first */
};

/* min of a column whose cells are never cut: shown in full, or all as their alt text when the
 * table does not fit otherwise (before columns are dropped) */
#define TABLE_WHOLE (-1)

/* Flags of table_print() */
enum {
	TABLE_COLOR = 1, /* bold header, cell styles */
	TABLE_ASCII = 2, /* ellipsize with "..." instead of U+2026 */
};

struct table;

/* A table with ncols columns (cols is copied). Free with table_free. NULL when out of memory. */
struct table *table_new(const struct table_column *cols, size_t ncols);
void table_free(struct table *t);

/*
 * Append the next cell (rows fill left to right). text NULL shows "-". style is an SGR code
 * ("31", "1;33") used with TABLE_COLOR, or NULL. Returns 0 or -ENOMEM.
 */
int table_add(struct table *t, const char *text, const char *style);
/* table_add with a shorter alt text, shown instead of an ellipsized text when the column is
 * too narrow for text and only a little wider than alt ("iPhone13,2" for "iPhone13,2 (iPhone
 * 12)" rather than "iPhone13,2 (iPh…") */
int table_add_alt(struct table *t, const char *text, const char *alt, const char *style);
int table_addf(struct table *t, const char *style, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Number of complete rows */
size_t table_rows(const struct table *t);

/*
 * Choose column widths for a total width of at most width columns (0: unlimited):
 * widths[i] is the width of column i, or -1 when it is dropped. Columns are separated by
 * two spaces. Returns the total width of a line.
 */
int table_layout(const struct table *t, int width, int *widths);

/* Print header and rows fitted to width (0: unlimited); no trailing blanks */
int table_print(const struct table *t, FILE *f, int width, int flags);

/* table_print with the width and flags of ctl */
int table_print_ctl(const struct table *t, const struct ctl *ctl);
/* Print t (or the line empty when it has no rows) and free it; returns a CTL_EXIT code */
int table_finish(struct table *t, const struct ctl *ctl, const char *empty);

/* --- CSV (RFC 4180 quoting, "\n" line ends) --- */

/* Write one field; first is nonzero for the first field of a row. s NULL is empty. */
void csv_field(FILE *f, int first, const char *s);
/* Write a JSON value as a field: strings as is, numbers and booleans as in JSON, null or
 * missing empty, arrays joined with ';', objects as compact JSON */
void csv_json(FILE *f, int first, const cJSON *v);
/* Write the header row from a NULL-terminated list of names */
void csv_header(FILE *f, const char *const *names);
void csv_end(FILE *f);
/* The header row of names, then one row per object of the array list (its members names) */
void csv_objects(FILE *f, const char *const *names, const cJSON *list);

/* --- values --- */

/* bytes as MiB with one decimal, no unit: "1449.0" */
void fmt_mib(char *buf, size_t size, double bytes);

/* t relative to now: "just now", "42 s ago", "3 min ago", "5 h ago", "2 days ago", "in 3
 * min"; beyond 60 days the date "2026-09-01" */
void fmt_reltime(char *buf, size_t size, time_t t, time_t now);

/* A daemon TIME string relative to now, "-" when s is NULL or not a time */
void fmt_reltime_str(char *buf, size_t size, const char *s, time_t now);

/* "15.5 (19F77)", "15.5", "19F77" or "-" */
void fmt_os(char *buf, size_t size, const char *os_version, const char *build);

/* --- JSON fields --- */

/* The string at key, or NULL when missing or not a string */
const char *jstr(const cJSON *o, const char *key);
/* The string at key, or fallback */
const char *jstr_or(const cJSON *o, const char *key, const char *fallback);
/* The number at key into *out; returns 0, or -1 when missing or not a number */
int jnum(const cJSON *o, const char *key, double *out);
/* The number at key as text ("-" when null or missing) */
void fmt_jnum(char *buf, size_t size, const cJSON *o, const char *key);
/* The number of bytes at key as MiB ("-" when null or missing) */
void fmt_jmib(char *buf, size_t size, const cJSON *o, const char *key);

/* Print v as one line of compact JSON on stdout; returns a CTL_EXIT_* code */
int json_print(const cJSON *v);

#endif
