/* metrics_http.h: the request head parser of the metrics HTTP server (pure, untrusted input) */
#ifndef JETSAMD_METRICS_HTTP_H
#define JETSAMD_METRICS_HTTP_H

#include <stddef.h>

/* The server's limit for a request head (431 past it). */
#define METRICS_HTTP_HEAD_MAX 8192

enum metrics_http_method { METRICS_HTTP_GET, METRICS_HTTP_HEAD, METRICS_HTTP_OTHER };

struct metrics_http_req {
	enum metrics_http_method method;
	int metrics;   /* the path (before any '?') is /metrics */
	int minor;     /* HTTP/1.minor */
	size_t length; /* bytes of the head, up to and including its empty line */
};

/*
 * Read an HTTP/1.x request head (request line, header lines, empty line; CRLF or LF) from
 * the len bytes of buf, which need not be NUL-terminated. Returns 1 when the head is
 * complete (req filled), 0 when more bytes are needed, -EBADMSG when it cannot be a valid
 * request head (a bad method, target, version or header line, a control byte). The caller
 * bounds len (the request size limit); nothing here allocates.
 */
int metrics_http_parse(const char *buf, size_t len, struct metrics_http_req *req);

#endif
