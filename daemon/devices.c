/* devices.c: the phones of jetsamd: usbmuxd events, per-phone state, waited syncs, run queue */
#include <errno.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "devices.h"
#include "devices_impl.h"
#include "log.h"
#include "store.h"

/*
 * DESIGN
 * Loop thread only. One struct phone per udid ever attached in this run (never freed before
 * devices_free, so jobs may point at it). A phone has at most one job in flight (a sync,
 * then, with remove_after_pull, a removal); at most max_parallel_syncs jobs run at once, the
 * others wait in a FIFO run queue. Each attach/detach bumps the phone's generation; a job
 * result whose generation is stale is dropped (its archive writes are harmless:
 * content-addressed). One timer per phone: the next resync (resync_interval after a good
 * sync) or the next retry (retry_min doubling to retry_max after locked/untrusted/error).
 * Nothing runs when nothing is due. Waited syncs: a waiter joins the phone's next sync (one
 * that starts after the request); results are delivered from a zero timer so a callback
 * never runs inside a devices_* call.
 * The jobs live in devices_sync.c. Store writes are store jobs (storeq.h), one per batch of
 * reports (devices_stage.c: archived and parsed beside the downloads, one flush each); a
 * removal job is started only after the commit of every file it may remove, and it makes the
 * store durable (store_sync_durable) in its worker before fetch_remove() touches the phone.
 * Live detection lives in devices_live.c: an idle phone's system log is followed
 * (syslogwatch.c: opened on a thread, read on the loop); a saved-report line queues the phone
 * (debounced).
 */

const char *const phone_state_names[] = {
	[PH_ATTACHED] = "attached", [PH_SYNCING] = "syncing",	  [PH_IDLE] = "idle",
	[PH_LOCKED] = "locked",	    [PH_UNTRUSTED] = "untrusted", [PH_ERROR] = "error",
	[PH_DETACHED] = "detached",
};

/* ---- waits ---- */

static void deliver_cb(uv_timer_t *t)
{
	struct devices *dv = t->data;
	struct devices_wait *w = dv->done_waits;

	dv->done_waits = NULL;
	while (w) {
		struct devices_wait *next = w->next;

		if (!w->cancelled)
			w->cb(w->arg, w->res, w->n);
		for (size_t i = 0; i < w->n; i++)
			free(w->res[i].error);
		free(w->res);
		free(w);
		w = next;
	}
}

static void wait_complete(struct devices *dv, struct waitref *ref, const struct phone *ph)
{
	struct devices_wait *w = ref->w;
	struct devices_sync_result *r = &w->res[ref->idx];

	r->state = phone_state_names[ph->state];
	r->new_reports = ph->new_reports;
	free(r->error);
	r->error = ph->error ? strdup(ph->error) : NULL;
	if (--w->pending == 0) {
		w->next = dv->done_waits;
		dv->done_waits = w;
		if (!dv->closing)
			uv_timer_start(&dv->deliver, deliver_cb, 0, 0);
	}
	free(ref);
}

void devices_complete_waits(struct devices *dv, struct waitref **list, const struct phone *ph)
{
	struct waitref *ref = *list;

	*list = NULL;
	while (ref) {
		struct waitref *next = ref->next;

		wait_complete(dv, ref, ph);
		ref = next;
	}
}

/* ---- state ---- */

void phone_set_state(struct phone *ph, enum phone_state st, const char *error)
{
	if (ph->state != st || (error != NULL) != (ph->error != NULL) ||
	    (error && strcmp(error, ph->error)))
		log_info("devices", "'%s': %s%s%s", ph->udid, phone_state_names[st],
			 error ? ": " : "", error ? error : "");
	if (st == PH_SYNCING && ph->state != PH_SYNCING)
		ph->sync_started_ms = clock_now_ms();
	else if (ph->state == PH_SYNCING && st != PH_SYNCING && st != PH_DETACHED &&
		 ph->dv->ops->sync_cb)
		ph->dv->ops->sync_cb(ph->dv->arg, ph->udid,
				     (double)(clock_now_ms() - ph->sync_started_ms) / 1000.0,
				     st != PH_IDLE);
	ph->state = st;
	free(ph->error);
	ph->error = error ? strdup(error) : NULL;
	phone_store_state(ph, phone_state_names[st], error); /* device_cb once it is written */
	devices_live_state(ph);
}

