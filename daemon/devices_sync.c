/* devices_sync.c: the jobs of a phone sync: start, run on the pool, commit, remove, retry */
#include <errno.h>
#include <stddef.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "devices_impl.h"
#include "fetch.h"
#include "log.h"
#include "store.h"
#include "storeq.h"
#include "trim.h"

/* the sync job checkpoints the store (off the loop) once its log is this long */
#define DEVICES_CHECKPOINT_BYTES (4 * 1024 * 1024)

#define JOB_OF(job) ((struct phone_job *)((char *)(job)-offsetof(struct phone_job, sjob)))

/* Worker: the commits of the files to remove are durable before any leaves the phone. */
static void remove_work(struct phone_job *j)
{
	uint64_t t0 = clock_now_ms();
	char msg[300];
	int r = store_sync_durable(j->params.state_dir);

	if (r < 0) {
		memset(&j->res, 0, sizeof(j->res));
		j->res.state = FETCH_ERROR;
		snprintf(msg, sizeof(msg), "cannot make the store durable: %s; nothing removed",
			 strerror(-r));
		j->res.error = strdup(msg);
		return;
	}
	log_debug("fetch", "%s: store durable before removal (%llu ms)", j->params.udid,
		  (unsigned long long)(clock_now_ms() - t0));
	fetch_remove(j->params.udid, j->params.network, j->rm, j->n_rm, &j->cancel, &j->abort,
		     &j->res);
}

/* Worker thread: only the job's own values, never loop-owned objects. */
static void sync_work_cb(uv_work_t *req)
{
	struct phone_job *j = req->data;

	if (j->kind == JOB_REMOVE) {
		remove_work(j);
		trim_thread_cache();
		return;
	}
	/* download here; archive, parse and commit on the stage's thread (devices_stage.c) */
	if (sync_stage_start(j) < 0) {
		memset(&j->res, 0, sizeof(j->res));
		j->res.state = FETCH_ERROR;
		j->res.error = strdup("cannot start the thread that archives the reports");
		return;
	}
	fetch_sync(&j->params, &j->cancel, &j->res);
	sync_stage_finish(j);
	/* keep the log short here, so that the store thread's commits never run a checkpoint */
	store_checkpoint(j->params.state_dir, DEVICES_CHECKPOINT_BYTES, NULL);
	trim_thread_cache();
}

static void job_free(struct phone_job *j)
{
	fetch_abort_release(&j->abort);
	fetch_params_release(&j->params);
	fetch_result_release(&j->res);
	for (size_t i = 0; i < j->n_done; i++)
		free(j->done[i].path);
	free(j->done);
	for (size_t i = 0; i < j->n_rm; i++)
		free(j->rm[i].path);
	free(j->rm);
	uv_sem_destroy(&j->slots);
	free(j);
}

/* A new job of ph (not started); NULL when out of memory. */
static struct phone_job *job_new(struct phone *ph, enum job_kind kind)
{
	struct phone_job *j = calloc(1, sizeof(*j));

	if (!j)
		return NULL;
	if (uv_sem_init(&j->slots, SYNC_BATCHES_IN_FLIGHT) < 0) {
		free(j);
		return NULL;
	}
	j->kind = kind;
	fetch_abort_init(&j->abort);
	j->ph = ph;
	j->sq = ph->dv->sq;
	j->gen = ph->gen;
	j->work.data = j;
	j->started_ms = clock_now_ms();
	atomic_init(&j->cancel, 0);
	memcpy(j->params.udid, ph->udid, sizeof(j->params.udid));
	j->params.network = ph->network;
	j->params.state_dir = strdup(ph->dv->cfg->state_dir);
	if (!j->params.state_dir) {
		job_free(j);
		return NULL;
	}
	return j;
}

static void job_after_cb(uv_work_t *req, int status);

/* ph->timer while a sync runs: at its deadline, cut its sockets so that a hung read ends */
static void deadline_cb(uv_timer_t *t)
{
	struct phone *ph = t->data;

	if (ph->job && ph->job->kind == JOB_SYNC) {
		log_warn("devices", "'%s': sync_timeout (%u s) reached: ending the sync", ph->udid,
			 ph->dv->cfg->sync_timeout_s);
		fetch_abort_now(&ph->job->abort);
	}
}

/* Loop: the job holds its phone's slot (ph->job, in_flight) until its last store job is done. */
static int job_start(struct phone *ph, struct phone_job *j)
{
	int r = uv_queue_work(ph->dv->loop, &j->work, sync_work_cb, job_after_cb);

	if (r < 0)
		return r;
	ph->job = j;
	ph->dv->in_flight++;
	if (j->kind == JOB_SYNC && j->params.deadline_ms) /* the worker's checks, then this */
		uv_timer_start(&ph->timer, deadline_cb, j->params.deadline_ms - j->started_ms + 200,
			       0);
	return 0;
}

