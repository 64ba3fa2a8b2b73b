/* ipc.c: the Unix socket server: listener, clients, bounded line framing and output queues */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <uv.h>

#include "../proto/linebuf.h"
#include "../proto/protocol.h"
#include "config.h"
#include "ipc.h"
#include "ipc_internal.h"
#include "log.h"

#define IPC_STOP_FLUSH_MS 2000
/* how long a client that lost framing may keep sending after its last reply before we close */
#define IPC_LINGER_MS 5000

static void client_process(struct ipc_client *c);
static void maybe_done(struct ipc *ipc);

static void notify_clients(struct ipc *ipc)
{
	if (ipc->ops->clients_cb)
		ipc->ops->clients_cb(ipc->arg);
}

/* ---- client lifetime ---- */

struct ipc_client *ipc_client_ref(struct ipc_client *c)
{
	c->refs++;
	return c;
}

void ipc_client_unref(struct ipc_client *c)
{
	struct ipc *ipc;

	if (c == NULL || --c->refs > 0)
		return;
	ipc = c->ipc;
	ipc_out_drop(c);
	linebuf_release(&c->lb);
	free(c->raw);
	free(c);
	if (ipc)
		maybe_done(ipc);
}

int ipc_client_is_open(const struct ipc_client *c)
{
	return c->state != CLIENT_CLOSED && c->state != CLIENT_DRAINING;
}

unsigned ipc_topics(const struct ipc *ipc)
{
	unsigned topics = 0;

	for (const struct ipc_client *c = ipc ? ipc->clients : NULL; c; c = c->next)
		if (ipc_client_is_open(c))
			topics |= c->topics;
	return topics;
}

static void topics_changed(struct ipc *ipc)
{
	if (ipc != NULL && ipc->ops->topics_cb)
		ipc->ops->topics_cb(ipc->arg, ipc_topics(ipc));
}

void ipc_client_set_topics(struct ipc_client *c, unsigned topics)
{
	c->topics = topics;
	topics_changed(c->ipc);
}

void **ipc_client_slot(struct ipc_client *c)
{
	return &c->slot;
}

static void client_closed_cb(uv_handle_t *h)
{
	struct ipc_client *c = h->data;
	struct ipc *ipc = c->ipc;

	if (--c->open_handles > 0)
		return;
	if (c->prev)
		c->prev->next = c->next;
	else
		ipc->clients = c->next;
	if (c->next)
		c->next->prev = c->prev;
	if (--ipc->n_clients == 0)
		uv_timer_stop(&ipc->sweep);
	log_debug("ipc", "client %u closed", c->id);
	ipc_client_unref(c);
	notify_clients(ipc);
}

void ipc_client_close_now(struct ipc_client *c)
{
	if (c->state == CLIENT_CLOSED)
		return;
	c->state = CLIENT_CLOSED;
	ipc_out_drop(c); /* its memory is free at once, not when libuv gets to the close */
	c->ipc->ops->gone_cb(c->ipc->arg, c);
	if (c->topics)
		topics_changed(c->ipc);
	if (!uv_is_closing((uv_handle_t *)&c->pipe))
		uv_close((uv_handle_t *)&c->pipe, client_closed_cb);
	if (!uv_is_closing((uv_handle_t *)&c->linger))
		uv_close((uv_handle_t *)&c->linger, client_closed_cb);
}

static void set_reading(struct ipc_client *c, int on);

static void linger_cb(uv_timer_t *t)
{
	struct ipc_client *c = t->data;

	log_debug("ipc", "client %u: still sending %d ms after losing framing: closing", c->id,
		  IPC_LINGER_MS);
	ipc_client_close_now(c);
}

static void shutdown_cb(uv_shutdown_t *req, int status)
{
	struct ipc_client *c = req->data;

	c->shut_done = 1;
	/* the replies are out and the client sees EOF; wait for its EOF (or the linger timer) */
	if (status < 0 || c->eof || !c->reading || c->ipc->stopping)
		ipc_client_close_now(c);
}

/*
 * Closing a Unix socket whose receive queue holds unread bytes makes the kernel reset the
 * connection: the client then gets ECONNRESET, maybe before it has read our last replies.
 * So unless the client's end is already closed, input keeps being read and discarded while
 * the replies are flushed and our end is shut down, until the client closes too or
 * IPC_LINGER_MS pass.
 */
