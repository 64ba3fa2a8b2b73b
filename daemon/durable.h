/* durable.h: fsync/syncfs helpers for files and directories (any thread, no uv.h) */
#ifndef JETSAMD_DURABLE_H
#define JETSAMD_DURABLE_H

/* open(dir, O_DIRECTORY) + fsync + close: makes the directory's entries durable. 0 or -errno. */
int durable_fsync_dir(const char *dir);
/* open(path) + fsync + close: makes the file's data durable. 0 or -errno. */
int durable_fsync_path(const char *path);
/*
 * open(dir, O_DIRECTORY) + syncfs + close: makes everything written to dir's file system
 * durable (data and names of any number of files) in one call. It also writes what others
 * left dirty on that file system. Write errors since the last syncfs are reported on Linux
 * >= 5.8. 0 or -errno.
 */
int durable_syncfs(const char *dir);

#endif
