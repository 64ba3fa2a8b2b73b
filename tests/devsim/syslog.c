/* syslog.c: com.apple.syslog_relay: background log lines and the crash reporter's saved-report line
 */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "devsim.h"

/*
 * The phone streams its system log as raw bytes: each line is "Mmm dd HH:MM:SS HOST
 * process(image)[pid] <Level>: message\n" followed by a NUL, the framing libimobiledevice's
 * syslog_relay client and idevicesyslog read. Background lines come at --syslog-rate per
 * second. When a file appears at the top of pending/ or CrashReporter/ (inotify on both
 * and on DEVICE_DIR, which sees pending/ being created), the line osanalyticshelper logs
 * for a saved report names it (README.md cites the real wording).
 */

#define SYSLOG_BACKLOG_MAX (1024u * 1024) /* a stream that does not read loses lines */
#define SYSLOG_RESCAN_MS   10
#define SYSLOG_LINE_MAX	   1024
#define SYSLOG_REPORT_DIR  "/var/mobile/Library/Logs/CrashReporter/"

enum { WATCH_DIR, WATCH_PENDING, WATCH_CRASH, WATCH_N };

struct syslogd {
	struct phone *p;
	struct conn *streams;
	uv_timer_t tick, rescan;
	uv_fs_event_t watch[WATCH_N];
	bool watching[WATCH_N];
	int handles;
	char **known; /* sorted names of the files seen at the top of the two directories */
	size_t nknown, capknown;
	unsigned long counter;
	char host[64];
	unsigned pid_base;
};

static const char *const background[] = {
	"kernel[0] <Notice>: AppleBCMWLANCore::powerStateChange: wake, link up",
	"SpringBoard(FrontBoard)[%u] <Notice>: [FBSystemService] app state changed: "
	"foreground=%lu",
	"locationd[%u] <Notice>: os_transaction created: (<private>) <private>",
	"wifid(WiFiPolicy)[%u] <Notice>: __WiFiLQAMgrLogStats: rssi -%lu dBm, txRate 866",
	"CommCenter(libATCommandStudioDynamic.dylib)[%u] <Notice>: #I Signal strength bars 4",
	"backboardd(CoreBrightness)[%u] <Notice>: Lux=%lu, nits=310",
	"mDNSResponder[%u] <Notice>: [R%lu] DNSServiceQueryRecord(00004000, 0, <private>, "
	"Addr) START",
	"powerd[%u] <Notice>: Battery capacity change: 82 (source %lu)",
	"symptomsd(SymptomEvaluator)[%u] <Notice>: NBSM: TCP metrics, flow %lu",
	"runningboardd(RunningBoard)[%u] <Notice>: Acquiring assertion targeting "
	"[daemon<com.apple.dasd>:%lu]",
	"dasd[%u] <Notice>: Activity scheduled: com.apple.backgroundtask.%lu",
	"UserEventAgent(com.apple.netsvcproxy)[%u] <Notice>: netsvcproxy: %lu services",
	"thermalmonitord[%u] <Notice>: Sensor reading, die temperature %lu C",
	"assertiond[%u] <Error>: Could not find process for pid %lu",
};

