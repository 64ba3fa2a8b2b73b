/* report_internal.h: helpers shared by the report parser's files (not part of the API) */
#ifndef JETSAMD_PROTO_REPORT_INTERNAL_H
#define JETSAMD_PROTO_REPORT_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "report.h"

/* Facts read from the one-line .ips header (all may be NULL). */
struct report_header {
	char *bug_type;
	char *timestamp;
	char *os_version;
	char *incident;
	char *app_name;	  /* bug_type 309 crashes */
	char *slice_uuid; /* bug_type 309 crashes */
};

/* Copy n bytes into a new NUL-terminated string that is valid UTF-8: invalid sequences and
 * NUL bytes become U+FFFD. Returns NULL only when out of memory. */
char *report_strdup_clean(const char *s, size_t n);

/* Record an error (status REPORT_ERROR) or a skip (REPORT_SKIPPED) with a printf message. */
int report_fail(struct report *r, int64_t offset, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int report_skip(struct report *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Append a zeroed event (integers REPORT_NULL, role background); NULL when out of memory. */
struct report_event *report_event_add(struct report *r);
/* Append a state string to an event: 0 or -ENOMEM. */
int report_event_add_state(struct report_event *ev, const char *s, size_t n);
/* Role from the event's states; footprint/limit from rpages, page size and reason. */
void report_event_finish(struct report_event *ev, int64_t page_size);

/* Split "iPhone OS 15.5 (19F77)" into r->os_name, r->os_version, r->build (only those still
 * NULL). 0 or -ENOMEM. */
int report_split_os(struct report *r, const char *s, size_t n);

/* "2020-10-15 17:29:58.00 +0100" -> UTC seconds, REPORT_NULL when unparsable. */
int64_t report_time_parse(const char *s, size_t n);

/* Read the decimal integer at s[0..n) (optional leading '-'), fully consumed: 0 or -EINVAL. */
int report_int_parse(const char *s, size_t n, int64_t *out);

/* "... (Limit 2048 MB) ..." or "limit=2048 MB": the limit in bytes, REPORT_NULL when absent. */
int64_t report_limit_from_message(const char *s, size_t n);

/* Nesting check run before cJSON: the offset of the first '{' or '[' that opens level
 * max + 1 (outside strings), or -1; *open is 2 when the text ends inside a string, 1 when
 * inside an unclosed bracket, else 0. */
int64_t report_depth_exceeded(const char *p, size_t n, int max, int *open);

/* Text layouts (report_text.c): LowMemory T1-T4 and EXC_RESOURCE crash text. buf[0..len)
 * is the text body, base its offset in the whole input. Returns 0 (outcome in r) or
 * -ENOMEM. */
int report_text_parse(struct report *r, const struct report_header *h, const char *buf, size_t len,
		      size_t base);

#endif
