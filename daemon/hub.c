/* hub.c: owns and wires jetsamd's subsystems: start, stop, pushes to subscribers, STATUS= */

/*
 * DESIGN: data flows one way, top to bottom; no file includes a file above it.
 *
 *   main.c              options, config file, state-dir lock (statedir.c), signals, the loop
 *     hub.c             owns loop, config, store, ipc, devices; implements their ops tables
 *       api.c           socket commands: decode, dispatch, queries             (L2 commands)
 *       import.c        the import command        reparse.c   the reparse command
 *       api_common.c    what they share: struct api_ctx (set here), replies
 *         ipc.c         clients, line framing; ipc_sock.c listen + peer creds  (L3 services)
 *                       ipc_out.c reply queues, ipc_limits.c limits, timeouts, byte budget
 *         devices.c     phones, states, waits; devices_sync.c: sync/removal jobs;
 *                       devices_live.c: live detection (syslogwatch.c follows a phone's log)
 *         ingest.c      hash, archive, parse (worker); commit (store job), EVENT JSON (loop)
 *         fleet.c       shipping to PostgreSQL: outbox batches (store jobs) to its thread
 *         notify.c      sd_notify states from the loop: never blocks, STATUS= once a second
 *           fleet_pg.c  libpq on the fleet thread     store_outbox.c the outbox (store)
 *           fetch.c     AFC walk, download, remove (worker); fetch_conn.c connects (L4)
 *                       fetch_abort.c: the loop cuts a job's sockets (stop, deadline)
 *           devwatch.c  usbmuxd events      store*.c  SQLite, split by job (store_internal.h)
 *           storeq.c    the store thread: owns the connection; every store call is a store job
 *             fileindex, durable, archive.c, statedir.c, proto/ (report parser,
 *             request decoder, protocol.h, isotime, sanitize)                     (L5 base)
 *   anywhere: log.h, config.h, sd.h, mailbox.h, clock.h, readfile.h, trim.h
 *
 * Upward calls go through ops tables set here: ipc_ops (request line, raw bytes, client gone,
 * client count), devices_ops (device row changed, report ingested, status), devwatch_ops
 * (inside devices). api, import and reparse see struct api_ctx, never struct hub.
 *
 * Where to change what:
 *  - a socket command: a cmd_* in api.c (or its own file like import.c) and its name in
 *    api_commands[]; the protocol text in proto/PROTOCOL.md; the client in client/.
 *  - a report format: the parser in proto/ (report*.c); ingest.c and the store take any
 *    struct report, and reparse re-reads the archive with the new parser.
 *  - a store column: a step in migrations[] (store.c), then the job file that writes and
 *    renders it (store_internal.h says which); ingest.c if the value comes from a report.
 *  - a push to subscribers: the ops callbacks below (publish()).
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "../proto/protocol.h"
#include "api.h"
#include "devices.h"
#include "fleet.h"
#include "hub.h"
#include "ingest.h"
#include "ipc.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "sd.h"
#include "statedir.h"
#include "store.h"
#include "storeq.h"

/* ---- pushes to subscribers ---- */

static void publish(struct hub *h, unsigned topic, const char *kind, cJSON *item)
{
	cJSON *msg = cJSON_CreateObject();

	if (msg && item && cJSON_AddStringToObject(msg, "push", kind)) {
		cJSON_AddItemToObject(msg, kind, item);
		item = NULL;
		ipc_broadcast(h->ipc, topic, msg);
	}
	cJSON_Delete(item);
	cJSON_Delete(msg);
}

/* devices_ops.device_cb: push the phone's DEVICE row, as the store just wrote it */
static void device_cb(void *arg, const struct store_device *row)
{
	struct hub *h = arg;

	if (h->ipc != NULL && !h->stopping && (ipc_topics(h->ipc) & IPC_TOPIC_DEVICES))
		publish(h, IPC_TOPIC_DEVICES, PROTO_PUSH_DEVICE, store_device_row_json(row));
	fleet_kick(h->fleet);
	hub_notify_status(h);
}

/*
 * EVENT pushes: a new report may hold max_events_per_report events, so they are sent a few
 * hundred per loop turn (an idle handle), in report order, and a `status` is never queued
 * behind a whole report's pushes. The EVENT objects were rendered on the store thread.
 */
