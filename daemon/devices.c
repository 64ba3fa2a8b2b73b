/* devices.c: per-phone sync state machine of jetsamd: scheduling, retries, store commits */
#include <errno.h>
#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "clock.h"
#include "config.h"
#include "devices.h"
#include "devwatch.h"
#include "fetch.h"
#include "log.h"
#include "store.h"

/*
 * DESIGN
 * Loop thread only. One struct phone per udid ever attached in this run (never freed before
 * devices_free, so jobs may point at it). A phone has at most one job in flight (a sync,
 * then, with remove_after_pull, a removal); at most max_parallel_syncs jobs run at once, the
 * others wait in a FIFO run queue. Each attach/detach bumps the phone's generation; a job
 * result whose generation is stale is dropped (its archive writes are harmless:
 * content-addressed). One timer per phone: the next resync (resync_interval after a good
 * sync) or the next retry (retry_min doubling to retry_max after locked/untrusted/error).
 * Nothing runs when nothing is due. Waited syncs: a waiter joins the phone's next sync (one
 * that starts after the request); results are delivered from a zero timer so a callback
 * never runs inside a devices_* call.
 * Commits run here on the loop without fsync (store.h DESIGN); a removal job is started only
 * after the commit of every file it may remove, and fetch_remove() makes the store durable
 * in its worker before it removes anything.
 */

enum phone_state {
	PH_ATTACHED,
	PH_SYNCING,
	PH_IDLE,
	PH_LOCKED,
	PH_UNTRUSTED,
	PH_ERROR,
	PH_DETACHED,
};

static const char *const state_names[] = {
	[PH_ATTACHED] = "attached", [PH_SYNCING] = "syncing",	  [PH_IDLE] = "idle",
	[PH_LOCKED] = "locked",	    [PH_UNTRUSTED] = "untrusted", [PH_ERROR] = "error",
	[PH_DETACHED] = "detached",
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
	struct phone *ph;
	unsigned gen;
	enum job_kind kind;
	atomic_int cancel;
	struct fetch_params params; /* JOB_SYNC */
	struct fetch_known *rm;	    /* JOB_REMOVE */
	size_t n_rm;
	struct fetch_result res;
	uint64_t started_ms;
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
	int new_reports; /* of the sync in progress */
	struct waitref *next_waits, *cur_waits;
	struct phone *next, *qnext;
};

struct devices {
	uv_loop_t *loop;
	const struct config *cfg; /* the owner's, replaced in place on reload */
	struct store *store;
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
};

static void pump(struct devices *dv);
static void maybe_finish(struct devices *dv);

/* ---- waits ---- */

static void deliver_cb(uv_timer_t *t)
{
	struct devices *dv = t->data;
	struct devices_wait *w = dv->done_waits;

	dv->done_waits = NULL;
	while (w) {
		struct devices_wait *next = w->next;

		if (!w->cancelled)
			w->cb(w->arg, w->res, w->n);
		for (size_t i = 0; i < w->n; i++)
			free(w->res[i].error);
		free(w->res);
		free(w);
		w = next;
	}
}

static void wait_complete(struct devices *dv, struct waitref *ref, const struct phone *ph)
{
	struct devices_wait *w = ref->w;
	struct devices_sync_result *r = &w->res[ref->idx];

	r->state = state_names[ph->state];
	r->new_reports = ph->new_reports;
	free(r->error);
	r->error = ph->error ? strdup(ph->error) : NULL;
	if (--w->pending == 0) {
		w->next = dv->done_waits;
		dv->done_waits = w;
		if (!dv->closing)
			uv_timer_start(&dv->deliver, deliver_cb, 0, 0);
	}
	free(ref);
}

static void complete_list(struct devices *dv, struct waitref **list, const struct phone *ph)
{
	struct waitref *ref = *list;

	*list = NULL;
	while (ref) {
		struct waitref *next = ref->next;

		wait_complete(dv, ref, ph);
		ref = next;
	}
}

/* ---- state ---- */

static void set_state(struct phone *ph, enum phone_state st, const char *error)
{
	struct devices *dv = ph->dv;
	int r;

	if (ph->state != st || (error != NULL) != (ph->error != NULL) ||
	    (error && strcmp(error, ph->error)))
		log_info("devices", "'%s': %s%s%s", ph->udid, state_names[st], error ? ": " : "",
			 error ? error : "");
	ph->state = st;
	free(ph->error);
	ph->error = error ? strdup(error) : NULL;
	r = store_device_set_state(dv->store, ph->udid, state_names[st], ph->attached, error);
	if (r < 0)
		log_err("devices", "'%s': cannot record state: %s", ph->udid, strerror(-r));
	dv->ops->device_cb(dv->arg, ph->udid);
}

