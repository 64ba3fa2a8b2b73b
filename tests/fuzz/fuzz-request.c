/* fuzz-request.c: libFuzzer target for the request path: line framing, then request decoding */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../proto/request.h"
#include "../../proto/linebuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void use_request(struct request *req)
{
	const char *s;
	int64_t n;
	int b;

	request_string(req, "udid", &s);
	request_string(req, "name", &s);
	request_int(req, "limit", 1, 100000, &n);
	request_int(req, "size", 1, 16 << 20, &n);
	request_bool(req, "wait", &b);
	request_time(req, "since", &n);
	request_time(req, "until", &n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct linebuf lb;
	size_t off = 0;

	/* the first byte picks the chunk size, so that framing across reads is exercised */
	size_t chunk = size ? (size_t)data[0] * 37 + 1 : 1;

	linebuf_init(&lb, 65536);
	while (off < size) {
		size_t n = size - off < chunk ? size - off : chunk;
		char *line;
		size_t len;
		int r;

		if (linebuf_append(&lb, data + off, n) < 0)
			break;
		off += n;
		while ((r = linebuf_next(&lb, &line, &len)) == LINEBUF_LINE) {
			struct request req;

			if (len >= 65536)
				__builtin_trap();
			if (request_decode(&req, line, len) == 0)
				use_request(&req);
			request_release(&req);
			/* an import body: drop a few raw bytes as the daemon would take them */
			if (len > 0 && line[0] == 'I')
				linebuf_take(&lb, NULL, 3);
		}
		if (r == LINEBUF_E_TOO_LONG)
			break;
	}
	linebuf_release(&lb);
	return 0;
}
