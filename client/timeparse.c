/* timeparse.c: times on jetsamctl's command line (--since/--until) and in daemon replies */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "timeparse.h"

/* Read exactly n digits at *s into *out */
static int digits(const char **s, int n, int *out)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)(*s)[i]))
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

int timeparse_iso(const char *s, time_t *out)
{
	int year, mon, day, hour = 0, min = 0, sec = 0, oh, om = 0, has_offset = 0;
	long offset = 0;
	struct tm tm = {0};
	time_t t;

	if (digits(&s, 4, &year) < 0 || *s++ != '-' || digits(&s, 2, &mon) < 0 || *s++ != '-' ||
	    digits(&s, 2, &day) < 0)
		return -EINVAL;
	if (mon < 1 || mon > 12 || day < 1 || day > days_in_month(year, mon))
		return -EINVAL;
	if (*s == 'T' || *s == 't' || (*s == ' ' && isdigit((unsigned char)s[1]))) {
		s++;
		if (digits(&s, 2, &hour) < 0 || *s++ != ':' || digits(&s, 2, &min) < 0)
			return -EINVAL;
		if (*s == ':') {
			s++;
			if (digits(&s, 2, &sec) < 0)
				return -EINVAL;
			if (*s == '.' || *s == ',') {
				s++;
				if (!isdigit((unsigned char)*s))
					return -EINVAL;
				while (isdigit((unsigned char)*s))
					s++;
			}
		}
		if (hour > 23 || min > 59 || sec > 60)
			return -EINVAL;
		while (*s == ' ')
			s++;
		if (*s == 'Z' || *s == 'z') {
			s++;
			has_offset = 1;
		} else if (*s == '+' || *s == '-') {
			int sign = *s++ == '-' ? -1 : 1;

			if (digits(&s, 2, &oh) < 0)
				return -EINVAL;
			if (*s == ':')
				s++;
			if (isdigit((unsigned char)*s) && digits(&s, 2, &om) < 0)
				return -EINVAL;
			if (oh > 23 || om > 59)
				return -EINVAL;
			offset = sign * (oh * 3600L + om * 60L);
			has_offset = 1;
		}
	}
	if (*s != 0)
		return -EINVAL;
	tm.tm_year = year - 1900;
	tm.tm_mon = mon - 1;
	tm.tm_mday = day;
	tm.tm_hour = hour;
	tm.tm_min = min;
	tm.tm_sec = sec;
	if (has_offset) {
		t = timegm(&tm);
		t -= offset;
	} else {
		tm.tm_isdst = -1;
		t = mktime(&tm);
	}
	*out = t;
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
