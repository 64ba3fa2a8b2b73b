/* test-ctl-conn.c: unit tests of jetsamctl's connection: error advice, line reader, replies */
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "check.h"
#include "conn.h"

#define STR_(x)		  #x
#define STR(x)		  STR_(x)
#define PROTO_VERSION_STR STR(PROTO_VERSION)

static void test_explain(void)
{
	char buf[512];

	conn_explain_error(buf, sizeof(buf), -ENOENT, "/run/jetsamd/jetsamd.sock");
	ASSERT_STREQ(buf, "jetsamd is not running: cannot connect to '/run/jetsamd/jetsamd.sock' "
			  "(start it with `systemctl start jetsamd.socket` or run `jetsamd`)");
	conn_explain_error(buf, sizeof(buf), ECONNREFUSED, "/tmp/x.sock");
	CHECK(strncmp(buf, "jetsamd is not running: cannot connect to '/tmp/x.sock'", 55) == 0);
	conn_explain_error(buf, sizeof(buf), -EACCES, "/tmp/x.sock");
	CHECK(strncmp(buf, "permission denied on '/tmp/x.sock': add yourself to group 'jetsamd'",
		      67) == 0);
	conn_explain_error(buf, sizeof(buf), -ENAMETOOLONG, "/very/long");
	CHECK(strstr(buf, "socket path too long: '/very/long'") != NULL);
	conn_explain_error(buf, sizeof(buf), -ENOTSOCK, "/etc/passwd");
	ASSERT_STREQ(buf, "'/etc/passwd' is not a socket: give jetsamd's socket with --socket PATH "
			  "or $JETSAMD_SOCKET");
	conn_explain_error(buf, sizeof(buf), -EPROTOTYPE, "/tmp/dgram");
	ASSERT_STREQ(buf, "cannot connect to '/tmp/dgram': not a jetsamd socket");
	conn_explain_error(buf, sizeof(buf), -EIO, "/s");
	ASSERT_STREQ(buf, "cannot connect to '/s': Input/output error");
	ASSERT_STREQ(conn_strerror(-ECONNRESET), "jetsamd closed the connection");
}

/* A conn on one end of a socketpair; *peer is the daemon's end */
static void pair(struct conn *c, int *peer)
{
	int sv[2];

	CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
	memset(c, 0, sizeof(*c));
	c->fd = sv[0];
	c->path = "test";
	c->next_id = 7;
	*peer = sv[1];
}

static void put(int fd, const char *s)
{
	CHECK(write(fd, s, strlen(s)) == (ssize_t)strlen(s));
}

static void test_reader(void)
{
	struct conn c;
	cJSON *v = NULL;
	char *big;
	int peer;

	pair(&c, &peer);
	/* two lines in one write, then a line split over writes */
	put(peer, "{\"a\":1}\n{\"b\":2}\n{\"c\":");
	ASSERT_EQ(conn_read(&c, &v, 1000), 0);
	CHECK(cJSON_GetObjectItem(v, "a") != NULL);
	cJSON_Delete(v);
	ASSERT_EQ(conn_read(&c, &v, 1000), 0);
	CHECK(cJSON_GetObjectItem(v, "b") != NULL);
	cJSON_Delete(v);
	/* incomplete line: times out, keeps the bytes */
	ASSERT_EQ(conn_read(&c, &v, 50), -ETIMEDOUT);
	CHECK(v == NULL);
	put(peer, "3}\n");
	ASSERT_EQ(conn_read(&c, &v, 1000), 0);
	CHECK(cJSON_GetObjectItem(v, "c") != NULL);
	cJSON_Delete(v);
	/* not JSON, not an object */
	put(peer, "hello\n[1,2]\n");
	ASSERT_EQ(conn_read(&c, &v, 1000), -EBADMSG);
	ASSERT_EQ(conn_read(&c, &v, 1000), -EBADMSG);
	/* a line far longer than the first buffer */
	big = malloc(300000);
	memset(big, ' ', 300000);
	memcpy(big, "{\"k\":\"", 6);
	memset(big + 6, 'x', 299990);
	memcpy(big + 299996, "\"}\n", 3);
	if (fork() == 0) { /* the socket buffer is smaller than the line: write from a child */
		ssize_t n = write(peer, big, 299999);

		_exit(n == 299999 ? 0 : 1);
	}
	ASSERT_EQ(conn_read(&c, &v, 5000), 0);
	ASSERT_EQ(strlen(cJSON_GetObjectItem(v, "k")->valuestring), 299990);
	cJSON_Delete(v);
	free(big);
	/* EOF mid-line */
	put(peer, "{\"partial\":");
	close(peer);
	ASSERT_EQ(conn_read(&c, &v, 1000), -ECONNRESET);
	conn_release(&c);
	conn_release(&c); /* twice is harmless */
}

