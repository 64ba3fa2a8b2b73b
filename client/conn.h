/* conn.h: jetsamctl's blocking connection to the jetsamd socket (JSON lines, protocol 1 or 2) */
#ifndef JETSAMCTL_CONN_H
#define JETSAMCTL_CONN_H

#include <stddef.h>

#include <cjson/cJSON.h>

#include "ctl.h"
#include "protocol.h"

/* Longest reply line accepted (replies have no protocol limit; 100000 events fit easily) */
#define CONN_MAX_LINE (512u * 1024u * 1024u)

/* Positive results of conn_call(), besides 0 */
enum {
	CONN_E_DAEMON = 1, /* the daemon answered ok:false: see conn.err_code, conn.err_message */
};

struct conn {
	int fd;
	const char *path; /* borrowed from struct ctl */
	char *buf;	  /* bytes read but not yet consumed: buf[off..len) */
	size_t len, off, cap;
	long next_id;
	int version; /* the protocol version the daemon answered hello with */
	char err_code[32];
	char err_message[512];
};

/*
 * Connect to the socket at path and do the hello exchange. On failure prints what to do
 * (daemon not running, permission denied, version mismatch, ...) and returns CTL_EXIT_ERROR;
 * conn is then released. Returns CTL_EXIT_OK on success.
 */
int conn_open(struct conn *conn, const char *path);
/* The oldest protocol version jetsamctl still speaks: a daemon that refuses PROTO_VERSION gets a
 * hello of this one (conn.version tells which one the daemon answered) */
#define CONN_VERSION_MIN 1

/* conn_open() that prints nothing when quiet (a watch reconnecting) */
int conn_open_quiet(struct conn *conn, const char *path, int quiet);

/* Close the socket and free the buffer (safe on a zeroed or released conn) */
void conn_release(struct conn *conn);

/*
 * Explain a connect() failure (errno value err, negative or positive) on socket path, as a
 * message telling the user what to do. Pure, for the tests.
 */
void conn_explain_error(char *buf, size_t size, int err, const char *path);

/* Send request req (an object; an "id" is added) as one line. Returns 0 or -errno. */
int conn_send(struct conn *conn, cJSON *req, long *id_out);

/* Send raw bytes (the body of an import). Returns 0 or -errno. */
int conn_send_raw(struct conn *conn, const void *data, size_t size);

/*
 * Read the next line and parse it into *out (caller frees with cJSON_Delete).
 * timeout_ms < 0 waits forever. Returns 0, -ETIMEDOUT, -ECONNRESET when the daemon
 * closed the connection, -EMSGSIZE on an over-long line, -EBADMSG on a line that is not a
 * JSON object, or another -errno.
 */
int conn_read(struct conn *conn, cJSON **out, int timeout_ms);

/*
 * Send req (ownership stays with the caller) and wait for the reply with the same id, skipping
 * pushed lines. Returns 0 with *result the detached "result" object (caller frees),
 * CONN_E_DAEMON when the daemon answered an error (err_code/err_message set), or -errno.
 */
int conn_call(struct conn *conn, cJSON *req, cJSON **result);

/*
 * conn_call() for a command: prints any failure as "jetsamctl: CMD failed: ..." and returns
 * a CTL_EXIT_* code (CTL_EXIT_OK with *result set).
 */
int conn_command(struct conn *conn, const char *cmd, cJSON *req, cJSON **result);

/* Text for a negative errno returned by conn_read/conn_call */
const char *conn_strerror(int err);

#endif
