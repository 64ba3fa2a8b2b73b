/* readfile.c: read a whole regular file from an open descriptor (config file, archived report) */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "readfile.h"

int readfile_fd(int fd, size_t max, char **buf_out, size_t *len_out)
{
	struct stat st;
	size_t len = 0;
	char *buf;

	*buf_out = NULL;
	*len_out = 0;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (!S_ISREG(st.st_mode))
		return -EINVAL;
	if (max && (uint64_t)st.st_size > max)
		return -EFBIG;
	buf = malloc((size_t)st.st_size + 1);
	if (buf == NULL)
		return -ENOMEM;
	/* a file that shrinks meanwhile gives what is there; one that grows, its old size */
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			int r = -errno;

			free(buf);
			return r;
		}
		if (n == 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	*buf_out = buf;
	*len_out = len;
	return 0;
}
