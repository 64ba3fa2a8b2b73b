/* devwatch.c: usbmuxd subscription, device table and usbmuxd restart detection */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libimobiledevice/libimobiledevice.h>
#include <usbmuxd.h>

#include "devwatch.h"
#include "log.h"
#include "mailbox.h"
#include "trim.h"

#define DEVWATCH_MAILBOX_CAP	1024
#define DEVWATCH_DEBOUNCE_MS	100
#define DEVWATCH_RECHECK_MS	1000
#define DEVWATCH_BACKOFF_MIN_MS 500
#define DEVWATCH_BACKOFF_MAX_MS 30000

enum devwatch_job_kind {
	JOB_CONNECT, /* list; when usbmuxd answers, subscribe */
	JOB_CHECK,   /* list; when usbmuxd does not answer, unsubscribe */
	JOB_RESTART, /* unsubscribe, list, subscribe */
	JOB_STOP,    /* unsubscribe */
};

struct devwatch_listed {
	char udid[44];
	int network;
};

struct devwatch_job {
	uv_work_t work;
	struct devwatch *w;
	enum devwatch_job_kind kind;
	uint64_t start_seq;
	/* out */
	int listed_ok;
	int subscribed;
	struct devwatch_listed *v;
	size_t n;
};

struct devwatch_dev {
	char udid[44];
	int network;
	uint64_t seq; /* event sequence number of the add */
};

struct devwatch {
	uv_loop_t *loop;
	struct devwatch_ops ops;
	void *arg;
	struct mailbox mb;
	uv_timer_t debounce; /* a check soon after removals or a socket change */
	uv_timer_t backoff;  /* reconnect attempts while down */
	uv_fs_event_t fsw;   /* the socket's directory */
	char *sock_dir, *sock_name;
	int fsw_active;

	int subscribed; /* loop's view of the subscription */
	int connected;	/* usbmuxd answered the last attempt */
	int busy;	/* a job is in flight */
	int want_check, want_restart, want_connect;
	int suspect; /* last check saw a phone the events never announced */
	unsigned backoff_ms;
	uint64_t seq;

	struct devwatch_dev *devs;
	size_t n_devs, cap_devs;

	int stopping, closing;
	int open_handles;
	void (*done_cb)(void *arg);
	void *done_arg;
};

static void devwatch_schedule(struct devwatch *w);

/* ---- the libimobiledevice callback: copy, post, nothing else ---- */

static void devwatch_event_cb(const idevice_event_t *event, void *user_data)
{
	struct devwatch *w = user_data;
	struct mailbox_event ev;
	int old;

	/* unsubscribe cancels the listener thread: never while it holds libusbmuxd's mutex */
	pthread_setcancelstate(PTHREAD_CANCEL_DISABLE, &old);
	memset(&ev, 0, sizeof(ev));
	switch (event->event) {
	case IDEVICE_DEVICE_ADD:
		ev.kind = MAILBOX_ADD;
		break;
	case IDEVICE_DEVICE_REMOVE:
		ev.kind = MAILBOX_REMOVE;
		break;
	default:
		ev.kind = MAILBOX_PAIRED;
		break;
	}
	ev.network = event->conn_type == CONNECTION_NETWORK;
	if (event->udid) {
		strncpy(ev.udid, event->udid, sizeof(ev.udid) - 1);
		mailbox_post(&w->mb, &ev);
	}
	pthread_setcancelstate(old, NULL);
}

/* ---- device table ---- */

static struct devwatch_dev *dev_find(struct devwatch *w, const char *udid)
{
	for (size_t i = 0; i < w->n_devs; i++)
		if (!strcmp(w->devs[i].udid, udid))
			return &w->devs[i];
	return NULL;
}

static void dev_add(struct devwatch *w, const char *udid, int network)
{
	struct devwatch_dev *d = dev_find(w, udid);

	if (d) {
		d->seq = w->seq;
		return;
	}
	if (w->n_devs == w->cap_devs) {
		size_t cap = w->cap_devs ? 2 * w->cap_devs : 16;
		struct devwatch_dev *v = realloc(w->devs, cap * sizeof(*v));

		if (!v) {
			log_err("devwatch", "out of memory: phone '%s' ignored", udid);
			return;
		}
		w->devs = v;
		w->cap_devs = cap;
	}
	d = &w->devs[w->n_devs++];
	memset(d, 0, sizeof(*d));
	strncpy(d->udid, udid, sizeof(d->udid) - 1);
	d->network = network;
	d->seq = w->seq;
	w->ops.attach_cb(w->arg, udid, network);
}

