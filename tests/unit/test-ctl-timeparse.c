/* test-ctl-timeparse.c: unit tests of jetsamctl's time parsing (ISO-8601, durations, @epoch) */
#include <stdlib.h>
#include <time.h>

#include "check.h"
#include "timeparse.h"

static long long iso(const char *s)
{
	time_t t = 0;

	if (timeparse_iso(s, &t) < 0)
		return -1;
	return (long long)t;
}

static long long arg(const char *s, time_t now)
{
	time_t t = 0;

	if (timeparse_arg(s, now, &t) < 0)
		return -1;
	return (long long)t;
}

int main(void)
{
	time_t now = 1795428000; /* 2026-11-23T10:00:00Z */

	setenv("TZ", "UTC", 1);
	tzset();

	/* ISO-8601 with offsets, as the daemon and the reports write them */
	ASSERT_EQ(iso("2026-11-23T10:00:00Z"), 1795428000);
	ASSERT_EQ(iso("2026-11-23t10:00:00z"), 1795428000);
	ASSERT_EQ(iso("2026-11-23T11:00:00+01:00"), 1795428000);
	ASSERT_EQ(iso("2026-11-23T11:00:00+0100"), 1795428000);
	ASSERT_EQ(iso("2026-11-23T05:30:00-04:30"), 1795428000);
	ASSERT_EQ(iso("2026-11-23T10:00:00.999Z"), 1795428000);
	ASSERT_EQ(iso("2022-06-14 10:22:16.00 +0200"), 1655194936);
	ASSERT_EQ(iso("2022-06-14 08:22:16 +00"), 1655194936);
	/* no offset: local time (TZ=UTC here), date only is midnight */
	ASSERT_EQ(iso("2026-11-23T10:00:00"), 1795428000);
	ASSERT_EQ(iso("2026-11-23T10:00"), 1795428000);
	ASSERT_EQ(iso("2026-11-23 10:00"), 1795428000);
	ASSERT_EQ(iso("2024-02-29"), 1709164800);
	/* refused */
	ASSERT_EQ(iso("2023-02-29"), -1);
	ASSERT_EQ(iso("2026-13-01"), -1);
	ASSERT_EQ(iso("2026-11-31"), -1);
	ASSERT_EQ(iso("2026-11-23T24:00:00Z"), -1);
	ASSERT_EQ(iso("2026-11-23T10:60Z"), -1);
	ASSERT_EQ(iso("2026-11-23T10:00:00+25:00"), -1);
	ASSERT_EQ(iso("2026-11-23T10:00:00Zjunk"), -1);
	ASSERT_EQ(iso("2026-11-23T10:00:00."), -1);
	ASSERT_EQ(iso("2026-1-23"), -1);
	ASSERT_EQ(iso("26-11-23"), -1);
	ASSERT_EQ(iso(""), -1);
	ASSERT_EQ(iso("yesterday"), -1);

	/* --since/--until arguments */
	ASSERT_EQ(arg("2h", now), now - 7200);
	ASSERT_EQ(arg("30m", now), now - 1800);
	ASSERT_EQ(arg("30min", now), now - 1800);
	ASSERT_EQ(arg("3d", now), now - 3 * 86400);
	ASSERT_EQ(arg("1w", now), now - 7 * 86400);
	ASSERT_EQ(arg("45s", now), now - 45);
	ASSERT_EQ(arg("1h30m", now), now - 5400);
	ASSERT_EQ(arg("0s", now), now);
	ASSERT_EQ(arg("now", now), now);
	ASSERT_EQ(arg("@1700000000", now), 1700000000);
	ASSERT_EQ(arg("2026-11-23T09:00:00Z", now), now - 3600);
	ASSERT_EQ(arg("2026-11-22", now), now - 86400 - 36000);
	ASSERT_EQ(arg("", now), -1);
	ASSERT_EQ(arg("2", now), -1);
	ASSERT_EQ(arg("h", now), -1);
	ASSERT_EQ(arg("2x", now), -1);
	ASSERT_EQ(arg("-2h", now), -1);
	ASSERT_EQ(arg("2h ", now), -1);
	ASSERT_EQ(arg("@", now), -1);
	ASSERT_EQ(arg("@12abc", now), -1);
	ASSERT_EQ(arg("99999999999999d", now), -1);
	ASSERT_EQ(arg("2026-11-23T09:00:00+99:00", now), -1);
	return CHECK_DONE();
}
