/* cmd_watch.c: jetsamctl watch: stream kill events and phone state changes as they happen */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "conn.h"
#include "output.h"
#include "products.h"
#include "protocol.h"
#include "timeparse.h"

static const char *const watch_csv[] = {
	"type",		"received",	   "udid",	  "name", "state",   "error", "product",
	"product_name", "os_version",	   "build",	  "time", "process", "pid",   "reason",
	"role",		"footprint_bytes", "limit_bytes", NULL,
};

static long long mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void watch_print_csv(const char *type, const cJSON *obj, const char *received)
{
	const char *const *name;

	for (name = watch_csv; *name != NULL; name++) {
		int first = name == watch_csv;

		if (strcmp(*name, "type") == 0)
			csv_field(stdout, first, type);
		else if (strcmp(*name, "received") == 0)
			csv_field(stdout, first, received);
		else
			csv_json(stdout, first, cJSON_GetObjectItemCaseSensitive(obj, *name));
	}
	csv_end(stdout);
}

/* The kill's time (the report's) in local time: "10:42:07" today, else "2026-11-20 10:42:07";
 * "?" when the event has none */
static void watch_kill_time(char *buf, size_t size, const cJSON *obj)
{
	time_t t, now = time(NULL);
	struct tm tm, today;

	if (jstr(obj, "time") == NULL || timeparse_iso(jstr(obj, "time"), &t) < 0) {
		snprintf(buf, size, "?");
		return;
	}
	localtime_r(&t, &tm);
	localtime_r(&now, &today);
	strftime(buf, size,
		 tm.tm_year == today.tm_year && tm.tm_yday == today.tm_yday ? "%H:%M:%S"
									    : "%Y-%m-%d %H:%M:%S",
		 &tm);
}

static void watch_print_line(const struct ctl *ctl, const char *type, const cJSON *obj,
			     const char *received)
{
	char line[2048], fitted[2048], product[128], os[64], used[32], limit[32], killed[64];
	const char *on = ctl->color ? "\033[1;31m" : "", *off = ctl->color ? "\033[0m" : "";

	products_label(product, sizeof(product), jstr(obj, "product"));
	fmt_os(os, sizeof(os), jstr(obj, "os_version"), jstr(obj, "build"));
	if (strcmp(type, PROTO_PUSH_EVENT) == 0) {
		double pid;

		fmt_jmib(used, sizeof(used), obj, "footprint_bytes");
		fmt_jmib(limit, sizeof(limit), obj, "limit_bytes");
		if (jnum(obj, "pid", &pid) < 0)
			pid = -1;
		watch_kill_time(killed, sizeof(killed), obj);
		snprintf(line, sizeof(line),
			 "%s  kill    %s[%.0f] killed %s: %s, %s MiB%s%s%s, %s on %s %s %s",
			 received, jstr_or(obj, "process", "?"), pid, killed,
			 jstr_or(obj, "reason", "-"), used, strcmp(limit, "-") ? " (limit " : "",
			 strcmp(limit, "-") ? limit : "", strcmp(limit, "-") ? " MiB)" : "",
			 jstr_or(obj, "role", "-"), jstr_or(obj, "udid", "-"), product, os);
	} else {
		snprintf(line, sizeof(line), "%s  device  %s %s (%s, %s %s)%s%s", received,
			 jstr_or(obj, "udid", "-"), jstr_or(obj, "state", "-"),
			 jstr_or(obj, "name", "-"), product, os, jstr(obj, "error") ? ": " : "",
			 jstr_or(obj, "error", ""));
	}
	text_fit(fitted, sizeof(fitted), line, ctl->width > 0 ? ctl->width : (int)sizeof(line),
		 "...", 3);
	if (strcmp(type, PROTO_PUSH_EVENT) == 0 && *on) {
		/* colour the "kill" tag only: it is at a fixed offset after the time */
		size_t t = strlen(received) + 2;

		if (strlen(fitted) > t + 4)
			printf("%.*s%s%.4s%s%s\n", (int)t, fitted, on, fitted + t, off,
			       fitted + t + 4);
		else
			puts(fitted);
	} else {
		puts(fitted);
	}
}

/* The options of watch */
struct watch_args {
	const char *udid, *process;
	int until_event, events_only;
	double timeout; /* seconds, -1: none */
};

