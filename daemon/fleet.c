/* fleet.c: shipping to PostgreSQL: outbox batches from the store thread to the fleet thread */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include <config.h> /* JETSAMD_VERSION */

#include "../proto/isotime.h"
#include "fleet.h"
#include "fleet_pg.h"
#include "log.h"
#include "store_outbox.h"
#include "storeq.h"

#define FLEET_POLL_MS	   250
#define FLEET_HEARTBEAT_S  30
#define FLEET_THREAD_STACK (1024 * 1024)

/* one store job at a time: delete what shipped, read the next batch */
struct fleet_job {
	struct storeq_job job; /* first */
	struct fleet *f;
	int configure;
	int64_t done_upto;
	struct fleet_batch batch;
	int r;
};

struct fleet {
	uv_loop_t *loop;
	struct storeq *sq;
	int enabled;
	char host_id[256], state_dir[PATH_MAX];
	char conninfo[sizeof(((struct config *)0)->fleet_conninfo)];
	char passfile[sizeof(((struct config *)0)->fleet_passfile)];
	struct store_outbox_opts opts;
	unsigned retry_max_ms;
	struct fleet_pg *pg;
	/* the fleet thread; guarded by lock */
	uv_thread_t thread;
	uv_mutex_t lock;
	uv_cond_t cond;
	uv_async_t async;
	struct fleet_batch *t_batch; /* to ship (the loop does not touch it meanwhile) */
	int t_stop, t_done, t_r, t_connected;
	char t_err[512];
	/* loop only */
	uv_timer_t timer;
	struct fleet_job job;
	int job_running, in_flight, thread_started, handles, stopping;
	unsigned backoff_ms;
	int64_t last_attempt;
	struct fleet_status st;
	char last_error[512];
	void (*done_cb)(void *arg);
	void *done_arg;
};

static void read_next(struct fleet *f, int64_t done_upto);

static void thread_main(void *arg)
{
	struct fleet *f = arg;

	uv_mutex_lock(&f->lock);
	for (;;) {
		struct fleet_batch *b;
		char err[512] = "";
		int r, connected;

		while (f->t_batch == NULL && !f->t_stop)
			uv_cond_wait(&f->cond, &f->lock);
		if (f->t_stop)
			break;
		b = f->t_batch;
		uv_mutex_unlock(&f->lock);
		r = fleet_pg_ship(f->pg, b, err, sizeof(err));
		connected = fleet_pg_connected(f->pg);
		uv_mutex_lock(&f->lock);
		f->t_batch = NULL;
		f->t_done = 1;
		f->t_r = r;
		f->t_connected = connected;
		memcpy(f->t_err, err, sizeof(err));
		uv_async_send(&f->async);
	}
	uv_mutex_unlock(&f->lock);
}

static void maybe_stopped(struct fleet *f);

static void closed_cb(uv_handle_t *h)
{
	struct fleet *f = h->data;

	if (--f->handles == 0 && f->done_cb)
		f->done_cb(f->done_arg);
}

static void maybe_stopped(struct fleet *f)
{
	if (!f->stopping || f->job_running || f->in_flight || f->handles == 0 ||
	    uv_is_closing((uv_handle_t *)&f->timer))
		return;
	if (f->thread_started) {
		uv_mutex_lock(&f->lock);
		f->t_stop = 1;
		uv_cond_signal(&f->cond);
		uv_mutex_unlock(&f->lock);
		uv_thread_join(&f->thread); /* idle: nothing in flight */
		f->thread_started = 0;
	}
	uv_close((uv_handle_t *)&f->timer, closed_cb);
	uv_close((uv_handle_t *)&f->async, closed_cb);
}

static void timer_cb(uv_timer_t *t)
{
	read_next(t->data, 0);
}

static void ship(struct fleet *f)
{
	f->in_flight = 1;
	f->last_attempt = (int64_t)time(NULL);
	uv_mutex_lock(&f->lock);
	f->t_batch = &f->job.batch;
	uv_cond_signal(&f->cond);
	uv_mutex_unlock(&f->lock);
}

static void job_work_cb(struct store *s, struct storeq_job *job)
{
	struct fleet_job *j = (struct fleet_job *)job;
	struct fleet *f = j->f;

	j->r = 0;
	if (j->configure)
		j->r = store_outbox_configure(s, f->enabled ? f->host_id : NULL);
	if (j->r == 0 && j->done_upto > 0)
		j->r = store_outbox_done(s, j->done_upto);
	if (j->r == 0)
		j->r = store_outbox_read(s, &f->opts, &j->batch);
}

