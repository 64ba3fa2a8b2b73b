/* test-isotime.c: unit tests of proto/isotime (format, strict and loose parse, round trips) */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../../proto/isotime.h"
#include "check.h"

static long long strict(const char *s)
{
	int64_t t = 0;

	if (isotime_parse(s, &t) != 0)
		return -1;
	return (long long)t;
}

static long long loose(const char *s)
{
	int64_t t = 0;

	if (isotime_parse_loose(s, &t) != 0)
		return -1;
	return (long long)t;
}

static void test_format(void)
{
	char buf[32];

	isotime_format(0, buf);
	ASSERT_STREQ(buf, "1970-01-01T00:00:00Z");
	isotime_format(1795428000, buf);
	ASSERT_STREQ(buf, "2026-11-23T10:00:00Z");
	isotime_format(951782400, buf); /* a leap day */
	ASSERT_STREQ(buf, "2000-02-29T00:00:00Z");
	isotime_format(253402300799LL, buf);
	ASSERT_STREQ(buf, "9999-12-31T23:59:59Z");
}

/* gmtime_r's fields, as isotime_format() printed them before it did its own arithmetic */
static void gmtime_text(int64_t epoch, char out[32])
{
	time_t t = (time_t)epoch;
	struct tm tm;

	if (gmtime_r(&t, &tm) == NULL) {
		snprintf(out, 32, "1970-01-01T00:00:00Z");
		return;
	}
	snprintf(out, 32, "%04u-%02u-%02uT%02u:%02u:%02uZ", (unsigned)(tm.tm_year + 1900) % 10000u,
		 (unsigned)(tm.tm_mon + 1) % 100u, (unsigned)tm.tm_mday % 100u,
		 (unsigned)tm.tm_hour % 100u, (unsigned)tm.tm_min % 100u,
		 (unsigned)tm.tm_sec % 100u);
}

static int same_as_gmtime(int64_t epoch)
{
	char a[32], b[32];

	isotime_format(epoch, a);
	gmtime_text(epoch, b);
	if (strcmp(a, b) != 0)
		fprintf(stderr, "isotime_format(%lld): '%s', gmtime_r: '%s'\n", (long long)epoch, a,
			b);
	return strcmp(a, b) == 0;
}

/* the same text as gmtime_r gives: days over 400 years of leap rules, seconds of days,
 * the edges of the arithmetic's range and beyond */
static void test_format_gmtime(void)
{
	static const int64_t edges[] = {-86401,
					-1,
					0,
					1,
					68169600,
					946684799,
					946684800,
					4107542399LL,
					4107542400LL,
					253402300799LL,
					253402300800LL,
					253402387200LL};
	int bad = 0;

	for (int64_t t = 0; t < 146097LL * 86400 + 86400; t += 86400 - 7)
		bad += !same_as_gmtime(t);
	for (int64_t t = 1700000000; t < 1700000000 + 86400; t += 13)
		bad += !same_as_gmtime(t);
	for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
		bad += !same_as_gmtime(edges[i]);
	ASSERT_EQ(bad, 0);
}

static void test_round_trip(void)
{
	static const int64_t epochs[] = {
		0,	   1,	       59,	   86399,	 86400,		951782400,
		951868799, 1655194936, 1795428000, 4102444800LL, 253402300799LL};
	char buf[32];

	for (size_t i = 0; i < sizeof(epochs) / sizeof(epochs[0]); i++) {
		int64_t back = -1;

		isotime_format(epochs[i], buf);
		ASSERT_EQ(isotime_parse(buf, &back), 0);
		ASSERT_EQ(back, epochs[i]);
		back = -1;
		ASSERT_EQ(isotime_parse_loose(buf, &back), 0);
		ASSERT_EQ(back, epochs[i]);
	}
	/* every second of a day across a month end, a leap day and a year end */
	for (int64_t t = 951782400 - 86400; t < 951782400 + 2 * 86400; t += 997) {
		int64_t back = -1;

		isotime_format(t, buf);
		CHECK(isotime_parse(buf, &back) == 0 && back == t);
	}
	for (int64_t t = 1798761600 - 3600; t < 1798761600 + 3600; t += 61) {
		int64_t back = -1;

		isotime_format(t, buf);
		CHECK(isotime_parse(buf, &back) == 0 && back == t);
	}
}

