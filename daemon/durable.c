/* durable.c: fsync/syncfs helpers for files and directories (any thread) */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "durable.h"

static int fsync_open(const char *path, int flags, int fs)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | flags), r = 0;

	if (fd < 0)
		return -errno;
	if ((fs ? syncfs(fd) : fsync(fd)) < 0)
		r = -errno;
	close(fd);
	return r;
}

int durable_fsync_dir(const char *dir)
{
	return fsync_open(dir, O_DIRECTORY, 0);
}

int durable_fsync_path(const char *path)
{
	return fsync_open(path, 0, 0);
}

int durable_syncfs(const char *dir)
{
	return fsync_open(dir, O_DIRECTORY, 1);
}
