/* fuzz-syslogwatch.c: libFuzzer target for the saved-report line matcher
 * (daemon/syslogwatch_match.c) */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../daemon/syslogwatch.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char name[32];
	int r;

	memset(name, 'x', sizeof(name));
	r = syslogwatch_match((const char *)data, size, name, sizeof(name));
	if (r != 0 && r != 1)
		__builtin_trap();
	/* a match names a file: a non-empty, NUL-terminated component with no '/' */
	if (r == 1 && (name[0] == '\0' || memchr(name, '\0', sizeof(name)) == NULL ||
		       strchr(name, '/') != NULL))
		__builtin_trap();
	if (syslogwatch_match((const char *)data, size, NULL, 0) != r)
		__builtin_trap();
	return 0;
}
