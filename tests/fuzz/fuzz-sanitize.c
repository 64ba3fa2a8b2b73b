/* fuzz-sanitize.c: libFuzzer target for proto/sanitize: escapes are valid UTF-8 and reversible */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/sanitize.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t cap = size * 4 + 1, n, rn;
	char *out = malloc(cap), *raw = malloc(size + 1), *rep;
	int cut = 0, r;

	if (out == NULL || raw == NULL)
		abort();
	n = sanitize_escape((const char *)data, size, out, cap, &cut);
	if (cut || !sanitize_utf8_valid(out, n) || strlen(out) != n)
		abort();
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)out[i] < 0x20 || out[i] == 0x7f)
			abort();
	r = sanitize_unescape(out, raw, size + 1);
	if (r < 0 || (size_t)r != size || memcmp(raw, data, size) != 0)
		abort();
	/* a short buffer cuts at a boundary and stays valid */
	n = sanitize_escape((const char *)data, size, out, 1 + size % 17, &cut);
	if (!sanitize_utf8_valid(out, n))
		abort();
	rep = sanitize_utf8_repair((const char *)data, size, &rn);
	if (rep == NULL || !sanitize_utf8_valid(rep, rn))
		abort();
	if (sanitize_utf8_valid((const char *)data, size) &&
	    (rn != size || memcmp(rep, data, size)))
		abort();
	free(rep);
	free(raw);
	free(out);
	return 0;
}
