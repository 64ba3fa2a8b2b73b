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
 * Set the output format (from --json or --csv): 0, or CTL_EXIT_USAGE after a usage error of
 * cmd when the other format was given before (the formats exclude each other).
 */
int cmd_set_format(struct ctl *ctl, const char *cmd, enum ctl_format format);

/*
 * Handle --json/--csv given after the command. Returns 1 when c was one of them, 0 when it
 * was not, -1 after a usage error (both formats given).
 */
int cmd_common_option(struct ctl *ctl, const char *cmd, int c);

/*
 * Print the one-line usage error of getopt's result c ('?' unknown option or value given to a
 * flag, ':' missing value) for argv, with "did you mean" from longopts when one is close.
 * getopt must have run with opterr = 0 and shortopts starting with ':'.
 */
void cmd_bad_option(const char *cmd, const struct option *longopts, char **argv, int c);

/* How a command reads its argv: getopt's short options and long table (ending in
 * CMD_COMMON_OPTIONS), the --help text, and how many operands it takes (-1: any number). */
struct cmd_opts {
	const char *name; /* in messages: "jetsamctl NAME: ..." */
	const char *shortopts;
	const struct option *longopts;
	const char *help;
	int max_operands;
};

/* A command's own option c with its value (NULL for a flag): 0, or CTL_EXIT_USAGE after
 * printing a usage error. */
typedef int (*cmd_option_cb)(void *arg, int c, const char *value);

#define CMD_RUN (-1)

/*
 * Read the options of argv: --json/--csv set ctl->format, --help prints o->help (returns
 * CTL_EXIT_OK), other options go to cb (may be NULL when there are none). An unknown option or
 * more than max_operands operands is a usage error (CTL_EXIT_USAGE). Returns CMD_RUN when the
 * command should go on; its operands are then argv[optind..argc).
 */
int cmd_options(struct ctl *ctl, const struct cmd_opts *o, int argc, char **argv, cmd_option_cb cb,
		void *arg);

/* --role VALUE: foreground, daemon or background. 0 with *role set, or CTL_EXIT_USAGE. */
int cmd_option_role(const char *cmd, const char *value, const char **role);

/* --limit N: 1 to 100000. 0 with *limit set, or CTL_EXIT_USAGE. */
int cmd_option_limit(const char *cmd, const char *value, long *limit);

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

/*
 * The events request req (filters and "after": a collection cursor) paged forward through the
 * daemon's "next" until complete, or until limit events (limit <= 0: no limit); *result is the
 * first reply with every page's events appended, "truncated" and "next" as for one reply.
 * Returns a CTL_EXIT_* code like cmd_call; req is modified ("after", "limit").
 */
int cmd_events_after(struct ctl *ctl, const char *cmd, cJSON *req, long limit, cJSON **result);

/* Add "product_name" (marketing name or null) to every object in v that has "product" */
void cmd_add_product_names(cJSON *v);

/* The UDIDs the daemon knows (its devices list) */
struct cmd_udids {
	cJSON *result;	    /* the devices result the strings point into */
	const char **udids; /* n UDIDs */
	size_t n;
};

/* Ask the daemon for its devices: a CTL_EXIT_* code (u is empty unless CTL_EXIT_OK) */
int cmd_udids_fetch(struct ctl *ctl, const char *cmd, struct cmd_udids *u);
void cmd_udids_release(struct cmd_udids *u);

/* Add the "udid" strings of the objects of list to u (UDIDs the daemon's list may miss) */
void cmd_udids_add(struct cmd_udids *u, const cJSON *list);

/* The shortest prefix (8 characters at least) that names udid alone among u */
void cmd_udid_prefix(char *buf, size_t size, const char *udid, const struct cmd_udids *u);

/*
 * Resolve a UDID or unique UDID prefix (case-insensitive) given to cmd with the daemon's
 * devices list; buf gets the UDID (or the given text when no phone matches: the daemon then
 * says not_found or finds nothing). Returns CTL_EXIT_OK, CTL_EXIT_USAGE after an error naming
 * the candidates of an ambiguous prefix, or CTL_EXIT_ERROR (daemon unreachable).
 */
int cmd_resolve_udid(struct ctl *ctl, const char *cmd, const char *given, char *buf, size_t size);

/* Parse a non-negative integer option value; returns 0 or -1 */
int cmd_parse_count(const char *s, long max, long *out);

#endif
