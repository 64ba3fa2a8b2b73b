/* linebuf.h: bounded newline framing of a byte stream (pure, no uv.h) */
#ifndef JETSAMD_PROTO_LINEBUF_H
#define JETSAMD_PROTO_LINEBUF_H

#include <stddef.h>

/*
 * Bytes are appended as they arrive; complete lines are taken out one at a time. A line
 * (its newline included) longer than max_line is an error: framing is lost and the
 * buffer refuses further lines. Raw bytes (the body of an import) can be taken out
 * between lines. The buffer never holds more than what was appended and not yet taken.
 */

enum {
	LINEBUF_LINE = 1,	/* linebuf_next(): a line was returned */
	LINEBUF_E_TOO_LONG = 2, /* linebuf_next(): no newline within max_line bytes */
};

struct linebuf {
	char *buf;
	size_t off; /* first byte not yet taken */
	size_t len; /* end of the data */
	size_t cap;
	size_t scanned; /* bytes from off known to hold no newline */
	size_t max_line;
	int failed; /* LINEBUF_E_TOO_LONG was returned */
};

void linebuf_init(struct linebuf *lb, size_t max_line);
void linebuf_release(struct linebuf *lb);
/* Append n bytes. Returns 0 or -ENOMEM. */
int linebuf_append(struct linebuf *lb, const void *data, size_t n);
/*
 * Take the next line: returns LINEBUF_LINE with *line (NUL-terminated in place of the
 * newline, valid until the next call on lb) and *len (without the newline), 0 when no
 * complete line is buffered, or LINEBUF_E_TOO_LONG (and again on every later call).
 */
int linebuf_next(struct linebuf *lb, char **line, size_t *len);
/* Take up to n raw bytes into dst (dst may be NULL to drop them). Returns the count. */
size_t linebuf_take(struct linebuf *lb, void *dst, size_t n);
/* Bytes buffered and not yet taken. */
size_t linebuf_pending(const struct linebuf *lb);

#endif
