/* conn.c: accepted stream connections of devsim: buffering, writes, dispatch, close */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "devsim.h"

#define CONN_READ_SIZE	(256 * 1024)
#define CONN_QUEUE_HIGH (8u * 1024 * 1024)
#define CONN_QUEUE_LOW	(1u * 1024 * 1024)
#define CONN_IN_MAX	(4u * 1024 * 1024)

struct wreq {
	uv_write_t req;
	struct conn *c;
	size_t len;
	char data[];
};

static char conn_readbuf[CONN_READ_SIZE];

const char *conn_kind_name(enum conn_kind kind)
{
	switch (kind) {
	case CONN_MUX:
		return "mux";
	case CONN_LOCKDOWN:
		return "lockdown";
	case CONN_MOVER:
		return "mover";
	case CONN_AFC:
		return "afc";
	case CONN_CONTROL:
		return "control";
	case CONN_SYSLOG:
		return "syslog";
	}
	return "?";
}

static void conn_handle_close_cb(uv_handle_t *h)
{
	struct conn *c = h->data;

	if (--c->handles_open > 0)
		return;
	if (c->held)
		conn_wbuf_free(c->held);
	lockdown_free(c->ld);
	afc_free(c->afc);
	svctls_free(c->svc);
	free(c->in);
	free(c);
}

static void conn_log_close(struct conn *c)
{
	log_msg("conn %u %s%s%s: closed: %s (%llu messages, %llu bytes in, %llu bytes out)", c->id,
		conn_kind_name(c->kind), c->phone ? " " : "", c->phone ? c->phone->udid : "",
		c->reason[0] ? c->reason : "done", (unsigned long long)c->nmsg,
		(unsigned long long)c->bytes_in, (unsigned long long)c->bytes_out);
}

void conn_close(struct conn *c, const char *fmt, ...)
{
	va_list ap;

	if (c->closing)
		return;
	c->closing = true;
	if (fmt && !c->reason[0]) {
		va_start(ap, fmt);
		vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
		va_end(ap);
	}
	conn_log_close(c);
	link_close(c);
	if (c->kind == CONN_SYSLOG)
		syslog_conn_closed(c);
	if (c->prev)
		c->prev->next = c->next;
	else
		c->ds->conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	c->prev = c->next = NULL;
	uv_timer_stop(&c->timer);
	uv_close((uv_handle_t *)&c->timer, conn_handle_close_cb);
	uv_close((uv_handle_t *)&c->pipe, conn_handle_close_cb);
}

/* close, but let what the phone already sent cross the emulated link first */
void conn_close_after_link(struct conn *c, const char *reason)
{
	if (link_pending_out(c) == 0) {
		conn_close(c, "%s", reason);
		return;
	}
	snprintf(c->reason, sizeof(c->reason), "%s", reason);
	c->hold = true;
	c->close_after_link = true;
	uv_read_stop((uv_stream_t *)&c->pipe);
}

void *conn_wbuf_new(size_t len, char **data)
{
	struct wreq *w = malloc(sizeof(*w) + len);

	if (!w)
		return NULL;
	w->len = len;
	w->c = NULL;
	*data = w->data;
	return w;
}

void conn_wbuf_trim(void *wp, size_t len)
{
	struct wreq *w = wp;

	if (len < w->len)
		w->len = len;
}

void conn_wbuf_free(void *w)
{
	free(w);
}

static void conn_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf);

size_t conn_out_pending(struct conn *c)
{
	return uv_stream_get_write_queue_size((uv_stream_t *)&c->pipe) + link_pending_out(c);
}

/* after the peer's EOF: close once every reply is written (half-closing clients get them) */
static void conn_finish(struct conn *c)
{
	if (c->eof && !c->closing && !c->hold && !c->read_paused && conn_out_pending(c) == 0 &&
	    link_pending_in(c) == 0)
		conn_close(c, "peer closed");
}

static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf);

static void conn_write_cb(uv_write_t *req, int status)
{
	struct wreq *w = (struct wreq *)req;
	struct conn *c = w->c;

	free(w);
	if (c->closing)
		return;
	if (status < 0) {
		conn_close(c, "write failed: %s", uv_strerror(status));
		return;
	}
	if (c->read_paused && conn_out_pending(c) < CONN_QUEUE_LOW) {
		c->read_paused = false;
		if (!c->eof)
			uv_read_start((uv_stream_t *)&c->pipe, conn_alloc_cb, conn_read_cb);
		conn_process(c);
		return;
	}
	conn_finish(c);
}

