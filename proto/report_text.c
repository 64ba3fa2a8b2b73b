/* report_text.c: the text layouts: LowMemory reports T1-T4 (iOS 5-8), EXC_RESOURCE crash text */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_internal.h"

struct line {
	const char *p;
	size_t n;
	size_t off; /* offset of p in the whole input */
};

struct text_state {
	struct report *r;
	const struct report_header *h;
	/* crash text */
	struct line exc_type, exc_subtype, exc_message, exc_note, process, role, binary;
	struct line identifier; /* crash text: "Identifier:" (a bundle id, or a name) */
	int saw_binary_images;
	/* LowMemory */
	int lowmem_marks, saw_incident;
	enum report_variant columns;
	int in_table, ended, bad_lines;
	size_t table_off;
};

static int is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v';
}

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static int is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static struct line trim(struct line l)
{
	while (l.n > 0 && is_space(l.p[0])) {
		l.p++;
		l.n--;
		l.off++;
	}
	while (l.n > 0 && is_space(l.p[l.n - 1]))
		l.n--;
	return l;
}

static int line_is(struct line l, const char *s)
{
	size_t n = strlen(s);

	return l.n == n && memcmp(l.p, s, n) == 0;
}

static int line_starts(struct line l, const char *s)
{
	size_t n = strlen(s);

	return l.n >= n && memcmp(l.p, s, n) == 0;
}

static int set_str(char **dst, struct line v)
{
	if (*dst != NULL || v.n == 0)
		return 0;
	*dst = report_strdup_clean(v.p, v.n);
	return *dst == NULL ? -ENOMEM : 0;
}

static void set_int(int64_t *dst, struct line v)
{
	int64_t x;

	if (*dst == REPORT_NULL && report_int_parse(v.p, v.n, &x) == 0)
		*dst = x;
}

/* "Key: value" header lines, first occurrence wins. */
static int header_line(struct text_state *st, struct line key, struct line v)
{
	struct report *r = st->r;
	struct report_memory_status *m = &r->memory;
	static const struct {
		const char *key;
		size_t field;
	} counters[] = {
		{"Free pages", offsetof(struct report_memory_status, free)},
		{"Active pages", offsetof(struct report_memory_status, active)},
		{"Inactive pages", offsetof(struct report_memory_status, inactive)},
		{"Speculative pages", offsetof(struct report_memory_status, speculative)},
		{"Throttled pages", offsetof(struct report_memory_status, throttled)},
		{"Purgeable pages", offsetof(struct report_memory_status, purgeable)},
		{"Wired pages", offsetof(struct report_memory_status, wired)},
		{"File-backed pages", offsetof(struct report_memory_status, file_backed)},
		{"Anonymous pages", offsetof(struct report_memory_status, anonymous)},
		{"Compressions", offsetof(struct report_memory_status, compressions)},
		{"Decompressions", offsetof(struct report_memory_status, decompressions)},
		{"Compressor Size", offsetof(struct report_memory_status, compressor_size)},
		{"Uncompressed Pages in Compressor",
		 offsetof(struct report_memory_status, uncompressed)},
	};

	for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
		if (line_is(key, counters[i].key)) {
			set_int((int64_t *)(void *)((char *)m + counters[i].field), v);
			st->lowmem_marks++;
			return 0;
		}
	}
	if (line_is(key, "Incident Identifier")) {
		st->saw_incident = 1;
		return set_str(&r->incident, v);
	}
	if (line_is(key, "Hardware Model"))
		return set_str(&r->product, v);
	if (line_is(key, "OS Version"))
		return r->os_version == NULL && r->build == NULL ? report_split_os(r, v.p, v.n) : 0;
	if (line_is(key, "Kernel Version"))
		return set_str(&r->kernel, v);
	if (line_is(key, "Date") || line_is(key, "Date/Time"))
		return set_str(&r->timestamp, v);
	if (line_is(key, "Page Size")) {
		set_int(&r->page_size, v);
		if (r->page_size != REPORT_NULL && r->page_size <= 0)
			r->page_size = REPORT_NULL;
		return 0;
	}
	if (line_is(key, "Largest process")) {
		st->lowmem_marks++;
		return set_str(&r->largest_process, v);
	}
	if (line_is(key, "Time since snapshot")) {
		st->lowmem_marks++;
		return 0;
	}
	if (line_is(key, "Exception Type") && st->exc_type.p == NULL)
		st->exc_type = v;
	else if (line_is(key, "Exception Subtype") && st->exc_subtype.p == NULL)
		st->exc_subtype = v;
	else if (line_is(key, "Exception Message") && st->exc_message.p == NULL)
		st->exc_message = v;
	else if (line_is(key, "Exception Note") && st->exc_note.p == NULL)
		st->exc_note = v;
	else if (line_is(key, "Process") && st->process.p == NULL)
		st->process = v;
	else if (line_is(key, "Role") && st->role.p == NULL)
		st->role = v;
	else if (line_is(key, "Identifier") && st->identifier.p == NULL)
		st->identifier = v;
	return 0;
}

