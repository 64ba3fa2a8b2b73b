/* cmd_limits.c: jetsamctl limits (table of observed limits, drift) and limit (one number) */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "conn.h"
#include "output.h"
#include "products.h"
#include "terms.h"

/* The options of limits and limit (limit adds --min) */
struct limits_args {
	const char *cmd; /* in messages */
	const char *product, *build, *os, *role, *stat;
	struct terms terms; /* product, build and os resolved */
};

static int limits_option_cb(void *arg, int c, const char *value)
{
	struct limits_args *a = arg;

	switch (c) {
	case 'p':
		a->product = value;
		break;
	case 'b':
		a->build = value;
		break;
	case 'o':
		a->os = value;
		break;
	case 'r':
		return cmd_option_role(a->cmd, value, &a->role);
	case 'm':
		a->stat = "min";
		break;
	}
	return 0;
}

/* Resolve a's product, build and OS, then the daemon's limits request for a's filters, without
 * the rows of other builds of an --os; the caller frees the result and releases a->terms. */
static int limits_call(struct ctl *ctl, struct limits_args *a, cJSON **result)
{
	cJSON *req, *list, *row, *next;
	int r = terms_resolve(ctl, a->cmd, a->product, a->build, a->os, &a->terms);

	*result = NULL;
	if (r != CTL_EXIT_OK)
		return r;
	req = cmd_request_new("limits");
	cmd_request_str(req, "product", a->terms.product);
	cmd_request_str(req, "build", a->terms.build);
	cmd_request_str(req, "role", a->role);
	r = cmd_call(ctl, a->cmd, req, result);
	cJSON_Delete(req);
	list = cJSON_GetObjectItemCaseSensitive(*result, "limits");
	for (row = list != NULL ? list->child : NULL; row != NULL; row = next) {
		next = row->next;
		if (!terms_build_ok(&a->terms, jstr(row, "build")))
			cJSON_Delete(cJSON_DetachItemViaPointer(list, row));
	}
	return r;
}

/* --- limits --- */

static const char *const limits_csv[] = {
	"product",
	"product_name",
	"os_version",
	"build",
	"role",
	"count",
	"phones",
	"min",
	"median",
	"max",
	"first_seen",
	"last_seen",
	"processes",
	"drift",
	"drift_previous_build",
	"drift_previous_median",
	"drift_change_pct",
	NULL,
};

static void limits_print_csv(const cJSON *list)
{
	const cJSON *l;

	csv_header(stdout, limits_csv);
	cJSON_ArrayForEach(l, list)
	{
		const cJSON *drift = cJSON_GetObjectItemCaseSensitive(l, "drift");
		const char *const *name;

		for (name = limits_csv; *name != NULL; name++) {
			int first = name == limits_csv;

			if (strcmp(*name, "drift") == 0)
				csv_field(stdout, first, cJSON_IsObject(drift) ? "true" : "false");
			else if (strncmp(*name, "drift_", 6) == 0)
				csv_json(stdout, first,
					 cJSON_GetObjectItemCaseSensitive(drift, *name + 6));
			else
				csv_json(stdout, first, cJSON_GetObjectItemCaseSensitive(l, *name));
		}
		csv_end(stdout);
	}
}

