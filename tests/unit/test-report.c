/* test-report.c: targeted unit tests of the report parser (layouts, edge cases, JSON output) */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "check.h"
#include "report.h"
#include "report_internal.h"
#include "report_json.h"

static struct report *parse_n(const char *s, size_t n, const struct report_opts *o)
{
	struct report *r = NULL;
	int rc = report_parse(s, n, o, &r);

	ASSERT_EQ(rc, 0);
	CHECK(r != NULL);
	if (r == NULL) {
		fprintf(stderr, "out of memory\n");
		exit(1);
	}
	/* the invariant every caller relies on */
	if (r->status == REPORT_ERROR)
		ASSERT_EQ(r->n_events, 0);
	return r;
}

static struct report *parse(const char *s)
{
	return parse_n(s, strlen(s), NULL);
}

#define HDR298                                                                                     \
	"{\"bug_type\":\"298\",\"timestamp\":\"2022-07-10 01:18:15.51 +0800\","                    \
	"\"os_version\":\"iPhone OS 15.5 (19F77)\",\"incident_id\":\"INC-1\"}\n"

/* A J2-style body with the given page size and process entries. */
static char *body(const char *page_size, const char *procs)
{
	static const char fmt[] =
		"{\n"
		"  \"crashReporterKey\" : \"abc\",\n"
		"  \"kernel\" : \"Darwin Kernel Version 21.5.0: "
		"root:xnu-8020.122.1~1\\/RELEASE_ARM64_T8101\",\n"
		"  \"product\" : \"iPhone13,2\",\n"
		"  \"incident\" : \"INC-1\",\n"
		"  \"date\" : \"2022-07-10 01:18:15.51 +0800\",\n"
		"  \"build\" : \"iPhone OS 14.8 (18H17)\",\n"
		"  \"timeDelta\" : 5,\n"
		"  \"memoryStatus\" : {\n"
		"  \"compressorSize\" : 55911,\n"
		"  \"zoneMapCap\" : 1394786304,\n"
		"  \"largestZone\" : \"APFS_4K_OBJS\",\n"
		"  \"pageSize\" : %s,\n"
		"  \"memoryPages\" : {\n    \"active\" : 55880,\n    \"free\" : 8686\n  }\n"
		"},\n"
		"  \"largestProcess\" : \"WeChat\",\n"
		"  \"genCounter\" : 0,\n"
		"  \"processes\" : [\n%s\n  ]\n"
		"}\n";
	size_t n = sizeof(fmt) + strlen(page_size) + strlen(procs) + sizeof(HDR298);
	char *out = malloc(n);

	if (out == NULL)
		exit(1);
	memcpy(out, HDR298, sizeof(HDR298) - 1);
	snprintf(out + sizeof(HDR298) - 1, n - (sizeof(HDR298) - 1), fmt, page_size, procs);
	return out;
}

#define PROC(name, pid, rpages, states, extra)                                                     \
	"  {\n    \"uuid\" : \"c5bfd6df-d788-3dd4-a585-3ad5aa26b390\",\n    \"states\" : "         \
	"[ " states " ],\n    \"rpages\" : " #rpages ",\n    \"pid\" : " #pid                      \
	",\n    \"name\" : \"" name "\",\n    \"lifetimeMax\" : 99" extra "\n  }"

static void test_json_basic(void)
{
	char *s = body("16384",
		       PROC("MemoryTest", 2541, 89600, "\"frontmost\", \"resume\"",
			    ", \"reason\" : \"per-process-limit\", \"priority\" : "
			    "10") ",\n" PROC("idle", 12, 84, "\"daemon\", \"idle\"",
					     "") ",\n" PROC("backboardd", 60, 131282, "\"daemon\"",
							    ", \"reason\" : "
							    "\"per-process-"
							    "limit\"") ",\n" PROC("Widget", 61, 900,
										  "\"suspen"
										  "ded\"",
										  ", "
										  "\"reason"
										  "\" : "
										  "\"per-"
										  "process-"
										  "limit"
										  "\""));
	struct report *r = parse(s);

	ASSERT_STREQ(report_status_name(r->status), "ok");
	ASSERT_EQ(r->variant, REPORT_VARIANT_J2);
	ASSERT_STREQ(r->bug_type, "298");
	ASSERT_STREQ(r->incident, "INC-1");
	ASSERT_STREQ(r->product, "iPhone13,2");
	ASSERT_STREQ(r->os_name, "iPhone OS");
	ASSERT_STREQ(r->os_version, "14.8"); /* the body's build wins over the header */
	ASSERT_STREQ(r->build, "18H17");
	ASSERT_STREQ(r->timestamp, "2022-07-10 01:18:15.51 +0800");
	ASSERT_EQ(r->timestamp_epoch, 1657387095);
	ASSERT_STREQ(r->largest_process, "WeChat");
	ASSERT_STREQ(r->memory.largest_zone, "APFS_4K_OBJS");
	ASSERT_EQ(r->memory.active, 55880);
	ASSERT_EQ(r->memory.free, 8686);
	ASSERT_EQ(r->memory.compressor_size, 55911);
	ASSERT_EQ(r->memory.wired, REPORT_NULL);
	ASSERT_EQ(r->page_size, 16384);
	ASSERT_EQ(r->n_events, 3); /* only entries with a reason */
	if (r->n_events == 3) {
		const struct report_event *a = &r->events[0], *b = &r->events[1],
					  *c = &r->events[2];

		ASSERT_STREQ(a->process, "MemoryTest");
		ASSERT_EQ(a->pid, 2541);
		ASSERT_EQ(a->role, REPORT_ROLE_FOREGROUND);
		ASSERT_EQ(a->priority, 10);
		ASSERT_EQ(a->footprint_bytes, 1468006400);
		ASSERT_EQ(a->limit_bytes, 1468006400);
		ASSERT_EQ(a->lifetime_max_pages, 99);
		ASSERT_EQ(a->n_states, 2);
		/* a daemon can be the per-process-limit victim: 131282 x 16 KiB */
		ASSERT_STREQ(b->process, "backboardd");
		ASSERT_EQ(b->role, REPORT_ROLE_DAEMON);
		ASSERT_EQ(b->limit_bytes, 2150924288);
		ASSERT_EQ(b->priority, REPORT_NULL);
		/* an extension, neither frontmost nor daemon */
		ASSERT_EQ(c->role, REPORT_ROLE_BACKGROUND);
		ASSERT_EQ(c->limit_bytes, 900 * 16384);
	}
	report_free(r);
	free(s);
}

