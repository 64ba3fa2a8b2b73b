/* cmd_info.c: jetsamctl status, devices and reports: what the daemon knows and holds */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "output.h"
#include "products.h"

/* "3 d 4 h", "2 h 5 min", "42 s" */
static void fmt_duration(char *buf, size_t size, double seconds)
{
	long long s = seconds < 0 ? 0 : (long long)seconds;

	if (s >= 86400)
		snprintf(buf, size, "%lld d %lld h", s / 86400, s % 86400 / 3600);
	else if (s >= 3600)
		snprintf(buf, size, "%lld h %lld min", s / 3600, s % 3600 / 60);
	else if (s >= 60)
		snprintf(buf, size, "%lld min", s / 60);
	else
		snprintf(buf, size, "%lld s", s);
}

/* Parse the options of a command that takes only the common ones; returns CMD_RUN to go on */
static int simple_options(struct ctl *ctl, int argc, char **argv, const char *help)
{
	static const struct option opts[] = {CMD_COMMON_OPTIONS};
	const struct cmd_opts o = {
		.name = argv[0], .shortopts = "h", .longopts = opts, .help = help};

	return cmd_options(ctl, &o, argc, argv, NULL, NULL);
}

/* --- status --- */

static const char *const status_csv[] = {
	"version",
	"daemon",
	"pid",
	"started",
	"uptime_s",
	"usbmuxd_connected",
	"usbmuxd_socket",
	"state_dir",
	"devices_attached",
	"devices_syncing",
	"devices_total",
	"reports",
	"events",
	"clients",
	"resync_interval_s",
	NULL,
};

static void status_print_csv(const cJSON *r)
{
	const cJSON *usb = cJSON_GetObjectItemCaseSensitive(r, "usbmuxd");
	const cJSON *dev = cJSON_GetObjectItemCaseSensitive(r, "devices");
	const char *const *name;

	csv_header(stdout, status_csv);
	for (name = status_csv; *name != NULL; name++) {
		const cJSON *v;

		if (strncmp(*name, "usbmuxd_", 8) == 0)
			v = cJSON_GetObjectItemCaseSensitive(usb, *name + 8);
		else if (strncmp(*name, "devices_", 8) == 0)
			v = cJSON_GetObjectItemCaseSensitive(dev, *name + 8);
		else
			v = cJSON_GetObjectItemCaseSensitive(r, *name);
		csv_json(stdout, name == status_csv, v);
	}
	csv_end(stdout);
}

/* "fleet:" when the daemon ships to PostgreSQL (issue 14) */
static void status_print_fleet(const struct ctl *ctl, const cJSON *r)
{
	const cJSON *f = cJSON_GetObjectItemCaseSensitive(r, "fleet");
	const char *ok = ctl->color ? "\033[32m" : "", *bad = ctl->color ? "\033[1;31m" : "";
	const char *end = ctl->color ? "\033[0m" : "";
	const char *err = jstr_or(f, "last_error", NULL);
	char a[64], b[64];

	if (!cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f, "enabled")))
		return;
	fmt_jnum(a, sizeof(a), f, "outbox");
	fmt_jnum(b, sizeof(b), f, "shipped");
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(f, "connected")))
		printf("fleet:      %sconnected%s as %s, %s waiting, %s shipped (last %s)\n", ok,
		       end, jstr_or(f, "host_id", "-"), a, b,
		       jstr_or(f, "last_shipped_at", "never"));
	else
		printf("fleet:      %snot connected%s as %s, %s waiting, %s shipped%s%s\n", bad,
		       end, jstr_or(f, "host_id", "-"), a, b, err ? ": " : "", err ? err : "");
}