static void job_done_cb(struct storeq_job *job)
{
	struct fleet_job *j = (struct fleet_job *)job;
	struct fleet *f = j->f;
	int idle;

	f->job_running = 0;
	if (j->r < 0) {
		log_err("fleet", "cannot read the outbox: %s", strerror(-j->r));
		fleet_batch_release(&j->batch);
	} else {
		j->configure = 0;
		f->st.outbox = j->batch.depth;
	}
	if (f->stopping) {
		fleet_batch_release(&j->batch);
		maybe_stopped(f);
		return;
	}
	/* an empty outbox: ship the empty batch (the hosts row) to connect, or as a heartbeat */
	idle = j->r < 0 || (j->batch.upto == 0 && f->st.connected &&
			    (int64_t)time(NULL) - f->last_attempt < FLEET_HEARTBEAT_S);
	if (!idle) {
		ship(f);
		return;
	}
	fleet_batch_release(&j->batch);
	uv_timer_start(&f->timer, timer_cb, j->r < 0 ? 1000 : FLEET_POLL_MS, 0);
}

static void read_next(struct fleet *f, int64_t done_upto)
{
	int r;

	if (f->stopping && done_upto == 0) {
		maybe_stopped(f);
		return;
	}
	f->job.f = f;
	f->job.done_upto = done_upto;
	f->job.job.work_cb = job_work_cb;
	f->job.job.done_cb = job_done_cb;
	f->job_running = 1;
	r = storeq_submit(f->sq, &f->job.job);
	if (r < 0) {
		f->job_running = 0;
		log_err("fleet", "cannot read the outbox: %s", strerror(-r));
		maybe_stopped(f);
	}
}

static void shipped(struct fleet *f)
{
	const struct fleet_batch *b = &f->job.batch;

	if (f->last_error[0])
		log_info("fleet", "shipping again (%lld waiting)", (long long)b->depth);
	f->last_error[0] = '\0';
	f->backoff_ms = 0;
	f->st.shipped += b->entries;
	f->st.shipped_events += b->rows[FLEET_EVENTS];
	if (b->entries > 0)
		f->st.last_shipped_at = (int64_t)time(NULL);
	f->st.outbox = b->depth - b->entries;
}

static void async_cb(uv_async_t *a)
{
	struct fleet *f = a->data;
	char err[512];
	int done, r;
	int64_t upto = f->job.batch.upto;

	uv_mutex_lock(&f->lock);
	done = f->t_done;
	r = f->t_r;
	f->t_done = 0;
	f->st.connected = f->t_connected;
	memcpy(err, f->t_err, sizeof(err));
	uv_mutex_unlock(&f->lock);
	if (!done)
		return;
	f->in_flight = 0;
	if (r == 0) {
		shipped(f);
		fleet_batch_release(&f->job.batch);
		read_next(f, upto); /* also when stopping: delete what shipped */
		return;
	}
	fleet_batch_release(&f->job.batch);
	if (strcmp(err, f->last_error) != 0)
		log_warn("fleet", "cannot ship: %s", err);
	snprintf(f->last_error, sizeof(f->last_error), "%s", err);
	f->backoff_ms = f->backoff_ms ? f->backoff_ms * 2 : 1000;
	if (f->backoff_ms > f->retry_max_ms)
		f->backoff_ms = f->retry_max_ms;
	if (f->stopping) {
		maybe_stopped(f);
		return;
	}
	uv_timer_start(&f->timer, timer_cb, f->backoff_ms, 0);
}

static int start_thread(struct fleet *f, const struct config *cfg)
{
	uv_thread_options_t opt = {UV_THREAD_HAS_STACK_SIZE, FLEET_THREAD_STACK};
	char hostname[256] = "";
	struct fleet_pg_conf conf = {cfg->fleet_conninfo, cfg->fleet_passfile, f->host_id, hostname,
				     "jetsamd " JETSAMD_VERSION};
	int r;

	gethostname(hostname, sizeof(hostname) - 1);
	if ((f->pg = fleet_pg_new(&conf)) == NULL)
		return -ENOMEM;
	if ((r = uv_mutex_init(&f->lock)) < 0)
		return r;
	if ((r = uv_cond_init(&f->cond)) < 0) {
		uv_mutex_destroy(&f->lock);
		return r;
	}
	if ((r = uv_async_init(f->loop, &f->async, async_cb)) < 0)
		return r;
	f->async.data = f;
	f->handles++;
	if ((r = uv_timer_init(f->loop, &f->timer)) < 0)
		return r;
	f->timer.data = f;
	f->handles++;
	r = uv_thread_create_ex(&f->thread, &opt, thread_main, f);
	f->thread_started = r == 0;
	return r;
}

