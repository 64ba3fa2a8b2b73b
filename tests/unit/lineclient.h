/* lineclient.h: a blocking Unix-socket client for the loop tests (runs on its own thread) */
#ifndef JETSAMD_TESTS_LINECLIENT_H
#define JETSAMD_TESTS_LINECLIENT_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include <cjson/cJSON.h>

/*
 * The daemon side runs on the test's libuv loop; the client side runs these blocking calls
 * on a second thread (uv_thread_create), so a test reads like a protocol transcript.
 */
struct lineclient {
	int fd;
	char buf[1 << 17];
	size_t len;
};

/* Connect to path; replies must come within 10 s. Returns 0 or -errno. */
static inline int lineclient_open(struct lineclient *lc, const char *path)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	struct timeval tv = {.tv_sec = 10};

	lc->len = 0;
	lc->fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	memcpy(sa.sun_path, path, strlen(path) + 1);
	lc->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (lc->fd < 0)
		return -errno;
	setsockopt(lc->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(lc->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		int r = -errno;

		close(lc->fd);
		lc->fd = -1;
		return r;
	}
	return 0;
}

static inline void lineclient_close(struct lineclient *lc)
{
	if (lc->fd >= 0)
		close(lc->fd);
	lc->fd = -1;
}

/* Write all of data. Returns 0 or -errno. */
static inline int lineclient_write(struct lineclient *lc, const void *data, size_t len)
{
	const char *p = data;

	while (len > 0) {
		ssize_t n = send(lc->fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static inline int lineclient_send(struct lineclient *lc, const char *line)
{
	int r = lineclient_write(lc, line, strlen(line));

	return r < 0 ? r : lineclient_write(lc, "\n", 1);
}

/* The next line, parsed (cJSON_Delete it); NULL on EOF, timeout or bad JSON. */
static inline cJSON *lineclient_recv(struct lineclient *lc)
{
	for (;;) {
		char *nl = memchr(lc->buf, '\n', lc->len);
		ssize_t n;

		if (nl != NULL) {
			cJSON *o;

			*nl = '\0';
			o = cJSON_Parse(lc->buf);
			lc->len -= (size_t)(nl + 1 - lc->buf);
			memmove(lc->buf, nl + 1, lc->len);
			return o;
		}
		if (lc->len == sizeof(lc->buf))
			return NULL;
		n = recv(lc->fd, lc->buf + lc->len, sizeof(lc->buf) - lc->len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return NULL;
		lc->len += (size_t)n;
	}
}

/* 1 when the server closed the connection (EOF or reset) with nothing left to read. */
static inline int lineclient_eof(struct lineclient *lc)
{
	char c;
	ssize_t n;

	if (lc->len > 0)
		return 0;
	do
		n = recv(lc->fd, &c, 1, 0);
	while (n < 0 && errno == EINTR);
	return n == 0 || (n < 0 && errno == ECONNRESET);
}

/* Send a request line and return the parsed reply (cJSON_Delete it). */
static inline cJSON *lineclient_call(struct lineclient *lc, const char *line)
{
	return lineclient_send(lc, line) < 0 ? NULL : lineclient_recv(lc);
}

/* The string at obj.key (one level), or NULL. */
static inline const char *lineclient_str(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* The number at obj.key, or -1. */
static inline double lineclient_num(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(v) ? v->valuedouble : -1;
}

#endif
