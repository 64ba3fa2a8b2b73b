/* test-archive.c: unit tests of the raw report archive (daemon/archive.c) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../daemon/archive.h"
#include "check.h"

/* archive_put (no fsync) + archive_flush; directories made when missing; cut files replaced */
static void put_and_flush(const char *dir)
{
	char hex[65], path[600], cmd[700];
	char *rel = NULL;
	void *buf = NULL;
	size_t len = 0;
	FILE *f;

	archive_sha256_hex("batch bytes", 11, hex);
	ASSERT_EQ(archive_put(dir, "batch bytes", 11, hex, &rel), 0);
	ASSERT_EQ(archive_flush(dir), 0);
	CHECK(rel != NULL);
	ASSERT_EQ(archive_read(dir, rel, 0, &buf, &len), 0);
	CHECK(len == 11 && buf && memcmp(buf, "batch bytes", 11) == 0);
	free(buf);
	buf = NULL;
	/* a file of the right size with other bytes (a crash before a flush) is replaced */
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	f = fopen(path, "w");
	CHECK(f != NULL);
	if (f) {
		CHECK(fputs("xxxxxxxxxxx", f) >= 0);
		CHECK(fclose(f) == 0);
	}
	free(rel);
	rel = NULL;
	ASSERT_EQ(archive_put(dir, "batch bytes", 11, hex, &rel), 0);
	ASSERT_EQ(archive_read(dir, rel, 0, &buf, &len), 0);
	CHECK(len == 11 && buf && memcmp(buf, "batch bytes", 11) == 0);
	free(buf);
	buf = NULL;
	free(rel);
	rel = NULL;
	/* the whole archive gone: both directories are made again */
	snprintf(cmd, sizeof(cmd), "rm -rf '%s/archive'", dir);
	ASSERT_EQ(system(cmd), 0);
	ASSERT_EQ(archive_flush(dir), -ENOENT);
	ASSERT_EQ(archive_put(dir, "batch bytes", 11, hex, &rel), 0);
	ASSERT_EQ(archive_flush(dir), 0);
	ASSERT_EQ(archive_read(dir, rel, 0, &buf, &len), 0);
	CHECK(len == 11);
	free(buf);
	free(rel);
}

int main(void)
{
	char dir[] = "/tmp/jt-archive-XXXXXX";
	char hex[65], path[512];
	char *rel = NULL, *rel2 = NULL;
	void *buf = NULL;
	size_t len = 0;
	struct stat st;

	CHECK(mkdtemp(dir) != NULL);
	archive_sha256_hex("abc", 3, hex);
	ASSERT_STREQ(hex, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
	archive_sha256_hex("", 0, hex);
	ASSERT_STREQ(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");

	archive_sha256_hex("report bytes", 12, hex);
	ASSERT_EQ(archive_write(dir, "report bytes", 12, hex, &rel), 0);
	{
		char want[128];

		snprintf(want, sizeof(want), "archive/%.2s/%s.ips", hex, hex);
		ASSERT_STREQ(rel, want);
	}
	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	CHECK(stat(path, &st) == 0 && st.st_size == 12);
	/* writing the same content again keeps the file and gives the same name */
	ASSERT_EQ(archive_write(dir, "report bytes", 12, hex, &rel2), 0);
	ASSERT_STREQ(rel, rel2);
	ASSERT_EQ(archive_read(dir, rel, 0, &buf, &len), 0);
	ASSERT_EQ(len, 12);
	CHECK(buf && memcmp(buf, "report bytes", 12) == 0);
	free(buf);
	/* size cap, bad names, missing files */
	ASSERT_EQ(archive_read(dir, rel, 5, &buf, &len), -EFBIG);
	CHECK(buf == NULL);
	ASSERT_EQ(archive_read(dir, "archive/../../etc/passwd", 0, &buf, &len), -EINVAL);
	ASSERT_EQ(archive_read(dir, "/etc/passwd", 0, &buf, &len), -EINVAL);
	ASSERT_EQ(archive_read(dir, "archive/00/none.ips", 0, &buf, &len), -ENOENT);
	free(rel2);
	rel2 = NULL;
	{
		char bad[65];

		memset(bad, 'z', 64);
		bad[64] = '\0';
		ASSERT_EQ(archive_write(dir, "x", 1, bad, &rel2), -EINVAL);
	}
	CHECK(rel2 == NULL);
	put_and_flush(dir);
	/* no temporary files are left behind */
	{
		char cmd[600];

		snprintf(cmd, sizeof(cmd), "test -z \"$(find '%s' -name '*.tmp')\"", dir);
		ASSERT_EQ(system(cmd), 0);
		snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
		ASSERT_EQ(system(cmd), 0);
	}
	free(rel);
	return CHECK_DONE();
}
