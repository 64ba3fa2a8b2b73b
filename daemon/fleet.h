/* fleet.h: shipping to the fleet's PostgreSQL: the outbox read on the store thread, libpq on its
 * own */
#ifndef JETSAMD_FLEET_H
#define JETSAMD_FLEET_H

#include <stdint.h>
#include <uv.h>

#include "config.h"

struct storeq;
struct cJSON;

/*
 * DESIGN (issue 14)
 * Every commit queues its reports and device rows in the store's outbox, in the same
 * transaction (store_outbox.c: triggers). The loop drives one batch at a time:
 *   store job: delete the entries the last batch shipped, read the next batch (COPY text,
 *              fleet_rows.c) and the outbox depth               (store thread)
 *   the batch, by pointer, to the fleet thread: fleet_pg_ship()  (fleet thread, blocking
 *              libpq with bounded waits; one transaction)
 *   the outcome back through a uv_async_t                        (loop)
 * One batch in flight keeps commit order; an entry is deleted only after PostgreSQL
 * committed it, so an outage or a crash ships it again (every row is keyed: no double).
 * A failure waits 1 s, doubling up to fleet_retry_max, then reads and ships again. An empty
 * outbox is looked at again on fleet_kick() (the hub: a report or device row committed) or
 * after 250 ms; while idle an empty batch (hosts row only) every 30 s
 * checks the connection. The loop never calls libpq or SQLite.
 */

struct fleet;

/* The state `status` and the metrics show (loop). */
struct fleet_status {
	int enabled, connected;
	int64_t outbox;		 /* entries waiting (as of the last read) */
	int64_t shipped;	 /* outbox entries shipped since start */
	int64_t shipped_events;	 /* kill events shipped since start */
	int64_t last_shipped_at; /* epoch seconds, 0 = never */
	const char *last_error;	 /* NULL = none (the last ship succeeded) */
	const char *host_id;
};

/* Start shipping when cfg->fleet_conninfo is set (else a disabled fleet). 0 or -errno. */
int fleet_new(uv_loop_t *loop, const struct config *cfg, struct storeq *sq, struct fleet **out);
void fleet_status(const struct fleet *f, struct fleet_status *out);
/* The status reply's "fleet" object (PROTOCOL.md); NULL when out of memory. */
struct cJSON *fleet_status_json(const struct fleet *f);
/* A commit queued something: look at the outbox now when idle and connected (else the
 * batch in flight or the backoff runs its course). NULL is a no-op. */
void fleet_kick(struct fleet *f);
/* The config was reloaded: fleet_* changes take effect at the next start (logged). */
void fleet_reconfigure(struct fleet *f, const struct config *cfg);
/* Finish the batch in flight (bounded by libpq's timeouts), stop the thread; then done_cb. */
void fleet_stop(struct fleet *f, void (*done_cb)(void *arg), void *arg);
void fleet_free(struct fleet *f); /* after done_cb; NULL is a no-op */

#endif
