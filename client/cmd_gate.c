/* cmd_gate.c: jetsamctl cursor, gate begin and gate end: a CI gate on collected kills */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "gate_report.h"
#include "output.h"
#include "products.h"

/* Default --settle of gate end, in seconds: time for reports the phones write late */
#define GATE_SETTLE_DEFAULT 5.0
#define GATE_MAX_UDIDS	    64

static void oom(void)
{
	ctl_error("out of memory");
	exit(CTL_EXIT_ERROR);
}

/* The daemon's collection cursor into *cursor: a CTL_EXIT_* code */
static int gate_cursor(struct ctl *ctl, const char *cmd, double *cursor, cJSON **result)
{
	cJSON *req = cmd_request_new("cursor"), *res;
	int r = cmd_call(ctl, cmd, req, &res);

	cJSON_Delete(req);
	if (r != CTL_EXIT_OK)
		return r;
	if (jnum(res, "cursor", cursor) < 0 || *cursor < 0) {
		ctl_error("%s failed: the daemon's reply has no cursor", cmd);
		cJSON_Delete(res);
		return CTL_EXIT_ERROR;
	}
	if (result != NULL)
		*result = res;
	else
		cJSON_Delete(res);
	return CTL_EXIT_OK;
}

int cursor_main(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {CMD_COMMON_OPTIONS};
	static const struct cmd_opts o = {
		.name = "cursor",
		.shortopts = "h",
		.longopts = opts,
		.help = "usage: jetsamctl cursor\n"
			"Print the collection cursor: the sequence number of the last report "
			"collected\n(0: none yet). `events --after CURSOR` lists what is "
			"collected after it.\n",
		.max_operands = 0,
	};
	cJSON *result;
	double cursor;
	int r = cmd_options(ctl, &o, argc, argv, NULL, NULL);

	if (r != CMD_RUN)
		return r;
	r = gate_cursor(ctl, "cursor", &cursor, &result);
	if (r != CTL_EXIT_OK)
		return r;
	if (ctl->format == CTL_FORMAT_JSON)
		r = json_print(result);
	else if (ctl->format == CTL_FORMAT_CSV)
		printf("cursor\n%.0f\n", cursor);
	else
		printf("%.0f\n", cursor);
	cJSON_Delete(result);
	return r;
}

/* --- the token --- */

#define GATE_TOKEN_PREFIX "jg1."

/* Parse "jg1.CURSOR.BEGIN": 0, or -EINVAL */
static int gate_token_parse(const char *token, long long *cursor, long long *begin)
{
	char *end;

	if (strncmp(token, GATE_TOKEN_PREFIX, strlen(GATE_TOKEN_PREFIX)) != 0)
		return -EINVAL;
	token += strlen(GATE_TOKEN_PREFIX);
	if (*token < '0' || *token > '9')
		return -EINVAL;
	errno = 0;
	*cursor = strtoll(token, &end, 10);
	if (errno != 0 || *end != '.' || end[1] < '0' || end[1] > '9')
		return -EINVAL;
	*begin = strtoll(end + 1, &end, 10);
	return errno != 0 || *end != 0 ? -EINVAL : 0;
}

static int gate_begin(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {CMD_COMMON_OPTIONS};
	static const struct cmd_opts o = {
		.name = "gate begin",
		.shortopts = "h",
		.longopts = opts,
		.help = "usage: jetsamctl gate begin\n"
			"Print a token marking what jetsamd has collected so far; pass it to "
			"`jetsamctl\ngate end TOKEN --process APP` after the tests.\n",
		.max_operands = 0,
	};
	char token[96];
	time_t now = time(NULL);
	double cursor;
	int r = cmd_options(ctl, &o, argc, argv, NULL, NULL);

	if (r != CMD_RUN)
		return r;
	r = gate_cursor(ctl, "gate begin", &cursor, NULL);
	if (r != CTL_EXIT_OK)
		return r;
	snprintf(token, sizeof(token), GATE_TOKEN_PREFIX "%.0f.%lld", cursor, (long long)now);
	if (ctl->format == CTL_FORMAT_JSON)
		printf("{\"token\":\"%s\",\"cursor\":%.0f,\"begin\":%lld}\n", token, cursor,
		       (long long)now);
	else if (ctl->format == CTL_FORMAT_CSV)
		printf("token,cursor,begin\n%s,%.0f,%lld\n", token, cursor, (long long)now);
	else
		printf("%s\n", token);
	return fflush(stdout) == 0 ? CTL_EXIT_OK : CTL_EXIT_ERROR;
}

