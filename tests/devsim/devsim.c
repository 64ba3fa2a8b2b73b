/* devsim.c: devsim main: options, listeners, signals, start and stop order */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "config.h"
#include "devsim.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: devsim --socket PATH [--control PATH] [--verbose] [--link KIND]\n"
		"              [--latency DURATION] [--bandwidth RATE] [--bus-bandwidth RATE]\n"
		"              [--syslog-rate N] [--service-ssl] [DEVICE_DIR...]\n"
		"\n"
		"Simulated usbmuxd with simulated iPhones for libimobiledevice clients.\n"
		"Point clients at it with USBMUXD_SOCKET_ADDRESS=UNIX:PATH.\n"
		"\n"
		"  -s, --socket PATH    usbmuxd socket to serve\n"
		"  -c, --control PATH   control socket (attach, detach, list, set, fault)\n"
		"  -v, --verbose        log every message\n"
		"      --link KIND      loopback (default: no emulation), usb2 (1 ms round trip,\n"
		"                       30 MB/s per phone) or usb3 (0.5 ms, 300 MB/s)\n"
		"      --latency D      round trip per phone, e.g. 1ms, 250us (overrides --link)\n"
		"      --bandwidth R    per phone, e.g. 30MB/s, 480Mbit/s; 0 = unlimited\n"
		"      --bus-bandwidth R  all phones together; 0 = unlimited (default)\n"
		"      --syslog-rate N  background syslog_relay lines per second (default %u)\n"
		"      --service-ssl    the crash report services ask for TLS (EnableServiceSSL);\n"
		"                       per phone: control command set UDID service-ssl on|off\n"
		"  -h, --help           show this help\n"
		"  -V, --version        show the version\n",
		DEVSIM_SYSLOG_RATE);
}

enum {
	OPT_LINK = 256,
	OPT_LATENCY,
	OPT_BANDWIDTH,
	OPT_BUS,
	OPT_SYSLOG_RATE,
	OPT_SERVICE_SSL,
};

/* the link and syslog options; --link first, then explicit values override it */
static int link_options(struct devsim *ds, const char *link, const char *latency,
			const char *bandwidth, const char *bus, const char *rate)
{
	unsigned long v;
	char *end;

	if (link && link_preset(link, &ds->link) < 0) {
		fprintf(stderr, "devsim: --link must be loopback, usb2 or usb3, not '%s'\n", link);
		return -EINVAL;
	}
	if (latency && link_parse_duration(latency, &ds->link.latency_ns) < 0) {
		fprintf(stderr, "devsim: bad --latency '%s' (e.g. 1ms, 250us, up to 60s)\n",
			latency);
		return -EINVAL;
	}
	if (bandwidth && link_parse_rate(bandwidth, &ds->link.bandwidth) < 0) {
		fprintf(stderr, "devsim: bad --bandwidth '%s' (e.g. 30MB/s, 480Mbit/s)\n",
			bandwidth);
		return -EINVAL;
	}
	if (bus && link_parse_rate(bus, &ds->link.bus_bandwidth) < 0) {
		fprintf(stderr, "devsim: bad --bus-bandwidth '%s' (e.g. 40MB/s)\n", bus);
		return -EINVAL;
	}
	ds->syslog_rate = DEVSIM_SYSLOG_RATE;
	if (rate) {
		errno = 0;
		v = strtoul(rate, &end, 10);
		if (errno || end == rate || *end || *rate == '-' || v > 100000) {
			fprintf(stderr, "devsim: bad --syslog-rate '%s' (0..100000)\n", rate);
			return -EINVAL;
		}
		ds->syslog_rate = (unsigned)v;
	}
	return 0;
}

