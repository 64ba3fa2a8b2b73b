/* test-api.c: the request handlers against a real store and socket, on a real loop, no hub */
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/stat.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "../../daemon/api.h"
#include "../../daemon/config.h"
#include "../../daemon/ingest.h"
#include "../../daemon/ipc.h"
#include "../../daemon/store.h"
#include "../../daemon/storeq.h"
#include "check.h"
#include "lineclient.h"

/* The test's stand-in for the hub: owns the loop, config, store, ipc and the api context. */
struct bench {
	uv_loop_t loop;
	struct config cfg;
	struct store *store;
	struct storeq *sq;
	struct ipc *ipc;
	struct api_ctx api;
	char dir[64], path[128];
	uv_async_t done;
	int64_t published[8]; /* report_cb calls (loop thread; read after the loop) */
	size_t n_published;
	cJSON *pushed;	    /* the events report_cb would push, rendered from memory */
	const char *report; /* corpus file to import */
	int stopped, sq_stopped;
};

static enum ipc_outcome request_cb(void *arg, struct ipc_client *c, const char *line, size_t len)
{
	return api_request(&((struct bench *)arg)->api, c, line, len);
}

static enum ipc_outcome raw_cb(void *arg, struct ipc_client *c, void *buf, size_t len)
{
	return api_raw(&((struct bench *)arg)->api, c, buf, len);
}

static void gone_cb(void *arg, struct ipc_client *c)
{
	api_client_gone(&((struct bench *)arg)->api, c);
}

static const struct ipc_ops ops = {.request_cb = request_cb, .raw_cb = raw_cb, .gone_cb = gone_cb};

static void report_cb(void *arg, const struct ingest_source *src, struct ingest_item *it)
{
	struct bench *b = arg;

	if (b->n_published < 8)
		b->published[b->n_published] = it->res.report_id;
	b->n_published++;
	cJSON_Delete(b->pushed);
	b->pushed = ingest_events_json(src, it);
	/* rendered on the store thread already, the same EVENTs */
	CHECK(it->events != NULL && cJSON_Compare(it->events, b->pushed, 1));
}

/* ---- client side (its own thread) ---- */

static cJSON *call(struct lineclient *lc, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static cJSON *call(struct lineclient *lc, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	return lineclient_call(lc, line);
}

/* The result of an ok reply (owned by reply), or NULL with a failed check. */
static const cJSON *result_of(const cJSON *reply)
{
	CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(reply, "ok")));
	return cJSON_GetObjectItemCaseSensitive(reply, "result");
}

static const char *error_code(const cJSON *reply)
{
	CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(reply, "ok")));
	return lineclient_str(cJSON_GetObjectItemCaseSensitive(reply, "error"), "code");
}

static int array_size(const cJSON *o, const char *key)
{
	const cJSON *a = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsArray(a) ? cJSON_GetArraySize(a) : -1;
}

