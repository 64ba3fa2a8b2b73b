/* main.c: jetsamd entry point: options, configuration, start-up, signals, graceful stop */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "config.h"
#include <config.h> /* JETSAMD_VERSION, JETSAMD_DEFAULT_CONFIG */

#include "hub.h"
#include "ipc_sock.h"
#include "log.h"
#include "report.h"
#include "sd.h"
#include "statedir.h"
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
	struct hub h;
	struct statedir sd; /* the state dir's lock, held from start to exit */
	uv_loop_t loop;
	struct options opt;
	uv_signal_t sig_term, sig_int, sig_hup;
	uv_timer_t watchdog;
	uv_timer_t stop_timer; /* the backstop of a stop that a hung phone holds up */
	int have_signals, have_watchdog, have_stop_timer;
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

/* ---- stop ---- */

static void handle_closed_cb(uv_handle_t *h)
{
	(void)h;
}

/*
 * A stop cuts the phone connections (devices_stop), so jobs end at once; a library call
 * that holds no cuttable socket yet (connecting, the lockdown handshake) can still wait
 * 30 s. Past MAIN_STOP_BACKSTOP_MS the daemon exits 0 without that job: what it pulled is
 * not stored and comes with the next sync, and a temp file it may leave in the archive is
 * swept at the next start. The store is left as a kill would leave it (the store thread may
 * be inside a commit): the WAL keeps every committed transaction and drops a torn one.
 */
#define MAIN_STOP_BACKSTOP_MS 4000

static void stop_backstop_cb(uv_timer_t *t)
{
	struct jetsamd *j = t->data;

	log_err("main", "stop: a phone job is still blocked after %d ms: exiting without it",
		MAIN_STOP_BACKSTOP_MS);
	statedir_close(&j->sd);
	_exit(0); /* exit() would join the blocked thread pool */
}

static void stopped_cb(void *arg)
{
	struct jetsamd *j = arg;

	if (j->have_stop_timer) {
		uv_close((uv_handle_t *)&j->stop_timer, handle_closed_cb);
		j->have_stop_timer = 0;
	}
}

static void begin_stop(struct jetsamd *j, const char *why)
{
	if (j->h.stopping)
		return;
	log_info("main", "stopping (%s)", why);
	notify_state(&j->h.notify, "STOPPING=1");
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
	if (uv_timer_init(&j->loop, &j->stop_timer) == 0) {
		j->stop_timer.data = j;
		j->have_stop_timer = 1;
		uv_timer_start(&j->stop_timer, stop_backstop_cb, MAIN_STOP_BACKSTOP_MS, 0);
		uv_unref((uv_handle_t *)&j->stop_timer);
	}
	hub_stop(&j->h, stopped_cb, j); /* the loop ends when the last handle is closed */
}

/* ---- start-up settings ---- */

/*
 * glibc gives each thread that allocates while others hold the arena locks an arena of its
 * own, up to 8 per core, and keeps freed memory and per-thread caches in each: with a thread
 * pool, the store thread and the phones' followers, an idle daemon held five to fifteen
 * arenas of 0.2-2 MiB each, mostly free. Four arenas hold the same live data, and the idle
 * trim (trim.c) returns what is free; with two, the loop shared its arena with more of the
 * workers and chaos-loop's status p99 rose under 15 MiB reports (with 32 phones idle, 2 and
 * 4 arenas measured the same: 3.6-3.7 MiB private anonymous memory, 16: 5.1 MiB). A fixed
 * mmap threshold was measured too and left out: it cost about 1 s of system CPU per 3,200
 * reports (mmap and fresh pages for every big buffer) for nothing the idle trim does not
 * return. A MALLOC_ARENA_MAX or a GLIBC_TUNABLES arena_max the user set wins.
 *
 * malloc_trim() does not shrink the free top chunk of the arenas other than the main one,
 * and glibc's dynamic trim threshold grows to twice the largest buffer freed, so after a
 * sync those arenas kept 1-2 MiB of free, resident top each (malloc_info at idle, 32
 * phones: 1.7 MiB live in 37 MiB of arenas; 4.9-7.2 MiB private anonymous). A fixed trim
 * threshold has free() shrink a top above 256 KiB; the mmap threshold is then fixed too, at
 * glibc's dynamic maximum, so big buffers stay in the arenas as before (idle: 4.3-4.9 MiB).
 * A GLIBC_TUNABLES trim_threshold or mmap_threshold the user set wins.
 */
#define MAIN_MALLOC_ARENAS  4
#define MAIN_TRIM_THRESHOLD (256 * 1024)
#define MAIN_MMAP_THRESHOLD (32 * 1024 * 1024)

