/* mailbox.h: the one cross-thread queue of jetsamd: bounded, mutex-guarded, woken by uv_async_t */
#ifndef JETSAMD_MAILBOX_H
#define JETSAMD_MAILBOX_H

#include <stddef.h>
#include <uv.h>

/*
 * Threads other than the loop (libusbmuxd's listener) post small events by value; the loop
 * drains them in the async callback, after swapping the whole queue out under the lock.
 * Sends coalesce, so one drain may carry many events. When the queue is full the event is
 * dropped and the drain reports overflow: the consumer must then re-list its devices
 * instead of trusting the event stream.
 */

enum mailbox_kind {
	MAILBOX_ADD,
	MAILBOX_REMOVE,
	MAILBOX_PAIRED,
	MAILBOX_SAVED, /* syslogwatch: the phone's crash reporter saved a report */
	MAILBOX_ENDED, /* syslogwatch: the follower's thread ended */
};

struct mailbox_event {
	enum mailbox_kind kind;
	int network; /* connection type: 0 USB, 1 Network */
	char udid[44];
};

struct mailbox;
/* On the loop: n events in posting order; overflow when some were dropped before them. */
typedef void (*mailbox_drain_cb)(struct mailbox *mb, const struct mailbox_event *v, size_t n,
				 int overflow);

struct mailbox {
	uv_async_t async;
	uv_mutex_t lock;
	struct mailbox_event *q;     /* guarded by lock */
	size_t n;		     /* guarded by lock */
	int overflow;		     /* guarded by lock */
	struct mailbox_event *spare; /* loop only */
	size_t cap;
	mailbox_drain_cb drain_cb;
	void *data; /* for the owner */
	void (*close_cb)(struct mailbox *mb);
};

/* Embedded init: cap events at most between two drains. Returns 0 or -errno. */
int mailbox_init(struct mailbox *mb, uv_loop_t *loop, size_t cap, mailbox_drain_cb drain_cb);
/* Any thread: copy ev in and wake the loop. Never blocks for long; never calls back. */
void mailbox_post(struct mailbox *mb, const struct mailbox_event *ev);
/* On the loop: close the async handle; close_cb (may be NULL) runs when it is closed. */
void mailbox_close(struct mailbox *mb, void (*close_cb)(struct mailbox *mb));

#endif
