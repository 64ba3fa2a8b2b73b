/* sd.c: sd_notify and socket activation through libsystemd, or a built-in fallback */
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <config.h> /* HAVE_LIBSYSTEMD */

#include "log.h"
#include "sd.h"

/* SD_FALLBACK forces the built-in implementation (its unit test builds it so) */
#if HAVE_LIBSYSTEMD && !defined(SD_FALLBACK)
#define SD_USE_LIBSYSTEMD 1
#include <systemd/sd-daemon.h>
#else
#define SD_USE_LIBSYSTEMD 0
#endif

#define SD_LISTEN_FDS_START 3

/* A listening AF_UNIX stream socket? */
static int is_unix_listener(int fd)
{
	struct sockaddr_un sa;
	socklen_t salen = sizeof(sa);
	int type = 0, acc = 0;
	socklen_t l = sizeof(type);
	struct stat st;

	if (fstat(fd, &st) < 0 || !S_ISSOCK(st.st_mode))
		return 0;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0 || type != SOCK_STREAM)
		return 0;
	l = sizeof(acc);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l) < 0 || !acc)
		return 0;
	if (getsockname(fd, (struct sockaddr *)&sa, &salen) < 0 || sa.sun_family != AF_UNIX)
		return 0;
	return 1;
}

/*
 * Both builds send a state themselves when NOTIFY_SOCKET is a path ("/...") or an abstract
 * name ("@..."), with MSG_DONTWAIT: libsystemd's sd_notify() sends with a blocking
 * sendmsg(), and a datagram to a manager whose queue is full (net.unix.max_dgram_qlen
 * datagrams not read yet) would hold the caller, the event loop, until the manager reads.
 */
#if SD_USE_LIBSYSTEMD
static int notify_other(const char *state);
#endif

int sd_notify_state(const char *state)
{
	const char *path = getenv("NOTIFY_SOCKET");
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	socklen_t salen;
	size_t plen;
	ssize_t n;
	int fd, r = 0;

	if (path == NULL || path[0] == '\0')
		return 0;
	plen = strlen(path);
	if (path[0] != '/' && path[0] != '@') {
#if SD_USE_LIBSYSTEMD
		return notify_other(state);
#else
		return -EINVAL;
#endif
	}
	if (plen >= sizeof(sa.sun_path))
		return -EINVAL;
	memcpy(sa.sun_path, path, plen);
	if (path[0] == '@')
		sa.sun_path[0] = '\0'; /* abstract namespace */
	salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + plen + (path[0] == '/'));
	fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	do
		n = sendto(fd, state, strlen(state), MSG_NOSIGNAL | MSG_DONTWAIT,
			   (struct sockaddr *)&sa, salen);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		r = errno == EWOULDBLOCK ? -EAGAIN : -errno;
	close(fd);
	return r;
}

#if SD_USE_LIBSYSTEMD

/* NOTIFY_SOCKET forms other than a path (vsock:, since systemd 253): libsystemd's send */
static int notify_other(const char *state)
{
	int r = sd_notify(0, state);

	return r < 0 ? r : 0;
}

uint64_t sd_watchdog_usec(void)
{
	uint64_t usec = 0;

	if (sd_watchdog_enabled(0, &usec) <= 0)
		return 0;
	return usec;
}

static int listen_fds(char ***names)
{
	return sd_listen_fds_with_names(1, names);
}

#else /* built-in fallback */

static int pid_is_us(const char *var)
{
	const char *e = getenv(var);
	char *end;
	long pid;

	if (e == NULL)
		return -1; /* unset */
	errno = 0;
	pid = strtol(e, &end, 10);
	return errno == 0 && *end == '\0' && pid == (long)getpid();
}

uint64_t sd_watchdog_usec(void)
{
	const char *e = getenv("WATCHDOG_USEC");
	unsigned long long usec;
	char *end;

	if (e == NULL || pid_is_us("WATCHDOG_PID") == 0)
		return 0;
	errno = 0;
	usec = strtoull(e, &end, 10);
	if (errno != 0 || *end != '\0' || usec == 0)
		return 0;
	return (uint64_t)usec;
}

