/* test-sd.c: unit tests of the built-in sd_notify / LISTEN_FDS fallback (daemon/sd.c) */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "../../daemon/sd.h"
#include "check.h"

static int unix_socket(int type, const char *path, int do_listen)
{
	struct sockaddr_un sa = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, type, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	unlink(path);
	if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		return -1;
	if (do_listen && listen(fd, 4) < 0)
		return -1;
	return fd;
}

static void test_notify(const char *dir)
{
	char path[200], buf[64];
	ssize_t n;
	int fd;

	unsetenv("NOTIFY_SOCKET");
	ASSERT_EQ(sd_notify_state("READY=1"), 0); /* nothing to notify: fine */
	snprintf(path, sizeof(path), "%s/notify", dir);
	fd = unix_socket(SOCK_DGRAM, path, 0);
	CHECK(fd >= 0);
	setenv("NOTIFY_SOCKET", path, 1);
	ASSERT_EQ(sd_notify_state("READY=1"), 0);
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	CHECK(n == 7);
	buf[n > 0 ? n : 0] = '\0';
	ASSERT_STREQ(buf, "READY=1");
	ASSERT_EQ(sd_notify_state("STATUS=3 phones"), 0);
	n = recv(fd, buf, sizeof(buf) - 1, 0);
	buf[n > 0 ? n : 0] = '\0';
	ASSERT_STREQ(buf, "STATUS=3 phones");
	/* a manager that reads nothing: the send is refused at once, never waits */
	{
		int sent = 0, r;

		while ((r = sd_notify_state("STATUS=filling")) == 0 && sent < 100000)
			sent++;
		ASSERT_EQ(r, -EAGAIN);
		CHECK(sent > 0);
		n = recv(fd, buf, sizeof(buf) - 1, 0); /* one read: room for one more */
		CHECK(n == 14);
		ASSERT_EQ(sd_notify_state("READY=1"), 0);
		ASSERT_EQ(sd_notify_state("READY=1"), -EAGAIN);
	}
	setenv("NOTIFY_SOCKET", "relative", 1);
	ASSERT_EQ(sd_notify_state("READY=1"), -EINVAL);
	unsetenv("NOTIFY_SOCKET");
	close(fd);
	unlink(path);
}

static void set_listen(const char *pid, const char *n, const char *names)
{
	setenv("LISTEN_PID", pid, 1);
	setenv("LISTEN_FDS", n, 1);
	if (names)
		setenv("LISTEN_FDNAMES", names, 1);
	else
		unsetenv("LISTEN_FDNAMES");
}

static void test_listen(const char *dir)
{
	char path[200], pid[32], other[32];
	int fd;

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	snprintf(other, sizeof(other), "%ld", (long)getpid() + 1);
	snprintf(path, sizeof(path), "%s/listen", dir);

	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	ASSERT_EQ(sd_listen_control(), -ENOENT);

	fd = unix_socket(SOCK_STREAM, path, 1);
	CHECK(fd >= 0);
	CHECK(dup2(fd, 3) == 3);
	if (fd != 3)
		close(fd);

	/* another process's fds are not ours; the variables are cleared either way */
	set_listen(other, "1", "control");
	ASSERT_EQ(sd_listen_control(), -ENOENT);
	CHECK(getenv("LISTEN_FDS") == NULL);

	set_listen(pid, "1", "control");
	ASSERT_EQ(sd_listen_control(), 3);
	CHECK(getenv("LISTEN_PID") == NULL && getenv("LISTEN_FDNAMES") == NULL);

	/* the only fd, without names */
	set_listen(pid, "1", NULL);
	ASSERT_EQ(sd_listen_control(), 3);

	/* a bound socket that does not listen is refused (and closed) */
	close(3);
	fd = unix_socket(SOCK_STREAM, path, 0);
	CHECK(dup2(fd, 3) == 3);
	if (fd != 3)
		close(fd);
	set_listen(pid, "1", "control");
	ASSERT_EQ(sd_listen_control(), -EINVAL);
	unlink(path);
}

/* A listening TCP socket on 127.0.0.1 (a free port) at fd target. */
static void tcp_listener_at(int target)
{
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	CHECK(fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 && listen(fd, 4) == 0);
	CHECK(dup2(fd, target) == target);
	if (fd != target)
		close(fd);
}

/* jetsamd.socket (control) and jetsamd-metrics.socket (metrics, TCP) passed together */
static void test_listen_metrics(const char *dir)
{
	char path[200], pid[32];
	int fd, control, metrics;

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	snprintf(path, sizeof(path), "%s/listen2", dir);
	fd = unix_socket(SOCK_STREAM, path, 1);
	CHECK(fd >= 0 && dup2(fd, 3) == 3);
	if (fd != 3)
		close(fd);
	tcp_listener_at(4);

	set_listen(pid, "2", "control:metrics");
	sd_listen_sockets(&control, &metrics);
	ASSERT_EQ(control, 3);
	ASSERT_EQ(metrics, 4);
	CHECK(getenv("LISTEN_FDS") == NULL);

	/* the other order */
	set_listen(pid, "2", "metrics:control");
	sd_listen_sockets(&control, &metrics);
	ASSERT_EQ(control, -EINVAL); /* fd 4 is TCP: not a control socket */
	ASSERT_EQ(metrics, -EINVAL); /* fd 3 is Unix: not a metrics socket */
	CHECK(fcntl(3, F_GETFD) < 0 && fcntl(4, F_GETFD) < 0); /* both closed */

	/* only the metrics socket: no control socket (the daemon binds its own) */
	tcp_listener_at(3);
	set_listen(pid, "1", "metrics");
	sd_listen_sockets(&control, &metrics);
	ASSERT_EQ(control, -ENOENT);
	ASSERT_EQ(metrics, 3);
	/* sd_listen_control() alone closes a metrics socket it does not use */
	set_listen(pid, "1", "metrics");
	ASSERT_EQ(sd_listen_control(), -ENOENT);
	CHECK(fcntl(3, F_GETFD) < 0);

	unsetenv("LISTEN_PID");
	unsetenv("LISTEN_FDS");
	sd_listen_sockets(&control, &metrics);
	ASSERT_EQ(control, -ENOENT);
	ASSERT_EQ(metrics, -ENOENT);
	unlink(path);
}

static void test_watchdog(void)
{
	char pid[32];

	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	unsetenv("WATCHDOG_USEC");
	unsetenv("WATCHDOG_PID");
	ASSERT_EQ(sd_watchdog_usec(), 0);
	setenv("WATCHDOG_USEC", "20000000", 1);
	ASSERT_EQ(sd_watchdog_usec(), 20000000);
	setenv("WATCHDOG_PID", pid, 1);
	ASSERT_EQ(sd_watchdog_usec(), 20000000);
	setenv("WATCHDOG_PID", "1", 1);
	ASSERT_EQ(sd_watchdog_usec(), 0);
	setenv("WATCHDOG_PID", pid, 1);
	setenv("WATCHDOG_USEC", "junk", 1);
	ASSERT_EQ(sd_watchdog_usec(), 0);
}

int main(void)
{
	char dir[] = "/tmp/jt-sd-XXXXXX";

	CHECK(mkdtemp(dir) != NULL);
	test_notify(dir);
	test_listen(dir);
	test_listen_metrics(dir);
	test_watchdog();
	rmdir(dir);
	return CHECK_DONE();
}