/* the BUID is derived from the socket path, so it is stable across restarts */
static void make_buid(struct devsim *ds)
{
	unsigned char md[32];
	unsigned int mdlen = 0;

	EVP_Digest(ds->socket_path, strlen(ds->socket_path), md, &mdlen, EVP_sha256(), NULL);
	snprintf(ds->buid, sizeof(ds->buid),
		 "%02X%02X%02X%02X-%02X%02X-%02X%02X-%02X%02X-%02X%02X%02X%02X%02X%02X", md[0],
		 md[1], md[2], md[3], md[4], md[5], (md[6] & 0x0f) | 0x40, md[7],
		 (md[8] & 0x3f) | 0x80, md[9], md[10], md[11], md[12], md[13], md[14], md[15]);
}

/* refuse to take over a socket that answers; remove a stale one */
static int prepare_socket_path(const char *path)
{
	struct sockaddr_un sa;
	struct stat st;
	int fd, r;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		log_err("socket path '%s' is too long", path);
		return -ENAMETOOLONG;
	}
	if (lstat(path, &st) < 0)
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISSOCK(st.st_mode)) {
		log_err("cannot use '%s': exists and is not a socket", path);
		return -EEXIST;
	}
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path, strlen(path));
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	if (r == 0) {
		log_err("cannot use '%s': another server is listening there", path);
		return -EADDRINUSE;
	}
	unlink(path);
	return 0;
}

static void mux_connection_cb(uv_stream_t *server, int status)
{
	struct devsim *ds = server->data;

	if (status < 0) {
		log_err("accept on '%s' failed: %s", ds->socket_path, uv_strerror(status));
		return;
	}
	conn_accept(ds, server, CONN_MUX);
}

static void ctl_connection_cb(uv_stream_t *server, int status)
{
	struct devsim *ds = server->data;

	if (status < 0) {
		log_err("accept on '%s' failed: %s", ds->control_path, uv_strerror(status));
		return;
	}
	conn_accept(ds, server, CONN_CONTROL);
}

static int listen_on(struct devsim *ds, uv_pipe_t *pipe, const char *path, uv_connection_cb cb)
{
	int r = prepare_socket_path(path);

	if (r < 0)
		return r;
	uv_pipe_init(ds->loop, pipe, 0);
	pipe->data = ds;
	r = uv_pipe_bind(pipe, path);
	if (r == 0)
		r = uv_listen((uv_stream_t *)pipe, 128, cb);
	if (r < 0) {
		log_err("cannot listen on '%s': %s", path, uv_strerror(r));
		uv_close((uv_handle_t *)pipe, NULL);
		return r;
	}
	return 0;
}

static void devsim_stop(struct devsim *ds)
{
	if (ds->stopping)
		return;
	ds->stopping = true;
	if (ds->have_mux) {
		uv_close((uv_handle_t *)&ds->mux_listener, NULL);
		unlink(ds->socket_path);
	}
	if (ds->have_ctl) {
		uv_close((uv_handle_t *)&ds->ctl_listener, NULL);
		unlink(ds->control_path);
	}
	conn_close_all(ds);
	phone_free_all(ds);
	uv_close((uv_handle_t *)&ds->sigterm, NULL);
	uv_close((uv_handle_t *)&ds->sigint, NULL);
}

static void signal_cb(uv_signal_t *h, int signum)
{
	struct devsim *ds = h->data;

	log_msg("stopping on signal %d", signum);
	devsim_stop(ds);
}

