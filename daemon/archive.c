/* archive.c: raw report archive under the state dir, content-addressed, durable by file or batch */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "archive.h"
#include "durable.h"
#include "readfile.h"

void archive_sha256_hex(const void *buf, size_t len, char out[65])
{
	static const char hexd[] = "0123456789abcdef";
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0;

	if (!EVP_Digest(buf, len, md, &mdlen, EVP_sha256(), NULL) || mdlen != 32) {
		memset(out, '0', 64); /* cannot happen with a working libcrypto */
		out[64] = '\0';
		return;
	}
	for (unsigned i = 0; i < 32; i++) {
		out[2 * i] = hexd[md[i] >> 4];
		out[2 * i + 1] = hexd[md[i] & 15];
	}
	out[64] = '\0';
}

static int valid_hex(const char *hex)
{
	for (int i = 0; i < 64; i++)
		if (!((hex[i] >= '0' && hex[i] <= '9') || (hex[i] >= 'a' && hex[i] <= 'f')))
			return 0;
	return hex[64] == '\0';
}

/* mkdir path; a new directory's name is made durable (fsync of parent) when durable. */
static int mkdir_once(const char *path, const char *parent, int durable)
{
	if (mkdir(path, 0750) == 0)
		return durable ? durable_fsync_dir(parent) : 0;
	return errno == EEXIST ? 0 : -errno;
}

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;

	while (len > 0) {
		ssize_t n = write(fd, p, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Whether path is a regular file holding exactly buf[0..len) (a crash may have cut one). */
static int same_content(const char *path, const void *buf, size_t len)
{
	struct stat st;
	size_t got = 0;
	char *old = NULL;
	int fd, same;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode) || (size_t)st.st_size != len)
		return 0;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return 0;
	same = readfile_fd(fd, len, &old, &got) == 0 && got == len && !memcmp(old, buf, len);
	close(fd);
	free(old);
	return same;
}

/* Create the temp file tmp; when its directory is missing, make archive/ and archive/XX. */
static int open_temp(const char *state_dir, const char *top, const char *dir, const char *tmp,
		     int durable)
{
	const int flags = O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW;
	int fd = open(tmp, flags, 0640), r;

	if (fd >= 0 || errno != ENOENT)
		return fd >= 0 ? fd : -errno;
	/* the first file of this directory: mkdir only now, not before every file */
	r = mkdir_once(dir, top, durable);
	if (r == -ENOENT) { /* and the first of the archive */
		r = mkdir_once(top, state_dir, durable);
		if (r == 0)
			r = mkdir_once(dir, top, durable);
	}
	if (r < 0)
		return r;
	fd = open(tmp, flags, 0640);
	return fd >= 0 ? fd : -errno;
}

/* archive_write (durable) and archive_put (made durable by a later archive_flush). */
static int write_report(const char *state_dir, const void *buf, size_t len, const char hex[65],
			int durable, char **relpath_out)
{
	char top[PATH_MAX], dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX];
	int fd, r;

	*relpath_out = NULL;
	if (!valid_hex(hex))
		return -EINVAL;
	if (snprintf(top, sizeof(top), "%s/archive", state_dir) >= (int)sizeof(top) ||
	    snprintf(dir, sizeof(dir), "%s/%.2s", top, hex) >= (int)sizeof(dir) ||
	    snprintf(path, sizeof(path), "%s/%s.ips", dir, hex) >= (int)sizeof(path) ||
	    snprintf(tmp, sizeof(tmp), "%s/.%s.%ld.tmp", dir, hex, (long)gettid()) >=
		    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	if (same_content(path, buf, len))
		goto done; /* already archived (a later flush covers it when it is not durable) */
	fd = open_temp(state_dir, top, dir, tmp, durable);
	if (fd < 0)
		return fd;
	r = write_all(fd, buf, len);
	if (r == 0 && durable && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	if (durable && (r = durable_fsync_dir(dir)) < 0)
		return r;
done:
	if (asprintf(relpath_out, "archive/%.2s/%s.ips", hex, hex) < 0) {
		*relpath_out = NULL;
		return -ENOMEM;
	}
	return 0;
}

int archive_write(const char *state_dir, const void *buf, size_t len, const char hex[65],
		  char **relpath_out)
{
	return write_report(state_dir, buf, len, hex, 1, relpath_out);
}

int archive_put(const char *state_dir, const void *buf, size_t len, const char hex[65],
		char **relpath_out)
{
	return write_report(state_dir, buf, len, hex, 0, relpath_out);
}

int archive_flush(const char *state_dir)
{
	char top[PATH_MAX];

	if (snprintf(top, sizeof(top), "%s/archive", state_dir) >= (int)sizeof(top))
		return -ENAMETOOLONG;
	return durable_syncfs(top);
}

int archive_read(const char *state_dir, const char *relpath, size_t max_size, void **buf_out,
		 size_t *len_out)
{
	char path[PATH_MAX];
	size_t len = 0;
	char *buf;
	int fd, r;

	*buf_out = NULL;
	*len_out = 0;
	if (strncmp(relpath, "archive/", 8) != 0 || strstr(relpath, "..") != NULL)
		return -EINVAL;
	if (snprintf(path, sizeof(path), "%s/%s", state_dir, relpath) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -errno;
	r = readfile_fd(fd, max_size, &buf, &len);
	close(fd);
	if (r < 0)
		return r;
	*buf_out = buf;
	*len_out = len;
	return 0;
}

static int is_temp_name(const char *name)
{
	size_t n = strlen(name);

	return n > 4 && strcmp(name + n - 4, ".tmp") == 0;
}

/* Remove the regular *.tmp files of the directory dirfd (closed here); descend once more. */
static int sweep_dir(int dirfd, int descend)
{
	DIR *d = fdopendir(dirfd);
	struct dirent *e;
	int removed = 0;

	if (d == NULL) {
		close(dirfd);
		return -errno;
	}
	while ((e = readdir(d)) != NULL) {
		struct stat st;

		if (e->d_name[0] == '.' && (e->d_name[1] == '\0' || !strcmp(e->d_name, "..")))
			continue;
		if (fstatat(dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISREG(st.st_mode) && is_temp_name(e->d_name)) {
			if (unlinkat(dirfd, e->d_name, 0) == 0)
				removed++;
		} else if (S_ISDIR(st.st_mode) && descend) {
			int sub = openat(dirfd, e->d_name,
					 O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
			int r = sub < 0 ? 0 : sweep_dir(sub, 0);

			if (r > 0)
				removed += r;
		}
	}
	closedir(d);
	return removed;
}

int archive_sweep_temps(const char *state_dir)
{
	char top[PATH_MAX];
	int fd;

	if (snprintf(top, sizeof(top), "%s/archive", state_dir) >= (int)sizeof(top))
		return -ENAMETOOLONG;
	fd = open(top, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return errno == ENOENT ? 0 : -errno;
	return sweep_dir(fd, 1);
}
