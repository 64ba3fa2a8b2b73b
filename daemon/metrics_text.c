/* metrics_text.c: renders a metrics snapshot as OpenMetrics text (contrib/prometheus/METRICS.md) */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "metrics_text.h"

const char *const metrics_state_names[METRICS_N_STATES] = {
	"attached", "syncing", "idle", "locked", "untrusted", "error", "detached",
};

const double metrics_sync_buckets[METRICS_N_BUCKETS] = {
	0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300,
};
/* the le label of each bucket, as OpenMetrics writes a float */
static const char *const bucket_le[METRICS_N_BUCKETS] = {
	"0.1", "0.25", "0.5", "1.0", "2.5", "5.0", "10.0", "30.0", "60.0", "120.0", "300.0",
};

static const char *const report_status[METRICS_N_REPORT] = {"ok", "skipped", "error"};

/* ---- labels and numbers ---- */

const char *metrics_reason_label(const char *reason)
{
	size_t n;

	if (reason == NULL)
		return "";
	n = strlen(reason);
	if (n > METRICS_REASON_MAX - 1)
		return "other";
	for (size_t i = 0; i < n; i++) {
		char c = reason[i];

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return "other";
	}
	return reason;
}

void metrics_label_copy(char *dst, size_t cap, const char *src)
{
	size_t n = src ? strlen(src) : 0;

	if (n >= cap) {
		n = cap - 1;
		while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80)
			n--; /* do not cut a UTF-8 sequence */
	}
	if (n)
		memcpy(dst, src, n);
	dst[n] = '\0';
}

int metrics_state_index(const char *name)
{
	for (int i = 0; name && i < METRICS_N_STATES; i++)
		if (strcmp(name, metrics_state_names[i]) == 0)
			return i;
	return -1;
}