/* Loop: after a job released its slot: start what waits, or finish stopping. */
static void job_tail(struct devices *dv, struct phone *ph)
{
	if (dv->stopping) {
		devices_maybe_finish(dv);
		return;
	}
	if (ph->want && !ph->job) {
		/* asked for while the job ran (also: re-attached while a stale job finished) */
		ph->want = 0;
		phone_enqueue(ph);
	}
	devices_pump(dv);
	/*
	 * The last job is done: give the heap that downloads and parses used (in the worker
	 * threads' malloc arenas) back to the system, so that an idle daemon stays small.
	 */
	if (dv->in_flight == 0)
		trim_heap_soon(dv->loop);
}

static void finish_sync(struct phone *ph, enum phone_state st, const char *error)
{
	struct devices *dv = ph->dv;
	const struct config *cfg = dv->cfg;

	phone_set_state(ph, st, error);
	if (st == PH_IDLE) {
		ph->backoff_s = 0;
		phone_arm_timer(ph, cfg->resync_interval_s);
	} else {
		unsigned b = ph->backoff_s ? ph->backoff_s * 2 : cfg->retry_min_s;

		if (b > cfg->retry_max_s)
			b = cfg->retry_max_s;
		if (b == 0)
			b = 1;
		ph->backoff_s = b;
		log_debug("devices", "'%s': next try in %u s", ph->udid, b);
		phone_arm_timer(ph, b);
	}
	devices_complete_waits(dv, &ph->cur_waits, ph);
	if (ph->want) {
		ph->want = 0;
		phone_enqueue(ph);
	}
}

/* Store thread: the phone's file index, by value, for the sync's worker. */
static void index_work_cb(struct store *s, struct storeq_job *job)
{
	struct phone_job *j = JOB_OF(job);

	j->store_err = store_file_index_load(s, j->params.udid, &j->params.index);
}

/* Loop: the index is loaded: download on the pool. */
static void index_done_cb(struct storeq_job *job)
{
	struct phone_job *j = JOB_OF(job);
	struct phone *ph = j->ph;
	struct devices *dv = ph->dv;
	int r = j->store_err;

	dv->in_flight--;
	ph->job = NULL;
	if (r == 0 && !dv->stopping && j->gen == ph->gen && (r = job_start(ph, j)) == 0)
		return;
	if (r < 0 && !dv->stopping && j->gen == ph->gen) {
		log_err("devices", "'%s': cannot start a sync: %s", ph->udid, strerror(-r));
		finish_sync(ph, PH_ERROR, "cannot start a sync");
	}
	job_free(j);
	job_tail(dv, ph);
}

static void start_sync(struct phone *ph)
{
	struct devices *dv = ph->dv;
	const struct config *cfg = dv->cfg;
	struct phone_job *j = job_new(ph, JOB_SYNC);
	int r = -ENOMEM;

	/* waiters that asked before this point are served by this sync */
	if (ph->next_waits) {
		struct waitref **tail = &ph->cur_waits;

		while (*tail)
			tail = &(*tail)->next;
		*tail = ph->next_waits;
		ph->next_waits = NULL;
	}
	ph->new_reports = 0;
	if (!j)
		goto fail;
	j->params.collect_all = cfg->collect == CONFIG_COLLECT_ALL;
	j->params.mover_timeout_ms = cfg->mover_timeout_ms;
	j->params.max_report_size = cfg->max_report_size;
	j->max_events = cfg->max_events_per_report;
	j->params.file_cb = sync_stage_file_cb;
	j->params.file_arg = j;
	j->params.abort = &j->abort;
	j->params.deadline_ms = clock_now_ms() + (uint64_t)cfg->sync_timeout_s * 1000;
	j->params.max_depth = cfg->max_sync_depth;
	j->params.max_entries = cfg->max_sync_entries;
	j->sjob.work_cb = index_work_cb;
	j->sjob.done_cb = index_done_cb;
	r = storeq_submit(dv->sq, &j->sjob);
	if (r < 0)
		goto fail;
	ph->job = j;
	dv->in_flight++;
	phone_set_state(ph, PH_SYNCING, NULL);
	return;
fail:
	if (j)
		job_free(j);
	log_err("devices", "'%s': cannot start a sync: %s", ph->udid, strerror(-r));
	finish_sync(ph, PH_ERROR, "cannot start a sync");
}

