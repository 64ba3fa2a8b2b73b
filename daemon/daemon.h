/* daemon.h: the daemon's shared context and the calls between its subsystems */
#ifndef JETSAMD_DAEMON_H
#define JETSAMD_DAEMON_H

#include <stdint.h>
#include <uv.h>

#include "config.h"

struct store;
struct ipc;
struct devices;

struct daemon {
	uv_loop_t *loop;
	struct config cfg; /* current config; replaced whole on SIGHUP */
	struct store *store;
	struct ipc *ipc;
	struct devices *devices;
	int64_t started; /* epoch seconds */
	int stopping;
};

/* Push a phone's current state (from the store) to "devices" subscribers. */
void daemon_publish_device(struct daemon *d, const char *udid);
/* Push each kill event of a newly ingested report to "events" subscribers. */
void daemon_publish_report(struct daemon *d, int64_t report_id);
/* Refresh sd_notify STATUS= (device and job counts). */
void daemon_notify_status(struct daemon *d);

#endif
