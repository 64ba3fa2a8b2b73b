/* durable.c: fsync helpers for files and directories (any thread) */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include "durable.h"

static int fsync_open(const char *path, int flags)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | flags), r = 0;

	if (fd < 0)
		return -errno;
	if (fsync(fd) < 0)
		r = -errno;
	close(fd);
	return r;
}

int durable_fsync_dir(const char *dir)
{
	return fsync_open(dir, O_DIRECTORY);
}

int durable_fsync_path(const char *path)
{
	return fsync_open(path, 0);
}
