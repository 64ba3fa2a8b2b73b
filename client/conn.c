/* conn.c: jetsamctl's blocking connection to the jetsamd socket: connect, hello, lines */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "conn.h"

void conn_explain_error(char *buf, size_t size, int err, const char *path)
{
	if (err < 0)
		err = -err;
	switch (err) {
	case ENOENT:
	case ECONNREFUSED:
		snprintf(buf, size,
			 "jetsamd is not running: cannot connect to '%s' (start it with "
			 "`systemctl start jetsamd.socket` or run `jetsamd`)",
			 path);
		break;
	case EACCES:
	case EPERM:
		snprintf(buf, size,
			 "permission denied on '%s': add yourself to group 'jetsamd' "
			 "(`sudo usermod -aG jetsamd $USER`, then log in again)",
			 path);
		break;
	case ENAMETOOLONG:
		snprintf(buf, size, "socket path too long: '%s' (at most %zu bytes)", path,
			 sizeof(((struct sockaddr_un *)NULL)->sun_path) - 1);
		break;
	case EDESTADDRREQ:
		snprintf(buf, size, "no socket path given (use --socket PATH or $JETSAMD_SOCKET)");
		break;
	case ENOTDIR:
		snprintf(buf, size,
			 "cannot connect to '%s': a component of the path is not a "
			 "directory",
			 path);
		break;
	case ENOTSOCK:
		snprintf(buf, size,
			 "'%s' is not a socket: give jetsamd's socket with --socket PATH or "
			 "$JETSAMD_SOCKET",
			 path);
		break;
	case EPROTOTYPE:
		snprintf(buf, size, "cannot connect to '%s': not a jetsamd socket", path);
		break;
	default:
		snprintf(buf, size, "cannot connect to '%s': %s", path, strerror(err));
		break;
	}
}

const char *conn_strerror(int err)
{
	switch (err) {
	case -ECONNRESET:
	case -EPIPE:
		return "jetsamd closed the connection";
	case -ETIMEDOUT:
		return "timed out";
	case -EMSGSIZE:
		return "reply line too long";
	case -EBADMSG:
		return "reply is not a JSON object";
	default:
		return strerror(err < 0 ? -err : err);
	}
}

void conn_release(struct conn *conn)
{
	if (conn->fd >= 0)
		close(conn->fd);
	conn->fd = -1;
	free(conn->buf);
	conn->buf = NULL;
	conn->len = conn->off = conn->cap = 0;
}

static int conn_connect(struct conn *conn, const char *path)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	size_t n = strlen(path);
	int fd;

	if (n == 0)
		return -EDESTADDRREQ;
	if (n >= sizeof(addr.sun_path))
		return -ENAMETOOLONG;
	memcpy(addr.sun_path, path, n + 1);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&addr, sizeof(addr)) < 0) {
		int err = -errno;
		struct stat st;

		close(fd);
		/* Linux refuses a connection to a file that is not a socket like one nobody
		 * listens on: tell them apart */
		if (err == -ECONNREFUSED && stat(path, &st) == 0 && !S_ISSOCK(st.st_mode))
			err = -ENOTSOCK;
		return err;
	}
	conn->fd = fd;
	return 0;
}

int conn_send_raw(struct conn *conn, const void *data, size_t size)
{
	const char *p = data;

	while (size > 0) {
		ssize_t n = send(conn->fd, p, size, MSG_NOSIGNAL);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		size -= (size_t)n;
	}
	return 0;
}

int conn_send(struct conn *conn, cJSON *req, long *id_out)
{
	long id = conn->next_id++;
	char *text, *line;
	size_t len;
	int r;

	cJSON_DeleteItemFromObjectCaseSensitive(req, "id");
	if (cJSON_AddNumberToObject(req, "id", (double)id) == NULL)
		return -ENOMEM;
	text = cJSON_PrintUnformatted(req);
	if (text == NULL)
		return -ENOMEM;
	len = strlen(text);
	line = malloc(len + 1);
	if (line == NULL) {
		cJSON_free(text);
		return -ENOMEM;
	}
	/* one write for the whole line */
	memcpy(line, text, len);
	line[len] = '\n';
	r = conn_send_raw(conn, line, len + 1);
	free(line);
	cJSON_free(text);
	if (r == 0 && id_out != NULL)
		*id_out = id;
	return r;
}

