/* devices.h: watching usbmuxd and syncing every attached phone (the device side of jetsamd) */
#ifndef JETSAMD_DEVICES_H
#define JETSAMD_DEVICES_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

struct config;
struct ingest_item;
struct ingest_source;
struct storeq;
struct store_device;
struct devices;
struct devices_wait;

struct devices_sync_result {
	char udid[64];
	const char *state; /* static string: idle, locked, untrusted, error, detached */
	int new_reports;
	char *error; /* owned by the callee; valid during the callback only */
};

/* Called on the loop when every phone named by a waited sync has finished one whole sync. */
typedef void (*devices_sync_cb)(void *arg, const struct devices_sync_result *res, size_t n);

/* Upward calls, on the loop; arg is the one given to devices_new(). */
struct devices_ops {
	/* A phone's DEVICE row changed (state, attached, error): row is as the store wrote it. */
	void (*device_cb)(void *arg, const struct store_device *row);
	/* A report pulled from a phone was committed and is new: publish its events (the callee
	 * may take it->events over). */
	void (*report_cb)(void *arg, const struct ingest_source *src, struct ingest_item *it);
	/* The usbmuxd connection or the counts changed (for a status line). */
	void (*status_cb)(void *arg);
	/* A phone's sync finished (it left the syncing state, not by a detach) after seconds;
	 * failed: it did not end idle (locked, untrusted, error). May be NULL. */
	void (*sync_cb)(void *arg, const char *udid, double seconds, int failed);
};

/*
 * Subscribe to usbmuxd (cfg->usbmuxd_socket) and start syncing into the store (store jobs on sq).
 * cfg is read when needed: the owner may replace it in place (then call devices_reconfigure). 0 or
 * -errno.
 */
int devices_new(uv_loop_t *loop, const struct config *cfg, struct storeq *sq,
		const struct devices_ops *ops, void *arg, struct devices **out);
/* The config was replaced (SIGHUP): pick up intervals and policies. */
void devices_reconfigure(struct devices *dv);

/* The phones a sync request queued: udid[i] for i < n (malloc'ed). */
struct devices_queued {
	char (*udid)[44];
	size_t n;
};
void devices_queued_release(struct devices_queued *q); /* NULL is a no-op */

/*
 * Ask for a sync of one phone (udid) or of all attached phones (udid NULL).
 * -ENOENT when udid is unknown or detached. Fills queued (may be NULL; release it after a
 * success) with the udids queued. With cb, *wait_out is set and cb runs once when done,
 * unless devices_wait_cancel() was called first (the client went away).
 */
int devices_sync(struct devices *dv, const char *udid, struct devices_queued *queued,
		 devices_sync_cb cb, void *arg, struct devices_wait **wait_out);
void devices_wait_cancel(struct devices_wait *w);

void devices_counts(const struct devices *dv, unsigned *attached, unsigned *syncing,
		    unsigned *total);
int devices_usbmuxd_connected(const struct devices *dv);

/* A phone known in this run: its state name (static) and whether it is attached. */
struct devices_phone {
	char udid[44];
	const char *state;
	int attached;
};
/* Fill out[0..max) with the phones known in this run; returns how many there are. */
size_t devices_list(const struct devices *dv, struct devices_phone *out, size_t max);

/*
 * Graceful stop: unsubscribe from usbmuxd (joins libusbmuxd's thread), cancel jobs at a
 * safe point, close every handle; done_cb runs on the loop when nothing is left running.
 */
void devices_stop(struct devices *dv, void (*done_cb)(void *arg), void *arg);
void devices_free(struct devices *dv); /* after done_cb; NULL is a no-op */

#endif
