/* store_outbox.h: the fleet outbox in the store: configure, read a batch, delete what shipped */
#ifndef JETSAMD_STORE_OUTBOX_H
#define JETSAMD_STORE_OUTBOX_H

#include <stddef.h>
#include <stdint.h>

#include "fleet_rows.h"

struct store;

/*
 * Store thread only (store jobs), like the rest of store.h. The outbox table and its
 * triggers are a schema step (store.c migrations[]); store_outbox.c says how it works.
 */

/* Ship as host_id (NULL: the fleet is off). A new or changed id queues the whole store
 * (devices, then reports in collection order); off empties the outbox. */
int store_outbox_configure(struct store *s, const char *host_id);

struct store_outbox_opts {
	const char *host_id;
	const char *state_dir; /* archives, for facts and raw */
	size_t max_events;     /* a batch stops at this many events (one entry at least) */
	int ship_facts, ship_raw;
	size_t max_report_size;
};

/* The next batch (b->upto 0: the outbox is empty), and the outbox depth. */
int store_outbox_read(struct store *s, const struct store_outbox_opts *o, struct fleet_batch *b);
/* Delete the entries up to id upto (a batch that shipped). */
int store_outbox_done(struct store *s, int64_t upto);
int store_outbox_depth(struct store *s, int64_t *n);

#endif