static void malloc_setup(void)
{
	const char *tun = getenv("GLIBC_TUNABLES");

	if (getenv("MALLOC_ARENA_MAX") == NULL && (tun == NULL || !strstr(tun, "arena_max")))
		mallopt(M_ARENA_MAX, MAIN_MALLOC_ARENAS);
	if (getenv("MALLOC_TRIM_THRESHOLD_") == NULL && getenv("MALLOC_MMAP_THRESHOLD_") == NULL &&
	    (tun == NULL || (!strstr(tun, "trim_threshold") && !strstr(tun, "mmap_threshold")))) {
		mallopt(M_MMAP_THRESHOLD, MAIN_MMAP_THRESHOLD);
		mallopt(M_TRIM_THRESHOLD, MAIN_TRIM_THRESHOLD);
	}
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
	unsigned want = j->h.cfg.max_parallel_syncs + 2;
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
				 env, j->h.cfg.max_parallel_syncs);
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
		  j->h.cfg.max_parallel_syncs);
}

static void reload(struct jetsamd *j)
{
	struct config c, old;
	char err[600];

	notify_state(&j->h.notify, "RELOADING=1");
	log_info("main", "reloading the configuration");
	if (load_config(&j->opt, &c, err, sizeof(err)) < 0) {
		log_err("main", "reload failed, keeping the old configuration: %s", err);
		notify_state(&j->h.notify, "READY=1");
		return;
	}
	/* the listener and the store stay where they are until a restart */
	if (strcmp(c.socket, j->h.cfg.socket) != 0) {
		log_warn("main", "key 'socket': change to '%s' needs a restart", c.socket);
		free(c.socket);
		c.socket = strdup(j->h.cfg.socket);
	}
	if (strcmp(c.state_dir, j->h.cfg.state_dir) != 0) {
		log_warn("main", "key 'state_dir': change to '%s' needs a restart", c.state_dir);
		free(c.state_dir);
		c.state_dir = strdup(j->h.cfg.state_dir);
	}
	if (c.socket == NULL || c.state_dir == NULL) {
		log_err("main", "reload failed, keeping the old configuration: out of memory");
		config_release(&c);
		notify_state(&j->h.notify, "READY=1");
		return;
	}
	if (c.max_parallel_syncs + 2 > j->pool_size)
		log_warn("main",
			 "key 'max_parallel_syncs': %u syncs leave fewer than 2 of the %u "
			 "thread pool threads free until a restart",
			 c.max_parallel_syncs, j->pool_size);
	old = j->h.cfg;
	j->h.cfg = c;
	config_release(&old);
	log_set_level(j->h.cfg.log_level);
	log_info("main", "configuration reloaded");
	notify_state(&j->h.notify, "READY=1");
	hub_reconfigure(&j->h);
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
	struct jetsamd *j = t->data;

	notify_watchdog(&j->h.notify);
}

static void walk_cb(uv_handle_t *h, void *arg)
{
	(void)arg;
	log_err("main", "handle %p of type %s is still open at exit", (void *)h,
		uv_handle_type_name(uv_handle_get_type(h)));
}

/* ---- start ---- */

static void start_signals(struct jetsamd *j)
{
	j->sig_term.data = j->sig_int.data = j->sig_hup.data = j;
	uv_signal_init(&j->loop, &j->sig_term);
	uv_signal_init(&j->loop, &j->sig_int);
	uv_signal_init(&j->loop, &j->sig_hup);
	j->have_signals = 1;
	uv_signal_start(&j->sig_term, signal_cb, SIGTERM);
	uv_signal_start(&j->sig_int, signal_cb, SIGINT);
	uv_signal_start(&j->sig_hup, signal_cb, SIGHUP);
}

static int start(struct jetsamd *j)
{
	uint64_t wd;
	char err[600];
	int r;

	/* one daemon per state dir: lock it (and sweep stale temps) before the store opens */
	r = statedir_open(&j->sd, j->h.cfg.state_dir, err, sizeof(err));
	if (r < 0) {
		log_err("main", "%s", err);
		return r;
	}
	start_signals(j);
	r = hub_start(&j->h, &j->loop);
	if (r < 0)
		return r;
	wd = sd_watchdog_usec();
	if (wd > 0) {
		uv_timer_init(&j->loop, &j->watchdog);
		j->watchdog.data = j;
		j->have_watchdog = 1;
		uv_timer_start(&j->watchdog, watchdog_cb, wd / 2000 ? wd / 2000 : 1,
			       wd / 2000 ? wd / 2000 : 1);
		log_info("main", "watchdog every %llu ms", (unsigned long long)(wd / 2000));
	}
	notify_state(&j->h.notify, "READY=1");
	hub_notify_status(&j->h);
	log_info("main", "jetsamd " JETSAMD_VERSION " ready (pid %ld, state dir '%s')",
		 (long)getpid(), j->h.cfg.state_dir);
	return 0;
}

