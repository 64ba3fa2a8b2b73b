/* ipc.h: the Unix socket server: listener, clients, bounded line framing and output queues */
#ifndef JETSAMD_IPC_H
#define JETSAMD_IPC_H

#include <stddef.h>

#include <cjson/cJSON.h>
#include <uv.h>

struct config;
struct ipc;
struct ipc_client;

/*
 * DESIGN
 * Each client reads JSON lines through a linebuf (65536 bytes per line with its newline)
 * and hands each to ops->request_cb (the hub passes it to the api). Requests are answered in
 * order: while a request is pending (an import being archived, a waited sync, a reparse) the
 * client is "busy" and reading stops until the owner calls ipc_client_resume(). After an
 * import header the owner calls ipc_client_expect_raw() and the next N bytes go to a raw
 * buffer, then to ops->raw_cb. ipc knows nothing above it: it reports through struct ipc_ops.
 * Output (ipc_out.c): a queue of lines per client, written straight while the socket takes
 * them, then one slice at a time through uv_write, so a closed client's queue is freed at
 * once. When a client's queue passes client_queue_max (and a previous reply had not
 * drained yet) the client is disconnected.
 * Limits (ipc_sock.c reads the peer's uid with SO_PEERCRED at accept): max_clients and
 * max_clients_per_uid; at a limit the client (of that uid) inactive longest that is idle,
 * stalled or not reading is closed to make room (ipc_limits.c), and when there is none the
 * new one gets one too_many_clients line and is closed.
 * A sweep timer closes idle clients (client_idle_timeout; a subscriber is never idle) and
 * clients whose partial request line (request_timeout) or import bytes (import_timeout)
 * do not arrive in time, after a timeout error line. All queued reply bytes share one
 * budget, reply_buffer_max: a reply that would pass it first disconnects the clients that
 * hold the most unread bytes; a reply larger than the whole budget becomes a too_large
 * error. Every line sent is valid UTF-8 (invalid bytes become U+FFFD).
 * Clients are reference counted so that pending jobs can outlive the connection.
 */

#define IPC_MAX_LINE 65536

enum ipc_topic {
	IPC_TOPIC_EVENTS = 1,
	IPC_TOPIC_DEVICES = 2,
};

enum ipc_outcome {
	IPC_DONE,    /* answered; the next request may be read */
	IPC_PENDING, /* the reply comes later: the owner calls ipc_client_resume() */
};

/* Upward calls, on the loop; arg is the one given to ipc_new(). */
struct ipc_ops {
	/* One request line (NUL-terminated at line[len]). */
	enum ipc_outcome (*request_cb)(void *arg, struct ipc_client *c, const char *line,
				       size_t len);
	/* The raw bytes announced by ipc_client_expect_raw() (buf is malloc'ed, handed over). */
	enum ipc_outcome (*raw_cb)(void *arg, struct ipc_client *c, void *buf, size_t len);
	/* The client is closing: cancel what waits for it and free its slot. */
	void (*gone_cb)(void *arg, struct ipc_client *c);
	/* The number of clients changed (may be NULL). */
	void (*clients_cb)(void *arg);
	/* A subscription may have changed: topics is ipc_topics() now (may be NULL). */
	void (*topics_cb)(void *arg, unsigned topics);
};

/*
 * Listen on fd (socket activation) when fd >= 0, else create cfg->socket. cfg (socket, the
 * client limits, admin_group) is read when needed: the owner may replace it in place.
 * Raises RLIMIT_NOFILE's soft limit to the hard limit.
 */
int ipc_new(uv_loop_t *loop, const struct config *cfg, int fd, const struct ipc_ops *ops, void *arg,
	    struct ipc **out);
/* Stop accepting, flush and close every client (bounded by a timer); done_cb when closed. */
void ipc_stop(struct ipc *ipc, void (*done_cb)(void *arg), void *arg);
void ipc_free(struct ipc *ipc); /* after done_cb; NULL is a no-op */
unsigned ipc_client_count(const struct ipc *ipc);
/* The topics (enum ipc_topic bits) at least one open client is subscribed to. */
unsigned ipc_topics(const struct ipc *ipc);
/* Send msg (not consumed) to every open client subscribed to topic. */
void ipc_broadcast(struct ipc *ipc, unsigned topic, const cJSON *msg);

/* Queue msg (not consumed) as one line. Returns 0, or -EPIPE when the client is gone. */
int ipc_client_send(struct ipc_client *c, const cJSON *msg);
/*
 * msg as one line of valid UTF-8, without the newline (cJSON prints string bytes as given;
 * invalid sequences are repaired); *len its length. malloc'ed; NULL when out of memory.
 * Pure: any thread may encode a large reply, so the loop only queues its bytes.
 */
char *ipc_encode(const cJSON *msg, size_t *len);
/*
 * Queue text from ipc_encode() (taken over) as one line; a line over reply_buffer_max is
 * answered with a too_large error carrying id instead. 0, or -EPIPE when the client is gone.
 */
int ipc_client_send_line(struct ipc_client *c, char *text, size_t len, const cJSON *id);
/* The pending request is answered: go on with the next buffered request. */
void ipc_client_resume(struct ipc_client *c);
/* After the queued replies are written, close (framing is lost). */
void ipc_client_close_after_flush(struct ipc_client *c);
/* The next n bytes of input are raw; ops->raw_cb receives them. */
void ipc_client_expect_raw(struct ipc_client *c, size_t n);
int ipc_client_is_open(const struct ipc_client *c);
/* The peer (SO_PEERCRED at accept) is root, the daemon's uid or in admin_group. */
int ipc_client_is_admin(const struct ipc_client *c);
void ipc_client_set_topics(struct ipc_client *c, unsigned topics);
/* A slot for the owner's per-client state (freed by the owner in gone_cb). */
void **ipc_client_slot(struct ipc_client *c);
struct ipc_client *ipc_client_ref(struct ipc_client *c);
void ipc_client_unref(struct ipc_client *c);

#endif