static int watch_option_cb(void *arg, int c, const char *value)
{
	struct watch_args *a = arg;
	char *end;

	switch (c) {
	case 'e':
		a->until_event = 1;
		break;
	case 't':
		errno = 0;
		a->timeout = strtod(value, &end);
		if (errno != 0 || end == value || *end != 0 || !isfinite(a->timeout) ||
		    a->timeout <= 0 || a->timeout > 31536000) {
			ctl_usage_error("watch", "--timeout must be a number of seconds > 0");
			return CTL_EXIT_USAGE;
		}
		break;
	case 'u':
		a->udid = value;
		break;
	case 'P':
		a->process = value;
		break;
	case 'E':
	case 'k':
		a->events_only = 1;
		break;
	}
	return 0;
}

/* Connect and subscribe to events (and devices unless --events-only): a CTL_EXIT_* code;
 * conn is open only on CTL_EXIT_OK. */
static int watch_subscribe(struct ctl *ctl, const struct watch_args *a, struct conn *conn,
			   int quiet)
{
	cJSON *req, *result = NULL, *topics;
	int r;

	r = conn_open_quiet(conn, ctl->socket_path, quiet);
	if (r != CTL_EXIT_OK)
		return r;
	req = cmd_request_new("subscribe");
	topics = cJSON_AddArrayToObject(req, "topics");
	if (topics == NULL ||
	    !cJSON_AddItemToArray(topics, cJSON_CreateString(PROTO_TOPIC_EVENTS)) ||
	    (!a->events_only &&
	     !cJSON_AddItemToArray(topics, cJSON_CreateString(PROTO_TOPIC_DEVICES)))) {
		cJSON_Delete(req);
		conn_release(conn);
		ctl_error("out of memory");
		return CTL_EXIT_ERROR;
	}
	r = conn_command(conn, "watch", req, &result);
	cJSON_Delete(req);
	cJSON_Delete(result);
	if (r != CTL_EXIT_OK)
		conn_release(conn);
	return r;
}

/* The kind of a pushed line that passes the filters ("event" or "device"), else NULL
 * (a reply, an unknown kind, or filtered out); *obj is then the pushed object. */
static const char *watch_match(const struct watch_args *a, const cJSON *line, const cJSON **obj)
{
	const char *push = jstr(line, "push"), *type;

	if (push == NULL) /* a reply: nothing was asked, so nothing to show */
		return NULL;
	type = strcmp(push, PROTO_PUSH_EVENT) == 0 ? PROTO_PUSH_EVENT : PROTO_PUSH_DEVICE;
	*obj = cJSON_GetObjectItemCaseSensitive(line, type);
	if (!cJSON_IsObject(*obj) ||
	    (strcmp(push, PROTO_PUSH_EVENT) != 0 && strcmp(push, PROTO_PUSH_DEVICE) != 0) ||
	    (a->udid != NULL && strcmp(jstr_or(*obj, "udid", ""), a->udid) != 0) ||
	    (a->process != NULL && (strcmp(type, PROTO_PUSH_EVENT) != 0 ||
				    strcmp(jstr_or(*obj, "process", ""), a->process) != 0)))
		return NULL;
	return type;
}

/* Print one pushed line of the given kind in ctl->format: a CTL_EXIT_* code. */
static int watch_print(const struct ctl *ctl, cJSON *line, const char *type, const cJSON *obj)
{
	char received[32], hms[16];
	struct tm tm;
	time_t now = time(NULL);

	gmtime_r(&now, &tm);
	strftime(received, sizeof(received), "%Y-%m-%dT%H:%M:%SZ", &tm);
	localtime_r(&now, &tm);
	strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
	cmd_add_product_names(line);
	if (ctl->format == CTL_FORMAT_JSON) {
		cJSON_AddStringToObject(line, "received", received);
		return json_print(line);
	}
	if (ctl->format == CTL_FORMAT_CSV)
		watch_print_csv(type, obj, received);
	else
		watch_print_line(ctl, type, obj, hms);
	return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_ERROR;
}

/*
 * The connection is lost (the daemon restarted): say so once, then connect and subscribe
 * again every 0.25 s, doubling to 5 s, until it works (0) or the deadline passes
 * (-ETIMEDOUT).
 */