static void client_simple(struct lineclient *lc, const struct bench *b)
{
	cJSON *r;
	const cJSON *res;

	r = call(lc, "{\"cmd\":\"hello\",\"version\":1,\"id\":1}");
	res = result_of(r);
	ASSERT_EQ(lineclient_num(r, "id"), 1);
	ASSERT_EQ(lineclient_num(res, "version"), 1);
	ASSERT_EQ(array_size(res, "commands"), 12);
	cJSON_Delete(r);
	r = call(lc, "{\"cmd\":\"hello\",\"version\":2}");
	ASSERT_EQ(lineclient_num(result_of(r), "version"), 2);
	cJSON_Delete(r);
	r = call(lc, "{\"cmd\":\"hello\",\"version\":3}");
	ASSERT_STREQ(error_code(r), "version_mismatch");
	cJSON_Delete(r);
	r = call(lc, "{\"cmd\":\"cursor\"}");
	ASSERT_EQ(lineclient_num(result_of(r), "cursor"), 0);
	cJSON_Delete(r);
	r = call(lc, "{\"cmd\":\"reports\",\"limit\":5}");
	CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(result_of(r), "truncated")));
	CHECK(cJSON_GetObjectItemCaseSensitive(result_of(r), "next") == NULL);
	cJSON_Delete(r);
	r = call(lc, "{\"cmd\":\"status\"}");
	res = result_of(r);
	ASSERT_STREQ(lineclient_str(res, "state_dir"), b->dir);
	ASSERT_EQ(lineclient_num(res, "reports"), 0);
	ASSERT_EQ(lineclient_num(res, "clients"), 1);
	ASSERT_EQ(lineclient_num(cJSON_GetObjectItemCaseSensitive(res, "devices"), "attached"), 0);
	cJSON_Delete(r);
	r = call(lc, "{\"cmd\":\"devices\"}");
	ASSERT_EQ(array_size(result_of(r), "devices"), 0);
	cJSON_Delete(r);
	r = call(lc, "{\"cmd\":\"frobnicate\"}");
	ASSERT_STREQ(error_code(r), "unknown_command");
	cJSON_Delete(r);
	r = call(lc, "{\"cmd\":");
	ASSERT_STREQ(error_code(r), "bad_request");
	cJSON_Delete(r);
	r = call(lc, "{\"cmd\":\"sync\"}"); /* no devices in this bench */
	ASSERT_STREQ(error_code(r), "internal");
	cJSON_Delete(r);
	r = call(lc, "{\"cmd\":\"subscribe\",\"topics\":[\"events\"]}");
	ASSERT_EQ(array_size(result_of(r), "subscribed"), 1);
	cJSON_Delete(r);
	r = call(lc, "{\"cmd\":\"subscribe\",\"topics\":[\"weather\"]}");
	ASSERT_STREQ(error_code(r), "bad_request");
	cJSON_Delete(r);
	r = call(lc, "{\"cmd\":\"events\",\"role\":\"sideways\"}");
	ASSERT_STREQ(error_code(r), "bad_request");
	cJSON_Delete(r);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (f == NULL)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
	    (buf = malloc((size_t)n)) != NULL && fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		buf = NULL;
	}
	*len = buf ? (size_t)n : 0;
	fclose(f);
	return buf;
}

static cJSON *import(struct lineclient *lc, const char *buf, size_t len)
{
	char head[128];

	snprintf(head, sizeof(head),
		 "{\"cmd\":\"import\",\"name\":\"x.ips\",\"size\":%zu,\"id\":7}", len);
	lineclient_send(lc, head);
	lineclient_write(lc, buf, len);
	return lineclient_recv(lc);
}

/*
 * limit: its errors, a product without data, and (when the report has limits) the newest
 * build's median of the product, named in another case (tests/integration/
 * daemon_protocol_v2.py compares it with jetsamctl limit on generated reports).
 */
static void check_limit(struct lineclient *lc)
{
	cJSON *r = call(lc, "{\"cmd\":\"limits\"}"), *l;
	const cJSON *rows = cJSON_GetObjectItemCaseSensitive(result_of(r), "limits"), *row;
	char req[256], product[64];
	int n = cJSON_GetArraySize(rows);

	for (row = n > 0 ? cJSON_GetArrayItem(rows, n - 1) : NULL; row; row = NULL) {
		snprintf(product, sizeof(product), "%s", lineclient_str(row, "product"));
		for (char *p = product; *p; p++)
			*p = (char)(*p >= 'A' && *p <= 'Z' ? *p - 'A' + 'a' : *p);
		snprintf(req, sizeof(req), "{\"cmd\":\"limit\",\"product\":\"%s\",\"role\":\"%s\"}",
			 product, lineclient_str(row, "role"));
		l = call(lc, "%s", req);
		ASSERT_EQ(lineclient_num(result_of(l), "limit"), lineclient_num(row, "median"));
		ASSERT_EQ(lineclient_num(result_of(l), "count"), lineclient_num(row, "count"));
		ASSERT_STREQ(lineclient_str(result_of(l), "product"),
			     lineclient_str(row, "product"));
		ASSERT_STREQ(lineclient_str(result_of(l), "build"), lineclient_str(row, "build"));
		cJSON_Delete(l);
		snprintf(req, sizeof(req),
			 "{\"cmd\":\"limit\",\"product\":\"%s\",\"os_version\":\"%s\","
			 "\"stat\":\"min\",\"role\":\"%s\"}",
			 product, lineclient_str(row, "os_version"), lineclient_str(row, "role"));
		l = call(lc, "%s", req);
		ASSERT_EQ(lineclient_num(result_of(l), "limit"), lineclient_num(row, "min"));
		cJSON_Delete(l);
	}
	l = call(lc, "{\"cmd\":\"limit\",\"product\":\"iPhone1,1\"}");
	CHECK(cJSON_IsNull(cJSON_GetObjectItemCaseSensitive(result_of(l), "limit")));
	ASSERT_STREQ(lineclient_str(result_of(l), "product_name"), "iPhone");
	cJSON_Delete(l);
	l = call(lc, "{\"cmd\":\"limit\"}");
	ASSERT_STREQ(error_code(l), "bad_request");
	cJSON_Delete(l);
	l = call(lc, "{\"cmd\":\"limit\",\"product\":\"x\",\"stat\":\"mean\"}");
	ASSERT_STREQ(error_code(l), "bad_request");
	cJSON_Delete(l);
	cJSON_Delete(r);
}

