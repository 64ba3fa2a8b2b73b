/* test-ctl-output.c: unit tests of jetsamctl's tables (80 columns), CSV, MiB, relative times */
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "output.h"

/* Render t at width with flags into a new string (caller frees) */
static char *render(const struct table *t, int width, int flags)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);

	table_print(t, f, width, flags);
	fclose(f);
	return buf;
}

/* The widest line of text, in columns */
static int max_line_width(const char *text)
{
	int max = 0;
	char *copy = strdup(text), *save = NULL, *line;

	for (line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save))
		if (text_width(line) > max)
			max = text_width(line);
	free(copy);
	return max;
}

/* Column (0-based, display columns) where needle starts in line, or -1 */
static int column_of(const char *line, const char *needle)
{
	const char *p = strstr(line, needle);
	char *prefix;
	int w;

	if (p == NULL)
		return -1;
	prefix = strndup(line, (size_t)(p - line));
	w = text_width(prefix);
	free(prefix);
	return w;
}

/* Line n (0-based) of text, in a static buffer */
static const char *line_n(const char *text, int n)
{
	static char buf[1024];
	const char *p = text, *e;

	while (n-- > 0 && p != NULL) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (p == NULL)
		return "";
	e = strchr(p, '\n');
	snprintf(buf, sizeof(buf), "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
	return buf;
}

static void test_text(void)
{
	char buf[64], *s;

	ASSERT_EQ(text_width(""), 0);
	ASSERT_EQ(text_width("abc"), 3);
	ASSERT_EQ(text_width("Jane\xe2\x80\x99s iPhone"), 13); /* U+2019 */
	ASSERT_EQ(text_width("\xe6\x97\xa5\xe6\x9c\xac"), 4);  /* two CJK, double width */
	ASSERT_EQ(text_width("e\xcc\x81"), 1);		       /* e + combining acute */
	ASSERT_EQ(text_width("\xf0\x9f\x98\x80"), 2);	       /* emoji */
	ASSERT_EQ(text_width("a\xff"), 2);		       /* invalid byte shown as ? */

	s = text_sanitize("a\x1b[31mb\tc\xff\xe2\x80\xae");
	ASSERT_STREQ(s, "a?[31mb?c??");
	free(s);

	text_fit(buf, sizeof(buf), "iPhone13,2 (iPhone 12)", 10, "\xe2\x80\xa6", 1);
	ASSERT_STREQ(buf, "iPhone13,\xe2\x80\xa6");
	ASSERT_EQ(text_width(buf), 10);
	text_fit(buf, sizeof(buf), "iPhone13,2 (iPhone 12)", 10, "...", 3);
	ASSERT_STREQ(buf, "iPhone1...");
	text_fit(buf, sizeof(buf), "short", 10, "...", 3);
	ASSERT_STREQ(buf, "short");
	text_fit(buf, sizeof(buf), "exactly10!", 10, "...", 3);
	ASSERT_STREQ(buf, "exactly10!");
	/* a double-width character is never cut in half */
	text_fit(buf, sizeof(buf), "ab\xe6\x97\xa5\xe6\x9c\xac", 4, "\xe2\x80\xa6", 1);
	ASSERT_STREQ(buf, "ab\xe2\x80\xa6");
	/* a tiny buffer stays terminated */
	text_fit(buf, 4, "abcdefgh", 8, "...", 3);
	ASSERT_STREQ(buf, "abc");
}

static void test_values(void)
{
	char buf[64];
	time_t now = 1795428000;

	fmt_mib(buf, sizeof(buf), 1519386624.0); /* 92736 pages of 16384 */
	ASSERT_STREQ(buf, "1449.0");
	fmt_mib(buf, sizeof(buf), 0);
	ASSERT_STREQ(buf, "0.0");
	fmt_mib(buf, sizeof(buf), 1572864.0);
	ASSERT_STREQ(buf, "1.5");
	fmt_mib(buf, sizeof(buf), 6442450944.0);
	ASSERT_STREQ(buf, "6144.0");
	fmt_mib(buf, sizeof(buf), 104858.0); /* 0.1 MiB */
	ASSERT_STREQ(buf, "0.1");

	fmt_reltime(buf, sizeof(buf), now, now);
	ASSERT_STREQ(buf, "just now");
	fmt_reltime(buf, sizeof(buf), now - 42, now);
	ASSERT_STREQ(buf, "42 s ago");
	fmt_reltime(buf, sizeof(buf), now - 180, now);
	ASSERT_STREQ(buf, "3 min ago");
	fmt_reltime(buf, sizeof(buf), now - 3599, now);
	ASSERT_STREQ(buf, "59 min ago");
	fmt_reltime(buf, sizeof(buf), now - 5 * 3600 - 10, now);
	ASSERT_STREQ(buf, "5 h ago");
	fmt_reltime(buf, sizeof(buf), now - 3 * 86400, now);
	ASSERT_STREQ(buf, "3 days ago");
	fmt_reltime(buf, sizeof(buf), now + 180, now);
	ASSERT_STREQ(buf, "in 3 min");
	fmt_reltime(buf, sizeof(buf), now - 90 * 86400, now);
	ASSERT_STREQ(buf, "2026-08-25");
	fmt_reltime_str(buf, sizeof(buf), "2026-11-23T09:57:00Z", now);
	ASSERT_STREQ(buf, "3 min ago");
	fmt_reltime_str(buf, sizeof(buf), "garbage", now);
	ASSERT_STREQ(buf, "-");
	fmt_reltime_str(buf, sizeof(buf), NULL, now);
	ASSERT_STREQ(buf, "-");

	fmt_os(buf, sizeof(buf), "15.5", "19F77");
	ASSERT_STREQ(buf, "15.5 (19F77)");
	fmt_os(buf, sizeof(buf), NULL, "19F77");
	ASSERT_STREQ(buf, "19F77");
	fmt_os(buf, sizeof(buf), NULL, NULL);
	ASSERT_STREQ(buf, "-");
}

static void test_json_fields(void)
{
	cJSON *o = cJSON_Parse("{\"s\":\"x\",\"n\":1519386624,\"z\":null,\"f\":2.5}");
	char buf[64];
	double v = 0;

	ASSERT_STREQ(jstr(o, "s"), "x");
	ASSERT_STREQ(jstr(o, "n"), NULL);
	ASSERT_STREQ(jstr(o, "missing"), NULL);
	ASSERT_STREQ(jstr_or(o, "z", "-"), "-");
	ASSERT_EQ(jnum(o, "n", &v), 0);
	ASSERT_EQ((long long)v, 1519386624LL);
	ASSERT_EQ(jnum(o, "s", &v), -1);
	fmt_jnum(buf, sizeof(buf), o, "n");
	ASSERT_STREQ(buf, "1519386624");
	fmt_jnum(buf, sizeof(buf), o, "f");
	ASSERT_STREQ(buf, "2.5");
	fmt_jnum(buf, sizeof(buf), o, "z");
	ASSERT_STREQ(buf, "-");
	fmt_jmib(buf, sizeof(buf), o, "n");
	ASSERT_STREQ(buf, "1449.0");
	fmt_jmib(buf, sizeof(buf), o, "z");
	ASSERT_STREQ(buf, "-");
	cJSON_Delete(o);
}

static void test_csv(void)
{
	char *buf = NULL;
	size_t size = 0;
	FILE *f = open_memstream(&buf, &size);
	cJSON *v = cJSON_Parse("{\"n\":1519386624,\"b\":true,\"a\":[\"frontmost\",\"resume\"],"
			       "\"z\":null,\"o\":{\"k\":1},\"d\":-12.5}");
	static const char *const header[] = {"a", "b,c", NULL};

	csv_header(f, header);
	csv_field(f, 1, "plain");
	csv_field(f, 0, "b,c");
	csv_field(f, 0, "say \"hi\"");
	csv_field(f, 0, "line\nbreak");
	csv_field(f, 0, NULL);
	csv_field(f, 0, "");
	csv_field(f, 0, " padded");
	csv_end(f);
	csv_json(f, 1, cJSON_GetObjectItem(v, "n"));
	csv_json(f, 0, cJSON_GetObjectItem(v, "b"));
	csv_json(f, 0, cJSON_GetObjectItem(v, "a"));
	csv_json(f, 0, cJSON_GetObjectItem(v, "z"));
	csv_json(f, 0, cJSON_GetObjectItem(v, "missing"));
	csv_json(f, 0, cJSON_GetObjectItem(v, "o"));
	csv_json(f, 0, cJSON_GetObjectItem(v, "d"));
	csv_end(f);
	fclose(f);
	ASSERT_STREQ(buf, "a,\"b,c\"\n"
			  "plain,\"b,c\",\"say \"\"hi\"\"\",\"line\nbreak\",,,\" padded\"\n"
			  "1519386624,true,frontmost;resume,,,\"{\"\"k\"\":1}\",-12.5\n");
	free(buf);
	cJSON_Delete(v);
}

static const struct table_column devcols[] = {
	{"UDID", TABLE_LEFT, 10, 0},	 {"NAME", TABLE_LEFT, 8, 0},
	{"PRODUCT", TABLE_LEFT, 12, 0},	 {"OS", TABLE_LEFT, 0, 3},
	{"STATE", TABLE_LEFT, 0, 0},	 {"REPORTS", TABLE_RIGHT, 0, 2},
	{"LAST SYNC", TABLE_LEFT, 0, 1},
};

static struct table *device_table(void)
{
	struct table *t = table_new(devcols, sizeof(devcols) / sizeof(devcols[0]));

	table_add(t, "00008101-000A1B2C3D4E5F60", NULL);
	table_add(t, "Lab bench 7 \xe2\x80\x94 the very long phone name of QA", NULL);
	table_add(t, "iPad14,5 (iPad Pro (12.9-inch) (6th generation))", NULL);
	table_add(t, "16.4.1 (20E252)", NULL);
	table_add(t, "idle", "32");
	table_add(t, "1234", NULL);
	table_add(t, "3 min ago", NULL);

	table_add(t, "abc", NULL);
	table_add(t, "short", NULL);
	table_add(t, "iPhone13,2 (iPhone 12)", NULL);
	table_add(t, "15.5 (19F77)", NULL);
	table_add(t, "untrusted", "1;31");
	table_add(t, "7", NULL);
	table_add(t, NULL, NULL);
	return t;
}

static void test_table(void)
{
	struct table *t = device_table();
	int widths[7], total, i;
	char *out, *udid, *name;

	ASSERT_EQ(table_rows(t), 2);

	/* unlimited: everything shown in full, aligned */
	total = table_layout(t, 0, widths);
	for (i = 0; i < 7; i++)
		CHECK(widths[i] > 0);
	out = render(t, 0, 0);
	CHECK(strstr(out, "iPad14,5 (iPad Pro (12.9-inch) (6th generation))") != NULL);
	ASSERT_EQ(max_line_width(out), total);
	free(out);

	/* 80 columns: no line longer, long cells ellipsized, columns aligned */
	total = table_layout(t, 80, widths);
	CHECK(total <= 80);
	out = render(t, 80, 0);
	ASSERT_EQ(max_line_width(out), total);
	CHECK(max_line_width(out) <= 80);
	CHECK(strstr(out, "\xe2\x80\xa6") != NULL);
	CHECK(strstr(out, "STATE") != NULL);
	/* left-aligned columns start at the header's column on every row */
	ASSERT_EQ(column_of(line_n(out, 0), "NAME"), column_of(line_n(out, 1), "Lab bench"));
	ASSERT_EQ(column_of(line_n(out, 0), "NAME"), column_of(line_n(out, 2), "short"));
	ASSERT_EQ(column_of(line_n(out, 0), "STATE"), column_of(line_n(out, 1), "idle"));
	ASSERT_EQ(column_of(line_n(out, 0), "STATE"), column_of(line_n(out, 2), "untrusted"));
	/* right-aligned numbers end at the header's end */
	if (widths[5] >= 0)
		ASSERT_EQ(column_of(line_n(out, 0), "REPORTS") + 7,
			  column_of(line_n(out, 1), "1234") + 4);
	/* no trailing blanks */
	CHECK(strstr(out, " \n") == NULL);
	udid = strstr(out, "00008101");
	name = strstr(out, "Lab bench");
	CHECK(udid != NULL && name != NULL);
	free(out);

	/* ASCII ellipsis */
	out = render(t, 80, TABLE_ASCII);
	CHECK(strstr(out, "...") != NULL);
	CHECK(strstr(out, "\xe2\x80\xa6") == NULL);
	CHECK(max_line_width(out) <= 80);
	free(out);

	/* colour: bold header, cell styles, widths unchanged by escapes */
	out = render(t, 80, TABLE_COLOR);
	CHECK(strstr(out, "\033[1mUDID\033[0m") != NULL);
	CHECK(strstr(out, "\033[32midle\033[0m") != NULL);
	free(out);

	/* 40 columns: even the minimum widths do not fit: every droppable column goes, the
	 * others keep their minimum (the line stays too long rather than lose them) */
	total = table_layout(t, 40, widths);
	ASSERT_EQ(widths[6], -1);
	ASSERT_EQ(widths[5], -1);
	ASSERT_EQ(widths[3], -1);
	CHECK(widths[0] >= 10 && widths[1] >= 8 && widths[2] >= 12 && widths[4] >= 9);
	out = render(t, 40, 0);
	CHECK(strstr(out, "LAST SYNC") == NULL);
	CHECK(strstr(out, "REPORTS") == NULL);
	ASSERT_EQ(max_line_width(out), total);
	free(out);

	/* 70 columns: only OS (highest drop number, 3) has to go */
	total = table_layout(t, 70, widths);
	CHECK(total <= 70);
	ASSERT_EQ(widths[3], -1);
	CHECK(widths[5] >= 0 && widths[6] >= 0);

	/* 100 columns: shrinking is enough, every column stays */
	total = table_layout(t, 100, widths);
	CHECK(total <= 100);
	for (i = 0; i < 7; i++)
		CHECK(widths[i] >= 0);
	table_free(t);

	/* a shorter alternative text is preferred to an ellipsis when it fits */
	{
		static const struct table_column c2[] = {{"PRODUCT", TABLE_LEFT, 10, 0},
							 {"X", TABLE_LEFT, 0, 0}};
		t = table_new(c2, 2);
		table_add_alt(t, "iPhone13,2 (iPhone 12)", "iPhone13,2", NULL);
		table_add(t, "x", NULL);
		table_add_alt(t, "iPad14,5 (iPad Pro (12.9-inch) (6th generation))", "iPad14,5",
			      NULL);
		table_add(t, "y", NULL);
		out = render(t, 15, 0);
		ASSERT_STREQ(out, "PRODUCT     X\niPhone13,2  x\niPad14,5    y\n");
		free(out);
		out = render(t, 0, 0);
		CHECK(strstr(out, "iPhone13,2 (iPhone 12)") != NULL);
		free(out);
		out = render(t, 30, TABLE_ASCII);
		CHECK(strstr(out, "iPhone13,2 (iPhone 12)       x") != NULL);
		CHECK(strstr(out, "iPad14,5 (iPad Pro (12.9...  y") != NULL);
		free(out);
		table_free(t);
	}

	/* an empty table is just the header */
	t = table_new(devcols, 7);
	out = render(t, 80, 0);
	ASSERT_STREQ(out, "UDID  NAME  PRODUCT  OS  STATE  REPORTS  LAST SYNC\n");
	free(out);
	table_free(t);
	table_free(NULL);
}

/* A whole column (TABLE_WHOLE) is never cut: in full, or its alt texts before anything
 * is dropped; wide characters (wcwidth 2 in a UTF-8 locale) keep the columns aligned */
static void test_whole(void)
{
	static const struct table_column cols[] = {{"UDID", TABLE_LEFT, TABLE_WHOLE, 0},
						   {"NAME", TABLE_LEFT, 6, 0},
						   {"OS", TABLE_LEFT, 0, 1}};
	static const char *const udid = "00008101-000A1B2C3D4E5F60";
	struct table *t = table_new(cols, 3);
	int widths[3];
	char *out;

	table_add_alt(t, udid, "00008101-000A", NULL);
	table_add(t, "\xf0\x9f\x9a\x80 Rocket lab phone", NULL); /* U+1F680 */
	table_add(t, "15.5 (19F77)", NULL);
	table_add_alt(t, "a1b2c3d4e5f60718293a4b5c6d7e8f9012345678", "a1b2c3d4", NULL);
	table_add(t, "Lab", NULL);
	table_add(t, "16.4.1 (20E252)", NULL);
	/* room for the UDID in full: shown in full, the name gives way */
	table_layout(t, 70, widths);
	ASSERT_EQ(widths[0], 40);
	out = render(t, 70, 0);
	CHECK(strstr(out, udid) != NULL);
	CHECK(max_line_width(out) <= 70);
	free(out);
	/* too narrow for it: every UDID shows its alt text, nothing is dropped or cut */
	table_layout(t, 40, widths);
	ASSERT_EQ(widths[0], 13);
	CHECK(widths[2] >= 0);
	out = render(t, 40, 0);
	CHECK(strstr(out, "00008101-000A  ") != NULL);
	CHECK(strstr(out, "a1b2c3d4  ") != NULL);
	CHECK(strstr(out, "00008101-000A1") == NULL);
	CHECK(max_line_width(out) <= 40);
	/* the emoji takes two columns: the OS column starts at the same column on every row */
	ASSERT_EQ(column_of(line_n(out, 0), "OS"), column_of(line_n(out, 1), "15.5"));
	ASSERT_EQ(column_of(line_n(out, 0), "OS"), column_of(line_n(out, 2), "16.4.1"));
	free(out);
	table_free(t);
}

int main(void)
{
	/* as jetsamctl does: wcwidth(3) of a UTF-8 locale */
	if (setlocale(LC_CTYPE, "C.UTF-8") != NULL) {
		ASSERT_EQ(text_width("\xf0\x9f\x9a\x80"), 2); /* U+1F680, 1 in the old table */
		ASSERT_EQ(text_width("\xe2\x9c\x85"), 2);     /* U+2705 */
		ASSERT_EQ(text_width("e\xcc\x81"), 1);
	}
	test_whole();
	test_text();
	test_values();
	test_json_fields();
	test_csv();
	test_table();
	return CHECK_DONE();
}
