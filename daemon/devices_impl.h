/* devices_impl.h: what devices.c (phones, state, waits) and devices_sync.c (jobs) share */
#ifndef JETSAMD_DEVICES_IMPL_H
#define JETSAMD_DEVICES_IMPL_H

#include <stdatomic.h>
#include <stdint.h>
#include <uv.h>

#include "devices.h"
#include "devwatch.h"
#include "fetch.h"
#include "ingest.h"
#include "mailbox.h"
#include "storeq.h"
#include "syslogwatch.h"

/* Loop thread only; see the DESIGN comment in devices.c. */

enum phone_state {
	PH_ATTACHED,
	PH_SYNCING,
	PH_IDLE,
	PH_LOCKED,
	PH_UNTRUSTED,
	PH_ERROR,
	PH_DETACHED,
};

struct waitref {
	struct devices_wait *w;
	size_t idx;
	struct waitref *next;
};

struct devices_wait {
	devices_sync_cb cb;
	void *arg;
	struct devices_sync_result *res;
	size_t n, pending;
	int cancelled;
	struct devices_wait *next; /* delivery list */
};

enum job_kind { JOB_SYNC, JOB_REMOVE };

struct phone_job {
	uv_work_t work;
	struct storeq_job sjob; /* index load before the pool, results after it */
	struct phone *ph;
	struct storeq *sq; /* the stage submits each batch's commit itself */
	uv_sem_t slots;	   /* batches flushed and not yet committed: SYNC_BATCHES_IN_FLIGHT */
	struct sync_stage *stage; /* JOB_SYNC, while fetch_sync runs (devices_stage.c) */
	size_t max_events;	  /* max_events_per_report */
	unsigned gen;
	enum job_kind kind;
	atomic_int cancel;
	struct fetch_abort abort;   /* the loop cuts the job's sockets on stop and detach */
	struct fetch_params params; /* JOB_SYNC */
	struct fetch_known *done;   /* JOB_SYNC: files committed so far (loop) */
	size_t n_done, cap_done;
	int commit_err;		/* a report's commit failed (loop) */
	int commit_err_st;	/* the same, on the store thread */
	int store_err;		/* of the job's own store job */
	int cancelled, drop;	/* set when the pool is done: the result is not used */
	struct fetch_known *rm; /* JOB_REMOVE */
	size_t n_rm, n_removed;
	struct fetch_result res;
	uint64_t started_ms, fetched_ms;
};

struct phone {
	struct devices *dv;
	char udid[44];
	int network;
	int attached;
	enum phone_state state;
	char *error;
	unsigned gen;
	struct phone_job *job;
	int queued, want;
	uv_timer_t timer;
	unsigned backoff_s;
	int new_reports;	  /* of the sync in progress */
	uint64_t sync_started_ms; /* when it last entered PH_SYNCING (ops->sync_cb) */
	struct waitref *next_waits, *cur_waits;
	struct phone *next, *qnext;
	/* live detection (devices_live.c) */
	struct syslogwatch *follow; /* its follower, until the loop has seen it end */
	int follow_stopped;	    /* stopped by us: start again if still wanted */
	int follow_logged;	    /* "unavailable" was logged since the last attach */
	int live_due;		    /* a saved report was seen: sync when the debounce fires */
};

struct devices {
	uv_loop_t *loop;
	const struct config *cfg; /* the owner's, replaced in place on reload */
	struct storeq *sq;	  /* every store write and read is a store job */
	const struct devices_ops *ops;
	void *arg;
	struct devwatch *watch;
	struct phone *phones;
	struct phone *qhead, *qtail;
	unsigned in_flight;
	uv_timer_t deliver;
	struct devices_wait *done_waits;
	int stopping, watch_done, closing;
	unsigned open_handles;
	void (*done_cb)(void *arg);
	void *done_arg;
	/* live detection (devices_live.c) */
	struct mailbox live_mb; /* the followers' events */
	int live_ok;		/* live_mb is initialized */
	uv_timer_t live_timer;	/* debounce of saved-report lines */
	unsigned followers;	/* followers not yet seen to end */
};

extern const char *const phone_state_names[];

/* devices.c */
void phone_set_state(struct phone *ph, enum phone_state st, const char *error);
void phone_enqueue(struct phone *ph);
void phone_arm_timer(struct phone *ph, unsigned seconds);
/* Complete and unlink the waits of list with ph's outcome. */
void devices_complete_waits(struct devices *dv, struct waitref **list, const struct phone *ph);
/* When stopping and no job is left: answer every waiter and close the handles. */
void devices_maybe_finish(struct devices *dv);
/* The devwatch callbacks (arg is the struct devices); tests may call them directly. */
extern const struct devwatch_ops devices_watch_ops;

/* A handle of dv was closed: the last one calls done_cb. */
void devices_handle_closed(struct devices *dv);

/* devices_live.c: a syslog_relay follower per idle phone; a saved report syncs it */
void devices_live_init(struct devices *dv);
/* ph's state changed (phone_set_state): follow it when idle, stop at detach. */
void devices_live_state(struct phone *ph);
void devices_live_reconfigure(struct devices *dv);
/* devices_stop: stop every follower (their end is awaited: dv->followers). */
void devices_live_stop(struct devices *dv);
/* devices_maybe_finish, when no follower is left: close the handles (open_handles counts). */
void devices_live_close(struct devices *dv);

/* devices_stage.c: a sync's archive, parse and commit stage, beside its downloads */
#define SYNC_BATCHES_IN_FLIGHT 2
/* Worker, before fetch_sync: start j's stage thread. 0 or -errno. */
int sync_stage_start(struct phone_job *j);
/* fetch_params.file_cb (arg: the job): queue a copy of a downloaded file for the stage. */
int sync_stage_file_cb(void *arg, const char *path, int64_t size, int64_t mtime_ns,
		       const void *buf);
/* Worker, after fetch_sync: finish (or drop, when cancelled) what is queued, flush and
 * submit the last batch, join the thread; its failures count in j->res. */
void sync_stage_finish(struct phone_job *j);

/* devices_sync.c */
/* Start queued syncs while fewer than max_parallel_syncs jobs run. */
void devices_pump(struct devices *dv);
/* Record ph's state (store job), then hand the DEVICE row up (device_cb). */
void phone_store_state(struct phone *ph, const char *state, const char *error);
/* Record a phone's connection type (store job, nothing handed up). */
void phone_store_attach(struct phone *ph, const char *connection);

#endif