static struct phone *phone_find(struct devices *dv, const char *udid)
{
	for (struct phone *ph = dv->phones; ph; ph = ph->next)
		if (!strcmp(ph->udid, udid))
			return ph;
	return NULL;
}

static void timer_cb(uv_timer_t *t);

static struct phone *phone_get(struct devices *dv, const char *udid)
{
	struct phone *ph = phone_find(dv, udid);

	if (ph)
		return ph;
	ph = calloc(1, sizeof(*ph));
	if (!ph)
		return NULL;
	ph->dv = dv;
	strncpy(ph->udid, udid, sizeof(ph->udid) - 1);
	ph->state = PH_DETACHED;
	uv_timer_init(dv->loop, &ph->timer);
	ph->timer.data = ph;
	ph->next = dv->phones;
	dv->phones = ph;
	return ph;
}

/* ---- run queue ---- */

static void queue_remove(struct devices *dv, struct phone *ph)
{
	struct phone **pp = &dv->qhead, *prev = NULL;

	if (!ph->queued)
		return;
	while (*pp && *pp != ph) {
		prev = *pp;
		pp = &(*pp)->qnext;
	}
	if (*pp) {
		*pp = ph->qnext;
		if (dv->qtail == ph)
			dv->qtail = prev;
	}
	ph->qnext = NULL;
	ph->queued = 0;
}

static void enqueue(struct phone *ph)
{
	struct devices *dv = ph->dv;

	if (!ph->attached || dv->stopping)
		return;
	if (ph->job) {
		ph->want = 1;
		return;
	}
	if (ph->queued)
		return;
	uv_timer_stop(&ph->timer);
	ph->queued = 1;
	ph->qnext = NULL;
	if (dv->qtail)
		dv->qtail->qnext = ph;
	else
		dv->qhead = ph;
	dv->qtail = ph;
	pump(dv);
}

static void timer_cb(uv_timer_t *t)
{
	enqueue(t->data);
}

static void arm_timer(struct phone *ph, unsigned seconds)
{
	if (ph->dv->stopping || !ph->attached || seconds == 0)
		return;
	uv_timer_start(&ph->timer, timer_cb, (uint64_t)seconds * 1000u, 0);
}

/* ---- jobs ---- */

static void sync_work_cb(uv_work_t *req)
{
	struct phone_job *j = req->data;

	if (j->kind == JOB_SYNC)
		fetch_sync(&j->params, &j->cancel, &j->res);
	else
		fetch_remove(j->params.state_dir, j->params.udid, j->params.network, j->rm, j->n_rm,
			     &j->cancel, &j->res);
}

static void job_free(struct phone_job *j)
{
	fetch_params_release(&j->params);
	fetch_result_release(&j->res);
	for (size_t i = 0; i < j->n_rm; i++)
		free(j->rm[i].path);
	free(j->rm);
	free(j);
}

static void job_after_cb(uv_work_t *req, int status);

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
	return 0;
}

static void finish_sync(struct phone *ph, enum phone_state st, const char *error)
{
	struct devices *dv = ph->dv;
	const struct config *cfg = dv->cfg;

	set_state(ph, st, error);
	if (st == PH_IDLE) {
		ph->backoff_s = 0;
		arm_timer(ph, cfg->resync_interval_s);
	} else {
		unsigned b = ph->backoff_s ? ph->backoff_s * 2 : cfg->retry_min_s;

		if (b > cfg->retry_max_s)
			b = cfg->retry_max_s;
		if (b == 0)
			b = 1;
		ph->backoff_s = b;
		log_debug("devices", "'%s': next try in %u s", ph->udid, b);
		arm_timer(ph, b);
	}
	complete_list(dv, &ph->cur_waits, ph);
	if (ph->want) {
		ph->want = 0;
		enqueue(ph);
	}
}

static void start_sync(struct phone *ph)
{
	struct devices *dv = ph->dv;
	const struct config *cfg = dv->cfg;
	struct phone_job *j = calloc(1, sizeof(*j));
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
	j->kind = JOB_SYNC;
	memcpy(j->params.udid, ph->udid, sizeof(j->params.udid));
	j->params.state_dir = strdup(cfg->state_dir);
	j->params.collect_all = cfg->collect == CONFIG_COLLECT_ALL;
	j->params.network = ph->network;
	j->params.mover_timeout_ms = cfg->mover_timeout_ms;
	j->params.max_report_size = cfg->max_report_size;
	if (!j->params.state_dir)
		goto fail;
	r = store_file_index_load(dv->store, ph->udid, &j->params.index);
	if (r < 0)
		goto fail;
	r = job_start(ph, j);
	if (r < 0)
		goto fail;
	set_state(ph, PH_SYNCING, NULL);
	return;
fail:
	if (j)
		job_free(j);
	log_err("devices", "'%s': cannot start a sync: %s", ph->udid, strerror(-r));
	finish_sync(ph, PH_ERROR, "cannot start a sync");
}

