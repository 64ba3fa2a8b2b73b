/* main.c: jetsamd entry point: options, configuration, start-up, signals, graceful stop */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "config.h"
#include <config.h> /* JETSAMD_VERSION, JETSAMD_DEFAULT_CONFIG */

#include "api.h"
#include "daemon.h"
#include "devices.h"
#include "ipc.h"
#include "log.h"
#include "sd.h"
#include "store.h"

struct options {
	const char *config; /* --config, NULL = the default file if it exists */
	const char *socket; /* command-line overrides, NULL = unset */
	const char *state_dir;
	const char *usbmuxd_socket;
	const char *log_level;
	int check_config;
};

struct jetsamd {
	struct daemon d;
	uv_loop_t loop;
	struct options opt;
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_timer_t watchdog;
	int have_signals, have_watchdog;
	int ipc_stopped, devices_stopped;
	int exit_code;
	unsigned pool_size; /* libuv's thread pool, fixed at start-up */
};

static void usage(FILE *f)
{
	fprintf(f, "usage: jetsamd [--config FILE] [--socket PATH] [--state-dir DIR]\n"
		   "               [--usbmuxd-socket UNIX:PATH|HOST:PORT] [--log-level LEVEL]\n"
		   "       jetsamd --check-config [--config FILE]\n"
		   "       jetsamd --version\n");
}

/* defaults < file < command line; err gets one line naming what is wrong */
static int load_config(const struct options *opt, struct config *c, char *err, size_t errlen)
{
	static const struct {
		size_t off;
		const char *key, *flag;
	} over[] = {
		{offsetof(struct options, socket), "socket", "--socket"},
		{offsetof(struct options, state_dir), "state_dir", "--state-dir"},
		{offsetof(struct options, usbmuxd_socket), "usbmuxd_socket", "--usbmuxd-socket"},
		{offsetof(struct options, log_level), "log_level", "--log-level"},
	};
	const char *path = opt->config;
	int r = config_init(c);

	if (r < 0) {
		snprintf(err, errlen, "out of memory");
		return r;
	}
	if (path == NULL && access(JETSAMD_DEFAULT_CONFIG, F_OK) == 0)
		path = JETSAMD_DEFAULT_CONFIG;
	if (path != NULL && (r = config_load_file(c, path, err, errlen)) < 0)
		goto fail;
	for (size_t i = 0; i < sizeof(over) / sizeof(over[0]); i++) {
		const char *v = *(const char *const *)((const char *)opt + over[i].off);
		char msg[400];

		if (v == NULL)
			continue;
		r = config_set(c, over[i].key, v, msg, sizeof(msg));
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", over[i].flag, msg);
			goto fail;
		}
	}
	if ((r = config_check(c, err, errlen)) < 0)
		goto fail;
	return 0;
fail:
	config_release(c);
	return r < 0 ? r : -EINVAL;
}