/* Milliseconds on the monotonic clock */
static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Read more bytes into the buffer; 0, -ETIMEDOUT, -ECONNRESET (EOF), -EMSGSIZE or -errno */
static int conn_fill(struct conn *conn, long long deadline)
{
	ssize_t n;

	if (conn->off > 0) {
		memmove(conn->buf, conn->buf + conn->off, conn->len - conn->off);
		conn->len -= conn->off;
		conn->off = 0;
	}
	if (conn->cap - conn->len < 4096) {
		size_t cap = conn->cap ? conn->cap * 2 : 65536;
		char *b;

		if (conn->len >= CONN_MAX_LINE)
			return -EMSGSIZE;
		b = realloc(conn->buf, cap);
		if (b == NULL)
			return -ENOMEM;
		conn->buf = b;
		conn->cap = cap;
	}
	for (;;) {
		if (deadline >= 0) {
			struct pollfd pfd = {.fd = conn->fd, .events = POLLIN};
			long long left = deadline - now_ms();
			int r;

			if (left <= 0)
				return -ETIMEDOUT;
			r = poll(&pfd, 1, left > 60000 ? 60000 : (int)left);
			if (r < 0 && errno != EINTR)
				return -errno;
			if (r <= 0)
				continue;
		}
		n = recv(conn->fd, conn->buf + conn->len, conn->cap - conn->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return errno == ECONNRESET ? -ECONNRESET : -errno;
		if (n == 0)
			return -ECONNRESET;
		conn->len += (size_t)n;
		return 0;
	}
}

int conn_read(struct conn *conn, cJSON **out, int timeout_ms)
{
	long long deadline = timeout_ms < 0 ? -1 : now_ms() + timeout_ms;
	size_t scanned = 0;
	char *nl;
	int r;

	*out = NULL;
	for (;;) {
		nl = conn->len > conn->off + scanned ? memchr(conn->buf + conn->off + scanned, '\n',
							      conn->len - conn->off - scanned)
						     : NULL;
		if (nl != NULL)
			break;
		scanned = conn->len - conn->off;
		r = conn_fill(conn, deadline);
		if (r < 0)
			return r;
	}
	{
		char *line = conn->buf + conn->off;
		size_t n = (size_t)(nl - line);
		cJSON *json = cJSON_ParseWithLength(line, n);

		conn->off += n + 1;
		if (json == NULL || !cJSON_IsObject(json)) {
			cJSON_Delete(json);
			return -EBADMSG;
		}
		*out = json;
	}
	return 0;
}

/* Keep the error of a failed reply in conn; returns CONN_E_DAEMON */
static int conn_set_error(struct conn *conn, const cJSON *reply)
{
	const cJSON *err = cJSON_GetObjectItemCaseSensitive(reply, "error");
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(err, "code");
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(err, "message");

	snprintf(conn->err_code, sizeof(conn->err_code), "%s",
		 cJSON_IsString(code) ? code->valuestring : "unknown");
	snprintf(conn->err_message, sizeof(conn->err_message), "%s",
		 cJSON_IsString(msg) ? msg->valuestring : "(no message)");
	return CONN_E_DAEMON;
}

int conn_call(struct conn *conn, cJSON *req, cJSON **result)
{
	long id;
	int r;

	*result = NULL;
	r = conn_send(conn, req, &id);
	if (r < 0)
		return r;
	for (;;) {
		const cJSON *rid, *ok;
		cJSON *reply;

		r = conn_read(conn, &reply, -1);
		if (r < 0)
			return r;
		rid = cJSON_GetObjectItemCaseSensitive(reply, "id");
		ok = cJSON_GetObjectItemCaseSensitive(reply, "ok");
		if (cJSON_IsNumber(rid) && (long)rid->valuedouble == id) {
			if (!cJSON_IsTrue(ok)) {
				r = conn_set_error(conn, reply);
				cJSON_Delete(reply);
				return r;
			}
			*result = cJSON_DetachItemFromObjectCaseSensitive(reply, "result");
			cJSON_Delete(reply);
			return *result != NULL ? 0 : -EBADMSG;
		}
		/* A framing error (too_large) may be answered without our id */
		if ((rid == NULL || cJSON_IsNull(rid)) && cJSON_IsFalse(ok)) {
			r = conn_set_error(conn, reply);
			cJSON_Delete(reply);
			return r;
		}
		/* Pushed lines (subscribers) and replies to other requests are skipped */
		cJSON_Delete(reply);
	}
}

int conn_command(struct conn *conn, const char *cmd, cJSON *req, cJSON **result)
{
	int r = conn_call(conn, req, result);

	if (r == 0)
		return CTL_EXIT_OK;
	/* like permission denied on the socket: exit status 1, with what to do */
	if (r == CONN_E_DAEMON && strcmp(conn->err_code, PROTO_E_PERMISSION_DENIED) == 0)
		ctl_error("%s failed: permission denied: %s is for root and the members of "
			  "jetsamd's admin_group (jetsamd.conf(5)); ask an administrator, or use "
			  "sudo",
			  cmd, cmd);
	else if (r == CONN_E_DAEMON)
		ctl_error("%s failed: %s (%s)", cmd, conn->err_message, conn->err_code);
	else
		ctl_error("%s failed: %s", cmd, conn_strerror(r));
	return CTL_EXIT_ERROR;
}

/* Say why a connection failed, unless quiet */
#define CONN_SAY(quiet, ...)                                                                       \
	do {                                                                                       \
		if (!(quiet))                                                                      \
			ctl_error(__VA_ARGS__);                                                    \
	} while (0)

int conn_open(struct conn *conn, const char *path)
{
	return conn_open_quiet(conn, path, 0);
}

/* Send hello with version; 0 with the result in *result, or conn_call's error */
static int conn_hello(struct conn *conn, int version, cJSON **result)
{
	cJSON *req = cJSON_CreateObject();
	int r;

	*result = NULL;
	if (req == NULL || cJSON_AddStringToObject(req, "cmd", "hello") == NULL ||
	    cJSON_AddNumberToObject(req, "version", version) == NULL ||
	    cJSON_AddStringToObject(req, "client", "jetsamctl " JETSAMD_VERSION) == NULL) {
		cJSON_Delete(req);
		return -ENOMEM;
	}
	r = conn_call(conn, req, result);
	cJSON_Delete(req);
	return r;
}

/* Connect to path and say hello with version: 0, CONN_E_DAEMON or -errno (printed unless the
 * daemon refused the version, which the caller may retry with an older one) */
static int conn_start(struct conn *conn, const char *path, int version, int quiet, cJSON **result)
{
	char msg[1024];
	int r;

	*result = NULL;
	conn_release(conn);
	conn->next_id = 1;
	r = conn_connect(conn, path);
	if (r < 0) {
		conn_explain_error(msg, sizeof(msg), r, path);
		CONN_SAY(quiet, "%s", msg);
		return r;
	}
	r = conn_hello(conn, version, result);
	if (r == CONN_E_DAEMON && strcmp(conn->err_code, PROTO_E_VERSION) != 0)
		CONN_SAY(quiet, "hello to '%s' failed: %s (%s)", path, conn->err_message,
			 conn->err_code);
	else if (r < 0)
		CONN_SAY(quiet, "hello to '%s' failed: %s", path, conn_strerror(r));
	return r;
}

int conn_open_quiet(struct conn *conn, const char *path, int quiet)
{
	cJSON *result = NULL;
	const cJSON *version;
	int r, v = PROTO_VERSION;

	memset(conn, 0, sizeof(*conn));
	conn->fd = -1;
	conn->path = path;
	r = conn_start(conn, path, v, quiet, &result);
	/* an older daemon refuses our version: speak its own when we still can */
	while (r == CONN_E_DAEMON && strcmp(conn->err_code, PROTO_E_VERSION) == 0 &&
	       v > CONN_VERSION_MIN) {
		v--;
		r = conn_start(conn, path, v, quiet, &result);
	}
	if (r == CONN_E_DAEMON && strcmp(conn->err_code, PROTO_E_VERSION) == 0)
		CONN_SAY(quiet,
			 "protocol version mismatch: jetsamctl %s speaks version %d, the "
			 "daemon on '%s' refused it: %s",
			 JETSAMD_VERSION, PROTO_VERSION, path, conn->err_message);
	if (r != 0) {
		conn_release(conn);
		return CTL_EXIT_ERROR;
	}
	version = cJSON_GetObjectItemCaseSensitive(result, "version");
	/* the daemon answers with the version it speaks with us */
	if (!cJSON_IsNumber(version) || version->valuedouble < CONN_VERSION_MIN ||
	    version->valuedouble > PROTO_VERSION) {
		const cJSON *daemon = cJSON_GetObjectItemCaseSensitive(result, "daemon");

		CONN_SAY(quiet,
			 "protocol version mismatch: jetsamctl %s speaks version %d, %s on '%s' "
			 "speaks version %g (use the jetsamctl that came with it)",
			 JETSAMD_VERSION, PROTO_VERSION,
			 cJSON_IsString(daemon) ? daemon->valuestring : "the daemon", path,
			 cJSON_IsNumber(version) ? version->valuedouble : 0.0);
		cJSON_Delete(result);
		conn_release(conn);
		return CTL_EXIT_ERROR;
	}
	conn->version = version->valueint < v ? version->valueint : v;
	cJSON_Delete(result);
	return CTL_EXIT_OK;
}