int fleet_new(uv_loop_t *loop, const struct config *cfg, struct storeq *sq, struct fleet **out)
{
	struct fleet *f = calloc(1, sizeof(*f));
	int r;

	*out = f;
	if (f == NULL)
		return -ENOMEM;
	f->loop = loop;
	f->sq = sq;
	f->enabled = cfg->fleet_conninfo[0] != '\0';
	snprintf(f->host_id, sizeof(f->host_id), "%s", cfg->fleet_host_id);
	snprintf(f->conninfo, sizeof(f->conninfo), "%s", cfg->fleet_conninfo);
	snprintf(f->passfile, sizeof(f->passfile), "%s", cfg->fleet_passfile);
	snprintf(f->state_dir, sizeof(f->state_dir), "%s", cfg->state_dir);
	f->opts.host_id = f->host_id;
	f->opts.state_dir = f->state_dir;
	f->opts.max_events = cfg->fleet_batch;
	f->opts.ship_facts = cfg->fleet_ship_facts;
	f->opts.ship_raw = cfg->fleet_ship_raw;
	f->opts.max_report_size = cfg->max_report_size;
	f->retry_max_ms = cfg->fleet_retry_max_s * 1000u;
	f->st.enabled = f->enabled;
	f->st.host_id = f->host_id;
	/* off: the store stops queueing and empties its outbox */
	f->job.configure = 1;
	if (f->enabled && (r = start_thread(f, cfg)) < 0) {
		log_err("fleet", "cannot start shipping: %s", strerror(-r));
		return r;
	}
	if (!f->enabled) {
		f->job.f = f;
		f->job.job.work_cb = job_work_cb;
		f->job.job.done_cb = NULL; /* configure only: the batch stays empty */
		f->job_running = 0;
		return storeq_submit(sq, &f->job.job);
	}
	log_info("fleet", "shipping to PostgreSQL as host id '%s'", f->host_id);
	read_next(f, 0);
	return 0;
}

void fleet_kick(struct fleet *f)
{
	if (f == NULL || !f->enabled || f->stopping || f->job_running || f->in_flight ||
	    f->backoff_ms > 0 || !f->st.connected)
		return;
	uv_timer_stop(&f->timer);
	read_next(f, 0);
}

void fleet_reconfigure(struct fleet *f, const struct config *cfg)
{
	if (f == NULL || (f->enabled == (cfg->fleet_conninfo[0] != '\0') &&
			  strcmp(f->host_id, cfg->fleet_host_id) == 0 &&
			  f->opts.max_events == cfg->fleet_batch &&
			  f->opts.ship_facts == cfg->fleet_ship_facts &&
			  f->opts.ship_raw == cfg->fleet_ship_raw &&
			  f->retry_max_ms == cfg->fleet_retry_max_s * 1000u &&
			  strcmp(f->conninfo, cfg->fleet_conninfo) == 0 &&
			  strcmp(f->passfile, cfg->fleet_passfile) == 0))
		return;
	log_warn("fleet", "the fleet_* keys changed: they take effect at the next start");
}

void fleet_status(const struct fleet *f, struct fleet_status *out)
{
	memset(out, 0, sizeof(*out));
	if (f == NULL)
		return;
	*out = f->st;
	out->last_error = f->last_error[0] ? f->last_error : NULL;
}

cJSON *fleet_status_json(const struct fleet *f)
{
	struct fleet_status st;
	cJSON *o = cJSON_CreateObject();
	char t[32];

	fleet_status(f, &st);
	if (o == NULL)
		return NULL;
	if (st.last_shipped_at)
		isotime_format(st.last_shipped_at, t);
	if (!cJSON_AddBoolToObject(o, "enabled", st.enabled) ||
	    !cJSON_AddBoolToObject(o, "connected", st.connected) ||
	    !cJSON_AddNumberToObject(o, "outbox", (double)st.outbox) ||
	    !cJSON_AddNumberToObject(o, "shipped", (double)st.shipped) ||
	    !cJSON_AddNumberToObject(o, "shipped_events", (double)st.shipped_events) ||
	    !(st.last_error ? cJSON_AddStringToObject(o, "last_error", st.last_error)
			    : cJSON_AddNullToObject(o, "last_error")) ||
	    !(st.last_shipped_at ? cJSON_AddStringToObject(o, "last_shipped_at", t)
				 : cJSON_AddNullToObject(o, "last_shipped_at")) ||
	    !cJSON_AddStringToObject(o, "host_id", st.host_id ? st.host_id : "")) {
		cJSON_Delete(o);
		return NULL;
	}
	return o;
}

void fleet_stop(struct fleet *f, void (*done_cb)(void *arg), void *arg)
{
	f->stopping = 1;
	f->done_cb = done_cb;
	f->done_arg = arg;
	if (f->handles == 0) {
		if (done_cb)
			done_cb(arg);
		return;
	}
	uv_timer_stop(&f->timer);
	maybe_stopped(f);
}

void fleet_free(struct fleet *f)
{
	if (f == NULL)
		return;
	if (f->enabled && f->pg) {
		uv_mutex_destroy(&f->lock);
		uv_cond_destroy(&f->cond);
	}
	fleet_pg_free(f->pg);
	fleet_batch_release(&f->job.batch);
	free(f);
}