static void test_page_size(void)
{
	const char *procs = PROC("App", 7, 1000, "\"frontmost\"", ", \"reason\" : \"highwater\"");
	char *s4 = body("4096", procs), *s16 = body("16384", procs), *s0 = body("0", procs);
	struct report *r4 = parse(s4), *r16 = parse(s16), *r0 = parse(s0);

	ASSERT_EQ(r4->events[0].footprint_bytes, 4096000);
	ASSERT_EQ(r16->events[0].footprint_bytes, 16384000);
	ASSERT_EQ(r4->events[0].limit_bytes, REPORT_NULL); /* highwater: no limit */
	/* a nonsense page size is not used (never guessed) */
	ASSERT_EQ(r0->page_size, REPORT_NULL);
	ASSERT_EQ(r0->events[0].footprint_bytes, REPORT_NULL);
	ASSERT_EQ(r0->events[0].rpages, 1000);
	report_free(r4);
	report_free(r16);
	report_free(r0);
	free(s4);
	free(s16);
	free(s0);
}

static void test_role_rule(void)
{
	char *s = body(
		"16384",
		PROC("a", 1, 1, "\"daemon\", \"frontmost\"", ", \"reason\" : \"x\"") ",\n" PROC(
			"b", 2, 1, "\"idle\", \"daemon\"",
			", \"reason\" : \"x\"") ",\n" PROC("c", 3, 1, "", ", \"reason\" : \"x\""));
	struct report *r = parse(s);
	enum report_role role;

	ASSERT_EQ(r->n_events, 3);
	ASSERT_EQ(r->events[0].role, REPORT_ROLE_FOREGROUND); /* frontmost beats daemon */
	ASSERT_EQ(r->events[1].role, REPORT_ROLE_DAEMON);
	ASSERT_EQ(r->events[2].role, REPORT_ROLE_BACKGROUND);
	ASSERT_EQ(report_role_from_name("daemon", &role), 0);
	ASSERT_EQ(role, REPORT_ROLE_DAEMON);
	ASSERT_EQ(report_role_from_name("foreground", &role), 0);
	ASSERT_EQ(role, REPORT_ROLE_FOREGROUND);
	ASSERT_EQ(report_role_from_name("Daemon", &role), -EINVAL);
	report_free(r);
	free(s);
}

static void test_duplicate_names(void)
{
	char *s =
		body("16384",
		     PROC("xpcproxy", 10, 5, "\"daemon\"",
			  ", \"reason\" : \"vm-pageshortage\"") ",\n" PROC("xpcproxy", 11, 6,
									   "\"daemon\"",
									   ", \"reason\" : "
									   "\"vm-pageshortage\""));
	struct report *r = parse(s);

	ASSERT_EQ(r->n_events, 2);
	ASSERT_EQ(r->events[0].pid, 10);
	ASSERT_EQ(r->events[1].pid, 11);
	ASSERT_STREQ(r->events[1].process, "xpcproxy");
	report_free(r);
	free(s);
}

static void test_huge_numbers(void)
{
	char *s = body(
		"16384",
		PROC("big", 1, 1e30, "", ", \"reason\" : \"x\"") ",\n" PROC(
			"ovf", 2, 4611686018427387904, "",
			", \"reason\" : \"per-process-limit\"") ",\n" PROC("frac", 3, 12.5, "",
									   ", \"reason\" : "
									   "\"x\"") ",\n" PROC("ne"
											       "g",
											       -4,
											       -1,
											       "",
											       ", "
											       "\"r"
											       "eas"
											       "on"
											       "\" "
											       ": "
											       "7"));
	struct report *r = parse(s);

	ASSERT_EQ(r->n_events, 3); /* a reason that is not a string is no kill marker */
	ASSERT_EQ(r->events[0].rpages, REPORT_NULL); /* not representable */
	ASSERT_EQ(r->events[1].rpages, 4611686018427387904LL);
	ASSERT_EQ(r->events[1].footprint_bytes, REPORT_NULL); /* would overflow */
	ASSERT_EQ(r->events[1].limit_bytes, REPORT_NULL);
	ASSERT_EQ(r->events[2].rpages, REPORT_NULL); /* not an integer */
	report_free(r);
	free(s);
}

