/* test-fileindex.c: unit tests of a phone's file index array (daemon/fileindex.c) */
#include <stdlib.h>
#include <string.h>

#include "../../daemon/fileindex.h"
#include "check.h"

static void push(struct store_file_index *idx, const char *path, int64_t report_id)
{
	struct store_file_entry *v = realloc(idx->v, (idx->n + 1) * sizeof(*v));

	CHECK(v != NULL);
	if (v == NULL)
		return;
	idx->v = v;
	memset(&v[idx->n], 0, sizeof(v[idx->n]));
	v[idx->n].path = strdup(path);
	v[idx->n].report_id = report_id;
	idx->n++;
}

int main(void)
{
	struct store_file_index idx = {0};
	/* strcmp order: upper-case 'R' before lower-case, '-' before '.' */
	static const char *const paths[] = {"JetsamEvent-1.ips", "JetsamEvent-10.ips",
					    "JetsamEvent-2.ips", "Retired/JetsamEvent-1.ips.synced",
					    "a.ips"};
	size_t n = sizeof(paths) / sizeof(paths[0]);

	/* empty index: nothing found, release is harmless (twice) */
	CHECK(store_file_index_find(&idx, "JetsamEvent-1.ips") == NULL);
	store_file_index_release(&idx);
	store_file_index_release(&idx);

	for (size_t i = 0; i < n; i++)
		push(&idx, paths[i], (int64_t)i + 1);
	for (size_t i = 0; i < n; i++) {
		const struct store_file_entry *e = store_file_index_find(&idx, paths[i]);

		CHECK(e != NULL);
		if (e) {
			ASSERT_STREQ(e->path, paths[i]);
			ASSERT_EQ(e->report_id, (int64_t)i + 1);
		}
	}
	/* before the first, between two, after the last, a prefix of an entry */
	CHECK(store_file_index_find(&idx, "A.ips") == NULL);
	CHECK(store_file_index_find(&idx, "JetsamEvent-11.ips") == NULL);
	CHECK(store_file_index_find(&idx, "z.ips") == NULL);
	CHECK(store_file_index_find(&idx, "JetsamEvent-1") == NULL);
	CHECK(store_file_index_find(&idx, "") == NULL);

	store_file_index_release(&idx);
	CHECK(idx.v == NULL);
	ASSERT_EQ(idx.n, 0);
	return CHECK_DONE();
}
