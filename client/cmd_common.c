/* cmd_common.c: helpers shared by the jetsamctl commands (options, one-shot requests) */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "conn.h"
#include "products.h"

int cmd_common_option(struct ctl *ctl, int c)
{
	if (c == CMD_OPT_JSON) {
		ctl->format = CTL_FORMAT_JSON;
		return 1;
	}
	if (c == CMD_OPT_CSV) {
		ctl->format = CTL_FORMAT_CSV;
		return 1;
	}
	return 0;
}

int cmd_options(struct ctl *ctl, const struct cmd_opts *o, int argc, char **argv, cmd_option_cb cb,
		void *arg)
{
	int c, r;

	while ((c = getopt_long(argc, argv, o->shortopts, o->longopts, NULL)) != -1) {
		if (cmd_common_option(ctl, c))
			continue;
		if (c == 'h') {
			fputs(o->help, stdout);
			return CTL_EXIT_OK;
		}
		if (c == '?' || c == ':' || cb == NULL) {
			ctl_usage_error(o->name, "unknown option");
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
	r = conn_open(&conn, ctl->socket_path);
	if (r != CTL_EXIT_OK)
		return r;
	r = conn_command(&conn, cmd, req, result);
	conn_release(&conn);
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
