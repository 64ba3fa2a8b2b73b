/* readfile.h: read a whole regular file from an open descriptor (config file, archived report) */
#ifndef JETSAMD_READFILE_H
#define JETSAMD_READFILE_H

#include <stddef.h>

/*
 * Read the regular file open as fd, at most max bytes (0: no limit), into a malloc'ed
 * buffer with a NUL after the last byte. The caller closes fd. Returns 0, or -EINVAL when
 * fd is not a regular file, -EFBIG when it is larger than max, -ENOMEM, or another -errno.
 */
int readfile_fd(int fd, size_t max, char **buf_out, size_t *len_out);

#endif
