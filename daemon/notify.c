/* notify.c: sd_notify from the event loop: never blocks, STATUS= coalesced, retried when refused */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "notify.h"
#include "sd.h"

/* Send one datagram; 1 sent (or lost for good: logged once), 0 refused for now (-EAGAIN). */
static int send_one(const char *state)
{
	int r = sd_notify_state(state);

	if (r == -EAGAIN)
		return 0;
	if (r < 0)
		log_debug("main", "sd_notify '%s': %s", state, strerror(-r));
	return 1;
}

static void timer_cb(uv_timer_t *t);

static void arm(struct notify *n, uint64_t ms)
{
	if (n->timer_init && uv_timer_start(&n->timer, timer_cb, ms, 0) < 0)
		log_warn("main", "sd_notify: cannot start its timer");
}

/*
 * Send what waits, in order: lifecycle states, the watchdog ping, then STATUS= when its
 * interval has passed. A refusal stops there and retries after NOTIFY_RETRY_MS.
 */
static void flush(struct notify *n)
{
	char buf[sizeof(n->status) + 8];
	uint64_t now;

	while (n->nstates > 0) {
		if (!send_one(n->states[0])) {
			arm(n, NOTIFY_RETRY_MS);
			return;
		}
		memmove(n->states[0], n->states[1], (n->nstates - 1) * sizeof(n->states[0]));
		n->nstates--;
	}
	if (n->watchdog) {
		if (!send_one("WATCHDOG=1")) {
			arm(n, NOTIFY_RETRY_MS);
			return;
		}
		n->watchdog = 0;
	}
	if (strcmp(n->status, n->status_sent) == 0)
		return;
	now = clock_now_ms();
	if (n->status_at != 0 && now - n->status_at < NOTIFY_STATUS_INTERVAL_MS) {
		if (n->timer_init && !uv_is_active((uv_handle_t *)&n->timer))
			arm(n, NOTIFY_STATUS_INTERVAL_MS - (now - n->status_at));
		return;
	}
	snprintf(buf, sizeof(buf), "STATUS=%s", n->status);
	if (!send_one(buf)) {
		arm(n, NOTIFY_RETRY_MS);
		return;
	}
	memcpy(n->status_sent, n->status, sizeof(n->status_sent));
	n->status_at = now;
}

static void timer_cb(uv_timer_t *t)
{
	flush(t->data);
}

int notify_init(struct notify *n, uv_loop_t *loop)
{
	const char *path = getenv("NOTIFY_SOCKET");
	int r;

	memset(n, 0, sizeof(*n));
	n->enabled = path != NULL && path[0] != '\0';
	if (!n->enabled)
		return 0;
	r = uv_timer_init(loop, &n->timer);
	if (r < 0)
		return r;
	n->timer.data = n;
	n->timer_init = 1;
	return 0;
}

void notify_state(struct notify *n, const char *state)
{
	if (!n->enabled)
		return;
	if (n->nstates == NOTIFY_STATES_MAX) {
		log_warn("main", "sd_notify: the service manager reads nothing: '%s' dropped",
			 n->states[0]);
		memmove(n->states[0], n->states[1], (n->nstates - 1) * sizeof(n->states[0]));
		n->nstates--;
	}
	snprintf(n->states[n->nstates++], sizeof(n->states[0]), "%s", state);
	flush(n);
}

void notify_watchdog(struct notify *n)
{
	if (!n->enabled)
		return;
	n->watchdog = 1;
	flush(n);
}

void notify_status(struct notify *n, const char *fmt, ...)
{
	va_list ap;

	if (!n->enabled)
		return;
	va_start(ap, fmt);
	vsnprintf(n->status, sizeof(n->status), fmt, ap);
	va_end(ap);
	flush(n);
}

void notify_release(struct notify *n)
{
	if (!n->timer_init)
		return;
	n->status_at = 0; /* the last STATUS= goes now, if it can */
	flush(n);
	uv_timer_stop(&n->timer);
	uv_close((uv_handle_t *)&n->timer, NULL);
	n->timer_init = 0;
	n->enabled = 0;
}
