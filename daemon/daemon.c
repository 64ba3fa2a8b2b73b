/* daemon.c: calls between the daemon's subsystems: pushes to subscribers, sd_notify STATUS= */
#include <stdio.h>

#include <cjson/cJSON.h>

#include "daemon.h"
#include "devices.h"
#include "ipc.h"
#include "log.h"
#include "sd.h"
#include "store.h"

void daemon_publish_device(struct daemon *d, const char *udid)
{
	cJSON *dev = NULL, *msg;

	if (d->ipc == NULL || d->store == NULL || udid == NULL)
		return;
	if (store_device_json(d->store, udid, &dev) < 0)
		return;
	msg = cJSON_CreateObject();
	if (msg && cJSON_AddStringToObject(msg, "push", "device")) {
		cJSON_AddItemToObject(msg, "device", dev);
		dev = NULL;
		ipc_broadcast(d->ipc, IPC_TOPIC_DEVICES, msg);
	}
	cJSON_Delete(dev);
	cJSON_Delete(msg);
	daemon_notify_status(d);
}

void daemon_publish_report(struct daemon *d, int64_t report_id)
{
	cJSON *events = NULL, *ev;

	if (d->ipc == NULL || d->store == NULL)
		return;
	if (store_report_events_json(d->store, report_id, &events) < 0)
		return;
	cJSON_ArrayForEach(ev, events)
	{
		cJSON *msg = cJSON_CreateObject();

		if (msg == NULL || !cJSON_AddStringToObject(msg, "push", "event")) {
			cJSON_Delete(msg);
			break;
		}
		cJSON_AddItemReferenceToObject(msg, "event", ev);
		ipc_broadcast(d->ipc, IPC_TOPIC_EVENTS, msg);
		cJSON_Delete(msg);
	}
	cJSON_Delete(events);
}

void daemon_notify_status(struct daemon *d)
{
	unsigned attached = 0, syncing = 0, total = 0;

	if (d->stopping)
		return;
	if (d->devices)
		devices_counts(d->devices, &attached, &syncing, &total);
	sd_notify_statef("STATUS=%u phones attached, %u syncing, %u known; %u clients; usbmuxd %s",
			 attached, syncing, total, ipc_client_count(d->ipc),
			 d->devices && devices_usbmuxd_connected(d->devices) ? "connected"
									     : "disconnected");
}
