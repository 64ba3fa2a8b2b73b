/* test-sanitize.c: unit tests of proto/sanitize (UTF-8 checks, \xNN escapes, caps, repair) */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "../../proto/sanitize.h"
#include "check.h"

static const char *esc(const char *in, size_t len, size_t cap, int *cut)
{
	static char out[4096];

	sanitize_escape(in, len, out, cap, cut);
	return out;
}

static void test_valid(void)
{
	CHECK(sanitize_utf8_valid("", 0));
	CHECK(sanitize_utf8_valid("abc", 3));
	CHECK(sanitize_utf8_valid("caf\xc3\xa9", 5));
	CHECK(sanitize_utf8_valid("\xe2\x82\xac", 3));	   /* U+20AC */
	CHECK(sanitize_utf8_valid("\xf0\x9f\x98\x80", 4)); /* U+1F600 */
	CHECK(sanitize_utf8_valid("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
	CHECK(!sanitize_utf8_valid("\xff", 1));
	CHECK(!sanitize_utf8_valid("\x80", 1));		    /* lone continuation */
	CHECK(!sanitize_utf8_valid("\xc0\xaf", 2));	    /* overlong '/' */
	CHECK(!sanitize_utf8_valid("\xe0\x80\xaf", 3));	    /* overlong */
	CHECK(!sanitize_utf8_valid("\xed\xa0\x80", 3));	    /* surrogate U+D800 */
	CHECK(!sanitize_utf8_valid("\xf4\x90\x80\x80", 4)); /* > U+10FFFF */
	CHECK(!sanitize_utf8_valid("\xe2\x82", 2));	    /* cut sequence */
	ASSERT_EQ(sanitize_utf8_seq("\xc3\xa9", 2), 2);
	ASSERT_EQ(sanitize_utf8_seq("\xc3", 1), 0);
}

static void test_escape(void)
{
	int cut = -1;

	ASSERT_STREQ(esc("iPhone", 6, 64, &cut), "iPhone");
	ASSERT_EQ(cut, 0);
	ASSERT_STREQ(esc("caf\xc3\xa9", 5, 64, NULL), "caf\xc3\xa9");
	ASSERT_STREQ(esc("a\x1b[31mb\x07", 8, 64, NULL), "a\\x1b[31mb\\x07");
	ASSERT_STREQ(esc("x\x7fy", 3, 64, NULL), "x\\x7fy");
	ASSERT_STREQ(esc("x\xc2\x85y", 4, 64, NULL), "x\\xc2\\x85y"); /* C1 NEL */
	ASSERT_STREQ(esc("a\\b", 3, 64, NULL), "a\\x5cb");
	ASSERT_STREQ(esc("bad\xff\xfe.ips", 9, 64, NULL), "bad\\xff\\xfe.ips");
	ASSERT_STREQ(esc("\xe2\x82", 2, 64, NULL), "\\xe2\\x82");
	ASSERT_STREQ(esc("a\0b", 3, 64, NULL), "a\\x00b");
	ASSERT_STREQ(esc("line\nnext", 9, 64, NULL), "line\\x0anext");
}

static void test_caps(void)
{
	char big[100000];
	char out[SANITIZE_NAME_MAX + 1];
	int cut = 0;
	size_t n;

	memset(big, 'A', sizeof(big));
	n = sanitize_escape(big, sizeof(big), out, sizeof(out), &cut);
	ASSERT_EQ(n, SANITIZE_NAME_MAX);
	ASSERT_EQ(strlen(out), SANITIZE_NAME_MAX);
	ASSERT_EQ(cut, 1);
	/* a cut never splits a character or an escape */
	ASSERT_STREQ(esc("ab\xc3\xa9", 4, 4, &cut), "ab");
	ASSERT_EQ(cut, 1);
	ASSERT_STREQ(esc("a\x01", 2, 5, &cut), "a");
	ASSERT_EQ(cut, 1);
	ASSERT_STREQ(esc("a\x01", 2, 6, &cut), "a\\x01");
	ASSERT_EQ(cut, 0);
	ASSERT_STREQ(esc("abc", 3, 1, &cut), "");
	/* any input escapes to valid UTF-8 without control bytes */
	for (int i = 0; i < 2000; i++) {
		char in[16], o[80];

		for (size_t k = 0; k < sizeof(in); k++)
			in[k] = (char)(rand() & 0xff);
		n = sanitize_escape(in, sizeof(in), o, sizeof(o), &cut);
		CHECK(sanitize_utf8_valid(o, n));
		for (size_t k = 0; k < n; k++)
			CHECK((unsigned char)o[k] >= 0x20 && o[k] != 0x7f);
	}
}

static void test_unescape(void)
{
	char raw[64], o[256];
	const char *samples[] = {"Retired/JetsamEvent-1.ips", "x\xff\xfe/\x1b\\y",
				 "caf\xc3\xa9\x7f", "\xc2\x85\xed\xa0\x80"};

	for (size_t i = 0; i < sizeof(samples) / sizeof(samples[0]); i++) {
		sanitize_escape(samples[i], strlen(samples[i]), o, sizeof(o), NULL);
		ASSERT_EQ(sanitize_unescape(o, raw, sizeof(raw)), (long long)strlen(samples[i]));
		ASSERT_STREQ(raw, samples[i]);
	}
	ASSERT_EQ(sanitize_unescape("a\\q", raw, sizeof(raw)), -EINVAL);
	ASSERT_EQ(sanitize_unescape("a\\x4", raw, sizeof(raw)), -EINVAL);
	ASSERT_EQ(sanitize_unescape("abcdef", raw, 4), -EINVAL);
	ASSERT_EQ(sanitize_unescape("\\x41\\x42", raw, sizeof(raw)), 2);
	ASSERT_STREQ(raw, "AB");
}

static void test_repair(void)
{
	size_t n = 0;
	char *r = sanitize_utf8_repair("{\"p\":\"a\xff\xc3\"}", 11, &n);

	ASSERT_STREQ(r, "{\"p\":\"a\xef\xbf\xbd\xef\xbf\xbd\"}");
	ASSERT_EQ(n, strlen(r));
	CHECK(sanitize_utf8_valid(r, n));
	free(r);
	r = sanitize_utf8_repair("ok \xe2\x82\xac", 6, &n);
	ASSERT_STREQ(r, "ok \xe2\x82\xac");
	free(r);
}

int main(void)
{
	test_valid();
	test_escape();
	test_caps();
	test_unescape();
	test_repair();
	return CHECK_DONE();
}
