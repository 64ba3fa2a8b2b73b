/* ipc_internal.h: what ipc.c and ipc_limits.c share: the client and server structs */
#ifndef JETSAMD_IPC_INTERNAL_H
#define JETSAMD_IPC_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>
#include <uv.h>

#include "../proto/linebuf.h"
#include "ipc.h"
#include "ipc_sock.h"

/* how often idle clients and the deadlines of partial requests and imports are checked */
#define IPC_SWEEP_MS 500

enum client_state {
	CLIENT_READING,	 /* framing lines */
	CLIENT_RAW,	 /* collecting the bytes of an import */
	CLIENT_BUSY,	 /* a request is pending; reading is stopped */
	CLIENT_DRAINING, /* input is discarded; close after the replies are written and EOF */
	CLIENT_CLOSED,
};

/* one queued reply line */
struct ipc_out {
	struct ipc_out *next;
	char *text;	 /* the line without its newline (malloc'ed) */
	size_t len, off; /* len: with the newline; off: bytes already written */
};

struct ipc_client {
	uv_pipe_t pipe;
	struct ipc *ipc;
	struct ipc_client *next, *prev;
	enum client_state state;
	enum client_state after_busy; /* the state resume returns to */
	struct linebuf lb;
	char *raw;
	size_t raw_len, raw_want, raw_cap;
	unsigned topics;
	unsigned refs;
	unsigned id;
	int reading;
	int eof;	  /* the client's end is closed (EOF or read error) */
	int shut_done;	  /* the replies are flushed and our end is shut down */
	int open_handles; /* pipe and linger timer; the client is gone when both are closed */
	void *slot;	  /* the owner's per-client state */
	uv_shutdown_t shutdown;
	uv_timer_t linger;
	struct ipc_peer peer;
	uint64_t active_ms; /* last input, or last reply written: idle since */
	uint64_t input_ms;  /* a partial request line or an import's bytes began */
	size_t queued;	    /* bytes of replies not yet written (in ipc->queued too) */
	struct ipc_out *out_head, *out_tail; /* replies not yet written, in order */
	int inflight;			     /* a slice is in uv_write */
	int want_shutdown;		     /* draining: shut our end down when written */
};

struct ipc {
	const struct config *cfg; /* the owner's, replaced in place on reload */
	const struct ipc_ops *ops;
	void *arg;
	uv_pipe_t server;
	uv_timer_t stop_timer;
	uv_timer_t sweep; /* idle clients, request and import deadlines */
	struct ipc_client *clients;
	unsigned n_clients;
	unsigned next_id;
	int activated;
	int lock_fd;
	char *path;
	int stopping;
	int server_closed, timer_closing, timers_closed;
	size_t queued; /* reply bytes held for all clients (reply_buffer_max) */
	void (*done_cb)(void *arg);
	void *done_arg;
};

/* ipc.c */
void ipc_client_close_now(struct ipc_client *c);
/* The queue is written: a draining client's end is shut down now. */
void ipc_client_written(struct ipc_client *c);
/* One {"id"?, "ok": false, "error": {code, message}} line. */
void ipc_client_error(struct ipc_client *c, const cJSON *id, const char *code, const char *msg);

/* ipc_out.c */
/* Write what the socket takes now; the rest follows from write callbacks. */
void ipc_out_pump(struct ipc_client *c);
/* Free the queued replies at once (closing). */
void ipc_out_drop(struct ipc_client *c);

/* ipc_limits.c */
/* Room in reply_buffer_max for need more bytes: 0, -EPIPE (c was closed) or -E2BIG. */
int ipc_limits_make_room(struct ipc *ipc, struct ipc_client *c, size_t need);
/* A new client c within max_clients and max_clients_per_uid: 0, or -EMFILE (refused). */
int ipc_limits_admit(struct ipc *ipc, struct ipc_client *c);
/* The sweep timer: idle clients, request_timeout, import_timeout. */
void ipc_limits_sweep_cb(uv_timer_t *t);

#endif