static void pump(struct devices *dv)
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
static int commit_files(struct phone *ph, struct phone_job *j, struct fetch_known **rm,
			size_t *n_rm)
{
	struct devices *dv = ph->dv;
	struct store *s = dv->store;
	struct fetch_result *res = &j->res;
	int64_t *new_ids = NULL;
	size_t n_new = 0;
	int r = 0;

	*rm = NULL;
	*n_rm = 0;
	if (res->name || res->product || res->os_version || res->build) {
		r = store_device_upsert(s, ph->udid, res->name, res->product, res->os_version,
					res->build, ph->network ? "Network" : "USB");
		if (r < 0)
			return r;
	}
	if (res->n_files == 0)
		goto removal;
	new_ids = calloc(res->n_files, sizeof(*new_ids));
	if (!new_ids)
		return -ENOMEM;
	r = store_begin(s);
	if (r < 0)
		goto out;
	for (size_t i = 0; i < res->n_files; i++) {
		const struct fetch_file *f = &res->files[i];
		struct store_ingest in = {
			.udid = ph->udid,
			.path = f->path,
			.size = f->size,
			.mtime_ns = f->mtime_ns,
			.sha256 = f->sha256,
			.archive = f->archive,
			.report = f->report,
			.device_product = res->product,
			.device_os_version = res->os_version,
			.device_build = res->build,
		};
		struct store_ingest_result out = {0};

		r = store_ingest(s, &in, &out);
		if (r < 0)
			break;
		if (!out.duplicate)
			new_ids[n_new++] = out.report_id;
		log_debug("devices", "'%s': '%s' stored as report %lld%s (%zu events)", ph->udid,
			  f->path, (long long)out.report_id, out.duplicate ? ", a duplicate" : "",
			  out.n_events);
	}
	if (r < 0) {
		store_rollback(s);
		goto out;
	}
	r = store_commit(s);
	if (r < 0) {
		store_rollback(s);
		goto out;
	}
	ph->new_reports += (int)n_new;
	for (size_t i = 0; i < n_new; i++)
		dv->ops->report_cb(dv->arg, new_ids[i]);
removal:
	if (dv->cfg->remove_after_pull && (res->n_files || res->n_known)) {
		size_t n = 0;
		struct fetch_known *v = calloc(res->n_files + res->n_known, sizeof(*v));

		if (!v) {
			r = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < res->n_files; i++) {
			v[n].path = res->files[i].path;
			res->files[i].path = NULL;
			v[n].size = res->files[i].size;
			v[n].mtime_ns = res->files[i].mtime_ns;
			n++;
		}
		for (size_t i = 0; i < res->n_known; i++) {
			v[n] = res->known[i];
			res->known[i].path = NULL;
			n++;
		}
		*rm = v;
		*n_rm = n;
	}
	r = 0;
out:
	free(new_ids);
	return r;
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

	r = commit_files(ph, j, &rm, &n_rm);
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
		struct phone_job *rj = calloc(1, sizeof(*rj));

		if (rj) {
			rj->kind = JOB_REMOVE;
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
		log_debug("devices", "'%s': result of a cancelled or stale job dropped", ph->udid);
	} else if (j->kind == JOB_SYNC) {
		after_sync(ph, j);
	} else {
		after_remove(ph, j);
	}
	job_free(j);
	if (dv->stopping) {
		maybe_finish(dv);
		return;
	}
	if (ph->want && !ph->job) {
		/* asked for while the job ran (also: re-attached while a stale job finished) */
		ph->want = 0;
		enqueue(ph);
	}
	pump(dv);
	/*
	 * The last job is done: give the heap that downloads and parses used (in the worker
	 * threads' malloc arenas) back to the system, so that an idle daemon stays small.
	 */
	if (dv->in_flight == 0)
		malloc_trim(0);
}

/* ---- devwatch callbacks ---- */