int conn_wbuf_send(struct conn *c, void *wp)
{
	struct wreq *w = wp;
	int r;

	if (c->svc && !c->closing) {
		/* plaintext of the service: it leaves as TLS records */
		r = svctls_write(c, w->data, w->len);
		free(w);
		return r;
	}
	return conn_wbuf_send_raw(c, w);
}

int conn_wbuf_send_raw(struct conn *c, void *wp)
{
	struct wreq *w = wp;

	if (c->closing) {
		free(w);
		return -EPIPE;
	}
	c->bytes_out += w->len;
	if (link_applies(c))
		return link_send(c, w, w->len);
	return conn_write_now(c, w);
}

int conn_send_tls(struct conn *c, struct tls *t)
{
	size_t n;

	while ((n = tls_pending_out(t)) > 0) {
		char *p;
		void *w = conn_wbuf_new(n, &p);

		if (!w) {
			conn_close(c, "out of memory");
			return -ENOMEM;
		}
		n = tls_take_out(t, p, n);
		if (n == 0) {
			conn_wbuf_free(w);
			return 0;
		}
		conn_wbuf_trim(w, n);
		if (conn_wbuf_send_raw(c, w) < 0)
			return -EPIPE;
	}
	return 0;
}

int conn_write_now(struct conn *c, void *wp)
{
	struct wreq *w = wp;
	uv_buf_t b;
	int r;

	if (c->closing) {
		free(w);
		return -EPIPE;
	}
	w->c = c;
	b = uv_buf_init(w->data, (unsigned)w->len);
	r = uv_write(&w->req, (uv_stream_t *)&c->pipe, &b, 1, conn_write_cb);
	if (r < 0) {
		free(w);
		conn_close(c, "write failed: %s", uv_strerror(r));
		return r;
	}
	return 0;
}

int conn_write(struct conn *c, const void *data, size_t len)
{
	char *p;
	void *w = conn_wbuf_new(len, &p);

	if (!w) {
		conn_close(c, "out of memory");
		return -ENOMEM;
	}
	memcpy(p, data, len);
	return conn_wbuf_send(c, w);
}

static void conn_timer_cb(uv_timer_t *t)
{
	struct conn *c = t->data;
	void *w;

	if (!c->closing && c->held) {
		w = c->held;
		c->held = NULL;
		c->hold = false;
		conn_wbuf_send(c, w);
		conn_process(c);
	}
}

void conn_delay(struct conn *c, uint64_t ms, void *w)
{
	c->held = w;
	c->hold = true;
	uv_timer_start(&c->timer, conn_timer_cb, ms, 0);
}

void conn_hold(struct conn *c, void *w)
{
	if (c->held)
		conn_wbuf_free(c->held);
	c->held = w;
	c->hold = true;
}

void conn_process(struct conn *c)
{
	size_t used;

	while (!c->closing && !c->hold && c->in_len > c->in_off) {
		const char *d = c->in + c->in_off;
		size_t n = c->in_len - c->in_off;

		if (conn_out_pending(c) > CONN_QUEUE_HIGH) {
			/* the peer does not read its replies: stop until they drain */
			if (!c->read_paused) {
				c->read_paused = true;
				uv_read_stop((uv_stream_t *)&c->pipe);
			}
			return;
		}

		switch (c->kind) {
		case CONN_MUX:
			used = usbmux_handle(c, d, n);
			break;
		case CONN_LOCKDOWN:
			used = lockdown_handle(c, d, n);
			break;
		case CONN_AFC:
			used = afc_handle(c, d, n);
			break;
		case CONN_CONTROL:
			used = control_handle(c, d, n);
			break;
		case CONN_MOVER:
		case CONN_SYSLOG:
		default:
			/* the host sends nothing to the mover; ignore what it sends */
			used = n;
			break;
		}
		if (used == 0 || c->closing)
			break;
		c->in_off += used;
	}
	if (c->closing)
		return;
	if (c->in_off == c->in_len) {
		c->in_off = c->in_len = 0;
	} else if (c->in_off > 0) {
		memmove(c->in, c->in + c->in_off, c->in_len - c->in_off);
		c->in_len -= c->in_off;
		c->in_off = 0;
	}
	if (!c->read_paused && conn_out_pending(c) > CONN_QUEUE_HIGH) {
		c->read_paused = true;
		uv_read_stop((uv_stream_t *)&c->pipe);
	}
	conn_finish(c);
}

