/* isotime.c: ISO-8601 times of the protocol and the command line, formatted and parsed */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "isotime.h"

struct iso_fields {
	int year, mon, day, hour, min, sec;
	int has_zone;
	long offset; /* seconds east of UTC */
};

static int is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Read exactly n digits at *s into *out (the NUL ends a short field). */
static int digits(const char **s, int n, int *out)
{
	int v = 0;

	for (int i = 0; i < n; i++) {
		if (!is_digit((*s)[i]))
			return -EINVAL;
		v = v * 10 + ((*s)[i] - '0');
	}
	*s += n;
	*out = v;
	return 0;
}

static int days_in_month(int year, int month)
{
	static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;

	return month == 2 && leap ? 29 : days[month - 1];
}

int64_t isotime_days_from_civil(int64_t y, unsigned m, unsigned d)
{
	y -= m <= 2;
	const int64_t era = (y >= 0 ? y : y - 399) / 400;
	const unsigned yoe = (unsigned)(y - era * 400);
	const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

/* The zone at *s: 'Z', or a sign and hours then minutes ("+HH:MM"; loose also "+HH", "+HHMM",
 * "z"). 0 with f->has_zone and f->offset set, or -EINVAL. */
static int parse_zone(const char **s, struct iso_fields *f, int loose)
{
	int oh, om = 0, sign;

	if (**s == 'Z' || (loose && **s == 'z')) {
		(*s)++;
		f->has_zone = 1;
		return 0;
	}
	if (**s != '+' && **s != '-')
		return loose ? 0 : -EINVAL; /* loose: local time */
	sign = *(*s)++ == '-' ? -1 : 1;
	if (digits(s, 2, &oh) < 0)
		return -EINVAL;
	if (**s == ':')
		(*s)++;
	else if (!loose)
		return -EINVAL;
	if ((!loose || is_digit(**s)) && digits(s, 2, &om) < 0)
		return -EINVAL;
	if (oh > 23 || om > 59)
		return -EINVAL;
	f->offset = sign * (oh * 3600L + om * 60L);
	f->has_zone = 1;
	return 0;
}

/* The time of day after the date: "HH:MM:SS[.fff]" then the zone (loose: seconds optional,
 * ',' before a fraction, spaces before the zone). */
static int parse_clock(const char **s, struct iso_fields *f, int loose)
{
	if (digits(s, 2, &f->hour) < 0 || *(*s)++ != ':' || digits(s, 2, &f->min) < 0)
		return -EINVAL;
	if (**s == ':') {
		(*s)++;
		if (digits(s, 2, &f->sec) < 0)
			return -EINVAL;
		if (**s == '.' || (loose && **s == ',')) {
			(*s)++;
			if (!is_digit(**s))
				return -EINVAL;
			while (is_digit(**s))
				(*s)++;
		}
	} else if (!loose) {
		return -EINVAL;
	}
	if (f->hour > 23 || f->min > 59 || f->sec > 60)
		return -EINVAL;
	while (loose && **s == ' ')
		(*s)++;
	return parse_zone(s, f, loose);
}

static int parse_fields(const char *s, struct iso_fields *f, int loose)
{
	memset(f, 0, sizeof(*f));
	if (digits(&s, 4, &f->year) < 0 || *s++ != '-' || digits(&s, 2, &f->mon) < 0 ||
	    *s++ != '-' || digits(&s, 2, &f->day) < 0)
		return -EINVAL;
	if (f->mon < 1 || f->mon > 12 || f->day < 1 || f->day > days_in_month(f->year, f->mon))
		return -EINVAL;
	if (*s == 'T' || (loose && (*s == 't' || (*s == ' ' && is_digit(s[1]))))) {
		s++;
		if (parse_clock(&s, f, loose) < 0)
			return -EINVAL;
	} else if (!loose) {
		return -EINVAL;
	}
	if (*s != '\0' || (!loose && !f->has_zone))
		return -EINVAL;
	return 0;
}

static int64_t utc_epoch(const struct iso_fields *f)
{
	return isotime_days_from_civil(f->year, (unsigned)f->mon, (unsigned)f->day) * 86400 +
	       f->hour * 3600 + f->min * 60 + f->sec - f->offset;
}

int isotime_parse(const char *s, int64_t *out)
{
	struct iso_fields f;

	if (s == NULL || parse_fields(s, &f, 0) < 0)
		return -EINVAL;
	*out = utc_epoch(&f);
	return 0;
}

int isotime_parse_loose(const char *s, int64_t *out)
{
	struct iso_fields f;
	struct tm tm = {0};

	if (s == NULL || parse_fields(s, &f, 1) < 0)
		return -EINVAL;
	if (f.has_zone) {
		*out = utc_epoch(&f);
		return 0;
	}
	tm.tm_year = f.year - 1900;
	tm.tm_mon = f.mon - 1;
	tm.tm_mday = f.day;
	tm.tm_hour = f.hour;
	tm.tm_min = f.min;
	tm.tm_sec = f.sec;
	tm.tm_isdst = -1;
	*out = (int64_t)mktime(&tm);
	return 0;
}

/* Two digits of v (0..99) at p. */
static void put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

void isotime_format(int64_t epoch, char out[32])
{
	time_t t = (time_t)epoch;
	struct tm tm;

	/* years 1970 to 9999 by arithmetic (the inverse of isotime_days_from_civil(), H.
	 * Hinnant's civil_from_days): a query renders thousands of these */
	if (epoch >= 0 && epoch < 253402300800LL) {
		const unsigned days = (unsigned)(epoch / 86400), s = (unsigned)(epoch % 86400);
		const unsigned z = days + 719468, era = z / 146097, doe = z - era * 146097;
		const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
		const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
		const unsigned mp = (5 * doy + 2) / 153, m = mp < 10 ? mp + 3 : mp - 9;
		const unsigned y = yoe + era * 400 + (m <= 2);

		put2(out, y / 100);
		put2(out + 2, y % 100);
		out[4] = '-';
		put2(out + 5, m);
		out[7] = '-';
		put2(out + 8, doy - (153 * mp + 2) / 5 + 1);
		out[10] = 'T';
		put2(out + 11, s / 3600);
		out[13] = ':';
		put2(out + 14, s / 60 % 60);
		out[16] = ':';
		put2(out + 17, s % 60);
		out[19] = 'Z';
		out[20] = '\0';
		return;
	}
	if (gmtime_r(&t, &tm) == NULL) {
		strcpy(out, "1970-01-01T00:00:00Z");
		return;
	}
	/* the modulos only tell the compiler the widths; gmtime_r keeps fields in range */
	snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02uZ", (unsigned)(tm.tm_year + 1900) % 10000u,
		 (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u,
		 (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
		 (unsigned)tm.tm_sec % 100u);
}
