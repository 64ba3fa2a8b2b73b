/* fuzz-config.c: libFuzzer target for the configuration parser (daemon/config.c) */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../daemon/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c, copy;
	char err[512];

	if (config_init(&c) < 0)
		return 0;
	err[0] = '\0';
	if (config_load_buffer(&c, "fuzz.conf", (const char *)data, size, err, sizeof(err)) == 0) {
		config_check(&c, err, sizeof(err));
		if (config_copy(&copy, &c) == 0)
			config_release(&copy);
	} else if (err[0] == '\0' || strlen(err) >= sizeof(err)) {
		__builtin_trap(); /* every failure names its cause */
	}
	config_release(&c);
	return 0;
}