/* Import, import again (a duplicate), query, reparse. Returns the report's event count. */
static int client_import(struct lineclient *lc, const struct bench *b)
{
	size_t len;
	char *buf = read_file(b->report, &len);
	const cJSON *res, *rep;
	cJSON *r;
	int n_events;

	CHECK(buf != NULL);
	if (buf == NULL)
		return -1;
	r = import(lc, buf, len);
	res = result_of(r);
	rep = cJSON_GetObjectItemCaseSensitive(res, "report");
	ASSERT_EQ(lineclient_num(r, "id"), 7);
	CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(res, "duplicate")));
	ASSERT_STREQ(lineclient_str(rep, "status"), "ok");
	ASSERT_STREQ(lineclient_str(rep, "path"), "import:x.ips");
	ASSERT_EQ(lineclient_num(rep, "size"), len);
	n_events = (int)lineclient_num(rep, "events");
	CHECK(n_events > 0);
	cJSON_Delete(r);
	r = import(lc, buf, len);
	CHECK(cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result_of(r), "duplicate")));
	cJSON_Delete(r);
	r = call(lc, "{\"cmd\":\"reports\"}");
	ASSERT_EQ(array_size(result_of(r), "reports"), 1);
	cJSON_Delete(r);
	r = call(lc, "{\"cmd\":\"events\",\"limit\":100000}");
	ASSERT_EQ(array_size(result_of(r), "events"), n_events);
	cJSON_Delete(r);
	/* the collection cursor: the import is seq 1, every event carries it */
	r = call(lc, "{\"cmd\":\"cursor\"}");
	ASSERT_EQ(lineclient_num(result_of(r), "cursor"), 1);
	cJSON_Delete(r);
	r = call(lc, "{\"cmd\":\"events\",\"after\":0,\"limit\":1}");
	res = result_of(r);
	ASSERT_EQ(array_size(res, "events"), n_events); /* a page ends with a whole report */
	ASSERT_EQ(lineclient_num(
			  cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(res, "events"), 0),
			  "seq"),
		  1);
	CHECK(cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(res, "truncated")));
	cJSON_Delete(r);
	r = call(lc, "{\"cmd\":\"events\",\"after\":1}");
	ASSERT_EQ(array_size(result_of(r), "events"), 0);
	cJSON_Delete(r);
	r = call(lc, "{\"cmd\":\"events\",\"collected_since\":\"2000-01-01T00:00:00Z\"}");
	ASSERT_EQ(array_size(result_of(r), "events"), n_events);
	cJSON_Delete(r);
	r = call(lc, "{\"cmd\":\"events\",\"after\":-1}");
	ASSERT_STREQ(error_code(r), "bad_request");
	cJSON_Delete(r);
	r = call(lc, "{\"cmd\":\"events\",\"after\":0,\"before_id\":5}");
	ASSERT_STREQ(error_code(r), "bad_request");
	cJSON_Delete(r);
	r = call(lc, "{\"cmd\":\"events\",\"proces\":\"MyApp\"}");
	ASSERT_STREQ(error_code(r), "invalid_argument");
	cJSON_Delete(r);
	check_limit(lc);
	r = call(lc, "{\"cmd\":\"reparse\"}");
	res = result_of(r);
	ASSERT_EQ(lineclient_num(res, "reports"), 1);
	ASSERT_EQ(lineclient_num(res, "ok"), 1);
	ASSERT_EQ(lineclient_num(res, "events"), n_events);
	cJSON_Delete(r);
	free(buf);
	return n_events;
}