/* --- gate end --- */

struct gate_args {
	const char *process, *junit, *tap;
	const char *udids[GATE_MAX_UDIDS];
	size_t nudids;
	double settle;
	long long cursor, begin;
	char resolved[GATE_MAX_UDIDS][256];
};

static int gate_option_cb(void *arg, int c, const char *value)
{
	struct gate_args *a = arg;
	char *end;

	switch (c) {
	case 'P':
		a->process = value;
		break;
	case 'u':
		if (a->nudids == GATE_MAX_UDIDS) {
			ctl_usage_error("gate end", "at most %d --udid", GATE_MAX_UDIDS);
			return CTL_EXIT_USAGE;
		}
		a->udids[a->nudids++] = value;
		break;
	case 's':
		a->settle = strtod(value, &end);
		if (end == value || *end != 0 || !(a->settle >= 0 && a->settle <= 3600)) {
			ctl_usage_error("gate end", "--settle must be 0 to 3600 seconds");
			return CTL_EXIT_USAGE;
		}
		break;
	case 'J':
		a->junit = value;
		break;
	case 'T':
		a->tap = value;
		break;
	}
	return 0;
}

/* The device object of udid in the devices result, or NULL */
static const cJSON *gate_device(const cJSON *devices, const char *udid)
{
	const cJSON *d;

	cJSON_ArrayForEach(d, cJSON_GetObjectItemCaseSensitive(devices, "devices"))
	{
		if (udid != NULL && jstr(d, "udid") != NULL && strcmp(jstr(d, "udid"), udid) == 0)
			return d;
	}
	return NULL;
}

/* Add the phone udid (its facts from devices, error when its sync failed) to phones, once */
static void gate_add_phone(cJSON *phones, const cJSON *devices, const char *udid, const char *error)
{
	static const char *const keys[] = {"name", "product", "product_name", "os_version",
					   "build"};
	const cJSON *d = gate_device(devices, udid), *p;
	cJSON *o;
	size_t i;

	cJSON_ArrayForEach(p, phones)
	{
		if (strcmp(jstr_or(p, "udid", ""), udid) == 0)
			return;
	}
	o = cJSON_CreateObject();
	if (o == NULL || cJSON_AddStringToObject(o, "udid", udid) == NULL)
		oom();
	for (i = 0; i < sizeof(keys) / sizeof(keys[0]); i++) {
		const cJSON *v = cJSON_GetObjectItemCaseSensitive(d, keys[i]);

		if (v != NULL && !cJSON_AddItemToObject(o, keys[i], cJSON_Duplicate(v, 1)))
			oom();
	}
	if (error != NULL && cJSON_AddStringToObject(o, "error", error) == NULL)
		oom();
	cJSON_AddItemToArray(phones, o);
}

/* Sync the named phones (all attached when none), waiting; their results go to phones */
static int gate_sync(struct ctl *ctl, const struct gate_args *a, const cJSON *devices,
		     cJSON *phones)
{
	size_t i, n = a->nudids ? a->nudids : 1;
	int r = CTL_EXIT_OK;

	for (i = 0; i < n && r == CTL_EXIT_OK; i++) {
		cJSON *req = cmd_request_new("sync"), *res;
		const cJSON *e;

		cmd_request_str(req, "udid", a->nudids ? a->resolved[i] : NULL);
		cmd_request_bool(req, "wait", 1);
		r = cmd_call(ctl, "gate end", req, &res);
		cJSON_Delete(req);
		if (r != CTL_EXIT_OK)
			break;
		cJSON_ArrayForEach(e, cJSON_GetObjectItemCaseSensitive(res, "synced"))
		{
			if (jstr(e, "udid") != NULL)
				gate_add_phone(phones, devices, jstr(e, "udid"), jstr(e, "error"));
		}
		cJSON_Delete(res);
	}
	return r;
}