static void test_call(void)
{
	struct conn c;
	cJSON *req = cJSON_Parse("{\"cmd\":\"status\"}"), *result = NULL;
	char buf[256];
	ssize_t n;
	int peer;

	pair(&c, &peer);
	/* a push and a stale reply come first; then ours (id 7) */
	put(peer, "{\"push\":\"event\",\"event\":{}}\n{\"id\":3,\"ok\":true,\"result\":{}}\n"
		  "{\"id\":7,\"ok\":true,\"result\":{\"pid\":42}}\n");
	ASSERT_EQ(conn_call(&c, req, &result), 0);
	CHECK(result != NULL && cJSON_GetObjectItem(result, "pid") != NULL);
	cJSON_Delete(result);
	n = read(peer, buf, sizeof(buf) - 1);
	CHECK(n > 0);
	buf[n > 0 ? n : 0] = 0;
	ASSERT_STREQ(buf, "{\"cmd\":\"status\",\"id\":7}\n");

	/* a daemon error */
	put(peer, "{\"id\":8,\"ok\":false,\"error\":{\"code\":\"not_found\",\"message\":\"unknown "
		  "device 'x'\"}}\n");
	ASSERT_EQ(conn_call(&c, req, &result), CONN_E_DAEMON);
	ASSERT_STREQ(c.err_code, "not_found");
	ASSERT_STREQ(c.err_message, "unknown device 'x'");
	CHECK(result == NULL);

	/* a framing error answered without an id */
	put(peer,
	    "{\"ok\":false,\"error\":{\"code\":\"too_large\",\"message\":\"line too long\"}}\n");
	ASSERT_EQ(conn_call(&c, req, &result), CONN_E_DAEMON);
	ASSERT_STREQ(c.err_code, "too_large");

	/* ok without a result */
	put(peer, "{\"id\":10,\"ok\":true}\n");
	ASSERT_EQ(conn_call(&c, req, &result), -EBADMSG);

	/* the daemon goes away */
	close(peer);
	CHECK(conn_call(&c, req, &result) < 0);
	conn_release(&c);
	cJSON_Delete(req);
}

static void test_open_errors(void)
{
	struct conn c;

	/* nothing listens there: a clear error, nothing leaked */
	ASSERT_EQ(conn_open(&c, "/nonexistent-dir/jetsamd.sock"), CTL_EXIT_ERROR);
	ASSERT_EQ(c.fd, -1);
	ASSERT_EQ(conn_open(&c, ""), CTL_EXIT_ERROR);
}

/*
 * A fake daemon at path: accepts clients one after the other, reads each one's hello line,
 * answers reply (the same to each: a client may try again with an older version). It exits 1
 * on a hello that is not one of a version jetsamctl speaks. Returns the child's pid.
 */
static pid_t fake_daemon(const char *path, const char *reply)
{
	struct sockaddr_un addr = {.sun_family = AF_UNIX};
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	pid_t pid;

	unlink(path);
	snprintf(addr.sun_path, sizeof(addr.sun_path), "%s", path);
	CHECK(bind(fd, (struct sockaddr *)&addr, sizeof(addr)) == 0);
	CHECK(listen(fd, 4) == 0);
	pid = fork();
	if (pid == 0) {
		for (;;) {
			char buf[4096], want[32];
			int c = accept(fd, NULL, NULL), ok = 0, v;
			size_t len = 0;
			ssize_t n;

			/* read the whole hello line */
			while (len < sizeof(buf) - 1 &&
			       (n = read(c, buf + len, sizeof(buf) - 1 - len)) > 0) {
				len += (size_t)n;
				if (memchr(buf, '\n', len) != NULL)
					break;
			}
			buf[len] = 0;
			for (v = CONN_VERSION_MIN; v <= PROTO_VERSION; v++) {
				snprintf(want, sizeof(want), "\"version\":%d", v);
				ok |= strstr(buf, want) != NULL;
			}
			ok = ok && strchr(buf, '\n') != NULL &&
			     strstr(buf, "\"cmd\":\"hello\"") != NULL;
			if (ok && write(c, reply, strlen(reply)) < 0)
				ok = 0;
			close(c);
			if (!ok)
				_exit(1);
		}
	}
	close(fd);
	return pid;
}

