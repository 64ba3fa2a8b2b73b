/* cmd_events.c: jetsamctl events: kill events with filters, --fail-if-any for CI gates */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "output.h"
#include "products.h"
#include "terms.h"
#include "timeparse.h"

/* CSV column names of an event (documented in jetsamctl(1)) */
static const char *const events_csv_fields[] = {
	"time",
	"timestamp",
	"udid",
	"product",
	"product_name",
	"os_version",
	"build",
	"incident",
	"report_id",
	"process",
	"pid",
	"uuid",
	"reason",
	"role",
	"states",
	"priority",
	"rpages",
	"page_size",
	"footprint_bytes",
	"limit_bytes",
	"lifetime_max_pages",
	"collected_at",
	"seq",
	NULL,
};

static int events_print_table(struct ctl *ctl, const cJSON *list)
{
	static const struct table_column cols[] = {
		{"TIME", TABLE_LEFT, 0, 0},	  {"UDID", TABLE_LEFT, TABLE_WHOLE, 0},
		{"PRODUCT", TABLE_LEFT, 10, 4},	  {"OS", TABLE_LEFT, 0, 6},
		{"PROCESS", TABLE_LEFT, 10, 0},	  {"REASON", TABLE_LEFT, 0, 0},
		{"ROLE", TABLE_LEFT, 0, 5},	  {"USED MiB", TABLE_RIGHT, 0, 3},
		{"LIMIT MiB", TABLE_RIGHT, 0, 0}, {"COLLECTED", TABLE_LEFT, 0, 7},
	};
	struct table *t = table_new(cols, sizeof(cols) / sizeof(cols[0]));
	time_t now = time(NULL);
	struct cmd_udids known;
	const cJSON *e;

	if (t == NULL)
		return CTL_EXIT_ERROR;
	/* a narrow terminal shows unique UDID prefixes that sync and --udid accept */
	if (cmd_udids_fetch(ctl, "events", &known) != CTL_EXIT_OK) {
		table_free(t);
		return CTL_EXIT_ERROR;
	}
	cmd_udids_add(&known, list);
	cJSON_ArrayForEach(e, list)
	{
		char when[64], product[128], os[64], used[32], limit[32], prefix[128], got[64];
		const char *reason = jstr(e, "reason");

		fmt_reltime_str(when, sizeof(when), jstr(e, "time"), now);
		fmt_reltime_str(got, sizeof(got), jstr(e, "collected_at"), now);
		products_label(product, sizeof(product), jstr(e, "product"));
		fmt_os(os, sizeof(os), jstr(e, "os_version"), jstr(e, "build"));
		fmt_jmib(used, sizeof(used), e, "footprint_bytes");
		fmt_jmib(limit, sizeof(limit), e, "limit_bytes");
		cmd_udid_prefix(prefix, sizeof(prefix), jstr_or(e, "udid", "-"), &known);
		if (table_add(t, when, NULL) < 0 ||
		    table_add_alt(t, jstr(e, "udid"), prefix, NULL) < 0 ||
		    table_add_alt(t, product, jstr(e, "product"), NULL) < 0 ||
		    table_add(t, os, NULL) < 0 || table_add(t, jstr(e, "process"), "1") < 0 ||
		    table_add(t, reason,
			      reason && strcmp(reason, "per-process-limit") == 0 ? "31" : NULL) <
			    0 ||
		    table_add(t, jstr(e, "role"), NULL) < 0 || table_add(t, used, NULL) < 0 ||
		    table_add(t, limit, NULL) < 0 || table_add(t, got, NULL) < 0) {
			table_free(t);
			cmd_udids_release(&known);
			ctl_error("out of memory");
			return CTL_EXIT_ERROR;
		}
	}
	cmd_udids_release(&known);
	return table_finish(t, ctl, "no matching kill events");
}

static int time_option(const char *opt, const char *arg, time_t *out)
{
	if (timeparse_arg(arg, time(NULL), out) < 0) {
		ctl_usage_error("events",
				"%s: '%s' is not a time (ISO-8601 such as 2026-11-23T10:00:00Z, "
				"@EPOCH, or a duration before now such as 30m, 2h, 3d)",
				opt, arg);
		return -1;
	}
	return 0;
}

/* The options of events: filters, time range, limit */
struct events_args {
	const char *udid, *product, *build, *os, *process, *reason, *role;
	time_t since, until, collected_since;
	int has_since, has_until, has_collected_since, has_after, fail_if_any;
	long limit, after;
};

