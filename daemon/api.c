/* api.c: the request handlers of the socket protocol (proto/PROTOCOL.md) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include <config.h> /* JETSAMD_VERSION */

#include "../proto/isotime.h"
#include "../proto/protocol.h"
#include "../proto/request.h"
#include "../proto/report.h"
#include "api.h"
#include "config.h"
#include "devices.h"
#include "import.h"
#include "ipc.h"
#include "log.h"
#include "reparse.h"
#include "store.h"
#include "storeq.h"

#define API_LIMIT_DEFAULT 1000
#define API_LIMIT_MAX	  100000
/* a seq or a row id argument: 0 .. 2^53 */
#define API_ID_MAX 9007199254740992LL

/* The commands and the arguments each takes (any other is invalid_argument) */
static const char *const args_none[] = {NULL};
static const char *const args_hello[] = {"version", "client", NULL};
static const char *const args_reports[] = {"udid", "status", "limit", "before_id", NULL};
static const char *const args_events[] = {
	"udid",	 "product", "build", "process",		"reason",    "role", "since",
	"until", "limit",   "after", "collected_since", "before_id", NULL,
};
static const char *const args_limits[] = {"product", "build", "role", NULL};
static const char *const args_limit[] = {"product", "build", "os_version", "role", "stat", NULL};
static const char *const args_sync[] = {"udid", "wait", NULL};
static const char *const args_subscribe[] = {"topics", NULL};

static const struct api_command {
	const char *name;
	const char *const *args;
} api_commands[] = {
	{"hello", args_hello},		 {"status", args_none},	  {"devices", args_none},
	{"reports", args_reports},	 {"events", args_events}, {"limits", args_limits},
	{"limit", args_limit},		 {"cursor", args_none},	  {"sync", args_sync},
	{"import", NULL /* import.c */}, {"reparse", args_none},  {"subscribe", args_subscribe},
};

#define API_N_COMMANDS (sizeof(api_commands) / sizeof(api_commands[0]))

/* ---- simple commands ---- */

static void cmd_hello(struct api_ctx *a, struct ipc_client *c, struct request *req)
{
	int64_t version = PROTO_VERSION;
	cJSON *res, *cmds;

	(void)a;
	if (request_int(req, "version", 0, 1000000, &version) < 0) {
		api_reply_err(c, req->id, PROTO_E_BAD_REQUEST, "%s", req->err_msg);
		return;
	}
	if (version < PROTO_VERSION_MIN || version > PROTO_VERSION) {
		api_reply_err(c, req->id, PROTO_E_VERSION,
			      "client asked for protocol version %lld, the daemon speaks versions "
			      "%d to %d",
			      (long long)version, PROTO_VERSION_MIN, PROTO_VERSION);
		return;
	}
	res = cJSON_CreateObject();
	cmds = cJSON_CreateArray();
	if (res == NULL || cmds == NULL) {
		cJSON_Delete(res);
		cJSON_Delete(cmds);
		return;
	}
	for (size_t i = 0; i < API_N_COMMANDS; i++)
		cJSON_AddItemToArray(cmds, cJSON_CreateString(api_commands[i].name));
	/* the version asked for: a v1 client reads its own version back */
	cJSON_AddNumberToObject(res, "version", (double)version);
	cJSON_AddStringToObject(res, "daemon", "jetsamd " JETSAMD_VERSION);
	cJSON_AddItemToObject(res, "commands", cmds);
	api_reply_ok(c, req->id, res);
}