static void test_negative(void)
{
	char *s = body("16384", PROC("first", 1, 1, "", "") ",\n" PROC("neg", -4, -1, "",
								       ", \"reason\" : \"x\""));
	struct report *r = parse(s);

	ASSERT_EQ(r->n_events, 1);
	ASSERT_EQ(r->events[0].pid, -4);
	ASSERT_EQ(r->events[0].rpages, -1);
	ASSERT_EQ(r->events[0].footprint_bytes, REPORT_NULL);
	report_free(r);
	free(s);
}

static void test_variants(void)
{
	struct report *r;

	/* J1: no zone counters in memoryStatus; hash-ordered keys; no header at all */
	r = parse("{\"kernel\":\"k\",\"date\":\"2016-08-21 14:38:17.17 "
		  "-0700\",\"product\":\"iPhone5,3\","
		  "\"build\":\"iPhone OS 9.3.3 (13G34)\",\"memoryStatus\":{\"pageSize\":4096},"
		  "\"processes\":[{\"name\":\"a\",\"rpages\":2,\"reason\":\"vm-thrashing\"}]}");
	ASSERT_EQ(r->variant, REPORT_VARIANT_J1);
	ASSERT_EQ(r->status, REPORT_OK);
	ASSERT_STREQ(r->bug_type, NULL);
	ASSERT_EQ(r->events[0].footprint_bytes, 8192);
	report_free(r);
	/* J3 by the body's bug_type (iOS 16) */
	r = parse(HDR298
		  "{\n\"product\":\"iPhone14,2\",\"build\":\"iPhone OS 16.6 (20G75)\","
		  "\"roots_installed\":0,\"bug_type\":\"298\",\"memoryStatus\":{\"pageSize\":"
		  "16384,\"zoneMapCap\":1},\"processes\":[]}");
	ASSERT_EQ(r->variant, REPORT_VARIANT_J3);
	ASSERT_EQ(r->n_events, 0);
	report_free(r);
	/* J3 by the process key freeze_skip_reason: (with its colon) */
	r = parse(HDR298
		  "{\n\"product\":\"iPhone13,2\",\"build\":\"iPhone OS 15.5 (19F77)\","
		  "\"memoryStatus\":{\"pageSize\":16384,\"zoneMapCap\":1},\"processes\":[{"
		  "\"name\":\"a\",\"freeze_skip_reason:\":\"out-of-budget\",\"rpages\":1}]}");
	ASSERT_EQ(r->variant, REPORT_VARIANT_J3);
	report_free(r);
	/* J4: the body starts with build, codeSigningMonitor */
	r = parse(HDR298
		  "{\n\"build\":\"iPhone OS 18.5 (22F76)\",\"product\":\"iPhone14,7\","
		  "\"codeSigningMonitor\":2,\"bug_type\":\"298\",\"memoryStatus\":{"
		  "\"pageSize\":16384},\"largestProcess\":\"kernel_task\",\"processes\":[]}");
	ASSERT_EQ(r->variant, REPORT_VARIANT_J4);
	ASSERT_STREQ(r->largest_process, "kernel_task");
	ASSERT_STREQ(r->os_version, "18.5");
	report_free(r);
	/* top-level pageSize is accepted when memoryStatus lacks it */
	r = parse("{\"product\":\"p\",\"pageSize\":4096,\"memoryStatus\":{},\"processes\":[{"
		  "\"name\":\"a\",\"rpages\":3,\"reason\":\"per-process-limit\"}]}");
	ASSERT_EQ(r->page_size, 4096);
	ASSERT_EQ(r->events[0].limit_bytes, 12288);
	report_free(r);
}

static void test_headers(void)
{
	struct report *r;
	const char *procs = "\"processes\":[{\"name\":\"a\",\"rpages\":1,\"reason\":\"x\"}]}";
	char buf[1024];

	/* header key orders: ale_flag first, timestamp first */
	snprintf(buf, sizeof(buf),
		 "{\"ale_flag\":true,\"bug_type\":\"298\",\"os_version\":\"iPhone OS 11.4 "
		 "(15F5061e)\",\"timestamp\":\"2018-08-15 15:13:24.07 -0500\",\"incident_id\":"
		 "\"I\"}\n{\n\"memoryStatus\":{\"pageSize\":16384},%s",
		 procs);
	r = parse(buf);
	ASSERT_EQ(r->status, REPORT_OK);
	ASSERT_STREQ(r->os_version, "11.4");
	ASSERT_STREQ(r->build, "15F5061e");
	ASSERT_STREQ(r->incident, "I");
	ASSERT_STREQ(r->timestamp, "2018-08-15 15:13:24.07 -0500");
	ASSERT_EQ(r->timestamp_epoch, 1534364004);
	ASSERT_EQ(r->variant, REPORT_VARIANT_J2); /* from the OS version */
	report_free(r);
	/* a header line cut at its start, as in pastebin copies */
	snprintf(buf, sizeof(buf),
		 "1-03 07:14:10.86 -0800\",\"os_version\":\"iPhone OS 14.1 (18A8395)\","
		 "\"incident_id\":\"CUT\"}\n{\n\"memoryStatus\":{\"pageSize\":16384},%s",
		 procs);
	r = parse(buf);
	ASSERT_EQ(r->status, REPORT_OK);
	ASSERT_STREQ(r->incident, "CUT");
	ASSERT_STREQ(r->build, "18A8395");
	ASSERT_EQ(r->n_events, 1);
	report_free(r);
	/* a compact body on one line, no header */
	snprintf(buf, sizeof(buf), "{\"memoryStatus\":{\"pageSize\":16384},%s\n", procs);
	r = parse(buf);
	ASSERT_EQ(r->status, REPORT_OK);
	ASSERT_EQ(r->n_events, 1);
	report_free(r);
	/* header only */
	r = parse(HDR298);
	ASSERT_EQ(r->status, REPORT_ERROR);
	ASSERT_STREQ(r->build, "19F77");
	CHECK(strstr(r->error, "no body") != NULL);
	report_free(r);
	/* a UTF-8 BOM and leading blank lines */
	snprintf(buf, sizeof(buf),
		 "\xef\xbb\xbf\n\n" HDR298 "{\"memoryStatus\":{\"pageSize\":1},%s", procs);
	r = parse(buf);
	ASSERT_EQ(r->status, REPORT_OK);
	report_free(r);
}