static struct phone *phone_find(struct devices *dv, const char *udid)
{
	for (struct phone *ph = dv->phones; ph; ph = ph->next)
		if (!strcmp(ph->udid, udid))
			return ph;
	return NULL;
}

static struct phone *phone_get(struct devices *dv, const char *udid)
{
	struct phone *ph = phone_find(dv, udid);

	if (ph)
		return ph;
	ph = calloc(1, sizeof(*ph));
	if (!ph)
		return NULL;
	ph->dv = dv;
	strncpy(ph->udid, udid, sizeof(ph->udid) - 1);
	ph->state = PH_DETACHED;
	uv_timer_init(dv->loop, &ph->timer);
	ph->timer.data = ph;
	ph->next = dv->phones;
	dv->phones = ph;
	return ph;
}

/* ---- run queue ---- */

static void queue_remove(struct devices *dv, struct phone *ph)
{
	struct phone **pp = &dv->qhead, *prev = NULL;

	if (!ph->queued)
		return;
	while (*pp && *pp != ph) {
		prev = *pp;
		pp = &(*pp)->qnext;
	}
	if (*pp) {
		*pp = ph->qnext;
		if (dv->qtail == ph)
			dv->qtail = prev;
	}
	ph->qnext = NULL;
	ph->queued = 0;
}

void phone_enqueue(struct phone *ph)
{
	struct devices *dv = ph->dv;

	if (!ph->attached || dv->stopping)
		return;
	if (ph->job) {
		ph->want = 1;
		return;
	}
	if (ph->queued)
		return;
	uv_timer_stop(&ph->timer);
	ph->queued = 1;
	ph->qnext = NULL;
	if (dv->qtail)
		dv->qtail->qnext = ph;
	else
		dv->qhead = ph;
	dv->qtail = ph;
	devices_pump(dv);
}

static void timer_cb(uv_timer_t *t)
{
	phone_enqueue(t->data);
}

void phone_arm_timer(struct phone *ph, unsigned seconds)
{
	if (ph->dv->stopping || !ph->attached || seconds == 0)
		return;
	uv_timer_start(&ph->timer, timer_cb, (uint64_t)seconds * 1000u, 0);
}

/* ---- devwatch callbacks ---- */

static void attach_cb(void *arg, const char *udid, int network)
{
	struct devices *dv = arg;
	struct phone *ph = phone_get(dv, udid);

	if (!ph) {
		log_err("devices", "out of memory: phone '%s' ignored", udid);
		return;
	}
	ph->gen++;
	ph->attached = 1;
	ph->network = network;
	ph->backoff_s = 0;
	ph->follow_logged = 0;
	phone_store_attach(ph, network ? "Network" : "USB");
	phone_set_state(ph, PH_ATTACHED, NULL);
	phone_enqueue(ph);
}

static void detach_cb(void *arg, const char *udid)
{
	struct devices *dv = arg;
	struct phone *ph = phone_find(dv, udid);

	if (!ph || !ph->attached)
		return;
	ph->gen++;
	ph->attached = 0;
	ph->want = 0;
	ph->new_reports = 0;
	if (ph->job) {
		atomic_store(&ph->job->cancel, 1);
		fetch_abort_now(&ph->job->abort);
	}
	queue_remove(dv, ph);
	uv_timer_stop(&ph->timer);
	phone_set_state(ph, PH_DETACHED, NULL);
	devices_complete_waits(dv, &ph->cur_waits, ph);
	devices_complete_waits(dv, &ph->next_waits, ph);
}

static void paired_cb(void *arg, const char *udid)
{
	struct devices *dv = arg;
	struct phone *ph = phone_find(dv, udid);

	if (ph && ph->attached && ph->state == PH_UNTRUSTED) {
		ph->backoff_s = 0;
		phone_enqueue(ph);
	}
}

static void connected_cb(void *arg, int connected)
{
	struct devices *dv = arg;

	(void)connected;
	dv->ops->status_cb(dv->arg);
}