#define HUB_PUB_PER_TURN 256

struct hub_pub {
	cJSON *events; /* owned array */
	cJSON *next_ev;
	struct hub_pub *next;
};

static void pub_send(struct hub *h, cJSON *ev)
{
	cJSON *msg = cJSON_CreateObject();

	if (msg && cJSON_AddStringToObject(msg, "push", PROTO_PUSH_EVENT) &&
	    cJSON_AddItemReferenceToObject(msg, PROTO_PUSH_EVENT, ev))
		ipc_broadcast(h->ipc, IPC_TOPIC_EVENTS, msg);
	cJSON_Delete(msg);
}

static void pub_idle_cb(uv_idle_t *idle)
{
	struct hub *h = idle->data;
	unsigned n = 0;

	while (h->pub_head && n < HUB_PUB_PER_TURN) {
		struct hub_pub *p = h->pub_head;

		for (; p->next_ev && n < HUB_PUB_PER_TURN; n++) {
			pub_send(h, p->next_ev);
			p->next_ev = p->next_ev->next;
		}
		if (p->next_ev)
			break;
		h->pub_head = p->next;
		if (h->pub_head == NULL)
			h->pub_tail = NULL;
		cJSON_Delete(p->events);
		free(p);
	}
	if (h->pub_head == NULL)
		uv_idle_stop(&h->pub_idle);
}

static void pub_clear(struct hub *h)
{
	while (h->pub_head) {
		struct hub_pub *p = h->pub_head;

		h->pub_head = p->next;
		cJSON_Delete(p->events);
		free(p);
	}
	h->pub_tail = NULL;
}

/* devices_ops.report_cb and api_ctx.report_cb: push each kill event of a new report */
static void report_cb(void *arg, const struct ingest_source *src, struct ingest_item *it)
{
	struct hub *h = arg;
	struct hub_pub *p;
	cJSON *events = it->events;

	fleet_kick(h->fleet); /* committed: ship it now rather than at the next look */
	if (h->ipc == NULL || h->stopping || !h->pub_idle_init ||
	    !(ipc_topics(h->ipc) & IPC_TOPIC_EVENTS))
		return;	   /* no events subscriber: nothing to render or queue */
	it->events = NULL; /* taken over */
	if (events == NULL && (events = ingest_events_json(src, it)) == NULL)
		return;
	if (events->child == NULL || (p = calloc(1, sizeof(*p))) == NULL) {
		cJSON_Delete(events);
		return;
	}
	p->events = events;
	p->next_ev = events->child;
	if (h->pub_tail)
		h->pub_tail->next = p;
	else
		h->pub_head = p;
	h->pub_tail = p;
	uv_idle_start(&h->pub_idle, pub_idle_cb);
}

static void status_cb(void *arg)
{
	hub_notify_status(arg);
}

/* devices_ops.sync_cb: a finished sync, into the metrics' histogram */
static void sync_cb(void *arg, const char *udid, double seconds, int failed)
{
	struct hub *h = arg;

	(void)udid;
	metrics_sync_observe(h->metrics, seconds, failed);
}

static const struct devices_ops devices_ops = {
	.device_cb = device_cb,
	.report_cb = report_cb,
	.status_cb = status_cb,
	.sync_cb = sync_cb,
};

/* metrics_ops.devices_cb: the phones of this run */
static size_t metrics_devices_cb(void *arg, struct devices_phone *out, size_t max)
{
	struct hub *h = arg;

	return devices_list(h->devices, out, max);
}

/* metrics_ops.fleet_cb: the shipping state for jetsamd_fleet_* */
static void metrics_fleet_cb(void *arg, struct metrics_fleet *out)
{
	struct hub *h = arg;
	struct fleet_status st;

	fleet_status(h->fleet, &st);
	out->enabled = st.enabled;
	out->connected = st.connected;
	out->outbox = st.outbox;
}

static const struct metrics_ops metrics_ops = {
	.fleet_cb = metrics_fleet_cb,
	.devices_cb = metrics_devices_cb,
};

/* ---- ipc into the api ---- */

static enum ipc_outcome request_cb(void *arg, struct ipc_client *c, const char *line, size_t len)
{
	struct hub *h = arg;

	return api_request(&h->api, c, line, len);
}

