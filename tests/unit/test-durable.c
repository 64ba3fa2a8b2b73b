/* test-durable.c: unit tests of the fsync/syncfs helpers (daemon/durable.c) in a temp dir */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../daemon/durable.h"
#include "check.h"

int main(void)
{
	char dir[] = "/tmp/jt-durable-XXXXXX";
	char file[128], sub[128], missing[128], cmd[160];
	FILE *f;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(file, sizeof(file), "%s/data", dir);
	snprintf(sub, sizeof(sub), "%s/sub", dir);
	snprintf(missing, sizeof(missing), "%s/missing", dir);
	f = fopen(file, "w");
	CHECK(f != NULL);
	if (f) {
		CHECK(fputs("durable bytes\n", f) >= 0);
		CHECK(fclose(f) == 0);
	}
	CHECK(mkdir(sub, 0700) == 0);

	/* a file and its directory; a directory's entries */
	ASSERT_EQ(durable_fsync_path(file), 0);
	ASSERT_EQ(durable_fsync_dir(dir), 0);
	ASSERT_EQ(durable_fsync_dir(sub), 0);
	/* a directory opened as a path works too (read-only descriptor) */
	ASSERT_EQ(durable_fsync_path(sub), 0);

	/* errors come back as negative errno */
	ASSERT_EQ(durable_fsync_path(missing), -ENOENT);
	ASSERT_EQ(durable_fsync_dir(missing), -ENOENT);
	ASSERT_EQ(durable_fsync_dir(file), -ENOTDIR);
	ASSERT_EQ(durable_fsync_path("/nonexistent/dir/file"), -ENOENT);

	/* one syncfs of the file system of a directory */
	ASSERT_EQ(durable_syncfs(dir), 0);
	ASSERT_EQ(durable_syncfs(sub), 0);
	ASSERT_EQ(durable_syncfs(missing), -ENOENT);
	ASSERT_EQ(durable_syncfs(file), -ENOTDIR);

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	CHECK(system(cmd) == 0);
	return CHECK_DONE();
}
