/* ipc_sock.c: the socket side of ipc: listening path, peer credentials, admin check, fd limit */
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "ipc_sock.h"
#include "log.h"

/* Refuse a live socket or a non-socket in the way; remove a stale socket. */
static int clear_path(const struct sockaddr_un *sa, const char *path)
{
	struct stat st;
	int fd;

	if (lstat(path, &st) != 0)
		return 0;
	if (!S_ISSOCK(st.st_mode)) {
		log_err("ipc",
			"cannot create socket '%s': a file that is not a socket is in the way",
			path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd >= 0 && connect(fd, (const struct sockaddr *)sa, sizeof(*sa)) == 0) {
		close(fd);
		log_err("ipc", "cannot create socket '%s': it is in use", path);
		return -EADDRINUSE;
	}
	if (fd >= 0)
		close(fd);
	log_info("ipc", "removing stale socket '%s'", path);
	unlink(path);
	return 0;
}

int ipc_sock_listen(const char *path, int *lock_fd)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	char lock[sizeof(sa.sun_path) + 8];
	mode_t old;
	int fd, r;

	*lock_fd = -1;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("ipc", "socket path '%s' is too long", path);
		return -ENAMETOOLONG;
	}
	memcpy(sa.sun_path, path, strlen(path));
	snprintf(lock, sizeof(lock), "%s.lock", path);
	*lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (*lock_fd < 0) {
		r = -errno;
		log_err("ipc", "cannot open lock file '%s': %s", lock, strerror(errno));
		return r;
	}
	if (flock(*lock_fd, LOCK_EX | LOCK_NB) < 0) {
		log_err("ipc", "cannot lock '%s': another jetsamd is running", lock);
		return -EADDRINUSE;
	}
	r = clear_path(&sa, path);
	if (r < 0)
		return r;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	old = umask(0117);
	r = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (r < 0 || listen(fd, IPC_BACKLOG) < 0) {
		r = -errno;
		log_err("ipc", "cannot listen on '%s': %s", path, strerror(errno));
		close(fd);
		return r;
	}
	chmod(path, 0660);
	return fd;
}

/* The admin group's gid, resolved once per name (NSS is not asked again on each accept). */
static int admin_gid(const char *name, gid_t *out)
{
	static char cached[256];
	static gid_t cached_gid;
	static int cached_ok;
	struct group gr, *res = NULL;
	char buf[4096];

	if (strcmp(name, cached) == 0 && cached[0] != '\0') {
		*out = cached_gid;
		return cached_ok ? 0 : -ENOENT;
	}
	snprintf(cached, sizeof(cached), "%s", name);
	cached_ok = getgrnam_r(name, &gr, buf, sizeof(buf), &res) == 0 && res != NULL;
	if (cached_ok)
		cached_gid = gr.gr_gid;
	else
		log_warn("ipc",
			 "admin_group '%s' does not exist: only root may sync, import, "
			 "reparse",
			 name);
	*out = cached_gid;
	return cached_ok ? 0 : -ENOENT;
}

/* 1 when /proc/PID/status lists gid in Groups:, 0 when not, -1 when unreadable */
static int proc_has_group(pid_t pid, gid_t gid)
{
	char path[64], line[4096];
	FILE *f;
	int found = -1;

	snprintf(path, sizeof(path), "/proc/%ld/status", (long)pid);
	f = fopen(path, "re");
	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		char *p, *end;

		if (strncmp(line, "Groups:", 7) != 0)
			continue;
		found = 0;
		for (p = line + 7;; p = end) {
			unsigned long g = strtoul(p, &end, 10);

			if (end == p)
				break;
			if ((gid_t)g == gid)
				found = 1;
		}
		break;
	}
	fclose(f);
	return found;
}

/* 1 when the user uid (primary group pgid) is a member of gid by the group database */
static int user_has_group(uid_t uid, gid_t pgid, gid_t gid)
{
	struct passwd pw, *res = NULL;
	char buf[4096];
	gid_t groups[256];
	int n = 256;

	if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) != 0 || res == NULL)
		return 0;
	if (getgrouplist(pw.pw_name, pgid, groups, &n) < 0)
		n = 256; /* more than fit: look at those that did */
	for (int i = 0; i < n; i++)
		if (groups[i] == gid)
			return 1;
	return 0;
}

int ipc_sock_peer(int fd, const char *admin_group, struct ipc_peer *out)
{
	struct ucred cred;
	socklen_t len = sizeof(cred);
	gid_t g;
	int r;

	memset(out, 0, sizeof(*out));
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0)
		return -errno;
	out->uid = cred.uid;
	out->gid = cred.gid;
	out->pid = cred.pid;
	if (cred.uid == 0 || cred.uid == geteuid()) {
		out->admin = 1;
		return 0;
	}
	if (admin_group == NULL || admin_group[0] == '\0' || admin_gid(admin_group, &g) < 0)
		return 0;
	if (cred.gid == g) {
		out->admin = 1;
		return 0;
	}
	r = cred.pid > 0 ? proc_has_group(cred.pid, g) : -1;
	out->admin = r >= 0 ? r : user_has_group(cred.uid, cred.gid, g);
	return 0;
}

void ipc_sock_raise_nofile(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur >= rl.rlim_max)
		return;
	rl.rlim_cur = rl.rlim_max;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0)
		log_warn("ipc", "cannot raise the open file limit: %s", strerror(errno));
	else
		log_debug("ipc", "open file limit raised to %llu", (unsigned long long)rl.rlim_cur);
}