static int events_option_cb(void *arg, int c, const char *value)
{
	struct events_args *a = arg;

	switch (c) {
	case 'u':
		a->udid = value;
		break;
	case 'p':
		a->product = value;
		break;
	case 'b':
		a->build = value;
		break;
	case 'o':
		a->os = value;
		break;
	case 'P':
		a->process = value;
		break;
	case 'R':
		a->reason = value;
		break;
	case 'r':
		return cmd_option_role("events", value, &a->role);
	case 'S':
		if (time_option("--since", value, &a->since) < 0)
			return CTL_EXIT_USAGE;
		a->has_since = 1;
		break;
	case 'U':
		if (time_option("--until", value, &a->until) < 0)
			return CTL_EXIT_USAGE;
		a->has_until = 1;
		break;
	case 'n':
		return cmd_option_limit("events", value, &a->limit);
	case 'f':
		a->fail_if_any = 1;
		break;
	case 'A':
		if (cmd_parse_count(value, 1000000000000000L, &a->after) < 0) {
			ctl_usage_error("events",
					"--after: '%s' is not a cursor (a number from `jetsamctl "
					"cursor`)",
					value);
			return CTL_EXIT_USAGE;
		}
		a->has_after = 1;
		break;
	case 'C':
		if (time_option("--collected-since", value, &a->collected_since) < 0)
			return CTL_EXIT_USAGE;
		a->has_collected_since = 1;
		break;
	}
	return 0;
}

static cJSON *events_request(const struct events_args *a, const char *product, const char *build)
{
	cJSON *req = cmd_request_new("events");

	cmd_request_str(req, "udid", a->udid);
	cmd_request_str(req, "product", product);
	cmd_request_str(req, "build", build);
	cmd_request_str(req, "process", a->process);
	cmd_request_str(req, "reason", a->reason);
	cmd_request_str(req, "role", a->role);
	if (a->has_since)
		cmd_request_num(req, "since", (double)a->since);
	if (a->has_until)
		cmd_request_num(req, "until", (double)a->until);
	if (a->has_collected_since)
		cmd_request_num(req, "collected_since", (double)a->collected_since);
	if (a->has_after)
		cmd_request_num(req, "after", (double)a->after);
	else if (a->limit > 0)
		cmd_request_num(req, "limit", (double)a->limit);
	return req;
}

/* Newest first: by time, descending (ISO-8601 UTC strings sort as times) */
static int events_newer_first(const void *pa, const void *pb)
{
	const cJSON *a = *(const cJSON *const *)pa, *b = *(const cJSON *const *)pb;

	return -strcmp(jstr_or(a, "time", ""), jstr_or(b, "time", ""));
}

/* In collection order: by seq, ascending */
static int events_collected_first(const void *pa, const void *pb)
{
	const cJSON *a = *(const cJSON *const *)pa, *b = *(const cJSON *const *)pb;
	double sa = 0, sb = 0;

	jnum(a, "seq", &sa);
	jnum(b, "seq", &sb);
	return sa < sb ? -1 : sa > sb;
}

/* Append the events of more (freed) to result's, then keep the first limit of them (newest
 * first, or in collection order with --after) */
static void events_merge(cJSON *result, cJSON *more, long limit, int after)
{
	cJSON *list = cJSON_GetObjectItemCaseSensitive(result, "events");
	cJSON *add = cJSON_DetachItemFromObjectCaseSensitive(more, "events"), **all;
	int n, i,
		truncated = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "truncated")) ||
			    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(more, "truncated"));

	while (add != NULL && cJSON_GetArraySize(add) > 0)
		cJSON_AddItemToArray(list, cJSON_DetachItemFromArray(add, 0));
	cJSON_Delete(add);
	cJSON_Delete(more);
	n = cJSON_GetArraySize(list);
	all = malloc((size_t)(n ? n : 1) * sizeof(*all));
	if (all == NULL)
		return;
	for (i = 0; i < n; i++)
		all[i] = cJSON_DetachItemFromArray(list, 0);
	qsort(all, (size_t)n, sizeof(*all), after ? events_collected_first : events_newer_first);
	for (i = 0; i < n; i++) {
		if (i < limit)
			cJSON_AddItemToArray(list, all[i]);
		else
			cJSON_Delete(all[i]);
	}
	free(all);
	cJSON_DeleteItemFromObjectCaseSensitive(result, "truncated");
	cJSON_DeleteItemFromObjectCaseSensitive(result, "next");
	cJSON_AddBoolToObject(result, "truncated", truncated || n > limit);
	if (after && (truncated || n > limit) && limit > 0 && n > 0) {
		double seq = 0;

		jnum(cJSON_GetArrayItem(cJSON_GetObjectItemCaseSensitive(result, "events"),
					(int)(limit < n ? limit : n) - 1),
		     "seq", &seq);
		cJSON_AddNumberToObject(result, "next", seq);
	}
}