static void dev_remove_at(struct devwatch *w, size_t i)
{
	char udid[44];

	memcpy(udid, w->devs[i].udid, sizeof(udid));
	w->devs[i] = w->devs[--w->n_devs];
	w->ops.detach_cb(w->arg, udid);
}

static void dev_remove(struct devwatch *w, const char *udid)
{
	for (size_t i = 0; i < w->n_devs; i++)
		if (!strcmp(w->devs[i].udid, udid)) {
			dev_remove_at(w, i);
			return;
		}
}

static void dev_remove_all(struct devwatch *w)
{
	while (w->n_devs)
		dev_remove_at(w, w->n_devs - 1);
}

/* ---- timers ---- */

static void debounce_cb(uv_timer_t *t)
{
	devwatch_schedule(t->data);
}

static void want(struct devwatch *w, int *flag, unsigned delay_ms)
{
	*flag = 1;
	if (!w->stopping)
		uv_timer_start(&w->debounce, debounce_cb, delay_ms, 0);
}

static void backoff_cb(uv_timer_t *t)
{
	struct devwatch *w = t->data;

	w->want_connect = 1;
	devwatch_schedule(w);
}

static void set_connected(struct devwatch *w, int connected)
{
	if (connected == w->connected)
		return;
	w->connected = connected;
	if (connected)
		log_info("devwatch", "subscribed to usbmuxd device events");
	else
		log_warn("devwatch", "usbmuxd is not answering; waiting for it to come back");
	w->ops.connected_cb(w->arg, connected);
}

/* ---- mailbox drain (loop) ---- */

static void drain_cb(struct mailbox *mb, const struct mailbox_event *v, size_t n, int overflow)
{
	struct devwatch *w = mb->data;
	int removed = 0;

	for (size_t i = 0; i < n; i++) {
		w->seq++;
		switch (v[i].kind) {
		case MAILBOX_ADD:
			log_debug("devwatch", "usbmuxd: add '%s'", v[i].udid);
			dev_add(w, v[i].udid, v[i].network);
			break;
		case MAILBOX_REMOVE:
			log_debug("devwatch", "usbmuxd: remove '%s'", v[i].udid);
			dev_remove(w, v[i].udid);
			removed = 1;
			break;
		case MAILBOX_PAIRED:
			log_debug("devwatch", "usbmuxd: paired '%s'", v[i].udid);
			if (dev_find(w, v[i].udid))
				w->ops.paired_cb(w->arg, v[i].udid);
			break;
		default: /* syslogwatch's kinds never come here */
			break;
		}
	}
	if (overflow) {
		log_warn("devwatch", "device events were dropped; listing devices again");
		w->suspect = 1; /* a missing phone re-subscribes at the first check */
	}
	if ((removed || overflow) && w->subscribed)
		want(w, &w->want_check, DEVWATCH_DEBOUNCE_MS);
}

/* ---- socket directory watch ---- */

static void fsw_cb(uv_fs_event_t *h, const char *filename, int events, int status)
{
	struct devwatch *w = h->data;

	(void)events;
	if (status < 0 || !filename || strcmp(filename, w->sock_name) != 0)
		return;
	log_debug("devwatch", "usbmuxd socket '%s/%s' changed", w->sock_dir, w->sock_name);
	if (w->subscribed)
		want(w, &w->want_restart, DEVWATCH_DEBOUNCE_MS);
	else
		want(w, &w->want_connect, DEVWATCH_DEBOUNCE_MS);
}

/* ---- jobs (thread pool) ---- */

static int list_devices(struct devwatch_job *j)
{
	idevice_info_t *list = NULL;
	int count = 0;

	if (idevice_get_device_list_extended(&list, &count) != IDEVICE_E_SUCCESS)
		return -1;
	if (count > 0) {
		j->v = calloc((size_t)count, sizeof(*j->v));
		if (!j->v) {
			idevice_device_list_extended_free(list);
			return -1;
		}
	}
	for (int i = 0; i < count; i++) {
		strncpy(j->v[j->n].udid, list[i]->udid, sizeof(j->v[j->n].udid) - 1);
		j->v[j->n].network = list[i]->conn_type == CONNECTION_NETWORK;
		j->n++;
	}
	idevice_device_list_extended_free(list);
	return 0;
}