/* Wait seconds for late reports (live detection delivers them), checking that the daemon
 * stays reachable */
static int gate_settle(struct ctl *ctl, double seconds)
{
	struct timespec start, now;
	double cursor;

	clock_gettime(CLOCK_MONOTONIC, &start);
	for (;;) {
		double left;
		struct timespec step = {0, 250000000L};

		clock_gettime(CLOCK_MONOTONIC, &now);
		left = seconds - ((double)(now.tv_sec - start.tv_sec) +
				  (double)(now.tv_nsec - start.tv_nsec) / 1e9);
		if (left <= 0)
			break;
		if (left < 0.25)
			step.tv_nsec = (long)(left * 1e9);
		nanosleep(&step, NULL);
	}
	return seconds > 0 ? gate_cursor(ctl, "gate end", &cursor, NULL) : CTL_EXIT_OK;
}

/* The kills of a->process collected after a->cursor (on the named phones) */
static int gate_kills(struct ctl *ctl, const struct gate_args *a, cJSON **kills)
{
	cJSON *req = cmd_request_new("events"), *res, *e, *next;
	int r;

	cmd_request_str(req, "process", a->process);
	cmd_request_num(req, "after", (double)a->cursor);
	r = cmd_events_after(ctl, "gate end", req, 0, &res);
	cJSON_Delete(req);
	if (r != CTL_EXIT_OK)
		return r;
	*kills = cJSON_DetachItemFromObjectCaseSensitive(res, "events");
	cJSON_Delete(res);
	if (!cJSON_IsArray(*kills)) {
		cJSON_Delete(*kills);
		*kills = cJSON_CreateArray();
		if (*kills == NULL)
			oom();
	}
	for (e = (*kills)->child; e != NULL && a->nudids > 0; e = next) {
		size_t i;
		int named = 0;

		next = e->next;
		for (i = 0; i < a->nudids; i++)
			named |= strcmp(jstr_or(e, "udid", ""), a->resolved[i]) == 0;
		if (!named)
			cJSON_Delete(cJSON_DetachItemViaPointer(*kills, e));
	}
	cmd_add_product_names(*kills);
	return CTL_EXIT_OK;
}

/* Write the report of g to path with writer: a CTL_EXIT_* code */
static int gate_write(const char *path, const struct gate_result *g,
		      int (*writer)(FILE *, const struct gate_result *))
{
	FILE *f = fopen(path, "w");
	int r;

	if (f == NULL) {
		ctl_error("gate end: cannot write '%s': %s", path, strerror(errno));
		return CTL_EXIT_ERROR;
	}
	r = writer(f, g);
	if (fclose(f) != 0 || r < 0) {
		ctl_error("gate end: cannot write '%s': %s", path, strerror(errno));
		return CTL_EXIT_ERROR;
	}
	return CTL_EXIT_OK;
}

/* The short human summary: the phones synced, then one line per kill */
static void gate_print_summary(const struct gate_args *a, const struct gate_result *g)
{
	int tests, failures, errors;
	const cJSON *k, *p;

	gate_report_counts(g, &tests, &failures, &errors);
	printf("gate: %d phone%s synced, %d kill%s of %s collected since the gate began\n", tests,
	       tests == 1 ? "" : "s", cJSON_GetArraySize(g->kills),
	       cJSON_GetArraySize(g->kills) == 1 ? "" : "s", a->process);
	cJSON_ArrayForEach(p, g->phones)
	{
		if (jstr(p, "error") != NULL)
			printf("SYNC FAILED %s: %s\n", jstr(p, "udid"), jstr(p, "error"));
	}
	cJSON_ArrayForEach(k, g->kills)
	{
		char footprint[32], limit[32], product[128];
		const cJSON *d = NULL;

		cJSON_ArrayForEach(p, g->phones)
		{
			if (strcmp(jstr_or(p, "udid", ""), jstr_or(k, "udid", "-")) == 0)
				d = p;
		}
		fmt_jmib(footprint, sizeof(footprint), k, "footprint_bytes");
		fmt_jmib(limit, sizeof(limit), k, "limit_bytes");
		products_label(product, sizeof(product), jstr(k, "product"));
		printf("KILLED %s (%s): %s, build %s: %s (%s), footprint %s MiB, limit %s MiB, "
		       "killed at %s\n",
		       jstr_or(d, "name", "-"), jstr_or(k, "udid", "-"), product,
		       jstr_or(k, "build", "-"), jstr_or(k, "process", "-"),
		       jstr_or(k, "reason", "-"), footprint, limit, jstr_or(k, "time", "-"));
	}
}