static void attach_cb(void *arg, const char *udid, int network)
{
	struct devices *dv = arg;
	struct phone *ph = phone_get(dv, udid);
	int r;

	if (!ph) {
		log_err("devices", "out of memory: phone '%s' ignored", udid);
		return;
	}
	ph->gen++;
	ph->attached = 1;
	ph->network = network;
	ph->backoff_s = 0;
	r = store_device_upsert(dv->store, udid, NULL, NULL, NULL, NULL,
				network ? "Network" : "USB");
	if (r < 0)
		log_err("devices", "'%s': cannot record the phone: %s", udid, strerror(-r));
	set_state(ph, PH_ATTACHED, NULL);
	enqueue(ph);
}

static void detach_cb(void *arg, const char *udid)
{
	struct devices *dv = arg;
	struct phone *ph = phone_find(dv, udid);

	if (!ph || !ph->attached)
		return;
	ph->gen++;
	ph->attached = 0;
	ph->want = 0;
	ph->new_reports = 0;
	if (ph->job)
		atomic_store(&ph->job->cancel, 1);
	queue_remove(dv, ph);
	uv_timer_stop(&ph->timer);
	set_state(ph, PH_DETACHED, NULL);
	complete_list(dv, &ph->cur_waits, ph);
	complete_list(dv, &ph->next_waits, ph);
}

static void paired_cb(void *arg, const char *udid)
{
	struct devices *dv = arg;
	struct phone *ph = phone_find(dv, udid);

	if (ph && ph->attached && ph->state == PH_UNTRUSTED) {
		ph->backoff_s = 0;
		enqueue(ph);
	}
}

static void connected_cb(void *arg, int connected)
{
	struct devices *dv = arg;

	(void)connected;
	dv->ops->status_cb(dv->arg);
}

static const struct devwatch_ops watch_ops = {
	.attach_cb = attach_cb,
	.detach_cb = detach_cb,
	.paired_cb = paired_cb,
	.connected_cb = connected_cb,
};

/* ---- public ---- */

int devices_new(uv_loop_t *loop, const struct config *cfg, struct store *store,
		const struct devices_ops *ops, void *arg, struct devices **out)
{
	struct devices *dv = calloc(1, sizeof(*dv));
	int r;

	if (!dv)
		return -ENOMEM;
	dv->loop = loop;
	dv->cfg = cfg;
	dv->store = store;
	dv->ops = ops;
	dv->arg = arg;
	if (cfg->usbmuxd_socket && setenv("USBMUXD_SOCKET_ADDRESS", cfg->usbmuxd_socket, 1)) {
		r = -errno;
		free(dv);
		return r;
	}
	/* without usbmuxd_socket, libusbmuxd still honours an inherited USBMUXD_SOCKET_ADDRESS */
	r = devwatch_new(
		loop, cfg->usbmuxd_socket ? cfg->usbmuxd_socket : getenv("USBMUXD_SOCKET_ADDRESS"),
		&watch_ops, dv, &dv->watch);
	if (r < 0) {
		log_err("devices", "cannot watch usbmuxd: %s", strerror(-r));
		free(dv);
		return r;
	}
	uv_timer_init(loop, &dv->deliver);
	dv->deliver.data = dv;
	*out = dv;
	return 0;
}

void devices_reconfigure(struct devices *dv)
{
	const struct config *cfg = dv->cfg;
	const char *cur = getenv("USBMUXD_SOCKET_ADDRESS");

	/* setenv() while libusbmuxd threads read the environment would race */
	if (cfg->usbmuxd_socket && strcmp(cfg->usbmuxd_socket, cur ? cur : ""))
		log_warn("devices", "usbmuxd_socket changes take effect after a restart");
	for (struct phone *ph = dv->phones; ph; ph = ph->next)
		if (ph->attached && ph->state == PH_IDLE && !ph->job && !ph->queued) {
			uv_timer_stop(&ph->timer);
			arm_timer(ph, cfg->resync_interval_s);
		}
	pump(dv);
}