static void status_reply_to(struct api_ctx *a, struct ipc_client *c, const cJSON *id)
{
	unsigned attached = 0, syncing = 0, total = 0;
	int64_t reports = 0, events = 0;
	cJSON *res = cJSON_CreateObject(), *u, *dev;
	char started[32];

	if (res == NULL)
		return;
	storeq_counts(a->sq, &reports, &events);
	if (a->devices)
		devices_counts(a->devices, &attached, &syncing, &total);
	isotime_format(a->started, started);
	cJSON_AddNumberToObject(res, "version", PROTO_VERSION);
	cJSON_AddStringToObject(res, "daemon", "jetsamd " JETSAMD_VERSION);
	cJSON_AddNumberToObject(res, "pid", (double)getpid());
	cJSON_AddStringToObject(res, "started", started);
	cJSON_AddNumberToObject(res, "uptime_s", (double)(time(NULL) - a->started));
	u = cJSON_AddObjectToObject(res, "usbmuxd");
	if (u) {
		cJSON_AddBoolToObject(u, "connected",
				      a->devices ? devices_usbmuxd_connected(a->devices) : 0);
		cJSON_AddStringToObject(u, "socket",
					a->cfg->usbmuxd_socket ? a->cfg->usbmuxd_socket
							       : "UNIX:/var/run/usbmuxd");
	}
	cJSON_AddStringToObject(res, "state_dir", a->cfg->state_dir);
	dev = cJSON_AddObjectToObject(res, "devices");
	if (dev) {
		cJSON_AddNumberToObject(dev, "attached", attached);
		cJSON_AddNumberToObject(dev, "syncing", syncing);
		cJSON_AddNumberToObject(dev, "total", total);
	}
	cJSON_AddNumberToObject(res, "reports", (double)reports);
	cJSON_AddNumberToObject(res, "events", (double)events);
	cJSON_AddNumberToObject(res, "clients", ipc_client_count(a->ipc));
	cJSON_AddNumberToObject(res, "resync_interval_s", a->cfg->resync_interval_s);
	if (a->fleet_json_cb) {
		cJSON *fleet = a->fleet_json_cb(a->fleet_arg);

		if (fleet)
			cJSON_AddItemToObject(res, "fleet", fleet);
	}
	api_reply_ok(c, id, res);
}

static int status_run(struct store *s, struct api_query *q)
{
	(void)s;
	(void)q;
	return 0; /* nothing: its done_cb runs once the store thread's first count is back */
}

static void status_reply(struct api_query *q)
{
	status_reply_to(q->a, q->c, q->id);
}

/*
 * The counts are kept in memory from the store thread's commits: status never waits for the
 * store, except in the first moments after start, until the store thread's count is back.
 */
static enum ipc_outcome cmd_status(struct api_ctx *a, struct ipc_client *c, struct request *req)
{
	int64_t reports, events;
	struct api_query *q;

	if (storeq_counts(a->sq, &reports, &events) == 0) {
		status_reply_to(a, c, req->id);
		return IPC_DONE;
	}
	q = api_query_new(a, c, req);
	if (q == NULL) {
		api_reply_err(c, req->id, PROTO_E_INTERNAL, "out of memory");
		return IPC_DONE;
	}
	q->run = status_run;
	q->reply = status_reply;
	return api_query_submit(q, req);
}

static int devices_run(struct store *s, struct api_query *q)
{
	return store_devices_json(s, &q->result);
}

static cJSON *devices_build(struct api_query *q)
{
	cJSON *res = cJSON_CreateObject();

	if (res == NULL)
		return NULL;
	cJSON_AddItemToObject(res, "devices", q->result);
	q->result = NULL;
	cJSON_AddBoolToObject(res, "truncated", 0); /* every phone, always */
	return res;
}

static enum ipc_outcome cmd_devices(struct api_ctx *a, struct ipc_client *c, struct request *req)
{
	struct api_query *q = api_query_new(a, c, req);

	if (q == NULL) {
		api_reply_err(c, req->id, PROTO_E_INTERNAL, "out of memory");
		return IPC_DONE;
	}
	q->run = devices_run;
	q->build = devices_build;
	return api_query_submit(q, req);
}

/* {key: arr, "truncated": t, "next": N when truncated} */
static cJSON *build_list(struct api_query *q, const char *key)
{
	cJSON *res = cJSON_CreateObject();

	if (res == NULL)
		return NULL;
	cJSON_AddItemToObject(res, key, q->result);
	q->result = NULL;
	cJSON_AddBoolToObject(res, "truncated", q->page.truncated);
	if (q->page.truncated)
		cJSON_AddNumberToObject(res, "next", (double)q->page.next);
	return res;
}

static int reports_run(struct store *s, struct api_query *q)
{
	return store_reports_json(s, &q->f.reports, &q->result, &q->page);
}

static cJSON *reports_build(struct api_query *q)
{
	return build_list(q, "reports");
}

static int events_run(struct store *s, struct api_query *q)
{
	return store_events_json(s, &q->f.events, &q->result, &q->page);
}