static void test_skipped(void)
{
	struct report *r;

	r = parse("{\"bug_type\":\"210\",\"os_version\":\"iPhone OS 15.5 (19F77)\"}\n"
		  "{\"panicString\":\"panic(cpu 0 caller 0x...)\"}");
	ASSERT_EQ(r->status, REPORT_SKIPPED);
	ASSERT_STREQ(r->bug_type, "210");
	ASSERT_STREQ(r->build, "19F77");
	CHECK(strstr(r->error, "'210'") != NULL);
	report_free(r);
	/* an ordinary crash (309, EXC_BAD_ACCESS) */
	r = parse("{\"app_name\":\"App\",\"bug_type\":\"309\"}\n{\n\"procName\":\"App\","
		  "\"exception\":"
		  "{\"type\":\"EXC_BAD_ACCESS\",\"signal\":\"SIGSEGV\",\"subtype\":"
		  "\"KERN_INVALID_ADDRESS at 0x10\"}}");
	ASSERT_EQ(r->status, REPORT_SKIPPED);
	ASSERT_EQ(r->n_events, 0);
	CHECK(strstr(r->error, "EXC_BAD_ACCESS") != NULL);
	report_free(r);
	/* an EXC_RESOURCE that is not about memory */
	r = parse("{\"bug_type\":\"309\"}\n{\"exception\":{\"type\":\"EXC_RESOURCE\",\"subtype\":"
		  "\"CPU\"}}");
	ASSERT_EQ(r->status, REPORT_SKIPPED);
	report_free(r);
	/* a memory diagnostic threshold report is no limit violation */
	r = parse(
		"{\"bug_type\":\"309\"}\n{\"exception\":{\"type\":\"EXC_RESOURCE\",\"subtype\":"
		"\"MEMORY\",\"message\":\"(Threshold 300 MB) Crossed Threshold For Diagnostic Log "
		"Generation (this log does not indicate a memory limit violation)\"}}");
	ASSERT_EQ(r->status, REPORT_SKIPPED);
	report_free(r);
	/* plain text that is no report at all */
	r = parse("hello world\nnothing to see\n");
	ASSERT_EQ(r->status, REPORT_SKIPPED);
	report_free(r);
	/* a text crash (iOS 14, bug_type 109) that is not EXC_RESOURCE */
	r = parse("{\"bug_type\":\"109\",\"os_version\":\"iPhone OS 14.2 (18B92)\"}\n"
		  "Incident Identifier: X\nHardware Model: iPhone12,1\nProcess: App [12]\n"
		  "Exception Type:  EXC_BAD_ACCESS (SIGSEGV)\n");
	ASSERT_EQ(r->status, REPORT_SKIPPED);
	ASSERT_STREQ(r->product, "iPhone12,1");
	report_free(r);
}

