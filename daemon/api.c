/* api.c: the request handlers of the socket protocol (proto/PROTOCOL.md) */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include <config.h> /* JETSAMD_VERSION */

#include "../proto/report.h"
#include "api.h"
#include "archive.h"
#include "config.h"
#include "devices.h"
#include "ipc.h"
#include "log.h"
#include "request.h"
#include "store.h"

#define API_VERSION	  1
#define API_LIMIT_DEFAULT 1000
#define API_LIMIT_MAX	  100000
#define REPARSE_BATCH	  64

static const char *const api_commands[] = {
	"hello", "status", "devices", "reports",   "events", "limits",
	"sync",	 "import", "reparse", "subscribe", NULL,
};

/* per-client state, in the client's api slot */
struct api_client {
	struct sync_wait *wait; /* a waited sync in progress */
	cJSON *import_id;	/* id of the import whose bytes are being read */
	char *import_name;
	int import_bad; /* the import header was bad: drop the bytes, then reply */
	char import_err[256];
};

static struct api_client *client_state(struct ipc_client *c)
{
	void **slot = ipc_client_slot(c);

	if (*slot == NULL)
		*slot = calloc(1, sizeof(struct api_client));
	return *slot;
}

/* ---- replies ---- */

static void add_id(cJSON *o, const cJSON *id)
{
	if (id != NULL)
		cJSON_AddItemToObject(o, "id", cJSON_Duplicate(id, 1));
}

static void reply_ok(struct ipc_client *c, const cJSON *id, cJSON *result)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || result == NULL) {
		cJSON_Delete(o);
		cJSON_Delete(result);
		return;
	}
	add_id(o, id);
	cJSON_AddBoolToObject(o, "ok", 1);
	cJSON_AddItemToObject(o, "result", result);
	ipc_client_send(c, o);
	cJSON_Delete(o);
}

