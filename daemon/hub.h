/* hub.h: the daemon's owner of every subsystem (loop, config, store, ipc, devices, api) */
#ifndef JETSAMD_HUB_H
#define JETSAMD_HUB_H

#include <stdint.h>
#include <uv.h>

#include "api.h"
#include "config.h"
#include "notify.h"

struct store;
struct storeq;
struct ipc;
struct devices;
struct fleet;
struct metrics;

/* Only main.c sees this; the subsystems get what they need through ops tables and api_ctx. */
struct hub {
	uv_loop_t *loop;
	struct config cfg;   /* current config; replaced whole on SIGHUP (then hub_reconfigure) */
	struct store *store; /* opened here, then owned by the store thread until it ends */
	struct storeq *sq;
	struct ipc *ipc;
	struct devices *devices;
	struct api_ctx api;
	int64_t started;      /* epoch seconds */
	unsigned syncing;     /* phones syncing at the last hub_notify_status() */
	struct notify notify; /* sd_notify: READY=1, STATUS=, WATCHDOG=1 (notify.c) */
	int stopping;
	int ipc_stopped, devices_stopped, storeq_stopping, storeq_stopped;
	struct metrics *metrics; /* GET /metrics (metrics.c); NULL when not configured */
	int metrics_stopped;
	/* EVENT pushes waiting to be sent, a few hundred per loop turn (hub.c) */
	struct hub_pub *pub_head, *pub_tail;
	uv_idle_t pub_idle;
	int pub_idle_init;
	void (*stopped_cb)(void *arg);
	void *stopped_arg;
	struct fleet *fleet; /* shipping to PostgreSQL (issue 14; disabled when not configured) */
	int fleet_stopped;
};

/*
 * h->cfg is loaded. Create the state dir, open the store, listen (the activated socket or
 * cfg.socket) and start watching devices. On failure, hub_stop() still closes what started.
 */
int hub_start(struct hub *h, uv_loop_t *loop);
/* h->cfg was replaced: pass the new values on. */
void hub_reconfigure(struct hub *h);
/* Refresh sd_notify STATUS= (device and job counts; sent at most once a second). */
void hub_notify_status(struct hub *h);
/* Stop the listener, clients and devices; done_cb (may be NULL) runs when all are closed. */
void hub_stop(struct hub *h, void (*done_cb)(void *arg), void *arg);
/* After the loop ran dry: free the subsystems, close the store, release the config. */
void hub_release(struct hub *h);

#endif
