/* report.h: pure parser of iOS memory-kill reports (JetsamEvent, LowMemory, EXC_RESOURCE) */
#ifndef JETSAMD_PROTO_REPORT_H
#define JETSAMD_PROTO_REPORT_H

#include <stddef.h>
#include <stdint.h>

/*
 * DESIGN
 * The parser turns the bytes of one report file into a struct report. It does no I/O,
 * keeps no global state and never includes uv.h: jetsamd, jetsamctl, the tests and the
 * fuzz target all link it. The layouts are in REPORT-SCHEMA.md.
 *
 * report_parse() returns 0 and sets *out for every input, good or bad: the outcome is in
 * (*out)->status. It returns a negative errno only when it cannot allocate the result
 * (-ENOMEM) or the arguments are wrong (-EINVAL). A report with status REPORT_ERROR has
 * no events (never a partial event list presented as whole); text layouts that are cut
 * short keep the events of the complete lines they hold, and say so in `truncated`.
 *
 * Integer fields that a report may lack hold REPORT_NULL. Strings a report lacks are NULL.
 * Everything hangs off the struct report and is freed by report_free().
 */

#define REPORT_NULL		 INT64_MIN
#define REPORT_DEFAULT_MAX_SIZE	 (16u * 1024u * 1024u)
#define REPORT_DEFAULT_MAX_DEPTH 32

enum report_status {
	REPORT_OK,	/* a memory report, parsed whole */
	REPORT_SKIPPED, /* not a memory report (an ordinary crash, a panic, ...) */
	REPORT_ERROR,	/* a memory report that cannot be read: see error, error_offset */
};

enum report_variant {
	REPORT_VARIANT_UNKNOWN,
	REPORT_VARIANT_T1,	 /* LowMemory text, iOS 5 */
	REPORT_VARIANT_T2,	 /* LowMemory text, iOS 6 */
	REPORT_VARIANT_T3,	 /* LowMemory text, iOS 7 */
	REPORT_VARIANT_T4,	 /* LowMemory text, iOS 8 (Page Size: line) */
	REPORT_VARIANT_J1,	 /* JSON, iOS 9-10 */
	REPORT_VARIANT_J2,	 /* JSON, iOS 11-14 */
	REPORT_VARIANT_J3,	 /* JSON, iOS 15-16 */
	REPORT_VARIANT_J4,	 /* JSON, iOS 17-18 */
	REPORT_VARIANT_EXC_TEXT, /* text crash report, EXC_RESOURCE / MEMORY */
	REPORT_VARIANT_EXC_JSON, /* JSON .ips crash report, EXC_RESOURCE / MEMORY */
};

enum report_role {
	REPORT_ROLE_FOREGROUND, /* states has frontmost */
	REPORT_ROLE_DAEMON,	/* else states has daemon */
	REPORT_ROLE_BACKGROUND, /* otherwise */
};

struct report_event {
	char *process;	 /* name as written (may be truncated by the OS) */
	char *bundle_id; /* EXC_RESOURCE: the app's bundle id when the report states one */
	int64_t pid;
	char *uuid;   /* lower-case, dashed when the report dashes it */
	char *reason; /* as written, without brackets: "per-process-limit", "vm", "jettisoned",
			 "exc-resource-memory" */
	enum report_role role;
	char **states; /* as written, without parentheses */
	size_t n_states;
	int64_t priority;
	int64_t rpages;
	int64_t page_size;	 /* the report's page size, REPORT_NULL when it has none */
	int64_t footprint_bytes; /* rpages * page_size, REPORT_NULL when either is unknown */
	int64_t limit_bytes; /* footprint_bytes for per-process-limit, EXC_RESOURCE limit=N MB, else
				REPORT_NULL */
	int64_t lifetime_max_pages; /* lifetimeMax / lifetime_max */
};

struct report_memory_status {
	int64_t free, active, inactive, speculative, throttled, wired, purgeable;
	int64_t file_backed, anonymous;
	int64_t compressor_size, uncompressed, compressions, decompressions;
	int64_t zone_map_cap, zone_map_size, largest_zone_size;
	char *largest_zone;
};

struct report {
	enum report_status status;
	char *error; /* REPORT_ERROR (and SKIPPED): what is wrong, lower-case, no full stop */
	int64_t error_offset; /* byte offset of the problem, REPORT_NULL when none applies */
	int truncated;	      /* text layout cut short: events are those of the complete lines */
	enum report_variant variant;

	char *bug_type;		 /* as written: "298", "198", "309"; NULL for plain text */
	char *incident;		 /* incident_id / incident / Incident Identifier */
	char *timestamp;	 /* as written, e.g. "2020-10-15 17:29:58.00 +0100" */
	int64_t timestamp_epoch; /* UTC seconds since the epoch, REPORT_NULL if unparsable */
	char *product;		 /* "iPhone13,2" */
	char *os_name;		 /* "iPhone OS" */
	char *os_version;	 /* "15.5" */
	char *build;		 /* "19F77" */
	char *kernel;
	int64_t page_size;
	char *largest_process;
	struct report_memory_status memory;

	struct report_event *events; /* kill events, in file order */
	size_t n_events;
};

struct report_opts {
	size_t max_size; /* 0 = REPORT_DEFAULT_MAX_SIZE; larger input is a REPORT_ERROR */
	int max_depth;	 /* 0 = REPORT_DEFAULT_MAX_DEPTH; deeper JSON is a REPORT_ERROR */
};

/* Parse len bytes at buf (need not be NUL-terminated). opts may be NULL. */
int report_parse(const void *buf, size_t len, const struct report_opts *opts, struct report **out);
void report_free(struct report *r); /* NULL is a no-op */
/*
 * Install cJSON hooks (process-wide, once, before any thread uses cJSON) under which the
 * JSON trees of report_parse come from a per-thread bump arena (proto/arena.h) and all
 * other cJSON memory from malloc. report_parse frees its trees before it returns and keeps
 * no pointer into them, so the arena rewinds after each report.
 */
void report_use_arena(void);
/* Keep the first n events of r (free the others); nothing when it has n or fewer. */
void report_keep_events(struct report *r, size_t n);

const char *report_status_name(enum report_status s); /* "ok", "skipped", "error" */
const char *
report_variant_name(enum report_variant v); /* "T1".."J4", "exc-text", "exc-json", "unknown" */
const char *report_role_name(enum report_role r); /* "foreground", "daemon", "background" */
int report_role_from_name(const char *name, enum report_role *out); /* 0 or -EINVAL */

#endif
