/* syslogwatch.c: following a phone's com.apple.syslog_relay: opened on a thread, read on the loop
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libimobiledevice/libimobiledevice.h>
#include <libimobiledevice/lockdown.h>
#include <libimobiledevice/syslog_relay.h>

#include "fetch_abort.h"
#include "fetch_idev.h"
#include "log.h"
#include "syslogwatch.h"

#define SW_LABEL "jetsamd"
#define SW_READ	 4096u /* bytes read at once */
/*
 * Longest read before the stop flag is looked at again: stop cuts the socket, so a quiet
 * stream costs one wake-up a minute; without the socket's number, once a second.
 */
#define SW_WAIT_MS	60000u
#define SW_WAIT_NOFD_MS 1000u
#define SW_STACK_SIZE	(1024u * 1024u) /* the thread's stack (TLS handshake included) */
/* reads per loop wake-up at most, so that a chatty phone cannot hold the loop */
#define SW_LOOP_READS 16

/*
 * The thread connects (usbmuxd, the lockdown handshake, the service: blocking library
 * calls) and ends: when the stream is a plain socket whose number is known, the loop reads
 * it (uv_poll) and an idle follower costs no thread, no stack and no per-thread malloc or
 * OpenSSL state. Otherwise (a TLS stream, or no socket number) the thread reads it as well.
 */

struct syslogwatch {
	struct mailbox *mb;
	uv_loop_t *loop;
	char udid[44];
	int network;
	uv_thread_t thread;
	atomic_int stop, ended;
	atomic_int thread_done;	  /* the thread has finished (before its MAILBOX_ENDED) */
	int joined;		  /* loop only: the thread was joined */
	uv_poll_t poll;		  /* loop only: reading the stream once handed over */
	int polling, closing;	  /* loop only */
	struct fetch_abort abort; /* its sockets: syslogwatch_stop cuts them */
	/* written by the thread before it ends, read by the loop after */
	idevice_t dev;
	syslog_relay_client_t client;
	int client_fd;
	int ssl;     /* the service runs TLS: the thread reads it */
	int handoff; /* written by the thread before it ends: the loop reads the stream */
	int streamed;
	char error[160];
	/* the line being read (thread only) */
	char line[SYSLOGWATCH_LINE_MAX];
	size_t n;
	int overlong;
};

static void post(struct syslogwatch *w, enum mailbox_kind kind)
{
	struct mailbox_event ev;

	memset(&ev, 0, sizeof(ev));
	ev.kind = kind;
	ev.network = w->network;
	memcpy(ev.udid, w->udid, sizeof(ev.udid));
	mailbox_post(w->mb, &ev);
}

/* device → lockdown handshake → syslog_relay; 0, or -1 with w->error set. */
static int sw_open(struct syslogwatch *w)
{
	lockdownd_client_t ld = NULL;
	lockdownd_service_descriptor_t svc = NULL;
	lockdownd_error_t le;
	idevice_error_t ie;
	syslog_relay_error_t se;
	int ld_fd;

	ie = idevice_new_with_options(&w->dev, w->udid,
				      w->network ? IDEVICE_LOOKUP_NETWORK : IDEVICE_LOOKUP_USBMUX);
	if (ie != IDEVICE_E_SUCCESS) {
		w->dev = NULL;
		snprintf(w->error, sizeof(w->error), "cannot open device (error %d)", (int)ie);
		return -1;
	}
	le = fetch_idev_lockdown(w->dev, SW_LABEL, &w->abort, &ld, &ld_fd, NULL);
	if (le != LOCKDOWN_E_SUCCESS) {
		snprintf(w->error, sizeof(w->error), "lockdown handshake: lockdown error %d",
			 (int)le);
		return -1;
	}
	le = lockdownd_start_service(ld, SYSLOG_RELAY_SERVICE_NAME, &svc);
	fetch_abort_del(&w->abort, ld_fd);
	lockdownd_client_free(ld);
	if (le != LOCKDOWN_E_SUCCESS) {
		snprintf(w->error, sizeof(w->error),
			 "cannot start '" SYSLOG_RELAY_SERVICE_NAME "' (lockdown error %d)",
			 (int)le);
		return -1;
	}
	w->ssl = svc->ssl_enabled != 0;
	se = syslog_relay_client_new(w->dev, svc, &w->client);
	lockdownd_service_descriptor_free(svc);
	if (se != SYSLOG_RELAY_E_SUCCESS) {
		w->client = NULL;
		snprintf(w->error, sizeof(w->error),
			 "cannot connect to '" SYSLOG_RELAY_SERVICE_NAME "' (error %d)", (int)se);
		return -1;
	}
	/* syslog_relay client -> service client -> connection */
	w->client_fd = fetch_abort_add(&w->abort, fetch_idev_client_fd(w->client, 2));
	return 0;
}