/* Print the result in ctl->format and write the --junit and --tap files */
static int gate_output(const struct ctl *ctl, const struct gate_args *a,
		       const struct gate_result *g)
{
	int r = CTL_EXIT_OK;

	if (a->junit != NULL)
		r = gate_write(a->junit, g, gate_junit_write);
	if (r == CTL_EXIT_OK && a->tap != NULL)
		r = gate_write(a->tap, g, gate_tap_write);
	if (ctl->format == CTL_FORMAT_JSON) {
		cJSON *out = cJSON_CreateObject();

		if (out == NULL || cJSON_AddStringToObject(out, "process", a->process) == NULL ||
		    cJSON_AddNumberToObject(out, "cursor", (double)a->cursor) == NULL ||
		    cJSON_AddNumberToObject(out, "begin", (double)a->begin) == NULL ||
		    !cJSON_AddItemReferenceToObject(out, "phones", (cJSON *)g->phones) ||
		    !cJSON_AddItemReferenceToObject(out, "kills", (cJSON *)g->kills))
			oom();
		if (json_print(out) != CTL_EXIT_OK)
			r = CTL_EXIT_ERROR;
		cJSON_Delete(out);
	} else if (ctl->format == CTL_FORMAT_CSV) {
		static const char *const fields[] = {
			"udid",	       "product", "product_name", "os_version",
			"build",       "process", "reason",	  "footprint_bytes",
			"limit_bytes", "time",	  "collected_at", "seq",
			NULL};

		csv_objects(stdout, fields, g->kills);
	} else {
		gate_print_summary(a, g);
	}
	return r;
}

/* Resolve the --udid values (UDIDs or unique prefixes) into a->resolved */
static int gate_resolve(struct ctl *ctl, struct gate_args *a)
{
	size_t i;
	int r = CTL_EXIT_OK;

	for (i = 0; i < a->nudids && r == CTL_EXIT_OK; i++)
		r = cmd_resolve_udid(ctl, "gate end", a->udids[i], a->resolved[i],
				     sizeof(a->resolved[i]));
	return r;
}

/* Run the gate: sync, settle, kills, reports; a CTL_EXIT_* code */
static int gate_run(struct ctl *ctl, struct gate_args *a)
{
	cJSON *devices = NULL, *phones = cJSON_CreateArray(), *kills = NULL, *req;
	struct gate_result g = {.app = a->process};
	const cJSON *k, *p;
	int r, failed = 0;

	if (phones == NULL)
		oom();
	req = cmd_request_new("devices");
	r = cmd_call(ctl, "gate end", req, &devices);
	cJSON_Delete(req);
	if (r == CTL_EXIT_OK)
		r = gate_sync(ctl, a, devices, phones);
	if (r == CTL_EXIT_OK)
		r = gate_settle(ctl, a->settle);
	if (r == CTL_EXIT_OK)
		r = gate_kills(ctl, a, &kills);
	if (r == CTL_EXIT_OK) {
		/* a kill on a phone not synced now (detached since) still fails the gate */
		cJSON_ArrayForEach(k, kills)
		{
			gate_add_phone(phones, devices, jstr_or(k, "udid", "unknown"), NULL);
		}
		cJSON_ArrayForEach(p, phones)
		{
			failed += jstr(p, "error") != NULL;
		}
		if (cJSON_GetArraySize(phones) == 0)
			ctl_error("gate end: no phone attached: nothing was synced");
		g.phones = phones;
		g.kills = kills;
		r = gate_output(ctl, a, &g);
	}
	if (r == CTL_EXIT_OK && cJSON_GetArraySize(kills) > 0)
		r = CTL_EXIT_MATCHED;
	else if (r == CTL_EXIT_OK && failed > 0) {
		ctl_error("gate end: sync failed on %d phone%s: the gate cannot tell", failed,
			  failed == 1 ? "" : "s");
		r = CTL_EXIT_ERROR;
	}
	cJSON_Delete(kills);
	cJSON_Delete(phones);
	cJSON_Delete(devices);
	return r;
}