void ipc_client_close_after_flush(struct ipc_client *c)
{
	if (c->state == CLIENT_CLOSED || c->state == CLIENT_DRAINING)
		return;
	c->state = CLIENT_DRAINING;
	c->ipc->ops->gone_cb(c->ipc->arg, c);
	if (c->topics)
		topics_changed(c->ipc);
	if (c->eof || c->ipc->stopping) {
		set_reading(c, 0);
	} else {
		set_reading(c, 1);
		uv_timer_start(&c->linger, linger_cb, IPC_LINGER_MS, 0);
	}
	c->want_shutdown = 1;
	ipc_out_pump(c); /* shuts our end down once the queue is written */
}

void ipc_client_written(struct ipc_client *c)
{
	if (!c->want_shutdown || c->out_head != NULL || c->state != CLIENT_DRAINING)
		return;
	c->want_shutdown = 0;
	c->shutdown.data = c;
	if (uv_shutdown(&c->shutdown, (uv_stream_t *)&c->pipe, shutdown_cb) < 0)
		ipc_client_close_now(c);
}

/* ---- output ---- */

/* ---- input ---- */

static void alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	static char chunk[65536]; /* the loop is single-threaded; data is copied out at once */

	(void)h;
	(void)suggested;
	*buf = uv_buf_init(chunk, sizeof(chunk));
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct ipc_client *c = s->data;

	if (nread == 0)
		return;
	if (nread < 0) {
		if (nread != UV_EOF)
			log_debug("ipc", "client %u: read: %s", c->id, uv_strerror((int)nread));
		c->eof = 1;
		if (c->state == CLIENT_DRAINING) {
			set_reading(c, 0);
			if (c->shut_done)
				ipc_client_close_now(c);
			return;
		}
		/* EOF: the replies to what was sent are written, then the client is closed */
		if (c->state != CLIENT_BUSY)
			ipc_client_close_after_flush(c);
		else
			c->after_busy = CLIENT_DRAINING;
		set_reading(c, 0);
		return;
	}
	if (c->state == CLIENT_DRAINING)
		return; /* framing is lost or the client is being closed: discard */
	c->active_ms = uv_now(s->loop);
	if (c->state == CLIENT_READING && linebuf_pending(&c->lb) == 0)
		c->input_ms = c->active_ms; /* a request line begins */
	if (linebuf_append(&c->lb, buf->base, (size_t)nread) < 0) {
		log_err("ipc", "client %u: out of memory: closing", c->id);
		ipc_client_close_now(c);
		return;
	}
	client_process(c);
}

static void set_reading(struct ipc_client *c, int on)
{
	if (c->state == CLIENT_CLOSED || uv_is_closing((uv_handle_t *)&c->pipe))
		return;
	if (on && !c->reading) {
		if (uv_read_start((uv_stream_t *)&c->pipe, alloc_cb, read_cb) == 0)
			c->reading = 1;
	} else if (!on && c->reading) {
		uv_read_stop((uv_stream_t *)&c->pipe);
		c->reading = 0;
	}
}

void ipc_client_expect_raw(struct ipc_client *c, size_t n)
{
	c->raw_want = n;
	c->raw_len = 0;
	c->raw_cap = 0;
	free(c->raw);
	c->raw = NULL;
	c->state = CLIENT_RAW;
	c->input_ms = uv_now(c->pipe.loop); /* import_timeout runs from the header */
}

/* Move buffered bytes into the raw buffer; returns 1 when the body is complete. */
static int raw_fill(struct ipc_client *c)
{
	size_t avail = linebuf_pending(&c->lb), need = c->raw_want - c->raw_len;
	size_t n = avail < need ? avail : need;

	if (c->raw_len + n > c->raw_cap) {
		size_t cap = c->raw_cap ? c->raw_cap : 65536;
		char *nb;

		while (cap < c->raw_len + n)
			cap *= 2;
		if (cap > c->raw_want)
			cap = c->raw_want;
		nb = realloc(c->raw, cap + 1);
		if (nb == NULL)
			return -ENOMEM;
		c->raw = nb;
		c->raw_cap = cap;
	}
	if (n > 0)
		c->raw_len += linebuf_take(&c->lb, c->raw + c->raw_len, n);
	return c->raw_len == c->raw_want;
}