static cJSON *events_build(struct api_query *q)
{
	return build_list(q, "events");
}

static int limits_run(struct store *s, struct api_query *q)
{
	return store_limits_json(s, q->f.limits.product, q->f.limits.build, q->f.limits.role,
				 &q->result);
}

static cJSON *limits_build(struct api_query *q)
{
	cJSON *res = cJSON_CreateObject();

	if (res == NULL)
		return NULL;
	cJSON_AddItemToObject(res, "limits", q->result);
	q->result = NULL;
	return res;
}

/* Submit q (its filter set from req) or reply bad_request; NULL q: out of memory. */
static enum ipc_outcome submit_checked(struct api_query *q, struct ipc_client *c,
				       struct request *req, int bad)
{
	if (q == NULL) {
		api_reply_err(c, req->id, PROTO_E_INTERNAL, "out of memory");
		return IPC_DONE;
	}
	if (bad) {
		free(q);
		return IPC_DONE;
	}
	return api_query_submit(q, req);
}

static int get_limit(struct request *req, size_t *limit)
{
	int64_t v = API_LIMIT_DEFAULT;

	if (request_int(req, "limit", 1, API_LIMIT_MAX, &v) < 0)
		return -EINVAL;
	*limit = (size_t)v;
	return 0;
}

static int get_role(struct request *req, const char **role)
{
	enum report_role r;

	if (request_string(req, "role", role) < 0)
		return -EINVAL;
	if (*role && report_role_from_name(*role, &r) < 0) {
		snprintf(req->err_msg, sizeof(req->err_msg),
			 "argument 'role' must be foreground, daemon or background");
		return -EINVAL;
	}
	return 0;
}

static enum ipc_outcome cmd_reports(struct api_ctx *a, struct ipc_client *c, struct request *req)
{
	struct api_query *q = api_query_new(a, c, req);
	struct store_report_filter f = {0};
	int bad = 0;

	if (request_string(req, "udid", &f.udid) < 0 ||
	    request_string(req, "status", &f.status) < 0 || get_limit(req, &f.limit) < 0 ||
	    request_int(req, "before_id", 1, API_ID_MAX, &f.before_id) < 0) {
		api_reply_err(c, req->id, PROTO_E_BAD_REQUEST, "%s", req->err_msg);
		bad = 1;
	} else if (f.status && strcmp(f.status, "ok") != 0 && strcmp(f.status, "skipped") != 0 &&
		   strcmp(f.status, "error") != 0) {
		api_reply_err(c, req->id, PROTO_E_BAD_REQUEST,
			      "argument 'status' must be ok, skipped or error");
		bad = 1;
	}
	if (q) {
		q->f.reports = f;
		q->run = reports_run;
		q->build = reports_build;
	}
	return submit_checked(q, c, req, bad);
}

static enum ipc_outcome cmd_events(struct api_ctx *a, struct ipc_client *c, struct request *req)
{
	struct api_query *q = api_query_new(a, c, req);
	struct store_event_filter f = {.since = REPORT_NULL, .until = REPORT_NULL};
	int bad = 0, has_after, has_since;

	has_after = request_int(req, "after", 0, API_ID_MAX, &f.after);
	has_since = has_after < 0 ? 0 : request_time(req, "collected_since", &f.collected_since);
	f.by_collection = has_after > 0 || has_since > 0;
	if (has_after < 0 || has_since < 0 ||
	    request_int(req, "before_id", 1, API_ID_MAX, &f.before_id) < 0 ||
	    request_string(req, "udid", &f.udid) < 0 ||
	    request_string(req, "product", &f.product) < 0 ||
	    request_string(req, "build", &f.build) < 0 ||
	    request_string(req, "process", &f.process) < 0 ||
	    request_string(req, "reason", &f.reason) < 0 || get_role(req, &f.role) < 0 ||
	    request_time(req, "since", &f.since) < 0 || request_time(req, "until", &f.until) < 0 ||
	    get_limit(req, &f.limit) < 0) {
		api_reply_err(c, req->id, PROTO_E_BAD_REQUEST, "%s", req->err_msg);
		bad = 1;
	} else if (f.by_collection && f.before_id > 0) {
		api_reply_err(c, req->id, PROTO_E_BAD_REQUEST,
			      "argument 'before_id' pages newest first: not with 'after' or "
			      "'collected_since' (pass 'next' back as 'after')");
		bad = 1;
	}
	if (q) {
		q->f.events = f;
		q->run = events_run;
		q->build = events_build;
	}
	return submit_checked(q, c, req, bad);
}

