/* store_metrics.h: the store's part of a metrics scrape (kills, limits, ratios, reports, syncs),
 * cached */
#ifndef JETSAMD_STORE_METRICS_H
#define JETSAMD_STORE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "metrics_text.h"

struct store;

/*
 * DESIGN
 * A scrape must not cost a GROUP BY over every event (a million events take the store
 * thread for about a second). struct store_metrics keeps the aggregates between scrapes,
 * on the store thread: kill counts by (product, build, role, reason), the newest limit by
 * (product, build, role), reports by status, and the highest event and report ids they
 * include. Rows are only ever appended (reports are never deleted and a new row's id is
 * above every id), so a collect reads only the rows past those ids (a rowid range), unless
 * something rewrote rows: reparse deletes and re-inserts a report's events and updates its
 * status, an upgrade updates a status. Temporary triggers on the store's connection count
 * those deletes and updates (a counter in a TEMP table, rolled back with its transaction);
 * when the count moved, the aggregates are rebuilt from scratch. The limit change ratios
 * come from the limits summaries (store_limits_json(): small tables) when anything moved.
 * A collect reads at most STORE_METRICS_CHUNK event rows (out->more: call again), so a
 * rebuild never holds the store thread for long.
 */

struct store_metrics;

/* An attached phone's last finished sync, from the devices table. */
struct store_metrics_sync {
	char udid[44];
	char product[METRICS_LABEL_MAX];
	int64_t last_sync;
};

/* What a collect hands to the loop (malloc'ed copies; release with the function below). */
struct store_metrics_result {
	struct metrics_kill *kills;
	size_t n_kills;
	struct metrics_limit *limits;
	size_t n_limits;
	struct metrics_ratio *ratios;
	size_t n_ratios;
	int64_t reports[METRICS_N_REPORT];
	struct store_metrics_sync *syncs;
	size_t n_syncs;
	int rebuilt;	   /* the aggregates were reset: a rebuild from every row started */
	int64_t rows_read; /* event rows read by this collect */
	int more; /* a chunk of rows was read and more are left: collect again (nothing else
		   * is filled in); a rebuild of a million events takes 62 collects */
};

int store_metrics_new(struct store_metrics **out);
/* No collect may run; NULL is a no-op. */
void store_metrics_free(struct store_metrics *m);
/* Store thread: bring m up to date with s (at most a chunk of rows: see out->more) and
 * copy the results out. 0 or -errno. */
int store_metrics_collect(struct store *s, struct store_metrics *m,
			  struct store_metrics_result *out);
void store_metrics_result_release(struct store_metrics_result *r);

#endif