/* The events of a's filters: one request, or one per build of an --os with several */
static int events_fetch(struct ctl *ctl, const struct events_args *a, const struct terms *t,
			cJSON **result)
{
	size_t i, n = t->build == NULL && t->nbuilds > 1 ? t->nbuilds : 1;
	int r = CTL_EXIT_OK;

	*result = NULL;
	for (i = 0; i < n && r == CTL_EXIT_OK; i++) {
		cJSON *req = events_request(a, t->product, n > 1 ? t->builds[i] : t->build), *res;

		if (a->has_after)
			r = cmd_events_after(ctl, "events", req, a->limit, &res);
		else
			r = cmd_call(ctl, "events", req, &res);
		cJSON_Delete(req);
		if (r == CTL_EXIT_OK && *result == NULL)
			*result = res;
		else if (r == CTL_EXIT_OK)
			events_merge(*result, res,
				     a->limit > 0   ? a->limit
				     : a->has_after ? 100000000
						    : 1000,
				     a->has_after);
	}
	if (r != CTL_EXIT_OK) {
		cJSON_Delete(*result);
		*result = NULL;
	}
	return r;
}

/* The note on stderr when more events match than are shown */
static void events_say_truncated(const struct events_args *a, const cJSON *result, int n)
{
	double next;

	if (a->has_after && jnum(result, "next", &next) == 0)
		ctl_error("more events match: only the first %d are shown (continue with "
			  "--after %.0f)",
			  n, next);
	else
		ctl_error("more events match: only the newest %d are shown (use --limit)", n);
}

int events_main(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{"udid", required_argument, NULL, 'u'},
		{"product", required_argument, NULL, 'p'},
		{"build", required_argument, NULL, 'b'},
		{"os", required_argument, NULL, 'o'},
		{"process", required_argument, NULL, 'P'},
		{"reason", required_argument, NULL, 'R'},
		{"role", required_argument, NULL, 'r'},
		{"since", required_argument, NULL, 'S'},
		{"until", required_argument, NULL, 'U'},
		{"limit", required_argument, NULL, 'n'},
		{"fail-if-any", no_argument, NULL, 'f'},
		{"after", required_argument, NULL, 'A'},
		{"collected-since", required_argument, NULL, 'C'},
		CMD_COMMON_OPTIONS,
	};
	static const struct cmd_opts o = {
		.name = "events",
		.shortopts = "hu:p:b:o:P:R:r:S:U:n:fA:C:",
		.longopts = opts,
		.help = "usage: jetsamctl events [--udid U] [--product P] [--build B | --os V] "
			"[--process NAME]\n"
			"         [--reason R] [--role ROLE] [--since T] [--until T] "
			"[--limit N] [--fail-if-any]\n"
			"         [--after CURSOR] [--collected-since T]\n"
			"List kill events, newest first. T is ISO-8601, @EPOCH or a duration "
			"before now\n(30m, 2h, 3d). --fail-if-any exits 3 when any event "
			"matches.\n--after CURSOR (from `jetsamctl cursor`): the events collected "
			"after it, oldest\nfirst, all of them or --limit N; --collected-since T: "
			"collected at T or later\n(the host's clock, not the phone's), oldest "
			"first.\n",
		.max_operands = 0,
	};
	struct events_args a = {.limit = -1};
	char udid[256];
	struct terms terms;
	cJSON *result;
	const cJSON *list;
	int r;

	r = cmd_options(ctl, &o, argc, argv, events_option_cb, &a);
	if (r != CMD_RUN)
		return r;
	if (a.udid != NULL) {
		r = cmd_resolve_udid(ctl, "events", a.udid, udid, sizeof(udid));
		if (r != CTL_EXIT_OK)
			return r;
		a.udid = udid;
	}
	/* by collection: oldest first, paged forward (from the start without --after) */
	if (a.has_collected_since && !a.has_after) {
		a.has_after = 1;
		a.after = 0;
	}
	if (a.has_since && a.has_until && a.until < a.since) {
		ctl_usage_error("events", "--until is before --since");
		return CTL_EXIT_USAGE;
	}
	r = terms_resolve(ctl, "events", a.product, a.build, a.os, &terms);
	if (r == CTL_EXIT_OK)
		r = events_fetch(ctl, &a, &terms, &result);
	terms_release(&terms);
	if (r != CTL_EXIT_OK)
		return r;
	cmd_add_product_names(result);
	list = cJSON_GetObjectItemCaseSensitive(result, "events");
	if (ctl->format == CTL_FORMAT_JSON) {
		r = json_print(result);
	} else if (ctl->format == CTL_FORMAT_CSV) {
		csv_objects(stdout, events_csv_fields, list);
	} else {
		r = events_print_table(ctl, list);
	}
	if (ctl->format != CTL_FORMAT_JSON &&
	    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(result, "truncated")))
		events_say_truncated(&a, result, cJSON_GetArraySize(list));
	if (r == CTL_EXIT_OK && a.fail_if_any && cJSON_GetArraySize(list) > 0) {
		fflush(stdout);
		fprintf(stderr, "jetsamctl: %d kill event%s matched\n", cJSON_GetArraySize(list),
			cJSON_GetArraySize(list) == 1 ? "" : "s");
		r = CTL_EXIT_MATCHED;
	}
	cJSON_Delete(result);
	return r;
}