const struct devwatch_ops devices_watch_ops = {
	.attach_cb = attach_cb,
	.detach_cb = detach_cb,
	.paired_cb = paired_cb,
	.connected_cb = connected_cb,
};

/* ---- public ---- */

int devices_new(uv_loop_t *loop, const struct config *cfg, struct storeq *sq,
		const struct devices_ops *ops, void *arg, struct devices **out)
{
	struct devices *dv = calloc(1, sizeof(*dv));
	int r;

	if (!dv)
		return -ENOMEM;
	dv->loop = loop;
	dv->cfg = cfg;
	dv->sq = sq;
	dv->ops = ops;
	dv->arg = arg;
	if (cfg->usbmuxd_socket && setenv("USBMUXD_SOCKET_ADDRESS", cfg->usbmuxd_socket, 1)) {
		r = -errno;
		free(dv);
		return r;
	}
	/* without usbmuxd_socket, libusbmuxd still honours an inherited USBMUXD_SOCKET_ADDRESS */
	r = devwatch_new(
		loop, cfg->usbmuxd_socket ? cfg->usbmuxd_socket : getenv("USBMUXD_SOCKET_ADDRESS"),
		&devices_watch_ops, dv, &dv->watch);
	if (r < 0) {
		log_err("devices", "cannot watch usbmuxd: %s", strerror(-r));
		free(dv);
		return r;
	}
	uv_timer_init(loop, &dv->deliver);
	dv->deliver.data = dv;
	devices_live_init(dv);
	*out = dv;
	return 0;
}

void devices_reconfigure(struct devices *dv)
{
	const struct config *cfg = dv->cfg;
	const char *cur = getenv("USBMUXD_SOCKET_ADDRESS");

	/* setenv() while libusbmuxd threads read the environment would race */
	if (cfg->usbmuxd_socket && strcmp(cfg->usbmuxd_socket, cur ? cur : ""))
		log_warn("devices", "usbmuxd_socket changes take effect after a restart");
	for (struct phone *ph = dv->phones; ph; ph = ph->next)
		if (ph->attached && ph->state == PH_IDLE && !ph->job && !ph->queued) {
			uv_timer_stop(&ph->timer);
			phone_arm_timer(ph, cfg->resync_interval_s);
		}
	devices_live_reconfigure(dv);
	devices_pump(dv);
}

int devices_sync(struct devices *dv, const char *udid, struct devices_queued *queued,
		 devices_sync_cb cb, void *arg, struct devices_wait **wait_out)
{
	struct devices_wait *w = NULL;
	struct phone *one = NULL;
	size_t n = 0, i = 0;

	if (wait_out)
		*wait_out = NULL;
	if (dv->stopping)
		return -ESHUTDOWN;
	if (udid) {
		one = phone_find(dv, udid);
		if (!one || !one->attached)
			return -ENOENT;
		n = 1;
	} else {
		for (struct phone *ph = dv->phones; ph; ph = ph->next)
			n += ph->attached != 0;
	}
	if (queued) {
		queued->n = 0;
		queued->udid = n ? calloc(n, sizeof(*queued->udid)) : NULL;
		if (n && !queued->udid)
			return -ENOMEM;
	}
	if (cb) {
		w = calloc(1, sizeof(*w));
		if (!w || (n && !(w->res = calloc(n, sizeof(*w->res))))) {
			free(w);
			devices_queued_release(queued);
			return -ENOMEM;
		}
		w->cb = cb;
		w->arg = arg;
		w->n = n;
		w->pending = n;
	}
	for (struct phone *ph = one ? one : dv->phones; ph && i < n; ph = one ? NULL : ph->next) {
		if (!ph->attached)
			continue;
		if (queued)
			memcpy(queued->udid[queued->n++], ph->udid, sizeof(ph->udid));
		if (w) {
			struct waitref *ref = calloc(1, sizeof(*ref));

			if (!ref) {
				w->pending--; /* reported as its current state */
				w->res[i].state = phone_state_names[ph->state];
			} else {
				ref->w = w;
				ref->idx = i;
				ref->next = ph->next_waits;
				ph->next_waits = ref;
			}
			memcpy(w->res[i].udid, ph->udid, sizeof(ph->udid));
			w->res[i].state = phone_state_names[ph->state];
		}
		i++;
		ph->backoff_s = 0;
		phone_enqueue(ph);
	}
	if (w) {
		*wait_out = w;
		if (w->pending == 0) {
			w->next = dv->done_waits;
			dv->done_waits = w;
			uv_timer_start(&dv->deliver, deliver_cb, 0, 0);
		}
	}
	return 0;
}

