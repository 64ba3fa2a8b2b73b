/* test-ctl-junit.c: unit tests of gate end's JUnit XML and TAP writers (escaping, counts) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "gate_report.h"

/* Run writer on g into a new string (caller frees) */
static char *render(int (*writer)(FILE *, const struct gate_result *), const struct gate_result *g)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	CHECK(writer(f, g) == 0);
	fclose(f);
	return buf;
}

static char *xml_text(const char *s, int attr)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	gate_xml_text(f, s, attr);
	fclose(f);
	return buf;
}

static int count(const char *text, const char *word)
{
	int n = 0;

	for (; (text = strstr(text, word)) != NULL; text += strlen(word))
		n++;
	return n;
}

static void test_escape(void)
{
	char *s;

	s = xml_text("a&b<c>d\"e'f", 0);
	ASSERT_STREQ(s, "a&amp;b&lt;c&gt;d&quot;e&apos;f");
	free(s);
	/* control characters are not allowed in XML 1.0: U+FFFD; tab and newline stay */
	s = xml_text("x\001y\033z\tw\nv", 0);
	ASSERT_STREQ(s, "x\xEF\xBF\xBDy\xEF\xBF\xBDz\tw\nv");
	free(s);
	/* in an attribute, tab and newline are character references */
	s = xml_text("a\tb\nc\rd", 1);
	ASSERT_STREQ(s, "a&#9;b&#10;c&#13;d");
	free(s);
	/* valid UTF-8 stays, invalid bytes (a lone continuation, a cut sequence, an encoded
	 * surrogate, an overlong '/') become U+FFFD */
	s = xml_text("\xF0\x9F\x9A\x80 caf\xC3\xA9", 0);
	ASSERT_STREQ(s, "\xF0\x9F\x9A\x80 caf\xC3\xA9");
	free(s);
	s = xml_text("a\x80z\xE2\x82", 0);
	ASSERT_STREQ(s, "a\xEF\xBF\xBDz\xEF\xBF\xBD\xEF\xBF\xBD");
	free(s);
	s = xml_text("\xED\xA0\x80|\xC0\xAF", 0);
	ASSERT_STREQ(s, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD|\xEF\xBF\xBD\xEF\xBF\xBD");
	free(s);
	s = xml_text(NULL, 0);
	ASSERT_STREQ(s, "");
	free(s);
}

static const char *phones_json =
	"[{\"udid\":\"U1\",\"name\":\"Lab <7> & \\\"QA's\\\"\",\"product\":\"iPhone13,2\"},"
	"{\"udid\":\"U2\",\"name\":\"\\u0001bell\",\"product\":\"iPad14,5\"},"
	"{\"udid\":\"U3\",\"product\":\"iPhone14,5\"},"
	"{\"udid\":\"U4\",\"name\":\"# not a directive\",\"product\":null,"
	"\"error\":\"phone locked\"}]";
static const char *kills_json =
	"[{\"udid\":\"U1\",\"product\":\"iPhone13,2\",\"product_name\":\"iPhone 12\","
	"\"build\":\"19F77\",\"process\":\"My&App\",\"reason\":\"per-process-limit\","
	"\"footprint_bytes\":1519386624,\"limit_bytes\":1519386624,"
	"\"time\":\"2026-11-29T10:00:00Z\",\"collected_at\":\"2026-12-02T08:00:00Z\"},"
	"{\"udid\":\"U1\",\"process\":\"MyApp\",\"reason\":\"vm-pageshortage\"},"
	"{\"udid\":\"U3\",\"reason\":\"a<b\"},"
	"{\"udid\":\"U9\",\"process\":\"MyApp\",\"reason\":\"x\"}]";

static void test_junit(void)
{
	cJSON *phones = cJSON_Parse(phones_json), *kills = cJSON_Parse(kills_json);
	struct gate_result g = {.app = "my*", .phones = phones, .kills = kills};
	int tests, failures, errors;
	char *s;

	CHECK(phones != NULL && kills != NULL);
	/* the kill of U9 (not a listed phone) is not counted */
	gate_report_counts(&g, &tests, &failures, &errors);
	ASSERT_EQ(tests, 4);
	ASSERT_EQ(failures, 3);
	ASSERT_EQ(errors, 1);
	s = render(gate_junit_write, &g);
	CHECK(strncmp(s, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites",
		      strlen("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites")) == 0);
	CHECK(strstr(s, "<testsuite name=\"jetsamd-gate\" tests=\"4\" failures=\"3\" "
			"errors=\"1\"") != NULL);
	ASSERT_EQ(count(s, "<testcase "), 4);
	ASSERT_EQ(count(s, "<failure "), 3);
	ASSERT_EQ(count(s, "</failure>"), 3);
	ASSERT_EQ(count(s, "<error "), 1);
	CHECK(strstr(s, "name=\"Lab &lt;7&gt; &amp; &quot;QA&apos;s&quot;\" "
			"classname=\"iPhone13,2\"") != NULL);
	CHECK(strstr(s, "name=\"\xEF\xBF\xBD"
			"bell\"") != NULL);
	/* no name: the UDID; no product: "unknown" */
	CHECK(strstr(s, "name=\"U3\" classname=\"iPhone14,5\"") != NULL);
	CHECK(strstr(s, "classname=\"unknown\"") != NULL);
	CHECK(strstr(s, "message=\"My&amp;App killed: per-process-limit\"") != NULL);
	/* the process killed; without one, the pattern */
	CHECK(strstr(s, "message=\"MyApp killed: vm-pageshortage\"") != NULL);
	CHECK(strstr(s, "message=\"my* killed: a&lt;b\"") != NULL);
	CHECK(strstr(s, "<error message=\"sync failed: phone locked\"") != NULL);
	CHECK(strstr(s, "product_name: iPhone 12\n") != NULL);
	CHECK(strstr(s, "build: 19F77\n") != NULL);
	CHECK(strstr(s, "footprint: 1519386624 (1449.0 MiB)\n") != NULL);
	CHECK(strstr(s, "kill_time: 2026-11-29T10:00:00Z\n") != NULL);
	CHECK(strstr(s, "collected_at: 2026-12-02T08:00:00Z\n") != NULL);
	CHECK(strstr(s, "U9") == NULL);
	CHECK(strstr(s, "\001") == NULL);
	free(s);

	s = render(gate_tap_write, &g);
	CHECK(strncmp(s, "TAP version 13\n1..4\n", 20) == 0);
	CHECK(strstr(s, "not ok 1 - Lab <7> & \"QA's\" (iPhone13,2)\n") != NULL);
	CHECK(strstr(s, "\nok 2 -  bell (iPad14,5)\n") != NULL);
	CHECK(strstr(s, "\nnot ok 3 - U3 (iPhone14,5)\n") != NULL);
	CHECK(strstr(s, "\nnot ok 4 - \\# not a directive (unknown)\n") != NULL);
	CHECK(strstr(s, "  message: \"my* killed 2 times\"\n  severity: fail\n") != NULL);
	CHECK(strstr(s, "  message: \"sync failed: phone locked\"\n  severity: error\n") != NULL);
	ASSERT_EQ(count(s, "\n    - process: \"MyApp\"\n"), 1);
	ASSERT_EQ(count(s, "\n    - process: \"My&App\"\n"), 1);
	ASSERT_EQ(count(s, "\n    - process: \"-\"\n"), 1);
	ASSERT_EQ(count(s, "  ---\n"), 3);
	ASSERT_EQ(count(s, "  ...\n"), 3);
	CHECK(strstr(s, "      reason: \"a<b\"\n") != NULL);
	free(s);

	/* no phone, no kill: a valid empty suite */
	cJSON_Delete(phones);
	cJSON_Delete(kills);
	phones = cJSON_CreateArray();
	kills = cJSON_CreateArray();
	g.phones = phones;
	g.kills = kills;
	s = render(gate_junit_write, &g);
	CHECK(strstr(s, "tests=\"0\" failures=\"0\" errors=\"0\"") != NULL);
	CHECK(strstr(s, "</testsuite>\n</testsuites>\n") != NULL);
	free(s);
	s = render(gate_tap_write, &g);
	ASSERT_STREQ(s, "TAP version 13\n1..0\n");
	free(s);
	cJSON_Delete(phones);
	cJSON_Delete(kills);
}

int main(void)
{
	test_escape();
	test_junit();
	return CHECK_DONE();
}
