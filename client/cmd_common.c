/* cmd_common.c: helpers shared by the jetsamctl commands (options, one-shot requests) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "conn.h"
#include "fleet.h"
#include "output.h"
#include "products.h"
#include "resolve.h"
#include "suggest.h"

int cmd_set_format(struct ctl *ctl, const char *cmd, enum ctl_format format)
{
	const char *opt = format == CTL_FORMAT_JSON ? "--json" : "--csv";

	if (ctl->format_opt != NULL && ctl->format != format) {
		ctl_usage_error(cmd, "%s and %s cannot be used together: choose one format",
				ctl->format_opt, opt);
		return CTL_EXIT_USAGE;
	}
	ctl->format = format;
	ctl->format_opt = opt;
	return 0;
}

int cmd_common_option(struct ctl *ctl, const char *cmd, int c)
{
	if (c == CMD_OPT_JSON)
		return cmd_set_format(ctl, cmd, CTL_FORMAT_JSON) == 0 ? 1 : -1;
	if (c == CMD_OPT_CSV)
		return cmd_set_format(ctl, cmd, CTL_FORMAT_CSV) == 0 ? 1 : -1;
	return 0;
}

void cmd_bad_option(const char *cmd, const struct option *longopts, char **argv, int c)
{
	const char *arg = optind > 0 ? argv[optind - 1] : NULL, *words[64], *best;
	char typed[128], shortopt[3] = {'-', (char)optopt, 0};
	size_t n = 0;

	/* getopt leaves optind after the bad word; a bad letter in "-xy" keeps it */
	if (arg == NULL || arg[0] != '-' || (optopt != 0 && arg[1] != '-'))
		arg = shortopt;
	snprintf(typed, sizeof(typed), "%s", arg);
	typed[strcspn(typed, "=")] = 0;
	if (c == ':') {
		ctl_usage_error(cmd, "option '%s' needs a value", typed);
		return;
	}
	if (optopt != 0 && typed[1] == '-') {
		ctl_usage_error(cmd, "option '%s' takes no value", typed);
		return;
	}
	for (; longopts != NULL && longopts->name != NULL && n < 64; longopts++)
		words[n++] = longopts->name;
	best = typed[1] == '-' ? suggest_word(typed + 2, words, n) : NULL;
	if (best != NULL)
		ctl_usage_error(cmd, "unknown option '%s'; did you mean '--%s'?", typed, best);
	else
		ctl_usage_error(cmd, "unknown option '%s'", typed);
}

int cmd_options(struct ctl *ctl, const struct cmd_opts *o, int argc, char **argv, cmd_option_cb cb,
		void *arg)
{
	char shortopts[64];
	int c, r;

	/* a leading ':' tells a missing value (':') from an unknown option ('?') */
	snprintf(shortopts, sizeof(shortopts), ":%s", o->shortopts);
	opterr = 0;
	while ((c = getopt_long(argc, argv, shortopts, o->longopts, NULL)) != -1) {
		if ((r = cmd_common_option(ctl, o->name, c)) != 0) {
			if (r < 0)
				return CTL_EXIT_USAGE;
			continue;
		}
		if (c == 'h') {
			fputs(o->help, stdout);
			return CTL_EXIT_OK;
		}
		if (c == '?' || c == ':' || cb == NULL) {
			cmd_bad_option(o->name, o->longopts, argv, c);
			return CTL_EXIT_USAGE;
		}
		if ((r = cb(arg, c, optarg)) != 0)
			return r;
	}
	if (o->max_operands >= 0 && argc - optind > o->max_operands) {
		ctl_usage_error(o->name, "unexpected argument '%s'",
				argv[optind + o->max_operands]);
		return CTL_EXIT_USAGE;
	}
	return CMD_RUN;
}

int cmd_option_role(const char *cmd, const char *value, const char **role)
{
	if (strcmp(value, "foreground") != 0 && strcmp(value, "daemon") != 0 &&
	    strcmp(value, "background") != 0) {
		ctl_usage_error(cmd, "--role must be foreground, daemon or background");
		return CTL_EXIT_USAGE;
	}
	*role = value;
	return 0;
}

int cmd_option_limit(const char *cmd, const char *value, long *limit)
{
	if (cmd_parse_count(value, 100000, limit) < 0 || *limit == 0) {
		ctl_usage_error(cmd, "--limit must be 1 to 100000");
		return CTL_EXIT_USAGE;
	}
	return 0;
}

static void out_of_memory(void)
{
	ctl_error("out of memory");
	exit(CTL_EXIT_ERROR);
}