static enum ipc_outcome raw_cb(void *arg, struct ipc_client *c, void *buf, size_t len)
{
	struct hub *h = arg;

	return api_raw(&h->api, c, buf, len);
}

static void gone_cb(void *arg, struct ipc_client *c)
{
	struct hub *h = arg;

	api_client_gone(&h->api, c);
}

/* ipc_ops.topics_cb: EVENT arrays are rendered on the store thread only while they are wanted */
static void topics_cb(void *arg, unsigned topics)
{
	(void)arg;
	ingest_render_events((topics & IPC_TOPIC_EVENTS) != 0);
}

static const struct ipc_ops ipc_ops = {
	.request_cb = request_cb,
	.raw_cb = raw_cb,
	.gone_cb = gone_cb,
	.clients_cb = status_cb,
	.topics_cb = topics_cb,
};

void hub_notify_status(struct hub *h)
{
	unsigned attached = 0, syncing = 0, total = 0;

	if (h->stopping)
		return;
	if (h->devices)
		devices_counts(h->devices, &attached, &syncing, &total);
	if (h->syncing > 0 && syncing == 0 && h->sq) /* the last sync ended: shrink the store */
		storeq_release_memory(h->sq);
	h->syncing = syncing;
	notify_status(
		&h->notify, "%u phones attached, %u syncing, %u known; %u clients; usbmuxd %s",
		attached, syncing, total, ipc_client_count(h->ipc),
		h->devices && devices_usbmuxd_connected(h->devices) ? "connected" : "disconnected");
}

/* ---- start ---- */

static int open_store(struct hub *h)
{
	int r = statedir_mkdir_p(h->cfg.state_dir, 0750); /* main has locked it */

	if (r < 0) {
		log_err("main", "cannot create state dir '%s': %s", h->cfg.state_dir, strerror(-r));
		return r;
	}
	r = store_open(h->cfg.state_dir, &h->store);
	if (r < 0)
		return r;
	/* before the store thread starts: the loop's last own store call */
	r = store_devices_mark_all_detached(h->store);
	if (r < 0)
		return r;
	r = storeq_new(h->loop, h->store, &h->sq);
	if (r < 0)
		log_err("main", "cannot start the store thread: %s", strerror(-r));
	return r;
}

/* api_ctx.fleet_json_cb: the status reply's "fleet" object */
static cJSON *fleet_json_cb(void *arg)
{
	struct hub *h = arg;

	return fleet_status_json(h->fleet);
}

static int start_fleet(struct hub *h)
{
	int r = fleet_new(h->loop, &h->cfg, h->sq, &h->fleet);

	if (r < 0)
		return r;
	h->api.fleet_json_cb = fleet_json_cb;
	h->api.fleet_arg = h;
	return 0;
}

/* The metrics listener: the activated one (mfd), else metrics_listen; none: off. */
static int start_metrics(struct hub *h, int mfd)
{
	int r;

	if (mfd < 0 && mfd != -ENOENT) {
		log_err("main", "cannot use the activated metrics socket: %s", strerror(-mfd));
		return mfd;
	}
	if (mfd < 0 && h->cfg.metrics_listen[0] == '\0')
		return 0;
	r = metrics_new(h->loop, h->sq, mfd, h->cfg.metrics_listen, &metrics_ops, h, &h->metrics);
	if (r < 0)
		log_err("main", "cannot serve metrics: %s", uv_strerror(r));
	return r;
}

int hub_start(struct hub *h, uv_loop_t *loop)
{
	int fd, mfd, r;

	h->loop = loop;
	h->started = (int64_t)time(NULL);
	h->api.loop = loop;
	h->api.cfg = &h->cfg;
	h->api.started = h->started;
	h->api.report_cb = report_cb;
	h->api.report_arg = h;
	r = notify_init(&h->notify, loop);
	if (r < 0)
		return r;
	r = uv_idle_init(loop, &h->pub_idle);
	if (r < 0)
		return r;
	h->pub_idle.data = h;
	h->pub_idle_init = 1;
	r = open_store(h);
	if (r < 0)
		return r;
	h->api.sq = h->sq;
	sd_listen_sockets(&fd, &mfd);
	if (fd < 0 && fd != -ENOENT) {
		if (mfd >= 0)
			close(mfd);
		log_err("main", "cannot use the activated socket: %s", strerror(-fd));
		return fd;
	}
	r = ipc_new(loop, &h->cfg, fd >= 0 ? fd : -1, &ipc_ops, h, &h->ipc);
	h->api.ipc = h->ipc;
	if (r < 0)
		return r;
	ingest_render_events(0); /* no client subscribes yet (topics_cb follows them) */
	r = devices_new(loop, &h->cfg, h->sq, &devices_ops, h, &h->devices);
	if (r < 0) {
		log_err("main", "cannot start watching devices: %s", strerror(-r));
		return r;
	}
	h->api.devices = h->devices;
	r = start_fleet(h);
	return r < 0 ? r : start_metrics(h, mfd);
}

