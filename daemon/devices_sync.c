/* devices_sync.c: the jobs of a phone sync: start, run on the pool, commit, remove, retry */
#include <errno.h>
#include <malloc.h>
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

/* the sync job checkpoints the store (off the loop) once its log is this long */
#define DEVICES_CHECKPOINT_BYTES (4 * 1024 * 1024)

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

/* Worker (fetch_params.file_cb): archive and parse one downloaded file into the job. */
static int file_cb(void *arg, const char *path, int64_t size, int64_t mtime_ns, const void *buf)
{
	struct phone_job *j = arg;
	struct ingest_item *it;
	int r;

	if (j->n_files == j->cap_files) {
		size_t cap = j->cap_files ? 2 * j->cap_files : 16;
		struct ingest_item *v = realloc(j->files, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		j->files = v;
		j->cap_files = cap;
	}
	it = &j->files[j->n_files];
	memset(it, 0, sizeof(*it));
	it->path = strdup(path);
	it->size = size;
	it->mtime_ns = mtime_ns;
	if (!it->path)
		return -ENOMEM;
	r = ingest_prepare(j->params.state_dir, buf, (size_t)size, j->params.max_report_size, it);
	if (r < 0) {
		ingest_item_release(it);
		return r;
	}
	j->n_files++;
	return 0;
}

/* Worker thread: only the job's own values, never loop-owned objects. */
static void sync_work_cb(uv_work_t *req)
{
	struct phone_job *j = req->data;

	if (j->kind == JOB_REMOVE) {
		remove_work(j);
		return;
	}
	fetch_sync(&j->params, &j->cancel, &j->res);
	/* keep the log short here, so that the loop's commits never run a checkpoint */
	store_checkpoint(j->params.state_dir, DEVICES_CHECKPOINT_BYTES, NULL);
}

static struct phone_job *job_new(enum job_kind kind)
{
	struct phone_job *j = calloc(1, sizeof(*j));

	if (j) {
		j->kind = kind;
		fetch_abort_init(&j->abort);
	}
	return j;
}

static void job_free(struct phone_job *j)
{
	fetch_abort_release(&j->abort);
	fetch_params_release(&j->params);
	fetch_result_release(&j->res);
	for (size_t i = 0; i < j->n_files; i++)
		ingest_item_release(&j->files[i]);
	free(j->files);
	for (size_t i = 0; i < j->n_rm; i++)
		free(j->rm[i].path);
	free(j->rm);
	free(j);
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

static int job_start(struct phone *ph, struct phone_job *j)
{
	struct devices *dv = ph->dv;
	int r;

	j->ph = ph;
	j->gen = ph->gen;
	j->work.data = j;
	j->started_ms = clock_now_ms();
	atomic_init(&j->cancel, 0);
	r = uv_queue_work(dv->loop, &j->work, sync_work_cb, job_after_cb);
	if (r < 0)
		return r;
	ph->job = j;
	dv->in_flight++;
	if (j->kind == JOB_SYNC && j->params.deadline_ms) /* the worker's checks, then this */
		uv_timer_start(&ph->timer, deadline_cb, j->params.deadline_ms - j->started_ms + 200,
			       0);
	return 0;
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

static void start_sync(struct phone *ph)
{
	struct devices *dv = ph->dv;
	const struct config *cfg = dv->cfg;
	struct phone_job *j = job_new(JOB_SYNC);
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
	memcpy(j->params.udid, ph->udid, sizeof(j->params.udid));
	j->params.state_dir = strdup(cfg->state_dir);
	j->params.collect_all = cfg->collect == CONFIG_COLLECT_ALL;
	j->params.network = ph->network;
	j->params.mover_timeout_ms = cfg->mover_timeout_ms;
	j->params.max_report_size = cfg->max_report_size;
	j->params.file_cb = file_cb;
	j->params.file_arg = j;
	j->params.abort = &j->abort;
	j->params.deadline_ms = clock_now_ms() + (uint64_t)cfg->sync_timeout_s * 1000;
	j->params.max_depth = cfg->max_sync_depth;
	j->params.max_entries = cfg->max_sync_entries;
	if (!j->params.state_dir)
		goto fail;
	r = store_file_index_load(dv->store, ph->udid, &j->params.index);
	if (r < 0)
		goto fail;
	r = job_start(ph, j);
	if (r < 0)
		goto fail;
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

/* Store what the job pulled; returns how many files are committed (for removal) via rm. */
/* Store what the job pulled (identity facts, then the files in one transaction); publish. */
static int commit_files(struct phone *ph, struct phone_job *j)
{
	struct devices *dv = ph->dv;
	const struct fetch_result *res = &j->res;
	struct ingest_source src = {ph->udid, res->product, res->os_version, res->build};
	int r;

	if (res->name || res->product || res->os_version || res->build) {
		r = store_device_upsert(dv->store, ph->udid, res->name, res->product,
					res->os_version, res->build,
					ph->network ? "Network" : "USB");
		if (r < 0)
			return r;
	}
	if (j->n_files == 0)
		return 0;
	r = ingest_commit(dv->store, &src, j->files, j->n_files);
	if (r < 0)
		return r;
	for (size_t i = 0; i < j->n_files; i++) {
		const struct ingest_item *it = &j->files[i];

		log_debug("devices", "'%s': '%s' stored as report %lld%s (%zu events)", ph->udid,
			  it->path, (long long)it->res.report_id,
			  it->res.duplicate ? ", a duplicate" : "", it->res.n_events);
		if (it->res.duplicate)
			continue;
		ph->new_reports++;
		dv->ops->report_cb(dv->arg, &src, it);
	}
	return 0;
}

/* With remove_after_pull: every file now committed (pulled now or before), for removal. */
static int removal_list(struct phone_job *j, struct fetch_known **rm, size_t *n_rm)
{
	struct fetch_result *res = &j->res;
	struct fetch_known *v;
	size_t n = 0;

	*rm = NULL;
	*n_rm = 0;
	if (j->n_files + res->n_known == 0)
		return 0;
	v = calloc(j->n_files + res->n_known, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < j->n_files; i++) {
		v[n].path = j->files[i].path;
		j->files[i].path = NULL;
		v[n].size = j->files[i].size;
		v[n].mtime_ns = j->files[i].mtime_ns;
		n++;
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

/* Record what the removal job removed (facts about the phone, kept even when stale). */
static size_t mark_removed(struct phone *ph, struct phone_job *j)
{
	struct store *s = ph->dv->store;
	size_t n = 0;

	for (size_t i = 0; i < j->n_rm; i++) {
		if (!j->rm[i].removed)
			continue;
		if (store_file_mark_removed(s, ph->udid, j->rm[i].path) < 0)
			log_err("devices", "'%s': cannot record removal of '%s'", ph->udid,
				j->rm[i].path);
		n++;
	}
	return n;
}

static void after_remove(struct phone *ph, struct phone_job *j)
{
	size_t n = mark_removed(ph, j);

	if (n)
		log_info("devices", "'%s': removed %zu pulled report(s) from the device", ph->udid,
			 n);
	finish_sync(ph, j->res.state == FETCH_OK ? PH_IDLE : state_of(j->res.state), j->res.error);
}

static void after_sync(struct phone *ph, struct phone_job *j)
{
	struct devices *dv = ph->dv;
	struct fetch_known *rm = NULL;
	size_t n_rm = 0;
	uint64_t t0 = clock_now_ms();
	int r;

	r = commit_files(ph, j);
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
	if (j->res.state == FETCH_OK || j->res.n_files)
		store_device_set_synced(dv->store, ph->udid, (int64_t)time(NULL));
	log_info("devices",
		 "'%s': sync %s: %zu pulled, %d new, %zu known, %llu bytes in %llu ms "
		 "(store %llu ms)",
		 ph->udid, fetch_state_name(j->res.state), j->res.n_files, ph->new_reports,
		 j->res.n_known, (unsigned long long)j->res.bytes,
		 (unsigned long long)(clock_now_ms() - j->started_ms),
		 (unsigned long long)(clock_now_ms() - t0));
	if (n_rm && j->res.state == FETCH_OK) {
		struct phone_job *rj = job_new(JOB_REMOVE);

		if (rj) {
			memcpy(rj->params.udid, ph->udid, sizeof(rj->params.udid));
			rj->params.network = ph->network;
			rj->params.state_dir = strdup(dv->cfg->state_dir);
			rj->rm = rm;
			rj->n_rm = n_rm;
			if (rj->params.state_dir && job_start(ph, rj) == 0)
				return;
			rj->rm = NULL;
			rj->n_rm = 0;
			job_free(rj);
		}
		log_err("devices", "'%s': cannot start removing pulled reports", ph->udid);
	}
	for (size_t i = 0; i < n_rm; i++)
		free(rm[i].path);
	free(rm);
	finish_sync(ph, state_of(j->res.state), j->res.error);
}

static void job_after_cb(uv_work_t *req, int status)
{
	struct phone_job *j = req->data;
	struct phone *ph = j->ph;
	struct devices *dv = ph->dv;

	dv->in_flight--;
	ph->job = NULL;
	if (status == UV_ECANCELED || dv->stopping || j->gen != ph->gen) {
		if (status != UV_ECANCELED && j->kind == JOB_REMOVE)
			mark_removed(ph, j);
		/* a sync cut by the stop keeps the files it finished; the rest comes next time */
		if (status != UV_ECANCELED && dv->stopping && j->kind == JOB_SYNC && j->n_files) {
			if (commit_files(ph, j) < 0)
				log_err("devices", "'%s': cannot store pulled reports at stop",
					ph->udid);
			else
				log_info("devices",
					 "'%s': stopped mid-sync: %zu pulled report(s) kept",
					 ph->udid, j->n_files);
		}
		log_debug("devices", "'%s': result of a cancelled or stale job dropped", ph->udid);
	} else if (j->kind == JOB_SYNC) {
		after_sync(ph, j);
	} else {
		after_remove(ph, j);
	}
	job_free(j);
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
		malloc_trim(0);
}