static int gate_end(struct ctl *ctl, int argc, char **argv)
{
	static const struct option opts[] = {
		{"process", required_argument, NULL, 'P'}, {"udid", required_argument, NULL, 'u'},
		{"settle", required_argument, NULL, 's'},  {"junit", required_argument, NULL, 'J'},
		{"tap", required_argument, NULL, 'T'},	   CMD_COMMON_OPTIONS,
	};
	static const struct cmd_opts o = {
		.name = "gate end",
		.shortopts = "hP:u:s:J:T:",
		.longopts = opts,
		.help = "usage: jetsamctl gate end TOKEN --process APP [--udid U]... [--settle S]\n"
			"         [--junit FILE] [--tap FILE]\n"
			"Sync the phones (the --udid ones, else all attached), wait S seconds "
			"(default 5)\nfor late reports, then list the kills of APP (a name or "
			"glob, any case) collected\nsince `gate begin` printed TOKEN. Exit 3 "
			"when one matched, 0 when none.\n--junit and --tap write a report for "
			"CI, one test per phone.\n",
		.max_operands = 1,
	};
	struct gate_args *a = calloc(1, sizeof(*a));
	int r;

	if (a == NULL)
		oom();
	a->settle = GATE_SETTLE_DEFAULT;
	r = cmd_options(ctl, &o, argc, argv, gate_option_cb, a);
	if (r == CMD_RUN && optind >= argc) {
		ctl_usage_error("gate end", "the TOKEN of `jetsamctl gate begin` is required");
		r = CTL_EXIT_USAGE;
	} else if (r == CMD_RUN && gate_token_parse(argv[optind], &a->cursor, &a->begin) < 0) {
		ctl_usage_error("gate end", "'%s' is not a token of `jetsamctl gate begin`",
				argv[optind]);
		r = CTL_EXIT_USAGE;
	} else if (r == CMD_RUN && (a->process == NULL || *a->process == 0)) {
		ctl_usage_error("gate end", "--process is required");
		r = CTL_EXIT_USAGE;
	}
	if (r == CMD_RUN) {
		r = gate_resolve(ctl, a);
		if (r == CTL_EXIT_OK)
			r = gate_run(ctl, a);
	}
	free(a);
	return r;
}

int gate_main(struct ctl *ctl, int argc, char **argv)
{
	static const char help[] =
		"usage: jetsamctl gate begin\n"
		"       jetsamctl gate end TOKEN --process APP [--udid U]... [--settle S]\n"
		"                 [--junit FILE] [--tap FILE]\n"
		"A CI gate on kills: `gate begin` before the tests prints a token; `gate end` "
		"after\nthem exits 3 when APP was killed on a phone in between (by what jetsamd "
		"collected,\nnot by the phones' clocks), 0 when not.\n";

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		if (argc < 2) {
			ctl_usage_error("gate", "say `gate begin` or `gate end TOKEN`");
			return CTL_EXIT_USAGE;
		}
		fputs(help, stdout);
		return CTL_EXIT_OK;
	}
	if (strcmp(argv[1], "begin") == 0)
		return gate_begin(ctl, argc - 1, argv + 1);
	if (strcmp(argv[1], "end") == 0)
		return gate_end(ctl, argc - 1, argv + 1);
	ctl_usage_error("gate", "unknown subcommand '%s': say `gate begin` or `gate end TOKEN`",
			argv[1]);
	return CTL_EXIT_USAGE;
}