static void test_exc_resource(void)
{
	struct report *r;

	/* the JSON crash form, iOS 15+ */
	r = parse("{\"app_name\":\"MemoryTest\",\"timestamp\":\"2022-07-10 01:18:15.00 +0800\","
		  "\"slice_uuid\":\"A2F9F2DB-A110-3896-A0EC-D82C156055ED\",\"bug_type\":\"309\","
		  "\"os_version\":\"iPhone OS 15.5 (19F77)\",\"incident_id\":\"E1\"}\n{\n"
		  "  \"procRole\" : \"Foreground\",\n  \"modelCode\" : \"iPhone13,2\",\n"
		  "  \"osVersion\" : {\"isEmbedded\":true,\"train\":\"iPhone OS 15.5\",\"build\":"
		  "\"19F77\",\"releaseType\":\"User\"},\n  \"captureTime\" : \"2022-07-10 "
		  "01:18:14.9000 +0800\",\n  \"incident\" : \"E1\",\n  \"pid\" : 2541,\n"
		  "  \"bug_type\" : \"309\",\n  \"procName\" : \"MemoryTest\",\n"
		  "  \"exception\" : {\"codes\":\"0x0000000000000000, 0x0000000000000000\","
		  "\"rawCodes\":[0,0],\"type\":\"EXC_RESOURCE\",\"subtype\":\"MEMORY\",\"message\":"
		  "\"(Limit 2048 MB) Crossed High Water Mark\"},\n"
		  "  \"termination\" : {\"namespace\":\"JETSAM\",\"code\":0}\n}\n");
	ASSERT_EQ(r->status, REPORT_OK);
	ASSERT_EQ(r->variant, REPORT_VARIANT_EXC_JSON);
	ASSERT_STREQ(r->product, "iPhone13,2");
	ASSERT_STREQ(r->os_version, "15.5");
	ASSERT_STREQ(r->build, "19F77");
	ASSERT_STREQ(r->timestamp, "2022-07-10 01:18:15.00 +0800");
	ASSERT_EQ(r->n_events, 1);
	if (r->n_events == 1) {
		ASSERT_STREQ(r->events[0].process, "MemoryTest");
		ASSERT_EQ(r->events[0].pid, 2541);
		ASSERT_STREQ(r->events[0].uuid, "a2f9f2db-a110-3896-a0ec-d82c156055ed");
		ASSERT_STREQ(r->events[0].reason, "exc-resource-memory");
		ASSERT_EQ(r->events[0].role, REPORT_ROLE_FOREGROUND);
		ASSERT_EQ(r->events[0].limit_bytes, 2048LL * 1024 * 1024);
		ASSERT_EQ(r->events[0].footprint_bytes, REPORT_NULL);
		CHECK(r->events[0].bundle_id == NULL); /* none stated */
	}
	report_free(r);
	/* the bundle id: bundleInfo of the body, else the header's bundleID */
	r = parse("{\"app_name\":\"Maps\",\"bug_type\":\"309\",\"bundleID\":\"com.hdr.Maps\"}\n"
		  "{\"procName\":\"Maps\",\"bundleInfo\":{\"CFBundleShortVersionString\":\"1.0\","
		  "\"CFBundleIdentifier\":\"com.apple.Maps\"},\"exception\":{\"type\":"
		  "\"EXC_RESOURCE\",\"subtype\":\"MEMORY\",\"message\":\"(Limit 50 MB)\"}}\n");
	ASSERT_EQ(r->status, REPORT_OK);
	if (r->n_events == 1)
		ASSERT_STREQ(r->events[0].bundle_id, "com.apple.Maps");
	report_free(r);
	r = parse("{\"app_name\":\"Maps\",\"bug_type\":\"309\",\"bundleID\":\"com.hdr.Maps\"}\n"
		  "{\"procName\":\"Maps\",\"exception\":{\"type\":"
		  "\"EXC_RESOURCE\",\"subtype\":\"MEMORY\",\"message\":\"(Limit 50 MB)\"}}\n");
	ASSERT_EQ(r->status, REPORT_OK);
	if (r->n_events == 1)
		ASSERT_STREQ(r->events[0].bundle_id, "com.hdr.Maps");
	report_free(r);
	/* text: "Identifier:" when it is a bundle id, not a name with spaces */
	r = parse("Incident Identifier: T2\nHardware Model: iPhone10,1\nProcess: Maps [9]\n"
		  "Identifier: com.apple.Maps\nOS Version: iPhone OS 12.4 (16G77)\n"
		  "Exception Type: EXC_RESOURCE\nException Subtype: MEMORY\n"
		  "Exception Message: (limit=100 MB, unused=0x0)\n");
	ASSERT_EQ(r->status, REPORT_OK);
	if (r->n_events == 1)
		ASSERT_STREQ(r->events[0].bundle_id, "com.apple.Maps");
	report_free(r);
	r = parse("Incident Identifier: T3\nHardware Model: iPhone10,1\nProcess: Ext [9]\n"
		  "Identifier: My Ext.appex thing\nOS Version: iPhone OS 12.4 (16G77)\n"
		  "Exception Type: EXC_RESOURCE\nException Subtype: MEMORY\n"
		  "Exception Message: (limit=100 MB, unused=0x0)\n");
	ASSERT_EQ(r->status, REPORT_OK);
	if (r->n_events == 1)
		CHECK(r->events[0].bundle_id == NULL);
	report_free(r);
	/* the text crash form with an LLDB-style limit */
	r = parse("Incident Identifier: T1\nHardware Model: iPhone10,1\nProcess: Ext [99]\n"
		  "OS Version: iPhone OS 12.4 (16G77)\nRole: Non UI\n"
		  "Exception Type: EXC_RESOURCE\nException Subtype: MEMORY\n"
		  "Exception Message: (limit=1400 MB, unused=0x0)\n\nBinary Images:\n"
		  "0x100000000 - 0x100ffffff Ext arm64 <0123456789ABCDEF0123456789abcdef> /x\n");
	ASSERT_EQ(r->status, REPORT_OK);
	ASSERT_EQ(r->variant, REPORT_VARIANT_EXC_TEXT);
	ASSERT_EQ(r->n_events, 1);
	if (r->n_events == 1) {
		ASSERT_STREQ(r->events[0].process, "Ext");
		ASSERT_EQ(r->events[0].pid, 99);
		ASSERT_EQ(r->events[0].limit_bytes, 1400LL * 1024 * 1024);
		ASSERT_STREQ(r->events[0].uuid, "0123456789abcdef0123456789abcdef");
		ASSERT_EQ(r->events[0].role, REPORT_ROLE_BACKGROUND);
	}
	report_free(r);
	ASSERT_EQ(report_limit_from_message("(Limit 50 MB) Crossed", 21), 50LL << 20);
	ASSERT_EQ(report_limit_from_message("Crossed High Water Mark", 23), REPORT_NULL);
	ASSERT_EQ(report_limit_from_message("limit=", 6), REPORT_NULL);
}

