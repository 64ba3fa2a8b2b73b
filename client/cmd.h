/* cmd.h: helpers shared by the jetsamctl commands (options, one-shot requests) */
#ifndef JETSAMCTL_CMD_H
#define JETSAMCTL_CMD_H

#include <getopt.h>

#include <cjson/cJSON.h>

#include "ctl.h"

/* Long options every command accepts (after its own), and their short codes */
#define CMD_OPT_JSON 0x100
#define CMD_OPT_CSV  0x101
#define CMD_COMMON_OPTIONS                                                                         \
	{"json", no_argument, NULL, CMD_OPT_JSON}, {"csv", no_argument, NULL, CMD_OPT_CSV},        \
		{"help", no_argument, NULL, 'h'},                                                  \
	{                                                                                          \
		NULL, 0, NULL, 0                                                                   \
	}

/*
 * Handle --json/--csv given after the command. Returns 1 when c was one of them, else 0.
 */
int cmd_common_option(struct ctl *ctl, int c);

/* A new request object {"cmd": cmd}; exits with a message when out of memory */
cJSON *cmd_request_new(const char *cmd);

/* Add a string (NULL: nothing) or a number member to a request; exit when out of memory */
void cmd_request_str(cJSON *req, const char *key, const char *value);
void cmd_request_num(cJSON *req, const char *key, double value);
void cmd_request_bool(cJSON *req, const char *key, int value);

/*
 * Connect, hello, send req, read the result; then close. Prints failures. Returns a
 * CTL_EXIT_* code, CTL_EXIT_OK with *result set (caller frees). req stays the caller's.
 */
int cmd_call(struct ctl *ctl, const char *cmd, cJSON *req, cJSON **result);

/* Add "product_name" (marketing name or null) to every object in v that has "product" */
void cmd_add_product_names(cJSON *v);

/* Parse a non-negative integer option value; returns 0 or -1 */
int cmd_parse_count(const char *s, long max, long *out);

#endif
