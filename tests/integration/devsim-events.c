/* devsim-events.c: devsim attach/detach seen by idevice_event_subscribe and idevice_id -l */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <libimobiledevice/libimobiledevice.h>
#include <usbmuxd.h>

#define MAX_EVENTS 64

struct event_log {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int n;
	int type[MAX_EVENTS];
	char udid[MAX_EVENTS][64];
};

static struct event_log events = {
	PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0, {0}, {{0}}};
static char tmpdir[] = "/tmp/jt-evXXXXXX";
static char ctl_path[100], mux_path[100];
static pid_t devsim_pid;

static const char *const udids[] = {
	"00008101-00000000000000E1",
	"00008101-00000000000000E2",
	"0123456789abcdef0123456789abcdef012345e3",
};

static void cleanup(void)
{
	char cmd[256];

	if (devsim_pid > 0) {
		kill(devsim_pid, SIGKILL);
		waitpid(devsim_pid, NULL, 0);
		devsim_pid = 0;
	}
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "cannot remove %s\n", tmpdir);
}

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;
	char cmd[256];

	fprintf(stderr, "FAIL: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n--- devsim log ---\n");
	fflush(stderr);
	snprintf(cmd, sizeof(cmd), "cat '%s/devsim.log' >&2", tmpdir);
	if (system(cmd) != 0)
		fprintf(stderr, "(no log)\n");
	cleanup();
	exit(1);
}

static void event_cb(const idevice_event_t *e, void *user)
{
	(void)user;
	pthread_mutex_lock(&events.lock);
	if (events.n < MAX_EVENTS) {
		events.type[events.n] = e->event;
		snprintf(events.udid[events.n], sizeof(events.udid[0]), "%s", e->udid);
		events.n++;
	}
	pthread_cond_broadcast(&events.cond);
	pthread_mutex_unlock(&events.lock);
}

/* wait until event number idx has arrived, then check it */
static void expect_event(int idx, int type, const char *udid)
{
	struct timespec ts;
	int r = 0;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += 10;
	pthread_mutex_lock(&events.lock);
	while (events.n <= idx && r != ETIMEDOUT)
		r = pthread_cond_timedwait(&events.cond, &events.lock, &ts);
	if (events.n <= idx) {
		pthread_mutex_unlock(&events.lock);
		die("event %d (type %d, %s) did not arrive", idx, type, udid);
	}
	if (events.type[idx] != type || strcmp(events.udid[idx], udid)) {
		int t = events.type[idx];
		char u[64];

		snprintf(u, sizeof(u), "%s", events.udid[idx]);
		pthread_mutex_unlock(&events.lock);
		die("event %d: got type %d udid %s, want type %d udid %s", idx, t, u, type, udid);
	}
	pthread_mutex_unlock(&events.lock);
}

static void write_phone(int i)
{
	char path[256];
	FILE *f;

	snprintf(path, sizeof(path), "%s/p%d", tmpdir, i);
	if (mkdir(path, 0755) < 0)
		die("mkdir %s: %s", path, strerror(errno));
	snprintf(path, sizeof(path), "%s/p%d/device.json", tmpdir, i);
	f = fopen(path, "w");
	if (!f)
		die("cannot write %s", path);
	fprintf(f,
		"{\"udid\": \"%s\", \"product_type\": \"iPhone13,2\", \"product_version\": "
		"\"15.5\", \"build_version\": \"19F77\", \"device_name\": \"Event phone %d\"}\n",
		udids[i], i);
	fclose(f);
}

/* one control command; returns the reply lines in buf */
static void control(const char *cmd, char *buf, size_t len)
{
	struct sockaddr_un sa;
	size_t got = 0;
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);

	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", ctl_path);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("cannot connect to the control socket: %s", strerror(errno));
	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd) || write(fd, "\n", 1) != 1)
		die("cannot send '%s'", cmd);
	while (got + 1 < len) {
		ssize_t n = read(fd, buf + got, len - got - 1);

		if (n <= 0)
			break;
		got += (size_t)n;
		buf[got] = '\0';
		if (!strcmp(buf, "ok\n") || (got >= 4 && !strcmp(buf + got - 4, "\nok\n")) ||
		    (!strncmp(buf, "error: ", 7) && buf[got - 1] == '\n'))
			break;
	}
	buf[got] = '\0';
	close(fd);
}

static void control_expect(const char *cmd, const char *want)
{
	char buf[4096];

	control(cmd, buf, sizeof(buf));
	if (strcmp(buf, want))
		die("control '%s': got '%s', want '%s'", cmd, buf, want);
}

static void expect_idevice_id(const char *want)
{
	char buf[4096];
	size_t got;
	FILE *p = popen("idevice_id -l", "r");
	int st;

	if (!p)
		die("cannot run idevice_id");
	got = fread(buf, 1, sizeof(buf) - 1, p);
	buf[got] = '\0';
	st = pclose(p);
	if (WIFEXITED(st) && WEXITSTATUS(st) == 127) {
		printf("SKIP: idevice_id not installed\n");
		cleanup();
		exit(77);
	}
	if (strcmp(buf, want))
		die("idevice_id -l: got '%s', want '%s'", buf, want);
}

static void start_devsim(const char *exe)
{
	char log[256], p0[256];
	struct stat st;
	int i;

	snprintf(log, sizeof(log), "%s/devsim.log", tmpdir);
	snprintf(p0, sizeof(p0), "%s/p0", tmpdir);
	devsim_pid = fork();
	if (devsim_pid < 0)
		die("fork: %s", strerror(errno));
	if (devsim_pid == 0) {
		FILE *f = freopen(log, "a", stderr);

		(void)f;
		execl(exe, exe, "--socket", mux_path, "--control", ctl_path, p0, (char *)NULL);
		_exit(127);
	}
	for (i = 0; i < 500; i++) {
		if (stat(ctl_path, &st) == 0)
			return;
		usleep(20000);
	}
	die("devsim did not start");
}