static void client_process(struct ipc_client *c)
{
	ipc_client_ref(c);
	while (c->state == CLIENT_READING || c->state == CLIENT_RAW) {
		enum ipc_outcome out;

		if (c->state == CLIENT_RAW) {
			int r = raw_fill(c);
			void *body;

			if (r < 0) {
				log_err("ipc", "client %u: out of memory for an import", c->id);
				ipc_client_close_now(c);
				break;
			}
			if (r == 0)
				break; /* wait for more bytes */
			body = c->raw;
			c->raw = NULL;
			c->state = CLIENT_READING;
			c->input_ms = uv_now(c->pipe.loop); /* what follows is a new line */
			out = c->ipc->ops->raw_cb(c->ipc->arg, c, body, c->raw_len);
		} else {
			char *line;
			size_t len;
			int r = linebuf_next(&c->lb, &line, &len);

			if (r == 0)
				break;
			if (r == LINEBUF_E_TOO_LONG) {
				log_info("ipc", "client %u: request line over %d bytes: closing",
					 c->id, IPC_MAX_LINE);
				ipc_client_error(c, NULL, PROTO_E_TOO_LARGE,
						 "request line is longer than 65536 bytes");
				ipc_client_close_after_flush(c);
				break;
			}
			out = c->ipc->ops->request_cb(c->ipc->arg, c, line, len);
		}
		if (out == IPC_PENDING && c->state != CLIENT_CLOSED &&
		    c->state != CLIENT_DRAINING) {
			c->after_busy = c->state;
			c->state = CLIENT_BUSY;
		}
	}
	if (c->state != CLIENT_DRAINING) /* a draining client reads (and discards) until EOF */
		set_reading(c, c->state == CLIENT_READING || c->state == CLIENT_RAW);
	ipc_client_unref(c);
}

void ipc_client_resume(struct ipc_client *c)
{
	if (c->state != CLIENT_BUSY)
		return;
	if (c->after_busy == CLIENT_DRAINING) {
		c->state = CLIENT_READING;
		ipc_client_close_after_flush(c);
		return;
	}
	c->state = c->after_busy;
	c->active_ms = c->input_ms = uv_now(c->pipe.loop);
	if (c->ipc->stopping) {
		ipc_client_close_after_flush(c);
		return;
	}
	client_process(c);
}

int ipc_client_is_admin(const struct ipc_client *c)
{
	return c->peer.admin;
}

/* ---- listener ---- */

static struct ipc_client *client_new(struct ipc *ipc, uv_loop_t *loop)
{
	struct ipc_client *c = calloc(1, sizeof(*c));

	if (c == NULL || uv_pipe_init(loop, &c->pipe, 0) < 0) {
		free(c);
		log_err("ipc", "cannot accept a client: out of memory");
		return NULL;
	}
	uv_timer_init(loop, &c->linger);
	c->linger.data = c;
	c->open_handles = 2;
	c->ipc = ipc;
	c->refs = 1; /* dropped in client_closed_cb */
	c->id = ++ipc->next_id;
	c->pipe.data = c;
	c->active_ms = c->input_ms = uv_now(loop);
	linebuf_init(&c->lb, IPC_MAX_LINE);
	c->next = ipc->clients;
	if (ipc->clients)
		ipc->clients->prev = c;
	ipc->clients = c;
	if (ipc->n_clients++ == 0)
		uv_timer_start(&ipc->sweep, ipc_limits_sweep_cb, IPC_SWEEP_MS, IPC_SWEEP_MS);
	return c;
}

static void connection_cb(uv_stream_t *server, int status)
{
	struct ipc *ipc = server->data;
	struct ipc_client *c;
	uv_os_fd_t fd;

	if (status < 0) {
		log_warn("ipc", "accept failed: %s", uv_strerror(status));
		return;
	}
	c = client_new(ipc, server->loop);
	if (c == NULL)
		return;
	if (uv_accept(server, (uv_stream_t *)&c->pipe) < 0 ||
	    uv_fileno((uv_handle_t *)&c->pipe, &fd) < 0 ||
	    ipc_sock_peer(fd, ipc->cfg->admin_group, &c->peer) < 0) {
		ipc_client_close_now(c);
		return;
	}
	if (ipc_limits_admit(ipc, c) < 0)
		return;
	log_debug("ipc", "client %u connected (uid %u, pid %ld%s)", c->id, (unsigned)c->peer.uid,
		  (long)c->peer.pid, c->peer.admin ? ", admin" : "");
	set_reading(c, 1);
	notify_clients(ipc);
}

int ipc_new(uv_loop_t *loop, const struct config *cfg, int fd, const struct ipc_ops *ops, void *arg,
	    struct ipc **out)
{
	struct ipc *ipc = calloc(1, sizeof(*ipc));
	int r;

