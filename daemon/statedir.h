/* statedir.h: the state dir: one daemon per dir (flock), file modes, stale temp sweep (no uv.h) */
#ifndef JETSAMD_STATEDIR_H
#define JETSAMD_STATEDIR_H

#include <stddef.h>
#include <sys/types.h>

#define STATEDIR_LOCK_FILE "jetsamd.lock"
/* the umask jetsamd runs with: files 0640, directories 0750, whatever the caller's umask */
#define STATEDIR_UMASK 0027

struct statedir {
	int lock_fd; /* holds flock(LOCK_EX) on <dir>/jetsamd.lock; -1 when not held */
};

/*
 * Set the umask to STATEDIR_UMASK, create dir (0750, and its parents), take
 * <dir>/jetsamd.lock (flock LOCK_EX|LOCK_NB, the file holds our pid as text), then sweep the
 * temp files a crash left in the archive. Returns 0, -EBUSY when another process holds the
 * lock (err names its pid), or another negative errno; err gets one line.
 */
int statedir_open(struct statedir *sd, const char *dir, char *err, size_t errlen);
/* Release the lock (the lock file stays). A never-opened (zeroed, lock_fd -1) sd is fine. */
void statedir_close(struct statedir *sd);

/* Take the lock only (no sweep, no umask). *holder is the holder's pid on -EBUSY (0 unknown). */
int statedir_lock(const char *dir, int *fd_out, pid_t *holder);
/* Create path and its missing parents with mode (the last) and 0750 (parents). 0 or -errno. */
int statedir_mkdir_p(const char *path, mode_t mode);

#endif
