/* devices_live.c: live detection: a syslog_relay follower per idle phone; a saved report syncs it
 */
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "devices_impl.h"
#include "log.h"
#include "trim.h"

/*
 * A phone that reaches idle (a good sync: attached, trusted) gets a follower
 * (syslogwatch.c: a thread connects, the loop reads the stream) unless live_detection = no. The
 * follower posts MAILBOX_SAVED for each "saved a report" line and MAILBOX_ENDED when it ends; the
 * loop joins it only then (so a join never waits). A saved line marks the phone due and starts the
 * debounce timer: when it fires, every due phone is queued (a sync already running gets one
 * follow-up, phone_enqueue). A follower that could not start is logged once per attach; the
 * periodic re-sync remains, and the next idle state (after the next sync, or a re-attach) tries
 * again. Detach, stop and live_detection = no stop the followers; stop waits for their end
 * (dv->followers) before the handles close.
 */

#define LIVE_MAILBOX_CAP 256
#define LIVE_DEBOUNCE_MS 200

static struct phone *find(struct devices *dv, const char *udid)
{
	for (struct phone *ph = dv->phones; ph; ph = ph->next)
		if (!strcmp(ph->udid, udid))
			return ph;
	return NULL;
}

static void follow(struct phone *ph)
{
	struct devices *dv = ph->dv;
	int r;

	if (!dv->live_ok || !dv->cfg->live_detection || dv->stopping || !ph->attached ||
	    ph->state != PH_IDLE || ph->follow)
		return;
	r = syslogwatch_start(dv->loop, &dv->live_mb, ph->udid, ph->network, &ph->follow);
	if (r < 0) {
		ph->follow = NULL;
		log_warn("devices", "'%s': live detection: cannot start a thread: %s", ph->udid,
			 strerror(-r));
		return;
	}
	ph->follow_stopped = 0;
	dv->followers++;
	log_debug("devices", "'%s': following its system log", ph->udid);
}

static void unfollow(struct phone *ph)
{
	if (ph->follow && !ph->follow_stopped) {
		ph->follow_stopped = 1;
		syslogwatch_stop(ph->follow);
	}
}

static void live_timer_cb(uv_timer_t *t)
{
	struct devices *dv = t->data;

	for (struct phone *ph = dv->phones; ph; ph = ph->next) {
		if (!ph->live_due)
			continue;
		ph->live_due = 0;
		if (ph->attached) {
			log_debug("devices", "'%s': a report was saved: syncing", ph->udid);
			ph->backoff_s = 0;
			phone_enqueue(ph);
		}
	}
}

static void saved(struct phone *ph)
{
	struct devices *dv = ph->dv;

	if (!ph->attached || dv->stopping)
		return;
	ph->live_due = 1;
	if (!uv_is_active((uv_handle_t *)&dv->live_timer))
		uv_timer_start(&dv->live_timer, live_timer_cb, LIVE_DEBOUNCE_MS, 0);
}

/* The follower's thread has ended: join it, say why, and follow again if still wanted. */
static void ended(struct phone *ph)
{
	struct devices *dv = ph->dv;
	const char *err = NULL;
	int streamed = syslogwatch_result(ph->follow, &err);
	int stopped = ph->follow_stopped;

	if (!stopped && !streamed && !ph->follow_logged) {
		ph->follow_logged = 1;
		log_warn("devices", "'%s': live detection unavailable (%s): re-sync only", ph->udid,
			 err);
	} else if (!stopped && streamed) {
		log_info("devices", "'%s': system log %s", ph->udid, err[0] ? err : "closed");
	}
	syslogwatch_free(ph->follow);
	ph->follow = NULL;
	ph->follow_stopped = 0;
	dv->followers--;
	if (dv->stopping)
		devices_maybe_finish(dv);
	else if (stopped)
		follow(ph); /* stopped at a detach, and attached and idle again since */
}

/* A MAILBOX_ENDED: the thread ended (it may have handed the stream to the loop), or all. */
static void check_ended(struct phone *ph)
{
	syslogwatch_thread_done(ph->follow);
	if (syslogwatch_ended(ph->follow))
		ended(ph);
	else if (ph->dv->in_flight == 0)
		trim_heap_soon(ph->dv->loop); /* its handshake's heap and pages, when all is idle */
}

static void live_drain_cb(struct mailbox *mb, const struct mailbox_event *v, size_t n, int overflow)
{
	struct devices *dv = mb->data;

	for (size_t i = 0; i < n; i++) {
		struct phone *ph = find(dv, v[i].udid);

		if (!ph || !ph->follow)
			continue;
		if (v[i].kind == MAILBOX_SAVED)
			saved(ph);
		else if (v[i].kind == MAILBOX_ENDED)
			check_ended(ph);
	}
	if (!overflow)
		return;
	/* events were dropped: any follower may have saved a report, or ended */
	log_warn("devices", "live detection: events were dropped; syncing the followed phones");
	for (struct phone *ph = dv->phones; ph; ph = ph->next) {
		if (ph->follow)
			syslogwatch_thread_done(ph->follow);
		if (ph->follow && syslogwatch_ended(ph->follow))
			ended(ph);
		else if (ph->follow)
			saved(ph);
	}
}

void devices_live_init(struct devices *dv)
{
	int r;

	uv_timer_init(dv->loop, &dv->live_timer);
	dv->live_timer.data = dv;
	r = mailbox_init(&dv->live_mb, dv->loop, LIVE_MAILBOX_CAP, live_drain_cb);
	if (r < 0) {
		log_warn("devices", "live detection off: %s", strerror(-r));
		return;
	}
	dv->live_mb.data = dv;
	dv->live_ok = 1;
}

void devices_live_state(struct phone *ph)
{
	if (ph->state == PH_IDLE)
		follow(ph);
	else if (ph->state == PH_DETACHED)
		unfollow(ph);
}

void devices_live_reconfigure(struct devices *dv)
{
	for (struct phone *ph = dv->phones; ph; ph = ph->next) {
		if (dv->cfg->live_detection)
			follow(ph);
		else
			unfollow(ph);
	}
}

void devices_live_stop(struct devices *dv)
{
	uv_timer_stop(&dv->live_timer);
	for (struct phone *ph = dv->phones; ph; ph = ph->next)
		unfollow(ph);
}

static void live_timer_closed_cb(uv_handle_t *h)
{
	devices_handle_closed(h->data);
}

static void live_mb_closed_cb(struct mailbox *mb)
{
	devices_handle_closed(mb->data);
}

void devices_live_close(struct devices *dv)
{
	dv->open_handles++;
	uv_close((uv_handle_t *)&dv->live_timer, live_timer_closed_cb);
	if (dv->live_ok) {
		dv->open_handles++;
		mailbox_close(&dv->live_mb, live_mb_closed_cb);
	}
}
