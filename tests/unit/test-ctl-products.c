/* test-ctl-products.c: unit tests of jetsamctl's product identifier -> marketing name table */
#include <stdio.h>

#include "check.h"
#include "products.h"

int main(void)
{
	static const char *const iphones[][2] = {
		{"iPhone1,1", "iPhone"},
		{"iPhone1,2", "iPhone 3G"},
		{"iPhone2,1", "iPhone 3GS"},
		{"iPhone3,1", "iPhone 4"},
		{"iPhone4,1", "iPhone 4S"},
		{"iPhone5,3", "iPhone 5c"},
		{"iPhone6,1", "iPhone 5s"},
		{"iPhone7,1", "iPhone 6 Plus"},
		{"iPhone7,2", "iPhone 6"},
		{"iPhone8,4", "iPhone SE"},
		{"iPhone9,4", "iPhone 7 Plus"},
		{"iPhone10,1", "iPhone 8"},
		{"iPhone10,6", "iPhone X"},
		{"iPhone11,6", "iPhone XS Max"},
		{"iPhone11,8", "iPhone XR"},
		{"iPhone12,1", "iPhone 11"},
		{"iPhone12,8", "iPhone SE (2nd generation)"},
		{"iPhone13,1", "iPhone 12 mini"},
		{"iPhone13,2", "iPhone 12"},
		{"iPhone14,2", "iPhone 13 Pro"},
		{"iPhone14,5", "iPhone 13"},
		{"iPhone14,6", "iPhone SE (3rd generation)"},
		{"iPhone14,7", "iPhone 14"},
		{"iPhone15,2", "iPhone 14 Pro"},
		{"iPhone15,4", "iPhone 15"},
		{"iPhone16,1", "iPhone 15 Pro"},
		{"iPhone16,2", "iPhone 15 Pro Max"},
		{"iPhone17,1", "iPhone 16 Pro"},
		{"iPhone17,3", "iPhone 16"},
		{"iPhone17,5", "iPhone 16e"},
		{"iPhone18,1", "iPhone 17 Pro"},
		{"iPhone18,2", "iPhone 17 Pro Max"},
		{"iPhone18,3", "iPhone 17"},
		{"iPhone18,4", "iPhone Air"},
		{"iPad8,2", "iPad Pro (11-inch)"},
		{"iPad8,5", "iPad Pro (12.9-inch) (3rd generation)"},
		{"iPad14,5", "iPad Pro (12.9-inch) (6th generation)"},
		{"iPad16,5", "iPad Pro 13-inch (M4)"},
		{"iPad2,5", "iPad mini"},
		{"iPad7,11", "iPad (7th generation)"},
		{"iPod1,1", "iPod touch"},
		{"iPod7,1", "iPod touch (6th generation)"},
		{"iPod9,1", "iPod touch (7th generation)"},
	};
	char buf[128];
	size_t i;
	int major;

	for (i = 0; i < sizeof(iphones) / sizeof(iphones[0]); i++)
		ASSERT_STREQ(products_name(iphones[i][0]), iphones[i][1]);

	/* every iPhone generation from iPhone1 to iPhone18 has entries ,1 or ,2 ... */
	for (major = 1; major <= 18; major++) {
		int found = 0, minor;

		for (minor = 1; minor <= 8; minor++) {
			snprintf(buf, sizeof(buf), "iPhone%d,%d", major, minor);
			if (products_name(buf) != NULL)
				found++;
		}
		if (found == 0)
			fprintf(stderr, "no iPhone%d,x known\n", major);
		CHECK(found > 0);
	}

	/* exact matches only */
	ASSERT_STREQ(products_name("iPhone13,22"), NULL);
	ASSERT_STREQ(products_name("iphone13,2"), NULL);
	ASSERT_STREQ(products_name("iPhone13"), NULL);
	ASSERT_STREQ(products_name(""), NULL);
	ASSERT_STREQ(products_name(NULL), NULL);

	products_label(buf, sizeof(buf), "iPhone13,2");
	ASSERT_STREQ(buf, "iPhone13,2 (iPhone 12)");
	products_label(buf, sizeof(buf), "iPhone99,1");
	ASSERT_STREQ(buf, "iPhone99,1");
	products_label(buf, sizeof(buf), NULL);
	ASSERT_STREQ(buf, "-");
	products_label(buf, 8, "iPhone13,2");
	ASSERT_STREQ(buf, "iPhone1");
	/* user terms: identifiers in any case, marketing names (several for variants) */
	{
		const char *ids[8];

		ASSERT_EQ(products_find("iphone13,2", ids, 8), 1);
		ASSERT_STREQ(ids[0], "iPhone13,2");
		ASSERT_EQ(products_find("iPhone 12", ids, 8), 1);
		ASSERT_STREQ(ids[0], "iPhone13,2");
		ASSERT_EQ(products_find("IPHONE 12 PRO", ids, 8), 1);
		ASSERT_STREQ(ids[0], "iPhone13,3");
		ASSERT_EQ(products_find("iPhone 8", ids, 8), 2);
		ASSERT_STREQ(ids[0], "iPhone10,1");
		ASSERT_STREQ(ids[1], "iPhone10,4");
		ASSERT_EQ(products_find("ipad pro (12.9-inch) (6th generation)", ids, 8), 2);
		ASSERT_STREQ(ids[0], "iPad14,5");
		ASSERT_EQ(products_find("iPad 2", ids, 1), 4); /* counts beyond max */
		ASSERT_EQ(products_find("iPhone 99", ids, 8), 0);
		ASSERT_EQ(products_find("iPhone13", ids, 8), 0);
		ASSERT_EQ(products_find(NULL, ids, 8), 0);
	}
	return CHECK_DONE();
}