static int listen_fds(char ***names)
{
	const char *e = getenv("LISTEN_FDS"), *fdnames = getenv("LISTEN_FDNAMES");
	char *end;
	long n;
	int r = 0;

	*names = NULL;
	if (e == NULL || pid_is_us("LISTEN_PID") != 1)
		goto out;
	errno = 0;
	n = strtol(e, &end, 10);
	if (errno != 0 || *end != '\0' || n <= 0 || n > 1024) {
		r = n == 0 ? 0 : -EINVAL;
		goto out;
	}
	for (int fd = SD_LISTEN_FDS_START; fd < SD_LISTEN_FDS_START + n; fd++) {
		int fl = fcntl(fd, F_GETFD);

		if (fl < 0) {
			r = -errno;
			goto out;
		}
		fcntl(fd, F_SETFD, fl | FD_CLOEXEC);
	}
	if (fdnames != NULL) {
		char **v = calloc((size_t)n + 1, sizeof(char *));
		const char *p = fdnames;

		if (v == NULL) {
			r = -ENOMEM;
			goto out;
		}
		for (long i = 0; i < n; i++) {
			const char *colon = strchr(p, ':');
			size_t len = colon ? (size_t)(colon - p) : strlen(p);

			v[i] = strndup(p, len);
			if (v[i] == NULL) {
				for (long j = 0; j < i; j++)
					free(v[j]);
				free(v);
				r = -ENOMEM;
				goto out;
			}
			p = colon ? colon + 1 : p + len;
		}
		*names = v;
	}
	r = (int)n;
out:
	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	unsetenv("LISTEN_FDNAMES");
	return r;
}

#endif

/* A listening TCP socket (AF_INET or AF_INET6)? */
static int is_tcp_listener(int fd)
{
	struct sockaddr_storage sa;
	socklen_t salen = sizeof(sa);
	int type = 0, acc = 0;
	socklen_t l = sizeof(type);

	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &l) < 0 || type != SOCK_STREAM)
		return 0;
	l = sizeof(acc);
	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &l) < 0 || !acc)
		return 0;
	if (getsockname(fd, (struct sockaddr *)&sa, &salen) < 0)
		return 0;
	return sa.ss_family == AF_INET || sa.ss_family == AF_INET6;
}

static int set_cloexec(int fd)
{
	int r = fcntl(fd, F_GETFD);

	if (r >= 0)
		fcntl(fd, F_SETFD, r | FD_CLOEXEC);
	return fd;
}

/* Pick the control and metrics fds among the n passed; close the others. */
static void pick(int n, char **names, int *control, int *metrics)
{
	for (int i = 0; i < n; i++) {
		const char *name = names && names[i] ? names[i] : "";

		if (strcmp(name, "control") == 0 && *control < 0)
			*control = SD_LISTEN_FDS_START + i;
		else if (strcmp(name, "metrics") == 0 && *metrics < 0)
			*metrics = SD_LISTEN_FDS_START + i;
	}
	if (*control < 0 && n == 1 && *metrics < 0)
		*control = SD_LISTEN_FDS_START;
	for (int i = 0; i < n; i++) {
		int fd = SD_LISTEN_FDS_START + i;

		if (fd != *control && fd != *metrics) {
			log_warn("sd", "closing unexpected activated fd %d (name '%s')", fd,
				 names && names[i] ? names[i] : "");
			close(fd);
		}
	}
}

void sd_listen_sockets(int *control, int *metrics)
{
	char **names = NULL;
	int n = listen_fds(&names);

	*control = *metrics = -1;
	if (n <= 0) {
		free(names);
		*control = *metrics = n < 0 ? n : -ENOENT;
		return;
	}
	pick(n, names, control, metrics);
	if (names) {
		for (int i = 0; i < n; i++)
			free(names[i]);
		free(names);
	}
	if (*control < 0) {
		*control = -ENOENT;
	} else if (!is_unix_listener(*control)) {
		log_err("sd", "activated fd %d is not a listening unix stream socket", *control);
		close(*control);
		*control = -EINVAL;
	} else {
		set_cloexec(*control);
	}
	if (*metrics < 0) {
		*metrics = -ENOENT;
	} else if (!is_tcp_listener(*metrics)) {
		log_err("sd", "activated fd %d (metrics) is not a listening TCP socket", *metrics);
		close(*metrics);
		*metrics = -EINVAL;
	} else {
		set_cloexec(*metrics);
	}
}

int sd_listen_control(void)
{
	int control, metrics;

	sd_listen_sockets(&control, &metrics);
	if (metrics >= 0) {
		log_warn("sd", "closing activated fd %d (metrics): not used here", metrics);
		close(metrics);
	}
	return control;
}