static int mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX];
	size_t len = strlen(path);

	if (len == 0 || len >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, len + 1);
	for (char *p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* ---- stop ---- */

static void handle_closed_cb(uv_handle_t *h)
{
	(void)h;
}

static void maybe_finished(struct jetsamd *j)
{
	if (!j->ipc_stopped || !j->devices_stopped)
		return;
	log_debug("main", "listener, clients and devices are closed");
}

static void ipc_stopped_cb(void *arg)
{
	struct jetsamd *j = arg;

	j->ipc_stopped = 1;
	maybe_finished(j);
}

static void devices_stopped_cb(void *arg)
{
	struct jetsamd *j = arg;

	j->devices_stopped = 1;
	maybe_finished(j);
}

static void begin_stop(struct jetsamd *j, const char *why)
{
	if (j->d.stopping)
		return;
	j->d.stopping = 1;
	log_info("main", "stopping (%s)", why);
	sd_notify_state("STOPPING=1");
	if (j->have_signals) {
		uv_close((uv_handle_t *)&j->sig_term, handle_closed_cb);
		uv_close((uv_handle_t *)&j->sig_int, handle_closed_cb);
		uv_close((uv_handle_t *)&j->sig_hup, handle_closed_cb);
		j->have_signals = 0;
	}
	if (j->have_watchdog) {
		uv_close((uv_handle_t *)&j->watchdog, handle_closed_cb);
		j->have_watchdog = 0;
	}
	if (j->d.ipc)
		ipc_stop(j->d.ipc, ipc_stopped_cb, j);
	else
		j->ipc_stopped = 1;
	if (j->d.devices)
		devices_stop(j->d.devices, devices_stopped_cb, j);
	else
		j->devices_stopped = 1;
}

/* ---- signals ---- */

/*
 * libuv reads UV_THREADPOOL_SIZE once, when the first work request starts the pool, so this
 * runs before anything can queue work. The pool serves device jobs (at most
 * max_parallel_syncs at once) and imports, reparses and checkpoints: keep two threads beyond
 * the syncs, and libuv's default of four at least. A value the user set is kept.
 */
static void threadpool_setup(struct jetsamd *j)
{
	unsigned want = j->d.cfg.max_parallel_syncs + 2;
	const char *env = getenv("UV_THREADPOOL_SIZE");
	char buf[16];

	if (want < 4)
		want = 4;
	if (env != NULL && *env != '\0') {
		unsigned long n = strtoul(env, NULL, 10);

		j->pool_size = n == 0 ? 1 : n > 1024 ? 1024 : (unsigned)n; /* libuv's clamping */
		if (j->pool_size < want)
			log_warn("main",
				 "UV_THREADPOOL_SIZE=%s leaves fewer than 2 threads beside %u "
				 "parallel syncs: imports and reparses wait for syncs",
				 env, j->d.cfg.max_parallel_syncs);
		return;
	}
	snprintf(buf, sizeof(buf), "%u", want);
	if (setenv("UV_THREADPOOL_SIZE", buf, 1) < 0) {
		log_warn("main", "cannot set UV_THREADPOOL_SIZE: %s", strerror(errno));
		j->pool_size = 4;
		return;
	}
	j->pool_size = want;
	log_debug("main", "thread pool: %u threads (max_parallel_syncs %u)", want,
		  j->d.cfg.max_parallel_syncs);
}

static void reload(struct jetsamd *j)
{
	struct config c, old;
	char err[600];

	sd_notify_state("RELOADING=1");
	log_info("main", "reloading the configuration");
	if (load_config(&j->opt, &c, err, sizeof(err)) < 0) {
		log_err("main", "reload failed, keeping the old configuration: %s", err);
		sd_notify_state("READY=1");
		return;
	}
	/* the listener and the store stay where they are until a restart */
	if (strcmp(c.socket, j->d.cfg.socket) != 0) {
		log_warn("main", "key 'socket': change to '%s' needs a restart", c.socket);
		free(c.socket);
		c.socket = strdup(j->d.cfg.socket);
	}
	if (strcmp(c.state_dir, j->d.cfg.state_dir) != 0) {
		log_warn("main", "key 'state_dir': change to '%s' needs a restart", c.state_dir);
		free(c.state_dir);
		c.state_dir = strdup(j->d.cfg.state_dir);
	}
	if (c.socket == NULL || c.state_dir == NULL) {
		log_err("main", "reload failed, keeping the old configuration: out of memory");
		config_release(&c);
		sd_notify_state("READY=1");
		return;
	}
	if (c.max_parallel_syncs + 2 > j->pool_size)
		log_warn("main",
			 "key 'max_parallel_syncs': %u syncs leave fewer than 2 of the %u "
			 "thread pool threads free until a restart",
			 c.max_parallel_syncs, j->pool_size);
	old = j->d.cfg;
	j->d.cfg = c;
	config_release(&old);
	log_set_level(j->d.cfg.log_level);
	if (j->d.devices)
		devices_reconfigure(j->d.devices);
	log_info("main", "configuration reloaded");
	sd_notify_state("READY=1");
	daemon_notify_status(&j->d);
}

static void signal_cb(uv_signal_t *h, int signum)
{
	struct jetsamd *j = h->data;

	if (signum == SIGHUP)
		reload(j);
	else
		begin_stop(j, signum == SIGTERM ? "SIGTERM" : "SIGINT");
}

static void watchdog_cb(uv_timer_t *t)
{
	(void)t;
	sd_notify_state("WATCHDOG=1");
}

static void walk_cb(uv_handle_t *h, void *arg)
{
	(void)arg;
	log_err("main", "handle %p of type %s is still open at exit", (void *)h,
		uv_handle_type_name(uv_handle_get_type(h)));
}

/* ---- start ---- */

static int start(struct jetsamd *j)
{
	uint64_t wd;
	int fd, r;

	r = mkdir_p(j->d.cfg.state_dir, 0750);
	if (r < 0) {
		log_err("main", "cannot create state dir '%s': %s", j->d.cfg.state_dir,
			strerror(-r));
		return r;
	}
	r = store_open(j->d.cfg.state_dir, &j->d.store);
	if (r < 0)
		return r;
	r = store_devices_mark_all_detached(j->d.store);
	if (r < 0)
		return r;

	j->sig_term.data = j->sig_int.data = j->sig_hup.data = j;
	uv_signal_init(&j->loop, &j->sig_term);
	uv_signal_init(&j->loop, &j->sig_int);
	uv_signal_init(&j->loop, &j->sig_hup);
	j->have_signals = 1;
	uv_signal_start(&j->sig_term, signal_cb, SIGTERM);
	uv_signal_start(&j->sig_int, signal_cb, SIGINT);
	uv_signal_start(&j->sig_hup, signal_cb, SIGHUP);

	fd = sd_listen_control();
	if (fd < 0 && fd != -ENOENT) {
		log_err("main", "cannot use the activated socket: %s", strerror(-fd));
		return fd;
	}
	r = ipc_new(&j->d, fd >= 0 ? fd : -1, &j->d.ipc);
	if (r < 0)
		return r;
	r = devices_new(&j->d, &j->d.devices);
	if (r < 0) {
		log_err("main", "cannot start watching devices: %s", strerror(-r));
		return r;
	}
	wd = sd_watchdog_usec();
	if (wd > 0) {
		uv_timer_init(&j->loop, &j->watchdog);
		j->have_watchdog = 1;
		uv_timer_start(&j->watchdog, watchdog_cb, wd / 2000 ? wd / 2000 : 1,
			       wd / 2000 ? wd / 2000 : 1);
		log_info("main", "watchdog every %llu ms", (unsigned long long)(wd / 2000));
	}
	sd_notify_state("READY=1");
	daemon_notify_status(&j->d);
	log_info("main", "jetsamd " JETSAMD_VERSION " ready (pid %ld, state dir '%s')",
		 (long)getpid(), j->d.cfg.state_dir);
	return 0;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{"config", required_argument, NULL, 'c'},
		{"socket", required_argument, NULL, 's'},
		{"state-dir", required_argument, NULL, 'd'},
		{"usbmuxd-socket", required_argument, NULL, 'u'},
		{"log-level", required_argument, NULL, 'l'},
		{"check-config", no_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{NULL, 0, NULL, 0},
	};
	struct jetsamd *j = calloc(1, sizeof(*j));
	char err[600];
	int opt, r;

	if (j == NULL) {
		fprintf(stderr, "jetsamd: out of memory\n");
		return 1;
	}
	while ((opt = getopt_long(argc, argv, "c:s:d:u:l:Chn", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			j->opt.config = optarg;
			break;
		case 's':
			j->opt.socket = optarg;
			break;
		case 'd':
			j->opt.state_dir = optarg;
			break;
		case 'u':
			j->opt.usbmuxd_socket = optarg;
			break;
		case 'l':
			j->opt.log_level = optarg;
			break;
		case 'C':
		case 'n':
			j->opt.check_config = 1;
			break;
		case 'h':
			usage(stdout);
			free(j);
			return 0;
		case 'V':
			printf("jetsamd " JETSAMD_VERSION "\n");
			free(j);
			return 0;
		default:
			usage(stderr);
			free(j);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "jetsamd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		free(j);
		return 2;
	}

	if (load_config(&j->opt, &j->d.cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "jetsamd: %s\n", err);
		free(j);
		return 1;
	}
	if (j->opt.check_config) {
		printf("configuration OK\n");
		config_release(&j->d.cfg);
		free(j);
		return 0;
	}

	log_init(j->d.cfg.log_level);
	threadpool_setup(j); /* before any libuv call that can start the pool */
	signal(SIGPIPE, SIG_IGN);
	r = uv_loop_init(&j->loop);
	if (r < 0) {
		log_err("main", "cannot create the event loop: %s", uv_strerror(r));
		config_release(&j->d.cfg);
		free(j);
		return 1;
	}
	j->d.loop = &j->loop;
	j->d.started = (int64_t)time(NULL);

	if (start(j) < 0) {
		j->exit_code = 1;
		begin_stop(j, "start-up failed");
	}
	uv_run(&j->loop, UV_RUN_DEFAULT);

	/* every handle is closed and every job has run its after callback */
	if (api_jobs_running() != 0)
		log_err("main", "%u jobs still running at exit", api_jobs_running());
	devices_free(j->d.devices);
	j->d.devices = NULL;
	ipc_free(j->d.ipc);
	j->d.ipc = NULL;
	store_close(j->d.store);
	r = uv_loop_close(&j->loop);
	if (r != 0) {
		log_err("main", "event loop not empty at exit: %s", uv_strerror(r));
		uv_walk(&j->loop, walk_cb, NULL);
		j->exit_code = 1;
	} else {
		log_info("main", "stopped");
	}
	config_release(&j->d.cfg);
	r = j->exit_code;
	free(j);
	return r;
}