static int name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* index of name in known, or -(insertion point) - 1 */
static long known_find(struct syslogd *sd, const char *name)
{
	size_t lo = 0, hi = sd->nknown;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		int r = strcmp(sd->known[mid], name);

		if (r == 0)
			return (long)mid;
		if (r < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -(long)lo - 1;
}

static int known_add(struct syslogd *sd, const char *name, size_t at)
{
	char *copy;

	if (sd->nknown == sd->capknown) {
		size_t cap = sd->capknown ? sd->capknown * 2 : 64;
		char **n = realloc(sd->known, cap * sizeof(*n));

		if (!n)
			return -ENOMEM;
		sd->known = n;
		sd->capknown = cap;
	}
	copy = strdup(name);
	if (!copy)
		return -ENOMEM;
	memmove(&sd->known[at + 1], &sd->known[at], (sd->nknown - at) * sizeof(*sd->known));
	sd->known[at] = copy;
	sd->nknown++;
	return 0;
}

static void line_stamp(char *out, size_t outlen)
{
	time_t t = time(NULL);
	struct tm tm;

	localtime_r(&t, &tm);
	strftime(out, outlen, "%b %e %H:%M:%S", &tm);
}

/* one line to every stream of the phone */
static void syslog_emit(struct syslogd *sd, const char *proc_and_msg)
{
	char line[SYSLOG_LINE_MAX + 128], stamp[32];
	struct conn *c, *next;
	int n;

	line_stamp(stamp, sizeof(stamp));
	n = snprintf(line, sizeof(line) - 1, "%s %s %s\n", stamp, sd->host, proc_and_msg);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\0';
	for (c = sd->streams; c; c = next) {
		next = c->syslog_next;
		if (!c->closing && conn_out_pending(c) < SYSLOG_BACKLOG_MAX)
			conn_write(c, line, (size_t)n);
	}
}

static void syslog_tick_cb(uv_timer_t *t)
{
	struct syslogd *sd = t->data;
	unsigned rate = sd->p->ds->syslog_rate;
	unsigned lines = rate >= 1000 ? rate / 1000 : 1;
	char msg[SYSLOG_LINE_MAX];

	for (unsigned i = 0; i < lines && sd->streams; i++) {
		unsigned long k = sd->counter++;
		const char *fmt = background[k % (sizeof(background) / sizeof(background[0]))];

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
		snprintf(msg, sizeof(msg), fmt, sd->pid_base + (unsigned)(k % 7) * 13, 40 + k % 50);
#pragma GCC diagnostic pop
		syslog_emit(sd, msg);
	}
}

/* the crash reporter's line for a saved report, in osanalyticshelper's wording */
static void syslog_saved(struct syslogd *sd, const char *name)
{
	char type[96], msg[SYSLOG_LINE_MAX];
	size_t plen = strcspn(name, "-_.");
	unsigned same = 0;

	if (!strncmp(name, "JetsamEvent", 11))
		snprintf(type, sizeof(type), "298(JetsamEvent)");
	else if (!strncmp(name, "stacks", 6))
		snprintf(type, sizeof(type), "288(stacks)");
	else
		snprintf(type, sizeof(type), "309(%.*s)", (int)(plen < 64 ? plen : 64), name);
	for (size_t i = 0; i < sd->nknown; i++)
		if (!strncmp(sd->known[i], name, plen ? plen : 1))
			same++;
	snprintf(msg, sizeof(msg),
		 "osanalyticshelper(OSAnalytics)[%u] <Notice>: Saved type '%s' report (%u of "
		 "max 25) at " SYSLOG_REPORT_DIR "%s",
		 sd->pid_base + 3, type, same, name);
	syslog_emit(sd, msg);
	log_msg("phone %s: syslog: saved report %s", sd->p->udid, name);
}

/* files at the top of DIR not seen before: remember them, and announce them if asked */
static void syslog_scan_dir(struct syslogd *sd, const char *dir, bool announce)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **fresh = NULL;
	size_t nfresh = 0, cap = 0;

	if (!d)
		return;
	while ((e = readdir(d))) {
		char path[4096];
		struct stat st;
		long at;

		if (e->d_name[0] == '.' || known_find(sd, e->d_name) >= 0)
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, e->d_name) >= (int)sizeof(path) ||
		    lstat(path, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		at = known_find(sd, e->d_name);
		if (known_add(sd, e->d_name, (size_t)(-at - 1)) < 0)
			break;
		if (!announce)
			continue;
		if (nfresh == cap) {
			char **n = realloc(fresh, (cap ? cap * 2 : 8) * sizeof(*n));

			if (!n)
				break;
			fresh = n;
			cap = cap ? cap * 2 : 8;
		}
		fresh[nfresh++] = sd->known[-at - 1];
	}
	closedir(d);
	if (nfresh > 1)
		qsort(fresh, nfresh, sizeof(*fresh), name_cmp);
	for (size_t i = 0; i < nfresh; i++)
		syslog_saved(sd, fresh[i]);
	free(fresh);
}

static void syslog_pending_path(struct phone *p, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s/pending", p->dir);
}

static void syslog_fs_cb(uv_fs_event_t *h, const char *filename, int events, int status);

/* (re)watch pending/, which may be created or replaced after the phone was attached */
static void syslog_watch_pending(struct syslogd *sd)
{
	char path[4096];

	if (sd->watching[WATCH_PENDING])
		uv_fs_event_stop(&sd->watch[WATCH_PENDING]);
	syslog_pending_path(sd->p, path, sizeof(path));
	sd->watching[WATCH_PENDING] =
		uv_fs_event_start(&sd->watch[WATCH_PENDING], syslog_fs_cb, path, 0) == 0;
}

static void syslog_rescan(struct syslogd *sd, bool announce)
{
	char path[4096];

	syslog_pending_path(sd->p, path, sizeof(path));
	syslog_scan_dir(sd, path, announce);
	syslog_scan_dir(sd, sd->p->crash_dir, announce);
}

static void syslog_rescan_cb(uv_timer_t *t)
{
	struct syslogd *sd = t->data;

	if (sd->p)
		syslog_rescan(sd, true);
}