/* An import larger than max_report_size: too_large, then the connection is closed. */
static void client_too_large(const struct bench *b)
{
	struct lineclient lc;
	cJSON *r;

	CHECK(lineclient_open(&lc, b->path) == 0);
	r = call(&lc, "{\"cmd\":\"import\",\"name\":\"big\",\"size\":%zu}",
		 b->cfg.max_report_size + 1);
	ASSERT_STREQ(error_code(r), "too_large");
	CHECK(lineclient_eof(&lc));
	cJSON_Delete(r);
	lineclient_close(&lc);
}

/* A store job that holds the store thread for 2 s (the client thread submits it). */
static atomic_int slow_state; /* 1 running, 2 done */

static void slow_work_cb(struct store *s, struct storeq_job *job)
{
	(void)s;
	(void)job;
	atomic_store(&slow_state, 1);
	usleep(2000 * 1000);
	atomic_store(&slow_state, 2);
}

/* status answers from memory while the store is busy; a store query waits its turn. */
static void client_slow_store(struct lineclient *lc, const struct bench *b, int n_events)
{
	static struct storeq_job slow = {.work_cb = slow_work_cb};
	const cJSON *res;
	cJSON *r;

	CHECK(storeq_submit(b->sq, &slow) == 0);
	while (atomic_load(&slow_state) == 0)
		usleep(1000);
	r = call(lc, "{\"cmd\":\"status\"}");
	res = result_of(r);
	/* answered while the store thread was still inside the slow job */
	ASSERT_EQ(atomic_load(&slow_state), 1);
	ASSERT_EQ(lineclient_num(res, "reports"), 1);
	ASSERT_EQ(lineclient_num(res, "events"), n_events);
	cJSON_Delete(r);
	r = call(lc, "{\"cmd\":\"reports\"}");
	/* queued behind the slow job: answered after it */
	ASSERT_EQ(atomic_load(&slow_state), 2);
	ASSERT_EQ(array_size(result_of(r), "reports"), 1);
	cJSON_Delete(r);
}

static void client_main(void *arg)
{
	struct bench *b = arg;
	struct lineclient lc;

	CHECK(lineclient_open(&lc, b->path) == 0);
	client_simple(&lc, b);
	client_slow_store(&lc, b, client_import(&lc, b));
	lineclient_close(&lc);
	client_too_large(b);
	uv_async_send(&b->done);
}

/* ---- loop side ---- */

static void sq_stopped_cb(void *arg)
{
	((struct bench *)arg)->sq_stopped = 1;
}

static void stopped_cb(void *arg)
{
	struct bench *b = arg;

	b->stopped = 1;
	storeq_stop(b->sq, sq_stopped_cb, b);
}

static void done_cb(uv_async_t *a)
{
	struct bench *b = a->data;

	ipc_stop(b->ipc, stopped_cb, b);
	uv_close((uv_handle_t *)&b->done, NULL);
}

static int bench_start(struct bench *b)
{
	snprintf(b->dir, sizeof(b->dir), "/tmp/jetsamd-test-api-XXXXXX");
	if (mkdtemp(b->dir) == NULL || config_init(&b->cfg) < 0 || uv_loop_init(&b->loop) < 0)
		return -1;
	snprintf(b->path, sizeof(b->path), "%s/jetsamd.sock", b->dir);
	free(b->cfg.socket);
	free(b->cfg.state_dir);
	b->cfg.socket = strdup(b->path);
	b->cfg.state_dir = strdup(b->dir);
	b->cfg.max_report_size = 1024 * 1024;
	if (store_open(b->dir, &b->store) < 0 || storeq_new(&b->loop, b->store, &b->sq) < 0 ||
	    ipc_new(&b->loop, &b->cfg, -1, &ops, b, &b->ipc) < 0)
		return -1;
	b->api = (struct api_ctx){
		.loop = &b->loop,
		.cfg = &b->cfg,
		.sq = b->sq,
		.ipc = b->ipc,
		.started = 1700000000,
		.report_cb = report_cb,
		.report_arg = b,
	};
	b->done.data = b;
	return uv_async_init(&b->loop, &b->done, done_cb);
}

