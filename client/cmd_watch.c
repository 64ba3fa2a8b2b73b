/* cmd_watch.c: jetsamctl watch: stream kill events and phone state changes as they happen */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "conn.h"
#include "events.h"
#include "output.h"
#include "products.h"
#include "protocol.h"

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

static void watch_print_line(const struct ctl *ctl, const char *type, const cJSON *obj,
			     const char *received)
{
	char line[2048], fitted[2048], product[128], os[64], used[32], limit[32];
	const char *on = ctl->color ? "\033[1;31m" : "", *off = ctl->color ? "\033[0m" : "";

	products_label(product, sizeof(product), jstr(obj, "product"));
	fmt_os(os, sizeof(os), jstr(obj, "os_version"), jstr(obj, "build"));
	if (strcmp(type, "event") == 0) {
		double pid;

		fmt_jmib(used, sizeof(used), obj, "footprint_bytes");
		fmt_jmib(limit, sizeof(limit), obj, "limit_bytes");
		if (jnum(obj, "pid", &pid) < 0)
			pid = -1;
		snprintf(line, sizeof(line),
			 "%s  kill    %s[%.0f] %s, %s MiB%s%s%s, %s on %s %s %s", received,
			 jstr_or(obj, "process", "?"), pid, jstr_or(obj, "reason", "-"), used,
			 strcmp(limit, "-") ? " (limit " : "", strcmp(limit, "-") ? limit : "",
			 strcmp(limit, "-") ? " MiB)" : "", jstr_or(obj, "role", "-"),
			 jstr_or(obj, "udid", "-"), product, os);
	} else {
		snprintf(line, sizeof(line), "%s  device  %s %s (%s, %s %s)%s%s", received,
			 jstr_or(obj, "udid", "-"), jstr_or(obj, "state", "-"),
			 jstr_or(obj, "name", "-"), product, os, jstr(obj, "error") ? ": " : "",
			 jstr_or(obj, "error", ""));
	}
	text_fit(fitted, sizeof(fitted), line, ctl->width > 0 ? ctl->width : (int)sizeof(line),
		 "...", 3);
	if (strcmp(type, "event") == 0 && *on) {
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

int watch_main(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{"until-event", no_argument, NULL, 'e'}, {"timeout", required_argument, NULL, 't'},
		{"udid", required_argument, NULL, 'u'},	 {"process", required_argument, NULL, 'P'},
		{"events-only", no_argument, NULL, 'E'}, CMD_COMMON_OPTIONS,
	};
	const char *udid = NULL, *process = NULL;
	int until_event = 0, events_only = 0, c, r;
	double timeout = -1;
	long long deadline = -1;
	struct conn conn;
	cJSON *req, *result = NULL, *topics;

	while ((c = getopt_long(argc, argv, "het:u:P:E", opts, NULL)) != -1) {
		if (cmd_common_option(ctl, c))
			continue;
		switch (c) {
		case 'e':
			until_event = 1;
			break;
		case 't': {
			char *end;

			errno = 0;
			timeout = strtod(optarg, &end);
			if (errno != 0 || end == optarg || *end != 0 || !isfinite(timeout) ||
			    timeout <= 0 || timeout > 31536000) {
				ctl_usage_error("watch",
						"--timeout must be a number of seconds > 0");
				return CTL_EXIT_USAGE;
			}
			break;
		}
		case 'u':
			udid = optarg;
			break;
		case 'P':
			process = optarg;
			break;
		case 'E':
			events_only = 1;
			break;
		case 'h':
			fputs("usage: jetsamctl watch [--until-event] [--timeout SEC] [--udid U] "
			      "[--process NAME]\n"
			      "                      [--events-only]\n"
			      "Stream kill events and phone state changes. --until-event exits 0 "
			      "at "
			      "the first\nkill event; --timeout ends the watch after SEC seconds "
			      "(exit 1 with --until-event).\n",
			      stdout);
			return CTL_EXIT_OK;
		default:
			ctl_usage_error("watch", "unknown option");
			return CTL_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		ctl_usage_error("watch", "unexpected argument '%s'", argv[optind]);
		return CTL_EXIT_USAGE;
	}
	if (timeout > 0)
		deadline = mono_ms() + (long long)(timeout * 1000.0);
	r = conn_open(&conn, ctl->socket_path);
	if (r != CTL_EXIT_OK)
		return r;
	req = cmd_request_new("subscribe");
	topics = cJSON_AddArrayToObject(req, "topics");
	if (topics == NULL ||
	    !cJSON_AddItemToArray(topics, cJSON_CreateString(PROTO_TOPIC_EVENTS)) ||
	    (!events_only &&
	     !cJSON_AddItemToArray(topics, cJSON_CreateString(PROTO_TOPIC_DEVICES)))) {
		cJSON_Delete(req);
		conn_release(&conn);
		ctl_error("out of memory");
		return CTL_EXIT_ERROR;
	}
	r = conn_command(&conn, "watch", req, &result);
	cJSON_Delete(req);
	cJSON_Delete(result);
	if (r != CTL_EXIT_OK) {
		conn_release(&conn);
		return r;
	}
	if (ctl->format == CTL_FORMAT_CSV)
		csv_header(stdout, watch_csv);
	fflush(stdout);
	for (;;) {
		int left = -1;
		cJSON *line;
		const char *push, *type;
		const cJSON *obj;
		char received[32], hms[16];
		struct tm tm;
		time_t now;

		if (deadline >= 0) {
			long long ms = deadline - mono_ms();

			left = ms > 0 ? (int)(ms > 86400000 ? 86400000 : ms) : 0;
		}
		r = left == 0 ? -ETIMEDOUT : conn_read(&conn, &line, left);
		if (r == -ETIMEDOUT) {
			if (until_event) {
				ctl_error("timed out after %g s waiting for a kill event", timeout);
				r = CTL_EXIT_ERROR;
			} else {
				r = CTL_EXIT_OK;
			}
			break;
		}
		if (r < 0) {
			ctl_error("watch failed: %s", conn_strerror(r));
			r = CTL_EXIT_ERROR;
			break;
		}
		push = jstr(line, "push");
		if (push == NULL) { /* a reply: nothing was asked, so nothing to show */
			cJSON_Delete(line);
			continue;
		}
		type = strcmp(push, "event") == 0 ? "event" : "device";
		obj = cJSON_GetObjectItemCaseSensitive(line, type);
		if (!cJSON_IsObject(obj) ||
		    (strcmp(push, "event") != 0 && strcmp(push, "device") != 0) ||
		    (udid != NULL && strcmp(jstr_or(obj, "udid", ""), udid) != 0) ||
		    (process != NULL && (strcmp(type, "event") != 0 ||
					 strcmp(jstr_or(obj, "process", ""), process) != 0))) {
			cJSON_Delete(line);
			continue;
		}
		now = time(NULL);
		gmtime_r(&now, &tm);
		strftime(received, sizeof(received), "%Y-%m-%dT%H:%M:%SZ", &tm);
		localtime_r(&now, &tm);
		strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
		cmd_add_product_names(line);
		if (ctl->format == CTL_FORMAT_JSON) {
			r = json_print(line);
		} else {
			if (ctl->format == CTL_FORMAT_CSV)
				watch_print_csv(type, obj, received);
			else
				watch_print_line(ctl, type, obj, hms);
			r = fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_ERROR;
		}
		cJSON_Delete(line);
		if (r != CTL_EXIT_OK)
			break; /* stdout is gone (a closed pipe): stop */
		if (until_event && strcmp(type, "event") == 0)
			break;
	}
	conn_release(&conn);
	return r;
}