/* Run conn_open against a fake daemon answering reply; returns its stderr text (static) */
static const char *open_with(const char *reply, int *rc)
{
	static char err[2048];
	char dir[] = "/tmp/jt-ctl-XXXXXX", path[64];
	FILE *tmp = tmpfile();
	int saved = dup(STDERR_FILENO), status = -1;
	struct conn c;
	pid_t pid;
	size_t n;

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/s.sock", dir);
	pid = fake_daemon(path, reply);
	fflush(stderr);
	dup2(fileno(tmp), STDERR_FILENO);
	*rc = conn_open(&c, path);
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	if (*rc == CTL_EXIT_OK)
		conn_release(&c);
	kill(pid, SIGTERM);
	waitpid(pid, &status, 0);
	/* it got only good hellos (a bad one ends it with 1 before the signal) */
	CHECK(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
	rewind(tmp);
	n = fread(err, 1, sizeof(err) - 1, tmp);
	err[n] = 0;
	fclose(tmp);
	unlink(path);
	rmdir(dir);
	return err;
}

static void test_hello(void)
{
	const char *err;
	int rc;

	err = open_with("{\"id\":1,\"ok\":true,\"result\":{\"version\":2,\"daemon\":\"jetsamd "
			"0.1.0\"}}\n",
			&rc);
	ASSERT_EQ(rc, CTL_EXIT_OK);
	ASSERT_STREQ(err, "");
	/* a daemon of protocol 1 answers hello with 1: the connection speaks 1 */
	{
		char dir[] = "/tmp/jt-ctl-XXXXXX", path[64];
		struct conn c;
		pid_t pid;

		CHECK(mkdtemp(dir) != NULL);
		snprintf(path, sizeof(path), "%s/s.sock", dir);
		pid = fake_daemon(path, "{\"id\":1,\"ok\":true,\"result\":{\"version\":1}}\n");
		ASSERT_EQ(conn_open(&c, path), CTL_EXIT_OK);
		ASSERT_EQ(c.version, 1);
		conn_release(&c);
		kill(pid, SIGTERM);
		waitpid(pid, NULL, 0);
		unlink(path);
		rmdir(dir);
	}

	/* the daemon refuses our version */
	err = open_with("{\"id\":1,\"ok\":false,\"error\":{\"code\":\"version_mismatch\","
			"\"message\":\"this daemon speaks version 3, not 2\"}}\n",
			&rc);
	ASSERT_EQ(rc, CTL_EXIT_ERROR);
	CHECK(strstr(err, "jetsamctl: protocol version mismatch: jetsamctl") != NULL);
	CHECK(strstr(err, "speaks version " PROTO_VERSION_STR) != NULL);
	CHECK(strstr(err, "this daemon speaks version 3, not 2") != NULL);

	/* the daemon answers with another version */
	err = open_with("{\"id\":1,\"ok\":true,\"result\":{\"version\":9,\"daemon\":\"jetsamd "
			"9.0\"}}\n",
			&rc);
	ASSERT_EQ(rc, CTL_EXIT_ERROR);
	CHECK(strstr(err, "protocol version mismatch") != NULL);
	CHECK(strstr(err, "jetsamd 9.0") != NULL && strstr(err, "version 9") != NULL);

	/* the daemon hangs up */
	err = open_with("", &rc);
	ASSERT_EQ(rc, CTL_EXIT_ERROR);
	CHECK(strstr(err, "jetsamd closed the connection") != NULL);
}

int main(void)
{
	test_hello();
	test_explain();
	test_reader();
	test_call();
	test_open_errors();
	return CHECK_DONE();
}