cJSON *cmd_request_new(const char *cmd)
{
	cJSON *req = cJSON_CreateObject();

	if (req == NULL || cJSON_AddStringToObject(req, "cmd", cmd) == NULL)
		out_of_memory();
	return req;
}

void cmd_request_str(cJSON *req, const char *key, const char *value)
{
	if (value != NULL && cJSON_AddStringToObject(req, key, value) == NULL)
		out_of_memory();
}

void cmd_request_num(cJSON *req, const char *key, double value)
{
	if (cJSON_AddNumberToObject(req, key, value) == NULL)
		out_of_memory();
}

void cmd_request_bool(cJSON *req, const char *key, int value)
{
	if (cJSON_AddBoolToObject(req, key, value) == NULL)
		out_of_memory();
}

int cmd_call(struct ctl *ctl, const char *cmd, cJSON *req, cJSON **result)
{
	struct conn conn;
	int r;

	*result = NULL;
	if (ctl->fleet_conninfo != NULL)
		return fleet_call(ctl, cmd, req, result);
	r = conn_open(&conn, ctl->socket_path);
	if (r != CTL_EXIT_OK)
		return r;
	ctl->daemon_version = conn.version;
	r = conn_command(&conn, cmd, req, result);
	conn_release(&conn);
	return r;
}

/* Append the events of page (freed) to result's list */
static void events_append(cJSON *result, cJSON *page)
{
	cJSON *list = cJSON_GetObjectItemCaseSensitive(result, "events");
	cJSON *add = cJSON_DetachItemFromObjectCaseSensitive(page, "events");

	while (cJSON_IsArray(list) && add != NULL && add->child != NULL)
		cJSON_AddItemToArray(list, cJSON_DetachItemViaPointer(add, add->child));
	cJSON_Delete(add);
	cJSON_Delete(page);
}

/* Set result's "truncated" and, when truncated, "next" */
static void events_set_next(cJSON *result, int truncated, double next)
{
	cJSON_DeleteItemFromObjectCaseSensitive(result, "truncated");
	cJSON_DeleteItemFromObjectCaseSensitive(result, "next");
	if (cJSON_AddBoolToObject(result, "truncated", truncated) == NULL ||
	    (truncated && cJSON_AddNumberToObject(result, "next", next) == NULL))
		out_of_memory();
}

/*
 * Keep the first limit events of result (a page ends with the whole of its last report, so
 * pages may hold more): "next" is then the seq of the last report kept whole, or the one
 * before a report cut (continuing shows that report again rather than lose its other events)
 */
static void events_trim(cJSON *result, long limit)
{
	cJSON *list = cJSON_GetObjectItemCaseSensitive(result, "events");
	double last = 0, first_cut = 0;
	int n = cJSON_GetArraySize(list);

	if (limit <= 0 || n <= limit)
		return;
	jnum(cJSON_GetArrayItem(list, (int)limit - 1), "seq", &last);
	jnum(cJSON_GetArrayItem(list, (int)limit), "seq", &first_cut);
	while (cJSON_GetArraySize(list) > limit)
		cJSON_DeleteItemFromArray(list, (int)limit);
	events_set_next(result, 1, first_cut == last ? last - 1 : last);
}

int cmd_events_after(struct ctl *ctl, const char *cmd, cJSON *req, long limit, cJSON **result)
{
	double after = 0, next = 0;
	struct conn conn;
	int r, more = 1;

	*result = NULL;
	jnum(req, "after", &after);
	if (ctl->fleet_conninfo != NULL) { /* one query: the fleet answers all at once */
		cJSON_DeleteItemFromObjectCaseSensitive(req, "limit");
		cmd_request_num(req, "limit", limit > 0 ? (double)limit : 100000000.0);
		return fleet_call(ctl, cmd, req, result);
	}
	r = conn_open(&conn, ctl->socket_path);
	if (r != CTL_EXIT_OK)
		return r;
	ctl->daemon_version = conn.version;
	/* a version 1 daemon would ignore "after" and answer every event */
	if (conn.version < 2) {
		ctl_error(
			"%s failed: the daemon on '%s' speaks protocol %d: selecting by collection "
			"needs protocol 2 (a newer jetsamd)",
			cmd, ctl->socket_path, conn.version);
		conn_release(&conn);
		return CTL_EXIT_ERROR;
	}
	while (more && r == CTL_EXIT_OK) {
		int n = *result ? cJSON_GetArraySize(
					  cJSON_GetObjectItemCaseSensitive(*result, "events"))
				: 0;
		cJSON *page;

		cJSON_DeleteItemFromObjectCaseSensitive(req, "limit");
		if (limit > 0)
			cmd_request_num(req, "limit", (double)(limit - n));
		cJSON_DeleteItemFromObjectCaseSensitive(req, "after");
		cmd_request_num(req, "after", after);
		r = conn_command(&conn, cmd, req, &page);
		if (r != CTL_EXIT_OK)
			break;
		more = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(page, "truncated")) &&
		       jnum(page, "next", &next) == 0 && next > after;
		after = next;
		if (*result == NULL)
			*result = page;
		else
			events_append(*result, page);
		n = cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(*result, "events"));
		if (more && limit > 0 && n >= limit) {
			events_set_next(*result, 1, after);
			break;
		}
		if (!more)
			events_set_next(*result, 0, 0);
	}
	if (r == CTL_EXIT_OK)
		events_trim(*result, limit);
	conn_release(&conn);
	if (r != CTL_EXIT_OK) {
		cJSON_Delete(*result);
		*result = NULL;
	}
	return r;
}