	*out = NULL;
	if (ipc == NULL)
		return -ENOMEM;
	ipc->cfg = cfg;
	ipc->ops = ops;
	ipc->arg = arg;
	ipc->lock_fd = -1;
	ipc->activated = fd >= 0;
	ipc_sock_raise_nofile();
	if (fd < 0) {
		fd = ipc_sock_listen(cfg->socket, &ipc->lock_fd);
		if (fd < 0) {
			if (ipc->lock_fd >= 0)
				close(ipc->lock_fd);
			free(ipc);
			return fd;
		}
		ipc->path = strdup(cfg->socket);
	}
	uv_timer_init(loop, &ipc->stop_timer);
	ipc->stop_timer.data = ipc;
	uv_timer_init(loop, &ipc->sweep);
	ipc->sweep.data = ipc;
	uv_unref((uv_handle_t *)&ipc->sweep);
	r = uv_pipe_init(loop, &ipc->server, 0);
	ipc->server.data = ipc;
	if (r == 0)
		r = uv_pipe_open(&ipc->server, fd);
	if (r == 0)
		r = uv_listen((uv_stream_t *)&ipc->server, IPC_BACKLOG, connection_cb);
	if (r < 0) {
		log_err("ipc", "cannot listen: %s", uv_strerror(r));
		/* the handles are initialised: the caller closes them with ipc_stop() */
		*out = ipc;
		return r;
	}
	if (ipc->activated)
		log_info("ipc", "listening on the activated socket (fd %d)", fd);
	else
		log_info("ipc", "listening on '%s'", ipc->path);
	*out = ipc;
	return 0;
}

static void timer_closed_cb(uv_handle_t *h);

static void maybe_done(struct ipc *ipc)
{
	void (*cb)(void *);

	if (!ipc->stopping || !ipc->server_closed || ipc->clients)
		return;
	if (!ipc->timer_closing) {
		ipc->timer_closing = 1;
		uv_close((uv_handle_t *)&ipc->stop_timer, timer_closed_cb);
		uv_close((uv_handle_t *)&ipc->sweep, timer_closed_cb);
		return;
	}
	if (ipc->timers_closed < 2)
		return;
	cb = ipc->done_cb;
	ipc->done_cb = NULL;
	if (cb)
		cb(ipc->done_arg);
}

static void server_closed_cb(uv_handle_t *h)
{
	struct ipc *ipc = h->data;

	ipc->server_closed = 1;
	maybe_done(ipc);
}

static void timer_closed_cb(uv_handle_t *h)
{
	struct ipc *ipc = h->data;

	ipc->timers_closed++;
	maybe_done(ipc);
}

static void stop_timer_cb(uv_timer_t *t)
{
	struct ipc *ipc = t->data;

	for (struct ipc_client *c = ipc->clients, *next; c; c = next) {
		next = c->next;
		if (c->state != CLIENT_CLOSED)
			log_info("ipc", "client %u: replies not flushed in time: closing", c->id);
		ipc_client_close_now(c);
	}
}

void ipc_stop(struct ipc *ipc, void (*done_cb)(void *arg), void *arg)
{
	ipc->stopping = 1;
	ipc->done_cb = done_cb;
	ipc->done_arg = arg;
	if (!uv_is_closing((uv_handle_t *)&ipc->server))
		uv_close((uv_handle_t *)&ipc->server, server_closed_cb);
	if (ipc->path && !ipc->activated)
		unlink(ipc->path);
	for (struct ipc_client *c = ipc->clients, *next; c; c = next) {
		next = c->next;
		if (c->state == CLIENT_BUSY)
			c->after_busy = CLIENT_DRAINING; /* answer the pending request first */
		else if (c->state == CLIENT_DRAINING && c->shut_done)
			ipc_client_close_now(c); /* lingering: the replies are out */
		else
			ipc_client_close_after_flush(c);
	}
	if (ipc->clients)
		uv_timer_start(&ipc->stop_timer, stop_timer_cb, IPC_STOP_FLUSH_MS, 0);
	maybe_done(ipc);
}

void ipc_free(struct ipc *ipc)
{
	if (ipc == NULL)
		return;
	if (ipc->lock_fd >= 0)
		close(ipc->lock_fd);
	free(ipc->path);
	free(ipc);
}

unsigned ipc_client_count(const struct ipc *ipc)
{
	return ipc ? ipc->n_clients : 0;
}
