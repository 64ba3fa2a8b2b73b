/* devwatch.h: usbmuxd device events into the loop, with re-subscription when usbmuxd restarts */
#ifndef JETSAMD_DEVWATCH_H
#define JETSAMD_DEVWATCH_H

#include <uv.h>

/*
 * DESIGN
 * libimobiledevice 1.3.0 has one global subscription (idevice_event_subscribe). Its callback
 * runs on libusbmuxd's listener thread (or on the thread calling (un)subscribe) under
 * libusbmuxd's listener mutex: it only copies the event into the mailbox and wakes the loop.
 * Subscribing, unsubscribing (which joins the listener thread) and listing devices block,
 * so they run as thread-pool jobs, one at a time.
 *
 * libusbmuxd 2.0.2's listener, when its connection drops, reports every device removed and
 * then, when the first reconnect fails, waits on inotify for /var/run/usbmuxd only: with a
 * custom socket it never comes back (and cancelling it there leaks its inotify fd). devwatch
 * turns inotify off in libusbmuxd (the listener then retries once a second while it lives)
 * and
 *  - after any removal (debounced) lists devices; when usbmuxd does not answer it
 *    unsubscribes and is "down";
 *  - watches the socket's directory (uv_fs_event): when the socket file is replaced it
 *    re-subscribes, which replays an add event per phone;
 *  - while down, tries again on that watch and on a backoff timer (0.5 s doubling to 30 s);
 *  - when a listing shows a phone the event stream never announced (twice in a row, 1 s
 *    apart), or events were dropped, it re-subscribes.
 * Owners see only attach / detach / connected callbacks, on the loop.
 */

struct devwatch;

struct devwatch_ops {
	void (*attach_cb)(void *arg, const char *udid, int network);
	void (*detach_cb)(void *arg, const char *udid);
	void (*paired_cb)(void *arg, const char *udid);
	void (*connected_cb)(void *arg, int connected);
};

/*
 * usbmuxd_socket: "UNIX:/path", "HOST:PORT" or NULL (the default /var/run/usbmuxd); the
 * caller has already exported it as USBMUXD_SOCKET_ADDRESS. Starts connecting at once.
 */
int devwatch_new(uv_loop_t *loop, const char *usbmuxd_socket, const struct devwatch_ops *ops,
		 void *arg, struct devwatch **out);
int devwatch_connected(const struct devwatch *w);
/* Unsubscribe (joins libusbmuxd's thread off the loop), close every handle, then done_cb. */
void devwatch_stop(struct devwatch *w, void (*done_cb)(void *arg), void *arg);
void devwatch_free(struct devwatch *w); /* after done_cb; NULL is a no-op */

#endif
