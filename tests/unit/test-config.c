/* test-config.c: unit tests of the configuration parser (daemon/config.c): every key, errors */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../daemon/config.h"
#include "../../daemon/log.h"
#include "check.h"

static int load(struct config *c, const char *text, char *err, size_t errlen)
{
	return config_load_buffer(c, "test.conf", text, strlen(text), err, errlen);
}

static void test_defaults(void)
{
	struct config c;

	CHECK(config_init(&c) == 0);
	CHECK(c.socket && c.socket[0] == '/');
	CHECK(c.state_dir && c.state_dir[0] == '/');
	CHECK(c.usbmuxd_socket == NULL);
	ASSERT_EQ(c.log_level, LOG_LEVEL_INFO);
	ASSERT_EQ(c.resync_interval_s, 60);
	ASSERT_EQ(c.remove_after_pull, 0);
	ASSERT_EQ(c.live_detection, 1);
	ASSERT_EQ(c.collect, CONFIG_COLLECT_JETSAM);
	ASSERT_EQ(c.mover_timeout_ms, 10000);
	ASSERT_EQ(c.max_parallel_syncs, 3);
	ASSERT_EQ(c.retry_min_s, 2);
	ASSERT_EQ(c.retry_max_s, 300);
	ASSERT_EQ(c.max_report_size, 16 * 1024 * 1024);
	ASSERT_EQ(c.client_queue_max, 16 * 1024 * 1024);
	ASSERT_EQ(c.max_clients, 256);
	ASSERT_EQ(c.max_clients_per_uid, 64);
	ASSERT_EQ(c.client_idle_timeout_s, 300);
	ASSERT_EQ(c.request_timeout_s, 30);
	ASSERT_EQ(c.import_timeout_s, 60);
	ASSERT_EQ(c.reply_buffer_max, 8 * 1024 * 1024);
	ASSERT_STREQ(c.admin_group, "");
	config_release(&c);
}

