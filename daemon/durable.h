/* durable.h: fsync helpers for files and directories (any thread, no uv.h) */
#ifndef JETSAMD_DURABLE_H
#define JETSAMD_DURABLE_H

/* open(dir, O_DIRECTORY) + fsync + close: makes the directory's entries durable. 0 or -errno. */
int durable_fsync_dir(const char *dir);
/* open(path) + fsync + close: makes the file's data durable. 0 or -errno. */
int durable_fsync_path(const char *path);

#endif