int devices_sync(struct devices *dv, const char *udid, struct devices_queued *queued,
		 devices_sync_cb cb, void *arg, struct devices_wait **wait_out)
{
	struct devices_wait *w = NULL;
	struct phone *one = NULL;
	size_t n = 0, i = 0;

	if (wait_out)
		*wait_out = NULL;
	if (dv->stopping)
		return -ESHUTDOWN;
	if (udid) {
		one = phone_find(dv, udid);
		if (!one || !one->attached)
			return -ENOENT;
		n = 1;
	} else {
		for (struct phone *ph = dv->phones; ph; ph = ph->next)
			n += ph->attached != 0;
	}
	if (queued) {
		queued->n = 0;
		queued->udid = n ? calloc(n, sizeof(*queued->udid)) : NULL;
		if (n && !queued->udid)
			return -ENOMEM;
	}
	if (cb) {
		w = calloc(1, sizeof(*w));
		if (!w || (n && !(w->res = calloc(n, sizeof(*w->res))))) {
			free(w);
			devices_queued_release(queued);
			return -ENOMEM;
		}
		w->cb = cb;
		w->arg = arg;
		w->n = n;
		w->pending = n;
	}
	for (struct phone *ph = one ? one : dv->phones; ph && i < n; ph = one ? NULL : ph->next) {
		if (!ph->attached)
			continue;
		if (queued)
			memcpy(queued->udid[queued->n++], ph->udid, sizeof(ph->udid));
		if (w) {
			struct waitref *ref = calloc(1, sizeof(*ref));

			if (!ref) {
				w->pending--; /* reported as its current state */
				w->res[i].state = state_names[ph->state];
			} else {
				ref->w = w;
				ref->idx = i;
				ref->next = ph->next_waits;
				ph->next_waits = ref;
			}
			memcpy(w->res[i].udid, ph->udid, sizeof(ph->udid));
			w->res[i].state = state_names[ph->state];
		}
		i++;
		ph->backoff_s = 0;
		enqueue(ph);
	}
	if (w) {
		*wait_out = w;
		if (w->pending == 0) {
			w->next = dv->done_waits;
			dv->done_waits = w;
			uv_timer_start(&dv->deliver, deliver_cb, 0, 0);
		}
	}
	return 0;
}

void devices_queued_release(struct devices_queued *q)
{
	if (!q)
		return;
	free(q->udid);
	q->udid = NULL;
	q->n = 0;
}

void devices_wait_cancel(struct devices_wait *w)
{
	if (w)
		w->cancelled = 1;
}

void devices_counts(const struct devices *dv, unsigned *attached, unsigned *syncing,
		    unsigned *total)
{
	unsigned a = 0, s = 0, t = 0;

	for (const struct phone *ph = dv ? dv->phones : NULL; ph; ph = ph->next) {
		t++;
		a += ph->attached != 0;
		s += ph->state == PH_SYNCING;
	}
	*attached = a;
	*syncing = s;
	*total = t;
}

int devices_usbmuxd_connected(const struct devices *dv)
{
	return dv && devwatch_connected(dv->watch);
}

static void closed_cb(uv_handle_t *h)
{
	struct devices *dv = h->data;

	if (--dv->open_handles == 0 && dv->done_cb)
		dv->done_cb(dv->done_arg);
}

static void phone_timer_closed_cb(uv_handle_t *h)
{
	struct phone *ph = h->data;

	closed_cb((uv_handle_t *)&ph->dv->deliver);
}

static void maybe_finish(struct devices *dv)
{
	if (dv->closing || !dv->watch_done || dv->in_flight)
		return;
	/* every waiter gets an answer before the handles go */
	for (struct phone *ph = dv->phones; ph; ph = ph->next) {
		complete_list(dv, &ph->cur_waits, ph);
		complete_list(dv, &ph->next_waits, ph);
	}
	deliver_cb(&dv->deliver);
	dv->closing = 1;
	dv->open_handles = 1;
	for (struct phone *ph = dv->phones; ph; ph = ph->next) {
		dv->open_handles++;
		uv_close((uv_handle_t *)&ph->timer, phone_timer_closed_cb);
	}
	uv_close((uv_handle_t *)&dv->deliver, closed_cb);
}

static void watch_done_cb(void *arg)
{
	struct devices *dv = arg;

	dv->watch_done = 1;
	maybe_finish(dv);
}

void devices_stop(struct devices *dv, void (*done_cb)(void *arg), void *arg)
{
	dv->stopping = 1;
	dv->done_cb = done_cb;
	dv->done_arg = arg;
	while (dv->qhead) {
		struct phone *ph = dv->qhead;

		dv->qhead = ph->qnext;
		ph->qnext = NULL;
		ph->queued = 0;
	}
	dv->qtail = NULL;
	for (struct phone *ph = dv->phones; ph; ph = ph->next) {
		uv_timer_stop(&ph->timer);
		if (ph->job) {
			atomic_store(&ph->job->cancel, 1);
			uv_cancel((uv_req_t *)&ph->job->work);
		}
	}
	devwatch_stop(dv->watch, watch_done_cb, dv);
}

void devices_free(struct devices *dv)
{
	struct phone *ph, *next;

	if (!dv)
		return;
	for (ph = dv->phones; ph; ph = next) {
		next = ph->next;
		free(ph->error);
		free(ph);
	}
	devwatch_free(dv->watch);
	free(dv);
}