void devices_queued_release(struct devices_queued *q)
{
	if (!q)
		return;
	free(q->udid);
	q->udid = NULL;
	q->n = 0;
}

void devices_wait_cancel(struct devices_wait *w)
{
	if (w)
		w->cancelled = 1;
}

void devices_counts(const struct devices *dv, unsigned *attached, unsigned *syncing,
		    unsigned *total)
{
	unsigned a = 0, s = 0, t = 0;

	for (const struct phone *ph = dv ? dv->phones : NULL; ph; ph = ph->next) {
		t++;
		a += ph->attached != 0;
		s += ph->state == PH_SYNCING;
	}
	*attached = a;
	*syncing = s;
	*total = t;
}

size_t devices_list(const struct devices *dv, struct devices_phone *out, size_t max)
{
	size_t n = 0;

	for (const struct phone *ph = dv ? dv->phones : NULL; ph; ph = ph->next, n++) {
		if (n >= max)
			continue;
		memcpy(out[n].udid, ph->udid, sizeof(out[n].udid));
		out[n].state = phone_state_names[ph->state];
		out[n].attached = ph->attached != 0;
	}
	return n;
}

int devices_usbmuxd_connected(const struct devices *dv)
{
	return dv && devwatch_connected(dv->watch);
}

void devices_handle_closed(struct devices *dv)
{
	if (--dv->open_handles == 0 && dv->done_cb)
		dv->done_cb(dv->done_arg);
}

static void closed_cb(uv_handle_t *h)
{
	devices_handle_closed(h->data);
}

static void phone_timer_closed_cb(uv_handle_t *h)
{
	struct phone *ph = h->data;

	closed_cb((uv_handle_t *)&ph->dv->deliver);
}

void devices_maybe_finish(struct devices *dv)
{
	if (dv->closing || !dv->watch_done || dv->in_flight || dv->followers)
		return;
	/* every waiter gets an answer before the handles go */
	for (struct phone *ph = dv->phones; ph; ph = ph->next) {
		devices_complete_waits(dv, &ph->cur_waits, ph);
		devices_complete_waits(dv, &ph->next_waits, ph);
	}
	deliver_cb(&dv->deliver);
	dv->closing = 1;
	dv->open_handles = 1;
	for (struct phone *ph = dv->phones; ph; ph = ph->next) {
		dv->open_handles++;
		uv_close((uv_handle_t *)&ph->timer, phone_timer_closed_cb);
	}
	devices_live_close(dv);
	uv_close((uv_handle_t *)&dv->deliver, closed_cb);
}

static void watch_done_cb(void *arg)
{
	struct devices *dv = arg;

	dv->watch_done = 1;
	devices_maybe_finish(dv);
}

void devices_stop(struct devices *dv, void (*done_cb)(void *arg), void *arg)
{
	dv->stopping = 1;
	dv->done_cb = done_cb;
	dv->done_arg = arg;
	while (dv->qhead) {
		struct phone *ph = dv->qhead;

		dv->qhead = ph->qnext;
		ph->qnext = NULL;
		ph->queued = 0;
	}
	dv->qtail = NULL;
	devices_live_stop(dv);
	for (struct phone *ph = dv->phones; ph; ph = ph->next) {
		uv_timer_stop(&ph->timer);
		if (ph->job) {
			/* cut its sockets: a read blocked on a hung phone returns now */
			atomic_store(&ph->job->cancel, 1);
			fetch_abort_now(&ph->job->abort);
			uv_cancel((uv_req_t *)&ph->job->work);
		}
	}
	devwatch_stop(dv->watch, watch_done_cb, dv);
}

void devices_free(struct devices *dv)
{
	struct phone *ph, *next;

	if (!dv)
		return;
	for (ph = dv->phones; ph; ph = next) {
		next = ph->next;
		free(ph->error);
		free(ph);
	}
	devwatch_free(dv->watch);
	free(dv);
}