void devices_pump(struct devices *dv)
{
	unsigned max = dv->cfg->max_parallel_syncs ? dv->cfg->max_parallel_syncs : 1;

	while (!dv->stopping && dv->in_flight < max && dv->qhead) {
		struct phone *ph = dv->qhead;

		dv->qhead = ph->qnext;
		if (!dv->qhead)
			dv->qtail = NULL;
		ph->qnext = NULL;
		ph->queued = 0;
		start_sync(ph);
	}
}

static enum phone_state state_of(enum fetch_state s)
{
	switch (s) {
	case FETCH_OK:
		return PH_IDLE;
	case FETCH_LOCKED:
		return PH_LOCKED;
	case FETCH_UNTRUSTED:
		return PH_UNTRUSTED;
	default:
		return PH_ERROR;
	}
}

/* With remove_after_pull: every file now committed (pulled now or before), for removal. */
static int removal_list(struct phone_job *j, struct fetch_known **rm, size_t *n_rm)
{
	struct fetch_result *res = &j->res;
	struct fetch_known *v;
	size_t n = 0;

	*rm = NULL;
	*n_rm = 0;
	if (j->n_done + res->n_known == 0)
		return 0;
	v = calloc(j->n_done + res->n_known, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < j->n_done; i++) {
		v[n++] = j->done[i];
		j->done[i].path = NULL;
	}
	for (size_t i = 0; i < res->n_known; i++) {
		v[n] = res->known[i];
		res->known[i].path = NULL;
		n++;
	}
	*rm = v;
	*n_rm = n;
	return 0;
}

/* Store thread: what a job's result records (after every commit of its files). */
static void job_store_work_cb(struct store *s, struct storeq_job *job)
{
	struct phone_job *j = JOB_OF(job);
	const struct fetch_result *res = &j->res;

	if (j->kind == JOB_REMOVE) {
		/* facts about the phone, kept even when the job is stale */
		for (size_t i = 0; !j->cancelled && i < j->n_rm; i++) {
			if (!j->rm[i].removed)
				continue;
			if (store_file_mark_removed(s, j->params.udid, j->rm[i].path) < 0)
				log_err("devices", "'%s': cannot record removal of '%s'",
					j->params.udid, j->rm[i].path);
			j->n_removed++;
		}
		return;
	}
	if (j->drop)
		return;
	if (res->name || res->product || res->os_version || res->build)
		j->store_err = store_device_upsert(s, j->params.udid, res->name, res->product,
						   res->os_version, res->build,
						   j->params.network ? "Network" : "USB");
	if (j->commit_err_st == 0 && (res->state == FETCH_OK || res->n_files))
		store_device_set_synced(s, j->params.udid, (int64_t)time(NULL));
}

static void after_remove(struct phone *ph, struct phone_job *j)
{
	if (j->n_removed)
		log_info("devices", "'%s': removed %zu pulled report(s) from the device", ph->udid,
			 j->n_removed);
	finish_sync(ph, j->res.state == FETCH_OK ? PH_IDLE : state_of(j->res.state), j->res.error);
}

/* Start the removal job of the files in rm[0..n_rm) (taken over); 0 or -errno. */
static int start_removal(struct phone *ph, struct fetch_known *rm, size_t n_rm)
{
	struct phone_job *rj = job_new(ph, JOB_REMOVE);

	if (rj) {
		rj->rm = rm;
		rj->n_rm = n_rm;
		if (job_start(ph, rj) == 0)
			return 0;
		rj->rm = NULL;
		rj->n_rm = 0;
		job_free(rj);
	}
	log_err("devices", "'%s': cannot start removing pulled reports", ph->udid);
	return -ENOMEM;
}

static void after_sync(struct phone *ph, struct phone_job *j)
{
	struct devices *dv = ph->dv;
	struct fetch_known *rm = NULL;
	size_t n_rm = 0;
	int r = j->commit_err < 0 ? j->commit_err : j->store_err;

	if (r == 0 && dv->cfg->remove_after_pull)
		r = removal_list(j, &rm, &n_rm);
	if (r < 0) {
		for (size_t i = 0; i < n_rm; i++)
			free(rm[i].path);
		free(rm);
		log_err("devices", "'%s': cannot store pulled reports: %s", ph->udid, strerror(-r));
		finish_sync(ph, PH_ERROR, "cannot store pulled reports");
		return;
	}
	log_info("devices",
		 "'%s': sync %s: %zu pulled, %d new, %zu known, %llu bytes in %llu ms "
		 "(store %llu ms)",
		 ph->udid, fetch_state_name(j->res.state), j->res.n_files, ph->new_reports,
		 j->res.n_known, (unsigned long long)j->res.bytes,
		 (unsigned long long)(clock_now_ms() - j->started_ms),
		 (unsigned long long)(clock_now_ms() - j->fetched_ms));
	if (n_rm && j->res.state == FETCH_OK && start_removal(ph, rm, n_rm) == 0)
		return;
	for (size_t i = 0; i < n_rm; i++)
		free(rm[i].path);
	free(rm);
	finish_sync(ph, state_of(j->res.state), j->res.error);
}

