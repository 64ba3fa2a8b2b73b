/* archive.h: content-addressed raw report archive, durable by file or batch (no uv.h) */
#ifndef JETSAMD_ARCHIVE_H
#define JETSAMD_ARCHIVE_H

#include <stddef.h>

/* sha256 of buf as 64 lower-case hex chars + NUL. */
void archive_sha256_hex(const void *buf, size_t len, char out[65]);

/*
 * Write buf to <state_dir>/archive/<hex[0..1]>/<hex>.ips durably (temp file, fsync,
 * rename, fsync of the directory). An existing file with that name and content is kept as
 * it is (one with other bytes, cut by a crash, is replaced). The directories archive/ and
 * archive/XX are made when a file is first put in them, not checked before each file.
 * *relpath_out (malloc'ed, "archive/ab/ab12....ips") names it relative to state_dir.
 * Safe on any thread. Returns 0 or a negative errno.
 */
int archive_write(const char *state_dir, const void *buf, size_t len, const char hex[65],
		  char **relpath_out);
/*
 * The same without any fsync (temp file, rename): the file is complete for readers at once
 * and durable after the next archive_flush(state_dir) returned 0. Nothing may record it as
 * archived (a store commit) before that flush.
 */
int archive_put(const char *state_dir, const void *buf, size_t len, const char hex[65],
		char **relpath_out);
/*
 * Make every archive_put() before it durable, data and names: one syncfs(2) of the file
 * system that holds <state_dir>/archive (see durable_syncfs()). 0 or a negative errno.
 */
int archive_flush(const char *state_dir);
/*
 * Remove the temp files (*.tmp) that a crash left under <state_dir>/archive and in its
 * sub-directories; nothing else is touched. Call at start, before any archive_write.
 * Returns how many were removed, or a negative errno (a missing archive is 0).
 */
int archive_sweep_temps(const char *state_dir);
/* Read an archived file back (malloc'ed). Returns 0 or a negative errno. */
int archive_read(const char *state_dir, const char *relpath, size_t max_size, void **buf_out,
		 size_t *len_out);

#endif