void cmd_add_product_names(cJSON *v)
{
	cJSON *e;

	if (cJSON_IsObject(v)) {
		cJSON *product = cJSON_GetObjectItemCaseSensitive(v, "product");

		if (cJSON_IsString(product) &&
		    cJSON_GetObjectItemCaseSensitive(v, "product_name") == NULL) {
			const char *name = products_name(product->valuestring);
			cJSON *item = name ? cJSON_CreateString(name) : cJSON_CreateNull();

			if (item == NULL || !cJSON_AddItemToObject(v, "product_name", item))
				out_of_memory();
		} else if (cJSON_IsNull(product) &&
			   cJSON_GetObjectItemCaseSensitive(v, "product_name") == NULL) {
			if (cJSON_AddNullToObject(v, "product_name") == NULL)
				out_of_memory();
		}
	}
	if (cJSON_IsObject(v) || cJSON_IsArray(v)) {
		cJSON_ArrayForEach(e, v)
		{
			cmd_add_product_names(e);
		}
	}
}

int cmd_parse_count(const char *s, long max, long *out)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno != 0 || end == s || *end != 0 || v < 0 || v > max)
		return -1;
	*out = v;
	return 0;
}

void cmd_udids_release(struct cmd_udids *u)
{
	cJSON_Delete(u->result);
	free(u->udids);
	memset(u, 0, sizeof(*u));
}

void cmd_udids_add(struct cmd_udids *u, const cJSON *list)
{
	const cJSON *o;
	size_t n = u->n + (size_t)cJSON_GetArraySize(list);
	const char **udids = realloc(u->udids, (n ? n : 1) * sizeof(*udids));

	if (udids == NULL)
		out_of_memory();
	u->udids = udids;
	cJSON_ArrayForEach(o, list)
	{
		if (jstr(o, "udid") != NULL)
			u->udids[u->n++] = jstr(o, "udid");
	}
}

int cmd_udids_fetch(struct ctl *ctl, const char *cmd, struct cmd_udids *u)
{
	cJSON *req = cmd_request_new("devices");
	int r;

	memset(u, 0, sizeof(*u));
	r = cmd_call(ctl, cmd, req, &u->result);
	cJSON_Delete(req);
	if (r != CTL_EXIT_OK)
		return r;
	cmd_udids_add(u, cJSON_GetObjectItemCaseSensitive(u->result, "devices"));
	return CTL_EXIT_OK;
}

void cmd_udid_prefix(char *buf, size_t size, const char *udid, const struct cmd_udids *u)
{
	resolve_udid_prefix(buf, size, udid, u->udids, u->n, 8);
}

int cmd_resolve_udid(struct ctl *ctl, const char *cmd, const char *given, char *buf, size_t size)
{
	struct cmd_udids u;
	size_t found[8], n, i;
	char names[512] = "";
	int r = cmd_udids_fetch(ctl, cmd, &u);

	if (r != CTL_EXIT_OK)
		return r;
	n = resolve_udid(given, u.udids, u.n, found, 8);
	snprintf(buf, size, "%s", n == 1 ? u.udids[found[0]] : given);
	for (i = 0; n > 1 && i < n && i < 8; i++) {
		size_t len = strlen(names);

		snprintf(names + len, sizeof(names) - len, "%s%s", i ? ", " : "",
			 u.udids[found[i]]);
	}
	if (n > 1)
		ctl_usage_error(cmd, "UDID prefix '%s' is ambiguous: %s%s", given, names,
				n > 8 ? ", ..." : "");
	cmd_udids_release(&u);
	return n > 1 ? CTL_EXIT_USAGE : CTL_EXIT_OK;
}