static int watch_reconnect(struct ctl *ctl, const struct watch_args *a, struct conn *conn,
			   long long deadline, int err)
{
	long long backoff = 250;

	ctl_error("watch: %s; reconnecting", conn_strerror(err));
	conn_release(conn);
	for (;;) {
		long long wait = backoff;
		struct timespec ts;

		if (deadline >= 0 && mono_ms() + wait > deadline)
			wait = deadline - mono_ms();
		if (wait > 0) {
			ts.tv_sec = (time_t)(wait / 1000);
			ts.tv_nsec = (long)(wait % 1000) * 1000000L;
			nanosleep(&ts, NULL);
		}
		if (deadline >= 0 && mono_ms() >= deadline)
			return -ETIMEDOUT;
		if (watch_subscribe(ctl, a, conn, 1) == CTL_EXIT_OK)
			return 0;
		backoff = backoff * 2 > 5000 ? 5000 : backoff * 2;
	}
}

/* Show pushed lines until the deadline (mono_ms, -1: none), an error, or with --until-event
 * the first kill event. Returns a CTL_EXIT_* code. */
static int watch_loop(struct ctl *ctl, const struct watch_args *a, struct conn *conn,
		      long long deadline)
{
	for (;;) {
		int left = -1, r;
		cJSON *line = NULL;
		const char *type;
		const cJSON *obj = NULL;

		if (deadline >= 0) {
			long long ms = deadline - mono_ms();

			left = ms > 0 ? (int)(ms > 86400000 ? 86400000 : ms) : 0;
		}
		r = left == 0 ? -ETIMEDOUT : conn_read(conn, &line, left);
		if (r < 0 && r != -ETIMEDOUT && r != -EMSGSIZE && r != -EBADMSG && r != -ENOMEM)
			r = watch_reconnect(ctl, a, conn, deadline, r);
		if (r == 0 && line == NULL)
			continue; /* reconnected */
		if (r == -ETIMEDOUT) {
			if (!a->until_event)
				return CTL_EXIT_OK;
			ctl_error("timed out after %g s waiting for a kill event", a->timeout);
			return CTL_EXIT_ERROR;
		}
		if (r < 0) {
			ctl_error("watch failed: %s", conn_strerror(r));
			return CTL_EXIT_ERROR;
		}
		type = watch_match(a, line, &obj);
		if (type == NULL) {
			cJSON_Delete(line);
			continue;
		}
		r = watch_print(ctl, line, type, obj);
		cJSON_Delete(line);
		if (r != CTL_EXIT_OK)
			return r; /* stdout is gone (a closed pipe): stop */
		if (a->until_event && strcmp(type, PROTO_PUSH_EVENT) == 0)
			return CTL_EXIT_OK;
	}
}

int watch_main(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{"until-event", no_argument, NULL, 'e'},
		{"timeout", required_argument, NULL, 't'},
		{"udid", required_argument, NULL, 'u'},
		{"process", required_argument, NULL, 'P'},
		{"events-only", no_argument, NULL, 'E'},
		{"kills", no_argument, NULL, 'k'},
		CMD_COMMON_OPTIONS,
	};
	static const struct cmd_opts o = {
		.name = "watch",
		.shortopts = "het:u:P:Ek",
		.longopts = opts,
		.help = "usage: jetsamctl watch [--until-event] [--timeout SEC] [--udid U] "
			"[--process NAME]\n"
			"                      [--kills]\n"
			"Stream kill events and phone state changes; --kills: kill events "
			"only.\n--until-event exits 0 at the first kill event; --timeout ends "
			"the watch after SEC\nseconds (exit 1 with --until-event). When the "
			"daemon restarts, watch reconnects.\n",
		.max_operands = 0,
	};
	struct watch_args a = {.timeout = -1};
	char udid[256];
	long long deadline = -1;
	struct conn conn;
	int r;

	r = cmd_options(ctl, &o, argc, argv, watch_option_cb, &a);
	if (r != CMD_RUN)
		return r;
	if (a.udid != NULL) {
		r = cmd_resolve_udid(ctl, "watch", a.udid, udid, sizeof(udid));
		if (r != CTL_EXIT_OK)
			return r;
		a.udid = udid;
	}
	if (a.timeout > 0)
		deadline = mono_ms() + (long long)(a.timeout * 1000.0);
	r = watch_subscribe(ctl, &a, &conn, 0);
	if (r != CTL_EXIT_OK)
		return r;
	if (ctl->format == CTL_FORMAT_CSV)
		csv_header(stdout, watch_csv);
	fflush(stdout);
	r = watch_loop(ctl, &a, &conn, deadline);
	conn_release(&conn);
	return r;
}