static void job_work_cb(uv_work_t *req)
{
	struct devwatch_job *j = req->data;
	struct devwatch *w = j->w;

	switch (j->kind) {
	case JOB_CONNECT:
		j->listed_ok = list_devices(j) == 0;
		if (j->listed_ok)
			j->subscribed =
				idevice_event_subscribe(devwatch_event_cb, w) == IDEVICE_E_SUCCESS;
		break;
	case JOB_CHECK:
		j->listed_ok = list_devices(j) == 0;
		j->subscribed = 1;
		if (!j->listed_ok) {
			idevice_event_unsubscribe();
			j->subscribed = 0;
		}
		break;
	case JOB_RESTART:
		idevice_event_unsubscribe();
		j->listed_ok = list_devices(j) == 0;
		if (j->listed_ok)
			j->subscribed =
				idevice_event_subscribe(devwatch_event_cb, w) == IDEVICE_E_SUCCESS;
		break;
	case JOB_STOP:
		idevice_event_unsubscribe();
		j->subscribed = 0;
		break;
	}
	/* the listing's plists: a pool thread that runs no sync afterwards would keep their
	 * freed chunks cached, and their pages resident, for good (trim.h) */
	trim_thread_cache();
}

static void after_check(struct devwatch *w, struct devwatch_job *j)
{
	int missing = 0;

	/* phones gone from the listing whose add predates the listing */
	for (size_t i = 0; i < w->n_devs;) {
		int found = 0;

		for (size_t k = 0; k < j->n && !found; k++)
			found = !strcmp(j->v[k].udid, w->devs[i].udid);
		if (!found && w->devs[i].seq <= j->start_seq) {
			log_info("devwatch", "'%s' is no longer listed by usbmuxd",
				 w->devs[i].udid);
			dev_remove_at(w, i);
			continue;
		}
		i++;
	}
	/* phones listed that no event announced: the listener may be stale */
	for (size_t k = 0; k < j->n; k++)
		if (!dev_find(w, j->v[k].udid))
			missing = 1;
	if (!missing) {
		w->suspect = 0;
		return;
	}
	if (w->suspect) {
		log_info("devwatch", "usbmuxd lists phones the event stream did not announce; "
				     "subscribing again");
		w->suspect = 0;
		w->want_restart = 1;
	} else {
		w->suspect = 1;
		want(w, &w->want_check, DEVWATCH_RECHECK_MS);
	}
}

static void maybe_finish(struct devwatch *w);

static void job_after_cb(uv_work_t *req, int status)
{
	struct devwatch_job *j = req->data;
	struct devwatch *w = j->w;
	int was = w->subscribed;

	(void)status;
	w->busy = 0;
	w->subscribed = j->subscribed;
	if (was && !w->subscribed)
		dev_remove_all(w); /* unsubscribing replays no removals to us */
	if (!w->stopping) {
		if ((j->kind == JOB_CHECK || j->kind == JOB_RESTART) && j->listed_ok &&
		    w->subscribed)
			after_check(w, j);
		if (w->subscribed) {
			w->backoff_ms = 0;
			uv_timer_stop(&w->backoff);
			set_connected(w, 1);
		} else {
			set_connected(w, 0);
			w->backoff_ms = w->backoff_ms ? w->backoff_ms * 2 : DEVWATCH_BACKOFF_MIN_MS;
			if (w->backoff_ms > DEVWATCH_BACKOFF_MAX_MS)
				w->backoff_ms = DEVWATCH_BACKOFF_MAX_MS;
			if (!w->want_connect)
				uv_timer_start(&w->backoff, backoff_cb, w->backoff_ms, 0);
		}
	}
	free(j->v);
	free(j);
	devwatch_schedule(w);
}

static void devwatch_schedule(struct devwatch *w)
{
	struct devwatch_job *j;
	enum devwatch_job_kind kind;

	if (w->busy)
		return;
	if (w->stopping) {
		if (!w->subscribed) {
			maybe_finish(w);
			return;
		}
		kind = JOB_STOP;
	} else if (!w->subscribed) {
		if (!w->want_connect)
			return;
		kind = JOB_CONNECT;
	} else if (w->want_restart) {
		kind = JOB_RESTART;
	} else if (w->want_check) {
		kind = JOB_CHECK;
	} else {
		return;
	}
	w->want_connect = w->want_restart = w->want_check = 0;
	j = calloc(1, sizeof(*j));
	if (!j) {
		log_err("devwatch", "out of memory");
		uv_timer_start(&w->backoff, backoff_cb, DEVWATCH_BACKOFF_MAX_MS, 0);
		return;
	}
	j->w = w;
	j->kind = kind;
	j->start_seq = w->seq;
	j->work.data = j;
	if (uv_queue_work(w->loop, &j->work, job_work_cb, job_after_cb) < 0) {
		free(j);
		return;
	}
	w->busy = 1;
}

