/* writer.c: serialises a generated report the way iOS writes it, plus its truth files */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "gen.h"

/* --- buffer --- */

void gen_buf_release(struct gen_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void gen_buf_reserve(struct gen_buf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->len + more + 1 <= b->cap)
		return;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		fprintf(stderr, "jetsamgen: out of memory\n");
		exit(1);
	}
	b->p = p;
	b->cap = cap;
}

void gen_buf_put(struct gen_buf *b, const char *s, size_t n)
{
	gen_buf_reserve(b, n);
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

void gen_buf_puts(struct gen_buf *b, const char *s)
{
	gen_buf_put(b, s, strlen(s));
}

void gen_buf_putc(struct gen_buf *b, char c)
{
	gen_buf_reserve(b, 1);
	b->p[b->len++] = c;
	b->p[b->len] = '\0';
}

void gen_buf_int(struct gen_buf *b, int64_t v)
{
	char tmp[24];
	int i = sizeof(tmp);
	uint64_t u = v < 0 ? 0 - (uint64_t)v : (uint64_t)v;

	do {
		tmp[--i] = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (v < 0)
		tmp[--i] = '-';
	gen_buf_put(b, tmp + i, sizeof(tmp) - (size_t)i);
}

void gen_buf_printf(struct gen_buf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	gen_buf_reserve(b, (size_t)n);
	va_start(ap, fmt);
	vsnprintf(b->p + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
}

void gen_buf_json_str(struct gen_buf *b, const char *s, bool escape_slash)
{
	gen_buf_putc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		switch (c) {
		case '"':
			gen_buf_put(b, "\\\"", 2);
			break;
		case '\\':
			gen_buf_put(b, "\\\\", 2);
			break;
		case '/':
			if (escape_slash)
				gen_buf_put(b, "\\/", 2);
			else
				gen_buf_putc(b, '/');
			break;
		case '\n':
			gen_buf_put(b, "\\n", 2);
			break;
		case '\r':
			gen_buf_put(b, "\\r", 2);
			break;
		case '\t':
			gen_buf_put(b, "\\t", 2);
			break;
		default:
			if (c < 0x20)
				gen_buf_printf(b, "\\u%04x", c);
			else
				gen_buf_putc(b, (char)c);
		}
	}
	gen_buf_putc(b, '"');
}

int gen_buf_write_file(const struct gen_buf *b, const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	size_t off = 0;

	if (fd < 0)
		return -errno;
	while (off < b->len) {
		ssize_t n = write(fd, b->p + off, b->len - off);

		if (n < 0) {
			int e = errno;

			if (e == EINTR)
				continue;
			close(fd);
			return -e;
		}
		off += (size_t)n;
	}
	if (close(fd) < 0)
		return -errno;
	return 0;
}

/* --- pretty body helpers: NSJSONSerialization layout --- */

static void indent(struct gen_buf *b, int n)
{
	static const char spaces[] = "                ";

	gen_buf_put(b, spaces, (size_t)n);
}

/* starts a member: ",\n" unless first, indentation, "key" : */
static void member(struct gen_buf *b, bool *first, int ind, const char *key)
{
	if (!*first)
		gen_buf_put(b, ",\n", 2);
	*first = false;
	indent(b, ind);
	gen_buf_json_str(b, key, true);
	gen_buf_put(b, " : ", 3);
}

static void member_int(struct gen_buf *b, bool *first, int ind, const char *key, int64_t v)
{
	member(b, first, ind, key);
	gen_buf_int(b, v);
}

static void member_str(struct gen_buf *b, bool *first, int ind, const char *key, const char *v)
{
	member(b, first, ind, key);
	gen_buf_json_str(b, v, true);
}

static void write_cpu(struct gen_buf *b, const struct gen_report *r, uint64_t us)
{
	char tmp[40];

	if (us == 0) {
		gen_buf_putc(b, '0');
		return;
	}
	if (r->os_major >= 14) {
		/* full double precision, as iOS 14+ prints it */
		snprintf(tmp, sizeof(tmp), "%.17g", (double)us / 1e6);
	} else {
		size_t n;

		snprintf(tmp, sizeof(tmp), "%llu.%06llu", (unsigned long long)(us / 1000000),
			 (unsigned long long)(us % 1000000));
		n = strlen(tmp);
		while (tmp[n - 1] == '0')
			tmp[--n] = '\0';
		if (tmp[n - 1] == '.')
			tmp[--n] = '\0';
	}
	gen_buf_puts(b, tmp);
}

static const char *const state_names[] = {"daemon",	"idle",	  "suspended", "frontmost",
					  "background", "resume", "audio"};

/* --- process entries --- */

enum key {
	K_END,
	K_UUID,
	K_STATES,
	K_LIFETIME,
	K_AGE,
	K_PURGEABLE,
	K_FDS,
	K_COALITION,
	K_RPAGES,
	K_PRIORITY,
	K_PHYS,
	K_PID,
	K_IDLE,
	K_NAME,
	K_CPU,
	K_KILLDELTA,
	K_GENCOUNT,
	K_REASON,
	K_FREEZE,
	K_CSFLAGS,
	K_CSTRUST,
	K_MEMREG,
};

/* entry key orders seen in the corpus (hash orders that depend on the key set) */
static const unsigned char o9[] = {K_RPAGES, K_STATES,	  K_NAME, K_PID,      K_REASON, K_FDS,
				   K_UUID,   K_PURGEABLE, K_CPU,  K_LIFETIME, K_END};
static const unsigned char o9h[] = {K_PID, K_NAME,   K_FDS,	  K_LIFETIME, K_RPAGES, K_REASON,
				    K_CPU, K_STATES, K_PURGEABLE, K_UUID,     K_END};
static const unsigned char o10a[] = {K_UUID, K_STATES,	  K_LIFETIME, K_AGE, K_PURGEABLE,
				     K_FDS,  K_COALITION, K_RPAGES,   K_PID, K_IDLE,
				     K_NAME, K_CPU,	  K_END};
static const unsigned char o10b[] = {K_RPAGES, K_STATES,    K_NAME,	 K_PID, K_AGE,	    K_FDS,
				     K_UUID,   K_PURGEABLE, K_COALITION, K_CPU, K_LIFETIME, K_END};
static const unsigned char o10ka[] = {
	K_UUID,	     K_STATES, K_KILLDELTA, K_LIFETIME, K_AGE,	K_PURGEABLE, K_FDS, K_GENCOUNT,
	K_COALITION, K_RPAGES, K_REASON,    K_PID,	K_IDLE, K_NAME,	     K_CPU, K_END};
static const unsigned char o10kb[] = {K_UUID,	   K_STATES, K_KILLDELTA, K_GENCOUNT, K_AGE,
				      K_PURGEABLE, K_FDS,    K_COALITION, K_RPAGES,   K_REASON,
				      K_PID,	   K_CPU,    K_NAME,	  K_LIFETIME, K_END};
static const unsigned char o14a[] = {K_UUID, K_STATES,	  K_LIFETIME, K_AGE,	  K_PURGEABLE,
				     K_FDS,  K_COALITION, K_RPAGES,   K_PRIORITY, K_PHYS,
				     K_PID,  K_IDLE,	  K_NAME,     K_CPU,	  K_END};
static const unsigned char o14b[] = {K_UUID,	  K_STATES, K_AGE,	K_PURGEABLE, K_FDS,
				     K_COALITION, K_RPAGES, K_PRIORITY, K_PHYS,	     K_PID,
				     K_CPU,	  K_NAME,   K_LIFETIME, K_END};
static const unsigned char o14ka[] = {K_UUID,	   K_STATES, K_LIFETIME, K_KILLDELTA, K_AGE,
				      K_PURGEABLE, K_FDS,    K_GENCOUNT, K_COALITION, K_RPAGES,
				      K_PRIORITY,  K_REASON, K_PHYS,	 K_PID,	      K_IDLE,
				      K_NAME,	   K_CPU,    K_END};
static const unsigned char o14kb[] = {K_UUID,	   K_STATES, K_KILLDELTA, K_GENCOUNT, K_AGE,
				      K_PURGEABLE, K_FDS,    K_COALITION, K_RPAGES,   K_PRIORITY,
				      K_REASON,	   K_PHYS,   K_PID,	  K_CPU,      K_NAME,
				      K_LIFETIME,  K_END};
static const unsigned char o15[] = {K_UUID,	 K_STATES, K_IDLE,     K_KILLDELTA, K_GENCOUNT,
				    K_PURGEABLE, K_AGE,	   K_FDS,      K_COALITION, K_RPAGES,
				    K_PRIORITY,	 K_REASON, K_PHYS,     K_FREEZE,    K_PID,
				    K_CPU,	 K_NAME,   K_LIFETIME, K_END};
static const unsigned char o16[] = {
	K_UUID,	  K_STATES,    K_IDLE,	  K_KILLDELTA, K_GENCOUNT, K_CSFLAGS, K_PURGEABLE, K_AGE,
	K_FDS,	  K_COALITION, K_CSTRUST, K_RPAGES,    K_PRIORITY, K_REASON,  K_MEMREG,	   K_PHYS,
	K_FREEZE, K_PID,       K_CPU,	  K_NAME,      K_LIFETIME, K_END};

static const unsigned char *entry_order(const struct gen_report *r, const struct gen_proc *p)
{
	int m = r->os_major;

	if (m <= 9)
		return r->hash_order ? o9h : o9;
	if (m <= 13) {
		if (p->killed)
			return p->has_idle_delta ? o10ka : o10kb;
		return p->has_idle_delta ? o10a : o10b;
	}
	if (m == 14) {
		if (p->killed)
			return p->has_idle_delta ? o14ka : o14kb;
		return p->has_idle_delta ? o14a : o14b;
	}
	if (m == 15)
		return o15;
	return o16;
}

static bool key_present(const struct gen_report *r, const struct gen_proc *p, enum key k)
{
	int m = r->os_major;

	switch (k) {
	case K_AGE:
	case K_COALITION:
		return m >= 10;
	case K_IDLE:
		return m >= 10 && p->has_idle_delta;
	case K_KILLDELTA:
	case K_GENCOUNT:
		return m >= 10 && p->killed;
	case K_REASON:
		return p->killed;
	case K_PRIORITY:
		return m >= 14;
	case K_PHYS:
		return m >= 14 && p->has_phys;
	case K_FREEZE:
		return m >= 15;
	case K_CSFLAGS:
	case K_CSTRUST:
	case K_MEMREG:
		return m >= 16;
	default:
		return true;
	}
}

static void write_proc(struct gen_buf *b, const struct gen_report *r, const struct gen_proc *p)
{
	bool first = true;

	gen_buf_put(b, "  {\n", 4);
	for (const unsigned char *k = entry_order(r, p); *k != K_END; k++) {
		if (!key_present(r, p, (enum key) * k))
			continue;
		switch ((enum key) * k) {
		case K_UUID:
			member_str(b, &first, 4, "uuid", p->uuid);
			break;
		case K_STATES: {
			bool sfirst = true;

			member(b, &first, 4, "states");
			gen_buf_put(b, "[\n", 2);
			for (unsigned i = 0; i < 7; i++) {
				if (!(p->states & (1u << i)))
					continue;
				if (!sfirst)
					gen_buf_put(b, ",\n", 2);
				sfirst = false;
				indent(b, 6);
				gen_buf_json_str(b, state_names[i], true);
			}
			gen_buf_putc(b, '\n');
			indent(b, 4);
			gen_buf_putc(b, ']');
			break;
		}
		case K_LIFETIME:
			member_int(b, &first, 4, "lifetimeMax", p->lifetime_max);
			break;
		case K_AGE:
			member_int(b, &first, 4, "age", p->age);
			break;
		case K_PURGEABLE:
			member_int(b, &first, 4, "purgeable", p->purgeable);
			break;
		case K_FDS:
			member_int(b, &first, 4, "fds", p->fds);
			break;
		case K_COALITION:
			member_int(b, &first, 4, "coalition", p->coalition);
			break;
		case K_RPAGES:
			member_int(b, &first, 4, "rpages", p->rpages);
			break;
		case K_PRIORITY:
			member_int(b, &first, 4, "priority", p->priority);
			break;
		case K_PHYS: {
			bool pfirst = true;

			member(b, &first, 4, "physicalPages");
			gen_buf_put(b, "{\n", 2);
			member(b, &pfirst, 6, "internal");
			gen_buf_put(b, "[\n        ", 10);
			gen_buf_int(b, p->phys[0]);
			gen_buf_put(b, ",\n        ", 10);
			gen_buf_int(b, p->phys[1]);
			gen_buf_put(b, "\n      ]", 8);
			if (r->os_major >= 16 && p->frozen_to_swap >= 0)
				member_int(b, &pfirst, 6, "frozen_to_swap_pages",
					   p->frozen_to_swap);
			gen_buf_put(b, "\n    }", 6);
			break;
		}
		case K_PID:
			member_int(b, &first, 4, "pid", p->pid);
			break;
		case K_IDLE:
			member_int(b, &first, 4, "idleDelta", p->idle_delta);
			break;
		case K_NAME:
			member_str(b, &first, 4, "name", p->name);
			break;
		case K_CPU:
			member(b, &first, 4, "cpuTime");
			write_cpu(b, r, p->cpu_us);
			break;
		case K_KILLDELTA:
			member_int(b, &first, 4, "killDelta", p->kill_delta);
			break;
		case K_GENCOUNT:
			member_int(b, &first, 4, "genCount", p->gen_count);
			break;
		case K_REASON:
			member_str(b, &first, 4, "reason", p->reason);
			break;
		case K_FREEZE:
			/* the key really ends in a colon */
			member_str(b, &first, 4, "freeze_skip_reason:", p->freeze_skip);
			break;
		case K_CSFLAGS:
			member_int(b, &first, 4, "csFlags", p->cs_flags);
			break;
		case K_CSTRUST:
			member_int(b, &first, 4, "csTrustLevel", p->cs_trust);
			break;
		case K_MEMREG:
			member_int(b, &first, 4, "mem_regions", p->mem_regions);
			break;
		case K_END:
			break;
		}
	}
	gen_buf_put(b, "\n  }", 4);
}

/* --- memoryStatus --- */

static void write_pages(struct gen_buf *b, const struct gen_report *r, bool *first)
{
	bool f = true;

	member(b, first, 2, "memoryPages");
	gen_buf_put(b, "{\n", 2);
	if (r->hash_order) {
		member_int(b, &f, 4, "fileBacked", r->mp_file_backed);
		member_int(b, &f, 4, "anonymous", r->mp_anonymous);
		member_int(b, &f, 4, "inactive", r->mp_inactive);
		member_int(b, &f, 4, "active", r->mp_active);
		member_int(b, &f, 4, "wired", r->mp_wired);
		member_int(b, &f, 4, "speculative", r->mp_speculative);
		member_int(b, &f, 4, "throttled", r->mp_throttled);
		member_int(b, &f, 4, "purgeable", r->mp_purgeable);
		member_int(b, &f, 4, "free", r->mp_free);
	} else {
		member_int(b, &f, 4, "active", r->mp_active);
		member_int(b, &f, 4, "throttled", r->mp_throttled);
		member_int(b, &f, 4, "fileBacked", r->mp_file_backed);
		member_int(b, &f, 4, "wired", r->mp_wired);
		member_int(b, &f, 4, "anonymous", r->mp_anonymous);
		member_int(b, &f, 4, "purgeable", r->mp_purgeable);
		member_int(b, &f, 4, "inactive", r->mp_inactive);
		member_int(b, &f, 4, "free", r->mp_free);
		member_int(b, &f, 4, "speculative", r->mp_speculative);
	}
	gen_buf_put(b, "\n  }", 4);
}

static void write_memory(struct gen_buf *b, const struct gen_report *r, bool *top_first)
{
	bool f = true;

	member(b, top_first, 2, "memoryStatus");
	gen_buf_put(b, "{\n", 2);
	if (r->os_major <= 10 && r->hash_order) {
		member_int(b, &f, 2, "pageSize", r->page_size);
		write_pages(b, r, &f);
		member_int(b, &f, 2, "compressions", r->compressions);
		member_int(b, &f, 2, "decompressions", r->decompressions);
		member_int(b, &f, 2, "compressorSize", r->compressor_size);
		member_int(b, &f, 2, "uncompressed", r->uncompressed);
	} else if (r->os_major <= 10) {
		member_int(b, &f, 2, "compressorSize", r->compressor_size);
		member_int(b, &f, 2, "pageSize", r->page_size);
		member_int(b, &f, 2, "compressions", r->compressions);
		write_pages(b, r, &f);
		member_int(b, &f, 2, "uncompressed", r->uncompressed);
		member_int(b, &f, 2, "decompressions", r->decompressions);
	} else {
		member_int(b, &f, 2, "compressorSize", r->compressor_size);
		member_int(b, &f, 2, "compressions", r->compressions);
		member_int(b, &f, 2, "decompressions", r->decompressions);
		member_int(b, &f, 2, "zoneMapCap", r->zone_map_cap);
		member_str(b, &f, 2, "largestZone", r->largest_zone);
		member_int(b, &f, 2, "largestZoneSize", r->largest_zone_size);
		member_int(b, &f, 2, "pageSize", r->page_size);
		member_int(b, &f, 2, "uncompressed", r->uncompressed);
		member_int(b, &f, 2, "zoneMapSize", r->zone_map_size);
		write_pages(b, r, &f);
	}
	/* NSJSONSerialization closes a top-level member's object in column 0 */
	gen_buf_put(b, "\n}", 2);
}

static void write_processes(struct gen_buf *b, const struct gen_report *r, bool *first)
{
	member(b, first, 2, "processes");
	gen_buf_put(b, "[\n", 2);
	for (size_t i = 0; i < r->n_procs; i++) {
		if (i)
			gen_buf_put(b, ",\n", 2);
		write_proc(b, r, &r->procs[i]);
	}
	gen_buf_put(b, "\n]", 2);
}

static void write_header(struct gen_buf *b, const struct gen_report *r)
{
	gen_buf_putc(b, '{');
	if (r->os_major <= 9) {
		if (r->hash_order) {
			gen_buf_puts(b, "\"os_version\":");
			gen_buf_json_str(b, r->build_line, true);
			gen_buf_puts(b, ",\"bug_type\":\"298\",\"timestamp\":");
			gen_buf_json_str(b, r->header_timestamp, true);
		} else {
			gen_buf_puts(b, "\"timestamp\":");
			gen_buf_json_str(b, r->header_timestamp, true);
			gen_buf_puts(b, ",\"bug_type\":\"298\",\"os_version\":");
			gen_buf_json_str(b, r->build_line, true);
		}
		gen_buf_put(b, "}\n", 2);
		return;
	}
	gen_buf_puts(b, "\"bug_type\":\"298\",\"timestamp\":");
	gen_buf_json_str(b, r->header_timestamp, true);
	gen_buf_puts(b, ",\"os_version\":");
	gen_buf_json_str(b, r->build_line, true);
	if (r->os_major >= 16)
		gen_buf_puts(b, ",\"roots_installed\":0");
	gen_buf_puts(b, ",\"incident_id\":");
	gen_buf_json_str(b, r->incident, true);
	gen_buf_put(b, "}\n", 2);
}

void gen_write_report(const struct gen_report *r, struct gen_buf *b)
{
	bool f = true;
	const char *largest = r->n_procs ? r->procs[r->largest].name : "";

	/* a generous guess keeps reallocations rare */
	gen_buf_reserve(b, 2048 + r->n_procs * 700);
	write_header(b, r);
	gen_buf_put(b, "{\n", 2);
	if (r->variant == GEN_VARIANT_J4) {
		member_str(b, &f, 2, "build", r->build_line);
		member_str(b, &f, 2, "product", r->product);
		member_str(b, &f, 2, "kernel", r->kernel);
		member_str(b, &f, 2, "incident", r->incident);
		member_str(b, &f, 2, "crashReporterKey", r->crash_reporter_key);
		member_str(b, &f, 2, "date", r->body_date);
		member_int(b, &f, 2, "codeSigningMonitor", 2);
		if (r->os_major >= 16 && r->os_major <= 17)
			member_int(b, &f, 2, "roots_installed", 0);
		member_str(b, &f, 2, "bug_type", "298");
		member_int(b, &f, 2, "timeDelta", r->time_delta);
		write_memory(b, r, &f);
		member_str(b, &f, 2, "largestProcess", largest);
		member_int(b, &f, 2, "genCounter", r->gen_counter);
	} else if (r->hash_order) {
		member_str(b, &f, 2, "kernel", r->kernel);
		member_str(b, &f, 2, "date", r->body_date);
		member_str(b, &f, 2, "crashReporterKey", r->crash_reporter_key);
		member_str(b, &f, 2, "product", r->product);
		member_str(b, &f, 2, "build", r->build_line);
		member_str(b, &f, 2, "incident", r->incident);
		write_memory(b, r, &f);
		member_str(b, &f, 2, "largestProcess", largest);
		member_int(b, &f, 2, "timeDelta", r->time_delta);
	} else {
		member_str(b, &f, 2, "crashReporterKey", r->crash_reporter_key);
		member_str(b, &f, 2, "kernel", r->kernel);
		member_str(b, &f, 2, "product", r->product);
		member_str(b, &f, 2, "incident", r->incident);
		member_str(b, &f, 2, "date", r->body_date);
		member_str(b, &f, 2, "build", r->build_line);
		if (r->variant == GEN_VARIANT_J3 && r->os_major >= 16) {
			member_int(b, &f, 2, "roots_installed", 0);
			member_str(b, &f, 2, "bug_type", "298");
		}
		member_int(b, &f, 2, "timeDelta", r->time_delta);
		write_memory(b, r, &f);
		member_str(b, &f, 2, "largestProcess", largest);
		if (r->variant != GEN_VARIANT_J1 || r->os_major >= 10)
			member_int(b, &f, 2, "genCounter", r->gen_counter);
	}
	write_processes(b, r, &f);
	gen_buf_put(b, "\n}\n", 3);
}

/* --- truth --- */

static const char *truth_role(unsigned states)
{
	if (states & GEN_ST_FRONTMOST)
		return "foreground";
	if (states & GEN_ST_DAEMON)
		return "daemon";
	return "background";
}

void gen_write_truth(const struct gen_report *r, struct gen_buf *b)
{
	for (size_t i = 0; i < r->n_procs; i++) {
		const struct gen_proc *p = &r->procs[i];
		int64_t footprint = p->rpages * r->page_size;
		bool sfirst = true;

		if (!p->killed)
			continue;
		gen_buf_puts(b, "{\"process\":");
		gen_buf_json_str(b, p->name, false);
		gen_buf_puts(b, ",\"pid\":");
		gen_buf_int(b, p->pid);
		gen_buf_puts(b, ",\"uuid\":");
		gen_buf_json_str(b, p->uuid, false);
		gen_buf_puts(b, ",\"reason\":");
		gen_buf_json_str(b, p->reason, false);
		gen_buf_puts(b, ",\"role\":");
		gen_buf_json_str(b, truth_role(p->states), false);
		gen_buf_puts(b, ",\"states\":[");
		for (unsigned s = 0; s < 7; s++) {
			if (!(p->states & (1u << s)))
				continue;
			if (!sfirst)
				gen_buf_putc(b, ',');
			sfirst = false;
			gen_buf_json_str(b, state_names[s], false);
		}
		gen_buf_puts(b, "],\"priority\":");
		if (r->os_major >= 14)
			gen_buf_int(b, p->priority);
		else
			gen_buf_puts(b, "null");
		gen_buf_puts(b, ",\"rpages\":");
		gen_buf_int(b, p->rpages);
		gen_buf_puts(b, ",\"page_size\":");
		gen_buf_int(b, r->page_size);
		gen_buf_puts(b, ",\"footprint_bytes\":");
		gen_buf_int(b, footprint);
		gen_buf_puts(b, ",\"limit_bytes\":");
		if (!strcmp(p->reason, "per-process-limit"))
			gen_buf_int(b, footprint);
		else
			gen_buf_puts(b, "null");
		gen_buf_puts(b, ",\"lifetime_max_pages\":");
		gen_buf_int(b, p->lifetime_max);
		gen_buf_puts(b, "}\n");
	}
}

void gen_write_report_facts(const struct gen_report *r, struct gen_buf *b)
{
	gen_buf_puts(b, "{\"incident\":");
	gen_buf_json_str(b, r->incident, false);
	gen_buf_puts(b, ",\"bug_type\":\"298\",\"product\":");
	gen_buf_json_str(b, r->product, false);
	gen_buf_puts(b, ",\"os_version\":");
	gen_buf_json_str(b, r->os_version, false);
	gen_buf_puts(b, ",\"build\":");
	gen_buf_json_str(b, r->build, false);
	gen_buf_puts(b, ",\"timestamp\":");
	gen_buf_json_str(b, r->header_timestamp, false);
	gen_buf_puts(b, ",\"page_size\":");
	gen_buf_int(b, r->page_size);
	gen_buf_puts(b, ",\"largest_process\":");
	gen_buf_json_str(b, r->n_procs ? r->procs[r->largest].name : "", false);
	gen_buf_puts(b, ",\"variant\":");
	gen_buf_json_str(b, gen_variant_name(r->variant), false);
	gen_buf_puts(b, "}\n");
}

int gen_write_files(const struct gen_report *r, const char *path, const char *truth)
{
	struct gen_buf b = {0};
	int rc;

	gen_write_report(r, &b);
	rc = gen_buf_write_file(&b, path);
	if (rc == 0 && truth) {
		size_t n = strlen(truth);
		char *facts_path = malloc(n + sizeof(".report.json"));

		b.len = 0;
		gen_write_truth(r, &b);
		rc = gen_buf_write_file(&b, truth);
		if (rc == 0 && facts_path) {
			memcpy(facts_path, truth, n);
			memcpy(facts_path + n, ".report.json", sizeof(".report.json"));
			b.len = 0;
			gen_write_report_facts(r, &b);
			rc = gen_buf_write_file(&b, facts_path);
		} else if (rc == 0) {
			rc = -ENOMEM;
		}
		free(facts_path);
	}
	gen_buf_release(&b);
	return rc;
}