static enum report_variant columns_variant(struct line l)
{
	int bar = memchr(l.p, '|', l.n) != NULL;
	int rpages = 0, fds = 0, count = 0;

	for (size_t i = 0; i + 3 <= l.n; i++) {
		if (i + 6 <= l.n && memcmp(l.p + i, "rpages", 6) == 0)
			rpages = 1;
		if (memcmp(l.p + i, "fds", 3) == 0)
			fds = 1;
		if (i + 5 <= l.n && memcmp(l.p + i, "Count", 5) == 0)
			count = 1;
	}
	if (!line_starts(l, "Name"))
		return REPORT_VARIANT_UNKNOWN;
	if (bar && rpages)
		return REPORT_VARIANT_T4;
	if (count && !rpages)
		return REPORT_VARIANT_T1;
	if (rpages && fds)
		return REPORT_VARIANT_T3;
	if (rpages)
		return REPORT_VARIANT_T2;
	return REPORT_VARIANT_UNKNOWN;
}

/* Next token of a process row: whitespace and '|' separate. */
static int next_token(const char **p, const char *end, struct line *tok)
{
	while (*p < end && (is_space(**p) || **p == '|'))
		(*p)++;
	if (*p >= end)
		return 0;
	tok->p = *p;
	while (*p < end && !is_space(**p) && **p != '|')
		(*p)++;
	tok->n = (size_t)(*p - tok->p);
	return 1;
}

/* Find "<32 hex>" in l: its position or NULL. */
static const char *find_uuid(struct line l)
{
	for (size_t i = 0; i + 34 <= l.n; i++) {
		size_t k;

		if (l.p[i] != '<' || l.p[i + 33] != '>')
			continue;
		for (k = 1; k <= 32; k++)
			if (!is_hex(l.p[i + k]))
				break;
		if (k == 33)
			return l.p + i;
	}
	return NULL;
}

/* One process row. Returns 1 when the row is well formed (and adds an event when it carries a
 * reason), 0 when it is not a row, -ENOMEM. */
static int process_row(struct text_state *st, struct line l)
{
	static const int numbers[] = {
		[REPORT_VARIANT_T1] = 1, /* resident pages */
		[REPORT_VARIANT_T2] = 2, /* rpages recent_max */
		[REPORT_VARIANT_T3] = 3, /* rpages recent_max fds */
		[REPORT_VARIANT_T4] = 6, /* cpu rpages purgeable recent_max lifetime_max fds */
	};
	const char *uuid = find_uuid(l), *p, *end = l.p + l.n;
	struct line name, tok, reason = {0}, states[16];
	int64_t vals[6];
	size_t n_states = 0;
	int want = numbers[st->columns], got = 0, jettisoned = 0;
	struct report_event *ev;
	int rc;

	if (uuid == NULL)
		return 0;
	name = trim((struct line){l.p, (size_t)(uuid - l.p), l.off});
	while (name.n > 0 && (name.p[name.n - 1] == '|' || is_space(name.p[name.n - 1])))
		name.n--;
	if (name.n == 0)
		return 0;
	p = uuid + 34;
	while (got < want && next_token(&p, end, &tok)) {
		int64_t v = REPORT_NULL;

		if (st->columns == REPORT_VARIANT_T4 && got == 0) {
			/* CPU time, a decimal */
			for (size_t i = 0; i < tok.n; i++)
				if (!is_digit(tok.p[i]) && tok.p[i] != '.')
					return 0;
		} else if (tok.n == 1 && tok.p[0] == '-') {
			v = REPORT_NULL; /* recent_max may print as '-' */
		} else if (report_int_parse(tok.p, tok.n, &v) != 0) {
			return 0;
		}
		vals[got++] = v;
	}
	if (got < want)
		return 0;
	while (next_token(&p, end, &tok)) {
		if (tok.n >= 2 && tok.p[0] == '[' && tok.p[tok.n - 1] == ']' && reason.p == NULL &&
		    n_states == 0) {
			reason = (struct line){tok.p + 1, tok.n - 2, 0};
		} else if (tok.n >= 2 && tok.p[0] == '(' && tok.p[tok.n - 1] == ')') {
			if (n_states == sizeof(states) / sizeof(states[0]))
				return 0;
			states[n_states++] = (struct line){tok.p + 1, tok.n - 2, 0};
			if (line_is(states[n_states - 1], "jettisoned"))
				jettisoned = 1;
		} else {
			return 0;
		}
	}
	if (reason.p == NULL && !jettisoned)
		return 1;
	ev = report_event_add(st->r);
	if (ev == NULL)
		return -ENOMEM;
	if ((rc = set_str(&ev->process, name)) != 0)
		return rc;
	ev->uuid = report_strdup_clean(uuid + 1, 32);
	if (ev->uuid == NULL)
		return -ENOMEM;
	for (char *c = ev->uuid; *c != '\0'; c++)
		if (*c >= 'A' && *c <= 'F')
			*c = (char)(*c - 'A' + 'a');
	if (reason.p != NULL)
		ev->reason = report_strdup_clean(reason.p, reason.n);
	else
		ev->reason = strdup("jettisoned");
	if (ev->reason == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < n_states; i++)
		if ((rc = report_event_add_state(ev, states[i].p, states[i].n)) != 0)
			return rc;
	switch (st->columns) {
	case REPORT_VARIANT_T4:
		ev->rpages = vals[1];
		ev->lifetime_max_pages = vals[4];
		break;
	default:
		ev->rpages = vals[0]; /* recent_max is a recent peak, not lifetime_max */
		break;
	}
	report_event_finish(ev, st->r->page_size);
	return 1;
}

