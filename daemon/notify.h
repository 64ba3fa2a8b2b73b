/* notify.h: sd_notify from the event loop: never blocks, STATUS= coalesced, retried when refused */
#ifndef JETSAMD_NOTIFY_H
#define JETSAMD_NOTIFY_H

#include <stdint.h>
#include <uv.h>

/*
 * DESIGN
 * sd_notify_state() (sd.c) never blocks: when the service manager has not read the
 * datagrams before (its queue is full) it returns -EAGAIN. This keeps what is not sent yet
 * and sends it from a timer: the lifecycle states (READY=1, RELOADING=1, STOPPING=1) in
 * order, a WATCHDOG=1 ping, and the newest STATUS= text, at most one per
 * NOTIFY_STATUS_INTERVAL_MS: a burst of clients or phones changes the counts hundreds of
 * times a second, and the manager (or a test's listener) needs the last of them only.
 * Without NOTIFY_SOCKET every call is a no-op.
 */

/* STATUS= at most this often; a change inside the interval is sent at its end. */
#define NOTIFY_STATUS_INTERVAL_MS 1000
/* A refused datagram (-EAGAIN) is tried again after this long. */
#define NOTIFY_RETRY_MS 50
/* Lifecycle states waiting at once; beyond this the oldest is dropped (and logged). */
#define NOTIFY_STATES_MAX 8

struct notify {
	uv_timer_t timer;
	int enabled, timer_init;
	char states[NOTIFY_STATES_MAX][16]; /* READY=1 ... in order */
	unsigned nstates;
	int watchdog; /* a WATCHDOG=1 waits */
	char status[256], status_sent[256];
	uint64_t status_at; /* clock_now_ms() of the last STATUS= sent, 0 = never */
};

/* Embedded: reads NOTIFY_SOCKET. 0, or a negative errno from uv_timer_init. */
int notify_init(struct notify *n, uv_loop_t *loop);
/* A lifecycle state ("READY=1", "RELOADING=1", "STOPPING=1"), sent in order. */
void notify_state(struct notify *n, const char *state);
/* WATCHDOG=1 (one waiting ping stands for any number). */
void notify_watchdog(struct notify *n);
/* The STATUS= text (without "STATUS="); the newest is sent, at most once an interval. */
void notify_status(struct notify *n, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* One last try of what waits, then the timer closes; what is still refused is dropped. */
void notify_release(struct notify *n);

#endif
