/* api_common.h: what the command files (api.c, import.c, reparse.c) share: context, replies */
#ifndef JETSAMD_API_COMMON_H
#define JETSAMD_API_COMMON_H

#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "ipc.h"
#include "store.h"
#include "storeq.h"

struct cJSON;
struct config;
struct devices;
struct ingest_item;
struct ingest_source;
struct request;

/*
 * What the commands work with, set up by the hub (nothing here sees struct hub). The api
 * answers on the ipc client it was handed, queries the store and asks devices for syncs.
 */
struct api_ctx {
	uv_loop_t *loop;
	const struct config *cfg; /* the hub's, replaced in place on reload */
	struct storeq *sq;	  /* the store thread: the api never calls the store itself */
	struct devices *devices;  /* NULL when device watching is not running */
	struct ipc *ipc;
	int64_t started; /* epoch seconds */
	int stopping;	 /* set by the hub: long jobs (reparse) stop at their next step */
	/* An imported report was committed and is new: publish its events. */
	void (*report_cb)(void *arg, const struct ingest_source *src, struct ingest_item *it);
	void *report_arg;
	/* the status reply's "fleet" object (NULL: none) */
	struct cJSON *(*fleet_json_cb)(void *arg);
	void *fleet_arg;
	/* the api's own */
	unsigned jobs_running; /* work items (import, reparse) still on the thread pool */
	int reparse_running;
	/* store queries: at most API_QUERIES_MAX on the store thread, the rest wait in order */
	unsigned queries_running;
	struct api_query *queries_head, *queries_tail;
};

/*
 * A list reply (a cJSON tree of up to 100 000 events, then its text) can take tens of MiB
 * while the store thread turns it into bytes: so few run at once, whatever the number of
 * clients asking.
 */
#define API_QUERIES_MAX 1

/* per-client state, in the client's ipc slot */
struct api_client {
	struct sync_wait *wait;	 /* a waited sync in progress */
	struct cJSON *import_id; /* id of the import whose bytes are being read */
	char *import_name;
	int import_bad; /* the import header was bad: drop the bytes, then reply */
	const char *import_code;
	char import_err[256];
};

/* The client's state, created on first use; NULL when out of memory. */
struct api_client *api_client_state(struct ipc_client *c);
/* {"id", "ok": true, "result"}: result is consumed. */
void api_reply_ok(struct ipc_client *c, const struct cJSON *id, struct cJSON *result);
/* {"id", "ok": false, "error": {"code", "message"}} */
void api_reply_err(struct ipc_client *c, const struct cJSON *id, const char *code, const char *fmt,
		   ...) __attribute__((format(printf, 4, 5)));
/* A store call failed with r. */
void api_reply_store_err(struct ipc_client *c, const struct cJSON *id, int r);
/* An import or reparse ended: when no job is left, give freed heap back (malloc_trim). */
void api_jobs_idle_trim(const struct api_ctx *a);

/*
 * A query answered from the store thread: run fills result (or returns -errno) there, then
 * build turns what the job holds into the reply's "result" object, and the whole reply line
 * is encoded there too (api_common.c); the loop only queues its bytes, then resumes the
 * client. A query with reply instead of build answers on the loop (status, from loop
 * state). The request's JSON moves into the query, so filter strings taken from it with
 * request_string() stay valid; the store thread reads id and them, the loop leaves them be.
 */
struct api_query {
	struct storeq_job job;	/* first */
	struct api_query *next; /* waiting for a slot */
	struct api_ctx *a;
	struct ipc_client *c; /* referenced */
	struct cJSON *root;   /* the request, owned */
	const struct cJSON *id;
	int (*run)(struct store *s, struct api_query *q); /* store thread */
	struct cJSON *(*build)(struct api_query *q);	  /* store thread, after run */
	void (*reply)(struct api_query *q);		  /* loop; when build is NULL */
	union {
		struct store_event_filter events;
		struct store_report_filter reports;
		struct {
			const char *product, *build, *role;
		} limits;
		struct {
			const char *product, *build, *os, *role, *stat;
		} limit;
	} f;
	int r;
	/* run may answer with an error of the request instead (code and message) */
	const char *err_code;
	char err_msg[256];
	struct cJSON *result;
	char *text; /* the reply line build's result became (ipc_encode) */
	size_t text_len;
	struct store_page page; /* list queries */
	int64_t value;		/* scalar queries (cursor) */
};

/* The limit command (api_limit.c) */
enum ipc_outcome api_cmd_limit(struct api_ctx *a, struct ipc_client *c, struct request *req);

/* A query of c for req (its JSON is taken over when submitted); NULL when out of memory. */
struct api_query *api_query_new(struct api_ctx *a, struct ipc_client *c, struct request *req);
/* Run q on the store thread: IPC_PENDING, or IPC_DONE after an error reply (q freed). */
enum ipc_outcome api_query_submit(struct api_query *q, struct request *req);

#endif
