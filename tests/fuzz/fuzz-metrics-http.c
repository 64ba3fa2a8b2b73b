/* fuzz-metrics-http.c: libFuzzer target for the metrics server's request head parser
 * (daemon/metrics_http.c), with the server's request size limit */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../daemon/metrics_http.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct metrics_http_req req, again;
	char *copy;
	int r;

	if (size > METRICS_HTTP_HEAD_MAX)
		size = METRICS_HTTP_HEAD_MAX;
	/* an exact-size copy: a read past the bytes given is an ASan error */
	copy = malloc(size ? size : 1);
	if (copy == NULL)
		return 0;
	memcpy(copy, data, size);
	r = metrics_http_parse(copy, size, &req);
	if (r != 0 && r != 1 && r != -EBADMSG)
		__builtin_trap();
	if (r == 1) {
		/* a head ends in an empty line within the bytes, and the method is one of three */
		if (req.length < 2 || req.length > size || copy[req.length - 1] != '\n' ||
		    (req.method != METRICS_HTTP_GET && req.method != METRICS_HTTP_HEAD &&
		     req.method != METRICS_HTTP_OTHER) ||
		    (req.metrics != 0 && req.metrics != 1))
			__builtin_trap();
		/* the head alone parses the same; bytes after it change nothing */
		if (metrics_http_parse(copy, req.length, &again) != 1 ||
		    again.length != req.length || again.method != req.method ||
		    again.metrics != req.metrics || again.minor != req.minor)
			__builtin_trap();
	}
	/* a prefix of an incomplete head is incomplete or bad, never complete */
	if (r == 0 && size > 0 && metrics_http_parse(copy, size - 1, &again) == 1)
		__builtin_trap();
	free(copy);
	return 0;
}
