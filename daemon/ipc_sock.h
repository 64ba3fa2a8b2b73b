/* ipc_sock.h: the socket side of ipc: listening path, peer credentials, admin check, fd limit */
#ifndef JETSAMD_IPC_SOCK_H
#define JETSAMD_IPC_SOCK_H

#include <sys/types.h>

/* connections the kernel queues before jetsamd accepts them (a burst of clients) */
#define IPC_BACKLOG 1024

/* Who is on the other end of a client socket (SO_PEERCRED at accept). */
struct ipc_peer {
	uid_t uid;
	gid_t gid;
	pid_t pid;
	int admin; /* may sync, import, reparse: root, the daemon's uid, or in admin_group */
};

/*
 * Create, bind and listen on path (mode 0660), locking "path.lock" (*lock_fd, or -1) and
 * removing a stale socket. Returns the listening fd or a negative errno (logged).
 */
int ipc_sock_listen(const char *path, int *lock_fd);
/*
 * Read the peer's credentials from fd. admin_group ("" = none) is resolved by name; the
 * peer's supplementary groups come from /proc/PID/status (Groups:), else getgrouplist().
 * Returns 0 or a negative errno.
 */
int ipc_sock_peer(int fd, const char *admin_group, struct ipc_peer *out);
/* Raise RLIMIT_NOFILE's soft limit to its hard limit (many clients); logs what it got. */
void ipc_sock_raise_nofile(void);

#endif
