/* test-ctl-resolve.c: unit tests of jetsamctl's user terms: UDID prefixes, OS versions */
#include <stdio.h>

#include "check.h"
#include "products.h"
#include "resolve.h"

static void test_udid(void)
{
	static const char *const udids[] = {
		"00008101-000A1B2C3D4E5F60",
		"00008101-000C0FFEE0C0FFEE",
		"a1b2c3d4e5f60718293a4b5c6d7e8f9012345678",
		"A1B2",
		NULL,
	};
	size_t n = sizeof(udids) / sizeof(udids[0]), found[4];
	char buf[64];

	ASSERT_EQ(resolve_udid("00008101-000A1B2C3D4E5F60", udids, n, found, 4), 1);
	ASSERT_EQ(found[0], 0);
	ASSERT_EQ(resolve_udid("00008101-000a", udids, n, found, 4), 1); /* case-insensitive */
	ASSERT_EQ(found[0], 0);
	ASSERT_EQ(resolve_udid("00008101-000C", udids, n, found, 4), 1);
	ASSERT_EQ(found[0], 1);
	ASSERT_EQ(resolve_udid("00008101", udids, n, found, 4), 2); /* ambiguous */
	ASSERT_EQ(found[0], 0);
	ASSERT_EQ(found[1], 1);
	ASSERT_EQ(resolve_udid("a1b2", udids, n, found, 4), 1); /* equal wins over prefix */
	ASSERT_EQ(found[0], 3);
	ASSERT_EQ(resolve_udid("A1B2C", udids, n, found, 4), 1);
	ASSERT_EQ(found[0], 2);
	ASSERT_EQ(resolve_udid("ffff", udids, n, found, 4), 0);
	ASSERT_EQ(resolve_udid("", udids, n, found, 4), 0);
	ASSERT_EQ(resolve_udid("0", udids, n, found, 1), 2); /* counts beyond max */

	resolve_udid_prefix(buf, sizeof(buf), udids[0], udids, n, 8);
	ASSERT_STREQ(buf, "00008101-000A");
	resolve_udid_prefix(buf, sizeof(buf), udids[1], udids, n, 8);
	ASSERT_STREQ(buf, "00008101-000C");
	resolve_udid_prefix(buf, sizeof(buf), udids[2], udids, n, 8);
	ASSERT_STREQ(buf, "a1b2c3d4");
	resolve_udid_prefix(buf, sizeof(buf), udids[3], udids, n, 8);
	ASSERT_STREQ(buf, "A1B2");
	/* every prefix it gives names its UDID alone */
	for (size_t i = 0; i + 1 < n; i++) {
		resolve_udid_prefix(buf, sizeof(buf), udids[i], udids, n, 8);
		ASSERT_EQ(resolve_udid(buf, udids, n, found, 4), 1);
		ASSERT_EQ(found[0], i);
	}
}

static void test_os(void)
{
	CHECK(products_is_version("15"));
	CHECK(products_is_version("15.5"));
	CHECK(products_is_version("16.4.1"));
	CHECK(!products_is_version("19F77"));
	CHECK(!products_is_version("20E252"));
	CHECK(!products_is_version(""));
	CHECK(!products_is_version(".5"));
	CHECK(!products_is_version("15."));
	CHECK(!products_is_version("15..5"));
	CHECK(!products_is_version(NULL));
	CHECK(products_os_match("15.5", "15.5"));
	CHECK(products_os_match("15.5", "15.5.1"));
	CHECK(products_os_match("15", "15.5"));
	CHECK(!products_os_match("15.5", "15.51"));
	CHECK(!products_os_match("15.5", "15"));
	CHECK(!products_os_match("1", "15.5"));
	CHECK(!products_os_match("15.5", NULL));
}

int main(void)
{
	test_udid();
	test_os();
	return CHECK_DONE();
}