/*
 * The kernel grows a process's file table by doubling it, and once the process has a
 * second thread each growth waits for an RCU grace period (expand_files() calls
 * synchronize_rcu()): with hundreds of clients connecting at once the loop stood 10-20 ms
 * in accept4() at each of 64, 128, 256 and 512 open files (chaos-clients; perf showed it
 * in state D in expand_files). Grown here, before the first thread, it costs no wait: a
 * dup2() onto the highest fd jetsamd expects to use, then close() (the table never
 * shrinks). That is max_clients plus MAIN_FD_HEADROOM for phones (a few each), the store,
 * the archive and GET /metrics; within RLIMIT_NOFILE, raised to its hard limit first
 * (ipc_sock_raise_nofile, as the listener does). Some kernel memory (8 bytes a slot).
 */
#define MAIN_FD_HEADROOM 1024

static void fdtable_setup(const struct config *c)
{
	rlim_t want = (rlim_t)c->max_clients + MAIN_FD_HEADROOM;
	struct rlimit rl;
	int fd, hi;

	ipc_sock_raise_nofile();
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
	    want > rl.rlim_cur)
		want = rl.rlim_cur;
	if (want <= 3 || (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) < 0)
		return;
	hi = fcntl(fd, F_DUPFD_CLOEXEC, (int)want - 1);
	close(fd);
	if (hi >= 0)
		close(hi);
}

/* Returns -1 to go on, else the exit code (after printing what was asked for). */
static int parse_options(int argc, char **argv, struct options *o)
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
	int opt;

	while ((opt = getopt_long(argc, argv, "c:s:d:u:l:Chn", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c':
			o->config = optarg;
			break;
		case 's':
			o->socket = optarg;
			break;
		case 'd':
			o->state_dir = optarg;
			break;
		case 'u':
			o->usbmuxd_socket = optarg;
			break;
		case 'l':
			o->log_level = optarg;
			break;
		case 'C':
		case 'n':
			o->check_config = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("jetsamd " JETSAMD_VERSION "\n");
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "jetsamd: unexpected argument '%s'\n", argv[optind]);
		usage(stderr);
		return 2;
	}
	return -1;
}

/* The configuration is loaded: run the loop until stopped. Returns the exit code. */
static int run(struct jetsamd *j)
{
	int r;

	j->sd.lock_fd = -1;
	log_init(j->h.cfg.log_level);
	malloc_setup();	     /* before the first thread */
	report_use_arena();  /* before any thread uses cJSON: parse trees from per-thread arenas */
	threadpool_setup(j); /* before any libuv call that can start the pool */
	fdtable_setup(&j->h.cfg); /* before the first thread */
	signal(SIGPIPE, SIG_IGN);
	r = uv_loop_init(&j->loop);
	if (r < 0) {
		log_err("main", "cannot create the event loop: %s", uv_strerror(r));
		config_release(&j->h.cfg);
		return 1;
	}
	if (start(j) < 0) {
		j->exit_code = 1;
		begin_stop(j, "start-up failed");
	}
	uv_run(&j->loop, UV_RUN_DEFAULT);

	/* every handle is closed and every job has run its after callback */
	hub_release(&j->h);
	statedir_close(&j->sd);
	r = uv_loop_close(&j->loop);
	if (r != 0) {
		log_err("main", "event loop not empty at exit: %s", uv_strerror(r));
		uv_walk(&j->loop, walk_cb, NULL);
		j->exit_code = 1;
	} else {
		log_info("main", "stopped");
	}
	return j->exit_code;
}

int main(int argc, char **argv)
{
	struct jetsamd *j = calloc(1, sizeof(*j));
	char err[600];
	int r;

	if (j == NULL) {
		fprintf(stderr, "jetsamd: out of memory\n");
		return 1;
	}
	r = parse_options(argc, argv, &j->opt);
	if (r < 0 && load_config(&j->opt, &j->h.cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "jetsamd: %s\n", err);
		r = 1;
	} else if (r < 0 && j->opt.check_config) {
		printf("configuration OK\n");
		config_release(&j->h.cfg);
		r = 0;
	} else if (r < 0) {
		r = run(j);
	}
	free(j);
	return r;
}
