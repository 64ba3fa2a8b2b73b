/* test-statedir.c: unit tests of daemon/statedir.c: the state dir lock, temp sweep, file modes */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../daemon/archive.h"
#include "../../daemon/statedir.h"
#include "../../daemon/store.h"
#include "check.h"

static char root[] = "/tmp/jt-statedir-XXXXXX";

static int mode_of(const char *dir, const char *rel)
{
	char p[4200];
	struct stat st;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	if (lstat(p, &st) < 0)
		return -1;
	return (int)(st.st_mode & 07777);
}

static void touch(const char *dir, const char *rel)
{
	char p[4200];
	int fd;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	fd = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
}

/* A second lock of the same dir fails with -EBUSY and names the holder's pid. */
static void test_lock(void)
{
	char dir[4200], err[600];
	struct statedir a, b;
	pid_t holder = 0;
	int fd = -1;

	snprintf(dir, sizeof(dir), "%s/lock/state", root);
	ASSERT_EQ(statedir_open(&a, dir, err, sizeof(err)), 0);
	CHECK(a.lock_fd >= 0);
	ASSERT_EQ(statedir_lock(dir, &fd, &holder), -EBUSY);
	ASSERT_EQ(fd, -1);
	ASSERT_EQ(holder, getpid());
	ASSERT_EQ(statedir_open(&b, dir, err, sizeof(err)), -EBUSY);
	ASSERT_EQ(b.lock_fd, -1);
	{
		char want[64];

		snprintf(want, sizeof(want), "(pid %ld holds ", (long)getpid());
		CHECK(strstr(err, want) != NULL);
		CHECK(strstr(err, "is in use by another jetsamd") != NULL);
	}
	statedir_close(&b); /* never opened: a no-op */
	statedir_close(&a);
	ASSERT_EQ(a.lock_fd, -1);
	/* released: it can be taken again */
	ASSERT_EQ(statedir_lock(dir, &fd, &holder), 0);
	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
}

/* The sweep removes the *.tmp files of the archive, nothing else (not outside it either). */
static void test_sweep(void)
{
	char dir[4200], p[4300], err[600];
	struct statedir sd;

	snprintf(dir, sizeof(dir), "%s/sweep", root);
	CHECK(statedir_mkdir_p(dir, 0750) == 0);
	snprintf(p, sizeof(p), "%s/archive/ab", dir);
	CHECK(statedir_mkdir_p(p, 0750) == 0);
	touch(dir, "archive/ab/.abcd.123.tmp");
	touch(dir, "archive/ab/x.tmp");
	touch(dir, "archive/top.tmp");
	touch(dir, "archive/ab/abcd.ips");
	touch(dir, "archive/ab/tmp");
	touch(dir, "archive/ab/x.tmp.ips");
	touch(dir, "keep.tmp"); /* outside the archive */
	snprintf(p, sizeof(p), "%s/archive/ab/dir.tmp", dir);
	CHECK(mkdir(p, 0750) == 0); /* a directory is not a temp file */
	ASSERT_EQ(statedir_open(&sd, dir, err, sizeof(err)), 0);
	ASSERT_EQ(mode_of(dir, "archive/ab/.abcd.123.tmp"), -1);
	ASSERT_EQ(mode_of(dir, "archive/ab/x.tmp"), -1);
	ASSERT_EQ(mode_of(dir, "archive/top.tmp"), -1);
	CHECK(mode_of(dir, "archive/ab/abcd.ips") >= 0);
	CHECK(mode_of(dir, "archive/ab/tmp") >= 0);
	CHECK(mode_of(dir, "archive/ab/x.tmp.ips") >= 0);
	CHECK(mode_of(dir, "archive/ab/dir.tmp") >= 0);
	CHECK(mode_of(dir, "keep.tmp") >= 0);
	ASSERT_EQ(archive_sweep_temps(dir), 0); /* nothing left to sweep */
	statedir_close(&sd);
	snprintf(p, sizeof(p), "%s/none", root);
	ASSERT_EQ(archive_sweep_temps(p), 0); /* no archive yet */
}

/* Under umask 0: the state dir 0750, the store and archive files 0640, archive dirs 0750. */
static void test_modes(void)
{
	char dir[4200], err[600], *rel = NULL, hex[65];
	struct statedir sd;
	struct store *s = NULL;

	umask(0);
	snprintf(dir, sizeof(dir), "%s/modes/state", root);
	ASSERT_EQ(statedir_open(&sd, dir, err, sizeof(err)), 0);
	ASSERT_EQ(mode_of(dir, ""), 0750);
	ASSERT_EQ(mode_of(dir, "../"), 0750); /* a parent it created */
	ASSERT_EQ(mode_of(dir, STATEDIR_LOCK_FILE), 0640);
	ASSERT_EQ(store_open(dir, &s), 0);
	ASSERT_EQ(mode_of(dir, "jetsamd.db"), 0640);
	ASSERT_EQ(mode_of(dir, "jetsamd.db-wal"), 0640);
	ASSERT_EQ(mode_of(dir, "jetsamd.db-shm"), 0640);
	archive_sha256_hex("report", 6, hex);
	ASSERT_EQ(archive_write(dir, "report", 6, hex, &rel), 0);
	ASSERT_EQ(mode_of(dir, "archive"), 0750);
	if (rel != NULL) {
		char sub[16];

		snprintf(sub, sizeof(sub), "archive/%.2s", hex);
		ASSERT_EQ(mode_of(dir, sub), 0750);
		ASSERT_EQ(mode_of(dir, rel), 0640);
	}
	free(rel);
	store_close(s);
	statedir_close(&sd);
}

int main(void)
{
	char cmd[100];

	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_lock();
	test_sweep();
	test_modes();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", root);
	return CHECK_DONE();
}