static void stop_devsim(void)
{
	int st;

	kill(devsim_pid, SIGTERM);
	if (waitpid(devsim_pid, &st, 0) < 0)
		die("waitpid: %s", strerror(errno));
	devsim_pid = 0;
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
		die("devsim exited with status 0x%x", st);
}

int main(void)
{
	const char *exe = getenv("DEVSIM");
	char cmd[512], want[512], buf[4096];
	static const char record[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
				     "<plist version=\"1.0\"><dict><key>HostID</key>"
				     "<string>11111111-2222-4333-8444-555555555555</string>"
				     "</dict></plist>\n";

	if (!exe)
		die("DEVSIM is not set");
	if (!mkdtemp(tmpdir))
		die("mkdtemp: %s", strerror(errno));
	snprintf(ctl_path, sizeof(ctl_path), "%s/ctl.sock", tmpdir);
	snprintf(mux_path, sizeof(mux_path), "%s/mux.sock", tmpdir);
	for (int i = 0; i < 3; i++)
		write_phone(i);
	start_devsim(exe);
	snprintf(cmd, sizeof(cmd), "UNIX:%s", mux_path);
	setenv("USBMUXD_SOCKET_ADDRESS", cmd, 1);

	if (idevice_event_subscribe(event_cb, NULL) != IDEVICE_E_SUCCESS)
		die("idevice_event_subscribe failed");
	expect_event(0, IDEVICE_DEVICE_ADD, udids[0]);

	snprintf(cmd, sizeof(cmd), "attach %s/p1", tmpdir);
	control_expect(cmd, "ok\n");
	expect_event(1, IDEVICE_DEVICE_ADD, udids[1]);
	snprintf(cmd, sizeof(cmd), "attach %s/p2", tmpdir);
	control_expect(cmd, "ok\n");
	expect_event(2, IDEVICE_DEVICE_ADD, udids[2]);
	snprintf(want, sizeof(want), "%s\n%s\n%s\n", udids[0], udids[1], udids[2]);
	expect_idevice_id(want);

	snprintf(cmd, sizeof(cmd), "detach %s", udids[1]);
	control_expect(cmd, "ok\n");
	expect_event(3, IDEVICE_DEVICE_REMOVE, udids[1]);
	snprintf(want, sizeof(want), "%s\n%s\n", udids[0], udids[2]);
	expect_idevice_id(want);

	/* re-attach: a new DeviceID, listed last, announced again */
	snprintf(cmd, sizeof(cmd), "attach %s/p1", tmpdir);
	control_expect(cmd, "ok\n");
	expect_event(4, IDEVICE_DEVICE_ADD, udids[1]);
	snprintf(want, sizeof(want), "%s\n%s\n%s\n", udids[0], udids[2], udids[1]);
	expect_idevice_id(want);

	/* SavePairRecord makes usbmuxd announce Paired */
	if (usbmuxd_save_pair_record_with_device_id(udids[0], 1, record, sizeof(record) - 1) != 0)
		die("usbmuxd_save_pair_record_with_device_id failed");
	expect_event(5, IDEVICE_DEVICE_PAIRED, udids[0]);

	/* a burst keeps its order */
	for (int round = 0; round < 5; round++) {
		snprintf(cmd, sizeof(cmd), "detach %s", udids[2]);
		control_expect(cmd, "ok\n");
		snprintf(cmd, sizeof(cmd), "attach %s/p2", tmpdir);
		control_expect(cmd, "ok\n");
	}
	for (int round = 0; round < 5; round++) {
		expect_event(6 + 2 * round, IDEVICE_DEVICE_REMOVE, udids[2]);
		expect_event(7 + 2 * round, IDEVICE_DEVICE_ADD, udids[2]);
	}

	/* control errors */
	snprintf(cmd, sizeof(cmd), "attach %s/p0", tmpdir);
	snprintf(want, sizeof(want),
		 "error: cannot attach '%s/p0': udid '%s' is already attached\n", tmpdir, udids[0]);
	control_expect(cmd, want);
	snprintf(cmd, sizeof(cmd), "attach %s/nonexistent", tmpdir);
	snprintf(want, sizeof(want), "error: cannot attach '%s/nonexistent': not a directory\n",
		 tmpdir);
	control_expect(cmd, want);
	control_expect("detach 00000000-0000000000000000",
		       "error: no phone '00000000-0000000000000000'\n");
	control("list", buf, sizeof(buf));
	snprintf(want, sizeof(want),
		 "%s id=1 trust=paired locked=off connection=USB dir=%s/p0\n"
		 "%s id=4 trust=paired locked=off connection=USB dir=%s/p1\n"
		 "%s id=9 trust=paired locked=off connection=USB dir=%s/p2\n"
		 "ok\n",
		 udids[0], tmpdir, udids[1], tmpdir, udids[2], tmpdir);
	if (strcmp(buf, want))
		die("list: got '%s', want '%s'", buf, want);

	idevice_event_unsubscribe();
	pthread_mutex_lock(&events.lock);
	if (events.n != 16) {
		int n = events.n;

		pthread_mutex_unlock(&events.lock);
		die("got %d events, want 16", n);
	}
	pthread_mutex_unlock(&events.lock);
	stop_devsim();
	cleanup();
	printf("PASS\n");
	return 0;
}
