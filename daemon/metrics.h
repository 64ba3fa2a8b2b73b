/* metrics.h: the Prometheus metrics endpoint: GET /metrics over HTTP on the loop (issue 14) */
#ifndef JETSAMD_METRICS_H
#define JETSAMD_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "devices.h"
#include "metrics_http.h"

struct storeq;
struct metrics;

/*
 * DESIGN
 * A small HTTP/1.x server on the loop, for Prometheus: one request per connection
 * (Connection: close). A connection has METRICS_REQUEST_MAX bytes for its request head
 * (431 past it) and METRICS_READ_TIMEOUT_S to send it (408); garbage gets 400, another
 * method 405, another path 404; at most METRICS_MAX_CONNS connections are open (the next
 * gets 503 and is closed). Nothing blocks: the answer is written with uv_write, then the
 * socket is shut down and read until the peer closes (so that a peer still sending does
 * not get a reset before it read the answer), at most METRICS_LINGER_S.
 *
 * GET /metrics: one store job at a time (store_metrics.c, aggregates cached between
 * scrapes) gathers the store's part; connections that ask meanwhile wait for it. Its
 * done_cb adds, on the loop, the phones (ops->devices_cb), the sync histogram and errors
 * (metrics_sync_observe(), counted since start), the fleet gauges (ops->fleet_cb) and
 * /proc/self, renders the text (metrics_text.c) and answers every waiting connection.
 */

#define METRICS_REQUEST_MAX	8192
#define METRICS_READ_TIMEOUT_S	10
#define METRICS_WRITE_TIMEOUT_S 30
#define METRICS_LINGER_S	2
#define METRICS_MAX_CONNS	32

/* The fleet shipping state (daemon ship side); the lead wires ops->fleet_cb to it. */
struct metrics_fleet {
	int enabled, connected;
	int64_t outbox;
};

struct metrics_ops {
	/* The fleet state. NULL: jetsamd_fleet_connected and _outbox_depth are exported as 0;
	 * when it says enabled = 0, both are left out (METRICS.md: only when configured). */
	void (*fleet_cb)(void *arg, struct metrics_fleet *out);
	/* The phones known in this run, as devices_list(). NULL: none. */
	size_t (*devices_cb)(void *arg, struct devices_phone *out, size_t max);
};

/*
 * Listen on fd (an activated listening TCP socket, taken over) when fd >= 0, else on addr
 * ("HOST:PORT", HOST an IPv4 address, [IPv6] or localhost). 0 or -errno (logged).
 */
int metrics_new(uv_loop_t *loop, struct storeq *sq, int fd, const char *addr,
		const struct metrics_ops *ops, void *arg, struct metrics **out);
/* A sync finished after seconds (failed: it ended in an error); m may be NULL. */
void metrics_sync_observe(struct metrics *m, double seconds, int failed);
/* Close the listener and every connection; done_cb once all handles closed and no store
 * job of ours is left. */
void metrics_stop(struct metrics *m, void (*done_cb)(void *arg), void *arg);
/* After done_cb (or when never started); NULL is a no-op. */
void metrics_free(struct metrics *m);

#endif