static void sw_close(struct syslogwatch *w)
{
	fetch_abort_del(&w->abort, w->client_fd);
	w->client_fd = -1;
	if (w->client)
		syslog_relay_client_free(w->client);
	if (w->dev)
		idevice_free(w->dev);
	w->client = NULL;
	w->dev = NULL;
}

/* Feed bytes: a line ends at '\n' or NUL (the relay's framing); it is matched, then dropped. */
static void sw_feed(struct syslogwatch *w, const char *buf, size_t len)
{
	char name[128];

	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		if (c != '\n' && c != '\0') {
			if (w->n < sizeof(w->line))
				w->line[w->n++] = c;
			else
				w->overlong = 1;
			continue;
		}
		if (w->n > 0 && !w->overlong &&
		    syslogwatch_match(w->line, w->n, name, sizeof(name))) {
			log_debug("syslogwatch", "'%s': saved report %s", w->udid, name);
			post(w, MAILBOX_SAVED);
		}
		w->n = 0;
		w->overlong = 0;
	}
}

/* Thread: read the stream until it ends or stop is set. */
static void sw_read_blocking(struct syslogwatch *w)
{
	char buf[SW_READ];

	while (!atomic_load(&w->stop)) {
		uint32_t got = 0;
		syslog_relay_error_t e = syslog_relay_receive_with_timeout(
			w->client, buf, sizeof(buf), &got,
			w->client_fd >= 0 ? SW_WAIT_MS : SW_WAIT_NOFD_MS);

		if (got > 0)
			sw_feed(w, buf, got);
		else if (e != SYSLOG_RELAY_E_SUCCESS && e != SYSLOG_RELAY_E_TIMEOUT) {
			snprintf(w->error, sizeof(w->error), "stream closed (error %d)", (int)e);
			break;
		}
	}
}

static void sw_thread(void *arg)
{
	struct syslogwatch *w = arg;

	if (!atomic_load(&w->stop) && sw_open(w) == 0) {
		w->streamed = 1;
		log_debug("syslogwatch", "'%s': system log stream open", w->udid);
		if (w->client_fd >= 0 && !w->ssl) {
			/* the loop reads it from here on (syslogwatch_thread_done) */
			w->handoff = 1;
			atomic_store(&w->thread_done, 1);
			post(w, MAILBOX_ENDED);
			return;
		}
		sw_read_blocking(w);
	}
	sw_close(w);
	if (atomic_load(&w->stop))
		w->error[0] = '\0';
	atomic_store(&w->ended, 1);
	atomic_store(&w->thread_done, 1);
	post(w, MAILBOX_ENDED);
}

/* ---- reading on the loop ---- */

static void sw_poll_closed_cb(uv_handle_t *h)
{
	struct syslogwatch *w = h->data;

	w->polling = 0;
	sw_close(w);
	if (atomic_load(&w->stop))
		w->error[0] = '\0';
	atomic_store(&w->ended, 1);
	post(w, MAILBOX_ENDED);
}

/* Loop: stop reading; the follower ends (MAILBOX_ENDED) once the handle is closed. */
static void sw_poll_finish(struct syslogwatch *w)
{
	if (w->closing)
		return;
	w->closing = 1;
	uv_close((uv_handle_t *)&w->poll, sw_poll_closed_cb);
}

