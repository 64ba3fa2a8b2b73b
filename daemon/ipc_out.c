/* ipc_out.c: the output side of ipc clients: reply queues, one slice in libuv, UTF-8 lines */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "../proto/protocol.h"
#include "../proto/sanitize.h"
#include "config.h"
#include "ipc.h"
#include "ipc_internal.h"
#include "log.h"

/* a slice of the head reply handed to libuv when the socket is full (memory of its own) */
struct write_req {
	uv_write_t req;
	size_t len;
	char data[];
};

/* what libuv may hold per client beyond the queue: one slice */
#define IPC_SLICE 16384

/* Free the replies not yet written (the slice in flight stays libuv's until write_cb). */
void ipc_out_drop(struct ipc_client *c)
{
	while (c->out_head) {
		struct ipc_out *o = c->out_head;

		c->out_head = o->next;
		c->queued -= o->len - o->off;
		c->ipc->queued -= o->len - o->off;
		free(o->text);
		free(o);
	}
	c->out_tail = NULL;
}

/* n bytes of the head reply are written */
static void advance(struct ipc_client *c, size_t n)
{
	struct ipc_out *o = c->out_head;

	o->off += n;
	c->queued -= n;
	c->ipc->queued -= n;
	if (o->off == o->len) {
		c->out_head = o->next;
		if (c->out_head == NULL)
			c->out_tail = NULL;
		free(o->text);
		free(o);
	}
}

static void write_cb(uv_write_t *req, int status)
{
	struct write_req *w = (struct write_req *)req;
	struct ipc_client *c = req->data;

	c->inflight = 0;
	if (c->state != CLIENT_CLOSED) {
		if (status < 0) {
			log_info("ipc", "client %u: write failed: %s: closing", c->id,
				 uv_strerror(status));
			ipc_client_close_now(c);
		} else {
			advance(c, w->len);
			c->active_ms = uv_now(c->pipe.loop);
			ipc_out_pump(c);
		}
	}
	free(w);
	ipc_client_unref(c);
}

/* The unwritten bytes of o as buffers: the rest of its text, then its newline. */
static unsigned out_bufs(const struct ipc_out *o, uv_buf_t b[2])
{
	static char nl[] = "\n";
	size_t text_len = o->len - 1;

	if (o->off >= text_len) {
		b[0] = uv_buf_init(nl, 1);
		return 1;
	}
	b[0] = uv_buf_init(o->text + o->off, (unsigned)(text_len - o->off));
	b[1] = uv_buf_init(nl, 1);
	return 2;
}

/*
 * Write the queue: straight from the replies while the socket takes them, then one slice
 * copy through uv_write when it is full (its callback goes on). So libuv never holds more
 * than IPC_SLICE bytes of a client, and the queue can be freed at once.
 */
void ipc_out_pump(struct ipc_client *c)
{
	while (c->out_head && !c->inflight && c->state != CLIENT_CLOSED) {
		struct ipc_out *o = c->out_head;
		size_t n = o->len - o->off;
		uv_buf_t bufs[2], buf;
		unsigned nb = out_bufs(o, bufs);
		struct write_req *w;
		int r = uv_try_write((uv_stream_t *)&c->pipe, bufs, nb);

		if (r > 0) {
			advance(c, (size_t)r);
			continue;
		}
		if (r != UV_EAGAIN && r != 0) {
			log_info("ipc", "client %u: write failed: %s: closing", c->id,
				 uv_strerror(r));
			ipc_client_close_now(c);
			return;
		}
		n = n < IPC_SLICE ? n : IPC_SLICE;
		w = malloc(sizeof(*w) + n);
		if (w == NULL) {
			log_err("ipc", "client %u: out of memory for a reply: closing", c->id);
			ipc_client_close_now(c);
			return;
		}
		memcpy(w->data, bufs[0].base, n < bufs[0].len ? n : bufs[0].len);
		if (n > bufs[0].len)
			w->data[n - 1] = '\n'; /* the slice ends with the line */
		w->len = n;
		w->req.data = ipc_client_ref(c);
		buf = uv_buf_init(w->data, (unsigned)n);
		r = uv_write(&w->req, (uv_stream_t *)&c->pipe, &buf, 1, write_cb);
		if (r < 0) {
			free(w);
			ipc_client_unref(c);
			log_info("ipc", "client %u: write failed: %s: closing", c->id,
				 uv_strerror(r));
			ipc_client_close_now(c);
			return;
		}
		c->inflight = 1;
	}
	ipc_client_written(c);
}