static void test_text(void)
{
	struct report *r;

	/* T4 with '|' columns, '-' for recent_max, a Page Size line, and an End marker */
	r = parse(
		"Incident Identifier: A\nHardware Model: iPhone6,1\n"
		"OS Version: iPhone OS 8.3 (12F70)\nDate: 2015-05-01 11:13:20 -0700\n"
		"Page Size: 4096\nLargest process: Maps\n\nProcesses\n"
		"Name | <UUID> | CPU Time| rpages| purgeable| recent_max| lifetime_max| fds | "
		"[reason] | (state)\n"
		"Ext One | <2ccb94f29239352189cb94a831218c95> | 0.248 | 4255 | 0 | - | 5597 | 50 | "
		"[per-process-limit] | (frontmost)\n"
		"d <2ccb94f29239352189cb94a831218c96> 1.0 10 0 10 10 50 (daemon)\n**End**\n");
	ASSERT_EQ(r->status, REPORT_OK);
	ASSERT_EQ(r->variant, REPORT_VARIANT_T4);
	ASSERT_EQ(r->truncated, 0);
	ASSERT_EQ(r->page_size, 4096);
	ASSERT_EQ(r->n_events, 1);
	if (r->n_events == 1) {
		ASSERT_STREQ(r->events[0].process, "Ext One");
		ASSERT_EQ(r->events[0].rpages, 4255);
		ASSERT_EQ(r->events[0].lifetime_max_pages, 5597);
		ASSERT_EQ(r->events[0].limit_bytes, 4255 * 4096);
	}
	report_free(r);
	/* T3 without a Page Size line: footprint and limit stay null */
	r = parse("Incident Identifier: B\nHardware Model: iPad2,5\nFree pages: 922\nProcesses\n"
		  "Name <UUID> rpages recent_max fds [reason] (state)\n"
		  "App <b3574f4bded1315cb2e50e5de205be48> 100 100 200 [per-process-limit] "
		  "(frontmost)\n**End**\n");
	ASSERT_EQ(r->status, REPORT_OK);
	ASSERT_EQ(r->variant, REPORT_VARIANT_T3);
	ASSERT_EQ(r->events[0].rpages, 100);
	ASSERT_EQ(r->events[0].lifetime_max_pages, REPORT_NULL);
	ASSERT_EQ(r->events[0].footprint_bytes, REPORT_NULL);
	ASSERT_EQ(r->events[0].limit_bytes, REPORT_NULL);
	report_free(r);
	/* cut before the table: an error, not an empty list */
	r = parse("Incident Identifier: C\nHardware Model: iPad2,5\nFree pages: 922\nActive pa");
	ASSERT_EQ(r->status, REPORT_ERROR);
	report_free(r);
	/* an unknown table header */
	r = parse("Free pages: 1\nProcesses\nfoo bar\n");
	ASSERT_EQ(r->status, REPORT_ERROR);
	report_free(r);
}

static void test_bounds(void)
{
	struct report_opts small = {.max_size = 100};
	struct report *r;
	char *deep;
	size_t n = 100000;

	/* size limit */
	deep = malloc(n + 1);
	CHECK(deep != NULL);
	memset(deep, ' ', n);
	deep[n] = '\0';
	r = parse_n(deep, 101, &small);
	ASSERT_EQ(r->status, REPORT_ERROR);
	ASSERT_EQ(r->error_offset, 100);
	CHECK(strstr(r->error, "too large") != NULL);
	report_free(r);
	r = parse_n(deep, 100, &small);
	ASSERT_EQ(r->status, REPORT_ERROR); /* within the limit, but blank */
	CHECK(strstr(r->error, "empty") != NULL);
	report_free(r);
	/* deep nesting: refused before cJSON recurses */
	memset(deep, '[', n);
	deep[0] = '{';
	r = parse_n(deep, n, NULL);
	ASSERT_EQ(r->status, REPORT_ERROR);
	ASSERT_EQ(r->error_offset, REPORT_DEFAULT_MAX_DEPTH);
	CHECK(strstr(r->error, "nesting") != NULL);
	report_free(r);
	/* 32 levels pass the check (and are then an ordinary broken body) */
	r = parse_n(deep, 32, NULL);
	ASSERT_EQ(r->status, REPORT_ERROR);
	CHECK(strstr(r->error, "nesting") == NULL);
	report_free(r);
	/* brackets inside strings do not count */
	memset(deep, ' ', n);
	memcpy(deep, "{\"a\":\"", 6);
	memset(deep + 6, '[', 1000);
	memcpy(deep + 1006, "\\\"\",\"processes\":[]}", 19);
	r = parse_n(deep, 1025, NULL);
	ASSERT_EQ(r->status, REPORT_OK);
	report_free(r);
	free(deep);
	/* empty input */
	r = parse_n("", 0, NULL);
	ASSERT_EQ(r->status, REPORT_ERROR);
	report_free(r);
	ASSERT_EQ(report_parse(NULL, 3, NULL, &r), -EINVAL);
	ASSERT_EQ(report_parse("x", 1, NULL, NULL), -EINVAL);
	report_free(NULL);
}

