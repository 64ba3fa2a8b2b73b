/* mailbox.c: bounded mutex-guarded event queue from foreign threads into the libuv loop */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "mailbox.h"

static void mailbox_async_cb(uv_async_t *h)
{
	struct mailbox *mb = h->data;
	struct mailbox_event *v;
	size_t n;
	int overflow;

	uv_mutex_lock(&mb->lock);
	v = mb->q;
	n = mb->n;
	overflow = mb->overflow;
	mb->q = mb->spare;
	mb->n = 0;
	mb->overflow = 0;
	uv_mutex_unlock(&mb->lock);
	mb->spare = v;
	if (n || overflow)
		mb->drain_cb(mb, v, n, overflow);
}

int mailbox_init(struct mailbox *mb, uv_loop_t *loop, size_t cap, mailbox_drain_cb drain_cb)
{
	int r;

	memset(mb, 0, sizeof(*mb));
	mb->cap = cap ? cap : 1;
	mb->drain_cb = drain_cb;
	mb->q = calloc(mb->cap, sizeof(*mb->q));
	mb->spare = calloc(mb->cap, sizeof(*mb->spare));
	if (!mb->q || !mb->spare) {
		r = -ENOMEM;
		goto fail;
	}
	r = uv_mutex_init(&mb->lock);
	if (r < 0)
		goto fail;
	r = uv_async_init(loop, &mb->async, mailbox_async_cb);
	if (r < 0) {
		uv_mutex_destroy(&mb->lock);
		goto fail;
	}
	mb->async.data = mb;
	return 0;
fail:
	free(mb->q);
	free(mb->spare);
	mb->q = mb->spare = NULL;
	return r;
}

void mailbox_post(struct mailbox *mb, const struct mailbox_event *ev)
{
	uv_mutex_lock(&mb->lock);
	if (mb->n < mb->cap)
		mb->q[mb->n++] = *ev;
	else
		mb->overflow = 1;
	uv_mutex_unlock(&mb->lock);
	/* outside the lock: the loop may be draining right now */
	uv_async_send(&mb->async);
}

static void mailbox_closed_cb(uv_handle_t *h)
{
	struct mailbox *mb = h->data;

	uv_mutex_destroy(&mb->lock);
	free(mb->q);
	free(mb->spare);
	mb->q = mb->spare = NULL;
	if (mb->close_cb)
		mb->close_cb(mb);
}

void mailbox_close(struct mailbox *mb, void (*close_cb)(struct mailbox *mb))
{
	mb->close_cb = close_cb;
	uv_close((uv_handle_t *)&mb->async, mailbox_closed_cb);
}