static void sw_poll_cb(uv_poll_t *h, int status, int events)
{
	struct syslogwatch *w = h->data;
	char buf[SW_READ];

	(void)events;
	if (status < 0) {
		snprintf(w->error, sizeof(w->error), "stream closed (%s)", uv_strerror(status));
		sw_poll_finish(w);
		return;
	}
	for (int i = 0; i < SW_LOOP_READS && !w->closing; i++) {
		uint32_t got = 0;
		/* readable: the 1 ms timeout is never waited for (0 would mean no timeout) */
		syslog_relay_error_t e =
			syslog_relay_receive_with_timeout(w->client, buf, sizeof(buf), &got, 1);

		if (got > 0)
			sw_feed(w, buf, got);
		if (got == sizeof(buf))
			continue; /* there may be more */
		if (got == 0 && e != SYSLOG_RELAY_E_SUCCESS && e != SYSLOG_RELAY_E_TIMEOUT) {
			snprintf(w->error, sizeof(w->error), "stream closed (error %d)", (int)e);
			sw_poll_finish(w);
		}
		break;
	}
}

/* Loop: the thread handed the open stream over: read it with uv_poll. */
static void sw_poll_start(struct syslogwatch *w)
{
	int r = uv_poll_init(w->loop, &w->poll, w->client_fd);

	if (r == 0) {
		w->poll.data = w;
		w->polling = 1;
		r = uv_poll_start(&w->poll, UV_READABLE | UV_DISCONNECT, sw_poll_cb);
		if (r == 0)
			return;
		snprintf(w->error, sizeof(w->error), "cannot poll the stream: %s", uv_strerror(r));
		sw_poll_finish(w);
		return;
	}
	snprintf(w->error, sizeof(w->error), "cannot poll the stream: %s", uv_strerror(r));
	sw_close(w);
	atomic_store(&w->ended, 1);
}

void syslogwatch_thread_done(struct syslogwatch *w)
{
	if (w->joined || !atomic_load(&w->thread_done))
		return;
	uv_thread_join(&w->thread);
	w->joined = 1;
	if (!w->handoff)
		return;
	if (atomic_load(&w->stop)) {
		sw_close(w);
		w->error[0] = '\0';
		atomic_store(&w->ended, 1);
		return;
	}
	sw_poll_start(w);
}

int syslogwatch_start(uv_loop_t *loop, struct mailbox *mb, const char *udid, int network,
		      struct syslogwatch **out)
{
	struct syslogwatch *w = calloc(1, sizeof(*w));
	uv_thread_options_t opt = {.flags = UV_THREAD_HAS_STACK_SIZE, .stack_size = SW_STACK_SIZE};
	int r;

	if (!w)
		return -ENOMEM;
	w->mb = mb;
	w->loop = loop;
	strncpy(w->udid, udid, sizeof(w->udid) - 1);
	w->network = network;
	w->client_fd = -1;
	fetch_abort_init(&w->abort);
	r = uv_thread_create_ex(&w->thread, &opt, sw_thread, w);
	if (r < 0) {
		fetch_abort_release(&w->abort);
		free(w);
		return r;
	}
	*out = w;
	return 0;
}

void syslogwatch_stop(struct syslogwatch *w)
{
	atomic_store(&w->stop, 1);
	fetch_abort_now(&w->abort);
	if (w->polling)
		sw_poll_finish(w);
}

int syslogwatch_ended(struct syslogwatch *w)
{
	return atomic_load(&w->ended);
}

int syslogwatch_result(struct syslogwatch *w, const char **err)
{
	if (err)
		*err = w->error;
	return w->streamed;
}

void syslogwatch_free(struct syslogwatch *w)
{
	if (!w)
		return;
	if (!w->joined)
		uv_thread_join(&w->thread);
	fetch_abort_release(&w->abort);
	free(w);
}
