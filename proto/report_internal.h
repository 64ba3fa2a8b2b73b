/* report_internal.h: helpers shared by the report parser's files (not part of the API) */
#ifndef JETSAMD_PROTO_REPORT_INTERNAL_H
#define JETSAMD_PROTO_REPORT_INTERNAL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "report.h"

/* Facts read from the one-line .ips header (all may be NULL). */
struct report_header {
	char *bug_type;
	char *timestamp;
	char *os_version;
	char *incident;
	char *app_name;	  /* bug_type 309 crashes */
	char *slice_uuid; /* bug_type 309 crashes */
	char *bundle_id;  /* bug_type 309 crashes: "bundleID" */
};

/* The members of a JSON report body that select and fill its layout (first occurrence wins). */
struct body_fields {
	const cJSON *processes, *memory, *exception, *product, *model_code, *incident, *date;
	const cJSON *capture_time, *build, *os_version, *kernel, *largest, *bug_type, *roots;
	const cJSON *csm, *page_size, *proc_name, *pid, *proc_role, *bundle_info;
};

/* Character classes of the JSON layouts and the header line (space includes '\n'). */
static inline int report_is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

static inline int report_is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static inline const char *report_skip_ws(const char *p, const char *end)
{
	while (p < end && report_is_space(*p))
		p++;
	return p;
}

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

/* Drop every event of r (an error or skip never keeps a partial list). */
void report_drop_events(struct report *r);

/* JSON value helpers (report_util.c). report_cjson_int: an integral number, else REPORT_NULL.
 * report_cjson_str: *dst = a clean copy of a string value, kept when already set (0 or
 * -ENOMEM). report_cjson_take: when it has key, set *slot (if unset) and return 1. */
int64_t report_cjson_int(const cJSON *it);
int report_cjson_str(const cJSON *it, char **dst);
int report_cjson_key_is(const cJSON *it, const char *key);
int report_cjson_take(const cJSON *it, const char *key, const cJSON **slot);

/* *dst = a copy of the clean string s when *dst is unset and s is not NULL: 0 or -ENOMEM. */
int report_dup_if_unset(char **dst, const char *s);

/* Facts the body gives first, completed from the header (OS, time): 0 or -ENOMEM. */
int report_facts_after_body(struct report *r, const struct report_header *h);

/* Nesting check run before cJSON: the offset of the first '{' or '[' that opens level
 * max + 1 (outside strings), or -1; *open is 2 when the text ends inside a string, 1 when
 * inside an unclosed bracket, else 0. */
int64_t report_depth_exceeded(const char *p, size_t n, int max, int *open);

/* JSON layouts: JetsamEvent (report_jetsam.c, J1-J4) and the EXC_RESOURCE memory crash
 * (report_exc.c). root is the body object, b its selected members. 0 (outcome in r) or
 * -ENOMEM. */
int report_jetsam_from_json(struct report *r, const struct report_header *h, const cJSON *root,
			    const struct body_fields *b);
int report_exc_from_json(struct report *r, const struct report_header *h,
			 const struct body_fields *b);

/* Text layouts (report_text.c): LowMemory T1-T4 and EXC_RESOURCE crash text. buf[0..len)
 * is the text body, base its offset in the whole input. Returns 0 (outcome in r) or
 * -ENOMEM. */
int report_text_parse(struct report *r, const struct report_header *h, const char *buf, size_t len,
		      size_t base);

#endif