static void status_print_table(const struct ctl *ctl, const cJSON *r)
{
	const cJSON *usb = cJSON_GetObjectItemCaseSensitive(r, "usbmuxd");
	const cJSON *dev = cJSON_GetObjectItemCaseSensitive(r, "devices");
	char a[64], b[64], c[64];
	const char *ok = ctl->color ? "\033[32m" : "", *bad = ctl->color ? "\033[1;31m" : "";
	const char *end = ctl->color ? "\033[0m" : "";
	double v;

	fmt_jnum(a, sizeof(a), r, "pid");
	fmt_duration(b, sizeof(b), jnum(r, "uptime_s", &v) == 0 ? v : 0);
	printf("daemon:     %s, pid %s, up %s\n", jstr_or(r, "daemon", "-"), a, b);
	printf("socket:     %s\n", ctl->socket_path);
	if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(usb, "connected")))
		printf("usbmuxd:    %sconnected%s (%s)\n", ok, end, jstr_or(usb, "socket", "-"));
	else
		printf("usbmuxd:    %snot connected%s (%s)\n", bad, end,
		       jstr_or(usb, "socket", "-"));
	printf("state dir:  %s\n", jstr_or(r, "state_dir", "-"));
	fmt_jnum(a, sizeof(a), dev, "attached");
	fmt_jnum(b, sizeof(b), dev, "syncing");
	fmt_jnum(c, sizeof(c), dev, "total");
	printf("devices:    %s attached, %s syncing, %s known\n", a, b, c);
	fmt_jnum(a, sizeof(a), r, "reports");
	fmt_jnum(b, sizeof(b), r, "events");
	printf("reports:    %s (%s kill events)\n", a, b);
	fmt_jnum(a, sizeof(a), r, "clients");
	printf("clients:    %s\n", a);
	if (jnum(r, "resync_interval_s", &v) == 0 && v > 0) {
		fmt_duration(a, sizeof(a), v);
		printf("resync:     every %s\n", a);
	} else {
		printf("resync:     off\n");
	}
	status_print_fleet(ctl, r);
}

int status_main(struct ctl *ctl, int argc, char **argv)
{
	cJSON *req, *result;
	int r = simple_options(ctl, argc, argv,
			       "usage: jetsamctl status\n"
			       "Show the daemon's state: version, uptime, usbmuxd, counts.\n");

	if (r != CMD_RUN)
		return r;
	req = cmd_request_new("status");
	r = cmd_call(ctl, "status", req, &result);
	cJSON_Delete(req);
	if (r != CTL_EXIT_OK)
		return r;
	if (ctl->format == CTL_FORMAT_JSON)
		r = json_print(result);
	else if (ctl->format == CTL_FORMAT_CSV)
		status_print_csv(result);
	else
		status_print_table(ctl, result);
	cJSON_Delete(result);
	return r;
}

/* --- devices --- */

static const char *const devices_csv[] = {
	"udid",	      "name",	    "product",	 "product_name", "os_version",
	"build",      "connection", "attached",	 "state",	 "error",
	"first_seen", "last_seen",  "last_sync", "reports",	 NULL,
};

static const char *state_style(const char *state)
{
	if (state == NULL)
		return NULL;
	if (strcmp(state, "idle") == 0 || strcmp(state, "attached") == 0)
		return "32";
	if (strcmp(state, "syncing") == 0)
		return "36";
	if (strcmp(state, "locked") == 0)
		return "33";
	if (strcmp(state, "error") == 0 || strcmp(state, "untrusted") == 0)
		return "1;31";
	if (strcmp(state, "detached") == 0)
		return "2";
	return NULL;
}

static int devices_print_table(const struct ctl *ctl, const cJSON *list)
{
	static const struct table_column cols[] = {
		{"UDID", TABLE_LEFT, TABLE_WHOLE, 0}, {"NAME", TABLE_LEFT, 8, 0},
		{"PRODUCT", TABLE_LEFT, 12, 0},	      {"OS", TABLE_LEFT, 0, 1},
		{"STATE", TABLE_LEFT, 0, 0},	      {"REPORTS", TABLE_RIGHT, 0, 3},
		{"LAST SYNC", TABLE_LEFT, 0, 2},
	};
	struct table *t = table_new(cols, sizeof(cols) / sizeof(cols[0]));
	const cJSON *d;
	time_t now = time(NULL);
	int r, errors = 0;

	if (t == NULL)
		return CTL_EXIT_ERROR;
	cJSON_ArrayForEach(d, list)
	{
		char product[128], os[64], reports[32], sync[64];
		const char *state = jstr(d, "state");

		products_label(product, sizeof(product), jstr(d, "product"));
		fmt_os(os, sizeof(os), jstr(d, "os_version"), jstr(d, "build"));
		fmt_jnum(reports, sizeof(reports), d, "reports");
		if (jstr(d, "last_sync") == NULL)
			snprintf(sync, sizeof(sync), "never");
		else
			fmt_reltime_str(sync, sizeof(sync), jstr(d, "last_sync"), now);
		if (jstr(d, "error") != NULL)
			errors++;
		if (table_add(t, jstr(d, "udid"), NULL) < 0 ||
		    table_add(t, jstr(d, "name"), NULL) < 0 ||
		    table_add_alt(t, product, jstr(d, "product"), NULL) < 0 ||
		    table_add(t, os, NULL) < 0 || table_add(t, state, state_style(state)) < 0 ||
		    table_add(t, reports, NULL) < 0 || table_add(t, sync, NULL) < 0) {
			table_free(t);
			ctl_error("out of memory");
			return CTL_EXIT_ERROR;
		}
	}
	if (table_rows(t) == 0) {
		table_free(t);
		puts("no phone seen yet");
		return CTL_EXIT_OK;
	}
	r = table_print_ctl(t, ctl);
	table_free(t);
	/* Error texts do not fit a column: one fitted line each below the table */
	if (errors > 0) {
		putchar('\n');
		cJSON_ArrayForEach(d, list)
		{
			char line[1024], fitted[1024];
			const char *udid = jstr(d, "udid");

			if (jstr(d, "error") == NULL)
				continue;
			snprintf(line, sizeof(line), "%s: %s", udid ? udid : "-", jstr(d, "error"));
			text_fit(fitted, sizeof(fitted), line,
				 ctl->width > 0 ? ctl->width : (int)sizeof(fitted), "...", 3);
			puts(fitted);
		}
	}
	return r;
}

