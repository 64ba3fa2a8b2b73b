/* isotime.h: ISO-8601 times of the protocol and the command line, formatted and parsed */
#ifndef JETSAMD_PROTO_ISOTIME_H
#define JETSAMD_PROTO_ISOTIME_H

#include <stdint.h>

/* Epoch seconds as the protocol's UTC time, "2026-11-23T10:00:00Z" (NUL-terminated). */
void isotime_format(int64_t epoch, char out[32]);

/*
 * Parse the protocol's form, "YYYY-MM-DDTHH:MM:SS[.fff](Z|+HH:MM|-HH:MM)", with nothing
 * before or after it. Returns 0 with *out the epoch seconds (the fraction dropped), or -EINVAL.
 */
int isotime_parse(const char *s, int64_t *out);

/*
 * Parse what a person types: the protocol's form and also "2026-11-23 10:00:00 +0100",
 * "2026-11-23t10:00z", "2026-11-23T10:00:00,5+01", "2026-11-23T10:00" and "2026-11-23"
 * (midnight). 'T', 't' or a space before the time; seconds optional; '.' or ',' before a
 * fraction; spaces before the zone; "+HH", "+HHMM" or "+HH:MM". A time without a zone is
 * local time. Returns 0 with *out the epoch seconds, or -EINVAL.
 */
int isotime_parse_loose(const char *s, int64_t *out);

/* Days from 1970-01-01 to the proleptic Gregorian date y-m-d (m 1..12, d 1..31). */
int64_t isotime_days_from_civil(int64_t y, unsigned m, unsigned d);

#endif