/* append bytes to the input buffer and run the protocol handlers */
int conn_append(struct conn *c, const char *data, size_t len)
{
	if (c->in_len + len > c->in_cap) {
		size_t cap = c->in_cap ? c->in_cap : 4096;
		char *n;

		while (cap < c->in_len + len)
			cap *= 2;
		if (cap > CONN_IN_MAX + CONN_READ_SIZE) {
			log_err("conn %u %s: too much unprocessed input", c->id,
				conn_kind_name(c->kind));
			conn_close(c, "too much unprocessed input");
			return -EMSGSIZE;
		}
		n = realloc(c->in, cap);
		if (!n) {
			conn_close(c, "out of memory");
			return -ENOMEM;
		}
		c->in = n;
		c->in_cap = cap;
	}
	memcpy(c->in + c->in_len, data, len);
	c->in_len += len;
	return 0;
}

static void conn_alloc_cb(uv_handle_t *h, size_t suggested, uv_buf_t *buf)
{
	(void)h;
	(void)suggested;
	*buf = uv_buf_init(conn_readbuf, sizeof(conn_readbuf));
}

static void conn_read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf)
{
	struct conn *c = s->data;

	if (c->closing)
		return;
	if (nread < 0) {
		if (nread == UV_EOF) {
			c->eof = true;
			uv_read_stop(s);
			conn_finish(c);
		} else if (nread == UV_ECONNRESET) {
			conn_close(c, "peer reset");
		} else {
			conn_close(c, "read failed: %s", uv_strerror((int)nread));
		}
		return;
	}
	if (nread == 0)
		return;
	c->bytes_in += (uint64_t)nread;
	if (link_applies(c))
		link_receive(c, buf->base, (size_t)nread);
	else
		conn_input(c, buf->base, (size_t)nread);
}

/* bytes from the host have reached the phone: run its protocol */
void conn_input(struct conn *c, const char *data, size_t len)
{
	if (c->closing)
		return;
	if (c->kind == CONN_LOCKDOWN) {
		if (lockdown_feed(c, data, len) < 0)
			return;
	} else if (c->svc) {
		if (svctls_feed(c, data, len) < 0)
			return;
	} else if (conn_append(c, data, len) < 0) {
		return;
	}
	conn_process(c);
}

static struct conn *conn_new(struct devsim *ds, enum conn_kind kind)
{
	struct conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->ds = ds;
	c->kind = kind;
	c->id = ++ds->next_conn_id;
	uv_pipe_init(ds->loop, &c->pipe, 0);
	uv_timer_init(ds->loop, &c->timer);
	c->pipe.data = c;
	c->timer.data = c;
	c->handles_open = 2;
	c->next = ds->conns;
	if (ds->conns)
		ds->conns->prev = c;
	ds->conns = c;
	return c;
}

static int conn_start(struct conn *c, int r)
{
	if (r == 0)
		r = uv_read_start((uv_stream_t *)&c->pipe, conn_alloc_cb, conn_read_cb);
	if (r < 0) {
		conn_close(c, "accept failed: %s", uv_strerror(r));
		return r;
	}
	if (c->ds->verbose)
		log_msg("conn %u %s: open", c->id, conn_kind_name(c->kind));
	return 0;
}

int conn_accept(struct devsim *ds, uv_stream_t *server, enum conn_kind kind)
{
	struct conn *c = conn_new(ds, kind);

	if (!c)
		return -ENOMEM;
	return conn_start(c, uv_accept(server, (uv_stream_t *)&c->pipe));
}

int conn_open_fd(struct devsim *ds, int fd, enum conn_kind kind, struct conn **out)
{
	struct conn *c = conn_new(ds, kind);
	int r;

	if (!c)
		return -ENOMEM;
	r = conn_start(c, uv_pipe_open(&c->pipe, fd));
	*out = r == 0 ? c : NULL;
	return r;
}

void conn_close_phone(struct devsim *ds, struct phone *p)
{
	struct conn *c = ds->conns, *next;

	for (; c; c = next) {
		next = c->next;
		if (c->phone == p) {
			conn_close(c, "phone detached");
			c->phone = NULL;
		}
	}
}

void conn_close_all(struct devsim *ds)
{
	while (ds->conns)
		conn_close(ds->conns, "devsim stopping");
}
