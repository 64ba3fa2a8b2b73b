/* metrics_text.h: jetsamd's metrics as OpenMetrics text, rendered from a snapshot (pure, no uv.h)
 */
#ifndef JETSAMD_METRICS_TEXT_H
#define JETSAMD_METRICS_TEXT_H

#include <stddef.h>
#include <stdint.h>

/*
 * DESIGN
 * contrib/prometheus/METRICS.md is the contract: families, types, units, labels and help
 * texts, in the order of contrib/prometheus/example.om. A scrape gathers a struct
 * metrics_snapshot (the store's part on the store thread, daemon/store_metrics.c; the
 * devices, syncs, fleet and process parts on the loop, daemon/metrics.c), then
 * metrics_text_render() writes it. Every family's HELP/TYPE(/UNIT) lines are written even
 * when it has no sample. Integer values are written as integers; float values (process_*,
 * the histogram's sum, the ratio) in the shortest form that reads back the same, with an
 * exponent from 1e6 on (as the Prometheus client libraries write them).
 */

#define METRICS_LABEL_MAX  32 /* product, build, role: up to 31 bytes (the store's limits) */
#define METRICS_REASON_MAX 33 /* a reason label: up to 32 bytes, else "other" */

enum { METRICS_N_STATES = 7 }; /* attached, syncing, idle, locked, untrusted, error, detached */
enum { METRICS_REPORT_OK, METRICS_REPORT_SKIPPED, METRICS_REPORT_ERROR, METRICS_N_REPORT };
enum { METRICS_N_BUCKETS = 11 }; /* finite sync duration buckets, +Inf is the count */

extern const char *const metrics_state_names[METRICS_N_STATES];
extern const double metrics_sync_buckets[METRICS_N_BUCKETS];

struct metrics_kill {
	char product[METRICS_LABEL_MAX], build[METRICS_LABEL_MAX], role[16];
	char reason[METRICS_REASON_MAX];
	int64_t n;
};

struct metrics_limit {
	char product[METRICS_LABEL_MAX], build[METRICS_LABEL_MAX], role[16];
	int64_t bytes;
};

struct metrics_ratio {
	char product[METRICS_LABEL_MAX], role[16];
	char build[METRICS_LABEL_MAX], previous_build[METRICS_LABEL_MAX];
	double ratio;
};

/* An attached phone: its state (index in metrics_state_names), last finished sync. */
struct metrics_device {
	char udid[44];
	char product[METRICS_LABEL_MAX];
	int state;
	int64_t last_sync; /* unix time, 0: none */
};

struct metrics_hist {
	uint64_t le[METRICS_N_BUCKETS]; /* observations <= metrics_sync_buckets[i] (cumulative) */
	uint64_t count;
	double sum;
};

struct metrics_process {
	int valid; /* 0: /proc/self could not be read, the samples are left out */
	double cpu_seconds, resident_bytes, virtual_bytes, start_time;
	int64_t open_fds, max_fds;
};

struct metrics_snapshot {
	const struct metrics_kill *kills;
	size_t n_kills;
	const struct metrics_limit *limits;
	size_t n_limits;
	const struct metrics_ratio *ratios;
	size_t n_ratios;
	int64_t devices[METRICS_N_STATES]; /* phones known, by state */
	const struct metrics_device *attached;
	size_t n_attached;
	struct metrics_hist sync;
	int64_t sync_errors;
	int64_t reports[METRICS_N_REPORT];
	int fleet; /* 0: the fleet families are left out */
	int fleet_connected;
	int64_t fleet_outbox;
	struct metrics_process proc;
};

/* The OpenMetrics text of s, ending in "# EOF\n" (malloc'ed, *len bytes). 0 or -ENOMEM. */
int metrics_text_render(const struct metrics_snapshot *s, char **out, size_t *len);

/* The label value of a kill reason: itself when 1..32 bytes of [a-z0-9-], "" for none,
 * else "other". */
const char *metrics_reason_label(const char *reason);
/* Copy src (NULL: "") into dst of cap bytes, cut at a UTF-8 character boundary. */
void metrics_label_copy(char *dst, size_t cap, const char *src);
/* Index of a state name in metrics_state_names, -1 when unknown. */
int metrics_state_index(const char *name);
/* v as the shortest decimal that reads back as v ("0.5", "12.47", "9.437184e+06", "+Inf"). */
void metrics_format_double(double v, char buf[32]);

#endif
