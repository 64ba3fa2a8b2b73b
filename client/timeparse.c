/* timeparse.c: times on jetsamctl's command line (--since/--until) and in daemon replies */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "isotime.h"
#include "timeparse.h"

int timeparse_iso(const char *s, time_t *out)
{
	int64_t t;

	if (isotime_parse_loose(s, &t) != 0)
		return -EINVAL;
	*out = (time_t)t;
	return 0;
}

int timeparse_arg(const char *s, time_t now, time_t *out)
{
	long long total = 0;
	const char *p = s;

	if (strcmp(s, "now") == 0) {
		*out = now;
		return 0;
	}
	if (s[0] == '@') {
		char *end;
		long long v;

		errno = 0;
		v = strtoll(s + 1, &end, 10);
		if (errno != 0 || end == s + 1 || *end != 0 || v < 0)
			return -EINVAL;
		*out = (time_t)v;
		return 0;
	}
	if (isdigit((unsigned char)s[0]) && strlen(s) >= 10 && s[4] == '-')
		return timeparse_iso(s, out);
	/* A duration: one or more NUMBER UNIT pairs */
	if (*p == 0)
		return -EINVAL;
	while (*p) {
		long long v = 0, unit;

		if (!isdigit((unsigned char)*p))
			return -EINVAL;
		while (isdigit((unsigned char)*p)) {
			v = v * 10 + (*p++ - '0');
			if (v > 100LL * 365 * 86400)
				return -EINVAL;
		}
		switch (*p++) {
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = 86400;
			break;
		case 'w':
			unit = 7 * 86400;
			break;
		default:
			return -EINVAL;
		}
		/* "min" is accepted as well as "m" */
		if (unit == 60 && strncmp(p, "in", 2) == 0)
			p += 2;
		total += v * unit;
		if (total > 100LL * 365 * 86400)
			return -EINVAL;
	}
	*out = now - (time_t)total;
	return 0;
}