/* The events pushed from memory are the store's EVENTs of that report, field for field. */
static void check_pushed(struct bench *b)
{
	cJSON *stored = NULL;

	CHECK(store_report_events_json(b->store, b->published[0], &stored) == 0);
	CHECK(b->pushed != NULL && cJSON_GetArraySize(b->pushed) > 0);
	/* the store keeps each EVENT as JSON text: the pushed text must be the same bytes */
	CHECK(cJSON_GetArraySize(b->pushed) == cJSON_GetArraySize(stored));
	for (int i = 0; i < cJSON_GetArraySize(stored); i++) {
		char *x = cJSON_PrintUnformatted(cJSON_GetArrayItem(b->pushed, i));
		char *y = cJSON_PrintUnformatted(cJSON_GetArrayItem(stored, i));

		ASSERT_STREQ(x, y);
		cJSON_free(x);
		cJSON_free(y);
	}
	cJSON_Delete(stored);
	cJSON_Delete(b->pushed);
}

/*
 * max_events_per_report: a report with more events keeps the first ones; it is stored ok,
 * with an error that says so (run after the loop: the store is the test's again).
 */
static void check_events_cap(struct bench *b)
{
	struct ingest_item it = {.size = 0, .mtime_ns = REPORT_NULL};
	struct ingest_source src = {0};
	size_t len;
	char *buf = read_file(b->report, &len), dir[96];
	cJSON *rep = NULL;
	struct store *s = NULL;

	CHECK(buf != NULL);
	if (buf == NULL)
		return;
	it.path = strdup("import:capped.ips");
	it.size = (int64_t)len;
	ASSERT_EQ(ingest_prepare(b->dir, buf, len, len, 2, &it), 0);
	ASSERT_EQ(it.report->n_events, 2);
	ASSERT_STREQ(it.report->error, "events cut: 2 of 6 kept (max_events_per_report)");
	snprintf(dir, sizeof(dir), "%s/capped", b->dir);
	CHECK(mkdir(dir, 0700) == 0);
	CHECK(store_open(dir, &s) == 0);
	if (s != NULL) {
		ASSERT_EQ(ingest_commit(s, &src, &it, 1), 0);
		ASSERT_EQ(it.res.n_events, 2);
		CHECK(store_report_json(s, it.res.report_id, &rep) == 0);
		ASSERT_STREQ(lineclient_str(rep, "status"), "ok");
		ASSERT_STREQ(lineclient_str(rep, "error"),
			     "events cut: 2 of 6 kept (max_events_per_report)");
		ASSERT_EQ(lineclient_num(rep, "events"), 2);
		cJSON_Delete(rep);
		store_close(s);
	}
	ingest_item_release(&it);
	free(buf);
}

int main(void)
{
	static struct bench b;
	const char *corpus = getenv("JETSAM_CORPUS");
	char report[512], cmd[160];
	uv_thread_t client;

	snprintf(report, sizeof(report), "%s/jetsam/gist-echoz-1.ips",
		 corpus ? corpus : "tests/data/corpus");
	b.report = report;
	CHECK(bench_start(&b) == 0);
	CHECK(uv_thread_create(&client, client_main, &b) == 0);
	uv_run(&b.loop, UV_RUN_DEFAULT);
	uv_thread_join(&client);

	CHECK(b.stopped);
	CHECK(b.sq_stopped);
	ASSERT_EQ(b.api.jobs_running, 0);
	ASSERT_EQ(b.api.reparse_running, 0);
	/* the first import was new and published once; the duplicate was not */
	ASSERT_EQ(b.n_published, 1);
	ASSERT_EQ(b.published[0], 1);
	check_pushed(&b);
	check_events_cap(&b);
	ipc_free(b.ipc);
	storeq_free(b.sq);
	store_close(b.store);
	CHECK(uv_loop_close(&b.loop) == 0);
	config_release(&b.cfg);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", b.dir);
	CHECK(system(cmd) == 0);
	return CHECK_DONE();
}