int devices_main(struct ctl *ctl, int argc, char **argv)
{
	cJSON *req, *result;
	const cJSON *list;
	int r = simple_options(ctl, argc, argv,
			       "usage: jetsamctl devices\n"
			       "List every phone the daemon has seen, attached first.\n");

	if (r != CMD_RUN)
		return r;
	req = cmd_request_new("devices");
	r = cmd_call(ctl, "devices", req, &result);
	cJSON_Delete(req);
	if (r != CTL_EXIT_OK)
		return r;
	cmd_add_product_names(result);
	list = cJSON_GetObjectItemCaseSensitive(result, "devices");
	if (ctl->format == CTL_FORMAT_JSON) {
		r = json_print(result);
	} else if (ctl->format == CTL_FORMAT_CSV) {
		csv_objects(stdout, devices_csv, list);
	} else {
		r = devices_print_table(ctl, list);
	}
	cJSON_Delete(result);
	return r;
}

/* --- reports --- */

static const char *const reports_csv[] = {
	"id",	      "udid",	"key",	     "incident", "path",      "size",
	"sha256",     "status", "error",     "variant",	 "product",   "product_name",
	"os_version", "build",	"timestamp", "events",	 "collected", "removed_from_device",
	NULL,
};

static int reports_print_table(struct ctl *ctl, const cJSON *list)
{
	static const struct table_column cols[] = {
		{"ID", TABLE_RIGHT, 0, 0},
		{"TIME", TABLE_LEFT, 0, 0},
		{"UDID", TABLE_LEFT, TABLE_WHOLE, 0},
		{"PRODUCT", TABLE_LEFT, 10, 3},
		{"OS", TABLE_LEFT, 0, 2},
		{"STATUS", TABLE_LEFT, 0, 0},
		{"EVENTS", TABLE_RIGHT, 0, 1},
		{"PATH", TABLE_LEFT, 12, 0},
	};
	struct table *t = table_new(cols, sizeof(cols) / sizeof(cols[0]));
	const cJSON *rep;
	time_t now = time(NULL);
	struct cmd_udids known;

	if (t == NULL)
		return CTL_EXIT_ERROR;
	/* a narrow terminal shows unique UDID prefixes that sync and --udid accept */
	if (cmd_udids_fetch(ctl, "reports", &known) != CTL_EXIT_OK) {
		table_free(t);
		return CTL_EXIT_ERROR;
	}
	cmd_udids_add(&known, list);
	cJSON_ArrayForEach(rep, list)
	{
		char id[32], when[64], product[128], os[64], events[32], path[1024], prefix[128];
		const char *status = jstr(rep, "status");
		const char *style = NULL;

		fmt_jnum(id, sizeof(id), rep, "id");
		/* the report's own time; when it has none we can read, when it was collected */
		fmt_reltime_str(when, sizeof(when), jstr(rep, "timestamp"), now);
		if (strcmp(when, "-") == 0)
			fmt_reltime_str(when, sizeof(when), jstr(rep, "collected"), now);
		products_label(product, sizeof(product), jstr(rep, "product"));
		fmt_os(os, sizeof(os), jstr(rep, "os_version"), jstr(rep, "build"));
		fmt_jnum(events, sizeof(events), rep, "events");
		if (status != NULL && strcmp(status, "error") == 0) {
			style = "1;31";
			snprintf(path, sizeof(path), "%s: %s", jstr_or(rep, "path", "-"),
				 jstr_or(rep, "error", "error"));
		} else {
			if (status != NULL && strcmp(status, "skipped") == 0)
				style = "2";
			snprintf(path, sizeof(path), "%s", jstr_or(rep, "path", "-"));
		}
		cmd_udid_prefix(prefix, sizeof(prefix), jstr_or(rep, "udid", "-"), &known);
		if (table_add(t, id, NULL) < 0 || table_add(t, when, NULL) < 0 ||
		    table_add_alt(t, jstr(rep, "udid"), prefix, NULL) < 0 ||
		    table_add_alt(t, product, jstr(rep, "product"), NULL) < 0 ||
		    table_add(t, os, NULL) < 0 || table_add(t, status, style) < 0 ||
		    table_add(t, events, NULL) < 0 || table_add(t, path, NULL) < 0) {
			table_free(t);
			cmd_udids_release(&known);
			ctl_error("out of memory");
			return CTL_EXIT_ERROR;
		}
	}
	cmd_udids_release(&known);
	return table_finish(t, ctl, "no reports");
}

