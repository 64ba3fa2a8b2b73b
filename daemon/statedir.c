/* statedir.c: the state dir: one daemon per dir (flock), file modes, stale temp sweep */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "archive.h"
#include "log.h"
#include "statedir.h"

int statedir_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0750) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* The pid the holder wrote into the lock file, or 0. */
static pid_t read_holder(int fd)
{
	char buf[32];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	long v;

	if (n <= 0)
		return 0;
	buf[n] = '\0';
	v = strtol(buf, NULL, 10);
	return v > 0 && v <= INT_MAX ? (pid_t)v : 0;
}

int statedir_lock(const char *dir, int *fd_out, pid_t *holder)
{
	char path[PATH_MAX], pid[32];
	int fd, n, r;

	*fd_out = -1;
	*holder = 0;
	if (snprintf(path, sizeof(path), "%s/" STATEDIR_LOCK_FILE, dir) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	/* no O_TRUNC: the holder's pid stays readable until we own the lock */
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | O_NOCTTY, 0640);
	if (fd < 0)
		return -errno;
	while ((r = flock(fd, LOCK_EX | LOCK_NB)) < 0 && errno == EINTR)
		;
	if (r < 0) {
		r = errno == EWOULDBLOCK ? -EBUSY : -errno;
		if (r == -EBUSY)
			*holder = read_holder(fd);
		close(fd);
		return r;
	}
	n = snprintf(pid, sizeof(pid), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || pwrite(fd, pid, (size_t)n, 0) != n) {
		r = -errno;
		close(fd);
		return r ? r : -EIO;
	}
	*fd_out = fd;
	return 0;
}

int statedir_open(struct statedir *sd, const char *dir, char *err, size_t errlen)
{
	pid_t holder = 0;
	int r;

	sd->lock_fd = -1;
	umask(STATEDIR_UMASK);
	r = statedir_mkdir_p(dir, 0750);
	if (r < 0) {
		snprintf(err, errlen, "cannot create state dir '%s': %s", dir, strerror(-r));
		return r;
	}
	r = statedir_lock(dir, &sd->lock_fd, &holder);
	if (r == -EBUSY && holder > 0) {
		snprintf(err, errlen,
			 "state dir '%s' is in use by another jetsamd (pid %ld holds %s/%s)", dir,
			 (long)holder, dir, STATEDIR_LOCK_FILE);
		return r;
	}
	if (r == -EBUSY) {
		snprintf(err, errlen, "state dir '%s' is in use by another jetsamd (%s/%s)", dir,
			 dir, STATEDIR_LOCK_FILE);
		return r;
	}
	if (r < 0) {
		snprintf(err, errlen, "cannot lock state dir '%s': %s", dir, strerror(-r));
		return r;
	}
	r = archive_sweep_temps(dir);
	if (r > 0)
		log_info("main", "removed %d stale temp file(s) from '%s/archive'", r, dir);
	else if (r < 0)
		log_warn("main", "cannot sweep temp files in '%s/archive': %s", dir, strerror(-r));
	return 0;
}

void statedir_close(struct statedir *sd)
{
	if (sd->lock_fd >= 0)
		close(sd->lock_fd);
	sd->lock_fd = -1;
}