void hub_reconfigure(struct hub *h)
{
	if (h->devices)
		devices_reconfigure(h->devices);
	fleet_reconfigure(h->fleet, &h->cfg);
	hub_notify_status(h);
}

/* ---- stop ---- */

static void storeq_stopped_cb(void *arg)
{
	struct hub *h = arg;

	h->storeq_stopped = 1;
	log_debug("main", "store thread ended");
	notify_release(&h->notify); /* the last STATUS=, then its timer closes */
	if (h->stopped_cb)
		h->stopped_cb(h->stopped_arg);
}

/* Clients and devices first (they may still submit store jobs), then the store thread. */
static void maybe_stopped(struct hub *h)
{
	if (!h->ipc_stopped || !h->devices_stopped || !h->fleet_stopped || !h->metrics_stopped ||
	    h->storeq_stopping)
		return;
	h->storeq_stopping = 1;
	log_debug("main", "listener, clients and devices are closed");
	if (h->sq) {
		storeq_stop(h->sq, storeq_stopped_cb, h);
		return;
	}
	storeq_stopped_cb(h);
}

static void ipc_stopped_cb(void *arg)
{
	struct hub *h = arg;

	h->ipc_stopped = 1;
	maybe_stopped(h);
}

static void metrics_stopped_cb(void *arg)
{
	struct hub *h = arg;

	h->metrics_stopped = 1;
	maybe_stopped(h);
}

static void devices_stopped_cb(void *arg)
{
	struct hub *h = arg;

	h->devices_stopped = 1;
	maybe_stopped(h);
}

static void fleet_stopped_cb(void *arg)
{
	struct hub *h = arg;

	h->fleet_stopped = 1;
	maybe_stopped(h);
}

void hub_stop(struct hub *h, void (*done_cb)(void *arg), void *arg)
{
	if (h->stopping)
		return;
	h->stopping = 1;
	h->api.stopping = 1;
	h->stopped_cb = done_cb;
	h->stopped_arg = arg;
	if (h->pub_idle_init) {
		/* pushes not sent yet go nowhere: the clients are closing */
		pub_clear(h);
		h->pub_idle_init = 0;
		uv_close((uv_handle_t *)&h->pub_idle, NULL);
	}
	if (h->ipc)
		ipc_stop(h->ipc, ipc_stopped_cb, h);
	else
		h->ipc_stopped = 1;
	if (h->metrics)
		metrics_stop(h->metrics, metrics_stopped_cb, h);
	else
		h->metrics_stopped = 1;
	if (h->devices)
		devices_stop(h->devices, devices_stopped_cb, h);
	else
		h->devices_stopped = 1;
	if (h->fleet) /* the batch in flight finishes (its outbox entries go), then the thread */
		fleet_stop(h->fleet, fleet_stopped_cb, h);
	else
		h->fleet_stopped = 1;
	maybe_stopped(h);
}

void hub_release(struct hub *h)
{
	if (h->api.jobs_running != 0)
		log_err("main", "%u jobs still running at exit", h->api.jobs_running);
	metrics_free(h->metrics);
	h->metrics = NULL;
	devices_free(h->devices);
	h->devices = h->api.devices = NULL;
	ipc_free(h->ipc);
	h->ipc = h->api.ipc = NULL;
	fleet_free(h->fleet);
	h->fleet = NULL;
	storeq_free(h->sq);
	h->sq = h->api.sq = NULL;
	store_close(h->store);
	h->store = NULL;
	config_release(&h->cfg);
}