static void test_broken(void)
{
	struct report *r;

	/* a truncated body: error with an offset, no events */
	r = parse(HDR298 "{\n\"memoryStatus\":{\"pageSize\":16384},\"processes\":[{\"name\":\"a\","
			 "\"rpages\":1,\"reason\":\"x\"},{\"na");
	ASSERT_EQ(r->status, REPORT_ERROR);
	ASSERT_EQ(r->n_events, 0);
	CHECK(r->error_offset > (int64_t)sizeof(HDR298));
	CHECK(strstr(r->error, "ends before") != NULL);
	ASSERT_STREQ(r->build, "19F77"); /* header facts are kept */
	report_free(r);
	/* an elision in the middle */
	r = parse(HDR298 "{\n\"processes\":[\n...\n]}");
	ASSERT_EQ(r->status, REPORT_ERROR);
	ASSERT_EQ(r->error_offset, (int64_t)sizeof(HDR298) - 1 + 16);
	CHECK(strstr(r->error, "invalid json") != NULL);
	report_free(r);
	/* data after the body */
	r = parse("{\"processes\":[]},\n{}");
	ASSERT_EQ(r->status, REPORT_ERROR);
	ASSERT_EQ(r->error_offset, 16);
	report_free(r);
	/* processes of the wrong type */
	r = parse(HDR298 "{\"processes\":{}}");
	ASSERT_EQ(r->status, REPORT_ERROR);
	report_free(r);
	r = parse(HDR298 "{\"processes\":[1]}");
	ASSERT_EQ(r->status, REPORT_ERROR);
	report_free(r);
	r = parse(HDR298 "{\"largestProcess\":\"x\"}");
	ASSERT_EQ(r->status, REPORT_ERROR);
	report_free(r);
	/* a body without its opening brace (a doc listing) */
	r = parse("\"product\" : \"iPad8,2\",\n\"memoryStatus\" : {}\n");
	ASSERT_EQ(r->status, REPORT_ERROR);
	ASSERT_EQ(r->error_offset, 0);
	report_free(r);
}