static enum ipc_outcome cmd_limits(struct api_ctx *a, struct ipc_client *c, struct request *req)
{
	struct api_query *q = api_query_new(a, c, req);
	const char *product = NULL, *build = NULL, *role = NULL;
	int bad = 0;

	if (request_string(req, "product", &product) < 0 ||
	    request_string(req, "build", &build) < 0 || get_role(req, &role) < 0) {
		api_reply_err(c, req->id, PROTO_E_BAD_REQUEST, "%s", req->err_msg);
		bad = 1;
	}
	if (q) {
		q->f.limits.product = product;
		q->f.limits.build = build;
		q->f.limits.role = role;
		q->run = limits_run;
		q->build = limits_build;
	}
	return submit_checked(q, c, req, bad);
}

static int cursor_run(struct store *s, struct api_query *q)
{
	return store_cursor(s, &q->value);
}

static cJSON *cursor_build(struct api_query *q)
{
	cJSON *res = cJSON_CreateObject();

	if (res != NULL)
		cJSON_AddNumberToObject(res, "cursor", (double)q->value);
	return res;
}

static enum ipc_outcome cmd_cursor(struct api_ctx *a, struct ipc_client *c, struct request *req)
{
	struct api_query *q = api_query_new(a, c, req);

	if (q) {
		q->run = cursor_run;
		q->build = cursor_build;
	}
	return submit_checked(q, c, req, 0);
}

static void cmd_subscribe(struct api_ctx *a, struct ipc_client *c, struct request *req)
{
	const cJSON *topics = cJSON_GetObjectItemCaseSensitive(req->root, "topics"), *t;
	unsigned mask = 0;
	cJSON *res, *arr;

	(void)a;
	if (topics == NULL || cJSON_IsNull(topics)) {
		mask = IPC_TOPIC_EVENTS | IPC_TOPIC_DEVICES;
	} else if (!cJSON_IsArray(topics)) {
		api_reply_err(c, req->id, PROTO_E_BAD_REQUEST,
			      "argument 'topics' must be an array of \"events\", \"devices\"");
		return;
	} else {
		cJSON_ArrayForEach(t, topics)
		{
			if (cJSON_IsString(t) && strcmp(t->valuestring, PROTO_TOPIC_EVENTS) == 0) {
				mask |= IPC_TOPIC_EVENTS;
			} else if (cJSON_IsString(t) &&
				   strcmp(t->valuestring, PROTO_TOPIC_DEVICES) == 0) {
				mask |= IPC_TOPIC_DEVICES;
			} else {
				api_reply_err(c, req->id, PROTO_E_BAD_REQUEST,
					      "argument 'topics' must be an array of \"events\", "
					      "\"devices\"");
				return;
			}
		}
	}
	ipc_client_set_topics(c, mask);
	res = cJSON_CreateObject();
	arr = cJSON_CreateArray();
	if (res == NULL || arr == NULL) {
		cJSON_Delete(res);
		cJSON_Delete(arr);
		return;
	}
	if (mask & IPC_TOPIC_EVENTS)
		cJSON_AddItemToArray(arr, cJSON_CreateString(PROTO_TOPIC_EVENTS));
	if (mask & IPC_TOPIC_DEVICES)
		cJSON_AddItemToArray(arr, cJSON_CreateString(PROTO_TOPIC_DEVICES));
	cJSON_AddItemToObject(res, "subscribed", arr);
	api_reply_ok(c, req->id, res);
}

/* ---- sync ---- */

struct sync_wait {
	struct ipc_client *c; /* referenced */
	cJSON *id;
	struct devices_wait *w;
	int pending; /* devices_sync() has not returned yet */
	int done;
};

