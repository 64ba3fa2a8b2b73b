/* ipc_limits.c: client limits: per uid and in total, idle clients, deadlines, the reply budget */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include <uv.h>

#include "../proto/protocol.h"
#include "config.h"
#include "ipc_internal.h"
#include "log.h"

/*
 * The global reply budget: when queuing need more bytes would pass reply_buffer_max,
 * disconnect the clients that hold the most unwritten bytes (they do not read) until it
 * fits. Returns 0 when need fits, -EPIPE when c itself was disconnected, -E2BIG when need
 * alone is larger than the budget.
 */
int ipc_limits_make_room(struct ipc *ipc, struct ipc_client *c, size_t need)
{
	size_t max = ipc->cfg->reply_buffer_max, held = ipc->queued;

	if (need > max)
		return -E2BIG;
	while (held + need > max) {
		struct ipc_client *v = NULL;

		for (struct ipc_client *o = ipc->clients; o; o = o->next)
			if (o->state != CLIENT_CLOSED && o->queued > 0 &&
			    (!v || o->queued > v->queued))
				v = o;
		if (v == NULL)
			break; /* what is held is being freed already */
		log_warn("ipc",
			 "client %u: %zu reply bytes not read while all clients hold %zu "
			 "(reply_buffer_max %zu): disconnecting",
			 v->id, v->queued, held, max);
		held -= v->queued;
		ipc_client_close_now(v);
		if (v == c)
			return -EPIPE;
	}
	return 0;
}

/* Idle: connected, not subscribed, nothing pending, partial or queued. */
static int client_idle(const struct ipc_client *c)
{
	return c->state == CLIENT_READING && c->topics == 0 && c->queued == 0 &&
	       linebuf_pending(&c->lb) == 0;
}

static void client_timeout(struct ipc_client *c, const char *what, unsigned s, const char *key)
{
	char msg[160];

	log_info("ipc", "client %u: %s not received within %us (%s): closing", c->id, what, s, key);
	snprintf(msg, sizeof(msg), "%s not received within %us (%s): closing", what, s, key);
	ipc_client_error(c, NULL, PROTO_E_TIMEOUT, msg);
	free(c->raw); /* the bytes of a half-sent import */
	c->raw = NULL;
	c->raw_len = c->raw_cap = 0;
	ipc_client_close_after_flush(c);
}

void ipc_limits_sweep_cb(uv_timer_t *t)
{
	struct ipc *ipc = t->data;
	const struct config *cfg = ipc->cfg;
	uint64_t now = uv_now(t->loop);

	for (struct ipc_client *c = ipc->clients, *next; c; c = next) {
		next = c->next;
		if (c->state == CLIENT_RAW && now - c->input_ms >= cfg->import_timeout_s * 1000ull)
			client_timeout(c, "the import's bytes", cfg->import_timeout_s,
				       "import_timeout");
		else if (c->state == CLIENT_READING && linebuf_pending(&c->lb) > 0 &&
			 now - c->input_ms >= cfg->request_timeout_s * 1000ull)
			client_timeout(c, "the rest of the request line", cfg->request_timeout_s,
				       "request_timeout");
		else if (cfg->client_idle_timeout_s > 0 && client_idle(c) &&
			 now - c->active_ms >= cfg->client_idle_timeout_s * 1000ull) {
			log_info("ipc", "client %u: idle for %us (client_idle_timeout): closing",
				 c->id, cfg->client_idle_timeout_s);
			ipc_client_close_after_flush(c);
		}
	}
}

/*
 * May o be closed to make room for a new client? Not when a request of it is pending (busy)
 * nor when it is a subscriber that reads its pushes; yes when it is idle, stalled in a
 * request line or an import, or holds replies it does not read.
 */
static int evictable(const struct ipc_client *o)
{
	if (o->state != CLIENT_READING && o->state != CLIENT_RAW)
		return 0;
	return o->topics == 0 || o->queued > 0;
}

/*
 * At max_clients (any uid) or max_clients_per_uid (c's uid): close the evictable client
 * that has been inactive longest (nothing read from it, nothing written to it) to make room,
 * at once (its queued replies and partial input are freed). Returns 0 when there is room,
 * -EMFILE when no client could be closed.
 */
static int make_client_room(struct ipc *ipc, struct ipc_client *c)
{
	unsigned total = 0, same = 0;
	struct ipc_client *any = NULL, *mine = NULL, *v;

	/* newest first: "<=" keeps the oldest of clients inactive since the same time */
	for (struct ipc_client *o = ipc->clients; o; o = o->next) {
		if (o == c || o->state == CLIENT_CLOSED || o->state == CLIENT_DRAINING)
			continue;
		total++;
		if (o->peer.uid == c->peer.uid)
			same++;
		if (!evictable(o))
			continue;
		if (!any || o->active_ms <= any->active_ms)
			any = o;
		if (o->peer.uid == c->peer.uid && (!mine || o->active_ms <= mine->active_ms))
			mine = o;
	}
	if (same >= ipc->cfg->max_clients_per_uid)
		v = mine;
	else if (total >= ipc->cfg->max_clients)
		v = any;
	else
		return 0;
	if (v == NULL)
		return -EMFILE;
	log_info("ipc",
		 "client %u: inactive for %llu ms: closed to make room for client %u (uid %u)",
		 v->id, (unsigned long long)(uv_now(c->pipe.loop) - v->active_ms), c->id,
		 (unsigned)c->peer.uid);
	if (client_idle(v))
		ipc_client_close_after_flush(v);
	else
		ipc_client_close_now(v);
	return 0;
}

static int refuse(struct ipc_client *c)
{
	const struct config *cfg = c->ipc->cfg;
	char msg[200];

	log_warn("ipc",
		 "refusing client %u (uid %u): max_clients (%u) or max_clients_per_uid (%u) "
		 "reached",
		 c->id, (unsigned)c->peer.uid, cfg->max_clients, cfg->max_clients_per_uid);
	snprintf(msg, sizeof(msg),
		 "too many clients (max_clients %u, max_clients_per_uid %u), none idle: try later",
		 cfg->max_clients, cfg->max_clients_per_uid);
	ipc_client_error(c, NULL, PROTO_E_TOO_MANY_CLIENTS, msg);
	ipc_client_close_after_flush(c);
	return -EMFILE;
}

int ipc_limits_admit(struct ipc *ipc, struct ipc_client *c)
{
	return make_client_room(ipc, c) < 0 ? refuse(c) : 0;
}