static void reply_err(struct ipc_client *c, const cJSON *id, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static void reply_err(struct ipc_client *c, const cJSON *id, const char *code, const char *fmt, ...)
{
	cJSON *o = cJSON_CreateObject(), *e = cJSON_CreateObject();
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (o && e) {
		add_id(o, id);
		cJSON_AddBoolToObject(o, "ok", 0);
		cJSON_AddStringToObject(e, "code", code);
		cJSON_AddStringToObject(e, "message", msg);
		cJSON_AddItemToObject(o, "error", e);
		e = NULL;
		ipc_client_send(c, o);
	}
	cJSON_Delete(e);
	cJSON_Delete(o);
}

static void reply_store_err(struct ipc_client *c, const cJSON *id, int r)
{
	if (r == -ENOMEM)
		reply_err(c, id, REQ_E_INTERNAL, "out of memory");
	else
		reply_err(c, id, REQ_E_INTERNAL, "store query failed: %s", strerror(-r));
}

/* ---- simple commands ---- */

static void cmd_hello(struct api_ctx *a, struct ipc_client *c, struct request *req)
{
	int64_t version = API_VERSION;
	cJSON *res, *cmds;

	(void)a;
	if (request_int(req, "version", 0, 1000000, &version) < 0) {
		reply_err(c, req->id, REQ_E_BAD_REQUEST, "%s", req->err_msg);
		return;
	}
	if (version != API_VERSION) {
		reply_err(c, req->id, REQ_E_VERSION,
			  "client asked for protocol version %lld, the daemon speaks version %d",
			  (long long)version, API_VERSION);
		return;
	}
	res = cJSON_CreateObject();
	cmds = cJSON_CreateArray();
	if (res == NULL || cmds == NULL) {
		cJSON_Delete(res);
		cJSON_Delete(cmds);
		return;
	}
	for (const char *const *p = api_commands; *p; p++)
		cJSON_AddItemToArray(cmds, cJSON_CreateString(*p));
	cJSON_AddNumberToObject(res, "version", API_VERSION);
	cJSON_AddStringToObject(res, "daemon", "jetsamd " JETSAMD_VERSION);
	cJSON_AddItemToObject(res, "commands", cmds);
	reply_ok(c, req->id, res);
}

static void cmd_status(struct api_ctx *a, struct ipc_client *c, struct request *req)
{
	unsigned attached = 0, syncing = 0, total = 0;
	int64_t reports = 0, events = 0;
	cJSON *res = cJSON_CreateObject(), *u, *dev;
	char started[32];
	int r;

	if (res == NULL)
		return;
	r = store_counts(a->store, &reports, &events);
	if (r < 0) {
		cJSON_Delete(res);
		reply_store_err(c, req->id, r);
		return;
	}
	if (a->devices)
		devices_counts(a->devices, &attached, &syncing, &total);
	store_format_time(a->started, started);
	cJSON_AddNumberToObject(res, "version", API_VERSION);
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
	reply_ok(c, req->id, res);
}

static void cmd_devices(struct api_ctx *a, struct ipc_client *c, struct request *req)
{
	cJSON *arr, *res;
	int r = store_devices_json(a->store, &arr);

	if (r < 0) {
		reply_store_err(c, req->id, r);
		return;
	}
	res = cJSON_CreateObject();
	if (res == NULL) {
		cJSON_Delete(arr);
		return;
	}
	cJSON_AddItemToObject(res, "devices", arr);
	reply_ok(c, req->id, res);
}

/* {key: arr, "truncated": t} */
static void reply_list(struct ipc_client *c, const cJSON *id, const char *key, cJSON *arr,
		       int truncated)
{
	cJSON *res = cJSON_CreateObject();

	if (res == NULL) {
		cJSON_Delete(arr);
		return;
	}
	cJSON_AddItemToObject(res, key, arr);
	cJSON_AddBoolToObject(res, "truncated", truncated);
	reply_ok(c, id, res);
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

static void cmd_reports(struct api_ctx *a, struct ipc_client *c, struct request *req)
{
	struct store_report_filter f = {0};
	int truncated = 0, r;
	cJSON *arr;

	if (request_string(req, "udid", &f.udid) < 0 ||
	    request_string(req, "status", &f.status) < 0 || get_limit(req, &f.limit) < 0) {
		reply_err(c, req->id, REQ_E_BAD_REQUEST, "%s", req->err_msg);
		return;
	}
	if (f.status && strcmp(f.status, "ok") != 0 && strcmp(f.status, "skipped") != 0 &&
	    strcmp(f.status, "error") != 0) {
		reply_err(c, req->id, REQ_E_BAD_REQUEST,
			  "argument 'status' must be ok, skipped or error");
		return;
	}
	r = store_reports_json(a->store, &f, &arr, &truncated);
	if (r < 0) {
		reply_store_err(c, req->id, r);
		return;
	}
	reply_list(c, req->id, "reports", arr, truncated);
}

static void cmd_events(struct api_ctx *a, struct ipc_client *c, struct request *req)
{
	struct store_event_filter f = {.since = REPORT_NULL, .until = REPORT_NULL};
	int truncated = 0, r;
	cJSON *arr;

	if (request_string(req, "udid", &f.udid) < 0 ||
	    request_string(req, "product", &f.product) < 0 ||
	    request_string(req, "build", &f.build) < 0 ||
	    request_string(req, "process", &f.process) < 0 ||
	    request_string(req, "reason", &f.reason) < 0 || get_role(req, &f.role) < 0 ||
	    request_time(req, "since", &f.since) < 0 || request_time(req, "until", &f.until) < 0 ||
	    get_limit(req, &f.limit) < 0) {
		reply_err(c, req->id, REQ_E_BAD_REQUEST, "%s", req->err_msg);
		return;
	}
	r = store_events_json(a->store, &f, &arr, &truncated);
	if (r < 0) {
		reply_store_err(c, req->id, r);
		return;
	}
	reply_list(c, req->id, "events", arr, truncated);
}

static void cmd_limits(struct api_ctx *a, struct ipc_client *c, struct request *req)
{
	const char *product = NULL, *build = NULL, *role = NULL;
	cJSON *arr, *res;
	int r;

	if (request_string(req, "product", &product) < 0 ||
	    request_string(req, "build", &build) < 0 || get_role(req, &role) < 0) {
		reply_err(c, req->id, REQ_E_BAD_REQUEST, "%s", req->err_msg);
		return;
	}
	r = store_limits_json(a->store, product, build, role, &arr);
	if (r < 0) {
		reply_store_err(c, req->id, r);
		return;
	}
	res = cJSON_CreateObject();
	if (res == NULL) {
		cJSON_Delete(arr);
		return;
	}
	cJSON_AddItemToObject(res, "limits", arr);
	reply_ok(c, req->id, res);
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
		reply_err(c, req->id, REQ_E_BAD_REQUEST,
			  "argument 'topics' must be an array of \"events\", \"devices\"");
		return;
	} else {
		cJSON_ArrayForEach(t, topics)
		{
			if (cJSON_IsString(t) && strcmp(t->valuestring, "events") == 0) {
				mask |= IPC_TOPIC_EVENTS;
			} else if (cJSON_IsString(t) && strcmp(t->valuestring, "devices") == 0) {
				mask |= IPC_TOPIC_DEVICES;
			} else {
				reply_err(c, req->id, REQ_E_BAD_REQUEST,
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
		cJSON_AddItemToArray(arr, cJSON_CreateString("events"));
	if (mask & IPC_TOPIC_DEVICES)
		cJSON_AddItemToArray(arr, cJSON_CreateString("devices"));
	cJSON_AddItemToObject(res, "subscribed", arr);
	reply_ok(c, req->id, res);
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
		reply_ok(sw->c, sw->id, out);
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
		reply_err(c, id, REQ_E_INTERNAL, "out of memory");
		return;
	}
	cJSON_AddItemToObject(res, "queued", arr);
	reply_ok(c, id, res);
}

static void reply_sync_err(struct ipc_client *c, const cJSON *id, const char *udid, int r)
{
	if (r == -ENOENT)
		reply_err(c, id, REQ_E_NOT_FOUND, "device '%s' is unknown or detached",
			  udid ? udid : "");
	else
		reply_err(c, id, REQ_E_INTERNAL, "cannot queue the sync: %s", strerror(-r));
}

static enum ipc_outcome cmd_sync(struct api_ctx *a, struct ipc_client *c, struct request *req)
{
	const char *udid = NULL;
	int wait = 0, r;
	struct sync_wait *sw = NULL;
	struct api_client *ac = client_state(c);
	struct devices_queued queued = {0};

	if (request_string(req, "udid", &udid) < 0 || request_bool(req, "wait", &wait) < 0) {
		reply_err(c, req->id, REQ_E_BAD_REQUEST, "%s", req->err_msg);
		return IPC_DONE;
	}
	if (a->devices == NULL) {
		reply_err(c, req->id, REQ_E_INTERNAL, "device watching is not running");
		return IPC_DONE;
	}
	if (ac == NULL || (wait && (sw = calloc(1, sizeof(*sw))) == NULL)) {
		reply_err(c, req->id, REQ_E_INTERNAL, "out of memory");
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

/* ---- import ---- */

struct import_job {
	uv_work_t work;
	struct api_ctx *a;
	struct ipc_client *c; /* referenced */
	cJSON *id;
	char *name;
	char *state_dir;
	void *buf;
	size_t len;
	size_t max_size;
	char sha[65];
	char *archive;
	int archive_err;
	struct report *report;
	int parse_err;
	struct store_ingest_result res; /* after the commit */
	int durable_err;		/* store_sync_durable() after the commit */
};

static void import_work_cb(uv_work_t *w)
{
	struct import_job *j = w->data;
	struct report_opts opts = {.max_size = j->max_size};

	archive_sha256_hex(j->buf, j->len, j->sha);
	j->archive_err = archive_write(j->state_dir, j->buf, j->len, j->sha, &j->archive);
	if (j->archive_err == 0)
		j->parse_err = report_parse(j->buf, j->len, &opts, &j->report);
}

static void import_job_free(struct import_job *j)
{
	ipc_client_unref(j->c);
	cJSON_Delete(j->id);
	free(j->name);
	free(j->state_dir);
	free(j->buf);
	free(j->archive);
	report_free(j->report);
	free(j);
}

/* The reply to an import is sent once its commit is durable (store.h DESIGN). */
static void import_durable_work_cb(uv_work_t *w)
{
	struct import_job *j = w->data;

	j->durable_err = store_sync_durable(j->state_dir);
}

static void import_reply(struct import_job *j)
{
	struct api_ctx *a = j->a;
	cJSON *rep = NULL, *out;
	int r;

	if (j->durable_err < 0) {
		/* committed but perhaps not on disk: the client keeps its copy and may retry */
		reply_err(j->c, j->id, REQ_E_INTERNAL, "cannot make the store durable: %s",
			  strerror(-j->durable_err));
		return;
	}
	r = store_report_json(a->store, j->res.report_id, &rep);
	out = cJSON_CreateObject();
	if (r < 0 || out == NULL) {
		cJSON_Delete(out);
		reply_err(j->c, j->id, REQ_E_INTERNAL, "cannot read back the report");
		return;
	}
	cJSON_AddItemToObject(out, "report", rep);
	cJSON_AddBoolToObject(out, "duplicate", j->res.duplicate);
	reply_ok(j->c, j->id, out);
	log_info("api", "import '%s': report %lld, %s, %zu events%s", j->name,
		 (long long)j->res.report_id, report_status_name(j->report->status),
		 j->res.n_events, j->res.duplicate ? " (duplicate)" : "");
}

static void import_durable_after_cb(uv_work_t *w, int status)
{
	struct import_job *j = w->data;

	j->a->jobs_running--;
	if (status < 0 && j->durable_err == 0)
		j->durable_err = status == UV_ECANCELED ? -ECANCELED : -EIO;
	import_reply(j);
	ipc_client_resume(j->c);
	import_job_free(j);
}

static void import_after_cb(uv_work_t *w, int status)
{
	struct import_job *j = w->data;
	struct api_ctx *a = j->a;
	struct store_ingest_result res;
	struct store_ingest in = {0};
	char path[300];
	int r;

	j->a->jobs_running--;
	if (status < 0) {
		reply_err(j->c, j->id, REQ_E_INTERNAL, "import cancelled: %s", uv_strerror(status));
		goto done;
	}
	if (j->archive_err < 0) {
		log_err("api", "import '%s': cannot archive: %s", j->name,
			strerror(-j->archive_err));
		reply_err(j->c, j->id, REQ_E_INTERNAL, "cannot archive the report: %s",
			  strerror(-j->archive_err));
		goto done;
	}
	if (j->parse_err < 0 || j->report == NULL) {
		reply_err(j->c, j->id, REQ_E_INTERNAL, "cannot parse the report: %s",
			  strerror(j->parse_err < 0 ? -j->parse_err : ENOMEM));
		goto done;
	}
	snprintf(path, sizeof(path), "import:%s", j->name);
	in.path = path;
	in.size = (int64_t)j->len;
	in.mtime_ns = REPORT_NULL;
	in.sha256 = j->sha;
	in.archive = j->archive;
	in.report = j->report;
	r = store_begin(a->store);
	if (r == 0)
		r = store_ingest(a->store, &in, &res);
	if (r == 0)
		r = store_commit(a->store);
	if (r < 0) {
		store_rollback(a->store);
		reply_err(j->c, j->id, REQ_E_INTERNAL, "cannot store the report: %s", strerror(-r));
		goto done;
	}
	j->res = res;
	if (!res.duplicate)
		a->report_cb(a->report_arg, res.report_id);
	/* fsync in a worker, then reply: the loop never waits for the disk */
	r = uv_queue_work(a->loop, &j->work, import_durable_work_cb, import_durable_after_cb);
	if (r == 0) {
		j->a->jobs_running++;
		return;
	}
	j->durable_err = -EIO;
	log_err("api", "import '%s': cannot queue the store fsync: %s", j->name, uv_strerror(r));
	import_reply(j);
done:
	ipc_client_resume(j->c);
	import_job_free(j);
}

static enum ipc_outcome cmd_import(struct api_ctx *a, struct ipc_client *c, struct request *req)
{
	struct api_client *ac = client_state(c);
	const cJSON *size = cJSON_GetObjectItemCaseSensitive(req->root, "size");
	const char *name = NULL;
	double n;

	if (ac == NULL) {
		reply_err(c, req->id, REQ_E_INTERNAL, "out of memory");
		ipc_client_close_after_flush(c);
		return IPC_DONE;
	}
	if (size == NULL || !cJSON_IsNumber(size)) {
		reply_err(c, req->id, REQ_E_BAD_REQUEST,
			  "argument 'size' must be the byte count that follows: closing");
		ipc_client_close_after_flush(c);
		return IPC_DONE;
	}
	n = size->valuedouble;
	if (n < 1 || n != (double)(size_t)n || n > (double)a->cfg->max_report_size) {
		reply_err(c, req->id, REQ_E_TOO_LARGE,
			  "import size must be 1..%zu bytes (max_report_size): closing",
			  a->cfg->max_report_size);
		ipc_client_close_after_flush(c);
		return IPC_DONE;
	}
	ac->import_bad = 0;
	if (request_string(req, "name", &name) < 0 || name == NULL) {
		ac->import_bad = 1;
		snprintf(ac->import_err, sizeof(ac->import_err), "%s",
			 name == NULL && req->err_msg[0] == '\0' ? "argument 'name' is missing"
								 : req->err_msg);
	} else if (strlen(name) > 255 || strchr(name, '\n')) {
		ac->import_bad = 1;
		snprintf(ac->import_err, sizeof(ac->import_err),
			 "argument 'name' must be at most 255 bytes, on one line");
	}
	cJSON_Delete(ac->import_id);
	free(ac->import_name);
	ac->import_id = req->id ? cJSON_Duplicate(req->id, 1) : NULL;
	ac->import_name = strdup(name && !ac->import_bad ? name : "");
	ipc_client_expect_raw(c, (size_t)n);
	return IPC_DONE;
}

enum ipc_outcome api_raw(struct api_ctx *a, struct ipc_client *c, void *buf, size_t len)
{
	struct api_client *ac = client_state(c);
	struct import_job *j;
	int r;

	if (ac == NULL || ac->import_bad) {
		if (ac)
			reply_err(c, ac->import_id, REQ_E_BAD_REQUEST, "%s", ac->import_err);
		free(buf);
		return IPC_DONE;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL || ac->import_name == NULL ||
	    (j->state_dir = strdup(a->cfg->state_dir)) == NULL) {
		if (j)
			free(j);
		free(buf);
		reply_err(c, ac->import_id, REQ_E_INTERNAL, "out of memory");
		return IPC_DONE;
	}
	j->work.data = j;
	j->a = a;
	j->c = ipc_client_ref(c);
	j->id = ac->import_id;
	ac->import_id = NULL;
	j->name = ac->import_name;
	ac->import_name = NULL;
	j->buf = buf;
	j->len = len;
	j->max_size = a->cfg->max_report_size;
	r = uv_queue_work(a->loop, &j->work, import_work_cb, import_after_cb);
	if (r < 0) {
		reply_err(c, j->id, REQ_E_INTERNAL, "cannot queue the import: %s", uv_strerror(r));
		import_job_free(j);
		return IPC_DONE;
	}
	j->a->jobs_running++;
	return IPC_PENDING;
}

/* ---- reparse ---- */

struct reparse_item {
	int64_t id;
	char *archive;
	struct report *report;
	int err; /* archive read or parse failure */
};

struct reparse_job {
	uv_work_t work;
	struct api_ctx *a;
	struct ipc_client *c; /* referenced */
	cJSON *id;
	char *state_dir;
	size_t max_size;
	int64_t after_id;
	struct reparse_item items[REPARSE_BATCH];
	size_t n;
	int64_t total, ok, skipped, error, events;
};

static void reparse_work_cb(uv_work_t *w)
{
	struct reparse_job *j = w->data;
	struct report_opts opts = {.max_size = j->max_size};

	for (size_t i = 0; i < j->n; i++) {
		struct reparse_item *it = &j->items[i];
		void *buf = NULL;
		size_t len = 0;

		it->err = archive_read(j->state_dir, it->archive, j->max_size, &buf, &len);
		if (it->err == 0)
			it->err = report_parse(buf, len, &opts, &it->report);
		free(buf);
	}
}

static void reparse_items_release(struct reparse_job *j)
{
	for (size_t i = 0; i < j->n; i++) {
		free(j->items[i].archive);
		report_free(j->items[i].report);
	}
	j->n = 0;
}

static void reparse_finish(struct reparse_job *j, int r)
{
	reparse_items_release(j);
	/* also after a failure or a stop: the batches committed so far changed events */
	if (j->total > 0) {
		int r2 = store_limits_rebuild(j->a->store);

		if (r == 0)
			r = r2;
	}
	if (r < 0) {
		reply_err(j->c, j->id, REQ_E_INTERNAL, "reparse failed: %s", strerror(-r));
	} else {
		cJSON *res = cJSON_CreateObject();

		if (res) {
			cJSON_AddNumberToObject(res, "reports", (double)j->total);
			cJSON_AddNumberToObject(res, "ok", (double)j->ok);
			cJSON_AddNumberToObject(res, "skipped", (double)j->skipped);
			cJSON_AddNumberToObject(res, "error", (double)j->error);
			cJSON_AddNumberToObject(res, "events", (double)j->events);
			reply_ok(j->c, j->id, res);
		}
		log_info("api",
			 "reparse: %lld reports, %lld ok, %lld skipped, %lld error, "
			 "%lld events",
			 (long long)j->total, (long long)j->ok, (long long)j->skipped,
			 (long long)j->error, (long long)j->events);
	}
	j->a->reparse_running = 0;
	ipc_client_resume(j->c);
	ipc_client_unref(j->c);
	cJSON_Delete(j->id);
	free(j->state_dir);
	free(j);
}

static void reparse_after_cb(uv_work_t *w, int status);

/* Queue the next batch, or finish. */
static void reparse_next(struct reparse_job *j)
{
	struct store_archived *v = NULL;
	size_t n = 0;
	int r;

	reparse_items_release(j);
	r = store_archived_list(j->a->store, j->after_id, REPARSE_BATCH, &v, &n);
	if (r < 0 || n == 0) {
		store_archived_free(v, n);
		reparse_finish(j, r);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		j->items[i].id = v[i].id;
		j->items[i].archive = v[i].archive;
		j->items[i].report = NULL;
		j->items[i].err = 0;
		v[i].archive = NULL;
	}
	j->n = n;
	j->after_id = v[n - 1].id;
	store_archived_free(v, n);
	r = uv_queue_work(j->a->loop, &j->work, reparse_work_cb, reparse_after_cb);
	if (r < 0) {
		reparse_finish(j, -ECANCELED);
		return;
	}
	j->a->jobs_running++;
}

static void reparse_after_cb(uv_work_t *w, int status)
{
	struct reparse_job *j = w->data;
	struct store *s = j->a->store;
	int r;

	j->a->jobs_running--;
	if (status < 0) {
		reparse_finish(j, -ECANCELED);
		return;
	}
	r = store_begin(s);
	for (size_t i = 0; r == 0 && i < j->n; i++) {
		struct reparse_item *it = &j->items[i];
		size_t nev = 0;

		j->total++;
		if (it->err < 0 || it->report == NULL) {
			log_warn("api", "reparse: report %lld: cannot read '%s': %s",
				 (long long)it->id, it->archive,
				 strerror(it->err < 0 ? -it->err : ENOMEM));
			j->error++;
			continue;
		}
		r = store_report_replace(s, it->id, it->report, &nev);
		j->events += (int64_t)nev;
		switch (it->report->status) {
		case REPORT_OK:
			j->ok++;
			break;
		case REPORT_SKIPPED:
			j->skipped++;
			break;
		case REPORT_ERROR:
			j->error++;
			break;
		}
	}
	if (r == 0)
		r = store_commit(s);
	if (r < 0) {
		store_rollback(s);
		reparse_finish(j, r);
		return;
	}
	if (j->a->stopping) {
		reparse_finish(j, -ECANCELED);
		return;
	}
	reparse_next(j);
}

static enum ipc_outcome cmd_reparse(struct api_ctx *a, struct ipc_client *c, struct request *req)
{
	struct reparse_job *j;

	if (a->reparse_running) {
		reply_err(c, req->id, REQ_E_INTERNAL, "a reparse is already running");
		return IPC_DONE;
	}
	j = calloc(1, sizeof(*j));
	if (j == NULL || (j->state_dir = strdup(a->cfg->state_dir)) == NULL) {
		free(j);
		reply_err(c, req->id, REQ_E_INTERNAL, "out of memory");
		return IPC_DONE;
	}
	j->work.data = j;
	j->a = a;
	j->c = ipc_client_ref(c);
	j->id = req->id ? cJSON_Duplicate(req->id, 1) : NULL;
	j->max_size = a->cfg->max_report_size;
	a->reparse_running = 1;
	log_info("api", "reparse started");
	reparse_next(j);
	/* reparse_next() may have finished at once (no archived reports) */
	return a->reparse_running ? IPC_PENDING : IPC_DONE;
}

/* ---- dispatch ---- */

enum ipc_outcome api_request(struct api_ctx *a, struct ipc_client *c, const char *line, size_t len)
{
	struct request req;
	enum ipc_outcome out = IPC_DONE;
	int r = request_decode(&req, line, len);

	if (r != 0) {
		if (r < 0)
			reply_err(c, NULL, REQ_E_INTERNAL, "out of memory");
		else
			reply_err(c, req.id, req.err_code, "%s", req.err_msg);
		request_release(&req);
		return IPC_DONE;
	}
	if (strcmp(req.cmd, "hello") == 0)
		cmd_hello(a, c, &req);
	else if (strcmp(req.cmd, "status") == 0)
		cmd_status(a, c, &req);
	else if (strcmp(req.cmd, "devices") == 0)
		cmd_devices(a, c, &req);
	else if (strcmp(req.cmd, "reports") == 0)
		cmd_reports(a, c, &req);
	else if (strcmp(req.cmd, "events") == 0)
		cmd_events(a, c, &req);
	else if (strcmp(req.cmd, "limits") == 0)
		cmd_limits(a, c, &req);
	else if (strcmp(req.cmd, "subscribe") == 0)
		cmd_subscribe(a, c, &req);
	else if (strcmp(req.cmd, "sync") == 0)
		out = cmd_sync(a, c, &req);
	else if (strcmp(req.cmd, "import") == 0)
		out = cmd_import(a, c, &req);
	else if (strcmp(req.cmd, "reparse") == 0)
		out = cmd_reparse(a, c, &req);
	else
		reply_err(c, req.id, REQ_E_UNKNOWN_COMMAND, "unknown command '%.64s'", req.cmd);
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