/* ---- life cycle ---- */

static int split_socket(struct devwatch *w, const char *addr)
{
	const char *path, *slash;

	if (!addr)
		path = "/var/run/usbmuxd";
	else if (!strncmp(addr, "UNIX:", 5) && addr[5])
		path = addr + 5;
	else
		return 0; /* TCP: libusbmuxd itself polls every second */
	slash = strrchr(path, '/');
	if (!slash || !slash[1])
		return 0;
	w->sock_dir = slash == path ? strdup("/") : strndup(path, (size_t)(slash - path));
	w->sock_name = strdup(slash + 1);
	if (!w->sock_dir || !w->sock_name)
		return -ENOMEM;
	return 0;
}

int devwatch_new(uv_loop_t *loop, const char *usbmuxd_socket, const struct devwatch_ops *ops,
		 void *arg, struct devwatch **out)
{
	struct devwatch *w = calloc(1, sizeof(*w));
	int r;

	if (!w)
		return -ENOMEM;
	w->loop = loop;
	w->ops = *ops;
	w->arg = arg;
	r = split_socket(w, usbmuxd_socket);
	if (r < 0)
		goto fail;
	r = mailbox_init(&w->mb, loop, DEVWATCH_MAILBOX_CAP, drain_cb);
	if (r < 0)
		goto fail;
	w->mb.data = w;
	uv_timer_init(loop, &w->debounce);
	uv_timer_init(loop, &w->backoff);
	uv_fs_event_init(loop, &w->fsw);
	w->debounce.data = w->backoff.data = w->fsw.data = w;
	if (w->sock_dir) {
		r = uv_fs_event_start(&w->fsw, fsw_cb, w->sock_dir, 0);
		if (r < 0)
			log_warn("devwatch", "cannot watch '%s' for the usbmuxd socket: %s",
				 w->sock_dir, uv_strerror(r));
		else
			w->fsw_active = 1;
	}
	/*
	 * Without inotify, libusbmuxd's listener retries a lost usbmuxd by connecting once a
	 * second (sleep(), a cancellation point) instead of waiting on an inotify fd for
	 * /var/run: unsubscribing then cancels it without leaking that fd, and a usbmuxd back
	 * within a second is found by the listener itself.
	 */
	libusbmuxd_set_use_inotify(0);
	w->want_connect = 1;
	devwatch_schedule(w);
	*out = w;
	return 0;
fail:
	free(w->sock_dir);
	free(w->sock_name);
	free(w);
	return r;
}

int devwatch_connected(const struct devwatch *w)
{
	return w && w->connected;
}

static void finish_cb(struct devwatch *w)
{
	if (--w->open_handles == 0 && w->done_cb)
		w->done_cb(w->done_arg);
}

static void handle_closed_cb(uv_handle_t *h)
{
	finish_cb(h->data);
}

static void mailbox_closed_cb(struct mailbox *mb)
{
	finish_cb(mb->data);
}

static void maybe_finish(struct devwatch *w)
{
	if (w->closing)
		return;
	w->closing = 1;
	w->open_handles = 4;
	uv_close((uv_handle_t *)&w->debounce, handle_closed_cb);
	uv_close((uv_handle_t *)&w->backoff, handle_closed_cb);
	uv_close((uv_handle_t *)&w->fsw, handle_closed_cb);
	/* no callback can post any more: the listener thread has been joined */
	mailbox_close(&w->mb, mailbox_closed_cb);
}

void devwatch_stop(struct devwatch *w, void (*done_cb)(void *arg), void *arg)
{
	w->stopping = 1;
	w->done_cb = done_cb;
	w->done_arg = arg;
	uv_timer_stop(&w->debounce);
	uv_timer_stop(&w->backoff);
	if (w->fsw_active)
		uv_fs_event_stop(&w->fsw);
	w->fsw_active = 0;
	devwatch_schedule(w);
}

void devwatch_free(struct devwatch *w)
{
	if (!w)
		return;
	free(w->devs);
	free(w->sock_dir);
	free(w->sock_name);
	free(w);
}