void metrics_format_double(double v, char buf[32])
{
	int p, exp;

	if (isnan(v)) {
		snprintf(buf, 32, "NaN");
		return;
	}
	if (isinf(v)) {
		snprintf(buf, 32, v > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (v == 0) {
		snprintf(buf, 32, "0");
		return;
	}
	for (p = 1; p < 17; p++) { /* the fewest digits that read back as v */
		snprintf(buf, 32, "%.*e", p - 1, v);
		if (strtod(buf, NULL) == v)
			break;
	}
	snprintf(buf, 32, "%.*e", p - 1, v);
	exp = atoi(strchr(buf, 'e') + 1);
	if (exp < -4 || exp >= 6)
		return; /* d.ddde+XX */
	snprintf(buf, 32, "%.*f", p - 1 - exp > 0 ? p - 1 - exp : 0, v);
}

/* ---- output buffer ---- */

struct buf {
	char *p;
	size_t len, cap;
	int err;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (b->len + n + 1 > cap)
			cap *= 2;
		if ((p = realloc(b->p, cap)) == NULL) {
			b->err = -ENOMEM;
			return;
		}
		b->p = p;
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void puts_(struct buf *b, const char *s)
{
	put(b, s, strlen(s));
}

static void printf_(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void printf_(struct buf *b, const char *fmt, ...)
{
	char tmp[256];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp)) {
		b->err = -EINVAL; /* callers format short, bounded values only */
		return;
	}
	put(b, tmp, (size_t)n);
}

/* A label value: backslash, double quote and newline escaped (OpenMetrics). */
static void put_value(struct buf *b, const char *v)
{
	for (; *v; v++) {
		if (*v == '\\')
			puts_(b, "\\\\");
		else if (*v == '"')
			puts_(b, "\\\"");
		else if (*v == '\n')
			puts_(b, "\\n");
		else
			put(b, v, 1);
	}
}

/* name{k1="v1",k2="v2"} with n label pairs (names[i], values[i]). */
static void put_series(struct buf *b, const char *name, size_t n, const char *const *names,
		       const char *const *values)
{
	puts_(b, name);
	for (size_t i = 0; i < n; i++) {
		puts_(b, i ? "," : "{");
		puts_(b, names[i]);
		puts_(b, "=\"");
		put_value(b, values[i]);
		puts_(b, "\"");
	}
	if (n)
		puts_(b, "}");
}

static void put_int(struct buf *b, int64_t v)
{
	printf_(b, " %" PRId64 "\n", v);
}

static void put_double(struct buf *b, double v)
{
	char num[32];

	metrics_format_double(v, num);
	printf_(b, " %s\n", num);
}

/* ---- families ---- */

enum fam {
	F_KILLS,
	F_LIMIT,
	F_RATIO,
	F_DEVICES,
	F_DEVICE_STATE,
	F_LAST_SYNC,
	F_SYNC_DURATION,
	F_SYNC_ERRORS,
	F_REPORTS,
	F_OUTBOX,
	F_CONNECTED,
	F_CPU,
	F_RSS,
	F_VSIZE,
	F_OPEN_FDS,
	F_MAX_FDS,
	F_START,
};

static const struct family {
	const char *name, *type, *unit, *help;
} families[] = {
	[F_KILLS] = {"jetsamd_kills", "counter", NULL,
		     "Kill events in the store, by product, build, role and reason."},
	[F_LIMIT] = {"jetsamd_limit_bytes", "gauge", "bytes",
		     "Memory limit of the newest kill event with a limit, by product, build and "
		     "role."},
	[F_RATIO] = {"jetsamd_limit_change_ratio", "gauge", "ratio",
		     "Median limit of the newest build relative to the previous build, minus 1 "
		     "(-0.5: halved), by product and role."},
	[F_DEVICES] = {"jetsamd_devices", "gauge", NULL, "Phones known to this host, by state."},
	[F_DEVICE_STATE] = {"jetsamd_device_state", "gauge", NULL,
			    "Current state of each attached phone (1 for its state, 0 for the "
			    "others)."},
	[F_LAST_SYNC] = {"jetsamd_device_last_sync_timestamp_seconds", "gauge", "seconds",
			 "Unix time of the last finished sync of each attached phone."},
	[F_SYNC_DURATION] = {"jetsamd_sync_duration_seconds", "histogram", "seconds",
			     "Duration of finished syncs (successful or not)."},
	[F_SYNC_ERRORS] = {"jetsamd_sync_errors", "counter", NULL, "Syncs that ended in an error."},
	[F_REPORTS] = {"jetsamd_reports", "gauge", NULL, "Reports in the store, by parse status."},
	[F_OUTBOX] = {"jetsamd_fleet_outbox_depth", "gauge", NULL,
		      "Entries in the fleet outbox not yet committed to PostgreSQL."},
	[F_CONNECTED] = {"jetsamd_fleet_connected", "gauge", NULL,
			 "1 when the fleet connection to PostgreSQL is up, else 0."},
	[F_CPU] = {"process_cpu_seconds", "counter", "seconds",
		   "Total user and system CPU time spent in seconds."},
	[F_RSS] = {"process_resident_memory_bytes", "gauge", "bytes",
		   "Resident memory size in bytes."},
	[F_VSIZE] = {"process_virtual_memory_bytes", "gauge", "bytes",
		     "Virtual memory size in bytes."},
	[F_OPEN_FDS] = {"process_open_fds", "gauge", NULL, "Number of open file descriptors."},
	[F_MAX_FDS] = {"process_max_fds", "gauge", NULL,
		       "Maximum number of open file descriptors."},
	[F_START] = {"process_start_time_seconds", "gauge", "seconds",
		     "Start time of the process since unix epoch in seconds."},
};

static void put_meta(struct buf *b, enum fam f)
{
	const struct family *fm = &families[f];

	const char *const parts[] = {"# HELP ", fm->name, " ",	    fm->help, "\n# TYPE ",
				     fm->name,	" ",	  fm->type, "\n"};

	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++)
		puts_(b, parts[i]);
	if (fm->unit) {
		const char *const u[] = {"# UNIT ", fm->name, " ", fm->unit, "\n"};

		for (size_t i = 0; i < sizeof(u) / sizeof(u[0]); i++)
			puts_(b, u[i]);
	}
}

static void render_store(struct buf *b, const struct metrics_snapshot *s)
{
	static const char *const kill_l[] = {"product", "build", "role", "reason"};
	static const char *const ratio_l[] = {"product", "role", "build", "previous_build"};

	put_meta(b, F_KILLS);
	for (size_t i = 0; i < s->n_kills; i++) {
		const struct metrics_kill *k = &s->kills[i];
		const char *v[] = {k->product, k->build, k->role, k->reason};

		put_series(b, "jetsamd_kills_total", 4, kill_l, v);
		put_int(b, k->n);
	}
	put_meta(b, F_LIMIT);
	for (size_t i = 0; i < s->n_limits; i++) {
		const struct metrics_limit *l = &s->limits[i];
		const char *v[] = {l->product, l->build, l->role};

		put_series(b, families[F_LIMIT].name, 3, kill_l, v);
		put_int(b, l->bytes);
	}
	put_meta(b, F_RATIO);
	for (size_t i = 0; i < s->n_ratios; i++) {
		const struct metrics_ratio *r = &s->ratios[i];
		const char *v[] = {r->product, r->role, r->build, r->previous_build};

		put_series(b, families[F_RATIO].name, 4, ratio_l, v);
		put_double(b, r->ratio);
	}
}

static void render_devices(struct buf *b, const struct metrics_snapshot *s)
{
	static const char *const state_l[] = {"state"};
	static const char *const dev_l[] = {"udid", "state"};
	static const char *const sync_l[] = {"udid", "product"};

	put_meta(b, F_DEVICES);
	for (int i = 0; i < METRICS_N_STATES; i++) {
		put_series(b, families[F_DEVICES].name, 1, state_l, &metrics_state_names[i]);
		put_int(b, s->devices[i]);
	}
	put_meta(b, F_DEVICE_STATE);
	for (size_t d = 0; d < s->n_attached; d++) {
		for (int i = 0; i < METRICS_N_STATES; i++) {
			const char *v[] = {s->attached[d].udid, metrics_state_names[i]};

			if (i == METRICS_N_STATES - 1)
				break; /* not detached: these phones are attached */
			put_series(b, families[F_DEVICE_STATE].name, 2, dev_l, v);
			put_int(b, s->attached[d].state == i);
		}
	}
	put_meta(b, F_LAST_SYNC);
	for (size_t d = 0; d < s->n_attached; d++) {
		const char *v[] = {s->attached[d].udid, s->attached[d].product};

		if (s->attached[d].last_sync <= 0)
			continue;
		put_series(b, families[F_LAST_SYNC].name, 2, sync_l, v);
		put_int(b, s->attached[d].last_sync);
	}
}

static void render_syncs(struct buf *b, const struct metrics_snapshot *s)
{
	static const char *const le_l[] = {"le"};
	static const char *const inf[] = {"+Inf"};
	static const char *const status_l[] = {"status"};

	put_meta(b, F_SYNC_DURATION);
	for (int i = 0; i < METRICS_N_BUCKETS; i++) {
		put_series(b, "jetsamd_sync_duration_seconds_bucket", 1, le_l, &bucket_le[i]);
		put_int(b, (int64_t)s->sync.le[i]);
	}
	put_series(b, "jetsamd_sync_duration_seconds_bucket", 1, le_l, inf);
	put_int(b, (int64_t)s->sync.count);
	puts_(b, "jetsamd_sync_duration_seconds_sum");
	put_double(b, s->sync.sum);
	puts_(b, "jetsamd_sync_duration_seconds_count");
	put_int(b, (int64_t)s->sync.count);
	put_meta(b, F_SYNC_ERRORS);
	puts_(b, "jetsamd_sync_errors_total");
	put_int(b, s->sync_errors);
	put_meta(b, F_REPORTS);
	for (int i = 0; i < METRICS_N_REPORT; i++) {
		put_series(b, families[F_REPORTS].name, 1, status_l, &report_status[i]);
		put_int(b, s->reports[i]);
	}
	if (s->fleet) {
		put_meta(b, F_OUTBOX);
		puts_(b, families[F_OUTBOX].name);
		put_int(b, s->fleet_outbox);
		put_meta(b, F_CONNECTED);
		puts_(b, families[F_CONNECTED].name);
		put_int(b, s->fleet_connected != 0);
	}
}

static void render_process(struct buf *b, const struct metrics_process *p)
{
	const double v[] = {p->cpu_seconds,	 p->resident_bytes,  p->virtual_bytes,
			    (double)p->open_fds, (double)p->max_fds, p->start_time};

	for (int f = F_CPU; f <= F_START; f++) {
		put_meta(b, (enum fam)f);
		if (!p->valid)
			continue;
		puts_(b, families[f].name);
		if (f == F_CPU)
			puts_(b, "_total");
		put_double(b, v[f - F_CPU]);
	}
}

int metrics_text_render(const struct metrics_snapshot *s, char **out, size_t *len)
{
	struct buf b = {0};

	render_store(&b, s);
	render_devices(&b, s);
	render_syncs(&b, s);
	render_process(&b, &s->proc);
	puts_(&b, "# EOF\n");
	if (b.err) {
		free(b.p);
		*out = NULL;
		*len = 0;
		return -ENOMEM;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}