/* options into ds; returns -1 to go on, else the exit status */
static int parse_args(struct devsim *ds, int argc, char **argv)
{
	static const struct option opts[] = {
		{"socket", required_argument, NULL, 's'},
		{"control", required_argument, NULL, 'c'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{"version", no_argument, NULL, 'V'},
		{"link", required_argument, NULL, OPT_LINK},
		{"latency", required_argument, NULL, OPT_LATENCY},
		{"bandwidth", required_argument, NULL, OPT_BANDWIDTH},
		{"bus-bandwidth", required_argument, NULL, OPT_BUS},
		{"syslog-rate", required_argument, NULL, OPT_SYSLOG_RATE},
		{"service-ssl", no_argument, NULL, OPT_SERVICE_SSL},
		{NULL, 0, NULL, 0},
	};
	const char *lv[OPT_SYSLOG_RATE - OPT_LINK + 1] = {NULL};
	int opt;

	while ((opt = getopt_long(argc, argv, "s:c:vhV", opts, NULL)) != -1) {
		switch (opt) {
		case 's':
			ds->socket_path = optarg;
			break;
		case 'c':
			ds->control_path = optarg;
			break;
		case 'v':
			ds->verbose = true;
			break;
		case OPT_SERVICE_SSL:
			ds->service_ssl = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		case 'V':
			printf("devsim %s\n", JETSAMD_VERSION);
			return 0;
		case OPT_LINK:
		case OPT_LATENCY:
		case OPT_BANDWIDTH:
		case OPT_BUS:
		case OPT_SYSLOG_RATE:
			lv[opt - OPT_LINK] = optarg;
			break;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!ds->socket_path) {
		fprintf(stderr, "devsim: --socket PATH is required\n");
		usage(stderr);
		return 2;
	}
	if (link_options(ds, lv[OPT_LINK - OPT_LINK], lv[OPT_LATENCY - OPT_LINK],
			 lv[OPT_BANDWIDTH - OPT_LINK], lv[OPT_BUS - OPT_LINK],
			 lv[OPT_SYSLOG_RATE - OPT_LINK]) < 0)
		return 2;
	return -1;
}

int main(int argc, char **argv)
{
	struct devsim ds;
	uv_loop_t loop;
	char err[512];
	int r, status = 0;

	memset(&ds, 0, sizeof(ds));
	log_init();
	r = parse_args(&ds, argc, argv);
	if (r >= 0)
		return r;
	signal(SIGPIPE, SIG_IGN);
	make_buid(&ds);
	ds.keys = pairkeys_new();
	if (!ds.keys)
		return 1;
	r = uv_loop_init(&loop);
	if (r < 0) {
		log_err("cannot create the event loop: %s", uv_strerror(r));
		pairkeys_free(ds.keys);
		return 1;
	}
	ds.loop = &loop;
	for (int i = optind; i < argc; i++) {
		if (phone_attach(&ds, argv[i], err, sizeof(err)) < 0) {
			log_err("%s", err);
			status = 1;
			break;
		}
	}
	if (status == 0 && listen_on(&ds, &ds.mux_listener, ds.socket_path, mux_connection_cb) == 0)
		ds.have_mux = true;
	else
		status = 1;
	if (status == 0 && ds.control_path) {
		if (listen_on(&ds, &ds.ctl_listener, ds.control_path, ctl_connection_cb) == 0)
			ds.have_ctl = true;
		else
			status = 1;
	}
	uv_signal_init(&loop, &ds.sigterm);
	uv_signal_init(&loop, &ds.sigint);
	ds.sigterm.data = &ds;
	ds.sigint.data = &ds;
	if (status == 0) {
		uv_signal_start(&ds.sigterm, signal_cb, SIGTERM);
		uv_signal_start(&ds.sigint, signal_cb, SIGINT);
		link_describe(&ds.link, err, sizeof(err));
		log_msg("serving %u phones on '%s'%s%s%s, link %s", ds.next_device_id,
			ds.socket_path, ds.control_path ? ", control '" : "",
			ds.control_path ? ds.control_path : "", ds.control_path ? "'" : "", err);
		uv_run(&loop, UV_RUN_DEFAULT);
	} else {
		devsim_stop(&ds);
		uv_run(&loop, UV_RUN_DEFAULT);
	}
	r = uv_loop_close(&loop);
	if (r < 0) {
		log_err("event loop still busy at exit: %s", uv_strerror(r));
		status = 1;
	}
	pairkeys_free(ds.keys);
	return status;
}
