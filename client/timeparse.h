/* timeparse.h: times on jetsamctl's command line (--since/--until) and in daemon replies */
#ifndef JETSAMCTL_TIMEPARSE_H
#define JETSAMCTL_TIMEPARSE_H

#include <time.h>

/*
 * Parse an ISO-8601 time: "2026-11-23T10:00:00Z", "2026-11-23T10:00:00.250+01:00",
 * "2026-11-23 10:00:00 +0100", "2026-11-23T10:00" or "2026-11-23" (midnight). A time
 * without an offset is local time. Returns 0 with *out the epoch, or -EINVAL.
 */
int timeparse_iso(const char *s, time_t *out);

/*
 * Parse a --since/--until argument: ISO-8601 (above), "@EPOCH", "now", or a duration before
 * now such as "2h", "30m", "3d", "1w", "45s", "1h30m". Returns 0 with *out the epoch, or
 * -EINVAL.
 */
int timeparse_arg(const char *s, time_t now, time_t *out);

#endif