/* As documented: newest first by collection time, then by id (the newest first) */
static int reports_newer_first(const void *pa, const void *pb)
{
	const cJSON *a = *(const cJSON *const *)pa, *b = *(const cJSON *const *)pb;
	int c = strcmp(jstr_or(b, "collected", ""), jstr_or(a, "collected", ""));
	double ia = 0, ib = 0;

	if (c != 0)
		return c;
	jnum(a, "id", &ia);
	jnum(b, "id", &ib);
	return ia < ib ? 1 : ia > ib ? -1 : 0;
}

/* Sort the reports of list as documented, whatever order the daemon sent */
static void reports_sort(cJSON *list)
{
	int n = cJSON_GetArraySize(list), i;
	cJSON **all = malloc((size_t)(n ? n : 1) * sizeof(*all));

	if (all == NULL)
		return;
	for (i = 0; i < n; i++)
		all[i] = cJSON_DetachItemFromArray(list, 0);
	qsort(all, (size_t)n, sizeof(*all), reports_newer_first);
	for (i = 0; i < n; i++)
		cJSON_AddItemToArray(list, all[i]);
	free(all);
}

/* The options of reports */
struct reports_args {
	const char *udid, *status;
	long limit;
};

static int reports_option_cb(void *arg, int c, const char *value)
{
	struct reports_args *a = arg;

	switch (c) {
	case 'u':
		a->udid = value;
		break;
	case 's':
		if (strcmp(value, "ok") != 0 && strcmp(value, "skipped") != 0 &&
		    strcmp(value, "error") != 0) {
			ctl_usage_error("reports", "--status must be ok, skipped or error");
			return CTL_EXIT_USAGE;
		}
		a->status = value;
		break;
	case 'n':
		return cmd_option_limit("reports", value, &a->limit);
	}
	return 0;
}

int reports_main(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{"udid", required_argument, NULL, 'u'},
		{"status", required_argument, NULL, 's'},
		{"limit", required_argument, NULL, 'n'},
		CMD_COMMON_OPTIONS,
	};
	static const struct cmd_opts o = {
		.name = "reports",
		.shortopts = "hu:s:n:",
		.longopts = opts,
		.help = "usage: jetsamctl reports [--udid UDID] [--status ok|skipped|error] "
			"[--limit N]\n"
			"List collected reports, newest first (by collection time, then id)."
			"\n",
		.max_operands = 0,
	};
	struct reports_args a = {.limit = -1};
	char udid[256];
	cJSON *req, *result;
	cJSON *list;
	int r;

	r = cmd_options(ctl, &o, argc, argv, reports_option_cb, &a);
	if (r != CMD_RUN)
		return r;
	if (a.udid != NULL) {
		r = cmd_resolve_udid(ctl, "reports", a.udid, udid, sizeof(udid));
		if (r != CTL_EXIT_OK)
			return r;
		a.udid = udid;
	}
	req = cmd_request_new("reports");
	cmd_request_str(req, "udid", a.udid);
	cmd_request_str(req, "status", a.status);
	if (a.limit > 0)
		cmd_request_num(req, "limit", (double)a.limit);
	r = cmd_call(ctl, "reports", req, &result);
	cJSON_Delete(req);
	if (r != CTL_EXIT_OK)
		return r;
	cmd_add_product_names(result);
	list = cJSON_GetObjectItemCaseSensitive(result, "reports");
	reports_sort(list);
	if (ctl->format == CTL_FORMAT_JSON) {
		r = json_print(result);
	} else if (ctl->format == CTL_FORMAT_CSV) {
		csv_objects(stdout, reports_csv, list);
	} else {
		r = reports_print_table(ctl, list);
	}
	if (ctl->format != CTL_FORMAT_JSON &&
	    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "truncated")))
		ctl_error("more reports match: only the newest %d are shown (use --limit)",
			  cJSON_GetArraySize(list));
	cJSON_Delete(result);
	return r;
}