/* The client limits and authorization keys: values, ranges, names. */
static void test_client_keys(void)
{
	static const char text[] = "max_clients_per_uid = 8\n"
				   "client_idle_timeout = 2m\n"
				   "request_timeout = 5s\n"
				   "import_timeout = 90\n"
				   "reply_buffer_max = 12M\n"
				   "admin_group = jetsamd-admin\n";
	struct config c, copy;
	char err[256] = "";

	CHECK(config_init(&c) == 0);
	ASSERT_EQ(load(&c, text, err, sizeof(err)), 0);
	ASSERT_STREQ(err, "");
	ASSERT_EQ(c.max_clients_per_uid, 8);
	ASSERT_EQ(c.client_idle_timeout_s, 120);
	ASSERT_EQ(c.request_timeout_s, 5);
	ASSERT_EQ(c.import_timeout_s, 90);
	ASSERT_EQ(c.reply_buffer_max, 12 * 1024 * 1024);
	ASSERT_STREQ(c.admin_group, "jetsamd-admin");
	CHECK(config_copy(&copy, &c) == 0);
	ASSERT_STREQ(copy.admin_group, "jetsamd-admin");
	config_release(&copy);
	ASSERT_EQ(config_set(&c, "client_idle_timeout", "0", err, sizeof(err)), 0);
	ASSERT_EQ(c.client_idle_timeout_s, 0); /* never */
	ASSERT_EQ(config_set(&c, "admin_group", "none", err, sizeof(err)), 0);
	ASSERT_STREQ(c.admin_group, "");
	ASSERT_EQ(config_set(&c, "admin_group", "", err, sizeof(err)), 0);
	ASSERT_STREQ(c.admin_group, "");
	ASSERT_EQ(config_set(&c, "admin_group", "a:b", err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "key 'admin_group': 'a:b' is not a group name");
	ASSERT_EQ(config_set(&c, "max_clients_per_uid", "0", err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "key 'max_clients_per_uid': '0' is out of range 1..4096");
	ASSERT_EQ(config_set(&c, "import_timeout", "2h", err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "key 'import_timeout': '2h' is out of range 1s..3600s");
	ASSERT_EQ(config_set(&c, "request_timeout", "0", err, sizeof(err)), -EINVAL);
	ASSERT_EQ(config_set(&c, "reply_buffer_max", "1K", err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "key 'reply_buffer_max': '1K' is out of range 65536..4294967296");
	ASSERT_EQ(config_set(&c, "reply_buffer_max", "lots", err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "key 'reply_buffer_max': 'lots' is not a size (e.g. 16M, 512K)");
	config_release(&c);
}

static void test_every_key(void)
{
	static const char text[] = "# comment\n"
				   "\n"
				   "  socket = /tmp/x/j.sock   # trailing comment\n"
				   "state_dir=/tmp/state\n"
				   "usbmuxd_socket = UNIX:/tmp/mux.sock\n"
				   "log_level = debug\n"
				   "resync_interval = 5m\n"
				   "remove_after_pull = yes\n"
				   "collect = all\n"
				   "mover_timeout = 1500ms\n"
				   "max_parallel_syncs = 7\n"
				   "retry_min = 3s\n"
				   "retry_max = 1h\n"
				   "max_report_size = 512K\n"
				   "client_queue_max = 1M\n"
				   "max_clients = 9\n";
	struct config c, copy;
	char err[256] = "";

	CHECK(config_init(&c) == 0);
	ASSERT_EQ(load(&c, text, err, sizeof(err)), 0);
	ASSERT_STREQ(err, "");
	ASSERT_STREQ(c.socket, "/tmp/x/j.sock");
	ASSERT_STREQ(c.state_dir, "/tmp/state");
	ASSERT_STREQ(c.usbmuxd_socket, "UNIX:/tmp/mux.sock");
	ASSERT_EQ(c.log_level, LOG_LEVEL_DEBUG);
	ASSERT_EQ(c.resync_interval_s, 300);
	ASSERT_EQ(c.remove_after_pull, 1);
	ASSERT_EQ(c.collect, CONFIG_COLLECT_ALL);
	ASSERT_EQ(c.mover_timeout_ms, 1500);
	ASSERT_EQ(c.max_parallel_syncs, 7);
	ASSERT_EQ(c.retry_min_s, 3);
	ASSERT_EQ(c.retry_max_s, 3600);
	ASSERT_EQ(c.max_report_size, 512 * 1024);
	ASSERT_EQ(c.client_queue_max, 1024 * 1024);
	ASSERT_EQ(c.max_clients, 9);
	ASSERT_EQ(config_check(&c, err, sizeof(err)), 0);

	CHECK(config_copy(&copy, &c) == 0);
	ASSERT_STREQ(copy.socket, c.socket);
	CHECK(copy.socket != c.socket);
	ASSERT_EQ(copy.max_clients, 9);
	config_release(&copy);

	/* later values win; "default" and "" reset usbmuxd_socket; HOST:PORT works */
	ASSERT_EQ(load(&c, "usbmuxd_socket = default\nresync_interval = 0\n", err, sizeof(err)), 0);
	CHECK(c.usbmuxd_socket == NULL);
	ASSERT_EQ(c.resync_interval_s, 0);
	ASSERT_EQ(load(&c, "usbmuxd_socket = 127.0.0.1:27015\n", err, sizeof(err)), 0);
	ASSERT_STREQ(c.usbmuxd_socket, "127.0.0.1:27015");
	ASSERT_EQ(load(&c, "remove_after_pull = off\ncollect = JETSAM\nlog_level = warning\n", err,
		       sizeof(err)),
		  0);
	ASSERT_EQ(c.remove_after_pull, 0);
	ASSERT_EQ(c.collect, CONFIG_COLLECT_JETSAM);
	ASSERT_EQ(c.log_level, LOG_LEVEL_WARNING);
	ASSERT_EQ(load(&c, "live_detection = no\n", err, sizeof(err)), 0);
	ASSERT_EQ(c.live_detection, 0);
	ASSERT_EQ(load(&c, "live_detection = yes\n", err, sizeof(err)), 0);
	ASSERT_EQ(c.live_detection, 1);
	ASSERT_EQ(load(&c, "live_detection = maybe\n", err, sizeof(err)), -EINVAL);
	/* no newline at the end of the last line, CRLF line ends */
	ASSERT_EQ(load(&c, "max_clients = 5\r\nmax_clients = 6", err, sizeof(err)), 0);
	ASSERT_EQ(c.max_clients, 6);
	config_release(&c);
}

struct bad_case {
	const char *text, *want;
};

static void test_errors(void)
{
	static const struct bad_case cases[] = {
		{"\n\nbogus = 1\n", "test.conf:3: key 'bogus': unknown key"},
		{"socket\n", "test.conf:1: syntax error: expected 'key = value'"},
		{" = 3\n", "test.conf:1: syntax error: missing key before '='"},
		{"socket = relative/path\n",
		 "test.conf:1: key 'socket': path 'relative/path' is not "
		 "absolute"},
		{"state_dir = x\n", "test.conf:1: key 'state_dir': path 'x' is not absolute"},
		{"usbmuxd_socket = nonsense\n", "test.conf:1: key 'usbmuxd_socket': 'nonsense' is "
						"neither UNIX:/path nor HOST:PORT"},
		{"usbmuxd_socket = host:99999\n",
		 "test.conf:1: key 'usbmuxd_socket': port in 'host:99999' is not 1..65535"},
		{"usbmuxd_socket = UNIX:rel\n",
		 "test.conf:1: key 'usbmuxd_socket': path 'rel' is not absolute"},
		{"log_level = loud\n",
		 "test.conf:1: key 'log_level': 'loud' is not one of err, warning, info, debug"},
		{"resync_interval = soon\n", "test.conf:1: key 'resync_interval': 'soon' is not a "
					     "duration (e.g. 30s, 500ms, 5m)"},
		{"resync_interval = 30d\n", "test.conf:1: key 'resync_interval': '30d' is not a "
					    "duration (e.g. 30s, 500ms, 5m)"},
		{"remove_after_pull = maybe\n",
		 "test.conf:1: key 'remove_after_pull': 'maybe' is not yes or no"},
		{"collect = some\n", "test.conf:1: key 'collect': 'some' is not jetsam or all"},
		{"mover_timeout = 5ms\n",
		 "test.conf:1: key 'mover_timeout': '5ms' is out of range 100ms..600000ms"},
		{"device_timeout = 30s\n", "test.conf:1: key 'device_timeout': unknown key"},
		{"max_parallel_syncs = 0\n",
		 "test.conf:1: key 'max_parallel_syncs': '0' is out of range 1..64"},
		{"max_parallel_syncs = -1\n",
		 "test.conf:1: key 'max_parallel_syncs': '-1' is not a number"},
		{"retry_min = 0\n", "test.conf:1: key 'retry_min': '0' is out of range 1s..86400s"},
		{"retry_max = 2d\n",
		 "test.conf:1: key 'retry_max': '2d' is not a duration (e.g. 30s, 500ms, 5m)"},
		{"max_report_size = 1T\n",
		 "test.conf:1: key 'max_report_size': '1T' is not a size (e.g. 16M, 512K)"},
		{"max_report_size = 1G\n",
		 "test.conf:1: key 'max_report_size': '1G' is out of range 1024..268435456"},
		{"client_queue_max = 10\n",
		 "test.conf:1: key 'client_queue_max': '10' is out of range 4096..1073741824"},
		{"max_clients = 99999999999999999999999\n",
		 "test.conf:1: key 'max_clients': '99999999999999999999999' is out of range "
		 "1..4096"},
		{"max_clients =\n", "test.conf:1: key 'max_clients': '' is not a number"},
	};
	char err[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct config c;

		CHECK(config_init(&c) == 0);
		err[0] = '\0';
		ASSERT_EQ(load(&c, cases[i].text, err, sizeof(err)), -EINVAL);
		ASSERT_STREQ(err, cases[i].want);
		config_release(&c);
	}
}

static void test_check_and_file(void)
{
	char path[] = "/tmp/jt-config-XXXXXX";
	struct config c;
	char err[256];
	FILE *f;
	int fd;

	CHECK(config_init(&c) == 0);
	ASSERT_EQ(load(&c, "retry_min = 10m\nretry_max = 1m\n", err, sizeof(err)), 0);
	ASSERT_EQ(config_check(&c, err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "key 'retry_min': 600s is more than retry_max (60s)");
	config_release(&c);

	fd = mkstemp(path);
	CHECK(fd >= 0);
	f = fdopen(fd, "w");
	fputs("max_clients = 3\n# x\nmax_clients = nope\n", f);
	fclose(f);
	CHECK(config_init(&c) == 0);
	ASSERT_EQ(config_load_file(&c, path, err, sizeof(err)), -EINVAL);
	{
		char want[300];

		snprintf(want, sizeof(want), "%s:3: key 'max_clients': 'nope' is not a number",
			 path);
		ASSERT_STREQ(err, want);
	}
	unlink(path);
	ASSERT_EQ(config_load_file(&c, path, err, sizeof(err)), -ENOENT);
	CHECK(strncmp(err, "cannot open config '/tmp/jt-config-", 35) == 0);
	CHECK(strstr(err, "No such file or directory") != NULL);
	config_release(&c);

	/* key set directly: message without file and line */
	CHECK(config_init(&c) == 0);
	ASSERT_EQ(config_set(&c, "max_clients", "0", err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "key 'max_clients': '0' is out of range 1..4096");
	ASSERT_EQ(config_set(&c, "log_level", "err", err, sizeof(err)), 0);
	ASSERT_EQ(c.log_level, LOG_LEVEL_ERR);
	ASSERT_STREQ(log_level_name(c.log_level), "err");
	ASSERT_EQ(config_set(&c, "log_level", "WARN", err, sizeof(err)), 0);
	ASSERT_STREQ(log_level_name(c.log_level), "warning");
	ASSERT_EQ(config_set(&c, "log_level", "Error", err, sizeof(err)), 0);
	ASSERT_EQ(c.log_level, LOG_LEVEL_ERR);
	ASSERT_EQ(config_set(&c, "log_level", "verbose", err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "key 'log_level': 'verbose' is not one of err, warning, info, debug");
	ASSERT_STREQ(log_level_name(LOG_LEVEL_INFO), "info");
	ASSERT_STREQ(log_level_name(LOG_LEVEL_DEBUG), "debug");
	ASSERT_STREQ(config_collect_name(CONFIG_COLLECT_ALL), "all");
	config_release(&c);
}

static void expect_error(const char *text, const char *want)
{
	struct config c;
	char err[256] = "";

	CHECK(config_init(&c) == 0);
	ASSERT_EQ(load(&c, text, err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, want);
	config_release(&c);
}

/* issue 11: unusable durations are errors; the sync deadline and budget keys */
static void test_lifecycle_keys(void)
{
	struct config c;
	char err[256];

	expect_error("resync_interval = 500ms\n",
		     "test.conf:1: key 'resync_interval': '500ms' is less than the minimum 1s "
		     "(0 turns it off)");
	expect_error(
		"resync_interval = 1500ms\n",
		"test.conf:1: key 'resync_interval': '1500ms' is not a whole number of seconds");
	expect_error("retry_min = 999ms\n",
		     "test.conf:1: key 'retry_min': '999ms' is not a whole number of seconds");
	expect_error("retry_max = 0\n",
		     "test.conf:1: key 'retry_max': '0' is out of range 1s..86400s");
	expect_error(
		"resync_interval = 8d\n",
		"test.conf:1: key 'resync_interval': '8d' is not a duration (e.g. 30s, 500ms, 5m)");
	expect_error("resync_interval = 169h\n",
		     "test.conf:1: key 'resync_interval': '169h' is out of range 0s..604800s");
	expect_error("sync_timeout = 9s\n",
		     "test.conf:1: key 'sync_timeout': '9s' is out of range 10s..86400s");
	expect_error("sync_timeout = 0\n",
		     "test.conf:1: key 'sync_timeout': '0' is out of range 10s..86400s");
	expect_error("sync_timeout = 10500ms\n",
		     "test.conf:1: key 'sync_timeout': '10500ms' is not a whole number of seconds");
	expect_error("max_sync_depth = 0\n",
		     "test.conf:1: key 'max_sync_depth': '0' is out of range 1..256");
	expect_error("max_sync_entries = 99\n",
		     "test.conf:1: key 'max_sync_entries': '99' is out of range 100..100000000");

	CHECK(config_init(&c) == 0);
	ASSERT_EQ(c.sync_timeout_s, 600);
	ASSERT_EQ(c.max_sync_depth, 16);
	ASSERT_EQ(c.max_sync_entries, 100000);
	ASSERT_EQ(load(&c,
		       "resync_interval = 0\nsync_timeout = 2m\nmax_sync_depth = 4\n"
		       "max_sync_entries = 500\nresync_interval = 2000ms\n",
		       err, sizeof(err)),
		  0);
	ASSERT_EQ(c.resync_interval_s, 2);
	ASSERT_EQ(c.sync_timeout_s, 120);
	ASSERT_EQ(c.max_sync_depth, 4);
	ASSERT_EQ(c.max_sync_entries, 500);
	ASSERT_EQ(config_check(&c, err, sizeof(err)), 0);
	ASSERT_EQ(load(&c, "sync_timeout = 10s\nmover_timeout = 10s\n", err, sizeof(err)), 0);
	ASSERT_EQ(config_check(&c, err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(err, "key 'sync_timeout': 10s is not more than mover_timeout (10000ms)");
	config_release(&c);
}

/* A FIFO (no writer) or a directory given as the config is refused at once, never waited on. */
static void test_not_regular(void)
{
	char dir[] = "/tmp/jt-config-XXXXXX", fifo[300];
	struct timespec t0, t1;
	struct config c;
	char err[400];

	CHECK(mkdtemp(dir) != NULL);
	snprintf(fifo, sizeof(fifo), "%s/fifo.conf", dir);
	CHECK(mkfifo(fifo, 0600) == 0);
	CHECK(config_init(&c) == 0);
	alarm(10); /* a hang fails the test instead of blocking it */
	clock_gettime(CLOCK_MONOTONIC, &t0);
	ASSERT_EQ(config_load_file(&c, fifo, err, sizeof(err)), -EINVAL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	alarm(0);
	CHECK(strstr(err, "not a regular file") != NULL && strstr(err, "fifo.conf") != NULL);
	CHECK((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000 < 1000);
	ASSERT_EQ(config_load_file(&c, dir, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "not a regular file") != NULL);
	config_release(&c);
	unlink(fifo);
	rmdir(dir);
}

/* The shipped config/jetsamd.conf is valid and sets nothing but the defaults. */
static void test_shipped(const char *path)
{
	struct config c, def;
	char err[256];

	CHECK(config_init(&c) == 0);
	CHECK(config_init(&def) == 0);
	ASSERT_EQ(config_load_file(&c, path, err, sizeof(err)), 0);
	ASSERT_STREQ(c.socket, def.socket);
	ASSERT_STREQ(c.state_dir, def.state_dir);
	CHECK(c.usbmuxd_socket == NULL);
	ASSERT_EQ(c.resync_interval_s, def.resync_interval_s);
	ASSERT_EQ(c.max_clients, def.max_clients);
	ASSERT_EQ(c.sync_timeout_s, def.sync_timeout_s);
	ASSERT_EQ(c.max_sync_depth, def.max_sync_depth);
	ASSERT_EQ(c.max_sync_entries, def.max_sync_entries);
	ASSERT_EQ(c.max_clients_per_uid, def.max_clients_per_uid);
	ASSERT_EQ(c.client_idle_timeout_s, def.client_idle_timeout_s);
	ASSERT_EQ(c.reply_buffer_max, def.reply_buffer_max);
	ASSERT_STREQ(c.admin_group, def.admin_group);
	ASSERT_EQ(c.live_detection, def.live_detection);
	ASSERT_STREQ(c.metrics_listen, def.metrics_listen);
	config_release(&c);
	config_release(&def);
}

static int set_checked(struct config *c, const char *k, const char *v, char *err, size_t n)
{
	int r = config_set(c, k, v, err, n);

	return r == 0 ? config_check(c, err, n) : r;
}

/* issue 14: the fleet keys; a password inside fleet_conninfo is refused (libpq parses it) */
static void test_fleet_keys(void)
{
	struct config c;
	char err[512];

	ASSERT_EQ(config_init(&c), 0);
	ASSERT_STREQ(c.fleet_conninfo, "");
	ASSERT_STREQ(c.fleet_passfile, "");
	CHECK(c.fleet_host_id[0] != '\0'); /* the hostname */
	ASSERT_EQ(c.fleet_ship_facts, 0);
	ASSERT_EQ(c.fleet_ship_raw, 0);
	ASSERT_EQ(c.fleet_batch, 1000);
	ASSERT_EQ(c.fleet_retry_max_s, 60);
	ASSERT_EQ(config_check(&c, err, sizeof(err)), 0);

	ASSERT_EQ(set_checked(&c, "fleet_conninfo", "host=/tmp dbname=jetsam user=jd", err,
			      sizeof(err)),
		  0);
	ASSERT_EQ(set_checked(&c, "fleet_conninfo", "postgresql://jd@db.lab:5433/jetsam", err,
			      sizeof(err)),
		  0);
	ASSERT_EQ(set_checked(&c, "fleet_host_id", "lab-3", err, sizeof(err)), 0);
	ASSERT_STREQ(c.fleet_host_id, "lab-3");
	ASSERT_EQ(set_checked(&c, "fleet_ship_facts", "yes", err, sizeof(err)), 0);
	ASSERT_EQ(set_checked(&c, "fleet_ship_raw", "on", err, sizeof(err)), 0);
	CHECK(c.fleet_ship_facts && c.fleet_ship_raw);
	ASSERT_EQ(set_checked(&c, "fleet_batch", "50", err, sizeof(err)), 0);
	ASSERT_EQ(c.fleet_batch, 50);
	ASSERT_EQ(set_checked(&c, "fleet_retry_max", "5m", err, sizeof(err)), 0);
	ASSERT_EQ(c.fleet_retry_max_s, 300);
	ASSERT_EQ(set_checked(&c, "fleet_batch", "0", err, sizeof(err)), -EINVAL);
	ASSERT_EQ(set_checked(&c, "fleet_host_id", "", err, sizeof(err)), -EINVAL);
	ASSERT_EQ(set_checked(&c, "fleet_ship_raw", "maybe", err, sizeof(err)), -EINVAL);

	/* a password, in either form, is refused with a message naming the passfile */
	ASSERT_EQ(set_checked(&c, "fleet_conninfo", "host=db dbname=j password=s3cret", err,
			      sizeof(err)),
		  -EINVAL);
	CHECK(strstr(err, "fleet_conninfo") && strstr(err, "password") && strstr(err, "passfile"));
	CHECK(strstr(err, "s3cret") == NULL);
	ASSERT_EQ(
		set_checked(&c, "fleet_conninfo", "postgresql://jd:s3cret@db/j", err, sizeof(err)),
		-EINVAL);
	CHECK(strstr(err, "password") != NULL);
	/* libpq's own parse error */
	ASSERT_EQ(set_checked(&c, "fleet_conninfo", "host=db nonsense", err, sizeof(err)), -EINVAL);
	CHECK(strncmp(err, "key 'fleet_conninfo': ", 22) == 0 && strchr(err, '\n') == NULL);
	ASSERT_EQ(set_checked(&c, "fleet_conninfo", "host=db passfile=/x", err, sizeof(err)), 0);
	ASSERT_EQ(set_checked(&c, "fleet_passfile", "/etc/jetsamd/pgpass", err, sizeof(err)),
		  -EINVAL);
	ASSERT_EQ(set_checked(&c, "fleet_conninfo", "", err, sizeof(err)), 0); /* off */
	config_release(&c);
}

/* metrics_listen: off by default; HOST:PORT, [IPv6]:PORT; empty or none turns it off. */
static void test_metrics_key(void)
{
	struct config c, d;
	char err[256];

	CHECK(config_init(&c) == 0);
	ASSERT_STREQ(c.metrics_listen, "");
	ASSERT_EQ(config_set(&c, "metrics_listen", "127.0.0.1:9254", err, sizeof(err)), 0);
	ASSERT_STREQ(c.metrics_listen, "127.0.0.1:9254");
	CHECK(config_copy(&d, &c) == 0);
	ASSERT_STREQ(d.metrics_listen, "127.0.0.1:9254");
	config_release(&d);
	ASSERT_EQ(config_set(&c, "metrics_listen", "[::]:9254", err, sizeof(err)), 0);
	ASSERT_STREQ(c.metrics_listen, "[::]:9254");
	ASSERT_EQ(config_set(&c, "metrics_listen", "", err, sizeof(err)), 0);
	ASSERT_STREQ(c.metrics_listen, "");
	ASSERT_EQ(config_set(&c, "metrics_listen", "localhost:1", err, sizeof(err)), 0);
	ASSERT_EQ(config_set(&c, "metrics_listen", "none", err, sizeof(err)), 0);
	ASSERT_STREQ(c.metrics_listen, "");
	ASSERT_EQ(config_set(&c, "metrics_listen", "9254", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "metrics_listen") != NULL && strstr(err, "HOST:PORT") != NULL);
	ASSERT_EQ(config_set(&c, "metrics_listen", "127.0.0.1:0", err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "1..65535") != NULL);
	ASSERT_EQ(config_set(&c, "metrics_listen", ":9254", err, sizeof(err)), -EINVAL);
	ASSERT_EQ(config_set(&c, "metrics_listen", "[::1:9254", err, sizeof(err)), -EINVAL);
	ASSERT_EQ(config_set(&c, "metrics_listen", "127.0.0.1:99999", err, sizeof(err)), -EINVAL);
	ASSERT_STREQ(c.metrics_listen, ""); /* a bad value changes nothing */
	config_release(&c);
}

int main(int argc, char **argv)
{
	test_defaults();
	test_every_key();
	test_client_keys();
	test_errors();
	test_check_and_file();
	test_lifecycle_keys();
	test_not_regular();
	test_fleet_keys();
	test_metrics_key();
	if (argc > 1)
		test_shipped(argv[1]);
	return CHECK_DONE();
}