/* ev->bundle_id from the "Identifier:" line when it is one (dotted, no space: extensions and
 * daemons may name themselves there), else from the .ips header */
static int crash_bundle_id(const struct text_state *st, struct report_event *ev)
{
	struct line id = trim(st->identifier);
	int dotted = 0;

	for (size_t i = 0; id.p != NULL && i < id.n; i++) {
		if (report_is_space(id.p[i]))
			return report_dup_if_unset(&ev->bundle_id, st->h->bundle_id);
		dotted |= id.p[i] == '.';
	}
	if (id.p != NULL && dotted && id.n > 0) {
		int rc = set_str(&ev->bundle_id, id);

		if (rc != 0)
			return rc;
	}
	return report_dup_if_unset(&ev->bundle_id, st->h->bundle_id);
}

static int crash_text(struct text_state *st)
{
	struct report *r = st->r;
	struct report_event *ev;
	struct line t = st->exc_type, sub = st->exc_subtype;
	int rc;

	r->variant = REPORT_VARIANT_EXC_TEXT;
	if (!line_starts(t, "EXC_RESOURCE") || !line_starts(sub, "MEMORY")) {
		char what[64];
		size_t n = t.n < 40 ? t.n : 40;
		char *clean = report_strdup_clean(t.p, n);

		if (clean == NULL)
			return -ENOMEM;
		snprintf(what, sizeof(what), "%s", clean);
		free(clean);
		return report_skip(r, "not a memory report: '%s' crash", what);
	}
	if (st->exc_message.p != NULL &&
	    memmem(st->exc_message.p, st->exc_message.n, "Threshold", 9) != NULL &&
	    memmem(st->exc_message.p, st->exc_message.n, "Diagnostic", 10) != NULL)
		return report_skip(r, "memory diagnostic report, not a limit violation");
	ev = report_event_add(r);
	if (ev == NULL)
		return -ENOMEM;
	ev->reason = strdup("exc-resource-memory");
	if (ev->reason == NULL)
		return -ENOMEM;
	if (st->process.p != NULL) {
		/* "Process: NAME [PID]" */
		struct line pr = st->process, name = pr;
		const char *open = NULL;

		if (pr.n > 0 && pr.p[pr.n - 1] == ']') {
			for (size_t i = pr.n - 1; i > 0; i--) {
				if (pr.p[i - 1] == '[') {
					open = pr.p + i - 1;
					break;
				}
			}
		}
		if (open != NULL) {
			int64_t pid;

			name = trim((struct line){pr.p, (size_t)(open - pr.p), pr.off});
			if (report_int_parse(open + 1, (size_t)(pr.p + pr.n - 1 - (open + 1)),
					     &pid) == 0)
				ev->pid = pid;
		}
		if ((rc = set_str(&ev->process, name)) != 0)
			return rc;
	} else if (st->h->app_name != NULL) {
		ev->process = strdup(st->h->app_name);
		if (ev->process == NULL)
			return -ENOMEM;
	}
	if (st->binary.p != NULL) {
		const char *u = find_uuid(st->binary);

		if (u != NULL) {
			ev->uuid = report_strdup_clean(u + 1, 32);
			if (ev->uuid == NULL)
				return -ENOMEM;
			for (char *c = ev->uuid; *c != '\0'; c++)
				if (*c >= 'A' && *c <= 'F')
					*c = (char)(*c - 'A' + 'a');
		}
	}
	if (ev->uuid == NULL && st->h->slice_uuid != NULL) {
		ev->uuid = strdup(st->h->slice_uuid);
		if (ev->uuid == NULL)
			return -ENOMEM;
	}
	if (st->role.p != NULL && (rc = report_event_add_state(ev, st->role.p, st->role.n)) != 0)
		return rc;
	report_event_finish(ev, r->page_size);
	if (line_is(st->role, "Foreground"))
		ev->role = REPORT_ROLE_FOREGROUND;
	ev->limit_bytes = report_limit_from_message(sub.p, sub.n);
	if (ev->limit_bytes == REPORT_NULL && st->exc_message.p != NULL)
		ev->limit_bytes = report_limit_from_message(st->exc_message.p, st->exc_message.n);
	if (ev->limit_bytes == REPORT_NULL && st->exc_note.p != NULL)
		ev->limit_bytes = report_limit_from_message(st->exc_note.p, st->exc_note.n);
	if ((rc = crash_bundle_id(st, ev)) != 0)
		return rc;
	r->status = REPORT_OK;
	return 0;
}