static int limits_print_table(const struct ctl *ctl, const cJSON *list)
{
	static const struct table_column cols[] = {
		{"PRODUCT", TABLE_LEFT, 12, 0},	   {"OS", TABLE_LEFT, 0, 0},
		{"ROLE", TABLE_LEFT, 0, 0},	   {"OBS", TABLE_RIGHT, 0, 3},
		{"PHONES", TABLE_RIGHT, 0, 2},	   {"MIN MiB", TABLE_RIGHT, 0, 5},
		{"MEDIAN MiB", TABLE_RIGHT, 0, 0}, {"MAX MiB", TABLE_RIGHT, 0, 6},
		{"LAST SEEN", TABLE_LEFT, 0, 4},   {"DRIFT", TABLE_LEFT, 0, 0},
	};
	struct table *t = table_new(cols, sizeof(cols) / sizeof(cols[0]));
	time_t now = time(NULL);
	const cJSON *l;

	if (t == NULL)
		return CTL_EXIT_ERROR;
	cJSON_ArrayForEach(l, list)
	{
		char product[128], os[64], count[32], phones[32], min[32], med[32], max[32];
		char seen[64], drift[64] = "";
		const cJSON *d = cJSON_GetObjectItemCaseSensitive(l, "drift");
		double pct;

		products_label(product, sizeof(product), jstr(l, "product"));
		fmt_os(os, sizeof(os), jstr(l, "os_version"), jstr(l, "build"));
		fmt_jnum(count, sizeof(count), l, "count");
		fmt_jnum(phones, sizeof(phones), l, "phones");
		fmt_jmib(min, sizeof(min), l, "min");
		fmt_jmib(med, sizeof(med), l, "median");
		fmt_jmib(max, sizeof(max), l, "max");
		fmt_reltime_str(seen, sizeof(seen), jstr(l, "last_seen"), now);
		if (cJSON_IsObject(d)) {
			if (jnum(d, "change_pct", &pct) == 0)
				snprintf(drift, sizeof(drift), "! %+.1f%%", pct);
			else
				snprintf(drift, sizeof(drift), "!");
		}
		if (table_add_alt(t, product, jstr(l, "product"), NULL) < 0 ||
		    table_add(t, os, NULL) < 0 || table_add(t, jstr(l, "role"), NULL) < 0 ||
		    table_add(t, count, NULL) < 0 || table_add(t, phones, NULL) < 0 ||
		    table_add(t, min, NULL) < 0 ||
		    table_add(t, med, cJSON_IsObject(d) ? "1" : NULL) < 0 ||
		    table_add(t, max, NULL) < 0 || table_add(t, seen, NULL) < 0 ||
		    table_add(t, drift, "1;31") < 0) {
			table_free(t);
			ctl_error("out of memory");
			return CTL_EXIT_ERROR;
		}
	}
	return table_finish(t, ctl, "no limit observed yet");
}

int limits_main(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{"product", required_argument, NULL, 'p'},
		{"build", required_argument, NULL, 'b'},
		{"os", required_argument, NULL, 'o'},
		{"role", required_argument, NULL, 'r'},
		CMD_COMMON_OPTIONS,
	};
	static const struct cmd_opts o = {
		.name = "limits",
		.shortopts = "hp:b:o:r:",
		.longopts = opts,
		.help = "usage: jetsamctl limits [--product P] [--build B | --os V] [--role ROLE]\n"
			"Observed per-process limits, one row per product, build and role;\n"
			"DRIFT marks a foreground median more than 5 % off the previous "
			"build's.\n",
		.max_operands = 0,
	};
	struct limits_args a = {.cmd = "limits"};
	cJSON *result;
	const cJSON *list;
	int r;

	r = cmd_options(ctl, &o, argc, argv, limits_option_cb, &a);
	if (r != CMD_RUN)
		return r;
	r = limits_call(ctl, &a, &result);
	terms_release(&a.terms);
	if (r != CTL_EXIT_OK)
		return r;
	cmd_add_product_names(result);
	list = cJSON_GetObjectItemCaseSensitive(result, "limits");
	if (ctl->format == CTL_FORMAT_JSON)
		r = json_print(result);
	else if (ctl->format == CTL_FORMAT_CSV)
		limits_print_csv(list);
	else
		r = limits_print_table(ctl, list);
	cJSON_Delete(result);
	return r;
}

/* --- limit --- */

/*
 * The row limit answers: with a build, the (last) row of that build; without, the newest
 * build's row (the daemon sorts by product, OS version, build, role).
 */