/* Loop: the job's last store job is done (every commit of its files came back before it). */
static void job_store_done_cb(struct storeq_job *job)
{
	struct phone_job *j = JOB_OF(job);
	struct phone *ph = j->ph;
	struct devices *dv = ph->dv;

	dv->in_flight--;
	ph->job = NULL;
	/* the phone may have gone (or come again) while the store thread had the results */
	if (j->drop || dv->stopping || j->gen != ph->gen)
		log_debug("devices", "'%s': result of a cancelled or stale job dropped", ph->udid);
	else if (j->kind == JOB_SYNC)
		after_sync(ph, j);
	else
		after_remove(ph, j);
	job_free(j);
	job_tail(dv, ph);
}

/* Loop: the pool is done with the job; its results go through the store thread first. */
static void job_after_cb(uv_work_t *req, int status)
{
	struct phone_job *j = req->data;
	struct phone *ph = j->ph;
	struct devices *dv = ph->dv;

	j->fetched_ms = clock_now_ms();
	j->cancelled = status == UV_ECANCELED;
	j->drop = j->cancelled || dv->stopping || j->gen != ph->gen;
	j->sjob.work_cb = job_store_work_cb;
	j->sjob.done_cb = job_store_done_cb;
	if (storeq_submit(dv->sq, &j->sjob) < 0) {
		j->store_err = -ESHUTDOWN;
		job_store_done_cb(&j->sjob);
	}
}

/* ---- a phone's row ---- */

struct state_job {
	struct storeq_job sjob; /* first */
	struct devices *dv;
	char udid[44];
	char state[16];
	char connection[16]; /* "": a state update; else an attach (connection type) */
	int attached;
	char *error;
	int r;
	struct store_device row;
};

static void state_work_cb(struct store *s, struct storeq_job *job)
{
	struct state_job *sj = (struct state_job *)job;

	if (sj->connection[0])
		sj->r = store_device_upsert(s, sj->udid, NULL, NULL, NULL, NULL, sj->connection);
	else
		sj->r = store_device_set_state(s, sj->udid, sj->state, sj->attached, sj->error,
					       &sj->row);
}

static void state_done_cb(struct storeq_job *job)
{
	struct state_job *sj = (struct state_job *)job;
	struct devices *dv = sj->dv;

	if (sj->r < 0)
		log_err("devices", "'%s': cannot record %s: %s", sj->udid,
			sj->connection[0] ? "the phone" : "state", strerror(-sj->r));
	if (sj->connection[0])
		; /* nothing to hand up */
	else if (sj->r < 0)
		dv->ops->status_cb(dv->arg); /* the counts changed even so */
	else
		dv->ops->device_cb(dv->arg, &sj->row);
	free(sj->error);
	free(sj);
}

static void state_submit(struct phone *ph, const char *state, const char *connection,
			 const char *error)
{
	struct devices *dv = ph->dv;
	struct state_job *sj = calloc(1, sizeof(*sj));

	if (sj == NULL || (error && (sj->error = strdup(error)) == NULL)) {
		free(sj);
		log_err("devices", "'%s': out of memory: state not recorded", ph->udid);
		return;
	}
	sj->dv = dv;
	snprintf(sj->udid, sizeof(sj->udid), "%s", ph->udid);
	snprintf(sj->state, sizeof(sj->state), "%s", state ? state : "");
	snprintf(sj->connection, sizeof(sj->connection), "%s", connection ? connection : "");
	sj->attached = ph->attached;
	sj->sjob.work_cb = state_work_cb;
	sj->sjob.done_cb = state_done_cb;
	if (storeq_submit(dv->sq, &sj->sjob) < 0) {
		log_err("devices", "'%s': the store is shut down: state not recorded", ph->udid);
		free(sj->error);
		free(sj);
	}
}

void phone_store_state(struct phone *ph, const char *state, const char *error)
{
	state_submit(ph, state, NULL, error);
}

void phone_store_attach(struct phone *ph, const char *connection)
{
	state_submit(ph, NULL, connection, NULL);
}