static void test_bytes(void)
{
	static const char nul[] = "{\"processes\":[{\"name\":\"a\x00b\",\"reason\":\"x\"}]}";
	static const char nul_escaped[] =
		"{\"processes\":[{\"name\":\"a\\u0000b\",\"rpages\":1,\"reason\":\"x\"}]}";
	static const char bad_utf8[] =
		"{\"processes\":[{\"name\":\"caf\xe9\xff\xc0\xaf\xed\xa0\x80\",\"reason\":\"x\"}]}";
	static const char text_nul[] =
		"Free pages: 1\nProcesses\nName <UUID> rpages recent_max "
		"[reason] (state)\nA\x00z <b3574f4bded1315cb2e50e5de205be48> "
		"5 5 [vm] (daemon)\n";
	struct report *r;
	cJSON *obj, *back;
	char *text;

	r = parse_n(nul, sizeof(nul) - 1, NULL); /* raw NUL inside a string */
	CHECK(r->status == REPORT_OK || r->status == REPORT_ERROR);
	report_free(r);
	r = parse_n(nul_escaped, sizeof(nul_escaped) - 1, NULL);
	ASSERT_EQ(r->status, REPORT_OK);
	ASSERT_STREQ(r->events[0].process, "a"); /* cJSON stops at the NUL */
	report_free(r);
	/* invalid UTF-8 becomes U+FFFD, so the JSON output stays valid */
	r = parse_n(bad_utf8, sizeof(bad_utf8) - 1, NULL);
	ASSERT_EQ(r->status, REPORT_OK);
	ASSERT_STREQ(r->events[0].process, "caf\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
					   "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
	obj = report_json_result(r, "f");
	text = cJSON_PrintUnformatted(obj);
	back = cJSON_Parse(text);
	CHECK(back != NULL);
	cJSON_Delete(back);
	cJSON_free(text);
	cJSON_Delete(obj);
	report_free(r);
	/* a NUL inside a text row */
	r = parse_n(text_nul, sizeof(text_nul) - 1, NULL);
	ASSERT_EQ(r->status, REPORT_OK);
	ASSERT_EQ(r->n_events, 1);
	ASSERT_STREQ(r->events[0].process, "A\xef\xbf\xbdz");
	report_free(r);
	/* valid multibyte UTF-8 is kept */
	{
		char *s = report_strdup_clean("\xe6\x97\xa5\xf0\x9f\x98\x80", 7);

		ASSERT_STREQ(s, "\xe6\x97\xa5\xf0\x9f\x98\x80");
		free(s);
	}
}

/* Reference for report_depth_exceeded(): byte by byte, as the JSON grammar reads. */
static int64_t depth_reference(const char *p, size_t n, int max, int *open)
{
	int depth = 0, in_str = 0, esc = 0;

	for (size_t i = 0; i < n; i++) {
		char c = p[i];

		if (in_str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				in_str = 0;
		} else if (c == '"') {
			in_str = 1;
		} else if (c == '{' || c == '[') {
			if (++depth > max)
				return (int64_t)i;
		} else if (c == '}' || c == ']') {
			depth--;
		}
	}
	*open = in_str ? 2 : depth > 0;
	return -1;
}

/* The SIMD block scan agrees with the reference on random bracket/quote/escape soup. */
static void test_depth_scan(void)
{
	static const char alphabet[] = "\"\\{[}]a \n:,";
	uint64_t seed = 0x9e3779b97f4a7c15ULL;
	char buf[700];
	int mismatches = 0;

	for (int iter = 0; iter < 20000; iter++) {
		size_t n;
		int max = 1 + iter % 40, open_a = -1, open_b = -1;
		int64_t a, b;

		seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
		n = (size_t)(seed >> 33) % sizeof(buf);
		for (size_t i = 0; i < n;) {
			/* runs of a kind: any byte, quotes without brackets (blocks the SIMD scan
			 * classifies by quote parity alone), dense brackets and quotes */
			size_t run, kind;

			seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
			run = 1 + (seed >> 40) % 150;
			kind = (seed >> 20) % 3;
			for (; run > 0 && i < n; run--, i++) {
				seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
				if (kind == 0)
					buf[i] = alphabet[(seed >> 40) % 12];
				else if (kind == 1)
					buf[i] = "\"a \n:,"[(seed >> 40) % 6];
				else
					buf[i] = alphabet[(seed >> 40) % 6];
			}
		}
		a = report_depth_exceeded(buf, n, max, &open_a);
		b = depth_reference(buf, n, max, &open_b);
		if (a != b || (a < 0 && open_a != open_b))
			mismatches++;
	}
	ASSERT_EQ(mismatches, 0);
}

static void test_helpers(void)
{
	struct report r0;

	ASSERT_EQ(report_time_parse("2020-10-15 17:29:58.00 +0100", 28), 1602779398);
	ASSERT_EQ(report_time_parse("2015-05-01 11:13:20 -0700", 25), 1430504000);
	ASSERT_EQ(report_time_parse("2015-04-27 17:04:21.380 -0700", 29), 1430179461);
	ASSERT_EQ(report_time_parse("2000-01-01T00:00:00Z", 20), 946684800);
	ASSERT_EQ(report_time_parse("2000-01-01 00:00:00+05:30", 25), 946684800 - 19800);
	ASSERT_EQ(report_time_parse("2020-10-15 17:29:58", 19), REPORT_NULL); /* no zone */
	ASSERT_EQ(report_time_parse("2020-13-15 17:29:58 +0000", 25), REPORT_NULL);
	ASSERT_EQ(report_time_parse("garbage", 7), REPORT_NULL);

	memset(&r0, 0, sizeof(r0));
	ASSERT_EQ(report_split_os(&r0, "iPhone OS 15.5 (19F77)", 22), 0);
	ASSERT_STREQ(r0.os_name, "iPhone OS");
	ASSERT_STREQ(r0.os_version, "15.5");
	ASSERT_STREQ(r0.build, "19F77");
	free(r0.os_name);
	free(r0.os_version);
	free(r0.build);
	memset(&r0, 0, sizeof(r0));
	ASSERT_EQ(report_split_os(&r0, "Watch OS 7.0.1", 14), 0);
	ASSERT_STREQ(r0.os_name, "Watch OS");
	ASSERT_STREQ(r0.os_version, "7.0.1");
	ASSERT_STREQ(r0.build, NULL);
	free(r0.os_name);
	free(r0.os_version);
	memset(&r0, 0, sizeof(r0));
	ASSERT_EQ(report_split_os(&r0, "(", 1), 0);
	ASSERT_STREQ(r0.os_name, "(");
	free(r0.os_name);

	ASSERT_STREQ(report_variant_name(REPORT_VARIANT_J3), "J3");
	ASSERT_STREQ(report_variant_name(REPORT_VARIANT_EXC_JSON), "exc-json");
	ASSERT_STREQ(report_variant_name((enum report_variant)99), "unknown");
	ASSERT_STREQ(report_status_name(REPORT_SKIPPED), "skipped");
}

/* The JSON objects have exactly the documented keys, in order. */
static void test_json_schema(void)
{
	static const char *const rkeys[] = {"incident",	  "bug_type",	     "product",
					    "os_version", "build",	     "timestamp",
					    "page_size",  "largest_process", "variant"};
	static const char *const ekeys[] = {"process",	       "pid",	      "uuid",
					    "reason",	       "role",	      "states",
					    "priority",	       "rpages",      "page_size",
					    "footprint_bytes", "limit_bytes", "lifetime_max_pages"};
	static const char *const top[] = {"file", "status", "error", "report", "events"};
	char *s = body("16384",
		       PROC("App", 5, 10, "\"frontmost\"", ", \"reason\" : \"per-process-limit\""));
	struct report *r = parse(s);
	cJSON *res = report_json_result(r, "x.ips"), *it, *fail;
	size_t i;

	i = 0;
	cJSON_ArrayForEach(it, res)
	{
		CHECK(i < 5 && strcmp(it->string, top[i]) == 0);
		i++;
	}
	ASSERT_EQ(i, 5);
	i = 0;
	cJSON_ArrayForEach(it, cJSON_GetObjectItem(res, "report"))
	{
		CHECK(i < 9 && strcmp(it->string, rkeys[i]) == 0);
		i++;
	}
	ASSERT_EQ(i, 9);
	i = 0;
	cJSON_ArrayForEach(it, cJSON_GetArrayItem(cJSON_GetObjectItem(res, "events"), 0))
	{
		CHECK(i < 12 && strcmp(it->string, ekeys[i]) == 0);
		i++;
	}
	ASSERT_EQ(i, 12);
	it = cJSON_GetArrayItem(cJSON_GetObjectItem(res, "events"), 0);
	ASSERT_EQ(cJSON_GetObjectItem(it, "limit_bytes")->valuedouble, 163840);
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(res, "error")));
	ASSERT_STREQ(
		cJSON_GetObjectItem(cJSON_GetObjectItem(res, "report"), "variant")->valuestring,
		"J2");
	cJSON_Delete(res);
	fail = report_json_failure("gone.ips", "cannot read 'gone.ips': No such file or directory");
	ASSERT_STREQ(cJSON_GetObjectItem(fail, "status")->valuestring, "error");
	CHECK(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(fail, "report"), "product")));
	ASSERT_EQ(cJSON_GetArraySize(cJSON_GetObjectItem(fail, "events")), 0);
	cJSON_Delete(fail);
	report_free(r);
	free(s);
}

int main(void)
{
	test_json_basic();
	test_page_size();
	test_role_rule();
	test_duplicate_names();
	test_huge_numbers();
	test_negative();
	test_variants();
	test_headers();
	test_skipped();
	test_exc_resource();
	test_text();
	test_bounds();
	test_broken();
	test_bytes();
	test_helpers();
	test_depth_scan();
	test_json_schema();
	return CHECK_DONE();
}