static const cJSON *limit_pick(const cJSON *list, const struct terms *t, const char *role)
{
	const cJSON *l, *found = NULL;

	cJSON_ArrayForEach(l, list)
	{
		const char *p = jstr(l, "product"), *b = jstr(l, "build"), *ro = jstr(l, "role");

		if (p == NULL || strcmp(p, t->product) != 0 || ro == NULL || strcmp(ro, role) != 0)
			continue;
		if (t->os == NULL && t->build != NULL && (b == NULL || strcmp(b, t->build) != 0))
			continue;
		if (!terms_build_ok(t, b))
			continue;
		found = l;
	}
	return found;
}

/*
 * Ask a protocol 2 daemon's limit command for a's limit (a->terms resolved): CTL_EXIT_OK with
 * *row set to a limits-like row ("os_version", "build", "count", "phones", a->stat: the limit or
 * missing when unknown), CTL_EXIT_ERROR after a message, or CMD_RUN when the daemon has no
 * limit command (compute it from the limits list).
 */
static int limit_daemon(struct ctl *ctl, const struct limits_args *a, cJSON **row)
{
	cJSON *req = cmd_request_new("limit"), *res;
	const cJSON *limit;
	struct conn conn;
	int r;

	*row = NULL;
	if (ctl->fleet_conninfo != NULL) { /* the fleet has the limits list only */
		cJSON_Delete(req);
		return CMD_RUN;
	}
	cmd_request_str(req, "product", a->terms.product);
	if (a->terms.os != NULL)
		cmd_request_str(req, "os_version", a->terms.os);
	else
		cmd_request_str(req, "build", a->terms.build);
	cmd_request_str(req, "role", a->role);
	cmd_request_str(req, "stat", a->stat);
	r = conn_open(&conn, ctl->socket_path);
	if (r == CTL_EXIT_OK && conn.version < 2)
		r = CMD_RUN;
	if (r == CTL_EXIT_OK) {
		r = conn_call(&conn, req, &res);
		if (r == CONN_E_DAEMON && strcmp(conn.err_code, PROTO_E_UNKNOWN_COMMAND) == 0) {
			r = CMD_RUN;
		} else if (r != 0) {
			if (r == CONN_E_DAEMON)
				ctl_error("limit failed: %s (%s)", conn.err_message, conn.err_code);
			else
				ctl_error("limit failed: %s", conn_strerror(r));
			r = CTL_EXIT_ERROR;
		} else {
			/* the row limit_pick would give, with the limit under the statistic */
			limit = cJSON_GetObjectItemCaseSensitive(res, "limit");
			if (cJSON_IsNumber(limit))
				cJSON_AddNumberToObject(res, a->stat, limit->valuedouble);
			*row = res;
		}
	}
	conn_release(&conn);
	cJSON_Delete(req);
	return r;
}

/* The reshaped document of limit --json and --csv: the row's facts, or those asked for. */
static cJSON *limit_document(const struct limits_args *a, const cJSON *row, int known, double bytes)
{
	cJSON *out = cJSON_CreateObject();

	if (out == NULL)
		return NULL;
	cJSON_AddStringToObject(out, "product", a->terms.product);
	cJSON_AddItemToObject(out, "os_version",
			      row && jstr(row, "os_version")
				      ? cJSON_CreateString(jstr(row, "os_version"))
				      : cJSON_CreateNull());
	cJSON_AddItemToObject(out, "build",
			      row && jstr(row, "build") ? cJSON_CreateString(jstr(row, "build"))
			      : a->terms.build		? cJSON_CreateString(a->terms.build)
							: cJSON_CreateNull());
	cJSON_AddStringToObject(out, "role", a->role);
	cJSON_AddStringToObject(out, "statistic", a->stat);
	cJSON_AddItemToObject(out, "limit_bytes",
			      known ? cJSON_CreateNumber(bytes) : cJSON_CreateNull());
	cJSON_AddItemToObject(
		out, "count",
		row ? cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(row, "count"), 1)
		    : cJSON_CreateNumber(0));
	cJSON_AddItemToObject(
		out, "phones",
		!row ? cJSON_CreateNumber(0)
		: cJSON_GetObjectItemCaseSensitive(row, "phones")
			? cJSON_Duplicate(cJSON_GetObjectItemCaseSensitive(row, "phones"), 1)
			: cJSON_CreateNull());
	cmd_add_product_names(out);
	return out;
}