static void sync_done_cb(void *arg, const struct devices_sync_result *res, size_t n)
{
	struct sync_wait *sw = arg;
	cJSON *out = cJSON_CreateObject(), *arr = cJSON_CreateArray();
	struct api_client *ac = *ipc_client_slot(sw->c);

	/* before replying: a reply can close the client, which frees its api state */
	if (ac && ac->wait == sw)
		ac->wait = NULL;
	for (size_t i = 0; out && arr && i < n; i++) {
		cJSON *o = cJSON_CreateObject();

		if (o == NULL)
			break;
		cJSON_AddStringToObject(o, "udid", res[i].udid);
		cJSON_AddStringToObject(o, "state", res[i].state ? res[i].state : "error");
		cJSON_AddNumberToObject(o, "new_reports", res[i].new_reports);
		if (res[i].error)
			cJSON_AddStringToObject(o, "error", res[i].error);
		else
			cJSON_AddNullToObject(o, "error");
		cJSON_AddItemToArray(arr, o);
	}
	if (out && arr) {
		cJSON_AddItemToObject(out, "synced", arr);
		arr = NULL;
		api_reply_ok(sw->c, sw->id, out);
		out = NULL;
	}
	cJSON_Delete(out);
	cJSON_Delete(arr);
	sw->done = 1;
	if (sw->pending)
		return; /* called from inside devices_sync(): the caller finishes */
	ipc_client_resume(sw->c);
	ipc_client_unref(sw->c);
	cJSON_Delete(sw->id);
	free(sw);
}

/* {"queued": [udid...]} */
static void reply_queued(struct ipc_client *c, const cJSON *id, const struct devices_queued *q)
{
	cJSON *res = cJSON_CreateObject(), *arr = cJSON_CreateArray();

	for (size_t i = 0; arr && i < q->n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(q->udid[i]));
	if (res == NULL || arr == NULL) {
		cJSON_Delete(res);
		cJSON_Delete(arr);
		api_reply_err(c, id, PROTO_E_INTERNAL, "out of memory");
		return;
	}
	cJSON_AddItemToObject(res, "queued", arr);
	api_reply_ok(c, id, res);
}

static void reply_sync_err(struct ipc_client *c, const cJSON *id, const char *udid, int r)
{
	if (r == -ENOENT)
		api_reply_err(c, id, PROTO_E_NOT_FOUND, "device '%s' is unknown or detached",
			      udid ? udid : "");
	else
		api_reply_err(c, id, PROTO_E_INTERNAL, "cannot queue the sync: %s", strerror(-r));
}

static enum ipc_outcome cmd_sync(struct api_ctx *a, struct ipc_client *c, struct request *req)
{
	const char *udid = NULL;
	int wait = 0, r;
	struct sync_wait *sw = NULL;
	struct api_client *ac = api_client_state(c);
	struct devices_queued queued = {0};

	if (request_string(req, "udid", &udid) < 0 || request_bool(req, "wait", &wait) < 0) {
		api_reply_err(c, req->id, PROTO_E_BAD_REQUEST, "%s", req->err_msg);
		return IPC_DONE;
	}
	if (a->devices == NULL) {
		api_reply_err(c, req->id, PROTO_E_INTERNAL, "device watching is not running");
		return IPC_DONE;
	}
	if (ac == NULL || (wait && (sw = calloc(1, sizeof(*sw))) == NULL)) {
		api_reply_err(c, req->id, PROTO_E_INTERNAL, "out of memory");
		return IPC_DONE;
	}
	if (wait) {
		sw->c = ipc_client_ref(c);
		sw->id = req->id ? cJSON_Duplicate(req->id, 1) : NULL;
		sw->pending = 1;
		ac->wait = sw;
	}
	r = devices_sync(a->devices, udid, wait ? NULL : &queued, wait ? sync_done_cb : NULL, sw,
			 wait ? &sw->w : NULL);
	if (r < 0 && sw && !sw->done) {
		/* the callback does not run after a failed call */
		struct api_client *cur = *ipc_client_slot(c);

		if (cur && cur->wait == sw)
			cur->wait = NULL;
		sw->done = 1;
	}
	if (r < 0)
		reply_sync_err(c, req->id, udid, r);
	else if (!wait)
		reply_queued(c, req->id, &queued);
	devices_queued_release(&queued);
	if (sw == NULL)
		return IPC_DONE;
	sw->pending = 0;
	if (sw->done) { /* answered at once (nothing to wait for) or failed */
		ipc_client_unref(sw->c);
		cJSON_Delete(sw->id);
		free(sw);
		return IPC_DONE;
	}
	return IPC_PENDING;
}

