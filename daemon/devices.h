/* devices.h: watching usbmuxd and syncing every attached phone (the device side of jetsamd) */
#ifndef JETSAMD_DEVICES_H
#define JETSAMD_DEVICES_H

#include <stddef.h>

struct daemon;
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

/* Subscribe to usbmuxd (config usbmuxd_socket) and start syncing. Returns 0 or -errno. */
int devices_new(struct daemon *d, struct devices **out);
/* The config in struct daemon was replaced (SIGHUP): pick up intervals and policies. */
void devices_reconfigure(struct devices *dv);

/*
 * Ask for a sync of one phone (udid) or of all attached phones (udid NULL).
 * -ENOENT when udid is unknown or detached. Appends each queued udid to queued (a cJSON
 * array, may be NULL). With cb, *wait_out is set and cb runs once when done, unless
 * devices_wait_cancel() was called first (the client went away).
 */
int devices_sync(struct devices *dv, const char *udid, void *queued /* cJSON array */,
		 devices_sync_cb cb, void *arg, struct devices_wait **wait_out);
void devices_wait_cancel(struct devices_wait *w);

void devices_counts(const struct devices *dv, unsigned *attached, unsigned *syncing,
		    unsigned *total);
int devices_usbmuxd_connected(const struct devices *dv);

/*
 * Graceful stop: unsubscribe from usbmuxd (joins libusbmuxd's thread), cancel jobs at a
 * safe point, close every handle; done_cb runs on the loop when nothing is left running.
 */
void devices_stop(struct devices *dv, void (*done_cb)(void *arg), void *arg);
void devices_free(struct devices *dv); /* after done_cb; NULL is a no-op */

#endif