static void syslog_fs_cb(uv_fs_event_t *h, const char *filename, int events, int status)
{
	struct syslogd *sd = h->data;

	(void)filename;
	(void)events;
	if (!sd->p || status < 0)
		return;
	if (h == &sd->watch[WATCH_DIR])
		syslog_watch_pending(sd);
	if (!uv_is_active((uv_handle_t *)&sd->rescan))
		uv_timer_start(&sd->rescan, syslog_rescan_cb, SYSLOG_RESCAN_MS, 0);
}

static void syslog_host_name(struct syslogd *sd)
{
	size_t i = 0;

	for (const char *s = sd->p->device_name; *s && i + 1 < sizeof(sd->host); s++) {
		char ch = *s;

		if ((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= 'A' && ch <= 'Z'))
			sd->host[i++] = ch;
		else if (i > 0 && sd->host[i - 1] != '-')
			sd->host[i++] = '-';
	}
	while (i > 0 && sd->host[i - 1] == '-')
		i--;
	sd->host[i] = '\0';
	if (i == 0)
		snprintf(sd->host, sizeof(sd->host), "iPhone");
}

static struct syslogd *syslogd_new(struct phone *p)
{
	struct devsim *ds = p->ds;
	struct syslogd *sd = calloc(1, sizeof(*sd));
	uint64_t period;

	if (!sd)
		return NULL;
	sd->p = p;
	syslog_host_name(sd);
	sd->pid_base = 60 + (unsigned)(p->device_id * 37 % 400);
	uv_timer_init(ds->loop, &sd->tick);
	uv_timer_init(ds->loop, &sd->rescan);
	sd->tick.data = sd->rescan.data = sd;
	sd->handles = 2 + WATCH_N;
	for (int i = 0; i < WATCH_N; i++) {
		uv_fs_event_init(ds->loop, &sd->watch[i]);
		sd->watch[i].data = sd;
	}
	sd->watching[WATCH_DIR] =
		uv_fs_event_start(&sd->watch[WATCH_DIR], syslog_fs_cb, p->dir, 0) == 0;
	sd->watching[WATCH_CRASH] =
		uv_fs_event_start(&sd->watch[WATCH_CRASH], syslog_fs_cb, p->crash_dir, 0) == 0;
	syslog_watch_pending(sd);
	if (!sd->watching[WATCH_DIR] || !sd->watching[WATCH_CRASH])
		log_err("phone %s: cannot watch '%s' for new reports", p->udid, p->dir);
	syslog_rescan(sd, false);
	if (ds->syslog_rate > 0) {
		period = ds->syslog_rate >= 1000 ? 1 : 1000 / ds->syslog_rate;
		uv_timer_start(&sd->tick, syslog_tick_cb, period, period);
	}
	p->syslog = sd;
	return sd;
}

static void syslogd_close_cb(uv_handle_t *h)
{
	struct syslogd *sd = h->data;

	if (--sd->handles > 0)
		return;
	for (size_t i = 0; i < sd->nknown; i++)
		free(sd->known[i]);
	free(sd->known);
	free(sd);
}

/* the last stream closed (every stream closes before its phone goes): stop watching, free
 * once the handles close */
static void syslogd_free(struct syslogd *sd)
{
	if (sd->p)
		sd->p->syslog = NULL;
	sd->p = NULL;
	uv_close((uv_handle_t *)&sd->tick, syslogd_close_cb);
	uv_close((uv_handle_t *)&sd->rescan, syslogd_close_cb);
	for (int i = 0; i < WATCH_N; i++)
		uv_close((uv_handle_t *)&sd->watch[i], syslogd_close_cb);
}

void syslog_start(struct conn *c)
{
	struct phone *p = c->phone;
	struct syslogd *sd = p->syslog ? p->syslog : syslogd_new(p);

	if (!sd) {
		conn_close(c, "out of memory");
		return;
	}
	c->syslog_prev = NULL;
	c->syslog_next = sd->streams;
	if (sd->streams)
		sd->streams->syslog_prev = c;
	sd->streams = c;
	log_msg("conn %u syslog %s: streaming, %u background lines/s", c->id, p->udid,
		p->ds->syslog_rate);
}

void syslog_conn_closed(struct conn *c)
{
	struct syslogd *sd = c->phone ? c->phone->syslog : NULL;

	if (!sd)
		return;
	if (c->syslog_prev)
		c->syslog_prev->syslog_next = c->syslog_next;
	else if (sd->streams == c)
		sd->streams = c->syslog_next;
	if (c->syslog_next)
		c->syslog_next->syslog_prev = c->syslog_prev;
	c->syslog_prev = c->syslog_next = NULL;
	if (!sd->streams)
		syslogd_free(sd);
}