int report_text_parse(struct report *r, const struct report_header *h, const char *buf, size_t len,
		      size_t base)
{
	struct text_state st = {.r = r, .h = h, .columns = REPORT_VARIANT_UNKNOWN};
	const char *p = buf, *end = buf + len;
	int want_columns = 0, rc;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		struct line l = {p, (size_t)((nl ? nl : end) - p), base + (size_t)(p - buf)};
		const char *colon;

		p = nl ? nl + 1 : end;
		l = trim(l);
		if (l.n == 0)
			continue;
		if (st.in_table) {
			if (line_starts(l, "**End**")) {
				st.ended = 1;
				break;
			}
			rc = process_row(&st, l);
			if (rc < 0)
				return rc;
			if (rc == 0)
				st.bad_lines++; /* an elision ("...") or a cut line */
			continue;
		}
		if (want_columns) {
			st.columns = columns_variant(l);
			if (st.columns == REPORT_VARIANT_UNKNOWN)
				return report_fail(r, (int64_t)l.off,
						   "unknown lowmemory process table header");
			st.in_table = 1;
			st.table_off = l.off;
			continue;
		}
		if (line_is(l, "Processes")) {
			want_columns = 1;
			st.lowmem_marks++;
			continue;
		}
		if (line_is(l, "Binary Images:")) {
			st.saw_binary_images = 1;
			continue;
		}
		if (st.saw_binary_images && st.binary.p == NULL) {
			st.binary = l;
			continue;
		}
		colon = memchr(l.p, ':', l.n);
		if (colon != NULL) {
			struct line key = trim((struct line){l.p, (size_t)(colon - l.p), l.off});
			struct line v =
				trim((struct line){colon + 1, (size_t)(l.p + l.n - colon - 1),
						   l.off + (size_t)(colon + 1 - l.p)});

			if ((rc = header_line(&st, key, v)) != 0)
				return rc;
		}
	}
	if (r->timestamp != NULL)
		r->timestamp_epoch = report_time_parse(r->timestamp, strlen(r->timestamp));
	if (st.exc_type.p != NULL && !st.in_table)
		return crash_text(&st);
	if (st.in_table) {
		r->variant = st.columns;
		r->truncated = !st.ended || st.bad_lines > 0;
		r->status = REPORT_OK;
		return 0;
	}
	if (st.lowmem_marks > 0 || want_columns)
		return report_fail(r, (int64_t)(base + len),
				   "lowmemory report ends before its process table");
	if (st.saw_incident || (h->bug_type != NULL && (strcmp(h->bug_type, "298") == 0 ||
							strcmp(h->bug_type, "198") == 0)))
		return report_fail(r, (int64_t)(base + len),
				   "report ends before its kind can be told");
	return report_skip(r, "not a memory report: unrecognised text");
}
