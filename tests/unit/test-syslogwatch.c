/* test-syslogwatch.c: the matcher of the crash reporter's "saved a report" syslog lines */
#include <string.h>

#include "../../daemon/syslogwatch.h"
#include "check.h"

static int match(const char *line, char *name, size_t name_size)
{
	return syslogwatch_match(line, strlen(line), name, name_size);
}

static void test_osanalytics(void)
{
	char name[128];

	/* devsim's line, as libimobiledevice hands it over */
	ASSERT_EQ(match("Dec  2 08:01:02 Lab-iPhone-12 osanalyticshelper(OSAnalytics)[211] "
			"<Notice>: Saved type '298(JetsamEvent)' report (3 of max 25) at "
			"/var/mobile/Library/Logs/CrashReporter/JetsamEvent-2026-12-02-080102.ips",
			name, sizeof(name)),
		  1);
	ASSERT_STREQ(name, "JetsamEvent-2026-12-02-080102.ips");
	/* the book's example (iOS Crash Dump Analysis) */
	ASSERT_EQ(match("Jul 27 13:36:58 iPhone osanalyticshelper(OSAnalytics)[176] <Notice>: "
			"Saved type '109(109_icdab_nsdata)' report (2 of max 25) at "
			"/var/mobile/Library/Logs/CrashReporter/"
			"icdab_nsdata-2018-07-27-133658.ips",
			name, sizeof(name)),
		  1);
	ASSERT_STREQ(name, "icdab_nsdata-2018-07-27-133658.ips");
	/* no image, <Error> level, process name case */
	ASSERT_EQ(match("Jan  1 00:00:00 h OSAnalyticsHelper[1] <Error>: Saved type '288(stacks)' "
			"report (1 of max 25) at /private/var/x/stacks-1.ips",
			name, sizeof(name)),
		  1);
	ASSERT_STREQ(name, "stacks-1.ips");
	/* no name buffer; a short one cuts */
	ASSERT_EQ(match("Jan  1 00:00:00 h osanalyticshelper(OSAnalytics)[1] <Notice>: Saved type "
			"'298(JetsamEvent)' report (1 of max 25) at /a/JetsamEvent-1.ips",
			NULL, 0),
		  1);
	ASSERT_EQ(match("Jan  1 00:00:00 h osanalyticshelper(OSAnalytics)[1] <Notice>: Saved type "
			"'298(JetsamEvent)' report (1 of max 25) at /a/JetsamEvent-1.ips",
			name, 6),
		  1);
	ASSERT_STREQ(name, "Jetsa");
}

static void test_reportcrash(void)
{
	char name[128];

	ASSERT_EQ(match("Jul  1 10:00:00 iPhone ReportCrash[123] <Notice>: Saved crashreport to "
			"/var/mobile/Library/Logs/CrashReporter/LowMemory-2012-07-01-100000.plist "
			"using uid: 0 gid: 0, synthetic_euid: 501 egid: 0",
			name, sizeof(name)),
		  1);
	ASSERT_STREQ(name, "LowMemory-2012-07-01-100000.plist");
	ASSERT_EQ(match("Jul  1 10:00:00 iPhone ReportCrash(CrashReporterSupport)[9] <Notice>: "
			"Saved crash report for MyApp[77] version 1.0 to "
			"/var/mobile/Library/Logs/CrashReporter/MyApp-2014-07-01-100000.ips",
			name, sizeof(name)),
		  1);
	ASSERT_STREQ(name, "MyApp-2014-07-01-100000.ips");
}

static void test_no_match(void)
{
	static const char *const lines[] = {
		"",
		"Saved type '298(JetsamEvent)' report (1 of max 25) at /a/b.ips",
		/* another process saying the same words */
		"Jan  1 00:00:00 h SpringBoard(UIKit)[5] <Notice>: Saved type '298(JetsamEvent)' "
		"report (1 of max 25) at /a/b.ips",
		/* quoted inside another message */
		"Jan  1 00:00:00 h locationd[5] <Notice>: osanalyticshelper(OSAnalytics)[1] "
		"<Notice>: Saved type '298(JetsamEvent)' report (1 of max 25) at /a/b.ips",
		/* not at the message's start, relative path, a directory */
		"Jan  1 00:00:00 h osanalyticshelper(OSAnalytics)[1] <Notice>: Not Saved type "
		"'298(JetsamEvent)' report (1 of max 25) at /a/b.ips",
		"Jan  1 00:00:00 h osanalyticshelper(OSAnalytics)[1] <Notice>: Saved type "
		"'298(JetsamEvent)' report (1 of max 25) at a/b.ips",
		"Jan  1 00:00:00 h osanalyticshelper(OSAnalytics)[1] <Notice>: Saved type "
		"'298(JetsamEvent)' report (1 of max 25) at /a/",
		/* a prefix of the process name */
		"Jan  1 00:00:00 h osanalyticshelperd[1] <Notice>: Saved type '298(JetsamEvent)' "
		"report (1 of max 25) at /a/b.ips",
		"Jan  1 00:00:00 h osanalyticshelper(OSAnalytics)[1] <Notice>: Saved type",
		"Jan  1 00:00:00 h ReportCrash[1] <Notice>: Saved crashreport to ",
		"Jan  1 00:00:00 h ReportCrash[1] <Notice>: Formulating crash report for MyApp",
		"Jan  1 00:00:00 h kernel[0] <Notice>: memorystatus: killing_specific_process pid "
		"77",
		"<>: ",
		">: Saved type '",
	};
	char name[16] = "untouched";

	for (size_t i = 0; i < sizeof(lines) / sizeof(lines[0]); i++) {
		if (match(lines[i], name, sizeof(name)) != 0)
			fprintf(stderr, "matched: %s\n", lines[i]);
		ASSERT_EQ(match(lines[i], name, sizeof(name)), 0);
	}
	ASSERT_STREQ(name, "untouched");
	/* length is respected: the path past len is not seen */
	{
		const char *l = "Jan  1 00:00:00 h osanalyticshelper(OSAnalytics)[1] <Notice>: "
				"Saved type '298(JetsamEvent)' report (1 of max 25) at /a/b.ips";

		ASSERT_EQ(syslogwatch_match(l, strlen(l) - 8, name, sizeof(name)), 0);
		ASSERT_EQ(syslogwatch_match(l, strlen(l) - 1, name, sizeof(name)), 1);
		ASSERT_STREQ(name, "b.ip");
	}
}

int main(void)
{
	test_osanalytics();
	test_reportcrash();
	test_no_match();
	return CHECK_DONE();
}
