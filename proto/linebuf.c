/* linebuf.c: bounded newline framing of a byte stream */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "linebuf.h"

void linebuf_init(struct linebuf *lb, size_t max_line)
{
	memset(lb, 0, sizeof(*lb));
	lb->max_line = max_line ? max_line : 1;
}

void linebuf_release(struct linebuf *lb)
{
	free(lb->buf);
	lb->buf = NULL;
	lb->off = lb->len = lb->cap = lb->scanned = 0;
}

size_t linebuf_pending(const struct linebuf *lb)
{
	return lb->len - lb->off;
}

int linebuf_append(struct linebuf *lb, const void *data, size_t n)
{
	size_t pending = lb->len - lb->off;

	if (n == 0)
		return 0;
	if (lb->off > 0 && (lb->len + n > lb->cap || lb->off >= lb->cap / 2)) {
		memmove(lb->buf, lb->buf + lb->off, pending);
		lb->len = pending;
		lb->off = 0;
	}
	if (lb->len + n + 1 > lb->cap) {
		size_t cap = lb->cap ? lb->cap : 4096;
		char *nb;

		while (cap < lb->len + n + 1) {
			if (cap > ((size_t)-1) / 2)
				return -ENOMEM;
			cap *= 2;
		}
		nb = realloc(lb->buf, cap);
		if (nb == NULL)
			return -ENOMEM;
		lb->buf = nb;
		lb->cap = cap;
	}
	memcpy(lb->buf + lb->len, data, n);
	lb->len += n;
	return 0;
}

int linebuf_next(struct linebuf *lb, char **line, size_t *len)
{
	size_t pending = lb->len - lb->off;
	char *start, *nl;

	if (lb->failed)
		return LINEBUF_E_TOO_LONG;
	if (pending == 0)
		return 0;
	start = lb->buf + lb->off;
	nl = memchr(start + lb->scanned, '\n', pending - lb->scanned);
	if (nl == NULL) {
		lb->scanned = pending;
		if (pending >= lb->max_line) {
			lb->failed = 1;
			return LINEBUF_E_TOO_LONG;
		}
		return 0;
	}
	if ((size_t)(nl - start) + 1 > lb->max_line) {
		lb->failed = 1;
		return LINEBUF_E_TOO_LONG;
	}
	*nl = '\0';
	*line = start;
	*len = (size_t)(nl - start);
	lb->off += *len + 1;
	lb->scanned = 0;
	if (lb->off == lb->len)
		lb->off = lb->len = 0;
	return LINEBUF_LINE;
}

size_t linebuf_take(struct linebuf *lb, void *dst, size_t n)
{
	size_t pending = lb->len - lb->off;

	if (n > pending)
		n = pending;
	if (n > 0 && dst != NULL)
		memcpy(dst, lb->buf + lb->off, n);
	lb->off += n;
	lb->scanned = lb->scanned > n ? lb->scanned - n : 0;
	if (lb->off == lb->len)
		lb->off = lb->len = 0;
	return n;
}