/* ---- dispatch ---- */

enum ipc_outcome api_raw(struct api_ctx *a, struct ipc_client *c, void *buf, size_t len)
{
	return import_raw(a, c, buf, len);
}

/* Whether req names only arguments its command takes; else the invalid_argument reply is sent
 * (an unknown command passes: it gets unknown_command) */
static int api_args_ok(struct ipc_client *c, struct request *req)
{
	/* import checks its own: the bytes that follow are read first */
	for (size_t i = 0; i < API_N_COMMANDS && strcmp(req->cmd, "import") != 0; i++)
		if (strcmp(api_commands[i].name, req->cmd) == 0) {
			if (request_check_known(req, api_commands[i].args) == 0)
				return 1;
			api_reply_err(c, req->id, req->err_code, "%s", req->err_msg);
			return 0;
		}
	return 1;
}

enum ipc_outcome api_request(struct api_ctx *a, struct ipc_client *c, const char *line, size_t len)
{
	struct request req;
	enum ipc_outcome out = IPC_DONE;
	int r = request_decode(&req, line, len);

	if (r != 0) {
		if (r < 0)
			api_reply_err(c, NULL, PROTO_E_INTERNAL, "out of memory");
		else
			api_reply_err(c, req.id, req.err_code, "%s", req.err_msg);
		request_release(&req);
		return IPC_DONE;
	}
	if (!ipc_client_is_admin(c) &&
	    (strcmp(req.cmd, "sync") == 0 || strcmp(req.cmd, "import") == 0 ||
	     strcmp(req.cmd, "reparse") == 0)) {
		api_reply_err(c, req.id, PROTO_E_PERMISSION_DENIED,
			      "'%s' is for root and the admin group (admin_group)%s", req.cmd,
			      strcmp(req.cmd, "import") == 0 ? ": closing" : "");
		if (strcmp(req.cmd, "import") == 0) /* its bytes follow: framing is lost */
			ipc_client_close_after_flush(c);
		request_release(&req);
		return IPC_DONE;
	}
	if (!api_args_ok(c, &req))
		; /* answered */
	else if (strcmp(req.cmd, "hello") == 0)
		cmd_hello(a, c, &req);
	else if (strcmp(req.cmd, "status") == 0)
		out = cmd_status(a, c, &req);
	else if (strcmp(req.cmd, "devices") == 0)
		out = cmd_devices(a, c, &req);
	else if (strcmp(req.cmd, "reports") == 0)
		out = cmd_reports(a, c, &req);
	else if (strcmp(req.cmd, "events") == 0)
		out = cmd_events(a, c, &req);
	else if (strcmp(req.cmd, "limits") == 0)
		out = cmd_limits(a, c, &req);
	else if (strcmp(req.cmd, "cursor") == 0)
		out = cmd_cursor(a, c, &req);
	else if (strcmp(req.cmd, "limit") == 0)
		out = api_cmd_limit(a, c, &req);
	else if (strcmp(req.cmd, "subscribe") == 0)
		cmd_subscribe(a, c, &req);
	else if (strcmp(req.cmd, "sync") == 0)
		out = cmd_sync(a, c, &req);
	else if (strcmp(req.cmd, "import") == 0)
		out = import_request(a, c, &req);
	else if (strcmp(req.cmd, "reparse") == 0)
		out = reparse_request(a, c, &req);
	else
		api_reply_err(c, req.id, PROTO_E_UNKNOWN_COMMAND, "unknown command '%.64s'",
			      req.cmd);
	request_release(&req);
	return out;
}

void api_client_gone(struct api_ctx *a, struct ipc_client *c)
{
	void **slot = ipc_client_slot(c);
	struct api_client *ac = *slot;

	(void)a;
	if (ac == NULL)
		return;
	if (ac->wait) {
		struct sync_wait *sw = ac->wait;

		ac->wait = NULL;
		if (sw->w)
			devices_wait_cancel(sw->w);
		/* the callback will not run: drop what it would have */
		if (!sw->pending) {
			ipc_client_unref(sw->c); /* c stays alive: the caller holds its own ref */
			cJSON_Delete(sw->id);
			free(sw);
		}
	}
	cJSON_Delete(ac->import_id);
	free(ac->import_name);
	free(ac);
	*slot = NULL;
}
