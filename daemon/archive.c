/* archive.c: raw report archive under the state dir, content-addressed, fsync'ed */
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

static int mkdir_durable(const char *path, const char *parent)
{
	if (mkdir(path, 0750) == 0)
		return durable_fsync_dir(parent);
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

int archive_write(const char *state_dir, const void *buf, size_t len, const char hex[65],
		  char **relpath_out)
{
	char top[PATH_MAX], dir[PATH_MAX], path[PATH_MAX], tmp[PATH_MAX];
	struct stat st;
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
	r = mkdir_durable(top, state_dir);
	if (r == 0)
		r = mkdir_durable(dir, top);
	if (r < 0)
		return r;
	if (stat(path, &st) == 0 && S_ISREG(st.st_mode) && (size_t)st.st_size == len)
		goto done; /* same content already archived */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0640);
	if (fd < 0)
		return -errno;
	r = write_all(fd, buf, len);
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (close(fd) < 0 && r == 0)
		r = -errno;
	if (r == 0 && rename(tmp, path) < 0)
		r = -errno;
	if (r < 0) {
		unlink(tmp);
		return r;
	}
	r = durable_fsync_dir(dir);
	if (r < 0)
		return r;
done:
	if (asprintf(relpath_out, "archive/%.2s/%s.ips", hex, hex) < 0) {
		*relpath_out = NULL;
		return -ENOMEM;
	}
	return 0;
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
