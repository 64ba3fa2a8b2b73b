/* test-linebuf.c: unit tests of the bounded newline framer (proto/linebuf.c) */
#include <stdlib.h>
#include <string.h>

#include "../../proto/linebuf.h"
#include "check.h"

static void test_lines(void)
{
	struct linebuf lb;
	char *line;
	size_t len;

	linebuf_init(&lb, 16);
	ASSERT_EQ(linebuf_next(&lb, &line, &len), 0);
	CHECK(linebuf_append(&lb, "ab\ncd", 5) == 0);
	ASSERT_EQ(linebuf_next(&lb, &line, &len), LINEBUF_LINE);
	ASSERT_STREQ(line, "ab");
	ASSERT_EQ(len, 2);
	ASSERT_EQ(linebuf_next(&lb, &line, &len), 0);
	ASSERT_EQ(linebuf_pending(&lb), 2);
	CHECK(linebuf_append(&lb, "e\n\nxyz\n", 7) == 0);
	ASSERT_EQ(linebuf_next(&lb, &line, &len), LINEBUF_LINE);
	ASSERT_STREQ(line, "cde");
	ASSERT_EQ(linebuf_next(&lb, &line, &len), LINEBUF_LINE);
	ASSERT_EQ(len, 0);
	ASSERT_EQ(linebuf_next(&lb, &line, &len), LINEBUF_LINE);
	ASSERT_STREQ(line, "xyz");
	ASSERT_EQ(linebuf_next(&lb, &line, &len), 0);
	ASSERT_EQ(linebuf_pending(&lb), 0);
	linebuf_release(&lb);
}

static void test_limit(void)
{
	struct linebuf lb;
	char buf[64];
	char *line;
	size_t len;

	/* a line of exactly max_line bytes with its newline is accepted */
	linebuf_init(&lb, 8);
	memset(buf, 'a', 7);
	buf[7] = '\n';
	CHECK(linebuf_append(&lb, buf, 8) == 0);
	ASSERT_EQ(linebuf_next(&lb, &line, &len), LINEBUF_LINE);
	ASSERT_EQ(len, 7);
	/* one byte more is too long, whether the newline has arrived or not */
	memset(buf, 'b', 8);
	buf[8] = '\n';
	CHECK(linebuf_append(&lb, buf, 9) == 0);
	ASSERT_EQ(linebuf_next(&lb, &line, &len), LINEBUF_E_TOO_LONG);
	ASSERT_EQ(linebuf_next(&lb, &line, &len), LINEBUF_E_TOO_LONG); /* sticky */
	linebuf_release(&lb);

	linebuf_init(&lb, 8);
	CHECK(linebuf_append(&lb, "bbbbbbb", 7) == 0);
	ASSERT_EQ(linebuf_next(&lb, &line, &len), 0);
	CHECK(linebuf_append(&lb, "b", 1) == 0);
	ASSERT_EQ(linebuf_next(&lb, &line, &len), LINEBUF_E_TOO_LONG);
	linebuf_release(&lb);
}

static void test_raw(void)
{
	struct linebuf lb;
	char raw[16];
	char *line;
	size_t len;

	linebuf_init(&lb, 64);
	CHECK(linebuf_append(&lb, "{\"cmd\":\"import\"}\nRAW12{\"x\":1}\n", 30) == 0);
	ASSERT_EQ(linebuf_next(&lb, &line, &len), LINEBUF_LINE);
	ASSERT_STREQ(line, "{\"cmd\":\"import\"}");
	ASSERT_EQ(linebuf_take(&lb, raw, 5), 5);
	CHECK(memcmp(raw, "RAW12", 5) == 0);
	ASSERT_EQ(linebuf_next(&lb, &line, &len), LINEBUF_LINE);
	ASSERT_STREQ(line, "{\"x\":1}");
	/* taking more than is there returns what is there */
	CHECK(linebuf_append(&lb, "abc", 3) == 0);
	ASSERT_EQ(linebuf_take(&lb, raw, 10), 3);
	ASSERT_EQ(linebuf_take(&lb, NULL, 10), 0);
	/* raw bytes may hold newlines that must not end a line after take */
	CHECK(linebuf_append(&lb, "a\nb", 3) == 0);
	ASSERT_EQ(linebuf_take(&lb, NULL, 2), 2);
	ASSERT_EQ(linebuf_next(&lb, &line, &len), 0);
	CHECK(linebuf_append(&lb, "\n", 1) == 0);
	ASSERT_EQ(linebuf_next(&lb, &line, &len), LINEBUF_LINE);
	ASSERT_STREQ(line, "b");
	linebuf_release(&lb);
}

/* Byte-at-a-time input frames the same lines as one big append. */
static void test_split(void)
{
	static const char input[] = "one\ntwo two\n\nthree three three\nfour\n";
	const char *want[] = {"one", "two two", "", "three three three", "four"};
	struct linebuf lb;
	size_t got = 0;
	char *line;
	size_t len;

	linebuf_init(&lb, 32);
	for (size_t i = 0; i < sizeof(input) - 1; i++) {
		CHECK(linebuf_append(&lb, input + i, 1) == 0);
		while (linebuf_next(&lb, &line, &len) == LINEBUF_LINE) {
			CHECK(got < 5);
			if (got < 5)
				ASSERT_STREQ(line, want[got]);
			got++;
		}
	}
	ASSERT_EQ(got, 5);
	linebuf_release(&lb);
}

int main(void)
{
	test_lines();
	test_limit();
	test_raw();
	test_split();
	return CHECK_DONE();
}