/* Print the limit in ctl->format; CTL_EXIT_UNKNOWN (with a message) when none is known. */
static int limit_print(const struct ctl *ctl, const struct limits_args *a, const cJSON *out,
		       int known, double bytes)
{
	static const char *const csv[] = {
		"product",   "product_name", "os_version", "build",  "role",
		"statistic", "limit_bytes",  "count",	   "phones", NULL};
	int r = CTL_EXIT_OK;

	if (ctl->format == CTL_FORMAT_JSON) {
		r = json_print(out);
	} else if (ctl->format == CTL_FORMAT_CSV) {
		csv_header(stdout, csv);
		if (known) {
			const char *const *name;

			for (name = csv; *name != NULL; name++)
				csv_json(stdout, name == csv,
					 cJSON_GetObjectItemCaseSensitive(out, *name));
			csv_end(stdout);
		}
	} else if (known) {
		printf("%.0f\n", bytes);
	}
	if (r == CTL_EXIT_OK && !known) {
		const char *what = a->terms.os ? " OS '" : a->terms.build ? " build '" : "";
		const char *which = a->terms.os ? a->terms.os : a->terms.build;

		ctl_error("no %s limit known for '%s'%s%s%s", a->role, a->terms.product, what,
			  which ? which : "", which ? "'" : "");
		r = CTL_EXIT_UNKNOWN;
	}
	return r;
}

int limit_main(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{"product", required_argument, NULL, 'p'}, {"build", required_argument, NULL, 'b'},
		{"os", required_argument, NULL, 'o'},	   {"role", required_argument, NULL, 'r'},
		{"min", no_argument, NULL, 'm'},	   CMD_COMMON_OPTIONS,
	};
	static const struct cmd_opts o = {
		.name = "limit",
		.shortopts = "hp:b:o:r:m",
		.longopts = opts,
		.help = "usage: jetsamctl limit --product P [--build B | --os V] [--role ROLE] "
			"[--min]\n"
			"Print the observed limit in bytes (the median, or with --min the "
			"smallest);\nwithout --build, of the newest build known (of OS V). P "
			"may be a marketing\nname (\"iPhone 12\"). Exit 4 when nothing is "
			"known.\n",
		.max_operands = 0,
	};
	struct limits_args a = {.cmd = "limit", .role = "foreground", .stat = "median"};
	cJSON *result = NULL, *out, *own = NULL;
	const cJSON *row;
	double bytes = 0;
	int r, known;

	r = cmd_options(ctl, &o, argc, argv, limits_option_cb, &a);
	if (r != CMD_RUN)
		return r;
	if (a.product == NULL) {
		ctl_usage_error("limit", "--product is required");
		return CTL_EXIT_USAGE;
	}
	r = terms_resolve(ctl, a.cmd, a.product, a.build, a.os, &a.terms);
	/* a protocol 2 daemon computes the limit itself; a version 1 one gives its list */
	if (r == CTL_EXIT_OK)
		r = limit_daemon(ctl, &a, &own);
	if (r == CMD_RUN) {
		terms_release(&a.terms);
		r = limits_call(ctl, &a, &result);
	}
	if (r != CTL_EXIT_OK) {
		terms_release(&a.terms);
		return r;
	}
	row = own != NULL ? own
			  : limit_pick(cJSON_GetObjectItemCaseSensitive(result, "limits"), &a.terms,
				       a.role);
	known = row != NULL && jnum(row, a.stat, &bytes) == 0;
	out = limit_document(&a, row, known, bytes);
	if (out == NULL) {
		cJSON_Delete(result);
		terms_release(&a.terms);
		ctl_error("out of memory");
		return CTL_EXIT_ERROR;
	}
	r = limit_print(ctl, &a, out, known, bytes);
	cJSON_Delete(out);
	cJSON_Delete(own);
	cJSON_Delete(result);
	terms_release(&a.terms);
	return r;
}