/* Queue text (malloc'ed, len bytes without the newline; taken over) as one line. */
static int client_write(struct ipc_client *c, char *text, size_t len)
{
	size_t before = c->queued;
	struct ipc_out *o;
	int r;

	if (c->state == CLIENT_CLOSED || c->state == CLIENT_DRAINING) {
		free(text);
		return -EPIPE;
	}
	r = ipc_limits_make_room(c->ipc, c, len + 1);
	if (r < 0) {
		free(text);
		return r;
	}
	o = malloc(sizeof(*o));
	if (o == NULL) {
		free(text);
		log_err("ipc", "client %u: out of memory for a reply: closing", c->id);
		ipc_client_close_now(c);
		return -ENOMEM;
	}
	o->text = text; /* not copied: a large reply is in memory once */
	o->len = len + 1;
	o->off = 0;
	o->next = NULL;
	if (c->out_tail)
		c->out_tail->next = o;
	else
		c->out_head = o;
	c->out_tail = o;
	c->queued += o->len;
	c->ipc->queued += o->len;
	ipc_out_pump(c);
	/* one reply may be larger than the cap; a backlog that keeps growing is not allowed */
	if (c->state != CLIENT_CLOSED && before > 0 && c->queued > c->ipc->cfg->client_queue_max) {
		log_warn("ipc",
			 "client %u: more than %zu bytes queued (it does not read): "
			 "disconnecting",
			 c->id, c->ipc->cfg->client_queue_max);
		ipc_client_close_now(c);
		return -EPIPE;
	}
	return c->state == CLIENT_CLOSED ? -EPIPE : 0;
}

/* jetsamd installs no cJSON hooks, so cJSON's text is malloc'ed: free() frees it. */
char *ipc_encode(const cJSON *msg, size_t *len)
{
	char *text = cJSON_PrintUnformatted(msg), *fixed;

	if (text == NULL)
		return NULL;
	*len = strlen(text);
	if (sanitize_utf8_valid(text, *len))
		return text;
	fixed = sanitize_utf8_repair(text, *len, len);
	cJSON_free(text);
	return fixed;
}

/* A reply larger than the whole budget is not sent: an error in its place. */
static void reply_too_big(struct ipc_client *c, const cJSON *id, size_t len)
{
	char text[160];

	log_warn("ipc", "client %u: a reply of %zu bytes is over reply_buffer_max (%zu): refused",
		 c->id, len, c->ipc->cfg->reply_buffer_max);
	snprintf(text, sizeof(text),
		 "the reply (%zu bytes) is larger than reply_buffer_max (%zu): ask for less", len,
		 c->ipc->cfg->reply_buffer_max);
	ipc_client_error(c, id, PROTO_E_TOO_LARGE, text);
}

int ipc_client_send_line(struct ipc_client *c, char *text, size_t len, const cJSON *id)
{
	int r = client_write(c, text, len);

	if (r == -E2BIG)
		reply_too_big(c, id, len);
	return r == -E2BIG ? 0 : r;
}

int ipc_client_send(struct ipc_client *c, const cJSON *msg)
{
	size_t len = 0;
	char *text = ipc_encode(msg, &len);

	if (text == NULL) {
		log_err("ipc", "client %u: cannot encode a reply: out of memory", c->id);
		return -ENOMEM;
	}
	return ipc_client_send_line(c, text, len, cJSON_GetObjectItemCaseSensitive(msg, "id"));
}

void ipc_broadcast(struct ipc *ipc, unsigned topic, const cJSON *msg)
{
	char *text = NULL;
	size_t len = 0;

	if (ipc == NULL)
		return;
	for (struct ipc_client *c = ipc->clients, *next; c; c = next) {
		char *copy;

		next = c->next;
		if (!(c->topics & topic) || !ipc_client_is_open(c))
			continue;
		if (text == NULL) {
			text = ipc_encode(msg, &len);
			if (text == NULL)
				return;
		}
		copy = malloc(len + 1);
		if (copy == NULL) {
			log_err("ipc", "client %u: out of memory for a push", c->id);
			continue;
		}
		memcpy(copy, text, len + 1);
		client_write(c, copy, len);
	}
	free(text);
}

void ipc_client_error(struct ipc_client *c, const cJSON *id, const char *code, const char *msg)
{
	cJSON *o = cJSON_CreateObject(), *e = cJSON_CreateObject();

	if (o && id)
		cJSON_AddItemToObject(o, "id", cJSON_Duplicate(id, 1));
	if (o && e && cJSON_AddBoolToObject(o, "ok", 0) &&
	    cJSON_AddStringToObject(e, "code", code) &&
	    cJSON_AddStringToObject(e, "message", msg)) {
		cJSON_AddItemToObject(o, "error", e);
		e = NULL;
		ipc_client_send(c, o);
	}
	cJSON_Delete(e);
	cJSON_Delete(o);
}
