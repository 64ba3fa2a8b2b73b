/* metrics_http.c: parses the request head of the metrics HTTP server (GET /metrics) */
#include <errno.h>
#include <string.h>

#include "metrics_http.h"

/* RFC 9110 tchar */
static int is_tchar(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

/* The line starting at p (len bytes left): its length without the line end in *n and the
 * length with it in *adv; 0 when incomplete. */
static int line_at(const char *p, size_t len, size_t *n, size_t *adv)
{
	const char *nl = memchr(p, '\n', len);

	if (nl == NULL)
		return 0;
	*adv = (size_t)(nl - p) + 1;
	*n = (size_t)(nl - p);
	if (*n > 0 && p[*n - 1] == '\r')
		(*n)--;
	return 1;
}

static int parse_request_line(const char *p, size_t n, struct metrics_http_req *req)
{
	size_t i = 0, m, t, plen = 0;

	while (i < n && is_tchar((unsigned char)p[i]))
		i++;
	if (i == 0 || i >= n || p[i] != ' ')
		return -EBADMSG;
	m = i;
	if (m == 3 && memcmp(p, "GET", 3) == 0)
		req->method = METRICS_HTTP_GET;
	else if (m == 4 && memcmp(p, "HEAD", 4) == 0)
		req->method = METRICS_HTTP_HEAD;
	else
		req->method = METRICS_HTTP_OTHER;
	t = ++i;
	while (i < n && (unsigned char)p[i] > ' ' && (unsigned char)p[i] < 0x7f)
		i++;
	if (i == t || i >= n || p[i] != ' ' || (p[t] != '/' && !(i - t == 1 && p[t] == '*')))
		return -EBADMSG;
	while (t + plen < i && p[t + plen] != '?')
		plen++;
	req->metrics = plen == 8 && memcmp(p + t, "/metrics", 8) == 0;
	i++;
	if (n - i != 8 || memcmp(p + i, "HTTP/1.", 7) != 0 || p[i + 7] < '0' || p[i + 7] > '9')
		return -EBADMSG;
	req->minor = p[i + 7] - '0';
	return 0;
}

static int parse_header_line(const char *p, size_t n)
{
	size_t i = 0;

	while (i < n && is_tchar((unsigned char)p[i]))
		i++;
	if (i == 0 || i >= n || p[i] != ':')
		return -EBADMSG; /* no name, whitespace before the colon, or obs-fold */
	for (i++; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if ((c < ' ' && c != '\t') || c == 0x7f)
			return -EBADMSG;
	}
	return 0;
}

int metrics_http_parse(const char *buf, size_t len, struct metrics_http_req *req)
{
	size_t off = 0, n, adv;
	int first = 1;

	if (len > 0 && !is_tchar((unsigned char)buf[0]))
		return -EBADMSG; /* not even a method: say so before the line ends */
	while (line_at(buf + off, len - off, &n, &adv)) {
		const char *p = buf + off;

		if (memchr(p, '\0', n) != NULL || (n > 0 && memchr(p, '\r', n) != NULL))
			return -EBADMSG;
		off += adv;
		if (first) {
			if (parse_request_line(p, n, req) < 0)
				return -EBADMSG;
			first = 0;
			continue;
		}
		if (n == 0) {
			req->length = off;
			return 1;
		}
		if (parse_header_line(p, n) < 0)
			return -EBADMSG;
	}
	return 0;
}