static void test_offsets_and_fractions(void)
{
	ASSERT_EQ(strict("2026-11-23T10:00:00Z"), 1795428000);
	ASSERT_EQ(strict("2026-11-23T11:00:00+01:00"), 1795428000);
	ASSERT_EQ(strict("2026-11-23T05:30:00-04:30"), 1795428000);
	ASSERT_EQ(strict("2026-11-24T09:59:00+23:59"), 1795428000);
	ASSERT_EQ(strict("2026-11-23T00:00:00-00:00"), 1795392000);
	ASSERT_EQ(strict("2026-11-23T10:00:00.250Z"), 1795428000);
	ASSERT_EQ(strict("2026-11-23T10:00:00.999999+00:00"), 1795428000);
	ASSERT_EQ(strict("2026-11-23T10:00:60Z"), 1795428060); /* a leap second */
	{
		int64_t t = 0;

		ASSERT_EQ(isotime_parse("1969-12-31T23:59:59Z", &t), 0); /* before the epoch */
		ASSERT_EQ(t, -1);
	}
	ASSERT_EQ(strict("2024-02-29T12:00:00Z"), 1709208000);

	ASSERT_EQ(loose("2026-11-23t10:00:00z"), 1795428000);
	ASSERT_EQ(loose("2026-11-23T11:00:00+0100"), 1795428000);
	ASSERT_EQ(loose("2026-11-23T11:00:00+01"), 1795428000);
	ASSERT_EQ(loose("2026-11-23 11:00:00 +0100"), 1795428000);
	ASSERT_EQ(loose("2022-06-14 10:22:16.00 +0200"), 1655194936);
	ASSERT_EQ(loose("2026-11-23T10:00:00,5Z"), 1795428000);
	ASSERT_EQ(loose("2026-11-23T10:00Z"), 1795428000);
	/* no zone: local time (TZ is set to UTC by main) */
	ASSERT_EQ(loose("2026-11-23T10:00"), 1795428000);
	ASSERT_EQ(loose("2026-11-23"), 1795392000);
}

static void test_bad_input(void)
{
	static const char *const bad_both[] = {
		"",
		"2026",
		"2026-11",
		"2026-11-23T",
		"2026-13-23T10:00:00Z",
		"2026-00-23T10:00:00Z",
		"2026-11-00T10:00:00Z",
		"2026-11-31T10:00:00Z",
		"2025-02-29T10:00:00Z",
		"2026-11-23T24:00:00Z",
		"2026-11-23T10:60:00Z",
		"2026-11-23T10:00:61Z",
		"2026-11-23T10:00:00.Z",
		"2026-11-23T10:00:00+24:00",
		"2026-11-23T10:00:00+01:60",
		"2026-11-23T10:00:00Zjunk",
		"2026-11-23T10:00:00Z ",
		"2026-11-23T1:00:00Z",
		"2026-1-23T10:00:00Z",
		"20261123T100000Z",
		"x026-11-23T10:00:00Z",
		"2026-11-23X10:00:00Z",
		"2026-11-23T10:00:00+",
		"2026-11-23T10:00:00+1",
		"2026-11-23T10-00:00Z",
	};
	static const char *const bad_strict_only[] = {
		"2026-11-23 10:00:00Z",	  "2026-11-23t10:00:00Z",     "2026-11-23T10:00:00z",
		"2026-11-23T10:00:00",	  "2026-11-23T10:00Z",	      "2026-11-23",
		"2026-11-23T10:00:00 Z",  "2026-11-23T10:00:00+0100", "2026-11-23T10:00:00+01",
		"2026-11-23T10:00:00,5Z",
	};
	int64_t t = 42;

	for (size_t i = 0; i < sizeof(bad_both) / sizeof(bad_both[0]); i++) {
		if (strict(bad_both[i]) != -1 || loose(bad_both[i]) != -1) {
			fprintf(stderr, "accepted: '%s'\n", bad_both[i]);
			CHECK(0);
		}
	}
	for (size_t i = 0; i < sizeof(bad_strict_only) / sizeof(bad_strict_only[0]); i++) {
		if (strict(bad_strict_only[i]) != -1 || loose(bad_strict_only[i]) == -1) {
			fprintf(stderr, "strict accepted or loose refused: '%s'\n",
				bad_strict_only[i]);
			CHECK(0);
		}
	}
	ASSERT_EQ(isotime_parse(NULL, &t), -EINVAL);
	ASSERT_EQ(isotime_parse_loose(NULL, &t), -EINVAL);
	ASSERT_EQ(isotime_parse("nope", &t), -EINVAL);
	ASSERT_EQ(t, 42); /* untouched on failure */
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	test_format();
	test_format_gmtime();
	test_round_trip();
	test_offsets_and_fractions();
	test_bad_input();
	return CHECK_DONE();
}
